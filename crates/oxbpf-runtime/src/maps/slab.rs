//! Preallocated, stable, shared memory for map values: the only `unsafe` in the maps.
//!
//! A [`Slab`] is one zero-initialised allocation made when a map is created and freed when
//! the map is dropped; its address never changes. Programs receive raw pointers into it
//! (`bpf_map_lookup_elem`, `bpf_ringbuf_reserve`) and access it directly and concurrently,
//! with plain and atomic instructions, as in the kernel. Rust code therefore never forms
//! references to slab bytes: it copies in and out with relaxed atomic loads and stores, in
//! naturally aligned 8-byte words where possible and single bytes elsewhere, so concurrent
//! program atomics on 8-byte (or smaller) fields are never torn by a Rust-side copy.
//!
//! Large slabs come from `calloc`-style zeroed allocation, which the system allocator serves
//! with fresh anonymous pages: untouched slots cost address space, not resident memory.

use super::error::MapError;
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

/// Alignment of every slab: a cache line, which also satisfies every eBPF access size.
pub(crate) const SLAB_ALIGN: usize = 64;

/// A fixed block of zeroed memory shared with programs.
pub(crate) struct Slab {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the slab owns its allocation; all Rust-side accesses go through atomics (or raw
// pointers handed to programs, whose accesses are the engine's responsibility), so sharing
// and sending it between threads cannot create data races through this type's API.
unsafe impl Send for Slab {}
// SAFETY: as above.
unsafe impl Sync for Slab {}

impl std::fmt::Debug for Slab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Slab({:#x}, {} bytes)",
            self.ptr.as_ptr() as usize,
            self.len
        )
    }
}

impl Slab {
    /// Allocates `len` zeroed bytes (`ENOMEM` on failure or absurd sizes).
    pub(crate) fn new(map: &str, len: usize) -> Result<Slab, MapError> {
        let nomem = || MapError::NoMemory {
            map: map.to_string(),
            bytes: len as u64,
        };
        if len == 0 {
            // A dangling, well-aligned pointer: nothing is ever read or written through it.
            let ptr = NonNull::new(SLAB_ALIGN as *mut u8).ok_or_else(nomem)?;
            return Ok(Slab { ptr, len: 0 });
        }
        let layout = Layout::from_size_align(len, SLAB_ALIGN).map_err(|_| nomem())?;
        // SAFETY: `layout` has a non-zero size (checked above).
        let raw = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).ok_or_else(nomem)?;
        Ok(Slab { ptr, len })
    }

    /// Size in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Address of the first byte.
    pub(crate) fn addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    #[inline]
    fn check(&self, off: usize, n: usize) {
        // Offsets come from the maps' own bookkeeping, never from program input unchecked;
        // a violation is a bug in this crate and must not turn into an out-of-bounds access.
        assert!(
            off <= self.len && n <= self.len - off,
            "slab access [{off}, +{n}) outside {} bytes",
            self.len
        );
    }

    /// Pointer to byte `off` (`off <= len`).
    #[inline]
    pub(crate) fn ptr_at(&self, off: usize) -> NonNull<u8> {
        self.check(off, 0);
        // SAFETY: `off <= len`, so the result is inside the allocation or one past its end,
        // and it is non-null because the base is.
        unsafe { NonNull::new_unchecked(self.ptr.as_ptr().add(off)) }
    }

    #[inline]
    fn byte(&self, off: usize) -> &AtomicU8 {
        // SAFETY: callers checked `off < len`; AtomicU8 has alignment 1 and the memory is
        // valid for the slab's lifetime, which bounds the returned reference.
        unsafe { &*(self.ptr.as_ptr().add(off) as *const AtomicU8) }
    }

    #[inline]
    fn word(&self, off: usize) -> &AtomicU64 {
        debug_assert_eq!(off % 8, 0);
        // SAFETY: callers checked `off + 8 <= len` and `off % 8 == 0`; the base is 64-byte
        // aligned, so the address is 8-aligned as AtomicU64 requires, and valid for the
        // slab's lifetime.
        unsafe { &*(self.ptr.as_ptr().add(off) as *const AtomicU64) }
    }

    /// The aligned 4-byte word at `off` as an atomic.
    pub(crate) fn atomic_u32(&self, off: usize) -> &AtomicU32 {
        self.check(off, 4);
        assert_eq!(off % 4, 0, "unaligned atomic u32 at {off}");
        // SAFETY: in bounds (checked), 4-aligned (checked, base is 64-aligned), and valid
        // for the slab's lifetime.
        unsafe { &*(self.ptr.as_ptr().add(off) as *const AtomicU32) }
    }

    /// The aligned 8-byte word at `off` as an atomic.
    pub(crate) fn atomic_u64(&self, off: usize) -> &AtomicU64 {
        self.check(off, 8);
        assert_eq!(off % 8, 0, "unaligned atomic u64 at {off}");
        self.word(off)
    }

    /// Copies `out.len()` bytes at `off` into `out`.
    pub(crate) fn read(&self, off: usize, out: &mut [u8]) {
        self.check(off, out.len());
        let mut i = 0;
        let n = out.len();
        while i < n && !(off + i).is_multiple_of(8) {
            out[i] = self.byte(off + i).load(Ordering::Relaxed);
            i += 1;
        }
        while n - i >= 8 {
            let w = self.word(off + i).load(Ordering::Relaxed);
            out[i..i + 8].copy_from_slice(&w.to_ne_bytes());
            i += 8;
        }
        while i < n {
            out[i] = self.byte(off + i).load(Ordering::Relaxed);
            i += 1;
        }
    }

