//! Virtual-8086 mode (SDM Vol. 3 ch. 20): entry by IRETD, the IOPL-sensitive instructions
//! at IOPL 0 and 3, INT n with and without CR4.VME redirection, VIF/VIP, I/O from v86
//! through the bitmap, and CR4.PVI at ring 3.
//!
//! Virtual-8086 code cannot print: it stores what it sees at 2000:0800 and ends with HLT
//! (#GP(0) to the kit's handler, which prints its `EXC` line) or with INT 30h (the kit's
//! resume gate, IOPL 3 only). Ring 0 then prints the stored words and the frame the
//! interrupt left on the TSS ring-0 stack (EIP, EFLAGS without RF, ESP, and the data
//! segment selectors pushed from v86).

use crate::romkit::*;
use iced_x86::code_asm::*;

/// Virtual-8086 code and data segment (linear 0x20000); results at offset 0x800.
const SEG: u32 = 0x2000;
const BASE: u32 = SEG << 4;
const RESULTS: u32 = 0x800;
/// The 8086 interrupt handler for INT 21h: 2000:0100.
const HANDLER_IP: u32 = 0x100;
const V86_SP: u32 = 0xF00;
/// ES pushed on entry (a recognisable selector).
const V86_ES: u32 = 0x1234;

pub(crate) const IF: u32 = 1 << 9;
pub(crate) const TF: u32 = 1 << 8;
pub(crate) const IOPL3: u32 = 3 << 12;
pub(crate) const RF: u32 = 1 << 16;
pub(crate) const VM: u32 = 1 << 17;
pub(crate) const VIF: u32 = 1 << 19;
pub(crate) const VIP: u32 = 1 << 20;
pub(crate) const CR4_VME: u32 = 1;
pub(crate) const CR4_PVI: u32 = 2;

/// Emits stores that write `bytes` at flat address `at`.
pub(crate) fn copy_bytes(r: &mut Rom, at: u32, bytes: &[u8]) -> Asm {
    for (k, c) in bytes.chunks(4).enumerate() {
        let mut w = [0u8; 4];
        w[..c.len()].copy_from_slice(c);
        let a = at + 4 * k as u32;
        match c.len() {
            4 => r.a.mov(dword_ptr(a), u32::from_le_bytes(w))?,
            _ => {
                for (i, b) in c.iter().enumerate() {
                    r.a.mov(byte_ptr(a + i as u32), u32::from(*b))?;
                }
            }
        }
    }
    Ok(())
}

/// Loads all of EFLAGS (VIP, VIF and IOPL included) with an IRETD to the same level at
/// ring 0.
pub(crate) fn set_eflags(r: &mut Rom, v: u32) -> Asm {
    let mut iret = r.label();
    let mut after = r.label();
    r.a.push(v | 2)?;
    r.a.push(u32::from(CODE0))?;
    r.a.call(iret)?;
    r.a.jmp(after)?;
    r.a.set_label(&mut iret)?;
    r.a.iretd()?;
    r.a.set_label(&mut after)?;
    r.a.zero_bytes()
}

/// Writes CR4.
pub(crate) fn set_cr4(r: &mut Rom, v: u32) -> Asm {
    r.a.mov(eax, v)?;
    r.a.mov(cr4, eax)
}

/// Prints the 16-bit value at flat `addr` as `name=XXXX `.
fn print_word(r: &mut Rom, name: &str, addr: u32) -> Asm {
    r.a.movzx(eax, word_ptr(addr))?;
    r.print(&format!("{name}="))?;
    r.print_hex(eax, 4)?;
    r.print(" ")
}

/// Prints the frame an interrupt from v86 left at the top of the TSS ring-0 stack.
fn print_frame(r: &mut Rom) -> Asm {
    let top = STACK0_TSS;
    r.print("  frame")?;
    for (name, off, digits, mask) in [
        ("eip", 36, 4, 0xFFFF_FFFF),
        ("cs", 32, 4, 0xFFFF),
        ("fl", 28, 8, !RF),
        ("sp", 24, 4, 0xFFFF_FFFF),
        ("es", 16, 4, 0xFFFF),
        ("ds", 12, 4, 0xFFFF),
        ("gs", 4, 4, 0xFFFF),
    ] {
        r.a.mov(eax, dword_ptr(top - off))?;
        r.a.and(eax, mask)?;
        r.print(&format!(" {name}="))?;
        r.print_hex(eax, digits)?;
    }
    r.newline()
}

