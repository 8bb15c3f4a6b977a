//! The ROM-test kit: 64 KiB BIOS-replacement ROMs, built with iced `code_asm`, that boot
//! into flat 32-bit ring 0 and print what they observe to port 0xE9. The same image runs
//! under `vtx32 run`, Bochs 2.7 and QEMU (`../shared/reference/conventions.md`); the
//! golden outputs in `testsuites/goldens/` come from Bochs (`scripts/bochs-goldens`).
//!
//! # What a test sees when its body starts
//! * 32-bit protected mode, CPL 0, paging off, A20 on, IF = 0, DF = 0.
//! * CS = [`CODE0`], DS/ES/FS/GS/SS = [`DATA0`], ESP = [`STACK0`].
//! * GDT at [`GDT`] (limit 0x7FF) with the selectors below; entries from [`FREE_SEL`] on are
//!   zero and free for the test ([`Rom::set_descriptor`]).
//! * IDT at [`IDT`] (limit 0x7FF): vectors 0-31 go to the kit's exception handler (32-bit
//!   interrupt gates, DPL 0), vector [`RESUME_VECTOR`] is a DPL-3 gate that ends a
//!   [`Rom::in_ring`] body; the rest are zero (not present).
//! * TR = [`TSS_SEL`]: a 32-bit TSS at [`TSS`] with ESP0/1/2 = [`STACK0_TSS`], [`STACK1`],
//!   [`STACK2`] (SS = the ring's data selector), the interrupt-redirection bitmap (32 zero
//!   bytes at `TSS + 0x68`) and an all-zero I/O permission bitmap at [`IOMAP`] (every port
//!   allowed), terminated by 0xFF.
//!
//! # Exceptions
//! The kit's handler prints one line, `EXC vv err=eeee cr2=xxxxxxxx cs=ssss` (err only for
//! vectors with an error code, cr2 only for #PF; cs is the CS pushed by the event), then
//! resumes at the current recovery point with flat ring-0 segments and the recovery ESP.
//! [`Rom::expect_fault`] and [`Rom::in_ring`] set recovery points; an exception with no
//! recovery point prints `EXC ... unexpected` and ends the ROM.
//!
//! # Printing
//! [`Rom::print`], [`Rom::print_reg`], [`Rom::print_hex`] preserve every register and
//! EFLAGS, read their strings through CS (so any DS works) and need a usable stack. They
//! work at any CPL in protected mode (the I/O bitmap allows port 0xE9), not in v8086 mode.
//!
//! # ROM layout
//! | image offset | content |
//! |---|---|
//! | 0x0000-0xFEFF | the test's 32-bit code and data (flat, assembled at 0xF0000) |
//! | 0xFF00 | 16-bit boot stub: A20 on, boot GDT, CR0.PE, far jump to 0x08:0xF0000 |
//! | 0xFFB0 | boot GDT (null, flat code, flat data); 0xFFD0 its GDTR image |
//! | 0xFFF0 | reset vector: `jmp far F000:FF00` |

use iced_x86::code_asm::*;
use iced_x86::IcedError;

/// Size of a kit ROM image.
pub const ROM_SIZE: usize = 64 * 1024;
/// Physical address of the image's low copy; the 32-bit code is assembled for it.
pub const ROM_BASE: u32 = 0xF_0000;
const BOOT_OFFSET: usize = 0xFF00;
const BOOT_GDT_OFFSET: usize = 0xFFB0;
const BOOT_GDTR_OFFSET: usize = 0xFFD0;
const RESET_OFFSET: usize = 0xFFF0;

/// Descriptor tables and kit data in RAM.
pub const GDT: u32 = 0x1000;
pub const IDT: u32 = 0x2000;
pub const TSS: u32 = 0x3000;
/// The I/O permission bitmap (TSS I/O map base 0x88), 8 KiB + the 0xFF terminator.
pub const IOMAP: u32 = TSS + 0x88;
/// Limit of the kit's TSS (covers the whole I/O bitmap and its terminator).
pub const TSS_LIMIT: u32 = 0x88 + 0x2000;
/// Kit variables: the recovery point.
const RESUME_EIP: u32 = 0x6000;
const RESUME_ESP: u32 = 0x6004;
/// Free RAM for tests: 0x10000-0x7FFFF and from 0x100000 on.
pub const FREE_LOW: u32 = 0x1_0000;
pub const FREE_HIGH: u32 = 0x10_0000;

