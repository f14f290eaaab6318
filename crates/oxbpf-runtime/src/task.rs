//! The "current task" of a run: what `bpf_get_current_pid_tgid`, `_uid_gid`, `_comm`, the
//! trace buffer and the user-memory reads (`bpf_probe_read_user*`, `%pus`) refer to.
//!
//! By default it is the thread running the program ([`CurrentTask::Thread`], resolved only
//! when a helper asks). A hook that runs programs on behalf of another process (the
//! syscall tracer, uprobes) sets [`CurrentTask::Task`] with that process's identity for the
//! run, and user-memory reads then go to that process.

use crate::sys;
use std::borrow::Cow;
use std::cell::Cell;
use std::io;

/// A task's identity as the kernel's helpers report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Task {
    /// Process id (the kernel's `tgid`).
    pub tgid: u32,
    /// Thread id (the kernel's `pid`).
    pub pid: u32,
    /// Real user id.
    pub uid: u32,
    /// Real group id.
    pub gid: u32,
    /// Thread name, NUL-padded (at most 15 bytes of text).
    pub comm: [u8; 16],
}

thread_local! {
    static IDS: Cell<(u32, u32)> = const { Cell::new((0, 0)) };
}

impl Task {
    /// A task with the given identity (`comm` is cut to 15 bytes).
    pub fn new(tgid: u32, pid: u32, uid: u32, gid: u32, comm: &str) -> Task {
        let mut c = [0u8; 16];
        let b = comm.as_bytes();
        let n = b.len().min(15);
        c[..n].copy_from_slice(&b[..n]);
        Task {
            tgid,
            pid,
            uid,
            gid,
            comm: c,
        }
    }

    /// `(tgid, pid)` of the calling thread (cached per thread).
    pub fn thread_ids() -> (u32, u32) {
        IDS.with(|c| {
            let v = c.get();
            if v.1 != 0 {
                return v;
            }
            let v = (sys::getpid(), sys::gettid());
            c.set(v);
            v
        })
    }

    /// The calling thread, read now.
    pub fn current_thread() -> Task {
        let (tgid, pid) = Task::thread_ids();
        let (uid, gid) = sys::uid_gid();
        Task {
            tgid,
            pid,
            uid,
            gid,
            comm: sys::thread_comm(),
        }
    }

    /// The thread `tid` of any process, from `/proc/<tid>/status` and `/proc/<tid>/comm`.
    pub fn from_proc(tid: u32) -> io::Result<Task> {
        let status = std::fs::read_to_string(format!("/proc/{tid}/status"))?;
        let field = |name: &str| -> io::Result<u32> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("/proc/{tid}/status has no readable `{name}` field"),
                    )
                })
        };
        let comm = std::fs::read_to_string(format!("/proc/{tid}/comm"))?;
        Ok(Task::new(
            field("Tgid:")?,
            field("Pid:")?,
            field("Uid:")?,
            field("Gid:")?,
            comm.trim_end_matches('\n'),
        ))
    }

    /// The name's bytes (before the first NUL).
    pub fn comm_bytes(&self) -> &[u8] {
        let n = self.comm.iter().position(|&b| b == 0).unwrap_or(16);
        &self.comm[..n]
    }

    /// The name as text (lossy).
    pub fn comm_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.comm_bytes())
    }

    /// `bpf_get_current_pid_tgid`'s value: `tgid << 32 | pid`.
    pub fn pid_tgid(&self) -> u64 {
        (self.tgid as u64) << 32 | self.pid as u64
    }

    /// `bpf_get_current_uid_gid`'s value: `gid << 32 | uid`.
    pub fn uid_gid(&self) -> u64 {
        (self.gid as u64) << 32 | self.uid as u64
    }
}

/// Which task is current during a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CurrentTask {
    /// The thread that runs the program (read when a helper asks).
    #[default]
    Thread,
    /// A given task, e.g. a traced process: identity helpers report it and user memory is
    /// read from its process (`tgid`).
    Task(Task),
}

impl CurrentTask {
    /// `tgid << 32 | pid`.
    pub fn pid_tgid(&self) -> u64 {
        match self {
            CurrentTask::Thread => {
                let (tgid, pid) = Task::thread_ids();
                (tgid as u64) << 32 | pid as u64
            }
            CurrentTask::Task(t) => t.pid_tgid(),
        }
    }

    /// `gid << 32 | uid`.
    pub fn uid_gid(&self) -> u64 {
        match self {
            CurrentTask::Thread => {
                let (u, g) = sys::uid_gid();
                (g as u64) << 32 | u as u64
            }
            CurrentTask::Task(t) => t.uid_gid(),
        }
    }

    /// The full record.
    pub fn resolve(&self) -> Task {
        match self {
            CurrentTask::Thread => Task::current_thread(),
            CurrentTask::Task(t) => *t,
        }
    }

    /// The process whose memory is "user memory" for this run.
    pub fn memory_pid(&self) -> u32 {
        match self {
            CurrentTask::Thread => Task::thread_ids().0,
            CurrentTask::Task(t) => t.tgid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_thread_matches_proc() {
        let t = Task::current_thread();
        assert_eq!(t.tgid, std::process::id());
        let p = Task::from_proc(t.pid).unwrap();
        assert_eq!(p.tgid, t.tgid);
        assert_eq!(p.pid, t.pid);
        assert_eq!(p.uid, t.uid);
        assert_eq!(p.gid, t.gid);
        assert_eq!(p.comm_bytes(), t.comm_bytes());
        assert_eq!(CurrentTask::Thread.pid_tgid(), t.pid_tgid());
        assert_eq!(CurrentTask::Thread.uid_gid(), t.uid_gid());
        assert_eq!(CurrentTask::Thread.memory_pid(), t.tgid);
    }

    #[test]
    fn explicit_task_and_comm_truncation() {
        let t = Task::new(10, 11, 1000, 100, "a-very-long-command-name");
        assert_eq!(t.comm_bytes(), b"a-very-long-com");
        assert_eq!(t.pid_tgid(), 10u64 << 32 | 11);
        assert_eq!(t.uid_gid(), 100u64 << 32 | 1000);
        let c = CurrentTask::Task(t);
        assert_eq!(c.memory_pid(), 10);
        assert_eq!(c.resolve(), t);
        assert!(Task::from_proc(u32::MAX).is_err());
    }
}
