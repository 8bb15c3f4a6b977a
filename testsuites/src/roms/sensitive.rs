//! The sensitive but unprivileged instructions (Robin and Irvine 2000) at CPL 0, 1 and 3:
//! none of them faults, and each reads (or, for POPF, silently fails to change) the real
//! state. SGDT/SIDT (SDM Vol. 2 SGDT: 16-bit operand size still stores 32 base bits on P6
//! and later), SLDT/STR, SMSW (all of CR0 in a 32-bit register), PUSHF/POPF (VM and RF
//! cleared in the image; POPF changes IOPL only at CPL 0 and IF only at CPL <= IOPL), PUSH
//! Sreg (a 32-bit push writes the low word only), MOV from Sreg (32-bit register:
//! zero-extended), and LAR/LSL/VERR/VERW on selectors whose answer depends on CPL, RPL,
//! DPL and type (SDM Vol. 2 LAR, LSL, VERR/VERW; Vol. 3 §5.10.3).

use crate::romkit::*;
use iced_x86::code_asm::*;

/// Scratch memory for stored values.
const BUF: u32 = FREE_LOW;
/// The LDT (two entries) and its GDT descriptor.
const LDT: u32 = FREE_LOW + 0x100;
const LDT_SEL: u16 = FREE_SEL;
/// Descriptors for the protection probes (GDT entries after the LDT's).
const DATA3_SMALL: u16 = FREE_SEL + 0x08;
const CODE3_XONLY: u16 = FREE_SEL + 0x10;
const CODE0_CONFORMING: u16 = FREE_SEL + 0x18;
const DATA3_RONLY: u16 = FREE_SEL + 0x20;
const CALL_GATE3: u16 = FREE_SEL + 0x28;
const DATA3_ABSENT: u16 = FREE_SEL + 0x30;
const INT_GATE3: u16 = FREE_SEL + 0x38;

/// EFLAGS bits.
const IF: u32 = 1 << 9;
const IOPL3: u32 = 3 << 12;
/// IOPL 2, IF clear, OF SF ZF AF PF CF set.
const FLAGS_IOPL2: u32 = 0x2000 | 0x8D5 | 0x2;

/// The `sensitive` ROM: the register stores, PUSHF/POPF and the segment registers.
pub fn rom() -> Asm<Vec<u8>> {
    let mut r = Rom::new("sensitive")?;
    tables(&mut r)?;
    for ring in [0u8, 1, 3] {
        r.print(&format!("-- ring {ring}\n"))?;
        at_ring(&mut r, ring, registers)?;
        r.a.push(FLAGS_IOPL2)?;
        r.a.popfd()?;
        at_ring(&mut r, ring, stack_and_selectors)?;
        r.a.push(0x2)?;
        r.a.popfd()?;
    }
    popf_cases(&mut r)?;
    store_faults(&mut r)?;
    r.finish()
}

/// The `sensitive_protection` ROM: LAR, LSL, VERR, VERW at CPL 0, 1 and 3.
pub fn protection_rom() -> Asm<Vec<u8>> {
    let mut r = Rom::new("sensitive_protection")?;
    tables(&mut r)?;
    for ring in [0u8, 1, 3] {
        r.print(&format!("-- ring {ring}\n"))?;
        at_ring(&mut r, ring, protection)?;
    }
    r.finish()
}

/// Runs `body` at `ring`: directly at ring 0 (with recovery), else through the kit's IRET.
fn at_ring(r: &mut Rom, ring: u8, body: impl FnOnce(&mut Rom) -> Asm) -> Asm {
    if ring == 0 {
        r.expect_fault(body)
    } else {
        r.in_ring(ring, body)
    }
}

