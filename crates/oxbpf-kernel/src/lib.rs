//! The oxbpf Linux kernel backend (on aya)
