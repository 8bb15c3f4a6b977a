//! VMCS regions in guest-physical memory (SDM §24.2) and the internal
//! field layout.
//!
//! Layout (implementation-specific, SDM §24.2 leaves it to the processor):
//!
//! | offset | content |
//! |-------:|---------|
//! | 0 | bits 30:0 VMCS revision identifier, bit 31 shadow-VMCS indicator |
//! | 4 | VMX-abort indicator |
//! | 8 | launch state (0 clear, 1 launched) |
//! | 12 | reserved (0) |
//! | 16.. | existing fields of the model, 64-bit fields first (8 bytes each), then 32-bit and natural-width fields (4 bytes), then 16-bit fields (2 bytes), each group in catalogue order |
//!
//! The layout is compact so that it fits Yonah's 1 KiB region;
//! [`VmcsLayout::for_caps`] checks that it fits.

use crate::caps::VmxCapabilities;
use crate::encoding::FieldWidth;
use crate::error::VmxError;
use crate::fields::FIELDS;
use crate::vmcs::{LaunchState, Vmcs};

/// Access to guest-physical memory used for VMCS regions, MSR areas and
/// PDPTEs. Implementations must not panic for any address.
pub trait VmcsMemory {
    /// Reads the dword at physical address `pa`.
    fn read_u32(&self, pa: u64) -> u32;
    /// Writes the dword at physical address `pa`.
    fn write_u32(&mut self, pa: u64, value: u32);

    /// Reads a little-endian qword.
    fn read_u64(&self, pa: u64) -> u64 {
        u64::from(self.read_u32(pa)) | (u64::from(self.read_u32(pa.wrapping_add(4))) << 32)
    }

    /// Writes a little-endian qword.
    fn write_u64(&mut self, pa: u64, value: u64) {
        self.write_u32(pa, value as u32);
        self.write_u32(pa.wrapping_add(4), (value >> 32) as u32);
    }

    /// Reads a byte (from the containing dword).
    fn read_u8(&self, pa: u64) -> u8 {
        let d = self.read_u32(pa & !3);
        (d >> ((pa & 3) * 8)) as u8
    }
}

/// Offset of the revision identifier / shadow indicator dword.
pub const REVISION_OFFSET: u64 = 0;
/// Offset of the VMX-abort indicator.
pub const ABORT_OFFSET: u64 = 4;
/// Offset of the launch state.
pub const LAUNCH_STATE_OFFSET: u64 = 8;
/// Offset of the first field.
pub const FIELDS_OFFSET: u32 = 16;

/// Byte offsets of the fields of one model inside its VMCS region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmcsLayout {
    /// Offset per catalogue index; `None` for fields absent on the model.
    offsets: Vec<Option<u32>>,
    /// Total bytes used, header included.
    size: u32,
}

impl VmcsLayout {
    /// Computes the layout for `caps`; fails if it exceeds the region size
    /// reported by IA32_VMX_BASIC.
    pub fn for_caps(caps: &VmxCapabilities) -> Result<Self, VmxError> {
        let mut offsets = vec![None; FIELDS.len()];
        let mut next = FIELDS_OFFSET;
        let groups: [&[FieldWidth]; 3] = [
            &[FieldWidth::Bits64],
            &[FieldWidth::Bits32, FieldWidth::Natural],
            &[FieldWidth::Bits16],
        ];
        for group in groups {
            for (i, def) in caps.existing_fields() {
                if group.contains(&def.width) {
                    if let Some(slot) = offsets.get_mut(i) {
                        *slot = Some(next);
                    }
                    next = next.saturating_add(def.width.storage_bytes());
                }
            }
        }
        if next > caps.region_size() {
            return Err(VmxError::RegionTooSmall {
                needed: next,
                region: caps.region_size(),
            });
        }
        Ok(Self {
            offsets,
            size: next,
        })
    }

    /// Bytes used by the layout, header included.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Offset of the field at catalogue index `index`.
    pub fn offset(&self, index: usize) -> Option<u32> {
        self.offsets.get(index).copied().flatten()
    }
}

