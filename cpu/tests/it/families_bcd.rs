//! Decimal-adjust family and XLAT: hand-computed results and flags (SDM Vol. 2 DAA, DAS,
//! AAA, AAS, AAM, AAD, XLAT). Undefined flags are checked against the documented policy
//! (which follows an Intel host).

use crate::common;
use common::*;
use iced_x86::code_asm::*;
use vtx32_cpu::{Cpu, StopReason};

fn ra(c: &Cpu) -> u32 {
    c.core.regs.gpr[0]
}

#[test]
fn daa_after_add() {
    // 79 + 35 = 114: ADD gives 0xAE (CF = 0, AF = 0); DAA: low nibble 0xE > 9 -> +6 = 0xB4,
    // AF = 1; old AL 0xAE > 0x99 -> +0x60 = 0x14, CF = 1. PF: 0x14 has two bits.
    let c = run(|a| {
        a.mov(eax, 0x1234_5679).unwrap();
        a.add(al, 0x35).unwrap();
        a.daa().unwrap();
    });
    assert_eq!(ra(&c), 0x1234_5614);
    assert_eq!(fl(&c), CF | AF | PF);

    // 0x38 + 0x45 = 0x7D -> 0x83, AF = 1, CF = 0; SF = 1; 0x83 has three bits.
    let c = run(|a| {
        a.mov(eax, 0x38).unwrap();
        a.add(al, 0x45).unwrap();
        a.daa().unwrap();
    });
    assert_eq!(ra(&c), 0x83);
    assert_eq!(fl(&c), AF | SF);
}

#[test]
fn das_after_sub() {
    // 35 - 47: SUB gives 0xEE with CF = 1, AF = 1; DAS: -6 = 0xE8; old AL > 0x99 -> -0x60
    // = 0x88, CF = 1 (i.e. -12 as 88 with a borrow).
    let c = run(|a| {
        a.mov(eax, 0x35).unwrap();
        a.sub(al, 0x47).unwrap();
        a.das().unwrap();
    });
    assert_eq!(ra(&c), 0x88);
    assert_eq!(fl(&c), CF | AF | SF | PF);

    // 0x45 - 0x12 = 0x33: no adjustment, CF = AF = 0.
    let c = run(|a| {
        a.mov(eax, 0x45).unwrap();
        a.sub(al, 0x12).unwrap();
        a.das().unwrap();
    });
    assert_eq!(ra(&c), 0x33);
    assert_eq!(fl(&c), PF);
}

#[test]
fn aaa_aas() {
    // 9 + 8: AL = 0x11 with AF = 1 -> AX = 0x0011 + 0x106 = 0x0117 -> AX = 0x0107.
    let c = run(|a| {
        a.mov(eax, 0x0009).unwrap();
        a.add(al, 8).unwrap();
        a.aaa().unwrap();
    });
    assert_eq!(ra(&c), 0x0107);
    assert_eq!(fl(&c), CF | AF);

    // AL = 0xFA: AX + 0x106 carries into AH (current SDM text): AX = 0x0200.
    let c = run(|a| {
        a.mov(eax, 0x00FA).unwrap();
        a.test(eax, eax).unwrap(); // AF = 0
        a.aaa().unwrap();
    });
    assert_eq!(ra(&c), 0x0200);
    assert_eq!(fl(&c), CF | AF | ZF | PF);

    // No adjustment: AL = 0x35 -> 0x05, CF = AF = 0.
    let c = run(|a| {
        a.mov(eax, 0x1235).unwrap();
        a.test(eax, eax).unwrap();
        a.aaa().unwrap();
    });
    assert_eq!(ra(&c), 0x1205);
    assert_eq!(fl(&c), PF);

    // 12 - 5 as unpacked BCD: AX = 0x0102, SUB AL,5 -> 0xFD with AF = 1; AAS: AX - 6 =
    // 0x01F7, AH - 1 -> 0x00F7, AL masked -> 0x0007.
    let c = run(|a| {
        a.mov(eax, 0x0102).unwrap();
        a.sub(al, 5).unwrap();
        a.aas().unwrap();
    });
    assert_eq!(ra(&c), 0x0007);
    assert_eq!(fl(&c), CF | AF);

    // AAS with AF = 1 and AL = 3: AX - 6 borrows from AH, then AH - 1: 0x0203 -> 0x000D.
    let c = run(|a| {
        a.mov(eax, 0x1000).unwrap();
        a.sahf().unwrap(); // AF = 1, others 0
        a.mov(eax, 0x0203).unwrap();
        a.aas().unwrap();
    });
    assert_eq!(ra(&c), 0x000D);
    assert_eq!(fl(&c), CF | AF);
}

