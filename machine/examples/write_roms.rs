//! Writes the built-in ROMs to files so they can be run under other emulators:
//! `cargo run -p vtx32-machine --example write_roms -- DIR` writes DIR/demo.rom and
//! DIR/hello.rom (prints "hello" through port 0xE9, exits through port 0xF4 with 0x21) and
//! one DIR/NAME.rom per `--demo` NAME.

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    let write = |name: &str, bytes: Vec<u8>| {
        let p = dir.join(name);
        if let Err(e) = std::fs::write(&p, bytes) {
            eprintln!("write_roms: error: {e} ({})", p.display());
            std::process::exit(2);
        }
        println!("{}", p.display());
    };
    write("demo.rom", vtx32_machine::demo::demo_rom());
    write("hello.rom", vtx32_machine::roms::hello_rom("hello\n", 0x21));
    for name in vtx32_machine::demos::NAMES {
        let rom = vtx32_machine::demos::rom(name).expect("a listed demo builds");
        write(&format!("{name}.rom"), rom);
    }
}
