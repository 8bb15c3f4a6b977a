//! VMX controls as bitflags (SDM §24.6.1, §24.6.2, §24.7.1, §24.8.1).
//!
//! Bit names follow the SDM tables. Bits that the SDM marks "reserved"
//! (including the default1 bits) are not named; use `from_bits_retain` to
//! keep them.

use bitflags::bitflags;

bitflags! {
    /// Pin-based VM-execution controls (SDM Table 24-5).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct PinBasedControls: u32 {
        /// Bit 0: external-interrupt exiting.
        const EXTERNAL_INTERRUPT_EXITING = 1 << 0;
        /// Bit 3: NMI exiting.
        const NMI_EXITING = 1 << 3;
        /// Bit 5: virtual NMIs.
        const VIRTUAL_NMIS = 1 << 5;
        /// Bit 6: activate VMX-preemption timer.
        const ACTIVATE_VMX_PREEMPTION_TIMER = 1 << 6;
        /// Bit 7: process posted interrupts.
        const PROCESS_POSTED_INTERRUPTS = 1 << 7;
    }
}

bitflags! {
    /// Primary processor-based VM-execution controls (SDM Table 24-6).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct PrimaryProcessorBasedControls: u32 {
        /// Bit 2: interrupt-window exiting.
        const INTERRUPT_WINDOW_EXITING = 1 << 2;
        /// Bit 3: use TSC offsetting.
        const USE_TSC_OFFSETTING = 1 << 3;
        /// Bit 7: HLT exiting.
        const HLT_EXITING = 1 << 7;
        /// Bit 9: INVLPG exiting.
        const INVLPG_EXITING = 1 << 9;
        /// Bit 10: MWAIT exiting.
        const MWAIT_EXITING = 1 << 10;
        /// Bit 11: RDPMC exiting.
        const RDPMC_EXITING = 1 << 11;
        /// Bit 12: RDTSC exiting.
        const RDTSC_EXITING = 1 << 12;
        /// Bit 15: CR3-load exiting.
        const CR3_LOAD_EXITING = 1 << 15;
        /// Bit 16: CR3-store exiting.
        const CR3_STORE_EXITING = 1 << 16;
        /// Bit 17: activate tertiary controls.
        const ACTIVATE_TERTIARY_CONTROLS = 1 << 17;
        /// Bit 19: CR8-load exiting (64-bit only).
        const CR8_LOAD_EXITING = 1 << 19;
        /// Bit 20: CR8-store exiting (64-bit only).
        const CR8_STORE_EXITING = 1 << 20;
        /// Bit 21: use TPR shadow.
        const USE_TPR_SHADOW = 1 << 21;
        /// Bit 22: NMI-window exiting.
        const NMI_WINDOW_EXITING = 1 << 22;
        /// Bit 23: MOV-DR exiting.
        const MOV_DR_EXITING = 1 << 23;
        /// Bit 24: unconditional I/O exiting.
        const UNCONDITIONAL_IO_EXITING = 1 << 24;
        /// Bit 25: use I/O bitmaps.
        const USE_IO_BITMAPS = 1 << 25;
        /// Bit 27: monitor trap flag.
        const MONITOR_TRAP_FLAG = 1 << 27;
        /// Bit 28: use MSR bitmaps.
        const USE_MSR_BITMAPS = 1 << 28;
        /// Bit 29: MONITOR exiting.
        const MONITOR_EXITING = 1 << 29;
        /// Bit 30: PAUSE exiting.
        const PAUSE_EXITING = 1 << 30;
        /// Bit 31: activate secondary controls.
        const ACTIVATE_SECONDARY_CONTROLS = 1 << 31;
    }
}