/// Stacks: the ring-0 stack the body starts on, the TSS ring stacks, the ring-3 stack.
pub const STACK0: u32 = 0x9_0000;
pub const STACK0_TSS: u32 = 0x8_C000;
pub const STACK1: u32 = 0x8_8000;
pub const STACK2: u32 = 0x8_6000;
pub const STACK3: u32 = 0x8_4000;

/// GDT selectors (RPL 0; OR in the ring for RPL). All flat: base 0, limit 4 GiB.
pub const CODE0: u16 = 0x08;
pub const DATA0: u16 = 0x10;
pub const CODE1: u16 = 0x18;
pub const DATA1: u16 = 0x20;
pub const CODE2: u16 = 0x28;
pub const DATA2: u16 = 0x30;
pub const CODE3: u16 = 0x38;
pub const DATA3: u16 = 0x40;
pub const TSS_SEL: u16 = 0x48;
/// First GDT selector free for tests (entries up to 0x7F8).
pub const FREE_SEL: u16 = 0x50;

/// The vector of the DPL-3 gate that ends an [`Rom::in_ring`] body.
pub const RESUME_VECTOR: u8 = 0x30;

/// Access bytes (SDM Vol. 3 §3.4.5): present, DPL, S, type.
pub mod access {
    /// Execute/read code, accessed.
    pub const CODE: u8 = 0x9B;
    /// Read/write data, accessed.
    pub const DATA: u8 = 0x93;
    /// Available 32-bit TSS.
    pub const TSS32: u8 = 0x89;
    /// Available 16-bit TSS.
    pub const TSS16: u8 = 0x81;
    /// LDT.
    pub const LDT: u8 = 0x82;
    /// 32-bit call gate.
    pub const CALL_GATE32: u8 = 0x8C;
    /// 16-bit call gate.
    pub const CALL_GATE16: u8 = 0x84;
    /// Task gate.
    pub const TASK_GATE: u8 = 0x85;
    /// 32-bit interrupt gate.
    pub const INT_GATE32: u8 = 0x8E;
    /// 32-bit trap gate.
    pub const TRAP_GATE32: u8 = 0x8F;
    /// 16-bit interrupt gate.
    pub const INT_GATE16: u8 = 0x86;
    /// 16-bit trap gate.
    pub const TRAP_GATE16: u8 = 0x87;
    /// DPL bits for `ring`.
    pub const fn dpl(ring: u8) -> u8 {
        (ring & 3) << 5
    }
}

/// Flags nibble of a code/data descriptor: G = 1, D/B = 1 (32-bit, 4 KiB granularity).
pub const FLAGS_32_PAGES: u8 = 0xC;
/// D/B = 1, byte granularity.
pub const FLAGS_32_BYTES: u8 = 0x4;
/// 16-bit, byte granularity.
pub const FLAGS_16_BYTES: u8 = 0x0;

/// Vectors that push an error code (SDM Vol. 3 Table 6-1).
const ERROR_CODE_VECTORS: u32 = (1 << 8) | (0x1F << 10) | (1 << 17);

/// An 8-byte segment descriptor.
pub fn descriptor(base: u32, limit: u32, access: u8, flags: u8) -> u64 {
    let (b, l) = (u64::from(base), u64::from(limit));
    (l & 0xFFFF)
        | (b & 0xFF_FFFF) << 16
        | u64::from(access) << 40
        | ((l >> 16) & 0xF) << 48
        | u64::from(flags & 0xF) << 52
        | (b >> 24) << 56
}

