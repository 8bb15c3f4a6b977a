//! Integer ALU: ADD ADC SUB SBB CMP AND OR XOR TEST INC DEC NEG NOT, MOV, MOVZX/MOVSX, LEA,
//! XCHG, XADD, CMPXCHG, CMPXCHG8B, CMOVcc, SETcc, CBW/CWDE/CWD/CDQ, flag instructions,
//! LAHF/SAHF. SDM Vol. 2, each instruction's page.

use super::flags::{self, AF, CF, OF, STATUS};
use super::operand::{mask, sext};
use super::{Core, PortIo};
use crate::exception::Exception;
use crate::state::{gpr, Eflags};
use iced_x86::{Instruction, Mnemonic, OpKind};

type R = Result<(), Exception>;

/// Two-operand arithmetic and logic, dispatched on the mnemonic.
pub(crate) fn binary(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = Core::op_size(i, 0);
    let m = mask(size);
    let a = if matches!(i.mnemonic(), Mnemonic::Cmp | Mnemonic::Test) {
        c.read_op(i, 0, size)?
    } else {
        c.read_op_rmw(i, 0, size)?
    };
    let b = c.read_op(i, 1, size)? & m;
    let (r, f, write) = match i.mnemonic() {
        Mnemonic::Add => {
            let r = a.wrapping_add(b) & m;
            (r, flags::add(size, a, b, 0, r), true)
        }
        Mnemonic::Adc => {
            let cin = c.cf();
            let r = a.wrapping_add(b).wrapping_add(cin) & m;
            (r, flags::add(size, a, b, cin, r), true)
        }
        Mnemonic::Sub => {
            let r = a.wrapping_sub(b) & m;
            (r, flags::sub(size, a, b, 0, r), true)
        }
        Mnemonic::Sbb => {
            let bin = c.cf();
            let r = a.wrapping_sub(b).wrapping_sub(bin) & m;
            (r, flags::sub(size, a, b, bin, r), true)
        }
        Mnemonic::Cmp => {
            let r = a.wrapping_sub(b) & m;
            (r, flags::sub(size, a, b, 0, r), false)
        }
        Mnemonic::And => {
            let r = a & b;
            (r, flags::logic(size, r), true)
        }
        Mnemonic::Test => {
            let r = a & b;
            (r, flags::logic(size, r), false)
        }
        Mnemonic::Or => {
            let r = (a | b) & m;
            (r, flags::logic(size, r), true)
        }
        _ => {
            let r = (a ^ b) & m;
            (r, flags::logic(size, r), true)
        }
    };
    if write {
        c.write_op(i, 0, size, r)?;
    }
    c.set_flags(STATUS, f);
    Ok(())
}

/// INC / DEC: CF unchanged.
pub(crate) fn inc_dec(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = Core::op_size(i, 0);
    let m = mask(size);
    let a = c.read_op_rmw(i, 0, size)?;
    let (r, f) = if i.mnemonic() == Mnemonic::Inc {
        let r = a.wrapping_add(1) & m;
        (r, flags::add(size, a, 1, 0, r))
    } else {
        let r = a.wrapping_sub(1) & m;
        (r, flags::sub(size, a, 1, 0, r))
    };
    c.write_op(i, 0, size, r)?;
    c.set_flags(STATUS & !CF, f);
    Ok(())
}

/// NEG: CF = (operand != 0).
pub(crate) fn neg(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = Core::op_size(i, 0);
    let a = c.read_op_rmw(i, 0, size)?;
    let r = 0u32.wrapping_sub(a) & mask(size);
    c.write_op(i, 0, size, r)?;
    c.set_flags(STATUS, flags::sub(size, 0, a, 0, r));
    Ok(())
}

/// NOT: no flags.
pub(crate) fn not(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = Core::op_size(i, 0);
    let a = c.read_op_rmw(i, 0, size)?;
    c.write_op(i, 0, size, !a & mask(size))
}

/// MOV between general registers, memory and immediates (segment and control registers have
/// their own handlers).
pub(crate) fn mov(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = Core::op_size(i, 0);
    let v = c.read_op(i, 1, size)?;
    c.write_op(i, 0, size, v)
}

/// MOVZX / MOVSX.
pub(crate) fn movx(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let dsize = Core::op_size(i, 0);
    let ssize = Core::op_size(i, 1);
    let v = c.read_op(i, 1, ssize)?;
    let v = if i.mnemonic() == Mnemonic::Movsx {
        sext(v, ssize)
    } else {
        v
    };
    c.write_op(i, 0, dsize, v & mask(dsize))
}

/// LEA: the offset, truncated to the operand size (SDM LEA, Table 3-53).
pub(crate) fn lea(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = Core::op_size(i, 0);
    let off = c.ea(i);
    c.set_reg(i.op0_register(), off & mask(size));
    Ok(())
}

/// XCHG (memory form reads, probes, then writes both).
pub(crate) fn xchg(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = Core::op_size(i, 0);
    let a = c.read_op_rmw(i, 0, size)?;
    let b = c.read_op_rmw(i, 1, size)?;
    if i.op1_kind() == OpKind::Memory {
        c.write_op(i, 1, size, a)?;
        c.write_op(i, 0, size, b)
    } else {
        c.write_op(i, 0, size, b)?;
        c.write_op(i, 1, size, a)
    }
}

/// XADD: TEMP = SRC + DEST; SRC = DEST; DEST = TEMP.
pub(crate) fn xadd(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = Core::op_size(i, 0);
    let d = c.read_op_rmw(i, 0, size)?;
    let s = c.read_op(i, 1, size)?;
    let r = d.wrapping_add(s) & mask(size);
    // The memory destination is written first, with the address computed from the
    // original registers; then SRC = DEST; a register DEST is written last (it wins when
    // both operands are the same register).
    if i.op0_kind() == OpKind::Memory {
        c.write_op(i, 0, size, r)?;
        c.set_reg(i.op1_register(), d);
    } else {
        c.set_reg(i.op1_register(), d);
        c.set_reg(i.op0_register(), r);
    }
    c.set_flags(STATUS, flags::add(size, d, s, 0, r));
    Ok(())
}

