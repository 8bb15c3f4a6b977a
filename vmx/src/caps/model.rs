//! CPU models and their raw capability MSR values (SDM Appendix A).

use super::msr;
use crate::controls::SecondaryProcessorBasedControls;
use std::fmt;
use std::str::FromStr;

/// CPUID.1:ECX bit 5 (VMX).
pub const CPUID_1_ECX_VMX: u32 = 1 << 5;

/// The emulated CPU model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CpuModel {
    /// Intel Core Duo T2600 ("Yonah"): the first VT-x part. Its capability
    /// MSRs reproduce the real processor's values.
    Yonah,
    /// Everything of VMX that applies to an IA-32 processor: secondary
    /// controls (EPT with A/D flags, VPID, unrestricted guest, descriptor-table
    /// exiting, RDTSCP, WBINVD exiting, virtualize APIC accesses, VMCS
    /// shadowing), the VMX-preemption timer and the TRUE_* MSRs.
    Max,
}

impl CpuModel {
    /// All models.
    pub const ALL: [CpuModel; 2] = [Self::Yonah, Self::Max];

    /// Lower-case name as accepted by [`FromStr`].
    pub const fn name(self) -> &'static str {
        match self {
            Self::Yonah => "yonah",
            Self::Max => "max",
        }
    }

    /// CPUID.1:ECX.VMX (bit 5): both models support VMX.
    pub const fn cpuid_1_ecx_vmx(self) -> bool {
        true
    }

    /// The model's contribution to CPUID.1:ECX (only the VMX bit, 5).
    pub const fn cpuid_1_ecx_bits(self) -> u32 {
        if self.cpuid_1_ecx_vmx() {
            CPUID_1_ECX_VMX
        } else {
            0
        }
    }

    /// The model's capabilities.
    pub fn capabilities(self) -> VmxCapabilities {
        VmxCapabilities::for_model(self)
    }
}

impl fmt::Display for CpuModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error of parsing a [`CpuModel`] name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown CPU model {0:?} (expected \"yonah\" or \"max\")")]
pub struct ParseCpuModelError(pub String);

impl FromStr for CpuModel {
    type Err = ParseCpuModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "yonah" => Ok(Self::Yonah),
            "max" => Ok(Self::Max),
            _ => Err(ParseCpuModelError(s.to_string())),
        }
    }
}

/// Raw capability MSR values of a model, plus the physical-address width.
///
/// Optional MSRs are `None` when the model does not implement them (RDMSR
/// raises #GP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VmxCapabilities {
    /// The model these capabilities belong to.
    pub model: CpuModel,
    /// IA32_VMX_BASIC (480H).
    pub basic: u64,
    /// IA32_VMX_PINBASED_CTLS (481H).
    pub pinbased_ctls: u64,
    /// IA32_VMX_PROCBASED_CTLS (482H).
    pub procbased_ctls: u64,
    /// IA32_VMX_EXIT_CTLS (483H).
    pub exit_ctls: u64,
    /// IA32_VMX_ENTRY_CTLS (484H).
    pub entry_ctls: u64,
    /// IA32_VMX_MISC (485H).
    pub misc: u64,
    /// IA32_VMX_CR0_FIXED0 (486H).
    pub cr0_fixed0: u64,
    /// IA32_VMX_CR0_FIXED1 (487H).
    pub cr0_fixed1: u64,
    /// IA32_VMX_CR4_FIXED0 (488H).
    pub cr4_fixed0: u64,
    /// IA32_VMX_CR4_FIXED1 (489H).
    pub cr4_fixed1: u64,
    /// IA32_VMX_VMCS_ENUM (48AH).
    pub vmcs_enum: u64,
    /// IA32_VMX_PROCBASED_CTLS2 (48BH).
    pub procbased_ctls2: Option<u64>,
    /// IA32_VMX_EPT_VPID_CAP (48CH).
    pub ept_vpid_cap: Option<u64>,
    /// IA32_VMX_TRUE_PINBASED_CTLS (48DH).
    pub true_pinbased_ctls: Option<u64>,
    /// IA32_VMX_TRUE_PROCBASED_CTLS (48EH).
    pub true_procbased_ctls: Option<u64>,
    /// IA32_VMX_TRUE_EXIT_CTLS (48FH).
    pub true_exit_ctls: Option<u64>,
    /// IA32_VMX_TRUE_ENTRY_CTLS (490H).
    pub true_entry_ctls: Option<u64>,
    /// IA32_VMX_VMFUNC (491H).
    pub vmfunc: Option<u64>,
    /// CPUID.80000008H:EAX bits 7:0 (MAXPHYADDR): 32 for Yonah, 36 (PAE) for Max.
    pub maxphyaddr: u32,
}

