//! Task switches (SDM Vol. 3 ch. 7): JMP/CALL to a TSS or task gate, INT n and exceptions
//! through IDT task gates, IRET to the previous task, busy bits, NT and the back link, the
//! #TS/#NP/#SS/#GP cases before and after the commit point, 16-bit TSSs, CR3 and v86 tasks.

use crate::common;
use crate::desc;

use desc::*;
use iced_x86::code_asm::*;
use vtx32_cpu::{Cpu, Cr0, Cr4, Eflags, SegReg, StopReason};

const GP: u8 = 13;
const NP: u8 = 11;
const SS: u8 = 12;
const TS: u8 = 10;

const TSS_B_SEL: u16 = 0x30;
const TSS_C_SEL: u16 = 0x38;
const GATE_B: u16 = 0x40;
const TSS16_SEL: u16 = 0x48;
/// Entry points of tasks B and C.
const B_CODE: u32 = 0x3000;
const C_CODE: u32 = 0x3800;

/// A 32-bit task image.
#[derive(Clone, Copy)]
struct Task {
    link: u16,
    cr3: u32,
    eip: u32,
    eflags: u32,
    gpr: [u32; 8],
    /// ES CS SS DS FS GS.
    seg: [u16; 6],
    ldt: u16,
}

impl Task {
    fn ring0(entry: u32, stack: u32) -> Self {
        let mut gpr = [0; 8];
        gpr[0] = 0xB0B0;
        gpr[4] = stack;
        Task {
            link: 0,
            cr3: 0,
            eip: entry,
            eflags: 2,
            gpr,
            seg: [DATA0, CODE0, DATA0, DATA0, DATA0, DATA0],
            ldt: 0,
        }
    }
    fn write(&self, cpu: &mut Cpu, base: u32) {
        w16(cpu, base, self.link);
        w32(cpu, base + 0x1C, self.cr3);
        w32(cpu, base + 0x20, self.eip);
        w32(cpu, base + 0x24, self.eflags);
        for (k, v) in self.gpr.iter().enumerate() {
            w32(cpu, base + 0x28 + 4 * k as u32, *v);
        }
        for (k, s) in self.seg.iter().enumerate() {
            w16(cpu, base + 0x48 + 4 * k as u32, *s);
        }
        w16(cpu, base + 0x60, self.ldt);
    }
}

fn task_gdt() -> Vec<u64> {
    let mut g = base_gdt();
    g[6] = seg(TSS_B, 0x67, 0x89, 0);
    g[7] = seg(TSS_C, 0x67, 0x89, 0);
    g[8] = gate(TSS_B_SEL, 0, 0x85, 0);
    g[9] = seg(TSS_C, 0x2B, 0x81, 0);
    g
}

/// Runs `build` as task A (TR = TSS_A) with task B at `B_CODE` running `b`, task C at
/// `C_CODE` running `cc`; `setup` may change the tables and images afterwards.
fn run_tasks(
    g: &[u64],
    build: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
    b: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
    cc: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
    setup: impl FnOnce(&mut Cpu),
) -> (Cpu, StopReason) {
    let bcode = asm(B_CODE, |a| b(a).unwrap());
    let ccode = asm(C_CODE, |a| cc(a).unwrap());
    run_sys(build, g, &[(B_CODE, bcode), (C_CODE, ccode)], |cpu| {
        Task::ring0(B_CODE, 0x6000).write(cpu, TSS_B);
        let mut c = Task::ring0(C_CODE, 0x5000);
        c.gpr[0] = 0xC0C0;
        c.write(cpu, TSS_C);
        setup(cpu);
    })
}

fn hlt(a: &mut CodeAssembler) -> Result<(), IcedError> {
    a.hlt()
}

fn access_byte(cpu: &Cpu, sel: u16) -> u8 {
    peek8(cpu, GDT + u32::from(sel & !7) + 5)
}

