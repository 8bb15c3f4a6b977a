//! Random page-table contents and random accesses: no panic, and every outcome is
//! well formed (SDM Vol. 3 §4.3, §4.4, §4.7, §4.8).

mod common;

use common::*;
use proptest::prelude::*;
use vtx32_mmu::paging::{walk, Access, AccessKind, PageFault, PageSize, PagingMode};
use vtx32_mmu::tlb::{translate, Tlb};
use vtx32_mmu::{LinearAddr, PhysAddr, PhysMem};

const RAM: usize = 2 << 20;

fn snapshot(m: &PhysMem) -> Vec<u8> {
    let mut v = vec![0; RAM];
    m.read_bytes(PhysAddr(0), &mut v);
    v
}

/// A value whose address field (bits 20:12) points at a page inside RAM, half of the time.
fn steer(v: u64, page: u64, on: bool) -> u64 {
    if on {
        (v & !0x000F_FFFF_F000 & !(0x7FFF_FFF0_0000_0000)) | (page << 12)
    } else {
        v
    }
}

#[derive(Debug, Clone)]
struct Case {
    pae: bool,
    pse: bool,
    pge: bool,
    wp: bool,
    nxe: bool,
    cr3: u32,
    pdptes: [u64; 4],
    pde: u64,
    pte: u64,
    steer_pdpte: bool,
    steer_pde: bool,
    pages: (u64, u64),
    lin: u32,
    kind: u8,
    user: bool,
    /// Bit 0: make the PDE, bit 1: the PTE present with no reserved bit (most random
    /// entries have one); bit 2: also clear XD.
    tame: u8,
    noise: Vec<(u32, u32)>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
        (0u32..0x200).prop_map(|p| p << 12),
        prop::array::uniform4(any::<u64>()),
        (any::<u64>(), any::<u64>(), any::<bool>(), any::<bool>()),
        (0u64..0x200, 0u64..0x200),
        (any::<u32>(), 0u8..3, any::<bool>(), any::<u8>()),
        prop::collection::vec((0u32..(RAM as u32 - 4), any::<u32>()), 0..32),
    )
        .prop_map(
            |(
                (pae, pse, pge, wp, nxe),
                cr3,
                pdptes,
                (pde, pte, sp, sd),
                pages,
                (lin, kind, user, tame),
                noise,
            )| {
                Case {
                    pae,
                    pse,
                    pge,
                    wp,
                    nxe,
                    cr3,
                    pdptes,
                    pde,
                    pte,
                    steer_pdpte: sp,
                    steer_pde: sd,
                    pages,
                    lin,
                    kind,
                    user,
                    tame,
                    noise,
                }
            },
        )
}

/// Present, and free of the bits reserved in every format (62:36; 21:13 if `large`,
/// which covers both 2 MiB and 4 MiB PDEs; 63 unless `keep_xd`).
fn tame(v: u64, large: bool, keep_xd: bool) -> u64 {
    let mut r = 0x7FFF_FFF0_0000_0000u64;
    if large {
        r |= 0x3F_E000;
    }
    if !keep_xd {
        r |= 1 << 63;
    }
    (v & !r) | P
}

/// Writes the noise and the entries on the path of `c.lin`; returns the mode.
fn build(m: &mut PhysMem, c: &Case) -> PagingMode {
    for &(a, v) in &c.noise {
        m.write_u32(PhysAddr(u64::from(a)), v);
    }
    let mut mode = PagingMode {
        cr3: c.cr3,
        pae: c.pae,
        pse: c.pse,
        pge: c.pge,
        wp: c.wp,
        nxe: c.nxe,
        pdptes: c.pdptes,
    };
    let l = u64::from(c.lin);
    if c.pae {
        let i = (l >> 30) as usize;
        // A steered PDPTE is one `load_pdptes` accepts: present, PWT/PCD/ignored bits random.
        let pdpte = if c.steer_pdpte {
            (c.pages.0 << 12) | (c.pdptes[i] & 0xE18) | P
        } else {
            c.pdptes[i]
        };
        mode.pdptes[i] = pdpte;
        let pde_addr = (pdpte & 0x000F_FFFF_F000) | (((l >> 21) & 0x1FF) << 3);
        let mut pde = steer(c.pde, c.pages.1, c.steer_pde);
        if c.tame & 1 != 0 {
            pde = tame(pde, pde & PS != 0, c.tame & 4 == 0);
        }
        let pte = if c.tame & 2 != 0 {
            tame(c.pte, false, c.tame & 4 == 0)
        } else {
            c.pte
        };
        if pde_addr + 8 <= RAM as u64 {
            w64(m, pde_addr, pde);
            let pte_addr = (pde & 0x000F_FFFF_F000) | (((l >> 12) & 0x1FF) << 3);
            if pte_addr + 8 <= RAM as u64 {
                w64(m, pte_addr, pte);
            }
        }
    } else {
        let pde_addr = u64::from(c.cr3) | ((l >> 22) << 2);
        let mut pde = steer(c.pde, c.pages.1, c.steer_pde) & 0xFFFF_FFFF;
        if c.tame & 1 != 0 {
            pde = tame(pde, pde & PS != 0, false) & 0xFFFF_FFFF;
        }
        let pte = if c.tame & 2 != 0 {
            tame(c.pte, false, false)
        } else {
            c.pte
        };
        w32(m, pde_addr, pde);
        let pte_addr = (pde & 0xFFFF_F000) | (((l >> 12) & 0x3FF) << 2);
        if pte_addr + 4 <= RAM as u64 {
            w32(m, pte_addr, pte);
        }
    }
    mode
}

