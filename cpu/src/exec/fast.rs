//! Fast paths for the most frequent instruction forms: 32-bit operands with 32-bit
//! addressing (ALU, MOV, INC/DEC, LEA, Jcc/JMP rel, PUSH/POP r32, CALL rel32, RET).
//!
//! At decode time the operands are resolved into plain register indices, immediates and a
//! pre-split memory operand ([`Operands`]), so the handler does no iced accessor calls and
//! no operand-kind matching. Semantics are the same functions as the generic paths use
//! (`flags.rs`, `memory.rs`, `stack.rs`); an instruction without a fast form runs through
//! its generic handler.

use super::flags::{lazy, Lazy};
use super::memory::DataAccess;
use super::Core;
use crate::exception::Exception;
use crate::icache::Decoded;
use crate::state::SegReg;
use iced_x86::{Code, ConditionCode, Instruction, Mnemonic, OpKind, Register};

/// `handler::<CC>` for the condition code `cc` (the handlers of Jcc are const-generic over
/// `ConditionCode as u8`, indexing [`CONDITIONS`]).
macro_rules! by_condition {
    ($cc:expr, $handler:ident) => {
        by_condition!(@ $cc, $handler, None o no b ae e ne be a s ns p np l ge le g)
    };
    (@ $cc:expr, $handler:ident, $($c:ident)*) => {
        match $cc {
            $(ConditionCode::$c => $handler::<{ ConditionCode::$c as u8 }> as Fast,)*
        }
    };
}

/// A fast handler works on the pre-resolved operands only. It never does port I/O, never
/// reads `regs.eip` or the cycle counter, and only a control transfer (the last instruction
/// of a block) reads or writes `next_eip`: the run loop relies on this to skip the
/// per-instruction bookkeeping in blocks made only of fast forms.
///
/// It returns `true` to go on with the next instruction. `false` leaves the block: with
/// the exception in `Core::fast_fault` when the instruction faulted (nothing retired), or
/// with `fast_fault` empty when it retired and wrote to decoded code (the memory bus's
/// `code_written` is then set), so that only handlers that write memory look at it.
pub(crate) type Fast = fn(&mut Core, &Decoded) -> bool;

/// Placeholder `exec` of an instruction without a fast form (the run loop calls its
/// generic handler instead, see `Decoded::generic`).
pub(crate) fn generic(c: &mut Core, _d: &Decoded) -> bool {
    fail(c, Exception::ud())
}

/// Records the fault of a fast form and leaves the block.
#[cold]
#[inline(never)]
fn fail(c: &mut Core, e: Exception) -> bool {
    c.fast_fault = Some(e);
    false
}

/// The [`Fast`] result of a handler that does not write memory.
#[inline(always)]
fn done(c: &mut Core, r: Result<(), Exception>) -> bool {
    match r {
        Ok(()) => true,
        Err(e) => fail(c, e),
    }
}

/// The [`Fast`] result of a handler that writes memory: a write to decoded code leaves
/// the block after the instruction.
#[inline(always)]
fn done_write(c: &mut Core, r: Result<(), Exception>) -> bool {
    match r {
        Ok(()) => !c.mem.code_written(),
        Err(e) => fail(c, e),
    }
}

