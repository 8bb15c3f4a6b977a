//! Random [`Case`] generators, one per [`Family`].
//!
//! Generation is a pure function of `(family, seed)` ([`generate`]), driven
//! by a small SplitMix64 generator, so a failing case is reproducible from
//! its seed alone. [`arb_case`] and [`arb_any_case`] wrap it as proptest
//! strategies.
//!
//! Each generator draws prefixes (operand size 0x66, address size 0x67,
//! CS/SS/DS/ES segment overrides, LOCK, REP/REPNE where meaningful), an
//! opcode, a ModRM operand (every 32-bit form incl. SIB and every 16-bit
//! form) and immediates, then adjusts registers so that memory operands
//! usually land in the data (or stack) page; sometimes they do not, which
//! must give #PF on both sides. Every generated instruction is checked with
//! iced's decoder (except the ones meant to be invalid, i.e. #UD cases),
//! must be at most 15 bytes long, and direct branch targets never land
//! inside the instruction itself (no infinite loops). Branches only ever
//! target the code page or unmapped memory, never the data/stack pages.
#![warn(missing_docs)]

use crate::case::{
    flags, Case, Family, CODE_BASE, CODE_SIZE, DATA_BASE, DATA_SIZE, ESP, INSN_ADDR, MAX_INSN_LEN,
    STACK_BASE, STACK_SIZE,
};
use iced_x86::{Decoder, DecoderOptions, OpKind};
use proptest::prelude::*;

/// Proptest strategy producing cases of one family.
pub fn arb_case(family: Family) -> impl Strategy<Value = Case> {
    any::<u64>().prop_map(move |seed| generate(family, seed))
}

/// Proptest strategy producing cases of any family (uniformly).
pub fn arb_any_case() -> impl Strategy<Value = Case> {
    (0..Family::ALL.len(), any::<u64>()).prop_map(|(f, seed)| generate(Family::ALL[f], seed))
}

/// Deterministically generates a case of `family` from `seed`.
pub fn generate(family: Family, seed: u64) -> Case {
    let mut g = Rng::new(seed);
    // A generator may reject its draw (decoder mismatch, too long, branch
    // into itself); redraw with the same stream until one is accepted.
    for _ in 0..1000 {
        let mut b = Builder::new(&mut g, family);
        b.family_body();
        if let Some(case) = b.finish() {
            return case;
        }
    }
    // Unreachable in practice: every family accepts most of its draws.
    Case {
        insn: vec![0x90],
        gpr: [0, 0, 0, 0, STACK_BASE + 0x800, 0, 0, 0],
        eflags: 0,
        data: vec![0; DATA_SIZE as usize],
        stack: vec![0; STACK_SIZE as usize],
        family,
    }
}

/// SplitMix64: tiny, fast, deterministic.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Creates a generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Next 32 random bits.
    pub fn u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.u32()) * u64::from(n)) >> 32) as u32
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u32, den: u32) -> bool {
        self.below(den) < num
    }

    /// A random element of `xs` (non-empty).
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u32) as usize]
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Values that exercise edge cases of arithmetic.
const INTERESTING: [u32; 20] = [
    0,
    1,
    2,
    3,
    7,
    8,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0x8000_0001,
    0xffff_fffe,
    0xffff_ffff,
    0x1234_5678,
];

/// Register numbers (ModRM encoding order).
const EAX: u8 = 0;
const ECX: u8 = 1;
const EDX: u8 = 2;
const EBX: u8 = 3;
const EBP: u8 = 5;
const ESI: u8 = 6;
const EDI: u8 = 7;

/// Operand size of an instruction being built.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Size {
    B,
    W,
    D,
}

impl Size {
    fn bytes(self) -> u32 {
        match self {
            Size::B => 1,
            Size::W => 2,
            Size::D => 4,
        }
    }
}

/// Where a memory operand ended up, for generators that want to place
/// data there.
#[derive(Clone, Copy, Debug)]
struct MemRef {
    /// Effective address computed from the final register values (32-bit
    /// addressing) or the 16-bit effective address.
    ea: u32,
}

struct Builder<'a> {
    g: &'a mut Rng,
    family: Family,
    gpr: [u32; 8],
    /// Registers whose value a generator fixed (bit per register).
    locked: u8,
    eflags: u32,
    data: Vec<u8>,
    stack: Vec<u8>,
    prefixes: Vec<u8>,
    body: Vec<u8>,
    /// 0x67 prefix present: 16-bit addressing.
    addr16: bool,
    /// The instruction is meant to be invalid (#UD): skip decoder checks.
    expect_invalid: bool,
    /// Memory operand placed by `modrm_mem` (for fix-ups after `finish`).
    mem: Option<MemRef>,
    /// Register values must be recomputed for the memory operand at the
    /// end (a later generator step changed a register it uses).
    pending_mem: Option<PendingMem>,
}

/// A 32-bit memory operand whose registers are solved at the end.
#[derive(Clone, Copy, Debug)]
struct PendingMem {
    base: Option<u8>,
    index: Option<(u8, u32)>,
    disp: i32,
    /// Offset of the disp32 in `body`, when the form has one.
    disp32_at: Option<usize>,
    want: Option<u32>,
}

impl<'a> Builder<'a> {
    fn new(g: &'a mut Rng, family: Family) -> Self {
        let mut gpr = [0u32; 8];
        for (i, r) in gpr.iter_mut().enumerate() {
            *r = if i == ESP {
                stack_pointer(g)
            } else {
                match g.below(10) {
                    0..=3 => DATA_BASE + g.below(DATA_SIZE),
                    4..=6 => g.pick(&INTERESTING),
                    7 => g.below(16),
                    8 if i == EBP as usize => STACK_BASE + g.below(STACK_SIZE),
                    _ => g.u32(),
                }
            };
        }
        let mut eflags = g.u32() & flags::ARITH;
        if g.chance(1, 5) {
            eflags |= flags::DF;
        }
        let mut data = vec![0u8; DATA_SIZE as usize];
        let mut stack = vec![0u8; STACK_SIZE as usize];
        g.fill(&mut data);
        g.fill(&mut stack);
        Builder {
            g,
            family,
            gpr,
            locked: 1 << ESP,
            eflags,
            data,
            stack,
            prefixes: Vec::new(),
            body: Vec::new(),
            addr16: false,
            expect_invalid: false,
            mem: None,
            pending_mem: None,
        }
    }

    // ----- helpers -----------------------------------------------------

    fn set(&mut self, r: u8, v: u32) {
        self.gpr[r as usize] = v;
        self.locked |= 1 << r;
    }

    fn is_locked(&self, r: u8) -> bool {
        self.locked & (1 << r) != 0
    }

    /// Random operand size; `byte` allows 8-bit.
    fn size(&mut self, byte: bool) -> Size {
        let s = match self.g.below(if byte { 3 } else { 2 }) {
            0 => Size::D,
            1 => Size::W,
            _ => Size::B,
        };
        if s == Size::W {
            self.prefixes.push(0x66);
        }
        s
    }

    /// Maybe add a segment override (CS/SS/DS/ES) and/or an address-size
    /// prefix; call before building a memory operand.
    fn mem_prefixes(&mut self) {
        if self.g.chance(1, 8) {
            let p = self.g.pick(&[0x2E, 0x36, 0x3E, 0x26]);
            self.prefixes.push(p);
        }
        if self.g.chance(1, 12) {
            self.prefixes.push(0x67);
            self.addr16 = true;
        }
    }

