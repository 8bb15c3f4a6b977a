//! A software TLB (SDM Vol. 3 §4.10) in front of the walks of [`crate::paging`].
//!
//! * Unified (data and instruction), 64 sets × 4 ways = 256 entries, indexed by bits 17:12
//!   of the linear address, round-robin replacement within a set. Fixed size: no allocation
//!   after construction, none on the lookup path.
//! * Keyed by the 4 KiB linear page number. A 2 MiB or 4 MiB page is cached as 4 KiB
//!   entries, one per 4 KiB page actually used ("fractured", as §4.10.2.3 allows); each
//!   remembers the size of the page it came from, so that INVLPG of any address in a large
//!   page removes every entry of that page (§4.10.4.1).
//! * An entry holds the effective rights of the walk. An access those rights allow is
//!   translated without a walk; any other access walks again (and so sees the current
//!   paging structures). A write through an entry whose dirty flag is clear also walks, so
//!   that the walk sets the dirty flag in memory (§4.8).
//! * Faults are never cached: only successful walks are inserted, and a page fault
//!   invalidates the entries for the faulting page (§4.10.4.1).
//! * Global entries (G = 1 with CR4.PGE = 1) survive [`Tlb::flush_non_global`] (§4.10.2.4).
//!
//! The CPU calls [`Tlb::flush_non_global`] on a CR3 write (MOV or task switch) and
//! [`Tlb::flush_all`] when CR0.PG, CR4.PGE, CR4.PAE or CR4.PSE change (§4.10.4.1).
//! CR0.WP and IA32_EFER.NXE are applied at lookup time from the [`PagingMode`] passed to
//! [`translate`], so changing them needs no flush.

use crate::paging::{walk_counted, Access, AccessKind, PageFault, PageSize, PagingMode, Rights};
use crate::{LinearAddr, PhysAddr, PhysMem};

/// Number of sets (a power of two).
pub const TLB_SETS: usize = 64;
/// Entries per set.
pub const TLB_WAYS: usize = 4;
/// Tag of an empty way: no linear page number is this large (they are 20 bits).
const INVALID: u32 = u32::MAX;

/// A cached translation for one 4 KiB linear page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlbEntry {
    /// Physical address of the 4 KiB frame that backs the linear page.
    pub frame: PhysAddr,
    /// Size of the page the walk found (the entry itself always covers 4 KiB).
    pub size: PageSize,
    pub rights: Rights,
    pub global: bool,
    /// The dirty flag of the mapping entry was set when this entry was filled.
    pub dirty: bool,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    /// Linear page number (linear >> 12), or `INVALID`.
    tag: u32,
    entry: TlbEntry,
}

const EMPTY: Slot = Slot {
    tag: INVALID,
    entry: TlbEntry {
        frame: PhysAddr(0),
        size: PageSize::Size4K,
        rights: Rights {
            user: false,
            writable: false,
            no_execute: false,
        },
        global: false,
        dirty: false,
    },
};

/// The TLB. See the module documentation.
pub struct Tlb {
    sets: [[Slot; TLB_WAYS]; TLB_SETS],
    /// Next way to replace in each set.
    victim: [u8; TLB_SETS],
    /// Accesses [`translate`] served from the TLB.
    pub hits: u64,
    /// Accesses [`translate`] had to walk for (including those that faulted).
    pub misses: u64,
    /// Paging-structure entries read from memory by those walks (see
    /// [`crate::paging::walk_counted`]): CPU models charge cycles per read.
    pub walk_reads: u64,
}

impl Default for Tlb {
    fn default() -> Self {
        Self::new()
    }
}

impl Tlb {
    /// An empty TLB.
    pub const fn new() -> Self {
        Self {
            sets: [[EMPTY; TLB_WAYS]; TLB_SETS],
            victim: [0; TLB_SETS],
            hits: 0,
            misses: 0,
            walk_reads: 0,
        }
    }

    #[inline(always)]
    fn set_index(page: u32) -> usize {
        page as usize & (TLB_SETS - 1)
    }

    /// The cached translation of the 4 KiB page holding `linear`, if any.
    #[inline(always)]
    pub fn lookup(&self, linear: LinearAddr) -> Option<TlbEntry> {
        let page = linear.0 >> 12;
        let set = self.sets.get(Self::set_index(page))?;
        set.iter().find(|s| s.tag == page).map(|s| s.entry)
    }

