//! Helpers for hand-built page-table trees.
#![allow(dead_code)]

use vtx32_mmu::paging::PagingMode;
use vtx32_mmu::{PhysAddr, PhysMem};

pub const P: u64 = 1;
pub const RW: u64 = 2;
pub const US: u64 = 4;
pub const A: u64 = 1 << 5;
pub const D: u64 = 1 << 6;
pub const PS: u64 = 1 << 7;
pub const G: u64 = 1 << 8;
pub const XD: u64 = 1 << 63;

pub fn mem() -> PhysMem {
    PhysMem::new(8 << 20).unwrap()
}

pub fn w32(m: &mut PhysMem, addr: u64, v: u64) {
    m.write_u32(PhysAddr(addr), v as u32);
}

pub fn r32(m: &PhysMem, addr: u64) -> u64 {
    u64::from(m.read_u32(PhysAddr(addr)))
}

pub fn w64(m: &mut PhysMem, addr: u64, v: u64) {
    m.write_u32(PhysAddr(addr), v as u32);
    m.write_u32(PhysAddr(addr + 4), (v >> 32) as u32);
}

pub fn r64(m: &PhysMem, addr: u64) -> u64 {
    r32(m, addr) | (r32(m, addr + 4) << 32)
}

/// 32-bit paging with CR3 = 0x1000.
pub fn mode32(pse: bool, wp: bool) -> PagingMode {
    PagingMode {
        cr3: 0x1000,
        pse,
        wp,
        ..PagingMode::default()
    }
}

/// PAE paging with the given PDPTE registers.
pub fn mode_pae(nxe: bool, wp: bool, pdptes: [u64; 4]) -> PagingMode {
    PagingMode {
        cr3: 0x3000,
        pae: true,
        wp,
        nxe,
        pdptes,
        ..PagingMode::default()
    }
}
