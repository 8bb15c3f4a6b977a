//! A small protected-mode machine for the I/O protection, virtual-8086 and SYSENTER tests:
//! GDT, IDT (every vector a DPL-3 32-bit interrupt gate to a one-byte HLT stub), a 32-bit
//! TSS with ring-0 stack, interrupt redirection bitmap and I/O permission bitmap, and an
//! entry into virtual-8086 mode by IRETD.

#![allow(dead_code)]

use iced_x86::code_asm::CodeAssembler;
use vtx32_cpu::{Cpu, CpuModel, Exception, PortIo, RunLimits, SegAttrs, Segment, StopReason};
use vtx32_mmu::{PhysAddr, PhysMem};

pub const CODE: u32 = 0x1000;
pub const GDT: u32 = 0x20000;
pub const IDT: u32 = 0x21000;
pub const HANDLERS: u32 = 0x22000;
pub const TSS: u32 = 0x24000;
/// Ring-0 stack top (TSS.ESP0).
pub const ESP0: u32 = 0x9000;
/// Virtual-8086 code at 3000:0000, stack at 4000:FFF0.
pub const V86_CS: u16 = 0x3000;
pub const V86_SS: u16 = 0x4000;
pub const V86_SP: u16 = 0xFFF0;

pub const SEL_CODE0: u16 = 0x08;
pub const SEL_DATA0: u16 = 0x10;
pub const SEL_TSS: u16 = 0x18;
pub const SEL_CODE3: u16 = 0x23;
pub const SEL_DATA3: u16 = 0x2B;

/// Offsets in the TSS: the interrupt redirection bitmap, then the I/O map base.
pub const REDIR: usize = 0x68;
pub const IOMAP: usize = 0x88;

pub const IF: u32 = 1 << 9;
pub const TF: u32 = 1 << 8;
pub const IOPL3: u32 = 3 << 12;
pub const VM: u32 = 1 << 17;
pub const RF: u32 = 1 << 16;
pub const VIF: u32 = 1 << 19;
pub const VIP: u32 = 1 << 20;

pub const CR4_VME: u32 = 1;
pub const CR4_PVI: u32 = 2;

/// Where vector `v`'s handler halts: EIP after its HLT.
pub fn handler_done(v: u8) -> u32 {
    HANDLERS + u32::from(v) * 16 + 1
}

fn desc(base: u32, limit: u32, access: u8, flags: u8) -> [u8; 8] {
    [
        limit as u8,
        (limit >> 8) as u8,
        base as u8,
        (base >> 8) as u8,
        (base >> 16) as u8,
        access,
        (flags << 4) | ((limit >> 16) as u8 & 0xF),
        (base >> 24) as u8,
    ]
}

/// The machine description; adjust the public fields, then [`Pm::run`].
pub struct Pm {
    /// TSS bytes (32-bit TSS, redirection bitmap all ones, I/O bitmap all ones + 0xFF).
    pub tss: Vec<u8>,
    /// TSS limit loaded into TR (default: the whole `tss`).
    pub tss_limit: u32,
    /// TR type: 0xB (busy 32-bit) or 0x3 (busy 16-bit).
    pub tss_type: u32,
    pub cr4: u32,
    /// Deliver exceptions through the IDT instead of stopping at them.
    pub deliver: bool,
    /// Extra memory contents.
    pub data: Vec<(u32, Vec<u8>)>,
    /// CPL and EFLAGS to start the ring-`cpl` flat code with.
    pub cpl: u8,
    pub eflags: u32,
}

impl Default for Pm {
    fn default() -> Self {
        Self::new()
    }
}

impl Pm {
    pub fn new() -> Self {
        let mut tss = vec![0u8; IOMAP + 8192 + 1];
        tss[4..8].copy_from_slice(&ESP0.to_le_bytes());
        tss[8..10].copy_from_slice(&SEL_DATA0.to_le_bytes());
        tss[102..104].copy_from_slice(&(IOMAP as u16).to_le_bytes());
        for b in &mut tss[REDIR..] {
            *b = 0xFF;
        }
        let tss_limit = tss.len() as u32 - 1;
        Self {
            tss,
            tss_limit,
            tss_type: 0xB,
            cr4: 0,
            deliver: false,
            data: Vec::new(),
            cpl: 0,
            eflags: 2,
        }
    }

