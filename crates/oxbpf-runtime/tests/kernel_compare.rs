//! Differential tests: the same operation sequences on an oxbpf map and on the same map
//! created in the running kernel with raw `bpf()` syscalls must give the same errno and the
//! same contents. Skipped (with `SKIP:`) when `bpf()` is not permitted.

use oxbpf_runtime::maps::{cpu, flags, update, Map, MapError, MapSpec, MapType};

/// Raw `bpf()` syscalls: the only `unsafe` of this test.
mod sys {
    use std::os::fd::AsRawFd;
    use std::os::fd::{FromRawFd, OwnedFd, RawFd};

    const BPF_MAP_CREATE: i64 = 0;
    const BPF_MAP_LOOKUP_ELEM: i64 = 1;
    const BPF_MAP_UPDATE_ELEM: i64 = 2;
    const BPF_MAP_DELETE_ELEM: i64 = 3;
    const BPF_MAP_GET_NEXT_KEY: i64 = 4;
    const BPF_MAP_LOOKUP_AND_DELETE_ELEM: i64 = 21;

    /// A zeroed `union bpf_attr` (128 bytes is larger than every command used here needs;
    /// the kernel accepts a larger attribute whose extra bytes are zero).
    #[repr(C, align(8))]
    struct Attr([u8; 128]);

    impl Attr {
        fn new() -> Attr {
            Attr([0; 128])
        }
        fn u32(&mut self, off: usize, v: u32) {
            self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        }
        fn u64(&mut self, off: usize, v: u64) {
            self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        }
    }

    fn bpf(cmd: i64, attr: &mut Attr) -> Result<i64, i32> {
        // SAFETY: `attr` is a valid, initialised 128-byte buffer that outlives the call; the
        // pointers stored inside it (keys, values) point at live buffers of the sizes the
        // kernel will access (the callers below size them from the map spec).
        let r = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                cmd,
                attr as *mut Attr as *mut libc::c_void,
                std::mem::size_of::<Attr>() as u32,
            )
        };
        if r < 0 {
            Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        } else {
            Ok(r)
        }
    }

    pub struct KMap {
        fd: OwnedFd,
        pub key_size: usize,
        pub value_size: usize,
    }

    #[allow(clippy::too_many_arguments)]
    pub fn create(
        map_type: u32,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
        flags: u32,
        map_extra: u64,
        user_value_size: usize,
    ) -> Result<KMap, i32> {
        let mut a = Attr::new();
        a.u32(0, map_type);
        a.u32(4, key_size);
        a.u32(8, value_size);
        a.u32(12, max_entries);
        a.u32(16, flags);
        a.u64(64, map_extra);
        let fd = bpf(BPF_MAP_CREATE, &mut a)?;
        // SAFETY: a successful BPF_MAP_CREATE returns a new file descriptor we now own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        Ok(KMap {
            fd,
            key_size: key_size as usize,
            value_size: user_value_size,
        })
    }

    impl KMap {
        fn elem(&self, key: Option<&[u8]>, val: u64, flags: u64) -> Attr {
            let mut a = Attr::new();
            a.u32(0, self.fd.as_raw_fd() as u32);
            a.u64(8, key.map_or(0, |k| k.as_ptr() as u64));
            a.u64(16, val);
            a.u64(24, flags);
            a
        }

        pub fn lookup(&self, key: &[u8]) -> Result<Vec<u8>, i32> {
            assert_eq!(key.len(), self.key_size);
            let mut v = vec![0u8; self.value_size];
            let k = (self.key_size > 0).then_some(key);
            let mut a = self.elem(k, v.as_mut_ptr() as u64, 0);
            bpf(BPF_MAP_LOOKUP_ELEM, &mut a)?;
            Ok(v)
        }

        /// LOOKUP with an input value (bloom filter test).
        pub fn peek_value(&self, value: &[u8]) -> Result<(), i32> {
            let mut v = value.to_vec();
            let mut a = self.elem(None, v.as_mut_ptr() as u64, 0);
            bpf(BPF_MAP_LOOKUP_ELEM, &mut a).map(|_| ())
        }

        pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), i32> {
            assert_eq!(key.len(), self.key_size);
            assert_eq!(value.len(), self.value_size);
            let k = (self.key_size > 0).then_some(key);
            let mut a = self.elem(k, value.as_ptr() as u64, flags);
            bpf(BPF_MAP_UPDATE_ELEM, &mut a).map(|_| ())
        }

        pub fn delete(&self, key: &[u8]) -> Result<(), i32> {
            let k = (self.key_size > 0).then_some(key);
            let mut a = self.elem(k, 0, 0);
            bpf(BPF_MAP_DELETE_ELEM, &mut a).map(|_| ())
        }

        pub fn pop(&self) -> Result<Vec<u8>, i32> {
            let mut v = vec![0u8; self.value_size];
            let mut a = self.elem(None, v.as_mut_ptr() as u64, 0);
            bpf(BPF_MAP_LOOKUP_AND_DELETE_ELEM, &mut a)?;
            Ok(v)
        }

        pub fn next_key(&self, key: Option<&[u8]>) -> Result<Vec<u8>, i32> {
            let mut n = vec![0u8; self.key_size.max(1)];
            let mut a = self.elem(key, n.as_mut_ptr() as u64, 0);
            bpf(BPF_MAP_GET_NEXT_KEY, &mut a)?;
            n.truncate(self.key_size);
            Ok(n)
        }
    }
}

