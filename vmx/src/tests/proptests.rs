//! Property tests: random VMCS contents and memory never panic and always
//! give success or a named failure with its SDM class.

use super::support::{valid_vmcs_for, TestMemory};
use crate::caps::CpuModel;
use crate::entry_checks::{check_vm_entry, CpuContext, EntryEnvironment};
use crate::fields::FIELDS;
use crate::region::VmcsMemory;
use crate::vmcs::Vmcs;
use proptest::prelude::*;

/// Memory whose every dword is a hash of its address and a seed.
struct RandomMemory(u64);

impl EntryEnvironment for RandomMemory {
    fn read_u32(&self, pa: u64) -> u32 {
        let mut x = pa ^ self.0;
        x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 29;
        (x >> 16) as u32
    }
    fn wrmsr_faults(&self, index: u32, value: u64) -> bool {
        (index ^ value as u32) & 0x40 != 0
    }
}

fn model() -> impl Strategy<Value = CpuModel> {
    prop_oneof![Just(CpuModel::Yonah), Just(CpuModel::Max)]
}

fn check_outcome(model: CpuModel, v: &Vmcs, seed: u64, in_smm: bool) {
    let caps = model.capabilities();
    let cpu = CpuContext {
        in_smm,
        efer_lma: false,
        current_vmcs_pointer: seed & !0xFFF,
    };
    match check_vm_entry(&caps, v, &cpu, &RandomMemory(seed)) {
        Ok(()) => {}
        Err(f) => assert_eq!(f.class, f.check.class()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_vmcs_never_panics(
        model in model(),
        values in proptest::collection::vec(any::<u64>(), FIELDS.len()),
        seed in any::<u64>(),
        in_smm in any::<bool>(),
    ) {
        let mut v = Vmcs::new(model.capabilities());
        for (f, val) in FIELDS.iter().zip(values) {
            v.set(f.encoding, val);
        }
        check_outcome(model, &v, seed, in_smm);
    }

    #[test]
    fn mutated_valid_vmcs_never_panics(
        model in model(),
        edits in proptest::collection::vec((0..FIELDS.len(), any::<u64>(), 0u8..4), 1..4),
        seed in any::<u64>(),
        in_smm in any::<bool>(),
    ) {
        let mut v = valid_vmcs_for(model);
        for (i, val, mode) in edits {
            let f = &FIELDS[i];
            let old = v.get(f.encoding);
            let new = match mode {
                0 => val,
                1 => old ^ (1 << (val % 64)),
                2 => old | (val & 0xFF),
                _ => old & !(1 << (val % 32)),
            };
            v.set(f.encoding, new);
        }
        check_outcome(model, &v, seed, in_smm);
    }

    #[test]
    fn vmread_vmwrite_never_panic(
        model in model(),
        ops in proptest::collection::vec((any::<u32>(), any::<u32>(), any::<bool>()), 1..64),
    ) {
        let caps = model.capabilities();
        let mut v = Vmcs::new(caps);
        for (encoding, value, write) in ops {
            let r = if write { v.vmwrite(encoding, value) } else { v.vmread(encoding).map(|_| ()) };
            if let Err(e) = r {
                prop_assert!(e.number() == 12 || e.number() == 13);
            }
        }
    }

    #[test]
    fn region_load_of_random_memory_never_panics(
        model in model(),
        words in proptest::collection::vec(any::<u32>(), 256),
        pa in any::<u64>(),
    ) {
        let mut mem = TestMemory::default();
        let base = pa & !3;
        for (i, w) in words.iter().enumerate() {
            mem.write_u32(base.wrapping_add(4 * i as u64), *w);
        }
        let v = Vmcs::load(model.capabilities(), &mem, base).unwrap();
        let mut out = TestMemory::default();
        v.store(&mut out, base).unwrap();
        let again = Vmcs::load(model.capabilities(), &out, base).unwrap();
        prop_assert_eq!(again, v);
    }
}

mod encodings {
    use crate::exit::instruction_info::{
        GdtrIdtrInstructionInfo, LdtrTrInstructionInfo, VmxInstructionInfo,
    };
    use crate::exit::qualification::{
        CrAccessQualification, DebugExceptionQualification, EptViolationQualification,
        IoQualification, MovDrQualification, TaskSwitchQualification,
    };
    use crate::exit::{ExitReason, ExitReasonField, InterruptionInfo};
    use proptest::prelude::*;

    proptest! {
        /// decode then encode keeps exactly the defined bits.
        #[test]
        fn qualification_round_trips(q in any::<u32>()) {
            let q = u64::from(q);
            prop_assert_eq!(CrAccessQualification::decode(q).encode(), q & 0xFFFF_0F7F);
            prop_assert_eq!(MovDrQualification::decode(q).encode(), q & 0xF17);
            prop_assert_eq!(IoQualification::decode(q).encode(), q & 0xFFFF_007F);
            prop_assert_eq!(TaskSwitchQualification::decode(q).encode(), q & 0xC000_FFFF);
            prop_assert_eq!(DebugExceptionQualification::decode(q).encode(), q & 0x1_600F);
            prop_assert_eq!(EptViolationQualification::decode(q).encode(), q & 0x11FF);
        }

        #[test]
        fn information_fields_round_trip(v in any::<u32>()) {
            prop_assert_eq!(InterruptionInfo::decode(v).encode(), v);
            prop_assert_eq!(ExitReasonField::decode(v).encode(), v & 0x9800_FFFF);
            let vmx = VmxInstructionInfo::decode(v);
            prop_assert_eq!(VmxInstructionInfo::decode(vmx.encode()), vmx);
            let g = GdtrIdtrInstructionInfo::decode(v);
            prop_assert_eq!(GdtrIdtrInstructionInfo::decode(g.encode()), g);
            let l = LdtrTrInstructionInfo::decode(v);
            prop_assert_eq!(LdtrTrInstructionInfo::decode(l.encode()), l);
        }

        #[test]
        fn exit_reason_from_u16_is_consistent(n in any::<u16>()) {
            if let Some(r) = ExitReason::from_u16(n) {
                prop_assert_eq!(r.as_u16(), n);
            }
        }
    }
}
