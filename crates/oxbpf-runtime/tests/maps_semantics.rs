//! Per-map-type semantics: program-side operations, flags and error paths, value regions,
//! access flags, and the type-specific APIs (ring buffer, perf buffers, program slots,
//! maps of maps, typed views, registry).

use oxbpf_runtime::maps::{
    cpu, flags, perf_flags, ringbuf_flags as rb, update, Map, MapError, MapKind, MapRegistry,
    MapSpec, MapType, PerfEvent, RINGBUF_HDR_SZ,
};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Duration;

fn k32(i: u32) -> [u8; 4] {
    i.to_ne_bytes()
}

/// Reads `n` bytes at a value pointer handed to programs.
fn read_ptr(p: NonNull<u8>, n: usize) -> Vec<u8> {
    // SAFETY: `p` comes from a map's lookup_elem/reserve for a value of at least `n` bytes;
    // the map outlives this call and no other thread writes it during these tests.
    unsafe { std::slice::from_raw_parts(p.as_ptr(), n).to_vec() }
}

/// Writes `data` at a value pointer handed to programs (what a program's stores do).
fn write_ptr(p: NonNull<u8>, data: &[u8]) {
    // SAFETY: as in `read_ptr`; the region is writable map value memory.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p.as_ptr(), data.len()) }
}

fn in_regions(m: &Map, p: NonNull<u8>, len: u64) -> bool {
    m.value_regions()
        .iter()
        .any(|r| r.contains(p.as_ptr() as u64, len))
}

fn errno<T>(r: Result<T, MapError>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e.errno(),
    }
}

#[test]
fn array_program_side_and_regions() {
    let m = Map::create(MapSpec::new("a", MapType::Array, 4, 12, 3)).unwrap();
    let p = m.lookup_elem(&k32(2), 0).unwrap();
    assert!(in_regions(&m, p, 12));
    assert_eq!(p.as_ptr() as usize % 8, 0, "values are 8-byte aligned");
    write_ptr(p, &[7; 12]);
    assert_eq!(m.lookup(&k32(2)).unwrap().unwrap(), vec![7; 12]);
    assert!(m.lookup_elem(&k32(3), 0).is_none());
    assert!(m.lookup_elem(&[0; 3], 0).is_none(), "wrong key size");
    m.update_elem(&k32(0), &[1; 12], update::BPF_ANY, 0)
        .unwrap();
    assert_eq!(
        read_ptr(m.lookup_elem(&k32(0), 0).unwrap(), 12),
        vec![1; 12]
    );
    assert_eq!(errno(m.update_elem(&k32(0), &[1; 11], 0, 0)), libc::EINVAL);
    assert_eq!(
        errno(m.update_elem(&k32(0), &[1; 12], update::BPF_NOEXIST, 0)),
        libc::EEXIST
    );
    assert_eq!(errno(m.update_elem(&k32(3), &[1; 12], 0, 0)), libc::E2BIG);
    assert_eq!(errno(m.delete_elem(&k32(0))), libc::EINVAL);
    assert_eq!(errno(m.update_elem(&[0; 8], &[1; 12], 0, 0)), libc::EINVAL);
    assert_eq!(m.keys().unwrap().len(), 3);
    assert_eq!(m.len(), 3);
    assert!(m.memory_bytes() >= 3 * 16);
    let r = m.value_regions();
    assert_eq!(r.len(), 1);
    assert!(r[0].writable);
    assert_eq!(r[0].kind, oxbpf_vm::RegionKind::MapValue);
    let mut regions = oxbpf_vm::Regions::new();
    // SAFETY: `m` outlives `regions`.
    unsafe { m.add_value_regions(&mut oxbpf_vm::RegionsMut::new(&mut regions)) };
    assert!(regions.check(p.as_ptr() as u64, 12, true).is_ok());
}

