//! `oxbpf doctor`: what this machine supports for eBPF and what it lacks.

use super::CmdResult;

/// Check what this machine supports (bpf() permission, kernel version, BTF, tracefs,
/// kprobes, fentry, uprobes, XDP, memlock, clang, ...), each with the reason and a remedy.
///
/// Every check tries the real thing (loads a two-instruction program, attaches it for a
/// moment, compiles a line of C). Exit status 0 when everything works, 1 when something
/// is missing or refused (the table says what and how to fix it).
#[derive(clap::Args)]
#[command(after_help = EXIT)]
pub struct Args {}

const EXIT: &str = "\
Exit status:
  0  everything works
  1  something is missing or refused (the table says why and how to fix it)";

pub fn run(_a: Args) -> CmdResult {
    let report = oxbpf_kernel::doctor::report();
    print!("{}", report.render());
    let problems: Vec<&str> = report.problems().map(|f| f.name).collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(super::Failure::program(anyhow::anyhow!(
            "not available here: {} (see the table for why and how to fix it)",
            problems.join(", ")
        )))
    }
}
