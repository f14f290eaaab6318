//! The oxbpf userspace runtime: maps, helpers, trace output and hook points

pub mod hook;
pub mod maps;
pub mod packet;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub mod tracer;
