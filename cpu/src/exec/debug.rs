//! Debug facilities (SDM Vol. 3 ch. 17): the debug registers' breakpoint conditions
//! (§17.2.4-17.2.5, Table 17-2), instruction, data and I/O breakpoints, single-step traps
//! and the resume flag (§17.3.1), and their order among other events (§6.9, Table 6-2).
//!
//! Nothing here runs while no breakpoint is enabled in DR7 and EFLAGS.TF and RF are clear:
//! [`Cpu::run`] then executes whole blocks. Otherwise it calls [`Cpu::debug_step`], which
//! runs one instruction at a time:
//!
//! 1. Code breakpoints (priority 7 of Table 6-2, a fault before the instruction runs) are
//!    matched against CS.base + EIP unless RF is set or the previous instruction was MOV SS /
//!    POP SS (§6.8.3). RF is then cleared: it suppresses one check (§17.3.1.1).
//! 2. The instruction runs. While a data or I/O breakpoint is enabled, the segment fast
//!    paths are off (`refresh_segment_fast_paths`), so every data access goes through
//!    `seg_linear_slow`, which records matching breakpoints in `hits`, as do the
//!    supervisor accesses to descriptor tables and the TSS (`read_sys`); port accesses record
//!    I/O breakpoints (R/W = 10, CR4.DE = 1). A REP string instruction stops after an
//!    iteration that hit a breakpoint or when TF is set (one trap per iteration).
//! 3. Any event the instruction raised (a fault, INT n, INT3, INTO, ICEBP) is delivered and
//!    discards the pending traps, as the handler starts without them (TF is cleared by the
//!    delivery; single-stepping resumes after IRET). Data breakpoints hit by the delivery
//!    itself (stack pushes, descriptor reads) are reported before the handler's first
//!    instruction.
//! 4. Otherwise the traps of the instruction (priority 4): data / I/O breakpoint hits (B0-B3)
//!    and single-step (BS, when TF was set *before* the instruction: the instruction that
//!    sets TF is not trapped, §17.3.1.4) are reported in one #DB with EIP after the
//!    instruction. After MOV SS / POP SS they are held over to the next instruction. A code
//!    breakpoint on the instruction at the new EIP is reported in the same #DB.
//!
//! DR6 on a #DB: B0-B3 are replaced by the new event's (as on P6 and later processors,
//! §17.2.3: "certain debug exceptions may clear bits 0-3"), BD/BS/BT are only ever set;
//! DR7.GD is cleared (§17.2.4). The status bits of breakpoints that match without being
//! enabled are reported too when an enabled one hit (§17.2.3 leaves this open).

use super::{Core, Cpu, PortIo, StopReason};
use crate::exception::{vector, EventKind, Exception};
use crate::state::{Cr4, Eflags, SegReg};
use iced_x86::{Instruction, Mnemonic, OpKind, Register};
use std::cell::Cell;

/// DR6.B0-B3: breakpoint conditions detected.
pub(crate) const DR6_B: u32 = 0xF;
/// DR6.BD: the next instruction accesses a debug register while DR7.GD is set.
pub(crate) const DR6_BD: u32 = 1 << 13;
/// DR6.BS: single step.
pub(crate) const DR6_BS: u32 = 1 << 14;
/// DR6.BT: task switch to a TSS with the T flag.
pub(crate) const DR6_BT: u32 = 1 << 15;
/// DR6 bits that always read as 1 (bits 4-11, 16-31; bit 12 reads 0 on P6 and later).
pub(crate) const DR6_FIXED1: u32 = 0xFFFF_0FF0;
/// DR6 bits software can write.
pub(crate) const DR6_WRITABLE: u32 = DR6_B | DR6_BD | DR6_BS | DR6_BT;
/// DR7.GD: general detect.
pub(crate) const DR7_GD: u32 = 1 << 13;
/// DR7 bit 10 reads as 1; bits 11, 12, 14 and 15 read as 0 (SDM Figure 17-1).
pub(crate) const DR7_FIXED1: u32 = 1 << 10;
pub(crate) const DR7_WRITABLE: u32 = 0xFFFF_23FF;

/// R/W field values of DR7 (Table 17-2 context, §17.2.4).
const RW_EXEC: u32 = 0b00;
const RW_WRITE: u32 = 0b01;
const RW_IO: u32 = 0b10;
const RW_RW: u32 = 0b11;

