//! Checks on the guest-state area (SDM §26.3.1). Failures are VM-entry
//! failures with exit reason 33; the qualification is given by
//! [`EntryCheck::class`] (0, or 2 for PDPTEs, 3 for NMI injection with STI
//! blocking, 4 for the VMCS link pointer).
//!
//! The guest cannot be in IA-32e mode on an IA-32 processor ("IA-32e mode
//! guest" is rejected by §26.2.4), so the IA-32e-only checks reduce to
//! their non-IA-32e form.

use super::host_state::obeys_fixed;
use super::{
    fail_if, pat_valid, EntryCheck, EntryContext, SegmentRegister, DEBUGCTL_VALID, EFER_LMA,
    EFER_LME, EFER_VALID, PERF_GLOBAL_CTRL_VALID,
};
use crate::controls::{
    PinBasedControls as Pin, SecondaryProcessorBasedControls as Proc2, VmEntryControls as Entry,
};
use crate::exit::interruption::{InterruptionInfo, InterruptionType};
use crate::fields::enc;

const CR0_PE: u64 = 1 << 0;
const CR0_PG: u64 = 1 << 31;
const CR4_PAE: u64 = 1 << 5;
const RFLAGS_TF: u32 = 1 << 8;
const RFLAGS_IF: u32 = 1 << 9;
const RFLAGS_VM: u32 = 1 << 17;
/// RFLAGS bits that must be 0 on an IA-32 processor: 31:22, 15, 5, 3.
const RFLAGS_RESERVED0: u32 = 0xFFC0_0000 | (1 << 15) | (1 << 5) | (1 << 3);
/// Access rights: unusable bit.
const AR_UNUSABLE: u32 = 1 << 16;
/// Access-rights bits 11:8 and 31:17 (reserved).
const AR_RESERVED: u32 = 0xF00 | 0xFFFE_0000;
/// Interruptibility state bits.
const BLOCKING_BY_STI: u32 = 1 << 0;
const BLOCKING_BY_MOV_SS: u32 = 1 << 1;
const BLOCKING_BY_SMI: u32 = 1 << 2;
const BLOCKING_BY_NMI: u32 = 1 << 3;
/// Pending debug exceptions: reserved bits 11:4, 13, 31:15 (RTM bit 16 is
/// reserved because the models have no RTM).
const PENDING_DEBUG_RESERVED: u64 = 0xFF0 | (1 << 13) | 0xFFFF_8000;
const PENDING_DEBUG_BS: u64 = 1 << 14;
/// Activity states.
const ACTIVITY_ACTIVE: u32 = 0;
const ACTIVITY_HLT: u32 = 1;
const ACTIVITY_SHUTDOWN: u32 = 2;
const ACTIVITY_WAIT_FOR_SIPI: u32 = 3;

/// Runs §26.3.1.1-26.3.1.6 in order.
pub fn check(ctx: &EntryContext<'_>) -> Result<(), EntryCheck> {
    control_registers(ctx)?;
    segment_registers(ctx)?;
    descriptor_tables(ctx)?;
    rip_and_rflags(ctx)?;
    non_register_state(ctx)?;
    pdptes(ctx)
}

fn unrestricted(ctx: &EntryContext<'_>) -> bool {
    ctx.secondary().contains(Proc2::UNRESTRICTED_GUEST)
}

fn injected(ctx: &EntryContext<'_>) -> Option<InterruptionInfo> {
    let info = InterruptionInfo::decode(ctx.get32(enc::VM_ENTRY_INTERRUPTION_INFORMATION));
    info.valid.then_some(info)
}

fn injecting(ctx: &EntryContext<'_>, kind: InterruptionType) -> bool {
    injected(ctx).is_some_and(|i| i.kind == kind)
}

