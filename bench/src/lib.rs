//! Benchmarks of oxbpf against its peers.