#[test]
fn access_flags_and_freeze() {
    let ro_prog = Map::create(
        MapSpec::new("rodata", MapType::Array, 4, 8, 1).with_flags(flags::BPF_F_RDONLY_PROG),
    )
    .unwrap();
    assert!(!ro_prog.value_regions()[0].writable);
    assert_eq!(
        errno(ro_prog.update_elem(&k32(0), &[1; 8], 0, 0)),
        libc::EPERM
    );
    ro_prog.update(&k32(0), &[1; 8], 0).unwrap();
    ro_prog.freeze().unwrap();
    assert!(ro_prog.is_frozen());
    assert_eq!(errno(ro_prog.update(&k32(0), &[2; 8], 0)), libc::EPERM);
    assert_eq!(errno(ro_prog.freeze()), libc::EPERM);
    assert_eq!(ro_prog.lookup(&k32(0)).unwrap().unwrap(), vec![1; 8]);

    let ro =
        Map::create(MapSpec::new("ro", MapType::Hash, 4, 8, 1).with_flags(flags::BPF_F_RDONLY))
            .unwrap();
    assert_eq!(errno(ro.update(&k32(0), &[1; 8], 0)), libc::EPERM);
    assert_eq!(errno(ro.delete(&k32(0))), libc::EPERM);
    ro.update_elem(&k32(0), &[1; 8], 0, 0).unwrap();
    assert_eq!(ro.lookup(&k32(0)).unwrap().unwrap(), vec![1; 8]);

    let wo =
        Map::create(MapSpec::new("wo", MapType::Hash, 4, 8, 1).with_flags(flags::BPF_F_WRONLY))
            .unwrap();
    wo.update(&k32(0), &[1; 8], 0).unwrap();
    assert_eq!(errno(wo.lookup(&k32(0))), libc::EPERM);
    assert_eq!(errno(wo.keys()), libc::EPERM);
    assert!(wo.lookup_elem(&k32(0), 0).is_some());
}

#[test]
fn percpu_array_slots_per_cpu() {
    let n = cpu::num_cpus();
    let m = Map::create(MapSpec::new("pa", MapType::PerCpuArray, 4, 4, 2)).unwrap();
    assert_eq!(m.num_cpus(), n);
    assert_eq!(m.user_value_size(), n * 8);
    for c in 0..n {
        m.update_elem(&k32(1), &(c as u32 + 10).to_ne_bytes(), 0, c)
            .unwrap();
    }
    let ptrs: Vec<_> = (0..n).map(|c| m.lookup_elem(&k32(1), c).unwrap()).collect();
    for (c, p) in ptrs.iter().enumerate() {
        assert_eq!(read_ptr(*p, 4), (c as u32 + 10).to_ne_bytes());
        assert!(in_regions(&m, *p, 4));
    }
    let all = m.lookup(&k32(1)).unwrap().unwrap();
    assert_eq!(all.len(), n * 8);
    for c in 0..n {
        assert_eq!(all[c * 8..c * 8 + 4], (c as u32 + 10).to_ne_bytes());
    }
    assert_eq!(
        errno(m.update(&k32(1), &[0; 4], 0)),
        libc::EINVAL,
        "userspace passes all CPUs"
    );
    let t = MapRegistry::new();
    t.insert(Arc::new(m)).unwrap();
    let typed = t.typed::<u32, u32>("pa").unwrap();
    assert_eq!(
        typed.get_percpu(&1).unwrap().unwrap(),
        (0..n as u32).map(|c| c + 10).collect::<Vec<_>>()
    );
    assert_eq!(errno(typed.get(&1)), libc::EINVAL);
    typed.insert_percpu(&0, &vec![5; n], 0).unwrap();
    assert_eq!(typed.get_percpu(&0).unwrap().unwrap(), vec![5; n]);
}

#[test]
fn hash_update_switches_slots_and_reuses_freed_ones() {
    let m = Map::create(MapSpec::new("h", MapType::Hash, 4, 8, 2)).unwrap();
    assert_eq!(
        errno(m.update_elem(&k32(1), &[1; 8], update::BPF_EXIST, 0)),
        libc::ENOENT
    );
    m.update_elem(&k32(1), &[1; 8], update::BPF_NOEXIST, 0)
        .unwrap();
    let p1 = m.lookup_elem(&k32(1), 0).unwrap();
    assert!(in_regions(&m, p1, 8));
    // Replacing writes a new slot: a program still holding p1 sees the old value whole.
    m.update_elem(&k32(1), &[2; 8], update::BPF_ANY, 0).unwrap();
    let p2 = m.lookup_elem(&k32(1), 0).unwrap();
    assert_ne!(p1, p2);
    assert_eq!(read_ptr(p1, 8), vec![1; 8]);
    assert_eq!(read_ptr(p2, 8), vec![2; 8]);
    // Writes through the pointer are the element's value.
    write_ptr(p2, &[3; 8]);
    assert_eq!(m.lookup(&k32(1)).unwrap().unwrap(), vec![3; 8]);
    m.update(&k32(2), &[4; 8], 0).unwrap();
    assert_eq!(errno(m.update(&k32(3), &[5; 8], 0)), libc::E2BIG);
    assert_eq!(m.len(), 2);
    m.delete_elem(&k32(2)).unwrap();
    assert_eq!(errno(m.delete_elem(&k32(2))), libc::ENOENT);
    m.update(&k32(3), &[5; 8], 0).unwrap();
    let mut keys = m.keys().unwrap();
    keys.sort();
    assert_eq!(keys, vec![k32(1).to_vec(), k32(3).to_vec()]);
    // get_next_key visits every key once.
    let mut seen = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    while let Some(n) = m.next_key(cur.as_deref()).unwrap() {
        seen.push(n.clone());
        cur = Some(n);
    }
    seen.sort();
    assert_eq!(seen, keys);
    assert_eq!(m.entries().unwrap().len(), 2);
    assert!(m.memory_bytes() > 0);
}

