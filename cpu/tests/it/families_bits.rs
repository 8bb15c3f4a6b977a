//! Bit family: BT BTS BTR BTC, BSF BSR, BSWAP (SDM Vol. 2, each page). Undefined flags and
//! results are checked against the documented policy (which follows an Intel host).

use crate::common;
use common::*;
use iced_x86::code_asm::*;

#[test]
fn bt_register_offsets_wrap() {
    // BT r32, r32: offset 37 -> bit 5. OF SF AF PF and ZF are kept (set by the CMP: ZF, PF).
    let c = run(|a| {
        a.mov(eax, 0x20).unwrap();
        a.mov(ecx, 37).unwrap();
        a.cmp(ecx, ecx).unwrap();
        a.bt(eax, ecx).unwrap();
    });
    assert_eq!(fl(&c), CF | ZF | PF);

    // BT r16, r16: offset 21 -> bit 5; BT r32, imm8 63 -> bit 31.
    let c = run(|a| {
        a.mov(eax, 0x8000_0010u32 as i32).unwrap();
        a.mov(ecx, 20).unwrap();
        a.bt(ax, cx).unwrap();
        a.setc(bl).unwrap();
        a.bt(eax, 63).unwrap();
    });
    assert_eq!(g(&c, 3) & 0xFF, 1);
    assert_eq!(fl(&c) & CF, CF);
}

#[test]
fn bts_btr_btc_register() {
    let c = run(|a| {
        a.mov(eax, 0x0F).unwrap();
        a.bts(eax, 4).unwrap(); // 0x1F, CF = 0
        a.setc(bl).unwrap();
        a.btr(eax, 0).unwrap(); // 0x1E, CF = 1
        a.setc(bh).unwrap();
        a.mov(ecx, 31).unwrap();
        a.btc(eax, ecx).unwrap(); // 0x8000_001E, CF = 0
    });
    assert_eq!(g(&c, 0), 0x8000_001E);
    assert_eq!(g(&c, 3) & 0xFFFF, 0x0100);
    assert_eq!(fl(&c) & CF, 0);

    let c = run(|a| {
        a.mov(eax, 0xFFFF_0000u32 as i32).unwrap();
        a.btc(ax, 15).unwrap();
    });
    assert_eq!(g(&c, 0), 0xFFFF_8000);
    assert_eq!(fl(&c) & CF, 0);
}

#[test]
fn bt_memory_immediate_offset_is_masked() {
    let c = run(|a| {
        a.mov(dword_ptr(0x3000u32), 0x8000_0000u32 as i32).unwrap();
        a.bt(dword_ptr(0x3000u32), 63).unwrap(); // bit 31 of the same dword
        a.setc(bl).unwrap();
        a.bts(word_ptr(0x3000u32), 17).unwrap(); // bit 1 of the word at 0x3000
    });
    assert_eq!(g(&c, 3) & 0xFF, 1);
    assert_eq!(m32(&c, 0x3000), 0x8000_0002);
    assert_eq!(fl(&c) & CF, 0);
}

