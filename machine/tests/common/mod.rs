//! Shared helpers: a console sink the test can read back, machine construction.

#![allow(dead_code)]

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use vtx32_cpu::CpuModel;
use vtx32_machine::{Limits, Machine, RunOutcome};

/// A console sink shared with the test.
#[derive(Clone, Default)]
pub struct Console(pub Rc<RefCell<Vec<u8>>>);

impl Write for Console {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Console {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.borrow()).into_owned()
    }
}

/// A 4 MiB machine and its console.
pub fn machine() -> (Machine, Console) {
    let con = Console::default();
    let m = Machine::new(CpuModel::yonah(), 4 << 20, Box::new(con.clone())).unwrap();
    (m, con)
}

/// Runs a ROM image with an instruction limit.
pub fn run_rom(rom: &[u8], max: u64) -> (Machine, Console, RunOutcome) {
    let (mut m, con) = machine();
    m.load_rom(rom).unwrap();
    let out = m.run(Limits {
        max_instructions: Some(max),
        ..Limits::default()
    });
    (m, con, out)
}
