//! Debug (SDM Vol. 3 ch. 17): MOV to/from DRn (fixed bits of DR6/DR7, DR4/DR5 aliasing
//! and #UD with CR4.DE, #DB for DR7.GD, #GP at CPL 3), instruction breakpoints and RF, data
//! breakpoints (R/W 01 and 11, LEN 1/2/4 with alignment, stack pushes, REP iterations),
//! I/O breakpoints with CR4.DE, single-step (POPF, INT n, MOV SS, IRET), ICEBP, the RF
//! image pushed by faults, and the order of simultaneous debug events (§6.9, Table 6-2).
//!
//! Each case prints its name; the #DB handler prints one line per #DB: DR6, the pushed EIP
//! as an offset from the case's start label, and the pushed EFLAGS. It then writes
//! DR6 = FFFF0FF0 and returns, setting RF in the EFLAGS image when [`SET_RF`] is non-zero
//! and the #DB is not a single-step (as a debugger does to resume after a code breakpoint).

use crate::romkit::*;
use iced_x86::code_asm::*;

/// The address of the running case's start label (EIPs are printed relative to it).
const REF: u32 = FREE_LOW;
/// Non-zero: the #DB handler resumes with RF set (see the module docs).
const SET_RF: u32 = FREE_LOW + 4;
/// #DB count, to stop a runaway case.
const COUNT: u32 = FREE_LOW + 8;
/// DR6 of the #DB being handled.
const LAST_DR6: u32 = FREE_LOW + 12;
/// Breakpoint targets.
const DATA: u32 = FREE_LOW + 0x1000;

const TF: u32 = 1 << 8;
const RF: u32 = 1 << 16;
const DR6_BS: u32 = 1 << 14;

/// DR7 bits enabling breakpoint `n` (the L bit) with R/W `rw` and LEN `len`.
fn dr7_bits(n: u32, rw: u32, len: u32) -> u32 {
    (1 << (2 * n)) | (rw << (16 + 4 * n)) | (len << (18 + 4 * n))
}

pub fn rom() -> Asm<Vec<u8>> {
    let mut r = Rom::new("debug")?;
    handlers(&mut r)?;
    registers(&mut r)?;
    privilege(&mut r)?;
    code_breakpoints(&mut r)?;
    data_breakpoints(&mut r)?;
    io_breakpoints(&mut r)?;
    single_step(&mut r)?;
    combined(&mut r)?;
    implicit_accesses(&mut r)?;
    task_switch(&mut r)?;
    r.finish()
}

/// Starts a case: prints its name and makes the following code the EIP reference.
fn case(r: &mut Rom, name: &str) -> Asm {
    r.print(&format!("{name}\n"))?;
    let mut start = r.label();
    r.address_of(eax, start)?;
    r.a.mov(dword_ptr(REF), eax)?;
    r.a.mov(dword_ptr(SET_RF), 0u32)?;
    r.a.mov(dword_ptr(COUNT), 0u32)?;
    r.a.set_label(&mut start)?;
    r.a.zero_bytes()
}

/// MOV DRn, EAX with `v`.
fn set_dr(r: &mut Rom, n: u32, v: u32) -> Asm {
    r.a.mov(eax, v)?;
    match n {
        0 => r.a.mov(dr0, eax),
        1 => r.a.mov(dr1, eax),
        2 => r.a.mov(dr2, eax),
        3 => r.a.mov(dr3, eax),
        6 => r.a.mov(dr6, eax),
        _ => r.a.mov(dr7, eax),
    }
}

/// Breakpoint `n` at the address of `l`.
fn set_dr_to(r: &mut Rom, n: u32, l: CodeLabel) -> Asm {
    r.address_of(eax, l)?;
    match n {
        0 => r.a.mov(dr0, eax),
        1 => r.a.mov(dr1, eax),
        2 => r.a.mov(dr2, eax),
        _ => r.a.mov(dr3, eax),
    }
}

fn disarm(r: &mut Rom) -> Asm {
    set_dr(r, 7, 0)
}

