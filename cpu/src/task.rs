//! Task switching (SDM Vol. 3 ch. 7): JMP/CALL to a TSS descriptor or task gate, INT n,
//! exceptions and interrupts through an IDT task gate, and IRET with EFLAGS.NT = 1.
//!
//! The switch follows §7.3: the new TSS is checked (Table 7-1, first rows), the pages of
//! both TSSs are checked, the old task's dynamic state is saved, busy bits, the back link and
//! NT are updated (Table 7-2), then the processor commits: TR, CR0.TS, the general registers,
//! EFLAGS and EIP, the selectors, CR3 and LDTR of the new task are loaded, and only then are
//! the new segment descriptors qualified. A fault after the commit point is raised in the
//! new task's context (`Core::task_committed` tells interrupt delivery not to roll back).
//!
//! The debug side (L0-L3 cleared, the T flag's #DB) is `Core::debug_task_switch`
//! (`exec/debug.rs`). Not modelled: the I/O map base (read by `exec/io.rs` when needed).

use crate::exception::{vector, Exception};
use crate::exec::Core;
use crate::segment::{sel_err, Descriptor};
use crate::state::{Cr0, Eflags, SegAttrs, SegReg, Segment};
use vtx32_mmu::paging::AccessKind;

/// What started a task switch; decides busy bits, NT and the back link (SDM Table 7-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskSource {
    Jmp,
    Call,
    /// INT n, an exception or an external interrupt through a task gate.
    Int,
    Iret,
}

/// TSS descriptor types (SDM Table 3-2).
const TSS16_AVAIL: u8 = 0x1;
const TSS16_BUSY: u8 = 0x3;
const TSS32_AVAIL: u8 = 0x9;
const TSS32_BUSY: u8 = 0xB;

/// The dynamic state of a task read from its TSS (§7.2.1, Figures 7-2 and 7-11).
struct TaskImage {
    cr3: u32,
    eip: u32,
    eflags: u32,
    gpr: [u32; 8],
    /// ES, CS, SS, DS, FS, GS.
    seg: [u16; 6],
    ldt: u16,
}

/// Offsets of the dynamic fields in a 32- and a 16-bit TSS: EIP, EFLAGS, the first general
/// register, the first segment selector, the LDT selector; and the field width.
struct Layout {
    eip: u32,
    eflags: u32,
    gpr: u32,
    seg: u32,
    ldt: u32,
    width: u32,
    /// Smallest valid limit (§7.2.2: 67H for a 32-bit TSS, 2BH for a 16-bit one).
    min_limit: u32,
}

const LAYOUT32: Layout = Layout {
    eip: 0x20,
    eflags: 0x24,
    gpr: 0x28,
    seg: 0x48,
    ldt: 0x60,
    width: 4,
    min_limit: 0x67,
};
const LAYOUT16: Layout = Layout {
    eip: 0x0E,
    eflags: 0x10,
    gpr: 0x12,
    seg: 0x22,
    ldt: 0x2A,
    width: 2,
    min_limit: 0x2B,
};

fn layout(tss32: bool) -> &'static Layout {
    if tss32 {
        &LAYOUT32
    } else {
        &LAYOUT16
    }
}

impl Core {
    /// Far JMP/CALL to a task gate in the GDT or LDT (SDM JMP/CALL "TASK-GATE").
    pub(crate) fn far_task_gate(
        &mut self,
        sel: u16,
        gate: Descriptor,
        call: bool,
    ) -> Result<(), Exception> {
        let a = gate.attrs();
        if a.dpl() < self.sregs.cpl || a.dpl() < (sel & 3) as u8 {
            return Err(Exception::gp(sel_err(sel)));
        }
        if !a.contains(SegAttrs::P) {
            return Err(Exception::fault_code(vector::NP, sel_err(sel)));
        }
        let tss_sel = (gate.lo >> 16) as u16;
        let (d, addr) = self.available_tss(tss_sel, 0)?;
        let src = if call {
            TaskSource::Call
        } else {
            TaskSource::Jmp
        };
        let eip = self.next_eip;
        self.switch_tasks(tss_sel, d, addr, src, eip, None, 0)
    }

