//! Human-readable decoding of a model's capability MSRs (`vtx32 vmx caps`).

use crate::caps::{msr, AllowedSettings, BitClass, CpuModel, FeatureControl, VmxCapabilities};
use crate::controls::ControlField;
use std::fmt::Write;

const CR0_NAMES: &[(u32, &str)] = &[
    (0, "PE"),
    (1, "MP"),
    (2, "EM"),
    (3, "TS"),
    (4, "ET"),
    (5, "NE"),
    (16, "WP"),
    (18, "AM"),
    (29, "NW"),
    (30, "CD"),
    (31, "PG"),
];

const CR4_NAMES: &[(u32, &str)] = &[
    (0, "VME"),
    (1, "PVI"),
    (2, "TSD"),
    (3, "DE"),
    (4, "PSE"),
    (5, "PAE"),
    (6, "MCE"),
    (7, "PGE"),
    (8, "PCE"),
    (9, "OSFXSR"),
    (10, "OSXMMEXCPT"),
    (11, "UMIP"),
    (12, "LA57"),
    (13, "VMXE"),
    (14, "SMXE"),
    (16, "FSGSBASE"),
    (17, "PCIDE"),
    (18, "OSXSAVE"),
    (20, "SMEP"),
    (21, "SMAP"),
    (22, "PKE"),
    (23, "CET"),
    (24, "PKS"),
];

const EPT_VPID_NAMES: &[(u32, &str)] = &[
    (0, "EPT execute-only translations"),
    (6, "page-walk length 4"),
    (7, "page-walk length 5"),
    (8, "EPT paging-structure memory type UC"),
    (14, "EPT paging-structure memory type WB"),
    (16, "2-MByte EPT pages"),
    (17, "1-GByte EPT pages"),
    (20, "INVEPT"),
    (21, "EPT accessed and dirty flags"),
    (22, "advanced VM-exit information for EPT violations"),
    (25, "single-context INVEPT"),
    (26, "all-context INVEPT"),
    (32, "INVVPID"),
    (40, "individual-address INVVPID"),
    (41, "single-context INVVPID"),
    (42, "all-context INVVPID"),
    (43, "single-context-retaining-globals INVVPID"),
];

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn memory_type_name(t: u32) -> &'static str {
    match t {
        0 => "UC",
        6 => "WB",
        _ => "reserved",
    }
}

fn control_msrs(field: ControlField) -> (&'static str, u32, Option<(&'static str, u32)>) {
    match field {
        ControlField::PinBased => (
            "IA32_VMX_PINBASED_CTLS",
            msr::IA32_VMX_PINBASED_CTLS,
            Some((
                "IA32_VMX_TRUE_PINBASED_CTLS",
                msr::IA32_VMX_TRUE_PINBASED_CTLS,
            )),
        ),
        ControlField::PrimaryProcessorBased => (
            "IA32_VMX_PROCBASED_CTLS",
            msr::IA32_VMX_PROCBASED_CTLS,
            Some((
                "IA32_VMX_TRUE_PROCBASED_CTLS",
                msr::IA32_VMX_TRUE_PROCBASED_CTLS,
            )),
        ),
        ControlField::SecondaryProcessorBased => (
            "IA32_VMX_PROCBASED_CTLS2",
            msr::IA32_VMX_PROCBASED_CTLS2,
            None,
        ),
        ControlField::VmExit => (
            "IA32_VMX_EXIT_CTLS",
            msr::IA32_VMX_EXIT_CTLS,
            Some(("IA32_VMX_TRUE_EXIT_CTLS", msr::IA32_VMX_TRUE_EXIT_CTLS)),
        ),
        ControlField::VmEntry => (
            "IA32_VMX_ENTRY_CTLS",
            msr::IA32_VMX_ENTRY_CTLS,
            Some(("IA32_VMX_TRUE_ENTRY_CTLS", msr::IA32_VMX_TRUE_ENTRY_CTLS)),
        ),
    }
}

fn class_text(class: BitClass) -> &'static str {
    match class {
        BitClass::Fixed0 => "fixed-0   (allowed-1 = 0: must be 0)",
        BitClass::Fixed1 => "fixed-1   (allowed-0 = 1: must be 1)",
        BitClass::Flexible => "flexible  (allowed-0 = 0, allowed-1 = 1)",
    }
}

fn report_controls(out: &mut String, caps: &VmxCapabilities, field: ControlField) {
    let (name, index, true_msr) = control_msrs(field);
    match caps.read_msr(index) {
        Some(v) => {
            let _ = writeln!(out, "{name} ({index:03X}H) = {v:#018x}");
        }
        None => {
            let _ = writeln!(
                out,
                "{name} ({index:03X}H): not implemented (RDMSR #GP); all controls fixed-0"
            );
            return;
        }
    }
    if let Some((tname, tindex)) = true_msr {
        match caps.true_settings(field) {
            Some(t) => {
                let raw = (u64::from(t.allowed1) << 32) | u64::from(t.allowed0);
                let _ = writeln!(out, "{tname} ({tindex:03X}H) = {raw:#018x} (in effect)");
            }
            None => {
                let _ = writeln!(
                    out,
                    "{tname} ({tindex:03X}H): not implemented; default1 controls must be 1"
                );
            }
        }
    }
    let effective: AllowedSettings = caps.effective_settings(field);
    let default1 = field.default1();
    for bit in 0..32u32 {
        let named = field.bit_name(bit);
        let class = effective.class(bit);
        if named.is_none() && class == BitClass::Fixed0 {
            continue;
        }
        let label = named.unwrap_or(if default1 & (1 << bit) != 0 {
            "(reserved, default1)"
        } else {
            "(reserved)"
        });
        let _ = writeln!(out, "  bit {bit:2} {label:<40} {}", class_text(class));
    }
    out.push('\n');
}

