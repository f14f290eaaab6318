//! Tristate numbers: 64-bit values where each bit is known 0, known 1 or unknown.
//!
//! A `Tnum { value, mask }` stands for every `x` with `x & !mask == value`: bits set in
//! `mask` are unknown, the others are `value`'s. Invariant: `value & mask == 0`.
//!
//! Every operation here is an over-approximation: if `a` contains `x` and `b` contains `y`,
//! then `a op b` contains `x op y` (checked against random concrete values in the tests).

use serde::Serialize;
use std::fmt;

/// A 64-bit tristate number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Tnum {
    /// Known bits (zero where unknown).
    pub value: u64,
    /// Unknown bits.
    pub mask: u64,
}

impl Tnum {
    /// Every 64-bit value.
    pub const UNKNOWN: Tnum = Tnum {
        value: 0,
        mask: u64::MAX,
    };

    /// Exactly `v`.
    pub const fn constant(v: u64) -> Tnum {
        Tnum { value: v, mask: 0 }
    }

    /// From raw parts, restoring the invariant (`value & mask == 0`).
    pub const fn new(value: u64, mask: u64) -> Tnum {
        Tnum {
            value: value & !mask,
            mask,
        }
    }

    /// The smallest tnum containing every value in `min..=max` (unsigned).
    pub fn range(min: u64, max: u64) -> Tnum {
        if min > max {
            return Tnum::UNKNOWN;
        }
        let chi = min ^ max;
        // Bits below and including the highest differing bit are unknown.
        let bits = 64 - chi.leading_zeros();
        if bits > 63 {
            return Tnum::UNKNOWN;
        }
        let delta = (1u64 << bits) - 1;
        Tnum::new(min & !delta, delta)
    }

    /// True when exactly one value is contained.
    pub const fn is_const(self) -> bool {
        self.mask == 0
    }

    /// True when nothing is known.
    pub const fn is_unknown(self) -> bool {
        self.mask == u64::MAX
    }

    /// True when `x` is one of the values.
    pub const fn contains(self, x: u64) -> bool {
        x & !self.mask == self.value
    }

    /// True when every value of `other` is also a value of `self`.
    pub const fn contains_tnum(self, other: Tnum) -> bool {
        // Bits unknown in `other` must be unknown in `self`; known bits must agree where
        // `self` knows them.
        if other.mask & !self.mask != 0 {
            return false;
        }
        other.value & !self.mask == self.value
    }

    /// Smallest contained value (unsigned).
    pub const fn umin(self) -> u64 {
        self.value
    }

    /// Largest contained value (unsigned).
    pub const fn umax(self) -> u64 {
        self.value | self.mask
    }

    /// Smallest contained value (signed).
    pub const fn smin(self) -> i64 {
        (self.value | (self.mask & (1 << 63))) as i64
    }

    /// Largest contained value (signed).
    pub const fn smax(self) -> i64 {
        (self.value | (self.mask & !(1 << 63))) as i64
    }

    /// `self << shift` (shift < 64).
    pub const fn lshift(self, shift: u32) -> Tnum {
        Tnum {
            value: self.value << shift,
            mask: self.mask << shift,
        }
    }

    /// Logical `self >> shift` (shift < 64).
    pub const fn rshift(self, shift: u32) -> Tnum {
        Tnum {
            value: self.value >> shift,
            mask: self.mask >> shift,
        }
    }

    /// Arithmetic right shift of the low `bits` (32 or 64) by `shift` (< bits); for 32
    /// bits the result is zero-extended, as a 32-bit ALU result is.
    pub fn arshift(self, shift: u32, bits: u32) -> Tnum {
        if bits == 32 {
            let v = ((self.value as u32 as i32) >> shift) as u32 as u64;
            let m = ((self.mask as u32 as i32) >> shift) as u32 as u64;
            Tnum::new(v, m)
        } else {
            Tnum::new(
                ((self.value as i64) >> shift) as u64,
                ((self.mask as i64) >> shift) as u64,
            )
        }
    }

    /// `self + other` (wrapping).
    pub const fn add(self, other: Tnum) -> Tnum {
        let sm = self.mask.wrapping_add(other.mask);
        let sv = self.value.wrapping_add(other.value);
        let sigma = sm.wrapping_add(sv);
        let chi = sigma ^ sv;
        let mu = chi | self.mask | other.mask;
        Tnum {
            value: sv & !mu,
            mask: mu,
        }
    }

    /// `self - other` (wrapping).
    pub const fn sub(self, other: Tnum) -> Tnum {
        let dv = self.value.wrapping_sub(other.value);
        let alpha = dv.wrapping_add(self.mask);
        let beta = dv.wrapping_sub(other.mask);
        let chi = alpha ^ beta;
        let mu = chi | self.mask | other.mask;
        Tnum {
            value: dv & !mu,
            mask: mu,
        }
    }

    /// `-self` (wrapping).
    pub const fn neg(self) -> Tnum {
        Tnum::constant(0).sub(self)
    }

