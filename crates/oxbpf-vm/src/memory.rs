//! Memory regions a program may touch, and the checks made against them.
//!
//! eBPF programs use real host addresses (pointers are plain `u64`s in registers). In
//! checked mode every load and store is looked up here first; an address that is not inside
//! a region the run was given is a fault, never a host access.

use std::fmt;

/// What a region holds. Engines and helpers use it for diagnostics and for the rules that
/// differ per kind (packet regions end at `data_end`, stack regions belong to frames).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionKind {
    /// eBPF stack frames of the current run.
    Stack,
    /// The program's context (`r1` at entry).
    Context,
    /// Packet data (`data` .. `data_end`).
    Packet,
    /// The input buffer of a plain VM run (conformance-style `r1`/`r2`).
    Input,
    /// Values stored in a map.
    MapValue,
    /// Constant data such as `.rodata` or string literals.
    ReadOnly,
    /// Memory an embedder registered.
    Embedder,
}

/// A contiguous range of host memory the program may access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    pub start: u64,
    pub len: u64,
    pub writable: bool,
    pub kind: RegionKind,
}

impl MemoryRegion {
    /// A region covering `len` bytes at `start`.
    pub const fn new(start: u64, len: u64, writable: bool, kind: RegionKind) -> MemoryRegion {
        MemoryRegion {
            start,
            len,
            writable,
            kind,
        }
    }

    /// A read-only region over a slice.
    pub fn readonly(data: &[u8], kind: RegionKind) -> MemoryRegion {
        MemoryRegion::new(data.as_ptr() as u64, data.len() as u64, false, kind)
    }

    /// A writable region over a slice.
    pub fn writable(data: &mut [u8], kind: RegionKind) -> MemoryRegion {
        MemoryRegion::new(data.as_mut_ptr() as u64, data.len() as u64, true, kind)
    }

    /// One past the last byte.
    pub const fn end(&self) -> u64 {
        self.start.wrapping_add(self.len)
    }

    /// True when `[addr, addr + size)` lies inside the region (no wrap-around).
    #[inline]
    pub const fn contains(&self, addr: u64, size: u64) -> bool {
        // `addr - start <= len - size` without overflow: both sides are checked first.
        addr >= self.start && size <= self.len && addr - self.start <= self.len - size
    }
}

/// Why an access was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultReason {
    /// No region contains the whole access.
    Unmapped,
    /// The region that contains it is read-only and the access is a write.
    ReadOnly(RegionKind),
}

/// A refused memory access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AccessFault {
    pub addr: u64,
    pub size: u64,
    pub write: bool,
    pub reason: FaultReason,
}

impl fmt::Display for AccessFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.write { "write" } else { "read" };
        match self.reason {
            FaultReason::Unmapped => write!(
                f,
                "{what} of {} bytes at 0x{:x} is outside every memory region of this run",
                self.size, self.addr
            ),
            FaultReason::ReadOnly(kind) => write!(
                f,
                "write of {} bytes at 0x{:x} into read-only {kind:?} memory",
                self.size, self.addr
            ),
        }
    }
}

const INLINE: usize = 8;

/// The regions of one run. Holds up to eight regions without allocating; more spill to
/// the heap. Lookups scan linearly, most recently added last-in-first: runs have a handful
/// of regions.
///
/// A generation counter ([`Regions::generation`]) changes whenever the set changes
/// ([`Regions::push`] of a non-empty region, a [`Regions::remove`] that removed one, a
/// [`Regions::truncate`] that dropped one), so engines can keep lookup caches across
/// helper calls that changed nothing.
#[derive(Clone, Debug)]
pub struct Regions {
    inline: [MemoryRegion; INLINE],
    n: usize,
    extra: Vec<MemoryRegion>,
    generation: u64,
}

impl Default for Regions {
    fn default() -> Self {
        Regions::new()
    }
}

impl Regions {
    /// No regions.
    pub const fn new() -> Regions {
        Regions {
            inline: [MemoryRegion::new(0, 0, false, RegionKind::Embedder); INLINE],
            n: 0,
            extra: Vec::new(),
            generation: 0,
        }
    }

