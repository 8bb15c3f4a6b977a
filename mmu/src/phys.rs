//! The physical memory bus: RAM from 0, a BIOS-replacement ROM that ends at 0xFFFFF and
//! again at 0xFFFFFFFF (as QEMU `-bios` and Bochs `romimage:` place it), the A20 gate, and
//! unmapped space (reads return all ones, writes are dropped, as on a PC bus).
//!
//! The low copy of the ROM lives inside the RAM array with its 256-byte lines marked
//! read-only, so every read in RAM takes one path. Lines that hold decoded instructions are
//! marked `CODE`; a write to such a line bumps the line's generation so that the CPU's
//! decoded-instruction cache drops the stale entries (self-modifying code).

use crate::PhysAddr;
use thiserror::Error;

/// ROM images are a whole number of these (64 KiB).
pub const ROM_GRANULE: usize = 64 * 1024;
/// Largest ROM image accepted (256 KiB).
pub const MAX_ROM_SIZE: usize = 256 * 1024;
/// log2 of the self-modifying-code tracking granule (256 bytes).
pub const CODE_LINE_SHIFT: u32 = 8;

const LINE_CODE: u8 = 1;
const LINE_ROM: u8 = 2;
/// End (exclusive) of the low ROM window.
const LOW_ROM_END: u64 = 0x10_0000;
/// Smallest RAM that can hold the low ROM window and the real-mode address space.
const MIN_RAM: usize = 1 << 20;
/// Largest RAM: it must end below the high ROM window and leave room for it.
const MAX_RAM: usize = 3 << 30;

/// Errors of memory-map construction (bad user input, never guest behaviour).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MemError {
    #[error("ROM image is {0} bytes: its size must be a non-zero multiple of 64 KiB")]
    RomSizeNotGranular(usize),
    #[error("ROM image is {0} bytes: at most 256 KiB is supported")]
    RomTooLarge(usize),
    #[error("RAM of {0} bytes is too small: at least 1 MiB is needed")]
    RamTooSmall(usize),
    #[error("RAM of {0} bytes is too large: at most 3072 MiB is supported")]
    RamTooLarge(usize),
    #[error("{len} bytes at physical address {addr:#x} do not fit in RAM ({ram} bytes)")]
    OutsideRam { addr: u64, len: usize, ram: usize },
}

/// RAM, ROM and the A20 gate.
pub struct PhysMem {
    ram: Vec<u8>,
    rom: Vec<u8>,
    /// Physical address of the first byte of the high ROM copy (4 GiB - ROM size).
    rom_high_base: u64,
    /// Per 256-byte RAM line: `LINE_CODE`, `LINE_ROM`.
    line_flags: Vec<u8>,
    /// Per 256-byte RAM line: bumped whenever a `CODE` line is written.
    line_gen: Vec<u32>,
    /// All ones, or bit 20 clear while the A20 gate is disabled.
    a20_mask: u64,
    /// Set when a write hits a line holding decoded code.
    code_written: bool,
    /// Bumped whenever a line generation changes or the A20 gate toggles: while it is
    /// unchanged, every decoded copy that was valid is still valid (see [`Self::code_epoch`]).
    code_epoch: u64,
}

impl PhysMem {
    /// A memory bus with `ram_bytes` of zeroed RAM and no ROM.
    pub fn new(ram_bytes: usize) -> Result<Self, MemError> {
        if ram_bytes < MIN_RAM {
            return Err(MemError::RamTooSmall(ram_bytes));
        }
        if ram_bytes > MAX_RAM {
            return Err(MemError::RamTooLarge(ram_bytes));
        }
        let lines = ram_bytes.div_ceil(1 << CODE_LINE_SHIFT);
        Ok(Self {
            ram: vec![0; ram_bytes],
            rom: Vec::new(),
            rom_high_base: 1 << 32,
            line_flags: vec![0; lines],
            line_gen: vec![0; lines],
            a20_mask: u64::MAX,
            code_written: false,
            code_epoch: 0,
        })
    }

