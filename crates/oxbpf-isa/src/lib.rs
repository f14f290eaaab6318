//! The eBPF instruction set (RFC 9669 plus the Linux additions: load-acquire and
//! store-release atomics, `may_goto`, `addr_space_cast`).
//!
//! - [`Insn`] and friends: a typed, lossless model of every instruction.
//! - [`decode`] / [`Program::decode`]: bytes to instructions, every malformed case a typed
//!   [`DecodeError`] naming the instruction slot.
//! - [`Insn::encode`] / [`Program::to_bytes`]: instructions to bytes.
//! - [`assemble`]: text (LLVM or conformance syntax) to a [`Program`]; [`disassemble`] and
//!   [`format_insn`]: back to text.
//! - [`helpers`]: Linux helper ids and names.
//! - `arbitrary` (feature `proptest`): proptest strategies for every valid instruction
//!   and for valid programs.

#[cfg(any(test, feature = "proptest"))]
pub mod arbitrary;
pub mod asm;
pub mod decode;
pub mod disasm;
pub mod encode;
pub mod helpers;
pub mod insn;
pub mod opcode;
pub mod program;
pub mod raw;

pub use asm::{assemble, assemble_with_lines, AsmError};
pub use decode::{decode_insn, DecodeError, DecodeErrorKind};
pub use disasm::{disassemble, format_insn, DisasmOptions};
pub use helpers::{helper_id, helper_name};
pub use insn::*;
pub use program::{Program, MAX_SLOTS};
pub use raw::RawInsn;

/// The two assembly syntaxes: [`assemble`] reads both (detected line by line),
/// [`disassemble`] writes the one asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Syntax {
    /// LLVM / Linux syntax, as `llvm-objdump -d` and the verifier log print it:
    /// `r0 = *(u32 *)(r1 + 4)`, `if r1 > 5 goto +2`.
    #[default]
    Llvm,
    /// The uBPF-style syntax of the bpf_conformance suite: `ldxw %r0, [%r1+4]`,
    /// `jgt %r1, 5, +2`.
    Conformance,
}
