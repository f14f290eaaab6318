//! Checked memory of one interpreter run: the eBPF stack and the run's [`Regions`].
//!
//! This is the interpreter's only module with `unsafe` code. Every access is checked here
//! (against the live part of the stack, then against the regions) before it is handed to
//! [`crate::raw_mem`], which does the actual dereference.
//!
//! # The stack
//!
//! A run owns [`STACK_BYTES`] (= [`MAX_CALL_DEPTH`] × [`STACK_SIZE`]) bytes of stack, held in
//! a [`StackBuf`] on the host stack of the run function (no heap allocation per run). Frame
//! 0 (the program's own) is the top 512 bytes; each bpf-to-bpf call takes the next 512 bytes
//! down. `r10` is one past the top of the current frame. The *live stack* is
//! `[r10 - 512, top)`: the current frame and every caller's frame, so a pointer to a
//! caller's stack buffer passed down to a callee stays usable (Linux allows this too).
//! Frames deeper than the current one are not accessible.
//!
//! Each frame is zero-filled when it is entered (frame 0 when the run starts, a callee's
//! frame at each call), so a program that reads stack it never wrote reads zeros, the same
//! in every run and in every engine.

use crate::memory::{AccessFault, MemoryRegion, RegionKind, Regions};
use crate::raw_mem;
use crate::{MAX_CALL_DEPTH, STACK_SIZE};
use std::marker::PhantomData;
use std::mem::MaybeUninit;

/// Bytes of stack a run owns: [`MAX_CALL_DEPTH`] frames of [`STACK_SIZE`] bytes.
pub const STACK_BYTES: usize = MAX_CALL_DEPTH * STACK_SIZE;

/// The stack memory of one run, 64-byte aligned so that `r10` and every frame are aligned
/// for any access size (atomics on the stack need natural alignment).
#[repr(C, align(64))]
pub struct StackBuf(MaybeUninit<[u8; STACK_BYTES]>);

impl StackBuf {
    /// Uninitialised stack memory; [`Mem::new`] zero-fills frames as they are entered.
    #[inline(always)]
    pub fn uninit() -> StackBuf {
        StackBuf(MaybeUninit::uninit())
    }
}

/// Why an atomic access was refused.
#[derive(Clone, Copy, Debug)]
pub enum AtomicFault {
    Access(AccessFault),
    Misaligned,
}

/// An address range cached from a region lookup. `len == 0` never matches.
#[derive(Clone, Copy)]
struct Window {
    start: u64,
    len: u64,
}

impl Window {
    const EMPTY: Window = Window { start: 0, len: 0 };

    #[inline(always)]
    fn contains(self, addr: u64, size: u64) -> bool {
        size <= self.len && addr.wrapping_sub(self.start) <= self.len - size
    }
}

/// Checked access to the memory of one run. Dropping it forgets the regions helpers added
/// during the run (the run's [`Regions`] are restored to their length at the start).
pub struct Mem<'a> {
    /// Lowest live stack address: `r10 - 512` of the current frame.
    lo: u64,
    /// `top - lo`: the size of the live stack (at least 512).
    span: u64,
    /// One past the highest stack address (frame 0's `r10`).
    top: u64,
    /// Last region a read was found in (reads may use read-only regions).
    rd: Window,
    /// Last writable region a write was found in.
    wr: Window,
    regions: &'a mut Regions,
    initial_regions: usize,
    /// False for a callback's view ([`Mem::nested`]): regions helpers add during a
    /// callback stay for the rest of the run.
    truncate_on_drop: bool,
    _stack: PhantomData<&'a mut StackBuf>,
}

/// The live stack of a run at a helper call, for running a callback below it
/// ([`Mem::stack_bounds`], [`Mem::nested`]).
#[derive(Clone, Copy, Debug)]
pub struct StackBounds {
    lo: u64,
    span: u64,
    top: u64,
}

