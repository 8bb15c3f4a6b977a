//! `vtx32 run`: build a machine from the command line, run it, report.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use vtx32_cpu::CpuModel;
use vtx32_machine::{
    demo, demos, Entry, Limits, Machine, MachineError, Progress, RunOutcome, Stop, Tracer,
};
use vtx32_mmu::MemError;

use crate::error::{io_reason, CliError};

/// Largest RAM (MiB): it must end below the high ROM window.
const MAX_RAM_MIB: u64 = 3072;

const EXIT_STATUS_HELP: &str = "\
Exit status (docs/exit-status.md):
  (v<<1)|1  the guest wrote v to the debug-exit port 0xF4 (QEMU isa-debug-exit; low 8 bits)
  0         the guest wrote \"Shutdown\" to port 0x8900 (Bochs)
  2         bad input: missing or unreadable file, bad ROM size, bad --ram, bad --load,
            unknown --demo, unknown flag
  4         halted (HLT that no interrupt can end)
  6         triple fault (processor shutdown)
  8         --max-instructions reached
  12        no progress (an exception loop: no instruction retires)
  130       interrupted (Ctrl-C)

The console (port 0xE9) goes to stdout; the summary goes to stderr, or with --json as one
JSON object on the last line of stdout. A20 starts enabled.";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EntryArg {
    /// Real mode: CS:IP = (ADDR>>4):(ADDR&0xF).
    Real,
    /// Flat 32-bit protected mode, ring 0, EIP = ADDR.
    Pm32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CpuArg {
    /// Core Duo T2400 "Yonah" (Bochs core_duo_t2400_yonah).
    Yonah,
}

#[derive(Args, Debug)]
#[command(after_help = EXIT_STATUS_HELP)]
pub struct RunArgs {
    /// BIOS-replacement ROM image (a multiple of 64 KiB, at most 256 KiB), mapped to end at
    /// 0xFFFFF and 0xFFFFFFFF; execution starts at the reset vector. Default: the demo ROM.
    pub rom: Option<PathBuf>,
    /// Run the built-in demo ROM NAME instead of a ROM image (deprivilege: a ring-0
    /// monitor shows what a deprivileged guest kernel can observe).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["rom", "load"])]
    pub demo: Option<String>,
    /// RAM size in MiB (1 to 3072).
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub ram: u64,
    /// Load a flat binary at physical address ADDR (hex with 0x, or decimal); repeatable.
    /// Without a ROM, execution starts at the first one's address (see --entry).
    #[arg(long, value_name = "FILE@ADDR")]
    pub load: Vec<String>,
    /// How the first --load is entered (only with --load and no ROM) [default: real]
    #[arg(long, value_enum)]
    pub entry: Option<EntryArg>,
    /// Stop after N instructions (exit status 8).
    #[arg(long, value_name = "N")]
    pub max_instructions: Option<u64>,
    /// Print the POST codes written to ports 0x80 and 0x190.
    #[arg(long)]
    pub post: bool,
    /// Print the summary as one JSON object on the last line of stdout.
    #[arg(long)]
    pub json: bool,
    /// Write an instruction trace (docs/trace-format.md) to FILE.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// CPU model.
    #[arg(long, value_enum, default_value = "yonah")]
    pub cpu: CpuArg,
    /// No summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// One --load: file, address and contents.
struct LoadItem {
    path: PathBuf,
    addr: u32,
    bytes: Vec<u8>,
}

/// Parses `FILE@ADDR` (ADDR: 0x-prefixed hex or decimal, below 4 GiB).
fn parse_load(spec: &str) -> Result<(PathBuf, u32), CliError> {
    let bad = || CliError::LoadSpec(spec.to_string());
    let (file, addr) = spec.rsplit_once('@').ok_or_else(bad)?;
    if file.is_empty() {
        return Err(bad());
    }
    let addr = if let Some(h) = addr.strip_prefix("0x").or_else(|| addr.strip_prefix("0X")) {
        u32::from_str_radix(h, 16)
    } else {
        addr.parse::<u32>()
    }
    .map_err(|_| bad())?;
    Ok((PathBuf::from(file), addr))
}

fn read_file(what: &'static str, path: &PathBuf) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::Read {
        what,
        path: path.clone(),
        reason: io_reason(&e),
    })
}

