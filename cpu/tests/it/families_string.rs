//! String family: MOVS CMPS SCAS LODS STOS INS OUTS with REP/REPE/REPNE, address size,
//! segment overrides, direction, faults in the middle of a REP loop, and per-iteration
//! cycle accounting (SDM Vol. 2, each page and "REP/REPE/REPZ/REPNE/REPNZ").

use crate::common;
use common::*;
use iced_x86::code_asm::*;
use vtx32_cpu::{Cpu, CpuModel, IoAction, IoSize, NoPorts, PortIo, RunLimits, SegReg, StopReason};
use vtx32_mmu::{PhysAddr, PhysMem};

const EAX: usize = 0;
const ECX: usize = 1;
const ESI: usize = 6;
const EDI: usize = 7;

fn run(build: impl FnOnce(&mut CodeAssembler), data: &[(u32, &[u8])]) -> Cpu {
    let (cpu, stop) = run_with(build, data, |_| {}, &mut NoPorts);
    assert_eq!(stop, StopReason::Halted);
    cpu
}

fn bytes(c: &Cpu, addr: u32, n: usize) -> Vec<u8> {
    let mut v = vec![0; n];
    c.core.mem.read_bytes(PhysAddr(u64::from(addr)), &mut v);
    v
}

#[test]
fn rep_movsb_overlapping_forward() {
    // DF = 0, destination 2 bytes above the source: the copy propagates the first two bytes.
    let c = run(
        |a| {
            a.cld().unwrap();
            a.mov(esi, 0x3000).unwrap();
            a.mov(edi, 0x3002).unwrap();
            a.mov(ecx, 6).unwrap();
            a.rep().movsb().unwrap();
        },
        &[(0x3000, b"ABCDEFGH")],
    );
    assert_eq!(bytes(&c, 0x3000, 8), b"ABABABAB");
    assert_eq!((g(&c, ESI), g(&c, EDI), g(&c, ECX)), (0x3006, 0x3008, 0));
}

#[test]
fn rep_movsb_overlapping_backward() {
    // DF = 1 from the last byte: a correct overlapping move upwards.
    let c = run(
        |a| {
            a.std().unwrap();
            a.mov(esi, 0x3005).unwrap();
            a.mov(edi, 0x3007).unwrap();
            a.mov(ecx, 6).unwrap();
            a.rep().movsb().unwrap();
            a.cld().unwrap();
        },
        &[(0x3000, b"ABCDEFGH")],
    );
    assert_eq!(bytes(&c, 0x3000, 8), b"ABABCDEF");
    assert_eq!((g(&c, ESI), g(&c, EDI), g(&c, ECX)), (0x2FFF, 0x3001, 0));
}

#[test]
fn rep_movsd_and_stosd_lodsw() {
    let c = run(
        |a| {
            a.mov(eax, 0x1122_3344).unwrap();
            a.mov(edi, 0x3100).unwrap();
            a.mov(ecx, 4).unwrap();
            a.rep().stosd().unwrap();
            a.mov(esi, 0x3100).unwrap();
            a.mov(edi, 0x3200).unwrap();
            a.mov(ecx, 2).unwrap();
            a.rep().movsd().unwrap();
            // LODSW backwards: AX = word at 0x3002, ESI -= 2.
            a.std().unwrap();
            a.mov(esi, 0x3002).unwrap();
            a.mov(ebx, 0xFFFF_FFFFu32 as i32).unwrap();
            a.mov(eax, ebx).unwrap();
            a.lodsw().unwrap();
            a.cld().unwrap();
        },
        &[(0x3000, &[0x10, 0x20, 0x30, 0x40])],
    );
    assert_eq!(
        bytes(&c, 0x3100, 16),
        [0x44, 0x33, 0x22, 0x11].repeat(4).as_slice()
    );
    assert_eq!(
        bytes(&c, 0x3200, 12)[..8],
        [0x44, 0x33, 0x22, 0x11].repeat(2)[..]
    );
    assert_eq!(bytes(&c, 0x3200, 12)[8..], [0, 0, 0, 0]);
    assert_eq!(g(&c, EAX), 0xFFFF_4030);
    assert_eq!(g(&c, ESI), 0x3000);
    assert_eq!(g(&c, EDI), 0x3208);
}

