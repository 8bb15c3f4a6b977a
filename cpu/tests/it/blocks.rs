//! Decoded blocks and how they run (`icache.rs`, `exec/mod.rs`): blocks of fast forms run
//! as chains, blocks of 32-bit code go on past a Jcc, flags stay pending between blocks.
//! None of it may be visible: running to the end, in slices of any size, or one
//! instruction at a time must give the same registers, flags, memory, instruction count
//! and cycle count.

use crate::common::*;
use iced_x86::code_asm::*;
use vtx32_cpu::{Cpu, CpuModel, NoPorts, RunLimits, SegReg, StopReason};
use vtx32_mmu::{PhysAddr, PhysMem};

const DATA: u32 = 0x2_0000;
const ROUNDS: u32 = 300;

/// A loop of straight-line code with data-dependent Jcc's inside its blocks (taken both
/// ways, forward into the same block), loads and stores, ending in HLT. With `mixed`, some
/// instructions have no fast form (TEST r8, SETcc), so its blocks take the general loop;
/// without, every block is made of fast forms and runs in chains.
fn program(mixed: bool) -> Vec<u8> {
    let mut a = CodeAssembler::new(32).unwrap();
    let (mut top, mut s1, mut s2, mut s3) = (
        a.create_label(),
        a.create_label(),
        a.create_label(),
        a.create_label(),
    );
    (|| -> Result<(), IcedError> {
        a.mov(ecx, ROUNDS)?;
        a.mov(ebx, 0x9E37_79B9u32)?;
        a.xor(edx, edx)?;
        a.mov(esi, DATA)?;
        a.set_label(&mut top)?;
        // A pseudo-random walk in EBX decides the branches.
        a.mov(eax, ebx)?;
        a.shr(eax, 3)?;
        a.xor(ebx, eax)?;
        a.shl(eax, 7)?;
        a.add(ebx, eax)?;
        a.add(ebx, ecx)?;
        if mixed {
            a.test(bl, 1)?;
        } else {
            a.test(ebx, 1)?;
        }
        a.jz(s1)?;
        a.add(edx, ebx)?;
        a.set_label(&mut s1)?;
        a.cmp(ebx, 0x8000_0000u32)?;
        a.jae(s2)?;
        a.inc(edx)?;
        a.mov(dword_ptr(esi + ecx * 4), edx)?;
        a.set_label(&mut s2)?;
        a.sub(edx, 3)?;
        a.js(s3)?;
        a.adc(edx, dword_ptr(esi + ecx * 4 + 4))?;
        if mixed {
            a.setc(al)?;
        } else {
            a.adc(eax, 0)?;
        }
        a.add(dword_ptr(esi + ecx * 4 + 8), eax)?;
        a.set_label(&mut s3)?;
        a.dec(ecx)?;
        a.jnz(top)?;
        a.hlt()
    })()
    .unwrap();
    a.assemble(u64::from(CODE)).unwrap()
}

fn machine(mixed: bool) -> Cpu {
    let mut mem = PhysMem::new(4 << 20).unwrap();
    mem.load(PhysAddr(u64::from(CODE)), &program(mixed))
        .unwrap();
    let mut cpu = Cpu::new(CpuModel::yonah(), mem);
    cpu.enter_flat32(CODE, 0);
    cpu.core.regs.gpr[4] = 0x8000;
    cpu.stop_on_exception = true;
    cpu.state_changed();
    cpu
}

/// What must not depend on how the run was cut up.
fn outcome(c: &Cpu) -> (vtx32_cpu::Regs, u64, u64, Vec<u32>) {
    let data = (0..ROUNDS + 3).map(|k| m32(c, DATA + 4 * k)).collect();
    (c.core.regs, c.core.instructions, c.core.cycles, data)
}

fn run_to(c: &mut Cpu, max_instructions: u64) -> StopReason {
    c.run(&mut NoPorts, RunLimits { max_instructions })
}

/// Runs the program whole, by steps and in slices of several sizes and compares.
fn same_however_cut(mixed: bool) {
    let mut whole = machine(mixed);
    assert_eq!(run_to(&mut whole, 1_000_000), StopReason::Halted);
    let expected = outcome(&whole);
    // The branches went both ways (else the test would not exercise them).
    assert!(expected.1 > u64::from(ROUNDS) * 14 && expected.1 < u64::from(ROUNDS) * 22);

    let mut stepped = machine(mixed);
    let mut steps = 0;
    while stepped.step(&mut NoPorts).is_none() {
        steps += 1;
        assert!(steps < 1_000_000);
    }
    assert_eq!(outcome(&stepped), expected, "one instruction at a time");

    for slice in [1u64, 2, 3, 5, 7, 11, 13, 16, 17] {
        let mut c = machine(mixed);
        loop {
            let target = c.core.instructions + slice;
            match run_to(&mut c, target) {
                StopReason::InstructionLimit => assert_eq!(c.core.instructions, target),
                StopReason::Halted => break,
                other => panic!("slice {slice}: {other:?}"),
            }
        }
        assert_eq!(outcome(&c), expected, "slices of {slice}");
    }
}

#[test]
fn fast_blocks_give_the_same_state_counts_and_cycles_however_the_run_is_cut() {
    same_however_cut(false);
}

#[test]
fn mixed_blocks_give_the_same_state_counts_and_cycles_however_the_run_is_cut() {
    same_however_cut(true);
}

#[test]
fn a_jcc_inside_a_block_that_branches_past_the_cs_limit_faults_at_the_jcc() {
    // SDM Vol. 2 Jcc: #GP(0) if the target is outside the CS limit; EIP is the Jcc's.
    let (c, s) = run_with(
        |a| {
            a.cmp(eax, eax).unwrap(); // 2 bytes
            a.je(0x3000u64).unwrap(); // taken; not the block's last instruction
            a.nop().unwrap();
            a.nop().unwrap();
        },
        &[],
        |c| c.core.sregs.seg[SegReg::Cs as usize].limit = 0x1FFF,
        &mut NoPorts,
    );
    match s {
        StopReason::Exception(e) => assert_eq!((e.vector, e.error_code()), (13, Some(0))),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.core.regs.eip, CODE + 2);
    assert_eq!(c.core.instructions, 1);
}

#[test]
fn a_jcc_inside_a_block_not_taken_runs_the_rest_of_the_block() {
    let c = run(|a| {
        let (mut skip, mut done) = (a.create_label(), a.create_label());
        a.mov(eax, 1u32).unwrap();
        a.cmp(eax, 2u32).unwrap();
        a.je(skip).unwrap(); // not taken
        a.mov(ebx, 7u32).unwrap();
        a.jb(done).unwrap(); // taken (1 < 2), inside the block
        a.mov(ebx, 8u32).unwrap();
        a.set_label(&mut skip).unwrap();
        a.mov(ebx, 9u32).unwrap();
        a.set_label(&mut done).unwrap();
    });
    assert_eq!(g(&c, 3), 7);
    assert_eq!(c.core.instructions, 5 + 1, "MOV CMP JE MOV JB, then HLT");
}