    /// Clears the I/O bitmap bits of `n` ports from `port`.
    pub fn allow_ports(&mut self, port: u16, n: u32) {
        for p in u32::from(port)..u32::from(port) + n {
            self.tss[IOMAP + p as usize / 8] &= !(1 << (p % 8));
        }
    }

    /// Clears redirection bit `v` (INT v goes through the 8086 IVT under VME).
    pub fn redirect(&mut self, v: u8) {
        self.tss[REDIR + usize::from(v) / 8] &= !(1 << (v % 8));
    }

    /// Sets IVT entry `v` to `cs:ip` and puts `code` (16-bit) there.
    pub fn ivt(&mut self, v: u8, cs: u16, ip: u16, code: impl FnOnce(&mut CodeAssembler)) {
        let mut e = ip.to_le_bytes().to_vec();
        e.extend_from_slice(&cs.to_le_bytes());
        self.data.push((u32::from(v) * 4, e));
        self.code16((u32::from(cs) << 4) + u32::from(ip), u64::from(ip), code);
    }

    /// Assembles 16-bit `code` (IP origin `ip`) at physical `at`.
    pub fn code16(&mut self, at: u32, ip: u64, code: impl FnOnce(&mut CodeAssembler)) {
        let mut a = CodeAssembler::new(16).unwrap();
        code(&mut a);
        self.data.push((at, a.assemble(ip).unwrap()));
    }

    /// Virtual-8086 code at 3000:0000.
    pub fn v86(&mut self, code: impl FnOnce(&mut CodeAssembler)) {
        self.code16(u32::from(V86_CS) << 4, 0, code);
    }

    /// Runs 32-bit `code` at CODE (CPL `self.cpl`, EFLAGS `self.eflags`), `setup` last.
    pub fn run_io(
        self,
        code: impl FnOnce(&mut CodeAssembler),
        setup: impl FnOnce(&mut Cpu),
        io: &mut dyn PortIo,
    ) -> (Cpu, StopReason) {
        let mut a = CodeAssembler::new(32).unwrap();
        code(&mut a);
        a.hlt().unwrap();
        let bytes = a.assemble(u64::from(CODE)).unwrap();
        let mut mem = PhysMem::new(4 << 20).unwrap();
        mem.load(PhysAddr(u64::from(CODE)), &bytes).unwrap();
        // GDT: null, code0, data0, TSS, code3, data3.
        let mut gdt = Vec::new();
        gdt.extend_from_slice(&[0; 8]);
        gdt.extend_from_slice(&desc(0, 0xFFFFF, 0x9B, 0xC));
        gdt.extend_from_slice(&desc(0, 0xFFFFF, 0x93, 0xC));
        gdt.extend_from_slice(&desc(TSS, self.tss_limit, 0x80 | self.tss_type as u8, 0));
        gdt.extend_from_slice(&desc(0, 0xFFFFF, 0xFB, 0xC));
        gdt.extend_from_slice(&desc(0, 0xFFFFF, 0xF3, 0xC));
        mem.load(PhysAddr(u64::from(GDT)), &gdt).unwrap();
        let mut idt = Vec::new();
        for v in 0..256u32 {
            let h = HANDLERS + v * 16;
            idt.extend_from_slice(&(h as u16).to_le_bytes());
            idt.extend_from_slice(&SEL_CODE0.to_le_bytes());
            idt.extend_from_slice(&[0, 0xEE]);
            idt.extend_from_slice(&((h >> 16) as u16).to_le_bytes());
            mem.load(PhysAddr(u64::from(h)), &[0xF4]).unwrap();
        }
        mem.load(PhysAddr(u64::from(IDT)), &idt).unwrap();
        mem.load(PhysAddr(u64::from(TSS)), &self.tss).unwrap();
        for (at, d) in &self.data {
            mem.load(PhysAddr(u64::from(*at)), d).unwrap();
        }
        let mut cpu = Cpu::new(CpuModel::yonah(), mem);
        cpu.enter_flat32(CODE, self.cpl);
        let c = &mut cpu.core;
        c.regs.gpr[4] = 0x8000;
        c.regs.eflags = vtx32_cpu::Eflags::from_bits_retain(self.eflags | 2);
        c.sregs.gdtr.base = GDT;
        c.sregs.gdtr.limit = gdt.len() as u16 - 1;
        c.sregs.idtr.base = IDT;
        c.sregs.idtr.limit = 256 * 8 - 1;
        c.sregs.tr = Segment {
            selector: SEL_TSS,
            base: TSS,
            limit: self.tss_limit,
            attrs: SegAttrs::from_bits_retain(self.tss_type) | SegAttrs::P,
        };
        c.sregs.cr4 = vtx32_cpu::Cr4::from_bits_retain(self.cr4);
        cpu.stop_on_exception = !self.deliver;
        setup(&mut cpu);
        cpu.state_changed();
        let stop = cpu.run(
            io,
            RunLimits {
                max_instructions: 100_000,
            },
        );
        (cpu, stop)
    }