/// Yonah (Core Duo T2600) values.
const YONAH: VmxCapabilities = VmxCapabilities {
    model: CpuModel::Yonah,
    basic: 0x001B_0400_0000_0005,
    pinbased_ctls: 0x0000_001F_0000_0016,
    procbased_ctls: 0x7781_FFFE_0401_E172,
    exit_ctls: 0x0003_EDFF_0003_6DFF,
    entry_ctls: 0x0000_1DFF_0000_11FF,
    misc: 0x0004_03C0,
    cr0_fixed0: 0x8000_0021,
    cr0_fixed1: 0xFFFF_FFFF,
    cr4_fixed0: 0x2000,
    cr4_fixed1: 0x27FF,
    vmcs_enum: 0x2C,
    procbased_ctls2: None,
    ept_vpid_cap: None,
    true_pinbased_ctls: None,
    true_procbased_ctls: None,
    true_exit_ctls: None,
    true_entry_ctls: None,
    vmfunc: None,
    maxphyaddr: 32,
};

/// Secondary controls offered by the Max model.
const MAX_SECONDARY: u32 = SecondaryProcessorBasedControls::VIRTUALIZE_APIC_ACCESSES.bits()
    | SecondaryProcessorBasedControls::ENABLE_EPT.bits()
    | SecondaryProcessorBasedControls::DESCRIPTOR_TABLE_EXITING.bits()
    | SecondaryProcessorBasedControls::ENABLE_RDTSCP.bits()
    | SecondaryProcessorBasedControls::ENABLE_VPID.bits()
    | SecondaryProcessorBasedControls::WBINVD_EXITING.bits()
    | SecondaryProcessorBasedControls::UNRESTRICTED_GUEST.bits()
    | SecondaryProcessorBasedControls::VMCS_SHADOWING.bits();

/// "Max" values: everything that applies to an IA-32 processor.
///
/// * BASIC: revision 0x12, 4 KiB region, 32-bit address limit (bit 48),
///   WB memory type, INS/OUTS instruction information (bit 54), TRUE_* MSRs
///   (bit 55).
/// * MISC: preemption-timer rate 5, HLT/shutdown/wait-for-SIPI activity
///   states, 4 CR3-target values, 512 MSRs per list, VMWRITE to any field
///   (bit 29, needed for VMCS shadowing).
/// * VMCS_ENUM 2EH: the highest index used by a supported field is 23
///   (VMX-preemption timer value, 482EH).
const MAX: VmxCapabilities = VmxCapabilities {
    model: CpuModel::Max,
    basic: 0x00D9_1000_0000_0012,
    pinbased_ctls: 0x0000_007F_0000_0016,
    procbased_ctls: 0xFFE1_FFFE_0401_E172,
    exit_ctls: 0x007F_FDFF_0003_6DFF,
    entry_ctls: 0x0000_F1FF_0000_11FF,
    misc: 0x2004_01C5,
    cr0_fixed0: 0x8000_0021,
    cr0_fixed1: 0xFFFF_FFFF,
    cr4_fixed0: 0x2000,
    cr4_fixed1: 0x27FF,
    vmcs_enum: 0x2E,
    procbased_ctls2: Some((MAX_SECONDARY as u64) << 32),
    ept_vpid_cap: Some(0x0000_0F01_0631_4141),
    true_pinbased_ctls: Some(0x0000_007F_0000_0016),
    true_procbased_ctls: Some(0xFFE1_FFFE_0400_6172),
    true_exit_ctls: Some(0x007F_FDFF_0003_6DFB),
    true_entry_ctls: Some(0x0000_F1FF_0000_11FB),
    vmfunc: None,
    maxphyaddr: 36,
};

