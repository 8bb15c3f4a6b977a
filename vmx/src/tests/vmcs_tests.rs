//! VMREAD/VMWRITE over the whole catalogue, region layout, dump, errors.

use super::support::TestMemory;
use crate::caps::CpuModel;
use crate::encoding::{Encoding, FieldWidth};
use crate::error::VmInstructionError as E;
use crate::fields::{enc, FIELDS};
use crate::region::{read_header, write_launch_state, VmcsLayout};
use crate::vmcs::{LaunchState, Vmcs};

#[test]
fn catalogue_is_well_formed() {
    for (i, f) in FIELDS.iter().enumerate() {
        assert_eq!(f.encoding & 1, 0, "{} uses a full encoding", f.name);
        let d = Encoding::decode(f.encoding).expect("no reserved bits");
        assert_eq!(d.width, f.width);
        assert_eq!(d.kind, f.kind);
        assert_eq!(d.encode(), f.encoding);
        assert!(
            FIELDS
                .iter()
                .skip(i + 1)
                .all(|g| g.encoding != f.encoding && g.name != f.name),
            "duplicate {}",
            f.name
        );
    }
    assert_eq!(FIELDS.len(), 156);
}

#[test]
fn vmread_vmwrite_round_trip_over_catalogue() {
    for model in CpuModel::ALL {
        let caps = model.capabilities();
        let mut v = Vmcs::new(caps);
        for (_, f) in caps.existing_fields() {
            let full = f.encoding;
            let ro = f.is_read_only() && !caps.vmwrite_any_field();
            let r = v.vmwrite(full, 0xDEAD_BEEF);
            if ro {
                assert_eq!(r, Err(E::VmwriteReadOnlyComponent), "{}", f.name);
                // Processor-internal writes still work.
                assert!(v.set(full, 0xDEAD_BEEF));
            } else {
                assert_eq!(r, Ok(()), "{}", f.name);
            }
            let expect = match f.width {
                FieldWidth::Bits16 => 0xBEEF,
                _ => 0xDEAD_BEEF,
            };
            assert_eq!(v.vmread(full), Ok(expect), "{}", f.name);
            assert_eq!(v.get(full), u64::from(expect), "{}", f.name);
            if f.width == FieldWidth::Bits64 {
                let high = full | 1;
                assert_eq!(v.vmread(high), Ok(0), "{}", f.name);
                if !ro {
                    assert_eq!(v.vmwrite(high, 0x1234_5678), Ok(()));
                    assert_eq!(v.vmread(high), Ok(0x1234_5678));
                    assert_eq!(v.vmread(full), Ok(0xDEAD_BEEF));
                    assert_eq!(v.get(full), 0x1234_5678_DEAD_BEEF);
                    // A full write with a 32-bit operand clears bits 63:32.
                    assert_eq!(v.vmwrite(full, 7), Ok(()));
                    assert_eq!(v.get(full), 7);
                }
            } else {
                assert_eq!(
                    v.vmread(full | 1),
                    Err(E::UnsupportedVmcsComponent),
                    "{}",
                    f.name
                );
                assert_eq!(v.vmwrite(full | 1, 0), Err(E::UnsupportedVmcsComponent));
            }
        }
    }
}

#[test]
fn read_only_fields_writable_only_with_misc_bit_29() {
    let mut y = Vmcs::new(CpuModel::Yonah.capabilities());
    assert_eq!(
        y.vmwrite(enc::EXIT_QUALIFICATION, 1),
        Err(E::VmwriteReadOnlyComponent)
    );
    assert_eq!(
        y.vmwrite(enc::VM_INSTRUCTION_ERROR, 1),
        Err(E::VmwriteReadOnlyComponent)
    );
    let mut m = Vmcs::new(CpuModel::Max.capabilities());
    assert_eq!(m.vmwrite(enc::EXIT_QUALIFICATION, 1), Ok(()));
    assert_eq!(m.vmread(enc::EXIT_QUALIFICATION), Ok(1));
}

#[test]
fn every_encoding_is_classified() {
    for model in CpuModel::ALL {
        let caps = model.capabilities();
        let v = Vmcs::new(caps);
        for raw in 0u32..0x1_0000 {
            let full = raw & !1;
            let def = FIELDS.iter().find(|f| f.encoding == full);
            let expect_ok = match def {
                Some(d) if caps.field_exists(d) && raw & 0xFFFF_9000 == 0 => {
                    raw & 1 == 0 || d.width == FieldWidth::Bits64
                }
                _ => false,
            };
            let r = v.vmread(raw);
            assert_eq!(r.is_ok(), expect_ok, "{model} {raw:#x}");
            if !expect_ok {
                assert_eq!(r, Err(E::UnsupportedVmcsComponent));
            }
        }
        assert_eq!(v.vmread(0x8000_0800), Err(E::UnsupportedVmcsComponent));
    }
}

