//! The oxbpf verifier: abstract interpretation that proves eBPF programs safe

pub mod domain;
