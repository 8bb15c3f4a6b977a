//! The named VM-entry checks and their outcome classes.

use super::{EntryFailureClass, SegmentRegister};
use crate::error::VmInstructionError;
use crate::exit::qualification::EntryFailureQualification;

/// One VM-entry check of SDM §26.2-26.4. The doc comment of each variant
/// names its SDM section; [`EntryCheck::class`] gives the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryCheck {
    // ---- §26.2.1.1 VM-execution control fields (error 7) ----
    /// §26.2.1.1: pin-based controls obey IA32_VMX_(TRUE_)PINBASED_CTLS.
    PinBasedReservedBits,
    /// §26.2.1.1: primary processor-based controls obey
    /// IA32_VMX_(TRUE_)PROCBASED_CTLS.
    PrimaryProcessorBasedReservedBits,
    /// §26.2.1.1: secondary controls obey IA32_VMX_PROCBASED_CTLS2 (if
    /// "activate secondary controls" is 1).
    SecondaryProcessorBasedReservedBits,
    /// §26.2.1.1: CR3-target count <= IA32_VMX_MISC bits 24:16.
    Cr3TargetCount,
    /// §26.2.1.1: I/O-bitmap A address 4-KByte aligned and within the
    /// physical-address width (if "use I/O bitmaps").
    IoBitmapAAddress,
    /// §26.2.1.1: I/O-bitmap B address (as for A).
    IoBitmapBAddress,
    /// §26.2.1.1: MSR-bitmap address (if "use MSR bitmaps").
    MsrBitmapAddress,
    /// §26.2.1.1: virtual-APIC address (if "use TPR shadow").
    VirtualApicAddress,
    /// §26.2.1.1: TPR threshold bits 31:4 are 0 (if "use TPR shadow").
    TprThresholdReservedBits,
    /// §26.2.1.1: TPR threshold bits 3:0 <= VTPR bits 7:4 (if "use TPR
    /// shadow" and not "virtualize APIC accesses").
    TprThresholdAboveVtpr,
    /// §26.2.1.1: "virtual NMIs" requires "NMI exiting".
    VirtualNmisWithoutNmiExiting,
    /// §26.2.1.1: "NMI-window exiting" requires "virtual NMIs".
    NmiWindowExitingWithoutVirtualNmis,
    /// §26.2.1.1: APIC-access address (if "virtualize APIC accesses").
    ApicAccessAddress,
    /// §26.2.1.1: VPID is not 0000H (if "enable VPID").
    VpidZero,
    /// §26.2.1.1: EPTP memory type (bits 2:0) is a supported type (UC/WB).
    EptPointerMemoryType,
    /// §26.2.1.1: EPTP bits 5:3 (page-walk length - 1) are 3.
    EptPointerPageWalkLength,
    /// §26.2.1.1: EPTP bit 6 (A/D enable) is 0 unless A/D flags are
    /// supported.
    EptPointerAccessedDirty,
    /// §26.2.1.1: EPTP bits 11:7 and bits beyond the physical-address width
    /// are 0.
    EptPointerReservedBits,
    /// §26.2.1.1: "unrestricted guest" requires "enable EPT".
    UnrestrictedGuestWithoutEpt,
    /// §26.2.1.1: VMREAD-bitmap address (if "VMCS shadowing").
    VmreadBitmapAddress,
    /// §26.2.1.1: VMWRITE-bitmap address (if "VMCS shadowing").
    VmwriteBitmapAddress,
    // ---- §26.2.1.2 VM-exit control fields (error 7) ----
    /// §26.2.1.2: VM-exit controls obey IA32_VMX_(TRUE_)EXIT_CTLS.
    VmExitReservedBits,
    /// §26.2.1.2: "save VMX-preemption timer value" requires "activate
    /// VMX-preemption timer".
    SavePreemptionTimerWithoutActivate,
    /// §26.2.1.2: VM-exit MSR-store address 16-byte aligned, area within
    /// the physical-address width.
    VmExitMsrStoreAddress,
    /// §26.2.1.2: VM-exit MSR-load address (as above).
    VmExitMsrLoadAddress,
    // ---- §26.2.1.3 VM-entry control fields (error 7) ----
    /// §26.2.1.3: VM-entry controls obey IA32_VMX_(TRUE_)ENTRY_CTLS.
    VmEntryReservedBits,
    /// §26.2.1.3: interruption type is not 1 (reserved), and not 7 (other
    /// event) unless the monitor trap flag is supported.
    EntryInterruptionType,
    /// §26.2.1.3: vector is 2 for NMI, <= 31 for hardware exceptions, 0 for
    /// other events.
    EntryInterruptionVector,
    /// §26.2.1.3: "deliver error code" is 1 exactly for hardware exceptions
    /// 8, 10-14, 17 in protected mode.
    EntryInterruptionDeliverErrorCode,
    /// §26.2.1.3: interruption-information bits 30:12 are 0.
    EntryInterruptionReservedBits,
    /// §26.2.1.3: exception error code bits 31:15 are 0 (if delivered).
    EntryExceptionErrorCodeReservedBits,
    /// §26.2.1.3: instruction length 1-15 (0 only with MISC bit 30) for
    /// software interrupts and exceptions.
    EntryInstructionLength,
    /// §26.2.1.3: VM-entry MSR-load address 16-byte aligned, area within the
    /// physical-address width.
    VmEntryMsrLoadAddress,
    /// §26.2.1.3: "entry to SMM" is 0 outside SMM.
    EntryToSmmOutsideSmm,
    /// §26.2.1.3: "deactivate dual-monitor treatment" is 0 outside SMM.
    DeactivateDualMonitorOutsideSmm,
    /// §26.2.1.3: "entry to SMM" and "deactivate dual-monitor treatment" are
    /// not both 1.
    EntryToSmmAndDeactivateDualMonitor,
    // ---- §26.2.2 host control registers and MSRs (error 8) ----
    /// §26.2.2: host CR0 obeys IA32_VMX_CR0_FIXED0/1.
    HostCr0Fixed,
    /// §26.2.2: host CR4 obeys IA32_VMX_CR4_FIXED0/1.
    HostCr4Fixed,
    /// §26.2.2: host CR3 has no bits beyond the physical-address width.
    HostCr3ReservedBits,
    /// §26.2.2: host IA32_PERF_GLOBAL_CTRL reserved bits are 0 (if loaded).
    HostPerfGlobalCtrlReservedBits,
    /// §26.2.2: host IA32_PAT bytes are valid memory types (if loaded).
    HostPatInvalid,
    /// §26.2.2: host IA32_EFER reserved bits are 0 (if loaded).
    HostEferReservedBits,
    /// §26.2.2: host IA32_EFER.LMA and LME equal "host address-space size".
    HostEferLmaLme,
    // ---- §26.2.3 host segment and descriptor-table registers (error 8) ----
    /// §26.2.3: RPL and TI of the host selector are 0.
    HostSelectorRplTi(SegmentRegister),
    /// §26.2.3: host CS selector is not 0000H.
    HostCsSelectorZero,
    /// §26.2.3: host TR selector is not 0000H.
    HostTrSelectorZero,
    /// §26.2.3: host SS selector is not 0000H when "host address-space
    /// size" is 0.
    HostSsSelectorZero,
    // ---- §26.2.4 address-space size (error 8) ----
    /// §26.2.4: on an IA-32 processor "IA-32e mode guest" is 0.
    Ia32eModeGuestOnIa32Processor,
    /// §26.2.4: on an IA-32 processor "host address-space size" is 0.
    HostAddressSpaceSizeOnIa32Processor,
    // ---- §26.3.1.1 guest control registers, debug registers, MSRs ----
    /// §26.3.1.1: guest CR0 obeys FIXED0/1 (PE and PG exempt with
    /// "unrestricted guest").
    GuestCr0Fixed,
    /// §26.3.1.1: guest CR0.PG = 1 requires CR0.PE = 1.
    GuestCr0PgWithoutPe,
    /// §26.3.1.1: guest CR4 obeys FIXED0/1.
    GuestCr4Fixed,
    /// §26.3.1.1: guest IA32_DEBUGCTL reserved bits are 0 (if "load debug
    /// controls").
    GuestDebugctlReservedBits,
    /// §26.3.1.1: guest CR3 has no bits beyond the physical-address width.
    GuestCr3ReservedBits,
    /// §26.3.1.1: guest IA32_PERF_GLOBAL_CTRL reserved bits are 0 (if
    /// loaded).
    GuestPerfGlobalCtrlReservedBits,
    /// §26.3.1.1: guest IA32_PAT bytes are valid memory types (if loaded).
    GuestPatInvalid,
    /// §26.3.1.1: guest IA32_EFER reserved bits are 0 (if loaded).
    GuestEferReservedBits,
    /// §26.3.1.1: guest IA32_EFER.LMA equals "IA-32e mode guest".
    GuestEferLma,
    /// §26.3.1.1: guest IA32_EFER.LME equals "IA-32e mode guest" when
    /// CR0.PG = 1.
    GuestEferLme,
    // ---- §26.3.1.2 guest segment registers ----
    /// §26.3.1.2: TR selector TI flag is 0.
    GuestTrSelectorTi,
    /// §26.3.1.2: LDTR selector TI flag is 0 (if usable).
    GuestLdtrSelectorTi,
    /// §26.3.1.2: SS.RPL = CS.RPL (not virtual-8086, not unrestricted guest).
    GuestSsSelectorRpl,
    /// §26.3.1.2: virtual-8086 base = selector << 4.
    GuestSegmentBaseV86(SegmentRegister),
    /// §26.3.1.2: virtual-8086 limit = FFFFH.
    GuestSegmentLimitV86(SegmentRegister),
    /// §26.3.1.2: virtual-8086 access rights = F3H.
    GuestSegmentAccessRightsV86(SegmentRegister),
    /// §26.3.1.2: CS type is 9, 11, 13 or 15 (or 3 with unrestricted guest).
    GuestCsAccessRightsType,
    /// §26.3.1.2: SS type is 3 or 7 (if usable).
    GuestSsAccessRightsType,
    /// §26.3.1.2: DS/ES/FS/GS type is accessed, and readable if code (if
    /// usable).
    GuestDataSegmentAccessRightsType(SegmentRegister),
    /// §26.3.1.2: S = 1 for CS and usable SS/DS/ES/FS/GS.
    GuestSegmentAccessRightsS(SegmentRegister),
    /// §26.3.1.2: CS DPL: 0 for type 3; = SS.DPL for types 9/11; <= SS.DPL
    /// for types 13/15.
    GuestCsAccessRightsDpl,
    /// §26.3.1.2: SS DPL = SS.RPL (no unrestricted guest); 0 if CS type 3 or
    /// CR0.PE = 0.
    GuestSsAccessRightsDpl,
    /// §26.3.1.2: DS/ES/FS/GS DPL >= RPL for types 0-11 (usable, no
    /// unrestricted guest).
    GuestDataSegmentAccessRightsDpl(SegmentRegister),
    /// §26.3.1.2: P = 1 for CS and usable segments.
    GuestSegmentAccessRightsP(SegmentRegister),
    /// §26.3.1.2: access-rights bits 11:8 and 31:17 are 0.
    GuestSegmentAccessRightsReserved(SegmentRegister),
    /// §26.3.1.2: G consistent with the limit (bits 11:0 all 1 if G = 1;
    /// bits 31:20 all 0 if G = 0).
    GuestSegmentAccessRightsGranularity(SegmentRegister),
    /// §26.3.1.2: TR type is 3 or 11 (busy TSS).
    GuestTrAccessRightsType,
    /// §26.3.1.2: TR S = 0.
    GuestTrAccessRightsS,
    /// §26.3.1.2: TR is usable.
    GuestTrUnusable,
    /// §26.3.1.2: LDTR type is 2 (if usable).
    GuestLdtrAccessRightsType,
    /// §26.3.1.2: LDTR S = 0 (if usable).
    GuestLdtrAccessRightsS,
    // ---- §26.3.1.3 descriptor-table registers ----
    /// §26.3.1.3: GDTR limit bits 31:16 are 0.
    GuestGdtrLimitReservedBits,
    /// §26.3.1.3: IDTR limit bits 31:16 are 0.
    GuestIdtrLimitReservedBits,
    // ---- §26.3.1.4 RIP and RFLAGS ----
    /// §26.3.1.4: RFLAGS bits 31:22, 15, 5, 3 are 0 and bit 1 is 1.
    GuestRflagsReservedBits,
    /// §26.3.1.4: RFLAGS.VM = 0 if CR0.PE = 0 or "IA-32e mode guest".
    GuestRflagsVm,
    /// §26.3.1.4: RFLAGS.IF = 1 when injecting an external interrupt.
    GuestRflagsIfForExternalInterrupt,
    // ---- §26.3.1.5 non-register state ----
    /// §26.3.1.5: activity state is supported (MISC bits 8:6).
    GuestActivityStateUnsupported,
    /// §26.3.1.5: HLT requires SS.DPL = 0.
    GuestActivityStateHltWithSsDpl,
    /// §26.3.1.5: blocking by STI or MOV SS requires the active state.
    GuestActivityStateNotActiveWithBlocking,
    /// §26.3.1.5: the injected event is not blocked in the activity state.
    GuestActivityStateInjectionBlocked,
    /// §26.3.1.5: wait-for-SIPI not allowed with "entry to SMM".
    GuestActivityStateWaitForSipiWithEntryToSmm,
    /// §26.3.1.5: interruptibility-state bits 31:4 are 0.
    GuestInterruptibilityReservedBits,
    /// §26.3.1.5: not both blocking by STI and by MOV SS.
    GuestInterruptibilityStiAndMovSs,
    /// §26.3.1.5: blocking by STI requires RFLAGS.IF = 1.
    GuestInterruptibilityStiWithoutIf,
    /// §26.3.1.5: no STI/MOV-SS blocking when injecting an external
    /// interrupt.
    GuestInterruptibilityExternalInterruptInjection,
    /// §26.3.1.5: no MOV-SS blocking when injecting an NMI.
    GuestInterruptibilityNmiInjectionMovSs,
    /// §26.3.1.5: blocking by SMI requires being in SMM.
    GuestInterruptibilitySmiOutsideSmm,
    /// §26.3.1.5: "entry to SMM" requires blocking by SMI.
    GuestInterruptibilitySmiRequiredForEntryToSmm,
    /// §26.3.1.5 (implementation-specific, qualification 3): no STI
    /// blocking when injecting an NMI.
    GuestInterruptibilityNmiInjectionSti,
    /// §26.3.1.5: no NMI blocking when injecting an NMI with "virtual NMIs".
    GuestInterruptibilityVirtualNmiBlocking,
    /// §26.3.1.5: pending debug exceptions bits 11:4, 13 and 31:15 are 0.
    GuestPendingDebugExceptionsReservedBits,
    /// §26.3.1.5: with STI/MOV-SS blocking or HLT, BS = 1 iff RFLAGS.TF = 1
    /// and IA32_DEBUGCTL.BTF = 0.
    GuestPendingDebugExceptionsBs,
    /// §26.3.1.5 (qualification 4): VMCS link pointer bits 11:0 and bits
    /// beyond the physical-address width are 0.
    VmcsLinkPointerReservedBits,
    /// §26.3.1.5 (qualification 4): the linked VMCS has the model's
    /// revision identifier.
    VmcsLinkPointerRevision,
    /// §26.3.1.5 (qualification 4): the linked VMCS's shadow-VMCS
    /// indicator equals "VMCS shadowing".
    VmcsLinkPointerShadowIndicator,
    /// §26.3.1.5 (qualification 4): outside SMM (or with "entry to SMM") the
    /// link pointer is not the current-VMCS pointer.
    VmcsLinkPointerIsCurrentVmcs,
    /// §26.3.1.5 (qualification 4): in SMM without "entry to SMM" the link
    /// pointer differs from the executive-VMCS pointer.
    VmcsLinkPointerIsExecutiveVmcs,
    // ---- §26.3.1.6 PDPTEs ----
    /// §26.3.1.6 (qualification 2): a present PAE PDPTE has no reserved
    /// bits set (from guest memory if EPT is off, from the VMCS if on).
    GuestPdpteReservedBits(u8),
    // ---- §26.4 MSR loading (exit reason 34) ----
    /// §26.4: bits 63:32 of the entry's first qword are 0.
    MsrLoadReservedBits(u32),
    /// §26.4: the MSR is not an x2APIC MSR (ECX bits 31:8 = 000008H).
    MsrLoadX2Apic(u32),
    /// §26.4: the MSR is not IA32_SMM_MONITOR_CTL (writable only in SMM)
    /// unless the entry ends in SMM, and not IA32_SMBASE (model-specific).
    MsrLoadSmm(u32),
    /// §26.4: WRMSR of the value would not raise #GP.
    MsrLoadWriteFault(u32),
    /// §26.4 / Appendix A.6 (model choice): the entry lies beyond the
    /// recommended maximum list size.
    MsrLoadCountExceedsMaximum(u32),
}

