//! The vtx32 side of the host-CPU differential test: runs a [`Case`] in flat 32-bit ring 3
//! with the same linear layout, selectors and page mapping the native side has.
//!
//! Paging is on and maps exactly the code page (user, read-only, as the native side maps it
//! read+execute), the data area and the stack page (user, read/write), so an access anywhere
//! else is a #PF as on the host. The GDT mirrors the Linux x86-64 user segments (0x23
//! 32-bit code, 0x2B data, 0x33 64-bit code) on a supervisor-only page at 0xFFC00000, so
//! segment loads see the same descriptors; a user access to that one page reports a
//! protection #PF (P = 1) where the host reports a not-present one (the only known layout
//! difference). Exceptions are not delivered: the CPU stops and reports them
//! (`Cpu::stop_on_exception`).

use crate::case::{
    Case, Executor, FinalState, Outcome, CODE_BASE, CODE_SIZE, CS_SEL, DATA_BASE, DATA_SEL,
    DATA_SIZE, INSN_ADDR, STACK_BASE, STACK_SIZE,
};
use vtx32_cpu::{
    Cpu, CpuModel, Cr0, DescTable, Eflags, NoPorts, RunLimits, SegAttrs, SegReg, Segment,
    StopReason,
};
use vtx32_mmu::{PhysAddr, PhysMem};

/// Physical page directory and page table (not mapped in the linear space).
const PD: u32 = 0x0001_0000;
const PT_LOW: u32 = 0x0001_1000;
const PT_HIGH: u32 = 0x0001_2000;
/// Linear (and physical) address of the GDT: a supervisor-only page at the top of memory
/// linear space, physically at 0x13000.
const GDT_LINEAR: u32 = 0xFFC0_0000;
const GDT_PHYS: u32 = 0x0001_3000;

/// PTE bits: present, writable, user.
const PRESENT_RW_USER: u32 = 0x7;
const PRESENT_RO_USER: u32 = 0x5;
const PRESENT_RW: u32 = 0x3;

/// Executes cases in vtx32.
pub struct Vtx32Executor {
    cpu: Cpu,
}

impl Default for Vtx32Executor {
    fn default() -> Self {
        Self::new()
    }
}

impl Vtx32Executor {
    /// A processor with the test page tables and GDT in place.
    pub fn new() -> Self {
        let mem = PhysMem::new(4 << 20).expect("4 MiB of RAM is a valid size");
        let mut cpu = Cpu::new(CpuModel::yonah(), mem);
        cpu.stop_on_exception = true;
        let mut me = Self { cpu };
        me.build_tables();
        me
    }

    fn write32(&mut self, pa: u32, v: u32) {
        self.cpu
            .core
            .mem
            .load(PhysAddr(u64::from(pa)), &v.to_le_bytes())
            .expect("tables are in RAM");
    }

    /// Identity-maps the test pages and builds the GDT.
    fn build_tables(&mut self) {
        let pages = |base: u32, size: u32| (0..size / 0x1000).map(move |i| base + i * 0x1000);
        let zero = vec![0u8; 0x1000];
        for t in [PD, PT_LOW, PT_HIGH, GDT_PHYS] {
            self.cpu
                .core
                .mem
                .load(PhysAddr(u64::from(t)), &zero)
                .expect("RAM");
        }
        // All test pages lie in the first 4 MiB: one page table covers them.
        self.write32(PD, PT_LOW | PRESENT_RW_USER);
        for p in pages(CODE_BASE, CODE_SIZE) {
            self.write32(PT_LOW + ((p >> 12) & 0x3FF) * 4, p | PRESENT_RO_USER);
        }
        for p in pages(DATA_BASE, DATA_SIZE).chain(pages(STACK_BASE, STACK_SIZE)) {
            self.write32(PT_LOW + ((p >> 12) & 0x3FF) * 4, p | PRESENT_RW_USER);
        }
        self.write32(PD + (GDT_LINEAR >> 22) * 4, PT_HIGH | PRESENT_RW);
        self.write32(PT_HIGH, GDT_PHYS | PRESENT_RW);
        // GDT: index 4 = 0x23 32-bit code DPL 3, 5 = 0x2B data DPL 3, 6 = 0x33 64-bit code.
        let desc = |access: u32, flags: u32| -> (u32, u32) {
            (0x0000_FFFF, (flags << 20) | (0xF << 16) | (access << 8))
        };
        for (idx, (lo, hi)) in [
            (4u32, desc(0xFB, 0xC)),
            (5, desc(0xF3, 0xC)),
            (6, desc(0xFB, 0xA)),
        ] {
            self.write32(GDT_PHYS + idx * 8, lo);
            self.write32(GDT_PHYS + idx * 8 + 4, hi);
        }
    }

