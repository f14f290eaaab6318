//! eBPF execution engines.
//!
//! - [`interp`]: the reference interpreter. Every memory access is checked against the
//!   run's [`Regions`]; its behaviour defines oxbpf's semantics (RFC 9669 with Linux as the
//!   authority where they differ).
//! - [`jit`]: the x86-64 JIT, with the same semantics.
//!
//! Both implement [`Executable`]: prepare once, run many times, each run with its own
//! [`RunContext`] (entry registers, memory regions, embedder data, instruction budget).

pub mod error;
pub mod helper;
pub mod interp;
#[cfg(target_arch = "x86_64")]
pub mod jit;
pub mod memory;
pub mod raw_mem;

pub use error::{LoadError, VmError};
pub use helper::{Helper, HelperCtx, HelperError, HelperFn, Helpers, ProgramCalls, TailCall};
pub use interp::Interpreter;
pub use memory::{
    AccessFault, FaultReason, MemoryRegion, RegionKind, Regions, RegionsMark, RegionsMut,
};

use std::any::Any;
use std::marker::PhantomData;

/// Bytes of eBPF stack per call frame.
pub const STACK_SIZE: usize = 512;
/// Deepest bpf-to-bpf call nesting (frames, the program's own included), as in Linux.
pub const MAX_CALL_DEPTH: usize = 8;

/// Which engine runs a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EngineKind {
    Interpreter,
    Jit,
}

/// Everything one run of a program gets.
pub struct RunContext<'a> {
    /// `r1`..`r5` at entry.
    pub args: [u64; 5],
    /// Memory the program may access besides its own stack. Private: a `Regions` moved or
    /// copied out of the context would outlive the borrows that keep its regions valid
    /// (see [`RunContext::regions`], [`RunContext::regions_mut`]).
    regions: Regions,
    /// Stop after this many executed instructions (runaway protection).
    pub budget: Option<u64>,
    env: Option<&'a mut dyn Any>,
    _borrows: PhantomData<&'a mut [u8]>,
}

impl Default for RunContext<'_> {
    fn default() -> Self {
        RunContext::new()
    }
}

impl<'a> RunContext<'a> {
    /// No arguments, no memory.
    pub fn new() -> Self {
        RunContext {
            args: [0; 5],
            regions: Regions::new(),
            budget: None,
            env: None,
            _borrows: PhantomData,
        }
    }

    /// A plain VM run over a buffer: `r1` = its address, `r2` = its length, and the buffer
    /// readable and writable (the conformance suite's convention).
    pub fn with_memory(mem: &'a mut [u8]) -> Self {
        let mut c = RunContext::new();
        c.args[0] = mem.as_mut_ptr() as u64;
        c.args[1] = mem.len() as u64;
        // SAFETY: `mem` is borrowed for 'a, as long as the context lives.
        unsafe {
            c.regions
                .push(MemoryRegion::writable(mem, RegionKind::Input))
        };
        c
    }

    /// A run with a context structure: `r1` = its address, the structure readable and
    /// writable.
    pub fn with_context(ctx: &'a mut [u8]) -> Self {
        let mut c = RunContext::new();
        c.args[0] = ctx.as_mut_ptr() as u64;
        // SAFETY: `ctx` is borrowed for 'a, as long as the context lives.
        unsafe {
            c.regions
                .push(MemoryRegion::writable(ctx, RegionKind::Context))
        };
        c
    }

    /// Grants read access to `data` for this run.
    pub fn allow(&mut self, data: &'a [u8], kind: RegionKind) -> &mut Self {
        // SAFETY: `data` is borrowed for 'a, as long as the context lives.
        unsafe { self.regions.push(MemoryRegion::readonly(data, kind)) };
        self
    }

    /// Grants read and write access to `data` for this run.
    pub fn allow_mut(&mut self, data: &'a mut [u8], kind: RegionKind) -> &mut Self {
        // SAFETY: `data` is borrowed for 'a, as long as the context lives.
        unsafe { self.regions.push(MemoryRegion::writable(data, kind)) };
        self
    }

    /// Grants access to raw memory for this run.
    ///
    /// # Safety
    /// The region must stay valid (and, if writable, not aliased by Rust references) for as
    /// long as the context is used.
    pub unsafe fn allow_raw(&mut self, region: MemoryRegion) -> &mut Self {
        // SAFETY: the caller guarantees validity (this function's contract).
        unsafe { self.regions.push(region) };
        self
    }

    /// Attaches embedder data that helpers reach with [`HelperCtx::env`].
    pub fn with_env(mut self, env: &'a mut dyn Any) -> Self {
        self.env = Some(env);
        self
    }

    /// Sets the instruction budget.
    pub fn with_budget(mut self, budget: Option<u64>) -> Self {
        self.budget = budget;
        self
    }

