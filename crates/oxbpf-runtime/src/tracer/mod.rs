//! System calls of traced processes as hook points: `syscalls/sys_enter_NAME` and
//! `syscalls/sys_exit_NAME` outside the kernel.
//!
//! # How it works
//!
//! [`Tracer::spawn`] forks the command; the child sets `PR_SET_NO_NEW_PRIVS`, waits until
//! the tracer has seized it (`PTRACE_SEIZE` with `TRACESECCOMP`, `TRACEFORK`/`VFORK`/
//! `CLONE`, `TRACEEXEC`, `TRACESYSGOOD`, `EXITKILL`), installs a classic-BPF seccomp
//! filter and execs. The filter returns `SECCOMP_RET_TRACE` for the system calls a
//! program is attached to and `ALLOW` for the rest, so untraced calls run at full speed:
//!
//! - `sys_enter_NAME` events are delivered at the seccomp stop, before the call runs;
//! - `sys_exit_NAME` events at the syscall-exit stop that follows when the tracer resumes
//!   the tracee with `PTRACE_SYSCALL` (done only for calls whose exit is traced).
//!
//! Children and threads inherit the filter and are attached automatically. Signals are
//! passed on as they were sent; group stops (`SIGSTOP`, `SIGTSTP`, ...) are honoured with
//! `PTRACE_LISTEN`, so job control works. The run ends when every traced task has exited;
//! its result is the command's exit code, or 128 + the signal that killed it.
//!
//! [`Tracer::attach`] seizes every thread of a running process instead. A seccomp filter
//! cannot be added to another process, so attached tasks stop at *every* system call
//! (entry and exit, `PTRACE_SYSCALL`) and the tracer filters: each system call of the
//! process then costs two stops (four context switches and a few `ptrace` calls, several
//! microseconds; see docs/BENCHMARKS.md) whether or not a program is attached to it.
//!
//! # Events
//!
//! The callback of [`Tracer::run`] gets a [`SyscallEvent`]: pid, tid, number and name,
//! the six argument registers, the return value at exit, the tracepoint context bytes
//! ([`SyscallEvent::ctx_bytes`], laid out as the kernel's `sys_enter`/`sys_exit` records),
//! tracee memory ([`RemoteMemory`]) and task identity ([`TaskInfo`]). Building an event
//! allocates nothing; the task's name and ids are read from `/proc` once per task and
//! after the calls that change them.
//!
//! The tracer is bound to the thread that created it (ptrace requests are accepted only
//! from the tracing thread), so [`Tracer`] is not `Send`.

pub mod syscalls;

mod ctx;
mod seccomp;
mod sys;
mod task;

pub use ctx::{tracepoint_id, CommonHeader, ENTER_ARGS_OFFSET, EXIT_RET_OFFSET, SYSCALL_NR_OFFSET};
pub use syscalls::{Phase, Syscall};
pub use task::{MemoryError, RemoteMemory, TaskInfo, COMM_LEN};

use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::marker::PhantomData;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use syscalls::MAX_NR;
use task::Task;
use thiserror::Error;

/// Errors of the tracer.
#[derive(Debug, Error)]
pub enum TracerError {
    #[error("`{program}`: not found in PATH")]
    NotFound { program: String },
    #[error("`{program}`: {what} contains a NUL byte")]
    NulByte { program: String, what: &'static str },
    #[error("starting `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("`{program}` could not be executed: {source}")]
    Exec {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("attaching to process {pid}: {source}{hint}", hint = attach_hint(source))]
    Attach {
        pid: i32,
        #[source]
        source: io::Error,
    },
    #[error("{op} on task {tid}: {source}")]
    Ptrace {
        op: &'static str,
        tid: i32,
        #[source]
        source: io::Error,
    },
    #[error("waiting for traced tasks: {source}")]
    Wait {
        #[source]
        source: io::Error,
    },
    #[error("unknown system call event `{0}` (expected sys_enter_NAME or sys_exit_NAME with a name of syscalls/ tracepoints)")]
    UnknownEvent(String),
    #[error("unknown system call `{0}`")]
    UnknownSyscall(String),
}

/// A set of x86-64 system call numbers (a 512-bit bitset).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SyscallSet {
    bits: [u64; (MAX_NR / 64) as usize],
}

impl SyscallSet {
    /// No calls.
    pub const fn new() -> SyscallSet {
        SyscallSet {
            bits: [0; (MAX_NR / 64) as usize],
        }
    }

