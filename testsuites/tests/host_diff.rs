//! Host-CPU differential tests.
//!
//! * `host_diff`: N random cases (env `VTX32_HOST_DIFF_CASES`, default
//!   20 000; seed from `VTX32_HOST_DIFF_SEED`) on the host CPU and on vtx32,
//!   outcomes compared.
//! * `host_diff_long` (ignored): the same with 10^7 cases
//!   (`cargo test --release -p vtx32-testsuites -- --ignored host_diff`).
//! * `host_diff_proptest`: the same comparison driven by proptest.
//! * `native_self_consistency`: the host executor against itself
//!   (determinism and robustness of the harness).
//! * `native_known_outcomes`: hand-computed outcomes of a few cases.
//!
//! `VTX32_HOST_DIFF_FAMILIES=Alu,Bcd` restricts the random cases to some
//! families.
//!
//! Tests that cannot run (host oracle unavailable, vtx32 executor not wired)
//! print a line starting with `SKIPPED` saying why.

use proptest::prelude::*;
use vtx32_testsuites::case::{
    flags, Case, Executor, Family, FinalState, Outcome, CODE_BASE, DATA_BASE, DATA_SEL, DATA_SIZE,
    INSN_ADDR, STACK_BASE, STACK_SIZE,
};
use vtx32_testsuites::compare::compare;
use vtx32_testsuites::diff::{run_differential, run_differential_with};
use vtx32_testsuites::gen::arb_any_case;
use vtx32_testsuites::native::NativeExecutor;

/// The vtx32 side of the comparison: flat 32-bit ring 3 with the native layout.
fn vtx32_executor() -> Option<Box<dyn Executor>> {
    Some(Box::new(vtx32_testsuites::vtx32_exec::Vtx32Executor::new()))
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => {
            let v = v.trim();
            let parsed = if let Some(hex) = v.strip_prefix("0x") {
                u64::from_str_radix(hex, 16)
            } else {
                v.parse()
            };
            parsed.unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
        }
        Err(_) => default,
    }
}

/// Families listed in `VTX32_HOST_DIFF_FAMILIES` (comma-separated), or
/// all of them.
fn env_families() -> Vec<Family> {
    match std::env::var("VTX32_HOST_DIFF_FAMILIES") {
        Ok(v) => v
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                Family::from_name(s)
                    .unwrap_or_else(|| panic!("unknown family {s:?}; known: {:?}", Family::ALL))
            })
            .collect(),
        Err(_) => Family::ALL.to_vec(),
    }
}