/// An LDT (loaded with LLDT, so that SLDT has something to show) and the probe descriptors.
fn tables(r: &mut Rom) -> Asm {
    r.store64(LDT, descriptor(0, 0xABCD, 0xF3, FLAGS_32_BYTES))?;
    r.store64(
        LDT + 8,
        descriptor(0, 0xF_FFFF, access::CODE, FLAGS_32_PAGES),
    )?;
    r.set_descriptor(LDT_SEL, LDT, 15, access::LDT | access::dpl(3), 0)?;
    r.set_descriptor(DATA3_SMALL, 0, 0x1234, 0xF3, FLAGS_32_BYTES)?;
    r.set_descriptor(CODE3_XONLY, 0, 0xF_FFFF, 0xF9, FLAGS_32_PAGES)?;
    r.set_descriptor(CODE0_CONFORMING, 0, 0xF_FFFF, 0x9F, FLAGS_32_PAGES)?;
    r.set_descriptor(DATA3_RONLY, 0, 0xF_FFFF, 0xF1, FLAGS_32_PAGES)?;
    r.set_gdt_entry(CALL_GATE3, gate(CODE0, 0x1234_5678, 0xEC, 2))?;
    r.set_descriptor(DATA3_ABSENT, 0, 0xF_FFFF, 0x73, FLAGS_32_PAGES)?;
    r.set_gdt_entry(INT_GATE3, gate(CODE0, 0x1234_5678, 0xEE, 0))?;
    r.a.mov(eax, u32::from(LDT_SEL))?;
    r.a.lldt(ax)
}

/// Fills `n` dwords at BUF with all ones.
fn fill(r: &mut Rom, n: u32) -> Asm {
    for k in 0..n {
        r.a.mov(dword_ptr(BUF + 4 * k), 0xFFFF_FFFFu32)?;
    }
    Ok(())
}

/// Prints `name=XXXXXXXX:XXXXXXXX ` with the dwords at `at` and `at + 4` (the 6 bytes an
/// SGDT stores, and 2 bytes after them).
fn print_8_bytes(r: &mut Rom, name: &str, at: u32) -> Asm {
    r.a.push(eax)?;
    r.a.mov(eax, dword_ptr(at))?;
    r.print(&format!("{name}="))?;
    r.print_hex(eax, 8)?;
    r.a.mov(eax, dword_ptr(at + 4))?;
    r.print(":")?;
    r.print_hex(eax, 8)?;
    r.print(" ")?;
    r.a.pop(eax)
}

/// SGDT, SIDT (32- and 16-bit operand size), SLDT, STR, SMSW.
fn registers(r: &mut Rom) -> Asm {
    fill(r, 6)?;
    r.a.sgdt(ptr(BUF))?;
    r.a.sidt(ptr(BUF + 8))?;
    r.a.db(&[0x66])?; // o16 sgdt: the 32-bit base all the same (P6 and later)
    r.a.sgdt(ptr(BUF + 16))?;
    for (name, at) in [("sgdt", BUF), ("sidt", BUF + 8), ("o16 sgdt", BUF + 16)] {
        print_8_bytes(r, name, at)?;
    }
    r.newline()?;
    // SLDT/STR: 32-bit register (zero-extended), 16-bit register, memory (16 bits).
    fill(r, 2)?;
    r.a.mov(eax, 0xFFFF_FFFFu32)?;
    r.a.mov(ebx, 0xFFFF_FFFFu32)?;
    r.a.sldt(eax)?;
    r.a.sldt(bx)?;
    r.a.sldt(word_ptr(BUF))?;
    r.print_reg("sldt r32", eax)?;
    r.print_reg("r16", ebx)?;
    r.print_mem32("m16", BUF)?;
    r.a.mov(eax, 0xFFFF_FFFFu32)?;
    r.a.mov(ebx, 0xFFFF_FFFFu32)?;
    r.a.str(eax)?;
    r.a.str(bx)?;
    r.a.str(word_ptr(BUF + 4))?;
    r.print_reg("str r32", eax)?;
    r.print_reg("r16", ebx)?;
    r.print_mem32("m16", BUF + 4)?;
    r.newline()?;
    fill(r, 1)?;
    r.a.mov(eax, 0xFFFF_FFFFu32)?;
    r.a.mov(ebx, 0xFFFF_FFFFu32)?;
    r.a.smsw(eax)?;
    r.a.smsw(bx)?;
    r.a.smsw(word_ptr(BUF))?;
    r.print_reg("smsw r32", eax)?;
    r.print_reg("r16", ebx)?;
    r.print_mem32("m16", BUF)?;
    r.newline()
}

