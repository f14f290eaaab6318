//! JIT compile throughput: compiles the benchmark's generated program (and the 520-slot
//! `straight` program) with oxbpf's JIT in checked and verified mode, `--repeats` times
//! each (through `JitProgram::compile_verified`, which is `JitProgram::compile` in checked
//! mode; the code is never run), and prints the median thread CPU time of decode + compile (what the benchmark's
//! prepare-time table measures) and of compile alone, per program and per instruction.
//!
//! ```text
//! cargo run --release -p oxbpf-bench --example jit_compile -- [SLOTS] [REPEATS] [MODE]
//! ```
//!
//! SLOTS defaults to 100000 (the benchmark's `--compile-insns`), REPEATS to 21, MODE to
//! both (`checked` or `verified` for one; handy under `perf record`).

use anyhow::{bail, Context, Result};
use oxbpf_bench::cputime::thread_cpu_time;
use oxbpf_bench::gen::generated_program;
use oxbpf_bench::programs::{Workload, PROGRAMS};
use oxbpf_isa::Program;
use oxbpf_vm::jit::{JitOptions, JitProgram};
use oxbpf_vm::Helpers;
use std::time::Duration;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn measure(w: &Workload, name: &str, opts: &JitOptions, repeats: usize) -> Result<()> {
    let helpers = Helpers::new();
    let (mut total, mut compile) = (Vec::new(), Vec::new());
    let mut insns = 0;
    for _ in 0..repeats {
        let start = thread_cpu_time();
        let prog = Program::decode(&w.code).context("decoding")?;
        let decoded = thread_cpu_time();
        // SAFETY: the compiled code is never run (only dropped), so verified mode's
        // requirement on the memory runs are given does not arise.
        let jit =
            unsafe { JitProgram::compile_verified(&prog, &helpers, opts) }.context("compiling")?;
        let end = thread_cpu_time();
        insns = prog.len();
        total.push(end - start);
        compile.push(end - decoded);
        drop(jit);
    }
    let (t, c) = (median(total), median(compile));
    let per = |d: Duration| d.as_nanos() as f64 / insns as f64;
    println!(
        "{:<10} {:<9} {:>6} insns  decode+compile {:>9.1} us ({:>5.1} ns/insn, {:>5.1} M insns/s)  compile {:>9.1} us ({:>5.1} ns/insn)",
        w.name,
        name,
        insns,
        t.as_nanos() as f64 / 1e3,
        per(t),
        1e3 / per(t),
        c.as_nanos() as f64 / 1e3,
        per(c),
    );
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let slots: usize = match args.first() {
        Some(s) => s.parse().with_context(|| format!("SLOTS `{s}`"))?,
        None => 100_000,
    };
    let repeats: usize = match args.get(1) {
        Some(s) => s.parse().with_context(|| format!("REPEATS `{s}`"))?,
        None => 21,
    };
    let modes: Vec<(&str, JitOptions)> = match args.get(2).map(String::as_str) {
        None | Some("both") => vec![
            ("checked", JitOptions::checked()),
            ("verified", JitOptions::verified()),
        ],
        Some("checked") => vec![("checked", JitOptions::checked())],
        Some("verified") => vec![("verified", JitOptions::verified())],
        Some(m) => bail!("MODE `{m}`: expected checked, verified or both"),
    };
    let large = Workload::bytecode(
        "generated",
        "generated ALU/memory/branch mix",
        generated_program(slots, 0x5eed),
    );
    let straight = PROGRAMS
        .iter()
        .find(|p| p.name == "straight")
        .context("no `straight` program")?;
    let small = Workload::from_program(straight)?;
    for w in [&large, &small] {
        for (name, opts) in &modes {
            measure(w, name, opts, repeats.max(1))?;
        }
    }
    Ok(())
}
