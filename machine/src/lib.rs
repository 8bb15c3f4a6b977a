//! vtx32-machine: the board around the CPU — a PC-style physical memory map (RAM from 0, a
//! BIOS-replacement ROM ending at 0xFFFFF and 0xFFFFFFFF), the guest-visible ports
//! ([`board`]), loaders, and the run loop that turns CPU stop reasons into run outcomes with
//! host exit statuses (`docs/exit-status.md`). No front-end code lives here: the command
//! line (`vtx32`) drives a [`Machine`] and prints what it returns.
//!
//! Runs are deterministic: the CPU runs in slices of whole instructions, and only the
//! front-end's progress display and the Ctrl-C flag look at the wall clock between slices.

pub mod board;
pub mod demo;
pub mod demos;
pub mod devices;
pub mod roms;
pub mod trace;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;
use vtx32_cpu::{Cpu, CpuModel, Eflags, Exception, RunLimits, SegReg, Segment, StopReason};
use vtx32_mmu::{MemError, PhysAddr, PhysMem};

pub use board::{Board, BoardStop};
pub use trace::Tracer;

/// Default RAM size (MiB).
pub const DEFAULT_RAM_MIB: u32 = 64;
/// Instructions per [`Cpu::run`] call between progress reports and Ctrl-C checks.
pub const SLICE: u64 = 1_000_000;

/// Errors of machine construction and loading (bad user input, never guest behaviour).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MachineError {
    #[error(transparent)]
    Mem(#[from] MemError),
}

/// How a flat binary loaded with [`Machine::load`] is entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Entry {
    /// Real mode: CS:IP = (ADDR >> 4):(ADDR & 0xF).
    #[default]
    Real,
    /// Flat 32-bit protected mode, ring 0, EIP = ADDR (see `Cpu::enter_flat32`).
    Pm32,
}

/// Why a run ended. Each reason has its own host exit status ([`Stop::exit_status`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// HLT (no interrupt source can wake the CPU). Status 4.
    Halted,
    /// Triple fault: the processor entered shutdown. Status 6.
    Shutdown,
    /// A write of `code` to the QEMU debug-exit port 0xF4. Status `(code << 1) | 1`
    /// (truncated to 8 bits by the host).
    DebugExit { code: u32 },
    /// "Shutdown" written to port 0x8900 (Bochs). Status 0.
    BochsShutdown,
    /// The instruction limit was reached. Status 8.
    InstructionLimit,
    /// The CPU returned an exception instead of delivering it (only when
    /// `Cpu::stop_on_exception` is set, never in `vtx32 run`). Status 10.
    Exception(Exception),
    /// The interrupt flag (Ctrl-C) was raised. Status 130.
    Interrupted,
    /// An event loop: `vtx32_cpu::STALL_LIMIT` exceptions or interrupts delivered in a row
    /// without an instruction retiring (the last one is given). Status 12.
    NoProgress(Option<Exception>),
}

impl Stop {
    /// Host exit status for this stop reason (see `docs/exit-status.md`).
    pub fn exit_status(&self) -> u8 {
        match *self {
            Stop::DebugExit { code } => ((code << 1) | 1) as u8,
            Stop::BochsShutdown => 0,
            Stop::Halted => 4,
            Stop::Shutdown => 6,
            Stop::InstructionLimit => 8,
            Stop::Exception(_) => 10,
            Stop::Interrupted => 130,
            Stop::NoProgress(_) => 12,
        }
    }

