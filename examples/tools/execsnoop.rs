//! execsnoop: trace execve(2), as BCC's execsnoop.
//!
//! ```text
//! cargo run --example execsnoop -- -- sh -c 'ls / > /dev/null; id'   # userspace
//! cargo run --example execsnoop -- --kernel                          # whole system
//! ```
//!
//! ```text
//! PCOMM            PID    PPID   RET ARGS
//! ls               5310   5309     0 /usr/bin/ls /
//! ```
//! PPID is read from /proc when the event arrives (BCC does the same when the kernel does
//! not give it); `?` when the process is gone by then.

#[path = "common.rs"]
pub mod common;

use clap::Parser;
use common::{cstr, line, u32_at, Out, Target};
use oxbpf::BpfError;

/// Trace new processes (execve calls).
#[derive(Parser, Debug, Default)]
pub struct Args {
    /// Include failed execs (they are shown by default, as BCC does; -x shows only them).
    #[arg(short = 'x', long)]
    pub failed: bool,
    #[command(flatten)]
    pub target: Target,
}

const MAXARG: usize = 16;
const ARGSIZE: usize = 64;
/// Offsets in `struct event`.
const COMM: usize = 20;
const ARGS: usize = 36;

/// The parent of `pid`, from /proc.
fn ppid(pid: u32) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// One event as BCC prints it.
pub fn row(e: &[u8]) -> String {
    let pid = u32_at(e, 0);
    let ret = u32_at(e, 8) as i32;
    let argc = (u32_at(e, 12) as usize).min(MAXARG);
    let truncated = u32_at(e, 16) != 0;
    let mut args: Vec<String> = (0..argc)
        .map(|i| {
            cstr(
                e.get(ARGS + i * ARGSIZE..ARGS + (i + 1) * ARGSIZE)
                    .unwrap_or(&[]),
            )
        })
        .collect();
    if truncated {
        args.push("...".into());
    }
    let ppid = match u32_at(e, 4) {
        0 => ppid(pid).map_or("?".to_string(), |p| p.to_string()),
        p => p.to_string(),
    };
    format!(
        "{:<16} {:<6} {:<6} {:>3} {}",
        cstr(e.get(COMM..COMM + 16).unwrap_or(&[])),
        pid,
        ppid,
        ret,
        args.join(" ")
    )
}

/// Runs the tool, writing rows to `out`; returns the exit status.
pub fn run(args: &Args, out: Out) -> Result<i32, BpfError> {
    let mut b = common::load("execsnoop", &args.target)?;
    if let Some(pid) = args.target.pid {
        b.map("target_pid")?.set::<u32, u32>(&0, &(pid as u32))?;
    }
    b.attach_auto()?;
    line(
        &out,
        &format!(
            "{:<16} {:<6} {:<6} {:>3} ARGS",
            "PCOMM", "PID", "PPID", "RET"
        ),
    );
    let o = out.clone();
    let failed = args.failed;
    b.open_ring_buffer("events", move |e| {
        if failed && u32_at(e, 8) as i32 >= 0 {
            return;
        }
        line(&o, &row(e));
    })?;
    common::run(&mut b, &args.target)
}

#[allow(dead_code)]
fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args, common::stdout()) {
        Ok(code) => std::process::ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => common::fail("execsnoop", &e),
    }
}
