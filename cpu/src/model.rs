//! CPU models: identification (CPUID) and the cycle-cost table.
//!
//! The default model is a P6-family Core Duo T2400 "Yonah" (family 6, model 14, stepping 8),
//! the part Bochs 2.7 calls `core_duo_t2400_yonah`. x87/SSE are not modelled yet, so the
//! CPUID feature bits for them are clear: software sees a CPU without an FPU (CR0.EM
//! behaviour of SDM Vol. 3 §2.5 applies: ESC instructions raise #NM when EM or TS is set,
//! #UD is raised for SSE).

/// One CPUID leaf's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuidLeaf {
    pub eax: u32,
    pub ebx: u32,
    pub ecx: u32,
    pub edx: u32,
}

/// Instruction cost classes; one cost per class per model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CostClass {
    /// Simple ALU, MOV, LEA, flag ops, register PUSH/POP.
    Simple,
    /// Taken or not-taken branch, near CALL/RET.
    Branch,
    /// Shift/rotate by CL, SHLD/SHRD, bit-scan, BSWAP, XCHG reg.
    Shift,
    /// Multiply.
    Mul,
    /// Divide.
    Div,
    /// BCD adjust, XLAT, LAHF/SAHF, CBW-family.
    Microcoded,
    /// One iteration of a string instruction.
    String,
    /// Far transfer, INT/IRET, segment-register load in protected mode.
    Far,
    /// Serialising/system: CPUID, MOV CRn, LGDT, WRMSR, IN/OUT, HLT.
    System,
}

/// Number of cost classes.
pub const COST_CLASSES: usize = 9;

/// A CPU model: what CPUID reports and what each instruction class costs.
#[derive(Clone, Debug)]
pub struct CpuModel {
    pub name: &'static str,
    /// CPUID.1:EAX, also EDX at reset (SDM Vol. 3 §9.1.4).
    pub signature: u32,
    /// Cycles per cost class.
    pub costs: [u16; COST_CLASSES],
    /// Extra cycles for an instruction with a memory operand (an L1 hit).
    pub mem_cost: u16,
    /// Core clock in Hz: converts cycles to the board's time (the interval timer).
    pub clock_hz: u64,
    /// Cycles per paging-structure entry read by a page walk, charged on each TLB miss
    /// (with paging on) for every entry the walk reads from memory (2 for a 4 KiB page,
    /// 1 for a 4 MiB or 2 MiB page; PAE's PDPTEs are registers, not read).
    pub walk_read_cost: u16,
    vendor: [u32; 3],
    features_edx: u32,
    features_ecx: u32,
    /// CPUID.80000001H:EDX.
    ext_features_edx: u32,
}

/// CPUID.80000001H:EDX bits (SDM Vol. 2 CPUID, Table 3-8).
pub mod ext_feature_edx {
    /// Execute-disable bit (IA32_EFER.NXE and bit 63 of PAE paging entries).
    pub const NX: u32 = 1 << 20;
}

/// CPUID.1:EDX bits this model reports (SDM Vol. 2 CPUID, Table 3-11).
pub mod feature_edx {
    pub const VME: u32 = 1 << 1;
    pub const DE: u32 = 1 << 2;
    pub const PSE: u32 = 1 << 3;
    pub const TSC: u32 = 1 << 4;
    pub const MSR: u32 = 1 << 5;
    pub const PAE: u32 = 1 << 6;
    pub const CX8: u32 = 1 << 8;
    pub const SEP: u32 = 1 << 11;
    pub const PGE: u32 = 1 << 13;
    pub const CMOV: u32 = 1 << 15;
}

