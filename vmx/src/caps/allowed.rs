//! Allowed settings of the VMX controls (SDM Appendix A.2-A.5).
//!
//! A capability MSR reports allowed-0 settings in bits 31:0 (bit = 1 means
//! the control must be 1) and allowed-1 settings in bits 63:32 (bit = 0
//! means the control must be 0). If IA32_VMX_BASIC bit 55 is 0 the default1
//! controls must be 1; if it is 1 the TRUE_* MSRs say which default1
//! controls may be 0 (SDM A.2).

use super::VmxCapabilities;
use crate::controls::{ControlField, PrimaryProcessorBasedControls};

/// Allowed-0 and allowed-1 settings of one 32-bit control field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AllowedSettings {
    /// Bits that must be 1 (a 1 in the MSR's low dword).
    pub allowed0: u32,
    /// Bits that may be 1 (a 1 in the MSR's high dword).
    pub allowed1: u32,
}

/// Classification of one control bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BitClass {
    /// Must be 0.
    Fixed0,
    /// Must be 1.
    Fixed1,
    /// May be 0 or 1.
    Flexible,
}

impl AllowedSettings {
    /// Splits a capability MSR value.
    pub const fn from_msr(value: u64) -> Self {
        Self {
            allowed0: value as u32,
            allowed1: (value >> 32) as u32,
        }
    }

    /// Settings of a field that may only be 0 (absent controls).
    pub const NONE: Self = Self {
        allowed0: 0,
        allowed1: 0,
    };

    /// Whether `value` obeys the settings.
    pub const fn permits(&self, value: u32) -> bool {
        value & self.allowed0 == self.allowed0 && value & !self.allowed1 == 0
    }

    /// Whether control bit `bit` may be set to 1.
    pub const fn can_be_1(&self, bit: u32) -> bool {
        bit < 32 && self.allowed1 & (1 << bit) != 0
    }

    /// Classification of control bit `bit` (bits >= 32 are fixed 0).
    pub const fn class(&self, bit: u32) -> BitClass {
        if bit >= 32 {
            return BitClass::Fixed0;
        }
        let m = 1u32 << bit;
        if self.allowed0 & m != 0 {
            BitClass::Fixed1
        } else if self.allowed1 & m == 0 {
            BitClass::Fixed0
        } else {
            BitClass::Flexible
        }
    }
}

impl VmxCapabilities {
    /// Allowed settings as reported by the non-TRUE MSR (the secondary
    /// controls have no TRUE MSR). The secondary controls may only be
    /// non-zero if "activate secondary controls" may be 1 (SDM A.3.3).
    pub fn reported_settings(&self, field: ControlField) -> AllowedSettings {
        match field {
            ControlField::PinBased => AllowedSettings::from_msr(self.pinbased_ctls),
            ControlField::PrimaryProcessorBased => AllowedSettings::from_msr(self.procbased_ctls),
            ControlField::SecondaryProcessorBased => {
                let primary = AllowedSettings::from_msr(self.procbased_ctls);
                let activate = PrimaryProcessorBasedControls::ACTIVATE_SECONDARY_CONTROLS.bits();
                match self.procbased_ctls2 {
                    Some(v) if primary.allowed1 & activate != 0 => AllowedSettings::from_msr(v),
                    _ => AllowedSettings::NONE,
                }
            }
            ControlField::VmExit => AllowedSettings::from_msr(self.exit_ctls),
            ControlField::VmEntry => AllowedSettings::from_msr(self.entry_ctls),
        }
    }

    /// The TRUE_* MSR settings of `field`, if BASIC bit 55 says they exist.
    pub fn true_settings(&self, field: ControlField) -> Option<AllowedSettings> {
        if !self.true_ctls() {
            return None;
        }
        let v = match field {
            ControlField::PinBased => self.true_pinbased_ctls,
            ControlField::PrimaryProcessorBased => self.true_procbased_ctls,
            ControlField::SecondaryProcessorBased => None,
            ControlField::VmExit => self.true_exit_ctls,
            ControlField::VmEntry => self.true_entry_ctls,
        }?;
        Some(AllowedSettings::from_msr(v))
    }

    /// The settings VM entry enforces (SDM A.2): the TRUE_* MSR when BASIC
    /// bit 55 is 1, otherwise the ordinary MSR (whose allowed-0 bits include
    /// every default1 bit).
    pub fn effective_settings(&self, field: ControlField) -> AllowedSettings {
        self.true_settings(field)
            .unwrap_or_else(|| self.reported_settings(field))
    }

    /// Whether control bit `bit` of `field` may be 1 on this model.
    pub fn control_supported(&self, field: ControlField, bits: u32) -> bool {
        bits != 0 && self.effective_settings(field).allowed1 & bits == bits
    }
}
