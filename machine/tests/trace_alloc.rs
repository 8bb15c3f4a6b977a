//! Tracing must not allocate per line: a counting global allocator watches a traced run.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use iced_x86::code_asm::*;
use vtx32_machine::roms::rom16;
use vtx32_machine::{Limits, Stop, Tracer};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn traced_run_does_not_allocate_per_line() {
    // A loop with memory, flags and branch changes on every line.
    let rom = rom16(|a, _| {
        let mut top = a.create_label();
        a.set_label(&mut top)?;
        a.inc(ax)?;
        a.mov(word_ptr(0x100), ax)?;
        a.add(bx, word_ptr(0x100))?;
        a.jmp(top)
    })
    .unwrap();
    let (mut m, _c) = common::machine();
    m.load_rom(&rom).unwrap();
    let mut t = Tracer::new(Box::new(std::io::sink()));
    // Warm up: iced builds its decoder and formatter tables lazily, once per process.
    m.run_observed(
        Limits {
            max_instructions: Some(1000),
            slice: 1000,
        },
        &mut |_| {},
        Some(&mut t),
    );
    let n = 200_000;
    let before = ALLOCS.load(Ordering::Relaxed);
    let out = m.run_observed(
        Limits {
            max_instructions: Some(1000 + n),
            slice: 50_000,
        },
        &mut |_| {},
        Some(&mut t),
    );
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(out.stop, Stop::InstructionLimit);
    assert_eq!(t.lines(), 1000 + n);
    assert!(allocs < 10, "{allocs} allocations for {n} trace lines");
}
