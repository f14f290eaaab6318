//! Embedder hooks: hook points that a Rust application declares, attaches eBPF programs
//! to and fires from its own code.
//!
//! ```text
//!   application hot path ── hook.fire(&mut ctx) ──▶ program 1, program 2, … ──▶ FireResult
//!                                                   (r1 = &ctx, only declared fields)
//! ```
//!
//! - The context is a `#[repr(C)]` struct implementing [`HookContext`] (use
//!   [`hook_context!`](crate::hook_context)); programs get `r1` = its address and may
//!   access exactly the declared fields (read-only or writable).
//! - [`Hook::attach`] / [`Hook::detach`] change the attached list at any time, from any
//!   thread. The list is an immutable snapshot swapped atomically (`arc-swap`): firing
//!   takes no lock and allocates nothing; a fire that started before a detach finishes
//!   with the programs it saw.
//! - [`Policy`] says how the programs' `r0` values combine into [`FireResult::value`];
//!   [`Hook::fire_each`] hands every program's result to a callback instead.
//! - A program that fails (memory fault, helper error, budget) is counted in the result
//!   and, by default, does not contribute to the value ([`HookOptions::error_value`]
//!   changes that, for fail-closed filters).
//! - [`Hook::attach`] runs programs through [`Executable::run`] with the context's fields
//!   granted as regions: a verified program's runner checks there that the context is the
//!   one it was verified for. The registers-only fast path (one indirect call, no run
//!   context: [`Executable::run_registers`]) checks nothing, so it is entered only for
//!   programs attached with the `unsafe` [`Hook::attach_registers_only`], whose caller
//!   vouches that the program's registers-only entry was made for context type `C`.

pub mod context;
mod raw;

pub use context::{Access, ContextLayout, CtxField, HookContext, LayoutRun, Pod};

use arc_swap::ArcSwap;
use oxbpf_vm::{Executable, RunContext, VmError};
use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use thiserror::Error;

/// Errors of declaring and changing hooks.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HookError {
    #[error("hook context {context}: field `{field}` at offset {offset} with size {size} is outside the {struct_size}-byte struct")]
    FieldOutOfBounds {
        context: &'static str,
        field: &'static str,
        offset: usize,
        size: usize,
        struct_size: usize,
    },
    #[error("hook context {context}: fields `{first}` and `{second}` overlap")]
    OverlappingFields {
        context: &'static str,
        first: &'static str,
        second: &'static str,
    },
    #[error("hook context {context}: the accessible fields form more than {max} separate byte ranges; group fields with the same access together")]
    TooManyRegions { context: &'static str, max: usize },
}

/// How the `r0` values of the attached programs combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Policy {
    /// Every program runs, in attach order; the value is the last program's `r0`. Programs
    /// communicate through writable context fields (a pipeline).
    #[default]
    Last,
    /// Programs run in attach order until one returns non-zero; the value is that `r0`
    /// (0 if none did). A chain of filters where any one can reject ("deny on first
    /// non-zero").
    FirstNonZero,
    /// Programs run in attach order while they return non-zero; the value is 1 if all did
    /// (or none is attached), else 0. The kernel's rule for multiple cgroup programs:
    /// every one must allow.
    AllNonZero,
    /// Every program runs; the value is the wrapping sum of their `r0` (counters, scores).
    Sum,
}

/// Options of a hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct HookOptions {
    /// How results combine.
    pub policy: Policy,
    /// The `r0` a failed run counts as. `None`: a failed run contributes nothing (it does
    /// not stop a `FirstNonZero`/`AllNonZero` chain). `Some(v)`: it counts as `v` (for
    /// example `Some(1)` makes a deny-filter chain fail closed).
    pub error_value: Option<u64>,
    /// Instruction budget of each run (`None`: unlimited; an engine compiled without
    /// budget checks refuses runs that ask for one).
    pub budget: Option<u64>,
}

/// Identifies one attachment of a program to a hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttachId(pub u64);

impl fmt::Display for AttachId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A run that failed during a fire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FireError {
    /// Which attachment.
    pub id: AttachId,
    /// Why.
    pub error: VmError,
}

/// What one fire produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FireResult {
    /// The combined value (see [`Policy`]).
    pub value: u64,
    /// Programs that ran (successfully or not).
    pub ran: u32,
    /// Runs that failed.
    pub failed: u32,
    /// The first failure, if any.
    pub first_error: Option<FireError>,
}

