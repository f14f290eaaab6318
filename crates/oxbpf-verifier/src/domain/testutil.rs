//! A small deterministic generator for the domains' soundness tests.

use super::tnum::Tnum;

/// xorshift64* with helpers that favour edge values (0, ±1, powers of two, the extremes
/// of 8, 16, 32 and 64 bits), where abstract-domain bugs hide.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    /// A value biased towards edges.
    pub fn interesting(&mut self) -> u64 {
        let r = self.next();
        match r % 10 {
            0 => [0, 1, 2, 3, 7, 8, 255, 256, 4095, 4096][self.below(10) as usize],
            1 => (1u64 << self.below(64))
                .wrapping_add(self.below(3))
                .wrapping_sub(1),
            2 => (-(1i64 << self.below(63)) + self.below(3) as i64 - 1) as u64,
            3 => [
                u64::MAX,
                i64::MAX as u64,
                i64::MIN as u64,
                u32::MAX as u64,
                i32::MAX as u64,
                i32::MIN as i64 as u64,
                0x8000_0000,
                0xffff_ffff_0000_0000,
            ][self.below(8) as usize],
            4 => self.below(64),
            5 => (self.below(2000) as i64 - 1000) as u64,
            6 => self.next() & 0xffff_ffff,
            7 => self.next() as u32 as i32 as i64 as u64,
            _ => self.next(),
        }
    }

    /// A tnum with a random mix of known and unknown bits.
    pub fn tnum(&mut self) -> Tnum {
        let mask = match self.below(6) {
            0 => 0,
            1 => self.next() & self.next() & self.next(),
            2 => (1u64 << self.below(64)) - 1,
            3 => u64::MAX,
            4 => 0xffff_ffff_0000_0000 & self.next(),
            _ => self.next(),
        };
        Tnum::new(self.interesting(), mask)
    }
}
