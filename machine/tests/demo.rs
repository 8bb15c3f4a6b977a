mod common;
use vtx32_machine::demo::demo_rom;

#[test]
fn demo_runs_to_its_verdict() {
    let rom = demo_rom();
    assert_eq!(rom.len(), 64 * 1024);
    let (_m, con, out) = common::run_rom(&rom, 1_000_000);
    let text = con.text();
    println!("{text}\n{out:?}");
    assert!(text.contains("vtx32 demo: "), "{text}");
}
