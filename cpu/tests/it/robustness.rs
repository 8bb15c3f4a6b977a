//! No guest input may crash the host: random code, registers and descriptor tables, in real
//! mode, 16- and 32-bit protected mode at every CPL, with and without paging, must end in an
//! architectural outcome (a stop reason), never a panic or a hang.

use proptest::prelude::*;
use vtx32_cpu::{Cpu, CpuModel, Cr0, NoPorts, RunLimits, SegReg, StopReason};
use vtx32_mmu::{PhysAddr, PhysMem};

const CODE: u32 = 0x1000;

fn run_random(
    code: &[u8],
    junk: &[u8],
    regs: [u32; 8],
    mode: u8,
    cpl: u8,
    paging: bool,
) -> StopReason {
    let mut mem = PhysMem::new(2 << 20).unwrap();
    // Random bytes everywhere the guest may look for tables (IVT/IDT/GDT at 0, page tables
    // at 0x3000) and the code.
    mem.load(PhysAddr(0), junk).unwrap();
    mem.load(PhysAddr(0x3000), junk).unwrap();
    mem.load(PhysAddr(u64::from(CODE)), code).unwrap();
    let mut cpu = Cpu::new(CpuModel::yonah(), mem);
    match mode {
        0 => {
            let cs = &mut cpu.core.sregs.seg[SegReg::Cs as usize];
            cs.selector = 0;
            cs.base = 0;
            cpu.core.regs.eip = CODE;
        }
        _ => {
            cpu.enter_flat32(CODE, cpl);
            if mode == 2 {
                // 16-bit code segment.
                cpu.core.sregs.seg[SegReg::Cs as usize]
                    .attrs
                    .remove(vtx32_cpu::SegAttrs::DB);
            }
            if paging {
                cpu.core.sregs.cr3 = 0x3000;
                cpu.core.sregs.cr0 |= Cr0::PG;
            }
            cpu.core.sregs.gdtr.limit = 0xFF;
            cpu.core.sregs.idtr.limit = 0x7FF;
        }
    }
    cpu.core.regs.gpr = regs;
    cpu.state_changed();
    cpu.run(
        &mut NoPorts,
        RunLimits {
            max_instructions: 500,
        },
    )
}

proptest! {
    // 1000 cases in CI; more with PROPTEST_CASES=N.
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000), ..ProptestConfig::default() })]

    #[test]
    fn random_code_ends_in_an_architectural_outcome(
        code in proptest::collection::vec(any::<u8>(), 64),
        junk in proptest::collection::vec(any::<u8>(), 4096),
        regs in any::<[u32; 8]>(),
        mode in 0u8..3,
        cpl in 0u8..4,
        paging in any::<bool>(),
    ) {
        let stop = run_random(&code, &junk, regs, mode, cpl, paging);
        prop_assert!(matches!(stop, StopReason::Halted | StopReason::Shutdown | StopReason::InstructionLimit | StopReason::IoStop), "{stop:?}");
    }
}
