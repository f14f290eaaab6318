//! `BPF_MAP_TYPE_BLOOM_FILTER`.
//!
//! Sized and hashed exactly as Linux: `nr_hash_funcs` from the low 4 bits of `map_extra`
//! (5 when 0), a bit array of `max_entries * nr_hash_funcs / 5 * 7` bits rounded up to a
//! power of two (at least 64, at most 2^32), and `jhash2`/`jhash` of the value with seed
//! `hash_seed + i` for hash function `i` (`hash_seed` random, or 0 with `BPF_F_ZERO_SEED`,
//! in which case the same values set the same bits as in the kernel). Push adds a value
//! (flags must be `BPF_ANY`); peek tests one (`ENOENT` = definitely absent). Lookup,
//! update, delete, pop and get_next_key do not exist, with Linux's errors.

use super::error::MapError;
use super::jhash::{jhash, jhash2};
use super::slab::Slab;
use super::spec::{flags, update, MapSpec};
use super::{array::check_len, Caller, Ops};
use std::sync::atomic::Ordering;

/// A bloom filter.
#[derive(Debug)]
pub struct BloomFilter {
    spec: MapSpec,
    nr_hash_funcs: u32,
    bitset_mask: u32,
    seed: u32,
    aligned: bool,
    bits: Slab,
}

impl BloomFilter {
    pub(crate) fn new(spec: MapSpec) -> Result<BloomFilter, MapError> {
        spec.require(
            spec.value_size <= 1 << 22,
            libc::E2BIG,
            "value_size too large",
        )?;
        spec.check_flags(
            flags::BPF_F_NUMA_NODE | flags::BPF_F_ZERO_SEED | flags::BPF_F_ACCESS_MASK,
        )?;
        spec.require(
            spec.key_size == 0 && spec.value_size > 0 && spec.max_entries > 0,
            libc::EINVAL,
            "bloom filters need key_size 0, value_size > 0 and max_entries > 0",
        )?;
        spec.require(
            spec.map_extra & !0xf == 0,
            libc::EINVAL,
            "map_extra holds only the number of hash functions (low 4 bits)",
        )?;
        let nr_hash_funcs = match spec.map_extra as u32 {
            0 => 5,
            n => n,
        };
        let nr_bits = (spec.max_entries as u64 * nr_hash_funcs as u64) / 5 * 7;
        let (bytes, mask) = if spec.max_entries.checked_mul(nr_hash_funcs).is_none()
            || (spec.max_entries * nr_hash_funcs / 5)
                .checked_mul(7)
                .is_none()
            || nr_bits > 1 << 31
        {
            (1usize << 29, u32::MAX)
        } else if nr_bits <= 64 {
            (8, 63)
        } else {
            let n = nr_bits.next_power_of_two();
            ((n / 8) as usize, (n - 1) as u32)
        };
        let bits = Slab::new(&spec.name, bytes.next_multiple_of(8))?;
        let seed = if spec.flags & flags::BPF_F_ZERO_SEED != 0 {
            0
        } else {
            let s = std::collections::hash_map::RandomState::new();
            std::hash::BuildHasher::hash_one(&s, 0x0062_6c6f_6f6d_u64) as u32
        };
        Ok(BloomFilter {
            aligned: spec.value_size.is_multiple_of(4),
            spec,
            nr_hash_funcs,
            bitset_mask: mask,
            seed,
            bits,
        })
    }

    /// Number of hash functions.
    pub fn nr_hash_funcs(&self) -> u32 {
        self.nr_hash_funcs
    }

    /// Size of the bit array in bits.
    pub fn nr_bits(&self) -> u64 {
        self.bitset_mask as u64 + 1
    }

    fn bit_of(&self, value: &[u8], i: u32) -> u32 {
        let seed = self.seed.wrapping_add(i);
        let h = if self.aligned {
            jhash2(value, seed)
        } else {
            jhash(value, seed)
        };
        h & self.bitset_mask
    }

    fn word(&self, bit: u32) -> (&std::sync::atomic::AtomicU64, u64) {
        (
            self.bits.atomic_u64((bit / 64) as usize * 8),
            1u64 << (bit % 64),
        )
    }
}

impl Ops for BloomFilter {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn update(
        &self,
        _key: &[u8],
        _value: &[u8],
        _flags: u64,
        _who: Caller,
    ) -> Result<(), MapError> {
        Err(self.unsupported("update (use push)", libc::EINVAL))
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(self.unsupported("delete", libc::EOPNOTSUPP))
    }

    fn get_next_key(&self, _key: Option<&[u8]>, _next: &mut [u8]) -> Result<(), MapError> {
        Err(self.unsupported("get_next_key", libc::EOPNOTSUPP))
    }

    fn push(&self, value: &[u8], fl: u64) -> Result<(), MapError> {
        if fl != update::BPF_ANY {
            return Err(MapError::invalid(
                &self.spec.name,
                format!("bloom filter push takes only BPF_ANY, not 0x{fl:x}"),
            ));
        }
        check_len(&self.spec.name, value, self.spec.value_size as usize)?;
        for i in 0..self.nr_hash_funcs {
            let (w, m) = self.word(self.bit_of(value, i));
            w.fetch_or(m, Ordering::Relaxed);
        }
        Ok(())
    }

    fn peek(&self, value: &mut [u8]) -> Result<(), MapError> {
        check_len(&self.spec.name, value, self.spec.value_size as usize)?;
        for i in 0..self.nr_hash_funcs {
            let (w, m) = self.word(self.bit_of(value, i));
            if w.load(Ordering::Relaxed) & m == 0 {
                return Err(MapError::not_found(&self.spec.name));
            }
        }
        Ok(())
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.bits.len()
    }

    fn len(&self) -> usize {
        0
    }
}
