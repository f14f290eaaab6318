//! The `oxbpf::Bpf` library API on the kernel backend, and the same programs on both
//! backends giving the same results (root and bpf() needed; SKIP otherwise).

mod common;

use common::{comm_define, program, scratch_file, workload_named};
use oxbpf::{Backend, Bpf, ExitStatus};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

const UNLOAD_WAIT: Duration = Duration::from_secs(10);

fn assert_unloaded(ids: &[u32]) {
    assert!(!ids.is_empty());
    for id in ids {
        assert!(
            oxbpf_kernel::wait_unloaded(*id, UNLOAD_WAIT).unwrap(),
            "program {id} is still loaded"
        );
    }
}

fn kprobes_missing() -> bool {
    !oxbpf_kernel::probe::kprobes().is_supported()
}

#[test]
fn hello_world_on_the_openat_tracepoint() {
    require_kernel!();
    let w = workload_named("khello-tp");
    let f = scratch_file("khello-tp-input", b"k");
    let mut b = Bpf::builder()
        .kernel()
        .c_file(common::root().join("examples/hello.c"))
        .unwrap();
    assert_eq!(b.backend(), Backend::Kernel);
    let a = b
        .attach_tracepoint("syscalls:sys_enter_openat", "hello_world")
        .unwrap();
    assert_eq!(a.hooks, ["tracepoint:syscalls:sys_enter_openat"]);
    assert_eq!(a.notice, None);
    let fs = f.to_str().unwrap();
    let st = b
        .spawn([w.to_str().unwrap(), "o", fs, "o", fs, "x", "3"])
        .unwrap();
    assert_eq!(st, ExitStatus::Exited(3));
    let pid = b.stats().pid.unwrap() as u32;
    // The private trace instance gets every process's lines; this command's are ours.
    let mine: Vec<_> = b
        .trace_lines()
        .into_iter()
        .filter(|l| l.pid == pid)
        .collect();
    assert_eq!(mine.len(), 2, "{mine:?}");
    for l in &mine {
        assert_eq!(l.msg, "Hello, World!");
        assert_eq!(l.event, "bpf_trace_printk");
        assert_eq!(l.task, "khello-tp");
        common::assert_trace_shape(&l.line(), "khello-tp", pid, "Hello, World!");
    }
    let ids = b.kernel_program_ids();
    assert_eq!(ids.len(), 1);
    drop(b);
    assert_unloaded(&ids);
}

#[test]
fn bcc_hello_world_kprobe_falls_back_to_the_tracepoints() {
    require_kernel!();
    let w = workload_named("khello-kp");
    let mut b = Bpf::builder()
        .kernel()
        .c_file(common::root().join("examples/hello.c"))
        .unwrap();
    let a = b.attach_kprobe("do_sys_openat2", "hello_world").unwrap();
    if kprobes_missing() {
        let n = a.notice.unwrap();
        assert!(
            n.starts_with("kprobes are not available on this kernel (no kprobe PMU, no kprobe_events); attaching to tracepoints syscalls:sys_enter_openat, syscalls:sys_enter_openat2, syscalls:sys_enter_open and syscalls:sys_enter_creat instead (do_sys_openat2 implements openat, openat2, open and creat"),
            "{n}"
        );
        assert_eq!(a.hooks.len(), 4);
        assert_eq!(a.hooks[0], "tracepoint:syscalls:sys_enter_openat");
    }
    let st = b.spawn([w.to_str().unwrap(), "o", "/", "x", "0"]).unwrap();
    assert_eq!(st, ExitStatus::Exited(0));
    let pid = b.stats().pid.unwrap() as u32;
    let mine: Vec<_> = b
        .trace_fields()
        .into_iter()
        .filter(|l| l.pid == pid)
        .collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0].msg, "Hello, World!");
    let ids = b.kernel_program_ids();
    drop(b);
    assert_unloaded(&ids);
}

/// What one backend measured.
#[derive(Debug, PartialEq)]
struct Observed {
    exit: ExitStatus,
    opens: u64,
    read_total: u64,
    hist: Vec<u64>,
    ring: Vec<i64>,
    messages: Vec<String>,
    report_lines: usize,
}

