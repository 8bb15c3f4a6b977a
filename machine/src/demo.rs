//! The demo ROM (`vtx32 run` without a ROM): a 64 KiB BIOS replacement, assembled at run
//! time with iced `code_asm`, that follows the shared test-ROM conventions and so runs
//! unchanged under QEMU (`-bios`) and Bochs (`romimage:`).
//!
//! What it does, one function per section:
//! 1. [`real_mode`]: banner through port 0xE9, the A20 gate through port 0x92 (off: 1 MiB
//!    wraps; on: it does not), a 16-bit computation printed in hex, segment arithmetic;
//! 2. [`enter_protected_mode`]: LGDT (flat code and data), CR0.PE, far jump to 32-bit code;
//! 3. [`setup_idt`]: one stub per exception vector and for INT 0x30, a common handler that
//!    prints the vector, error code and pushed EIP;
//! 4. [`checks`]: one PASS/FAIL line per instruction family or event (#DE from DIV, #GP
//!    from a bad selector, INT 0x30 and IRET, ALU flags, CALL/RET, PUSHA/POPA, REP MOVSB,
//!    shifts, MUL/IMUL/DIV, CPUID, RDTSC). A family the CPU lacks shows as FAIL (its #UD is
//!    caught) instead of ending the run;
//! 5. [`finish`]: the verdict line `vtx32 demo: N/M checks passed`, then the debug-exit
//!    port 0xF4 with 0 when all passed (host status 1, the QEMU convention) or 1 (status 3),
//!    then "Shutdown" to port 0x8900 (Bochs), then CLI; HLT.
//!
//! The printing helpers avoid shift and divide instructions (rotations are ADD+ADC, decimal
//! digits by subtraction) so the output stays readable while those families are missing.

use crate::roms::{
    deref_code32, emit_bochs_shutdown32, emit_flat_segments32, emit_reset_setup16, label_addr,
    rom_addr, two_pass, Code32, LabelAddrs, RomBuilder, CODE16_OFFSET, CODE32_OFFSET,
};
use iced_x86::code_asm::*;
use iced_x86::IcedError;

type R = Result<(), IcedError>;

/// RAM variables (physical addresses) shared by the real-mode and protected-mode parts.
mod var {
    /// Checks passed / run so far (dwords).
    pub const PASSED: u32 = 0x500;
    pub const TOTAL: u32 = 0x504;
    /// Where an exception handler resumes a check (0: return with IRET instead).
    pub const RECOVER_EIP: u32 = 0x508;
    pub const RECOVER_ESP: u32 = 0x50C;
    /// What the last exception handler saw.
    pub const LAST_VEC: u32 = 0x510;
    pub const LAST_ERR: u32 = 0x514;
    pub const LAST_EIP: u32 = 0x518;
    /// Scratch memory for checks.
    pub const SCRATCH: u32 = 0x600;
    /// The interrupt descriptor table (256 gates).
    pub const IDT: u32 = 0x1000;
}

/// Protected-mode selectors of the demo GDT.
const CODE_SEL: u16 = 0x08;
const DATA_SEL: u16 = 0x10;
/// A selector past the GDT limit: loading it raises #GP(0x80).
const BAD_SEL: u32 = 0x80;
/// Protected-mode stack top.
const PM_STACK: u32 = 0x9_0000;

/// Vectors whose exceptions push an error code (SDM Vol. 3 Table 6-1).
const HAS_ERROR_CODE: [u8; 7] = [8, 10, 11, 12, 13, 14, 17];

/// Builds the demo ROM image (64 KiB), in two passes (see [`LabelAddrs`]).
pub fn demo_rom() -> Vec<u8> {
    two_pass("the demo ROM", build)
}

