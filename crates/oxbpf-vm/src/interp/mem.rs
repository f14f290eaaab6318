//! Checked memory of one interpreter run: the eBPF stack and the run's [`Regions`].
//!
//! This is the interpreter's only module with `unsafe` code. Every access is checked here
//! (against the live part of the stack, then against the regions) before it is handed to
//! [`crate::raw_mem`], which does the actual dereference.
//!
//! # The stack
//!
//! A run owns up to [`STACK_BYTES`] (= [`MAX_CALL_DEPTH`] × [`STACK_SIZE`]) bytes of stack,
//! held in a [`StackBuf`] on the host stack of the run function (no heap allocation per
//! run; a program that cannot enter a second frame gets a one-frame buffer). Frame 0 (the
//! program's own) is the top 512 bytes; each bpf-to-bpf call takes the next 512 bytes
//! down. `r10` is one past the top of the current frame. The *live stack* is
//! `[r10 - 512, top)`: the current frame and every caller's frame, so a pointer to a
//! caller's stack buffer passed down to a callee stays usable (Linux allows this too).
//! Frames deeper than the current one are not accessible.
//!
//! Each frame is zero-filled when it is entered (frame 0 when the run starts, a callee's
//! frame at each call), so a program that reads stack it never wrote reads zeros, the same
//! in every run and in every engine.
//!
//! A program whose `r10` never leaves the base position of loads and stores with constant
//! offsets, and which makes no calls, can only ever name the bytes those accesses reach:
//! the interpreter works out the lowest of them, `r10 - frame` (`frame` rounded up to a
//! power of two, at least 64), and then zeroes and exposes only `[r10 - frame, r10)` (the live stack of
//! such a run). The rest of its frame cannot be addressed by the program, so nothing it
//! can observe changes, and a run of a program with a small frame costs no 512-byte fill.

use crate::memory::{AccessFault, MemoryRegion, RegionKind, Regions, RegionsMark};
use crate::raw_mem;
use crate::{MAX_CALL_DEPTH, STACK_SIZE};
use std::marker::PhantomData;
use std::mem::MaybeUninit;

/// Bytes of stack a run of a program that calls functions owns: [`MAX_CALL_DEPTH`] frames
/// of [`STACK_SIZE`] bytes.
pub const STACK_BYTES: usize = MAX_CALL_DEPTH * STACK_SIZE;

/// The stack memory of one run (`N` bytes, a multiple of [`STACK_SIZE`]), 64-byte aligned
/// so that `r10` and every frame are aligned for any access size (atomics on the stack
/// need natural alignment).
#[repr(C, align(64))]
pub struct StackBuf<const N: usize>(MaybeUninit<[u8; N]>);

impl<const N: usize> StackBuf<N> {
    /// Uninitialised stack memory; [`Mem::new`] zero-fills frames as they are entered.
    #[inline(always)]
    pub fn uninit() -> StackBuf<N> {
        StackBuf(MaybeUninit::uninit())
    }
}

/// The top part of each frame a run zero-fills and exposes: what the program can address
/// (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameSize {
    B64,
    B128,
    B256,
    /// The whole frame.
    B512,
}

impl FrameSize {
    /// The smallest size that covers `bytes` (the whole frame for more than 512).
    pub fn covering(bytes: usize) -> FrameSize {
        match bytes {
            0..=64 => FrameSize::B64,
            65..=128 => FrameSize::B128,
            129..=256 => FrameSize::B256,
            _ => FrameSize::B512,
        }
    }

    /// The size in bytes.
    #[inline(always)]
    pub fn bytes(self) -> usize {
        64 << (self as u8)
    }
}

/// Why an atomic access was refused.
#[derive(Clone, Copy, Debug)]
pub enum AtomicFault {
    Access(AccessFault),
    Misaligned,
}

/// An address range `[start, start + len)`, with the bound of the offset from `start` for
/// each access size (1, 2, 4, 8 bytes) precomputed, so that a check is a subtraction and
/// one compare.
#[derive(Clone, Copy)]
struct Window {
    start: u64,
    /// `below[k]`: accesses of `1 << k` bytes at offsets below this fit.
    below: [u64; 4],
}

impl Window {
    /// A window that contains nothing.
    const EMPTY: Window = Window {
        start: 0,
        below: [0; 4],
    };

    /// The window `[start, start + len)`.
    #[inline(always)]
    fn new(start: u64, len: u64) -> Window {
        let below = |size: u64| len.wrapping_add(1).saturating_sub(size);
        Window {
            start,
            below: [below(1), below(2), below(4), below(8)],
        }
    }