/// CMPXCHG: compare the accumulator with DEST; the destination is always written (with its
/// own value on a mismatch), as on a locked bus cycle (SDM CMPXCHG).
pub(crate) fn cmpxchg(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = Core::op_size(i, 0);
    let m = mask(size);
    let d = c.read_op_rmw(i, 0, size)?;
    let acc = c.regs.gpr[gpr::EAX] & m;
    let r = acc.wrapping_sub(d) & m;
    c.probe_op_write(i, 0, size)?;
    if acc == d {
        let s = c.read_op(i, 1, size)?;
        c.write_op(i, 0, size, s)?;
    } else {
        c.write_op(i, 0, size, d)?;
        let v = (c.regs.gpr[gpr::EAX] & !m) | d;
        c.regs.gpr[gpr::EAX] = v;
    }
    c.set_flags(STATUS, flags::sub(size, acc, d, 0, r));
    Ok(())
}

/// CMPXCHG8B m64: compare EDX:EAX with m64; ZF reports equality.
pub(crate) fn cmpxchg8b(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    if i.op0_kind() != OpKind::Memory {
        return Err(Exception::ud());
    }
    let off = c.ea(i);
    let seg = Core::mem_seg(i);
    let lo = c.read_rmw(seg, off, 4)?;
    let hi = c.read_rmw(seg, off.wrapping_add(4), 4)?;
    c.probe_write(seg, off, 4)?;
    c.probe_write(seg, off.wrapping_add(4), 4)?;
    let (eax, edx) = (c.regs.gpr[gpr::EAX], c.regs.gpr[gpr::EDX]);
    if lo == eax && hi == edx {
        let (ebx, ecx) = (c.regs.gpr[gpr::EBX], c.regs.gpr[gpr::ECX]);
        c.write_mem(seg, off, 4, ebx)?;
        c.write_mem(seg, off.wrapping_add(4), 4, ecx)?;
        c.set_flags(flags::ZF, flags::ZF);
    } else {
        c.write_mem(seg, off, 4, lo)?;
        c.write_mem(seg, off.wrapping_add(4), 4, hi)?;
        c.regs.gpr[gpr::EAX] = lo;
        c.regs.gpr[gpr::EDX] = hi;
        c.set_flags(flags::ZF, 0);
    }
    Ok(())
}

/// CMOVcc: the source is read (and may fault) even when the condition is false; a 32-bit
/// destination is written either way (SDM CMOVcc).
pub(crate) fn cmov(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = Core::op_size(i, 0);
    let v = c.read_op(i, 1, size)?;
    if c.condition(i.condition_code()) {
        c.set_reg(i.op0_register(), v);
    }
    Ok(())
}

/// SETcc.
pub(crate) fn setcc(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let v = u32::from(c.condition(i.condition_code()));
    c.write_op(i, 0, 1, v)
}

/// CBW / CWDE / CWD / CDQ.
pub(crate) fn convert(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let g = &mut c.regs.gpr;
    match i.mnemonic() {
        Mnemonic::Cbw => {
            g[gpr::EAX] = (g[gpr::EAX] & 0xFFFF_0000) | (sext(g[gpr::EAX], 1) & 0xFFFF)
        }
        Mnemonic::Cwde => g[gpr::EAX] = sext(g[gpr::EAX], 2),
        Mnemonic::Cwd => {
            let hi = if g[gpr::EAX] & 0x8000 != 0 { 0xFFFF } else { 0 };
            g[gpr::EDX] = (g[gpr::EDX] & 0xFFFF_0000) | hi;
        }
        _ => {
            g[gpr::EDX] = if g[gpr::EAX] & 0x8000_0000 != 0 {
                0xFFFF_FFFF
            } else {
                0
            }
        }
    }
    Ok(())
}

/// CLC STC CMC CLD STD.
pub(crate) fn flag_op(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let df = Eflags::DF.bits();
    match i.mnemonic() {
        Mnemonic::Clc => c.set_flags(CF, 0),
        Mnemonic::Stc => c.set_flags(CF, CF),
        Mnemonic::Cmc => c.set_flags(CF, c.cf() ^ CF),
        Mnemonic::Cld => c.set_flags(df, 0),
        _ => c.set_flags(df, df),
    }
    Ok(())
}

/// LAHF: AH = SF:ZF:0:AF:0:PF:1:CF.
pub(crate) fn lahf(c: &mut Core, _io: &mut dyn PortIo, _i: &Instruction) -> R {
    let f = (c.regs.eflags.bits() & (STATUS & !OF)) | 2;
    let v = (c.regs.gpr[gpr::EAX] & 0xFFFF_00FF) | (f << 8);
    c.regs.gpr[gpr::EAX] = v;
    Ok(())
}

/// SAHF: SF ZF AF PF CF from AH.
pub(crate) fn sahf(c: &mut Core, _io: &mut dyn PortIo, _i: &Instruction) -> R {
    let ah = (c.regs.gpr[gpr::EAX] >> 8) & 0xFF;
    c.set_flags(STATUS & !OF, ah);
    let _ = AF;
    Ok(())
}

/// NOP and hint instructions without architectural effect here (PAUSE, multi-byte NOP,
/// prefetches, fences).
pub(crate) fn nop(_c: &mut Core, _io: &mut dyn PortIo, _i: &Instruction) -> R {
    Ok(())
}