#[test]
fn zero_seed_and_update_flag_errors() {
    let m =
        Map::create(MapSpec::new("h", MapType::Hash, 4, 8, 4).with_flags(flags::BPF_F_ZERO_SEED))
            .unwrap();
    assert_eq!(errno(m.update_elem(&k32(1), &[1; 8], 3, 0)), libc::EINVAL);
    assert_eq!(
        errno(m.update_elem(&k32(1), &[1; 8], update::BPF_F_LOCK, 0)),
        libc::EINVAL
    );
    assert_eq!(
        errno(m.update_elem(&k32(1), &[1; 8], update::BPF_F_LOCK | update::BPF_ANY, 0)),
        libc::EINVAL
    );
    assert_eq!(errno(m.push_elem(&[1; 8], 0)), libc::EINVAL);
    assert_eq!(
        errno(m.pop_elem(&mut [0; 8])),
        oxbpf_runtime::maps::ENOTSUPP
    );
}

#[test]
fn percpu_hash_new_element_from_program_zeroes_other_cpus() {
    let n = cpu::num_cpus();
    let m = Map::create(MapSpec::new("ph", MapType::PerCpuHash, 4, 8, 4)).unwrap();
    let cpu = n - 1;
    m.update_elem(&k32(1), &[9; 8], 0, cpu).unwrap();
    let all = m.lookup(&k32(1)).unwrap().unwrap();
    for c in 0..n {
        let want = if c == cpu { [9u8; 8] } else { [0u8; 8] };
        assert_eq!(all[c * 8..c * 8 + 8], want);
    }
    // An existing element: only this CPU's value changes.
    m.update_elem(&k32(1), &[7; 8], 0, 0).unwrap();
    let all = m.lookup(&k32(1)).unwrap().unwrap();
    assert_eq!(all[..8], [7; 8]);
    assert_eq!(
        all[cpu * 8..cpu * 8 + 8],
        if cpu == 0 { [7; 8] } else { [9; 8] }
    );
    let p0 = m.lookup_elem(&k32(1), 0).unwrap();
    assert!(in_regions(&m, p0, 8));
}

#[test]
fn lru_gives_referenced_elements_a_second_chance() {
    let m = Map::create(MapSpec::new("lru", MapType::LruHash, 4, 8, 4)).unwrap();
    for i in 0..4 {
        m.update_elem(&k32(i), &[i as u8; 8], update::BPF_NOEXIST, 0)
            .unwrap();
    }
    // Full: an insert evicts the oldest unreferenced element instead of failing.
    m.update_elem(&k32(4), &[4; 8], update::BPF_NOEXIST, 0)
        .unwrap();
    assert_eq!(m.len(), 4);
    assert!(m.lookup(&k32(0)).unwrap().is_none());
    // A program looks up 1: it survives the next eviction, 2 does not.
    assert!(m.lookup_elem(&k32(1), 0).is_some());
    m.update_elem(&k32(5), &[5; 8], update::BPF_ANY, 0).unwrap();
    assert!(m.lookup(&k32(1)).unwrap().is_some());
    assert!(m.lookup(&k32(2)).unwrap().is_none());
    for i in [3, 4, 5] {
        assert!(m.lookup(&k32(i)).unwrap().is_some(), "key {i}");
    }
    assert_eq!(
        errno(m.update_elem(&k32(9), &[5; 8], update::BPF_EXIST, 0)),
        libc::ENOENT
    );
    assert_eq!(
        errno(m.update_elem(&k32(5), &[5; 8], update::BPF_NOEXIST, 0)),
        libc::EEXIST
    );
    assert_eq!(
        errno(m.update_elem(&k32(5), &[5; 8], update::BPF_F_LOCK, 0)),
        libc::EINVAL
    );
    // LRU per-CPU too.
    let pc = Map::create(MapSpec::new("lrupc", MapType::LruPerCpuHash, 4, 8, 2)).unwrap();
    for i in 0..10 {
        pc.update_elem(&k32(i), &[i as u8; 8], 0, 0).unwrap();
    }
    assert_eq!(pc.len(), 2);
    assert_eq!(read_ptr(pc.lookup_elem(&k32(9), 0).unwrap(), 8), vec![9; 8]);
}

