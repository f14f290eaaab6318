//! opensnoop: trace open(2)/openat(2), as BCC's opensnoop.
//!
//! ```text
//! cargo run --example opensnoop -- -- cat /etc/hostname        # userspace, a command
//! cargo run --example opensnoop -- --kernel                    # the whole system, Ctrl-C
//! cargo run --example opensnoop -- --kernel -p 1234 -x         # one process, failures
//! ```
//!
//! ```text
//! PID    COMM               FD ERR PATH
//! 5123   cat                 3   0 /etc/ld.so.cache
//! ```

#[path = "common.rs"]
pub mod common;

use clap::Parser;
use common::{cstr, i64_at, line, u32_at, Out, Target};
use oxbpf::BpfError;

/// Trace open() and openat() calls.
#[derive(Parser, Debug, Default)]
pub struct Args {
    /// Only failed opens.
    #[arg(short = 'x', long)]
    pub failed: bool,
    #[command(flatten)]
    pub target: Target,
}

/// Runs the tool, writing rows to `out`; returns the exit status.
pub fn run(args: &Args, out: Out) -> Result<i32, BpfError> {
    let mut b = common::load("opensnoop", &args.target)?;
    let pid = args.target.pid.unwrap_or(0) as u32;
    b.map("config")?
        .set::<u32, [u32; 2]>(&0, &[pid, args.failed as u32])?;
    b.attach_auto()?;
    line(
        &out,
        &format!("{:<6} {:<16} {:>4} {:>3} PATH", "PID", "COMM", "FD", "ERR"),
    );
    let o = out.clone();
    b.open_ring_buffer("events", move |e| {
        // struct event: pid, tid, ret (s64 at 8), flags, comm[16] at 20, fname at 36.
        let ret = i64_at(e, 8);
        let (fd, err) = if ret >= 0 { (ret, 0) } else { (-1, -ret) };
        line(
            &o,
            &format!(
                "{:<6} {:<16} {:>4} {:>3} {}",
                u32_at(e, 0),
                cstr(&e[20.min(e.len())..36.min(e.len())]),
                fd,
                err,
                cstr(&e[36.min(e.len())..])
            ),
        );
    })?;
    common::run(&mut b, &args.target)
}

#[allow(dead_code)]
fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args, common::stdout()) {
        Ok(code) => std::process::ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => common::fail("opensnoop", &e),
    }
}
