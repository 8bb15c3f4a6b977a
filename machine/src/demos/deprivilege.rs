//! `vtx32 run --demo deprivilege`: why IA-32 could not be virtualized by trap-and-emulate
//! (Robin and Irvine, USENIX Security 2000; Uhlig et al., IEEE Computer 2005).
//!
//! A small ring-0 monitor runs one guest kernel twice, deprivileged: first at ring 1 with
//! its application at ring 3 (model 0/1/3), then at ring 3 with its application (model
//! 0/3/3). The guest kernel was written for ring 0:
//!
//! 1. it loads its own GDT and IDT (LGDT, LIDT), disables interrupts (CLI) and clears
//!    CR0.TS (CLTS). These are privileged: each raises #GP(0) and the monitor emulates it on
//!    the guest's *virtual* state (guest GDTR/IDTR, IF, CR0), printing a `trap` line;
//! 2. it then runs the sensitive but unprivileged instructions, which do not trap and so
//!    read or change the *real* state. It reports each result to the monitor with a
//!    hypercall (INT 80h, EAX = probe, EBX/ECX/EDX = values: the guest cannot print, as
//!    IOPL is 0), and the monitor compares it with what the guest expects from its virtual
//!    state, printing `LEAK` on a mismatch: SGDT/SIDT (the monitor's tables), PUSH CS and
//!    MOV from CS/SS (RPL = the real CPL), LAR of CS (the real DPL) and VERW of the
//!    guest's data selector (checked against the real CPL), SMSW (the real CR0, whose TS
//!    the monitor keeps set), PUSHFD (the real IF, still 1 after the emulated CLI) and
//!    POPFD (the IF and IOPL changes are dropped without a fault, SDM POPF);
//! 3. it starts its application (IRET to ring 3), which writes over the guest kernel's
//!    data. Paging only separates supervisor (CPL < 3) from user (CPL 3) pages (SDM Vol. 3
//!    §4.6): under 0/1/3 the kernel's pages are supervisor pages and the write faults
//!    (#PF), under 0/3/3 they must be user pages for the kernel to run and the write
//!    succeeds ("ring compression").
//!
//! The last line lists the leaks observed. The exit through port 0xF4 writes 0 (host
//! status 1) when every expected leak was seen and nothing unexpected happened, else 1
//! (status 3); as the other test ROMs it then writes "Shutdown" to port 0x8900 (Bochs).
//!
//! Memory map (physical = linear: the monitor identity-maps the first 4 MiB with 4 KiB
//! pages, all supervisor except the guest's):
//!
//! | address | content |
//! |---|---|
//! | 0x500-0x5FF | monitor variables ([`var`]) |
//! | 0x1000 / 0x1800 / 0x1900 | monitor IDT (256 gates), GDT ([`GDT`]), TSS |
//! | 0x2000 / 0x3000 | page directory, page table |
//! | 0x20000 | guest kernel data page (its GDT and IDT, the secret its application overwrites) |
//! | 0x21000 | guest kernel stack page |
//! | 0x30000 | application stack page |
//! | 0x80000 / 0x90000 | monitor stack tops for traps (TSS ESP0) and for its main code |
//! | 0xF4000 | monitor code (ROM) |
//! | 0xF9000 / 0xFA000 | guest kernel code page / application code page (ROM) |

use crate::roms::{
    deref_code32, emit_bochs_shutdown32, emit_flat_segments32, emit_reset_setup16, rom_addr,
    two_pass, Code32, LabelAddrs, RomBuilder, CODE16_OFFSET, CODE32_OFFSET,
};
use iced_x86::code_asm::*;
use iced_x86::IcedError;

type R = Result<(), IcedError>;

/// Monitor variables (RAM).
mod var {
    /// The monitor's ESP while a guest runs, and where it resumes when the run ends.
    pub const MAIN_ESP: u32 = 0x500;
    pub const RESUME: u32 = 0x504;
    /// The guest's virtual GDTR and IDTR (limit, base as dwords), CR0 and IF.
    pub const VGDT_LIMIT: u32 = 0x508;
    pub const VGDT_BASE: u32 = 0x50C;
    pub const VIDT_LIMIT: u32 = 0x510;
    pub const VIDT_BASE: u32 = 0x514;
    pub const VCR0: u32 = 0x518;
    pub const VIF: u32 = 0x51C;
    /// Leak bits of the current run, of each model, and a count of unexpected events.
    pub const LEAKS: u32 = 0x520;
    pub const LEAKS_013: u32 = 0x524;
    pub const LEAKS_033: u32 = 0x528;
    pub const UNEXPECTED: u32 = 0x52C;
    /// Scratch for SGDT/SIDT/STR of the monitor's own state.
    pub const SCRATCH: u32 = 0x540;
    pub const IDT: u32 = 0x1000;
    pub const GDT: u32 = 0x1800;
    pub const TSS: u32 = 0x1900;
    pub const PD: u32 = 0x2000;
    pub const PT: u32 = 0x3000;
}

/// The guest's memory.
mod guest {
    /// Kernel data page: its own GDT (null, code, data), GDTR and IDTR images, SGDT/SIDT
    /// output, the secret, its (never used) IDT.
    pub const KDATA: u32 = 0x2_0000;
    pub const GDT: u32 = KDATA;
    pub const GDTR: u32 = KDATA + 0x100;
    pub const IDTR: u32 = KDATA + 0x108;
    pub const OUT: u32 = KDATA + 0x110;
    pub const SECRET: u32 = KDATA + 0x200;
    pub const IDT: u32 = KDATA + 0x400;
    pub const KSTACK_PAGE: u32 = 0x2_1000;
    pub const APP_STACK_PAGE: u32 = 0x3_0000;
    /// Image offsets of the kernel and application code pages.
    pub const KCODE_OFFSET: u16 = 0x9000;
    pub const APP_OFFSET: u16 = 0xA000;
    pub const SECRET_KERNEL: u32 = 0x600D_F00D;
    pub const SECRET_APP: u32 = 0xBAD0_C0DE;
}