    /// Every number below 512.
    pub const fn all() -> SyscallSet {
        SyscallSet {
            bits: [u64::MAX; (MAX_NR / 64) as usize],
        }
    }

    /// Adds `nr`; false if it is out of range (≥ 512).
    pub fn insert(&mut self, nr: u32) -> bool {
        if nr >= MAX_NR {
            return false;
        }
        self.bits[(nr / 64) as usize] |= 1 << (nr % 64);
        true
    }

    /// Whether `nr` is in the set.
    #[inline]
    pub fn contains(&self, nr: u32) -> bool {
        nr < MAX_NR && self.bits[(nr / 64) as usize] & (1 << (nr % 64)) != 0
    }

    /// The numbers, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..MAX_NR).filter(|&nr| self.contains(nr))
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|&w| w == 0)
    }

    /// The union of two sets.
    pub fn union(&self, other: &SyscallSet) -> SyscallSet {
        let mut s = *self;
        for (a, b) in s.bits.iter_mut().zip(other.bits) {
            *a |= b;
        }
        s
    }
}

/// Which system calls produce events, on which side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SyscallInterest {
    /// Calls with a `sys_enter` event.
    pub enter: SyscallSet,
    /// Calls with a `sys_exit` event.
    pub exit: SyscallSet,
}

impl SyscallInterest {
    /// No events.
    pub fn new() -> SyscallInterest {
        SyscallInterest::default()
    }

    /// Adds a tracepoint by event name: `sys_enter_openat`, `syscalls/sys_exit_newstat`.
    pub fn add_event(&mut self, event: &str) -> Result<&mut Self, TracerError> {
        let (phase, sc) = syscalls::parse_event(event)
            .ok_or_else(|| TracerError::UnknownEvent(event.to_string()))?;
        match phase {
            Phase::Enter => self.enter.insert(sc.nr),
            Phase::Exit => self.exit.insert(sc.nr),
        };
        Ok(self)
    }

    /// Adds the entry of a call by table or tracepoint name (`openat`, `stat`).
    pub fn enter(&mut self, name: &str) -> Result<&mut Self, TracerError> {
        let sc = syscalls::by_name(name).ok_or_else(|| TracerError::UnknownSyscall(name.into()))?;
        self.enter.insert(sc.nr);
        Ok(self)
    }

    /// Adds the exit of a call by table or tracepoint name.
    pub fn exit(&mut self, name: &str) -> Result<&mut Self, TracerError> {
        let sc = syscalls::by_name(name).ok_or_else(|| TracerError::UnknownSyscall(name.into()))?;
        self.exit.insert(sc.nr);
        Ok(self)
    }

    /// True when no event is wanted.
    pub fn is_empty(&self) -> bool {
        self.enter.is_empty() && self.exit.is_empty()
    }
}

/// A standard stream of the traced command.
#[derive(Debug, Default)]
pub enum Stdio {
    /// The tracer's own stream.
    #[default]
    Inherit,
    /// `/dev/null`.
    Null,
    /// This descriptor (a file, a pipe end).
    Fd(OwnedFd),
}

/// The command to trace.
#[derive(Debug)]
pub struct TraceCommand {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    env_clear: bool,
    cwd: Option<PathBuf>,
    stdio: [Stdio; 3],
}

impl TraceCommand {
    /// Runs `program` (searched in `PATH` when it has no `/`).
    pub fn new(program: impl AsRef<OsStr>) -> TraceCommand {
        TraceCommand {
            program: program.as_ref().to_os_string(),
            args: Vec::new(),
            env: Vec::new(),
            env_clear: false,
            cwd: None,
            stdio: [Stdio::Inherit, Stdio::Inherit, Stdio::Inherit],
        }
    }

    /// Appends an argument.
    pub fn arg(&mut self, a: impl AsRef<OsStr>) -> &mut Self {
        self.args.push(a.as_ref().to_os_string());
        self
    }

