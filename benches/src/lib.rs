//! Shared workloads for the vtx32 benchmarks: guest programs built with iced `code_asm`.

use iced_x86::code_asm::*;
use vtx32_cpu::{Cpu, CpuModel, NoPorts, RunLimits, StopReason};
use vtx32_mmu::{PhysAddr, PhysMem};

/// Load address of the benchmark code.
pub const CODE: u32 = 0x10_0000;
/// Data area the loop reads and writes.
pub const DATA: u32 = 0x20_0000;

/// The 32-bit protected-mode ALU loop (paging off): integer ops, loads and stores, a
/// conditional branch per iteration. 16 instructions per iteration, forever (the run is
/// bounded by the instruction limit).
pub fn alu_loop_program() -> Vec<u8> {
    let mut a = CodeAssembler::new(32).expect("bitness");
    let mut top = a.create_label();
    let mut skip = a.create_label();
    (|| -> Result<(), IcedError> {
        a.mov(esi, DATA)?;
        a.mov(edi, DATA + 0x100)?;
        a.xor(ecx, ecx)?;
        a.mov(ebx, 0x1234_5678)?;
        a.set_label(&mut top)?;
        a.mov(eax, dword_ptr(esi + ecx * 4))?; // load
        a.add(eax, ebx)?;
        a.xor(edx, eax)?;
        a.shl(ebx, 1)?;
        a.adc(ebx, 0)?;
        a.mov(dword_ptr(edi + ecx * 4), edx)?; // store
        a.lea(ebp, dword_ptr(eax + edx * 2 + 3))?;
        a.sub(ebp, ecx)?;
        a.and(ebp, 0xFF)?;
        a.cmp(ebp, 0x80)?;
        a.jb(skip)?; // data-dependent branch
        a.inc(edx)?;
        a.set_label(&mut skip)?;
        a.inc(ecx)?;
        a.and(ecx, 0x3F)?;
        a.jmp(top)?;
        Ok(())
    })()
    .expect("assemble");
    a.assemble(u64::from(CODE)).expect("assemble")
}

/// A processor in flat 32-bit ring 0 with `program` loaded at [`CODE`].
pub fn flat_cpu(program: &[u8]) -> Cpu {
    let mut mem = PhysMem::new(16 << 20).expect("ram");
    mem.load(PhysAddr(u64::from(CODE)), program).expect("load");
    let mut cpu = Cpu::new(CpuModel::yonah(), mem);
    cpu.enter_flat32(CODE, 0);
    cpu.core.regs.gpr[4] = 0x8_0000;
    cpu
}

/// Runs `n` more instructions.
pub fn run_instructions(cpu: &mut Cpu, n: u64) {
    let target = cpu.core.instructions + n;
    let stop = cpu.run(
        &mut NoPorts,
        RunLimits {
            max_instructions: target,
        },
    );
    assert_eq!(stop, StopReason::InstructionLimit);
}
