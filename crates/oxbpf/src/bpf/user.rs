//! The userspace backend: programs run in this process on oxbpf's engines, on the system
//! calls of traced commands (ptrace + seccomp) and on the packets of captures.

use super::error::BpfError;
use super::events::Sinks;
use super::source::{ProgramInfo, Source};
use super::target::UserHook;
use super::verify::{self, VerifiedCode, VerifyAs};
use super::{spec, Config, RunStats};
use oxbpf_runtime::env::{ProgramRunner, RunEnv};
use oxbpf_runtime::loader::{LoadedObject, LoadedProgram, RunInput, Runtime};
use oxbpf_runtime::packet::{PacketEnv, PacketOptions, PacketRunner, PacketStats};
use oxbpf_runtime::task::{CurrentTask, Task};
use oxbpf_runtime::trace::TraceBuffer;
use oxbpf_runtime::tracer::{
    Action, ExitStatus, Phase, SyscallEvent, SyscallInterest, SyscallSet, TraceCommand, Tracer,
};
use oxbpf_runtime::verified::ContextContract;
use oxbpf_vm::{EngineKind, Executable, RunContext, RunOutcome, VmError};
use std::collections::HashMap;
use std::sync::Arc;

/// Verified code behind the context contract of one hook: its runner, and the code itself
/// (for the registers-only entry of embedder hooks).
pub(crate) type VerifiedRun = (Arc<ProgramRunner>, Arc<VerifiedCode>);

/// One program on one userspace hook.
#[derive(Clone)]
pub(crate) struct UserAttachment {
    pub program: String,
    pub hook: UserHook,
    /// The JIT's verified code behind the hook's context contract, when the program was
    /// verified for this hook and runs on the JIT without a budget.
    pub verified: Option<Arc<ProgramRunner>>,
}

impl std::fmt::Debug for UserAttachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserAttachment")
            .field("program", &self.program)
            .field("hook", &self.hook)
            .field("verified_code", &self.verified.is_some())
            .finish()
    }
}

pub(crate) struct UserBackend {
    loaded: LoadedObject,
    src_name: String,
    /// Run oxbpf's verifier (the default).
    verify: bool,
    /// Verified programs may run as the JIT's verified code (JIT engine, no budget).
    verified_mode: bool,
    /// Verdicts by (program, what it was verified as): the context contract when
    /// accepted, `None` when the verifier does not handle that program type.
    verdicts: HashMap<(String, String), Option<Arc<ContextContract>>>,
    /// Verified JIT code, by program (compiled on first use, shared by its hooks).
    code: HashMap<String, Arc<VerifiedCode>>,
    /// Runners of verified code by (program, what it was verified as): the code behind
    /// that verdict's contract.
    runners: HashMap<(String, String), Arc<ProgramRunner>>,
    trace: Arc<TraceBuffer>,
    attachments: Vec<UserAttachment>,
}

impl std::fmt::Debug for UserBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserBackend")
            .field("object", &self.loaded)
            .field("attachments", &self.attachments)
            .finish()
    }
}

impl UserBackend {
    pub fn load(src: &Source, cfg: &Config) -> Result<UserBackend, BpfError> {
        let spec = spec::object_spec(src)?;
        let trace = Arc::new(TraceBuffer::new(cfg.trace_capacity));
        // This backend verifies each program for the hooks it is attached to (a program
        // may be moved to another hook type; BCC-style functions get theirs at attach),
        // so the runtime loads them unverified, in checked mode.
        let runtime = Runtime::new()
            .with_engine(cfg.engine)
            .with_budget(cfg.budget)
            .with_verify(false)
            .with_trace(trace.clone());
        let loaded = runtime.load(&spec).map_err(|error| BpfError::Load {
            source_name: src.name.clone(),
            error: Box::new(error),
        })?;
        let mut u = UserBackend {
            loaded,
            src_name: src.name.clone(),
            verify: cfg.verify,
            verified_mode: cfg.engine == EngineKind::Jit && cfg.budget.is_none(),
            verdicts: HashMap::new(),
            code: HashMap::new(),
            runners: HashMap::new(),
            trace,
            attachments: Vec::new(),
        };
        // Programs in sections are verified as what their section says now, as a loader
        // would; BCC-style functions when an attach gives them a type.
        if u.verify {
            for p in &src.programs {
                if p.kind != oxbpf_obj::ProgramKind::Unspecified
                    && u.loaded.program(&p.name).is_some()
                {
                    u.verdict(src, p, &VerifyAs::Kind(p.kind.clone(), None))?;
                }
            }
        }
        Ok(u)
    }

