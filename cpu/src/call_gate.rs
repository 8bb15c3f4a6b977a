//! Far JMP and CALL to system descriptors: call gates (SDM Vol. 3 §5.8.3-5.8.5, Vol. 2
//! JMP/CALL "CALL-GATE", "MORE-PRIVILEGE", "SAME-PRIVILEGE"), and the dispatch of task gates
//! and TSS descriptors to `task.rs`.
//!
//! A CALL through a call gate to a more privileged nonconforming code segment switches to the
//! inner stack named in the current TSS and copies the gate's parameter count of doublewords
//! (32-bit gate) or words (16-bit gate) from the caller's stack. The far RET back to the outer
//! level is `Core::far_return` in `segment.rs`.

use crate::exception::{vector, Exception};
use crate::exec::Core;
use crate::segment::{sel_err, Descriptor};
use crate::state::{gpr, SegAttrs, SegReg};

/// The most parameters a call gate can copy (5-bit count).
const MAX_PARAMS: usize = 31;

impl Core {
    /// A far JMP/CALL whose selector names a system descriptor (S = 0).
    pub(crate) fn far_system_target(
        &mut self,
        sel: u16,
        d: Descriptor,
        addr: u32,
        call: bool,
    ) -> Result<(), Exception> {
        match d.attrs().seg_type() {
            0x4 | 0xC => self.through_call_gate(sel, d, call),
            0x5 => self.far_task_gate(sel, d, call),
            0x1 | 0x9 => self.far_tss(sel, d, addr, call),
            // LDT descriptors, busy TSSs, interrupt/trap gates and reserved types.
            _ => Err(Exception::gp(sel_err(sel))),
        }
    }

    /// JMP or CALL through the call gate `gate` (selected by `sel`).
    fn through_call_gate(
        &mut self,
        sel: u16,
        gate: Descriptor,
        call: bool,
    ) -> Result<(), Exception> {
        let cpl = self.sregs.cpl;
        let ga = gate.attrs();
        let gate32 = ga.seg_type() == 0xC;
        if ga.dpl() < cpl || ga.dpl() < (sel & 3) as u8 {
            return Err(Exception::gp(sel_err(sel)));
        }
        if !ga.contains(SegAttrs::P) {
            return Err(Exception::fault_code(vector::NP, sel_err(sel)));
        }
        let cs_sel = (gate.lo >> 16) as u16;
        let off = if gate32 {
            (gate.lo & 0xFFFF) | (gate.hi & 0xFFFF_0000)
        } else {
            gate.lo & 0xFFFF
        };
        if cs_sel & 0xFFFC == 0 {
            return Err(Exception::gp(0));
        }
        let (mut cd, caddr) = self
            .fetch_descriptor(cs_sel)?
            .ok_or(Exception::gp(sel_err(cs_sel)))?;
        let ca = cd.attrs();
        let conforming = ca.contains(SegAttrs::DC);
        let dpl = ca.dpl();
        let bad_type = !ca.contains(SegAttrs::S) || !ca.contains(SegAttrs::CODE);
        // CALL: any code segment with DPL <= CPL. JMP: no privilege change, so a
        // nonconforming target needs DPL = CPL.
        let bad_dpl = if call {
            dpl > cpl
        } else {
            (conforming && dpl > cpl) || (!conforming && dpl != cpl)
        };
        if bad_type || bad_dpl {
            return Err(Exception::gp(sel_err(cs_sel)));
        }
        if !ca.contains(SegAttrs::P) {
            return Err(Exception::fault_code(vector::NP, sel_err(cs_sel)));
        }
        let size = if gate32 { 4 } else { 2 };
        if call && !conforming && dpl < cpl {
            let count = (gate.hi & 0x1F) as usize;
            let saved = (self.regs, self.sregs);
            let r = self.call_gate_inner(cd, caddr, cs_sel, off, size, count);
            if r.is_err() {
                // Nothing of the transfer is visible after a fault (stack or CS checks).
                (self.regs, self.sregs) = saved;
                self.refresh_segment_fast_paths();
            }
            return r;
        }
        // SAME-PRIVILEGE: CS.RPL becomes CPL.
        let old_cs = u32::from(self.sregs.seg[SegReg::Cs as usize].selector);
        let ret = self.next_eip;
        if call {
            let m = self.sp_mask();
            let esp = self.regs.gpr[gpr::ESP];
            self.probe_write(SegReg::Ss, esp.wrapping_sub(2 * size) & m, 2 * size)?;
        }
        if off > cd.limit() {
            return Err(Exception::gp(0));
        }
        self.mark_accessed(&mut cd, caddr)?;
        if call {
            self.push(size, old_cs)?;
            self.push(size, ret)?;
        }
        self.set_cs(cd.segment((cs_sel & 0xFFFC) | u16::from(cpl)));
        self.next_eip = off;
        Ok(())
    }

    /// CALL through a gate to an inner privilege level: new SS:ESP from the TSS, then
    /// push the old SS:ESP, the copied parameters and the return CS:EIP (SDM CALL
    /// "MORE-PRIVILEGE"; §5.8.5 Figure 5-13). The caller undoes everything on a fault.
    fn call_gate_inner(
        &mut self,
        mut cd: Descriptor,
        caddr: u32,
        cs_sel: u16,
        off: u32,
        size: u32,
        count: usize,
    ) -> Result<(), Exception> {
        let new_cpl = cd.attrs().dpl();
        let (ss_sel, new_esp) = self.tss_stack(new_cpl, 0)?;
        let ss = self.inner_stack_segment(ss_sel, new_cpl, 0)?;
        // The parameters are read from the caller's stack before anything changes.
        let mut params = [0u32; MAX_PARAMS];
        for (k, p) in params.iter_mut().enumerate().take(count) {
            *p = self.peek(k as u32 * size, size)?;
        }
        let old_ss = u32::from(self.sregs.seg[SegReg::Ss as usize].selector);
        let old_esp = self.regs.gpr[gpr::ESP];
        let old_cs = u32::from(self.sregs.seg[SegReg::Cs as usize].selector);
        let ret = self.next_eip;
        self.sregs.cpl = new_cpl;
        self.sregs.seg[SegReg::Ss as usize] = ss;
        self.regs.gpr[gpr::ESP] = new_esp;
        if !self.stack32() {
            self.regs.gpr[gpr::ESP] &= 0xFFFF;
        }
        self.refresh_segment_fast_paths();
        // Room for the whole frame on the new stack, else #SS(new SS selector).
        let frame = (4 + count as u32) * size;
        let top = self.regs.gpr[gpr::ESP].wrapping_sub(frame) & self.sp_mask();
        self.seg_linear(SegReg::Ss, top, frame, true)
            .map_err(|_| Exception::ss(sel_err(ss_sel)))?;
        self.probe_write(SegReg::Ss, top, frame)?;
        if off > cd.limit() {
            return Err(Exception::gp(0));
        }
        self.mark_accessed(&mut cd, caddr)?;
        self.push(size, old_ss)?;
        self.push(size, old_esp)?;
        for &p in params[..count].iter().rev() {
            self.push(size, p)?;
        }
        self.push(size, old_cs)?;
        self.push(size, ret)?;
        self.set_cs(cd.segment((cs_sel & 0xFFFC) | u16::from(new_cpl)));
        self.next_eip = off;
        Ok(())
    }
}
