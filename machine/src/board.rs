//! The guest-visible ports of the board (see `docs/exit-status.md` and the test-ROM
//! conventions shared with QEMU and Bochs):
//!
//! | port | access | meaning |
//! |---|---|---|
//! | 0xE9 | write | console byte (Bochs `port_e9_hack`, QEMU `-debugcon`); reads return 0xE9 |
//! | 0xF4-0xF7 | write | QEMU `isa-debug-exit` (iosize 4): end the run, status `(v << 1) \| 1` |
//! | 0x8900 | write | the bytes "Shutdown" in sequence end the run (Bochs), status 0 |
//! | 0x80, 0x190 | write | POST codes, recorded |
//! | 0x92 | read/write | system control port A: bit 1 = A20 gate, bit 0 = fast reset |
//! | 0x20-0x21, 0xA0-0xA1 | read/write | the 8259A interrupt controllers ([`Pic`]) |
//! | 0x40, 0x43 | read/write | channel 0 of the 8254 interval timer ([`Pit`]), on IRQ0 |
//!
//! Every other port floats: reads return all ones, writes are ignored. The A20 gate starts
//! enabled, as it does under QEMU and Bochs.

use crate::devices::{Pic, Pit, PIT_HZ};
use std::io::Write;
use vtx32_cpu::{IoAction, IoSize, PortIo};
use vtx32_mmu::PhysMem;

/// Console port (Bochs "port E9 hack", QEMU debugcon).
pub const PORT_CONSOLE: u16 = 0xE9;
/// QEMU `isa-debug-exit` at iobase 0xF4 (iosize 4: ports 0xF4-0xF7).
pub const PORT_DEBUG_EXIT: u16 = 0xF4;
/// Bochs shutdown port: the string "Shutdown" ends the simulation.
pub const PORT_BOCHS_SHUTDOWN: u16 = 0x8900;
/// POST-code ports.
pub const PORT_POST: u16 = 0x80;
pub const PORT_POST_ALT: u16 = 0x190;
/// System control port A (A20 gate, fast reset).
pub const PORT_SYSCTL_A: u16 = 0x92;

/// The POST-code log keeps this many entries; later ones are only counted.
pub const POST_LOG_CAPACITY: usize = 65536;

const SHUTDOWN: &[u8] = b"Shutdown";

/// Why a port write asked the run to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoardStop {
    /// A write of `code` to the debug-exit port.
    DebugExit { code: u32 },
    /// "Shutdown" was written to port 0x8900.
    BochsShutdown,
}

/// The board: console, exit ports, POST-code log and the A20/reset port.
pub struct Board {
    console: Box<dyn Write>,
    /// Console bytes not yet handed to the sink (flushed at newlines and at the end).
    pending: Vec<u8>,
    console_bytes: u64,
    last_console_byte: Option<u8>,
    console_error: Option<std::io::Error>,
    shutdown_pos: usize,
    stop: Option<BoardStop>,
    post: Vec<(u16, u8)>,
    post_dropped: u64,
    pic: Pic,
    pit: Pit,
    /// The CPU clock (Hz) and the cycle count of the last access or event.
    cpu_hz: u64,
    now: u64,
}

impl Board {
    /// A board whose console writes to `console`.
    pub fn new(console: Box<dyn Write>) -> Self {
        Self {
            console,
            pending: Vec::with_capacity(256),
            console_bytes: 0,
            last_console_byte: None,
            console_error: None,
            shutdown_pos: 0,
            stop: None,
            post: Vec::new(),
            post_dropped: 0,
            pic: Pic::default(),
            pit: Pit::default(),
            cpu_hz: vtx32_cpu::CpuModel::yonah().clock_hz,
            now: 0,
        }
    }

    /// Sets the CPU clock that converts cycles to device time.
    pub fn set_cpu_clock(&mut self, hz: u64) {
        self.cpu_hz = hz.max(1);
    }

    /// The interval timer's clock count at CPU cycle `cycles`.
    fn pit_clock(&self, cycles: u64) -> u64 {
        (u128::from(cycles) * u128::from(PIT_HZ) / u128::from(self.cpu_hz)) as u64
    }

    /// The CPU cycle of the next device event (a timer edge), if any.
    pub fn next_event_cycle(&self) -> Option<u64> {
        let edge = self.pit.next_edge()?;
        // The first cycle whose timer clock count reaches the edge.
        let c = (u128::from(edge) * u128::from(self.cpu_hz)).div_ceil(u128::from(PIT_HZ));
        Some(u64::try_from(c).unwrap_or(u64::MAX))
    }

    /// Brings the devices to CPU cycle `cycles`: a timer edge that is due raises IRQ0.
    pub fn advance_to(&mut self, cycles: u64) {
        self.now = self.now.max(cycles);
        if self.pit.advance(self.pit_clock(self.now)) {
            self.pic.set_irq(0, false);
            self.pic.set_irq(0, true);
        }
    }

    /// Whether a halted CPU (with interrupts enabled) can be woken by a future event: the
    /// timer has an edge coming and IRQ0 is not masked at the controller.
    pub fn can_wake(&self) -> bool {
        self.pit.next_edge().is_some() && !self.pic.masked(0)
    }

