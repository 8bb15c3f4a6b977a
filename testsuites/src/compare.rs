//! Comparison of two [`Outcome`]s with a readable diff, taking into account
//! what the architecture leaves undefined (see [`undefined_effects`]).
#![warn(missing_docs)]

use crate::case::{
    flags, vector_name, Case, FinalState, Outcome, DATA_BASE, DATA_SIZE, ESP, GPR_NAMES,
    STACK_BASE, STACK_SIZE,
};
use iced_x86::{
    Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter, Mnemonic, OpKind, Register,
};

/// Intel-syntax disassembly of `bytes` decoded as 32-bit code at `ip`.
/// Shows `(bad)` for bytes that do not decode.
pub fn disasm32(bytes: &[u8], ip: u32) -> String {
    let insn = decode32(bytes, ip);
    if insn.is_invalid() {
        return "(bad)".to_string();
    }
    let mut out = String::new();
    IntelFormatter::new().format(&insn, &mut out);
    if insn.len() != bytes.len() {
        out.push_str(&format!(" ; +{} trailing bytes", bytes.len() - insn.len()));
    }
    out
}

fn decode32(bytes: &[u8], ip: u32) -> Instruction {
    Decoder::with_ip(32, bytes, u64::from(ip), DecoderOptions::NONE).decode()
}

/// Parts of the final state the architecture leaves undefined for a given
/// case (Intel SDM "undefined" flags and results); they are not compared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tolerance {
    /// EFLAGS bits that may differ.
    pub eflags: u32,
    /// General-purpose registers (bit per [`GPR_NAMES`] index) that may
    /// differ.
    pub gpr: u8,
    /// Linear address ranges `(start, len)` whose bytes may differ.
    pub mem: Vec<(u32, u32)>,
}

fn gpr_index(reg: Register) -> Option<usize> {
    match reg.full_register32() {
        Register::EAX => Some(0),
        Register::ECX => Some(1),
        Register::EDX => Some(2),
        Register::EBX => Some(3),
        Register::ESP => Some(4),
        Register::EBP => Some(5),
        Register::ESI => Some(6),
        Register::EDI => Some(7),
        _ => None,
    }
}

/// Size in bits of operand 0 (register or memory).
fn op0_bits(insn: &Instruction) -> u32 {
    match insn.op0_kind() {
        OpKind::Register => insn.op0_register().size() as u32 * 8,
        OpKind::Memory => insn.memory_size().size() as u32 * 8,
        _ => 32,
    }
}

/// The shift/rotate count operand (last operand: imm8, CL or implicit 1).
fn shift_count(insn: &Instruction, case: &Case) -> u32 {
    let last = insn.op_count() - 1;
    match insn.op_kind(last) {
        OpKind::Immediate8 => u32::from(insn.immediate8()),
        OpKind::Register if insn.op_register(last) == Register::CL => case.gpr[1] & 0xff,
        _ => 1,
    }
}