    /// Far JMP/CALL to an available TSS descriptor (SDM JMP/CALL "TASK-STATE-SEGMENT").
    pub(crate) fn far_tss(
        &mut self,
        sel: u16,
        d: Descriptor,
        addr: u32,
        call: bool,
    ) -> Result<(), Exception> {
        let a = d.attrs();
        // A TSS descriptor is only valid in the GDT (Table 7-1, first row).
        if a.dpl() < self.sregs.cpl || a.dpl() < (sel & 3) as u8 || sel & 4 != 0 {
            return Err(Exception::gp(sel_err(sel)));
        }
        if !a.contains(SegAttrs::P) {
            return Err(Exception::fault_code(vector::NP, sel_err(sel)));
        }
        let src = if call {
            TaskSource::Call
        } else {
            TaskSource::Jmp
        };
        let eip = self.next_eip;
        self.switch_tasks(sel, d, addr, src, eip, None, 0)
    }

    /// An interrupt or exception through an IDT task gate whose low doubleword is
    /// `gate_lo` (SDM INT n "TASK-GATE"; §6.12.2). The error code of an exception that has one
    /// is pushed on the new task's stack; `ext` is the EXT bit for error codes.
    pub(crate) fn interrupt_task_gate(
        &mut self,
        gate_lo: u32,
        error_code: Option<u32>,
        ext: u32,
    ) -> Result<(), Exception> {
        let tss_sel = (gate_lo >> 16) as u16;
        let (d, addr) = self.available_tss(tss_sel, ext)?;
        let eip = self.regs.eip;
        self.switch_tasks(tss_sel, d, addr, TaskSource::Int, eip, error_code, ext)
    }

    /// IRET with NT = 1: return to the task in the current TSS's back link (SDM IRET
    /// "TASK-RETURN").
    pub(crate) fn task_return(&mut self) -> Result<(), Exception> {
        let tr = self.sregs.tr;
        let link = self.read_sys(tr.base, 2)? as u16;
        let ts = Exception::fault_code(vector::TS, sel_err(link));
        if link & 4 != 0 {
            return Err(ts);
        }
        let (d, addr) = self.fetch_descriptor(link)?.ok_or(ts)?;
        let a = d.attrs();
        let busy = !a.contains(SegAttrs::S) && matches!(a.seg_type(), TSS16_BUSY | TSS32_BUSY);
        if link & 0xFFFC == 0 || !busy {
            return Err(ts);
        }
        if !a.contains(SegAttrs::P) {
            return Err(Exception::fault_code(vector::NP, sel_err(link)));
        }
        let eip = self.next_eip;
        self.switch_tasks(link, d, addr, TaskSource::Iret, eip, None, 0)
    }

    /// The descriptor of the available TSS `sel` names through a task gate: #GP(sel) if it
    /// is in the LDT, outside the GDT, not an available TSS; #NP(sel) if not present.
    fn available_tss(&mut self, sel: u16, ext: u32) -> Result<(Descriptor, u32), Exception> {
        let gp = Exception::gp(sel_err(sel) | ext);
        if sel & 4 != 0 || sel & 0xFFFC == 0 {
            return Err(gp);
        }
        let (d, addr) = self.fetch_descriptor(sel)?.ok_or(gp)?;
        let a = d.attrs();
        if a.contains(SegAttrs::S) || !matches!(a.seg_type(), TSS16_AVAIL | TSS32_AVAIL) {
            return Err(gp);
        }
        if !a.contains(SegAttrs::P) {
            return Err(Exception::fault_code(vector::NP, sel_err(sel) | ext));
        }
        Ok((d, addr))
    }

    /// Translates `lin` as a supervisor access (a TSS page check before the commit point).
    fn probe_sys(&mut self, lin: u32, write: bool) -> Result<(), Exception> {
        let cpl = self.sregs.cpl;
        self.sregs.cpl = 0;
        let kind = if write {
            AccessKind::Write
        } else {
            AccessKind::Read
        };
        let r = self.translate(lin, kind).map(|_| ());
        self.sregs.cpl = cpl;
        r
    }

    /// Sets or clears the busy bit (type bit 1) of the TSS descriptor at `addr`.
    fn set_busy(&mut self, addr: u32, busy: bool) -> Result<(), Exception> {
        let b = self.read_sys(addr.wrapping_add(5), 1)?;
        let b = if busy { b | 2 } else { b & !2 };
        self.write_sys(addr.wrapping_add(5), 1, b)
    }

