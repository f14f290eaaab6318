//! Command-line interface: one module per subcommand.
//!
//! Exit codes (also in `oxbpf --help`):
//! - 0: success;
//! - 1: the program was rejected by the engine or trapped while running;
//! - 2: usage error, or input that could not be read, parsed, assembled or decoded.
//!
//! Errors go to stderr as `oxbpf: FILE: place: cause`.

mod asm;
mod build;
mod disasm;
mod doctor;
mod exec;
mod exec_obj;
mod input;
mod list;
mod map;
mod run;
mod verify;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

const EXIT_CODES: &str = "\
Exit status:
  0  success
  1  the program was rejected by the engine or trapped while running
  2  usage error, or input that could not be read, parsed, assembled or decoded";

#[derive(Parser)]
#[command(name = "oxbpf", version, about = "eBPF end to end: run, assemble and inspect eBPF programs", after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Asm(asm::Args),
    Build(build::Args),
    Disasm(disasm::Args),
    Doctor(doctor::Args),
    Exec(exec::Args),
    List(list::Args),
    Run(run::Args),
    Map(map::Args),
    Verify(verify::Args),
}

/// A failed command: the message and the exit status class.
pub struct Failure {
    code: u8,
    /// `None`: exit with `code` silently (the status of a command `oxbpf run` ran).
    error: Option<anyhow::Error>,
}

impl Failure {
    /// Bad invocation or input (exit status 2).
    pub fn input(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: 2,
            error: Some(error.into()),
        }
    }

    /// The program was rejected or trapped (exit status 1).
    pub fn program(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: 1,
            error: Some(error.into()),
        }
    }

    /// Exit with `code` and no message.
    pub fn exit(code: u8) -> Failure {
        Failure { code, error: None }
    }
}

/// The result of a subcommand.
pub type CmdResult = Result<(), Failure>;

/// The parser for `--engine`, shared by subcommands.
pub fn parse_engine(s: &str) -> Result<oxbpf::EngineKind, String> {
    oxbpf::engine_by_name(s).ok_or_else(|| {
        let names: Vec<&str> = oxbpf::ENGINES.iter().map(|(n, _)| *n).collect();
        format!("unknown engine {s:?} (available: {})", names.join(", "))
    })
}

pub fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Asm(a) => asm::run(a),
        Command::Build(a) => build::run(a),
        Command::Disasm(a) => disasm::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Exec(a) => exec::run(a),
        Command::List(a) => list::run(a),
        Command::Run(a) => run::run(a),
        Command::Map(a) => map::run(a),
        Command::Verify(a) => verify::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if let Some(e) = &f.error {
                eprintln!("oxbpf: {e:#}");
            }
            ExitCode::from(f.code)
        }
    }
}
