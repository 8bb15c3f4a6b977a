//! Segmentation and privilege (SDM Vol. 3 ch. 3 and 5; Vol. 2 MOV, LAR, LSL, VERR/VERW,
//! ARPL, CALL, RET): segment-register loads and their faults, accessed bits, expand-down
//! and granular limits, an LDT; LAR/LSL/VERR/VERW at rings 0 and 3 and ARPL; far CALL
//! through 32- and 16-bit call gates with parameter copying (the inner stack is printed),
//! far RET to ring 3 (inner data segments become null), JMP through a gate to conforming
//! code, and the call-gate faults.

use crate::romkit::*;
use iced_x86::code_asm::*;

/// Test descriptors (GDT selectors).
const EXEC_ONLY: u16 = 0x50;
const FRESH_DATA: u16 = 0x58;
const CONFORMING: u16 = 0x60;
const NOT_PRESENT: u16 = 0x68;
const READ_ONLY: u16 = 0x70;
const EXPAND_DOWN16: u16 = 0x78;
const EXPAND_DOWN32: u16 = 0x80;
const GRANULAR: u16 = 0x88;
const LDT_SEL: u16 = 0x90;
const GATE32: u16 = 0x98;
const GATE16: u16 = 0xA0;
const GATE_CONF: u16 = 0xA8;
const GATE_DPL0: u16 = 0xB0;
const GATE_NP: u16 = 0xB8;
const GATE_NULL: u16 = 0xC0;
const GATE_DATA: u16 = 0xC8;
const GATE_RING1: u16 = 0xD0;
const SHORT_CODE: u16 = 0xD8;
const GATE_SHORT: u16 = 0xE0;
const NP_DATA1: u16 = 0xE8;
const SMALL_DATA1: u16 = 0xF0;
const EXPAND_DOWN3: u16 = 0xF8;
const TRAMP_CODE: u16 = 0x100;

/// RAM: the LDT, the 16-bit gate's trampoline (in a code segment based there, so that the
/// gate's 16-bit offset is 0), the expand-down base.
const LDT: u32 = 0x1_1000;
const TRAMPOLINE: u32 = 0x1_2000;
const DOWN_BASE: u32 = 0x2_0000;

pub fn rom() -> Asm<Vec<u8>> {
    let mut r = Rom::new("segmentation")?;
    tables(&mut r)?;
    loads(&mut r)?;
    limits(&mut r)?;
    pointer_checks(&mut r)?;
    call_gates(&mut r)?;
    gate_faults(&mut r)?;
    r.finish()
}

fn tables(r: &mut Rom) -> Asm {
    let d = |r: &mut Rom, sel, base, limit, acc, fl| r.set_descriptor(sel, base, limit, acc, fl);
    d(r, EXEC_ONLY, 0, 0xF_FFFF, 0x98, FLAGS_32_PAGES)?;
    d(r, FRESH_DATA, 0, 0xF_FFFF, 0x92, FLAGS_32_PAGES)?;
    d(r, CONFORMING, 0, 0xF_FFFF, 0x9E, FLAGS_32_PAGES)?;
    d(r, NOT_PRESENT, 0, 0xF_FFFF, 0x12, FLAGS_32_PAGES)?;
    d(r, READ_ONLY, 0, 0xF_FFFF, 0x90, FLAGS_32_PAGES)?;
    d(r, EXPAND_DOWN16, DOWN_BASE, 0x0FFF, 0x96, FLAGS_16_BYTES)?;
    d(r, EXPAND_DOWN32, DOWN_BASE, 0x0FFF, 0x96, FLAGS_32_BYTES)?;
    d(r, GRANULAR, 0, 1, 0x92, 0x8)?;
    d(r, LDT_SEL, LDT, 0x0F, access::LDT, 0)?;
    d(r, SHORT_CODE, 0, 0xFFF, 0x9B, FLAGS_32_BYTES)?;
    d(r, NP_DATA1, 0, 0xF_FFFF, 0x32, FLAGS_32_PAGES)?;
    d(r, SMALL_DATA1, 0, 0xFFF, 0xB3, FLAGS_32_BYTES)?;
    d(r, EXPAND_DOWN3, 0, 0xFFF, 0xF6, FLAGS_32_BYTES)?;
    d(
        r,
        TRAMP_CODE,
        TRAMPOLINE,
        0xFFF,
        access::CODE,
        FLAGS_32_BYTES,
    )?;
    // The LDT: entry 1 is a data segment based at 30000H.
    r.store64(LDT + 8, descriptor(0x3_0000, 0xFFFF, access::DATA, 0))?;
    r.a.mov(dword_ptr(0x3_0010u32), 0x1DA7_A000u32)?;
    Ok(())
}

