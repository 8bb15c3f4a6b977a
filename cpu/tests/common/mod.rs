//! Shared helpers for the CPU integration tests: assemble with iced `code_asm`, run flat.

#![allow(dead_code)]

use iced_x86::code_asm::CodeAssembler;
use vtx32_cpu::{Cpu, CpuModel, NoPorts, RunLimits, StopReason};
use vtx32_mmu::{PhysAddr, PhysMem};

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