/// Returns the value RDMSR yields for capability MSR `index` (or
/// IA32_FEATURE_CONTROL after firmware) on `model`; `None` = #GP.
pub fn read_msr(model: CpuModel, index: u32) -> Option<u64> {
    if index == msr::IA32_FEATURE_CONTROL {
        return Some(super::FeatureControl::after_firmware(model).value());
    }
    model.capabilities().read_msr(index)
}

impl VmxCapabilities {
    /// Capabilities of `model`.
    pub const fn for_model(model: CpuModel) -> Self {
        match model {
            CpuModel::Yonah => YONAH,
            CpuModel::Max => MAX,
        }
    }

    /// RDMSR of a capability MSR (480H-491H); `None` = #GP.
    pub fn read_msr(&self, index: u32) -> Option<u64> {
        match index {
            msr::IA32_VMX_BASIC => Some(self.basic),
            msr::IA32_VMX_PINBASED_CTLS => Some(self.pinbased_ctls),
            msr::IA32_VMX_PROCBASED_CTLS => Some(self.procbased_ctls),
            msr::IA32_VMX_EXIT_CTLS => Some(self.exit_ctls),
            msr::IA32_VMX_ENTRY_CTLS => Some(self.entry_ctls),
            msr::IA32_VMX_MISC => Some(self.misc),
            msr::IA32_VMX_CR0_FIXED0 => Some(self.cr0_fixed0),
            msr::IA32_VMX_CR0_FIXED1 => Some(self.cr0_fixed1),
            msr::IA32_VMX_CR4_FIXED0 => Some(self.cr4_fixed0),
            msr::IA32_VMX_CR4_FIXED1 => Some(self.cr4_fixed1),
            msr::IA32_VMX_VMCS_ENUM => Some(self.vmcs_enum),
            msr::IA32_VMX_PROCBASED_CTLS2 => self.procbased_ctls2,
            msr::IA32_VMX_EPT_VPID_CAP => self.ept_vpid_cap,
            msr::IA32_VMX_TRUE_PINBASED_CTLS => self.true_pinbased_ctls,
            msr::IA32_VMX_TRUE_PROCBASED_CTLS => self.true_procbased_ctls,
            msr::IA32_VMX_TRUE_EXIT_CTLS => self.true_exit_ctls,
            msr::IA32_VMX_TRUE_ENTRY_CTLS => self.true_entry_ctls,
            msr::IA32_VMX_VMFUNC => self.vmfunc,
            _ => None,
        }
    }

    /// VMCS revision identifier (BASIC bits 30:0).
    pub const fn revision_id(&self) -> u32 {
        (self.basic & 0x7FFF_FFFF) as u32
    }

    /// VMXON/VMCS region size in bytes (BASIC bits 44:32).
    pub const fn region_size(&self) -> u32 {
        ((self.basic >> 32) & 0x1FFF) as u32
    }

    /// BASIC bit 48: addresses of VMX structures are limited to 32 bits.
    pub const fn addresses_limited_to_32_bits(&self) -> bool {
        self.basic & (1 << 48) != 0
    }

    /// BASIC bit 49: dual-monitor treatment of SMIs and SMM supported.
    pub const fn dual_monitor(&self) -> bool {
        self.basic & (1 << 49) != 0
    }

