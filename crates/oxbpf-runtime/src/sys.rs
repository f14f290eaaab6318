//! System calls of the helpers: clocks, thread identity and fault-free reads of process
//! memory. The runtime's only `unsafe` outside `maps/slab.rs`.
//!
//! Reading memory never dereferences a program-supplied address in this process: it goes
//! through `process_vm_readv(2)` (the kernel copies and reports unmapped pages as a short
//! read or `EFAULT`), falling back to `pread(2)` on `/proc/<pid>/mem` when the system call is
//! unavailable (seccomp, `EPERM`/`ENOSYS`). A bad address is an error, never a crash.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// The clocks behind the `bpf_ktime_get_*` helpers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// `CLOCK_MONOTONIC` (`bpf_ktime_get_ns`, the trace clock).
    Monotonic,
    /// `CLOCK_MONOTONIC_COARSE` (`bpf_ktime_get_coarse_ns`).
    MonotonicCoarse,
    /// `CLOCK_BOOTTIME` (`bpf_ktime_get_boot_ns`).
    Boot,
    /// `CLOCK_TAI` (`bpf_ktime_get_tai_ns`).
    Tai,
    /// `CLOCK_REALTIME`.
    Realtime,
}

/// Nanoseconds of `clock`.
pub fn clock_ns(clock: Clock) -> u64 {
    let id = match clock {
        Clock::Monotonic => libc::CLOCK_MONOTONIC,
        Clock::MonotonicCoarse => libc::CLOCK_MONOTONIC_COARSE,
        Clock::Boot => libc::CLOCK_BOOTTIME,
        Clock::Tai => libc::CLOCK_TAI,
        Clock::Realtime => libc::CLOCK_REALTIME,
    };
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec owned by this frame; clock_gettime only
    // writes it. The clock ids are constants Linux has supported since 2.6.39.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// The calling thread's id (the kernel's `pid`).
pub fn gettid() -> u32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() as u32 }
}

/// The process id (the kernel's `tgid`).
pub fn getpid() -> u32 {
    std::process::id()
}

/// Real user and group ids of the calling process.
pub fn uid_gid() -> (u32, u32) {
    // SAFETY: getuid and getgid have no arguments and cannot fail.
    unsafe { (libc::getuid(), libc::getgid()) }
}