    /// A number that changes whenever a region is added or removed (it never changes
    /// otherwise). Two equal values taken from the same `Regions` mean the same set of
    /// regions, so a region found between them is still there.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Adds a region. Empty regions are ignored.
    ///
    /// # Safety
    /// `[r.start, r.start + r.len)` must be memory that is valid for reads (and, if
    /// `r.writable`, for writes) for as long as these regions are used: [`Regions::slice`],
    /// [`Regions::slice_mut`] and the engines dereference addresses inside it.
    pub unsafe fn push(&mut self, r: MemoryRegion) {
        if r.len == 0 {
            return;
        }
        self.generation = self.generation.wrapping_add(1);
        if self.n < INLINE {
            self.inline[self.n] = r;
            self.n += 1;
        } else {
            self.extra.push(r);
        }
    }

    /// Removes the most recently added region of `kind` that starts at `start`, if any.
    pub fn remove(&mut self, start: u64, kind: RegionKind) -> Option<MemoryRegion> {
        if let Some(i) = self
            .extra
            .iter()
            .rposition(|r| r.start == start && r.kind == kind)
        {
            self.generation = self.generation.wrapping_add(1);
            return Some(self.extra.remove(i));
        }
        let i = self.inline[..self.n]
            .iter()
            .rposition(|r| r.start == start && r.kind == kind)?;
        self.generation = self.generation.wrapping_add(1);
        let r = self.inline[i];
        self.inline.copy_within(i + 1..self.n, i);
        self.n -= 1;
        if let Some(e) = (!self.extra.is_empty()).then(|| self.extra.remove(0)) {
            self.inline[self.n] = e;
            self.n += 1;
        }
        Some(r)
    }