    /// True when `[addr, addr + size)` (`size` 1, 2, 4 or 8) lies inside: one compare, as
    /// an address below `start` wraps around to a huge offset.
    #[inline(always)]
    fn contains(&self, addr: u64, size: u64) -> bool {
        let k = size.trailing_zeros() as usize & 3;
        addr.wrapping_sub(self.start) < self.below[k]
    }
}

/// Checked access to the memory of one run. Dropping it forgets the regions helpers added
/// during the run (the run's [`Regions`] are released to their mark at the start).
pub struct Mem<'a> {
    /// The live stack `[lo, top)`.
    stack: Window,
    /// Last region a read was found in (reads may use read-only regions).
    rd: Window,
    /// Last writable region a write was found in.
    wr: Window,
    /// One past the highest stack address (frame 0's `r10`).
    top: u64,
    /// Lowest address of the stack buffer.
    bottom: u64,
    /// Bytes below `r10` that are live in each frame (`lo = r10 - frame`).
    frame: u64,
    regions: &'a mut Regions,
    initial_regions: RegionsMark,
    /// False for a callback's view ([`Mem::nested`]): regions helpers add during a
    /// callback stay for the rest of the run.
    truncate_on_drop: bool,
    _stack: PhantomData<&'a mut [u8]>,
}

/// The live stack of a run at a helper call, for running a callback below it
/// ([`Mem::stack_bounds`], [`Mem::nested`]).
#[derive(Clone, Copy, Debug)]
pub struct StackBounds {
    lo: u64,
    top: u64,
    bottom: u64,
    frame: u64,
}

