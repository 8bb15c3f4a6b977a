//! System instructions: HLT, CLI/STI, CPUID, RDTSC, RDMSR/WRMSR, LGDT/LIDT/SGDT/SIDT,
//! LMSW/SMSW/CLTS, MOV to/from CRn, DRn and segment registers, LDS/LES/LFS/LGS/LSS,
//! INVD/WBINVD/INVLPG. Privilege rules: SDM Vol. 3 §5.9 (privileged instructions #GP(0) at
//! CPL > 0, and in virtual-8086 mode).

use super::{debug, Core, PortIo, StopReason};
use crate::exception::Exception;
use crate::model::{ext_feature_edx, feature_edx};
use crate::state::{gpr, Cr0, Cr4, Eflags, SegReg};
use iced_x86::{Instruction, Mnemonic, OpKind, Register};

type R = Result<(), Exception>;

/// IA32_TIME_STAMP_COUNTER.
pub const MSR_TSC: u32 = 0x10;
/// IA32_EFER (SDM Vol. 4 Table 2-2): on IA-32 only NXE (bit 11) exists, and only where
/// CPUID.80000001H:EDX.NX is reported.
pub const MSR_EFER: u32 = 0xC000_0080;
/// IA32_EFER.NXE: bit 63 of PAE paging entries means execute-disable (§4.6).
pub const EFER_NXE: u64 = 1 << 11;

/// IA32_SYSENTER_CS.
pub const MSR_SYSENTER_CS: u32 = 0x174;
/// IA32_SYSENTER_ESP.
pub const MSR_SYSENTER_ESP: u32 = 0x175;
/// IA32_SYSENTER_EIP.
pub const MSR_SYSENTER_EIP: u32 = 0x176;

impl Core {
    /// #GP(0) unless CPL = 0 (and not in virtual-8086 mode).
    #[inline]
    pub(crate) fn require_cpl0(&self) -> R {
        if self.protected() && (self.sregs.cpl != 0 || self.v86()) {
            return Err(Exception::gp(0));
        }
        Ok(())
    }

    /// Current time-stamp counter.
    pub(crate) fn tsc(&self) -> u64 {
        self.cycles.wrapping_add(self.tsc_offset)
    }
}

/// HLT: privileged. The processor enters the halt state with EIP after the HLT (SDM HLT);
/// the run returns "halted", and an enabled external interrupt resumes it (see
/// `Cpu::run`: the board advances time to its next event).
pub(crate) fn hlt(c: &mut Core, _io: &mut dyn PortIo, _i: &Instruction) -> R {
    c.require_cpl0()?;
    c.halted = true;
    c.stop = Some(StopReason::Halted);
    c.fetch_dirty = true; // leave the running block
    Ok(())
}

/// CLI / STI: IOPL-sensitive (SDM CLI/STI "Operation": IOPL >= CPL in protected mode,
/// IOPL = 3 in virtual-8086 mode; otherwise VIF under CR4.VME/PVI or #GP(0), see `v86.rs`).
/// STI inhibits interrupts for one instruction.
pub(crate) fn cli_sti(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    if c.protected() && c.iopl() < if c.v86() { 3 } else { c.sregs.cpl } {
        return c.virtual_interrupt_flag(i.mnemonic() == Mnemonic::Sti);
    }
    if i.mnemonic() == Mnemonic::Cli {
        c.regs.eflags.remove(Eflags::IF);
    } else {
        if !c.regs.eflags.contains(Eflags::IF) {
            // The STI shadow (§6.8.3): an interrupt is recognized only after the next
            // instruction; the run loop runs that one alone.
            c.inhibit = true;
            c.fetch_dirty = true;
        }
        c.regs.eflags.insert(Eflags::IF);
    }
    Ok(())
}

/// CPUID from the model's table.
pub(crate) fn cpuid(c: &mut Core, _io: &mut dyn PortIo, _i: &Instruction) -> R {
    let l = c.model.cpuid(c.regs.gpr[gpr::EAX], c.regs.gpr[gpr::ECX]);
    c.regs.gpr[gpr::EAX] = l.eax;
    c.regs.gpr[gpr::EBX] = l.ebx;
    c.regs.gpr[gpr::ECX] = l.ecx;
    c.regs.gpr[gpr::EDX] = l.edx;
    Ok(())
}

