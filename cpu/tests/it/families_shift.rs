//! Shift and rotate family: hand-computed results and flags (SDM Vol. 2 SAL/SAR/SHL/SHR,
//! RCL/RCR/ROL/ROR, SHLD, SHRD).

use crate::common;
use common::*;
use iced_x86::code_asm::*;
use vtx32_cpu::{Cpu, StopReason};

fn ra(c: &Cpu) -> u32 {
    c.core.regs.gpr[0]
}

/// The status flags, masked to `which`.
fn fl(c: &Cpu, which: u32) -> u32 {
    c.core.regs.eflags.bits() & which
}

#[test]
fn shl_by_one() {
    let c = run(|a| {
        a.mov(eax, 0x8000_0001u32 as i32).unwrap();
        a.shl(eax, 1).unwrap();
    });
    assert_eq!(ra(&c), 2);
    // CF = old MSB; OF = MSB(result) XOR CF = 1; PF: 0x02 has one bit.
    assert_eq!(fl(&c, CF | OF | ZF | SF | PF), CF | OF);
}

#[test]
fn shr_by_one_and_by_cl() {
    let c = run(|a| {
        a.mov(eax, 0x8000_0001u32 as i32).unwrap();
        a.shr(eax, 1).unwrap();
    });
    assert_eq!(ra(&c), 0x4000_0000);
    // OF = MSB of the original operand; PF of 0x00 is even.
    assert_eq!(fl(&c, CF | OF | ZF | SF | PF), CF | OF | PF);

    let c = run(|a| {
        a.mov(eax, 0x0000_0F00).unwrap();
        a.mov(cl, 9).unwrap();
        a.shr(eax, cl).unwrap();
    });
    // 0xF00 >> 9 = 7; last bit out is bit 8 = 1.
    assert_eq!(ra(&c), 7);
    assert_eq!(fl(&c, CF | ZF | SF | PF), CF);
}

#[test]
fn sar_byte() {
    let c = run(|a| {
        a.mov(eax, 0x1234_5681).unwrap();
        a.sar(al, 1).unwrap();
    });
    assert_eq!(ra(&c), 0x1234_56C0);
    // OF = 0 for SAR by one; 0xC0 has two bits: PF = 1.
    assert_eq!(fl(&c, CF | OF | ZF | SF | PF), CF | SF | PF);

    let c = run(|a| {
        a.mov(eax, 0x8000).unwrap();
        a.mov(cl, 31).unwrap();
        a.sar(ax, cl).unwrap();
    });
    assert_eq!(ra(&c), 0xFFFF);
    assert_eq!(fl(&c, CF | ZF | SF | PF), CF | SF | PF);
}

#[test]
fn count_zero_changes_nothing() {
    let c = run(|a| {
        a.mov(eax, 5).unwrap();
        a.mov(dword_ptr(0x3000u32), 0x8000_0000u32 as i32).unwrap();
        a.cmp(eax, 5).unwrap(); // ZF = 1, PF = 1, CF = 0
        a.stc().unwrap();
        a.mov(ecx, 0x120).unwrap(); // CL = 0x20: masked to 0
        a.shl(eax, cl).unwrap();
        a.shr(eax, cl).unwrap();
        a.sar(eax, cl).unwrap();
        a.rol(eax, cl).unwrap();
        a.rcr(dword_ptr(0x3000u32), cl).unwrap();
        a.shld(eax, ebx, cl).unwrap();
        a.shrd(dword_ptr(0x3000u32), ebx, 0x40).unwrap();
    });
    assert_eq!(ra(&c), 5);
    assert_eq!(
        c.core.mem.read_u32(vtx32_mmu::PhysAddr(0x3000)),
        0x8000_0000
    );
    assert_eq!(fl(&c, STATUS), ZF | PF | CF);
}

