//! Paging (SDM Vol. 3 ch. 4): 2-level paging with 4 KiB and 4 MiB pages, PAE with 2 MiB
//! pages and the PDPTE registers, accessed/dirty bits, #PF error codes and CR2, CR0.WP,
//! user/supervisor checks, and the TLB as software sees it (stale entries until INVLPG or
//! a CR3 write; global pages survive CR3 writes).

use crate::romkit::*;
use iced_x86::code_asm::*;

/// 2-level tables: the page directory, the identity page table for 0-4 MiB, and the page
/// table for the test pages at linear 4 MiB.
const PD: u32 = FREE_HIGH;
const PT_LOW: u32 = PD + 0x1000;
const PT_TEST: u32 = PD + 0x2000;
/// PAE tables: PDPT, the page directories for 0-1 GiB and 2-3 GiB, a page table.
const PDPT: u32 = PD + 0x3000;
const PAE_PD0: u32 = PD + 0x4000;
const PAE_PD2: u32 = PD + 0x5000;
const PAE_PT: u32 = PD + 0x6000;

/// Physical pages behind the test mappings, each starting with a marker dword.
const PAGE_A: u32 = 0x20_0000;
const PAGE_B: u32 = 0x20_1000;
const PAGE_RO: u32 = 0x20_2000;
const PAGE_USER_RO: u32 = 0x20_3000;
const BIG: u32 = 0x80_0000;

/// Linear addresses of the test pages (PT_TEST entries 0-3) and of the 4 MiB page.
const LIN_A: u32 = 0x40_0000;
const LIN_ABSENT: u32 = 0x40_1000;
const LIN_RO: u32 = 0x40_2000;
const LIN_USER_RO: u32 = 0x40_3000;
const LIN_BIG: u32 = 0x80_0000;
const LIN_NO_PDE: u32 = 0xC0_0000;

const P: u32 = 1;
const RW: u32 = 2;
const US: u32 = 4;
const PS: u32 = 0x80;
const G: u32 = 0x100;

pub fn rom() -> Asm<Vec<u8>> {
    let mut r = Rom::new("paging")?;
    cpuid_line(&mut r)?;
    two_level(&mut r)?;
    tlb(&mut r)?;
    large_pages(&mut r)?;
    pae(&mut r)?;
    r.finish()
}

/// The paging features CPUID reports (PSE, PAE, PGE; NX and the address widths).
fn cpuid_line(r: &mut Rom) -> Asm {
    r.a.mov(eax, 1u32)?;
    r.a.cpuid()?;
    r.a.and(edx, (1u32 << 3) | (1 << 6) | (1 << 13))?;
    r.print_reg("cpuid.1.edx(pse,pae,pge)", edx)?;
    r.a.mov(eax, 0x8000_0001u32)?;
    r.a.cpuid()?;
    r.a.and(edx, 1u32 << 20)?;
    r.print_reg("cpuid.80000001.edx(nx)", edx)?;
    r.newline()
}

/// Reads the dword at linear `lin` and prints it (a fault prints its EXC line instead).
fn read(r: &mut Rom, name: &str, lin: u32) -> Asm {
    let name = name.to_string();
    r.expect_fault(move |r| {
        r.a.mov(eax, dword_ptr(lin))?;
        r.print_reg(&name, eax)?;
        r.newline()
    })
}

/// Writes `v` to linear `lin`.
fn write(r: &mut Rom, lin: u32, v: u32) -> Asm {
    r.expect_fault(move |r| r.a.mov(dword_ptr(lin), v))
}

