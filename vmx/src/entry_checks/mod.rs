//! VM-entry checks (SDM §26.2-26.4) as pure functions.
//!
//! [`check_vm_entry`] runs the checks in SDM order and returns the first
//! failure:
//!
//! 1. [`controls`] — §26.2.1 VMX controls (VMfailValid, error 7);
//! 2. [`host_state`] — §26.2.2-26.2.4 host-state area (VMfailValid,
//!    error 8);
//! 3. [`guest_state`] — §26.3.1 guest-state area (VM-entry failure, exit
//!    reason 33, qualification per §26.8);
//! 4. [`msr_load`] — §26.4 VM-entry MSR-load area (VM-entry failure, exit
//!    reason 34, qualification = 1-based index of the failing entry).
//!
//! Each section is also callable on its own (`controls::check` etc.).
//!
//! Checks for controls that neither model can enable (x2APIC
//! virtualization, APIC-register virtualization, virtual-interrupt
//! delivery, posted interrupts, PML, VM functions, EPT-violation #VE,
//! sub-page permissions, Intel PT, tertiary controls, CET, BNDCFGS, PKRS,
//! RTM) are not modelled: the reserved-bit checks on the control fields
//! reject those controls first. Checks that can only fail for 64-bit state
//! (canonical addresses, bits 63:32 of natural-width fields) are vacuous on
//! an IA-32 processor, whose natural-width fields hold 32 bits.

pub mod controls;
pub mod guest_state;
pub mod host_state;
pub mod msr_load;

use crate::caps::VmxCapabilities;
use crate::controls::{
    PinBasedControls, PrimaryProcessorBasedControls, SecondaryProcessorBasedControls,
    VmEntryControls, VmExitControls,
};
use crate::error::VmInstructionError;
use crate::exit::qualification::EntryFailureQualification;
use crate::exit::ExitReason;
use crate::fields::enc;
use crate::vmcs::Vmcs;

/// A segment register named in the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentRegister {
    /// ES.
    Es,
    /// CS.
    Cs,
    /// SS.
    Ss,
    /// DS.
    Ds,
    /// FS.
    Fs,
    /// GS.
    Gs,
    /// LDTR.
    Ldtr,
    /// TR.
    Tr,
}

impl SegmentRegister {
    /// The guest segment registers in VMCS order (ES, CS, SS, DS, FS, GS,
    /// LDTR, TR).
    pub const GUEST: [SegmentRegister; 8] = [
        Self::Es,
        Self::Cs,
        Self::Ss,
        Self::Ds,
        Self::Fs,
        Self::Gs,
        Self::Ldtr,
        Self::Tr,
    ];

    /// CS, SS, DS, ES, FS, GS in the order the SDM lists them.
    pub const CODE_DATA: [SegmentRegister; 6] =
        [Self::Cs, Self::Ss, Self::Ds, Self::Es, Self::Fs, Self::Gs];

    /// Offset of the register in the VMCS field groups (ES = 0 ... TR = 7).
    const fn vmcs_index(self) -> u32 {
        match self {
            Self::Es => 0,
            Self::Cs => 1,
            Self::Ss => 2,
            Self::Ds => 3,
            Self::Fs => 4,
            Self::Gs => 5,
            Self::Ldtr => 6,
            Self::Tr => 7,
        }
    }

    /// Encoding of the guest selector field.
    pub const fn guest_selector(self) -> u32 {
        enc::GUEST_ES_SELECTOR + 2 * self.vmcs_index()
    }

    /// Encoding of the guest base field.
    pub const fn guest_base(self) -> u32 {
        enc::GUEST_ES_BASE + 2 * self.vmcs_index()
    }

    /// Encoding of the guest limit field.
    pub const fn guest_limit(self) -> u32 {
        enc::GUEST_ES_LIMIT + 2 * self.vmcs_index()
    }

    /// Encoding of the guest access-rights field.
    pub const fn guest_access_rights(self) -> u32 {
        enc::GUEST_ES_ACCESS_RIGHTS + 2 * self.vmcs_index()
    }