/// RDTSC: #GP(0) when CR4.TSD is set and CPL > 0.
pub(crate) fn rdtsc(c: &mut Core, _io: &mut dyn PortIo, _i: &Instruction) -> R {
    if c.sregs.cr4.contains(Cr4::TSD) {
        c.require_cpl0()?;
    }
    let t = c.tsc();
    c.regs.gpr[gpr::EAX] = t as u32;
    c.regs.gpr[gpr::EDX] = (t >> 32) as u32;
    Ok(())
}

/// RDMSR / WRMSR for the MSRs this model has; others raise #GP(0).
pub(crate) fn msr(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    c.require_cpl0()?;
    let idx = c.regs.gpr[gpr::ECX];
    let slot = match idx {
        MSR_SYSENTER_CS..=MSR_SYSENTER_EIP if c.model.has(feature_edx::SEP) => {
            Some((idx - MSR_SYSENTER_CS) as usize)
        }
        MSR_TSC => None,
        MSR_EFER if c.model.has_ext(ext_feature_edx::NX) => {
            return efer(c, i.mnemonic() == Mnemonic::Rdmsr)
        }
        _ => return Err(Exception::gp(0)),
    };
    if i.mnemonic() == Mnemonic::Rdmsr {
        let v = match slot {
            Some(s) => u64::from(c.sysenter[s]),
            None => c.tsc(),
        };
        c.regs.gpr[gpr::EAX] = v as u32;
        c.regs.gpr[gpr::EDX] = (v >> 32) as u32;
    } else {
        let v = u64::from(c.regs.gpr[gpr::EAX]) | (u64::from(c.regs.gpr[gpr::EDX]) << 32);
        match slot {
            Some(s) => c.sysenter[s] = v as u32,
            None => c.tsc_offset = v.wrapping_sub(c.cycles),
        }
    }
    Ok(())
}

/// RDMSR/WRMSR of IA32_EFER: writing a reserved bit is #GP(0). NXE changes no cached
/// translation's meaning (the TLB applies it at lookup), so nothing is flushed.
fn efer(c: &mut Core, read: bool) -> R {
    if read {
        c.regs.gpr[gpr::EAX] = c.sregs.efer as u32;
        c.regs.gpr[gpr::EDX] = (c.sregs.efer >> 32) as u32;
        return Ok(());
    }
    let v = u64::from(c.regs.gpr[gpr::EAX]) | (u64::from(c.regs.gpr[gpr::EDX]) << 32);
    if v & !EFER_NXE != 0 {
        return Err(Exception::gp(0));
    }
    c.sregs.efer = v;
    Ok(())
}

/// LGDT / LIDT (privileged) and SGDT / SIDT (any CPL: a sensitive, unprivileged
/// instruction). With a 16-bit operand size the base is 24 bits (SDM LGDT).
pub(crate) fn desc_table(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    if i.op0_kind() != OpKind::Memory {
        return Err(Exception::ud());
    }
    let seg = Core::mem_seg(i);
    let off = c.ea(i);
    let op16 = matches!(
        i.code(),
        iced_x86::Code::Lgdt_m1632_16
            | iced_x86::Code::Lidt_m1632_16
            | iced_x86::Code::Sgdt_m1632_16
            | iced_x86::Code::Sidt_m1632_16
    );
    match i.mnemonic() {
        Mnemonic::Lgdt | Mnemonic::Lidt => {
            c.require_cpl0()?;
            let limit = c.read_mem(seg, off, 2)? as u16;
            let mut base = c.read_mem(seg, off.wrapping_add(2), 4)?;
            if op16 {
                base &= 0x00FF_FFFF;
            }
            let t = if i.mnemonic() == Mnemonic::Lgdt {
                &mut c.sregs.gdtr
            } else {
                &mut c.sregs.idtr
            };
            t.base = base;
            t.limit = limit;
        }
        _ => {
            let t = if i.mnemonic() == Mnemonic::Sgdt {
                c.sregs.gdtr
            } else {
                c.sregs.idtr
            };
            c.probe_write(seg, off, 6)?;
            c.write_mem(seg, off, 2, u32::from(t.limit))?;
            // 16-bit operand size stores the high base byte as on P6 and later (all 8 bits).
            c.write_mem(seg, off.wrapping_add(2), 4, t.base)?;
        }
    }
    Ok(())
}