/// The same map in oxbpf and in the kernel.
struct Pair {
    ours: Map,
    kern: sys::KMap,
    log: Vec<String>,
}

fn errno(r: Result<(), MapError>) -> Result<(), i32> {
    r.map_err(|e| e.errno())
}

fn opt(r: Result<Option<Vec<u8>>, MapError>) -> Result<Vec<u8>, i32> {
    match r {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(libc::ENOENT),
        Err(e) => Err(e.errno()),
    }
}

/// The kernel's possible CPU count: per-CPU values in `bpf()` come in this many slots.
fn possible_cpus() -> usize {
    let possible = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap_or_default();
    possible
        .trim()
        .split(',')
        .map(|r| match r.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap_or(0) - a.parse::<usize>().unwrap_or(0) + 1,
            None => 1,
        })
        .sum::<usize>()
        .max(1)
}

fn kernel_available() -> bool {
    // Fix oxbpf's CPU count to the kernel's before any test creates a map, so per-CPU
    // layouts agree whichever test runs first.
    let _ = cpu::set_num_cpus(possible_cpus());
    match sys::create(MapType::Array as u32, 4, 4, 1, 0, 0, 4) {
        Ok(_) => true,
        Err(e) => {
            println!("SKIP: bpf(BPF_MAP_CREATE) is not permitted here (errno {e})");
            false
        }
    }
}

fn create_both(spec: &MapSpec) -> (Result<Map, i32>, Result<sys::KMap, i32>) {
    let ours = Map::create(spec.clone());
    let uvs = ours
        .as_ref()
        .map(|m| m.user_value_size())
        .unwrap_or(spec.value_size as usize);
    let kern = sys::create(
        spec.map_type as u32,
        spec.key_size,
        spec.value_size,
        spec.max_entries,
        spec.flags,
        spec.map_extra,
        uvs,
    );
    (ours.map_err(|e| e.errno()), kern)
}

impl Pair {
    fn new(spec: MapSpec) -> Pair {
        match create_both(&spec) {
            (Ok(ours), Ok(kern)) => Pair {
                ours,
                kern,
                log: Vec::new(),
            },
            (o, k) => panic!(
                "creating {spec:?}: oxbpf {:?}, kernel {:?}",
                o.map(|_| ()),
                k.map(|_| ())
            ),
        }
    }

