//! JIT measurements (a benchmark, not a test):
//!
//! - the cost of one run of an empty program (`r0 = 0; exit`);
//! - compile throughput on a large generated program;
//! - loop-heavy programs from `examples/bench/loops.c`, compiled by clang for BPF and run
//!   by oxbpf's JIT and by the kernel (`BPF_PROG_TEST_RUN`, its JIT), and compiled natively
//!   by clang -O2 for reference.
//!
//! `cargo run --release -p oxbpf-testgen --example jit_bench`

use oxbpf_isa::{AluOp, Insn, Operand, Program, Reg, Width};
use oxbpf_vm::jit::{JitOptions, JitProgram};
use oxbpf_vm::{Executable, Helpers, RunContext};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Time per call of `f`: the minimum over many short batches of `iters / 100` calls (short
/// batches are rarely preempted on a busy machine; the minimum discards the ones that were).
fn ns_per(iters: u64, f: impl FnMut()) -> f64 {
    let mut f = f;
    for _ in 0..iters / 10 + 1 {
        f();
    }
    let batch = (iters / 100).max(1);
    let mut best = f64::MAX;
    for _ in 0..300 {
        let t = Instant::now();
        for _ in 0..batch {
            f();
        }
        best = best.min(t.elapsed().as_nanos() as f64 / batch as f64);
    }
    best
}

fn empty_run() {
    let prog = Program::from_insns(vec![
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::R0,
            src: Operand::Imm(0),
        },
        Insn::Exit,
    ])
    .unwrap();
    for (name, opts) in [
        ("verified", JitOptions::verified()),
        ("checked+budget", JitOptions::checked()),
    ] {
        // SAFETY: `r0 = 0; exit` touches no memory.
        let jit = unsafe { JitProgram::compile_verified(&prog, &Helpers::new(), &opts) }.unwrap();
        let mut ctx = RunContext::new();
        let mut acc = 0u64;
        let ns = ns_per(20_000_000, || {
            if let Ok(o) = jit.run(&mut ctx) {
                acc = acc.wrapping_add(o.r0);
            }
        });
        black_box(acc);
        println!("empty program, Executable::run, {name:15} {ns:6.2} ns/run");
    }
    // The floor: an indirect call of `xor eax, eax; ret` through a function pointer.
    let code: [u8; 3] = [0x31, 0xc0, 0xc3];
    let buf = oxbpf_vm::jit::buffer::CodeBuffer::new(&code).unwrap();
    // SAFETY: the buffer holds `xor eax, eax; ret`, a valid function of this type.
    let f: extern "sysv64" fn() -> u64 = unsafe { std::mem::transmute(buf.addr()) };
    let mut acc = 0u64;
    let ns = ns_per(20_000_000, || acc = acc.wrapping_add(black_box(f)()));
    black_box(acc);
    println!("empty program, raw indirect call (floor)     {ns:6.2} ns/run");
}

fn compile_speed() {
    // Straight-line ALU/memory code plus branches, 1M instructions.
    let cfg = oxbpf_testgen::Config {
        max_stmts: 400,
        max_funcs: 0,
        ..oxbpf_testgen::Config::vm()
    };
    let mut insns = Vec::new();
    let mut slots = 0;
    let mut seed = 0;
    loop {
        let c = oxbpf_testgen::TestCase::generate(seed, &cfg);
        let mut body = c.insns();
        body.pop(); // drop the exit: the pieces run one after another
        let n: usize = body.iter().map(|i| i.slots()).sum();
        if slots + n + 1 > oxbpf_isa::MAX_SLOTS {
            break;
        }
        slots += n;
        insns.extend(body);
        seed += 1;
    }
    insns.push(Insn::Exit);
    let prog = match Program::from_insns(insns) {
        Ok(p) => p,
        Err(e) => {
            println!("compile speed: cannot build the program: {e}");
            return;
        }
    };
    for (name, opts) in [
        ("verified", JitOptions::verified()),
        ("checked", JitOptions::checked()),
    ] {
        // Best of five (the machine is shared).
        let mut s = f64::MAX;
        let mut jit = None;
        for _ in 0..5 {
            let t = Instant::now();
            // SAFETY: the code is only compiled and measured, never run.
            let j = unsafe {
                JitProgram::compile_verified(&prog, &oxbpf_testgen::run::test_helpers(), &opts)
            }
            .unwrap();
            s = s.min(t.elapsed().as_secs_f64());
            jit = Some(j);
        }
        let Some(jit) = jit else { return };
        println!(
            "compile {:7} instructions ({name:8}): {:6.1} ms, {:5.1} M insns/s, {} bytes of code",
            prog.len(),
            s * 1e3,
            prog.len() as f64 / s / 1e6,
            jit.code().len()
        );
    }
}

