//! vtx32-mmu: the physical memory bus (RAM, ROM, unmapped space), the A20 gate and the
//! bookkeeping that lets the CPU's decoded-instruction cache notice self-modifying code.
//!
//! Paging walks and the TLB (SDM Vol. 3 ch. 4) are the next layer and will live here too
//! (`paging.rs`, `tlb.rs`); with CR0.PG = 0 a linear address is the physical address.

mod addr;
mod paging;
mod phys;

pub use addr::{LinearAddr, PhysAddr};
pub use paging::{walk32, Access, PageFault, PagingMode};
pub use phys::{MemError, PhysMem, CODE_LINE_SHIFT, MAX_ROM_SIZE, ROM_GRANULE};
