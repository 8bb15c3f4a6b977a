//! Control registers and their checks (SDM Vol. 3 §2.5, Vol. 2 MOV CRn, LMSW, SMSW, CLTS):
//! invalid CR0 combinations and reserved CR4 bits are #GP(0) with no effect, CR2/CR3 are
//! read and written as given, LMSW cannot clear PE, SMSW and MOV from CRn at ring 3.

use crate::romkit::*;
use iced_x86::code_asm::*;

pub fn rom() -> Asm<Vec<u8>> {
    let mut r = Rom::new("control_registers")?;
    r.a.mov(eax, cr0)?;
    r.print_reg("cr0", eax)?;
    r.a.mov(eax, cr4)?;
    r.print_reg("cr4", eax)?;
    r.newline()?;
    // CR0: PG without PE, NW without CD: #GP(0). Setting CD|NW together is allowed.
    for (name, set, clear) in [
        ("pg without pe", 0x8000_0000u32, 1u32),
        ("nw without cd", 1 << 29, 1 << 30),
    ] {
        r.print(name)?;
        r.print(": ")?;
        r.expect_fault(|r| {
            r.a.mov(eax, cr0)?;
            r.a.or(eax, set)?;
            r.a.and(eax, !clear)?;
            r.a.mov(cr0, eax)
        })?;
    }
    r.a.mov(eax, cr0)?;
    r.print_reg("cr0 unchanged", eax)?;
    r.newline()?;
    // Reserved CR0 bits (28:19, 17, 15:6): the SDM faults only on bits 63:32 (which do not
    // exist on IA-32); writes to these are ignored and they read as 0 (§2.5).
    for bit in [7u32, 15, 20] {
        r.a.mov(eax, bit)?;
        r.print_reg("cr0 bit", eax)?;
        r.expect_fault(|r| {
            r.a.mov(eax, cr0)?;
            r.a.or(eax, 1u32 << bit)?;
            r.a.mov(cr0, eax)?;
            r.a.mov(eax, cr0)?;
            r.print_reg("reads", eax)?;
            r.a.and(eax, !(1u32 << bit))?;
            r.a.mov(cr0, eax)
        })?;
    }
    // CR4: the bits this model has, then reserved bits.
    for bit in [0u32, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 13, 14, 16, 20] {
        r.a.mov(eax, bit)?;
        r.print_reg("cr4 bit", eax)?;
        r.expect_fault(|r| {
            r.a.mov(eax, cr4)?;
            r.a.or(eax, 1u32 << bit)?;
            r.a.mov(cr4, eax)?;
            r.a.mov(eax, cr4)?;
            r.print_reg("reads", eax)?;
            r.a.xor(eax, eax)?;
            r.a.mov(cr4, eax)
        })?;
    }
    // CR2 and CR3 hold what is written (CR3's low bits: PWT/PCD and ignored bits).
    r.a.mov(eax, 0x1234_5678u32)?;
    r.a.mov(cr2, eax)?;
    r.a.mov(eax, cr2)?;
    r.print_reg("cr2", eax)?;
    r.a.mov(eax, 0x0012_3FFFu32)?;
    r.a.mov(cr3, eax)?;
    r.a.mov(eax, cr3)?;
    r.print_reg("cr3", eax)?;
    r.a.xor(eax, eax)?;
    r.a.mov(cr3, eax)?;
    r.newline()?;
    // LMSW loads MP/EM/TS and can set but not clear PE; SMSW stores the low word.
    r.a.mov(eax, 0xFFF0u32)?;
    r.a.lmsw(ax)?;
    r.a.mov(eax, cr0)?;
    r.print_reg("lmsw fff0 -> cr0", eax)?;
    r.a.mov(eax, 0x000Eu32)?;
    r.a.lmsw(ax)?;
    r.a.mov(eax, cr0)?;
    r.print_reg("lmsw 000e -> cr0", eax)?;
    r.a.clts()?;
    r.a.mov(eax, 0xFFFF_FFFFu32)?;
    r.a.smsw(ax)?;
    r.print_reg("smsw ax", eax)?;
    r.a.mov(eax, 0xFFFF_FFFFu32)?;
    r.a.smsw(eax)?;
    r.print_reg("smsw eax", eax)?;
    r.a.mov(dword_ptr(FREE_LOW), 0xFFFF_FFFFu32)?;
    r.a.smsw(word_ptr(FREE_LOW))?;
    r.print_mem32("smsw m16", FREE_LOW)?;
    r.newline()?;
    // Clear MP/EM again.
    r.a.mov(eax, cr0)?;
    r.a.and(eax, !0xEu32)?;
    r.a.mov(cr0, eax)?;
    // Ring 3: SMSW works; MOV from CR0, CLTS, LMSW and MOV to CR3 are #GP(0).
    r.in_ring(3, |r| {
        r.a.smsw(eax)?;
        r.print_reg("ring3 smsw", eax)?;
        r.newline()
    })?;
    r.in_ring(3, |r| r.a.mov(eax, cr0))?;
    r.in_ring(3, |r| r.a.clts())?;
    r.in_ring(3, |r| r.a.lmsw(ax))?;
    r.in_ring(3, |r| r.a.mov(cr3, eax))?;
    // CR1, CR5-CR7 do not exist: #UD.
    r.expect_fault(|r| {
        r.a.db(&[0x0F, 0x20, 0xC8]) // mov eax, cr1
    })?;
    r.expect_fault(|r| {
        r.a.db(&[0x0F, 0x22, 0xE8]) // mov cr5, eax
    })?;
    r.finish()
}
