//! Linear-to-physical translation for 32-bit (2-level) paging with 4 KiB and 4 MiB (PSE)
//! pages: SDM Vol. 3 §4.3. Accessed and dirty bits are set only by a walk that succeeds
//! (§4.8). PAE, NX, global pages and the TLB are the next step (issue 3).

use crate::{LinearAddr, PhysAddr, PhysMem};

/// Why a linear address is accessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Execute,
}

/// Paging controls that shape a walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PagingMode {
    pub cr3: u32,
    /// CR4.PSE: 4 MiB pages allowed.
    pub pse: bool,
    /// CR0.WP: supervisor writes honour R/W.
    pub wp: bool,
}

/// A #PF error code (SDM Vol. 3 §4.7): bit 0 P, bit 1 W/R, bit 2 U/S, bit 4 I/D.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageFault {
    pub error_code: u32,
    pub linear: LinearAddr,
}

const P: u32 = 1;
const RW: u32 = 2;
const US: u32 = 4;
const ACCESSED: u32 = 1 << 5;
const DIRTY: u32 = 1 << 6;
const PS: u32 = 1 << 7;

/// Walks the 2-level tables for `lin`; `user` is CPL 3 (SDM §4.6 access rights).
pub fn walk32(
    mem: &mut PhysMem,
    mode: PagingMode,
    lin: LinearAddr,
    access: Access,
    user: bool,
) -> Result<PhysAddr, PageFault> {
    let l = lin.0;
    let code_base = (u32::from(access == Access::Write) << 1) | (u32::from(user) << 2);
    let fault = |present: bool| PageFault {
        error_code: code_base | u32::from(present),
        linear: lin,
    };
    let pde_addr = PhysAddr(u64::from((mode.cr3 & 0xFFFF_F000) | ((l >> 22) << 2)));
    let pde = mem.read_u32(pde_addr);
    if pde & P == 0 {
        return Err(fault(false));
    }
    let big = mode.pse && pde & PS != 0;
    let (pte_addr, entry) = if big {
        (pde_addr, pde)
    } else {
        let a = PhysAddr(u64::from((pde & 0xFFFF_F000) | (((l >> 12) & 0x3FF) << 2)));
        let pte = mem.read_u32(a);
        if pte & P == 0 {
            return Err(fault(false));
        }
        (a, pte)
    };
    // Effective rights are the AND of both levels (§4.6.1).
    let rights = if big { pde } else { pde & entry };
    let writable = rights & RW != 0;
    let user_ok = rights & US != 0;
    if user && !user_ok {
        return Err(fault(true));
    }
    if access == Access::Write && !writable && (user || mode.wp) {
        return Err(fault(true));
    }
    // Success: set accessed bits, and dirty on the leaf for writes (§4.8).
    if !big && pde & ACCESSED == 0 {
        mem.write_u32(pde_addr, pde | ACCESSED);
    }
    let mut leaf = entry | ACCESSED;
    if access == Access::Write {
        leaf |= DIRTY;
    }
    if leaf != entry {
        mem.write_u32(pte_addr, leaf);
    }
    let phys = if big {
        (entry & 0xFFC0_0000) | (l & 0x3F_FFFF)
    } else {
        (entry & 0xFFFF_F000) | (l & 0xFFF)
    };
    Ok(PhysAddr(u64::from(phys)))
}