/// An 8-byte gate descriptor (call, interrupt, trap or task gate); `count` is the call
/// gate's parameter count.
pub fn gate(selector: u16, offset: u32, access: u8, count: u8) -> u64 {
    let o = u64::from(offset);
    (o & 0xFFFF)
        | u64::from(selector) << 16
        | u64::from(count & 0x1F) << 32
        | u64::from(access) << 40
        | (o >> 16) << 48
}

/// The kit GDT (entries 0 to TSS_SEL).
fn kit_gdt() -> Vec<u64> {
    let flat = |access: u8| descriptor(0, 0xF_FFFF, access, FLAGS_32_PAGES);
    let mut g = vec![0u64];
    for ring in 0..4u8 {
        g.push(flat(access::CODE | access::dpl(ring)));
        g.push(flat(access::DATA | access::dpl(ring)));
    }
    g.push(descriptor(TSS, TSS_LIMIT, access::TSS32, 0));
    g
}

/// A ROM under construction. `a` is the test body's assembler (32-bit, flat, ring 0).
pub struct Rom {
    pub a: CodeAssembler,
    strings: Vec<(CodeLabel, Vec<u8>)>,
    puts: CodeLabel,
    hex: CodeLabel,
    handler: CodeLabel,
    resume: CodeLabel,
    exit: CodeLabel,
    exit_fail: CodeLabel,
    stubs: Vec<CodeLabel>,
    gdt_template: CodeLabel,
    gdtr: CodeLabel,
    idtr: CodeLabel,
    /// `mov r32, imm32` instructions (by index) whose immediate is a label's address.
    fixups: Vec<(usize, CodeLabel)>,
}

/// A label's id: `CodeLabel` hashes exactly its id (and copies taken before `set_label`
/// carry no instruction index, so the id is what identifies the label's instruction).
fn label_id(l: &CodeLabel) -> u64 {
    use std::hash::{Hash, Hasher};
    #[derive(Default)]
    struct Id(u64);
    impl Hasher for Id {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, _: &[u8]) {}
        fn write_u64(&mut self, v: u64) {
            self.0 = v;
        }
    }
    let mut h = Id::default();
    l.hash(&mut h);
    h.finish()
}

/// Emits `mov r, imm32` with the address of `l`, patched after assembly (`code_asm` has no
/// absolute label operands in 32-bit code).
fn addr(
    a: &mut CodeAssembler,
    fixups: &mut Vec<(usize, CodeLabel)>,
    r: AsmRegister32,
    l: CodeLabel,
) -> Asm {
    fixups.push((a.instructions().len(), l));
    a.mov(r, 0u32)
}

/// Result type of the kit's emitters.
pub type Asm<T = ()> = Result<T, IcedError>;

impl Rom {
    /// Starts a ROM: emits the 32-bit start-up (tables, TSS, IDT) and prints `== name ==`.
    pub fn new(name: &str) -> Asm<Self> {
        let mut a = CodeAssembler::new(32)?;
        let labels = [(); 9].map(|_| a.create_label());
        let [puts, hex, handler, resume, exit, exit_fail, gdt_template, gdtr, idtr] = labels;
        let stubs = (0..32).map(|_| a.create_label()).collect();
        let mut rom = Self {
            a,
            strings: Vec::new(),
            puts,
            hex,
            handler,
            resume,
            exit,
            exit_fail,
            stubs,
            gdt_template,
            gdtr,
            idtr,
            fixups: Vec::new(),
        };
        rom.startup()?;
        rom.print(&format!("== {name} ==\n"))?;
        Ok(rom)
    }

