//! Address newtypes: physical and linear addresses never mix (rust-vmm `GuestAddress` style).

/// A physical address on the memory bus (32 bits wide on this IA-32 model; PAE's 36-bit
/// addresses fit, hence `u64`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PhysAddr(pub u64);

/// A linear address: segment base + offset, before paging.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinearAddr(pub u32);

impl std::fmt::Display for PhysAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "P:{:08x}", self.0)
    }
}

impl std::fmt::Display for LinearAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "L:{:08x}", self.0)
    }
}
