//! Comparison of two [`Outcome`]s with a readable diff.

use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

/// Intel-syntax disassembly of `bytes` decoded as 32-bit code at `ip`.
/// Shows `(bad)` for bytes that do not decode.
pub fn disasm32(bytes: &[u8], ip: u32) -> String {
    let mut dec = Decoder::with_ip(32, bytes, u64::from(ip), DecoderOptions::NONE);
    let insn = dec.decode();
    if insn.is_invalid() {
        return "(bad)".to_string();
    }
    let mut out = String::new();
    IntelFormatter::new().format(&insn, &mut out);
    if insn.len() != bytes.len() {
        out.push_str(&format!(" ; +{} trailing bytes", bytes.len() - insn.len()));
    }
    out
}