fn report_fixed(out: &mut String, reg: &str, names: &[(u32, &str)], fixed0: u64, fixed1: u64) {
    let _ = writeln!(
        out,
        "IA32_VMX_{reg}_FIXED0 = {fixed0:#010x}, IA32_VMX_{reg}_FIXED1 = {fixed1:#010x}"
    );
    let list = |pred: &dyn Fn(u64) -> bool| -> String {
        let v: Vec<String> = (0..32u32)
            .filter(|b| pred(1u64 << b))
            .map(|b| {
                names
                    .iter()
                    .find(|(n, _)| *n == b)
                    .map_or_else(|| format!("bit{b}"), |(_, s)| (*s).to_string())
            })
            .collect();
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(" ")
        }
    };
    let _ = writeln!(out, "  fixed-1 (must be 1): {}", list(&|m| fixed0 & m != 0));
    let _ = writeln!(
        out,
        "  fixed-0 (must be 0): {}",
        list(&|m| fixed1 & m == 0 && fixed0 & m == 0)
    );
    out.push('\n');
}

/// Decodes every capability MSR of `model` into a human-readable report.
pub fn caps_report(model: CpuModel) -> String {
    let caps = model.capabilities();
    let mut out = String::new();
    let _ = writeln!(out, "VMX capabilities of CPU model \"{model}\"");
    let _ = writeln!(
        out,
        "CPUID.1:ECX.VMX[bit 5] = {}",
        u8::from(model.cpuid_1_ecx_vmx())
    );
    let fc = FeatureControl::after_firmware(model);
    let _ = writeln!(
        out,
        "IA32_FEATURE_CONTROL (03AH) = {:#x} (lock = {}, VMX outside SMX = {}, VMX inside SMX = {})\n",
        fc.value(),
        fc.locked(),
        fc.value() & FeatureControl::VMX_OUTSIDE_SMX != 0,
        fc.value() & FeatureControl::VMX_INSIDE_SMX != 0
    );

    let _ = writeln!(out, "IA32_VMX_BASIC (480H) = {:#018x}", caps.basic);
    let _ = writeln!(out, "  VMCS revision identifier: {:#x}", caps.revision_id());
    let _ = writeln!(
        out,
        "  VMXON/VMCS region size: {} bytes",
        caps.region_size()
    );
    let _ = writeln!(
        out,
        "  physical addresses limited to 32 bits: {}",
        yes(caps.addresses_limited_to_32_bits())
    );
    let _ = writeln!(
        out,
        "  dual-monitor treatment of SMM: {}",
        yes(caps.dual_monitor())
    );
    let _ = writeln!(
        out,
        "  VMCS memory type: {} ({})",
        caps.vmcs_memory_type(),
        memory_type_name(caps.vmcs_memory_type())
    );
    let _ = writeln!(
        out,
        "  INS/OUTS instruction information: {}",
        yes(caps.ins_outs_info())
    );
    let _ = writeln!(out, "  TRUE_* capability MSRs: {}\n", yes(caps.true_ctls()));

    for field in ControlField::ALL {
        report_controls(&mut out, &caps, field);
    }

    let _ = writeln!(out, "IA32_VMX_MISC (485H) = {:#018x}", caps.misc);
    let _ = writeln!(
        out,
        "  VMX-preemption timer rate: TSC >> {}",
        caps.preemption_timer_rate()
    );
    let _ = writeln!(
        out,
        "  VM exits store EFER.LMA: {}",
        yes(caps.misc_stores_lma())
    );
    let _ = writeln!(
        out,
        "  activity states: HLT {}, shutdown {}, wait-for-SIPI {}",
        yes(caps.activity_state_supported(1)),
        yes(caps.activity_state_supported(2)),
        yes(caps.activity_state_supported(3))
    );
    let _ = writeln!(out, "  CR3-target values: {}", caps.cr3_target_count());
    let _ = writeln!(
        out,
        "  recommended maximum MSR-list size: {}",
        caps.max_msr_list_size()
    );
    let _ = writeln!(
        out,
        "  VMWRITE to any VMCS field: {}",
        yes(caps.vmwrite_any_field())
    );
    let _ = writeln!(
        out,
        "  zero-length instruction injection: {}",
        yes(caps.zero_length_injection())
    );
    let _ = writeln!(
        out,
        "  MSEG revision identifier: {:#x}\n",
        caps.mseg_revision()
    );

    report_fixed(&mut out, "CR0", CR0_NAMES, caps.cr0_fixed0, caps.cr0_fixed1);
    report_fixed(&mut out, "CR4", CR4_NAMES, caps.cr4_fixed0, caps.cr4_fixed1);

    let _ = writeln!(
        out,
        "IA32_VMX_VMCS_ENUM (48AH) = {:#x} (highest field index {})\n",
        caps.vmcs_enum,
        caps.highest_field_index()
    );

    match caps.ept_vpid_cap {
        Some(v) => {
            let _ = writeln!(out, "IA32_VMX_EPT_VPID_CAP (48CH) = {v:#018x}");
            for (bit, name) in EPT_VPID_NAMES {
                let _ = writeln!(out, "  {name}: {}", yes(caps.ept_vpid_cap_bit(*bit)));
            }
        }
        None => {
            let _ = writeln!(
                out,
                "IA32_VMX_EPT_VPID_CAP (48CH): not implemented (no EPT, no VPID)"
            );
        }
    }
    match caps.vmfunc {
        Some(v) => {
            let _ = writeln!(out, "IA32_VMX_VMFUNC (491H) = {v:#018x}");
        }
        None => {
            let _ = writeln!(out, "IA32_VMX_VMFUNC (491H): not implemented");
        }
    }
    out
}