/// PUSHFD/PUSHF, PUSH CS/SS/DS (32-bit, over all-ones slots), MOV from CS/SS/DS. Runs with
/// IOPL 2 (set at ring 0 before) and known status flags.
fn stack_and_selectors(r: &mut Rom) -> Asm {
    let a = &mut r.a;
    a.push(FLAGS_IOPL2)?;
    a.popfd()?;
    a.pushfd()?;
    a.pop(eax)?;
    a.mov(ebx, 0xFFFF_FFFFu32)?;
    a.pushf()?;
    a.pop(bx)?;
    r.print_reg("pushfd", eax)?;
    r.print_reg("pushf", ebx)?;
    r.newline()?;
    let a = &mut r.a;
    for _ in 0..3 {
        a.push(0xFFFF_FFFFu32 as i32)?;
    }
    a.add(esp, 12)?;
    a.push(cs)?;
    a.push(ss)?;
    a.push(ds)?;
    a.pop(edx)?;
    a.pop(ecx)?;
    a.pop(ebx)?;
    r.print_reg("push cs", ebx)?;
    r.print_reg("ss", ecx)?;
    r.print_reg("ds", edx)?;
    r.newline()?;
    fill(r, 1)?;
    let a = &mut r.a;
    a.mov(eax, 0xFFFF_FFFFu32)?;
    a.mov(ebx, 0xFFFF_FFFFu32)?;
    a.mov(eax, cs)?;
    a.mov(bx, ss)?;
    a.mov(word_ptr(BUF), ds)?;
    r.print_reg("mov r32,cs", eax)?;
    r.print_reg("r16,ss", ebx)?;
    r.print_mem32("m16,ds", BUF)?;
    r.newline()
}

/// LAR, LSL, VERR, VERW on one selector per line: `sel lar=Z:EAX lsl=Z:EAX verr=Z verw=Z`
/// (Z = ZF; EAX starts as all ones and keeps it when ZF = 0).
fn protection(r: &mut Rom) -> Asm {
    let sels = [
        0x0000,
        CODE0,
        DATA0,
        DATA1,
        DATA3,
        DATA0 | 3,
        DATA3 | 3,
        TSS_SEL,
        LDT_SEL,
        DATA3_SMALL,
        CODE3_XONLY,
        CODE0_CONFORMING | 3,
        DATA3_RONLY,
        CALL_GATE3,
        DATA3_ABSENT,
        INT_GATE3,
        0x0004, // LDT entry 0: DPL-3 data, limit 0xABCD
        0x000C, // LDT entry 1: DPL-0 code
        0x07F8, // an empty GDT entry
        0x0800, // beyond the GDT limit
    ];
    for sel in sels {
        r.a.mov(ecx, u32::from(sel))?;
        r.print_hex(ecx, 4)?;
        for (name, op) in [("lar", 0), ("lsl", 1)] {
            r.a.mov(eax, 0xFFFF_FFFFu32)?;
            if op == 0 {
                r.a.lar(eax, ecx)?;
            } else {
                r.a.lsl(eax, ecx)?;
            }
            zf_to_edx(r)?;
            r.print(&format!(" {name}="))?;
            r.print_hex(edx, 1)?;
            r.print(":")?;
            r.print_hex(eax, 8)?;
        }
        for (name, op) in [("verr", 0), ("verw", 1)] {
            if op == 0 {
                r.a.verr(cx)?;
            } else {
                r.a.verw(cx)?;
            }
            zf_to_edx(r)?;
            r.print(&format!(" {name}="))?;
            r.print_hex(edx, 1)?;
        }
        r.newline()?;
    }
    Ok(())
}

