//! Arithmetic flag computation (SDM Vol. 1 Appendix A, "EFLAGS Cross-Reference").
//!
//! The generic paths compute flags eagerly; the fast forms of ALU, INC/DEC and shift
//! instructions leave them pending ([`Lazy`]) until something reads them, with the same
//! functions applied later, so the result is bit for bit the same. Undefined-flag policy (one policy, kept everywhere): vtx32
//! produces what a modern Intel host CPU produces; the host-CPU differential test in
//! `testsuites/` checks undefined flags too. Each family file documents its choices.

use super::operand::mask;
use super::Core;
use crate::state::Eflags;

/// PF (as the EFLAGS bit) for every low byte: set when the number of 1 bits is even.
static PARITY: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        if (i as u8).count_ones() & 1 == 0 {
            t[i] = Eflags::PF.bits() as u8;
        }
        i += 1;
    }
    t
};

pub(crate) const CF: u32 = Eflags::CF.bits();
pub(crate) const PF: u32 = Eflags::PF.bits();
pub(crate) const AF: u32 = Eflags::AF.bits();
pub(crate) const ZF: u32 = Eflags::ZF.bits();
pub(crate) const SF: u32 = Eflags::SF.bits();
pub(crate) const OF: u32 = Eflags::OF.bits();
pub(crate) const STATUS: u32 = CF | PF | AF | ZF | SF | OF;

/// ZF, SF and PF of a result of `size` bytes.
#[inline(always)]
pub(crate) fn szp(size: u32, r: u32) -> u32 {
    // Branch-free: ZF bit 6, SF bit 7, PF bit 2.
    let r = r & mask(size);
    (u32::from(r == 0) << 6)
        | (((r >> (size * 8 - 1)) & 1) << 7)
        | u32::from(PARITY[(r & 0xFF) as usize])
}

/// Flags of `a + b + carry` (ADD, ADC, INC without CF).
#[inline(always)]
pub(crate) fn add(size: u32, a: u32, b: u32, carry: u32, r: u32) -> u32 {
    let m = mask(size);
    let full = u64::from(a & m) + u64::from(b & m) + u64::from(carry);
    let cf = u32::from(full > u64::from(m));
    let af = (a ^ b ^ r) & AF;
    let of = (((a ^ r) & (b ^ r)) >> (size * 8 - 1) & 1) << 11;
    szp(size, r) | cf | af | of
}

/// Flags of `a - b - borrow` (SUB, SBB, CMP, NEG, DEC without CF).
#[inline(always)]
pub(crate) fn sub(size: u32, a: u32, b: u32, borrow: u32, r: u32) -> u32 {
    let m = mask(size);
    let cf = u32::from(u64::from(a & m) < u64::from(b & m) + u64::from(borrow));
    let af = (a ^ b ^ r) & AF;
    let of = (((a ^ b) & (a ^ r)) >> (size * 8 - 1) & 1) << 11;
    szp(size, r) | cf | af | of
}

/// Flags of a logical operation: CF = OF = 0, AF = 0 (undefined; the host clears it).
#[inline(always)]
pub(crate) fn logic(size: u32, r: u32) -> u32 {
    szp(size, r)
}

/// Status flags of the last fast-form ALU instruction, computed only when something
/// reads EFLAGS (lazy flags). Only fast forms (`fast.rs`) leave flags pending, and the
/// run loop folds them into EFLAGS ([`Core::settle_flags`]) before any other code can see
/// EFLAGS: at the end of a block of fast forms, before an exception is raised, and after
/// every fast form run by the general loop. The result is bit for bit what computing them
/// eagerly gives: the same functions of the same operands, applied later.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lazy {
    /// What is pending: one of the `lazy::*` kinds.
    pub op: u8,
    pub a: u32,
    pub b: u32,
    /// Carry (ADD) or borrow (SUB) in; for INC and DEC, the CF they keep.
    pub carry: u32,
    pub r: u32,
}

