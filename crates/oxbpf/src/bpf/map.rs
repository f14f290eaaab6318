//! Maps by name, the same calls on both backends: bytes, typed values ([`Pod`]),
//! iteration, histograms.

use super::error::BpfError;
use crate::hist;
use crate::pod::{bytes_of, from_bytes, Pod};
use oxbpf_kernel::{KernelMap, UpdateMode};
use std::sync::Arc;

/// A key and its value, as bytes.
pub type MapEntry = (Vec<u8>, Vec<u8>);

/// `BPF_ANY`: create or replace.
pub const BPF_ANY: u64 = 0;
/// `BPF_NOEXIST`: create only.
pub const BPF_NOEXIST: u64 = 1;
/// `BPF_EXIST`: replace only.
pub const BPF_EXIST: u64 = 2;

enum Inner {
    User(Arc<oxbpf_runtime::maps::Map>),
    Kernel(KernelMap),
}

/// A map of a loaded [`Bpf`](super::Bpf). Values of per-CPU maps hold every CPU's value,
/// each padded to 8 bytes, as `bpf(BPF_MAP_LOOKUP_ELEM)` returns them.
pub struct BpfMap {
    name: String,
    inner: Inner,
}

impl std::fmt::Debug for BpfMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BpfMap")
            .field("name", &self.name)
            .field("type", &self.map_type())
            .field("key_size", &self.key_size())
            .field("value_size", &self.value_size())
            .field("max_entries", &self.max_entries())
            .field(
                "backend",
                &match self.inner {
                    Inner::User(_) => "userspace",
                    Inner::Kernel(_) => "kernel",
                },
            )
            .finish()
    }
}

/// Linux map type ids of the per-CPU maps.
const PER_CPU_TYPES: [u32; 4] = [5, 6, 10, 21];

impl BpfMap {
    pub(crate) fn user(map: Arc<oxbpf_runtime::maps::Map>) -> BpfMap {
        BpfMap {
            name: map.name().to_string(),
            inner: Inner::User(map),
        }
    }

    pub(crate) fn kernel(name: &str, map: KernelMap) -> BpfMap {
        BpfMap {
            name: name.to_string(),
            inner: Inner::Kernel(map),
        }
    }

    fn err(&self, e: impl std::fmt::Display) -> BpfError {
        BpfError::Map {
            map: self.name.clone(),
            reason: e.to_string(),
        }
    }

    /// The map's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Linux map type id (`BPF_MAP_TYPE_*`).
    pub fn map_type(&self) -> u32 {
        match &self.inner {
            Inner::User(m) => m.map_type() as u32,
            Inner::Kernel(k) => k.map_type().map_or(0, |t| t.id()),
        }
    }

