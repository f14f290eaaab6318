//! The oxbpf userspace runtime: maps, helpers, trace output and hook points

/// The verifier the loader runs (its configuration, errors and prototypes).
pub use oxbpf_verifier as verifier;

pub mod dump;
pub mod env;
pub mod format;
pub mod grant;
pub mod helpers;
pub mod hook;
pub mod loader;
pub mod maps;
pub mod packet;
pub mod progtype;
pub mod sys;
pub mod task;
pub mod trace;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub mod tracer;
pub mod verified;
