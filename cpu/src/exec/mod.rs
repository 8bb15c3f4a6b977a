//! The execution engine: the run loop, instruction fetch through the decoded-instruction
//! cache, and dispatch to per-family semantics (one file per family).

mod alu;
mod bcd;
mod bits;
mod control;
mod debug;
mod dispatch;
pub(crate) mod fast;
mod flags;
mod io;
mod memory;
mod muldiv;
mod operand;
mod protection;
mod shift;
mod stack;
mod string;
mod sysenter;
mod system;
mod task_register;

use crate::exception::Exception;
use crate::icache::{BlockCache, BlockRef, Decoded, Succ, MAX_BLOCK_INSNS};
use crate::model::CpuModel;
use crate::state::{Cr0, Eflags, Regs, SRegs, SegReg};
use iced_x86::{Decoder, DecoderError, DecoderOptions, Instruction};
use vtx32_mmu::{PhysAddr, PhysMem};

pub use io::{IoAction, IoSize, NoPorts, PortIo};
pub use system::{
    EFER_NXE, MSR_EFER, MSR_SYSENTER_CS, MSR_SYSENTER_EIP, MSR_SYSENTER_ESP, MSR_TSC,
};

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
    /// The cycle counter reached [`Core::event_cycle`]: the board has a device event due.
    EventDue,
    /// Exceptions or interrupts were delivered [`crate::STALL_LIMIT`] times in a row
    /// without an instruction retiring: the guest is stuck in an event loop.
    NoProgress,
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
    /// Set by handlers that end the run after they retire (HLT, stopping port writes).
    pub(crate) stop: Option<StopReason>,
    /// Set when CS, CR0, CR3, CR4 or CPL changed: the fetch context must be recomputed.
    pub(crate) fetch_dirty: bool,
    /// Fetch context, valid while `fetch_dirty` is clear: CS base and limit, code size,
    /// and the last code page's translation (an instruction TLB of one entry: like any TLB
    /// entry it may be stale until CR3 is written or INVLPG runs, SDM Vol. 3 §4.10.4).
    fetch_base: u32,
    fetch_limit: u32,
    fetch_code32: bool,
    fetch_page: u32,
    fetch_page_pa: u64,
    /// Bumped at every fetch-context refresh and decoded-cache flush; with the memory bus's
    /// code epoch it validates remembered block successors (`icache::Succ`).
    fetch_epoch: u64,
    /// Status flags of the last fast-form ALU instruction not yet in EFLAGS (`flags.rs`).
    pub(crate) lazy: flags::Lazy,
    /// The exception of a fast form that returned `false` (see `fast::Fast`).
    pub(crate) fast_fault: Option<Exception>,
    /// EIP of the first instruction of the running block: in-block Jcc targets are
    /// relative to it (`fast::make_inner_jcc`).
    pub(crate) block_start: u32,
    /// Set by an in-block Jcc that branched (it returns `false` to leave the block).
    pub(crate) branch_taken: bool,
    /// MOV SS / POP SS inhibit interrupts and traps for one instruction (SDM §6.8.3).
    pub(crate) inhibit: bool,
    /// Per segment register: the end of the offsets that reads and writes may use with
    /// only the limit check, 0 for none (see `Core::seg_end` in `memory.rs`).
    pub(crate) seg_read_end: [u64; 6],
    pub(crate) seg_write_end: [u64; 6],
    /// Debug registers DR0-DR7 (DR4/DR5 alias DR6/DR7). A front-end that writes DR7
    /// directly calls [`Cpu::state_changed`].
    pub dr: [u32; 8],
    /// Breakpoint summary and pending debug traps (see `debug.rs`).
    pub(crate) dbg: debug::DebugState,
    /// The TLB (SDM Vol. 3 §4.10): translations stay usable until INVLPG, a CR3 write or a
    /// paging-mode change flushes them.
    pub(crate) tlb: Box<vtx32_mmu::Tlb>,
    /// The PDPTE registers of PAE paging, loaded at CR3/CR0/CR4 writes (§4.4.1).
    pub(crate) pdptes: [u64; 4],
    /// A port write asked for a processor reset.
    pub(crate) reset_pending: bool,
    /// The halt state entered by HLT (left by an external interrupt).
    pub halted: bool,
    /// The cycle at which the board's next device event is due: [`Cpu::run`] returns
    /// [`StopReason::EventDue`] once the cycle counter reaches it.
    pub event_cycle: u64,
    /// Set when a task switch passed its commit point (SDM §7.3 step 12): a fault raised
    /// after it belongs to the new task, so interrupt delivery must not roll back.
    pub(crate) task_committed: bool,
    /// Deliveries since the instruction count was last `stall_mark` (see `interrupt.rs`).
    pub(crate) stalled: u32,
    pub(crate) stall_mark: u64,
}

