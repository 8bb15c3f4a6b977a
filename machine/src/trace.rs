//! The reference instruction trace: one line per executed instruction, in the format of
//! `docs/trace-format.md` (keep the two in step; this format is compared across emulators).
//!
//! ```text
//! f000:fff0 fffffff0  ea000000f0        jmp far 0,0F000h                eip=0000
//! f000:0002 000f0002  31c0              xor ax,ax                       flags=+pf,+zf
//! ```
//!
//! Columns: `CS:EIP` (EIP as 4 hex digits in 16-bit code, 8 in 32-bit code), one space, the
//! linear address (8 digits), two spaces, the instruction bytes (padded to 16 characters),
//! two spaces, the iced Intel-syntax disassembly (padded to 30 characters), two spaces, the
//! changes. Lines never end in spaces.

use std::fmt::Write as _;
use std::io::{self, Write};

use iced_x86::{Formatter, Instruction, IntelFormatter};
use vtx32_cpu::{Cpu, Cr0, Eflags, EventKind, PortIo, SegAttrs, SegReg, StopReason};

/// Width of the bytes column (8 bytes; longer instructions push the line right).
pub const BYTES_WIDTH: usize = 16;
/// Width of the disassembly column.
pub const DISASM_WIDTH: usize = 30;

/// EFLAGS bits named in the `flags=` field, lowest bit first.
const FLAG_NAMES: [(u32, &str); 17] = [
    (1 << 0, "cf"),
    (1 << 2, "pf"),
    (1 << 4, "af"),
    (1 << 6, "zf"),
    (1 << 7, "sf"),
    (1 << 8, "tf"),
    (1 << 9, "if"),
    (1 << 10, "df"),
    (1 << 11, "of"),
    (1 << 14, "nt"),
    (1 << 16, "rf"),
    (1 << 17, "vm"),
    (1 << 18, "ac"),
    (1 << 19, "vif"),
    (1 << 20, "vip"),
    (1 << 21, "id"),
    (0, ""),
];

/// What the trace compares before and after a step.
#[derive(Clone, Copy)]
struct Snapshot {
    gpr: [u32; 8],
    eip: u32,
    eflags: u32,
    sel: [u16; 6],
    cr0: u32,
    cr2: u32,
    cr3: u32,
    cr4: u32,
    cs_base: u32,
    code32: bool,
}

impl Snapshot {
    fn take(cpu: &Cpu) -> Self {
        let c = &cpu.core;
        let mut sel = [0; 6];
        for s in SegReg::ALL {
            sel[s as usize] = c.sregs.seg[s as usize].selector;
        }
        Self {
            gpr: c.regs.gpr,
            eip: c.regs.eip,
            eflags: c.regs.eflags.bits(),
            sel,
            cr0: c.sregs.cr0.bits(),
            cr2: c.sregs.cr2,
            cr3: c.sregs.cr3,
            cr4: c.sregs.cr4.bits(),
            cs_base: c.sregs.seg[SegReg::Cs as usize].base,
            code32: c.sregs.cr0.contains(Cr0::PE)
                && !c.regs.eflags.contains(Eflags::VM)
                && c.sregs.seg[SegReg::Cs as usize]
                    .attrs
                    .contains(SegAttrs::DB),
        }
    }
}

/// Writes trace lines to a buffered sink, reusing one line buffer.
pub struct Tracer {
    out: Box<dyn Write>,
    line: String,
    formatter: IntelFormatter,
    error: Option<io::Error>,
    lines: u64,
}

impl Tracer {
    /// A tracer writing to `out` (wrap files in a `BufWriter`).
    pub fn new(out: Box<dyn Write>) -> Self {
        Self {
            out,
            line: String::with_capacity(256),
            formatter: IntelFormatter::new(),
            error: None,
            lines: 0,
        }
    }

    /// Lines written so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// The first write error (later lines are dropped).
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// Flushes the sink, recording an error.
    pub fn flush(&mut self) {
        if self.error.is_none() {
            if let Err(e) = self.out.flush() {
                self.error = Some(e);
            }
        }
    }

