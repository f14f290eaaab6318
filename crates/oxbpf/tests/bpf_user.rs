//! The `oxbpf::Bpf` library API on the userspace backend: real commands under the tracer,
//! exact trace lines and map contents.

mod common;

use common::{assert_trace_shape, program, scratch_file, workload, WORKLOAD_COMM};
use oxbpf::{AttachTarget, Bpf, BpfError, ExitStatus, FallbackPolicy, PerfEvent};
use std::cell::RefCell;
use std::rc::Rc;

fn hello() -> std::path::PathBuf {
    common::root().join("examples/hello.c")
}

#[test]
fn bcc_hello_world_through_the_kprobe() {
    require_clang!();
    let f = scratch_file("hello-input", b"x");
    let mut b = Bpf::from_c_file(hello()).unwrap();
    assert_eq!(b.program_names(), ["hello_world"]);
    let a = b.attach_kprobe("do_sys_openat2", "hello_world").unwrap();
    assert_eq!(a.target, "kprobe:do_sys_openat2");
    assert_eq!(
        a.hooks,
        [
            "tracepoint:syscalls:sys_enter_openat",
            "tracepoint:syscalls:sys_enter_openat2",
            "tracepoint:syscalls:sys_enter_open",
            "tracepoint:syscalls:sys_enter_creat"
        ]
    );
    assert_eq!(
        a.notice.as_deref(),
        Some("kprobe:do_sys_openat2 runs in userspace on the system call hooks tracepoint:syscalls:sys_enter_openat, tracepoint:syscalls:sys_enter_openat2, tracepoint:syscalls:sys_enter_open, tracepoint:syscalls:sys_enter_creat of traced commands (do_sys_openat2 implements openat, openat2, open and creat)")
    );
    let fs = f.to_str().unwrap();
    let status = b
        .spawn([
            workload().to_str().unwrap(),
            "o",
            fs,
            "o",
            fs,
            "o",
            fs,
            "x",
            "0",
        ])
        .unwrap();
    assert_eq!(status, ExitStatus::Exited(0));
    let pid = b.stats().pid.unwrap() as u32;
    let lines = b.trace_lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    for l in &lines {
        assert_trace_shape(&l.line(), WORKLOAD_COMM, pid, "Hello, World!");
        assert_eq!(l.flags, "...11");
        assert_eq!(l.event, "bpf_trace_printk");
    }
    assert!(lines.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
    assert_eq!(b.stats().runs, 3);
    assert_eq!(b.stats().failures, 0);
    // Consumed: nothing left.
    assert!(b.trace_fields().is_empty());
}

#[test]
fn committed_hello_object_on_the_tracepoint() {
    let mut b = Bpf::from_object_file(common::root().join("examples/hello.o")).unwrap();
    let a = b
        .attach_tracepoint("syscalls:sys_enter_openat", "hello_world")
        .unwrap();
    assert_eq!(a.notice, None);
    assert_eq!(a.hooks, ["tracepoint:syscalls:sys_enter_openat"]);
    if common::clang_missing().is_some() {
        // No workload without clang: a shell command stands in.
        let st = b.spawn(["sh", "-c", "exit 4"]).unwrap();
        assert_eq!(st.code(), 4);
        return;
    }
    let st = b
        .spawn([workload().to_str().unwrap(), "o", "/", "x", "6"])
        .unwrap();
    assert_eq!(st, ExitStatus::Exited(6));
    let f = b.trace_fields();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].msg, "Hello, World!");
    assert_eq!(f[0].task, WORKLOAD_COMM);
    assert_eq!(f[0].pid, b.stats().pid.unwrap() as u32);
}