fn build(addrs: &LabelAddrs) -> Result<(Vec<u8>, LabelAddrs), IcedError> {
    let mut rom = RomBuilder::new();
    let hex = rom.data(b"0123456789abcdef");

    // Real mode first: it ends with the far jump into the 32-bit area's first byte.
    let mut a16 = CodeAssembler::new(16)?;
    let mut rm = Rm {
        a: &mut a16,
        rom: &mut rom,
        hex,
        puts: None,
        hex16: None,
    };
    rm.helpers_labels()?;
    real_mode(&mut rm)?;
    enter_protected_mode(&mut rm)?;
    rm.helpers()?;
    rom.code16(&mut a16)?;

    let mut a32 = CodeAssembler::new(32)?;
    let c = Code32::new(&mut a32, &mut rom, hex, addrs.clone(), 0x30);
    let dec = c.a.create_label();
    let mut pm = Pm { c, dec };
    protected_mode_main(&mut pm)?;
    pm.helpers()?;
    let placed = std::mem::take(&mut pm.c.placed);
    let found = rom.code32_labels(&mut a32, &placed)?;
    Ok((rom.finish(CODE16_OFFSET), found))
}

// ------------------------------------------------------------------------------------------
// Real mode (16-bit code, CS = DS = 0xF000, ES = 0 for RAM variables)
// ------------------------------------------------------------------------------------------

/// Real-mode assembly context: the assembler, the ROM (for strings) and helper labels.
struct Rm<'a> {
    a: &'a mut CodeAssembler,
    rom: &'a mut RomBuilder,
    hex: u16,
    puts: Option<CodeLabel>,
    hex16: Option<CodeLabel>,
}

impl Rm<'_> {
    fn helpers_labels(&mut self) -> R {
        self.puts = Some(self.a.create_label());
        self.hex16 = Some(self.a.create_label());
        Ok(())
    }

    /// Prints `s` (a call to `puts16` with SI = the string).
    fn say(&mut self, s: &str) -> R {
        let off = self.rom.string(s);
        self.a.mov(si, u32::from(off))?;
        self.a.call(self.puts.unwrap())
    }

    /// Prints AX as four hex digits.
    fn print_ax(&mut self) -> R {
        self.a.call(self.hex16.unwrap())
    }

    /// A real-mode check: prints `name`, runs `body` (which jumps to `fail` on a mismatch
    /// and falls through on success), prints PASS or FAIL and counts it.
    fn check(&mut self, name: &str, body: impl FnOnce(&mut Self, CodeLabel) -> R) -> R {
        let mut fail = self.a.create_label();
        let mut end = self.a.create_label();
        self.say(&format!("  {name:<40}"))?;
        body(self, fail)?;
        self.say("PASS\n")?;
        self.a.add(dword_ptr(var::PASSED).es(), 1)?;
        self.a.jmp(end)?;
        self.a.set_label(&mut fail)?;
        self.say("FAIL\n")?;
        self.a.set_label(&mut end)?;
        self.a.add(dword_ptr(var::TOTAL).es(), 1)?;
        Ok(())
    }

    /// The helper subroutines: `puts16` (DS:SI) and `hex16` (AX).
    fn helpers(&mut self) -> R {
        let a = &mut *self.a;
        // puts16: writes the NUL-terminated string at DS:SI to port 0xE9.
        let mut puts = self.puts.unwrap();
        let mut top = a.create_label();
        let mut done = a.create_label();
        a.set_label(&mut puts)?;
        a.push(ax)?;
        a.set_label(&mut top)?;
        a.mov(al, byte_ptr(si))?;
        a.inc(si)?;
        a.test(al, al)?;
        a.jz(done)?;
        a.out(0xE9, al)?;
        a.jmp(top)?;
        a.set_label(&mut done)?;
        a.pop(ax)?;
        a.ret()?;

        // hex16: prints AX as four lowercase hex digits (rotate left by 4 = 4 x ADD+ADC).
        let mut hex16 = self.hex16.unwrap();
        let mut digit = a.create_label();
        a.set_label(&mut hex16)?;
        a.push(ax)?;
        a.push(bx)?;
        a.push(cx)?;
        a.push(dx)?;
        a.mov(dx, ax)?;
        a.mov(cx, 4u32)?;
        a.set_label(&mut digit)?;
        for _ in 0..4 {
            a.add(dx, dx)?;
            a.adc(dx, 0)?;
        }
        a.mov(bx, dx)?;
        a.and(bx, 0xF)?;
        a.mov(al, byte_ptr(bx + u32::from(self.hex)))?;
        a.out(0xE9, al)?;
        a.dec(cx)?;
        a.jnz(digit)?;
        a.pop(dx)?;
        a.pop(cx)?;
        a.pop(bx)?;
        a.pop(ax)?;
        a.ret()
    }
}

