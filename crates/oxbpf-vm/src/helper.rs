//! Helper functions: Rust closures called by programs with the five-argument eBPF calling
//! convention (`r1`..`r5` in, `r0` out).
//!
//! # Re-entering the program: callbacks and tail calls
//!
//! Some Linux helpers run code of the calling program: `bpf_loop` and
//! `bpf_for_each_map_elem` call a *callback* (a function of the program whose address the
//! program loaded with `lddw` src 4, [`oxbpf_isa::LoadImm64::CodeAddr`]), and `bpf_tail_call`
//! replaces the running program by another one. Engines offer both to helpers through
//! [`HelperCtx`]:
//!
//! - **Callbacks.** An engine that supports them gives each helper call a
//!   [`ProgramCalls`] object ([`HelperCtx::with_program_calls`]); the helper calls
//!   [`HelperCtx::call_function`] with the code address and `r1`..`r5`. The engine runs that
//!   function as a bpf-to-bpf call made by the calling instruction (see
//!   [`ProgramCalls::call_function`] for the precise contract) and returns its `r0`. A
//!   failure inside the callback comes back as [`HelperError::Program`], which the helper
//!   propagates with `?` and the engine turns back into the original [`VmError`].
//! - **Tail calls.** The helper records the target with [`HelperCtx::tail_call`] and returns
//!   `Ok(_)` (the value is ignored). After the helper returns, the engine takes the request
//!   ([`HelperCtx::take_tail_call`]) and, instead of continuing with the next instruction,
//!   makes the *current function* return (as if it executed `exit`) the `r0` of running the
//!   target [`Executable`] with `r1` = [`TailCall::ctx`], `r2`..`r5` = 0, the run's regions
//!   (without this run's stack), the same embedder data and the remaining instruction
//!   budget. From the program's own frame this ends the run with the target's result, as in
//!   Linux; from a bpf-to-bpf callee it returns to that callee's caller (Linux's x86-64 JIT
//!   behaves the same way). Instructions the target executes count toward the run. Limits
//!   (Linux's 33 tail calls per run) are the helper's business, not the engine's.

use crate::error::VmError;
use crate::memory::{AccessFault, MemoryRegion, RegionKind, Regions, RegionsMut};
use crate::Executable;
use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Why a helper stopped the program. Returning `Ok(value)` with a negative errno in `value`
/// is how a helper reports an ordinary failure to the program, as in Linux; an `Err` ends
/// the run with [`crate::VmError::HelperFailed`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelperError {
    /// Abort the run with this message.
    Abort(String),
    /// A pointer argument was refused.
    Fault(AccessFault),
    /// The program failed inside a function the helper called back
    /// ([`HelperCtx::call_function`]). Engines end the run with this error itself, not
    /// with [`VmError::HelperFailed`].
    Program(Box<VmError>),
}

impl fmt::Display for HelperError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HelperError::Abort(m) => f.write_str(m),
            HelperError::Fault(a) => write!(f, "{a}"),
            HelperError::Program(e) => write!(f, "in a callback: {e}"),
        }
    }
}

impl From<VmError> for HelperError {
    fn from(e: VmError) -> Self {
        HelperError::Program(Box::new(e))
    }
}

/// Calls into the running program, offered by an engine to the helpers it calls.
pub trait ProgramCalls {
    /// Runs the program's function at `code_addr` with `args` in `r1`..`r5` and returns its
    /// `r0`.
    ///
    /// Contract for engines:
    /// - `code_addr` is a value the program obtained from `lddw` src 4
    ///   ([`oxbpf_isa::LoadImm64::CodeAddr`]) in this engine's representation. Any other
    ///   value is refused with `VmError::Unsupported { pc, what: "callback to an address
    ///   that is not a function of this program" }`, `pc` being the calling instruction.
    /// - The function runs as a bpf-to-bpf call made by the helper's calling instruction: a
    ///   new zeroed stack frame below the caller's (the caller's frames stay accessible),
    ///   counting toward [`crate::MAX_CALL_DEPTH`] ([`VmError::CallDepthExceeded`]), with
    ///   `r6`..`r9` of the caller untouched when the call returns.
    /// - `regions` are the run's regions as the helper sees them (the live stack included);
    ///   `env` is the run's embedder data, so helpers called by the callback work as usual.
    ///   Regions added during the callback stay until the end of the run.
    /// - Executed instructions count toward the run and its budget; `may_goto` keeps its
    ///   per-run counter.
    /// - A tail call requested from inside the callback returns from the callback function
    ///   (the rule of the module documentation).
    fn call_function(
        &mut self,
        regions: RegionsMut<'_>,
        env: Option<&mut dyn Any>,
        code_addr: u64,
        args: [u64; 5],
    ) -> Result<u64, VmError>;
}

