//! The sensitive but unprivileged instructions (Robin and Irvine 2000) behave as on silicon
//! at every CPL: they read or change the real state without faulting. SGDT, SIDT, SLDT,
//! STR, SMSW, PUSHF, POPF, PUSH CS/SS and MOV from segment registers.

use crate::common;

use common::{g, m32, run_with, CODE};
use iced_x86::code_asm::*;
use vtx32_cpu::{Cpu, Cr0, DescTable, Eflags, Exception, NoPorts, StopReason};

/// Marks the end of the body: the final HLT faults at CPL > 0, so the body loads this
/// into ESI last to prove it ran to completion.
const DONE: u32 = 0x600D_F00D;
const OUT: u32 = 0x3000;

/// Runs `build` flat at `cpl` with `eflags` (IOPL, IF) after `setup`, and checks that it
/// ran to its end: HLT at CPL 0, #GP(0) from that HLT at CPL > 0.
fn run_at(
    cpl: u8,
    eflags: Eflags,
    setup: impl FnOnce(&mut Cpu),
    build: impl FnOnce(&mut CodeAssembler),
) -> Cpu {
    let (cpu, stop) = run_with(
        |a| {
            build(a);
            a.mov(esi, DONE).unwrap();
        },
        &[],
        |cpu| {
            cpu.enter_flat32(CODE, cpl);
            cpu.core.regs.eflags = eflags | Eflags::FIXED1;
            cpu.core.regs.gpr[4] = 0x8000;
            setup(cpu);
        },
        &mut NoPorts,
    );
    let end = if cpl == 0 {
        StopReason::Halted
    } else {
        StopReason::Exception(Exception::gp(0))
    };
    assert_eq!(stop, end, "CPL {cpl}");
    assert_eq!(
        g(&cpu, 6),
        DONE,
        "CPL {cpl}: the body did not run to its end"
    );
    cpu
}

fn m16(cpu: &Cpu, a: u32) -> u32 {
    m32(cpu, a) & 0xFFFF
}

fn iopl(n: u32) -> Eflags {
    Eflags::from_bits_retain(n << 12)
}

#[test]
fn sgdt_sidt_store_the_real_registers_at_every_cpl() {
    for cpl in 0..4 {
        let cpu = run_at(
            cpl,
            Eflags::empty(),
            |cpu| {
                cpu.core.sregs.gdtr = DescTable {
                    base: 0x1234_5678,
                    limit: 0x3F,
                };
                cpu.core.sregs.idtr = DescTable {
                    base: 0x9ABC_DEF0,
                    limit: 0x7FF,
                };
            },
            |a| {
                a.mov(dword_ptr(OUT + 4), -1).unwrap();
                a.sgdt(ptr(OUT)).unwrap();
                a.sidt(ptr(OUT + 8)).unwrap();
                // 16-bit operand size: still the 32-bit base (P6 and later, SDM SGDT).
                a.db(&[0x66]).unwrap();
                a.sgdt(ptr(OUT + 16)).unwrap();
            },
        );
        assert_eq!(m16(&cpu, OUT), 0x3F, "CPL {cpl}");
        assert_eq!(m32(&cpu, OUT + 2), 0x1234_5678, "CPL {cpl}");
        assert_eq!(m16(&cpu, OUT + 8), 0x7FF, "CPL {cpl}");
        assert_eq!(m32(&cpu, OUT + 10), 0x9ABC_DEF0, "CPL {cpl}");
        assert_eq!(m32(&cpu, OUT + 18), 0x1234_5678, "CPL {cpl}");
    }
}

#[test]
fn sldt_str_store_the_real_selectors_at_every_cpl() {
    for cpl in 0..4 {
        let cpu = run_at(
            cpl,
            Eflags::empty(),
            |cpu| {
                cpu.core.sregs.ldtr.selector = 0x28;
                cpu.core.sregs.tr.selector = 0x30;
            },
            |a| {
                a.mov(eax, -1).unwrap();
                a.mov(ebx, -1).unwrap();
                a.sldt(eax).unwrap();
                a.str(bx).unwrap();
                a.mov(dword_ptr(OUT), -1).unwrap();
                a.str(word_ptr(OUT)).unwrap();
            },
        );
        assert_eq!(g(&cpu, 0), 0x28, "CPL {cpl}: SLDT r32 zero-extends");
        assert_eq!(g(&cpu, 3), 0xFFFF_0030, "CPL {cpl}: STR r16");
        assert_eq!(
            m32(&cpu, OUT),
            0xFFFF_0030,
            "CPL {cpl}: STR m16 writes 2 bytes"
        );
    }
}