bitflags! {
    /// Secondary processor-based VM-execution controls (SDM Table 24-7).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct SecondaryProcessorBasedControls: u32 {
        /// Bit 0: virtualize APIC accesses.
        const VIRTUALIZE_APIC_ACCESSES = 1 << 0;
        /// Bit 1: enable EPT.
        const ENABLE_EPT = 1 << 1;
        /// Bit 2: descriptor-table exiting.
        const DESCRIPTOR_TABLE_EXITING = 1 << 2;
        /// Bit 3: enable RDTSCP.
        const ENABLE_RDTSCP = 1 << 3;
        /// Bit 4: virtualize x2APIC mode.
        const VIRTUALIZE_X2APIC_MODE = 1 << 4;
        /// Bit 5: enable VPID.
        const ENABLE_VPID = 1 << 5;
        /// Bit 6: WBINVD exiting.
        const WBINVD_EXITING = 1 << 6;
        /// Bit 7: unrestricted guest.
        const UNRESTRICTED_GUEST = 1 << 7;
        /// Bit 8: APIC-register virtualization.
        const APIC_REGISTER_VIRTUALIZATION = 1 << 8;
        /// Bit 9: virtual-interrupt delivery.
        const VIRTUAL_INTERRUPT_DELIVERY = 1 << 9;
        /// Bit 10: PAUSE-loop exiting.
        const PAUSE_LOOP_EXITING = 1 << 10;
        /// Bit 11: RDRAND exiting.
        const RDRAND_EXITING = 1 << 11;
        /// Bit 12: enable INVPCID.
        const ENABLE_INVPCID = 1 << 12;
        /// Bit 13: enable VM functions.
        const ENABLE_VM_FUNCTIONS = 1 << 13;
        /// Bit 14: VMCS shadowing.
        const VMCS_SHADOWING = 1 << 14;
        /// Bit 15: enable ENCLS exiting.
        const ENABLE_ENCLS_EXITING = 1 << 15;
        /// Bit 16: RDSEED exiting.
        const RDSEED_EXITING = 1 << 16;
        /// Bit 17: enable PML.
        const ENABLE_PML = 1 << 17;
        /// Bit 18: EPT-violation #VE.
        const EPT_VIOLATION_VE = 1 << 18;
        /// Bit 19: conceal VMX from PT.
        const CONCEAL_VMX_FROM_PT = 1 << 19;
        /// Bit 20: enable XSAVES/XRSTORS.
        const ENABLE_XSAVES_XRSTORS = 1 << 20;
        /// Bit 22: mode-based execute control for EPT.
        const MODE_BASED_EXECUTE_CONTROL_FOR_EPT = 1 << 22;
        /// Bit 23: sub-page write permissions for EPT.
        const SUB_PAGE_WRITE_PERMISSIONS_FOR_EPT = 1 << 23;
        /// Bit 24: Intel PT uses guest physical addresses.
        const PT_USES_GUEST_PHYSICAL_ADDRESSES = 1 << 24;
        /// Bit 25: use TSC scaling.
        const USE_TSC_SCALING = 1 << 25;
        /// Bit 26: enable user wait and pause.
        const ENABLE_USER_WAIT_AND_PAUSE = 1 << 26;
        /// Bit 28: enable ENCLV exiting.
        const ENABLE_ENCLV_EXITING = 1 << 28;
    }
}

bitflags! {
    /// Primary VM-exit controls (SDM Table 24-13).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct VmExitControls: u32 {
        /// Bit 2: save debug controls.
        const SAVE_DEBUG_CONTROLS = 1 << 2;
        /// Bit 9: host address-space size (must be 0 on IA-32 processors).
        const HOST_ADDRESS_SPACE_SIZE = 1 << 9;
        /// Bit 12: load IA32_PERF_GLOBAL_CTRL.
        const LOAD_IA32_PERF_GLOBAL_CTRL = 1 << 12;
        /// Bit 15: acknowledge interrupt on exit.
        const ACKNOWLEDGE_INTERRUPT_ON_EXIT = 1 << 15;
        /// Bit 18: save IA32_PAT.
        const SAVE_IA32_PAT = 1 << 18;
        /// Bit 19: load IA32_PAT.
        const LOAD_IA32_PAT = 1 << 19;
        /// Bit 20: save IA32_EFER.
        const SAVE_IA32_EFER = 1 << 20;
        /// Bit 21: load IA32_EFER.
        const LOAD_IA32_EFER = 1 << 21;
        /// Bit 22: save VMX-preemption timer value.
        const SAVE_VMX_PREEMPTION_TIMER_VALUE = 1 << 22;
        /// Bit 23: clear IA32_BNDCFGS.
        const CLEAR_IA32_BNDCFGS = 1 << 23;
        /// Bit 24: conceal VMX from PT.
        const CONCEAL_VMX_FROM_PT = 1 << 24;
    }
}

