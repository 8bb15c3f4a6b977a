//! Interrupts and exceptions through the IDT (SDM Vol. 3 ch. 6): 32- and 16-bit interrupt
//! and trap gates with the frames they push, a privilege change with the stack switch from
//! the TSS (and #SS with the new SS selector when the new stack has no room for the frame),
//! IRET to an outer level (data segment registers that become inaccessible are
//! nulled), INT n/INT3/INTO/BOUND, gate DPL and presence checks with their error codes
//! (IDT and EXT bits), and the double-fault rules of Table 6-5.

use crate::romkit::*;
use iced_x86::code_asm::*;

/// A 32-bit code segment based at the ROM (offsets below 64 KiB, for 16-bit gates).
const CODE_ROM: u16 = FREE_SEL;

pub fn rom() -> Asm<Vec<u8>> {
    let mut r = Rom::new("interrupts")?;
    r.set_descriptor(CODE_ROM, ROM_BASE, 0xFFFF, access::CODE, FLAGS_32_BYTES)?;
    gates_same_level(&mut r)?;
    gate_16bit(&mut r)?;
    privilege_change(&mut r)?;
    inner_stack_without_room(&mut r)?;
    iret_to_outer_level(&mut r)?;
    software_exceptions(&mut r)?;
    gate_checks(&mut r)?;
    double_fault(&mut r)?;
    r.finish()
}

/// Prints the dwords of the frame at ESP, one per name (clobbers EBP).
fn print_frame(r: &mut Rom, names: &[&str]) -> Asm {
    r.a.mov(ebp, esp)?;
    for (k, name) in names.iter().enumerate() {
        r.a.mov(eax, dword_ptr(ebp + 4 * k as i32))?;
        r.print_reg(name, eax)?;
    }
    r.newline()
}

/// INT n through a 32-bit interrupt gate and a trap gate: IF cleared only by the former;
/// the frame is EIP, CS, EFLAGS; IRET returns.
fn gates_same_level(r: &mut Rom) -> Asm {
    r.print("-- 32-bit gates, same level\n")?;
    let mut handler = r.label();
    let mut skip = r.label();
    r.set_idt_gate(0x40, CODE0, handler, access::INT_GATE32)?;
    r.set_idt_gate(0x41, CODE0, handler, access::TRAP_GATE32)?;
    r.a.jmp(skip)?;
    r.a.set_label(&mut handler)?;
    r.a.pushfd()?;
    r.a.pop(eax)?;
    r.print_reg("handler eflags", eax)?;
    r.a.mov(eax, esp)?;
    r.print_reg("esp", eax)?;
    r.a.mov(eax, dword_ptr(esp + 4))?;
    r.print_reg("cs", eax)?;
    r.a.mov(eax, dword_ptr(esp + 8))?;
    r.print_reg("eflags", eax)?;
    r.newline()?;
    r.a.iretd()?;
    r.a.set_label(&mut skip)?;
    for v in [0x40u32, 0x41] {
        r.a.sti()?;
        r.a.int(v)?;
        r.a.pushfd()?;
        r.a.pop(eax)?;
        r.a.cli()?;
        r.print_reg("after iret eflags", eax)?;
        r.newline()?;
    }
    Ok(())
}

/// A 16-bit interrupt gate pushes FLAGS, CS, IP as words; its handler (entered in a segment
/// based at the ROM, since the gate's offset has 16 bits) moves to the flat code segment,
/// prints them and ends the case (an IRET to a truncated IP would not return here).
fn gate_16bit(r: &mut Rom) -> Asm {
    r.print("-- 16-bit interrupt gate\n")?;
    let mut handler = r.label();
    let mut flat = r.label();
    let mut skip = r.label();
    r.a.jmp(skip)?;
    r.a.set_label(&mut handler)?;
    r.a.push(u32::from(CODE0))?;
    r.address_of(eax, flat)?;
    r.a.push(eax)?;
    r.a.retf()?;
    r.a.set_label(&mut flat)?;
    r.a.mov(eax, esp)?;
    r.print_reg("esp", eax)?;
    r.a.movzx(eax, word_ptr(esp))?;
    r.print_reg("ip", eax)?;
    r.a.movzx(eax, word_ptr(esp + 2))?;
    r.print_reg("cs", eax)?;
    r.a.movzx(eax, word_ptr(esp + 4))?;
    r.print_reg("flags", eax)?;
    r.newline()?;
    r.resume()?;
    r.a.set_label(&mut skip)?;
    r.set_gate_in(
        IDT + 8 * 0x42,
        CODE_ROM,
        ROM_BASE,
        handler,
        access::INT_GATE16,
        0,
    )?;
    r.expect_fault(|r| r.a.int(0x42))
}

