//! The dual 8259A programmable interrupt controller of the PC (master at ports 0x20/0x21,
//! slave at 0xA0/0xA1 cascaded on the master's IR2), as described in Intel's 8259A data
//! sheet: the ICW1-ICW4 initialization sequence, OCW1 (mask), OCW2 (EOI), OCW3 (IRR/ISR
//! read select), fully nested priority, edge-triggered requests, and the spurious IR7.
//!
//! Not modelled (documented choices): priority rotation (rotate commands act as the
//! corresponding EOI), special mask mode, poll mode, level-triggered mode, and buffered
//! mode; none changes which vector is delivered for software that does not use them.

/// One 8259A.
#[derive(Clone, Debug, Default)]
struct Chip {
    irr: u8,
    isr: u8,
    imr: u8,
    /// Input line levels, for edge detection.
    lines: u8,
    vector_base: u8,
    /// Next initialization word expected (2, 3, 4), or 0 when initialized.
    init_step: u8,
    icw4_needed: bool,
    single: bool,
    auto_eoi: bool,
    read_isr: bool,
}

impl Chip {
    /// The highest-priority (lowest-numbered) request that may interrupt now: unmasked, and
    /// of higher priority than every request in service (fully nested mode).
    fn pending(&self) -> Option<u8> {
        let req = self.irr & !self.imr;
        if req == 0 {
            return None;
        }
        let irq = req.trailing_zeros() as u8;
        let in_service = if self.isr == 0 {
            8
        } else {
            self.isr.trailing_zeros() as u8
        };
        (irq < in_service).then_some(irq)
    }

    fn set_line(&mut self, irq: u8, high: bool) {
        let bit = 1 << irq;
        if high && self.lines & bit == 0 {
            self.irr |= bit; // rising edge
        }
        if high {
            self.lines |= bit;
        } else {
            self.lines &= !bit;
        }
    }

    fn write_command(&mut self, v: u8) {
        if v & 0x10 != 0 {
            // ICW1: start initialization; clears the mask and the in-service state.
            *self = Chip {
                lines: self.lines,
                init_step: 2,
                icw4_needed: v & 1 != 0,
                single: v & 2 != 0,
                ..Chip::default()
            };
        } else if v & 0x08 != 0 {
            // OCW3: RR (bit 1) with RIS (bit 0) selects IRR or ISR for reads.
            if v & 2 != 0 {
                self.read_isr = v & 1 != 0;
            }
        } else {
            // OCW2: bits 7:5 select the command (R, SL, EOI); bits 2:0 the level.
            match v >> 5 {
                // Non-specific EOI (and rotate on non-specific EOI).
                // (Clears the highest-priority in-service bit.)
                0b001 | 0b101 => self.isr &= self.isr.wrapping_sub(1),
                // Specific EOI (and rotate on specific EOI).
                0b011 | 0b111 => self.isr &= !(1 << (v & 7)),
                _ => {}
            }
        }
    }

    fn write_data(&mut self, v: u8) {
        match self.init_step {
            2 => {
                self.vector_base = v & 0xF8;
                self.init_step = if !self.single {
                    3
                } else if self.icw4_needed {
                    4
                } else {
                    0
                };
            }
            3 => self.init_step = if self.icw4_needed { 4 } else { 0 },
            4 => {
                self.auto_eoi = v & 2 != 0;
                self.init_step = 0;
            }
            _ => self.imr = v, // OCW1
        }
    }

    fn read_command(&self) -> u8 {
        if self.read_isr {
            self.isr
        } else {
            self.irr
        }
    }

    /// Interrupt acknowledge for `irq`: the request moves from IRR to ISR (unless AEOI).
    fn acknowledge(&mut self, irq: u8) -> u8 {
        self.irr &= !(1 << irq);
        if !self.auto_eoi {
            self.isr |= 1 << irq;
        }
        self.vector_base | irq
    }
}

/// The master/slave pair.
#[derive(Clone, Debug, Default)]
pub struct Pic {
    master: Chip,
    slave: Chip,
}

/// The master's input the slave is wired to.
const CASCADE: u8 = 2;

impl Pic {
    /// Drives ISA interrupt line `irq` (0-15) to `high`. A rising edge requests service.
    pub fn set_irq(&mut self, irq: u8, high: bool) {
        if irq < 8 {
            self.master.set_line(irq, high);
        } else {
            self.slave.set_line(irq & 7, high);
            self.update_cascade();
        }
    }

