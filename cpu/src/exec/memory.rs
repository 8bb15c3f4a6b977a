//! Memory access through segmentation (SDM Vol. 3 §3.4, §5.3 limit checks, §5.4 type
//! checks) and paging (§4). Every guest data access goes through here.

use super::system::EFER_NXE;
use super::Core;
use crate::exception::{vector, Exception};
use crate::state::{Cr0, Cr4, SegAttrs, SegReg};
use vtx32_mmu::paging::{self, AccessKind as Access};
use vtx32_mmu::{LinearAddr, PhysAddr};

/// Outcome of [`Core::data_access`].
pub(crate) enum DataAccess {
    /// Every check passed: the physical address.
    Pa(PhysAddr),
    /// Segment checks passed, within one page, paging on and no usable TLB entry: walk for
    /// this linear address.
    Walk(u32),
    /// Take the full path.
    Full,
}

impl Core {
    /// Recomputes the per-segment shortcuts after any segment-register or mode change.
    pub(crate) fn refresh_segment_fast_paths(&mut self) {
        for s in SegReg::ALL {
            let a = self.sregs.seg[s as usize].attrs;
            let usable = !a.contains(SegAttrs::UNUSABLE) && a.contains(SegAttrs::P);
            let code = a.contains(SegAttrs::CODE);
            let expand_down = !code && a.contains(SegAttrs::DC);
            let readable = usable && !expand_down && (!code || a.contains(SegAttrs::RW));
            let writable = usable && !expand_down && !code && a.contains(SegAttrs::RW);
            let end = u64::from(self.sregs.seg[s as usize].limit) + 1;
            self.seg_read_end[s as usize] = if readable { end } else { 0 };
            self.seg_write_end[s as usize] = if writable { end } else { 0 };
        }
        if self.dbg.data {
            // Data breakpoints are matched on the checked path (see `debug.rs`).
            self.seg_read_end = [0; 6];
            self.seg_write_end = [0; 6];
        }
        self.fetch_dirty = true;
    }

    /// End (limit + 1) of the offsets of `seg` that an access of this kind may use with no
    /// check other than the limit: 0 when the segment needs the full checks (unusable,
    /// wrong type, expand-down, data breakpoints armed). An access that would wrap past
    /// 4 GiB ends above it and takes the full path too.
    #[inline(always)]
    fn seg_end(&self, seg: SegReg, write: bool) -> u64 {
        if write {
            self.seg_write_end[seg as usize]
        } else {
            self.seg_read_end[seg as usize]
        }
    }

    /// The fault a bad access through `seg` raises: #SS(0) for SS, #GP(0) otherwise.
    #[inline]
    fn seg_fault(seg: SegReg) -> Exception {
        if seg == SegReg::Ss {
            Exception::ss(0)
        } else {
            Exception::gp(0)
        }
    }

    /// Checks an access of `size` bytes at `off` in `seg` and returns the linear address.
    #[inline(always)]
    pub(crate) fn seg_linear(
        &self,
        seg: SegReg,
        off: u32,
        size: u32,
        write: bool,
    ) -> Result<u32, Exception> {
        if u64::from(off) + u64::from(size) <= self.seg_end(seg, write) {
            return Ok(self.sregs.seg[seg as usize].base.wrapping_add(off));
        }
        self.seg_linear_slow(seg, off, size, write)
    }

    #[cold]
    fn seg_linear_slow(
        &self,
        seg: SegReg,
        off: u32,
        size: u32,
        write: bool,
    ) -> Result<u32, Exception> {
        let s = &self.sregs.seg[seg as usize];
        let a = s.attrs;
        if self.protected() && !self.v86() {
            // Null / unusable selector (SDM §5.4.1).
            if a.contains(SegAttrs::UNUSABLE) || !a.contains(SegAttrs::P) {
                return Err(Self::seg_fault(seg));
            }
            let code = a.contains(SegAttrs::CODE);
            if write && (code || !a.contains(SegAttrs::RW)) {
                return Err(Self::seg_fault(seg));
            }
            if !write && code && !a.contains(SegAttrs::RW) {
                return Err(Self::seg_fault(seg));
            }
        }
        let last = u64::from(off) + u64::from(size) - 1;
        let expand_down = !a.contains(SegAttrs::CODE) && a.contains(SegAttrs::DC);
        let ok = if !expand_down && s.limit == u32::MAX {
            // A 4 GiB expand-up segment: an access that runs past 0xFFFFFFFF wraps to 0
            // without a limit fault, as Intel processors do (host-CPU differential test).
            true
        } else if expand_down {
            // Valid offsets are limit+1 ..= 0xFFFF or 0xFFFFFFFF by the B flag (SDM §5.3).
            let upper: u64 = if a.contains(SegAttrs::DB) {
                0xFFFF_FFFF
            } else {
                0xFFFF
            };
            u64::from(off) > u64::from(s.limit) && last <= upper
        } else {
            last <= u64::from(s.limit)
        };
        if !ok {
            return Err(Self::seg_fault(seg));
        }
        let lin = s.base.wrapping_add(off);
        if self.dbg.data {
            self.note_data_access(lin, size, write);
        }
        Ok(lin)
    }

