//! 32-bit paging (SDM Vol. 3 §4.3): CR3 → page directory (1024 × 4 bytes) → page table
//! (1024 × 4 bytes) → 4 KiB page, or CR3 → PDE with PS = 1 → 4 MiB page when CR4.PSE = 1.
//!
//! Reserved bits (§4.3, Table 4-4): only a 4 MiB PDE has them. Without PSE-36 (not reported
//! by the CPU model) MAXPHYADDR is 32 for 32-bit paging, so bits 21:13 are reserved; bit 12
//! is PAT. PDEs that reference page tables and PTEs have no reserved bits. There is no
//! execute-disable with 32-bit paging: NXE is ignored and I/D is never set (§4.7).

use super::{finish, Leaf, PageFault, PageSize, PagingMode, Path, Rights, P, PS, RW, US};
use super::{Access, Translation};
use crate::{LinearAddr, PhysAddr, PhysMem};

/// Bits 21:13 of a PDE that maps a 4 MiB page (Table 4-4 with M = 32).
pub const PDE_4M_RESERVED: u32 = 0x003F_E000;
/// Bits 31:12 of an entry: the address of a page table or a 4 KiB page.
const ADDR_4K: u32 = 0xFFFF_F000;
/// Bits 31:22 of a 4 MiB PDE: the address of the page.
const ADDR_4M: u32 = 0xFFC0_0000;

/// Translates `linear` with 32-bit paging (`mode.pae` is not consulted).
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
    let mut path = Path::new();

    // §4.3: the PDE is at CR3 bits 31:12 | linear bits 31:22 << 2.
    let pde_addr = PhysAddr(u64::from((mode.cr3 & ADDR_4K) | ((l >> 22) << 2)));
    let pde = mem.read_u32(pde_addr);
    *reads += 1;
    if u64::from(pde) & P == 0 {
        return Err(fault(false, false));
    }
    path.push(pde_addr, u64::from(pde));

    if mode.pse && u64::from(pde) & PS != 0 {
        if pde & PDE_4M_RESERVED != 0 {
            return Err(fault(true, true));
        }
        let leaf = Leaf {
            frame: u64::from(pde & ADDR_4M),
            size: PageSize::Size4M,
            rights: rights(pde),
            entry: u64::from(pde),
        };
        return finish(mem, mode, linear, access, &path, leaf);
    }

    // The PTE is at PDE bits 31:12 | linear bits 21:12 << 2.
    let pte_addr = PhysAddr(u64::from((pde & ADDR_4K) | (((l >> 12) & 0x3FF) << 2)));
    let pte = mem.read_u32(pte_addr);
    *reads += 1;
    if u64::from(pte) & P == 0 {
        return Err(fault(false, false));
    }
    path.push(pte_addr, u64::from(pte));
    let leaf = Leaf {
        frame: u64::from(pte & ADDR_4K),
        size: PageSize::Size4K,
        // §4.6.1: the rights are the AND of both levels.
        rights: rights(pde & pte),
        entry: u64::from(pte),
    };
    finish(mem, mode, linear, access, &path, leaf)
}

/// R/W and U/S of an entry (or of the AND of several); no XD with 32-bit paging.
fn rights(entry: u32) -> Rights {
    Rights {
        user: u64::from(entry) & US != 0,
        writable: u64::from(entry) & RW != 0,
        no_execute: false,
    }
}
