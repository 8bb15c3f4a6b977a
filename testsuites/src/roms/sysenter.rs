//! SYSENTER / SYSEXIT (SDM Vol. 2 SYSENTER, SYSEXIT; Vol. 3 §5.8.7): CPUID.1:EDX.SEP, the
//! MSRs 174h-176h, the #GP(0) rules (SYSENTER_CS null, SYSEXIT at CPL 3 or in v86), a
//! ring 0 -> 3 -> 0 round trip (selectors, ESP, EFLAGS.IF), and SYSENTER from v86 (VM
//! cleared, data segments kept).

use super::v86::{copy_bytes, set_eflags, IF, IOPL3, VM};
use crate::romkit::*;
use iced_x86::code_asm::*;

/// SYSENTER_CS: four consecutive GDT entries (ring-0 code and data, ring-3 code and data).
const SYS_CS: u16 = FREE_SEL;
/// The ring-0 stack SYSENTER switches to.
const SYS_ESP: u32 = STACK0 - 0x1000;
/// Where the ring-0 ESP is kept across a round trip.
const SAVED_ESP: u32 = FREE_LOW;
/// Virtual-8086 code for the v86 cases: 2000:0000.
const V86_SEG: u32 = 0x2000;

fn wrmsr(r: &mut Rom, msr: u32, v: AsmRegister32) -> Asm {
    r.a.mov(eax, v)?;
    r.a.mov(ecx, msr)?;
    r.a.xor(edx, edx)?;
    r.a.wrmsr()
}

fn wrmsr_imm(r: &mut Rom, msr: u32, v: u32) -> Asm {
    r.a.mov(eax, v)?;
    wrmsr(r, msr, eax)
}

/// Prints CS, SS, ESP and EFLAGS.
fn print_state(r: &mut Rom) -> Asm {
    r.a.xor(eax, eax)?;
    r.a.mov(ax, cs)?;
    r.print_reg("cs", eax)?;
    r.a.mov(ax, ss)?;
    r.print_reg("ss", eax)?;
    r.a.mov(eax, esp)?;
    r.print_reg("esp", eax)?;
    r.a.pushfd()?;
    r.a.pop(eax)?;
    r.print_reg("fl", eax)
}

/// Back to the kit's flat ring-0 state after landing from SYSENTER: CS = CODE0 (far
/// return), SS and data segments DATA0, the saved ESP, EFLAGS 2.
fn back_to_kit(r: &mut Rom) -> Asm {
    let mut retf = r.label();
    let mut after = r.label();
    r.a.push(u32::from(CODE0))?;
    r.a.call(retf)?;
    r.a.jmp(after)?;
    r.a.set_label(&mut retf)?;
    r.a.retf()?;
    r.a.set_label(&mut after)?;
    r.a.mov(eax, u32::from(DATA0))?;
    for s in [ds, es, fs, gs, ss] {
        r.a.mov(s, ax)?;
    }
    r.a.mov(esp, dword_ptr(SAVED_ESP))?;
    set_eflags(r, 0)
}

/// Sets SYSENTER_EIP to the code `entry` emits (reached by SYSENTER), without running it.
fn sysenter_entry(r: &mut Rom, entry: impl FnOnce(&mut Rom) -> Asm) -> Asm {
    let mut over = r.label();
    r.a.call(over)?; // pushes the entry's address
    entry(r)?;
    r.a.set_label(&mut over)?;
    r.a.pop(ebx)?;
    wrmsr(r, 0x176, ebx)
}

/// Enters v86 at 2000:0000 (stack 2000:0F00, data segments 2000) with `eflags`.
fn enter_v86(r: &mut Rom, eflags: u32, code: &[u8]) -> Asm {
    copy_bytes(r, V86_SEG << 4, code)?;
    for v in [
        V86_SEG,
        V86_SEG,
        V86_SEG,
        V86_SEG,
        V86_SEG,
        0xF00,
        eflags | VM | 2,
        V86_SEG,
        0,
    ] {
        r.a.push(v)?;
    }
    r.a.iretd()
}

