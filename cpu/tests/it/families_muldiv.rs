//! Multiply/divide family: MUL, IMUL (all forms), DIV, IDIV (SDM Vol. 2, each page).
//! Undefined flags are checked against the documented policy (which follows an Intel host):
//! MUL/IMUL: SF PF of the low half, ZF AF cleared; DIV/IDIV: all flags kept.

use crate::common;
use common::*;
use iced_x86::code_asm::*;
use vtx32_cpu::{Cpu, StopReason};

/// Runs code that must raise #DE at its last instruction, `at` bytes from the start.
fn divide_error(at: u32, build: impl FnOnce(&mut CodeAssembler)) -> Cpu {
    let (cpu, stop) = run32(build);
    match stop {
        StopReason::Exception(e) => assert_eq!(e.vector, 0),
        other => panic!("{other:?}"),
    }
    assert_eq!(cpu.core.regs.eip, common::CODE + at);
    cpu
}

#[test]
fn mul_all_sizes() {
    // 0x80 * 2 = 0x0100: AH != 0 -> CF = OF = 1; policy: SF/PF of AL = 0x00, ZF = 0.
    let c = run(|a| {
        a.mov(eax, 0xFFFF_FF80u32 as i32).unwrap();
        a.mov(ebx, 2).unwrap();
        a.mul(bl).unwrap();
    });
    assert_eq!(g(&c, 0), 0xFFFF_0100);
    assert_eq!(fl(&c), CF | OF | PF);

    // 0x1234 * 0x10 = 0x0001_2340 -> DX = 1, AX = 0x2340.
    let c = run(|a| {
        a.mov(eax, 0xAAAA_1234u32 as i32).unwrap();
        a.mov(edx, 0xBBBB_FFFFu32 as i32).unwrap();
        a.mov(ebx, 0x10).unwrap();
        a.mul(bx).unwrap();
    });
    assert_eq!(g(&c, 0), 0xAAAA_2340);
    assert_eq!(g(&c, 2), 0xBBBB_0001);
    assert_eq!(fl(&c), CF | OF);

    // 0xFFFFFFFF^2 = 0xFFFFFFFE_00000001.
    let c = run(|a| {
        a.mov(eax, -1).unwrap();
        a.mov(ebx, -1).unwrap();
        a.mul(ebx).unwrap();
    });
    assert_eq!(g(&c, 0), 1);
    assert_eq!(g(&c, 2), 0xFFFF_FFFE);
    assert_eq!(fl(&c), CF | OF);

    // 3 * 5: EDX = 0, CF = OF = 0; PF of 0x0F is even.
    let c = run(|a| {
        a.mov(eax, 3).unwrap();
        a.mov(edx, -1).unwrap();
        a.mov(ebx, 5).unwrap();
        a.stc().unwrap();
        a.mul(ebx).unwrap();
    });
    assert_eq!(g(&c, 0), 15);
    assert_eq!(g(&c, 2), 0);
    assert_eq!(fl(&c), PF);

    // A zero product: ZF stays clear (policy).
    let c = run(|a| {
        a.mov(eax, 0).unwrap();
        a.mov(ebx, 5).unwrap();
        a.mul(ebx).unwrap();
    });
    assert_eq!(g(&c, 0), 0);
    assert_eq!(fl(&c), PF);
}

#[test]
fn imul_one_operand() {
    // -2 * 3 = -6 = 0xFFFA: fits in AL -> CF = OF = 0; SF = 1; 0xFA has six bits.
    let c = run(|a| {
        a.mov(eax, 0xFE).unwrap();
        a.mov(ebx, 3).unwrap();
        a.imul(bl).unwrap();
    });
    assert_eq!(g(&c, 0), 0xFFFA);
    assert_eq!(fl(&c), SF | PF);

    // 0x40 * 2 = 128: does not fit a signed byte.
    let c = run(|a| {
        a.mov(eax, 0x40).unwrap();
        a.mov(ebx, 2).unwrap();
        a.imul(bl).unwrap();
    });
    assert_eq!(g(&c, 0), 0x0080);
    assert_eq!(fl(&c), CF | OF | SF);

    // -1 * 0x80000000 = +2^31: EDX:EAX = 0:0x80000000, overflow.
    let c = run(|a| {
        a.mov(eax, -1).unwrap();
        a.mov(ebx, 0x8000_0000u32 as i32).unwrap();
        a.imul(ebx).unwrap();
    });
    assert_eq!(g(&c, 0), 0x8000_0000);
    assert_eq!(g(&c, 2), 0);
    assert_eq!(fl(&c), CF | OF | SF | PF);

    // 16-bit: -300 * 300 = -90000 = 0xFFFE_A070 -> DX = 0xFFFE, AX = 0xA070.
    let c = run(|a| {
        a.mov(eax, -300).unwrap();
        a.mov(ebx, 300).unwrap();
        a.mov(edx, 0).unwrap();
        a.imul(bx).unwrap();
    });
    assert_eq!(g(&c, 0), 0xFFFF_A070);
    assert_eq!(g(&c, 2), 0x0000_FFFE);
    assert_eq!(fl(&c), CF | OF | SF);
}

