//! Shared helpers for the CPU integration tests: assemble with iced `code_asm`, run flat.

#![allow(dead_code)]

use iced_x86::code_asm::CodeAssembler;
use vtx32_cpu::{Cpu, CpuModel, NoPorts, PortIo, RunLimits, StopReason};
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

/// Assembles `build` (+ HLT) at `CODE` (32-bit), loads `data` at each given address, lets
/// `setup` adjust the processor, and runs it in flat ring-0 protected mode with `io`,
/// exceptions reported rather than delivered.
pub fn run_with(
    build: impl FnOnce(&mut CodeAssembler),
    data: &[(u32, &[u8])],
    setup: impl FnOnce(&mut Cpu),
    io: &mut dyn PortIo,
) -> (Cpu, StopReason) {
    let mut a = CodeAssembler::new(32).unwrap();
    build(&mut a);
    a.hlt().unwrap();
    let bytes = a.assemble(u64::from(CODE)).unwrap();
    let mut mem = PhysMem::new(4 << 20).unwrap();
    mem.load(PhysAddr(u64::from(CODE)), &bytes).unwrap();
    for (addr, d) in data {
        mem.load(PhysAddr(u64::from(*addr)), d).unwrap();
    }
    let mut cpu = Cpu::new(CpuModel::yonah(), mem);
    cpu.enter_flat32(CODE, 0);
    cpu.core.regs.gpr[4] = 0x8000;
    cpu.stop_on_exception = true;
    setup(&mut cpu);
    cpu.state_changed();
    let stop = cpu.run(
        io,
        RunLimits {
            max_instructions: 1_000_000,
        },
    );
    (cpu, stop)
}

/// [`run_with`] without data, set-up or ports.
pub fn run32(build: impl FnOnce(&mut CodeAssembler)) -> (Cpu, StopReason) {
    run_with(build, &[], |_| {}, &mut NoPorts)
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
