//! Trace lines for 32-bit code, exceptions and shutdown (docs/trace-format.md).

mod common;

use common::{machine, Console};
use iced_x86::code_asm::*;
use vtx32_machine::{Entry, Limits, Stop, Tracer};

#[test]
fn flat32_trace_with_triple_fault() {
    let (mut m, _c) = machine();
    let mut a = CodeAssembler::new(32).unwrap();
    a.mov(eax, 0xFFFF_FFFFu32).unwrap();
    a.add(eax, 1).unwrap();
    a.lidt(ptr(0x2000u32)).unwrap();
    a.ud2().unwrap();
    m.load(0x1000, &a.assemble(0x1000).unwrap()).unwrap();
    m.load(0x2000, &[0; 6]).unwrap();
    m.enter(Entry::Pm32, 0x1000);
    let sink = Console::default();
    let mut t = Tracer::new(Box::new(sink.clone()));
    let out = m.run_observed(
        Limits {
            max_instructions: Some(100),
            ..Limits::default()
        },
        &mut |_| {},
        Some(&mut t),
    );
    assert_eq!(out.stop, Stop::Shutdown);
    // The faulting instruction stays at its EIP: `eip=` shows it (not the sequential one).
    assert!(t.finish().is_ok());
    assert_eq!(
        sink.text(),
        "\
0008:00001000 00001000  b8ffffffff        mov eax,0FFFFFFFFh              eax=ffffffff
0008:00001005 00001005  0501000000        add eax,1                       eax=00000000 flags=+cf,+pf,+af,+zf
0008:0000100a 0000100a  0f011d00200000    lidt [2000h]
0008:00001011 00001011  0f0b              ud2                             eip=00001011 exc=#UD shutdown
"
    );
}