fn lpm(plen: u32, a: [u8; 4]) -> [u8; 8] {
    let mut k = [0; 8];
    k[..4].copy_from_slice(&plen.to_ne_bytes());
    k[4..].copy_from_slice(&a);
    k
}

#[test]
fn lpm_longest_match_from_programs() {
    let m = Map::create(
        MapSpec::new("lpm", MapType::LpmTrie, 8, 4, 4).with_flags(flags::BPF_F_NO_PREALLOC),
    )
    .unwrap();
    m.update_elem(&lpm(8, [10, 0, 0, 0]), &[8; 4], 0, 0)
        .unwrap();
    m.update_elem(&lpm(24, [10, 1, 2, 0]), &[24; 4], 0, 0)
        .unwrap();
    m.update_elem(&lpm(0, [0; 4]), &[0; 4], 0, 0).unwrap();
    let get = |k: [u8; 8]| m.lookup_elem(&k, 0).map(|p| read_ptr(p, 4)[0]);
    assert_eq!(get(lpm(32, [10, 1, 2, 3])), Some(24));
    assert_eq!(get(lpm(23, [10, 1, 2, 3])), Some(8));
    assert_eq!(get(lpm(32, [11, 1, 2, 3])), Some(0));
    assert_eq!(get(lpm(33, [10, 1, 2, 3])), None);
    let p = m.lookup_elem(&lpm(32, [10, 1, 2, 3]), 0).unwrap();
    assert!(in_regions(&m, p, 4));
    m.delete_elem(&lpm(24, [10, 1, 2, 99])).unwrap();
    assert_eq!(get(lpm(32, [10, 1, 2, 3])), Some(8));
    m.update_elem(&lpm(1, [128, 0, 0, 0]), &[1; 4], 0, 0)
        .unwrap();
    m.update_elem(&lpm(2, [128, 0, 0, 0]), &[2; 4], 0, 0)
        .unwrap();
    assert_eq!(
        errno(m.update_elem(&lpm(3, [128, 0, 0, 0]), &[3; 4], 0, 0)),
        libc::ENOSPC
    );
    // Post-order: /8 (0 branch) before /2 and /1 (1 branch), the root /0 last.
    let keys: Vec<u32> = m
        .keys()
        .unwrap()
        .iter()
        .map(|k| u32::from_ne_bytes(k[..4].try_into().unwrap()))
        .collect();
    assert_eq!(keys, vec![8, 2, 1, 0]);
}

#[test]
fn queue_stack_program_side() {
    let q = Map::create(MapSpec::new("q", MapType::Queue, 0, 4, 2)).unwrap();
    let s = Map::create(MapSpec::new("s", MapType::Stack, 0, 4, 2)).unwrap();
    for m in [&q, &s] {
        let mut out = [0xffu8; 4];
        assert_eq!(errno(m.pop_elem(&mut out)), libc::ENOENT);
        assert_eq!(out, [0; 4], "zeroed on ENOENT");
        m.push_elem(&k32(1), 0).unwrap();
        m.push_elem(&k32(2), 0).unwrap();
        assert_eq!(errno(m.push_elem(&k32(3), 0)), libc::E2BIG);
        m.push_elem(&k32(3), update::BPF_EXIST).unwrap();
        assert_eq!(
            errno(m.push_elem(&k32(3), update::BPF_NOEXIST)),
            libc::EINVAL
        );
        assert_eq!(m.len(), 2);
        assert!(m.lookup_elem(&[], 0).is_none());
        assert!(m.value_regions().is_empty());
        assert_eq!(errno(m.update_elem(&[], &k32(1), 0, 0)), libc::EINVAL);
    }
    let mut out = [0u8; 4];
    q.peek_elem(&mut out).unwrap();
    assert_eq!(out, k32(2), "queue: oldest remaining (1 was overwritten)");
    s.peek_elem(&mut out).unwrap();
    assert_eq!(out, k32(3), "stack: newest");
    s.pop_elem(&mut out).unwrap();
    s.pop_elem(&mut out).unwrap();
    assert_eq!(out, k32(2));
    assert_eq!(s.pop().unwrap(), None);
}

