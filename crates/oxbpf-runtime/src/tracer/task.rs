//! Traced tasks: what the tracer knows about each thread, and access to its memory.

use super::sys;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use thiserror::Error;

/// Length of a task name, NUL included (`TASK_COMM_LEN`).
pub const COMM_LEN: usize = 16;

/// Why tracee memory could not be read or written.
#[derive(Debug, Error)]
pub enum MemoryError {
    /// The range is not (entirely) mapped in the tracee.
    #[error("task {tid}: address 0x{addr:x} is not mapped")]
    Fault { tid: i32, addr: u64 },
    /// The task no longer exists.
    #[error("task {tid} is gone")]
    Gone { tid: i32 },
    /// Any other failure of `process_vm_readv`/`writev` and of `/proc/TID/mem`.
    #[error("task {tid}: memory access at 0x{addr:x}: {source}")]
    Io {
        tid: i32,
        addr: u64,
        #[source]
        source: io::Error,
    },
}

impl MemoryError {
    /// The negative errno a helper returns to the program (`-EFAULT`, `-ESRCH`, ...).
    pub fn helper_errno(&self) -> i64 {
        -(match self {
            MemoryError::Fault { .. } => libc::EFAULT,
            MemoryError::Gone { .. } => libc::ESRCH,
            MemoryError::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
        } as i64)
    }
}

/// The memory of one traced task. `Copy`, allocation-free: it is just the thread id.
///
/// Reads use `process_vm_readv` (one system call, no stop needed); when that call is not
/// available (`ENOSYS`, or `EPERM` under some security modules) they fall back to
/// `pread` on `/proc/TID/mem`, opened per call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteMemory {
    tid: i32,
}

fn classify(tid: i32, addr: u64, e: io::Error) -> MemoryError {
    match e.raw_os_error() {
        Some(libc::EFAULT) | Some(libc::EIO) => MemoryError::Fault { tid, addr },
        Some(libc::ESRCH) | Some(libc::ENOENT) => MemoryError::Gone { tid },
        _ => MemoryError::Io {
            tid,
            addr,
            source: e,
        },
    }
}

fn use_fallback(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM))
}

impl RemoteMemory {
    /// The memory of thread `tid`.
    pub fn new(tid: i32) -> RemoteMemory {
        RemoteMemory { tid }
    }

    /// The thread id.
    pub fn tid(&self) -> i32 {
        self.tid
    }

    /// Reads as many bytes as are mapped from `addr` on, up to `buf.len()`.
    pub fn read_partial(&self, addr: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
        if buf.is_empty() {
            return Ok(0);
        }
        match sys::vm_read(self.tid, addr, buf) {
            Ok(n) => Ok(n),
            Err(e) if use_fallback(&e) => self.proc_mem_read(addr, buf),
            Err(e) => match classify(self.tid, addr, e) {
                MemoryError::Fault { .. } => Ok(0),
                other => Err(other),
            },
        }
    }

    /// Reads exactly `buf.len()` bytes at `addr`; [`MemoryError::Fault`] (at the first
    /// unreadable byte) when the range is not entirely mapped.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        let n = self.read_partial(addr, buf)?;
        if n == buf.len() {
            Ok(())
        } else {
            Err(MemoryError::Fault {
                tid: self.tid,
                addr: addr.wrapping_add(n as u64),
            })
        }
    }

    /// Reads a NUL-terminated string into `buf` (at most `buf.len() - 1` bytes, then a
    /// NUL), as `bpf_probe_read_user_str` does: returns the bytes written including the
    /// NUL. Reads page by page so that a string ending just before unmapped memory is
    /// read whole.
    pub fn read_str(&self, addr: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let max = buf.len() - 1;
        let mut got = 0usize;
        while got < max {
            let at = addr.wrapping_add(got as u64);
            let to_page_end = (4096 - (at % 4096)) as usize;
            let want = to_page_end.min(max - got);
            let n = self.read_partial(at, &mut buf[got..got + want])?;
            if let Some(z) = buf[got..got + n].iter().position(|&b| b == 0) {
                return Ok(got + z + 1);
            }
            got += n;
            if n < want {
                if got == 0 {
                    return Err(MemoryError::Fault {
                        tid: self.tid,
                        addr,
                    });
                }
                return Err(MemoryError::Fault {
                    tid: self.tid,
                    addr: addr.wrapping_add(got as u64),
                });
            }
        }
        buf[max] = 0;
        Ok(max + 1)
    }

    /// Writes `data` at `addr` (all of it, or [`MemoryError::Fault`]).
    pub fn write(&self, addr: u64, data: &[u8]) -> Result<(), MemoryError> {
        if data.is_empty() {
            return Ok(());
        }
        let n = match sys::vm_write(self.tid, addr, data) {
            Ok(n) => n,
            Err(e) if use_fallback(&e) => {
                let f = File::options()
                    .write(true)
                    .open(format!("/proc/{}/mem", self.tid))
                    .map_err(|e| classify(self.tid, addr, e))?;
                f.write_at(data, addr)
                    .map_err(|e| classify(self.tid, addr, e))?
            }
            Err(e) => return Err(classify(self.tid, addr, e)),
        };
        if n == data.len() {
            Ok(())
        } else {
            Err(MemoryError::Fault {
                tid: self.tid,
                addr: addr.wrapping_add(n as u64),
            })
        }
    }

    fn proc_mem_read(&self, addr: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
        let f = File::open(format!("/proc/{}/mem", self.tid))
            .map_err(|e| classify(self.tid, addr, e))?;
        let mut got = 0;
        while got < buf.len() {
            match f.read_at(&mut buf[got..], addr.wrapping_add(got as u64)) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => match classify(self.tid, addr, e) {
                    MemoryError::Fault { .. } => break,
                    other => return Err(other),
                },
            }
        }
        Ok(got)
    }
}