    /// Hands buffered console bytes to the sink and flushes it.
    pub fn flush_console(&mut self) {
        if self.console_error.is_some() {
            self.pending.clear();
            return;
        }
        let r = self
            .console
            .write_all(&self.pending)
            .and_then(|()| self.console.flush());
        self.pending.clear();
        if let Err(e) = r {
            self.console_error = Some(e);
        }
    }

    /// The first error the console sink returned, if any (later output is dropped).
    pub fn console_error(&self) -> Option<&std::io::Error> {
        self.console_error.as_ref()
    }

    /// Number of bytes written to the console port.
    pub fn console_bytes(&self) -> u64 {
        self.console_bytes
    }

    /// The last byte written to the console port.
    pub fn last_console_byte(&self) -> Option<u8> {
        self.last_console_byte
    }

    /// POST codes in the order written: (port, value). At most [`POST_LOG_CAPACITY`].
    pub fn post_codes(&self) -> &[(u16, u8)] {
        &self.post
    }

    /// POST codes written after the log was full.
    pub fn post_codes_dropped(&self) -> u64 {
        self.post_dropped
    }

    /// Takes the stop request of the last port write, if any.
    pub fn take_stop(&mut self) -> Option<BoardStop> {
        self.stop.take()
    }

    fn console_out(&mut self, b: u8) {
        self.pending.push(b);
        self.console_bytes += 1;
        self.last_console_byte = Some(b);
        if b == b'\n' || self.pending.len() >= 4096 {
            self.flush_console();
        }
    }

    fn shutdown_byte(&mut self, b: u8) -> bool {
        if b == SHUTDOWN[self.shutdown_pos] {
            self.shutdown_pos += 1;
            if self.shutdown_pos == SHUTDOWN.len() {
                self.shutdown_pos = 0;
                return true;
            }
        } else {
            // A wrong byte restarts the match (it may itself start a new "Shutdown").
            self.shutdown_pos = usize::from(b == SHUTDOWN[0]);
        }
        false
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        self.flush_console();
    }
}

impl PortIo for Board {
    fn io_in(&mut self, port: u16, size: IoSize, mem: &mut PhysMem) -> u32 {
        let ones = match size {
            IoSize::Byte => 0xFF,
            IoSize::Word => 0xFFFF,
            IoSize::Dword => 0xFFFF_FFFF,
        };
        match port {
            // Bochs returns the port number: software detects the console this way.
            PORT_CONSOLE => (ones & !0xFF) | 0xE9,
            PORT_SYSCTL_A => (ones & !0xFF) | (u32::from(mem.a20_enabled()) << 1),
            0x20 | 0x21 | 0xA0 | 0xA1 => (ones & !0xFF) | u32::from(self.pic.read(port)),
            0x40..=0x43 => {
                let now = self.pit_clock(self.now);
                (ones & !0xFF) | u32::from(self.pit.read(port, now))
            }
            _ => ones,
        }
    }

    fn io_out(&mut self, port: u16, _size: IoSize, value: u32, mem: &mut PhysMem) -> IoAction {
        let b = value as u8;
        match port {
            PORT_CONSOLE => self.console_out(b),
            0xF4..=0xF7 => {
                self.stop = Some(BoardStop::DebugExit { code: value });
                return IoAction::Stop;
            }
            PORT_BOCHS_SHUTDOWN if self.shutdown_byte(b) => {
                self.stop = Some(BoardStop::BochsShutdown);
                return IoAction::Stop;
            }
            PORT_POST | PORT_POST_ALT => {
                if self.post.len() < POST_LOG_CAPACITY {
                    self.post.push((port, b));
                } else {
                    self.post_dropped += 1;
                }
            }
            PORT_SYSCTL_A => {
                mem.set_a20(b & 2 != 0);
                if b & 1 != 0 {
                    return IoAction::Reset;
                }
            }
            0x20 | 0x21 | 0xA0 | 0xA1 => self.pic.write(port, b),
            0x40..=0x43 => {
                let now = self.pit_clock(self.now);
                self.pit.write(port, b, now);
            }
            _ => {}
        }
        IoAction::Continue
    }

    fn set_time(&mut self, cycles: u64) {
        // Events due before this access happen first.
        self.advance_to(cycles);
    }

    fn intr(&mut self) -> bool {
        self.pic.intr()
    }

    fn inta(&mut self) -> u8 {
        self.pic.acknowledge()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_matcher_restarts_on_a_wrong_byte() {
        let mut b = Board::new(Box::new(std::io::sink()));
        let mut mem = PhysMem::new(1 << 20).unwrap();
        let mut feed = |s: &[u8], b: &mut Board| {
            s.iter()
                .map(|&c| b.io_out(PORT_BOCHS_SHUTDOWN, IoSize::Byte, u32::from(c), &mut mem))
                .collect::<Vec<_>>()
        };
        let r = feed(b"ShutXShutdown", &mut b);
        assert!(r[..12].iter().all(|&a| a == IoAction::Continue));
        assert_eq!(r[12], IoAction::Stop);
        assert_eq!(b.take_stop(), Some(BoardStop::BochsShutdown));
        let r = feed(b"SShutdown", &mut b);
        assert_eq!(r[8], IoAction::Stop);
    }
}
