//! `oxbpf exec`: run a program and print `r0`.
//!
//! Raw bytecode and assembly text run as plain VM programs over an input buffer; ELF
//! objects run in the userspace runtime (maps, helpers, trace output), see `exec_obj`.

use super::{input, parse_engine, CmdResult, Failure};
use anyhow::anyhow;
use oxbpf::{EngineKind, Executable, Program, RunContext, RunOutcome};
use oxbpf_runtime::loader::{ObjectSpec, ProgramSpec};
use oxbpf_runtime::progtype::ProgType;
use oxbpf_verifier::{
    Arg, ContextDescriptor, ContextField, HelperProto, HookSpec, Narrow, ProgramType, Ret,
    VerifierConfig,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// The instruction budget of unverified runs unless `--budget` says otherwise: enough for
/// any real program, small enough that `loop: goto loop` stops in well under a second.
pub const DEFAULT_BUDGET: u64 = 100_000_000;

/// `--budget N` or `--budget none`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    Limit(u64),
    Unlimited,
}

fn parse_budget(s: &str) -> Result<Budget, String> {
    if s == "none" {
        return Ok(Budget::Unlimited);
    }
    s.parse::<u64>()
        .map(Budget::Limit)
        .map_err(|_| format!("`{s}` is neither a number of instructions nor `none`"))
}

/// The budget of a run: the one given, else [`DEFAULT_BUDGET`] for unverified programs
/// and none for verified ones (the verifier proved they terminate).
pub fn budget_for(given: Option<Budget>, verified: bool) -> Option<u64> {
    match given {
        Some(Budget::Limit(n)) => Some(n),
        Some(Budget::Unlimited) => None,
        None if verified => None,
        None => Some(DEFAULT_BUDGET),
    }
}

fn parse_prog_type(s: &str) -> Result<ProgType, String> {
    ProgType::from_name(s).ok_or_else(|| {
        format!(
            "unknown program type `{s}` (known: {})",
            ProgType::names().collect::<Vec<_>>().join(", ")
        )
    })
}

