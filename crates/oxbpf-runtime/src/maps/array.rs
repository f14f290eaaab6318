//! `BPF_MAP_TYPE_ARRAY` and `BPF_MAP_TYPE_PERCPU_ARRAY`.
//!
//! `max_entries` slots of `round_up(value_size, 8)` bytes (times the CPU count for per-CPU
//! arrays) in one zeroed slab. Every element always exists: updates overwrite in place,
//! `BPF_NOEXIST` fails with `EEXIST`, delete fails with `EINVAL`, an index past the end
//! fails with `E2BIG` (update) or finds nothing (lookup).

use super::error::MapError;
use super::slab::Slab;
use super::spec::{flags, round8, update, MapSpec, MapType};
use super::{cpu, key_index, Caller, Ops};
use std::ptr::NonNull;

/// Linux's `PCPU_MIN_UNIT_SIZE`: the largest per-CPU value.
const PCPU_MIN_UNIT_SIZE: usize = 32 << 10;

/// An array or per-CPU array map.
#[derive(Debug)]
pub struct ArrayMap {
    spec: MapSpec,
    percpu: bool,
    ncpus: usize,
    /// `round_up(value_size, 8)`.
    stride: usize,
    /// Bytes per element: `stride * ncpus`.
    elem: usize,
    slab: Slab,
}

impl ArrayMap {
    pub(crate) fn new(spec: MapSpec) -> Result<ArrayMap, MapError> {
        use flags::*;
        let percpu = spec.map_type == MapType::PerCpuArray;
        spec.check_flags(
            BPF_F_NUMA_NODE
                | BPF_F_MMAPABLE
                | BPF_F_ACCESS_MASK
                | BPF_F_PRESERVE_ELEMS
                | BPF_F_INNER_MAP,
        )?;
        spec.require(
            spec.max_entries > 0,
            libc::EINVAL,
            "max_entries must be > 0",
        )?;
        spec.require(spec.key_size == 4, libc::EINVAL, "key_size must be 4")?;
        spec.require(spec.value_size > 0, libc::EINVAL, "value_size must be > 0")?;
        spec.require(
            !(percpu && spec.flags & BPF_F_NUMA_NODE != 0),
            libc::EINVAL,
            "per-CPU arrays take no NUMA node",
        )?;
        spec.require(
            spec.map_type == MapType::Array || spec.flags & (BPF_F_MMAPABLE | BPF_F_INNER_MAP) == 0,
            libc::EINVAL,
            "BPF_F_MMAPABLE and BPF_F_INNER_MAP are only valid for BPF_MAP_TYPE_ARRAY",
        )?;
        spec.require(
            spec.flags & BPF_F_PRESERVE_ELEMS == 0,
            libc::EINVAL,
            "BPF_F_PRESERVE_ELEMS is only valid for perf event arrays",
        )?;
        spec.require(
            spec.value_size <= i32::MAX as u32,
            libc::E2BIG,
            "value_size too large",
        )?;
        let stride = round8(spec.value_size);
        spec.require(
            !(percpu && stride > PCPU_MIN_UNIT_SIZE),
            libc::E2BIG,
            "per-CPU value_size above 32 KiB",
        )?;
        let ncpus = if percpu { cpu::num_cpus() } else { 1 };
        let elem = stride * ncpus;
        let total = (spec.max_entries as usize)
            .checked_mul(elem)
            .ok_or_else(|| spec.err(libc::E2BIG, "array size overflows"))?;
        let slab = Slab::new(&spec.name, total)?;
        Ok(ArrayMap {
            spec,
            percpu,
            ncpus,
            stride,
            elem,
            slab,
        })
    }

    /// CPUs per element (1 for plain arrays).
    pub fn ncpus(&self) -> usize {
        self.ncpus
    }

    fn index(&self, key: &[u8]) -> Option<usize> {
        let i = key_index(key)?;
        (i < self.spec.max_entries).then_some(i as usize)
    }

    fn user_value_size(&self) -> usize {
        if self.percpu {
            self.elem
        } else {
            self.spec.value_size as usize
        }
    }
}

impl Ops for ArrayMap {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    #[inline]
    fn lookup_ptr(&self, key: &[u8], cpu: usize) -> Option<NonNull<u8>> {
        let i = self.index(key)?;
        let off = i * self.elem
            + if self.percpu {
                (cpu % self.ncpus) * self.stride
            } else {
                0
            };
        Some(self.slab.ptr_at(off))
    }

    fn lookup_copy(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        let Some(i) = self.index(key) else {
            return Ok(None);
        };
        let mut v = vec![0u8; self.user_value_size()];
        self.slab.read(i * self.elem, &mut v);
        Ok(Some(v))
    }

    fn update(&self, key: &[u8], value: &[u8], fl: u64, who: Caller) -> Result<(), MapError> {
        let name = &self.spec.name;
        if (fl & !update::BPF_F_LOCK) > update::BPF_EXIST {
            return Err(MapError::invalid(
                name,
                format!("invalid update flags 0x{fl:x}"),
            ));
        }
        let i = key_index(key).unwrap_or(u32::MAX);
        if i >= self.spec.max_entries {
            return Err(MapError::full(
                name,
                format!("index {i} is past max_entries {}", self.spec.max_entries),
            ));
        }
        if fl & update::BPF_NOEXIST != 0 {
            return Err(MapError::exists(name));
        }
        if fl & update::BPF_F_LOCK != 0 {
            return Err(MapError::invalid(
                name,
                "BPF_F_LOCK needs a bpf_spin_lock in the value, which oxbpf maps do not support",
            ));
        }
        let base = i as usize * self.elem;
        let vs = self.spec.value_size as usize;
        match who {
            Caller::Prog { cpu } => {
                check_len(name, value, vs)?;
                let off = base
                    + if self.percpu {
                        (cpu % self.ncpus) * self.stride
                    } else {
                        0
                    };
                self.slab.write(off, value);
            }
            Caller::User => {
                check_len(name, value, self.user_value_size())?;
                if self.percpu {
                    // All CPUs' values, padding included, as Linux copies them.
                    self.slab.write(base, value);
                } else {
                    self.slab.write(base, value);
                }
            }
        }
        Ok(())
    }

    fn get_next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<(), MapError> {
        let max = self.spec.max_entries;
        let n = match key.and_then(key_index) {
            Some(i) if i < max => {
                if i == max - 1 {
                    return Err(MapError::not_found(&self.spec.name));
                }
                i + 1
            }
            _ => 0,
        };
        next.copy_from_slice(&n.to_ne_bytes());
        Ok(())
    }

    fn keys(&self) -> Result<Vec<Vec<u8>>, MapError> {
        Ok((0..self.spec.max_entries)
            .map(|i| i.to_ne_bytes().to_vec())
            .collect())
    }

    fn regions(&self) -> Vec<(u64, u64)> {
        vec![(self.slab.addr(), self.slab.len() as u64)]
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.slab.len()
    }

    fn len(&self) -> usize {
        self.spec.max_entries as usize
    }
}

pub(crate) fn check_len(map: &str, value: &[u8], expected: usize) -> Result<(), MapError> {
    if value.len() != expected {
        return Err(MapError::ValueSize {
            map: map.to_string(),
            expected,
            got: value.len(),
        });
    }
    Ok(())
}