    fn check<T: PartialEq + std::fmt::Debug>(&mut self, what: String, ours: T, kern: T) {
        self.log.push(format!("{what} -> {kern:?}"));
        assert_eq!(
            ours,
            kern,
            "{what}: oxbpf and the kernel differ (oxbpf left, kernel right)\nsequence so far:\n{}",
            self.log.join("\n")
        );
    }

    fn update(&mut self, key: &[u8], value: &[u8], flags: u64) {
        let o = errno(self.ours.update(key, value, flags));
        let k = self.kern.update(key, value, flags);
        self.check(format!("update({key:?}, {value:?}, {flags})"), o, k);
    }

    fn lookup(&mut self, key: &[u8]) {
        let o = opt(self.ours.lookup(key));
        let k = self.kern.lookup(key);
        self.check(format!("lookup({key:?})"), o, k);
    }

    fn delete(&mut self, key: &[u8]) {
        let o = errno(self.ours.delete(key));
        let k = self.kern.delete(key);
        self.check(format!("delete({key:?})"), o, k);
    }

    fn push(&mut self, value: &[u8], flags: u64) {
        let o = errno(self.ours.push(value, flags));
        let k = self.kern.update(&[], value, flags);
        self.check(format!("push({value:?}, {flags})"), o, k);
    }

    fn pop(&mut self) {
        let o = opt(self.ours.pop());
        let k = self.kern.pop();
        self.check("pop()".to_string(), o, k);
    }

    fn peek(&mut self) {
        let o = opt(self.ours.peek());
        let k = self.kern.lookup(&[]);
        self.check("peek()".to_string(), o, k);
    }

    fn next_key(&mut self, key: Option<&[u8]>) {
        let o = opt(self.ours.next_key(key));
        let k = self.kern.next_key(key);
        self.check(format!("next_key({key:?})"), o, k);
    }

    /// Every key reachable by get_next_key, in order.
    fn walk(&self) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let mut ours = Vec::new();
        let mut k: Option<Vec<u8>> = None;
        while let Some(n) = self.ours.next_key(k.as_deref()).unwrap() {
            ours.push(n.clone());
            k = Some(n);
            assert!(ours.len() <= 100_000);
        }
        let mut kern = Vec::new();
        let mut k: Option<Vec<u8>> = None;
        while let Ok(n) = self.kern.next_key(k.as_deref()) {
            kern.push(n.clone());
            k = Some(n);
            assert!(kern.len() <= 100_000);
        }
        (ours, kern)
    }

    /// Same keys (in the same order when `ordered`) and the same value for each.
    fn same_contents(&mut self, ordered: bool) {
        let (mut o, mut k) = self.walk();
        if !ordered {
            o.sort();
            k.sort();
        }
        self.check("get_next_key walk".into(), &o, &k);
        for key in o {
            self.lookup(&key);
        }
    }
}

/// A small deterministic generator (xorshift) for operation sequences.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const FLAGS: [u64; 6] = [
    update::BPF_ANY,
    update::BPF_NOEXIST,
    update::BPF_EXIST,
    3,
    update::BPF_F_LOCK,
    8,
];

