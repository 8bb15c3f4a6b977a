//! Decode-time dispatch: each decoded instruction gets its handler and cost class once, when
//! it enters the decoded-instruction cache.

use super::{
    alu, bcd, bits, control, io, muldiv, protection, shift, stack, string, sysenter, system,
    task_register, Core, Handler, PortIo,
};
use crate::exception::{vector, Exception};
use crate::model::CostClass;
use iced_x86::{Instruction, Mnemonic as M};

/// The handler for instructions this CPU does not have: #UD.
pub(crate) fn invalid(
    _c: &mut Core,
    _io: &mut dyn PortIo,
    _i: &Instruction,
) -> Result<(), Exception> {
    Err(Exception::ud())
}

/// x87 instructions on this model, which has no FPU yet (CPUID.1:EDX.FPU = 0): #NM when
/// CR0.EM or CR0.TS is set (SDM Vol. 3 §2.5, Table 2-2: the OS emulates or lazily switches
/// the FPU), otherwise #UD (no FPU to execute them). WAIT/FWAIT raises #NM only when MP and
/// TS are both set, and is otherwise a no-op.
fn x87(c: &mut Core, _io: &mut dyn PortIo, i: &Instruction) -> Result<(), Exception> {
    use crate::state::Cr0;
    let cr0 = c.sregs.cr0;
    let wait = matches!(i.mnemonic(), M::Wait);
    if wait {
        // WAIT/FWAIT checks only MP and TS.
        if cr0.contains(Cr0::MP) && cr0.contains(Cr0::TS) {
            return Err(Exception::fault(vector::NM));
        }
        return Ok(());
    }
    if cr0.intersects(Cr0::EM | Cr0::TS) {
        return Err(Exception::fault(vector::NM));
    }
    Err(Exception::ud())
}

