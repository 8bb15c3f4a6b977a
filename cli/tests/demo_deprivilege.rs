//! `vtx32 run --demo deprivilege` end to end: the leaks it prints with their values, its
//! verdict line and exit status; `--demo` errors.

use std::process::{Command, Output};

fn vtx32(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vtx32"))
        .args(args)
        .output()
        .expect("run vtx32")
}

/// The lines of the section that starts with `header` (up to the next `model` line or
/// the verdict).
fn section<'a>(out: &'a str, header: &str) -> Vec<&'a str> {
    let mut lines = out.lines().skip_while(|l| !l.starts_with(header));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no {header:?} in\n{out}"));
    std::iter::once(first)
        .chain(lines.take_while(|l| l.starts_with("  ")))
        .collect()
}

/// The one line of `lines` starting with `  {probe}` (after the indentation).
fn line<'a>(lines: &[&'a str], probe: &str) -> &'a str {
    let hits: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.trim_start().starts_with(probe))
        .collect();
    assert_eq!(hits.len(), 1, "{probe:?} in {lines:#?}");
    hits[0]
}

fn has(l: &str, needles: &[&str]) {
    for n in needles {
        assert!(l.contains(n), "{l:?} lacks {n:?}");
    }
}

#[test]
fn deprivilege_demo_prints_each_leak_with_its_values() {
    let o = vtx32(&["run", "--demo", "deprivilege"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    // 0 written to port 0xF4 (every expected leak seen, nothing unexpected): status 1.
    assert_eq!(o.status.code(), Some(1), "{out}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.starts_with("vtx32: debug exit 0x0 "), "{err}");
    assert!(!out.contains("unexpected"), "{out}");
    has(
        line(&out.lines().collect::<Vec<_>>(), "monitor (ring 0)"),
        &[
            "GDTR base 00001800 limit 003f",
            "IDTR base 00001000 limit 07ff",
            "CR0 80000039",
        ],
    );

    for (header, cs, ss, rpl) in [
        ("model 0/1/3", "0019", "0021", "1"),
        ("model 0/3/3", "002b", "0033", "3"),
    ] {
        let s = section(&out, header);
        // The privileged instructions trap and are emulated.
        let traps: Vec<&str> = s
            .iter()
            .copied()
            .filter(|l| l.starts_with("  trap"))
            .collect();
        assert_eq!(traps.len(), 4, "{s:#?}");
        for (l, name) in traps.iter().zip(["LGDT", "LIDT", "CLI", "CLTS"]) {
            has(l, &[name, "#GP(0000) at 000f9"]);
        }
        // The sensitive unprivileged ones leak, with the values seen.
        has(
            line(&s, "SGDT"),
            &[
                "base 00001800 limit 003f",
                "expects base 00020000 limit 0017",
                "LEAK",
            ],
        );
        has(
            line(&s, "SIDT"),
            &[
                "base 00001000 limit 07ff",
                "expects base 00020400 limit 00ff",
                "LEAK",
            ],
        );
        let rpl_text = format!("(RPL {rpl})");
        has(line(&s, "PUSH CS"), &[cs, &rpl_text, "LEAK: the real CPL"]);
        has(line(&s, "MOV r32, CS"), &[cs, &rpl_text, "LEAK"]);
        has(line(&s, "MOV r32, SS"), &[ss, &rpl_text, "LEAK"]);
        has(line(&s, "SMSW"), &["0039; guest expects 0031", "LEAK"]);
        has(
            line(&s, "PUSHFD"),
            &["IF=1 IOPL=0; guest expects IF=0", "LEAK"],
        );
        has(
            line(&s, "POPFD"),
            &[
                "image IF=0 IOPL=3: no fault; EFLAGS now IF=1 IOPL=0",
                "LEAK",
            ],
        );
    }

    // Ring compression: only under 0/3/3 can the application overwrite the kernel.
    let s = section(&out, "model 0/1/3");
    has(
        line(&s, "application"),
        &[
            "#PF(0007) cr2 00020200",
            "kernel data still 600df00d",
            "no leak",
        ],
    );
    has(
        line(&s, "leaks under 0/1/3:"),
        &["SGDT SIDT PUSH-CS MOV-from-CS MOV-from-SS SMSW PUSHF POPF"],
    );
    assert!(!line(&s, "leaks under").contains("ring-compression"));
    let s = section(&out, "model 0/3/3");
    has(
        line(&s, "application"),
        &[
            "no fault, kernel data now bad0c0de",
            "LEAK: ring compression",
        ],
    );
    has(line(&s, "leaks under 0/3/3:"), &["POPF ring-compression"]);

    assert_eq!(
        out.lines().last(),
        Some(
            "vtx32 demo deprivilege: 9 kinds of leak observed: SGDT SIDT PUSH-CS MOV-from-CS \
             MOV-from-SS SMSW PUSHF POPF ring-compression"
        ),
        "{out}"
    );
}

#[test]
fn unknown_demo_is_one_line_listing_the_demos() {
    let o = vtx32(&["run", "--demo", "nosuch"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(o.stdout.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("vtx32: error: "), "{err}");
    assert!(
        err.contains("\"nosuch\"") && err.contains("deprivilege"),
        "{err}"
    );
}

#[test]
fn demo_conflicts_with_a_rom_or_load() {
    for args in [
        &["run", "--demo", "deprivilege", "x.rom"][..],
        &["run", "--demo", "deprivilege", "--load", "x.bin@0x1000"][..],
    ] {
        let o = vtx32(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains("--demo"), "{args:?}: {err}");
    }
}

#[test]
fn without_rom_or_demo_the_builtin_demo_runs() {
    let o = vtx32(&["run", "--quiet"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.lines().any(|l| l.starts_with("vtx32 demo: ")), "{out}");
}
