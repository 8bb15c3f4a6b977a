//! Shared types of the host-CPU differential test: the fixed memory layout,
//! a test [`Case`] (initial machine state plus one instruction), the
//! [`Outcome`] of executing it, and the [`Executor`] trait implemented by the
//! native (host CPU) oracle and by the vtx32 adapter.
//!
//! Nothing here depends on vtx32 crates, so the emulator adapter can be
//! written against these types alone.
//!
//! # The machine both sides must model
//!
//! * 32-bit protected mode, CPL 3, flat segments (base 0, limit 4 GiB):
//!   `CS` = [`CS_SEL`] (code, readable, not writable), `DS`/`ES`/`SS` =
//!   [`DATA_SEL`] (data, writable). `FS`/`GS` hold [`FS_SEL`]/[`GS_SEL`] and
//!   are never used by generated instructions except by `MOV r/m16, Sreg`
//!   and `PUSH FS/GS` which read the selector.
//! * Paging is on; only three regions are present, all user-accessible:
//!   the code page at [`CODE_BASE`] (read-only), the data pages at
//!   [`DATA_BASE`] (read/write) and the stack page at [`STACK_BASE`]
//!   (read/write). Every other linear address is not present, so an access
//!   raises #PF with error code bits P=0, U=1 and W/R as appropriate.
//! * The code page is filled with `HLT` (0xF4) except for the instruction
//!   under test, which starts at [`INSN_ADDR`]. At CPL 3, `HLT` raises
//!   #GP(0); reaching a `HLT` that is *not* the instruction under test means
//!   the instruction completed (fell through or branched), and the `EIP` of
//!   that `HLT` is reported in [`Outcome::Completed`].
//! * `EFLAGS`: the effective initial value is
//!   `(case.eflags & INIT_EFLAGS_MASK) | EFLAGS_FIXED` (IF=1, IOPL=0, bit 1
//!   set, TF/AC/NT clear). At CPL 3 `POPF` may change AC, ID and NT (the
//!   generators never pop TF=1) but leaves IF and IOPL unchanged; RF, VM,
//!   VIF and VIP are not compared ([`OUTCOME_EFLAGS_MASK`]).
//! * The emulator must report a #PF error code with at least bits 0..=2
//!   correct; the comparison looks only at those bits (the host sets the
//!   I/D bit on instruction fetches because it runs with NX enabled).
//! * Descriptor tables, as seen by `MOV Sreg`/`POP Sreg` (generated
//!   selectors are 0x2B, 0x23, 0x00, 0x10, 0x18 and 0x07): GDT entry 2
//!   (0x10) is a DPL 0 code segment, entry 3 (0x18) a DPL 0 data segment,
//!   entry 4 (0x23) the flat 32-bit DPL 3 readable code segment, entry 5
//!   (0x2B) the flat DPL 3 writable data segment; LDTR is null. So at CPL 3:
//!   DS/ES accept 0x2B, 0x23 and the null selector; SS accepts only 0x2B
//!   (0x23 → #GP(0x20), null → #GP(0)); 0x10/0x18 → #GP(selector);
//!   0x07 (LDT) → #GP(0x04). Loading CS with `MOV` is #UD.
//! * Code never branches into the data or stack pages (natively they are
//!   not executable); the generators guarantee it.
//! * What the architecture leaves undefined (flags after MUL/DIV/BCD/
//!   shifts..., the upper half of a 32-bit `PUSH Sreg` slot, BSF/BSR
//!   destination for a zero source) is not compared; see
//!   [`crate::compare::undefined_effects`].
#![warn(missing_docs)]

use std::fmt;

/// Linear address of the (single) code page.
pub const CODE_BASE: u32 = 0x0010_0000;
/// Size in bytes of the code page.
pub const CODE_SIZE: u32 = 0x1000;
/// Linear address where the instruction under test is placed.
pub const INSN_ADDR: u32 = 0x0010_0800;
/// Maximum length of an IA-32 instruction (the limit is 15 bytes).
pub const MAX_INSN_LEN: usize = 15;
/// Byte that fills the code page around the instruction (`HLT`).
pub const FILL_BYTE: u8 = 0xF4;
/// Linear address of the first data page.
pub const DATA_BASE: u32 = 0x0020_0000;
/// Size in bytes of the data area (two pages).
pub const DATA_SIZE: u32 = 0x2000;
/// Linear address of the stack page.
pub const STACK_BASE: u32 = 0x0030_0000;
/// Size in bytes of the stack page.
pub const STACK_SIZE: u32 = 0x1000;

