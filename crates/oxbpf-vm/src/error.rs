//! Errors of preparing and running programs.

use crate::memory::AccessFault;
use oxbpf_isa::DecodeError;
use thiserror::Error;

/// Why a run stopped abnormally. `pc` is always the instruction slot (the unit of jump
/// offsets and of the Linux verifier's messages) of the instruction that failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum VmError {
    #[error("instruction {pc}: {fault}")]
    MemoryFault { pc: usize, fault: AccessFault },
    #[error("instruction {pc}: atomic access of {size} bytes at 0x{addr:x} is not aligned")]
    MisalignedAtomic { pc: usize, addr: u64, size: u64 },
    #[error("instruction {pc}: call depth exceeds {max} frames")]
    CallDepthExceeded { pc: usize, max: usize },
    #[error("instruction {pc}: helper {id} is not registered")]
    UnknownHelper { pc: usize, id: u64 },
    #[error("instruction {pc}: external function {id} is not registered")]
    UnknownExternal { pc: usize, id: i32 },
    #[error("instruction {pc}: instruction budget of {budget} exhausted")]
    BudgetExhausted { pc: usize, budget: u64 },
    #[error("instruction {pc}: helper {id} failed: {message}")]
    HelperFailed { pc: usize, id: u64, message: String },
    #[error("instruction {pc}: execution ran past the last instruction without exit")]
    FellOffEnd { pc: usize },
    #[error("instruction {pc}: {what} is not supported by this engine")]
    Unsupported { pc: usize, what: &'static str },
}

impl VmError {
    /// The instruction slot the error happened at.
    pub fn pc(&self) -> usize {
        match *self {
            VmError::MemoryFault { pc, .. }
            | VmError::MisalignedAtomic { pc, .. }
            | VmError::CallDepthExceeded { pc, .. }
            | VmError::UnknownHelper { pc, .. }
            | VmError::UnknownExternal { pc, .. }
            | VmError::BudgetExhausted { pc, .. }
            | VmError::HelperFailed { pc, .. }
            | VmError::FellOffEnd { pc }
            | VmError::Unsupported { pc, .. } => pc,
        }
    }
}

/// Why a program could not be prepared for running.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LoadError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("instruction {pc}: lddw with a {what} reference must be resolved by the loader before the program can run")]
    UnresolvedPseudo { pc: usize, what: &'static str },
    #[error("instruction {pc}: {what} is not supported by this engine")]
    Unsupported { pc: usize, what: &'static str },
    #[error("JIT: {0}")]
    Jit(String),
    /// [`crate::jit::JitProgram::compile`] was asked for verified mode (code without
    /// run-time memory checks): that code trusts its inputs, so it is made only through
    /// the `unsafe` [`crate::jit::JitProgram::compile_verified`], where the caller vouches
    /// that a verifier accepted the program for the inputs its runs will get.
    #[error("JIT: verified mode (no run-time memory checks) is only available through the unsafe `JitProgram::compile_verified`, for a program a verifier accepted; `JitProgram::compile` makes checked code")]
    VerifiedModeNeedsUnsafe,
}

/// What a `lddw` refers to when only a loader can resolve it (a map or a variable), for
/// [`LoadError::UnresolvedPseudo`]; `None` for values an engine loads as they are.
pub(crate) fn unresolved_pseudo(value: &oxbpf_isa::LoadImm64) -> Option<&'static str> {
    use oxbpf_isa::LoadImm64;
    Some(match value {
        LoadImm64::Imm(_) | LoadImm64::CodeAddr(_) => return None,
        LoadImm64::MapFd(_) => "map file descriptor",
        LoadImm64::MapValue { .. } => "map value (by file descriptor)",
        LoadImm64::VariableAddr { .. } => "BTF variable",
        LoadImm64::MapIdx(_) => "map index",
        LoadImm64::MapIdxValue { .. } => "map value (by map index)",
    })
}