/// Monitor stacks.
const MAIN_STACK: u32 = 0x9_0000;
const TRAP_STACK: u32 = 0x8_0000;

/// Selectors of the monitor's GDT.
const MON_CS: u16 = 0x08;
const MON_DS: u16 = 0x10;
const R1_CS: u16 = 0x18;
const R1_DS: u16 = 0x20;
const R3_CS: u16 = 0x28;
const R3_DS: u16 = 0x30;
const TSS_SEL: u16 = 0x38;

/// The monitor's GDT (SDM Vol. 3 §3.4.5): flat 4 GiB code and data at DPL 0, 1 and 3
/// (accessed bits preset), and a 32-bit available TSS at [`var::TSS`] with limit 0x67.
const GDT: [u64; 8] = [
    0,
    0x00CF_9B00_0000_FFFF,
    0x00CF_9300_0000_FFFF,
    0x00CF_BB00_0000_FFFF,
    0x00CF_B300_0000_FFFF,
    0x00CF_FB00_0000_FFFF,
    0x00CF_F300_0000_FFFF,
    0x0000_8900_0000_0067 | ((var::TSS as u64) << 16),
];

/// The real CR0 while guests run: PG, NE, ET, TS, PE. The monitor keeps TS set (as a
/// monitor switching FPU state lazily would); a guest's CLTS clears only its virtual TS.
const REAL_CR0: u32 = 0x8000_0039;
/// The guest's CR0 as it starts (paging off: it never enabled it).
const GUEST_CR0: u32 = 0x39;
const EFLAGS_IF: u32 = 0x200;

/// Kinds of leak, as bits of [`var::LEAKS`], with the names the summary lines use.
mod leak {
    pub const SGDT: u32 = 1 << 0;
    pub const SIDT: u32 = 1 << 1;
    pub const PUSH_CS: u32 = 1 << 2;
    pub const MOV_CS: u32 = 1 << 3;
    pub const MOV_SS: u32 = 1 << 4;
    pub const LAR: u32 = 1 << 5;
    pub const VERW: u32 = 1 << 6;
    pub const SMSW: u32 = 1 << 7;
    pub const PUSHF: u32 = 1 << 8;
    pub const POPF: u32 = 1 << 9;
    pub const RING_COMPRESSION: u32 = 1 << 10;
    pub const NAMES: [(u32, &str); 11] = [
        (SGDT, "SGDT"),
        (SIDT, "SIDT"),
        (PUSH_CS, "PUSH-CS"),
        (MOV_CS, "MOV-from-CS"),
        (MOV_SS, "MOV-from-SS"),
        (LAR, "LAR"),
        (VERW, "VERW"),
        (SMSW, "SMSW"),
        (PUSHF, "PUSHF"),
        (POPF, "POPF"),
        (RING_COMPRESSION, "ring-compression"),
    ];
    /// What each model must show.
    pub const EXPECTED_013: u32 = RING_COMPRESSION - 1;
    pub const EXPECTED_033: u32 = (RING_COMPRESSION << 1) - 1;
}

/// Hypercall numbers (EAX at INT 80h).
mod probe {
    pub const SGDT: u32 = 1;
    pub const SIDT: u32 = 2;
    pub const PUSH_CS: u32 = 3;
    pub const MOV_CS_SS: u32 = 4;
    pub const SMSW: u32 = 5;
    pub const PUSHF: u32 = 6;
    pub const POPF: u32 = 7;
    pub const APP: u32 = 8;
    pub const LAR_VERW: u32 = 9;
}

/// Offsets in the trap frame built by the common handler (EBP = ESP after it pushed):
/// ES, DS, PUSHAD, vector, error code, then the CPU's EIP, CS, EFLAGS (ESP, SS).
mod frame {
    pub const EBX: u32 = 24;
    pub const EDX: u32 = 28;
    pub const ECX: u32 = 32;
    pub const EAX: u32 = 36;
    pub const VEC: u32 = 40;
    pub const ERR: u32 = 44;
    pub const EIP: u32 = 48;
    pub const CS: u32 = 52;
}

/// Vectors whose exceptions push an error code (SDM Vol. 3 Table 6-1).
const HAS_ERROR_CODE: [u8; 8] = [8, 10, 11, 12, 13, 14, 17, 21];

/// Builds the demo ROM image (64 KiB).
pub fn rom() -> Vec<u8> {
    two_pass("the deprivilege demo", build)
}

fn build(addrs: &LabelAddrs) -> Result<(Vec<u8>, LabelAddrs), IcedError> {
    let mut rom = RomBuilder::new();
    let hex = rom.data(b"0123456789abcdef");

    let mut a16 = CodeAssembler::new(16)?;
    real_mode(&mut a16, &mut rom)?;
    rom.code16(&mut a16)?;

    let mut a = CodeAssembler::new(32)?;
    let c = Code32::new(&mut a, &mut rom, hex, addrs.clone(), 0x80);
    let names = c.a.create_label();
    let mut m = Mon { c, names };
    monitor_main(&mut m)?;
    m.helpers()?;
    m.handlers()?;
    let placed = std::mem::take(&mut m.c.placed);
    let found = rom.code32_at(CODE32_OFFSET, guest::KCODE_OFFSET, &mut a, &placed)?;

    let mut k = CodeAssembler::new(32)?;
    guest_kernel(&mut k)?;
    rom.code32_at(guest::KCODE_OFFSET, guest::APP_OFFSET, &mut k, &[])?;
    let mut app = CodeAssembler::new(32)?;
    guest_application(&mut app)?;
    rom.code32_at(guest::APP_OFFSET, guest::APP_OFFSET + 0x1000, &mut app, &[])?;
    Ok((rom.finish(CODE16_OFFSET), found))
}