/// §26.3.1.1 Checks on guest control registers, debug registers and MSRs.
pub fn control_registers(ctx: &EntryContext<'_>) -> Result<(), EntryCheck> {
    let caps = ctx.caps;
    let entry = ctx.entry();
    let cr0 = ctx.get(enc::GUEST_CR0);
    // §26.3.1.1: CR0 fixed bits; PE and PG are exempt from FIXED0 with
    // "unrestricted guest".
    let fixed0 = if unrestricted(ctx) {
        caps.cr0_fixed0 & !(CR0_PE | CR0_PG)
    } else {
        caps.cr0_fixed0
    };
    fail_if(
        !obeys_fixed(cr0, fixed0, caps.cr0_fixed1),
        EntryCheck::GuestCr0Fixed,
    )?;
    // §26.3.1.1: CR0.PG = 1 requires CR0.PE = 1.
    fail_if(
        cr0 & CR0_PG != 0 && cr0 & CR0_PE == 0,
        EntryCheck::GuestCr0PgWithoutPe,
    )?;
    // §26.3.1.1: CR4 fixed bits.
    fail_if(
        !obeys_fixed(ctx.get(enc::GUEST_CR4), caps.cr4_fixed0, caps.cr4_fixed1),
        EntryCheck::GuestCr4Fixed,
    )?;
    // §26.3.1.1: IA32_DEBUGCTL reserved bits (if "load debug controls").
    if entry.contains(Entry::LOAD_DEBUG_CONTROLS) {
        fail_if(
            ctx.get(enc::GUEST_IA32_DEBUGCTL) & !DEBUGCTL_VALID != 0,
            EntryCheck::GuestDebugctlReservedBits,
        )?;
    }
    // §26.3.1.1: CR3 bits beyond the physical-address width.
    fail_if(
        ctx.get(enc::GUEST_CR3) & caps.phys_reserved_mask() != 0,
        EntryCheck::GuestCr3ReservedBits,
    )?;
    // (DR7 bits 63:32 and SYSENTER canonical checks: vacuous on IA-32.)
    // §26.3.1.1: IA32_PERF_GLOBAL_CTRL reserved bits.
    if entry.contains(Entry::LOAD_IA32_PERF_GLOBAL_CTRL) {
        fail_if(
            ctx.get(enc::GUEST_IA32_PERF_GLOBAL_CTRL) & !PERF_GLOBAL_CTRL_VALID != 0,
            EntryCheck::GuestPerfGlobalCtrlReservedBits,
        )?;
    }
    // §26.3.1.1: IA32_PAT memory types.
    if entry.contains(Entry::LOAD_IA32_PAT) {
        fail_if(
            !pat_valid(ctx.get(enc::GUEST_IA32_PAT)),
            EntryCheck::GuestPatInvalid,
        )?;
    }
    // §26.3.1.1: IA32_EFER reserved bits, LMA and LME.
    if entry.contains(Entry::LOAD_IA32_EFER) {
        let efer = ctx.get(enc::GUEST_IA32_EFER);
        let ia32e = entry.contains(Entry::IA32E_MODE_GUEST);
        fail_if(efer & !EFER_VALID != 0, EntryCheck::GuestEferReservedBits)?;
        fail_if((efer & EFER_LMA != 0) != ia32e, EntryCheck::GuestEferLma)?;
        fail_if(
            cr0 & CR0_PG != 0 && (efer & EFER_LME != 0) != ia32e,
            EntryCheck::GuestEferLme,
        )?;
    }
    Ok(())
}

/// Guest segment register fields.
#[derive(Debug, Clone, Copy)]
struct Segment {
    selector: u32,
    base: u32,
    limit: u32,
    ar: u32,
}

impl Segment {
    fn read(ctx: &EntryContext<'_>, seg: SegmentRegister) -> Self {
        Self {
            selector: ctx.get32(seg.guest_selector()),
            base: ctx.get32(seg.guest_base()),
            limit: ctx.get32(seg.guest_limit()),
            ar: ctx.get32(seg.guest_access_rights()),
        }
    }
    fn usable(&self) -> bool {
        self.ar & AR_UNUSABLE == 0
    }
    fn rpl(&self) -> u32 {
        self.selector & 3
    }
    fn kind(&self) -> u32 {
        self.ar & 0xF
    }
    fn s(&self) -> bool {
        self.ar & (1 << 4) != 0
    }
    fn dpl(&self) -> u32 {
        (self.ar >> 5) & 3
    }
    fn present(&self) -> bool {
        self.ar & (1 << 7) != 0
    }
    fn granularity_ok(&self) -> bool {
        let g = self.ar & (1 << 15) != 0;
        if g {
            self.limit & 0xFFF == 0xFFF
        } else {
            self.limit & 0xFFF0_0000 == 0
        }
    }
}

