//! Linear-to-physical translation: the paging-structure walks of SDM Vol. 3 chapter 4.
//!
//! * 32-bit paging (§4.3) with 4 KiB pages and, when CR4.PSE = 1, 4 MiB pages
//!   ([`legacy`]). PSE-36 is not modelled (the CPU model does not report it), so bits 21:13
//!   of a 4 MiB PDE are reserved.
//! * PAE paging (§4.4) with 4 KiB and 2 MiB pages, the four PDPTE registers
//!   ([`load_pdptes`]) and execute-disable when IA32_EFER.NXE = 1 ([`pae`]).
//!   MAXPHYADDR is 36 (§4.1.4).
//!
//! Access rights follow §4.6, the #PF error code §4.7, accessed/dirty flags §4.8: a walk
//! that succeeds sets the accessed flag of every paging-structure entry it used and, for a
//! write, the dirty flag of the entry that maps the page; a walk that faults writes nothing.
//! (SDM §6.15 notes that some processors set the PDE's accessed flag on a protection fault;
//! that is model specific and not done here.)
//!
//! Walks are pure functions of the memory and a [`PagingMode`]; the software TLB that
//! caches their results is [`crate::tlb`].

pub mod legacy;
pub mod pae;

pub use pae::{load_pdptes, PdpteError};

use crate::{LinearAddr, PhysAddr, PhysMem};

/// Why a linear address is accessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessKind {
    /// A data read (also implicit reads such as descriptor-table loads).
    Read,
    /// A data write.
    Write,
    /// An instruction fetch.
    Execute,
}

/// One access to a linear address: its kind and whether it is a user-mode access
/// (CPL = 3 and not an implicit supervisor access, SDM §4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Access {
    pub kind: AccessKind,
    pub user: bool,
}

impl Access {
    pub const fn new(kind: AccessKind, user: bool) -> Self {
        Self { kind, user }
    }
    pub const fn read(user: bool) -> Self {
        Self::new(AccessKind::Read, user)
    }
    pub const fn write(user: bool) -> Self {
        Self::new(AccessKind::Write, user)
    }
    pub const fn execute(user: bool) -> Self {
        Self::new(AccessKind::Execute, user)
    }
}

/// The control-register state that shapes a walk (SDM §4.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PagingMode {
    /// CR3. With PAE paging only bits 31:5 matter, and only to [`load_pdptes`].
    pub cr3: u32,
    /// CR4.PAE: PAE paging (§4.4) instead of 32-bit paging (§4.3).
    pub pae: bool,
    /// CR4.PSE: 4 MiB pages with 32-bit paging (ignored with PAE paging, §4.4.2).
    pub pse: bool,
    /// CR4.PGE: the G flag of a page's entry makes its translation global (§4.10.2.4).
    pub pge: bool,
    /// CR0.WP: supervisor writes honour R/W (§4.6).
    pub wp: bool,
    /// IA32_EFER.NXE: bit 63 of PAE entries is XD instead of reserved (§4.6, §4.4.2).
    pub nxe: bool,
    /// The PDPTE registers (PAE paging only), as returned by [`load_pdptes`].
    pub pdptes: [u64; 4],
}

/// A page fault: the error code of SDM §4.7 and the faulting linear address (CR2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageFault {
    pub error_code: u32,
    pub linear: LinearAddr,
}

impl PageFault {
    /// P: 0 for a non-present page, 1 for a protection or reserved-bit violation.
    pub const PRESENT: u32 = 1 << 0;
    /// W/R: the access was a write.
    pub const WRITE: u32 = 1 << 1;
    /// U/S: the access was a user-mode access.
    pub const USER: u32 = 1 << 2;
    /// RSVD: a reserved bit was set in a paging-structure entry (P is then also set).
    pub const RSVD: u32 = 1 << 3;
    /// I/D: the access was an instruction fetch (only with PAE paging and NXE = 1).
    pub const FETCH: u32 = 1 << 4;

    /// The fault for `access` to `linear`: `present` sets P, `rsvd` sets RSVD (and P).
    fn new(
        mode: &PagingMode,
        linear: LinearAddr,
        access: Access,
        present: bool,
        rsvd: bool,
    ) -> Self {
        let mut code = 0;
        if present || rsvd {
            code |= Self::PRESENT;
        }
        if rsvd {
            code |= Self::RSVD;
        }
        if access.kind == AccessKind::Write {
            code |= Self::WRITE;
        }
        if access.user {
            code |= Self::USER;
        }
        // §4.7: I/D is set for fetches only when CR4.PAE = 1 and IA32_EFER.NXE = 1
        // (SMEP is not modelled).
        if access.kind == AccessKind::Execute && mode.pae && mode.nxe {
            code |= Self::FETCH;
        }
        Self {
            error_code: code,
            linear,
        }
    }
}

/// The size of the page that maps a linear address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PageSize {
    /// 4 KiB (a PTE maps it).
    Size4K,
    /// 2 MiB (a PAE PDE with PS = 1).
    Size2M,
    /// 4 MiB (a 32-bit PDE with PS = 1 and CR4.PSE = 1).
    Size4M,
}

impl PageSize {
    /// The page size in bytes.
    pub const fn bytes(self) -> u64 {
        match self {
            Self::Size4K => 1 << 12,
            Self::Size2M => 1 << 21,
            Self::Size4M => 1 << 22,
        }
    }

    /// Mask of the offset bits within a page of this size.
    pub const fn offset_mask(self) -> u32 {
        (self.bytes() - 1) as u32
    }
}