/// Selector of the 32-bit user code segment (`__USER32_CS` on Linux).
pub const CS_SEL: u16 = 0x23;
/// Selector of the flat user data segment used for `DS`, `ES` and `SS`.
pub const DATA_SEL: u16 = 0x2B;
/// Selector found in `FS` (what a 64-bit Linux process normally has).
pub const FS_SEL: u16 = 0;
/// Selector found in `GS` (what a 64-bit Linux process normally has).
pub const GS_SEL: u16 = 0;

/// EFLAGS bits.
pub mod flags {
    /// Carry flag.
    pub const CF: u32 = 1 << 0;
    /// Always-one reserved bit 1.
    pub const FIXED1: u32 = 1 << 1;
    /// Parity flag.
    pub const PF: u32 = 1 << 2;
    /// Auxiliary carry flag.
    pub const AF: u32 = 1 << 4;
    /// Zero flag.
    pub const ZF: u32 = 1 << 6;
    /// Sign flag.
    pub const SF: u32 = 1 << 7;
    /// Trap flag.
    pub const TF: u32 = 1 << 8;
    /// Interrupt enable flag.
    pub const IF: u32 = 1 << 9;
    /// Direction flag.
    pub const DF: u32 = 1 << 10;
    /// Overflow flag.
    pub const OF: u32 = 1 << 11;
    /// I/O privilege level (two bits).
    pub const IOPL: u32 = 3 << 12;
    /// Nested task flag.
    pub const NT: u32 = 1 << 14;
    /// Resume flag.
    pub const RF: u32 = 1 << 16;
    /// Virtual-8086 mode flag.
    pub const VM: u32 = 1 << 17;
    /// Alignment check flag.
    pub const AC: u32 = 1 << 18;
    /// Virtual interrupt flag.
    pub const VIF: u32 = 1 << 19;
    /// Virtual interrupt pending flag.
    pub const VIP: u32 = 1 << 20;
    /// CPUID-available flag.
    pub const ID: u32 = 1 << 21;
    /// The six arithmetic status flags.
    pub const ARITH: u32 = CF | PF | AF | ZF | SF | OF;

    /// Names of the flags for diagnostics, `(mask, name)`.
    pub const NAMES: &[(u32, &str)] = &[
        (CF, "CF"),
        (PF, "PF"),
        (AF, "AF"),
        (ZF, "ZF"),
        (SF, "SF"),
        (TF, "TF"),
        (IF, "IF"),
        (DF, "DF"),
        (OF, "OF"),
        (IOPL, "IOPL"),
        (NT, "NT"),
        (RF, "RF"),
        (VM, "VM"),
        (AC, "AC"),
        (VIF, "VIF"),
        (VIP, "VIP"),
        (ID, "ID"),
    ];
}

/// Bits of [`Case::eflags`] that are honoured as initial state (arithmetic
/// flags and DF). Everything else is forced by [`EFLAGS_FIXED`].
pub const INIT_EFLAGS_MASK: u32 = flags::ARITH | flags::DF;
/// Bits always set in the initial EFLAGS (reserved bit 1 and IF).
pub const EFLAGS_FIXED: u32 = flags::FIXED1 | flags::IF;
/// Bits of the final EFLAGS that executors report and that are compared.
/// RF, VM, VIF and VIP are excluded (RF is set by the host in fault frames).
pub const OUTCOME_EFLAGS_MASK: u32 = flags::ARITH
    | flags::FIXED1
    | flags::TF
    | flags::IF
    | flags::DF
    | flags::IOPL
    | flags::NT
    | flags::AC
    | flags::ID;

/// Names of the general-purpose registers in [`Case::gpr`] order.
pub const GPR_NAMES: [&str; 8] = ["EAX", "ECX", "EDX", "EBX", "ESP", "EBP", "ESI", "EDI"];
/// Index of ESP in [`Case::gpr`].
pub const ESP: usize = 4;

/// Instruction families, used to drive generation and to count cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// ADD/OR/ADC/SBB/AND/SUB/XOR/CMP/TEST/INC/DEC/NEG/NOT.
    Alu,
    /// SHL/SHR/SAR/ROL/ROR/RCL/RCR (1, imm8, CL) and SHLD/SHRD.
    ShiftRotate,
    /// DAA/DAS/AAA/AAS/AAM/AAD.
    Bcd,
    /// BT/BTS/BTR/BTC, BSF/BSR, BSWAP.
    BitOps,
    /// MUL/IMUL (all forms)/DIV/IDIV.
    MulDiv,
    /// MOVS/CMPS/SCAS/LODS/STOS with and without REP prefixes.
    String,
    /// PUSH/POP (all forms)/PUSHA/POPA/ENTER/LEAVE/PUSHF/POPF.
    Stack,
    /// CMOVcc and SETcc.
    CondMove,
    /// Jcc/LOOPcc/JCXZ/JECXZ/CALL/JMP/RET (near).
    Branch,
    /// MOV (all forms, including segment registers), MOVZX/MOVSX, LEA, XCHG.
    MovLea,
    /// XADD/CMPXCHG/CMPXCHG8B and LOCK-prefixed read-modify-write.
    Atomic,
    /// LAHF/SAHF/XLAT/BOUND/CBW/CWDE/CWD/CDQ/flag ops/NOP/INT3/INTO.
    Misc,
    /// Instructions that must fault at CPL 3 (HLT/CLI/STI/IN/OUT...) and
    /// illegal LOCK prefixes (#UD).
    Privileged,
}

