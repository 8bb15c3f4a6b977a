//! vtx32 conformance runners and test programs.
//!
//! # Host-CPU differential oracle
//!
//! * [`case`]: shared types ([`case::Case`], [`case::Outcome`],
//!   [`case::Executor`]) and the fixed memory layout both sides use;
//! * [`native`]: [`native::NativeExecutor`], which runs a case on the host
//!   CPU in 32-bit compatibility mode (x86-64 Linux);
//! * [`gen`]: deterministic random case generators, one per
//!   [`case::Family`], also as proptest strategies;
//! * [`compare`]: outcome comparison with a readable diff, ignoring what
//!   the architecture leaves undefined;
//! * [`diff`]: [`diff::run_differential`], the driver used by
//!   `tests/host_diff.rs`.
//!
//! ## Writing the vtx32 executor
//!
//! Implement [`case::Executor`] for the emulator and return it from
//! `vtx32_executor()` in `tests/host_diff.rs`. For each case:
//!
//! 1. Build a CPU in 32-bit protected mode with paging, CPL 3, the
//!    segments and descriptor tables described in [`case`] (CS=0x23,
//!    DS/ES/SS=0x2B, FS/GS=0, flat), IF=1, IOPL=0.
//! 2. Map only: [`case::CODE_BASE`] (4 KiB, user, read-only) holding
//!    [`case::Case::code_page`]; [`case::DATA_BASE`] ([`case::DATA_SIZE`]
//!    bytes, user, writable) holding `case.data`; [`case::STACK_BASE`]
//!    (4 KiB, user, writable) holding `case.stack`. Nothing else.
//! 3. Load `case.gpr`, EFLAGS = [`case::Case::initial_eflags`], EIP =
//!    [`case::INSN_ADDR`].
//! 4. Run until the first exception (the instruction's own fault, or the
//!    #GP of the `HLT` that follows it) and return
//!    [`case::Outcome::from_exception`] with the vector, error code, CR2
//!    and the state at that point (registers, EFLAGS, EIP as pushed by the
//!    exception, DS/ES/SS selectors, data and stack bytes). Use
//!    [`case::Outcome::Error`] for anything the adapter cannot handle.

pub mod case;
pub mod compare;
pub mod diff;
pub mod gen;
pub mod golden;
pub mod native;
pub mod romkit;
pub mod roms;
pub mod vtx32_exec;