bitflags! {
    /// VM-entry controls (SDM Table 24-15).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct VmEntryControls: u32 {
        /// Bit 2: load debug controls.
        const LOAD_DEBUG_CONTROLS = 1 << 2;
        /// Bit 9: IA-32e mode guest (must be 0 on IA-32 processors).
        const IA32E_MODE_GUEST = 1 << 9;
        /// Bit 10: entry to SMM.
        const ENTRY_TO_SMM = 1 << 10;
        /// Bit 11: deactivate dual-monitor treatment.
        const DEACTIVATE_DUAL_MONITOR_TREATMENT = 1 << 11;
        /// Bit 13: load IA32_PERF_GLOBAL_CTRL.
        const LOAD_IA32_PERF_GLOBAL_CTRL = 1 << 13;
        /// Bit 14: load IA32_PAT.
        const LOAD_IA32_PAT = 1 << 14;
        /// Bit 15: load IA32_EFER.
        const LOAD_IA32_EFER = 1 << 15;
        /// Bit 16: load IA32_BNDCFGS.
        const LOAD_IA32_BNDCFGS = 1 << 16;
        /// Bit 17: conceal VMX from PT.
        const CONCEAL_VMX_FROM_PT = 1 << 17;
    }
}

/// Default1 class of the pin-based controls (bits 1, 2, 4; SDM Appendix A.3.1).
pub const PIN_BASED_DEFAULT1: u32 = 0x0000_0016;
/// Default1 class of the primary processor-based controls
/// (bits 1, 4-6, 8, 13-16, 26; SDM Appendix A.3.2).
pub const PRIMARY_PROCESSOR_BASED_DEFAULT1: u32 = 0x0401_E172;
/// Default1 class of the VM-exit controls (bits 0-8, 10, 11, 13, 14, 16, 17;
/// SDM Appendix A.4).
pub const VM_EXIT_DEFAULT1: u32 = 0x0003_6DFF;
/// Default1 class of the VM-entry controls (bits 0-8, 12; SDM Appendix A.5).
pub const VM_ENTRY_DEFAULT1: u32 = 0x0000_11FF;

/// The five control fields checked against a capability MSR pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlField {
    /// Pin-based VM-execution controls (4000H).
    PinBased,
    /// Primary processor-based VM-execution controls (4002H).
    PrimaryProcessorBased,
    /// Secondary processor-based VM-execution controls (401EH).
    SecondaryProcessorBased,
    /// VM-exit controls (400CH).
    VmExit,
    /// VM-entry controls (4012H).
    VmEntry,
}

impl ControlField {
    /// All control fields in SDM order.
    pub const ALL: [ControlField; 5] = [
        Self::PinBased,
        Self::PrimaryProcessorBased,
        Self::SecondaryProcessorBased,
        Self::VmExit,
        Self::VmEntry,
    ];

    /// Default1 bits of this field (none for the secondary controls).
    pub const fn default1(self) -> u32 {
        match self {
            Self::PinBased => PIN_BASED_DEFAULT1,
            Self::PrimaryProcessorBased => PRIMARY_PROCESSOR_BASED_DEFAULT1,
            Self::SecondaryProcessorBased => 0,
            Self::VmExit => VM_EXIT_DEFAULT1,
            Self::VmEntry => VM_ENTRY_DEFAULT1,
        }
    }

    /// SDM name of control bit `bit` of this field, if it is named.
    pub fn bit_name(self, bit: u32) -> Option<&'static str> {
        let mask = 1u32.checked_shl(bit)?;
        match self {
            Self::PinBased => PinBasedControls::from_bits_retain(mask)
                .iter_names()
                .next()
                .map(|(n, _)| n),
            Self::PrimaryProcessorBased => PrimaryProcessorBasedControls::from_bits_retain(mask)
                .iter_names()
                .next()
                .map(|(n, _)| n),
            Self::SecondaryProcessorBased => {
                SecondaryProcessorBasedControls::from_bits_retain(mask)
                    .iter_names()
                    .next()
                    .map(|(n, _)| n)
            }
            Self::VmExit => VmExitControls::from_bits_retain(mask)
                .iter_names()
                .next()
                .map(|(n, _)| n),
            Self::VmEntry => VmEntryControls::from_bits_retain(mask)
                .iter_names()
                .next()
                .map(|(n, _)| n),
        }
    }
}