/// Computes what may legitimately differ between two executions of `case`
/// (`reference` is the reference outcome, used for value-dependent rules
/// such as BSF/BSR with a zero source).
pub fn undefined_effects(case: &Case, reference: &Outcome) -> Tolerance {
    use flags::*;
    let insn = decode32(&case.insn, crate::case::INSN_ADDR);
    let mut t = Tolerance::default();
    if insn.is_invalid() {
        return t;
    }
    let dest_gpr = || {
        (insn.op0_kind() == OpKind::Register)
            .then(|| gpr_index(insn.op0_register()))
            .flatten()
    };
    match insn.mnemonic() {
        Mnemonic::And | Mnemonic::Or | Mnemonic::Xor | Mnemonic::Test => t.eflags = AF,
        Mnemonic::Shl | Mnemonic::Sal | Mnemonic::Shr | Mnemonic::Sar => {
            let c = shift_count(&insn, case) & 0x1f;
            if c != 0 {
                t.eflags = AF;
                if c > 1 {
                    t.eflags |= OF;
                }
                if insn.mnemonic() != Mnemonic::Sar && c >= op0_bits(&insn) {
                    t.eflags |= CF;
                }
            }
        }
        Mnemonic::Rol | Mnemonic::Ror | Mnemonic::Rcl | Mnemonic::Rcr => {
            let c = shift_count(&insn, case) & 0x1f;
            if c > 1 {
                t.eflags = OF;
            }
        }
        Mnemonic::Shld | Mnemonic::Shrd => {
            let c = shift_count(&insn, case) & 0x1f;
            if c != 0 {
                t.eflags = AF;
                if c > 1 {
                    t.eflags |= OF;
                }
                if c > op0_bits(&insn) {
                    // Result and flags undefined.
                    t.eflags = ARITH;
                    if let Some(r) = dest_gpr() {
                        t.gpr |= 1 << r;
                    } else {
                        match mem_operand_address(&insn, case) {
                            Some(a) => t.mem.push((a, 2)),
                            None => t.mem.push((0, u32::MAX)),
                        }
                    }
                }
            }
        }
        Mnemonic::Mul | Mnemonic::Imul => t.eflags = SF | ZF | AF | PF,
        Mnemonic::Div | Mnemonic::Idiv => t.eflags = ARITH,
        Mnemonic::Aaa | Mnemonic::Aas => t.eflags = OF | SF | ZF | PF,
        Mnemonic::Daa | Mnemonic::Das => t.eflags = OF,
        Mnemonic::Aam | Mnemonic::Aad => t.eflags = OF | AF | CF,
        Mnemonic::Bt | Mnemonic::Bts | Mnemonic::Btr | Mnemonic::Btc => {
            t.eflags = OF | SF | AF | PF
        }
        Mnemonic::Bsf | Mnemonic::Bsr => {
            t.eflags = CF | OF | SF | AF | PF;
            let zero_src = reference
                .state()
                .is_some_and(|s| matches!(reference, Outcome::Completed(_)) && s.eflags & ZF != 0);
            if zero_src {
                if let Some(r) = dest_gpr() {
                    t.gpr |= 1 << r;
                }
            }
        }
        Mnemonic::Push
            if insn.op0_kind() == OpKind::Register
                && insn.op0_register().is_segment_register()
                && insn.stack_pointer_increment() == -4 =>
        {
            // PUSH Sreg with a 32-bit operand size: P6 zero-extends, newer
            // CPUs write only the low 16 bits; the upper half is
            // implementation-dependent.
            let sp = case.gpr[ESP].wrapping_sub(2);
            t.mem.push((sp, 2));
        }
        _ => {}
    }
    t
}

/// Linear address of the memory operand of `insn` given the case's
/// initial registers (segment bases are 0).
fn mem_operand_address(insn: &Instruction, case: &Case) -> Option<u32> {
    let op = (0..insn.op_count()).find(|&i| insn.op_kind(i) == OpKind::Memory)?;
    insn.virtual_address(op, 0, |reg, _, _| match reg {
        Register::ES | Register::CS | Register::SS | Register::DS => Some(0),
        r => {
            let i = gpr_index(r)?;
            let v = case.gpr[i];
            Some(match r.size() {
                1 if matches!(r, Register::AH | Register::CH | Register::DH | Register::BH) => {
                    u64::from((v >> 8) & 0xff)
                }
                1 => u64::from(v & 0xff),
                2 => u64::from(v & 0xffff),
                _ => u64::from(v),
            })
        }
    })
    .map(|a| a as u32)
}

/// Names of the flags set in `mask`.
pub fn flag_names(mask: u32) -> String {
    let v: Vec<&str> = flags::NAMES
        .iter()
        .filter(|(m, _)| mask & m != 0)
        .map(|&(_, n)| n)
        .collect();
    v.join(" ")
}

/// The #PF error-code bits that are compared (P, W/R, U/S): the host also
/// sets I/D on instruction fetches (NX is enabled) and the emulated P6-class
/// CPU has no NX.
pub const PF_ERROR_CODE_MASK: u32 = 0x7;

