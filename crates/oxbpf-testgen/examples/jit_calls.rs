//! Cost of calls out of JIT code (a benchmark, not a test): a helper call, a helper call
//! followed by a read of memory the run was given (the region caches), a callback made by
//! a helper (`bpf_loop`-style), and a tail call. Each program loops 1,000 times around
//! the operation; the time of the same loop without it is subtracted, so the figures are
//! the operation alone. Minimum over short batches (robust to the shared machine's load).
//!
//! `cargo run --release -p oxbpf-testgen --example jit_calls`
//! (`valgrind --tool=callgrind target/release/examples/jit_calls --once NAME` counts
//! instructions of one row.)

use oxbpf_isa::asm::assemble;
use oxbpf_vm::jit::{JitOptions, JitProgram};
use oxbpf_vm::{Executable, HelperCtx, Helpers, RunContext};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

const N: u64 = 1000;

fn ns_per_run(exe: &dyn Executable, mem: &mut [u8], budget: Option<u64>) -> f64 {
    let mut ctx = RunContext::with_memory(mem).with_budget(budget);
    for _ in 0..20 {
        black_box(exe.run(&mut ctx).map(|o| o.r0).unwrap_or(0));
    }
    // Batches of about 20 us.
    let t = Instant::now();
    black_box(exe.run(&mut ctx).map(|o| o.r0).unwrap_or(0));
    let batch = (20_000 / t.elapsed().as_nanos().max(1)).clamp(1, 10_000) as u32;
    let mut best = f64::MAX;
    for _ in 0..200 {
        let t = Instant::now();
        for _ in 0..batch {
            black_box(exe.run(&mut ctx).map(|o| o.r0).unwrap_or(0));
        }
        best = best.min(t.elapsed().as_nanos() as f64 / batch as f64);
    }
    best
}

fn looped(body: &str) -> String {
    format!(
        "
        r6 = 0
        r7 = r1
    loop:
{body}
        r6 += 1
        if r6 < {N} goto loop
        r0 = r6
        exit
    cb:
        r0 = 0
        exit
    "
    )
}

fn helpers(target: Arc<dyn Executable>) -> Helpers {
    let mut h = Helpers::new();
    h.register(1, "identity", |_: &mut HelperCtx<'_>, a| Ok(a[0]));
    h.register(2, "loop1", |ctx: &mut HelperCtx<'_>, a| {
        ctx.call_function(a[1], [0, 0, 0, 0, 0])
    });
    h.register(3, "tail", move |ctx: &mut HelperCtx<'_>, a| {
        ctx.tail_call(target.clone(), a[0]);
        Ok(0)
    });
    h
}

fn main() {
    let once = std::env::args().skip_while(|a| a != "--once").nth(1);
    let target = {
        let p = assemble("r0 = r1\nexit\n").unwrap();
        // SAFETY: `r0 = r1; exit` touches no memory.
        Arc::new(
            unsafe { JitProgram::compile_verified(&p, &Helpers::new(), &JitOptions::verified()) }
                .unwrap(),
        ) as Arc<dyn Executable>
    };
    let h = helpers(target);
    let rows: [(&str, String); 7] = [
        // Whole runs (not per loop iteration): the cost of entering the program.
        ("run: r0 = 0 (whole run)", "r0 = 0\nexit\n".to_string()),
        (
            "run: one load from the input (whole run)",
            "r0 = *(u8 *)(r1 + 0)\nexit\n".to_string(),
        ),
        ("empty loop", looped("")),
        ("helper call", looped("        r1 = r6\n        call 1")),
        (
            "helper call + read of the input",
            looped("        r1 = r6\n        call 1\n        r2 = *(u8 *)(r7 + 0)"),
        ),
        (
            "callback (helper calling a function)",
            looped("        r2 = func(cb) ll\n        call 2"),
        ),
        // A tail call ends the program: one per run, the loop runs once.
        (
            "tail call (whole run)",
            "r1 = 5\ncall 3\nexit\n".to_string(),
        ),
    ];
    let mut mem = vec![0u8; 64];
    let mut base = [0.0f64; 2];
    println!("| operation | checked ns | verified ns |\n| --- | ---: | ---: |");
    for (name, src) in &rows {
        if once.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let prog = assemble(src).unwrap();
        let mut cols = Vec::new();
        for (k, opts) in [JitOptions::checked(), JitOptions::verified()]
            .iter()
            .enumerate()
        {
            // SAFETY: the rows read only the first byte of the input (`r1`, kept in `r7`)
            // and their stack; every run below grants `mem` (64 bytes) as that input, and
            // the helpers above return scalars and run the tail-call target (no memory).
            let jit = unsafe { JitProgram::compile_verified(&prog, &h, opts) }.unwrap();
            if std::env::var_os("JIT_CALLS_LISTING").is_some() {
                eprintln!(
                    "{name} {:?}:\n{}",
                    opts.mode,
                    jit.listing(&prog, |_, _, i| oxbpf_isa::disasm::format_insn(
                        i,
                        oxbpf_isa::Syntax::Llvm
                    ))
                );
            }
            if once.is_some() {
                let mut ctx = RunContext::with_memory(&mut mem);
                let n = if name.contains("whole run") {
                    1_000_000
                } else {
                    1000
                };
                for _ in 0..n {
                    black_box(jit.run(&mut ctx).map(|o| o.r0).unwrap_or(0));
                }
                continue;
            }
            let ns = ns_per_run(&jit, &mut mem, None);
            let per = if *name == "empty loop" {
                base[k] = ns;
                ns / N as f64
            } else if name.contains("whole run") {
                ns
            } else {
                (ns - base[k]) / N as f64
            };
            cols.push(format!("{per:.2}"));
        }
        if once.is_none() {
            println!("| {name} | {} | {} |", cols[0], cols[1]);
        }
    }
}