    /// Copies `data` to `off`.
    pub(crate) fn write(&self, off: usize, data: &[u8]) {
        self.check(off, data.len());
        let mut i = 0;
        let n = data.len();
        while i < n && !(off + i).is_multiple_of(8) {
            self.byte(off + i).store(data[i], Ordering::Relaxed);
            i += 1;
        }
        while n - i >= 8 {
            let mut w = [0u8; 8];
            w.copy_from_slice(&data[i..i + 8]);
            self.word(off + i)
                .store(u64::from_ne_bytes(w), Ordering::Relaxed);
            i += 8;
        }
        while i < n {
            self.byte(off + i).store(data[i], Ordering::Relaxed);
            i += 1;
        }
    }

    /// Zeroes `n` bytes at `off`.
    pub(crate) fn zero(&self, off: usize, n: usize) {
        self.check(off, n);
        let mut i = 0;
        while i < n && !(off + i).is_multiple_of(8) {
            self.byte(off + i).store(0, Ordering::Relaxed);
            i += 1;
        }
        while n - i >= 8 {
            self.word(off + i).store(0, Ordering::Relaxed);
            i += 8;
        }
        while i < n {
            self.byte(off + i).store(0, Ordering::Relaxed);
            i += 1;
        }
    }

    /// True when the `data.len()` bytes at `off` equal `data`.
    pub(crate) fn eq(&self, off: usize, data: &[u8]) -> bool {
        self.check(off, data.len());
        let mut i = 0;
        let n = data.len();
        while i < n && !(off + i).is_multiple_of(8) {
            if self.byte(off + i).load(Ordering::Relaxed) != data[i] {
                return false;
            }
            i += 1;
        }
        while n - i >= 8 {
            let w = self.word(off + i).load(Ordering::Relaxed);
            if w.to_ne_bytes() != data[i..i + 8] {
                return false;
            }
            i += 8;
        }
        while i < n {
            if self.byte(off + i).load(Ordering::Relaxed) != data[i] {
                return false;
            }
            i += 1;
        }
        true
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        // The layout was valid when allocating and len/align have not changed.
        if let Ok(layout) = Layout::from_size_align(self.len, SLAB_ALIGN) {
            // SAFETY: `ptr` was returned by `alloc_zeroed` with exactly this layout and is
            // freed once, here.
            unsafe { dealloc(self.ptr.as_ptr(), layout) }
        }
    }
}

/// A plain-old-data type: any bit pattern is a valid value and it has no padding, so it
/// can be copied to and from map bytes.
///
/// # Safety
/// Implement only for `Copy` types with no padding bytes, no pointers or references that
/// would be invalid when made from arbitrary bytes, and for which every bit pattern of
/// `size_of::<Self>()` bytes is a valid value (integers, arrays of them, `#[repr(C)]`
/// structs of them laid out without padding).
pub unsafe trait Pod: Copy + Send + Sync + 'static {}

macro_rules! pod {
    ($($t:ty),*) => { $(
        // SAFETY: primitive integers have no padding and every bit pattern is valid.
        unsafe impl Pod for $t {}
    )* };
}
pod!(
    (),
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize
);
// SAFETY: an array of Pod elements has no padding between elements (size is a multiple of
// alignment) and every element accepts any bit pattern.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

/// The bytes of a Pod value.
pub(crate) fn pod_bytes<T: Pod>(v: &T) -> &[u8] {
    // SAFETY: `T: Pod` has no padding, so all `size_of::<T>()` bytes behind `v` are
    // initialised; the slice borrows `v` and lives no longer than it.
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
}

/// A Pod value read from the first `size_of::<T>()` bytes of `b` (`None` when too short).
pub(crate) fn pod_read<T: Pod>(b: &[u8]) -> Option<T> {
    if b.len() < std::mem::size_of::<T>() {
        return None;
    }
    // SAFETY: `b` has at least size_of::<T>() readable bytes, read_unaligned tolerates any
    // alignment, and `T: Pod` accepts every bit pattern.
    Some(unsafe { (b.as_ptr() as *const T).read_unaligned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_round_trip_at_any_offset() {
        let s = Slab::new("t", 64).unwrap();
        assert_eq!(s.addr() % SLAB_ALIGN as u64, 0);
        let data: Vec<u8> = (1..=21).collect();
        for off in 0..20 {
            s.zero(0, 64);
            s.write(off, &data);
            let mut out = vec![0u8; 21];
            s.read(off, &mut out);
            assert_eq!(out, data);
            assert!(s.eq(off, &data));
            let mut all = [0u8; 64];
            s.read(0, &mut all);
            assert!(all[..off].iter().all(|&b| b == 0));
            assert!(all[off + 21..].iter().all(|&b| b == 0));
        }
        s.atomic_u64(8).fetch_add(5, Ordering::SeqCst);
        s.atomic_u32(16).store(7, Ordering::SeqCst);
        assert!(!s.eq(0, &[0; 64]));
    }

    #[test]
    #[should_panic(expected = "outside")]
    fn out_of_bounds_is_refused() {
        let s = Slab::new("t", 16).unwrap();
        let mut out = [0u8; 4];
        s.read(14, &mut out);
    }

    #[test]
    fn pod_round_trip() {
        let v: [u32; 3] = [1, 2, 0xdead_beef];
        let b = pod_bytes(&v).to_vec();
        assert_eq!(b.len(), 12);
        assert_eq!(pod_read::<[u32; 3]>(&b), Some(v));
        assert_eq!(pod_read::<u64>(&b[..4]), None);
    }
}
