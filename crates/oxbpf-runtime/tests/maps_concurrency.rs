//! Many threads on the same maps: no lost updates, no torn values, exact totals.
//! Counts are exact (no timing assumptions); sizes are kept small for a 2-core machine.

use oxbpf_runtime::maps::{cpu, ringbuf_flags as rb, update, Map, MapSpec, MapType};
use oxbpf_vm::raw_mem::{atomic_rmw, Rmw};
use std::collections::HashMap;
use std::sync::{Arc, Barrier};
use std::thread;

const THREADS: usize = 4;

/// What a program's `lock xadd` on a looked-up value does.
fn atomic_add(map: &Map, key: &[u8], offset: u64, v: u64) {
    let p = map
        .lookup_elem(key, cpu::current_cpu())
        .expect("element exists");
    let addr = p.as_ptr() as u64 + offset;
    assert!(
        map.value_regions().iter().any(|r| r.contains(addr, 8)),
        "pointer outside the map's regions"
    );
    // SAFETY: `addr` lies inside the map's value slab (checked just above), which stays
    // allocated while `map` lives, and is 8-byte aligned (values are 8-aligned, offset is a
    // multiple of 8).
    unsafe { atomic_rmw(addr, 8, Rmw::Add, v) };
}

fn u64_at(v: &[u8], i: usize) -> u64 {
    u64::from_ne_bytes(v[i * 8..i * 8 + 8].try_into().unwrap())
}

