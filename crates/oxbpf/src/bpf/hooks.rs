//! Programs of a [`Bpf`] on embedder hooks ([`oxbpf_runtime::hook::Hook`]).
//!
//! A hook hands each program a context struct and nothing else; a loaded program's runner
//! adds its run record (so map, trace and ring buffer helpers find the object's maps) and
//! its maps' regions. A verified program on the JIT (the default engine on x86-64) runs as
//! verified code behind the context contract of the hook type it was verified for
//! (oxbpf-runtime's `ContextContract`): every run through [`Executable::run`] first checks
//! that `r1` points at a granted context of that size, writable where the program writes.
//! A verified program that calls no helper needs no run context at all: a hook can run it
//! straight from its registers ([`Executable::run_registers`], a few nanoseconds per fire
//! instead of ~30; docs/BENCHMARKS.md). That entry cannot check anything, so a hook takes
//! it only for programs attached with the `unsafe` `Hook::attach_registers_only`:
//! [`Bpf::attach_hook`] does that for a `Hook<C>` and the program verified for that same
//! `C`. A [`HookProgram`] attached with the safe `Hook::attach` runs through
//! [`Executable::run`], which checks the contract first.

use super::error::BpfError;
use super::{BackendImpl, Bpf};
use oxbpf_runtime::env::{ProgramEnv, ProgramRunner};
use oxbpf_runtime::hook::{Access, AttachId, ContextLayout, Hook, HookContext};
use oxbpf_verifier::helpers::class;
use oxbpf_verifier::{ContextDescriptor, ContextField, HookSpec, Narrow};
use oxbpf_vm::{EngineKind, Executable, RunContext, RunOutcome, VmError};
use std::sync::Arc;

/// A loaded userspace program as an [`Executable`] for [`Hook::attach`].
pub struct HookProgram {
    /// The checked runner, or the verified code's.
    runner: Arc<ProgramRunner>,
    env: Arc<ProgramEnv>,
    /// Verified JIT code that runs from its registers alone, when the program has it.
    fast: Option<Arc<dyn Executable>>,
    /// Whether `runner` runs verified code (it then checks the hook's context contract).
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
                // The verified code trusts its context: the run must grant it as the
                // contract says before the code runs from its registers.
                // `fast` is set only for verified code, whose runner has a contract.
                let Some(c) = self.runner.contract() else {
                    return self.runner.run(ctx);
                };
                c.check(ctx)?;
                // SAFETY: the code was verified for the context `c` describes, and the
                // check just made sure that `r1` points at a context of that size granted
                // to this run, writable where the program writes: what a run may be given.
                if let Some(r0) = unsafe { f.run_registers(&ctx.args) } {
                    return Ok(RunOutcome {
                        r0,
                        insns_executed: None,
                    });
                }
            }
        }
        // In a hook's run (no environment) the runner makes the program's run record and
        // grants its maps itself; a verified program's runner checks its contract first.
        self.runner.run(ctx)
    }

    fn engine(&self) -> EngineKind {
        self.runner.engine()
    }

    #[inline]
    unsafe fn run_registers(&self, args: &[u64; 5]) -> Option<u64> {
        // SAFETY: the caller's contract (arguments a run of this program may be given) is
        // the one the verified code's entry needs.
        unsafe { self.fast.as_ref()?.run_registers(args) }
    }
}

impl Bpf {
    /// Program `name` as an [`Executable`] for a [`Hook`] with
    /// context `C` (userspace backend). Its maps, trace output and ring buffers are this
    /// `Bpf`'s. Unless the `Bpf` is unverified, the program is verified against `C`'s
    /// declared fields (read-only or writable, as the hook grants them); on the JIT (the
    /// default engine on x86-64) it then runs as verified code, and without helper calls
    /// from its registers alone. Runs through [`Executable::run`] check that the context
    /// they grant is a `C` (its size, its writable fields) before verified code runs, so
    /// `Hook::attach` of the result to any hook is safe; the registers-only entry
    /// (`unsafe`) trusts its caller: [`Bpf::attach_hook`] attaches it to a `Hook<C>` with
    /// that fast path.
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
            Some((runner, code)) => HookProgram {
                runner,
                env: p.env().clone(),
                fast: code.registers_only.then(|| code.code.clone()),
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

impl Bpf {
    /// Attaches program `name` to `hook`, verified for `C` as [`Bpf::hook_program`] does;
    /// when its verified code runs from its registers alone, the hook runs it that way
    /// (`Hook::attach_registers_only`: no run context, no check, a few nanoseconds per
    /// fire). Detach with `hook.detach(id)`.
    pub fn attach_hook<C: HookContext>(
        &mut self,
        hook: &Hook<C>,
        name: &str,
    ) -> Result<AttachId, BpfError> {
        let p = self.hook_program::<C>(name)?;
        Ok(if p.registers_only() {
            // SAFETY: `hook_program::<C>` verified the program against `hook_spec::<C>()`
            // (`C`'s size and fields, readable or writable as `Hook<C>` grants them), and
            // its registers-only entry is that verified code: every fire of a `Hook<C>`
            // gives it `r1` = a live `C`, with `r2`..`r5` = 0.
            unsafe { hook.attach_registers_only(p) }
        } else {
            hook.attach(p)
        })
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