/// Section 1: from the reset vector, in real mode.
fn real_mode(rm: &mut Rm) -> R {
    {
        let a = &mut *rm.a;
        emit_reset_setup16(a)?;
        a.mov(al, 0x01u32)?;
        a.out(0x80, al)?; // POST 01: reset vector reached
                          // The counters live in RAM, which starts zeroed; clear them anyway (warm resets).
        a.mov(dword_ptr(var::PASSED).es(), 0)?;
        a.mov(dword_ptr(var::TOTAL).es(), 0)?;
    }
    rm.say("vtx32 demo ROM: real mode, A20, protected mode, exceptions\n")?;
    rm.say("real mode (CS=f000, 16-bit code):\n")?;
    a20_checks(rm)?;
    arithmetic_checks(rm)?;
    rm.a.mov(al, 0x02u32)?;
    rm.a.out(0x80, al) // POST 02: real-mode part done
}

/// The A20 gate through port 0x92: with it off, FFFF:0810 (= 0x100800) aliases 0000:0800.
fn a20_checks(rm: &mut Rm) -> R {
    rm.check("A20 off: 1 MiB wraps to 0 (port 0x92)", |rm, fail| {
        let a = &mut *rm.a;
        a.in_(al, 0x92)?;
        a.and(al, 0xFC)?; // bit 1 = A20 off; bit 0 stays clear (it would reset)
        a.out(0x92, al)?;
        a.mov(bx, 0xFFFFu32)?;
        a.mov(fs, bx)?;
        a.mov(word_ptr(0x800).es(), 0x1234)?;
        a.mov(word_ptr(0x810).fs(), 0x5678)?;
        a.cmp(word_ptr(0x800).es(), 0x5678)?;
        a.jne(fail)
    })?;
    rm.check("A20 on: 1 MiB does not wrap", |rm, fail| {
        let a = &mut *rm.a;
        a.in_(al, 0x92)?;
        a.or(al, 2)?;
        a.and(al, 0xFE)?;
        a.out(0x92, al)?;
        a.in_(al, 0x92)?;
        a.test(al, 2)?;
        a.jz(fail)?;
        a.mov(word_ptr(0x800).es(), 0x1234)?;
        a.mov(word_ptr(0x810).fs(), 0x5678)?;
        a.cmp(word_ptr(0x800).es(), 0x1234)?;
        a.jne(fail)
    })
}

/// 16-bit arithmetic and segment:offset addressing.
fn arithmetic_checks(rm: &mut Rm) -> R {
    rm.check("16-bit loop: sum(1..100) = 0x13ba", |rm, fail| {
        let a = &mut *rm.a;
        let mut top = a.create_label();
        a.xor(ax, ax)?;
        a.mov(cx, 100u32)?;
        a.set_label(&mut top)?;
        a.add(ax, cx)?;
        a.loop_(top)?;
        a.push(ax)?;
        rm.say("(got 0x")?;
        rm.a.pop(ax)?;
        rm.print_ax()?;
        rm.say(") ")?;
        rm.a.cmp(ax, 0x13BA)?;
        rm.a.jne(fail)
    })?;
    rm.check("segments: 1000:0010 is 1001:0000", |rm, fail| {
        let a = &mut *rm.a;
        a.mov(ax, 0x1000u32)?;
        a.mov(fs, ax)?;
        a.mov(ax, 0x1001u32)?;
        a.mov(gs, ax)?;
        a.mov(word_ptr(0x0010).fs(), 0xBEEF)?;
        a.cmp(word_ptr(0x0000).gs(), 0xBEEF)?;
        a.jne(fail)
    })
}

