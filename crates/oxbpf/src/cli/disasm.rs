//! `oxbpf disasm`: raw bytecode to assembly text.

use super::{input, CmdResult, Failure};
use anyhow::anyhow;
use oxbpf::isa::{disassemble, DisasmOptions, Syntax};
use std::path::PathBuf;

/// Assembly syntax of the output.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SyntaxArg {
    /// LLVM / Linux syntax, as llvm-objdump and the verifier print it (`r0 = *(u32 *)(r1 + 4)`).
    Llvm,
    /// The uBPF-style syntax of the bpf_conformance suite (`ldxw %r0, [%r1+4]`).
    Conformance,
}

impl From<SyntaxArg> for Syntax {
    fn from(s: SyntaxArg) -> Syntax {
        match s {
            SyntaxArg::Llvm => Syntax::Llvm,
            SyntaxArg::Conformance => Syntax::Conformance,
        }
    }
}

/// Disassemble raw bytecode. The output assembles back to the same bytes (`oxbpf asm`).
#[derive(clap::Args)]
#[command(after_help = super::EXIT_CODES)]
pub struct Args {
    /// The raw bytecode file (8-byte instruction slots).
    file: PathBuf,
    /// Output syntax.
    #[arg(long, value_enum, default_value = "llvm")]
    syntax: SyntaxArg,
    /// Write branch offsets instead of label lines and label names.
    #[arg(long)]
    no_labels: bool,
    /// Start each line with the instruction's slot number.
    #[arg(long)]
    slots: bool,
    /// Show each instruction's bytes.
    #[arg(long)]
    raw_bytes: bool,
}

pub fn run(a: Args) -> CmdResult {
    let bytes = match input::read_source(&a.file)? {
        input::Source::Bytecode(b) => b,
        input::Source::Text(_) => {
            return Err(Failure::input(anyhow!(
                "{}: the file is text, not raw bytecode",
                a.file.display()
            )))
        }
    };
    let program = input::decode(&a.file, &bytes)?;
    let opts = DisasmOptions {
        syntax: a.syntax.into(),
        labels: !a.no_labels,
        slots: a.slots,
        raw_bytes: a.raw_bytes,
    };
    print!("{}", disassemble(&program, &opts));
    Ok(())
}