#[test]
fn repe_cmpsb_stops_at_first_difference() {
    let c = run(
        |a| {
            a.mov(esi, 0x3000).unwrap();
            a.mov(edi, 0x3100).unwrap();
            a.mov(ecx, 5).unwrap();
            a.repe().cmpsb().unwrap();
        },
        &[(0x3000, b"HELLO"), (0x3100, b"HELPO")],
    );
    // Four comparisons: H E L equal, L vs P differs.
    assert_eq!((g(&c, ESI), g(&c, EDI), g(&c, ECX)), (0x3004, 0x3104, 1));
    // 'L' - 'P' = 0x4C - 0x50 = 0xFC: CF = SF = 1, PF (six bits) = 1, AF = OF = 0.
    assert_eq!(fl(&c), CF | SF | PF);

    // All equal: ECX runs out, ZF = 1.
    let c = run(
        |a| {
            a.mov(esi, 0x3000).unwrap();
            a.mov(edi, 0x3100).unwrap();
            a.mov(ecx, 3).unwrap();
            a.repe().cmpsb().unwrap();
        },
        &[(0x3000, b"HELLO"), (0x3100, b"HELPO")],
    );
    assert_eq!((g(&c, ESI), g(&c, EDI), g(&c, ECX)), (0x3003, 0x3103, 0));
    assert_eq!(fl(&c), ZF | PF);
}

#[test]
fn repne_scasb_strlen() {
    let c = run(
        |a| {
            a.mov(edi, 0x3000).unwrap();
            a.xor(eax, eax).unwrap();
            a.mov(ecx, -1).unwrap();
            a.repne().scasb().unwrap();
        },
        &[(0x3000, b"abc\0xyz")],
    );
    assert_eq!(g(&c, EDI), 0x3004);
    assert_eq!(g(&c, ECX), 0xFFFF_FFFB);
    assert_eq!(fl(&c), ZF | PF);

    // SCASD comparing EAX once (no prefix): EAX - [EDI] = 5 - 7.
    let c = run(
        |a| {
            a.mov(edi, 0x3000).unwrap();
            a.mov(eax, 5).unwrap();
            a.scasd().unwrap();
        },
        &[(0x3000, &[7, 0, 0, 0])],
    );
    assert_eq!(g(&c, EDI), 0x3004);
    // 0xFFFFFFFE: CF = SF = 1, AF = 1 (5 < 7 in the low nibble), PF: 0xFE has seven bits.
    assert_eq!(fl(&c), CF | SF | AF);
}

#[test]
fn rep_with_zero_count_does_nothing() {
    let c = run(
        |a| {
            a.mov(esi, 0x3000).unwrap();
            a.mov(edi, 0x3100).unwrap();
            a.mov(ecx, 0).unwrap();
            a.cmp(ecx, 1).unwrap(); // CF = SF = AF = 1
            a.rep().movsb().unwrap();
            a.repe().cmpsb().unwrap();
        },
        &[(0x3000, b"X")],
    );
    assert_eq!((g(&c, ESI), g(&c, EDI), g(&c, ECX)), (0x3000, 0x3100, 0));
    assert_eq!(bytes(&c, 0x3100, 1), [0]);
    assert_eq!(fl(&c), CF | SF | AF | PF);
}

