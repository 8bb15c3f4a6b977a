//! The differential driver: generates cases deterministically from a seed,
//! runs them on a reference and a subject [`Executor`], and collects
//! per-family statistics and readable mismatch reports.
#![warn(missing_docs)]

use crate::case::{Case, Executor, Family, Outcome, DATA_BASE, ESP};
use crate::compare::compare;
use crate::gen::{generate, Rng};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Maximum number of mismatches kept (with full reports) in a
/// [`DiffReport`]; further ones are only counted.
pub const MAX_KEPT_MISMATCHES: usize = 50;

/// Per-family counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FamilyStats {
    /// Cases run.
    pub cases: u64,
    /// Cases whose reference outcome was a completion.
    pub completed: u64,
    /// Cases whose reference outcome was a fault, by vector.
    pub faults: BTreeMap<u8, u64>,
    /// Cases where the subject disagreed.
    pub mismatches: u64,
}

/// One disagreement between reference and subject.
#[derive(Clone, Debug)]
pub struct Mismatch {
    /// Index of the case in the run.
    pub index: u64,
    /// Generator seed: `gen::generate(family, case_seed)` rebuilds the case.
    pub case_seed: u64,
    /// The case as generated.
    pub case: Case,
    /// Readable report of the differences (from [`compare`]), for the
    /// minimised case when minimisation succeeded.
    pub report: String,
    /// A simplified case that still mismatches, if one was found.
    pub minimized: Option<Case>,
}

/// Result of [`run_differential`].
#[derive(Clone, Debug, Default)]
pub struct DiffReport {
    /// Name of the reference executor.
    pub reference: String,
    /// Name of the subject executor.
    pub subject: String,
    /// Seed of the run.
    pub seed: u64,
    /// Total cases run.
    pub cases: u64,
    /// Counters per family.
    pub per_family: BTreeMap<Family, FamilyStats>,
    /// Total number of mismatching cases.
    pub mismatch_count: u64,
    /// The first [`MAX_KEPT_MISMATCHES`] mismatches.
    pub mismatches: Vec<Mismatch>,
}

impl DiffReport {
    /// True when no case mismatched.
    pub fn is_clean(&self) -> bool {
        self.mismatch_count == 0
    }

    /// A table of per-family counts followed by the mismatch reports.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "differential run: {} cases, seed {:#x}, reference = {}, subject = {}, {} mismatches",
            self.cases, self.seed, self.reference, self.subject, self.mismatch_count
        );
        let _ = writeln!(
            s,
            "{:<12} {:>9} {:>9} {:>9}  faults",
            "family", "cases", "completed", "mismatch"
        );
        for (f, st) in &self.per_family {
            let faults: Vec<String> = st
                .faults
                .iter()
                .map(|(v, n)| format!("{}:{n}", crate::case::vector_name(*v)))
                .collect();
            let _ = writeln!(
                s,
                "{:<12} {:>9} {:>9} {:>9}  {}",
                format!("{f:?}"),
                st.cases,
                st.completed,
                st.mismatches,
                faults.join(" ")
            );
        }
        for m in &self.mismatches {
            let _ = writeln!(
                s,
                "\n--- mismatch #{} (reproduce: gen::generate(Family::{:?}, {:#x}))",
                m.index, m.case.family, m.case_seed
            );
            s.push_str(&m.report);
        }
        if self.mismatch_count > self.mismatches.len() as u64 {
            let _ = writeln!(
                s,
                "\n({} further mismatches not shown)",
                self.mismatch_count - self.mismatches.len() as u64
            );
        }
        s
    }
}

/// Seed and family of case number `index` of a run with `seed` drawing
/// from `families` (all families when empty).
pub fn case_params(seed: u64, index: u64, families: &[Family]) -> (Family, u64) {
    let families = if families.is_empty() {
        &Family::ALL[..]
    } else {
        families
    };
    let mut r = Rng::new(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let case_seed = r.next_u64();
    let family = families[r.below(families.len() as u32) as usize];
    (family, case_seed)
}

/// Runs `cases` generated cases (deterministic in `seed`, families drawn
/// uniformly) on both executors and compares their outcomes.
pub fn run_differential(
    reference: &mut dyn Executor,
    subject: &mut dyn Executor,
    cases: u64,
    seed: u64,
) -> DiffReport {
    run_differential_with(reference, subject, cases, seed, &Family::ALL)
}

/// Like [`run_differential`], drawing only from `families` (all when
/// empty).
pub fn run_differential_with(
    reference: &mut dyn Executor,
    subject: &mut dyn Executor,
    cases: u64,
    seed: u64,
    families: &[Family],
) -> DiffReport {
    let mut rep = DiffReport {
        reference: reference.name().to_string(),
        subject: subject.name().to_string(),
        seed,
        ..DiffReport::default()
    };
    for index in 0..cases {
        let (family, case_seed) = case_params(seed, index, families);
        let case = generate(family, case_seed);
        let a = reference.execute(&case);
        let b = subject.execute(&case);
        rep.cases += 1;
        let st = rep.per_family.entry(family).or_default();
        st.cases += 1;
        match &a {
            Outcome::Completed(_) => st.completed += 1,
            Outcome::Fault { vector, .. } => *st.faults.entry(*vector).or_default() += 1,
            Outcome::Error(_) => {}
        }
        if let Err(report) = compare(&case, &a, &b) {
            st.mismatches += 1;
            rep.mismatch_count += 1;
            if rep.mismatches.len() < MAX_KEPT_MISMATCHES {
                let minimized = minimize(reference, subject, &case);
                let report = match &minimized {
                    Some(m) => {
                        let ra = reference.execute(m);
                        let rb = subject.execute(m);
                        match compare(m, &ra, &rb) {
                            Err(r) => format!("(minimised case)\n{r}(original case)\n{report}"),
                            Ok(()) => report,
                        }
                    }
                    None => report,
                };
                rep.mismatches.push(Mismatch {
                    index,
                    case_seed,
                    case,
                    report,
                    minimized,
                });
            }
        }
    }
    rep
}

/// Tries to simplify a mismatching case (registers to 0 or to the data
/// base, flags to 0, memory to zero) while it keeps mismatching. Returns
/// the simplified case if any simplification was kept.
pub fn minimize(
    reference: &mut dyn Executor,
    subject: &mut dyn Executor,
    case: &Case,
) -> Option<Case> {
    let mut fails = |c: &Case| {
        let a = reference.execute(c);
        let b = subject.execute(c);
        compare(c, &a, &b).is_err()
    };
    let mut cur = case.clone();
    let mut changed = false;
    let mut try_keep = |cur: &mut Case, cand: Case, changed: &mut bool| {
        if cand != *cur && fails(&cand) {
            *cur = cand;
            *changed = true;
        }
    };
    let mut c = cur.clone();
    c.data.iter_mut().for_each(|b| *b = 0);
    c.stack.iter_mut().for_each(|b| *b = 0);
    try_keep(&mut cur, c, &mut changed);
    let mut c = cur.clone();
    c.eflags = 0;
    try_keep(&mut cur, c, &mut changed);
    for i in 0..8 {
        if i == ESP {
            continue;
        }
        for v in [0, DATA_BASE] {
            let mut c = cur.clone();
            c.gpr[i] = v;
            try_keep(&mut cur, c, &mut changed);
        }
    }
    changed.then_some(cur)
}