#[test]
fn aam_aad() {
    // AAM 10 of 79 = 0x4F: AH = 7, AL = 9.
    let c = run(|a| {
        a.mov(eax, 0xFFFF_004F_u32 as i32).unwrap();
        a.aam(10).unwrap();
    });
    assert_eq!(ra(&c), 0xFFFF_0709);
    assert_eq!(fl(&c), PF);

    // AAM 16 splits nibbles: 0xA5 -> AH = 0x0A, AL = 0x05.
    let c = run(|a| {
        a.mov(eax, 0xA5).unwrap();
        a.aam(16).unwrap();
    });
    assert_eq!(ra(&c), 0x0A05);
    assert_eq!(fl(&c), PF);

    // AAD 10 of 0x0709: AL = 9 + 70 = 79 = 0x4F, AH = 0. 0x4F has five bits.
    let c = run(|a| {
        a.mov(eax, 0x0709).unwrap();
        a.aad(10).unwrap();
    });
    assert_eq!(ra(&c), 0x004F);
    assert_eq!(fl(&c), 0);

    // AAD 7 of 0x0305: 5 + 21 = 26 = 0x1A.
    let c = run(|a| {
        a.mov(eax, 0x0305).unwrap();
        a.aad(7).unwrap();
    });
    assert_eq!(ra(&c), 0x001A);
    assert_eq!(fl(&c), 0);

    // AAD whose byte addition carries: 0xFF + (0x01 * 0x10): AL = 0x0F, CF = 1, AF = 0 (the
    // flags of that addition, the documented policy for the undefined ones).
    let c = run(|a| {
        a.mov(eax, 0x01FF).unwrap();
        a.aad(0x10).unwrap();
    });
    assert_eq!(ra(&c), 0x000F);
    assert_eq!(fl(&c), CF | PF);
}

#[test]
fn aam_zero_is_divide_error() {
    let (c, stop) = run32(|a| {
        a.mov(eax, 0x1234).unwrap();
        a.aam(0).unwrap();
    });
    match stop {
        StopReason::Exception(e) => assert_eq!(e.vector, 0),
        other => panic!("{other:?}"),
    }
    assert_eq!(ra(&c), 0x1234);
    // EIP stays on the AAM (mov eax, imm32 is 5 bytes).
    assert_eq!(c.core.regs.eip, common::CODE + 5);
}

#[test]
fn xlat_32_and_16_bit_addressing() {
    let c = run(|a| {
        a.mov(byte_ptr(0x3042u32), 0x99).unwrap();
        a.mov(ebx, 0x3000).unwrap();
        a.mov(eax, 0xAAAA_AA42_u32 as i32).unwrap();
        a.xlatb().unwrap();
    });
    assert_eq!(ra(&c), 0xAAAA_AA99);

    // 0x67 prefix: BX is used (the upper half of EBX is ignored).
    let c = run(|a| {
        a.mov(byte_ptr(0x30F0u32), 0x5C).unwrap();
        a.mov(ebx, 0x7777_3000).unwrap();
        a.mov(eax, 0xF0).unwrap();
        a.db(&[0x67, 0xD7]).unwrap();
    });
    assert_eq!(ra(&c), 0x5C);
}
