//! Exception and interrupt delivery (SDM Vol. 3 ch. 6) and IRET.
//!
//! Real mode: through the IVT (§20.1.4). Protected mode: through IDT interrupt and trap
//! gates, 16- and 32-bit, at the same privilege level or with a stack switch to an inner
//! level from the TSS (§6.12.1), including from virtual-8086 mode to ring 0 (§20.3.1).
//! Faults during delivery combine into #DF per Table 6-5; a fault while delivering #DF is a
//! triple fault (shutdown). Task gates switch tasks (`task.rs`).
//! IRET covers real mode, virtual-8086 mode (IOPL 3 here; VME at IOPL < 3 in `v86.rs`),
//! protected mode to the same level, an outer level or virtual-8086 mode, and (NT = 1) a
//! return to the previous task.

use crate::exception::{vector, EventKind, Exception, ExceptionClass};
use crate::exec::{Core, StopReason};
use crate::state::{gpr, Eflags, SegAttrs, SegReg, Segment};

/// The deepest chain of faults-while-delivering before giving up with a shutdown.
const MAX_NESTED_FAULTS: usize = 4;

/// Deliveries in a row without an instruction retiring after which the run ends with
/// [`StopReason::NoProgress`]: such a guest can never make progress again (a handler that
/// faults on its first instruction, a breakpoint on the #DB handler), and without this
/// bound no instruction limit would ever end the run.
pub const STALL_LIMIT: u32 = 1_000_000;

impl Core {
    /// Counts a delivery; ends the run after [`STALL_LIMIT`] of them with no instruction
    /// retired in between.
    fn note_delivery(&mut self) {
        if self.instructions != self.stall_mark {
            self.stall_mark = self.instructions;
            self.stalled = 0;
        }
        self.stalled += 1;
        if self.stalled >= STALL_LIMIT {
            self.stalled = 0;
            self.stop = Some(StopReason::NoProgress);
        }
    }

    /// Delivers `e`, raised by the instruction at `insn_eip`. `Err(())` means a triple
    /// fault: the processor shuts down.
    pub(crate) fn deliver(&mut self, e: Exception, insn_eip: u32) -> Result<(), ()> {
        self.note_delivery();
        let mut cur = e;
        for _ in 0..MAX_NESTED_FAULTS {
            let regs = self.regs;
            let sregs = self.sregs;
            let next_eip = self.next_eip;
            self.task_committed = false;
            match self.deliver_once(cur) {
                Ok(()) => {
                    self.refresh_segment_fast_paths();
                    return Ok(());
                }
                Err(second) => {
                    // Delivery is all or nothing, except for a task switch that passed its
                    // commit point: the fault is then raised in the new task (SDM §7.3).
                    // CR2 keeps the address of a page fault raised while delivering.
                    let committed = self.task_committed;
                    if !committed {
                        let cr2 = self.sregs.cr2;
                        self.regs = regs;
                        self.sregs = sregs;
                        self.sregs.cr2 = cr2;
                        self.next_eip = next_eip;
                    }
                    self.task_committed = false;
                    self.refresh_segment_fast_paths();
                    if cur.vector == vector::DF {
                        return Err(());
                    }
                    // EXT (§6.13): set when the event being delivered was not a software
                    // interrupt (INT n, INT3, INTO).
                    let ext = matches!(cur.kind, EventKind::Fault | EventKind::External);
                    use ExceptionClass::*;
                    let df = matches!(
                        (cur.class(), second.class()),
                        (Contributory, Contributory)
                            | (PageFault, Contributory)
                            | (PageFault, PageFault)
                    );
                    // A fault while delivering INT n / INT3 / INTO (a gate DPL below CPL,
                    // a bad gate) is a fault of that instruction: its EIP is saved (SDM
                    // INT n "Operation"; Bochs agrees). After a task switch's commit point
                    // the fault belongs to the new task, whose EIP stays.
                    if !ext && !committed {
                        self.regs.eip = insn_eip;
                    }
                    let second = Exception {
                        kind: EventKind::Fault,
                        ..second
                    };
                    cur = if df {
                        Exception::fault_code(vector::DF, 0)
                    } else {
                        second
                    };
                    // A #PF error code has no EXT bit (bit 0 is P).
                    if ext && cur.vector != vector::PF {
                        if let Some(code) = cur.error_code() {
                            cur.set_error_code(Some(code | 1));
                        }
                    }
                    if cur.vector == vector::DF {
                        cur.set_error_code(Some(0));
                    }
                }
            }
        }
        Err(())
    }

