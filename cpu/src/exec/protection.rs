//! Pointer-validation instructions (SDM Vol. 3 §5.10.1-5.10.3, Vol. 2 pages): LAR, LSL,
//! VERR, VERW and ARPL. None of them faults on a bad selector: they report through ZF.
//! All are #UD outside protected mode (real and virtual-8086 mode).

use super::{Core, PortIo};
use crate::exception::Exception;
use crate::segment::Descriptor;
use crate::state::{Eflags, SegAttrs};
use iced_x86::{Instruction, Mnemonic};

type R = Result<(), Exception>;

/// Descriptor types LAR accepts among system descriptors (SDM LAR, Table "Segment and
/// Gate Types"): TSSs (available and busy), LDT, call and task gates.
const LAR_SYSTEM: [u8; 8] = [0x1, 0x2, 0x3, 0x4, 0x5, 0x9, 0xB, 0xC];
/// Types LSL accepts among system descriptors: TSSs and LDT (gates have no limit).
const LSL_SYSTEM: [u8; 5] = [0x1, 0x2, 0x3, 0x9, 0xB];

impl Core {
    /// #UD unless in protected mode outside virtual-8086 mode.
    fn require_protected(&self) -> R {
        if !self.protected() || self.v86() {
            return Err(Exception::ud());
        }
        Ok(())
    }

    /// The descriptor `sel` names, if the selector is not null and within its table.
    fn visible_descriptor(&mut self, sel: u16) -> Result<Option<Descriptor>, Exception> {
        if sel & 0xFFFC == 0 {
            return Ok(None);
        }
        Ok(self.fetch_descriptor(sel)?.map(|(d, _)| d))
    }

    /// The privilege check of LAR/LSL/VERR/VERW: conforming code segments are visible at
    /// any level; every other descriptor needs DPL >= CPL and DPL >= RPL.
    fn descriptor_visible(&self, a: SegAttrs, sel: u16) -> bool {
        let conforming = a.contains(SegAttrs::S | SegAttrs::CODE | SegAttrs::DC);
        conforming || (a.dpl() >= self.sregs.cpl && a.dpl() >= (sel & 3) as u8)
    }

    fn set_zf(&mut self, z: bool) {
        self.regs.eflags.set(Eflags::ZF, z);
    }
}

/// LAR r, r/m16 and LSL r, r/m16.
pub(crate) fn lar_lsl(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    c.require_protected()?;
    let sel = c.read_op(i, 1, 2)? as u16;
    let lar = i.mnemonic() == Mnemonic::Lar;
    let size = Core::op_size(i, 0);
    let Some(d) = c.visible_descriptor(sel)? else {
        c.set_zf(false);
        return Ok(());
    };
    let a = d.attrs();
    let type_ok = a.contains(SegAttrs::S)
        || if lar {
            LAR_SYSTEM.contains(&a.seg_type())
        } else {
            LSL_SYSTEM.contains(&a.seg_type())
        };
    if !type_ok || !c.descriptor_visible(a, sel) {
        c.set_zf(false);
        return Ok(());
    }
    let v = if lar {
        // Access rights: bytes 5-6 of the descriptor; bits 19:16 (limit) read as set in
        // the descriptor, as on Bochs and P6 (the SDM calls them undefined).
        d.hi & 0x00FF_FF00
    } else {
        d.limit()
    };
    let v = if size == 2 { v & 0xFFFF } else { v };
    c.set_reg(i.op0_register(), v);
    c.set_zf(true);
    Ok(())
}

/// VERR r/m16 and VERW r/m16.
pub(crate) fn verr_verw(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    c.require_protected()?;
    let sel = c.read_op(i, 0, 2)? as u16;
    let Some(d) = c.visible_descriptor(sel)? else {
        c.set_zf(false);
        return Ok(());
    };
    let a = d.attrs();
    let code = a.contains(SegAttrs::CODE);
    let rw = a.contains(SegAttrs::RW);
    let ok = a.contains(SegAttrs::S)
        && c.descriptor_visible(a, sel)
        && if i.mnemonic() == Mnemonic::Verr {
            !code || rw
        } else {
            !code && rw
        };
    c.set_zf(ok);
    Ok(())
}

/// ARPL r/m16, r16: raise the destination selector's RPL to the source's.
pub(crate) fn arpl(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    c.require_protected()?;
    c.probe_op_write(i, 0, 2)?;
    let dst = c.read_op(i, 0, 2)? & 0xFFFF;
    let src = c.reg(i.op1_register()) & 0xFFFF;
    if dst & 3 < src & 3 {
        c.write_op(i, 0, 2, (dst & !3) | (src & 3))?;
        c.set_zf(true);
    } else {
        c.set_zf(false);
    }
    Ok(())
}
