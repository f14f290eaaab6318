//! `oxbpf-conformance`: a bpf_conformance plugin.
//!
//! Protocol (see the suite's README): `oxbpf-conformance [MEMORY] [--engine NAME]`. MEMORY,
//! when present, is the test's input memory as hex (`"aa  bb  "`); the program arrives on
//! stdin as hex. The program runs with `r1` = a writable copy of the memory and `r2` = its
//! length, helper 5 returning its first argument. On success `r0` is printed in hex and the
//! exit status is 0; when the program is rejected or traps, the error goes to stderr and the
//! exit status is 1 (2 for a malformed invocation).

use clap::Parser;
use oxbpf::{conformance_helpers, engine_by_name, engine_name, ENGINES};
use std::io::Read;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "oxbpf-conformance",
    version,
    about = "bpf_conformance plugin: runs the hex program on stdin and prints r0 in hex"
)]
struct Args {
    /// Input memory as hex bytes (the suite passes it first, only for tests with memory).
    memory: Option<String>,
    /// Engine that runs the program.
    #[arg(long, default_value = "interp", value_parser = parse_engine)]
    engine: oxbpf::EngineKind,
    /// Instruction budget (no limit by default).
    #[arg(long)]
    budget: Option<u64>,
}

fn parse_engine(s: &str) -> Result<oxbpf::EngineKind, String> {
    engine_by_name(s).ok_or_else(|| {
        let names: Vec<&str> = ENGINES.iter().map(|(n, _)| *n).collect();
        format!("unknown engine {s:?} (available: {})", names.join(", "))
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut memory = match args.memory.as_deref().map(oxbpf::hex::decode) {
        None => Vec::new(),
        Some(Ok(m)) => m,
        Some(Err(e)) => {
            eprintln!("oxbpf-conformance: memory argument: {e}");
            return ExitCode::from(2);
        }
    };
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("oxbpf-conformance: reading the program from stdin: {e}");
        return ExitCode::from(2);
    }
    let code = match oxbpf::hex::decode(&text) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("oxbpf-conformance: program on stdin: {e}");
            return ExitCode::from(2);
        }
    };
    let helpers = conformance_helpers();
    match oxbpf::run_raw(&code, &mut memory, &helpers, args.engine, args.budget) {
        Ok(out) => {
            println!("{:x}", out.r0);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{} engine: {e}", engine_name(args.engine));
            ExitCode::from(1)
        }
    }
}