    fn startup(&mut self) -> Asm {
        let (gdt_template, gdtr, idtr) = (self.gdt_template, self.gdtr, self.idtr);
        let a = &mut self.a;
        let mut reload = a.create_label();
        a.mov(eax, u32::from(DATA0))?;
        for s in [ds, es, fs, gs, ss] {
            a.mov(s, ax)?;
        }
        a.mov(esp, STACK0)?;
        // Clear the kit's RAM (tables, TSS, bitmaps, variables): 0x1000-0x6FFF.
        a.cld()?;
        a.xor(eax, eax)?;
        a.mov(edi, GDT)?;
        a.mov(ecx, (0x7000 - GDT) / 4)?;
        a.rep().stosd()?;
        // The GDT from its template in ROM, then GDTR and a CS reload.
        addr(a, &mut self.fixups, esi, gdt_template)?;
        a.mov(edi, GDT)?;
        a.mov(ecx, kit_gdt().len() as u32 * 2)?;
        a.rep().movsd()?;
        addr(a, &mut self.fixups, eax, gdtr)?;
        a.lgdt(ptr(eax))?;
        a.push(u32::from(CODE0))?;
        addr(a, &mut self.fixups, eax, reload)?;
        a.push(eax)?;
        a.retf()?;
        a.set_label(&mut reload)?;
        a.mov(eax, u32::from(DATA0))?;
        for s in [ds, es, fs, gs, ss] {
            a.mov(s, ax)?;
        }
        // IDT: the exception stubs and the resume gate.
        for v in 0..32u8 {
            let stub = self.stubs[usize::from(v)];
            self.set_idt_gate(v, CODE0, stub, access::INT_GATE32)?;
        }
        let resume = self.resume;
        self.set_idt_gate(
            RESUME_VECTOR,
            CODE0,
            resume,
            access::INT_GATE32 | access::dpl(3),
        )?;
        let a = &mut self.a;
        addr(a, &mut self.fixups, eax, idtr)?;
        a.lidt(ptr(eax))?;
        // TSS: ring stacks, I/O map base (redirection bitmap below it), bitmap terminator.
        for (off, v) in [
            (4, STACK0_TSS),
            (8, u32::from(DATA0)),
            (12, STACK1),
            (16, u32::from(DATA1 | 1)),
            (20, STACK2),
            (24, u32::from(DATA2 | 2)),
        ] {
            a.mov(dword_ptr(TSS + off), v)?;
        }
        a.mov(word_ptr(TSS + 0x66), IOMAP - TSS)?;
        a.mov(byte_ptr(IOMAP + 0x2000), 0xFFu32)?;
        a.mov(eax, u32::from(TSS_SEL))?;
        a.ltr(ax)?;
        Ok(())
    }

    /// Prints `s` (any text; no NUL).
    pub fn print(&mut self, s: &str) -> Asm {
        let l = self.string(s);
        let puts = self.puts;
        let a = &mut self.a;
        a.pushfd()?;
        a.pushad()?;
        addr(a, &mut self.fixups, esi, l)?;
        a.call(puts)?;
        a.popad()?;
        a.popfd()
    }

    fn string(&mut self, s: &str) -> CodeLabel {
        let l = self.a.create_label();
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.strings.push((l, v));
        l
    }

    /// Prints `name=XXXXXXXX ` with the value of `r` (not ESP).
    pub fn print_reg(&mut self, name: &str, r: AsmRegister32) -> Asm {
        self.print_value(&format!("{name}="), r, 8)?;
        self.print(" ")
    }

    /// Prints the low `digits` hex digits of `r` (not ESP).
    pub fn print_hex(&mut self, r: AsmRegister32, digits: u32) -> Asm {
        self.print_value("", r, digits)
    }

    fn print_value(&mut self, prefix: &str, r: AsmRegister32, digits: u32) -> Asm {
        let l = (!prefix.is_empty()).then(|| self.string(prefix));
        let (puts, hex) = (self.puts, self.hex);
        let a = &mut self.a;
        a.pushfd()?;
        a.pushad()?;
        a.push(r)?; // puts clobbers EAX and ESI
        if let Some(l) = l {
            addr(a, &mut self.fixups, esi, l)?;
            a.call(puts)?;
        }
        a.pop(eax)?;
        a.mov(ecx, digits)?;
        a.call(hex)?;
        a.popad()?;
        a.popfd()
    }

    /// Prints the 32-bit value at the flat address in `addr` as `name=XXXXXXXX `.
    pub fn print_mem32(&mut self, name: &str, addr: u32) -> Asm {
        self.a.push(eax)?;
        self.a.mov(eax, dword_ptr(addr))?;
        self.print_reg(name, eax)?;
        self.a.pop(eax)
    }

