//! The tracer's system calls: the only `unsafe` of the tracer.
//!
//! Everything here is a thin wrapper over one `libc` call with the error turned into
//! `io::Error`. Starting a child (`spawn_child`) is the delicate part: between `fork` and
//! `execve` the child of a multi-threaded parent may only make async-signal-safe calls,
//! so everything it needs (paths, argument and environment arrays, the seccomp filter) is
//! prepared before `fork` and the child makes raw system calls only.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// `PTRACE_GET_SYSCALL_INFO` (Linux 5.3).
const PTRACE_GET_SYSCALL_INFO: libc::c_uint = 0x420e;
pub const SYSCALL_INFO_ENTRY: u8 = 1;
pub const SYSCALL_INFO_EXIT: u8 = 2;
pub const SYSCALL_INFO_SECCOMP: u8 = 3;
/// `AUDIT_ARCH_X86_64`.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

/// `struct ptrace_syscall_info` of `<linux/ptrace.h>`: 24 bytes of header, then a union
/// whose largest member (`seccomp`: nr, args[6], ret_data) takes 64 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SyscallInfo {
    pub op: u8,
    pub pad: [u8; 3],
    pub arch: u32,
    pub instruction_pointer: u64,
    pub stack_pointer: u64,
    /// `entry`/`seccomp`: nr, args[0..6], ret_data (low half of word 7).
    /// `exit`: rval (word 0), is_error (low byte of word 1).
    pub data: [u64; 8],
}

fn cvt(r: libc::c_long) -> io::Result<libc::c_long> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A ptrace request that passes no pointer (`data` is a number or a signal).
fn ptrace_plain(req: libc::c_uint, tid: i32, addr: usize, data: usize) -> io::Result<libc::c_long> {
    // SAFETY: requests routed here (SEIZE, CONT, SYSCALL, LISTEN, INTERRUPT, DETACH,
    // PEEKUSER) take integers in `addr`/`data`; the kernel dereferences no pointer of ours.
    cvt(unsafe {
        libc::ptrace(
            req,
            tid,
            addr as *mut libc::c_void,
            data as *mut libc::c_void,
        )
    })
}

pub fn seize(tid: i32, options: u32) -> io::Result<()> {
    ptrace_plain(libc::PTRACE_SEIZE, tid, 0, options as usize).map(drop)
}

pub fn cont(tid: i32, sig: i32) -> io::Result<()> {
    ptrace_plain(libc::PTRACE_CONT, tid, 0, sig as usize).map(drop)
}

pub fn syscall(tid: i32, sig: i32) -> io::Result<()> {
    ptrace_plain(libc::PTRACE_SYSCALL, tid, 0, sig as usize).map(drop)
}

pub fn listen(tid: i32) -> io::Result<()> {
    ptrace_plain(libc::PTRACE_LISTEN, tid, 0, 0).map(drop)
}

pub fn interrupt(tid: i32) -> io::Result<()> {
    ptrace_plain(libc::PTRACE_INTERRUPT, tid, 0, 0).map(drop)
}

pub fn detach(tid: i32, sig: i32) -> io::Result<()> {
    ptrace_plain(libc::PTRACE_DETACH, tid, 0, sig as usize).map(drop)
}

/// `orig_rax`'s offset in `struct user_regs_struct` (the syscall number at a stop).
const ORIG_RAX_OFFSET: usize = 15 * 8;

/// The syscall number of a stopped tracee (`PTRACE_PEEKUSER` of `orig_rax`).
pub fn orig_rax(tid: i32) -> io::Result<u64> {
    // PEEKUSER returns the word itself; -1 is a valid word, so errno decides.
    // SAFETY: `__errno_location` returns this thread's errno slot, valid for the thread's life.
    unsafe { *libc::__errno_location() = 0 };
    // SAFETY: PEEKUSER reads a word of the tracee's user area at an in-range, aligned
    // offset; no pointer of ours is passed.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_PEEKUSER,
            tid,
            ORIG_RAX_OFFSET as *mut libc::c_void,
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    let err = io::Error::last_os_error();
    if r == -1 && err.raw_os_error().unwrap_or(0) != 0 {
        return Err(err);
    }
    Ok(r as u64)
}

/// `PTRACE_GETEVENTMSG`.
pub fn event_msg(tid: i32) -> io::Result<u64> {
    let mut msg: libc::c_ulong = 0;
    // SAFETY: the kernel writes one `unsigned long` to `&mut msg`, which is live and
    // properly aligned for the duration of the call.
    cvt(unsafe {
        libc::ptrace(
            libc::PTRACE_GETEVENTMSG,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            &mut msg as *mut libc::c_ulong as *mut libc::c_void,
        )
    })?;
    Ok(msg as u64)
}

