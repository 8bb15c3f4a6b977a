//! Running a test ROM under vtx32 and comparing its console output with a Bochs golden,
//! allowing only the differences listed (with their SDM citation) in
//! `testsuites/goldens/known-differences.toml`.

use serde::Deserialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use vtx32_cpu::CpuModel;
use vtx32_machine::{Limits, Machine, Stop};

/// Instructions a test ROM may run before it counts as hung.
pub const MAX_INSTRUCTIONS: u64 = 50_000_000;

/// The goldens directory.
pub fn goldens_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("goldens")
}

#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("console buffer").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a ROM printed under vtx32 and how the run ended.
pub struct RomRun {
    pub output: String,
    pub stop: Stop,
}

/// Runs `image` on a 64 MiB Yonah machine (as the Bochs configuration does).
pub fn run_rom(image: &[u8]) -> RomRun {
    let buf = SharedBuf::default();
    let mut m =
        Machine::new(CpuModel::yonah(), 64 << 20, Box::new(buf.clone())).expect("a 64 MiB machine");
    m.load_rom(image).expect("a 64 KiB kit image");
    let out = m.run(Limits {
        max_instructions: Some(MAX_INSTRUCTIONS),
        ..Limits::default()
    });
    let bytes = buf.0.lock().expect("console buffer").clone();
    RomRun {
        output: String::from_utf8_lossy(&bytes).into_owned(),
        stop: out.stop,
    }
}

/// One accepted difference between Bochs and vtx32.
#[derive(Debug, Deserialize)]
pub struct KnownDifference {
    pub rom: String,
    /// The golden (Bochs) line.
    pub bochs: String,
    /// The vtx32 line.
    pub vtx32: String,
    /// The SDM rule vtx32 follows.
    pub sdm: String,
}

#[derive(Debug, Deserialize)]
struct KnownDifferences {
    #[serde(default)]
    difference: Vec<KnownDifference>,
}

/// The known differences file, parsed.
pub fn known_differences() -> Result<Vec<KnownDifference>, String> {
    let p = goldens_dir().join("known-differences.toml");
    let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    let k: KnownDifferences = toml::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(k.difference)
}

/// Compares `vtx32` output with the `golden`, line by line. Returns the problems found
/// (empty: equal up to known differences) and marks the known differences used.
pub fn compare(
    rom: &str,
    golden: &str,
    vtx32: &str,
    known: &[KnownDifference],
    used: &mut [bool],
) -> Vec<String> {
    let g: Vec<&str> = golden.lines().collect();
    let v: Vec<&str> = vtx32.lines().collect();
    let mut problems = Vec::new();
    for i in 0..g.len().max(v.len()) {
        let (gl, vl) = (g.get(i).copied(), v.get(i).copied());
        if gl == vl {
            continue;
        }
        let accepted = known.iter().position(|k| {
            k.rom == rom && Some(k.bochs.as_str()) == gl && Some(k.vtx32.as_str()) == vl
        });
        match accepted {
            Some(k) => used[k] = true,
            None => problems.push(format!(
                "{rom} line {}:\n  bochs: {}\n  vtx32: {}",
                i + 1,
                gl.unwrap_or("<missing>"),
                vl.unwrap_or("<missing>")
            )),
        }
    }
    problems
}
