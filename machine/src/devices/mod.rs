//! The board's devices: the 8259A interrupt controllers and the 8254 interval timer.

pub mod pic;
pub mod pit;

pub use pic::Pic;
pub use pit::{Pit, PIT_HZ};
