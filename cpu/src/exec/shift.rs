//! Shifts and rotates: ROL ROR RCL RCR SHL/SAL SHR SAR (by 1, CL, imm8) and SHLD/SHRD
//! (SDM Vol. 2 "RCL/RCR/ROL/ROR", "SAL/SAR/SHL/SHR", "SHLD", "SHRD").
//!
//! The count is masked to 5 bits. A masked count of 0 changes neither the operand nor the
//! flags; a memory operand is still accessed (and can fault) but not written. Memory
//! destinations are read-modify-write accesses: the write is checked before the read, so a
//! fault reports a write access (error code W = 1, #GP for a read-only segment), as on
//! Intel -- for every count, 0 included.
//!
//! Undefined results and flags follow a modern Intel host CPU (checked against an Intel
//! Cascade Lake host with the `testsuites` native executor); every choice is made in
//! [`policy`] so it can be changed in one place:
//! * OF for counts other than 1 ([`policy::OF_FROM_FIRST_STEP`]): Intel computes OF as if
//!   the count were 1, i.e. the SDM's count-1 formula applied to the first one-bit step on
//!   the *original* operand: ROL/RCL/SHL/SHLD: MSB(DEST) XOR bit n-2 of DEST; ROR:
//!   MSB(DEST) XOR LSB(DEST); RCR: MSB(DEST) XOR CF; SHR: MSB(DEST); SAR: 0; SHRD:
//!   MSB(DEST) XOR LSB(SRC).
//! * AF after SHL/SHR/SAR/SHLD/SHRD with a nonzero count: cleared ([`policy::shift_af`]);
//!   rotates leave it unchanged.
//! * CF after SHL/SHR of an 8/16-bit operand by at least its width: the bit that the
//!   shift-by-one loop of the SDM pseudo-code gives (0 once every bit has left; the sign
//!   for SAR).
//! * 16-bit SHLD/SHRD with a count of 17..31: the operands are treated as the 48-bit
//!   concatenation DEST:SRC:DEST (DEST in bits 47-32 and 15-0), shifted left (SHLD) or
//!   right (SHRD) by the count; the result is the 16 bits at the destination's position
//!   (bits 47-32 for SHLD, 15-0 for SHRD) and CF the last bit shifted out.
//! * ROL/ROR of a register by an immediate count other than 1: OF is unchanged
//!   ([`policy::ROTATE_IMM_KEEPS_OF`]); by CL it follows the rule above.
//! * RCL/RCR of an 8/16-bit operand whose masked count is a nonzero multiple of 9/17: the
//!   rotation is complete, and no flag changes at all (OF included), as on Intel
//!   ([`policy::RCX_FULL_ROTATION_KEEPS_FLAGS`]).

use super::flags::{szp, AF, CF, OF, PF, SF, ZF};
use super::operand::{mask, sext, sign_bit};
use super::{Core, PortIo};
use crate::exception::Exception;
use crate::state::gpr;
use iced_x86::{Instruction, Mnemonic, OpKind};

type R = Result<(), Exception>;

/// Undefined-flag choices of this family (see the module docs).
pub(crate) mod policy {
    /// `true`: for a count other than 1, OF is the count-1 formula applied to the first
    /// one-bit step on the original operand (what Intel processors do). `false`: the count-1
    /// formula applied to the final result and CF (an older emulator convention).
    pub(crate) const OF_FROM_FIRST_STEP: bool = true;

    /// `true`: RCL/RCR of 8/16-bit operands by a nonzero multiple of 9/17 changes no flag
    /// (Intel). `false`: CF and OF are rewritten as for any nonzero count.
    pub(crate) const RCX_FULL_ROTATION_KEEPS_FLAGS: bool = true;

    /// `true`: ROL/ROR of a register by an immediate count (C0/C1 encodings) other than 1
    /// leave OF unchanged (Intel: that form writes only CF then; the CL forms and the
    /// memory forms follow [`OF_FROM_FIRST_STEP`]).
    pub(crate) const ROTATE_IMM_KEEPS_OF: bool = true;

    /// AF after SHL/SHR/SAR/SHLD/SHRD with a nonzero count (undefined): cleared, as on
    /// Intel. Returns the AF bit to store.
    #[inline(always)]
    pub(crate) fn shift_af() -> u32 {
        0
    }
}

/// Reads the count operand of a shift (1, CL or imm8), masked to 5 bits.
#[inline(always)]
fn count_of(c: &Core, i: &Instruction, n: u32) -> u32 {
    let raw = if n >= i.op_count() {
        1
    } else {
        match i.op_kind(n) {
            OpKind::Register => c.regs.gpr[gpr::ECX] & 0xFF,
            OpKind::Immediate8 => u32::from(i.immediate8()),
            _ => i.immediate(n) as u32,
        }
    };
    raw & 0x1F
}

