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

/// Disassemble raw bytecode or an ELF object.
///
/// For raw bytecode the output assembles back
/// to the same bytes (`oxbpf asm`). For an object (`clang -target bpf`, `oxbpf build`) it
/// lists the maps and programs, then each program's linked instructions with function
/// names, map names and, when the object has BTF line info, the C source lines.
#[derive(clap::Args)]
#[command(after_help = super::EXIT_CODES)]
pub struct Args {
    /// The raw bytecode file (8-byte instruction slots) or ELF object.
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
    /// Show the x86-64 code the JIT generates under each instruction.
    #[arg(long)]
    jit: bool,
    /// JIT mode for --jit.
    #[arg(long, value_enum, default_value = "checked", requires = "jit")]
    jit_mode: JitModeArg,
    /// Objects: show only this program.
    #[arg(long, value_name = "NAME")]
    program: Option<String>,
    /// Objects: do not interleave the C source lines.
    #[arg(long)]
    no_source: bool,
}

/// JIT mode for `--jit`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum JitModeArg {
    /// Every memory access checked (programs nobody verified).
    Checked,
    /// No run-time memory checks (programs a verifier accepted).
    Verified,
}

pub fn run(a: Args) -> CmdResult {
    let bytes = match input::read_source(&a.file)? {
        input::Source::Bytecode(b) => b,
        input::Source::Text(t) if t.is_empty() => {
            return Err(Failure::input(anyhow!(
                "{}: the file is empty (no instructions to disassemble)",
                a.file.display()
            )))
        }
        input::Source::Text(_) => {
            return Err(Failure::input(anyhow!(
                "{}: the file is text, not raw bytecode or an ELF object (assembly text? `oxbpf asm` turns it into bytecode)",
                a.file.display()
            )))
        }
    };
    if bytes.starts_with(b"\x7fELF") {
        return disasm_object(&a, &bytes);
    }
    let program = input::decode(&a.file, &bytes)?;
    let opts = DisasmOptions {
        syntax: a.syntax.into(),
        labels: !a.no_labels,
        slots: a.slots,
        raw_bytes: a.raw_bytes,
    };
    if a.jit {
        print!("{}", jit_listing(&a, &program, a.jit_mode)?);
    } else {
        print!("{}", disassemble(&program, &opts));
    }
    Ok(())
}

#[cfg(target_arch = "x86_64")]
fn jit_listing(a: &Args, program: &oxbpf::Program, mode: JitModeArg) -> Result<String, Failure> {
    use oxbpf::isa::format_insn;
    use oxbpf::vm::jit::{JitOptions, JitProgram};
    let opts = match mode {
        JitModeArg::Checked => JitOptions::checked(),
        JitModeArg::Verified => JitOptions::verified(),
    };
    // SAFETY: the code is only listed, never run: no run is given any memory.
    let jit =
        unsafe { JitProgram::compile_verified(program, &oxbpf::conformance_helpers(), &opts) }
            .map_err(|e| Failure::program(anyhow!("{}: {e}", a.file.display())))?;
    let syntax: Syntax = a.syntax.into();
    let mut out = format!(
        "; {} eBPF instructions -> {} bytes of x86-64 ({} mode{})\n",
        program.len(),
        jit.code().len(),
        match mode {
            JitModeArg::Checked => "checked",
            JitModeArg::Verified => "verified",
        },
        if opts.cpu.bmi2 { ", BMI2" } else { "" }
    );
    out.push_str(&jit.listing(program, |_, _, insn| format_insn(insn, syntax)));
    Ok(out)
}

#[cfg(not(target_arch = "x86_64"))]
fn jit_listing(_: &Args, _: &oxbpf::Program, _: JitModeArg) -> Result<String, Failure> {
    Err(Failure::input(anyhow!("--jit: the JIT is x86-64 only")))
}

/// An ELF object: the listing of `oxbpf_obj::listing` (labels and slots always on).
fn disasm_object(a: &Args, bytes: &[u8]) -> CmdResult {
    let obj = oxbpf_obj::Object::parse(bytes)
        .map_err(|e| Failure::input(anyhow!("{}: {e}", a.file.display())))?;
    let opts = oxbpf_obj::listing::ListingOptions {
        syntax: a.syntax.into(),
        source: !a.no_source,
        raw_bytes: a.raw_bytes,
        program: a.program.clone(),
    };
    let text = oxbpf_obj::listing::render(&obj, &a.file.display().to_string(), &opts)
        .map_err(|e| Failure::input(anyhow!("{}: {e}", a.file.display())))?;
    print!("{text}");
    Ok(())
}
