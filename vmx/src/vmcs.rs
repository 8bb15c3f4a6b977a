//! The cached current VMCS and VMREAD/VMWRITE semantics (SDM §24.11,
//! VMREAD/VMWRITE instruction pages, IA-32 processor).
//!
//! Truncation rules on a 32-bit processor (operand size 32):
//! * natural-width fields hold 32 bits;
//! * VMWRITE to a 16-bit field uses bits 15:0 of the source;
//! * VMWRITE (full access) to a 64-bit field writes bits 31:0 and clears
//!   bits 63:32; high access writes bits 63:32 and keeps bits 31:0;
//! * VMREAD zero-extends narrower fields; full access to a 64-bit field
//!   reads bits 31:0, high access reads bits 63:32.

use crate::caps::VmxCapabilities;
use crate::controls::ControlField;
use crate::encoding::{AccessType, Encoding, FieldWidth};
use crate::error::VmInstructionError;
use crate::fields::{catalogue_index, FieldDef, Requirement, FIELDS};

/// Launch state of a VMCS (SDM §24.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LaunchState {
    /// "clear": VMLAUNCH is required.
    #[default]
    Clear,
    /// "launched": VMRESUME is required.
    Launched,
}

/// A VMCS cached in the processor: one 64-bit slot per catalogue entry,
/// plus the region header data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vmcs {
    caps: VmxCapabilities,
    values: Vec<u64>,
    /// VMCS revision identifier (region bits 30:0 of the first dword).
    pub revision_id: u32,
    /// Shadow-VMCS indicator (bit 31 of the first dword).
    pub shadow: bool,
    /// VMX-abort indicator (second dword).
    pub abort_indicator: u32,
    /// Launch state.
    pub launch_state: LaunchState,
}

impl VmxCapabilities {
    /// Whether a field with requirement `req` exists on this model.
    pub fn supports(&self, req: Requirement) -> bool {
        match req {
            Requirement::Always => true,
            Requirement::Pin(m) => self.control_supported(ControlField::PinBased, m),
            Requirement::Primary(m) => {
                self.control_supported(ControlField::PrimaryProcessorBased, m)
            }
            Requirement::Secondary(m) => {
                self.control_supported(ControlField::SecondaryProcessorBased, m)
            }
            Requirement::Exit(m) => self.control_supported(ControlField::VmExit, m),
            Requirement::Entry(m) => self.control_supported(ControlField::VmEntry, m),
            Requirement::EntryOrExit(en, ex) => {
                self.control_supported(ControlField::VmEntry, en)
                    || self.control_supported(ControlField::VmExit, ex)
            }
        }
    }

    /// Whether the field `def` exists on this model.
    pub fn field_exists(&self, def: &FieldDef) -> bool {
        self.supports(def.requires)
    }

    /// Catalogue entries that exist on this model, in catalogue order.
    pub fn existing_fields(&self) -> impl Iterator<Item = (usize, &'static FieldDef)> + '_ {
        FIELDS
            .iter()
            .enumerate()
            .filter(move |(_, f)| self.field_exists(f))
    }
}

impl Vmcs {
    /// A zeroed VMCS for `caps` with the model's revision identifier.
    pub fn new(caps: VmxCapabilities) -> Self {
        Self {
            caps,
            values: vec![0; FIELDS.len()],
            revision_id: caps.revision_id(),
            shadow: false,
            abort_indicator: 0,
            launch_state: LaunchState::Clear,
        }
    }

    /// The capabilities this VMCS was created for.
    pub fn caps(&self) -> &VmxCapabilities {
        &self.caps
    }

    /// Catalogue index of the existing field with full encoding `full`.
    fn slot(&self, full: u32) -> Option<usize> {
        let i = catalogue_index(full)?;
        let def = FIELDS.get(i)?;
        self.caps.field_exists(def).then_some(i)
    }

    /// Whether `encoding` (full or high) names a field of this model.
    pub fn is_supported_encoding(&self, encoding: u32) -> bool {
        self.resolve(encoding).is_ok()
    }

