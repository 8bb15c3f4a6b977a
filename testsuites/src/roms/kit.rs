//! The kit's own test: the start-up state, printing, recovery from faults at ring 0, and
//! a round trip through ring 3 (a fault there, then a clean exit through the resume gate).

use crate::romkit::*;
use iced_x86::code_asm::*;

pub fn rom() -> Asm<Vec<u8>> {
    let mut r = Rom::new("kit")?;
    // Start-up state: selectors, CR0, EFLAGS.
    r.a.mov(eax, cr0)?;
    r.print_reg("cr0", eax)?;
    r.a.pushfd()?;
    r.a.pop(eax)?;
    r.print_reg("eflags", eax)?;
    r.a.xor(eax, eax)?;
    r.a.mov(ax, cs)?;
    r.print_reg("cs", eax)?;
    r.a.str(eax)?;
    r.print_reg("tr", eax)?;
    r.a.mov(eax, esp)?;
    r.print_reg("esp", eax)?;
    r.newline()?;
    // Recovery from faults at ring 0: #UD, #GP with a selector error code, #DE.
    r.expect_fault(|r| r.a.ud2())?;
    r.expect_fault(|r| {
        r.a.mov(eax, 0x7F8u32)?; // beyond the kit's GDT entries: a null descriptor
        r.a.mov(ds, ax)?;
        r.a.mov(eax, dword_ptr(0u32))
    })?;
    r.expect_fault(|r| {
        r.a.mov(eax, 0x800u32)?; // beyond the GDT limit
        r.a.mov(es, ax)
    })?;
    r.expect_fault(|r| {
        r.a.xor(ecx, ecx)?;
        r.a.div(ecx)
    })?;
    r.expect_fault(|r| r.a.nop())?;
    // Ring 3: the selectors seen there, then a privileged instruction.
    r.in_ring(3, |r| {
        r.a.xor(eax, eax)?;
        r.a.mov(ax, cs)?;
        r.print_reg("ring3 cs", eax)?;
        r.a.mov(ax, ss)?;
        r.print_reg("ss", eax)?;
        r.newline()?;
        r.a.cli()
    })?;
    r.in_ring(3, |r| r.print("ring 3 and back\n"))?;
    r.in_ring(1, |r| {
        r.a.xor(eax, eax)?;
        r.a.mov(ax, cs)?;
        r.print_reg("ring1 cs", eax)?;
        r.newline()
    })?;
    r.finish()
}