/// Run a program and print r0: raw bytecode or assembly text with an input buffer, or a
/// program of an ELF object in the userspace runtime.
///
/// Raw bytecode and assembly: the program gets r1 = the address of the input buffer and
/// r2 = its length; the buffer is readable and writable. Helper 5 returns its first
/// argument (the bpf_conformance convention); no other helper is registered. Such runs
/// are unverified (checked at run time) unless --verify is given: the program is then
/// verified as plain-memory code over the input buffer and runs without run-time checks.
/// With --prog-type TYPE a raw program runs instead in the userspace runtime as a program
/// of that type, like an object's program (helpers, --ctx-*/--packet-* inputs).
///
/// ELF objects (`prog.o`): the object's programs are verified first (on by default:
/// a rejected program prints the verifier's summary and exits with 1; --verbose prints
/// the full report; --unverified skips verification and runs in checked mode). The
/// object's maps are created, the program runs with the Linux helpers its type may call,
/// like BPF_PROG_TEST_RUN: with --ctx-hex/--ctx-file as its context (r1; a verified
/// program's context is zero-extended to its type's layout), and for XDP and socket
/// filters with --packet-file/--packet-hex as the packet (an Ethernet frame, with the
/// kernel's xdp_md/__sk_buff context). The trace output (bpf_trace_printk) is printed in
/// trace_pipe's format, then r0; --maps prints the maps afterwards; --state DIR keeps the
/// maps between invocations (see `oxbpf map dump`). On the JIT (the default engine on
/// x86-64) verified programs run as native code without run-time checks, unverified ones
/// as its checked code; --engine interp runs the reference interpreter, which checks
/// every access.
///
/// Unverified runs stop after 100 million instructions (an error, exit status 1) unless
/// --budget says otherwise (--budget none: no limit); verified programs terminate and
/// run without a budget unless one is given.
///
/// With --repeat N the program runs N times on the same buffer (each run sees what the
/// previous one left; packets are fresh copies) and the time per run is reported.
#[derive(clap::Args)]
#[command(after_help = super::EXIT_CODES)]
pub struct Args {
    /// The program: an ELF object, raw bytecode, or assembly text (told apart by content).
    file: PathBuf,
    /// ELF objects: the program to run (needed when the object has several).
    #[arg(long, value_name = "NAME")]
    program: Option<String>,
    /// ELF objects: the context (r1) as hex bytes.
    #[arg(long, value_name = "HEX", conflicts_with = "ctx_file")]
    ctx_hex: Option<String>,
    /// ELF objects: the context (r1) read from a file.
    #[arg(long, value_name = "F")]
    ctx_file: Option<PathBuf>,
    /// ELF objects: packet data as hex bytes.
    #[arg(long, value_name = "HEX", conflicts_with = "packet_file")]
    packet_hex: Option<String>,
    /// ELF objects: packet data read from a file.
    #[arg(long, value_name = "F")]
    packet_file: Option<PathBuf>,
    /// ELF objects: print every map after the run(s).
    #[arg(long)]
    maps: bool,
    /// ELF objects: keep the maps in DIR between invocations (read before, written after).
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Input buffer as hex bytes ("aa bb cc", "aabbcc" or "0xaabb").
    #[arg(long, value_name = "HEX", conflicts_with = "mem_file")]
    mem_hex: Option<String>,
    /// Input buffer read from a file.
    #[arg(long, value_name = "F")]
    mem_file: Option<PathBuf>,
    /// Engine that runs the program: jit (the default on x86-64: verified programs as its
    /// verified code, others as its checked code) or interp (the reference interpreter).
    #[arg(long, default_value = oxbpf::DEFAULT_ENGINE_NAME, value_parser = parse_engine)]
    engine: EngineKind,
    /// Run the program N times and report the time per run.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    repeat: u64,
    /// Stop a run after N executed instructions (an error, exit status 1); `none` for no
    /// limit. Default: 100000000 for unverified runs, none for verified ones.
    #[arg(long, value_name = "N|none", value_parser = parse_budget)]
    budget: Option<Budget>,
    /// Objects: load without verification and run in checked mode (for programs the
    /// verifier cannot prove safe but you trust; the run-time checks still apply).
    #[arg(long, conflicts_with = "verify")]
    unverified: bool,
    /// Raw programs: verify before running (as plain-memory code over the input buffer,
    /// or as --prog-type TYPE) and run without run-time checks. Objects are verified
    /// anyway.
    #[arg(long)]
    verify: bool,
    /// Raw programs: run in the userspace runtime as a program of this type (xdp,
    /// socket_filter, kprobe, tracepoint, raw_tracepoint, ...), with its helpers and the
    /// --ctx-*/--packet-* inputs.
    #[arg(long, value_name = "TYPE", value_parser = parse_prog_type)]
    prog_type: Option<ProgType>,
    /// Print the verifier's full report when it rejects a program.
    #[arg(long, short)]
    verbose: bool,
    /// Print one JSON object: r0, ns_per_run, insns_executed, ...
    #[arg(long)]
    json: bool,
}

fn bytes_arg(
    hex: &Option<String>,
    file: &Option<PathBuf>,
    what: &str,
) -> Result<Option<Vec<u8>>, Failure> {
    match (hex, file) {
        (Some(h), _) => oxbpf::hex::decode(h)
            .map(Some)
            .map_err(|e| Failure::input(anyhow!("--{what}-hex: {e}"))),
        (None, Some(f)) => std::fs::read(f)
            .map(Some)
            .map_err(|e| Failure::input(anyhow!("{}: cannot read: {e}", f.display()))),
        (None, None) => Ok(None),
    }
}