/// Sets TF with POPFD (the POPFD itself is not trapped).
fn set_tf(r: &mut Rom) -> Asm {
    r.a.pushfd()?;
    r.a.or(dword_ptr(esp), TF)?;
    r.a.popfd()
}

/// Clears TF with POPFD (trapped, as TF was set before it).
fn clear_tf(r: &mut Rom) -> Asm {
    r.a.pushfd()?;
    r.a.and(dword_ptr(esp), !TF)?;
    r.a.popfd()
}

fn set_cr4_de(r: &mut Rom, on: bool) -> Asm {
    r.a.mov(eax, cr4)?;
    if on {
        r.a.or(eax, 8)?;
    } else {
        r.a.and(eax, !8u32)?;
    }
    r.a.mov(cr4, eax)
}

/// The #DB handler (vector 1, DPL 0 interrupt gate), the #BR handler (prints the pushed
/// EIP and EFLAGS of the fault, then ends the case) and an INT 0x31 handler.
fn handlers(r: &mut Rom) -> Asm {
    let mut over = r.label();
    let mut db = r.label();
    let mut br = r.label();
    let mut int31 = r.label();
    r.a.jmp(over)?;

    r.a.set_label(&mut db)?;
    r.a.push(eax)?;
    r.a.mov(eax, dr6)?;
    r.a.mov(dword_ptr(LAST_DR6), eax)?;
    r.print_reg("#DB dr6", eax)?;
    r.a.mov(eax, dword_ptr(esp + 4))?;
    r.a.sub(eax, dword_ptr(REF))?;
    r.print_reg("eip+", eax)?;
    r.a.mov(eax, dword_ptr(esp + 12))?;
    r.print_reg("fl", eax)?;
    r.newline()?;
    r.a.mov(eax, 0xFFFF_0FF0u32)?;
    r.a.mov(dr6, eax)?;
    let mut keep = r.label();
    let mut runaway = r.label();
    r.a.inc(dword_ptr(COUNT))?;
    r.a.cmp(dword_ptr(COUNT), 40)?;
    r.a.ja(runaway)?;
    r.a.cmp(dword_ptr(SET_RF), 0)?;
    r.a.je(keep)?;
    r.a.test(dword_ptr(LAST_DR6), DR6_BS)?;
    r.a.jnz(keep)?;
    r.a.or(dword_ptr(esp + 12), RF)?;
    r.a.set_label(&mut keep)?;
    r.a.pop(eax)?;
    r.a.iretd()?;
    r.a.set_label(&mut runaway)?;
    disarm(r)?;
    r.print("runaway\n")?;
    r.resume()?;

    r.a.set_label(&mut br)?;
    r.a.mov(eax, dword_ptr(esp))?;
    r.a.sub(eax, dword_ptr(REF))?;
    r.print("#BR ")?;
    r.print_reg("eip+", eax)?;
    r.a.mov(eax, dword_ptr(esp + 8))?;
    r.print_reg("fl", eax)?;
    r.newline()?;
    r.resume()?;

    r.a.set_label(&mut int31)?;
    r.print("int 31\n")?;
    r.a.iretd()?;

    r.a.set_label(&mut over)?;
    r.set_idt_gate(1, CODE0, db, access::INT_GATE32)?;
    r.set_idt_gate(5, CODE0, br, access::INT_GATE32)?;
    r.set_idt_gate(0x31, CODE0, int31, access::INT_GATE32)
}

