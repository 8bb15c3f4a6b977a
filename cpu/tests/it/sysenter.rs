//! SYSENTER / SYSEXIT (SDM Vol. 2 SYSENTER, SYSEXIT; Vol. 3 §5.8.7) and their MSRs.

use crate::pm;

use iced_x86::code_asm::*;
use pm::*;
use vtx32_cpu::{SegAttrs, SegReg, StopReason};

/// Ring-0 code: IA32_SYSENTER_CS/ESP/EIP := cs, esp, eip.
fn set_msrs(a: &mut CodeAssembler, sel: u32, stack: u32, entry: u32) {
    for (msr, v) in [(0x174u32, sel), (0x175, stack), (0x176, entry)] {
        a.mov(ecx, msr).unwrap();
        a.mov(eax, v).unwrap();
        a.xor(edx, edx).unwrap();
        a.wrmsr().unwrap();
    }
}

/// Ring-0 entry point of SYSENTER in these tests: an INT3 at 0x6000.
const ENTRY: u32 = 0x6000;
/// Ring-3 code reached by SYSEXIT: 0x7000.
const USER: u32 = 0x7000;

fn seg(c: &vtx32_cpu::Cpu, s: SegReg) -> vtx32_cpu::Segment {
    c.core.sregs.seg[s as usize]
}

fn assert_flat(c: &vtx32_cpu::Cpu, s: SegReg, sel: u16, dpl: u8, code: bool) {
    let x = seg(c, s);
    assert_eq!(
        (x.selector, x.base, x.limit),
        (sel, 0, 0xFFFF_FFFF),
        "{s:?}"
    );
    assert_eq!(x.attrs.dpl(), dpl, "{s:?}");
    assert_eq!(x.attrs.contains(SegAttrs::CODE), code, "{s:?}");
    assert!(x
        .attrs
        .contains(SegAttrs::DB | SegAttrs::G | SegAttrs::P | SegAttrs::S));
    assert!(
        x.attrs.contains(SegAttrs::ACCESSED | SegAttrs::RW),
        "{s:?} type 11 / 3"
    );
}

#[test]
fn cpuid_reports_sep_and_the_msrs_read_back() {
    let m = Pm::new();
    let (c, s) = m.run(|a| {
        set_msrs(a, 0x1234_0008, 0x8765_4321, 0xCAFE_F00D);
        a.mov(eax, 1u32).unwrap();
        a.cpuid().unwrap();
        a.mov(esi, edx).unwrap();
        a.mov(ecx, 0x174u32).unwrap();
        a.rdmsr().unwrap();
        a.mov(edi, eax).unwrap();
        a.mov(ecx, 0x176u32).unwrap();
        a.rdmsr().unwrap();
    });
    assert_eq!(s, StopReason::Halted);
    let r = &c.core.regs.gpr;
    assert_ne!(r[6] & (1 << 11), 0, "CPUID.1:EDX.SEP");
    assert_eq!(r[7], 0x1234_0008, "the MSR keeps all 32 bits");
    assert_eq!((r[0], r[2]), (0xCAFE_F00D, 0));
}

#[test]
fn sysenter_and_sysexit_load_flat_segments_and_switch_cpl() {
    let mut m = Pm::new();
    m.eflags = IF;
    m.data.push((ENTRY, vec![0xCC]));
    let mut user = CodeAssembler::new(32).unwrap();
    user.mov(ebx, esp).unwrap();
    user.mov(ebp, ss).unwrap();
    user.mov(esi, cs).unwrap();
    user.sysenter().unwrap();
    m.data.push((USER, user.assemble(u64::from(USER)).unwrap()));
    let (c, s) = m.run(|a| {
        set_msrs(a, 0x0043, 0x9000, ENTRY);
        a.mov(edx, USER).unwrap();
        a.mov(ecx, 0x5000u32).unwrap();
        a.sysexit().unwrap();
    });
    assert_int3(s);
    let r = &c.core.regs.gpr;
    // SYSEXIT: CS = (0x43 + 16) | 3, SS = (0x43 + 24) | 3, ESP = ECX, EIP = EDX.
    assert_eq!((r[3], r[5], r[6]), (0x5000, 0x5B, 0x53));
    // SYSENTER: CS = 0x40 (RPL bits cleared), SS = 0x48, ESP and EIP from the MSRs.
    assert_eq!(c.core.regs.eip, ENTRY + 1);
    assert_eq!(r[4], 0x9000);
    assert_eq!(c.core.sregs.cpl, 0);
    assert_flat(&c, SegReg::Cs, 0x40, 0, true);
    assert_flat(&c, SegReg::Ss, 0x48, 0, false);
    assert_eq!(eflags(&c) & IF, 0, "SYSENTER clears IF");
}

