//! Abstract scalar values: a tnum plus signed and unsigned bounds at 64 and 32 bits.
//!
//! A [`Scalar`] stands for every 64-bit `x` that satisfies all of its constraints at
//! once: `var_off` contains `x`, `umin <= x <= umax`, `smin <= x as i64 <= smax`, and the
//! same for the low 32 bits with the 32-bit bounds. Because the meaning is the conjunction,
//! [`Scalar::sync`] may tighten any constraint from the others without losing a value.
//!
//! Every operation over-approximates the concrete one in [`super::concrete`]; the tests
//! check that against random values and edge cases. When a branch refinement finds no
//! value left, it returns `None`: that branch cannot be taken.

use super::concrete;
use super::tnum::Tnum;
use oxbpf_isa::{AluOp, ByteOrder, JmpOp, Width};
use serde::Serialize;
use std::fmt;

const LOW32: u64 = 0xffff_ffff;

/// An abstract 64-bit value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Scalar {
    pub var_off: Tnum,
    pub umin: u64,
    pub umax: u64,
    pub smin: i64,
    pub smax: i64,
    pub u32_min: u32,
    pub u32_max: u32,
    pub s32_min: i32,
    pub s32_max: i32,
}

/// Signed and unsigned bounds at one width (32-bit bounds are stored widened).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bounds {
    umin: u64,
    umax: u64,
    smin: i64,
    smax: i64,
}

impl Bounds {
    fn full(bits: u32) -> Bounds {
        if bits == 32 {
            Bounds {
                umin: 0,
                umax: LOW32,
                smin: i32::MIN as i64,
                smax: i32::MAX as i64,
            }
        } else {
            Bounds {
                umin: 0,
                umax: u64::MAX,
                smin: i64::MIN,
                smax: i64::MAX,
            }
        }
    }

    fn signed_nonneg(&self) -> bool {
        self.smin >= 0
    }
}

fn umask(bits: u32) -> u128 {
    (1u128 << bits) - 1
}

/// The unsigned range of `{v mod 2^bits | lo <= v <= hi}` if it is an interval that does
/// not wrap, else the full range.
fn urange_wide(lo: i128, hi: i128, bits: u32) -> (u64, u64) {
    let full = (0, umask(bits) as u64);
    if lo > hi || hi - lo > umask(bits) as i128 {
        return full;
    }
    let m = 1i128 << bits;
    let (l, h) = (lo.rem_euclid(m), hi.rem_euclid(m));
    if l <= h {
        (l as u64, h as u64)
    } else {
        full
    }
}

/// Sign-extends the low `bits` of `v`.
fn sext(v: i128, bits: u32) -> i128 {
    let m = 1i128 << bits;
    let r = v.rem_euclid(m);
    if r >= m / 2 {
        r - m
    } else {
        r
    }
}

/// The signed range of `{sext_bits(v) | lo <= v <= hi}` if it is an interval, else full.
fn srange_wide(lo: i128, hi: i128, bits: u32) -> (i64, i64) {
    let half = 1i128 << (bits - 1);
    let full = ((-half) as i64, (half - 1) as i64);
    if lo > hi || hi - lo > umask(bits) as i128 {
        return full;
    }
    let (l, h) = (sext(lo, bits), sext(hi, bits));
    if l <= h {
        (l as i64, h as i64)
    } else {
        full
    }
}

fn bounds_from_wide(ulo: i128, uhi: i128, slo: i128, shi: i128, bits: u32) -> Bounds {
    let (umin, umax) = urange_wide(ulo, uhi, bits);
    let (smin, smax) = srange_wide(slo, shi, bits);
    Bounds {
        umin,
        umax,
        smin,
        smax,
    }
}

/// Bounds of `a op b` at `bits` (32 or 64); `shift` is the constant shift amount for
/// shifts (already reduced below `bits`).
fn bounds_op(op: AluOp, a: Bounds, b: Bounds, bits: u32, shift: Option<u32>) -> Bounds {
    let full = Bounds::full(bits);
    let (au, bu) = (
        (a.umin as i128, a.umax as i128),
        (b.umin as i128, b.umax as i128),
    );
    let (as_, bs) = (
        (a.smin as i128, a.smax as i128),
        (b.smin as i128, b.smax as i128),
    );
    match op {
        AluOp::Add => bounds_from_wide(au.0 + bu.0, au.1 + bu.1, as_.0 + bs.0, as_.1 + bs.1, bits),
        AluOp::Sub => bounds_from_wide(au.0 - bu.1, au.1 - bu.0, as_.0 - bs.1, as_.1 - bs.0, bits),
        AluOp::Mul => {
            let corners = [as_.0 * bs.0, as_.0 * bs.1, as_.1 * bs.0, as_.1 * bs.1];
            let smin = corners.iter().copied().min().unwrap_or(0);
            let smax = corners.iter().copied().max().unwrap_or(0);
            match (au.0.checked_mul(bu.0), au.1.checked_mul(bu.1)) {
                (Some(lo), Some(hi)) => bounds_from_wide(lo, hi, smin, smax, bits),
                _ => {
                    let (smin, smax) = srange_wide(smin, smax, bits);
                    Bounds { smin, smax, ..full }
                }
            }
        }
        AluOp::And => {
            let mut r = full;
            r.umax = a.umax.min(b.umax);
            if a.signed_nonneg() && b.signed_nonneg() {
                r.smin = 0;
                r.smax = a.smax.min(b.smax);
            } else if a.signed_nonneg() {
                r.smin = 0;
                r.smax = a.smax;
            } else if b.signed_nonneg() {
                r.smin = 0;
                r.smax = b.smax;
            }
            r
        }
        AluOp::Or => {
            let mut r = full;
            r.umin = a.umin.max(b.umin);
            if a.signed_nonneg() && b.signed_nonneg() {
                r.smin = a.smin.max(b.smin);
            } else if a.smax < 0 || b.smax < 0 {
                // A negative operand keeps the sign bit set.
                r.smax = -1;
            }
            r
        }
        AluOp::Xor => {
            let mut r = full;
            if a.signed_nonneg() && b.signed_nonneg() {
                r.smin = 0;
            }
            r
        }
        AluOp::Lsh => match shift {
            Some(k) => {
                let f = 1i128 << k;
                // |values| < 2^64 and f <= 2^63: the products fit in i128.
                bounds_from_wide(au.0 * f, au.1 * f, as_.0 * f, as_.1 * f, bits)
            }
            None => full,
        },
        AluOp::Rsh => match shift {
            Some(0) => a,
            Some(k) => Bounds {
                umin: a.umin >> k,
                umax: a.umax >> k,
                smin: (a.umin >> k) as i64,
                smax: (a.umax >> k) as i64,
            },
            None => {
                let mut r = full;
                r.umax = a.umax;
                r
            }
        },
        AluOp::Arsh => match shift {
            Some(k) => {
                let (smin, smax) = (a.smin >> k, a.smax >> k);
                let mut r = full;
                r.smin = smin;
                r.smax = smax;
                if smin >= 0 || smax < 0 {
                    // One sign throughout: the unsigned view is the same interval.
                    r.umin = (smin as u64) & (umask(bits) as u64);
                    r.umax = (smax as u64) & (umask(bits) as u64);
                }
                r
            }
            None => full,
        },
        AluOp::Div => {
            let mut r = full;
            match shift {
                // `shift` carries the constant divisor here (see `alu_bits`).
                Some(k) if k > 0 => {
                    r.umin = a.umin / k as u64;
                    r.umax = a.umax / k as u64;
                }
                _ => r.umax = a.umax,
            }
            r
        }
        AluOp::Mod => {
            let mut r = full;
            r.umax = a.umax;
            if let Some(k) = shift.filter(|&k| k > 0) {
                if a.umax < k as u64 {
                    return a;
                }
                r.umax = k as u64 - 1;
            }
            r
        }
        _ => full,
    }
}