/// `PTRACE_GET_SYSCALL_INFO`.
pub fn syscall_info(tid: i32) -> io::Result<SyscallInfo> {
    let mut info = SyscallInfo::default();
    // SAFETY: the kernel writes at most `size_of::<SyscallInfo>()` bytes (the size passed
    // in `addr`) into `info`, a live, writable, plain-data struct.
    cvt(unsafe {
        libc::ptrace(
            PTRACE_GET_SYSCALL_INFO,
            tid,
            std::mem::size_of::<SyscallInfo>() as *mut libc::c_void,
            &mut info as *mut SyscallInfo as *mut libc::c_void,
        )
    })?;
    Ok(info)
}

/// `waitpid(-1, __WALL | __WNOTHREAD)`: the next state change of this thread's children
/// and tracees (not other threads'), retried on `EINTR` unless `interrupted` says stop.
pub fn wait_any(mut interrupted: impl FnMut() -> bool) -> io::Result<Option<(i32, i32)>> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a live `int` the kernel writes the wait status into.
        let r = unsafe { libc::waitpid(-1, &mut status, libc::__WALL | libc::__WNOTHREAD) };
        if r >= 0 {
            return Ok(Some((r, status)));
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EINTR) {
            if interrupted() {
                return Ok(None);
            }
            continue;
        }
        return Err(e);
    }
}

/// `waitpid(pid, __WALL)` for one task.
pub fn wait_tid(tid: i32) -> io::Result<i32> {
    loop {
        let mut status = 0;
        // SAFETY: as in `wait_any`.
        let r = unsafe { libc::waitpid(tid, &mut status, libc::__WALL) };
        if r >= 0 {
            return Ok(status);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// `process_vm_readv` of `buf.len()` bytes at `addr` of task `tid`; returns the bytes read
/// (fewer than asked when the range crosses into unmapped memory).
pub fn vm_read(tid: i32, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: `local` describes `buf`, live and writable for the call; the remote iovec
    // names memory of the other process, which the kernel checks (EFAULT), never ours.
    let r = unsafe { libc::process_vm_readv(tid, &local, 1, &remote, 1, 0) };
    cvt(r as libc::c_long).map(|n| n as usize)
}

/// `process_vm_writev` of `data` at `addr` of task `tid`; returns the bytes written.
pub fn vm_write(tid: i32, addr: u64, data: &[u8]) -> io::Result<usize> {
    let local = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: `local` describes `data`, live for the call and only read by the kernel; the
    // remote side is the other process's memory, checked by the kernel.
    let r = unsafe { libc::process_vm_writev(tid, &local, 1, &remote, 1, 0) };
    cvt(r as libc::c_long).map(|n| n as usize)
}

/// `kill(pid, sig)`.
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: plain system call with integer arguments.
    cvt(unsafe { libc::kill(pid, sig) } as libc::c_long).map(drop)
}

/// Standard stream setup of the child.
pub enum ChildFd {
    Inherit,
    Null,
    Fd(OwnedFd),
}

/// Everything the child needs, prepared before `fork`.
pub struct ChildSpec {
    pub path: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub cwd: Option<CString>,
    pub stdio: [ChildFd; 3],
    /// The classic BPF seccomp program (`struct sock_filter` array); empty: no filter.
    pub filter: Vec<libc::sock_filter>,
}

/// A child stopped before `execve`, waiting for [`StartedChild::release`].
pub struct StartedChild {
    pub pid: i32,
    sync_w: OwnedFd,
    /// The child writes its errno here when setup or `execve` fails (close-on-exec: EOF
    /// means the exec happened).
    pub err_r: OwnedFd,
}

impl StartedChild {
    /// Lets the child install its filter and exec.
    pub fn release(self) -> io::Result<OwnedFd> {
        let b = [1u8];
        // SAFETY: writes one byte from a live buffer to our own pipe descriptor.
        let r = unsafe {
            libc::write(
                self.sync_w.as_raw_fd(),
                b.as_ptr() as *const libc::c_void,
                1,
            )
        };
        cvt(r as libc::c_long)?;
        Ok(self.err_r)
    }
}

fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a live array of two ints the kernel fills.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } as libc::c_long)?;
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Reads the child's errno report: `Some(errno)` if it failed, `None` on EOF (it exec'd or
/// died without reporting).
pub fn read_child_error(fd: &OwnedFd) -> Option<i32> {
    let mut b = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        // SAFETY: reads into the live buffer's remaining bytes.
        let r = unsafe {
            libc::read(
                fd.as_raw_fd(),
                b[got..].as_mut_ptr() as *mut libc::c_void,
                4 - got,
            )
        };
        if r > 0 {
            got += r as usize;
        } else if r == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        } else {
            break;
        }
    }
    (got == 4).then(|| i32::from_ne_bytes(b))
}

