//! Building 64 KiB test ROMs at run time with iced `code_asm` (no external assembler), and
//! the small ROMs the tests use (hello world).
//!
//! Layout of a [`RomBuilder`] image (offsets inside the 64 KiB image, which the board maps
//! at physical 0xF0000 and at 0xFFFF0000):
//!
//! | offset | content |
//! |---|---|
//! | 0x0000-0x3FFF | 16-bit real-mode code (assembled at IP = offset, CS = 0xF000) |
//! | 0x4000-0xBFFF | 32-bit protected-mode code (assembled at 0xF0000 + offset, flat CS) |
//! | 0xC000-0xFFEF | data: strings, descriptor tables (see [`RomBuilder::data`]) |
//! | 0xFFF0 | reset vector: `jmp far 0F000h:entry` |

use iced_x86::code_asm::*;
use iced_x86::IcedError;

/// Size of the images built here.
pub const ROM_SIZE: usize = 64 * 1024;
/// Physical address of the image's low copy (and real-mode CS base).
pub const ROM_BASE: u32 = 0xF_0000;
/// Offset of the 16-bit code area.
pub const CODE16_OFFSET: u16 = 0x0000;
/// Offset of the 32-bit code area.
pub const CODE32_OFFSET: u16 = 0x4000;
/// Offset of the data area.
pub const DATA_OFFSET: u16 = 0xC000;
/// Offset of the reset vector.
pub const RESET_OFFSET: u16 = 0xFFF0;

/// A 64 KiB ROM image under construction.
pub struct RomBuilder {
    image: Vec<u8>,
    data_next: usize,
}

impl Default for RomBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl RomBuilder {
    /// An empty image (filled with 0xFF, as an erased flash part).
    pub fn new() -> Self {
        Self {
            image: vec![0xFF; ROM_SIZE],
            data_next: DATA_OFFSET as usize,
        }
    }

    /// Places `bytes` in the data area (4-byte aligned) and returns their offset in the
    /// image; the physical address is `ROM_BASE + offset`.
    pub fn data(&mut self, bytes: &[u8]) -> u16 {
        let at = self.data_next.next_multiple_of(4);
        let end = at + bytes.len();
        assert!(end <= RESET_OFFSET as usize, "ROM data area full");
        self.image[at..end].copy_from_slice(bytes);
        self.data_next = end;
        at as u16
    }

    /// Places a NUL-terminated string in the data area and returns its offset.
    pub fn string(&mut self, s: &str) -> u16 {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.data(&v)
    }

    /// Assembles 16-bit code into the 16-bit area (IP = offset in the image).
    pub fn code16(&mut self, a: &mut CodeAssembler) -> Result<(), IcedError> {
        let bytes = a.assemble(u64::from(CODE16_OFFSET))?;
        self.place(CODE16_OFFSET, CODE32_OFFSET, &bytes);
        Ok(())
    }

    /// Assembles 32-bit code into the 32-bit area (addresses are flat physical).
    pub fn code32(&mut self, a: &mut CodeAssembler) -> Result<(), IcedError> {
        let bytes = a.assemble(u64::from(ROM_BASE + u32::from(CODE32_OFFSET)))?;
        self.place(CODE32_OFFSET, DATA_OFFSET, &bytes);
        Ok(())
    }

    /// Like [`Self::code32`], and returns the flat addresses of `labels` (each must have
    /// been set).
    pub fn code32_labels(
        &mut self,
        a: &mut CodeAssembler,
        labels: &[CodeLabel],
    ) -> Result<std::collections::HashMap<CodeLabel, u32>, IcedError> {
        let r = a.assemble_options(
            u64::from(ROM_BASE + u32::from(CODE32_OFFSET)),
            iced_x86::BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS,
        )?;
        let mut map = std::collections::HashMap::new();
        for l in labels {
            map.insert(*l, r.label_ip(l)? as u32);
        }
        let bytes = r.inner.code_buffer;
        self.place(CODE32_OFFSET, DATA_OFFSET, &bytes);
        Ok(map)
    }

    /// Assembles 32-bit code at image offset `start` (flat address `ROM_BASE + start`),
    /// which must lie in the 32-bit area and end before `end`; returns the flat addresses of
    /// `labels`. For code kept apart from the rest, e.g. on its own 4 KiB page.
    pub fn code32_at(
        &mut self,
        start: u16,
        end: u16,
        a: &mut CodeAssembler,
        labels: &[CodeLabel],
    ) -> Result<std::collections::HashMap<CodeLabel, u32>, IcedError> {
        assert!(CODE32_OFFSET <= start && start <= end && end <= DATA_OFFSET);
        let r = a.assemble_options(
            u64::from(rom_addr(start)),
            iced_x86::BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS,
        )?;
        let mut map = std::collections::HashMap::new();
        for l in labels {
            map.insert(*l, r.label_ip(l)? as u32);
        }
        self.place(start, end, &r.inner.code_buffer);
        Ok(map)
    }

