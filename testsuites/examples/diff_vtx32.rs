//! Runs the host-CPU differential test from the command line and prints the report:
//! `cargo run --release -p vtx32-testsuites --example diff_vtx32 -- CASES [SEED] [FAMILIES]`.
use vtx32_testsuites::case::Family;
use vtx32_testsuites::diff::run_differential_with;
use vtx32_testsuites::native::NativeExecutor;
use vtx32_testsuites::vtx32_exec::Vtx32Executor;

fn main() {
    let mut args = std::env::args().skip(1);
    let cases: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let families: Vec<Family> = args
        .next()
        .map(|s| s.split(',').filter_map(Family::from_name).collect())
        .unwrap_or_else(|| Family::ALL.to_vec());
    let Some(mut native) = NativeExecutor::new() else {
        println!("SKIPPED: host CPU oracle unavailable");
        return;
    };
    let mut emu = Vtx32Executor::new();
    let rep = run_differential_with(&mut native, &mut emu, cases, seed, &families);
    println!("{}", rep.summary());
}
