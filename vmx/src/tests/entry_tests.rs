//! One test per VM-entry check: start from `valid_vmcs_for(model)`, break
//! exactly one condition, assert the named failure and its class, on every
//! model where the check applies.

use super::support::{
    clear, or, run, run_with, set, valid_vmcs_for, FaultingEnv, TestMemory, AR_CODE, AR_DATA,
    AR_TSS, CR0, CR4,
};
use crate::caps::CpuModel;
use crate::controls::{
    PinBasedControls as Pin, PrimaryProcessorBasedControls as Proc,
    SecondaryProcessorBasedControls as Proc2, VmEntryControls as Entry, VmExitControls as Exit,
};
use crate::entry_checks::{
    check_vm_entry, host_state, CpuContext, EntryCheck as C, EntryContext, EntryFailureClass,
    SegmentRegister as R,
};
use crate::error::VmInstructionError;
use crate::exit::qualification::EntryFailureQualification as Q;
use crate::exit::ExitReason;
use crate::fields::enc;
use crate::region::VmcsMemory;
use crate::vmcs::Vmcs;

const CTRL: EntryFailureClass =
    EntryFailureClass::VmFailValid(VmInstructionError::EntryInvalidControlFields);
const HOST: EntryFailureClass =
    EntryFailureClass::VmFailValid(VmInstructionError::EntryInvalidHostStateFields);
const GUEST: EntryFailureClass = EntryFailureClass::InvalidGuestState(Q::Default);
const PDPTE: EntryFailureClass = EntryFailureClass::InvalidGuestState(Q::PdpteLoad);
const NMI_STI: EntryFailureClass = EntryFailureClass::InvalidGuestState(Q::NmiInjection);
const LINK: EntryFailureClass = EntryFailureClass::InvalidGuestState(Q::InvalidVmcsLinkPointer);
const fn msr(entry: u32) -> EntryFailureClass {
    EntryFailureClass::MsrLoading { entry }
}

macro_rules! entry_test {
    ($name:ident, [$($model:ident),+], $check:expr, $class:expr,
     |$mo:ident, $v:ident, $m:ident, $cpu:ident| $body:block) => {
        #[test]
        #[allow(unused_mut, unused_variables)]
        fn $name() {
            for $mo in [$(CpuModel::$model),+] {
                let mut $v = valid_vmcs_for($mo);
                let mut $m = TestMemory::default();
                let mut $cpu = CpuContext::default();
                $body
                let err = run(&$v, &$m, &$cpu)
                    .expect_err(concat!(stringify!($name), ": entry unexpectedly succeeded"));
                assert_eq!(err.check, $check, "model {}", $mo);
                assert_eq!(err.class, $class, "model {}", $mo);
            }
        }
    };
}

// ---------- helpers ----------

fn secondary(v: &mut Vmcs, bits: Proc2) {
    or(
        v,
        enc::PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
        u64::from(Proc::ACTIVATE_SECONDARY_CONTROLS.bits()),
    );
    or(
        v,
        enc::SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
        u64::from(bits.bits()),
    );
}

/// Valid EPT pointer: WB, 4-level walk, table at 0x6000.
const EPTP: u64 = 0x6000 | (3 << 3) | 6;

fn enable_ept(v: &mut Vmcs) {
    secondary(v, Proc2::ENABLE_EPT);
    set(v, enc::EPT_POINTER, EPTP);
}

fn unrestricted_guest(v: &mut Vmcs) {
    enable_ept(v);
    secondary(v, Proc2::UNRESTRICTED_GUEST);
}

fn primary(v: &mut Vmcs, bits: Proc) {
    or(
        v,
        enc::PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
        u64::from(bits.bits()),
    );
}

fn pin(v: &mut Vmcs, bits: Pin) {
    or(
        v,
        enc::PIN_BASED_VM_EXECUTION_CONTROLS,
        u64::from(bits.bits()),
    );
}

fn exit(v: &mut Vmcs, bits: Exit) {
    or(v, enc::VM_EXIT_CONTROLS, u64::from(bits.bits()));
}

fn entry(v: &mut Vmcs, bits: Entry) {
    or(v, enc::VM_ENTRY_CONTROLS, u64::from(bits.bits()));
}

/// Sets the VM-entry interruption information (valid bit set).
fn inject(v: &mut Vmcs, vector: u8, kind: u32, error_code: bool) {
    let info = 0x8000_0000
        | u64::from(vector)
        | (u64::from(kind) << 8)
        | if error_code { 1 << 11 } else { 0 };
    set(v, enc::VM_ENTRY_INTERRUPTION_INFORMATION, info);
}

/// Virtual-8086 guest: every code/data segment with base = selector * 16,
/// limit FFFFH and access rights F3H.
fn v86_guest(v: &mut Vmcs) {
    set(v, enc::GUEST_RFLAGS, 0x2_0002);
    for r in R::CODE_DATA {
        let sel = 0x1000 + 0x10 * (r.guest_selector() as u64 & 0xF);
        set(v, r.guest_selector(), sel);
        set(v, r.guest_base(), sel << 4);
        set(v, r.guest_limit(), 0xFFFF);
        set(v, r.guest_access_rights(), 0xF3);
    }
}

fn msr_entry(m: &mut TestMemory, pa: u64, index: u32, reserved: u32, value: u64) {
    m.write_u32(pa, index);
    m.write_u32(pa + 4, reserved);
    m.write_u64(pa + 8, value);
}

// ---------- baseline ----------

#[test]
fn valid_vmcs_passes_every_check_on_both_models() {
    for model in CpuModel::ALL {
        let v = valid_vmcs_for(model);
        assert_eq!(
            run(&v, &TestMemory::default(), &CpuContext::default()),
            Ok(()),
            "{model}"
        );
    }
}

#[test]
fn outcome_classes_map_to_sdm_numbers() {
    assert_eq!(CTRL.vm_instruction_error().map(|e| e.number()), Some(7));
    assert_eq!(HOST.vm_instruction_error().map(|e| e.number()), Some(8));
    assert_eq!(
        GUEST.exit_reason(),
        Some(ExitReason::EntryFailureInvalidGuestState)
    );
    assert_eq!(GUEST.exit_qualification(), Some(0));
    assert_eq!(PDPTE.exit_qualification(), Some(2));
    assert_eq!(NMI_STI.exit_qualification(), Some(3));
    assert_eq!(LINK.exit_qualification(), Some(4));
    assert_eq!(
        msr(3).exit_reason(),
        Some(ExitReason::EntryFailureMsrLoading)
    );
    assert_eq!(msr(3).exit_qualification(), Some(3));
    assert_eq!(ExitReason::EntryFailureInvalidGuestState.as_u16(), 33);
    assert_eq!(ExitReason::EntryFailureMsrLoading.as_u16(), 34);
}

// ---------- §26.2.1.1 VM-execution controls ----------

