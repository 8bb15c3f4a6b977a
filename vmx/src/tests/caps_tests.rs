//! Capability MSR values, default1 / TRUE_* semantics, IA32_FEATURE_CONTROL.

use crate::caps::{msr, read_msr, AllowedSettings, BitClass, CpuModel, FeatureControl};
use crate::controls::{ControlField, PinBasedControls, PrimaryProcessorBasedControls};
use crate::error::VmxError;
use crate::fields::{enc, field_def, FIELDS};
use crate::region::VmcsLayout;

#[test]
fn yonah_capability_msrs_match_core_duo_t2600() {
    let y = CpuModel::Yonah;
    let expected: [(u32, Option<u64>); 19] = [
        (0x3A, Some(0x5)),
        (0x480, Some(0x001B_0400_0000_0005)),
        (0x481, Some(0x0000_001F_0000_0016)),
        (0x482, Some(0x7781_FFFE_0401_E172)),
        (0x483, Some(0x0003_EDFF_0003_6DFF)),
        (0x484, Some(0x0000_1DFF_0000_11FF)),
        (0x485, Some(0x0004_03C0)),
        (0x486, Some(0x8000_0021)),
        (0x487, Some(0xFFFF_FFFF)),
        (0x488, Some(0x2000)),
        (0x489, Some(0x27FF)),
        (0x48A, Some(0x2C)),
        (0x48B, None),
        (0x48C, None),
        (0x48D, None),
        (0x48E, None),
        (0x48F, None),
        (0x490, None),
        (0x491, None),
    ];
    for (index, value) in expected {
        assert_eq!(read_msr(y, index), value, "MSR {index:#x}");
    }
    assert_eq!(read_msr(y, 0x492), None);
    assert_eq!(read_msr(y, 0x47F), None);
    assert!(y.cpuid_1_ecx_vmx());
}

#[test]
fn yonah_basic_decodes() {
    let c = CpuModel::Yonah.capabilities();
    assert_eq!(c.revision_id(), 5);
    assert_eq!(c.region_size(), 1024);
    assert!(c.addresses_limited_to_32_bits());
    assert_eq!(c.vmcs_memory_type(), 6);
    assert!(!c.true_ctls());
    assert!(!c.ins_outs_info());
    assert_eq!(c.cr3_target_count(), 4);
    assert_eq!(c.max_msr_list_size(), 512);
    assert!(!c.vmwrite_any_field());
    assert!(c.activity_state_supported(1));
    assert!(c.activity_state_supported(2));
    assert!(c.activity_state_supported(3));
    assert!(!c.activity_state_supported(4));
    assert_eq!(c.highest_field_index(), 0x16);
}

#[test]
fn both_models_are_ia32_wb_parts() {
    for m in CpuModel::ALL {
        let c = m.capabilities();
        assert!(c.addresses_limited_to_32_bits(), "{m}");
        assert_eq!(c.vmcs_memory_type(), 6, "{m}");
        assert_eq!(c.vmx_address_width(), 32, "{m}");
        // "IA-32e mode guest" and "host address-space size" are fixed 0.
        assert!(!c.control_supported(ControlField::VmEntry, 1 << 9), "{m}");
        assert!(!c.control_supported(ControlField::VmExit, 1 << 9), "{m}");
        // CR fixed bits are consistent: FIXED0 is a subset of FIXED1.
        assert_eq!(c.cr0_fixed0 & !c.cr0_fixed1, 0);
        assert_eq!(c.cr4_fixed0 & !c.cr4_fixed1, 0);
        assert_eq!(FeatureControl::after_firmware(m).value(), 5);
    }
}

#[test]
fn yonah_default1_bits_must_be_one() {
    let c = CpuModel::Yonah.capabilities();
    for f in ControlField::ALL {
        assert_eq!(c.true_settings(f), None);
        assert_eq!(c.effective_settings(f), c.reported_settings(f));
        let s = c.effective_settings(f);
        // Without TRUE MSRs every default1 bit is reported as allowed-0 = 1.
        assert_eq!(s.allowed0 & f.default1(), f.default1(), "{f:?}");
        assert!(s.permits(s.allowed0));
        if f.default1() != 0 {
            let lowest = f.default1() & f.default1().wrapping_neg();
            assert!(!s.permits(s.allowed0 & !lowest), "{f:?}");
        }
    }
    // Secondary controls are unavailable: PROCBASED_CTLS2 absent and
    // "activate secondary controls" fixed 0.
    assert_eq!(
        c.effective_settings(ControlField::SecondaryProcessorBased),
        AllowedSettings::NONE
    );
    let p = c.effective_settings(ControlField::PrimaryProcessorBased);
    assert_eq!(
        p.class(
            PrimaryProcessorBasedControls::ACTIVATE_SECONDARY_CONTROLS
                .bits()
                .trailing_zeros()
        ),
        BitClass::Fixed0
    );
}

