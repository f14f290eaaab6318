//! `oxbpf-bench`: runs the benchmark and prints the report.

use anyhow::{Context, Result};
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
    /// Instead of benchmarking, run one program on one engine `--iters` times without
    /// timing (for profilers: valgrind --tool=callgrind, perf record).
    /// ENGINE:PROGRAM, e.g. `oxbpf-interp:loop`; PROGRAM may be `empty`.
    #[arg(long, value_name = "ENGINE:PROGRAM")]
    profile: Option<String>,
    /// Runs for --profile.
    #[arg(long, default_value_t = 100)]
    iters: u64,
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
    let w = if program == "empty" {
        Workload::empty()
    } else {
        let p = PROGRAMS
            .iter()
            .find(|p| p.name == program)
            .with_context(|| {
                let names: Vec<&str> = PROGRAMS.iter().map(|p| p.name).collect();
                format!(
                    "--profile: no program `{program}`; programs: {}, empty",
                    names.join(", ")
                )
            })?;
        Workload::from_program(p)?
    };
    let mut input = Input::new();
    let mut prepared = engine.prepare(&w)?;
    let mut r0 = 0;
    for _ in 0..iters {
        r0 = std::hint::black_box(prepared.run(&mut input.0)?);
    }
    println!("{engine_name}:{program}: {iters} runs, r0 = {r0:#x}");
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(spec) = &args.profile {
        return profile(spec, args.iters);
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