/// §26.3.1.2 Checks on guest segment registers.
pub fn segment_registers(ctx: &EntryContext<'_>) -> Result<(), EntryCheck> {
    use SegmentRegister as R;
    let rflags = ctx.get32(enc::GUEST_RFLAGS);
    let v86 = rflags & RFLAGS_VM != 0;
    let ug = unrestricted(ctx);
    let pe = ctx.get(enc::GUEST_CR0) & CR0_PE != 0;
    let cs = Segment::read(ctx, R::Cs);
    let ss = Segment::read(ctx, R::Ss);
    let tr = Segment::read(ctx, R::Tr);
    let ldtr = Segment::read(ctx, R::Ldtr);

    // Selector fields.
    // §26.3.1.2: TR TI flag must be 0.
    fail_if(tr.selector & 4 != 0, EntryCheck::GuestTrSelectorTi)?;
    // §26.3.1.2: LDTR TI flag must be 0 if LDTR is usable.
    fail_if(
        ldtr.usable() && ldtr.selector & 4 != 0,
        EntryCheck::GuestLdtrSelectorTi,
    )?;
    // §26.3.1.2: SS.RPL = CS.RPL unless virtual-8086 or unrestricted guest.
    fail_if(
        !v86 && !ug && ss.rpl() != cs.rpl(),
        EntryCheck::GuestSsSelectorRpl,
    )?;

    if v86 {
        // §26.3.1.2: virtual-8086 base = selector * 16.
        for r in R::CODE_DATA {
            let s = Segment::read(ctx, r);
            fail_if(
                s.base != s.selector << 4,
                EntryCheck::GuestSegmentBaseV86(r),
            )?;
        }
        // §26.3.1.2: virtual-8086 limit = 0000FFFFH.
        for r in R::CODE_DATA {
            let s = Segment::read(ctx, r);
            fail_if(s.limit != 0xFFFF, EntryCheck::GuestSegmentLimitV86(r))?;
        }
        // §26.3.1.2: virtual-8086 access rights = 000000F3H.
        for r in R::CODE_DATA {
            let s = Segment::read(ctx, r);
            fail_if(s.ar != 0xF3, EntryCheck::GuestSegmentAccessRightsV86(r))?;
        }
    } else {
        protected_mode_access_rights(ctx, cs, ss, ug, pe)?;
    }
    tr_access_rights(tr)?;
    ldtr_access_rights(ldtr)
}

/// Access-rights checks for CS, SS, DS, ES, FS, GS outside virtual-8086
/// mode (§26.3.1.2), sub-field by sub-field.
fn protected_mode_access_rights(
    ctx: &EntryContext<'_>,
    cs: Segment,
    ss: Segment,
    ug: bool,
    pe: bool,
) -> Result<(), EntryCheck> {
    use SegmentRegister as R;
    const DATA: [SegmentRegister; 4] = [R::Ds, R::Es, R::Fs, R::Gs];
    let all: Vec<(R, Segment)> = R::CODE_DATA
        .iter()
        .map(|&r| (r, Segment::read(ctx, r)))
        .collect();
    // CS is always checked; the others only if usable.
    let checked = |r: R, s: &Segment| r == R::Cs || s.usable();

    // Bits 3:0 (Type).
    let cs_type_ok = matches!(cs.kind(), 9 | 11 | 13 | 15) || (ug && cs.kind() == 3);
    fail_if(!cs_type_ok, EntryCheck::GuestCsAccessRightsType)?;
    fail_if(
        ss.usable() && !matches!(ss.kind(), 3 | 7),
        EntryCheck::GuestSsAccessRightsType,
    )?;
    for r in DATA {
        let s = Segment::read(ctx, r);
        let ok = s.kind() & 1 != 0 && (s.kind() & 8 == 0 || s.kind() & 2 != 0);
        fail_if(
            s.usable() && !ok,
            EntryCheck::GuestDataSegmentAccessRightsType(r),
        )?;
    }
    // Bit 4 (S).
    for (r, s) in &all {
        fail_if(
            checked(*r, s) && !s.s(),
            EntryCheck::GuestSegmentAccessRightsS(*r),
        )?;
    }
    // Bits 6:5 (DPL).
    let cs_dpl_ok = match cs.kind() {
        3 => cs.dpl() == 0,
        9 | 11 => cs.dpl() == ss.dpl(),
        13 | 15 => cs.dpl() <= ss.dpl(),
        _ => true,
    };
    fail_if(!cs_dpl_ok, EntryCheck::GuestCsAccessRightsDpl)?;
    fail_if(
        (!ug && ss.dpl() != ss.rpl()) || ((cs.kind() == 3 || !pe) && ss.dpl() != 0),
        EntryCheck::GuestSsAccessRightsDpl,
    )?;
    if !ug {
        for r in DATA {
            let s = Segment::read(ctx, r);
            fail_if(
                s.usable() && s.kind() <= 11 && s.dpl() < s.rpl(),
                EntryCheck::GuestDataSegmentAccessRightsDpl(r),
            )?;
        }
    }
    // Bit 7 (P).
    for (r, s) in &all {
        fail_if(
            checked(*r, s) && !s.present(),
            EntryCheck::GuestSegmentAccessRightsP(*r),
        )?;
    }
    // Bits 11:8 and 31:17 (reserved).
    for (r, s) in &all {
        fail_if(
            checked(*r, s) && s.ar & AR_RESERVED != 0,
            EntryCheck::GuestSegmentAccessRightsReserved(*r),
        )?;
    }
    // Bit 15 (G).
    for (r, s) in &all {
        fail_if(
            checked(*r, s) && !s.granularity_ok(),
            EntryCheck::GuestSegmentAccessRightsGranularity(*r),
        )?;
    }
    Ok(())
}