/// Kinds of [`Lazy`].
pub(crate) mod lazy {
    /// Nothing pending: EFLAGS is current.
    pub const NONE: u8 = 0;
    /// `flags::add(4, a, b, carry, r)` into every status flag.
    pub const ADD: u8 = 1;
    /// `flags::sub(4, a, b, carry, r)` into every status flag.
    pub const SUB: u8 = 2;
    /// `flags::logic(4, r)` into every status flag.
    pub const LOGIC: u8 = 3;
    /// INC: `flags::add(4, a, 1, 0, r)` into the status flags but CF, which is `carry`.
    pub const INC: u8 = 4;
    /// DEC: `flags::sub(4, a, 1, 0, r)` into the status flags but CF, which is `carry`.
    pub const DEC: u8 = 5;
    /// SHL/SAL `a` by `b` (1-31) giving `r`: [`super::shift32_flags`] into every status
    /// flag. Likewise SHR and SAR.
    pub const SHL: u8 = 6;
    pub const SHR: u8 = 7;
    pub const SAR: u8 = 8;
}

/// CF and OF (as EFLAGS bits) of a 32-bit SHL/SHR/SAR of `v` by `count` (1-31), as the
/// shift family computes them (`shift.rs` policy): CF is the last bit shifted out, OF
/// comes from the first one-bit step on the original operand.
#[inline(always)]
pub(crate) fn shift32_cf_of(kind: u8, v: u32, count: u32) -> (u32, u32) {
    let top = v >> 31;
    match kind {
        lazy::SHL => ((v >> (32 - count)) & 1, top ^ ((v >> 30) & 1)),
        lazy::SHR => ((v >> (count - 1)) & 1, top),
        _ => ((((v as i32) >> (count - 1)) as u32) & 1, 0),
    }
}

/// Status flags of a 32-bit SHL/SHR/SAR (`kind` one of the `lazy` shift kinds) of `v` by
/// `count` (1-31) with result `r`; AF as the shift policy sets it.
#[inline(always)]
pub(crate) fn shift32_flags(kind: u8, v: u32, count: u32, r: u32) -> u32 {
    let (cf, of) = shift32_cf_of(kind, v, count);
    cf | (of << 11) | szp(4, r) | super::shift::policy::shift_af()
}

impl Lazy {
    pub const NONE: Lazy = Lazy {
        op: lazy::NONE,
        a: 0,
        b: 0,
        carry: 0,
        r: 0,
    };
}

impl Core {
    /// Folds pending lazy flags into EFLAGS (see [`Lazy`]).
    #[inline(always)]
    pub(crate) fn settle_flags(&mut self) {
        if self.lazy.op != lazy::NONE {
            self.settle_pending();
        }
    }

    #[inline(never)]
    fn settle_pending(&mut self) {
        self.regs.eflags = Eflags::from_bits_retain(self.flags_now());
        self.lazy.op = lazy::NONE;
    }

    /// EFLAGS with the pending flags applied (EFLAGS itself unchanged).
    #[inline(always)]
    pub(crate) fn flags_now(&self) -> u32 {
        let e = self.regs.eflags.bits();
        let l = &self.lazy;
        let f = match l.op {
            lazy::NONE => return e,
            lazy::ADD => add(4, l.a, l.b, l.carry, l.r),
            lazy::SUB => sub(4, l.a, l.b, l.carry, l.r),
            lazy::INC => (add(4, l.a, 1, 0, l.r) & !CF) | l.carry,
            lazy::DEC => (sub(4, l.a, 1, 0, l.r) & !CF) | l.carry,
            lazy::SHL | lazy::SHR | lazy::SAR => shift32_flags(l.op, l.a, l.b, l.r),
            _ => logic(4, l.r),
        };
        (e & !STATUS) | (f & STATUS)
    }