    /// The memory regions granted to the run.
    #[inline]
    pub fn regions(&self) -> &Regions {
        &self.regions
    }

    /// A view that can remove regions, or add them under `unsafe` (it cannot move the
    /// regions out of the context).
    #[inline]
    pub fn regions_mut(&mut self) -> RegionsMut<'_> {
        RegionsMut::new(&mut self.regions)
    }

    /// Removes every region granted after `mark` (taken with `ctx.regions().mark()`), as
    /// [`Regions::release`].
    pub fn release_regions(&mut self, mark: RegionsMark) {
        self.regions.release(mark);
    }

    /// A context for running another program within this context's use (a wrapper
    /// around an engine, a nested run): the same arguments and budget and a copy of the
    /// regions, no embedder data (add it with [`RunContext::with_env`]). The copy borrows
    /// this context, so it cannot outlive the memory the regions cover.
    pub fn nested(&self) -> RunContext<'_> {
        RunContext {
            args: self.args,
            regions: self.regions.duplicate(),
            budget: self.budget,
            env: None,
            _borrows: PhantomData,
        }
    }

    /// Splits the context: a view of the regions, the embedder data.
    pub fn parts(&mut self) -> (RegionsMut<'_>, Option<&mut dyn Any>) {
        (RegionsMut::new(&mut self.regions), self.env.as_deref_mut())
    }

    /// Splits the context for an engine: the regions themselves, the embedder data.
    #[inline]
    pub(crate) fn engine_parts(&mut self) -> (&mut Regions, Option<&mut dyn Any>) {
        (&mut self.regions, self.env.as_deref_mut())
    }
}

/// Result of a run that ended with `exit` from the outermost frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    /// `r0` at exit.
    pub r0: u64,
    /// Instructions executed, when the engine counted them.
    pub insns_executed: Option<u64>,
}

/// A program prepared for running by one engine.
pub trait Executable: Send + Sync {
    /// Runs the program once.
    fn run(&self, ctx: &mut RunContext<'_>) -> Result<RunOutcome, VmError>;
    /// Which engine this is.
    fn engine(&self) -> EngineKind;
    /// Runs the program from its entry registers alone, when it needs nothing else: no
    /// memory checks, no helpers or calls, no budget, no way to fail (the JIT's code for
    /// such programs, verified, or checked when it only uses constant offsets of its stack
    /// frame). Returns `r0`, or `None` when the program
    /// needs a [`RunContext`] (then use [`Executable::run`]). Callers that asked for a
    /// budget must use `run`.
    ///
    /// # Safety
    /// Nothing is checked: `args` must be arguments a run of this program may be given.
    /// For verified code, `args[0]` (`r1`) points at a live context of the layout the
    /// program was verified for, valid for every read and write the verifier allowed, and
    /// the other registers hold what the verifier assumed of them (scalars for hooks).
    /// Engines whose registers-only entry is safe for any input (checked code) implement
    /// it all the same.
    #[inline]
    unsafe fn run_registers(&self, args: &[u64; 5]) -> Option<u64> {
        let _ = args;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_regions_are_read_viewed_and_nested() {
        let mut buf = [1u8; 8];
        let addr = buf.as_ptr() as u64;
        let ro = [2u8; 4];
        let mut ctx = RunContext::with_memory(&mut buf).with_budget(Some(7));
        ctx.allow(&ro, RegionKind::ReadOnly);
        assert_eq!(ctx.regions().len(), 2);
        let inner = ctx.nested();
        assert_eq!(inner.args, ctx.args);
        assert_eq!(inner.budget, Some(7));
        assert!(inner.regions().iter().eq(ctx.regions().iter()));
        assert_eq!(inner.regions().slice(addr, 8).unwrap(), [1; 8]);
        drop(inner);
        // Grants made after a mark are released, earlier ones stay.
        let mark = ctx.regions().mark();
        let extra = [3u8; 2];
        // SAFETY: `extra` outlives every use of `ctx` below.
        unsafe { ctx.allow_raw(MemoryRegion::readonly(&extra, RegionKind::Embedder)) };
        assert!(ctx.regions().slice(extra.as_ptr() as u64, 2).is_ok());
        ctx.release_regions(mark);
        assert!(ctx.regions().slice(extra.as_ptr() as u64, 2).is_err());
        assert_eq!(ctx.regions().len(), 2);
        let (mut regions, env) = ctx.parts();
        assert!(env.is_none());
        regions.slice_mut(addr, 1).unwrap()[0] = 9;
        assert!(regions.slice_mut(ro.as_ptr() as u64, 1).is_err());
        drop(ctx);
        assert_eq!(buf[0], 9);
    }
}
