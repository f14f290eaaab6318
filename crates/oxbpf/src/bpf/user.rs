//! The userspace backend: programs run in this process on oxbpf's engines, on the system
//! calls of traced commands (ptrace + seccomp) and on the packets of captures.

use super::error::BpfError;
use super::events::Sinks;
use super::source::Source;
use super::target::UserHook;
use super::{spec, Config, RunStats};
use oxbpf_runtime::loader::{LoadedObject, LoadedProgram, RunInput, Runtime};
use oxbpf_runtime::packet::{PacketEnv, PacketOptions, PacketRunner, PacketStats};
use oxbpf_runtime::task::{CurrentTask, Task};
use oxbpf_runtime::trace::TraceBuffer;
use oxbpf_runtime::tracer::{
    Action, ExitStatus, Phase, SyscallEvent, SyscallInterest, SyscallSet, TraceCommand, Tracer,
};
use oxbpf_vm::{EngineKind, Executable, RunContext, RunOutcome, VmError};
use std::collections::HashMap;
use std::sync::Arc;

/// One program on one userspace hook.
#[derive(Clone, Debug)]
pub(crate) struct UserAttachment {
    pub program: String,
    pub hook: UserHook,
}

pub(crate) struct UserBackend {
    loaded: LoadedObject,
    /// Verified JIT code of the programs that run from their registers alone (no helper
    /// calls), by name.
    fast: HashMap<String, Arc<dyn Executable>>,
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
        let runtime = Runtime::new()
            .with_engine(cfg.engine)
            .with_budget(cfg.budget)
            .with_trace(trace.clone());
        let loaded = runtime.load(&spec).map_err(|error| BpfError::Load {
            source_name: src.name.clone(),
            error: Box::new(error),
        })?;
        Ok(UserBackend {
            loaded,
            fast: HashMap::new(),
            trace,
            attachments: Vec::new(),
        })
    }

    pub fn trace(&self) -> &Arc<TraceBuffer> {
        &self.trace
    }

    pub fn object(&self) -> &LoadedObject {
        &self.loaded
    }

    /// The verified, registers-only JIT code of `program`, if it has some.
    pub fn fast_code(&self, program: &str) -> Option<Arc<dyn Executable>> {
        self.fast.get(program).cloned()
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

    pub fn add(&mut self, program: &str, hooks: &[UserHook]) {
        for h in hooks {
            self.attachments.push(UserAttachment {
                program: program.to_string(),
                hook: *h,
            });
        }
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
                match phase {
                    Phase::Enter => {
                        interest.enter = SyscallSet::all();
                        table.all_enter.push(prog);
                    }
                    Phase::Exit => {
                        interest.exit = SyscallSet::all();
                        table.all_exit.push(prog);
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
                .push(prog);
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
                for p in progs {
                    ctx.clear();
                    ctx.extend_from_slice(ev.ctx_bytes());
                    stats.runs += 1;
                    let r = p.run(RunInput {
                        ctx: Some(&mut ctx),
                        task,
                        ..Default::default()
                    });
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

/// The programs of each system call event.
#[derive(Default)]
struct SyscallTable<'a> {
    by_call: HashMap<(Phase, u32), Vec<&'a LoadedProgram>>,
    all_enter: Vec<&'a LoadedProgram>,
    all_exit: Vec<&'a LoadedProgram>,
}

/// A loaded program run by the packet runner. The runner gives each run its packet state
/// ([`PacketEnv`]) as the run's environment; this moves it into the runtime's run record
/// as extension data for the run (so map, trace and packet helpers all find theirs), grants
/// the object's maps, and copies the packet state back for the runner.
struct PacketProgram<'a> {
    prog: &'a LoadedProgram,
    budget: Option<u64>,
}

impl Executable for PacketProgram<'_> {
    fn run(&self, ctx: &mut RunContext<'_>) -> Result<RunOutcome, VmError> {
        let args = ctx.args;
        let budget = ctx.budget.or(self.budget);
        let (regions, env) = ctx.parts();
        let packet_env: Option<PacketEnv> =
            env.and_then(|e| e.downcast_mut::<PacketEnv>()).copied();
        let mut run = self.prog.run_env();
        if let Some(p) = packet_env {
            run = run.with_data(p);
        }
        let granted = std::mem::take(regions);
        let out = {
            let mut rc = RunContext::new().with_env(&mut run);
            rc.args = args;
            rc.budget = budget;
            rc.regions = granted;
            oxbpf_runtime::grant::with_maps_granted(&mut rc, &self.prog.env().maps, |c| {
                self.prog.runner().run(c)
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
        self.prog.runner().engine()
    }
}