    /// CF (0/1) with the pending flags applied.
    #[inline(always)]
    pub(crate) fn cf_now(&self) -> u32 {
        let l = &self.lazy;
        match l.op {
            lazy::NONE => self.cf(),
            lazy::ADD => u32::from(
                u64::from(l.a) + u64::from(l.b) + u64::from(l.carry) > u64::from(u32::MAX),
            ),
            lazy::SUB => u32::from(u64::from(l.a) < u64::from(l.b) + u64::from(l.carry)),
            lazy::INC | lazy::DEC => l.carry,
            lazy::SHL | lazy::SHR | lazy::SAR => shift32_cf_of(l.op, l.a, l.b).0,
            _ => 0,
        }
    }

    /// Evaluates condition `cc` with the pending flags applied, computing only the flags
    /// it reads (the same values [`Self::flags_now`] gives; PF takes the full path).
    #[inline(always)]
    pub(crate) fn condition_now(&self, cc: iced_x86::ConditionCode) -> bool {
        use iced_x86::ConditionCode as C;
        let l = &self.lazy;
        if l.op == lazy::NONE || matches!(cc, C::p | C::np) {
            return condition_on(self.flags_now(), cc);
        }
        let c = || self.cf_now() != 0;
        let z = || l.r == 0;
        let s = || (l.r as i32) < 0;
        let o = || match l.op {
            lazy::ADD => ((l.a ^ l.r) & (l.b ^ l.r)) >> 31 != 0,
            lazy::SUB => ((l.a ^ l.b) & (l.a ^ l.r)) >> 31 != 0,
            lazy::INC => l.r == 0x8000_0000,
            lazy::DEC => l.r == 0x7FFF_FFFF,
            lazy::SHL | lazy::SHR | lazy::SAR => shift32_cf_of(l.op, l.a, l.b).1 != 0,
            _ => false,
        };
        match cc {
            C::o => o(),
            C::no => !o(),
            C::b => c(),
            C::ae => !c(),
            C::e => z(),
            C::ne => !z(),
            C::be => c() || z(),
            C::a => !c() && !z(),
            C::s => s(),
            C::ns => !s(),
            C::l => s() != o(),
            C::ge => s() == o(),
            C::le => z() || s() != o(),
            C::g => !z() && s() == o(),
            C::p | C::np | C::None => condition_on(self.flags_now(), cc),
        }
    }

    /// Replaces the flags in `which` with those in `f`.
    #[inline(always)]
    pub(crate) fn set_flags(&mut self, which: u32, f: u32) {
        let e = self.regs.eflags.bits();
        self.regs.eflags = Eflags::from_bits_retain((e & !which) | (f & which));
    }

    /// Current CF as 0/1.
    #[inline(always)]
    pub(crate) fn cf(&self) -> u32 {
        self.regs.eflags.bits() & CF
    }

    /// Tests a flag.
    #[inline(always)]
    pub(crate) fn flag(&self, f: u32) -> bool {
        self.regs.eflags.bits() & f != 0
    }

    /// Evaluates a condition code (SDM Vol. 1 Appendix B, low 4 bits of Jcc/SETcc/CMOVcc).
    #[inline(always)]
    pub(crate) fn condition(&self, cc: iced_x86::ConditionCode) -> bool {
        condition_on(self.regs.eflags.bits(), cc)
    }
}

/// Evaluates a condition code on the EFLAGS value `e`.
#[inline(always)]
pub(crate) fn condition_on(e: u32, cc: iced_x86::ConditionCode) -> bool {
    use iced_x86::ConditionCode as C;
    let (c, z, s, o, p) = (
        e & CF != 0,
        e & ZF != 0,
        e & SF != 0,
        e & OF != 0,
        e & PF != 0,
    );
    match cc {
        C::o => o,
        C::no => !o,
        C::b => c,
        C::ae => !c,
        C::e => z,
        C::ne => !z,
        C::be => c || z,
        C::a => !c && !z,
        C::s => s,
        C::ns => !s,
        C::p => p,
        C::np => !p,
        C::l => s != o,
        C::ge => s == o,
        C::le => z || s != o,
        C::g => !z && s == o,
        C::None => true,
    }
}
