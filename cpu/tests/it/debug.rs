//! Debug registers, breakpoints and single-step (SDM Vol. 3 ch. 17), end to end.
//!
//! Two harnesses: `stop` runs with exceptions returned (the #DB as the run's stop reason,
//! with EIP and DR6 as left for the handler), `traced` delivers them through an IDT whose
//! #DB handler logs DR6, the pushed EIP and the pushed EFLAGS, clears DR6 and returns
//! (setting RF in the image when `SET_RF` is non-zero, as a debugger does after a code
//! breakpoint).

use crate::common;

use common::*;
use iced_x86::code_asm::*;
use vtx32_cpu::{Cpu, CpuModel, EventKind, Exception, NoPorts, RunLimits, StopReason};
use vtx32_mmu::{PhysAddr, PhysMem};

const TF: u32 = 1 << 8;
const RF: u32 = 1 << 16;
const BS: u32 = 1 << 14;
const BD: u32 = 1 << 13;
const DR6_FIXED: u32 = 0xFFFF_0FF0;

const GDT: u32 = 0x2000;
const IDT: u32 = 0x3000;
/// Log of the #DB handler: count at LOG, then 16-byte records (DR6, EIP, EFLAGS).
const LOG: u32 = 0x5000;
/// Non-zero: the #DB handler sets RF in the EFLAGS image.
const SET_RF: u32 = 0x4F00;
/// Count of INT 0x30 / #UD handler runs; the last pushed EFLAGS of #UD.
const INT_COUNT: u32 = 0x4F04;
const UD_FLAGS: u32 = 0x4F08;
const DB_HANDLER: u32 = 0x6000;
const INT_HANDLER: u32 = 0x6100;
const UD_HANDLER: u32 = 0x6200;
/// A data area for breakpoints.
const DATA: u32 = 0x7000;

/// DR7 value enabling breakpoint `n` (L bit) with R/W `rw` and LEN `len`.
fn dr7v(n: u32, rw: u32, len: u32) -> u32 {
    (1 << (2 * n)) | (rw << (16 + 4 * n)) | (len << (18 + 4 * n))
}

fn assemble(org: u32, build: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    let mut a = CodeAssembler::new(32).unwrap();
    build(&mut a).unwrap();
    a.assemble(u64::from(org)).unwrap()
}

fn gate(handler: u32) -> [u8; 8] {
    let lo = (0x08 << 16) | (handler & 0xFFFF);
    let hi = (handler & 0xFFFF_0000) | 0x8E00;
    let mut g = [0u8; 8];
    g[..4].copy_from_slice(&lo.to_le_bytes());
    g[4..].copy_from_slice(&hi.to_le_bytes());
    g
}

