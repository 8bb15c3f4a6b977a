//! Board behaviour end to end: ROMs built with `code_asm`, run on a `Machine`.

mod common;

use common::{machine, run_rom};
use iced_x86::code_asm::*;
use vtx32_machine::roms::{emit_puts16, hello_rom, rom16};
use vtx32_machine::{demo::demo_rom, Entry, Limits, Stop, Tracer};

fn limits(n: u64) -> Limits {
    Limits {
        max_instructions: Some(n),
        ..Limits::default()
    }
}

#[test]
fn hello_rom_prints_and_exits_through_port_f4() {
    let (_m, con, out) = run_rom(&hello_rom("hello\n", 0x21), 10_000);
    assert_eq!(con.text(), "hello\n");
    assert_eq!(out.stop, Stop::DebugExit { code: 0x21 });
    assert_eq!(out.exit_status(), 0x43);
}

#[test]
fn debug_exit_status_is_odd_and_truncated_to_8_bits() {
    assert_eq!(Stop::DebugExit { code: 0 }.exit_status(), 1);
    assert_eq!(Stop::DebugExit { code: 0x80 }.exit_status(), 1);
    assert_eq!(Stop::DebugExit { code: 0x7F }.exit_status(), 0xFF);
    let statuses = [
        Stop::Halted,
        Stop::Shutdown,
        Stop::BochsShutdown,
        Stop::InstructionLimit,
        Stop::Interrupted,
    ]
    .map(|s| s.exit_status());
    assert_eq!(statuses, [4, 6, 0, 8, 130]);
}

#[test]
fn dword_write_to_debug_exit_port() {
    let rom = rom16(|a, _| {
        a.mov(eax, 0x1234_5602u32)?;
        a.out(0xF4, eax)?;
        a.hlt()
    })
    .unwrap();
    let (_m, _c, out) = run_rom(&rom, 100);
    assert_eq!(out.stop, Stop::DebugExit { code: 0x1234_5602 });
    assert_eq!(out.exit_status(), 5);
}

#[test]
fn hlt_with_interrupts_off_halts() {
    let rom = rom16(|a, _| {
        a.cli()?;
        a.hlt()
    })
    .unwrap();
    let (_m, _c, out) = run_rom(&rom, 100);
    assert_eq!(out.stop, Stop::Halted);
    assert_eq!(out.exit_status(), 4);
    // The far jump at the reset vector, CLI, HLT.
    assert_eq!(out.instructions, 3);
}

#[test]
fn empty_idt_in_protected_mode_triple_faults() {
    // Flat 32-bit code: an IDT with limit 0, then #UD: #UD -> #GP (gate outside the IDT)
    // -> #DF -> shutdown.
    let (mut m, _c) = machine();
    let mut a = CodeAssembler::new(32).unwrap();
    a.lidt(ptr(0x2000u32)).unwrap();
    a.ud2().unwrap();
    let code = a.assemble(0x1000).unwrap();
    m.load(0x1000, &code).unwrap();
    m.load(0x2000, &[0, 0, 0, 0, 0, 0]).unwrap();
    m.enter(Entry::Pm32, 0x1000);
    let out = m.run(limits(1000));
    assert_eq!(out.stop, Stop::Shutdown);
    assert_eq!(out.exit_status(), 6);
}

#[test]
fn instruction_limit_is_exact() {
    let rom = rom16(|a, _| {
        let mut top = a.create_label();
        a.set_label(&mut top)?;
        a.inc(ax)?;
        a.jmp(top)
    })
    .unwrap();
    for n in [1, 7, 1000, 2_500_001] {
        let (_m, _c, out) = run_rom(&rom, n);
        assert_eq!(out.stop, Stop::InstructionLimit);
        assert_eq!(out.instructions, n);
        assert_eq!(out.exit_status(), 8);
    }
}