#[test]
fn create_errors_match() {
    if !kernel_available() {
        return;
    }
    use flags::*;
    let t = |ty, k, v, m| MapSpec::new("c", ty, k, v, m);
    let cases = vec![
        t(MapType::Array, 4, 8, 4),
        t(MapType::Array, 8, 8, 4),
        t(MapType::Array, 4, 0, 4),
        t(MapType::Array, 4, 8, 0),
        t(MapType::Array, 4, 8, 4).with_flags(BPF_F_NO_PREALLOC),
        t(MapType::Array, 4, 8, 4).with_flags(BPF_F_MMAPABLE),
        t(MapType::Array, 4, 8, 4).with_flags(BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG),
        t(MapType::Array, 4, 8, 4).with_flags(BPF_F_PRESERVE_ELEMS),
        t(MapType::Array, 4, 8, 4).with_map_extra(1),
        t(MapType::PerCpuArray, 4, 8, 4).with_flags(BPF_F_MMAPABLE),
        t(MapType::PerCpuArray, 4, 40000, 4),
        t(MapType::Hash, 4, 8, 4),
        t(MapType::Hash, 0, 8, 4),
        t(MapType::Hash, 4, 0, 4),
        t(MapType::Hash, 4, 8, 0),
        t(MapType::Hash, 513, 8, 4),
        t(MapType::Hash, 4, 8, 4).with_flags(BPF_F_NO_COMMON_LRU),
        t(MapType::Hash, 4, 8, 4).with_flags(BPF_F_NO_PREALLOC),
        t(MapType::Hash, 4, 8, 4).with_flags(BPF_F_MMAPABLE),
        t(MapType::LruHash, 4, 8, 4).with_flags(BPF_F_NO_PREALLOC),
        t(MapType::LruHash, 4, 8, 4).with_flags(BPF_F_NO_COMMON_LRU),
        t(MapType::PerCpuHash, 4, 40000, 4),
        t(MapType::LpmTrie, 8, 8, 4),
        t(MapType::LpmTrie, 8, 8, 4).with_flags(BPF_F_NO_PREALLOC),
        t(MapType::LpmTrie, 4, 8, 4).with_flags(BPF_F_NO_PREALLOC),
        t(MapType::LpmTrie, 261, 8, 4).with_flags(BPF_F_NO_PREALLOC),
        t(MapType::LpmTrie, 260, 8, 4).with_flags(BPF_F_NO_PREALLOC),
        t(MapType::LpmTrie, 8, 0, 4).with_flags(BPF_F_NO_PREALLOC),
        t(MapType::Queue, 0, 4, 4),
        t(MapType::Queue, 4, 4, 4),
        t(MapType::Stack, 0, 0, 4),
        t(MapType::Stack, 0, 4, 0),
        t(MapType::Queue, 0, 4, 4).with_flags(BPF_F_NO_PREALLOC),
        t(MapType::BloomFilter, 0, 4, 100),
        t(MapType::BloomFilter, 4, 4, 100),
        t(MapType::BloomFilter, 0, 4, 100).with_map_extra(16),
        t(MapType::BloomFilter, 0, 4, 100).with_map_extra(7),
        t(MapType::BloomFilter, 0, 4, 0),
        t(MapType::RingBuf, 0, 0, 4096),
        t(MapType::RingBuf, 0, 0, 4097),
        t(MapType::RingBuf, 0, 0, 12288),
        t(MapType::RingBuf, 0, 0, 2048),
        t(MapType::RingBuf, 4, 0, 4096),
        t(MapType::PerfEventArray, 4, 4, 2),
        t(MapType::PerfEventArray, 4, 8, 2),
        t(MapType::ProgArray, 4, 4, 2),
        t(MapType::ProgArray, 4, 8, 2),
        t(MapType::ProgArray, 4, 4, 2).with_flags(BPF_F_RDONLY_PROG),
    ];
    for spec in cases {
        let (o, k) = create_both(&spec);
        assert_eq!(
            o.map(|_| ()),
            k.map(|_| ()),
            "create {spec:?}: oxbpf left, kernel right"
        );
    }
}

#[test]
fn array_matches_kernel() {
    if !kernel_available() {
        return;
    }
    let mut p = Pair::new(MapSpec::new("arr", MapType::Array, 4, 12, 4));
    let k = |i: u32| i.to_ne_bytes();
    p.lookup(&k(0));
    p.lookup(&k(4));
    for &f in &FLAGS {
        p.update(&k(1), &[f as u8; 12], f);
        p.update(&k(5), &[1; 12], f);
    }
    p.delete(&k(0));
    p.delete(&k(9));
    p.next_key(None);
    p.next_key(Some(&k(0)));
    p.next_key(Some(&k(2)));
    p.next_key(Some(&k(3)));
    p.next_key(Some(&k(77)));
    let mut r = Rng(0x1234_5678);
    for _ in 0..300 {
        let key = k(r.below(6) as u32);
        let v = [r.below(256) as u8; 12];
        match r.below(4) {
            0 | 1 => p.update(&key, &v, FLAGS[r.below(6) as usize]),
            2 => p.lookup(&key),
            _ => p.next_key(Some(&key)),
        }
    }
    p.same_contents(true);
}