/// Loads `sel` into DS (through AX) and restores DS; prints `no fault` or the fault.
fn load_ds(r: &mut Rom, sel: u16) -> Asm {
    r.expect_fault(|r| {
        r.a.mov(eax, u32::from(sel))?;
        r.a.mov(ds, ax)?;
        r.a.mov(eax, u32::from(DATA0))?;
        r.a.mov(ds, ax)
    })
}

fn load_ss(r: &mut Rom, sel: u16) -> Asm {
    r.expect_fault(|r| {
        r.a.mov(eax, u32::from(sel))?;
        r.a.mov(ss, ax)?;
        r.a.mov(eax, u32::from(DATA0))?;
        r.a.mov(ss, ax)
    })
}

fn loads(r: &mut Rom) -> Asm {
    r.print("-- loads\n")?;
    // A null selector loads into DS; using it is #GP(0).
    r.expect_fault(|r| {
        r.a.xor(eax, eax)?;
        r.a.mov(ds, ax)?;
        r.a.mov(eax, dword_ptr(0x100u32))
    })?;
    load_ss(r, 0)?;
    load_ds(r, 0x0C)?; // LDT selector with LDTR null
    load_ds(r, EXEC_ONLY)?;
    load_ds(r, DATA0 | 3)?; // RPL 3 > DPL 0
    load_ds(r, CONFORMING | 3)?; // conforming readable code: no privilege check
    load_ds(r, NOT_PRESENT)?;
    load_ss(r, NOT_PRESENT)?;
    load_ss(r, READ_ONLY)?;
    load_ss(r, DATA3 | 3)?; // DPL 3 at CPL 0
    load_ss(r, TSS_SEL)?;
    // The accessed bit is written back to the descriptor.
    r.a.movzx(ebx, byte_ptr(GDT + u32::from(FRESH_DATA) + 5))?;
    load_ds(r, FRESH_DATA)?;
    r.a.movzx(eax, byte_ptr(GDT + u32::from(FRESH_DATA) + 5))?;
    r.print_reg("access byte before", ebx)?;
    r.print_reg("after", eax)?;
    r.newline()?;
    // An LDT: LLDT, then a load through it; beyond its limit faults.
    r.a.mov(eax, u32::from(LDT_SEL))?;
    r.a.lldt(ax)?;
    r.expect_fault(|r| {
        r.a.mov(eax, 0x0Cu32)?;
        r.a.mov(fs, ax)?;
        r.a.mov(eax, dword_ptr(0x10u32).fs())?;
        r.print_reg("ldt data", eax)?;
        r.newline()
    })?;
    load_ds(r, 0x14)?;
    r.a.xor(eax, eax)?;
    r.a.lldt(ax)?;
    r.a.mov(eax, u32::from(DATA0))?;
    r.a.mov(fs, ax)
}

/// Reads a dword at `off` through ES = `sel`.
fn read_es(r: &mut Rom, sel: u16, off: u32) -> Asm {
    r.expect_fault(|r| {
        r.a.mov(eax, u32::from(sel))?;
        r.a.mov(es, ax)?;
        r.a.mov(eax, dword_ptr(off).es())?;
        r.a.mov(eax, u32::from(DATA0))?;
        r.a.mov(es, ax)
    })
}

fn limits(r: &mut Rom) -> Asm {
    r.print("-- limits\n")?;
    // Expand-down, B = 0: valid offsets 1000H-FFFFH.
    read_es(r, EXPAND_DOWN16, 0x0FFF)?;
    read_es(r, EXPAND_DOWN16, 0x1000)?;
    read_es(r, EXPAND_DOWN16, 0xFFFC)?;
    read_es(r, EXPAND_DOWN16, 0xFFFD)?;
    // B = 1: up to FFFFFFFFH.
    read_es(r, EXPAND_DOWN32, 0xFFFD)?;
    read_es(r, EXPAND_DOWN32, 0x0FFC)?;
    // G = 1: limit 1 means 1FFFH.
    read_es(r, GRANULAR, 0x1FFC)?;
    read_es(r, GRANULAR, 0x1FFD)?;
    // Writing read-only data, reading execute-only code.
    r.expect_fault(|r| {
        r.a.mov(eax, u32::from(READ_ONLY))?;
        r.a.mov(es, ax)?;
        r.a.mov(dword_ptr(0x100u32).es(), eax)
    })?;
    r.a.mov(eax, u32::from(DATA0))?;
    r.a.mov(es, ax)?;
    // An expand-down stack below its limit: #SS(0) (at ring 3, so that the fault is
    // delivered on the ring-0 stack).
    r.in_ring(3, |r| {
        r.a.mov(eax, u32::from(EXPAND_DOWN3 | 3))?;
        r.a.mov(ss, ax)?;
        r.a.mov(esp, 0x1002u32)?;
        r.a.push(eax)
    })
}

