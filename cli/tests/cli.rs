//! The `vtx32` binary end to end: exit statuses, one-line errors, JSON summary, traces.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use iced_x86::code_asm::*;
use vtx32_machine::roms::{hello_rom, rom16};

fn vtx32(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vtx32"))
        .args(args)
        .output()
        .expect("run vtx32")
}

/// A fresh path in a per-process scratch directory.
fn scratch(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!("vtx32-cli-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{}-{name}", N.fetch_add(1, Ordering::Relaxed)))
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let p = scratch(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn demo_prints_its_verdict_and_exits_through_port_f4() {
    let o = vtx32(&["run"]);
    let out = stdout(&o);
    let verdict = out
        .lines()
        .find(|l| l.starts_with("vtx32 demo: "))
        .unwrap_or_else(|| panic!("no verdict in\n{out}"));
    let nums: Vec<u32> = verdict
        .trim_start_matches("vtx32 demo: ")
        .trim_end_matches(" checks passed")
        .split('/')
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(nums[1] >= 15);
    // 0 to port 0xF4 when all pass (status 1), 1 otherwise (status 3).
    let expected = if nums[0] == nums[1] { 1 } else { 3 };
    assert_eq!(o.status.code(), Some(expected), "{out}");
    let err = stderr(&o);
    assert!(err.starts_with("vtx32: debug exit 0x"), "{err}");
    assert!(
        err.contains(" instructions, ") && err.contains(" MIPS"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn hello_rom_exit_status_and_summary() {
    let rom = write("hello.rom", &hello_rom("hello\n", 0x21));
    let o = vtx32(&["run", s(&rom)]);
    assert_eq!(stdout(&o), "hello\n");
    assert_eq!(o.status.code(), Some(0x43));
    assert!(stderr(&o).starts_with("vtx32: debug exit 0x21 (exit status 67) after "));
    let o = vtx32(&["run", "--quiet", s(&rom)]);
    assert_eq!(o.status.code(), Some(0x43));
    assert_eq!(stderr(&o), "");
}

#[test]
fn each_stop_reason_has_its_status() {
    let halt = write(
        "halt.rom",
        &rom16(|a, _| {
            a.cli()?;
            a.hlt()
        })
        .unwrap(),
    );
    let o = vtx32(&["run", s(&halt)]);
    assert_eq!(o.status.code(), Some(4));
    assert!(stderr(&o).starts_with("vtx32: halted after 3 instructions, "));

    let lim = vtx32(&["run", "--max-instructions", "100"]);
    assert_eq!(lim.status.code(), Some(8));
    assert!(stderr(&lim).starts_with("vtx32: instruction limit after 100 instructions"));

    let bye = write("bye.rom", &hello_rom("", 0x21));
    // Without the 0xF4 write the ROM goes on to "Shutdown" on port 0x8900.
    let mut img = std::fs::read(&bye).unwrap();
    let i = img.windows(2).position(|w| w == [0xE6, 0xF4]).unwrap();
    img[i..i + 2].copy_from_slice(&[0x90, 0x90]);
    let bye = write("bye2.rom", &img);
    let o = vtx32(&["run", s(&bye)]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).starts_with("vtx32: shutdown port 0x8900 after "));

    // Triple fault: flat 32-bit binary with an empty IDT raising #UD.
    let mut a = CodeAssembler::new(32).unwrap();
    a.lidt(ptr(0x2000u32)).unwrap();
    a.ud2().unwrap();
    let tf = write("tf.bin", &a.assemble(0x1000).unwrap());
    let zero = write("zero.bin", &[0; 6]);
    let o = vtx32(&[
        "run",
        "--load",
        &format!("{}@0x1000", s(&tf)),
        "--load",
        &format!("{}@8192", s(&zero)),
        "--entry",
        "pm32",
    ]);
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert!(stderr(&o).starts_with("vtx32: triple fault (shutdown) after 1 instructions"));
}

#[test]
fn real_mode_load_entry() {
    let mut a = CodeAssembler::new(16).unwrap();
    a.mov(al, u32::from(b'R')).unwrap();
    a.out(0xE9, al).unwrap();
    a.mov(ax, cs).unwrap();
    a.out(0xF4, al).unwrap();
    let bin = write("real.bin", &a.assemble(0).unwrap());
    let o = vtx32(&["run", "--load", &format!("{}@0x7c00", s(&bin))]);
    assert_eq!(stdout(&o), "R");
    // CS = 0x07C0: AL = 0xC0 -> status (0xC0 << 1 | 1) & 0xFF = 0x81.
    assert_eq!(o.status.code(), Some(0x81));
}

/// Runs `args` and checks: status 2, nothing on stdout, exactly one stderr line that
/// starts with "vtx32: error: " and contains every needle.
fn bad(args: &[&str], needles: &[&str]) {
    let o = vtx32(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(stdout(&o), "", "{args:?}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("vtx32: error: "), "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: {err} lacks {n:?}");
    }
}

#[test]
fn bad_input_gives_one_line_and_status_2() {
    let missing = scratch("missing.rom");
    bad(
        &["run", s(&missing)],
        &["cannot read ROM image", s(&missing)],
    );
    let dir = scratch("a-directory");
    std::fs::create_dir_all(&dir).unwrap();
    bad(&["run", s(&dir)], &["cannot read ROM image", s(&dir)]);
    let odd = write("odd.rom", &[0; 1000]);
    bad(&["run", s(&odd)], &["1000 bytes", "64 KiB", s(&odd)]);
    let empty = write("empty.rom", &[]);
    bad(&["run", s(&empty)], &["0 bytes", s(&empty)]);
    let big = write("big.rom", &vec![0; 320 * 1024]);
    bad(&["run", s(&big)], &["256 KiB", s(&big)]);
    bad(&["run", "--ram", "0"], &["RAM", "(--ram)"]);
    bad(&["run", "--ram", "4096"], &["RAM", "4096 MiB"]);
    bad(&["run", "--ram", "lots"], &["lots", "--ram"]);
    let bin = write("load.bin", &[0x90; 64]);
    let spec = format!("{}@0x3ffffe0", s(&bin));
    bad(
        &["run", "--load", &spec],
        &["64 bytes", "0x3ffffe0", s(&bin)],
    );
    for spec in ["nofile", "x@", "@0x100", "x@0xZZ", "x@-1", "x@0x100000000"] {
        bad(&["run", "--load", spec], &["FILE@ADDR", spec]);
    }
    let absent = scratch("absent.bin");
    bad(
        &["run", "--load", &format!("{}@0x1000", s(&absent))],
        &["cannot read file", s(&absent)],
    );
    bad(&["run", "--bogus"], &["--bogus"]);
    bad(&["frobnicate"], &["frobnicate"]);
    bad(&["run", "--entry", "pm32"], &["--entry"]);
    bad(&["run", "--cpu", "pentium"], &["pentium"]);
    let no_dir = scratch("no-such-dir").join("trace.txt");
    bad(&["run", "--trace", s(&no_dir)], &["trace", s(&no_dir)]);
}

#[test]
fn json_summary_is_the_last_stdout_line() {
    let rom = write("hello-json.rom", &hello_rom("no newline", 0x21));
    let o = vtx32(&["run", "--json", "--post", s(&rom)]);
    assert_eq!(o.status.code(), Some(0x43));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("no newline"));
    let v: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(lines.next(), None);
    assert_eq!(v["stop"], "debug-exit");
    assert_eq!(v["exit_status"], 0x43);
    assert_eq!(v["debug_exit_value"], 0x21);
    assert!(v["instructions"].as_u64().unwrap() > 10);
    assert!(v["cycles"].as_u64().unwrap() > v["instructions"].as_u64().unwrap());
    assert!(v["wall_seconds"].as_f64().unwrap() >= 0.0);
    assert!(v["mips"].as_f64().is_some());
    assert_eq!(v["post_codes"], serde_json::json!([]));
    assert_eq!(stderr(&o), "");

    // The demo writes POST codes 1-5 to port 0x80.
    let o = vtx32(&["run", "--json", "--post"]);
    let out = stdout(&o);
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let codes: Vec<(u64, u64)> = v["post_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["port"].as_u64().unwrap(), c["value"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [(0x80, 1), (0x80, 2), (0x80, 3), (0x80, 4), (0x80, 5)]
    );
    // Without --post there is no post_codes field.
    let o = vtx32(&["run", "--json", "--max-instructions", "10"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    assert_eq!(v["stop"], "instruction-limit");
    assert_eq!(v["exit_status"], 8);
    assert_eq!(v["instructions"], 10);
    assert!(v.get("post_codes").is_none());
}

#[test]
fn post_codes_on_stderr() {
    let o = vtx32(&["run", "--post", "--quiet"]);
    assert_eq!(
        stderr(&o),
        "vtx32: POST codes (5): 80:01 80:02 80:03 80:04 80:05\n"
    );
}

#[test]
fn trace_has_the_documented_format() {
    let rom = write("hello-trace.rom", &hello_rom("hi", 0x21));
    let trace = scratch("trace.txt");
    let o = vtx32(&["run", "--quiet", "--trace", s(&trace), s(&rom)]);
    assert_eq!(o.status.code(), Some(0x43));
    let text = std::fs::read_to_string(&trace).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "f000:fff0 fffffff0  ea000000f0        jmp far 0,0F000h                eip=0000",
            "f000:0000 000f0000  b800f0            mov ax,0F000h                   eax=0000f000",
            "f000:0003 000f0003  8ed8              mov ds,ax                       ds=f000",
            "f000:0005 000f0005  be00c0            mov si,0C000h                   esi=0000c000",
        ]
    );
    assert!(lines.contains(
        &"f000:0008 000f0008  8a04              mov al,[si]                     eax=0000f068"
    ));
    assert!(lines.contains(
        &"f000:000a 000f000a  84c0              test al,al                      flags=+pf,-sf"
    ));
    assert!(lines.contains(
        &"f000:0010 000f0010  46                inc si                          esi=0000c001 flags=+sf"
    ));
    assert!(lines.contains(
        &"f000:000c 000f000c  7405              je short 0013h                  eip=0013"
    ));
    assert!(lines.contains(&"f000:000e 000f000e  e6e9              out 0E9h,al"));
    assert!(lines.contains(
        &"f000:0011 000f0011  ebf5              jmp short 8                     eip=0008"
    ));
    assert_eq!(
        *lines.last().unwrap(),
        "f000:0015 000f0015  e6f4              out 0F4h,al"
    );
    // One line per retired instruction here (no faults).
    let o = vtx32(&["run", "--json", s(&rom)]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    assert_eq!(v["instructions"].as_u64().unwrap(), lines.len() as u64);
    assert!(text.ends_with('\n') && !text.contains(" \n"));
}

#[test]
fn trace_shows_delivered_exceptions() {
    let trace = scratch("demo-trace.txt");
    let o = vtx32(&["run", "--quiet", "--trace", s(&trace)]);
    assert!(matches!(o.status.code(), Some(1 | 3)));
    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(text
        .lines()
        .any(|l| l.contains("  div ecx  ") && l.ends_with(" exc=#DE")));
    assert!(text
        .lines()
        .any(|l| l.contains("  mov ds,ax  ") && l.ends_with(" exc=#GP(0080)")));
    assert!(text.lines().any(|l| l.ends_with("cs=0008 eip=000f4000")));
}

#[test]
fn help_lists_exit_statuses() {
    let o = vtx32(&["run", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    for n in [
        "(v<<1)|1",
        "halted",
        "triple fault",
        "--max-instructions",
        "130",
    ] {
        assert!(out.contains(n), "{out}");
    }
}