/// Known-bits result of `a op b`, both tnums restricted to `bits` (the 32-bit form gets the
/// low halves and returns a zero-extended result).
fn tnum_op(op: AluOp, a: Tnum, b: Tnum, bits: u32, shift: Option<u32>) -> Tnum {
    let t = match op {
        AluOp::Add => a.add(b),
        AluOp::Sub => a.sub(b),
        AluOp::Mul => a.multiply(b),
        AluOp::And => a.and(b),
        AluOp::Or => a.or(b),
        AluOp::Xor => a.xor(b),
        AluOp::Lsh => match shift {
            Some(k) => a.lshift(k),
            None => Tnum::UNKNOWN,
        },
        AluOp::Rsh => match shift {
            Some(k) => a.rshift(k),
            None => Tnum::UNKNOWN,
        },
        AluOp::Arsh => match shift {
            Some(k) => a.arshift(k, bits),
            None => Tnum::UNKNOWN,
        },
        _ => Tnum::UNKNOWN,
    };
    if bits == 32 {
        t.subreg()
    } else {
        t
    }
}

impl Scalar {
    /// Any 64-bit value.
    pub const UNKNOWN: Scalar = Scalar {
        var_off: Tnum::UNKNOWN,
        umin: 0,
        umax: u64::MAX,
        smin: i64::MIN,
        smax: i64::MAX,
        u32_min: 0,
        u32_max: u32::MAX,
        s32_min: i32::MIN,
        s32_max: i32::MAX,
    };

    /// Exactly `v`.
    pub const fn constant(v: u64) -> Scalar {
        Scalar {
            var_off: Tnum::constant(v),
            umin: v,
            umax: v,
            smin: v as i64,
            smax: v as i64,
            u32_min: v as u32,
            u32_max: v as u32,
            s32_min: v as u32 as i32,
            s32_max: v as u32 as i32,
        }
    }

    /// Every value in `min..=max` (unsigned).
    pub fn urange(min: u64, max: u64) -> Scalar {
        let mut s = Scalar::UNKNOWN;
        s.umin = min;
        s.umax = max;
        s.synced()
    }

    /// Every value in `min..=max` (signed).
    pub fn srange(min: i64, max: i64) -> Scalar {
        let mut s = Scalar::UNKNOWN;
        s.smin = min;
        s.smax = max;
        s.synced()
    }

    /// Any value of `bytes` bytes, zero-extended (what a load of that size yields).
    pub fn unknown_of_size(bytes: u32) -> Scalar {
        if bytes >= 8 {
            return Scalar::UNKNOWN;
        }
        Scalar::urange(0, (1u64 << (bytes * 8)) - 1)
    }

    /// Any value of `bytes` bytes, sign-extended to 64 bits.
    pub fn unknown_signed_of_size(bytes: u32) -> Scalar {
        if bytes >= 8 {
            return Scalar::UNKNOWN;
        }
        let half = 1i64 << (bytes * 8 - 1);
        Scalar::srange(-half, half - 1)
    }

    /// True when only one value remains.
    pub fn is_const(&self) -> bool {
        self.var_off.is_const()
    }

    /// The value, when only one remains.
    pub fn as_const(&self) -> Option<u64> {
        self.var_off.is_const().then_some(self.var_off.value)
    }

    /// The low 32 bits, when they are known.
    pub fn as_const32(&self) -> Option<u32> {
        let t = self.var_off.subreg();
        t.is_const().then_some(t.value as u32)
    }

    /// True when nothing is known.
    pub fn is_unknown(&self) -> bool {
        *self == Scalar::UNKNOWN
    }

    /// True when `x` is one of the values.
    pub fn contains(&self, x: u64) -> bool {
        self.var_off.contains(x)
            && self.umin <= x
            && x <= self.umax
            && self.smin <= x as i64
            && x as i64 <= self.smax
            && self.u32_min <= x as u32
            && x as u32 <= self.u32_max
            && self.s32_min <= x as u32 as i32
            && x as u32 as i32 <= self.s32_max
    }