fn observe(
    backend: Backend,
    engine: oxbpf::EngineKind,
    comm: &str,
    data: &std::path::Path,
) -> Observed {
    let w = workload_named(comm);
    let mut b = Bpf::builder()
        .backend(backend)
        .engine(engine)
        .build_options(comm_define(comm))
        .c_file(program("diff"))
        .unwrap();
    let attached = b.attach_auto().unwrap();
    assert_eq!(attached.len(), 2);
    let want = match (backend, engine) {
        (Backend::Kernel, _) => "kernel",
        (_, oxbpf::EngineKind::Jit) => "jit, verified",
        _ => "interp, verified",
    };
    assert!(attached.iter().all(|a| a.mode == want), "{attached:?}");
    let ring: Rc<RefCell<Vec<i64>>> = Rc::default();
    let r = ring.clone();
    b.open_ring_buffer("reads", move |d| {
        r.borrow_mut()
            .push(i64::from_ne_bytes(d[..8].try_into().unwrap()))
    })
    .unwrap();
    let ds = data.to_str().unwrap();
    let exit = b
        .spawn([
            w.to_str().unwrap(),
            "o",
            ds,
            "r",
            ds,
            "5000",
            "o",
            "/nonexistent",
            "r",
            ds,
            "17",
            "x",
            "4",
        ])
        .unwrap();
    let pid = b.stats().pid.unwrap() as u32;
    b.poll(Duration::from_millis(100));
    let opens = b
        .map("opens")
        .unwrap()
        .get::<u32, u64>(&pid)
        .unwrap()
        .unwrap_or(0);
    let read_total = b
        .map("read_total")
        .unwrap()
        .get::<u32, u64>(&0)
        .unwrap()
        .unwrap();
    let hist = b.map("read_hist").unwrap().hist_slots().unwrap();
    let messages = b
        .trace_fields()
        .into_iter()
        .filter(|f| f.pid == pid)
        .map(|f| f.msg)
        .collect();
    let report_lines = b.maps_report().unwrap().lines().count();
    let ring = ring.borrow().clone();
    Observed {
        exit,
        opens,
        read_total,
        hist,
        ring,
        messages,
        report_lines,
    }
}

#[test]
fn same_object_same_results_in_the_kernel_and_in_userspace() {
    require_kernel!();
    let data = scratch_file("diff-data", &[1u8; 6000]);
    let interp = oxbpf::EngineKind::Interpreter;
    let user = observe(Backend::Userspace, interp, "diff-user", &data);
    // The JIT runs the verified programs as its verified code.
    let jit = observe(
        Backend::Userspace,
        oxbpf::EngineKind::Jit,
        "diff-jit",
        &data,
    );
    let kernel = observe(Backend::Kernel, interp, "diff-kern", &data);
    // 4096 + 904 from the first read, 17 from the second.
    // Each `r` opens the file too.
    assert_eq!(user.opens, 4);
    assert_eq!(user.read_total, 5017);
    assert_eq!(user.ring, [4096, 904, 17]);
    assert_eq!(user.exit, ExitStatus::Exited(4));
    assert_eq!(user.messages, ["openat flags 0"; 4]);
    assert_eq!(user, kernel);
    assert_eq!(jit, kernel);
}

#[test]
fn kernel_maps_and_typed_access() {
    require_kernel!();
    let mut b = Bpf::builder().kernel().c_file(program("opens")).unwrap();
    let m = b.map("opens").unwrap();
    assert_eq!(m.type_name(), "hash");
    assert_eq!(
        (m.key_size(), m.value_size(), m.max_entries()),
        (4, 8, 1024)
    );
    m.set::<u32, u64>(&7, &70).unwrap();
    assert_eq!(m.get::<u32, u64>(&7).unwrap(), Some(70));
    assert_eq!(m.iter::<u32, u64>().unwrap(), vec![(7, 70)]);
    assert!(m.delete(&7u32.to_ne_bytes()).unwrap());
    assert!(!m.delete(&7u32.to_ne_bytes()).unwrap());
    let e = b.map("nope").unwrap_err();
    assert!(e.to_string().starts_with("no map named `nope`"), "{e}");
    // Perf buffers open on every CPU.
    b.open_perf_buffer("perf_events", 4, |_| {}).unwrap();
    let e = b.open_perf_buffer("perf_events", 3, |_| {}).unwrap_err();
    assert!(e.to_string().contains("not a power of two"), "{e}");
    b.attach_auto().unwrap();
    let w = workload_named("kmaps");
    b.spawn([w.to_str().unwrap(), "o", "/"]).unwrap();
    let pid = b.stats().pid.unwrap() as u32;
    assert_eq!(
        b.map("opens").unwrap().get::<u32, u64>(&pid).unwrap(),
        Some(1)
    );
    let ids = b.kernel_program_ids();
    drop(b);
    assert_unloaded(&ids);
}

#[test]
fn verifier_rejections_come_back_summarised() {
    require_kernel!();
    // Reads a map value without checking the lookup's result.
    let src = "struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } m SEC(\".maps\");\n\
               int f(void *ctx) {\n  __u32 k = 0;\n  __u64 *v = bpf_map_lookup_elem(&m, &k);\n  return *v;\n}\n";
    let mut b = Bpf::builder().kernel().c_source(src).unwrap();
    let e = b
        .attach_tracepoint("syscalls:sys_enter_getpid", "f")
        .unwrap_err();
    assert!(e.is_rejection(), "{e}");
    let s = e.summary();
    assert!(
        s.starts_with("the kernel verifier rejected program `f` (Permission denied"),
        "{s}"
    );
    assert!(s.contains("\n  at prog.c:5:"), "{s}");
    assert!(s.contains("return *v;"), "{s}");
    assert!(e.verifier_log().unwrap().contains("R0 invalid mem access"));
}

