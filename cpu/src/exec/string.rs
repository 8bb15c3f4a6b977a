//! String instructions: MOVS CMPS SCAS LODS STOS INS OUTS (byte/word/dword) with REP,
//! REPE/REPZ and REPNE/REPNZ (SDM Vol. 2 each page, and "REP/REPE/REPZ/REPNE/REPNZ").
//!
//! * The address size (from the instruction's string operands) selects SI/DI/CX or
//!   ESI/EDI/ECX; with 16-bit addressing only the low 16 bits of those registers are used
//!   and updated.
//! * The source is DS:(E)SI unless overridden; the destination is always ES:(E)DI.
//! * REP: every iteration is one architectural step. Registers are committed after each
//!   iteration, so a fault in iteration n leaves (E)SI/(E)DI/(E)CX as after iteration n-1
//!   and EIP on the instruction (the run loop does not advance EIP on an error); restarting
//!   the instruction continues the loop. (E)CX = 0 at the start does nothing. Iterations
//!   after the first add the String cost class to the cycle count.
//! * A fault during REPE/REPNE CMPS/SCAS restores EFLAGS to the value they had before the
//!   instruction (SDM REP page); CMPS reads ES:(E)DI before the source, as Intel does (it
//!   decides which fault is reported when both operands would fault).
//! * INS checks the I/O permission, then that ES:(E)DI can be written, and only then reads
//!   the port, so a faulting store does not lose a port read's side effects. OUTS checks
//!   the I/O permission before reading memory (#GP, not a memory fault, at CPL > IOPL, as
//!   on Intel), then writes the port.
//! * F2 (REPNE) on MOVS/LODS/STOS/INS/OUTS repeats like F3, as on Intel processors.
//! * The SSE2 MOVSD/CMPSD (XMM operands) share the mnemonics and raise #UD (no SSE unit).
//! * Under single-step (TF) or when an iteration hits a data or I/O breakpoint, the
//!   instruction stops after that iteration with EIP on it, to report the #DB trap
//!   (see `debug.rs`).
//! * A REP OUTS whose port write asks the board to stop (or reset) ends the loop after that
//!   iteration with EIP left on the instruction when iterations remain.

use super::flags::{self, STATUS, ZF};
use super::operand::{mask, seg_of};
use super::{Core, PortIo};
use crate::exception::Exception;
use crate::model::CostClass;
use crate::state::{gpr, Eflags, SegReg};
use iced_x86::{Instruction, Mnemonic as M, OpKind};

type R = Result<(), Exception>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Movs,
    Cmps,
    Scas,
    Lods,
    Stos,
    Ins,
    Outs,
}

/// Operation and element size in bytes of a string mnemonic.
#[inline(always)]
fn decode(m: M) -> (Op, u32) {
    match m {
        M::Movsb => (Op::Movs, 1),
        M::Movsw => (Op::Movs, 2),
        M::Movsd => (Op::Movs, 4),
        M::Cmpsb => (Op::Cmps, 1),
        M::Cmpsw => (Op::Cmps, 2),
        M::Cmpsd => (Op::Cmps, 4),
        M::Scasb => (Op::Scas, 1),
        M::Scasw => (Op::Scas, 2),
        M::Scasd => (Op::Scas, 4),
        M::Lodsb => (Op::Lods, 1),
        M::Lodsw => (Op::Lods, 2),
        M::Lodsd => (Op::Lods, 4),
        M::Stosb => (Op::Stos, 1),
        M::Stosw => (Op::Stos, 2),
        M::Stosd => (Op::Stos, 4),
        M::Insb => (Op::Ins, 1),
        M::Insw => (Op::Ins, 2),
        M::Insd => (Op::Ins, 4),
        M::Outsb => (Op::Outs, 1),
        M::Outsw => (Op::Outs, 2),
        _ => (Op::Outs, 4),
    }
}

/// Whether the string operands use 16-bit addressing (SI/DI/CX).
#[inline(always)]
fn addr16(i: &Instruction) -> bool {
    (0..i.op_count()).any(|n| {
        matches!(
            i.op_kind(n),
            OpKind::MemorySegSI | OpKind::MemorySegDI | OpKind::MemoryESDI
        )
    })
}