#[test]
fn smsw_stores_the_real_cr0_at_every_cpl() {
    for cpl in 0..4 {
        let cpu = run_at(
            cpl,
            Eflags::empty(),
            |cpu| cpu.core.sregs.cr0 |= Cr0::TS | Cr0::MP | Cr0::NE | Cr0::WP,
            |a| {
                a.mov(eax, -1).unwrap();
                a.smsw(ax).unwrap();
                a.smsw(ebx).unwrap();
                a.mov(dword_ptr(OUT), -1).unwrap();
                a.smsw(word_ptr(OUT)).unwrap();
            },
        );
        let real = cpu.core.sregs.cr0.bits();
        assert_eq!(real & 0xFFFF, 0x3B, "PE MP TS ET NE");
        assert_eq!(
            g(&cpu, 0),
            0xFFFF_0000 | (real & 0xFFFF),
            "CPL {cpl}: SMSW r16"
        );
        assert_eq!(g(&cpu, 3), real, "CPL {cpl}: SMSW r32 (P6: all of CR0)");
        assert_eq!(
            m32(&cpu, OUT),
            0xFFFF_0000 | (real & 0xFFFF),
            "CPL {cpl}: SMSW m16"
        );
    }
}

#[test]
fn push_cs_ss_and_mov_from_them_show_the_cpl_as_rpl() {
    for cpl in 0..4u32 {
        let cpu = run_at(
            cpl as u8,
            Eflags::empty(),
            |_| {},
            |a| {
                // Fill the slots first: a 32-bit PUSH of a segment register writes only
                // the low word (SDM PUSH: "recent Core processors perform a 16-bit move").
                a.push(-1).unwrap();
                a.push(-1).unwrap();
                a.add(esp, 8).unwrap();
                a.push(cs).unwrap();
                a.push(ss).unwrap();
                a.pop(ecx).unwrap();
                a.pop(edx).unwrap();
                a.mov(eax, -1).unwrap();
                a.mov(eax, cs).unwrap();
                a.mov(ebx, -1).unwrap();
                a.mov(bx, ss).unwrap();
                a.mov(dword_ptr(OUT), -1).unwrap();
                a.mov(word_ptr(OUT), ds).unwrap();
            },
        );
        assert_eq!(g(&cpu, 2), 0xFFFF_0008 | cpl, "CPL {cpl}: PUSH CS");
        assert_eq!(g(&cpu, 1), 0xFFFF_0010 | cpl, "CPL {cpl}: PUSH SS");
        assert_eq!(
            g(&cpu, 0),
            0x08 | cpl,
            "CPL {cpl}: MOV r32, CS zero-extends"
        );
        assert_eq!(g(&cpu, 3), 0xFFFF_0010 | cpl, "CPL {cpl}: MOV r16, SS");
        assert_eq!(m32(&cpu, OUT), 0xFFFF_0010 | cpl, "CPL {cpl}: MOV m16, DS");
    }
}

#[test]
fn pushf_shows_the_real_if_and_iopl_at_every_cpl() {
    for cpl in 0..4 {
        let cpu = run_at(
            cpl,
            Eflags::IF | iopl(2) | Eflags::RF,
            |_| {},
            |a| {
                a.pushfd().unwrap();
                a.pop(eax).unwrap();
                a.mov(ebx, -1).unwrap();
                a.pushf().unwrap();
                a.pop(bx).unwrap();
            },
        );
        // RF (and VM) are cleared in the image (SDM PUSHF).
        assert_eq!(g(&cpu, 0), 0x2202, "CPL {cpl}: PUSHFD");
        assert_eq!(g(&cpu, 3), 0xFFFF_2202, "CPL {cpl}: PUSHF");
    }
}

/// POPF of an image with every flag flipped: which of IF and IOPL change depends on CPL and
/// IOPL (SDM POPF Operation); there is never a fault outside virtual-8086 mode.
#[test]
fn popf_drops_if_and_iopl_changes_silently() {
    for cpl in 0..4u32 {
        for start_iopl in [0u32, 1, 3] {
            let start = Eflags::IF | iopl(start_iopl);
            let cpu = run_at(
                cpl as u8,
                start,
                |_| {},
                |a| {
                    // IF clear, IOPL = !start_iopl, and CF DF set.
                    let image = (3 - start_iopl) << 12 | 0x401 | 0x2;
                    a.push(image as i32).unwrap();
                    a.popfd().unwrap();
                    a.pushfd().unwrap();
                    a.pop(eax).unwrap();
                },
            );
            let e = g(&cpu, 0);
            let if_changes = cpl <= start_iopl;
            let iopl_changes = cpl == 0;
            assert_eq!(e & 0x401, 0x401, "CPL {cpl} IOPL {start_iopl}: CF DF");
            assert_eq!(
                e & 0x200 == 0,
                if_changes,
                "CPL {cpl} IOPL {start_iopl}: IF"
            );
            let want_iopl = if iopl_changes {
                3 - start_iopl
            } else {
                start_iopl
            };
            assert_eq!(
                (e >> 12) & 3,
                want_iopl,
                "CPL {cpl} IOPL {start_iopl}: IOPL"
            );
        }
    }
}