    /// `self & other`.
    pub const fn and(self, other: Tnum) -> Tnum {
        let alpha = self.value | self.mask;
        let beta = other.value | other.mask;
        let v = self.value & other.value;
        Tnum {
            value: v,
            mask: alpha & beta & !v,
        }
    }

    /// `self | other`.
    pub const fn or(self, other: Tnum) -> Tnum {
        let v = self.value | other.value;
        let mu = self.mask | other.mask;
        Tnum {
            value: v,
            mask: mu & !v,
        }
    }

    /// `self ^ other`.
    pub const fn xor(self, other: Tnum) -> Tnum {
        let v = self.value ^ other.value;
        let mu = self.mask | other.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// `self * other` (wrapping), by long multiplication over the bits of `self`.
    pub fn multiply(self, other: Tnum) -> Tnum {
        let mut a = self;
        let mut b = other;
        // Accumulate the product of the known parts exactly, and the uncertain partial
        // products as a tnum.
        let acc_v = a.value.wrapping_mul(b.value);
        let mut acc_m = Tnum::constant(0);
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                // Known 1 bit: adds b's uncertainty.
                acc_m = acc_m.add(Tnum::new(0, b.mask));
            } else if a.mask & 1 != 0 {
                // Unknown bit: adds anything up to b.
                acc_m = acc_m.add(Tnum::new(0, b.value | b.mask));
            }
            a = a.rshift(1);
            b = b.lshift(1);
        }
        Tnum::constant(acc_v).add(acc_m)
    }

    /// Values in both (when the two have a value in common; otherwise the result is some
    /// tnum containing nothing of either, which callers detect by bounds).
    pub const fn intersect(self, other: Tnum) -> Tnum {
        let v = self.value | other.value;
        let mu = self.mask & other.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// True when `self` and `other` have at least one value in common.
    pub const fn overlaps(self, other: Tnum) -> bool {
        let known_both = !self.mask & !other.mask;
        (self.value ^ other.value) & known_both == 0
    }

    /// The smallest tnum containing every value of both.
    pub const fn union(self, other: Tnum) -> Tnum {
        let v = self.value & other.value;
        let mu = self.mask | other.mask | (self.value ^ other.value);
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// Truncation to the low `bytes` bytes (1, 2, 4 or 8), zero-extended.
    pub const fn cast(self, bytes: u32) -> Tnum {
        if bytes >= 8 {
            return self;
        }
        let m = (1u64 << (bytes * 8)) - 1;
        Tnum {
            value: self.value & m,
            mask: self.mask & m,
        }
    }

    /// Sign extension of the low `bytes` bytes (1, 2 or 4) to 64 bits.
    pub fn sign_extend(self, bytes: u32) -> Tnum {
        if bytes >= 8 {
            return self;
        }
        let sh = 64 - bytes * 8;
        Tnum::new(
            (((self.value << sh) as i64) >> sh) as u64,
            (((self.mask << sh) as i64) >> sh) as u64,
        )
    }

    /// The low `bits` (16, 32 or 64) with their bytes reversed, zero-extended (a byte
    /// swap moves bits without mixing them, so it is exact on tnums).
    pub const fn byte_swap(self, bits: u32) -> Tnum {
        match bits {
            16 => Tnum {
                value: (self.value as u16).swap_bytes() as u64,
                mask: (self.mask as u16).swap_bytes() as u64,
            },
            32 => Tnum {
                value: (self.value as u32).swap_bytes() as u64,
                mask: (self.mask as u32).swap_bytes() as u64,
            },
            _ => Tnum {
                value: self.value.swap_bytes(),
                mask: self.mask.swap_bytes(),
            },
        }
    }

    /// True when every value is a multiple of `size` (a power of two).
    pub const fn is_aligned(self, size: u64) -> bool {
        if size == 0 {
            return true;
        }
        (self.value | self.mask) & (size - 1) == 0
    }

    /// The low 32 bits, zero-extended.
    pub const fn subreg(self) -> Tnum {
        self.cast(4)
    }

    /// The high 32 bits kept, the low 32 bits cleared.
    pub const fn clear_subreg(self) -> Tnum {
        Tnum {
            value: self.value & !0xffff_ffff,
            mask: self.mask & !0xffff_ffff,
        }
    }

    /// `self` with its low 32 bits replaced by the low 32 bits of `sub`.
    pub const fn with_subreg(self, sub: Tnum) -> Tnum {
        let hi = self.clear_subreg();
        let lo = sub.subreg();
        Tnum {
            value: hi.value | lo.value,
            mask: hi.mask | lo.mask,
        }
    }

    /// `self` with its low 32 bits set to `v`.
    pub const fn with_const_subreg(self, v: u32) -> Tnum {
        self.with_subreg(Tnum::constant(v as u64))
    }
}

impl fmt::Debug for Tnum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(0x{:x}; 0x{:x})", self.value, self.mask)
    }
}