entry_test!(
    pin_based_reserved_bit_set,
    [Yonah, Max],
    C::PinBasedReservedBits,
    CTRL,
    |mo, v, m, cpu| {
        or(&mut v, enc::PIN_BASED_VM_EXECUTION_CONTROLS, 1 << 31);
    }
);
entry_test!(
    pin_based_default1_cleared,
    [Yonah, Max],
    C::PinBasedReservedBits,
    CTRL,
    |mo, v, m, cpu| {
        clear(&mut v, enc::PIN_BASED_VM_EXECUTION_CONTROLS, 1 << 1);
    }
);
entry_test!(
    primary_reserved_bit_set,
    [Yonah, Max],
    C::PrimaryProcessorBasedReservedBits,
    CTRL,
    |mo, v, m, cpu| {
        or(
            &mut v,
            enc::PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
            1 << 18,
        );
    }
);
entry_test!(
    yonah_cannot_activate_secondary,
    [Yonah],
    C::PrimaryProcessorBasedReservedBits,
    CTRL,
    |mo, v, m, cpu| {
        primary(&mut v, Proc::ACTIVATE_SECONDARY_CONTROLS);
    }
);
entry_test!(
    secondary_reserved_bit_set,
    [Max],
    C::SecondaryProcessorBasedReservedBits,
    CTRL,
    |mo, v, m, cpu| {
        secondary(&mut v, Proc2::VIRTUALIZE_X2APIC_MODE);
    }
);
entry_test!(
    cr3_target_count_too_large,
    [Yonah, Max],
    C::Cr3TargetCount,
    CTRL,
    |mo, v, m, cpu| {
        set(&mut v, enc::CR3_TARGET_COUNT, 5);
    }
);
entry_test!(
    io_bitmap_a_misaligned,
    [Yonah, Max],
    C::IoBitmapAAddress,
    CTRL,
    |mo, v, m, cpu| {
        primary(&mut v, Proc::USE_IO_BITMAPS);
        set(&mut v, enc::IO_BITMAP_A, 0x1001);
        set(&mut v, enc::IO_BITMAP_B, 0x2000);
    }
);
entry_test!(
    io_bitmap_b_beyond_width,
    [Yonah, Max],
    C::IoBitmapBAddress,
    CTRL,
    |mo, v, m, cpu| {
        primary(&mut v, Proc::USE_IO_BITMAPS);
        set(&mut v, enc::IO_BITMAP_A, 0x1000);
        set(&mut v, enc::IO_BITMAP_B, 0x1_0000_0000);
    }
);
entry_test!(
    msr_bitmap_misaligned,
    [Yonah, Max],
    C::MsrBitmapAddress,
    CTRL,
    |mo, v, m, cpu| {
        primary(&mut v, Proc::USE_MSR_BITMAPS);
        set(&mut v, enc::MSR_BITMAPS, 0x800);
    }
);
entry_test!(
    virtual_apic_address_misaligned,
    [Max],
    C::VirtualApicAddress,
    CTRL,
    |mo, v, m, cpu| {
        primary(&mut v, Proc::USE_TPR_SHADOW);
        set(&mut v, enc::VIRTUAL_APIC_ADDRESS, 0x5010);
    }
);
entry_test!(
    tpr_threshold_reserved_bits,
    [Max],
    C::TprThresholdReservedBits,
    CTRL,
    |mo, v, m, cpu| {
        primary(&mut v, Proc::USE_TPR_SHADOW);
        set(&mut v, enc::VIRTUAL_APIC_ADDRESS, 0x5000);
        set(&mut v, enc::TPR_THRESHOLD, 0x10);
    }
);
entry_test!(
    tpr_threshold_above_vtpr,
    [Max],
    C::TprThresholdAboveVtpr,
    CTRL,
    |mo, v, m, cpu| {
        primary(&mut v, Proc::USE_TPR_SHADOW);
        set(&mut v, enc::VIRTUAL_APIC_ADDRESS, 0x5000);
        set(&mut v, enc::TPR_THRESHOLD, 5);
        m.write_u32(0x5080, 0x40);
    }
);
entry_test!(
    virtual_nmis_without_nmi_exiting,
    [Max],
    C::VirtualNmisWithoutNmiExiting,
    CTRL,
    |mo, v, m, cpu| {
        pin(&mut v, Pin::VIRTUAL_NMIS);
    }
);
entry_test!(
    nmi_window_without_virtual_nmis,
    [Max],
    C::NmiWindowExitingWithoutVirtualNmis,
    CTRL,
    |mo, v, m, cpu| {
        primary(&mut v, Proc::NMI_WINDOW_EXITING);
    }
);
entry_test!(
    apic_access_address_misaligned,
    [Max],
    C::ApicAccessAddress,
    CTRL,
    |mo, v, m, cpu| {
        secondary(&mut v, Proc2::VIRTUALIZE_APIC_ACCESSES);
        set(&mut v, enc::APIC_ACCESS_ADDRESS, 0xFEE0_0123);
    }
);
entry_test!(vpid_zero, [Max], C::VpidZero, CTRL, |mo, v, m, cpu| {
    secondary(&mut v, Proc2::ENABLE_VPID);
});
entry_test!(
    eptp_memory_type,
    [Max],
    C::EptPointerMemoryType,
    CTRL,
    |mo, v, m, cpu| {
        enable_ept(&mut v);
        set(&mut v, enc::EPT_POINTER, EPTP & !7 | 1);
    }
);
entry_test!(
    eptp_walk_length,
    [Max],
    C::EptPointerPageWalkLength,
    CTRL,
    |mo, v, m, cpu| {
        enable_ept(&mut v);
        set(&mut v, enc::EPT_POINTER, 0x6000 | (2 << 3) | 6);
    }
);
entry_test!(
    eptp_reserved_bits,
    [Max],
    C::EptPointerReservedBits,
    CTRL,
    |mo, v, m, cpu| {
        enable_ept(&mut v);
        set(&mut v, enc::EPT_POINTER, EPTP | (1 << 7));
    }
);
entry_test!(
    eptp_beyond_maxphyaddr,
    [Max],
    C::EptPointerReservedBits,
    CTRL,
    |mo, v, m, cpu| {
        enable_ept(&mut v);
        set(&mut v, enc::EPT_POINTER, EPTP | (1 << 36));
    }
);
entry_test!(
    unrestricted_guest_without_ept,
    [Max],
    C::UnrestrictedGuestWithoutEpt,
    CTRL,
    |mo, v, m, cpu| {
        secondary(&mut v, Proc2::UNRESTRICTED_GUEST);
    }
);
entry_test!(
    vmread_bitmap_misaligned,
    [Max],
    C::VmreadBitmapAddress,
    CTRL,
    |mo, v, m, cpu| {
        secondary(&mut v, Proc2::VMCS_SHADOWING);
        set(&mut v, enc::VMREAD_BITMAP_ADDRESS, 0x7004);
        set(&mut v, enc::VMWRITE_BITMAP_ADDRESS, 0x8000);
    }
);
entry_test!(
    vmwrite_bitmap_misaligned,
    [Max],
    C::VmwriteBitmapAddress,
    CTRL,
    |mo, v, m, cpu| {
        secondary(&mut v, Proc2::VMCS_SHADOWING);
        set(&mut v, enc::VMREAD_BITMAP_ADDRESS, 0x7000);
        set(&mut v, enc::VMWRITE_BITMAP_ADDRESS, 0x8008);
    }
);