    /// Translates a linear address for a data access (paging when CR0.PG = 1).
    #[inline(always)]
    pub(crate) fn translate(&mut self, lin: u32, access: Access) -> Result<PhysAddr, Exception> {
        if !self.sregs.cr0.contains(Cr0::PG) {
            return Ok(PhysAddr(u64::from(lin)));
        }
        if let Some(pa) = self.tlb_hit(lin, access) {
            return Ok(pa);
        }
        self.translate_paged(lin, access)
    }

    /// The TLB hit path of a paged translation (see `Tlb::translate_hit`).
    #[inline(always)]
    fn tlb_hit(&mut self, lin: u32, access: Access) -> Option<PhysAddr> {
        let access = paging::Access {
            kind: access,
            user: self.sregs.cpl == 3,
        };
        let wp = self.sregs.cr0.contains(Cr0::WP);
        let xd = self.sregs.cr4.contains(Cr4::PAE) && self.sregs.efer & EFER_NXE != 0;
        self.tlb.translate_hit(LinearAddr(lin), access, wp, xd)
    }

    /// A translation the TLB does not serve: a walk. Each paging-structure entry the walk
    /// reads from memory costs the model's `walk_read_cost` cycles (see `model.rs`).
    #[cold]
    #[inline(never)]
    fn translate_paged(&mut self, lin: u32, access: Access) -> Result<PhysAddr, Exception> {
        let mode = self.paging_mode();
        let access = paging::Access {
            kind: access,
            user: self.sregs.cpl == 3,
        };
        let reads_before = self.tlb.walk_reads;
        // The caller's `tlb_hit` found no usable entry for this very access.
        let r = vtx32_mmu::tlb::translate_miss(
            &mut self.tlb,
            &mut self.mem,
            &mode,
            LinearAddr(lin),
            access,
        );
        let reads = self.tlb.walk_reads.wrapping_sub(reads_before);
        self.cycles += reads * u64::from(self.model.walk_read_cost);
        r.map_err(|pf| {
            self.sregs.cr2 = pf.linear.0;
            Exception::fault_code(vector::PF, pf.error_code)
        })
    }

    /// The short path of a `size`-byte data access at `seg:off`: when the segment's fast
    /// flags and limit pass and the access stays within one page, the physical address
    /// (paging off or a TLB hit) or the linear address to walk for (`Walk`: the TLB holds
    /// no usable entry). `Full` sends the caller to the full path, which does the same
    /// checks again and raises the faults; as nothing changes before `Walk` or `Full` is
    /// returned, each combination behaves exactly as the full path alone.
    #[inline(always)]
    pub(crate) fn data_access(
        &mut self,
        seg: SegReg,
        off: u32,
        size: u32,
        write: bool,
    ) -> DataAccess {
        if u64::from(off) + u64::from(size) > self.seg_end(seg, write) {
            return DataAccess::Full;
        }
        let lin = self.sregs.seg[seg as usize].base.wrapping_add(off);
        if lin & 0xFFF > 0x1000 - size {
            return DataAccess::Full;
        }
        if !self.sregs.cr0.contains(Cr0::PG) {
            return DataAccess::Pa(PhysAddr(u64::from(lin)));
        }
        match self.tlb_hit(lin, if write { Access::Write } else { Access::Read }) {
            Some(pa) => DataAccess::Pa(pa),
            None => DataAccess::Walk(lin),
        }
    }

    /// The paging controls of the current state (32-bit or PAE paging, §4.1).
    pub(crate) fn paging_mode(&self) -> paging::PagingMode {
        let cr4 = self.sregs.cr4;
        paging::PagingMode {
            cr3: self.sregs.cr3,
            pae: cr4.contains(Cr4::PAE),
            pse: cr4.contains(Cr4::PSE),
            pge: cr4.contains(Cr4::PGE),
            wp: self.sregs.cr0.contains(Cr0::WP),
            nxe: self.sregs.efer & EFER_NXE != 0,
            pdptes: self.pdptes,
        }
    }