/// Section 2: LGDT, CR0.PE, far jump to the 32-bit code at the start of its area.
fn enter_protected_mode(rm: &mut Rm) -> R {
    // Flat descriptors (SDM Vol. 3 §3.4.5): null, code 0x08 (execute/read, 32-bit, 4 GiB),
    // data 0x10 (read/write, 32-bit, 4 GiB). Accessed bits preset: the GDT is in ROM.
    let gdt: [u64; 3] = [0, 0x00CF_9B00_0000_FFFF, 0x00CF_9300_0000_FFFF];
    let gdt_bytes: Vec<u8> = gdt.iter().flat_map(|d| d.to_le_bytes()).collect();
    let gdt_off = rm.rom.data(&gdt_bytes);
    let mut desc = Vec::new();
    desc.extend_from_slice(&((gdt_bytes.len() - 1) as u16).to_le_bytes());
    desc.extend_from_slice(&rom_addr(gdt_off).to_le_bytes());
    let desc_off = rm.rom.data(&desc);

    rm.say("entering protected mode\n")?;
    let a = &mut *rm.a;
    a.lgdt(ptr(u32::from(desc_off)))?;
    a.mov(eax, cr0)?;
    a.or(eax, 1)?;
    a.mov(cr0, eax)?;
    // jmp dword far 0008h:(0F0000h + CODE32_OFFSET): the operand-size prefix selects ptr16:32.
    let target = rom_addr(CODE32_OFFSET).to_le_bytes();
    let sel = CODE_SEL.to_le_bytes();
    a.db(&[
        0x66, 0xEA, target[0], target[1], target[2], target[3], sel[0], sel[1],
    ])
}

// ------------------------------------------------------------------------------------------
// Protected mode (32-bit flat code)
// ------------------------------------------------------------------------------------------

/// Protected-mode assembly context.
struct Pm<'a> {
    c: Code32<'a>,
    dec: CodeLabel,
}

deref_code32!(Pm);