    /// Ends the line.
    pub fn newline(&mut self) -> Asm {
        self.print("\n")
    }

    /// Sets the recovery point to `after` with the current ESP (preserves registers).
    fn set_recovery(&mut self, after: CodeLabel) -> Asm {
        let a = &mut self.a;
        a.push(eax)?;
        addr(a, &mut self.fixups, eax, after)?;
        a.mov(dword_ptr(RESUME_EIP), eax)?;
        a.pop(eax)?;
        a.mov(dword_ptr(RESUME_ESP), esp)
    }

    /// Runs `body` at CPL 0 with a recovery point: an exception prints its `EXC` line and
    /// continues after the body; if the body ends without one, prints `no fault`.
    pub fn expect_fault(&mut self, body: impl FnOnce(&mut Self) -> Asm) -> Asm {
        let mut after = self.a.create_label();
        self.set_recovery(after)?;
        body(self)?;
        self.a.mov(dword_ptr(RESUME_EIP), 0u32)?;
        self.print("no fault\n")?;
        self.a.set_label(&mut after)?;
        self.a.zero_bytes()
    }

    /// Runs `body` at CPL `ring` (1-3) through an IRET, with DS/ES/FS/GS/SS = that ring's
    /// flat data selector, ESP = the ring's stack, and EFLAGS as now. The body ends with
    /// `int RESUME_VECTOR` (emitted by the kit) or at its first exception (which prints
    /// its `EXC` line); either way execution continues after it at CPL 0.
    pub fn in_ring(&mut self, ring: u8, body: impl FnOnce(&mut Self) -> Asm) -> Asm {
        let ring = ring & 3;
        let (code, data) = (
            CODE0 + 0x10 * u16::from(ring),
            DATA0 + 0x10 * u16::from(ring),
        );
        let stack = [STACK0, STACK1, STACK2, STACK3][usize::from(ring)];
        let mut after = self.a.create_label();
        let mut start = self.a.create_label();
        self.set_recovery(after)?;
        let a = &mut self.a;
        a.push(u32::from(data | u16::from(ring)))?;
        a.push(stack)?;
        a.pushfd()?;
        a.push(u32::from(code | u16::from(ring)))?;
        a.push(eax)?;
        addr(a, &mut self.fixups, eax, start)?;
        a.xchg(dword_ptr(esp), eax)?;
        a.iretd()?;
        a.set_label(&mut start)?;
        a.mov(eax, u32::from(data | u16::from(ring)))?;
        for s in [ds, es, fs, gs] {
            a.mov(s, ax)?;
        }
        body(self)?;
        self.a.int(u32::from(RESUME_VECTOR))?;
        self.a.set_label(&mut after)?;
        self.a.zero_bytes()
    }

    /// Emits stores that write an 8-byte descriptor (or gate) into GDT entry `sel`.
    pub fn set_gdt_entry(&mut self, sel: u16, desc: u64) -> Asm {
        self.store64(GDT + u32::from(sel & 0xFFF8), desc)
    }

    /// [`descriptor`] into GDT entry `sel`.
    pub fn set_descriptor(
        &mut self,
        sel: u16,
        base: u32,
        limit: u32,
        access: u8,
        flags: u8,
    ) -> Asm {
        self.set_gdt_entry(sel, descriptor(base, limit, access, flags))
    }

    /// Emits stores that write an 8-byte value at a flat address.
    pub fn store64(&mut self, addr: u32, v: u64) -> Asm {
        self.a.mov(dword_ptr(addr), v as u32)?;
        self.a.mov(dword_ptr(addr + 4), (v >> 32) as u32)
    }

    /// Emits code that writes a gate with the address of `target` into the table entry at
    /// flat address `entry` (an IDT slot, a GDT or LDT entry). Preserves registers.
    pub fn set_gate_to(
        &mut self,
        entry: u32,
        selector: u16,
        target: CodeLabel,
        access: u8,
        count: u8,
    ) -> Asm {
        self.set_gate_in(entry, selector, 0, target, access, count)
    }

