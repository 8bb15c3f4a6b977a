//! CPU models and their VMX capabilities (SDM Appendix A).
//!
//! * [`model`] — the [`CpuModel`] enum and the raw capability MSR values;
//! * [`allowed`] — allowed-0 / allowed-1 settings and the default1 / TRUE_*
//!   semantics (SDM Appendix A.2-A.5);
//! * [`feature_control`] — IA32_FEATURE_CONTROL with its lock semantics.

pub mod allowed;
pub mod feature_control;
pub mod model;

pub use allowed::{AllowedSettings, BitClass};
pub use feature_control::FeatureControl;
pub use model::{read_msr, CpuModel, ParseCpuModelError, VmxCapabilities, CPUID_1_ECX_VMX};

/// MSR indices of the VMX capability MSRs (SDM Appendix A).
pub mod msr {
    /// IA32_FEATURE_CONTROL.
    pub const IA32_FEATURE_CONTROL: u32 = 0x3A;
    /// IA32_VMX_BASIC (A.1).
    pub const IA32_VMX_BASIC: u32 = 0x480;
    /// IA32_VMX_PINBASED_CTLS (A.3.1).
    pub const IA32_VMX_PINBASED_CTLS: u32 = 0x481;
    /// IA32_VMX_PROCBASED_CTLS (A.3.2).
    pub const IA32_VMX_PROCBASED_CTLS: u32 = 0x482;
    /// IA32_VMX_EXIT_CTLS (A.4).
    pub const IA32_VMX_EXIT_CTLS: u32 = 0x483;
    /// IA32_VMX_ENTRY_CTLS (A.5).
    pub const IA32_VMX_ENTRY_CTLS: u32 = 0x484;
    /// IA32_VMX_MISC (A.6).
    pub const IA32_VMX_MISC: u32 = 0x485;
    /// IA32_VMX_CR0_FIXED0 (A.7).
    pub const IA32_VMX_CR0_FIXED0: u32 = 0x486;
    /// IA32_VMX_CR0_FIXED1 (A.7).
    pub const IA32_VMX_CR0_FIXED1: u32 = 0x487;
    /// IA32_VMX_CR4_FIXED0 (A.8).
    pub const IA32_VMX_CR4_FIXED0: u32 = 0x488;
    /// IA32_VMX_CR4_FIXED1 (A.8).
    pub const IA32_VMX_CR4_FIXED1: u32 = 0x489;
    /// IA32_VMX_VMCS_ENUM (A.9).
    pub const IA32_VMX_VMCS_ENUM: u32 = 0x48A;
    /// IA32_VMX_PROCBASED_CTLS2 (A.3.3).
    pub const IA32_VMX_PROCBASED_CTLS2: u32 = 0x48B;
    /// IA32_VMX_EPT_VPID_CAP (A.10).
    pub const IA32_VMX_EPT_VPID_CAP: u32 = 0x48C;
    /// IA32_VMX_TRUE_PINBASED_CTLS (A.3.1).
    pub const IA32_VMX_TRUE_PINBASED_CTLS: u32 = 0x48D;
    /// IA32_VMX_TRUE_PROCBASED_CTLS (A.3.2).
    pub const IA32_VMX_TRUE_PROCBASED_CTLS: u32 = 0x48E;
    /// IA32_VMX_TRUE_EXIT_CTLS (A.4).
    pub const IA32_VMX_TRUE_EXIT_CTLS: u32 = 0x48F;
    /// IA32_VMX_TRUE_ENTRY_CTLS (A.5).
    pub const IA32_VMX_TRUE_ENTRY_CTLS: u32 = 0x490;
    /// IA32_VMX_VMFUNC (A.11).
    pub const IA32_VMX_VMFUNC: u32 = 0x491;
}
