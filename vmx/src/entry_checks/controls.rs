//! Checks on VMX controls (SDM §26.2.1). Failures are VMfailValid with
//! VM-instruction error 7.

use super::{aligned_within, fail_if, EntryCheck, EntryContext};
use crate::controls::{
    ControlField, PinBasedControls as Pin, PrimaryProcessorBasedControls as Proc,
    SecondaryProcessorBasedControls as Proc2, VmEntryControls as Entry, VmExitControls as Exit,
};
use crate::exit::interruption::{InterruptionInfo, InterruptionType};
use crate::fields::enc;

/// Page alignment.
const PAGE: u64 = 0x1000;
/// Size of one MSR-area entry.
const MSR_ENTRY: u64 = 16;

/// Runs §26.2.1.1, §26.2.1.2 and §26.2.1.3 in order.
pub fn check(ctx: &EntryContext<'_>) -> Result<(), EntryCheck> {
    execution_controls(ctx)?;
    exit_controls(ctx)?;
    entry_controls(ctx)
}

fn permits(ctx: &EntryContext<'_>, field: ControlField, value: u32) -> bool {
    ctx.caps.effective_settings(field).permits(value)
}

/// Whether an MSR area of `count` 16-byte entries at `addr` is 16-byte
/// aligned and ends within the VMX address width (§26.2.1.2/.3).
fn msr_area_ok(ctx: &EntryContext<'_>, addr: u64, count: u32) -> bool {
    if count == 0 {
        return true;
    }
    let last = u64::from(count)
        .checked_mul(MSR_ENTRY)
        .and_then(|len| addr.checked_add(len - 1));
    let reserved = ctx.caps.vmx_address_reserved_mask();
    match last {
        Some(last) => addr & (MSR_ENTRY - 1) == 0 && addr & reserved == 0 && last & reserved == 0,
        None => false,
    }
}

