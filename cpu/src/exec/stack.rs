//! Stack instructions: PUSH POP PUSHA POPA PUSHF POPF ENTER LEAVE, and the push/pop
//! primitives every other family uses (SDM Vol. 1 §6.2, Vol. 2 each page).

use super::{Core, PortIo};
use crate::exception::Exception;
use crate::state::{gpr, Eflags, SegReg};
use iced_x86::{Instruction, Mnemonic, OpKind};

type R = Result<(), Exception>;

impl Core {
    /// Stack-pointer mask by SS.B.
    #[inline(always)]
    pub(crate) fn sp_mask(&self) -> u32 {
        if self.stack32() {
            0xFFFF_FFFF
        } else {
            0xFFFF
        }
    }

    /// Sets (E)SP, keeping the upper half for a 16-bit stack.
    #[inline(always)]
    pub(crate) fn set_sp(&mut self, v: u32) {
        let m = self.sp_mask();
        let e = &mut self.regs.gpr[gpr::ESP];
        *e = (*e & !m) | (v & m);
    }

    /// Pushes `size` bytes.
    #[inline(always)]
    pub(crate) fn push(&mut self, size: u32, v: u32) -> R {
        let m = self.sp_mask();
        let sp = self.regs.gpr[gpr::ESP].wrapping_sub(size) & m;
        self.write_mem(SegReg::Ss, sp, size, v)?;
        self.set_sp(sp);
        Ok(())
    }

    /// Checks that `count` pushes of `size` bytes below the stack top pass the stack
    /// segment's checks (limit, expand-down, 16-bit wrap), without writing anything;
    /// paging is left to the pushes themselves. The caller chooses the fault to raise.
    pub(crate) fn check_stack_room(&self, count: u32, size: u32) -> Result<(), Exception> {
        let m = self.sp_mask();
        let top = self.regs.gpr[gpr::ESP];
        for k in 1..=count {
            let sp = top.wrapping_sub(k * size) & m;
            self.seg_linear(SegReg::Ss, sp, size, true)?;
        }
        Ok(())
    }

    /// Reads the value `depth` bytes above the stack top without popping it.
    #[inline(always)]
    pub(crate) fn peek(&mut self, depth: u32, size: u32) -> Result<u32, Exception> {
        let m = self.sp_mask();
        let sp = self.regs.gpr[gpr::ESP].wrapping_add(depth) & m;
        self.read_mem(SegReg::Ss, sp, size)
    }

    /// Pops `size` bytes.
    #[inline(always)]
    pub(crate) fn pop(&mut self, size: u32) -> Result<u32, Exception> {
        let v = self.peek(0, size)?;
        let sp = self.regs.gpr[gpr::ESP].wrapping_add(size);
        self.set_sp(sp);
        Ok(v)
    }

    /// Operand size of a stack instruction (16 or 32 bits, in bytes).
    #[inline(always)]
    pub(crate) fn stack_op_size(i: &Instruction) -> u32 {
        use iced_x86::Code;
        if matches!(
            i.code(),
            Code::Enterw_imm16_imm8
                | Code::Leavew
                | Code::Retnw
                | Code::Retnw_imm16
                | Code::Retfw
                | Code::Retfw_imm16
                | Code::Iretw
        ) {
            2
        } else {
            4
        }
    }
}

/// PUSH r/m, imm, Sreg. A segment register pushed with a 32-bit operand size is written with
/// a 16-bit move, leaving the upper half of the slot unchanged (SDM PUSH: what recent Intel
/// processors do).
pub(crate) fn push(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = i.stack_pointer_increment().unsigned_abs();
    let v = match i.op0_kind() {
        OpKind::Register if i.op0_register().is_segment_register() => {
            let sel = c.reg(i.op0_register());
            let m = c.sp_mask();
            let sp = c.regs.gpr[gpr::ESP].wrapping_sub(size) & m;
            c.probe_write(SegReg::Ss, sp, size)?;
            c.write_mem(SegReg::Ss, sp, 2, sel)?;
            c.set_sp(sp);
            return Ok(());
        }
        // PUSH ESP pushes the value before the push.
        _ => c.read_op(i, 0, size)?,
    };
    c.push(size, v)
}

