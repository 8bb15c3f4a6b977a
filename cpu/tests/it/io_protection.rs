//! I/O protection (SDM Vol. 1 §19.5 / Vol. 3 §18.5 in newer editions): IOPL, the TSS I/O
//! permission bitmap, and the IOPL rules of CLI, STI, POPF and IRET in protected mode.

use crate::pm;

use iced_x86::code_asm::*;
use pm::*;
use vtx32_cpu::StopReason;

/// Runs ring-`cpl` code at IOPL `iopl` with the ports board; `f` adjusts the machine.
fn at(
    cpl: u8,
    iopl: u32,
    f: impl FnOnce(&mut Pm),
    code: impl FnOnce(&mut CodeAssembler),
) -> (vtx32_cpu::Cpu, StopReason, Vec<u16>) {
    let mut m = Pm::new();
    m.cpl = cpl;
    m.eflags = iopl << 12;
    f(&mut m);
    let mut io = Ports::default();
    let (c, s) = m.run_io(
        |a| {
            code(a);
            a.int3().unwrap();
        },
        |_| {},
        &mut io,
    );
    (c, s, io.0)
}

#[test]
fn cpl_at_most_iopl_needs_no_bitmap_even_with_a_16_bit_tss() {
    for (cpl, iopl) in [(0u8, 0u32), (3, 3), (1, 2)] {
        let (_, s, ports) = at(
            cpl,
            iopl,
            |m| m.tss_type = 3,
            |a| {
                a.in_(al, 0x60).unwrap();
            },
        );
        assert_int3(s);
        assert_eq!(ports, [0x60], "CPL {cpl} IOPL {iopl}");
    }
}

#[test]
fn cpl_above_iopl_consults_the_bitmap() {
    let (_, s, ports) = at(
        3,
        0,
        |m| m.allow_ports(0x60, 1),
        |a| a.in_(al, 0x60).unwrap(),
    );
    assert_int3(s);
    assert_eq!(ports, [0x60]);
    let (c, s, ports) = at(
        3,
        2,
        |m| m.allow_ports(0x61, 1),
        |a| a.in_(al, 0x60).unwrap(),
    );
    assert_gp(s, 0);
    assert_eq!(c.core.regs.eip, CODE);
    assert!(ports.is_empty());
}

#[test]
fn every_byte_of_a_multi_byte_access_must_be_allowed() {
    // Dword at 0x3FE: ports 3FE-401, across two bitmap bytes.
    for (allowed, ok) in [(4u32, true), (3, false)] {
        let (_, s, ports) = at(
            3,
            0,
            |m| m.allow_ports(0x3FE, allowed),
            |a| {
                a.mov(dx, 0x3FEu32).unwrap();
                a.out(dx, eax).unwrap();
            },
        );
        if ok {
            assert_int3(s);
            assert_eq!(ports, [0x3FE]);
        } else {
            assert_gp(s, 0);
            assert!(ports.is_empty());
        }
    }
    // A word at 0x7 whose second port (0x8) is denied.
    let (_, s, _) = at(3, 0, |m| m.allow_ports(0x7, 1), |a| a.in_(ax, 0x7).unwrap());
    assert_gp(s, 0);
}

#[test]
fn the_two_bitmap_bytes_read_must_lie_within_the_tss_limit() {
    // Limit at the bitmap byte of ports 0x78-0x7F: their two-byte read ends at the limit
    // for port 0x70, past it for port 0x78 (SDM: the processor reads two bytes).
    for (port, ok) in [(0x70u8, true), (0x78, false)] {
        let (_, s, _) = at(
            3,
            0,
            |m| {
                m.allow_ports(0x70, 16);
                m.tss_limit = (IOMAP + 0x0F) as u32;
            },
            |a| a.in_(al, port as i32).unwrap(),
        );
        if ok {
            assert_int3(s);
        } else {
            assert_gp(s, 0);
        }
    }
}

#[test]
fn no_bitmap_when_the_map_base_is_beyond_the_limit_or_the_tss_is_16_bit() {
    let (_, s, _) = at(
        3,
        0,
        |m| {
            m.allow_ports(0, 0x10000);
            m.tss[102..104].copy_from_slice(&0x3000u16.to_le_bytes());
        },
        |a| a.in_(al, 0).unwrap(),
    );
    assert_gp(s, 0);
    let (_, s, _) = at(
        3,
        0,
        |m| {
            m.allow_ports(0, 0x10000);
            m.tss_type = 3;
        },
        |a| a.in_(al, 0).unwrap(),
    );
    assert_gp(s, 0);
}

