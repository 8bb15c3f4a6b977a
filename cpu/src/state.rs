//! Architectural register state, grouped as kvm does: general registers (`Regs`), system
//! registers with segment descriptor caches (`SRegs`). SDM Vol. 3 §2.3-2.5, §3.4.

use bitflags::bitflags;

bitflags! {
    /// EFLAGS (SDM Vol. 1 §3.4.3, Vol. 3 §2.3).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Eflags: u32 {
        const CF = 1 << 0;
        /// Bit 1 is reserved and always reads as 1.
        const FIXED1 = 1 << 1;
        const PF = 1 << 2;
        const AF = 1 << 4;
        const ZF = 1 << 6;
        const SF = 1 << 7;
        const TF = 1 << 8;
        const IF = 1 << 9;
        const DF = 1 << 10;
        const OF = 1 << 11;
        const IOPL = 3 << 12;
        const NT = 1 << 14;
        const RF = 1 << 16;
        const VM = 1 << 17;
        const AC = 1 << 18;
        const VIF = 1 << 19;
        const VIP = 1 << 20;
        const ID = 1 << 21;
    }
}

impl Eflags {
    /// The six arithmetic status flags.
    pub const STATUS: Eflags = Eflags::CF
        .union(Eflags::PF)
        .union(Eflags::AF)
        .union(Eflags::ZF)
        .union(Eflags::SF)
        .union(Eflags::OF);
    /// Every bit software can ever set on this model (P6 with CPUID: ID is writable).
    pub const WRITABLE: Eflags = Eflags::all().difference(Eflags::FIXED1);
}

bitflags! {
    /// CR0 (SDM Vol. 3 §2.5).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Cr0: u32 {
        const PE = 1 << 0;
        const MP = 1 << 1;
        const EM = 1 << 2;
        const TS = 1 << 3;
        const ET = 1 << 4;
        const NE = 1 << 5;
        const WP = 1 << 16;
        const AM = 1 << 18;
        const NW = 1 << 29;
        const CD = 1 << 30;
        const PG = 1 << 31;
    }
}

bitflags! {
    /// CR4 (SDM Vol. 3 §2.5).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Cr4: u32 {
        const VME = 1 << 0;
        const PVI = 1 << 1;
        const TSD = 1 << 2;
        const DE = 1 << 3;
        const PSE = 1 << 4;
        const PAE = 1 << 5;
        const MCE = 1 << 6;
        const PGE = 1 << 7;
        const PCE = 1 << 8;
        const OSFXSR = 1 << 9;
        const OSXMMEXCPT = 1 << 10;
        const VMXE = 1 << 13;
    }
}

/// General-purpose register numbers in encoding order (SDM Vol. 2 Table 2-1).
pub mod gpr {
    pub const EAX: usize = 0;
    pub const ECX: usize = 1;
    pub const EDX: usize = 2;
    pub const EBX: usize = 3;
    pub const ESP: usize = 4;
    pub const EBP: usize = 5;
    pub const ESI: usize = 6;
    pub const EDI: usize = 7;
    /// Names for traces and debuggers.
    pub const NAMES: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
}

/// Segment register numbers in encoding order (SDM Vol. 2 §3.1.1.3: ES CS SS DS FS GS).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SegReg {
    Es = 0,
    Cs = 1,
    Ss = 2,
    Ds = 3,
    Fs = 4,
    Gs = 5,
}

impl SegReg {
    pub const ALL: [SegReg; 6] = [
        SegReg::Es,
        SegReg::Cs,
        SegReg::Ss,
        SegReg::Ds,
        SegReg::Fs,
        SegReg::Gs,
    ];
    pub fn name(self) -> &'static str {
        ["es", "cs", "ss", "ds", "fs", "gs"][self as usize]
    }
}

