//! The execution engine: the run loop, instruction fetch through the decoded-instruction
//! cache, and dispatch to per-family semantics (one file per family).

mod alu;
mod bcd;
mod bits;
mod control;
mod dispatch;
mod flags;
mod io;
mod memory;
mod muldiv;
mod operand;
mod shift;
mod stack;
mod string;
mod system;

use crate::exception::Exception;
use crate::icache::{Decoded, ICache};
use crate::model::CpuModel;
use crate::state::{Cr0, Eflags, Regs, SRegs, SegReg};
use iced_x86::{Decoder, DecoderError, DecoderOptions, Instruction};
use vtx32_mmu::{PhysAddr, PhysMem};

pub use io::{IoAction, IoSize, NoPorts, PortIo};
pub use system::{MSR_SYSENTER_CS, MSR_SYSENTER_EIP, MSR_SYSENTER_ESP, MSR_TSC};

/// Instruction semantics: run one decoded instruction against the core.
pub(crate) type Handler = fn(&mut Core, &mut dyn PortIo, &Instruction) -> Result<(), Exception>;

/// Why [`Cpu::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// HLT with nothing that could wake the CPU (no interrupt source is modelled yet).
    Halted,
    /// A triple fault: the processor enters shutdown (SDM Vol. 3 §6.15, interrupt 8).
    Shutdown,
    /// A port write asked the board to stop (debug-exit ports).
    IoStop,
    /// The instruction budget given in [`RunLimits`] is used up.
    InstructionLimit,
    /// An exception was raised while `stop_on_exception` was set (conformance runs).
    Exception(Exception),
}

/// Bounds for one call of [`Cpu::run`].
#[derive(Clone, Copy, Debug)]
pub struct RunLimits {
    /// Stop once the total retired-instruction count reaches this value.
    pub max_instructions: u64,
}

/// The architectural core: registers, memory, counters. Instruction handlers work on this.
pub struct Core {
    pub regs: Regs,
    pub sregs: SRegs,
    pub mem: PhysMem,
    pub model: CpuModel,
    /// Retired instructions (REP string iterations count once per instruction).
    pub instructions: u64,
    /// Cycle counter; RDTSC reads `cycles + tsc_offset`.
    pub cycles: u64,
    pub(crate) tsc_offset: u64,
    pub(crate) sysenter: [u32; 3],
    /// EIP of the next instruction, set before a handler runs; branches overwrite it.
    pub(crate) next_eip: u32,
    /// Extra cycles a handler retires (string iterations, far transfers).
    pub(crate) extra_cycles: u64,
    /// Set by handlers that end the run after they retire (HLT, stopping port writes).
    pub(crate) stop: Option<StopReason>,
    /// Set when CS, CR0.PE or paging changed: the fetch shortcut must be recomputed.
    pub(crate) fetch_dirty: bool,
    /// MOV SS / POP SS inhibit interrupts and traps for one instruction (SDM §6.8.3).
    pub(crate) inhibit: bool,
    /// Per segment register: reads need only the limit check (see `memory.rs`).
    pub(crate) seg_read_fast: [bool; 6],
    pub(crate) seg_write_fast: [bool; 6],
    /// Debug registers DR0-DR7 (DR4/DR5 alias DR6/DR7).
    pub dr: [u32; 8],
    /// A port write asked for a processor reset.
    pub(crate) reset_pending: bool,
}

/// A processor: the core plus its decoded-instruction cache.
pub struct Cpu {
    pub core: Core,
    icache: ICache,
    /// Deliver nothing: return exceptions to the caller (conformance harnesses).
    pub stop_on_exception: bool,
    /// The most recent exception or interrupt raised, recorded before delivery (traces and
    /// debuggers clear it before a step and read it after).
    pub last_exception: Option<Exception>,
    decoder_buf: [u8; 16],
}