impl Pm<'_> {
    /// A protected-mode check: prints `name`, arms recovery (an exception during `body`
    /// resumes at the FAIL path with the stack restored), runs `body` (jumps to `fail` on a
    /// mismatch, falls through on success), prints PASS or FAIL and counts it.
    fn check(&mut self, name: &str, body: impl FnOnce(&mut Self, CodeLabel) -> R) -> R {
        let mut fail = self.a.create_label();
        let mut end = self.a.create_label();
        self.say(&format!("  {name:<40}"))?;
        let fail_addr = label_addr(&self.addrs, fail);
        let a = &mut *self.a;
        a.mov(dword_ptr(var::LAST_VEC), 0xFFFF_FFFFu32 as i32)?;
        a.mov(dword_ptr(var::RECOVER_ESP), esp)?;
        a.mov(eax, fail_addr)?;
        a.mov(dword_ptr(var::RECOVER_EIP), eax)?;
        body(self, fail)?;
        self.a.mov(dword_ptr(var::RECOVER_EIP), 0)?;
        self.say("PASS\n")?;
        self.a.add(dword_ptr(var::PASSED), 1)?;
        self.a.jmp(end)?;
        self.place(&mut fail)?;
        self.a.mov(esp, dword_ptr(var::RECOVER_ESP))?;
        self.a.mov(dword_ptr(var::RECOVER_EIP), 0)?;
        self.say("FAIL\n")?;
        self.a.set_label(&mut end)?;
        self.a.add(dword_ptr(var::TOTAL), 1)?;
        Ok(())
    }

    /// Checks that the last exception had vector `v`, pushed EIP = `at` and, if given,
    /// error code `err`.
    fn expect_exception(&mut self, v: u32, at: CodeLabel, err: Option<u32>, fail: CodeLabel) -> R {
        let at_addr = label_addr(&self.addrs, at);
        let a = &mut *self.a;
        a.cmp(dword_ptr(var::LAST_VEC), v as i32)?;
        a.jne(fail)?;
        a.mov(eax, at_addr)?;
        a.cmp(dword_ptr(var::LAST_EIP), eax)?;
        a.jne(fail)?;
        if let Some(e) = err {
            a.cmp(dword_ptr(var::LAST_ERR), e as i32)?;
            a.jne(fail)?;
        }
        Ok(())
    }

    /// Helper subroutines: `puts` (ESI), `hexn` (EAX, ECX digits), `dec` (EAX < 1000),
    /// the exception stubs and the common handler.
    fn helpers(&mut self) -> R {
        // puts (ESI) and hexn (EAX, ECX digits): see crate::roms.
        self.print_subroutines()?;
        let a = &mut *self.c.a;

        // dec: prints EAX (0-999) in decimal, digits by repeated subtraction.
        let mut hundreds = a.create_label();
        let mut tens = a.create_label();
        let mut tens_done = a.create_label();
        let mut no_h = a.create_label();
        let mut no_t = a.create_label();
        a.set_label(&mut self.dec)?;
        a.push(eax)?;
        a.push(ebx)?;
        a.push(ecx)?;
        a.xor(ebx, ebx)?; // hundreds
        a.xor(ecx, ecx)?; // tens
        a.set_label(&mut hundreds)?;
        a.cmp(eax, 100)?;
        a.jb(tens)?;
        a.sub(eax, 100)?;
        a.inc(ebx)?;
        a.jmp(hundreds)?;
        a.set_label(&mut tens)?;
        a.cmp(eax, 10)?;
        a.jb(tens_done)?;
        a.sub(eax, 10)?;
        a.inc(ecx)?;
        a.jmp(tens)?;
        a.set_label(&mut tens_done)?;
        a.push(eax)?; // units
        a.test(ebx, ebx)?;
        a.jz(no_h)?;
        a.lea(eax, dword_ptr(ebx + 0x30))?;
        a.out(0xE9, al)?;
        a.set_label(&mut no_h)?;
        a.mov(eax, ebx)?;
        a.or(eax, ecx)?;
        a.jz(no_t)?;
        a.lea(eax, dword_ptr(ecx + 0x30))?;
        a.out(0xE9, al)?;
        a.set_label(&mut no_t)?;
        a.pop(eax)?;
        a.add(eax, 0x30)?;
        a.out(0xE9, al)?;
        a.pop(ecx)?;
        a.pop(ebx)?;
        a.pop(eax)?;
        a.ret()?;

        self.exception_handlers()
    }

    /// Section 3b: per-vector stubs (push a zero error code where the CPU pushes none, then
    /// the vector) and the common handler. The handler records vector, error code and
    /// pushed EIP, prints them, then resumes the current check at its recovery point, or
    /// returns with IRET when none is armed (INT 0x30).
    fn exception_handlers(&mut self) -> R {
        self.exception_stubs(&HAS_ERROR_CODE)?;

        let mut common = self.common;
        let mut iret = self.a.create_label();
        self.a.set_label(&mut common)?;
        // Frame: [esp] vector, [esp+4] error code, [esp+8] EIP, [esp+12] CS, [esp+16] EFLAGS.
        let a = &mut *self.a;
        a.push(eax)?;
        a.mov(eax, dword_ptr(esp + 4))?;
        a.mov(dword_ptr(var::LAST_VEC), eax)?;
        a.mov(eax, dword_ptr(esp + 8))?;
        a.mov(dword_ptr(var::LAST_ERR), eax)?;
        a.mov(eax, dword_ptr(esp + 12))?;
        a.mov(dword_ptr(var::LAST_EIP), eax)?;
        self.say("[vector ")?;
        self.a.mov(eax, dword_ptr(var::LAST_VEC))?;
        self.print_hex(2)?;
        self.say(" error ")?;
        self.a.mov(eax, dword_ptr(var::LAST_ERR))?;
        self.print_hex(4)?;
        self.say(" eip ")?;
        self.a.mov(eax, dword_ptr(var::LAST_EIP))?;
        self.print_hex(8)?;
        self.say("] ")?;
        let a = &mut *self.a;
        a.pop(eax)?;
        a.cmp(dword_ptr(var::RECOVER_EIP), 0)?;
        a.je(iret)?;
        a.mov(eax, dword_ptr(var::RECOVER_EIP))?;
        a.mov(dword_ptr(var::RECOVER_EIP), 0)?;
        a.jmp(eax)?;
        a.set_label(&mut iret)?;
        a.add(esp, 8)?;
        a.iretd()
    }
}

/// The 32-bit part: segment registers, IDT, checks, verdict.
fn protected_mode_main(pm: &mut Pm) -> R {
    {
        let a = &mut *pm.a;
        emit_flat_segments32(a, DATA_SEL, PM_STACK)?;
        a.mov(al, 0x03u32)?;
        a.out(0x80, al)?; // POST 03: protected mode
    }
    pm.say("protected mode (CS=0008, flat 32-bit code):\n")?;
    setup_idt(pm)?;
    checks(pm)?;
    finish(pm)
}

