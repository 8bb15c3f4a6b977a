//! Segment-register loads and accesses, LAR/LSL/VERR/VERW/ARPL, call gates and far RET to
//! an outer level (SDM Vol. 3 ch. 3 and 5; Vol. 2 MOV, LAR, LSL, VERR, ARPL, CALL, RET).

use crate::common;
use crate::desc;

use desc::*;
use iced_x86::code_asm::*;
use vtx32_cpu::{SegAttrs, SegReg, StopReason};

const GP: u8 = 13;
const NP: u8 = 11;
const SS: u8 = 12;
const TS: u8 = 10;
const UD: u8 = 6;
const ZF: u32 = 1 << 6;

/// Loads `sel` into `seg` (via AX) and reads DS:[0] afterwards when `touch` is set.
fn load_seg(gdt: &[u64], seg: AsmRegisterSegment, sel: u16) -> (vtx32_cpu::Cpu, StopReason) {
    run_sys(
        |a| {
            a.mov(ax, u32::from(sel))?;
            a.mov(seg, ax)
        },
        gdt,
        &[],
        |_| {},
    )
}

#[test]
fn a_null_selector_loads_into_ds_and_faults_on_use() {
    let (cpu, stop) = run_sys(
        |a| {
            a.xor(eax, eax)?;
            a.mov(ds, ax)?;
            a.mov(ebx, dword_ptr(0x100))
        },
        &base_gdt(),
        &[],
        |_| {},
    );
    assert_eq!(exc(stop), (GP, Some(0)));
    assert_eq!(cpu.core.sregs.seg[SegReg::Ds as usize].selector, 0);
    assert_eq!(
        cpu.core.regs.eip,
        common::CODE + 2 + 3,
        "faults on the access (mov ds, ax is 66 8E D8)"
    );
}

#[test]
fn a_null_selector_into_ss_is_gp0() {
    let (_, stop) = load_seg(&base_gdt(), ss, 0);
    assert_eq!(exc(stop), (GP, Some(0)));
}

#[test]
fn a_selector_beyond_the_gdt_limit_is_gp_selector() {
    let (_, stop) = load_seg(&base_gdt(), ds, 0x103);
    assert_eq!(exc(stop), (GP, Some(0x100)));
}

#[test]
fn data_segment_registers_take_data_or_readable_code_only() {
    let mut g = base_gdt();
    g[8] = seg(0, 0xFFFF, 0x98, 0); // execute-only code
    g[9] = seg(0, 0xFFFF, 0x9A, 0); // readable code
    g[10] = seg(0, 0x67, 0x89, 0); // TSS
    assert_eq!(exc(load_seg(&g, ds, 0x40).1), (GP, Some(0x40)));
    assert_eq!(exc(load_seg(&g, es, 0x50).1), (GP, Some(0x50)));
    let (cpu, stop) = load_seg(&g, fs, 0x48);
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(cpu.core.sregs.seg[SegReg::Fs as usize].selector, 0x48);
}

#[test]
fn data_loads_check_rpl_and_cpl_against_dpl_but_not_for_conforming_code() {
    let mut g = base_gdt();
    g[8] = seg(0, 0xFFFF, 0x92, 0); // data DPL 0
    g[9] = seg(0, 0xFFFF, 0x9E, 0); // conforming readable code DPL 0
                                    // RPL 3 > DPL 0 at CPL 0.
    assert_eq!(exc(load_seg(&g, ds, 0x43).1), (GP, Some(0x40)));
    // Conforming code: no privilege check.
    assert_eq!(load_seg(&g, ds, 0x4B).1, StopReason::Halted);
    // CPL 3 cannot load DPL 0 data even with RPL 0.
    let (_, stop) = run_sys(
        |a| {
            a.mov(ax, 0x40u32)?;
            a.mov(ds, ax)
        },
        &g,
        &[],
        |cpu| enter_ring3(cpu, &g),
    );
    assert_eq!(exc(stop), (GP, Some(0x40)));
}

#[test]
fn not_present_is_np_for_data_and_ss_for_the_stack() {
    let mut g = base_gdt();
    g[8] = seg(0, 0xFFFF, 0x12, 0); // data, not present
    assert_eq!(exc(load_seg(&g, ds, 0x40).1), (NP, Some(0x40)));
    assert_eq!(exc(load_seg(&g, ss, 0x40).1), (SS, Some(0x40)));
}