/// §26.2.1.1 Checks on VM-execution control fields.
pub fn execution_controls(ctx: &EntryContext<'_>) -> Result<(), EntryCheck> {
    let reserved = ctx.caps.vmx_address_reserved_mask();
    let page_ok = |field: u32| aligned_within(ctx.get(field), PAGE, reserved);
    let pin = ctx.pin();
    let proc = ctx.primary();
    // §26.2.1.1: reserved bits of the pin-based controls (Appendix A.3.1).
    fail_if(
        !permits(ctx, ControlField::PinBased, pin.bits()),
        EntryCheck::PinBasedReservedBits,
    )?;
    // §26.2.1.1: reserved bits of the primary processor-based controls (A.3.2).
    fail_if(
        !permits(ctx, ControlField::PrimaryProcessorBased, proc.bits()),
        EntryCheck::PrimaryProcessorBasedReservedBits,
    )?;
    // §26.2.1.1: reserved bits of the secondary controls (A.3.3), only if
    // "activate secondary controls" is 1.
    if proc.contains(Proc::ACTIVATE_SECONDARY_CONTROLS) {
        let raw = ctx.get32(enc::SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS);
        fail_if(
            !permits(ctx, ControlField::SecondaryProcessorBased, raw),
            EntryCheck::SecondaryProcessorBasedReservedBits,
        )?;
    }
    let proc2 = ctx.secondary();
    // §26.2.1.1: CR3-target count not greater than IA32_VMX_MISC[24:16].
    fail_if(
        ctx.get32(enc::CR3_TARGET_COUNT) > ctx.caps.cr3_target_count(),
        EntryCheck::Cr3TargetCount,
    )?;
    // §26.2.1.1: I/O-bitmap addresses 4-KByte aligned, within the width.
    if proc.contains(Proc::USE_IO_BITMAPS) {
        fail_if(!page_ok(enc::IO_BITMAP_A), EntryCheck::IoBitmapAAddress)?;
        fail_if(!page_ok(enc::IO_BITMAP_B), EntryCheck::IoBitmapBAddress)?;
    }
    // §26.2.1.1: MSR-bitmap address.
    if proc.contains(Proc::USE_MSR_BITMAPS) {
        fail_if(!page_ok(enc::MSR_BITMAPS), EntryCheck::MsrBitmapAddress)?;
    }
    // §26.2.1.1: "use TPR shadow": virtual-APIC address, TPR threshold.
    if proc.contains(Proc::USE_TPR_SHADOW) {
        fail_if(
            !page_ok(enc::VIRTUAL_APIC_ADDRESS),
            EntryCheck::VirtualApicAddress,
        )?;
        let threshold = ctx.get32(enc::TPR_THRESHOLD);
        fail_if(threshold & !0xF != 0, EntryCheck::TprThresholdReservedBits)?;
        if !proc2.contains(Proc2::VIRTUALIZE_APIC_ACCESSES) {
            let vtpr_addr = ctx.get(enc::VIRTUAL_APIC_ADDRESS).wrapping_add(0x80);
            let vtpr = (ctx.env.read_u32(vtpr_addr) >> 4) & 0xF;
            fail_if(threshold & 0xF > vtpr, EntryCheck::TprThresholdAboveVtpr)?;
        }
    }
    // §26.2.1.1: "virtual NMIs" only with "NMI exiting".
    fail_if(
        pin.contains(Pin::VIRTUAL_NMIS) && !pin.contains(Pin::NMI_EXITING),
        EntryCheck::VirtualNmisWithoutNmiExiting,
    )?;
    // §26.2.1.1: "NMI-window exiting" only with "virtual NMIs".
    fail_if(
        proc.contains(Proc::NMI_WINDOW_EXITING) && !pin.contains(Pin::VIRTUAL_NMIS),
        EntryCheck::NmiWindowExitingWithoutVirtualNmis,
    )?;
    // §26.2.1.1: APIC-access address.
    if proc2.contains(Proc2::VIRTUALIZE_APIC_ACCESSES) {
        fail_if(
            !page_ok(enc::APIC_ACCESS_ADDRESS),
            EntryCheck::ApicAccessAddress,
        )?;
    }
    // §26.2.1.1: VPID must not be 0000H.
    if proc2.contains(Proc2::ENABLE_VPID) {
        fail_if(
            ctx.get(enc::VIRTUAL_PROCESSOR_ID) == 0,
            EntryCheck::VpidZero,
        )?;
    }
    // §26.2.1.1: EPT pointer (§24.6.11).
    if proc2.contains(Proc2::ENABLE_EPT) {
        let eptp = ctx.get(enc::EPT_POINTER);
        let mem_type_ok = match eptp & 7 {
            0 => ctx.caps.ept_vpid_cap_bit(8),
            6 => ctx.caps.ept_vpid_cap_bit(14),
            _ => false,
        };
        fail_if(!mem_type_ok, EntryCheck::EptPointerMemoryType)?;
        fail_if(
            (eptp >> 3) & 7 != 3 || !ctx.caps.ept_vpid_cap_bit(6),
            EntryCheck::EptPointerPageWalkLength,
        )?;
        fail_if(
            eptp & (1 << 6) != 0 && !ctx.caps.ept_vpid_cap_bit(21),
            EntryCheck::EptPointerAccessedDirty,
        )?;
        fail_if(
            eptp & 0xF80 != 0 || eptp & ctx.caps.phys_reserved_mask() != 0,
            EntryCheck::EptPointerReservedBits,
        )?;
    }
    // §26.2.1.1: "unrestricted guest" only with "enable EPT".
    fail_if(
        proc2.contains(Proc2::UNRESTRICTED_GUEST) && !proc2.contains(Proc2::ENABLE_EPT),
        EntryCheck::UnrestrictedGuestWithoutEpt,
    )?;
    // §26.2.1.1: VMREAD/VMWRITE bitmap addresses.
    if proc2.contains(Proc2::VMCS_SHADOWING) {
        fail_if(
            !page_ok(enc::VMREAD_BITMAP_ADDRESS),
            EntryCheck::VmreadBitmapAddress,
        )?;
        fail_if(
            !page_ok(enc::VMWRITE_BITMAP_ADDRESS),
            EntryCheck::VmwriteBitmapAddress,
        )?;
    }
    Ok(())
}

/// §26.2.1.2 Checks on VM-exit control fields.
pub fn exit_controls(ctx: &EntryContext<'_>) -> Result<(), EntryCheck> {
    let exit = ctx.exit();
    // §26.2.1.2: reserved bits of the VM-exit controls (A.4).
    fail_if(
        !permits(ctx, ControlField::VmExit, exit.bits()),
        EntryCheck::VmExitReservedBits,
    )?;
    // §26.2.1.2: "save VMX-preemption timer value" needs the timer active.
    fail_if(
        exit.contains(Exit::SAVE_VMX_PREEMPTION_TIMER_VALUE)
            && !ctx.pin().contains(Pin::ACTIVATE_VMX_PREEMPTION_TIMER),
        EntryCheck::SavePreemptionTimerWithoutActivate,
    )?;
    // §26.2.1.2: MSR-store and MSR-load areas.
    fail_if(
        !msr_area_ok(
            ctx,
            ctx.get(enc::VM_EXIT_MSR_STORE_ADDRESS),
            ctx.get32(enc::VM_EXIT_MSR_STORE_COUNT),
        ),
        EntryCheck::VmExitMsrStoreAddress,
    )?;
    fail_if(
        !msr_area_ok(
            ctx,
            ctx.get(enc::VM_EXIT_MSR_LOAD_ADDRESS),
            ctx.get32(enc::VM_EXIT_MSR_LOAD_COUNT),
        ),
        EntryCheck::VmExitMsrLoadAddress,
    )
}