#[derive(Clone)]
struct Attached {
    id: AttachId,
    exec: Arc<dyn Executable>,
    /// Attached with [`Hook::attach_registers_only`]: fires without a budget may enter it
    /// through [`Executable::run_registers`] with `r1` = the context.
    registers_only: bool,
}

/// A hook point with context type `C`.
pub struct Hook<C: HookContext> {
    name: Arc<str>,
    layout: ContextLayout,
    opts: HookOptions,
    progs: ArcSwap<Vec<Attached>>,
    next_id: AtomicU64,
    failures: AtomicU64,
    _ctx: PhantomData<fn(&mut C)>,
}

impl<C: HookContext> fmt::Debug for Hook<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hook")
            .field("name", &self.name)
            .field("context", &std::any::type_name::<C>())
            .field("attached", &self.len())
            .field("opts", &self.opts)
            .finish()
    }
}

impl<C: HookContext> Hook<C> {
    /// A hook with the default options ([`Policy::Last`], failures contribute nothing,
    /// no budget).
    pub fn new(name: &str) -> Result<Hook<C>, HookError> {
        Hook::with_options(name, HookOptions::default())
    }

    /// A hook with options. Fails when `C`'s field description is inconsistent.
    pub fn with_options(name: &str, opts: HookOptions) -> Result<Hook<C>, HookError> {
        Ok(Hook {
            name: name.into(),
            layout: ContextLayout::of::<C>()?,
            opts,
            progs: ArcSwap::from_pointee(Vec::new()),
            next_id: AtomicU64::new(1),
            failures: AtomicU64::new(0),
            _ctx: PhantomData,
        })
    }

    /// The hook's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The context layout programs see.
    pub fn layout(&self) -> &ContextLayout {
        &self.layout
    }

    /// The options.
    pub fn options(&self) -> HookOptions {
        self.opts
    }

    /// Attaches a program after the ones already attached. Every fire runs it through
    /// [`Executable::run`] with the context's declared fields granted.
    pub fn attach(&self, exec: Arc<dyn Executable>) -> AttachId {
        self.attach_impl(exec, false)
    }

    /// Attaches a program after the ones already attached; fires without a budget enter
    /// it through [`Executable::run_registers`] (`r1` = the context, nothing checked, no
    /// run context built) when it runs from its registers alone, else through
    /// [`Executable::run`] as [`Hook::attach`].
    ///
    /// # Safety
    /// `exec`'s registers-only entry must be made for context type `C`: every call
    /// `exec.run_registers(&[ctx as *mut C as u64, 0, 0, 0, 0])` with a live, exclusively
    /// borrowed `C` must keep [`Executable::run_registers`]'s contract (for verified code:
    /// the program was verified for a context of `C`'s layout, reading only fields `C`
    /// declares readable and writing only those it declares writable).
    pub unsafe fn attach_registers_only(&self, exec: Arc<dyn Executable>) -> AttachId {
        self.attach_impl(exec, true)
    }

    fn attach_impl(&self, exec: Arc<dyn Executable>, registers_only: bool) -> AttachId {
        let id = AttachId(self.next_id.fetch_add(1, Ordering::Relaxed));
        self.progs.rcu(|cur| {
            let mut v = Vec::with_capacity(cur.len() + 1);
            v.extend(cur.iter().cloned());
            v.push(Attached {
                id,
                exec: exec.clone(),
                registers_only,
            });
            v
        });
        log::debug!("hook {}: attached {id}", self.name);
        id
    }

    /// Detaches a program; false if `id` is not attached. Fires already under way finish
    /// with the list they started with.
    pub fn detach(&self, id: AttachId) -> bool {
        let mut found = false;
        self.progs.rcu(|cur| {
            found = cur.iter().any(|a| a.id == id);
            cur.iter()
                .filter(|a| a.id != id)
                .cloned()
                .collect::<Vec<_>>()
        });
        if found {
            log::debug!("hook {}: detached {id}", self.name);
        }
        found
    }

    /// Detaches every program.
    pub fn clear(&self) {
        self.progs.store(Arc::new(Vec::new()));
    }

    /// Number of attached programs.
    pub fn len(&self) -> usize {
        self.progs.load().len()
    }

    /// True when no program is attached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The attached programs' ids, in run order.
    pub fn attached(&self) -> Vec<AttachId> {
        self.progs.load().iter().map(|a| a.id).collect()
    }