#[test]
fn openat_file_names_ring_and_perf_buffers_and_maps() {
    require_clang!();
    let a = scratch_file("open-a", b"a");
    let mut b = Bpf::from_c_file(program("opens")).unwrap();
    let infos = b.attach_auto().unwrap();
    assert_eq!(infos.len(), 1);
    assert_eq!(infos[0].hooks, ["tracepoint:syscalls:sys_enter_openat"]);
    let ring: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let r = ring.clone();
    b.open_ring_buffer("events", move |d| r.borrow_mut().push(d.to_vec()))
        .unwrap();
    let perf: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let p = perf.clone();
    b.open_perf_buffer("perf_events", 8, move |ev| {
        if let PerfEvent::Sample { data, .. } = ev {
            p.borrow_mut().push(data.to_vec())
        }
    })
    .unwrap();
    let af = a.to_str().unwrap();
    let st = b
        .spawn([
            workload().to_str().unwrap(),
            "o",
            af,
            "o",
            "/nonexistent-oxbpf",
            "o",
            af,
        ])
        .unwrap();
    assert_eq!(st, ExitStatus::Exited(0));
    let pid = b.stats().pid.unwrap() as u32;
    let msgs: Vec<String> = b.trace_fields().into_iter().map(|f| f.msg).collect();
    assert_eq!(
        msgs,
        [
            format!("open {af}"),
            "open /nonexistent-oxbpf".to_string(),
            format!("open {af}")
        ]
    );
    let name_of = |rec: &[u8]| -> (u32, u32, String) {
        let pid = u32::from_ne_bytes(rec[0..4].try_into().unwrap());
        let tid = u32::from_ne_bytes(rec[4..8].try_into().unwrap());
        let n = &rec[8..72];
        let end = n.iter().position(|&c| c == 0).unwrap();
        (pid, tid, String::from_utf8_lossy(&n[..end]).into_owned())
    };
    let ring: Vec<_> = ring.borrow().iter().map(|r| name_of(r)).collect();
    assert_eq!(ring.len(), 3);
    assert_eq!(ring[0], (pid, pid, af.to_string()));
    assert_eq!(ring[1].2, "/nonexistent-oxbpf");
    let perf: Vec<_> = perf.borrow().iter().map(|r| name_of(r)).collect();
    assert_eq!(perf, ring);
    assert_eq!(b.ring_buffer_delivered("events"), 3);
    assert_eq!(b.perf_buffer_counts("perf_events"), (3, 0));

    // Typed map access.
    let opens = b.map("opens").unwrap();
    assert_eq!(opens.get::<u32, u64>(&pid).unwrap(), Some(3));
    assert_eq!(opens.iter::<u32, u64>().unwrap(), vec![(pid, 3)]);
    assert_eq!(opens.counts().unwrap(), vec![(pid as u64, 3)]);
    opens.set::<u32, u64>(&1, &10).unwrap();
    assert_eq!(opens.keys().unwrap().len(), 2);
    assert!(opens.delete(&1u32.to_ne_bytes()).unwrap());
    assert!(!opens.delete(&1u32.to_ne_bytes()).unwrap());
    let e = opens.get::<u64, u64>(&1).unwrap_err();
    assert!(
        e.to_string()
            .contains("4-byte keys and 8-byte values; the types are 8 and 8 bytes"),
        "{e}"
    );
    assert_eq!(
        b.maps_report().unwrap(),
        format!("@opens[{pid}]: 3\n\n@by_tid[{pid}]: 3\n")
    );
    opens.clear().unwrap();
    assert!(opens.keys().unwrap().is_empty());

    let e = b.map("nope").unwrap_err();
    assert_eq!(
        e.to_string(),
        "no map named `nope` (maps: .rodata, opens, by_tid, events, perf_events)"
    );
}