    /// SWITCH-TASKS (SDM §7.3): `sel`/`d`/`addr` name the new TSS, `old_eip` is the EIP
    /// saved for the old task, `error_code` is pushed on the new task's stack.
    #[allow(clippy::too_many_arguments)]
    fn switch_tasks(
        &mut self,
        sel: u16,
        d: Descriptor,
        addr: u32,
        src: TaskSource,
        old_eip: u32,
        error_code: Option<u32>,
        ext: u32,
    ) -> Result<(), Exception> {
        let new32 = d.attrs().seg_type() & 8 != 0;
        let nl = layout(new32);
        let nbase = d.base();
        if d.limit() < nl.min_limit {
            return Err(Exception::fault_code(vector::TS, sel_err(sel) | ext));
        }
        let old = self.sregs.tr;
        let old32 = old.attrs.seg_type() & 8 != 0;
        let ol = layout(old32);
        // The old TSS must hold the fields about to be saved (as Bochs checks; the SDM
        // leaves a short current TSS undefined).
        let old_end = ol.ldt - 1;
        if old.limit < old_end {
            return Err(Exception::fault_code(
                vector::TS,
                sel_err(old.selector) | ext,
            ));
        }
        // Step 5: both TSSs must be paged in before anything is written.
        if self.sregs.cr0.contains(Cr0::PG) {
            self.probe_sys(nbase, false)?;
            self.probe_sys(nbase.wrapping_add(nl.min_limit), false)?;
            if matches!(src, TaskSource::Call | TaskSource::Int) {
                self.probe_sys(nbase, true)?;
                self.probe_sys(nbase.wrapping_add(1), true)?;
            }
            self.probe_sys(old.base.wrapping_add(ol.eip), true)?;
            self.probe_sys(old.base.wrapping_add(old_end), true)?;
        }
        // Step 6: JMP and IRET clear the old task's busy bit.
        if matches!(src, TaskSource::Jmp | TaskSource::Iret) && old.selector & 0xFFFC != 0 {
            if let Some(oaddr) = self.descriptor_addr(old.selector & !4) {
                self.set_busy(oaddr, false)?;
            }
        }
        // Steps 7-8: save the old task's state (IRET saves EFLAGS with NT clear).
        let mut flags = self.regs.eflags;
        if src == TaskSource::Iret {
            flags.remove(Eflags::NT);
        }
        self.save_task(old.base, ol, old_eip, flags.bits())?;
        // Step 10: CALL and interrupts link the new task back to the old one.
        if matches!(src, TaskSource::Call | TaskSource::Int) {
            self.write_sys(nbase, 2, u32::from(old.selector))?;
        }
        let img = self.read_task(nbase, new32)?;
        // Step 11: the new task is busy (IRET returns to a task that already is).
        if src != TaskSource::Iret {
            self.set_busy(addr, true)?;
        }

        // Commit point (step 12 onwards): faults are raised in the new task.
        self.task_committed = true;
        let mut tr = d.segment(sel);
        tr.attrs |= SegAttrs::from_bits_retain(2);
        self.sregs.tr = tr;
        self.sregs.cr0.insert(Cr0::TS);
        // The local breakpoint enables L0-L3 and LE are task-local (SDM §17.2.4).
        self.dr[7] &= !0x155;
        self.inhibit = false;
        let mut nflags = img.eflags;
        if matches!(src, TaskSource::Call | TaskSource::Int) {
            nflags |= Eflags::NT.bits();
        }
        self.regs.gpr = img.gpr;
        self.regs.eflags =
            Eflags::from_bits_retain(nflags & Eflags::WRITABLE.bits()) | Eflags::FIXED1;
        self.regs.eip = img.eip;
        self.next_eip = img.eip;
        // The selectors are loaded first, with unusable caches until qualified.
        for (k, &s) in img.seg.iter().enumerate() {
            self.sregs.seg[k] = Segment {
                selector: s,
                base: 0,
                limit: 0,
                attrs: SegAttrs::UNUSABLE,
            };
        }
        self.sregs.ldtr = Segment {
            selector: img.ldt,
            base: 0,
            limit: 0,
            attrs: SegAttrs::UNUSABLE,
        };
        let v86 = self.v86();
        self.sregs.cpl = if v86 { 3 } else { (img.seg[1] & 3) as u8 };
        self.refresh_segment_fast_paths();
        if new32 && self.sregs.cr0.contains(Cr0::PG) {
            // CR3 of the new task (paging on, 32-bit TSS): non-global translations are
            // flushed and PDPTEs loaded under PAE; an invalid PDPTE faults in the new task
            // with #GP(0) as a MOV to CR3 would (§4.4.1; Bochs raises #TS(0) here).
            self.sregs.cr3 = img.cr3;
            self.tlb.flush_non_global();
            if !self.load_pdptes_if_pae() {
                return Err(Exception::gp(ext));
            }
        }
        self.load_ldtr_of_task(img.ldt)?;
        if v86 {
            for (k, &s) in img.seg.iter().enumerate() {
                let mut seg = Segment::real_mode_with(
                    s,
                    SegAttrs::P
                        | SegAttrs::S
                        | SegAttrs::RW
                        | SegAttrs::ACCESSED
                        | SegAttrs::from_bits_retain(3 << 5),
                );
                if k == SegReg::Cs as usize {
                    seg.attrs |= SegAttrs::CODE;
                }
                self.sregs.seg[k] = seg;
            }
            self.refresh_segment_fast_paths();
        } else {
            self.load_task_segments(&img)?;
        }
        if let Some(code) = error_code {
            let size = if new32 { 4 } else { 2 };
            self.push(size, code)?;
        }
        if img.eip > self.sregs.seg[SegReg::Cs as usize].limit {
            return Err(Exception::gp(ext));
        }
        self.debug_task_switch(nbase, new32)
    }