#[test]
fn jmp_to_a_tss_saves_the_old_task_and_loads_the_new_one() {
    let g = task_gdt();
    let (cpu, stop) = run_tasks(
        &g,
        |a| {
            a.mov(eax, 0xAAAAu32)?;
            a.jmp_far(TSS_B_SEL, 0)
        },
        hlt,
        hlt,
        |_| {},
    );
    assert_eq!(stop, StopReason::Halted);
    let c = &cpu.core;
    assert_eq!(c.sregs.tr.selector, TSS_B_SEL);
    assert_eq!(c.sregs.tr.base, TSS_B);
    assert_eq!(c.regs.gpr[0], 0xB0B0);
    assert_eq!(c.regs.gpr[4], 0x6000);
    assert_eq!(c.regs.eip, B_CODE + 1);
    assert!(c.sregs.cr0.contains(Cr0::TS));
    assert!(!c.regs.eflags.contains(Eflags::NT), "JMP does not nest");
    // The old task's state.
    assert_eq!(peek32(&cpu, TSS_A + 0x20), common::CODE + 5 + 7);
    assert_eq!(peek32(&cpu, TSS_A + 0x28), 0xAAAA);
    assert_eq!(peek32(&cpu, TSS_A + 0x38), 0x8000);
    assert_eq!(peek16(&cpu, TSS_A + 0x4C), CODE0);
    assert_eq!(peek16(&cpu, TSS_A + 0x50), DATA0);
    // Busy bits: old cleared, new set; no back link.
    assert_eq!(access_byte(&cpu, TSS_A_SEL), 0x89);
    assert_eq!(access_byte(&cpu, TSS_B_SEL), 0x8B);
    assert_eq!(peek16(&cpu, TSS_B), 0);
}

#[test]
fn call_to_a_tss_nests_and_iret_returns() {
    let g = task_gdt();
    let (cpu, stop) = run_tasks(
        &g,
        |a| {
            a.mov(eax, 0xAAAAu32)?;
            a.call_far(TSS_B_SEL, 0)?;
            a.mov(ebx, eax)?;
            a.hlt()
        },
        |a| {
            a.pushfd()?;
            a.pop(ecx)?;
            a.mov(dword_ptr(0x9000), ecx)?;
            a.mov(ax, word_ptr(TSS_B))?;
            a.mov(word_ptr(0x9004), ax)?;
            a.mov(al, byte_ptr(GDT + 0x28 + 5))?;
            a.mov(byte_ptr(0x9006), al)?;
            a.iretd()
        },
        hlt,
        |_| {},
    );
    assert_eq!(stop, StopReason::Halted);
    // Inside task B: NT set, back link = A, A still busy.
    assert_ne!(peek32(&cpu, 0x9000) & Eflags::NT.bits(), 0);
    assert_eq!(peek16(&cpu, 0x9004), TSS_A_SEL);
    assert_eq!(peek8(&cpu, 0x9006), 0x8B);
    // Back in A with its registers.
    let c = &cpu.core;
    assert_eq!(c.sregs.tr.selector, TSS_A_SEL);
    assert_eq!(c.regs.gpr[3], 0xAAAA);
    assert!(!c.regs.eflags.contains(Eflags::NT));
    assert_eq!(
        access_byte(&cpu, TSS_B_SEL),
        0x89,
        "IRET frees the nested task"
    );
    assert_eq!(access_byte(&cpu, TSS_A_SEL), 0x8B);
    // B was saved with NT clear, resuming after its IRETD.
    assert_eq!(peek32(&cpu, TSS_B + 0x24) & Eflags::NT.bits(), 0);
    assert_eq!(peek32(&cpu, TSS_B + 0x20), B_CODE + 31);
}

#[test]
fn jmp_through_a_task_gate() {
    let g = task_gdt();
    let (cpu, stop) = run_tasks(&g, |a| a.jmp_far(GATE_B, 0), hlt, hlt, |_| {});
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(cpu.core.sregs.tr.selector, TSS_B_SEL);
    assert_eq!(access_byte(&cpu, TSS_B_SEL), 0x8B);
}

#[test]
fn int_n_through_an_idt_task_gate_and_back() {
    let g = task_gdt();
    let (cpu, stop) = run_tasks(
        &g,
        |a| {
            a.int(0x40)?;
            a.mov(ebx, 0x600Du32)?;
            a.hlt()
        },
        |a| {
            a.mov(dword_ptr(0x9000), esp)?;
            a.iretd()
        },
        hlt,
        |cpu| {
            cpu.stop_on_exception = false;
            set_idt(cpu, 0x40, gate(TSS_B_SEL, 0, 0x85, 0));
        },
    );
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(cpu.core.sregs.tr.selector, TSS_A_SEL);
    assert_eq!(cpu.core.regs.gpr[3], 0x600D);
    assert_eq!(
        peek32(&cpu, 0x9000),
        0x6000,
        "no frame on the new task's stack"
    );
    assert_eq!(peek16(&cpu, TSS_B), TSS_A_SEL);
    assert_eq!(
        peek32(&cpu, TSS_A + 0x20),
        common::CODE + 2,
        "saved EIP after INT"
    );
}

