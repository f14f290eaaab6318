//! `oxbpf::Bpf`: load programs from C, objects or assembly, attach them, read their maps
//! and output, on either backend.
//!
//! ```no_run
//! let mut b = oxbpf::Bpf::from_c_file("examples/hello.c")?; // compile, load
//! b.attach_kprobe("do_sys_openat2", "hello_world")?;      // userspace: openat of traced commands
//! b.spawn(["cat", "/etc/hostname"])?;                      // run a command under the tracer
//! b.trace_print()?;                                        // lines shaped like trace_pipe's
//! # Ok::<(), oxbpf::BpfError>(())
//! ```
//!
//! **Backends.** The userspace backend (the default) runs programs in this process on
//! oxbpf's engines: tracepoints `syscalls:sys_enter_*`/`sys_exit_*` (and kprobes on the
//! kernel functions of system calls, which map to them) fire for the system calls of
//! commands run with [`Bpf::spawn`] or processes traced with [`Bpf::trace_pid`]; XDP
//! programs and socket filters run over captures ([`Bpf::run_pcap`]). The kernel backend
//! ([`BpfBuilder::kernel`]) loads the same programs into Linux and attaches them to real
//! hooks; the calls are the same. Maps ([`Bpf::map`]), trace output ([`Bpf::trace_print`],
//! [`Bpf::trace_fields`]), ring and perf buffers ([`Bpf::open_ring_buffer`],
//! [`Bpf::open_perf_buffer`], [`Bpf::poll`]) and histograms ([`Bpf::print_log2_hist`])
//! read either backend.
//!
//! **Engines.** Userspace programs are verified for the hooks they attach to and run on
//! [`crate::DEFAULT_ENGINE`]: the JIT on x86-64, as its verified code (no run-time
//! checks; each run still checks that it is given the context the program was verified
//! for). [`BpfBuilder::unverified`] runs checked code, [`BpfBuilder::budget`] keeps
//! verified programs in checked code that counts instructions, and
//! `.engine(EngineKind::Interpreter)` selects the reference interpreter.
//! [`AttachInfo::mode`] says how each attachment runs.
//!
//! **BCC-style functions.** A function in `.text` that nothing calls is a program whose
//! type is decided by its attach, as in BCC: `attach_kprobe` makes it a kprobe,
//! `attach_tracepoint` a tracepoint program. Programs in sections (`SEC("tracepoint/...")`)
//! attach by their section with [`Bpf::attach_auto`].

mod error;
mod events;
mod hooks;
mod kernel;
mod map;
mod report;
mod source;
mod spec;
mod target;
mod user;
mod verify;

pub use error::BpfError;
pub use events::{PerfEvent, TraceEvent};
pub use hooks::HookProgram;
pub use map::{BpfMap, MapEntry, BPF_ANY, BPF_EXIST, BPF_NOEXIST};
pub use report::{key_text, map_report, shape, MapShape};
pub use source::ProgramInfo;
pub use target::section_target;

pub use oxbpf_kernel::{AttachTarget, FallbackPolicy};
pub use oxbpf_obj::build::BuildOptions;
pub use oxbpf_runtime::packet::{PacketOptions, PacketStats};
pub use oxbpf_runtime::trace::TraceFields;
pub use oxbpf_runtime::tracer::ExitStatus;

use events::{PerfSource, PerfSub, RingSource, RingSub, Sinks, TraceSource};
use kernel::KernelBackend;
use oxbpf_runtime::tracer::TraceCommand;
use oxbpf_vm::EngineKind;
use source::Source;
use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};
use user::UserBackend;

/// Where programs run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// In this process, on oxbpf's engines, with userspace hooks.
    #[default]
    Userspace,
    /// In the Linux kernel.
    Kernel,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Userspace => "userspace",
            Backend::Kernel => "kernel",
        })
    }
}

/// Settings of a [`Bpf`]; made by [`BpfBuilder`].
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub backend: Backend,
    pub engine: EngineKind,
    pub verify: bool,
    pub budget: Option<u64>,
    pub fallback: FallbackPolicy,
    pub build: BuildOptions,
    pub trace_capacity: usize,
    pub trace_all: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            backend: Backend::Userspace,
            engine: crate::DEFAULT_ENGINE,
            verify: true,
            budget: None,
            fallback: FallbackPolicy::IfContextUnused,
            build: BuildOptions::default(),
            trace_capacity: oxbpf_runtime::trace::DEFAULT_CAPACITY,
            trace_all: false,
        }
    }
}

/// Builds a [`Bpf`] with settings other than the defaults: userspace backend; the JIT
/// where the target has one ([`crate::DEFAULT_ENGINE`]: x86-64; the interpreter
/// elsewhere); programs verified for their hooks and, on the JIT, run as its verified code
/// (no run-time checks); no instruction budget; fallbacks for programs that do not read
/// their context.
#[derive(Clone, Debug, Default)]
pub struct BpfBuilder {
    cfg: Config,
}