/// Reset values and the fixed bits of DR6/DR7; DR4/DR5 alias DR6/DR7 unless CR4.DE.
fn registers(r: &mut Rom) -> Asm {
    case(r, "registers")?;
    r.a.mov(eax, dr6)?;
    r.print_reg("dr6", eax)?;
    r.a.mov(eax, dr7)?;
    r.print_reg("dr7", eax)?;
    r.newline()?;
    for v in [0u32, 0xFFFF_FFFF, 0x0000_1000] {
        set_dr(r, 6, v)?;
        r.a.mov(eax, dr6)?;
        r.print_reg(&format!("dr6<-{v:08X}"), eax)?;
    }
    r.newline()?;
    // Bits 11, 12, 14, 15 reserved (0), 10 reads 1; GD (bit 13) left clear here.
    for v in [0u32, 0x0000_DC00, 0xFFFF_00FF] {
        set_dr(r, 7, v)?;
        r.a.mov(eax, dr7)?;
        r.print_reg(&format!("dr7<-{v:08X}"), eax)?;
    }
    disarm(r)?;
    r.newline()?;
    set_dr(r, 3, 0x8765_4321)?;
    r.a.mov(eax, dr3)?;
    r.print_reg("dr3", eax)?;
    // MOV DR5, EAX (0F 23 E8) and MOV EBX, DR4 (0F 21 E3): the DR7/DR6 aliases.
    r.a.mov(eax, 0x0000_0300u32)?;
    r.a.db(&[0x0F, 0x23, 0xE8])?;
    r.a.mov(eax, dr7)?;
    r.print_reg("dr7 after dr5<-300", eax)?;
    disarm(r)?;
    set_dr(r, 6, 0x0000_000A)?;
    r.a.db(&[0x0F, 0x21, 0xE3])?;
    r.print_reg("dr4", ebx)?;
    set_dr(r, 6, 0)?;
    r.newline()?;
    // With CR4.DE, DR4/DR5 are #UD.
    set_cr4_de(r, true)?;
    r.expect_fault(|r| r.a.db(&[0x0F, 0x21, 0xE3]))?;
    r.expect_fault(|r| r.a.db(&[0x0F, 0x23, 0xE8]))?;
    set_cr4_de(r, false)
}

/// #GP(0) at CPL 3; DR7.GD faults the next access (#DB, BD) before the CPL check; ICEBP
/// delivers #DB without the gate DPL check while INT 1 is #GP.
fn privilege(r: &mut Rom) -> Asm {
    case(r, "cpl3")?;
    r.in_ring(3, |r| r.a.mov(eax, dr7))?;
    r.in_ring(3, |r| r.a.mov(dr0, eax))?;

    case(r, "general detect")?;
    set_dr(r, 7, 1 << 13)?;
    r.a.mov(eax, dr0)?; // #DB, then runs after the handler (GD cleared)
    r.a.mov(eax, dr7)?;
    r.print_reg("dr7", eax)?;
    r.newline()?;
    set_dr(r, 7, 1 << 13)?;
    r.in_ring(3, |r| r.a.mov(eax, dr7))?; // #DB (GD), then #GP at CPL 3
    r.a.mov(eax, dr7)?;
    r.print_reg("dr7", eax)?;
    r.newline()?;

    case(r, "icebp")?;
    r.in_ring(3, |r| {
        r.a.db(&[0xF1])?;
        r.a.int(1)
    })?;
    r.a.mov(eax, dr6)?;
    r.print_reg("dr6", eax)?;
    r.newline()
}

/// Instruction breakpoints: a fault before the instruction, RF (set by the handler in the
/// image) lets it run once; G enables too; LEN is ignored-as-1 by software convention.
fn code_breakpoints(r: &mut Rom) -> Asm {
    case(r, "code breakpoint")?;
    let mut target = r.label();
    r.a.mov(dword_ptr(SET_RF), 1u32)?;
    set_dr_to(r, 0, target)?;
    set_dr(r, 7, dr7_bits(0, 0, 0))?;
    r.a.mov(ecx, 0u32)?;
    r.a.nop()?;
    r.a.set_label(&mut target)?;
    r.a.inc(ecx)?;
    r.a.nop()?;
    disarm(r)?;
    r.print_reg("ecx", ecx)?;
    r.a.pushfd()?;
    r.a.pop(eax)?;
    r.print_reg("fl", eax)?;
    r.newline()?;

    case(r, "code breakpoint G2, not enabled DR0")?;
    let mut target = r.label();
    r.a.mov(dword_ptr(SET_RF), 1u32)?;
    set_dr_to(r, 2, target)?;
    set_dr_to(r, 0, target)?;
    set_dr(r, 7, 2 << 4)?; // G2; DR0 (R/W 00) matches but is not enabled
    r.a.nop()?;
    r.a.set_label(&mut target)?;
    r.a.nop()?;
    disarm(r)?;

    case(r, "code breakpoint without RF in the image")?;
    // The handler returns with RF = 0: the breakpoint fires again until it gives up.
    r.expect_fault(|r| {
        let mut target = r.label();
        set_dr_to(r, 1, target)?;
        r.a.mov(dword_ptr(COUNT), 38u32)?;
        set_dr(r, 7, dr7_bits(1, 0, 0))?;
        r.a.set_label(&mut target)?;
        r.a.nop()
    })?;
    disarm(r)
}

