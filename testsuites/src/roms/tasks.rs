//! Task switches (SDM Vol. 3 ch. 7): JMP to a TSS and back, CALL through a task gate and
//! IRET to the previous task, INT n through an IDT task gate, an exception through a task
//! gate with its error code on the new task's stack, busy bits, NT and the back link, the
//! faults checked before the commit point (#GP, #TS, #NP) and after it (#TS, #NP, #SS
//! through task gates to handler tasks; #GP for EIP beyond the new CS limit), and a 16-bit
//! TSS. Task A is the kit's task (TR = TSS_SEL).

use crate::romkit::*;
use iced_x86::code_asm::*;

/// GDT selectors.
const TSS_B: u16 = 0x50;
const TSS_C_TS: u16 = 0x58;
const GATE_B: u16 = 0x60;
const TSS_D16: u16 = 0x68;
const TSS_B_SHORT: u16 = 0x70;
const TSS_NP: u16 = 0x78;
const DATA_NP: u16 = 0x80;
const GATE_DATA: u16 = 0x88;
const CODE_NP: u16 = 0x90;
const TSS_C_NP: u16 = 0x98;
const TSS_C_SS: u16 = 0xA0;
const SHORT_CODE: u16 = 0xA8;
const ROM_CODE: u16 = 0xB0;

/// TSS images in RAM, the far pointer used by task D, task D's save area.
const B_BASE: u32 = 0x2_0000;
const C_TS_BASE: u32 = 0x2_0100;
const C_NP_BASE: u32 = 0x2_0200;
const C_SS_BASE: u32 = 0x2_0300;
const D_BASE: u32 = 0x2_0400;
const FAR_PTR: u32 = 0x2_0500;
const D_SAVE: u32 = 0x2_0510;
/// Saved kit IDT entries.
const IDT_SAVE: u32 = 0x2_0600;

/// Stacks of tasks B, C and D.
const B_STACK: u32 = 0x7_0000;
const C_STACK: u32 = 0x7_1000;
const D_STACK: u32 = 0x7_2000;

const NT: u32 = 1 << 14;

/// Selectors of a task image: ES CS SS DS FS GS.
type Segs = [u16; 6];
const FLAT0: Segs = [DATA0, CODE0, DATA0, DATA0, DATA0, DATA0];

pub fn rom() -> Asm<Vec<u8>> {
    let mut r = Rom::new("tasks")?;
    let labels = Labels::new(&mut r);
    tables(&mut r)?;
    jmp_and_back(&mut r, &labels)?;
    call_and_iret(&mut r, &labels)?;
    int_through_task_gate(&mut r, &labels)?;
    exception_through_task_gate(&mut r, &labels)?;
    before_commit(&mut r)?;
    after_commit(&mut r, &labels)?;
    tss16(&mut r, &labels)?;
    let mut end = r.label();
    r.a.jmp(end)?;
    labels.emit(&mut r)?;
    r.a.set_label(&mut end)?;
    r.a.zero_bytes()?;
    r.finish()
}

/// Entry points of the tasks.
struct Labels {
    b_jmp: CodeLabel,
    b_iret: CodeLabel,
    b_gp: CodeLabel,
    c_ts: CodeLabel,
    c_np: CodeLabel,
    c_ss: CodeLabel,
    d: CodeLabel,
    d_flat: CodeLabel,
}

impl Labels {
    fn new(r: &mut Rom) -> Self {
        Labels {
            b_jmp: r.label(),
            b_iret: r.label(),
            b_gp: r.label(),
            c_ts: r.label(),
            c_np: r.label(),
            c_ss: r.label(),
            d: r.label(),
            d_flat: r.label(),
        }
    }

