//! Exit qualifications (SDM §27.2.1, Tables 27-1 to 27-7).
//!
//! Each type decodes the natural-width exit-qualification field (32 bits on
//! an IA-32 processor; the EPT-violation and debug-exception layouts fit in
//! it) and encodes back. Undefined bits are dropped by `decode`.

/// Exit qualification for debug exceptions (Table 27-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DebugExceptionQualification {
    /// Bits 3:0: B3-B0, breakpoint conditions met.
    pub breakpoints: u8,
    /// Bit 13: BD, debug-register access detected.
    pub bd: bool,
    /// Bit 14: BS, single-step.
    pub bs: bool,
    /// Bit 16: RTM region.
    pub rtm: bool,
}

impl DebugExceptionQualification {
    /// Decodes.
    pub const fn decode(q: u64) -> Self {
        Self {
            breakpoints: (q & 0xF) as u8,
            bd: q & (1 << 13) != 0,
            bs: q & (1 << 14) != 0,
            rtm: q & (1 << 16) != 0,
        }
    }
    /// Encodes.
    pub const fn encode(&self) -> u64 {
        (self.breakpoints & 0xF) as u64
            | (self.bd as u64) << 13
            | (self.bs as u64) << 14
            | (self.rtm as u64) << 16
    }
}

/// Source of a task switch (bits 31:30 of Table 27-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskSwitchSource {
    /// 0: CALL instruction.
    Call,
    /// 1: IRET instruction.
    Iret,
    /// 2: JMP instruction.
    Jmp,
    /// 3: task gate in IDT.
    TaskGateInIdt,
}

/// Exit qualification for task switches (Table 27-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskSwitchQualification {
    /// Bits 15:0: selector of the task-state segment.
    pub tss_selector: u16,
    /// Bits 31:30: source of the task switch.
    pub source: TaskSwitchSource,
}

impl TaskSwitchQualification {
    /// Decodes.
    pub const fn decode(q: u64) -> Self {
        Self {
            tss_selector: q as u16,
            source: match (q >> 30) & 3 {
                0 => TaskSwitchSource::Call,
                1 => TaskSwitchSource::Iret,
                2 => TaskSwitchSource::Jmp,
                _ => TaskSwitchSource::TaskGateInIdt,
            },
        }
    }
    /// Encodes.
    pub const fn encode(&self) -> u64 {
        let s = match self.source {
            TaskSwitchSource::Call => 0u64,
            TaskSwitchSource::Iret => 1,
            TaskSwitchSource::Jmp => 2,
            TaskSwitchSource::TaskGateInIdt => 3,
        };
        self.tss_selector as u64 | s << 30
    }
}

/// Exit qualification for INVLPG (and INVPCID/INVEPT displacement forms):
/// the linear-address operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InvlpgQualification {
    /// Linear-address operand (32 bits on IA-32).
    pub linear_address: u32,
}

impl InvlpgQualification {
    /// Decodes.
    pub const fn decode(q: u64) -> Self {
        Self {
            linear_address: q as u32,
        }
    }
    /// Encodes.
    pub const fn encode(&self) -> u64 {
        self.linear_address as u64
    }
}

/// Access type of a control-register access (bits 5:4 of Table 27-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrAccessType {
    /// 0: MOV to CR.
    MovToCr,
    /// 1: MOV from CR.
    MovFromCr,
    /// 2: CLTS.
    Clts,
    /// 3: LMSW.
    Lmsw,
}

/// Exit qualification for control-register accesses (Table 27-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CrAccessQualification {
    /// Bits 3:0: number of the control register (0 for CLTS and LMSW).
    pub cr: u8,
    /// Bits 5:4: access type.
    pub access: CrAccessType,
    /// Bit 6: LMSW operand type (false register, true memory).
    pub lmsw_memory_operand: bool,
    /// Bits 11:8: general-purpose register for MOV CR (0 EAX ... 7 EDI).
    pub gpr: u8,
    /// Bits 31:16: LMSW source data.
    pub lmsw_source: u16,
}

impl CrAccessQualification {
    /// Decodes.
    pub const fn decode(q: u64) -> Self {
        Self {
            cr: (q & 0xF) as u8,
            access: match (q >> 4) & 3 {
                0 => CrAccessType::MovToCr,
                1 => CrAccessType::MovFromCr,
                2 => CrAccessType::Clts,
                _ => CrAccessType::Lmsw,
            },
            lmsw_memory_operand: q & (1 << 6) != 0,
            gpr: ((q >> 8) & 0xF) as u8,
            lmsw_source: (q >> 16) as u16,
        }
    }
    /// Encodes.
    pub const fn encode(&self) -> u64 {
        let a = match self.access {
            CrAccessType::MovToCr => 0u64,
            CrAccessType::MovFromCr => 1,
            CrAccessType::Clts => 2,
            CrAccessType::Lmsw => 3,
        };
        (self.cr & 0xF) as u64
            | a << 4
            | (self.lmsw_memory_operand as u64) << 6
            | ((self.gpr & 0xF) as u64) << 8
            | (self.lmsw_source as u64) << 16
    }
}