#[test]
fn control_bit_classes() {
    let c = CpuModel::Yonah.capabilities();
    let pin = c.effective_settings(ControlField::PinBased);
    assert_eq!(pin.class(0), BitClass::Flexible); // external-interrupt exiting
    assert_eq!(pin.class(1), BitClass::Fixed1); // default1
    assert_eq!(pin.class(3), BitClass::Flexible); // NMI exiting
    assert_eq!(pin.class(5), BitClass::Fixed0); // virtual NMIs unsupported
    assert_eq!(pin.class(40), BitClass::Fixed0);
    assert!(pin.can_be_1(0));
    assert!(!pin.can_be_1(5));
    assert_eq!(
        ControlField::PinBased.bit_name(0),
        Some("EXTERNAL_INTERRUPT_EXITING")
    );
    assert_eq!(ControlField::PinBased.bit_name(1), None);
    assert_eq!(ControlField::PinBased.bit_name(99), None);
    let _ = PinBasedControls::all();
}

#[test]
fn max_true_msrs_only_relax_default1_bits() {
    let c = CpuModel::Max.capabilities();
    assert!(c.true_ctls());
    for f in [
        ControlField::PinBased,
        ControlField::PrimaryProcessorBased,
        ControlField::VmExit,
        ControlField::VmEntry,
    ] {
        let reported = c.reported_settings(f);
        let t = c.true_settings(f).expect("TRUE MSR present");
        assert_eq!(c.effective_settings(f), t);
        // Same allowed-1 settings; allowed-0 may differ only on default1 bits.
        assert_eq!(t.allowed1, reported.allowed1, "{f:?}");
        assert_eq!((t.allowed0 ^ reported.allowed0) & !f.default1(), 0, "{f:?}");
        assert_eq!(t.allowed0 & !reported.allowed0, 0, "{f:?}");
        assert_eq!(reported.allowed0 & f.default1(), f.default1(), "{f:?}");
    }
    // CR3-load/store exiting (default1 bits 15, 16) may be 0 via TRUE.
    let p = c.effective_settings(ControlField::PrimaryProcessorBased);
    assert_eq!(p.class(15), BitClass::Flexible);
    assert_eq!(
        c.reported_settings(ControlField::PrimaryProcessorBased)
            .class(15),
        BitClass::Fixed1
    );
    // "load debug controls" may be 0 on entry, "save debug controls" on exit.
    assert_eq!(
        c.effective_settings(ControlField::VmEntry).class(2),
        BitClass::Flexible
    );
    assert_eq!(
        c.effective_settings(ControlField::VmExit).class(2),
        BitClass::Flexible
    );
    assert_eq!(
        read_msr(CpuModel::Max, msr::IA32_VMX_TRUE_PROCBASED_CTLS),
        c.true_procbased_ctls
    );
}

#[test]
fn max_offers_the_ia32_feature_set() {
    let c = CpuModel::Max.capabilities();
    let s = c.effective_settings(ControlField::SecondaryProcessorBased);
    for bit in [0, 1, 2, 3, 5, 6, 7, 14] {
        assert!(s.can_be_1(bit), "secondary bit {bit}");
    }
    let pin = c.effective_settings(ControlField::PinBased);
    assert!(pin.can_be_1(5) && pin.can_be_1(6));
    assert!(c.ept_vpid_cap_bit(21), "EPT A/D");
    assert!(c.ept_vpid_cap_bit(6) && c.ept_vpid_cap_bit(14) && c.ept_vpid_cap_bit(32));
    assert!(c.vmwrite_any_field(), "needed for VMCS shadowing");
    assert_eq!(c.read_msr(msr::IA32_VMX_VMFUNC), None);
}

#[test]
fn vmcs_enum_is_consistent_with_catalogue_for_max() {
    let c = CpuModel::Max.capabilities();
    let highest = c
        .existing_fields()
        .map(|(_, f)| f.index())
        .max()
        .unwrap_or(0);
    assert_eq!(c.highest_field_index(), highest);
}

