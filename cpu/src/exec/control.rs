//! Control transfer: JMP, Jcc, LOOPcc, JCXZ, CALL, RET, far transfers, INT n / INT3 / INTO /
//! INT1, IRET, BOUND. SDM Vol. 2 each page; protected-mode far transfers through
//! `segment.rs`.

use super::operand::mask;
use super::{Core, PortIo};
use crate::exception::{vector, EventKind, Exception};
use crate::state::{gpr, SegReg};
use iced_x86::{Instruction, Mnemonic, OpKind};

type R = Result<(), Exception>;

impl Core {
    /// Relative branch target, recomputed from the actual next EIP so that one decoded copy
    /// serves every linear alias of the same physical code.
    #[inline(always)]
    fn rel_target(&self, i: &Instruction) -> u32 {
        let disp = i.near_branch_target().wrapping_sub(i.next_ip()) as u32;
        self.next_eip.wrapping_add(disp)
    }

    /// Near jump to `target` with operand size `size` (bytes): IP is truncated to 16 bits
    /// for 16-bit operands; a target beyond the CS limit is #GP(0) (SDM JMP).
    #[inline(always)]
    pub(crate) fn jump_near(&mut self, target: u32, size: u32) -> R {
        let t = target & mask(size);
        if t > self.sregs.seg[SegReg::Cs as usize].limit {
            return Err(Exception::gp(0));
        }
        self.next_eip = t;
        Ok(())
    }

    /// Operand size of a near branch (bytes).
    #[inline(always)]
    fn branch_size(i: &Instruction) -> u32 {
        match i.op0_kind() {
            OpKind::NearBranch16 => 2,
            OpKind::NearBranch32 => 4,
            _ => Core::op_size(i, 0),
        }
    }
}

/// JMP rel / r/m / far.
pub(crate) fn jmp(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    match i.op0_kind() {
        OpKind::NearBranch16 | OpKind::NearBranch32 => {
            let t = c.rel_target(i);
            c.jump_near(t, Core::branch_size(i))
        }
        OpKind::FarBranch16 | OpKind::FarBranch32 => {
            let off = if i.op0_kind() == OpKind::FarBranch16 {
                u32::from(i.far_branch16())
            } else {
                i.far_branch32()
            };
            c.far_jump(
                i.far_branch_selector(),
                off,
                i.op0_kind() == OpKind::FarBranch32,
            )
        }
        OpKind::Memory if i.is_jmp_far_indirect() => {
            let (sel, off, op32) = read_far_pointer(c, i)?;
            c.far_jump(sel, off, op32)
        }
        _ => {
            let size = Core::op_size(i, 0);
            let t = c.read_op(i, 0, size)?;
            c.jump_near(t, size)
        }
    }
}

/// Reads an m16:16 / m16:32 far pointer operand.
fn read_far_pointer(c: &mut Core, i: &Instruction) -> Result<(u16, u32, bool), Exception> {
    let op32 = i.memory_size() == iced_x86::MemorySize::SegPtr32;
    let seg = Core::mem_seg(i);
    let off_addr = c.ea(i);
    let osz = if op32 { 4 } else { 2 };
    let off = c.read_mem(seg, off_addr, osz)?;
    let sel = c.read_mem(seg, off_addr.wrapping_add(osz), 2)? as u16;
    Ok((sel, off, op32))
}

/// Jcc rel8 / rel16 / rel32.
pub(crate) fn jcc(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    if c.condition(i.condition_code()) {
        let t = c.rel_target(i);
        c.jump_near(t, Core::branch_size(i))?;
    }
    Ok(())
}

/// LOOP / LOOPE / LOOPNE / JCXZ / JECXZ: the counter is CX or ECX by address size.
pub(crate) fn loop_jcxz(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let cnt_mask = counter_mask(i);
    let ecx = c.regs.gpr[gpr::ECX];
    let take = match i.mnemonic() {
        Mnemonic::Jcxz | Mnemonic::Jecxz => ecx & cnt_mask == 0,
        m => {
            let n = ecx.wrapping_sub(1) & cnt_mask;
            let t = match m {
                Mnemonic::Loope => n != 0 && c.flag(super::flags::ZF),
                Mnemonic::Loopne => n != 0 && !c.flag(super::flags::ZF),
                _ => n != 0,
            };
            // The target check happens before the counter is written (a #GP leaves ECX).
            if t {
                let tgt = c.rel_target(i);
                c.jump_near(tgt, Core::branch_size(i))?;
            }
            c.regs.gpr[gpr::ECX] = (ecx & !cnt_mask) | n;
            return Ok(());
        }
    };
    if take {
        let t = c.rel_target(i);
        c.jump_near(t, Core::branch_size(i))?;
    }
    Ok(())
}

