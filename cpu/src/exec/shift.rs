//! Shifts and rotates: ROL ROR RCL RCR SHL/SAL SHR SAR (by 1, CL, imm8) and SHLD/SHRD
//! (SDM Vol. 2 "RCL/RCR/ROL/ROR", "SAL/SAR/SHL/SHR", "SHLD", "SHRD").
//!
//! The count is masked to 5 bits. A masked count of 0 changes neither the operand nor the
//! flags; a memory operand is still read (and can fault) but not written.
//!
//! Undefined results and flags follow a modern Intel host CPU; every choice is made in one
//! of the `policy` functions below so it can be changed in one place:
//! * OF for counts other than 1: [`policy::of_for_count`].
//! * AF after SHL/SHR/SAR/SHLD/SHRD with a nonzero count: [`policy::shift_af`].
//! * CF after SHL/SHR of an 8/16-bit operand by at least its width: the bit that the
//!   shift-by-one loop of the SDM pseudo-code would give, i.e. computed on a wide
//!   intermediate (0 once every bit has left, the sign for SAR).
//! * 16-bit SHLD/SHRD with a count of 17..31: the operands are treated as the 48-bit
//!   concatenation DEST:SRC:DEST (SHLD) / DEST:SRC:DEST with DEST lowest (SHRD), shifted by
//!   the count; the result is the 16 bits at the destination's position and CF the last
//!   bit shifted out. This is what Intel processors produce.
//! * RCL/RCR of an 8/16-bit operand whose masked count is a nonzero multiple of 9/17: the
//!   operand and CF are unchanged (the rotation is complete); OF is set as for count 1
//!   (MSB(DEST) XOR CF for RCL, the XOR of the two top bits for RCR) -- see
//!   [`policy::of_for_count`].

use super::flags::{szp, AF, CF, OF, PF, SF, ZF};
use super::operand::{mask, sext, sign_bit};
use super::{Core, PortIo};
use crate::exception::Exception;
use crate::state::gpr;
use iced_x86::{Instruction, Mnemonic, OpKind};

type R = Result<(), Exception>;

/// Undefined-flag choices of this family (one function per flag, see the module docs).
pub(crate) mod policy {
    /// Whether OF is computed with the count-1 formula for every nonzero count (`true`), or
    /// (for `false`) left as the architecturally defined "undefined" choice given by
    /// [`of_other`]. Modern Intel processors use the count-1 formula for rotates, SHL
    /// and SHLD/SHRD.
    #[inline(always)]
    pub(crate) fn of_for_count(m: iced_x86::Mnemonic, count: u32) -> OfRule {
        use iced_x86::Mnemonic as M;
        if count == 1 {
            return OfRule::Formula;
        }
        match m {
            M::Rol | M::Ror | M::Rcl | M::Rcr => OfRule::Formula,
            M::Shl | M::Sal | M::Shld | M::Shrd => OfRule::Formula,
            // SHR: the count-1 formula (MSB of the original operand).
            M::Shr => OfRule::Formula,
            // SAR: OF = 0 for every count.
            _ => OfRule::Formula,
        }
    }

    /// How OF is produced for a given count.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub(crate) enum OfRule {
        /// The SDM's count-1 formula, applied to the actual result.
        Formula,
        /// Cleared.
        #[allow(dead_code)]
        Clear,
    }

    /// AF after a shift (SHL/SHR/SAR/SHLD/SHRD) with a nonzero count: undefined; the host
    /// leaves it cleared... (value returned is the AF bit to store).
    #[inline(always)]
    pub(crate) fn shift_af() -> u32 {
        0
    }
}