#[test]
fn address_size_16_uses_cx_si_di() {
    // 67 F3 A4: rep movsb with CX/SI/DI; the upper halves are ignored and kept.
    let c = run(
        |a| {
            a.mov(ecx, 0xABCD_0003u32 as i32).unwrap();
            a.mov(esi, 0x1234_3000).unwrap();
            a.mov(edi, 0x5678_3100).unwrap();
            a.db(&[0x67, 0xF3, 0xA4]).unwrap();
        },
        &[(0x3000, b"xyz!")],
    );
    assert_eq!(bytes(&c, 0x3100, 4), b"xyz\0");
    assert_eq!(g(&c, ECX), 0xABCD_0000);
    assert_eq!(g(&c, ESI), 0x1234_3003);
    assert_eq!(g(&c, EDI), 0x5678_3103);

    // SI wraps at 64 KiB: LODSB at SI = 0xFFFF reads DS:0xFFFF and SI becomes 0.
    let c = run(
        |a| {
            a.mov(esi, 0x0001_FFFF).unwrap();
            a.db(&[0x67, 0xAC]).unwrap();
        },
        &[(0xFFFF, &[0x5A])],
    );
    assert_eq!(g(&c, EAX) & 0xFF, 0x5A);
    assert_eq!(g(&c, ESI), 0x0001_0000);

    // 16-bit REPE CMPSW with CX.
    let c = run(
        |a| {
            a.mov(ecx, 0xFFFF_0004u32 as i32).unwrap();
            a.mov(esi, 0x3000).unwrap();
            a.mov(edi, 0x3100).unwrap();
            a.db(&[0x67, 0xF3, 0x66, 0xA7]).unwrap();
        },
        &[
            (0x3000, &[1, 0, 2, 0, 3, 0, 4, 0]),
            (0x3100, &[1, 0, 2, 0, 9, 0, 4, 0]),
        ],
    );
    assert_eq!(g(&c, ECX), 0xFFFF_0001);
    assert_eq!((g(&c, ESI), g(&c, EDI)), (0x3006, 0x3106));
    // 3 - 9 = 0xFFFA: CF SF AF set; 0xFA has six bits.
    assert_eq!(fl(&c), CF | SF | AF | PF);
}

#[test]
fn source_segment_override_destination_fixed() {
    // FS base 0x1_0000: FS: MOVSB reads FS:ESI, writes ES:EDI (ES cannot be overridden);
    // FS: STOSB still writes ES:EDI.
    let (c, stop) = run_with(
        |a| {
            a.mov(esi, 0x3000).unwrap();
            a.mov(edi, 0x3100).unwrap();
            a.db(&[0x64, 0xA4]).unwrap(); // fs movsb
            a.mov(eax, 0x77).unwrap();
            a.db(&[0x64, 0xAA]).unwrap(); // fs stosb
        },
        &[(0x3000, &[0x11]), (0x1_3000, &[0x22])],
        |cpu| cpu.core.sregs.seg[SegReg::Fs as usize].base = 0x1_0000,
        &mut NoPorts,
    );
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(bytes(&c, 0x3100, 2), [0x22, 0x77]);
    assert_eq!(bytes(&c, 0x1_3100, 2), [0, 0]);
}

