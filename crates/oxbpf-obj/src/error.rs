//! Object loading errors. Each names the place (section, symbol, map, instruction) and
//! the cause.

use oxbpf_isa::DecodeErrorKind;
use thiserror::Error;

/// Why an object could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ObjError {
    /// Not an ELF file, or a structurally broken one (bad header, section table, symbol
    /// table or string table).
    #[error("malformed ELF object: {0}")]
    Elf(String),
    /// A well-formed ELF file that is not a little-endian 64-bit eBPF relocatable object.
    #[error("not an eBPF object: {0}")]
    NotBpf(String),
    /// A problem with one section as a whole.
    #[error("section `{section}`: {cause}")]
    Section { section: String, cause: String },
    /// A problem at one instruction of a code section (relocations, calls). `insn` is the
    /// 8-byte slot index inside the section, as `llvm-objdump -d` numbers it.
    #[error("section `{section}`, instruction {insn}: {cause}")]
    Insn {
        section: String,
        insn: usize,
        cause: String,
    },
    /// An instruction that does not decode or a jump/call that lands outside the linked
    /// program. `insn` is the slot index inside the section.
    #[error("section `{section}`, function `{function}`, instruction {insn}: {kind}")]
    Decode {
        section: String,
        function: String,
        insn: usize,
        kind: DecodeErrorKind,
    },
    /// A problem with one symbol.
    #[error("symbol `{symbol}`: {cause}")]
    Symbol { symbol: String, cause: String },
    /// A malformed or unsupported map definition.
    #[error("map `{map}`: {cause}")]
    Map { map: String, cause: String },
    /// Malformed `.BTF`.
    #[error("section `.BTF`: {0}")]
    Btf(String),
    /// Malformed `.BTF.ext`.
    #[error("section `.BTF.ext`: {0}")]
    BtfExt(String),
    /// Something valid that oxbpf does not support (extern symbols, kfunc calls, ...).
    /// `place` names where it was found.
    #[error("{place}: unsupported: {what}")]
    Unsupported { place: String, what: String },
    /// aya-obj rejected the object (or panicked on it; see [`crate::aya_compat`]).
    #[error("aya-obj: {0}")]
    Aya(String),
    /// A program looked up by name does not exist.
    #[error("no program named `{0}` in the object")]
    NoSuchProgram(String),
}

impl ObjError {
    pub(crate) fn section(section: &str, cause: impl Into<String>) -> ObjError {
        ObjError::Section {
            section: section.to_string(),
            cause: cause.into(),
        }
    }

    pub(crate) fn insn(section: &str, insn: usize, cause: impl Into<String>) -> ObjError {
        ObjError::Insn {
            section: section.to_string(),
            insn,
            cause: cause.into(),
        }
    }
}