/// From reset: the GDT copied to RAM (LTR writes its busy bit), LGDT, CR0.PE, far jump to
/// the monitor's 32-bit code.
fn real_mode(a: &mut CodeAssembler, rom: &mut RomBuilder) -> R {
    let mut gdtr = Vec::new();
    gdtr.extend_from_slice(&((GDT.len() * 8 - 1) as u16).to_le_bytes());
    gdtr.extend_from_slice(&var::GDT.to_le_bytes());
    let gdtr = rom.data(&gdtr);
    emit_reset_setup16(a)?;
    for (i, d) in GDT.iter().enumerate() {
        let at = var::GDT + 8 * i as u32;
        a.mov(dword_ptr(at).es(), *d as u32)?;
        a.mov(dword_ptr(at + 4).es(), (*d >> 32) as u32)?;
    }
    a.lgdt(ptr(u32::from(gdtr)))?;
    a.mov(eax, cr0)?;
    a.or(eax, 1)?;
    a.mov(cr0, eax)?;
    // jmp dword far 0008h:monitor (operand-size prefix: ptr16:32).
    let t = rom_addr(CODE32_OFFSET).to_le_bytes();
    let s = MON_CS.to_le_bytes();
    a.db(&[0x66, 0xEA, t[0], t[1], t[2], t[3], s[0], s[1]])
}

/// Monitor assembly context.
struct Mon<'a> {
    c: Code32<'a>,
    names: CodeLabel,
}

deref_code32!(Mon);

