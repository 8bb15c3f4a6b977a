//! The VMCS field catalogue (SDM Appendix B).
//!
//! [`FIELDS`] is the single table of VMCS components. Each entry carries the
//! encoding (from which width and type are derived, SDM §24.11.2), the SDM
//! name and the capability that makes the field exist. VMREAD/VMWRITE
//! validation ([`crate::vmcs`]), the named dump and the region layout
//! ([`crate::region`]) are all derived from this table.
//!
//! Choices for an IA-32 processor:
//! * natural-width fields are 32 bits wide;
//! * fields that exist only for 64-bit features or for features neither
//!   model implements (tertiary controls, HLAT, PASID, CET, PKRS, user
//!   interrupts, IPI virtualization, secondary exit controls, ...) are
//!   omitted from the table, so their encodings give VM-instruction error 12;
//! * fields of features the SDM defines for IA-32 but that no model offers
//!   (PML, posted interrupts, VM functions, ...) are listed with their
//!   requirement; they exist only if a model allows the control.

use crate::controls::{
    PinBasedControls as Pin, PrimaryProcessorBasedControls as Proc,
    SecondaryProcessorBasedControls as Proc2, VmEntryControls as Entry, VmExitControls as Exit,
};
pub use crate::encoding::{FieldKind, FieldWidth};

/// What makes a field exist (the footnotes of SDM Appendix B).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Requirement {
    /// Exists on every VMX processor.
    Always,
    /// Exists if the pin-based control (mask) may be 1.
    Pin(u32),
    /// Exists if the primary processor-based control (mask) may be 1.
    Primary(u32),
    /// Exists if the secondary processor-based control (mask) may be 1.
    Secondary(u32),
    /// Exists if the VM-exit control (mask) may be 1.
    Exit(u32),
    /// Exists if the VM-entry control (mask) may be 1.
    Entry(u32),
    /// Exists if either the VM-entry control (first mask) or the VM-exit
    /// control (second mask) may be 1.
    EntryOrExit(u32, u32),
}

/// One VMCS component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldDef {
    /// Full-access encoding (bit 0 = 0).
    pub encoding: u32,
    /// SDM name in upper snake case.
    pub name: &'static str,
    /// Width (encoding bits 14:13).
    pub width: FieldWidth,
    /// Type (encoding bits 11:10).
    pub kind: FieldKind,
    /// Capability that makes the field exist.
    pub requires: Requirement,
}

impl FieldDef {
    /// Builds an entry, deriving width and type from the encoding.
    pub const fn new(encoding: u32, name: &'static str, requires: Requirement) -> Self {
        Self {
            encoding,
            name,
            width: FieldWidth::from_code(encoding >> 13),
            kind: FieldKind::from_code(encoding >> 10),
            requires,
        }
    }

    /// Index (encoding bits 9:1).
    pub const fn index(&self) -> u32 {
        (self.encoding >> 1) & 0x1FF
    }

    /// Whether the field is a read-only VM-exit information field.
    pub const fn is_read_only(&self) -> bool {
        matches!(self.kind, FieldKind::ReadOnlyData)
    }
}

macro_rules! catalogue {
    ($( $name:ident = $enc:expr, $req:expr; )*) => {
        /// Full-access encodings of every catalogued field, by SDM name.
        pub mod enc {
            $(
                #[doc = concat!("Encoding of ", stringify!($name), ".")]
                pub const $name: u32 = $enc;
            )*
        }

        /// The catalogue, in SDM Appendix B order.
        pub static FIELDS: &[FieldDef] = &[
            $( FieldDef::new($enc, stringify!($name), $req), )*
        ];
    };
}

use Requirement::{
    Always, Entry as En, EntryOrExit, Exit as Ex, Pin as Pn, Primary as Pr, Secondary as Sc,
};