/// The console sink: stdout, drawn around the progress spinner when one is showing.
struct ConsoleSink {
    spinner: Rc<RefCell<Option<ProgressBar>>>,
}

impl Write for ConsoleSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let out = || {
            let mut o = io::stdout().lock();
            o.write_all(buf)?;
            o.flush()
        };
        match &*self.spinner.borrow() {
            Some(pb) => pb.suspend(out)?,
            None => out()?,
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stdout().flush()
    }
}

/// The JSON summary (`--json`).
#[derive(Serialize)]
struct Summary {
    stop: &'static str,
    exit_status: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    debug_exit_value: Option<u32>,
    instructions: u64,
    cycles: u64,
    wall_seconds: f64,
    mips: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    post_codes: Option<Vec<PostCode>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    post_codes_dropped: Option<u64>,
}

#[derive(Serialize)]
struct PostCode {
    port: u16,
    value: u8,
}

/// Set by the SIGINT handler.
static INTERRUPT: OnceLock<Arc<AtomicBool>> = OnceLock::new();

extern "C" fn on_sigint(_: libc::c_int) {
    if let Some(f) = INTERRUPT.get() {
        f.store(true, Ordering::Relaxed);
    }
    // A second Ctrl-C kills the process the default way.
    // SAFETY: signal() is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
}

fn install_sigint() -> Arc<AtomicBool> {
    let flag = INTERRUPT
        .get_or_init(|| Arc::new(AtomicBool::new(false)))
        .clone();
    let handler: extern "C" fn(libc::c_int) = on_sigint;
    // SAFETY: the handler only stores to an atomic and calls signal().
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
    }
    flag
}

/// Runs `vtx32 run`; returns the process exit status.
pub fn run(args: RunArgs) -> Result<u8, CliError> {
    // Validate everything before running anything.
    if args.ram == 0 || args.ram > MAX_RAM_MIB {
        return Err(CliError::Ram {
            mib: args.ram,
            max: MAX_RAM_MIB,
        });
    }
    if args.entry.is_some() && (args.load.is_empty() || args.rom.is_some()) {
        return Err(CliError::EntryWithoutLoad);
    }
    let rom = match &args.rom {
        Some(p) => Some((p.clone(), read_file("ROM image", p)?)),
        None => None,
    };
    let demo_image = match &args.demo {
        Some(name) => Some(demos::rom(name).ok_or_else(|| CliError::UnknownDemo {
            name: name.clone(),
            known: demos::NAMES.join(", "),
        })?),
        None => None,
    };
    let mut loads = Vec::new();
    for spec in &args.load {
        let (path, addr) = parse_load(spec)?;
        let bytes = read_file("file", &path)?;
        loads.push(LoadItem { path, addr, bytes });
    }
    let model = match args.cpu {
        CpuArg::Yonah => CpuModel::yonah(),
    };

    let spinner = Rc::new(RefCell::new(None::<ProgressBar>));
    let console = ConsoleSink {
        spinner: spinner.clone(),
    };
    let ram_bytes = (args.ram as usize) << 20;
    let mut m = Machine::new(model, ram_bytes, Box::new(console)).map_err(|e| match e {
        MachineError::Mem(_) => CliError::Ram {
            mib: args.ram,
            max: MAX_RAM_MIB,
        },
    })?;
    match &rom {
        Some((path, image)) => m.load_rom(image).map_err(|e| CliError::Rom {
            path: path.clone(),
            reason: rom_reason(&e),
        })?,
        None if loads.is_empty() => m
            .load_rom(&demo_image.unwrap_or_else(demo::demo_rom))
            .expect("the demo ROMs are 64 KiB"),
        None => {}
    }
    for l in &loads {
        m.load(l.addr, &l.bytes).map_err(|_| CliError::LoadFit {
            path: l.path.clone(),
            addr: l.addr,
            len: l.bytes.len(),
            ram_mib: args.ram,
        })?;
    }
    if rom.is_none() {
        if let Some(first) = loads.first() {
            let entry = match args.entry.unwrap_or(EntryArg::Real) {
                EntryArg::Real => Entry::Real,
                EntryArg::Pm32 => Entry::Pm32,
            };
            m.enter(entry, first.addr);
        }
    }
    let mut tracer = match &args.trace {
        Some(p) => {
            let f = File::create(p).map_err(|e| CliError::TraceCreate {
                path: p.clone(),
                reason: io_reason(&e),
            })?;
            Some(Tracer::new(Box::new(BufWriter::with_capacity(1 << 20, f))))
        }
        None => None,
    };
    m.set_interrupt_flag(install_sigint());

    // Progress: a spinner on stderr, only when it is a terminal and the run is long.
    let show_progress = io::stderr().is_terminal() && !args.quiet;
    let mut progress = |p: &Progress| {
        if !show_progress || p.elapsed < Duration::from_millis(500) {
            return;
        }
        let mut s = spinner.borrow_mut();
        let pb = s.get_or_insert_with(|| {
            let pb = ProgressBar::new_spinner();
            pb.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            pb.enable_steady_tick(Duration::from_millis(120));
            pb
        });
        pb.set_message(format!(
            "{} instructions, {:.1} MIPS",
            p.instructions,
            vtx32_machine::mips(p.instructions, p.elapsed)
        ));
    };
    let limits = Limits {
        max_instructions: args.max_instructions,
        ..Limits::default()
    };
    let outcome = m.run_observed(limits, &mut progress, tracer.as_mut());
    if let Some(pb) = spinner.borrow_mut().take() {
        pb.finish_and_clear();
    }
    if let (Some(t), Some(p)) = (tracer.as_mut(), &args.trace) {
        t.finish().map_err(|e| CliError::TraceWrite {
            path: p.clone(),
            reason: io_reason(&e),
        })?;
    }
    report(&args, &m, &outcome);
    Ok(outcome.exit_status())
}

