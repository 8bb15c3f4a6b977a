//! Paging walks against hand-built page-table trees (SDM Vol. 3 §4.3, §4.4, §4.6-§4.8).

mod common;

use common::*;
use vtx32_mmu::paging::{
    load_pdptes, walk, Access, PageFault, PageSize, PagingMode, PdpteError, Rights,
};
use vtx32_mmu::{LinearAddr, PhysAddr, PhysMem};

const PF_P: u32 = PageFault::PRESENT;
const PF_W: u32 = PageFault::WRITE;
const PF_U: u32 = PageFault::USER;
const PF_RSVD: u32 = PageFault::RSVD;
const PF_ID: u32 = PageFault::FETCH;

fn code(m: &mut PhysMem, mode: &PagingMode, lin: u32, acc: Access) -> u32 {
    let pf = walk(m, mode, LinearAddr(lin), acc).expect_err("expected #PF");
    assert_eq!(pf.linear, LinearAddr(lin));
    pf.error_code
}

fn phys(m: &mut PhysMem, mode: &PagingMode, lin: u32, acc: Access) -> u64 {
    walk(m, mode, LinearAddr(lin), acc)
        .expect("expected a translation")
        .phys
        .0
}

// ---------------------------------------------------------------- 32-bit paging, 4 KiB

/// Linear 0x0040_3123: PDE 1 at 0x1004 → PT 0x2000, PTE 3 at 0x200C → frame 0x0055_5000.
fn tree32_4k(m: &mut PhysMem, pde_flags: u64, pte_flags: u64) {
    w32(m, 0x1004, 0x2000 | pde_flags);
    w32(m, 0x200C, 0x0055_5000 | pte_flags);
}

#[test]
fn walk32_4k_read_then_write_sets_accessed_then_dirty() {
    let mut m = mem();
    tree32_4k(&mut m, P | RW | US, P | RW | US);
    let mode = mode32(false, false);
    let t = walk(&mut m, &mode, LinearAddr(0x0040_3123), Access::read(true)).unwrap();
    assert_eq!(t.phys, PhysAddr(0x0055_5123));
    assert_eq!(t.frame, PhysAddr(0x0055_5000));
    assert_eq!(t.size, PageSize::Size4K);
    assert_eq!(
        t.rights,
        Rights {
            user: true,
            writable: true,
            no_execute: false
        }
    );
    assert!(!t.dirty && !t.global);
    assert_eq!(r32(&m, 0x1004), 0x2000 | P | RW | US | A, "PDE accessed");
    assert_eq!(
        r32(&m, 0x200C),
        0x0055_5000 | P | RW | US | A,
        "PTE accessed, clean"
    );

    let t = walk(&mut m, &mode, LinearAddr(0x0040_3FFF), Access::write(true)).unwrap();
    assert_eq!(t.phys, PhysAddr(0x0055_5FFF));
    assert!(t.dirty);
    assert_eq!(
        r32(&m, 0x1004),
        0x2000 | P | RW | US | A,
        "no D on a PDE → PT"
    );
    assert_eq!(r32(&m, 0x200C), 0x0055_5000 | P | RW | US | A | D);
}

#[test]
fn walk32_4k_fetch_and_rights_are_anded() {
    let mut m = mem();
    // PDE read-only supervisor, PTE writable user: effective supervisor read-only.
    tree32_4k(&mut m, P, P | RW | US);
    let mode = mode32(false, true);
    let t = walk(
        &mut m,
        &mode,
        LinearAddr(0x0040_3000),
        Access::execute(false),
    )
    .unwrap();
    assert_eq!(
        t.rights,
        Rights {
            user: false,
            writable: false,
            no_execute: false
        }
    );
    assert_eq!(
        code(&mut m, &mode, 0x0040_3000, Access::write(false)),
        PF_P | PF_W
    );
    assert_eq!(
        code(&mut m, &mode, 0x0040_3000, Access::read(true)),
        PF_P | PF_U
    );
}

