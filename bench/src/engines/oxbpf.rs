//! oxbpf's engines (`oxbpf_vm`): the interpreter. A run gets `RunContext::with_memory(buffer)`: `r1` = buffer, `r2` = its
//! length, the buffer its only region.
//!
//! The timing loop builds one `RunContext` per sample and reuses it for every run (the
//! context holds only the entry registers and the region list, which do not change between
//! runs). [`Prepared::sample_fresh_context`] measures the other way, a new context per run.

use super::{time_loop, Class, Engine, Footprint, Origin, Prepared};
use crate::programs::Workload;
use anyhow::{anyhow, Context, Result};
use oxbpf_isa::Program;
use oxbpf_vm::{Executable, Helpers, Interpreter, RunContext};

fn decode(w: &Workload) -> Result<Program> {
    Program::decode(&w.code).map_err(|e| anyhow!("decoding `{}`: {e}", w.name))
}

fn run_once(exe: &impl Executable, input: &mut [u8]) -> Result<u64> {
    let mut ctx = RunContext::with_memory(input);
    Ok(exe.run(&mut ctx)?.r0)
}

fn sample_reused(exe: &impl Executable, input: &mut [u8], iters: u64) -> Result<f64> {
    let mut ctx = RunContext::with_memory(input);
    Ok(time_loop(iters, || exe.run(&mut ctx).map(|o| o.r0))?)
}

fn sample_fresh(exe: &impl Executable, input: &mut [u8], iters: u64) -> Result<f64> {
    Ok(time_loop(iters, || {
        let mut ctx = RunContext::with_memory(input);
        exe.run(&mut ctx).map(|o| o.r0)
    })?)
}

pub struct OxbpfInterp;

struct Interp {
    exe: Interpreter,
}

impl Engine for OxbpfInterp {
    fn name(&self) -> &'static str {
        "oxbpf-interp"
    }
    fn class(&self) -> Class {
        Class::Interpreter
    }
    fn origin(&self) -> Origin {
        Origin::Oxbpf
    }
    fn prepare<'w>(&self, w: &'w Workload) -> Result<Box<dyn Prepared + 'w>> {
        let exe = Interpreter::new(&decode(w)?, &Helpers::new())
            .context("preparing for the oxbpf interpreter")?;
        Ok(Box::new(Interp { exe }))
    }
}

impl Prepared for Interp {
    fn run(&mut self, input: &mut [u8]) -> Result<u64> {
        run_once(&self.exe, input)
    }
    fn sample(&mut self, input: &mut [u8], iters: u64) -> Result<f64> {
        sample_reused(&self.exe, input, iters)
    }
    fn sample_fresh_context(&mut self, input: &mut [u8], iters: u64) -> Option<Result<f64>> {
        Some(sample_fresh(&self.exe, input, iters))
    }
    fn insns_executed(&mut self, input: &mut [u8]) -> Option<u64> {
        let mut ctx = RunContext::with_memory(input);
        self.exe.run(&mut ctx).ok()?.insns_executed
    }
    fn footprint(&self) -> Footprint {
        Footprint {
            bytes: Some(self.exe.code_bytes()),
            note: "pre-decoded ops and tables (Interpreter::code_bytes)".into(),
        }
    }
}
