//! External interrupts (SDM Vol. 3 §6.3, §6.8): the 8259A interrupt controllers and the
//! 8254 timer of the board deliver IRQ0 through an IDT interrupt gate; HLT waits for it;
//! IF = 0 holds requests pending (visible in the IRR); the STI shadow delays recognition by
//! one instruction; an interrupt arriving at ring 3 switches to the TSS stack; the handler
//! sees its request in service (ISR) until EOI. What is printed does not depend on timing.

use crate::romkit::*;
use iced_x86::code_asm::*;

/// Kit-free variables: the interrupt count, a "quiet" switch for the handler, and the
/// stage the main code was in when the handler ran.
const COUNT: u32 = FREE_LOW;
const QUIET: u32 = FREE_LOW + 4;
const STAGE: u32 = FREE_LOW + 8;
const IRQ0_VECTOR: u8 = 0x20;

pub fn rom() -> Asm<Vec<u8>> {
    let mut r = Rom::new("external_interrupts")?;
    setup(&mut r)?;
    halt_and_wake(&mut r)?;
    pending_while_disabled(&mut r)?;
    sti_shadow(&mut r)?;
    from_ring3(&mut r)?;
    one_shot(&mut r)?;
    r.a.cli()?;
    r.a.mov(al, 0xFFu32)?;
    r.a.out(0x21, al)?; // mask everything
    r.finish()
}

/// The IRQ0 handler, the timer stopped, the controllers initialized (vectors 0x20/0x28,
/// everything masked but IRQ0), and any request left from before initialization consumed.
fn setup(r: &mut Rom) -> Asm {
    let mut handler = r.label();
    let mut skip = r.label();
    r.a.jmp(skip)?;
    r.a.set_label(&mut handler)?;
    irq0_handler(r)?;
    r.a.set_label(&mut skip)?;
    r.set_idt_gate(IRQ0_VECTOR, CODE0, handler, access::INT_GATE32)?;
    let a = &mut r.a;
    a.mov(dword_ptr(COUNT), 0u32)?;
    a.mov(dword_ptr(QUIET), 1u32)?;
    a.mov(dword_ptr(STAGE), 0u32)?;
    // Timer: a control word stops channel 0 until a count is written.
    a.mov(al, 0x34u32)?;
    a.out(0x43, al)?;
    // ICW1-ICW4 for both controllers, then the masks (OCW1).
    for (port, v) in [
        (0x20u32, 0x11u32),
        (0x21, 0x20),
        (0x21, 0x04),
        (0x21, 0x01),
        (0xA0, 0x11),
        (0xA1, 0x28),
        (0xA1, 0x02),
        (0xA1, 0x01),
        (0x21, 0xFE),
        (0xA1, 0xFF),
    ] {
        a.mov(al, v)?;
        a.out(port, al)?;
    }
    // A request latched before initialization (the timer may have run since power-on
    // on some boards) is taken now, silently.
    a.sti()?;
    a.nop()?;
    a.cli()?;
    a.mov(dword_ptr(QUIET), 0u32)?;
    r.print("controllers initialized\n")
}

/// Counts, prints (unless quiet) the frame's CS and EFLAGS, its own IF, the ISR before
/// and after EOI and the main code's stage, then sends a non-specific EOI and returns.
fn irq0_handler(r: &mut Rom) -> Asm {
    let mut quiet = r.label();
    r.a.push(eax)?;
    r.a.inc(dword_ptr(COUNT))?;
    r.a.cmp(dword_ptr(QUIET), 0u32)?;
    r.a.jne(quiet)?;
    r.print("irq0: ")?;
    r.a.mov(eax, dword_ptr(esp + 8))?;
    r.print_reg("cs", eax)?;
    r.a.pushfd()?;
    r.a.pop(eax)?;
    r.print_reg("if-inside", eax)?;
    r.a.mov(al, 0x0Bu32)?; // OCW3: read ISR
    r.a.out(0x20, al)?;
    r.a.in_(al, 0x20)?;
    r.a.movzx(eax, al)?;
    r.print_reg("isr", eax)?;
    r.a.mov(eax, dword_ptr(STAGE))?;
    r.print_reg("stage", eax)?;
    r.a.set_label(&mut quiet)?;
    r.a.mov(al, 0x20u32)?; // OCW2: non-specific EOI
    r.a.out(0x20, al)?;
    r.a.cmp(dword_ptr(QUIET), 0u32)?;
    let mut done = r.label();
    r.a.jne(done)?;
    r.a.mov(al, 0x0Bu32)?;
    r.a.out(0x20, al)?;
    r.a.in_(al, 0x20)?;
    r.a.movzx(eax, al)?;
    r.print_reg("isr-after-eoi", eax)?;
    r.newline()?;
    r.a.set_label(&mut done)?;
    r.a.pop(eax)?;
    r.a.iretd()
}

