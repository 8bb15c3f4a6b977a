//! VM-instruction error numbers (SDM §30.4) and crate error types.

use thiserror::Error;

/// VM-instruction error numbers stored in the VM-instruction error field
/// (encoding 4400H) by VMfailValid (SDM §30.4, Table 30-1).
///
/// Numbers 14, 21 and 27 are not defined by the SDM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
#[repr(u32)]
pub enum VmInstructionError {
    /// 1: VMCALL executed in VMX root operation.
    #[error("VMCALL executed in VMX root operation")]
    VmcallInVmxRoot = 1,
    /// 2: VMCLEAR with invalid physical address.
    #[error("VMCLEAR with invalid physical address")]
    VmclearInvalidAddress = 2,
    /// 3: VMCLEAR with VMXON pointer.
    #[error("VMCLEAR with VMXON pointer")]
    VmclearVmxonPointer = 3,
    /// 4: VMLAUNCH with non-clear VMCS.
    #[error("VMLAUNCH with non-clear VMCS")]
    VmlaunchNonClearVmcs = 4,
    /// 5: VMRESUME with non-launched VMCS.
    #[error("VMRESUME with non-launched VMCS")]
    VmresumeNonLaunchedVmcs = 5,
    /// 6: VMRESUME after VMXOFF (VMXOFF and VMXON between VMLAUNCH and VMRESUME).
    #[error("VMRESUME after VMXOFF")]
    VmresumeAfterVmxoff = 6,
    /// 7: VM entry with invalid control field(s).
    #[error("VM entry with invalid control field(s)")]
    EntryInvalidControlFields = 7,
    /// 8: VM entry with invalid host-state field(s).
    #[error("VM entry with invalid host-state field(s)")]
    EntryInvalidHostStateFields = 8,
    /// 9: VMPTRLD with invalid physical address.
    #[error("VMPTRLD with invalid physical address")]
    VmptrldInvalidAddress = 9,
    /// 10: VMPTRLD with VMXON pointer.
    #[error("VMPTRLD with VMXON pointer")]
    VmptrldVmxonPointer = 10,
    /// 11: VMPTRLD with incorrect VMCS revision identifier.
    #[error("VMPTRLD with incorrect VMCS revision identifier")]
    VmptrldIncorrectRevision = 11,
    /// 12: VMREAD/VMWRITE from/to unsupported VMCS component.
    #[error("VMREAD/VMWRITE from/to unsupported VMCS component")]
    UnsupportedVmcsComponent = 12,
    /// 13: VMWRITE to read-only VMCS component.
    #[error("VMWRITE to read-only VMCS component")]
    VmwriteReadOnlyComponent = 13,
    /// 15: VMXON executed in VMX root operation.
    #[error("VMXON executed in VMX root operation")]
    VmxonInVmxRoot = 15,
    /// 16: VM entry with invalid executive-VMCS pointer.
    #[error("VM entry with invalid executive-VMCS pointer")]
    EntryInvalidExecutiveVmcsPointer = 16,
    /// 17: VM entry with non-launched executive VMCS.
    #[error("VM entry with non-launched executive VMCS")]
    EntryNonLaunchedExecutiveVmcs = 17,
    /// 18: VM entry with executive-VMCS pointer not VMXON pointer.
    #[error("VM entry with executive-VMCS pointer not VMXON pointer")]
    EntryExecutiveVmcsNotVmxonPointer = 18,
    /// 19: VMCALL with non-clear VMCS.
    #[error("VMCALL with non-clear VMCS")]
    VmcallNonClearVmcs = 19,
    /// 20: VMCALL with invalid VM-exit control fields.
    #[error("VMCALL with invalid VM-exit control fields")]
    VmcallInvalidExitControls = 20,
    /// 22: VMCALL with incorrect MSEG revision identifier.
    #[error("VMCALL with incorrect MSEG revision identifier")]
    VmcallIncorrectMsegRevision = 22,
    /// 23: VMXOFF under dual-monitor treatment of SMIs and SMM.
    #[error("VMXOFF under dual-monitor treatment of SMIs and SMM")]
    VmxoffUnderDualMonitor = 23,
    /// 24: VMCALL with invalid SMM-monitor features.
    #[error("VMCALL with invalid SMM-monitor features")]
    VmcallInvalidSmmMonitorFeatures = 24,
    /// 25: VM entry with invalid VM-execution control fields in executive VMCS.
    #[error("VM entry with invalid VM-execution control fields in executive VMCS")]
    EntryInvalidExecutiveControls = 25,
    /// 26: VM entry with events blocked by MOV SS.
    #[error("VM entry with events blocked by MOV SS")]
    EntryEventsBlockedByMovSs = 26,
    /// 28: Invalid operand to INVEPT/INVVPID.
    #[error("invalid operand to INVEPT/INVVPID")]
    InvalidInveptInvvpidOperand = 28,
}

impl VmInstructionError {
    /// All defined error numbers, in numeric order.
    pub const ALL: [VmInstructionError; 25] = [
        Self::VmcallInVmxRoot,
        Self::VmclearInvalidAddress,
        Self::VmclearVmxonPointer,
        Self::VmlaunchNonClearVmcs,
        Self::VmresumeNonLaunchedVmcs,
        Self::VmresumeAfterVmxoff,
        Self::EntryInvalidControlFields,
        Self::EntryInvalidHostStateFields,
        Self::VmptrldInvalidAddress,
        Self::VmptrldVmxonPointer,
        Self::VmptrldIncorrectRevision,
        Self::UnsupportedVmcsComponent,
        Self::VmwriteReadOnlyComponent,
        Self::VmxonInVmxRoot,
        Self::EntryInvalidExecutiveVmcsPointer,
        Self::EntryNonLaunchedExecutiveVmcs,
        Self::EntryExecutiveVmcsNotVmxonPointer,
        Self::VmcallNonClearVmcs,
        Self::VmcallInvalidExitControls,
        Self::VmcallIncorrectMsegRevision,
        Self::VmxoffUnderDualMonitor,
        Self::VmcallInvalidSmmMonitorFeatures,
        Self::EntryInvalidExecutiveControls,
        Self::EntryEventsBlockedByMovSs,
        Self::InvalidInveptInvvpidOperand,
    ];

    /// The error number as stored in the VM-instruction error field.
    pub const fn number(self) -> u32 {
        self as u32
    }

    /// Decodes an error number; `None` for undefined numbers.
    pub fn from_number(n: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|e| e.number() == n)
    }
}

/// Errors of the crate's operations that are not VM-instruction errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum VmxError {
    /// A VM-instruction error (VMfailValid with this number).
    #[error("VM-instruction error: {0}")]
    Instruction(#[from] VmInstructionError),
    /// The operation raises #GP(0) (e.g. WRMSR to a locked IA32_FEATURE_CONTROL).
    #[error("general-protection fault")]
    GeneralProtection,
    /// The model's VMCS region is too small for the model's field layout.
    #[error("VMCS layout needs {needed} bytes but the region is {region} bytes")]
    RegionTooSmall {
        /// Bytes needed by the layout.
        needed: u32,
        /// Region size reported by IA32_VMX_BASIC.
        region: u32,
    },
}