    fn place(&mut self, start: u16, end: u16, bytes: &[u8]) {
        let (s, e) = (start as usize, end as usize);
        assert!(s + bytes.len() <= e, "ROM code area overflows");
        self.image[s..s + bytes.len()].copy_from_slice(bytes);
    }

    /// Writes the reset vector (`jmp far 0F000h:entry16`) and returns the image.
    pub fn finish(mut self, entry16: u16) -> Vec<u8> {
        let r = RESET_OFFSET as usize;
        let [lo, hi] = entry16.to_le_bytes();
        self.image[r..r + 5].copy_from_slice(&[0xEA, lo, hi, 0x00, 0xF0]);
        self.image
    }
}

/// Physical address of data placed at `offset` in a ROM image.
pub fn rom_addr(offset: u16) -> u32 {
    ROM_BASE + u32::from(offset)
}

/// A ROM whose 16-bit code (built by `build`, starting at the reset jump's target
/// F000:0000) runs in real mode from reset. `build` gets the builder to place data.
pub fn rom16(
    build: impl FnOnce(&mut CodeAssembler, &mut RomBuilder) -> Result<(), IcedError>,
) -> Result<Vec<u8>, IcedError> {
    let mut rom = RomBuilder::new();
    let mut a = CodeAssembler::new(16)?;
    build(&mut a, &mut rom)?;
    rom.code16(&mut a)?;
    Ok(rom.finish(CODE16_OFFSET))
}

/// Emits code that writes the NUL-terminated string at DS:`offset` to port 0xE9
/// (clobbers AL and SI).
pub fn emit_puts16(a: &mut CodeAssembler, offset: u16) -> Result<(), IcedError> {
    a.mov(si, offset as u32)?;
    emit_out_string(a, Some(0xE9))
}

/// Emits a loop that writes the NUL-terminated string at DS:SI (16-bit code) or flat ESI
/// (32-bit code) to port `port`, or to port DX if `None`; SI/ESI ends at the NUL.
/// Clobbers AL.
fn emit_out_string(a: &mut CodeAssembler, port: Option<u8>) -> Result<(), IcedError> {
    let wide = a.bitness() == 32;
    let mut top = a.create_label();
    let mut done = a.create_label();
    a.set_label(&mut top)?;
    if wide {
        a.mov(al, byte_ptr(esi))?;
    } else {
        a.mov(al, byte_ptr(si))?;
    }
    a.test(al, al)?;
    a.jz(done)?;
    match port {
        Some(p) => a.out(u32::from(p), al)?,
        None => a.out(dx, al)?,
    }
    if wide {
        a.inc(esi)?;
    } else {
        a.inc(si)?;
    }
    a.jmp(top)?;
    a.set_label(&mut done)
}

/// Emits the 32-bit subroutine `puts` at `label`: writes the NUL-terminated string at flat
/// ESI to port 0xE9 (registers preserved). Call it with [`emit_say32`].
pub fn emit_puts32(a: &mut CodeAssembler, label: &mut CodeLabel) -> Result<(), IcedError> {
    let mut top = a.create_label();
    let mut done = a.create_label();
    a.set_label(label)?;
    a.push(eax)?;
    a.push(esi)?;
    a.set_label(&mut top)?;
    a.mov(al, byte_ptr(esi))?;
    a.inc(esi)?;
    a.test(al, al)?;
    a.jz(done)?;
    a.out(0xE9, al)?;
    a.jmp(top)?;
    a.set_label(&mut done)?;
    a.pop(esi)?;
    a.pop(eax)?;
    a.ret()
}

/// Emits the 32-bit subroutine `hexn` at `label`: prints the low ECX (1-8) hex digits of
/// EAX, most significant first, through the 16-byte digit table at flat address `hex`
/// (registers preserved). It rotates with ADD+ADC only. Call it with [`emit_print_hex32`].
pub fn emit_hexn32(
    a: &mut CodeAssembler,
    label: &mut CodeLabel,
    hex: u32,
) -> Result<(), IcedError> {
    // Rotates `r` left by 4.
    fn rol4(a: &mut CodeAssembler, r: AsmRegister32) -> Result<(), IcedError> {
        for _ in 0..4 {
            a.add(r, r)?;
            a.adc(r, 0)?;
        }
        Ok(())
    }
    let mut skip = a.create_label();
    let mut digit = a.create_label();
    a.set_label(label)?;
    a.push(eax)?;
    a.push(ebx)?;
    a.push(ecx)?;
    a.push(edx)?;
    a.mov(edx, eax)?;
    // Skip the 8 - ECX digits not printed.
    a.mov(ebx, 8)?;
    a.sub(ebx, ecx)?;
    a.set_label(&mut skip)?;
    a.test(ebx, ebx)?;
    a.jz(digit)?;
    rol4(a, edx)?;
    a.dec(ebx)?;
    a.jmp(skip)?;
    a.set_label(&mut digit)?;
    rol4(a, edx)?;
    a.mov(ebx, edx)?;
    a.and(ebx, 0xF)?;
    a.mov(al, byte_ptr(ebx + hex))?;
    a.out(0xE9, al)?;
    a.dec(ecx)?;
    a.jnz(digit)?;
    a.pop(edx)?;
    a.pop(ecx)?;
    a.pop(ebx)?;
    a.pop(eax)?;
    a.ret()
}

