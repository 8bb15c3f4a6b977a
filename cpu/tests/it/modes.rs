//! Real mode, unreal mode and protected-mode exception delivery, end to end.

use iced_x86::code_asm::*;
use vtx32_cpu::{Cpu, CpuModel, NoPorts, RunLimits, SegReg, StopReason};
use vtx32_mmu::{PhysAddr, PhysMem};

const ORG: u32 = 0x7C00;

/// Assembles 16-bit code at 0000:7C00 and returns a CPU in real mode about to run it.
fn real_mode_cpu(
    build: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
    extra: &[(u32, &[u8])],
) -> Cpu {
    let mut a = CodeAssembler::new(16).unwrap();
    build(&mut a).unwrap();
    a.hlt().unwrap();
    let code = a.assemble(u64::from(ORG)).unwrap();
    let mut mem = PhysMem::new(4 << 20).unwrap();
    mem.load(PhysAddr(u64::from(ORG)), &code).unwrap();
    for (addr, bytes) in extra {
        mem.load(PhysAddr(u64::from(*addr)), bytes).unwrap();
    }
    let mut cpu = Cpu::new(CpuModel::yonah(), mem);
    let code_seg = &mut cpu.core.sregs.seg[SegReg::Cs as usize];
    code_seg.selector = 0;
    code_seg.base = 0;
    cpu.core.regs.eip = ORG;
    cpu.core.regs.gpr[4] = 0x7000;
    cpu.state_changed();
    cpu
}

fn run(cpu: &mut Cpu) -> StopReason {
    cpu.run(
        &mut NoPorts,
        RunLimits {
            max_instructions: 10_000,
        },
    )
}

/// A GDT at 0x500 with a flat 4 GiB data segment at selector 0x08; pointer at 0x600.
fn flat_gdt() -> Vec<(u32, Vec<u8>)> {
    let mut gdt = vec![0u8; 16];
    gdt[8..16].copy_from_slice(&[0xFF, 0xFF, 0, 0, 0, 0x93, 0xCF, 0]);
    let mut ptr = vec![0u8; 6];
    ptr[0..2].copy_from_slice(&15u16.to_le_bytes());
    ptr[2..6].copy_from_slice(&0x500u32.to_le_bytes());
    vec![(0x500, gdt), (0x600, ptr)]
}

#[test]
fn unreal_mode_keeps_a_4gib_limit_after_returning_to_real_mode() {
    let tables = flat_gdt();
    let extra: Vec<(u32, &[u8])> = tables.iter().map(|(a, b)| (*a, b.as_slice())).collect();
    let mut cpu = real_mode_cpu(
        |a| {
            a.lgdt(ptr(0x600u32))?;
            a.mov(eax, cr0)?;
            a.or(al, 1)?;
            a.mov(cr0, eax)?;
            a.mov(bx, 0x08u32)?;
            a.mov(ds, bx)?; // descriptor cache: base 0, limit 4 GiB
            a.and(al, 0xFEu32 as i32)?;
            a.mov(cr0, eax)?; // back to real mode; DS keeps its cache
            a.mov(ebx, 0x20_0000u32)?;
            a.mov(dword_ptr(ebx), 0xC0DE_CAFEu32)?; // beyond 64 KiB: needs unreal mode
            Ok(())
        },
        &extra,
    );
    assert_eq!(run(&mut cpu), StopReason::Halted);
    assert_eq!(cpu.core.mem.read_u32(PhysAddr(0x20_0000)), 0xC0DE_CAFE);
    assert!(!cpu.core.sregs.cr0.contains(vtx32_cpu::Cr0::PE));
    assert_eq!(cpu.core.sregs.seg[SegReg::Ds as usize].limit, 0xFFFF_FFFF);
}

#[test]
fn real_mode_access_beyond_64kib_is_a_general_protection_fault() {
    let mut cpu = real_mode_cpu(
        |a| {
            a.mov(ebx, 0x20_0000u32)?;
            a.mov(dword_ptr(ebx), 1u32)?;
            Ok(())
        },
        &[],
    );
    cpu.stop_on_exception = true;
    match run(&mut cpu) {
        StopReason::Exception(e) => assert_eq!((e.vector, e.error_code()), (13, Some(0))),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        cpu.core.regs.eip,
        ORG + 6,
        "EIP stays on the faulting instruction"
    );
}

#[test]
fn real_mode_int_goes_through_the_ivt_and_iret_returns() {
    // Handler at 0000:7E00: AX = 1234h, read the saved IP and FLAGS, IRET.
    let mut h = CodeAssembler::new(16).unwrap();
    h.mov(ax, 0x1234u32).unwrap();
    h.mov(bp, sp).unwrap();
    h.mov(dx, word_ptr(bp)).unwrap(); // saved IP
    h.mov(si, word_ptr(bp + 4)).unwrap(); // saved FLAGS
    h.iret().unwrap();
    let handler = h.assemble(0x7E00).unwrap();
    let ivt = [0x00u8, 0x7E, 0x00, 0x00]; // vector 0x21 -> 0000:7E00
    let mut cpu = real_mode_cpu(
        |a| {
            a.sti()?;
            a.int(0x21)?;
            a.pushf()?;
            a.pop(cx)?;
            Ok(())
        },
        &[(0x21 * 4, &ivt), (0x7E00, &handler)],
    );
    assert_eq!(run(&mut cpu), StopReason::Halted);
    let g = cpu.core.regs.gpr;
    assert_eq!(g[0] & 0xFFFF, 0x1234);
    assert_eq!(
        g[2] & 0xFFFF,
        ORG + 3,
        "pushed IP is the instruction after INT 21h (sti=1, int=2 bytes)"
    );
    assert_ne!(g[6] & 0x200, 0, "saved FLAGS had IF set");
    assert_ne!(g[1] & 0x200, 0, "IRET restored IF");
    assert_eq!(g[4], 0x7000, "stack balanced");
}
