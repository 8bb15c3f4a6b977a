//! Placeholder, replaced below.
/// Report.
pub fn caps_report(_m: crate::CpuModel) -> String {
    String::new()
}
