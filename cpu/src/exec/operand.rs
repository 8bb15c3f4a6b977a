//! Operand access: registers by iced `Register`, effective addresses for every 16- and
//! 32-bit addressing form (SDM Vol. 2 §2.1.5), and reads/writes of an operand by index.

use super::Core;
use crate::exception::Exception;
use crate::state::SegReg;
use iced_x86::{Instruction, OpKind, Register};

/// Register table entry: bits 2:0 GPR index, bits 4:3 view (0 = 32-bit, 1 = 16-bit,
/// 2 = low byte, 3 = high byte), bit 7 = not a general register.
const NOT_GPR: u8 = 0x80;

const fn build_reg_table() -> [u8; 256] {
    let mut t = [NOT_GPR; 256];
    let r32 = [
        Register::EAX,
        Register::ECX,
        Register::EDX,
        Register::EBX,
        Register::ESP,
        Register::EBP,
        Register::ESI,
        Register::EDI,
    ];
    let r16 = [
        Register::AX,
        Register::CX,
        Register::DX,
        Register::BX,
        Register::SP,
        Register::BP,
        Register::SI,
        Register::DI,
    ];
    let r8 = [
        Register::AL,
        Register::CL,
        Register::DL,
        Register::BL,
        Register::AH,
        Register::CH,
        Register::DH,
        Register::BH,
    ];
    let mut i = 0;
    while i < 8 {
        t[r32[i] as usize] = i as u8;
        t[r16[i] as usize] = (1 << 3) | i as u8;
        t[r8[i] as usize] = if i < 4 {
            (2 << 3) | i as u8
        } else {
            (3 << 3) | (i as u8 - 4)
        };
        i += 1;
    }
    t
}

static REG_TABLE: [u8; 256] = build_reg_table();

/// Operand size in bytes from an iced register or memory size.
#[inline(always)]
pub(crate) fn mask(size: u32) -> u32 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => 0xFFFF_FFFF,
    }
}

/// Sign bit of a value of `size` bytes.
#[inline(always)]
pub(crate) fn sign_bit(size: u32) -> u32 {
    1u32 << (size * 8 - 1)
}

/// Sign-extends the low `size` bytes of `v`.
#[inline(always)]
pub(crate) fn sext(v: u32, size: u32) -> u32 {
    match size {
        1 => v as u8 as i8 as i32 as u32,
        2 => v as u16 as i16 as i32 as u32,
        _ => v,
    }
}

/// Segment register from an iced register.
#[inline]
pub(crate) fn seg_of(r: Register) -> SegReg {
    match r {
        Register::ES => SegReg::Es,
        Register::CS => SegReg::Cs,
        Register::SS => SegReg::Ss,
        Register::FS => SegReg::Fs,
        Register::GS => SegReg::Gs,
        _ => SegReg::Ds,
    }
}

impl Core {
    /// Reads a general register (any view).
    #[inline(always)]
    pub(crate) fn reg(&self, r: Register) -> u32 {
        let e = REG_TABLE[r as usize & 0xFF];
        let v = self.regs.gpr[(e & 7) as usize];
        match (e >> 3) & 0x13 {
            0 => v,
            1 => v & 0xFFFF,
            2 => v & 0xFF,
            3 => (v >> 8) & 0xFF,
            _ => self.sreg_value(r),
        }
    }

    #[cold]
    fn sreg_value(&self, r: Register) -> u32 {
        if r.is_segment_register() {
            u32::from(self.sregs.seg[seg_of(r) as usize].selector)
        } else {
            0
        }
    }

    /// Writes a general register (any view; 8- and 16-bit views merge).
    #[inline(always)]
    pub(crate) fn set_reg(&mut self, r: Register, v: u32) {
        let e = REG_TABLE[r as usize & 0xFF];
        if e & NOT_GPR != 0 {
            return;
        }
        let g = &mut self.regs.gpr[(e & 7) as usize];
        *g = match e >> 3 {
            0 => v,
            1 => (*g & 0xFFFF_0000) | (v & 0xFFFF),
            2 => (*g & 0xFFFF_FF00) | (v & 0xFF),
            _ => (*g & 0xFFFF_00FF) | ((v & 0xFF) << 8),
        };
    }