    /// Stable machine-readable name (the JSON summary's `stop` field).
    pub fn name(&self) -> &'static str {
        match self {
            Stop::Halted => "halted",
            Stop::Shutdown => "shutdown",
            Stop::DebugExit { .. } => "debug-exit",
            Stop::BochsShutdown => "bochs-shutdown",
            Stop::InstructionLimit => "instruction-limit",
            Stop::Exception(_) => "exception",
            Stop::Interrupted => "interrupted",
            Stop::NoProgress(_) => "no-progress",
        }
    }

    /// Human description for the summary line.
    pub fn describe(&self) -> String {
        match self {
            Stop::Halted => "halted".into(),
            Stop::Shutdown => "triple fault (shutdown)".into(),
            Stop::DebugExit { code } => format!("debug exit {code:#x}"),
            Stop::BochsShutdown => "shutdown port 0x8900".into(),
            Stop::InstructionLimit => "instruction limit".into(),
            Stop::Exception(e) => match e.error_code() {
                Some(c) => format!("exception {}({c:#x})", e.name()),
                None => format!("exception {}", e.name()),
            },
            Stop::Interrupted => "interrupted".into(),
            Stop::NoProgress(e) => {
                let last = e.map_or_else(String::new, |e| match e.error_code() {
                    Some(c) => format!(", last {}({c:#x})", e.name()),
                    None => format!(", last {}", e.name()),
                });
                format!(
                    "no progress: {} exceptions or interrupts delivered with no instruction retired{last}",
                    vtx32_cpu::STALL_LIMIT
                )
            }
        }
    }
}

/// The result of [`Machine::run`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunOutcome {
    pub stop: Stop,
    /// Instructions retired since the machine was created.
    pub instructions: u64,
    /// Cycles since the machine was created.
    pub cycles: u64,
    /// Host time spent in this run (not guest-visible).
    pub wall: Duration,
}

impl RunOutcome {
    /// Host exit status of the stop reason.
    pub fn exit_status(&self) -> u8 {
        self.stop.exit_status()
    }

    /// Millions of instructions per host second.
    pub fn mips(&self) -> f64 {
        mips(self.instructions, self.wall)
    }
}

/// Millions of instructions per second (0 for a zero duration).
pub fn mips(instructions: u64, wall: Duration) -> f64 {
    let s = wall.as_secs_f64();
    if s > 0.0 {
        instructions as f64 / s / 1e6
    } else {
        0.0
    }
}

/// Bounds of one [`Machine::run`].
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Stop once this many instructions have retired in total (None: no limit).
    pub max_instructions: Option<u64>,
    /// Instructions per slice between progress reports and interrupt checks.
    pub slice: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_instructions: None,
            slice: SLICE,
        }
    }
}

/// Progress report given to the observer between slices.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub instructions: u64,
    pub cycles: u64,
    pub elapsed: Duration,
}

/// A PC-style machine: one CPU, its memory, the board.
pub struct Machine {
    pub cpu: Cpu,
    pub board: Board,
    interrupt: Option<Arc<AtomicBool>>,
}

impl Machine {
    /// A machine with `ram_bytes` of RAM, a CPU of `model` at its reset state, and the
    /// console port writing to `console`.
    pub fn new(
        model: CpuModel,
        ram_bytes: usize,
        console: Box<dyn Write>,
    ) -> Result<Self, MachineError> {
        let mem = PhysMem::new(ram_bytes)?;
        let mut board = Board::new(console);
        board.set_cpu_clock(model.clock_hz);
        Ok(Self {
            cpu: Cpu::new(model, mem),
            board,
            interrupt: None,
        })
    }

    /// Maps a BIOS-replacement ROM image (a multiple of 64 KiB, at most 256 KiB). Execution
    /// starts from the reset vector (CS F000 base FFFF0000, EIP FFF0).
    pub fn load_rom(&mut self, image: &[u8]) -> Result<(), MachineError> {
        self.cpu.core.mem.load_rom(image)?;
        Ok(())
    }

    /// Copies a flat binary into RAM at physical address `addr`.
    pub fn load(&mut self, addr: u32, bytes: &[u8]) -> Result<(), MachineError> {
        self.cpu.core.mem.load(PhysAddr(u64::from(addr)), bytes)?;
        Ok(())
    }

    /// Starts execution at physical address `addr` in the given mode (instead of the reset
    /// vector).
    pub fn enter(&mut self, entry: Entry, addr: u32) {
        match entry {
            Entry::Pm32 => self.cpu.enter_flat32(addr, 0),
            Entry::Real => {
                let c = &mut self.cpu.core;
                let cs = c.sregs.seg[SegReg::Cs as usize];
                c.sregs.seg[SegReg::Cs as usize] =
                    Segment::real_mode_with((addr >> 4) as u16, cs.attrs);
                c.regs.eip = addr & 0xF;
                self.cpu.state_changed();
            }
        }
    }

