//! Segment descriptors and segment-register loads (SDM Vol. 3 §3.4-3.5, §5.5-5.8).
//!
//! Real and virtual-8086 mode loads set base = selector << 4. Protected-mode loads read the
//! descriptor from the GDT or LDT, check type, privilege and presence, set the accessed bit,
//! and fill the descriptor cache. Far JMP/CALL/RET to code segments at the same privilege
//! level and far RET to an outer level are here; far JMP/CALL to call gates, task gates and
//! TSSs continue in `call_gate.rs` and `task.rs`.

use crate::exception::{vector, Exception};
use crate::exec::Core;
use crate::state::{gpr, Eflags, SegAttrs, SegReg, Segment};

/// A raw 8-byte descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Descriptor {
    pub lo: u32,
    pub hi: u32,
}

impl Descriptor {
    pub fn base(self) -> u32 {
        (self.lo >> 16) | ((self.hi & 0xFF) << 16) | (self.hi & 0xFF00_0000)
    }
    /// Byte-granular limit (G scales by 4 KiB, filling the low 12 bits with ones).
    pub fn limit(self) -> u32 {
        let raw = (self.lo & 0xFFFF) | (self.hi & 0xF_0000);
        if self.hi & (1 << 23) != 0 {
            (raw << 12) | 0xFFF
        } else {
            raw
        }
    }
    pub fn attrs(self) -> SegAttrs {
        SegAttrs::from_bits_retain((self.hi >> 8) & 0xF0FF)
    }
    pub fn segment(self, selector: u16) -> Segment {
        Segment {
            selector,
            base: self.base(),
            limit: self.limit(),
            attrs: self.attrs(),
        }
    }
}

/// Error code for a selector-related fault: the selector with RPL bits cleared (SDM §6.13).
pub(crate) fn sel_err(sel: u16) -> u32 {
    u32::from(sel & 0xFFFC)
}

impl Core {
    /// EFLAGS.IOPL.
    #[inline(always)]
    pub(crate) fn iopl(&self) -> u8 {
        ((self.regs.eflags.bits() >> 12) & 3) as u8
    }

    /// Linear address of the descriptor for `sel`, or `None` when its index lies outside
    /// the GDT or LDT limit (or the selector is in the LDT and LDTR is null).
    pub(crate) fn descriptor_addr(&self, sel: u16) -> Option<u32> {
        let index = u32::from(sel & 0xFFF8);
        let (base, limit) = if sel & 4 != 0 {
            let l = &self.sregs.ldtr;
            if l.attrs.contains(SegAttrs::UNUSABLE) || l.selector & 0xFFFC == 0 {
                return None;
            }
            (l.base, l.limit)
        } else {
            (self.sregs.gdtr.base, u32::from(self.sregs.gdtr.limit))
        };
        if index + 7 > limit {
            return None;
        }
        Some(base.wrapping_add(index))
    }

    /// Reads the descriptor for `sel`; `None` if the selector is outside its table (the
    /// caller picks the fault). Page faults on the table are raised as they are.
    pub(crate) fn fetch_descriptor(
        &mut self,
        sel: u16,
    ) -> Result<Option<(Descriptor, u32)>, Exception> {
        let Some(a) = self.descriptor_addr(sel) else {
            return Ok(None);
        };
        let lo = self.read_sys(a, 4)?;
        let hi = self.read_sys(a.wrapping_add(4), 4)?;
        Ok(Some((Descriptor { lo, hi }, a)))
    }

    /// Reads the descriptor for `sel`, or #GP(sel) if outside the table limit.
    pub(crate) fn read_descriptor(&mut self, sel: u16) -> Result<(Descriptor, u32), Exception> {
        self.fetch_descriptor(sel)?
            .ok_or(Exception::gp(sel_err(sel)))
    }

    /// Sets the accessed bit of a code/data descriptor in memory (SDM §3.4.5.1): a write of
    /// the access-rights byte only.
    pub(crate) fn mark_accessed(&mut self, d: &mut Descriptor, addr: u32) -> Result<(), Exception> {
        if d.hi & (1 << 8) == 0 {
            d.hi |= 1 << 8;
            self.write_sys(addr.wrapping_add(5), 1, (d.hi >> 8) & 0xFF)?;
        }
        Ok(())
    }