    /// Encoding of the host selector field (`None` for LDTR, which has no
    /// host field).
    pub const fn host_selector(self) -> Option<u32> {
        match self {
            Self::Ldtr => None,
            Self::Tr => Some(enc::HOST_TR_SELECTOR),
            s => Some(enc::HOST_ES_SELECTOR + 2 * s.vmcs_index()),
        }
    }
}

/// Logical-processor state at the time of VM entry that the checks need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CpuContext {
    /// The logical processor is in SMM.
    pub in_smm: bool,
    /// IA32_EFER.LMA (always false on an IA-32 processor).
    pub efer_lma: bool,
    /// The current-VMCS pointer (physical address of the VMCS being
    /// entered).
    pub current_vmcs_pointer: u64,
}

/// Guest-physical memory and MSR model needed by the checks.
pub trait EntryEnvironment {
    /// Reads a dword of guest-physical memory (VMCS link pointer region,
    /// MSR-load area, PAE PDPTEs, virtual-APIC page).
    fn read_u32(&self, pa: u64) -> u32;

    /// Reads a little-endian qword.
    fn read_u64(&self, pa: u64) -> u64 {
        u64::from(self.read_u32(pa)) | (u64::from(self.read_u32(pa.wrapping_add(4))) << 32)
    }

    /// Whether WRMSR of `value` to MSR `index` would raise #GP (used by the
    /// MSR-load checks, §26.4). The default accepts every write.
    fn wrmsr_faults(&self, index: u32, value: u64) -> bool {
        let _ = (index, value);
        false
    }
}

impl<T: crate::region::VmcsMemory + ?Sized> EntryEnvironment for T {
    fn read_u32(&self, pa: u64) -> u32 {
        crate::region::VmcsMemory::read_u32(self, pa)
    }
}

/// Everything a check looks at.
#[derive(Clone, Copy)]
pub struct EntryContext<'a> {
    /// Capabilities of the model.
    pub caps: &'a VmxCapabilities,
    /// The current VMCS.
    pub vmcs: &'a Vmcs,
    /// Processor state.
    pub cpu: &'a CpuContext,
    /// Memory and MSR model.
    pub env: &'a dyn EntryEnvironment,
}

impl EntryContext<'_> {
    /// A field value (0 if the field does not exist).
    pub fn get(&self, full: u32) -> u64 {
        self.vmcs.get(full)
    }

    /// A 32-bit / natural-width field value.
    pub fn get32(&self, full: u32) -> u32 {
        self.vmcs.get32(full)
    }

    /// Pin-based controls.
    pub fn pin(&self) -> PinBasedControls {
        PinBasedControls::from_bits_retain(self.get32(enc::PIN_BASED_VM_EXECUTION_CONTROLS))
    }

    /// Primary processor-based controls.
    pub fn primary(&self) -> PrimaryProcessorBasedControls {
        PrimaryProcessorBasedControls::from_bits_retain(
            self.get32(enc::PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS),
        )
    }

    /// Secondary processor-based controls; all 0 if "activate secondary
    /// controls" is 0 (SDM §24.6.2).
    pub fn secondary(&self) -> SecondaryProcessorBasedControls {
        if self
            .primary()
            .contains(PrimaryProcessorBasedControls::ACTIVATE_SECONDARY_CONTROLS)
        {
            SecondaryProcessorBasedControls::from_bits_retain(
                self.get32(enc::SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS),
            )
        } else {
            SecondaryProcessorBasedControls::empty()
        }
    }

    /// VM-exit controls.
    pub fn exit(&self) -> VmExitControls {
        VmExitControls::from_bits_retain(self.get32(enc::VM_EXIT_CONTROLS))
    }

    /// VM-entry controls.
    pub fn entry(&self) -> VmEntryControls {
        VmEntryControls::from_bits_retain(self.get32(enc::VM_ENTRY_CONTROLS))
    }
}

/// How a failed check is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryFailureClass {
    /// VMfailValid with this VM-instruction error (7 or 8).
    VmFailValid(VmInstructionError),
    /// VM-entry failure with exit reason 33 (invalid guest state) and this
    /// exit qualification.
    InvalidGuestState(EntryFailureQualification),
    /// VM-entry failure with exit reason 34 (MSR loading); `entry` is the
    /// 1-based index of the failing MSR-load entry (the exit qualification).
    MsrLoading {
        /// 1-based index of the failing entry.
        entry: u32,
    },
}