    /// Saves the dynamic state in the TSS at `base` (§7.2.1; a 16-bit TSS gets the low
    /// halves and no FS/GS).
    fn save_task(&mut self, base: u32, l: &Layout, eip: u32, eflags: u32) -> Result<(), Exception> {
        let w = l.width;
        self.write_sys(base.wrapping_add(l.eip), w, eip)?;
        self.write_sys(base.wrapping_add(l.eflags), w, eflags)?;
        for r in 0..8 {
            let v = self.regs.gpr[r];
            self.write_sys(base.wrapping_add(l.gpr + w * r as u32), w, v)?;
        }
        let nseg = if w == 4 { 6 } else { 4 };
        for k in 0..nseg {
            let v = u32::from(self.sregs.seg[k].selector);
            self.write_sys(base.wrapping_add(l.seg + w * k as u32), 2, v)?;
        }
        Ok(())
    }

    /// Reads the new task's state. From a 16-bit TSS the upper halves of the general
    /// registers read as FFFFH, FS and GS are null and CR3 is kept (as Bochs; the SDM does
    /// not define them).
    fn read_task(&mut self, base: u32, tss32: bool) -> Result<TaskImage, Exception> {
        let l = layout(tss32);
        let w = l.width;
        let hi = if tss32 { 0 } else { 0xFFFF_0000 };
        let cr3 = if tss32 {
            self.read_sys(base.wrapping_add(0x1C), 4)?
        } else {
            self.sregs.cr3
        };
        let eip = self.read_sys(base.wrapping_add(l.eip), w)?;
        let eflags = self.read_sys(base.wrapping_add(l.eflags), w)?;
        let mut g = [0u32; 8];
        for (r, v) in g.iter_mut().enumerate() {
            *v = hi | self.read_sys(base.wrapping_add(l.gpr + w * r as u32), w)?;
        }
        let mut seg = [0u16; 6];
        let nseg = if tss32 { 6 } else { 4 };
        for (k, s) in seg.iter_mut().enumerate().take(nseg) {
            *s = self.read_sys(base.wrapping_add(l.seg + w * k as u32), 2)? as u16;
        }
        let ldt = self.read_sys(base.wrapping_add(l.ldt), 2)? as u16;
        Ok(TaskImage {
            cr3,
            eip,
            eflags,
            gpr: g,
            seg,
            ldt,
        })
    }

    /// Loads LDTR for the new task: a null selector leaves it unusable; otherwise the
    /// selector must name a present LDT descriptor in the GDT, else #TS(LDT selector).
    fn load_ldtr_of_task(&mut self, sel: u16) -> Result<(), Exception> {
        if sel & 0xFFFC == 0 {
            return Ok(());
        }
        let ts = Exception::fault_code(vector::TS, sel_err(sel));
        if sel & 4 != 0 {
            return Err(ts);
        }
        let (d, _) = self.fetch_descriptor(sel)?.ok_or(ts)?;
        let a = d.attrs();
        if a.contains(SegAttrs::S) || a.seg_type() != 2 {
            return Err(ts);
        }
        // Table 7-1 lists "LDT of new task is present" after the SS checks; it is checked
        // here, before any descriptor is read through the LDT (as Bochs does).
        if !a.contains(SegAttrs::P) {
            return Err(ts);
        }
        self.sregs.ldtr = d.segment(sel);
        Ok(())
    }

