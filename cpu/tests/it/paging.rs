//! The TLB is architecturally visible (SDM Vol. 3 §4.10): a translation stays usable after
//! its page-table entry changes, until INVLPG or a CR3 write; global translations survive a
//! CR3 write when CR4.PGE = 1.

use crate::common;
use common::*;
use iced_x86::code_asm::*;
use vtx32_cpu::{Cr0, Cr4};

const PD: u32 = 0x9_0000;
const PT: u32 = 0x9_1000;
const PAGE_A: u32 = 0x20_0000;
const PAGE_B: u32 = 0x20_1000;
/// The linear page under test: PDE 1, PTE 0.
const LIN: u32 = 0x40_0000;

/// PDE 0: a 4 MiB identity page for code, data and tables; PDE 1: a page table whose
/// first entry maps `LIN` to page A (flags `pte_flags`).
fn tables(pte_flags: u32) -> Vec<(u32, Vec<u8>)> {
    let mut pd = vec![0u8; 4096];
    pd[0..4].copy_from_slice(&(0x83u32).to_le_bytes()); // P | RW | PS
    pd[4..8].copy_from_slice(&(PT | 3).to_le_bytes());
    let mut pt = vec![0u8; 4096];
    pt[0..4].copy_from_slice(&(PAGE_A | pte_flags).to_le_bytes());
    vec![
        (PD, pd),
        (PT, pt),
        (PAGE_A, 0x1111u32.to_le_bytes().to_vec()),
        (PAGE_B, 0x2222u32.to_le_bytes().to_vec()),
    ]
}

fn run_paged(
    pte_flags: u32,
    extra_cr4: Cr4,
    build: impl FnOnce(&mut CodeAssembler),
) -> vtx32_cpu::Cpu {
    let t = tables(pte_flags);
    let data: Vec<(u32, &[u8])> = t.iter().map(|(a, b)| (*a, b.as_slice())).collect();
    let (cpu, stop) = run_with(
        build,
        &data,
        |cpu| {
            cpu.core.sregs.cr3 = PD;
            cpu.core.sregs.cr4 = Cr4::PSE | extra_cr4;
            cpu.core.sregs.cr0 |= Cr0::PG;
        },
        &mut vtx32_cpu::NoPorts,
    );
    assert_eq!(stop, vtx32_cpu::StopReason::Halted);
    cpu
}

#[test]
fn a_stale_translation_is_used_until_invlpg_or_a_cr3_write() {
    let c = run_paged(3, Cr4::empty(), |a| {
        a.mov(eax, dword_ptr(LIN)).unwrap(); // fills the TLB: page A
        a.mov(dword_ptr(PT), PAGE_B | 3).unwrap(); // remap to page B in memory
        a.mov(ebx, dword_ptr(LIN)).unwrap(); // still page A
        a.invlpg(dword_ptr(LIN)).unwrap();
        a.mov(ecx, dword_ptr(LIN)).unwrap(); // page B
        a.mov(dword_ptr(PT), PAGE_A | 3).unwrap();
        a.mov(edx, dword_ptr(LIN)).unwrap(); // still page B
        a.mov(esi, cr3).unwrap();
        a.mov(cr3, esi).unwrap(); // flushes non-global translations
        a.mov(edi, dword_ptr(LIN)).unwrap(); // page A
    });
    assert_eq!(
        [g(&c, 0), g(&c, 3), g(&c, 1), g(&c, 2), g(&c, 7)],
        [0x1111, 0x1111, 0x2222, 0x2222, 0x1111]
    );
}

#[test]
fn a_global_translation_survives_a_cr3_write_with_pge() {
    const G: u32 = 1 << 8;
    let c = run_paged(3 | G, Cr4::PGE, |a| {
        a.mov(eax, dword_ptr(LIN)).unwrap(); // page A, global
        a.mov(dword_ptr(PT), PAGE_B | 3 | G).unwrap();
        a.mov(esi, cr3).unwrap();
        a.mov(cr3, esi).unwrap(); // global entry survives
        a.mov(ebx, dword_ptr(LIN)).unwrap(); // still page A
        a.invlpg(dword_ptr(LIN)).unwrap(); // INVLPG removes global entries too
        a.mov(ecx, dword_ptr(LIN)).unwrap(); // page B
    });
    assert_eq!([g(&c, 0), g(&c, 3), g(&c, 1)], [0x1111, 0x1111, 0x2222]);
}