#[test]
fn walk32_global_needs_pge() {
    let mut m = mem();
    tree32_4k(&mut m, P | RW, P | RW | G);
    let mut mode = mode32(false, false);
    assert!(
        !walk(&mut m, &mode, LinearAddr(0x0040_3000), Access::read(false))
            .unwrap()
            .global
    );
    mode.pge = true;
    assert!(
        walk(&mut m, &mode, LinearAddr(0x0040_3000), Access::read(false))
            .unwrap()
            .global
    );
    // G in a PDE that references a page table is ignored.
    tree32_4k(&mut m, P | RW | G, P | RW);
    assert!(
        !walk(&mut m, &mode, LinearAddr(0x0040_3000), Access::read(false))
            .unwrap()
            .global
    );
}

// ---------------------------------------------------------------- 32-bit paging, 4 MiB

#[test]
fn walk32_4m_page_with_pse() {
    let mut m = mem();
    // Linear 0x0C12_3456: PDE 0x30 at 0x10C0 → 4 MiB page at 0x0080_0000.
    w32(&mut m, 0x10C0, 0x0080_0000 | P | RW | PS | G | (1 << 12));
    let mut mode = mode32(true, false);
    mode.pge = true;
    let t = walk(&mut m, &mode, LinearAddr(0x0C12_3456), Access::read(false)).unwrap();
    assert_eq!(t.phys, PhysAddr(0x0092_3456));
    assert_eq!(t.frame, PhysAddr(0x0080_0000));
    assert_eq!(t.size, PageSize::Size4M);
    assert!(t.global && !t.dirty);
    assert_eq!(
        r32(&m, 0x10C0),
        0x0080_0000 | P | RW | PS | G | (1 << 12) | A
    );
    let t = walk(&mut m, &mode, LinearAddr(0x0C3F_FFFF), Access::write(false)).unwrap();
    assert_eq!(t.phys, PhysAddr(0x00BF_FFFF));
    assert_eq!(
        r32(&m, 0x10C0),
        0x0080_0000 | P | RW | PS | G | (1 << 12) | A | D
    );
}

#[test]
fn walk32_ps_is_ignored_without_cr4_pse() {
    let mut m = mem();
    // PDE 0 with PS = 1 and bit 13 set; without CR4.PSE it references a page table at
    // 0x0040_2000, whose PTE 5 maps 0x7000.
    w32(&mut m, 0x1000, 0x0040_2000 | P | RW | PS);
    w32(&mut m, 0x0040_2014, 0x7000 | P | RW);
    let t = walk(
        &mut m,
        &mode32(false, false),
        LinearAddr(0x5ABC),
        Access::read(false),
    )
    .unwrap();
    assert_eq!(t.phys, PhysAddr(0x7ABC));
    assert_eq!(t.size, PageSize::Size4K);
    // With CR4.PSE the same PDE is a 4 MiB page with reserved bit 13 set.
    assert_eq!(
        code(&mut m, &mode32(true, false), 0x5ABC, Access::read(false)),
        PF_P | PF_RSVD
    );
}

#[test]
fn walk32_4m_reserved_bits_21_13() {
    for bit in 13..=21 {
        let mut m = mem();
        w32(&mut m, 0x1000, 0x0040_0000 | P | RW | US | PS | (1 << bit));
        let mode = mode32(true, false);
        assert_eq!(
            code(&mut m, &mode, 0x1234, Access::write(true)),
            PF_P | PF_W | PF_U | PF_RSVD,
            "bit {bit}"
        );
        assert_eq!(
            r32(&m, 0x1000) & A,
            0,
            "no accessed flag on a faulting walk"
        );
    }
    // Bit 12 is PAT, not reserved.
    let mut m = mem();
    w32(&mut m, 0x1000, 0x0040_0000 | P | PS | (1 << 12));
    assert_eq!(
        phys(&mut m, &mode32(true, false), 0x1234, Access::read(false)),
        0x0040_1234
    );
}

// ---------------------------------------------------------------- PAE, 4 KiB

/// Linear 0x4060_5ABC: PDPTE 1 → PD 0x4000, PDE 3 at 0x4018 → PT 0x5000, PTE 5 at 0x5028
/// → frame 0x9_8765_4000 (above 4 GiB).
fn tree_pae_4k(m: &mut PhysMem, pde: u64, pte: u64) -> [u64; 4] {
    w64(m, 0x4018, 0x5000 | pde);
    w64(m, 0x5028, 0x9_8765_4000 | pte);
    [0, 0x4000 | P, 0, 0]
}