/// One string instruction, with or without a repeat prefix.
pub(crate) fn string(c: &mut Core, io: &mut dyn PortIo, i: &Instruction) -> R {
    if i.op_count() > 0 && i.op0_kind() == OpKind::Register && i.op0_register().is_xmm() {
        // SSE2 MOVSD/CMPSD share the mnemonics; no SSE unit is modelled.
        return Err(Exception::ud());
    }
    let (op, size) = decode(i.mnemonic());
    let am: u32 = if addr16(i) { 0xFFFF } else { 0xFFFF_FFFF };
    let m = mask(size);
    let any_rep = i.has_rep_prefix() || i.has_repne_prefix();
    let compare = matches!(op, Op::Cmps | Op::Scas);
    // For CMPS/SCAS, the value ZF must keep for the loop to continue.
    let want_zf = !i.has_repne_prefix();
    let src_seg = seg_of(i.memory_segment());
    let step = if c.flag(Eflags::DF.bits()) {
        size.wrapping_neg()
    } else {
        size
    };
    let port = c.regs.gpr[gpr::EDX] as u16;
    let iter_cost = u64::from(c.model.costs[CostClass::String as usize]);
    // Single-stepping or data breakpoints: a trap is reported after the iteration that
    // raised it (SDM Vol. 3 §17.3.1.1 and .4), so each iteration may end the instruction.
    let watch = c.dbg.data || c.regs.eflags.contains(Eflags::TF);

    // The I/O permission check of INS/OUTS happens even when the count is 0 (host CPU).
    if matches!(op, Op::Ins | Op::Outs) {
        c.check_io(port, size)?;
    }
    if any_rep && c.regs.gpr[gpr::ECX] & am == 0 {
        return Ok(());
    }
    // A fault during REPE/REPNE CMPS/SCAS restores EFLAGS to their value before the
    // instruction (SDM "REP/REPE/REPZ/REPNE/REPNZ"): the flags are not an input, so the
    // instruction can be resumed.
    let saved_flags = c.regs.eflags;
    let restore = |c: &mut Core| {
        if any_rep {
            c.regs.eflags = saved_flags;
        }
    };
    let mut first = true;
    let mut done = 0u32;
    loop {
        let si = c.regs.gpr[gpr::ESI] & am;
        let di = c.regs.gpr[gpr::EDI] & am;
        match op {
            Op::Movs => {
                let v = c.read_mem(src_seg, si, size)?;
                c.write_mem(SegReg::Es, di, size, v)?;
            }
            Op::Cmps => {
                // Intel reads ES:(E)DI first (the fault reported when both would fault).
                let b = c
                    .read_mem(SegReg::Es, di, size)
                    .inspect_err(|_| restore(c))?;
                let a = c.read_mem(src_seg, si, size).inspect_err(|_| restore(c))?;
                let r = a.wrapping_sub(b) & m;
                c.set_flags(STATUS, flags::sub(size, a, b, 0, r));
            }
            Op::Scas => {
                let a = c.regs.gpr[gpr::EAX] & m;
                let b = c
                    .read_mem(SegReg::Es, di, size)
                    .inspect_err(|_| restore(c))?;
                let r = a.wrapping_sub(b) & m;
                c.set_flags(STATUS, flags::sub(size, a, b, 0, r));
            }
            Op::Lods => {
                let v = c.read_mem(src_seg, si, size)?;
                let e = &mut c.regs.gpr[gpr::EAX];
                *e = (*e & !m) | v;
            }
            Op::Stos => {
                let v = c.regs.gpr[gpr::EAX] & m;
                c.write_mem(SegReg::Es, di, size, v)?;
            }
            Op::Ins => {
                c.check_io(port, size)?;
                c.probe_write(SegReg::Es, di, size)?;
                let v = c.port_in(io, port, size)?;
                c.write_mem(SegReg::Es, di, size, v)?;
            }
            Op::Outs => {
                // The I/O permission check comes before the memory read (host-CPU
                // differential test: #GP, not #PF, at CPL > IOPL).
                c.check_io(port, size)?;
                let v = c.read_mem(src_seg, si, size)?;
                c.port_out(io, port, size, v)?;
            }
        }
        // Commit this iteration's register updates.
        let uses_si = matches!(op, Op::Movs | Op::Cmps | Op::Lods | Op::Outs);
        let uses_di = matches!(op, Op::Movs | Op::Cmps | Op::Scas | Op::Stos | Op::Ins);
        if uses_si {
            let e = &mut c.regs.gpr[gpr::ESI];
            *e = (*e & !am) | (si.wrapping_add(step) & am);
        }
        if uses_di {
            let e = &mut c.regs.gpr[gpr::EDI];
            *e = (*e & !am) | (di.wrapping_add(step) & am);
        }
        if !any_rep {
            return Ok(());
        }
        if !first {
            // Iterations after the first retire their own cost (a fault later keeps them).
            c.cycles += iter_cost;
        }
        first = false;
        let cx = c.regs.gpr[gpr::ECX].wrapping_sub(1) & am;
        let e = &mut c.regs.gpr[gpr::ECX];
        *e = (*e & !am) | cx;
        if cx == 0 {
            return Ok(());
        }
        if compare && c.flag(ZF) != want_zf {
            return Ok(());
        }
        if c.stop.is_some() || c.reset_pending || (watch && c.debug_rep_break()) {
            // Resume the remaining iterations later.
            c.next_eip = c.regs.eip;
            c.fetch_dirty = true; // leave the running block: EIP does not advance
            return Ok(());
        }
        done += 1;
        if done == REP_CHUNK {
            // Leave the instruction after a bounded number of iterations so that a long
            // REP (up to 2^32 iterations) cannot hold the host: the instruction restarts
            // with the registers as updated, as after an interrupt between iterations
            // (SDM Vol. 2 REP: "the processor ... can be interrupted between iterations").
            // Each chunk counts as one retired instruction (a documented, deterministic
            // policy: the instruction limit and Ctrl-C then bound any run). CMPS/SCAS
            // leave EFLAGS as they were before the instruction, as when they fault part-way,
            // so the restarts are invisible.
            if compare {
                restore(c);
            }
            c.next_eip = c.regs.eip;
            c.fetch_dirty = true; // leave the running block: EIP does not advance
            return Ok(());
        }
    }
}

/// Iterations of a REP string instruction executed per retirement (see above).
pub(crate) const REP_CHUNK: u32 = 1 << 10;
