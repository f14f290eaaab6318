//! `oxbpf run` on both backends: exact output, exit codes, notices, cleanup.

mod common;

use common::{program, scratch_file, workload, workload_named, WORKLOAD_COMM};
use std::process::{Command, Output};
use std::time::Duration;

/// How userspace programs run by default: verified, as the JIT's verified code where
/// there is a JIT.
const VERIFIED: &str = if cfg!(target_arch = "x86_64") {
    "userspace, jit, verified"
} else {
    "userspace, interp, verified"
};

fn oxbpf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn hello() -> String {
    common::root()
        .join("examples/hello.c")
        .display()
        .to_string()
}

/// The `Hello, World!` lines of task `comm`, with the pid they show.
fn hello_lines(out: &str, comm: &str) -> Vec<(u32, String)> {
    out.lines()
        .filter(|l| l.ends_with("bpf_trace_printk: Hello, World!"))
        .filter_map(|l| {
            let (head, _) = l.split_once(" [")?;
            let (task, pid) = head.trim().rsplit_once('-')?;
            (task == comm).then(|| (pid.trim().parse().unwrap(), l.to_string()))
        })
        .collect()
}

#[test]
fn hello_world_on_the_tracepoint_in_userspace() {
    require_clang!();
    let f = scratch_file("cli-hello", b"h");
    let fs = f.to_str().unwrap();
    let w = workload().to_str().unwrap();
    let o = oxbpf(&[
        "run",
        &hello(),
        "--attach",
        "tracepoint:syscalls:sys_enter_openat",
        "--",
        w,
        "o",
        fs,
        "o",
        fs,
        "x",
        "3",
    ]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert_eq!(
        err,
        format!("Attaching 1 program to 1 hook ({VERIFIED})...\n")
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let pid: u32 = lines[0].trim_start()[WORKLOAD_COMM.len() + 1..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    for l in lines {
        common::assert_trace_shape(l, WORKLOAD_COMM, pid, "Hello, World!");
    }
}

#[test]
fn kprobe_form_says_which_hooks_it_used() {
    require_clang!();
    let w = workload().to_str().unwrap();
    let o = oxbpf(&[
        "run",
        &hello(),
        "--attach",
        "kprobe:do_sys_openat2",
        "--",
        w,
        "o",
        "/",
    ]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(
        err,
        format!("oxbpf: kprobe:do_sys_openat2 runs in userspace on the system call hooks tracepoint:syscalls:sys_enter_openat, tracepoint:syscalls:sys_enter_openat2, tracepoint:syscalls:sys_enter_open, tracepoint:syscalls:sys_enter_creat of traced commands (do_sys_openat2 implements openat, openat2, open and creat)\n\
         Attaching 1 program to 4 hooks ({VERIFIED})...\n")
    );
    assert_eq!(hello_lines(&out, WORKLOAD_COMM).len(), 1, "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
}

#[test]
fn maps_ring_buffers_and_formats() {
    require_clang!();
    let w = workload().to_str().unwrap();
    let f = scratch_file("cli-maps", b"m");
    let fs = f.to_str().unwrap();
    let o = oxbpf(&[
        "run",
        program("opens").to_str().unwrap(),
        "--format",
        "pid:u32 tid:u32 name:str64",
        "--",
        w,
        "o",
        fs,
        "o",
        fs,
    ]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{err}");
    let first = out.lines().next().unwrap();
    let pid: u32 = first.trim_start()[WORKLOAD_COMM.len() + 1..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let trace = out.lines().next().unwrap().to_string();
    common::assert_trace_shape(&trace, WORKLOAD_COMM, pid, &format!("open {fs}"));
    let rest: Vec<&str> = out.lines().skip(1).collect();
    let rec = format!("pid={pid} tid={pid} name={fs}");
    assert_eq!(
        rest[..2],
        [format!("events: {rec}"), format!("perf_events: {rec}")]
    );
    assert!(
        out.ends_with(&format!("\n\n@opens[{pid}]: 2\n\n@by_tid[{pid}]: 2\n")),
        "{out}"
    );
    // Without --format: hex.
    let o = oxbpf(&[
        "run",
        program("opens").to_str().unwrap(),
        "--no-maps",
        "--",
        w,
        "o",
        "/",
    ]);
    let out = text(&o.stdout);
    let ev = out.lines().find(|l| l.starts_with("events: ")).unwrap();
    assert_eq!(ev.len(), "events: ".len() + 72 * 3 - 1, "{ev}");
    assert!(!out.contains("@opens"), "{out}");
}

#[test]
fn histograms_at_the_end() {
    require_clang!();
    let w = workload().to_str().unwrap();
    let f = scratch_file("cli-hist", &[0u8; 100]);
    let fs = f.to_str().unwrap();
    let o = oxbpf(&[
        "run",
        program("io").to_str().unwrap(),
        "--",
        w,
        "r",
        fs,
        "100",
        "r",
        fs,
        "5",
    ]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        out.contains(
            "@read_hist:\n     value               : count     distribution\n\
         \x20        0 -> 1          : 0        |                                        |\n\
         \x20        2 -> 3          : 0        |                                        |\n\
         \x20        4 -> 7          : 1        |****************************************|\n\
         \x20        8 -> 15         : 0        |                                        |\n\
         \x20       16 -> 31         : 0        |                                        |\n\
         \x20       32 -> 63         : 0        |                                        |\n\
         \x20       64 -> 127        : 1        |****************************************|\n"
        ),
        "{out}"
    );
    assert!(out.contains("@read_lhist:\n     value         : count     distribution\n        0          : 2        |****************************************|\n"), "{out}");
}

#[test]
fn usage_errors() {
    let hello = hello();
    let obj = common::root().join("examples/hello.o");
    let obj = obj.to_str().unwrap();
    let openat = "tracepoint:syscalls:sys_enter_openat";
    // (arguments, exit status, text stderr must contain)
    let cases: [(&[&str], i32, &str); 8] = [
        (
            &["run", &hello],
            2,
            "the userspace backend needs something to run the programs on",
        ),
        (
            &["run", "/no/such.o", "--", "true"],
            2,
            "oxbpf: /no/such.o: ",
        ),
        (
            &["run", obj, "--", "true"],
            2,
            "no program has a section that says where to attach it",
        ),
        (
            &["run", obj, "--attach", "nonsense", "--", "true"],
            2,
            "oxbpf: attach target `nonsense`",
        ),
        (
            &[
                "run",
                obj,
                "--attach",
                "tracepoint:sched:sched_switch",
                "--",
                "true",
            ],
            1,
            "",
        ),
        (
            &[
                "run", obj, "--format", "pid", "--attach", openat, "--", "true",
            ],
            2,
            "oxbpf: --format: record format, field 0 `pid`",
        ),
        // The command's own exit status.
        (
            &[
                "run",
                obj,
                "--attach",
                "hello_world=tracepoint:syscalls:sys_enter_openat",
                "--",
                "sh",
                "-c",
                "exit 7",
            ],
            7,
            "",
        ),
        (
            &["run", obj, "--attach", openat, "--", "/no/such/command"],
            2,
            "/no/such/command",
        ),
    ];
    for (args, code, says) in cases {
        let o = oxbpf(args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn trace_a_running_process() {
    require_clang!();
    let w = workload_named("pidtrace");
    // Sleeps long enough for oxbpf to attach, then opens a file twice and exits 6.
    let mut child = Command::new(&w)
        .args(["s", "1500", "o", "/", "o", "/", "x", "6"])
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    std::thread::sleep(Duration::from_millis(200));
    let o = oxbpf(&[
        "run",
        &hello(),
        "--attach",
        "tracepoint:syscalls:sys_enter_openat",
        "-p",
        &pid,
    ]);
    let _ = child.wait();
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(
        err.contains(&format!("Tracing PID {pid}... Hit Ctrl-C to end.")),
        "{err}"
    );
    let lines = hello_lines(&out, "pidtrace");
    assert_eq!(lines.len(), 2, "{out}\n{err}");
    assert!(lines.iter().all(|(p, _)| p.to_string() == pid));
}

#[test]
fn kernel_hello_world_with_the_kprobe_fallback() {
    require_kernel!();
    let before: Vec<u32> = oxbpf_kernel::loaded_programs()
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    let w = workload_named("clik-hello");
    let o = oxbpf(&[
        "run",
        "--kernel",
        &hello(),
        "--attach",
        "kprobe:do_sys_openat2",
        "--",
        w.to_str().unwrap(),
        "o",
        "/",
        "o",
        "/",
        "x",
        "12",
    ]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(12), "{err}");
    if !oxbpf_kernel::probe::kprobes().is_supported() {
        let first = err.lines().next().unwrap();
        assert!(first.starts_with("oxbpf: kprobes are not available on this kernel (no kprobe PMU, no kprobe_events); attaching to tracepoints syscalls:sys_enter_openat, syscalls:sys_enter_openat2, syscalls:sys_enter_open and syscalls:sys_enter_creat instead"), "{err}");
        assert!(
            err.contains("Attaching 1 program to 4 hooks (kernel)...\n"),
            "{err}"
        );
    }
    let lines = hello_lines(&out, "clik-hello");
    assert_eq!(lines.len(), 2, "{out}");
    // Everything detached and unloaded when oxbpf exited.
    for p in oxbpf_kernel::loaded_programs().unwrap() {
        if !before.contains(&p.id) && p.name == "hello_world" {
            assert!(
                oxbpf_kernel::wait_unloaded(p.id, Duration::from_secs(10)).unwrap(),
                "program {} ({}) left loaded",
                p.id,
                p.name
            );
        }
    }
    // --no-fallback refuses where kprobes are missing.
    if !oxbpf_kernel::probe::kprobes().is_supported() {
        let o = oxbpf(&[
            "run",
            "--kernel",
            "--no-fallback",
            &hello(),
            "--attach",
            "kprobe:do_sys_openat2",
            "--",
            "true",
        ]);
        assert_eq!(o.status.code(), Some(1));
        assert!(
            text(&o.stderr).starts_with(
                "oxbpf: cannot attach to kprobe:do_sys_openat2: kprobes are not available"
            ),
            "{}",
            text(&o.stderr)
        );
        // It says how to use the alternative it names.
        assert!(
            text(&o.stderr).contains("syscalls:sys_enter_openat")
                && text(&o.stderr).contains("run without --no-fallback to attach there"),
            "{}",
            text(&o.stderr)
        );
    }
}

#[test]
fn kernel_counts_match_userspace_counts() {
    require_kernel!();
    let count = |kernel: bool, comm: &str| -> String {
        let w = workload_named(comm);
        let obj = common::root().join("examples/count_opens.o");
        let mut args = vec!["run"];
        if kernel {
            args.push("--kernel");
        }
        args.extend([
            obj.to_str().unwrap(),
            "--",
            w.to_str().unwrap(),
            "o",
            "/",
            "o",
            "/",
            "o",
            "/",
        ]);
        let o = oxbpf(&args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let out = text(&o.stdout);
        let pid = out
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{comm}-")))
            .map(|l| {
                l.trim_start()[comm.len() + 1..]
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .to_string()
            })
            .unwrap();
        let row = out
            .lines()
            .find(|l| l.starts_with(&format!("@opens[{pid}]: ")))
            .unwrap_or_else(|| panic!("no @opens[{pid}] in\n{out}"));
        row.rsplit(' ').next().unwrap().to_string()
    };
    assert_eq!(count(false, "cnt-user"), "3");
    assert_eq!(count(true, "cnt-kern"), "3");
}

#[test]
fn kernel_verifier_failures_summary_and_verbose() {
    require_kernel!();
    let src = scratch_file(
        "reject.c",
        b"struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } m SEC(\".maps\");\n\
SEC(\"tracepoint/syscalls/sys_enter_getpid\")\nint f(void *ctx) {\n  __u32 k = 0;\n  __u64 *v = bpf_map_lookup_elem(&m, &k);\n  return *v;\n}\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n",
    );
    let o = oxbpf(&["run", "--kernel", src.to_str().unwrap(), "--", "true"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("oxbpf: the kernel verifier rejected program `f`"),
        "{err}"
    );
    assert!(err.contains("return *v;"), "{err}");
    assert!(
        err.ends_with("(--verbose prints the full verifier log)\n"),
        "{err}"
    );
    let o = oxbpf(&[
        "run",
        "--kernel",
        "--verbose",
        src.to_str().unwrap(),
        "--",
        "true",
    ]);
    let err = text(&o.stderr);
    assert!(err.contains("\nverifier log:\n"), "{err}");
    assert!(err.contains("processed "), "{err}");
}

#[test]
fn xdp_over_a_capture() {
    let frames = vec![
        common::frame(Some(17)),
        common::frame(None),
        common::frame(Some(17)),
    ];
    let input = scratch_file("cli-xdp-in.pcap", &common::pcap(&frames));
    let output = common::root()
        .join("target")
        .join(format!("cli-xdp-out-{}.pcap", std::process::id()));
    let obj = common::root().join("examples/xdp_count.o");
    let o = oxbpf(&[
        "run",
        obj.to_str().unwrap(),
        "--pcap",
        input.to_str().unwrap(),
        "--out",
        output.to_str().unwrap(),
    ]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(
        err,
        format!("Attaching 1 program to 1 hook ({VERIFIED})...\n\
         oxbpf: xdp_count: 3 packets, XDP_PASS 3 XDP_DROP 0 XDP_TX 0 XDP_REDIRECT 0 XDP_ABORTED 0, 3 written\n")
    );
    assert_eq!(out, "\n@protocols[17]: 2\n");
    assert_eq!(common::pcap_count(&std::fs::read(&output).unwrap()), 3);
    // The interpreter, and checked code: the same results, and the header says how.
    let mut others = vec![(vec!["--engine", "interp"], "userspace, interp, verified")];
    if cfg!(target_arch = "x86_64") {
        others.push((vec!["--unverified"], "userspace, jit"));
        others.push((vec!["--engine", "jit", "--unverified"], "userspace, jit"));
    }
    for (flags, how) in others {
        let mut args = vec!["run"];
        args.extend(flags.iter().copied());
        args.extend([obj.to_str().unwrap(), "--pcap", input.to_str().unwrap()]);
        let o = oxbpf(&args);
        let (out, err) = (text(&o.stdout), text(&o.stderr));
        assert_eq!(o.status.code(), Some(0), "{flags:?}: {err}");
        assert!(
            err.starts_with(&format!("Attaching 1 program to 1 hook ({how})...\n")),
            "{flags:?}: {err}"
        );
        assert!(err.contains("XDP_PASS 3 "), "{flags:?}: {err}");
        assert_eq!(out, "\n@protocols[17]: 2\n", "{flags:?}");
    }
    let _ = std::fs::remove_file(&output);
    let o = oxbpf(&[
        "run",
        "--kernel",
        obj.to_str().unwrap(),
        "--pcap",
        input.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn jit_engine_from_the_command_line() {
    require_clang!();
    let w = workload().to_str().unwrap();
    let o = oxbpf(&[
        "run",
        "--engine",
        "jit",
        &hello(),
        "--attach",
        "tracepoint:syscalls:sys_enter_openat",
        "--",
        w,
        "o",
        "/",
        "x",
        "2",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert_eq!(hello_lines(&text(&o.stdout), WORKLOAD_COMM).len(), 1);
}

/// Reads lines until one contains `ready` (or the end); returns what it read.
fn read_until(r: &mut impl std::io::BufRead, ready: &str) -> String {
    let mut seen = String::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).unwrap() == 0 {
            return seen;
        }
        seen.push_str(&l);
        if l.contains(ready) {
            return seen;
        }
    }
}

/// Starts `oxbpf ARGS`, waits for `ready` on its stderr, sends it SIGINT and returns its
/// exit status, stderr and pid.
fn interrupt_after(args: &[&str], ready: &str) -> (Option<i32>, String, u32) {
    use std::io::{BufReader, Read};
    let mut child = Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let seen = read_until(&mut err, ready);
    assert!(seen.contains(ready), "{seen}");
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    let code = child.wait().unwrap().code();
    (code, seen + &rest, child.id())
}

#[test]
fn ctrl_c_detaches_a_traced_process_and_lets_it_run() {
    require_clang!();
    let w = workload_named("ctrlc-user");
    let mut target = Command::new(&w)
        .args(["s", "1500", "o", "/", "x", "4"])
        .spawn()
        .unwrap();
    let pid = target.id().to_string();
    let (code, err, _) = interrupt_after(
        &[
            "run",
            &hello(),
            "--attach",
            "tracepoint:syscalls:sys_enter_openat",
            "-p",
            &pid,
        ],
        "Hit Ctrl-C to end.",
    );
    assert_eq!(code, Some(0), "{err}");
    // Let go, not killed: it runs to its own end.
    assert_eq!(target.wait().unwrap().code(), Some(4));
}

#[test]
fn ctrl_c_ends_a_kernel_run_and_unloads_everything() {
    require_kernel!();
    let before: Vec<u32> = oxbpf_kernel::loaded_programs()
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    let (code, err, oxbpf_pid) = interrupt_after(
        &[
            "run",
            "--kernel",
            &hello(),
            "--attach",
            "tracepoint:syscalls:sys_enter_openat",
        ],
        "Tracing... Hit Ctrl-C to end.",
    );
    assert_eq!(code, Some(0), "{err}");
    for p in oxbpf_kernel::loaded_programs().unwrap() {
        if !before.contains(&p.id) && p.name == "hello_world" {
            assert!(
                oxbpf_kernel::wait_unloaded(p.id, Duration::from_secs(10)).unwrap(),
                "program {} left loaded",
                p.id
            );
        }
    }
    // Its private trace instance is gone too.
    let tracefs = oxbpf_kernel::Tracefs::find_or_mount().unwrap();
    let prefix = format!("oxbpf-{oxbpf_pid}-");
    let left: Vec<String> = std::fs::read_dir(tracefs.path("instances"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// The pid of the first trace line of task `comm`.
fn first_pid(out: &str, comm: &str) -> u32 {
    out.lines()
        .find_map(|l| {
            let (head, _) = l.split_once(" [")?;
            let (task, pid) = head.trim().rsplit_once('-')?;
            (task == comm).then(|| pid.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no line of {comm} in\n{out}"))
}

#[test]
fn read_and_write_byte_counts_execve_and_threads() {
    require_clang!();
    let w = workload().to_str().unwrap();
    let f = scratch_file("cli-io", &[9u8; 3000]);
    let fs = f.to_str().unwrap();
    // Byte counts: 3000 read (4096 asked), 123 written; the exit status passes through.
    let o = oxbpf(&[
        "run",
        program("io").to_str().unwrap(),
        "--",
        w,
        "r",
        fs,
        "4096",
        "w",
        "123",
        "x",
        "5",
    ]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o.stderr));
    let pid = out
        .lines()
        .find_map(|l| l.strip_prefix("@read_bytes[")?.split_once("]: "))
        .map(|(p, n)| (p.to_string(), n.to_string()))
        .unwrap();
    assert_eq!(pid.1, "3000", "{out}");
    assert!(
        out.contains(&format!("\n@write_bytes[{}]: 123\n", pid.0)),
        "{out}"
    );

    // execve: the command's own exec, then the one it makes.
    let o = oxbpf(&[
        "run",
        program("execs").to_str().unwrap(),
        "--",
        w,
        "e",
        w,
        "x",
        "0",
    ]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let msgs: Vec<&str> = out
        .lines()
        .map(|l| l.split_once(": bpf_trace_printk: ").unwrap().1)
        .collect();
    assert_eq!(
        msgs,
        [
            format!("exec {w}").as_str(),
            "exec returned 0",
            format!("exec {w}").as_str(),
            "exec returned 0"
        ]
    );

    // A multi-threaded command: three threads, one open of the marker each.
    let marker = scratch_file("cli-marker", b"m");
    let o = oxbpf(&[
        "run",
        program("opens").to_str().unwrap(),
        "--",
        common::threads().to_str().unwrap(),
        marker.to_str().unwrap(),
    ]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o.stderr));
    let pid = first_pid(&out, "threadsw");
    let thread_rows: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("@by_tid[") && !l.starts_with(&format!("@by_tid[{pid}]")))
        .collect();
    assert_eq!(thread_rows.len(), 3, "{out}");
    assert!(thread_rows.iter().all(|l| l.ends_with("]: 1")), "{out}");
    let marker_lines = out
        .lines()
        .filter(|l| l.ends_with(&format!("bpf_trace_printk: open {}", marker.display())))
        .count();
    assert_eq!(marker_lines, 3, "{out}");
}

#[test]
fn userspace_verifier_rejections_and_unverified_runs() {
    require_clang!();
    let src = scratch_file(
        "cli-unchecked.c",
        b"struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } m SEC(\".maps\");\n\
SEC(\"tracepoint/syscalls/sys_enter_getppid\")\nint f(void *ctx) {\n  __u32 k = 0;\n  __u64 *v = bpf_map_lookup_elem(&m, &k);\n  return *v;\n}\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n",
    );
    let s = src.to_str().unwrap();
    let w = workload().to_str().unwrap();
    let o = oxbpf(&["run", s, "--", w, "g", "1"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with(&format!(
            "oxbpf: {s}: program `f` rejected by the verifier: "
        )),
        "{err}"
    );
    assert!(
        err.ends_with("(--verbose prints the full verifier log)\n"),
        "{err}"
    );
    let o = oxbpf(&["run", "--verbose", s, "--", w, "g", "1"]);
    let err = text(&o.stderr);
    assert!(err.contains("\nverifier log:\nerror: "), "{err}");
    assert!(err.contains("return *v;"), "{err}");
    // --unverified: it runs, checked; the faulting runs are reported and the command's
    // status passes through.
    let o = oxbpf(&["run", "--unverified", s, "--", w, "g", "2", "x", "3"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("oxbpf: 2 of 2 runs failed; the first: program `f`"),
        "{err}"
    );
}

/// A process named `comm` that opens `/` every 20 ms for about `ms` milliseconds.
fn noise(comm: &str, ms: u32) -> std::process::Child {
    let mut args = Vec::new();
    for _ in 0..ms / 20 {
        args.extend(["o", "/", "s", "20"]);
    }
    Command::new(workload_named(comm))
        .args(args)
        .spawn()
        .unwrap()
}

/// The task names of the `Hello, World!` lines.
fn hello_tasks(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.ends_with("bpf_trace_printk: Hello, World!"))
        .filter_map(|l| {
            let (head, _) = l.split_once(" [")?;
            let (task, _) = head.trim().rsplit_once('-')?;
            Some(task.to_string())
        })
        .collect()
}

#[test]
fn kernel_run_prints_the_command_tree_only_unless_all() {
    require_kernel!();
    let hello_o = common::root().join("examples/hello.o");
    let w = workload_named("kf-cmd");
    // A process tree: a shell running the workload twice; each opens `/` once while the
    // noise process opens it every 20 ms.
    let script = format!("{w} s 200 o / s 100; {w} o / s 200", w = w.display());
    let run = |all: bool| {
        let mut noisy = noise("kf-noise", 3000);
        let mut args = vec![
            "run",
            "--kernel",
            hello_o.to_str().unwrap(),
            "--attach",
            "tracepoint:syscalls:sys_enter_openat",
        ];
        if all {
            args.push("--all");
        }
        args.extend(["--", "sh", "-c", &script]);
        let o = oxbpf(&args);
        let _ = noisy.kill();
        let _ = noisy.wait();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        text(&o.stdout)
    };
    let out = run(false);
    assert_eq!(hello_lines(&out, "kf-cmd").len(), 2, "{out}");
    let tasks = hello_tasks(&out);
    assert!(
        tasks.iter().all(|t| t == "kf-cmd" || t == "sh"),
        "lines of processes outside the command's tree: {tasks:?}\n{out}"
    );
    let out = run(true);
    assert_eq!(hello_lines(&out, "kf-cmd").len(), 2, "{out}");
    assert!(
        !hello_lines(&out, "kf-noise").is_empty(),
        "--all shows other processes' lines too\n{out}"
    );
}

#[test]
fn kernel_run_with_a_pid_prints_that_process_only() {
    require_kernel!();
    use std::io::{BufReader, Read};
    let hello_o = common::root().join("examples/hello.o");
    let mut noisy = noise("kp-noise", 4000);
    let mut target = Command::new(workload_named("kp-target"))
        .args(["s", "1500", "o", "/", "s", "50", "o", "/", "x", "0"])
        .spawn()
        .unwrap();
    let pid = target.id();
    let mut child = Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args([
            "run",
            "--kernel",
            hello_o.to_str().unwrap(),
            "--attach",
            "tracepoint:syscalls:sys_enter_openat",
            "-p",
            &pid.to_string(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let seen = read_until(&mut err, "Tracing PID");
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(target.wait().unwrap().code(), Some(0));
    let _ = noisy.kill();
    let _ = noisy.wait();
    assert_eq!(code, Some(0), "{seen}{rest}");
    let mine = hello_lines(&out, "kp-target");
    assert_eq!(mine.len(), 2, "{out}");
    assert!(mine.iter().all(|(p, _)| *p == pid), "{out}");
    let tasks = hello_tasks(&out);
    assert!(
        tasks.iter().all(|t| t == "kp-target"),
        "lines of other processes: {tasks:?}\n{out}"
    );
}

#[test]
fn input_errors_name_the_place_once() {
    let hello_o = common::root().join("examples/hello.o");
    let hello_o = hello_o.to_str().unwrap();
    // A malformed target is named once, with the cause.
    let o = oxbpf(&["run", hello_o, "--attach", "kprobe:", "--", "true"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        text(&o.stderr),
        "oxbpf: attach target `kprobe:`: the function is empty\n"
    );
    let o = oxbpf(&["run", hello_o, "--attach", "foo:bar", "--", "true"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).starts_with("oxbpf: attach target `foo:bar`: unknown attach kind `foo`"),
        "{}",
        text(&o.stderr)
    );
    // Text given as an object: what `run` takes, and where the rest goes.
    let txt = scratch_file("cli-text.o", b"hello world\n");
    let o = oxbpf(&["run", txt.to_str().unwrap(), "--", "true"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        text(&o.stderr),
        format!(
            "oxbpf: {}: not an ELF object (no ELF magic number) nor C source (a `.c` file): `oxbpf run` takes prog.c or prog.o (`oxbpf build` compiles C; assembly and raw bytecode run with `oxbpf exec`)\n",
            txt.display()
        )
    );
    // A process that does not exist is refused before anything is attached.
    let o = oxbpf(&[
        "run",
        hello_o,
        "--attach",
        "tracepoint:syscalls:sys_enter_openat",
        "-p",
        "2147483647",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        text(&o.stderr),
        "oxbpf: -p 2147483647: no such process (`ps` lists the running ones)\n"
    );
    // Captures that are not captures: the file and what is wrong with it.
    let xdp = common::root().join("examples/xdp_count.o");
    for (name, bytes, why) in [
        (
            "cli-not-a.pcap",
            &b"not a pcap file"[..],
            "not a pcap or pcapng file: it starts with 6e 6f 74 20 (pcap files start with d4 c3 b2 a1 or a1 b2 c3 d4, pcapng files with 0a 0d 0d 0a)",
        ),
        (
            "cli-empty.pcap",
            &b""[..],
            "0 bytes: too short for a pcap or pcapng header",
        ),
    ] {
        let file = scratch_file(name, bytes);
        let o = oxbpf(&["run", xdp.to_str().unwrap(), "--pcap", file.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2));
        assert!(
            text(&o.stderr).ends_with(&format!("oxbpf: {}: {why}\n", file.display())),
            "{}",
            text(&o.stderr)
        );
    }
}

#[test]
fn kernel_missing_tracepoint_points_at_oxbpf_list() {
    require_kernel!();
    let obj = common::root().join("examples/hello.o");
    let o = oxbpf(&[
        "run",
        "--kernel",
        obj.to_str().unwrap(),
        "--attach",
        "tracepoint:nonexistent:no_such_event",
        "--",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "oxbpf: tracepoint not found: nonexistent:no_such_event (`oxbpf list tracepoints '*no_such_event*'` finds tracepoints by name; `oxbpf list tracepoints` lists them all)\n"
    );
}

#[test]
fn c_syntax_errors_show_clangs_messages() {
    require_clang!();
    let src = scratch_file("cli-bad-syntax.c", b"int f(void *ctx) { return 1 }\n");
    let o = oxbpf(&["run", src.to_str().unwrap(), "--", "true"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.starts_with(&format!(
            "oxbpf: {0}: clang failed:\n{0}:1:28: error: expected ';' after return statement\n",
            src.display()
        )),
        "{err}"
    );
    assert!(err.ends_with("1 error generated.\n"), "{err}");
}

#[test]
fn kernel_command_that_cannot_run_is_an_input_error() {
    require_kernel!();
    let obj = common::root().join("examples/hello.o");
    let o = oxbpf(&[
        "run",
        "--kernel",
        obj.to_str().unwrap(),
        "--attach",
        "tracepoint:syscalls:sys_enter_openat",
        "--",
        "/no/such/command",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).ends_with(
            "oxbpf: `/no/such/command` could not be executed: No such file or directory (os error 2)\n"
        ),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn refused_ptrace_attach_says_why() {
    // An unprivileged user may not trace pid 1 (another user's process).
    if effective_uid() != 0
        || std::process::Command::new("runuser")
            .arg("--help")
            .output()
            .is_err()
    {
        println!("SKIP: needs root and runuser to run oxbpf as user nobody");
        return;
    }
    let hello_o = common::root().join("examples/hello.o");
    let o = Command::new("runuser")
        .args(["-u", "nobody", "--", env!("CARGO_BIN_EXE_oxbpf"), "run"])
        .arg(&hello_o)
        .args([
            "--attach",
            "tracepoint:syscalls:sys_enter_openat",
            "-p",
            "1",
        ])
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("attaching to process 1: Operation not permitted")
            && err.contains("ptrace was refused: trace processes of your own user, or run as root"),
        "{err}"
    );
}

/// The effective user id, from /proc (no libc in this test crate).
fn effective_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2))
                .and_then(|u| u.parse().ok())
        })
        .unwrap_or(u32::MAX)
}
