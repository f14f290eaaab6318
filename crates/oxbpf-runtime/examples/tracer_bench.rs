//! Cost of tracing system calls: a workload makes N `getppid()` calls and times them
//! itself, untraced, and under the tracer with events on different syscalls.
//!
//! `cargo run --release -p oxbpf-runtime --example tracer_bench [N]`

use oxbpf_runtime::tracer::{Action, Stdio, SyscallInterest, TraceCommand, Tracer};
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The workload: wait for a line on stdin when asked (attach mode), then N getppid calls;
/// writes ns per call to `out`.
fn workload(n: u64, out: &Path, wait: bool) {
    if wait {
        let mut l = String::new();
        let _ = std::io::stdin().lock().read_line(&mut l);
    }
    let t = Instant::now();
    let mut acc = 0u64;
    for _ in 0..n {
        acc = acc.wrapping_add(std::os::unix::process::parent_id() as u64);
    }
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    std::fs::write(out, format!("{ns:.1} {acc}\n")).unwrap();
}

fn result(out: &Path) -> f64 {
    let s = std::fs::read_to_string(out).unwrap();
    s.split_whitespace().next().unwrap().parse().unwrap()
}

fn traced(n: u64, out: &Path, events: &[&str]) -> (f64, u64) {
    let mut i = SyscallInterest::new();
    for e in events {
        i.add_event(e).unwrap();
    }
    let mut cmd = TraceCommand::new(std::env::current_exe().unwrap());
    cmd.args(["--workload", &n.to_string()])
        .arg(out)
        .stdout(Stdio::Inherit);
    let mut count = 0u64;
    let res = Tracer::spawn(cmd, i)
        .unwrap()
        .run(|ev| {
            // What a runtime does per event before running programs: the context bytes.
            count += ev.ctx_bytes().len() as u64 & 1;
            count += 1;
            Action::Continue
        })
        .unwrap();
    assert_eq!(res.exit.map(|e| e.code()), Some(0));
    (result(out), res.stats.events)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--workload") {
        let n: u64 = args[2].parse().unwrap();
        workload(
            n,
            Path::new(&args[3]),
            args.get(4).is_some_and(|a| a == "--wait"),
        );
        return;
    }
    let n: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let out = std::env::temp_dir().join(format!("oxbpf-tracer-bench-{}", std::process::id()));
    let exe = std::env::current_exe().unwrap();

    let st = Command::new(&exe)
        .args(["--workload", &n.to_string()])
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let base = result(&out);
    println!("{n} getppid() calls, ns per call:");
    println!("| mode | ns/call | added ns/call | events |");
    println!("| --- | ---: | ---: | ---: |");
    println!("| untraced | {base:.1} | - | - |");
    for (name, events) in [
        (
            "traced, event on another syscall (`sys_enter_openat`)",
            &["sys_enter_openat"][..],
        ),
        ("traced, `sys_enter_getppid`", &["sys_enter_getppid"][..]),
        (
            "traced, `sys_enter_getppid` + `sys_exit_getppid`",
            &["sys_enter_getppid", "sys_exit_getppid"][..],
        ),
    ] {
        let (ns, ev) = traced(n, &out, events);
        println!("| {name} | {ns:.1} | {:.1} | {ev} |", ns - base);
    }

    // Attach mode: every syscall stops twice, events or not.
    let mut child = Command::new(&exe)
        .args(["--workload", &n.to_string()])
        .arg(&out)
        .arg("--wait")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut i = SyscallInterest::new();
    i.add_event("sys_enter_openat").unwrap();
    let t = Tracer::attach(child.id() as i32, i).unwrap();
    let go = std::thread::spawn(move || {
        stdin.write_all(b"go\n").unwrap();
    });
    let res = t.run(|_| Action::Continue).unwrap();
    go.join().unwrap();
    let _ = child.wait();
    let ns = result(&out);
    println!(
        "| attached (`-p`), event on another syscall | {ns:.1} | {:.1} | {} |",
        ns - base,
        res.stats.events
    );
    let _ = std::fs::remove_file(&out);
}