    /// True when every constraint of `old` is implied by the corresponding one of `self`
    /// (so every value of `self` is a value of `old`).
    pub fn is_within(&self, old: &Scalar) -> bool {
        old.umin <= self.umin
            && self.umax <= old.umax
            && old.smin <= self.smin
            && self.smax <= old.smax
            && old.u32_min <= self.u32_min
            && self.u32_max <= old.u32_max
            && old.s32_min <= self.s32_min
            && self.s32_max <= old.s32_max
            && old.var_off.contains_tnum(self.var_off)
    }

    /// The smallest scalar containing every value of both.
    pub fn join(&self, o: &Scalar) -> Scalar {
        Scalar {
            var_off: self.var_off.union(o.var_off),
            umin: self.umin.min(o.umin),
            umax: self.umax.max(o.umax),
            smin: self.smin.min(o.smin),
            smax: self.smax.max(o.smax),
            u32_min: self.u32_min.min(o.u32_min),
            u32_max: self.u32_max.max(o.u32_max),
            s32_min: self.s32_min.min(o.s32_min),
            s32_max: self.s32_max.max(o.s32_max),
        }
        .synced()
    }

    /// True when a bound is contradictory: no value satisfies all constraints.
    pub fn is_empty(&self) -> bool {
        self.umin > self.umax
            || self.smin > self.smax
            || self.u32_min > self.u32_max
            || self.s32_min > self.s32_max
            || !self.var_off.contains(self.var_off.value)
    }

    fn b64(&self) -> Bounds {
        Bounds {
            umin: self.umin,
            umax: self.umax,
            smin: self.smin,
            smax: self.smax,
        }
    }

    fn b32(&self) -> Bounds {
        Bounds {
            umin: self.u32_min as u64,
            umax: self.u32_max as u64,
            smin: self.s32_min as i64,
            smax: self.s32_max as i64,
        }
    }

    fn from_parts(var_off: Tnum, b64: Bounds, b32: Bounds) -> Scalar {
        Scalar {
            var_off,
            umin: b64.umin,
            umax: b64.umax,
            smin: b64.smin,
            smax: b64.smax,
            u32_min: b32.umin as u32,
            u32_max: b32.umax as u32,
            s32_min: b32.smin as i32,
            s32_max: b32.smax as i32,
        }
    }

    /// The value of the low 32 bits, zero-extended (a 32-bit ALU result).
    pub fn zext32(&self) -> Scalar {
        let t = self.var_off.subreg();
        Scalar {
            var_off: t,
            umin: self.u32_min as u64,
            umax: self.u32_max as u64,
            smin: self.u32_min as i64,
            smax: self.u32_max as i64,
            u32_min: self.u32_min,
            u32_max: self.u32_max,
            s32_min: self.s32_min,
            s32_max: self.s32_max,
        }
        .synced()
    }

    /// Truncation to the low `bytes` bytes, zero-extended.
    pub fn truncate(&self, bytes: u32) -> Scalar {
        match bytes {
            8.. => *self,
            4 => self.zext32(),
            _ => {
                let max = (1u64 << (bytes * 8)) - 1;
                if self.umax <= max {
                    return *self;
                }
                let mut s = Scalar::urange(0, max);
                s.var_off = s.var_off.intersect(self.var_off.cast(bytes));
                s.synced()
            }
        }
    }

    /// Sign extension of the low `bytes` bytes (1, 2 or 4) to 64 bits.
    pub fn sign_extend(&self, bytes: u32) -> Scalar {
        if bytes >= 8 {
            return *self;
        }
        let half = 1i64 << (bytes * 8 - 1);
        // Values that already are sign-extended `bytes`-byte values stay as they are.
        if self.smin >= -half && self.smax < half {
            return *self;
        }
        let mut s = Scalar::srange(-half, half - 1);
        s.var_off = s.var_off.intersect(self.var_off.sign_extend(bytes));
        if bytes < 4 {
            // The low byte(s) keep their unsigned range when it does not cross the sign
            // bit of the narrow type.
            let lo = self.truncate(bytes);
            if lo.umax < half as u64 {
                return lo;
            }
        }
        s.synced()
    }

    /// Re-establishes the agreement between the tnum and the bounds, deducing each from
    /// the others (signed from unsigned, 32-bit from 64-bit and back).
    pub fn sync(&mut self) {
        for _ in 0..2 {
            self.tighten_from_tnum();
            self.deduce_bounds();
            self.tighten_tnum();
        }
        self.tighten_from_tnum();
    }

    /// [`Scalar::sync`] by value.
    pub fn synced(mut self) -> Scalar {
        self.sync();
        self
    }

    fn tighten_from_tnum(&mut self) {
        let t = self.var_off;
        self.umin = self.umin.max(t.umin());
        self.umax = self.umax.min(t.umax());
        self.smin = self.smin.max(t.smin());
        self.smax = self.smax.min(t.smax());
        let t32 = t.subreg();
        let (v, m) = (t32.value as u32, t32.mask as u32);
        self.u32_min = self.u32_min.max(v);
        self.u32_max = self.u32_max.min(v | m);
        self.s32_min = self.s32_min.max((v | (m & 0x8000_0000)) as i32);
        self.s32_max = self.s32_max.min((v | (m & 0x7fff_ffff)) as i32);
    }