fn two_level(r: &mut Rom) -> Asm {
    let a = &mut r.a;
    // Markers in the physical pages.
    for (pa, v) in [
        (PAGE_A, 0x1111_1111u32),
        (PAGE_B, 0x2222_2222),
        (PAGE_RO, 0x3333_3333),
        (PAGE_USER_RO, 0x4444_4444),
        (BIG, 0x6666_6666),
    ] {
        a.mov(dword_ptr(pa), v)?;
    }
    // Clear the tables, then identity-map 0-4 MiB (user, writable).
    a.xor(eax, eax)?;
    a.mov(edi, PD)?;
    a.mov(ecx, 0x7000u32 / 4)?;
    a.rep().stosd()?;
    a.mov(edi, PT_LOW)?;
    a.mov(eax, P | RW | US)?;
    a.mov(ecx, 1024u32)?;
    let mut fill = a.create_label();
    a.set_label(&mut fill)?;
    a.stosd()?;
    a.add(eax, 0x1000u32)?;
    a.dec(ecx)?;
    a.jnz(fill)?;
    a.mov(dword_ptr(PD), PT_LOW | P | RW | US)?;
    a.mov(dword_ptr(PD + 4), PT_TEST | P | RW | US)?;
    // The test pages: writable user, absent, read-only supervisor, read-only user.
    a.mov(dword_ptr(PT_TEST), PAGE_A | P | RW | US)?;
    a.mov(dword_ptr(PT_TEST + 8), PAGE_RO | P)?;
    a.mov(dword_ptr(PT_TEST + 12), PAGE_USER_RO | P | US)?;
    a.mov(eax, PD)?;
    a.mov(cr3, eax)?;
    a.mov(eax, cr0)?;
    a.or(eax, 0x8000_0000u32)?;
    a.mov(cr0, eax)?;
    r.print("-- 2-level, 4 KiB pages\n")?;
    // A read sets A in the PDE and PTE; a write then sets D in the PTE only.
    read(r, "read 400000", LIN_A)?;
    r.print_mem32("pde1", PD + 4)?;
    r.print_mem32("pte0", PT_TEST)?;
    r.newline()?;
    write(r, LIN_A, 0x5555_5555)?;
    r.print_mem32("pte0 after write", PT_TEST)?;
    r.newline()?;
    // Not present: error code 0 (read) / 2 (write), CR2 = the address.
    read(r, "read absent", LIN_ABSENT + 0x10)?;
    write(r, LIN_ABSENT + 0x20, 1)?;
    // A supervisor write to a read-only page: allowed while CR0.WP = 0, #PF(3) with WP.
    write(r, LIN_RO, 0x3434_3434)?;
    r.print_mem32("pte2 after wp=0 write", PT_TEST + 8)?;
    r.newline()?;
    r.a.mov(eax, cr0)?;
    r.a.or(eax, 1u32 << 16)?;
    r.a.mov(cr0, eax)?;
    write(r, LIN_RO + 4, 0x3535_3535)?;
    read(r, "read ro", LIN_RO)?;
    // User accesses: a supervisor page faults with U/S (5 read); a read-only user page
    // reads but a write faults with 7. The failing walk leaves the PTE's D bit clear.
    r.a.mov(dword_ptr(PT_TEST + 12), PAGE_USER_RO | P | US)?;
    r.in_ring(3, |r| {
        r.a.mov(eax, dword_ptr(LIN_USER_RO))?;
        r.print_reg("ring3 read user-ro", eax)?;
        r.newline()?;
        r.a.mov(eax, dword_ptr(LIN_RO))
    })?;
    r.in_ring(3, |r| r.a.mov(dword_ptr(LIN_USER_RO), 0u32))?;
    r.print_mem32("pte3 after faulting user write", PT_TEST + 12)?;
    r.newline()?;
    r.in_ring(3, |r| r.a.mov(eax, dword_ptr(LIN_ABSENT)))?;
    Ok(())
}