/// Effective access rights of a translation: the combination over every paging-structure
/// entry used (SDM §4.6.1). PDPTEs have no R/W, U/S or XD flags and do not contribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rights {
    /// U/S = 1 in every entry: user-mode accesses allowed.
    pub user: bool,
    /// R/W = 1 in every entry: writes allowed.
    pub writable: bool,
    /// XD = 1 in some entry while NXE = 1: instruction fetches not allowed.
    pub no_execute: bool,
}

impl Rights {
    /// Whether `access` is allowed (SDM §4.6; SMEP/SMAP/protection keys not modelled).
    ///
    /// * User accesses need U/S; user writes also need R/W whatever CR0.WP.
    /// * Supervisor writes need R/W only when CR0.WP = 1.
    /// * Instruction fetches at any privilege are refused when XD applies (PAE, NXE = 1).
    #[inline(always)]
    pub fn permits(self, mode: &PagingMode, access: Access) -> bool {
        self.permits_with(mode.wp, mode.pae && mode.nxe, access)
    }

    /// [`Self::permits`] given CR0.WP and whether execute-disable is in force (PAE paging
    /// with NXE = 1).
    #[inline(always)]
    pub fn permits_with(self, wp: bool, xd: bool, access: Access) -> bool {
        if access.user && !self.user {
            return false;
        }
        match access.kind {
            AccessKind::Read => true,
            AccessKind::Write => self.writable || (!access.user && !wp),
            AccessKind::Execute => !(self.no_execute && xd),
        }
    }
}

/// A successful translation: the physical address and what a TLB entry needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Translation {
    /// The physical address of the accessed byte.
    pub phys: PhysAddr,
    /// The physical base of the page (aligned to `size`).
    pub frame: PhysAddr,
    pub size: PageSize,
    pub rights: Rights,
    /// G = 1 in the entry that maps the page and CR4.PGE = 1 (§4.10.2.4).
    pub global: bool,
    /// The dirty flag of the entry that maps the page, after the walk (set by a write).
    pub dirty: bool,
}

/// Flags common to every paging-structure entry format (low doubleword).
pub(crate) const P: u64 = 1 << 0;
pub(crate) const RW: u64 = 1 << 1;
pub(crate) const US: u64 = 1 << 2;
pub(crate) const ACCESSED: u64 = 1 << 5;
pub(crate) const DIRTY: u64 = 1 << 6;
pub(crate) const PS: u64 = 1 << 7;
pub(crate) const GLOBAL: u64 = 1 << 8;

/// The entries a walk used, for setting accessed/dirty flags once it has succeeded.
/// A/D live in the low doubleword of both the 32-bit and the 64-bit formats.
pub(crate) struct Path {
    /// Physical address of each entry's low doubleword and its low doubleword as read.
    entries: [(PhysAddr, u32); 2],
    len: usize,
}

impl Path {
    pub(crate) const fn new() -> Self {
        Self {
            entries: [(PhysAddr(0), 0); 2],
            len: 0,
        }
    }

    pub(crate) fn push(&mut self, addr: PhysAddr, entry: u64) {
        if let Some(slot) = self.entries.get_mut(self.len) {
            *slot = (addr, entry as u32);
            self.len += 1;
        }
    }
}

/// The leaf of a walk that found every entry present and free of reserved bits.
pub(crate) struct Leaf {
    pub(crate) frame: u64,
    pub(crate) size: PageSize,
    pub(crate) rights: Rights,
    /// The entry mapping the page (for G and D).
    pub(crate) entry: u64,
}

/// Checks the access rights of a complete walk and, if allowed, sets the accessed flags
/// of every entry used and the dirty flag of the leaf for a write (SDM §4.8). The last
/// entry of `path` is the leaf.
pub(crate) fn finish(
    mem: &mut PhysMem,
    mode: &PagingMode,
    linear: LinearAddr,
    access: Access,
    path: &Path,
    leaf: Leaf,
) -> Result<Translation, PageFault> {
    if !leaf.rights.permits(mode, access) {
        return Err(PageFault::new(mode, linear, access, true, false));
    }
    let write = access.kind == AccessKind::Write;
    let used = path.entries.get(..path.len).unwrap_or(&[]);
    for (i, &(addr, low)) in used.iter().enumerate() {
        let mut new = low | ACCESSED as u32;
        if write && i + 1 == used.len() {
            new |= DIRTY as u32;
        }
        if new != low {
            mem.write_u32(addr, new);
        }
    }
    let offset = u64::from(linear.0 & leaf.size.offset_mask());
    Ok(Translation {
        phys: PhysAddr(leaf.frame | offset),
        frame: PhysAddr(leaf.frame),
        size: leaf.size,
        rights: leaf.rights,
        global: mode.pge && leaf.entry & GLOBAL != 0,
        dirty: write || leaf.entry & DIRTY != 0,
    })
}

/// Translates `linear` for `access` by walking the paging structures (no TLB).
///
/// With PAE paging the PDPTEs come from `mode.pdptes` (the PDPTE registers), not memory.
pub fn walk(
    mem: &mut PhysMem,
    mode: &PagingMode,
    linear: LinearAddr,
    access: Access,
) -> Result<Translation, PageFault> {
    walk_counted(mem, mode, linear, access, &mut 0)
}

/// [`walk`], adding to `reads` the number of paging-structure entries it read from memory
/// (the PDPTEs of PAE paging are registers and are not counted): the memory accesses a
/// processor makes for the walk, which CPU models charge cycles for.
pub fn walk_counted(
    mem: &mut PhysMem,
    mode: &PagingMode,
    linear: LinearAddr,
    access: Access,
    reads: &mut u32,
) -> Result<Translation, PageFault> {
    if mode.pae {
        pae::walk_counted(mem, mode, linear, access, reads)
    } else {
        legacy::walk_counted(mem, mode, linear, access, reads)
    }
}