    fn imm(&mut self, s: Size) {
        let v = match self.g.below(4) {
            0 => self.g.pick(&INTERESTING),
            1 => self.g.below(16),
            _ => self.g.u32(),
        };
        self.imm_val(s, v);
    }

    fn imm_val(&mut self, s: Size, v: u32) {
        let bytes = v.to_le_bytes();
        self.body.extend_from_slice(&bytes[..s.bytes() as usize]);
    }

    fn imm8(&mut self) -> u8 {
        let v = match self.g.below(3) {
            0 => self.g.pick(&INTERESTING) as u8,
            _ => self.g.u32() as u8,
        };
        self.body.push(v);
        v
    }

    /// A desired effective address: usually inside the data area, with
    /// room for an 8-byte access; sometimes across its end; sometimes in
    /// the stack page.
    fn want_ea(&mut self) -> Option<u32> {
        match self.g.below(40) {
            0 => None,
            1 => Some(DATA_BASE + DATA_SIZE - 1 - self.g.below(7)),
            2 => Some(DATA_BASE + 0x1000 - 1 - self.g.below(7)),
            3 | 4 => Some(STACK_BASE + self.g.below(STACK_SIZE - 8)),
            _ => Some(DATA_BASE + self.g.below(DATA_SIZE - 8)),
        }
    }

    /// ModRM with a register operand in r/m.
    fn modrm_reg(&mut self, reg: u8, rm: u8) {
        self.body.push(0xC0 | (reg << 3) | rm);
    }

    /// ModRM (+SIB +disp) with a memory operand in r/m.
    fn modrm_mem(&mut self, reg: u8) {
        if self.addr16 {
            self.modrm_mem16(reg);
        } else {
            self.modrm_mem32(reg);
        }
    }

    /// Either form: memory with probability `mem_num/4`.
    fn modrm_any(&mut self, reg: u8, mem_num: u32) -> bool {
        if self.g.chance(mem_num, 4) {
            self.modrm_mem(reg);
            true
        } else {
            let rm = self.g.below(8) as u8;
            self.modrm_reg(reg, rm);
            false
        }
    }

    fn modrm_mem16(&mut self, reg: u8) {
        let md = self.g.below(3) as u8;
        let rm = self.g.below(8) as u8;
        self.body.push((md << 6) | (reg << 3) | rm);
        let disp: u32 = match (md, rm) {
            (0, 6) => {
                let d = self.g.u32() & 0xffff;
                self.body.extend_from_slice(&(d as u16).to_le_bytes());
                d
            }
            (1, _) => {
                let d = self.g.u32() as u8;
                self.body.push(d);
                d as i8 as i32 as u32
            }
            (2, _) => {
                let d = self.g.u32() & 0xffff;
                self.body.extend_from_slice(&(d as u16).to_le_bytes());
                d
            }
            _ => 0,
        };
        let r = |b: &Self, i: u8| b.gpr[i as usize] & 0xffff;
        let base = match rm {
            0 => r(self, EBX) + r(self, ESI),
            1 => r(self, EBX) + r(self, EDI),
            2 => r(self, EBP) + r(self, ESI),
            3 => r(self, EBP) + r(self, EDI),
            4 => r(self, ESI),
            5 => r(self, EDI),
            6 if md == 0 => 0,
            6 => r(self, EBP),
            _ => r(self, EBX),
        };
        self.mem = Some(MemRef {
            ea: base.wrapping_add(disp) & 0xffff,
        });
    }

    fn modrm_mem32(&mut self, reg: u8) {
        let md = self.g.below(3) as u8;
        let rm = self.g.below(8) as u8;
        self.body.push((md << 6) | (reg << 3) | rm);
        let mut base = Some(rm);
        let mut index = None;
        let mut disp32_at = None;
        if rm == 4 {
            let scale = self.g.below(4) as u8;
            let idx = self.g.below(8) as u8;
            let b = self.g.below(8) as u8;
            self.body.push((scale << 6) | (idx << 3) | b);
            if idx != 4 {
                index = Some((idx, 1u32 << scale));
            }
            base = Some(b);
            if md == 0 && b == 5 {
                base = None;
                disp32_at = Some(self.body.len());
            }
        } else if md == 0 && rm == 5 {
            base = None;
            disp32_at = Some(self.body.len());
        }
        let disp: i32 = if md == 1 {
            let d = self.g.u32() as u8;
            self.body.push(d);
            d as i8 as i32
        } else if md == 2 || disp32_at.is_some() {
            if disp32_at.is_none() {
                disp32_at = Some(self.body.len());
            }
            let d = match self.g.below(3) {
                0 => self.g.u32() as i32,
                _ => self.g.below(0x2000) as i32 - 0x1000,
            };
            self.body.extend_from_slice(&d.to_le_bytes());
            d
        } else {
            0
        };
        let want = self.want_ea();
        self.pending_mem = Some(PendingMem {
            base,
            index,
            disp,
            disp32_at,
            want,
        });
        self.solve_mem();
    }

    /// Adjusts an unlocked base/index register (or the disp32) so that the
    /// pending memory operand lands at its wanted address.
    fn solve_mem(&mut self) {
        let Some(mut pm) = self.pending_mem else {
            return;
        };
        let ea_of = |b: &Self, pm: &PendingMem| -> u32 {
            let mut ea = pm.disp as u32;
            if let Some(r) = pm.base {
                ea = ea.wrapping_add(b.gpr[r as usize]);
            }
            if let Some((r, s)) = pm.index {
                ea = ea.wrapping_add(b.gpr[r as usize].wrapping_mul(s));
            }
            ea
        };
        if let Some(want) = pm.want {
            let cur = ea_of(self, &pm);
            let delta = want.wrapping_sub(cur);
            match (pm.base, pm.index) {
                (Some(b), idx) if !self.is_locked(b) && idx.map(|(i, _)| i) != Some(b) => {
                    let v = self.gpr[b as usize].wrapping_add(delta);
                    self.set(b, v);
                }
                (_, Some((i, s))) if !self.is_locked(i) && pm.base != Some(i) => {
                    // Rounds down to a multiple of the scale: close enough.
                    let v = self.gpr[i as usize].wrapping_add(delta / s);
                    self.set(i, v);
                }
                _ => {
                    if let Some(at) = pm.disp32_at {
                        pm.disp = pm.disp.wrapping_add(delta as i32);
                        self.body[at..at + 4].copy_from_slice(&pm.disp.to_le_bytes());
                    }
                }
            }
        }
        self.mem = Some(MemRef {
            ea: ea_of(self, &pm),
        });
        self.pending_mem = Some(pm);
    }

    /// Writes `bytes` at linear address `ea` if it is inside the data area
    /// or the stack page (partially if it straddles the end).
    fn poke(&mut self, ea: u32, bytes: &[u8]) {
        for (i, &byte) in bytes.iter().enumerate() {
            let a = ea.wrapping_add(i as u32);
            if (DATA_BASE..DATA_BASE + DATA_SIZE).contains(&a) {
                self.data[(a - DATA_BASE) as usize] = byte;
            } else if (STACK_BASE..STACK_BASE + STACK_SIZE).contains(&a) {
                self.stack[(a - STACK_BASE) as usize] = byte;
            }
        }
    }