/// Section 3: the IDT at 0x1000 with 32-bit interrupt gates to the stubs.
fn setup_idt(pm: &mut Pm) -> R {
    let stubs = pm.stubs.clone();
    let addrs = pm.addrs.clone();
    let a = &mut *pm.a;
    for (v, l) in stubs {
        // Gate: offset 15:0 | selector | 0x8E00 (P, DPL 0, 32-bit interrupt gate) | offset 31:16.
        // Built without shifts: store the offset twice, then overwrite the other halves.
        let g = var::IDT + u32::from(v) * 8;
        a.mov(eax, label_addr(&addrs, l))?;
        a.mov(dword_ptr(g), eax)?;
        a.mov(word_ptr(g + 2), u32::from(CODE_SEL))?;
        a.mov(dword_ptr(g + 4), eax)?;
        a.mov(word_ptr(g + 4), 0x8E00u32)?;
    }
    let mut idtr = Vec::new();
    idtr.extend_from_slice(&(256u16 * 8 - 1).to_le_bytes());
    idtr.extend_from_slice(&var::IDT.to_le_bytes());
    let idtr_off = pm.rom.data(&idtr);
    pm.a.lidt(ptr(rom_addr(idtr_off)))?;
    pm.a.mov(al, 0x04u32)?;
    pm.a.out(0x80, al) // POST 04: IDT loaded
}

/// Section 4: one PASS/FAIL line per family or event.
fn checks(pm: &mut Pm) -> R {
    exception_checks(pm)?;
    alu_checks(pm)?;
    stack_checks(pm)?;
    string_checks(pm)?;
    shift_muldiv_checks(pm)?;
    system_checks(pm)
}

/// #DE, #GP with an error code, INT 0x30 with IRET.
fn exception_checks(pm: &mut Pm) -> R {
    pm.check("DIV by zero raises #DE", |pm, fail| {
        let mut at = pm.a.create_label();
        let mut resume = pm.a.create_label();
        let a = &mut *pm.c.a;
        a.mov(eax, label_addr(&pm.c.addrs, resume))?;
        a.mov(dword_ptr(var::RECOVER_EIP), eax)?;
        a.xor(ecx, ecx)?;
        a.mov(eax, 1)?;
        a.xor(edx, edx)?;
        pm.place(&mut at)?;
        let a = &mut *pm.a;
        a.div(ecx)?;
        a.jmp(fail)?;
        pm.place(&mut resume)?;
        pm.expect_exception(0, at, None, fail)
    })?;
    pm.check("bad selector raises #GP(0080)", |pm, fail| {
        let mut at = pm.a.create_label();
        let mut resume = pm.a.create_label();
        let a = &mut *pm.c.a;
        a.mov(eax, label_addr(&pm.c.addrs, resume))?;
        a.mov(dword_ptr(var::RECOVER_EIP), eax)?;
        a.mov(eax, BAD_SEL)?;
        pm.place(&mut at)?;
        let a = &mut *pm.a;
        a.mov(ds, ax)?;
        a.jmp(fail)?;
        pm.place(&mut resume)?;
        pm.expect_exception(13, at, Some(BAD_SEL), fail)
    })?;
    pm.check("INT 30h and IRET", |pm, fail| {
        let mut after = pm.a.create_label();
        let a = &mut *pm.a;
        a.mov(dword_ptr(var::RECOVER_EIP), 0)?; // the handler returns with IRET
        a.int(0x30)?;
        pm.place(&mut after)?;
        let fail_addr = label_addr(&pm.addrs, fail);
        let a = &mut *pm.a;
        a.mov(eax, fail_addr)?;
        a.mov(dword_ptr(var::RECOVER_EIP), eax)?;
        pm.expect_exception(0x30, after, None, fail)
    })
}