/// Compares the reference outcome `a` (normally the host CPU) with the
/// subject `b` (normally vtx32) for `case`. Returns a readable report of
/// every difference, or `Ok(())` when they agree up to [`undefined_effects`].
pub fn compare(case: &Case, a: &Outcome, b: &Outcome) -> Result<(), String> {
    let tol = undefined_effects(case, a);
    let mut diffs: Vec<String> = Vec::new();
    match (a, b) {
        (Outcome::Error(e), _) => diffs.push(format!("reference failed: {e}")),
        (_, Outcome::Error(e)) => diffs.push(format!("subject failed: {e}")),
        (Outcome::Completed(sa), Outcome::Completed(sb)) => state_diff(&tol, sa, sb, &mut diffs),
        (
            Outcome::Fault {
                vector: va,
                error_code: ea,
                cr2: ca,
                state: sa,
            },
            Outcome::Fault {
                vector: vb,
                error_code: eb,
                cr2: cb,
                state: sb,
            },
        ) => {
            if va != vb {
                diffs.push(format!(
                    "vector: {} vs {}",
                    vector_name(*va),
                    vector_name(*vb)
                ));
            } else {
                let mask = if *va == 14 {
                    PF_ERROR_CODE_MASK
                } else {
                    u32::MAX
                };
                if ea.map(|e| e & mask) != eb.map(|e| e & mask) {
                    diffs.push(format!(
                        "error code: {ea:x?} vs {eb:x?} (compared mask {mask:#x})"
                    ));
                }
                if ca != cb {
                    diffs.push(format!("CR2: {ca:08x?} vs {cb:08x?}"));
                }
            }
            state_diff(&tol, sa, sb, &mut diffs);
        }
        _ => diffs.push("outcome kind differs".to_string()),
    }
    if diffs.is_empty() {
        return Ok(());
    }
    Err(report(case, a, b, &tol, &diffs))
}

fn state_diff(tol: &Tolerance, a: &FinalState, b: &FinalState, diffs: &mut Vec<String>) {
    for (i, name) in GPR_NAMES.iter().enumerate() {
        if a.gpr[i] != b.gpr[i] && tol.gpr & (1 << i) == 0 {
            diffs.push(format!("{name}: {:08x} vs {:08x}", a.gpr[i], b.gpr[i]));
        }
    }
    if a.eip != b.eip {
        diffs.push(format!("EIP: {:08x} vs {:08x}", a.eip, b.eip));
    }
    let fx = (a.eflags ^ b.eflags) & !tol.eflags;
    if fx != 0 {
        diffs.push(format!(
            "EFLAGS: {:08x} vs {:08x}, differing: {} (set in reference: {}; set in subject: {})",
            a.eflags,
            b.eflags,
            flag_names(fx),
            flag_names(fx & a.eflags),
            flag_names(fx & b.eflags),
        ));
    }
    for (name, x, y) in [("DS", a.ds, b.ds), ("ES", a.es, b.es), ("SS", a.ss, b.ss)] {
        if x != y {
            diffs.push(format!("{name}: {x:04x} vs {y:04x}"));
        }
    }
    mem_diff("data", DATA_BASE, DATA_SIZE, &a.data, &b.data, tol, diffs);
    mem_diff(
        "stack", STACK_BASE, STACK_SIZE, &a.stack, &b.stack, tol, diffs,
    );
}

fn mem_diff(
    name: &str,
    base: u32,
    size: u32,
    a: &[u8],
    b: &[u8],
    tol: &Tolerance,
    diffs: &mut Vec<String>,
) {
    if a.len() != size as usize || b.len() != size as usize {
        diffs.push(format!(
            "{name}: image sizes {} vs {} (expected {size})",
            a.len(),
            b.len()
        ));
        return;
    }
    let ignored = |addr: u32| {
        tol.mem
            .iter()
            .any(|&(s, l)| addr.wrapping_sub(s) < l || l == u32::MAX)
    };
    let mut shown = 0;
    let mut total = 0;
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        let addr = base + i as u32;
        if x != y && !ignored(addr) {
            total += 1;
            if shown < 16 {
                diffs.push(format!(
                    "{name}[+{i:#05x}] ({addr:08x}): {x:02x} vs {y:02x}"
                ));
                shown += 1;
            }
        }
    }
    if total > shown {
        diffs.push(format!("{name}: {} more differing bytes", total - shown));
    }
}