impl Mon<'_> {
    /// Prints the dword at `m` as `digits` hex digits (EAX clobbered).
    fn hex_mem(&mut self, m: AsmMemoryOperand, digits: u32) -> R {
        self.a.mov(eax, m)?;
        self.print_hex(digits)
    }

    /// Prints bits `shift..shift+width` of the dword at `m` as one hex digit (EAX
    /// clobbered).
    fn field_mem(&mut self, m: AsmMemoryOperand, shift: u32, mask: u32) -> R {
        self.a.mov(eax, m)?;
        self.a.shr(eax, shift)?;
        self.a.and(eax, mask)?;
        self.print_hex(1)
    }

    /// Ends a probe line: ORs `bit` into the leaks and prints `LEAK: why` if `leaked`
    /// emits a jump to its label, else prints `no leak`; then returns to the guest.
    fn verdict(
        &mut self,
        bit: u32,
        why: &str,
        back: CodeLabel,
        leaked: impl FnOnce(&mut Self, CodeLabel) -> R,
    ) -> R {
        let mut yes = self.a.create_label();
        leaked(self, yes)?;
        self.say("   no leak\n")?;
        self.a.jmp(back)?;
        self.a.set_label(&mut yes)?;
        self.a.or(dword_ptr(var::LEAKS), bit as i32)?;
        self.say(&format!("   LEAK: {why}\n"))?;
        self.a.jmp(back)
    }

    /// Subroutines: `puts` (ESI), `hexn` (EAX, ECX digits), `names` (the names of the
    /// leak bits set in EAX, each after a space).
    fn helpers(&mut self) -> R {
        self.print_subroutines()?;

        let mut names = self.names;
        self.a.set_label(&mut names)?;
        for (bit, name) in leak::NAMES {
            let mut skip = self.a.create_label();
            self.a.test(eax, bit)?;
            self.a.jz(skip)?;
            self.say(&format!(" {name}"))?;
            self.a.set_label(&mut skip)?;
        }
        self.a.ret()
    }

    /// The exception stubs and the common handler: emulation of the privileged instructions
    /// the guest kernel uses (on #GP from CPL > 0), the hypercalls (INT 80h), the
    /// application's page fault, and any unexpected event (which ends the guest's run).
    fn handlers(&mut self) -> R {
        self.exception_stubs(&HAS_ERROR_CODE)?;

        let mut common = self.common;
        let mut back = self.a.create_label();
        let mut other = self.a.create_label();
        let mut hcall = self.a.create_label();
        let mut end_run = self.a.create_label();
        let f = |off: u32| dword_ptr(ebp + off);
        {
            let a = &mut *self.a;
            a.set_label(&mut common)?;
            a.pushad()?;
            a.push(ds)?;
            a.push(es)?;
            a.mov(ebp, esp)?;
            a.mov(ax, u32::from(MON_DS))?;
            a.mov(ds, ax)?;
            a.mov(es, ax)?;
            a.mov(eax, f(frame::VEC))?;
            a.cmp(eax, 0x80)?;
            a.je(hcall)?;
            a.cmp(eax, 13)?;
            a.jne(other)?;
            a.test(byte_ptr(ebp + frame::CS), 3)?;
            a.jz(other)?; // a #GP in the monitor itself
        }
        self.emulate(back, other)?;

        // Back to the guest.
        let a = &mut *self.a;
        a.set_label(&mut back)?;
        a.pop(es)?;
        a.pop(ds)?;
        a.popad()?;
        a.add(esp, 8)?;
        a.iretd()?;

        a.set_label(&mut hcall)?;
        self.hypercalls(back, end_run)?;

        // Other exceptions: the application's #PF is the expected one under 0/1/3.
        let mut unexpected = self.a.create_label();
        self.a.set_label(&mut other)?;
        self.a.cmp(f(frame::VEC), 14)?;
        self.a.jne(unexpected)?;
        self.a.test(byte_ptr(ebp + frame::CS), 3)?;
        self.a.jz(unexpected)?;
        self.a
            .cmp(f(frame::EIP), rom_addr(guest::APP_OFFSET) as i32)?;
        self.a.jb(unexpected)?;
        self.say(&format!(
            "  application   writes {:08x} to the guest kernel's data at {:08x}: #PF(",
            guest::SECRET_APP,
            guest::SECRET
        ))?;
        self.hex_mem(f(frame::ERR), 4)?;
        self.say(") cr2 ")?;
        self.a.mov(eax, cr2)?;
        self.print_hex(8)?;
        self.say(", kernel data still ")?;
        self.hex_mem(dword_ptr(guest::SECRET), 8)?;
        self.say("   no leak: supervisor page\n")?;
        self.a.jmp(end_run)?;

        self.a.set_label(&mut unexpected)?;
        self.a.add(dword_ptr(var::UNEXPECTED), 1)?;
        self.say("  unexpected: exception ")?;
        self.hex_mem(f(frame::VEC), 2)?;
        self.say(" error ")?;
        self.hex_mem(f(frame::ERR), 4)?;
        self.say(" at ")?;
        self.hex_mem(f(frame::CS), 4)?;
        self.say(":")?;
        self.hex_mem(f(frame::EIP), 8)?;
        self.say("; run ended\n")?;

        // End the guest's run: back to the monitor's main code.
        let a = &mut *self.a;
        a.set_label(&mut end_run)?;
        a.mov(esp, dword_ptr(var::MAIN_ESP))?;
        a.jmp(dword_ptr(var::RESUME))
    }

    /// #GP from the guest: decodes the faulting instruction and emulates LGDT/LIDT [disp32],
    /// CLI, STI and CLTS on the virtual state; anything else goes to `other`.
    fn emulate(&mut self, back: CodeLabel, other: CodeLabel) -> R {
        let f = |off: u32| dword_ptr(ebp + off);
        let cli = self.a.create_label();
        let sti = self.a.create_label();
        let mut clts = self.a.create_label();
        let lgdt = self.a.create_label();
        let lidt = self.a.create_label();
        let a = &mut *self.a;
        a.mov(esi, f(frame::EIP))?;
        a.cmp(byte_ptr(esi), 0xFA)?;
        a.je(cli)?;
        a.cmp(byte_ptr(esi), 0xFB)?;
        a.je(sti)?;
        a.cmp(word_ptr(esi), 0x060F)?;
        a.je(clts)?;
        a.cmp(word_ptr(esi), 0x010F)?;
        a.jne(other)?;
        a.cmp(byte_ptr(esi + 2), 0x15)?; // ModRM: [disp32], /2
        a.je(lgdt)?;
        a.cmp(byte_ptr(esi + 2), 0x1D)?; // ModRM: [disp32], /3
        a.je(lidt)?;
        a.jmp(other)?;

        for (mut l, name, limit, base) in [
            (lgdt, "LGDT", var::VGDT_LIMIT, var::VGDT_BASE),
            (lidt, "LIDT", var::VIDT_LIMIT, var::VIDT_BASE),
        ] {
            self.a.set_label(&mut l)?;
            self.a.mov(ebx, dword_ptr(esi + 3))?;
            self.a.movzx(eax, word_ptr(ebx))?;
            self.a.mov(dword_ptr(limit), eax)?;
            self.a.mov(eax, dword_ptr(ebx + 2))?;
            self.a.mov(dword_ptr(base), eax)?;
            self.trap_prefix(name)?;
            self.say(&format!("guest {}TR = base ", &name[1..3]))?;
            self.hex_mem(dword_ptr(base), 8)?;
            self.say(" limit ")?;
            self.hex_mem(dword_ptr(limit), 4)?;
            self.say("\n")?;
            self.a.add(f(frame::EIP), 7)?;
            self.a.jmp(back)?;
        }
        for (mut l, name, v) in [(cli, "CLI", 0), (sti, "STI", 1)] {
            self.a.set_label(&mut l)?;
            self.a.mov(dword_ptr(var::VIF), v)?;
            self.trap_prefix(name)?;
            self.say(&format!("guest IF = {v}\n"))?;
            self.a.add(f(frame::EIP), 1)?;
            self.a.jmp(back)?;
        }
        self.a.set_label(&mut clts)?;
        self.a.and(dword_ptr(var::VCR0), !8)?;
        self.trap_prefix("CLTS")?;
        self.say("guest CR0.TS = 0\n")?;
        self.a.add(f(frame::EIP), 2)?;
        self.a.jmp(back)
    }

    /// `  trap    NAME  #GP(err) at eip -> emulated: `.
    fn trap_prefix(&mut self, name: &str) -> R {
        self.say(&format!("  trap  {name:<6}  #GP("))?;
        self.hex_mem(dword_ptr(ebp + frame::ERR), 4)?;
        self.say(") at ")?;
        self.hex_mem(dword_ptr(ebp + frame::EIP), 8)?;
        self.say(" -> emulated: ")
    }

    /// INT 80h from the guest: one line per probe, compared with the virtual state.
    fn hypercalls(&mut self, back: CodeLabel, end_run: CodeLabel) -> R {
        let f = |off: u32| dword_ptr(ebp + off);
        let ids = [
            probe::SGDT,
            probe::SIDT,
            probe::PUSH_CS,
            probe::MOV_CS_SS,
            probe::LAR_VERW,
            probe::SMSW,
            probe::PUSHF,
            probe::POPF,
            probe::APP,
        ];
        let labels: Vec<CodeLabel> = ids.iter().map(|_| self.a.create_label()).collect();
        for (id, l) in ids.iter().zip(&labels) {
            self.a.cmp(f(frame::EAX), *id as i32)?;
            self.a.je(*l)?;
        }
        self.a.add(dword_ptr(var::UNEXPECTED), 1)?;
        self.say("  unexpected hypercall\n")?;
        self.a.jmp(back)?;
        let mut labels = labels.into_iter();
        let mut next = || labels.next().expect("one label per probe");

        for (name, bit, limit, base, what) in [
            ("SGDT", leak::SGDT, var::VGDT_LIMIT, var::VGDT_BASE, "GDT"),
            ("SIDT", leak::SIDT, var::VIDT_LIMIT, var::VIDT_BASE, "IDT"),
        ] {
            let mut l = next();
            self.a.set_label(&mut l)?;
            self.say(&format!("  {name:<12}  base "))?;
            self.hex_mem(f(frame::EBX), 8)?;
            self.say(" limit ")?;
            self.hex_mem(f(frame::ECX), 4)?;
            self.say("; guest expects base ")?;
            self.hex_mem(dword_ptr(base), 8)?;
            self.say(" limit ")?;
            self.hex_mem(dword_ptr(limit), 4)?;
            self.verdict(bit, &format!("the monitor's {what}"), back, |m, yes| {
                m.a.mov(eax, f(frame::EBX))?;
                m.a.cmp(eax, dword_ptr(base))?;
                m.a.jne(yes)?;
                m.a.mov(eax, f(frame::ECX))?;
                m.a.cmp(eax, dword_ptr(limit))?;
                m.a.jne(yes)
            })?;
        }

        // PUSH CS, then MOV from CS and SS: the RPL is the real CPL; the guest expects 0.
        let mut l = next();
        self.a.set_label(&mut l)?;
        self.selector_line("PUSH CS", frame::EBX, leak::PUSH_CS, back)?;
        let mut l = next();
        self.a.set_label(&mut l)?;
        let mut ss_line = self.a.create_label();
        self.selector_line("MOV r32, CS", frame::EBX, leak::MOV_CS, ss_line)?;
        self.a.set_label(&mut ss_line)?;
        self.selector_line("MOV r32, SS", frame::ECX, leak::MOV_SS, back)?;

        // LAR of its CS and VERW of its data selector (0010 in its own GDT; the monitor's
        // ring-0 data in the real one): answers for the real CPL (SDM LAR, VERR/VERW).
        let mut l = next();
        self.a.set_label(&mut l)?;
        self.say("  LAR r32, CS   ")?;
        self.hex_mem(f(frame::EBX), 8)?;
        self.say(" (DPL ")?;
        self.field_mem(f(frame::EBX), 13, 3)?;
        self.say("); guest expects DPL 0")?;
        let mut verw_line = self.a.create_label();
        self.verdict(
            leak::LAR,
            "its code segment's real DPL",
            verw_line,
            |m, yes| {
                m.a.test(f(frame::EBX), 0x6000)?;
                m.a.jnz(yes)
            },
        )?;
        self.a.set_label(&mut verw_line)?;
        self.say("  VERW 0010     ZF=")?;
        self.hex_mem(f(frame::ECX), 1)?;
        self.say("; guest expects ZF=1 (its own data segment)")?;
        self.verdict(
            leak::VERW,
            "checked against the real CPL",
            back,
            |m, yes| {
                m.a.cmp(f(frame::ECX), 0)?;
                m.a.je(yes)
            },
        )?;

        let mut l = next();
        self.a.set_label(&mut l)?;
        self.say("  SMSW r16      ")?;
        self.hex_mem(f(frame::EBX), 4)?;
        self.say("; guest expects ")?;
        self.hex_mem(dword_ptr(var::VCR0), 4)?;
        self.say(" (its CR0 after CLTS)")?;
        self.verdict(leak::SMSW, "the real CR0 (TS set)", back, |m, yes| {
            m.a.mov(eax, f(frame::EBX))?;
            m.a.xor(eax, dword_ptr(var::VCR0))?;
            m.a.test(eax, 0xFFFF)?;
            m.a.jnz(yes)
        })?;

        let mut l = next();
        self.a.set_label(&mut l)?;
        self.say("  PUSHFD        IF=")?;
        self.field_mem(f(frame::EBX), 9, 1)?;
        self.say(" IOPL=")?;
        self.field_mem(f(frame::EBX), 12, 3)?;
        self.say("; guest expects IF=")?;
        self.hex_mem(dword_ptr(var::VIF), 1)?;
        self.say(" (its CLI was emulated)")?;
        self.verdict(leak::PUSHF, "the real IF", back, |m, yes| {
            m.a.mov(eax, f(frame::EBX))?;
            m.a.shr(eax, 9)?;
            m.a.and(eax, 1)?;
            m.a.cmp(eax, dword_ptr(var::VIF))?;
            m.a.jne(yes)
        })?;

        let mut l = next();
        self.a.set_label(&mut l)?;
        self.say("  POPFD         image IF=")?;
        self.field_mem(f(frame::EDX), 9, 1)?;
        self.say(" IOPL=")?;
        self.field_mem(f(frame::EDX), 12, 3)?;
        self.say(": no fault; EFLAGS now IF=")?;
        self.field_mem(f(frame::ECX), 9, 1)?;
        self.say(" IOPL=")?;
        self.field_mem(f(frame::ECX), 12, 3)?;
        self.verdict(
            leak::POPF,
            "the IF and IOPL changes were silently dropped",
            back,
            |m, yes| {
                m.a.mov(eax, f(frame::ECX))?;
                m.a.xor(eax, f(frame::EDX))?;
                m.a.test(eax, (EFLAGS_IF | 0x3000) as i32)?;
                m.a.jnz(yes)
            },
        )?;

        // The application wrote the guest kernel's data without a fault.
        let mut l = next();
        self.a.set_label(&mut l)?;
        self.say(&format!(
            "  application   writes {:08x} to the guest kernel's data at {:08x}: ",
            guest::SECRET_APP,
            guest::SECRET
        ))?;
        self.say("no fault, kernel data now ")?;
        self.hex_mem(f(frame::EBX), 8)?;
        self.verdict(
            leak::RING_COMPRESSION,
            "ring compression (kernel and application share the user pages)",
            end_run,
            |m, yes| {
                m.a.cmp(f(frame::EBX), guest::SECRET_APP as i32)?;
                m.a.je(yes)
            },
        )
    }

    /// `  NAME  xxxx (RPL n); guest expects RPL 0` and its verdict.
    fn selector_line(&mut self, name: &str, off: u32, bit: u32, then: CodeLabel) -> R {
        let f = dword_ptr(ebp + off);
        self.say(&format!("  {name:<12}  "))?;
        self.hex_mem(f, 4)?;
        self.say(" (RPL ")?;
        self.field_mem(f, 0, 3)?;
        self.say("); guest expects RPL 0")?;
        self.verdict(bit, "the real CPL", then, |m, yes| {
            m.a.test(f, 3)?;
            m.a.jnz(yes)
        })
    }
}