fn tool(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn loops() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/bench/loops.c");
    if !tool("clang") || !tool("llvm-objcopy") {
        println!("loops: SKIP (clang or llvm-objcopy missing)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("oxbpf-jit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let obj = dir.join("loops.bpf.o");
    let so = dir.join("loops.so");
    let ok = Command::new("clang")
        .args(["-O2", "-target", "bpf", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new("clang")
            .args(["-O2", "-shared", "-fPIC"])
            .arg(&src)
            .arg("-o")
            .arg(&so)
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        println!("loops: SKIP (clang failed)");
        return;
    }
    // SAFETY: dlopen of the library just built from our own source; the handle is kept
    // for the rest of the process.
    let lib = unsafe {
        let p = std::ffi::CString::new(so.to_string_lossy().as_bytes()).unwrap();
        libc::dlopen(p.as_ptr(), libc::RTLD_NOW)
    };
    for name in ["xorshift", "stack_array", "collatz"] {
        let bin = dir.join(format!("{name}.bin"));
        let st = Command::new("llvm-objcopy")
            .args(["-O", "binary", &format!("--only-section=xdp/{name}")])
            .arg(&obj)
            .arg(&bin)
            .status();
        if !st.is_ok_and(|s| s.success()) {
            println!("{name}: SKIP (objcopy)");
            continue;
        }
        let bytes = std::fs::read(&bin).unwrap();
        let prog = Program::decode(&bytes).unwrap();
        // SAFETY: the loops.c functions compute on their own stack frame alone and never
        // read their context (the runs below give none); the kernel's verifier accepts
        // them (the kernel rows).
        let jit = unsafe {
            JitProgram::compile_verified(&prog, &Helpers::new(), &JitOptions::verified())
        }
        .unwrap();
        let checked = JitProgram::compile(&prog, &Helpers::new(), &JitOptions::checked()).unwrap();
        let mut ctx = RunContext::new();
        let r_jit = jit.run(&mut ctx).unwrap().r0;
        let t_jit = ns_per(1000, || {
            black_box(jit.run(black_box(&mut ctx)).unwrap());
        });
        let t_chk = ns_per(1000, || {
            black_box(checked.run(black_box(&mut ctx)).unwrap());
        });
        let native = if lib.is_null() {
            None
        } else {
            let sym = std::ffi::CString::new(name).unwrap();
            // SAFETY: looks up a function of the library loaded above.
            let f = unsafe { libc::dlsym(lib, sym.as_ptr()) };
            (!f.is_null()).then(|| {
                // SAFETY: the symbol is `u64 name(void *)` from loops.c.
                unsafe {
                    std::mem::transmute::<*mut libc::c_void, extern "C" fn(*mut u8) -> u64>(f)
                }
            })
        };
        let (r_nat, t_nat) = match native {
            Some(f) => (
                Some(f(std::ptr::null_mut())),
                Some(ns_per(1000, || {
                    black_box(f(black_box(std::ptr::null_mut())));
                })),
            ),
            None => (None, None),
        };
        let kernel = kernel_time(&bytes);
        print!("{name:12} oxbpf JIT {t_jit:9.0} ns (checked {t_chk:9.0} ns)",);
        if let Some(t) = t_nat {
            print!("  native clang -O2 {t:9.0} ns ({:.3}x)", t_jit / t);
        }
        match kernel {
            Some((t, r)) => print!(
                "  kernel JIT {t:9.0} ns ({:.3}x){}",
                t_jit / t,
                if r as u64 == r_jit {
                    ""
                } else {
                    " RESULT DIFFERS"
                }
            ),
            None => print!("  kernel: n/a"),
        }
        if let Some(r) = r_nat {
            if r != r_jit {
                print!("  NATIVE RESULT DIFFERS {r:#x} vs {r_jit:#x}");
            }
        }
        println!();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Mean duration per run reported by `BPF_PROG_TEST_RUN` (XDP), and the return value.
fn kernel_time(bytes: &[u8]) -> Option<(f64, u32)> {
    use oxbpf_kernel::{load_raw, test_run, LoadOptions, ProgType, TestRunInput};
    if oxbpf_kernel::probe::bpf_unavailable().is_some() {
        return None;
    }
    let prog = load_raw(bytes, &LoadOptions::new(ProgType::Xdp).name("jit_bench")).ok()?;
    let pkt = [0u8; 64];
    let input = TestRunInput {
        repeat: 2000,
        ..TestRunInput::packet(&pkt)
    };
    let mut best = f64::MAX;
    let mut ret = 0;
    for _ in 0..5 {
        let out = test_run(&prog, &input).ok()?;
        best = best.min(out.duration_ns as f64);
        ret = out.retval;
    }
    // Subtract the kernel's per-run overhead measured on an empty XDP program.
    let empty = load_raw(
        &[0xb7u8, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0][..],
        &LoadOptions::new(ProgType::Xdp).name("jit_bench0"),
    )
    .ok()?;
    let mut base = f64::MAX;
    for _ in 0..5 {
        base = base.min(test_run(&empty, &input).ok()?.duration_ns as f64);
    }
    Some((best - base, ret))
}

fn main() {
    let what: Vec<String> = std::env::args().skip(1).collect();
    let all = what.is_empty();
    if all || what.iter().any(|w| w == "empty") {
        empty_run();
    }
    if all || what.iter().any(|w| w == "loops") {
        loops();
    }
    if all || what.iter().any(|w| w == "compile") {
        compile_speed();
    }
    let _ = Path::new(".");
}