    /// Reads 4 bytes (zeros where unmapped).
    fn peek32(&self, ea: u32) -> u32 {
        let mut v = [0u8; 4];
        for (i, b) in v.iter_mut().enumerate() {
            let a = ea.wrapping_add(i as u32);
            if (DATA_BASE..DATA_BASE + DATA_SIZE).contains(&a) {
                *b = self.data[(a - DATA_BASE) as usize];
            } else if (STACK_BASE..STACK_BASE + STACK_SIZE).contains(&a) {
                *b = self.stack[(a - STACK_BASE) as usize];
            }
        }
        u32::from_le_bytes(v)
    }

    /// A branch target: usually a HLT in the code page away from the
    /// instruction, sometimes unmapped memory.
    fn branch_target(&mut self) -> u32 {
        match self.g.below(10) {
            0 => self.g.u32() & !0x00ff_ffff | 0x0100_0000, // unmapped
            1 => CODE_BASE + CODE_SIZE + self.g.below(0x100), // just past the page
            _ => loop {
                let off = self.g.below(CODE_SIZE);
                let a = CODE_BASE + off;
                if !(INSN_ADDR - 8..INSN_ADDR + 24).contains(&a) {
                    break a;
                }
            },
        }
    }

    fn maybe_lock(&mut self, is_mem: bool, num: u32) {
        if is_mem && self.g.chance(num, 8) {
            self.prefixes.push(0xF0);
        }
    }

    // ----- finishing -----------------------------------------------------

    fn finish(mut self) -> Option<Case> {
        // Shuffle the prefixes (their order is architecturally irrelevant
        // for legacy prefixes of different groups).
        for i in (1..self.prefixes.len()).rev() {
            let j = self.g.below(i as u32 + 1) as usize;
            self.prefixes.swap(i, j);
        }
        let mut insn = std::mem::take(&mut self.prefixes);
        insn.extend_from_slice(&self.body);
        if insn.is_empty() || insn.len() > MAX_INSN_LEN {
            return None;
        }
        let mut dec = Decoder::with_ip(32, &insn, u64::from(INSN_ADDR), DecoderOptions::NONE);
        let d = dec.decode();
        if !self.expect_invalid {
            if d.is_invalid() || d.len() != insn.len() {
                return None;
            }
            // Direct branches must not target the instruction itself.
            if matches!(d.op0_kind(), OpKind::NearBranch16 | OpKind::NearBranch32) {
                let t = d.near_branch_target() as u32;
                if t >= INSN_ADDR && t < INSN_ADDR + insn.len() as u32 {
                    return None;
                }
            }
        }
        Some(Case {
            insn,
            gpr: self.gpr,
            eflags: self.eflags,
            data: self.data,
            stack: self.stack,
            family: self.family,
        })
    }

    // ----- families ----------------------------------------------------

    fn family_body(&mut self) {
        match self.family {
            Family::Alu => self.alu(),
            Family::ShiftRotate => self.shift(),
            Family::Bcd => self.bcd(),
            Family::BitOps => self.bitops(),
            Family::MulDiv => self.muldiv(),
            Family::String => self.string(),
            Family::Stack => self.stack_ops(),
            Family::CondMove => self.condmove(),
            Family::Branch => self.branch(),
            Family::MovLea => self.movlea(),
            Family::Atomic => self.atomic(),
            Family::Misc => self.misc(),
            Family::Privileged => self.privileged(),
        }
    }

    fn alu(&mut self) {
        let op = self.g.below(8) as u8; // ADD OR ADC SBB AND SUB XOR CMP
        self.mem_prefixes();
        match self.g.below(12) {
            0..=3 => {
                // op r/m, r | op r, r/m (byte or full size).
                let s = self.size(true);
                let dir = self.g.below(2) as u8;
                let w = u8::from(s != Size::B);
                self.body.push(op * 8 + dir * 2 + w);
                let reg = self.g.below(8) as u8;
                let mem = self.modrm_any(reg, 2);
                self.maybe_lock(mem && dir == 0 && op != 7, 2);
            }
            4 => {
                // op AL/eAX, imm.
                let s = self.size(true);
                self.body.push(op * 8 + 4 + u8::from(s != Size::B));
                self.imm(s);
            }
            5..=7 => {
                // 80/81/82/83 /op.
                let s = self.size(true);
                let opc = match s {
                    Size::B => self.g.pick(&[0x80, 0x80, 0x82]),
                    _ => self.g.pick(&[0x81, 0x83]),
                };
                self.body.push(opc);
                let mem = self.modrm_any(op, 2);
                let isz = if opc == 0x81 { s } else { Size::B };
                self.imm(isz);
                self.maybe_lock(mem && op != 7, 2);
            }
            8 => {
                // TEST r/m, r | TEST AL/eAX, imm | F6/F7 /0 imm.
                let s = self.size(true);
                let w = u8::from(s != Size::B);
                match self.g.below(3) {
                    0 => {
                        self.body.push(0x84 + w);
                        let reg = self.g.below(8) as u8;
                        self.modrm_any(reg, 2);
                    }
                    1 => {
                        self.body.push(0xA8 + w);
                        self.imm(s);
                    }
                    _ => {
                        self.body.push(0xF6 + w);
                        self.modrm_any(0, 2);
                        self.imm(s);
                    }
                }
            }
            9 => {
                // INC/DEC r (short forms) or FE/FF /0 /1.
                let s = self.size(true);
                let sub = self.g.below(2) as u8;
                if s != Size::B && self.g.chance(1, 2) {
                    let r = self.g.below(8) as u8;
                    self.body.push(0x40 + sub * 8 + r);
                } else {
                    self.body.push(if s == Size::B { 0xFE } else { 0xFF });
                    let mem = self.modrm_any(sub, 2);
                    self.maybe_lock(mem, 2);
                }
            }
            _ => {
                // NOT /2, NEG /3.
                let s = self.size(true);
                let sub = 2 + self.g.below(2) as u8;
                self.body.push(0xF6 + u8::from(s != Size::B));
                let mem = self.modrm_any(sub, 2);
                self.maybe_lock(mem, 2);
            }
        }
    }

    fn count(&mut self) -> u8 {
        match self.g.below(6) {
            0 => self
                .g
                .pick(&[0, 1, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 255]),
            1 => 1,
            2..=3 => self.g.below(8) as u8,
            4 => self.g.below(34) as u8,
            _ => self.g.u32() as u8,
        }
    }

    fn shift(&mut self) {
        self.mem_prefixes();
        if self.g.chance(1, 4) {
            // SHLD/SHRD r/m, r, imm8|CL (16/32-bit).
            let s = self.size(false);
            let _ = s;
            let right = self.g.below(2) as u8;
            let cl = self.g.below(2) as u8;
            self.body.extend_from_slice(&[0x0F, 0xA4 + right * 8 + cl]);
            let reg = self.g.below(8) as u8;
            self.modrm_any(reg, 1);
            if cl == 0 {
                let c = self.count();
                self.body.push(c);
            } else {
                let c = self.count();
                let v = (self.gpr[ECX as usize] & !0xff) | u32::from(c);
                self.set(ECX, v);
                self.solve_mem();
            }
            return;
        }
        let s = self.size(true);
        let w = u8::from(s != Size::B);
        let mut sub = self.g.below(7) as u8; // ROL ROR RCL RCR SHL SHR (SAL=/6 skipped)
        if sub == 6 {
            sub = 7; // SAR
        }
        match self.g.below(3) {
            0 => {
                self.body.push(0xC0 + w);
                self.modrm_any(sub, 1);
                let c = self.count();
                self.body.push(c);
            }
            1 => {
                self.body.push(0xD0 + w);
                self.modrm_any(sub, 1);
            }
            _ => {
                self.body.push(0xD2 + w);
                self.modrm_any(sub, 1);
                let c = self.count();
                let v = (self.gpr[ECX as usize] & !0xff) | u32::from(c);
                self.set(ECX, v);
                self.solve_mem();
            }
        }
    }

