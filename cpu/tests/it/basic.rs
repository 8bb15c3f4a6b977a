//! End-to-end smoke tests of the run loop and the ALU/stack/control families.

use crate::common;
use common::run32;
use iced_x86::code_asm::*;
use vtx32_cpu::{Eflags, StopReason};

#[test]
fn add_loop_and_halt() {
    let (cpu, stop) = run32(|a| {
        let mut top = a.create_label();
        a.mov(eax, 0).unwrap();
        a.mov(ecx, 10).unwrap();
        a.set_label(&mut top).unwrap();
        a.add(eax, ecx).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
    });
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(cpu.core.regs.gpr[0], 55);
    assert_eq!(cpu.core.instructions, 2 + 30 + 1);
    assert!(cpu.core.regs.eflags.contains(Eflags::ZF));
}

#[test]
fn call_push_pop_and_memory() {
    let (cpu, stop) = run32(|a| {
        let mut f = a.create_label();
        let mut end = a.create_label();
        a.mov(ebx, 0x2000).unwrap();
        a.mov(dword_ptr(ebx + 4), 0x1234_5678).unwrap();
        a.push(dword_ptr(ebx + 4)).unwrap();
        a.call(f).unwrap();
        a.pop(edx).unwrap();
        a.jmp(end).unwrap();
        a.set_label(&mut f).unwrap();
        a.mov(eax, dword_ptr(esp + 4)).unwrap();
        a.add(byte_ptr(ebx + 4), 0x10).unwrap();
        a.ret().unwrap();
        a.set_label(&mut end).unwrap();
    });
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(cpu.core.regs.gpr[0], 0x1234_5678);
    assert_eq!(cpu.core.regs.gpr[2], 0x1234_5678);
    assert_eq!(
        cpu.core.mem.read_u32(vtx32_mmu::PhysAddr(0x2004)),
        0x1234_5688
    );
    assert_eq!(cpu.core.regs.gpr[4], 0x8000);
}

#[test]
fn self_modifying_code_is_seen() {
    // The loop body's immediate is patched on the second iteration.
    let (cpu, _) = run32(|a| {
        let mut top = a.create_label();
        a.mov(ecx, 2).unwrap();
        a.xor(eax, eax).unwrap();
        a.set_label(&mut top).unwrap();
        a.add(eax, 1i32 << 8).unwrap();
        // `patch` is at CODE + 7 (mov ecx,imm32 = 5 bytes; xor eax,eax = 2 bytes).
        a.mov(byte_ptr(common::CODE + 7 + 2), 0x7F).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
    });
    // `add eax, imm32` is 05 xx xx xx xx: byte 2 is imm bits 15:8. First pass adds 0x100,
    // second adds 0x7F00.
    assert_eq!(cpu.core.regs.gpr[0], 0x100 + 0x7F00);
}

#[test]
fn divide_error_is_reported() {
    let (_, stop) = run32(|a| {
        a.xor(ecx, ecx).unwrap();
        a.div(ecx).unwrap();
    });
    match stop {
        StopReason::Exception(e) => assert!(e.vector == 0 || e.vector == 6),
        other => panic!("{other:?}"),
    }
}

#[test]
fn x87_without_an_fpu_follows_cr0_em_and_ts() {
    use vtx32_cpu::Cr0;
    let run_fninit = |bits: Cr0| {
        let mut a = iced_x86::code_asm::CodeAssembler::new(32).unwrap();
        a.fninit().unwrap();
        a.hlt().unwrap();
        let bytes = a.assemble(u64::from(common::CODE)).unwrap();
        let mut mem = vtx32_mmu::PhysMem::new(2 << 20).unwrap();
        mem.load(vtx32_mmu::PhysAddr(u64::from(common::CODE)), &bytes)
            .unwrap();
        let mut cpu = vtx32_cpu::Cpu::new(vtx32_cpu::CpuModel::yonah(), mem);
        cpu.enter_flat32(common::CODE, 0);
        cpu.core.sregs.cr0 |= bits;
        cpu.stop_on_exception = true;
        cpu.run(
            &mut vtx32_cpu::NoPorts,
            vtx32_cpu::RunLimits {
                max_instructions: 10,
            },
        )
    };
    let vector = |s: StopReason| match s {
        StopReason::Exception(e) => e.vector,
        other => panic!("{other:?}"),
    };
    assert_eq!(vector(run_fninit(Cr0::EM)), 7, "#NM with EM");
    assert_eq!(vector(run_fninit(Cr0::TS)), 7, "#NM with TS");
    assert_eq!(vector(run_fninit(Cr0::empty())), 6, "#UD without an FPU");
}