/// The monitor: segments, IDT, TSS, paging, the two runs, the verdict.
fn monitor_main(m: &mut Mon) -> R {
    emit_flat_segments32(m.a, MON_DS, MAIN_STACK)?;
    m.say("vtx32 demo deprivilege: a ring-0 monitor runs a guest kernel written for ring 0\n")?;
    m.say("deprivileged; privileged instructions trap, sensitive unprivileged ones leak\n")?;
    setup_idt(m)?;
    setup_tss(m)?;
    setup_paging(m)?;
    show_monitor(m)?;
    run_guest(m, 1)?;
    run_guest(m, 3)?;
    finish(m)
}

/// The IDT: interrupt gates to the stubs, DPL 0 except INT 80h (DPL 3: the hypercall).
fn setup_idt(m: &mut Mon) -> R {
    let stubs = m.stubs.clone();
    for (v, l) in stubs {
        let g = var::IDT + u32::from(v) * 8;
        let kind: u32 = if v == 0x80 { 0xEE00 } else { 0x8E00 };
        let at = m.addr(l);
        let a = &mut *m.a;
        a.mov(dword_ptr(g), (at & 0xFFFF) | (u32::from(MON_CS) << 16))?;
        a.mov(dword_ptr(g + 4), (at & 0xFFFF_0000) | kind)?;
    }
    let mut idtr = Vec::new();
    idtr.extend_from_slice(&(256u16 * 8 - 1).to_le_bytes());
    idtr.extend_from_slice(&var::IDT.to_le_bytes());
    let idtr = m.rom.data(&idtr);
    m.a.lidt(ptr(rom_addr(idtr)))
}