#[test]
fn eptp_accessed_dirty_needs_capability() {
    // Max supports A/D flags: bit 6 is accepted.
    let mut v = valid_vmcs_for(CpuModel::Max);
    enable_ept(&mut v);
    set(&mut v, enc::EPT_POINTER, EPTP | (1 << 6));
    assert_eq!(
        run(&v, &TestMemory::default(), &CpuContext::default()),
        Ok(())
    );
    // A model variant without A/D flags rejects it.
    let mut caps = CpuModel::Max.capabilities();
    caps.ept_vpid_cap = caps.ept_vpid_cap.map(|c| c & !(1 << 21));
    let err = run_with(&caps, &v, &TestMemory::default()).unwrap_err();
    assert_eq!(err.check, C::EptPointerAccessedDirty);
    assert_eq!(err.class, CTRL);
}

// ---------- §26.2.1.2 VM-exit controls ----------

entry_test!(
    exit_reserved_bit_set,
    [Yonah, Max],
    C::VmExitReservedBits,
    CTRL,
    |mo, v, m, cpu| {
        exit(&mut v, Exit::HOST_ADDRESS_SPACE_SIZE);
    }
);
entry_test!(
    exit_default1_cleared,
    [Yonah],
    C::VmExitReservedBits,
    CTRL,
    |mo, v, m, cpu| {
        clear(&mut v, enc::VM_EXIT_CONTROLS, 1 << 2);
    }
);
entry_test!(
    save_preemption_timer_without_activate,
    [Max],
    C::SavePreemptionTimerWithoutActivate,
    CTRL,
    |mo, v, m, cpu| {
        exit(&mut v, Exit::SAVE_VMX_PREEMPTION_TIMER_VALUE);
    }
);
entry_test!(
    exit_msr_store_misaligned,
    [Yonah, Max],
    C::VmExitMsrStoreAddress,
    CTRL,
    |mo, v, m, cpu| {
        set(&mut v, enc::VM_EXIT_MSR_STORE_COUNT, 1);
        set(&mut v, enc::VM_EXIT_MSR_STORE_ADDRESS, 0x1008);
    }
);
entry_test!(
    exit_msr_load_area_beyond_width,
    [Yonah, Max],
    C::VmExitMsrLoadAddress,
    CTRL,
    |mo, v, m, cpu| {
        set(&mut v, enc::VM_EXIT_MSR_LOAD_COUNT, 2);
        set(&mut v, enc::VM_EXIT_MSR_LOAD_ADDRESS, 0xFFFF_FFF0);
    }
);

// ---------- §26.2.1.3 VM-entry controls ----------

entry_test!(
    entry_reserved_bit_set,
    [Yonah, Max],
    C::VmEntryReservedBits,
    CTRL,
    |mo, v, m, cpu| {
        entry(&mut v, Entry::IA32E_MODE_GUEST);
    }
);
entry_test!(
    entry_interruption_type_reserved,
    [Yonah, Max],
    C::EntryInterruptionType,
    CTRL,
    |mo, v, m, cpu| {
        inject(&mut v, 0x20, 1, false);
    }
);
entry_test!(
    entry_other_event_without_mtf,
    [Yonah],
    C::EntryInterruptionType,
    CTRL,
    |mo, v, m, cpu| {
        inject(&mut v, 0, 7, false);
    }
);
entry_test!(
    entry_nmi_vector_not_2,
    [Yonah, Max],
    C::EntryInterruptionVector,
    CTRL,
    |mo, v, m, cpu| {
        inject(&mut v, 3, 2, false);
    }
);
entry_test!(
    entry_exception_vector_above_31,
    [Yonah, Max],
    C::EntryInterruptionVector,
    CTRL,
    |mo, v, m, cpu| {
        inject(&mut v, 32, 3, false);
    }
);
entry_test!(
    entry_gp_without_error_code,
    [Yonah, Max],
    C::EntryInterruptionDeliverErrorCode,
    CTRL,
    |mo, v, m, cpu| {
        inject(&mut v, 13, 3, false);
    }
);
entry_test!(
    entry_ud_with_error_code,
    [Yonah, Max],
    C::EntryInterruptionDeliverErrorCode,
    CTRL,
    |mo, v, m, cpu| {
        inject(&mut v, 6, 3, true);
    }
);
entry_test!(
    entry_interruption_reserved_bits,
    [Yonah, Max],
    C::EntryInterruptionReservedBits,
    CTRL,
    |mo, v, m, cpu| {
        set(&mut v, enc::VM_ENTRY_INTERRUPTION_INFORMATION, 0x8000_1020);
    }
);
entry_test!(
    entry_error_code_reserved_bits,
    [Yonah, Max],
    C::EntryExceptionErrorCodeReservedBits,
    CTRL,
    |mo, v, m, cpu| {
        inject(&mut v, 13, 3, true);
        set(&mut v, enc::VM_ENTRY_EXCEPTION_ERROR_CODE, 0x1_0000);
    }
);
entry_test!(
    entry_software_interrupt_length_zero,
    [Yonah, Max],
    C::EntryInstructionLength,
    CTRL,
    |mo, v, m, cpu| {
        inject(&mut v, 0x80, 4, false);
    }
);
entry_test!(
    entry_software_exception_length_16,
    [Yonah, Max],
    C::EntryInstructionLength,
    CTRL,
    |mo, v, m, cpu| {
        inject(&mut v, 3, 6, false);
        set(&mut v, enc::VM_ENTRY_INSTRUCTION_LENGTH, 16);
    }
);
entry_test!(
    entry_msr_load_misaligned,
    [Yonah, Max],
    C::VmEntryMsrLoadAddress,
    CTRL,
    |mo, v, m, cpu| {
        set(&mut v, enc::VM_ENTRY_MSR_LOAD_COUNT, 1);
        set(&mut v, enc::VM_ENTRY_MSR_LOAD_ADDRESS, 0x1004);
    }
);
entry_test!(
    entry_to_smm_outside_smm,
    [Yonah],
    C::EntryToSmmOutsideSmm,
    CTRL,
    |mo, v, m, cpu| {
        entry(&mut v, Entry::ENTRY_TO_SMM);
    }
);
entry_test!(
    deactivate_dual_monitor_outside_smm,
    [Yonah],
    C::DeactivateDualMonitorOutsideSmm,
    CTRL,
    |mo, v, m, cpu| {
        entry(&mut v, Entry::DEACTIVATE_DUAL_MONITOR_TREATMENT);
    }
);
entry_test!(
    entry_to_smm_and_deactivate,
    [Yonah],
    C::EntryToSmmAndDeactivateDualMonitor,
    CTRL,
    |mo, v, m, cpu| {
        cpu.in_smm = true;
        entry(
            &mut v,
            Entry::ENTRY_TO_SMM | Entry::DEACTIVATE_DUAL_MONITOR_TREATMENT,
        );
    }
);

