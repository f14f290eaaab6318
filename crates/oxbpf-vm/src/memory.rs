//! Memory regions a program may touch, and the checks made against them.
//!
//! eBPF programs use real host addresses (pointers are plain `u64`s in registers). In
//! checked mode every load and store is looked up here first; an address that is not inside
//! a region the run was given is a fault, never a host access.
//!
//! Checked accesses from safe code ([`Regions::slice`] and friends) are sound because a
//! [`Regions`] that safe code can reach only holds valid memory: see "Why the safe API is
//! sound" on [`Regions`].

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

/// One region and the stamp it got when it was added (see [`Regions::mark`]).
#[derive(Clone, Copy, Debug)]
struct Entry {
    r: MemoryRegion,
    /// The generation right after the push that added it: stamps grow with the position.
    stamp: u64,
}

const NO_ENTRY: Entry = Entry {
    r: MemoryRegion::new(0, 0, false, RegionKind::Embedder),
    stamp: 0,
};

/// A point in the history of a [`Regions`]: [`Regions::release`] removes every region
/// added after it, whatever was removed in between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionsMark(u64);

/// The regions of one run. Holds up to eight regions without allocating; more spill to
/// the heap. Lookups scan linearly, most recently added last-in-first: runs have a handful
/// of regions.
///
/// A generation counter ([`Regions::generation`]) changes whenever the set changes
/// ([`Regions::push`] of a non-empty region, a [`Regions::remove`] that removed one, a
/// [`Regions::truncate`] or [`Regions::release`] that dropped one), so engines can keep
/// lookup caches across helper calls that changed nothing.
///
/// # Why the safe API is sound
///
/// [`Regions::slice`], [`Regions::slice_mut`] and [`Regions::c_str`] are safe functions
/// that dereference the addresses of the regions. They rely on one invariant: **every
/// region of a `Regions` that safe code can reach is valid memory for as long as safe
/// code can reach it.** It holds because:
///
/// - Regions are only added under `unsafe` ([`Regions::push`], [`RegionsMut::push`],
///   [`crate::RunContext::allow_raw`], [`crate::HelperCtx::add_region`]), whose callers
///   promise validity, or by APIs that tie the memory to a borrow
///   ([`crate::RunContext::allow`] and friends: the context cannot outlive the borrow).
/// - A `Regions` cannot be duplicated in safe code (no `Clone`): a copy would outlive the
///   borrows and the run its regions depend on.
/// - A context's or a running engine's regions are never handed to safe code as
///   `&mut Regions` (with which `std::mem::swap`/`take` could move them out, away from the
///   lifetime that keeps them valid), only as `&Regions` or as a [`RegionsMut`] view: a view
///   checks writes, removes regions and adds them under `unsafe`, but cannot move or
///   replace the set behind it. [`crate::RunContext`] keeps its regions private.
/// - Engines add their own memory (stack frames) only while a run is in progress, and
///   when the run ends they [`Regions::release`] everything added since it started (the
///   stack, and regions helpers added "for the rest of the run"), by stamp rather than by
///   count, so a helper that removed one of the run's initial regions cannot make a
///   region it added outlive the run.
/// - Removing regions is always safe: fewer regions only refuse more accesses.
#[derive(Debug)]
pub struct Regions {
    inline: [Entry; INLINE],
    n: usize,
    extra: Vec<Entry>,
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
            inline: [NO_ENTRY; INLINE],
            n: 0,
            extra: Vec::new(),
            generation: 0,
        }
    }

    /// A copy with the same regions. Engines give a tail-call target a copy of the run's
    /// regions; the copy is dropped before the run goes on.
    pub(crate) fn duplicate(&self) -> Regions {
        Regions {
            inline: self.inline,
            n: self.n,
            extra: self.extra.clone(),
            generation: self.generation,
        }
    }

    /// A number that changes whenever a region is added or removed (it never changes
    /// otherwise, and it only grows). Two equal values taken from the same `Regions` mean
    /// the same set of regions, so a region found between them is still there.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Adds a region. Empty regions are ignored.
    ///
    /// # Safety
    /// `[r.start, r.start + r.len)` must be memory that is valid for reads (and, if
    /// `r.writable`, for writes, not aliased by Rust references) for as long as these
    /// regions are used or until the region is removed: [`Regions::slice`],
    /// [`Regions::slice_mut`] and the engines dereference addresses inside it.
    pub unsafe fn push(&mut self, r: MemoryRegion) {
        if r.len == 0 {
            return;
        }
        self.generation = self.generation.wrapping_add(1);
        let e = Entry {
            r,
            stamp: self.generation,
        };
        if self.n < INLINE {
            self.inline[self.n] = e;
            self.n += 1;
        } else {
            self.extra.push(e);
        }
    }

    /// Removes the most recently added region of `kind` that starts at `start`, if any.
    pub fn remove(&mut self, start: u64, kind: RegionKind) -> Option<MemoryRegion> {
        let is = |e: &Entry| e.r.start == start && e.r.kind == kind;
        if let Some(i) = self.extra.iter().rposition(is) {
            self.generation = self.generation.wrapping_add(1);
            return Some(self.extra.remove(i).r);
        }
        let i = self.inline[..self.n].iter().rposition(is)?;
        self.generation = self.generation.wrapping_add(1);
        let r = self.inline[i].r;
        self.inline.copy_within(i + 1..self.n, i);
        self.n -= 1;
        if let Some(e) = (!self.extra.is_empty()).then(|| self.extra.remove(0)) {
            self.inline[self.n] = e;
            self.n += 1;
        }
        Some(r)
    }

    /// Keeps the first `len` regions (in insertion order) and drops the rest.
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

    /// The present point of the history, for [`Regions::release`].
    #[inline]
    pub fn mark(&self) -> RegionsMark {
        RegionsMark(self.generation)
    }

    /// Removes every region added after `mark` was taken (regions removed since stay
    /// removed). Engines use it when a run ends, to forget the regions they and the
    /// helpers added during the run.
    pub fn release(&mut self, mark: RegionsMark) {
        let newer = self
            .entries()
            .rev()
            .take_while(|e| e.stamp > mark.0)
            .count();
        self.truncate(self.len() - newer);
    }

    fn entries(&self) -> impl DoubleEndedIterator<Item = &Entry> {
        self.inline[..self.n].iter().chain(self.extra.iter())
    }

    /// All regions, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &MemoryRegion> {
        self.entries().map(|e| &e.r)
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
        let hit = |e: &&Entry| e.r.contains(addr, size);
        self.inline[..self.n]
            .iter()
            .rev()
            .find(hit)
            .or_else(|| self.extra.iter().rev().find(hit))
            .map(|e| &e.r)
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
        // SAFETY: `check` proved [addr, addr+len) lies inside a region, and every region of
        // a `Regions` safe code can reach is valid while it can reach it (the invariant of
        // the type's documentation): whoever added it promised so (`push` is `unsafe`), and
        // `&self` keeps this set (and so the region) in place for the slice's lifetime.
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

