//! PAE paging (SDM Vol. 3 §4.4): PDPTE register (linear bits 31:30) → page directory
//! (512 × 8 bytes, linear bits 29:21) → page table (512 × 8 bytes, linear bits 20:12) → 4 KiB page,
//! or PDE with PS = 1 → 2 MiB page. CR4.PSE is ignored.
//!
//! The four PDPTEs are loaded into PDPTE registers when CR3 is written (or PAE paging is
//! entered), §4.4.1: [`load_pdptes`] checks them and the walk uses the cached copies.
//!
//! Reserved bits with MAXPHYADDR = 36 (Tables 4-8 to 4-11):
//! * PDPTE: bits 2:1, 8:5, 63:36 (checked at load time: #GP, not #PF);
//! * PDE, PTE: bits 62:36, and bit 63 when IA32_EFER.NXE = 0 (it is XD when NXE = 1);
//! * PDE with PS = 1: also bits 20:13.

use super::{finish, Leaf, PageFault, PageSize, PagingMode, Path, Rights, P, PS, RW, US};
use super::{Access, Translation};
use crate::{LinearAddr, PhysAddr, PhysMem};
use thiserror::Error;

/// MAXPHYADDR of this model (SDM §4.1.4; CPUID.80000008H is not reported, so 36).
pub const MAXPHYADDR: u32 = 36;
/// Bits 35:12: the address of a paging structure or a 4 KiB page.
const ADDR_4K: u64 = ((1 << MAXPHYADDR) - 1) & !0xFFF;
/// Bits 35:21: the address of a 2 MiB page.
const ADDR_2M: u64 = ((1 << MAXPHYADDR) - 1) & !0x1F_FFFF;
/// Bits 62:MAXPHYADDR, reserved in every PAE entry.
const HIGH_RESERVED: u64 = (u64::MAX >> 1) & !((1 << MAXPHYADDR) - 1);
/// Bit 63: XD when NXE = 1, reserved otherwise.
pub const XD: u64 = 1 << 63;
/// Reserved bits of a PDPTE (Table 4-8): 2:1, 8:5, 63:36.
pub const PDPTE_RESERVED: u64 = XD | HIGH_RESERVED | 0x1E0 | 0x6;
/// Bits 20:13, reserved in a PDE that maps a 2 MiB page (Table 4-9).
pub const PDE_2M_RESERVED: u64 = 0x1F_E000;

/// Why a CR3 write (or the switch to PAE paging) cannot load the PDPTE registers: the
/// instruction raises #GP(0) and the PDPTE registers keep their old values (§4.4.1).
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum PdpteError {
    #[error("PDPTE{index} = {value:#018x} is present with reserved bits set")]
    Reserved { index: usize, value: u64 },
}

/// Reserved bits of a PDE or PTE under the given NXE (`large`: a 2 MiB PDE).
pub const fn entry_reserved(nxe: bool, large: bool) -> u64 {
    let mut r = HIGH_RESERVED;
    if !nxe {
        r |= XD;
    }
    if large {
        r |= PDE_2M_RESERVED;
    }
    r
}

/// Reads the 64-bit entry at `addr` (two doubleword reads, little-endian).
fn read_u64(mem: &PhysMem, addr: PhysAddr) -> u64 {
    let lo = mem.read_u32(addr);
    let hi = mem.read_u32(PhysAddr(addr.0.wrapping_add(4)));
    u64::from(lo) | (u64::from(hi) << 32)
}

/// Loads the four PDPTEs from the 32-byte aligned table at CR3 bits 31:5 (Table 4-7), as a
/// MOV to CR3 under PAE paging does. A present PDPTE with a reserved bit set fails; the
/// caller raises #GP(0) and keeps the previous PDPTE registers.
pub fn load_pdptes(mem: &PhysMem, cr3: u32) -> Result<[u64; 4], PdpteError> {
    let base = u64::from(cr3 & 0xFFFF_FFE0);
    let mut pdptes = [0u64; 4];
    for (index, slot) in pdptes.iter_mut().enumerate() {
        let value = read_u64(mem, PhysAddr(base + 8 * index as u64));
        if value & P != 0 && value & PDPTE_RESERVED != 0 {
            return Err(PdpteError::Reserved { index, value });
        }
        *slot = value;
    }
    Ok(pdptes)
}

/// Translates `linear` with PAE paging, using `mode.pdptes`.
/// `reads` is increased by the number of paging-structure entries read from memory.
pub fn walk_counted(
    mem: &mut PhysMem,
    mode: &PagingMode,
    linear: LinearAddr,
    access: Access,
    reads: &mut u32,
) -> Result<Translation, PageFault> {
    let l = linear.0;
    let fault = |present, rsvd| PageFault::new(mode, linear, access, present, rsvd);
    let nx_on = mode.nxe;
    let mut path = Path::new();

    // §4.4.2: PDPTEi with i = linear bits 31:30.
    let pdpte = mode.pdptes.get((l >> 30) as usize).copied().unwrap_or(0);
    if pdpte & P == 0 {
        return Err(fault(false, false));
    }
    // Unreachable with registers from `load_pdptes`; kept so that no input can yield a
    // translation through an invalid PDPTE.
    if pdpte & PDPTE_RESERVED != 0 {
        return Err(fault(true, true));
    }

    // The PDE is at PDPTE bits 35:12 | linear bits 29:21 << 3.
    let pde_addr = PhysAddr((pdpte & ADDR_4K) | (u64::from((l >> 21) & 0x1FF) << 3));
    let pde = read_u64(mem, pde_addr);
    *reads += 1;
    if pde & P == 0 {
        return Err(fault(false, false));
    }
    let large = pde & PS != 0;
    if pde & entry_reserved(nx_on, large) != 0 {
        return Err(fault(true, true));
    }
    path.push(pde_addr, pde);

    if large {
        let leaf = Leaf {
            frame: pde & ADDR_2M,
            size: PageSize::Size2M,
            rights: rights(pde, nx_on),
            entry: pde,
        };
        return finish(mem, mode, linear, access, &path, leaf);
    }

    // The PTE is at PDE bits 35:12 | linear bits 20:12 << 3.
    let pte_addr = PhysAddr((pde & ADDR_4K) | (u64::from((l >> 12) & 0x1FF) << 3));
    let pte = read_u64(mem, pte_addr);
    *reads += 1;
    if pte & P == 0 {
        return Err(fault(false, false));
    }
    if pte & entry_reserved(nx_on, false) != 0 {
        return Err(fault(true, true));
    }
    path.push(pte_addr, pte);
    // §4.6.1: R/W and U/S are ANDed over the levels, XD is ORed.
    let combined = Rights {
        no_execute: (pde | pte) & XD != 0 && nx_on,
        ..rights(pde & pte, nx_on)
    };
    let leaf = Leaf {
        frame: pte & ADDR_4K,
        size: PageSize::Size4K,
        rights: combined,
        entry: pte,
    };
    finish(mem, mode, linear, access, &path, leaf)
}

/// R/W, U/S and XD of one entry.
fn rights(entry: u64, nx_on: bool) -> Rights {
    Rights {
        user: entry & US != 0,
        writable: entry & RW != 0,
        no_execute: nx_on && entry & XD != 0,
    }
}