// ---------- §26.2.2-26.2.4 host state ----------

entry_test!(
    host_cr0_fixed,
    [Yonah, Max],
    C::HostCr0Fixed,
    HOST,
    |mo, v, m, cpu| {
        clear(&mut v, enc::HOST_CR0, 1 << 5);
    }
);
entry_test!(
    host_cr4_fixed,
    [Yonah, Max],
    C::HostCr4Fixed,
    HOST,
    |mo, v, m, cpu| {
        set(&mut v, enc::HOST_CR4, 0);
    }
);
entry_test!(
    host_perf_global_ctrl_reserved,
    [Max],
    C::HostPerfGlobalCtrlReservedBits,
    HOST,
    |mo, v, m, cpu| {
        exit(&mut v, Exit::LOAD_IA32_PERF_GLOBAL_CTRL);
        set(&mut v, enc::HOST_IA32_PERF_GLOBAL_CTRL, 1 << 5);
    }
);
entry_test!(
    host_pat_invalid,
    [Max],
    C::HostPatInvalid,
    HOST,
    |mo, v, m, cpu| {
        exit(&mut v, Exit::LOAD_IA32_PAT);
        set(&mut v, enc::HOST_IA32_PAT, 0x0007_0406_0002_0106);
    }
);
entry_test!(
    host_efer_reserved,
    [Max],
    C::HostEferReservedBits,
    HOST,
    |mo, v, m, cpu| {
        exit(&mut v, Exit::LOAD_IA32_EFER);
        set(&mut v, enc::HOST_IA32_EFER, 1 << 1);
    }
);
entry_test!(
    host_efer_lme_without_long_host,
    [Max],
    C::HostEferLmaLme,
    HOST,
    |mo, v, m, cpu| {
        exit(&mut v, Exit::LOAD_IA32_EFER);
        set(&mut v, enc::HOST_IA32_EFER, 1 << 8);
    }
);
entry_test!(
    host_ds_selector_rpl,
    [Yonah, Max],
    C::HostSelectorRplTi(R::Ds),
    HOST,
    |mo, v, m, cpu| {
        set(&mut v, enc::HOST_DS_SELECTOR, 0x13);
    }
);
entry_test!(
    host_tr_selector_ti,
    [Yonah, Max],
    C::HostSelectorRplTi(R::Tr),
    HOST,
    |mo, v, m, cpu| {
        set(&mut v, enc::HOST_TR_SELECTOR, 0x1C);
    }
);
entry_test!(
    host_cs_selector_zero,
    [Yonah, Max],
    C::HostCsSelectorZero,
    HOST,
    |mo, v, m, cpu| {
        set(&mut v, enc::HOST_CS_SELECTOR, 0);
    }
);
entry_test!(
    host_tr_selector_zero,
    [Yonah, Max],
    C::HostTrSelectorZero,
    HOST,
    |mo, v, m, cpu| {
        set(&mut v, enc::HOST_TR_SELECTOR, 0);
    }
);
entry_test!(
    host_ss_selector_zero,
    [Yonah, Max],
    C::HostSsSelectorZero,
    HOST,
    |mo, v, m, cpu| {
        set(&mut v, enc::HOST_SS_SELECTOR, 0);
    }
);

#[test]
fn host_cr3_beyond_maxphyaddr() {
    // Vacuous on both models (MAXPHYADDR >= 32 with 32-bit CR3); checked on
    // a variant with a 31-bit physical-address width.
    for model in CpuModel::ALL {
        let mut caps = model.capabilities();
        caps.maxphyaddr = 31;
        let mut v = valid_vmcs_for(model);
        set(&mut v, enc::HOST_CR3, 0x8000_0000);
        let err = run_with(&caps, &v, &TestMemory::default()).unwrap_err();
        assert_eq!((err.check, err.class), (C::HostCr3ReservedBits, HOST));
    }
}

#[test]
fn address_space_size_checks_on_ia32() {
    // §26.2.4 is shadowed by the reserved-bit checks of §26.2.1, so it is
    // exercised by calling the host-state section directly.
    for model in CpuModel::ALL {
        let caps = model.capabilities();
        let mem = TestMemory::default();
        let cpu = CpuContext::default();
        let mut v = valid_vmcs_for(model);
        entry(&mut v, Entry::IA32E_MODE_GUEST);
        let ctx = EntryContext {
            caps: &caps,
            vmcs: &v,
            cpu: &cpu,
            env: &mem,
        };
        assert_eq!(
            host_state::check(&ctx),
            Err(C::Ia32eModeGuestOnIa32Processor)
        );
        assert_eq!(C::Ia32eModeGuestOnIa32Processor.class(), HOST);

        let mut v = valid_vmcs_for(model);
        exit(&mut v, Exit::HOST_ADDRESS_SPACE_SIZE);
        let ctx = EntryContext {
            caps: &caps,
            vmcs: &v,
            cpu: &cpu,
            env: &mem,
        };
        assert_eq!(
            host_state::check(&ctx),
            Err(C::HostAddressSpaceSizeOnIa32Processor)
        );
        assert_eq!(C::HostAddressSpaceSizeOnIa32Processor.class(), HOST);
    }
}

// ---------- §26.3.1.1 guest control registers, debug registers, MSRs ----------