pub fn run(a: Args) -> CmdResult {
    let bytes = std::fs::read(&a.file)
        .map_err(|e| Failure::input(anyhow!("{}: cannot read: {e}", a.file.display())))?;
    let elf = bytes.starts_with(b"\x7fELF");
    if elf || a.prog_type.is_some() {
        if a.mem_hex.is_some() || a.mem_file.is_some() {
            return Err(Failure::input(anyhow!(
                "--mem-hex/--mem-file are for raw programs run as plain memory code; give {} its context with --ctx-hex/--ctx-file or a packet with --packet-hex/--packet-file",
                if elf { "an ELF program" } else { "a program of a --prog-type" }
            )));
        }
        let spec = if elf {
            if a.prog_type.is_some() {
                return Err(Failure::input(anyhow!(
                    "{}: --prog-type is for raw programs; an object's programs have the types of their sections",
                    a.file.display()
                )));
            }
            ObjectSpec::from_elf(&bytes)
                .map_err(|e| Failure::input(anyhow!("{}: {e}", a.file.display())))?
        } else {
            if a.program.is_some() || a.state.is_some() {
                return Err(Failure::input(anyhow!(
                    "{}: --program and --state are for ELF objects",
                    a.file.display()
                )));
            }
            let t = a.prog_type.unwrap_or(ProgType::Unspec);
            let name = a
                .file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "prog".to_string());
            let program = input::read_program(&a.file)?;
            ObjectSpec {
                maps: Vec::new(),
                programs: vec![ProgramSpec {
                    section: t.name().to_string(),
                    ..ProgramSpec::new(&name, t, program)
                }],
            }
        };
        // Raw programs are verified only when asked.
        let verify = if elf { !a.unverified } else { a.verify };
        return super::exec_obj::run(super::exec_obj::ObjectRun {
            file: &a.file,
            spec,
            program: a.program.as_deref(),
            ctx: bytes_arg(&a.ctx_hex, &a.ctx_file, "ctx")?,
            packet: bytes_arg(&a.packet_hex, &a.packet_file, "packet")?,
            engine: a.engine,
            repeat: a.repeat,
            budget: a.budget,
            verify,
            verbose: a.verbose,
            maps: a.maps,
            json: a.json,
            state: a.state.as_deref(),
        });
    }
    if a.unverified {
        return Err(Failure::input(anyhow!(
            "{}: raw programs are unverified unless --verify is given",
            a.file.display()
        )));
    }
    if a.program.is_some()
        || a.ctx_hex.is_some()
        || a.ctx_file.is_some()
        || a.packet_hex.is_some()
        || a.packet_file.is_some()
        || a.maps
        || a.state.is_some()
    {
        return Err(Failure::input(anyhow!(
            "{}: --program, --ctx-*, --packet-*, --maps and --state are for ELF objects; raw programs take --mem-hex/--mem-file",
            a.file.display()
        )));
    }
    let program = input::read_program(&a.file)?;
    let mut mem = match (&a.mem_hex, &a.mem_file) {
        (Some(h), _) => {
            oxbpf::hex::decode(h).map_err(|e| Failure::input(anyhow!("--mem-hex: {e}")))?
        }
        (None, Some(f)) => std::fs::read(f)
            .map_err(|e| Failure::input(anyhow!("{}: cannot read: {e}", f.display())))?,
        (None, None) => Vec::new(),
    };
    let helpers = oxbpf::conformance_helpers();
    let budget = budget_for(a.budget, a.verify);
    let exe: Box<dyn Executable> = if a.verify {
        verify_plain(&a, &program, mem.len())?;
        // SAFETY: `verify_plain` just accepted the program for plain memory of
        // `mem.len()` bytes, with these helpers; every run below gives it `mem` (that many
        // bytes, read-write) as its memory and `r1`.
        unsafe { prepare_verified(&program, &helpers, a.engine, budget.is_some()) }
            .map_err(|e| Failure::program(anyhow!("{}: {e}", a.file.display())))?
    } else {
        oxbpf::prepare(&program, &helpers, a.engine)
            .map_err(|e| Failure::program(anyhow!("{}: {e}", a.file.display())))?
    };

    let mut last: Option<RunOutcome> = None;
    let start = Instant::now();
    for _ in 0..a.repeat {
        let mut ctx = RunContext::with_memory(&mut mem).with_budget(budget);
        let out = exe
            .run(&mut ctx)
            .map_err(|e| Failure::program(anyhow!("{}: {e}", a.file.display())))?;
        last = Some(out);
    }
    let elapsed = start.elapsed();
    let Some(out) = last else {
        return Err(Failure::input(anyhow!("--repeat must be at least 1")));
    };
    let ns_per_run = elapsed.as_nanos() as f64 / a.repeat as f64;
    let insns = out.insns_executed;
    let ns_per_insn = insns.filter(|&n| n > 0).map(|n| ns_per_run / n as f64);
    let engine = oxbpf::engine_name(a.engine);
    let mode = if a.verify {
        format!("{engine}, verified")
    } else {
        engine.to_string()
    };
    if a.json {
        let v = serde_json::json!({
            "file": a.file.display().to_string(),
            "engine": engine,
            "verified": a.verify,
            "r0": out.r0,
            "r0_hex": format!("{:#x}", out.r0),
            "runs": a.repeat,
            "ns_per_run": ns_per_run,
            "insns_executed": insns,
            "ns_per_insn": ns_per_insn,
        });
        println!("{v}");
    } else {
        println!("r0 = {} ({:#x})", out.r0, out.r0);
        if a.repeat > 1 {
            let mut line = format!("{} runs ({mode}): {ns_per_run:.1} ns/run", a.repeat);
            if let (Some(n), Some(per)) = (insns, ns_per_insn) {
                line.push_str(&format!(", {n} insns/run, {per:.3} ns/insn"));
            }
            println!("{line}");
        }
    }
    Ok(())
}