/// Data breakpoints: traps after the access; R/W 01 ignores reads; LEN alignment.
fn data_breakpoints(r: &mut Rom) -> Asm {
    case(r, "data write")?;
    set_dr(r, 1, DATA)?;
    set_dr(r, 7, dr7_bits(1, 0b01, 0b11))?;
    r.a.mov(eax, dword_ptr(DATA))?; // a read: no
    r.a.mov(byte_ptr(DATA + 3), 0x5Au32)?; // yes
    r.a.mov(byte_ptr(DATA + 4), 0x5Au32)?; // beyond: no
    r.a.add(dword_ptr(DATA), 1)?; // read-modify-write: yes
    disarm(r)?;

    case(r, "data read/write, LEN 2 at an odd address")?;
    set_dr(r, 2, DATA + 0x11)?; // aligned to DATA+0x10..0x11
    set_dr(r, 7, dr7_bits(2, 0b11, 0b01))?;
    r.a.mov(ax, word_ptr(DATA + 0x0F))?; // 0F-10: yes
    r.a.mov(al, byte_ptr(DATA + 0x12))?; // no
    r.a.mov(eax, dword_ptr(DATA + 0x0C))?; // 0C-0F: no
    r.a.mov(byte_ptr(DATA + 0x11), al)?; // yes
    disarm(r)?;

    case(r, "data LEN 1 inside a dword access; two breakpoints")?;
    set_dr(r, 3, DATA + 0x22)?;
    set_dr(r, 0, DATA + 0x20)?;
    set_dr(r, 7, dr7_bits(3, 0b11, 0b00) | dr7_bits(0, 0b11, 0b11))?;
    r.a.mov(eax, dword_ptr(DATA + 0x20))?; // both
    r.a.mov(al, byte_ptr(DATA + 0x21))?; // DR0 only
    disarm(r)?;

    case(r, "stack push")?;
    r.a.mov(eax, esp)?;
    r.a.sub(eax, 4)?;
    r.a.mov(dr0, eax)?;
    set_dr(r, 7, dr7_bits(0, 0b01, 0b11))?;
    r.a.push(ebx)?; // yes
    r.a.pop(ebx)?; // a read: no
    disarm(r)?;

    case(r, "rep movsb")?;
    r.a.mov(dword_ptr(SET_RF), 0u32)?;
    set_dr(r, 0, DATA + 0x102)?;
    set_dr(r, 7, dr7_bits(0, 0b01, 0b00))?;
    r.a.mov(esi, DATA)?;
    r.a.mov(edi, DATA + 0x100)?;
    r.a.mov(ecx, 5u32)?;
    r.a.cld()?;
    r.a.rep().movsb()?; // one #DB after the 3rd iteration, on the REP, then it completes
    disarm(r)?;
    r.print_reg("ecx", ecx)?;
    r.print_reg("edi", edi)?;
    r.newline()
}

/// I/O breakpoints (R/W 10) with CR4.DE = 1.
fn io_breakpoints(r: &mut Rom) -> Asm {
    case(r, "i/o breakpoint")?;
    set_cr4_de(r, true)?;
    set_dr(r, 2, 0x80)?;
    set_dr(r, 7, dr7_bits(2, 0b10, 0b00))?;
    r.a.out(0x80, al)?; // yes
    r.a.in_(al, 0x81)?; // no
    r.a.mov(edx, 0x7Fu32)?;
    r.a.out(dx, ax)?; // ports 7F-80: yes
    disarm(r)?;
    set_cr4_de(r, false)
}