    /// Appends arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&mut self, args: I) -> &mut Self {
        for a in args {
            self.arg(a);
        }
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> &mut Self {
        self.env
            .push((k.as_ref().to_os_string(), Some(v.as_ref().to_os_string())));
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(&mut self, k: impl AsRef<OsStr>) -> &mut Self {
        self.env.push((k.as_ref().to_os_string(), None));
        self
    }

    /// Starts from an empty environment instead of the tracer's.
    pub fn env_clear(&mut self) -> &mut Self {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// Sets the working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Sets standard input.
    pub fn stdin(&mut self, s: Stdio) -> &mut Self {
        self.stdio[0] = s;
        self
    }

    /// Sets standard output.
    pub fn stdout(&mut self, s: Stdio) -> &mut Self {
        self.stdio[1] = s;
        self
    }

    /// Sets standard error.
    pub fn stderr(&mut self, s: Stdio) -> &mut Self {
        self.stdio[2] = s;
        self
    }

    /// The program, arguments, environment changes and working directory of a
    /// `std::process::Command` (its standard streams and `env_clear` are not readable
    /// from it: set them here).
    pub fn from_std(cmd: &std::process::Command) -> TraceCommand {
        let mut c = TraceCommand::new(cmd.get_program());
        c.args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        if let Some(d) = cmd.get_current_dir() {
            c.current_dir(d);
        }
        c
    }

    fn display(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    fn environment(&self) -> Vec<(OsString, OsString)> {
        let mut env: Vec<(OsString, OsString)> = if self.env_clear {
            Vec::new()
        } else {
            std::env::vars_os().collect()
        };
        for (k, v) in &self.env {
            env.retain(|(ek, _)| ek != k);
            if let Some(v) = v {
                env.push((k.clone(), v.clone()));
            }
        }
        env
    }

    /// The executable to run: the program itself if it has a `/`, else the first
    /// executable file of that name in `PATH` (the command's, else the tracer's).
    fn resolve(&self, env: &[(OsString, OsString)]) -> Result<PathBuf, TracerError> {
        let p = Path::new(&self.program);
        if self.program.as_bytes().contains(&b'/') {
            return Ok(p.to_path_buf());
        }
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
        for dir in std::env::split_paths(&path) {
            let cand = dir.join(p);
            if is_executable(&cand) {
                return Ok(cand);
            }
        }
        Err(TracerError::NotFound {
            program: self.display(),
        })
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn cstring(program: &str, what: &'static str, bytes: &[u8]) -> Result<CString, TracerError> {
    CString::new(bytes).map_err(|_| TracerError::NulByte {
        program: program.to_string(),
        what,
    })
}

/// What the callback wants next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Action {
    /// Keep tracing.
    #[default]
    Continue,
    /// Stop delivering events. An attached process is detached at once (it keeps
    /// running) and [`Tracer::run`] returns; a spawned command runs on to its end
    /// (its seccomp filter needs a tracer: detached, the filtered calls would fail with
    /// `ENOSYS`) and `run` returns its exit status.
    Stop,
}

/// How a traced command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exited with this code.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

impl ExitStatus {
    /// The shell convention: the exit code, or 128 + the signal number.
    pub fn code(&self) -> i32 {
        match *self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => 128 + s,
        }
    }
}

/// Counters of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceStats {
    /// Events handed to the callback.
    pub events: u64,
    /// Ptrace stops handled (events, process events, signals).
    pub stops: u64,
    /// System-call stops that produced no event (calls of no interest in attach mode,
    /// internal bookkeeping, other ABIs).
    pub filtered: u64,
    /// Signals forwarded to tracees.
    pub signals: u64,
    /// Tasks (processes and threads) traced.
    pub tasks: u64,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceOutcome {
    /// The command's (or attached process's) end; `None` when the tracer detached.
    pub exit: Option<ExitStatus>,
    pub stats: TraceStats,
}

/// Asks a running [`Tracer::run`] to stop, from any thread (or a signal handler: it only
/// stores a flag). Seen at the next ptrace stop, or when a signal interrupts the
/// tracer's wait (install the handler without `SA_RESTART`).
#[derive(Clone, Debug)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// Requests the stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// One system call event.
pub struct SyscallEvent<'a> {
    phase: Phase,
    nr: u32,
    args: [u64; 6],
    ret: i64,
    ctx: [u8; ctx::MAX_CTX],
    ctx_len: usize,
    task: &'a mut Task,
}

impl SyscallEvent<'_> {
    /// Entry or exit.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The thread id.
    pub fn tid(&self) -> i32 {
        self.task.tid
    }

    /// The process (thread-group) id.
    pub fn pid(&mut self) -> i32 {
        self.task.pid()
    }

    /// The system call number.
    pub fn nr(&self) -> u32 {
        self.nr
    }

    /// The system call's table entry.
    pub fn syscall(&self) -> Option<&'static Syscall> {
        syscalls::by_nr(self.nr)
    }