catalogue! {
    // B.1.1 16-bit control fields
    VIRTUAL_PROCESSOR_ID = 0x0000, Sc(Proc2::ENABLE_VPID.bits());
    POSTED_INTERRUPT_NOTIFICATION_VECTOR = 0x0002, Pn(Pin::PROCESS_POSTED_INTERRUPTS.bits());
    EPTP_INDEX = 0x0004, Sc(Proc2::EPT_VIOLATION_VE.bits());
    // B.1.2 16-bit guest-state fields
    GUEST_ES_SELECTOR = 0x0800, Always;
    GUEST_CS_SELECTOR = 0x0802, Always;
    GUEST_SS_SELECTOR = 0x0804, Always;
    GUEST_DS_SELECTOR = 0x0806, Always;
    GUEST_FS_SELECTOR = 0x0808, Always;
    GUEST_GS_SELECTOR = 0x080A, Always;
    GUEST_LDTR_SELECTOR = 0x080C, Always;
    GUEST_TR_SELECTOR = 0x080E, Always;
    GUEST_INTERRUPT_STATUS = 0x0810, Sc(Proc2::VIRTUAL_INTERRUPT_DELIVERY.bits());
    PML_INDEX = 0x0812, Sc(Proc2::ENABLE_PML.bits());
    // B.1.3 16-bit host-state fields
    HOST_ES_SELECTOR = 0x0C00, Always;
    HOST_CS_SELECTOR = 0x0C02, Always;
    HOST_SS_SELECTOR = 0x0C04, Always;
    HOST_DS_SELECTOR = 0x0C06, Always;
    HOST_FS_SELECTOR = 0x0C08, Always;
    HOST_GS_SELECTOR = 0x0C0A, Always;
    HOST_TR_SELECTOR = 0x0C0C, Always;
    // B.2.1 64-bit control fields
    IO_BITMAP_A = 0x2000, Always;
    IO_BITMAP_B = 0x2002, Always;
    MSR_BITMAPS = 0x2004, Pr(Proc::USE_MSR_BITMAPS.bits());
    VM_EXIT_MSR_STORE_ADDRESS = 0x2006, Always;
    VM_EXIT_MSR_LOAD_ADDRESS = 0x2008, Always;
    VM_ENTRY_MSR_LOAD_ADDRESS = 0x200A, Always;
    EXECUTIVE_VMCS_POINTER = 0x200C, Always;
    PML_ADDRESS = 0x200E, Sc(Proc2::ENABLE_PML.bits());
    TSC_OFFSET = 0x2010, Always;
    VIRTUAL_APIC_ADDRESS = 0x2012, Pr(Proc::USE_TPR_SHADOW.bits());
    APIC_ACCESS_ADDRESS = 0x2014, Sc(Proc2::VIRTUALIZE_APIC_ACCESSES.bits());
    POSTED_INTERRUPT_DESCRIPTOR_ADDRESS = 0x2016, Pn(Pin::PROCESS_POSTED_INTERRUPTS.bits());
    VM_FUNCTION_CONTROLS = 0x2018, Sc(Proc2::ENABLE_VM_FUNCTIONS.bits());
    EPT_POINTER = 0x201A, Sc(Proc2::ENABLE_EPT.bits());
    EOI_EXIT_BITMAP_0 = 0x201C, Sc(Proc2::VIRTUAL_INTERRUPT_DELIVERY.bits());
    EOI_EXIT_BITMAP_1 = 0x201E, Sc(Proc2::VIRTUAL_INTERRUPT_DELIVERY.bits());
    EOI_EXIT_BITMAP_2 = 0x2020, Sc(Proc2::VIRTUAL_INTERRUPT_DELIVERY.bits());
    EOI_EXIT_BITMAP_3 = 0x2022, Sc(Proc2::VIRTUAL_INTERRUPT_DELIVERY.bits());
    EPTP_LIST_ADDRESS = 0x2024, Sc(Proc2::ENABLE_VM_FUNCTIONS.bits());
    VMREAD_BITMAP_ADDRESS = 0x2026, Sc(Proc2::VMCS_SHADOWING.bits());
    VMWRITE_BITMAP_ADDRESS = 0x2028, Sc(Proc2::VMCS_SHADOWING.bits());
    VIRTUALIZATION_EXCEPTION_INFORMATION_ADDRESS = 0x202A, Sc(Proc2::EPT_VIOLATION_VE.bits());
    XSS_EXITING_BITMAP = 0x202C, Sc(Proc2::ENABLE_XSAVES_XRSTORS.bits());
    ENCLS_EXITING_BITMAP = 0x202E, Sc(Proc2::ENABLE_ENCLS_EXITING.bits());
    SUB_PAGE_PERMISSION_TABLE_POINTER = 0x2030,
        Sc(Proc2::SUB_PAGE_WRITE_PERMISSIONS_FOR_EPT.bits());
    TSC_MULTIPLIER = 0x2032, Sc(Proc2::USE_TSC_SCALING.bits());
    // B.2.2 64-bit read-only data field
    GUEST_PHYSICAL_ADDRESS = 0x2400, Sc(Proc2::ENABLE_EPT.bits());
    // B.2.3 64-bit guest-state fields
    VMCS_LINK_POINTER = 0x2800, Always;
    GUEST_IA32_DEBUGCTL = 0x2802, Always;
    GUEST_IA32_PAT = 0x2804, EntryOrExit(Entry::LOAD_IA32_PAT.bits(), Exit::SAVE_IA32_PAT.bits());
    GUEST_IA32_EFER = 0x2806,
        EntryOrExit(Entry::LOAD_IA32_EFER.bits(), Exit::SAVE_IA32_EFER.bits());
    GUEST_IA32_PERF_GLOBAL_CTRL = 0x2808, En(Entry::LOAD_IA32_PERF_GLOBAL_CTRL.bits());
    GUEST_PDPTE0 = 0x280A, Sc(Proc2::ENABLE_EPT.bits());
    GUEST_PDPTE1 = 0x280C, Sc(Proc2::ENABLE_EPT.bits());
    GUEST_PDPTE2 = 0x280E, Sc(Proc2::ENABLE_EPT.bits());
    GUEST_PDPTE3 = 0x2810, Sc(Proc2::ENABLE_EPT.bits());
    GUEST_IA32_BNDCFGS = 0x2812, En(Entry::LOAD_IA32_BNDCFGS.bits());
    // B.2.4 64-bit host-state fields
    HOST_IA32_PAT = 0x2C00, Ex(Exit::LOAD_IA32_PAT.bits());
    HOST_IA32_EFER = 0x2C02, Ex(Exit::LOAD_IA32_EFER.bits());
    HOST_IA32_PERF_GLOBAL_CTRL = 0x2C04, Ex(Exit::LOAD_IA32_PERF_GLOBAL_CTRL.bits());
    // B.3.1 32-bit control fields
    PIN_BASED_VM_EXECUTION_CONTROLS = 0x4000, Always;
    PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS = 0x4002, Always;
    EXCEPTION_BITMAP = 0x4004, Always;
    PAGE_FAULT_ERROR_CODE_MASK = 0x4006, Always;
    PAGE_FAULT_ERROR_CODE_MATCH = 0x4008, Always;
    CR3_TARGET_COUNT = 0x400A, Always;
    VM_EXIT_CONTROLS = 0x400C, Always;
    VM_EXIT_MSR_STORE_COUNT = 0x400E, Always;
    VM_EXIT_MSR_LOAD_COUNT = 0x4010, Always;
    VM_ENTRY_CONTROLS = 0x4012, Always;
    VM_ENTRY_MSR_LOAD_COUNT = 0x4014, Always;
    VM_ENTRY_INTERRUPTION_INFORMATION = 0x4016, Always;
    VM_ENTRY_EXCEPTION_ERROR_CODE = 0x4018, Always;
    VM_ENTRY_INSTRUCTION_LENGTH = 0x401A, Always;
    TPR_THRESHOLD = 0x401C, Pr(Proc::USE_TPR_SHADOW.bits());
    SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS = 0x401E,
        Pr(Proc::ACTIVATE_SECONDARY_CONTROLS.bits());
    PLE_GAP = 0x4020, Sc(Proc2::PAUSE_LOOP_EXITING.bits());
    PLE_WINDOW = 0x4022, Sc(Proc2::PAUSE_LOOP_EXITING.bits());
    // B.3.2 32-bit read-only data fields
    VM_INSTRUCTION_ERROR = 0x4400, Always;
    EXIT_REASON = 0x4402, Always;
    VM_EXIT_INTERRUPTION_INFORMATION = 0x4404, Always;
    VM_EXIT_INTERRUPTION_ERROR_CODE = 0x4406, Always;
    IDT_VECTORING_INFORMATION = 0x4408, Always;
    IDT_VECTORING_ERROR_CODE = 0x440A, Always;
    VM_EXIT_INSTRUCTION_LENGTH = 0x440C, Always;
    VM_EXIT_INSTRUCTION_INFORMATION = 0x440E, Always;
    // B.3.3 32-bit guest-state fields
    GUEST_ES_LIMIT = 0x4800, Always;
    GUEST_CS_LIMIT = 0x4802, Always;
    GUEST_SS_LIMIT = 0x4804, Always;
    GUEST_DS_LIMIT = 0x4806, Always;
    GUEST_FS_LIMIT = 0x4808, Always;
    GUEST_GS_LIMIT = 0x480A, Always;
    GUEST_LDTR_LIMIT = 0x480C, Always;
    GUEST_TR_LIMIT = 0x480E, Always;
    GUEST_GDTR_LIMIT = 0x4810, Always;
    GUEST_IDTR_LIMIT = 0x4812, Always;
    GUEST_ES_ACCESS_RIGHTS = 0x4814, Always;
    GUEST_CS_ACCESS_RIGHTS = 0x4816, Always;
    GUEST_SS_ACCESS_RIGHTS = 0x4818, Always;
    GUEST_DS_ACCESS_RIGHTS = 0x481A, Always;
    GUEST_FS_ACCESS_RIGHTS = 0x481C, Always;
    GUEST_GS_ACCESS_RIGHTS = 0x481E, Always;
    GUEST_LDTR_ACCESS_RIGHTS = 0x4820, Always;
    GUEST_TR_ACCESS_RIGHTS = 0x4822, Always;
    GUEST_INTERRUPTIBILITY_STATE = 0x4824, Always;
    GUEST_ACTIVITY_STATE = 0x4826, Always;
    GUEST_SMBASE = 0x4828, Always;
    GUEST_IA32_SYSENTER_CS = 0x482A, Always;
    VMX_PREEMPTION_TIMER_VALUE = 0x482E, Pn(Pin::ACTIVATE_VMX_PREEMPTION_TIMER.bits());
    // B.3.4 32-bit host-state field
    HOST_IA32_SYSENTER_CS = 0x4C00, Always;
    // B.4.1 natural-width control fields
    CR0_GUEST_HOST_MASK = 0x6000, Always;
    CR4_GUEST_HOST_MASK = 0x6002, Always;
    CR0_READ_SHADOW = 0x6004, Always;
    CR4_READ_SHADOW = 0x6006, Always;
    CR3_TARGET_VALUE_0 = 0x6008, Always;
    CR3_TARGET_VALUE_1 = 0x600A, Always;
    CR3_TARGET_VALUE_2 = 0x600C, Always;
    CR3_TARGET_VALUE_3 = 0x600E, Always;
    // B.4.2 natural-width read-only data fields
    EXIT_QUALIFICATION = 0x6400, Always;
    IO_RCX = 0x6402, Always;
    IO_RSI = 0x6404, Always;
    IO_RDI = 0x6406, Always;
    IO_RIP = 0x6408, Always;
    GUEST_LINEAR_ADDRESS = 0x640A, Always;
    // B.4.3 natural-width guest-state fields
    GUEST_CR0 = 0x6800, Always;
    GUEST_CR3 = 0x6802, Always;
    GUEST_CR4 = 0x6804, Always;
    GUEST_ES_BASE = 0x6806, Always;
    GUEST_CS_BASE = 0x6808, Always;
    GUEST_SS_BASE = 0x680A, Always;
    GUEST_DS_BASE = 0x680C, Always;
    GUEST_FS_BASE = 0x680E, Always;
    GUEST_GS_BASE = 0x6810, Always;
    GUEST_LDTR_BASE = 0x6812, Always;
    GUEST_TR_BASE = 0x6814, Always;
    GUEST_GDTR_BASE = 0x6816, Always;
    GUEST_IDTR_BASE = 0x6818, Always;
    GUEST_DR7 = 0x681A, Always;
    GUEST_RSP = 0x681C, Always;
    GUEST_RIP = 0x681E, Always;
    GUEST_RFLAGS = 0x6820, Always;
    GUEST_PENDING_DEBUG_EXCEPTIONS = 0x6822, Always;
    GUEST_IA32_SYSENTER_ESP = 0x6824, Always;
    GUEST_IA32_SYSENTER_EIP = 0x6826, Always;
    // B.4.4 natural-width host-state fields
    HOST_CR0 = 0x6C00, Always;
    HOST_CR3 = 0x6C02, Always;
    HOST_CR4 = 0x6C04, Always;
    HOST_FS_BASE = 0x6C06, Always;
    HOST_GS_BASE = 0x6C08, Always;
    HOST_TR_BASE = 0x6C0A, Always;
    HOST_GDTR_BASE = 0x6C0C, Always;
    HOST_IDTR_BASE = 0x6C0E, Always;
    HOST_IA32_SYSENTER_ESP = 0x6C10, Always;
    HOST_IA32_SYSENTER_EIP = 0x6C12, Always;
    HOST_RSP = 0x6C14, Always;
    HOST_RIP = 0x6C16, Always;
}

/// Catalogue index of the field with full-access encoding `full`.
pub fn catalogue_index(full: u32) -> Option<usize> {
    FIELDS.iter().position(|f| f.encoding == full)
}

/// The catalogue entry with full-access encoding `full`.
pub fn field_def(full: u32) -> Option<&'static FieldDef> {
    FIELDS.iter().find(|f| f.encoding == full)
}

/// Number of catalogue entries.
pub fn field_count() -> usize {
    FIELDS.len()
}