/// ALU results and flags.
fn alu_checks(pm: &mut Pm) -> R {
    // OF SF ZF AF PF CF.
    const STATUS: i32 = 0x8D5;
    pm.check("ADD/SUB/ADC results and flags", |pm, fail| {
        let a = &mut *pm.a;
        // 0x7fffffff + 1: OF SF AF PF set, ZF CF clear.
        a.mov(eax, 0x7FFF_FFFF)?;
        a.add(eax, 1)?;
        a.pushfd()?;
        a.pop(ebx)?;
        a.and(ebx, STATUS)?;
        a.cmp(ebx, 0x894)?;
        a.jne(fail)?;
        a.cmp(eax, 0x8000_0000u32 as i32)?;
        a.jne(fail)?;
        // 0 - 1: CF SF AF PF set, ZF OF clear.
        a.xor(eax, eax)?;
        a.sub(eax, 1)?;
        a.pushfd()?;
        a.pop(ebx)?;
        a.and(ebx, STATUS)?;
        a.cmp(ebx, 0x95)?;
        a.jne(fail)?;
        // ADC adds the carry.
        a.stc()?;
        a.mov(eax, 5)?;
        a.adc(eax, 10)?;
        a.cmp(eax, 16)?;
        a.jne(fail)?;
        // AND/OR/XOR/NOT/NEG.
        a.mov(eax, 0xF0F0)?;
        a.and(eax, 0x3C3C)?;
        a.or(eax, 0x1)?;
        a.xor(eax, 0x3031)?;
        a.not(eax)?;
        a.neg(eax)?;
        a.cmp(eax, 1)?;
        a.jne(fail)
    })
}

/// CALL/RET and PUSHAD/POPAD.
fn stack_checks(pm: &mut Pm) -> R {
    pm.check("CALL/RET imm16", |pm, fail| {
        let mut func = pm.a.create_label();
        let mut over = pm.a.create_label();
        let a = &mut *pm.a;
        a.jmp(over)?;
        a.set_label(&mut func)?;
        a.mov(eax, dword_ptr(esp + 4))?;
        a.add(eax, 40)?;
        a.ret_1(4)?;
        a.set_label(&mut over)?;
        a.mov(ebx, esp)?;
        a.push(2)?;
        a.call(func)?;
        a.cmp(eax, 42)?;
        a.jne(fail)?;
        a.cmp(esp, ebx)?;
        a.jne(fail)
    })?;
    pm.check("PUSHAD/POPAD", |pm, fail| {
        let a = &mut *pm.a;
        a.mov(eax, 1)?;
        a.mov(ecx, 2)?;
        a.mov(edx, 3)?;
        a.mov(ebx, 4)?;
        a.mov(ebp, 6)?;
        a.mov(esi, 7)?;
        a.mov(edi, 8)?;
        a.mov(dword_ptr(var::SCRATCH), esp)?;
        a.pushad()?;
        // Order in memory: EDI ESI EBP ESP EBX EDX ECX EAX (lowest address first).
        a.cmp(dword_ptr(esp + 28), 1)?;
        a.jne(fail)?;
        a.cmp(dword_ptr(esp), 8)?;
        a.jne(fail)?;
        a.mov(eax, dword_ptr(esp + 12))?;
        a.cmp(eax, dword_ptr(var::SCRATCH))?;
        a.jne(fail)?;
        for r in [eax, ecx, edx, ebx, ebp, esi, edi] {
            a.xor(r, r)?;
        }
        a.popad()?;
        for (r, v) in [
            (eax, 1),
            (ecx, 2),
            (edx, 3),
            (ebx, 4),
            (ebp, 6),
            (esi, 7),
            (edi, 8),
        ] {
            a.cmp(r, v)?;
            a.jne(fail)?;
        }
        a.cmp(esp, dword_ptr(var::SCRATCH))?;
        a.jne(fail)
    })
}

/// REP MOVSB from ROM to RAM.
fn string_checks(pm: &mut Pm) -> R {
    let text = "copied by REP MOVSB";
    let src = rom_addr(pm.rom.string(text));
    let n = text.len() as u32;
    let dst = var::SCRATCH + 0x100;
    pm.check("REP MOVSB", |pm, fail| {
        let mut cmp = pm.a.create_label();
        let a = &mut *pm.a;
        a.cld()?;
        a.mov(esi, src)?;
        a.mov(edi, dst)?;
        a.mov(ecx, n)?;
        a.rep().movsb()?;
        a.test(ecx, ecx)?;
        a.jnz(fail)?;
        a.cmp(edi, (dst + n) as i32)?;
        a.jne(fail)?;
        a.cmp(esi, (src + n) as i32)?;
        a.jne(fail)?;
        a.xor(ebx, ebx)?;
        a.set_label(&mut cmp)?;
        a.mov(al, byte_ptr(ebx + src))?;
        a.cmp(al, byte_ptr(ebx + dst))?;
        a.jne(fail)?;
        a.inc(ebx)?;
        a.cmp(ebx, n as i32)?;
        a.jb(cmp)
    })
}