/// A CPU in flat ring-0 protected mode with a GDT, an IDT (#DB, #UD, INT 0x30) and the
/// handlers, about to run `build` (+ HLT) at `CODE`.
fn machine(build: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Cpu {
    let code = assemble(CODE, |a| {
        build(a)?;
        a.hlt()
    });
    let db = assemble(DB_HANDLER, |a| {
        a.push(eax)?;
        a.push(ebx)?;
        a.mov(ebx, dword_ptr(LOG))?;
        a.shl(ebx, 4)?;
        a.mov(eax, dr6)?;
        a.mov(dword_ptr(ebx + (LOG + 0x10)), eax)?;
        a.mov(eax, dword_ptr(esp + 8))?;
        a.mov(dword_ptr(ebx + (LOG + 0x14)), eax)?;
        a.mov(eax, dword_ptr(esp + 16))?;
        a.mov(dword_ptr(ebx + (LOG + 0x18)), eax)?;
        a.inc(dword_ptr(LOG))?;
        a.mov(eax, DR6_FIXED)?;
        a.mov(dr6, eax)?;
        a.cmp(dword_ptr(SET_RF), 0)?;
        let mut skip = a.create_label();
        a.je(skip)?;
        a.or(dword_ptr(esp + 16), RF)?;
        a.set_label(&mut skip)?;
        a.pop(ebx)?;
        a.pop(eax)?;
        a.iretd()
    });
    let int = assemble(INT_HANDLER, |a| {
        a.inc(dword_ptr(INT_COUNT))?;
        a.iretd()
    });
    // #UD handler: log the pushed EFLAGS and skip the 2-byte UD2.
    let ud = assemble(UD_HANDLER, |a| {
        a.push(eax)?;
        a.mov(eax, dword_ptr(esp + 12))?;
        a.mov(dword_ptr(UD_FLAGS), eax)?;
        a.add(dword_ptr(esp + 4), 2)?;
        a.pop(eax)?;
        a.iretd()
    });
    let mut mem = PhysMem::new(4 << 20).unwrap();
    mem.load(PhysAddr(u64::from(CODE)), &code).unwrap();
    mem.load(PhysAddr(u64::from(DB_HANDLER)), &db).unwrap();
    mem.load(PhysAddr(u64::from(INT_HANDLER)), &int).unwrap();
    mem.load(PhysAddr(u64::from(UD_HANDLER)), &ud).unwrap();
    let gdt: [u8; 24] = [
        0, 0, 0, 0, 0, 0, 0, 0, //
        0xFF, 0xFF, 0, 0, 0, 0x9B, 0xCF, 0, // 0x08 code
        0xFF, 0xFF, 0, 0, 0, 0x93, 0xCF, 0, // 0x10 data
    ];
    mem.load(PhysAddr(u64::from(GDT)), &gdt).unwrap();
    mem.load(PhysAddr(u64::from(IDT + 8)), &gate(DB_HANDLER))
        .unwrap();
    mem.load(PhysAddr(u64::from(IDT + 6 * 8)), &gate(UD_HANDLER))
        .unwrap();
    mem.load(PhysAddr(u64::from(IDT + 0x30 * 8)), &gate(INT_HANDLER))
        .unwrap();
    let mut cpu = Cpu::new(CpuModel::yonah(), mem);
    cpu.enter_flat32(CODE, 0);
    cpu.core.sregs.gdtr.base = GDT;
    cpu.core.sregs.gdtr.limit = 23;
    cpu.core.sregs.idtr.base = IDT;
    cpu.core.sregs.idtr.limit = 0x31 * 8 - 1;
    cpu.core.regs.gpr[4] = 0x8000;
    cpu.state_changed();
    cpu
}

fn go(cpu: &mut Cpu) -> StopReason {
    cpu.run(
        &mut NoPorts,
        RunLimits {
            max_instructions: 100_000,
        },
    )
}

/// The address of the `k`-th instruction (from 0) of the test code.
fn insn_at(cpu: &Cpu, k: usize) -> u32 {
    let mut bytes = vec![0u8; 0x200];
    cpu.core
        .mem
        .read_bytes(PhysAddr(u64::from(CODE)), &mut bytes);
    let mut d = iced_x86::Decoder::with_ip(32, &bytes, u64::from(CODE), 0);
    d.iter().nth(k).unwrap().ip32()
}

/// Arms breakpoint `n` at the `k`-th instruction from the front-end (DR7 written directly,
/// then `state_changed`), with `extra` DR7 bits.
fn code_bp(cpu: &mut Cpu, n: usize, k: usize, extra: u32) {
    cpu.core.dr[n] = insn_at(cpu, k);
    cpu.core.dr[7] = 0x400 | (1 << (2 * n)) | extra;
    cpu.state_changed();
}

/// Runs with exceptions returned instead of delivered.
fn stop(build: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> (Cpu, StopReason) {
    stop_with(build, |_| {})
}

fn stop_with(
    build: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
    setup: impl FnOnce(&mut Cpu),
) -> (Cpu, StopReason) {
    let mut cpu = machine(build);
    setup(&mut cpu);
    cpu.stop_on_exception = true;
    let r = go(&mut cpu);
    (cpu, r)
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Db {
    dr6: u32,
    eip: u32,
    eflags: u32,
}

/// Runs with delivery to the IDT; returns the CPU and the #DB log. Asserts the final HLT.
fn traced(build: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> (Cpu, Vec<Db>) {
    traced_with(build, |_| {})
}

fn traced_with(
    build: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
    setup: impl FnOnce(&mut Cpu),
) -> (Cpu, Vec<Db>) {
    let mut cpu = machine(build);
    setup(&mut cpu);
    assert_eq!(go(&mut cpu), StopReason::Halted);
    let n = m32(&cpu, LOG);
    let log = (0..n)
        .map(|k| {
            let at = LOG + 0x10 + 16 * k;
            Db {
                dr6: m32(&cpu, at),
                eip: m32(&cpu, at + 4),
                eflags: m32(&cpu, at + 8),
            }
        })
        .collect();
    (cpu, log)
}

fn db_trap() -> StopReason {
    StopReason::Exception(Exception::new(1, None, EventKind::External))
}

/// Sets DR7 (and DR0 from `addr` when given) through EAX.
fn arm(a: &mut CodeAssembler, n: u32, addr: u32, dr7v: u32) -> Result<(), IcedError> {
    a.mov(eax, addr)?;
    match n {
        0 => a.mov(dr0, eax)?,
        1 => a.mov(dr1, eax)?,
        2 => a.mov(dr2, eax)?,
        _ => a.mov(dr3, eax)?,
    }
    a.mov(eax, dr7v)?;
    a.mov(dr7, eax)
}

// ---- MOV DRn ----

#[test]
fn debug_registers_reset_values_and_fixed_bits() {
    let (cpu, r) = stop(|a| {
        a.mov(eax, dr6)?;
        a.mov(ebx, dr7)?;
        a.xor(ecx, ecx)?;
        a.mov(dr6, ecx)?;
        a.mov(ecx, dr6)?;
        a.mov(edx, 0xFFFF_FFFFu32)?;
        a.mov(dr6, edx)?;
        a.mov(edx, dr6)?;
        // Bits 10-12, 14, 15 of DR7: only bit 10 reads back (as 1).
        a.mov(esi, 0xDC00u32)?;
        a.mov(dr7, esi)?;
        a.mov(esi, dr7)?;
        a.mov(edi, 0x1234_5678u32)?;
        a.mov(dr3, edi)?;
        a.mov(edi, dr3)?;
        a.xor(ebp, ebp)?;
        a.mov(dr7, ebp)?;
        a.mov(ebp, dr7)
    });
    assert_eq!(r, StopReason::Halted);
    assert_eq!(g(&cpu, 0), 0xFFFF_0FF0);
    assert_eq!(g(&cpu, 3), 0x400);
    assert_eq!(g(&cpu, 1), 0xFFFF_0FF0);
    assert_eq!(g(&cpu, 2), 0xFFFF_EFFF);
    assert_eq!(g(&cpu, 6), 0x400);
    assert_eq!(g(&cpu, 7), 0x1234_5678);
    assert_eq!(g(&cpu, 5), 0x400);
}

#[test]
fn dr4_and_dr5_alias_dr6_and_dr7_unless_cr4_de() {
    // MOV with DR4/DR5: iced's code_asm has no DR4/DR5 operands, so encode 0F 21 E0
    // (mov eax, dr4) and 0F 21 E9 (mov ecx, dr5) directly.
    let (cpu, r) = stop(|a| {
        a.db(&[0x0F, 0x21, 0xE0])?;
        a.db(&[0x0F, 0x21, 0xE9])
    });
    assert_eq!(r, StopReason::Halted);
    assert_eq!(g(&cpu, 0), 0xFFFF_0FF0);
    assert_eq!(g(&cpu, 1), 0x400);
    let (cpu, r) = stop(|a| {
        a.mov(eax, cr4)?;
        a.or(eax, 8)?;
        a.mov(cr4, eax)?;
        a.db(&[0x0F, 0x21, 0xE0])
    });
    assert_eq!(r, StopReason::Exception(Exception::fault(6)));
    assert_eq!(cpu.core.regs.eip, insn_at(&cpu, 3), "a fault on the MOV");
}

#[test]
fn mov_dr_at_cpl_3_is_a_general_protection_fault() {
    let mut cpu = machine(|a| a.mov(eax, dr7));
    cpu.enter_flat32(CODE, 3);
    cpu.stop_on_exception = true;
    assert_eq!(go(&mut cpu), StopReason::Exception(Exception::gp(0)));
}

#[test]
fn general_detect_faults_the_next_debug_register_access() {
    let (cpu, r) = stop(|a| {
        a.mov(eax, 0x2000u32)?;
        a.mov(dr7, eax)?;
        a.mov(ebx, dr0)
    });
    assert_eq!(r, StopReason::Exception(Exception::fault(1)));
    // A fault: EIP on the MOV; BD set, GD cleared for the handler.
    assert_eq!(cpu.core.regs.eip, CODE + 8);
    assert_eq!(cpu.core.dr[6], DR6_FIXED | BD);
    assert_eq!(cpu.core.dr[7], 0x400);
    // Delivered, it pushes RF = 1 like every fault other than a code breakpoint.
    let (cpu, log) = traced(|a| {
        a.mov(eax, 0x2000u32)?;
        a.mov(dr7, eax)?;
        a.mov(ebx, dr7)
    });
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].dr6, DR6_FIXED | BD);
    assert_eq!(log[0].eip, CODE + 8);
    assert_ne!(log[0].eflags & RF, 0);
    // The handler cleared GD, so the MOV ran after the return.
    assert_eq!(g(&cpu, 3), 0x400);
}

// ---- Instruction breakpoints ----

#[test]
fn code_breakpoint_faults_before_the_instruction() {
    let (cpu, r) = stop_with(
        |a| {
            a.mov(ecx, 7u32)?;
            a.mov(ecx, 9u32)
        },
        |cpu| code_bp(cpu, 0, 1, 0),
    );
    assert_eq!(r, db_trap());
    assert_eq!(cpu.core.regs.eip, CODE + 5);
    assert_eq!(g(&cpu, 1), 7, "the instruction did not run");
    assert_eq!(cpu.core.dr[6], DR6_FIXED | 1);
}

#[test]
fn rf_suppresses_one_code_breakpoint_and_is_not_set_in_its_pushed_eflags() {
    let (cpu, log) = traced_with(
        |a| {
            a.mov(dword_ptr(SET_RF), 1)?;
            a.inc(ecx)
        },
        |cpu| code_bp(cpu, 2, 1, 0),
    );
    assert_eq!(log.len(), 1, "{log:x?}");
    assert_eq!(log[0].dr6, DR6_FIXED | 4);
    assert_eq!(log[0].eflags & RF, 0);
    assert_eq!(g(&cpu, 1), 1, "ran once after the handler returned with RF");
    assert_eq!(
        cpu.core.regs.eflags.bits() & RF,
        0,
        "RF cleared after one instruction"
    );
}

#[test]
fn disabled_breakpoints_do_not_fire() {
    let (_, log) = traced(|a| {
        arm(a, 0, DATA, 0x000F_0000)?; // R/W0 = 11, LEN0 = 11, no enable bit
        a.mov(dword_ptr(DATA), eax)?;
        a.mov(eax, 0x400u32)?;
        a.mov(dr0, eax)?; // DR0 = an instruction address, R/W0 = 00, not enabled
        a.mov(dr7, ebx)?;
        a.nop()
    });
    assert!(log.is_empty());
}

// ---- Data breakpoints ----

#[test]
fn data_write_breakpoint_traps_after_the_instruction() {
    let (cpu, r) = stop(|a| {
        arm(a, 1, DATA, dr7v(1, 0b01, 0b11))?;
        a.mov(eax, dword_ptr(DATA))?; // a read: R/W = 01 does not match
        a.mov(byte_ptr(DATA + 2), 0x5A)?; // within the aligned dword
        a.nop()
    });
    assert_eq!(r, db_trap());
    assert_eq!(cpu.core.dr[6], DR6_FIXED | 2);
    assert_eq!(m32(&cpu, DATA) >> 16 & 0xFF, 0x5A, "the write happened");
    assert_eq!(cpu.core.regs.eip, insn_at(&cpu, 6), "EIP after the MOV");
}

#[test]
fn data_read_write_breakpoint_matches_reads_and_len_aligns_the_address() {
    // DR0 = DATA + 5 with LEN = 4 covers DATA+4 .. DATA+7.
    let (_, log) = traced(|a| {
        arm(a, 0, DATA + 5, dr7v(0, 0b11, 0b11))?;
        a.mov(eax, dword_ptr(DATA))?; // DATA..+3: no overlap
        a.mov(al, byte_ptr(DATA + 7))?; // hit 1
        a.mov(ax, word_ptr(DATA + 3))?; // DATA+3..+4: hit 2
        a.mov(al, byte_ptr(DATA + 8)) // no overlap
    });
    assert_eq!(log.len(), 2, "{log:x?}");
    assert!(log.iter().all(|d| d.dr6 == DR6_FIXED | 1));
    assert_eq!(log[1].eip - log[0].eip, 6, "traps after each hitting MOV");
}

#[test]
fn two_byte_breakpoint_and_stack_pushes() {
    let (_, log) = traced(|a| {
        arm(a, 3, 0x7FFC, dr7v(3, 0b01, 0b01))?;
        a.push(eax)?; // writes 0x7FFC..0x7FFF: hit
        a.pop(eax)?; // a read
        a.mov(byte_ptr(0x7FFEu32), 1)?; // outside 0x7FFC..0x7FFD
        a.nop()
    });
    assert_eq!(log.len(), 1, "{log:x?}");
    assert_eq!(log[0].dr6, DR6_FIXED | 8);
}

#[test]
fn rep_string_traps_after_the_iteration_with_rf_in_the_pushed_eflags() {
    let (cpu, r) = stop(|a| {
        arm(a, 0, DATA + 0x102, dr7v(0, 0b01, 0b00))?;
        a.mov(esi, DATA)?;
        a.mov(edi, DATA + 0x100)?;
        a.mov(ecx, 5u32)?;
        a.cld()?;
        a.rep().movsb()
    });
    assert_eq!(r, db_trap());
    // Three iterations done; EIP still on the REP MOVSB, RF set for the resumption.
    assert_eq!(g(&cpu, 1), 2);
    assert_eq!(g(&cpu, 7), DATA + 0x103);
    let rep_at = insn_at(&cpu, 8);
    assert_eq!(cpu.core.regs.eip, rep_at);
    assert_ne!(cpu.core.regs.eflags.bits() & RF, 0);

    let (cpu, log) = traced(|a| {
        arm(a, 0, DATA + 0x102, dr7v(0, 0b01, 0b00))?;
        a.mov(esi, DATA)?;
        a.mov(edi, DATA + 0x100)?;
        a.mov(ecx, 5u32)?;
        a.cld()?;
        a.rep().movsb()
    });
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].eip, rep_at);
    assert_ne!(log[0].eflags & RF, 0);
    assert_eq!(g(&cpu, 1), 0, "the instruction completed after the handler");
}