impl<'a> Mem<'a> {
    /// Takes the stack for a run and zero-fills frame 0.
    pub fn new(stack: &'a mut StackBuf, regions: &'a mut Regions) -> Mem<'a> {
        let base = stack.0.as_mut_ptr() as *mut u8 as u64;
        let top = base + STACK_BYTES as u64;
        let lo = top - STACK_SIZE as u64;
        let initial_regions = regions.len();
        let m = Mem {
            lo,
            span: STACK_SIZE as u64,
            top,
            rd: Window::EMPTY,
            wr: Window::EMPTY,
            regions,
            initial_regions,
            truncate_on_drop: true,
            _stack: PhantomData,
        };
        m.zero_frame();
        m
    }

    /// The current live stack, for [`Mem::nested`].
    pub fn stack_bounds(&self) -> StackBounds {
        StackBounds {
            lo: self.lo,
            span: self.span,
            top: self.top,
        }
    }

    /// A view of the same run's memory for a callback made from a helper call: the live
    /// stack `bounds` (the caller's frames) and the regions the helper sees. The callback's
    /// frame is entered with [`Mem::enter_frame`]. Regions added while the view is used
    /// are kept when it is dropped.
    ///
    /// # Safety
    /// `bounds` must come from [`Mem::stack_bounds`] of the `Mem` of this run, taken for the
    /// helper call during which the view is used, and fewer than `MAX_CALL_DEPTH` frames
    /// may be live in it (the caller checks the depth limit before entering a frame). That
    /// `Mem` must not be used while the view exists (it is inside `call_helper`).
    pub unsafe fn nested(bounds: StackBounds, regions: &'a mut Regions) -> Mem<'a> {
        let initial_regions = regions.len();
        Mem {
            lo: bounds.lo,
            span: bounds.span,
            top: bounds.top,
            rd: Window::EMPTY,
            wr: Window::EMPTY,
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

    fn zero_frame(&self) {
        // SAFETY: `[lo, lo + 512)` is one frame of the `StackBuf` this `Mem` borrows
        // mutably for its whole life, or, for a callback's view (`Mem::nested`), of the
        // `StackBuf` of the run's `Mem`, unused while the view exists (`lo` stays within the
        // buffer: `enter_frame` is only called while fewer than MAX_CALL_DEPTH frames are
        // live), and nothing else holds a reference into it.
        unsafe { raw_mem::zero(self.lo, STACK_SIZE) };
    }

    /// Enters a callee frame (the caller checked the depth limit): moves the live stack
    /// bottom down by one frame and zero-fills the new frame. Returns the callee's `r10`.
    #[inline]
    pub fn enter_frame(&mut self) -> u64 {
        debug_assert!(self.span < (MAX_CALL_DEPTH * STACK_SIZE) as u64);
        let fp = self.lo;
        self.lo -= STACK_SIZE as u64;
        self.span += STACK_SIZE as u64;
        self.zero_frame();
        fp
    }

    /// Leaves the current callee frame. Returns the caller's `r10`.
    #[inline]
    pub fn leave_frame(&mut self) -> u64 {
        debug_assert!(self.span > STACK_SIZE as u64);
        self.lo += STACK_SIZE as u64;
        self.span -= STACK_SIZE as u64;
        self.lo + STACK_SIZE as u64
    }

    #[inline(always)]
    fn on_stack(&self, addr: u64, size: u64) -> bool {
        // One compare: below `lo` wraps around to a huge value.
        addr.wrapping_sub(self.lo) <= self.span - size
    }

    /// Finds the region for an access that missed the fast paths and caches it.
    #[cold]
    #[inline(never)]
    fn lookup(&mut self, addr: u64, size: u64, write: bool) -> Result<(), AccessFault> {
        let r = self.regions.check(addr, size, write)?;
        let w = Window {
            start: r.start,
            len: r.len,
        };
        if write {
            self.wr = w;
        } else {
            self.rd = w;
        }
        Ok(())
    }

    /// Checks a read of `size` bytes at `addr`.
    #[inline(always)]
    fn check_read(&mut self, addr: u64, size: u64) -> Result<(), AccessFault> {
        if self.on_stack(addr, size) || self.rd.contains(addr, size) {
            return Ok(());
        }
        self.lookup(addr, size, false)
    }

    /// Checks a write of `size` bytes at `addr`.
    #[inline(always)]
    fn check_write(&mut self, addr: u64, size: u64) -> Result<(), AccessFault> {
        if self.on_stack(addr, size) || self.wr.contains(addr, size) {
            return Ok(());
        }
        self.lookup(addr, size, true)
    }

    /// Reads `N` (1, 2, 4, 8) bytes at `addr`, zero-extended (host byte order).
    #[inline(always)]
    pub fn load<const N: usize>(&mut self, addr: u64) -> Result<u64, AccessFault> {
        self.check_read(addr, N as u64)?;
        // SAFETY: `check_read` proved `[addr, addr + N)` lies in the live stack (memory of
        // the borrowed `StackBuf`, initialised because every frame is zero-filled on entry)
        // or in a region of the run, which its creator guarantees valid for the run.
        Ok(unsafe { raw_mem::load(addr, N) })
    }

    /// Writes the low `N` (1, 2, 4, 8) bytes of `value` at `addr`.
    #[inline(always)]
    pub fn store<const N: usize>(&mut self, addr: u64, value: u64) -> Result<(), AccessFault> {
        self.check_write(addr, N as u64)?;
        // SAFETY: `check_write` proved `[addr, addr + N)` lies in the live stack or in a
        // writable region of the run.
        unsafe { raw_mem::store(addr, N, value) };
        Ok(())
    }

    fn check_atomic(&mut self, addr: u64, size: u64, write: bool) -> Result<(), AtomicFault> {
        let r = if write {
            self.check_write(addr, size)
        } else {
            self.check_read(addr, size)
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
    pub fn call_helper<R>(&mut self, f: impl FnOnce(&mut Regions) -> R) -> R {
        let stack = MemoryRegion::new(self.lo, self.span, true, RegionKind::Stack);
        let n = self.regions.len();
        // SAFETY: `[lo, lo + span)` is the run's own stack, alive for the whole run; the
        // region is removed again before `call_helper` returns.
        unsafe { self.regions.push(stack) };
        let out = f(self.regions);
        // Usually the helper added nothing and the stack region is still the last one.
        if self.regions.len() == n + 1 && self.regions.iter().last() == Some(&stack) {
            self.regions.truncate(n);
        } else {
            self.regions.remove(self.lo, RegionKind::Stack);
        }
        self.rd = Window::EMPTY;
        self.wr = Window::EMPTY;
        out
    }
}

impl Drop for Mem<'_> {
    fn drop(&mut self) {
        if self.truncate_on_drop {
            self.regions.truncate(self.initial_regions);
        }
    }
}