#[test]
fn an_exception_through_a_task_gate_pushes_its_error_code_on_the_new_stack() {
    let g = task_gdt();
    let (cpu, stop) = run_tasks(
        &g,
        |a| {
            a.mov(ax, 0x203u32)?;
            a.mov(ds, ax)
        },
        hlt,
        hlt,
        |cpu| {
            cpu.stop_on_exception = false;
            set_idt(cpu, 13, gate(TSS_B_SEL, 0, 0x85, 0));
        },
    );
    assert_eq!(stop, StopReason::Halted);
    let c = &cpu.core;
    assert_eq!(c.sregs.tr.selector, TSS_B_SEL);
    assert_eq!(c.regs.gpr[4], 0x6000 - 4);
    assert_eq!(peek32(&cpu, 0x6000 - 4), 0x200);
    assert!(c.regs.eflags.contains(Eflags::NT));
    assert_eq!(
        peek32(&cpu, TSS_A + 0x20),
        common::CODE + 4,
        "the faulting MOV"
    );
}

fn fault_of(
    g: &[u64],
    build: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
    setup: impl FnOnce(&mut Cpu),
) -> (Cpu, (u8, Option<u32>)) {
    let (cpu, stop) = run_tasks(g, build, hlt, hlt, setup);
    (cpu, exc(stop))
}

#[test]
fn switches_to_busy_or_inaccessible_tsss_fault_before_anything_changes() {
    let g = task_gdt();
    // The current task is busy.
    let (cpu, e) = fault_of(&g, |a| a.call_far(TSS_A_SEL, 0), |_| {});
    assert_eq!(e, (GP, Some(0x28)));
    assert_eq!(cpu.core.sregs.tr.selector, TSS_A_SEL);
    // TSS DPL 0 from ring 3; a DPL-3 task gate to it is fine.
    let mut g3 = task_gdt();
    g3[8] = gate(TSS_B_SEL, 0, 0xE5, 0);
    let (_, e) = fault_of(
        &g3,
        |a| a.jmp_far(TSS_B_SEL, 0),
        |cpu| enter_ring3(cpu, &g3),
    );
    assert_eq!(e, (GP, Some(0x30)));
    let (cpu, stop) = run_tasks(
        &g3,
        |a| a.jmp_far(GATE_B, 0),
        hlt,
        hlt,
        |cpu| enter_ring3(cpu, &g3),
    );
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(cpu.core.sregs.cpl, 0);
    // Limit below 67H: #TS; not present: #NP; a task gate to a non-TSS: #GP.
    let mut gl = task_gdt();
    gl[6] = seg(TSS_B, 0x60, 0x89, 0);
    let (cpu, e) = fault_of(&gl, |a| a.jmp_far(TSS_B_SEL, 0), |_| {});
    assert_eq!(e, (TS, Some(0x30)));
    assert_eq!(access_byte(&cpu, TSS_A_SEL), 0x8B, "old task still busy");
    let mut gp = task_gdt();
    gp[6] = seg(TSS_B, 0x67, 0x09, 0);
    assert_eq!(
        fault_of(&gp, |a| a.jmp_far(TSS_B_SEL, 0), |_| {}).1,
        (NP, Some(0x30))
    );
    let mut gg = task_gdt();
    gg[8] = gate(DATA0, 0, 0x85, 0);
    assert_eq!(
        fault_of(&gg, |a| a.jmp_far(GATE_B, 0), |_| {}).1,
        (GP, Some(0x10))
    );
}

#[test]
fn iret_with_nt_needs_a_busy_back_link() {
    let g = task_gdt();
    let (cpu, e) = fault_of(
        &g,
        |a| {
            a.pushfd()?;
            a.or(dword_ptr(esp), 0x4000)?;
            a.popfd()?;
            a.iretd()
        },
        |cpu| w16(cpu, TSS_A, TSS_B_SEL),
    );
    assert_eq!(e, (TS, Some(0x30)));
    assert_eq!(cpu.core.sregs.tr.selector, TSS_A_SEL);
}

