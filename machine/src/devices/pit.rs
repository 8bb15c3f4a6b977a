//! Channel 0 of the 8254 programmable interval timer (ports 0x40 and 0x43), whose output
//! drives IRQ0, as described in Intel's 8254 data sheet. Time is counted in PIT clocks
//! (1.193182 MHz) derived from the CPU's cycle counter, so runs stay deterministic.
//!
//! Modelled: the control word (counter latch, LSB/MSB/LSB-then-MSB access, modes), count
//! reads (latched or live), and the IRQ0 edges of modes 0 and 4 (one edge N clocks after the
//! count is written) and modes 2 and 3 (an edge every N clocks). A count of 0 means 65536.
//! Not modelled: BCD counting (counts are binary), the gate input (always high on channel
//! 0, so modes 1 and 5, which wait for a gate edge, never fire), and channels 1 and 2.

/// PIT input clock in Hz.
pub const PIT_HZ: u64 = 1_193_182;

/// Channel 0 of the 8254.
#[derive(Clone, Debug, Default)]
pub struct Pit {
    mode: u8,
    /// Access mode from the control word: 1 LSB, 2 MSB, 3 LSB then MSB.
    access: u8,
    /// For access mode 3: the next write/read is the MSB.
    write_msb: bool,
    read_msb: bool,
    /// The count being written (LSB kept until the MSB arrives).
    pending_lsb: u8,
    /// The reload value in clocks (1-65536), once a count is written.
    count: Option<u32>,
    /// PIT clock at which counting started.
    start: u64,
    /// A latched count, returned by the next read(s).
    latch: Option<u16>,
    /// The next IRQ0 rising edge, in PIT clocks.
    next_edge: Option<u64>,
}

impl Pit {
    /// Port write at PIT clock `now` (0x40 counter 0, 0x43 control word).
    pub fn write(&mut self, port: u16, v: u8, now: u64) {
        if port == 0x43 {
            if v >> 6 != 0 {
                return; // channels 1, 2 and read-back: not modelled
            }
            let access = (v >> 4) & 3;
            if access == 0 {
                // Counter latch: freeze the current count for the next read.
                if self.latch.is_none() {
                    self.latch = Some(self.current(now));
                }
                return;
            }
            self.access = access;
            self.mode = match (v >> 1) & 7 {
                6 => 2,
                7 => 3,
                m => m,
            };
            self.write_msb = false;
            self.read_msb = false;
            // A control word stops the counter until a count is written (modes 0-5).
            self.count = None;
            self.next_edge = None;
            return;
        }
        if port != 0x40 {
            return;
        }
        let value = match self.access {
            1 => u32::from(v),
            2 => u32::from(v) << 8,
            3 if !self.write_msb => {
                self.pending_lsb = v;
                self.write_msb = true;
                return;
            }
            3 => {
                self.write_msb = false;
                u32::from(self.pending_lsb) | u32::from(v) << 8
            }
            _ => return,
        };
        let n = if value == 0 { 0x1_0000 } else { value };
        self.count = Some(n);
        self.start = now;
        self.next_edge = match self.mode {
            0 | 2 | 3 | 4 => Some(now + u64::from(n)),
            _ => None,
        };
    }

    /// Port read at PIT clock `now` (0x40).
    pub fn read(&mut self, port: u16, now: u64) -> u8 {
        if port != 0x40 {
            return 0xFF;
        }
        let value = match self.latch {
            Some(l) => l,
            None => self.current(now),
        };
        let msb = match self.access {
            2 => true,
            3 => {
                let m = self.read_msb;
                self.read_msb = !m;
                m
            }
            _ => false,
        };
        // The latch is released once read completely.
        if self.access != 3 || msb {
            self.latch = None;
        }
        if msb {
            (value >> 8) as u8
        } else {
            value as u8
        }
    }

    /// The count as the counter holds it at `now`.
    fn current(&self, now: u64) -> u16 {
        let Some(n) = self.count else { return 0 };
        let n = u64::from(n);
        let elapsed = now.saturating_sub(self.start);
        let left = match self.mode {
            // Periodic: reloads every n clocks.
            2 | 3 => n - elapsed % n,
            // One-shot: counts down through 0 and wraps.
            _ => (n + 0x1_0000 - elapsed % 0x1_0000) % 0x1_0000,
        };
        left as u16
    }

    /// The PIT clock of the next IRQ0 rising edge, if any.
    pub fn next_edge(&self) -> Option<u64> {
        self.next_edge
    }

    /// Advances to PIT clock `now`; returns whether an IRQ0 edge happened (at most one is
    /// reported per call: the caller advances event by event).
    pub fn advance(&mut self, now: u64) -> bool {
        let Some(edge) = self.next_edge else {
            return false;
        };
        if now < edge {
            return false;
        }
        self.next_edge = match (self.mode, self.count) {
            (2 | 3, Some(n)) => {
                // The next edge after `now` (edges missed while nobody looked are merged).
                let n = u64::from(n);
                Some(edge + ((now - edge) / n + 1) * n)
            }
            _ => None,
        };
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_2_fires_every_n_clocks_and_counts_down() {
        let mut p = Pit::default();
        p.write(0x43, 0x34, 0); // channel 0, LSB then MSB, mode 2
        p.write(0x40, 0xE8, 0);
        p.write(0x40, 0x03, 100); // 1000, counting from clock 100
        assert_eq!(p.next_edge(), Some(1100));
        assert!(!p.advance(1099));
        assert!(p.advance(1100));
        assert_eq!(p.next_edge(), Some(2100));
        p.write(0x43, 0x00, 1350); // latch: 1000 - 250
        p.write(0x43, 0x00, 1400); // a second latch is ignored until read
        assert_eq!(p.read(0x40, 1500), 0xEE);
        assert_eq!(p.read(0x40, 1500), 0x02);
        assert_eq!(
            p.read(0x40, 1600) as u16 | (p.read(0x40, 1600) as u16) << 8,
            500
        );
    }

    #[test]
    fn mode_0_fires_once_and_a_control_word_stops_the_counter() {
        let mut p = Pit::default();
        p.write(0x43, 0x30, 0);
        p.write(0x40, 0x10, 0);
        p.write(0x40, 0x00, 0);
        assert!(p.advance(16));
        assert_eq!(p.next_edge(), None);
        p.write(0x43, 0x34, 20);
        assert_eq!(p.next_edge(), None);
    }
}
