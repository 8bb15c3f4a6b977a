//! Basic exit reasons (SDM Appendix C) and the exit-reason field (§24.9.1).

macro_rules! exit_reasons {
    ($( $(#[$m:meta])* $name:ident = $n:expr, )*) => {
        /// Basic exit reason (bits 15:0 of the exit-reason field).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum ExitReason {
            $( $(#[$m])* $name = $n, )*
        }

        impl ExitReason {
            /// Every basic exit reason of Appendix C, in numeric order.
            pub const ALL: &'static [ExitReason] = &[ $( ExitReason::$name, )* ];

            /// Decodes a basic exit reason; `None` for numbers Appendix C
            /// does not define.
            pub const fn from_u16(n: u16) -> Option<Self> {
                match n {
                    $( $n => Some(Self::$name), )*
                    _ => None,
                }
            }

            /// The SDM name of the exit reason.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Self::$name => stringify!($name), )*
                }
            }
        }
    };
}

exit_reasons! {
    /// 0: exception or non-maskable interrupt (NMI).
    ExceptionOrNmi = 0,
    /// 1: external interrupt.
    ExternalInterrupt = 1,
    /// 2: triple fault.
    TripleFault = 2,
    /// 3: INIT signal.
    InitSignal = 3,
    /// 4: start-up IPI (SIPI).
    StartupIpi = 4,
    /// 5: I/O system-management interrupt (SMI).
    IoSmi = 5,
    /// 6: other SMI.
    OtherSmi = 6,
    /// 7: interrupt window.
    InterruptWindow = 7,
    /// 8: NMI window.
    NmiWindow = 8,
    /// 9: task switch.
    TaskSwitch = 9,
    /// 10: CPUID.
    Cpuid = 10,
    /// 11: GETSEC.
    Getsec = 11,
    /// 12: HLT.
    Hlt = 12,
    /// 13: INVD.
    Invd = 13,
    /// 14: INVLPG.
    Invlpg = 14,
    /// 15: RDPMC.
    Rdpmc = 15,
    /// 16: RDTSC.
    Rdtsc = 16,
    /// 17: RSM.
    Rsm = 17,
    /// 18: VMCALL.
    Vmcall = 18,
    /// 19: VMCLEAR.
    Vmclear = 19,
    /// 20: VMLAUNCH.
    Vmlaunch = 20,
    /// 21: VMPTRLD.
    Vmptrld = 21,
    /// 22: VMPTRST.
    Vmptrst = 22,
    /// 23: VMREAD.
    Vmread = 23,
    /// 24: VMRESUME.
    Vmresume = 24,
    /// 25: VMWRITE.
    Vmwrite = 25,
    /// 26: VMXOFF.
    Vmxoff = 26,
    /// 27: VMXON.
    Vmxon = 27,
    /// 28: control-register accesses.
    ControlRegisterAccess = 28,
    /// 29: MOV DR.
    MovDr = 29,
    /// 30: I/O instruction.
    IoInstruction = 30,
    /// 31: RDMSR.
    Rdmsr = 31,
    /// 32: WRMSR.
    Wrmsr = 32,
    /// 33: VM-entry failure due to invalid guest state.
    EntryFailureInvalidGuestState = 33,
    /// 34: VM-entry failure due to MSR loading.
    EntryFailureMsrLoading = 34,
    /// 36: MWAIT.
    Mwait = 36,
    /// 37: monitor trap flag.
    MonitorTrapFlag = 37,
    /// 39: MONITOR.
    Monitor = 39,
    /// 40: PAUSE.
    Pause = 40,
    /// 41: VM-entry failure due to machine-check event.
    EntryFailureMachineCheck = 41,
    /// 43: TPR below threshold.
    TprBelowThreshold = 43,
    /// 44: APIC access.
    ApicAccess = 44,
    /// 45: virtualized EOI.
    VirtualizedEoi = 45,
    /// 46: access to GDTR or IDTR.
    GdtrIdtrAccess = 46,
    /// 47: access to LDTR or TR.
    LdtrTrAccess = 47,
    /// 48: EPT violation.
    EptViolation = 48,
    /// 49: EPT misconfiguration.
    EptMisconfiguration = 49,
    /// 50: INVEPT.
    Invept = 50,
    /// 51: RDTSCP.
    Rdtscp = 51,
    /// 52: VMX-preemption timer expired.
    VmxPreemptionTimerExpired = 52,
    /// 53: INVVPID.
    Invvpid = 53,
    /// 54: WBINVD or WBNOINVD.
    Wbinvd = 54,
    /// 55: XSETBV.
    Xsetbv = 55,
    /// 56: APIC write.
    ApicWrite = 56,
    /// 57: RDRAND.
    Rdrand = 57,
    /// 58: INVPCID.
    Invpcid = 58,
    /// 59: VMFUNC.
    Vmfunc = 59,
    /// 60: ENCLS.
    Encls = 60,
    /// 61: RDSEED.
    Rdseed = 61,
    /// 62: page-modification log full.
    PageModificationLogFull = 62,
    /// 63: XSAVES.
    Xsaves = 63,
    /// 64: XRSTORS.
    Xrstors = 64,
    /// 65: PCONFIG.
    Pconfig = 65,
    /// 66: SPP-related event.
    SppRelatedEvent = 66,
    /// 67: UMWAIT.
    Umwait = 67,
    /// 68: TPAUSE.
    Tpause = 68,
    /// 69: LOADIWKEY.
    Loadiwkey = 69,
    /// 70: ENCLV.
    Enclv = 70,
    /// 72: ENQCMD PASID translation failure.
    EnqcmdPasidTranslationFailure = 72,
    /// 73: ENQCMDS PASID translation failure.
    EnqcmdsPasidTranslationFailure = 73,
    /// 74: bus lock.
    BusLock = 74,
    /// 75: instruction timeout.
    InstructionTimeout = 75,
    /// 76: SEAMCALL.
    Seamcall = 76,
    /// 77: TDCALL.
    Tdcall = 77,
    /// 78: RDMSRLIST.
    Rdmsrlist = 78,
    /// 79: WRMSRLIST.
    Wrmsrlist = 79,
}

impl ExitReason {
    /// The basic exit reason number.
    pub const fn as_u16(self) -> u16 {
        self as u16
    }
}

/// The 32-bit exit-reason field (SDM Table 24-17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExitReasonField {
    /// Bits 15:0: basic exit reason (raw, may be undefined).
    pub basic: u16,
    /// Bit 27: pending MTF VM exit (SMM).
    pub pending_mtf: bool,
    /// Bit 28: VM exit from VMX root operation (SMM).
    pub from_vmx_root: bool,
    /// Bit 29: VM-entry failure.
    pub entry_failure: bool,
}