#[test]
fn io_breakpoints_need_cr4_de() {
    let prog = |de: bool| {
        move |a: &mut CodeAssembler| {
            if de {
                a.mov(eax, cr4)?;
                a.or(eax, 8)?;
                a.mov(cr4, eax)?;
            }
            arm(a, 2, 0x80, dr7v(2, 0b10, 0b00))?;
            a.out(0x80, al)?;
            a.in_(al, 0x81)?;
            a.mov(dx, 0x7Fu32)?;
            a.out(dx, ax) // ports 0x7F-0x80: hit
        }
    };
    let (_, log) = traced(prog(false));
    assert!(log.is_empty());
    let (_, log) = traced(prog(true));
    assert_eq!(log.len(), 2, "{log:x?}");
    assert!(log.iter().all(|d| d.dr6 == DR6_FIXED | 4));
}

// ---- Single-step ----

/// Sets TF with POPFD.
fn set_tf(a: &mut CodeAssembler) -> Result<(), IcedError> {
    a.pushfd()?;
    a.or(dword_ptr(esp), TF)?;
    a.popfd()
}

#[test]
fn single_step_traps_after_each_instruction_but_not_after_the_popf_that_sets_tf() {
    let (cpu, log) = traced(|a| {
        set_tf(a)?; // pushfd (1) or [esp] (7) popfd (1)
        a.nop()?;
        a.inc(eax)?;
        // POPF clearing TF is still trapped: TF was set before it.
        a.pushfd()?;
        a.and(dword_ptr(esp), !TF)?;
        a.popfd()?;
        a.nop()
    });
    let popf_end = CODE + 9;
    let eips: Vec<u32> = log.iter().map(|d| d.eip).collect();
    assert_eq!(
        eips,
        vec![
            popf_end + 1,
            popf_end + 2,
            popf_end + 3,
            popf_end + 10,
            popf_end + 11
        ]
    );
    assert!(log.iter().all(|d| d.dr6 == DR6_FIXED | BS), "{log:x?}");
    // The pushed EFLAGS have TF except after the POPF that cleared it.
    assert!(log[..4].iter().all(|d| d.eflags & TF != 0));
    assert_eq!(log[4].eflags & TF, 0);
    assert_eq!(g(&cpu, 0) & 0xFF, 1);
}

