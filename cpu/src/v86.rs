//! Virtual-8086 mode's IOPL-sensitive instructions and the virtual-interrupt extensions
//! (SDM Vol. 3 ch. 20).
//!
//! In virtual-8086 mode CLI, STI, PUSHF, POPF, INT n and IRET are IOPL-sensitive: at IOPL 3
//! they behave as in real mode; below IOPL 3 they raise #GP(0) for the virtual-8086 monitor
//! unless CR4.VME applies (§20.4): then the 16-bit forms work on VIF in place of IF, and
//! INT n consults the TSS interrupt redirection bitmap (§20.4.3, Table 20-2) to choose
//! between the 8086 program's IVT and the protected-mode IDT. CR4.PVI gives CLI/STI the same
//! VIF behaviour for CPL-3 protected-mode code (§20.5).
//!
//! The instruction handlers call in here only from their IOPL-fault paths (and INT n from
//! virtual-8086 mode), so nothing here costs anything while these features are unused.

use crate::exception::Exception;
use crate::exec::Core;
use crate::state::{gpr, Cr4, Eflags, SegAttrs, SegReg, Segment};

type R = Result<(), Exception>;

/// The flags a 16-bit VME POPF / IRET may change: FLAGS without IF and IOPL (SDM POPF,
/// IRET "Operation", VME = 1 and IOPL < 3).
const VME_FLAGS: u32 =
    0xFFFF & Eflags::WRITABLE.bits() & !(Eflags::IF.bits() | Eflags::IOPL.bits());

impl Core {
    /// A segment as virtual-8086 mode loads it: base = selector << 4, 64 KiB, DPL 3
    /// (§20.1.1).
    pub(crate) fn v86_segment(sel: u16, code: bool) -> Segment {
        let mut attrs = SegAttrs::P
            | SegAttrs::S
            | SegAttrs::RW
            | SegAttrs::ACCESSED
            | SegAttrs::from_bits_retain(3 << 5);
        if code {
            attrs |= SegAttrs::CODE;
        }
        Segment::real_mode_with(sel, attrs)
    }

    /// CLI / STI when IOPL is below what the instruction needs (CPL in protected mode, 3 in
    /// virtual-8086 mode): VIF changes instead of IF when CR4.VME (virtual-8086 mode) or
    /// CR4.PVI (protected mode at CPL 3) is set; STI with VIP set, or neither extension,
    /// is #GP(0) (SDM CLI, STI "Operation").
    pub(crate) fn virtual_interrupt_flag(&mut self, set: bool) -> R {
        let extension = if self.v86() {
            self.sregs.cr4.contains(Cr4::VME)
        } else {
            self.sregs.cr4.contains(Cr4::PVI) && self.sregs.cpl == 3
        };
        if !extension || (set && self.regs.eflags.contains(Eflags::VIP)) {
            return Err(Exception::gp(0));
        }
        self.regs.eflags.set(Eflags::VIF, set);
        Ok(())
    }

    /// The FLAGS image a VME PUSHF or a redirected INT n stores at IOPL < 3: IF replaced by
    /// VIF, IOPL read as 3 (SDM PUSHF; INT n "Operation").
    fn v86_virtual_flags(&self) -> u32 {
        let mut f = (self.regs.eflags.bits() & 0xFFFF) | Eflags::IOPL.bits();
        f &= !Eflags::IF.bits();
        if self.regs.eflags.contains(Eflags::VIF) {
            f |= Eflags::IF.bits();
        }
        f
    }

    /// PUSHF in virtual-8086 mode at IOPL < 3: with CR4.VME the 16-bit form pushes the
    /// virtual FLAGS image; PUSHFD, or VME off, is #GP(0) (§20.4.4).
    pub(crate) fn v86_pushf(&mut self, size: u32) -> R {
        if size != 2 || !self.sregs.cr4.contains(Cr4::VME) {
            return Err(Exception::gp(0));
        }
        let f = self.v86_virtual_flags();
        self.push(2, f)
    }

    /// POPF in virtual-8086 mode at IOPL < 3: with CR4.VME the 16-bit form loads FLAGS but
    /// IF and IOPL, and copies the popped IF into VIF; a popped TF, or a popped IF with VIP
    /// set, is #GP(0) with nothing changed. POPFD, or VME off, is #GP(0) (SDM POPF).
    pub(crate) fn v86_popf(&mut self, size: u32) -> R {
        if size != 2 || !self.sregs.cr4.contains(Cr4::VME) {
            return Err(Exception::gp(0));
        }
        let fl = self.peek(0, 2)?;
        self.check_virtual_flags(fl)?;
        let sp = self.regs.gpr[gpr::ESP].wrapping_add(2);
        self.set_sp(sp);
        self.load_virtual_flags(fl);
        Ok(())
    }

    /// #GP(0) if a VME POPF / IRET image sets TF, or sets IF while VIP is set.
    fn check_virtual_flags(&self, fl: u32) -> R {
        let tf = fl & Eflags::TF.bits() != 0;
        let int = fl & Eflags::IF.bits() != 0;
        if tf || (int && self.regs.eflags.contains(Eflags::VIP)) {
            return Err(Exception::gp(0));
        }
        Ok(())
    }

