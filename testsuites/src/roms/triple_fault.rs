//! Exception classes to the end (SDM Vol. 3 §6.15, interrupt 8): with an empty IDT, #UD
//! cannot be delivered (#GP for the vector beyond the IDT limit), that #GP cannot be
//! delivered either (contributory + contributory: #DF), and a fault while delivering #DF
//! is a triple fault: the processor shuts down. Nothing runs after it, so the golden ends
//! with the marker line the comparison adds for a shutdown.

use crate::romkit::*;
use iced_x86::code_asm::*;

pub fn rom() -> Asm<Vec<u8>> {
    let mut r = Rom::new("triple_fault")?;
    r.print("loading an empty IDT, then UD2\n")?;
    r.a.push(0u32)?;
    r.a.push(0u32)?; // limit 0, base 0: not even vector 0 fits
    r.a.lidt(ptr(esp + 2))?;
    r.a.ud2()?;
    r.print("not reached\n")?;
    r.finish()
}