#[test]
fn bt_memory_register_offset_is_signed() {
    // Offset -32 from 0x3000: the dword at 0x3000 + (-32 SAR 5) * 4 = 0x2FFC, bit 0.
    let c = run(|a| {
        a.mov(dword_ptr(0x2FFCu32), 1).unwrap();
        a.mov(ebx, 0x3000).unwrap();
        a.mov(ecx, -32).unwrap();
        a.bt(dword_ptr(ebx), ecx).unwrap();
    });
    assert_eq!(fl(&c) & CF, CF);

    // Offset -1: bit 31 of the dword at 0x2FFC; BTS sets it.
    let c = run(|a| {
        a.mov(dword_ptr(0x2FFCu32), 1).unwrap();
        a.mov(ebx, 0x3000).unwrap();
        a.mov(ecx, -1).unwrap();
        a.bts(dword_ptr(ebx), ecx).unwrap();
    });
    assert_eq!(m32(&c, 0x2FFC), 0x8000_0001);
    assert_eq!(fl(&c) & CF, 0);

    // 16-bit: offset -17 (0xFFEF; the upper half of ECX is ignored): the word at
    // 0x3000 + (-17 SAR 4) * 2 = 0x2FFC, bit 15.
    let c = run(|a| {
        a.mov(dword_ptr(0x2FFCu32), 0x0001).unwrap();
        a.mov(ebx, 0x3000).unwrap();
        a.mov(ecx, 0x1234_FFEF).unwrap();
        a.bts(word_ptr(ebx), cx).unwrap();
    });
    assert_eq!(m32(&c, 0x2FFC), 0x8001);
    assert_eq!(fl(&c) & CF, 0);

    // Large positive offset 100 with a displacement: 0x3004 + 3 * 4 = 0x3010, bit 4.
    let c = run(|a| {
        a.mov(dword_ptr(0x3010u32), 0x10).unwrap();
        a.mov(ebx, 0x3000).unwrap();
        a.mov(ecx, 100).unwrap();
        a.btr(dword_ptr(ebx + 4), ecx).unwrap();
    });
    assert_eq!(m32(&c, 0x3010), 0);
    assert_eq!(fl(&c) & CF, CF);
}

#[test]
fn bsf_bsr() {
    // 0x1000: BSF = BSR = 12. ZF = 0; policy: CF OF SF AF = 0, PF = parity(12) = even.
    let c = run(|a| {
        a.mov(edx, 0x1000).unwrap();
        a.stc().unwrap();
        a.bsf(eax, edx).unwrap();
        a.bsr(ecx, edx).unwrap();
    });
    assert_eq!(g(&c, 0), 12);
    assert_eq!(g(&c, 1), 12);
    assert_eq!(fl(&c), PF);

    let c = run(|a| {
        a.mov(edx, 0x00F0).unwrap();
        a.bsf(eax, edx).unwrap();
        a.bsr(ecx, edx).unwrap();
    });
    assert_eq!(g(&c, 0), 4);
    assert_eq!(g(&c, 1), 7);
    assert_eq!(fl(&c), 0);

    // 16-bit: BSR of 0x8001 = 15 (upper half of EAX kept).
    let c = run(|a| {
        a.mov(eax, 0x5555_5555).unwrap();
        a.mov(edx, 0x8001).unwrap();
        a.bsr(ax, dx).unwrap();
    });
    assert_eq!(g(&c, 0), 0x5555_000F);
}

#[test]
fn bsf_zero_keeps_destination() {
    let c = run(|a| {
        a.mov(eax, 0xDEAD_BEEFu32 as i32).unwrap();
        a.mov(edx, 0).unwrap();
        a.bsf(eax, edx).unwrap();
    });
    assert_eq!(g(&c, 0), 0xDEAD_BEEF);
    assert_eq!(fl(&c), ZF | PF);

    // 16-bit source 0 although EDX is not: ZF = 1, AX kept.
    let c = run(|a| {
        a.mov(eax, 0x1234_5678).unwrap();
        a.mov(edx, 0x0001_0000).unwrap();
        a.bsr(ax, dx).unwrap();
    });
    assert_eq!(g(&c, 0), 0x1234_5678);
    assert_eq!(fl(&c), ZF | PF);
}

#[test]
fn bswap() {
    let c = run(|a| {
        a.mov(eax, 0x1234_5678).unwrap();
        a.bswap(eax).unwrap();
        a.mov(ebx, 0x1234_5678).unwrap();
        a.db(&[0x66, 0x0F, 0xCB]).unwrap(); // bswap bx: undefined; Intel gives 0
    });
    assert_eq!(g(&c, 0), 0x7856_3412);
    assert_eq!(g(&c, 3), 0x1234_0000);
}