    /// The tasks' code.
    fn emit(mut self, r: &mut Rom) -> Asm {
        // B, entered by JMP: reports, then JMPs back to the kit's task.
        r.a.set_label(&mut self.b_jmp)?;
        report(r, "B")?;
        r.a.jmp_far(TSS_SEL, 0)?;
        // B, entered by CALL / INT: reports, then IRETs to the previous task.
        r.a.set_label(&mut self.b_iret)?;
        report(r, "B")?;
        r.a.iretd()?;
        // B as the #GP handler task: prints the error code, makes the faulting MOV DS, AX of
        // task A succeed (its saved EAX becomes DATA0), pops the code and returns.
        r.a.set_label(&mut self.b_gp)?;
        r.a.mov(eax, dword_ptr(esp))?;
        r.print_reg("B: error code", eax)?;
        report(r, "")?;
        r.a.mov(dword_ptr(TSS + 0x28), u32::from(DATA0))?;
        r.a.add(esp, 4)?;
        r.a.iretd()?;
        // The handler tasks for #TS, #NP and #SS after a commit point.
        for (l, name) in [
            (&mut self.c_ts, "#TS"),
            (&mut self.c_np, "#NP"),
            (&mut self.c_ss, "#SS"),
        ] {
            r.a.set_label(l)?;
            r.a.mov(eax, dword_ptr(esp))?;
            r.print(name)?;
            r.print_reg(" task: error code", eax)?;
            report(r, "")?;
            r.a.movzx(eax, word_ptr(B_BASE + 0x54))?;
            r.print_reg("B saved ds", eax)?;
            r.newline()?;
            reset_tasks(r)?;
            r.resume()?;
        }
        // D (16-bit TSS, CS based at the ROM): far JMP to flat code through memory.
        r.a.set_label(&mut self.d)?;
        r.a.mov(dword_ptr(D_SAVE), eax)?;
        r.a.mov(dword_ptr(D_SAVE + 4), esp)?;
        r.address_of(eax, self.d_flat)?;
        r.a.mov(dword_ptr(FAR_PTR), eax)?;
        r.a.mov(word_ptr(FAR_PTR + 4), u32::from(CODE0))?;
        r.a.jmp(fword_ptr(FAR_PTR))?;
        r.a.set_label(&mut self.d_flat)?;
        r.a.mov(esp, D_STACK)?;
        r.print_mem32("D: eax", D_SAVE)?;
        r.print_mem32("esp", D_SAVE + 4)?;
        r.a.xor(eax, eax)?;
        r.a.mov(ax, fs)?;
        r.print_reg("fs", eax)?;
        r.a.mov(ax, gs)?;
        r.print_reg("gs", eax)?;
        report(r, "")?;
        r.a.mov(eax, 0x5678u32)?; // saved in the 16-bit TSS
        r.a.jmp_far(TSS_SEL, 0)
    }
}

fn tables(r: &mut Rom) -> Asm {
    let d = |r: &mut Rom, sel, base, limit, acc, fl| r.set_descriptor(sel, base, limit, acc, fl);
    d(r, TSS_B, B_BASE, 0x67, access::TSS32, 0)?;
    d(r, TSS_C_TS, C_TS_BASE, 0x67, access::TSS32, 0)?;
    d(r, TSS_C_NP, C_NP_BASE, 0x67, access::TSS32, 0)?;
    d(r, TSS_C_SS, C_SS_BASE, 0x67, access::TSS32, 0)?;
    d(r, TSS_D16, D_BASE, 0x2B, access::TSS16, 0)?;
    d(r, TSS_B_SHORT, B_BASE, 0x60, access::TSS32, 0)?;
    d(r, TSS_NP, B_BASE, 0x67, access::TSS32 & 0x7F, 0)?;
    d(r, DATA_NP, 0, 0xF_FFFF, access::DATA & 0x7F, FLAGS_32_PAGES)?;
    d(r, CODE_NP, 0, 0xF_FFFF, access::CODE & 0x7F, FLAGS_32_PAGES)?;
    d(r, SHORT_CODE, 0, 0xFFF, access::CODE, FLAGS_32_BYTES)?;
    d(r, ROM_CODE, ROM_BASE, 0xFFFF, access::CODE, FLAGS_32_BYTES)?;
    r.set_gdt_entry(GATE_B, gate(TSS_B, 0, access::TASK_GATE, 0))?;
    r.set_gdt_entry(GATE_DATA, gate(DATA0, 0, access::TASK_GATE, 0))
}

