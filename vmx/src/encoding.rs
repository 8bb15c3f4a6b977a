//! Structure of a VMCS component encoding (SDM §24.11.2, Table 24-21).
//!
//! bit 0: access type (0 full, 1 high); bits 9:1: index; bits 11:10: type;
//! bit 12 reserved (0); bits 14:13: width; bits 31:15 reserved (0).

/// Width of a VMCS field (encoding bits 14:13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldWidth {
    /// 0: 16-bit.
    Bits16,
    /// 1: 64-bit (full and high access).
    Bits64,
    /// 2: 32-bit.
    Bits32,
    /// 3: natural width (32 bits on an IA-32 processor).
    Natural,
}

impl FieldWidth {
    /// Value of encoding bits 14:13.
    pub const fn code(self) -> u32 {
        match self {
            Self::Bits16 => 0,
            Self::Bits64 => 1,
            Self::Bits32 => 2,
            Self::Natural => 3,
        }
    }

    /// Decodes encoding bits 14:13 (only the low two bits of `code` are used).
    pub const fn from_code(code: u32) -> Self {
        match code & 3 {
            0 => Self::Bits16,
            1 => Self::Bits64,
            2 => Self::Bits32,
            _ => Self::Natural,
        }
    }

    /// Mask of the bits a field of this width holds on an IA-32 processor
    /// (natural width = 32 bits).
    pub const fn value_mask(self) -> u64 {
        match self {
            Self::Bits16 => 0xFFFF,
            Self::Bits64 => u64::MAX,
            Self::Bits32 | Self::Natural => 0xFFFF_FFFF,
        }
    }

    /// Bytes used by the field in the in-memory VMCS layout.
    pub const fn storage_bytes(self) -> u32 {
        match self {
            Self::Bits16 => 2,
            Self::Bits64 => 8,
            Self::Bits32 | Self::Natural => 4,
        }
    }
}

/// Type of a VMCS field (encoding bits 11:10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// 0: control.
    Control,
    /// 1: VM-exit information (read-only data).
    ReadOnlyData,
    /// 2: guest state.
    GuestState,
    /// 3: host state.
    HostState,
}

impl FieldKind {
    /// Value of encoding bits 11:10.
    pub const fn code(self) -> u32 {
        match self {
            Self::Control => 0,
            Self::ReadOnlyData => 1,
            Self::GuestState => 2,
            Self::HostState => 3,
        }
    }

    /// Decodes encoding bits 11:10 (only the low two bits of `code` are used).
    pub const fn from_code(code: u32) -> Self {
        match code & 3 {
            0 => Self::Control,
            1 => Self::ReadOnlyData,
            2 => Self::GuestState,
            _ => Self::HostState,
        }
    }
}

/// Access type of an encoding (bit 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessType {
    /// Full access (bit 0 = 0).
    Full,
    /// High access (bit 0 = 1): bits 63:32 of a 64-bit field.
    High,
}

/// A decoded VMCS component encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Encoding {
    /// Access type (bit 0).
    pub access: AccessType,
    /// Index (bits 9:1).
    pub index: u16,
    /// Type (bits 11:10).
    pub kind: FieldKind,
    /// Width (bits 14:13).
    pub width: FieldWidth,
}

/// Bits of an encoding that must be zero (bit 12 and bits 31:15).
pub const ENCODING_RESERVED_MASK: u32 = 0xFFFF_9000;

impl Encoding {
    /// Decodes a 32-bit encoding; `None` if a reserved bit is set.
    pub const fn decode(raw: u32) -> Option<Self> {
        if raw & ENCODING_RESERVED_MASK != 0 {
            return None;
        }
        Some(Self {
            access: if raw & 1 == 0 {
                AccessType::Full
            } else {
                AccessType::High
            },
            index: ((raw >> 1) & 0x1FF) as u16,
            kind: FieldKind::from_code(raw >> 10),
            width: FieldWidth::from_code(raw >> 13),
        })
    }

    /// Encodes back to the 32-bit form.
    pub const fn encode(self) -> u32 {
        let access = match self.access {
            AccessType::Full => 0,
            AccessType::High => 1,
        };
        access
            | ((self.index as u32 & 0x1FF) << 1)
            | (self.kind.code() << 10)
            | (self.width.code() << 13)
    }

    /// The encoding of the full-access form of the same field.
    pub const fn full(raw: u32) -> u32 {
        raw & !1
    }
}