/// A 32-bit TSS with the trap stack (ESP0/SS0) and no I/O bitmap; LTR.
fn setup_tss(m: &mut Mon) -> R {
    let a = &mut *m.a;
    a.mov(edi, var::TSS)?;
    a.xor(eax, eax)?;
    a.mov(ecx, 0x68 / 4)?;
    a.rep().stosd()?;
    a.mov(dword_ptr(var::TSS + 4), TRAP_STACK)?;
    a.mov(dword_ptr(var::TSS + 8), u32::from(MON_DS))?;
    a.mov(word_ptr(var::TSS + 0x66), 0x68u32)?;
    a.mov(ax, u32::from(TSS_SEL))?;
    a.ltr(ax)
}

/// Identity map of the first 4 MiB (supervisor, read/write; the PDE allows user access so
/// that each PTE decides), then CR3 and the real CR0.
fn setup_paging(m: &mut Mon) -> R {
    let mut fill = m.a.create_label();
    let a = &mut *m.a;
    a.mov(edi, var::PD)?;
    a.xor(eax, eax)?;
    a.mov(ecx, 1024)?;
    a.rep().stosd()?;
    a.mov(dword_ptr(var::PD), var::PT | 7)?;
    a.mov(edi, var::PT)?;
    a.mov(eax, 3)?;
    a.mov(ecx, 1024)?;
    a.set_label(&mut fill)?;
    a.stosd()?;
    a.add(eax, 0x1000)?;
    a.dec(ecx)?;
    a.jnz(fill)?;
    // The application's pages are always user pages.
    for page in [rom_addr(guest::APP_OFFSET), guest::APP_STACK_PAGE] {
        a.or(dword_ptr(pte(page)), 4)?;
    }
    a.mov(eax, var::PD)?;
    a.mov(cr3, eax)?;
    a.mov(eax, REAL_CR0)?;
    a.mov(cr0, eax)
}

/// The page-table entry of the page at `addr` (below 4 MiB).
fn pte(addr: u32) -> u32 {
    var::PT + (addr >> 12) * 4
}