impl Cpu {
    /// A processor of `model` at its reset state with `mem` attached.
    pub fn new(model: CpuModel, mem: PhysMem) -> Self {
        let regs = Regs::reset(model.signature);
        let mut core = Core {
            regs,
            sregs: SRegs::reset(),
            mem,
            model,
            instructions: 0,
            cycles: 0,
            tsc_offset: 0,
            sysenter: [0; 3],
            next_eip: 0,
            extra_cycles: 0,
            stop: None,
            fetch_dirty: true,
            inhibit: false,
            seg_read_fast: [false; 6],
            seg_write_fast: [false; 6],
            dr: [0, 0, 0, 0, 0xFFFF_0FF0, 0x400, 0xFFFF_0FF0, 0x400],
            reset_pending: false,
        };
        core.refresh_segment_fast_paths();
        let empty = Decoded {
            insn: Instruction::default(),
            handler: dispatch::invalid,
            cycles: 0,
            len: 1,
        };
        Self {
            core,
            icache: ICache::new(empty),
            stop_on_exception: false,
            last_exception: None,
            decoder_buf: [0; 16],
        }
    }

    /// Processor reset (INIT-like RESET: SDM Vol. 3 §9.1): registers to their reset values;
    /// memory and counters are kept.
    pub fn reset(&mut self) {
        let c = &mut self.core;
        c.regs = Regs::reset(c.model.signature);
        c.sregs = SRegs::reset();
        c.inhibit = false;
        c.fetch_dirty = true;
        c.refresh_segment_fast_paths();
        self.icache.flush();
    }

    /// Called after the front-end changes registers directly (loaders, debuggers).
    pub fn state_changed(&mut self) {
        self.core.fetch_dirty = true;
        self.core.refresh_segment_fast_paths();
    }

    /// Runs until a stop condition. Deterministic: the same state and inputs give the same
    /// instruction and cycle counts.
    pub fn run(&mut self, io: &mut dyn PortIo, limits: RunLimits) -> StopReason {
        loop {
            if self.core.instructions >= limits.max_instructions {
                return StopReason::InstructionLimit;
            }
            if let Some(stop) = self.step(io) {
                return stop;
            }
        }
    }

    /// Executes one instruction (or delivers one exception). Returns a stop reason if the run
    /// must end.
    #[inline]
    pub fn step(&mut self, io: &mut dyn PortIo) -> Option<StopReason> {
        let eip = self.core.regs.eip;
        let d = match self.fetch(eip) {
            Ok(d) => d,
            Err(e) => return self.raise(io, e),
        };
        let c = &mut self.core;
        let code32 = c.code32();
        c.next_eip = if code32 {
            eip.wrapping_add(d.len as u32)
        } else {
            (eip.wrapping_add(d.len as u32)) & 0xFFFF
        };
        c.inhibit = false;
        match (d.handler)(c, io, &d.insn) {
            Ok(()) => {
                c.regs.eip = c.next_eip;
                c.instructions += 1;
                c.cycles += u64::from(d.cycles) + c.extra_cycles;
                c.extra_cycles = 0;
                if c.stop.is_some() || c.reset_pending {
                    return self.after_stop_request();
                }
                None
            }
            Err(e) => {
                c.extra_cycles = 0;
                self.raise(io, e)
            }
        }
    }

    #[cold]
    fn after_stop_request(&mut self) -> Option<StopReason> {
        if self.core.reset_pending {
            self.core.reset_pending = false;
            self.reset();
        }
        self.core.stop.take()
    }

    #[cold]
    fn raise(&mut self, io: &mut dyn PortIo, e: Exception) -> Option<StopReason> {
        self.last_exception = Some(e);
        if self.stop_on_exception {
            return Some(StopReason::Exception(e));
        }
        let _ = io;
        let c = &mut self.core;
        // A trap-like event retires the instruction that raised it.
        if e.kind != crate::exception::EventKind::Fault {
            c.regs.eip = c.next_eip;
            c.instructions += 1;
        }
        c.cycles += u64::from(c.model.costs[crate::model::CostClass::Far as usize]);
        match c.deliver(e) {
            Ok(()) => c.stop.take(),
            Err(()) => Some(StopReason::Shutdown),
        }
    }

    /// The decoded instruction at CS:`eip` (no side effects on architectural state).
    pub(crate) fn fetch_decoded(&mut self, eip: u32) -> Result<Instruction, Exception> {
        self.fetch(eip).map(|d| d.insn)
    }

