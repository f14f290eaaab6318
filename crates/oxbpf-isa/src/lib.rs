//! The eBPF instruction set (RFC 9669 plus the Linux additions: load-acquire and
//! store-release atomics, `may_goto`, `addr_space_cast`).
//!
//! - [`Insn`] and friends: a typed, lossless model of every instruction.
//! - [`decode`] / [`Program::decode`]: bytes to instructions, every malformed case a typed
//!   [`DecodeError`] naming the instruction slot.
//! - [`Insn::encode`] / [`Program::to_bytes`]: instructions to bytes.

pub mod decode;
pub mod encode;
pub mod insn;
pub mod opcode;
pub mod program;
pub mod raw;

pub use decode::{decode_insn, DecodeError, DecodeErrorKind};
pub use insn::*;
pub use program::{Program, MAX_SLOTS};
pub use raw::RawInsn;