/// Verifies a raw program as plain-memory code: `r1` points to the `len` bytes of the
/// input buffer, `r2` holds `len`, helper 5 (the conformance identity) takes one
/// argument. A rejection is a program failure (exit status 1) with the verifier's summary
/// (`--verbose`: the full report).
fn verify_plain(a: &Args, program: &Program, len: usize) -> Result<(), Failure> {
    let size = u32::try_from(len)
        .map_err(|_| Failure::input(anyhow!("the input buffer is larger than 4 GiB")))?;
    let fields = if size > 0 {
        vec![ContextField::scalar("bytes", 0, size)
            .writable()
            .with_narrow(Narrow::LoadsAndStores)]
    } else {
        Vec::new()
    };
    let ctx = ContextDescriptor::new("input buffer", size, fields)
        .map_err(|e| Failure::input(anyhow!("{e}")))?;
    let mut hook = HookSpec::new("plain memory", ctx);
    hook.plain_memory = true;
    hook.allow_ptr_leaks = true;
    let mut conf = VerifierConfig::new(ProgramType::Hook(Arc::new(hook)));
    conf.helpers = vec![HelperProto::new(
        5,
        "conformance_identity",
        vec![Arg::Anything],
        Ret::Integer,
    )];
    oxbpf_verifier::verify(program, &conf).map_err(|e| {
        Failure::program(anyhow!(
            "{}: rejected by the verifier: {}",
            a.file.display(),
            if a.verbose { e.report() } else { e.summary() }
        ))
    })?;
    Ok(())
}

/// The verified counterpart of [`oxbpf::prepare`]: the JIT without run-time checks (with
/// budget checks only when a budget is asked for).
///
/// # Safety
/// The verifier accepted `program` for the memory and helpers every run of the result
/// will be given.
unsafe fn prepare_verified(
    program: &Program,
    helpers: &oxbpf::Helpers,
    engine: EngineKind,
    budget_checks: bool,
) -> Result<Box<dyn Executable>, oxbpf::LoadError> {
    match engine {
        #[cfg(target_arch = "x86_64")]
        EngineKind::Jit => {
            let opts = oxbpf::vm::jit::JitOptions {
                budget_checks,
                ..oxbpf::vm::jit::JitOptions::verified()
            };
            // SAFETY: this function's contract.
            let jit =
                unsafe { oxbpf::vm::jit::JitProgram::compile_verified(program, helpers, &opts) }?;
            Ok(Box::new(jit))
        }
        _ => oxbpf::prepare(program, helpers, engine),
    }
}