#[test]
fn int_n_clears_tf_for_its_handler_and_is_not_trapped() {
    let (cpu, log) = traced(|a| {
        set_tf(a)?;
        a.int(0x30)?; // 2 bytes
        a.nop()
    });
    assert_eq!(m32(&cpu, INT_COUNT), 1);
    // No trap for the INT or inside the handler; the NOP after the return is trapped.
    assert_eq!(log.len(), 1, "{log:x?}");
    assert_eq!(log[0].eip, CODE + 9 + 2 + 1);
}

#[test]
fn mov_ss_holds_the_single_step_trap_over_the_next_instruction() {
    let (cpu, log) = traced(|a| {
        a.mov(eax, ss)?;
        set_tf(a)?;
        a.mov(ss, ax)?; // 2 bytes
        a.inc(ecx)?; // 1 byte
        a.nop()
    });
    let eips: Vec<u32> = log.iter().map(|d| d.eip).collect();
    // Traps after INC (covering MOV SS and INC) and after NOP.
    assert_eq!(eips, vec![insn_at(&cpu, 6), insn_at(&cpu, 7)]);
}

#[test]
fn single_step_and_a_data_breakpoint_are_reported_together() {
    let (_, log) = traced(|a| {
        arm(a, 1, DATA, dr7v(1, 0b11, 0b11))?;
        set_tf(a)?;
        a.mov(dword_ptr(DATA), eax)
    });
    assert_eq!(log.len(), 1, "{log:x?}");
    assert_eq!(log[0].dr6, DR6_FIXED | BS | 2);
}

