//! Exceptions and interrupts as values (SDM Vol. 3 §6.3, Table 6-1).

/// Exception vectors (SDM Vol. 3 Table 6-1).
pub mod vector {
    pub const DE: u8 = 0;
    pub const DB: u8 = 1;
    pub const NMI: u8 = 2;
    pub const BP: u8 = 3;
    pub const OF: u8 = 4;
    pub const BR: u8 = 5;
    pub const UD: u8 = 6;
    pub const NM: u8 = 7;
    pub const DF: u8 = 8;
    pub const TS: u8 = 10;
    pub const NP: u8 = 11;
    pub const SS: u8 = 12;
    pub const GP: u8 = 13;
    pub const PF: u8 = 14;
    pub const MF: u8 = 16;
    pub const AC: u8 = 17;
    pub const MC: u8 = 18;
    pub const XM: u8 = 19;
}

/// How an event was raised: decides the saved EIP and the privilege check on the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EventKind {
    /// A fault: the saved EIP is the faulting instruction's.
    Fault,
    /// A trap raised by an instruction (INT3, INTO): saved EIP is the next instruction's;
    /// the gate DPL is checked against CPL (SDM Vol. 3 §6.12.1.1).
    SoftwareTrap,
    /// INT n: like `SoftwareTrap`.
    SoftwareInt,
    /// An external interrupt or NMI (no DPL check, no error code).
    External,
}

/// An exception or interrupt to deliver. Eight bytes, so that `Result<(), Exception>`, the
/// return type of every instruction handler, comes back in a register.
///
/// `repr(C)` with `kind` first puts the niche that encodes `Ok(())` in the lowest byte, so
/// the run loop tests a handler's result with one byte compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct Exception {
    pub kind: EventKind,
    pub vector: u8,
    pub(crate) has_code: bool,
    pub(crate) code: u32,
}

impl Exception {
    /// An event with an optional error code.
    pub const fn new(vector: u8, error_code: Option<u32>, kind: EventKind) -> Self {
        match error_code {
            Some(code) => Self {
                vector,
                kind,
                has_code: true,
                code,
            },
            None => Self {
                vector,
                kind,
                has_code: false,
                code: 0,
            },
        }
    }

    /// The error code pushed on delivery, if this event has one.
    pub const fn error_code(&self) -> Option<u32> {
        if self.has_code {
            Some(self.code)
        } else {
            None
        }
    }

    /// Replaces the error code.
    pub fn set_error_code(&mut self, code: Option<u32>) {
        *self = Self::new(self.vector, code, self.kind);
    }

    /// A fault without error code (#DE, #UD, #NM, ...).
    pub const fn fault(vector: u8) -> Self {
        Self::new(vector, None, EventKind::Fault)
    }
    /// A fault with an error code (#TS, #NP, #SS, #GP, #PF, #AC, #DF).
    pub const fn fault_code(vector: u8, code: u32) -> Self {
        Self::new(vector, Some(code), EventKind::Fault)
    }
    /// #GP(code).
    pub const fn gp(code: u32) -> Self {
        Self::fault_code(vector::GP, code)
    }
    /// #SS(code).
    pub const fn ss(code: u32) -> Self {
        Self::fault_code(vector::SS, code)
    }
    /// #UD.
    pub const fn ud() -> Self {
        Self::fault(vector::UD)
    }

    /// Exception class for double-fault detection (SDM Vol. 3 Table 6-4).
    pub fn class(&self) -> ExceptionClass {
        match self.vector {
            vector::DE | 10..=13 => ExceptionClass::Contributory,
            vector::PF => ExceptionClass::PageFault,
            vector::DF => ExceptionClass::DoubleFault,
            _ => ExceptionClass::Benign,
        }
    }

    /// Mnemonic for messages (#GP, #PF, ...).
    pub fn name(&self) -> &'static str {
        const NAMES: [&str; 20] = [
            "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO", "#TS", "#NP",
            "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM",
        ];
        NAMES.get(self.vector as usize).copied().unwrap_or("INT")
    }
}

/// Exception classes of SDM Vol. 3 Table 6-4/6-5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExceptionClass {
    Benign,
    Contributory,
    PageFault,
    DoubleFault,
}