#[test]
fn string_io_is_checked_too() {
    let (_, s, ports) = at(
        3,
        0,
        |_| {},
        |a| {
            a.mov(dx, 0x80u32).unwrap();
            a.mov(edi, 0x5000u32).unwrap();
            a.insb().unwrap();
        },
    );
    assert_gp(s, 0);
    assert!(ports.is_empty());
    let (_, s, ports) = at(
        3,
        0,
        |m| m.allow_ports(0x80, 1),
        |a| {
            a.mov(dx, 0x80u32).unwrap();
            a.mov(esi, 0x5000u32).unwrap();
            a.outsb().unwrap();
        },
    );
    assert_int3(s);
    assert_eq!(ports, [0x80]);
}

#[test]
fn cli_sti_need_cpl_at_most_iopl() {
    for (cpl, iopl, ok) in [
        (3u8, 0u32, false),
        (3, 3, true),
        (1, 0, false),
        (1, 1, true),
    ] {
        for sti in [false, true] {
            let (c, s, _) = at(
                cpl,
                iopl,
                |_| {},
                |a| {
                    if sti {
                        a.sti().unwrap()
                    } else {
                        a.cli().unwrap()
                    }
                },
            );
            if ok {
                assert_int3(s);
                assert_eq!(eflags(&c) & IF != 0, sti);
            } else {
                assert_gp(s, 0);
            }
        }
    }
}

/// POPFD of `image` at ring `cpl`, IOPL `iopl`, starting with IF set; the EFLAGS after.
fn popfd(cpl: u8, iopl: u32, image: u32) -> u32 {
    let mut m = Pm::new();
    m.cpl = cpl;
    m.eflags = iopl << 12 | IF;
    let (c, s) = m.run(|a| {
        a.push(image as i32).unwrap();
        a.popfd().unwrap();
        a.int3().unwrap();
    });
    assert_int3(s);
    eflags(&c)
}

#[test]
fn popf_above_iopl_silently_keeps_if_and_above_cpl_0_keeps_iopl() {
    // CPL 3 > IOPL 0: IF and IOPL kept, CF changed, no fault.
    assert_eq!(popfd(3, 0, 1) & (IF | IOPL3 | 1), IF | 1);
    assert_eq!(popfd(3, 0, IOPL3 | 1) & (IF | IOPL3), IF);
    // CPL 1 = IOPL 1: IF changes, IOPL does not.
    assert_eq!(popfd(1, 1, 0) & (IF | IOPL3), 1 << 12);
    // CPL 0: both change.
    assert_eq!(popfd(0, 0, IOPL3) & (IF | IOPL3), IOPL3);
}

#[test]
fn popf_never_sets_vm_vif_vip_and_clears_rf() {
    let f = popfd(0, 0, VM | VIF | VIP | RF | IF);
    assert_eq!(f & (VM | VIF | VIP | RF | IF), IF);
}

/// IRETD to the same level at ring 3 (CS 0x23) with flags image `image`.
fn iretd_at_cpl3(iopl: u32, image: u32) -> u32 {
    let mut m = Pm::new();
    m.cpl = 3;
    m.eflags = iopl << 12 | IF;
    // The return target: an INT3 at 0x6000.
    m.data.push((0x6000, vec![0xCC]));
    let (c, s) = m.run_io(
        |a| {
            a.push(image as i32).unwrap();
            a.push(i32::from(SEL_CODE3)).unwrap();
            a.push(0x6000i32).unwrap();
            a.iretd().unwrap();
        },
        ring3_selectors,
        &mut vtx32_cpu::NoPorts,
    );
    assert_int3(s);
    eflags(&c)
}

#[test]
fn iret_above_iopl_keeps_if_and_above_cpl_0_keeps_iopl_vif_vip() {
    assert_eq!(iretd_at_cpl3(0, 1) & (IF | IOPL3 | 1), IF | 1);
    assert_eq!(iretd_at_cpl3(0, IOPL3 | VIF | VIP) & (IOPL3 | VIF | VIP), 0);
    assert_eq!(iretd_at_cpl3(3, 0) & (IF | IOPL3), IOPL3);
}