/// Debug state kept on the core.
#[derive(Debug, Default)]
pub(crate) struct DebugState {
    /// DR7 enables at least one breakpoint (L0-L3 / G0-G3).
    pub active: bool,
    /// An enabled breakpoint is a data or I/O breakpoint: accesses are checked.
    pub data: bool,
    /// B0-B3 of the breakpoints hit by the current instruction's accesses.
    pub hits: Cell<u32>,
    /// DR6 bits of traps held over the MOV SS / POP SS shadow (§6.8.3).
    pub pending: u32,
    /// The previous instruction was MOV SS / POP SS: no code breakpoints and no traps at
    /// this boundary.
    pub shadow: bool,
}

impl Core {
    /// Whether the run loop must take the one-instruction debug path.
    #[inline(always)]
    pub(crate) fn debug_mode(&self) -> bool {
        self.dbg.active || self.regs.eflags.intersects(Eflags::TF | Eflags::RF)
    }

    /// Recomputes the breakpoint summary after DR7 changed.
    pub(crate) fn dr7_changed(&mut self) {
        let dr7 = self.dr[7];
        let enabled = |n: u32| dr7 & (3 << (2 * n)) != 0;
        let rw = |n: u32| (dr7 >> (16 + 4 * n)) & 3;
        // A pending trap (the T flag of a task switch) keeps the debug path on.
        self.dbg.active = (0..4).any(enabled) || self.dbg.pending != 0;
        // Leave the running block: the run loop picks the path at block starts.
        self.fetch_dirty = true;
        let data = (0..4).any(|n| enabled(n) && rw(n) != RW_EXEC);
        if data != self.dbg.data {
            self.dbg.data = data;
            self.refresh_segment_fast_paths();
        }
    }

    /// The B0-B3 bits of breakpoints of a type in `types` (a bit set of R/W values) whose
    /// range overlaps `[addr, addr + size)`, or 0 if none of them is enabled. Each
    /// breakpoint's range is its address aligned down to its length (LEN 00 = 1, 01 = 2,
    /// 11 = 4 bytes; 10, undefined for IA-32, is taken as 8 as on later processors).
    fn bp_match(&self, addr: u32, size: u32, types: u32) -> u32 {
        let dr7 = self.dr[7];
        let last = u64::from(addr) + u64::from(size) - 1;
        let mut found = 0;
        let mut any_enabled = false;
        for n in 0..4 {
            let rw = (dr7 >> (16 + 4 * n)) & 3;
            if types & (1 << rw) == 0 {
                continue;
            }
            let mask: u32 = [0, 1, 7, 3][((dr7 >> (18 + 4 * n)) & 3) as usize];
            let start = self.dr[n as usize] & !mask;
            let end = u64::from(start) + u64::from(mask);
            if u64::from(addr) <= end && last >= u64::from(start) {
                found |= 1 << n;
                any_enabled |= dr7 & (3 << (2 * n)) != 0;
            }
        }
        if any_enabled {
            found
        } else {
            0
        }
    }

    /// Records the data breakpoints a data access of `size` bytes at linear `lin` hits
    /// (reads match R/W = 11, writes R/W = 01 or 11).
    #[cold]
    pub(crate) fn note_data_access(&self, lin: u32, size: u32, write: bool) {
        let types = if write {
            (1 << RW_WRITE) | (1 << RW_RW)
        } else {
            1 << RW_RW
        };
        let hit = self.bp_match(lin, size, types);
        self.dbg.hits.set(self.dbg.hits.get() | hit);
    }

    /// Records the I/O breakpoints an access of `size` ports from `port` hits (R/W = 10 is
    /// defined only with CR4.DE = 1, §17.2.4).
    #[cold]
    pub(crate) fn note_io_access(&self, port: u16, size: u32) {
        if self.sregs.cr4.contains(Cr4::DE) {
            let hit = self.bp_match(u32::from(port), size, 1 << RW_IO);
            self.dbg.hits.set(self.dbg.hits.get() | hit);
        }
    }

    /// Whether a REP string instruction must stop after the current iteration to report
    /// a trap: a breakpoint hit or single-stepping (§17.3.1.4: one trap per iteration).
    #[cold]
    pub(crate) fn debug_rep_break(&self) -> bool {
        self.dbg.hits.get() != 0 || self.regs.eflags.contains(Eflags::TF)
    }

