//! Regression cases: every case on which the host-CPU differential test once found vtx32
//! and the host CPU disagreeing (RMW page-fault error codes, XADD address order, 4 GiB
//! segment wrap, ENTER/PUSHA/POPA partial effects, BOUND bound order, INS/OUTS permission
//! order, POP SS reading 16 bits, EFLAGS of REPE/REPNE CMPS/SCAS across restarts, ...). Each is run on both and must now agree. Reported
//! SKIPPED where the host CPU cannot serve as the oracle.

use vtx32_testsuites::case::{Executor, Family};
use vtx32_testsuites::compare::compare;
use vtx32_testsuites::gen::generate;
use vtx32_testsuites::native::NativeExecutor;
use vtx32_testsuites::vtx32_exec::Vtx32Executor;

/// (family, case seed) of each mismatch found while vtx32 was developed.
const FOUND: &[(Family, u64)] = &[
    (Family::Alu, 0x39a3c7548e53818),
    (Family::Atomic, 0x1aabc21e4be23787),
    (Family::Atomic, 0x4550c85630d957f6),
    (Family::Atomic, 0x4fdc4ae8b67cd605),
    (Family::Atomic, 0x723556e336e4c837),
    (Family::Atomic, 0x7419149b06d01f79),
    (Family::Atomic, 0x7b83500a97600512),
    (Family::Atomic, 0x9670c4463d7c9e2d),
    (Family::Atomic, 0x9f8cf369121fdbca),
    (Family::Atomic, 0xc1c174356fce9808),
    (Family::Atomic, 0xd868882f95b49a25),
    (Family::Misc, 0xca94e4a8156acad5),
    (Family::MulDiv, 0x9eeee4de7270ba39),
    (Family::Privileged, 0x201cd5d97115d9e),
    (Family::Privileged, 0x2d0a6b193dddfae6),
    (Family::Privileged, 0x348d2973746a6973),
    (Family::Privileged, 0x3b270430f107fbc0),
    (Family::Privileged, 0x483084cd08eba783),
    (Family::Privileged, 0x492c99f1d651fed7),
    (Family::Privileged, 0x4b71b1a5b87051ac),
    (Family::Privileged, 0x57b866b7976bc2ef),
    (Family::Privileged, 0x6ebf6853412cf0e),
    (Family::Privileged, 0x7d3430d2a4b2031a),
    (Family::Privileged, 0x81638e66ad78b514),
    (Family::Privileged, 0x81b11204e5f88b60),
    (Family::Privileged, 0x87da77eeca14e237),
    (Family::Privileged, 0xa212912e8f92cddc),
    (Family::Privileged, 0xad8868bc8e0d708d),
    (Family::Privileged, 0xbec13906cdf706a3),
    (Family::Privileged, 0xc7b55a0c0e43440b),
    (Family::Privileged, 0xca0b765244de8cb5),
    (Family::Privileged, 0xd634e8260c080b51),
    (Family::Privileged, 0xe3c7223e109c3879),
    (Family::Privileged, 0xe887913eef8152c4),
    (Family::Privileged, 0xeda8c26b7f334257),
    (Family::Privileged, 0xf690fe5ecf2f70f9),
    (Family::Privileged, 0xffc11af38f5ed00),
    (Family::Stack, 0x119bc3f14b4c5656),
    (Family::Stack, 0x20f487a1214daed0),
    (Family::Stack, 0x2327c85349b80c57),
    (Family::Stack, 0x237056f5a0b46408),
    (Family::Stack, 0x270f5172136d15c5),
    (Family::Stack, 0x2e503f4b94ae377a),
    (Family::Stack, 0x357783bd3d9ccc83),
    (Family::Stack, 0x35ef39ba295fe0a0),
    (Family::Stack, 0x3c352bc41a13dc65),
    (Family::Stack, 0x3dbb1b61489418d2),
    (Family::Stack, 0x40590309edd16922),
    (Family::Stack, 0x414d5404e5a5c3aa),
    (Family::Stack, 0x436992fb0775b79b),
    (Family::Stack, 0x4423b876d243c157),
    (Family::Stack, 0x4464bf099736f172),
    (Family::Stack, 0x489606c7f576e131),
    (Family::Stack, 0x4911fad3a8c29714),
    (Family::Stack, 0x4a545ff355677bf8),
    (Family::Stack, 0x51c886a602e44116),
    (Family::Stack, 0x51e9a7f8a6b645bc),
    (Family::Stack, 0x52365220601714b1),
    (Family::Stack, 0x54e7eac13511b5be),
    (Family::Stack, 0x59b230b8f0eb8ba8),
    (Family::Stack, 0x59c36eec8e190a1c),
    (Family::Stack, 0x59e5cbbabe059ac8),
    (Family::Stack, 0x5bc76608d7003575),
    (Family::Stack, 0x6238c8bfecf7b670),
    (Family::Stack, 0x649c0812f13fabfd),
    (Family::Stack, 0x64fc908004de2d5c),
    (Family::Stack, 0x653db9b87a5c4f2a),
    (Family::Stack, 0x65b81e757f088121),
    (Family::Stack, 0x660bd71ad3dc5796),
    (Family::Stack, 0x6a1175683c2b7161),
    (Family::Stack, 0x73eb65e63ee8c38f),
    (Family::Stack, 0x743a415458eb92ab),
    (Family::Stack, 0x744856d9d18c48dd),
    (Family::Stack, 0x7a01feafb606b63a),
    (Family::Stack, 0x7bac9c58dcbe8da4),
    (Family::Stack, 0x7ec2f5c2998e6cf3),
    (Family::Stack, 0x85269ca47ac663e5),
    (Family::Stack, 0x85382f9782c3d1c4),
    (Family::Stack, 0x8d68109deea1d870),
    (Family::Stack, 0x90b81e06da3f2dd9),
    (Family::Stack, 0x93912ab434505472),
    (Family::Stack, 0xa1db401470bde235),
    (Family::Stack, 0xa216f7c8f5013c3),
    (Family::Stack, 0xa68d8a428bdecb5a),
    (Family::Stack, 0xb0d8572102a6a147),
    (Family::Stack, 0xb16f8907aca51023),
    (Family::Stack, 0xb246aec1bc290b6),
    (Family::Stack, 0xb28186b81e881c57),
    (Family::Stack, 0xb6b89e51f3a3c448),
    (Family::Stack, 0xb6f4fe27bbfda247),
    (Family::Stack, 0xb8181b5569a96755),
    (Family::Stack, 0xba829e91b7894f80),
    (Family::Stack, 0xbe37833a914871f9),
    (Family::Stack, 0xbf43bd73c32ff868),
    (Family::Stack, 0xc469b4145584170a),
    (Family::Stack, 0xc7584deffb8153cf),
    (Family::Stack, 0xc7ec6bb91683510),
    (Family::Stack, 0xca2e4f4718aab3ec),
    (Family::Stack, 0xd35f45d620bbf0e1),
    (Family::Stack, 0xd54205c4f8a1b251),
    (Family::Stack, 0xd6f6b7f2c56bca53),
    (Family::Stack, 0xdeaef2be7b91a13b),
    (Family::Stack, 0xdfde5bb4695a3305),
    (Family::Stack, 0xe06f4f59393deb2d),
    (Family::Stack, 0xe16ff53c4891e836),
    (Family::Stack, 0xe6c436379a7138ae),
    (Family::Stack, 0xe7a6b9994023870b),
    (Family::Stack, 0xeabf68b398a83b72),
    (Family::Stack, 0xf7b2f16c507d667f),
    // REP string instructions restarting every 1024 iterations (EFLAGS of CMPS/SCAS).
    (Family::String, 0xa87c13259f06bc1a),
    (Family::String, 0x9a8c868d3353905c),
    (Family::String, 0x6d129e31cf9c738b),
    (Family::String, 0x70638e449cef4f56),
    (Family::String, 0x1c34b6e7a6ccd94c),
];

#[test]
fn former_mismatches_now_agree_with_the_host() {
    let Some(mut native) = NativeExecutor::new() else {
        eprintln!(
            "SKIPPED former_mismatches_now_agree_with_the_host: host CPU oracle unavailable: {}",
            NativeExecutor::unavailable_reason().unwrap_or_default()
        );
        return;
    };
    let mut emu = Vtx32Executor::new();
    let mut failures = Vec::new();
    for &(family, seed) in FOUND {
        let case = generate(family, seed);
        let (a, b) = (native.execute(&case), emu.execute(&case));
        if let Err(report) = compare(&case, &a, &b) {
            failures.push(format!("{family:?} {seed:#x}:\n{report}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} regression cases disagree:\n{}",
        failures.len(),
        FOUND.len(),
        failures.join("\n")
    );
}