    /// Validates an encoding: returns the catalogue index and access type,
    /// or VM-instruction error 12.
    fn resolve(&self, encoding: u32) -> Result<(usize, AccessType), VmInstructionError> {
        let dec = Encoding::decode(encoding).ok_or(VmInstructionError::UnsupportedVmcsComponent)?;
        let i = self
            .slot(Encoding::full(encoding))
            .ok_or(VmInstructionError::UnsupportedVmcsComponent)?;
        if dec.access == AccessType::High && dec.width != FieldWidth::Bits64 {
            return Err(VmInstructionError::UnsupportedVmcsComponent);
        }
        Ok((i, dec.access))
    }

    /// VMREAD with a 32-bit destination: error 12 for unsupported
    /// components.
    pub fn vmread(&self, encoding: u32) -> Result<u32, VmInstructionError> {
        let (i, access) = self.resolve(encoding)?;
        let v = self.values.get(i).copied().unwrap_or(0);
        Ok(match access {
            AccessType::Full => v as u32,
            AccessType::High => (v >> 32) as u32,
        })
    }

    /// VMWRITE with a 32-bit source: error 12 for unsupported components,
    /// error 13 for read-only fields unless IA32_VMX_MISC bit 29 is set.
    pub fn vmwrite(&mut self, encoding: u32, value: u32) -> Result<(), VmInstructionError> {
        let (i, access) = self.resolve(encoding)?;
        let def = FIELDS
            .get(i)
            .ok_or(VmInstructionError::UnsupportedVmcsComponent)?;
        if def.is_read_only() && !self.caps.vmwrite_any_field() {
            return Err(VmInstructionError::VmwriteReadOnlyComponent);
        }
        if let Some(slot) = self.values.get_mut(i) {
            *slot = match access {
                AccessType::Full => u64::from(value) & def.width.value_mask(),
                AccessType::High => (*slot & 0xFFFF_FFFF) | (u64::from(value) << 32),
            };
        }
        Ok(())
    }

    /// Reads a whole field by full encoding (processor-internal access);
    /// 0 for fields that do not exist.
    pub fn get(&self, full: u32) -> u64 {
        self.slot(full)
            .and_then(|i| self.values.get(i).copied())
            .unwrap_or(0)
    }

    /// Reads a field as 32 bits (natural-width and 32-bit fields).
    pub fn get32(&self, full: u32) -> u32 {
        self.get(full) as u32
    }

    /// Writes a whole field by full encoding (processor-internal access,
    /// e.g. for VM-exit information), truncated to the field width. Returns
    /// false if the field does not exist on the model.
    pub fn set(&mut self, full: u32, value: u64) -> bool {
        let Some(i) = self.slot(full) else {
            return false;
        };
        let mask = FIELDS.get(i).map_or(0, |d| d.width.value_mask());
        match self.values.get_mut(i) {
            Some(slot) => {
                *slot = value & mask;
                true
            }
            None => false,
        }
    }

    /// Raw slot value by catalogue index (for the region layout).
    pub(crate) fn slot_value(&self, index: usize) -> u64 {
        self.values.get(index).copied().unwrap_or(0)
    }

    /// Sets a raw slot by catalogue index (for the region layout).
    pub(crate) fn set_slot_value(&mut self, index: usize, value: u64) {
        let mask = FIELDS.get(index).map_or(0, |d| d.width.value_mask());
        if let Some(slot) = self.values.get_mut(index) {
            *slot = value & mask;
        }
    }

    /// Named dump of every field that exists on the model, in catalogue
    /// order.
    pub fn dump(&self) -> Vec<(&'static str, u64)> {
        self.caps
            .existing_fields()
            .map(|(i, f)| (f.name, self.slot_value(i)))
            .collect()
    }
}

/// Named dump of a VMCS (see [`Vmcs::dump`]).
pub fn dump(vmcs: &Vmcs) -> Vec<(&'static str, u64)> {
    vmcs.dump()
}