/// DR0-DR7 after reset (SDM Vol. 3 Table 9-1).
const DR_RESET: [u32; 8] = [0, 0, 0, 0, 0xFFFF_0FF0, 0x400, 0xFFFF_0FF0, 0x400];

/// How [`Cpu::run_fast_chain`] left its loop other than by ending normally.
enum FastExit {
    /// The budget ends inside this block (not started).
    Budget(BlockRef),
    /// Instruction `k` of the block, started at EIP `start`, faulted or wrote to code.
    Left(BlockRef, u32, usize),
}

/// A processor: the core plus its decoded-instruction cache.
pub struct Cpu {
    pub core: Core,
    blocks: BlockCache,
    /// Scratch space for building a block.
    build: Vec<Decoded>,
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
            stop: None,
            fetch_dirty: true,
            fetch_base: 0,
            fetch_limit: 0,
            fetch_code32: false,
            fetch_page: u32::MAX,
            fetch_page_pa: 0,
            fetch_epoch: 0,
            lazy: flags::Lazy::NONE,
            fast_fault: None,
            block_start: 0,
            branch_taken: false,
            inhibit: false,
            seg_read_end: [0; 6],
            seg_write_end: [0; 6],
            dr: DR_RESET,
            dbg: debug::DebugState::default(),
            reset_pending: false,
            halted: false,
            event_cycle: u64::MAX,
            task_committed: false,
            stalled: 0,
            stall_mark: 0,
            tlb: Box::default(),
            pdptes: [0; 4],
        };
        core.refresh_segment_fast_paths();
        Self {
            core,
            blocks: BlockCache::new(),
            build: Vec::with_capacity(MAX_BLOCK_INSNS),
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
        c.lazy = flags::Lazy::NONE;
        c.sregs = SRegs::reset();
        c.inhibit = false;
        c.halted = false;
        c.fetch_dirty = true;
        c.dr = DR_RESET;
        c.dbg = debug::DebugState::default();
        c.dr7_changed();
        c.refresh_segment_fast_paths();
        c.tlb.flush_all();
        c.fetch_epoch += 1;
        self.blocks.flush();
    }

    /// Called after the front-end changes registers directly (loaders, debuggers).
    pub fn state_changed(&mut self) {
        self.core.fetch_dirty = true;
        self.core.tlb.flush_all();
        self.core.load_pdptes_if_pae();
        self.core.dr7_changed();
        self.core.refresh_segment_fast_paths();
    }

    /// Runs until a stop condition. Deterministic: the same state and inputs give the same
    /// instruction and cycle counts.
    pub fn run(&mut self, io: &mut dyn PortIo, limits: RunLimits) -> StopReason {
        // The block that ran last: its remembered successors are tried before a lookup.
        let mut prev = u32::MAX;
        loop {
            if self.core.instructions >= limits.max_instructions {
                self.core.settle_flags();
                return StopReason::InstructionLimit;
            }
            // Breakpoints, single-step or RF: one instruction at a time, events included
            // (debug.rs).
            if self.core.debug_mode() {
                self.core.settle_flags();
                prev = u32::MAX;
                if let Some(stop) = self.debug_step(io) {
                    return stop;
                }
                continue;
            }
            if let Some(stop) = self.events(io) {
                return stop;
            }
            let b = match self.chained(prev) {
                Some(b) => b,
                None => {
                    // The lookup may raise: EFLAGS must be current.
                    self.core.settle_flags();
                    match self.fetch_block() {
                        Ok(b) => {
                            self.remember(prev, b);
                            b
                        }
                        Err(e) => match self.raise(io, e) {
                            Some(stop) => return stop,
                            None => {
                                prev = u32::MAX;
                                continue;
                            }
                        },
                    }
                }
            };
            prev = b.id;
            if b.all_fast && !self.core.inhibit {
                let end = self.run_fast_chain(io, b, limits.max_instructions, &mut prev);
                if let Some(Some(stop)) = end {
                    return stop;
                }
                continue;
            }
            // In an STI or MOV SS shadow only the next instruction runs before events are
            // looked at again.
            let b = if self.core.inhibit {
                BlockRef {
                    count: 1,
                    all_fast: false,
                    ..b
                }
            } else {
                b
            };
            if let Some(stop) = self.exec_block(io, b, limits.max_instructions) {
                return stop;
            }
        }
    }

    /// The current validity stamp of remembered successors (see `icache::Succ`).
    #[inline(always)]
    fn chain_epoch(&self) -> u64 {
        self.core
            .fetch_epoch
            .wrapping_add(self.core.mem.code_epoch())
    }

    /// The block at CS:EIP if block `prev` remembers it as a successor and the lookup
    /// would return it unchanged (same result as [`Self::fetch_block`], without its work).
    #[inline(always)]
    fn chained(&self, prev: u32) -> Option<BlockRef> {
        let c = &self.core;
        if c.fetch_dirty {
            return None;
        }
        let eip = c.regs.eip;
        let epoch = self.chain_epoch();
        self.blocks
            .find_succ(prev, |s| {
                s.eip == eip
                    && s.epoch == epoch
                    && s.lin_page == c.fetch_page
                    && s.pa_page == c.fetch_page_pa
            })
            .map(|s| s.b)
    }

    /// Remembers `b`, just returned by a lookup at CS:EIP, as a successor of block `prev`.
    #[inline(always)]
    fn remember(&mut self, prev: u32, b: BlockRef) {
        // Blocks kept out of the table (page-crossing instructions) are decoded anew at
        // every lookup; they are never chained to.
        if b.tag == u64::MAX || prev == u32::MAX {
            return;
        }
        let c = &self.core;
        let s = Succ {
            eip: c.regs.eip,
            lin_page: c.fetch_page,
            pa_page: c.fetch_page_pa,
            epoch: self.chain_epoch(),
            b,
        };
        self.blocks.add_succ(prev, s);
    }

    /// Executes one instruction (or delivers one exception or external interrupt). Returns a
    /// stop reason if the run must end.
    pub fn step(&mut self, io: &mut dyn PortIo) -> Option<StopReason> {
        self.core.settle_flags();
        if self.core.debug_mode() {
            return self.debug_step(io);
        }
        if let Some(stop) = self.events(io) {
            return Some(stop);
        }
        match self.fetch_block() {
            Ok(b) => self.exec_block(
                io,
                BlockRef {
                    count: 1,
                    all_fast: false,
                    ..b
                },
                u64::MAX,
            ),
            Err(e) => self.raise(io, e),
        }
    }

    /// At an instruction boundary: a due board event, an external interrupt (recognized
    /// when EFLAGS.IF = 1 outside an STI/MOV SS shadow, SDM Vol. 3 §6.8.1), or the halt
    /// state end the run or redirect it.
    #[inline(always)]
    fn events(&mut self, io: &mut dyn PortIo) -> Option<StopReason> {
        let c = &self.core;
        // (IF is not a lazily computed flag; the status flags are settled before EFLAGS
        // is pushed or the run returns.)
        if c.cycles >= c.event_cycle {
            self.core.settle_flags();
            return Some(StopReason::EventDue);
        }
        if c.regs.eflags.contains(Eflags::IF) && !c.inhibit && io.intr() {
            self.core.settle_flags();
            return self.external_interrupt(io);
        }
        if c.halted {
            self.core.settle_flags();
            return Some(StopReason::Halted);
        }
        None
    }

    /// Delivers the external interrupt the controller acknowledges; leaves the halt state.
    #[cold]
    fn external_interrupt(&mut self, io: &mut dyn PortIo) -> Option<StopReason> {
        let vector = io.inta();
        let e = Exception::new(vector, None, crate::exception::EventKind::External);
        self.last_exception = Some(e);
        let c = &mut self.core;
        c.halted = false;
        c.cycles += u64::from(c.model.costs[crate::model::CostClass::Far as usize]);
        let eip = c.regs.eip;
        match c.deliver(e, eip) {
            Ok(()) => c.stop.take(),
            Err(()) => Some(StopReason::Shutdown),
        }
    }

    /// Runs the instructions of block `b` in order until one transfers control, raises an
    /// exception, changes the fetch context or writes code, or the budget is reached.
    /// Handlers signal "leave the block" through `fetch_dirty` (also set with every stop and
    /// reset request) and the memory bus through `code_written`.
    #[inline(always)]
    fn exec_block(
        &mut self,
        io: &mut dyn PortIo,
        b: BlockRef,
        max_instructions: u64,
    ) -> Option<StopReason> {
        let c = &mut self.core;
        // MOV SS / POP SS / STI shadows last one instruction: `run` gives a block of one
        // instruction while `inhibit` is set, and the shadow ends with it.
        c.inhibit = false;
        let left = max_instructions.saturating_sub(c.instructions);
        let budget = left.min(u64::from(b.count)) as usize;
        let insns = self.blocks.insns(b, budget);
        let ip_mask = if c.fetch_code32 { u32::MAX } else { 0xFFFF };
        let mut eip = c.regs.eip;
        c.block_start = eip;
        // Only blocks of fast forms leave flags pending at their end (see `flags::Lazy`).
        c.settle_flags();
        let mut fault = None;
        let mut leave = false;
        let mut retired = 0u64;
        // Blocks end at the first instruction whose flow is not "next", except a fast Jcc
        // in 32-bit code: an instruction that sends EIP elsewhere (`next_eip`) leaves the
        // block. A handler that leaves EIP elsewhere without being a control transfer (a
        // REP string instruction that resumes later) sets `fetch_dirty` to leave too.
        for d in insns {
            let next = eip.wrapping_add(u32::from(d.len)) & ip_mask;
            // EIP of the executing instruction (faults report it; REP restarts use it).
            c.regs.eip = eip;
            c.next_eip = next;
            let r = if d.generic {
                (d.handler)(c, io, &d.insn)
            } else {
                let r = c.run_fast(d);
                c.settle_flags();
                r
            };
            if let Err(e) = r {
                fault = Some(e);
                break;
            }
            retired += 1;
            c.cycles += u64::from(d.cycles);
            if c.fetch_dirty | c.mem.code_written() | (c.next_eip != next) {
                leave = true;
                break;
            }
            eip = next;
        }
        // The last instruction run may have branched: its target is in `next_eip`.
        if fault.is_none() && retired > 0 {
            c.regs.eip = c.next_eip;
        }
        c.instructions += retired;
        if let Some(e) = fault {
            return self.raise(io, e);
        }
        if leave {
            let c = &mut self.core;
            c.mem.clear_code_written();
            if c.stop.is_some() || c.reset_pending {
                return self.after_stop_request();
            }
        }
        None
    }

    /// Runs block `b` of fast forms and then, as long as each remembered successor is
    /// another such block that fits in the budget, the successor, without going back to
    /// the run loop. Returns `Some` when the run must end (`Some(None)`: a block was left
    /// early, the run loop carries on); `None` when the chain ended normally. `prev` is
    /// kept as the last block run.
    ///
    /// What the run loop looks at between blocks cannot change while only fast forms run
    /// (see `fast::Fast`): they leave the fetch context, CPL, EFLAGS.IF/TF/RF, the debug
    /// registers, the STI/MOV SS shadow and the halt state alone, and do no port I/O, so
    /// the interrupt line (which only port I/O and board events move) stays as it was
    /// when the run loop last looked. The chain epoch changes only through a write to
    /// code, which leaves the block. So between two blocks only the budget and the next
    /// board event are checked.
    #[inline(always)]
    fn run_fast_chain(
        &mut self,
        io: &mut dyn PortIo,
        first: BlockRef,
        max_instructions: u64,
        prev: &mut u32,
    ) -> Option<Option<StopReason>> {
        self.core.inhibit = false;
        let epoch = self.chain_epoch();
        let blocks = &self.blocks;
        let c = &mut self.core;
        // What the fast forms leave alone (see above), read once.
        let (lin_page, pa_page) = (c.fetch_page, c.fetch_page_pa);
        let ip_mask = if c.fetch_code32 { u32::MAX } else { 0xFFFF };
        let event_cycle = c.event_cycle;
        let mut b = &first;
        // Budget left, and EIP (fast forms neither read nor write `regs.eip`).
        let mut left = max_instructions.saturating_sub(c.instructions);
        let mut eip = c.regs.eip;
        let exit = 'chain: loop {
            let count = u64::from(b.count);
            if left < count {
                break FastExit::Budget(*b);
            }
            *prev = b.id;
            // The bookkeeping the general loop does per instruction is done once per
            // block: EIP and `next_eip` are set for the last instruction only (the only one
            // that reads them), the cycles come from the block's precomputed sum; an
            // instruction that faults or writes code gets its exact state recomputed from
            // the instruction lengths.
            c.next_eip = eip.wrapping_add(u32::from(b.span)) & ip_mask;
            c.block_start = eip;
            // Instructions and cycles retired by the block: all of them, unless an
            // in-block Jcc branched.
            let (mut count, mut cycles) = (count, b.cycles);
            for d in blocks.block_insns(b) {
                if !(d.exec)(c, d) {
                    if c.branch_taken {
                        c.branch_taken = false;
                        (count, cycles) = (u64::from(d.index) + 1, d.ops.disp);
                        break;
                    }
                    // Fast forms never set `fetch_dirty` (nor a stop or reset request): a
                    // fault and a write to code are the only other ways they end a block
                    // early.
                    debug_assert!(!c.fetch_dirty);
                    break 'chain FastExit::Left(*b, eip, usize::from(d.index));
                }
            }
            // Pending flags stay pending into the next block of fast forms; every other
            // path of the run loop settles them first.
            eip = c.next_eip;
            c.regs.eip = eip;
            c.instructions += count;
            left -= count;
            c.cycles += u64::from(cycles);
            if c.cycles >= event_cycle || left == 0 {
                return None;
            }
            let next = blocks.find_succ(b.id, |s| {
                s.eip == eip && s.epoch == epoch && s.lin_page == lin_page && s.pa_page == pa_page
            });
            match next {
                Some(s) if s.b.all_fast => b = &s.b,
                _ => return None,
            }
        };
        match exit {
            // The budget ends inside this block: the general loop runs part of it.
            FastExit::Budget(b) => Some(self.exec_block(io, b, max_instructions)),
            FastExit::Left(b, start, k) => Some(match self.core.fast_fault.take() {
                Some(e) => self.fast_block_fault(io, b, start, k, e),
                None => self.fast_block_leave(b, start, k),
            }),
        }
    }

    /// EIP of instruction `k` of block `b` that starts at `start`, and the sum of the
    /// cycles of the instructions before it.
    fn fast_block_position(&self, b: BlockRef, start: u32, k: usize) -> (u32, u64) {
        let ip_mask = if self.core.fetch_code32 {
            u32::MAX
        } else {
            0xFFFF
        };
        let before = self.blocks.insns(b, k);
        let len: u32 = before.iter().map(|d| u32::from(d.len)).sum();
        let cycles: u64 = before.iter().map(|d| u64::from(d.cycles)).sum();
        (start.wrapping_add(len) & ip_mask, cycles)
    }

    /// Instruction `k` of a fast block raised `e`: the state the general loop leaves.
    #[cold]
    #[inline(never)]
    fn fast_block_fault(
        &mut self,
        io: &mut dyn PortIo,
        b: BlockRef,
        start: u32,
        k: usize,
        e: Exception,
    ) -> Option<StopReason> {
        let (eip, cycles) = self.fast_block_position(b, start, k);
        let (eip_next, _) = self.fast_block_position(b, start, k + 1);
        let c = &mut self.core;
        c.settle_flags();
        c.regs.eip = eip;
        if k + 1 < usize::from(b.count) {
            c.next_eip = eip_next;
        }
        c.cycles += cycles;
        c.instructions += k as u64;
        self.raise(io, e)
    }

    /// Instruction `k` of a fast block retired and wrote code (or asked to leave).
    #[cold]
    #[inline(never)]
    fn fast_block_leave(&mut self, b: BlockRef, start: u32, k: usize) -> Option<StopReason> {
        let (eip_next, cycles) = self.fast_block_position(b, start, k + 1);
        let c = &mut self.core;
        c.settle_flags();
        c.regs.eip = if k + 1 == usize::from(b.count) {
            c.next_eip
        } else {
            eip_next
        };
        c.cycles += cycles;
        c.instructions += k as u64 + 1;
        c.mem.clear_code_written();
        if c.stop.is_some() || c.reset_pending {
            return self.after_stop_request();
        }
        None
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
        self.core.settle_flags();
        self.last_exception = Some(e);
        let _ = io;
        let c = &mut self.core;
        let insn_eip = c.regs.eip;
        // A trap-like event (INT n, INT3, INTO, ICEBP) retires the instruction that raised
        // it: the saved EIP is the next instruction's (SDM Vol. 3 §6.5).
        if e.kind != crate::exception::EventKind::Fault {
            c.regs.eip = c.next_eip;
            c.instructions += 1;
        }
        if self.stop_on_exception {
            return Some(StopReason::Exception(e));
        }
        c.cycles += u64::from(c.model.costs[crate::model::CostClass::Far as usize]);
        match c.deliver(e, insn_eip) {
            Ok(()) => c.stop.take(),
            Err(()) => Some(StopReason::Shutdown),
        }
    }

    /// The decoded instruction at CS:EIP (no side effects on architectural state).
    pub(crate) fn fetch_decoded(&mut self) -> Result<Instruction, Exception> {
        let b = self.fetch_block()?;
        Ok(self.blocks.insn(b.start as usize).insn)
    }

    /// The block at CS:EIP, decoding on a miss.
    #[inline(always)]
    fn fetch_block(&mut self) -> Result<BlockRef, Exception> {
        let c = &mut self.core;
        if c.fetch_dirty {
            c.refresh_fetch_context();
        }
        let eip = c.regs.eip;
        if eip > c.fetch_limit {
            return Err(Exception::gp(0));
        }
        let lin = c.fetch_base.wrapping_add(eip);
        let pa = if lin >> 12 == c.fetch_page {
            PhysAddr(c.fetch_page_pa | u64::from(lin & 0xFFF))
        } else {
            let pa = c.translate_fetch(lin)?;
            c.fetch_page = lin >> 12;
            c.fetch_page_pa = pa.0 & !0xFFF;
            pa
        };
        let code32 = c.fetch_code32;
        let b = self.blocks.lookup(pa.0);
        if b.tag == BlockCache::tag(pa.0, code32)
            && b.gen[0] == c.mem.code_gen(pa)
            && b.gen[1] == c.mem.code_gen(PhysAddr(pa.0 + u64::from(b.span) - 1))
            // The whole block must lie within the CS limit (SDM §5.3); else rebuild it
            // shorter.
            && u64::from(eip) + u64::from(b.span) - 1 <= u64::from(c.fetch_limit)
        {
            return Ok(b);
        }
        self.build_block(eip, lin, pa, code32)
    }

    /// Decodes one instruction at `eip` (linear `lin`, physical `pa`). Returns the decoded
    /// instruction and whether its bytes cross into the next page.
    fn decode_one(
        &mut self,
        eip: u32,
        lin: u32,
        pa: PhysAddr,
        code32: bool,
    ) -> Result<(Decoded, bool), Exception> {
        let c = &mut self.core;
        // Bytes available before the CS limit (at most 15, the architectural maximum).
        let avail = (u64::from(c.fetch_limit) - u64::from(eip) + 1).min(15) as usize;
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
                // or past the CS limit (#GP(0)); longer than 15 bytes is #GP(0) too
                // (SDM Vol. 2 §2.3.11).
                return Err(page_fault.unwrap_or(Exception::gp(0)));
            }
            _ => return Err(Exception::ud()),
        }
        let len = insn.len() as u8;
        let crosses = crosses_page && (lin & 0xFFF) + u32::from(len) > 0x1000;
        let (handler, class) = dispatch::select(&insn);
        let (exec, ops, generic) = match fast::select(&insn) {
            Some((f, o)) => (f, o, false),
            None => (fast::generic as fast::Fast, fast::Operands::EMPTY, true),
        };
        let has_mem = (0..insn.op_count()).any(|i| insn.op_kind(i) == iced_x86::OpKind::Memory);
        let cycles = c.model.cost(class, has_mem);
        Ok((
            Decoded {
                exec,
                generic,
                ops,
                insn,
                handler,
                cycles,
                len,
                index: 0,
            },
            crosses,
        ))
    }

    /// Decodes and caches the block starting at `eip`.
    #[cold]
    fn build_block(
        &mut self,
        eip: u32,
        lin: u32,
        pa: PhysAddr,
        code32: bool,
    ) -> Result<BlockRef, Exception> {
        let mut build = std::mem::take(&mut self.build);
        build.clear();
        let first_line = pa.0 >> vtx32_mmu::CODE_LINE_SHIFT;
        let mut off = 0u32;
        let mut cacheable = true;
        let mut all_fast = true;
        loop {
            let (e, l, p) = (
                eip.wrapping_add(off),
                lin.wrapping_add(off),
                PhysAddr(pa.0 + u64::from(off)),
            );
            let decoded = self.decode_one(e, l, p, code32);
            let (d, crosses) = match decoded {
                Ok(x) => x,
                // A fault decoding the first instruction is raised; later ones end the block
                // before the faulting instruction (raised when it is reached).
                Err(err) if build.is_empty() => {
                    self.build = build;
                    return Err(err);
                }
                Err(_) => break,
            };
            let end = u64::from(off) + u64::from(d.len);
            let last_line = (pa.0 + end - 1) >> vtx32_mmu::CODE_LINE_SHIFT;
            if !build.is_empty() && (crosses || last_line > first_line + 1) {
                break;
            }
            // A block of fast forms stays one (it runs on the lean path): the first
            // instruction without a fast form starts the next block.
            if d.generic && !build.is_empty() && all_fast {
                break;
            }
            all_fast &= !d.generic;
            let fast = !d.generic;
            let flow = d.insn.flow_control();
            build.push(Decoded {
                index: build.len() as u8,
                ..d
            });
            off = end as u32;
            if crosses {
                cacheable = false;
                break;
            }
            // A fast Jcc in 32-bit code does not end the block (see `fast::make_inner_jcc`).
            let goes_on = flow == iced_x86::FlowControl::Next
                || (code32 && fast && flow == iced_x86::FlowControl::ConditionalBranch);
            if !goes_on || build.len() == MAX_BLOCK_INSNS || (lin.wrapping_add(off) & 0xFFF) == 0 {
                break;
            }
            // The next instruction must start within the CS limit.
            if u64::from(eip) + u64::from(off) > u64::from(self.core.fetch_limit) {
                break;
            }
        }
        // Every Jcc but the last instruction becomes the in-block form.
        let (mut next, mut cycles) = (0u32, 0u32);
        let inner = build.len().saturating_sub(1);
        for d in build.iter_mut().take(inner) {
            next += u32::from(d.len);
            cycles += u32::from(d.cycles);
            fast::make_inner_jcc(d, next, cycles);
        }
        let span = off.max(1);
        let gen0 = self.core.mem.mark_code(pa, span as usize);
        let gen1 = self.core.mem.code_gen(PhysAddr(pa.0 + u64::from(span) - 1));
        let b = BlockRef {
            tag: BlockCache::tag(pa.0, code32),
            start: 0,
            count: 0,
            span: span as u16,
            gen: [gen0, gen1],
            id: 0,
            cycles: 0,
            all_fast: false,
        };
        let (b, flushed) = self.blocks.insert(pa.0, b, &build, cacheable);
        if flushed {
            self.core.fetch_epoch += 1;
        }
        self.build = build;
        Ok(b)
    }
}

