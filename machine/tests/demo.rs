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

/// A family the CPU lacks (#UD) shows as one FAIL line; the run goes on to the verdict.
#[test]
fn a_missing_family_is_a_fail_line_not_the_end() {
    let mut rom = demo_rom();
    // Turn the REP MOVSB (f3 a4) into UD2 (0f 0b), as an unimplemented family would raise.
    let at: Vec<usize> = rom
        .windows(2)
        .enumerate()
        .filter(|(_, w)| *w == [0xF3, 0xA4])
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1);
    rom[at[0]..at[0] + 2].copy_from_slice(&[0x0F, 0x0B]);
    let (_m, con, out) = common::run_rom(&rom, 1_000_000);
    let text = con.text();
    let line = text
        .lines()
        .find(|l| l.contains("REP MOVSB"))
        .unwrap()
        .to_string();
    assert!(line.contains("[vector 06 error 0000 eip 000f"), "{line}");
    assert!(line.ends_with("FAIL"), "{line}");
    let pass = text.lines().filter(|l| l.ends_with("PASS")).count();
    let total = pass + text.lines().filter(|l| l.ends_with("FAIL")).count();
    assert!(text.ends_with(&format!("vtx32 demo: {pass}/{total} checks passed\n")));
    assert!(text.contains("RDTSC advances"), "later checks still ran");
    assert_eq!(out.stop, Stop::DebugExit { code: 1 });
    assert_eq!(out.exit_status(), 3);
}