fn tlb(r: &mut Rom) -> Asm {
    r.print("-- TLB\n")?;
    // Remap page 0 to PAGE_B behind the TLB's back: the old translation stays in use
    // until INVLPG (SDM §4.10.4.2).
    read(r, "before remap", LIN_A)?;
    r.a.mov(dword_ptr(PT_TEST), PAGE_B | P | RW | US)?;
    read(r, "after remap (stale)", LIN_A)?;
    r.a.invlpg(dword_ptr(LIN_A))?;
    read(r, "after invlpg", LIN_A)?;
    // And back: stale until CR3 is written.
    r.a.mov(dword_ptr(PT_TEST), PAGE_A | P | RW | US)?;
    read(r, "after remap back (stale)", LIN_A)?;
    r.a.mov(eax, cr3)?;
    r.a.mov(cr3, eax)?;
    read(r, "after cr3 write", LIN_A)?;
    // Global pages (CR4.PGE): a global translation survives a CR3 write.
    r.a.mov(eax, cr4)?;
    r.a.or(eax, 1u32 << 7)?;
    r.a.mov(cr4, eax)?;
    r.a.mov(dword_ptr(PT_TEST), PAGE_A | P | RW | US | G)?;
    r.a.invlpg(dword_ptr(LIN_A))?;
    read(r, "global", LIN_A)?;
    r.a.mov(dword_ptr(PT_TEST), PAGE_B | P | RW | US | G)?;
    r.a.mov(eax, cr3)?;
    r.a.mov(cr3, eax)?;
    read(r, "global after cr3 write (stale)", LIN_A)?;
    r.a.invlpg(dword_ptr(LIN_A))?;
    read(r, "global after invlpg", LIN_A)?;
    // Turning CR4.PGE off flushes global entries too.
    r.a.mov(dword_ptr(PT_TEST), PAGE_A | P | RW | US | G)?;
    r.a.mov(eax, cr4)?;
    r.a.and(eax, !(1u32 << 7))?;
    r.a.mov(cr4, eax)?;
    read(r, "after pge off", LIN_A)
}

fn large_pages(r: &mut Rom) -> Asm {
    r.print("-- 4 MiB pages (CR4.PSE)\n")?;
    r.a.mov(eax, cr4)?;
    r.a.or(eax, 1u32 << 4)?;
    r.a.mov(cr4, eax)?;
    r.a.mov(dword_ptr(PD + 8), BIG | PS | P | RW | US)?;
    read(r, "read 800000", LIN_BIG)?;
    read(r, "read 800000+3ffffc", LIN_BIG + 0x3F_FFFC)?;
    r.print_mem32("pde2", PD + 8)?;
    r.newline()?;
    write(r, LIN_BIG + 8, 0x7777_7777)?;
    r.print_mem32("pde2 after write", PD + 8)?;
    r.newline()?;
    // No PDE at all: #PF(0) with CR2.
    read(r, "read c00000", LIN_NO_PDE)
}