impl CpuModel {
    /// Core Duo T2400 "Yonah" without x87/SSE. Costs are latencies for the Pentium M /
    /// Core Solo / Core Duo family from Agner Fog's "Instruction tables" (Intel Pentium M
    /// section), rounded to whole cycles; string iterations and far transfers from the same
    /// tables' microcoded entries.
    pub fn yonah() -> Self {
        use feature_edx::*;
        Self {
            name: "yonah",
            signature: 0x0000_06E8,
            costs: [1, 1, 1, 4, 23, 4, 2, 30, 60],
            mem_cost: 2,
            // The T2400 runs at 1.83 GHz (Intel Core Duo T2400 specification).
            clock_hz: 1_833_000_000,
            // A walk's entry reads are dependent loads that the page-miss handler issues
            // one after the other (SDM Vol. 3 §4.3/§4.4: PDE then PTE); each is charged as
            // one L1 data-cache hit, the load-to-use latency of the P6 family including
            // Pentium M and Core Duo: 3 cycles (Agner Fog, "The microarchitecture of Intel,
            // AMD and VIA CPUs", Pentium M chapter, level-1 data cache).
            walk_read_cost: 3,
            // "GenuineIntel" as EBX, EDX, ECX.
            vendor: [0x756E_6547, 0x4965_6E69, 0x6C65_746E],
            features_edx: VME | DE | PSE | TSC | MSR | PAE | CX8 | SEP | PGE | CMOV,
            features_ecx: 0,
            // The T2400 has the execute-disable bit (as Bochs's core_duo_t2400_yonah).
            ext_features_edx: ext_feature_edx::NX,
        }
    }

    /// CPUID output for leaf `eax` (subleaf `ecx` unused on this model).
    pub fn cpuid(&self, eax: u32, _ecx: u32) -> CpuidLeaf {
        const MAX_BASIC: u32 = 1;
        const MAX_EXT: u32 = 0x8000_0004;
        match eax {
            0 => CpuidLeaf {
                eax: MAX_BASIC,
                ebx: self.vendor[0],
                edx: self.vendor[1],
                ecx: self.vendor[2],
            },
            1 => CpuidLeaf {
                eax: self.signature,
                ebx: 0x0001_0800,
                ecx: self.features_ecx,
                edx: self.features_edx,
            },
            0x8000_0000 => CpuidLeaf {
                eax: MAX_EXT,
                ebx: 0,
                ecx: 0,
                edx: 0,
            },
            0x8000_0001 => CpuidLeaf {
                eax: 0,
                ebx: 0,
                ecx: 0,
                edx: self.ext_features_edx,
            },
            0x8000_0002..=0x8000_0004 => {
                let brand = *b"vtx32 IA-32 Core Duo (Yonah)\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
                let i = ((eax - 0x8000_0002) * 16) as usize;
                let d = |k: usize| {
                    u32::from_le_bytes([
                        brand[i + k],
                        brand[i + k + 1],
                        brand[i + k + 2],
                        brand[i + k + 3],
                    ])
                };
                CpuidLeaf {
                    eax: d(0),
                    ebx: d(4),
                    ecx: d(8),
                    edx: d(12),
                }
            }
            // SDM: a leaf above the maximum returns the highest basic leaf's data.
            _ if eax > MAX_EXT || (MAX_BASIC < eax && eax < 0x8000_0000) => {
                self.cpuid(MAX_BASIC, 0)
            }
            _ => CpuidLeaf {
                eax: 0,
                ebx: 0,
                ecx: 0,
                edx: 0,
            },
        }
    }

    /// Whether CPUID.80000001H:EDX reports `bit`.
    pub fn has_ext(&self, bit: u32) -> bool {
        self.ext_features_edx & bit != 0
    }

    /// Whether CPUID.1:EDX reports `bit`.
    pub fn has(&self, bit: u32) -> bool {
        self.features_edx & bit != 0
    }

    /// Cycles for one instruction of `class`, plus the memory-operand cost.
    #[inline]
    pub fn cost(&self, class: CostClass, has_mem: bool) -> u16 {
        self.costs[class as usize] + if has_mem { self.mem_cost } else { 0 }
    }
}
