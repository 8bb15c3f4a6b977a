//! Runs a page-loop workload for profiling (perf / callgrind) outside criterion:
//! `profile_paging MODE PAGES N` with MODE `off`, `2level` or `pae`.
use vtx32_benches::{page_loop_program, paged_cpu, run_instructions, Paging};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = match args.get(1).map(String::as_str) {
        Some("off") => Paging::Off,
        Some("pae") => Paging::Pae,
        _ => Paging::TwoLevel,
    };
    let pages: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(16384);
    let n: u64 = args
        .get(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let mut cpu = paged_cpu(&page_loop_program(pages), mode);
    let t = std::time::Instant::now();
    run_instructions(&mut cpu, n);
    let s = t.elapsed().as_secs_f64();
    println!(
        "{mode:?} {pages} pages: {n} instructions in {s:.3} s: {:.1} MIPS, {} cycles",
        n as f64 / s / 1e6,
        cpu.core.cycles
    );
}