/// CX for 16-bit address size, ECX for 32-bit.
fn counter_mask(i: &Instruction) -> u32 {
    use iced_x86::Code::*;
    match i.code() {
        Loopne_rel8_16_CX | Loopne_rel8_32_CX | Loope_rel8_16_CX | Loope_rel8_32_CX
        | Loop_rel8_16_CX | Loop_rel8_32_CX | Jcxz_rel8_16 | Jcxz_rel8_32 => 0xFFFF,
        _ => 0xFFFF_FFFF,
    }
}

/// CALL rel / r/m / far.
pub(crate) fn call(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    match i.op0_kind() {
        OpKind::NearBranch16 | OpKind::NearBranch32 => {
            let size = Core::branch_size(i);
            let t = c.rel_target(i) & mask(size);
            call_near(c, t, size)
        }
        OpKind::FarBranch16 | OpKind::FarBranch32 => {
            let op32 = i.op0_kind() == OpKind::FarBranch32;
            let off = if op32 {
                i.far_branch32()
            } else {
                u32::from(i.far_branch16())
            };
            c.far_call(i.far_branch_selector(), off, op32)
        }
        OpKind::Memory if i.is_call_far_indirect() => {
            let (sel, off, op32) = read_far_pointer(c, i)?;
            c.far_call(sel, off, op32)
        }
        _ => {
            let size = Core::op_size(i, 0);
            let t = c.read_op(i, 0, size)?;
            call_near(c, t, size)
        }
    }
}

fn call_near(c: &mut Core, target: u32, size: u32) -> R {
    if target & mask(size) > c.sregs.seg[SegReg::Cs as usize].limit {
        return Err(Exception::gp(0));
    }
    let ret = c.next_eip;
    c.push(size, ret)?;
    c.next_eip = target & mask(size);
    Ok(())
}

/// RET / RET imm16 (near).
pub(crate) fn ret_near(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = Core::stack_op_size(i);
    let t = c.peek(0, size)?;
    c.jump_near(t, size)?;
    let sp = c.regs.gpr[gpr::ESP]
        .wrapping_add(size)
        .wrapping_add(u32::from(i.immediate16()) * u32::from(i.op_count() > 0));
    c.set_sp(sp);
    Ok(())
}

/// RETF / RETF imm16.
pub(crate) fn ret_far(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = Core::stack_op_size(i);
    let imm = if i.op_count() > 0 {
        u32::from(i.immediate16())
    } else {
        0
    };
    c.far_return(size == 4, imm)
}

/// INT n, INT3, INTO, INT1 (ICEBP).
pub(crate) fn int(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let (vec, kind) = match i.mnemonic() {
        Mnemonic::Int3 => (vector::BP, EventKind::SoftwareTrap),
        Mnemonic::Into => {
            if !c.flag(super::flags::OF) {
                return Ok(());
            }
            (vector::OF, EventKind::SoftwareTrap)
        }
        // ICEBP: a #DB delivered like a hardware event (no DPL check; SDM §17.3.1).
        Mnemonic::Int1 => (vector::DB, EventKind::External),
        _ => (i.immediate8(), EventKind::SoftwareInt),
    };
    // Virtual-8086 INT n: IOPL-sensitive, and redirected through the IVT under CR4.VME
    // (SDM Vol. 3 §20.4.3, Table 20-2; `v86.rs`).
    if kind == EventKind::SoftwareInt && c.v86() && c.v86_software_int(vec)? {
        return Ok(());
    }
    Err(Exception::new(vec, None, kind))
}

/// IRET / IRETD.
pub(crate) fn iret(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let op32 = i.mnemonic() == Mnemonic::Iretd;
    c.interrupt_return(op32)
}

/// BOUND r, m: #BR when the index is outside [lower, upper] (signed).
pub(crate) fn bound(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    if i.op1_kind() != OpKind::Memory {
        return Err(Exception::ud());
    }
    let size = Core::op_size(i, 0);
    let idx = super::operand::sext(c.reg(i.op0_register()), size) as i32;
    let seg = Core::mem_seg(i);
    let off = c.ea(i);
    // The lower bound is read and checked before the upper bound is read (a #BR against
    // the lower bound wins over a fault on the upper one, as on the host CPU).
    let lo = super::operand::sext(c.read_mem(seg, off, size)?, size) as i32;
    if idx < lo {
        return Err(Exception::fault(vector::BR));
    }
    let hi = super::operand::sext(c.read_mem(seg, off.wrapping_add(size), size)?, size) as i32;
    if idx > hi {
        return Err(Exception::fault(vector::BR));
    }
    Ok(())
}