impl EntryCheck {
    /// The outcome the SDM prescribes for this check.
    pub const fn class(&self) -> EntryFailureClass {
        use EntryCheck::*;
        match self {
            PinBasedReservedBits
            | PrimaryProcessorBasedReservedBits
            | SecondaryProcessorBasedReservedBits
            | Cr3TargetCount
            | IoBitmapAAddress
            | IoBitmapBAddress
            | MsrBitmapAddress
            | VirtualApicAddress
            | TprThresholdReservedBits
            | TprThresholdAboveVtpr
            | VirtualNmisWithoutNmiExiting
            | NmiWindowExitingWithoutVirtualNmis
            | ApicAccessAddress
            | VpidZero
            | EptPointerMemoryType
            | EptPointerPageWalkLength
            | EptPointerAccessedDirty
            | EptPointerReservedBits
            | UnrestrictedGuestWithoutEpt
            | VmreadBitmapAddress
            | VmwriteBitmapAddress
            | VmExitReservedBits
            | SavePreemptionTimerWithoutActivate
            | VmExitMsrStoreAddress
            | VmExitMsrLoadAddress
            | VmEntryReservedBits
            | EntryInterruptionType
            | EntryInterruptionVector
            | EntryInterruptionDeliverErrorCode
            | EntryInterruptionReservedBits
            | EntryExceptionErrorCodeReservedBits
            | EntryInstructionLength
            | VmEntryMsrLoadAddress
            | EntryToSmmOutsideSmm
            | DeactivateDualMonitorOutsideSmm
            | EntryToSmmAndDeactivateDualMonitor => {
                EntryFailureClass::VmFailValid(VmInstructionError::EntryInvalidControlFields)
            }
            HostCr0Fixed
            | HostCr4Fixed
            | HostCr3ReservedBits
            | HostPerfGlobalCtrlReservedBits
            | HostPatInvalid
            | HostEferReservedBits
            | HostEferLmaLme
            | HostSelectorRplTi(_)
            | HostCsSelectorZero
            | HostTrSelectorZero
            | HostSsSelectorZero
            | Ia32eModeGuestOnIa32Processor
            | HostAddressSpaceSizeOnIa32Processor => {
                EntryFailureClass::VmFailValid(VmInstructionError::EntryInvalidHostStateFields)
            }
            GuestInterruptibilityNmiInjectionSti => {
                EntryFailureClass::InvalidGuestState(EntryFailureQualification::NmiInjection)
            }
            VmcsLinkPointerReservedBits
            | VmcsLinkPointerRevision
            | VmcsLinkPointerShadowIndicator
            | VmcsLinkPointerIsCurrentVmcs
            | VmcsLinkPointerIsExecutiveVmcs => EntryFailureClass::InvalidGuestState(
                EntryFailureQualification::InvalidVmcsLinkPointer,
            ),
            GuestPdpteReservedBits(_) => {
                EntryFailureClass::InvalidGuestState(EntryFailureQualification::PdpteLoad)
            }
            MsrLoadReservedBits(n)
            | MsrLoadX2Apic(n)
            | MsrLoadSmm(n)
            | MsrLoadWriteFault(n)
            | MsrLoadCountExceedsMaximum(n) => EntryFailureClass::MsrLoading { entry: *n },
            _ => EntryFailureClass::InvalidGuestState(EntryFailureQualification::Default),
        }
    }
}
