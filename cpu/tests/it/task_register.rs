//! LLDT, LTR, SLDT, STR (SDM Vol. 2): loads, the TSS busy bit, and their faults.

use crate::common;

use common::*;
use iced_x86::code_asm::*;
use vtx32_cpu::StopReason;

const GDT: u32 = 0x3000;

/// A GDT with: 0x08 an LDT descriptor (base 0x4000, limit 0x17), 0x10 an available 32-bit
/// TSS (base 0x5000, limit 0x67), 0x18 a flat data segment, 0x20 a non-present LDT.
fn tables() -> Vec<u8> {
    let mut g = vec![0u8; 0x28];
    g[0x08..0x10].copy_from_slice(&[0x17, 0, 0x00, 0x40, 0, 0x82, 0x00, 0]);
    g[0x10..0x18].copy_from_slice(&[0x67, 0, 0x00, 0x50, 0, 0x89, 0x00, 0]);
    g[0x18..0x20].copy_from_slice(&[0xFF, 0xFF, 0, 0, 0, 0x93, 0xCF, 0]);
    g[0x20..0x28].copy_from_slice(&[0x17, 0, 0x00, 0x40, 0, 0x02, 0x00, 0]);
    g
}

fn run_tables(build: impl FnOnce(&mut CodeAssembler)) -> (vtx32_cpu::Cpu, StopReason) {
    let g = tables();
    run_with(
        build,
        &[(GDT, &g)],
        |cpu| {
            cpu.core.sregs.gdtr.base = GDT;
            cpu.core.sregs.gdtr.limit = 0x27;
        },
        &mut vtx32_cpu::NoPorts,
    )
}

#[test]
fn ltr_loads_tr_and_marks_the_tss_busy_and_str_stores_it() {
    let (cpu, stop) = run_tables(|a| {
        a.mov(eax, 0xFFFF_FFFFu32).unwrap();
        a.mov(ecx, 0x10u32).unwrap();
        a.ltr(cx).unwrap();
        a.str(eax).unwrap();
        a.mov(ecx, 0x08u32).unwrap();
        a.lldt(cx).unwrap();
        a.mov(ebx, 0xFFFF_FFFFu32).unwrap();
        a.sldt(ebx).unwrap();
    });
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(g(&cpu, 0), 0x10, "STR r32 zero-extends");
    assert_eq!(g(&cpu, 3), 0x08, "SLDT r32 zero-extends");
    assert_eq!(cpu.core.sregs.tr.base, 0x5000);
    assert_eq!(cpu.core.sregs.ldtr.base, 0x4000);
    assert_eq!(cpu.core.sregs.ldtr.limit, 0x17);
    // Type 9 became 0xB (busy).
    assert_eq!(m32(&cpu, GDT + 0x14) >> 8 & 0xF, 0xB);
}

#[test]
fn ltr_of_a_busy_tss_or_a_non_tss_faults_with_the_selector() {
    // Second LTR of the same (now busy) TSS: #GP(0x10).
    let (_, stop) = run_tables(|a| {
        a.mov(ecx, 0x10u32).unwrap();
        a.ltr(cx).unwrap();
        a.ltr(cx).unwrap();
    });
    assert!(
        matches!(stop, StopReason::Exception(e) if e.vector == 13 && e.error_code() == Some(0x10))
    );
    // A data segment: #GP(0x18); a null selector: #GP(0).
    for (sel, code) in [(0x18u32, 0x18), (0x0, 0)] {
        let (_, stop) = run_tables(|a| {
            a.mov(ecx, sel).unwrap();
            a.ltr(cx).unwrap();
        });
        assert!(
            matches!(stop, StopReason::Exception(e) if e.vector == 13 && e.error_code() == Some(code)),
            "{stop:?}"
        );
    }
}

#[test]
fn lldt_faults_not_present_and_accepts_null() {
    let (_, stop) = run_tables(|a| {
        a.mov(ecx, 0x20u32).unwrap();
        a.lldt(cx).unwrap();
    });
    assert!(
        matches!(stop, StopReason::Exception(e) if e.vector == 11 && e.error_code() == Some(0x20))
    );
    let (cpu, stop) = run_tables(|a| {
        a.xor(ecx, ecx).unwrap();
        a.lldt(cx).unwrap();
    });
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(cpu.core.sregs.ldtr.selector, 0);
    // An LDT selector (TI = 1) is not allowed: #GP(sel).
    let (_, stop) = run_tables(|a| {
        a.mov(ecx, 0x0Cu32).unwrap();
        a.lldt(cx).unwrap();
    });
    assert!(
        matches!(stop, StopReason::Exception(e) if e.vector == 13 && e.error_code() == Some(0x0C))
    );
}