    /// Like [`Self::set_gate_to`] for a target segment whose base is `seg_base`: the gate's
    /// offset is the label's address minus the base (16-bit gates need offsets below 64 KiB,
    /// e.g. in a segment based at [`ROM_BASE`]).
    pub fn set_gate_in(
        &mut self,
        entry: u32,
        selector: u16,
        seg_base: u32,
        target: CodeLabel,
        access: u8,
        count: u8,
    ) -> Asm {
        let a = &mut self.a;
        a.pushfd()?;
        a.push(eax)?;
        a.push(edx)?;
        addr(a, &mut self.fixups, eax, target)?;
        a.sub(eax, seg_base)?;
        // Low dword: selector:offset[15:0]; high dword: offset[31:16], access, count.
        a.mov(edx, eax)?;
        a.and(eax, 0xFFFFu32)?;
        a.or(eax, u32::from(selector) << 16)?;
        a.mov(dword_ptr(entry), eax)?;
        a.and(edx, 0xFFFF_0000u32)?;
        a.or(edx, u32::from(access) << 8 | u32::from(count & 0x1F))?;
        a.mov(dword_ptr(entry + 4), edx)?;
        a.pop(edx)?;
        a.pop(eax)?;
        a.popfd()
    }

    /// An IDT gate for `vector` to `target` (selector [`CODE0`] unless given).
    pub fn set_idt_gate(
        &mut self,
        vector: u8,
        selector: u16,
        target: CodeLabel,
        access: u8,
    ) -> Asm {
        self.set_gate_to(IDT + 8 * u32::from(vector), selector, target, access, 0)
    }

    /// Emits `mov r, imm32` with the flat address of `l` (set before or after this).
    pub fn address_of(&mut self, r: AsmRegister32, l: CodeLabel) -> Asm {
        addr(&mut self.a, &mut self.fixups, r, l)
    }

    /// Emits a jump to the current recovery point (as the kit's exception handler does
    /// after printing): for test handlers that end a case instead of returning.
    pub fn resume(&mut self) -> Asm {
        let l = self.resume;
        self.a.jmp(l)
    }

    /// A fresh label.
    pub fn label(&mut self) -> CodeLabel {
        self.a.create_label()
    }

    /// Finishes the ROM: prints `== end ==`, exits (port 0xF4 with 0, then "Shutdown" to
    /// 0x8900 for Bochs), emits the kit's routines and data, and returns the image.
    pub fn finish(mut self) -> Asm<Vec<u8>> {
        self.print("== end ==\n")?;
        let exit = self.exit;
        self.a.jmp(exit)?;
        self.emit_routines()?;
        self.emit_data()?;
        let res = self.a.assemble_options(
            u64::from(ROM_BASE),
            iced_x86::BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS,
        )?;
        let mut code = res.inner.code_buffer.clone();
        let offsets = &res.inner.new_instruction_offsets;
        // A labelled instruction carries its label's id as its IP (code_asm's convention).
        let labelled: std::collections::HashMap<u64, usize> = self
            .a
            .instructions()
            .iter()
            .enumerate()
            .filter(|(_, i)| i.ip() != 0)
            .map(|(n, i)| (i.ip(), n))
            .collect();
        for (index, label) in &self.fixups {
            let Some(&target) = labelled.get(&label_id(label)) else {
                // Never set: code_asm's own error says so.
                res.label_ip(label)?;
                continue;
            };
            let target = ROM_BASE + offsets[target];
            // `mov r32, imm32` is B8+r id: the immediate is bytes 1-4.
            let at = offsets[*index] as usize + 1;
            code[at..at + 4].copy_from_slice(&target.to_le_bytes());
        }
        let mut image = vec![0xFFu8; ROM_SIZE];
        assert!(
            code.len() <= BOOT_OFFSET,
            "ROM code too large: {} bytes",
            code.len()
        );
        image[..code.len()].copy_from_slice(&code);
        image[BOOT_OFFSET..BOOT_OFFSET + BOOT_STUB.len()].copy_from_slice(&BOOT_STUB);
        for (i, d) in [0, descriptor(0, 0xF_FFFF, access::CODE, FLAGS_32_PAGES)]
            .into_iter()
            .chain([descriptor(0, 0xF_FFFF, access::DATA, FLAGS_32_PAGES)])
            .enumerate()
        {
            let at = BOOT_GDT_OFFSET + 8 * i;
            image[at..at + 8].copy_from_slice(&d.to_le_bytes());
        }
        let gdtr = BOOT_GDTR_OFFSET;
        image[gdtr..gdtr + 2].copy_from_slice(&0x17u16.to_le_bytes());
        let boot_gdt = ROM_BASE + BOOT_GDT_OFFSET as u32;
        image[gdtr + 2..gdtr + 6].copy_from_slice(&boot_gdt.to_le_bytes());
        // jmp far F000:FF00
        let [lo, hi] = (BOOT_OFFSET as u16).to_le_bytes();
        image[RESET_OFFSET..RESET_OFFSET + 5].copy_from_slice(&[0xEA, lo, hi, 0x00, 0xF0]);
        Ok(image)
    }