#[test]
fn ss_needs_writable_data_with_rpl_and_dpl_equal_to_cpl() {
    let mut g = base_gdt();
    g[8] = seg(0, 0xFFFF, 0x90, 0); // read-only data
    g[9] = seg(0, 0xFFFF, 0xF2, 0); // data DPL 3
    assert_eq!(exc(load_seg(&g, ss, 0x40).1), (GP, Some(0x40)));
    assert_eq!(exc(load_seg(&g, ss, 0x48).1), (GP, Some(0x48)));
    assert_eq!(
        exc(load_seg(&g, ss, 0x13).1),
        (GP, Some(0x10)),
        "RPL != CPL"
    );
    assert_eq!(load_seg(&g, ss, 0x10).1, StopReason::Halted);
}

#[test]
fn ldt_selectors_need_a_loaded_ldt_and_stay_within_its_limit() {
    let g = base_gdt();
    assert_eq!(exc(load_seg(&g, ds, 0x0C).1), (GP, Some(0x0C)), "LDTR null");
    let ldt = table_bytes(&[0, seg(0x1234_0000, 0xFFFF, 0x93, 0)]);
    let run_ldt = |sel: u16| {
        run_sys(
            |a| {
                a.mov(ax, u32::from(sel))?;
                a.mov(ds, ax)
            },
            &g,
            &[(LDT, ldt.clone())],
            |cpu| {
                cpu.core.sregs.ldtr = vtx32_cpu::Segment {
                    selector: 0x60,
                    base: LDT,
                    limit: 15,
                    attrs: SegAttrs::from_bits_retain(0x82),
                };
            },
        )
    };
    let (cpu, stop) = run_ldt(0x0C);
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(cpu.core.sregs.seg[SegReg::Ds as usize].base, 0x1234_0000);
    assert_eq!(
        exc(run_ldt(0x14).1),
        (GP, Some(0x14)),
        "beyond the LDT limit"
    );
}

#[test]
fn a_load_sets_the_accessed_bit_in_the_descriptor() {
    let mut g = base_gdt();
    g[8] = seg(0, 0xFFFF, 0x92, 0);
    let (cpu, stop) = load_seg(&g, ds, 0x40);
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(peek8(&cpu, GDT + 0x40 + 5), 0x93);
    assert!(cpu.core.sregs.seg[SegReg::Ds as usize]
        .attrs
        .contains(SegAttrs::ACCESSED));
}

/// Reads a dword at DS:`off` with DS = selector 0x40 from `g`.
fn read_at(g: &[u64], off: u32) -> StopReason {
    run_sys(
        |a| {
            a.mov(ax, 0x40u32)?;
            a.mov(ds, ax)?;
            a.mov(ebx, off)?;
            a.mov(eax, dword_ptr(ebx))
        },
        g,
        &[],
        |_| {},
    )
    .1
}

#[test]
fn expand_down_limits_follow_the_b_flag() {
    let mut g = base_gdt();
    g[8] = seg(0x40000, 0x0FFF, 0x96, 0); // expand-down, B = 0: 1000H..FFFFH
    assert_eq!(read_at(&g, 0x1000), StopReason::Halted);
    assert_eq!(exc(read_at(&g, 0x0FFF)), (GP, Some(0)));
    assert_eq!(exc(read_at(&g, 0xFFFE)), (GP, Some(0)), "runs past FFFFH");
    g[8] = seg(0x40000, 0x0FFF, 0x96, 0x4); // B = 1: up to FFFFFFFFH
    assert_eq!(read_at(&g, 0xFFFE), StopReason::Halted);
    assert_eq!(read_at(&g, 0x10_0000), StopReason::Halted);
}

#[test]
fn granularity_scales_the_limit_by_4k() {
    let mut g = base_gdt();
    g[8] = seg(0, 1, 0x92, 0x8); // limit 1FFFH
    assert_eq!(read_at(&g, 0x1FFC), StopReason::Halted);
    assert_eq!(exc(read_at(&g, 0x1FFD)), (GP, Some(0)));
}

#[test]
fn an_expand_down_stack_faults_with_ss0_below_its_limit() {
    let mut g = base_gdt();
    g[8] = seg(0, 0x7FFF, 0x96, 0x4);
    let (_, stop) = run_sys(
        |a| {
            a.mov(ax, 0x40u32)?;
            a.mov(ss, ax)?;
            a.mov(esp, 0x8002u32)?;
            a.push(eax)
        },
        &g,
        &[],
        |_| {},
    );
    assert_eq!(exc(stop), (SS, Some(0)));
}