#[test]
fn sysexit_loads_dpl_3_flat_segments() {
    let mut m = Pm::new();
    m.data.push((USER, vec![0xCC]));
    let (c, s) = m.run(|a| {
        set_msrs(a, 0x0010, 0, 0);
        a.mov(edx, USER).unwrap();
        a.mov(ecx, 0x5000u32).unwrap();
        a.sysexit().unwrap();
    });
    assert_int3(s);
    assert_eq!(c.core.sregs.cpl, 3);
    assert_flat(&c, SegReg::Cs, 0x23, 3, true);
    assert_flat(&c, SegReg::Ss, 0x2B, 3, false);
}

#[test]
fn sysenter_with_a_null_sysenter_cs_is_gp0() {
    for sel in [0u32, 3] {
        let m = Pm::new();
        let (c, s) = m.run(|a| {
            set_msrs(a, sel, 0x9000, ENTRY);
            a.sysenter().unwrap();
        });
        assert_gp(s, 0);
        assert_eq!(c.core.sregs.seg[SegReg::Cs as usize].selector, 0x08);
    }
}

#[test]
fn sysexit_above_cpl_0_is_gp0() {
    // Ring 0 sets the MSRs, SYSEXITs to ring 3, whose SYSEXIT faults.
    let mut m = Pm::new();
    m.data.push((USER, vec![0x0F, 0x35]));
    let (c, s) = m.run(|a| {
        set_msrs(a, 0x0008, 0x9000, ENTRY);
        a.mov(edx, USER).unwrap();
        a.mov(ecx, 0x5000u32).unwrap();
        a.sysexit().unwrap();
    });
    assert_gp(s, 0);
    assert_eq!((c.core.sregs.cpl, c.core.regs.eip), (3, USER));
}

#[test]
fn sysexit_with_a_null_sysenter_cs_is_gp0() {
    let m = Pm::new();
    let (_, s) = m.run(|a| a.sysexit().unwrap());
    assert_gp(s, 0);
}

#[test]
fn sysenter_in_real_mode_is_gp0() {
    let mut m = Pm::new();
    // 16-bit code at 0x1000, run in real mode with CS = 0x0100.
    m.code16(CODE, 0, |a| {
        a.mov(ecx, 0x174u32).unwrap();
        a.mov(eax, 8u32).unwrap();
        a.xor(edx, edx).unwrap();
        a.wrmsr().unwrap();
        a.sysenter().unwrap();
    });
    let (c, s) = m.run_io(
        |_| {},
        |cpu| {
            let c = &mut cpu.core;
            c.sregs.cr0.remove(vtx32_cpu::Cr0::PE);
            c.sregs.cpl = 0;
            for sr in SegReg::ALL {
                let mut x = vtx32_cpu::Segment::real_mode(0);
                if sr == SegReg::Cs {
                    x = vtx32_cpu::Segment::real_mode(0x100);
                    x.attrs |= SegAttrs::CODE;
                }
                c.sregs.seg[sr as usize] = x;
            }
            c.regs.eip = 0;
        },
        &mut vtx32_cpu::NoPorts,
    );
    assert_gp(s, 0);
    assert_eq!(
        c.core.regs.eip,
        6 + 6 + 3 + 2,
        "faults at SYSENTER, after WRMSR"
    );
}

#[test]
fn sysenter_from_virtual_8086_mode_enters_ring_0_and_clears_vm() {
    let mut m = Pm::new();
    m.data.push((ENTRY, vec![0xCC]));
    m.v86(|a| a.sysenter().unwrap());
    let (c, s) = m.run(|a| {
        set_msrs(a, 0x0008, 0x9000, ENTRY);
        enter_v86(a, IF | RF);
    });
    assert_int3(s);
    assert_eq!(eflags(&c) & (VM | IF | RF), 0);
    assert_eq!(c.core.sregs.cpl, 0);
    assert_flat(&c, SegReg::Cs, 0x08, 0, true);
    // The data segments keep their virtual-8086 values.
    assert_eq!(seg(&c, SegReg::Ds).limit, 0xFFFF);
}

#[test]
fn sysexit_in_virtual_8086_mode_is_gp0() {
    let mut m = Pm::new();
    m.v86(|a| a.sysexit().unwrap());
    let (c, s) = m.run(|a| {
        set_msrs(a, 0x0008, 0x9000, ENTRY);
        enter_v86(a, IOPL3);
    });
    assert_gp(s, 0);
    assert_ne!(eflags(&c) & VM, 0);
}
