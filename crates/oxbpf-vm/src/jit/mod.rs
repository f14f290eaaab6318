//! The x86-64 JIT.
pub mod x86;
