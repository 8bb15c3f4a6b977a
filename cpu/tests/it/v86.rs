//! Virtual-8086 mode (SDM Vol. 3 ch. 20): entry by IRETD, the IOPL-sensitive instructions,
//! interrupts to ring 0, and the VME/PVI extensions.

use crate::pm;

use iced_x86::code_asm::*;
use pm::*;
use vtx32_cpu::{SegReg, StopReason};

fn seg(c: &vtx32_cpu::Cpu, s: SegReg) -> (u16, u32, u32) {
    let x = c.core.sregs.seg[s as usize];
    (x.selector, x.base, x.limit)
}

/// PUSH imm16 through AX.
fn push16(a: &mut CodeAssembler, v: u32) {
    a.mov(ax, v).unwrap();
    a.push(ax).unwrap();
}

#[test]
fn iretd_with_vm_enters_virtual_8086_mode_at_cpl_3() {
    let mut m = Pm::new();
    m.v86(|a| {
        a.mov(ax, cs).unwrap();
        a.mov(bx, ss).unwrap();
        a.mov(cx, sp).unwrap();
        a.mov(dx, ds).unwrap();
        a.int3().unwrap();
    });
    let (c, s) = m.run_v86(0);
    assert_int3(s);
    let r = &c.core.regs.gpr;
    assert_eq!((r[0] & 0xFFFF, r[3] & 0xFFFF), (0x3000, 0x4000));
    assert_eq!((r[1] & 0xFFFF, r[2] & 0xFFFF), (0xFFF0, 0));
    assert_ne!(eflags(&c) & VM, 0);
    assert_eq!(c.core.sregs.cpl, 3);
    assert_eq!(seg(&c, SegReg::Cs), (0x3000, 0x30000, 0xFFFF));
    assert_eq!(seg(&c, SegReg::Ss), (0x4000, 0x40000, 0xFFFF));
    assert_eq!(seg(&c, SegReg::Gs), (0, 0, 0xFFFF));
}

#[test]
fn iretd_to_virtual_8086_mode_beyond_ip_ffff_is_gp0_at_ring_0() {
    let m = Pm::new();
    let (c, s) = m.run(|a| {
        for _ in 0..4 {
            a.push(0i32).unwrap();
        }
        a.push(0x4000i32).unwrap();
        a.push(0xFFF0i32).unwrap();
        a.push((VM | 2) as i32).unwrap();
        a.push(0x3000i32).unwrap();
        a.push(0x1_0000i32).unwrap();
        a.iretd().unwrap();
    });
    assert_gp(s, 0);
    assert_eq!(eflags(&c) & VM, 0);
    assert_eq!(c.core.sregs.cpl, 0);
}

/// Each IOPL-sensitive instruction alone in virtual-8086 mode.
type Asm = fn(&mut CodeAssembler);

fn sensitive() -> Vec<(&'static str, Asm)> {
    vec![
        ("cli", |a| a.cli().unwrap()),
        ("sti", |a| a.sti().unwrap()),
        ("pushf", |a| a.pushf().unwrap()),
        ("popf", |a| a.popf().unwrap()),
        ("pushfd", |a| a.pushfd().unwrap()),
        ("popfd", |a| a.popfd().unwrap()),
        ("int 21h", |a| a.int(0x21).unwrap()),
        ("iret", |a| a.iret().unwrap()),
        ("iretd", |a| a.iretd().unwrap()),
    ]
}

#[test]
fn iopl_sensitive_instructions_fault_at_iopl_below_3_without_vme() {
    for iopl in 0..3u32 {
        for (name, f) in sensitive() {
            let mut m = Pm::new();
            m.v86(|a| {
                f(a);
                a.int3().unwrap();
            });
            let (c, s) = m.run_v86(iopl << 12 | IF);
            assert_gp(s, 0);
            assert_eq!(
                c.core.regs.eip, 0,
                "{name} at IOPL {iopl}: faults at the instruction"
            );
            assert_eq!(
                c.core.regs.gpr[4],
                u32::from(V86_SP),
                "{name}: SP unchanged"
            );
            assert_ne!(eflags(&c) & IF, 0, "{name}: IF unchanged");
        }
    }
}