    /// The map type's name as bpftool prints it (`hash`, `ringbuf`, ...).
    pub fn type_name(&self) -> &'static str {
        oxbpf_obj::map_type::name(self.map_type()).unwrap_or("unknown")
    }

    /// Key size in bytes.
    pub fn key_size(&self) -> usize {
        match &self.inner {
            Inner::User(m) => m.spec().key_size as usize,
            Inner::Kernel(k) => k.key_size(),
        }
    }

    /// Value size in bytes (of one CPU's value for per-CPU maps).
    pub fn value_size(&self) -> usize {
        match &self.inner {
            Inner::User(m) => m.spec().value_size as usize,
            Inner::Kernel(k) => k.value_size(),
        }
    }

    /// Maximum number of entries.
    pub fn max_entries(&self) -> u32 {
        match &self.inner {
            Inner::User(m) => m.spec().max_entries,
            Inner::Kernel(k) => k.max_entries(),
        }
    }

    /// Whether values are per CPU.
    pub fn is_per_cpu(&self) -> bool {
        PER_CPU_TYPES.contains(&self.map_type())
    }

    /// The value under `key` (all CPUs' values for per-CPU maps), or `None`.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BpfError> {
        match &self.inner {
            Inner::User(m) => m.lookup(key).map_err(|e| self.err(e)),
            Inner::Kernel(k) => k.lookup(key).map_err(|e| self.err(e)),
        }
    }

    /// Stores `value` under `key` (`flags`: [`BPF_ANY`], [`BPF_NOEXIST`], [`BPF_EXIST`]).
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), BpfError> {
        match &self.inner {
            Inner::User(m) => m.update(key, value, flags).map_err(|e| self.err(e)),
            Inner::Kernel(k) => {
                let mode = match flags {
                    BPF_ANY => UpdateMode::Any,
                    BPF_NOEXIST => UpdateMode::NoExist,
                    BPF_EXIST => UpdateMode::Exist,
                    other => {
                        return Err(self.err(format!(
                            "update flags {other:#x}: the kernel backend takes BPF_ANY, BPF_NOEXIST or BPF_EXIST"
                        )))
                    }
                };
                k.update(key, value, mode).map_err(|e| self.err(e))
            }
        }
    }

    /// Removes `key`; false when it was absent.
    pub fn delete(&self, key: &[u8]) -> Result<bool, BpfError> {
        match &self.inner {
            Inner::User(m) => match m.delete(key) {
                Ok(()) => Ok(true),
                Err(oxbpf_runtime::maps::MapError::NotFound { .. }) => Ok(false),
                Err(e) => Err(self.err(e)),
            },
            Inner::Kernel(k) => k.delete(key).map_err(|e| self.err(e)),
        }
    }

    /// Every key.
    pub fn keys(&self) -> Result<Vec<Vec<u8>>, BpfError> {
        match &self.inner {
            Inner::User(m) => m.keys().map_err(|e| self.err(e)),
            Inner::Kernel(k) => k.keys().map_err(|e| self.err(e)),
        }
    }

    /// Every entry, `(key, value)`.
    pub fn entries(&self) -> Result<Vec<MapEntry>, BpfError> {
        match &self.inner {
            Inner::User(m) => m.entries().map_err(|e| self.err(e)),
            Inner::Kernel(k) => k.entries().map_err(|e| self.err(e)),
        }
    }

    /// Deletes every entry (arrays cannot delete: their values are zeroed instead), as
    /// BCC's `clear()`.
    pub fn clear(&self) -> Result<(), BpfError> {
        let array = matches!(self.map_type(), 2 | 6);
        for k in self.keys()? {
            if array {
                let zero = vec![0u8; self.lookup(&k)?.map_or(0, |v| v.len())];
                self.update(&k, &zero, BPF_ANY)?;
            } else {
                self.delete(&k)?;
            }
        }
        Ok(())
    }

    fn check_sizes<K, V>(&self) -> Result<(), BpfError> {
        let (k, v) = (std::mem::size_of::<K>(), std::mem::size_of::<V>());
        if k != self.key_size() || v != self.value_size() {
            return Err(self.err(format!(
                "{}-byte keys and {}-byte values; the types are {k} and {v} bytes",
                self.key_size(),
                self.value_size()
            )));
        }
        Ok(())
    }

    fn check_not_per_cpu(&self) -> Result<(), BpfError> {
        if self.is_per_cpu() {
            return Err(self.err("a per-CPU map: use get_per_cpu/iter_per_cpu"));
        }
        Ok(())
    }

    /// The value under `key` as a `V`.
    pub fn get<K: Pod, V: Pod>(&self, key: &K) -> Result<Option<V>, BpfError> {
        self.check_sizes::<K, V>()?;
        self.check_not_per_cpu()?;
        Ok(self.lookup(bytes_of(key))?.and_then(|v| from_bytes(&v)))
    }

    /// Stores `value` under `key` ([`BPF_ANY`]).
    pub fn set<K: Pod, V: Pod>(&self, key: &K, value: &V) -> Result<(), BpfError> {
        self.check_sizes::<K, V>()?;
        self.check_not_per_cpu()?;
        self.update(bytes_of(key), bytes_of(value), BPF_ANY)
    }

    /// Every entry as `(K, V)`.
    pub fn iter<K: Pod, V: Pod>(&self) -> Result<Vec<(K, V)>, BpfError> {
        self.check_sizes::<K, V>()?;
        self.check_not_per_cpu()?;
        Ok(self
            .entries()?
            .iter()
            .filter_map(|(k, v)| Some((from_bytes(k)?, from_bytes(v)?)))
            .collect())
    }

    /// Splits a per-CPU value into the CPUs' values.
    fn split_per_cpu<V: Pod>(&self, v: &[u8]) -> Vec<V> {
        let stride = self.value_size().div_ceil(8) * 8;
        v.chunks(stride.max(1)).filter_map(from_bytes).collect()
    }

    /// Every CPU's value under `key` of a per-CPU map.
    pub fn get_per_cpu<K: Pod, V: Pod>(&self, key: &K) -> Result<Option<Vec<V>>, BpfError> {
        self.check_sizes::<K, V>()?;
        Ok(self.lookup(bytes_of(key))?.map(|v| self.split_per_cpu(&v)))
    }

    /// Every entry of a per-CPU map with all CPUs' values.
    pub fn iter_per_cpu<K: Pod, V: Pod>(&self) -> Result<Vec<(K, Vec<V>)>, BpfError> {
        self.check_sizes::<K, V>()?;
        Ok(self
            .entries()?
            .iter()
            .filter_map(|(k, v)| Some((from_bytes(k)?, self.split_per_cpu(v))))
            .collect())
    }

    /// The entries as `(key as an unsigned integer, value)` with the value read as an
    /// unsigned integer of its size (1, 2, 4 or 8 bytes; per-CPU values summed). Keys
    /// longer than 8 bytes are refused. This is how counters and histograms are read.
    pub fn counts(&self) -> Result<Vec<(u64, u64)>, BpfError> {
        if self.key_size() > 8 || self.key_size() == 0 {
            return Err(self.err(format!("{}-byte keys are not integers", self.key_size())));
        }
        let mut out = Vec::new();
        for (k, v) in self.entries()? {
            out.push((ne_uint(&k), self.value_sum(&v)?));
        }
        Ok(out)
    }

    /// A value read as an unsigned integer (summed over CPUs for per-CPU maps).
    pub fn value_sum(&self, v: &[u8]) -> Result<u64, BpfError> {
        let vs = self.value_size();
        if ![1, 2, 4, 8].contains(&vs) {
            return Err(self.err(format!("{vs}-byte values are not counters")));
        }
        if self.is_per_cpu() {
            let stride = vs.div_ceil(8) * 8;
            Ok(v.chunks(stride)
                .map(|c| ne_uint(&c[..vs.min(c.len())]))
                .fold(0u64, u64::wrapping_add))
        } else {
            Ok(ne_uint(v))
        }
    }

    /// The histogram slots `0..` read from the map (`slots[i]` = the value under key `i`).
    pub fn hist_slots(&self) -> Result<Vec<u64>, BpfError> {
        let mut slots: Vec<u64> = Vec::new();
        for (k, v) in self.counts()? {
            let Ok(i) = usize::try_from(k) else { continue };
            if i >= hist::MAX_LINEAR_SLOTS {
                continue;
            }
            if slots.len() <= i {
                slots.resize(i + 1, 0);
            }
            slots[i] = slots[i].wrapping_add(v);
        }
        Ok(slots)
    }

    /// The map as a log2 histogram in BCC's layout (see [`hist::log2_hist`]).
    pub fn log2_hist(&self, val_type: &str) -> Result<String, BpfError> {
        Ok(hist::log2_hist(&self.hist_slots()?, val_type))
    }

    /// The map as a linear histogram in BCC's layout (see [`hist::linear_hist`]).
    pub fn linear_hist(&self, val_type: &str) -> Result<String, BpfError> {
        Ok(hist::linear_hist(&self.hist_slots()?, val_type))
    }

    /// Prints [`BpfMap::log2_hist`] (BCC's `print_log2_hist`).
    pub fn print_log2_hist(&self, val_type: &str) -> Result<(), BpfError> {
        print!("{}", self.log2_hist(val_type)?);
        Ok(())
    }

    /// Prints [`BpfMap::linear_hist`] (BCC's `print_linear_hist`).
    pub fn print_linear_hist(&self, val_type: &str) -> Result<(), BpfError> {
        print!("{}", self.linear_hist(val_type)?);
        Ok(())
    }
}

/// A native-endian unsigned integer of up to 8 bytes.
fn ne_uint(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    let n = b.len().min(8);
    if cfg!(target_endian = "little") {
        a[..n].copy_from_slice(&b[..n]);
    } else {
        a[8 - n..].copy_from_slice(&b[..n]);
    }
    u64::from_ne_bytes(a)
}
