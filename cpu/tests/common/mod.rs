//! Shared helpers for the CPU integration tests: assemble with iced `code_asm`, run flat.

#![allow(dead_code)]

use iced_x86::code_asm::CodeAssembler;
use vtx32_cpu::{Cpu, CpuModel, NoPorts, RunLimits, StopReason};
use vtx32_mmu::{PhysAddr, PhysMem};

/// EFLAGS status bits, for assertions.
pub const CF: u32 = 1;
pub const PF: u32 = 1 << 2;
pub const AF: u32 = 1 << 4;
pub const ZF: u32 = 1 << 6;
pub const SF: u32 = 1 << 7;
pub const OF: u32 = 1 << 11;
pub const STATUS: u32 = CF | PF | AF | ZF | SF | OF;

/// Where test code is placed.
pub const CODE: u32 = 0x1000;

/// Assembles `build` at `CODE` (32-bit), appends HLT, runs it in flat ring-0 protected
/// mode and returns the processor and the stop reason.
pub fn run32(build: impl FnOnce(&mut CodeAssembler)) -> (Cpu, StopReason) {
    let mut a = CodeAssembler::new(32).unwrap();
    build(&mut a);
    a.hlt().unwrap();
    let bytes = a.assemble(u64::from(CODE)).unwrap();
    let mut mem = PhysMem::new(4 << 20).unwrap();
    mem.load(PhysAddr(u64::from(CODE)), &bytes).unwrap();
    let mut cpu = Cpu::new(CpuModel::yonah(), mem);
    cpu.enter_flat32(CODE, 0);
    cpu.core.regs.gpr[4] = 0x8000;
    cpu.stop_on_exception = true;
    let stop = cpu.run(
        &mut NoPorts,
        RunLimits {
            max_instructions: 1_000_000,
        },
    );
    (cpu, stop)
}

/// Runs `build` like [`run32`] and asserts that it reached its final HLT.
pub fn run(build: impl FnOnce(&mut CodeAssembler)) -> Cpu {
    let (cpu, stop) = run32(build);
    assert_eq!(stop, StopReason::Halted);
    cpu
}

/// General register `r`.
pub fn g(c: &Cpu, r: usize) -> u32 {
    c.core.regs.gpr[r]
}

/// The six status flags.
pub fn fl(c: &Cpu) -> u32 {
    c.core.regs.eflags.bits() & STATUS
}

/// A doubleword of physical memory.
pub fn m32(c: &Cpu, a: u32) -> u32 {
    c.core.mem.read_u32(PhysAddr(u64::from(a)))
}
