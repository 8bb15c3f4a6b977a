//! Decimal adjust: DAA DAS AAA AAS AAM AAD, and XLAT (SDM Vol. 2, each instruction's
//! page; the operation sections are followed literally, using the current SDM text for
//! AAA/AAS: AX := AX + 106H, AX := AX - 6 then AH := AH - 1).
//!
//! Undefined flags are produced by the functions of [`policy`] (one per instruction), chosen
//! to match a modern Intel host CPU.

use super::flags::{szp, AF, CF, STATUS};
use super::{Core, PortIo};
use crate::exception::{vector, Exception};
use crate::state::gpr;
use iced_x86::{Instruction, Mnemonic};

type R = Result<(), Exception>;

/// Undefined-flag choices of this family (checked against an Intel Cascade Lake host with
/// the `testsuites` native executor).
pub(crate) mod policy {
    use super::super::flags;

    /// OF after DAA/DAS (undefined): cleared.
    #[inline(always)]
    pub(crate) fn daa_das_of() -> u32 {
        0
    }

    /// OF SF ZF PF after AAA/AAS (undefined): SF ZF PF of the final AL (after it is
    /// masked to its low nibble), OF cleared. `final_al` is the value written to AL.
    #[inline(always)]
    pub(crate) fn aaa_aas_flags(final_al: u32) -> u32 {
        flags::szp(1, final_al)
    }

    /// OF AF CF after AAM (undefined): cleared.
    #[inline(always)]
    pub(crate) fn aam_flags() -> u32 {
        0
    }

    /// OF AF CF after AAD (undefined): those of the byte addition the instruction performs,
    /// tempAL + (tempAH * imm8 AND FFH).
    #[inline(always)]
    pub(crate) fn aad_flags(al: u32, product: u32, result: u32) -> u32 {
        flags::add(1, al, product, 0, result) & (flags::OF | flags::AF | flags::CF)
    }
}

#[inline(always)]
fn al(c: &Core) -> u32 {
    c.regs.gpr[gpr::EAX] & 0xFF
}

#[inline(always)]
fn set_al(c: &mut Core, v: u32) {
    let e = &mut c.regs.gpr[gpr::EAX];
    *e = (*e & !0xFF) | (v & 0xFF);
}

#[inline(always)]
fn set_ax(c: &mut Core, v: u32) {
    let e = &mut c.regs.gpr[gpr::EAX];
    *e = (*e & !0xFFFF) | (v & 0xFFFF);
}

/// DAA / DAS.
pub(crate) fn daa_das(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let das = i.mnemonic() == Mnemonic::Das;
    let old_al = al(c);
    let old_cf = c.cf() != 0;
    let mut a = old_al;
    let mut cf = false;
    let af;
    if (a & 0x0F) > 9 || c.flag(AF) {
        if das {
            cf = old_cf || a < 6;
            a = a.wrapping_sub(6) & 0xFF;
        } else {
            cf = old_cf || a + 6 > 0xFF;
            a = (a + 6) & 0xFF;
        }
        af = true;
    } else {
        af = false;
    }
    if old_al > 0x99 || old_cf {
        a = if das {
            a.wrapping_sub(0x60) & 0xFF
        } else {
            (a + 0x60) & 0xFF
        };
        cf = true;
    } else if !das {
        cf = false;
    }
    set_al(c, a);
    let f = szp(1, a) | if cf { CF } else { 0 } | if af { AF } else { 0 } | policy::daa_das_of();
    c.set_flags(STATUS, f);
    Ok(())
}

/// AAA / AAS.
pub(crate) fn aaa_aas(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let ax = c.regs.gpr[gpr::EAX] & 0xFFFF;
    let adjust = (ax & 0x0F) > 9 || c.flag(AF);
    let new_ax = if !adjust {
        ax
    } else if i.mnemonic() == Mnemonic::Aaa {
        ax.wrapping_add(0x106) & 0xFFFF
    } else {
        ax.wrapping_sub(6).wrapping_sub(0x100) & 0xFFFF
    };
    let undefined = policy::aaa_aas_flags(new_ax & 0x0F);
    set_ax(c, new_ax & 0xFF0F);
    let f = undefined | if adjust { AF | CF } else { 0 };
    c.set_flags(STATUS, f);
    Ok(())
}

/// AAM imm8: AH = AL / imm8, AL = AL MOD imm8; #DE when imm8 = 0.
pub(crate) fn aam(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let base = u32::from(i.immediate8());
    if base == 0 {
        return Err(Exception::fault(vector::DE));
    }
    let t = al(c);
    let r = ((t / base) << 8) | (t % base);
    set_ax(c, r);
    c.set_flags(STATUS, szp(1, r) | policy::aam_flags());
    Ok(())
}

/// AAD imm8: AL = (AL + AH * imm8) AND FFH, AH = 0.
pub(crate) fn aad(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let base = u32::from(i.immediate8());
    let ax = c.regs.gpr[gpr::EAX];
    let t = ax & 0xFF;
    let product = (((ax >> 8) & 0xFF) * base) & 0xFF;
    let r = (t + product) & 0xFF;
    set_ax(c, r);
    c.set_flags(STATUS, szp(1, r) | policy::aad_flags(t, product, r));
    Ok(())
}

/// XLAT/XLATB: AL = [seg:(E)BX + zero-extended AL] (the address size picks BX or EBX; the
/// segment defaults to DS and can be overridden).
pub(crate) fn xlat(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let off = c.ea(i);
    let v = c.read_mem(Core::mem_seg(i), off, 1)?;
    set_al(c, v);
    Ok(())
}