    /// Loads the PDPTE registers when PAE paging is in use (SDM Vol. 3 §4.4.1); `false` if a
    /// present PDPTE has reserved bits set (the caller raises #GP(0)).
    pub(crate) fn load_pdptes_if_pae(&mut self) -> bool {
        if !(self.sregs.cr0.contains(Cr0::PG) && self.sregs.cr4.contains(Cr4::PAE)) {
            return true;
        }
        match paging::load_pdptes(&self.mem, self.sregs.cr3) {
            Ok(p) => {
                self.pdptes = p;
                true
            }
            Err(_) => false,
        }
    }

    /// Translates a code fetch.
    #[inline(always)]
    pub(crate) fn translate_fetch(&mut self, lin: u32) -> Result<PhysAddr, Exception> {
        self.translate(lin, Access::Execute)
    }

    /// Reads `size` (1, 2 or 4) bytes at linear address `lin`. An access that crosses a page
    /// boundary is translated page by page.
    #[inline(always)]
    pub(crate) fn read_linear(&mut self, lin: u32, size: u32) -> Result<u32, Exception> {
        if lin & 0xFFF > 0x1000 - size {
            return self.read_linear_split(lin, size);
        }
        let pa = self.translate(lin, Access::Read)?;
        Ok(match size {
            1 => u32::from(self.mem.read_u8(pa)),
            2 => u32::from(self.mem.read_u16(pa)),
            _ => self.mem.read_u32(pa),
        })
    }

    #[cold]
    fn read_linear_split(&mut self, lin: u32, size: u32) -> Result<u32, Exception> {
        let a = self.translate(lin, Access::Read)?;
        let b = self.translate((lin | 0xFFF).wrapping_add(1), Access::Read)?;
        let mut v = 0u32;
        for i in 0..size {
            let l = lin.wrapping_add(i);
            let pa = if (l ^ lin) & !0xFFF == 0 {
                PhysAddr(a.0 + u64::from(i))
            } else {
                PhysAddr(b.0 + u64::from(l & 0xFFF))
            };
            v |= u32::from(self.mem.read_u8(pa)) << (8 * i);
        }
        Ok(v)
    }

    /// Writes `size` bytes at linear address `lin`. Both pages of a split access are
    /// translated before any byte is written, so a fault leaves memory unchanged.
    #[inline(always)]
    pub(crate) fn write_linear(&mut self, lin: u32, size: u32, v: u32) -> Result<(), Exception> {
        if lin & 0xFFF > 0x1000 - size {
            return self.write_linear_split(lin, size, v);
        }
        let pa = self.translate(lin, Access::Write)?;
        match size {
            1 => self.mem.write_u8(pa, v as u8),
            2 => self.mem.write_u16(pa, v as u16),
            _ => self.mem.write_u32(pa, v),
        }
        Ok(())
    }

    #[cold]
    fn write_linear_split(&mut self, lin: u32, size: u32, v: u32) -> Result<(), Exception> {
        let a = self.translate(lin, Access::Write)?;
        let b = self.translate((lin | 0xFFF).wrapping_add(1), Access::Write)?;
        for i in 0..size {
            let l = lin.wrapping_add(i);
            let pa = if (l ^ lin) & !0xFFF == 0 {
                PhysAddr(a.0 + u64::from(i))
            } else {
                PhysAddr(b.0 + u64::from(l & 0xFFF))
            };
            self.mem.write_u8(pa, (v >> (8 * i)) as u8);
        }
        Ok(())
    }

    /// Checks that a write of `size` bytes at `seg:off` would succeed, without writing
    /// (used by instructions that must not change state before a later fault).
    pub(crate) fn probe_write(
        &mut self,
        seg: SegReg,
        off: u32,
        size: u32,
    ) -> Result<(), Exception> {
        let lin = self.seg_linear(seg, off, size, true)?;
        if self.sregs.cr0.contains(Cr0::PG) {
            // A probe must not set dirty bits on a page it then does not write: the
            // translations happen again when the write is done.
            let _ = self.translate(lin, Access::Write)?;
            if lin & 0xFFF > 0x1000 - size {
                let _ = self.translate((lin | 0xFFF).wrapping_add(1), Access::Write)?;
            }
        }
        Ok(())
    }

    /// Reads the memory operand of a read-modify-write instruction: the segment is checked
    /// for writing and the page(s) translated for writing before the read, so a fault reports
    /// a write access (W/R = 1 in the #PF error code), as locked and RMW operations do on
    /// Intel processors (SDM Vol. 3 §4.7: the access "was a write" for such operands).
    #[inline(always)]
    pub(crate) fn read_rmw(&mut self, seg: SegReg, off: u32, size: u32) -> Result<u32, Exception> {
        let lin = self.seg_linear(seg, off, size, true)?;
        if self.sregs.cr0.contains(Cr0::PG) {
            self.translate(lin, Access::Write)?;
            if lin & 0xFFF > 0x1000 - size {
                self.translate((lin | 0xFFF).wrapping_add(1), Access::Write)?;
            }
        }
        self.read_linear(lin, size)
    }