#[test]
fn unsupported_encodings_give_error_12() {
    let mut y = Vmcs::new(CpuModel::Yonah.capabilities());
    let mut m = Vmcs::new(CpuModel::Max.capabilities());
    // Not catalogued (tertiary controls, HLAT prefix size, guest S_CET).
    for e in [0x2034, 0x0006, 0x6828, 0x482C] {
        assert_eq!(y.vmread(e), Err(E::UnsupportedVmcsComponent));
        assert_eq!(m.vmwrite(e, 0), Err(E::UnsupportedVmcsComponent));
    }
    // Catalogued but absent on Yonah.
    assert_eq!(
        y.vmwrite(enc::EPT_POINTER, 0),
        Err(E::UnsupportedVmcsComponent)
    );
    assert_eq!(
        y.vmread(enc::VIRTUAL_PROCESSOR_ID),
        Err(E::UnsupportedVmcsComponent)
    );
    assert_eq!(m.vmwrite(enc::VIRTUAL_PROCESSOR_ID, 1), Ok(()));
    // Reserved encoding bits.
    assert_eq!(
        m.vmread(enc::GUEST_CR0 | 0x1000),
        Err(E::UnsupportedVmcsComponent)
    );
    assert!(!y.set(enc::EPT_POINTER, 1));
    assert_eq!(y.get(enc::EPT_POINTER), 0);
}

#[test]
fn truncation_rules() {
    let mut v = Vmcs::new(CpuModel::Yonah.capabilities());
    v.vmwrite(enc::GUEST_CS_SELECTOR, 0xFFFF_1234).unwrap();
    assert_eq!(v.vmread(enc::GUEST_CS_SELECTOR), Ok(0x1234));
    v.vmwrite(enc::GUEST_RIP, 0xFFFF_FFFF).unwrap();
    assert_eq!(v.get(enc::GUEST_RIP), 0xFFFF_FFFF);
    assert!(v.set(enc::GUEST_RIP, 0x1_2345_6789));
    assert_eq!(
        v.get(enc::GUEST_RIP),
        0x2345_6789,
        "natural width is 32 bits"
    );
    assert!(v.set(enc::GUEST_ES_SELECTOR, 0x1_0001));
    assert_eq!(v.get(enc::GUEST_ES_SELECTOR), 1);
}

#[test]
fn region_round_trip_and_launch_state() {
    for model in CpuModel::ALL {
        let caps = model.capabilities();
        let mut v = Vmcs::new(caps);
        for (i, (_, f)) in caps.existing_fields().enumerate() {
            let val = 0x0123_4567_89AB_CDEFu64.rotate_left(i as u32);
            assert!(v.set(f.encoding, val));
        }
        v.launch_state = LaunchState::Launched;
        v.abort_indicator = 0x55;
        v.shadow = true;
        let mut mem = TestMemory::default();
        let pa = 0x10_0000;
        v.store(&mut mem, pa).unwrap();
        assert_eq!(read_header(&mem, pa), (caps.revision_id(), true));
        let loaded = Vmcs::load(caps, &mem, pa).unwrap();
        assert_eq!(loaded, v, "{model}");
        assert_eq!(loaded.dump(), v.dump());
        // VMCLEAR writes back with launch state clear.
        let mut cur = loaded;
        cur.vmclear(&mut mem, pa).unwrap();
        assert_eq!(
            Vmcs::load(caps, &mem, pa).unwrap().launch_state,
            LaunchState::Clear
        );
        write_launch_state(&mut mem, pa, LaunchState::Launched);
        assert_eq!(
            Vmcs::load(caps, &mem, pa).unwrap().launch_state,
            LaunchState::Launched
        );
        // Every field lies inside the region, without overlaps.
        let layout = VmcsLayout::for_caps(&caps).unwrap();
        let mut spans: Vec<(u32, u32)> = (0..FIELDS.len())
            .filter_map(|i| {
                let f = &FIELDS[i];
                layout.offset(i).map(|o| (o, o + f.width.storage_bytes()))
            })
            .collect();
        spans.sort();
        assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0));
        assert!(spans.last().unwrap().1 <= caps.region_size());
    }
}

#[test]
fn dump_lists_existing_fields_by_name() {
    let mut v = Vmcs::new(CpuModel::Yonah.capabilities());
    v.vmwrite(enc::GUEST_CR0, 0x8000_0031).unwrap();
    let d = crate::vmcs::dump(&v);
    assert!(d.contains(&("GUEST_CR0", 0x8000_0031)));
    assert!(!d.iter().any(|(n, _)| *n == "EPT_POINTER"));
    assert_eq!(d.len(), v.caps().existing_fields().count());
}

#[test]
fn vm_instruction_error_numbers() {
    for n in 0..=30 {
        let e = E::from_number(n);
        match n {
            1..=13 | 15..=20 | 22..=26 | 28 => assert_eq!(e.map(|e| e.number()), Some(n)),
            _ => assert_eq!(e, None, "{n}"),
        }
    }
    assert_eq!(E::UnsupportedVmcsComponent.number(), 12);
    assert_eq!(E::VmwriteReadOnlyComponent.number(), 13);
    assert_eq!(E::EntryInvalidControlFields.number(), 7);
    assert_eq!(E::EntryInvalidHostStateFields.number(), 8);
}