#[test]
fn code_breakpoint_comes_before_the_instructions_data_breakpoint() {
    let (_, log) = traced_with(
        |a| {
            a.mov(dword_ptr(SET_RF), 1)?;
            a.mov(dword_ptr(DATA), ecx)
        },
        |cpu| {
            cpu.core.dr[1] = DATA;
            code_bp(cpu, 0, 1, dr7v(1, 0b01, 0b11));
        },
    );
    assert_eq!(log.len(), 2, "{log:x?}");
    assert_eq!(log[0].dr6, DR6_FIXED | 1);
    assert_eq!(log[1].dr6, DR6_FIXED | 2);
    assert_eq!(log[1].eip, log[0].eip + 6);
}

#[test]
fn icebp_raises_db_as_a_trap_without_touching_dr6() {
    let (cpu, r) = stop(|a| a.db(&[0xF1]));
    assert_eq!(r, db_trap());
    assert_eq!(cpu.core.regs.eip, CODE + 1);
    assert_eq!(cpu.core.dr[6], DR6_FIXED);
}

#[test]
fn faults_push_rf_set() {
    let (cpu, log) = traced(|a| {
        a.ud2()?;
        a.nop()
    });
    assert!(log.is_empty());
    assert_ne!(m32(&cpu, UD_FLAGS) & RF, 0);
    assert_eq!(
        cpu.core.regs.eflags.bits() & RF,
        0,
        "cleared after the next instruction"
    );
}

