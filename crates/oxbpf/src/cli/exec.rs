//! `oxbpf exec`: run a program and print `r0`.

use super::{input, parse_engine, CmdResult, Failure};
use anyhow::anyhow;
use oxbpf::{EngineKind, RunContext, RunOutcome};
use std::path::PathBuf;
use std::time::Instant;

/// Run a program (raw bytecode or assembly text) with an input buffer and print r0.
///
/// The program gets r1 = the address of the input buffer and r2 = its length; the buffer is
/// readable and writable. With --repeat N the program runs N times on the same buffer (each
/// run sees what the previous one left) and the time per run is reported. Helper 5 returns
/// its first argument (the bpf_conformance convention); no other helper is registered.
#[derive(clap::Args)]
#[command(after_help = super::EXIT_CODES)]
pub struct Args {
    /// The program: raw bytecode, or assembly text (told apart by content).
    file: PathBuf,
    /// Input buffer as hex bytes ("aa bb cc", "aabbcc" or "0xaabb").
    #[arg(long, value_name = "HEX", conflicts_with = "mem_file")]
    mem_hex: Option<String>,
    /// Input buffer read from a file.
    #[arg(long, value_name = "F")]
    mem_file: Option<PathBuf>,
    /// Engine that runs the program.
    #[arg(long, default_value = "interp", value_parser = parse_engine)]
    engine: EngineKind,
    /// Run the program N times and report the time per run.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    repeat: u64,
    /// Stop a run after N executed instructions (an error, exit status 1).
    #[arg(long, value_name = "N")]
    budget: Option<u64>,
    /// Print one JSON object: r0, ns_per_run, insns_executed, ...
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> CmdResult {
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
    let exe = oxbpf::prepare(&program, &helpers, a.engine)
        .map_err(|e| Failure::program(anyhow!("{}: {e}", a.file.display())))?;

    let mut last: Option<RunOutcome> = None;
    let start = Instant::now();
    for _ in 0..a.repeat {
        let mut ctx = RunContext::with_memory(&mut mem).with_budget(a.budget);
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
    if a.json {
        let v = serde_json::json!({
            "file": a.file.display().to_string(),
            "engine": engine,
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
            let mut line = format!("{} runs ({engine}): {ns_per_run:.1} ns/run", a.repeat);
            if let (Some(n), Some(per)) = (insns, ns_per_insn) {
                line.push_str(&format!(", {n} insns/run, {per:.3} ns/insn"));
            }
            println!("{line}");
        }
    }
    Ok(())
}