    /// Maps a BIOS-replacement image so that it ends at 0xFFFFF and at 0xFFFFFFFF.
    pub fn load_rom(&mut self, image: &[u8]) -> Result<(), MemError> {
        if image.is_empty() || !image.len().is_multiple_of(ROM_GRANULE) {
            return Err(MemError::RomSizeNotGranular(image.len()));
        }
        if image.len() > MAX_ROM_SIZE {
            return Err(MemError::RomTooLarge(image.len()));
        }
        self.rom = image.to_vec();
        self.rom_high_base = (1u64 << 32) - image.len() as u64;
        let low = (LOW_ROM_END as usize) - image.len();
        self.ram[low..LOW_ROM_END as usize].copy_from_slice(image);
        for line in (low >> CODE_LINE_SHIFT)..(LOW_ROM_END as usize >> CODE_LINE_SHIFT) {
            self.line_flags[line] = LINE_ROM;
        }
        Ok(())
    }

    /// Copies `bytes` into RAM at `addr` (loader use: ignores ROM protection, keeps the
    /// decoded-instruction cache coherent).
    pub fn load(&mut self, addr: PhysAddr, bytes: &[u8]) -> Result<(), MemError> {
        let start = addr.0 as usize;
        let end = start
            .checked_add(bytes.len())
            .filter(|&e| e <= self.ram.len());
        let Some(end) = end else {
            return Err(MemError::OutsideRam {
                addr: addr.0,
                len: bytes.len(),
                ram: self.ram.len(),
            });
        };
        self.ram[start..end].copy_from_slice(bytes);
        if !bytes.is_empty() {
            self.code_epoch += 1;
            for line in (start >> CODE_LINE_SHIFT)..=((end - 1) >> CODE_LINE_SHIFT) {
                self.line_gen[line] = self.line_gen[line].wrapping_add(1);
            }
        }
        Ok(())
    }

    /// RAM size in bytes.
    pub fn ram_size(&self) -> usize {
        self.ram.len()
    }

    /// Whether the A20 gate passes address bit 20.
    pub fn a20_enabled(&self) -> bool {
        self.a20_mask & (1 << 20) != 0
    }

    /// Opens or closes the A20 gate (port 0x92 bit 1, keyboard controller output port).
    pub fn set_a20(&mut self, enabled: bool) {
        if enabled != self.a20_enabled() {
            self.code_epoch += 1;
        }
        self.a20_mask = if enabled { u64::MAX } else { !(1u64 << 20) };
    }

    #[inline(always)]
    fn gate(&self, addr: PhysAddr) -> u64 {
        addr.0 & self.a20_mask
    }

    /// Reads one byte.
    #[inline(always)]
    pub fn read_u8(&self, addr: PhysAddr) -> u8 {
        let pa = self.gate(addr);
        match self.ram.get(pa as usize) {
            Some(&b) => b,
            None => self.read_u8_slow(pa),
        }
    }

    /// Reads a little-endian word (any alignment).
    #[inline(always)]
    pub fn read_u16(&self, addr: PhysAddr) -> u16 {
        let v = self.read_ram(addr, 2);
        v.unwrap_or_else(|| self.read_bytes_slow(addr, 2)) as u16
    }

    /// Reads a little-endian doubleword (any alignment).
    #[inline(always)]
    pub fn read_u32(&self, addr: PhysAddr) -> u32 {
        let v = self.read_ram(addr, 4);
        v.unwrap_or_else(|| self.read_bytes_slow(addr, 4))
    }

    /// Reads `size` (1, 2 or 4) bytes of RAM, little-endian; `None` (and nothing read)
    /// when any of them lies outside RAM: the caller then takes the general path. Free of
    /// calls, for the CPU's short access paths.
    #[inline(always)]
    pub fn read_ram(&self, addr: PhysAddr, size: u32) -> Option<u32> {
        let pa = self.gate(addr) as usize;
        let s = self.ram.get(pa..pa.wrapping_add(size as usize))?;
        Some(match *s {
            [a] => u32::from(a),
            [a, b] => u32::from(u16::from_le_bytes([a, b])),
            [a, b, c, d] => u32::from_le_bytes([a, b, c, d]),
            _ => return None,
        })
    }

