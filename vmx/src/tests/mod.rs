//! Unit tests of the crate.

mod caps_tests;
mod entry_tests;
mod exit_tests;
mod proptests;
pub(crate) mod support;
mod vmcs_tests;
