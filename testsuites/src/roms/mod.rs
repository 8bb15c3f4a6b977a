//! The test ROMs checked against Bochs goldens, one file per area. Each ROM is built with
//! [`crate::romkit`] and prints its observations; `testsuites/goldens/<name>.txt` holds
//! what Bochs 2.7 printed for it (`scripts/bochs-goldens`), and `tests/bochs_goldens.rs`
//! compares vtx32's output with that.
//!
//! To add a ROM: write `fn rom() -> Asm<Vec<u8>>` in the area's file, add a line to
//! [`ROMS`], run `scripts/bochs-goldens NAME`, and commit the golden.

use crate::romkit::Asm;

mod control_registers;
mod debug;
mod external_interrupts;
mod interrupts;
mod kit;
mod paging;

/// A test ROM: its name (the golden's file name) and how to build it.
pub struct TestRom {
    pub name: &'static str,
    pub build: fn() -> Asm<Vec<u8>>,
}

/// Every test ROM.
pub const ROMS: &[TestRom] = &[
    TestRom {
        name: "control_registers",
        build: control_registers::rom,
    },
    TestRom {
        name: "kit",
        build: kit::rom,
    },
    TestRom {
        name: "external_interrupts",
        build: external_interrupts::rom,
    },
    TestRom {
        name: "interrupts",
        build: interrupts::rom,
    },
    TestRom {
        name: "paging",
        build: paging::rom,
    },
    TestRom {
        name: "debug",
        build: debug::rom,
    },
];

/// The ROM called `name`.
pub fn find(name: &str) -> Option<&'static TestRom> {
    ROMS.iter().find(|r| r.name == name)
}
