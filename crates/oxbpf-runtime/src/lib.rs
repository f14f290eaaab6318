//! The oxbpf userspace runtime: maps, helpers, trace output and hook points

pub mod maps;