    /// The system call's table name (`openat`), or `"unknown"`.
    pub fn name(&self) -> &'static str {
        self.syscall().map_or("unknown", |s| s.name)
    }

    /// The six argument registers (`rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`) at entry; at
    /// exit, those of the matching entry.
    pub fn args(&self) -> &[u64; 6] {
        &self.args
    }

    /// The return value (exit events only; `-errno` on failure).
    pub fn ret(&self) -> Option<i64> {
        (self.phase == Phase::Exit).then_some(self.ret)
    }

    /// The tracepoint context: exactly the bytes a `BPF_PROG_TYPE_TRACEPOINT` program
    /// attached to `syscalls/sys_enter_NAME` (or `sys_exit_NAME`) sees.
    pub fn ctx_bytes(&self) -> &[u8] {
        &self.ctx[..self.ctx_len]
    }

    /// The tracee's memory.
    pub fn memory(&self) -> RemoteMemory {
        RemoteMemory::new(self.task.tid)
    }

    /// Reads exactly `buf.len()` bytes of tracee memory at `addr`.
    pub fn read_memory(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        self.memory().read(addr, buf)
    }

    /// Reads a NUL-terminated string (see [`RemoteMemory::read_str`]).
    pub fn read_str(&self, addr: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
        self.memory().read_str(addr, buf)
    }

    /// The task name, NUL-padded.
    pub fn comm(&mut self) -> [u8; COMM_LEN] {
        self.task.comm()
    }

    /// Pid, tid, uid, gid and name of the calling task.
    pub fn task_info(&mut self) -> TaskInfo {
        self.task.info()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Seccomp stops select the calls (spawned commands).
    Seccomp,
    /// Every call stops (attached processes).
    AllSyscalls,
}

const PTRACE_EVENT_STOP: i32 = 128;
const PTRACE_O_EXITKILL: u32 = 0x0010_0000;

/// Calls the tracer itself watches to keep task identity current: `prctl` (for
/// `PR_SET_NAME`) and the `set*id` family.
const IDENTITY_CALLS: [u32; 9] = [157, 105, 106, 113, 114, 117, 119, 122, 123];

/// A traced command or process. See the module documentation.
pub struct Tracer {
    mode: Mode,
    leader: i32,
    program: String,
    interest: SyscallInterest,
    internal: SyscallSet,
    type_ids: Box<[[u16; 2]]>,
    tasks: HashMap<i32, Task>,
    exec_error: Option<OwnedFd>,
    exit: Option<ExitStatus>,
    stop: Arc<AtomicBool>,
    /// A further stop condition checked with the flag (e.g. a Ctrl-C flag set by a signal
    /// handler, which also interrupts the wait).
    stop_check: Option<fn() -> bool>,
    stats: TraceStats,
    /// `run` returned normally (every task gone, or detached).
    finished: bool,
    _thread_bound: PhantomData<*const ()>,
}

impl Drop for Tracer {
    /// A tracer dropped before its run finished (never run, or `run` failed) does not
    /// leave tasks stopped forever: a spawned command is killed (its filter needs the
    /// tracer), an attached process is detached.
    fn drop(&mut self) {
        if self.finished || self.tasks.is_empty() {
            return;
        }
        match self.mode {
            Mode::Seccomp => {
                log::debug!(
                    "tracer: killing `{}` (tracer dropped before the end)",
                    self.program
                );
                let tids: Vec<i32> = self.tasks.keys().copied().collect();
                for tid in &tids {
                    let _ = sys::kill(*tid, libc::SIGKILL);
                }
                for tid in tids {
                    let _ = sys::wait_tid(tid);
                }
            }
            Mode::AllSyscalls => {
                let _ = self.detach_all();
            }
        }
    }
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("mode", &self.mode)
            .field("leader", &self.leader)
            .field("program", &self.program)
            .field("tasks", &self.tasks.len())
            .finish()
    }
}

fn load_type_ids(interest: &SyscallInterest) -> Box<[[u16; 2]]> {
    let mut ids = vec![[0u16; 2]; MAX_NR as usize].into_boxed_slice();
    for (side, set, prefix) in [
        (0, &interest.enter, "sys_enter_"),
        (1, &interest.exit, "sys_exit_"),
    ] {
        for nr in set.iter() {
            if let Some(tp) = syscalls::by_nr(nr).and_then(|s| s.tracepoint) {
                if let Some(id) = tracepoint_id("syscalls", &format!("{prefix}{tp}")) {
                    ids[nr as usize][side] = id as u16;
                }
            }
        }
    }
    ids
}

