//! biolatency: block I/O latency as a histogram, as BCC's biolatency prints it. Kernel
//! only: the userspace backend has no block layer, and says so.
//!
//! ```text
//! cargo run --example biolatency -- --kernel                                   # Ctrl-C
//! cargo run --example biolatency -- --kernel -- dd if=/dev/vda of=/dev/null bs=4k count=256 iflag=direct
//! ```
//!
//! ```text
//! Tracing block device I/O... Hit Ctrl-C to end.
//!      usecs               : count     distribution
//!          0 -> 1          : 0        |                                        |
//!         64 -> 127        : 12       |****************************************|
//! ```

#[path = "common.rs"]
pub mod common;

use clap::Parser;
use common::{line, Out, Target};
use oxbpf::BpfError;

/// Summarize block device I/O latency as a histogram.
#[derive(Parser, Debug, Default)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
}

/// Runs the tool, writing to `out`; returns the exit status.
pub fn run(args: &Args, out: Out) -> Result<i32, BpfError> {
    let mut b = common::load("biolatency", &args.target)?;
    b.attach_auto()?;
    if args.target.command.is_empty() {
        line(&out, "Tracing block device I/O... Hit Ctrl-C to end.");
    }
    let code = common::run(&mut b, &args.target)?;
    let text = b.map("dist")?.log2_hist("usecs")?;
    let _ = write!(out.borrow_mut(), "{text}");
    Ok(code)
}

#[allow(dead_code)]
fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args, common::stdout()) {
        Ok(code) => std::process::ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => common::fail("biolatency", &e),
    }
}