    /// Qualifies CS, SS, DS, ES, FS and GS of the new task in the order of SDM Table 7-1
    /// (P6 family): CS DPL against its RPL, SS valid / present / DPL = CPL, CS valid /
    /// present, then DS, ES, FS, GS. Errors are #TS(selector), #SS(SS) or #NP(selector).
    fn load_task_segments(&mut self, img: &TaskImage) -> Result<(), Exception> {
        let ts = |s: u16| Exception::fault_code(vector::TS, sel_err(s));
        let cs_sel = img.seg[SegReg::Cs as usize];
        let ss_sel = img.seg[SegReg::Ss as usize];
        let cpl = (cs_sel & 3) as u8;
        let cs = if cs_sel & 0xFFFC != 0 {
            self.fetch_descriptor(cs_sel)?
        } else {
            None
        };
        let cs_code = |d: &Descriptor| {
            let a = d.attrs();
            a.contains(SegAttrs::S) && a.contains(SegAttrs::CODE)
        };
        // Code segment DPL matches the selector RPL (conforming: DPL <= RPL).
        if let Some((d, _)) = cs.filter(|(d, _)| cs_code(d)) {
            let a = d.attrs();
            let ok = if a.contains(SegAttrs::DC) {
                a.dpl() <= cpl
            } else {
                a.dpl() == cpl
            };
            if !ok {
                return Err(ts(cs_sel));
            }
        }
        // SS: valid (non-null, in its table, writable data, RPL = CPL), present, DPL = CPL.
        if ss_sel & 0xFFFC == 0 {
            return Err(ts(ss_sel));
        }
        let (mut ssd, ss_addr) = self.fetch_descriptor(ss_sel)?.ok_or(ts(ss_sel))?;
        let sa = ssd.attrs();
        if !sa.contains(SegAttrs::S)
            || sa.contains(SegAttrs::CODE)
            || !sa.contains(SegAttrs::RW)
            || (ss_sel & 3) as u8 != cpl
        {
            return Err(ts(ss_sel));
        }
        if !sa.contains(SegAttrs::P) {
            return Err(Exception::ss(sel_err(ss_sel)));
        }
        if sa.dpl() != cpl {
            return Err(ts(ss_sel));
        }
        // CS: valid, present.
        let Some((mut csd, cs_addr)) = cs.filter(|(d, _)| cs_code(d)) else {
            return Err(ts(cs_sel));
        };
        if !csd.attrs().contains(SegAttrs::P) {
            return Err(Exception::fault_code(vector::NP, sel_err(cs_sel)));
        }
        self.mark_accessed(&mut ssd, ss_addr)?;
        self.sregs.seg[SegReg::Ss as usize] = ssd.segment(ss_sel);
        self.mark_accessed(&mut csd, cs_addr)?;
        self.sregs.seg[SegReg::Cs as usize] = csd.segment(cs_sel);
        self.refresh_segment_fast_paths();
        for seg in [SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs] {
            let sel = img.seg[seg as usize];
            if sel & 0xFFFC == 0 {
                continue;
            }
            let (mut d, addr) = self.fetch_descriptor(sel)?.ok_or(ts(sel))?;
            let a = d.attrs();
            let code = a.contains(SegAttrs::CODE);
            if !a.contains(SegAttrs::S) || (code && !a.contains(SegAttrs::RW)) {
                return Err(ts(sel));
            }
            if !a.contains(SegAttrs::P) {
                return Err(Exception::fault_code(vector::NP, sel_err(sel)));
            }
            let conforming = code && a.contains(SegAttrs::DC);
            if !conforming && (a.dpl() < cpl || a.dpl() < (sel & 3) as u8) {
                return Err(ts(sel));
            }
            self.mark_accessed(&mut d, addr)?;
            self.sregs.seg[seg as usize] = d.segment(sel);
        }
        self.refresh_segment_fast_paths();
        Ok(())
    }
}
