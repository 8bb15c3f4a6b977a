//! Family: bits. (Being written; until then every instruction of this family raises #UD.)

use super::{Core, PortIo};
use crate::exception::Exception;
use iced_x86::Instruction;

/// Placeholder handler for the whole family.
pub(crate) fn todo(_c: &mut Core, _io: &mut dyn PortIo, _i: &Instruction) -> Result<(), Exception> {
    Err(Exception::ud())
}
