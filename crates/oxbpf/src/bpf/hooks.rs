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
use oxbpf_runtime::hook::{Access, ContextLayout, HookContext};
use oxbpf_verifier::helpers::class;
use oxbpf_verifier::{ContextDescriptor, ContextField, HookSpec, Narrow};
use oxbpf_vm::{EngineKind, Executable, RunContext, RunOutcome, VmError};
use std::sync::Arc;

/// A loaded userspace program as an [`Executable`] for [`Hook::attach`](oxbpf_runtime::hook::Hook::attach).
pub struct HookProgram {
    /// The checked runner, or the verified code's.
    runner: Arc<ProgramRunner>,
    env: Arc<ProgramEnv>,
    /// Verified JIT code that runs from its registers alone, when the program has it.
    fast: Option<Arc<dyn Executable>>,
    /// Whether `runner` runs verified code.
    verified: bool,
}

impl std::fmt::Debug for HookProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookProgram")
            .field("program", &self.env.name)
            .field("engine", &self.runner.engine())
            .field("verified", &self.verified)
            .field("registers_only", &self.fast.is_some())
            .finish()
    }
}

impl HookProgram {
    /// Whether fires run it without a run context.
    pub fn registers_only(&self) -> bool {
        self.fast.is_some()
    }

    /// The engine and mode it runs in: `interp`, `jit` (checked) or `jit-verified`.
    pub fn mode(&self) -> &'static str {
        match self.runner.engine() {
            EngineKind::Interpreter => "interp",
            EngineKind::Jit if self.verified => "jit-verified",
            EngineKind::Jit => "jit",
        }
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
    /// Program `name` as an [`Executable`] for a [`Hook`](oxbpf_runtime::hook::Hook) with
    /// context `C` (userspace backend). Its maps, trace output and ring buffers are this
    /// `Bpf`'s. Unless the `Bpf` is unverified, the program is verified against `C`'s
    /// declared fields (read-only or writable, as the hook grants them); on the JIT it
    /// then runs as verified code, and without helper calls from its registers alone.
    pub fn hook_program<C: HookContext>(
        &mut self,
        name: &str,
    ) -> Result<Arc<HookProgram>, BpfError> {
        let info = self.src.program(name)?.clone();
        let BackendImpl::User(u) = &mut self.backend else {
            return Err(BpfError::Unsupported {
                what: "embedder hooks run userspace programs; load with the userspace backend"
                    .into(),
            });
        };
        u.check_loaded(name)?;
        let spec = hook_spec::<C>().map_err(BpfError::Usage)?;
        let verified = u.verify_for_hook(&self.src, &info, Arc::new(spec))?;
        let p = u
            .object()
            .program(name)
            .ok_or_else(|| BpfError::Usage(format!("program `{name}` is not loaded")))?;
        Ok(Arc::new(match verified {
            Some(v) => HookProgram {
                runner: v.runner.clone(),
                env: p.env().clone(),
                fast: v.registers_only.then(|| v.code.clone()),
                verified: true,
            },
            None => HookProgram {
                runner: p.runner().clone(),
                env: p.env().clone(),
                fast: None,
                verified: false,
            },
        }))
    }
}

/// The verifier's description of a hook with context `C`: its declared fields, readable or
/// writable, every helper the runtime has.
fn hook_spec<C: HookContext>() -> Result<HookSpec, String> {
    let name = std::any::type_name::<C>();
    let layout = ContextLayout::of::<C>().map_err(|e| e.to_string())?;
    let fields = layout
        .fields
        .iter()
        .map(|f| {
            let field = ContextField::scalar(f.name, f.offset as u32, f.size as u32);
            match f.access {
                Access::Read => field,
                Access::ReadWrite => field.writable().with_narrow(Narrow::LoadsAndStores),
            }
        })
        .collect();
    let ctx = ContextDescriptor::new(name, layout.size as u32, fields)
        .map_err(|e| format!("hook context {name}: {e}"))?;
    let mut spec = HookSpec::new(name, ctx);
    spec.helper_classes = class::ALL;
    spec.allow_ptr_leaks = true;
    Ok(spec)
}