fn rom_reason(e: &MachineError) -> String {
    match e {
        MachineError::Mem(MemError::RomSizeNotGranular(n)) => {
            format!("its size, {n} bytes, is not a non-zero multiple of 64 KiB")
        }
        MachineError::Mem(MemError::RomTooLarge(n)) => {
            format!("its size, {n} bytes, is over the 256 KiB maximum")
        }
        other => other.to_string(),
    }
}

/// Prints the summary (stderr) or the JSON object (last line of stdout), and the POST codes.
fn report(args: &RunArgs, m: &Machine, o: &RunOutcome) {
    let post = m.board.post_codes();
    if args.json {
        let s = Summary {
            stop: o.stop.name(),
            exit_status: o.exit_status(),
            debug_exit_value: match o.stop {
                Stop::DebugExit { code } => Some(code),
                _ => None,
            },
            instructions: o.instructions,
            cycles: o.cycles,
            wall_seconds: o.wall.as_secs_f64(),
            mips: o.mips(),
            post_codes: args.post.then(|| {
                post.iter()
                    .map(|&(port, value)| PostCode { port, value })
                    .collect()
            }),
            post_codes_dropped: args.post.then(|| m.board.post_codes_dropped()),
        };
        let mut out = io::stdout().lock();
        // The JSON object starts its own line even if the guest's last line did not end.
        if m.board.console_bytes() > 0 && m.board.last_console_byte() != Some(b'\n') {
            let _ = writeln!(out);
        }
        let _ = serde_json::to_writer(&mut out, &s);
        let _ = writeln!(out);
        let _ = out.flush();
        return;
    }
    if args.post {
        let mut line = format!("vtx32: POST codes ({}):", post.len());
        for &(port, v) in post {
            line.push_str(&format!(" {port:x}:{v:02x}"));
        }
        let dropped = m.board.post_codes_dropped();
        if dropped > 0 {
            line.push_str(&format!(" (+{dropped} not recorded)"));
        }
        eprintln!("{line}");
    }
    if !args.quiet {
        let status = match o.stop {
            Stop::DebugExit { .. } => format!(" (exit status {})", o.exit_status()),
            _ => String::new(),
        };
        eprintln!(
            "vtx32: {}{status} after {} instructions, {} cycles, {:.2} s, {:.1} MIPS",
            o.stop.describe(),
            o.instructions,
            o.cycles,
            o.wall.as_secs_f64(),
            o.mips()
        );
    }
}
