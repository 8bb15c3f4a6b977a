//! Every test ROM (`src/roms/`) runs under vtx32 and must print what Bochs 2.7 printed for
//! it (`goldens/<name>.txt`, from `scripts/bochs-goldens`), except for the lines listed with
//! an SDM citation in `goldens/known-differences.toml`. Bochs is not needed here.

use vtx32_machine::Stop;

/// The last line of a golden whose ROM ends in a triple fault (`scripts/bochs-goldens`).
const SHUTDOWN_MARKER: &str = "[shutdown: triple fault]";
use vtx32_testsuites::golden::{compare, goldens_dir, known_differences, run_rom};
use vtx32_testsuites::roms::ROMS;

#[test]
fn every_test_rom_matches_its_bochs_golden() {
    let known = known_differences().expect("known-differences.toml parses");
    let mut used = vec![false; known.len()];
    let mut problems = Vec::new();
    for rom in ROMS {
        let image = match (rom.build)() {
            Ok(i) => i,
            Err(e) => {
                problems.push(format!("{}: does not assemble: {e}", rom.name));
                continue;
            }
        };
        let path = goldens_dir().join(format!("{}.txt", rom.name));
        let Ok(golden) = std::fs::read_to_string(&path) else {
            problems.push(format!(
                "{}: no golden at {} (run scripts/bochs-goldens {})",
                rom.name,
                path.display(),
                rom.name
            ));
            continue;
        };
        let mut run = run_rom(&image);
        // Kit ROMs end through port 0xF4 with 0 (1 after an unexpected exception), or in a
        // triple fault, marked by a last line as the golden script marks Bochs's.
        match run.stop {
            Stop::DebugExit { code: 0 } => {}
            Stop::Shutdown => run.output.push_str(&format!("{SHUTDOWN_MARKER}\n")),
            other => problems.push(format!("{}: run ended with {other:?}", rom.name)),
        }
        problems.extend(compare(rom.name, &golden, &run.output, &known, &mut used));
    }
    for (k, u) in known.iter().zip(&used) {
        if !u {
            problems.push(format!("known difference no longer seen: {k:?}"));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn rom_names_are_unique_and_every_golden_has_a_rom() {
    let mut names: Vec<_> = ROMS.iter().map(|r| r.name).collect();
    names.sort_unstable();
    let n = names.len();
    names.dedup();
    assert_eq!(names.len(), n, "duplicate ROM names");
    for e in std::fs::read_dir(goldens_dir()).expect("goldens dir") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "txt") {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(
                names.contains(&stem.as_str()),
                "golden without a ROM: {}",
                p.display()
            );
        }
    }
}

#[test]
fn a_differing_line_is_reported_unless_known() {
    let known = vec![vtx32_testsuites::golden::KnownDifference {
        rom: "r".into(),
        bochs: "a=1".into(),
        vtx32: "a=2".into(),
        sdm: "test".into(),
    }];
    let mut used = vec![false];
    assert!(compare("r", "x\na=1\n", "x\na=2\n", &known, &mut used).is_empty());
    assert!(used[0]);
    assert_eq!(
        compare("r", "x\na=1\n", "x\na=3\n", &known, &mut used).len(),
        1
    );
    assert_eq!(compare("r", "x\n", "x\ny\n", &known, &mut used).len(), 1);
    assert_eq!(compare("q", "a=1\n", "a=2\n", &known, &mut used).len(), 1);
}
