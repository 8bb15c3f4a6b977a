//! Exit reasons, qualifications, interruption and instruction information.

use crate::exit::instruction_info::{
    AddressSize, GdtrIdtrInstruction, GdtrIdtrInstructionInfo, InsOutsInstructionInfo,
    LdtrTrInstruction, LdtrTrInstructionInfo, MemoryOperand, VmxInstructionInfo,
};
use crate::exit::qualification::{
    CrAccessQualification, CrAccessType, DebugExceptionQualification, EptViolationQualification,
    InvlpgQualification, IoQualification, MovDrQualification, TaskSwitchQualification,
    TaskSwitchSource,
};
use crate::exit::{ExitReason, ExitReasonField, InterruptionInfo, InterruptionType};

#[test]
fn exit_reasons_round_trip() {
    assert_eq!(ExitReason::ALL.len(), 76);
    for r in ExitReason::ALL {
        assert_eq!(ExitReason::from_u16(r.as_u16()), Some(*r));
        assert_eq!(ExitReason::from_u16(*r as u16), Some(*r));
    }
    for n in [35u16, 38, 42, 71, 80, 0xFFFF] {
        assert_eq!(ExitReason::from_u16(n), None, "{n}");
    }
    assert_eq!(ExitReason::Cpuid as u16, 10);
    assert_eq!(ExitReason::ControlRegisterAccess as u16, 28);
    assert_eq!(ExitReason::EptViolation as u16, 48);
    assert_eq!(ExitReason::VmxPreemptionTimerExpired as u16, 52);
    assert_eq!(ExitReason::Wrmsrlist as u16, 79);
    assert_eq!(ExitReason::Hlt.name(), "Hlt");
}

#[test]
fn exit_reason_field() {
    let f = ExitReasonField::entry_failure(ExitReason::EntryFailureInvalidGuestState);
    assert_eq!(f.encode(), 0x8000_0021);
    assert_eq!(ExitReasonField::decode(0x8000_0021), f);
    assert_eq!(f.reason(), Some(ExitReason::EntryFailureInvalidGuestState));
    assert_eq!(ExitReasonField::exit(ExitReason::Hlt).encode(), 12);
}

#[test]
fn cr_access_qualification() {
    // MOV CR3, EBX: cr 3, type 0, register 3.
    let q = CrAccessQualification::decode(0x303);
    assert_eq!(q.cr, 3);
    assert_eq!(q.access, CrAccessType::MovToCr);
    assert_eq!(q.gpr, 3);
    assert_eq!(q.encode(), 0x303);
    // LMSW from memory with source 0x000B.
    let l = CrAccessQualification {
        cr: 0,
        access: CrAccessType::Lmsw,
        lmsw_memory_operand: true,
        gpr: 0,
        lmsw_source: 0xB,
    };
    assert_eq!(l.encode(), 0x000B_0070);
    assert_eq!(CrAccessQualification::decode(l.encode()), l);
    assert_eq!(
        CrAccessQualification::decode(0x20).access,
        CrAccessType::Clts
    );
    assert_eq!(
        CrAccessQualification::decode(0x10).access,
        CrAccessType::MovFromCr
    );
}

#[test]
fn mov_dr_and_io_qualifications() {
    let d = MovDrQualification {
        dr: 7,
        from_dr: true,
        gpr: 1,
    };
    assert_eq!(d.encode(), 0x117);
    assert_eq!(MovDrQualification::decode(0x117), d);
    // IN AL, 0x60 (immediate): size 0, in, imm, port 0x60.
    let io = IoQualification::decode(0x0060_0048);
    assert!(io.input && io.immediate && !io.string && !io.rep);
    assert_eq!((io.port, io.size_bytes()), (0x60, Some(1)));
    assert_eq!(io.encode(), 0x0060_0048);
    // REP OUTSD via DX to port 0x3F8.
    let o = IoQualification {
        size_code: 3,
        input: false,
        string: true,
        rep: true,
        immediate: false,
        port: 0x3F8,
    };
    assert_eq!(IoQualification::decode(o.encode()), o);
    assert_eq!(o.size_bytes(), Some(4));
    assert_eq!(IoQualification::decode(2).size_bytes(), None);
}