/// Shifts, multiply and divide.
fn shift_muldiv_checks(pm: &mut Pm) -> R {
    pm.check("SHL/SHR/SAR/ROL", |pm, fail| {
        let a = &mut *pm.a;
        a.mov(eax, 0x81)?;
        a.shl(eax, 4)?;
        a.shr(eax, 1)?;
        a.cmp(eax, 0x408)?;
        a.jne(fail)?;
        a.mov(eax, 0x8000_0000u32)?;
        a.sar(eax, 31)?;
        a.cmp(eax, -1)?;
        a.jne(fail)?;
        a.mov(eax, 0x8000_0001u32)?;
        a.rol(eax, 1)?;
        a.cmp(eax, 3)?;
        a.jne(fail)
    })?;
    pm.check("MUL/IMUL/DIV", |pm, fail| {
        let a = &mut *pm.a;
        a.mov(eax, 100_000)?;
        a.mov(ecx, 300_000)?;
        a.mul(ecx)?; // 3e10 = 0x6_FC23_AC00
        a.cmp(edx, 6)?;
        a.jne(fail)?;
        a.cmp(eax, 0xFC23_AC00u32 as i32)?;
        a.jne(fail)?;
        a.imul_3(ebx, ecx, -2)?;
        a.cmp(ebx, -600_000)?;
        a.jne(fail)?;
        a.mov(eax, 100)?;
        a.xor(edx, edx)?;
        a.mov(ecx, 7)?;
        a.div(ecx)?;
        a.cmp(eax, 14)?;
        a.jne(fail)?;
        a.cmp(edx, 2)?;
        a.jne(fail)
    })
}

/// CPUID and RDTSC.
fn system_checks(pm: &mut Pm) -> R {
    // The vendor is printed, not checked: under a hardware-assisted QEMU it is the host's.
    pm.check("CPUID leaf 0 (max leaf >= 1)", |pm, fail| {
        let a = &mut *pm.a;
        a.xor(eax, eax)?;
        a.cpuid()?;
        a.mov(dword_ptr(var::SCRATCH), ebx)?;
        a.mov(dword_ptr(var::SCRATCH + 4), edx)?;
        a.mov(dword_ptr(var::SCRATCH + 8), ecx)?;
        a.mov(byte_ptr(var::SCRATCH + 12), 0)?;
        a.push(eax)?;
        pm.say("(")?;
        pm.a.push(esi)?;
        pm.a.mov(esi, var::SCRATCH)?;
        pm.c.a.call(pm.c.puts)?;
        pm.a.pop(esi)?;
        pm.say(") ")?;
        pm.a.pop(eax)?;
        pm.a.cmp(eax, 1)?;
        pm.a.jb(fail)
    })?;
    pm.check("RDTSC advances", |pm, fail| {
        let a = &mut *pm.a;
        a.rdtsc()?;
        a.mov(ebx, eax)?;
        a.nop()?;
        a.rdtsc()?;
        a.sub(eax, ebx)?;
        a.push(eax)?;
        pm.say("(delta 0x")?;
        pm.a.pop(eax)?;
        pm.print_hex(8)?;
        pm.say(") ")?;
        pm.a.test(eax, eax)?;
        pm.a.jz(fail)
    })
}

/// Section 5: the verdict line, then the exits.
fn finish(pm: &mut Pm) -> R {
    pm.a.mov(al, 0x05u32)?;
    pm.a.out(0x80, al)?; // POST 05: checks done
    pm.say("vtx32 demo: ")?;
    pm.a.mov(eax, dword_ptr(var::PASSED))?;
    pm.c.a.call(pm.dec)?;
    pm.say("/")?;
    pm.a.mov(eax, dword_ptr(var::TOTAL))?;
    pm.c.a.call(pm.dec)?;
    pm.say(" checks passed\n")?;

    let a = &mut *pm.c.a;
    // QEMU isa-debug-exit: 0 when everything passed (host status 1), else 1 (status 3).
    a.mov(eax, dword_ptr(var::PASSED))?;
    a.cmp(eax, dword_ptr(var::TOTAL))?;
    a.setne(al)?;
    a.out(0xF4, al)?;
    // Bochs: "Shutdown" to port 0x8900.
    emit_bochs_shutdown32(a, pm.c.rom)
}