    fn deduce_bounds(&mut self) {
        // 32-bit signed <-> unsigned, when the range stays on one side of the sign bit.
        if (self.u32_min as i32) <= (self.u32_max as i32) {
            self.s32_min = self.s32_min.max(self.u32_min as i32);
            self.s32_max = self.s32_max.min(self.u32_max as i32);
        }
        if (self.s32_min as u32) <= (self.s32_max as u32) {
            self.u32_min = self.u32_min.max(self.s32_min as u32);
            self.u32_max = self.u32_max.min(self.s32_max as u32);
        }
        // 64-bit signed <-> unsigned.
        if (self.umin as i64) <= (self.umax as i64) {
            self.smin = self.smin.max(self.umin as i64);
            self.smax = self.smax.min(self.umax as i64);
        }
        if (self.smin as u64) <= (self.smax as u64) {
            self.umin = self.umin.max(self.smin as u64);
            self.umax = self.umax.min(self.smax as u64);
        }
        // 64 -> 32: when the high halves agree, the low halves form an interval.
        if self.umin >> 32 == self.umax >> 32 {
            self.restrict32(self.umin as u32, self.umax as u32);
        }
        if self.smin >> 32 == self.smax >> 32 {
            self.restrict32(self.smin as u32, self.smax as u32);
        }
        // 32 -> 64: move the 64-bit bounds to the nearest values whose low halves lie in
        // the 32-bit unsigned range. (x -> (high half, low half) is monotone both for
        // unsigned and for signed 64-bit order, the low half compared unsigned.)
        if self.u32_min <= self.u32_max {
            let (lo, hi) = (self.u32_min as u64, self.u32_max as u64);
            if let Some(v) = raise_to_low_range(self.umin, lo, hi) {
                self.umin = self.umin.max(v);
            } else {
                self.umin = u64::MAX;
                self.umax = 0;
            }
            if let Some(v) = lower_to_low_range(self.umax, lo, hi) {
                self.umax = self.umax.min(v);
            } else {
                self.umin = u64::MAX;
                self.umax = 0;
            }
            if let Some(v) = raise_to_low_range(self.smin as u64 ^ (1 << 63), lo, hi) {
                self.smin = self.smin.max((v ^ (1 << 63)) as i64);
            } else {
                self.smin = i64::MAX;
                self.smax = i64::MIN;
            }
            if let Some(v) = lower_to_low_range(self.smax as u64 ^ (1 << 63), lo, hi) {
                self.smax = self.smax.min((v ^ (1 << 63)) as i64);
            } else {
                self.smin = i64::MAX;
                self.smax = i64::MIN;
            }
        }
        // A 64-bit value inside the s32 range is its own sign-extended low half.
        if self.smin >= i32::MIN as i64 && self.smax <= i32::MAX as i64 {
            self.smin = self.smin.max(self.s32_min as i64);
            self.smax = self.smax.min(self.s32_max as i64);
        }
        // Redo 64-bit signed <-> unsigned with what was learnt.
        if (self.umin as i64) <= (self.umax as i64) {
            self.smin = self.smin.max(self.umin as i64);
            self.smax = self.smax.min(self.umax as i64);
        }
        if (self.smin as u64) <= (self.smax as u64) {
            self.umin = self.umin.max(self.smin as u64);
            self.umax = self.umax.min(self.smax as u64);
        }
    }

    fn restrict32(&mut self, lo: u32, hi: u32) {
        if lo <= hi {
            self.u32_min = self.u32_min.max(lo);
            self.u32_max = self.u32_max.min(hi);
        }
        if (lo as i32) <= (hi as i32) {
            self.s32_min = self.s32_min.max(lo as i32);
            self.s32_max = self.s32_max.min(hi as i32);
        }
    }

    fn tighten_tnum(&mut self) {
        if self.umin <= self.umax {
            self.var_off = self.var_off.intersect(Tnum::range(self.umin, self.umax));
        }
        if self.u32_min <= self.u32_max {
            let sub = self
                .var_off
                .subreg()
                .intersect(Tnum::range(self.u32_min as u64, self.u32_max as u64));
            self.var_off = self.var_off.with_subreg(sub);
        }
    }

    /// The result of the ALU operation `a op b` (for `Mov`/`MovSx*`, just `b`).
    pub fn alu(width: Width, op: AluOp, a: &Scalar, b: &Scalar) -> Scalar {
        match width {
            Width::W64 => {
                if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
                    return Scalar::constant(concrete::alu(width, op, x, y));
                }
                match op {
                    AluOp::Mov => *b,
                    AluOp::MovSx8 => b.sign_extend(1),
                    AluOp::MovSx16 => b.sign_extend(2),
                    AluOp::MovSx32 => b.sign_extend(4),
                    _ => alu64(op, a, b),
                }
            }
            Width::W32 => {
                if let (Some(x), Some(y)) = (a.as_const32(), b.as_const32()) {
                    return Scalar::constant(concrete::alu(width, op, x as u64, y as u64));
                }
                match op {
                    AluOp::Mov | AluOp::MovSx32 => b.zext32(),
                    AluOp::MovSx8 => b.sign_extend(1).zext32(),
                    AluOp::MovSx16 => b.sign_extend(2).zext32(),
                    _ => alu32(op, a, b),
                }
            }
        }
    }

    /// `-a`.
    pub fn neg(width: Width, a: &Scalar) -> Scalar {
        Scalar::alu(width, AluOp::Sub, &Scalar::constant(0), a)
    }

    /// Byte swap / conversion of the low `bits` bits.
    pub fn endian(order: ByteOrder, bits: u8, a: &Scalar) -> Scalar {
        if let Some(x) = a.as_const() {
            return Scalar::constant(concrete::endian(order, bits, x));
        }
        match order {
            ByteOrder::ToLe => a.truncate(bits as u32 / 8),
            _ => {
                let mut s = Scalar::unknown_of_size(bits as u32 / 8);
                s.var_off = a.var_off.byte_swap(bits as u32);
                s.synced()
            }
        }
    }

    /// `Some(outcome)` when `a op b` has the same outcome for every pair of values.
    pub fn branch_outcome(op: JmpOp, width: Width, a: &Scalar, b: &Scalar) -> Option<bool> {
        match Scalar::refine(op, width, a, b, true) {
            None => Some(false),
            Some(_) => match Scalar::refine(op, width, a, b, false) {
                None => Some(true),
                Some(_) => None,
            },
        }
    }

    /// `a` and `b` narrowed to the values for which `(a op b) == taken`, or `None` when
    /// there are none.
    pub fn refine(
        op: JmpOp,
        width: Width,
        a: &Scalar,
        b: &Scalar,
        taken: bool,
    ) -> Option<(Scalar, Scalar)> {
        let (mut x, mut y) = (*a, *b);
        let op = if taken {
            op
        } else {
            match op.negated() {
                Some(n) => n,
                None => {
                    // `a & b == 0`.
                    refine_set_false(width, &mut x, &mut y)?;
                    return finish(x, y);
                }
            }
        };
        match width {
            Width::W64 => refine64(op, &mut x, &mut y)?,
            Width::W32 => refine32(op, &mut x, &mut y)?,
        }
        finish(x, y)
    }
}