    fn set_state(&mut self, case: &Case) {
        let mem = &mut self.cpu.core.mem;
        mem.load(PhysAddr(u64::from(CODE_BASE)), &case.code_page())
            .expect("RAM");
        mem.load(PhysAddr(u64::from(DATA_BASE)), &case.data)
            .expect("RAM");
        mem.load(PhysAddr(u64::from(STACK_BASE)), &case.stack)
            .expect("RAM");
        self.cpu.enter_flat32(INSN_ADDR, 3);
        let c = &mut self.cpu.core;
        let attrs = |code: bool| {
            SegAttrs::P
                | SegAttrs::S
                | SegAttrs::ACCESSED
                | SegAttrs::DB
                | SegAttrs::G
                | SegAttrs::DPL
                | SegAttrs::RW
                | if code {
                    SegAttrs::CODE
                } else {
                    SegAttrs::empty()
                }
        };
        let seg = |selector: u16, code: bool| Segment {
            selector,
            base: 0,
            limit: 0xFFFF_FFFF,
            attrs: attrs(code),
        };
        let null = Segment {
            selector: 0,
            base: 0,
            limit: 0,
            attrs: SegAttrs::UNUSABLE,
        };
        c.sregs.seg = [
            seg(DATA_SEL, false),
            seg(CS_SEL, true),
            seg(DATA_SEL, false),
            seg(DATA_SEL, false),
            null,
            null,
        ];
        c.sregs.gdtr = DescTable {
            base: GDT_LINEAR,
            limit: 8 * 16 - 1,
        };
        c.sregs.cr3 = PD;
        c.sregs.cr0 |= Cr0::PG | Cr0::WP;
        c.regs.gpr = case.gpr;
        c.regs.eflags = Eflags::from_bits_retain(case.initial_eflags());
        self.cpu.state_changed();
    }

    fn snapshot(&self, eip: u32) -> FinalState {
        let c = &self.cpu.core;
        let mut data = vec![0u8; DATA_SIZE as usize];
        let mut stack = vec![0u8; STACK_SIZE as usize];
        c.mem.read_bytes(PhysAddr(u64::from(DATA_BASE)), &mut data);
        c.mem
            .read_bytes(PhysAddr(u64::from(STACK_BASE)), &mut stack);
        FinalState {
            gpr: c.regs.gpr,
            eflags: c.regs.eflags.bits(),
            eip,
            ds: c.sregs.seg[SegReg::Ds as usize].selector,
            es: c.sregs.seg[SegReg::Es as usize].selector,
            ss: c.sregs.seg[SegReg::Ss as usize].selector,
            data,
            stack,
        }
    }
}

impl Executor for Vtx32Executor {
    fn name(&self) -> &str {
        "vtx32"
    }

    fn execute(&mut self, case: &Case) -> Outcome {
        self.set_state(case);
        // The instruction, then the HLT it falls or branches onto. A REP string instruction
        // retires once per 1024 iterations; the mapped pages (16 KiB) bound how many
        // iterations can run before a fault, so 64 retirements are always enough.
        let limit = self.cpu.core.instructions + 64;
        match self.cpu.run(
            &mut NoPorts,
            RunLimits {
                max_instructions: limit,
            },
        ) {
            StopReason::Exception(e) => {
                let cr2 = (e.vector == 14).then_some(self.cpu.core.sregs.cr2);
                let state = self.snapshot(self.cpu.core.regs.eip);
                Outcome::from_exception(case, e.vector, e.error_code(), cr2, state)
            }
            other => Outcome::Error(format!(
                "vtx32 stopped with {other:?} instead of an exception"
            )),
        }
    }
}