/// POP r/m, Sreg. With ESP as the base of a memory destination, the address is computed
/// after ESP is incremented (SDM POP).
pub(crate) fn pop(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = i.stack_pointer_increment().unsigned_abs();
    match i.op0_kind() {
        OpKind::Register if i.op0_register().is_segment_register() => {
            // Only the selector's 16 bits are read, whatever the operand size (host CPU:
            // a 32-bit POP SS whose upper half lies on an unmapped page loads the selector).
            let sel = c.peek(0, 2)? as u16;
            c.load_data_segment(super::operand::seg_of(i.op0_register()), sel)?;
            let sp = c.regs.gpr[gpr::ESP].wrapping_add(size);
            c.set_sp(sp);
            if i.op0_register() == iced_x86::Register::SS {
                c.inhibit = true;
            }
            Ok(())
        }
        OpKind::Register => {
            let v = c.pop(size)?;
            c.set_reg(i.op0_register(), v);
            Ok(())
        }
        _ => {
            let v = c.peek(0, size)?;
            let old = c.regs.gpr[gpr::ESP];
            c.set_sp(old.wrapping_add(size));
            if let Err(e) = c.write_op(i, 0, size, v) {
                c.regs.gpr[gpr::ESP] = old;
                return Err(e);
            }
            Ok(())
        }
    }
}

/// PUSHA / PUSHAD: EAX ECX EDX EBX (original ESP) EBP ESI EDI.
pub(crate) fn pusha(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = if i.mnemonic() == Mnemonic::Pushad {
        4
    } else {
        2
    };
    let m = c.sp_mask();
    let esp = c.regs.gpr[gpr::ESP];
    // Eight ordinary pushes: a fault part-way leaves the earlier stores in memory (as the
    // host CPU does) but ESP unchanged.
    for (k, r) in (0..8).enumerate() {
        let v = c.regs.gpr[r];
        let v = if r == gpr::ESP { esp } else { v };
        c.write_mem(
            SegReg::Ss,
            esp.wrapping_sub(size * (k as u32 + 1)) & m,
            size,
            v,
        )?;
    }
    c.set_sp(esp.wrapping_sub(size * 8));
    Ok(())
}

/// POPA / POPAD: the saved ESP is skipped.
pub(crate) fn popa(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = if i.mnemonic() == Mnemonic::Popad {
        4
    } else {
        2
    };
    // Eight ordinary loads, EDI first: a fault part-way leaves the registers already
    // loaded (as the host CPU does) and ESP unchanged. The saved ESP is skipped.
    for k in 0..8u32 {
        let r = 7 - k as usize;
        let v = c.peek(size * k, size)?;
        if r != gpr::ESP {
            if size == 4 {
                c.regs.gpr[r] = v;
            } else {
                c.regs.gpr[r] = (c.regs.gpr[r] & 0xFFFF_0000) | (v & 0xFFFF);
            }
        }
    }
    let sp = c.regs.gpr[gpr::ESP].wrapping_add(size * 8);
    c.set_sp(sp);
    Ok(())
}

/// PUSHF / PUSHFD: VM and RF are stored as 0 (SDM PUSHF). In virtual-8086 mode with
/// IOPL < 3 it raises #GP(0) unless CR4.VME applies (`v86.rs`).
pub(crate) fn pushf(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = if i.mnemonic() == Mnemonic::Pushfd {
        4
    } else {
        2
    };
    if c.v86() && c.iopl() < 3 {
        return c.v86_pushf(size);
    }
    let v = c.regs.eflags.bits() & !(Eflags::VM | Eflags::RF).bits();
    c.push(size, v)
}

