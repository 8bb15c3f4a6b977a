//! The same ROM under `qemu-system-i386 -bios` and under `vtx32 run`: same console output
//! (port 0xE9) and same exit status (port 0xF4). Skipped, saying so, when QEMU is not
//! installed (`.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn scratch() -> PathBuf {
    let d = std::env::temp_dir().join(format!("vtx32-qemu-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// Runs a command with a deadline; `None` if it had to be killed.
fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Option<(i32, String)> {
    let out_path = scratch().join(format!("out-{:?}", Instant::now()));
    let out = std::fs::File::create(&out_path).expect("output file");
    let mut child = cmd
        .stdout(out)
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .ok()?;
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().ok()? {
            let text = std::fs::read_to_string(&out_path).unwrap_or_default();
            return Some((status.code().unwrap_or(-1), text));
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn qemu(rom: &Path) -> Option<(i32, String)> {
    let rom = rom.to_str()?;
    run_with_timeout(
        Command::new("qemu-system-i386").args([
            "-bios",
            rom,
            "-display",
            "none",
            "-debugcon",
            "stdio",
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-no-reboot",
            "-m",
            "64",
        ]),
        Duration::from_secs(60),
    )
}

fn vtx32(rom: &Path) -> (i32, String) {
    run_with_timeout(
        Command::new(env!("CARGO_BIN_EXE_vtx32"))
            .args(["run", "--quiet"])
            .arg(rom),
        Duration::from_secs(60),
    )
    .expect("vtx32 finishes")
}

fn qemu_available() -> bool {
    let ok = Command::new("qemu-system-i386")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIPPED qemu comparison: qemu-system-i386 is not installed");
    }
    ok
}

/// The demo prints an RDTSC delta, which depends on timing: compare everything else.
fn without_timing(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.contains("RDTSC") {
                "RDTSC line (timing-dependent)"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn hello_and_demo_roms_behave_as_under_qemu() {
    if !qemu_available() {
        return;
    }
    let dir = scratch();
    let roms = [
        (
            "hello.rom",
            vtx32_machine::roms::hello_rom("hello from a ROM\n", 0x21),
        ),
        ("demo.rom", vtx32_machine::demo::demo_rom()),
        ("deprivilege.rom", vtx32_machine::demos::deprivilege::rom()),
    ];
    for (name, bytes) in roms {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write ROM");
        let Some((q_status, q_out)) = qemu(&path) else {
            panic!("QEMU did not finish {name} within 60 s");
        };
        let (v_status, v_out) = vtx32(&path);
        assert_eq!(
            q_status, v_status,
            "{name}: exit status under QEMU vs vtx32"
        );
        assert_eq!(
            without_timing(&q_out),
            without_timing(&v_out),
            "{name}: console output"
        );
        assert!(!v_out.is_empty(), "{name} printed nothing");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