/// LMSW (privileged; cannot clear PE), SMSW (unprivileged), CLTS (privileged).
pub(crate) fn msw(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    match i.mnemonic() {
        Mnemonic::Smsw => {
            let v = c.sregs.cr0.bits();
            // A register destination with 32-bit operand size receives all of CR0 on P6+.
            let size = Core::op_size(i, 0);
            c.write_op(i, 0, size, if size == 4 { v } else { v & 0xFFFF })
        }
        Mnemonic::Lmsw => {
            c.require_cpl0()?;
            let v = c.read_op(i, 0, 2)?;
            let low = Cr0::PE | Cr0::MP | Cr0::EM | Cr0::TS;
            let new = (c.sregs.cr0.bits() & !(low.bits() & !Cr0::PE.bits())) | (v & low.bits());
            set_cr0(c, new)
        }
        _ => {
            c.require_cpl0()?;
            c.sregs.cr0.remove(Cr0::TS);
            Ok(())
        }
    }
}

/// Writes CR0 with the checks of SDM MOV CR: PG without PE, or NW without CD, is #GP(0).
fn set_cr0(c: &mut Core, v: u32) -> R {
    let new = Cr0::from_bits_retain((v & Cr0::all().bits()) | Cr0::ET.bits());
    if new.contains(Cr0::PG) && !new.contains(Cr0::PE)
        || new.contains(Cr0::NW) && !new.contains(Cr0::CD)
    {
        return Err(Exception::gp(0));
    }
    // Reserved bits 6-15, 17 and 19-28 are ignored on writes (P6 behaviour: no #GP); they
    // read back as 0.
    let old = c.sregs.cr0;
    c.sregs.cr0 = new;
    // PAE paging coming into use (or CD/NW/PG changing under it) loads the PDPTEs; a bad
    // one makes the write fault with no effect (SDM Vol. 3 §4.4.1).
    let paging_bits = Cr0::PG | Cr0::CD | Cr0::NW;
    if (old ^ new).intersects(paging_bits) && !c.load_pdptes_if_pae() {
        c.sregs.cr0 = old;
        return Err(Exception::gp(0));
    }
    if old.contains(Cr0::PE) && !new.contains(Cr0::PE) {
        c.sregs.cpl = 0;
    }
    // Turning paging on or off invalidates every translation (§4.10.4.1).
    if (old ^ new).contains(Cr0::PG) {
        c.tlb.flush_all();
    }
    c.refresh_segment_fast_paths();
    Ok(())
}

/// MOV CRn, r32.
pub(crate) fn mov_to_cr(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    c.require_cpl0()?;
    let v = c.reg(i.op1_register());
    match i.op0_register() {
        Register::CR0 => set_cr0(c, v)?,
        Register::CR2 => c.sregs.cr2 = v,
        Register::CR3 => {
            // A CR3 write loads the PDPTEs under PAE paging and flushes the non-global
            // translations (SDM Vol. 3 §4.4.1, §4.10.4.1).
            let old = c.sregs.cr3;
            c.sregs.cr3 = v;
            if !c.load_pdptes_if_pae() {
                c.sregs.cr3 = old;
                return Err(Exception::gp(0));
            }
            c.tlb.flush_non_global();
        }
        Register::CR4 => {
            let supported = Cr4::VME
                | Cr4::PVI
                | Cr4::TSD
                | Cr4::DE
                | Cr4::PSE
                | Cr4::PAE
                | Cr4::MCE
                | Cr4::PGE
                | Cr4::PCE;
            if v & !supported.bits() != 0 {
                return Err(Exception::gp(0));
            }
            let old = c.sregs.cr4;
            let new = Cr4::from_bits_retain(v);
            c.sregs.cr4 = new;
            let paging_bits = Cr4::PAE | Cr4::PGE | Cr4::PSE;
            if (old ^ new).intersects(paging_bits) {
                if !c.load_pdptes_if_pae() {
                    c.sregs.cr4 = old;
                    return Err(Exception::gp(0));
                }
                c.tlb.flush_all();
            }
        }
        _ => return Err(Exception::ud()),
    }
    c.fetch_dirty = true;
    Ok(())
}

/// MOV r32, CRn.
pub(crate) fn mov_from_cr(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    c.require_cpl0()?;
    let v = match i.op1_register() {
        Register::CR0 => c.sregs.cr0.bits(),
        Register::CR2 => c.sregs.cr2,
        Register::CR3 => c.sregs.cr3,
        Register::CR4 => c.sregs.cr4.bits(),
        _ => return Err(Exception::ud()),
    };
    c.set_reg(i.op0_register(), v);
    Ok(())
}