/// ROL ROR RCL RCR SHL SAL SHR SAR.
pub(crate) fn shift(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = Core::op_size(i, 0);
    let bits = size * 8;
    let m = mask(size);
    let msb = sign_bit(size);
    let count = count_of(c, i, 1);
    // A memory destination is accessed for writing (read-modify-write): a fault reports a
    // write access, as on Intel.
    c.probe_op_write(i, 0, size)?;
    let v = c.read_op(i, 0, size)? & m;
    if count == 0 {
        return Ok(());
    }
    let mn = i.mnemonic();
    let cf_in = c.cf();
    let top = u32::from(v & msb != 0);
    let next = u32::from(v & (msb >> 1) != 0);
    // (result, CF, OF of the final result by the count-1 formula, OF of the first one-bit
    // step, whether SF/ZF/PF/AF are written).
    let (r, cf, of_last, of_first, arith) = match mn {
        Mnemonic::Rol => {
            let k = count % bits;
            let r = if k == 0 {
                v
            } else {
                ((v << k) | (v >> (bits - k))) & m
            };
            let cf = r & 1;
            (r, cf, u32::from(r & msb != 0) ^ cf, top ^ next, false)
        }
        Mnemonic::Ror => {
            let k = count % bits;
            let r = if k == 0 {
                v
            } else {
                ((v >> k) | (v << (bits - k))) & m
            };
            let cf = u32::from(r & msb != 0);
            let of = cf ^ u32::from(r & (msb >> 1) != 0);
            (r, cf, of, top ^ (v & 1), false)
        }
        Mnemonic::Rcl | Mnemonic::Rcr => {
            let k = match size {
                1 => count % 9,
                2 => count % 17,
                _ => count,
            };
            if k == 0 && policy::RCX_FULL_ROTATION_KEEPS_FLAGS {
                // The (bits+1)-bit rotation is complete: nothing changes.
                return c.write_op(i, 0, size, v);
            }
            // Rotate the (bits+1)-bit value CF:DEST by k.
            let w = u64::from(v) | (u64::from(cf_in) << bits);
            let wbits = bits + 1;
            let wm = (1u64 << wbits) - 1;
            let rw = if k == 0 {
                w
            } else if mn == Mnemonic::Rcl {
                ((w << k) | (w >> (wbits - k))) & wm
            } else {
                ((w >> k) | (w << (wbits - k))) & wm
            };
            let r = (rw as u32) & m;
            let cf = ((rw >> bits) & 1) as u32;
            if mn == Mnemonic::Rcl {
                (r, cf, u32::from(r & msb != 0) ^ cf, top ^ next, false)
            } else {
                // XOR of the two most-significant bits of the result (= MSB(DEST) XOR CF
                // before a rotation by one).
                let of = u32::from(r & msb != 0) ^ u32::from(r & (msb >> 1) != 0);
                (r, cf, of, top ^ cf_in, false)
            }
        }
        Mnemonic::Shl | Mnemonic::Sal => {
            let w = u64::from(v) << count;
            let r = (w as u32) & m;
            let cf = ((w >> bits) & 1) as u32;
            (r, cf, u32::from(r & msb != 0) ^ cf, top ^ next, true)
        }
        Mnemonic::Shr => {
            let r = v >> count;
            let cf = (v >> (count - 1)) & 1;
            (r, cf, top, top, true)
        }
        _ => {
            // SAR.
            let s = sext(v, size) as i32;
            let r = ((s >> count) as u32) & m;
            let cf = ((s >> (count - 1)) as u32) & 1;
            (r, cf, 0, 0, true)
        }
    };
    c.write_op(i, 0, size, r)?;
    let of = if policy::OF_FROM_FIRST_STEP {
        of_first
    } else {
        of_last
    };
    let mut f = cf | if of != 0 { OF } else { 0 };
    if policy::ROTATE_IMM_KEEPS_OF
        && count != 1
        && matches!(mn, Mnemonic::Rol | Mnemonic::Ror)
        && i.op1_kind() != OpKind::Register
        && i.op0_kind() == OpKind::Register
    {
        c.set_flags(CF, f);
    } else if arith {
        f |= szp(size, r) | policy::shift_af();
        c.set_flags(CF | OF | SF | ZF | PF | AF, f);
    } else {
        c.set_flags(CF | OF, f);
    }
    Ok(())
}

/// SHLD / SHRD r/m16/32, r16/32, imm8|CL.
pub(crate) fn shift_double(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = Core::op_size(i, 0);
    let m = mask(size);
    let msb = sign_bit(size);
    let count = count_of(c, i, 2);
    c.probe_op_write(i, 0, size)?;
    let d = c.read_op(i, 0, size)? & m;
    if count == 0 {
        return Ok(());
    }
    let s = c.reg(i.op1_register()) & m;
    let shld = i.mnemonic() == Mnemonic::Shld;
    let (r, cf) = if size == 2 {
        // 48-bit DEST:SRC:DEST (see the module docs for counts above 16).
        let t = (u64::from(d) << 32) | (u64::from(s) << 16) | u64::from(d);
        if shld {
            (
                ((t >> (32 - count)) as u32) & m,
                ((t >> (48 - count)) & 1) as u32,
            )
        } else {
            ((t >> count) as u32 & m, ((t >> (count - 1)) & 1) as u32)
        }
    } else if shld {
        let t = (u64::from(d) << 32) | u64::from(s);
        (
            ((t << count) >> 32) as u32,
            ((t >> (64 - count)) & 1) as u32,
        )
    } else {
        let t = (u64::from(s) << 32) | u64::from(d);
        ((t >> count) as u32, ((t >> (count - 1)) & 1) as u32)
    };
    c.write_op(i, 0, size, r)?;
    // OF: sign change of a one-bit step (see the policy for counts other than 1).
    let of = if count == 1 || !policy::OF_FROM_FIRST_STEP {
        (r ^ d) & msb != 0
    } else if shld {
        ((d ^ (d << 1)) & msb) != 0
    } else {
        (d & msb != 0) != (s & 1 != 0)
    };
    let f = cf | if of { OF } else { 0 } | szp(size, r) | policy::shift_af();
    c.set_flags(CF | OF | SF | ZF | PF | AF, f);
    Ok(())
}
