//! VM-exit information (SDM §27.2, Appendix C).
//!
//! * [`reason`] — basic exit reasons (Appendix C) and the exit-reason field;
//! * [`qualification`] — exit qualifications (SDM §27.2.1);
//! * [`interruption`] — VM-exit interruption information, IDT-vectoring
//!   information and VM-entry interruption information (SDM §24.8.3,
//!   §27.2.2-27.2.4);
//! * [`instruction_info`] — VM-exit instruction information (SDM §27.2.5).

pub mod instruction_info;
pub mod interruption;
pub mod qualification;
pub mod reason;

pub use interruption::{InterruptionInfo, InterruptionType};
pub use reason::{ExitReason, ExitReasonField};