/// Hardware exceptions that push an error code (§26.2.1.3).
fn exception_has_error_code(vector: u8) -> bool {
    matches!(vector, 8 | 10..=14 | 17)
}

/// §26.2.1.3 Checks on VM-entry control fields.
pub fn entry_controls(ctx: &EntryContext<'_>) -> Result<(), EntryCheck> {
    let entry = ctx.entry();
    // §26.2.1.3: reserved bits of the VM-entry controls (A.5).
    fail_if(
        !permits(ctx, ControlField::VmEntry, entry.bits()),
        EntryCheck::VmEntryReservedBits,
    )?;
    // §26.2.1.3: VM-entry interruption-information field.
    let raw = ctx.get32(enc::VM_ENTRY_INTERRUPTION_INFORMATION);
    let info = InterruptionInfo::decode(raw);
    if info.valid {
        let mtf_supported = ctx
            .caps
            .effective_settings(ControlField::PrimaryProcessorBased)
            .allowed1
            & Proc::MONITOR_TRAP_FLAG.bits()
            != 0;
        fail_if(
            info.kind == InterruptionType::Reserved
                || (info.kind == InterruptionType::OtherEvent && !mtf_supported),
            EntryCheck::EntryInterruptionType,
        )?;
        let vector_ok = match info.kind {
            InterruptionType::Nmi => info.vector == 2,
            InterruptionType::HardwareException => info.vector <= 31,
            InterruptionType::OtherEvent => info.vector == 0,
            _ => true,
        };
        fail_if(!vector_ok, EntryCheck::EntryInterruptionVector)?;
        let unrestricted = ctx.secondary().contains(Proc2::UNRESTRICTED_GUEST);
        let guest_pe = ctx.get32(enc::GUEST_CR0) & 1 != 0;
        let needs_error_code = (!unrestricted || guest_pe)
            && info.kind == InterruptionType::HardwareException
            && exception_has_error_code(info.vector);
        fail_if(
            info.error_code != needs_error_code,
            EntryCheck::EntryInterruptionDeliverErrorCode,
        )?;
        // Bits 30:12 (bit 12 included on entry).
        fail_if(
            raw & 0x7FFF_F000 != 0,
            EntryCheck::EntryInterruptionReservedBits,
        )?;
        if info.error_code {
            fail_if(
                ctx.get32(enc::VM_ENTRY_EXCEPTION_ERROR_CODE) & 0xFFFF_8000 != 0,
                EntryCheck::EntryExceptionErrorCodeReservedBits,
            )?;
        }
        if info.kind.is_software() {
            let len = ctx.get32(enc::VM_ENTRY_INSTRUCTION_LENGTH);
            let ok = (1..=15).contains(&len) || (len == 0 && ctx.caps.zero_length_injection());
            fail_if(!ok, EntryCheck::EntryInstructionLength)?;
        }
    }
    // §26.2.1.3: VM-entry MSR-load area.
    fail_if(
        !msr_area_ok(
            ctx,
            ctx.get(enc::VM_ENTRY_MSR_LOAD_ADDRESS),
            ctx.get32(enc::VM_ENTRY_MSR_LOAD_COUNT),
        ),
        EntryCheck::VmEntryMsrLoadAddress,
    )?;
    // §26.2.1.3: SMM-related controls outside SMM.
    fail_if(
        !ctx.cpu.in_smm && entry.contains(Entry::ENTRY_TO_SMM),
        EntryCheck::EntryToSmmOutsideSmm,
    )?;
    fail_if(
        !ctx.cpu.in_smm && entry.contains(Entry::DEACTIVATE_DUAL_MONITOR_TREATMENT),
        EntryCheck::DeactivateDualMonitorOutsideSmm,
    )?;
    fail_if(
        entry.contains(Entry::ENTRY_TO_SMM | Entry::DEACTIVATE_DUAL_MONITOR_TREATMENT),
        EntryCheck::EntryToSmmAndDeactivateDualMonitor,
    )
}