/// The calling thread's name (`comm`, up to 15 bytes).
pub fn thread_comm() -> [u8; 16] {
    let mut name = [0u8; 16];
    // SAFETY: PR_GET_NAME writes at most 16 bytes (NUL included) to the buffer, which is
    // 16 bytes long and owned by this frame.
    let rc = unsafe {
        libc::prctl(
            libc::PR_GET_NAME,
            name.as_mut_ptr() as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if rc != 0 {
        name = [0; 16];
    }
    name[15] = 0;
    name
}

/// The NUMA node of the host CPU the calling thread runs on (0 when unknown).
pub fn numa_node() -> u32 {
    let mut cpu: libc::c_uint = 0;
    let mut node: libc::c_uint = 0;
    // SAFETY: both pointers refer to writable locals of this frame; getcpu writes them and
    // ignores its third (cache) argument, which may be NULL.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_getcpu,
            &mut cpu as *mut libc::c_uint,
            &mut node as *mut libc::c_uint,
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    if rc == 0 {
        node
    } else {
        0
    }
}

/// Takes the `bpf_spin_lock` (a `u32`, 0 = free) at `addr`: spins (yielding after a
/// while) until it can swap 0 for 1. The caller checked that `[addr, addr + 4)` is
/// writable memory of the run and 4-byte aligned.
///
/// # Safety
/// `addr` must be a 4-byte aligned, writable location that stays valid during the call.
pub unsafe fn spin_lock(addr: u64) {
    let mut spins = 0u32;
    loop {
        // SAFETY: the caller guarantees an aligned, writable u32 at `addr`.
        let old = unsafe { oxbpf_vm::raw_mem::atomic_cmpxchg(addr, 4, 0, 1) };
        if old == 0 {
            return;
        }
        spins += 1;
        if spins < 128 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// Releases the `bpf_spin_lock` at `addr`.
///
/// # Safety
/// As for [`spin_lock`].
pub unsafe fn spin_unlock(addr: u64) {
    // SAFETY: the caller guarantees an aligned, writable u32 at `addr`.
    unsafe { oxbpf_vm::raw_mem::store_release(addr, 4, 0) };
}

/// Page size used to split remote reads (process_vm_readv never splits an iovec).
const PAGE: u64 = 4096;

/// Reads `buf.len()` bytes at `addr` in process `pid`: all of them or an error
/// (`EFAULT` when any byte is unmapped, as `copy_from_user_nofault`).
pub fn read_process(pid: u32, addr: u64, buf: &mut [u8]) -> io::Result<()> {
    if buf.is_empty() {
        return Ok(());
    }
    let n = read_process_partial(pid, addr, buf)?;
    if n == buf.len() {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(libc::EFAULT))
    }
}

/// Reads up to `buf.len()` bytes at `addr` in process `pid`, stopping at the first page
/// that cannot be read. Returns the number of bytes read (0 when the first byte is
/// unmapped).
pub fn read_process_partial(pid: u32, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
    if buf.is_empty() {
        return Ok(0);
    }
    if addr.checked_add(buf.len() as u64).is_none() {
        return Ok(0);
    }
    match vm_readv(pid, addr, buf) {
        Ok(n) => Ok(n),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) => {
            proc_mem_read(pid, addr, buf)
        }
        Err(e) if e.raw_os_error() == Some(libc::EFAULT) => Ok(0),
        Err(e) => Err(e),
    }
}

/// `process_vm_readv` with one remote iovec per page, so a fault stops the copy at a page
/// boundary instead of failing it whole.
fn vm_readv(pid: u32, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0usize;
    while done < buf.len() {
        // Up to 64 pages per call.
        let mut remote: [libc::iovec; 64] = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; 64];
        let mut k = 0;
        let mut a = addr + done as u64;
        let mut planned = 0usize;
        while k < remote.len() && done + planned < buf.len() {
            let page_end = (a / PAGE + 1) * PAGE;
            let len = ((page_end - a) as usize).min(buf.len() - done - planned);
            remote[k] = libc::iovec {
                iov_base: a as *mut libc::c_void,
                iov_len: len,
            };
            k += 1;
            a += len as u64;
            planned += len;
        }
        let local = libc::iovec {
            iov_base: buf[done..].as_mut_ptr() as *mut libc::c_void,
            iov_len: planned,
        };
        // SAFETY: `local` describes `planned` bytes of `buf` starting at `done`, which we
        // borrow mutably; the kernel writes only there. The remote iovecs are addresses in
        // the target process, which the kernel reads with fault handling: an unmapped
        // address yields EFAULT or a short count, never a fault in this process.
        let n = unsafe {
            libc::process_vm_readv(
                pid as libc::pid_t,
                &local,
                1,
                remote.as_ptr(),
                k as libc::c_ulong,
                0,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if done > 0 && e.raw_os_error() == Some(libc::EFAULT) {
                return Ok(done);
            }
            return Err(e);
        }
        let n = n as usize;
        done += n;
        if n < planned {
            break;
        }
    }
    Ok(done)
}

/// The `/proc/<pid>/mem` fallback (safe Rust: the kernel reports bad addresses as `EIO`).
fn proc_mem_read(pid: u32, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
    let f = File::open(format!("/proc/{pid}/mem"))?;
    let mut done = 0usize;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], addr + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EIO) | Some(libc::EFAULT)) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Reads a NUL-terminated string at `addr` in process `pid` with `strncpy_from_*_nofault`