/// EDX = ZF (flags otherwise kept).
fn zf_to_edx(r: &mut Rom) -> Asm {
    r.a.mov(edx, 0u32)?;
    r.a.setz(dl)
}

/// The stores still obey segment protection at ring 3 (SDM SGDT/SMSW/STR/MOV "Protected
/// Mode Exceptions": #GP(0) for a non-writable segment or beyond the limit).
fn store_faults(r: &mut Rom) -> Asm {
    r.print("-- stores at ring 3: read-only segment, limit 0x1234\n")?;
    let ronly = u32::from(DATA3_RONLY | 3);
    let small = u32::from(DATA3_SMALL | 3);
    type Store = fn(&mut CodeAssembler) -> Asm;
    let cases: [(&str, u32, Store); 7] = [
        ("sgdt read-only", ronly, |a| a.sgdt(ptr(BUF).es())),
        ("str read-only", ronly, |a| a.str(word_ptr(BUF).es())),
        ("mov m16,cs read-only", ronly, |a| {
            a.mov(word_ptr(BUF).es(), cs)
        }),
        ("sgdt ending at the limit", small, |a| {
            a.sgdt(ptr(0x122Fu32).es())
        }),
        ("sgdt one byte over", small, |a| a.sgdt(ptr(0x1230u32).es())),
        ("sidt one byte over", small, |a| a.sidt(ptr(0x1230u32).es())),
        ("smsw m16 one byte over", small, |a| {
            a.smsw(word_ptr(0x1234u32).es())
        }),
    ];
    for (name, sel, store) in cases {
        r.print(&format!("{name}: "))?;
        r.in_ring(3, |r| {
            r.a.mov(eax, sel)?;
            r.a.mov(es, ax)?;
            store(&mut r.a)?;
            r.print("no fault\n")
        })?;
    }
    Ok(())
}

/// POPFD (and POPF) of an image that flips IF, IOPL and CF/DF/NT/AC/ID, at each (CPL,
/// IOPL, IF) case: no fault; IF changes only when CPL <= IOPL, IOPL only at CPL 0 (SDM
/// POPF); the 16-bit POPF leaves bits 31:16 (AC, ID) alone.
fn popf_cases(r: &mut Rom) -> Asm {
    r.print("-- popf\n")?;
    for (ring, iopl, iflag) in [
        (0u8, 0u32, 0u32),
        (0, 0, IF),
        (1, 0, 0),
        (1, 1, 0),
        (1, 1, IF),
        (3, 0, 0),
        (3, 0, IF),
        (3, 3, 0),
        (3, 3, IF),
    ] {
        let start = 0x2 | (iopl << 12) | iflag;
        r.print(&format!("cpl={ring} "))?;
        r.a.push(start)?;
        r.a.popfd()?;
        at_ring(r, ring, |r| {
            let a = &mut r.a;
            a.pushfd()?;
            a.pop(ebx)?;
            a.mov(eax, ebx)?;
            a.xor(eax, IF | IOPL3 | 0x0024_4401)?; // IF, IOPL, ID, AC, NT, DF, CF
            a.push(eax)?;
            a.popfd()?;
            a.pushfd()?;
            a.pop(ecx)?;
            // 16-bit POPF: the same image's low word; AC (bit 18) is outside it.
            a.push(ebx)?;
            a.popfd()?;
            a.push(ax)?;
            a.popf()?;
            a.pushfd()?;
            a.pop(edx)?;
            a.push(ebx)?;
            a.popfd()?;
            r.print_reg("before", ebx)?;
            r.print_reg("image", eax)?;
            r.print_reg("popfd", ecx)?;
            r.print_reg("popf", edx)
        })?;
        // Back at ring 0: IF and IOPL clear again (expect_fault ended the ring-0 line).
        r.a.push(0x2)?;
        r.a.popfd()?;
        if ring != 0 {
            r.newline()?;
        }
    }
    Ok(())
}
