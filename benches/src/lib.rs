//! Shared workloads for the vtx32 benchmarks: guest programs built with iced `code_asm`.

use iced_x86::code_asm::*;
use vtx32_cpu::{Cpu, CpuModel, Cr0, Cr4, NoPorts, RunLimits, StopReason};
use vtx32_mmu::{PhysAddr, PhysMem};

/// Load address of the benchmark code.
pub const CODE: u32 = 0x10_0000;
/// Data area the loop reads and writes.
pub const DATA: u32 = 0x20_0000;

/// The instruction mix the loops share (the benchmarks' and the ROM of
/// `examples/write_alu_rom.rs`): a load from `src`, ALU ops, a store to `dst`, and a
/// data-dependent branch over one instruction (to `skip`, set here). 13 instructions.
pub fn alu_mix(
    a: &mut CodeAssembler,
    src: AsmMemoryOperand,
    dst: AsmMemoryOperand,
    skip: &mut CodeLabel,
) -> Result<(), IcedError> {
    a.mov(eax, src)?; // load
    a.add(eax, ebx)?;
    a.xor(edx, eax)?;
    a.shl(ebx, 1)?;
    a.adc(ebx, 0)?;
    a.mov(dst, edx)?; // store
    a.lea(ebp, dword_ptr(eax + edx * 2 + 3))?;
    a.sub(ebp, ecx)?;
    a.and(ebp, 0xFF)?;
    a.cmp(ebp, 0x80)?;
    a.jb(*skip)?; // data-dependent branch
    a.inc(edx)?;
    a.set_label(skip)
}

/// The 32-bit protected-mode ALU loop (paging off): integer ops, loads and stores, a
/// conditional branch per iteration. 16 instructions per iteration, forever (the run is
/// bounded by the instruction limit).
pub fn alu_loop_program() -> Vec<u8> {
    let mut a = CodeAssembler::new(32).expect("bitness");
    let mut top = a.create_label();
    let mut skip = a.create_label();
    (|| -> Result<(), IcedError> {
        a.mov(esi, DATA)?;
        a.mov(edi, DATA + 0x100)?;
        a.xor(ecx, ecx)?;
        a.mov(ebx, 0x1234_5678)?;
        a.set_label(&mut top)?;
        alu_mix(
            &mut a,
            dword_ptr(esi + ecx * 4),
            dword_ptr(edi + ecx * 4),
            &mut skip,
        )?;
        a.inc(ecx)?;
        a.and(ecx, 0x3F)?;
        a.jmp(top)?;
        Ok(())
    })()
    .expect("assemble");
    a.assemble(u64::from(CODE)).expect("assemble")
}

/// A processor in flat 32-bit ring 0 with `program` loaded at [`CODE`].
pub fn flat_cpu(program: &[u8]) -> Cpu {
    let mut mem = PhysMem::new(16 << 20).expect("ram");
    mem.load(PhysAddr(u64::from(CODE)), program).expect("load");
    let mut cpu = Cpu::new(CpuModel::yonah(), mem);
    cpu.enter_flat32(CODE, 0);
    cpu.core.regs.gpr[4] = 0x8_0000;
    cpu
}

/// Runs `n` more instructions.
pub fn run_instructions(cpu: &mut Cpu, n: u64) {
    let target = cpu.core.instructions + n;
    let stop = cpu.run(
        &mut NoPorts,
        RunLimits {
            max_instructions: target,
        },
    );
    assert_eq!(stop, StopReason::InstructionLimit);
}

/// Start of the 64 MiB region the page loops walk through (64 MiB: above code and tables).
pub const REGION: u32 = 0x0400_0000;
/// Size of that region.
pub const REGION_SIZE: u32 = 64 << 20;
/// RAM of the paging workloads: everything below the end of the region, identity-mapped.
const PAGED_RAM: u32 = REGION + REGION_SIZE;
/// Paging structures of the paging workloads (below [`REGION`], away from code and data).
const TABLES: u32 = 0x30_0000;
/// Hot-page loop: 128 pages, all held by the TLB (256 entries, 64 sets by bits 17:12).
pub const HOT_PAGES: u32 = 128;