/// TR access-rights checks (§26.3.1.2).
fn tr_access_rights(tr: Segment) -> Result<(), EntryCheck> {
    use SegmentRegister as R;
    // Type 3 (16-bit busy TSS) or 11 (32-bit busy TSS).
    fail_if(
        !matches!(tr.kind(), 3 | 11),
        EntryCheck::GuestTrAccessRightsType,
    )?;
    fail_if(tr.s(), EntryCheck::GuestTrAccessRightsS)?;
    fail_if(!tr.present(), EntryCheck::GuestSegmentAccessRightsP(R::Tr))?;
    fail_if(
        tr.ar & 0xF00 != 0,
        EntryCheck::GuestSegmentAccessRightsReserved(R::Tr),
    )?;
    fail_if(
        !tr.granularity_ok(),
        EntryCheck::GuestSegmentAccessRightsGranularity(R::Tr),
    )?;
    fail_if(!tr.usable(), EntryCheck::GuestTrUnusable)?;
    fail_if(
        tr.ar & 0xFFFE_0000 != 0,
        EntryCheck::GuestSegmentAccessRightsReserved(R::Tr),
    )
}

/// LDTR access-rights checks, only if LDTR is usable (§26.3.1.2).
fn ldtr_access_rights(ldtr: Segment) -> Result<(), EntryCheck> {
    use SegmentRegister as R;
    if !ldtr.usable() {
        return Ok(());
    }
    fail_if(ldtr.kind() != 2, EntryCheck::GuestLdtrAccessRightsType)?;
    fail_if(ldtr.s(), EntryCheck::GuestLdtrAccessRightsS)?;
    fail_if(
        !ldtr.present(),
        EntryCheck::GuestSegmentAccessRightsP(R::Ldtr),
    )?;
    fail_if(
        ldtr.ar & 0xF00 != 0,
        EntryCheck::GuestSegmentAccessRightsReserved(R::Ldtr),
    )?;
    fail_if(
        !ldtr.granularity_ok(),
        EntryCheck::GuestSegmentAccessRightsGranularity(R::Ldtr),
    )?;
    fail_if(
        ldtr.ar & 0xFFFE_0000 != 0,
        EntryCheck::GuestSegmentAccessRightsReserved(R::Ldtr),
    )
}

/// §26.3.1.3 Checks on guest descriptor-table registers (base canonical
/// checks are vacuous on IA-32).
pub fn descriptor_tables(ctx: &EntryContext<'_>) -> Result<(), EntryCheck> {
    fail_if(
        ctx.get32(enc::GUEST_GDTR_LIMIT) & 0xFFFF_0000 != 0,
        EntryCheck::GuestGdtrLimitReservedBits,
    )?;
    fail_if(
        ctx.get32(enc::GUEST_IDTR_LIMIT) & 0xFFFF_0000 != 0,
        EntryCheck::GuestIdtrLimitReservedBits,
    )
}

