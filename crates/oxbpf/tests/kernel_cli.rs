//! `oxbpf doctor` and `oxbpf list tracepoints` against this machine.

use std::process::{Command, Output};

fn oxbpf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn doctor_prints_every_check() {
    let o = oxbpf(&["doctor"]);
    let out = text(&o.stdout);
    assert!(out.starts_with("FEATURE"), "{out}");
    for name in [
        "kernel", "bpf", "memlock", "btf", "tracefs", "xdp", "kprobe", "fentry", "uprobe", "clang",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("{name} "))),
            "no {name} line in\n{out}"
        );
    }
    let report = oxbpf_kernel::doctor::report();
    if report.all_supported() {
        assert_eq!(o.status.code(), Some(0));
    } else {
        assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(err.starts_with("oxbpf: not available here: "), "{err}");
        for f in report.problems() {
            assert!(err.contains(f.name), "{err}");
            assert!(out.contains(&f.reason), "{out}");
        }
    }
}

#[test]
fn list_tracepoints_with_a_pattern() {
    if let Some(reason) = oxbpf_kernel::probe::bpf_unavailable() {
        println!("SKIP: {reason}");
        return;
    }
    let o = oxbpf(&["list", "tracepoints", "syscalls:sys_enter_openat*"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let lines: Vec<String> = text(&o.stdout).lines().map(str::to_string).collect();
    assert!(
        lines.contains(&"syscalls:sys_enter_openat".to_string()),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("syscalls:sys_enter_openat")),
        "{lines:?}"
    );
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);

    let o = oxbpf(&["list", "tracepoints", "t:sched:sched_switch"]);
    assert_eq!(text(&o.stdout), "sched:sched_switch\n");

    let o = oxbpf(&["list", "tracepoints", "no_such_tracepoint_*"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "oxbpf: no tracepoint matches `no_such_tracepoint_*`\n"
    );
}