/// Paging set-ups of the page-loop workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paging {
    Off,
    /// 32-bit paging, 4 KiB pages (PDE + PTE per walk).
    TwoLevel,
    /// PAE paging, 4 KiB pages (PDE + PTE per walk; PDPTEs are registers).
    Pae,
}

/// The page loop: the ALU loop's instruction mix (a load, a store, ALU ops, a
/// data-dependent branch; 16 or 15 instructions per iteration) with its load and store in
/// a different 4 KiB page every iteration, cycling through `pages` pages of [`REGION`]
/// (a power of two). With 16384 pages (the 64 MiB region) every access misses the TLB;
/// with [`HOT_PAGES`] every access hits.
pub fn page_loop_program(pages: u32) -> Vec<u8> {
    assert!(pages.is_power_of_two() && pages <= REGION_SIZE >> 12);
    let mask = (pages - 1) << 12;
    let mut a = CodeAssembler::new(32).expect("bitness");
    let mut top = a.create_label();
    let mut skip = a.create_label();
    (|| -> Result<(), IcedError> {
        a.xor(ecx, ecx)?;
        a.xor(edx, edx)?;
        a.mov(ebx, 0x1234_5678)?;
        a.set_label(&mut top)?;
        // Load and store in page k.
        alu_mix(
            &mut a,
            dword_ptr(ecx + REGION),
            dword_ptr(ecx + (REGION + 4)),
            &mut skip,
        )?;
        a.add(ecx, 0x1000)?; // next page
        a.and(ecx, mask)?;
        a.jmp(top)?;
        Ok(())
    })()
    .expect("assemble");
    a.assemble(u64::from(CODE)).expect("assemble")
}

/// Identity-maps `0..PAGED_RAM` with 4 KiB pages (present, writable, supervisor) in
/// paging structures at [`TABLES`]; returns CR3.
fn build_identity_tables(mem: &mut PhysMem, paging: Paging) -> u32 {
    let pages = PAGED_RAM >> 12;
    let put = |mem: &mut PhysMem, at: u32, bytes: &[u8]| {
        mem.load(PhysAddr(u64::from(at)), bytes)
            .expect("tables fit in RAM");
    };
    match paging {
        Paging::Off => 0,
        Paging::TwoLevel => {
            // PD at TABLES, page tables from TABLES + 4 KiB (1024 PTEs each).
            let pts = TABLES + 0x1000;
            for i in 0..pages.div_ceil(1024) {
                put(mem, TABLES + 4 * i, &((pts + 0x1000 * i) | 3).to_le_bytes());
            }
            for p in 0..pages {
                put(mem, pts + 4 * p, &((p << 12) | 3).to_le_bytes());
            }
            TABLES
        }
        Paging::Pae => {
            // PDPT at TABLES (one PDPTE: the first GiB), PD at TABLES + 4 KiB, page tables
            // from TABLES + 8 KiB (512 PTEs each).
            let (pd, pts) = (TABLES + 0x1000, TABLES + 0x2000);
            put(mem, TABLES, &u64::from(pd | 1).to_le_bytes());
            for i in 0..pages.div_ceil(512) {
                put(
                    mem,
                    pd + 8 * i,
                    &u64::from((pts + 0x1000 * i) | 3).to_le_bytes(),
                );
            }
            for p in 0..pages {
                put(mem, pts + 8 * p, &u64::from((p << 12) | 3).to_le_bytes());
            }
            TABLES
        }
    }
}

/// A processor in flat 32-bit ring 0 with `program` at [`CODE`], RAM up to the end of
/// [`REGION`] and the given paging (identity-mapped 4 KiB pages).
pub fn paged_cpu(program: &[u8], paging: Paging) -> Cpu {
    let mut mem = PhysMem::new(PAGED_RAM as usize).expect("ram");
    mem.load(PhysAddr(u64::from(CODE)), program).expect("load");
    let root = build_identity_tables(&mut mem, paging);
    let mut cpu = Cpu::new(CpuModel::yonah(), mem);
    cpu.enter_flat32(CODE, 0);
    cpu.core.regs.gpr[4] = 0x8_0000;
    if paging != Paging::Off {
        cpu.core.sregs.cr3 = root;
        if paging == Paging::Pae {
            cpu.core.sregs.cr4 |= Cr4::PAE;
        }
        cpu.core.sregs.cr0 |= Cr0::PG;
        cpu.state_changed();
    }
    cpu
}