use policy::OfRule;

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
    let v = c.read_op(i, 0, size)? & m;
    if count == 0 {
        return Ok(());
    }
    let mn = i.mnemonic();
    let of_rule = policy::of_for_count(mn, count);
    let cf_in = c.cf();
    // (result, CF, OF) and whether SF/ZF/PF/AF are written (shifts) or kept (rotates).
    let (r, cf, of, arith) = match mn {
        Mnemonic::Rol => {
            let k = count % bits;
            let r = if k == 0 {
                v
            } else {
                ((v << k) | (v >> (bits - k))) & m
            };
            let cf = r & 1;
            let of = u32::from(r & msb != 0) ^ cf;
            (r, cf, of, false)
        }
        Mnemonic::Ror => {
            let k = count % bits;
            let r = if k == 0 {
                v
            } else {
                ((v >> k) | (v << (bits - k))) & m
            };
            let cf = u32::from(r & msb != 0);
            let of = u32::from(r & msb != 0) ^ u32::from(r & (msb >> 1) != 0);
            (r, cf, of, false)
        }
        Mnemonic::Rcl => {
            let k = match size {
                1 => count % 9,
                2 => count % 17,
                _ => count,
            };
            // Rotate the (bits+1)-bit value CF:DEST left by k.
            let w = u64::from(v) | (u64::from(cf_in) << bits);
            let wbits = bits + 1;
            let wm = (1u64 << wbits) - 1;
            let rw = if k == 0 {
                w
            } else {
                ((w << k) | (w >> (wbits - k))) & wm
            };
            let r = (rw as u32) & m;
            let cf = ((rw >> bits) & 1) as u32;
            let of = u32::from(r & msb != 0) ^ cf;
            (r, cf, of, false)
        }
        Mnemonic::Rcr => {
            let k = match size {
                1 => count % 9,
                2 => count % 17,
                _ => count,
            };
            let w = u64::from(v) | (u64::from(cf_in) << bits);
            let wbits = bits + 1;
            let wm = (1u64 << wbits) - 1;
            let rw = if k == 0 {
                w
            } else {
                ((w >> k) | (w << (wbits - k))) & wm
            };
            let r = (rw as u32) & m;
            let cf = ((rw >> bits) & 1) as u32;
            // XOR of the two most-significant bits of the result (= MSB(DEST) XOR CF before
            // a rotation by one).
            let of = u32::from(r & msb != 0) ^ u32::from(r & (msb >> 1) != 0);
            (r, cf, of, false)
        }
        Mnemonic::Shl | Mnemonic::Sal => {
            let w = u64::from(v) << count;
            let r = (w as u32) & m;
            let cf = ((w >> bits) & 1) as u32;
            let of = u32::from(r & msb != 0) ^ cf;
            (r, cf, of, true)
        }
        Mnemonic::Shr => {
            let r = v >> count;
            let cf = (v >> (count - 1)) & 1;
            let of = u32::from(v & msb != 0);
            (r, cf, of, true)
        }
        _ => {
            // SAR.
            let s = sext(v, size) as i32;
            let r = ((s >> count) as u32) & m;
            let cf = ((s >> (count - 1)) as u32) & 1;
            (r, cf, 0, true)
        }
    };
    c.write_op(i, 0, size, r)?;
    let of = match of_rule {
        OfRule::Formula => of,
        OfRule::Clear => 0,
    };
    let mut f = cf | if of != 0 { OF } else { 0 };
    if arith {
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
    let bits = size * 8;
    let m = mask(size);
    let msb = sign_bit(size);
    let count = count_of(c, i, 2);
    let d = c.read_op(i, 0, size)? & m;
    if count == 0 {
        return Ok(());
    }
    let s = c.reg(i.op1_register()) & m;
    let mn = i.mnemonic();
    let (r, cf) = if size == 2 {
        // 48-bit DEST:SRC:DEST (see the module docs for counts above 16).
        let t = (u64::from(d) << 32) | (u64::from(s) << 16) | u64::from(d);
        if mn == Mnemonic::Shld {
            (
                ((t >> (32 - count)) as u32) & m,
                ((t >> (48 - count)) & 1) as u32,
            )
        } else {
            ((t >> count) as u32 & m, ((t >> (count - 1)) & 1) as u32)
        }
    } else if mn == Mnemonic::Shld {
        let t = (u64::from(d) << 32) | u64::from(s);
        (
            ((t << count) >> 32) as u32,
            ((t >> (64 - count)) & 1) as u32,
        )
    } else {
        let t = (u64::from(s) << 32) | u64::from(d);
        ((t >> count) as u32, ((t >> (count - 1)) & 1) as u32)
    };
    let _ = bits;
    c.write_op(i, 0, size, r)?;
    // OF: sign change (count 1; the same formula otherwise, see the policy).
    let of = match policy::of_for_count(mn, count) {
        OfRule::Formula => (r ^ d) & msb != 0,
        OfRule::Clear => false,
    };
    let f = cf | if of { OF } else { 0 } | szp(size, r) | policy::shift_af();
    c.set_flags(CF | OF | SF | ZF | PF | AF, f);
    Ok(())
}