fn report(case: &Case, a: &Outcome, b: &Outcome, tol: &Tolerance, diffs: &[String]) -> String {
    let mut s = String::new();
    s.push_str("instruction: ");
    for byte in &case.insn {
        s.push_str(&format!("{byte:02x} "));
    }
    s.push_str(&format!("  {}  ({:?})\n", case.disasm(), case.family));
    s.push_str("initial:");
    for (i, v) in case.gpr.iter().enumerate() {
        s.push_str(&format!(" {}={v:08x}", GPR_NAMES[i]));
    }
    s.push_str(&format!(
        " EFLAGS={:08x} [{}]\n",
        case.initial_eflags(),
        flag_names(case.initial_eflags())
    ));
    s.push_str(&format!("reference: {}\n", a.summary()));
    s.push_str(&format!("subject:   {}\n", b.summary()));
    if let (Some(sa), Some(sb)) = (a.state(), b.state()) {
        for (label, st) in [("ref", sa), ("sub", sb)] {
            s.push_str(&format!("{label} final:"));
            for (i, v) in st.gpr.iter().enumerate() {
                s.push_str(&format!(" {}={v:08x}", GPR_NAMES[i]));
            }
            s.push_str(&format!(" EFLAGS={:08x}\n", st.eflags));
        }
    }
    if tol.eflags != 0 || tol.gpr != 0 || !tol.mem.is_empty() {
        s.push_str(&format!(
            "ignored as undefined: flags [{}] regs {:?} mem {:x?}\n",
            flag_names(tol.eflags),
            (0..8)
                .filter(|i| tol.gpr & (1 << i) != 0)
                .map(|i| GPR_NAMES[i])
                .collect::<Vec<_>>(),
            tol.mem
        ));
    }
    s.push_str("differences (reference vs subject):\n");
    for d in diffs {
        s.push_str("  ");
        s.push_str(d);
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Family, FinalState, INSN_ADDR, STACK_BASE};
    use flags::*;

    fn case(insn: &[u8], ecx: u32) -> Case {
        Case {
            insn: insn.to_vec(),
            gpr: [0, ecx, 0, 0, STACK_BASE + 0x800, 0, 0, 0],
            eflags: 0,
            data: vec![0; DATA_SIZE as usize],
            stack: vec![0; STACK_SIZE as usize],
            family: Family::Misc,
        }
    }

    fn completed(c: &Case, eflags: u32) -> Outcome {
        Outcome::Completed(FinalState {
            gpr: c.gpr,
            eflags,
            eip: INSN_ADDR + c.insn.len() as u32,
            ds: 0x2b,
            es: 0x2b,
            ss: 0x2b,
            data: c.data.clone(),
            stack: c.stack.clone(),
        })
    }

    #[test]
    fn undefined_flags_follow_the_count() {
        let none = Outcome::Error(String::new());
        // SHL EAX,1: only AF undefined.
        assert_eq!(undefined_effects(&case(&[0xD1, 0xE0], 0), &none).eflags, AF);
        // SHL EAX,CL with CL=0: nothing changes, nothing undefined.
        assert_eq!(
            undefined_effects(&case(&[0xD3, 0xE0], 0x100), &none).eflags,
            0
        );
        // SHL AL,CL with CL=9: AF, OF and CF undefined.
        assert_eq!(
            undefined_effects(&case(&[0xD2, 0xE0], 9), &none).eflags,
            AF | OF | CF
        );
        // ROL EAX,5: OF undefined.
        assert_eq!(
            undefined_effects(&case(&[0xC1, 0xC0, 5], 0), &none).eflags,
            OF
        );
        // SHLD AX,BX,CL with CL=20: result (EAX) and flags undefined.
        let t = undefined_effects(&case(&[0x66, 0x0F, 0xA5, 0xD8], 20), &none);
        assert_eq!(t.eflags, ARITH);
        assert_eq!(t.gpr, 1);
        // DIV: all arithmetic flags.
        assert_eq!(
            undefined_effects(&case(&[0xF7, 0xF1], 0), &none).eflags,
            ARITH
        );
        // ADD: nothing.
        assert_eq!(
            undefined_effects(&case(&[0x01, 0xD8], 0), &none),
            Tolerance::default()
        );
    }

    #[test]
    fn bsf_zero_source_ignores_destination() {
        let c = case(&[0x0F, 0xBC, 0xC1], 0); // BSF EAX, ECX
        let t = undefined_effects(&c, &completed(&c, ZF | FIXED1 | IF));
        assert_eq!(t.gpr, 1);
        let t = undefined_effects(&c, &completed(&c, FIXED1 | IF));
        assert_eq!(t.gpr, 0);
    }

    #[test]
    fn compare_reports_names() {
        let c = case(&[0x01, 0xD8], 0);
        let a = completed(&c, FIXED1 | IF);
        let mut b = completed(&c, FIXED1 | IF | CF);
        if let Outcome::Completed(s) = &mut b {
            s.gpr[3] = 7;
            s.data[0x10] = 1;
        }
        let r = compare(&c, &a, &b).unwrap_err();
        assert!(r.contains("EBX: 00000000 vs 00000007"), "{r}");
        assert!(r.contains("differing: CF"), "{r}");
        assert!(r.contains("data[+0x010]"), "{r}");
        assert!(r.contains("add eax,ebx"), "{r}");
        assert!(compare(&c, &a, &a).is_ok());
    }
}
