//! oxbpf: eBPF end to end in Rust (library facade and CLI)
