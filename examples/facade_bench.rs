//! The facade's costs on both backends: load-and-attach time per program, and records per
//! second through a ring buffer.
//!
//! `cargo run --release -p oxbpf --example facade_bench [-- --kernel-only | --user-only]`
//! (root for the kernel rows; clang for the C programs and the workload).
//!
//! - load + attach: `Bpf` from an object file (parse, maps, programs prepared or loaded)
//!   plus `attach_auto`/`attach_tracepoint`; then the time of dropping it (detach,
//!   unload, close); medians of 20.
//! - ring buffer: a program on `syscalls:sys_enter_getppid` writes 64 records of 64 bytes
//!   per call into a 16 MiB ring; a static workload calls getppid 2,000 times (userspace: under the tracer;
//!   kernel: a child process). Records are read with `open_ring_buffer` callbacks; the rate
//!   is records delivered over the wall time of the run (the kernel's includes the
//!   reader's polling, the userspace one the tracer's stops).

use oxbpf::Bpf;
use oxbpf_runtime::hook::Hook;
use oxbpf_runtime::hook_context;
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

const RING: &str = r#"
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} records SEC(".maps");

struct rec { __u64 seq; __u64 pad[7]; };

SEC("tracepoint/syscalls/sys_enter_getppid")
int burst(void *ctx)
{
	struct rec r = {};
	for (int i = 0; i < 64; i++) {
		r.seq = i;
		bpf_ringbuf_output(&records, &r, sizeof(r), 0);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
"#;

const CALLS: u32 = 2000;

/// An embedder hook's context and a C filter over it.
#[repr(C)]
#[derive(Default)]
struct Req {
    a: u64,
    b: u64,
    verdict: u32,
    calls: u32,
}

hook_context!(Req {
    a: read,
    b: read,
    verdict: write,
    calls: write,
});

const FILTER: &str = "struct req { __u64 a, b; __u32 verdict, calls; };
int filter(struct req *r) { r->verdict = r->a > r->b; r->calls += 1; return r->a; }";

/// ns per `Hook::fire` of the filter loaded with `builder` (one program attached with
/// `Bpf::attach_hook`: verified code without helper calls runs from its registers).
fn hook_ns(builder: oxbpf::BpfBuilder) -> (f64, &'static str) {
    let mut b = builder.c_source(FILTER).unwrap();
    let mode = b.hook_program::<Req>("filter").unwrap().mode();
    let hook: Hook<Req> = Hook::new("bench").unwrap();
    b.attach_hook(&hook, "filter").unwrap();
    let mut req = Req::default();
    const N: u32 = 5_000_000;
    for _ in 0..N / 10 {
        std::hint::black_box(hook.fire(&mut req));
    }
    let t = Instant::now();
    for i in 0..N {
        req.a = i as u64;
        std::hint::black_box(hook.fire(&mut req));
    }
    (t.elapsed().as_nanos() as f64 / N as f64, mode)
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn workload() -> PathBuf {
    let out = std::env::temp_dir().join(format!("oxbpf-bench-sysw-{}", std::process::id()));
    let clang = oxbpf_obj::build::find_clang(&Default::default())
        .expect("clang")
        .0;
    let st = Command::new(clang)
        .args(["-O2", "-static", "-nostdlib", "-fno-stack-protector", "-o"])
        .arg(&out)
        .arg(root().join("crates/oxbpf/tests/workloads/sys.c"))
        .status()
        .unwrap();
    assert!(st.success());
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median load + attach time and median drop (detach, unload) time.
fn load_attach(kernel: bool, obj: &Path, attach: &dyn Fn(&mut Bpf)) -> (Duration, Duration) {
    let mut times = Vec::new();
    let mut drops = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let b = if kernel {
            Bpf::builder().kernel()
        } else {
            Bpf::builder()
        };
        let mut b = b.object_file(obj).unwrap();
        attach(&mut b);
        times.push(t.elapsed());
        let t = Instant::now();
        drop(b);
        drops.push(t.elapsed());
    }
    (median(times), median(drops))
}

fn ring(kernel: bool, w: &Path, obj: &[u8]) -> (f64, u64) {
    let b = if kernel {
        Bpf::builder().kernel()
    } else {
        Bpf::builder()
    };
    let mut b = b.object(obj).unwrap();
    b.attach_auto().unwrap();
    let n = Rc::new(Cell::new(0u64));
    let c = n.clone();
    b.open_ring_buffer("records", move |_| c.set(c.get() + 1))
        .unwrap();
    let t = Instant::now();
    b.spawn([w.to_str().unwrap(), "g", &CALLS.to_string()])
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    // The kernel counts every process's getppid; this run's share is what matters.
    (n.get() as f64 / secs, n.get())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let user = !args.iter().any(|a| a == "--kernel-only");
    let kernel = !args.iter().any(|a| a == "--user-only")
        && oxbpf_kernel::probe::bpf_unavailable().is_none();
    let mut backends = Vec::new();
    if user {
        backends.push(false);
    }
    if kernel {
        backends.push(true);
    }
    let hello = root().join("examples/hello.o");
    let opensnoop = root().join("examples/tools/opensnoop.o");
    let syscount = root().join("examples/tools/syscount.o");
    println!("| what | userspace | kernel |");
    println!("| --- | ---: | ---: |");
    let row = |label: &str, f: &dyn Fn(bool) -> String| {
        let cells: Vec<String> = [false, true]
            .iter()
            .map(|&k| {
                if backends.contains(&k) {
                    f(k)
                } else {
                    "-".into()
                }
            })
            .collect();
        println!("| {label} | {} | {} |", cells[0], cells[1]);
    };
    let us = |(a, d): (Duration, Duration)| {
        format!(
            "{:.0} µs (drop {:.0} µs)",
            a.as_secs_f64() * 1e6,
            d.as_secs_f64() * 1e6
        )
    };
    row("hello.o: load + attach_tracepoint (1 program)", &|k| {
        us(load_attach(k, &hello, &|b| {
            b.attach_tracepoint("syscalls:sys_enter_openat", "hello_world")
                .unwrap();
        }))
    });
    row(
        "hello.o: load + attach_kprobe (kernel: fallback to 4 tracepoints)",
        &|k| {
            us(load_attach(k, &hello, &|b| {
                b.attach_kprobe("do_sys_openat2", "hello_world").unwrap();
            }))
        },
    );
    row(
        "opensnoop.o: load + attach_auto (4 programs, 3 maps)",
        &|k| {
            us(load_attach(k, &opensnoop, &|b| {
                b.attach_auto().unwrap();
            }))
        },
    );
    row(
        "syscount.o: load + attach_auto (2 programs, 4 maps)",
        &|k| {
            us(load_attach(k, &syscount, &|b| {
                b.attach_auto().unwrap();
            }))
        },
    );
    for (label, builder) in [
        (
            "hook_program filter on `Hook::fire`, JIT (verified code, from registers)",
            Bpf::builder().engine(oxbpf::EngineKind::Jit),
        ),
        (
            "hook_program filter on `Hook::fire`, JIT unverified (checked)",
            Bpf::builder().engine(oxbpf::EngineKind::Jit).unverified(),
        ),
        (
            "hook_program filter on `Hook::fire`, interpreter",
            Bpf::builder().engine(oxbpf::EngineKind::Interpreter),
        ),
    ] {
        let (ns, mode) = hook_ns(builder);
        println!("| {label} [{mode}] | {ns:.1} ns/fire | - |");
    }
    let w = workload();
    let obj = oxbpf_obj::build::compile_c_source(RING, "ring.c", &Default::default()).unwrap();
    row(
        &format!("ring buffer: records/s (64-byte records, 64 per getppid, {CALLS} calls)"),
        &|k| {
            let (rate, n) = ring(k, &w, &obj);
            format!("{:.2} M ({n} records)", rate / 1e6)
        },
    );
    let _ = std::fs::remove_file(w);
}