/// Forks a child that sets `PR_SET_NO_NEW_PRIVS`, waits for the parent to seize it, then
/// installs the seccomp filter and execs. Returns it waiting.
pub fn spawn_child(spec: &ChildSpec) -> io::Result<StartedChild> {
    let (sync_r, sync_w) = pipe_cloexec()?;
    let (err_r, err_w) = pipe_cloexec()?;
    let null = if spec.stdio.iter().any(|s| matches!(s, ChildFd::Null)) {
        // SAFETY: opens a constant, NUL-terminated path.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        cvt(fd as libc::c_long)?;
        // SAFETY: open succeeded; we own the descriptor.
        Some(unsafe { OwnedFd::from_raw_fd(fd) })
    } else {
        None
    };
    let stdio_fds: [RawFd; 3] = std::array::from_fn(|i| match &spec.stdio[i] {
        ChildFd::Inherit => -1,
        ChildFd::Null => null.as_ref().map_or(-1, |f| f.as_raw_fd()),
        ChildFd::Fd(f) => f.as_raw_fd(),
    });
    let mut argv: Vec<*const libc::c_char> = spec.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = spec.envp.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    let prog = libc::sock_fprog {
        len: spec.filter.len() as libc::c_ushort,
        filter: spec.filter.as_ptr() as *mut libc::sock_filter,
    };
    let sync_rfd = sync_r.as_raw_fd();
    let err_wfd = err_w.as_raw_fd();
    let cwd = spec.cwd.as_ref().map(|c| c.as_ptr());
    let has_filter = !spec.filter.is_empty();

    // SAFETY: fork itself is safe to call; what follows in the child is restricted to
    // async-signal-safe system calls on memory prepared above (see `child_after_fork`).
    let pid = unsafe { libc::fork() };
    if pid == -1 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: we are the child of fork; all pointers refer to memory copied into this
        // address space by fork, valid until execve or _exit.
        unsafe {
            child_after_fork(
                sync_rfd,
                err_wfd,
                stdio_fds,
                cwd,
                has_filter.then_some(&prog),
                spec.path.as_ptr(),
                argv.as_ptr(),
                envp.as_ptr(),
            )
        }
    }
    drop(sync_r);
    drop(err_w);
    Ok(StartedChild { pid, sync_w, err_r })
}

/// The child's side. Never returns.
///
/// # Safety
/// Must be called only in the child right after `fork`, with pointers valid in it.
#[allow(clippy::too_many_arguments)]
unsafe fn child_after_fork(
    sync_r: RawFd,
    err_w: RawFd,
    stdio: [RawFd; 3],
    cwd: Option<*const libc::c_char>,
    filter: Option<&libc::sock_fprog>,
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
) -> ! {
    // SAFETY (whole body): only async-signal-safe calls (dup2, chdir, prctl, sigprocmask,
    // signal, read, syscall, execve, write, _exit) on descriptors and memory that fork
    // copied into this process; no allocation, no locks.
    unsafe {
        let fail = |errno: i32| -> ! {
            let b = errno.to_ne_bytes();
            libc::write(err_w, b.as_ptr() as *const libc::c_void, 4);
            libc::_exit(127)
        };
        let errno = || *libc::__errno_location();
        for (target, fd) in stdio.iter().enumerate() {
            if *fd >= 0 && libc::dup2(*fd, target as i32) == -1 {
                fail(errno());
            }
        }
        if let Some(dir) = cwd {
            if libc::chdir(dir) == -1 {
                fail(errno());
            }
        }
        // Rust ignores SIGPIPE in the parent; dispositions "ignore" survive execve.
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 {
            fail(errno());
        }
        // Wait until the parent has seized us (it writes one byte, or dies: EOF).
        let mut b = 0u8;
        loop {
            let r = libc::read(sync_r, &mut b as *mut u8 as *mut libc::c_void, 1);
            if r == 1 {
                break;
            }
            if r == -1 && errno() == libc::EINTR {
                continue;
            }
            libc::_exit(127);
        }
        if let Some(prog) = filter {
            if libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                prog as *const libc::sock_fprog,
            ) == -1
            {
                fail(errno());
            }
        }
        libc::execve(path, argv, envp);
        fail(errno())
    }
}