    fn deliver_once(&mut self, e: Exception) -> Result<(), Exception> {
        // The saved EIP: traps and INT n return after the instruction (already in regs.eip
        // for those: see Cpu::raise).
        if !self.protected() {
            return self.deliver_real(e);
        }
        self.deliver_protected(e)
    }

    /// Real-mode delivery through the IVT: push FLAGS, CS, IP; clear IF, TF, AC.
    fn deliver_real(&mut self, e: Exception) -> Result<(), Exception> {
        let v = u32::from(e.vector);
        if v * 4 + 3 > u32::from(self.sregs.idtr.limit) {
            return Err(Exception::gp(0));
        }
        let ivt = self.sregs.idtr.base.wrapping_add(v * 4);
        let ip = self.read_sys(ivt, 2)?;
        let cs = self.read_sys(ivt.wrapping_add(2), 2)? as u16;
        let flags = self.regs.eflags.bits();
        let old_cs = u32::from(self.sregs.seg[SegReg::Cs as usize].selector);
        let eip = self.regs.eip;
        self.push(2, flags)?;
        self.push(2, old_cs)?;
        self.push(2, eip)?;
        self.regs
            .eflags
            .remove(Eflags::IF | Eflags::TF | Eflags::AC | Eflags::RF);
        let c = &mut self.sregs.seg[SegReg::Cs as usize];
        c.selector = cs;
        c.base = u32::from(cs) << 4;
        self.regs.eip = ip;
        Ok(())
    }

