//! Runs the ALU-loop workload for profiling (perf / callgrind) outside criterion.
fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(50_000_000);
    let mut cpu = vtx32_benches::flat_cpu(&vtx32_benches::alu_loop_program());
    let t = std::time::Instant::now();
    vtx32_benches::run_instructions(&mut cpu, n);
    let s = t.elapsed().as_secs_f64();
    println!(
        "{n} instructions in {s:.3} s: {:.1} MIPS",
        n as f64 / s / 1e6
    );
}
