//! The CPU's integration tests, in one test binary (one link instead of one per file):
//! `cargo test -p vtx32-cpu --test it [FILTER]`, e.g. `--test it paging::`.

mod common;
mod desc;
mod pm;

mod basic;
mod blocks;
mod debug;
mod event_loop;
mod families_bcd;
mod families_bits;
mod families_muldiv;
mod families_shift;
mod families_string;
mod io_protection;
mod modes;
mod paging;
mod robustness;
mod segmentation;
mod sensitive;
mod sysenter;
mod task_register;
mod tasks;
mod v86;