    /// The verifier's verdict on `p` as `what` (cached): the contract of its runs when
    /// accepted, `None` when the verifier does not handle the program type.
    fn verdict(
        &mut self,
        src: &Source,
        p: &ProgramInfo,
        what: &VerifyAs,
    ) -> Result<Option<Arc<ContextContract>>, BpfError> {
        let key = (p.name.clone(), what.key());
        if let Some(v) = self.verdicts.get(&key) {
            return Ok(v.clone());
        }
        let v = verify::check(src, p, what)?.map(Arc::new);
        self.verdicts.insert(key, v.clone());
        Ok(v)
    }

    /// The verified JIT code of `program` (compiled once).
    ///
    /// # Safety
    /// As [`verify::compile_verified`]: the verifier accepted `program` (a verdict with a
    /// contract), and the code is run only behind the contract of a verdict the verifier
    /// gave it (its runners) or on the hook type it was verified for.
    unsafe fn verified_code(
        &mut self,
        program: &str,
    ) -> Result<Option<Arc<VerifiedCode>>, BpfError> {
        if !self.verified_mode {
            return Ok(None);
        }
        if let Some(c) = self.code.get(program) {
            return Ok(Some(c.clone()));
        }
        let Some(p) = self.loaded.program(program) else {
            return Ok(None);
        };
        // SAFETY: this function's contract.
        let c = Arc::new(unsafe { verify::compile_verified(p, &self.src_name) }?);
        self.code.insert(program.to_string(), c.clone());
        Ok(Some(c))
    }

    /// The runner of `program`'s verified code for runs that keep `contract` (what it
    /// was verified as: `key`), when it runs as verified code (JIT, no budget).
    ///
    /// # Safety
    /// `contract` is the contract of the verifier's verdict accepting `program` as `key`;
    /// the returned code's registers-only entry is given only contexts of that verdict.
    unsafe fn verified_runner(
        &mut self,
        program: &str,
        key: String,
        contract: &ContextContract,
    ) -> Result<Option<VerifiedRun>, BpfError> {
        // SAFETY: the verifier accepted `program` (this function's contract); the code is
        // run behind `contract` by the runner made below, or from its registers by
        // callers that keep the verdict's context (this function's contract).
        let Some(code) = (unsafe { self.verified_code(program) })? else {
            return Ok(None);
        };
        let key = (program.to_string(), key);
        if let Some(r) = self.runners.get(&key) {
            return Ok(Some((r.clone(), code)));
        }
        let Some(p) = self.loaded.program(program) else {
            return Ok(None);
        };
        let r = code.runner(p, contract.clone());
        self.runners.insert(key, r.clone());
        Ok(Some((r, code)))
    }

    /// Verifies `p` for an embedder hook and returns its verified code, with a runner
    /// that checks the hook's context contract, when it may run as such (`None`: checked
    /// mode).
    pub fn verify_for_hook(
        &mut self,
        src: &Source,
        p: &ProgramInfo,
        spec: Arc<oxbpf_verifier::HookSpec>,
    ) -> Result<Option<VerifiedRun>, BpfError> {
        if !self.verify {
            return Ok(None);
        }
        let what = VerifyAs::Hook(spec);
        let Some(contract) = self.verdict(src, p, &what)? else {
            return Ok(None);
        };
        // SAFETY: `contract` is the verdict the verifier just gave `p` for the hook `spec`
        // describes; the caller (`Bpf::hook_program`) gives the code's registers-only
        // entry only contexts of that hook's type (`HookProgram`).
        unsafe { self.verified_runner(&p.name, what.key(), &contract) }
    }

    pub fn trace(&self) -> &Arc<TraceBuffer> {
        &self.trace
    }

    pub fn object(&self) -> &LoadedObject {
        &self.loaded
    }

    pub fn engine(&self) -> Option<EngineKind> {
        self.loaded.programs().next().map(|p| p.runner().engine())
    }