#[test]
fn with_vme_only_the_32_bit_forms_fault_at_iopl_0() {
    for (name, f) in sensitive() {
        let mut m = Pm::new();
        m.cr4 = CR4_VME;
        m.v86(|a| {
            f(a);
            a.int3().unwrap();
        });
        let (_, s) = m.run_v86(0);
        // INT 21h: its redirection bit is set, so it is #GP(0) at IOPL < 3 (method 5).
        let faults = matches!(name, "pushfd" | "popfd" | "iretd" | "int 21h");
        let gp = matches!(s, StopReason::Exception(e) if e.vector == 13);
        assert_eq!(gp, faults, "{name}: {s:?}");
    }
}

#[test]
fn cli_sti_pushf_popf_work_on_if_at_iopl_3() {
    let mut m = Pm::new();
    m.v86(|a| {
        a.cli().unwrap();
        a.pushf().unwrap(); // FFEE: IF = 0
        a.sti().unwrap();
        a.pushfd().unwrap(); // FFEA: IF = 1
        push16(a, 0); // POPF of 0: IOPL stays 3, IF cleared
        a.popf().unwrap();
        a.int3().unwrap();
    });
    let (c, s) = m.run_v86(IOPL3 | IF | RF);
    assert_int3(s);
    let f1 = m16(&c, v86_stack(0xFFEE));
    let f2 = m32(&c, v86_stack(0xFFEA));
    assert_eq!(f1 & (IF | IOPL3), IOPL3);
    assert_eq!(
        f2 & (IF | IOPL3 | VM | RF),
        IF | IOPL3,
        "PUSHFD stores VM and RF as 0"
    );
    assert_eq!(eflags(&c) & (IF | IOPL3 | VM), IOPL3 | VM);
}

#[test]
fn int_n_at_iopl_3_without_vme_goes_to_the_ring_0_handler_with_the_v86_frame() {
    let mut m = Pm::new();
    m.deliver = true;
    m.v86(|a| {
        a.mov(ax, 0x1234u32).unwrap();
        a.mov(ds, ax).unwrap();
        a.mov(es, ax).unwrap();
        a.int(0x40).unwrap();
    });
    let (c, s) = m.run_v86(IOPL3 | IF);
    assert_eq!(s, StopReason::Halted);
    assert_eq!(c.core.regs.eip, handler_done(0x40));
    assert_eq!(c.core.sregs.cpl, 0);
    assert_eq!(eflags(&c) & (VM | IF), 0);
    let top = c.core.regs.gpr[4];
    assert_eq!(top, ESP0 - 9 * 4);
    // EIP CS EFLAGS ESP SS ES DS FS GS.
    let frame: Vec<u32> = (0..9).map(|k| m32(&c, top + 4 * k)).collect();
    assert_eq!(frame[0], 3 + 2 + 2 + 2, "EIP after INT 40h");
    assert_eq!(frame[1], u32::from(V86_CS));
    assert_eq!(frame[2] & (VM | IF | IOPL3), VM | IF | IOPL3);
    assert_eq!(frame[3..], [0xFFF0, 0x4000, 0x1234, 0x1234, 0, 0]);
    for s in [SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs] {
        assert_eq!(c.core.sregs.seg[s as usize].selector, 0, "{s:?} cleared");
    }
    assert_eq!(c.core.sregs.seg[SegReg::Ss as usize].selector, SEL_DATA0);
}

#[test]
fn an_exception_in_virtual_8086_mode_pushes_its_error_code_after_the_frame() {
    let mut m = Pm::new();
    m.deliver = true;
    m.v86(|a| a.hlt().unwrap());
    let (c, s) = m.run_v86(0);
    assert_eq!(s, StopReason::Halted);
    assert_eq!(c.core.regs.eip, handler_done(13));
    let top = c.core.regs.gpr[4];
    assert_eq!(top, ESP0 - 10 * 4);
    assert_eq!(m32(&c, top), 0, "error code");
    assert_eq!(m32(&c, top + 4), 0, "EIP of the HLT");
    assert_eq!(m32(&c, top + 8), u32::from(V86_CS));
}