#[test]
fn bloom_filter_program_side() {
    let b =
        Map::create(MapSpec::new("b", MapType::BloomFilter, 0, 8, 1000).with_map_extra(4)).unwrap();
    match b.kind() {
        MapKind::Bloom(f) => {
            assert_eq!(f.nr_hash_funcs(), 4);
            assert_eq!(f.nr_bits(), 8192);
        }
        other => panic!("{other:?}"),
    }
    for i in 0..500u64 {
        b.push_elem(&i.to_ne_bytes(), 0).unwrap();
    }
    for i in 0..500u64 {
        b.peek_elem(&mut i.to_ne_bytes()).unwrap();
    }
    let fp = (10_000..20_000u64)
        .filter(|i| b.contains(&i.to_ne_bytes()).unwrap())
        .count();
    assert!(fp < 1000, "false positive rate too high: {fp}/10000");
    assert_eq!(errno(b.push_elem(&[0; 8], update::BPF_EXIST)), libc::EINVAL);
    assert_eq!(errno(b.delete_elem(&[])), libc::EOPNOTSUPP);
    assert_eq!(
        errno(b.update(&[], &[0; 8], 0)),
        0,
        "update from userspace pushes"
    );
    assert_eq!(errno(b.push_elem(&[0; 7], 0)), libc::EINVAL);
}

fn ringbuf(size: u32) -> Arc<Map> {
    Arc::new(Map::create(MapSpec::new("rb", MapType::RingBuf, 0, 0, size)).unwrap())
}

#[test]
fn ringbuf_reserve_submit_discard_output_query() {
    let m = ringbuf(4096);
    let r = m.as_ringbuf().unwrap();
    assert_eq!(r.query(rb::BPF_RB_RING_SIZE), 4096);
    assert_eq!(r.query(99), 0);
    assert!(r.reserve(8, 1).is_none(), "flags must be 0");
    assert!(r.reserve(4096, 0).is_none(), "can never fit");
    let a = r.reserve(5, 0).unwrap();
    assert!(in_regions(&m, a, 5));
    assert_eq!(a.as_ptr() as usize % 8, 0);
    write_ptr(a, b"hello");
    let b = r.reserve(3, 0).unwrap();
    write_ptr(b, b"bye");
    assert_eq!(
        b.as_ptr() as usize - a.as_ptr() as usize,
        16,
        "header + 5 bytes padded to 8"
    );
    assert_eq!(r.query(rb::BPF_RB_PROD_POS), 32);
    assert_eq!(r.query(rb::BPF_RB_AVAIL_DATA), 32);
    // b is committed first, but a is still busy: nothing can be consumed yet.
    r.submit(b, rb::BPF_RB_NO_WAKEUP).unwrap();
    assert!(r.drain().is_empty());
    r.discard(a, 0).unwrap();
    assert_eq!(errno(r.submit(a, 0)), libc::EINVAL, "double commit");
    assert_eq!(errno(r.submit_addr(12345, 0)), libc::EINVAL, "not a record");
    assert_eq!(r.drain(), vec![b"bye".to_vec()]);
    assert_eq!(r.query(rb::BPF_RB_CONS_POS), 32);
    assert_eq!(r.query(rb::BPF_RB_AVAIL_DATA), 0);
    r.output(b"out", 0).unwrap();
    assert_eq!(errno(r.output(b"x", 4)), libc::EINVAL);
    assert_eq!(r.drain(), vec![b"out".to_vec()]);
    assert_eq!(r.dropped(), 1, "the record that could never fit");
}

#[test]
fn ringbuf_full_drops_and_wraps_contiguously() {
    let m = ringbuf(4096);
    let r = m.as_ringbuf().unwrap();
    let rec = vec![0xabu8; 1000];
    let mut ok = 0;
    while r.output(&rec, rb::BPF_RB_NO_WAKEUP).is_ok() {
        ok += 1;
    }
    assert_eq!(ok, 4, "4 records of 1008 bytes fit in 4096, a 5th does not");
    assert_eq!(errno(r.output(&rec, 0)), libc::EAGAIN);
    assert_eq!(r.dropped(), 2);
    assert_eq!(r.consume(|d| assert_eq!(d, &rec[..])), 4);
    // Records now straddle the end of the data area and still read back whole.
    for round in 0..20u8 {
        let data: Vec<u8> = (0..777u32).map(|i| (i as u8).wrapping_add(round)).collect();
        let p = r.reserve(data.len() as u64, 0).unwrap();
        assert!(in_regions(&m, p, data.len() as u64));
        write_ptr(p, &data);
        r.submit(p, 0).unwrap();
        assert_eq!(r.drain(), vec![data]);
    }
}