impl BpfBuilder {
    /// The kernel backend.
    pub fn kernel(mut self) -> Self {
        self.cfg.backend = Backend::Kernel;
        self
    }

    /// The userspace backend (the default).
    pub fn userspace(mut self) -> Self {
        self.cfg.backend = Backend::Userspace;
        self
    }

    /// Selects the backend.
    pub fn backend(mut self, b: Backend) -> Self {
        self.cfg.backend = b;
        self
    }

    /// The engine of the userspace backend (default: [`crate::DEFAULT_ENGINE`], the JIT
    /// on x86-64). `EngineKind::Interpreter` selects the reference interpreter, which
    /// checks every access even for verified programs.
    pub fn engine(mut self, engine: EngineKind) -> Self {
        self.cfg.engine = engine;
        self
    }

    /// Skips oxbpf's verifier in userspace: programs are not checked before they run and
    /// run in the engines' checked mode (every memory access checked at run time; on the
    /// JIT its checked code). By default programs are verified for the hook they attach
    /// to and, on the JIT (the default engine on x86-64), run as its verified code.
    pub fn unverified(mut self) -> Self {
        self.cfg.verify = false;
        self
    }

    /// Stops each userspace run after `budget` instructions (programs then run in checked
    /// mode: the JIT's checked code, which counts instructions, even for verified
    /// programs).
    pub fn budget(mut self, budget: Option<u64>) -> Self {
        self.cfg.budget = budget;
        self
    }

    /// What to do when a hook is missing (kprobes on this kernel, kprobes in userspace).
    pub fn fallback(mut self, policy: FallbackPolicy) -> Self {
        self.cfg.fallback = policy;
        self
    }

    /// clang settings for C input.
    pub fn build_options(mut self, opts: BuildOptions) -> Self {
        self.cfg.build = opts;
        self
    }

    /// Bytes of trace lines kept (userspace) or lines queued (kernel, a line counting as
    /// 256 bytes) before the oldest or newest are dropped and counted.
    pub fn trace_capacity(mut self, bytes: usize) -> Self {
        self.cfg.trace_capacity = bytes.max(1);
        self
    }

    /// The kernel backend loads objects through aya, whose loader parses the kernel BTF
    /// once per process: start that now, so that it overlaps compiling and parsing.
    fn prewarm(&self) {
        if self.cfg.backend == Backend::Kernel {
            oxbpf_kernel::prewarm();
        }
    }

    /// Kernel backend: keep the trace lines of every process while [`Bpf::spawn`] or
    /// [`Bpf::trace_pid`] runs (BCC's behaviour: a program sees the whole system and so
    /// does its output). By default they keep the lines of the command's process tree (the
    /// command and everything it starts) or of the traced process (its threads), as the
    /// userspace backend does. Either way only trace lines are filtered: maps, ring and
    /// perf buffers get what the programs put there for every process, unless the programs
    /// filter themselves (e.g. on `bpf_get_current_pid_tgid()`).
    pub fn trace_all_processes(mut self) -> Self {
        self.cfg.trace_all = true;
        self
    }

    /// Compiles a C file and loads it.
    pub fn c_file(self, path: impl AsRef<Path>) -> Result<Bpf, BpfError> {
        self.prewarm();
        let src = Source::c_file(path.as_ref(), &self.cfg.build)?;
        Bpf::new(src, self.cfg)
    }

    /// Compiles C text and loads it.
    pub fn c_source(self, text: &str) -> Result<Bpf, BpfError> {
        self.prewarm();
        let src = Source::c_source(text, "prog.c", &self.cfg.build)?;
        Bpf::new(src, self.cfg)
    }

    /// Loads an ELF object.
    pub fn object(self, bytes: &[u8]) -> Result<Bpf, BpfError> {
        self.prewarm();
        let src = Source::object_bytes("<object>", bytes)?;
        Bpf::new(src, self.cfg)
    }

    /// Loads an ELF object file.
    pub fn object_file(self, path: impl AsRef<Path>) -> Result<Bpf, BpfError> {
        self.prewarm();
        let src = Source::object_file(path.as_ref())?;
        Bpf::new(src, self.cfg)
    }

    /// Loads a C file (`.c`) or an object file (anything else).
    pub fn file(self, path: impl AsRef<Path>) -> Result<Bpf, BpfError> {
        let p = path.as_ref();
        if p.extension().is_some_and(|e| e == "c") {
            self.c_file(p)
        } else {
            self.object_file(p)
        }
    }