#[test]
fn task_switch_invlpg_debug_ept_qualifications() {
    let t = TaskSwitchQualification {
        tss_selector: 0x28,
        source: TaskSwitchSource::TaskGateInIdt,
    };
    assert_eq!(t.encode(), 0xC000_0028);
    assert_eq!(TaskSwitchQualification::decode(0xC000_0028), t);
    assert_eq!(
        TaskSwitchQualification::decode(0x4000_0010).source,
        TaskSwitchSource::Iret
    );
    assert_eq!(
        InvlpgQualification::decode(0xC000_1000).encode(),
        0xC000_1000
    );
    let d = DebugExceptionQualification {
        breakpoints: 0b0101,
        bd: false,
        bs: true,
        rtm: false,
    };
    assert_eq!(d.encode(), 0x4005);
    assert_eq!(DebugExceptionQualification::decode(0x4005), d);
    let e = EptViolationQualification {
        write: true,
        readable: true,
        linear_address_valid: true,
        translated_access: true,
        ..Default::default()
    };
    assert_eq!(e.encode(), 0x18A);
    assert_eq!(EptViolationQualification::decode(0x18A), e);
    assert!(EptViolationQualification::decode(1 << 12).nmi_unblocking);
}

#[test]
fn interruption_information() {
    // #PF with error code, valid.
    let i = InterruptionInfo::decode(0x8000_0B0E);
    assert!(i.valid && i.error_code);
    assert_eq!(
        (i.vector, i.kind),
        (14, InterruptionType::HardwareException)
    );
    assert_eq!(i.encode(), 0x8000_0B0E);
    let nmi = InterruptionInfo::new(2, InterruptionType::Nmi, false);
    assert_eq!(nmi.encode(), 0x8000_0202);
    let types = [
        (0, InterruptionType::ExternalInterrupt),
        (2, InterruptionType::Nmi),
        (3, InterruptionType::HardwareException),
        (4, InterruptionType::SoftwareInterrupt),
        (5, InterruptionType::PrivilegedSoftwareException),
        (6, InterruptionType::SoftwareException),
        (7, InterruptionType::OtherEvent),
    ];
    for (code, t) in types {
        assert_eq!(InterruptionType::from_code(code), t);
        assert_eq!(t.code(), code);
    }
    assert!(InterruptionType::SoftwareInterrupt.is_software());
    assert!(!InterruptionType::Nmi.is_software());
    let unblock = InterruptionInfo::decode(0x8000_1300 | 8);
    assert!(unblock.nmi_unblocking);
    assert_eq!(InterruptionInfo::decode(u32::MAX).encode(), u32::MAX);
}

#[test]
fn vmx_instruction_information() {
    // VMREAD [EBX + ESI*4], EAX-encoding in ECX: scaling 2, 32-bit address,
    // memory, DS, index ESI, base EBX, reg2 ECX.
    let info = VmxInstructionInfo {
        reg1: 0,
        register_operand: false,
        mem: MemoryOperand {
            scaling: 2,
            address_size: AddressSize::Bits32,
            segment: 3,
            index: Some(6),
            base: Some(3),
        },
        reg2: 1,
    };
    let raw = info.encode();
    assert_eq!(
        raw,
        2 | (1 << 7) | (3 << 15) | (6 << 18) | (3 << 23) | (1 << 28)
    );
    assert_eq!(VmxInstructionInfo::decode(raw), info);
    // Register form: VMWRITE EAX <- EDX.
    let r = VmxInstructionInfo::decode((2 << 3) | (1 << 10) | (1 << 22) | (1 << 27));
    assert!(r.register_operand);
    assert_eq!((r.reg1, r.mem.index, r.mem.base), (2, None, None));
}

#[test]
fn descriptor_table_instruction_information() {
    let g = GdtrIdtrInstructionInfo {
        mem: MemoryOperand {
            scaling: 0,
            address_size: AddressSize::Bits16,
            segment: 2,
            index: None,
            base: Some(5),
        },
        operand_size_32: true,
        instruction: GdtrIdtrInstruction::Lidt,
    };
    assert_eq!(GdtrIdtrInstructionInfo::decode(g.encode()), g);
    assert_eq!(g.encode() >> 28, 3);
    let l = LdtrTrInstructionInfo {
        reg1: 7,
        register_operand: true,
        mem: MemoryOperand {
            scaling: 0,
            address_size: AddressSize::Bits32,
            segment: 0,
            index: None,
            base: None,
        },
        instruction: LdtrTrInstruction::Ltr,
    };
    assert_eq!(LdtrTrInstructionInfo::decode(l.encode()), l);
    let io = InsOutsInstructionInfo {
        address_size: AddressSize::Bits32,
        segment: 3,
    };
    assert_eq!(io.encode(), (1 << 7) | (3 << 15));
    assert_eq!(InsOutsInstructionInfo::decode(io.encode()), io);
    assert_eq!(
        InsOutsInstructionInfo::decode(5 << 7).address_size,
        AddressSize::Undefined(5)
    );
}
