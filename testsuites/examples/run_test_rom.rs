//! Runs one test ROM under vtx32 and prints its console output and how the run ended:
//! `cargo run -p vtx32-testsuites --example run_test_rom -- NAME`.

use vtx32_testsuites::golden::run_rom;
use vtx32_testsuites::roms::find;

fn main() {
    let Some(name) = std::env::args().nth(1) else {
        eprintln!("run_test_rom: usage: run_test_rom NAME");
        std::process::exit(2);
    };
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
    eprintln!("run_test_rom: {name}: {:?}", run.stop);
}
