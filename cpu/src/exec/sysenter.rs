//! SYSENTER / SYSEXIT: fast calls to and returns from ring 0 through the IA32_SYSENTER_CS,
//! _ESP and _EIP MSRs (SDM Vol. 2 SYSENTER, SYSEXIT; Vol. 3 §5.8.7). Both load flat segment
//! caches without reading any descriptor: the operating system must keep the GDT entries
//! at SYSENTER_CS, +8, +16 and +24 consistent with them.

use super::system::{MSR_SYSENTER_CS, MSR_SYSENTER_EIP, MSR_SYSENTER_ESP};
use super::{Core, PortIo};
use crate::exception::Exception;
use crate::model::feature_edx;
use crate::state::{gpr, Eflags, SegAttrs, SegReg, Segment};
use iced_x86::Instruction;

type R = Result<(), Exception>;

/// Index of a SYSENTER MSR in `Core::sysenter`.
const fn slot(msr: u32) -> usize {
    (msr - MSR_SYSENTER_CS) as usize
}

/// A flat 4-GiB 32-bit segment with DPL `dpl`: code execute/read (type 11) or data
/// read/write (type 3), both accessed (SDM SYSENTER "Operation").
fn flat(selector: u16, dpl: u8, code: bool) -> Segment {
    let mut attrs = SegAttrs::P
        | SegAttrs::S
        | SegAttrs::RW
        | SegAttrs::ACCESSED
        | SegAttrs::DB
        | SegAttrs::G
        | SegAttrs::from_bits_retain(u32::from(dpl) << 5);
    if code {
        attrs |= SegAttrs::CODE;
    }
    Segment {
        selector,
        base: 0,
        limit: 0xFFFF_FFFF,
        attrs,
    }
}

impl Core {
    /// IA32_SYSENTER_CS, or #GP(0) in real mode or when its bits 15:2 are 0. #UD on a model
    /// without CPUID.1:EDX.SEP.
    fn sysenter_cs(&self) -> Result<u16, Exception> {
        if !self.model.has(feature_edx::SEP) {
            return Err(Exception::ud());
        }
        let cs = self.sysenter[slot(MSR_SYSENTER_CS)] as u16;
        if !self.protected() || cs & 0xFFFC == 0 {
            return Err(Exception::gp(0));
        }
        Ok(cs)
    }
}

/// SYSENTER: to CPL 0 at SYSENTER_CS:SYSENTER_EIP with SS = SYSENTER_CS + 8 and
/// ESP = SYSENTER_ESP; VM, IF and RF are cleared (so it also leaves virtual-8086 mode).
pub(crate) fn sysenter(c: &mut Core, _io: &mut dyn PortIo, _i: &Instruction) -> R {
    let cs = c.sysenter_cs()? & 0xFFFC;
    c.regs.eflags.remove(Eflags::VM | Eflags::IF | Eflags::RF);
    c.sregs.seg[SegReg::Cs as usize] = flat(cs, 0, true);
    c.sregs.seg[SegReg::Ss as usize] = flat(cs.wrapping_add(8), 0, false);
    c.sregs.cpl = 0;
    c.regs.gpr[gpr::ESP] = c.sysenter[slot(MSR_SYSENTER_ESP)];
    c.next_eip = c.sysenter[slot(MSR_SYSENTER_EIP)];
    c.refresh_segment_fast_paths();
    Ok(())
}

/// SYSEXIT: from CPL 0 to CPL 3 at (SYSENTER_CS + 16) | 3 : EDX with SS =
/// (SYSENTER_CS + 24) | 3 and ESP = ECX. #GP(0) at CPL != 0 (virtual-8086 mode included).
pub(crate) fn sysexit(c: &mut Core, _io: &mut dyn PortIo, _i: &Instruction) -> R {
    let cs = c.sysenter_cs()?;
    if c.sregs.cpl != 0 || c.v86() {
        return Err(Exception::gp(0));
    }
    c.sregs.seg[SegReg::Cs as usize] = flat(cs.wrapping_add(16) | 3, 3, true);
    c.sregs.seg[SegReg::Ss as usize] = flat(cs.wrapping_add(24) | 3, 3, false);
    c.sregs.cpl = 3;
    c.regs.gpr[gpr::ESP] = c.regs.gpr[gpr::ECX];
    c.next_eip = c.regs.gpr[gpr::EDX];
    c.refresh_segment_fast_paths();
    Ok(())
}