/// The function the BCC-style uprobe test probes: not inlined, exported by name.
#[no_mangle]
#[inline(never)]
pub extern "C" fn oxbpf_facade_uprobe_target(x: u64) -> u64 {
    std::hint::black_box(x).wrapping_mul(5).wrapping_add(2)
}

/// BCC-style functions (plain `.text` functions, no section) counting calls, summing the
/// first argument and the return value.
const UPROBE_COUNTERS: &str = r#"
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} stats SEC(".maps");

static void add(__u32 slot, __u64 v)
{
    __u64 *p = bpf_map_lookup_elem(&stats, &slot);
    if (p)
        __sync_fetch_and_add(p, v);
}

int on_call(struct pt_regs *ctx)
{
    add(0, 1);
    add(1, PT_REGS_PARM1(ctx));
    return 0;
}

int on_return(struct pt_regs *ctx)
{
    add(2, 1);
    add(3, PT_REGS_RC(ctx));
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
"#;

#[test]
fn bcc_style_functions_on_a_uprobe_and_a_uretprobe() {
    require_kernel!();
    if !oxbpf_kernel::probe::uprobes().is_supported() {
        println!("SKIP: no uprobes on this kernel");
        return;
    }
    let mut b = Bpf::builder().kernel().c_source(UPROBE_COUNTERS).unwrap();
    let exe = std::env::current_exe().unwrap();
    let exe = exe.to_str().unwrap();
    let a = b
        .attach_uprobe(exe, "oxbpf_facade_uprobe_target", "on_call")
        .unwrap();
    assert_eq!(
        a.hooks,
        [format!("uprobe:{exe}:oxbpf_facade_uprobe_target")]
    );
    assert_eq!(a.notice, None);
    b.attach_uretprobe(exe, "oxbpf_facade_uprobe_target", "on_return")
        .unwrap();
    let f: extern "C" fn(u64) -> u64 = std::hint::black_box(oxbpf_facade_uprobe_target);
    let args = [3u64, 30, 300, 3000];
    let rets: u64 = args.iter().map(|&x| f(x)).sum();
    let m = b.map("stats").unwrap();
    let get = |i: u32| m.get::<u32, u64>(&i).unwrap().unwrap();
    assert_eq!(get(0), args.len() as u64, "calls");
    assert_eq!(get(2), args.len() as u64, "returns");
    if cfg!(target_arch = "x86_64") {
        assert_eq!(get(1), args.iter().sum::<u64>(), "sum of arguments");
        assert_eq!(get(3), rets, "sum of return values");
    }
    // Both were loaded as kprobe programs (the kernel's type for uprobes), once each.
    let ids = b.kernel_program_ids();
    assert_eq!(ids.len(), 2);
    for id in &ids {
        let info = oxbpf_kernel::program_info(*id).unwrap().unwrap();
        assert_eq!(info.prog_type, Some(oxbpf_kernel::ProgType::Kprobe));
    }
    // Detached: no more counting.
    assert_eq!(b.detach("on_call").unwrap(), 1);
    f(1);
    assert_eq!(get(0), args.len() as u64);
    assert_eq!(get(2), args.len() as u64 + 1);
    drop(b);
    assert_unloaded(&ids);
}

#[test]
fn bcc_style_function_on_a_kprobe_where_kprobes_are_missing() {
    require_kernel!();
    let reason = match oxbpf_kernel::fallback::kprobe_unavailable_reason() {
        Some(r) => r,
        None => {
            println!("SKIP: this kernel has kprobes (the raw kprobe attach is used instead)");
            return;
        }
    };
    // Without fallback: the exact error, naming the alternative.
    let mut b = Bpf::builder()
        .kernel()
        .fallback(oxbpf::FallbackPolicy::Never)
        .c_file(common::root().join("examples/hello.c"))
        .unwrap();
    let e = b
        .attach_kprobe("do_sys_openat2", "hello_world")
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("kprobes are not available on this kernel (no kprobe PMU, no kprobe_events)"),
        "{text}"
    );
    assert!(text.contains(&reason), "{text}");
    assert!(text.contains("syscalls:sys_enter_openat"), "{text}");
    assert!(
        b.kernel_program_ids().is_empty(),
        "nothing loaded for a refused attach"
    );
    // With it: the tracepoints (bcc_hello_world_kprobe_falls_back_to_the_tracepoints).
}