/// POPF / POPFD (SDM POPF operation): CPL 0 may change IOPL; IF changes only when
/// CPL <= IOPL; VM, VIP, VIF never change; RF is cleared; reserved bits keep fixed values.
/// In virtual-8086 mode with IOPL < 3: #GP(0) unless CR4.VME applies (`v86.rs`).
pub(crate) fn popf(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = if i.mnemonic() == Mnemonic::Popfd {
        4
    } else {
        2
    };
    if c.v86() && c.iopl() < 3 {
        return c.v86_popf(size);
    }
    let v = c.pop(size)?;
    let mut changeable =
        Eflags::WRITABLE.difference(Eflags::VM | Eflags::VIP | Eflags::VIF | Eflags::RF);
    if c.protected() && c.sregs.cpl > 0 {
        changeable.remove(Eflags::IOPL);
    }
    if c.protected() && c.sregs.cpl > c.iopl() {
        changeable.remove(Eflags::IF);
    }
    if c.v86() {
        changeable.remove(Eflags::IOPL);
    }
    let mut changeable = changeable.bits();
    if size == 2 {
        changeable &= 0xFFFF;
    }
    let e = c.regs.eflags.bits();
    let new = ((e & !changeable) | (v & changeable)) & !Eflags::RF.bits();
    c.regs.eflags = Eflags::from_bits_retain(new) | Eflags::FIXED1;
    // Single-stepping starts after the next instruction (SDM Vol. 3 §17.3.1.4), and
    // interrupts enabled by POPF are recognized before it: leave the block so that the run
    // loop takes the debug path or looks at the INTR line.
    if (new & !e) & (Eflags::TF | Eflags::IF).bits() != 0 {
        c.fetch_dirty = true;
    }
    Ok(())
}

/// ENTER imm16, imm8 (SDM ENTER operation, nesting level taken modulo 32).
pub(crate) fn enter(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = Core::stack_op_size(i);
    let alloc = u32::from(i.immediate16());
    let level = u32::from(i.immediate8_2nd()) % 32;
    let m = c.sp_mask();
    let saved = c.regs.gpr;
    let run = |c: &mut Core| -> R {
        let ebp = c.regs.gpr[gpr::EBP];
        c.push(size, ebp)?;
        let frame = c.regs.gpr[gpr::ESP] & m;
        if level > 0 {
            let mut bp = ebp;
            for _ in 1..level {
                bp = bp.wrapping_sub(size) & m;
                let v = c.read_mem(SegReg::Ss, bp, size)?;
                c.push(size, v)?;
            }
            c.push(size, frame)?;
        }
        let sp = c.regs.gpr[gpr::ESP].wrapping_sub(alloc);
        // The final stack top must be writable (SDM: #SS if it is outside the segment).
        c.probe_write(SegReg::Ss, sp & m, 1)?;
        if size == 4 {
            c.regs.gpr[gpr::EBP] = frame;
        } else {
            c.regs.gpr[gpr::EBP] = (c.regs.gpr[gpr::EBP] & 0xFFFF_0000) | (frame & 0xFFFF);
        }
        c.set_sp(sp);
        Ok(())
    };
    run(c).inspect_err(|_| c.regs.gpr = saved)
}

/// LEAVE: (E)SP = (E)BP; pop (E)BP.
pub(crate) fn leave(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = Core::stack_op_size(i);
    let m = c.sp_mask();
    let bp = c.regs.gpr[gpr::EBP] & m;
    let v = c.read_mem(SegReg::Ss, bp, size)?;
    c.set_sp(bp.wrapping_add(size));
    if size == 4 {
        c.regs.gpr[gpr::EBP] = v;
    } else {
        c.regs.gpr[gpr::EBP] = (c.regs.gpr[gpr::EBP] & 0xFFFF_0000) | (v & 0xFFFF);
    }
    Ok(())
}
