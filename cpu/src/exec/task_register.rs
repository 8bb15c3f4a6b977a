//! LLDT, LTR, SLDT, STR: the LDT register and the task register (SDM Vol. 3 §2.4.3-2.4.4;
//! Vol. 2 LLDT, LTR, SLDT, STR). All four exist only in protected mode (#UD in real and
//! virtual-8086 mode); LLDT and LTR are privileged, SLDT and STR are not (they are among
//! the sensitive-but-unprivileged instructions: any CPL may read the real LDTR and TR).

use super::{Core, PortIo};
use crate::exception::{vector, Exception};
use crate::state::{SegAttrs, Segment};
use iced_x86::{Instruction, Mnemonic};

type R = Result<(), Exception>;

/// System descriptor types (SDM Vol. 3 Table 3-2).
const TYPE_LDT: u8 = 0x2;
const TYPE_TSS16_AVAILABLE: u8 = 0x1;
const TYPE_TSS32_AVAILABLE: u8 = 0x9;
/// The busy bit of a TSS descriptor's type field (§7.2.2).
const TSS_BUSY: u32 = 0x2 << 8;

fn protected_only(c: &Core) -> R {
    if !c.protected() || c.v86() {
        return Err(Exception::ud());
    }
    Ok(())
}

/// LLDT r/m16. A null selector leaves LDTR unusable (later LDT references #GP); otherwise
/// the selector must name an LDT descriptor in the GDT.
pub(crate) fn lldt(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    protected_only(c)?;
    c.require_cpl0()?;
    let sel = c.read_op(i, 0, 2)? as u16;
    let err = u32::from(sel & 0xFFFC);
    if sel & 0xFFFC == 0 {
        c.sregs.ldtr = Segment {
            selector: sel,
            base: 0,
            limit: 0,
            attrs: SegAttrs::UNUSABLE,
        };
        return Ok(());
    }
    if sel & 4 != 0 {
        return Err(Exception::gp(err));
    }
    let (d, _) = c.read_descriptor(sel)?;
    let attrs = d.attrs();
    if attrs.contains(SegAttrs::S) || attrs.seg_type() != TYPE_LDT {
        return Err(Exception::gp(err));
    }
    if !attrs.contains(SegAttrs::P) {
        return Err(Exception::fault_code(vector::NP, err));
    }
    c.sregs.ldtr = d.segment(sel);
    Ok(())
}

/// LTR r/m16: the selector must name an available TSS in the GDT; the descriptor is
/// marked busy (a locked read-modify-write on hardware).
pub(crate) fn ltr(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    protected_only(c)?;
    c.require_cpl0()?;
    let sel = c.read_op(i, 0, 2)? as u16;
    let err = u32::from(sel & 0xFFFC);
    if sel & 0xFFFC == 0 {
        return Err(Exception::gp(0));
    }
    if sel & 4 != 0 {
        return Err(Exception::gp(err));
    }
    let (mut d, addr) = c.read_descriptor(sel)?;
    let attrs = d.attrs();
    if attrs.contains(SegAttrs::S)
        || !matches!(
            attrs.seg_type(),
            TYPE_TSS16_AVAILABLE | TYPE_TSS32_AVAILABLE
        )
    {
        return Err(Exception::gp(err));
    }
    if !attrs.contains(SegAttrs::P) {
        return Err(Exception::fault_code(vector::NP, err));
    }
    d.hi |= TSS_BUSY;
    c.write_sys(addr.wrapping_add(4), 4, d.hi)?;
    c.sregs.tr = d.segment(sel);
    Ok(())
}

/// SLDT / STR: store the LDTR or TR selector. A memory destination is always 16 bits; a
/// 32-bit register destination gets the selector zero-extended (P6 and later).
pub(crate) fn store_selector(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    protected_only(c)?;
    let sel = if i.mnemonic() == Mnemonic::Sldt {
        c.sregs.ldtr.selector
    } else {
        c.sregs.tr.selector
    };
    let size = Core::op_size(i, 0);
    c.write_op(i, 0, size, u32::from(sel))
}