/// A tail call requested by a helper (see the module documentation).
#[derive(Clone)]
pub struct TailCall {
    /// The program that replaces the current function.
    pub target: Arc<dyn Executable>,
    /// Its `r1` (the context pointer the program passed to `bpf_tail_call`).
    pub ctx: u64,
}

impl fmt::Debug for TailCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TailCall({:?} engine, ctx 0x{:x})",
            self.target.engine(),
            self.ctx
        )
    }
}

impl From<AccessFault> for HelperError {
    fn from(a: AccessFault) -> Self {
        HelperError::Fault(a)
    }
}

/// What a helper sees of the run that called it.
///
/// The run's regions are reachable only as `&Regions` ([`HelperCtx::regions`]), through
/// checked accessors ([`HelperCtx::read`], [`HelperCtx::write`], [`HelperCtx::c_str`]) and
/// as a [`RegionsMut`] view ([`HelperCtx::regions_and_env`]), never as `&mut Regions`: a
/// helper could otherwise move the engine's regions (its stack frames included) out of the
/// run and keep them (see the soundness notes on [`Regions`]).
pub struct HelperCtx<'a> {
    /// The run's memory regions (stack frames included).
    regions: &'a mut Regions,
    env: Option<&'a mut dyn Any>,
    pc: usize,
    calls: Option<&'a mut dyn ProgramCalls>,
    tail_call: Option<TailCall>,
}

impl<'a> HelperCtx<'a> {
    /// Made by engines for each helper call (and by tests and benchmarks that call helpers
    /// directly): `regions` is a `&mut Regions` or a [`RegionsMut`] view.
    #[inline(always)]
    pub fn new(
        regions: impl Into<RegionsMut<'a>>,
        env: Option<&'a mut dyn Any>,
        pc: usize,
    ) -> Self {
        HelperCtx {
            regions: regions.into().regions,
            env,
            pc,
            calls: None,
            tail_call: None,
        }
    }

    /// Lets the helper call functions of the running program (engines that support
    /// callbacks set this for every helper call).
    #[inline(always)]
    pub fn with_program_calls(mut self, calls: &'a mut dyn ProgramCalls) -> Self {
        self.calls = Some(calls);
        self
    }

    /// True when the engine supports [`HelperCtx::call_function`].
    pub fn can_call_functions(&self) -> bool {
        self.calls.is_some()
    }

    /// Runs the program's function at `code_addr` (a callback) with `args` in `r1`..`r5`
    /// and returns its `r0`. Errors: the callback's own failure ([`HelperError::Program`]),
    /// or [`HelperError::Abort`] when the engine cannot call back into programs.
    pub fn call_function(&mut self, code_addr: u64, args: [u64; 5]) -> Result<u64, HelperError> {
        let Some(calls) = self.calls.as_deref_mut() else {
            return Err(HelperError::Abort(
                "this engine cannot call back into the program (callbacks are not supported)"
                    .into(),
            ));
        };
        calls
            .call_function(
                RegionsMut::new(self.regions),
                self.env.as_deref_mut(),
                code_addr,
                args,
            )
            .map_err(HelperError::from)
    }

    /// Requests a tail call to `target` with `r1 = ctx` (see the module documentation). The
    /// helper then returns `Ok(_)`; a later request in the same call replaces an earlier one.
    pub fn tail_call(&mut self, target: Arc<dyn Executable>, ctx: u64) {
        self.tail_call = Some(TailCall { target, ctx });
    }

    /// True when the helper requested a tail call (cheaper than [`HelperCtx::take_tail_call`]
    /// when there is none).
    #[inline(always)]
    pub fn has_tail_call(&self) -> bool {
        self.tail_call.is_some()
    }

    /// The tail call the helper requested, if any (engines call this after the helper
    /// returned `Ok`).
    pub fn take_tail_call(&mut self) -> Option<TailCall> {
        self.tail_call.take()
    }

    /// The slot of the calling instruction.
    pub fn pc(&self) -> usize {
        self.pc
    }

    /// The run's embedder data, if it is a `T`.
    pub fn env<T: Any>(&mut self) -> Option<&mut T> {
        self.env.as_deref_mut()?.downcast_mut::<T>()
    }

    /// The run's memory regions (stack frames included): check every pointer argument
    /// against them before touching memory.
    #[inline]
    pub fn regions(&self) -> &Regions {
        self.regions
    }

