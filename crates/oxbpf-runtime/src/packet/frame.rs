//! Packet memory below 4 GiB: the only `unsafe` of the packet runner.
//!
//! The uapi contexts (`struct xdp_md`, `struct __sk_buff`) hold `data`, `data_end` and
//! `data_meta` as `__u32`; the kernel rewrites a program's 32-bit loads of them into
//! 64-bit pointer loads. Instead of rewriting programs, oxbpf maps packet memory with
//! `MAP_32BIT`, so every packet address fits in 32 bits and the zero-extended `__u32`
//! *is* the pointer: programs run unmodified on every engine.
//!
//! One mapping holds the context (first page) and the packet frame (from the second
//! page): `[ctx page | headroom | packet data | tailroom + room to grow]`.

use oxbpf_vm::{HelperCtx, MemoryRegion, RunContext};
use std::io;
use std::ptr::NonNull;

/// Bytes of the context page.
pub const CTX_PAGE: usize = 4096;

/// An anonymous private mapping below 4 GiB.
pub struct LowMem {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: `LowMem` owns its mapping exclusively (like a `Box<[u8]>`); access goes through
// `&self`/`&mut self` methods, so moving it to another thread is sound.
unsafe impl Send for LowMem {}

impl LowMem {
    /// Maps `len` zeroed bytes (rounded up to pages) with `MAP_32BIT`.
    pub fn new(len: usize) -> io::Result<LowMem> {
        let len = len.div_ceil(4096).max(1) * 4096;
        // SAFETY: an anonymous private mapping at an address the kernel chooses; no
        // existing memory is affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let end = p as u64 + len as u64;
        let Some(base) = NonNull::new(p as *mut u8).filter(|_| end <= u32::MAX as u64) else {
            // SAFETY: unmapping exactly the mapping created above.
            unsafe { libc::munmap(p, len) };
            return Err(io::Error::other("MAP_32BIT returned memory above 4 GiB"));
        };
        Ok(LowMem { base, len })
    }

    /// Address of the first byte.
    pub fn addr(&self) -> u64 {
        self.base.as_ptr() as u64
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The whole mapping.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes owned by `self`, alive while borrowed.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr(), self.len) }
    }

    /// The whole mapping, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as `as_slice`, and `&mut self` makes this the only access path.
        unsafe { std::slice::from_raw_parts_mut(self.base.as_ptr(), self.len) }
    }

    /// Raw access for helpers during one run (see [`RawFrame`]).
    pub fn raw(&mut self) -> RawFrame {
        RawFrame {
            base: self.addr(),
            len: self.len as u64,
        }
    }

    /// Grants `rc` access to `[start, start + len)`, which must lie inside this mapping.
    /// Returns false (and grants nothing) otherwise.
    pub fn grant(&mut self, rc: &mut RunContext<'_>, region: MemoryRegion) -> bool {
        if !self.raw().contains(region.start, region.len) {
            return false;
        }
        // SAFETY: the region lies inside this mapping, which the caller borrows mutably
        // for as long as `rc` runs (the runner holds `&mut LowMem` across the run), so it
        // stays valid and no Rust reference aliases it while the program runs.
        unsafe { rc.allow_raw(region) };
        true
    }
}

impl Drop for LowMem {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping this value owns; no borrow outlives `self`.
        unsafe { libc::munmap(self.base.as_ptr() as *mut libc::c_void, self.len) };
    }
}

/// The mapping as helpers see it during a run: bounds-checked raw operations. Made by
/// [`LowMem::raw`] for one run while the runner holds the mapping mutably, and used only
/// by this module's helpers during that run (fields private, no public constructor).
#[derive(Clone, Copy, Debug)]
pub struct RawFrame {
    base: u64,
    len: u64,
}

impl RawFrame {
    /// Whether `[addr, addr + len)` lies inside the mapping.
    pub fn contains(&self, addr: u64, len: u64) -> bool {
        addr >= self.base && len <= self.len && addr - self.base <= self.len - len
    }

    /// Copies `dst.len()` bytes at `addr` out. False if out of bounds.
    pub fn read(&self, addr: u64, dst: &mut [u8]) -> bool {
        if !self.contains(addr, dst.len() as u64) {
            return false;
        }
        // SAFETY: the source range is inside the live mapping (checked); `dst` is a
        // separate Rust buffer, and a program's memory outside the mapping never aliases
        // the mapping (it is ours alone).
        unsafe { std::ptr::copy(addr as *const u8, dst.as_mut_ptr(), dst.len()) };
        true
    }

    /// Copies `src` to `addr`. False if out of bounds.
    pub fn write(&self, addr: u64, src: &[u8]) -> bool {
        if !self.contains(addr, src.len() as u64) {
            return false;
        }
        // SAFETY: the destination is inside the live mapping (checked); `copy` tolerates
        // overlap should `src` come from the mapping too.
        unsafe { std::ptr::copy(src.as_ptr(), addr as *mut u8, src.len()) };
        true
    }

    /// Moves `len` bytes from `src` to `dst` (overlap allowed). False if out of bounds.
    pub fn memmove(&self, dst: u64, src: u64, len: u64) -> bool {
        if !self.contains(src, len) || !self.contains(dst, len) {
            return false;
        }
        // SAFETY: both ranges are inside the live mapping (checked); `copy` is memmove.
        unsafe { std::ptr::copy(src as *const u8, dst as *mut u8, len as usize) };
        true
    }

    /// Sets `len` bytes at `addr` to `byte`. False if out of bounds.
    pub fn fill(&self, addr: u64, len: u64, byte: u8) -> bool {
        if !self.contains(addr, len) {
            return false;
        }
        // SAFETY: the range is inside the live mapping (checked).
        unsafe { std::ptr::write_bytes(addr as *mut u8, byte, len as usize) };
        true
    }

    /// Grants the rest of the run access to `region`, which must lie inside the mapping.
    pub fn grant(&self, hctx: &mut HelperCtx<'_>, region: MemoryRegion) -> bool {
        if !self.contains(region.start, region.len) {
            return false;
        }
        // SAFETY: the region is inside the mapping, which stays mapped and unaliased for
        // the whole run (the runner holds it mutably until the run returns).
        unsafe { hctx.add_region(region) };
        true
    }
}
