//! The demo ROM: every check prints PASS or FAIL, the verdict counts them, the exit code
//! says whether all passed.

mod common;
use vtx32_machine::demo::demo_rom;
use vtx32_machine::Stop;

#[test]
fn demo_runs_to_a_consistent_verdict() {
    let rom = demo_rom();
    assert_eq!(rom.len(), 64 * 1024);
    assert_eq!(rom[0xFFF0], 0xEA, "far jump at the reset vector");
    let (m, con, out) = common::run_rom(&rom, 1_000_000);
    let text = con.text();
    let pass = text.lines().filter(|l| l.ends_with("PASS")).count();
    let fail = text.lines().filter(|l| l.ends_with("FAIL")).count();
    assert!(pass + fail >= 15, "{text}");
    let verdict = format!("vtx32 demo: {pass}/{} checks passed\n", pass + fail);
    assert!(text.ends_with(&verdict), "{text}");
    let code = u32::from(fail != 0);
    assert_eq!(out.stop, Stop::DebugExit { code }, "{text}");
    // POST codes 1-5 mark the sections.
    let post: Vec<u8> = m.board.post_codes().iter().map(|&(_, v)| v).collect();
    assert_eq!(post, [1, 2, 3, 4, 5]);
    // The sections and events the demo is meant to show.
    for needle in [
        "A20 off: 1 MiB wraps",
        "(got 0x13ba)",
        "entering protected mode",
        "[vector 00 error 0000 eip 000f",
        "[vector 0d error 0080 eip 000f",
        "[vector 30 error 0000 eip 000f",
        "RDTSC advances                          (delta 0x",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn demo_rom_is_deterministic() {
    assert_eq!(demo_rom(), demo_rom());
}