/// Exit qualification for MOV DR (Table 27-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MovDrQualification {
    /// Bits 2:0: number of the debug register.
    pub dr: u8,
    /// Bit 4: direction (false MOV to DR, true MOV from DR).
    pub from_dr: bool,
    /// Bits 11:8: general-purpose register.
    pub gpr: u8,
}

impl MovDrQualification {
    /// Decodes.
    pub const fn decode(q: u64) -> Self {
        Self {
            dr: (q & 7) as u8,
            from_dr: q & (1 << 4) != 0,
            gpr: ((q >> 8) & 0xF) as u8,
        }
    }
    /// Encodes.
    pub const fn encode(&self) -> u64 {
        (self.dr & 7) as u64 | (self.from_dr as u64) << 4 | ((self.gpr & 0xF) as u64) << 8
    }
}

/// Exit qualification for I/O instructions (Table 27-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IoQualification {
    /// Bits 2:0: size of access (0 = 1 byte, 1 = 2 bytes, 3 = 4 bytes).
    pub size_code: u8,
    /// Bit 3: direction (false OUT, true IN).
    pub input: bool,
    /// Bit 4: string instruction.
    pub string: bool,
    /// Bit 5: REP prefixed.
    pub rep: bool,
    /// Bit 6: operand encoding (false DX, true immediate).
    pub immediate: bool,
    /// Bits 31:16: port number.
    pub port: u16,
}

impl IoQualification {
    /// Access size in bytes (1, 2 or 4) from the size code; `None` for
    /// undefined codes.
    pub const fn size_bytes(&self) -> Option<u8> {
        match self.size_code {
            0 => Some(1),
            1 => Some(2),
            3 => Some(4),
            _ => None,
        }
    }
    /// Decodes.
    pub const fn decode(q: u64) -> Self {
        Self {
            size_code: (q & 7) as u8,
            input: q & (1 << 3) != 0,
            string: q & (1 << 4) != 0,
            rep: q & (1 << 5) != 0,
            immediate: q & (1 << 6) != 0,
            port: (q >> 16) as u16,
        }
    }
    /// Encodes.
    pub const fn encode(&self) -> u64 {
        (self.size_code & 7) as u64
            | (self.input as u64) << 3
            | (self.string as u64) << 4
            | (self.rep as u64) << 5
            | (self.immediate as u64) << 6
            | (self.port as u64) << 16
    }
}

/// Exit qualification for EPT violations (Table 27-7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EptViolationQualification {
    /// Bit 0: data read.
    pub read: bool,
    /// Bit 1: data write.
    pub write: bool,
    /// Bit 2: instruction fetch.
    pub fetch: bool,
    /// Bit 3: the guest-physical address was readable.
    pub readable: bool,
    /// Bit 4: the guest-physical address was writable.
    pub writable: bool,
    /// Bit 5: the guest-physical address was executable.
    pub executable: bool,
    /// Bit 6: executable for user-mode linear addresses (mode-based
    /// execute control).
    pub user_executable: bool,
    /// Bit 7: the guest linear-address field is valid.
    pub linear_address_valid: bool,
    /// Bit 8: (if bit 7) the access was to the translated linear address
    /// rather than to a paging-structure entry.
    pub translated_access: bool,
    /// Bit 12: NMI unblocking due to IRET.
    pub nmi_unblocking: bool,
}

impl EptViolationQualification {
    /// Decodes.
    pub const fn decode(q: u64) -> Self {
        Self {
            read: q & 1 != 0,
            write: q & 2 != 0,
            fetch: q & 4 != 0,
            readable: q & 8 != 0,
            writable: q & 16 != 0,
            executable: q & 32 != 0,
            user_executable: q & 64 != 0,
            linear_address_valid: q & 128 != 0,
            translated_access: q & 256 != 0,
            nmi_unblocking: q & (1 << 12) != 0,
        }
    }
    /// Encodes.
    pub const fn encode(&self) -> u64 {
        self.read as u64
            | (self.write as u64) << 1
            | (self.fetch as u64) << 2
            | (self.readable as u64) << 3
            | (self.writable as u64) << 4
            | (self.executable as u64) << 5
            | (self.user_executable as u64) << 6
            | (self.linear_address_valid as u64) << 7
            | (self.translated_access as u64) << 8
            | (self.nmi_unblocking as u64) << 12
    }
}

/// Exit qualification of a VM-entry failure due to invalid guest state
/// (SDM §26.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum EntryFailureQualification {
    /// 0: default.
    Default = 0,
    /// 2: failure loading the PDPTEs.
    PdpteLoad = 2,
    /// 3: injection of an NMI into a guest with blocking by STI.
    NmiInjection = 3,
    /// 4: invalid VMCS link pointer.
    InvalidVmcsLinkPointer = 4,
}
