//! `oxbpf asm`: assembly text to raw bytecode.

use super::{input, CmdResult, Failure};
use anyhow::anyhow;
use std::io::Write;
use std::path::PathBuf;

const EXIT: &str = "\
Exit status:
  0  success
  2  usage error, or input that could not be read or assembled (the error names line:column)";

/// Assemble eBPF assembly (LLVM or conformance syntax, mixed freely) into raw bytecode.
#[derive(clap::Args)]
#[command(after_help = EXIT)]
pub struct Args {
    /// The assembly file.
    file: PathBuf,
    /// Where to write the bytecode ("-" for stdout). Default: FILE with the extension .bin.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
}

pub fn run(a: Args) -> CmdResult {
    let text = match input::read_source(&a.file)? {
        input::Source::Text(t) => t,
        input::Source::Bytecode(_) => {
            return Err(Failure::input(anyhow!(
                "{}: not assembly text (the file has NUL bytes or is not UTF-8)",
                a.file.display()
            )))
        }
    };
    let program = input::assemble(&a.file, &text)?;
    let bytes = program.to_bytes();
    let out = a.output.unwrap_or_else(|| a.file.with_extension("bin"));
    if out.as_os_str() == "-" {
        std::io::stdout()
            .write_all(&bytes)
            .map_err(|e| Failure::input(anyhow!("writing to stdout: {e}")))?;
        return Ok(());
    }
    if out == a.file {
        return Err(Failure::input(anyhow!(
            "{}: refusing to overwrite the input; give -o",
            out.display()
        )));
    }
    std::fs::write(&out, &bytes)
        .map_err(|e| Failure::input(anyhow!("{}: cannot write: {e}", out.display())))?;
    eprintln!(
        "{}: {} instructions, {} bytes",
        out.display(),
        program.len(),
        bytes.len()
    );
    Ok(())
}