/// LAR, LSL, VERR and VERW of a list of selectors at the current CPL: one line each with
/// the LAR and LSL results (FFFFFFFF when unchanged) and ZF of the four as bits 0-3.
fn pointer_lines(r: &mut Rom) -> Asm {
    for sel in [
        0u16,
        CODE0,
        DATA3 | 3,
        EXEC_ONLY,
        CONFORMING | 3,
        NOT_PRESENT,
        READ_ONLY,
        GRANULAR,
        LDT_SEL,
        TSS_SEL,
        GATE32 | 3,
        0x7F8,
        0x800,
    ] {
        let a = &mut r.a;
        a.mov(ecx, u32::from(sel))?;
        a.mov(eax, 0xFFFF_FFFFu32)?;
        a.mov(edx, eax)?;
        a.xor(ebx, ebx)?;
        a.lar(eax, ecx)?;
        a.setz(bl)?;
        a.lsl(edx, ecx)?;
        a.setz(bh)?;
        a.shl(bh, 1)?;
        a.or(bl, bh)?;
        a.verr(cx)?;
        a.setz(bh)?;
        a.shl(bh, 2)?;
        a.or(bl, bh)?;
        a.verw(cx)?;
        a.setz(bh)?;
        a.shl(bh, 3)?;
        a.or(bl, bh)?;
        a.movzx(ebx, bl)?;
        r.print_reg("sel", ecx)?;
        r.print_reg("lar", eax)?;
        r.print_reg("lsl", edx)?;
        r.print_reg("zf", ebx)?;
        r.newline()?;
    }
    Ok(())
}

fn pointer_checks(r: &mut Rom) -> Asm {
    r.print("-- lar/lsl/verr/verw ring 0\n")?;
    pointer_lines(r)?;
    r.print("-- ring 3\n")?;
    r.in_ring(3, pointer_lines)?;
    r.print("-- arpl\n")?;
    let a = &mut r.a;
    a.mov(eax, 0x0010u32)?;
    a.mov(ecx, 0x0023u32)?;
    a.arpl(ax, cx)?;
    a.setz(bl)?;
    a.mov(edx, 0x0013u32)?;
    a.arpl(dx, cx)?;
    a.setz(bh)?;
    a.movzx(ebx, bx)?;
    r.print_reg("ax", eax)?;
    r.print_reg("dx", edx)?;
    r.print_reg("zf", ebx)?;
    r.newline()
}

/// Prints `count` stack slots of `size` bytes from ESP (plus ESP, CS, SS, DS, ES).
fn print_frame(r: &mut Rom, count: u32, size: u32) -> Asm {
    r.a.mov(ebp, esp)?;
    r.print_reg("esp", ebp)?;
    r.a.xor(eax, eax)?;
    r.a.mov(ax, cs)?;
    r.print_reg("cs", eax)?;
    r.a.mov(ax, ss)?;
    r.print_reg("ss", eax)?;
    r.newline()?;
    r.print("frame")?;
    for k in 0..count {
        if size == 4 {
            r.a.mov(eax, dword_ptr(ebp + 4 * k))?;
        } else {
            r.a.movzx(eax, word_ptr(ebp + 2 * k))?;
        }
        r.print(" ")?;
        r.print_hex(eax, 2 * size)?;
    }
    r.newline()
}

fn print_sregs(r: &mut Rom) -> Asm {
    r.a.mov(ebp, esp)?;
    r.print_reg("esp", ebp)?;
    r.a.xor(eax, eax)?;
    for (name, s) in [("cs", cs), ("ss", ss), ("ds", ds), ("es", es)] {
        r.a.mov(ax, s)?;
        r.print_reg(name, eax)?;
    }
    r.newline()
}