/// One line with the monitor's own GDTR, IDTR, TR and CR0.
fn show_monitor(m: &mut Mon) -> R {
    m.a.sgdt(ptr(var::SCRATCH))?;
    m.a.sidt(ptr(var::SCRATCH + 8))?;
    m.say("monitor (ring 0): GDTR base ")?;
    m.hex_mem(dword_ptr(var::SCRATCH + 2), 8)?;
    m.say(" limit ")?;
    m.hex_mem(dword_ptr(var::SCRATCH), 4)?;
    m.say(", IDTR base ")?;
    m.hex_mem(dword_ptr(var::SCRATCH + 10), 8)?;
    m.say(" limit ")?;
    m.hex_mem(dword_ptr(var::SCRATCH + 8), 4)?;
    m.say(", CR0 ")?;
    m.a.mov(eax, cr0)?;
    m.print_hex(8)?;
    m.say(" (PG: paging protects the monitor; TS: lazy FPU)\n")
}

/// Runs the guest kernel at `ring` (1: model 0/1/3, 3: model 0/3/3) until its application
/// reports or faults, then prints the leaks of the run.
fn run_guest(m: &mut Mon, ring: u8) -> R {
    let (model, cs_sel, ds_sel, saved) = if ring == 1 {
        ("0/1/3", R1_CS | 1, R1_DS | 1, var::LEAKS_013)
    } else {
        ("0/3/3", R3_CS | 3, R3_DS | 3, var::LEAKS_033)
    };
    m.say(&format!(
        "model {model}: guest kernel at ring {ring}, its application at ring 3\n"
    ))?;
    let mut resume = m.a.create_label();
    let resume_addr = m.addr(resume);
    {
        let a = &mut *m.a;
        // The guest kernel's pages are user pages only when it runs at ring 3.
        for page in [
            rom_addr(guest::KCODE_OFFSET),
            guest::KDATA,
            guest::KSTACK_PAGE,
        ] {
            if ring == 3 {
                a.or(dword_ptr(pte(page)), 4)?;
            } else {
                a.and(dword_ptr(pte(page)), !4)?;
            }
        }
        a.mov(eax, cr3)?;
        a.mov(cr3, eax)?;
        // The guest's virtual state at entry: no tables loaded, its CR0, IF set.
        for v in [
            var::VGDT_LIMIT,
            var::VGDT_BASE,
            var::VIDT_LIMIT,
            var::VIDT_BASE,
            var::LEAKS,
        ] {
            a.mov(dword_ptr(v), 0)?;
        }
        a.mov(dword_ptr(var::VCR0), GUEST_CR0)?;
        a.mov(dword_ptr(var::VIF), 1)?;
        a.mov(dword_ptr(var::MAIN_ESP), esp)?;
        a.mov(dword_ptr(var::RESUME), resume_addr)?;
        a.mov(ax, u32::from(ds_sel))?;
        a.mov(ds, ax)?;
        a.mov(es, ax)?;
        a.mov(fs, ax)?;
        a.mov(gs, ax)?;
        // IRET to the guest kernel: SS:ESP, EFLAGS (IF, IOPL 0), CS:EIP.
        a.push(u32::from(ds_sel))?;
        a.push(guest::KSTACK_PAGE + 0x1000)?;
        a.push(0x202)?;
        a.push(u32::from(cs_sel))?;
        a.push(rom_addr(guest::KCODE_OFFSET))?;
        a.iretd()?;
    }
    m.place(&mut resume)?;
    {
        let a = &mut *m.a;
        a.mov(ax, u32::from(MON_DS))?;
        a.mov(ds, ax)?;
        a.mov(es, ax)?;
        a.mov(fs, ax)?;
        a.mov(gs, ax)?;
        a.mov(eax, dword_ptr(var::LEAKS))?;
        a.mov(dword_ptr(saved), eax)?;
    }
    m.say(&format!("  leaks under {model}:"))?;
    m.a.mov(eax, dword_ptr(saved))?;
    m.c.a.call(m.names)?;
    m.say("\n")
}

/// The verdict line and the exits.
fn finish(m: &mut Mon) -> R {
    let mut count = m.a.create_label();
    let mut counted = m.a.create_label();
    {
        let a = &mut *m.a;
        a.mov(eax, dword_ptr(var::LEAKS_013))?;
        a.or(eax, dword_ptr(var::LEAKS_033))?;
        a.mov(ebx, eax)?;
        a.xor(ecx, ecx)?;
        a.set_label(&mut count)?;
        a.test(ebx, ebx)?;
        a.jz(counted)?;
        a.shr(ebx, 1)?;
        a.adc(ecx, 0)?;
        a.jmp(count)?;
        a.set_label(&mut counted)?;
    }
    m.say("vtx32 demo deprivilege: ")?;
    // The count (at most 11) in decimal.
    let mut units = m.a.create_label();
    m.a.push(eax)?;
    m.a.mov(eax, ecx)?;
    m.a.cmp(eax, 10)?;
    m.a.jb(units)?;
    m.say("1")?;
    m.a.sub(eax, 10)?;
    m.a.set_label(&mut units)?;
    m.print_hex(1)?;
    m.a.pop(eax)?;
    m.say(" kinds of leak observed:")?;
    m.c.a.call(m.names)?;
    m.say("\n")?;

    let mut bad = m.a.create_label();
    let mut out = m.a.create_label();
    let a = &mut *m.c.a;
    // Debug exit: 0 when each model showed exactly its expected leaks, else 1.
    a.cmp(dword_ptr(var::LEAKS_013), leak::EXPECTED_013 as i32)?;
    a.jne(bad)?;
    a.cmp(dword_ptr(var::LEAKS_033), leak::EXPECTED_033 as i32)?;
    a.jne(bad)?;
    a.cmp(dword_ptr(var::UNEXPECTED), 0)?;
    a.jne(bad)?;
    a.xor(eax, eax)?;
    a.jmp(out)?;
    a.set_label(&mut bad)?;
    a.mov(eax, 1)?;
    a.set_label(&mut out)?;
    a.out(0xF4, al)?;
    emit_bochs_shutdown32(a, m.c.rom)
}