/// Starts channel 0 in `mode` with `count` (LSB then MSB).
fn start_timer(r: &mut Rom, mode: u32, count: u16) -> Asm {
    let a = &mut r.a;
    a.mov(al, 0x30 | (mode << 1))?;
    a.out(0x43, al)?;
    a.mov(al, u32::from(count & 0xFF))?;
    a.out(0x40, al)?;
    a.mov(al, u32::from(count >> 8))?;
    a.out(0x40, al)
}

/// STI; HLT three times: each HLT ends with one IRQ0, the saved EIP after the HLT.
fn halt_and_wake(r: &mut Rom) -> Asm {
    r.print("-- hlt until irq0 (mode 2, periodic)\n")?;
    start_timer(r, 2, 0x2000)?;
    for stage in 1..=3u32 {
        r.a.mov(dword_ptr(STAGE), stage)?;
        r.a.sti()?;
        r.a.hlt()?;
        r.a.cli()?;
        r.print("woke\n")?;
    }
    Ok(())
}

/// With IF = 0 the request waits in the IRR; STI lets it in.
fn pending_while_disabled(r: &mut Rom) -> Asm {
    r.print("-- pending with if=0\n")?;
    let mut wait = r.label();
    r.a.mov(dword_ptr(STAGE), 4u32)?;
    r.a.set_label(&mut wait)?;
    r.a.mov(al, 0x0Au32)?; // OCW3: read IRR
    r.a.out(0x20, al)?;
    r.a.in_(al, 0x20)?;
    r.a.test(al, 1u32)?;
    r.a.jz(wait)?;
    r.a.movzx(eax, al)?;
    r.print_reg("irr", eax)?;
    r.a.mov(eax, dword_ptr(COUNT))?;
    r.a.mov(dword_ptr(COUNT + 12), eax)?;
    r.newline()?;
    r.a.sti()?;
    r.a.mov(dword_ptr(STAGE), 5u32)?; // in the STI shadow
    r.a.mov(dword_ptr(STAGE), 6u32)?; // the interrupt comes before this one
    r.a.cli()?;
    Ok(())
}

/// A request pending at STI is taken after the instruction that follows STI.
fn sti_shadow(r: &mut Rom) -> Asm {
    r.print("-- sti shadow\n")?;
    let mut wait = r.label();
    r.a.mov(dword_ptr(STAGE), 7u32)?;
    r.a.set_label(&mut wait)?;
    r.a.mov(al, 0x0Au32)?;
    r.a.out(0x20, al)?;
    r.a.in_(al, 0x20)?;
    r.a.test(al, 1u32)?;
    r.a.jz(wait)?;
    r.a.sti()?;
    r.a.mov(dword_ptr(STAGE), 8u32)?;
    r.a.mov(dword_ptr(STAGE), 9u32)?;
    r.a.cli()
}

/// At ring 3 with IF = 1 the interrupt switches to the ring-0 stack of the TSS (the frame's
/// CS is the ring-3 selector); ring 3 (IOPL 3, so that it may STI) waits for the count to
/// move, reading it in the STI shadow so that no interrupt comes before the read.
fn from_ring3(r: &mut Rom) -> Asm {
    r.print("-- irq at ring 3\n")?;
    r.a.mov(dword_ptr(STAGE), 10u32)?;
    r.a.pushfd()?;
    r.a.or(dword_ptr(esp), 0x3000u32)?;
    r.a.popfd()?;
    r.in_ring(3, |r| {
        let mut wait = r.label();
        r.a.sti()?;
        r.a.mov(eax, dword_ptr(COUNT))?;
        r.a.set_label(&mut wait)?;
        r.a.cmp(dword_ptr(COUNT), eax)?;
        r.a.je(wait)?;
        r.print("ring 3 saw the count change\n")
    })?;
    r.a.pushfd()?;
    r.a.and(dword_ptr(esp), !0x3200u32)?; // IOPL 0, IF 0
    r.a.popfd()
}

/// Mode 0 raises one edge when the count runs out.
fn one_shot(r: &mut Rom) -> Asm {
    r.print("-- mode 0 (one shot)\n")?;
    r.a.mov(dword_ptr(STAGE), 11u32)?;
    start_timer(r, 0, 0x400)?;
    r.a.sti()?;
    r.a.hlt()?;
    r.a.cli()?;
    r.print("woke once\n")
}
