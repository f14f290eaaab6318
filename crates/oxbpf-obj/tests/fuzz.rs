//! The fuzz target's body (`oxbpf_obj::fuzzing::check_object`) over thousands of mutated
//! fixture objects: bit flips, interesting values in the ELF header, section headers,
//! symbol and relocation tables, BTF and code, and truncations. Loading must return an
//! error or an object, never panic. Deterministic (fixed seeds).

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use object::{Object as _, ObjectSection as _};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: [u64; 12] = [
    0,
    1,
    7,
    8,
    0x7f,
    0x80,
    0xff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    u64::MAX,
];

/// File ranges worth aiming at: the headers and every section.
fn regions(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut v = vec![(0, 64.min(bytes.len()))];
    if let Ok(f) = object::File::parse(bytes) {
        for s in f.sections() {
            if let Some((off, size)) = s.file_range() {
                if size > 0 {
                    v.push((off as usize, size as usize));
                }
            }
        }
    }
    // The section header table.
    if bytes.len() >= 64 {
        let shoff = u64::from_le_bytes(bytes[40..48].try_into().unwrap()) as usize;
        if shoff < bytes.len() {
            v.push((shoff, bytes.len() - shoff));
        }
    }
    v
}

fn mutate(rng: &mut Rng, base: &[u8], regions: &[(usize, usize)]) -> Vec<u8> {
    let mut b = base.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        if b.is_empty() {
            break;
        }
        let (start, len) = regions[rng.below(regions.len())];
        let pos = (start + rng.below(len)).min(b.len() - 1);
        match rng.below(6) {
            0 | 1 => b[pos] ^= 1 << rng.below(8),
            2 => b[pos] = INTERESTING[rng.below(INTERESTING.len())] as u8,
            3 => {
                let v = INTERESTING[rng.below(INTERESTING.len())];
                let width = [2, 4, 8][rng.below(3)];
                let p = pos & !(width - 1);
                for k in 0..width {
                    if let Some(x) = b.get_mut(p + k) {
                        *x = (v >> (8 * k)) as u8;
                    }
                }
            }
            4 => {
                // Small signed delta on a 32-bit field (sizes, offsets, counts).
                let p = pos & !3;
                if p + 4 <= b.len() {
                    let v = u32::from_le_bytes(b[p..p + 4].try_into().unwrap());
                    let d = rng.below(17) as i64 - 8;
                    let nv = (v as i64 + d) as u32;
                    b[p..p + 4].copy_from_slice(&nv.to_le_bytes());
                }
            }
            _ => {
                if rng.below(4) == 0 {
                    b.truncate(pos);
                } else {
                    b[pos] = rng.next() as u8;
                }
            }
        }
    }
    b
}

#[test]
fn mutated_objects_never_panic() {
    let per_fixture: usize = std::env::var("OXBPF_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let mut total = 0;
    let mut loaded = 0;
    let mut failures = Vec::new();
    for (k, src) in common::sources().iter().enumerate() {
        let base = std::fs::read(src.with_extension("o")).unwrap();
        let regions = regions(&base);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (k as u64 + 1));
        for case in 0..per_fixture {
            let m = mutate(&mut rng, &base, &regions);
            total += 1;
            match catch_unwind(AssertUnwindSafe(|| oxbpf_obj::fuzzing::check_object(&m))) {
                Ok(true) => loaded += 1,
                Ok(false) => {}
                Err(_) => {
                    let out = std::env::temp_dir().join(format!(
                        "oxbpf-obj-crash-{}-{case}.o",
                        src.file_stem().unwrap().to_string_lossy()
                    ));
                    let _ = std::fs::write(&out, &m);
                    failures.push(out.display().to_string());
                }
            }
        }
        // Truncation at every 8th length.
        for len in (0..base.len()).step_by(8) {
            total += 1;
            if catch_unwind(AssertUnwindSafe(|| {
                oxbpf_obj::fuzzing::check_object(&base[..len])
            }))
            .is_err()
            {
                failures.push(format!("{} truncated to {len}", src.display()));
            }
        }
    }
    println!("{total} cases, {loaded} mutants still loaded");
    assert!(total > 5000);
    assert!(failures.is_empty(), "panics on: {failures:?}");
}

/// `(offset, width)` of every field of every section header, symbol and relocation entry.
fn structural_fields(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    // ELF header fields past the identification bytes.
    for (off, w) in [
        (16, 2),
        (18, 2),
        (20, 4),
        (24, 8),
        (32, 8),
        (40, 8),
        (48, 4),
        (52, 2),
        (54, 2),
        (56, 2),
        (58, 2),
        (60, 2),
        (62, 2),
    ] {
        v.push((off, w));
    }
    let Ok(f) = object::File::parse(bytes) else {
        return v;
    };
    let shoff = u64::from_le_bytes(bytes[40..48].try_into().unwrap()) as usize;
    let shnum = u16::from_le_bytes(bytes[60..62].try_into().unwrap()) as usize;
    for i in 0..shnum {
        let base = shoff + i * 64;
        for (off, w) in [
            (0, 4),
            (4, 4),
            (8, 8),
            (16, 8),
            (24, 8),
            (32, 8),
            (40, 4),
            (44, 4),
            (48, 8),
            (56, 8),
        ] {
            v.push((base + off, w));
        }
    }
    for s in f.sections() {
        let name = s.name().unwrap_or("");
        let Some((off, size)) = s.file_range() else {
            continue;
        };
        let (off, size) = (off as usize, size as usize);
        if name == ".symtab" {
            for e in (off..off + size).step_by(24) {
                for (o, w) in [(0, 4), (4, 1), (6, 2), (8, 8), (16, 8)] {
                    v.push((e + o, w));
                }
            }
        } else if name.starts_with(".rel") {
            for e in (off..off + size).step_by(16) {
                v.push((e, 8));
                v.push((e + 8, 4));
                v.push((e + 12, 4));
            }
        }
    }
    v
}

#[test]
fn structural_field_mutations_never_panic() {
    let mut total = 0;
    let mut failures = Vec::new();
    for src in common::sources() {
        let base = std::fs::read(src.with_extension("o")).unwrap();
        for (off, w) in structural_fields(&base) {
            if off + w > base.len() {
                continue;
            }
            let orig = {
                let mut a = [0u8; 8];
                a[..w].copy_from_slice(&base[off..off + w]);
                u64::from_le_bytes(a)
            };
            for v in [
                0,
                1,
                orig.wrapping_add(8),
                orig.wrapping_sub(1),
                0x7fff_ffff,
                0xffff_ffff,
                u64::MAX,
            ] {
                if v == orig {
                    continue;
                }
                let mut m = base.clone();
                m[off..off + w].copy_from_slice(&v.to_le_bytes()[..w]);
                total += 1;
                if catch_unwind(AssertUnwindSafe(|| oxbpf_obj::fuzzing::check_object(&m))).is_err()
                {
                    failures.push(format!("{} byte {off} = {v:#x}", src.display()));
                }
            }
        }
    }
    println!("{total} structural mutations");
    assert!(total > 10_000);
    assert!(failures.is_empty(), "panics on: {failures:?}");
}
