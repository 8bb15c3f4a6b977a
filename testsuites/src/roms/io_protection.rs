//! I/O protection (SDM Vol. 1 §19.5, Vol. 3 §18.5 in recent editions): IOPL, the TSS I/O
//! permission bitmap (multi-byte accesses, the two bytes read against the TSS limit, no
//! map beyond the limit, none in a 16-bit TSS), and the IOPL rules of CLI, STI, POPF and
//! IRET at rings 0, 1 and 3.
//!
//! An access that goes through prints `mark=00000001` (set after the instruction); one
//! that faults prints the kit's `EXC 0D` line and `mark=00000000`.

use super::v86::{set_eflags, IF, IOPL3, RF, VIF, VIP, VM};
use crate::romkit::*;
use iced_x86::code_asm::*;

/// Set after the access under test.
const MARK: u32 = FREE_LOW;
/// The port the accesses use (POST diagnostics; ignored by both machines).
const PORT: u32 = 0x80;
/// A 16-bit TSS for the "no bitmap" case, with SS0:SP0 = DATA0:FFF0.
const TSS16: u32 = FREE_LOW + 0x100;

/// Runs `body` at `ring` with IOPL `iopl` and prints the mark.
fn io_case(
    r: &mut Rom,
    name: &str,
    ring: u8,
    iopl: u32,
    body: impl FnOnce(&mut Rom) -> Asm,
) -> Asm {
    r.print(&format!("-- {name}\n"))?;
    r.a.mov(dword_ptr(MARK), 0u32)?;
    set_eflags(r, iopl << 12)?;
    let run = |r: &mut Rom| -> Asm {
        body(r)?;
        r.a.mov(dword_ptr(MARK), 1u32)
    };
    if ring == 0 {
        r.expect_fault(run)?;
    } else {
        r.in_ring(ring, run)?;
    }
    set_eflags(r, 0)?;
    r.print_mem32("mark", MARK)?;
    r.newline()
}

/// Sets (deny) or clears (allow) the bitmap bit of `port`.
fn deny(r: &mut Rom, port: u32, denied: bool) -> Asm {
    let (byte, bit) = (IOMAP + port / 8, 1u32 << (port % 8));
    if denied {
        r.a.or(byte_ptr(byte), bit)
    } else {
        r.a.and(byte_ptr(byte), !bit & 0xFF)
    }
}

/// Loads TR with a fresh TSS descriptor (`access`, `base`, `limit`) in GDT entry FREE_SEL.
pub(crate) fn load_tr(r: &mut Rom, base: u32, limit: u32, tss_access: u8) -> Asm {
    r.set_descriptor(FREE_SEL, base, limit, tss_access, 0)?;
    r.a.mov(eax, u32::from(FREE_SEL))?;
    r.a.ltr(ax)
}

/// Back to the kit's TSS (its descriptor is busy from the first LTR: make it available).
pub(crate) fn restore_tr(r: &mut Rom) -> Asm {
    r.set_descriptor(TSS_SEL, TSS, TSS_LIMIT, access::TSS32, 0)?;
    r.a.mov(eax, u32::from(TSS_SEL))?;
    r.a.ltr(ax)
}

/// Prints EFLAGS as `fl=XXXXXXXX `.
fn print_flags(r: &mut Rom) -> Asm {
    r.a.pushfd()?;
    r.a.pop(eax)?;
    r.print_reg("fl", eax)
}

/// IRETD to the same level with the flags image `image` (any ring; CS = `code`).
fn iret_same_level(r: &mut Rom, image: u32, code: u16) -> Asm {
    let mut iret = r.label();
    let mut after = r.label();
    r.a.push(image)?;
    r.a.push(u32::from(code))?;
    r.a.call(iret)?;
    r.a.jmp(after)?;
    r.a.set_label(&mut iret)?;
    r.a.iretd()?;
    r.a.set_label(&mut after)?;
    r.a.zero_bytes()
}

