//! Descriptor-table helpers for the segmentation and task-switch tests: build GDT/IDT
//! entries and TSS images, and load segment registers the way a descriptor load would.

#![allow(dead_code)]

use iced_x86::code_asm::CodeAssembler;
use vtx32_cpu::{Cpu, DescTable, SegAttrs, SegReg, Segment};
use vtx32_mmu::PhysAddr;

/// Where the tests put their tables.
pub const GDT: u32 = 0x20000;
pub const IDT: u32 = 0x21000;
pub const TSS_A: u32 = 0x22000;
pub const TSS_B: u32 = 0x23000;
pub const TSS_C: u32 = 0x24000;
pub const LDT: u32 = 0x25000;

/// Standard GDT slots.
pub const CODE0: u16 = 0x08;
pub const DATA0: u16 = 0x10;
pub const CODE3: u16 = 0x1B;
pub const DATA3: u16 = 0x23;
pub const TSS_A_SEL: u16 = 0x28;

/// A code/data descriptor: `access` is byte 5 (P DPL S type), `flags` the high nibble of
/// byte 6 (G D/B L AVL).
pub fn seg(base: u32, limit: u32, access: u8, flags: u8) -> u64 {
    let lo = (limit & 0xFFFF) | (base << 16);
    let hi = ((base >> 16) & 0xFF)
        | (u32::from(access) << 8)
        | (limit & 0xF_0000)
        | (u32::from(flags & 0xF) << 20)
        | (base & 0xFF00_0000);
    u64::from(lo) | (u64::from(hi) << 32)
}

/// A gate: `access` is byte 5 (P DPL 0 type), `params` the parameter count.
pub fn gate(sel: u16, off: u32, access: u8, params: u8) -> u64 {
    let lo = (off & 0xFFFF) | (u32::from(sel) << 16);
    let hi = (off & 0xFFFF_0000) | (u32::from(access) << 8) | u32::from(params & 0x1F);
    u64::from(lo) | (u64::from(hi) << 32)
}

/// Flat 4 GiB code/data at DPL 0 and 3, the current 32-bit TSS (available; the test marks
/// it busy when loading TR) and room for more entries.
pub fn base_gdt() -> Vec<u64> {
    let mut g = vec![0u64; 32];
    g[1] = seg(0, 0xFFFFF, 0x9B, 0xC);
    g[2] = seg(0, 0xFFFFF, 0x93, 0xC);
    g[3] = seg(0, 0xFFFFF, 0xFB, 0xC);
    g[4] = seg(0, 0xFFFFF, 0xF3, 0xC);
    g[5] = seg(TSS_A, 0x67, 0x8B, 0);
    g
}

pub fn table_bytes(t: &[u64]) -> Vec<u8> {
    t.iter().flat_map(|d| d.to_le_bytes()).collect()
}

/// Assembles `build` at `addr` (32-bit code).
pub fn asm(addr: u32, build: impl FnOnce(&mut CodeAssembler)) -> Vec<u8> {
    let mut a = CodeAssembler::new(32).unwrap();
    build(&mut a);
    a.assemble(u64::from(addr)).unwrap()
}

/// Writes the GDT and points GDTR (and IDTR, limit 0x7FF) at the test tables; TR is the
/// busy 32-bit TSS at `TSS_A`.
pub fn install(cpu: &mut Cpu, gdt: &[u64]) {
    let bytes = table_bytes(gdt);
    cpu.core.mem.load(PhysAddr(u64::from(GDT)), &bytes).unwrap();
    cpu.core.sregs.gdtr = DescTable {
        base: GDT,
        limit: (bytes.len() - 1) as u16,
    };
    cpu.core.sregs.idtr = DescTable {
        base: IDT,
        limit: 0x7FF,
    };
    cpu.core.sregs.tr = from_desc(TSS_A_SEL, gdt[5] | (2u64 << 40));
    set_byte(cpu, GDT + 0x28 + 5, 0x8B);
}