    /// Failed runs since the hook was created.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Runs the attached programs on `ctx` and combines their results by the policy.
    #[inline]
    pub fn fire(&self, ctx: &mut C) -> FireResult {
        self.fire_impl(ctx, None, |_, _| {})
    }

    /// As [`Hook::fire`], with embedder data that helpers reach through
    /// [`oxbpf_vm::HelperCtx::env`].
    #[inline]
    pub fn fire_with_env(&self, ctx: &mut C, env: &mut dyn Any) -> FireResult {
        self.fire_impl(ctx, Some(env), |_, _| {})
    }

    /// As [`Hook::fire`], and calls `each` with every program's own result as it ends.
    pub fn fire_each(
        &self,
        ctx: &mut C,
        each: impl FnMut(AttachId, Result<u64, &VmError>),
    ) -> FireResult {
        self.fire_impl(ctx, None, each)
    }

    fn fire_impl(
        &self,
        ctx: &mut C,
        mut env: Option<&mut dyn Any>,
        mut each: impl FnMut(AttachId, Result<u64, &VmError>),
    ) -> FireResult {
        let progs = self.progs.load();
        let policy = self.opts.policy;
        let mut res = FireResult {
            value: match policy {
                Policy::AllNonZero => 1,
                _ => 0,
            },
            ran: 0,
            failed: 0,
            first_error: None,
        };
        if progs.is_empty() {
            return res;
        }
        // Programs attached with `attach_registers_only` that run from their registers
        // alone (verified JIT code with no helper calls: `Executable::run_registers`) need
        // no run context. The context is built only when a program needs one: it is most
        // of the cost of a run beyond the program (a `RunContext` is 368 bytes), and one
        // serves every program of the fire.
        let fast = self.opts.budget.is_none();
        let args = [ctx as *mut C as u64, 0, 0, 0, 0];
        let mut rc: Option<(RunContext<'_>, usize)> = None;
        for a in progs.iter() {
            let direct = if fast && a.registers_only {
                // SAFETY: `a` was attached with `attach_registers_only`, whose caller
                // vouched that its registers-only entry was made for `C`; `args[0]` is
                // the address of `ctx`, a live `&mut C` for the whole call.
                unsafe { a.exec.run_registers(&args) }
            } else {
                None
            };
            let outcome = match direct {
                Some(r0) => Ok(oxbpf_vm::RunOutcome {
                    r0,
                    insns_executed: None,
                }),
                None => {
                    if let Some((rc, granted)) = &mut rc {
                        self.restore_regions(rc, *granted, ctx);
                    }
                    let (rc, _) = rc.get_or_insert_with(|| {
                        let mut new = match env.take() {
                            Some(e) => RunContext::new().with_env(e),
                            None => RunContext::new(),
                        };
                        new.budget = self.opts.budget;
                        raw::grant_context(&mut new, &self.layout, ctx);
                        let granted = new.regions().len();
                        (new, granted)
                    });
                    a.exec.run(rc)
                }
            };
            res.ran += 1;
            let r0 = match outcome {
                Ok(o) => {
                    each(a.id, Ok(o.r0));
                    Some(o.r0)
                }
                Err(e) => {
                    each(a.id, Err(&e));
                    res.failed += 1;
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    if res.first_error.is_none() {
                        log::debug!("hook {}: program {} failed: {e}", self.name, a.id);
                        res.first_error = Some(FireError { id: a.id, error: e });
                    }
                    self.opts.error_value
                }
            };
            let Some(r0) = r0 else { continue };
            match policy {
                Policy::Last => res.value = r0,
                Policy::Sum => res.value = res.value.wrapping_add(r0),
                Policy::FirstNonZero => {
                    if r0 != 0 {
                        res.value = r0;
                        break;
                    }
                }
                Policy::AllNonZero => {
                    if r0 == 0 {
                        res.value = 0;
                        break;
                    }
                }
            }
        }
        res
    }

    /// Puts the run context back to the context regions alone, after a run whose engine
    /// or helpers added (or removed) regions.
    fn restore_regions(&self, rc: &mut RunContext<'_>, granted: usize, ctx: &mut C) {
        if rc.regions().len() == granted {
            return;
        }
        while let Some(last) = rc.regions().iter().last().copied() {
            rc.regions_mut().remove(last.start, last.kind);
        }
        raw::grant_context(rc, &self.layout, ctx);
    }
}