pub fn rom() -> Asm<Vec<u8>> {
    let mut r = Rom::new("io_protection")?;
    let out_byte = |r: &mut Rom| -> Asm {
        r.a.mov(al, 0u32)?;
        r.a.out(PORT, al)
    };

    // CPL <= IOPL: no bitmap. CPL > IOPL: the bitmap (all zero: allowed).
    deny(&mut r, PORT, true)?;
    io_case(
        &mut r,
        "ring 0 iopl 0, port denied in the bitmap",
        0,
        0,
        out_byte,
    )?;
    io_case(&mut r, "ring 3 iopl 3, port denied", 3, 3, out_byte)?;
    io_case(&mut r, "ring 1 iopl 1, port denied", 1, 1, out_byte)?;
    io_case(&mut r, "ring 3 iopl 0, port denied", 3, 0, out_byte)?;
    io_case(&mut r, "ring 2 iopl 1, port denied", 2, 1, out_byte)?;
    deny(&mut r, PORT, false)?;
    io_case(&mut r, "ring 3 iopl 0, port allowed", 3, 0, out_byte)?;

    // Multi-byte accesses: every port's bit must be clear.
    deny(&mut r, PORT + 1, true)?;
    io_case(&mut r, "ring 3: out byte 80 (81 denied)", 3, 0, out_byte)?;
    io_case(&mut r, "ring 3: out word 80 (81 denied)", 3, 0, |r| {
        r.a.mov(dx, PORT)?;
        r.a.out(dx, ax)
    })?;
    io_case(&mut r, "ring 3: out dword 7e (81 denied)", 3, 0, |r| {
        r.a.mov(dx, PORT - 2)?;
        r.a.out(dx, eax)
    })?;
    io_case(&mut r, "ring 3: out dword 7c (81 denied)", 3, 0, |r| {
        r.a.mov(dx, PORT - 4)?;
        r.a.out(dx, eax)
    })?;
    deny(&mut r, PORT + 1, false)?;
    deny(&mut r, 0x88, true)?;
    io_case(
        &mut r,
        "ring 3: in word 87 (88 denied, next bitmap byte)",
        3,
        0,
        |r| r.a.in_(ax, 0x87),
    )?;
    io_case(&mut r, "ring 3: outsb to 80", 3, 0, |r| {
        r.a.mov(dx, PORT)?;
        r.a.mov(esi, MARK)?;
        r.a.outsb()
    })?;
    deny(&mut r, 0x88, false)?;

    // The TSS limit: the processor reads two bitmap bytes; both must be within the limit.
    let limit = IOMAP - TSS + PORT / 8;
    r.print(&format!(
        "-- tss limit {limit:x} (the bitmap byte of ports 80-87)\n"
    ))?;
    load_tr(&mut r, TSS, limit, access::TSS32)?;
    io_case(
        &mut r,
        "ring 3: out 78 (bytes within the limit)",
        3,
        0,
        |r| {
            r.a.mov(al, 0u32)?;
            r.a.out(0x78, al)
        },
    )?;
    io_case(
        &mut r,
        "ring 3: out 80 (second byte beyond the limit)",
        3,
        0,
        out_byte,
    )?;
    restore_tr(&mut r)?;
    r.print("-- tss limit 67 (no bitmap)\n")?;
    load_tr(&mut r, TSS, 0x67, access::TSS32)?;
    io_case(&mut r, "ring 3: out 80", 3, 0, out_byte)?;
    restore_tr(&mut r)?;
    // A 16-bit TSS has no I/O bitmap: CPL > IOPL always faults.
    r.a.mov(word_ptr(TSS16 + 2), 0xFFF0u32)?;
    r.a.mov(word_ptr(TSS16 + 4), u32::from(DATA0))?;
    r.print("-- 16-bit tss\n")?;
    load_tr(&mut r, TSS16, 0x2B, access::TSS16)?;
    io_case(&mut r, "ring 3: out 80", 3, 0, out_byte)?;
    io_case(&mut r, "ring 0: out 80", 0, 0, out_byte)?;
    restore_tr(&mut r)?;

    // CLI / STI need CPL <= IOPL.
    io_case(&mut r, "ring 3 iopl 0: cli", 3, 0, |r| r.a.cli())?;
    io_case(&mut r, "ring 3 iopl 0: sti", 3, 0, |r| r.a.sti())?;
    io_case(&mut r, "ring 3 iopl 3: sti cli", 3, 3, |r| {
        r.a.sti()?;
        r.a.cli()
    })?;
    io_case(&mut r, "ring 1 iopl 1: cli", 1, 1, |r| r.a.cli())?;
    io_case(&mut r, "ring 2 iopl 1: cli", 2, 1, |r| r.a.cli())?;

    // POPF: IF only at CPL <= IOPL, IOPL only at CPL 0, never a fault; VM, VIF and VIP
    // never change; RF is cleared.
    let image = IOPL3 | IF | 0x08D5;
    io_case(&mut r, "ring 3 iopl 0: popfd(iopl 3, if, 8d5)", 3, 0, |r| {
        r.a.push(image)?;
        r.a.popfd()?;
        print_flags(r)
    })?;
    io_case(&mut r, "ring 1 iopl 1: popfd(iopl 3, if, 8d5)", 1, 1, |r| {
        r.a.push(image)?;
        r.a.popfd()?;
        print_flags(r)?;
        r.a.push(1u32 << 12)?;
        r.a.popfd()
    })?;
    io_case(
        &mut r,
        "ring 0: popfd(iopl 3, 8d5) popfd(vm rf vif vip ac id)",
        0,
        0,
        |r| {
            r.a.push(IOPL3 | 0x08D5)?;
            r.a.popfd()?;
            print_flags(r)?;
            r.a.push(VM | RF | VIF | VIP | (1 << 18) | (1 << 21))?;
            r.a.popfd()?;
            print_flags(r)
        },
    )?;

    // IRET to the same level: as POPF, and VIF/VIP only at CPL 0.
    let image = IOPL3 | IF | VIF | VIP | 0x08D5;
    io_case(
        &mut r,
        "ring 3 iopl 0: iretd(iopl 3, if, vif, vip, 8d5)",
        3,
        0,
        |r| {
            iret_same_level(r, image, CODE3 | 3)?;
            print_flags(r)
        },
    )?;
    io_case(
        &mut r,
        "ring 0: iretd(iopl 3, if, vif, vip, 8d5)",
        0,
        0,
        |r| {
            iret_same_level(r, image & !IF, CODE0)?;
            print_flags(r)
        },
    )?;
    r.finish()
}
