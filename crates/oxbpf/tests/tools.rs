//! The tools of examples/tools (their drivers' own code, compiled in here) on both
//! backends: exact rows in userspace, the same rows from the kernel.
// Each tool includes examples/tools/common.rs as its own module, as its example binary does.
#![allow(clippy::duplicate_mod)]

mod common;

#[allow(dead_code)]
#[path = "../../../examples/tools/opensnoop.rs"]
mod opensnoop;

#[allow(dead_code)]
#[path = "../../../examples/tools/execsnoop.rs"]
mod execsnoop;

#[allow(dead_code)]
#[path = "../../../examples/tools/syscount.rs"]
mod syscount;

#[allow(dead_code)]
#[path = "../../../examples/tools/biolatency.rs"]
mod biolatency;

use common::{scratch_file, workload_named};
use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

/// An output buffer the tools write to, and a way to read it back.
type Buffer = Rc<RefCell<Vec<u8>>>;

fn sink() -> (Buffer, Rc<RefCell<dyn Write>>) {
    let buf = Rc::new(RefCell::new(Vec::new()));
    let out: Rc<RefCell<dyn Write>> = buf.clone();
    (buf, out)
}

fn text(buf: &Buffer) -> String {
    String::from_utf8_lossy(&buf.borrow()).into_owned()
}

/// Rows of task `comm` with the PID column replaced by `PID`.
fn rows_of(out: &str, comm: &str, comm_col: usize) -> Vec<String> {
    out.lines()
        .skip(1)
        .filter(|l| l.split_whitespace().nth(comm_col) == Some(comm))
        .map(|l| {
            let mut f: Vec<&str> = l.split_whitespace().collect();
            let pid_col = if comm_col == 0 { 1 } else { 0 };
            f[pid_col] = "PID";
            f.join(" ")
        })
        .collect()
}

fn opensnoop_rows(kernel: bool, comm: &str) -> (String, Vec<String>) {
    let w = workload_named(comm);
    let f = scratch_file(&format!("{comm}-file"), b"x");
    let args = opensnoop::Args {
        failed: false,
        target: opensnoop::common::Target {
            kernel,
            pid: None,
            command: vec![
                w.display().to_string(),
                "o".into(),
                f.display().to_string(),
                "o".into(),
                "/nonexistent-opensnoop".into(),
                "x".into(),
                "3".into(),
            ],
        },
    };
    let (buf, out) = sink();
    assert_eq!(opensnoop::run(&args, out).unwrap(), 3);
    let t = text(&buf);
    (t.clone(), rows_of(&t, comm, 1))
}

#[test]
fn opensnoop_rows_in_userspace_and_in_the_kernel() {
    require_clang!();
    let (out, rows) = opensnoop_rows(false, "osnoop-u");
    let f = scratch_file("osnoop-u-file", b"x");
    assert!(
        out.starts_with("PID    COMM               FD ERR PATH\n"),
        "{out}"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1].ends_with(&format!(" osnoop-u            3   0 {}", f.display())),
        "{out}"
    );
    assert!(
        lines[2].ends_with(" osnoop-u           -1   2 /nonexistent-opensnoop"),
        "{out}"
    );
    assert_eq!(lines[1].find(" osnoop-u"), Some(6), "{out}");
    assert_eq!(
        rows,
        [
            format!("PID osnoop-u 3 0 {}", f.display()),
            "PID osnoop-u -1 2 /nonexistent-opensnoop".to_string()
        ]
    );
    if let Some(why) = common::kernel_missing() {
        println!("SKIP (kernel part): {why}");
        return;
    }
    let (_, krows) = opensnoop_rows(true, "osnoop-k");
    let fk = scratch_file("osnoop-k-file", b"x");
    assert_eq!(
        krows,
        [
            format!("PID osnoop-k 3 0 {}", fk.display()),
            "PID osnoop-k -1 2 /nonexistent-opensnoop".to_string()
        ]
    );
}

fn execsnoop_rows(kernel: bool, comm: &str) -> (String, Vec<String>) {
    let w = workload_named(comm).display().to_string();
    let args = execsnoop::Args {
        failed: false,
        target: execsnoop::common::Target {
            kernel,
            pid: None,
            command: vec![
                w.clone(),
                "e".into(),
                w.clone(),
                "e".into(),
                "/no/such".into(),
            ],
        },
    };
    let (buf, out) = sink();
    // The second exec fails (ENOENT) and the workload exits 127.
    assert_eq!(execsnoop::run(&args, out).unwrap(), 127);
    let t = text(&buf);
    // PCOMM, PID, PPID, RET, ARGS: drop the PPID (read from /proc, may be gone).
    let rows = t
        .lines()
        .skip(1)
        .filter(|l| l.split_whitespace().next() == Some(comm))
        .map(|l| {
            let mut f: Vec<&str> = l.split_whitespace().collect();
            f[1] = "PID";
            f.remove(2);
            f.join(" ")
        })
        .collect();
    (t, rows)
}