impl Core {
    /// Runs fast form `d` outside a block of fast forms, as a generic handler would:
    /// `Err` if it faulted (a write to code is left in `code_written` for the caller).
    #[inline(always)]
    pub(crate) fn run_fast(&mut self, d: &Decoded) -> Result<(), Exception> {
        if (d.exec)(self, d) {
            return Ok(());
        }
        // A Jcc inside a block that branched has its target in `next_eip` already.
        self.branch_taken = false;
        match self.fast_fault.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Shift that removes a register from an effective address: a register value widened to
/// 64 bits and shifted left by 32 contributes nothing to the low 32 bits, so an absent base
/// or index costs no branch (see [`Core::ea32`]).
const ABSENT: u8 = 32;

/// Pre-resolved operands of a fast-path instruction.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Operands {
    /// Destination (or only) register index, 0-7.
    pub dst: u8,
    /// Source register index, 0-7.
    pub src: u8,
    /// Memory base / index register indices (0 when absent).
    pub base: u8,
    pub index: u8,
    /// Left shift of the base: 0, or [`ABSENT`].
    pub base_shift: u8,
    /// log2 of the index scale, or [`ABSENT`].
    pub scale: u8,
    pub seg: SegReg,
    /// Condition for Jcc.
    pub cc: ConditionCode,
    pub disp: u32,
    /// Immediate, or the relative branch displacement from the next instruction.
    pub imm: u32,
}

impl Operands {
    pub const EMPTY: Operands = Operands {
        dst: 0,
        src: 0,
        base: 0,
        index: 0,
        base_shift: ABSENT,
        scale: ABSENT,
        seg: SegReg::Ds,
        cc: ConditionCode::None,
        disp: 0,
        imm: 0,
    };
}

fn gpr32(r: Register) -> Option<u8> {
    let n = (r as u32).wrapping_sub(Register::EAX as u32);
    (n < 8).then_some(n as u8)
}

/// Splits a 32-bit-addressing memory operand; `None` for 16-bit addressing.
fn mem32(i: &Instruction, o: &mut Operands) -> Option<()> {
    // (register index, shift): an absent register is index 0 shifted out.
    let reg = |r: Register, shift: u8| {
        if r == Register::None {
            Some((0, ABSENT))
        } else {
            gpr32(r).map(|n| (n, shift))
        }
    };
    (o.base, o.base_shift) = reg(i.memory_base(), 0)?;
    let scale = i.memory_index_scale().trailing_zeros() as u8;
    (o.index, o.scale) = reg(i.memory_index(), scale)?;
    o.disp = i.memory_displacement32();
    o.seg = super::operand::seg_of(i.memory_segment());
    Some(())
}

fn imm32(i: &Instruction) -> u32 {
    match i.op1_kind() {
        OpKind::Immediate8to32 => i.immediate8to32() as u32,
        _ => i.immediate32(),
    }
}

/// ALU operation selector for the const-generic handlers.
mod op {
    pub const ADD: u8 = 0;
    pub const OR: u8 = 1;
    pub const ADC: u8 = 2;
    pub const SBB: u8 = 3;
    pub const AND: u8 = 4;
    pub const SUB: u8 = 5;
    pub const XOR: u8 = 6;
    pub const CMP: u8 = 7;
    pub const TEST: u8 = 8;
}

/// Chooses a fast handler and resolves its operands, if the form has one.
pub(crate) fn select(i: &Instruction) -> Option<(Fast, Operands)> {
    let mut o = Operands::EMPTY;
    let alu_op = match i.mnemonic() {
        Mnemonic::Add => Some(op::ADD),
        Mnemonic::Or => Some(op::OR),
        Mnemonic::Adc => Some(op::ADC),
        Mnemonic::Sbb => Some(op::SBB),
        Mnemonic::And => Some(op::AND),
        Mnemonic::Sub => Some(op::SUB),
        Mnemonic::Xor => Some(op::XOR),
        Mnemonic::Cmp => Some(op::CMP),
        Mnemonic::Test => Some(op::TEST),
        _ => None,
    };
    if let Some(opn) = alu_op {
        if i.has_lock_prefix() {
            return None;
        }
        let imm = matches!(i.op1_kind(), OpKind::Immediate32 | OpKind::Immediate8to32);
        return match (i.op0_kind(), i.op1_kind()) {
            (OpKind::Register, OpKind::Register) => {
                o.dst = gpr32(i.op0_register())?;
                o.src = gpr32(i.op1_register())?;
                Some((alu_fn(opn, Form::RR), o))
            }
            (OpKind::Register, _) if imm => {
                o.dst = gpr32(i.op0_register())?;
                o.imm = imm32(i);
                Some((alu_fn(opn, Form::RI), o))
            }
            (OpKind::Register, OpKind::Memory) => {
                o.dst = gpr32(i.op0_register())?;
                mem32(i, &mut o)?;
                (i.memory_size().size() == 4).then_some((alu_fn(opn, Form::RM), o))
            }
            (OpKind::Memory, OpKind::Register) => {
                o.src = gpr32(i.op1_register())?;
                mem32(i, &mut o)?;
                (i.memory_size().size() == 4).then_some((alu_fn(opn, Form::MR), o))
            }
            (OpKind::Memory, _) if imm => {
                mem32(i, &mut o)?;
                o.imm = imm32(i);
                (i.memory_size().size() == 4).then_some((alu_fn(opn, Form::MI), o))
            }
            _ => None,
        };
    }
    match i.code() {
        Code::Mov_r32_rm32 | Code::Mov_rm32_r32 => match (i.op0_kind(), i.op1_kind()) {
            (OpKind::Register, OpKind::Register) => {
                o.dst = gpr32(i.op0_register())?;
                o.src = gpr32(i.op1_register())?;
                Some((mov_rr, o))
            }
            (OpKind::Register, OpKind::Memory) => {
                o.dst = gpr32(i.op0_register())?;
                mem32(i, &mut o)?;
                Some((mov_rm, o))
            }
            _ => {
                o.src = gpr32(i.op1_register())?;
                mem32(i, &mut o)?;
                Some((mov_mr, o))
            }
        },
        Code::Mov_r32_imm32 => {
            o.dst = gpr32(i.op0_register())?;
            o.imm = i.immediate32();
            Some((mov_ri, o))
        }
        Code::Mov_rm32_imm32 if i.op0_kind() == OpKind::Memory => {
            mem32(i, &mut o)?;
            o.imm = i.immediate32();
            Some((mov_mi, o))
        }
        Code::Inc_r32 | Code::Dec_r32 => {
            o.dst = gpr32(i.op0_register())?;
            Some((
                if i.code() == Code::Inc_r32 {
                    inc_r
                } else {
                    dec_r
                },
                o,
            ))
        }
        Code::Inc_rm32 | Code::Dec_rm32 if i.op0_kind() == OpKind::Register => {
            o.dst = gpr32(i.op0_register())?;
            Some((
                if i.code() == Code::Inc_rm32 {
                    inc_r
                } else {
                    dec_r
                },
                o,
            ))
        }
        Code::Lea_r32_m => {
            o.dst = gpr32(i.op0_register())?;
            mem32(i, &mut o)?;
            Some((lea, o))
        }
        Code::Push_r32 => {
            o.src = gpr32(i.op0_register())?;
            Some((push_r, o))
        }
        Code::Pop_r32 => {
            o.dst = gpr32(i.op0_register())?;
            Some((pop_r, o))
        }
        Code::Jmp_rel8_32 | Code::Jmp_rel32_32 => {
            o.imm = i.near_branch_target().wrapping_sub(i.next_ip()) as u32;
            Some((jmp_rel, o))
        }
        Code::Call_rel32_32 => {
            o.imm = i.near_branch_target().wrapping_sub(i.next_ip()) as u32;
            Some((call_rel, o))
        }
        Code::Retnd => Some((ret, o)),
        Code::Shl_rm32_imm8
        | Code::Sal_rm32_imm8
        | Code::Shr_rm32_imm8
        | Code::Sar_rm32_imm8
        | Code::Shl_rm32_1
        | Code::Sal_rm32_1
        | Code::Shr_rm32_1
        | Code::Sar_rm32_1
            if i.op0_kind() == OpKind::Register =>
        {
            o.dst = gpr32(i.op0_register())?;
            o.imm = match i.op1_kind() {
                OpKind::Immediate8 => u32::from(i.immediate8()) & 0x1F,
                _ => 1,
            };
            let f: Fast = match i.mnemonic() {
                Mnemonic::Shr => shift_ri::<{ lazy::SHR }>,
                Mnemonic::Sar => shift_ri::<{ lazy::SAR }>,
                _ => shift_ri::<{ lazy::SHL }>,
            };
            Some((f, o))
        }
        _ if i.is_jcc_short_or_near() && matches!(i.op0_kind(), OpKind::NearBranch32) => {
            o.imm = i.near_branch_target().wrapping_sub(i.next_ip()) as u32;
            o.cc = i.condition_code();
            Some((jcc_fn(o.cc), o))
        }
        _ => None,
    }
}

#[derive(Clone, Copy)]
enum Form {
    RR,
    RI,
    RM,
    MR,
    MI,
}

fn alu_fn(opn: u8, form: Form) -> Fast {
    macro_rules! forms {
        ($op:expr) => {
            match form {
                Form::RR => alu_rr::<{ $op }>,
                Form::RI => alu_ri::<{ $op }>,
                Form::RM => alu_rm::<{ $op }>,
                Form::MR => alu_mr::<{ $op }>,
                Form::MI => alu_mi::<{ $op }>,
            }
        };
    }
    match opn {
        op::ADD => forms!(op::ADD),
        op::OR => forms!(op::OR),
        op::ADC => forms!(op::ADC),
        op::SBB => forms!(op::SBB),
        op::AND => forms!(op::AND),
        op::SUB => forms!(op::SUB),
        op::XOR => forms!(op::XOR),
        op::CMP => forms!(op::CMP),
        _ => forms!(op::TEST),
    }
}

/// One 32-bit ALU operation: result and flags (left pending, see `flags::Lazy`); `false` =
/// the result is not written.
#[inline(always)]
fn alu32<const OP: u8>(c: &mut Core, a: u32, b: u32) -> (u32, bool) {
    let (kind, carry, r, w) = match OP {
        op::ADD => (lazy::ADD, 0, a.wrapping_add(b), true),
        op::ADC => {
            let cin = c.cf_now();
            (lazy::ADD, cin, a.wrapping_add(b).wrapping_add(cin), true)
        }
        op::SUB | op::CMP => (lazy::SUB, 0, a.wrapping_sub(b), OP == op::SUB),
        op::SBB => {
            let bin = c.cf_now();
            (lazy::SUB, bin, a.wrapping_sub(b).wrapping_sub(bin), true)
        }
        op::AND | op::TEST => (lazy::LOGIC, 0, a & b, OP == op::AND),
        op::OR => (lazy::LOGIC, 0, a | b, true),
        _ => (lazy::LOGIC, 0, a ^ b, true),
    };
    c.lazy = Lazy {
        op: kind,
        a,
        b,
        carry,
        r,
    };
    (r, w)
}

/// INC/DEC keep CF: the current CF (pending or not) is kept with the pending flags.
#[inline(always)]
fn pend_inc_dec(c: &mut Core, kind: u8, a: u32, r: u32) {
    let cf = c.cf_now();
    c.lazy = Lazy {
        op: kind,
        a,
        b: 1,
        carry: cf,
        r,
    };
}

impl Core {
    /// Effective address of a pre-split 32-bit memory operand.
    #[inline(always)]
    fn ea32(&self, o: &Operands) -> u32 {
        let part = |r: u8, shift: u8| (u64::from(self.g(r)) << (shift & 63)) as u32;
        o.disp
            .wrapping_add(part(o.base, o.base_shift))
            .wrapping_add(part(o.index, o.scale))
    }