entry_test!(
    guest_cr0_fixed,
    [Yonah, Max],
    C::GuestCr0Fixed,
    GUEST,
    |mo, v, m, cpu| {
        clear(&mut v, enc::GUEST_CR0, 1 << 5);
    }
);
entry_test!(
    guest_cr0_pe_clear_without_ug,
    [Yonah, Max],
    C::GuestCr0Fixed,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_CR0, 0x31 & !1);
    }
);
entry_test!(
    guest_cr0_pg_without_pe,
    [Max],
    C::GuestCr0PgWithoutPe,
    GUEST,
    |mo, v, m, cpu| {
        unrestricted_guest(&mut v);
        set(&mut v, enc::GUEST_CR0, 0x8000_0030);
    }
);
entry_test!(
    guest_cr4_fixed,
    [Yonah, Max],
    C::GuestCr4Fixed,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_CR4, 0);
    }
);
entry_test!(
    guest_cr4_fixed1,
    [Yonah, Max],
    C::GuestCr4Fixed,
    GUEST,
    |mo, v, m, cpu| {
        or(&mut v, enc::GUEST_CR4, 1 << 14);
    }
);
entry_test!(
    guest_debugctl_reserved,
    [Yonah, Max],
    C::GuestDebugctlReservedBits,
    GUEST,
    |mo, v, m, cpu| {
        entry(&mut v, Entry::LOAD_DEBUG_CONTROLS);
        set(&mut v, enc::GUEST_IA32_DEBUGCTL, 1 << 2);
    }
);
entry_test!(
    guest_perf_global_ctrl_reserved,
    [Max],
    C::GuestPerfGlobalCtrlReservedBits,
    GUEST,
    |mo, v, m, cpu| {
        entry(&mut v, Entry::LOAD_IA32_PERF_GLOBAL_CTRL);
        set(&mut v, enc::GUEST_IA32_PERF_GLOBAL_CTRL, 1 << 40);
    }
);
entry_test!(
    guest_pat_invalid,
    [Max],
    C::GuestPatInvalid,
    GUEST,
    |mo, v, m, cpu| {
        entry(&mut v, Entry::LOAD_IA32_PAT);
        set(&mut v, enc::GUEST_IA32_PAT, 3);
    }
);
entry_test!(
    guest_efer_reserved,
    [Max],
    C::GuestEferReservedBits,
    GUEST,
    |mo, v, m, cpu| {
        entry(&mut v, Entry::LOAD_IA32_EFER);
        set(&mut v, enc::GUEST_IA32_EFER, 1 << 3);
    }
);
entry_test!(
    guest_efer_lma,
    [Max],
    C::GuestEferLma,
    GUEST,
    |mo, v, m, cpu| {
        entry(&mut v, Entry::LOAD_IA32_EFER);
        set(&mut v, enc::GUEST_IA32_EFER, 1 << 10);
    }
);
entry_test!(
    guest_efer_lme_with_paging,
    [Max],
    C::GuestEferLme,
    GUEST,
    |mo, v, m, cpu| {
        entry(&mut v, Entry::LOAD_IA32_EFER);
        set(&mut v, enc::GUEST_IA32_EFER, 1 << 8);
    }
);

#[test]
fn guest_cr3_beyond_maxphyaddr() {
    for model in CpuModel::ALL {
        let mut caps = model.capabilities();
        caps.maxphyaddr = 31;
        let mut v = valid_vmcs_for(model);
        set(&mut v, enc::GUEST_CR3, 0x8000_0000);
        let err = run_with(&caps, &v, &TestMemory::default()).unwrap_err();
        assert_eq!((err.check, err.class), (C::GuestCr3ReservedBits, GUEST));
    }
}

#[test]
fn unrestricted_guest_exempts_pe_and_pg() {
    let mut v = valid_vmcs_for(CpuModel::Max);
    unrestricted_guest(&mut v);
    set(&mut v, enc::GUEST_CR0, 0x30);
    assert_eq!(
        run(&v, &TestMemory::default(), &CpuContext::default()),
        Ok(())
    );
    // Real-mode-like guest with a type-3 CS, DPL 0, is accepted too.
    set(&mut v, enc::GUEST_CS_ACCESS_RIGHTS, AR_DATA);
    assert_eq!(
        run(&v, &TestMemory::default(), &CpuContext::default()),
        Ok(())
    );
}

// ---------- §26.3.1.2 guest segment registers ----------

entry_test!(
    guest_tr_selector_ti,
    [Yonah, Max],
    C::GuestTrSelectorTi,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_TR_SELECTOR, 0x1C);
    }
);
entry_test!(
    guest_ldtr_selector_ti,
    [Yonah, Max],
    C::GuestLdtrSelectorTi,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_LDTR_SELECTOR, 0x24);
        set(&mut v, enc::GUEST_LDTR_LIMIT, 0xFF);
        set(&mut v, enc::GUEST_LDTR_ACCESS_RIGHTS, 0x82);
    }
);
entry_test!(
    guest_ss_rpl_differs_from_cs,
    [Yonah, Max],
    C::GuestSsSelectorRpl,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_SS_SELECTOR, 0x13);
    }
);
entry_test!(
    guest_v86_base,
    [Yonah, Max],
    C::GuestSegmentBaseV86(R::Ds),
    GUEST,
    |mo, v, m, cpu| {
        v86_guest(&mut v);
        set(&mut v, enc::GUEST_DS_BASE, 0x1234);
    }
);
entry_test!(
    guest_v86_limit,
    [Yonah, Max],
    C::GuestSegmentLimitV86(R::Es),
    GUEST,
    |mo, v, m, cpu| {
        v86_guest(&mut v);
        set(&mut v, enc::GUEST_ES_LIMIT, 0xFFFFF);
    }
);
entry_test!(
    guest_v86_access_rights,
    [Yonah, Max],
    C::GuestSegmentAccessRightsV86(R::Fs),
    GUEST,
    |mo, v, m, cpu| {
        v86_guest(&mut v);
        set(&mut v, enc::GUEST_FS_ACCESS_RIGHTS, 0xF1);
    }
);
entry_test!(
    guest_cs_type_data,
    [Yonah, Max],
    C::GuestCsAccessRightsType,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_CS_ACCESS_RIGHTS, AR_DATA);
    }
);
entry_test!(
    guest_ss_type_code,
    [Yonah, Max],
    C::GuestSsAccessRightsType,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_SS_ACCESS_RIGHTS, 0xC091);
    }
);
entry_test!(
    guest_ds_type_not_accessed,
    [Yonah, Max],
    C::GuestDataSegmentAccessRightsType(R::Ds),
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_DS_ACCESS_RIGHTS, 0xC092);
    }
);
entry_test!(
    guest_gs_execute_only_code,
    [Yonah, Max],
    C::GuestDataSegmentAccessRightsType(R::Gs),
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_GS_ACCESS_RIGHTS, 0xC099);
    }
);
entry_test!(
    guest_es_system_segment,
    [Yonah, Max],
    C::GuestSegmentAccessRightsS(R::Es),
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_ES_ACCESS_RIGHTS, 0xC083);
    }
);
entry_test!(
    guest_cs_dpl_differs_from_ss,
    [Yonah, Max],
    C::GuestCsAccessRightsDpl,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_CS_ACCESS_RIGHTS, AR_CODE | (1 << 5));
    }
);
entry_test!(
    guest_ss_dpl_differs_from_rpl,
    [Yonah, Max],
    C::GuestSsAccessRightsDpl,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_CS_ACCESS_RIGHTS, 0xC09F);
        set(&mut v, enc::GUEST_SS_ACCESS_RIGHTS, 0xC0F3);
    }
);
entry_test!(
    guest_gs_dpl_below_rpl,
    [Yonah, Max],
    C::GuestDataSegmentAccessRightsDpl(R::Gs),
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_GS_SELECTOR, 0x13);
    }
);
entry_test!(
    guest_fs_not_present,
    [Yonah, Max],
    C::GuestSegmentAccessRightsP(R::Fs),
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_FS_ACCESS_RIGHTS, 0xC013);
    }
);
entry_test!(
    guest_ds_reserved_bits,
    [Yonah, Max],
    C::GuestSegmentAccessRightsReserved(R::Ds),
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_DS_ACCESS_RIGHTS, AR_DATA | 0x100);
    }
);
entry_test!(
    guest_cs_granularity,
    [Yonah, Max],
    C::GuestSegmentAccessRightsGranularity(R::Cs),
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_CS_LIMIT, 0xFFFF_F000);
    }
);
entry_test!(
    guest_ss_granularity_small_limit_needs_g0,
    [Yonah, Max],
    C::GuestSegmentAccessRightsGranularity(R::Ss),
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_SS_ACCESS_RIGHTS, 0x4093);
    }
);
entry_test!(
    guest_tr_type_available,
    [Yonah, Max],
    C::GuestTrAccessRightsType,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_TR_ACCESS_RIGHTS, 0x89);
    }
);
entry_test!(
    guest_tr_s_set,
    [Yonah, Max],
    C::GuestTrAccessRightsS,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_TR_ACCESS_RIGHTS, 0x9B);
    }
);
entry_test!(
    guest_tr_not_present,
    [Yonah, Max],
    C::GuestSegmentAccessRightsP(R::Tr),
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_TR_ACCESS_RIGHTS, 0x0B);
    }
);
entry_test!(
    guest_tr_granularity,
    [Yonah, Max],
    C::GuestSegmentAccessRightsGranularity(R::Tr),
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_TR_ACCESS_RIGHTS, AR_TSS | 0x8000);
    }
);
entry_test!(
    guest_tr_unusable,
    [Yonah, Max],
    C::GuestTrUnusable,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_TR_ACCESS_RIGHTS, AR_TSS | 0x1_0000);
    }
);
entry_test!(
    guest_ldtr_type,
    [Yonah, Max],
    C::GuestLdtrAccessRightsType,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_LDTR_SELECTOR, 0x20);
        set(&mut v, enc::GUEST_LDTR_ACCESS_RIGHTS, 0x83);
    }
);
entry_test!(
    guest_ldtr_s,
    [Yonah, Max],
    C::GuestLdtrAccessRightsS,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_LDTR_SELECTOR, 0x20);
        set(&mut v, enc::GUEST_LDTR_ACCESS_RIGHTS, 0x92);
    }
);

