//! Multiply and divide: MUL, IMUL (one-, two- and three-operand forms), DIV, IDIV
//! (SDM Vol. 2, each instruction's page).
//!
//! * MUL/IMUL: CF = OF = 1 when the upper half of the product is significant (MUL: nonzero;
//!   IMUL: not the sign extension of the lower half / of the truncated result).
//! * DIV/IDIV raise #DE for a zero divisor or a quotient that does not fit the destination
//!   (including IDIV of the most negative dividend by -1); nothing is written then.
//!
//! Undefined flags (MUL/IMUL: SF ZF AF PF; DIV/IDIV: all six) come from [`policy`].

use super::flags::{CF, OF};
use super::operand::{mask, sext};
use super::{Core, PortIo};
use crate::exception::{vector, Exception};
use crate::state::gpr;
use iced_x86::{Instruction, Mnemonic};

type R = Result<(), Exception>;

/// Undefined-flag choices of this family (checked against an Intel Cascade Lake host with
/// the `testsuites` native executor).
pub(crate) mod policy {
    use super::super::flags::{szp, AF, PF, SF, ZF};

    /// The flags MUL/IMUL leave undefined that the policy writes: all of SF ZF AF PF.
    pub(crate) const MUL_UNDEFINED: u32 = SF | ZF | AF | PF;

    /// Values of the MUL/IMUL undefined flags, as on Intel: SF and PF of the low half of
    /// the product (`size` bytes, `lo`; for the two- and three-operand forms the
    /// truncated result), ZF and AF cleared.
    #[inline(always)]
    pub(crate) fn mul_flags(size: u32, lo: u32) -> u32 {
        szp(size, lo) & (SF | PF)
    }

    /// The flags DIV/IDIV leave undefined that the policy writes: none (Intel keeps all
    /// six).
    pub(crate) const DIV_UNDEFINED: u32 = 0;

    /// Values of [`DIV_UNDEFINED`].
    #[inline(always)]
    pub(crate) fn div_flags() -> u32 {
        0
    }
}

#[inline(always)]
fn de() -> Exception {
    Exception::fault(vector::DE)
}

/// Writes the low `size` bytes of `v` into general register `idx`, merging.
#[inline(always)]
fn put(c: &mut Core, idx: usize, size: u32, v: u32) {
    let m = mask(size);
    let g = &mut c.regs.gpr[idx];
    *g = (*g & !m) | (v & m);
}

/// The double-width accumulator AX / DX:AX / EDX:EAX for an operand of `size` bytes.
#[inline(always)]
fn acc_wide(c: &Core, size: u32) -> u64 {
    let g = &c.regs.gpr;
    match size {
        1 => u64::from(g[gpr::EAX] & 0xFFFF),
        2 => (u64::from(g[gpr::EDX] & 0xFFFF) << 16) | u64::from(g[gpr::EAX] & 0xFFFF),
        _ => (u64::from(g[gpr::EDX]) << 32) | u64::from(g[gpr::EAX]),
    }
}

/// Stores a double-width product or a quotient/remainder pair.
#[inline(always)]
fn store_pair(c: &mut Core, size: u32, lo: u32, hi: u32) {
    if size == 1 {
        put(c, gpr::EAX, 2, (lo & 0xFF) | ((hi & 0xFF) << 8));
    } else {
        put(c, gpr::EAX, size, lo);
        put(c, gpr::EDX, size, hi);
    }
}

/// MUL r/m and IMUL in all forms.
pub(crate) fn mul(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let signed = i.mnemonic() == Mnemonic::Imul;
    if i.op_count() >= 2 {
        // IMUL r, r/m[, imm]: truncated product.
        let size = Core::op_size(i, 0);
        let (a, b) = if i.op_count() == 3 {
            (c.read_op(i, 1, size)?, c.read_op(i, 2, size)?)
        } else {
            (c.reg(i.op0_register()), c.read_op(i, 1, size)?)
        };
        let full = i64::from(sext(a, size) as i32) * i64::from(sext(b, size) as i32);
        let r = (full as u32) & mask(size);
        let ovf = i64::from(sext(r, size) as i32) != full;
        c.set_reg(i.op0_register(), r);
        let f = if ovf { CF | OF } else { 0 } | policy::mul_flags(size, r);
        c.set_flags(CF | OF | policy::MUL_UNDEFINED, f);
        return Ok(());
    }
    let size = Core::op_size(i, 0);
    let m = mask(size);
    let bits = size * 8;
    let src = c.read_op(i, 0, size)? & m;
    let acc = c.regs.gpr[gpr::EAX] & m;
    let (lo, hi, ovf) = if signed {
        let p = i64::from(sext(acc, size) as i32) * i64::from(sext(src, size) as i32);
        let lo = (p as u32) & m;
        let hi = ((p >> bits) as u32) & m;
        (lo, hi, i64::from(sext(lo, size) as i32) != p)
    } else {
        let p = u64::from(acc) * u64::from(src);
        let lo = (p as u32) & m;
        let hi = ((p >> bits) as u32) & m;
        (lo, hi, hi != 0)
    };
    store_pair(c, size, lo, hi);
    let f = if ovf { CF | OF } else { 0 } | policy::mul_flags(size, lo);
    c.set_flags(CF | OF | policy::MUL_UNDEFINED, f);
    Ok(())
}

/// DIV / IDIV r/m.
pub(crate) fn div(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let size = Core::op_size(i, 0);
    let m = mask(size);
    let bits = size * 8;
    let src = c.read_op(i, 0, size)? & m;
    if src == 0 {
        return Err(de());
    }
    let dividend = acc_wide(c, size);
    let (q, r) = if i.mnemonic() == Mnemonic::Div {
        let q = dividend / u64::from(src);
        if q > u64::from(m) {
            return Err(de());
        }
        (q as u32, (dividend % u64::from(src)) as u32)
    } else {
        // Sign-extend the 2*bits-wide dividend.
        let sh = 64 - 2 * bits;
        let n = i128::from(((dividend << sh) as i64) >> sh);
        let d = i128::from(sext(src, size) as i32);
        let q = n / d;
        let r = n % d;
        let lim = 1i128 << (bits - 1);
        if q >= lim || q < -lim {
            return Err(de());
        }
        (q as u32 & m, r as u32 & m)
    };
    store_pair(c, size, q, r);
    c.set_flags(policy::DIV_UNDEFINED, policy::div_flags());
    Ok(())
}
