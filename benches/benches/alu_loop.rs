//! Guest MIPS of the 32-bit protected-mode ALU loop (paging off). Criterion's throughput
//! line reads "Melem/s": one element is one retired guest instruction, so it is MIPS.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vtx32_benches::{alu_loop_program, flat_cpu, run_instructions};

const SLICE: u64 = 2_000_000;

fn alu_loop(c: &mut Criterion) {
    let mut cpu = flat_cpu(&alu_loop_program());
    run_instructions(&mut cpu, 10_000); // warm the decoded-instruction cache
    let mut g = c.benchmark_group("pm32");
    g.throughput(Throughput::Elements(SLICE));
    g.sample_size(20);
    g.bench_function("alu_loop", |b| b.iter(|| run_instructions(&mut cpu, SLICE)));
    g.finish();
}

criterion_group!(benches, alu_loop);
criterion_main!(benches);
