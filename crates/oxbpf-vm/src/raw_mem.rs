//! Raw memory access: the only place in this crate (besides the JIT's code buffer) that
//! dereferences program-supplied addresses.
//!
//! Every function here is `unsafe`: the caller must have proved, with [`crate::Regions`]
//! or by construction (the engine's own stack), that the bytes are inside memory that is
//! valid for the access for the duration of the borrow. Accesses are unaligned-tolerant
//! (eBPF programs may do unaligned accesses in checked mode) and volatile-free: the memory
//! is ordinary memory owned by the run.
//!
//! # Concurrency
//!
//! Programs on several threads may share memory (map values) and use eBPF atomics on it
//! while other runs load and store the same bytes, as in Linux. A plain Rust load or store
//! racing with such an access would be a data race, undefined behaviour in Rust's memory
//! model. So [`load`] and [`store`] of naturally aligned 1, 2, 4 or 8 bytes are relaxed
//! atomic accesses (`AtomicU*::from_ptr`; on x86-64 they compile to the same plain `mov`s),
//! which may race with anything atomic. What remains outside the model:
//!
//! - Misaligned loads and stores (allowed in checked mode, never by the verifier) use
//!   `read_unaligned`/`write_unaligned`: no atomic type covers them. A misaligned access
//!   racing with another thread's write to the same bytes is still a data race.
//! - Differently sized atomic accesses to overlapping bytes (a program's 4-byte store into
//!   a value another thread reads with 8 bytes) are mixed-size atomics, which Rust's model
//!   does not define when they race; the hardware treats them like any other access.
//! - Helpers copy through ordinary slices ([`slice`], [`slice_mut`]); racing programs on
//!   other threads can tear what they copy, and strictly it is a data race too. Linux
//!   helpers have the same tearing (the map layer's own data is protected by its locks).
//!
//! eBPF code compiled by the JIT accesses memory with plain machine instructions, outside
//! the Rust model altogether.

use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};

/// Borrows `len` bytes at `addr`.
///
/// # Safety
/// `[addr, addr + len)` must be readable memory that stays valid and is not written through
/// another path while the slice lives.
#[inline]
pub unsafe fn slice<'a>(addr: u64, len: usize) -> &'a [u8] {
    // SAFETY: the caller guarantees the range is valid for reads for 'a.
    unsafe { std::slice::from_raw_parts(addr as *const u8, len) }
}

/// Mutably borrows `len` bytes at `addr`.
///
/// # Safety
/// `[addr, addr + len)` must be writable memory that stays valid and is not accessed
/// through another path while the slice lives.
#[inline]
pub unsafe fn slice_mut<'a>(addr: u64, len: usize) -> &'a mut [u8] {
    // SAFETY: the caller guarantees the range is valid and exclusively ours for 'a.
    unsafe { std::slice::from_raw_parts_mut(addr as *mut u8, len) }
}

/// Sets `len` bytes at `addr` to zero (the bytes may be uninitialised before).
///
/// # Safety
/// `[addr, addr + len)` must be writable memory not accessed through another path during
/// the call.
#[inline]
pub unsafe fn zero(addr: u64, len: usize) {
    // SAFETY: the caller guarantees `len` writable bytes at `addr`; `write_bytes` does not
    // read them, so they may be uninitialised.
    unsafe { std::ptr::write_bytes(addr as *mut u8, 0, len) }
}

/// Loads `size` (1, 2, 4 or 8) bytes at `addr`, little-endian, zero-extended. Aligned
/// accesses are relaxed atomic loads (see the module docs).
///
/// # Safety
/// `[addr, addr + size)` must be readable.
#[inline(always)]
pub unsafe fn load(addr: u64, size: usize) -> u64 {
    const O: Ordering = Ordering::Relaxed;
    let p = addr as *mut u8;
    let aligned = addr & (size as u64 - 1) == 0;
    // SAFETY: the caller guarantees `size` readable bytes at `p`. The atomic views are
    // made only for naturally aligned addresses (`aligned`, and a byte is always aligned),
    // as `from_ptr` requires, and are only used for one relaxed load of at most 8 bytes:
    // that is allowed even on read-only memory (the exception for small relaxed loads in
    // `core::sync::atomic`, "Atomic accesses to read-only memory"), so regions granted from
    // shared slices are fine. Concurrent accesses from other threads are atomic (engines)
    // or the remaining caveats of the module docs. `read_unaligned` tolerates any
    // alignment.
    unsafe {
        match size {
            1 => AtomicU8::from_ptr(p).load(O) as u64,
            2 if aligned => AtomicU16::from_ptr(p as *mut u16).load(O) as u64,
            4 if aligned => AtomicU32::from_ptr(p as *mut u32).load(O) as u64,
            8 if aligned => AtomicU64::from_ptr(p as *mut u64).load(O),
            2 => (p as *const u16).read_unaligned() as u64,
            4 => (p as *const u32).read_unaligned() as u64,
            _ => (p as *const u64).read_unaligned(),
        }
    }
}