/// INT n from ring 3 through a DPL-3 gate to ring 0: SS:ESP come from the TSS and the
/// frame holds EIP, CS, EFLAGS, ESP, SS of ring 3.
fn privilege_change(r: &mut Rom) -> Asm {
    r.print("-- ring 3 to ring 0\n")?;
    let mut handler = r.label();
    let mut skip = r.label();
    r.a.jmp(skip)?;
    r.a.set_label(&mut handler)?;
    r.a.mov(eax, esp)?;
    r.print_reg("esp", eax)?;
    r.a.xor(eax, eax)?;
    r.a.mov(ax, ss)?;
    r.print_reg("ss", eax)?;
    r.newline()?;
    print_frame(r, &["eip", "cs", "eflags", "user esp", "user ss"])?;
    r.a.iretd()?;
    r.a.set_label(&mut skip)?;
    r.set_idt_gate(0x43, CODE0, handler, access::INT_GATE32 | access::dpl(3))?;
    r.in_ring(3, |r| {
        r.a.int(0x43)?;
        r.a.mov(eax, esp)?;
        r.print_reg("back in ring 3, esp", eax)?;
        r.newline()
    })
}

/// A ring-1 data segment of 16 bytes, the ring-1 stack of [`inner_stack_without_room`].
const SMALL_STACK1: u16 = FREE_SEL + 8;

/// INT n from ring 3 to a ring-1 handler whose stack (TSS SS1:ESP1) has room for 16 of
/// the frame's 20 bytes: #SS with the new SS selector as error code, before anything is
/// pushed (SDM INT n, "INTER-PRIVILEGE-LEVEL-INTERRUPT").
fn inner_stack_without_room(r: &mut Rom) -> Asm {
    r.print("-- inner stack without room\n")?;
    let mut handler = r.label();
    let mut skip = r.label();
    r.a.jmp(skip)?;
    r.a.set_label(&mut handler)?;
    r.print("ring-1 handler reached\n")?;
    r.a.iretd()?;
    r.a.set_label(&mut skip)?;
    r.set_descriptor(
        SMALL_STACK1,
        FREE_LOW + 0x800,
        0xF,
        access::DATA | access::dpl(1),
        FLAGS_32_BYTES,
    )?;
    let (esp1, ss1) = (TSS + 12, TSS + 16);
    r.a.push(dword_ptr(esp1))?;
    r.a.push(dword_ptr(ss1))?;
    r.a.mov(dword_ptr(esp1), 0x10u32)?;
    r.a.mov(dword_ptr(ss1), u32::from(SMALL_STACK1 | 1))?;
    r.set_idt_gate(0x48, CODE1, handler, access::INT_GATE32 | access::dpl(3))?;
    r.in_ring(3, |r| r.a.int(0x48))?;
    // Nothing was written below the top of the small stack.
    r.print_mem32("stack top - 4", FREE_LOW + 0x800 + 0xC)?;
    r.newline()?;
    r.a.pop(dword_ptr(ss1))?;
    r.a.pop(dword_ptr(esp1))
}

/// IRET from ring 0 to ring 3 nulls ES and FS when they hold ring-0 data selectors (SDM
/// IRET "RETURN-TO-OUTER-PRIVILEGE-LEVEL"); DS (ring-3 data) is kept.
fn iret_to_outer_level(r: &mut Rom) -> Asm {
    r.print("-- IRET to an outer level\n")?;
    let mut handler = r.label();
    let mut skip = r.label();
    r.a.jmp(skip)?;
    r.a.set_label(&mut handler)?;
    r.a.mov(eax, u32::from(DATA0))?;
    r.a.mov(es, ax)?;
    r.a.mov(fs, ax)?;
    r.a.iretd()?;
    r.a.set_label(&mut skip)?;
    r.set_idt_gate(0x44, CODE0, handler, access::INT_GATE32 | access::dpl(3))?;
    r.in_ring(3, |r| {
        r.a.int(0x44)?;
        r.a.xor(eax, eax)?;
        for (name, s) in [("ds", ds), ("es", es), ("fs", fs), ("gs", gs)] {
            r.a.mov(ax, s)?;
            r.print_reg(name, eax)?;
        }
        r.newline()?;
        // Using the nulled ES faults with #GP(0).
        r.a.mov(eax, dword_ptr(0x1000u32).es())
    })
}