#[test]
fn hash_concurrent_updates_deletes_and_atomic_adds() {
    let map = Arc::new(Map::create(MapSpec::new("h", MapType::Hash, 8, 16, 4096)).unwrap());
    // Shared counters every thread increments through value pointers.
    for c in 0..4u64 {
        map.update(&c.to_ne_bytes(), &[0; 16], update::BPF_NOEXIST)
            .unwrap();
    }
    let iters = 3000u64;
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS as u64)
        .map(|t| {
            let map = map.clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                let base = 1000 + t * 100_000;
                for i in 0..iters {
                    let counter = (i % 4).to_ne_bytes();
                    atomic_add(&map, &counter, 0, 1);
                    atomic_add(&map, &counter, 8, t + 1);
                    // Own keys: insert, replace, read back (never torn), delete half.
                    let key = (base + i % 200).to_ne_bytes();
                    let val = [(i % 251) as u8; 16];
                    map.update(&key, &val, update::BPF_ANY).unwrap();
                    let got = map.lookup(&key).unwrap().unwrap();
                    assert_eq!(got, val, "thread {t} read back its own value");
                    // Another thread's key: whatever is there is a whole value.
                    let other =
                        (1000 + ((t + 1) % THREADS as u64) * 100_000 + i % 200).to_ne_bytes();
                    if let Some(v) = map.lookup(&other).unwrap() {
                        assert!(v.iter().all(|&b| b == v[0]), "torn value {v:?}");
                    }
                    if i % 2 == 0 {
                        map.delete(&key).unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut hits = 0;
    let mut weighted = 0;
    for c in 0..4u64 {
        let v = map.lookup(&c.to_ne_bytes()).unwrap().unwrap();
        hits += u64_at(&v, 0);
        weighted += u64_at(&v, 1);
    }
    assert_eq!(hits, THREADS as u64 * iters);
    assert_eq!(weighted, iters * (1..=THREADS as u64).sum::<u64>());
    // Each thread leaves exactly the odd residues' keys.
    assert_eq!(map.len(), 4 + THREADS * 100);
    assert_eq!(map.keys().unwrap().len(), map.len());
}

#[test]
fn array_concurrent_atomic_adds_and_updates() {
    let map = Arc::new(Map::create(MapSpec::new("a", MapType::Array, 4, 8, 64)).unwrap());
    let iters = 20_000u64;
    let handles: Vec<_> = (0..THREADS as u32)
        .map(|t| {
            let map = map.clone();
            thread::spawn(move || {
                for i in 0..iters {
                    atomic_add(&map, &0u32.to_ne_bytes(), 0, 1);
                    // Own element, written and read from Rust.
                    let key = (1 + t).to_ne_bytes();
                    map.update(&key, &i.to_ne_bytes(), 0).unwrap();
                    assert_eq!(map.lookup(&key).unwrap().unwrap(), i.to_ne_bytes());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let total = u64_at(&map.lookup(&0u32.to_ne_bytes()).unwrap().unwrap(), 0);
    assert_eq!(total, THREADS as u64 * iters);
}

#[test]
fn percpu_array_pinned_threads_need_no_atomics() {
    let n = cpu::num_cpus();
    let map = Arc::new(Map::create(MapSpec::new("pc", MapType::PerCpuArray, 4, 8, 1)).unwrap());
    let iters = 10_000u64;
    let handles: Vec<_> = (0..n)
        .map(|c| {
            let map = map.clone();
            thread::spawn(move || {
                cpu::set_current_cpu(c).unwrap();
                for _ in 0..iters {
                    // A plain read-modify-write, as a program does on its CPU's slot.
                    let p = map
                        .lookup_elem(&0u32.to_ne_bytes(), cpu::current_cpu())
                        .unwrap();
                    // SAFETY: `p` points at this CPU's 8-byte, 8-aligned value in the map's
                    // slab; only this thread uses CPU index `c`.
                    unsafe {
                        let v = (p.as_ptr() as *mut u64).read();
                        (p.as_ptr() as *mut u64).write(v + 1);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let all = map.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    for c in 0..n {
        assert_eq!(u64_at(&all, c), iters, "cpu {c}");
    }
}

#[test]
fn lru_concurrent_inserts_stay_bounded() {
    let map = Arc::new(Map::create(MapSpec::new("lru", MapType::LruHash, 4, 8, 128)).unwrap());
    let handles: Vec<_> = (0..THREADS as u32)
        .map(|t| {
            let map = map.clone();
            thread::spawn(move || {
                for i in 0..5000u32 {
                    let key = (t * 1_000_000 + i).to_ne_bytes();
                    map.update_elem(&key, &[t as u8; 8], update::BPF_ANY, 0)
                        .unwrap();
                    if let Some(p) = map.lookup_elem(&key, 0) {
                        assert!(map.value_regions()[0].contains(p.as_ptr() as u64, 8));
                    }
                    assert!(map.len() <= 128);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(map.len(), 128);
    assert_eq!(map.keys().unwrap().len(), 128);
    for (_, v) in map.entries().unwrap() {
        assert!(v.iter().all(|&b| b == v[0]));
    }
}

#[test]
fn ringbuf_producers_and_consumer_lose_nothing_uncounted() {
    let map = Arc::new(Map::create(MapSpec::new("rb", MapType::RingBuf, 0, 0, 8192)).unwrap());
    let per_thread = 5000u64;
    let producers: Vec<_> = (0..3u64)
        .map(|t| {
            let map = map.clone();
            thread::spawn(move || {
                let r = map.as_ringbuf().unwrap();
                let (mut ok, mut discarded) = (0u64, 0u64);
                for seq in 0..per_thread {
                    let mut rec = [0u8; 24];
                    rec[..8].copy_from_slice(&t.to_ne_bytes());
                    rec[8..16].copy_from_slice(&seq.to_ne_bytes());
                    rec[16..].copy_from_slice(&(t ^ seq).to_ne_bytes());
                    if seq % 2 == 0 {
                        ok += u64::from(r.output(&rec, 0).is_ok());
                        continue;
                    }
                    // reserve / write / submit, or discard every 7th.
                    let Some(p) = r.reserve(rec.len() as u64, 0) else {
                        continue;
                    };
                    // SAFETY: `p` is a fresh 24-byte reservation inside the ring.
                    unsafe { std::ptr::copy_nonoverlapping(rec.as_ptr(), p.as_ptr(), 24) };
                    if seq % 7 == 0 {
                        r.discard(p, rb::BPF_RB_NO_WAKEUP).unwrap();
                        discarded += 1;
                    } else {
                        r.submit(p, 0).unwrap();
                        ok += 1;
                    }
                }
                (ok, discarded)
            })
        })
        .collect();
    let consumer = {
        let map = map.clone();
        thread::spawn(move || {
            let r = map.as_ringbuf().unwrap();
            let mut last: HashMap<u64, u64> = HashMap::new();
            let mut got = 0u64;
            loop {
                let n = r.consume(|d| {
                    let t = u64::from_ne_bytes(d[..8].try_into().unwrap());
                    let seq = u64::from_ne_bytes(d[8..16].try_into().unwrap());
                    let chk = u64::from_ne_bytes(d[16..24].try_into().unwrap());
                    assert_eq!(chk, t ^ seq, "torn record");
                    if let Some(&prev) = last.get(&t) {
                        assert!(seq > prev, "producer {t}: {seq} after {prev}");
                    }
                    last.insert(t, seq);
                    got += 1;
                });
                if n == 0 {
                    if STOP.load(std::sync::atomic::Ordering::Acquire) {
                        break;
                    }
                    r.wait(std::time::Duration::from_millis(2));
                }
            }
            got
        })
    };
    let results: Vec<(u64, u64)> = producers.into_iter().map(|h| h.join().unwrap()).collect();
    let committed: u64 = results.iter().map(|r| r.0).sum();
    let discarded: u64 = results.iter().map(|r| r.1).sum();
    STOP.store(true, std::sync::atomic::Ordering::Release);
    let got = consumer.join().unwrap();
    let r = map.as_ringbuf().unwrap();
    let rest = r.drain().len() as u64;
    assert_eq!(
        got + rest,
        committed,
        "every committed record is delivered exactly once"
    );
    assert_eq!(
        committed + discarded + r.dropped(),
        3 * per_thread,
        "the rest were counted as dropped"
    );
}

static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