#[test]
fn rcl_byte_count_is_modulo_9() {
    // Count 9: the 9-bit rotation is complete; AL and CF unchanged.
    let c = run(|a| {
        a.mov(eax, 0x5A).unwrap();
        a.mov(cl, 9).unwrap();
        a.stc().unwrap();
        a.rcl(al, cl).unwrap();
    });
    assert_eq!(ra(&c), 0x5A);
    assert_eq!(fl(&c, CF), CF);

    // Count 10 = 1 (mod 9): CF:AL = 1:0x5A -> AL = 0xB5, CF = 0.
    let c = run(|a| {
        a.mov(eax, 0x5A).unwrap();
        a.mov(cl, 10).unwrap();
        a.stc().unwrap();
        a.rcl(al, cl).unwrap();
    });
    assert_eq!(ra(&c), 0xB5);
    assert_eq!(fl(&c, CF), 0);

    // Count 0x29 is masked to 9.
    let c = run(|a| {
        a.mov(eax, 0x81).unwrap();
        a.mov(cl, 0x29).unwrap();
        a.clc().unwrap();
        a.rcl(al, cl).unwrap();
    });
    assert_eq!(ra(&c), 0x81);
    assert_eq!(fl(&c, CF), 0);
}

#[test]
fn rcl_rcr_word_and_dword() {
    // 16-bit count 18 = 1 (mod 17).
    let c = run(|a| {
        a.mov(eax, 0x8001).unwrap();
        a.mov(cl, 18).unwrap();
        a.clc().unwrap();
        a.rcl(ax, cl).unwrap();
    });
    assert_eq!(ra(&c), 0x0002);
    assert_eq!(fl(&c, CF), CF);

    let c = run(|a| {
        a.mov(eax, 0x8000_0000u32 as i32).unwrap();
        a.clc().unwrap();
        a.rcl(eax, 1).unwrap();
    });
    assert_eq!(ra(&c), 0);
    assert_eq!(fl(&c, CF | OF), CF | OF);

    // RCR by one: AL = 0x01, CF = 1 -> AL = 0x80, CF = 1, OF = MSB(DEST) XOR CF(before) = 1.
    let c = run(|a| {
        a.mov(eax, 0x01).unwrap();
        a.stc().unwrap();
        a.rcr(al, 1).unwrap();
    });
    assert_eq!(ra(&c), 0x80);
    assert_eq!(fl(&c, CF | OF), CF | OF);

    // RCR r32 by 4: CF:EAX = 0:0x0000_0018 -> EAX = 0x0000_0001, CF = bit 3 = 1;
    // the zero CF enters bit 28.
    let c = run(|a| {
        a.mov(eax, 0x18).unwrap();
        a.clc().unwrap();
        a.rcr(eax, 4).unwrap();
    });
    assert_eq!(ra(&c), 0x1);
    assert_eq!(fl(&c, CF), CF);
}

#[test]
fn rotates_change_only_cf_and_of() {
    let c = run(|a| {
        a.mov(eax, 0x81).unwrap();
        a.cmp(ecx, ecx).unwrap(); // ZF = PF = 1, SF = 0
        a.rol(al, 1).unwrap();
    });
    assert_eq!(ra(&c), 0x03);
    // CF = LSB(result) = 1; OF = MSB(result) XOR CF = 1.
    assert_eq!(fl(&c, STATUS), ZF | PF | CF | OF);

    let c = run(|a| {
        a.mov(eax, 1).unwrap();
        a.ror(eax, 1).unwrap();
    });
    assert_eq!(ra(&c), 0x8000_0000);
    // CF = MSB(result); OF = XOR of the two top bits = 1.
    assert_eq!(fl(&c, CF | OF), CF | OF);

    // ROL r8 by CL = 8: the value is unchanged but CF = LSB and OF (Intel: first-step
    // formula, MSB XOR bit 6 = 1) are updated.
    let c = run(|a| {
        a.mov(eax, 0x81).unwrap();
        a.mov(cl, 8).unwrap();
        a.clc().unwrap();
        a.rol(al, cl).unwrap();
    });
    assert_eq!(ra(&c), 0x81);
    assert_eq!(fl(&c, CF | OF), CF | OF);

    let c = run(|a| {
        a.mov(eax, 0x1234_5678).unwrap();
        a.ror(ax, 4).unwrap();
    });
    assert_eq!(ra(&c), 0x1234_8567);
    assert_eq!(fl(&c, CF), CF);
}