    fn deliver_protected(&mut self, e: Exception) -> Result<(), Exception> {
        let ext = u32::from(matches!(e.kind, EventKind::Fault | EventKind::External));
        let v = u32::from(e.vector);
        let idt_err = v * 8 + 2 + ext;
        if v * 8 + 7 > u32::from(self.sregs.idtr.limit) {
            return Err(Exception::gp(idt_err));
        }
        let at = self.sregs.idtr.base.wrapping_add(v * 8);
        let lo = self.read_sys(at, 4)?;
        let hi = self.read_sys(at.wrapping_add(4), 4)?;
        let gate_type = (hi >> 8) & 0x1F;
        let gate32 = match gate_type {
            0x0E | 0x0F => true,
            // 16-bit gates; a task gate (5) has no offset and switches tasks below.
            0x05..=0x07 => false,
            _ => return Err(Exception::gp(idt_err)),
        };
        let trap_gate = gate_type & 1 == 1;
        let gate_dpl = ((hi >> 13) & 3) as u8;
        // Software interrupts check the gate DPL against CPL (§6.12.1.1).
        if matches!(e.kind, EventKind::SoftwareInt | EventKind::SoftwareTrap)
            && gate_dpl < self.sregs.cpl
        {
            return Err(Exception::gp(idt_err));
        }
        if hi & (1 << 15) == 0 {
            return Err(Exception::fault_code(vector::NP, idt_err));
        }
        if gate_type == 0x05 {
            return self.interrupt_task_gate(lo, e.error_code(), ext);
        }
        let sel = (lo >> 16) as u16;
        let offset = if gate32 {
            (lo & 0xFFFF) | (hi & 0xFFFF_0000)
        } else {
            lo & 0xFFFF
        };
        let (cs, new_cpl) = self
            .load_handler_cs(sel)
            .map_err(|x| Exception::new(x.vector, x.error_code().map(|c| c | ext), x.kind))?;
        if offset > cs.limit {
            return Err(Exception::gp(ext));
        }
        let size = if gate32 { 4 } else { 2 };
        let old_flags = self.regs.eflags;
        let old_cs = u32::from(self.sregs.seg[SegReg::Cs as usize].selector);
        let old_eip = self.regs.eip;
        let from_v86 = self.v86();
        if from_v86 && new_cpl != 0 {
            return Err(Exception::gp(u32::from(sel & 0xFFFC) + ext));
        }
        if new_cpl < self.sregs.cpl || from_v86 {
            // Inner-level stack from the TSS (§7.2.1 layout).
            let (ss_sel, esp) = self.tss_stack(new_cpl, ext)?;
            let old_ss = u32::from(self.sregs.seg[SegReg::Ss as usize].selector);
            let old_esp = self.regs.gpr[gpr::ESP];
            let saved_data: [u32; 4] = [SegReg::Gs, SegReg::Fs, SegReg::Ds, SegReg::Es]
                .map(|s| u32::from(self.sregs.seg[s as usize].selector));
            let ss = self.inner_stack_segment(ss_sel, new_cpl, ext)?;
            self.sregs.cpl = new_cpl;
            self.regs.eflags.remove(Eflags::VM);
            self.sregs.seg[SegReg::Ss as usize] = ss;
            self.refresh_segment_fast_paths();
            self.regs.gpr[gpr::ESP] = esp;
            if !self.stack32() {
                self.regs.gpr[gpr::ESP] &= 0xFFFF;
            }
            // The whole frame must fit on the new stack before anything is pushed: else
            // #SS(new SS selector + EXT) (SDM Vol. 3 §6.12.1, INT n
            // "INTER-PRIVILEGE-LEVEL-INTERRUPT": "IF new stack does not have room").
            let words = 5 + u32::from(e.error_code().is_some()) + if from_v86 { 4 } else { 0 };
            self.check_stack_room(words, size)
                .map_err(|_| Exception::fault_code(vector::SS, u32::from(ss_sel & 0xFFFC) + ext))?;
            if from_v86 {
                for s in saved_data {
                    self.push(size, s)?;
                }
            }
            self.push(size, old_ss)?;
            self.push(size, old_esp)?;
            if from_v86 {
                for s in [SegReg::Es, SegReg::Ds, SegReg::Fs, SegReg::Gs] {
                    self.sregs.seg[s as usize] = Segment {
                        selector: 0,
                        base: 0,
                        limit: 0,
                        attrs: SegAttrs::UNUSABLE,
                    };
                }
            }
        }
        // RF is pushed as 1 for fault-class exceptions, so that the restarted instruction
        // does not hit its code breakpoint again (SDM Vol. 3 §17.3.1.1); #DB for a code
        // breakpoint is raised as a hardware event and pushes RF as it is (0).
        let pushed_flags = if e.kind == EventKind::Fault && e.vector != vector::DF {
            old_flags | Eflags::RF
        } else {
            old_flags
        };
        self.push(size, pushed_flags.bits())?;
        self.push(size, old_cs)?;
        self.push(size, old_eip)?;
        if let Some(code) = e.error_code() {
            self.push(size, code)?;
        }
        self.sregs.cpl = new_cpl;
        self.sregs.seg[SegReg::Cs as usize] = cs;
        self.regs.eip = offset;
        self.regs
            .eflags
            .remove(Eflags::TF | Eflags::NT | Eflags::RF | Eflags::VM);
        if !trap_gate {
            self.regs.eflags.remove(Eflags::IF);
        }
        Ok(())
    }

