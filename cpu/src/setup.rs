//! State set-up helpers for loaders, tests and conformance harnesses.

use crate::exception::Exception;
use crate::exec::Cpu;
use crate::state::{Cr0, Eflags, SegAttrs, SegReg, Segment};
use iced_x86::Instruction;

impl Cpu {
    /// Enters flat 32-bit protected mode directly (no descriptor tables): CR0.PE = 1, every
    /// segment base 0, limit 4 GiB, 32-bit, with DPL = `cpl`; EIP = `eip`. This is the state
    /// `--entry pm32` and the conformance harnesses start from (a GDT is not needed until
    /// software reloads a segment register).
    pub fn enter_flat32(&mut self, eip: u32, cpl: u8) {
        let cpl = cpl & 3;
        let c = &mut self.core;
        c.sregs.cr0 = (c.sregs.cr0 | Cr0::PE).difference(Cr0::CD | Cr0::NW);
        let dpl = SegAttrs::from_bits_retain(u32::from(cpl) << 5);
        let common =
            SegAttrs::P | SegAttrs::S | SegAttrs::ACCESSED | SegAttrs::DB | SegAttrs::G | dpl;
        let data = Segment {
            selector: 0x10 | u16::from(cpl),
            base: 0,
            limit: 0xFFFF_FFFF,
            attrs: common | SegAttrs::RW,
        };
        let code = Segment {
            selector: 0x08 | u16::from(cpl),
            base: 0,
            limit: 0xFFFF_FFFF,
            attrs: common | SegAttrs::RW | SegAttrs::CODE,
        };
        for s in SegReg::ALL {
            c.sregs.seg[s as usize] = if s == SegReg::Cs { code } else { data };
        }
        c.sregs.cpl = cpl;
        c.regs.eip = eip;
        c.regs.eflags = Eflags::FIXED1;
        self.state_changed();
    }

    /// Linear address of CS:EIP and the instruction there (decoded through the cache), for
    /// traces and debuggers. Does not execute anything.
    pub fn next_instruction(&mut self) -> Result<(u32, Instruction), Exception> {
        let eip = self.core.regs.eip;
        let lin = self.core.sregs.seg[SegReg::Cs as usize]
            .base
            .wrapping_add(eip);
        let d = self.fetch_decoded()?;
        Ok((lin, d))
    }

    /// The physical address of a linear address as an instruction fetch at the current
    /// privilege would see it, for traces and debuggers (`None` if it would fault). With
    /// paging on this walks the tables, which may set accessed flags the fetch had set
    /// anyway; the TLB is neither used nor changed.
    pub fn debug_translate(&mut self, lin: u32) -> Option<vtx32_mmu::PhysAddr> {
        let c = &mut self.core;
        if !c.sregs.cr0.contains(Cr0::PG) {
            return Some(vtx32_mmu::PhysAddr(u64::from(lin)));
        }
        let mode = c.paging_mode();
        let access = vtx32_mmu::paging::Access {
            kind: vtx32_mmu::paging::AccessKind::Execute,
            user: c.sregs.cpl == 3,
        };
        vtx32_mmu::paging::walk(&mut c.mem, &mode, vtx32_mmu::LinearAddr(lin), access)
            .ok()
            .map(|t| t.phys)
    }
}