    /// Writes `size` (1, 2 or 4) bytes of plain RAM (no ROM, no decoded code: their lines
    /// are flagged), little-endian; `false` (and nothing written) otherwise: the caller
    /// then takes the general path. Free of calls, for the CPU's short access paths.
    #[inline(always)]
    pub fn write_ram(&mut self, addr: PhysAddr, size: u32, v: u32) -> bool {
        if !(1..=4).contains(&size) {
            return false;
        }
        let pa = self.gate(addr) as usize;
        let last = pa.wrapping_add(size as usize - 1);
        let plain = |line: usize| self.line_flags.get(line) == Some(&0);
        if !(plain(pa >> CODE_LINE_SHIFT) && plain(last >> CODE_LINE_SHIFT)) {
            return false;
        }
        let Some(s) = self.ram.get_mut(pa..=last) else {
            return false;
        };
        let bytes = v.to_le_bytes();
        s.copy_from_slice(&bytes[..s.len()]);
        true
    }

    /// A multi-byte read that leaves RAM (ROM, unmapped space, the end of RAM): byte by
    /// byte, little-endian.
    #[cold]
    #[inline(never)]
    fn read_bytes_slow(&self, addr: PhysAddr, n: u64) -> u32 {
        (0..n).fold(0u32, |v, i| {
            v | u32::from(self.read_u8(PhysAddr(addr.0 + i))) << (8 * i)
        })
    }

    #[cold]
    fn read_u8_slow(&self, pa: u64) -> u8 {
        if pa >= self.rom_high_base {
            self.rom
                .get((pa - self.rom_high_base) as usize)
                .copied()
                .unwrap_or(0xFF)
        } else {
            0xFF
        }
    }

    /// Writes one byte.
    #[inline(always)]
    pub fn write_u8(&mut self, addr: PhysAddr, v: u8) {
        let pa = self.gate(addr) as usize;
        if let Some(&0) = self.line_flags.get(pa >> CODE_LINE_SHIFT) {
            self.ram[pa] = v;
        } else {
            self.write_u8_slow(pa, v);
        }
    }

    /// Writes a little-endian word (any alignment).
    #[inline(always)]
    pub fn write_u16(&mut self, addr: PhysAddr, v: u16) {
        if !self.write_ram(addr, 2, u32::from(v)) {
            self.write_bytes_slow(addr, &v.to_le_bytes());
        }
    }

    /// Writes a little-endian doubleword (any alignment).
    #[inline(always)]
    pub fn write_u32(&mut self, addr: PhysAddr, v: u32) {
        if !self.write_ram(addr, 4, v) {
            self.write_bytes_slow(addr, &v.to_le_bytes());
        }
    }