/// MOV DRn, r32. DR6 keeps its fixed bits; a DR7 write updates the breakpoint summary
/// (see `debug.rs`).
pub(crate) fn mov_to_dr(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let n = dr_access(c, i.op0_register())?;
    let v = c.reg(i.op1_register());
    match n {
        6 => c.dr[6] = (v & debug::DR6_WRITABLE) | debug::DR6_FIXED1,
        7 => {
            c.dr[7] = (v & debug::DR7_WRITABLE) | debug::DR7_FIXED1;
            c.dr7_changed();
        }
        _ => c.dr[n] = v,
    }
    Ok(())
}

/// MOV r32, DRn.
pub(crate) fn mov_from_dr(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let n = dr_access(c, i.op1_register())?;
    let v = c.dr[n];
    c.set_reg(i.op0_register(), v);
    Ok(())
}

/// The checks of MOV to/from DRn (SDM Vol. 2 MOV—Move to/from Debug Registers), in the
/// order Bochs applies them: DR4/DR5 with CR4.DE = 1 is #UD (else they alias DR6/DR7);
/// any access with DR7.GD = 1 is a #DB fault with DR6.BD set (GD is cleared for the
/// handler, Vol. 3 §17.2.4); then CPL > 0 or virtual-8086 mode is #GP(0).
fn dr_access(c: &mut Core, r: Register) -> Result<usize, Exception> {
    let n = (r as usize).wrapping_sub(Register::DR0 as usize);
    let n = match n {
        0..=3 | 6 | 7 => n,
        4 | 5 if !c.sregs.cr4.contains(Cr4::DE) => n + 2,
        _ => return Err(Exception::ud()),
    };
    if c.dr[7] & debug::DR7_GD != 0 {
        c.commit_debug_event(debug::DR6_BD);
        return Err(Exception::fault(crate::exception::vector::DB));
    }
    c.require_cpl0()?;
    Ok(n)
}

/// MOV Sreg, r/m16. Loading CS is #UD; loading SS inhibits interrupts for one instruction.
pub(crate) fn mov_to_sreg(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let sel = c.read_op(i, 1, 2)? as u16;
    let seg = super::operand::seg_of(i.op0_register());
    if i.op0_register() == Register::CS {
        return Err(Exception::ud());
    }
    c.load_data_segment(seg, sel)?;
    if seg == SegReg::Ss {
        c.inhibit = true;
    }
    Ok(())
}

/// MOV r/m16, Sreg. A 32-bit register destination gets the selector zero-extended (P6+);
/// a memory destination is always written with 16 bits.
pub(crate) fn mov_from_sreg(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    let v = c.reg(i.op1_register());
    if i.op0_kind() == OpKind::Register {
        let size = i.op0_register().size() as u32;
        c.write_op(i, 0, size, v)
    } else {
        c.write_op(i, 0, 2, v)
    }
}

/// LDS/LES/LFS/LGS/LSS r, m16:16|m16:32.
pub(crate) fn load_far_pointer(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    if i.op1_kind() != OpKind::Memory {
        return Err(Exception::ud());
    }
    let size = i.op0_register().size() as u32;
    let seg = Core::mem_seg(i);
    let off = c.ea(i);
    let v = c.read_mem(seg, off, size)?;
    let sel = c.read_mem(seg, off.wrapping_add(size), 2)? as u16;
    let target = match i.mnemonic() {
        Mnemonic::Lds => SegReg::Ds,
        Mnemonic::Les => SegReg::Es,
        Mnemonic::Lfs => SegReg::Fs,
        Mnemonic::Lgs => SegReg::Gs,
        _ => SegReg::Ss,
    };
    c.load_data_segment(target, sel)?;
    c.set_reg(i.op0_register(), v);
    Ok(())
}

/// INVD / WBINVD (privileged; no caches are modelled) and INVLPG (privileged: drops the
/// TLB entries of the page holding the operand's linear address, global ones included, and
/// never faults on the address, SDM INVLPG).
pub(crate) fn cache_control(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> R {
    c.require_cpl0()?;
    if i.mnemonic() == Mnemonic::Invlpg {
        if i.op0_kind() != OpKind::Memory {
            return Err(Exception::ud());
        }
        let seg = c.sregs.seg[Core::mem_seg(i) as usize].base;
        let lin = seg.wrapping_add(c.ea(i));
        c.tlb.invlpg(vtx32_mmu::LinearAddr(lin));
        // The instruction-fetch translation is a TLB entry too.
        c.fetch_dirty = true;
    }
    Ok(())
}