#[test]
fn shutdown_string_on_port_8900_ends_the_run() {
    let rom = rom16(|a, rom| {
        // A broken attempt first: it must not stop the run.
        let s = rom.string("ShutXShutdown");
        a.mov(dx, 0x8900u32)?;
        a.mov(si, u32::from(s))?;
        a.mov(ax, 0xF000u32)?;
        a.mov(ds, ax)?;
        let mut top = a.create_label();
        let mut end = a.create_label();
        a.set_label(&mut top)?;
        a.mov(al, byte_ptr(si))?;
        a.test(al, al)?;
        a.jz(end)?;
        a.out(dx, al)?;
        a.inc(si)?;
        a.jmp(top)?;
        a.set_label(&mut end)?;
        a.hlt()
    })
    .unwrap();
    let (m, _c, out) = run_rom(&rom, 10_000);
    assert_eq!(out.stop, Stop::BochsShutdown);
    assert_eq!(out.exit_status(), 0);
    // Stopped right after the 'n' of the second "Shutdown", not at the HLT.
    assert_eq!(m.cpu.core.regs.gpr[0] & 0xFF, u32::from(b'n'));
}

#[test]
fn post_codes_are_recorded_and_bounded() {
    let rom = rom16(|a, _| {
        a.mov(al, 0x11u32)?;
        a.out(0x80, al)?;
        a.mov(dx, 0x190u32)?;
        a.mov(al, 0x22u32)?;
        a.out(dx, al)?;
        // 70000 more to port 0x80.
        a.mov(ecx, 70_000u32)?;
        let mut top = a.create_label();
        a.set_label(&mut top)?;
        a.out(0x80, al)?;
        a.dec(ecx)?;
        a.jnz(top)?;
        a.hlt()
    })
    .unwrap();
    let (m, _c, out) = run_rom(&rom, 1_000_000);
    assert_eq!(out.stop, Stop::Halted);
    let post = m.board.post_codes();
    assert_eq!(post[..2], [(0x80, 0x11), (0x190, 0x22)]);
    assert_eq!(post.len(), 65536);
    assert_eq!(m.board.post_codes_dropped(), 70_002 - 65536);
}

/// Port 0x92: A20 starts enabled; clearing bit 1 makes 0x100000 alias 0; the port reads
/// back the gate state. The ROM reports through the exit code:
/// bit 0 = started enabled, bit 1 = wrapped when off, bit 2 = distinct when on again,
/// bit 3 = read-back of bit 1 followed the gate.
#[test]
fn a20_gate_through_port_92() {
    let rom = rom16(|a, _| {
        a.xor(bx, bx)?; // result bits
        a.xor(ax, ax)?;
        a.mov(es, ax)?;
        a.mov(ax, 0xFFFFu32)?;
        a.mov(fs, ax)?;
        let mut not_on = a.create_label();
        a.in_(al, 0x92)?;
        a.test(al, 2)?;
        a.jz(not_on)?;
        a.or(bx, 1)?;
        a.set_label(&mut not_on)?;
        // Off.
        a.mov(al, 0u32)?;
        a.out(0x92, al)?;
        let mut no_wrap = a.create_label();
        a.mov(word_ptr(0x100).es(), 0x1111)?;
        a.mov(word_ptr(0x110).fs(), 0x2222)?;
        a.cmp(word_ptr(0x100).es(), 0x2222)?;
        a.jne(no_wrap)?;
        a.or(bx, 2)?;
        a.set_label(&mut no_wrap)?;
        let mut rb_bad = a.create_label();
        a.in_(al, 0x92)?;
        a.test(al, 2)?;
        a.jnz(rb_bad)?;
        // On again.
        a.mov(al, 2u32)?;
        a.out(0x92, al)?;
        a.in_(al, 0x92)?;
        a.test(al, 2)?;
        a.jz(rb_bad)?;
        a.or(bx, 8)?;
        a.set_label(&mut rb_bad)?;
        let mut wraps = a.create_label();
        a.mov(word_ptr(0x100).es(), 0x1111)?;
        a.mov(word_ptr(0x110).fs(), 0x2222)?;
        a.cmp(word_ptr(0x100).es(), 0x1111)?;
        a.jne(wraps)?;
        a.or(bx, 4)?;
        a.set_label(&mut wraps)?;
        a.mov(ax, bx)?;
        a.out(0xF4, al)?;
        a.hlt()
    })
    .unwrap();
    let (_m, _c, out) = run_rom(&rom, 1000);
    assert_eq!(out.stop, Stop::DebugExit { code: 0xF });
}

