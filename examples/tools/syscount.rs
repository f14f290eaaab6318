//! syscount: count system calls, with their time and a latency histogram (-L), as BCC's
//! syscount prints them.
//!
//! ```text
//! cargo run --example syscount -- -L -- ls /                # userspace, a command
//! cargo run --example syscount -- --kernel -c ls -- ls /    # kernel, processes named ls
//! cargo run --example syscount -- --kernel                  # whole system until Ctrl-C
//! ```
//!
//! ```text
//! [14:03:51]
//! SYSCALL                   COUNT        TIME (us)
//! mmap                         11           42.170
//! ...
//!      usecs               : count     distribution
//!          0 -> 1          : 52       |****************************************|
//! ```
//! In the kernel a command's system calls are picked out by its name (`-c`, by default
//! the command's file name); -p PID picks one process.

#[path = "common.rs"]
pub mod common;

use clap::Parser;
use common::{line, Out, Target};
use oxbpf::BpfError;

/// Count system calls.
#[derive(Parser, Debug, Default)]
pub struct Args {
    /// Show the time spent in each call and a latency histogram.
    #[arg(short = 'L', long)]
    pub latency: bool,
    /// Print the top N calls.
    #[arg(short = 'T', long, default_value_t = 10)]
    pub top: usize,
    /// Count only processes with this name (kernel; default with a command: its name).
    #[arg(short = 'c', long, value_name = "COMM")]
    pub comm: Option<String>,
    #[command(flatten)]
    pub target: Target,
}

/// The name of a system call number.
fn name(nr: u32) -> String {
    oxbpf_runtime::tracer::syscalls::by_nr(nr)
        .map_or_else(|| format!("[unknown: {nr}]"), |s| s.name.to_string())
}

/// `HH:MM:SS` of now (UTC).
fn clock() -> String {
    let s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{:02}:{:02}:{:02}", (s / 3600) % 24, (s / 60) % 60, s % 60)
}

/// The report BCC prints, from `(nr, count, total_ns)` rows and the histogram slots.
pub fn report(mut rows: Vec<(u32, u64, u64)>, hist: &[u64], args: &Args) -> String {
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    rows.truncate(args.top);
    let mut s = format!("[{}]\n", clock());
    if args.latency {
        s.push_str(&format!(
            "{:<22} {:>8} {:>16}\n",
            "SYSCALL", "COUNT", "TIME (us)"
        ));
        for (nr, count, ns) in rows {
            s.push_str(&format!(
                "{:<22} {:>8} {:>16.3}\n",
                name(nr),
                count,
                ns as f64 / 1e3
            ));
        }
        s.push('\n');
        s.push_str(&oxbpf::hist::log2_hist(hist, "usecs"));
    } else {
        s.push_str(&format!("{:<22} {:>8}\n", "SYSCALL", "COUNT"));
        for (nr, count, _) in rows {
            s.push_str(&format!("{:<22} {:>8}\n", name(nr), count));
        }
    }
    s
}

/// Runs the tool, writing to `out`; returns the exit status.
pub fn run(args: &Args, out: Out) -> Result<i32, BpfError> {
    let mut b = common::load("syscount", &args.target)?;
    let comm = match (&args.comm, args.target.kernel, args.target.command.first()) {
        (Some(c), _, _) => c.clone(),
        (None, true, Some(cmd)) => std::path::Path::new(cmd)
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned()),
        _ => String::new(),
    };
    let mut config = [0u8; 24];
    config[..4].copy_from_slice(&(args.target.pid.unwrap_or(0) as u32).to_ne_bytes());
    let c = comm.as_bytes();
    config[8..8 + c.len().min(15)].copy_from_slice(&c[..c.len().min(15)]);
    b.map("config")?
        .update(&0u32.to_ne_bytes(), &config, oxbpf::bpf::BPF_ANY)?;
    b.attach_auto()?;
    if args.target.command.is_empty() {
        line(
            &out,
            &format!(
                "Tracing syscalls, printing top {}... Ctrl+C to quit.",
                args.top
            ),
        );
    }
    let code = common::run(&mut b, &args.target)?;
    let rows: Vec<(u32, u64, u64)> = b
        .map("data")?
        .iter::<u32, [u64; 2]>()?
        .into_iter()
        .map(|(nr, [count, ns])| (nr, count, ns))
        .collect();
    let hist = b.map("latency_hist")?.hist_slots()?;
    let text = report(rows, &hist, args);
    let _ = write!(out.borrow_mut(), "{text}");
    Ok(code)
}

#[allow(dead_code)]
fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args, common::stdout()) {
        Ok(code) => std::process::ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => common::fail("syscount", &e),
    }
}