/// Reports a skipped test on the real stderr (not captured by the test
/// harness), so that a skip is visible in every `cargo test` run.
fn skipped(test: &str, why: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// The host executor, or `None` after printing why the test is skipped.
fn native_or_skip(test: &str) -> Option<NativeExecutor> {
    let n = NativeExecutor::new();
    if n.is_none() {
        skipped(
            test,
            &format!(
                "host CPU oracle unavailable: {}",
                NativeExecutor::unavailable_reason().unwrap_or_default()
            ),
        );
    }
    n
}

fn run_host_diff(test: &str, cases: u64) {
    let Some(mut native) = native_or_skip(test) else {
        return;
    };
    let Some(mut subject) = vtx32_executor() else {
        skipped(test, "no vtx32 executor wired in tests/host_diff.rs");
        return;
    };
    let seed = env_u64("VTX32_HOST_DIFF_SEED", 0x7e32_0001);
    let families = env_families();
    let report = run_differential_with(&mut native, subject.as_mut(), cases, seed, &families);
    println!("{}", report.summary());
    assert!(report.is_clean(), "{} mismatches", report.mismatch_count);
}

#[test]
fn host_diff() {
    run_host_diff("host_diff", env_u64("VTX32_HOST_DIFF_CASES", 20_000));
}

#[test]
#[ignore = "long: 10^7 cases; run with --release -- --ignored host_diff"]
fn host_diff_long() {
    run_host_diff(
        "host_diff_long",
        env_u64("VTX32_HOST_DIFF_CASES", 10_000_000),
    );
}

#[test]
fn host_diff_proptest() {
    let Some(native) = native_or_skip("host_diff_proptest") else {
        return;
    };
    let Some(subject) = vtx32_executor() else {
        skipped(
            "host_diff_proptest",
            "no vtx32 executor wired in tests/host_diff.rs",
        );
        return;
    };
    let cfg = ProptestConfig {
        cases: env_u64("VTX32_HOST_DIFF_PROPTEST_CASES", 2_000) as u32,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    // Deterministic: the same seed as host_diff (proptest would otherwise
    // pick a random one).
    let seed = env_u64("VTX32_HOST_DIFF_SEED", 0x7e32_0001);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = proptest::test_runner::TestRng::from_seed(
        proptest::test_runner::RngAlgorithm::ChaCha,
        &seed_bytes,
    );
    let mut runner = proptest::test_runner::TestRunner::new_with_rng(cfg, rng);
    // TestRunner::run takes an `Fn` closure: executors need `&mut`.
    let native = std::cell::RefCell::new(native);
    let subject = std::cell::RefCell::new(subject);
    let result = runner.run(&arb_any_case(), |case| {
        let a = native.borrow_mut().execute(&case);
        let b = subject.borrow_mut().execute(&case);
        compare(&case, &a, &b).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn native_self_consistency() {
    let Some(mut a) = native_or_skip("native_self_consistency") else {
        return;
    };
    let Some(mut b) = native_or_skip("native_self_consistency") else {
        return;
    };
    let cases = env_u64("VTX32_SELF_CASES", 20_000);
    let report = run_differential(&mut a, &mut b, cases, 0x5e1f);
    println!("{}", report.summary());
    assert!(report.is_clean());
    // Every family must have produced both completions and (somewhere)
    // faults; a harness that only ever sees one kind is broken.
    for f in Family::ALL {
        let st = report.per_family.get(&f);
        assert!(st.is_some_and(|s| s.cases > 0), "family {f:?} never ran");
    }
    let completed: u64 = report.per_family.values().map(|s| s.completed).sum();
    assert!(completed > cases / 2, "too few completions: {completed}");
}

/// Wraps an executor and corrupts every outcome (moves EIP, or changes the
/// vector of a fault), to check that the harness notices.
struct Corrupting<E> {
    inner: E,
}

impl<E: Executor> Executor for Corrupting<E> {
    fn name(&self) -> &str {
        "corrupted host CPU"
    }

    fn execute(&mut self, case: &Case) -> Outcome {
        let mut o = self.inner.execute(case);
        match &mut o {
            Outcome::Completed(s) => s.eip ^= 0x10,
            Outcome::Fault { vector, .. } => *vector ^= 1,
            Outcome::Error(_) => {}
        }
        o
    }
}

#[test]
fn harness_detects_mismatches() {
    let Some(mut a) = native_or_skip("harness_detects_mismatches") else {
        return;
    };
    let Some(b) = native_or_skip("harness_detects_mismatches") else {
        return;
    };
    let mut b = Corrupting { inner: b };
    let report = run_differential(&mut a, &mut b, 200, 1);
    // Every case is corrupted; minimisation re-runs cases and also sees
    // corrupted outcomes, so every case must be reported.
    assert_eq!(report.mismatch_count, 200, "{}", report.summary());
    let text = report.summary();
    assert!(text.contains("EIP:") && text.contains("vector:"), "{text}");
}

#[test]
fn native_watchdog_stops_infinite_loop() {
    let Some(mut ex) = native_or_skip("native_watchdog_stops_infinite_loop") else {
        return;
    };
    // JMP $ never reaches a HLT.
    let case = base_case(&[0xEB, 0xFE]);
    match ex.execute(&case) {
        Outcome::Error(e) => assert!(e.contains("watchdog"), "{e}"),
        other => panic!("expected a watchdog error, got {}", other.summary()),
    }
    // The executor is still usable afterwards.
    let case = base_case(&[0x90]);
    assert!(matches!(ex.execute(&case), Outcome::Completed(_)));
}

// ----- hand-computed outcomes ---------------------------------------------

fn base_case(insn: &[u8]) -> Case {
    let mut data = vec![0u8; DATA_SIZE as usize];
    for (i, b) in data.iter_mut().enumerate() {
        *b = (i * 7) as u8;
    }
    Case {
        insn: insn.to_vec(),
        gpr: [
            0x1111_1111,
            0x2222_2222,
            0x3333_3333,
            0x4444_4444,
            STACK_BASE + 0x800,
            STACK_BASE + 0x900,
            DATA_BASE + 0x100,
            DATA_BASE + 0x200,
        ],
        eflags: 0,
        data,
        stack: vec![0xAA; STACK_SIZE as usize],
        family: Family::Misc,
    }
}

/// The final state if the case changed nothing but EIP.
fn unchanged(case: &Case, eip: u32) -> FinalState {
    FinalState {
        gpr: case.gpr,
        eflags: case.initial_eflags(),
        eip,
        ds: DATA_SEL,
        es: DATA_SEL,
        ss: DATA_SEL,
        data: case.data.clone(),
        stack: case.stack.clone(),
    }
}

fn fault(vector: u8, error_code: Option<u32>, cr2: Option<u32>, state: FinalState) -> Outcome {
    Outcome::Fault {
        vector,
        error_code,
        cr2,
        state,
    }
}

#[test]
fn native_known_outcomes() {
    let Some(mut ex) = native_or_skip("native_known_outcomes") else {
        return;
    };
    let mut checks: Vec<(Case, Outcome)> = Vec::new();

    // ADD EAX, EBX: 0x7fffffff + 1 = 0x80000000, OF SF AF PF set.
    let mut c = base_case(&[0x01, 0xD8]);
    c.gpr[0] = 0x7fff_ffff;
    c.gpr[3] = 1;
    c.eflags = flags::CF | flags::ZF;
    let mut s = unchanged(&c, INSN_ADDR + 2);
    s.gpr[0] = 0x8000_0000;
    s.eflags = flags::FIXED1 | flags::IF | flags::OF | flags::SF | flags::AF | flags::PF;
    checks.push((c, Outcome::Completed(s)));

    // DIV ECX with ECX = 0: #DE, nothing changed.
    let mut c = base_case(&[0xF7, 0xF1]);
    c.gpr[1] = 0;
    let s = unchanged(&c, INSN_ADDR);
    checks.push((c, fault(0, None, None, s)));

    // AAM 0: #DE.
    let c = base_case(&[0xD4, 0x00]);
    let s = unchanged(&c, INSN_ADDR);
    checks.push((c, fault(0, None, None, s)));

    // HLT at CPL 3: #GP(0) at the instruction.
    let c = base_case(&[0xF4]);
    let s = unchanged(&c, INSN_ADDR);
    checks.push((c, fault(13, Some(0), None, s)));

    // CLI with IOPL 0: #GP(0).
    let c = base_case(&[0xFA]);
    let s = unchanged(&c, INSN_ADDR);
    checks.push((c, fault(13, Some(0), None, s)));

    // INT3: #BP trap, EIP after the instruction.
    let c = base_case(&[0xCC]);
    let s = unchanged(&c, INSN_ADDR + 1);
    checks.push((c, fault(3, None, None, s)));

    // INTO with OF = 1: #OF trap.
    let mut c = base_case(&[0xCE]);
    c.eflags = flags::OF;
    let s = unchanged(&c, INSN_ADDR + 1);
    checks.push((c, fault(4, None, None, s)));

    // LOCK ADD EAX, EBX: #UD.
    let c = base_case(&[0xF0, 0x01, 0xD8]);
    let s = unchanged(&c, INSN_ADDR);
    checks.push((c, fault(6, None, None, s)));

    // MOV [ESI+4], EAX writes into the data page.
    let mut c = base_case(&[0x89, 0x46, 0x04]);
    c.gpr[0] = 0xDEAD_BEEF;
    let mut s = unchanged(&c, INSN_ADDR + 3);
    s.data[0x104..0x108].copy_from_slice(&[0xEF, 0xBE, 0xAD, 0xDE]);
    checks.push((c, Outcome::Completed(s)));

    // MOV EAX, [0x12345678]: #PF, user read of a non-present page.
    let c = base_case(&[0xA1, 0x78, 0x56, 0x34, 0x12]);
    let s = unchanged(&c, INSN_ADDR);
    checks.push((c, fault(14, Some(4), Some(0x1234_5678), s)));

    // MOV [EDI], EAX with EDI in the read-only code page: #PF P|W|U.
    let mut c = base_case(&[0x89, 0x07]);
    c.gpr[7] = CODE_BASE;
    let s = unchanged(&c, INSN_ADDR);
    checks.push((c, fault(14, Some(7), Some(CODE_BASE), s)));

    // PUSH EAX.
    let mut c = base_case(&[0x50]);
    c.gpr[0] = 0x0102_0304;
    let mut s = unchanged(&c, INSN_ADDR + 1);
    s.gpr[4] -= 4;
    s.stack[0x7FC..0x800].copy_from_slice(&[4, 3, 2, 1]);
    checks.push((c, Outcome::Completed(s)));

    // POPFD: arithmetic flags, DF and OF from the stack; IOPL and IF kept.
    let mut c = base_case(&[0x9D]);
    c.stack[0x800..0x804].copy_from_slice(&0x0000_3CD5u32.to_le_bytes());
    let mut s = unchanged(&c, INSN_ADDR + 1);
    s.gpr[4] += 4;
    s.eflags = 0x0CD5 | flags::FIXED1 | flags::IF;
    checks.push((c, Outcome::Completed(s)));

    // BOUND EAX, [ESI] with EAX above the upper bound: #BR.
    let mut c = base_case(&[0x62, 0x06]);
    c.gpr[0] = 50;
    c.data[0x100..0x104].copy_from_slice(&10u32.to_le_bytes());
    c.data[0x104..0x108].copy_from_slice(&20u32.to_le_bytes());
    let s = unchanged(&c, INSN_ADDR);
    checks.push((c, fault(5, None, None, s)));

    // JMP short +0x10: lands on a filler HLT.
    let c = base_case(&[0xEB, 0x10]);
    let s = unchanged(&c, INSN_ADDR + 2 + 0x10);
    checks.push((c, Outcome::Completed(s)));

    // JMP EAX to an unmapped address: #PF on the fetch, EIP = target.
    let mut c = base_case(&[0xFF, 0xE0]);
    c.gpr[0] = 0x0BAD_0000;
    let s = unchanged(&c, 0x0BAD_0000);
    checks.push((c, fault(14, Some(4), Some(0x0BAD_0000), s)));

    let mut failures = Vec::new();
    for (case, expected) in &checks {
        let got = ex.execute(case);
        if let Err(report) = compare(case, expected, &got) {
            failures.push(format!("expected (left) vs host (right):\n{report}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} hand-computed cases differ:\n{}",
        failures.len(),
        checks.len(),
        failures.join("\n")
    );
    println!("native_known_outcomes: {} cases agree", checks.len());
}