    /// SS:ESP for privilege level `cpl` from the current TSS (32- or 16-bit): #TS(TSS
    /// selector) if the fields lie beyond the TSS limit; page faults on the TSS are raised
    /// as such.
    pub(crate) fn tss_stack(&mut self, cpl: u8, ext: u32) -> Result<(u16, u32), Exception> {
        let tr = self.sregs.tr;
        let tss32 = tr.attrs.seg_type() & 8 != 0;
        let c = u32::from(cpl);
        let (esp_off, ss_off, esp_size) = if tss32 {
            (4 + 8 * c, 8 + 8 * c, 4)
        } else {
            (2 + 4 * c, 4 + 4 * c, 2)
        };
        if ss_off + 1 > tr.limit {
            return Err(Exception::fault_code(
                vector::TS,
                u32::from(tr.selector & 0xFFFC) | ext,
            ));
        }
        let esp = self.read_sys(tr.base.wrapping_add(esp_off), esp_size)?;
        let ss = self.read_sys(tr.base.wrapping_add(ss_off), 2)? as u16;
        Ok((ss, esp))
    }

    /// IRET / IRETD (SDM IRET "Operation"): real mode, virtual-8086 mode (IOPL 3), and
    /// protected mode to the same level, an outer level, or virtual-8086 mode.
    pub(crate) fn interrupt_return(&mut self, op32: bool) -> Result<(), Exception> {
        let size = if op32 { 4 } else { 2 };
        if !self.protected() || self.v86() {
            if self.v86() && self.iopl() < 3 {
                return self.v86_iret(op32);
            }
            let eip = self.peek(0, size)?;
            let cs = self.peek(size, size)? as u16;
            let fl = self.peek(2 * size, size)?;
            let eip = if op32 { eip } else { eip & 0xFFFF };
            if eip > self.sregs.seg[SegReg::Cs as usize].limit {
                return Err(Exception::gp(0));
            }
            let sp = self.regs.gpr[gpr::ESP].wrapping_add(3 * size);
            self.set_sp(sp);
            // Real mode: every flag but VM/VIP/VIF; v86: IOPL is also kept.
            let mut keep = Eflags::VM | Eflags::VIP | Eflags::VIF;
            if self.v86() {
                keep |= Eflags::IOPL;
            }
            let writable = if op32 {
                Eflags::WRITABLE.bits()
            } else {
                0xFFFF & Eflags::WRITABLE.bits()
            };
            let change = writable & !keep.bits();
            let e = self.regs.eflags.bits();
            self.regs.eflags =
                Eflags::from_bits_retain((e & !change) | (fl & change)) | Eflags::FIXED1;
            let c = &mut self.sregs.seg[SegReg::Cs as usize];
            c.selector = cs;
            c.base = u32::from(cs) << 4;
            self.refresh_segment_fast_paths();
            self.next_eip = eip;
            return Ok(());
        }
        if self.regs.eflags.contains(Eflags::NT) {
            // Return from a nested task (SDM IRET "TASK-RETURN").
            return self.task_return();
        }
        let eip = self.peek(0, size)?;
        let cs_sel = self.peek(size, size)? as u16;
        let fl = self.peek(2 * size, size)?;
        let cpl = self.sregs.cpl;
        if op32 && fl & Eflags::VM.bits() != 0 && cpl == 0 {
            return self.iret_to_v86(eip, cs_sel, fl);
        }
        // Flags the new EFLAGS may change (§ IRET: IOPL only at CPL 0, IF when CPL <= IOPL).
        let mut change = Eflags::WRITABLE.difference(Eflags::VM);
        if cpl > 0 {
            change.remove(Eflags::IOPL | Eflags::VIF | Eflags::VIP);
        }
        if cpl > self.iopl() {
            change.remove(Eflags::IF);
        }
        let mut change = change.bits();
        if !op32 {
            change &= 0xFFFF;
        }
        let old_flags = self.regs.eflags;
        let old_sp = self.regs.gpr[gpr::ESP];
        // The CS:EIP part has the same checks as a far RET (it pops from ESP + 0).
        let fl_saved = fl;
        let r = (|| {
            let rpl = (cs_sel & 3) as u8;
            if rpl > cpl {
                self.far_return_checked(cs_sel, eip, op32, Some((3 * size, 0)))?;
            } else {
                self.far_return_checked(cs_sel, eip, op32, None)?;
                let sp = old_sp.wrapping_add(3 * size);
                self.set_sp(sp);
            }
            Ok(())
        })();
        if let Err(e) = r {
            self.regs.eflags = old_flags;
            return Err(e);
        }
        let e = old_flags.bits();
        self.regs.eflags =
            Eflags::from_bits_retain((e & !change) | (fl_saved & change)) | Eflags::FIXED1;
        Ok(())
    }