/// What programs learn about the task that made a system call (the values behind
/// `bpf_get_current_pid_tgid`, `bpf_get_current_uid_gid`, `bpf_get_current_comm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskInfo {
    /// Thread-group id (the process id).
    pub pid: i32,
    /// Thread id.
    pub tid: i32,
    /// Real user id.
    pub uid: u32,
    /// Real group id.
    pub gid: u32,
    /// The task name, NUL-padded (as `bpf_get_current_comm` fills it).
    pub comm: [u8; COMM_LEN],
}

impl TaskInfo {
    /// The name without its NUL padding.
    pub fn comm_str(&self) -> &[u8] {
        let n = self.comm.iter().position(|&b| b == 0).unwrap_or(COMM_LEN);
        &self.comm[..n]
    }
}

/// The tracer's record of one thread. Identity fields are read from `/proc` lazily, on
/// the first event that asks, and refreshed after `execve`, `prctl(PR_SET_NAME)` and
/// the `set*id` calls.
#[derive(Debug)]
pub(crate) struct Task {
    pub tid: i32,
    tgid: i32,
    uid: u32,
    gid: u32,
    comm: [u8; COMM_LEN],
    status_known: bool,
    comm_known: bool,
    /// The system call whose exit stop is awaited (seccomp mode: only when its exit is
    /// traced; all-syscalls mode: every call between its entry and exit stops).
    pub pending: Option<u32>,
    /// The arguments of the last entry (for the exit event).
    pub args: [u64; 6],
}

impl Task {
    pub fn new(tid: i32) -> Task {
        Task {
            tid,
            tgid: 0,
            uid: 0,
            gid: 0,
            comm: [0; COMM_LEN],
            status_known: false,
            comm_known: false,
            pending: None,
            args: [0; 6],
        }
    }

    /// A task known to lead its thread group (the spawned command, attached pids).
    pub fn leader(tid: i32) -> Task {
        let mut t = Task::new(tid);
        t.tgid = tid;
        t
    }

    /// Forget the name (after exec or `PR_SET_NAME`).
    pub fn comm_changed(&mut self) {
        self.comm_known = false;
    }

    /// Sets the name from the bytes a `prctl(PR_SET_NAME)` passed.
    pub fn set_comm(&mut self, name: &[u8]) {
        self.comm = [0; COMM_LEN];
        let n = name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(name.len())
            .min(COMM_LEN - 1);
        self.comm[..n].copy_from_slice(&name[..n]);
        self.comm_known = true;
    }

    /// Forget ids (after `set*id`, exec of a set-id program).
    pub fn creds_changed(&mut self) {
        self.status_known = false;
    }

    fn load_status(&mut self) {
        if self.status_known {
            return;
        }
        let mut buf = [0u8; 2048];
        let n = File::open(format!("/proc/{}/status", self.tid))
            .and_then(|mut f| read_up_to(&mut f, &mut buf))
            .unwrap_or(0);
        let text = String::from_utf8_lossy(&buf[..n]);
        for line in text.lines() {
            let mut it = line.split_whitespace();
            let key = it.next();
            let first = it.next().and_then(|v| v.parse::<i64>().ok());
            match (key, first) {
                (Some("Tgid:"), Some(v)) => self.tgid = v as i32,
                (Some("Uid:"), Some(v)) => self.uid = v as u32,
                (Some("Gid:"), Some(v)) => self.gid = v as u32,
                _ => {}
            }
        }
        if self.tgid == 0 {
            self.tgid = self.tid;
        }
        self.status_known = true;
    }

    fn load_comm(&mut self) {
        if self.comm_known {
            return;
        }
        let mut buf = [0u8; COMM_LEN + 1];
        let n = File::open(format!("/proc/{}/comm", self.tid))
            .and_then(|mut f| read_up_to(&mut f, &mut buf))
            .unwrap_or(0);
        let name = buf[..n].strip_suffix(b"\n").unwrap_or(&buf[..n]);
        self.set_comm(name);
    }

    pub fn pid(&mut self) -> i32 {
        if self.tgid == 0 {
            self.load_status();
        }
        self.tgid
    }

    pub fn info(&mut self) -> TaskInfo {
        self.load_status();
        self.load_comm();
        TaskInfo {
            pid: self.tgid,
            tid: self.tid,
            uid: self.uid,
            gid: self.gid,
            comm: self.comm,
        }
    }

    pub fn comm(&mut self) -> [u8; COMM_LEN] {
        self.load_comm();
        self.comm
    }
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