/// Writes a 32-bit TSS image at `base`: EIP = `entry` (flat), EFLAGS = 2, EAX = `eax`,
/// ESP = `stack`, the selectors `segs`, LDT `ldt`, back link 0.
fn init_tss32(
    r: &mut Rom,
    base: u32,
    entry: CodeLabel,
    stack: u32,
    eax_v: u32,
    segs: Segs,
    ldt: u16,
) -> Asm {
    for k in 0..0x68 / 4 {
        r.a.mov(dword_ptr(base + 4 * k), 0u32)?;
    }
    r.a.push(eax)?;
    r.address_of(eax, entry)?;
    r.a.mov(dword_ptr(base + 0x20), eax)?;
    r.a.pop(eax)?;
    r.a.mov(dword_ptr(base + 0x24), 2u32)?;
    r.a.mov(dword_ptr(base + 0x28), eax_v)?;
    r.a.mov(dword_ptr(base + 0x38), stack)?;
    for (k, s) in segs.iter().enumerate() {
        r.a.mov(word_ptr(base + 0x48 + 4 * k as u32), u32::from(*s))?;
    }
    r.a.mov(word_ptr(base + 0x60), u32::from(ldt))
}

/// Prints `name: tr=.. eax=.. nt=.. link=..` (the current TSS's back link), the busy bytes
/// of the kit's TSS and TSS B, and CR0.TS.
fn report(r: &mut Rom, name: &str) -> Asm {
    if !name.is_empty() {
        r.print(&format!("{name}: "))?;
        r.print_reg("eax", eax)?;
    }
    r.a.push(eax)?;
    r.a.push(ebx)?;
    r.a.str(eax)?;
    r.print_reg("tr", eax)?;
    r.a.pushfd()?;
    r.a.pop(eax)?;
    r.a.and(eax, NT)?;
    r.print_reg("nt", eax)?;
    // The back link of the current TSS: TR's base from its GDT descriptor.
    r.a.str(ebx)?;
    r.a.and(ebx, 0xFFF8u32)?;
    r.a.mov(eax, dword_ptr(ebx + GDT + 2))?;
    r.a.and(eax, 0x00FF_FFFFu32)?;
    r.a.movzx(eax, word_ptr(eax))?;
    r.print_reg("link", eax)?;
    r.newline()?;
    r.a.movzx(eax, byte_ptr(GDT + u32::from(TSS_SEL) + 5))?;
    r.print_reg("   busy A", eax)?;
    r.a.movzx(eax, byte_ptr(GDT + u32::from(TSS_B) + 5))?;
    r.print_reg("B", eax)?;
    r.a.mov(eax, cr0)?;
    r.a.and(eax, 8u32)?;
    r.print_reg("cr0.ts", eax)?;
    r.newline()?;
    r.a.pop(ebx)?;
    r.a.pop(eax)
}

/// Back to the kit's task after a test: every test TSS not busy, TR = the kit's TSS,
/// CR0.TS and EFLAGS.NT clear.
fn reset_tasks(r: &mut Rom) -> Asm {
    for sel in [TSS_SEL, TSS_B, TSS_C_TS, TSS_C_NP, TSS_C_SS, TSS_D16] {
        r.a.and(byte_ptr(GDT + u32::from(sel) + 5), !2i32)?;
    }
    r.a.mov(eax, u32::from(TSS_SEL))?;
    r.a.ltr(ax)?;
    r.a.clts()?;
    r.a.pushfd()?;
    r.a.and(dword_ptr(esp), !(NT as i32))?;
    r.a.popfd()?;
    r.a.mov(word_ptr(TSS), 0u32)
}

fn jmp_and_back(r: &mut Rom, l: &Labels) -> Asm {
    r.print("-- jmp to a TSS and back\n")?;
    init_tss32(r, B_BASE, l.b_jmp, B_STACK, 0xB0B0, FLAT0, 0)?;
    r.a.mov(eax, 0xAAAAu32)?;
    r.a.jmp_far(TSS_B, 0)?;
    report(r, "A")?;
    r.print_mem32("   B saved eip-entry", B_BASE + 0x20)?;
    r.newline()?;
    reset_tasks(r)
}