#[test]
fn writes_to_read_only_data_and_reads_of_execute_only_code_fault() {
    let mut g = base_gdt();
    g[8] = seg(0, 0xFFFF, 0x90, 0);
    let (_, stop) = run_sys(
        |a| {
            a.mov(ax, 0x40u32)?;
            a.mov(es, ax)?;
            a.mov(eax, dword_ptr(0x100).es())?;
            a.mov(dword_ptr(0x100).es(), eax)
        },
        &g,
        &[],
        |_| {},
    );
    assert_eq!(exc(stop), (GP, Some(0)));
    g[1] = seg(0, 0xFFFFF, 0x98, 0xC); // CS: execute-only
    let (_, stop) = run_sys(
        |a| a.mov(eax, dword_ptr(0x100).cs()),
        &g,
        &[],
        |cpu| load(cpu, SegReg::Cs, CODE0, &g),
    );
    assert_eq!(exc(stop), (GP, Some(0)));
}

/// Runs `build` and returns the CPU after its HLT.
fn halted(
    g: &[u64],
    ring3: bool,
    build: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
) -> vtx32_cpu::Cpu {
    let (cpu, stop) = run_sys(
        |a| {
            build(a)?;
            if ring3 {
                // HLT is privileged: end with #UD instead.
                a.ud2()?;
            }
            Ok(())
        },
        g,
        &[],
        |cpu| {
            if ring3 {
                enter_ring3(cpu, g)
            }
        },
    );
    if ring3 {
        assert_eq!(exc(stop), (UD, None));
    } else {
        assert_eq!(stop, StopReason::Halted);
    }
    cpu
}

fn zf(cpu: &vtx32_cpu::Cpu) -> bool {
    cpu.core.regs.eflags.bits() & ZF != 0
}

#[test]
fn lar_returns_access_rights_for_visible_descriptors() {
    let mut g = base_gdt();
    g[8] = seg(0x12_3456, 0xABCDE, 0x9A, 0xC);
    g[9] = gate(CODE0, 0x1000, 0x8E, 0); // interrupt gate: not valid for LAR
    g[10] = gate(CODE0, 0x1000, 0xEC, 3); // call gate DPL 3
    let cpu = halted(&g, false, |a| {
        a.mov(ecx, 0x40u32)?;
        a.lar(eax, ecx)?;
        a.mov(esi, 0x5555_5555u32)?;
        a.mov(edx, 0x48u32)?;
        a.lar(esi, edx)?; // ZF = 0, ESI unchanged
        a.setz(bl)?;
        a.lar(di, cx)?;
        a.mov(edx, 0x50u32)?;
        a.lar(ebp, edx)
    });
    assert_eq!(common::g(&cpu, 0), 0x00CA_9A00);
    assert_eq!(common::g(&cpu, 6), 0x5555_5555);
    assert_eq!(common::g(&cpu, 3) & 0xFF, 0);
    assert_eq!(common::g(&cpu, 7) & 0xFFFF, 0x9A00);
    assert_eq!(common::g(&cpu, 5), 0x0000_EC00);
    assert!(zf(&cpu));
}

#[test]
fn lar_and_lsl_check_privilege_except_for_conforming_code() {
    let mut g = base_gdt();
    g[8] = seg(0, 0xFFFF, 0x92, 0); // data DPL 0
    g[9] = seg(0, 0xFFFF, 0x9E, 0); // conforming code DPL 0
    let cpu = halted(&g, true, |a| {
        a.mov(ecx, 0x40u32)?;
        a.lar(eax, ecx)?;
        a.setz(bl)?;
        a.mov(ecx, 0x48u32)?;
        a.lsl(edx, ecx)?;
        a.setz(bh)
    });
    assert_eq!(
        common::g(&cpu, 3) & 0xFFFF,
        0x0100,
        "DPL 0 data hidden, conforming visible"
    );
    assert_eq!(common::g(&cpu, 2), 0xFFFF);
}