    /// A write that touches ROM, code lines or unmapped space: byte by byte.
    #[cold]
    #[inline(never)]
    fn write_bytes_slow(&mut self, addr: PhysAddr, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            self.write_u8(PhysAddr(addr.0 + i as u64), b);
        }
    }

    #[cold]
    fn write_u8_slow(&mut self, pa: usize, v: u8) {
        let line = pa >> CODE_LINE_SHIFT;
        let Some(flags) = self.line_flags.get_mut(line) else {
            return; // unmapped or ROM above RAM: the write is dropped
        };
        if *flags & LINE_ROM != 0 {
            return; // ROM: writes are dropped
        }
        if *flags & LINE_CODE != 0 {
            // An instruction decoded from the previous line may extend into this one.
            *flags &= !LINE_CODE;
            self.code_written = true;
            self.code_epoch += 1;
            self.line_gen[line] = self.line_gen[line].wrapping_add(1);
            if line > 0 {
                self.line_gen[line - 1] = self.line_gen[line - 1].wrapping_add(1);
            }
        }
        self.ram[pa] = v;
    }

    /// Records that `len` bytes at `addr` hold a decoded instruction and returns the
    /// generation the decoded copy must carry to stay valid (see [`Self::code_gen`]).
    #[inline]
    pub fn mark_code(&mut self, addr: PhysAddr, len: usize) -> u32 {
        let pa = self.gate(addr) as usize;
        let first = pa >> CODE_LINE_SHIFT;
        let last = pa.saturating_add(len.max(1) - 1) >> CODE_LINE_SHIFT;
        for line in first..=last {
            if let Some(f) = self.line_flags.get_mut(line) {
                if *f & LINE_ROM == 0 {
                    *f |= LINE_CODE;
                }
            }
        }
        self.code_gen(addr)
    }

    /// The current generation of the line holding `addr` (0 outside RAM: ROM never changes).
    #[inline(always)]
    pub fn code_gen(&self, addr: PhysAddr) -> u32 {
        let pa = self.gate(addr) as usize;
        self.line_gen
            .get(pa >> CODE_LINE_SHIFT)
            .copied()
            .unwrap_or(0)
    }

    /// Whether a write hit decoded code since the last [`Self::clear_code_written`].
    #[inline(always)]
    pub fn code_written(&self) -> bool {
        self.code_written
    }

    /// A counter that changes whenever any line generation ([`Self::code_gen`]) changes or
    /// the A20 gate toggles; it never decreases. A cache of lookups that depend only on
    /// generations and the A20 gate stays exact while it is unchanged.
    #[inline(always)]
    pub fn code_epoch(&self) -> u64 {
        self.code_epoch
    }

    /// Acknowledges [`Self::code_written`].
    #[inline(always)]
    pub fn clear_code_written(&mut self) {
        self.code_written = false;
    }

    /// Copies bytes out for debuggers and traces (no side effects).
    pub fn read_bytes(&self, addr: PhysAddr, out: &mut [u8]) {
        for (i, b) in out.iter_mut().enumerate() {
            *b = self.read_u8(PhysAddr(addr.0.wrapping_add(i as u64)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rom_is_mapped_twice_and_read_only() {
        let mut m = PhysMem::new(2 << 20).unwrap();
        let mut rom = vec![0u8; ROM_GRANULE];
        rom[0xFFF0] = 0xEA;
        rom[0] = 0x11;
        m.load_rom(&rom).unwrap();
        assert_eq!(m.read_u8(PhysAddr(0xFFFF_FFF0)), 0xEA);
        assert_eq!(m.read_u8(PhysAddr(0xFFFF0)), 0xEA);
        assert_eq!(m.read_u8(PhysAddr(0xF0000)), 0x11);
        m.write_u8(PhysAddr(0xF0000), 0x22);
        m.write_u32(PhysAddr(0xEFFFE), 0xAABB_CCDD);
        assert_eq!(m.read_u8(PhysAddr(0xF0000)), 0x11, "ROM must not change");
        assert_eq!(
            m.read_u16(PhysAddr(0xEFFFE)),
            0xCCDD,
            "RAM part of a straddling write lands"
        );
    }

    #[test]
    fn rom_size_rules() {
        let mut m = PhysMem::new(2 << 20).unwrap();
        assert_eq!(
            m.load_rom(&[0; 1000]),
            Err(MemError::RomSizeNotGranular(1000))
        );
        assert_eq!(
            m.load_rom(&vec![0; 5 * ROM_GRANULE]),
            Err(MemError::RomTooLarge(5 * ROM_GRANULE))
        );
        assert!(PhysMem::new(1000).is_err());
    }

    #[test]
    fn a20_gate_wraps_at_one_mib() {
        let mut m = PhysMem::new(4 << 20).unwrap();
        m.write_u8(PhysAddr(0x10), 0x5A);
        m.set_a20(false);
        assert_eq!(m.read_u8(PhysAddr(0x10_0010)), 0x5A);
        m.set_a20(true);
        assert_eq!(m.read_u8(PhysAddr(0x10_0010)), 0);
    }

    #[test]
    fn writes_to_code_lines_bump_the_generation() {
        let mut m = PhysMem::new(2 << 20).unwrap();
        let g = m.mark_code(PhysAddr(0x1000), 3);
        m.write_u8(PhysAddr(0x2000), 1);
        assert_eq!(m.code_gen(PhysAddr(0x1000)), g);
        m.write_u32(PhysAddr(0x1001), 7);
        assert_ne!(m.code_gen(PhysAddr(0x1000)), g);
        // A write to the next line invalidates instructions that may extend into it.
        let g = m.mark_code(PhysAddr(0x10FE), 4);
        m.write_u8(PhysAddr(0x1100), 9);
        assert_ne!(m.code_gen(PhysAddr(0x10FE)), g);
    }

    #[test]
    fn unmapped_reads_float_high() {
        let m = PhysMem::new(2 << 20).unwrap();
        assert_eq!(m.read_u32(PhysAddr(0x8000_0000)), 0xFFFF_FFFF);
        assert_eq!(m.read_u16(PhysAddr(0x1F_FFFF)), 0xFF00);
    }
}