#[test]
fn fault_in_the_middle_of_rep_commits_earlier_iterations() {
    // ES limit 0x3003: iterations 0-3 of REP STOSB succeed, the fifth raises #GP(0) with
    // EDI/ECX as after four iterations and EIP on the instruction.
    let build = |a: &mut CodeAssembler| {
        a.mov(eax, 0xEE).unwrap();
        a.mov(edi, 0x3000).unwrap();
        a.mov(ecx, 10).unwrap();
        a.rep().stosb().unwrap();
    };
    let (mut c, stop) = run_with(
        build,
        &[],
        |cpu| cpu.core.sregs.seg[SegReg::Es as usize].limit = 0x3003,
        &mut NoPorts,
    );
    match stop {
        StopReason::Exception(e) => {
            assert_eq!(e.vector, 13);
            assert_eq!(e.error_code(), Some(0));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!((g(&c, EDI), g(&c, ECX)), (0x3004, 6));
    assert_eq!(c.core.regs.eip, CODE + 15);
    assert_eq!(bytes(&c, 0x3000, 5), [0xEE, 0xEE, 0xEE, 0xEE, 0]);

    // Restarting the instruction continues the loop.
    c.core.sregs.seg[SegReg::Es as usize].limit = 0xFFFF_FFFF;
    c.state_changed();
    let stop = c.run(
        &mut NoPorts,
        RunLimits {
            max_instructions: 1_000,
        },
    );
    assert_eq!(stop, StopReason::Halted);
    assert_eq!((g(&c, EDI), g(&c, ECX)), (0x300A, 0));
    assert_eq!(
        bytes(&c, 0x3000, 11),
        [[0xEE; 10].as_slice(), &[0]].concat()
    );
}

#[test]
fn rep_cycles_are_per_iteration() {
    let cycles = |n: i32| {
        let c = run(
            |a| {
                a.mov(esi, 0x3000).unwrap();
                a.mov(edi, 0x3100).unwrap();
                a.mov(ecx, n).unwrap();
                a.rep().movsb().unwrap();
            },
            &[],
        );
        (c.core.cycles, c.core.instructions)
    };
    let (c1, i1) = cycles(1);
    let (c5, i5) = cycles(5);
    let per = u64::from(CpuModel::yonah().costs[vtx32_cpu::model::CostClass::String as usize]);
    assert_eq!(c5 - c1, 4 * per);
    assert_eq!(i1, i5);
}

/// A test board: IN returns successive values from `next`; OUT records every write.
struct TestPorts {
    next: u32,
    outs: Vec<(u16, IoSize, u32)>,
}

impl PortIo for TestPorts {
    fn io_in(&mut self, port: u16, size: IoSize, _mem: &mut PhysMem) -> u32 {
        let v = self.next.wrapping_add(u32::from(port));
        self.next = self.next.wrapping_add(0x0101_0101);
        v & match size {
            IoSize::Byte => 0xFF,
            IoSize::Word => 0xFFFF,
            IoSize::Dword => 0xFFFF_FFFF,
        }
    }
    fn io_out(&mut self, port: u16, size: IoSize, value: u32, _mem: &mut PhysMem) -> IoAction {
        self.outs.push((port, size, value));
        IoAction::Continue
    }
}

#[test]
fn ins_and_outs() {
    let mut io = TestPorts {
        next: 0x1000_0000,
        outs: Vec::new(),
    };
    let (c, stop) = run_with(
        |a| {
            // REP OUTSB: four bytes from DS:ESI to port 0x80.
            a.mov(edx, 0x80).unwrap();
            a.mov(esi, 0x3000).unwrap();
            a.mov(ecx, 4).unwrap();
            a.rep().outsb().unwrap();
            // OUTSD once, to port 0x1234.
            a.mov(edx, 0x1234).unwrap();
            a.outsd().unwrap();
            // REP INSW: three words from port 0x60 to ES:EDI.
            a.mov(edx, 0x60).unwrap();
            a.mov(edi, 0x3100).unwrap();
            a.mov(ecx, 3).unwrap();
            a.rep().insw().unwrap();
        },
        &[(0x3000, &[1, 2, 3, 4, 0xAA, 0xBB, 0xCC, 0xDD])],
        |_| {},
        &mut io,
    );
    assert_eq!(stop, StopReason::Halted);
    assert_eq!(
        io.outs,
        vec![
            (0x80, IoSize::Byte, 1),
            (0x80, IoSize::Byte, 2),
            (0x80, IoSize::Byte, 3),
            (0x80, IoSize::Byte, 4),
            (0x1234, IoSize::Dword, 0xDDCC_BBAA),
        ]
    );
    assert_eq!(g(&c, ESI), 0x3008);
    // Words 0x0060, 0x0161, 0x0262 (low halves of 0x10000060 + k * 0x01010101).
    assert_eq!(
        bytes(&c, 0x3100, 8),
        [0x60, 0x00, 0x61, 0x01, 0x62, 0x02, 0, 0]
    );
    assert_eq!((g(&c, EDI), g(&c, ECX)), (0x3106, 0));
}

#[test]
fn outs_without_io_permission_faults_before_any_access() {
    // CPL 3 with IOPL 0 and no usable TSS bitmap: #GP(0), nothing written, ESI unchanged.
    let mut io = TestPorts {
        next: 0,
        outs: Vec::new(),
    };
    let (c, stop) = run_with(
        |a| {
            a.mov(edx, 0x80).unwrap();
            a.mov(esi, 0x3000).unwrap();
            a.mov(ecx, 2).unwrap();
            a.rep().outsb().unwrap();
        },
        &[],
        |cpu| {
            let eip = cpu.core.regs.eip;
            cpu.enter_flat32(eip, 3);
            cpu.core.regs.gpr[4] = 0x8000;
        },
        &mut io,
    );
    match stop {
        StopReason::Exception(e) => assert_eq!(e.vector, 13),
        other => panic!("{other:?}"),
    }
    assert!(io.outs.is_empty());
    assert_eq!((g(&c, ESI), g(&c, ECX)), (0x3000, 2));
}

#[test]
fn fault_in_repe_cmps_restores_flags() {
    // Three equal bytes, then ES:EDI passes the ES limit: #GP(0) with ESI/EDI/ECX as after
    // three iterations and EFLAGS as before the instruction (SDM REP page).
    let (c, stop) = run_with(
        |a| {
            a.mov(esi, 0x3000).unwrap();
            a.mov(edi, 0x3100).unwrap();
            a.mov(ecx, 8).unwrap();
            a.cmp(ecx, 9).unwrap(); // CF SF AF PF set, ZF clear
            a.repe().cmpsb().unwrap();
        },
        &[(0x3000, b"abcd"), (0x3100, b"abcd")],
        |cpu| cpu.core.sregs.seg[SegReg::Es as usize].limit = 0x3102,
        &mut NoPorts,
    );
    match stop {
        StopReason::Exception(e) => assert_eq!((e.vector, e.error_code()), (13, Some(0))),
        other => panic!("{other:?}"),
    }
    assert_eq!((g(&c, ESI), g(&c, EDI), g(&c, ECX)), (0x3003, 0x3103, 5));
    assert_eq!(fl(&c), CF | SF | AF | PF);
    assert_eq!(c.core.regs.eip, CODE + 18);
}

#[test]
fn cmps_accesses_the_destination_first() {
    // Both operands fault: the source through SS (#SS) and the destination through ES
    // (#GP). Intel reports the ES:EDI fault.
    let (_, stop) = run_with(
        |a| {
            a.mov(esi, 0x3000).unwrap();
            a.mov(edi, 0x3000).unwrap();
            a.db(&[0x36, 0xA6]).unwrap(); // ss cmpsb
        },
        &[],
        |cpu| {
            cpu.core.sregs.seg[SegReg::Ss as usize].limit = 0x2FFF;
            cpu.core.sregs.seg[SegReg::Es as usize].limit = 0x2FFF;
        },
        &mut NoPorts,
    );
    match stop {
        StopReason::Exception(e) => assert_eq!((e.vector, e.error_code()), (13, Some(0))),
        other => panic!("{other:?}"),
    }
}

#[test]
fn outs_permission_check_precedes_the_memory_read() {
    // CPL 3, IOPL 0: SS: OUTSB whose source is past the SS limit reports #GP(0) (the I/O
    // permission), not #SS(0).
    let mut io = TestPorts {
        next: 0,
        outs: Vec::new(),
    };
    let (_, stop) = run_with(
        |a| {
            a.mov(edx, 0x80).unwrap();
            a.mov(esi, 0x3000).unwrap();
            a.db(&[0x36, 0x6E]).unwrap(); // ss outsb
        },
        &[],
        |cpu| {
            let eip = cpu.core.regs.eip;
            cpu.enter_flat32(eip, 3);
            cpu.core.sregs.seg[SegReg::Ss as usize].limit = 0x2FFF;
        },
        &mut io,
    );
    match stop {
        StopReason::Exception(e) => assert_eq!((e.vector, e.error_code()), (13, Some(0))),
        other => panic!("{other:?}"),
    }
    assert!(io.outs.is_empty());
}

#[test]
fn a_huge_rep_stosb_is_bounded_by_the_instruction_limit() {
    // ECX = 2^32 - 1 iterations would take a long time in one instruction: REP runs in
    // chunks of 1024 iterations, each retiring once, so an instruction budget of 4 (two MOVs, then two chunks) stops
    // it with the registers consistent.
    let mut a = CodeAssembler::new(32).unwrap();
    a.mov(edi, 0x10_0000u32).unwrap();
    a.mov(ecx, 0xFFFF_FFFFu32).unwrap();
    a.rep().stosb().unwrap();
    let bytes = a.assemble(u64::from(CODE)).unwrap();
    let mut mem = PhysMem::new(4 << 20).unwrap();
    mem.load(PhysAddr(u64::from(CODE)), &bytes).unwrap();
    let mut cpu = Cpu::new(CpuModel::yonah(), mem);
    cpu.enter_flat32(CODE, 0);
    let stop = cpu.run(
        &mut NoPorts,
        RunLimits {
            max_instructions: 4,
        },
    );
    assert_eq!(stop, StopReason::InstructionLimit);
    assert_eq!(g(&cpu, ECX), 0xFFFF_FFFF - 2 * 1024);
    assert_eq!(g(&cpu, EDI), 0x10_0000 + 2 * 1024);
    assert_eq!(cpu.core.regs.eip, CODE + 10, "EIP stays on the REP STOSB");
}
