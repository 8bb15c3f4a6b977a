//! Architecturally visible TLB behaviour (SDM Vol. 3 §4.8, §4.10).

mod common;

use common::*;
use vtx32_mmu::paging::{Access, PageFault, PageSize, PagingMode};
use vtx32_mmu::tlb::{translate, Tlb, TLB_SETS, TLB_WAYS};
use vtx32_mmu::{LinearAddr, PhysMem};

fn tr(
    tlb: &mut Tlb,
    m: &mut PhysMem,
    mode: &PagingMode,
    lin: u32,
    acc: Access,
) -> Result<u64, u32> {
    translate(tlb, m, mode, LinearAddr(lin), acc)
        .map(|p| p.0)
        .map_err(|pf| pf.error_code)
}

/// Linear 0x0040_3xxx → PTE at 0x200C; linear 0x0040_4xxx → PTE at 0x2010.
fn tree(m: &mut PhysMem, pte3: u64, pte4: u64) {
    w32(m, 0x1004, 0x2000 | P | RW | US);
    w32(m, 0x200C, pte3);
    w32(m, 0x2010, pte4);
}

#[test]
fn stale_translation_until_invlpg() {
    let mut m = mem();
    tree(&mut m, 0x0055_5000 | P | RW, 0x0066_6000 | P | RW);
    let mode = mode32(false, false);
    let mut tlb = Tlb::new();
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_3123, Access::read(false)),
        Ok(0x0055_5123)
    );
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_4123, Access::read(false)),
        Ok(0x0066_6123)
    );
    // Remap both pages in memory: the cached translations stay in use.
    w32(&mut m, 0x200C, 0x0077_7000 | P | RW);
    w32(&mut m, 0x2010, 0x0088_8000 | P | RW);
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_3FFF, Access::read(false)),
        Ok(0x0055_5FFF)
    );
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_4000, Access::execute(false)),
        Ok(0x0066_6000)
    );
    // Even a not-present PTE in memory is not seen.
    w32(&mut m, 0x200C, 0);
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_3000, Access::read(false)),
        Ok(0x0055_5000)
    );
    w32(&mut m, 0x200C, 0x0077_7000 | P | RW);
    // INVLPG of one page leaves the other stale.
    tlb.invlpg(LinearAddr(0x0040_3ABC));
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_3123, Access::read(false)),
        Ok(0x0077_7123)
    );
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_4123, Access::read(false)),
        Ok(0x0066_6123)
    );
    // CR3 write.
    tlb.flush_non_global();
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_4123, Access::read(false)),
        Ok(0x0088_8123)
    );
}

#[test]
fn global_entries_survive_cr3_writes_with_pge() {
    let mut m = mem();
    tree(&mut m, 0x0055_5000 | P | RW | G, 0x0066_6000 | P | RW);
    let mut mode = mode32(false, false);
    mode.pge = true;
    let mut tlb = Tlb::new();
    tr(&mut tlb, &mut m, &mode, 0x0040_3000, Access::read(false)).unwrap();
    tr(&mut tlb, &mut m, &mode, 0x0040_4000, Access::read(false)).unwrap();
    w32(&mut m, 0x200C, 0x0077_7000 | P | RW | G);
    w32(&mut m, 0x2010, 0x0088_8000 | P | RW);
    tlb.flush_non_global();
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_3000, Access::read(false)),
        Ok(0x0055_5000)
    );
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_4000, Access::read(false)),
        Ok(0x0088_8000)
    );
    // INVLPG removes global entries too.
    tlb.invlpg(LinearAddr(0x0040_3000));
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_3000, Access::read(false)),
        Ok(0x0077_7000)
    );
    // So does a full flush (CR4.PGE change).
    w32(&mut m, 0x200C, 0x0099_9000 | P | RW | G);
    tlb.flush_non_global();
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_3000, Access::read(false)),
        Ok(0x0077_7000)
    );
    tlb.flush_all();
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_3000, Access::read(false)),
        Ok(0x0099_9000)
    );
}

#[test]
fn g_flag_without_pge_is_not_global() {
    let mut m = mem();
    tree(&mut m, 0x0055_5000 | P | RW | G, 0);
    let mode = mode32(false, false);
    let mut tlb = Tlb::new();
    tr(&mut tlb, &mut m, &mode, 0x0040_3000, Access::read(false)).unwrap();
    w32(&mut m, 0x200C, 0x0077_7000 | P | RW | G);
    tlb.flush_non_global();
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_3000, Access::read(false)),
        Ok(0x0077_7000)
    );
}