bitflags! {
    /// Segment access rights in the layout of a descriptor's bytes 5-6 (and of the VMCS
    /// access-rights fields, SDM Vol. 3 §24.4.1): type 3:0, S 4, DPL 6:5, P 7, AVL 12,
    /// D/B 14, G 15. Bit 16 is the VMCS "unusable" bit.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct SegAttrs: u32 {
        const ACCESSED = 1 << 0;
        /// Data: writable. Code: readable.
        const RW = 1 << 1;
        /// Data: expand-down. Code: conforming.
        const DC = 1 << 2;
        const CODE = 1 << 3;
        /// S: code/data (1) or system (0) descriptor.
        const S = 1 << 4;
        const DPL = 3 << 5;
        const P = 1 << 7;
        const AVL = 1 << 12;
        const DB = 1 << 14;
        const G = 1 << 15;
        const UNUSABLE = 1 << 16;
    }
}

impl SegAttrs {
    /// DPL field.
    pub fn dpl(self) -> u8 {
        ((self.bits() >> 5) & 3) as u8
    }
    /// The type field (bits 3:0).
    pub fn seg_type(self) -> u8 {
        (self.bits() & 0xF) as u8
    }
}

/// A segment register with its hidden descriptor cache (SDM Vol. 3 §3.4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Segment {
    pub selector: u16,
    pub base: u32,
    /// Byte-granular limit (already scaled by G).
    pub limit: u32,
    pub attrs: SegAttrs,
}

impl Segment {
    /// A real-mode segment for `selector`: base = selector << 4, 64 KiB, data read/write.
    pub fn real_mode(selector: u16) -> Self {
        Self::real_mode_with(
            selector,
            SegAttrs::P | SegAttrs::S | SegAttrs::RW | SegAttrs::ACCESSED,
        )
    }

    /// Real-mode load: only selector and base change; limit and attributes stay (unreal mode).
    pub fn real_mode_with(selector: u16, attrs: SegAttrs) -> Self {
        Self {
            selector,
            base: u32::from(selector) << 4,
            limit: 0xFFFF,
            attrs,
        }
    }
}

/// GDTR / IDTR.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DescTable {
    pub base: u32,
    pub limit: u16,
}

/// General registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Regs {
    pub gpr: [u32; 8],
    pub eip: u32,
    pub eflags: Eflags,
}

/// System registers and descriptor caches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SRegs {
    pub seg: [Segment; 6],
    pub ldtr: Segment,
    pub tr: Segment,
    pub gdtr: DescTable,
    pub idtr: DescTable,
    pub cr0: Cr0,
    pub cr2: u32,
    pub cr3: u32,
    pub cr4: Cr4,
    pub efer: u64,
    /// Current privilege level (SDM Vol. 3 §5.5): CS.RPL in protected mode, 0 in real
    /// mode, 3 in virtual-8086 mode.
    pub cpl: u8,
}

impl Regs {
    /// Reset values (SDM Vol. 3 §9.1.1, Table 9-1): EIP FFF0H, EFLAGS 2, EDX = signature.
    pub fn reset(signature: u32) -> Self {
        let mut gpr = [0; 8];
        gpr[gpr::EDX] = signature;
        Self {
            gpr,
            eip: 0xFFF0,
            eflags: Eflags::FIXED1,
        }
    }
}

impl SRegs {
    /// Reset values (SDM Vol. 3 Table 9-1): CS selector F000H base FFFF0000H limit FFFFH;
    /// other segments selector 0 base 0 limit FFFFH, read/write accessed; CR0 = 60000010H.
    pub fn reset() -> Self {
        let data = Segment::real_mode(0);
        let mut cs = Segment::real_mode_with(
            0xF000,
            SegAttrs::P | SegAttrs::S | SegAttrs::CODE | SegAttrs::RW | SegAttrs::ACCESSED,
        );
        cs.base = 0xFFFF_0000;
        let sys = |ty: u32| Segment {
            selector: 0,
            base: 0,
            limit: 0xFFFF,
            attrs: SegAttrs::from_bits_retain(ty) | SegAttrs::P,
        };
        Self {
            seg: [data, cs, data, data, data, data],
            ldtr: sys(2),
            tr: sys(3),
            gdtr: DescTable {
                base: 0,
                limit: 0xFFFF,
            },
            idtr: DescTable {
                base: 0,
                limit: 0xFFFF,
            },
            cr0: Cr0::CD | Cr0::NW | Cr0::ET,
            cr2: 0,
            cr3: 0,
            cr4: Cr4::empty(),
            efer: 0,
            cpl: 0,
        }
    }
}