fn pae(r: &mut Rom) -> Asm {
    r.print("-- PAE\n")?;
    let a = &mut r.a;
    // Paging off while the tables change.
    a.mov(eax, cr0)?;
    a.and(eax, 0x7FFF_FFFFu32)?;
    a.mov(cr0, eax)?;
    // PDPTE0 -> PD0: a 2 MiB identity page at 0 and a page table for 2-4 MiB.
    // PDPTE2 -> PD2: a 2 MiB page at linear 0x80000000 -> physical 0x200000.
    a.mov(dword_ptr(PDPT), PAE_PD0 | P)?;
    a.mov(dword_ptr(PDPT + 16), PAE_PD2 | P)?;
    a.mov(dword_ptr(PAE_PD0), P | RW | US | PS)?;
    a.mov(dword_ptr(PAE_PD0 + 8), PAE_PT | P | RW | US)?;
    a.mov(dword_ptr(PAE_PD2), PAGE_A | P | RW | US | PS)?;
    // The page table for linear 0x200000: entry 0 -> PAGE_A, entry 1 -> PAGE_B,
    // entry 2 has a reserved bit (bit 40, above MAXPHYADDR).
    a.mov(dword_ptr(PAE_PT), PAGE_A | P | RW | US)?;
    a.mov(dword_ptr(PAE_PT + 8), PAGE_B | P | RW | US)?;
    a.mov(dword_ptr(PAE_PT + 16), PAGE_B | P | RW | US)?;
    a.mov(dword_ptr(PAE_PT + 20), 1u32 << 8)?;
    a.mov(eax, cr4)?;
    a.or(eax, 1u32 << 5)?;
    a.mov(cr4, eax)?;
    a.mov(eax, PDPT)?;
    a.mov(cr3, eax)?;
    a.mov(eax, cr0)?;
    a.or(eax, 0x8000_0000u32)?;
    a.mov(cr0, eax)?;
    read(r, "pae read 200000", 0x20_0000)?;
    read(r, "pae read 201000", 0x20_1000)?;
    r.print_mem32("pae pte0", PAE_PT)?;
    r.print_mem32("pae pde1", PAE_PD0 + 8)?;
    r.newline()?;
    read(r, "pae reserved bit", 0x20_2000)?;
    read(r, "pae 2 MiB page at 80000000", 0x8000_0000)?;
    r.print_mem32("pae pd2 pde0", PAE_PD2)?;
    r.newline()?;
    // The PDPTEs are registers loaded at the CR3 write (§4.4.1): clearing PDPTE2 in
    // memory changes nothing until CR3 is written again.
    r.a.mov(dword_ptr(PDPT + 16), 0u32)?;
    r.a.invlpg(dword_ptr(0x8000_0000u32))?;
    read(r, "pdpte2 cleared in memory", 0x8000_0000)?;
    r.a.mov(eax, cr3)?;
    r.a.mov(cr3, eax)?;
    read(r, "after cr3 write", 0x8000_0000)?;
    // A PDPTE with reserved bits (bits 2:1 are reserved in PAE PDPTEs): MOV CR3 #GP(0).
    r.a.mov(dword_ptr(PDPT + 16), PAE_PD2 | P | RW)?;
    r.expect_fault(|r| {
        r.a.mov(eax, cr3)?;
        r.a.mov(cr3, eax)
    })?;
    r.a.mov(dword_ptr(PDPT + 16), PAE_PD2 | P)?;
    nx(r)
}

/// Execute-disable (§4.6): with IA32_EFER.NXE, bit 63 forbids instruction fetches
/// (#PF with I/D = 1) but not reads; without NXE the bit is reserved (#PF with RSVD).
fn nx(r: &mut Rom) -> Asm {
    r.print("-- NX\n")?;
    const EFER: u32 = 0xC000_0080;
    // A RET at PAGE_B + 0x10, reached through PAE PT entry 1 (linear 0x201000).
    r.a.mov(byte_ptr(0x20_1010u32), 0xC3u32)?;
    r.a.mov(dword_ptr(PAE_PT + 12), 1u32 << 31)?;
    r.a.invlpg(dword_ptr(0x20_1000u32))?;
    read(r, "xd set, nxe=0", 0x20_1000)?;
    r.a.mov(ecx, EFER)?;
    r.a.rdmsr()?;
    r.print_reg("efer", eax)?;
    r.a.or(eax, 1u32 << 11)?;
    r.a.wrmsr()?;
    r.a.rdmsr()?;
    r.print_reg("efer", eax)?;
    r.newline()?;
    read(r, "xd set, nxe=1, read", 0x20_1000)?;
    r.expect_fault(|r| r.a.call(0x20_1010u64))?;
    // Executable again once bit 63 is clear (and the TLB entry is dropped).
    r.a.mov(dword_ptr(PAE_PT + 12), 0u32)?;
    r.a.invlpg(dword_ptr(0x20_1000u32))?;
    r.expect_fault(|r| r.a.call(0x20_1010u64))?;
    // EFER bits other than NXE do not exist on this processor: #GP(0).
    r.expect_fault(|r| {
        r.a.mov(ecx, EFER)?;
        r.a.rdmsr()?;
        r.a.or(eax, 1u32)?;
        r.a.wrmsr()
    })?;
    Ok(())
}