/// Single-step: not after the POPF that sets TF, after each following instruction
/// (including the POPF that clears it); INT n runs its handler untraced; MOV SS delays the
/// trap by one instruction; IRET that sets TF is not trapped.
fn single_step(r: &mut Rom) -> Asm {
    case(r, "single step")?;
    set_tf(r)?;
    r.a.nop()?;
    r.a.inc(ecx)?;
    clear_tf(r)?;

    case(r, "single step over int n")?;
    set_tf(r)?;
    r.a.int(0x31)?;
    clear_tf(r)?;

    case(r, "single step over mov ss")?;
    r.a.mov(eax, ss)?;
    set_tf(r)?;
    r.a.mov(ss, ax)?;
    r.a.nop()?;
    clear_tf(r)?;

    case(r, "single step over pop ss")?;
    r.a.push(ss)?;
    set_tf(r)?;
    r.a.pop(ss)?;
    r.a.nop()?;
    clear_tf(r)?;

    case(r, "single step into a fault")?;
    // The faulting BOUND is not trapped; the #BR image has TF and RF.
    r.expect_fault(|r| {
        r.a.mov(dword_ptr(DATA), 1u32)?;
        r.a.mov(dword_ptr(DATA + 4), 2u32)?;
        r.a.mov(eax, 7u32)?;
        set_tf(r)?;
        r.a.bound(eax, qword_ptr(DATA))
    })?;

    case(r, "single step over int3")?;
    r.expect_fault(|r| {
        set_tf(r)?;
        r.a.int3()
    })?;

    case(r, "single step over icebp and a not-taken into")?;
    set_tf(r)?;
    r.a.db(&[0xF1])?; // #DB (no DR6 bits), handler untraced; traced again after it
    r.a.xor(eax, eax)?; // OF = 0
    r.a.db(&[0xCE])?; // INTO, not taken: traced
    clear_tf(r)?;

    case(r, "iret setting tf")?;
    let mut back = r.label();
    r.a.pushfd()?;
    r.a.or(dword_ptr(esp), TF)?;
    r.a.push(u32::from(CODE0))?;
    r.address_of(eax, back)?;
    r.a.push(eax)?;
    r.a.iretd()?; // not trapped
    r.a.set_label(&mut back)?;
    r.a.nop()?;
    clear_tf(r)?;

    case(r, "fault pushes rf")?;
    r.expect_fault(|r| {
        r.a.mov(dword_ptr(DATA), 1u32)?;
        r.a.mov(dword_ptr(DATA + 4), 2u32)?;
        r.a.mov(eax, 7u32)?;
        r.a.bound(eax, qword_ptr(DATA))
    })
}

/// Several debug conditions at once (Table 6-2).
fn combined(r: &mut Rom) -> Asm {
    case(r, "single step and a data breakpoint")?;
    set_dr(r, 1, DATA)?;
    set_dr(r, 7, dr7_bits(1, 0b11, 0b11))?;
    set_tf(r)?;
    r.a.mov(dword_ptr(DATA), ecx)?; // one #DB: BS and B1
    clear_tf(r)?;
    disarm(r)?;

    case(r, "single step then a code breakpoint")?;
    // The trap of the NOP is reported first (EIP on the breakpoint); returning there (RF
    // = 0) the code breakpoint faults; the handler sets RF and the instruction is traced.
    let mut target = r.label();
    r.a.mov(dword_ptr(SET_RF), 1u32)?;
    set_dr_to(r, 0, target)?;
    set_dr(r, 7, dr7_bits(0, 0, 0))?;
    set_tf(r)?;
    r.a.nop()?;
    r.a.set_label(&mut target)?;
    r.a.nop()?;
    clear_tf(r)?;
    disarm(r)?;

    case(r, "code breakpoint in the shadow of mov ss")?;
    let mut target = r.label();
    set_dr_to(r, 0, target)?;
    set_dr(r, 7, dr7_bits(0, 0, 0))?;
    r.a.mov(eax, ss)?;
    r.a.mov(ss, ax)?;
    r.a.set_label(&mut target)?;
    r.a.nop()?; // not reported
    r.a.nop()?;
    disarm(r)?;

    case(r, "code then data breakpoint in one instruction")?;
    let mut target = r.label();
    r.a.mov(dword_ptr(SET_RF), 1u32)?;
    set_dr_to(r, 0, target)?;
    set_dr(r, 1, DATA)?;
    set_dr(r, 7, dr7_bits(0, 0, 0) | dr7_bits(1, 0b01, 0b11))?;
    r.a.set_label(&mut target)?;
    r.a.mov(dword_ptr(DATA), ecx)?;
    disarm(r)
}