#[test]
fn a_run_without_breakpoints_or_tf_reports_nothing() {
    let (cpu, log) = traced(|a| {
        a.mov(dword_ptr(DATA), eax)?;
        a.nop()
    });
    assert!(log.is_empty());
    assert_eq!(cpu.core.dr[6], DR6_FIXED);
    // Kept for the helpers' sake.
    let _ = run_with(|_| {}, &[], |_| {}, &mut NoPorts);
}

#[test]
fn iret_that_sets_tf_is_not_trapped_the_next_instruction_is() {
    let (cpu, log) = traced(|a| {
        let mut back = a.create_label();
        // An IRET frame returning to `back` with TF set.
        a.pushfd()?;
        a.or(dword_ptr(esp), TF)?;
        a.push(0x08u32)?;
        a.call(back)?; // pushes the return EIP = `back`
        a.set_label(&mut back)?;
        // First time here: the frame is complete (EIP, CS, EFLAGS); IRET once.
        a.cmp(dword_ptr(DATA), 0)?;
        let mut done = a.create_label();
        a.jne(done)?;
        a.mov(dword_ptr(DATA), 1)?;
        a.iretd()?;
        a.set_label(&mut done)?;
        a.nop()
    });
    // After the IRET (not trapped) the CMP at `back` runs with TF and is trapped, then the
    // JNE, then the NOP.
    let eips: Vec<u32> = log.iter().map(|d| d.eip).collect();
    assert_eq!(
        eips,
        vec![insn_at(&cpu, 5), insn_at(&cpu, 8), insn_at(&cpu, 9)],
        "{log:x?}"
    );
}

