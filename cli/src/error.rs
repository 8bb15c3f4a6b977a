//! Front-end errors: bad user input. Each renders as one line naming the problem and,
//! where there is one, the path or option in parentheses at the end.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Exit status for bad user input (also clap's usage errors).
pub const EXIT_BAD_INPUT: u8 = 2;

#[derive(Debug, Error)]
pub enum CliError {
    /// A command-line usage error reported by clap (unknown flag, bad value).
    #[error("{0}")]
    Usage(String),
    #[error("cannot read {what}: {reason} ({})", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("bad ROM image: {reason} ({})", path.display())]
    Rom { path: PathBuf, reason: String },
    #[error("RAM size {mib} MiB is out of range: 1 to {max} MiB (--ram)")]
    Ram { mib: u64, max: u64 },
    #[error("malformed --load value, expected FILE@ADDR with ADDR hex (0x...) or decimal ({0})")]
    LoadSpec(String),
    #[error("{len} bytes at {addr:#x} do not fit in {ram_mib} MiB of RAM ({})", path.display())]
    LoadFit {
        path: PathBuf,
        addr: u32,
        len: usize,
        ram_mib: u64,
    },
    #[error("unknown demo {name:?}; the demos are: {known} (--demo)")]
    UnknownDemo { name: String, known: String },
    #[error("--entry needs --load and no ROM image (--entry)")]
    EntryWithoutLoad,
    #[error("cannot create trace file: {reason} ({})", path.display())]
    TraceCreate { path: PathBuf, reason: String },
    #[error("cannot write trace file: {reason} ({})", path.display())]
    TraceWrite { path: PathBuf, reason: String },
}

/// An I/O error's message without the "(os error N)" suffix.
pub fn io_reason(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