#[test]
fn read_and_write_byte_counts_and_histograms() {
    require_clang!();
    let data = vec![7u8; 10_000];
    let f = scratch_file("io-input", &data);
    let mut b = Bpf::from_c_file(program("io")).unwrap();
    assert_eq!(b.attach_auto().unwrap().len(), 2);
    let fs = f.to_str().unwrap();
    // Reads of 3 bytes, then 4096 + 4096 + 1808; a write of 1000 bytes.
    let st = b
        .spawn([
            workload().to_str().unwrap(),
            "r",
            fs,
            "3",
            "w",
            "1000",
            "r",
            fs,
            "10000",
        ])
        .unwrap();
    assert_eq!(st, ExitStatus::Exited(0));
    let pid = b.stats().pid.unwrap() as u32;
    assert_eq!(
        b.map("read_bytes").unwrap().get::<u32, u64>(&pid).unwrap(),
        Some(10_003)
    );
    assert_eq!(
        b.map("write_bytes").unwrap().get::<u32, u64>(&pid).unwrap(),
        Some(1000)
    );
    let hist = b.map("read_hist").unwrap();
    let slots = hist.hist_slots().unwrap();
    let mut want = vec![0u64; 65];
    want[oxbpf::hist::log2_slot(3)] = 1;
    want[oxbpf::hist::log2_slot(1808)] = 1;
    want[oxbpf::hist::log2_slot(4096)] = 2;
    assert_eq!(slots, want);
    let text = hist.log2_hist("bytes").unwrap();
    assert_eq!(
        text,
        "     bytes               : count     distribution\n\
         \x20        0 -> 1          : 0        |                                        |\n\
         \x20        2 -> 3          : 1        |********************                    |\n\
         \x20        4 -> 7          : 0        |                                        |\n\
         \x20        8 -> 15         : 0        |                                        |\n\
         \x20       16 -> 31         : 0        |                                        |\n\
         \x20       32 -> 63         : 0        |                                        |\n\
         \x20       64 -> 127        : 0        |                                        |\n\
         \x20      128 -> 255        : 0        |                                        |\n\
         \x20      256 -> 511        : 0        |                                        |\n\
         \x20      512 -> 1023       : 0        |                                        |\n\
         \x20     1024 -> 2047       : 1        |********************                    |\n\
         \x20     2048 -> 4095       : 0        |                                        |\n\
         \x20     4096 -> 8191       : 2        |****************************************|\n"
    );
    let lin = b.map("read_lhist").unwrap().linear_hist("kbytes").unwrap();
    assert_eq!(
        lin,
        "     kbytes        : count     distribution\n\
         \x20       0          : 1        |********************                    |\n\
         \x20       1          : 1        |********************                    |\n\
         \x20       2          : 0        |                                        |\n\
         \x20       3          : 0        |                                        |\n\
         \x20       4          : 2        |****************************************|\n"
    );
}

#[test]
fn execve_and_exit_codes() {
    require_clang!();
    let mut b = Bpf::from_c_file(program("execs")).unwrap();
    b.attach_auto().unwrap();
    let w = workload().to_str().unwrap();
    // The workload execs itself a second time, which exits with 9.
    let st = b.spawn([w, "e", w, "x", "9"]).unwrap();
    assert_eq!(st, ExitStatus::Exited(9));
    let msgs: Vec<String> = b.trace_fields().into_iter().map(|f| f.msg).collect();
    assert_eq!(
        msgs,
        [
            format!("exec {w}"),
            "exec returned 0".to_string(),
            format!("exec {w}"),
            "exec returned 0".to_string()
        ]
    );
    // A failed exec returns -ENOENT.
    let st = b.spawn([w, "e", "/no/such/binary"]).unwrap();
    assert_eq!(st, ExitStatus::Exited(127));
    let msgs: Vec<String> = b.trace_fields().into_iter().map(|f| f.msg).collect();
    assert_eq!(
        msgs[2..],
        [
            "exec /no/such/binary".to_string(),
            "exec returned -2".to_string()
        ]
    );
    // Killed by a signal: 128 + 9.
    let st = b.spawn([w, "k", "9"]).unwrap();
    assert_eq!(st, ExitStatus::Signaled(9));
    assert_eq!(st.code(), 137);
}

