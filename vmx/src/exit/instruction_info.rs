//! VM-exit instruction information (SDM §27.2.5, Tables 27-8 to 27-13).

/// Address size (bits 9:7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressSize {
    /// 0: 16-bit.
    Bits16,
    /// 1: 32-bit.
    Bits32,
    /// 2: 64-bit.
    Bits64,
    /// Undefined value (3-7).
    Undefined(u8),
}

impl AddressSize {
    const fn decode(v: u32) -> Self {
        match v & 7 {
            0 => Self::Bits16,
            1 => Self::Bits32,
            2 => Self::Bits64,
            x => Self::Undefined(x as u8),
        }
    }
    const fn encode(self) -> u32 {
        match self {
            Self::Bits16 => 0,
            Self::Bits32 => 1,
            Self::Bits64 => 2,
            Self::Undefined(x) => x as u32 & 7,
        }
    }
}

/// Segment register (bits 17:15): 0 ES, 1 CS, 2 SS, 3 DS, 4 FS, 5 GS.
pub type SegmentCode = u8;

/// Memory-operand description shared by Tables 27-9 to 27-13.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemoryOperand {
    /// Bits 1:0: scaling (0 none, 1 by 2, 2 by 4, 3 by 8).
    pub scaling: u8,
    /// Bits 9:7: address size.
    pub address_size: AddressSize,
    /// Bits 17:15: segment register.
    pub segment: SegmentCode,
    /// Bits 21:18: index register; `None` if invalid (bit 22).
    pub index: Option<u8>,
    /// Bits 26:23: base register; `None` if invalid (bit 27).
    pub base: Option<u8>,
}

impl MemoryOperand {
    const fn decode(v: u32) -> Self {
        Self {
            scaling: (v & 3) as u8,
            address_size: AddressSize::decode(v >> 7),
            segment: ((v >> 15) & 7) as u8,
            index: if v & (1 << 22) == 0 {
                Some(((v >> 18) & 0xF) as u8)
            } else {
                None
            },
            base: if v & (1 << 27) == 0 {
                Some(((v >> 23) & 0xF) as u8)
            } else {
                None
            },
        }
    }
    const fn encode(&self) -> u32 {
        let index = match self.index {
            Some(r) => (r as u32 & 0xF) << 18,
            None => 1 << 22,
        };
        let base = match self.base {
            Some(r) => (r as u32 & 0xF) << 23,
            None => 1 << 27,
        };
        (self.scaling as u32 & 3)
            | self.address_size.encode() << 7
            | (self.segment as u32 & 7) << 15
            | index
            | base
    }
}

/// Instruction information for VMCLEAR, VMPTRLD, VMPTRST, VMXON, VMREAD,
/// VMWRITE, INVEPT and INVVPID (Tables 27-12/27-13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VmxInstructionInfo {
    /// Bits 6:3: reg1 (VMREAD/VMWRITE register operand; undefined otherwise).
    pub reg1: u8,
    /// Bit 10: the operand is a register (true) or memory (false).
    pub register_operand: bool,
    /// Memory-operand fields (meaningful when `register_operand` is false).
    pub mem: MemoryOperand,
    /// Bits 31:28: reg2 (VMREAD/VMWRITE encoding register, INVEPT/INVVPID
    /// type register).
    pub reg2: u8,
}

impl VmxInstructionInfo {
    /// Decodes.
    pub const fn decode(v: u32) -> Self {
        Self {
            reg1: ((v >> 3) & 0xF) as u8,
            register_operand: v & (1 << 10) != 0,
            mem: MemoryOperand::decode(v),
            reg2: ((v >> 28) & 0xF) as u8,
        }
    }
    /// Encodes.
    pub const fn encode(&self) -> u32 {
        self.mem.encode()
            | (self.reg1 as u32 & 0xF) << 3
            | (self.register_operand as u32) << 10
            | (self.reg2 as u32 & 0xF) << 28
    }
}

/// Instruction identity for LGDT/LIDT/SGDT/SIDT (bits 29:28, Table 27-10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GdtrIdtrInstruction {
    /// 0: SGDT.
    Sgdt,
    /// 1: SIDT.
    Sidt,
    /// 2: LGDT.
    Lgdt,
    /// 3: LIDT.
    Lidt,
}