    fn bcd(&mut self) {
        let al = match self.g.below(3) {
            0 => self.g.below(0x100),
            1 => self.g.below(10) * 16 + self.g.below(10),
            _ => self.g.pick(&[
                0, 9, 0x0a, 0x0f, 0x10, 0x19, 0x99, 0x9a, 0x9f, 0xa0, 0xf9, 0xff,
            ]),
        };
        let eax = (self.gpr[EAX as usize] & !0xff) | al;
        self.set(EAX, eax);
        match self.g.below(6) {
            0 => self.body.push(0x27), // DAA
            1 => self.body.push(0x2F), // DAS
            2 => self.body.push(0x37), // AAA
            3 => self.body.push(0x3F), // AAS
            4 => {
                // AAM imm8 (0 -> #DE).
                self.body.push(0xD4);
                let b = self.g.pick(&[10, 10, 10, 0, 1, 2, 16, 0xff]);
                let b = if self.g.chance(1, 4) {
                    self.g.u32() as u8
                } else {
                    b
                };
                self.body.push(b);
            }
            _ => {
                // AAD imm8.
                self.body.push(0xD5);
                let b = self.g.pick(&[10, 10, 10, 0, 1, 16, 0xff]);
                let b = if self.g.chance(1, 4) {
                    self.g.u32() as u8
                } else {
                    b
                };
                self.body.push(b);
            }
        }
    }

    fn bitops(&mut self) {
        match self.g.below(8) {
            0..=3 => {
                // BT/BTS/BTR/BTC r/m, r.
                let s = self.size(false);
                let op = self.g.below(4) as u8;
                self.body.extend_from_slice(&[0x0F, 0xA3 + op * 8]);
                let reg = self.g.below(8) as u8;
                self.mem_prefixes();
                if self.g.chance(1, 2) {
                    // Memory form: the bit offset register moves the
                    // address by offset>>3 (signed); keep it near.
                    let off = match self.g.below(8) {
                        0 => self.g.u32(),
                        1..=3 => self.g.below(64),
                        _ => (self.g.below(0x2000) as i32 - 0x1000) as u32,
                    };
                    let off = if s == Size::W {
                        (self.gpr[reg as usize] & 0xffff_0000) | (off & 0xffff)
                    } else {
                        off
                    };
                    if reg != ESP as u8 {
                        self.set(reg, off);
                    }
                    self.modrm_mem(reg);
                    // Re-centre the operand so the *bit* address lands
                    // inside the data area.
                    if let Some(mut pm) = self.pending_mem {
                        if let Some(w) = pm.want {
                            let bitoff = if s == Size::W {
                                i32::from(self.gpr[reg as usize] as u16 as i16)
                            } else {
                                self.gpr[reg as usize] as i32
                            };
                            let byte = bitoff.div_euclid(8);
                            pm.want = Some(w.wrapping_sub(byte as u32));
                            self.pending_mem = Some(pm);
                            self.solve_mem();
                        }
                    }
                    self.maybe_lock(op != 0, 3);
                } else {
                    let rm = self.g.below(8) as u8;
                    self.modrm_reg(reg, rm);
                    if self.g.chance(1, 8) {
                        self.prefixes.push(0xF0); // LOCK on a register form: #UD
                        self.expect_invalid = true;
                    }
                }
            }
            4 => {
                // BT* r/m, imm8 (0F BA /4../7).
                self.size(false);
                self.mem_prefixes();
                let op = 4 + self.g.below(4) as u8;
                self.body.extend_from_slice(&[0x0F, 0xBA]);
                let mem = self.modrm_any(op, 2);
                self.imm8();
                self.maybe_lock(mem && op != 4, 3);
            }
            5 | 6 => {
                // BSF/BSR r, r/m (never with F3: that would be TZCNT/LZCNT).
                self.size(false);
                self.mem_prefixes();
                let op = self.g.below(2) as u8;
                self.body.extend_from_slice(&[0x0F, 0xBC + op]);
                let reg = self.g.below(8) as u8;
                let src_zero = self.g.chance(1, 5);
                if self.modrm_any(reg, 1) {
                    if src_zero {
                        if let Some(m) = self.mem {
                            self.poke(m.ea, &[0; 4]);
                        }
                    }
                } else if src_zero {
                    let rm = self.body[self.body.len() - 1] & 7;
                    if rm != ESP as u8 {
                        self.set(rm, 0);
                    }
                }
            }
            _ => {
                // BSWAP r32.
                let r = self.g.below(8) as u8;
                self.body.extend_from_slice(&[0x0F, 0xC8 + r]);
            }
        }
    }

    fn muldiv(&mut self) {
        self.mem_prefixes();
        match self.g.below(6) {
            0..=2 => {
                // F6/F7 /4 MUL /5 IMUL /6 DIV /7 IDIV.
                let s = self.size(true);
                let sub = 4 + self.g.below(4) as u8;
                self.body.push(0xF6 + u8::from(s != Size::B));
                if sub >= 6 {
                    // Shape the dividend: usually no overflow.
                    let mask = match s {
                        Size::B => 0xff,
                        Size::W => 0xffff,
                        Size::D => u32::MAX,
                    };
                    let divisor = match self.g.below(6) {
                        0 => 0,
                        1 => self.g.pick(&INTERESTING),
                        _ => self.g.u32() & mask,
                    };
                    let hi = match self.g.below(4) {
                        0 => self.g.u32(),
                        1 => 0,
                        2 => u32::MAX,
                        _ => self.g.below(divisor.max(1)),
                    };
                    match s {
                        Size::B => {
                            let ax = (self.gpr[0] & 0xffff_0000)
                                | ((hi & 0xff) << 8)
                                | (self.g.u32() & 0xff);
                            self.set(EAX, ax);
                        }
                        Size::W => {
                            let dx = (self.gpr[EDX as usize] & 0xffff_0000) | (hi & 0xffff);
                            self.set(EDX, dx);
                        }
                        Size::D => self.set(EDX, hi),
                    }
                    let mem = self.modrm_any(sub, 1);
                    if mem {
                        if let Some(m) = self.mem {
                            let b = divisor.to_le_bytes();
                            self.poke(m.ea, &b[..s.bytes() as usize]);
                        }
                    } else {
                        let rm = self.body[self.body.len() - 1] & 7;
                        let r = if s == Size::B { rm & 3 } else { rm };
                        if !self.is_locked(r) {
                            let v = if s == Size::B && rm >= 4 {
                                (self.gpr[r as usize] & !0xff00) | ((divisor & 0xff) << 8)
                            } else {
                                (self.gpr[r as usize] & !mask) | divisor
                            };
                            self.set(r, v);
                        }
                    }
                } else {
                    self.modrm_any(sub, 1);
                }
            }
            3 => {
                // IMUL r, r/m.
                self.size(false);
                self.body.extend_from_slice(&[0x0F, 0xAF]);
                let reg = self.g.below(8) as u8;
                self.modrm_any(reg, 1);
            }
            _ => {
                // IMUL r, r/m, imm8|imm16/32.
                let s = self.size(false);
                let short = self.g.chance(1, 2);
                self.body.push(if short { 0x6B } else { 0x69 });
                let reg = self.g.below(8) as u8;
                self.modrm_any(reg, 1);
                self.imm(if short { Size::B } else { s });
            }
        }
    }

