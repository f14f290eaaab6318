//! oxbpf: eBPF end to end in Rust.
//!
//! This crate is the facade over the oxbpf crates and holds the `oxbpf` and
//! `oxbpf-conformance` binaries. The entry points here run raw programs:
//!
//! ```
//! use oxbpf::{EngineKind, Helpers, RunContext};
//! // mov r0, 42; exit
//! let code = [0xb7, 0, 0, 0, 42, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
//! let prog = oxbpf::load_raw(&code, &Helpers::new(), EngineKind::Interpreter).unwrap();
//! assert_eq!(prog.run(&mut RunContext::new()).unwrap().r0, 42);
//! ```

pub mod bpf;
pub mod hex;
pub mod hist;
mod pod;
pub mod record;

pub use bpf::{
    AttachInfo, AttachTarget, Backend, Bpf, BpfBuilder, BpfError, BpfMap, ExitStatus,
    FallbackPolicy, PerfEvent, RunStats, TraceEvent, TraceFields,
};
pub use pod::Pod;

pub use oxbpf_isa as isa;
pub use oxbpf_vm as vm;

pub use oxbpf_isa::{DecodeError, Program};
pub use oxbpf_vm::{
    EngineKind, Executable, HelperCtx, HelperError, Helpers, Interpreter, LoadError, MemoryRegion,
    RegionKind, Regions, RunContext, RunOutcome, VmError,
};

/// Engines this build can run, by the name the command-line tools use (`--engine NAME`).
#[cfg(target_arch = "x86_64")]
pub const ENGINES: &[(&str, EngineKind)] = &[
    ("interp", EngineKind::Interpreter),
    ("jit", EngineKind::Jit),
];
/// Engines this build can run, by the name the command-line tools use (`--engine NAME`).
#[cfg(not(target_arch = "x86_64"))]
pub const ENGINES: &[(&str, EngineKind)] = &[("interp", EngineKind::Interpreter)];

/// The engine programs run on unless told otherwise (`Bpf::builder()`, `oxbpf run`,
/// `oxbpf exec`): the JIT where the target has one (x86-64), else the interpreter.
/// Verified programs run as the JIT's verified code (no run-time checks), unverified ones
/// as its checked code.
#[cfg(target_arch = "x86_64")]
pub const DEFAULT_ENGINE: EngineKind = EngineKind::Jit;
/// The engine programs run on unless told otherwise (`Bpf::builder()`, `oxbpf run`,
/// `oxbpf exec`): the JIT where the target has one (x86-64), else the interpreter.
#[cfg(not(target_arch = "x86_64"))]
pub const DEFAULT_ENGINE: EngineKind = EngineKind::Interpreter;

/// The command-line name of [`DEFAULT_ENGINE`].
pub const DEFAULT_ENGINE_NAME: &str = engine_name(DEFAULT_ENGINE);

/// The engine called `name` in [`ENGINES`].
pub fn engine_by_name(name: &str) -> Option<EngineKind> {
    ENGINES.iter().find(|(n, _)| *n == name).map(|&(_, k)| k)
}

/// The command-line name of `engine`.
pub const fn engine_name(engine: EngineKind) -> &'static str {
    match engine {
        EngineKind::Interpreter => "interp",
        EngineKind::Jit => "jit",
    }
}

/// Prepares a decoded program for `engine`, with `helpers` resolved at load time. The JIT
/// compiles in checked mode with budget checks (the program is not known to be verified);
/// use [`vm::jit::JitProgram::compile`] for other options (verified mode only through the
/// `unsafe` [`vm::jit::JitProgram::compile_verified`], for a program a verifier accepted).
pub fn prepare(
    program: &Program,
    helpers: &Helpers,
    engine: EngineKind,
) -> Result<Box<dyn Executable>, LoadError> {
    match engine {
        EngineKind::Interpreter => Ok(Box::new(Interpreter::new(program, helpers)?)),
        #[cfg(target_arch = "x86_64")]
        EngineKind::Jit => Ok(Box::new(oxbpf_vm::jit::JitProgram::compile(
            program,
            helpers,
            &oxbpf_vm::jit::JitOptions::checked(),
        )?)),
        #[cfg(not(target_arch = "x86_64"))]
        EngineKind::Jit => Err(LoadError::Unsupported {
            pc: 0,
            what: "the JIT engine (x86-64 only)",
        }),
    }
}

/// Decodes raw bytecode and prepares it for `engine`.
pub fn load_raw(
    bytes: &[u8],
    helpers: &Helpers,
    engine: EngineKind,
) -> Result<Box<dyn Executable>, LoadError> {
    prepare(&Program::decode(bytes)?, helpers, engine)
}

/// Why [`run_raw`] failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The program could not be decoded or prepared.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The run trapped.
    #[error(transparent)]
    Vm(#[from] VmError),
}

/// Decodes, prepares and runs raw bytecode once over `mem` (`r1` = its address, `r2` = its
/// length, readable and writable), with an optional instruction budget.
pub fn run_raw(
    bytes: &[u8],
    mem: &mut [u8],
    helpers: &Helpers,
    engine: EngineKind,
    budget: Option<u64>,
) -> Result<RunOutcome, RunError> {
    let prog = load_raw(bytes, helpers, engine)?;
    let mut ctx = RunContext::with_memory(mem).with_budget(budget);
    Ok(prog.run(&mut ctx)?)
}

/// The helpers the bpf_conformance suite expects: helper 5 returns its first argument
/// (test `call_unwind_fail` calls it with `r1 = -1` and expects the program to continue).
pub fn conformance_helpers() -> Helpers {
    let mut h = Helpers::new();
    h.register(5, "conformance_identity", |_: &mut HelperCtx<'_>, a| {
        Ok(a[0])
    });
    h
}
