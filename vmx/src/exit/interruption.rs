//! Interruption-information formats (SDM Table 24-15 VM-entry
//! interruption information, Table 24-19 VM-exit interruption information,
//! Table 24-20 IDT-vectoring information).

/// Interruption type (bits 10:8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InterruptionType {
    /// 0: external interrupt.
    ExternalInterrupt,
    /// 1: reserved.
    Reserved,
    /// 2: non-maskable interrupt (NMI).
    Nmi,
    /// 3: hardware exception.
    HardwareException,
    /// 4: software interrupt (INT n).
    SoftwareInterrupt,
    /// 5: privileged software exception (INT1).
    PrivilegedSoftwareException,
    /// 6: software exception (INT3, INTO).
    SoftwareException,
    /// 7: other event (e.g. pending MTF VM exit).
    OtherEvent,
}

impl InterruptionType {
    /// Decodes bits 2:0 of `code`.
    pub const fn from_code(code: u32) -> Self {
        match code & 7 {
            0 => Self::ExternalInterrupt,
            1 => Self::Reserved,
            2 => Self::Nmi,
            3 => Self::HardwareException,
            4 => Self::SoftwareInterrupt,
            5 => Self::PrivilegedSoftwareException,
            6 => Self::SoftwareException,
            _ => Self::OtherEvent,
        }
    }

    /// The 3-bit code.
    pub const fn code(self) -> u32 {
        match self {
            Self::ExternalInterrupt => 0,
            Self::Reserved => 1,
            Self::Nmi => 2,
            Self::HardwareException => 3,
            Self::SoftwareInterrupt => 4,
            Self::PrivilegedSoftwareException => 5,
            Self::SoftwareException => 6,
            Self::OtherEvent => 7,
        }
    }

    /// Whether the event is a software event that needs an instruction
    /// length on injection (types 4, 5, 6).
    pub const fn is_software(self) -> bool {
        matches!(
            self,
            Self::SoftwareInterrupt | Self::PrivilegedSoftwareException | Self::SoftwareException
        )
    }
}

/// An interruption-information field (VM-entry interruption information,
/// VM-exit interruption information or IDT-vectoring information).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InterruptionInfo {
    /// Bits 7:0: vector.
    pub vector: u8,
    /// Bits 10:8: interruption type.
    pub kind: InterruptionType,
    /// Bit 11: deliver error code (entry) / error code valid (exit).
    pub error_code: bool,
    /// Bit 12: NMI unblocking due to IRET (exit information only; undefined
    /// in IDT-vectoring information).
    pub nmi_unblocking: bool,
    /// Bits 30:12 (entry) / 30:13 (exit): reserved bits as found.
    pub reserved: u32,
    /// Bit 31: valid.
    pub valid: bool,
}

impl InterruptionInfo {
    /// Mask of bits 30:13.
    pub const RESERVED_MASK: u32 = 0x7FFF_E000;

    /// A valid event.
    pub const fn new(vector: u8, kind: InterruptionType, error_code: bool) -> Self {
        Self {
            vector,
            kind,
            error_code,
            nmi_unblocking: false,
            reserved: 0,
            valid: true,
        }
    }

    /// Decodes a 32-bit field.
    pub const fn decode(v: u32) -> Self {
        Self {
            vector: v as u8,
            kind: InterruptionType::from_code(v >> 8),
            error_code: v & (1 << 11) != 0,
            nmi_unblocking: v & (1 << 12) != 0,
            reserved: v & Self::RESERVED_MASK,
            valid: v & (1 << 31) != 0,
        }
    }

    /// Encodes to the 32-bit field.
    pub const fn encode(&self) -> u32 {
        self.vector as u32
            | self.kind.code() << 8
            | (self.error_code as u32) << 11
            | (self.nmi_unblocking as u32) << 12
            | (self.reserved & Self::RESERVED_MASK)
            | (self.valid as u32) << 31
    }
}
