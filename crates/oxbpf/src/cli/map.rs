//! `oxbpf map`: maps kept between runs by `oxbpf exec --state DIR`.

use super::{CmdResult, Failure};
use anyhow::anyhow;
use std::path::PathBuf;

const EXIT: &str = "\
Exit status:
  0  success
  2  usage error, or a state directory or saved map that does not exist or could not be read";

/// Show maps that `oxbpf exec prog.o --state DIR` kept.
#[derive(clap::Args)]
#[command(after_help = EXIT)]
pub struct Args {
    #[command(subcommand)]
    command: MapCommand,
}

#[derive(clap::Subcommand)]
enum MapCommand {
    /// Print a map's entries (as `bpftool map dump` does).
    Dump {
        /// The map's name.
        name: String,
        /// The state directory given to `oxbpf exec --state`.
        #[arg(long, value_name = "DIR", default_value = ".oxbpf-state")]
        state: PathBuf,
    },
    /// List the maps kept in a state directory.
    List {
        /// The state directory given to `oxbpf exec --state`.
        #[arg(long, value_name = "DIR", default_value = ".oxbpf-state")]
        state: PathBuf,
    },
}

pub fn run(a: Args) -> CmdResult {
    match a.command {
        MapCommand::Dump { name, state } => super::exec_obj::dump_saved(&state, &name),
        MapCommand::List { state } => {
            if !state.is_dir() {
                return Err(Failure::input(anyhow!(
                    "{}: no such state directory (made by `oxbpf exec prog.o --state DIR`)",
                    state.display()
                )));
            }
            for n in super::exec_obj::saved_names(&state) {
                println!("{n}");
            }
            Ok(())
        }
    }
}