impl Tracer {
    /// Starts `cmd` under the tracer with a seccomp filter for `interest`. The command
    /// runs once [`Tracer::run`] is called.
    pub fn spawn(cmd: TraceCommand, interest: SyscallInterest) -> Result<Tracer, TracerError> {
        let program = cmd.display();
        let env = cmd.environment();
        let path = cmd.resolve(&env)?;
        let mut argv = vec![cstring(
            &program,
            "the program name",
            cmd.program.as_bytes(),
        )?];
        for a in &cmd.args {
            argv.push(cstring(&program, "an argument", a.as_bytes())?);
        }
        let mut envp = Vec::with_capacity(env.len());
        for (k, v) in &env {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            envp.push(cstring(&program, "an environment variable", &kv)?);
        }
        let cwd = match &cmd.cwd {
            Some(d) => Some(cstring(
                &program,
                "the working directory",
                d.as_os_str().as_bytes(),
            )?),
            None => None,
        };
        let mut internal = SyscallSet::new();
        for nr in IDENTITY_CALLS {
            internal.insert(nr);
        }
        let traced = interest.enter.union(&interest.exit).union(&internal);
        let TraceCommand { stdio, .. } = cmd;
        let [i, o, e] = stdio;
        let conv = |s: Stdio| match s {
            Stdio::Inherit => sys::ChildFd::Inherit,
            Stdio::Null => sys::ChildFd::Null,
            Stdio::Fd(fd) => sys::ChildFd::Fd(fd),
        };
        let spec = sys::ChildSpec {
            path: cstring(&program, "the program path", path.as_os_str().as_bytes())?,
            argv,
            envp,
            cwd,
            stdio: [conv(i), conv(o), conv(e)],
            filter: seccomp::filter(&traced),
        };
        let type_ids = load_type_ids(&interest);
        let child = sys::spawn_child(&spec).map_err(|source| TracerError::Spawn {
            program: program.clone(),
            source,
        })?;
        let pid = child.pid;
        let options = libc::PTRACE_O_TRACESYSGOOD as u32
            | libc::PTRACE_O_TRACESECCOMP as u32
            | libc::PTRACE_O_TRACEFORK as u32
            | libc::PTRACE_O_TRACEVFORK as u32
            | libc::PTRACE_O_TRACECLONE as u32
            | libc::PTRACE_O_TRACEEXEC as u32
            | PTRACE_O_EXITKILL;
        if let Err(source) = sys::seize(pid, options) {
            let _ = sys::kill(pid, libc::SIGKILL);
            let _ = sys::wait_tid(pid);
            return Err(TracerError::Spawn { program, source });
        }
        let exec_error = child.release().map_err(|source| TracerError::Spawn {
            program: program.clone(),
            source,
        })?;
        log::debug!(
            "tracer: started `{program}` as pid {pid} ({} filter instructions)",
            spec.filter.len()
        );
        let mut tasks = HashMap::new();
        tasks.insert(pid, Task::leader(pid));
        Ok(Tracer {
            mode: Mode::Seccomp,
            leader: pid,
            program,
            interest,
            internal,
            type_ids,
            tasks,
            exec_error: Some(exec_error),
            exit: None,
            stop: Arc::new(AtomicBool::new(false)),
            stop_check: None,
            stats: TraceStats {
                tasks: 1,
                ..Default::default()
            },
            finished: false,
            _thread_bound: PhantomData,
        })
    }