/// Stores the low `size` (1, 2, 4 or 8) bytes of `value` at `addr`. Aligned accesses are
/// relaxed atomic stores (see the module docs).
///
/// # Safety
/// `[addr, addr + size)` must be writable.
#[inline(always)]
pub unsafe fn store(addr: u64, size: usize, value: u64) {
    const O: Ordering = Ordering::Relaxed;
    let p = addr as *mut u8;
    let aligned = addr & (size as u64 - 1) == 0;
    // SAFETY: the caller guarantees `size` writable bytes at `p`; the atomic views are
    // made only for naturally aligned addresses, as for `load`. `write_unaligned`
    // tolerates any alignment.
    unsafe {
        match size {
            1 => AtomicU8::from_ptr(p).store(value as u8, O),
            2 if aligned => AtomicU16::from_ptr(p as *mut u16).store(value as u16, O),
            4 if aligned => AtomicU32::from_ptr(p as *mut u32).store(value as u32, O),
            8 if aligned => AtomicU64::from_ptr(p as *mut u64).store(value, O),
            2 => (p as *mut u16).write_unaligned(value as u16),
            4 => (p as *mut u32).write_unaligned(value as u32),
            _ => (p as *mut u64).write_unaligned(value),
        }
    }
}

/// The read-modify-write operations of `BPF_ATOMIC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rmw {
    Add,
    Or,
    And,
    Xor,
    Xchg,
}

/// Atomically applies `op` with `operand` to the `size`-byte (4 or 8) value at `addr` with
/// sequentially consistent ordering, as Linux does for eBPF atomics; returns the old value
/// (zero-extended).
///
/// # Safety
/// `[addr, addr + size)` must be writable and aligned to `size` (atomics require natural
/// alignment on every architecture; callers fall back or fault on misalignment).
#[inline]
pub unsafe fn atomic_rmw(addr: u64, size: usize, op: Rmw, operand: u64) -> u64 {
    const O: Ordering = Ordering::SeqCst;
    // SAFETY: the caller guarantees an aligned, writable location of the given size, which
    // is exactly what the atomic types require.
    unsafe {
        if size == 4 {
            let a = &*(addr as *const AtomicU32);
            let v = operand as u32;
            (match op {
                Rmw::Add => a.fetch_add(v, O),
                Rmw::Or => a.fetch_or(v, O),
                Rmw::And => a.fetch_and(v, O),
                Rmw::Xor => a.fetch_xor(v, O),
                Rmw::Xchg => a.swap(v, O),
            }) as u64
        } else {
            let a = &*(addr as *const AtomicU64);
            match op {
                Rmw::Add => a.fetch_add(operand, O),
                Rmw::Or => a.fetch_or(operand, O),
                Rmw::And => a.fetch_and(operand, O),
                Rmw::Xor => a.fetch_xor(operand, O),
                Rmw::Xchg => a.swap(operand, O),
            }
        }
    }
}

/// Atomic compare-and-exchange of the `size`-byte (4 or 8) value at `addr`: if it equals
/// `expected` (truncated to `size`), store `new`. Returns the old value, zero-extended.
///
/// # Safety
/// As for [`atomic_rmw`].
#[inline]
pub unsafe fn atomic_cmpxchg(addr: u64, size: usize, expected: u64, new: u64) -> u64 {
    const O: Ordering = Ordering::SeqCst;
    // SAFETY: as for `atomic_rmw`.
    unsafe {
        if size == 4 {
            let a = &*(addr as *const AtomicU32);
            match a.compare_exchange(expected as u32, new as u32, O, O) {
                Ok(v) | Err(v) => v as u64,
            }
        } else {
            let a = &*(addr as *const AtomicU64);
            match a.compare_exchange(expected, new, O, O) {
                Ok(v) | Err(v) => v,
            }
        }
    }
}

/// Load-acquire of `size` (1, 2, 4, 8) bytes at `addr`, zero-extended.
///
/// # Safety
/// `[addr, addr + size)` must be readable and aligned to `size`.
#[inline]
pub unsafe fn load_acquire(addr: u64, size: usize) -> u64 {
    const O: Ordering = Ordering::Acquire;
    // SAFETY: the caller guarantees an aligned, readable location of the given size.
    unsafe {
        match size {
            1 => (*(addr as *const AtomicU8)).load(O) as u64,
            2 => (*(addr as *const AtomicU16)).load(O) as u64,
            4 => (*(addr as *const AtomicU32)).load(O) as u64,
            _ => (*(addr as *const AtomicU64)).load(O),
        }
    }
}

/// Store-release of the low `size` (1, 2, 4, 8) bytes of `value` at `addr`.
///
/// # Safety
/// `[addr, addr + size)` must be writable and aligned to `size`.
#[inline]
pub unsafe fn store_release(addr: u64, size: usize, value: u64) {
    const O: Ordering = Ordering::Release;
    // SAFETY: the caller guarantees an aligned, writable location of the given size.
    unsafe {
        match size {
            1 => (*(addr as *const AtomicU8)).store(value as u8, O),
            2 => (*(addr as *const AtomicU16)).store(value as u16, O),
            4 => (*(addr as *const AtomicU32)).store(value as u32, O),
            _ => (*(addr as *const AtomicU64)).store(value, O),
        }
    }
}
