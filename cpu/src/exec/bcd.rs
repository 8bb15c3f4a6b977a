//! Decimal adjust: DAA DAS AAA AAS AAM AAD, and XLAT (SDM Vol. 2, each instruction's
//! page; the operation sections are followed literally, using the current SDM text for
//! AAA/AAS: AX := AX + 106H, AX := AX - 6 then AH := AH - 1).
//!
//! Undefined flags are produced by the functions of [`policy`] (one per instruction), chosen
//! to match a modern Intel host CPU.

use super::flags::{szp, AF, CF, OF, PF, SF, STATUS, ZF};
use super::{Core, PortIo};
use crate::exception::{vector, Exception};
use crate::state::gpr;
use iced_x86::{Instruction, Mnemonic};

type R = Result<(), Exception>;

/// Undefined-flag choices of this family.
pub(crate) mod policy {
    use super::super::flags::{OF, SF};

    /// OF after DAA/DAS (undefined): set when the adjustment changed the sign from clear to
    /// set (DAA) or from set to clear (DAS), like the signed overflow of the additions and
    /// subtractions the adjustment performs.
    #[inline(always)]
    pub(crate) fn daa_das_of(old_al: u32, new_al: u32, das: bool) -> u32 {
        let changed = if das {
            old_al & 0x80 != 0 && new_al & 0x80 == 0
        } else {
            old_al & 0x80 == 0 && new_al & 0x80 != 0
        };
        if changed {
            OF
        } else {
            0
        }
    }

    /// OF SF ZF PF after AAA/AAS (undefined): SF/ZF/PF of the adjusted AL before it is masked
    /// to its low nibble (computed by the caller as `szp_of_al`), OF cleared.
    #[inline(always)]
    pub(crate) fn aaa_aas_flags(szp_of_al: u32) -> u32 {
        szp_of_al & !SF & !OF | (szp_of_al & SF)
    }

    /// OF AF CF after AAM/AAD (undefined): cleared.
    #[inline(always)]
    pub(crate) fn aam_aad_flags() -> u32 {
        0
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
    let f = szp(1, a)
        | if cf { CF } else { 0 }
        | if af { AF } else { 0 }
        | policy::daa_das_of(old_al, a, das);
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
    let undefined = policy::aaa_aas_flags(szp(1, new_ax));
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
    c.set_flags(STATUS, szp(1, r) | policy::aam_aad_flags());
    Ok(())
}

/// AAD imm8: AL = (AL + AH * imm8) AND FFH, AH = 0.
pub(crate) fn aad(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let base = u32::from(i.immediate8());
    let ax = c.regs.gpr[gpr::EAX];
    let r = ((ax & 0xFF) + ((ax >> 8) & 0xFF) * base) & 0xFF;
    set_ax(c, r);
    c.set_flags(STATUS, szp(1, r) | policy::aam_aad_flags());
    Ok(())
}

/// XLAT/XLATB: AL = [seg:(E)BX + zero-extended AL] (the address size picks BX or EBX; the
/// segment defaults to DS and can be overridden).
pub(crate) fn xlat(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let off = c.ea(i);
    let v = c.read_mem(Core::mem_seg(i), off, 1)?;
    set_al(c, v);
    let _ = (OF, SF, ZF, PF);
    Ok(())
}
