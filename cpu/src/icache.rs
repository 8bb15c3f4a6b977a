//! Decoded-block cache: decode once per physical location (and code size).
//!
//! A block is a run of instructions decoded from one page, ending at the first control
//! transfer, after at most [`MAX_BLOCK_INSNS`] instructions, or before it would span more
//! than two 256-byte lines. Blocks live in an arena and are found through a direct-mapped
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
    /// What runs the instruction: a fast form (see `exec/fast.rs`) or `fast::generic`,
    /// which calls `handler` with the iced instruction.
    pub exec: Fast,
    pub ops: Operands,
    pub insn: Instruction,
    pub handler: Handler,
    /// Cycles retired by this instruction (string instructions: per iteration).
    pub cycles: u16,
    pub len: u8,
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
}

impl BlockRef {
    pub const EMPTY: BlockRef = BlockRef {
        tag: u64::MAX,
        start: 0,
        count: 0,
        span: 0,
        gen: [0; 2],
    };
}

pub(crate) struct BlockCache {
    table: Vec<BlockRef>,
    arena: Vec<Decoded>,
}

impl BlockCache {
    pub fn new() -> Self {
        Self {
            table: vec![BlockRef::EMPTY; TABLE],
            arena: Vec::with_capacity(ARENA),
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
        let start = b.start as usize;
        self.arena
            .get(start..start + n.min(b.count as usize))
            .unwrap_or(&[])
    }

    /// Stores a freshly decoded block and returns its reference. `cache` = false keeps it
    /// out of the lookup table (instructions that cross a page).
    pub fn insert(&mut self, pa: u64, mut b: BlockRef, insns: &[Decoded], cache: bool) -> BlockRef {
        if self.arena.len() + insns.len() > ARENA {
            self.flush();
        }
        b.start = self.arena.len() as u32;
        b.count = insns.len() as u16;
        self.arena.extend_from_slice(insns);
        if cache {
            self.table[Self::index(pa)] = b;
        } else {
            b.tag = u64::MAX;
        }
        b
    }

    /// Drops every block.
    pub fn flush(&mut self) {
        self.table.fill(BlockRef::EMPTY);
        self.arena.clear();
    }
}
