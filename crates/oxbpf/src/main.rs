//! The `oxbpf` command-line tool. See `oxbpf --help`; each subcommand lives in its own
//! module under `cli/`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
