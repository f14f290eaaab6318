//! `oxbpf-bench`: runs the benchmark and prints the report.

use anyhow::Result;
use clap::Parser;
use oxbpf_bench::measure::Settings;
use oxbpf_bench::report::{render, Machine};
use oxbpf_bench::suite::{run, Options};

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
}

fn main() -> Result<()> {
    let args = Args::parse();
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