    /// The CS checks shared by far RET and IRET, then the transfer. For a return to an outer
    /// level, `outer` = (depth of the outer ESP on the stack, bytes to add to it): the outer
    /// SS:ESP are read only after the CS checks passed (SDM RET and IRET "Operation").
    pub(crate) fn far_return_checked(
        &mut self,
        sel: u16,
        eip: u32,
        op32: bool,
        outer: Option<(u32, u32)>,
    ) -> Result<(), Exception> {
        let err = |s: u16| Exception::gp(u32::from(s & 0xFFFC));
        if sel & 0xFFFC == 0 {
            return Err(Exception::gp(0));
        }
        let rpl = (sel & 3) as u8;
        if rpl < self.sregs.cpl {
            return Err(err(sel));
        }
        let (mut d, addr) = self.read_descriptor(sel)?;
        let a = d.attrs();
        if !a.contains(SegAttrs::S) || !a.contains(SegAttrs::CODE) {
            return Err(err(sel));
        }
        let conforming = a.contains(SegAttrs::DC);
        if (conforming && a.dpl() > rpl) || (!conforming && a.dpl() != rpl) {
            return Err(err(sel));
        }
        if !a.contains(SegAttrs::P) {
            return Err(Exception::fault_code(vector::NP, u32::from(sel & 0xFFFC)));
        }
        let eip = if op32 { eip } else { eip & 0xFFFF };
        if eip > d.limit() {
            return Err(Exception::gp(0));
        }
        self.mark_accessed(&mut d, addr)?;
        let cs = d.segment(sel);
        match outer {
            None => {
                self.sregs.seg[SegReg::Cs as usize] = cs;
                self.refresh_segment_fast_paths();
                self.next_eip = eip;
                Ok(())
            }
            Some((depth, add)) => {
                let size = if op32 { 4 } else { 2 };
                let esp = self.peek(depth, size)?.wrapping_add(add);
                let ss = self.peek(depth + size, size)? as u16;
                self.return_to_outer(cs, eip, ss, esp, op32)
            }
        }
    }

    /// IRETD from CPL 0 to virtual-8086 mode (§20.3.1): pops EIP, CS, EFLAGS, ESP, SS, ES,
    /// DS, FS, GS; CPL becomes 3. An EIP beyond the 64-KiB virtual-8086 CS limit is #GP(0)
    /// (SDM IRET, RETURN-TO-VIRTUAL-8086-MODE), with nothing changed.
    fn iret_to_v86(&mut self, eip: u32, cs: u16, fl: u32) -> Result<(), Exception> {
        if eip > 0xFFFF {
            return Err(Exception::gp(0));
        }
        let mut vals = [0u32; 6];
        for (k, v) in vals.iter_mut().enumerate() {
            *v = self.peek(12 + 4 * k as u32, 4)?;
        }
        let [esp, ss, es, ds, fs, gs] = vals;
        self.regs.eflags = Eflags::from_bits_retain((fl & Eflags::WRITABLE.bits()) | 2);
        let v86 = |sel: u32| Core::v86_segment(sel as u16, false);
        self.sregs.seg = [
            v86(es),
            Core::v86_segment(cs, true),
            v86(ss),
            v86(ds),
            v86(fs),
            v86(gs),
        ];
        self.sregs.cpl = 3;
        self.regs.gpr[gpr::ESP] = esp;
        self.next_eip = eip & 0xFFFF;
        self.refresh_segment_fast_paths();
        Ok(())
    }
}