    fn emit_routines(&mut self) -> Asm {
        // puts: prints the NUL-terminated string at CS:ESI (clobbers AL, ESI).
        let mut l = self.puts;
        let a = &mut self.a;
        let mut done = a.create_label();
        a.set_label(&mut l)?;
        a.db(&[0x2E, 0xAC])?; // cs lodsb
        a.test(al, al)?;
        a.jz(done)?;
        a.out(0xE9, al)?;
        a.jmp(l)?;
        a.set_label(&mut done)?;
        a.ret()?;
        // hex: prints the low ECX hex digits of EAX (clobbers ECX, EDX).
        let mut l = self.hex;
        let digit = l;
        let mut decimal = a.create_label();
        a.set_label(&mut l)?;
        a.dec(ecx)?;
        a.mov(edx, eax)?;
        a.push(ecx)?;
        a.shl(ecx, 2)?;
        a.shr(edx, cl)?;
        a.pop(ecx)?;
        a.and(edx, 0xFu32)?;
        a.add(dl, b'0' as u32)?;
        a.cmp(dl, b'9' as u32)?;
        a.jbe(decimal)?;
        a.add(dl, 7u32)?;
        a.set_label(&mut decimal)?;
        a.push(eax)?;
        a.mov(al, dl)?;
        a.out(0xE9, al)?;
        a.pop(eax)?;
        a.test(ecx, ecx)?;
        a.jnz(digit)?;
        a.ret()?;
        // Exception stubs: push a zero error code where the CPU pushes none, then the vector.
        let handler = self.handler;
        for v in 0..32u32 {
            let mut l = self.stubs[v as usize];
            self.a.set_label(&mut l)?;
            if ERROR_CODE_VECTORS & (1 << v) == 0 {
                self.a.push(0u32)?;
            }
            self.a.push(v)?;
            self.a.jmp(handler)?;
        }
        // The handler: [esp] vector, [esp+4] error code, [esp+8] EIP, [esp+12] CS.
        let mut l = self.handler;
        self.a.set_label(&mut l)?;
        self.a.mov(eax, u32::from(DATA0))?;
        self.a.mov(ds, ax)?;
        self.a.mov(es, ax)?;
        self.print("EXC ")?;
        self.a.mov(eax, dword_ptr(esp))?;
        self.print_hex(eax, 2)?;
        let mut no_err = self.label();
        let mut no_cr2 = self.label();
        let mut recover = self.label();
        self.a.mov(edx, ERROR_CODE_VECTORS)?;
        self.a.bt(edx, eax)?;
        self.a.jnc(no_err)?;
        self.print(" err=")?;
        self.a.mov(eax, dword_ptr(esp + 4))?;
        self.print_hex(eax, 4)?;
        self.a.set_label(&mut no_err)?;
        self.a.cmp(dword_ptr(esp), 14u32)?;
        self.a.jne(no_cr2)?;
        self.print(" cr2=")?;
        self.a.mov(eax, cr2)?;
        self.print_hex(eax, 8)?;
        self.a.set_label(&mut no_cr2)?;
        self.print(" cs=")?;
        self.a.mov(eax, dword_ptr(esp + 12))?;
        self.print_hex(eax, 4)?;
        self.a.cmp(dword_ptr(RESUME_EIP), 0u32)?;
        self.a.jne(recover)?;
        self.print(" unexpected\n")?;
        let exit_fail = self.exit_fail;
        self.a.jmp(exit_fail)?;
        self.a.set_label(&mut recover)?;
        self.print("\n")?;
        // Resume: flat ring-0 segments, the recovery ESP, then the recovery EIP (cleared).
        let mut l = self.resume;
        let a = &mut self.a;
        a.set_label(&mut l)?;
        a.mov(eax, u32::from(DATA0))?;
        for s in [ds, es, fs, gs, ss] {
            a.mov(s, ax)?;
        }
        a.mov(esp, dword_ptr(RESUME_ESP))?;
        a.push(dword_ptr(RESUME_EIP))?;
        a.mov(dword_ptr(RESUME_EIP), 0u32)?;
        a.ret()?;
        // Exits: status 0 (pass) or 1 (unexpected exception) through port 0xF4, then the
        // Bochs shutdown string to port 0x8900.
        let bye = self.string("Shutdown");
        let (mut ok, mut fail) = (self.exit, self.exit_fail);
        let a = &mut self.a;
        let mut shutdown = a.create_label();
        let mut top = a.create_label();
        let mut stop = a.create_label();
        a.set_label(&mut ok)?;
        a.mov(eax, 0u32)?;
        a.jmp(shutdown)?;
        a.set_label(&mut fail)?;
        a.mov(eax, 1u32)?;
        a.set_label(&mut shutdown)?;
        a.out(0xF4, al)?;
        addr(a, &mut self.fixups, esi, bye)?;
        a.mov(edx, 0x8900u32)?;
        a.set_label(&mut top)?;
        a.db(&[0x2E, 0xAC])?; // cs lodsb
        a.test(al, al)?;
        a.jz(stop)?;
        a.out(dx, al)?;
        a.jmp(top)?;
        a.set_label(&mut stop)?;
        a.cli()?;
        a.hlt()?;
        a.jmp(stop)
    }