    /// Assembles one program (named `prog`) of the kind `section` names
    /// (`tracepoint/syscalls/sys_enter_openat`, `xdp`, `.text`, ...).
    pub fn asm(self, text: &str, section: &str) -> Result<Bpf, BpfError> {
        let src = Source::asm(text, "<asm>", section)?;
        Bpf::new(src, self.cfg)
    }
}

/// What an attach did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachInfo {
    /// The program.
    pub program: String,
    /// The target asked for, as text (`kprobe:do_sys_openat2`).
    pub target: String,
    /// The hooks that run it (`tracepoint:syscalls:sys_enter_openat`, ...).
    pub hooks: Vec<String>,
    /// One line saying which hooks stand in for the target when they differ from it.
    pub notice: Option<String>,
    /// How it runs: `kernel`; in userspace `jit, verified` (the default on x86-64:
    /// oxbpf's verifier accepted it for every hook and it runs as the JIT's verified code,
    /// no run-time checks), `jit, verified, checked` (verified, but a budget keeps it in
    /// the JIT's checked code), `interp, verified` (verified; the interpreter checks
    /// anyway), `interp` or `jit` (unverified: every memory access checked at run time).
    pub mode: &'static str,
}

/// Counters of the userspace backend's runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Hook events that ran programs.
    pub events: u64,
    /// Program runs.
    pub runs: u64,
    /// Runs that failed (memory fault, helper error, budget).
    pub failures: u64,
    /// The first failure.
    pub first_error: Option<String>,
    /// The process the last `spawn`/`trace_pid` traced.
    pub pid: Option<i32>,
}

enum BackendImpl {
    User(Box<UserBackend>),
    Kernel(Box<KernelBackend>),
}

/// Programs loaded on one backend, with their maps and output. See the module
/// documentation.
pub struct Bpf {
    // Drop order: output readers, then the backend (detach, unload), then the source.
    sinks: Sinks,
    backend: BackendImpl,
    src: Source,
    cfg: Config,
    attachments: Vec<AttachInfo>,
    stats: RunStats,
    stop: Option<fn() -> bool>,
}

impl std::fmt::Debug for Bpf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bpf")
            .field("source", &self.src.name)
            .field("backend", &self.cfg.backend)
            .field("programs", &self.src.program_list())
            .field("attachments", &self.attachments)
            .finish()
    }
}

/// Lines a kernel trace pipe keeps queued per byte of [`BpfBuilder::trace_capacity`].
const KERNEL_LINE_COST: usize = 256;

impl Bpf {
    /// Settings other than the defaults.
    pub fn builder() -> BpfBuilder {
        BpfBuilder::default()
    }

    /// Compiles a C file with clang and loads it on the userspace backend.
    pub fn from_c_file(path: impl AsRef<Path>) -> Result<Bpf, BpfError> {
        Bpf::builder().c_file(path)
    }

    /// Compiles C text and loads it on the userspace backend.
    pub fn from_c_source(text: &str) -> Result<Bpf, BpfError> {
        Bpf::builder().c_source(text)
    }

    /// Loads an ELF object on the userspace backend.
    pub fn from_object(bytes: &[u8]) -> Result<Bpf, BpfError> {
        Bpf::builder().object(bytes)
    }

    /// Loads an ELF object file on the userspace backend.
    pub fn from_object_file(path: impl AsRef<Path>) -> Result<Bpf, BpfError> {
        Bpf::builder().object_file(path)
    }

    /// Assembles one program for the userspace backend (see [`BpfBuilder::asm`]).
    pub fn from_asm(text: &str, section: &str) -> Result<Bpf, BpfError> {
        Bpf::builder().asm(text, section)
    }

    fn new(src: Source, cfg: Config) -> Result<Bpf, BpfError> {
        let (backend, trace) = match cfg.backend {
            Backend::Userspace => {
                let u = UserBackend::load(&src, &cfg)?;
                let t = TraceSource::User(u.trace().clone());
                (BackendImpl::User(Box::new(u)), t)
            }
            Backend::Kernel => {
                let pipe = KernelBackend::trace_pipe(
                    &src,
                    (cfg.trace_capacity / KERNEL_LINE_COST).max(64),
                )?;
                let k = KernelBackend::load(&src)?;
                (BackendImpl::Kernel(Box::new(k)), TraceSource::Kernel(pipe))
            }
        };
        Ok(Bpf {
            sinks: Sinks::new(trace),
            backend,
            src,
            cfg,
            attachments: Vec::new(),
            stats: RunStats::default(),
            stop: None,
        })
    }

    /// The backend programs run on.
    pub fn backend(&self) -> Backend {
        self.cfg.backend
    }