fn finish(mut x: Scalar, mut y: Scalar) -> Option<(Scalar, Scalar)> {
    x.sync();
    y.sync();
    if x.is_empty() || y.is_empty() {
        None
    } else {
        Some((x, y))
    }
}

/// Smallest `v >= from` whose low half lies in `lo..=hi`.
fn raise_to_low_range(from: u64, lo: u64, hi: u64) -> Option<u64> {
    let low = from & LOW32;
    let high = from & !LOW32;
    if low < lo {
        Some(high | lo)
    } else if low <= hi {
        Some(from)
    } else {
        high.checked_add(1 << 32).map(|h| h | lo)
    }
}

/// Largest `v <= from` whose low half lies in `lo..=hi`.
fn lower_to_low_range(from: u64, lo: u64, hi: u64) -> Option<u64> {
    let low = from & LOW32;
    let high = from & !LOW32;
    if low > hi {
        Some(high | hi)
    } else if low >= lo {
        Some(from)
    } else {
        high.checked_sub(1 << 32).map(|h| h | hi)
    }
}

/// The shift amount (or divisor, for `Div`/`Mod`) when the second operand is a constant.
fn const_operand(op: AluOp, b: &Scalar, bits: u32) -> Option<u32> {
    let v = if bits == 32 {
        b.as_const32()? as u64
    } else {
        b.as_const()?
    };
    match op {
        AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => Some((v & (bits as u64 - 1)) as u32),
        AluOp::Div | AluOp::Mod => u32::try_from(v).ok(),
        _ => None,
    }
}

/// True when the low 32 bits of the 64-bit result depend only on the low 32 bits of the
/// operands.
fn low_bits_only(op: AluOp) -> bool {
    matches!(
        op,
        AluOp::Add | AluOp::Sub | AluOp::Mul | AluOp::And | AluOp::Or | AluOp::Xor
    )
}

fn alu64(op: AluOp, a: &Scalar, b: &Scalar) -> Scalar {
    let k = const_operand(op, b, 64);
    if matches!(op, AluOp::Div | AluOp::Mod) && k.is_none() && b.as_const().is_some() {
        // A divisor too big for the fast path: only the generic facts below hold.
        let mut s = Scalar::UNKNOWN;
        s.umax = a.umax;
        return s.synced();
    }
    if matches!(op, AluOp::SDiv | AluOp::SMod) {
        return Scalar::UNKNOWN;
    }
    if op == AluOp::Mod && k == Some(0) {
        return *a;
    }
    if op == AluOp::Div && k == Some(0) {
        return Scalar::constant(0);
    }
    let t = tnum_op(op, a.var_off, b.var_off, 64, k);
    let r64 = bounds_op(op, a.b64(), b.b64(), 64, k);
    let r32 = if low_bits_only(op) {
        let t32 = tnum_op(op, a.var_off.subreg(), b.var_off.subreg(), 32, None);
        let mut r = bounds_op(op, a.b32(), b.b32(), 32, None);
        // The tnum of the low half may know more than the 32-bit bounds.
        r.umin = r.umin.max(t32.umin());
        r.umax = r.umax.min(t32.umax());
        r
    } else if op == AluOp::Lsh {
        match k {
            Some(k) if k >= 32 => Bounds {
                umin: 0,
                umax: 0,
                smin: 0,
                smax: 0,
            },
            Some(k) => bounds_op(op, a.b32(), b.b32(), 32, Some(k)),
            None => Bounds::full(32),
        }
    } else {
        Bounds::full(32)
    };
    Scalar::from_parts(t, r64, r32).synced()
}

fn alu32(op: AluOp, a: &Scalar, b: &Scalar) -> Scalar {
    let k = const_operand(op, b, 32);
    if matches!(op, AluOp::SDiv | AluOp::SMod) {
        return Scalar::unknown_of_size(4);
    }
    if op == AluOp::Mod && k == Some(0) {
        return a.zext32();
    }
    if op == AluOp::Div && k == Some(0) {
        return Scalar::constant(0);
    }
    let t = tnum_op(op, a.var_off.subreg(), b.var_off.subreg(), 32, k);
    let r32 = bounds_op(op, a.b32(), b.b32(), 32, k);
    let r64 = Bounds {
        umin: r32.umin,
        umax: r32.umax,
        smin: r32.umin as i64,
        smax: r32.umax as i64,
    };
    Scalar::from_parts(t, r64, r32).synced()
}

fn refine_set_false(width: Width, x: &mut Scalar, y: &mut Scalar) -> Option<()> {
    // Bits known set in both make `a & b != 0` certain.
    let (tx, ty) = match width {
        Width::W64 => (x.var_off, y.var_off),
        Width::W32 => (x.var_off.subreg(), y.var_off.subreg()),
    };
    if tx.value & ty.value != 0 {
        return None;
    }
    // Bits known set in one are known clear in the other.
    let clear_x = Tnum::new(0, !ty.value);
    let clear_y = Tnum::new(0, !tx.value);
    let (cx, cy) = match width {
        Width::W64 => (clear_x, clear_y),
        Width::W32 => (
            Tnum::new(0, !ty.value | !LOW32),
            Tnum::new(0, !tx.value | !LOW32),
        ),
    };
    x.var_off = x.var_off.intersect(cx);
    y.var_off = y.var_off.intersect(cy);
    Some(())
}