    fn emit_data(&mut self) -> Asm {
        let strings = std::mem::take(&mut self.strings);
        for (mut l, bytes) in strings {
            self.a.set_label(&mut l)?;
            self.a.db(&bytes)?;
        }
        let mut l = self.gdtr;
        self.a.set_label(&mut l)?;
        self.a.dw(&[0x7FF])?;
        self.a.dd(&[GDT])?;
        let mut l = self.idtr;
        self.a.set_label(&mut l)?;
        self.a.dw(&[0x7FF])?;
        self.a.dd(&[IDT])?;
        let mut l = self.gdt_template;
        self.a.set_label(&mut l)?;
        let gdt: Vec<u8> = kit_gdt().iter().flat_map(|d| d.to_le_bytes()).collect();
        self.a.db(&gdt)
    }
}

/// The 16-bit boot stub at F000:FF00 (hand-assembled; real mode, CS base 0xF0000):
/// A20 on through port 0x92, `lgdt cs:[0xFFD0]` (32-bit operand), CR0.PE = 1, and
/// `jmp dword 0x08:0x000F0000`.
const BOOT_STUB: [u8; 32] = [
    0xFA, // cli
    0xE4, 0x92, // in al, 0x92
    0x0C, 0x02, // or al, 2 (A20)
    0x24, 0xFE, // and al, 0xFE (no reset)
    0xE6, 0x92, // out 0x92, al
    0x2E, 0x66, 0x0F, 0x01, 0x16, 0xD0, 0xFF, // o32 lgdt cs:[0xFFD0]
    0x0F, 0x20, 0xC0, // mov eax, cr0
    0x0C, 0x01, // or al, 1
    0x0F, 0x22, 0xC0, // mov cr0, eax
    0x66, 0xEA, 0x00, 0x00, 0x0F, 0x00, 0x08, 0x00, // jmp dword 0x08:0x000F0000
];