    /// FLAGS but IF and IOPL from `fl`; VIF from `fl`'s IF.
    fn load_virtual_flags(&mut self, fl: u32) {
        let e = self.regs.eflags.bits();
        let mut f = Eflags::from_bits_retain((e & !VME_FLAGS) | (fl & VME_FLAGS));
        f.set(Eflags::VIF, fl & Eflags::IF.bits() != 0);
        self.regs.eflags = f | Eflags::FIXED1;
    }

    /// IRET in virtual-8086 mode at IOPL < 3: with CR4.VME a 16-bit IRET pops IP, CS and
    /// FLAGS as a VME POPF does (IF and IOPL kept, VIF from the popped IF; TF, or IF with
    /// VIP, is #GP(0)); IRETD, or VME off, is #GP(0) (SDM IRET, RETURN-FROM-VIRTUAL-8086-MODE).
    pub(crate) fn v86_iret(&mut self, op32: bool) -> R {
        if op32 || !self.sregs.cr4.contains(Cr4::VME) {
            return Err(Exception::gp(0));
        }
        let ip = self.peek(0, 2)?;
        let cs = self.peek(2, 2)? as u16;
        let fl = self.peek(4, 2)?;
        self.check_virtual_flags(fl)?;
        let sp = self.regs.gpr[gpr::ESP].wrapping_add(6);
        self.set_sp(sp);
        self.load_virtual_flags(fl);
        self.sregs.seg[SegReg::Cs as usize] = Core::v86_segment(cs, true);
        self.refresh_segment_fast_paths();
        self.next_eip = ip;
        Ok(())
    }

    /// INT n in virtual-8086 mode (SDM Vol. 3 §20.4.3, Table 20-2 "Software Interrupt
    /// Handling Methods"). `Ok(true)`: the interrupt was redirected through the 8086
    /// program's IVT and the instruction is complete (methods 4 and 6); `Ok(false)`: it goes
    /// to the protected-mode handler through the IDT (methods 1 and 3); #GP(0) to the
    /// virtual-8086 monitor at IOPL < 3 otherwise (methods 2 and 5).
    pub(crate) fn v86_software_int(&mut self, n: u8) -> Result<bool, Exception> {
        if self.sregs.cr4.contains(Cr4::VME) && !self.redirection_bit(n)? {
            self.redirect_to_ivt(n)?;
            return Ok(true);
        }
        if self.iopl() < 3 {
            return Err(Exception::gp(0));
        }
        Ok(false)
    }

    /// Bit `n` of the software interrupt redirection bitmap: the 32 bytes just below the
    /// I/O map base of the current 32-bit TSS (§20.4.3, Figure 20-5). A TSS too short to hold
    /// the map base, a 16-bit TSS, or a bitmap byte beyond the TSS limit is #GP(0) (as the
    /// I/O bitmap check, §18.5.2).
    fn redirection_bit(&mut self, n: u8) -> Result<bool, Exception> {
        let tr = self.sregs.tr;
        let tss32 = tr.attrs.seg_type() & 8 != 0 && !tr.attrs.contains(SegAttrs::UNUSABLE);
        if !tss32 || tr.limit < 103 {
            return Err(Exception::gp(0));
        }
        let map = self.read_sys(tr.base.wrapping_add(102), 2)?;
        // A map base below 32 puts the bitmap before the TSS: beyond its limit.
        let Some(off) = map.checked_sub(32).map(|o| o + u32::from(n) / 8) else {
            return Err(Exception::gp(0));
        };
        if off > tr.limit {
            return Err(Exception::gp(0));
        }
        let byte = self.read_sys(tr.base.wrapping_add(off), 1)?;
        Ok(byte >> (n % 8) & 1 != 0)
    }

    /// Delivers INT n through the IVT at linear address 0 without leaving virtual-8086 mode
    /// (SDM INT n "Operation", VME redirection): push FLAGS (the virtual image at IOPL < 3),
    /// CS, IP; clear TF and RF, and IF (IOPL 3) or VIF (IOPL < 3). All or nothing: a fault
    /// on the IVT read or a push leaves SP unchanged.
    fn redirect_to_ivt(&mut self, n: u8) -> R {
        // The IVT is read as Bochs does, as a supervisor linear access.
        let entry = self.read_sys(u32::from(n) * 4, 4)?;
        let flags = if self.iopl() < 3 {
            self.v86_virtual_flags()
        } else {
            self.regs.eflags.bits() & 0xFFFF
        };
        let old_cs = u32::from(self.sregs.seg[SegReg::Cs as usize].selector);
        let ip = self.next_eip & 0xFFFF;
        let esp = self.regs.gpr[gpr::ESP];
        let pushed = (|| {
            self.push(2, flags)?;
            self.push(2, old_cs)?;
            self.push(2, ip)
        })();
        if let Err(e) = pushed {
            self.regs.gpr[gpr::ESP] = esp;
            return Err(e);
        }
        let cleared = if self.iopl() < 3 {
            Eflags::VIF
        } else {
            Eflags::IF
        };
        self.regs.eflags.remove(cleared | Eflags::TF | Eflags::RF);
        self.sregs.seg[SegReg::Cs as usize] = Core::v86_segment((entry >> 16) as u16, true);
        self.refresh_segment_fast_paths();
        self.next_eip = entry & 0xFFFF;
        Ok(())
    }
}