fn call_and_iret(r: &mut Rom, l: &Labels) -> Asm {
    r.print("-- call through a task gate, iret back\n")?;
    init_tss32(r, B_BASE, l.b_iret, B_STACK, 0xB0B0, FLAT0, 0)?;
    r.a.mov(eax, 0xAAAAu32)?;
    r.a.call_far(GATE_B, 0)?;
    report(r, "A")?;
    r.print_mem32("   B saved esp", B_BASE + 0x38)?;
    r.a.mov(eax, dword_ptr(B_BASE + 0x24))?;
    r.print_reg("eflags", eax)?;
    r.newline()?;
    reset_tasks(r)
}

fn int_through_task_gate(r: &mut Rom, l: &Labels) -> Asm {
    r.print("-- int 40h through an IDT task gate\n")?;
    init_tss32(r, B_BASE, l.b_iret, B_STACK, 0xB0B0, FLAT0, 0)?;
    r.store64(IDT + 8 * 0x40, gate(TSS_B, 0, access::TASK_GATE, 0))?;
    r.a.mov(eax, 0xAAAAu32)?;
    r.a.int(0x40)?;
    report(r, "A")?;
    r.print_mem32("   B saved esp", B_BASE + 0x38)?;
    r.newline()?;
    reset_tasks(r)
}

/// Saves (`save`) or restores the kit's IDT entries 10-13.
fn kit_idt(r: &mut Rom, save: bool) -> Asm {
    for k in 0..8 {
        let (from, to) = if save {
            (IDT + 8 * 10 + 4 * k, IDT_SAVE + 4 * k)
        } else {
            (IDT_SAVE + 4 * k, IDT + 8 * 10 + 4 * k)
        };
        r.a.mov(eax, dword_ptr(from))?;
        r.a.mov(dword_ptr(to), eax)?;
    }
    Ok(())
}

fn exception_through_task_gate(r: &mut Rom, l: &Labels) -> Asm {
    r.print("-- #GP through a task gate\n")?;
    kit_idt(r, true)?;
    init_tss32(r, B_BASE, l.b_gp, B_STACK, 0xB0B0, FLAT0, 0)?;
    r.store64(IDT + 8 * 13, gate(TSS_B, 0, access::TASK_GATE, 0))?;
    r.a.mov(eax, 0x803u32)?;
    r.a.mov(ds, ax)?; // #GP(800H): task B fixes EAX and returns here
    r.a.xor(eax, eax)?;
    r.a.mov(ax, ds)?;
    r.print_reg("A: ds", eax)?;
    r.print_mem32("saved eip-entry", TSS + 0x20)?;
    r.newline()?;
    kit_idt(r, false)?;
    reset_tasks(r)
}

fn before_commit(r: &mut Rom) -> Asm {
    r.print("-- faults before the commit point\n")?;
    r.expect_fault(|r| r.a.jmp_far(TSS_SEL, 0))?; // busy
    r.expect_fault(|r| r.a.call_far(TSS_B_SHORT, 0))?; // limit below 67H
    r.expect_fault(|r| r.a.jmp_far(TSS_NP, 0))?;
    r.expect_fault(|r| r.a.jmp_far(GATE_DATA, 0))?; // gate to a non-TSS
    r.in_ring(3, |r| r.a.jmp_far(TSS_B | 3, 0))?; // TSS DPL 0 < CPL 3
                                                  // IRET with NT set and a back link to a TSS that is not busy.
    r.a.mov(word_ptr(TSS), u32::from(TSS_B))?;
    r.expect_fault(|r| {
        r.a.pushfd()?;
        r.a.or(dword_ptr(esp), NT as i32)?;
        r.a.popfd()?;
        r.a.iretd()
    })?;
    r.a.mov(word_ptr(TSS), 0u32)?;
    report(r, "after")
}

