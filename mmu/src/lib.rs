//! vtx32-mmu: the physical memory bus (RAM, ROM, unmapped space), the A20 gate and the
//! bookkeeping that lets the CPU's decoded-instruction cache notice self-modifying code;
//! the paging walks (SDM Vol. 3 ch. 4: 32-bit and PAE paging, [`paging`]) and a software
//! TLB ([`tlb`]). With CR0.PG = 0 a linear address is the physical address.
//!
//! The interface: [`paging::walk`], [`paging::PagingMode`], [`paging::Access`] and
//! [`tlb::translate`].

mod addr;
pub mod paging;
mod phys;
pub mod tlb;

pub use addr::{LinearAddr, PhysAddr};
pub use paging::PageFault;
pub use phys::{MemError, PhysMem, CODE_LINE_SHIFT, MAX_ROM_SIZE, ROM_GRANULE};
pub use tlb::{translate, Tlb};