    /// Caches the translation `t` that a walk returned for `linear`. Large pages are stored
    /// as the 4 KiB piece holding `linear`.
    pub fn insert(&mut self, linear: LinearAddr, t: &crate::paging::Translation) {
        let page = linear.0 >> 12;
        let within = u64::from(linear.0 & t.size.offset_mask() & !0xFFF);
        let entry = TlbEntry {
            frame: PhysAddr(t.frame.0 | within),
            size: t.size,
            rights: t.rights,
            global: t.global,
            dirty: t.dirty,
        };
        let idx = Self::set_index(page);
        let (Some(set), Some(victim)) = (self.sets.get_mut(idx), self.victim.get_mut(idx)) else {
            return;
        };
        let way = match set.iter().position(|s| s.tag == page) {
            Some(w) => w,
            None => match set.iter().position(|s| s.tag == INVALID) {
                Some(w) => w,
                None => {
                    let w = usize::from(*victim) % TLB_WAYS;
                    *victim = ((w + 1) % TLB_WAYS) as u8;
                    w
                }
            },
        };
        if let Some(slot) = set.get_mut(way) {
            *slot = Slot { tag: page, entry };
        }
    }

    /// INVLPG: removes the entry for the page holding `linear`, global or not, and every
    /// entry that came from a large page covering `linear` (§4.10.4.1).
    pub fn invlpg(&mut self, linear: LinearAddr) {
        let page = linear.0 >> 12;
        for set in self.sets.iter_mut() {
            for slot in set.iter_mut() {
                if slot.tag == INVALID {
                    continue;
                }
                // Linear pages that share the large page's number with `linear`.
                let mask = !(slot.entry.size.offset_mask() >> 12);
                if (slot.tag ^ page) & mask == 0 {
                    slot.tag = INVALID;
                }
            }
        }
    }

    /// MOV to CR3 (and task switches): drops every entry that is not global (§4.10.4.1).
    pub fn flush_non_global(&mut self) {
        for slot in self.sets.iter_mut().flatten() {
            if !slot.entry.global {
                slot.tag = INVALID;
            }
        }
    }

    /// Changes of CR0.PG, CR4.PGE/PAE/PSE: drops every entry, global ones included.
    pub fn flush_all(&mut self) {
        for slot in self.sets.iter_mut().flatten() {
            slot.tag = INVALID;
        }
    }

    /// Number of valid entries (for tests and statistics).
    pub fn len(&self) -> usize {
        self.sets
            .iter()
            .flatten()
            .filter(|s| s.tag != INVALID)
            .count()
    }

    /// Whether no entry is valid.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Tlb {
    /// The hit path of [`translate`] on its own: the physical address when a cached entry
    /// allows `access` (and, for a write, is already dirty), counted as a hit; `None`
    /// otherwise, with nothing changed ([`translate`] then walks). `wp` is CR0.WP, `xd`
    /// whether execute-disable is in force (PAE paging with NXE = 1).
    #[inline(always)]
    pub fn translate_hit(
        &mut self,
        linear: LinearAddr,
        access: Access,
        wp: bool,
        xd: bool,
    ) -> Option<PhysAddr> {
        let e = self.lookup(linear)?;
        let needs_dirty = access.kind == AccessKind::Write && !e.dirty;
        if !needs_dirty && e.rights.permits_with(wp, xd, access) {
            self.hits = self.hits.wrapping_add(1);
            return Some(PhysAddr(e.frame.0 | u64::from(linear.0 & 0xFFF)));
        }
        None
    }
}

/// Translates `linear` for `access`: from the TLB when a cached entry allows the access
/// (and, for a write, is already dirty); otherwise by a walk whose result is cached. A
/// fault is not cached and removes the page's entries (§4.10.4.1).
#[inline]
pub fn translate(
    tlb: &mut Tlb,
    mem: &mut PhysMem,
    mode: &PagingMode,
    linear: LinearAddr,
    access: Access,
) -> Result<PhysAddr, PageFault> {
    if let Some(pa) = tlb.translate_hit(linear, access, mode.wp, mode.pae && mode.nxe) {
        return Ok(pa);
    }
    translate_miss(tlb, mem, mode, linear, access)
}

/// The miss path of [`translate`] on its own, for a caller whose
/// [`Tlb::translate_hit`] just returned `None` for the same access: a walk whose result
/// is cached (a fault is not cached and removes the page's entries).
#[inline]
pub fn translate_miss(
    tlb: &mut Tlb,
    mem: &mut PhysMem,
    mode: &PagingMode,
    linear: LinearAddr,
    access: Access,
) -> Result<PhysAddr, PageFault> {
    tlb.misses = tlb.misses.wrapping_add(1);
    let mut reads = 0;
    let walked = walk_counted(mem, mode, linear, access, &mut reads);
    tlb.walk_reads = tlb.walk_reads.wrapping_add(u64::from(reads));
    match walked {
        Ok(t) => {
            tlb.insert(linear, &t);
            Ok(t.phys)
        }
        Err(pf) => {
            tlb.invlpg(linear);
            Err(pf)
        }
    }
}