impl Family {
    /// Parses a family name as printed by `Debug` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Family> {
        Family::ALL
            .iter()
            .copied()
            .find(|f| format!("{f:?}").eq_ignore_ascii_case(name.trim()))
    }

    /// Every family, in declaration order.
    pub const ALL: [Family; 13] = [
        Family::Alu,
        Family::ShiftRotate,
        Family::Bcd,
        Family::BitOps,
        Family::MulDiv,
        Family::String,
        Family::Stack,
        Family::CondMove,
        Family::Branch,
        Family::MovLea,
        Family::Atomic,
        Family::Misc,
        Family::Privileged,
    ];
}

/// One differential test case: initial state plus the instruction bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Case {
    /// Bytes of the instruction under test, placed at [`INSN_ADDR`]
    /// (at most [`MAX_INSN_LEN`] bytes).
    pub insn: Vec<u8>,
    /// Initial general-purpose registers: EAX ECX EDX EBX ESP EBP ESI EDI.
    pub gpr: [u32; 8],
    /// Initial EFLAGS; only [`INIT_EFLAGS_MASK`] bits are used.
    pub eflags: u32,
    /// Initial content of the data area ([`DATA_SIZE`] bytes).
    pub data: Vec<u8>,
    /// Initial content of the stack page ([`STACK_SIZE`] bytes).
    pub stack: Vec<u8>,
    /// Family the case was generated from.
    pub family: Family,
}

impl Case {
    /// The effective initial EFLAGS value both executors start with.
    pub fn initial_eflags(&self) -> u32 {
        (self.eflags & INIT_EFLAGS_MASK) | EFLAGS_FIXED
    }

    /// The full initial code page: HLT everywhere and the instruction at
    /// [`INSN_ADDR`].
    pub fn code_page(&self) -> Vec<u8> {
        let mut page = vec![FILL_BYTE; CODE_SIZE as usize];
        let off = (INSN_ADDR - CODE_BASE) as usize;
        let n = self.insn.len().min(MAX_INSN_LEN);
        page[off..off + n].copy_from_slice(&self.insn[..n]);
        page
    }

    /// The byte at linear address `addr` of the initial code page, or
    /// `None` outside the code page.
    pub fn code_byte(&self, addr: u32) -> Option<u8> {
        if !(CODE_BASE..CODE_BASE + CODE_SIZE).contains(&addr) {
            return None;
        }
        let off = addr.wrapping_sub(INSN_ADDR) as usize;
        Some(if addr >= INSN_ADDR && off < self.insn.len() {
            self.insn[off]
        } else {
            FILL_BYTE
        })
    }

    /// Intel-syntax disassembly of the instruction (as decoded at
    /// [`INSN_ADDR`] in 32-bit mode).
    pub fn disasm(&self) -> String {
        crate::compare::disasm32(&self.insn, INSN_ADDR)
    }
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Case {{ {:?}: ", self.family)?;
        for b in &self.insn {
            write!(f, "{b:02x} ")?;
        }
        write!(f, "[{}]", self.disasm())?;
        for (name, v) in GPR_NAMES.iter().zip(self.gpr.iter()) {
            write!(f, " {name}={v:08x}")?;
        }
        write!(
            f,
            " EFLAGS={:08x} data#={:016x} stack#={:016x} }}",
            self.initial_eflags(),
            fnv1a(&self.data),
            fnv1a(&self.stack)
        )
    }
}

/// FNV-1a hash, used to summarise memory contents in debug output.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Architectural state observed after execution (on completion or at the
/// fault).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalState {
    /// General-purpose registers, in [`GPR_NAMES`] order.
    pub gpr: [u32; 8],
    /// EFLAGS masked with [`OUTCOME_EFLAGS_MASK`].
    pub eflags: u32,
    /// EIP: address of the HLT reached (completion) or of the faulting
    /// instruction (faults), or the address after the instruction (traps:
    /// #BP from INT3, #OF from INTO).
    pub eip: u32,
    /// DS selector.
    pub ds: u16,
    /// ES selector.
    pub es: u16,
    /// SS selector.
    pub ss: u16,
    /// Final content of the data area ([`DATA_SIZE`] bytes).
    pub data: Vec<u8>,
    /// Final content of the stack page ([`STACK_SIZE`] bytes).
    pub stack: Vec<u8>,
}

