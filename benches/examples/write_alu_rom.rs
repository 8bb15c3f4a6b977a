//! Writes a BIOS-replacement ROM that runs the ALU loop's instruction mix a given number of
//! times and exits (port 0xF4 for vtx32 and QEMU, "Shutdown" on 0x8900 for Bochs), so that
//! vtx32 and other emulators can be timed on the same work: `scripts/bochs-speed` does it
//! for Bochs.
//!
//! `write_alu_rom PATH [ITERATIONS]` (default 30,000,000; 17 instructions each: the 13 of
//! `vtx32_benches::alu_mix`, then INC ECX, AND ECX 3Fh, DEC ESP, JNZ).

use iced_x86::code_asm::*;
use vtx32_testsuites::romkit::{Asm, Rom, FREE_LOW};

/// Where the loop loads from and stores to, and where ESP is kept while it counts.
const SRC: u32 = FREE_LOW;
const DST: u32 = FREE_LOW + 0x100;
const SAVED_ESP: u32 = FREE_LOW + 0x1000;

fn build(iterations: u32) -> Asm<Vec<u8>> {
    let mut r = Rom::new("alu_loop")?;
    let (mut top, mut skip) = (r.label(), r.label());
    r.print("running the ALU loop\n")?;
    // Every general register but ESP is used by the mix: ESP counts (nothing is pushed).
    r.a.mov(dword_ptr(SAVED_ESP), esp)?;
    r.a.mov(esi, SRC)?;
    r.a.mov(edi, DST)?;
    r.a.xor(ecx, ecx)?;
    r.a.xor(edx, edx)?;
    r.a.mov(ebx, 0x1234_5678u32)?;
    r.a.mov(esp, iterations)?;
    r.a.set_label(&mut top)?;
    vtx32_benches::alu_mix(
        &mut r.a,
        dword_ptr(esi + ecx * 4),
        dword_ptr(edi + ecx * 4),
        &mut skip,
    )?;
    r.a.inc(ecx)?;
    r.a.and(ecx, 0x3F)?;
    r.a.dec(esp)?;
    r.a.jnz(top)?;
    r.a.mov(esp, dword_ptr(SAVED_ESP))?;
    // The result, to compare with the other emulator's.
    r.print_reg("edx", edx)?;
    r.newline()?;
    r.finish()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: write_alu_rom PATH [ITERATIONS]");
        std::process::exit(2);
    };
    let iterations = match args.get(2).map(|s| s.parse::<u32>()) {
        None => 30_000_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("write_alu_rom: ITERATIONS must be a number from 1 to 4294967295");
            std::process::exit(2);
        }
    };
    let rom = build(iterations).expect("the ROM assembles");
    if let Err(e) = std::fs::write(path, rom) {
        eprintln!("write_alu_rom: cannot write {path}: {e}");
        std::process::exit(2);
    }
}