    /// Checks the stack segment of an inner privilege level taken from the TSS (call gate
    /// or interrupt to an inner level) and returns it with the accessed bit set. Faults:
    /// #TS(sel) for a null, out-of-table or unsuitable selector, #SS(sel) if not present
    /// (SDM CALL "MORE-PRIVILEGE", INT n "INTER-PRIVILEGE-LEVEL-INTERRUPT"); `ext` is the
    /// EXT bit of the error code.
    pub(crate) fn inner_stack_segment(
        &mut self,
        sel: u16,
        dpl: u8,
        ext: u32,
    ) -> Result<Segment, Exception> {
        let ts = |s: u16| Exception::fault_code(vector::TS, sel_err(s) | ext);
        if sel & 0xFFFC == 0 {
            return Err(ts(0));
        }
        let (mut d, addr) = self.fetch_descriptor(sel)?.ok_or(ts(sel))?;
        let a = d.attrs();
        if (sel & 3) as u8 != dpl
            || a.dpl() != dpl
            || !a.contains(SegAttrs::S)
            || a.contains(SegAttrs::CODE)
            || !a.contains(SegAttrs::RW)
        {
            return Err(ts(sel));
        }
        if !a.contains(SegAttrs::P) {
            return Err(Exception::ss(sel_err(sel) | ext));
        }
        self.mark_accessed(&mut d, addr)?;
        Ok(d.segment(sel))
    }

    /// MOV/POP/LxS to DS, ES, FS, GS or SS (SDM MOV, "Operation" for protected mode).
    pub(crate) fn load_data_segment(&mut self, seg: SegReg, sel: u16) -> Result<(), Exception> {
        if seg == SegReg::Cs {
            return Err(Exception::ud());
        }
        if !self.protected() || self.v86() {
            let v86 = self.v86();
            let s = &mut self.sregs.seg[seg as usize];
            // Real mode: only selector and base change (unreal mode keeps the limit).
            s.selector = sel;
            s.base = u32::from(sel) << 4;
            if v86 {
                *s = Segment::real_mode_with(
                    sel,
                    SegAttrs::P
                        | SegAttrs::S
                        | SegAttrs::RW
                        | SegAttrs::ACCESSED
                        | SegAttrs::from_bits_retain(3 << 5),
                );
            }
            self.refresh_segment_fast_paths();
            return Ok(());
        }
        let cpl = self.sregs.cpl;
        let rpl = (sel & 3) as u8;
        if sel & 0xFFFC == 0 {
            if seg == SegReg::Ss {
                return Err(Exception::gp(0));
            }
            // A null selector loads an unusable segment; using it faults later.
            self.sregs.seg[seg as usize] = Segment {
                selector: sel,
                base: 0,
                limit: 0,
                attrs: SegAttrs::UNUSABLE,
            };
            self.refresh_segment_fast_paths();
            return Ok(());
        }
        let (mut d, addr) = self.read_descriptor(sel)?;
        let a = d.attrs();
        let dpl = a.dpl();
        let code = a.contains(SegAttrs::CODE);
        if seg == SegReg::Ss {
            // Writable data segment with RPL = DPL = CPL (SDM MOV: #GP(selector)).
            if rpl != cpl
                || !a.contains(SegAttrs::S)
                || code
                || !a.contains(SegAttrs::RW)
                || dpl != cpl
            {
                return Err(Exception::gp(sel_err(sel)));
            }
            if !a.contains(SegAttrs::P) {
                return Err(Exception::ss(sel_err(sel)));
            }
        } else {
            // Data or readable code; nonconforming needs RPL <= DPL and CPL <= DPL.
            if !a.contains(SegAttrs::S) || (code && !a.contains(SegAttrs::RW)) {
                return Err(Exception::gp(sel_err(sel)));
            }
            let conforming = code && a.contains(SegAttrs::DC);
            if !conforming && (rpl > dpl || cpl > dpl) {
                return Err(Exception::gp(sel_err(sel)));
            }
            if !a.contains(SegAttrs::P) {
                return Err(Exception::fault_code(vector::NP, sel_err(sel)));
            }
        }
        self.mark_accessed(&mut d, addr)?;
        self.sregs.seg[seg as usize] = d.segment(sel);
        self.refresh_segment_fast_paths();
        Ok(())
    }

