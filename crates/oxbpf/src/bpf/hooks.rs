//! Programs of a [`Bpf`] on embedder hooks ([`oxbpf_runtime::hook::Hook`]).
//!
//! A hook hands each program a context struct and nothing else; a loaded program's runner
//! adds its run record (so map, trace and ring buffer helpers find the object's maps) and
//! its maps' regions. A program that was verified
//! and calls no helper needs none of that: it runs as verified JIT code straight from its
//! registers ([`Executable::run_registers`]), and the hook builds no run context for it
//! (a few nanoseconds per fire instead of ~30; docs/BENCHMARKS.md).

use super::error::BpfError;
use super::{BackendImpl, Bpf};
use oxbpf_runtime::env::{ProgramEnv, ProgramRunner};
use oxbpf_vm::{EngineKind, Executable, RunContext, RunOutcome, VmError};
use std::sync::Arc;

/// A loaded userspace program as an [`Executable`] for [`Hook::attach`](oxbpf_runtime::hook::Hook::attach).
pub struct HookProgram {
    runner: Arc<ProgramRunner>,
    env: Arc<ProgramEnv>,
    /// Verified JIT code that runs from its registers alone, when the program has it.
    fast: Option<Arc<dyn Executable>>,
}

impl std::fmt::Debug for HookProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookProgram")
            .field("program", &self.env.name)
            .field("engine", &self.runner.engine())
            .field("registers_only", &self.fast.is_some())
            .finish()
    }
}

impl HookProgram {
    /// Whether fires run it without a run context.
    pub fn registers_only(&self) -> bool {
        self.fast.is_some()
    }
}

impl Executable for HookProgram {
    fn run(&self, ctx: &mut RunContext<'_>) -> Result<RunOutcome, VmError> {
        if let Some(f) = &self.fast {
            if ctx.budget.is_none() {
                if let Some(r0) = f.run_registers(&ctx.args) {
                    return Ok(RunOutcome {
                        r0,
                        insns_executed: None,
                    });
                }
            }
        }
        // In a hook's run (no environment) the runner makes the program's run record and
        // grants its maps itself.
        self.runner.run(ctx)
    }

    fn engine(&self) -> EngineKind {
        self.runner.engine()
    }

    #[inline]
    fn run_registers(&self, args: &[u64; 5]) -> Option<u64> {
        self.fast.as_ref()?.run_registers(args)
    }
}

impl Bpf {
    /// Program `name` as an [`Executable`] to attach to an embedder hook (userspace
    /// backend). Its maps, trace output and ring buffers are this `Bpf`'s.
    pub fn hook_program(&self, name: &str) -> Result<Arc<HookProgram>, BpfError> {
        let BackendImpl::User(u) = &self.backend else {
            return Err(BpfError::Unsupported {
                what: "embedder hooks run userspace programs; load with the userspace backend"
                    .into(),
            });
        };
        self.src.program(name)?;
        u.check_loaded(name)?;
        let p = u
            .object()
            .program(name)
            .ok_or_else(|| BpfError::Usage(format!("program `{name}` is not loaded")))?;
        Ok(Arc::new(HookProgram {
            runner: p.runner().clone(),
            env: p.env().clone(),
            fast: u.fast_code(name),
        }))
    }
}