#[test]
fn shl_past_the_width() {
    let c = run(|a| {
        a.mov(eax, 0xFF).unwrap();
        a.mov(cl, 8).unwrap();
        a.shl(al, cl).unwrap();
    });
    assert_eq!(ra(&c), 0);
    // Last bit out is bit 0 = 1.
    assert_eq!(fl(&c, CF | ZF | SF | PF), CF | ZF | PF);
}

#[test]
fn shl_memory_operand() {
    let c = run(|a| {
        a.mov(ebx, 0x3000).unwrap();
        a.mov(dword_ptr(ebx), 0x4000_0001).unwrap();
        a.mov(cl, 2).unwrap();
        a.shl(dword_ptr(ebx), cl).unwrap();
    });
    assert_eq!(
        c.core.mem.read_u32(vtx32_mmu::PhysAddr(0x3000)),
        0x0000_0004
    );
    assert_eq!(fl(&c, CF | ZF | SF | PF), CF);
}

#[test]
fn shld_shrd_dword() {
    let c = run(|a| {
        a.mov(eax, 0x1234_5678).unwrap();
        a.mov(ebx, 0x9ABC_DEF0u32 as i32).unwrap();
        a.shld(eax, ebx, 8).unwrap();
    });
    assert_eq!(ra(&c), 0x3456_789A);
    // CF = bit 24 of the original = 0; 0x9A has four bits: PF = 1.
    assert_eq!(fl(&c, CF | ZF | SF | PF), PF);

    let c = run(|a| {
        a.mov(eax, 0x1234_5678).unwrap();
        a.mov(ebx, 0x9ABC_DEF1u32 as i32).unwrap();
        a.mov(cl, 4).unwrap();
        a.shrd(eax, ebx, cl).unwrap();
    });
    assert_eq!(ra(&c), 0x1123_4567);
    // CF = bit 3 of the original = 1; 0x67 has five bits: PF = 0.
    assert_eq!(fl(&c, CF | ZF | SF | PF), CF);

    // By one: OF reports a sign change.
    let c = run(|a| {
        a.mov(eax, 0x4000_0000).unwrap();
        a.mov(ebx, 0).unwrap();
        a.shld(eax, ebx, 1).unwrap();
    });
    assert_eq!(ra(&c), 0x8000_0000);
    assert_eq!(fl(&c, CF | OF | ZF | SF | PF), OF | SF | PF);
}

#[test]
fn shld_shrd_word_large_count() {
    // 16-bit count 20: DEST:SRC:DEST = 0x1234_5678_1234 shifted left by 20; the top 16 bits
    // of the 48-bit value are bits 47-20 of the original = 0x6781; CF = bit 28 = 1.
    let c = run(|a| {
        a.mov(eax, 0x1234).unwrap();
        a.mov(ebx, 0x5678).unwrap();
        a.mov(cl, 20).unwrap();
        a.shld(ax, bx, cl).unwrap();
    });
    assert_eq!(ra(&c), 0x6781);
    assert_eq!(fl(&c, CF), CF);

    // SHRD: DEST:SRC:DEST with DEST lowest, shifted right by 20: bits 35-20 = 0x4567;
    // CF = bit 19 = 1 (0x1234_5678_1234: bits 19-16 are 8).
    let c = run(|a| {
        a.mov(eax, 0x1234).unwrap();
        a.mov(ebx, 0x5678).unwrap();
        a.mov(cl, 20).unwrap();
        a.shrd(ax, bx, cl).unwrap();
    });
    assert_eq!(ra(&c), 0x4567);
    assert_eq!(fl(&c, CF), CF);

    // Count 16 exactly: SHLD ax, bx, 16 gives SRC.
    let c = run(|a| {
        a.mov(eax, 0xAAAA_1234u32 as i32).unwrap();
        a.mov(ebx, 0x5678).unwrap();
        a.shld(ax, bx, 16).unwrap();
    });
    assert_eq!(ra(&c), 0xAAAA_5678);
    // CF = bit 0 of the original destination = 0.
    assert_eq!(fl(&c, CF), 0);
}

