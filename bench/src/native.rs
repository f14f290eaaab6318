//! Native Rust versions of the benchmark programs: the same algorithms, operation for
//! operation, as the C sources in `bench/programs/` (wrapping integer arithmetic, the same
//! SWAR bit tricks, the same branch-free selects). Compiled by rustc for the host, they are
//! the physical limit the engines are compared with.
//!
//! Each takes the input buffer (the programs' `r1`/`r2`) and returns what the eBPF program
//! returns in `r0`.

use crate::BUF_SIZE;

/// The first `BUF_SIZE` bytes, or `None` when the buffer is shorter (the programs then
/// return 0, as their `len < BUF_SIZE` check does).
fn head(buf: &[u8]) -> Option<&[u8; BUF_SIZE]> {
    buf.get(..BUF_SIZE).and_then(|b| b.try_into().ok())
}

fn u64_at(buf: &[u8; BUF_SIZE], word: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[word * 8..word * 8 + 8]);
    u64::from_le_bytes(b)
}

fn u32_at(buf: &[u8; BUF_SIZE], word: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[word * 4..word * 4 + 4]);
    u32::from_le_bytes(b)
}

fn popcount_swar(x: u64) -> u64 {
    let x = x.wrapping_sub((x >> 1) & 0x5555_5555_5555_5555);
    let x = (x & 0x3333_3333_3333_3333) + ((x >> 2) & 0x3333_3333_3333_3333);
    let x = (x.wrapping_add(x >> 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    x.wrapping_mul(0x0101_0101_0101_0101) >> 56
}

/// `loop.c`
pub fn loop_(buf: &[u8]) -> u64 {
    let Some(buf) = head(buf) else { return 0 };
    let mut acc = u64_at(buf, 0);
    for i in 0..96u64 {
        let mut x = acc ^ i;
        for j in 0..256u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(j);
            acc = acc.wrapping_add(x >> 33);
        }
    }
    acc
}

/// `sieve.c`
pub fn sieve(buf: &[u8]) -> u64 {
    const WORDS: usize = 48;
    const NBITS: u32 = (WORDS * 64) as u32;
    let Some(buf) = head(buf) else { return 0 };
    let mut bits = [0u64; WORDS];
    bits[0] = 1;
    for k in 1..40u32 {
        if (bits[(k >> 6) as usize] >> (k & 63)) & 1 != 0 {
            continue;
        }
        let n = 2 * k + 1;
        let mut m = (n * n) >> 1;
        while m < NBITS {
            bits[(m >> 6) as usize] |= 1u64 << (m & 63);
            m += n;
        }
    }
    let mut primes = 0u64;
    let mut mix = 0u64;
    for (w, &b) in bits.iter().enumerate() {
        let p = !b;
        primes += popcount_swar(p);
        mix = mix.rotate_left(5) ^ (p & u64_at(buf, w));
    }
    (primes << 48) ^ mix
}

/// `hash.c`
pub fn hash(buf: &[u8]) -> u64 {
    let Some(buf) = head(buf) else { return 0 };
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in buf.iter() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    let mut h2 = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..BUF_SIZE / 8 {
        let mut k = u64_at(buf, i).wrapping_mul(0x87c3_7b91_1142_53d5);
        k = k.rotate_left(31);
        k = k.wrapping_mul(0x4cf5_ad43_2745_937f);
        h2 ^= k;
        h2 = h2.rotate_left(27).wrapping_mul(5).wrapping_add(0x52dc_e729);
    }
    h2 ^= h2 >> 33;
    h2 = h2.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h2 ^= h2 >> 33;
    h ^ h2
}

/// `sort.c`
pub fn sort(buf: &[u8]) -> u64 {
    const N: usize = 64;
    const CHUNKS: usize = 8;
    let Some(buf) = head(buf) else { return 0 };
    let mut acc = 0u64;
    let mut a = [0u32; N];
    for c in 0..CHUNKS {
        for (i, slot) in a.iter_mut().enumerate() {
            *slot = u32_at(buf, c * N + i);
        }
        let mut k = 2;
        while k <= N {
            let mut j = k >> 1;
            while j > 0 {
                for i in 0..N {
                    let l = i ^ j;
                    if l <= i {
                        continue;
                    }
                    let x = u64::from(a[i]);
                    let y = u64::from(a[l]);
                    let diff = y.wrapping_sub(x);
                    let mut swap = 0u64.wrapping_sub(diff >> 63);
                    if i & k != 0 {
                        swap = !swap;
                    }
                    let d = (x ^ y) & swap;
                    a[i] = (x ^ d) as u32;
                    a[l] = (y ^ d) as u32;
                }
                j >>= 1;
            }
            k <<= 1;
        }
        for (i, &v) in a.iter().enumerate() {
            acc = acc
                .wrapping_mul(31)
                .wrapping_add(u64::from(v).wrapping_mul(i as u64 + 1));
        }
    }
    acc
}

/// `bits.c`
pub fn bits(buf: &[u8]) -> u64 {
    fn bitrev(x: u64) -> u64 {
        let x = ((x >> 1) & 0x5555_5555_5555_5555) | ((x & 0x5555_5555_5555_5555) << 1);
        let x = ((x >> 2) & 0x3333_3333_3333_3333) | ((x & 0x3333_3333_3333_3333) << 2);
        let x = ((x >> 4) & 0x0f0f_0f0f_0f0f_0f0f) | ((x & 0x0f0f_0f0f_0f0f_0f0f) << 4);
        x.swap_bytes()
    }
    fn clz(mut x: u64) -> u64 {
        x |= x >> 1;
        x |= x >> 2;
        x |= x >> 4;
        x |= x >> 8;
        x |= x >> 16;
        x |= x >> 32;
        64 - popcount_swar(x)
    }
    fn ctz(x: u64) -> u64 {
        let low = x & 0u64.wrapping_sub(x);
        popcount_swar(low.wrapping_sub(1))
    }
    let Some(buf) = head(buf) else { return 0 };
    let mut acc = 0u64;
    for r in 0..2 {
        for i in 0..BUF_SIZE / 8 {
            let x = u64_at(buf, i) ^ (acc >> r);
            let gray = x ^ (x >> 1);
            let parity = popcount_swar(x) & 1;
            acc = acc
                .wrapping_add(popcount_swar(x) + (clz(x) << 8) + (ctz(x) << 16) + (parity << 24));
            acc = acc.rotate_left(13) ^ bitrev(gray);
        }
    }
    acc
}

/// `straight.c`
pub fn straight(buf: &[u8]) -> u64 {
    let Some(buf) = head(buf) else { return 0 };
    let mut v = [0u64; 8];
    for (i, x) in v.iter_mut().enumerate() {
        *x = u64_at(buf, i);
    }
    fn qr(v: &mut [u64; 8], a: usize, b: usize, c: usize, d: usize) {
        v[a] = v[a].wrapping_add(v[b]);
        v[d] ^= v[a];
        v[d] = v[d].rotate_left(32);
        v[c] = v[c].wrapping_add(v[d]);
        v[b] ^= v[c];
        v[b] = v[b].rotate_left(24);
        v[a] = v[a].wrapping_add(v[b]);
        v[d] ^= v[a];
        v[d] = v[d].rotate_left(16);
        v[c] = v[c].wrapping_add(v[d]);
        v[b] ^= v[c];
        v[b] = v[b].rotate_left(63);
    }
    for _ in 0..4 {
        qr(&mut v, 0, 1, 2, 3);
        qr(&mut v, 4, 5, 6, 7);
        qr(&mut v, 0, 5, 2, 7);
        qr(&mut v, 4, 1, 6, 3);
    }
    v.iter().fold(0, |acc, x| acc ^ x)
}

/// `collatz.c`
pub fn collatz(buf: &[u8]) -> u64 {
    let Some(buf) = head(buf) else { return 0 };
    let mut total = 0u64;
    for v in 0..64 {
        let mut n = u64::from((u32_at(buf, v) & 0xfffff) + 2);
        let mut alive = 1u64;
        let mut steps = 0u64;
        for _ in 0..192 {
            let odd = 0u64.wrapping_sub(n & 1);
            n = (n.wrapping_mul(3).wrapping_add(1) & odd) | ((n >> 1) & !odd);
            steps += alive;
            let t = n.wrapping_sub(1);
            let nz = t | 0u64.wrapping_sub(t);
            alive &= nz >> 63;
        }
        total = total.wrapping_mul(257).wrapping_add(steps);
    }
    total
}

/// `matmul.c`
#[allow(clippy::needless_range_loop)] // indexed like the C source
pub fn matmul(buf: &[u8]) -> u64 {
    const D: usize = 8;
    let Some(buf) = head(buf) else { return 0 };
    let mut a = [[0u32; D]; D];
    for (i, row) in a.iter_mut().enumerate() {
        for (j, x) in row.iter_mut().enumerate() {
            *x = u32_at(buf, i * D + j);
        }
    }
    let mut m = a;
    let mut col = [0u32; D];
    for _ in 0..16 {
        for j in 0..D {
            for (i, c) in col.iter_mut().enumerate() {
                let mut s = 0u32;
                for k in 0..D {
                    s = s.wrapping_add(a[i][k].wrapping_mul(m[k][j]));
                }
                *c = s;
            }
            for i in 0..D {
                m[i][j] = col[i];
            }
        }
    }
    let mut h = 0u64;
    for row in &m {
        for &x in row {
            h = h.wrapping_mul(1000003).wrapping_add(u64::from(x));
        }
    }
    h
}

/// `strsearch.c`
pub fn strsearch(buf: &[u8]) -> u64 {
    let Some(buf) = head(buf) else { return 0 };
    let needle = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
    let mut window = 0u32;
    let mut count = 0u64;
    let mut at = 0u64;
    for (i, &b) in buf.iter().enumerate().skip(16) {
        window = (window << 8) | u32::from(b);
        if window == needle {
            count += 1;
            at += i as u64;
        }
    }
    (count << 32) | at
}

/// The empty program (`r0 = 0; exit`).
pub fn empty(_buf: &[u8]) -> u64 {
    0
}