/// Clears the results and the frame area, so that every value printed is this case's.
fn clear(r: &mut Rom) -> Asm {
    for k in 0..8 {
        r.a.mov(dword_ptr(BASE + RESULTS + 4 * k), 0u32)?;
    }
    for k in 1..=10 {
        r.a.mov(dword_ptr(STACK0_TSS - 4 * k), 0u32)?;
    }
    Ok(())
}

/// One case: `code` (16-bit, at 2000:0000) runs in v86 with `eflags | VM` and CR4 = `cr4`;
/// then the frame and `words` result words are printed.
fn case(
    r: &mut Rom,
    name: &str,
    eflags: u32,
    cr4_value: u32,
    words: u32,
    code: impl FnOnce(&mut CodeAssembler) -> Asm,
) -> Asm {
    r.print(&format!("-- {name}\n"))?;
    let mut a16 = CodeAssembler::new(16)?;
    code(&mut a16)?;
    let bytes = a16.assemble(0)?;
    copy_bytes(r, BASE, &bytes)?;
    clear(r)?;
    set_cr4(r, cr4_value)?;
    r.expect_fault(|r| {
        for v in [0, 0, SEG, V86_ES, SEG, V86_SP, eflags | VM | 2, SEG, 0] {
            r.a.push(v)?;
        }
        r.a.iretd()
    })?;
    set_cr4(r, 0)?;
    set_eflags(r, 0)?;
    print_frame(r)?;
    if words > 0 {
        r.print(" ")?;
        for k in 0..words {
            print_word(r, &format!("r{k}"), BASE + RESULTS + 2 * k)?;
        }
        r.newline()?;
    }
    Ok(())
}

/// 16-bit: stores FLAGS (PUSHF) as result word `k`.
fn store_flags(a: &mut CodeAssembler, k: u32) -> Asm {
    a.pushf()?;
    a.pop(word_ptr(RESULTS + 2 * k))
}

/// 16-bit: PUSH imm16 through AX.
fn push16(a: &mut CodeAssembler, v: u32) -> Asm {
    a.mov(ax, v)?;
    a.push(ax)
}

/// The 8086 handler for INT 21h at 2000:0100: stores the IP, CS and FLAGS it was given
/// (r4-r6) and the FLAGS it runs with (r7), then IRETs.
fn install_int21_handler(r: &mut Rom) -> Asm {
    let mut a16 = CodeAssembler::new(16)?;
    a16.mov(bp, sp)?;
    for k in 0..3u32 {
        a16.mov(ax, word_ptr(bp + 2 * k))?;
        a16.mov(word_ptr(RESULTS + 8 + 2 * k), ax)?;
    }
    store_flags(&mut a16, 7)?;
    a16.iret()?;
    let bytes = a16.assemble(u64::from(HANDLER_IP))?;
    copy_bytes(r, BASE + HANDLER_IP, &bytes)?;
    // IVT[21h] = 2000:0100.
    r.a.mov(dword_ptr(0x21 * 4), (SEG << 16) | HANDLER_IP)
}

/// The TSS interrupt-redirection bitmap byte and bit of vector `v`.
fn redir_bit(v: u8) -> (u32, u32) {
    (TSS + 0x68 + u32::from(v) / 8, 1 << (v % 8))
}