impl fmt::Display for Tnum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_const() {
            write!(f, "{}", self.value)
        } else {
            write!(f, "(0x{:x}; 0x{:x})", self.value, self.mask)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testutil::Rng;

    /// A random tnum and a random member of it.
    fn sample(rng: &mut Rng) -> (Tnum, u64) {
        let t = rng.tnum();
        let x = t.value | (rng.next() & t.mask);
        assert!(t.contains(x));
        (t, x)
    }

    #[test]
    fn binary_ops_are_sound() {
        let mut rng = Rng::new(1);
        for _ in 0..200_000 {
            let (a, x) = sample(&mut rng);
            let (b, y) = sample(&mut rng);
            assert!(a.add(b).contains(x.wrapping_add(y)), "add {a:?} {b:?}");
            assert!(a.sub(b).contains(x.wrapping_sub(y)), "sub {a:?} {b:?}");
            assert!(a.and(b).contains(x & y), "and");
            assert!(a.or(b).contains(x | y), "or");
            assert!(a.xor(b).contains(x ^ y), "xor");
            assert!(a.multiply(b).contains(x.wrapping_mul(y)), "mul {a:?} {b:?}");
            assert!(a.union(b).contains(x) && a.union(b).contains(y), "union");
            assert!(a.neg().contains(x.wrapping_neg()), "neg");
            if a.overlaps(b) {
                // Any common member is in the intersection.
                let common = a.value | b.value | (rng.next() & a.mask & b.mask);
                if a.contains(common) && b.contains(common) {
                    assert!(a.intersect(b).contains(common));
                }
            }
            if a.contains(y) {
                assert!(a.overlaps(b));
                assert!(a.intersect(b).contains(y));
            }
            let sh = (y & 63) as u32;
            assert!(a.lshift(sh).contains(x << sh));
            assert!(a.rshift(sh).contains(x >> sh));
            assert!(a.arshift(sh, 64).contains(((x as i64) >> sh) as u64));
            let sh32 = (y & 31) as u32;
            assert!(a
                .arshift(sh32, 32)
                .contains(((x as u32 as i32) >> sh32) as u32 as u64));
            for bytes in [1, 2, 4, 8] {
                let m = if bytes == 8 {
                    u64::MAX
                } else {
                    (1u64 << (bytes * 8)) - 1
                };
                assert!(a.cast(bytes).contains(x & m));
                let sx = match bytes {
                    1 => x as u8 as i8 as i64 as u64,
                    2 => x as u16 as i16 as i64 as u64,
                    4 => x as u32 as i32 as i64 as u64,
                    _ => x,
                };
                assert!(a.sign_extend(bytes).contains(sx));
            }
            assert!(a.umin() <= x && x <= a.umax());
            assert!(a.smin() <= x as i64 && x as i64 <= a.smax());
            assert!(a.subreg().contains(x & 0xffff_ffff));
            assert!(a.byte_swap(16).contains((x as u16).swap_bytes() as u64));
            assert!(a.byte_swap(32).contains((x as u32).swap_bytes() as u64));
            assert!(a.byte_swap(64).contains(x.swap_bytes()));
            assert!(a.clear_subreg().contains(x & !0xffff_ffff));
            assert!(a
                .with_subreg(b)
                .contains((x & !0xffff_ffff) | (y & 0xffff_ffff)));
        }
    }

    #[test]
    fn range_contains_its_members() {
        let mut rng = Rng::new(2);
        for _ in 0..100_000 {
            let a = rng.interesting();
            let b = rng.interesting();
            let (lo, hi) = (a.min(b), a.max(b));
            let t = Tnum::range(lo, hi);
            assert!(t.contains(lo) && t.contains(hi));
            let mid = lo + (rng.next() % (hi - lo).saturating_add(1).max(1));
            assert!(t.contains(mid), "{lo} {hi} {mid} {t:?}");
        }
        assert_eq!(Tnum::range(5, 5), Tnum::constant(5));
        assert_eq!(Tnum::range(0, 7), Tnum::new(0, 7));
        assert!(Tnum::range(0, u64::MAX).is_unknown());
    }

    #[test]
    fn contains_tnum_is_subset() {
        let mut rng = Rng::new(3);
        for _ in 0..100_000 {
            let a = rng.tnum();
            let b = rng.tnum();
            if a.contains_tnum(b) {
                for _ in 0..8 {
                    let y = b.value | (rng.next() & b.mask);
                    assert!(a.contains(y));
                }
            }
            assert!(a.union(b).contains_tnum(a));
            assert!(a.union(b).contains_tnum(b));
        }
    }

    #[test]
    fn exact_on_constants() {
        let a = Tnum::constant(6);
        let b = Tnum::constant(7);
        assert_eq!(a.multiply(b), Tnum::constant(42));
        assert_eq!(a.add(b), Tnum::constant(13));
        assert_eq!(a.sub(b), Tnum::constant(u64::MAX));
        assert_eq!(a.and(b), Tnum::constant(6));
        assert!(Tnum::new(0, 0xf0).is_aligned(16));
        assert!(!Tnum::new(0, 0xf8).is_aligned(16));
    }
}