fn refine_set_true(width: Width, x: &mut Scalar, y: &mut Scalar) -> Option<()> {
    let (tx, ty) = match width {
        Width::W64 => (x.var_off, y.var_off),
        Width::W32 => (x.var_off.subreg(), y.var_off.subreg()),
    };
    // No bit possibly set in both: `a & b` is 0.
    if (tx.value | tx.mask) & (ty.value | ty.mask) == 0 {
        return None;
    }
    // A single possible common bit must be set in both.
    let common = (tx.value | tx.mask) & (ty.value | ty.mask);
    if common.is_power_of_two() {
        let bit = Tnum::constant(common);
        x.var_off = x.var_off.or(bit);
        y.var_off = y.var_off.or(bit);
    }
    // Neither operand is zero.
    refine_ne_const(width, x, 0)?;
    refine_ne_const(width, y, 0)?;
    Some(())
}

/// Removes the value `c` from `x` where it is at the edge of a range.
fn refine_ne_const(width: Width, x: &mut Scalar, c: u64) -> Option<()> {
    match width {
        Width::W64 => {
            if x.as_const() == Some(c) {
                return None;
            }
            if x.umin == c {
                x.umin = x.umin.checked_add(1)?;
            }
            if x.umax == c {
                x.umax = x.umax.checked_sub(1)?;
            }
            if x.smin == c as i64 {
                x.smin = x.smin.checked_add(1)?;
            }
            if x.smax == c as i64 {
                x.smax = x.smax.checked_sub(1)?;
            }
        }
        Width::W32 => {
            let c = c as u32;
            if x.as_const32() == Some(c) {
                return None;
            }
            if x.u32_min == c {
                x.u32_min = x.u32_min.checked_add(1)?;
            }
            if x.u32_max == c {
                x.u32_max = x.u32_max.checked_sub(1)?;
            }
            if x.s32_min == c as i32 {
                x.s32_min = x.s32_min.checked_add(1)?;
            }
            if x.s32_max == c as i32 {
                x.s32_max = x.s32_max.checked_sub(1)?;
            }
        }
    }
    Some(())
}

fn refine64(op: JmpOp, x: &mut Scalar, y: &mut Scalar) -> Option<()> {
    match op {
        JmpOp::Eq => {
            if !x.var_off.overlaps(y.var_off) {
                return None;
            }
            let t = x.var_off.intersect(y.var_off);
            let umin = x.umin.max(y.umin);
            let umax = x.umax.min(y.umax);
            let smin = x.smin.max(y.smin);
            let smax = x.smax.min(y.smax);
            let u32_min = x.u32_min.max(y.u32_min);
            let u32_max = x.u32_max.min(y.u32_max);
            let s32_min = x.s32_min.max(y.s32_min);
            let s32_max = x.s32_max.min(y.s32_max);
            for r in [&mut *x, &mut *y] {
                r.var_off = t;
                r.umin = umin;
                r.umax = umax;
                r.smin = smin;
                r.smax = smax;
                r.u32_min = u32_min;
                r.u32_max = u32_max;
                r.s32_min = s32_min;
                r.s32_max = s32_max;
            }
        }
        JmpOp::Ne => {
            if let Some(c) = y.as_const() {
                refine_ne_const(Width::W64, x, c)?;
            }
            if let Some(c) = x.as_const() {
                refine_ne_const(Width::W64, y, c)?;
            }
        }
        JmpOp::Set => refine_set_true(Width::W64, x, y)?,
        JmpOp::Lt => {
            x.umax = x.umax.min(y.umax.checked_sub(1)?);
            y.umin = y.umin.max(x.umin.checked_add(1)?);
        }
        JmpOp::Le => {
            x.umax = x.umax.min(y.umax);
            y.umin = y.umin.max(x.umin);
        }
        JmpOp::Gt => return refine64(JmpOp::Lt, y, x),
        JmpOp::Ge => return refine64(JmpOp::Le, y, x),
        JmpOp::Slt => {
            x.smax = x.smax.min(y.smax.checked_sub(1)?);
            y.smin = y.smin.max(x.smin.checked_add(1)?);
        }
        JmpOp::Sle => {
            x.smax = x.smax.min(y.smax);
            y.smin = y.smin.max(x.smin);
        }
        JmpOp::Sgt => return refine64(JmpOp::Slt, y, x),
        JmpOp::Sge => return refine64(JmpOp::Sle, y, x),
    }
    Some(())
}

fn refine32(op: JmpOp, x: &mut Scalar, y: &mut Scalar) -> Option<()> {
    match op {
        JmpOp::Eq => {
            let (tx, ty) = (x.var_off.subreg(), y.var_off.subreg());
            if !tx.overlaps(ty) {
                return None;
            }
            let t = tx.intersect(ty);
            let u32_min = x.u32_min.max(y.u32_min);
            let u32_max = x.u32_max.min(y.u32_max);
            let s32_min = x.s32_min.max(y.s32_min);
            let s32_max = x.s32_max.min(y.s32_max);
            for r in [&mut *x, &mut *y] {
                r.var_off = r.var_off.with_subreg(t);
                r.u32_min = u32_min;
                r.u32_max = u32_max;
                r.s32_min = s32_min;
                r.s32_max = s32_max;
            }
        }
        JmpOp::Ne => {
            if let Some(c) = y.as_const32() {
                refine_ne_const(Width::W32, x, c as u64)?;
            }
            if let Some(c) = x.as_const32() {
                refine_ne_const(Width::W32, y, c as u64)?;
            }
        }
        JmpOp::Set => refine_set_true(Width::W32, x, y)?,
        JmpOp::Lt => {
            x.u32_max = x.u32_max.min(y.u32_max.checked_sub(1)?);
            y.u32_min = y.u32_min.max(x.u32_min.checked_add(1)?);
        }
        JmpOp::Le => {
            x.u32_max = x.u32_max.min(y.u32_max);
            y.u32_min = y.u32_min.max(x.u32_min);
        }
        JmpOp::Gt => return refine32(JmpOp::Lt, y, x),
        JmpOp::Ge => return refine32(JmpOp::Le, y, x),
        JmpOp::Slt => {
            x.s32_max = x.s32_max.min(y.s32_max.checked_sub(1)?);
            y.s32_min = y.s32_min.max(x.s32_min.checked_add(1)?);
        }
        JmpOp::Sle => {
            x.s32_max = x.s32_max.min(y.s32_max);
            y.s32_min = y.s32_min.max(x.s32_min);
        }
        JmpOp::Sgt => return refine32(JmpOp::Slt, y, x),
        JmpOp::Sge => return refine32(JmpOp::Sle, y, x),
    }
    Some(())
}