fn hash_like(map_type: MapType, seed: u64) {
    let mut p = Pair::new(MapSpec::new("h", map_type, 4, 12, 5));
    let k = |i: u32| i.to_ne_bytes();
    p.next_key(None);
    p.delete(&k(1));
    p.update(&k(1), &[1; 12], update::BPF_NOEXIST);
    p.update(&k(1), &[2; 12], update::BPF_NOEXIST);
    p.update(&k(2), &[2; 12], update::BPF_EXIST);
    for &f in &FLAGS {
        p.update(&k(3), &[3; 12], f);
    }
    for i in 10..20 {
        p.update(&k(i), &[i as u8; 12], update::BPF_ANY);
    }
    p.update(&k(1), &[9; 12], update::BPF_EXIST);
    p.update(&k(1), &[9; 12], update::BPF_NOEXIST);
    p.lookup(&k(1));
    // An unknown key restarts the walk: both return some existing key (which one depends
    // on the hash order, which differs).
    let o = p.ours.next_key(Some(&k(12345))).unwrap().unwrap();
    let kk = p.kern.next_key(Some(&k(12345))).unwrap();
    assert!(p.ours.lookup(&o).unwrap().is_some() && p.kern.lookup(&kk).is_ok());
    p.same_contents(false);
    let mut r = Rng(seed);
    for _ in 0..400 {
        let key = k(r.below(9) as u32);
        let v = [r.below(256) as u8; 12];
        match r.below(5) {
            0 | 1 => p.update(&key, &v, FLAGS[r.below(6) as usize]),
            2 => p.lookup(&key),
            _ => p.delete(&key),
        }
    }
    p.same_contents(false);
}

#[test]
fn hash_matches_kernel() {
    if !kernel_available() {
        return;
    }
    hash_like(MapType::Hash, 42);
    // Unaligned key and value sizes.
    let mut p = Pair::new(MapSpec::new("h3", MapType::Hash, 3, 5, 3));
    for i in 0..5u8 {
        p.update(&[i, 1, 2], &[i; 5], update::BPF_ANY);
    }
    p.same_contents(false);
}

#[test]
fn percpu_maps_match_kernel() {
    if !kernel_available() {
        return;
    }
    let n = possible_cpus();
    if cpu::set_num_cpus(n).is_err() {
        println!(
            "SKIP: oxbpf's CPU count is fixed at {}, the kernel has {n} possible CPUs",
            cpu::num_cpus()
        );
        return;
    }
    for ty in [
        MapType::PerCpuArray,
        MapType::PerCpuHash,
        MapType::LruPerCpuHash,
    ] {
        let max = if ty == MapType::LruPerCpuHash { 512 } else { 4 };
        let mut p = Pair::new(MapSpec::new("pc", ty, 4, 4, max));
        let stride = 8;
        let mut r = Rng(99);
        for _ in 0..200 {
            let key = (r.below(6) as u32).to_ne_bytes();
            let mut v = vec![0u8; n * stride];
            for b in v.iter_mut() {
                *b = r.below(256) as u8;
            }
            match r.below(4) {
                0 | 1 => p.update(&key, &v, FLAGS[r.below(3) as usize]),
                2 => p.lookup(&key),
                _ => p.delete(&key),
            }
        }
        if ty != MapType::LruPerCpuHash {
            p.same_contents(ty == MapType::PerCpuArray);
        }
    }
}