    fn string(&mut self) {
        // MOVS A4, CMPS A6, STOS AA, LODS AC, SCAS AE.
        let op = self.g.pick(&[0xA4u8, 0xA6, 0xAA, 0xAC, 0xAE]);
        let s = self.size(true);
        let cmp = op == 0xA6 || op == 0xAE;
        let rep = self.g.below(3);
        if rep == 1 {
            self.prefixes.push(0xF3);
        } else if rep == 2 && cmp {
            self.prefixes.push(0xF2);
        }
        // Source segment override (ES:EDI cannot be overridden).
        if self.g.chance(1, 6) {
            let p = self.g.pick(&[0x2E, 0x36, 0x3E, 0x26]);
            self.prefixes.push(p);
        }
        if self.g.chance(1, 16) {
            self.prefixes.push(0x67);
            self.addr16 = true;
        }
        self.body.push(op + u8::from(s != Size::B));
        let count = match self.g.below(8) {
            0 => 0,
            1 => 1,
            2 => self.g.u32() & 0xffff_0000, // CX = 0 with 0x67
            _ => self.g.below(9),
        };
        if rep != 0 {
            self.set(ECX, count);
        }
        let span = s.bytes() * 10;
        let df = self.eflags & flags::DF != 0;
        let place = |b: &mut Self, r: u8| {
            let off = match b.g.below(12) {
                0 => b.g.u32(),
                1 => DATA_BASE + DATA_SIZE - b.g.below(8),
                _ if df => DATA_BASE + span + b.g.below(DATA_SIZE - 2 * span),
                _ => DATA_BASE + b.g.below(DATA_SIZE - 2 * span),
            };
            b.set(r, off);
        };
        place(self, ESI);
        place(self, EDI);
        if cmp && self.g.chance(1, 2) {
            // Make the two strings (or the accumulator and the string) equal
            // for a while so REPE has something to repeat.
            let (si, di) = (self.gpr[ESI as usize], self.gpr[EDI as usize]);
            let n = self.g.below(40);
            for i in 0..n {
                let a = if df {
                    si.wrapping_sub(i)
                } else {
                    si.wrapping_add(i)
                };
                let v = if op == 0xAE {
                    (self.gpr[EAX as usize] >> (8 * (i % s.bytes()))) as u8
                } else {
                    self.peek32(a) as u8
                };
                let d = if df {
                    di.wrapping_sub(i)
                } else {
                    di.wrapping_add(i)
                };
                self.poke(d, &[v]);
            }
        }
    }

    fn stack_ops(&mut self) {
        // Often keep EBP in the stack page for ENTER/LEAVE.
        if self.g.chance(1, 2) {
            let v = STACK_BASE + self.g.below(STACK_SIZE);
            self.set(EBP, v);
        }
        match self.g.below(16) {
            0 => {
                self.size(false);
                let r = self.g.below(8) as u8;
                self.body.push(0x50 + r);
            }
            1 => {
                self.size(false);
                let r = self.g.below(8) as u8;
                self.body.push(0x58 + r);
            }
            2 => {
                let s = self.size(false);
                if self.g.chance(1, 2) {
                    self.body.push(0x6A);
                    self.imm8();
                } else {
                    self.body.push(0x68);
                    self.imm(s);
                }
            }
            3 => {
                // PUSH r/m (FF /6).
                self.size(false);
                self.mem_prefixes();
                self.body.push(0xFF);
                self.modrm_any(6, 3);
            }
            4 => {
                // POP r/m (8F /0); the address may use ESP (computed after
                // the pop).
                self.size(false);
                self.mem_prefixes();
                self.body.push(0x8F);
                self.modrm_any(0, 3);
            }
            5 => {
                self.size(false);
                self.body.push(0x60); // PUSHA
            }
            6 => {
                self.size(false);
                self.body.push(0x61); // POPA
            }
            7 => {
                self.size(false);
                self.body.push(0x9C); // PUSHF
            }
            8 => {
                // POPF: clear TF in the popped image (no single-stepping).
                let s = self.size(false);
                self.body.push(0x9D);
                let sp = self.gpr[ESP];
                let v = self.peek32(sp) & !flags::TF;
                let v = if self.g.chance(1, 2) {
                    v & !(flags::AC | flags::NT)
                } else {
                    v
                };
                self.poke(sp, &v.to_le_bytes()[..s.bytes() as usize]);
            }
            9 | 10 => {
                // ENTER imm16, imm8.
                self.size(false);
                self.body.push(0xC8);
                let frame = match self.g.below(4) {
                    0 => 0,
                    1 => self.g.u32() & 0xffff,
                    _ => self.g.below(0x40),
                };
                self.body.extend_from_slice(&(frame as u16).to_le_bytes());
                let level = match self.g.below(6) {
                    0 => self.g.u32() as u8,
                    1 => 1,
                    _ => self.g.below(4) as u8,
                };
                self.body.push(level);
            }
            11 => {
                self.size(false);
                self.body.push(0xC9); // LEAVE
            }
            12 => {
                // PUSH CS/SS/DS/ES (0E 16 1E 06) or FS/GS (0F A0 / 0F A8).
                self.size(false);
                match self.g.below(6) {
                    0 => self.body.push(0x06),
                    1 => self.body.push(0x0E),
                    2 => self.body.push(0x16),
                    3 => self.body.push(0x1E),
                    4 => self.body.extend_from_slice(&[0x0F, 0xA0]),
                    _ => self.body.extend_from_slice(&[0x0F, 0xA8]),
                }
            }
            13 => {
                // POP ES/SS/DS (never FS/GS: they hold the host's TLS).
                let s = self.size(false);
                let op = self.g.pick(&[0x07u8, 0x17, 0x1F]);
                self.body.push(op);
                let sel = self.selector();
                let sp = self.gpr[ESP];
                let mut v = self.peek32(sp) & 0xffff_0000 | u32::from(sel);
                if s == Size::W {
                    v = u32::from(sel);
                }
                self.poke(sp, &v.to_le_bytes()[..s.bytes() as usize]);
            }
            _ => {
                // RET-free stack pointer edge cases: PUSH/POP with ESP
                // near the page ends.
                let sp = STACK_BASE + self.g.pick(&[0u32, 1, 2, 3, 4, 0xffc, 0xffe, 0x1000]);
                self.set(ESP as u8, sp);
                self.size(false);
                let op = self.g.pick(&[0x50u8, 0x58, 0x60, 0x61, 0x9C, 0xC9]);
                self.body.push(op);
            }
        }
    }

    /// A segment selector for loads into DS/ES/SS: mostly valid ones.
    fn selector(&mut self) -> u16 {
        self.g.pick(&[
            crate::case::DATA_SEL,
            crate::case::DATA_SEL,
            crate::case::DATA_SEL,
            0x23,
            0,
            0x10,
            0x18,
            0x07,
        ])
    }