pub fn rom() -> Asm<Vec<u8>> {
    let mut r = Rom::new("v86")?;
    install_int21_handler(&mut r)?;
    // IDT[21h] = a copy of the kit's DPL-3 resume gate (INT 21h to the IDT ends the case).
    for k in [0, 4] {
        r.a.mov(eax, dword_ptr(IDT + u32::from(RESUME_VECTOR) * 8 + k))?;
        r.a.mov(dword_ptr(IDT + 0x21 * 8 + k), eax)?;
    }

    // Entry by IRETD: CPL 3, the segments from the frame; HLT is privileged.
    case(&mut r, "enter by iretd, iopl 0", 0, 0, 5, |a| {
        a.mov(word_ptr(RESULTS), cs)?;
        a.mov(word_ptr(RESULTS + 2), ss)?;
        a.mov(word_ptr(RESULTS + 4), sp)?;
        a.mov(word_ptr(RESULTS + 6), es)?;
        a.mov(word_ptr(RESULTS + 8), fs)?;
        a.hlt()
    })?;

    // IOPL 0 without VME: every IOPL-sensitive instruction is #GP(0) at EIP 0.
    type Insn = fn(&mut CodeAssembler) -> Asm;
    let sensitive: [(&str, Insn); 9] = [
        ("cli", |a| a.cli()),
        ("sti", |a| a.sti()),
        ("pushf", |a| a.pushf()),
        ("popf", |a| a.popf()),
        ("pushfd", |a| a.pushfd()),
        ("popfd", |a| a.popfd()),
        ("int 21h", |a| a.int(0x21)),
        ("iret", |a| a.iret()),
        ("iretd", |a| a.iretd()),
    ];
    for (name, f) in sensitive {
        case(&mut r, &format!("iopl 0: {name}"), IF, 0, 0, |a| {
            f(a)?;
            a.hlt()
        })?;
    }

    // IOPL 3: the instructions work on IF; PUSHF shows IOPL 3; INT n goes to the IDT.
    case(
        &mut r,
        "iopl 3: cli pushf sti pushf popf(08d5) pushf",
        IOPL3,
        0,
        3,
        |a| {
            a.cli()?;
            store_flags(a, 0)?;
            a.sti()?;
            store_flags(a, 1)?;
            push16(a, 0x08D5)?;
            a.popf()?;
            store_flags(a, 2)?;
            a.hlt()
        },
    )?;
    case(
        &mut r,
        "iopl 3: int 21h to the idt",
        IOPL3 | IF,
        0,
        0,
        |a| {
            a.nop()?;
            a.int(0x21)
        },
    )?;

    // VME at IOPL 0: CLI/STI/PUSHF/POPF use VIF; IF stays as it was.
    case(
        &mut r,
        "vme iopl 0: sti pushf cli pushf popf(if) pushf",
        IF,
        CR4_VME,
        3,
        |a| {
            a.sti()?;
            store_flags(a, 0)?;
            a.cli()?;
            store_flags(a, 1)?;
            push16(a, IF)?;
            a.popf()?;
            store_flags(a, 2)?;
            a.hlt()
        },
    )?;
    case(&mut r, "vme iopl 0: sti with vip", VIP, CR4_VME, 0, |a| {
        a.sti()?;
        a.hlt()
    })?;
    case(&mut r, "vme iopl 0: popf(tf)", 0, CR4_VME, 0, |a| {
        push16(a, TF)?;
        a.popf()?;
        a.hlt()
    })?;
    case(
        &mut r,
        "vme iopl 0: popf(if) with vip",
        VIP,
        CR4_VME,
        0,
        |a| {
            push16(a, IF)?;
            a.popf()?;
            a.hlt()
        },
    )?;
    case(&mut r, "vme iopl 0: pushfd", 0, CR4_VME, 0, |a| {
        a.pushfd()?;
        a.hlt()
    })?;
    case(
        &mut r,
        "vme iopl 0: iret(if) to 2000:0040",
        0,
        CR4_VME,
        0,
        |a| {
            push16(a, IF)?;
            push16(a, SEG)?;
            push16(a, 0x40)?;
            a.iret()?;
            a.db(&[0x90; 0x40 - 13])?;
            a.hlt()
        },
    )?;
    case(&mut r, "vme iopl 0: iretd", 0, CR4_VME, 0, |a| {
        a.iretd()?;
        a.hlt()
    })?;

    // INT n under VME: redirection bit clear -> the 8086 handler through the IVT.
    case(
        &mut r,
        "vme iopl 0: int 21h redirected (vif=1)",
        VIF | IF,
        CR4_VME,
        8,
        |a| {
            a.int(0x21)?;
            store_flags(a, 0)?;
            a.hlt()
        },
    )?;
    case(
        &mut r,
        "vme iopl 3: int 21h redirected",
        IOPL3 | IF,
        CR4_VME,
        8,
        |a| {
            a.int(0x21)?;
            store_flags(a, 0)?;
            a.hlt()
        },
    )?;
    // Redirection bit set: the IDT at IOPL 3, #GP(0) at IOPL 0.
    let (byte, bit) = redir_bit(0x21);
    r.a.or(byte_ptr(byte), bit)?;
    case(
        &mut r,
        "vme iopl 3: int 21h not redirected",
        IOPL3,
        CR4_VME,
        0,
        |a| a.int(0x21),
    )?;
    case(
        &mut r,
        "vme iopl 0: int 21h not redirected",
        0,
        CR4_VME,
        0,
        |a| a.int(0x21),
    )?;
    r.a.and(byte_ptr(byte), !bit & 0xFF)?;
    // INT3 is not IOPL-sensitive and never redirected.
    case(&mut r, "vme iopl 0: int3", 0, CR4_VME, 0, |a| a.int3())?;

    // I/O in v86 uses only the bitmap (IOPL does not matter).
    case(
        &mut r,
        "iopl 0: out e9 (allowed by the bitmap)",
        0,
        0,
        0,
        |a| {
            a.mov(al, b'V' as u32)?;
            a.out(0xE9, al)?;
            a.mov(al, b'\n' as u32)?;
            a.out(0xE9, al)?;
            a.hlt()
        },
    )?;
    let port_byte = IOMAP + 0xE9 / 8;
    r.a.or(byte_ptr(port_byte), 1u32 << (0xE9 % 8))?;
    case(
        &mut r,
        "iopl 3: out e9 (denied by the bitmap)",
        IOPL3,
        0,
        0,
        |a| {
            a.mov(al, b'X' as u32)?;
            a.out(0xE9, al)?;
            a.hlt()
        },
    )?;
    r.a.and(byte_ptr(port_byte), !(1u32 << (0xE9 % 8)) & 0xFF)?;

    // IRETD to v86 checks EIP against the 64-KiB v86 CS limit: #GP(0) at ring 0.
    // (Bochs 2.7 truncates EIP to 16 bits and runs the HLT at 2000:0000: a known
    // difference.)
    r.print("-- iretd to v86 with eip 10000\n")?;
    copy_bytes(&mut r, BASE, &[0xF4])?;
    r.expect_fault(|r| {
        for v in [0, 0, SEG, V86_ES, SEG, V86_SP, VM | 2, SEG, 0x1_0000] {
            r.a.push(v)?;
        }
        r.a.iretd()
    })?;
    // An interrupt from v86 must reach a ring-0 nonconforming handler: #GP(selector).
    let mut never = r.label();
    r.set_idt_gate(0x40, CODE3, never, access::INT_GATE32 | access::dpl(3))?;
    case(
        &mut r,
        "iopl 3: int 40h to a ring-3 code segment",
        IOPL3,
        0,
        0,
        |a| a.int(0x40),
    )?;
    // The redirection bitmap byte must lie within the TSS limit.
    r.print("-- tss limit 6b (below the bitmap byte of int 21h)\n")?;
    super::io_protection::load_tr(&mut r, TSS, 0x6B, access::TSS32)?;
    case(&mut r, "vme iopl 3: int 21h", IOPL3, CR4_VME, 0, |a| {
        a.int(0x21)
    })?;
    super::io_protection::restore_tr(&mut r)?;

    // CR4.PVI: CLI/STI at CPL 3 with IOPL 0 change VIF; STI with VIP is #GP(0).
    r.print("-- pvi ring 3: cli pushfd sti pushfd\n")?;
    set_cr4(&mut r, CR4_PVI)?;
    r.in_ring(3, |r| {
        r.a.cli()?;
        r.a.pushfd()?;
        r.a.pop(eax)?;
        r.print_reg("fl", eax)?;
        r.a.sti()?;
        r.a.pushfd()?;
        r.a.pop(eax)?;
        r.print_reg("fl", eax)?;
        r.newline()
    })?;
    r.print("-- pvi ring 3: sti with vip\n")?;
    set_eflags(&mut r, VIP)?;
    r.in_ring(3, |r| r.a.sti())?;
    set_eflags(&mut r, 0)?;
    r.print("-- ring 3 without pvi: cli\n")?;
    set_cr4(&mut r, 0)?;
    r.in_ring(3, |r| r.a.cli())?;
    let mut after = r.label();
    r.a.jmp(after)?;
    r.a.set_label(&mut never)?;
    r.a.int3()?;
    r.a.set_label(&mut after)?;
    r.a.zero_bytes()?;
    r.finish()
}