/// A view of a [`Regions`] that may change it without being able to move it: checked
/// writes, removals, and additions under `unsafe`. This is how embedders and helpers get
/// at the regions of a run context or of a run in progress (see the soundness notes on
/// [`Regions`]); reads go through `Deref<Target = Regions>`.
#[derive(Debug)]
pub struct RegionsMut<'r> {
    pub(crate) regions: &'r mut Regions,
}

impl<'r> RegionsMut<'r> {
    /// A view of `regions`.
    #[inline]
    pub fn new(regions: &'r mut Regions) -> RegionsMut<'r> {
        RegionsMut { regions }
    }

    /// A shorter-lived view of the same regions.
    #[inline]
    pub fn reborrow(&mut self) -> RegionsMut<'_> {
        RegionsMut {
            regions: &mut *self.regions,
        }
    }

    /// Borrows `len` writable bytes at `addr` after checking them.
    #[inline]
    pub fn slice_mut(&mut self, addr: u64, len: usize) -> Result<&mut [u8], AccessFault> {
        self.regions.slice_mut(addr, len)
    }

    /// Adds a region (see [`Regions::push`]).
    ///
    /// # Safety
    /// The region must stay valid (and, if writable, not aliased by Rust references) for
    /// as long as the regions behind this view are used: for a run context's regions, as
    /// long as the context is used; for a helper's view, until the run ends.
    #[inline]
    pub unsafe fn push(&mut self, r: MemoryRegion) {
        // SAFETY: forwarded to this function's caller.
        unsafe { self.regions.push(r) }
    }

