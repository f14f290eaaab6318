//! Micro-benchmark of map operations and memory per entry (not a test).
//!
//! `cargo run --release -p oxbpf-runtime --example map_bench`
//!
//! Prints ns per operation (single thread, keys cycling over the populated set) and bytes
//! per entry as reported by `Map::memory_bytes` for fully populated maps.

use oxbpf_runtime::maps::{flags, update, Map, MapSpec, MapType};
use std::hint::black_box;
use std::time::Instant;

const N: u32 = 65_536;
const ITERS: u32 = 4_000_000;

fn time(name: &str, mut f: impl FnMut(u32)) {
    // Warm up, then measure.
    for i in 0..ITERS / 10 {
        f(i);
    }
    let t = Instant::now();
    for i in 0..ITERS {
        f(i);
    }
    let ns = t.elapsed().as_nanos() as f64 / ITERS as f64;
    println!("{name:<48} {ns:>7.1} ns/op");
}

fn key(i: u32) -> [u8; 4] {
    // Spread accesses over the table (multiplicative scramble, stays below N).
    (i.wrapping_mul(2_654_435_761) % N).to_ne_bytes()
}

fn filled(t: MapType, max: u32) -> Map {
    let mut spec = MapSpec::new("bench", t, 4, 8, max);
    if t == MapType::LpmTrie {
        spec = MapSpec::new("bench", t, 8, 8, max).with_flags(flags::BPF_F_NO_PREALLOC);
    }
    let m = Map::create(spec).unwrap();
    for i in 0..max {
        let v = (i as u64).to_ne_bytes();
        match t {
            MapType::LpmTrie => {
                let mut k = [0u8; 8];
                k[..4].copy_from_slice(&32u32.to_ne_bytes());
                k[4..].copy_from_slice(&i.to_be_bytes());
                m.update_elem(&k, &v, 0, 0).unwrap();
            }
            MapType::PerCpuArray | MapType::PerCpuHash | MapType::LruPerCpuHash => {
                m.update_elem(&i.to_ne_bytes(), &v, 0, 0).unwrap()
            }
            _ => m.update(&i.to_ne_bytes(), &v, 0).unwrap(),
        }
    }
    m
}

fn main() {
    println!("# ops: {ITERS} per row, {N} keys, key 4 B, value 8 B");
    let arr = filled(MapType::Array, N);
    time("array lookup_elem (program side)", |i| {
        black_box(arr.lookup_elem(&key(i), 0));
    });
    time("array update_elem (program side)", |i| {
        arr.update_elem(&key(i), &(i as u64).to_ne_bytes(), update::BPF_ANY, 0)
            .unwrap();
    });
    time("array lookup (Rust, copies value)", |i| {
        black_box(arr.lookup(&key(i)).unwrap());
    });
    let pca = filled(MapType::PerCpuArray, N);
    time("percpu array lookup_elem", |i| {
        black_box(pca.lookup_elem(&key(i), 1));
    });
    let hash = filled(MapType::Hash, N);
    time("hash lookup_elem hit (program side)", |i| {
        black_box(hash.lookup_elem(&key(i), 0));
    });
    time("hash lookup_elem miss", |i| {
        black_box(hash.lookup_elem(&(N + i).to_ne_bytes(), 0));
    });
    time("hash update_elem existing key", |i| {
        hash.update_elem(&key(i), &(i as u64).to_ne_bytes(), update::BPF_ANY, 0)
            .unwrap();
    });
    time("hash lookup (Rust, copies value)", |i| {
        black_box(hash.lookup(&key(i)).unwrap());
    });
    let half = Map::create(MapSpec::new("b", MapType::Hash, 4, 8, N)).unwrap();
    time("hash insert + delete (new key)", |i| {
        let k = key(i);
        half.update_elem(&k, &[0; 8], update::BPF_NOEXIST, 0)
            .unwrap();
        half.delete_elem(&k).unwrap();
    });
    let lru = filled(MapType::LruHash, N);
    time("lru hash lookup_elem hit", |i| {
        black_box(lru.lookup_elem(&key(i), 0));
    });
    let small_lru = filled(MapType::LruHash, N / 4);
    time("lru hash insert with eviction", |i| {
        small_lru
            .update_elem(&(N + i).to_ne_bytes(), &[0; 8], update::BPF_ANY, 0)
            .unwrap();
    });
    let lpm = filled(MapType::LpmTrie, 4096);
    time("lpm lookup_elem /32 (4096 /32 prefixes)", |i| {
        let mut k = [0u8; 8];
        k[..4].copy_from_slice(&32u32.to_ne_bytes());
        k[4..].copy_from_slice(&(i % 4096).to_be_bytes());
        black_box(lpm.lookup_elem(&k, 0));
    });
    let rbm = Map::create(MapSpec::new("rb", MapType::RingBuf, 0, 0, 1 << 20)).unwrap();
    let rb = rbm.as_ringbuf().unwrap();
    time("ringbuf output 32 B + consume", |i| {
        rb.output(&[i as u8; 32], 0).unwrap();
        if i % 1024 == 1023 {
            rb.consume(|d| {
                black_box(d);
            });
        }
    });

    println!();
    println!("# memory, fully populated, key 4 B, value 8 B, {N} entries");
    for t in [
        MapType::Array,
        MapType::PerCpuArray,
        MapType::Hash,
        MapType::PerCpuHash,
        MapType::LruHash,
        MapType::LpmTrie,
    ] {
        let m = filled(t, N);
        let b = m.memory_bytes();
        println!(
            "{:<32} {:>10} bytes  {:>6.1} bytes/entry  (cpus: {})",
            t.name(),
            b,
            b as f64 / N as f64,
            m.num_cpus()
        );
    }
    let empty = Map::create(MapSpec::new("e", MapType::Hash, 4, 8, N)).unwrap();
    println!(
        "{:<32} {:>10} bytes  (empty: preallocated slabs; pages untouched until used)",
        "BPF_MAP_TYPE_HASH empty",
        empty.memory_bytes()
    );
}