#[test]
fn ringbuf_wakeups_follow_the_flags() {
    let m = ringbuf(4096);
    let r = m.as_ringbuf().unwrap();
    r.output(b"a", rb::BPF_RB_NO_WAKEUP).unwrap();
    assert_eq!(r.notifications(), 0);
    r.output(b"b", 0).unwrap();
    assert_eq!(r.notifications(), 0, "consumer behind: no wakeup");
    r.output(b"c", rb::BPF_RB_FORCE_WAKEUP).unwrap();
    assert_eq!(r.notifications(), 1);
    assert!(r.wait(Duration::from_millis(0)), "data available");
    r.drain();
    r.output(b"d", 0).unwrap();
    assert_eq!(r.notifications(), 2, "consumer caught up: wakeup");
    r.drain();
    let m2 = m.clone();
    let waiter = std::thread::spawn(move || m2.as_ringbuf().unwrap().wait(Duration::from_secs(30)));
    std::thread::sleep(Duration::from_millis(20));
    r.output(b"e", 0).unwrap();
    assert!(waiter.join().unwrap());
    assert!(!r.wait(Duration::from_millis(1)) || r.query(rb::BPF_RB_AVAIL_DATA) > 0);
}

#[test]
fn perf_event_array_output_and_lost_records() {
    let n = cpu::num_cpus();
    let m = Map::create(MapSpec::new(
        "events",
        MapType::PerfEventArray,
        4,
        4,
        n as u32 + 1,
    ))
    .unwrap();
    let p = m.as_perf_event_array().unwrap();
    let cur = n - 1;
    assert_eq!(
        errno(p.output(cur, perf_flags::BPF_F_CURRENT_CPU, &[b"x"])),
        libc::ENOENT
    );
    let bufs = p.open_all(64).unwrap();
    assert_eq!(bufs.len(), n);
    assert_eq!(errno(p.output(cur, 1 << 32, &[b"x"])), libc::EINVAL);
    assert_eq!(errno(p.output(cur, n as u64 + 1, &[b"x"])), libc::E2BIG);
    assert_eq!(errno(p.output(cur, n as u64, &[b"x"])), libc::ENOENT);
    if n > 1 {
        assert_eq!(errno(p.output(cur, 0, &[b"x"])), libc::EOPNOTSUPP);
    }
    // 64 bytes: samples of 20 bytes cost 32; two fit.
    p.output(cur, perf_flags::BPF_F_CURRENT_CPU, &[&[1; 10], &[2; 10]])
        .unwrap();
    p.output(cur, cur as u64, &[&[3; 20]]).unwrap();
    assert_eq!(
        errno(p.output(cur, perf_flags::BPF_F_CURRENT_CPU, &[&[4; 20]])),
        libc::ENOSPC
    );
    assert_eq!(
        errno(p.output(cur, perf_flags::BPF_F_CURRENT_CPU, &[&[4; 20]])),
        libc::ENOSPC
    );
    assert_eq!(p.lost(), 2);
    let mut seen = Vec::new();
    p.read(|e| match e {
        PerfEvent::Sample { cpu, data } => seen.push(format!("s{cpu}:{}", data.len())),
        PerfEvent::Lost { cpu, count } => seen.push(format!("l{cpu}:{count}")),
    });
    assert_eq!(
        seen,
        vec![
            format!("s{cur}:20"),
            format!("s{cur}:20"),
            format!("l{cur}:2")
        ]
    );
    // Lost count reported in-stream before the next sample that fits.
    p.output(cur, perf_flags::BPF_F_CURRENT_CPU, &[&[1; 40]])
        .unwrap();
    assert_eq!(
        errno(p.output(cur, perf_flags::BPF_F_CURRENT_CPU, &[&[1; 40]])),
        libc::ENOSPC
    );
    let mut first = Vec::new();
    p.read(|e| first.push(matches!(e, PerfEvent::Sample { .. })));
    assert_eq!(first, vec![true, false]);
    p.output(cur, perf_flags::BPF_F_CURRENT_CPU, &[b"ok"])
        .unwrap();
    assert_eq!(bufs[cur].samples(), 4);
    m.delete(&k32(cur as u32)).unwrap();
    assert_eq!(errno(m.delete(&k32(cur as u32))), libc::ENOENT);
}

#[test]
fn perf_lost_record_precedes_next_sample() {
    let m = Map::create(MapSpec::new("ev", MapType::PerfEventArray, 4, 4, 1)).unwrap();
    let p = m.as_perf_event_array().unwrap();
    let buf = p.open(0, 0, 64).unwrap();
    p.output(0, 0, &[&[0; 36]]).unwrap(); // costs 48
    assert!(p.output(0, 0, &[&[0; 36]]).is_err());
    let mut ev = Vec::new();
    buf.read(|e| ev.push(format!("{e:?}")));
    assert_eq!(ev.len(), 2);
    p.output(0, 0, &[&[0; 4]]).is_ok().then_some(()).unwrap();
    assert_eq!(buf.lost(), 1);
}