#[test]
fn lru_matches_kernel_without_eviction_and_bounds_with_it() {
    if !kernel_available() {
        return;
    }
    let mut p = Pair::new(MapSpec::new("lru", MapType::LruHash, 4, 8, 512));
    let k = |i: u32| i.to_ne_bytes();
    for i in 0..8 {
        p.update(&k(i), &[i as u8; 8], update::BPF_NOEXIST);
    }
    for &f in &FLAGS {
        p.update(&k(3), &[7; 8], f);
        p.update(&k(100), &[7; 8], f);
    }
    p.delete(&k(100));
    p.delete(&k(101));
    p.same_contents(false);
    // Far more inserts than room: both evict, neither exceeds max_entries, and the most
    // recent insert survives.
    for i in 1000..4000u32 {
        let o = p.ours.update(&k(i), &[1; 8], update::BPF_ANY);
        let kr = p.kern.update(&k(i), &[1; 8], update::BPF_ANY);
        assert_eq!(errno(o), kr, "LRU insert {i}");
    }
    let (o, kk) = p.walk();
    assert!(
        o.len() <= 512 && kk.len() <= 512,
        "{} / {}",
        o.len(),
        kk.len()
    );
    assert!(o.contains(&k(3999).to_vec()) && kk.contains(&k(3999).to_vec()));
    assert_eq!(o.len(), 512, "oxbpf's LRU evicts one element at a time");
}

fn lpm_key(plen: u32, addr: [u8; 4]) -> [u8; 8] {
    let mut k = [0u8; 8];
    k[..4].copy_from_slice(&plen.to_ne_bytes());
    k[4..].copy_from_slice(&addr);
    k
}

#[test]
fn lpm_trie_matches_kernel() {
    if !kernel_available() {
        return;
    }
    let spec = MapSpec::new("lpm", MapType::LpmTrie, 8, 8, 8).with_flags(flags::BPF_F_NO_PREALLOC);
    let mut p = Pair::new(spec);
    p.next_key(None);
    p.update(&lpm_key(16, [192, 168, 0, 0]), &[1; 8], 0);
    p.update(&lpm_key(24, [192, 168, 0, 0]), &[2; 8], 0);
    p.update(&lpm_key(24, [192, 168, 128, 0]), &[3; 8], 0);
    p.update(&lpm_key(24, [192, 168, 1, 0]), &[5; 8], 0);
    // Unmasked data bits are kept and returned by get_next_key.
    p.update(&lpm_key(8, [10, 1, 2, 3]), &[6; 8], 0);
    p.update(&lpm_key(0, [0, 0, 0, 0]), &[7; 8], 0);
    p.same_contents(true);
    for addr in [
        [192, 168, 1, 7],
        [192, 168, 200, 1],
        [192, 168, 0, 9],
        [10, 9, 9, 9],
        [11, 0, 0, 0],
    ] {
        for plen in [32, 24, 20, 16, 8, 0, 33] {
            p.lookup(&lpm_key(plen, addr));
        }
    }
    p.update(&lpm_key(33, [1, 2, 3, 4]), &[1; 8], 0);
    p.delete(&lpm_key(33, [1, 2, 3, 4]));
    p.delete(&lpm_key(23, [192, 168, 0, 0]));
    p.update(&lpm_key(16, [192, 168, 9, 9]), &[8; 8], update::BPF_NOEXIST);
    p.update(&lpm_key(12, [192, 168, 9, 9]), &[8; 8], update::BPF_EXIST);
    p.update(&lpm_key(12, [192, 168, 9, 9]), &[8; 8], 3);
    p.update(&lpm_key(32, [1, 1, 1, 1]), &[9; 8], 0);
    p.update(&lpm_key(32, [1, 1, 1, 2]), &[9; 8], 0);
    // Full: a new prefix is refused, replacing an existing one is not.
    p.update(&lpm_key(32, [1, 1, 1, 3]), &[9; 8], 0);
    p.update(&lpm_key(32, [1, 1, 1, 2]), &[4; 8], 0);
    p.next_key(Some(&lpm_key(16, [192, 168, 0, 0])));
    p.next_key(Some(&lpm_key(17, [192, 168, 0, 0])));
    p.same_contents(true);
    let mut r = Rng(7);
    let pool: Vec<[u8; 8]> = (0..14)
        .map(|_| {
            let plen = [0, 1, 7, 8, 9, 15, 16, 24, 31, 32][r.below(10) as usize];
            lpm_key(
                plen,
                [
                    10 + r.below(2) as u8,
                    r.below(3) as u8 * 64,
                    r.below(256) as u8,
                    0,
                ],
            )
        })
        .collect();
    for _ in 0..500 {
        let key = pool[r.below(pool.len() as u64) as usize];
        match r.below(6) {
            0 | 1 => p.update(&key, &[r.below(256) as u8; 8], FLAGS[r.below(4) as usize]),
            2 => p.delete(&key),
            3 => p.next_key(Some(&key)),
            _ => p.lookup(&lpm_key(32, [key[4], key[5], r.below(256) as u8, 1])),
        }
    }
    p.same_contents(true);
}