    /// Keeps the first `len` regions (in insertion order) and drops the rest; engines use it
    /// to forget, when a run ends, the regions helpers added during the run.
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len() {
            return;
        }
        self.generation = self.generation.wrapping_add(1);
        if len < self.n {
            self.n = len;
            self.extra.clear();
        } else {
            self.extra.truncate(len - self.n);
        }
    }

    /// All regions, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &MemoryRegion> {
        self.inline[..self.n].iter().chain(self.extra.iter())
    }

    /// Number of regions.
    pub fn len(&self) -> usize {
        self.n + self.extra.len()
    }

    /// True when there are no regions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The region containing the whole access, if any.
    #[inline]
    pub fn find(&self, addr: u64, size: u64) -> Option<&MemoryRegion> {
        self.inline[..self.n]
            .iter()
            .rev()
            .find(|r| r.contains(addr, size))
            .or_else(|| self.extra.iter().rev().find(|r| r.contains(addr, size)))
    }

    /// Checks an access of `size` bytes at `addr`.
    #[inline]
    pub fn check(&self, addr: u64, size: u64, write: bool) -> Result<&MemoryRegion, AccessFault> {
        match self.find(addr, size) {
            Some(r) if !write || r.writable => Ok(r),
            Some(r) => Err(AccessFault {
                addr,
                size,
                write,
                reason: FaultReason::ReadOnly(r.kind),
            }),
            None => Err(AccessFault {
                addr,
                size,
                write,
                reason: FaultReason::Unmapped,
            }),
        }
    }

    /// Borrows `len` readable bytes at `addr` after checking them.
    pub fn slice(&self, addr: u64, len: usize) -> Result<&[u8], AccessFault> {
        if len == 0 {
            return Ok(&[]);
        }
        self.check(addr, len as u64, false)?;
        // SAFETY: `check` proved [addr, addr+len) lies inside a region, and whoever added the
        // region (see `push` callers: engines for their stacks, `RunContext` for slices it
        // borrows, embedders through `unsafe` APIs) guarantees it stays valid for the run.
        Ok(unsafe { crate::raw_mem::slice(addr, len) })
    }

    /// Borrows `len` writable bytes at `addr` after checking them.
    pub fn slice_mut(&mut self, addr: u64, len: usize) -> Result<&mut [u8], AccessFault> {
        if len == 0 {
            return Ok(&mut []);
        }
        self.check(addr, len as u64, true)?;
        // SAFETY: as in `slice`, and the region is writable.
        Ok(unsafe { crate::raw_mem::slice_mut(addr, len) })
    }

    /// Reads a NUL-terminated string of at most `max` bytes (NUL excluded) at `addr`, byte by
    /// byte within regions. Returns the bytes before the NUL; a string that runs out of
    /// mapped memory or past `max` is a fault at the first byte that could not be read.
    pub fn c_str(&self, addr: u64, max: usize) -> Result<&[u8], AccessFault> {
        let Some(r) = self.find(addr, 1) else {
            return Err(AccessFault {
                addr,
                size: 1,
                write: false,
                reason: FaultReason::Unmapped,
            });
        };
        let avail = (r.end() - addr).min(max as u64 + 1) as usize;
        // SAFETY: [addr, addr+avail) is inside region `r` (avail <= end - addr).
        let bytes = unsafe { crate::raw_mem::slice(addr, avail) };
        match bytes.iter().position(|&b| b == 0) {
            Some(n) => Ok(&bytes[..n]),
            None => Err(AccessFault {
                addr: addr + avail as u64,
                size: 1,
                write: false,
                reason: FaultReason::Unmapped,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_handles_edges_and_overflow() {
        let r = MemoryRegion::new(100, 10, true, RegionKind::Input);
        assert!(r.contains(100, 10));
        assert!(r.contains(109, 1));
        assert!(!r.contains(109, 2));
        assert!(!r.contains(99, 1));
        assert!(!r.contains(u64::MAX, 2));
        assert!(!r.contains(100, 11));
        assert!(r.contains(110, 0));
    }

    #[test]
    fn regions_check_and_remove() {
        let mut rs = Regions::new();
        for i in 0..12u64 {
            let r = MemoryRegion::new(i * 100, 10, i % 2 == 0, RegionKind::Embedder);
            // SAFETY: this test only checks addresses, it never dereferences them.
            unsafe { rs.push(r) };
        }
        assert_eq!(rs.len(), 12);
        assert!(rs.check(1100, 8, false).is_ok());
        assert_eq!(
            rs.check(100, 1, true).unwrap_err().reason,
            FaultReason::ReadOnly(RegionKind::Embedder)
        );
        assert_eq!(
            rs.check(50, 1, false).unwrap_err().reason,
            FaultReason::Unmapped
        );
        assert!(rs.remove(300, RegionKind::Embedder).is_some());
        assert_eq!(rs.len(), 11);
        assert!(rs.check(300, 1, false).is_err());
        assert!(rs.check(1100, 1, false).is_ok());
        rs.truncate(9);
        assert_eq!(rs.len(), 9);
        assert!(rs.check(1100, 1, false).is_err());
        assert!(rs.check(800, 1, false).is_ok());
        rs.truncate(3);
        assert_eq!(rs.len(), 3);
        assert!(rs.check(800, 1, false).is_err());
        assert!(rs.check(200, 1, false).is_ok());
        rs.truncate(5);
        assert_eq!(rs.len(), 3);
    }

    #[test]
    fn generation_changes_with_the_set_only() {
        let mut rs = Regions::new();
        let g0 = rs.generation();
        // SAFETY: this test only checks addresses, it never dereferences them.
        unsafe { rs.push(MemoryRegion::new(100, 0, true, RegionKind::Embedder)) };
        assert_eq!(rs.generation(), g0, "empty regions are ignored");
        let _ = rs.check(100, 1, false);
        rs.truncate(5);
        assert!(rs.remove(100, RegionKind::Embedder).is_none());
        assert_eq!(rs.generation(), g0, "lookups and no-op changes keep it");
        // SAFETY: as above.
        unsafe { rs.push(MemoryRegion::new(100, 10, true, RegionKind::Embedder)) };
        let g1 = rs.generation();
        assert_ne!(g1, g0);
        for i in 0..10u64 {
            // SAFETY: as above.
            unsafe {
                rs.push(MemoryRegion::new(
                    1000 + i * 100,
                    10,
                    true,
                    RegionKind::Stack,
                ))
            };
        }
        let g2 = rs.generation();
        assert!(rs.remove(1900, RegionKind::Stack).is_some());
        let g3 = rs.generation();
        assert_ne!(g3, g2);
        assert!(rs.remove(1000, RegionKind::Stack).is_some());
        assert_ne!(rs.generation(), g3);
        let g4 = rs.generation();
        rs.truncate(1);
        assert_ne!(rs.generation(), g4);
        let copy = rs.clone();
        assert_eq!(copy.generation(), rs.generation());
    }

    #[test]
    fn c_str_reads_until_nul() {
        let data = b"hello\0world".to_vec();
        let mut rs = Regions::new();
        // SAFETY: `data` outlives `rs`.
        unsafe { rs.push(MemoryRegion::readonly(&data, RegionKind::ReadOnly)) };
        assert_eq!(rs.c_str(data.as_ptr() as u64, 64).unwrap(), b"hello");
        assert!(rs.c_str(data.as_ptr() as u64 + 6, 64).is_err());
        assert!(rs.c_str(data.as_ptr() as u64, 3).is_err());
    }
}
