//! `oxbpf list`: what can be attached to on this machine.

use super::{CmdResult, Failure};
use anyhow::anyhow;
use std::io::Write;

/// List attach points of this machine.
#[derive(clap::Args)]
#[command(after_help = EXIT)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

const EXIT: &str = "\
Exit status:
  0  success
  1  nothing matches the pattern
  2  usage error, or tracefs could not be found or mounted";

#[derive(clap::Subcommand)]
enum What {
    /// Kernel tracepoints, as CATEGORY:NAME, sorted (mounts tracefs when needed).
    ///
    /// PATTERN is a glob (`*`, `?`, `[...]`) matched against the name and against
    /// CATEGORY:NAME, or CATEGORY:NAME globs (`syscalls:sys_enter_open*`); a leading
    /// `tracepoint:` or `t:` is accepted, as in bpftrace.
    Tracepoints {
        /// Only tracepoints matching this glob.
        pattern: Option<String>,
    },
}

pub fn run(a: Args) -> CmdResult {
    match a.what {
        What::Tracepoints { pattern } => {
            let tracefs = oxbpf_kernel::Tracefs::find_or_mount().map_err(Failure::input)?;
            let list = tracefs
                .tracepoints(pattern.as_deref())
                .map_err(Failure::input)?;
            if list.is_empty() {
                return Err(Failure::program(anyhow!(
                    "no tracepoint matches `{}`",
                    pattern.as_deref().unwrap_or("*")
                )));
            }
            let mut out = std::io::stdout().lock();
            for t in list {
                // A closed pipe (`| head`) ends the listing quietly.
                if writeln!(out, "{t}").is_err() {
                    break;
                }
            }
            Ok(())
        }
    }
}