    fn condmove(&mut self) {
        let cc = self.g.below(16) as u8;
        self.mem_prefixes();
        if self.g.chance(1, 2) {
            self.size(false);
            self.body.extend_from_slice(&[0x0F, 0x40 + cc]);
            let reg = self.g.below(8) as u8;
            self.modrm_any(reg, 1);
        } else {
            self.body.extend_from_slice(&[0x0F, 0x90 + cc]);
            self.modrm_any(0, 1);
        }
    }

    fn branch(&mut self) {
        match self.g.below(12) {
            0 | 1 => {
                // Jcc rel8 / JMP rel8.
                let op = if self.g.chance(1, 5) {
                    0xEB
                } else {
                    0x70 + self.g.below(16) as u8
                };
                self.body.push(op);
                self.rel8();
            }
            2 | 3 => {
                // Jcc rel32/rel16, JMP/CALL rel32/rel16.
                let o16 = self.g.chance(1, 8);
                if o16 {
                    self.prefixes.push(0x66);
                }
                match self.g.below(3) {
                    0 => self.body.push(0xE9),
                    1 => self.body.push(0xE8),
                    _ => {
                        let cc = self.g.below(16) as u8;
                        self.body.extend_from_slice(&[0x0F, 0x80 + cc]);
                    }
                }
                let target = self.branch_target();
                let len = self.prefixes.len() + self.body.len() + if o16 { 2 } else { 4 };
                let rel = target.wrapping_sub(INSN_ADDR + len as u32);
                if o16 {
                    self.body.extend_from_slice(&(rel as u16).to_le_bytes());
                } else {
                    self.body.extend_from_slice(&rel.to_le_bytes());
                }
            }
            4 => {
                // LOOP/LOOPE/LOOPNE/JECXZ (JCXZ with 0x67).
                let op = 0xE0 + self.g.below(4) as u8;
                if self.g.chance(1, 6) {
                    self.prefixes.push(0x67);
                }
                let c = match self.g.below(4) {
                    0 => 0,
                    1 => 1,
                    2 => 0x1_0000,
                    _ => self.g.pick(&INTERESTING),
                };
                self.set(ECX, c);
                self.body.push(op);
                self.rel8();
            }
            5 | 6 => {
                // RET / RET imm16 (target on the stack).
                let o16 = self.g.chance(1, 10);
                if o16 {
                    self.prefixes.push(0x66);
                }
                if self.g.chance(1, 2) {
                    self.body.push(0xC3);
                } else {
                    self.body.push(0xC2);
                    let n = if self.g.chance(1, 2) {
                        self.g.below(16) * 4
                    } else {
                        self.g.u32() & 0xffff
                    };
                    self.body.extend_from_slice(&(n as u16).to_le_bytes());
                }
                let t = self.branch_target();
                let sp = self.gpr[ESP];
                self.poke(sp, &t.to_le_bytes());
            }
            7 | 8 => {
                // JMP/CALL r32 (FF /4, FF /2).
                let sub = self.g.pick(&[2u8, 4]);
                if self.g.chance(1, 10) {
                    self.prefixes.push(0x66);
                }
                self.body.push(0xFF);
                let r = loop {
                    let r = self.g.below(8) as u8;
                    if r != ESP as u8 {
                        break r;
                    }
                };
                self.modrm_reg(sub, r);
                let t = self.branch_target();
                self.set(r, t);
            }
            _ => {
                // JMP/CALL m32 (FF /4, FF /2).
                let sub = self.g.pick(&[2u8, 4]);
                self.mem_prefixes();
                if self.g.chance(1, 10) {
                    self.prefixes.push(0x66);
                }
                self.body.push(0xFF);
                self.modrm_mem(sub);
                let t = self.branch_target();
                if let Some(m) = self.mem {
                    self.poke(m.ea, &t.to_le_bytes());
                }
            }
        }
    }

    /// Appends a rel8 whose target avoids the instruction's own bytes.
    fn rel8(&mut self) {
        let len = (self.prefixes.len() + self.body.len() + 1) as i32;
        let rel = loop {
            let r = self.g.u32() as u8 as i8 as i32;
            if r < -len || r >= 0 {
                break r;
            }
        };
        self.body.push(rel as i8 as u8);
    }

    fn movlea(&mut self) {
        match self.g.below(14) {
            0..=2 => {
                // MOV r/m, r | r, r/m (88-8B).
                self.mem_prefixes();
                let s = self.size(true);
                let dir = self.g.below(2) as u8;
                self.body.push(0x88 + dir * 2 + u8::from(s != Size::B));
                let reg = self.g.below(8) as u8;
                self.modrm_any(reg, 2);
            }
            3 => {
                // MOV r, imm (B0+r / B8+r).
                let s = self.size(true);
                let r = self.g.below(8) as u8;
                self.body
                    .push(if s == Size::B { 0xB0 + r } else { 0xB8 + r });
                self.imm(s);
            }
            4 => {
                // MOV r/m, imm (C6/C7 /0).
                self.mem_prefixes();
                let s = self.size(true);
                self.body.push(0xC6 + u8::from(s != Size::B));
                self.modrm_any(0, 2);
                self.imm(s);
            }
            5 => {
                // MOV AL/eAX <-> moffs (A0-A3).
                let s = self.size(true);
                if self.g.chance(1, 8) {
                    let p = self.g.pick(&[0x2E, 0x36, 0x3E, 0x26]);
                    self.prefixes.push(p);
                }
                let a16 = self.g.chance(1, 10);
                if a16 {
                    self.prefixes.push(0x67);
                }
                let dir = self.g.below(2) as u8;
                self.body.push(0xA0 + dir * 2 + u8::from(s != Size::B));
                let want = self.want_ea().unwrap_or_else(|| self.g.u32());
                if a16 {
                    self.body.extend_from_slice(&(want as u16).to_le_bytes());
                } else {
                    self.body.extend_from_slice(&want.to_le_bytes());
                }
            }
            6 => {
                // MOV r/m16, Sreg (8C): all six registers can be read;
                // Sreg numbers 6 and 7 do not exist (#UD).
                self.mem_prefixes();
                self.size(false);
                self.body.push(0x8C);
                let sreg = if self.g.chance(1, 20) {
                    self.expect_invalid = true;
                    6 + self.g.below(2) as u8
                } else {
                    self.g.below(6) as u8
                };
                self.modrm_any(sreg, 1);
            }
            7 => {
                // MOV Sreg, r/m16 (8E) for ES/SS/DS; CS is #UD. Never FS/GS.
                self.mem_prefixes();
                if self.g.chance(1, 4) {
                    self.prefixes.push(0x66);
                }
                let sreg = self.g.pick(&[0u8, 2, 3, 3, 1]);
                if sreg == 1 {
                    self.expect_invalid = true;
                }
                self.body.push(0x8E);
                let sel = self.selector();
                if self.modrm_any(sreg, 1) {
                    if let Some(m) = self.mem {
                        self.poke(m.ea, &sel.to_le_bytes());
                    }
                } else {
                    let rm = self.body[self.body.len() - 1] & 7;
                    if rm != ESP as u8 {
                        let v = (self.gpr[rm as usize] & 0xffff_0000) | u32::from(sel);
                        self.set(rm, v);
                    }
                }
            }
            8 => {
                // MOVZX/MOVSX r, r/m8|r/m16.
                self.mem_prefixes();
                self.size(false);
                let op = self.g.pick(&[0xB6u8, 0xB7, 0xBE, 0xBF]);
                self.body.extend_from_slice(&[0x0F, op]);
                let reg = self.g.below(8) as u8;
                self.modrm_any(reg, 2);
            }
            9..=11 => {
                // LEA r, m: every 16/32-bit addressing form; mod=3 is #UD.
                self.mem_prefixes();
                self.size(false);
                self.body.push(0x8D);
                let reg = self.g.below(8) as u8;
                if self.g.chance(1, 40) {
                    let rm = self.g.below(8) as u8;
                    self.modrm_reg(reg, rm);
                    self.expect_invalid = true;
                } else {
                    self.modrm_mem(reg);
                }
            }
            12 => {
                // XCHG r/m, r (86/87; implicitly locked).
                self.mem_prefixes();
                let s = self.size(true);
                self.body.push(0x86 + u8::from(s != Size::B));
                let reg = self.g.below(8) as u8;
                let mem = self.modrm_any(reg, 2);
                self.maybe_lock(mem, 2);
            }
            _ => {
                // XCHG eAX, r (90+r; 90 itself is NOP).
                self.size(false);
                let r = self.g.below(8) as u8;
                self.body.push(0x90 + r);
            }
        }
    }

