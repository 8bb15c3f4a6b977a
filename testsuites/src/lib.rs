//! vtx32 conformance runners and test programs.
//!
//! The host-CPU differential oracle lives in [`case`] (shared types and
//! memory layout), [`native`] (the host executor), [`gen`] (random case
//! generators), [`compare`] (outcome comparison) and [`diff`] (the
//! differential driver).

pub mod case;
pub mod compare;
pub mod diff;
pub mod gen;
pub mod native;