    /// [`Pm::run_io`] without ports or extra set-up.
    pub fn run(self, code: impl FnOnce(&mut CodeAssembler)) -> (Cpu, StopReason) {
        self.run_io(code, |_| {}, &mut vtx32_cpu::NoPorts)
    }

    /// Enters virtual-8086 mode at 3000:0000 (stack 4000:FFF0, data segments 0) with
    /// `eflags | VM`, from ring 0.
    pub fn run_v86(self, eflags: u32) -> (Cpu, StopReason) {
        self.run(|a| enter_v86(a, eflags))
    }
}

/// Ring-0 code: IRETD into virtual-8086 mode at 3000:0000 with `eflags | VM`.
pub fn enter_v86(a: &mut CodeAssembler, eflags: u32) {
    for _ in 0..4 {
        a.push(0i32).unwrap(); // GS FS DS ES
    }
    a.push(i32::from(V86_SS)).unwrap();
    a.push(i32::from(V86_SP)).unwrap();
    a.push((eflags | VM | 2) as i32).unwrap();
    a.push(i32::from(V86_CS)).unwrap();
    a.push(0i32).unwrap();
    a.iretd().unwrap();
}

/// The exception a run stopped at.
pub fn stopped_at(s: StopReason) -> Exception {
    match s {
        StopReason::Exception(e) => e,
        other => panic!("expected an exception, got {other:?}"),
    }
}

/// Asserts that the run stopped at #GP(`code`).
pub fn assert_gp(s: StopReason, code: u32) {
    let e = stopped_at(s);
    assert_eq!((e.vector, e.error_code()), (13, Some(code)), "{e:?}");
}

/// Asserts that the run stopped at the INT3 that ends a test's guest code.
pub fn assert_int3(s: StopReason) {
    let e = stopped_at(s);
    assert_eq!(e.vector, 3, "{e:?}");
}

/// Linear address in the virtual-8086 stack segment.
pub fn v86_stack(sp: u32) -> u32 {
    (u32::from(V86_SS) << 4) + sp
}

pub fn m16(c: &Cpu, a: u32) -> u32 {
    u32::from(c.core.mem.read_u16(PhysAddr(u64::from(a))))
}

pub fn m32(c: &Cpu, a: u32) -> u32 {
    c.core.mem.read_u32(PhysAddr(u64::from(a)))
}

pub fn eflags(c: &Cpu) -> u32 {
    c.core.regs.eflags.bits()
}

/// A board that records the ports accessed; IN returns 0x5A5A5A5A masked.
#[derive(Default)]
pub struct Ports(pub Vec<u16>);

impl PortIo for Ports {
    fn io_in(&mut self, p: u16, _: vtx32_cpu::IoSize, _: &mut PhysMem) -> u32 {
        self.0.push(p);
        0x5A5A_5A5A
    }
    fn io_out(
        &mut self,
        p: u16,
        _: vtx32_cpu::IoSize,
        _: u32,
        _: &mut PhysMem,
    ) -> vtx32_cpu::IoAction {
        self.0.push(p);
        vtx32_cpu::IoAction::Continue
    }
}

/// Set-up for ring-3 code that IRETs or loads segments: CS and SS selectors of the GDT's
/// DPL-3 entries.
pub fn ring3_selectors(c: &mut Cpu) {
    c.core.sregs.seg[vtx32_cpu::SegReg::Cs as usize].selector = SEL_CODE3;
    for s in [
        vtx32_cpu::SegReg::Ss,
        vtx32_cpu::SegReg::Ds,
        vtx32_cpu::SegReg::Es,
    ] {
        c.core.sregs.seg[s as usize].selector = SEL_DATA3;
    }
}
