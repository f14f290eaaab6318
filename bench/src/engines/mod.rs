//! The engines compared: each prepares a [`Workload`] once and then runs it many times.
//!
//! The timing loop of each engine is monomorphic (inside its [`Prepared::sample`]), so no
//! dynamic dispatch is counted in the per-run cost.

use crate::cputime::thread_cpu_time;
use crate::programs::Workload;
use anyhow::Result;
use std::hint::black_box;

pub mod kernel;
pub mod native;
pub mod oxbpf;
pub mod rbpf;

/// What kind of engine this is (for grouping in reports and for the targets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Native,
    Interpreter,
    Jit,
}

/// Who wrote the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Native,
    Oxbpf,
    Rbpf,
    Kernel,
}

/// Memory a prepared program costs in this engine.
#[derive(Clone, Debug, Default)]
pub struct Footprint {
    /// Bytes of the engine's executable form (decoded instructions, machine code).
    pub bytes: Option<usize>,
    /// How `bytes` was obtained.
    pub note: String,
}

/// One way of running eBPF bytecode (or, for [`native::Native`], the Rust version).
pub trait Engine {
    /// Column label.
    fn name(&self) -> &'static str;
    fn class(&self) -> Class;
    fn origin(&self) -> Origin;
    /// Bits of `r0` the engine reports (the kernel's test run returns 32).
    fn result_bits(&self) -> u32 {
        64
    }
    /// Prepares a workload (decode, compile, load).
    fn prepare<'w>(&self, w: &'w Workload) -> Result<Box<dyn Prepared + 'w>>;
}

/// A workload prepared by one engine.
pub trait Prepared {
    /// Runs once over `input`; returns `r0`.
    fn run(&mut self, input: &mut [u8]) -> Result<u64>;
    /// Runs `iters` times over `input`; returns nanoseconds per run.
    fn sample(&mut self, input: &mut [u8], iters: u64) -> Result<f64>;
    /// Memory of the prepared form.
    fn footprint(&self) -> Footprint;
    /// Like [`Prepared::sample`], but building the engine's per-run state anew for every
    /// run (for engines whose API lets callers keep it between runs; `None` otherwise).
    fn sample_fresh_context(&mut self, _input: &mut [u8], _iters: u64) -> Option<Result<f64>> {
        None
    }
    /// eBPF instructions one run over `input` executes, for engines that count them.
    fn insns_executed(&mut self, _input: &mut [u8]) -> Option<u64> {
        None
    }
}

/// A prepared program whose samples build a fresh per-run context for every run.
pub struct FreshContext<'a, 'p>(pub &'a mut (dyn Prepared + 'p));

impl Prepared for FreshContext<'_, '_> {
    fn run(&mut self, input: &mut [u8]) -> Result<u64> {
        self.0.run(input)
    }
    fn sample(&mut self, input: &mut [u8], iters: u64) -> Result<f64> {
        self.0
            .sample_fresh_context(input, iters)
            .unwrap_or_else(|| Err(anyhow::anyhow!("the engine keeps no per-run context")))
    }
    fn footprint(&self) -> Footprint {
        self.0.footprint()
    }
}

/// Times `iters` calls of `run` (each result through `black_box`); nanoseconds per call
/// of the thread's CPU time ([`thread_cpu_time`]). The first error stops the loop.
#[inline(always)]
pub fn time_loop<E>(iters: u64, mut run: impl FnMut() -> Result<u64, E>) -> Result<f64, E> {
    let start = thread_cpu_time();
    for _ in 0..iters {
        black_box(run()?);
    }
    let elapsed = thread_cpu_time().saturating_sub(start);
    Ok(elapsed.as_nanos() as f64 / iters.max(1) as f64)
}

/// Engines that cannot work here (no kernel access, say), with the reason.
pub type Unavailable = Vec<(&'static str, String)>;

/// Every engine this build can run, in report order, and those that cannot run here.
pub fn all() -> (Vec<Box<dyn Engine>>, Unavailable) {
    let mut engines: Vec<Box<dyn Engine>> = vec![
        Box::new(native::Native),
        Box::new(oxbpf::OxbpfInterp),
        Box::new(oxbpf::OxbpfJit { verified: false }),
        Box::new(oxbpf::OxbpfJit { verified: true }),
        Box::new(rbpf::RbpfInterp),
        Box::new(rbpf::RbpfJit),
    ];
    let mut unavailable = Unavailable::new();
    match kernel::KernelJit::unavailable() {
        None => engines.push(Box::new(kernel::KernelJit)),
        Some(why) => unavailable.push(("kernel-jit", why)),
    }
    (engines, unavailable)
}