    /// Reads `size` bytes at `seg:off`.
    #[inline(always)]
    pub(crate) fn read_mem(&mut self, seg: SegReg, off: u32, size: u32) -> Result<u32, Exception> {
        match self.data_access(seg, off, size, false) {
            DataAccess::Pa(pa) => Ok(self.read_pa(pa, size)),
            DataAccess::Walk(lin) => {
                let pa = self.translate_paged(lin, Access::Read)?;
                Ok(self.read_pa(pa, size))
            }
            DataAccess::Full => self.read_mem_full(seg, off, size),
        }
    }

    /// The short path of [`Self::read_mem`] alone: `None` when it does not apply (nothing
    /// has changed then; the caller takes `read_mem`). Kept free of calls so that fast
    /// forms stay leaf functions on it.
    #[inline(always)]
    pub(crate) fn read_mem_short(&mut self, seg: SegReg, off: u32, size: u32) -> Option<u32> {
        match self.data_access(seg, off, size, false) {
            DataAccess::Pa(pa) => self.mem.read_ram(pa, size),
            _ => None,
        }
    }

    /// The short path of [`Self::write_mem`] alone: `false` when it does not apply
    /// (nothing has changed then).
    #[inline(always)]
    pub(crate) fn write_mem_short(&mut self, seg: SegReg, off: u32, size: u32, v: u32) -> bool {
        match self.data_access(seg, off, size, true) {
            DataAccess::Pa(pa) => self.mem.write_ram(pa, size, v),
            _ => false,
        }
    }

    #[inline(never)]
    fn read_mem_full(&mut self, seg: SegReg, off: u32, size: u32) -> Result<u32, Exception> {
        let lin = self.seg_linear(seg, off, size, false)?;
        self.read_linear(lin, size)
    }

    /// Reads `size` bytes at physical address `pa`.
    #[inline(always)]
    pub(crate) fn read_pa(&self, pa: PhysAddr, size: u32) -> u32 {
        match size {
            1 => u32::from(self.mem.read_u8(pa)),
            2 => u32::from(self.mem.read_u16(pa)),
            _ => self.mem.read_u32(pa),
        }
    }

    /// Writes `size` bytes at physical address `pa`.
    #[inline(always)]
    pub(crate) fn write_pa(&mut self, pa: PhysAddr, size: u32, v: u32) {
        match size {
            1 => self.mem.write_u8(pa, v as u8),
            2 => self.mem.write_u16(pa, v as u16),
            _ => self.mem.write_u32(pa, v),
        }
    }

    /// Writes `size` bytes at `seg:off`.
    #[inline(always)]
    pub(crate) fn write_mem(
        &mut self,
        seg: SegReg,
        off: u32,
        size: u32,
        v: u32,
    ) -> Result<(), Exception> {
        let pa = match self.data_access(seg, off, size, true) {
            DataAccess::Pa(pa) => pa,
            DataAccess::Walk(lin) => self.translate_paged(lin, Access::Write)?,
            DataAccess::Full => return self.write_mem_full(seg, off, size, v),
        };
        self.write_pa(pa, size, v);
        Ok(())
    }

    #[inline(never)]
    fn write_mem_full(
        &mut self,
        seg: SegReg,
        off: u32,
        size: u32,
        v: u32,
    ) -> Result<(), Exception> {
        let lin = self.seg_linear(seg, off, size, true)?;
        self.write_linear(lin, size, v)
    }

    /// Reads a system structure (descriptor tables, TSS, IVT) at a linear address with
    /// supervisor rights (SDM §4.6: implicit supervisor-mode accesses).
    pub(crate) fn read_sys(&mut self, lin: u32, size: u32) -> Result<u32, Exception> {
        if self.dbg.data {
            self.note_data_access(lin, size, false);
        }
        let cpl = self.sregs.cpl;
        self.sregs.cpl = 0;
        let r = self.read_linear(lin, size);
        self.sregs.cpl = cpl;
        r
    }

    /// Writes a system structure with supervisor rights.
    pub(crate) fn write_sys(&mut self, lin: u32, size: u32, v: u32) -> Result<(), Exception> {
        if self.dbg.data {
            self.note_data_access(lin, size, true);
        }
        let cpl = self.sregs.cpl;
        self.sregs.cpl = 0;
        let r = self.write_linear(lin, size, v);
        self.sregs.cpl = cpl;
        r
    }
}
