//! Runs test ROMs under vtx32 and prints their console output and how each run ended:
//! `cargo run -p vtx32-testsuites --example run_test_rom -- NAME...` (for comparing with a
//! Bochs golden while writing a ROM).

use vtx32_testsuites::golden::run_rom;
use vtx32_testsuites::roms::find;

fn main() {
    let names: Vec<String> = std::env::args().skip(1).collect();
    if names.is_empty() {
        eprintln!("run_test_rom: usage: run_test_rom NAME...");
        std::process::exit(2);
    }
    for name in names {
        let Some(rom) = find(&name) else {
            eprintln!("run_test_rom: error: no test ROM named {name:?}");
            std::process::exit(2);
        };
        let image = match (rom.build)() {
            Ok(i) => i,
            Err(e) => {
                eprintln!("run_test_rom: error: {name} does not assemble: {e}");
                std::process::exit(1);
            }
        };
        let run = run_rom(&image);
        print!("{}", run.output);
        eprintln!("[{name}: {:?}]", run.stop);
    }
}
