//! The executable code buffer: anonymous memory that is written while it is
//! read-and-write, then switched to read-and-execute with `mprotect` before any code in it
//! runs. It is never writable and executable at once, and it is unmapped on drop.
//!
//! **Placement.** Code is mapped close to the code of this crate (below the executable's
//! or library's text, within about 100 MB), not where `mmap` puts anonymous memory by
//! default (near the top of the address space, tens of TB away). Calls between Rust and
//! JIT code are indirect calls in both directions (running a program, helpers, memory
//! checks), and on the AMD EPYC machines this project measures on an indirect call to a
//! target that far from the call site costs about 0.8 ns more than to a near one
//! (`xor eax, eax; ret` through a pointer: 2.2 ns against 1.4 ns, the cost of a native
//! function), a third of an empty program's run. Mappings are placed downwards from a
//! randomised start (16 to 80 MB below this crate's text) with a plain address hint: when
//! the range is taken, or the process's layout has no room there, the kernel picks the
//! address as usual and only the speed differs.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Machine code in read-and-execute memory.
pub struct CodeBuffer {
    ptr: NonNull<u8>,
    /// Bytes mapped (a whole number of pages, at least one).
    mapped: usize,
    /// Bytes of code.
    len: usize,
}

// SAFETY: the buffer is immutable after construction (read-and-execute, no interior
// mutability) and owned by this value; sharing or sending it between threads is as safe as
// sharing a `&[u8]`.
unsafe impl Send for CodeBuffer {}
// SAFETY: see `Send`.
unsafe impl Sync for CodeBuffer {}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

/// Next placement hint (0: not initialised); moves down by each mapping's size.
static NEXT_HINT: AtomicUsize = AtomicUsize::new(0);

/// Hints are only given in this window below the anchor (this crate's code).
const HINT_MIN_DISTANCE: usize = 16 << 20;
const HINT_WINDOW: usize = 1 << 30;

fn anchor() -> usize {
    page_hint as *const () as usize
}

/// An address hint for `len` bytes near this crate's code, or null (no preference).
fn page_hint(len: usize) -> *mut libc::c_void {
    let a = anchor();
    let page = page_size();
    // Nothing sensible below a non-PIE executable's text (low addresses).
    if a < (4 << 30) {
        return std::ptr::null_mut();
    }
    let lowest = a - HINT_WINDOW;
    let fresh = || {
        // A random point 16 to 80 MB below the anchor.
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(len);
        let jitter = (h.finish() as usize % (64 << 20)) & !(page - 1);
        (a - HINT_MIN_DISTANCE - jitter) & !(page - 1)
    };
    let mut old = NEXT_HINT.load(Ordering::Relaxed);
    loop {
        // First use, or the window is used up: start again.
        let cur = if old < lowest + len { fresh() } else { old };
        let next = (cur - len) & !(page - 1);
        match NEXT_HINT.compare_exchange_weak(old, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next as *mut libc::c_void,
            Err(v) => old = v,
        }
    }
}

impl CodeBuffer {
    /// Copies `code` into fresh pages and makes them read-and-execute.
    pub fn new(code: &[u8]) -> std::io::Result<CodeBuffer> {
        let page = page_size();
        let mapped = code.len().max(1).div_ceil(page) * page;
        // SAFETY: an anonymous private mapping has no preconditions; the address is only a
        // hint (no MAP_FIXED: the kernel never replaces an existing mapping and chooses
        // another address when the hinted range is taken); the result is checked against
        // MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                page_hint(mapped),
                mapped,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let Some(ptr) = NonNull::new(p as *mut u8) else {
            return Err(std::io::Error::other("mmap returned a null mapping"));
        };
        let buf = CodeBuffer {
            ptr,
            mapped,
            len: code.len(),
        };
        // SAFETY: the mapping is `mapped >= code.len()` bytes, readable and writable, and
        // nothing else refers to it yet. The unused tail stays zero-filled by mmap; the
        // bytes are never executed (nothing jumps past the code).
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), ptr.as_ptr(), code.len()) };
        // SAFETY: changes the protection of exactly the pages mapped above. Drop unmaps them
        // if this fails.
        let rc = unsafe {
            libc::mprotect(
                ptr.as_ptr() as *mut libc::c_void,
                mapped,
                libc::PROT_READ | libc::PROT_EXEC,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(buf)
    }

    /// Address of the first byte of code.
    pub fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    /// The code bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the first `len` bytes of the mapping were initialised in `new` and stay
        // mapped and readable (PROT_READ | PROT_EXEC) until drop.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// Bytes mapped for the code (whole pages).
    pub fn mapped_len(&self) -> usize {
        self.mapped
    }
}

impl Drop for CodeBuffer {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`, which nothing else refers to once
        // the buffer is dropped (the entry function pointer is only used through `&self`).
        unsafe {
            libc::munmap(self.ptr.as_ptr() as *mut libc::c_void, self.mapped);
        }
    }
}

impl std::fmt::Debug for CodeBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CodeBuffer({:#x}, {} bytes)", self.addr(), self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protection_of(addr: usize) -> Option<String> {
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        for line in maps.lines() {
            let mut it = line.split_whitespace();
            let range = it.next()?;
            let perms = it.next()?;
            let (a, b) = range.split_once('-')?;
            let (a, b) = (
                usize::from_str_radix(a, 16).ok()?,
                usize::from_str_radix(b, 16).ok()?,
            );
            if (a..b).contains(&addr) {
                return Some(perms.to_string());
            }
        }
        None
    }

    #[test]
    fn code_is_read_execute_only_and_copied() {
        let code: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let b = CodeBuffer::new(&code).unwrap();
        assert_eq!(b.bytes(), &code[..]);
        assert_eq!(b.mapped_len() % page_size(), 0);
        if let Some(p) = protection_of(b.addr()) {
            assert!(p.starts_with("r-x"), "{p}");
        }
    }

    #[test]
    fn empty_code_maps_one_page() {
        let b = CodeBuffer::new(&[]).unwrap();
        assert!(b.bytes().is_empty());
        assert_eq!(b.mapped_len(), page_size());
    }
}
