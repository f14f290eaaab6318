//! Bob Jenkins' lookup3 hash as Linux's `<linux/jhash.h>` defines it (`jhash`, `jhash2`).
//!
//! Bloom filters hash with it so that, with `BPF_F_ZERO_SEED`, an oxbpf bloom filter sets
//! exactly the bits the kernel's would; hash maps use it with a random per-map seed.

const JHASH_INITVAL: u32 = 0xdead_beef;

#[inline(always)]
fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

#[inline(always)]
fn finish(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(14));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(11));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(25));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(16));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(4));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(14));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(24));
}

#[inline(always)]
fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// `jhash(key, length, initval)` over bytes (words read little-endian, as on x86-64).
pub(crate) fn jhash(key: &[u8], initval: u32) -> u32 {
    let mut a = JHASH_INITVAL
        .wrapping_add(key.len() as u32)
        .wrapping_add(initval);
    let mut b = a;
    let mut c = a;
    let mut k = key;
    while k.len() > 12 {
        a = a.wrapping_add(le32(&k[0..]));
        b = b.wrapping_add(le32(&k[4..]));
        c = c.wrapping_add(le32(&k[8..]));
        mix(&mut a, &mut b, &mut c);
        k = &k[12..];
    }
    if k.is_empty() {
        return c;
    }
    // The tail: up to 12 bytes, each added at its little-endian position.
    let mut tail = [0u32; 3];
    for (i, &byte) in k.iter().enumerate() {
        tail[i / 4] = tail[i / 4].wrapping_add((byte as u32) << ((i % 4) * 8));
    }
    a = a.wrapping_add(tail[0]);
    b = b.wrapping_add(tail[1]);
    c = c.wrapping_add(tail[2]);
    finish(&mut a, &mut b, &mut c);
    c
}

/// `jhash2(words, length_in_words, initval)` over a byte slice whose length is a multiple
/// of 4 (words read in native, little-endian order).
pub(crate) fn jhash2(key: &[u8], initval: u32) -> u32 {
    debug_assert_eq!(key.len() % 4, 0);
    let words = key.len() / 4;
    let mut a = JHASH_INITVAL
        .wrapping_add((words as u32) << 2)
        .wrapping_add(initval);
    let mut b = a;
    let mut c = a;
    let mut k = key;
    while k.len() > 12 {
        a = a.wrapping_add(le32(&k[0..]));
        b = b.wrapping_add(le32(&k[4..]));
        c = c.wrapping_add(le32(&k[8..]));
        mix(&mut a, &mut b, &mut c);
        k = &k[12..];
    }
    match k.len() / 4 {
        3 => {
            c = c.wrapping_add(le32(&k[8..]));
            b = b.wrapping_add(le32(&k[4..]));
            a = a.wrapping_add(le32(&k[0..]));
        }
        2 => {
            b = b.wrapping_add(le32(&k[4..]));
            a = a.wrapping_add(le32(&k[0..]));
        }
        1 => a = a.wrapping_add(le32(&k[0..])),
        _ => return c,
    }
    finish(&mut a, &mut b, &mut c);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jhash2_equals_jhash_on_word_multiples() {
        // lookup3's byte and word variants agree on little-endian hosts when the length is
        // a multiple of 4 (same initial state, same words).
        for len in [0usize, 4, 8, 12, 16, 20, 24, 36] {
            let data: Vec<u8> = (0..len as u8).map(|x| x.wrapping_mul(37)).collect();
            assert_eq!(jhash(&data, 7), jhash2(&data, 7), "len {len}");
        }
    }

    #[test]
    fn empty_input_is_the_initial_value() {
        assert_eq!(jhash(&[], 0), JHASH_INITVAL);
        assert_eq!(jhash2(&[], 1), JHASH_INITVAL + 1);
    }

    #[test]
    fn every_byte_matters() {
        let base = [0u8; 13];
        let h = jhash(&base, 0);
        for i in 0..13 {
            let mut d = base;
            d[i] = 1;
            assert_ne!(jhash(&d, 0), h, "byte {i}");
        }
    }
}