#[test]
fn valid_v86_guest_passes() {
    for model in CpuModel::ALL {
        let mut v = valid_vmcs_for(model);
        v86_guest(&mut v);
        assert_eq!(
            run(&v, &TestMemory::default(), &CpuContext::default()),
            Ok(()),
            "{model}"
        );
    }
}

// ---------- §26.3.1.3 descriptor-table registers ----------

entry_test!(
    guest_gdtr_limit,
    [Yonah, Max],
    C::GuestGdtrLimitReservedBits,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_GDTR_LIMIT, 0x1_0000);
    }
);
entry_test!(
    guest_idtr_limit,
    [Yonah, Max],
    C::GuestIdtrLimitReservedBits,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_IDTR_LIMIT, 0x1_0000);
    }
);

// ---------- §26.3.1.4 RIP and RFLAGS ----------

entry_test!(
    guest_rflags_bit1_clear,
    [Yonah, Max],
    C::GuestRflagsReservedBits,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_RFLAGS, 0);
    }
);
entry_test!(
    guest_rflags_bit15_set,
    [Yonah, Max],
    C::GuestRflagsReservedBits,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_RFLAGS, 0x8002);
    }
);
entry_test!(
    guest_rflags_vm_in_real_mode,
    [Max],
    C::GuestRflagsVm,
    GUEST,
    |mo, v, m, cpu| {
        unrestricted_guest(&mut v);
        v86_guest(&mut v);
        set(&mut v, enc::GUEST_CR0, 0x30);
    }
);
entry_test!(
    guest_rflags_if_for_external_interrupt,
    [Yonah, Max],
    C::GuestRflagsIfForExternalInterrupt,
    GUEST,
    |mo, v, m, cpu| {
        inject(&mut v, 0x20, 0, false);
    }
);

// ---------- §26.3.1.5 non-register state ----------