#[test]
fn int3_is_not_iopl_sensitive() {
    let mut m = Pm::new();
    m.deliver = true;
    m.v86(|a| a.int3().unwrap());
    let (c, s) = m.run_v86(0);
    assert_eq!(s, StopReason::Halted);
    assert_eq!(c.core.regs.eip, handler_done(3));
}

#[test]
fn an_interrupt_from_v86_to_a_non_ring_0_handler_is_gp_with_the_selector() {
    let mut m = Pm::new();
    m.v86(|a| a.int(0x40).unwrap());
    // Gate 0x40 to the DPL-3 code segment.
    let mut gate = Vec::new();
    let h = HANDLERS + 0x40 * 16;
    gate.extend_from_slice(&(h as u16).to_le_bytes());
    gate.extend_from_slice(&SEL_CODE3.to_le_bytes());
    gate.extend_from_slice(&[0, 0xEE]);
    gate.extend_from_slice(&((h >> 16) as u16).to_le_bytes());
    m.data.push((IDT + 0x40 * 8, gate));
    m.deliver = true;
    let (c, s) = m.run_v86(IOPL3);
    assert_eq!(s, StopReason::Halted);
    assert_eq!(c.core.regs.eip, handler_done(13));
    // INT n is a software event: EXT = 0.
    assert_eq!(m32(&c, c.core.regs.gpr[4]), u32::from(SEL_CODE3 & !3));
    // The #GP is a fault of the INT instruction: its EIP is saved, not the next one's.
    assert_eq!(m32(&c, c.core.regs.gpr[4] + 4), 0);
}

#[test]
fn vme_cli_sti_change_vif_and_leave_if() {
    let mut m = Pm::new();
    m.cr4 = CR4_VME;
    m.v86(|a| {
        a.sti().unwrap();
        a.pushf().unwrap(); // FFEE: IF image = VIF = 1
        a.cli().unwrap();
        a.pushf().unwrap(); // FFEC: IF image = 0
        a.int3().unwrap();
    });
    let (c, s) = m.run_v86(IF);
    assert_int3(s);
    assert_eq!(eflags(&c) & (IF | VIF | IOPL3), IF);
    let (f1, f2) = (m16(&c, v86_stack(0xFFEE)), m16(&c, v86_stack(0xFFEC)));
    assert_eq!(f1 & (IF | IOPL3), IF | IOPL3, "PUSHF: VIF as IF, IOPL as 3");
    assert_eq!(f2 & (IF | IOPL3), IOPL3);
}

#[test]
fn vme_sti_with_vip_set_is_gp0() {
    let mut m = Pm::new();
    m.cr4 = CR4_VME;
    m.v86(|a| {
        a.cli().unwrap();
        a.sti().unwrap();
    });
    let (c, s) = m.run_v86(VIP | VIF);
    assert_gp(s, 0);
    assert_eq!(c.core.regs.eip, 1, "STI faults, CLI ran");
    assert_eq!(eflags(&c) & (VIF | VIP), VIP);
}

#[test]
fn vme_popf_sets_vif_from_the_popped_if_and_keeps_if_and_iopl() {
    let mut m = Pm::new();
    m.cr4 = CR4_VME;
    m.v86(|a| {
        push16(a, IF | IOPL3 | 0x8D5);
        a.popf().unwrap();
        a.int3().unwrap();
    });
    let (c, s) = m.run_v86(0);
    assert_int3(s);
    // 0x8D5 = OF DF SF ZF AF PF CF... (0x800|0x400|0x80|0x40|0x10|0x4|0x1).
    assert_eq!(eflags(&c) & 0xFFFF, 0x8D5 | 2);
    assert_ne!(eflags(&c) & VIF, 0);
    assert_eq!(c.core.regs.gpr[4], u32::from(V86_SP));
}