#[test]
fn undefined_flags_follow_intel() {
    // OF for a count other than 1: the count-1 formula on the first one-bit step.
    // SHL 0x4000_0000 by 2: MSB(DEST) XOR bit 30 = 1 (the final result gives 0).
    let c = run(|a| {
        a.mov(eax, 0x4000_0000).unwrap();
        a.mov(cl, 2).unwrap();
        a.shl(eax, cl).unwrap();
    });
    assert_eq!(ra(&c), 0);
    assert_eq!(fl(&c, STATUS), CF | OF | ZF | PF);

    // SHR by 4 of 0x8000_0000: OF = MSB of the original = 1; AF cleared.
    let c = run(|a| {
        a.mov(eax, 0x8000_0000u32 as i32).unwrap();
        a.mov(edx, 0x10).unwrap();
        a.add(dl, 0x08).unwrap(); // 0x10 + 0x08: AF = 0
        a.add(dl, 0x08).unwrap(); // 0x18 + 0x08 = 0x20: AF = 1
        a.shr(eax, 4).unwrap();
    });
    assert_eq!(ra(&c), 0x0800_0000);
    assert_eq!(fl(&c, STATUS), OF | PF);

    // ROL r8 by an immediate other than 1 keeps OF; by CL it is computed.
    let c = run(|a| {
        a.mov(eax, 0x7F).unwrap();
        a.add(al, 1).unwrap(); // 0x7F + 1: OF = 1
        a.mov(eax, 0x40).unwrap();
        a.rol(al, 2).unwrap();
    });
    assert_eq!(ra(&c), 0x01);
    assert_eq!(fl(&c, CF | OF), CF | OF);
    let c = run(|a| {
        a.mov(eax, 0x7F).unwrap();
        a.add(al, 1).unwrap(); // OF = 1
        a.mov(eax, 0x20).unwrap();
        a.mov(cl, 2).unwrap();
        a.rol(al, cl).unwrap(); // first step: MSB 0 XOR bit 6 0 = 0
    });
    assert_eq!(ra(&c), 0x80);
    assert_eq!(fl(&c, CF | OF), 0);

    // RCR r8 by 9 (a full rotation): no flag changes, OF included.
    let c = run(|a| {
        a.mov(eax, 0x7F).unwrap();
        a.add(al, 1).unwrap(); // OF = 1, SF = 1, AF = 1
        a.mov(eax, 0x55).unwrap();
        a.mov(cl, 9).unwrap();
        a.rcr(al, cl).unwrap();
    });
    assert_eq!(ra(&c), 0x55);
    assert_eq!(fl(&c, STATUS), OF | SF | AF);
}

#[test]
fn memory_destination_is_accessed_for_writing_even_with_count_zero() {
    // DS read-only: SHL [mem], CL with CL = 0 still faults (#GP(0)), as the read-modify-write
    // access does on Intel; nothing changes.
    use iced_x86::code_asm::CodeAssembler;
    use vtx32_cpu::{CpuModel, NoPorts, RunLimits, SegAttrs, SegReg};
    use vtx32_mmu::{PhysAddr, PhysMem};
    let mut a = CodeAssembler::new(32).unwrap();
    a.mov(ecx, 0).unwrap();
    a.shl(dword_ptr(0x3000u32), cl).unwrap();
    a.hlt().unwrap();
    let bytes = a.assemble(u64::from(common::CODE)).unwrap();
    let mut mem = PhysMem::new(4 << 20).unwrap();
    mem.load(PhysAddr(u64::from(common::CODE)), &bytes).unwrap();
    let mut cpu = Cpu::new(CpuModel::yonah(), mem);
    cpu.enter_flat32(common::CODE, 0);
    cpu.stop_on_exception = true;
    let dseg = &mut cpu.core.sregs.seg[SegReg::Ds as usize];
    dseg.attrs = dseg.attrs.difference(SegAttrs::RW);
    cpu.state_changed();
    let stop = cpu.run(
        &mut NoPorts,
        RunLimits {
            max_instructions: 100,
        },
    );
    match stop {
        StopReason::Exception(e) => assert_eq!((e.vector, e.error_code()), (13, Some(0))),
        other => panic!("{other:?}"),
    }
    assert_eq!(cpu.core.regs.eip, common::CODE + 5);
}
