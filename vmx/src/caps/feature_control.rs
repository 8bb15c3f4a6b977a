//! IA32_FEATURE_CONTROL (MSR 3AH) with its lock semantics (SDM §23.7).

use super::CpuModel;
use crate::error::VmxError;

/// IA32_FEATURE_CONTROL MSR.
///
/// Bit 0 lock, bit 1 enable VMX inside SMX operation, bit 2 enable VMX
/// outside SMX operation. Once bit 0 is set, WRMSR raises #GP until reset.
/// Neither model supports SMX, so bit 1 is not writable (#GP); other bits
/// (SENTER controls, SGX, LMCE, ...) are reserved and raise #GP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FeatureControl {
    value: u64,
}

impl FeatureControl {
    /// Bit 0: lock.
    pub const LOCK: u64 = 1 << 0;
    /// Bit 1: enable VMX inside SMX operation.
    pub const VMX_INSIDE_SMX: u64 = 1 << 1;
    /// Bit 2: enable VMX outside SMX operation.
    pub const VMX_OUTSIDE_SMX: u64 = 1 << 2;
    /// Bits WRMSR may set on the models (no SMX).
    pub const WRITABLE: u64 = Self::LOCK | Self::VMX_OUTSIDE_SMX;

    /// Value after reset (unlocked, VMX disabled).
    pub const fn at_reset() -> Self {
        Self { value: 0 }
    }

    /// Value the firmware leaves: 5 (locked, VMX outside SMX enabled).
    pub const fn after_firmware(_model: CpuModel) -> Self {
        Self {
            value: Self::LOCK | Self::VMX_OUTSIDE_SMX,
        }
    }

    /// RDMSR value.
    pub const fn value(&self) -> u64 {
        self.value
    }

    /// Whether the lock bit is set.
    pub const fn locked(&self) -> bool {
        self.value & Self::LOCK != 0
    }

    /// Whether VMXON outside SMX is permitted (locked and bit 2 set; SDM
    /// VMXON: otherwise #GP).
    pub const fn vmxon_allowed(&self) -> bool {
        self.locked() && self.value & Self::VMX_OUTSIDE_SMX != 0
    }

    /// WRMSR: #GP if the MSR is locked or a non-writable bit is set.
    pub fn write(&mut self, value: u64) -> Result<(), VmxError> {
        if self.locked() || value & !Self::WRITABLE != 0 {
            return Err(VmxError::GeneralProtection);
        }
        self.value = value;
        Ok(())
    }
}
