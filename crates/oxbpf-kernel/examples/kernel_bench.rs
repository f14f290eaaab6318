//! What loading, attaching and detaching cost in the kernel backend.
//!
//! `cargo run --release -p oxbpf-kernel --example kernel_bench [-- ROUNDS]` (root, bpf()).
//!
//! Rows (medians of ROUNDS, 20 by default; wall-clock time):
//!
//! - `KernelObject::load` of the hello fixture (one tracepoint program, `.rodata`); the
//!   first load of the process is shown separately (it is where one-time costs land);
//! - that load plus `attach_tracepoint`, then dropping the object (detach, unload, close);
//! - a raw program (`load_raw`) on a tracepoint, a raw tracepoint and a uprobe: attach, and
//!   dropping the attachment;
//! - closing a bare tracepoint perf event (no program), the kernel's share of a detach.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oxbpf_isa::{AluOp, Insn, Operand, Program, Reg, Width};
use oxbpf_kernel::{attach, load_raw, KernelObject, LoadOptions, ProgType, UprobeTarget};

/// The probed function of the uprobe rows.
#[no_mangle]
#[inline(never)]
pub extern "C" fn oxbpf_bench_target(x: u64) -> u64 {
    std::hint::black_box(x).wrapping_add(1)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn show(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

fn trivial() -> Program {
    Program::from_insns(vec![
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::R0,
            src: Operand::Imm(0),
        },
        Insn::Exit,
    ])
    .expect("two valid instructions")
}

/// Times `setup` (returning something to drop), the drop, and then the wait until the
/// background thread has closed the perf events (so that rounds do not queue behind the
/// kernel's unregistration work), `rounds` times.
fn timed<T>(rounds: usize, mut setup: impl FnMut() -> T) -> (Duration, Duration, Duration) {
    let mut a = Vec::new();
    let mut d = Vec::new();
    let mut c = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let x = setup();
        a.push(t.elapsed());
        let t = Instant::now();
        drop(x);
        d.push(t.elapsed());
        let t = Instant::now();
        attach::wait_for_closes(Duration::from_secs(10));
        c.push(t.elapsed());
    }
    (median(a), median(d), median(c))
}

fn main() {
    if let Some(reason) = oxbpf_kernel::probe::bpf_unavailable() {
        println!("SKIP: {reason}");
        return;
    }
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let hello = std::fs::read(fixture("hello.o")).expect("hello.o");
    let uprobe = std::fs::read(fixture("uprobe.o")).expect("uprobe.o");
    println!("| what | time | drop | then closing perf events (background) |");
    println!("| --- | ---: | ---: | ---: |");

    let t = Instant::now();
    let first = KernelObject::load(&hello).expect("load");
    let first_load = t.elapsed();
    let t = Instant::now();
    drop(first);
    println!(
        "| first `KernelObject::load` of the process (hello.o) | {} | {} | - |",
        show(first_load),
        show(t.elapsed())
    );

    let (l, d, c) = timed(rounds, || KernelObject::load(&hello).expect("load"));
    println!(
        "| `KernelObject::load` (hello.o: 1 program, `.rodata`) | {} | {} | {} |",
        show(l),
        show(d),
        show(c)
    );

    let (l, d, c) = timed(rounds, || {
        let mut o = KernelObject::load(&hello).expect("load");
        let link = o
            .attach_tracepoint("hello_tp", "syscalls", "sys_enter_openat")
            .expect("attach");
        (link, o)
    });
    println!(
        "| load + `attach_tracepoint` (hello.o), then drop the object | {} | {} | {} |",
        show(l),
        show(d),
        show(c)
    );

    let exe = std::env::current_exe().expect("current exe");
    let target = UprobeTarget::symbol(&exe, "oxbpf_bench_target").pid(std::process::id());
    let (l, d, c) = timed(rounds, || {
        let mut o = KernelObject::load(&uprobe).expect("load");
        let link = o.attach_uprobe("uprobe_enter", &target).expect("attach");
        (link, o)
    });
    println!(
        "| load + `attach_uprobe` (uprobe.o, a function of this binary), then drop | {} | {} | {} |",
        show(l),
        show(d),
        show(c)
    );
    std::hint::black_box(oxbpf_bench_target as extern "C" fn(u64) -> u64)(1);

    let tp = load_raw(
        &trivial(),
        &LoadOptions::new(ProgType::Tracepoint).name("bench_tp"),
    )
    .expect("load tracepoint");
    let (l, d, c) = timed(rounds, || {
        attach::attach_tracepoint(&tp, "syscalls", "sys_enter_getppid").expect("attach")
    });
    println!(
        "| raw program: `attach::attach_tracepoint`, then drop the attachment | {} | {} | {} |",
        show(l),
        show(d),
        show(c)
    );

    const FOUR: [&str; 4] = [
        "sys_enter_getppid",
        "sys_enter_getpid",
        "sys_enter_gettid",
        "sys_enter_getuid",
    ];
    let four = || -> Vec<attach::Attachment> {
        FOUR.iter()
            .map(|n| attach::attach_tracepoint(&tp, "syscalls", n).expect("attach"))
            .collect()
    };
    let (l, d, c) = timed(rounds, || Sequential(four()));
    println!(
        "| raw program on 4 tracepoints, attachments dropped one after the other | {} | {} | {} |",
        show(l),
        show(d),
        show(c)
    );
    let (l, d, c) = timed(rounds, || Together(four()));
    println!(
        "| raw program on 4 tracepoints, `Attachment::detach_many` | {} | {} | {} |",
        show(l),
        show(d),
        show(c)
    );

    let raw = load_raw(
        &trivial(),
        &LoadOptions::new(ProgType::RawTracepoint).name("bench_raw"),
    )
    .expect("load raw tracepoint");
    let (l, d, c) = timed(rounds, || {
        attach::attach_raw_tracepoint(&raw, "sys_enter").expect("attach")
    });
    println!(
        "| raw program: `attach::attach_raw_tracepoint`, then drop | {} | {} | {} |",
        show(l),
        show(d),
        show(c)
    );
}

/// Attachments dropped one by one.
struct Sequential(Vec<attach::Attachment>);

impl Drop for Sequential {
    fn drop(&mut self) {
        for a in self.0.drain(..) {
            drop(a);
        }
    }
}

/// Attachments dropped together.
struct Together(Vec<attach::Attachment>);

impl Drop for Together {
    fn drop(&mut self) {
        attach::Attachment::detach_many(std::mem::take(&mut self.0));
    }
}