/// §26.3.1.4 Checks on guest RIP and RFLAGS (RIP bits 63:32 are vacuous on
/// IA-32).
pub fn rip_and_rflags(ctx: &EntryContext<'_>) -> Result<(), EntryCheck> {
    let rflags = ctx.get32(enc::GUEST_RFLAGS);
    // §26.3.1.4: reserved bits 31:22, 15, 5, 3 are 0; bit 1 is 1.
    fail_if(
        rflags & RFLAGS_RESERVED0 != 0 || rflags & 2 == 0,
        EntryCheck::GuestRflagsReservedBits,
    )?;
    // §26.3.1.4: VM = 0 if "IA-32e mode guest" or CR0.PE = 0.
    let ia32e = ctx.entry().contains(Entry::IA32E_MODE_GUEST);
    let pe = ctx.get(enc::GUEST_CR0) & CR0_PE != 0;
    fail_if(
        rflags & RFLAGS_VM != 0 && (ia32e || !pe),
        EntryCheck::GuestRflagsVm,
    )?;
    // §26.3.1.4: IF = 1 when injecting an external interrupt.
    fail_if(
        injecting(ctx, InterruptionType::ExternalInterrupt) && rflags & RFLAGS_IF == 0,
        EntryCheck::GuestRflagsIfForExternalInterrupt,
    )
}

/// Whether `info` may be injected in activity state `activity`
/// (§26.3.1.5).
fn injection_allowed(activity: u32, info: &InterruptionInfo) -> bool {
    use InterruptionType as T;
    match activity {
        ACTIVITY_ACTIVE => true,
        ACTIVITY_HLT => match info.kind {
            T::ExternalInterrupt | T::Nmi => true,
            T::HardwareException => matches!(info.vector, 1 | 18),
            T::OtherEvent => info.vector == 0,
            _ => false,
        },
        ACTIVITY_SHUTDOWN => {
            info.kind == T::Nmi || (info.kind == T::HardwareException && info.vector == 18)
        }
        _ => false,
    }
}

/// §26.3.1.5 Checks on guest non-register state.
pub fn non_register_state(ctx: &EntryContext<'_>) -> Result<(), EntryCheck> {
    let activity = ctx.get32(enc::GUEST_ACTIVITY_STATE);
    let intr = ctx.get32(enc::GUEST_INTERRUPTIBILITY_STATE);
    let rflags = ctx.get32(enc::GUEST_RFLAGS);
    let entry = ctx.entry();
    let inj = injected(ctx);
    let ss_dpl = (ctx.get32(enc::GUEST_SS_ACCESS_RIGHTS) >> 5) & 3;

    // Activity state.
    fail_if(
        !ctx.caps.activity_state_supported(activity),
        EntryCheck::GuestActivityStateUnsupported,
    )?;
    fail_if(
        activity == ACTIVITY_HLT && ss_dpl != 0,
        EntryCheck::GuestActivityStateHltWithSsDpl,
    )?;
    fail_if(
        activity != ACTIVITY_ACTIVE && intr & (BLOCKING_BY_STI | BLOCKING_BY_MOV_SS) != 0,
        EntryCheck::GuestActivityStateNotActiveWithBlocking,
    )?;
    fail_if(
        inj.is_some_and(|i| !injection_allowed(activity, &i)),
        EntryCheck::GuestActivityStateInjectionBlocked,
    )?;
    fail_if(
        activity == ACTIVITY_WAIT_FOR_SIPI && entry.contains(Entry::ENTRY_TO_SMM),
        EntryCheck::GuestActivityStateWaitForSipiWithEntryToSmm,
    )?;

    // Interruptibility state.
    let nmi = injecting(ctx, InterruptionType::Nmi);
    fail_if(
        intr & !0xF != 0,
        EntryCheck::GuestInterruptibilityReservedBits,
    )?;
    fail_if(
        intr & BLOCKING_BY_STI != 0 && intr & BLOCKING_BY_MOV_SS != 0,
        EntryCheck::GuestInterruptibilityStiAndMovSs,
    )?;
    fail_if(
        intr & BLOCKING_BY_STI != 0 && rflags & RFLAGS_IF == 0,
        EntryCheck::GuestInterruptibilityStiWithoutIf,
    )?;
    fail_if(
        injecting(ctx, InterruptionType::ExternalInterrupt)
            && intr & (BLOCKING_BY_STI | BLOCKING_BY_MOV_SS) != 0,
        EntryCheck::GuestInterruptibilityExternalInterruptInjection,
    )?;
    fail_if(
        nmi && intr & BLOCKING_BY_MOV_SS != 0,
        EntryCheck::GuestInterruptibilityNmiInjectionMovSs,
    )?;
    fail_if(
        !ctx.cpu.in_smm && intr & BLOCKING_BY_SMI != 0,
        EntryCheck::GuestInterruptibilitySmiOutsideSmm,
    )?;
    fail_if(
        entry.contains(Entry::ENTRY_TO_SMM) && intr & BLOCKING_BY_SMI == 0,
        EntryCheck::GuestInterruptibilitySmiRequiredForEntryToSmm,
    )?;
    fail_if(
        nmi && intr & BLOCKING_BY_STI != 0,
        EntryCheck::GuestInterruptibilityNmiInjectionSti,
    )?;
    fail_if(
        ctx.pin().contains(Pin::VIRTUAL_NMIS) && nmi && intr & BLOCKING_BY_NMI != 0,
        EntryCheck::GuestInterruptibilityVirtualNmiBlocking,
    )?;

    // Pending debug exceptions.
    let pending = ctx.get(enc::GUEST_PENDING_DEBUG_EXCEPTIONS);
    fail_if(
        pending & PENDING_DEBUG_RESERVED != 0,
        EntryCheck::GuestPendingDebugExceptionsReservedBits,
    )?;
    if intr & (BLOCKING_BY_STI | BLOCKING_BY_MOV_SS) != 0 || activity == ACTIVITY_HLT {
        let tf = rflags & RFLAGS_TF != 0;
        let btf = ctx.get(enc::GUEST_IA32_DEBUGCTL) & 2 != 0;
        let bs = pending & PENDING_DEBUG_BS != 0;
        fail_if(
            bs != (tf && !btf),
            EntryCheck::GuestPendingDebugExceptionsBs,
        )?;
    }

    // VMCS link pointer.
    vmcs_link_pointer(ctx)
}