#[test]
fn vme_popf_faults_on_tf_or_on_if_with_vip() {
    for (pushed, start, name) in [(TF, 0, "TF"), (IF, VIP, "IF with VIP")] {
        let mut m = Pm::new();
        m.cr4 = CR4_VME;
        m.v86(|a| {
            push16(a, pushed);
            a.popf().unwrap();
        });
        let (c, s) = m.run_v86(start);
        assert_gp(s, 0);
        assert_eq!(
            c.core.regs.gpr[4],
            u32::from(V86_SP) - 2,
            "{name}: nothing popped"
        );
        assert_eq!(eflags(&c) & (VIF | TF), 0, "{name}");
    }
}

#[test]
fn vme_iret_returns_with_vif_from_the_popped_if() {
    let mut m = Pm::new();
    m.cr4 = CR4_VME;
    m.v86(|a| {
        push16(a, IF);
        push16(a, 0x3000);
        push16(a, 0x0100);
        a.iret().unwrap();
    });
    m.code16(0x30100, 0x100, |a| a.int3().unwrap());
    let (c, s) = m.run_v86(0);
    assert_int3(s);
    assert_eq!(c.core.regs.eip, 0x101);
    assert_eq!(eflags(&c) & (VIF | IF | IOPL3), VIF);
    assert_eq!(c.core.regs.gpr[4], u32::from(V86_SP));
}

#[test]
fn vme_iret_with_if_and_vip_is_gp0() {
    let mut m = Pm::new();
    m.cr4 = CR4_VME;
    m.v86(|a| {
        push16(a, IF);
        push16(a, 0x3000);
        push16(a, 0x0100);
        a.iret().unwrap();
    });
    let (c, s) = m.run_v86(VIP);
    assert_gp(s, 0);
    assert_eq!(c.core.regs.gpr[4], u32::from(V86_SP) - 6);
}

/// INT 21h redirected through the IVT to 5000:0010, whose code reports and stops.
fn redirected(iopl: u32, start: u32) -> (vtx32_cpu::Cpu, StopReason) {
    let mut m = Pm::new();
    m.cr4 = CR4_VME;
    m.redirect(0x21);
    m.v86(|a| {
        a.nop().unwrap();
        a.int(0x21).unwrap();
    });
    m.ivt(0x21, 0x5000, 0x0010, |a| a.int3().unwrap());
    m.run_v86(iopl << 12 | start)
}

#[test]
fn vme_int_with_a_clear_redirection_bit_goes_through_the_ivt_at_iopl_0() {
    let (c, s) = redirected(0, VIF | IF);
    assert_int3(s);
    assert_eq!(c.core.sregs.seg[SegReg::Cs as usize].selector, 0x5000);
    assert_eq!(c.core.regs.eip, 0x11);
    assert_ne!(eflags(&c) & VM, 0, "still in virtual-8086 mode");
    assert_eq!(eflags(&c) & (VIF | IF), IF, "VIF cleared, IF kept");
    let top = c.core.regs.gpr[4];
    assert_eq!(top, u32::from(V86_SP) - 6);
    assert_eq!(m16(&c, v86_stack(top)), 3, "IP after INT 21h");
    assert_eq!(m16(&c, v86_stack(top + 2)), u32::from(V86_CS));
    assert_eq!(m16(&c, v86_stack(top + 4)) & (IF | IOPL3), IF | IOPL3);
}

#[test]
fn vme_int_with_a_clear_redirection_bit_goes_through_the_ivt_at_iopl_3() {
    let (c, s) = redirected(3, IF);
    assert_int3(s);
    assert_eq!(c.core.regs.eip, 0x11);
    assert_eq!(eflags(&c) & (VIF | IF), 0, "IF cleared");
    let top = c.core.regs.gpr[4];
    assert_eq!(m16(&c, v86_stack(top + 4)) & (IF | IOPL3), IF | IOPL3);
}

#[test]
fn vme_int_with_a_set_redirection_bit_goes_to_the_idt_at_iopl_3() {
    let mut m = Pm::new();
    m.cr4 = CR4_VME;
    m.deliver = true;
    m.v86(|a| a.int(0x21).unwrap());
    let (c, s) = m.run_v86(IOPL3);
    assert_eq!(s, StopReason::Halted);
    assert_eq!(c.core.regs.eip, handler_done(0x21));
}

