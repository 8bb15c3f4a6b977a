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
mod io_protection;
mod kit;
mod paging;
mod segmentation;
mod sensitive;
mod sysenter;
mod tasks;
mod triple_fault;
mod v86;

/// A test ROM: its name (the golden's file name) and how to build it.
pub struct TestRom {
    pub name: &'static str,
    pub build: fn() -> Asm<Vec<u8>>,
}

/// Every test ROM, by name.
pub const ROMS: &[TestRom] = &[
    TestRom {
        name: "control_registers",
        build: control_registers::rom,
    },
    TestRom {
        name: "debug",
        build: debug::rom,
    },
    // `vtx32 run --demo deprivilege` (not a kit ROM; it follows the same exit conventions).
    TestRom {
        name: "deprivilege",
        build: || Ok(vtx32_machine::demos::deprivilege::rom()),
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
        name: "io_protection",
        build: io_protection::rom,
    },
    TestRom {
        name: "kit",
        build: kit::rom,
    },
    TestRom {
        name: "paging",
        build: paging::rom,
    },
    TestRom {
        name: "segmentation",
        build: segmentation::rom,
    },
    TestRom {
        name: "sensitive",
        build: sensitive::rom,
    },
    TestRom {
        name: "sensitive_protection",
        build: sensitive::protection_rom,
    },
    TestRom {
        name: "sysenter",
        build: sysenter::rom,
    },
    TestRom {
        name: "tasks",
        build: tasks::rom,
    },
    TestRom {
        name: "triple_fault",
        build: triple_fault::rom,
    },
    TestRom {
        name: "v86",
        build: v86::rom,
    },
];

/// The ROM called `name`.
pub fn find(name: &str) -> Option<&'static TestRom> {
    ROMS.iter().find(|r| r.name == name)
}