#[test]
fn code_breakpoint_comes_before_a_fetch_fault_of_the_same_instruction() {
    // A 5-byte MOV at CODE+1 crosses a CS limit of CODE+2: #GP(0) when fetched.
    let limit = |cpu: &mut Cpu| {
        cpu.core.sregs.seg[vtx32_cpu::SegReg::Cs as usize].limit = CODE + 2;
        cpu.state_changed();
    };
    let build = |a: &mut CodeAssembler| {
        a.nop()?;
        a.mov(eax, 1u32)
    };
    let (_, r) = stop_with(build, limit);
    assert_eq!(r, StopReason::Exception(Exception::gp(0)));
    let (cpu, r) = stop_with(build, |cpu| {
        limit(cpu);
        cpu.core.dr[0] = CODE + 1;
        cpu.core.dr[7] = 0x401;
        cpu.state_changed();
    });
    assert_eq!(r, db_trap());
    assert_eq!(cpu.core.regs.eip, CODE + 1);
}

#[test]
fn a_fault_in_the_instruction_discards_its_data_breakpoint_hits() {
    let (cpu, r) = stop(|a| {
        arm(a, 0, DATA, dr7v(0, 0b11, 0b11))?;
        a.mov(dword_ptr(DATA), 10)?;
        a.mov(dword_ptr(DATA + 4), 20)?;
        a.mov(eax, 5u32)?;
        a.bound(eax, qword_ptr(DATA)) // reads the bounds (a hit), then #BR
    });
    // The MOVs to DATA were hits too: the first one stops the run.
    assert_eq!(r, db_trap());
    assert_eq!(cpu.core.dr[6], DR6_FIXED | 1);
    let (cpu, r) = stop(|a| {
        a.mov(dword_ptr(DATA), 10)?;
        a.mov(dword_ptr(DATA + 4), 20)?;
        arm(a, 0, DATA, dr7v(0, 0b11, 0b11))?;
        a.mov(eax, 5u32)?;
        a.bound(eax, qword_ptr(DATA))
    });
    assert_eq!(r, StopReason::Exception(Exception::fault(5)));
    assert_eq!(cpu.core.dr[6], DR6_FIXED);
}

#[test]
fn step_api_single_steps_with_the_debug_checks() {
    let mut cpu = machine(|a| {
        a.nop()?;
        a.nop()
    });
    cpu.stop_on_exception = true;
    cpu.core.dr[0] = CODE + 1;
    cpu.core.dr[7] = 0x401;
    cpu.state_changed();
    assert_eq!(cpu.step(&mut NoPorts), None);
    assert_eq!(cpu.core.regs.eip, CODE + 1);
    assert_eq!(cpu.step(&mut NoPorts), Some(db_trap()));
    assert_eq!(cpu.core.regs.eip, CODE + 1);
}

#[test]
fn a_code_breakpoint_armed_by_mov_dr7_applies_to_the_rest_of_the_block() {
    let (cpu, r) = stop(|a| {
        a.mov(eax, CODE + 0x11)?; // the INC below
        a.mov(dr0, eax)?; // 3 bytes
        a.mov(eax, 1u32)?; // 5 bytes
        a.mov(dr7, eax)?; // 3 bytes: the NOP at CODE + 0x10
        a.nop()?;
        a.inc(ecx)
    });
    assert_eq!(insn_at(&cpu, 5), CODE + 0x11);
    assert_eq!(r, db_trap());
    assert_eq!(cpu.core.regs.eip, CODE + 0x11);
    assert_eq!(g(&cpu, 1), 0);
}

