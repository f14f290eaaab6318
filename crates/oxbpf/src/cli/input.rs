//! Reading program files: raw bytecode or assembly text, told apart by content.

use super::Failure;
use anyhow::anyhow;
use oxbpf::Program;
use std::path::Path;

/// What a program file holds.
pub enum Source {
    /// Raw bytecode (8-byte instruction slots).
    Bytecode(Vec<u8>),
    /// Assembly text.
    Text(String),
}

/// Reads `path` and classifies it: a file that is valid UTF-8 without NUL bytes is assembly
/// text, anything else is raw bytecode (every real program has NUL bytes: `exit` is
/// `95 00 00 00 00 00 00 00`).
pub fn read_source(path: &Path) -> Result<Source, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::input(anyhow!("{}: cannot read: {e}", path.display())))?;
    if bytes.contains(&0) {
        return Ok(Source::Bytecode(bytes));
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Source::Text(text)),
        Err(e) => Ok(Source::Bytecode(e.into_bytes())),
    }
}

/// Decodes raw bytecode, naming the file and instruction slot on error.
pub fn decode(path: &Path, bytes: &[u8]) -> Result<Program, Failure> {
    Program::decode(bytes).map_err(|e| Failure::input(anyhow!("{}: {e}", path.display())))
}

/// Assembles text, naming the file, line and column on error.
pub fn assemble(path: &Path, text: &str) -> Result<Program, Failure> {
    oxbpf::isa::assemble(text).map_err(|e| {
        Failure::input(anyhow!(
            "{}:{}:{}: {}",
            path.display(),
            e.line,
            e.column,
            e.message
        ))
    })
}

/// Reads a program file, raw bytecode or assembly text.
pub fn read_program(path: &Path) -> Result<Program, Failure> {
    match read_source(path)? {
        Source::Bytecode(b) => decode(path, &b),
        Source::Text(text) => assemble(path, &text),
    }
}
