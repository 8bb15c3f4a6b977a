//! `vtx32 vmx caps`: the decoded capability MSRs of each CPU model.

use std::process::Command;

fn caps(cpu: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vtx32"))
        .args(["vmx", "caps", "--cpu", cpu])
        .output()
        .expect("run vtx32");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn yonah_caps_show_the_real_basic_msr() {
    let (status, text) = caps("yonah");
    assert_eq!(status, 0);
    // IA32_VMX_BASIC of a real Core Duo T2600.
    assert!(
        text.to_ascii_lowercase().contains("001b0400_00000005")
            || text.to_ascii_lowercase().contains("001b040000000005"),
        "{text}"
    );
}

#[test]
fn max_offers_secondary_controls_and_yonah_does_not() {
    let (_, max) = caps("max");
    let (_, yonah) = caps("yonah");
    assert!(max.contains("EPT") || max.contains("ept"), "{max}");
    assert_ne!(max, yonah);
}

#[test]
fn unknown_model_is_bad_input() {
    let out = Command::new(env!("CARGO_BIN_EXE_vtx32"))
        .args(["vmx", "caps", "--cpu", "pentium"])
        .output()
        .expect("run vtx32");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}