    /// Fetches the decoded instruction at CS:`eip`, decoding on a cache miss.
    #[inline(always)]
    fn fetch(&mut self, eip: u32) -> Result<Decoded, Exception> {
        let c = &mut self.core;
        let cs = c.sregs.seg[SegReg::Cs as usize];
        if eip > cs.limit {
            return Err(Exception::gp(0));
        }
        let lin = cs.base.wrapping_add(eip);
        let code32 = c.code32();
        let pa = c.translate_fetch(lin)?;
        let tag = ICache::tag(pa.0, code32);
        let gen = c.mem.code_gen(pa);
        let e = self.icache.slot(pa.0);
        if e.tag == tag && e.gen == gen {
            // Re-check the limit for the instruction's last byte (SDM §5.3).
            if u64::from(eip) + u64::from(e.d.len) - 1 > u64::from(cs.limit) {
                return Err(Exception::gp(0));
            }
            return Ok(e.d);
        }
        self.decode_miss(eip, lin, pa, code32)
    }

    #[cold]
    fn decode_miss(
        &mut self,
        eip: u32,
        lin: u32,
        pa: PhysAddr,
        code32: bool,
    ) -> Result<Decoded, Exception> {
        let c = &mut self.core;
        let cs = c.sregs.seg[SegReg::Cs as usize];
        // Bytes available before the CS limit (at most 15, the architectural maximum).
        let avail = (u64::from(cs.limit) - u64::from(eip) + 1).min(15) as usize;
        // Fetch byte by byte: the instruction may cross into a page that faults.
        let mut n = 0;
        let mut crosses_page = false;
        let mut page_fault = None;
        while n < avail {
            let l = lin.wrapping_add(n as u32);
            let b_pa = if (l ^ lin) & !0xFFF == 0 {
                PhysAddr(pa.0 + n as u64)
            } else {
                crosses_page = true;
                match c.translate_fetch(l) {
                    Ok(p) => p,
                    Err(e) => {
                        page_fault = Some(e);
                        break;
                    }
                }
            };
            self.decoder_buf[n] = c.mem.read_u8(b_pa);
            n += 1;
        }
        let bitness = if code32 { 32 } else { 16 };
        let mut decoder = Decoder::with_ip(
            bitness,
            &self.decoder_buf[..n],
            u64::from(eip),
            DecoderOptions::NONE,
        );
        let mut insn = Instruction::default();
        decoder.decode_out(&mut insn);
        match decoder.last_error() {
            DecoderError::None => {}
            DecoderError::NoMoreBytes => {
                // The instruction runs past the fetched bytes: a page fault on the next page,
                // or past the CS limit (#GP(0)).
                return Err(page_fault.unwrap_or(Exception::gp(0)));
            }
            DecoderError::InvalidInstruction => {
                // Longer than 15 bytes is #GP(0) (SDM Vol. 2 §2.3.11); everything else #UD.
                if n == 15 && insn.len() == 0 {
                    return Err(Exception::gp(0));
                }
                return Err(Exception::ud());
            }
            _ => return Err(Exception::ud()),
        }
        let len = insn.len() as u8;
        let (handler, class) = dispatch::select(&insn);
        let has_mem = (0..insn.op_count()).any(|i| insn.op_kind(i) == iced_x86::OpKind::Memory);
        let d = Decoded {
            insn,
            handler,
            cycles: c.model.cost(class, has_mem),
            len,
        };
        if !crosses_page {
            let gen = c.mem.mark_code(pa, len as usize);
            let e = self.icache.slot(pa.0);
            e.tag = ICache::tag(pa.0, code32);
            e.gen = gen;
            e.d = d;
        }
        Ok(d)
    }
}

impl Core {
    /// Whether the current code segment is 32-bit (CS.D in protected mode).
    #[inline(always)]
    pub(crate) fn code32(&self) -> bool {
        self.protected()
            && !self.v86()
            && self.sregs.seg[SegReg::Cs as usize]
                .attrs
                .contains(crate::state::SegAttrs::DB)
    }

    /// CR0.PE.
    #[inline(always)]
    pub(crate) fn protected(&self) -> bool {
        self.sregs.cr0.contains(Cr0::PE)
    }

    /// EFLAGS.VM.
    #[inline(always)]
    pub(crate) fn v86(&self) -> bool {
        self.regs.eflags.contains(Eflags::VM)
    }

    /// Whether the stack segment is 32-bit (SS.B).
    #[inline(always)]
    pub(crate) fn stack32(&self) -> bool {
        self.protected()
            && !self.v86()
            && self.sregs.seg[SegReg::Ss as usize]
                .attrs
                .contains(crate::state::SegAttrs::DB)
    }
}