#[test]
fn prog_array_slots() {
    let m = Map::create(MapSpec::new("jt", MapType::ProgArray, 4, 4, 4)).unwrap();
    let pa = m.as_prog_array().unwrap();
    assert!(pa.get(0).is_none());
    let prog: Arc<String> = Arc::new("prog-a".to_string());
    assert!(pa.set(1, prog.clone()).unwrap().is_none());
    let got = pa.get(1).unwrap();
    assert_eq!(got.downcast_ref::<String>().unwrap(), "prog-a");
    assert_eq!(errno(pa.set(4, prog.clone())), libc::E2BIG);
    assert_eq!(errno(m.update(&k32(0), &[0; 4], 0)), libc::EINVAL);
    assert_eq!(
        errno(m.update(&k32(0), &[0; 4], update::BPF_NOEXIST)),
        libc::EINVAL
    );
    assert_eq!(errno(m.update(&k32(9), &[0; 4], 0)), libc::E2BIG);
    assert_eq!(m.keys().unwrap(), vec![k32(1).to_vec()]);
    assert_eq!(m.next_key(None).unwrap(), Some(k32(0).to_vec()));
    m.delete(&k32(1)).unwrap();
    assert_eq!(errno(m.delete(&k32(1))), libc::ENOENT);
    assert_eq!(errno(m.delete(&k32(7))), libc::E2BIG);
    assert!(m.lookup_elem(&k32(1), 0).is_none());
}

#[test]
fn maps_of_maps() {
    let inner = MapSpec::new("inner", MapType::Array, 4, 8, 2);
    let outer =
        Map::create(MapSpec::new("outer", MapType::ArrayOfMaps, 4, 4, 2).with_inner(inner.clone()))
            .unwrap();
    assert_eq!(
        errno(Map::create(MapSpec::new(
            "no_inner",
            MapType::ArrayOfMaps,
            4,
            4,
            2
        ))),
        libc::EINVAL
    );
    let a = Arc::new(Map::create(inner.clone()).unwrap());
    let wrong = Arc::new(Map::create(MapSpec::new("w", MapType::Array, 4, 8, 3)).unwrap());
    let oo = outer.as_map_of_maps().unwrap();
    oo.set(&k32(0), a.clone(), 0).unwrap();
    assert_eq!(errno(oo.set(&k32(1), wrong, 0)), libc::EINVAL);
    assert_eq!(errno(oo.set(&k32(2), a.clone(), 0)), libc::E2BIG);
    assert_eq!(
        errno(oo.set(&k32(1), a.clone(), update::BPF_NOEXIST)),
        libc::EINVAL
    );
    let got = outer.lookup_inner_map(&k32(0)).unwrap();
    assert_eq!(got.id(), a.id());
    assert_eq!(
        outer.lookup(&k32(0)).unwrap().unwrap(),
        a.id().to_ne_bytes().to_vec()
    );
    outer.delete(&k32(0)).unwrap();
    assert_eq!(errno(outer.delete(&k32(0))), libc::ENOENT);

    let h =
        Map::create(MapSpec::new("hom", MapType::HashOfMaps, 8, 4, 1).with_inner(inner)).unwrap();
    let ho = h.as_map_of_maps().unwrap();
    ho.set(&[1; 8], a.clone(), update::BPF_NOEXIST).unwrap();
    assert_eq!(
        errno(ho.set(&[1; 8], a.clone(), update::BPF_NOEXIST)),
        libc::EEXIST
    );
    assert_eq!(
        errno(ho.set(&[2; 8], a.clone(), update::BPF_EXIST)),
        libc::ENOENT
    );
    assert_eq!(
        errno(ho.set(&[2; 8], a.clone(), update::BPF_ANY)),
        libc::E2BIG
    );
    assert!(h.lookup_inner_map(&[1; 8]).is_some());
    assert_eq!(h.next_key(None).unwrap(), Some(vec![1; 8]));
    assert_eq!(h.next_key(Some(&[1; 8])).unwrap(), None);
}