    /// Attaches to every thread of the running process `pid` (`PTRACE_SEIZE`). Every
    /// system call of the process then stops it; see the module documentation for the
    /// cost. Threads created meanwhile are found by re-reading `/proc/PID/task` until it
    /// is stable, later ones are attached automatically.
    pub fn attach(pid: i32, interest: SyscallInterest) -> Result<Tracer, TracerError> {
        let options = libc::PTRACE_O_TRACESYSGOOD as u32
            | libc::PTRACE_O_TRACEFORK as u32
            | libc::PTRACE_O_TRACEVFORK as u32
            | libc::PTRACE_O_TRACECLONE as u32
            | libc::PTRACE_O_TRACEEXEC as u32;
        let mut tasks: HashMap<i32, Task> = HashMap::new();
        loop {
            let dir = format!("/proc/{pid}/task");
            let entries =
                std::fs::read_dir(&dir).map_err(|source| TracerError::Attach { pid, source })?;
            let mut new = 0;
            for ent in entries.flatten() {
                let Some(tid) = ent.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                    continue;
                };
                if tasks.contains_key(&tid) {
                    continue;
                }
                match sys::seize(tid, options) {
                    Ok(()) => {}
                    // A thread that exited between the listing and the seize.
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) && tid != pid => continue,
                    Err(source) => {
                        for t in tasks.keys() {
                            let _ = sys::detach(*t, 0);
                        }
                        return Err(TracerError::Attach { pid, source });
                    }
                }
                // Stop it once so it can be resumed with PTRACE_SYSCALL.
                sys::interrupt(tid).map_err(|source| TracerError::Ptrace {
                    op: "PTRACE_INTERRUPT",
                    tid,
                    source,
                })?;
                let mut t = Task::new(tid);
                if tid == pid {
                    t = Task::leader(pid);
                }
                tasks.insert(tid, t);
                new += 1;
            }
            if new == 0 {
                break;
            }
        }
        log::debug!("tracer: attached to pid {pid} ({} threads)", tasks.len());
        let ntasks = tasks.len() as u64;
        Ok(Tracer {
            mode: Mode::AllSyscalls,
            leader: pid,
            program: format!("pid {pid}"),
            interest,
            internal: {
                let mut s = SyscallSet::new();
                for nr in IDENTITY_CALLS {
                    s.insert(nr);
                }
                s
            },
            type_ids: load_type_ids(&interest),
            tasks,
            exec_error: None,
            exit: None,
            stop: Arc::new(AtomicBool::new(false)),
            stop_check: None,
            stats: TraceStats {
                tasks: ntasks,
                ..Default::default()
            },
            finished: false,
            _thread_bound: PhantomData,
        })
    }

    /// The traced command's (or attached process's) pid.
    pub fn pid(&self) -> i32 {
        self.leader
    }

    /// A handle that stops [`Tracer::run`] from elsewhere.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(self.stop.clone())
    }

    /// Also stops [`Tracer::run`] when `check` returns true, as a [`StopHandle`] would.
    /// `check` is called at every stop and when a signal interrupts the tracer's wait, so
    /// a flag set by a signal handler (Ctrl-C) is seen even when no tracee stops.
    pub fn stop_when(mut self, check: fn() -> bool) -> Tracer {
        self.stop_check = Some(check);
        self
    }

    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.stop_check.is_some_and(|f| f())
    }

    /// Traces until every task has exited (or a stop), calling `on_event` for each event
    /// of interest.
    pub fn run(
        mut self,
        mut on_event: impl FnMut(&mut SyscallEvent<'_>) -> Action,
    ) -> Result<TraceOutcome, TracerError> {
        let mut delivering = true;
        loop {
            if delivering && self.stop_requested() {
                delivering = false;
                if self.mode == Mode::AllSyscalls {
                    self.detach_all()?;
                    return Ok(self.outcome());
                }
            }
            let stop = self.stop.clone();
            let check = self.stop_check;
            let (tid, status) = match sys::wait_any(|| {
                stop.load(Ordering::Relaxed) || check.is_some_and(|f| f())
            }) {
                Ok(Some(x)) => x,
                Ok(None) => continue,
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => break,
                Err(source) => return Err(TracerError::Wait { source }),
            };
            if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                self.tasks.remove(&tid);
                if tid == self.leader {
                    self.exit = Some(if libc::WIFEXITED(status) {
                        ExitStatus::Exited(libc::WEXITSTATUS(status))
                    } else {
                        ExitStatus::Signaled(libc::WTERMSIG(status))
                    });
                    if let Some(fd) = self.exec_error.take() {
                        if let Some(errno) = sys::read_child_error(&fd) {
                            return Err(TracerError::Exec {
                                program: self.program.clone(),
                                source: io::Error::from_raw_os_error(errno),
                            });
                        }
                    }
                }
                if self.mode == Mode::AllSyscalls && self.tasks.is_empty() {
                    break;
                }
                continue;
            }
            if !libc::WIFSTOPPED(status) {
                continue;
            }
            self.stats.stops += 1;
            let sig = libc::WSTOPSIG(status);
            let event = (status >> 16) & 0xff;
            if let std::collections::hash_map::Entry::Vacant(v) = self.tasks.entry(tid) {
                // A new task whose creation event has not been seen yet.
                v.insert(Task::new(tid));
                self.stats.tasks += 1;
            }
            let mut action = Action::Continue;
            match event {
                libc::PTRACE_EVENT_SECCOMP => {
                    action = self.on_syscall_stop(tid, delivering, &mut on_event)?;
                }
                0 if sig == libc::SIGTRAP | 0x80 => {
                    action = self.on_syscall_stop(tid, delivering, &mut on_event)?;
                }
                libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE => {
                    if let Ok(child) = sys::event_msg(tid) {
                        let child = child as i32;
                        if let std::collections::hash_map::Entry::Vacant(v) =
                            self.tasks.entry(child)
                        {
                            v.insert(Task::new(child));
                            self.stats.tasks += 1;
                        }
                    }
                    self.resume(tid, 0)?;
                }
                libc::PTRACE_EVENT_EXEC => {
                    if tid == self.leader {
                        self.exec_error = None;
                    }
                    if let Ok(former) = sys::event_msg(tid) {
                        let former = former as i32;
                        if former != tid {
                            // A non-leader thread exec'd and took over the leader's id.
                            let pending = self.tasks.remove(&former).and_then(|t| t.pending);
                            if let Some(t) = self.tasks.get_mut(&tid) {
                                t.pending = pending;
                            }
                        }
                    }
                    if let Some(t) = self.tasks.get_mut(&tid) {
                        t.comm_changed();
                        t.creds_changed();
                    }
                    self.resume(tid, 0)?;
                }
                PTRACE_EVENT_STOP => {
                    if matches!(
                        sig,
                        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
                    ) {
                        // Group stop: stay stopped, but keep reporting (SIGCONT, SIGKILL).
                        if let Err(e) = sys::listen(tid) {
                            if e.raw_os_error() != Some(libc::ESRCH) {
                                return Err(TracerError::Ptrace {
                                    op: "PTRACE_LISTEN",
                                    tid,
                                    source: e,
                                });
                            }
                        }
                    } else {
                        // The first stop of an auto-attached task, or our interrupt.
                        self.resume(tid, 0)?;
                    }
                }
                0 => {
                    // Signal-delivery stop: deliver the signal as it was sent.
                    self.stats.signals += 1;
                    self.resume(tid, sig)?;
                }
                _ => self.resume(tid, 0)?,
            }
            if action == Action::Stop && delivering {
                delivering = false;
                if self.mode == Mode::AllSyscalls {
                    self.detach_all()?;
                    return Ok(self.outcome());
                }
            }
        }
        Ok(self.outcome())
    }

    fn outcome(&mut self) -> TraceOutcome {
        self.finished = true;
        TraceOutcome {
            exit: self.exit,
            stats: self.stats,
        }
    }

    fn resume(&mut self, tid: i32, sig: i32) -> Result<(), TracerError> {
        let syscall_stops = self.mode == Mode::AllSyscalls
            || self.tasks.get(&tid).is_some_and(|t| t.pending.is_some());
        let (op, r) = if syscall_stops {
            ("PTRACE_SYSCALL", sys::syscall(tid, sig))
        } else {
            ("PTRACE_CONT", sys::cont(tid, sig))
        };
        match r {
            Ok(()) => Ok(()),
            // Killed (SIGKILL) while stopped: its exit comes next.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            Err(source) => Err(TracerError::Ptrace { op, tid, source }),
        }
    }

    fn on_syscall_stop(
        &mut self,
        tid: i32,
        delivering: bool,
        on_event: &mut impl FnMut(&mut SyscallEvent<'_>) -> Action,
    ) -> Result<Action, TracerError> {
        let info = match sys::syscall_info(tid) {
            Ok(i) => i,
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(Action::Continue),
            Err(source) => {
                return Err(TracerError::Ptrace {
                    op: "PTRACE_GET_SYSCALL_INFO",
                    tid,
                    source,
                })
            }
        };
        let mut action = Action::Continue;
        match info.op {
            sys::SYSCALL_INFO_SECCOMP | sys::SYSCALL_INFO_ENTRY
                if info.arch == sys::AUDIT_ARCH_X86_64 =>
            {
                let nr = info.data[0] as u32;
                let mut args = [0u64; 6];
                args.copy_from_slice(&info.data[1..7]);
                let wants_exit = self.interest.exit.contains(nr);
                let enter = delivering && self.interest.enter.contains(nr);
                let type_id = self.type_ids.get(nr as usize).map_or(0, |t| t[0]);
                let Some(task) = self.tasks.get_mut(&tid) else {
                    return Ok(Action::Continue);
                };
                task.pending = match self.mode {
                    Mode::AllSyscalls => Some(nr),
                    Mode::Seccomp => wants_exit.then_some(nr),
                };
                if enter {
                    let (ctx, ctx_len) = ctx::enter_record(type_id, tid, nr, &args);
                    let mut ev = SyscallEvent {
                        phase: Phase::Enter,
                        nr,
                        args,
                        ret: 0,
                        ctx,
                        ctx_len,
                        task,
                    };
                    action = on_event(&mut ev);
                    self.stats.events += 1;
                } else {
                    self.stats.filtered += 1;
                }
                if self.internal.contains(nr) {
                    self.note_identity_call(tid, nr, &args);
                }
                if let Some(t) = self.tasks.get_mut(&tid) {
                    // Remember the arguments for the exit event.
                    t.args = args;
                }
            }
            sys::SYSCALL_INFO_EXIT if info.arch == sys::AUDIT_ARCH_X86_64 => {
                let Some(task) = self.tasks.get_mut(&tid) else {
                    return Ok(Action::Continue);
                };
                let nr = match task.pending.take() {
                    Some(nr) => Some(nr),
                    // Attached mid-call: the entry was before our time.
                    None => sys::orig_rax(tid).ok().map(|n| n as u32),
                };
                match nr {
                    Some(nr) if delivering && self.interest.exit.contains(nr) => {
                        let type_id = self.type_ids.get(nr as usize).map_or(0, |t| t[1]);
                        let ret = info.data[0] as i64;
                        let (ctx, ctx_len) = ctx::exit_record(type_id, tid, nr, ret);
                        let args = task.args;
                        let mut ev = SyscallEvent {
                            phase: Phase::Exit,
                            nr,
                            args,
                            ret,
                            ctx,
                            ctx_len,
                            task,
                        };
                        action = on_event(&mut ev);
                        self.stats.events += 1;
                    }
                    _ => self.stats.filtered += 1,
                }
            }
            _ => self.stats.filtered += 1,
        }
        self.resume(tid, 0)?;
        Ok(action)
    }

    fn note_identity_call(&mut self, tid: i32, nr: u32, args: &[u64; 6]) {
        let Some(task) = self.tasks.get_mut(&tid) else {
            return;
        };
        if nr == 157 {
            if args[0] == libc::PR_SET_NAME as u64 {
                let mut name = [0u8; COMM_LEN];
                match RemoteMemory::new(tid).read_str(args[1], &mut name) {
                    Ok(_) => task.set_comm(&name),
                    Err(_) => task.comm_changed(),
                }
            }
        } else {
            task.creds_changed();
        }
    }

    /// Detaches from every task (attach mode): interrupts each, waits for its stop
    /// (passing on a signal that was about to be delivered) and detaches it.
    fn detach_all(&mut self) -> Result<(), TracerError> {
        let tids: Vec<i32> = self.tasks.keys().copied().collect();
        for &tid in &tids {
            let _ = sys::interrupt(tid);
        }
        for tid in tids {
            // Wait for this task's next stop, forwarding signals that arrive first.
            while let Ok(status) = sys::wait_tid(tid) {
                if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                    if tid == self.leader {
                        self.exit = Some(if libc::WIFEXITED(status) {
                            ExitStatus::Exited(libc::WEXITSTATUS(status))
                        } else {
                            ExitStatus::Signaled(libc::WTERMSIG(status))
                        });
                    }
                    break;
                }
                if !libc::WIFSTOPPED(status) {
                    continue;
                }
                let sig = libc::WSTOPSIG(status);
                let event = (status >> 16) & 0xff;
                let pass = if event == 0 && sig != (libc::SIGTRAP | 0x80) {
                    sig
                } else {
                    0
                };
                if sys::detach(tid, pass).is_ok() {
                    break;
                }
            }
            self.tasks.remove(&tid);
        }
        log::debug!("tracer: detached from {}", self.program);
        Ok(())
    }
}

/// What to do about a refused attach.
fn attach_hint(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EPERM) => {
            " (ptrace was refused: trace processes of your own user, or run as root; with \
             Yama, /proc/sys/kernel/yama/ptrace_scope 1 allows only descendants, 2 only \
             CAP_SYS_PTRACE, 3 nothing)"
        }
        Some(libc::ESRCH) | Some(libc::ENOENT) => " (no such process)",
        _ => "",
    }
}