#[test]
fn redirection_bitmap_beyond_the_tss_limit_is_gp0() {
    let mut m = Pm::new();
    m.cr4 = CR4_VME;
    // I/O map base beyond the limit: the redirection bitmap byte for vector 0xF8 too.
    m.tss[102..104].copy_from_slice(&0x100u16.to_le_bytes());
    m.tss_limit = 0xFE;
    m.v86(|a| a.int(0xF8).unwrap());
    let (_, s) = m.run_v86(IOPL3);
    assert_gp(s, 0);
}

#[test]
fn in_out_in_v86_use_only_the_io_bitmap() {
    for (iopl, allowed) in [(3u32, false), (0, true)] {
        let mut m = Pm::new();
        if allowed {
            m.allow_ports(0x80, 1);
        }
        m.v86(|a| {
            a.in_(al, 0x80).unwrap();
            a.int3().unwrap();
        });
        let mut io = Ports::default();
        let (_, s) = m.run_io(|a| enter_v86(a, iopl << 12), |_| {}, &mut io);
        if allowed {
            assert_int3(s);
            assert_eq!(io.0, [0x80]);
        } else {
            assert_gp(s, 0);
            assert!(io.0.is_empty());
        }
    }
}

#[test]
fn pvi_cli_sti_at_cpl_3_change_vif() {
    let mut m = Pm::new();
    m.cr4 = CR4_PVI;
    m.cpl = 3;
    m.eflags = IF;
    let (c, s) = m.run(|a| {
        a.cli().unwrap();
        a.pushfd().unwrap();
        a.sti().unwrap();
        a.int3().unwrap();
    });
    assert_int3(s);
    assert_eq!(eflags(&c) & (IF | VIF), IF | VIF);
    assert_eq!(
        m32(&c, 0x8000 - 4) & (IF | VIF),
        IF,
        "after CLI: VIF 0, IF 1"
    );
}

#[test]
fn pvi_sti_with_vip_is_gp0_and_without_pvi_cli_is_gp0() {
    let mut m = Pm::new();
    m.cr4 = CR4_PVI;
    m.cpl = 3;
    m.eflags = VIP;
    let (_, s) = m.run(|a| a.sti().unwrap());
    assert_gp(s, 0);
    let mut m = Pm::new();
    m.cpl = 3;
    let (_, s) = m.run(|a| a.cli().unwrap());
    assert_gp(s, 0);
}

#[test]
fn pvi_does_not_apply_below_cpl_3() {
    let mut m = Pm::new();
    m.cr4 = CR4_PVI;
    m.cpl = 1;
    let (c, s) = m.run(|a| a.cli().unwrap());
    assert_gp(s, 0);
    assert_eq!(c.core.regs.eip, CODE);
}

#[test]
fn data_segments_nulled_by_an_interrupt_from_v86_fault_when_the_handler_uses_them() {
    // SDM Vol. 3 §20.3.1.1: the processor loads DS, ES, FS and GS with null selectors
    // when it leaves v8086 mode for the handler; an access through one is #GP(0).
    let mut m = Pm::new();
    m.deliver = true;
    m.v86(|a| a.int(0x40).unwrap());
    let (mut c, s) = m.run_v86(IOPL3);
    assert_eq!(s, StopReason::Halted);
    assert_eq!(c.core.regs.eip, handler_done(0x40));
    // The handler goes on with MOV EAX, [DS:0].
    c.core
        .mem
        .load(
            vtx32_mmu::PhysAddr(u64::from(handler_done(0x40))),
            &[0xA1, 0, 0, 0, 0],
        )
        .unwrap();
    c.core.halted = false;
    c.stop_on_exception = true;
    let s = c.run(
        &mut vtx32_cpu::NoPorts,
        vtx32_cpu::RunLimits {
            max_instructions: c.core.instructions + 10,
        },
    );
    assert_gp(s, 0);
}
