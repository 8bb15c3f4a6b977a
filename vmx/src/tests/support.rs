//! Test helpers: a sparse guest-physical memory and a VMCS that passes every
//! VM-entry check for a model.

use crate::caps::{CpuModel, VmxCapabilities};
use crate::controls::ControlField;
use crate::entry_checks::{check_vm_entry, CpuContext, EntryEnvironment, EntryFailure};
use crate::fields::enc;
use crate::region::VmcsMemory;
use crate::vmcs::Vmcs;
use std::collections::HashMap;

/// Sparse dword-addressed memory; unwritten memory reads as 0.
#[derive(Debug, Default, Clone)]
pub struct TestMemory {
    dwords: HashMap<u64, u32>,
}

impl VmcsMemory for TestMemory {
    fn read_u32(&self, pa: u64) -> u32 {
        // Unaligned reads are assembled bytewise.
        if pa & 3 == 0 {
            return self.dwords.get(&pa).copied().unwrap_or(0);
        }
        (0..4u64).fold(0, |acc, i| {
            let a = pa.wrapping_add(i);
            let d = self.dwords.get(&(a & !3)).copied().unwrap_or(0);
            acc | (((d >> ((a & 3) * 8)) & 0xFF) << (i * 8))
        })
    }

    fn write_u32(&mut self, pa: u64, value: u32) {
        assert_eq!(pa & 3, 0, "test memory only supports aligned writes");
        self.dwords.insert(pa, value);
    }
}

/// An environment whose WRMSR faults for one MSR index.
pub struct FaultingEnv<'a> {
    pub mem: &'a TestMemory,
    pub faulting_msr: u32,
}

impl EntryEnvironment for FaultingEnv<'_> {
    fn read_u32(&self, pa: u64) -> u32 {
        VmcsMemory::read_u32(self.mem, pa)
    }
    fn wrmsr_faults(&self, index: u32, _value: u64) -> bool {
        index == self.faulting_msr
    }
}

/// Sets a field, asserting it exists on the model.
pub fn set(v: &mut Vmcs, field: u32, value: u64) {
    assert!(v.set(field, value), "field {field:#x} does not exist");
}

/// ORs bits into a field.
pub fn or(v: &mut Vmcs, field: u32, bits: u64) {
    let old = v.get(field);
    set(v, field, old | bits);
}

/// Clears bits of a field.
pub fn clear(v: &mut Vmcs, field: u32, bits: u64) {
    let old = v.get(field);
    set(v, field, old & !bits);
}

/// Guest CR0 of the valid VMCS: PE | ET | NE | PG.
pub const CR0: u64 = 0x8000_0031;
/// CR4 of the valid VMCS: VMXE.
pub const CR4: u64 = 0x2000;
/// Flat 32-bit code segment access rights (type 11, S, P, D/B, G).
pub const AR_CODE: u64 = 0xC09B;
/// Flat 32-bit data segment access rights (type 3, S, P, D/B, G).
pub const AR_DATA: u64 = 0xC093;
/// Busy 32-bit TSS access rights.
pub const AR_TSS: u64 = 0x8B;
/// Unusable segment.
pub const AR_UNUSABLE: u64 = 0x1_0000;