    /// The engine userspace programs run on (`None` on the kernel backend).
    pub fn engine(&self) -> Option<EngineKind> {
        match &self.backend {
            BackendImpl::User(u) => u.engine(),
            BackendImpl::Kernel(_) => None,
        }
    }

    /// The input's name (file name, `prog.c`, `<asm>`).
    pub fn source_name(&self) -> &str {
        &self.src.name
    }

    /// The programs.
    pub fn programs(&self) -> &[ProgramInfo] {
        &self.src.programs
    }

    /// The program names.
    pub fn program_names(&self) -> Vec<String> {
        self.src.programs.iter().map(|p| p.name.clone()).collect()
    }

    /// The map names (global data maps are `.bss`, `.data`, `.rodata`, ...).
    pub fn map_names(&self) -> Vec<String> {
        self.src.maps.iter().map(|m| m.name.clone()).collect()
    }

    /// The object as parsed (`None` for assembly).
    pub fn object(&self) -> Option<&oxbpf_obj::Object> {
        self.src.object.as_ref()
    }

    /// Every attachment made so far.
    pub fn attachments(&self) -> &[AttachInfo] {
        &self.attachments
    }

    /// Run counters of the userspace backend.
    pub fn stats(&self) -> &RunStats {
        &self.stats
    }

    /// A check polled while commands are traced and output is awaited (e.g.
    /// `oxbpf_kernel::signals::interrupted` for Ctrl-C): when it returns true, tracing
    /// stops (a spawned command still runs to its end; an attached process is let go).
    pub fn set_stop_check(&mut self, f: fn() -> bool) {
        self.stop = Some(f);
    }

    // -------------------------------------------------------------------------------
    // Attaching
    // -------------------------------------------------------------------------------

    /// Attaches `program` to a target given as text: `tracepoint:syscalls:sys_enter_openat`,
    /// `kprobe:do_sys_openat2`, `kretprobe:...`, `raw_tracepoint:...`, `uprobe:PATH:SYM`,
    /// `xdp:IFACE`, `socket:IFACE`, ... (bpftrace's forms, see
    /// [`oxbpf_kernel::AttachTarget`]).
    pub fn attach(&mut self, target: &str, program: &str) -> Result<AttachInfo, BpfError> {
        let t = target::parse(target)?;
        self.attach_target(&t, program)
    }

    /// Attaches `program` to `target`.
    pub fn attach_target(
        &mut self,
        target: &AttachTarget,
        program: &str,
    ) -> Result<AttachInfo, BpfError> {
        let info = self.src.program(program)?.clone();
        let policy = self.cfg.fallback;
        let (hooks, notice, mode) = match &mut self.backend {
            BackendImpl::User(u) => {
                u.check_loaded(&info.name)?;
                target::check_kind(&info, target)?;
                if info.kind == oxbpf_obj::ProgramKind::Unspecified {
                    target::check_helpers(
                        &info,
                        target::prog_type_for(target),
                        &target.to_string(),
                    )?;
                }
                let plan = target::user_plan(&info, target, policy)?;
                let mode = u.add(&self.src, &info, &plan.hooks)?;
                (
                    plan.hooks.iter().map(|h| h.to_string()).collect(),
                    plan.notice,
                    mode,
                )
            }
            BackendImpl::Kernel(k) => {
                let a = k.attach(&self.src, &info, target, policy)?;
                (a.hooks, a.notice, "kernel")
            }
        };
        let a = AttachInfo {
            program: info.name.clone(),
            target: target.to_string(),
            hooks,
            notice,
            mode,
        };
        if let Some(n) = &a.notice {
            log::info!("{n}");
        }
        self.attachments.push(a.clone());
        Ok(a)
    }

    /// BCC's `attach_kprobe(event=..., fn_name=...)`.
    pub fn attach_kprobe(&mut self, event: &str, fn_name: &str) -> Result<AttachInfo, BpfError> {
        let t = AttachTarget::Kprobe {
            function: event.to_string(),
            offset: 0,
        };
        self.attach_target(&t, fn_name)
    }

    /// BCC's `attach_kretprobe(event=..., fn_name=...)`.
    pub fn attach_kretprobe(&mut self, event: &str, fn_name: &str) -> Result<AttachInfo, BpfError> {
        let t = AttachTarget::Kretprobe {
            function: event.to_string(),
        };
        self.attach_target(&t, fn_name)
    }

    /// BCC's `attach_tracepoint(tp="category:name", fn_name=...)` (`category/name` works
    /// too).
    pub fn attach_tracepoint(&mut self, tp: &str, fn_name: &str) -> Result<AttachInfo, BpfError> {
        let (category, name) = tp
            .split_once(':')
            .or_else(|| tp.split_once('/'))
            .ok_or_else(|| BpfError::Target {
                target: tp.to_string(),
                reason: "expected CATEGORY:NAME, e.g. syscalls:sys_enter_openat".into(),
            })?;
        self.attach_target(&AttachTarget::tracepoint(category, name), fn_name)
    }

