//! Cost of firing an embedder hook, beyond the program itself.
//!
//! `cargo run --release -p oxbpf-runtime --example hook_bench`
//!
//! Rows: a direct `Executable::run` with a prepared context (the program alone), then
//! `Hook::fire` with 0, 1 and 4 programs attached. The "native" engine is a Rust
//! `Executable` that returns at once, so its rows are the hook's own overhead; the
//! interpreter runs the empty program `r0 = 0; exit`.

use oxbpf_runtime::hook::{Hook, HookOptions, Policy};
use oxbpf_runtime::hook_context;
use oxbpf_vm::{EngineKind, Executable, RunContext, RunOutcome, VmError};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

#[repr(C)]
#[derive(Default)]
struct Ctx {
    a: u64,
    b: u64,
    verdict: u32,
    pad: u32,
}

hook_context!(Ctx {
    a: read,
    b: read,
    verdict: write,
});

/// An empty program in native code: returns 0.
struct Native;

impl Executable for Native {
    fn run(&self, ctx: &mut RunContext<'_>) -> Result<RunOutcome, VmError> {
        Ok(RunOutcome {
            r0: black_box(ctx.args[0]).wrapping_sub(ctx.args[0]),
            insns_executed: None,
        })
    }
    fn engine(&self) -> EngineKind {
        EngineKind::Jit
    }
}

const N: u64 = 20_000_000;

fn time(label: &str, mut f: impl FnMut()) {
    for _ in 0..N / 10 {
        f();
    }
    let t = Instant::now();
    for _ in 0..N {
        f();
    }
    let ns = t.elapsed().as_nanos() as f64 / N as f64;
    println!("| {label} | {ns:.2} |");
}

/// `registers_only`: attach with `Hook::attach_registers_only` (the fast path for code
/// made for `Ctx`).
fn bench(engine: &str, exec: Arc<dyn Executable>, registers_only: bool) {
    let mut ctx = Ctx::default();
    {
        let exec = exec.clone();
        let c = &mut ctx;
        let _ = c;
        let mut buf = [0u8; 24];
        time(
            &format!("{engine}: `Executable::run`, context prepared per call"),
            || {
                let mut rc = RunContext::with_context(&mut buf);
                black_box(exec.run(&mut rc).unwrap());
            },
        );
        time("`RunContext::new()` alone", || {
            black_box(RunContext::new());
        });
    }
    for n in [0usize, 1, 4] {
        let hook: Hook<Ctx> = Hook::with_options(
            "bench",
            HookOptions {
                policy: Policy::Sum,
                ..Default::default()
            },
        )
        .unwrap();
        for _ in 0..n {
            if registers_only {
                // SAFETY: `main` passes `registers_only` only for the verified JIT code
                // below, made for `Ctx`: the empty program touches no memory, the filter
                // reads `a` and `b` and writes `verdict`, fields `Ctx` declares readable
                // and writable.
                unsafe { hook.attach_registers_only(exec.clone()) };
            } else {
                hook.attach(exec.clone());
            }
        }
        let c = &mut ctx;
        time(&format!("{engine}: `Hook::fire`, {n} program(s)"), || {
            black_box(hook.fire(c));
        });
    }
}

fn main() {
    println!("| what | ns/fire |");
    println!("| --- | ---: |");
    bench("native", Arc::new(Native), false);
    let empty = oxbpf_isa::assemble("r0 = 0\nexit").unwrap();
    bench(
        "interpreter",
        Arc::new(oxbpf_vm::Interpreter::new(&empty, &oxbpf_vm::Helpers::new()).unwrap()),
        false,
    );
    #[cfg(target_arch = "x86_64")]
    {
        use oxbpf_vm::jit::{JitOptions, JitProgram};
        let h = oxbpf_vm::Helpers::new();
        bench(
            "jit (checked)",
            Arc::new(JitProgram::compile(&empty, &h, &JitOptions::checked()).unwrap()),
            false,
        );
        // SAFETY: the empty program touches no memory: any run is within bounds.
        let empty_verified =
            unsafe { JitProgram::compile_verified(&empty, &h, &JitOptions::verified()) };
        bench("jit (verified)", Arc::new(empty_verified.unwrap()), true);
        // A filter reading two context fields and writing the verdict (verified code
        // reads the context without checks).
        let filter = oxbpf_isa::assemble(
            "r2 = *(u64 *)(r1 + 0)\nr3 = *(u64 *)(r1 + 8)\nr0 = 0\nif r2 > r3 goto +1\nr0 = 1\n*(u32 *)(r1 + 16) = r0\nexit",
        )
        .unwrap();
        // SAFETY: the filter reads the u64s at offsets 0 and 8 of `r1` and writes the u32
        // at 16: `Ctx`'s `a`, `b` and `verdict`. `bench` runs it only with `r1` = a `Ctx`
        // (through the hook, registers-only) or a 24-byte buffer (`Executable::run`).
        let filter_verified =
            unsafe { JitProgram::compile_verified(&filter, &h, &JitOptions::verified()) };
        bench(
            "jit (verified), context filter",
            Arc::new(filter_verified.unwrap()),
            true,
        );
    }
}
