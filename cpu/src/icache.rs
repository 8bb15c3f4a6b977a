//! Decoded-block cache: decode once per physical location (and code size).
//!
//! A block is a run of instructions decoded from one page, ending at the first control
//! transfer (in 32-bit code a Jcc of fast form does not end it when a fast form follows:
//! taken, it leaves the block), after at most [`MAX_BLOCK_INSNS`] instructions, or before
//! it would span more than two 256-byte lines. Blocks live in an arena and are found through a direct-mapped
//! table keyed by physical address. Each block records the generations of the (at most two)
//! lines it covers (see `vtx32_mmu::PhysMem::mark_code`): a write to either line changes a
//! generation and the block misses at its next lookup; a write to any code line also ends
//! the running block after the writing instruction (self-modifying code).

use crate::exec::fast::{Fast, Operands};
use crate::exec::Handler;
use iced_x86::Instruction;

/// Most instructions in one block.
pub(crate) const MAX_BLOCK_INSNS: usize = 48;
const TABLE: usize = 1 << 14;
/// Arena capacity; the whole cache is flushed when it fills.
const ARENA: usize = 1 << 17;

/// One decoded instruction with everything the executor needs.
#[derive(Clone, Copy)]
pub(crate) struct Decoded {
    /// The fast form that runs the instruction (see `exec/fast.rs`), if `generic` is clear.
    pub exec: Fast,
    /// No fast form: the run loop calls `handler` with the iced instruction.
    pub generic: bool,
    pub ops: Operands,
    pub insn: Instruction,
    pub handler: Handler,
    /// Cycles retired by this instruction (string instructions: per iteration).
    pub cycles: u16,
    pub len: u8,
    /// Position in its block (the fast-block loop reads it on its exits only).
    pub index: u8,
}

/// A cached block: where its instructions are and what it was decoded from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlockRef {
    /// Physical address | code-size bit; `u64::MAX` = empty or not cacheable.
    pub tag: u64,
    /// First instruction in the arena.
    pub start: u32,
    pub count: u16,
    /// Bytes from the first instruction's first byte to the last one's last byte.
    pub span: u16,
    /// Generations of the first and last 256-byte line covered.
    pub gen: [u32; 2],
    /// Block number, the index of its successor cache (see [`Succ`]).
    pub id: u32,
    /// Sum of the cycles of all its instructions.
    pub cycles: u32,
    /// Every instruction has a fast form (the run loop's lean path applies).
    pub all_fast: bool,
}

impl BlockRef {
    pub const EMPTY: BlockRef = BlockRef {
        tag: u64::MAX,
        start: 0,
        count: 0,
        span: 0,
        gen: [0; 2],
        id: 0,
        cycles: 0,
        all_fast: false,
    };
}

/// A remembered successor of a block (block chaining): the block that the lookup at
/// `eip` returned, valid while nothing it depended on can have changed. The lookup result
/// depends on the fetch context (CS, paging controls: any change goes through
/// `fetch_dirty`), the code-line generations and A20 (the memory bus's code epoch), the
/// cache contents (flushes) and the one-entry fetch translation (`lin_page`, `pa_page`:
/// the lookup path reuses it without translating only for the same page, so the chain is
/// followed only then). `epoch` is the sum of the CPU's and the memory bus's counters at
/// the time of the lookup; both only grow, so an unchanged sum means neither changed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Succ {
    pub eip: u32,
    pub lin_page: u32,
    pub pa_page: u64,
    pub epoch: u64,
    pub b: BlockRef,
}

impl Succ {
    const EMPTY: Succ = Succ {
        eip: 0,
        lin_page: u32::MAX,
        pa_page: u64::MAX,
        epoch: u64::MAX,
        b: BlockRef::EMPTY,
    };
}

pub(crate) struct BlockCache {
    table: Vec<BlockRef>,
    arena: Vec<Decoded>,
    /// Per block number: the last two successors seen.
    succ: Vec<[Succ; 2]>,
}

impl BlockCache {
    pub fn new() -> Self {
        Self {
            table: vec![BlockRef::EMPTY; TABLE],
            arena: Vec::with_capacity(ARENA),
            succ: Vec::new(),
        }
    }

    /// Tag of a block starting at `pa` decoded with the given code size.
    #[inline(always)]
    pub fn tag(pa: u64, code32: bool) -> u64 {
        pa | (u64::from(code32) << 40)
    }

    #[inline(always)]
    fn index(pa: u64) -> usize {
        ((pa ^ (pa >> 14)) as usize) & (TABLE - 1)
    }

    /// The table entry for `pa` (it may hold another block: compare the tag).
    #[inline(always)]
    pub fn lookup(&self, pa: u64) -> BlockRef {
        self.table[Self::index(pa)]
    }

    /// The decoded instruction at arena index `k`.
    #[inline(always)]
    pub fn insn(&self, k: usize) -> &Decoded {
        &self.arena[k]
    }

    /// The first `n` instructions of block `b` (`n` <= its count).
    #[inline(always)]
    pub fn insns(&self, b: BlockRef, n: usize) -> &[Decoded] {
        let all = self.block_insns(&b);
        &all[..n.min(all.len())]
    }

    /// All the instructions of block `b`.
    #[inline(always)]
    pub fn block_insns(&self, b: &BlockRef) -> &[Decoded] {
        let start = b.start as usize;
        self.arena
            .get(start..start + b.count as usize)
            .unwrap_or(&[])
    }

    /// The remembered successor of block `id` that `matches` (none for an unknown number).
    #[inline(always)]
    pub fn find_succ(&self, id: u32, matches: impl Fn(&Succ) -> bool) -> Option<&Succ> {
        self.succ.get(id as usize)?.iter().find(|s| matches(s))
    }

    /// Remembers `s` as a successor of block `id` (most recent first).
    #[inline]
    pub fn add_succ(&mut self, id: u32, s: Succ) {
        if let Some(e) = self.succ.get_mut(id as usize) {
            e[1] = e[0];
            e[0] = s;
        }
    }

    /// Stores a freshly decoded block and returns its reference. `cache` = false keeps it
    /// out of the lookup table (instructions that cross a page). Returns whether the cache
    /// was flushed to make room (every earlier `BlockRef` is then invalid).
    pub fn insert(
        &mut self,
        pa: u64,
        mut b: BlockRef,
        insns: &[Decoded],
        cache: bool,
    ) -> (BlockRef, bool) {
        let flushed = self.arena.len() + insns.len() > ARENA;
        if flushed {
            self.flush();
        }
        b.start = self.arena.len() as u32;
        b.count = insns.len() as u16;
        b.id = self.succ.len() as u32;
        b.cycles = insns.iter().map(|d| u32::from(d.cycles)).sum();
        b.all_fast = insns.iter().all(|d| !d.generic);
        self.succ.push([Succ::EMPTY; 2]);
        self.arena.extend_from_slice(insns);
        if cache {
            self.table[Self::index(pa)] = b;
        } else {
            b.tag = u64::MAX;
        }
        (b, flushed)
    }

    /// Drops every block.
    pub fn flush(&mut self) {
        self.table.fill(BlockRef::EMPTY);
        self.arena.clear();
        self.succ.clear();
    }
}