    /// Data breakpoints hit by the stack pushes or table reads of an event's delivery are
    /// reported as a trap at the handler's first instruction boundary, before it runs (as
    /// in Bochs; the reason operating systems keep breakpoints off their entry stacks).
    fn delivery_hits(&mut self) {
        let hits = self.dbg.hits.take();
        self.dbg.pending |= hits;
    }

    /// The debug side of a task switch, once the new task is loaded: the local breakpoint
    /// enables L0-L3 are cleared (SDM Vol. 3 §17.2.4), and the T flag of a new 32-bit TSS
    /// (bit 0 at offset 64H) raises a #DB trap with DR6.BT before the new task's first
    /// instruction (§17.3.1.5, §7.2.1).
    pub(crate) fn debug_task_switch(
        &mut self,
        tss_base: u32,
        tss32: bool,
    ) -> Result<(), Exception> {
        if tss32 && self.read_sys(tss_base.wrapping_add(0x64), 2)? & 1 != 0 {
            self.dbg.pending |= DR6_BT;
        }
        self.dr[7] &= !0x55;
        self.dr7_changed();
        Ok(())
    }

    /// Commits the DR6 bits of a #DB being raised (see the module docs) and clears DR7.GD.
    pub(crate) fn commit_debug_event(&mut self, bits: u32) {
        let keep = self.dr[6] & (DR6_BD | DR6_BS | DR6_BT);
        self.dr[6] = keep | (bits & DR6_WRITABLE) | DR6_FIXED1;
        self.dr[7] &= !DR7_GD;
    }
}

/// MOV SS and POP SS hold debug traps and code breakpoints off for one instruction
/// (§6.8.3); LSS does not.
fn loads_ss(i: &Instruction) -> bool {
    matches!(i.mnemonic(), Mnemonic::Mov | Mnemonic::Pop)
        && i.op0_kind() == OpKind::Register
        && i.op0_register() == Register::SS
}

/// A string instruction with a repeat prefix.
fn rep_string(i: &Instruction) -> bool {
    (i.has_rep_prefix() || i.has_repne_prefix()) && i.is_string_instruction()
}