/// semantics: appends to `out` the bytes before the NUL, at most `max - 1` of them; `false`
/// (and `out` unchanged) when a byte before the NUL (or before `max - 1` bytes) cannot be
/// read. `max` of 0 reads nothing and succeeds.
pub fn read_process_str(pid: u32, addr: u64, max: usize, out: &mut Vec<u8>) -> bool {
    if max == 0 {
        return true;
    }
    let start = out.len();
    let want = max - 1;
    let mut a = addr;
    let mut total = 0usize;
    let mut chunk = [0u8; 256];
    loop {
        // Read to the end of the page (so a readable string just before an unmapped page
        // is found), at most 256 bytes and at most `max` bytes in all, as the kernel does.
        let page_left = (PAGE - a % PAGE) as usize;
        let n = chunk.len().min(page_left).min(max - total);
        let r = read_process_partial(pid, a, &mut chunk[..n]).unwrap_or(0);
        if r == 0 {
            out.truncate(start);
            return false;
        }
        let part = &chunk[..r];
        let kept = out.len() - start;
        if let Some(z) = part.iter().position(|&b| b == 0) {
            out.extend_from_slice(&part[..z.min(want - kept)]);
            return true;
        }
        out.extend_from_slice(&part[..r.min(want - kept)]);
        total += r;
        if total >= max {
            return true;
        }
        if r < n {
            out.truncate(start);
            return false;
        }
        a += r as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_are_monotonic_and_nonzero() {
        let a = clock_ns(Clock::Monotonic);
        let b = clock_ns(Clock::Monotonic);
        assert!(a > 0 && b >= a);
        assert!(clock_ns(Clock::Boot) >= a / 2);
        assert!(clock_ns(Clock::MonotonicCoarse) > 0);
        assert!(clock_ns(Clock::Tai) > clock_ns(Clock::Monotonic));
    }

    #[test]
    fn own_memory_reads_and_faults() {
        let data = b"hello\0world".to_vec();
        let pid = getpid();
        let mut buf = [0u8; 5];
        read_process(pid, data.as_ptr() as u64, &mut buf).unwrap();
        assert_eq!(&buf, b"hello");
        // Address 8 is never mapped.
        let e = read_process(pid, 8, &mut buf).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EFAULT));
        let mut s = Vec::new();
        assert!(read_process_str(pid, data.as_ptr() as u64, 64, &mut s));
        assert_eq!(s, b"hello");
        s.clear();
        assert!(read_process_str(pid, data.as_ptr() as u64, 4, &mut s));
        assert_eq!(s, b"hel");
        s.clear();
        assert!(!read_process_str(pid, 8, 4, &mut s));
        assert!(s.is_empty());
        assert!(read_process_str(pid, 8, 0, &mut s));
        // Overflowing ranges read nothing.
        assert_eq!(
            read_process_partial(pid, u64::MAX - 2, &mut buf).unwrap(),
            0
        );
    }

    #[test]
    fn partial_read_stops_at_an_unmapped_page() {
        // Map two pages and unmap the second: a read across the boundary is short.
        // SAFETY: an anonymous private mapping owned by this test; only the first page is
        // touched through the returned pointer, the second is unmapped before use.
        let (p, ok) = unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                8192,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(p, libc::MAP_FAILED);
            std::ptr::write_bytes(p as *mut u8, b'a', 4096);
            let ok = libc::munmap((p as *mut u8).add(4096) as *mut libc::c_void, 4096) == 0;
            (p as u64, ok)
        };
        assert!(ok);
        let mut buf = [0u8; 64];
        let n = read_process_partial(getpid(), p + 4096 - 16, &mut buf).unwrap();
        assert_eq!(n, 16);
        assert!(read_process(getpid(), p + 4096 - 16, &mut buf).is_err());
        let mut s = Vec::new();
        // An unterminated string running into the hole faults...
        assert!(!read_process_str(getpid(), p + 4096 - 16, 64, &mut s));
        // ...unless the limit is reached first.
        assert!(read_process_str(getpid(), p + 4096 - 16, 10, &mut s));
        assert_eq!(s, b"aaaaaaaaa");
        // SAFETY: unmapping the first page of the mapping made above, not used afterwards.
        unsafe { libc::munmap(p as *mut libc::c_void, 4096) };
    }

    #[test]
    fn comm_and_ids() {
        let c = thread_comm();
        assert!(c.iter().any(|&b| b != 0));
        assert!(gettid() > 0);
        let (u, _) = uid_gid();
        let _ = u;
    }
}