fn check_error_code(pf: PageFault, mode: &PagingMode, acc: Access, lin: u32) {
    let e = pf.error_code;
    assert_eq!(pf.linear, LinearAddr(lin));
    assert_eq!(e & !0x1F, 0, "only P, W/R, U/S, RSVD, I/D: {e:#x}");
    if e & PageFault::RSVD != 0 {
        assert_ne!(e & PageFault::PRESENT, 0, "RSVD implies P");
    }
    assert_eq!(e & PageFault::WRITE != 0, acc.kind == AccessKind::Write);
    assert_eq!(e & PageFault::USER != 0, acc.user);
    assert_eq!(
        e & PageFault::FETCH != 0,
        acc.kind == AccessKind::Execute && mode.pae && mode.nxe
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_tables_and_accesses(c in case()) {
        let mut m = PhysMem::new(RAM).unwrap();
        let mode = build(&mut m, &c);
        let kind = [AccessKind::Read, AccessKind::Write, AccessKind::Execute][usize::from(c.kind)];
        let acc = Access::new(kind, c.user);
        let before = snapshot(&m);
        let r = walk(&mut m, &mode, LinearAddr(c.lin), acc);
        let after = snapshot(&m);
        match r {
            Ok(t) => {
                let size = t.size.bytes();
                prop_assert_eq!(t.frame.0 % size, 0, "frame aligned to the page size");
                prop_assert_eq!(t.phys.0, t.frame.0 | (u64::from(c.lin) % size));
                let max = if mode.pae { 1u64 << 36 } else { 1u64 << 32 };
                prop_assert!(t.phys.0 < max);
                match t.size {
                    PageSize::Size4K => {}
                    PageSize::Size2M => prop_assert!(mode.pae),
                    PageSize::Size4M => prop_assert!(!mode.pae && mode.pse),
                }
                prop_assert!(t.rights.permits(&mode, acc));
                prop_assert!(!t.global || mode.pge);
                if kind == AccessKind::Write {
                    prop_assert!(t.dirty);
                }
                // Only accessed/dirty flags changed, and only by being set.
                for (i, (b, a)) in before.iter().zip(&after).enumerate() {
                    if b != a {
                        prop_assert_eq!(a & !b & !0x60, 0, "byte {:#x}: {:#x} -> {:#x}", i, b, a);
                        prop_assert_eq!(b & !a, 0);
                        prop_assert_eq!(i % 4, 0, "A/D live in the entry's first byte");
                    }
                }
            }
            Err(pf) => {
                check_error_code(pf, &mode, acc, c.lin);
                prop_assert!(before == after, "a faulting walk writes nothing");
            }
        }
        // Through the TLB: a miss then a hit (or a fault twice), same outcome as the walk.
        let mut tlb = Tlb::new();
        for _ in 0..2 {
            let t = translate(&mut tlb, &mut m, &mode, LinearAddr(c.lin), acc);
            prop_assert_eq!(t, r.map(|t| t.phys));
        }
        prop_assert_eq!(tlb.misses, if r.is_ok() { 1 } else { 2 });
        tlb.invlpg(LinearAddr(c.lin));
        prop_assert!(tlb.lookup(LinearAddr(c.lin)).is_none());
    }

    #[test]
    fn random_memory_never_panics(
        words in prop::collection::vec(any::<u32>(), 0x400),
        cr3 in any::<u32>(),
        lin in any::<u32>(),
        flags in 0u8..64,
        kind in 0u8..3,
    ) {
        let mut m = PhysMem::new(1 << 20).unwrap();
        // Scatter the random words over the page that CR3 and the entries most likely hit.
        for (i, w) in words.iter().enumerate() {
            m.write_u32(PhysAddr(u64::from(cr3 & 0xF_F000) + 4 * i as u64), *w);
        }
        let pdptes = vtx32_mmu::paging::load_pdptes(&m, cr3).unwrap_or([0; 4]);
        let mode = PagingMode {
            cr3,
            pae: flags & 1 != 0,
            pse: flags & 2 != 0,
            pge: flags & 4 != 0,
            wp: flags & 8 != 0,
            nxe: flags & 16 != 0,
            pdptes,
        };
        let kind = [AccessKind::Read, AccessKind::Write, AccessKind::Execute][usize::from(kind)];
        let acc = Access::new(kind, flags & 32 != 0);
        let mut tlb = Tlb::new();
        match translate(&mut tlb, &mut m, &mode, LinearAddr(lin), acc) {
            Ok(p) => prop_assert_eq!(p.0 & 0xFFF, u64::from(lin & 0xFFF)),
            Err(pf) => check_error_code(pf, &mode, acc, lin),
        }
    }
}