#[test]
fn without_pge_the_g_bit_does_not_keep_a_translation() {
    const G: u32 = 1 << 8;
    let c = run_paged(3 | G, Cr4::empty(), |a| {
        a.mov(eax, dword_ptr(LIN)).unwrap();
        a.mov(dword_ptr(PT), PAGE_B | 3 | G).unwrap();
        a.mov(esi, cr3).unwrap();
        a.mov(cr3, esi).unwrap();
        a.mov(ebx, dword_ptr(LIN)).unwrap(); // page B: flushed
    });
    assert_eq!([g(&c, 0), g(&c, 3)], [0x1111, 0x2222]);
}

/// PAE paging: PDPT at 0x9_2000; PDPTE 0 -> PD at 0x9_3000 whose entry 0 is a 2 MiB
/// identity page and entry 2 maps linear 0x40_0000 (2 MiB) to physical 0x20_0000.
fn pae_tables(pdpte0: u64) -> Vec<(u32, Vec<u8>)> {
    let mut pdpt = vec![0u8; 32];
    pdpt[0..8].copy_from_slice(&pdpte0.to_le_bytes());
    let mut pd = vec![0u8; 4096];
    pd[0..8].copy_from_slice(&0x83u64.to_le_bytes()); // 2 MiB identity, P | RW | PS
    pd[16..24].copy_from_slice(&(0x20_0000u64 | 0x83).to_le_bytes());
    vec![
        (0x9_2000, pdpt),
        (0x9_3000, pd),
        (0x20_0000, 0x3333u32.to_le_bytes().to_vec()),
    ]
}

fn run_pae(
    pdpte0: u64,
    build: impl FnOnce(&mut CodeAssembler),
) -> (vtx32_cpu::Cpu, vtx32_cpu::StopReason) {
    let t = pae_tables(pdpte0);
    let data: Vec<(u32, &[u8])> = t.iter().map(|(a, b)| (*a, b.as_slice())).collect();
    run_with(
        build,
        &data,
        |cpu| {
            cpu.core.sregs.cr3 = 0x9_2000;
            cpu.core.sregs.cr4 = Cr4::PAE;
            cpu.core.sregs.cr0 |= Cr0::PG;
        },
        &mut vtx32_cpu::NoPorts,
    )
}

#[test]
fn pae_paging_translates_through_the_pdpte_registers() {
    let (c, stop) = run_pae(0x9_3000 | 1, |a| {
        a.mov(eax, dword_ptr(0x40_0000u32)).unwrap();
        // Overwriting the PDPTE in memory does not change the PDPTE registers (§4.4.1).
        a.mov(dword_ptr(0x9_2000u32), 0u32).unwrap();
        a.invlpg(dword_ptr(0x40_0000u32)).unwrap();
        a.mov(ebx, dword_ptr(0x40_0000u32)).unwrap();
    });
    assert_eq!(stop, vtx32_cpu::StopReason::Halted);
    assert_eq!([g(&c, 0), g(&c, 3)], [0x3333, 0x3333]);
}