/// Header of a VMCS region: (revision identifier, shadow-VMCS indicator).
pub fn read_header(mem: &dyn VmcsMemory, pa: u64) -> (u32, bool) {
    let d = mem.read_u32(pa.wrapping_add(REVISION_OFFSET));
    (d & 0x7FFF_FFFF, d & 0x8000_0000 != 0)
}

/// Writes the launch state of the VMCS region at `pa` (used by VMCLEAR of
/// a VMCS that is not cached).
pub fn write_launch_state(mem: &mut dyn VmcsMemory, pa: u64, state: LaunchState) {
    let v = match state {
        LaunchState::Clear => 0,
        LaunchState::Launched => 1,
    };
    mem.write_u32(pa.wrapping_add(LAUNCH_STATE_OFFSET), v);
}

fn read_field(mem: &dyn VmcsMemory, pa: u64, width: FieldWidth) -> u64 {
    match width {
        FieldWidth::Bits64 => mem.read_u64(pa),
        FieldWidth::Bits32 | FieldWidth::Natural => u64::from(mem.read_u32(pa)),
        FieldWidth::Bits16 => {
            let d = mem.read_u32(pa & !3);
            u64::from((d >> ((pa & 2) * 8)) as u16)
        }
    }
}

fn write_field(mem: &mut dyn VmcsMemory, pa: u64, width: FieldWidth, v: u64) {
    match width {
        FieldWidth::Bits64 => mem.write_u64(pa, v),
        FieldWidth::Bits32 | FieldWidth::Natural => mem.write_u32(pa, v as u32),
        FieldWidth::Bits16 => {
            let base = pa & !3;
            let shift = (pa & 2) * 8;
            let d = mem.read_u32(base);
            let d = (d & !(0xFFFF << shift)) | (((v as u32) & 0xFFFF) << shift);
            mem.write_u32(base, d);
        }
    }
}

impl Vmcs {
    /// Loads the VMCS region at `pa` into a cached VMCS (VMPTRLD after its
    /// checks). The caller checks the revision identifier.
    pub fn load(caps: VmxCapabilities, mem: &dyn VmcsMemory, pa: u64) -> Result<Self, VmxError> {
        let layout = VmcsLayout::for_caps(&caps)?;
        let mut vmcs = Vmcs::new(caps);
        let (rev, shadow) = read_header(mem, pa);
        vmcs.revision_id = rev;
        vmcs.shadow = shadow;
        vmcs.abort_indicator = mem.read_u32(pa.wrapping_add(ABORT_OFFSET));
        vmcs.launch_state = if mem.read_u32(pa.wrapping_add(LAUNCH_STATE_OFFSET)) & 1 == 0 {
            LaunchState::Clear
        } else {
            LaunchState::Launched
        };
        for (i, def) in FIELDS.iter().enumerate() {
            if let Some(off) = layout.offset(i) {
                let v = read_field(mem, pa.wrapping_add(u64::from(off)), def.width);
                vmcs.set_slot_value(i, v);
            }
        }
        Ok(vmcs)
    }

    /// Writes the cached VMCS back to its region at `pa`.
    pub fn store(&self, mem: &mut dyn VmcsMemory, pa: u64) -> Result<(), VmxError> {
        let layout = VmcsLayout::for_caps(self.caps())?;
        let header = (self.revision_id & 0x7FFF_FFFF) | if self.shadow { 0x8000_0000 } else { 0 };
        mem.write_u32(pa.wrapping_add(REVISION_OFFSET), header);
        mem.write_u32(pa.wrapping_add(ABORT_OFFSET), self.abort_indicator);
        write_launch_state(mem, pa, self.launch_state);
        mem.write_u32(pa.wrapping_add(12), 0);
        for (i, def) in FIELDS.iter().enumerate() {
            if let Some(off) = layout.offset(i) {
                write_field(
                    mem,
                    pa.wrapping_add(u64::from(off)),
                    def.width,
                    self.slot_value(i),
                );
            }
        }
        Ok(())
    }

    /// VMCLEAR of the current VMCS: sets the launch state to clear and
    /// writes the VMCS back to its region.
    pub fn vmclear(&mut self, mem: &mut dyn VmcsMemory, pa: u64) -> Result<(), VmxError> {
        self.launch_state = LaunchState::Clear;
        self.store(mem, pa)
    }
}