entry_test!(
    guest_activity_state_unsupported,
    [Yonah, Max],
    C::GuestActivityStateUnsupported,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_ACTIVITY_STATE, 4);
    }
);
entry_test!(
    guest_hlt_with_ss_dpl_3,
    [Yonah, Max],
    C::GuestActivityStateHltWithSsDpl,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_CS_SELECTOR, 0x0B);
        set(&mut v, enc::GUEST_CS_ACCESS_RIGHTS, 0xC0FB);
        set(&mut v, enc::GUEST_SS_SELECTOR, 0x13);
        set(&mut v, enc::GUEST_SS_ACCESS_RIGHTS, 0xC0F3);
        set(&mut v, enc::GUEST_ACTIVITY_STATE, 1);
    }
);
entry_test!(
    guest_hlt_with_sti_blocking,
    [Yonah, Max],
    C::GuestActivityStateNotActiveWithBlocking,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_RFLAGS, 0x202);
        set(&mut v, enc::GUEST_INTERRUPTIBILITY_STATE, 1);
        set(&mut v, enc::GUEST_ACTIVITY_STATE, 1);
    }
);
entry_test!(
    guest_hlt_injecting_ud,
    [Yonah, Max],
    C::GuestActivityStateInjectionBlocked,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_ACTIVITY_STATE, 1);
        inject(&mut v, 6, 3, false);
    }
);
entry_test!(
    guest_wait_for_sipi_injecting_nmi,
    [Yonah, Max],
    C::GuestActivityStateInjectionBlocked,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_ACTIVITY_STATE, 3);
        inject(&mut v, 2, 2, false);
    }
);
entry_test!(
    guest_wait_for_sipi_with_entry_to_smm,
    [Yonah],
    C::GuestActivityStateWaitForSipiWithEntryToSmm,
    GUEST,
    |mo, v, m, cpu| {
        cpu.in_smm = true;
        entry(&mut v, Entry::ENTRY_TO_SMM);
        set(&mut v, enc::GUEST_INTERRUPTIBILITY_STATE, 4);
        set(&mut v, enc::GUEST_ACTIVITY_STATE, 3);
    }
);
entry_test!(
    guest_interruptibility_reserved,
    [Yonah, Max],
    C::GuestInterruptibilityReservedBits,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_INTERRUPTIBILITY_STATE, 0x10);
    }
);
entry_test!(
    guest_sti_and_mov_ss,
    [Yonah, Max],
    C::GuestInterruptibilityStiAndMovSs,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_RFLAGS, 0x202);
        set(&mut v, enc::GUEST_INTERRUPTIBILITY_STATE, 3);
    }
);
entry_test!(
    guest_sti_without_if,
    [Yonah, Max],
    C::GuestInterruptibilityStiWithoutIf,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_INTERRUPTIBILITY_STATE, 1);
    }
);
entry_test!(
    guest_external_interrupt_with_mov_ss,
    [Yonah, Max],
    C::GuestInterruptibilityExternalInterruptInjection,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_RFLAGS, 0x202);
        set(&mut v, enc::GUEST_INTERRUPTIBILITY_STATE, 2);
        inject(&mut v, 0x20, 0, false);
    }
);
entry_test!(
    guest_nmi_with_mov_ss,
    [Yonah, Max],
    C::GuestInterruptibilityNmiInjectionMovSs,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_INTERRUPTIBILITY_STATE, 2);
        inject(&mut v, 2, 2, false);
    }
);
entry_test!(
    guest_smi_blocking_outside_smm,
    [Yonah, Max],
    C::GuestInterruptibilitySmiOutsideSmm,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_INTERRUPTIBILITY_STATE, 4);
    }
);
entry_test!(
    guest_entry_to_smm_without_smi_blocking,
    [Yonah],
    C::GuestInterruptibilitySmiRequiredForEntryToSmm,
    GUEST,
    |mo, v, m, cpu| {
        cpu.in_smm = true;
        entry(&mut v, Entry::ENTRY_TO_SMM);
    }
);
entry_test!(
    guest_virtual_nmi_blocking_with_nmi_injection,
    [Max],
    C::GuestInterruptibilityVirtualNmiBlocking,
    GUEST,
    |mo, v, m, cpu| {
        pin(&mut v, Pin::NMI_EXITING | Pin::VIRTUAL_NMIS);
        set(&mut v, enc::GUEST_INTERRUPTIBILITY_STATE, 8);
        inject(&mut v, 2, 2, false);
    }
);
entry_test!(
    guest_nmi_with_sti_blocking,
    [Yonah, Max],
    C::GuestInterruptibilityNmiInjectionSti,
    NMI_STI,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_RFLAGS, 0x202);
        set(&mut v, enc::GUEST_INTERRUPTIBILITY_STATE, 1);
        inject(&mut v, 2, 2, false);
    }
);
entry_test!(
    guest_pending_debug_reserved,
    [Yonah, Max],
    C::GuestPendingDebugExceptionsReservedBits,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_PENDING_DEBUG_EXCEPTIONS, 0x10);
    }
);
entry_test!(
    guest_pending_debug_bs_missing,
    [Yonah, Max],
    C::GuestPendingDebugExceptionsBs,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_RFLAGS, 0x302);
        set(&mut v, enc::GUEST_INTERRUPTIBILITY_STATE, 1);
    }
);
entry_test!(
    guest_pending_debug_bs_without_tf,
    [Yonah, Max],
    C::GuestPendingDebugExceptionsBs,
    GUEST,
    |mo, v, m, cpu| {
        set(&mut v, enc::GUEST_ACTIVITY_STATE, 1);
        set(&mut v, enc::GUEST_PENDING_DEBUG_EXCEPTIONS, 1 << 14);
    }
);
entry_test!(
    vmcs_link_pointer_misaligned,
    [Yonah, Max],
    C::VmcsLinkPointerReservedBits,
    LINK,
    |mo, v, m, cpu| {
        set(&mut v, enc::VMCS_LINK_POINTER, 0x9001);
    }
);
entry_test!(
    vmcs_link_pointer_beyond_width,
    [Yonah, Max],
    C::VmcsLinkPointerReservedBits,
    LINK,
    |mo, v, m, cpu| {
        set(&mut v, enc::VMCS_LINK_POINTER, 0x1_0000_0000);
    }
);
entry_test!(
    vmcs_link_pointer_revision,
    [Yonah, Max],
    C::VmcsLinkPointerRevision,
    LINK,
    |mo, v, m, cpu| {
        set(&mut v, enc::VMCS_LINK_POINTER, 0x9000);
        m.write_u32(0x9000, 0x99);
    }
);
entry_test!(
    vmcs_link_pointer_shadow_indicator,
    [Yonah, Max],
    C::VmcsLinkPointerShadowIndicator,
    LINK,
    |mo, v, m, cpu| {
        set(&mut v, enc::VMCS_LINK_POINTER, 0x9000);
        m.write_u32(0x9000, mo.capabilities().revision_id() | 0x8000_0000);
    }
);

#[test]
fn vmcs_link_pointer_to_shadow_vmcs_is_accepted_with_shadowing() {
    let mut v = valid_vmcs_for(CpuModel::Max);
    let mut m = TestMemory::default();
    secondary(&mut v, Proc2::VMCS_SHADOWING);
    set(&mut v, enc::VMREAD_BITMAP_ADDRESS, 0x7000);
    set(&mut v, enc::VMWRITE_BITMAP_ADDRESS, 0x8000);
    set(&mut v, enc::VMCS_LINK_POINTER, 0x9000);
    m.write_u32(0x9000, 0x12 | 0x8000_0000);
    assert_eq!(run(&v, &m, &CpuContext::default()), Ok(()));
    m.write_u32(0x9000, 0x12);
    let err = run(&v, &m, &CpuContext::default()).unwrap_err();
    assert_eq!(
        (err.check, err.class),
        (C::VmcsLinkPointerShadowIndicator, LINK)
    );
}

// ---------- §26.3.1.6 PDPTEs ----------

entry_test!(
    pae_pdpte_from_memory_reserved,
    [Yonah, Max],
    C::GuestPdpteReservedBits(1),
    PDPTE,
    |mo, v, m, cpu| {
        or(&mut v, enc::GUEST_CR4, 1 << 5);
        set(&mut v, enc::GUEST_CR3, 0x7000);
        m.write_u64(0x7000, 0x1001);
        m.write_u64(0x7008, 0x2003);
    }
);
entry_test!(
    pae_pdpte_beyond_maxphyaddr,
    [Yonah, Max],
    C::GuestPdpteReservedBits(0),
    PDPTE,
    |mo, v, m, cpu| {
        or(&mut v, enc::GUEST_CR4, 1 << 5);
        set(&mut v, enc::GUEST_CR3, 0x7000);
        m.write_u64(0x7000, 0x10_0000_1001);
    }
);
entry_test!(
    pae_pdpte_from_vmcs_with_ept,
    [Max],
    C::GuestPdpteReservedBits(2),
    PDPTE,
    |mo, v, m, cpu| {
        enable_ept(&mut v);
        or(&mut v, enc::GUEST_CR4, 1 << 5);
        set(&mut v, enc::GUEST_PDPTE2, 0x3001 | (1 << 5));
    }
);

#[test]
fn pae_pdptes_come_from_vmcs_when_ept_is_on() {
    let mut v = valid_vmcs_for(CpuModel::Max);
    let mut m = TestMemory::default();
    or(&mut v, enc::GUEST_CR4, 1 << 5);
    set(&mut v, enc::GUEST_CR3, 0x7000);
    m.write_u64(0x7000, 0xFFF); // bad PDPTE in memory
    let err = run(&v, &m, &CpuContext::default()).unwrap_err();
    assert_eq!(err.check, C::GuestPdpteReservedBits(0));
    enable_ept(&mut v);
    set(&mut v, enc::GUEST_PDPTE0, 0x1001);
    assert_eq!(run(&v, &m, &CpuContext::default()), Ok(()));
    // Non-present PDPTEs are not checked.
    set(&mut v, enc::GUEST_PDPTE1, 0xFFE);
    assert_eq!(run(&v, &m, &CpuContext::default()), Ok(()));
}

