//! vtx32-cpu: the IA-32 processor core.
//!
//! Layout, split by concern: `state` (registers and descriptor caches), `icache` (decoded
//! instructions per physical address), `exec/` (instruction semantics, one file per family;
//! `exec/debug.rs`: breakpoints and single-step on a one-instruction path used only while
//! they are enabled), `interrupt` (exception and interrupt delivery), `segment` (descriptor
//! loads and checks), `v86` (virtual-8086 mode's IOPL-sensitive instructions under
//! VME/PVI), `model` (CPUID and cycle costs). The core knows nothing of boards or
//! front-ends: ports go through the [`PortIo`] trait and every run returns a
//! [`StopReason`].

mod call_gate;
pub mod exception;
mod exec;
mod icache;
mod interrupt;
pub mod model;
mod segment;
mod setup;
pub mod state;
mod task;
mod v86;

pub use exception::{EventKind, Exception};
pub use exec::{
    Core, Cpu, IoAction, IoSize, NoPorts, PortIo, RunLimits, StopReason, EFER_NXE, MSR_EFER,
    MSR_SYSENTER_CS, MSR_SYSENTER_EIP, MSR_SYSENTER_ESP, MSR_TSC,
};
pub use interrupt::STALL_LIMIT;
pub use model::CpuModel;
pub use state::{Cr0, Cr4, DescTable, Eflags, Regs, SRegs, SegAttrs, SegReg, Segment};