    /// A flag that stops the run between slices when set (Ctrl-C).
    pub fn set_interrupt_flag(&mut self, flag: Arc<AtomicBool>) {
        self.interrupt = Some(flag);
    }

    /// Runs until a stop condition.
    pub fn run(&mut self, limits: Limits) -> RunOutcome {
        self.run_observed(limits, &mut |_| {}, None)
    }

    /// Runs until a stop condition, calling `progress` between slices, and writing one
    /// trace line per instruction to `tracer` if given (the CPU then steps one instruction
    /// at a time).
    pub fn run_observed(
        &mut self,
        limits: Limits,
        progress: &mut dyn FnMut(&Progress),
        mut tracer: Option<&mut Tracer>,
    ) -> RunOutcome {
        let start = Instant::now();
        let slice = limits.slice.max(1);
        let max = limits.max_instructions.unwrap_or(u64::MAX);
        let stop = loop {
            if self
                .interrupt
                .as_ref()
                .is_some_and(|f| f.load(Ordering::Relaxed))
            {
                break Stop::Interrupted;
            }
            let done = self.cpu.core.instructions;
            if done >= max {
                break Stop::InstructionLimit;
            }
            let end = done.saturating_add(slice).min(max);
            self.cpu.core.event_cycle = self.board.next_event_cycle().unwrap_or(u64::MAX);
            let r = match tracer.as_deref_mut() {
                Some(t) => self.run_traced(end, t),
                None => self.cpu.run(
                    &mut self.board,
                    RunLimits {
                        max_instructions: end,
                    },
                ),
            };
            match r {
                StopReason::InstructionLimit => {}
                StopReason::EventDue => self.board.advance_to(self.cpu.core.cycles),
                StopReason::Halted if self.can_sleep() => self.sleep_until_event(),
                other => break self.map_stop(other),
            }
            progress(&Progress {
                instructions: self.cpu.core.instructions,
                cycles: self.cpu.core.cycles,
                elapsed: start.elapsed(),
            });
        };
        self.board.flush_console();
        if let Some(t) = tracer {
            t.flush();
        }
        RunOutcome {
            stop,
            instructions: self.cpu.core.instructions,
            cycles: self.cpu.core.cycles,
            wall: start.elapsed(),
        }
    }

    fn run_traced(&mut self, end: u64, t: &mut Tracer) -> StopReason {
        // Instructions that fault do not retire: bound the steps too, so that an exception
        // loop still ends at the slice's end.
        let mut steps = 0u64;
        let budget = end - self.cpu.core.instructions;
        while self.cpu.core.instructions < end && steps < budget.saturating_mul(4) + 16 {
            steps += 1;
            if let Some(s) = t.step(&mut self.cpu, &mut self.board) {
                return s;
            }
        }
        StopReason::InstructionLimit
    }

    /// A halted CPU with interrupts enabled sleeps while a device event can still wake it.
    fn can_sleep(&self) -> bool {
        self.cpu.core.regs.eflags.contains(Eflags::IF) && self.board.can_wake()
    }

    /// Skips the halted CPU's clock to the next device event (HLT consumes no instructions;
    /// the cycle counter, and RDTSC, move on as on hardware).
    fn sleep_until_event(&mut self) {
        if let Some(t) = self.board.next_event_cycle() {
            let c = &mut self.cpu.core;
            c.cycles = c.cycles.max(t);
            self.board.advance_to(c.cycles);
        }
    }

    fn map_stop(&mut self, r: StopReason) -> Stop {
        match r {
            StopReason::Halted => Stop::Halted,
            StopReason::Shutdown => Stop::Shutdown,
            StopReason::InstructionLimit | StopReason::EventDue => Stop::InstructionLimit,
            StopReason::NoProgress => Stop::NoProgress(self.cpu.last_exception),
            StopReason::Exception(e) => Stop::Exception(e),
            StopReason::IoStop => match self.board.take_stop() {
                Some(BoardStop::DebugExit { code }) => Stop::DebugExit { code },
                Some(BoardStop::BochsShutdown) => Stop::BochsShutdown,
                // No board stop recorded: cannot happen with this board; treat as halt.
                None => Stop::Halted,
            },
        }
    }
}