    /// Checks that `program` was prepared (the runtime leaves out programs it cannot run,
    /// with the reason).
    pub fn check_loaded(&self, program: &str) -> Result<(), BpfError> {
        if self.loaded.program(program).is_some() {
            return Ok(());
        }
        let why = self
            .loaded
            .skipped()
            .find(|(n, _)| *n == program)
            .map(|(_, w)| w.to_string())
            .unwrap_or_else(|| "it was not loaded".to_string());
        Err(BpfError::Unsupported {
            what: format!(
                "program `{program}` cannot run in userspace: {why}; use the kernel backend"
            ),
        })
    }

    /// Attaches `p` to `hooks`, verifying it for each (its program type and context
    /// there). A program moved to another hook type (a kprobe on the syscall hooks) that
    /// the verifier refuses there runs checked, with a warning; otherwise a rejection is
    /// an error.
    ///
    /// Returns how it runs (see `AttachInfo::mode`): `interp` or `jit` (checked), with
    /// `, verified` when oxbpf's verifier accepted it on every hook (the JIT then runs its
    /// verified code, behind each hook's context contract; `jit, verified, checked` when
    /// a budget keeps it in checked code).
    pub fn add(
        &mut self,
        src: &Source,
        p: &ProgramInfo,
        hooks: &[UserHook],
    ) -> Result<&'static str, BpfError> {
        let mut planned = Vec::with_capacity(hooks.len());
        for h in hooks {
            let mut verified = None;
            if self.verify {
                let what = verify::for_user_hook(h);
                let moved = p.kind != oxbpf_obj::ProgramKind::Unspecified
                    && match &what {
                        VerifyAs::Kind(k, _) => {
                            oxbpf_verifier::ProgramType::from_kind(k).map(|t| t.name().to_string())
                                != oxbpf_verifier::ProgramType::from_kind(&p.kind)
                                    .map(|t| t.name().to_string())
                        }
                        VerifyAs::Hook(_) => true,
                    };
                match self.verdict(src, p, &what) {
                    Ok(Some(contract)) => {
                        // SAFETY: `contract` is the verdict the verifier just gave `p` as
                        // `what`; only the runner (which checks it) is kept.
                        verified = unsafe { self.verified_runner(&p.name, what.key(), &contract) }?
                            .map(|(r, _)| r)
                    }
                    Ok(None) => {}
                    Err(e) if moved => {
                        log::warn!("{h}: {}; it runs with every access checked", e.summary())
                    }
                    Err(e) => return Err(e),
                }
            }
            planned.push(UserAttachment {
                program: p.name.clone(),
                hook: *h,
                verified,
            });
        }
        let all_verified = self.verify
            && planned.iter().all(|a| {
                self.verdicts
                    .get(&(p.name.clone(), verify::for_user_hook(&a.hook).key()))
                    .is_some_and(|v| v.is_some())
            });
        let verified_code = !planned.is_empty() && planned.iter().all(|a| a.verified.is_some());
        self.attachments.extend(planned);
        Ok(match (self.engine(), all_verified, verified_code) {
            (_, true, true) => "jit, verified",
            (Some(EngineKind::Jit), true, false) => "jit, verified, checked",
            (Some(EngineKind::Jit), false, _) => "jit",
            (_, true, _) => "interp, verified",
            _ => "interp",
        })
    }

    pub fn detach(&mut self, program: &str) -> usize {
        let before = self.attachments.len();
        self.attachments.retain(|a| a.program != program);
        before - self.attachments.len()
    }

    /// The syscall events programs are attached to, and the programs of each.
    fn syscall_table(&self) -> Result<(SyscallInterest, SyscallTable<'_>), BpfError> {
        let mut interest = SyscallInterest::new();
        let mut table = SyscallTable::default();
        for a in &self.attachments {
            if let UserHook::AllSyscalls { phase } = a.hook {
                let prog = self.loaded.program(&a.program).ok_or_else(|| {
                    BpfError::Usage(format!("program `{}` is not loaded", a.program))
                })?;
                let run = (prog, a.verified.as_ref());
                match phase {
                    Phase::Enter => {
                        interest.enter = SyscallSet::all();
                        table.all_enter.push(run);
                    }
                    Phase::Exit => {
                        interest.exit = SyscallSet::all();
                        table.all_exit.push(run);
                    }
                }
                continue;
            }
            let UserHook::Syscall { phase, syscall } = a.hook else {
                continue;
            };
            match phase {
                Phase::Enter => interest.enter.insert(syscall.nr),
                Phase::Exit => interest.exit.insert(syscall.nr),
            };
            let prog = self
                .loaded
                .program(&a.program)
                .ok_or_else(|| BpfError::Usage(format!("program `{}` is not loaded", a.program)))?;
            table
                .by_call
                .entry((phase, syscall.nr))
                .or_default()
                .push((prog, a.verified.as_ref()));
        }
        Ok((interest, table))
    }

    /// Runs `tracer` to its end, running the attached programs on every event and pumping
    /// their output to `sinks` after each one.
    fn drive(
        &self,
        tracer: Tracer,
        table: &SyscallTable<'_>,
        sinks: &mut Sinks,
        stats: &mut RunStats,
        stop: Option<fn() -> bool>,
    ) -> Result<Option<ExitStatus>, BpfError> {
        let mut ctx = Vec::with_capacity(128);
        // Verified code may read the whole record its context descriptor describes (at
        // most 64 bytes: sys_enter with six arguments, raw_syscalls:sys_enter): it gets
        // that much, zeroed past the record. Its runner checks the contract anyway (a
        // descriptor larger than this buffer fails the run instead of reading past it).
        let mut full = [0u8; oxbpf_runtime::tracer::ENTER_ARGS_OFFSET + 6 * 8];
        let outcome = tracer.run(|ev: &mut SyscallEvent<'_>| {
            let all = match ev.phase() {
                Phase::Enter => &table.all_enter,
                Phase::Exit => &table.all_exit,
            };
            let one = table.by_call.get(&(ev.phase(), ev.nr()));
            if !all.is_empty() || one.is_some() {
                let progs = all.iter().chain(one.into_iter().flatten());
                stats.events += 1;
                let info = ev.task_info();
                let task = CurrentTask::Task(Task {
                    tgid: info.pid as u32,
                    pid: info.tid as u32,
                    uid: info.uid,
                    gid: info.gid,
                    comm: info.comm,
                });
                for (p, verified) in progs {
                    stats.runs += 1;
                    let r = match verified {
                        Some(runner) => {
                            let rec = ev.ctx_bytes();
                            let n = rec.len().min(full.len());
                            full[..n].copy_from_slice(&rec[..n]);
                            full[n..].fill(0);
                            let mut env = RunEnv::new(p.env().clone());
                            env.task = task;
                            let mut rc = RunContext::with_context(&mut full).with_env(&mut env);
                            runner.run(&mut rc).map(|_| ()).map_err(|source| {
                                oxbpf_runtime::loader::RunError::Vm {
                                    program: p.name().to_string(),
                                    source,
                                }
                            })
                        }
                        None => {
                            ctx.clear();
                            ctx.extend_from_slice(ev.ctx_bytes());
                            p.run(RunInput {
                                ctx: Some(&mut ctx),
                                task,
                                ..Default::default()
                            })
                            .map(|_| ())
                        }
                    };
                    if let Err(e) = r {
                        stats.failures += 1;
                        if stats.first_error.is_none() {
                            log::warn!("{e}");
                            stats.first_error = Some(e.to_string());
                        }
                    }
                }
                sinks.pump();
            }
            if stop.is_some_and(|f| f()) {
                Action::Stop
            } else {
                Action::Continue
            }
        })?;
        sinks.pump();
        Ok(outcome.exit)
    }

    /// Runs `cmd` under the tracer with the attached programs.
    pub fn spawn(
        &self,
        cmd: TraceCommand,
        sinks: &mut Sinks,
        stats: &mut RunStats,
        stop: Option<fn() -> bool>,
    ) -> Result<ExitStatus, BpfError> {
        let (interest, table) = self.syscall_table()?;
        let mut tracer = Tracer::spawn(cmd, interest)?;
        if let Some(f) = stop {
            tracer = tracer.stop_when(f);
        }
        stats.pid = Some(tracer.pid());
        let exit = self.drive(tracer, &table, sinks, stats, stop)?;
        exit.ok_or_else(|| {
            BpfError::Usage("the traced command did not report an exit status".into())
        })
    }

    /// Traces the running process `pid` until it exits or `stop` says so.
    pub fn trace_pid(
        &self,
        pid: i32,
        sinks: &mut Sinks,
        stats: &mut RunStats,
        stop: Option<fn() -> bool>,
    ) -> Result<Option<ExitStatus>, BpfError> {
        let (interest, table) = self.syscall_table()?;
        let mut tracer = Tracer::attach(pid, interest)?;
        if let Some(f) = stop {
            tracer = tracer.stop_when(f);
        }
        stats.pid = Some(pid);
        self.drive(tracer, &table, sinks, stats, stop)
    }

    /// Runs every packet of a capture through each program attached to a packet hook
    /// (in attach order), writing the passing packets of the last one to `output`.
    pub fn run_pcap(
        &self,
        input: &[u8],
        mut output: Option<&mut dyn std::io::Write>,
        opts: PacketOptions,
        sinks: &mut Sinks,
    ) -> Result<Vec<(String, PacketStats)>, BpfError> {
        let packets: Vec<&UserAttachment> = self
            .attachments
            .iter()
            .filter(|a| matches!(a.hook, UserHook::Packet(_)))
            .collect();
        if packets.is_empty() {
            return Err(BpfError::Usage(
                "no program is attached to a packet hook (attach_xdp or attach_socket_filter)"
                    .into(),
            ));
        }
        let mut out = Vec::new();
        let last = packets.len() - 1;
        for (i, a) in packets.iter().enumerate() {
            let UserHook::Packet(kind) = a.hook else {
                continue;
            };
            let prog = self
                .loaded
                .program(&a.program)
                .ok_or_else(|| BpfError::Usage(format!("program `{}` is not loaded", a.program)))?;
            let exec = PacketProgram {
                prog,
                runner: a.verified.as_ref().unwrap_or(prog.runner()),
                budget: opts.budget,
            };
            let mut runner = PacketRunner::with_options(&exec, kind, opts)?;
            let w = if i == last { output.take() } else { None };
            let stats = runner.run_pcap(input, w)?;
            sinks.pump();
            out.push((a.program.clone(), stats));
        }
        Ok(out)
    }
}

