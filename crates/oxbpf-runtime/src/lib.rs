//! The oxbpf userspace runtime: maps, helpers, trace output and hook points

pub mod format;
pub mod maps;
pub mod sys;
pub mod task;
pub mod trace;