    /// Flushes and returns the first error.
    pub fn finish(&mut self) -> io::Result<()> {
        self.flush();
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Executes one instruction (or delivers one exception) and writes its trace line.
    pub fn step(&mut self, cpu: &mut Cpu, io: &mut dyn PortIo) -> Option<StopReason> {
        let before = Snapshot::take(cpu);
        let code32 = before.code32;
        let next = cpu.next_instruction();
        // Bytes are read before the step: the instruction may overwrite itself.
        let mut bytes = [0u8; 16];
        let n = match &next {
            Ok((lin, i)) => {
                let n = i.len().min(15);
                read_linear(cpu, *lin, &mut bytes[..n]);
                n
            }
            Err(_) => 0,
        };
        cpu.last_exception = None;
        let stop = cpu.step(io);
        let after = Snapshot::take(cpu);

        let line = &mut self.line;
        line.clear();
        let cs = before.sel[SegReg::Cs as usize];
        let (lin, insn): (u32, Option<Instruction>) = match next {
            Ok((l, i)) => (l, Some(i)),
            Err(_) => (0, None),
        };
        if code32 {
            hex(line, cs.into(), 4);
            line.push(':');
            hex(line, before.eip, 8);
            line.push(' ');
        } else {
            hex(line, cs.into(), 4);
            line.push(':');
            hex(line, before.eip, 4);
            line.push(' ');
        }
        match insn {
            Some(i) => {
                hex(line, lin, 8);
                line.push_str("  ");
                for b in &bytes[..n] {
                    hex(line, u32::from(*b), 2);
                }
                pad(line, 2 * n, BYTES_WIDTH);
                let start = line.len();
                self.formatter.format(&i, line);
                let w = line.len() - start;
                pad(line, w, DISASM_WIDTH);
            }
            None => {
                // The fetch itself faulted: no bytes, no instruction.
                let l = before.cs_base.wrapping_add(before.eip);
                let _ = write!(line, "{l:08x}  ");
                line.push('-');
                pad(line, 1, BYTES_WIDTH);
                line.push_str("(no instruction)");
                pad(line, 16, DISASM_WIDTH);
            }
        }
        let changes_start = line.len();
        write_changes(line, &before, &after, insn.as_ref(), code32);
        if let Some(e) = cpu.last_exception {
            if e.kind == EventKind::Fault || insn.is_none() {
                line.push_str(" exc=");
                let name = e.name();
                if name.starts_with('#') {
                    line.push_str(name);
                } else {
                    let _ = write!(line, "#{:02x}", e.vector);
                }
                if let Some(code) = e.error_code() {
                    let _ = write!(line, "({:04x})", code);
                }
            }
        }
        if matches!(stop, Some(StopReason::Shutdown)) {
            line.push_str(" shutdown");
        }
        // Drop the separator before an empty change list, and the leading space of the
        // first change.
        if line.len() == changes_start {
            let t = line.trim_end().len();
            line.truncate(t);
        } else if line.as_bytes()[changes_start] == b' ' {
            line.remove(changes_start);
        }
        line.push('\n');
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(line.as_bytes()) {
                self.error = Some(e);
            }
        }
        self.lines += 1;
        stop
    }
}

/// Appends the low `digits` hex digits of `v` (lowercase, zero-padded).
#[inline]
fn hex(line: &mut String, v: u32, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        line.push(HEX[((v >> (4 * i)) & 0xF) as usize] as char);
    }
}

/// Pads `line` with spaces from a field of `used` characters to `width`, then adds the
/// two-space column separator.
fn pad(line: &mut String, used: usize, width: usize) {
    for _ in used..width {
        line.push(' ');
    }
    line.push_str("  ");
}

/// Reads instruction bytes at a linear address (through the page tables when paging is on;
/// bytes on a page that would fault read as 0).
fn read_linear(cpu: &mut Cpu, lin: u32, out: &mut [u8]) {
    for (i, b) in out.iter_mut().enumerate() {
        let l = lin.wrapping_add(i as u32);
        *b = match cpu.debug_translate(l) {
            Some(pa) => cpu.core.mem.read_u8(pa),
            None => 0,
        };
    }
}

/// Appends ` reg=value` for every changed register, then ` flags=...`.
fn write_changes(
    line: &mut String,
    b: &Snapshot,
    a: &Snapshot,
    insn: Option<&Instruction>,
    code32: bool,
) {
    const GPR: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
    for ((name, &x), &y) in GPR.iter().zip(&b.gpr).zip(&a.gpr) {
        if x != y {
            line.push(' ');
            line.push_str(name);
            line.push('=');
            hex(line, y, 8);
        }
    }
    // EIP is shown when it is not the sequential next instruction's.
    let sequential = insn.map(|i| {
        let n = b.eip.wrapping_add(i.len() as u32);
        if code32 {
            n
        } else {
            n & 0xFFFF
        }
    });
    for s in SegReg::ALL {
        let k = s as usize;
        if a.sel[k] != b.sel[k] {
            line.push(' ');
            line.push_str(s.name());
            line.push('=');
            hex(line, a.sel[k].into(), 4);
        }
    }
    if Some(a.eip) != sequential {
        if a.code32 {
            line.push_str(" eip=");
            hex(line, a.eip, 8);
        } else {
            line.push_str(" eip=");
            hex(line, a.eip, 4);
        }
    }
    for (name, x, y) in [
        ("cr0", b.cr0, a.cr0),
        ("cr2", b.cr2, a.cr2),
        ("cr3", b.cr3, a.cr3),
        ("cr4", b.cr4, a.cr4),
    ] {
        if x != y {
            let _ = write!(line, " {name}={y:08x}");
        }
    }
    let diff = a.eflags ^ b.eflags;
    let iopl_mask = 3 << 12;
    if diff & !iopl_mask != 0 {
        line.push_str(" flags=");
        let mut first = true;
        for &(bit, name) in FLAG_NAMES.iter() {
            if bit != 0 && diff & bit != 0 {
                if !first {
                    line.push(',');
                }
                first = false;
                line.push(if a.eflags & bit != 0 { '+' } else { '-' });
                line.push_str(name);
            }
        }
    }
    if diff & iopl_mask != 0 {
        let _ = write!(line, " iopl={}", (a.eflags >> 12) & 3);
    }
}