#[test]
fn lsl_returns_the_scaled_limit_and_rejects_gates_and_null() {
    let mut g = base_gdt();
    g[9] = gate(CODE0, 0x1000, 0x8C, 0);
    let cpu = halted(&g, false, |a| {
        a.mov(ecx, 0x10u32)?;
        a.lsl(eax, ecx)?;
        a.lsl(si, cx)?;
        a.mov(edx, 0x28u32)?;
        a.lsl(ebp, edx)?; // the TSS: limit 67H
        a.mov(edi, 7u32)?;
        a.mov(ecx, 0x48u32)?;
        a.lsl(edi, ecx)?; // call gate: ZF = 0
        a.setz(bl)?;
        a.xor(ecx, ecx)?;
        a.lsl(edi, ecx)?; // null selector
        a.setz(bh)
    });
    assert_eq!(common::g(&cpu, 0), 0xFFFF_FFFF);
    assert_eq!(common::g(&cpu, 6) & 0xFFFF, 0xFFFF);
    assert_eq!(common::g(&cpu, 5), 0x67);
    assert_eq!(common::g(&cpu, 7), 7);
    assert_eq!(common::g(&cpu, 3) & 0xFFFF, 0);
}

#[test]
fn verr_and_verw_report_readability_and_writability() {
    let mut g = base_gdt();
    g[8] = seg(0, 0xFFFF, 0x90, 0); // read-only data
    g[9] = seg(0, 0xFFFF, 0x98, 0); // execute-only code
    g[10] = seg(0, 0xFFFF, 0x9A, 0); // readable code
    let cpu = halted(&g, false, |a| {
        let mut out = 0;
        for sel in [0x10u32, 0x40, 0x48, 0x50, 0x200, 0] {
            a.mov(ecx, sel)?;
            a.verr(cx)?;
            a.setz(al)?;
            a.verw(cx)?;
            a.setz(ah)?;
            a.mov(word_ptr(0x9000 + out), ax)?;
            out += 2;
        }
        Ok(())
    });
    let got: Vec<u16> = (0..6).map(|k| peek16(&cpu, 0x9000 + 2 * k)).collect();
    assert_eq!(got, [0x0101, 0x0001, 0x0000, 0x0001, 0, 0]);
}

#[test]
fn verw_at_cpl3_rejects_dpl0_data() {
    let g = base_gdt();
    let cpu = halted(&g, true, |a| {
        a.mov(ecx, 0x10u32)?;
        a.verw(cx)?;
        a.setz(al)?;
        a.mov(ecx, u32::from(DATA3))?;
        a.verw(cx)?;
        a.setz(ah)
    });
    assert_eq!(common::g(&cpu, 0) & 0xFFFF, 0x0100);
}

#[test]
fn arpl_raises_the_rpl_and_sets_zf() {
    let g = base_gdt();
    let cpu = halted(&g, false, |a| {
        a.mov(eax, 0x0010u32)?;
        a.mov(ecx, 0x0023u32)?;
        a.arpl(ax, cx)?;
        a.setz(bl)?;
        a.mov(edx, 0x0013u32)?;
        a.mov(ecx, 0x0001u32)?;
        a.arpl(dx, cx)?;
        a.setz(bh)
    });
    assert_eq!(common::g(&cpu, 0), 0x13);
    assert_eq!(common::g(&cpu, 2), 0x13);
    assert_eq!(common::g(&cpu, 3) & 0xFFFF, 0x0001);
}

/// Ring-0 handler code for the call-gate tests.
const HANDLER: u32 = 0x3000;
const GATE_SEL: u16 = 0x43; // GDT slot 8, RPL 3

/// A GDT with a 32-bit call gate (DPL 3, `params` parameters) to `HANDLER` in ring-0 code,
/// and TSS_A's ring-0 stack at 0x10:0x9000.
fn gate_setup(cpu: &mut vtx32_cpu::Cpu, g: &[u64]) {
    enter_ring3(cpu, g);
    w32(cpu, TSS_A + 4, 0x9000);
    w16(cpu, TSS_A + 8, DATA0);
    cpu.core.regs.gpr[4] = 0x7000;
}

#[test]
fn a_call_gate_to_ring0_switches_stacks_and_copies_parameters() {
    let mut g = base_gdt();
    g[8] = gate(CODE0, HANDLER, 0xEC, 2);
    let handler = asm(HANDLER, |a| {
        a.hlt().unwrap();
    });
    let (cpu, stop) = run_sys(
        |a| {
            a.push(0x2222_2222u32)?;
            a.push(0x1111_1111u32)?;
            a.call_far(GATE_SEL, 0)
        },
        &g,
        &[(HANDLER, handler)],
        |cpu| gate_setup(cpu, &g),
    );
    assert_eq!(stop, StopReason::Halted);
    let c = &cpu.core;
    assert_eq!(c.sregs.cpl, 0);
    assert_eq!(c.sregs.seg[SegReg::Cs as usize].selector, CODE0);
    assert_eq!(c.sregs.seg[SegReg::Ss as usize].selector, DATA0);
    let top = c.regs.gpr[4];
    assert_eq!(top, 0x9000 - 24);
    let frame: Vec<u32> = (0..6).map(|k| peek32(&cpu, top + 4 * k)).collect();
    // EIP, CS, param 1, param 2, old ESP, old SS.
    assert_eq!(
        frame,
        [
            common::CODE + 5 + 5 + 7,
            u32::from(CODE3),
            0x1111_1111,
            0x2222_2222,
            0x7000 - 8,
            u32::from(DATA3)
        ]
    );
}