/// Result of executing a [`Case`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The instruction completed and execution reached a HLT in the code
    /// page other than the instruction itself.
    Completed(FinalState),
    /// An exception was raised (including by a HLT that is the instruction
    /// under test, or by fetching from a non-present page after a branch).
    Fault {
        /// Exception vector (0 #DE, 3 #BP, 4 #OF, 5 #BR, 6 #UD, 12 #SS,
        /// 13 #GP, 14 #PF, 17 #AC, ...).
        vector: u8,
        /// Error code for vectors that push one (8, 10..=14, 17), else None.
        error_code: Option<u32>,
        /// Faulting linear address for #PF, else None.
        cr2: Option<u32>,
        /// State at the exception (EIP as pushed by the exception).
        state: FinalState,
    },
    /// The executor could not run the case (harness error, unsupported
    /// instruction in the emulator adapter...). Reported as a mismatch.
    Error(String),
}

impl Outcome {
    /// The final state, if any.
    pub fn state(&self) -> Option<&FinalState> {
        match self {
            Outcome::Completed(s) | Outcome::Fault { state: s, .. } => Some(s),
            Outcome::Error(_) => None,
        }
    }

    /// Builds the outcome of an execution that ended with exception
    /// `vector` (normally the #GP of a HLT), applying exactly the
    /// normalisation the native executor applies, so that an emulator
    /// adapter only has to report raw values:
    ///
    /// * [`is_completion`] decides between [`Outcome::Completed`] and
    ///   [`Outcome::Fault`];
    /// * `state.eflags` is masked with [`OUTCOME_EFLAGS_MASK`];
    /// * `error_code` is kept only for vectors that push one, `cr2` only
    ///   for #PF.
    pub fn from_exception(
        case: &Case,
        vector: u8,
        error_code: Option<u32>,
        cr2: Option<u32>,
        mut state: FinalState,
    ) -> Outcome {
        state.eflags &= OUTCOME_EFLAGS_MASK;
        let error_code = if vector_has_error_code(vector) {
            Some(error_code.unwrap_or(0))
        } else {
            None
        };
        if is_completion(case, vector, error_code, state.eip) {
            return Outcome::Completed(state);
        }
        Outcome::Fault {
            vector,
            error_code,
            cr2: if vector == 14 { cr2 } else { None },
            state,
        }
    }

    /// Short summary such as `completed` or `#PF(6) cr2=00000000`.
    pub fn summary(&self) -> String {
        match self {
            Outcome::Completed(s) => format!("completed at eip={:08x}", s.eip),
            Outcome::Fault {
                vector,
                error_code,
                cr2,
                state,
            } => {
                let mut t = vector_name(*vector);
                if let Some(e) = error_code {
                    t.push_str(&format!("({e:#x})"));
                }
                if let Some(c) = cr2 {
                    t.push_str(&format!(" cr2={c:08x}"));
                }
                t.push_str(&format!(" eip={:08x}", state.eip));
                t
            }
            Outcome::Error(e) => format!("error: {e}"),
        }
    }
}

/// The rule both executors use to tell completion from a fault: an
/// exception is a *completion* when it is #GP(0) raised by a `HLT` byte in
/// the code page at an address other than [`INSN_ADDR`] (i.e. the
/// instruction under test finished and execution reached a filler HLT).
/// Anything else is an [`Outcome::Fault`].
pub fn is_completion(case: &Case, vector: u8, error_code: Option<u32>, eip: u32) -> bool {
    vector == 13
        && error_code == Some(0)
        && eip != INSN_ADDR
        && case.code_byte(eip) == Some(FILL_BYTE)
}

/// Whether exception `vector` pushes an error code.
pub fn vector_has_error_code(vector: u8) -> bool {
    matches!(vector, 8 | 10..=14 | 17)
}

/// Mnemonic of an exception vector (`#DE`, `#GP`...).
pub fn vector_name(vector: u8) -> String {
    let n = match vector {
        0 => "#DE",
        1 => "#DB",
        3 => "#BP",
        4 => "#OF",
        5 => "#BR",
        6 => "#UD",
        7 => "#NM",
        8 => "#DF",
        10 => "#TS",
        11 => "#NP",
        12 => "#SS",
        13 => "#GP",
        14 => "#PF",
        16 => "#MF",
        17 => "#AC",
        18 => "#MC",
        19 => "#XM",
        _ => return format!("#{vector}"),
    };
    n.to_string()
}

/// Something that can execute a [`Case`]: the host CPU or vtx32.
pub trait Executor {
    /// Human-readable name used in reports.
    fn name(&self) -> &str;
    /// Runs `case` from its initial state and reports what happened.
    fn execute(&mut self, case: &Case) -> Outcome;
}