#[test]
fn pae_4k_read_then_write_sets_accessed_then_dirty() {
    let mut m = mem();
    let pdptes = tree_pae_4k(&mut m, P | RW | US, P | RW | US | (7 << 9));
    let mode = mode_pae(true, false, pdptes);
    let t = walk(&mut m, &mode, LinearAddr(0x4060_5ABC), Access::read(true)).unwrap();
    assert_eq!(t.phys, PhysAddr(0x9_8765_4ABC));
    assert_eq!(t.frame, PhysAddr(0x9_8765_4000));
    assert_eq!(t.size, PageSize::Size4K);
    assert!(!t.dirty);
    assert_eq!(r64(&m, 0x4018), 0x5000 | P | RW | US | A);
    assert_eq!(r64(&m, 0x5028), 0x9_8765_4000 | P | RW | US | A | (7 << 9));
    let t = walk(&mut m, &mode, LinearAddr(0x4060_5000), Access::write(true)).unwrap();
    assert_eq!(t.phys, PhysAddr(0x9_8765_4000));
    assert!(t.dirty);
    assert_eq!(r64(&m, 0x4018), 0x5000 | P | RW | US | A);
    assert_eq!(
        r64(&m, 0x5028),
        0x9_8765_4000 | P | RW | US | A | D | (7 << 9)
    );
}

#[test]
fn pae_uses_pdpte_registers_not_memory() {
    let mut m = mem();
    let pdptes = tree_pae_4k(&mut m, P | RW, P | RW);
    w64(&mut m, 0x3008, 0x4000 | P);
    let mode = mode_pae(false, false, load_pdptes(&m, 0x3000).unwrap());
    assert_eq!(mode.pdptes, pdptes);
    // Clearing the PDPTE in memory does not change the registers.
    w64(&mut m, 0x3008, 0);
    assert_eq!(
        phys(&mut m, &mode, 0x4060_5ABC, Access::read(false)),
        0x9_8765_4ABC
    );
    // A not-present PDPTE register: #PF with P = 0.
    let mode = mode_pae(false, false, [0; 4]);
    assert_eq!(code(&mut m, &mode, 0x4060_5ABC, Access::write(false)), PF_W);
}

// ---------------------------------------------------------------- PAE, 2 MiB

#[test]
fn pae_2m_page() {
    let mut m = mem();
    // Linear 0xC0A1_2345: PDPTE 3 → PD 0x6000, PDE 5 at 0x6028 → 2 MiB page 0x1_2340_0000.
    w64(&mut m, 0x6028, 0x1_2340_0000 | P | RW | PS | G | (1 << 12));
    let mut mode = mode_pae(true, false, [0, 0, 0, 0x6000 | P]);
    mode.pge = true;
    let t = walk(&mut m, &mode, LinearAddr(0xC0A1_2345), Access::read(false)).unwrap();
    assert_eq!(t.phys, PhysAddr(0x1_2341_2345));
    assert_eq!(t.frame, PhysAddr(0x1_2340_0000));
    assert_eq!(t.size, PageSize::Size2M);
    assert!(t.global);
    assert_eq!(
        r64(&m, 0x6028),
        0x1_2340_0000 | P | RW | PS | G | (1 << 12) | A
    );
    let t = walk(&mut m, &mode, LinearAddr(0xC0BF_FFFF), Access::write(false)).unwrap();
    assert_eq!(t.phys, PhysAddr(0x1_235F_FFFF));
    assert_eq!(
        r64(&m, 0x6028),
        0x1_2340_0000 | P | RW | PS | G | (1 << 12) | A | D
    );
}