fn call_gates(r: &mut Rom) -> Asm {
    r.print("-- call gates\n")?;
    let mut h32 = r.label();
    let mut h16 = r.label();
    let mut conf = r.label();
    let mut skip = r.label();
    r.set_gate_to(GDT + u32::from(GATE32), CODE0, h32, 0xEC, 2)?;
    r.set_gate_to(GDT + u32::from(GATE_CONF), CONFORMING, conf, 0xEC, 0)?;
    r.store64(GDT + u32::from(GATE16), gate(TRAMP_CODE, 0, 0xE4, 1))?;
    // The trampoline: jmp far CODE0:h16.
    r.a.mov(byte_ptr(TRAMPOLINE), 0xEAu32)?;
    r.address_of(eax, h16)?;
    r.a.mov(dword_ptr(TRAMPOLINE + 1), eax)?;
    r.a.mov(word_ptr(TRAMPOLINE + 5), u32::from(CODE0))?;
    // 32-bit gate from ring 3 with two parameters, then RETF 8 back to ring 3.
    r.in_ring(3, |r| {
        r.a.push(0x2222_2222u32)?;
        r.a.push(0x1111_1111u32)?;
        r.a.call_far(GATE32 | 3, 0)?;
        r.print("back: ")?;
        print_sregs(r)
    })?;
    // 16-bit gate with one parameter (its handler ends the case).
    r.in_ring(3, |r| {
        r.a.push(0xBEEFu32)?;
        r.a.call_far(GATE16 | 3, 0)
    })?;
    // JMP through a gate to conforming ring-0 code stays at CPL 3.
    r.in_ring(3, |r| r.a.jmp_far(GATE_CONF | 3, 0))?;
    r.a.jmp(skip)?;

    r.a.set_label(&mut h32)?;
    print_frame(r, 6, 4)?;
    r.a.mov(eax, u32::from(DATA0))?;
    r.a.mov(ds, ax)?; // DPL 0: not accessible at ring 3, nulled by the RET
    r.a.mov(eax, u32::from(DATA3 | 3))?;
    r.a.mov(es, ax)?;
    r.a.retf_1(8)?;

    r.a.set_label(&mut h16)?;
    print_frame(r, 5, 2)?;
    r.resume()?;

    r.a.set_label(&mut conf)?;
    r.print("conforming: ")?;
    print_sregs(r)?;
    r.a.int(u32::from(RESUME_VECTOR))?;

    r.a.set_label(&mut skip)?;
    r.a.zero_bytes()
}

/// A far CALL (or JMP) through `sel` from ring 3; prints the fault.
fn ring3_transfer(r: &mut Rom, sel: u16, jmp: bool) -> Asm {
    r.in_ring(3, |r| {
        if jmp {
            r.a.jmp_far(sel | 3, 0)?;
        } else {
            r.a.call_far(sel | 3, 0)?;
        }
        r.print("no fault\n")
    })
}

/// Sets the TSS ring-1 stack.
fn set_stack1(r: &mut Rom, ss1: u16, esp1: u32) -> Asm {
    r.a.mov(dword_ptr(TSS + 12), esp1)?;
    r.a.mov(dword_ptr(TSS + 16), u32::from(ss1))
}

fn gate_faults(r: &mut Rom) -> Asm {
    r.print("-- call gate faults\n")?;
    let mut ring1 = r.label();
    let mut skip = r.label();
    r.store64(GDT + u32::from(GATE_DPL0), gate(CODE0, 0x1000, 0x8C, 0))?;
    r.store64(GDT + u32::from(GATE_NP), gate(CODE0, 0x1000, 0x6C, 0))?;
    r.store64(GDT + u32::from(GATE_NULL), gate(0, 0x1000, 0xEC, 0))?;
    r.store64(GDT + u32::from(GATE_DATA), gate(DATA0, 0x1000, 0xEC, 0))?;
    r.set_gate_to(GDT + u32::from(GATE_RING1), CODE1 | 1, ring1, 0xEC, 0)?;
    r.set_gate_to(GDT + u32::from(GATE_SHORT), SHORT_CODE, ring1, 0xEC, 0)?;
    ring3_transfer(r, GATE_DPL0, false)?;
    ring3_transfer(r, GATE_NP, false)?;
    ring3_transfer(r, GATE_NULL, false)?;
    ring3_transfer(r, GATE_DATA, false)?;
    ring3_transfer(r, GATE32, true)?; // JMP to an inner nonconforming segment
    ring3_transfer(r, GATE_SHORT, false)?; // offset beyond the limit
                                           // The ring-1 stack from the TSS: valid, null, RPL != DPL, not present, too small.
    ring3_transfer(r, GATE_RING1, false)?;
    set_stack1(r, 0, STACK1)?;
    ring3_transfer(r, GATE_RING1, false)?;
    set_stack1(r, DATA1, STACK1)?;
    ring3_transfer(r, GATE_RING1, false)?;
    set_stack1(r, NP_DATA1 | 1, STACK1)?;
    ring3_transfer(r, GATE_RING1, false)?;
    set_stack1(r, SMALL_DATA1 | 1, 0x2000)?;
    ring3_transfer(r, GATE_RING1, false)?;
    set_stack1(r, DATA1 | 1, STACK1)?;
    r.a.jmp(skip)?;

    r.a.set_label(&mut ring1)?;
    r.print("ring 1: ")?;
    print_sregs(r)?;
    r.a.int(u32::from(RESUME_VECTOR))?;

    r.a.set_label(&mut skip)?;
    r.a.zero_bytes()
}