impl EntryFailureClass {
    /// The VM-instruction error for VMfailValid failures.
    pub const fn vm_instruction_error(&self) -> Option<VmInstructionError> {
        match self {
            Self::VmFailValid(e) => Some(*e),
            _ => None,
        }
    }

    /// The basic exit reason for VM-entry failures.
    pub const fn exit_reason(&self) -> Option<ExitReason> {
        match self {
            Self::VmFailValid(_) => None,
            Self::InvalidGuestState(_) => Some(ExitReason::EntryFailureInvalidGuestState),
            Self::MsrLoading { .. } => Some(ExitReason::EntryFailureMsrLoading),
        }
    }

    /// The exit qualification for VM-entry failures.
    pub const fn exit_qualification(&self) -> Option<u32> {
        match self {
            Self::VmFailValid(_) => None,
            Self::InvalidGuestState(q) => Some(*q as u32),
            Self::MsrLoading { entry } => Some(*entry),
        }
    }
}

mod check;
pub use check::EntryCheck;

/// A failed VM-entry check: which check and how it is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("VM-entry check {check:?} failed ({class:?})")]
pub struct EntryFailure {
    /// The check that failed.
    pub check: EntryCheck,
    /// Its outcome class.
    pub class: EntryFailureClass,
}

impl From<EntryCheck> for EntryFailure {
    fn from(check: EntryCheck) -> Self {
        Self {
            check,
            class: check.class(),
        }
    }
}

/// Runs every VM-entry check of SDM §26.2-26.4 in SDM order; returns the
/// first failure.
pub fn check_vm_entry(
    caps: &VmxCapabilities,
    vmcs: &Vmcs,
    cpu: &CpuContext,
    env: &dyn EntryEnvironment,
) -> Result<(), EntryFailure> {
    let ctx = EntryContext {
        caps,
        vmcs,
        cpu,
        env,
    };
    controls::check(&ctx)?;
    host_state::check(&ctx)?;
    guest_state::check(&ctx)?;
    msr_load::check(&ctx)?;
    Ok(())
}

/// Whether a physical address is aligned to `align` (a power of two) and
/// has no bits beyond `width`.
pub(crate) fn aligned_within(addr: u64, align: u64, reserved: u64) -> bool {
    addr & (align.wrapping_sub(1)) == 0 && addr & reserved == 0
}

/// Whether `value` is a valid IA32_PAT value: each byte is 0, 1, 4, 5, 6
/// or 7 (SDM §26.2.2, §26.3.1.1).
pub(crate) fn pat_valid(value: u64) -> bool {
    value
        .to_le_bytes()
        .iter()
        .all(|b| matches!(b, 0 | 1 | 4 | 5 | 6 | 7))
}

/// Valid IA32_EFER bits on the models: SCE (0), LME (8), LMA (10), NXE (11).
pub(crate) const EFER_VALID: u64 = (1 << 0) | (1 << 8) | (1 << 10) | (1 << 11);
/// IA32_EFER.LME.
pub(crate) const EFER_LME: u64 = 1 << 8;
/// IA32_EFER.LMA.
pub(crate) const EFER_LMA: u64 = 1 << 10;
/// Valid IA32_PERF_GLOBAL_CTRL bits: 2 general counters (bits 1:0) and 3
/// fixed counters (bits 34:32).
pub(crate) const PERF_GLOBAL_CTRL_VALID: u64 = 0x3 | (0x7 << 32);
/// Valid IA32_DEBUGCTL bits: LBR (0), BTF (1), TR (6), BTS (7), BTINT (8),
/// BTS_OFF_OS (9), BTS_OFF_USR (10), FREEZE_LBRS_ON_PMI (11),
/// FREEZE_PERFMON_ON_PMI (12), FREEZE_WHILE_SMM (14).
pub(crate) const DEBUGCTL_VALID: u64 = 0x3 | (0x7F << 6) | (1 << 14);

/// Returns `Err(check)` when `cond` holds.
pub(crate) fn fail_if(cond: bool, check: EntryCheck) -> Result<(), EntryCheck> {
    if cond {
        Err(check)
    } else {
        Ok(())
    }
}
