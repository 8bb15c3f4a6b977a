//! Decoded-instruction cache: decode once per physical location (and code size).
//!
//! Direct-mapped on the physical address. Each entry carries the generation of its 256-byte
//! line (see `vtx32_mmu::PhysMem::mark_code`); a write to the line changes the generation
//! and the entry misses, so self-modifying code is seen at the next fetch.

use crate::exec::Handler;
use iced_x86::Instruction;

const ENTRIES: usize = 1 << 15;

/// One decoded instruction with everything the executor needs.
#[derive(Clone, Copy)]
pub(crate) struct Decoded {
    pub insn: Instruction,
    pub handler: Handler,
    /// Cycles retired by this instruction (string instructions: per iteration).
    pub cycles: u16,
    pub len: u8,
}

#[derive(Clone, Copy)]
pub(crate) struct Entry {
    /// Physical address | (code size 32 ? 1 << 32 : 0); `u64::MAX` = empty.
    pub tag: u64,
    pub gen: u32,
    pub d: Decoded,
}

pub(crate) struct ICache {
    entries: Vec<Entry>,
}

impl ICache {
    pub fn new(empty: Decoded) -> Self {
        Self {
            entries: vec![
                Entry {
                    tag: u64::MAX,
                    gen: 0,
                    d: empty
                };
                ENTRIES
            ],
        }
    }

    #[inline(always)]
    pub fn tag(pa: u64, code32: bool) -> u64 {
        pa | (u64::from(code32) << 40)
    }

    #[inline(always)]
    pub fn slot(&mut self, pa: u64) -> &mut Entry {
        let i = (pa as usize) & (ENTRIES - 1);
        // SAFETY-free: the mask keeps the index in range.
        &mut self.entries[i]
    }

    pub fn flush(&mut self) {
        for e in &mut self.entries {
            e.tag = u64::MAX;
        }
    }
}