/// A VMCS that passes every VM-entry check on `model`: minimal controls
/// (the allowed-0 settings in effect), a flat protected-mode guest with
/// 32-bit paging and CPL 0, and a matching flat host.
pub fn valid_vmcs_for(model: CpuModel) -> Vmcs {
    let caps = model.capabilities();
    let mut v = Vmcs::new(caps);
    let allowed0 = |f| u64::from(caps.effective_settings(f).allowed0);
    set(
        &mut v,
        enc::PIN_BASED_VM_EXECUTION_CONTROLS,
        allowed0(ControlField::PinBased),
    );
    set(
        &mut v,
        enc::PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
        allowed0(ControlField::PrimaryProcessorBased),
    );
    set(
        &mut v,
        enc::VM_EXIT_CONTROLS,
        allowed0(ControlField::VmExit),
    );
    set(
        &mut v,
        enc::VM_ENTRY_CONTROLS,
        allowed0(ControlField::VmEntry),
    );
    set(&mut v, enc::VMCS_LINK_POINTER, u64::MAX);

    // Guest state.
    set(&mut v, enc::GUEST_CR0, CR0);
    set(&mut v, enc::GUEST_CR3, 0x0010_0000);
    set(&mut v, enc::GUEST_CR4, CR4);
    set(&mut v, enc::GUEST_DR7, 0x400);
    set(&mut v, enc::GUEST_RSP, 0x8000);
    set(&mut v, enc::GUEST_RIP, 0x1000);
    set(&mut v, enc::GUEST_RFLAGS, 0x2);
    set(&mut v, enc::GUEST_CS_SELECTOR, 0x08);
    set(&mut v, enc::GUEST_CS_LIMIT, 0xFFFF_FFFF);
    set(&mut v, enc::GUEST_CS_ACCESS_RIGHTS, AR_CODE);
    for (sel, limit, ar) in [
        (
            enc::GUEST_SS_SELECTOR,
            enc::GUEST_SS_LIMIT,
            enc::GUEST_SS_ACCESS_RIGHTS,
        ),
        (
            enc::GUEST_DS_SELECTOR,
            enc::GUEST_DS_LIMIT,
            enc::GUEST_DS_ACCESS_RIGHTS,
        ),
        (
            enc::GUEST_ES_SELECTOR,
            enc::GUEST_ES_LIMIT,
            enc::GUEST_ES_ACCESS_RIGHTS,
        ),
        (
            enc::GUEST_FS_SELECTOR,
            enc::GUEST_FS_LIMIT,
            enc::GUEST_FS_ACCESS_RIGHTS,
        ),
        (
            enc::GUEST_GS_SELECTOR,
            enc::GUEST_GS_LIMIT,
            enc::GUEST_GS_ACCESS_RIGHTS,
        ),
    ] {
        set(&mut v, sel, 0x10);
        set(&mut v, limit, 0xFFFF_FFFF);
        set(&mut v, ar, AR_DATA);
    }
    set(&mut v, enc::GUEST_TR_SELECTOR, 0x18);
    set(&mut v, enc::GUEST_TR_BASE, 0x3000);
    set(&mut v, enc::GUEST_TR_LIMIT, 0x67);
    set(&mut v, enc::GUEST_TR_ACCESS_RIGHTS, AR_TSS);
    set(&mut v, enc::GUEST_LDTR_ACCESS_RIGHTS, AR_UNUSABLE);
    set(&mut v, enc::GUEST_GDTR_BASE, 0x2000);
    set(&mut v, enc::GUEST_GDTR_LIMIT, 0x1F);
    set(&mut v, enc::GUEST_IDTR_BASE, 0x2100);
    set(&mut v, enc::GUEST_IDTR_LIMIT, 0x7FF);

    // Host state.
    set(&mut v, enc::HOST_CR0, CR0);
    set(&mut v, enc::HOST_CR3, 0x0020_0000);
    set(&mut v, enc::HOST_CR4, CR4);
    set(&mut v, enc::HOST_CS_SELECTOR, 0x08);
    for f in [
        enc::HOST_SS_SELECTOR,
        enc::HOST_DS_SELECTOR,
        enc::HOST_ES_SELECTOR,
        enc::HOST_FS_SELECTOR,
        enc::HOST_GS_SELECTOR,
    ] {
        set(&mut v, f, 0x10);
    }
    set(&mut v, enc::HOST_TR_SELECTOR, 0x18);
    set(&mut v, enc::HOST_TR_BASE, 0x4000);
    set(&mut v, enc::HOST_GDTR_BASE, 0x5000);
    set(&mut v, enc::HOST_IDTR_BASE, 0x5100);
    set(&mut v, enc::HOST_RSP, 0x9000);
    set(&mut v, enc::HOST_RIP, 0x0040_0000);
    v
}

/// Runs every VM-entry check with the VMCS's own capabilities.
pub fn run(v: &Vmcs, mem: &TestMemory, cpu: &CpuContext) -> Result<(), EntryFailure> {
    check_vm_entry(v.caps(), v, cpu, mem)
}

/// Runs every VM-entry check with explicit capabilities.
pub fn run_with(caps: &VmxCapabilities, v: &Vmcs, mem: &TestMemory) -> Result<(), EntryFailure> {
    check_vm_entry(caps, v, &CpuContext::default(), mem)
}