// ---------- §26.4 MSR loading ----------

fn msr_area(v: &mut Vmcs, count: u64) {
    set(v, enc::VM_ENTRY_MSR_LOAD_ADDRESS, 0xA000);
    set(v, enc::VM_ENTRY_MSR_LOAD_COUNT, count);
}

entry_test!(
    msr_load_x2apic,
    [Yonah, Max],
    C::MsrLoadX2Apic(1),
    msr(1),
    |mo, v, m, cpu| {
        msr_area(&mut v, 1);
        msr_entry(&mut m, 0xA000, 0x808, 0, 0);
    }
);
entry_test!(
    msr_load_smbase,
    [Yonah, Max],
    C::MsrLoadSmm(2),
    msr(2),
    |mo, v, m, cpu| {
        msr_area(&mut v, 2);
        msr_entry(&mut m, 0xA000, 0x174, 0, 0x8);
        msr_entry(&mut m, 0xA010, 0x9E, 0, 0);
    }
);
entry_test!(
    msr_load_reserved_bits,
    [Yonah, Max],
    C::MsrLoadReservedBits(3),
    msr(3),
    |mo, v, m, cpu| {
        msr_area(&mut v, 3);
        msr_entry(&mut m, 0xA000, 0x174, 0, 0x8);
        msr_entry(&mut m, 0xA010, 0x175, 0, 0x8000);
        msr_entry(&mut m, 0xA020, 0x176, 1, 0x1000);
    }
);
entry_test!(
    msr_load_list_too_long,
    [Yonah, Max],
    C::MsrLoadCountExceedsMaximum(513),
    msr(513),
    |mo, v, m, cpu| {
        msr_area(&mut v, 513);
    }
);

#[test]
fn msr_load_write_fault() {
    for model in CpuModel::ALL {
        let mut v = valid_vmcs_for(model);
        let mut m = TestMemory::default();
        msr_area(&mut v, 2);
        msr_entry(&mut m, 0xA000, 0x174, 0, 0x8);
        msr_entry(&mut m, 0xA010, 0x277, 0, 0x0707);
        let env = FaultingEnv {
            mem: &m,
            faulting_msr: 0x277,
        };
        let err = check_vm_entry(v.caps(), &v, &CpuContext::default(), &env).unwrap_err();
        assert_eq!((err.check, err.class), (C::MsrLoadWriteFault(2), msr(2)));
    }
}

#[test]
fn valid_msr_load_area_passes() {
    for model in CpuModel::ALL {
        let mut v = valid_vmcs_for(model);
        let mut m = TestMemory::default();
        msr_area(&mut v, 2);
        msr_entry(&mut m, 0xA000, 0x174, 0, 0x8);
        msr_entry(&mut m, 0xA010, 0x175, 0, 0x8000);
        assert_eq!(run(&v, &m, &CpuContext::default()), Ok(()));
    }
}

#[test]
fn checks_run_in_sdm_order() {
    // A control error wins over host and guest errors; a host error wins
    // over a guest error.
    for model in CpuModel::ALL {
        let mut v = valid_vmcs_for(model);
        set(&mut v, enc::GUEST_RFLAGS, 0);
        set(&mut v, enc::HOST_CS_SELECTOR, 0);
        assert_eq!(
            run(&v, &TestMemory::default(), &CpuContext::default())
                .unwrap_err()
                .check,
            C::HostCsSelectorZero
        );
        set(&mut v, enc::CR3_TARGET_COUNT, 9);
        assert_eq!(
            run(&v, &TestMemory::default(), &CpuContext::default())
                .unwrap_err()
                .check,
            C::Cr3TargetCount
        );
    }
    let _ = (CR0, CR4);
}

entry_test!(
    vmcs_link_pointer_is_current_vmcs,
    [Yonah, Max],
    C::VmcsLinkPointerIsCurrentVmcs,
    LINK,
    |mo, v, m, cpu| {
        cpu.current_vmcs_pointer = 0x9000;
        set(&mut v, enc::VMCS_LINK_POINTER, 0x9000);
        m.write_u32(0x9000, mo.capabilities().revision_id());
    }
);
entry_test!(
    vmcs_link_pointer_is_executive_vmcs_in_smm,
    [Yonah],
    C::VmcsLinkPointerIsExecutiveVmcs,
    LINK,
    |mo, v, m, cpu| {
        cpu.in_smm = true;
        set(&mut v, enc::EXECUTIVE_VMCS_POINTER, 0x9000);
        set(&mut v, enc::VMCS_LINK_POINTER, 0x9000);
        m.write_u32(0x9000, mo.capabilities().revision_id());
    }
);
entry_test!(
    msr_load_smm_monitor_ctl_outside_smm_entry,
    [Yonah, Max],
    C::MsrLoadSmm(1),
    msr(1),
    |mo, v, m, cpu| {
        msr_area(&mut v, 1);
        msr_entry(&mut m, 0xA000, 0x9B, 0, 0);
    }
);
entry_test!(
    entry_error_code_bit_15,
    [Yonah, Max],
    C::EntryExceptionErrorCodeReservedBits,
    CTRL,
    |mo, v, m, cpu| {
        inject(&mut v, 14, 3, true);
        set(&mut v, enc::VM_ENTRY_EXCEPTION_ERROR_CODE, 0x8000);
    }
);
entry_test!(
    nmi_sti_check_precedes_virtual_nmi_blocking,
    [Max],
    C::GuestInterruptibilityNmiInjectionSti,
    NMI_STI,
    |mo, v, m, cpu| {
        pin(&mut v, Pin::NMI_EXITING | Pin::VIRTUAL_NMIS);
        set(&mut v, enc::GUEST_RFLAGS, 0x202);
        set(&mut v, enc::GUEST_INTERRUPTIBILITY_STATE, 9);
        inject(&mut v, 2, 2, false);
    }
);

#[test]
fn smm_monitor_ctl_loads_when_entry_ends_in_smm() {
    let mut v = valid_vmcs_for(CpuModel::Yonah);
    let mut m = TestMemory::default();
    let cpu = CpuContext {
        in_smm: true,
        ..CpuContext::default()
    };
    entry(&mut v, Entry::ENTRY_TO_SMM);
    set(&mut v, enc::GUEST_INTERRUPTIBILITY_STATE, 4);
    msr_area(&mut v, 1);
    msr_entry(&mut m, 0xA000, 0x9B, 0, 0);
    assert_eq!(run(&v, &m, &cpu), Ok(()));
}

#[test]
fn error_code_bits_14_0_are_accepted() {
    for model in CpuModel::ALL {
        let mut v = valid_vmcs_for(model);
        inject(&mut v, 14, 3, true);
        set(&mut v, enc::VM_ENTRY_EXCEPTION_ERROR_CODE, 0x7FFF);
        assert_eq!(
            run(&v, &TestMemory::default(), &CpuContext::default()),
            Ok(())
        );
    }
}
