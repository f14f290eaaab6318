//! oxbpf's engines (`oxbpf_vm`): the interpreter and the x86-64 JIT in its checked and
//! verified modes. A run gets `RunContext::with_memory(buffer)`: `r1` = buffer, `r2` = its
//! length, the buffer its only region.
//!
//! The timing loop builds one `RunContext` per sample and reuses it for every run (the
//! context holds only the entry registers and the region list, which do not change between
//! runs). [`Prepared::sample_fresh_context`] measures the other way, a new context per run.

use super::{time_loop, Class, Engine, Footprint, Origin, Prepared};
use crate::programs::Workload;
use anyhow::{anyhow, Context, Result};
use oxbpf_isa::Program;
use oxbpf_vm::jit::{JitOptions, JitProgram};
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

/// oxbpf's JIT in one mode.
pub struct OxbpfJit {
    pub verified: bool,
}

/// `VERIFIED` makes the two modes distinct types, each with its own copy of the timing
/// loop (the `black_box(VERIFIED)` in `sample` keeps the compiler from merging the two
/// identical copies): one indirect call site per engine, as every other engine has. A call
/// site shared by the two modes sees its target change between samples, and this
/// machine's AMD CPU then predicts it worse for a while (about 0.8 ns per call, measured
/// with a small C program alternating two `xor eax, eax; ret` targets at one call site).
struct Jit<const VERIFIED: bool> {
    exe: JitProgram,
    /// Verified mode: the program, for the interpreter that checks an input first (built
    /// on first use, so that it is not part of the compile time; see `validate`).
    program: Option<Program>,
    checker: Option<Interpreter>,
    validated: Option<Vec<u8>>,
}

impl<const VERIFIED: bool> Jit<VERIFIED> {
    /// Verified-mode code checks no memory access, so before it runs an input, oxbpf's
    /// interpreter (which checks every access) runs the same bytecode over the same input
    /// bytes; the programs are deterministic, so the compiled code then makes the same
    /// in-bounds accesses.
    fn validate(&mut self, input: &mut [u8]) -> Result<()> {
        let Some(program) = &self.program else {
            return Ok(());
        };
        if self.validated.as_deref() == Some(&*input) {
            return Ok(());
        }
        if self.checker.is_none() {
            self.checker = Some(
                Interpreter::new(program, &Helpers::new())
                    .context("preparing the checking interpreter")?,
            );
        }
        let Some(checker) = &self.checker else {
            return Ok(());
        };
        run_once(checker, input).context("oxbpf interpreter (run before verified-mode code)")?;
        self.validated = Some(input.to_vec());
        Ok(())
    }
}

impl Engine for OxbpfJit {
    fn name(&self) -> &'static str {
        if self.verified {
            "oxbpf-jit-verified"
        } else {
            "oxbpf-jit"
        }
    }
    fn class(&self) -> Class {
        Class::Jit
    }
    fn origin(&self) -> Origin {
        Origin::Oxbpf
    }
    fn prepare<'w>(&self, w: &'w Workload) -> Result<Box<dyn Prepared + 'w>> {
        let program = decode(w)?;
        let helpers = Helpers::new();
        let opts = if self.verified {
            JitOptions::verified()
        } else {
            JitOptions::checked()
        };
        // SAFETY: verified-mode code runs only on inputs that `Jit::validate` first ran
        // through oxbpf's checking interpreter without a fault: the benchmark programs are
        // deterministic, so the code then makes the same in-bounds accesses of the buffer
        // it is given.
        let exe = unsafe { JitProgram::compile_verified(&program, &helpers, &opts) }
            .context("compiling with the oxbpf JIT")?;
        if self.verified {
            Ok(Box::new(Jit::<true> {
                exe,
                program: Some(program),
                checker: None,
                validated: None,
            }))
        } else {
            Ok(Box::new(Jit::<false> {
                exe,
                program: None,
                checker: None,
                validated: None,
            }))
        }
    }
}

impl<const VERIFIED: bool> Prepared for Jit<VERIFIED> {
    fn run(&mut self, input: &mut [u8]) -> Result<u64> {
        self.validate(input)?;
        run_once(&self.exe, input)
    }
    fn sample(&mut self, input: &mut [u8], iters: u64) -> Result<f64> {
        self.validate(input)?;
        std::hint::black_box(VERIFIED);
        let mut ctx = RunContext::with_memory(input);
        Ok(time_loop(iters, || self.exe.run(&mut ctx).map(|o| o.r0))?)
    }
    fn sample_fresh_context(&mut self, input: &mut [u8], iters: u64) -> Option<Result<f64>> {
        if let Err(e) = self.validate(input) {
            return Some(Err(e));
        }
        std::hint::black_box(VERIFIED);
        let exe = &self.exe;
        Some(
            time_loop(iters, || {
                let mut ctx = RunContext::with_memory(input);
                exe.run(&mut ctx).map(|o| o.r0)
            })
            .map_err(Into::into),
        )
    }
    fn footprint(&self) -> Footprint {
        Footprint {
            bytes: Some(self.exe.code().len()),
            note: format!(
                "machine code incl. out-of-line paths and constants (JitProgram::code; \
                 executable memory is mapped in pages, e.g. {} bytes for the last program)",
                self.exe.mapped_len()
            ),
        }
    }
}
