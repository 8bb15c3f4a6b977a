//! Guest MIPS with paging on ("Melem/s": one element is one retired guest instruction).
//!
//! * `paging/miss_*`: the page loop over the 64 MiB region, a new page every iteration, so
//!   that every load and store misses the TLB and walks (32-bit and PAE paging).
//! * `paging/hot_*`: the same loop over 128 pages, all TLB hits; `paging/hot_off` is that
//!   loop with paging off, to compare with `pm32/alu_loop`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vtx32_benches::{
    page_loop_program, paged_cpu, run_instructions, Paging, HOT_PAGES, REGION_SIZE,
};

const SLICE: u64 = 1_000_000;

fn paging(c: &mut Criterion) {
    let mut g = c.benchmark_group("paging");
    g.throughput(Throughput::Elements(SLICE));
    g.sample_size(20);
    let cases = [
        ("miss_2level", Paging::TwoLevel, REGION_SIZE >> 12),
        ("miss_pae", Paging::Pae, REGION_SIZE >> 12),
        ("hot_2level", Paging::TwoLevel, HOT_PAGES),
        ("hot_pae", Paging::Pae, HOT_PAGES),
        ("hot_off", Paging::Off, HOT_PAGES),
    ];
    for (name, mode, pages) in cases {
        let mut cpu = paged_cpu(&page_loop_program(pages), mode);
        // One pass over the pages: accessed/dirty flags set, the decoded cache warm.
        run_instructions(&mut cpu, u64::from(pages) * 16 + 10_000);
        g.bench_function(name, |b| b.iter(|| run_instructions(&mut cpu, SLICE)));
    }
    g.finish();
}

criterion_group!(benches, paging);
criterion_main!(benches);