impl fmt::Debug for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Scalar {
    /// Kernel-log-like: a constant prints as its value, otherwise only the bounds that say
    /// something.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(v) = self.as_const() {
            return write!(f, "{}", v as i64);
        }
        let mut parts: Vec<String> = Vec::new();
        if self.smin != i64::MIN && self.smin as u64 != self.umin {
            parts.push(format!("smin={}", self.smin));
        }
        if self.smax != i64::MAX && self.smax as u64 != self.umax {
            parts.push(format!("smax={}", self.smax));
        }
        if self.umin != 0 {
            parts.push(format!("umin={}", self.umin));
        }
        if self.umax != u64::MAX {
            parts.push(format!("umax={}", self.umax));
        }
        if self.smin32_meaningful() {
            parts.push(format!("smin32={}", self.s32_min));
        }
        if self.smax32_meaningful() {
            parts.push(format!("smax32={}", self.s32_max));
        }
        if self.u32_min != 0 && self.u32_min as u64 != self.umin {
            parts.push(format!("umin32={}", self.u32_min));
        }
        if self.u32_max != u32::MAX && self.u32_max as u64 != self.umax {
            parts.push(format!("umax32={}", self.u32_max));
        }
        if !self.var_off.is_unknown() && self.var_off != Tnum::range(self.umin, self.umax) {
            parts.push(format!("var_off={:?}", self.var_off));
        }
        if parts.is_empty() {
            write!(f, "scalar()")
        } else {
            write!(f, "scalar({})", parts.join(","))
        }
    }
}

impl Scalar {
    fn smin32_meaningful(&self) -> bool {
        self.s32_min != i32::MIN && self.s32_min as i64 != self.smin
    }
    fn smax32_meaningful(&self) -> bool {
        self.s32_max != i32::MAX && self.s32_max as i64 != self.smax
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testutil::Rng;

    /// A random abstract value with some of its members.
    fn sample(rng: &mut Rng) -> (Scalar, Vec<u64>) {
        match rng.below(5) {
            0 => {
                // Join of a few concrete values.
                let n = 1 + rng.below(3) as usize;
                let vals: Vec<u64> = (0..n).map(|_| rng.interesting()).collect();
                let mut s = Scalar::constant(vals[0]);
                for &v in &vals[1..] {
                    s = s.join(&Scalar::constant(v));
                }
                (s, vals)
            }
            1 => {
                let (a, b) = (rng.interesting(), rng.interesting());
                let (lo, hi) = (a.min(b), a.max(b));
                let span = hi - lo;
                let vals = vec![lo, hi, lo + rng.below(span.saturating_add(1).max(1))];
                (Scalar::urange(lo, hi), vals)
            }
            2 => {
                let (a, b) = (rng.interesting() as i64, rng.interesting() as i64);
                let (lo, hi) = (a.min(b), a.max(b));
                let span = (hi as i128 - lo as i128) as u128;
                let off = (rng.next() as u128) % (span + 1);
                let mid = (lo as i128 + off as i128) as i64;
                (
                    Scalar::srange(lo, hi),
                    vec![lo as u64, hi as u64, mid as u64],
                )
            }
            3 => {
                let t = rng.tnum();
                let vals: Vec<u64> = (0..3).map(|_| t.value | (rng.next() & t.mask)).collect();
                let mut s = Scalar::UNKNOWN;
                s.var_off = t;
                (s.synced(), vals)
            }
            _ => {
                // A narrow load-like value, possibly sign-extended.
                let bytes = [1, 2, 4][rng.below(3) as usize];
                let v = rng.next() & ((1u64 << (bytes * 8)) - 1);
                if rng.below(2) == 0 {
                    (Scalar::unknown_of_size(bytes), vec![v, 0])
                } else {
                    let s = Scalar::constant(v).sign_extend(bytes);
                    let sv = s.as_const().unwrap_or(0);
                    (Scalar::unknown_signed_of_size(bytes), vec![sv])
                }
            }
        }
    }

    const OPS: [AluOp; 17] = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::SDiv,
        AluOp::Or,
        AluOp::And,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Mod,
        AluOp::SMod,
        AluOp::Xor,
        AluOp::Mov,
        AluOp::MovSx8,
        AluOp::MovSx16,
        AluOp::MovSx32,
        AluOp::Arsh,
    ];

    const CMPS: [JmpOp; 11] = [
        JmpOp::Eq,
        JmpOp::Ne,
        JmpOp::Set,
        JmpOp::Gt,
        JmpOp::Ge,
        JmpOp::Lt,
        JmpOp::Le,
        JmpOp::Sgt,
        JmpOp::Sge,
        JmpOp::Slt,
        JmpOp::Sle,
    ];

    #[test]
    fn samples_contain_their_members() {
        let mut rng = Rng::new(10);
        for _ in 0..50_000 {
            let (s, vals) = sample(&mut rng);
            for v in vals {
                assert!(s.contains(v), "{s:?} lacks {v:#x}");
            }
            assert!(!s.is_empty());
        }
    }

    #[test]
    fn alu_is_sound() {
        let mut rng = Rng::new(11);
        for i in 0..300_000 {
            let (a, xs) = sample(&mut rng);
            let (mut b, mut ys) = sample(&mut rng);
            // Shifts and divisions are most interesting with small constant operands.
            if i % 3 == 0 {
                let k = rng.below(70);
                b = Scalar::constant(k);
                ys = vec![k];
            }
            let op = OPS[rng.below(OPS.len() as u64) as usize];
            let width = if rng.below(2) == 0 {
                Width::W64
            } else {
                Width::W32
            };
            let r = Scalar::alu(width, op, &a, &b);
            for &x in &xs {
                for &y in &ys {
                    let c = concrete::alu(width, op, x, y);
                    assert!(
                        r.contains(c),
                        "{width:?} {op:?}: {a:?} ({x:#x}) op {b:?} ({y:#x}) = {c:#x} not in {r:?}"
                    );
                }
            }
            let n = Scalar::neg(width, &a);
            for &x in &xs {
                assert!(n.contains(concrete::neg(width, x)));
            }
        }
    }

