//! Events from the kernel to user space: a ring buffer and a perf buffer fed by a
//! tracepoint program, and perf-event sampling on every CPU.

mod common;

use std::time::{Duration, Instant};

use common::*;
use oxbpf_kernel::{
    AttachTarget, FallbackPolicy, KernelObject, PerfRecord, PerfSampling, UpdateMode,
};

const N: u64 = 8;
const WAIT: Duration = Duration::from_secs(10);

fn load_for_this_thread() -> KernelObject {
    let obj = KernelObject::load_file(fixture("events.o")).unwrap();
    obj.map("config")
        .unwrap()
        .set(&0u32, &gettid(), UpdateMode::Any)
        .unwrap();
    obj
}

/// `(tid, kind, seq)` of an event record.
fn event(b: &[u8]) -> (u32, u32, u64) {
    assert!(b.len() >= 16, "{} bytes", b.len());
    (
        u32::from_ne_bytes(b[0..4].try_into().unwrap()),
        u32::from_ne_bytes(b[4..8].try_into().unwrap()),
        u64::from_ne_bytes(b[8..16].try_into().unwrap()),
    )
}

fn getpid_n(n: u64) {
    for _ in 0..n {
        std::hint::black_box(std::process::id());
    }
}

#[test]
fn ring_buffer_events_arrive_in_order() {
    require_bpf!();
    let mut obj = load_for_this_thread();
    let link = obj
        .attach_tracepoint("ring_getpid", "syscalls", "sys_enter_getpid")
        .unwrap();
    let mut ring = obj.ring_buffer("ring").unwrap();
    // Nothing yet.
    assert_eq!(ring.drain(100, |_| panic!("unexpected record")), 0);
    getpid_n(N);
    let tid = gettid();
    let mut got = Vec::new();
    let deadline = Instant::now() + WAIT;
    while (got.len() as u64) < N && Instant::now() < deadline {
        ring.poll(Duration::from_millis(200), 3, |r| got.push(event(r)))
            .unwrap();
    }
    assert_eq!(got.len() as u64, N);
    for (i, (t, kind, seq)) in got.iter().enumerate() {
        assert_eq!((*t, *kind, *seq), (tid, 1, i as u64));
    }
    assert_eq!(ring.records(), N);
    drop(link);
    getpid_n(1);
    assert!(!ring.wait(Duration::from_millis(50)).unwrap());
    let ids = obj.program_ids();
    drop(ring);
    drop(obj);
    assert_unloaded(&ids);
}

#[test]
fn perf_buffer_events_arrive_with_no_losses() {
    require_bpf!();
    let mut obj = load_for_this_thread();
    let mut perf = obj.perf_buffer("perf_events", 4).unwrap();
    let t = AttachTarget::parse("tracepoint:syscalls:sys_enter_getpid").unwrap();
    let attached = obj
        .attach("perf_getpid", &t, FallbackPolicy::Never)
        .unwrap();
    getpid_n(N);
    let tid = gettid();
    let mut seqs = Vec::new();
    let mut lost = 0;
    let deadline = Instant::now() + WAIT;
    while (seqs.len() as u64) < N && Instant::now() < deadline {
        perf.poll(Duration::from_millis(200), 64, |r| match r {
            PerfRecord::Sample { data, .. } => {
                let (t, kind, seq) = event(data);
                assert_eq!((t, kind), (tid, 2));
                seqs.push(seq);
            }
            PerfRecord::Lost { count, .. } => lost += count,
        })
        .unwrap();
    }
    // One thread may migrate between CPUs: order within each CPU only; all arrive.
    seqs.sort_unstable();
    assert_eq!(seqs, (0..N).collect::<Vec<_>>());
    assert_eq!(lost, 0);
    assert_eq!(perf.samples(), N);
    assert_eq!(perf.lost(), 0);
    assert!(perf.memory_bytes() >= 4096 * 5);
    let ids = obj.program_ids();
    drop(attached);
    drop(perf);
    drop(obj);
    assert_unloaded(&ids);
}

#[test]
fn perf_event_sampling_runs_on_every_cpu() {
    require_bpf!();
    let mut obj = KernelObject::load_file(fixture("events.o")).unwrap();
    let link = obj
        .attach_perf_event("count_samples", &PerfSampling::cpu_clock_hz(1000))
        .unwrap();
    let cpus = aya::util::online_cpus().unwrap();
    assert_eq!(link.targets().len(), cpus.len());
    assert_eq!(
        link.targets()[0],
        format!("perf:cpu-clock:1000 (cpu {})", cpus[0])
    );
    let samples = |obj: &KernelObject| {
        obj.map("counters")
            .unwrap()
            .get::<u32, u64>(&2)
            .unwrap()
            .unwrap()
    };
    // Burn CPU until samples arrive.
    let deadline = Instant::now() + WAIT;
    let mut x = 0u64;
    while samples(&obj) < 10 && Instant::now() < deadline {
        for i in 0..100_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
    }
    assert!(samples(&obj) >= 10, "{} samples", samples(&obj));
    drop(link);
    let ids = obj.program_ids();
    drop(obj);
    assert_unloaded(&ids);
}

#[test]
fn tp_btf_and_raw_tracepoints_see_this_threads_syscalls() {
    require_bpf!();
    let mut obj = load_for_this_thread();
    let hits = |obj: &KernelObject| {
        obj.map("counters")
            .unwrap()
            .get::<u32, u64>(&3)
            .unwrap()
            .unwrap()
    };
    for (program, target) in [
        ("btf_sys_enter", "tp_btf:sys_enter"),
        ("raw_sys_enter", "raw_tracepoint:sys_enter"),
    ] {
        let t = AttachTarget::parse(target).unwrap();
        let attached = obj.attach(program, &t, FallbackPolicy::Never).unwrap();
        assert_eq!(attached.link.targets(), [target]);
        let before = hits(&obj);
        getpid_n(N);
        // At least our getpid calls (the thread may make other syscalls too).
        assert!(hits(&obj) >= before + N, "{program}");
        drop(attached);
        let after = hits(&obj);
        getpid_n(N);
        assert_eq!(hits(&obj), after, "{program} counting after detach");
    }
    // A tp_btf program is bound to its tracepoint at load time.
    let e = obj.attach_tp_btf("btf_sys_enter", "sys_exit").unwrap_err();
    assert!(e.to_string().contains("is loaded for `sys_enter`"), "{e}");
    let e = obj
        .attach_raw_tracepoint("raw_sys_enter", "no_such_tracepoint")
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("raw tracepoint not found: no_such_tracepoint"),
        "{e}"
    );
    let ids = obj.program_ids();
    drop(obj);
    assert_unloaded(&ids);
}