    /// BCC's `attach_raw_tracepoint(tp=..., fn_name=...)`.
    pub fn attach_raw_tracepoint(
        &mut self,
        tp: &str,
        fn_name: &str,
    ) -> Result<AttachInfo, BpfError> {
        let t = AttachTarget::RawTracepoint {
            name: tp.to_string(),
        };
        self.attach_target(&t, fn_name)
    }

    /// BCC's `attach_uprobe(name=binary, sym=..., fn_name=...)`.
    pub fn attach_uprobe(
        &mut self,
        binary: &str,
        symbol: &str,
        fn_name: &str,
    ) -> Result<AttachInfo, BpfError> {
        self.attach(&format!("uprobe:{binary}:{symbol}"), fn_name)
    }

    /// BCC's `attach_uretprobe(name=binary, sym=..., fn_name=...)`.
    pub fn attach_uretprobe(
        &mut self,
        binary: &str,
        symbol: &str,
        fn_name: &str,
    ) -> Result<AttachInfo, BpfError> {
        self.attach(&format!("uretprobe:{binary}:{symbol}"), fn_name)
    }

    /// BCC's `attach_xdp(dev, fn)`. In userspace the program runs over the packets of the
    /// captures given to [`Bpf::run_pcap`] (the interface name is kept for messages).
    pub fn attach_xdp(&mut self, dev: &str, fn_name: &str) -> Result<AttachInfo, BpfError> {
        self.attach(&format!("xdp:{dev}"), fn_name)
    }

    /// A socket filter on a raw socket bound to `dev` (kernel), or over the packets of
    /// [`Bpf::run_pcap`] (userspace).
    pub fn attach_socket_filter(
        &mut self,
        dev: &str,
        fn_name: &str,
    ) -> Result<AttachInfo, BpfError> {
        self.attach(&format!("socket:{dev}"), fn_name)
    }

    /// Attaches every program whose section names a complete target
    /// (`tracepoint/syscalls/sys_enter_openat`, `kprobe/do_sys_openat2`, ...). Fails when
    /// none does, naming the programs that need an explicit target.
    pub fn attach_auto(&mut self) -> Result<Vec<AttachInfo>, BpfError> {
        let todo: Vec<(String, AttachTarget)> = self
            .src
            .programs
            .iter()
            .filter_map(|p| Some((p.name.clone(), section_target(&p.kind)?)))
            .collect();
        if todo.is_empty() {
            let names: Vec<String> = self
                .src
                .programs
                .iter()
                .map(|p| format!("`{}` (section `{}`)", p.name, p.section))
                .collect();
            return Err(BpfError::Usage(format!(
                "{}: no program has a section that says where to attach it ({}); give a target (--attach KIND:TARGET, Bpf::attach)",
                self.src.name,
                names.join(", ")
            )));
        }
        let mut out = Vec::new();
        for (p, t) in todo {
            out.push(self.attach_target(&t, &p)?);
        }
        Ok(out)
    }

    /// Detaches every attachment of `program`; returns how many there were.
    pub fn detach(&mut self, program: &str) -> Result<usize, BpfError> {
        self.attachments.retain(|a| a.program != program);
        match &mut self.backend {
            BackendImpl::User(u) => Ok(u.detach(program)),
            BackendImpl::Kernel(k) => k.detach(program),
        }
    }

    // -------------------------------------------------------------------------------
    // Running
    // -------------------------------------------------------------------------------