/// JMPs to task B whose image `edit` changes; returns the CPU and the fault.
fn after_commit(edit: impl FnOnce(&mut Task), g: &[u64]) -> (Cpu, (u8, Option<u32>)) {
    let mut t = Task::ring0(B_CODE, 0x6000);
    edit(&mut t);
    fault_of(
        g,
        |a| a.jmp_far(TSS_B_SEL, 0),
        move |cpu| t.write(cpu, TSS_B),
    )
}

#[test]
fn faults_after_the_commit_point_belong_to_the_new_task() {
    let mut g = task_gdt();
    g[10] = seg(0, 0xFFFFF, 0x13, 0xC); // data, not present
    g[11] = seg(0, 0xFFFFF, 0x1B, 0xC); // code, not present
    let (cpu, e) = after_commit(|t| t.seg[2] = 0, &g);
    assert_eq!(e, (TS, Some(0)), "null SS");
    let c = &cpu.core;
    assert_eq!(c.sregs.tr.selector, TSS_B_SEL);
    assert_eq!(c.regs.eip, B_CODE);
    assert_eq!(c.regs.gpr[0], 0xB0B0);
    assert_eq!(access_byte(&cpu, TSS_A_SEL), 0x89);
    assert_eq!(access_byte(&cpu, TSS_B_SEL), 0x8B);
    assert_eq!(c.sregs.seg[SegReg::Ds as usize].selector, DATA0);

    assert_eq!(
        after_commit(|t| t.seg[1] = 0x0B, &g).1,
        (TS, Some(0x08)),
        "CS DPL != RPL"
    );
    assert_eq!(
        after_commit(|t| t.seg[1] = DATA0, &g).1,
        (TS, Some(0x10)),
        "CS not code"
    );
    assert_eq!(after_commit(|t| t.seg[1] = 0x58, &g).1, (NP, Some(0x58)));
    assert_eq!(after_commit(|t| t.seg[2] = 0x50, &g).1, (SS, Some(0x50)));
    assert_eq!(
        after_commit(|t| t.seg[2] = DATA3, &g).1,
        (TS, Some(0x20)),
        "SS RPL"
    );
    assert_eq!(after_commit(|t| t.seg[3] = 0x50, &g).1, (NP, Some(0x50)));
    assert_eq!(after_commit(|t| t.seg[5] = 0x203, &g).1, (TS, Some(0x200)));
    assert_eq!(
        after_commit(|t| t.ldt = DATA0, &g).1,
        (TS, Some(0x10)),
        "LDT type"
    );
    assert_eq!(
        after_commit(|t| t.ldt = 0x0C, &g).1,
        (TS, Some(0x0C)),
        "LDT in LDT"
    );
    // A ring-3 task may not keep a DPL-0 data segment.
    let ring3 = |t: &mut Task| t.seg = [DATA3, CODE3, DATA3, DATA0, DATA3, DATA3];
    assert_eq!(after_commit(ring3, &g).1, (TS, Some(0x10)));
    // Table 7-1 order: the CS DPL check comes before SS, SS before DS.
    let (_, e) = after_commit(
        |t| {
            t.seg[1] = 0x0B;
            t.seg[2] = 0;
        },
        &g,
    );
    assert_eq!(e, (TS, Some(0x08)));
    let (_, e) = after_commit(
        |t| {
            t.seg[2] = 0;
            t.seg[3] = 0x203;
        },
        &g,
    );
    assert_eq!(e, (TS, Some(0)));
    // EIP beyond the new CS limit.
    let mut gsh = task_gdt();
    gsh[10] = seg(0, 0xFFF, 0x9B, 0x4);
    assert_eq!(after_commit(|t| t.seg[1] = 0x50, &gsh).1, (GP, Some(0)));
}