    /// The descriptor a protected-mode far JMP/CALL names: #GP(0) for a null selector,
    /// #GP(sel) outside the table.
    fn far_target(&mut self, sel: u16) -> Result<(Descriptor, u32), Exception> {
        if sel & 0xFFFC == 0 {
            return Err(Exception::gp(0));
        }
        self.read_descriptor(sel)
    }

    /// Checks a code-segment descriptor for a far JMP/CALL to the same privilege level and
    /// returns the new CS (SDM JMP/CALL "Operation", protected mode, code segment cases).
    fn check_code_target(
        &mut self,
        sel: u16,
        mut d: Descriptor,
        addr: u32,
        off: u32,
    ) -> Result<Segment, Exception> {
        let a = d.attrs();
        let cpl = self.sregs.cpl;
        if !a.contains(SegAttrs::CODE) {
            return Err(Exception::gp(sel_err(sel)));
        }
        let dpl = a.dpl();
        let rpl = (sel & 3) as u8;
        if a.contains(SegAttrs::DC) {
            if dpl > cpl {
                return Err(Exception::gp(sel_err(sel)));
            }
        } else if rpl > cpl || dpl != cpl {
            return Err(Exception::gp(sel_err(sel)));
        }
        if !a.contains(SegAttrs::P) {
            return Err(Exception::fault_code(vector::NP, sel_err(sel)));
        }
        let s = d.segment((sel & 0xFFFC) | u16::from(cpl));
        if off > s.limit {
            return Err(Exception::gp(0));
        }
        self.mark_accessed(&mut d, addr)?;
        Ok(d.segment((sel & 0xFFFC) | u16::from(cpl)))
    }

    pub(crate) fn set_cs(&mut self, s: Segment) {
        self.sregs.seg[SegReg::Cs as usize] = s;
        self.refresh_segment_fast_paths();
    }

    /// Far JMP.
    pub(crate) fn far_jump(&mut self, sel: u16, off: u32, op32: bool) -> Result<(), Exception> {
        let off = if op32 { off } else { off & 0xFFFF };
        if !self.protected() || self.v86() {
            let cs = &self.sregs.seg[SegReg::Cs as usize];
            if off > cs.limit {
                return Err(Exception::gp(0));
            }
            self.set_real_cs(sel);
            self.next_eip = off;
            return Ok(());
        }
        let (d, addr) = self.far_target(sel)?;
        if !d.attrs().contains(SegAttrs::S) {
            // Call gate, task gate or TSS (SDM JMP: CALL-GATE, TASK-GATE, TASK-STATE-SEGMENT).
            return self.far_system_target(sel, d, addr, false);
        }
        let s = self.check_code_target(sel, d, addr, off)?;
        self.set_cs(s);
        self.next_eip = off;
        Ok(())
    }

    fn set_real_cs(&mut self, sel: u16) {
        let cs = &mut self.sregs.seg[SegReg::Cs as usize];
        cs.selector = sel;
        cs.base = u32::from(sel) << 4;
        self.refresh_segment_fast_paths();
    }

    /// Far CALL.
    pub(crate) fn far_call(&mut self, sel: u16, off: u32, op32: bool) -> Result<(), Exception> {
        let size = if op32 { 4 } else { 2 };
        let off = if op32 { off } else { off & 0xFFFF };
        let old_cs = u32::from(self.sregs.seg[SegReg::Cs as usize].selector);
        let ret = self.next_eip;
        let m = self.sp_mask();
        let esp = self.regs.gpr[gpr::ESP];
        if !self.protected() || self.v86() {
            self.probe_write(SegReg::Ss, esp.wrapping_sub(2 * size) & m, 2 * size)?;
            if off > self.sregs.seg[SegReg::Cs as usize].limit {
                return Err(Exception::gp(0));
            }
            self.push(size, old_cs)?;
            self.push(size, ret)?;
            self.set_real_cs(sel);
            self.next_eip = off;
            return Ok(());
        }
        let (d, addr) = self.far_target(sel)?;
        if !d.attrs().contains(SegAttrs::S) {
            return self.far_system_target(sel, d, addr, true);
        }
        // Descriptor checks come before the stack check (SDM CALL: "IF stack not large
        // enough for a 6-byte return address THEN #SS(0)" follows them).
        let s = self.check_code_target(sel, d, addr, off)?;
        self.probe_write(SegReg::Ss, esp.wrapping_sub(2 * size) & m, 2 * size)?;
        self.push(size, old_cs)?;
        self.push(size, ret)?;
        self.set_cs(s);
        self.next_eip = off;
        Ok(())
    }