#[test]
fn a_trap_reports_a_code_breakpoint_on_the_next_instruction_in_the_same_db() {
    let (_, log) = traced_with(
        |a| {
            a.mov(dword_ptr(SET_RF), 1)?; // 10 bytes
            set_tf(a)?; // 9 bytes
            a.nop()?; // CODE + 0x13
            a.nop()?; // CODE + 0x14: breakpoint
            a.pushfd()?;
            a.and(dword_ptr(esp), !TF)?;
            a.popfd()
        },
        |cpu| code_bp(cpu, 0, 5, 0),
    );
    // The NOP's trap carries B0 (EIP on the breakpoint); the handler's RF then lets the
    // second NOP run (no second #DB for the breakpoint), and single-stepping goes on.
    assert_eq!(log[0].dr6, DR6_FIXED | BS | 1, "{log:x?}");
    assert_eq!(log[0].eip, CODE + 0x14);
    assert_eq!(log[1].dr6, DR6_FIXED | BS);
    assert_eq!(log[1].eip, CODE + 0x15);
    assert_eq!(log.len(), 5);
}

#[test]
fn data_breakpoints_see_descriptor_reads_and_the_pushes_of_an_event_delivery() {
    // A segment load reads its GDT entry: a trap after the MOV.
    let (cpu, log) = traced(|a| {
        arm(a, 0, GDT + 0x10, dr7v(0, 0b11, 0b11))?;
        a.mov(eax, 0x10u32)?;
        a.mov(es, ax)?;
        a.nop()
    });
    assert_eq!(log.len(), 1, "{log:x?}");
    assert_eq!(log[0].eip, insn_at(&cpu, 6));
    // INT 0x30 pushes its EFLAGS image onto a breakpoint: #DB before the handler's first
    // instruction (EIP = the handler), then the handler runs.
    let (cpu, log) = traced(|a| {
        arm(a, 1, 0x8000 - 4, dr7v(1, 0b01, 0b11))?;
        a.int(0x30)?;
        a.nop()
    });
    assert_eq!(log.len(), 1, "{log:x?}");
    assert_eq!(log[0].dr6, DR6_FIXED | 2);
    assert_eq!(log[0].eip, INT_HANDLER);
    assert_eq!(m32(&cpu, INT_COUNT), 1);
}

/// An interrupt controller with one request on vector 0x30 once `raised`.
struct OneIrq {
    raised: bool,
}

impl vtx32_cpu::PortIo for OneIrq {
    fn io_in(&mut self, _: u16, _: vtx32_cpu::IoSize, _: &mut PhysMem) -> u32 {
        0
    }
    fn io_out(
        &mut self,
        _: u16,
        _: vtx32_cpu::IoSize,
        _: u32,
        _: &mut PhysMem,
    ) -> vtx32_cpu::IoAction {
        vtx32_cpu::IoAction::Continue
    }
    fn intr(&mut self) -> bool {
        self.raised
    }
    fn inta(&mut self) -> u8 {
        self.raised = false;
        0x30
    }
}

#[test]
fn single_step_trap_of_hlt_comes_before_the_interrupt_that_wakes_it() {
    let mut cpu = machine(|a| {
        set_tf(a)?;
        a.sti()?;
        a.hlt()?;
        a.nop()?;
        a.cli()
    });
    let mut io = OneIrq { raised: false };
    let limits = RunLimits {
        max_instructions: 1000,
    };
    assert_eq!(cpu.run(&mut io, limits), StopReason::Halted);
    assert_eq!(m32(&cpu, LOG), 1, "the STI was traced");
    assert_eq!(
        cpu.run(&mut io, limits),
        StopReason::Halted,
        "no interrupt yet"
    );
    io.raised = true;
    assert_eq!(cpu.run(&mut io, limits), StopReason::Halted);
    assert_eq!(m32(&cpu, INT_COUNT), 1);
    let at = |k: u32| m32(&cpu, LOG + 0x14 + 16 * k);
    // STI, then HLT's trap (EIP after it) before the interrupt, then NOP and CLI (the
    // final HLT is the fifth instruction and halts with its trap pending).
    assert_eq!(m32(&cpu, LOG), 4);
    assert_eq!(
        [at(0), at(1), at(2), at(3)],
        [
            insn_at(&cpu, 4),
            insn_at(&cpu, 5),
            insn_at(&cpu, 6),
            insn_at(&cpu, 7)
        ]
    );
}