/// VMCS link pointer checks (§26.3.1.5, qualification 4).
fn vmcs_link_pointer(ctx: &EntryContext<'_>) -> Result<(), EntryCheck> {
    let ptr = ctx.get(enc::VMCS_LINK_POINTER);
    if ptr == u64::MAX {
        return Ok(());
    }
    fail_if(
        ptr & 0xFFF != 0 || ptr & ctx.caps.vmx_address_reserved_mask() != 0,
        EntryCheck::VmcsLinkPointerReservedBits,
    )?;
    let header = ctx.env.read_u32(ptr);
    fail_if(
        header & 0x7FFF_FFFF != ctx.caps.revision_id(),
        EntryCheck::VmcsLinkPointerRevision,
    )?;
    let shadowing = ctx.secondary().contains(Proc2::VMCS_SHADOWING);
    let entry_to_smm = ctx.entry().contains(Entry::ENTRY_TO_SMM);
    if !ctx.cpu.in_smm || entry_to_smm {
        fail_if(
            (header & 0x8000_0000 != 0) != shadowing,
            EntryCheck::VmcsLinkPointerShadowIndicator,
        )?;
        fail_if(
            ptr == ctx.cpu.current_vmcs_pointer,
            EntryCheck::VmcsLinkPointerIsCurrentVmcs,
        )
    } else {
        fail_if(
            ptr == ctx.get(enc::EXECUTIVE_VMCS_POINTER),
            EntryCheck::VmcsLinkPointerIsExecutiveVmcs,
        )
    }
}

/// §26.3.1.6 Checks on guest PDPTEs: when the guest uses PAE paging, each
/// present PDPTE must have no reserved bit set (bits 2:1, 8:5 and bits
/// 63:MAXPHYADDR). With EPT off the PDPTEs are read from guest memory at
/// CR3 bits 31:5; with EPT on the VMCS PDPTE fields are checked.
pub fn pdptes(ctx: &EntryContext<'_>) -> Result<(), EntryCheck> {
    let cr0 = ctx.get(enc::GUEST_CR0);
    let cr4 = ctx.get(enc::GUEST_CR4);
    if cr0 & CR0_PG == 0 || cr4 & CR4_PAE == 0 || ctx.entry().contains(Entry::IA32E_MODE_GUEST) {
        return Ok(());
    }
    let ept = ctx.secondary().contains(Proc2::ENABLE_EPT);
    let table = ctx.get(enc::GUEST_CR3) & 0xFFFF_FFE0;
    let reserved = 0x6 | 0x1E0 | ctx.caps.phys_reserved_mask();
    for i in 0u8..4 {
        let pdpte = if ept {
            ctx.get(enc::GUEST_PDPTE0 + 2 * u32::from(i))
        } else {
            ctx.env.read_u64(table.wrapping_add(8 * u64::from(i)))
        };
        fail_if(
            pdpte & 1 != 0 && pdpte & reserved != 0,
            EntryCheck::GuestPdpteReservedBits(i),
        )?;
    }
    Ok(())
}