/// Port 0x92 bit 0 resets the processor: the ROM runs again from the reset vector with
/// memory kept.
#[test]
fn fast_reset_through_port_92() {
    let rom = rom16(|a, _| {
        let mut second = a.create_label();
        a.xor(ax, ax)?;
        a.mov(ds, ax)?;
        a.cmp(byte_ptr(0x500), 0x5A)?;
        a.je(second)?;
        a.mov(byte_ptr(0x500), 0x5A)?;
        a.mov(al, 3u32)?; // keep A20 on, pulse reset
        a.out(0x92, al)?;
        a.hlt()?; // not reached
        a.set_label(&mut second)?;
        a.mov(al, 0x7u32)?;
        a.out(0xF4, al)?;
        a.hlt()
    })
    .unwrap();
    let (_m, _c, out) = run_rom(&rom, 1000);
    assert_eq!(out.stop, Stop::DebugExit { code: 7 });
}

#[test]
fn unmapped_ports_float_and_e9_reads_back_e9() {
    let rom = rom16(|a, _| {
        a.in_(al, 0xE9)?;
        a.mov(bl, al)?;
        a.mov(dx, 0x1234u32)?;
        a.in_(eax, dx)?;
        a.mov(ecx, eax)?;
        a.out(dx, eax)?; // ignored
        a.hlt()
    })
    .unwrap();
    let (m, _c, out) = run_rom(&rom, 100);
    assert_eq!(out.stop, Stop::Halted);
    assert_eq!(m.cpu.core.regs.gpr[3] & 0xFF, 0xE9);
    assert_eq!(m.cpu.core.regs.gpr[1], 0xFFFF_FFFF);
}

#[test]
fn real_mode_entry_of_a_loaded_binary() {
    let (mut m, con) = machine();
    let mut a = CodeAssembler::new(16).unwrap();
    // CS = 07C0, IP = 0: DS = CS, then print a string placed after the code.
    a.mov(ax, cs).unwrap();
    a.mov(ds, ax).unwrap();
    emit_puts16(&mut a, 0x40).unwrap();
    a.mov(al, 0x10u32).unwrap();
    a.out(0xF4, al).unwrap();
    let mut code = a.assemble(0).unwrap();
    assert!(code.len() <= 0x40);
    code.resize(0x40, 0x90);
    code.extend_from_slice(b"real\0");
    m.load(0x7C00, &code).unwrap();
    m.enter(Entry::Real, 0x7C00);
    assert_eq!(m.cpu.core.sregs.seg[1].selector, 0x07C0);
    let out = m.run(limits(1000));
    assert_eq!(con.text(), "real");
    assert_eq!(out.stop, Stop::DebugExit { code: 0x10 });
}

#[test]
fn loads_must_fit_in_ram() {
    let (mut m, _c) = machine();
    assert!(m.load((4 << 20) - 4, &[0; 8]).is_err());
    assert!(m.load((4 << 20) - 8, &[0; 8]).is_ok());
    assert!(m.load_rom(&[0; 1000]).is_err());
    assert!(m.load_rom(&vec![0; 5 * 65536]).is_err());
}

/// Slice size and tracing do not change what the guest sees or the counts.
#[test]
fn runs_are_deterministic_across_slices_and_tracing() {
    let rom = demo_rom();
    let run = |slice: u64, trace: bool| {
        let (mut m, con) = machine();
        m.load_rom(&rom).unwrap();
        let l = Limits {
            max_instructions: Some(5_000_000),
            slice,
        };
        let mut t = Tracer::new(Box::new(std::io::sink()));
        let out = m.run_observed(l, &mut |_| {}, trace.then_some(&mut t));
        (out.stop, out.instructions, out.cycles, con.text())
    };
    let a = run(1_000_000, false);
    assert!(a.3.contains("vtx32 demo: "), "{}", a.3);
    assert_eq!(a, run(1000, false));
    assert_eq!(a, run(1_000_000, true));
    assert_eq!(a, run(77, true));
}