    /// Effective address (offset within the segment) of the memory operand. 16-bit
    /// addressing wraps at 64 KiB (SDM Vol. 2 Table 2-1).
    #[inline(always)]
    pub(crate) fn ea(&self, i: &Instruction) -> u32 {
        let mut a = i.memory_displacement32();
        let base = i.memory_base();
        if base != Register::None {
            a = a.wrapping_add(self.reg(base));
        }
        let index = i.memory_index();
        if index != Register::None {
            a = a.wrapping_add(self.reg(index) << (i.memory_index_scale().trailing_zeros()));
        }
        if i.memory_displ_size() == 2
            || (base != Register::None && self.addr16_base(base))
            || (index != Register::None && self.addr16_base(index))
        {
            a &= 0xFFFF;
        }
        a
    }

    #[inline(always)]
    fn addr16_base(&self, r: Register) -> bool {
        (REG_TABLE[r as usize & 0xFF] >> 3) & 3 == 1
    }

    /// Segment of the memory operand (default by base register, or the override).
    #[inline(always)]
    pub(crate) fn mem_seg(i: &Instruction) -> SegReg {
        seg_of(i.memory_segment())
    }

    /// Operand size in bytes of operand `n`.
    #[inline(always)]
    pub(crate) fn op_size(i: &Instruction, n: u32) -> u32 {
        match i.op_kind(n) {
            OpKind::Register => i.op_register(n).size() as u32,
            OpKind::Memory => i.memory_size().size() as u32,
            OpKind::Immediate8 | OpKind::Immediate8_2nd => 1,
            OpKind::Immediate16 | OpKind::Immediate8to16 => 2,
            _ => 4,
        }
    }

    /// Reads operand `n` (register, memory or immediate) as `size` bytes.
    #[inline(always)]
    pub(crate) fn read_op(&mut self, i: &Instruction, n: u32, size: u32) -> Result<u32, Exception> {
        match i.op_kind(n) {
            OpKind::Register => Ok(self.reg(i.op_register(n))),
            OpKind::Memory => {
                let off = self.ea(i);
                self.read_mem(Self::mem_seg(i), off, size)
            }
            OpKind::Immediate8 => Ok(u32::from(i.immediate8())),
            OpKind::Immediate8_2nd => Ok(u32::from(i.immediate8_2nd())),
            OpKind::Immediate16 => Ok(u32::from(i.immediate16())),
            OpKind::Immediate32 => Ok(i.immediate32()),
            OpKind::Immediate8to16 => Ok(i.immediate8to16() as u16 as u32),
            OpKind::Immediate8to32 => Ok(i.immediate8to32() as u32),
            _ => Ok(i.immediate(n) as u32),
        }
    }

    /// Reads operand `n` as the destination of a read-modify-write instruction (memory is
    /// checked and translated for writing first: see `Core::read_rmw`).
    #[inline(always)]
    pub(crate) fn read_op_rmw(
        &mut self,
        i: &Instruction,
        n: u32,
        size: u32,
    ) -> Result<u32, Exception> {
        if i.op_kind(n) == OpKind::Memory {
            let off = self.ea(i);
            return self.read_rmw(Self::mem_seg(i), off, size);
        }
        self.read_op(i, n, size)
    }

    /// Writes operand `n` (register or memory) with `size` bytes.
    #[inline(always)]
    pub(crate) fn write_op(
        &mut self,
        i: &Instruction,
        n: u32,
        size: u32,
        v: u32,
    ) -> Result<(), Exception> {
        match i.op_kind(n) {
            OpKind::Register => {
                self.set_reg(i.op_register(n), v);
                Ok(())
            }
            _ => {
                let off = self.ea(i);
                self.write_mem(Self::mem_seg(i), off, size, v)
            }
        }
    }

    /// Checks that operand `n` could be written (memory: segment and page checks), so that an
    /// instruction can read it, compute, and write without a half-done state on a fault.
    #[inline(always)]
    pub(crate) fn probe_op_write(
        &mut self,
        i: &Instruction,
        n: u32,
        size: u32,
    ) -> Result<(), Exception> {
        if i.op_kind(n) == OpKind::Memory {
            let off = self.ea(i);
            self.probe_write(Self::mem_seg(i), off, size)?;
        }
        Ok(())
    }
}