#[test]
fn loading_cr3_with_a_reserved_pdpte_bit_is_a_general_protection_fault() {
    let (c, stop) = run_pae(0x9_3000 | 1, |a| {
        // PDPTE 1 at 0x9_2008: present with reserved bit 5 set.
        a.mov(dword_ptr(0x9_2008u32), 0x21u32).unwrap();
        a.mov(eax, 0x9_2000u32).unwrap();
        a.mov(cr3, eax).unwrap();
    });
    match stop {
        vtx32_cpu::StopReason::Exception(e) => {
            assert_eq!((e.vector, e.error_code()), (13, Some(0)))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.core.sregs.cr3, 0x9_2000,
        "CR3 unchanged by the faulting MOV"
    );
}

/// Runs the program again from its start with the TLB as the first run left it (warm) and
/// returns the cycles of the first and of the second run.
fn cold_and_warm_cycles(mut cpu: vtx32_cpu::Cpu) -> (u64, u64) {
    let cold = cpu.core.cycles;
    let retired = cpu.core.instructions;
    cpu.core.regs.eip = CODE;
    // The first run ended in HLT's halt state; leave it as an interrupt would.
    cpu.core.halted = false;
    let stop = cpu.run(
        &mut vtx32_cpu::NoPorts,
        vtx32_cpu::RunLimits {
            max_instructions: 1_000_000,
        },
    );
    assert_eq!(stop, vtx32_cpu::StopReason::Halted);
    assert_eq!(
        cpu.core.instructions,
        2 * retired,
        "the same code ran twice"
    );
    (cold, cpu.core.cycles - cold)
}

#[test]
fn a_tlb_miss_costs_the_modelled_walk_cycles_with_32_bit_paging() {
    let w = u64::from(vtx32_cpu::CpuModel::yonah().walk_read_cost);
    assert!(w > 0);
    let c = run_paged(3, Cr4::empty(), |a| {
        a.mov(eax, dword_ptr(LIN)).unwrap();
        a.add(eax, 1).unwrap();
    });
    assert_eq!(g(&c, 0), 0x1112);
    let (cold, warm) = cold_and_warm_cycles(c);
    // Cold: the code fetch walks one entry (the 4 MiB PDE 0), the load two (PDE 1, PTE).
    // Warm: every translation hits the TLB and costs nothing extra.
    assert_eq!(cold - warm, 3 * w);
}

#[test]
fn a_tlb_miss_costs_the_modelled_walk_cycles_with_pae_paging() {
    let w = u64::from(vtx32_cpu::CpuModel::yonah().walk_read_cost);
    let (c, stop) = run_pae(0x9_3000 | 1, |a| {
        a.mov(eax, dword_ptr(0x40_0000u32)).unwrap();
        a.add(eax, 1).unwrap();
    });
    assert_eq!(stop, vtx32_cpu::StopReason::Halted);
    assert_eq!(g(&c, 0), 0x3334);
    let (cold, warm) = cold_and_warm_cycles(c);
    // The PDPTEs are registers: the code fetch reads one PDE (2 MiB page 0), the load one
    // PDE (2 MiB page at 4 MiB).
    assert_eq!(cold - warm, 2 * w);
}

#[test]
fn a_faulting_walk_costs_the_entries_it_read() {
    let w = u64::from(vtx32_cpu::CpuModel::yonah().walk_read_cost);
    // PTE not present: the walk reads PDE 1 and the PTE, then faults (reported, not
    // delivered); the same run with the TLB warm for the code page reads them again.
    let t = tables(0);
    let data: Vec<(u32, &[u8])> = t.iter().map(|(a, b)| (*a, b.as_slice())).collect();
    let (mut c, stop) = run_with(
        |a| a.mov(eax, dword_ptr(LIN)).unwrap(),
        &data,
        |cpu| {
            cpu.core.sregs.cr3 = PD;
            cpu.core.sregs.cr4 = Cr4::PSE;
            cpu.core.sregs.cr0 |= Cr0::PG;
        },
        &mut vtx32_cpu::NoPorts,
    );
    assert!(matches!(stop, vtx32_cpu::StopReason::Exception(e) if e.vector == 14));
    assert_eq!(c.core.sregs.cr2, LIN);
    let cold = c.core.cycles;
    c.core.regs.eip = CODE;
    let _ = c.run(
        &mut vtx32_cpu::NoPorts,
        vtx32_cpu::RunLimits {
            max_instructions: 1_000_000,
        },
    );
    let warm = c.core.cycles - cold;
    // Cold: code PDE 0 plus the two entries of the faulting walk; warm: the faulting walk
    // only (faults are never cached).
    assert_eq!(cold - warm, w);
    assert_eq!(
        warm,
        2 * w,
        "a fault reported before delivery retires nothing else"
    );
}