/// Sets IDT entry `v`.
pub fn set_idt(cpu: &mut Cpu, v: u8, d: u64) {
    w64(cpu, IDT + 8 * u32::from(v), d);
}

/// The segment-register value a load of `desc` with `sel` produces.
pub fn from_desc(sel: u16, desc: u64) -> Segment {
    let lo = desc as u32;
    let hi = (desc >> 32) as u32;
    let raw = (lo & 0xFFFF) | (hi & 0xF_0000);
    let limit = if hi & (1 << 23) != 0 {
        (raw << 12) | 0xFFF
    } else {
        raw
    };
    Segment {
        selector: sel,
        base: (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF00_0000),
        limit,
        attrs: SegAttrs::from_bits_retain((hi >> 8) & 0xF0FF),
    }
}

/// Loads segment register `r` with `sel` from `gdt` (no checks), setting CPL from CS.
pub fn load(cpu: &mut Cpu, r: SegReg, sel: u16, gdt: &[u64]) {
    let d = gdt[usize::from(sel >> 3)];
    cpu.core.sregs.seg[r as usize] = from_desc(sel, d);
    if r == SegReg::Cs {
        cpu.core.sregs.cpl = (sel & 3) as u8;
    }
}

/// Runs at CPL 3 with flat ring-3 segments from `gdt`.
pub fn enter_ring3(cpu: &mut Cpu, gdt: &[u64]) {
    load(cpu, SegReg::Cs, CODE3, gdt);
    for r in [SegReg::Ss, SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs] {
        load(cpu, r, DATA3, gdt);
    }
}

pub fn w8(cpu: &mut Cpu, a: u32, v: u8) {
    cpu.core.mem.write_u8(PhysAddr(u64::from(a)), v);
}
pub fn set_byte(cpu: &mut Cpu, a: u32, v: u8) {
    w8(cpu, a, v);
}
pub fn w16(cpu: &mut Cpu, a: u32, v: u16) {
    cpu.core.mem.write_u16(PhysAddr(u64::from(a)), v);
}
pub fn w32(cpu: &mut Cpu, a: u32, v: u32) {
    cpu.core.mem.write_u32(PhysAddr(u64::from(a)), v);
}
pub fn w64(cpu: &mut Cpu, a: u32, v: u64) {
    w32(cpu, a, v as u32);
    w32(cpu, a + 4, (v >> 32) as u32);
}
pub fn peek8(cpu: &Cpu, a: u32) -> u8 {
    cpu.core.mem.read_u8(PhysAddr(u64::from(a)))
}
pub fn peek16(cpu: &Cpu, a: u32) -> u16 {
    cpu.core.mem.read_u16(PhysAddr(u64::from(a)))
}
pub fn peek32(cpu: &Cpu, a: u32) -> u32 {
    cpu.core.mem.read_u32(PhysAddr(u64::from(a)))
}

/// Runs `build` (at `CODE`, ring 0 flat) with `gdt` installed, extra code/data `blobs`, and
/// `setup` applied last; exceptions are reported, not delivered.
pub fn run_sys(
    build: impl FnOnce(&mut CodeAssembler) -> Result<(), iced_x86::IcedError>,
    gdt: &[u64],
    blobs: &[(u32, Vec<u8>)],
    setup: impl FnOnce(&mut Cpu),
) -> (Cpu, vtx32_cpu::StopReason) {
    let data: Vec<(u32, &[u8])> = blobs.iter().map(|(a, b)| (*a, b.as_slice())).collect();
    let gdt = gdt.to_vec();
    crate::common::run_with(
        |a| build(a).unwrap(),
        &data,
        |cpu| {
            install(cpu, &gdt);
            setup(cpu);
        },
        &mut vtx32_cpu::NoPorts,
    )
}

/// Vector and error code of an exception stop.
pub fn exc(stop: vtx32_cpu::StopReason) -> (u8, Option<u32>) {
    match stop {
        vtx32_cpu::StopReason::Exception(e) => (e.vector, e.error_code()),
        other => panic!("expected an exception, got {other:?}"),
    }
}