#[test]
fn far_ret_to_ring3_restores_the_stack_and_nulls_inner_data_segments() {
    let mut g = base_gdt();
    g[8] = gate(CODE0, HANDLER, 0xEC, 2);
    let handler = asm(HANDLER, |a| {
        a.mov(ax, u32::from(DATA0)).unwrap();
        a.mov(ds, ax).unwrap(); // DPL 0: nulled on return
        a.mov(ax, u32::from(DATA3)).unwrap();
        a.mov(es, ax).unwrap(); // DPL 3: kept
        a.retf_1(8).unwrap();
    });
    let (cpu, stop) = run_sys(
        |a| {
            a.push(2u32)?;
            a.push(1u32)?;
            a.call_far(GATE_SEL, 0)?;
            a.ud2()
        },
        &g,
        &[(HANDLER, handler)],
        |cpu| gate_setup(cpu, &g),
    );
    assert_eq!(exc(stop), (UD, None));
    let c = &cpu.core;
    assert_eq!(c.sregs.cpl, 3);
    assert_eq!(c.regs.gpr[4], 0x7000, "RETF 8 released the parameters");
    assert_eq!(c.sregs.seg[SegReg::Ss as usize].selector, DATA3);
    assert_eq!(c.sregs.seg[SegReg::Ds as usize].selector, 0);
    assert!(c.sregs.seg[SegReg::Ds as usize]
        .attrs
        .contains(SegAttrs::UNUSABLE));
    assert_eq!(c.sregs.seg[SegReg::Es as usize].selector, DATA3);
}

#[test]
fn a_16bit_call_gate_pushes_words() {
    let mut g = base_gdt();
    g[8] = gate(CODE0, HANDLER, 0xE4, 1);
    let handler = asm(HANDLER, |a| {
        a.hlt().unwrap();
    });
    let (cpu, stop) = run_sys(
        |a| {
            a.push(0xBEEFu32)?;
            a.call_far(GATE_SEL, 0)
        },
        &g,
        &[(HANDLER, handler)],
        |cpu| gate_setup(cpu, &g),
    );
    assert_eq!(stop, StopReason::Halted);
    let top = cpu.core.regs.gpr[4];
    assert_eq!(top, 0x9000 - 10);
    let frame: Vec<u16> = (0..5).map(|k| peek16(&cpu, top + 2 * k)).collect();
    assert_eq!(
        frame,
        [
            (common::CODE + 5 + 7) as u16,
            CODE3,
            0xBEEF,
            (0x7000 - 4) as u16,
            DATA3
        ]
    );
}

#[test]
fn jmp_through_a_gate_to_conforming_code_keeps_cpl() {
    let mut g = base_gdt();
    g[8] = gate(0x48, HANDLER, 0xEC, 0);
    g[9] = seg(0, 0xFFFFF, 0x9E, 0xC); // conforming, DPL 0
    let handler = asm(HANDLER, |a| {
        a.ud2().unwrap();
    });
    let (cpu, stop) = run_sys(
        |a| a.jmp_far(GATE_SEL, 0),
        &g,
        &[(HANDLER, handler)],
        |cpu| gate_setup(cpu, &g),
    );
    assert_eq!(exc(stop), (UD, None));
    assert_eq!(cpu.core.sregs.cpl, 3);
    assert_eq!(cpu.core.sregs.seg[SegReg::Cs as usize].selector, 0x4B);
    assert_eq!(cpu.core.regs.eip, HANDLER);
    assert_eq!(cpu.core.regs.gpr[4], 0x7000, "no stack switch");
}

