//! Checks on the host-state area (SDM §26.2.2-26.2.4) for a host outside
//! IA-32e mode. Failures are VMfailValid with VM-instruction error 8.

use super::{
    fail_if, pat_valid, EntryCheck, EntryContext, SegmentRegister, EFER_LMA, EFER_LME, EFER_VALID,
    PERF_GLOBAL_CTRL_VALID,
};
use crate::controls::{VmEntryControls as Entry, VmExitControls as Exit};
use crate::fields::enc;

/// Runs §26.2.2, §26.2.3 and §26.2.4 in order.
pub fn check(ctx: &EntryContext<'_>) -> Result<(), EntryCheck> {
    control_registers_and_msrs(ctx)?;
    segment_registers(ctx)?;
    address_space_size(ctx)
}

/// Whether `value` obeys a FIXED0/FIXED1 pair (bits 1 in FIXED0 must be 1,
/// bits 0 in FIXED1 must be 0; SDM Appendix A.7/A.8).
pub(crate) fn obeys_fixed(value: u64, fixed0: u64, fixed1: u64) -> bool {
    value & fixed0 == fixed0 && value & !fixed1 == 0
}

/// §26.2.2 Checks on host control registers and MSRs.
pub fn control_registers_and_msrs(ctx: &EntryContext<'_>) -> Result<(), EntryCheck> {
    let caps = ctx.caps;
    let exit = ctx.exit();
    // §26.2.2: CR0 and CR4 fixed bits.
    fail_if(
        !obeys_fixed(ctx.get(enc::HOST_CR0), caps.cr0_fixed0, caps.cr0_fixed1),
        EntryCheck::HostCr0Fixed,
    )?;
    fail_if(
        !obeys_fixed(ctx.get(enc::HOST_CR4), caps.cr4_fixed0, caps.cr4_fixed1),
        EntryCheck::HostCr4Fixed,
    )?;
    // §26.2.2: CR3 bits beyond the physical-address width are 0.
    fail_if(
        ctx.get(enc::HOST_CR3) & caps.phys_reserved_mask() != 0,
        EntryCheck::HostCr3ReservedBits,
    )?;
    // (IA32_SYSENTER_ESP/EIP canonical checks: IA-32 processors only.)
    // §26.2.2: IA32_PERF_GLOBAL_CTRL reserved bits.
    if exit.contains(Exit::LOAD_IA32_PERF_GLOBAL_CTRL) {
        fail_if(
            ctx.get(enc::HOST_IA32_PERF_GLOBAL_CTRL) & !PERF_GLOBAL_CTRL_VALID != 0,
            EntryCheck::HostPerfGlobalCtrlReservedBits,
        )?;
    }
    // §26.2.2: IA32_PAT memory types.
    if exit.contains(Exit::LOAD_IA32_PAT) {
        fail_if(
            !pat_valid(ctx.get(enc::HOST_IA32_PAT)),
            EntryCheck::HostPatInvalid,
        )?;
    }
    // §26.2.2: IA32_EFER reserved bits; LMA and LME = "host address-space
    // size".
    if exit.contains(Exit::LOAD_IA32_EFER) {
        let efer = ctx.get(enc::HOST_IA32_EFER);
        fail_if(efer & !EFER_VALID != 0, EntryCheck::HostEferReservedBits)?;
        let long = exit.contains(Exit::HOST_ADDRESS_SPACE_SIZE);
        fail_if(
            (efer & EFER_LMA != 0) != long || (efer & EFER_LME != 0) != long,
            EntryCheck::HostEferLmaLme,
        )?;
    }
    Ok(())
}

/// §26.2.3 Checks on host segment and descriptor-table registers.
pub fn segment_registers(ctx: &EntryContext<'_>) -> Result<(), EntryCheck> {
    // §26.2.3: RPL (bits 1:0) and TI (bit 2) of ES, CS, SS, DS, FS, GS, TR.
    for seg in [
        SegmentRegister::Es,
        SegmentRegister::Cs,
        SegmentRegister::Ss,
        SegmentRegister::Ds,
        SegmentRegister::Fs,
        SegmentRegister::Gs,
        SegmentRegister::Tr,
    ] {
        if let Some(field) = seg.host_selector() {
            fail_if(ctx.get(field) & 7 != 0, EntryCheck::HostSelectorRplTi(seg))?;
        }
    }
    // §26.2.3: CS and TR selectors are not 0000H.
    fail_if(
        ctx.get(enc::HOST_CS_SELECTOR) == 0,
        EntryCheck::HostCsSelectorZero,
    )?;
    fail_if(
        ctx.get(enc::HOST_TR_SELECTOR) == 0,
        EntryCheck::HostTrSelectorZero,
    )?;
    // §26.2.3: SS selector not 0000H if "host address-space size" is 0.
    fail_if(
        !ctx.exit().contains(Exit::HOST_ADDRESS_SPACE_SIZE) && ctx.get(enc::HOST_SS_SELECTOR) == 0,
        EntryCheck::HostSsSelectorZero,
    )
    // (Base-address canonical checks apply to Intel 64 processors only.)
}

/// §26.2.4 Checks related to address-space size: on a processor that does
/// not support Intel 64 architecture both controls must be 0.
pub fn address_space_size(ctx: &EntryContext<'_>) -> Result<(), EntryCheck> {
    fail_if(
        ctx.entry().contains(Entry::IA32E_MODE_GUEST),
        EntryCheck::Ia32eModeGuestOnIa32Processor,
    )?;
    fail_if(
        ctx.exit().contains(Exit::HOST_ADDRESS_SPACE_SIZE),
        EntryCheck::HostAddressSpaceSizeOnIa32Processor,
    )
}