#[test]
fn imul_two_and_three_operands() {
    // 0x10000 * 0x10000 = 2^32: truncated to 0, overflow; ZF stays 0 (policy).
    let c = run(|a| {
        a.mov(eax, 0x10000).unwrap();
        a.mov(ebx, 0x10000).unwrap();
        a.imul_2(eax, ebx).unwrap();
    });
    assert_eq!(g(&c, 0), 0);
    assert_eq!(fl(&c), CF | OF | PF);

    // 7 * -3 = -21 = 0xFFFFFFEB.
    let c = run(|a| {
        a.mov(edx, 7).unwrap();
        a.imul_3(ecx, edx, -3).unwrap();
    });
    assert_eq!(g(&c, 1), 0xFFFF_FFEB);
    assert_eq!(fl(&c), SF | PF);

    // 16-bit: 0x0101 * 0x100 = 0x10100 -> 0x0100, overflow; upper half of EAX kept.
    let c = run(|a| {
        a.mov(eax, 0x5555_0000).unwrap();
        a.mov(ebx, 0x0101).unwrap();
        a.imul_3(ax, bx, 0x100).unwrap();
    });
    assert_eq!(g(&c, 0), 0x5555_0100);
    assert_eq!(fl(&c), CF | OF | PF);

    // Memory source, no overflow: -4 * -5 = 20.
    let c = run(|a| {
        a.mov(dword_ptr(0x3000u32), -5).unwrap();
        a.mov(esi, -4).unwrap();
        a.imul_2(esi, dword_ptr(0x3000u32)).unwrap();
    });
    assert_eq!(g(&c, 6), 20);
    assert_eq!(fl(&c), PF);
}

#[test]
fn div_and_idiv() {
    // 263 / 10 = 26 r 3; flags are kept (set by CMP: ZF PF).
    let c = run(|a| {
        a.mov(eax, 0xFFFF_0107u32 as i32).unwrap();
        a.mov(ebx, 10).unwrap();
        a.cmp(eax, eax).unwrap();
        a.div(bl).unwrap();
    });
    assert_eq!(g(&c, 0), 0xFFFF_031A);
    assert_eq!(fl(&c), ZF | PF);

    // 0x1_0000_0000 / 2 = 0x8000_0000 r 0.
    let c = run(|a| {
        a.mov(edx, 1).unwrap();
        a.mov(eax, 0).unwrap();
        a.mov(ebx, 2).unwrap();
        a.div(ebx).unwrap();
    });
    assert_eq!(g(&c, 0), 0x8000_0000);
    assert_eq!(g(&c, 2), 0);

    // 16-bit: DX:AX = 0x0001_0005 / 0x100 = 0x100 r 5.
    let c = run(|a| {
        a.mov(edx, 0x7777_0001).unwrap();
        a.mov(eax, 0x6666_0005).unwrap();
        a.mov(ebx, 0x100).unwrap();
        a.div(bx).unwrap();
    });
    assert_eq!(g(&c, 0), 0x6666_0100);
    assert_eq!(g(&c, 2), 0x7777_0005);

    // -7 / 2 = -3 r -1 (truncation toward zero; remainder has the dividend's sign).
    let c = run(|a| {
        a.mov(eax, -7).unwrap();
        a.cdq().unwrap();
        a.mov(ebx, 2).unwrap();
        a.idiv(ebx).unwrap();
    });
    assert_eq!(g(&c, 0), 0xFFFF_FFFD);
    assert_eq!(g(&c, 2), 0xFFFF_FFFF);

    // 7 / -2 = -3 r 1 (8-bit).
    let c = run(|a| {
        a.mov(eax, 7).unwrap();
        a.mov(ebx, -2).unwrap();
        a.idiv(bl).unwrap();
    });
    assert_eq!(g(&c, 0) & 0xFFFF, 0x01FD);

    // -128 / 1 = -128 fits a signed byte.
    let c = run(|a| {
        a.mov(eax, 0xFF80).unwrap();
        a.mov(ebx, 1).unwrap();
        a.idiv(bl).unwrap();
    });
    assert_eq!(g(&c, 0), 0x0080);
}

#[test]
fn divide_errors_write_nothing() {
    // DIV by zero. mov r32, imm32 = 5 bytes each.
    let c = divide_error(15, |a| {
        a.mov(eax, 0x1234).unwrap();
        a.mov(edx, 0x5678).unwrap();
        a.mov(ecx, 0).unwrap();
        a.div(ecx).unwrap();
    });
    assert_eq!((g(&c, 0), g(&c, 2)), (0x1234, 0x5678));

    // DIV quotient overflow: 0x2_0000_0000 / 2 = 2^32.
    let c = divide_error(15, |a| {
        a.mov(eax, 0).unwrap();
        a.mov(edx, 2).unwrap();
        a.mov(ebx, 2).unwrap();
        a.div(ebx).unwrap();
    });
    assert_eq!((g(&c, 0), g(&c, 2)), (0, 2));

    // 8-bit: 0x1000 / 0x10 = 0x100 does not fit AL.
    let c = divide_error(10, |a| {
        a.mov(eax, 0x1000).unwrap();
        a.mov(ebx, 0x10).unwrap();
        a.div(bl).unwrap();
    });
    assert_eq!(g(&c, 0), 0x1000);

    // IDIV 0x80000000 (sign-extended) / -1 = +2^31.
    let c = divide_error(15, |a| {
        a.mov(eax, 0x8000_0000u32 as i32).unwrap();
        a.mov(edx, -1).unwrap();
        a.mov(ebx, -1).unwrap();
        a.idiv(ebx).unwrap();
    });
    assert_eq!((g(&c, 0), g(&c, 2)), (0x8000_0000, 0xFFFF_FFFF));

    // IDIV 8-bit: 128 / 1 does not fit a signed byte.
    let c = divide_error(10, |a| {
        a.mov(eax, 0x0080).unwrap();
        a.mov(ebx, 1).unwrap();
        a.idiv(bl).unwrap();
    });
    assert_eq!(g(&c, 0), 0x0080);

    // IDIV by zero from memory.
    divide_error(10, |a| {
        a.mov(dword_ptr(0x3000u32), 0).unwrap();
        a.idiv(dword_ptr(0x3000u32)).unwrap();
    });
}
