//! Writes the test ROMs to DIR/<name>.rom (all of them, or the names given), one path per
//! line on stdout: `cargo run -p vtx32-testsuites --example write_test_roms -- DIR [NAME...]`.
//! `scripts/bochs-goldens` uses it.

use vtx32_testsuites::roms::{find, ROMS};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("write_test_roms: usage: write_test_roms DIR [NAME...]");
        std::process::exit(2);
    };
    let names: Vec<String> = args.collect();
    let roms: Vec<_> = if names.is_empty() {
        ROMS.iter().collect()
    } else {
        names
            .iter()
            .map(|n| {
                find(n).unwrap_or_else(|| {
                    eprintln!("write_test_roms: error: no test ROM named {n:?}");
                    std::process::exit(2);
                })
            })
            .collect()
    };
    for r in roms {
        let image = match (r.build)() {
            Ok(i) => i,
            Err(e) => {
                eprintln!("write_test_roms: error: {} does not assemble: {e}", r.name);
                std::process::exit(1);
            }
        };
        let p = std::path::Path::new(&dir).join(format!("{}.rom", r.name));
        if let Err(e) = std::fs::write(&p, image) {
            eprintln!("write_test_roms: error: {e} ({})", p.display());
            std::process::exit(2);
        }
        println!("{}", p.display());
    }
}
