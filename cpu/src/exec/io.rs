//! Port I/O: the [`PortIo`] trait boards implement, IN/OUT, and the I/O permission check
//! (SDM Vol. 1 §19.5: CPL <= IOPL in protected mode; virtual-8086 mode and CPL > IOPL
//! consult the TSS I/O permission bitmap, §19.5.2).

use super::{Core, StopReason};
use crate::exception::Exception;
use crate::state::{gpr, SegAttrs};
use iced_x86::{Instruction, Mnemonic, OpKind};
use vtx32_mmu::PhysMem;

/// Width of a port access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IoSize {
    Byte = 1,
    Word = 2,
    Dword = 4,
}

impl IoSize {
    pub(crate) fn from_bytes(n: u32) -> Self {
        match n {
            1 => IoSize::Byte,
            2 => IoSize::Word,
            _ => IoSize::Dword,
        }
    }
}

/// What a port write asks of the processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoAction {
    Continue,
    /// End the run after this instruction retires.
    Stop,
    /// Reset the processor (port 0x92 bit 0, keyboard-controller pulse).
    Reset,
}

/// The board side of port I/O. `mem` is passed for devices that act on the memory bus
/// (the A20 gate, DMA).
pub trait PortIo {
    fn io_in(&mut self, port: u16, size: IoSize, mem: &mut PhysMem) -> u32;
    fn io_out(&mut self, port: u16, size: IoSize, value: u32, mem: &mut PhysMem) -> IoAction;
    /// The processor's cycle counter, given before each port access (for devices that
    /// count time, such as the interval timer).
    fn set_time(&mut self, _cycles: u64) {}
    /// The INTR input (SDM Vol. 3 §6.3): an interrupt controller requests service.
    fn intr(&mut self) -> bool {
        false
    }
    /// The interrupt-acknowledge cycle that follows a recognized INTR: the vector.
    fn inta(&mut self) -> u8 {
        0
    }
}

/// A board with nothing on its ports: reads float high, writes are ignored.
pub struct NoPorts;

impl PortIo for NoPorts {
    fn io_in(&mut self, _port: u16, size: IoSize, _mem: &mut PhysMem) -> u32 {
        super::operand::mask(size as u32)
    }
    fn io_out(&mut self, _port: u16, _size: IoSize, _value: u32, _mem: &mut PhysMem) -> IoAction {
        IoAction::Continue
    }
}

impl Core {
    /// Checks that `size` ports from `port` may be accessed (SDM Vol. 1 §19.5-19.5.2).
    pub(crate) fn check_io(&mut self, port: u16, size: u32) -> Result<(), Exception> {
        if !self.protected() || (!self.v86() && self.sregs.cpl <= self.iopl()) {
            return Ok(());
        }
        // The I/O permission bitmap of a 32-bit TSS.
        let tr = self.sregs.tr;
        let tss32 = tr.attrs.seg_type() & 8 != 0 && !tr.attrs.contains(SegAttrs::UNUSABLE);
        if !tss32 || tr.limit < 103 {
            return Err(Exception::gp(0));
        }
        let map = self.read_sys(tr.base.wrapping_add(102), 2)?;
        let byte = map + u32::from(port) / 8;
        if byte + 1 > tr.limit {
            return Err(Exception::gp(0));
        }
        let bits = self.read_sys(tr.base.wrapping_add(byte), 2)?;
        let need = ((1u32 << size) - 1) << (port % 8);
        if bits & need != 0 {
            return Err(Exception::gp(0));
        }
        Ok(())
    }

    /// Performs a port read after the permission check.
    pub(crate) fn port_in(
        &mut self,
        io: &mut dyn PortIo,
        port: u16,
        size: u32,
    ) -> Result<u32, Exception> {
        self.check_io(port, size)?;
        if self.dbg.data {
            self.note_io_access(port, size);
        }
        io.set_time(self.cycles);
        Ok(io.io_in(port, IoSize::from_bytes(size), &mut self.mem) & super::operand::mask(size))
    }

    /// Performs a port write after the permission check.
    pub(crate) fn port_out(
        &mut self,
        io: &mut dyn PortIo,
        port: u16,
        size: u32,
        v: u32,
    ) -> Result<(), Exception> {
        self.check_io(port, size)?;
        if self.dbg.data {
            self.note_io_access(port, size);
        }
        io.set_time(self.cycles);
        match io.io_out(
            port,
            IoSize::from_bytes(size),
            v & super::operand::mask(size),
            &mut self.mem,
        ) {
            IoAction::Continue => {}
            IoAction::Stop => self.stop = Some(StopReason::IoStop),
            IoAction::Reset => self.reset_pending = true,
        }
        // Leave the running block: the write may have changed the board (and A20).
        self.fetch_dirty = true;
        Ok(())
    }
}

/// IN AL/AX/EAX, imm8|DX and OUT imm8|DX, AL/AX/EAX.
pub(crate) fn in_out(c: &mut Core, io: &mut dyn PortIo, i: &Instruction) -> Result<(), Exception> {
    let (port_op, data_op) = if i.mnemonic() == Mnemonic::In {
        (1, 0)
    } else {
        (0, 1)
    };
    let port = if i.op_kind(port_op) == OpKind::Register {
        c.regs.gpr[gpr::EDX] as u16
    } else {
        u16::from(i.immediate8())
    };
    let size = i.op_register(data_op).size() as u32;
    if i.mnemonic() == Mnemonic::In {
        let v = c.port_in(io, port, size)?;
        c.set_reg(i.op0_register(), v);
    } else {
        let v = c.reg(i.op1_register());
        c.port_out(io, port, size, v)?;
    }
    Ok(())
}