impl<'a> Mem<'a> {
    /// Takes the stack for a run and zero-fills the live part of frame 0: its top `frame`
    /// bytes (what the program can address, see the module docs).
    #[inline]
    pub fn new<const N: usize>(
        stack: &'a mut StackBuf<N>,
        regions: &'a mut Regions,
        frame: FrameSize,
    ) -> Mem<'a> {
        const { assert!(N >= STACK_SIZE && N.is_multiple_of(STACK_SIZE)) };
        let size = frame;
        let frame = frame.bytes() as u64;
        let bottom = stack.0.as_mut_ptr() as *mut u8 as u64;
        let top = bottom + N as u64;
        let lo = top - frame;
        let initial_regions = regions.mark();
        let w = Window::new(lo, frame);
        // SAFETY: `[lo, top)` (`frame` bytes, 64 to 512) is the top of the `StackBuf` this
        // `Mem` borrows mutably for its whole life, and nothing else holds a reference into
        // it. (Constant sizes compile to a few stores.)
        unsafe {
            raw_mem::zero(top - 64, 64);
            match size {
                FrameSize::B64 => {}
                FrameSize::B128 => raw_mem::zero(lo, 64),
                FrameSize::B256 => raw_mem::zero(lo, 192),
                FrameSize::B512 => raw_mem::zero(lo, 448),
            }
        }
        Mem {
            stack: w,
            rd: Window::EMPTY,
            wr: Window::EMPTY,
            top,
            bottom,
            frame,
            regions,
            initial_regions,
            truncate_on_drop: true,
            _stack: PhantomData,
        }
    }

    /// The current live stack, for [`Mem::nested`].
    pub fn stack_bounds(&self) -> StackBounds {
        StackBounds {
            lo: self.stack.start,
            top: self.top,
            bottom: self.bottom,
            frame: self.frame,
        }
    }

    /// A view of the same run's memory for a callback made from a helper call: the live
    /// stack `bounds` (the caller's frames) and the regions the helper sees. The callback's
    /// frame is entered with [`Mem::enter_frame`]. Regions added while the view is used
    /// are kept when it is dropped.
    ///
    /// # Safety
    /// `bounds` must come from [`Mem::stack_bounds`] of the `Mem` of this run, taken for the
    /// helper call during which the view is used. That `Mem` must not be used while the
    /// view exists (it is inside `call_helper`).
    pub unsafe fn nested(bounds: StackBounds, regions: &'a mut Regions) -> Mem<'a> {
        let initial_regions = regions.mark();
        Mem {
            stack: Window::new(bounds.lo, bounds.top - bounds.lo),
            rd: Window::EMPTY,
            wr: Window::EMPTY,
            top: bounds.top,
            bottom: bounds.bottom,
            frame: bounds.frame,
            regions,
            initial_regions,
            truncate_on_drop: false,
            _stack: PhantomData,
        }
    }

    /// Frame 0's `r10` (the initial frame pointer).
    pub fn top(&self) -> u64 {
        self.top
    }

    /// The run's regions (without the stack; see [`Mem::call_helper`]).
    pub fn regions(&self) -> &Regions {
        self.regions
    }

    /// Sets the live stack to `[lo, top)`.
    #[inline]
    fn set_lo(&mut self, lo: u64) {
        self.stack = Window::new(lo, self.top - lo);
    }

    /// Enters a callee frame: moves the live stack bottom down by one frame and zero-fills
    /// the new frame. Returns the callee's `r10`, or `None` when the stack buffer has no
    /// room for another frame (the caller checks the depth limit first, so this does not
    /// happen with the buffer sizes the interpreter uses).
    #[inline]
    pub fn enter_frame(&mut self) -> Option<u64> {
        let lo = self.stack.start;
        let new_lo = lo.checked_sub(STACK_SIZE as u64)?;
        if new_lo < self.bottom {
            return None;
        }
        // SAFETY: `[new_lo, lo)` lies in the stack buffer (`bottom <= new_lo`, and `lo` is
        // inside it), which this run's `Mem` borrows mutably (or, for a callback's view,
        // which that `Mem` does not use while the view exists); nothing else holds a
        // reference into it.
        unsafe { raw_mem::zero(new_lo, STACK_SIZE) };
        self.set_lo(new_lo);
        Some(new_lo + self.frame)
    }

    /// Leaves the current callee frame. Returns the caller's `r10`.
    #[inline]
    pub fn leave_frame(&mut self) -> u64 {
        let lo = (self.stack.start + STACK_SIZE as u64).min(self.top - self.frame);
        self.set_lo(lo);
        lo + self.frame
    }

    /// Finds the region for an access that missed the fast paths and caches it.
    #[cold]
    #[inline(never)]
    fn lookup(&mut self, addr: u64, size: u64, write: bool) -> Result<(), AccessFault> {
        let r = self.regions.check(addr, size, write)?;
        let w = Window::new(r.start, r.len);
        if write {
            self.wr = w;
        } else {
            self.rd = w;
        }
        Ok(())
    }

    /// Checks a read of `size` bytes at `addr`: the live stack first, or, with
    /// `REGION_FIRST`, the cached region first (both orders give the same answer; the
    /// translation picks the one likelier to hit first).
    #[inline(always)]
    fn check_read<const REGION_FIRST: bool>(
        &mut self,
        addr: u64,
        size: u64,
    ) -> Result<(), AccessFault> {
        let (first, second) = if REGION_FIRST {
            (&self.rd, &self.stack)
        } else {
            (&self.stack, &self.rd)
        };
        if first.contains(addr, size) || second.contains(addr, size) {
            return Ok(());
        }
        self.lookup(addr, size, false)
    }

    /// Checks a write of `size` bytes at `addr` (see [`Mem::check_read`]).
    #[inline(always)]
    fn check_write<const REGION_FIRST: bool>(
        &mut self,
        addr: u64,
        size: u64,
    ) -> Result<(), AccessFault> {
        let (first, second) = if REGION_FIRST {
            (&self.wr, &self.stack)
        } else {
            (&self.stack, &self.wr)
        };
        if first.contains(addr, size) || second.contains(addr, size) {
            return Ok(());
        }
        self.lookup(addr, size, true)
    }

    /// Reads `N` (1, 2, 4, 8) bytes at `addr`, zero-extended (host byte order). With
    /// `REGION_FIRST` the cached region is checked before the stack.
    #[inline(always)]
    pub fn load<const N: usize, const REGION_FIRST: bool>(
        &mut self,
        addr: u64,
    ) -> Result<u64, AccessFault> {
        self.check_read::<REGION_FIRST>(addr, N as u64)?;
        // SAFETY: `check_read` proved `[addr, addr + N)` lies in the live stack (memory of
        // the borrowed `StackBuf`, all of it zero-filled when its frame was entered) or in a
        // region of the run, which its creator guarantees valid for the run.
        Ok(unsafe { raw_mem::load(addr, N) })
    }

    /// Writes the low `N` (1, 2, 4, 8) bytes of `value` at `addr`. With `REGION_FIRST` the
    /// cached region is checked before the stack.
    #[inline(always)]
    pub fn store<const N: usize, const REGION_FIRST: bool>(
        &mut self,
        addr: u64,
        value: u64,
    ) -> Result<(), AccessFault> {
        self.check_write::<REGION_FIRST>(addr, N as u64)?;
        // SAFETY: `check_write` proved `[addr, addr + N)` lies in the live stack or in a
        // writable region of the run.
        unsafe { raw_mem::store(addr, N, value) };
        Ok(())
    }

    fn check_atomic(&mut self, addr: u64, size: u64, write: bool) -> Result<(), AtomicFault> {
        let r = if write {
            self.check_write::<false>(addr, size)
        } else {
            self.check_read::<false>(addr, size)
        };
        r.map_err(AtomicFault::Access)?;
        if !addr.is_multiple_of(size) {
            return Err(AtomicFault::Misaligned);
        }
        Ok(())
    }

    /// Atomic read-modify-write of `size` (4 or 8) bytes; returns the old value.
    /// Bounds are checked before alignment.
    pub fn atomic_rmw(
        &mut self,
        addr: u64,
        size: u64,
        op: raw_mem::Rmw,
        operand: u64,
    ) -> Result<u64, AtomicFault> {
        self.check_atomic(addr, size, true)?;
        // SAFETY: checked writable and naturally aligned just above.
        Ok(unsafe { raw_mem::atomic_rmw(addr, size as usize, op, operand) })
    }

    /// Atomic compare-and-exchange of `size` (4 or 8) bytes; returns the old value.
    pub fn atomic_cmpxchg(
        &mut self,
        addr: u64,
        size: u64,
        expected: u64,
        new: u64,
    ) -> Result<u64, AtomicFault> {
        self.check_atomic(addr, size, true)?;
        // SAFETY: checked writable and naturally aligned just above.
        Ok(unsafe { raw_mem::atomic_cmpxchg(addr, size as usize, expected, new) })
    }

    /// Load-acquire of `size` (1, 2, 4, 8) bytes, zero-extended.
    pub fn load_acquire(&mut self, addr: u64, size: u64) -> Result<u64, AtomicFault> {
        self.check_atomic(addr, size, false)?;
        // SAFETY: checked readable and naturally aligned just above.
        Ok(unsafe { raw_mem::load_acquire(addr, size as usize) })
    }

    /// Store-release of the low `size` (1, 2, 4, 8) bytes of `value`.
    pub fn store_release(&mut self, addr: u64, size: u64, value: u64) -> Result<(), AtomicFault> {
        self.check_atomic(addr, size, true)?;
        // SAFETY: checked writable and naturally aligned just above.
        unsafe { raw_mem::store_release(addr, size as usize, value) };
        Ok(())
    }

    /// Legacy packet load: `size` (1, 2, 4) bytes at byte `offset` of the run's packet
    /// (the most recently added [`RegionKind::Packet`] region, else the most recently
    /// added [`RegionKind::Input`] region), converted from network byte order. `None` when
    /// there is no packet or the bytes are not all inside it.
    pub fn packet_load(&self, offset: i64, size: u64) -> Option<u64> {
        let pkt = self.packet()?;
        let offset = u64::try_from(offset).ok()?;
        if size > pkt.len || offset > pkt.len - size {
            return None;
        }
        let addr = pkt.start + offset;
        // SAFETY: `[addr, addr + size)` lies inside the packet region (checked above),
        // which its creator guarantees readable for the run.
        let v = unsafe { raw_mem::load(addr, size as usize) };
        Some(match size {
            1 => v,
            2 => u16::from_be(v as u16) as u64,
            _ => u32::from_be(v as u32) as u64,
        })
    }

    fn packet(&self) -> Option<MemoryRegion> {
        let find = |kind| {
            self.regions
                .iter()
                .filter(|r| r.kind == kind)
                .last()
                .copied()
        };
        find(RegionKind::Packet).or_else(|| find(RegionKind::Input))
    }

    /// Runs `f` (a helper call) with the run's regions plus the live stack as one writable
    /// [`RegionKind::Stack`] region `[r10 - 512, top)`, so helpers can use pointers into
    /// the current and the callers' frames. The stack region is removed afterwards and the
    /// lookup caches are dropped (the helper may have changed the regions).
    #[inline]
    pub(crate) fn call_helper<R>(&mut self, f: impl FnOnce(&mut Regions) -> R) -> R {
        let lo = self.stack.start;
        let stack = MemoryRegion::new(lo, self.top - lo, true, RegionKind::Stack);
        let n = self.regions.len();
        // SAFETY: `[lo, top)` is the run's own live stack, zero-filled or written, alive for
        // the whole run; the region is removed again before `call_helper` returns (at the
        // latest, should a helper have added another stack region at `lo` that is removed in
        // its place, when the run's `Mem` releases its mark, before the buffer is freed).
        unsafe { self.regions.push(stack) };
        let out = f(self.regions);
        // Usually the helper added nothing and the stack region is still the last one.
        if self.regions.len() == n + 1 && self.regions.iter().last() == Some(&stack) {
            self.regions.truncate(n);
        } else {
            self.regions.remove(lo, RegionKind::Stack);
        }
        self.rd = Window::EMPTY;
        self.wr = Window::EMPTY;
        out
    }
}

impl Drop for Mem<'_> {
    fn drop(&mut self) {
        if self.truncate_on_drop {
            self.regions.release(self.initial_regions);
        }
    }
}
