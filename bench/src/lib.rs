//! Benchmarks of oxbpf against its peers: the same eBPF bytecode, run side by side by
//! oxbpf's interpreter and JIT, the `rbpf` crate's interpreter and JIT, the Linux kernel's
//! JIT (through `BPF_PROG_TEST_RUN`) and a native Rust version of each algorithm.
//!
//! - [`programs`]: the benchmark programs (C sources and committed objects in
//!   `bench/programs/`) and their native versions ([`native`]).
//! - [`engines`]: one [`engines::Engine`] per way of running bytecode.
//! - [`measure`]: the timing loop (warm-up, calibrated batches, median of samples).
//! - [`report`]: tables (plain text or Markdown).
//! - [`gen`]: the large generated program used for compile throughput.
//!
//! Run with `cargo run --release -p oxbpf-bench -- [--filter NAME] [--markdown]`; the
//! numbers are in `docs/BENCHMARKS.md`.

pub mod cputime;
pub mod engines;
pub mod gen;
pub mod measure;
pub mod native;
pub mod programs;
pub mod report;
pub mod suite;

/// Bytes of input every benchmark program needs (`BUF_SIZE` in `bench/programs/bench.h`).
pub const BUF_SIZE: usize = 2048;

/// ELF section that holds each benchmark program.
pub const SECTION: &str = "xdp";

/// The input buffer: 8-byte aligned (the programs load 32- and 64-bit words), `BUF_SIZE`
/// bytes of deterministic pseudo-random data.
#[derive(Clone)]
#[repr(C, align(64))]
pub struct Input(pub [u8; BUF_SIZE]);

/// The 4-byte needle `strsearch` looks for sits at bytes 8..12; these are the offsets
/// where it is planted again.
pub const NEEDLE_AT: [usize; 7] = [100, 333, 777, 1024, 1500, 2000, 2044];

impl Input {
    /// The benchmark input: xorshift64* from a fixed seed, with the `strsearch` needle
    /// planted at [`NEEDLE_AT`].
    pub fn new() -> Box<Input> {
        let mut buf = Box::new(Input([0; BUF_SIZE]));
        let mut s = SEED;
        for chunk in buf.0.chunks_exact_mut(8) {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            chunk.copy_from_slice(&s.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        let needle = [0x6f, 0x78, 0x62, 0x66]; // "oxbf"
        buf.0[8..12].copy_from_slice(&needle);
        for at in NEEDLE_AT {
            buf.0[at..at + 4].copy_from_slice(&needle);
        }
        buf
    }
}

/// Seed of the input generator.
const SEED: u64 = 0x0b5f_0000_5eed_0001;