    #[inline(always)]
    fn g(&self, r: u8) -> u32 {
        self.regs.gpr[(r & 7) as usize]
    }

    #[inline(always)]
    fn set_g(&mut self, r: u8, v: u32) {
        self.regs.gpr[(r & 7) as usize] = v;
    }
}

type R = bool;

fn alu_rr<const OP: u8>(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    let (r, w) = alu32::<OP>(c, c.g(o.dst), c.g(o.src));
    if w {
        c.set_g(o.dst, r);
    }
    true
}

fn alu_ri<const OP: u8>(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    let (r, w) = alu32::<OP>(c, c.g(o.dst), o.imm);
    if w {
        c.set_g(o.dst, r);
    }
    true
}

fn alu_rm<const OP: u8>(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    let off = c.ea32(o);
    let Some(b) = c.read_mem_short(o.seg, off, 4) else {
        return alu_rm_full::<OP>(c, o, off);
    };
    let (r, w) = alu32::<OP>(c, c.g(o.dst), b);
    if w {
        c.set_g(o.dst, r);
    }
    true
}

#[inline(never)]
fn alu_rm_full<const OP: u8>(c: &mut Core, o: &Operands, off: u32) -> R {
    let b = match c.read_mem(o.seg, off, 4) {
        Ok(v) => v,
        Err(e) => return fail(c, e),
    };
    let (r, w) = alu32::<OP>(c, c.g(o.dst), b);
    if w {
        c.set_g(o.dst, r);
    }
    true
}

fn alu_mr<const OP: u8>(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    alu_m::<OP>(c, o, c.g(o.src))
}

fn alu_mi<const OP: u8>(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    alu_m::<OP>(c, o, o.imm)
}

/// ALU op with a memory destination: the short path (plain RAM, checked for writing
/// first as the full path does), else [`alu_m_full`].
#[inline(always)]
fn alu_m<const OP: u8>(c: &mut Core, o: &Operands, b: u32) -> R {
    let off = c.ea32(o);
    let read_only = OP == op::CMP || OP == op::TEST;
    if let DataAccess::Pa(pa) = c.data_access(o.seg, off, 4, !read_only) {
        if let Some(a) = c.mem.read_ram(pa, 4) {
            let flags_before = (c.regs.eflags, c.lazy);
            let (r, w) = alu32::<OP>(c, a, b);
            if !w || c.mem.write_ram(pa, 4, r) {
                return true;
            }
            // Not plain RAM: the full path does it all again.
            (c.regs.eflags, c.lazy) = flags_before;
        }
    }
    alu_m_full::<OP>(c, o, off, b)
}

#[inline(never)]
fn alu_m_full<const OP: u8>(c: &mut Core, o: &Operands, off: u32, b: u32) -> R {
    let a = if OP == op::CMP || OP == op::TEST {
        c.read_mem(o.seg, off, 4)
    } else {
        c.read_rmw(o.seg, off, 4)
    };
    let a = match a {
        Ok(a) => a,
        Err(e) => return fail(c, e),
    };
    let flags_before = (c.regs.eflags, c.lazy);
    let (r, w) = alu32::<OP>(c, a, b);
    if w {
        // A write fault must leave the flags as they were.
        if let Err(e) = c.write_mem(o.seg, off, 4, r) {
            (c.regs.eflags, c.lazy) = flags_before;
            return fail(c, e);
        }
    }
    done_write(c, Ok(()))
}

/// SHL/SHR/SAR r32, imm8 (count already masked to 5 bits), `K` one of the `lazy` shift
/// kinds. The flags are left pending (`flags::shift32_flags`); a count of 0 changes
/// nothing.
fn shift_ri<const K: u8>(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    let count = o.imm;
    if count == 0 {
        return true;
    }
    let v = c.g(o.dst);
    let r = match K {
        lazy::SHL => v << count,
        lazy::SHR => v >> count,
        _ => ((v as i32) >> count) as u32,
    };
    c.set_g(o.dst, r);
    // Every status flag is replaced: whatever was pending is overwritten.
    c.lazy = Lazy {
        op: K,
        a: v,
        b: count,
        carry: 0,
        r,
    };
    true
}

fn mov_rr(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    c.set_g(o.dst, c.g(o.src));
    true
}

fn mov_ri(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    c.set_g(o.dst, o.imm);
    true
}

fn mov_rm(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    let off = c.ea32(o);
    match c.read_mem_short(o.seg, off, 4) {
        Some(v) => {
            c.set_g(o.dst, v);
            true
        }
        None => mov_rm_full(c, o, off),
    }
}

#[inline(never)]
fn mov_rm_full(c: &mut Core, o: &Operands, off: u32) -> R {
    match c.read_mem(o.seg, off, 4) {
        Ok(v) => {
            c.set_g(o.dst, v);
            true
        }
        Err(e) => fail(c, e),
    }
}

fn mov_mr(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    store32(c, o, c.g(o.src))
}

/// A 4-byte store of a fast form: the short path (plain RAM), else the full one.
#[inline(always)]
fn store32(c: &mut Core, o: &Operands, v: u32) -> R {
    let off = c.ea32(o);
    c.write_mem_short(o.seg, off, 4, v) || store32_full(c, o, off, v)
}

#[inline(never)]
fn store32_full(c: &mut Core, o: &Operands, off: u32, v: u32) -> R {
    let r = c.write_mem(o.seg, off, 4, v);
    done_write(c, r)
}

fn mov_mi(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    store32(c, o, o.imm)
}

fn inc_r(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    let a = c.g(o.dst);
    let r = a.wrapping_add(1);
    c.set_g(o.dst, r);
    pend_inc_dec(c, lazy::INC, a, r);
    true
}

fn dec_r(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    let a = c.g(o.dst);
    let r = a.wrapping_sub(1);
    c.set_g(o.dst, r);
    pend_inc_dec(c, lazy::DEC, a, r);
    true
}

fn lea(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    c.set_g(o.dst, c.ea32(o));
    true
}

fn push_r(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    let r = c.push(4, c.g(o.src));
    done_write(c, r)
}

fn pop_r(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    match c.pop(4) {
        Ok(v) => {
            c.set_g(o.dst, v);
            true
        }
        Err(e) => fail(c, e),
    }
}

fn jmp_rel(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    let t = c.next_eip.wrapping_add(o.imm);
    let r = c.jump_near(t, 4);
    done(c, r)
}

fn jcc<const CC: u8>(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    if c.condition_now(CONDITIONS[usize::from(CC)]) {
        let t = c.next_eip.wrapping_add(o.imm);
        let r = c.jump_near(t, 4);
        return done(c, r);
    }
    true
}

fn call_rel(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    let t = c.next_eip.wrapping_add(o.imm);
    if t > c.sregs.seg[SegReg::Cs as usize].limit {
        return fail(c, Exception::gp(0));
    }
    let r = c.push(4, c.next_eip);
    c.next_eip = t;
    done_write(c, r)
}

fn ret(c: &mut Core, d: &Decoded) -> R {
    let _o = &d.ops;
    let t = match c.peek(0, 4) {
        Ok(t) => t,
        Err(e) => return fail(c, e),
    };
    if let Err(e) = c.jump_near(t, 4) {
        return fail(c, e);
    }
    let sp = c.regs.gpr[crate::state::gpr::ESP].wrapping_add(4);
    c.set_sp(sp);
    true
}

/// Jcc inside a block: blocks of 32-bit code go on past a fast Jcc (see
/// [`make_inner_jcc`]). Its target is `block_start + imm` (`imm` holds the offset of the
/// next instruction in the block plus the displacement). Taken, it leaves the block with
/// `branch_taken` set (the instruction retired; `disp` holds the block's cycles through it).
fn jcc_inner<const CC: u8>(c: &mut Core, d: &Decoded) -> R {
    let o = &d.ops;
    if c.condition_now(CONDITIONS[usize::from(CC)]) {
        let t = c.block_start.wrapping_add(o.imm);
        if let Err(e) = c.jump_near(t, 4) {
            return fail(c, e);
        }
        c.branch_taken = true;
        return false;
    }
    true
}

/// Turns the fast Jcc `d`, not the last instruction of its block, into the in-block form
/// ([`jcc_inner`]); `next` is the offset of the instruction after it from the block's
/// start, `cycles` the block's cycles up to and including it. `false` if `d` is not a
/// fast Jcc (the block must end after it).
pub(crate) fn make_inner_jcc(d: &mut Decoded, next: u32, cycles: u32) -> bool {
    if d.generic || !d.insn.is_jcc_short_or_near() {
        return false;
    }
    d.exec = by_condition!(d.ops.cc, jcc_inner);
    d.ops.imm = next.wrapping_add(d.ops.imm);
    d.ops.disp = cycles;
    true
}

/// Condition codes by their value (`ConditionCode as u8`), for the const-generic Jcc.
const CONDITIONS: [ConditionCode; 17] = {
    use ConditionCode as C;
    let all = [
        C::None,
        C::o,
        C::no,
        C::b,
        C::ae,
        C::e,
        C::ne,
        C::be,
        C::a,
        C::s,
        C::ns,
        C::p,
        C::np,
        C::l,
        C::ge,
        C::le,
        C::g,
    ];
    let mut t = [C::None; 17];
    let mut i = 0;
    while i < 17 {
        t[all[i] as usize] = all[i];
        i += 1;
    }
    t
};

/// The Jcc handler specialised for condition `cc`.
fn jcc_fn(cc: ConditionCode) -> Fast {
    by_condition!(cc, jcc)
}