/// Instruction information for LGDT, LIDT, SGDT, SIDT (Table 27-10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GdtrIdtrInstructionInfo {
    /// Memory operand.
    pub mem: MemoryOperand,
    /// Bit 11: operand size (false 16-bit, true 32-bit).
    pub operand_size_32: bool,
    /// Bits 29:28: instruction identity.
    pub instruction: GdtrIdtrInstruction,
}

impl GdtrIdtrInstructionInfo {
    /// Decodes.
    pub const fn decode(v: u32) -> Self {
        Self {
            mem: MemoryOperand::decode(v),
            operand_size_32: v & (1 << 11) != 0,
            instruction: match (v >> 28) & 3 {
                0 => GdtrIdtrInstruction::Sgdt,
                1 => GdtrIdtrInstruction::Sidt,
                2 => GdtrIdtrInstruction::Lgdt,
                _ => GdtrIdtrInstruction::Lidt,
            },
        }
    }
    /// Encodes.
    pub const fn encode(&self) -> u32 {
        let id = match self.instruction {
            GdtrIdtrInstruction::Sgdt => 0u32,
            GdtrIdtrInstruction::Sidt => 1,
            GdtrIdtrInstruction::Lgdt => 2,
            GdtrIdtrInstruction::Lidt => 3,
        };
        self.mem.encode() | (self.operand_size_32 as u32) << 11 | id << 28
    }
}

/// Instruction identity for LLDT/LTR/SLDT/STR (bits 29:28, Table 27-11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LdtrTrInstruction {
    /// 0: SLDT.
    Sldt,
    /// 1: STR.
    Str,
    /// 2: LLDT.
    Lldt,
    /// 3: LTR.
    Ltr,
}

/// Instruction information for LLDT, LTR, SLDT, STR (Table 27-11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LdtrTrInstructionInfo {
    /// Bits 6:3: reg1 (register operand when bit 10 is set).
    pub reg1: u8,
    /// Bit 10: the operand is a register.
    pub register_operand: bool,
    /// Memory operand.
    pub mem: MemoryOperand,
    /// Bits 29:28: instruction identity.
    pub instruction: LdtrTrInstruction,
}

impl LdtrTrInstructionInfo {
    /// Decodes.
    pub const fn decode(v: u32) -> Self {
        Self {
            reg1: ((v >> 3) & 0xF) as u8,
            register_operand: v & (1 << 10) != 0,
            mem: MemoryOperand::decode(v),
            instruction: match (v >> 28) & 3 {
                0 => LdtrTrInstruction::Sldt,
                1 => LdtrTrInstruction::Str,
                2 => LdtrTrInstruction::Lldt,
                _ => LdtrTrInstruction::Ltr,
            },
        }
    }
    /// Encodes.
    pub const fn encode(&self) -> u32 {
        let id = match self.instruction {
            LdtrTrInstruction::Sldt => 0u32,
            LdtrTrInstruction::Str => 1,
            LdtrTrInstruction::Lldt => 2,
            LdtrTrInstruction::Ltr => 3,
        };
        self.mem.encode()
            | (self.reg1 as u32 & 0xF) << 3
            | (self.register_operand as u32) << 10
            | id << 28
    }
}

/// Instruction information for INS/OUTS (Table 27-8; reported only if
/// IA32_VMX_BASIC bit 54 is set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InsOutsInstructionInfo {
    /// Bits 9:7: address size.
    pub address_size: AddressSize,
    /// Bits 17:15: segment register (OUTS only).
    pub segment: SegmentCode,
}

impl InsOutsInstructionInfo {
    /// Decodes.
    pub const fn decode(v: u32) -> Self {
        Self {
            address_size: AddressSize::decode(v >> 7),
            segment: ((v >> 15) & 7) as u8,
        }
    }
    /// Encodes.
    pub const fn encode(&self) -> u32 {
        self.address_size.encode() << 7 | (self.segment as u32 & 7) << 15
    }
}