impl ExitReasonField {
    /// A plain VM exit with basic reason `reason`.
    pub const fn exit(reason: ExitReason) -> Self {
        Self {
            basic: reason as u16,
            pending_mtf: false,
            from_vmx_root: false,
            entry_failure: false,
        }
    }

    /// A VM-entry failure (reason 33, 34 or 41) with bit 31 set.
    pub const fn entry_failure(reason: ExitReason) -> Self {
        Self {
            basic: reason as u16,
            pending_mtf: false,
            from_vmx_root: false,
            entry_failure: true,
        }
    }

    /// The basic reason, if defined.
    pub const fn reason(&self) -> Option<ExitReason> {
        ExitReason::from_u16(self.basic)
    }

    /// Encodes the field.
    pub const fn encode(&self) -> u32 {
        self.basic as u32
            | (self.pending_mtf as u32) << 27
            | (self.from_vmx_root as u32) << 28
            | (self.entry_failure as u32) << 31
    }

    /// Decodes the field (reserved bits ignored).
    pub const fn decode(v: u32) -> Self {
        Self {
            basic: v as u16,
            pending_mtf: v & (1 << 27) != 0,
            from_vmx_root: v & (1 << 28) != 0,
            entry_failure: v & (1 << 31) != 0,
        }
    }
}