impl Cpu {
    /// Runs one instruction with the debug checks (see the module docs).
    #[cold]
    pub(super) fn debug_step(&mut self, io: &mut dyn PortIo) -> Option<StopReason> {
        let c = &mut self.core;
        if c.cycles >= c.event_cycle {
            return Some(StopReason::EventDue);
        }
        let shadow = std::mem::take(&mut c.dbg.shadow);
        let pending = std::mem::take(&mut c.dbg.pending);
        if pending != 0 && !shadow {
            // Traps of an instruction that ended the previous run (HLT) or of an event
            // delivery: priority 4 of Table 6-2, before external interrupts. A halted
            // processor takes them once an interrupt wakes it.
            if c.halted {
                if !(c.regs.eflags.contains(Eflags::IF) && !c.inhibit && io.intr()) {
                    c.dbg.pending = pending;
                    return Some(StopReason::Halted);
                }
                c.halted = false;
            }
            let stop = self.raise_debug(io, pending);
            self.core.dr7_changed();
            return stop;
        }
        // External interrupts and the halt state (priorities 5-6), then this instruction.
        if let Some(stop) = self.events(io) {
            let c = &mut self.core;
            c.dbg.shadow = shadow;
            c.dbg.pending = pending;
            return Some(stop);
        }
        let c = &mut self.core;
        c.delivery_hits();
        if c.dbg.pending != 0 {
            // The interrupt's delivery hit a data breakpoint.
            let bits = std::mem::take(&mut c.dbg.pending);
            return self.raise_debug(io, bits);
        }
        let c = &mut self.core;
        let rf = c.regs.eflags.contains(Eflags::RF);
        if c.dbg.active && !rf && !shadow {
            let lin = c.sregs.seg[SegReg::Cs as usize]
                .base
                .wrapping_add(c.regs.eip);
            let hit = c.bp_match(lin, 1, 1 << RW_EXEC);
            if hit != 0 {
                // A fault: EIP stays on the instruction, and RF is pushed as it is (0),
                // unlike other faults (§17.3.1.1).
                return self.raise_debug(io, hit);
            }
        }
        // RF is cleared once the code-breakpoint check is done (§17.3.1.1).
        c.regs.eflags.remove(Eflags::RF);
        let tf = c.regs.eflags.contains(Eflags::TF);
        c.dbg.hits.set(0);
        let b = match self.fetch_block() {
            Ok(b) => b,
            Err(e) => return self.raise_event(io, e),
        };
        let c = &mut self.core;
        let d = self.blocks.insn(b.start as usize);
        let eip = c.regs.eip;
        let ip_mask = if c.fetch_code32 { u32::MAX } else { 0xFFFF };
        c.next_eip = eip.wrapping_add(u32::from(d.len)) & ip_mask;
        c.block_start = eip;
        c.inhibit = false;
        let r = if d.generic {
            (d.handler)(c, io, &d.insn)
        } else {
            let r = c.run_fast(d);
            c.settle_flags();
            r
        };
        if let Err(e) = r {
            // The event's delivery discards the instruction's traps (the handler starts
            // with TF clear; they resume after its IRET).
            return self.raise_event(io, e);
        }
        let (cycles, shadow_next, rep) = (d.cycles, loads_ss(&d.insn), rep_string(&d.insn));
        c.instructions += 1;
        c.cycles += u64::from(cycles);
        c.regs.eip = c.next_eip;
        if c.mem.code_written() {
            c.mem.clear_code_written();
        }
        // A REP string instruction left between iterations resumes without its code
        // breakpoint being checked again; an event reported now pushes RF = 1 (§17.3.1.1).
        if rep && c.regs.eip == eip {
            c.regs.eflags.insert(Eflags::RF);
        }
        // Traps raised by the instruction itself (a task switch to a TSS with T set) join
        // its other traps.
        let mut bits = pending | c.dbg.hits.take() | std::mem::take(&mut c.dbg.pending);
        if tf {
            bits |= DR6_BS;
        }
        if c.stop.is_some() || c.reset_pending {
            // HLT or a board stop: the traps are reported when the run resumes (a halted
            // processor takes them once it wakes up). A reset drops them.
            if !c.reset_pending {
                c.dbg.pending = bits;
                c.dbg.shadow = shadow_next;
            }
            return self.after_stop_request();
        }
        if shadow_next {
            c.dbg.shadow = true;
            c.dbg.pending = bits;
            return None;
        }
        if bits != 0 {
            // A code breakpoint on the next instruction is reported with the traps, in the
            // same #DB (as Bochs does; it fires again if the handler returns without RF).
            if c.dbg.active && !c.regs.eflags.contains(Eflags::RF) {
                let lin = c.sregs.seg[SegReg::Cs as usize]
                    .base
                    .wrapping_add(c.regs.eip);
                bits |= c.bp_match(lin, 1, 1 << RW_EXEC);
            }
            return self.raise_debug(io, bits);
        }
        None
    }

    /// Raises an event of the instruction (or of its fetch): its own breakpoint hits are
    /// dropped; those of the delivery's accesses are kept (see [`Core::delivery_hits`]).
    fn raise_event(&mut self, io: &mut dyn PortIo, e: Exception) -> Option<StopReason> {
        self.core.dbg.hits.set(0);
        let stop = self.raise(io, e);
        self.core.delivery_hits();
        stop
    }

    /// Raises #DB for a code breakpoint (before the instruction) or for the traps of the
    /// instruction just retired (EIP already after it): a hardware event, no DPL check.
    fn raise_debug(&mut self, io: &mut dyn PortIo, bits: u32) -> Option<StopReason> {
        let _ = io;
        self.core.commit_debug_event(bits);
        let e = Exception::new(vector::DB, None, EventKind::External);
        self.last_exception = Some(e);
        if self.stop_on_exception {
            return Some(StopReason::Exception(e));
        }
        let c = &mut self.core;
        c.cycles += u64::from(c.model.costs[crate::model::CostClass::Far as usize]);
        c.dbg.hits.set(0);
        let eip = c.regs.eip;
        let stop = match c.deliver(e, eip) {
            Ok(()) => c.stop.take(),
            Err(()) => return Some(StopReason::Shutdown),
        };
        c.delivery_hits();
        stop
    }
}