    fn atomic(&mut self) {
        self.mem_prefixes();
        match self.g.below(5) {
            0 => {
                // XADD r/m, r.
                let s = self.size(true);
                self.body
                    .extend_from_slice(&[0x0F, 0xC0 + u8::from(s != Size::B)]);
                let reg = self.g.below(8) as u8;
                let mem = self.modrm_any(reg, 2);
                self.maybe_lock(mem, 4);
            }
            1 | 2 => {
                // CMPXCHG r/m, r; accumulator often equal to the operand.
                let s = self.size(true);
                self.body
                    .extend_from_slice(&[0x0F, 0xB0 + u8::from(s != Size::B)]);
                let reg = self.g.below(8) as u8;
                let mem = self.modrm_any(reg, 2);
                if self.g.chance(1, 2) {
                    let v = if mem {
                        self.mem.map(|m| self.peek32(m.ea))
                    } else {
                        let rm = self.body[self.body.len() - 1] & 7;
                        let r = if s == Size::B { rm & 3 } else { rm };
                        let v = self.gpr[r as usize];
                        Some(if s == Size::B && rm >= 4 { v >> 8 } else { v })
                    };
                    if let Some(v) = v {
                        let mask = match s {
                            Size::B => 0xff,
                            Size::W => 0xffff,
                            Size::D => u32::MAX,
                        };
                        let eax = (self.gpr[EAX as usize] & !mask) | (v & mask);
                        if !self.is_locked(EAX) {
                            self.set(EAX, eax);
                        }
                    }
                }
                self.maybe_lock(mem, 4);
            }
            3 => {
                // CMPXCHG8B m64 (mod=3 is #UD).
                self.body.extend_from_slice(&[0x0F, 0xC7]);
                if self.g.chance(1, 30) {
                    let rm = self.g.below(8) as u8;
                    self.modrm_reg(1, rm);
                    self.expect_invalid = true;
                    return;
                }
                self.modrm_mem(1);
                if self.g.chance(1, 2) {
                    if let Some(m) = self.mem {
                        let lo = self.peek32(m.ea);
                        let hi = self.peek32(m.ea.wrapping_add(4));
                        if !self.is_locked(EAX) {
                            self.set(EAX, lo);
                        }
                        if !self.is_locked(EDX) {
                            self.set(EDX, hi);
                        }
                    }
                }
                self.maybe_lock(true, 4);
            }
            _ => {
                // LOCKed ALU read-modify-write on memory.
                let s = self.size(true);
                let w = u8::from(s != Size::B);
                match self.g.below(3) {
                    0 => {
                        let op = self.g.below(7) as u8; // not CMP
                        self.body.push(op * 8 + w);
                        let reg = self.g.below(8) as u8;
                        self.modrm_mem(reg);
                    }
                    1 => {
                        let op = self.g.below(7) as u8;
                        self.body.push(0x80 + w);
                        self.modrm_mem(op);
                        self.imm(if w == 0 { Size::B } else { s });
                    }
                    _ => {
                        let sub = self.g.pick(&[2u8, 3]); // NOT/NEG
                        self.body.push(0xF6 + w);
                        self.modrm_mem(sub);
                    }
                }
                self.prefixes.push(0xF0);
            }
        }
    }

    fn misc(&mut self) {
        match self.g.below(18) {
            0 => self.body.push(0x9F), // LAHF
            1 => self.body.push(0x9E), // SAHF
            2 | 3 => {
                // XLAT: EBX (BX with 0x67) + AL.
                if self.g.chance(1, 6) {
                    let p = self.g.pick(&[0x2E, 0x36, 0x3E, 0x26]);
                    self.prefixes.push(p);
                }
                if self.g.chance(1, 10) {
                    self.prefixes.push(0x67);
                }
                let b = DATA_BASE + self.g.below(DATA_SIZE - 0x100);
                self.set(EBX, b);
                self.body.push(0xD7);
            }
            4 | 5 => {
                // BOUND r, m (bounds placed in memory); mod=3 is #UD.
                let s = self.size(false);
                self.mem_prefixes();
                self.body.push(0x62);
                let reg = self.g.below(8) as u8;
                if self.g.chance(1, 30) {
                    let rm = self.g.below(8) as u8;
                    self.modrm_reg(reg, rm);
                    self.expect_invalid = true;
                    return;
                }
                let idx = self.gpr[reg as usize];
                self.modrm_mem(reg);
                let idx_now = self.gpr[reg as usize];
                let _ = idx;
                let (lo, hi) = match self.g.below(4) {
                    0 => (self.g.u32(), self.g.u32()),
                    1 => (idx_now, idx_now),
                    _ => (
                        idx_now.wrapping_sub(self.g.below(3)),
                        idx_now.wrapping_add(self.g.below(3)),
                    ),
                };
                if let Some(m) = self.mem {
                    let n = s.bytes() as usize;
                    self.poke(m.ea, &lo.to_le_bytes()[..n]);
                    self.poke(m.ea.wrapping_add(n as u32), &hi.to_le_bytes()[..n]);
                }
            }
            6 => {
                self.size(false);
                self.body.push(0x98); // CBW/CWDE
            }
            7 => {
                self.size(false);
                self.body.push(0x99); // CWD/CDQ
            }
            8 => {
                let op = self.g.pick(&[0xF8u8, 0xF9, 0xF5, 0xFC, 0xFD]);
                self.body.push(op); // CLC STC CMC CLD STD
            }
            9 => self.body.push(0x90), // NOP
            10 => {
                // Multi-byte NOP 0F 1F /0 (no memory access).
                self.mem_prefixes();
                self.size(false);
                self.body.extend_from_slice(&[0x0F, 0x1F]);
                self.modrm_any(0, 3);
            }
            11 | 12 => self.body.push(0xCC), // INT3 -> #BP (trap)
            13 | 14 => {
                // INTO: #OF when OF=1.
                if self.g.chance(1, 2) {
                    self.eflags |= flags::OF;
                }
                self.body.push(0xCE);
            }
            15 => {
                // UD2.
                self.body.extend_from_slice(&[0x0F, 0x0B]);
            }
            _ => {
                // Arithmetic-flag set-up instructions with memory forms:
                // SETcc/CMC mixes are covered elsewhere; LOCK NOP is #UD.
                self.prefixes.push(0xF0);
                self.body.push(0x90);
                self.expect_invalid = true;
            }
        }
    }