#[test]
fn threads_of_a_traced_process() {
    require_clang!();
    let marker = scratch_file("thread-marker", b"t");
    let mut b = Bpf::from_c_file(program("opens")).unwrap();
    b.attach_auto().unwrap();
    let st = b
        .spawn([
            common::threads().to_str().unwrap(),
            marker.to_str().unwrap(),
        ])
        .unwrap();
    assert_eq!(st, ExitStatus::Exited(5));
    let pid = b.stats().pid.unwrap() as u32;
    // Each of the three threads opened the marker once; the main thread only loaded libc.
    let by_tid = b.map("by_tid").unwrap().iter::<u32, u64>().unwrap();
    let threads: Vec<(u32, u64)> = by_tid.iter().copied().filter(|(t, _)| *t != pid).collect();
    assert_eq!(threads.len(), 3, "{by_tid:?}");
    assert!(threads.iter().all(|(_, n)| *n == 1), "{by_tid:?}");
    let marker_lines: Vec<_> = b
        .trace_lines()
        .into_iter()
        .filter(|l| l.msg == format!("open {}", marker.display()))
        .collect();
    assert_eq!(marker_lines.len(), 3);
    let mut tids: Vec<u32> = marker_lines.iter().map(|l| l.pid).collect();
    tids.sort_unstable();
    let mut want: Vec<u32> = threads.iter().map(|(t, _)| *t).collect();
    want.sort_unstable();
    assert_eq!(tids, want);
    let total: u64 = by_tid.iter().map(|(_, n)| n).sum();
    assert_eq!(
        b.map("opens").unwrap().get::<u32, u64>(&pid).unwrap(),
        Some(total)
    );
}

#[test]
fn streaming_trace_callback() {
    require_clang!();
    let mut b = Bpf::from_c_file(hello()).unwrap();
    b.attach_tracepoint("syscalls/sys_enter_openat", "hello_world")
        .unwrap();
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let s = seen.clone();
    b.on_trace(move |ev| s.borrow_mut().push(ev.msg.clone()));
    b.spawn([workload().to_str().unwrap(), "o", "/", "o", "/"])
        .unwrap();
    assert_eq!(*seen.borrow(), ["Hello, World!", "Hello, World!"]);
    assert!(b.trace_lines().is_empty());
}

#[test]
fn attach_errors_name_the_cause() {
    require_clang!();
    let mut b = Bpf::from_c_file(hello()).unwrap();
    let e = b.attach_kprobe("do_sys_openat2", "nope").unwrap_err();
    assert_eq!(
        e.to_string(),
        "no program named `nope` (programs: hello_world)"
    );
    let e = b
        .attach_tracepoint("sched:sched_switch", "hello_world")
        .unwrap_err();
    assert!(matches!(e, BpfError::Unsupported { .. }), "{e}");
    assert!(
        e.to_string().starts_with("tracepoint:sched:sched_switch: the userspace backend has the syscalls:sys_enter_*/sys_exit_* and raw_syscalls:sys_enter/sys_exit tracepoints of traced commands, no other tracepoints"),
        "{e}"
    );
    let e = b.attach_kprobe("tcp_sendmsg", "hello_world").unwrap_err();
    assert!(e.to_string().contains("`tcp_sendmsg` is not one"), "{e}");
    let e = b
        .attach_tracepoint("syscalls:sys_enter_nosuchcall", "hello_world")
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("no system call tracepoint `sys_enter_nosuchcall`"),
        "{e}"
    );
    let e = b.attach("bogus:thing", "hello_world").unwrap_err();
    assert!(matches!(e, BpfError::Target { .. }), "{e}");
    let e = b.attach_tracepoint("nocolon", "hello_world").unwrap_err();
    assert!(e.to_string().contains("expected CATEGORY:NAME"), "{e}");

    // A section program fits only its kind.
    let mut o = Bpf::from_c_file(program("opens")).unwrap();
    let e = o.attach_kprobe("do_sys_openat2", "on_openat").unwrap_err();
    assert!(
        e.to_string().contains("the program is a tracepoint program (section `tracepoint/syscalls/sys_enter_openat`); kprobe:do_sys_openat2 needs a kprobe program"),
        "{e}"
    );

    // A program that reads its kprobe context is not moved unless forced.
    let mut r = Bpf::from_c_file(program("reads_ctx")).unwrap();
    let e = r
        .attach_kprobe("__x64_sys_openat", "probe_reads_ctx")
        .unwrap_err();
    assert!(e.to_string().contains("but the program reads its kprobe context (struct pt_regs) (instruction 0: r3 = *(u64 *)(r1 + 112))"), "{e}");
    // Forced, it still has to pass the verifier for the tracepoint record, which it reads
    // past (the kernel refuses such a fallback too).
    let mut forced = Bpf::builder()
        .fallback(FallbackPolicy::Always)
        .c_file(program("reads_ctx"))
        .unwrap();
    let e = forced
        .attach_kprobe("__x64_sys_openat", "probe_reads_ctx")
        .unwrap_err();
    assert!(e.is_rejection(), "{e}");
    assert!(
        e.to_string().contains("program `probe_reads_ctx` rejected by the verifier: ")
            && e.to_string().contains("reads_ctx.c:5:21: instruction 0: invalid 8-byte read of trace_event_raw_sys_enter offset 112"),
        "{e}"
    );
    assert!(e
        .verifier_log()
        .unwrap()
        .contains("unsigned long di = regs[14];"));
    // Unverified, it runs checked (and faults on that read).
    let mut forced = Bpf::builder()
        .fallback(FallbackPolicy::Always)
        .unverified()
        .c_file(program("reads_ctx"))
        .unwrap();
    let a = forced
        .attach_kprobe("__x64_sys_openat", "probe_reads_ctx")
        .unwrap();
    assert!(a
        .notice
        .unwrap()
        .contains("; warning: program `probe_reads_ctx` reads its kprobe context"));
    let mut never = Bpf::builder()
        .fallback(FallbackPolicy::Never)
        .c_file(hello())
        .unwrap();
    let e = never
        .attach_kprobe("do_sys_openat2", "hello_world")
        .unwrap_err();
    assert!(e.to_string().contains("fallbacks are off"), "{e}");
    let e = b
        .attach_target(
            &AttachTarget::Kprobe {
                function: "do_sys_openat2".into(),
                offset: 4,
            },
            "hello_world",
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("an offset into a kernel function"),
        "{e}"
    );

    // BCC-style functions with no target cannot attach by section.
    let e = b.attach_auto().unwrap_err();
    assert!(e.to_string().contains("no program has a section that says where to attach it (`hello_world` (section `.text`))"), "{e}");
}