#[test]
fn pae_2m_reserved_bits_20_13() {
    for bit in 13..=20 {
        let mut m = mem();
        w64(&mut m, 0x6000, 0x0020_0000 | P | RW | PS | (1 << bit));
        let mode = mode_pae(true, false, [0x6000 | P, 0, 0, 0]);
        assert_eq!(
            code(&mut m, &mode, 0x1000, Access::read(false)),
            PF_P | PF_RSVD,
            "bit {bit}"
        );
        assert_eq!(r64(&m, 0x6000) & A, 0);
    }
    // The same bits in a PDE that references a page table are address bits.
    let mut m = mem();
    w64(&mut m, 0x6000, 0x0020_2000 | P | RW);
    w64(&mut m, 0x0020_2008, 0x9000 | P);
    let mode = mode_pae(true, false, [0x6000 | P, 0, 0, 0]);
    assert_eq!(phys(&mut m, &mode, 0x1234, Access::read(false)), 0x9234);
}

#[test]
fn pae_bits_above_maxphyaddr_are_reserved() {
    for bit in [36u32, 40, 51, 52, 62] {
        for (pde_extra, pte_extra) in [(1u64 << bit, 0u64), (0, 1u64 << bit)] {
            let mut m = mem();
            let pdptes = tree_pae_4k(&mut m, P | RW | US | pde_extra, P | RW | US | pte_extra);
            let mode = mode_pae(true, false, pdptes);
            let c = code(&mut m, &mode, 0x4060_5ABC, Access::read(true));
            assert_eq!(c, PF_P | PF_U | PF_RSVD, "bit {bit}");
            assert_eq!(
                r64(&m, 0x4018) & A,
                0,
                "no accessed flag on a faulting walk"
            );
        }
    }
    let mut m = mem();
    w64(&mut m, 0x6000, (1 << 36) | P | PS);
    let mode = mode_pae(false, false, [0x6000 | P, 0, 0, 0]);
    assert_eq!(code(&mut m, &mode, 0, Access::read(false)), PF_P | PF_RSVD);
}

// ---------------------------------------------------------------- NX

#[test]
fn nx_with_nxe_blocks_fetches_only() {
    for (pde_xd, pte_xd) in [(XD, 0), (0, XD)] {
        let mut m = mem();
        let pdptes = tree_pae_4k(&mut m, P | RW | US | pde_xd, P | RW | US | pte_xd);
        let mode = mode_pae(true, false, pdptes);
        let lin = 0x4060_5ABC;
        assert_eq!(
            code(&mut m, &mode, lin, Access::execute(false)),
            PF_P | PF_ID
        );
        assert_eq!(
            code(&mut m, &mode, lin, Access::execute(true)),
            PF_P | PF_U | PF_ID
        );
        assert_eq!(r64(&m, 0x5028) & A, 0);
        let t = walk(&mut m, &mode, LinearAddr(lin), Access::read(true)).unwrap();
        assert!(t.rights.no_execute);
        assert_eq!(phys(&mut m, &mode, lin, Access::write(true)), 0x9_8765_4ABC);
    }
    // Without XD anywhere, fetches are allowed.
    let mut m = mem();
    let pdptes = tree_pae_4k(&mut m, P | RW | US, P | RW | US);
    let mode = mode_pae(true, false, pdptes);
    assert_eq!(
        phys(&mut m, &mode, 0x4060_5ABC, Access::execute(true)),
        0x9_8765_4ABC
    );
}

#[test]
fn nx_bit_is_reserved_without_nxe() {
    for (pde_xd, pte_xd) in [(XD, 0), (0, XD)] {
        let mut m = mem();
        let pdptes = tree_pae_4k(&mut m, P | RW | US | pde_xd, P | RW | US | pte_xd);
        let mode = mode_pae(false, false, pdptes);
        let lin = 0x4060_5ABC;
        assert_eq!(
            code(&mut m, &mode, lin, Access::read(false)),
            PF_P | PF_RSVD
        );
        // No I/D without NXE, even for a fetch.
        assert_eq!(
            code(&mut m, &mode, lin, Access::execute(true)),
            PF_P | PF_U | PF_RSVD
        );
    }
    // 2 MiB PDE with XD, NXE = 0.
    let mut m = mem();
    w64(&mut m, 0x6000, XD | P | PS);
    let mode = mode_pae(false, false, [0x6000 | P, 0, 0, 0]);
    assert_eq!(
        code(&mut m, &mode, 0, Access::execute(false)),
        PF_P | PF_RSVD
    );
    let mode = mode_pae(true, false, [0x6000 | P, 0, 0, 0]);
    assert_eq!(code(&mut m, &mode, 0, Access::execute(false)), PF_P | PF_ID);
    assert_eq!(phys(&mut m, &mode, 0x10, Access::read(false)), 0x10);
}