/// Chooses the handler and cost class for a decoded instruction.
pub(crate) fn select(i: &Instruction) -> (Handler, CostClass) {
    use CostClass as K;
    if i.is_invalid() {
        return (invalid, K::Simple);
    }
    let h: (Handler, CostClass) = match i.mnemonic() {
        M::Add | M::Adc | M::Sub | M::Sbb | M::Cmp | M::And | M::Or | M::Xor | M::Test => {
            (alu::binary, K::Simple)
        }
        M::Inc | M::Dec => (alu::inc_dec, K::Simple),
        M::Neg => (alu::neg, K::Simple),
        M::Not => (alu::not, K::Simple),
        M::Mov => match i.op0_kind() {
            iced_x86::OpKind::Register if i.op0_register().is_segment_register() => {
                (system::mov_to_sreg, K::Far)
            }
            iced_x86::OpKind::Register if i.op0_register().is_cr() => {
                (system::mov_to_cr, K::System)
            }
            iced_x86::OpKind::Register if i.op0_register().is_dr() => {
                (system::mov_to_dr, K::System)
            }
            _ if i.op1_kind() == iced_x86::OpKind::Register && i.op1_register().is_cr() => {
                (system::mov_from_cr, K::System)
            }
            _ if i.op1_kind() == iced_x86::OpKind::Register && i.op1_register().is_dr() => {
                (system::mov_from_dr, K::System)
            }
            _ if i.op1_kind() == iced_x86::OpKind::Register
                && i.op1_register().is_segment_register() =>
            {
                (system::mov_from_sreg, K::Simple)
            }
            iced_x86::OpKind::Register if i.op0_register().is_tr() => (invalid, K::Simple),
            _ => (alu::mov, K::Simple),
        },
        M::Movzx | M::Movsx => (alu::movx, K::Simple),
        M::Lea => (alu::lea, K::Simple),
        M::Xchg => (alu::xchg, K::Shift),
        M::Xadd => (alu::xadd, K::Shift),
        M::Cmpxchg => (alu::cmpxchg, K::Microcoded),
        M::Cmpxchg8b => (alu::cmpxchg8b, K::Microcoded),
        M::Cmovo
        | M::Cmovno
        | M::Cmovb
        | M::Cmovae
        | M::Cmove
        | M::Cmovne
        | M::Cmovbe
        | M::Cmova
        | M::Cmovs
        | M::Cmovns
        | M::Cmovp
        | M::Cmovnp
        | M::Cmovl
        | M::Cmovge
        | M::Cmovle
        | M::Cmovg => (alu::cmov, K::Simple),
        M::Seto
        | M::Setno
        | M::Setb
        | M::Setae
        | M::Sete
        | M::Setne
        | M::Setbe
        | M::Seta
        | M::Sets
        | M::Setns
        | M::Setp
        | M::Setnp
        | M::Setl
        | M::Setge
        | M::Setle
        | M::Setg => (alu::setcc, K::Simple),
        M::Cbw | M::Cwde | M::Cwd | M::Cdq => (alu::convert, K::Simple),
        M::Clc | M::Stc | M::Cmc | M::Cld | M::Std => (alu::flag_op, K::Simple),
        M::Lahf => (alu::lahf, K::Simple),
        M::Sahf => (alu::sahf, K::Simple),
        M::Nop | M::Pause | M::Prefetchnta | M::Prefetcht0 | M::Prefetcht1 | M::Prefetcht2 => {
            (alu::nop, K::Simple)
        }

        M::Rol | M::Ror | M::Rcl | M::Rcr | M::Shl | M::Sal | M::Shr | M::Sar => {
            (shift::shift, K::Shift)
        }
        M::Shld | M::Shrd => (shift::shift_double, K::Shift),
        M::Daa | M::Das => (bcd::daa_das, K::Microcoded),
        M::Aaa | M::Aas => (bcd::aaa_aas, K::Microcoded),
        M::Aam => (bcd::aam, K::Microcoded),
        M::Aad => (bcd::aad, K::Microcoded),
        M::Bt | M::Bts | M::Btr | M::Btc => (bits::bt, K::Shift),
        M::Bsf | M::Bsr => (bits::bsf_bsr, K::Shift),
        M::Bswap => (bits::bswap, K::Shift),
        M::Mul | M::Imul => (muldiv::mul, K::Mul),
        M::Div | M::Idiv => (muldiv::div, K::Div),
        M::Movsb
        | M::Movsw
        | M::Movsd
        | M::Cmpsb
        | M::Cmpsw
        | M::Cmpsd
        | M::Scasb
        | M::Scasw
        | M::Scasd
        | M::Lodsb
        | M::Lodsw
        | M::Lodsd
        | M::Stosb
        | M::Stosw
        | M::Stosd
        | M::Insb
        | M::Insw
        | M::Insd
        | M::Outsb
        | M::Outsw
        | M::Outsd => (string::string, K::String),
        M::Xlatb => (bcd::xlat, K::Microcoded),

        M::Push => (stack::push, K::Simple),
        M::Pop => (stack::pop, K::Simple),
        M::Pusha | M::Pushad => (stack::pusha, K::Microcoded),
        M::Popa | M::Popad => (stack::popa, K::Microcoded),
        M::Pushf | M::Pushfd => (stack::pushf, K::Microcoded),
        M::Popf | M::Popfd => (stack::popf, K::Microcoded),
        M::Enter => (stack::enter, K::Microcoded),
        M::Leave => (stack::leave, K::Simple),

        M::Jmp => (
            control::jmp,
            if i.is_jmp_far() || i.is_jmp_far_indirect() {
                K::Far
            } else {
                K::Branch
            },
        ),
        M::Jo
        | M::Jno
        | M::Jb
        | M::Jae
        | M::Je
        | M::Jne
        | M::Jbe
        | M::Ja
        | M::Js
        | M::Jns
        | M::Jp
        | M::Jnp
        | M::Jl
        | M::Jge
        | M::Jle
        | M::Jg => (control::jcc, K::Branch),
        M::Loop | M::Loope | M::Loopne | M::Jcxz | M::Jecxz => (control::loop_jcxz, K::Branch),
        M::Call => (
            control::call,
            if i.is_call_far() || i.is_call_far_indirect() {
                K::Far
            } else {
                K::Branch
            },
        ),
        M::Ret => (control::ret_near, K::Branch),
        M::Retf => (control::ret_far, K::Far),
        M::Int | M::Int3 | M::Into | M::Int1 => (control::int, K::Far),
        M::Iret | M::Iretd => (control::iret, K::Far),
        M::Bound => (control::bound, K::Microcoded),
        M::Lds | M::Les | M::Lfs | M::Lgs | M::Lss => (system::load_far_pointer, K::Far),

        M::In | M::Out => (io::in_out, K::System),
        M::Hlt => (system::hlt, K::System),
        M::Cli | M::Sti => (system::cli_sti, K::Simple),
        M::Sysenter => (sysenter::sysenter, K::Far),
        M::Sysexit => (sysenter::sysexit, K::Far),
        M::Cpuid => (system::cpuid, K::System),
        M::Rdtsc => (system::rdtsc, K::System),
        M::Rdmsr | M::Wrmsr => (system::msr, K::System),
        M::Lgdt | M::Lidt | M::Sgdt | M::Sidt => (system::desc_table, K::System),
        M::Lldt => (task_register::lldt, K::System),
        M::Ltr => (task_register::ltr, K::System),
        M::Sldt | M::Str => (task_register::store_selector, K::Simple),
        M::Lmsw | M::Smsw | M::Clts => (system::msw, K::System),
        M::Invd | M::Wbinvd | M::Invlpg => (system::cache_control, K::System),
        M::Lar | M::Lsl => (protection::lar_lsl, K::System),
        M::Verr | M::Verw => (protection::verr_verw, K::System),
        M::Arpl => (protection::arpl, K::Simple),
        M::Ud0 | M::Ud1 | M::Ud2 => (invalid, K::Simple),
        M::Wait => (x87, K::Simple),
        _ if is_x87(i) => (x87, K::Simple),
        _ => (invalid, K::Simple),
    };
    h
}

/// x87 instructions, by the CPUID feature iced reports for them (FPU, 287, 387).
fn is_x87(i: &Instruction) -> bool {
    use iced_x86::CpuidFeature as F;
    i.cpuid_features().iter().any(|f| {
        matches!(
            f,
            F::FPU | F::FPU287 | F::FPU287XL_ONLY | F::FPU387 | F::FPU387SL_ONLY
        )
    })
}