/// The guest kernel (written for ring 0, run at ring 1 or 3 with DS = SS = its data
/// segment). It does not know its ring: the same code runs under both models.
fn guest_kernel(a: &mut CodeAssembler) -> R {
    // Its own GDT (null, flat code and data at DPL 0), GDTR and IDTR images.
    let gdt: [u64; 3] = [0, 0x00CF_9B00_0000_FFFF, 0x00CF_9300_0000_FFFF];
    for (i, d) in gdt.iter().enumerate() {
        let at = guest::GDT + 8 * i as u32;
        a.mov(dword_ptr(at), *d as u32)?;
        a.mov(dword_ptr(at + 4), (*d >> 32) as u32)?;
    }
    a.mov(word_ptr(guest::GDTR), 0x17u32)?;
    a.mov(dword_ptr(guest::GDTR + 2), guest::GDT)?;
    a.mov(word_ptr(guest::IDTR), 0xFFu32)?;
    a.mov(dword_ptr(guest::IDTR + 2), guest::IDT)?;
    // Privileged: each traps to the monitor, which emulates it.
    a.lgdt(ptr(guest::GDTR))?;
    a.lidt(ptr(guest::IDTR))?;
    a.cli()?;
    a.clts()?;
    // Sensitive, unprivileged: no trap.
    for (store, id) in [(0, probe::SGDT), (1, probe::SIDT)] {
        if store == 0 {
            a.sgdt(ptr(guest::OUT))?;
        } else {
            a.sidt(ptr(guest::OUT))?;
        }
        a.mov(ebx, dword_ptr(guest::OUT + 2))?;
        a.movzx(ecx, word_ptr(guest::OUT))?;
        a.mov(eax, id)?;
        a.int(0x80)?;
    }
    a.push(cs)?;
    a.pop(ebx)?;
    a.and(ebx, 0xFFFF)?;
    a.mov(eax, probe::PUSH_CS)?;
    a.int(0x80)?;
    a.mov(bx, cs)?;
    a.movzx(ebx, bx)?;
    a.mov(cx, ss)?;
    a.movzx(ecx, cx)?;
    a.mov(eax, probe::MOV_CS_SS)?;
    a.int(0x80)?;
    a.mov(eax, cs)?;
    a.mov(ebx, -1)?;
    a.lar(ebx, eax)?;
    a.and(ebx, 0x00F0_FF00)?; // bits 19:16 are undefined (SDM LAR); QEMU clears them
    a.mov(edx, 0x10)?; // its data selector
    a.mov(ecx, 0)?;
    a.verw(dx)?;
    a.setz(cl)?;
    a.mov(eax, probe::LAR_VERW)?;
    a.int(0x80)?;
    a.smsw(bx)?;
    a.movzx(ebx, bx)?;
    a.mov(eax, probe::SMSW)?;
    a.int(0x80)?;
    a.pushfd()?;
    a.pop(ebx)?;
    a.mov(eax, probe::PUSHF)?;
    a.int(0x80)?;
    // POPFD of an image with IF clear and IOPL 3, then read EFLAGS back.
    a.pushfd()?;
    a.pop(ebx)?;
    a.mov(edx, ebx)?;
    a.and(edx, !(EFLAGS_IF as i32))?;
    a.or(edx, 0x3000)?;
    a.push(edx)?;
    a.popfd()?;
    a.pushfd()?;
    a.pop(ecx)?;
    a.mov(eax, probe::POPF)?;
    a.int(0x80)?;
    // Its data, then its application (IRET to ring 3; under 0/3/3 the SS:ESP pair stays
    // on the stack, as the application sets its own ESP).
    a.mov(dword_ptr(guest::SECRET), guest::SECRET_KERNEL)?;
    a.push(u32::from(R3_DS | 3))?;
    a.push(guest::APP_STACK_PAGE + 0x1000)?;
    a.push(0x202)?;
    a.push(u32::from(R3_CS | 3))?;
    a.push(rom_addr(guest::APP_OFFSET))?;
    a.iretd()
}

/// The guest's application (ring 3): overwrites the kernel's secret, reads it back and
/// reports it.
fn guest_application(a: &mut CodeAssembler) -> R {
    let mut stay = a.create_label();
    a.mov(ax, u32::from(R3_DS | 3))?;
    a.mov(ds, ax)?;
    a.mov(es, ax)?;
    a.mov(esp, guest::APP_STACK_PAGE + 0x1000)?;
    a.mov(dword_ptr(guest::SECRET), guest::SECRET_APP)?;
    a.mov(ebx, dword_ptr(guest::SECRET))?;
    a.mov(eax, probe::APP)?;
    a.int(0x80)?;
    a.set_label(&mut stay)?;
    a.jmp(stay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_64k_image_with_code_on_its_pages() {
        let img = rom();
        assert_eq!(img.len(), 64 * 1024);
        // The reset vector jumps to the real-mode code; guest code starts each page.
        assert_eq!(img[0xFFF0], 0xEA);
        assert_ne!(img[guest::KCODE_OFFSET as usize], 0xFF);
        assert_ne!(img[guest::APP_OFFSET as usize], 0xFF);
    }
}
