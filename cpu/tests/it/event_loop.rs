//! A guest stuck in an event loop (a #UD handler whose first instruction is UD2) cannot
//! retire an instruction again; the run must still end, with `StopReason::NoProgress`.

use crate::common::*;
use iced_x86::code_asm::*;
use vtx32_cpu::StopReason;

const IDT: u32 = 0x3000;
const GDT: u32 = 0x2000;

#[test]
fn a_handler_that_faults_on_its_first_instruction_ends_the_run_as_no_progress() {
    // GDT: null, flat code (0x08), flat data (0x10). IDT vector 6: 32-bit interrupt gate
    // to 0x5000, where a UD2 waits.
    let mut gdt = vec![0u8; 24];
    gdt[8..16].copy_from_slice(&[0xFF, 0xFF, 0, 0, 0, 0x9B, 0xCF, 0]);
    gdt[16..24].copy_from_slice(&[0xFF, 0xFF, 0, 0, 0, 0x93, 0xCF, 0]);
    let mut idt = vec![0u8; 8 * 7];
    idt[48..56].copy_from_slice(&[0x00, 0x50, 0x08, 0x00, 0x00, 0x8E, 0x00, 0x00]);
    let handler = [0x0F, 0x0B]; // ud2
    let (cpu, stop) = run_with(
        |a| {
            a.mov(eax, 1u32).unwrap();
            a.ud2().unwrap();
        },
        &[(GDT, &gdt), (IDT, &idt), (0x5000, &handler)],
        |cpu| {
            cpu.stop_on_exception = false;
            cpu.core.sregs.gdtr.base = GDT;
            cpu.core.sregs.gdtr.limit = 23;
            cpu.core.sregs.idtr.base = IDT;
            cpu.core.sregs.idtr.limit = 8 * 7 - 1;
            // The pushes run down from here, wrap, and go on in unbacked memory, far from
            // the tables and the handler.
            cpu.core.regs.gpr[4] = 0x1000;
        },
        &mut vtx32_cpu::NoPorts,
    );
    assert_eq!(stop, StopReason::NoProgress);
    // One instruction (the MOV) retired; the stack took the pushes of each delivery.
    assert_eq!(cpu.core.instructions, 1);
    assert_eq!(cpu.last_exception.map(|e| e.vector), Some(6));
}