/// A 32-bit assembly context for ROMs built in two passes ([`two_pass`]) that print
/// through port 0xE9: the assembler, the ROM (strings, data), the labels of the `puts`
/// ([`emit_puts32`]) and `hexn` ([`emit_hexn32`]) subroutines, and the label addresses.
pub struct Code32<'a> {
    pub a: &'a mut CodeAssembler,
    pub rom: &'a mut RomBuilder,
    /// Offset of the 16-byte hex digit table in the image.
    pub hex: u16,
    pub puts: CodeLabel,
    pub hexn: CodeLabel,
    /// The common exception handler, where each stub jumps.
    pub common: CodeLabel,
    /// The per-vector exception stubs: vectors 0-31 and one more (a software interrupt).
    pub stubs: Vec<(u8, CodeLabel)>,
    /// Label addresses from the previous pass.
    pub addrs: LabelAddrs,
    /// Labels whose addresses are taken, as placed in this pass.
    pub placed: Vec<CodeLabel>,
}

/// Implements `Deref` and `DerefMut` to its [`Code32`] field `c` for a context type `$t<'a>`.
macro_rules! deref_code32 {
    ($t:ident) => {
        impl<'a> std::ops::Deref for $t<'a> {
            type Target = $crate::roms::Code32<'a>;
            fn deref(&self) -> &Self::Target {
                &self.c
            }
        }
        impl std::ops::DerefMut for $t<'_> {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.c
            }
        }
    };
}
pub(crate) use deref_code32;

impl<'a> Code32<'a> {
    /// A context whose digit table is at image offset `hex` (`b"0123456789abcdef"`), with
    /// exception stubs for vectors 0-31 and `soft_vector`.
    pub fn new(
        a: &'a mut CodeAssembler,
        rom: &'a mut RomBuilder,
        hex: u16,
        addrs: LabelAddrs,
        soft_vector: u8,
    ) -> Self {
        let puts = a.create_label();
        let hexn = a.create_label();
        let common = a.create_label();
        let stubs = (0u8..32)
            .chain([soft_vector])
            .map(|v| (v, a.create_label()))
            .collect();
        Self {
            a,
            rom,
            hex,
            puts,
            hexn,
            common,
            stubs,
            addrs,
            placed: Vec::new(),
        }
    }

    /// The address of `l` from the previous pass (0 in the first).
    pub fn addr(&self, l: CodeLabel) -> u32 {
        label_addr(&self.addrs, l)
    }

    /// Sets a label whose address code loads.
    pub fn place(&mut self, l: &mut CodeLabel) -> Result<(), IcedError> {
        self.a.set_label(l)?;
        self.placed.push(*l);
        Ok(())
    }

    /// Prints `s` (ESI = its flat address; registers preserved).
    pub fn say(&mut self, s: &str) -> Result<(), IcedError> {
        let off = self.rom.string(s);
        self.a.push(esi)?;
        self.a.mov(esi, rom_addr(off))?;
        self.a.call(self.puts)?;
        self.a.pop(esi)
    }

    /// Prints EAX as `digits` hex digits (registers preserved).
    pub fn print_hex(&mut self, digits: u32) -> Result<(), IcedError> {
        self.a.push(ecx)?;
        self.a.mov(ecx, digits)?;
        self.a.call(self.hexn)?;
        self.a.pop(ecx)
    }

    /// Emits the `puts` and `hexn` subroutines.
    pub fn print_subroutines(&mut self) -> Result<(), IcedError> {
        emit_puts32(self.a, &mut self.puts)?;
        emit_hexn32(self.a, &mut self.hexn, rom_addr(self.hex))
    }

