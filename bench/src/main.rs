//! `oxbpf-bench`: runs the benchmark and prints the report.

use anyhow::{bail, Context, Result};
use clap::Parser;
use oxbpf_bench::engines;
use oxbpf_bench::measure::Settings;
use oxbpf_bench::programs::{Workload, PROGRAMS};
use oxbpf_bench::report::{render, Machine};
use oxbpf_bench::suite::{run, Options};
use oxbpf_bench::Input;

/// Runs the same eBPF bytecode on oxbpf's engines, rbpf's, the Linux kernel's JIT and as
/// native Rust, and prints time per run, ratios, call overhead, compile throughput and
/// memory.
#[derive(Parser, Debug)]
#[command(name = "oxbpf-bench")]
struct Args {
    /// Run only rows whose name contains NAME (programs, `empty`, `compile`); repeatable.
    #[arg(long, value_name = "NAME")]
    filter: Vec<String>,
    /// Print Markdown tables (as in docs/BENCHMARKS.md).
    #[arg(long)]
    markdown: bool,
    /// Shorter samples (noisier numbers).
    #[arg(long)]
    quick: bool,
    /// Samples per measurement (default 11, or 5 with --quick).
    #[arg(long)]
    samples: Option<usize>,
    /// Leave out engines whose name contains NAME; repeatable.
    #[arg(long, value_name = "NAME")]
    skip: Vec<String>,
    /// Instruction slots of the generated program for compile throughput.
    #[arg(long, default_value_t = 100_000)]
    compile_insns: usize,
    /// No progress on stderr.
    #[arg(long)]
    silent: bool,
    /// Instead of benchmarking, run one program on one engine once, then `--iters` times
    /// in the timing loop (for profilers: valgrind --tool=callgrind, perf record).
    /// ENGINE:PROGRAM, e.g. `oxbpf-interp:loop`; PROGRAM may be `empty`.
    #[arg(long, value_name = "ENGINE:PROGRAM")]
    profile: Option<String>,
    /// Runs for --profile.
    #[arg(long, default_value_t = 100)]
    iters: u64,
    /// Instead of benchmarking, print oxbpf's JIT code for a program, each eBPF
    /// instruction followed by its x86-64. ENGINE:PROGRAM with ENGINE `oxbpf-jit` or
    /// `oxbpf-jit-verified`.
    #[arg(long, value_name = "ENGINE:PROGRAM")]
    listing: Option<String>,
}

/// The workload called `name` (a benchmark program or `empty`).
fn workload(name: &str) -> Result<Workload> {
    if name == "empty" {
        return Ok(Workload::empty());
    }
    let p = PROGRAMS.iter().find(|p| p.name == name).with_context(|| {
        let names: Vec<&str> = PROGRAMS.iter().map(|p| p.name).collect();
        format!("no program `{name}`; programs: {}, empty", names.join(", "))
    })?;
    Workload::from_program(p)
}

/// `--listing ENGINE:PROGRAM`: oxbpf's JIT output with the eBPF interleaved.
fn listing(spec: &str) -> Result<()> {
    use oxbpf_isa::{disasm::format_insn, Program, Syntax};
    use oxbpf_vm::jit::{JitOptions, JitProgram};
    let (engine, program) = spec
        .split_once(':')
        .with_context(|| format!("--listing `{spec}`: expected ENGINE:PROGRAM"))?;
    let opts = match engine {
        "oxbpf-jit" => JitOptions::checked(),
        "oxbpf-jit-verified" => JitOptions::verified(),
        other => bail!("--listing: `{other}` is not oxbpf-jit or oxbpf-jit-verified"),
    };
    let w = workload(program).context("--listing")?;
    let prog = Program::decode(&w.code).with_context(|| format!("decoding `{program}`"))?;
    // SAFETY: the code is only listed, never run.
    let jit = unsafe { JitProgram::compile_verified(&prog, &oxbpf_vm::Helpers::new(), &opts) }?;
    print!(
        "{}",
        jit.listing(&prog, |_, _, insn| format_insn(insn, Syntax::Llvm))
    );
    Ok(())
}

/// `--profile ENGINE:PROGRAM`: prepare once, run `iters` times.
fn profile(spec: &str, iters: u64) -> Result<()> {
    let (engine_name, program) = spec
        .split_once(':')
        .with_context(|| format!("--profile `{spec}`: expected ENGINE:PROGRAM"))?;
    let (engines, unavailable) = engines::all();
    let engine = engines
        .iter()
        .find(|e| e.name() == engine_name)
        .with_context(|| {
            let names: Vec<&str> = engines.iter().map(|e| e.name()).collect();
            let off: Vec<String> = unavailable
                .iter()
                .map(|(n, w)| format!("{n} ({w})"))
                .collect();
            format!(
                "--profile: no engine `{engine_name}`; available: {}; not available: {}",
                names.join(", "),
                if off.is_empty() {
                    "none".into()
                } else {
                    off.join(", ")
                }
            )
        })?;
    let w = workload(program).context("--profile")?;
    let mut input = Input::new();
    let mut prepared = engine.prepare(&w)?;
    let r0 = prepared.run(&mut input.0)?;
    // The benchmark's own timing loop, so a profile shows what the tables measure.
    let ns = prepared.sample(&mut input.0, iters)?;
    println!("{engine_name}:{program}: r0 = {r0:#x}; then {iters} runs in the timing loop, {ns:.1} ns/run");
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(spec) = &args.profile {
        return profile(spec, args.iters);
    }
    if let Some(spec) = &args.listing {
        return listing(spec);
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; measure with `cargo run --release -p oxbpf-bench`");
    }
    let mut settings = if args.quick {
        Settings::quick()
    } else {
        Settings::full()
    };
    if let Some(n) = args.samples {
        settings.samples = n.max(1);
    }
    let opts = Options {
        filter: args.filter.clone(),
        settings,
        compile_slots: args.compile_insns,
        compile_repeats: if args.quick { 3 } else { 5 },
        skip_engines: args.skip.clone(),
        progress: !args.silent,
    };
    let results = run(&opts)?;
    let command = std::iter::once("cargo run --release -p oxbpf-bench --".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    print!(
        "{}",
        render(&results, &Machine::detect(), &command, args.markdown)
    );
    Ok(())
}
