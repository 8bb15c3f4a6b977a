//! Checks performed while loading MSRs from the VM-entry MSR-load area
//! (SDM §26.4). A failure is a VM-entry failure with exit reason 34 whose
//! exit qualification is the 1-based index of the failing entry.
//!
//! Each 16-byte entry holds the MSR index (bits 31:0), reserved bits 63:32
//! and the MSR data (bits 127:64). Model choice: the SDM leaves lists longer
//! than the IA32_VMX_MISC recommended maximum (512 * (N + 1)) undefined;
//! this model fails on the first entry beyond the maximum.

use super::{EntryCheck, EntryContext};
use crate::controls::VmEntryControls as Entry;
use crate::fields::enc;

/// IA32_SMM_MONITOR_CTL.
const IA32_SMM_MONITOR_CTL: u32 = 0x9B;
/// IA32_SMBASE.
const IA32_SMBASE: u32 = 0x9E;

/// Runs the §26.4 checks over the VM-entry MSR-load area.
pub fn check(ctx: &EntryContext<'_>) -> Result<(), EntryCheck> {
    let count = ctx.get32(enc::VM_ENTRY_MSR_LOAD_COUNT);
    let base = ctx.get(enc::VM_ENTRY_MSR_LOAD_ADDRESS);
    let max = ctx.caps.max_msr_list_size();
    for i in 0..count {
        let n = i.wrapping_add(1);
        if i >= max {
            return Err(EntryCheck::MsrLoadCountExceedsMaximum(n));
        }
        let pa = base.wrapping_add(u64::from(i).wrapping_mul(16));
        let index = ctx.env.read_u32(pa);
        let reserved = ctx.env.read_u32(pa.wrapping_add(4));
        let value = ctx.env.read_u64(pa.wrapping_add(8));
        // §26.4: x2APIC MSRs (ECX[31:8] = 000008H) cannot be loaded.
        if index >> 8 == 0x8 {
            return Err(EntryCheck::MsrLoadX2Apic(n));
        }
        // §26.4: an MSR writable only in SMM (IA32_SMM_MONITOR_CTL) when the
        // VM entry does not end in SMM; IA32_SMBASE cannot be loaded
        // (model-specific, read-only MSR).
        let ends_in_smm = ctx.entry().contains(Entry::ENTRY_TO_SMM);
        if (index == IA32_SMM_MONITOR_CTL && !ends_in_smm) || index == IA32_SMBASE {
            return Err(EntryCheck::MsrLoadSmm(n));
        }
        // §26.4: bits 63:32 of the entry are reserved.
        if reserved != 0 {
            return Err(EntryCheck::MsrLoadReservedBits(n));
        }
        // §26.4: the write must not cause #GP.
        if ctx.env.wrmsr_faults(index, value) {
            return Err(EntryCheck::MsrLoadWriteFault(n));
        }
    }
    Ok(())
}