    /// Removes the most recently added region of `kind` that starts at `start`, if any.
    #[inline]
    pub fn remove(&mut self, start: u64, kind: RegionKind) -> Option<MemoryRegion> {
        self.regions.remove(start, kind)
    }
}

impl std::ops::Deref for RegionsMut<'_> {
    type Target = Regions;

    #[inline]
    fn deref(&self) -> &Regions {
        self.regions
    }
}

impl<'r> From<&'r mut Regions> for RegionsMut<'r> {
    #[inline]
    fn from(regions: &'r mut Regions) -> RegionsMut<'r> {
        RegionsMut::new(regions)
    }
}

impl<'r> From<&'r mut RegionsMut<'_>> for RegionsMut<'r> {
    #[inline]
    fn from(view: &'r mut RegionsMut<'_>) -> RegionsMut<'r> {
        view.reborrow()
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
        let copy = rs.duplicate();
        assert_eq!(copy.generation(), rs.generation());
        assert!(copy.iter().eq(rs.iter()));
    }

    #[test]
    fn release_forgets_what_came_after_the_mark_only() {
        let mut rs = Regions::new();
        let r = |i: u64, kind| MemoryRegion::new(i * 100, 10, true, kind);
        for i in 0..3 {
            // SAFETY: this test only checks addresses, it never dereferences them.
            unsafe { rs.push(r(i, RegionKind::Context)) };
        }
        let mark = rs.mark();
        for i in 3..12 {
            // SAFETY: as above.
            unsafe { rs.push(r(i, RegionKind::MapValue)) };
        }
        // An earlier region removed after the mark stays removed, and does not shift
        // what the mark keeps (a count-based truncate would keep region 3 here).
        assert!(rs.remove(100, RegionKind::Context).is_some());
        let g = rs.generation();
        rs.release(mark);
        assert_ne!(rs.generation(), g);
        let left: Vec<u64> = rs.iter().map(|r| r.start).collect();
        assert_eq!(left, [0, 200]);
        let g = rs.generation();
        rs.release(mark);
        assert_eq!(rs.generation(), g, "nothing newer: no change");

        // Nested marks, the inner released first.
        let outer = rs.mark();
        // SAFETY: as above.
        unsafe { rs.push(r(20, RegionKind::Stack)) };
        let inner = rs.mark();
        // SAFETY: as above.
        unsafe { rs.push(r(21, RegionKind::Stack)) };
        rs.release(inner);
        assert_eq!(rs.len(), 3);
        rs.release(outer);
        assert_eq!(rs.len(), 2);
    }

    #[test]
    fn a_view_checks_writes_and_removes() {
        let mut data = vec![1u8; 16];
        let addr = data.as_ptr() as u64;
        let mut rs = Regions::new();
        let mut v = RegionsMut::new(&mut rs);
        // SAFETY: `data` outlives `rs` and is not used otherwise while `rs` lives.
        unsafe { v.push(MemoryRegion::writable(&mut data, RegionKind::Embedder)) };
        v.slice_mut(addr + 4, 4).unwrap().fill(7);
        assert_eq!(v.slice(addr + 3, 3).unwrap(), [1, 7, 7]);
        assert!(v.slice_mut(addr + 14, 4).is_err());
        let mut w = RegionsMut::from(&mut v);
        assert!(w.remove(addr, RegionKind::Embedder).is_some());
        assert!(v.is_empty());
        drop(rs);
        assert_eq!(data[4..8], [7; 4]);
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