#[test]
fn queue_and_stack_match_kernel() {
    if !kernel_available() {
        return;
    }
    for ty in [MapType::Queue, MapType::Stack] {
        let mut p = Pair::new(MapSpec::new("qs", ty, 0, 4, 3));
        p.pop();
        p.peek();
        for i in 1..=3u32 {
            p.push(&i.to_ne_bytes(), update::BPF_ANY);
        }
        p.push(&4u32.to_ne_bytes(), update::BPF_ANY);
        p.push(&5u32.to_ne_bytes(), update::BPF_EXIST);
        for &f in &FLAGS {
            p.push(&6u32.to_ne_bytes(), f);
        }
        p.peek();
        p.delete(&[]);
        p.next_key(None);
        let mut r = Rng(5 + ty as u64);
        for _ in 0..300 {
            match r.below(5) {
                0 | 1 => p.push(
                    &(r.below(1000) as u32).to_ne_bytes(),
                    FLAGS[r.below(3) as usize],
                ),
                2 => p.peek(),
                _ => p.pop(),
            }
        }
        for _ in 0..5 {
            p.pop();
        }
    }
}

#[test]
fn bloom_filter_matches_kernel_bit_for_bit() {
    if !kernel_available() {
        return;
    }
    for (vs, nr) in [(4u32, 3u64), (5, 0), (8, 1)] {
        let spec = MapSpec::new("bf", MapType::BloomFilter, 0, vs, 60)
            .with_flags(flags::BPF_F_ZERO_SEED)
            .with_map_extra(nr);
        let mut p = Pair::new(spec);
        let val = |i: u32| {
            let mut v = vec![0u8; vs as usize];
            for (j, b) in v.iter_mut().enumerate() {
                *b = (i >> ((j % 4) * 8)) as u8 ^ j as u8;
            }
            v
        };
        for i in 0..40 {
            p.push(&val(i * 7), update::BPF_ANY);
        }
        p.push(&val(1), update::BPF_NOEXIST);
        p.push(&val(1), update::BPF_EXIST);
        p.delete(&[]);
        p.pop();
        p.next_key(None);
        // Membership of many values, false positives included, must be identical.
        let mut positives = 0;
        for i in 0..3000 {
            let v = val(i);
            let o = p.ours.contains(&v).map_err(|e| e.errno());
            let k = match p.kern.peek_value(&v) {
                Ok(()) => Ok(true),
                Err(e) if e == libc::ENOENT => Ok(false),
                Err(e) => Err(e),
            };
            assert_eq!(o, k, "value {i} (value_size {vs}, {nr} hash functions)");
            positives += usize::from(o == Ok(true));
        }
        assert!(positives >= 40);
    }
}