/// Data breakpoints on accesses the instruction makes implicitly: a descriptor read by a
/// segment load, the stack pushes of INT n.
fn implicit_accesses(r: &mut Rom) -> Asm {
    case(r, "descriptor read by a segment load")?;
    set_dr(r, 0, GDT + u32::from(DATA0))?;
    set_dr(r, 7, dr7_bits(0, 0b11, 0b11))?;
    r.a.mov(eax, u32::from(DATA0))?;
    r.a.mov(es, ax)?;
    r.a.nop()?;
    disarm(r)?;

    case(r, "stack push of int n")?;
    r.a.mov(eax, esp)?;
    r.a.sub(eax, 4)?; // where the EFLAGS image goes
    r.a.mov(dr0, eax)?;
    set_dr(r, 7, dr7_bits(0, 0b01, 0b11))?;
    r.a.int(0x31)?;
    r.a.nop()?;
    disarm(r)
}

/// A test TSS (32-bit) at `T_BASE`, selector [`FREE_SEL`].
const T_BASE: u32 = FREE_LOW + 0x2000;
const T_STACK: u32 = 0x7_0000;

/// A JMP to a task whose TSS has the T flag: #DB with BT before its first instruction;
/// the switch clears L0 (DR7 shows G1 only); back with a JMP to the kit's task.
fn task_switch(r: &mut Rom) -> Asm {
    case(r, "task switch to a TSS with T")?;
    r.set_descriptor(FREE_SEL, T_BASE, 0x67, access::TSS32, 0)?;
    let mut entry = r.label();
    let mut over = r.label();
    r.a.jmp(over)?;
    r.a.set_label(&mut entry)?;
    r.a.mov(eax, dr7)?;
    r.print_reg("new task dr7", eax)?;
    r.a.str(eax)?;
    r.print_reg("tr", eax)?;
    r.newline()?;
    r.a.jmp_far(TSS_SEL, 0)?;
    r.a.set_label(&mut over)?;
    for k in 0..0x68 / 4 {
        r.a.mov(dword_ptr(T_BASE + 4 * k), 0u32)?;
    }
    r.address_of(eax, entry)?;
    r.a.mov(dword_ptr(T_BASE + 0x20), eax)?;
    r.a.mov(dword_ptr(T_BASE + 0x24), 2u32)?;
    r.a.mov(dword_ptr(T_BASE + 0x38), T_STACK)?;
    for k in 0..6u32 {
        let sel = if k == 1 { CODE0 } else { DATA0 };
        r.a.mov(word_ptr(T_BASE + 0x48 + 4 * k), u32::from(sel))?;
    }
    r.a.mov(word_ptr(T_BASE + 0x64), 1u32)?; // T
                                             // L0 and G1: instruction breakpoints that never hit.
    set_dr(r, 0, 0xFFFF_FFF0)?;
    set_dr(r, 1, 0xFFFF_FFF0)?;
    set_dr(r, 7, 1 | 8)?;
    r.a.jmp_far(FREE_SEL, 0)?;
    r.a.mov(eax, dr7)?;
    r.print_reg("back: dr7", eax)?;
    r.a.str(eax)?;
    r.print_reg("tr", eax)?;
    r.newline()?;
    r.a.clts()?;
    disarm(r)
}