#[test]
fn write_through_clean_entry_rewalks_and_sets_dirty() {
    let mut m = mem();
    tree(&mut m, 0x0055_5000 | P | RW, 0);
    let mode = mode32(false, false);
    let mut tlb = Tlb::new();
    tr(&mut tlb, &mut m, &mode, 0x0040_3000, Access::read(false)).unwrap();
    assert_eq!(r32(&m, 0x200C), 0x0055_5000 | P | RW | A);
    assert!(!tlb.lookup(LinearAddr(0x0040_3000)).unwrap().dirty);
    tr(&mut tlb, &mut m, &mode, 0x0040_3004, Access::read(false)).unwrap();
    assert_eq!((tlb.hits, tlb.misses), (1, 1));
    // The first write walks (miss) and sets D in memory.
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_3008, Access::write(false)),
        Ok(0x0055_5008)
    );
    assert_eq!((tlb.hits, tlb.misses), (1, 2));
    assert_eq!(r32(&m, 0x200C), 0x0055_5000 | P | RW | A | D);
    assert!(tlb.lookup(LinearAddr(0x0040_3000)).unwrap().dirty);
    // Later writes hit: software clearing D is not noticed until INVLPG.
    w32(&mut m, 0x200C, 0x0055_5000 | P | RW | A);
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_300C, Access::write(false)),
        Ok(0x0055_500C)
    );
    assert_eq!((tlb.hits, tlb.misses), (2, 2));
    assert_eq!(r32(&m, 0x200C), 0x0055_5000 | P | RW | A);
    tlb.invlpg(LinearAddr(0x0040_3000));
    tr(&mut tlb, &mut m, &mode, 0x0040_300C, Access::write(false)).unwrap();
    assert_eq!(r32(&m, 0x200C), 0x0055_5000 | P | RW | A | D);
}

#[test]
fn dirty_rewalk_sees_a_removed_mapping_and_faults() {
    let mut m = mem();
    tree(&mut m, 0x0055_5000 | P | RW, 0);
    let mode = mode32(false, false);
    let mut tlb = Tlb::new();
    tr(&mut tlb, &mut m, &mode, 0x0040_3000, Access::read(false)).unwrap();
    w32(&mut m, 0x200C, 0);
    // Reads still hit the stale entry, the write must walk and faults (not present).
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_3000, Access::read(false)),
        Ok(0x0055_5000)
    );
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_3000, Access::write(false)),
        Err(PageFault::WRITE)
    );
    // The fault invalidated the entry (§4.10.4.1).
    assert!(tlb.lookup(LinearAddr(0x0040_3000)).is_none());
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_3000, Access::read(false)),
        Err(0)
    );
}

#[test]
fn faults_are_not_cached() {
    let mut m = mem();
    tree(&mut m, 0x0055_5000, 0x0066_6000 | P);
    let mode = mode32(false, true);
    let mut tlb = Tlb::new();
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_3000, Access::read(false)),
        Err(0)
    );
    assert!(tlb.is_empty());
    // Making the page present needs no INVLPG.
    w32(&mut m, 0x200C, 0x0055_5000 | P);
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_3000, Access::read(false)),
        Ok(0x0055_5000)
    );
    // A protection fault is not cached either: a read-only entry, then R/W set in memory.
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_4000, Access::read(false)),
        Ok(0x0066_6000)
    );
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_4000, Access::write(false)),
        Err(PageFault::PRESENT | PageFault::WRITE)
    );
    w32(&mut m, 0x2010, 0x0066_6000 | P | RW);
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_4000, Access::write(false)),
        Ok(0x0066_6000)
    );
    // An access the cached rights refuse walks again and sees upgraded rights (the
    // supervisor-only entry for 0x0040_3000 is still cached).
    assert!(!tlb.lookup(LinearAddr(0x0040_3000)).unwrap().rights.user);
    w32(&mut m, 0x200C, 0x0055_5000 | P | US);
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x0040_3000, Access::read(true)),
        Ok(0x0055_5000)
    );
    assert!(tlb.lookup(LinearAddr(0x0040_3000)).unwrap().rights.user);
}

#[test]
fn cached_rights_are_enforced_on_hits() {
    let mut m = mem();
    tree(&mut m, 0x0055_5000 | P | US | D, 0);
    let mut tlb = Tlb::new();
    let wp0 = mode32(false, false);
    let wp1 = mode32(false, true);
    tr(&mut tlb, &mut m, &wp0, 0x0040_3000, Access::read(true)).unwrap();
    let hits = tlb.hits;
    // The entry is read-only: user writes fault (walk), WP = 1 supervisor writes fault.
    assert_eq!(
        tr(&mut tlb, &mut m, &wp0, 0x0040_3000, Access::write(true)),
        Err(PageFault::PRESENT | PageFault::WRITE | PageFault::USER)
    );
    tr(&mut tlb, &mut m, &wp0, 0x0040_3000, Access::read(true)).unwrap();
    assert_eq!(
        tr(&mut tlb, &mut m, &wp1, 0x0040_3000, Access::write(false)),
        Err(PageFault::PRESENT | PageFault::WRITE)
    );
    assert_eq!(tlb.hits, hits, "refused accesses are not hits");
    // WP = 0 supervisor write through a dirty read-only entry: a hit.
    tr(&mut tlb, &mut m, &wp0, 0x0040_3000, Access::read(true)).unwrap();
    let hits = tlb.hits;
    assert_eq!(
        tr(&mut tlb, &mut m, &wp0, 0x0040_3010, Access::write(false)),
        Ok(0x0055_5010)
    );
    assert_eq!(tlb.hits, hits + 1);
}

