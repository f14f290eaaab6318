//! The `rbpf` crate (0.4): its interpreter and its x86-64 JIT, through `EbpfVmRaw`
//! (`r1` = the buffer).
//!
//! rbpf's raw VM leaves `r2` at 0 instead of the buffer length, so both engines run the
//! program behind `mov r2, BUF_SIZE` (one instruction, [`crate::programs::len_prolog`]).

use super::{time_loop, Class, Engine, Footprint, Origin, Prepared};
use crate::programs::Workload;
use anyhow::{anyhow, Context, Result};
use rbpf::EbpfVmRaw;
use std::panic::{self, AssertUnwindSafe};

/// Machine-code buffer rbpf 0.4's JIT allocates for every program (one page); longer code
/// makes its compiler panic.
pub const RBPF_JIT_CODE_BYTES: usize = 4096;

pub struct RbpfInterp;
pub struct RbpfJit;

/// Runs `f`, turning a panic inside rbpf into an error (and keeping its message off
/// stderr). rbpf 0.4 panics on some inputs instead of returning errors: its JIT asserts
/// that the code fits one page, and its interpreter computes jump targets in `i16`, so a
/// jump from beyond instruction 32767 lands elsewhere and ends in `unreachable!()`.
fn quietly<T>(what: &str, f: impl FnOnce() -> T) -> Result<T> {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    panic::set_hook(previous);
    r.map_err(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        anyhow!("{what} panicked: {msg}")
    })
}

fn vm(w: &Workload) -> Result<EbpfVmRaw<'_>> {
    EbpfVmRaw::new(Some(&w.code_len_prolog)).map_err(|e| anyhow!("rbpf refused the program: {e}"))
}

struct Interp<'w> {
    vm: EbpfVmRaw<'w>,
    len: usize,
}

impl Engine for RbpfInterp {
    fn name(&self) -> &'static str {
        "rbpf-interp"
    }
    fn class(&self) -> Class {
        Class::Interpreter
    }
    fn origin(&self) -> Origin {
        Origin::Rbpf
    }
    fn prepare<'w>(&self, w: &'w Workload) -> Result<Box<dyn Prepared + 'w>> {
        Ok(Box::new(Interp {
            vm: vm(w)?,
            len: w.code_len_prolog.len(),
        }))
    }
}

impl Prepared for Interp<'_> {
    fn run(&mut self, input: &mut [u8]) -> Result<u64> {
        let vm = &self.vm;
        quietly("rbpf interpreter", || vm.execute_program(input))?
            .map_err(|e| anyhow!("rbpf interpreter: {e}"))
    }
    fn sample(&mut self, input: &mut [u8], iters: u64) -> Result<f64> {
        let vm = &self.vm;
        time_loop(iters, || vm.execute_program(input)).map_err(|e| anyhow!("rbpf: {e}"))
    }
    fn footprint(&self) -> Footprint {
        Footprint {
            bytes: Some(self.len),
            note: "interprets the bytecode in place (no decoded form)".into(),
        }
    }
}

struct Jit<'w> {
    vm: EbpfVmRaw<'w>,
    /// The last input rbpf's bounds-checked interpreter ran without a fault.
    validated: Option<Vec<u8>>,
}

impl Jit<'_> {
    /// Runs the input through rbpf's interpreter (which checks every access) unless it
    /// already did; the JIT's code checks nothing.
    fn validate(&mut self, input: &mut [u8]) -> Result<()> {
        if self.validated.as_deref() == Some(&*input) {
            return Ok(());
        }
        let vm = &self.vm;
        quietly("rbpf interpreter (run before the JIT)", || {
            vm.execute_program(input)
        })?
        .map_err(|e| anyhow!("rbpf interpreter (run before the JIT): {e}"))?;
        self.validated = Some(input.to_vec());
        Ok(())
    }
}

impl Engine for RbpfJit {
    fn name(&self) -> &'static str {
        "rbpf-jit"
    }
    fn class(&self) -> Class {
        Class::Jit
    }
    fn origin(&self) -> Origin {
        Origin::Rbpf
    }
    fn prepare<'w>(&self, w: &'w Workload) -> Result<Box<dyn Prepared + 'w>> {
        let mut vm = vm(w)?;
        // rbpf 0.4 asserts that the code fits its one-page buffer; report that as an error.
        quietly("rbpf JIT compiler", || vm.jit_compile())
            .map_err(|e| {
                e.context(format!(
                    "rbpf JIT: the machine code does not fit its fixed {RBPF_JIT_CODE_BYTES}-byte buffer"
                ))
            })?
            .map_err(|e| anyhow!("rbpf JIT: {e}"))?;
        Ok(Box::new(Jit {
            vm,
            validated: None,
        }))
    }
}

impl Prepared for Jit<'_> {
    fn run(&mut self, input: &mut [u8]) -> Result<u64> {
        self.validate(input)?;
        // SAFETY: rbpf's JIT code does not check memory accesses. The program is one of
        // the benchmark's own (no helpers, no maps, deterministic): `validate` just ran it
        // over these same input bytes with rbpf's interpreter, which checks every access
        // against the buffer and the stack, without a fault, so the compiled code makes
        // the same in-bounds accesses.
        unsafe { self.vm.execute_program_jit(input) }.map_err(|e| anyhow!("rbpf JIT: {e}"))
    }
    fn sample(&mut self, input: &mut [u8], iters: u64) -> Result<f64> {
        self.validate(input).context("before timing")?;
        let vm = &self.vm;
        // SAFETY: as in `run`: `validate` ran this exact input through the checked
        // interpreter; the loop reuses it unchanged (the programs never write the buffer,
        // and a changed buffer would only change data, not the addresses accessed).
        time_loop(iters, || unsafe { vm.execute_program_jit(input) })
            .map_err(|e| anyhow!("rbpf JIT: {e}"))
    }
    fn footprint(&self) -> Footprint {
        Footprint {
            bytes: Some(RBPF_JIT_CODE_BYTES),
            note: "fixed one-page code buffer per program".into(),
        }
    }
}