pub fn rom() -> Asm<Vec<u8>> {
    let mut r = Rom::new("sysenter")?;
    for (k, (acc, ring)) in [
        (access::CODE, 0),
        (access::DATA, 0),
        (access::CODE, 3),
        (access::DATA, 3),
    ]
    .into_iter()
    .enumerate()
    {
        let sel = SYS_CS + 8 * k as u16;
        r.set_descriptor(sel, 0, 0xF_FFFF, acc | access::dpl(ring), FLAGS_32_PAGES)?;
    }
    // CPUID.1:EDX.SEP (bit 11) and the MSRs.
    r.a.mov(eax, 1u32)?;
    r.a.cpuid()?;
    r.a.and(edx, 1u32 << 11)?;
    r.print_reg("sep", edx)?;
    wrmsr_imm(&mut r, 0x174, 0x1234_0000 | u32::from(SYS_CS))?;
    wrmsr_imm(&mut r, 0x175, SYS_ESP)?;
    for msr in [0x174u32, 0x175] {
        r.a.mov(ecx, msr)?;
        r.a.rdmsr()?;
        r.print_reg(&format!("msr{msr:x}"), eax)?;
    }
    r.newline()?;

    // #GP(0) rules.
    r.print("-- sysenter with sysenter_cs 0\n")?;
    wrmsr_imm(&mut r, 0x174, 0)?;
    r.expect_fault(|r| r.a.sysenter())?;
    r.print("-- sysenter with sysenter_cs 3 (null with rpl 3)\n")?;
    wrmsr_imm(&mut r, 0x174, 3)?;
    r.expect_fault(|r| r.a.sysenter())?;
    r.print("-- sysexit with sysenter_cs 0\n")?;
    r.expect_fault(|r| r.a.sysexit())?;
    wrmsr_imm(&mut r, 0x174, u32::from(SYS_CS))?;
    r.print("-- sysexit at ring 3\n")?;
    r.in_ring(3, |r| r.a.sysexit())?;

    // Round trip: SYSEXIT to ring 3 (CS = SYSENTER_CS + 16 | 3, SS = + 24 | 3, ESP = ECX,
    // EIP = EDX), then SYSENTER back (CS = SYSENTER_CS, SS = + 8, ESP/EIP from the MSRs,
    // IF cleared).
    r.print("-- sysexit to ring 3, sysenter back\n")?;
    let mut done = r.label();
    r.a.mov(dword_ptr(SAVED_ESP), esp)?;
    sysenter_entry(&mut r, |r| {
        r.print("ring 0: ")?;
        print_state(r)?;
        r.newline()?;
        back_to_kit(r)?;
        r.a.jmp(done)
    })?;
    let mut over = r.label();
    r.a.call(over)?; // pushes the ring-3 code's address
    r.print("ring 3: ")?;
    print_state(&mut r)?;
    r.newline()?;
    r.a.sysenter()?;
    r.a.set_label(&mut over)?;
    r.a.pop(edx)?;
    r.a.mov(ecx, STACK3)?;
    set_eflags(&mut r, IF)?;
    r.a.sysexit()?;
    r.a.set_label(&mut done)?;

    // From virtual-8086 mode: SYSENTER leaves it (VM cleared, DS/ES/FS/GS untouched);
    // SYSEXIT there is #GP(0).
    r.print("-- sysenter from v86 (iopl 0)\n")?;
    let mut done = r.label();
    r.a.mov(dword_ptr(SAVED_ESP), esp)?;
    sysenter_entry(&mut r, |r| {
        r.print("ring 0: ")?;
        print_state(r)?;
        r.a.xor(eax, eax)?;
        r.a.mov(ax, ds)?;
        r.print_reg("ds", eax)?;
        r.a.mov(ax, gs)?;
        r.print_reg("gs", eax)?;
        r.newline()?;
        back_to_kit(r)?;
        r.a.jmp(done)
    })?;
    enter_v86(&mut r, 0, &[0x0F, 0x34])?;
    r.a.set_label(&mut done)?;
    r.print("-- sysexit in v86 (iopl 3)\n")?;
    r.expect_fault(|r| enter_v86(r, IOPL3, &[0x0F, 0x35]))?;
    set_eflags(&mut r, 0)?;
    r.finish()
}