/// INT3 and INTO are traps (EIP after the instruction); BOUND is a fault.
fn software_exceptions(r: &mut Rom) -> Asm {
    r.print("-- INT3, INTO, BOUND\n")?;
    let mut handler = r.label();
    let mut skip = r.label();
    let mut int3_at = r.label();
    let mut into_at = r.label();
    let mut bound_at = r.label();
    r.a.jmp(skip)?;
    r.a.set_label(&mut handler)?;
    // Print the pushed EIP relative to each instruction's address.
    r.a.mov(eax, dword_ptr(esp))?;
    r.print_reg("pushed eip", eax)?;
    r.newline()?;
    r.resume()?;
    r.a.set_label(&mut skip)?;
    for v in [3u8, 4, 5] {
        r.set_idt_gate(v, CODE0, handler, access::INT_GATE32 | access::dpl(3))?;
    }
    for (name, l) in [
        ("int3 at", int3_at),
        ("into at", into_at),
        ("bound at", bound_at),
    ] {
        r.address_of(eax, l)?;
        r.print_reg(name, eax)?;
    }
    r.newline()?;
    r.expect_fault(|r| {
        r.a.set_label(&mut int3_at)?;
        r.a.int3()
    })?;
    r.expect_fault(|r| {
        r.a.mov(eax, 0x7FFF_FFFFu32)?;
        r.a.add(eax, 1u32)?;
        r.a.set_label(&mut into_at)?;
        CodeAssembler::into(&mut r.a)
    })?;
    r.expect_fault(|r| {
        r.a.mov(dword_ptr(FREE_LOW), 10u32)?;
        r.a.mov(dword_ptr(FREE_LOW + 4), 20u32)?;
        r.a.mov(eax, 25u32)?;
        r.a.set_label(&mut bound_at)?;
        r.a.bound(eax, qword_ptr(FREE_LOW))
    })?;
    Ok(())
}

/// Gate checks: INT n from ring 3 through a DPL-0 gate is #GP(vector*8+2); a gate that is
/// not present is #NP with the same form; a vector beyond the IDT limit is #GP. The EXT bit
/// is set when the failing delivery was for an exception, not for INT n.
fn gate_checks(r: &mut Rom) -> Asm {
    r.print("-- gate checks\n")?;
    r.in_ring(3, |r| r.a.int(0x45))?; // an empty entry (DPL 0, no valid type): #GP
    let mut h = r.label();
    let mut skip = r.label();
    r.a.jmp(skip)?;
    r.a.set_label(&mut h)?;
    r.a.iretd()?;
    r.a.set_label(&mut skip)?;
    r.set_idt_gate(0x46, CODE0, h, access::INT_GATE32)?; // DPL 0
    r.in_ring(3, |r| r.a.int(0x46))?;
    r.set_idt_gate(0x47, CODE0, h, (access::INT_GATE32 & 0x7F) | access::dpl(3))?; // P = 0
    r.in_ring(3, |r| r.a.int(0x47))?;
    r.expect_fault(|r| r.a.int(0xFF))?; // inside the limit but empty: #GP(0x7FA)
                                        // INT3 through a not-present gate: #NP(0x1A), EXT = 0 (a software interrupt).
    r.set_idt_gate(3, CODE0, h, access::INT_GATE32 & 0x7F)?;
    r.expect_fault(|r| r.a.int3())?;
    Ok(())
}

/// Table 6-5: a contributory exception (#GP) whose gate is not present raises #NP during
/// delivery, and contributory + contributory is a double fault (error code 0). A benign
/// exception (#UD) with a missing gate gives #NP, or #GP for a null selector, not #DF.
fn double_fault(r: &mut Rom) -> Asm {
    r.print("-- double faults\n")?;
    let save = FREE_LOW + 0x100;
    for v in [6u32, 13, 14] {
        r.a.mov(eax, dword_ptr(IDT + 8 * v))?;
        r.a.mov(dword_ptr(save + 8 * v), eax)?;
        r.a.mov(eax, dword_ptr(IDT + 8 * v + 4))?;
        r.a.mov(dword_ptr(save + 8 * v + 4), eax)?;
    }
    // #UD with a not-present gate: #NP(6*8+2+EXT).
    r.a.and(dword_ptr(IDT + 8 * 6 + 4), !0x8000u32)?;
    r.expect_fault(|r| r.a.ud2())?;
    // #GP with a not-present gate: #DF.
    r.a.and(dword_ptr(IDT + 8 * 13 + 4), !0x8000u32)?;
    r.expect_fault(|r| {
        r.a.mov(eax, 0x800u32)?;
        r.a.mov(ds, ax)
    })?;
    r.a.or(dword_ptr(IDT + 8 * 13 + 4), 0x8000u32)?;
    // #UD (benign) whose gate has a null code selector: #GP during delivery, no #DF.
    r.a.and(dword_ptr(IDT + 8 * 6), 0x0000_FFFFu32)?;
    r.a.or(dword_ptr(IDT + 8 * 6 + 4), 0x8000u32)?;
    r.expect_fault(|r| r.a.ud2())?;
    for v in [6u32, 13, 14] {
        r.a.mov(eax, dword_ptr(save + 8 * v))?;
        r.a.mov(dword_ptr(IDT + 8 * v), eax)?;
        r.a.mov(eax, dword_ptr(save + 8 * v + 4))?;
        r.a.mov(dword_ptr(IDT + 8 * v + 4), eax)?;
    }
    r.expect_fault(|r| r.a.ud2())
}