    /// Runs a command with the programs attached and returns how it ended. Userspace:
    /// under the system call tracer (its syscalls fire the `syscalls:*` hooks). Kernel:
    /// as a child process while the programs stay attached. Output is pumped to the
    /// callbacks as it comes; trace lines without a callback stay buffered for
    /// [`Bpf::trace_print`].
    pub fn spawn<I, S>(&mut self, argv: I) -> Result<ExitStatus, BpfError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut it = argv.into_iter();
        let prog = it
            .next()
            .ok_or_else(|| BpfError::Usage("spawn: empty command".into()))?;
        let mut cmd = std::process::Command::new(prog.as_ref());
        cmd.args(it);
        self.spawn_command(&cmd)
    }

    /// [`Bpf::spawn`] with a `std::process::Command` (program, arguments, environment,
    /// working directory).
    pub fn spawn_command(&mut self, cmd: &std::process::Command) -> Result<ExitStatus, BpfError> {
        self.stats.pid = None;
        match &self.backend {
            BackendImpl::User(u) => u.spawn(
                TraceCommand::from_std(cmd),
                &mut self.sinks,
                &mut self.stats,
                self.stop,
            ),
            BackendImpl::Kernel(_) => {
                let mut c = std::process::Command::new(cmd.get_program());
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
                // Keep the trace lines of the command's process tree (kernel-side filter of
                // the private trace instance, following forks), unless told otherwise.
                let spawned = match (&self.sinks.trace, self.cfg.trace_all) {
                    (TraceSource::Kernel(Some(pipe)), false) => match pipe.instance() {
                        Some(inst) => Some(inst.spawn_filtered(&mut c)?),
                        None => None,
                    },
                    _ => None,
                };
                let filtered = spawned.is_some();
                let mut child = match spawned {
                    Some((child, spawner)) => {
                        self.sinks.trace_keep = Some(events::TraceKeep::new(None, vec![spawner]));
                        child
                    }
                    None => c.spawn().map_err(|error| BpfError::Io {
                        path: cmd.get_program().to_string_lossy().into_owned(),
                        error,
                    })?,
                };
                self.stats.pid = Some(child.id() as i32);
                let status = loop {
                    self.sinks.pump();
                    if let Some(s) = child.try_wait().map_err(|error| BpfError::Io {
                        path: cmd.get_program().to_string_lossy().into_owned(),
                        error,
                    })? {
                        break s;
                    }
                    if self.stop.is_some_and(|f| f()) {
                        // Ctrl-C reached the command too (same process group): wait for it.
                        let s = child.wait().map_err(|error| BpfError::Io {
                            path: cmd.get_program().to_string_lossy().into_owned(),
                            error,
                        })?;
                        break s;
                    }
                    self.sinks.wait(Duration::from_millis(20));
                };
                self.settle();
                if filtered {
                    self.clear_trace_filter();
                }
                Ok(exit_status(status))
            }
        }
    }

    /// Traces the running process `pid` until it exits, or until the stop check fires
    /// (Ctrl-C). Userspace: ptrace attaches to it (every system call of it then stops; see
    /// the tracer's documentation). Kernel: waits for it while the programs are attached.
    /// Returns how it ended when it ended.
    pub fn trace_pid(&mut self, pid: i32) -> Result<Option<ExitStatus>, BpfError> {
        match &self.backend {
            BackendImpl::User(u) => u.trace_pid(pid, &mut self.sinks, &mut self.stats, self.stop),
            BackendImpl::Kernel(_) => {
                if !process_alive(pid) {
                    return Err(BpfError::Usage(format!("no process {pid}")));
                }
                self.stats.pid = Some(pid);
                let filtered = !self.cfg.trace_all && self.filter_trace_to(pid)?;
                while process_alive(pid) && !self.stop.is_some_and(|f| f()) {
                    self.sinks.pump();
                    self.sinks.wait(Duration::from_millis(20));
                }
                self.settle();
                if filtered {
                    self.clear_trace_filter();
                }
                Ok(None)
            }
        }
    }

    /// Waits for output until the stop check fires (Ctrl-C), pumping it to the callbacks.
    /// For the kernel backend without a command, and for userspace programs fired by
    /// embedder hooks.
    pub fn run_until_stopped(&mut self) -> Result<(), BpfError> {
        let Some(stop) = self.stop else {
            return Err(BpfError::Usage(
                "run_until_stopped needs a stop check (Bpf::set_stop_check)".into(),
            ));
        };
        while !stop() {
            self.sinks.pump();
            self.sinks.wait(Duration::from_millis(50));
        }
        self.settle();
        Ok(())
    }

    /// Runs the packets of a pcap or pcapng capture through the programs attached with
    /// [`Bpf::attach_xdp`] / [`Bpf::attach_socket_filter`] (userspace backend), writing the
    /// packets the last one passes to `output`. Returns each program's counts.
    pub fn run_pcap(
        &mut self,
        input: impl AsRef<Path>,
        output: Option<&Path>,
        opts: PacketOptions,
    ) -> Result<Vec<(String, PacketStats)>, BpfError> {
        let BackendImpl::User(u) = &self.backend else {
            return Err(BpfError::Unsupported {
                what: "captures run on the userspace backend; the kernel backend attaches XDP and socket filters to interfaces".into(),
            });
        };
        let input = input.as_ref();
        let bytes = std::fs::read(input).map_err(|error| BpfError::Io {
            path: input.display().to_string(),
            error,
        })?;
        let mut file = match output {
            Some(p) => Some(std::fs::File::create(p).map_err(|error| BpfError::Io {
                path: p.display().to_string(),
                error,
            })?),
            None => None,
        };
        let w = file.as_mut().map(|f| f as &mut dyn std::io::Write);
        u.run_pcap(&bytes, w, opts, &mut self.sinks)
    }

    /// Kernel: keeps the trace lines of process `pid` only (its threads, including ones it
    /// starts later: the instance follows forks, and lines of other thread groups are
    /// dropped here). False when the programs do not print.
    fn filter_trace_to(&mut self, pid: i32) -> Result<bool, BpfError> {
        let TraceSource::Kernel(Some(pipe)) = &self.sinks.trace else {
            return Ok(false);
        };
        let Some(inst) = pipe.instance() else {
            return Ok(false);
        };
        let task_dir = format!("/proc/{pid}/task");
        let mut tids: Vec<u32> = std::fs::read_dir(&task_dir)
            .map_err(|error| BpfError::Io {
                path: task_dir.clone(),
                error,
            })?
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
            .collect();
        tids.sort_unstable();
        inst.set_pid_filter(&tids, true)?;
        self.sinks.trace_keep = Some(events::TraceKeep::new(u32::try_from(pid).ok(), Vec::new()));
        Ok(true)
    }

    /// Kernel: every process's trace lines again.
    fn clear_trace_filter(&mut self) {
        self.sinks.trace_keep = None;
        if let TraceSource::Kernel(Some(pipe)) = &self.sinks.trace {
            if let Some(inst) = pipe.instance() {
                if let Err(e) = inst.clear_pid_filter() {
                    log::warn!("clearing the trace pid filter: {e}");
                }
            }
        }
    }

    /// Reads what output is still on its way after the programs' last events (kernel: the
    /// trace pipe and buffers lag slightly behind).
    fn settle(&mut self) {
        if self.cfg.backend != Backend::Kernel {
            self.sinks.pump();
            return;
        }
        let deadline = Instant::now() + Duration::from_millis(500);
        loop {
            let mut n = self.sinks.pump();
            if let TraceSource::Kernel(Some(p)) = &mut self.sinks.trace {
                n += p.fill(Duration::from_millis(50)).unwrap_or(0);
            } else {
                std::thread::sleep(Duration::from_millis(20));
                n += self.sinks.pump();
            }
            if n == 0 || Instant::now() > deadline {
                break;
            }
        }
    }

    // -------------------------------------------------------------------------------
    // Output
    // -------------------------------------------------------------------------------

    /// Hands every trace line to `f` as it is produced (during `spawn`, `trace_pid`,
    /// `poll`), instead of buffering it for [`Bpf::trace_print`].
    pub fn on_trace(&mut self, f: impl FnMut(&TraceEvent) + 'static) {
        self.sinks.trace_cb = Some(Box::new(f));
    }

    /// The buffered trace lines (consumed).
    pub fn trace_lines(&mut self) -> Vec<TraceEvent> {
        let wait = if self.cfg.backend == Backend::Kernel {
            Duration::from_millis(10)
        } else {
            Duration::ZERO
        };
        self.sinks.take_trace(wait)
    }

    /// Prints the buffered trace lines to stdout, as BCC's `trace_print()`; returns how
    /// many.
    pub fn trace_print(&mut self) -> Result<usize, BpfError> {
        use std::io::Write;
        let lines = self.trace_lines();
        let mut out = std::io::stdout().lock();
        for l in &lines {
            writeln!(out, "{}", l.line()).map_err(|error| BpfError::Io {
                path: "stdout".into(),
                error,
            })?;
        }
        Ok(lines.len())
    }

    /// The buffered trace lines as fields (task, pid, cpu, flags, timestamp, message), as
    /// BCC's `trace_fields()`.
    pub fn trace_fields(&mut self) -> Vec<TraceFields> {
        self.trace_lines().iter().map(TraceEvent::fields).collect()
    }

    /// Trace lines lost (buffer full).
    pub fn trace_dropped(&self) -> u64 {
        self.sinks.trace_dropped()
    }

    /// Calls `f` with every record of ring buffer map `name`, as BCC's
    /// `open_ring_buffer`; records are delivered during `spawn`/`trace_pid` and by
    /// [`Bpf::poll`].
    pub fn open_ring_buffer(
        &mut self,
        name: &str,
        f: impl FnMut(&[u8]) + 'static,
    ) -> Result<(), BpfError> {
        let src = match &self.backend {
            BackendImpl::User(u) => RingSource::User(
                u.object()
                    .ring_buffer(name)
                    .map_err(|e| self.map_error(name, e))?,
            ),
            BackendImpl::Kernel(k) => {
                let obj = k.object().ok_or_else(|| self.no_map(name))?;
                RingSource::Kernel(Box::new(obj.ring_buffer(name)?))
            }
        };
        self.sinks.rings.push(RingSub {
            name: name.to_string(),
            src,
            cb: Box::new(f),
            delivered: 0,
        });
        Ok(())
    }

    /// Opens perf buffers (`pages` pages per CPU, a power of two) on perf event array
    /// `name` and calls `f` with every event, as BCC's `open_perf_buffer`.
    pub fn open_perf_buffer(
        &mut self,
        name: &str,
        pages: usize,
        f: impl FnMut(PerfEvent<'_>) + 'static,
    ) -> Result<(), BpfError> {
        if !pages.is_power_of_two() {
            return Err(BpfError::Usage(format!(
                "perf buffer `{name}`: {pages} pages is not a power of two"
            )));
        }
        let src = match &self.backend {
            BackendImpl::User(u) => PerfSource::User(
                u.object()
                    .perf_buffer(name, pages * 4096)
                    .map_err(|e| self.map_error(name, e))?,
            ),
            BackendImpl::Kernel(k) => {
                let obj = k.object().ok_or_else(|| self.no_map(name))?;
                PerfSource::Kernel(Box::new(obj.perf_buffer(name, pages)?))
            }
        };
        self.sinks.perfs.push(PerfSub {
            name: name.to_string(),
            src,
            cb: Box::new(f),
            samples: 0,
            lost: 0,
        });
        Ok(())
    }

    /// Waits up to `timeout` for output and hands it to the callbacks (ring buffers, perf
    /// buffers, trace lines when [`Bpf::on_trace`] is set); returns how many records.
    pub fn poll(&mut self, timeout: Duration) -> usize {
        let n = self.sinks.pump();
        if n > 0 {
            return n;
        }
        self.sinks.wait(timeout);
        self.sinks.pump()
    }

    /// BCC's `ring_buffer_poll(timeout)`.
    pub fn ring_buffer_poll(&mut self, timeout: Duration) -> usize {
        self.poll(timeout)
    }

    /// BCC's `perf_buffer_poll(timeout)`.
    pub fn perf_buffer_poll(&mut self, timeout: Duration) -> usize {
        self.poll(timeout)
    }

    /// Records delivered by ring buffer `name` so far.
    pub fn ring_buffer_delivered(&self, name: &str) -> u64 {
        self.sinks
            .rings
            .iter()
            .filter(|r| r.name == name)
            .map(|r| r.delivered)
            .sum()
    }

    /// Perf samples delivered and lost on perf buffer `name` so far.
    pub fn perf_buffer_counts(&self, name: &str) -> (u64, u64) {
        self.sinks
            .perfs
            .iter()
            .filter(|p| p.name == name)
            .fold((0, 0), |(s, l), p| (s + p.samples, l + p.lost))
    }

    // -------------------------------------------------------------------------------
    // Maps
    // -------------------------------------------------------------------------------

    fn no_map(&self, name: &str) -> BpfError {
        BpfError::NoMap {
            name: name.to_string(),
            available: self.src.map_list(),
        }
    }

    fn map_error(&self, name: &str, e: oxbpf_runtime::maps::MapError) -> BpfError {
        if self.src.maps.iter().any(|m| m.name == name) {
            BpfError::Map {
                map: name.to_string(),
                reason: e.to_string(),
            }
        } else {
            self.no_map(name)
        }
    }

    /// Map `name`.
    pub fn map(&self, name: &str) -> Result<BpfMap, BpfError> {
        if !self.src.maps.iter().any(|m| m.name == name) {
            return Err(self.no_map(name));
        }
        match &self.backend {
            BackendImpl::User(u) => u
                .object()
                .map(name)
                .map(BpfMap::user)
                .ok_or_else(|| self.no_map(name)),
            BackendImpl::Kernel(k) => Ok(BpfMap::kernel(name, k.map(name)?)),
        }
    }

    /// Prints map `name` as a log2 histogram (BCC's `print_log2_hist`).
    pub fn print_log2_hist(&self, name: &str, val_type: &str) -> Result<(), BpfError> {
        self.map(name)?.print_log2_hist(val_type)
    }

    /// Prints map `name` as a linear histogram (BCC's `print_linear_hist`).
    pub fn print_linear_hist(&self, name: &str, val_type: &str) -> Result<(), BpfError> {
        self.map(name)?.print_linear_hist(val_type)
    }

    /// Kernel ids of the programs this object loaded (kernel backend; empty otherwise).
    pub fn kernel_program_ids(&self) -> Vec<u32> {
        match &self.backend {
            BackendImpl::Kernel(k) => k.program_ids(),
            BackendImpl::User(_) => Vec::new(),
        }
    }
}

fn exit_status(s: std::process::ExitStatus) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => ExitStatus::Exited(c),
        (None, Some(sig)) => ExitStatus::Signaled(sig),
        (None, None) => ExitStatus::Exited(0),
    }
}

/// True while process `pid` exists and has not exited: a zombie (exited, not yet reaped by
/// its parent) runs nothing more, so tracing it is over.
fn process_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses, which may itself hold ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}
