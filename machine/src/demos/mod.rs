//! Named demo ROMs for `vtx32 run --demo NAME`, each assembled at run time with iced
//! `code_asm` (the default demo, without `--demo`, is [`crate::demo`]).

pub mod deprivilege;

/// The names `--demo` accepts, in the order they are listed.
pub const NAMES: &[&str] = &["deprivilege"];

/// The ROM image of the demo called `name`, or `None` for an unknown name.
pub fn rom(name: &str) -> Option<Vec<u8>> {
    match name {
        "deprivilege" => Some(deprivilege::rom()),
        _ => None,
    }
}