// ---------------------------------------------------------------- error-code bits

#[test]
fn error_code_p_bit() {
    let mut m = mem();
    tree32_4k(&mut m, P | RW, 0);
    let mode = mode32(false, false);
    assert_eq!(
        code(&mut m, &mode, 0x0040_3000, Access::read(false)),
        0,
        "PTE not present"
    );
    tree32_4k(&mut m, 0, P | RW | US);
    assert_eq!(
        code(&mut m, &mode, 0x0040_3000, Access::read(false)),
        0,
        "PDE not present"
    );
    tree32_4k(&mut m, P | RW, P | RW);
    assert_eq!(
        code(&mut m, &mode, 0x0040_3000, Access::read(true)),
        PF_P | PF_U
    );
}

#[test]
fn error_code_w_bit() {
    let mut m = mem();
    tree32_4k(&mut m, P | US, P | US);
    let mode = mode32(false, false);
    assert_eq!(
        code(&mut m, &mode, 0x0040_3000, Access::write(true)),
        PF_P | PF_W | PF_U
    );
    tree32_4k(&mut m, P | US, US);
    assert_eq!(code(&mut m, &mode, 0x0040_3000, Access::read(true)), PF_U);
    assert_eq!(code(&mut m, &mode, 0x0040_3000, Access::write(false)), PF_W);
}

#[test]
fn error_code_u_bit() {
    let mut m = mem();
    tree32_4k(&mut m, P | RW | US, P | RW);
    let mode = mode32(false, true);
    assert_eq!(
        code(&mut m, &mode, 0x0040_3000, Access::read(true)),
        PF_P | PF_U
    );
    assert_eq!(
        phys(&mut m, &mode, 0x0040_3000, Access::read(false)),
        0x0055_5000
    );
    // Supervisor fault on a not-present page: U = 0.
    assert_eq!(code(&mut m, &mode, 0x0080_0000, Access::read(false)), 0);
    // Supervisor accesses to user pages are allowed (no SMEP/SMAP).
    tree32_4k(&mut m, P | RW | US, P | RW | US);
    assert_eq!(
        phys(&mut m, &mode, 0x0040_3000, Access::execute(false)),
        0x0055_5000
    );
}

#[test]
fn error_code_rsvd_bit() {
    let mut m = mem();
    let pdptes = tree_pae_4k(&mut m, P | RW, P | RW | (1 << 40));
    let mode = mode_pae(true, true, pdptes);
    assert_eq!(
        code(&mut m, &mode, 0x4060_5ABC, Access::write(false)),
        PF_P | PF_W | PF_RSVD
    );
    let pdptes = tree_pae_4k(&mut m, P | RW, P);
    let mode = mode_pae(true, true, pdptes);
    assert_eq!(
        code(&mut m, &mode, 0x4060_5ABC, Access::write(false)),
        PF_P | PF_W
    );
    // Reserved bits in a not-present entry are not checked: P = 0, RSVD = 0.
    let pdptes = tree_pae_4k(&mut m, P | RW, 1 << 40);
    let mode = mode_pae(true, true, pdptes);
    assert_eq!(code(&mut m, &mode, 0x4060_5ABC, Access::read(false)), 0);
}

#[test]
fn error_code_id_bit() {
    let mut m = mem();
    let pdptes = tree_pae_4k(&mut m, P | RW, 0);
    // PAE + NXE: I/D for fetches, also for a not-present page.
    let mode = mode_pae(true, false, pdptes);
    assert_eq!(
        code(&mut m, &mode, 0x4060_5ABC, Access::execute(false)),
        PF_ID
    );
    assert_eq!(code(&mut m, &mode, 0x4060_5ABC, Access::read(false)), 0);
    // PAE without NXE: never.
    let mode = mode_pae(false, false, pdptes);
    assert_eq!(code(&mut m, &mode, 0x4060_5ABC, Access::execute(false)), 0);
    // 32-bit paging, even with NXE set: never.
    let mut mode = mode32(false, false);
    mode.nxe = true;
    assert_eq!(
        code(&mut m, &mode, 0x0040_3000, Access::execute(true)),
        PF_U
    );
}

