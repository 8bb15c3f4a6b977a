//! # vtx32-vmx — a self-contained model of Intel VMX (VT-x)
//!
//! This crate models the architectural parts of VMX described in the Intel
//! SDM Vol. 3 chapters 24-27 and Appendices A-C, independently of the
//! instruction interpreter:
//!
//! * [`fields`] — the VMCS field catalogue (SDM Appendix B), one static table
//!   from which VMREAD/VMWRITE validation, the named dump and the in-memory
//!   layout are derived;
//! * [`vmcs`] / [`region`] — the cached current VMCS and its VMCS region in
//!   guest-physical memory (SDM §24.2, §24.11);
//! * [`controls`] — the VMX controls as bitflags (SDM §24.6-24.8);
//! * [`caps`] — CPU models and their capability MSRs (SDM Appendix A),
//!   IA32_FEATURE_CONTROL and the default1 / TRUE_* semantics;
//! * [`entry_checks`] — the VM-entry checks of SDM §26.2-26.4 as pure
//!   functions;
//! * [`exit`] — exit reasons (Appendix C), exit qualifications,
//!   interruption information and instruction information (SDM §27.2);
//! * [`error`] — VM-instruction error numbers (SDM §30.4);
//! * [`caps_report()`] — a human readable decoding of the capability MSRs.

#![warn(missing_docs)]

pub mod caps;
pub mod caps_report;
pub mod controls;
pub mod encoding;
pub mod entry_checks;
pub mod error;
pub mod exit;
pub mod fields;
pub mod region;
pub mod vmcs;

pub use caps::{CpuModel, FeatureControl, VmxCapabilities};
pub use caps_report::caps_report;
pub use error::{VmInstructionError, VmxError};
pub use fields::{FieldDef, FieldKind, FieldWidth, Requirement, FIELDS};
pub use region::VmcsMemory;
pub use vmcs::{LaunchState, Vmcs};

#[cfg(test)]
mod tests;