#[test]
fn helpers_a_type_may_not_call_are_refused_at_attach() {
    require_clang!();
    // bpf_skb_load_bytes is a socket-filter helper; a kprobe may not call it.
    let src = "int f(void *ctx) { char b[4]; return bpf_skb_load_bytes(ctx, 0, b, 4); }";
    let mut b = Bpf::from_c_source(src).unwrap();
    let e = b.attach_kprobe("__x64_sys_getpid", "f").unwrap_err();
    assert!(
        e.to_string()
            .contains("calls bpf_skb_load_bytes, which kprobe programs may not call"),
        "{e}"
    );
}

#[test]
fn assembly_programs() {
    let mut b = Bpf::from_asm("r0 = 0\nexit", "tracepoint/syscalls/sys_enter_getpid").unwrap();
    assert_eq!(b.program_names(), ["prog"]);
    let a = b.attach_auto().unwrap();
    assert_eq!(a[0].hooks, ["tracepoint:syscalls:sys_enter_getpid"]);
    let st = b.spawn(["sh", "-c", "exit 2"]).unwrap();
    assert_eq!(st.code(), 2);
    let e = Bpf::from_asm("r0 = \nexit", ".text").unwrap_err();
    assert!(e.to_string().starts_with("<asm>:1:"), "{e}");
}

#[test]
fn c_errors_name_the_file() {
    require_clang!();
    let e = Bpf::from_c_source("int f(void) { return x; }").unwrap_err();
    assert!(
        e.to_string().starts_with("prog.c: clang failed to compile"),
        "{e}"
    );
    let e = Bpf::from_object(b"not an object").unwrap_err();
    assert!(e.to_string().starts_with("<object>: "), "{e}");
    let e = Bpf::from_c_file("/no/such/file.c").unwrap_err();
    assert!(e.to_string().starts_with("/no/such/file.c: "), "{e}");
}