#[test]
fn execsnoop_rows_in_userspace_and_in_the_kernel() {
    require_clang!();
    let (out, rows) = execsnoop_rows(false, "esnoop-u");
    let w = workload_named("esnoop-u").display().to_string();
    assert!(
        out.starts_with("PCOMM            PID    PPID   RET ARGS\n"),
        "{out}"
    );
    assert_eq!(
        rows,
        [
            format!("esnoop-u PID 0 {w} e {w} e /no/such"),
            format!("esnoop-u PID 0 {w} e /no/such"),
            "esnoop-u PID -2 /no/such".to_string(),
        ],
        "{out}"
    );
    // In userspace the row is written while the process is stopped: its parent is us.
    let me = std::process::id().to_string();
    let first = out.lines().nth(1).unwrap();
    assert_eq!(first.split_whitespace().nth(2), Some(me.as_str()), "{out}");
    if let Some(why) = common::kernel_missing() {
        println!("SKIP (kernel part): {why}");
        return;
    }
    let (kout, krows) = execsnoop_rows(true, "esnoop-k");
    let wk = workload_named("esnoop-k").display().to_string();
    assert_eq!(
        krows,
        [
            format!("esnoop-k PID 0 {wk} e {wk} e /no/such"),
            format!("esnoop-k PID 0 {wk} e /no/such"),
            "esnoop-k PID -2 /no/such".to_string(),
        ],
        "{kout}"
    );
}

fn syscount_rows(kernel: bool, comm: &str) -> Vec<String> {
    let w = workload_named(comm).display().to_string();
    let f = scratch_file(&format!("{comm}-data"), b"abc");
    let args = syscount::Args {
        latency: true,
        top: 10,
        comm: None,
        target: syscount::common::Target {
            kernel,
            pid: None,
            command: vec![
                w,
                "o".into(),
                "/".into(),
                "r".into(),
                f.display().to_string(),
                "3".into(),
                "w".into(),
                "5".into(),
                "x".into(),
                "0".into(),
            ],
        },
    };
    let (buf, out) = sink();
    assert_eq!(syscount::run(&args, out).unwrap(), 0);
    let t = text(&buf);
    let lines: Vec<&str> = t.lines().collect();
    assert!(lines[0].starts_with('[') && lines[0].ends_with(']'), "{t}");
    assert_eq!(
        lines[1], "SYSCALL                   COUNT        TIME (us)",
        "{t}"
    );
    assert!(
        t.contains("\n     usecs               : count     distribution\n"),
        "{t}"
    );
    lines[2..]
        .iter()
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(f[2].parse::<f64>().is_ok(), "{l}");
            format!("{} {}", f[0], f[1])
        })
        .collect()
}

#[test]
fn syscount_counts_in_userspace_and_in_the_kernel() {
    require_clang!();
    // Counted at exit, as BCC does: exit_group never returns; execve returns into the new
    // image.
    let want = ["close 3", "openat 3", "read 1", "write 1", "execve 1"];
    assert_eq!(syscount_rows(false, "scount-u"), want);
    if let Some(why) = common::kernel_missing() {
        println!("SKIP (kernel part): {why}");
        return;
    }
    assert_eq!(syscount_rows(true, "scount-k"), want);
}

#[test]
fn biolatency_in_the_kernel_only() {
    let args = biolatency::Args {
        target: biolatency::common::Target {
            kernel: false,
            pid: None,
            command: vec!["true".into()],
        },
    };
    let (_, out) = sink();
    let e = biolatency::run(&args, out).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("tracepoint:block:block_rq_issue: the userspace backend has"),
        "{e}"
    );
    if let Some(why) = common::kernel_missing() {
        println!("SKIP: {why}");
        return;
    }
    // 64 direct (uncached) writes, each one block request.
    let file = common::root()
        .join("target")
        .join(format!("biolatency-{}", std::process::id()));
    let args = biolatency::Args {
        target: biolatency::common::Target {
            kernel: true,
            pid: None,
            command: vec![
                "dd".into(),
                "if=/dev/zero".into(),
                format!("of={}", file.display()),
                "bs=4096".into(),
                "count=64".into(),
                "oflag=direct".into(),
                "conv=fsync".into(),
                "status=none".into(),
            ],
        },
    };
    let (buf, out) = sink();
    let code = biolatency::run(&args, out).unwrap();
    let _ = std::fs::remove_file(&file);
    if code != 0 {
        println!("SKIP: dd with O_DIRECT failed here ({code})");
        return;
    }
    let t = text(&buf);
    assert!(
        t.starts_with("     usecs               : count     distribution\n"),
        "{t}"
    );
    let total: u64 = t
        .lines()
        .skip(1)
        .map(|l| {
            l.split(':')
                .nth(1)
                .unwrap()
                .split('|')
                .next()
                .unwrap()
                .trim()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert!(total >= 64, "{t}");
}