/// JMPs to task B with `segs`/`ldt`; a fault after the commit point goes to a handler task.
fn committed_fault(r: &mut Rom, l: &Labels, segs: Segs, ldt: u16, what: &str) -> Asm {
    r.print(&format!("{what}: "))?;
    init_tss32(r, B_BASE, l.b_jmp, B_STACK, 0xB0B0, segs, ldt)?;
    init_tss32(r, C_TS_BASE, l.c_ts, C_STACK, 0xC0C0, FLAT0, 0)?;
    init_tss32(r, C_NP_BASE, l.c_np, C_STACK, 0xC0C0, FLAT0, 0)?;
    init_tss32(r, C_SS_BASE, l.c_ss, C_STACK, 0xC0C0, FLAT0, 0)?;
    r.expect_fault(|r| r.a.jmp_far(TSS_B, 0))
}

fn after_commit(r: &mut Rom, l: &Labels) -> Asm {
    r.print("-- faults after the commit point\n")?;
    kit_idt(r, true)?;
    r.store64(IDT + 8 * 10, gate(TSS_C_TS, 0, access::TASK_GATE, 0))?;
    r.store64(IDT + 8 * 11, gate(TSS_C_NP, 0, access::TASK_GATE, 0))?;
    r.store64(IDT + 8 * 12, gate(TSS_C_SS, 0, access::TASK_GATE, 0))?;
    let with = |k: usize, s: u16| {
        let mut v = FLAT0;
        v[k] = s;
        v
    };
    committed_fault(r, l, with(3, 0x803), 0, "ds beyond the gdt")?;
    committed_fault(r, l, with(3, DATA_NP), 0, "ds not present")?;
    committed_fault(r, l, with(2, 0), 0, "ss null")?;
    committed_fault(r, l, with(2, DATA_NP), 0, "ss not present")?;
    committed_fault(r, l, with(2, DATA3 | 3), 0, "ss rpl != cpl")?;
    committed_fault(r, l, with(1, CODE_NP), 0, "cs not present")?;
    let d3 = DATA3 | 3;
    let cs_rpl3 = [d3, CODE0 | 3, d3, d3, d3, d3];
    committed_fault(r, l, cs_rpl3, 0, "cs dpl != rpl")?;
    committed_fault(r, l, FLAT0, DATA0, "ldt not an ldt")?;
    committed_fault(r, l, with(0, DATA0 | 3), 0, "es rpl > dpl")?;
    kit_idt(r, false)?;
    // EIP beyond the new CS limit: #GP(0) in task B, through the kit's interrupt gate.
    committed_fault(r, l, with(1, SHORT_CODE), 0, "eip beyond cs limit")?;
    r.a.str(eax)?;
    r.print_reg("tr", eax)?;
    r.newline()?;
    reset_tasks(r)
}

fn tss16(r: &mut Rom, l: &Labels) -> Asm {
    r.print("-- 16-bit TSS\n")?;
    for k in 0..0x2C / 2 {
        r.a.mov(word_ptr(D_BASE + 2 * k), 0u32)?;
    }
    r.address_of(eax, l.d)?;
    r.a.sub(eax, ROM_BASE)?;
    r.a.mov(word_ptr(D_BASE + 0x0E), ax)?;
    r.a.mov(word_ptr(D_BASE + 0x10), 2u32)?;
    r.a.mov(word_ptr(D_BASE + 0x12), 0x1234u32)?;
    r.a.mov(word_ptr(D_BASE + 0x1A), 0x2000u32)?;
    for (k, s) in [DATA0, ROM_CODE, DATA0, DATA0].iter().enumerate() {
        r.a.mov(word_ptr(D_BASE + 0x22 + 2 * k as u32), u32::from(*s))?;
    }
    r.a.jmp_far(TSS_D16, 0)?;
    r.a.movzx(eax, byte_ptr(GDT + u32::from(TSS_D16) + 5))?;
    r.print_reg("A: busy D", eax)?;
    r.a.movzx(eax, word_ptr(D_BASE + 0x12))?;
    r.print_reg("D saved ax", eax)?;
    r.newline()?;
    reset_tasks(r)
}