#[test]
fn xdp_over_a_capture_with_maps_and_global_data() {
    let frames = vec![
        common::frame(Some(17)),
        common::frame(Some(6)),
        common::frame(None),
        common::frame(Some(17)),
    ];
    let input = scratch_file("xdp-in.pcap", &common::pcap(&frames));
    let output = scratch_file("xdp-out.pcap", b"");
    let mut b = Bpf::from_object_file(common::root().join("examples/xdp_count.o")).unwrap();
    let a = b.attach_xdp("eth0", "xdp_count").unwrap();
    assert_eq!(a.hooks, ["xdp (packets of the capture)"]);
    let stats = b
        .run_pcap(&input, Some(&output), oxbpf::bpf::PacketOptions::default())
        .unwrap();
    assert_eq!(stats.len(), 1);
    let (prog, s) = &stats[0];
    assert_eq!(prog, "xdp_count");
    assert_eq!((s.packets, s.xdp.pass, s.faults, s.written), (4, 4, 0, 4));
    assert_eq!(common::pcap_count(&std::fs::read(&output).unwrap()), 4);
    let protocols = b.map("protocols").unwrap();
    assert_eq!(protocols.get::<u32, u64>(&17).unwrap(), Some(2));
    assert_eq!(protocols.get::<u32, u64>(&6).unwrap(), Some(1));
    assert_eq!(b.map(".bss").unwrap().get::<u32, u64>(&0).unwrap(), Some(1));
    // Without a packet program there is nothing to run.
    let mut h = Bpf::from_object_file(common::root().join("examples/hello.o")).unwrap();
    let e = h
        .run_pcap(&input, None, oxbpf::bpf::PacketOptions::default())
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("no program is attached to a packet hook"),
        "{e}"
    );
}

#[test]
fn engines_give_the_same_results() {
    require_clang!();
    let data = scratch_file("engines-data", &[3u8; 5000]);
    let ds = data.to_str().unwrap();
    let mut results = Vec::new();
    for engine in [oxbpf::EngineKind::Interpreter, oxbpf::EngineKind::Jit] {
        let mut b = Bpf::builder().engine(engine).c_file(program("io")).unwrap();
        assert_eq!(b.engine(), Some(engine));
        b.attach_auto().unwrap();
        b.spawn([workload().to_str().unwrap(), "r", ds, "5000", "w", "77"])
            .unwrap();
        let pid = b.stats().pid.unwrap() as u32;
        results.push((
            b.map("read_bytes").unwrap().get::<u32, u64>(&pid).unwrap(),
            b.map("write_bytes").unwrap().get::<u32, u64>(&pid).unwrap(),
            b.map("read_hist").unwrap().hist_slots().unwrap(),
        ));
    }
    assert_eq!(results[0].0, Some(5000));
    assert_eq!(results[0].1, Some(77));
    assert_eq!(results[0], results[1]);
}

#[test]
fn socket_filter_over_a_capture() {
    require_clang!();
    let frames = vec![
        common::frame(Some(17)),
        common::frame(Some(6)),
        common::frame(None),
        common::frame(Some(17)),
        common::frame(Some(17)),
    ];
    let input = scratch_file("sock-in.pcap", &common::pcap(&frames));
    let output = scratch_file("sock-out.pcap", b"");
    let mut b = Bpf::from_c_file(program("keep_udp")).unwrap();
    b.attach_socket_filter("eth0", "keep_udp").unwrap();
    let stats = b
        .run_pcap(&input, Some(&output), oxbpf::bpf::PacketOptions::default())
        .unwrap();
    let s = &stats[0].1;
    assert_eq!(
        (s.packets, s.socket.accepted, s.socket.dropped, s.faults),
        (5, 3, 2, 0)
    );
    assert_eq!(common::pcap_count(&std::fs::read(&output).unwrap()), 3);
    let seen = b.map("seen").unwrap();
    assert_eq!(seen.get::<u32, u64>(&1).unwrap(), Some(3));
    assert_eq!(seen.get::<u32, u64>(&0).unwrap(), Some(2));
    // A socket filter is no kprobe.
    let e = b.attach_kprobe("do_sys_openat2", "keep_udp").unwrap_err();
    assert!(e.to_string().contains("socket_filter program"), "{e}");
}

/// A hash map and a program reading the value of a lookup it did not check.
const UNCHECKED: &str = "struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } m SEC(\".maps\");\n\
SECTION\n\
int f(void *ctx)\n\
{\n\
  __u32 k = 0;\n\
  __u64 *v = bpf_map_lookup_elem(&m, &k);\n\
  return *v;\n\
}\n\
char LICENSE[] SEC(\"license\") = \"GPL\";\n";