impl Core {
    /// Recomputes the fetch context after a change of CS, CR0, CR3, CR4 or CPL.
    #[cold]
    fn refresh_fetch_context(&mut self) {
        let cs = self.sregs.seg[SegReg::Cs as usize];
        self.fetch_base = cs.base;
        self.fetch_limit = cs.limit;
        self.fetch_code32 = self.code32();
        self.fetch_page = u32::MAX;
        self.fetch_dirty = false;
        self.fetch_epoch += 1;
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::code_asm::*;

    /// A processor in flat 32-bit ring 0 with `code` at 0x1000.
    fn cpu_with(code: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Cpu {
        let mut a = CodeAssembler::new(32).unwrap();
        code(&mut a).unwrap();
        let bytes = a.assemble(0x1000).unwrap();
        let mut mem = PhysMem::new(2 << 20).unwrap();
        mem.load(PhysAddr(0x1000), &bytes).unwrap();
        let mut cpu = Cpu::new(CpuModel::yonah(), mem);
        cpu.enter_flat32(0x1000, 0);
        cpu.state_changed();
        cpu
    }

    #[test]
    fn a_block_goes_on_past_a_fast_jcc_and_stops_before_a_generic_instruction() {
        let mut cpu = cpu_with(|a| {
            let mut out = a.create_label();
            a.mov(eax, 1u32)?;
            a.cmp(eax, 3u32)?;
            a.je(out)?; // fast Jcc: the block goes on
            a.inc(eax)?;
            a.test(al, 1)?; // no fast form: the next block starts here
            a.set_label(&mut out)?;
            a.jmp(out)
        });
        let b = cpu.fetch_block().unwrap();
        assert_eq!((b.count, b.all_fast), (4, true));
        // The generic instruction and the JMP after it.
        cpu.core.regs.eip = 0x1000 + u32::from(b.span);
        let b = cpu.fetch_block().unwrap();
        assert_eq!((b.count, b.all_fast), (2, false));
    }

    #[test]
    fn a_block_that_starts_with_a_generic_instruction_takes_what_follows() {
        let mut cpu = cpu_with(|a| {
            let mut end = a.create_label();
            a.test(al, 1)?;
            a.mov(eax, 1u32)?;
            a.set_label(&mut end)?;
            a.jmp(end)
        });
        let b = cpu.fetch_block().unwrap();
        assert_eq!((b.count, b.all_fast), (3, false));
    }
}