#[test]
fn registry_and_typed_views() {
    let maps = MapRegistry::new();
    maps.create(MapSpec::new("counts", MapType::Hash, 4, 8, 16))
        .unwrap();
    maps.create(MapSpec::new("arr", MapType::Array, 4, 4, 4))
        .unwrap();
    maps.create(MapSpec::new("q", MapType::Queue, 0, 4, 4))
        .unwrap();
    assert_eq!(
        errno(maps.create(MapSpec::new("arr", MapType::Array, 4, 4, 4))),
        libc::EEXIST
    );
    assert_eq!(maps.names(), vec!["arr", "counts", "q"]);
    assert_eq!(maps.len(), 3);
    let counts = maps.typed::<u32, u64>("counts").unwrap();
    counts.insert(&1, &10, update::BPF_ANY).unwrap();
    counts.insert(&2, &20, update::BPF_ANY).unwrap();
    assert_eq!(counts.get(&1).unwrap(), Some(10));
    assert_eq!(counts.get(&3).unwrap(), None);
    let mut e = counts.entries().unwrap();
    e.sort();
    assert_eq!(e, vec![(1, 10), (2, 20)]);
    counts.remove(&1).unwrap();
    assert_eq!(counts.keys().unwrap(), vec![2]);
    assert_eq!(errno(maps.typed::<u64, u64>("counts")), libc::EINVAL);
    assert_eq!(errno(maps.typed::<u32, u64>("nope")), libc::ENOENT);
    let arr = maps.get("arr").unwrap();
    assert_eq!(maps.by_id(arr.id()).unwrap().name(), "arr");
    let q = maps.require("q").unwrap();
    q.update(&[], &k32(5), 0).unwrap();
    assert_eq!(q.peek().unwrap(), Some(k32(5).to_vec()));
    assert_eq!(q.lookup(&[]).unwrap(), Some(k32(5).to_vec()));
    assert_eq!(q.pop().unwrap(), Some(k32(5).to_vec()));
    // Queues hold no program-visible memory; the hash and the array do.
    assert_eq!(maps.value_regions().len(), 2);
    let mut regions = oxbpf_vm::Regions::new();
    // SAFETY: the maps outlive `regions`.
    unsafe { maps.add_value_regions(&mut oxbpf_vm::RegionsMut::new(&mut regions)) };
    assert_eq!(regions.len(), 2);
    assert!(maps.memory_bytes() > 0);
    assert!(maps.remove("q").is_some());
    assert!(maps.get("q").is_none());
}

#[test]
fn unsupported_types_and_specs() {
    for t in [
        MapType::SockMap,
        MapType::StackTrace,
        MapType::UserRingBuf,
        MapType::Arena,
    ] {
        let e = Map::create(MapSpec::new("x", t, 4, 4, 1)).unwrap_err();
        assert!(matches!(e, MapError::UnsupportedType { .. }), "{e}");
        assert!(e.to_string().contains("not supported"), "{e}");
    }
    let e = Map::create(
        MapSpec::new("big", MapType::Array, 4, 8, 4).with_flags(flags::BPF_F_NO_PREALLOC),
    )
    .unwrap_err();
    assert!(e.to_string().contains("big"), "names the map: {e}");
    assert_eq!(e.helper_ret() as i64, -(libc::EINVAL as i64));
    assert_eq!(MapType::from_u32(27), Some(MapType::RingBuf));
}

#[test]
fn ringbuf_record_header_layout() {
    let m = ringbuf(4096);
    let r = m.as_ringbuf().unwrap();
    let p = r.reserve(13, 0).unwrap();
    // The 8-byte header precedes the sample, inside the ring's region.
    let hdr = read_ptr(
        NonNull::new((p.as_ptr() as usize - RINGBUF_HDR_SZ) as *mut u8).unwrap(),
        4,
    );
    let len = u32::from_ne_bytes(hdr.try_into().unwrap());
    assert_eq!(len, 13 | oxbpf_runtime::maps::RINGBUF_BUSY_BIT);
    r.discard(p, 0).unwrap();
    let hdr = read_ptr(
        NonNull::new((p.as_ptr() as usize - RINGBUF_HDR_SZ) as *mut u8).unwrap(),
        4,
    );
    let len = u32::from_ne_bytes(hdr.try_into().unwrap());
    assert_eq!(len, 13 | oxbpf_runtime::maps::RINGBUF_DISCARD_BIT);
    assert_eq!(r.consume(|_| panic!("discarded records are skipped")), 0);
    assert_eq!(r.query(rb::BPF_RB_CONS_POS), 24);
}

#[test]
fn impossible_sizes_are_enomem_not_an_abort() {
    use oxbpf_runtime::maps::{Map, MapSpec, MapType};
    let inner = MapSpec::new("inner", MapType::Array, 4, 4, 1);
    for ty in [
        MapType::ArrayOfMaps,
        MapType::ProgArray,
        MapType::PerfEventArray,
    ] {
        let mut spec = MapSpec::new("huge", ty, 4, 4, u32::MAX);
        if ty == MapType::ArrayOfMaps {
            spec = spec.with_inner(inner.clone());
        }
        // 2^32 slots of a pointer-sized Option are 32 GiB: more than this machine (and the
        // allocator's overcommit heuristic) will hand out, so creation must fail cleanly.
        match Map::create(spec) {
            Err(e) => assert_eq!(e.errno(), libc::ENOMEM, "{ty:?}: {e}"),
            Ok(_) => eprintln!("SKIP: the allocator granted 32 GiB for {ty:?}; nothing to check"),
        }
    }
}