#[test]
fn programs_are_verified_for_their_hooks() {
    require_clang!();
    // A program in a section is verified when it is loaded.
    let src = UNCHECKED.replace("SECTION", "SEC(\"tracepoint/syscalls/sys_enter_getppid\")");
    let e = Bpf::from_c_source(&src).unwrap_err();
    assert!(e.is_rejection(), "{e}");
    let text = e.to_string();
    assert!(
        text.starts_with("prog.c: program `f` rejected by the verifier: prog.c:7:"),
        "{text}"
    );
    let log = e.verifier_log().unwrap();
    assert!(log.contains("return *v;"), "{log}");

    // Unverified, it loads and runs checked: the lookup misses and the read faults.
    let mut b = Bpf::builder().unverified().c_source(&src).unwrap();
    let a = b.attach_auto().unwrap();
    let checked = if cfg!(target_arch = "x86_64") {
        "jit"
    } else {
        "interp"
    };
    assert_eq!(a[0].mode, checked);
    b.spawn([workload().to_str().unwrap(), "g", "2"]).unwrap();
    assert_eq!((b.stats().runs, b.stats().failures), (2, 2));
    assert!(b
        .stats()
        .first_error
        .as_ref()
        .unwrap()
        .contains("program `f`"));

    // A BCC-style function is verified when an attach gives it a type.
    let src = UNCHECKED.replace("SECTION", "");
    let mut b = Bpf::from_c_source(&src).unwrap();
    let e = b
        .attach_tracepoint("syscalls:sys_enter_getppid", "f")
        .unwrap_err();
    assert!(e.is_rejection(), "{e}");

    // How accepted programs run.
    let modes = |builder: oxbpf::BpfBuilder| {
        let mut b = builder.c_file(hello()).unwrap();
        b.attach_tracepoint("syscalls:sys_enter_openat", "hello_world")
            .unwrap()
            .mode
    };
    // By default: verified, and on the JIT (x86-64) as its verified code.
    let default = if cfg!(target_arch = "x86_64") {
        "jit, verified"
    } else {
        "interp, verified"
    };
    assert_eq!(modes(Bpf::builder()), default);
    assert_eq!(
        modes(Bpf::builder().engine(oxbpf::EngineKind::Interpreter)),
        "interp, verified"
    );
    assert_eq!(
        modes(Bpf::builder().engine(oxbpf::EngineKind::Jit)),
        "jit, verified"
    );
    assert_eq!(
        modes(
            Bpf::builder()
                .engine(oxbpf::EngineKind::Jit)
                .budget(Some(10_000))
        ),
        "jit, verified, checked"
    );
    assert_eq!(modes(Bpf::builder().unverified()), checked);
    assert_eq!(
        modes(Bpf::builder().engine(oxbpf::EngineKind::Jit).unverified()),
        "jit"
    );
}

#[test]
fn verified_jit_code_gives_the_same_trace_and_maps() {
    require_clang!();
    let f = scratch_file("vjit", b"v");
    let fs = f.to_str().unwrap();
    let mut out = Vec::new();
    for builder in [
        Bpf::builder().engine(oxbpf::EngineKind::Jit),
        Bpf::builder().engine(oxbpf::EngineKind::Jit).unverified(),
        Bpf::builder(),
    ] {
        let mut b = builder.c_file(program("opens")).unwrap();
        b.attach_auto().unwrap();
        let ring: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
        let r = ring.clone();
        b.open_ring_buffer("events", move |d| r.borrow_mut().push(d[8..].to_vec()))
            .unwrap();
        b.spawn([workload().to_str().unwrap(), "o", fs, "o", "/"])
            .unwrap();
        let pid = b.stats().pid.unwrap() as u32;
        let msgs: Vec<String> = b.trace_fields().into_iter().map(|t| t.msg).collect();
        let n = b.map("opens").unwrap().get::<u32, u64>(&pid).unwrap();
        out.push((msgs, n, ring.borrow().clone()));
    }
    assert_eq!(out[0].0, [format!("open {fs}"), "open /".to_string()]);
    assert_eq!(out[0].1, Some(2));
    assert_eq!(out[0], out[1]);
    assert_eq!(out[0], out[2]);
}
