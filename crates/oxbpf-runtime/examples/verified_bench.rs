//! What verification buys at run time: ns per run of the same programs in the JIT's
//! verified mode (no run-time checks) and checked mode, with the interpreter for scale.
//!
//! - The runtime's C corpus (`tests/programs`): every program the JIT runs (callbacks and
//!   tail calls need re-entry, which the JIT does not have yet), loaded by the runtime
//!   verified and unverified, run with `LoadedProgram::run` and `repeat` (maps, helpers,
//!   the runtime's per-run set-up included), no budget.
//! - The benchmark programs (`bench/programs`): compute kernels over a 2048-byte buffer
//!   (the plain-VM convention), verified as plain-memory code and compiled directly with
//!   `JitOptions::verified()` (`JitProgram::compile_verified`, after the verifier accepted
//!   them) and `JitOptions::checked()` (the latter with its budget
//!   checks, as unverified runs have them), run through `Executable::run`.
//!
//! Each figure is the best of five batches (the mean of a batch of RUNS runs).
//!
//! `cargo run --release -p oxbpf-runtime --example verified_bench [-- RUNS]`

use oxbpf_runtime::loader::{LoadedProgram, RunInput, Runtime};
use oxbpf_runtime::verifier::{
    verify, ContextDescriptor, ContextField, HookSpec, Narrow, ProgramType, VerifierConfig,
};
use oxbpf_vm::jit::{JitOptions, JitProgram};
use oxbpf_vm::{EngineKind, Executable, Helpers, RunContext};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

fn objects(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "o"))
        .collect();
    v.sort();
    v
}

/// Best mean ns per run over five batches.
fn best(mut batch: impl FnMut() -> f64) -> f64 {
    (0..5).map(|_| batch()).fold(f64::INFINITY, f64::min)
}

fn corpus_ns(p: &LoadedProgram, runs: u32) -> Option<f64> {
    let mut ctx = [0u8; 16];
    // One run first: programs the engine cannot run are left out.
    p.run_ctx(&mut ctx).ok()?;
    Some(best(|| {
        let r = p
            .run(RunInput {
                ctx: Some(&mut ctx),
                repeat: runs,
                ..Default::default()
            })
            .expect("run");
        r.duration.as_nanos() as f64
    }))
}

fn bench_hook() -> ProgramType {
    let ctx = ContextDescriptor::new(
        "bench_buffer",
        2048,
        vec![ContextField::scalar("data", 0, 2048).with_narrow(Narrow::LoadsAndStores)],
    )
    .expect("descriptor");
    let mut h = HookSpec::new("bench", ctx);
    h.plain_memory = true;
    ProgramType::Hook(Arc::new(h))
}

fn exe_ns(exe: &dyn Executable, buf: &mut [u8], runs: u32) -> (f64, u64) {
    let r0 = exe.run(&mut RunContext::with_memory(buf)).expect("run").r0;
    let ns = best(|| {
        let start = Instant::now();
        for _ in 0..runs {
            let mut ctx = RunContext::with_memory(buf);
            std::hint::black_box(exe.run(&mut ctx).expect("run"));
        }
        start.elapsed().as_nanos() as f64 / runs as f64
    });
    (ns, r0)
}

fn main() {
    let runs: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    println!("runtime corpus: ns per run (LoadedProgram::run, repeat {runs})");
    println!(
        "{:<28} {:>10} {:>12} {:>13} {:>8}",
        "program", "interp", "jit checked", "jit verified", "speedup"
    );
    let rt = |engine, verify| {
        Runtime::new()
            .with_engine(engine)
            .with_verify(verify)
            .with_budget(None)
    };
    for path in objects(&crate_dir.join("tests/programs")) {
        let bytes = std::fs::read(&path).expect("read");
        let file = path.file_stem().unwrap().to_string_lossy().into_owned();
        let interp = rt(EngineKind::Interpreter, false)
            .load_elf(&bytes)
            .expect("load");
        let checked = rt(EngineKind::Jit, false).load_elf(&bytes).expect("load");
        let verified = rt(EngineKind::Jit, true).load_elf(&bytes).expect("load");
        for p in verified.programs() {
            let name = format!("{file}:{}", p.name());
            let Some(v) = corpus_ns(p, runs) else {
                println!("{name:<28} (needs re-entry: not run by the JIT)");
                continue;
            };
            let c = corpus_ns(checked.program(p.name()).unwrap(), runs).unwrap();
            let i = corpus_ns(interp.program(p.name()).unwrap(), runs).unwrap();
            println!("{name:<28} {i:>10.1} {c:>12.1} {v:>13.1} {:>7.2}x", c / v);
        }
    }

    println!();
    println!("benchmark programs: ns per run (Executable::run over 2048 bytes, {runs} runs)");
    println!(
        "{:<28} {:>12} {:>13} {:>8}",
        "program", "jit checked", "jit verified", "speedup"
    );
    let mut buf: Vec<u8> = (0..2048u32).map(|i| (i * 131 + 7) as u8).collect();
    let helpers = Helpers::new();
    for path in objects(&crate_dir.join("../../bench/programs")) {
        let bytes = std::fs::read(&path).expect("read");
        let obj = oxbpf_obj::Object::parse(&bytes).expect("parse");
        for p in &obj.programs {
            let name = format!("{}:{}", path.file_stem().unwrap().to_string_lossy(), p.name);
            let conf = VerifierConfig::new(bench_hook());
            if let Err(e) = verify(&p.insns, &conf) {
                println!("{name:<28} rejected: {}", e.summary());
                continue;
            }
            let checked =
                JitProgram::compile(&p.insns, &helpers, &JitOptions::checked()).expect("jit");
            // SAFETY: the verifier just accepted the program for a 2048-byte plain-memory
            // context (`bench_hook`), and `exe_ns` runs it only with `r1` = `buf`, 2048
            // bytes granted read-write.
            let verified = unsafe {
                JitProgram::compile_verified(&p.insns, &helpers, &JitOptions::verified())
            }
            .expect("jit");
            let (c, rc) = exe_ns(&checked, &mut buf, runs);
            let (v, rv) = exe_ns(&verified, &mut buf, runs);
            assert_eq!(rc, rv, "{name}: both modes compute the same result");
            println!("{name:<28} {c:>12.1} {v:>13.1} {:>7.2}x", c / v);
        }
    }
}