#[test]
fn nx_is_enforced_on_hits() {
    let mut m = mem();
    w64(&mut m, 0x6000, 0x0020_0000 | P | RW | PS | XD);
    let mode = mode_pae(true, false, [0x6000 | P, 0, 0, 0]);
    let mut tlb = Tlb::new();
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x1234, Access::read(false)),
        Ok(0x0020_1234)
    );
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x1234, Access::execute(false)),
        Err(PageFault::PRESENT | PageFault::FETCH)
    );
}

#[test]
fn large_pages_are_cached_as_4k_pieces_and_invlpg_drops_all_of_them() {
    for pae in [false, true] {
        let mut m = mem();
        let (mode, size, base, new_base) = if pae {
            w64(&mut m, 0x6000, 0x0020_0000 | P | RW | PS);
            (
                mode_pae(false, false, [0x6000 | P, 0, 0, 0]),
                PageSize::Size2M,
                0x0020_0000,
                0x0040_0000,
            )
        } else {
            w32(&mut m, 0x1000, 0x0040_0000 | P | RW | PS);
            (
                mode32(true, false),
                PageSize::Size4M,
                0x0040_0000,
                0x0080_0000,
            )
        };
        let mut tlb = Tlb::new();
        for lin in [0x0000_1234u32, 0x0001_5678, 0x0010_0000] {
            assert_eq!(
                tr(&mut tlb, &mut m, &mode, lin, Access::read(false)),
                Ok(base + u64::from(lin))
            );
        }
        assert_eq!(tlb.len(), 3);
        let e = tlb.lookup(LinearAddr(0x0001_5000)).unwrap();
        assert_eq!((e.frame.0, e.size), (base + 0x15000, size));
        // Remap the large page; INVLPG of one address inside it drops every piece.
        if pae {
            w64(&mut m, 0x6000, new_base | P | RW | PS);
        } else {
            w32(&mut m, 0x1000, new_base | P | RW | PS);
        }
        assert_eq!(
            tr(&mut tlb, &mut m, &mode, 0x0010_0000, Access::read(false)),
            Ok(base + 0x10_0000)
        );
        tlb.invlpg(LinearAddr(0x000F_FFFF));
        assert!(tlb.is_empty());
        for lin in [0x0000_1234u32, 0x0001_5678, 0x0010_0000] {
            assert_eq!(
                tr(&mut tlb, &mut m, &mode, lin, Access::read(false)),
                Ok(new_base + u64::from(lin))
            );
        }
        // INVLPG outside the large page leaves its pieces.
        tlb.invlpg(LinearAddr(size.bytes() as u32));
        assert_eq!(tlb.len(), 3);
    }
}

#[test]
fn pae_translation_via_tlb_keeps_high_frame_bits() {
    let mut m = mem();
    w64(&mut m, 0x4000, 0x5000 | P | RW);
    w64(&mut m, 0x5008, 0xF_FFFF_F000 | P | RW);
    let mode = mode_pae(true, false, [0x4000 | P, 0, 0, 0]);
    let mut tlb = Tlb::new();
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x1ABC, Access::read(false)),
        Ok(0xF_FFFF_FABC)
    );
    assert_eq!(
        tr(&mut tlb, &mut m, &mode, 0x1FFF, Access::read(false)),
        Ok(0xF_FFFF_FFFF)
    );
    assert_eq!((tlb.hits, tlb.misses), (1, 1));
}

#[test]
fn set_conflicts_evict_without_losing_correctness() {
    let mut m = mem();
    // Identity-map the first 4 MiB with 4 KiB pages (PT at 0x2000).
    w32(&mut m, 0x1000, 0x2000 | P | RW);
    for i in 0..1024u64 {
        w32(&mut m, 0x2000 + 4 * i, (i << 12) | P | RW);
    }
    let mode = mode32(false, false);
    let mut tlb = Tlb::new();
    // 2 × ways pages that share one set, twice round.
    let stride = (TLB_SETS as u32) << 12;
    for _ in 0..2 {
        for k in 0..(2 * TLB_WAYS as u32) {
            let lin = 0x0000_5000 + k * stride;
            assert_eq!(
                tr(&mut tlb, &mut m, &mode, lin, Access::read(false)),
                Ok(u64::from(lin))
            );
        }
    }
    assert_eq!(tlb.len(), TLB_WAYS);
    // Fill everything; the TLB never holds more than its capacity.
    for page in 0..1024u32 {
        tr(&mut tlb, &mut m, &mode, page << 12, Access::read(false)).unwrap();
    }
    assert_eq!(tlb.len(), TLB_SETS * TLB_WAYS);
    tlb.flush_all();
    assert!(tlb.is_empty());
}