    /// BASIC bits 53:50: memory type for VMCS accesses (6 = WB).
    pub const fn vmcs_memory_type(&self) -> u32 {
        ((self.basic >> 50) & 0xF) as u32
    }

    /// BASIC bit 54: INS/OUTS instruction information is reported.
    pub const fn ins_outs_info(&self) -> bool {
        self.basic & (1 << 54) != 0
    }

    /// BASIC bit 55: the TRUE_* capability MSRs exist.
    pub const fn true_ctls(&self) -> bool {
        self.basic & (1 << 55) != 0
    }

    /// Width of physical addresses of VMX structures (VMCS, bitmaps, MSR
    /// areas): 32 if BASIC bit 48 is set, else MAXPHYADDR.
    pub const fn vmx_address_width(&self) -> u32 {
        if self.addresses_limited_to_32_bits() {
            32
        } else {
            self.maxphyaddr
        }
    }

    /// MISC bits 4:0: the preemption timer counts every 2^N TSC ticks.
    pub const fn preemption_timer_rate(&self) -> u32 {
        (self.misc & 0x1F) as u32
    }

    /// MISC bit 5: VM exits store EFER.LMA into "IA-32e mode guest".
    pub const fn misc_stores_lma(&self) -> bool {
        self.misc & (1 << 5) != 0
    }

    /// Whether activity state `state` (1 HLT, 2 shutdown, 3 wait-for-SIPI)
    /// is supported (MISC bits 8:6); 0 (active) is always supported.
    pub const fn activity_state_supported(&self, state: u32) -> bool {
        match state {
            0 => true,
            1..=3 => self.misc & (1 << (5 + state)) != 0,
            _ => false,
        }
    }

    /// MISC bits 24:16: number of CR3-target values supported.
    pub const fn cr3_target_count(&self) -> u32 {
        ((self.misc >> 16) & 0x1FF) as u32
    }

    /// MISC bits 27:25: recommended maximum MSR-list size, 512 * (N + 1).
    pub const fn max_msr_list_size(&self) -> u32 {
        512 * ((((self.misc >> 25) & 7) as u32) + 1)
    }

    /// MISC bit 29: VMWRITE may write any supported field, including the
    /// VM-exit information fields.
    pub const fn vmwrite_any_field(&self) -> bool {
        self.misc & (1 << 29) != 0
    }

    /// MISC bit 30: VM entry may inject software events with instruction
    /// length 0.
    pub const fn zero_length_injection(&self) -> bool {
        self.misc & (1 << 30) != 0
    }

    /// MISC bits 63:32: MSEG revision identifier.
    pub const fn mseg_revision(&self) -> u32 {
        (self.misc >> 32) as u32
    }

    /// VMCS_ENUM bits 9:1: highest field index.
    pub const fn highest_field_index(&self) -> u32 {
        ((self.vmcs_enum >> 1) & 0x1FF) as u32
    }

    /// EPT/VPID capability bit `bit` of IA32_VMX_EPT_VPID_CAP (false if the
    /// MSR is absent).
    pub fn ept_vpid_cap_bit(&self, bit: u32) -> bool {
        match (self.ept_vpid_cap, 1u64.checked_shl(bit)) {
            (Some(v), Some(m)) => v & m != 0,
            _ => false,
        }
    }

    /// Physical-address mask: bits at and above `maxphyaddr` set.
    pub const fn phys_reserved_mask(&self) -> u64 {
        reserved_above(self.maxphyaddr)
    }

    /// Mask of bits beyond the VMX-structure address width.
    pub const fn vmx_address_reserved_mask(&self) -> u64 {
        reserved_above(self.vmx_address_width())
    }
}

/// Mask of bits `width..=63` (0 if width >= 64).
pub const fn reserved_above(width: u32) -> u64 {
    if width >= 64 {
        0
    } else {
        !((1u64 << width) - 1)
    }
}