    /// Far RET (and the CS:EIP part of IRET): same level, or an outer level with the outer
    /// stack popped and data segments that are no longer accessible nulled (SDM RET).
    pub(crate) fn far_return(&mut self, op32: bool, imm: u32) -> Result<(), Exception> {
        let size = if op32 { 4 } else { 2 };
        let m = if op32 { 0xFFFF_FFFF } else { 0xFFFF };
        let off = self.peek(0, size)? & m;
        let sel = self.peek(size, size)? as u16;
        if !self.protected() || self.v86() {
            if off > self.sregs.seg[SegReg::Cs as usize].limit {
                return Err(Exception::gp(0));
            }
            self.set_real_cs(sel);
            self.next_eip = off;
            let sp = self.regs.gpr[gpr::ESP].wrapping_add(2 * size + imm);
            self.set_sp(sp);
            return Ok(());
        }
        let rpl = (sel & 3) as u8;
        if rpl > self.sregs.cpl {
            // Return to an outer privilege level: the outer SS:ESP sit above the parameters
            // and are read after the CS checks (SDM RET, RETURN-TO-OUTER-PRIVILEGE-LEVEL).
            return self.far_return_checked(sel, off, op32, Some((2 * size + imm, imm)));
        }
        let sp = self.regs.gpr[gpr::ESP].wrapping_add(2 * size + imm);
        self.far_return_checked(sel, off, op32, None)?;
        self.set_sp(sp);
        Ok(())
    }

    /// Completes a return to an outer level: loads CS, SS:ESP and nulls data segment
    /// registers the new CPL may not use (SDM RET / IRET "RETURN-TO-OUTER-PRIVILEGE-LEVEL").
    pub(crate) fn return_to_outer(
        &mut self,
        cs: Segment,
        eip: u32,
        ss_sel: u16,
        esp: u32,
        op32: bool,
    ) -> Result<(), Exception> {
        let new_cpl = (cs.selector & 3) as u8;
        let old_cpl = self.sregs.cpl;
        let old_cs = self.sregs.seg[SegReg::Cs as usize];
        self.sregs.cpl = new_cpl;
        if let Err(e) = self.load_data_segment(SegReg::Ss, ss_sel) {
            self.sregs.cpl = old_cpl;
            return Err(e);
        }
        self.sregs.seg[SegReg::Cs as usize] = cs;
        let _ = old_cs;
        if op32 {
            self.regs.gpr[gpr::ESP] = esp;
        } else {
            self.set_sp(esp);
        }
        for s in [SegReg::Es, SegReg::Ds, SegReg::Fs, SegReg::Gs] {
            let r = self.sregs.seg[s as usize];
            let a = r.attrs;
            let data_or_nc = !a.contains(SegAttrs::CODE) || !a.contains(SegAttrs::DC);
            if !a.contains(SegAttrs::UNUSABLE) && data_or_nc && a.dpl() < new_cpl {
                self.sregs.seg[s as usize] = Segment {
                    selector: 0,
                    base: r.base,
                    limit: r.limit,
                    attrs: SegAttrs::UNUSABLE,
                };
            }
        }
        self.next_eip = eip;
        self.refresh_segment_fast_paths();
        let _ = Eflags::IF;
        Ok(())
    }

    /// Loads CS for an interrupt/exception handler (privilege checks are done by the caller).
    pub(crate) fn load_handler_cs(&mut self, sel: u16) -> Result<(Segment, u8), Exception> {
        if sel & 0xFFFC == 0 {
            return Err(Exception::gp(0));
        }
        let (mut d, addr) = self.read_descriptor(sel)?;
        let a = d.attrs();
        if !a.contains(SegAttrs::S) || !a.contains(SegAttrs::CODE) || a.dpl() > self.sregs.cpl {
            return Err(Exception::gp(sel_err(sel)));
        }
        if !a.contains(SegAttrs::P) {
            return Err(Exception::fault_code(vector::NP, sel_err(sel)));
        }
        self.mark_accessed(&mut d, addr)?;
        let new_cpl = if a.contains(SegAttrs::DC) {
            self.sregs.cpl
        } else {
            a.dpl()
        };
        Ok((d.segment((sel & 0xFFFC) | u16::from(new_cpl)), new_cpl))
    }
}