/// A program to run on an event, with its verified code when it has some.
type EventProgram<'a> = (&'a LoadedProgram, Option<&'a Arc<ProgramRunner>>);

/// The programs of each system call event.
#[derive(Default)]
struct SyscallTable<'a> {
    by_call: HashMap<(Phase, u32), Vec<EventProgram<'a>>>,
    all_enter: Vec<EventProgram<'a>>,
    all_exit: Vec<EventProgram<'a>>,
}

/// A loaded program run by the packet runner. The runner gives each run its packet state
/// ([`PacketEnv`]) as the run's environment; this moves it into the runtime's run record
/// as extension data for the run (so map, trace and packet helpers all find theirs), grants
/// the object's maps, and copies the packet state back for the runner.
struct PacketProgram<'a> {
    prog: &'a LoadedProgram,
    /// The program's runner: its checked one, or its verified code.
    runner: &'a Arc<ProgramRunner>,
    budget: Option<u64>,
}

impl Executable for PacketProgram<'_> {
    fn run(&self, ctx: &mut RunContext<'_>) -> Result<RunOutcome, VmError> {
        let budget = ctx.budget.or(self.budget);
        let (_, env) = ctx.parts();
        let packet_env: Option<PacketEnv> =
            env.and_then(|e| e.downcast_mut::<PacketEnv>()).copied();
        let mut run = self.prog.run_env();
        if let Some(p) = packet_env {
            run = run.with_data(p);
        }
        let out = {
            let mut rc = ctx.nested().with_env(&mut run);
            rc.budget = budget;
            oxbpf_runtime::grant::with_maps_granted(&mut rc, &self.prog.env().maps, |c| {
                self.runner.run(c)
            })
        };
        if let (Some(dst), Some(src)) = (
            ctx.parts().1.and_then(|e| e.downcast_mut::<PacketEnv>()),
            run.data_mut::<PacketEnv>(),
        ) {
            *dst = *src;
        }
        out
    }

    fn engine(&self) -> EngineKind {
        self.runner.engine()
    }
}