    /// The slave's INT output drives the master's IR2.
    fn update_cascade(&mut self) {
        let int = self.slave.pending().is_some();
        self.master.set_line(CASCADE, int);
    }

    /// Whether ISA line `irq` is masked (OCW1), counting the cascade for the slave's lines.
    pub fn masked(&self, irq: u8) -> bool {
        if irq < 8 {
            self.master.imr & (1 << irq) != 0
        } else {
            self.master.imr & (1 << CASCADE) != 0 || self.slave.imr & (1 << (irq & 7)) != 0
        }
    }

    /// The INTR output to the processor.
    pub fn intr(&self) -> bool {
        self.master.pending().is_some()
    }

    /// The interrupt-acknowledge cycle: the vector to deliver. With no request left (it was
    /// masked or withdrawn in between) the 8259A answers with its IR7 vector without
    /// setting the in-service bit (a spurious interrupt).
    pub fn acknowledge(&mut self) -> u8 {
        let Some(irq) = self.master.pending() else {
            return self.master.vector_base | 7;
        };
        if irq != CASCADE || self.master.single {
            return self.master.acknowledge(irq);
        }
        self.master.acknowledge(CASCADE);
        let v = match self.slave.pending() {
            Some(s) => self.slave.acknowledge(s),
            None => self.slave.vector_base | 7,
        };
        // The cascade line drops once the slave's request is taken; a new edge is needed.
        self.master.lines &= !(1 << CASCADE);
        self.update_cascade();
        v
    }

    /// Port read (0x20, 0x21, 0xA0, 0xA1).
    pub fn read(&self, port: u16) -> u8 {
        let chip = if port & 0x80 != 0 {
            &self.slave
        } else {
            &self.master
        };
        if port & 1 == 0 {
            chip.read_command()
        } else {
            chip.imr
        }
    }

    /// Port write (0x20, 0x21, 0xA0, 0xA1).
    pub fn write(&mut self, port: u16, v: u8) {
        let chip = if port & 0x80 != 0 {
            &mut self.slave
        } else {
            &mut self.master
        };
        if port & 1 == 0 {
            chip.write_command(v);
        } else {
            chip.write_data(v);
        }
        self.update_cascade();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init(p: &mut Pic) {
        for (port, v) in [
            (0x20, 0x11),
            (0x21, 0x20),
            (0x21, 0x04),
            (0x21, 0x01),
            (0xA0, 0x11),
            (0xA1, 0x28),
            (0xA1, 0x02),
            (0xA1, 0x01),
        ] {
            p.write(port, v);
        }
    }

    #[test]
    fn a_request_is_delivered_once_with_its_vector_and_held_in_service_until_eoi() {
        let mut p = Pic::default();
        init(&mut p);
        p.set_irq(0, true);
        assert!(p.intr());
        assert_eq!(p.acknowledge(), 0x20);
        assert!(!p.intr());
        p.write(0x20, 0x0B); // OCW3: read ISR
        assert_eq!(p.read(0x20), 1);
        // A lower-priority request waits while IRQ0 is in service; a new IRQ0 edge too.
        p.set_irq(1, true);
        p.set_irq(0, false);
        p.set_irq(0, true);
        assert!(!p.intr());
        p.write(0x20, 0x20); // non-specific EOI
        assert_eq!(p.acknowledge(), 0x20);
        p.write(0x20, 0x20);
        assert_eq!(p.acknowledge(), 0x21);
    }

    #[test]
    fn slave_requests_cascade_through_ir2_and_masks_apply() {
        let mut p = Pic::default();
        init(&mut p);
        p.write(0xA1, 0x01); // mask IRQ8
        p.set_irq(8, true);
        assert!(!p.intr());
        p.write(0xA1, 0x00);
        assert!(p.intr());
        assert_eq!(p.acknowledge(), 0x28);
        p.write(0x20, 0x0B);
        p.write(0xA0, 0x0B);
        assert_eq!((p.read(0x20), p.read(0xA0)), (0x04, 0x01));
        // A request masked after INTR was raised gives the spurious IR7 vector.
        p.set_irq(3, true);
        p.write(0x21, 0x08);
        assert!(!p.intr());
        assert_eq!(p.acknowledge(), 0x27);
    }
}