    /// A view of the run's regions that can write through checked slices, remove regions
    /// and add them (under `unsafe`, see [`HelperCtx::add_region`]).
    #[inline]
    pub fn regions_mut(&mut self) -> RegionsMut<'_> {
        RegionsMut::new(self.regions)
    }

    /// The regions and the embedder data (if it is a `T`) at once, for helpers that check
    /// pointers while they use their data.
    pub fn regions_and_env<T: Any>(&mut self) -> (RegionsMut<'_>, Option<&mut T>) {
        (
            RegionsMut::new(self.regions),
            self.env.as_deref_mut().and_then(|e| e.downcast_mut::<T>()),
        )
    }

    /// Checked borrow of `len` readable bytes at `addr`.
    pub fn read(&self, addr: u64, len: usize) -> Result<&[u8], AccessFault> {
        self.regions.slice(addr, len)
    }

    /// Checked borrow of `len` writable bytes at `addr`.
    pub fn write(&mut self, addr: u64, len: usize) -> Result<&mut [u8], AccessFault> {
        self.regions.slice_mut(addr, len)
    }

    /// Checked read of a NUL-terminated string of at most `max` bytes.
    pub fn c_str(&self, addr: u64, max: usize) -> Result<&[u8], AccessFault> {
        self.regions.c_str(addr, max)
    }

    /// Grants the rest of the run access to a region (for helpers that return pointers
    /// into memory the program did not have before). The engine forgets it when the run
    /// ends (or earlier, if a helper removes it).
    ///
    /// # Safety
    /// The region must stay valid (and, if writable, not aliased by Rust references) for
    /// the rest of the run, or until the caller removes it again.
    pub unsafe fn add_region(&mut self, r: MemoryRegion) {
        // SAFETY: forwarded to this function's caller; the engine releases every region
        // added during the run when the run ends.
        unsafe { self.regions.push(r) };
    }

    /// Takes away the most recently added region of `kind` that starts at `start` (any
    /// region of the run, the engine's stack included: fewer regions only refuse more
    /// accesses). Returns it, or `None` when there is none.
    pub fn remove_region(&mut self, start: u64, kind: RegionKind) -> Option<MemoryRegion> {
        self.regions.remove(start, kind)
    }
}

/// The type of a helper: `(ctx, [r1, r2, r3, r4, r5]) -> r0`.
pub type HelperFn = dyn Fn(&mut HelperCtx<'_>, [u64; 5]) -> Result<u64, HelperError> + Send + Sync;

/// A registered helper with the name used in diagnostics and disassembly.
#[derive(Clone)]
pub struct Helper {
    pub name: Arc<str>,
    pub func: Arc<HelperFn>,
}

impl fmt::Debug for Helper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Helper({})", self.name)
    }
}

/// Helpers by id (`call imm`, `callx`) and external functions by id (`call` with src 2).
#[derive(Clone, Debug, Default)]
pub struct Helpers {
    helpers: HashMap<u32, Helper>,
    externals: HashMap<i32, Helper>,
}

impl Helpers {
    /// No helpers.
    pub fn new() -> Helpers {
        Helpers::default()
    }

    /// Registers (or replaces) helper `id`.
    pub fn register<F>(&mut self, id: u32, name: &str, f: F) -> &mut Self
    where
        F: Fn(&mut HelperCtx<'_>, [u64; 5]) -> Result<u64, HelperError> + Send + Sync + 'static,
    {
        self.helpers.insert(
            id,
            Helper {
                name: name.into(),
                func: Arc::new(f),
            },
        );
        self
    }

    /// Registers (or replaces) the external function `id` (`call` with src 2).
    pub fn register_external<F>(&mut self, id: i32, name: &str, f: F) -> &mut Self
    where
        F: Fn(&mut HelperCtx<'_>, [u64; 5]) -> Result<u64, HelperError> + Send + Sync + 'static,
    {
        self.externals.insert(
            id,
            Helper {
                name: name.into(),
                func: Arc::new(f),
            },
        );
        self
    }

    /// Helper `id`, if registered. Ids that do not fit 32 bits are never registered.
    pub fn get(&self, id: u64) -> Option<&Helper> {
        u32::try_from(id).ok().and_then(|id| self.helpers.get(&id))
    }

    /// External function `id`, if registered.
    pub fn external(&self, id: i32) -> Option<&Helper> {
        self.externals.get(&id)
    }

    /// Ids of all registered helpers, ascending.
    pub fn ids(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.helpers.keys().copied().collect();
        v.sort_unstable();
        v
    }
}
