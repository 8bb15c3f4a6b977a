//! Bit instructions: BT BTS BTR BTC, BSF BSR, BSWAP (SDM Vol. 2, each instruction's page).
//!
//! * BT*: with a register destination, or an immediate bit offset, the offset is taken
//!   modulo the operand width. With a memory destination and a register offset, the offset
//!   is a signed integer: the operand-sized word at
//!   `EA + (offset SAR log2(width)) * (width / 8)` is accessed (truncated to 16 bits under
//!   16-bit addressing) and bit `offset MOD width` of it is used. BTS/BTR/BTC on memory
//!   are read-modify-write: the write is checked first, so a fault reports a write access
//!   (as on Intel); BT only reads.
//! * BSF/BSR with a zero source: ZF = 1 and the destination is left unchanged (what Intel
//!   processors do; the SDM calls the destination undefined).
//! * BSWAP with a 16-bit operand (undefined): the 16-bit register becomes 0, as on Intel
//!   processors; the upper half of the 32-bit register is kept.
//!
//! Undefined flags come from [`policy`].

use super::flags::{CF, ZF};
use super::operand::mask;
use super::{Core, PortIo};
use crate::exception::Exception;
use iced_x86::{Instruction, Mnemonic, OpKind};

type R = Result<(), Exception>;

/// Undefined-flag choices of this family (checked against an Intel Cascade Lake host with
/// the `testsuites` native executor).
pub(crate) mod policy {
    use super::super::flags::{self, AF, CF, OF, PF, SF};

    /// The flags BT/BTS/BTR/BTC leave undefined (OF SF AF PF) that the policy writes: none,
    /// Intel keeps them.
    pub(crate) const BT_UNDEFINED: u32 = 0;

    /// Values of [`BT_UNDEFINED`].
    #[inline(always)]
    pub(crate) fn bt_flags() -> u32 {
        0
    }

    /// The flags BSF/BSR leave undefined that the policy writes: all of CF OF SF AF PF.
    pub(crate) const BSF_UNDEFINED: u32 = CF | OF | SF | AF | PF;

    /// Values of [`BSF_UNDEFINED`]: CF OF SF AF cleared, PF the parity of the bit index
    /// found (of 0 when the source is 0), as on Intel.
    #[inline(always)]
    pub(crate) fn bsf_flags(index: u32) -> u32 {
        flags::szp(1, index) & PF
    }
}

/// Whether the memory operand uses 16-bit addressing.
#[inline(always)]
fn addr16(i: &Instruction) -> bool {
    i.memory_displ_size() == 2 || i.memory_base().is_gpr16() || i.memory_index().is_gpr16()
}

/// BT BTS BTR BTC r/m16/32, r16/32|imm8.
pub(crate) fn bt(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = Core::op_size(i, 0);
    let width = size * 8;
    let mn = i.mnemonic();
    let write = mn != Mnemonic::Bt;
    let (v, bit, mem_off) = if i.op0_kind() == OpKind::Memory {
        let seg = Core::mem_seg(i);
        let ea = c.ea(i);
        let (off, bit) = if i.op1_kind() == OpKind::Register {
            let raw = c.reg(i.op1_register());
            let s = if size == 2 {
                raw as u16 as i16 as i32
            } else {
                raw as i32
            };
            let words = s >> width.trailing_zeros();
            let mut off = ea.wrapping_add((words as u32).wrapping_mul(size));
            if addr16(i) {
                off &= 0xFFFF;
            }
            (off, (s as u32) & (width - 1))
        } else {
            (ea, u32::from(i.immediate8()) & (width - 1))
        };
        if write {
            // Read-modify-write: a fault reports a write access, as on Intel.
            c.probe_write(seg, off, size)?;
        }
        let v = c.read_mem(seg, off, size)?;
        (v, bit, Some((seg, off)))
    } else {
        let v = c.reg(i.op0_register());
        let b = c.read_op(i, 1, 1)? & (width - 1);
        (v, b, None)
    };
    let old = (v >> bit) & 1;
    if write {
        let r = match mn {
            Mnemonic::Bts => v | (1 << bit),
            Mnemonic::Btr => v & !(1 << bit),
            _ => v ^ (1 << bit),
        } & mask(size);
        match mem_off {
            Some((seg, off)) => c.write_mem(seg, off, size, r)?,
            None => c.set_reg(i.op0_register(), r),
        }
    }
    c.set_flags(CF | policy::BT_UNDEFINED, old | policy::bt_flags());
    Ok(())
}

/// BSF / BSR r16/32, r/m16/32.
pub(crate) fn bsf_bsr(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = Core::op_size(i, 0);
    let src = c.read_op(i, 1, size)? & mask(size);
    if src == 0 {
        c.set_flags(ZF | policy::BSF_UNDEFINED, ZF | policy::bsf_flags(0));
        return Ok(());
    }
    let r = if i.mnemonic() == Mnemonic::Bsf {
        src.trailing_zeros()
    } else {
        31 - src.leading_zeros()
    };
    c.set_reg(i.op0_register(), r);
    c.set_flags(ZF | policy::BSF_UNDEFINED, policy::bsf_flags(r));
    Ok(())
}

/// BSWAP r32 (r16: see the module docs).
pub(crate) fn bswap(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let r = i.op0_register();
    let v = c.reg(r);
    if r.size() == 2 {
        c.set_reg(r, 0);
    } else {
        c.set_reg(r, v.swap_bytes());
    }
    Ok(())
}