/// CALLs through a gate in slot 8 (gate `gd`, with extra entries) from ring 3 and returns
/// the fault; asserts nothing changed.
fn gate_fault(gd: u64, extra: &[(usize, u64)], tss_ss: u16, jmp: bool) -> (u8, Option<u32>) {
    let mut g = base_gdt();
    g[8] = gd;
    for &(k, d) in extra {
        g[k] = d;
    }
    let (cpu, stop) = run_sys(
        |a| {
            if jmp {
                a.jmp_far(GATE_SEL, 0)
            } else {
                a.call_far(GATE_SEL, 0)
            }
        },
        &g,
        &[],
        |cpu| {
            gate_setup(cpu, &g);
            w16(cpu, TSS_A + 8, tss_ss);
        },
    );
    let c = &cpu.core;
    assert_eq!(
        (c.sregs.cpl, c.regs.gpr[4], c.regs.eip),
        (3, 0x7000, common::CODE)
    );
    assert_eq!(c.sregs.seg[SegReg::Ss as usize].selector, DATA3);
    exc(stop)
}

#[test]
fn call_gate_faults() {
    let to = |sel: u16, acc: u8| gate(sel, HANDLER, acc, 0);
    // Gate DPL 0 < CPL 3.
    assert_eq!(
        gate_fault(to(CODE0, 0x8C), &[], DATA0, false),
        (GP, Some(0x40))
    );
    // Gate not present.
    assert_eq!(
        gate_fault(to(CODE0, 0x6C), &[], DATA0, false),
        (NP, Some(0x40))
    );
    // Null target.
    assert_eq!(gate_fault(to(0, 0xEC), &[], DATA0, false), (GP, Some(0)));
    // Target is data; target beyond the GDT.
    assert_eq!(
        gate_fault(to(DATA0, 0xEC), &[], DATA0, false),
        (GP, Some(0x10))
    );
    assert_eq!(
        gate_fault(to(0x400, 0xEC), &[], DATA0, false),
        (GP, Some(0x400))
    );
    // Target not present.
    let np_code = seg(0, 0xFFFFF, 0x1B, 0xC);
    assert_eq!(
        gate_fault(to(0x48, 0xEC), &[(9, np_code)], DATA0, false),
        (NP, Some(0x48))
    );
    // JMP through a gate to a more privileged nonconforming segment.
    assert_eq!(
        gate_fault(to(CODE0, 0xEC), &[], DATA0, true),
        (GP, Some(0x08))
    );
    // Inner stack: null, wrong DPL, not present, too small.
    assert_eq!(gate_fault(to(CODE0, 0xEC), &[], 0, false), (TS, Some(0)));
    assert_eq!(
        gate_fault(to(CODE0, 0xEC), &[], DATA3, false),
        (TS, Some(0x20))
    );
    let np_data = seg(0, 0xFFFFF, 0x13, 0xC);
    assert_eq!(
        gate_fault(to(CODE0, 0xEC), &[(9, np_data)], 0x48, false),
        (SS, Some(0x48))
    );
    let small = seg(0, 0x8FF8, 0x93, 0x4); // the frame at 8FF0H..9000H runs past 8FF8H
    assert_eq!(
        gate_fault(to(CODE0, 0xEC), &[(9, small)], 0x48, false),
        (SS, Some(0x48))
    );
    // Offset beyond the target's limit.
    let short = seg(0, 0xFFF, 0x9B, 0x4);
    assert_eq!(
        gate_fault(to(0x48, 0xEC), &[(9, short)], DATA0, false),
        (GP, Some(0))
    );
}

#[test]
fn far_call_checks_the_descriptor_before_the_stack() {
    let g = base_gdt();
    let (_, stop) = run_sys(
        |a| {
            a.mov(esp, 0xFFFF_FFF0u32)?;
            a.mov(ax, 0x40u32)?; // slot 8 is empty: not a code segment
            a.call_far(0x40, 0)
        },
        &g,
        &[],
        |cpu| {
            // A tiny stack: the return address would not fit.
            cpu.core.sregs.seg[SegReg::Ss as usize].limit = 0x10;
        },
    );
    assert_eq!(exc(stop), (GP, Some(0x40)));
}

#[test]
fn far_ret_to_an_outer_level_checks_cs_before_reading_the_outer_stack() {
    let g = base_gdt();
    let (_, stop) = run_sys(
        |a| {
            a.mov(esp, 0x7FF8u32)?;
            a.push(u32::from(DATA3))?; // RPL 3, but a data segment
            a.push(0x1000u32)?;
            a.retf()
        },
        &g,
        &[],
        // The outer SS:ESP would lie beyond the stack limit (#SS(0) if read first).
        |cpu| cpu.core.sregs.seg[SegReg::Ss as usize].limit = 0x7FF7,
    );
    assert_eq!(exc(stop), (GP, Some(0x20)));
}