// ---------------------------------------------------------------- CR0.WP

#[test]
fn cr0_wp_controls_supervisor_writes_to_read_only_pages() {
    let mut m = mem();
    tree32_4k(&mut m, P | RW | US, P | US);
    // WP = 0: the supervisor write succeeds and sets D.
    assert_eq!(
        phys(
            &mut m,
            &mode32(false, false),
            0x0040_3010,
            Access::write(false)
        ),
        0x0055_5010
    );
    assert_eq!(r32(&m, 0x200C), 0x0055_5000 | P | US | A | D);
    // WP = 1: #PF P | W.
    tree32_4k(&mut m, P | RW | US, P | US);
    assert_eq!(
        code(
            &mut m,
            &mode32(false, true),
            0x0040_3010,
            Access::write(false)
        ),
        PF_P | PF_W
    );
    assert_eq!(r32(&m, 0x200C), 0x0055_5000 | P | US);
    assert_eq!(
        r32(&m, 0x1004),
        0x2000 | P | RW | US,
        "no A on a faulting walk"
    );
    // User writes to read-only pages fault whatever WP.
    assert_eq!(
        code(
            &mut m,
            &mode32(false, false),
            0x0040_3010,
            Access::write(true)
        ),
        PF_P | PF_W | PF_U
    );
    // Same rules with PAE (R/W clear in the PDE only).
    let pdptes = tree_pae_4k(&mut m, P | US, P | RW | US);
    assert_eq!(
        phys(
            &mut m,
            &mode_pae(true, false, pdptes),
            0x4060_5ABC,
            Access::write(false)
        ),
        0x9_8765_4ABC
    );
    assert_eq!(
        code(
            &mut m,
            &mode_pae(true, true, pdptes),
            0x4060_5ABC,
            Access::write(false)
        ),
        PF_P | PF_W
    );
}

// ---------------------------------------------------------------- PDPTE loading

#[test]
fn load_pdptes_reads_the_32_byte_aligned_table() {
    let mut m = mem();
    let want = [
        0x4000 | P,
        0,
        0x9_1234_5000 | P | (1 << 3) | (1 << 4) | (7 << 9),
        0xFFFF_FFFE,
    ];
    for (i, v) in want.iter().enumerate() {
        w64(&mut m, 0x3020 + 8 * i as u64, *v);
    }
    // CR3 bits 4:0 are ignored.
    assert_eq!(load_pdptes(&m, 0x3020 | 0x1F), Ok(want));
}

#[test]
fn load_pdptes_rejects_present_entries_with_reserved_bits() {
    for bit in [1u32, 2, 5, 6, 7, 8, 36, 40, 52, 62, 63] {
        for index in 0..4usize {
            let mut m = mem();
            for i in 0..4u64 {
                w64(&mut m, 0x3000 + 8 * i, 0x4000 | P);
            }
            let value = 0x4000 | P | (1u64 << bit);
            w64(&mut m, 0x3000 + 8 * index as u64, value);
            assert_eq!(
                load_pdptes(&m, 0x3000),
                Err(PdpteError::Reserved { index, value }),
                "bit {bit} index {index}"
            );
            // Not present: reserved bits are not checked.
            w64(&mut m, 0x3000 + 8 * index as u64, value & !P);
            assert!(load_pdptes(&m, 0x3000).is_ok(), "bit {bit} index {index}");
        }
    }
}

// ---------------------------------------------------------------- no A/D on faults

#[test]
fn faulting_walks_write_nothing() {
    let mut m = mem();
    let pdptes = tree_pae_4k(&mut m, P | RW, P | XD);
    let before = (r64(&m, 0x4018), r64(&m, 0x5028));
    let mode = mode_pae(true, true, pdptes);
    for acc in [
        Access::write(false),
        Access::execute(false),
        Access::read(true),
    ] {
        assert!(walk(&mut m, &mode, LinearAddr(0x4060_5ABC), acc).is_err());
        assert_eq!((r64(&m, 0x4018), r64(&m, 0x5028)), before);
    }
}