    /// Emits the exception stubs (each placed): a zero error code pushed unless the vector
    /// is in `has_error_code`, then the vector, then a jump to `common` (not emitted here).
    pub fn exception_stubs(&mut self, has_error_code: &[u8]) -> Result<(), IcedError> {
        let stubs = std::mem::take(&mut self.stubs);
        for (v, mut l) in stubs.iter().copied() {
            self.place(&mut l)?;
            if !has_error_code.contains(&v) {
                self.a.push(0)?;
            }
            self.a.push(u32::from(v))?;
            self.a.jmp(self.common)?;
        }
        self.stubs = stubs;
        Ok(())
    }
}

/// Emits the usual first real-mode instructions after reset: CLI; CLD; SS = ES = 0,
/// SP = 0x7000; DS = 0xF000 (the ROM). Clobbers AX.
pub fn emit_reset_setup16(a: &mut CodeAssembler) -> Result<(), IcedError> {
    a.cli()?;
    a.cld()?;
    a.xor(ax, ax)?;
    a.mov(ss, ax)?;
    a.mov(es, ax)?;
    a.mov(sp, 0x7000u32)?;
    a.mov(ax, 0xF000u32)?;
    a.mov(ds, ax)
}

/// Emits 32-bit code that loads the data selector `sel` into DS, ES, SS, FS and GS and
/// sets ESP to `stack`. Clobbers AX.
pub fn emit_flat_segments32(a: &mut CodeAssembler, sel: u16, stack: u32) -> Result<(), IcedError> {
    a.mov(ax, u32::from(sel))?;
    a.mov(ds, ax)?;
    a.mov(es, ax)?;
    a.mov(ss, ax)?;
    a.mov(fs, ax)?;
    a.mov(gs, ax)?;
    a.mov(esp, stack)
}

/// Emits 32-bit code that writes "Shutdown" (placed in `rom`'s data area) to port 0x8900,
/// which ends a Bochs run, then halts for good (CLI, then HLT in a loop). Clobbers AL, DX,
/// ESI.
pub fn emit_bochs_shutdown32(a: &mut CodeAssembler, rom: &mut RomBuilder) -> Result<(), IcedError> {
    let bye = rom_addr(rom.string("Shutdown"));
    let mut halt = a.create_label();
    a.mov(dx, 0x8900u32)?;
    a.mov(esi, bye)?;
    emit_out_string(a, None)?;
    a.cli()?;
    a.set_label(&mut halt)?;
    a.hlt()?;
    a.jmp(halt)
}

/// Flat addresses of the 32-bit code's labels that code loads as values (IDT gates,
/// recovery points). 32-bit `code_asm` has no label-valued operands, so such a ROM is
/// assembled twice ([`two_pass`]): the first pass finds the addresses, the second uses
/// them. Every use must be a `mov r32, imm32` or `mov m32, imm32`, whose size does not
/// depend on the value, so that the layout is the same in both passes.
pub type LabelAddrs = std::collections::HashMap<CodeLabel, u32>;

/// The address of `l` from the previous pass (0 in the first).
pub fn label_addr(addrs: &LabelAddrs, l: CodeLabel) -> u32 {
    addrs.get(&l).copied().unwrap_or(0)
}

/// Builds a ROM in two passes (see [`LabelAddrs`]): `build` gets the label addresses of
/// the previous pass and returns the image and the addresses it placed. Panics, naming
/// `what`, if it does not assemble or the layout differs between the passes.
pub fn two_pass(
    what: &str,
    build: impl Fn(&LabelAddrs) -> Result<(Vec<u8>, LabelAddrs), IcedError>,
) -> Vec<u8> {
    let assemble =
        |addrs: &LabelAddrs| build(addrs).unwrap_or_else(|e| panic!("{what} assembles: {e:?}"));
    let (_, first) = assemble(&LabelAddrs::new());
    let (image, second) = assemble(&first);
    assert_eq!(first, second, "{what} layout differs between passes");
    image
}

/// The hello-world ROM: prints `text` through port 0xE9 and writes `exit_code` to the
/// debug-exit port 0xF4 (host exit status `(exit_code << 1) | 1`); under emulators without
/// that port it then writes "Shutdown" to 0x8900 and halts.
pub fn hello_rom(text: &str, exit_code: u8) -> Vec<u8> {
    rom16(|a, rom| {
        let msg = rom.string(text);
        let bye = rom.string("Shutdown");
        a.mov(ax, 0xF000u32)?;
        a.mov(ds, ax)?;
        emit_puts16(a, msg)?;
        a.mov(al, exit_code as u32)?;
        a.out(0xF4, al)?;
        // Bochs way: the string "Shutdown" to port 0x8900.
        a.mov(dx, 0x8900u32)?;
        a.mov(si, bye as u32)?;
        emit_out_string(a, None)?;
        a.cli()?;
        a.hlt()?;
        Ok(())
    })
    .expect("the hello ROM assembles")
}