    #[test]
    fn endian_and_casts_are_sound() {
        let mut rng = Rng::new(12);
        for _ in 0..100_000 {
            let (a, xs) = sample(&mut rng);
            let order = [ByteOrder::ToLe, ByteOrder::ToBe, ByteOrder::Swap][rng.below(3) as usize];
            let bits = [16u8, 32, 64][rng.below(3) as usize];
            let r = Scalar::endian(order, bits, &a);
            for &x in &xs {
                assert!(r.contains(concrete::endian(order, bits, x)));
                for bytes in [1u32, 2, 4, 8] {
                    let m = if bytes == 8 {
                        u64::MAX
                    } else {
                        (1u64 << (bytes * 8)) - 1
                    };
                    assert!(a.truncate(bytes).contains(x & m), "{a:?} trunc {bytes}");
                    let sx = match bytes {
                        1 => x as u8 as i8 as i64 as u64,
                        2 => x as u16 as i16 as i64 as u64,
                        4 => x as u32 as i32 as i64 as u64,
                        _ => x,
                    };
                    assert!(
                        a.sign_extend(bytes).contains(sx),
                        "{a:?} sext {bytes} {x:#x}"
                    );
                }
            }
        }
    }

    #[test]
    fn refinement_is_sound() {
        let mut rng = Rng::new(13);
        for i in 0..300_000 {
            let (a, xs) = sample(&mut rng);
            let (mut b, mut ys) = sample(&mut rng);
            if i % 2 == 0 {
                let k = rng.interesting();
                b = Scalar::constant(k);
                ys = vec![k];
            }
            let op = CMPS[rng.below(CMPS.len() as u64) as usize];
            let width = if rng.below(2) == 0 {
                Width::W64
            } else {
                Width::W32
            };
            let outcome = Scalar::branch_outcome(op, width, &a, &b);
            for taken in [true, false] {
                let r = Scalar::refine(op, width, &a, &b, taken);
                for &x in &xs {
                    for &y in &ys {
                        if concrete::cmp(width, op, x, y) != taken {
                            continue;
                        }
                        if let Some(o) = outcome {
                            assert_eq!(o, taken, "{op:?} {width:?} {a:?} {b:?} {x:#x} {y:#x}");
                        }
                        let (ra, rb) = r.unwrap_or_else(|| {
                            panic!("{op:?} {width:?} {taken} {a:?} {b:?} dropped {x:#x} {y:#x}")
                        });
                        assert!(
                            ra.contains(x) && rb.contains(y),
                            "{op:?} {width:?} {taken}: {a:?} {b:?} -> {ra:?} {rb:?} lost {x:#x} {y:#x}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn within_implies_subset() {
        let mut rng = Rng::new(14);
        for _ in 0..100_000 {
            let (a, xs) = sample(&mut rng);
            let (b, _) = sample(&mut rng);
            let j = a.join(&b);
            assert!(a.is_within(&j) || !a.is_within(&j.join(&a)));
            for &x in &xs {
                assert!(j.contains(x));
            }
            if a.is_within(&b) {
                for &x in &xs {
                    assert!(b.contains(x), "{a:?} within {b:?} but {x:#x}");
                }
            }
        }
    }

    #[test]
    fn precise_on_common_patterns() {
        // u8 load, then `if r < 10`.
        let v = Scalar::unknown_of_size(1);
        let (t, _) = Scalar::refine(JmpOp::Lt, Width::W64, &v, &Scalar::constant(10), true)
            .expect("feasible");
        assert_eq!((t.umin, t.umax), (0, 9));
        assert_eq!((t.smin, t.smax), (0, 9));
        assert_eq!((t.u32_min, t.u32_max), (0, 9));
        assert_eq!(t.var_off, Tnum::new(0, 15));
        // Masking bounds the value.
        let m = Scalar::alu(
            Width::W64,
            AluOp::And,
            &Scalar::UNKNOWN,
            &Scalar::constant(0xff),
        );
        assert_eq!((m.umin, m.umax), (0, 255));
        // Shifting a byte left by 2 and adding stays small.
        let s = Scalar::alu(Width::W64, AluOp::Lsh, &m, &Scalar::constant(2));
        assert_eq!((s.umin, s.umax), (0, 1020));
        assert!(s.var_off.is_aligned(4));
        // Signed check on an unknown value.
        let (lo, _) = Scalar::refine(
            JmpOp::Sgt,
            Width::W64,
            &Scalar::UNKNOWN,
            &Scalar::constant(0),
            true,
        )
        .expect("feasible");
        assert_eq!((lo.smin, lo.umin, lo.umax), (1, 1, i64::MAX as u64));
        // Impossible branch.
        assert_eq!(
            Scalar::branch_outcome(JmpOp::Gt, Width::W64, &m, &Scalar::constant(300)),
            Some(false)
        );
        // 32-bit comparison bounds a zero-extended value.
        let w = Scalar::unknown_of_size(4);
        let (t, _) = Scalar::refine(JmpOp::Lt, Width::W32, &w, &Scalar::constant(16), true)
            .expect("feasible");
        assert_eq!((t.umin, t.umax), (0, 15));
        // Equality with a constant makes a constant.
        let (e, _) = Scalar::refine(
            JmpOp::Eq,
            Width::W64,
            &Scalar::UNKNOWN,
            &Scalar::constant(7),
            true,
        )
        .expect("feasible");
        assert_eq!(e.as_const(), Some(7));
        // Ne at the edge of a range shrinks it.
        let (n, _) = Scalar::refine(
            JmpOp::Ne,
            Width::W64,
            &Scalar::urange(0, 10),
            &Scalar::constant(0),
            true,
        )
        .expect("feasible");
        assert_eq!(n.umin, 1);
    }
}