    fn privileged(&mut self) {
        match self.g.below(12) {
            0 => self.body.push(0xF4), // HLT
            1 => self.body.push(0xFA), // CLI
            2 => self.body.push(0xFB), // STI
            3 => {
                // IN AL/eAX, imm8 ; OUT imm8, AL/eAX.
                let s = self.size(true);
                let out = self.g.below(2) as u8;
                self.body.push(0xE4 + out * 2 + u8::from(s != Size::B));
                self.imm8();
            }
            4 => {
                // IN/OUT with DX.
                let s = self.size(true);
                let out = self.g.below(2) as u8;
                self.body.push(0xEC + out * 2 + u8::from(s != Size::B));
            }
            5 => {
                // INS/OUTS (with or without REP).
                let s = self.size(true);
                if self.g.chance(1, 2) {
                    self.prefixes.push(0xF3);
                }
                let out = self.g.below(2) as u8;
                self.body.push(0x6C + out * 2 + u8::from(s != Size::B));
            }
            6 => {
                // Privileged system instructions: CLTS, INVD, WBINVD,
                // WRMSR, RDMSR -> #GP(0).
                let op = self.g.pick(&[0x06u8, 0x08, 0x09, 0x30, 0x32]);
                self.body.extend_from_slice(&[0x0F, op]);
            }
            7 => {
                // MOV CRn/DRn (0F 20-23) -> #GP(0) at CPL 3.
                let op = self.g.pick(&[0x20u8, 0x22, 0x21, 0x23]);
                self.body.extend_from_slice(&[0x0F, op]);
                let reg = self.g.pick(&[0u8, 2, 3, 4]);
                let reg = if op & 1 == 1 {
                    self.g.below(8) as u8
                } else {
                    reg
                };
                let rm = self.g.below(8) as u8;
                self.modrm_reg(reg, rm);
            }
            8 => {
                // LGDT/LIDT/LMSW/INVLPG (0F 01 /2 /3 /6 /7) -> #GP(0).
                self.mem_prefixes();
                let sub = self.g.pick(&[2u8, 3, 6, 7]);
                self.body.extend_from_slice(&[0x0F, 0x01]);
                if sub == 6 {
                    self.modrm_any(sub, 2);
                } else {
                    self.modrm_mem(sub);
                }
            }
            _ => {
                // LOCK on something that cannot be locked -> #UD.
                self.expect_invalid = true;
                self.prefixes.push(0xF0);
                match self.g.below(5) {
                    0 => {
                        // ALU op with a register destination.
                        let op = self.g.below(8) as u8;
                        self.body.push(op * 8 + 1);
                        let reg = self.g.below(8) as u8;
                        let rm = self.g.below(8) as u8;
                        self.modrm_reg(reg, rm);
                    }
                    1 => {
                        // MOV m, r.
                        self.body.push(0x89);
                        let reg = self.g.below(8) as u8;
                        self.modrm_mem(reg);
                    }
                    2 => {
                        // CMP m, r.
                        self.body.push(0x39);
                        let reg = self.g.below(8) as u8;
                        self.modrm_mem(reg);
                    }
                    3 => {
                        // TEST m, r.
                        self.body.push(0x85);
                        let reg = self.g.below(8) as u8;
                        self.modrm_mem(reg);
                    }
                    _ => {
                        // BT m, r (no write: not lockable).
                        self.body.extend_from_slice(&[0x0F, 0xA3]);
                        let reg = self.g.below(8) as u8;
                        self.modrm_mem(reg);
                    }
                }
            }
        }
    }
}

/// An initial ESP: usually aligned near the middle of the stack page.
fn stack_pointer(g: &mut Rng) -> u32 {
    match g.below(20) {
        0 => STACK_BASE + g.below(STACK_SIZE + 1),
        _ => STACK_BASE + 0x400 + (g.below(0x800) & !3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_generates_decodable_cases() {
        for &f in &Family::ALL {
            for seed in 0..2000 {
                let c = generate(f, seed);
                assert!(!c.insn.is_empty() && c.insn.len() <= MAX_INSN_LEN);
                assert_eq!(c.family, f);
                assert_eq!(c.data.len(), DATA_SIZE as usize);
            }
        }
    }

    /// Every instruction the brief lists is generated by its family.
    #[test]
    fn families_cover_their_instructions() {
        use iced_x86::Mnemonic::*;
        use std::collections::HashSet;
        let expected: &[(Family, &[iced_x86::Mnemonic])] = &[
            (
                Family::Alu,
                &[
                    Add, Or, Adc, Sbb, And, Sub, Xor, Cmp, Test, Inc, Dec, Neg, Not,
                ],
            ),
            (
                Family::ShiftRotate,
                &[Shl, Shr, Sar, Rol, Ror, Rcl, Rcr, Shld, Shrd],
            ),
            (Family::Bcd, &[Daa, Das, Aaa, Aas, Aam, Aad]),
            (Family::BitOps, &[Bt, Bts, Btr, Btc, Bsf, Bsr, Bswap]),
            (Family::MulDiv, &[Mul, Imul, Div, Idiv]),
            (
                Family::String,
                &[Movsb, Movsw, Movsd, Cmpsb, Scasd, Lodsb, Stosw],
            ),
            (
                Family::Stack,
                &[
                    Push, Pop, Pushad, Popad, Pusha, Popa, Enter, Leave, Pushfd, Popfd, Pushf, Popf,
                ],
            ),
            (Family::CondMove, &[Cmove, Cmovne, Cmovl, Sete, Setb, Seto]),
            (
                Family::Branch,
                &[Je, Jne, Jmp, Call, Ret, Loop, Loope, Loopne, Jecxz, Jcxz],
            ),
            (Family::MovLea, &[Mov, Movzx, Movsx, Lea, Xchg]),
            (Family::Atomic, &[Xadd, Cmpxchg, Cmpxchg8b]),
            (
                Family::Misc,
                &[
                    Lahf, Sahf, Xlatb, Bound, Cbw, Cwde, Cwd, Cdq, Clc, Stc, Cmc, Cld, Std, Nop,
                    Int3, Into, Ud2,
                ],
            ),
            (
                Family::Privileged,
                &[Hlt, Cli, Sti, In, Out, Insb, Outsd, Lgdt, Invlpg],
            ),
        ];
        for &(family, mnemonics) in expected {
            let mut seen = HashSet::new();
            let mut lock_seen = false;
            for seed in 0..20_000 {
                let c = generate(family, seed);
                let d = Decoder::with_ip(32, &c.insn, u64::from(INSN_ADDR), DecoderOptions::NONE)
                    .decode();
                seen.insert(d.mnemonic());
                lock_seen |= d.has_lock_prefix();
            }
            for m in mnemonics {
                assert!(seen.contains(m), "{family:?} never generates {m:?}");
            }
            if matches!(family, Family::Alu | Family::Atomic | Family::BitOps) {
                assert!(lock_seen, "{family:?} never generates a LOCK prefix");
            }
        }
    }

    #[test]
    fn generation_is_deterministic() {
        for &f in &Family::ALL {
            assert_eq!(generate(f, 42), generate(f, 42));
        }
    }
}