#[test]
fn field_existence_follows_capabilities() {
    let y = CpuModel::Yonah.capabilities();
    let m = CpuModel::Max.capabilities();
    for (e, yonah, max) in [
        (enc::EPT_POINTER, false, true),
        (enc::VIRTUAL_PROCESSOR_ID, false, true),
        (enc::GUEST_PDPTE0, false, true),
        (enc::VMX_PREEMPTION_TIMER_VALUE, false, true),
        (enc::HOST_IA32_PERF_GLOBAL_CTRL, false, true),
        (enc::GUEST_IA32_PAT, false, true),
        (enc::MSR_BITMAPS, true, true),
        (enc::VIRTUAL_APIC_ADDRESS, false, true),
        (enc::PML_ADDRESS, false, false),
        (enc::GUEST_CR0, true, true),
    ] {
        let def = field_def(e).expect("catalogued");
        assert_eq!(y.field_exists(def), yonah, "{}", def.name);
        assert_eq!(m.field_exists(def), max, "{}", def.name);
    }
}

#[test]
fn layouts_fit_the_region() {
    for m in CpuModel::ALL {
        let c = m.capabilities();
        let layout = VmcsLayout::for_caps(&c).expect("fits");
        assert!(layout.size() <= c.region_size(), "{m}");
    }
    // A model whose every field existed would not fit in 1 KiB with one
    // 8-byte slot per field, which is why the layout is compact.
    assert!(8 + 8 * FIELDS.len() as u32 > 1024);
    let mut small = CpuModel::Max.capabilities();
    small.basic &= !(0x1FFF << 32);
    small.basic |= 0x100 << 32;
    assert!(matches!(
        VmcsLayout::for_caps(&small),
        Err(VmxError::RegionTooSmall { .. })
    ));
}

#[test]
fn feature_control_lock_semantics() {
    let mut fc = FeatureControl::at_reset();
    assert!(!fc.locked() && !fc.vmxon_allowed());
    assert_eq!(
        fc.write(FeatureControl::VMX_INSIDE_SMX),
        Err(VmxError::GeneralProtection)
    );
    assert_eq!(fc.write(1 << 20), Err(VmxError::GeneralProtection));
    assert_eq!(fc.write(FeatureControl::VMX_OUTSIDE_SMX), Ok(()));
    assert!(!fc.vmxon_allowed(), "not locked yet");
    assert_eq!(fc.write(5), Ok(()));
    assert!(fc.locked() && fc.vmxon_allowed());
    assert_eq!(fc.write(5), Err(VmxError::GeneralProtection));
    assert_eq!(fc.write(0), Err(VmxError::GeneralProtection));
    assert_eq!(fc.value(), 5);
    assert!(FeatureControl::after_firmware(CpuModel::Yonah).vmxon_allowed());
}

#[test]
fn cpu_model_parses() {
    assert_eq!("yonah".parse::<CpuModel>(), Ok(CpuModel::Yonah));
    assert_eq!("MAX".parse::<CpuModel>(), Ok(CpuModel::Max));
    assert!("core2".parse::<CpuModel>().is_err());
    assert_eq!(CpuModel::Yonah.to_string(), "yonah");
}

#[test]
fn caps_report_decodes_by_name() {
    let y = crate::caps_report(CpuModel::Yonah);
    assert!(y.contains("IA32_VMX_BASIC (480H) = 0x001b040000000005"));
    assert!(y.contains("VMCS revision identifier: 0x5"));
    assert!(y.contains("1024 bytes"));
    assert!(y.contains("EXTERNAL_INTERRUPT_EXITING"));
    assert!(y.contains("IA32_VMX_PROCBASED_CTLS2 (48BH): not implemented"));
    assert!(y.contains("IA32_VMX_TRUE_PINBASED_CTLS (48DH): not implemented"));
    assert!(y.contains("fixed-1 (must be 1): PE NE PG"));
    assert!(y.contains("fixed-1 (must be 1): VMXE"));
    assert!(y.contains("IA32_VMX_EPT_VPID_CAP (48CH): not implemented"));
    let line = y
        .lines()
        .find(|l| l.contains("VIRTUAL_NMIS"))
        .expect("named control listed");
    assert!(line.contains("fixed-0"));
    let m = crate::caps_report(CpuModel::Max);
    assert!(m.contains("ENABLE_EPT"));
    assert!(m.contains("UNRESTRICTED_GUEST"));
    assert!(m.contains("(in effect)"));
    assert!(m.contains("EPT accessed and dirty flags: yes"));
    let line = m
        .lines()
        .find(|l| l.contains("ENABLE_VPID"))
        .expect("named control listed");
    assert!(line.contains("flexible"));
}