#[test]
fn a_ts_after_the_commit_point_is_delivered_through_a_task_gate_in_the_new_task() {
    let g = task_gdt();
    let (cpu, stop) = run_tasks(
        &g,
        |a| a.jmp_far(TSS_B_SEL, 0),
        hlt,
        hlt,
        |cpu| {
            cpu.stop_on_exception = false;
            set_idt(cpu, 10, gate(TSS_C_SEL, 0, 0x85, 0));
            let mut t = Task::ring0(B_CODE, 0x6000);
            t.seg[3] = 0x203;
            t.write(cpu, TSS_B);
        },
    );
    assert_eq!(stop, StopReason::Halted);
    let c = &cpu.core;
    assert_eq!(c.sregs.tr.selector, TSS_C_SEL);
    assert_eq!(c.regs.eip, C_CODE + 1);
    assert_eq!(c.regs.gpr[0], 0xC0C0);
    assert_eq!(
        peek32(&cpu, 0x5000 - 4),
        0x200,
        "error code on the handler's stack"
    );
    assert_eq!(
        peek16(&cpu, TSS_C),
        TSS_B_SEL,
        "linked to the faulting task"
    );
    assert_eq!(
        peek32(&cpu, TSS_B + 0x20),
        B_CODE,
        "B saved at its first instruction"
    );
    assert_eq!(peek16(&cpu, TSS_B + 0x54), 0x203);
}

#[test]
fn a_16bit_tss_loads_word_registers() {
    let g = task_gdt();
    let (cpu, stop) = run_tasks(
        &g,
        |a| a.jmp_far(TSS16_SEL, 0),
        hlt,
        hlt,
        |cpu| {
            let b = TSS_C;
            for k in 0..0x2C {
                w8(cpu, b + k, 0);
            }
            w16(cpu, b + 0x0E, B_CODE as u16);
            w16(cpu, b + 0x10, 0x0002);
            w16(cpu, b + 0x12, 0x1234);
            w16(cpu, b + 0x1A, 0x6000);
            for (k, s) in [DATA0, CODE0, DATA0, DATA0].iter().enumerate() {
                w16(cpu, b + 0x22 + 2 * k as u32, *s);
            }
        },
    );
    assert_eq!(stop, StopReason::Halted);
    let c = &cpu.core;
    assert_eq!(c.sregs.tr.selector, TSS16_SEL);
    assert_eq!(c.regs.gpr[0], 0xFFFF_1234);
    assert_eq!(c.sregs.seg[SegReg::Fs as usize].selector, 0);
    assert_eq!(c.sregs.seg[SegReg::Gs as usize].selector, 0);
    assert_eq!(access_byte(&cpu, TSS16_SEL), 0x83);
}

#[test]
fn a_32bit_task_switch_loads_cr3() {
    // Two page directories with 4 MiB pages: both map 0-4 MiB; only the new task's maps
    // linear 4 MiB to physical 0.
    let g = task_gdt();
    let (cpu, stop) = run_tasks(
        &g,
        |a| a.jmp_far(TSS_B_SEL, 0),
        |a| {
            a.mov(eax, dword_ptr(0x40_0000 + 0x9000))?;
            a.hlt()
        },
        hlt,
        |cpu| {
            w32(cpu, 0x10_0000, 0x83);
            w32(cpu, 0x10_1000, 0x83);
            w32(cpu, 0x10_1004, 0x83);
            w32(cpu, 0x9000, 0x5EED);
            let mut t = Task::ring0(B_CODE, 0x6000);
            t.cr3 = 0x10_1000;
            t.write(cpu, TSS_B);
            w32(cpu, TSS_A + 0x1C, 0x10_0000);
            cpu.core.sregs.cr3 = 0x10_0000;
            cpu.core.sregs.cr4 |= Cr4::PSE;
            cpu.core.sregs.cr0 |= Cr0::PG;
        },
    );
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(cpu.core.sregs.cr3, 0x10_1000);
    assert_eq!(cpu.core.regs.gpr[0], 0x5EED);
}

#[test]
fn a_task_with_vm_set_starts_in_virtual_8086_mode() {
    let g = task_gdt();
    let (cpu, e) = fault_of(
        &g,
        |a| a.jmp_far(TSS_B_SEL, 0),
        |cpu| {
            let mut t = Task::ring0(0, 0x100);
            t.eflags = 0x2_0002;
            t.seg = [0x500, (B_CODE >> 4) as u16, 0x600, 0x500, 0, 0];
            t.write(cpu, TSS_B);
        },
    );
    // HLT at CPL 3 in virtual-8086 mode.
    assert_eq!(e, (GP, Some(0)));
    let c = &cpu.core;
    assert_eq!(c.sregs.cpl, 3);
    assert!(c.regs.eflags.contains(Eflags::VM));
    assert_eq!(c.sregs.seg[SegReg::Cs as usize].base, B_CODE);
    assert_eq!(c.sregs.seg[SegReg::Ss as usize].base, 0x6000);
}
