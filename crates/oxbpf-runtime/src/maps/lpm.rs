//! `BPF_MAP_TYPE_LPM_TRIE`: longest-prefix-match lookups.
//!
//! Keys are `struct bpf_lpm_trie_key`: a native-endian `u32` prefix length followed by
//! `key_size - 4` data bytes, read as a big-endian bit string. An element is identified by
//! its prefix length and the first `prefixlen` bits of its data; the remaining bits are kept
//! as given (Linux stores and returns them too, in `get_next_key`).
//!
//! Lookup returns the element with the longest prefix that matches the key's first
//! `prefixlen` bits. Iteration (`get_next_key`) follows the kernel's post-order: more
//! specific prefixes before the prefixes that contain them, the `0` branch before the `1`
//! branch.
//!
//! Implementation: one exact-match hash table per prefix length plus an ordered set for
//! iteration; a lookup probes the prefix lengths present, longest first. Values live in a
//! slab of `max_entries` slots, as for the other maps (Linux requires `BPF_F_NO_PREALLOC`
//! for this map type; oxbpf still reserves the slots up front so value pointers stay
//! stable, and the pages of unused slots are never touched).

use super::error::MapError;
use super::slab::Slab;
use super::spec::{flags, round8, update, MapSpec};
use super::{array::check_len, Caller, FreeList, Ops};
use parking_lot::RwLock;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ptr::NonNull;

const DATA_SIZE_MAX: u32 = 256;
const VALUE_SIZE_MAX: u32 = (1 << 22) - DATA_SIZE_MAX - 48;

/// An ordering key: prefix length and data masked to it. Ordered in the kernel's
/// post-order.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Prefix {
    len: u32,
    data: Box<[u8]>,
}

fn bit(data: &[u8], i: u32) -> u8 {
    (data[(i / 8) as usize] >> (7 - (i % 8))) & 1
}

impl Ord for Prefix {
    fn cmp(&self, other: &Self) -> Ordering {
        let common = self.len.min(other.len);
        // First differing bit within the shared length decides: the 0 branch first.
        let full = (common / 8) as usize;
        for i in 0..full {
            let (a, b) = (self.data[i], other.data[i]);
            if a != b {
                let d = (a ^ b).leading_zeros();
                return if (a >> (7 - d)) & 1 == 0 {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
            }
        }
        for i in (full as u32 * 8)..common {
            let (a, b) = (bit(&self.data, i), bit(&other.data, i));
            if a != b {
                return a.cmp(&b);
            }
        }
        // One is a prefix of the other: the longer (more specific) one comes first.
        other.len.cmp(&self.len)
    }
}

impl PartialOrd for Prefix {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug)]
struct Node {
    slot: u32,
    /// The data bytes as last given for this prefix (unmasked).
    raw: Box<[u8]>,
}

#[derive(Debug)]
struct Inner {
    /// Exact-match tables, one per prefix length `0..=max_prefixlen`, keyed by masked data.
    by_len: Vec<hashbrown::HashMap<Box<[u8]>, Node>>,
    /// Prefix lengths with at least one element, ascending.
    lens: Vec<u32>,
    order: BTreeSet<Prefix>,
    free: FreeList,
}

/// A longest-prefix-match trie.
#[derive(Debug)]
pub struct LpmTrie {
    spec: MapSpec,
    data_size: usize,
    max_prefixlen: u32,
    vstride: usize,
    values: Slab,
    inner: RwLock<Inner>,
}

fn mask_into(data: &[u8], len: u32, out: &mut [u8]) {
    let full = (len / 8) as usize;
    out[..full].copy_from_slice(&data[..full]);
    for b in out[full..].iter_mut() {
        *b = 0;
    }
    let rem = len % 8;
    if rem != 0 {
        out[full] = data[full] & (0xffu8 << (8 - rem));
    }
}

impl LpmTrie {
    pub(crate) fn new(spec: MapSpec) -> Result<LpmTrie, MapError> {
        use flags::*;
        spec.check_flags(BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK)?;
        spec.require(
            spec.max_entries > 0,
            libc::EINVAL,
            "max_entries must be > 0",
        )?;
        spec.require(
            spec.flags & BPF_F_NO_PREALLOC != 0,
            libc::EINVAL,
            "LPM tries require BPF_F_NO_PREALLOC",
        )?;
        spec.require(
            (5..=4 + DATA_SIZE_MAX).contains(&spec.key_size),
            libc::EINVAL,
            "key_size must be 4 (prefixlen) + 1..=256 data bytes",
        )?;
        spec.require(
            (1..=VALUE_SIZE_MAX).contains(&spec.value_size),
            libc::EINVAL,
            "value_size out of range",
        )?;
        let data_size = spec.key_size as usize - 4;
        let max_prefixlen = data_size as u32 * 8;
        let vstride = round8(spec.value_size);
        let bytes = (spec.max_entries as usize)
            .checked_mul(vstride)
            .ok_or_else(|| spec.err(libc::E2BIG, "map size overflows"))?;
        let values = Slab::new(&spec.name, bytes)?;
        let inner = Inner {
            by_len: (0..=max_prefixlen)
                .map(|_| hashbrown::HashMap::new())
                .collect(),
            lens: Vec::new(),
            order: BTreeSet::new(),
            free: FreeList::new(spec.max_entries),
        };
        Ok(LpmTrie {
            spec,
            data_size,
            max_prefixlen,
            vstride,
            values,
            inner: RwLock::new(inner),
        })
    }

    fn split<'k>(&self, key: &'k [u8]) -> (u32, &'k [u8]) {
        let mut p = [0u8; 4];
        p.copy_from_slice(&key[..4]);
        (u32::from_ne_bytes(p), &key[4..])
    }

    fn find_longest(&self, inner: &Inner, plen: u32, data: &[u8]) -> Option<u32> {
        let mut buf = [0u8; DATA_SIZE_MAX as usize];
        let m = &mut buf[..self.data_size];
        for &len in inner.lens.iter().rev() {
            if len > plen {
                continue;
            }
            mask_into(data, len, m);
            if let Some(n) = inner.by_len[len as usize].get(&m[..]) {
                return Some(n.slot);
            }
        }
        None
    }

    fn masked(&self, plen: u32, data: &[u8]) -> Box<[u8]> {
        let mut m = vec![0u8; self.data_size];
        mask_into(data, plen, &mut m);
        m.into_boxed_slice()
    }

    fn write_key(&self, plen: u32, raw: &[u8], next: &mut [u8]) {
        next[..4].copy_from_slice(&plen.to_ne_bytes());
        next[4..].copy_from_slice(raw);
    }
}

impl Ops for LpmTrie {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn lookup_ptr(&self, key: &[u8], _cpu: usize) -> Option<NonNull<u8>> {
        let (plen, data) = self.split(key);
        if plen > self.max_prefixlen {
            return None;
        }
        let inner = self.inner.read();
        let slot = self.find_longest(&inner, plen, data)?;
        Some(self.values.ptr_at(slot as usize * self.vstride))
    }

    fn lookup_copy(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        let (plen, data) = self.split(key);
        if plen > self.max_prefixlen {
            return Ok(None);
        }
        let inner = self.inner.read();
        let Some(slot) = self.find_longest(&inner, plen, data) else {
            return Ok(None);
        };
        let mut v = vec![0u8; self.spec.value_size as usize];
        self.values.read(slot as usize * self.vstride, &mut v);
        Ok(Some(v))
    }

    fn update(&self, key: &[u8], value: &[u8], fl: u64, _who: Caller) -> Result<(), MapError> {
        let name = &self.spec.name;
        if fl > update::BPF_EXIST {
            return Err(MapError::invalid(
                name,
                format!("invalid update flags 0x{fl:x}"),
            ));
        }
        let (plen, data) = self.split(key);
        if plen > self.max_prefixlen {
            return Err(MapError::invalid(
                name,
                format!("prefixlen {plen} exceeds the trie's {}", self.max_prefixlen),
            ));
        }
        check_len(name, value, self.spec.value_size as usize)?;
        let masked = self.masked(plen, data);
        let mut inner = self.inner.write();
        let inner = &mut *inner;
        if let Some(node) = inner.by_len[plen as usize].get_mut(&masked) {
            if fl == update::BPF_NOEXIST {
                return Err(MapError::exists(name));
            }
            node.raw = data.into();
            self.values.write(node.slot as usize * self.vstride, value);
            return Ok(());
        }
        if fl == update::BPF_EXIST {
            return Err(MapError::not_found(name));
        }
        let Some(slot) = inner.free.pop() else {
            return Err(MapError::NoSpace {
                map: name.clone(),
                reason: format!(
                    "the trie holds max_entries ({}) elements",
                    self.spec.max_entries
                ),
            });
        };
        let off = slot as usize * self.vstride;
        self.values.write(off, value);
        self.values
            .zero(off + value.len(), self.vstride - value.len());
        let table = &mut inner.by_len[plen as usize];
        if table.is_empty() {
            if let Err(pos) = inner.lens.binary_search(&plen) {
                inner.lens.insert(pos, plen);
            }
        }
        table.insert(
            masked.clone(),
            Node {
                slot,
                raw: data.into(),
            },
        );
        inner.order.insert(Prefix {
            len: plen,
            data: masked,
        });
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        let name = &self.spec.name;
        let (plen, data) = self.split(key);
        if plen > self.max_prefixlen {
            return Err(MapError::invalid(
                name,
                format!("prefixlen {plen} exceeds the trie's {}", self.max_prefixlen),
            ));
        }
        let masked = self.masked(plen, data);
        let mut inner = self.inner.write();
        let inner = &mut *inner;
        let table = &mut inner.by_len[plen as usize];
        let Some(node) = table.remove(&masked) else {
            return Err(MapError::not_found(name));
        };
        if table.is_empty() {
            inner.lens.retain(|&l| l != plen);
        }
        inner.order.remove(&Prefix {
            len: plen,
            data: masked,
        });
        inner.free.push(node.slot);
        Ok(())
    }

    fn get_next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<(), MapError> {
        let inner = self.inner.read();
        let first = || inner.order.iter().next();
        let found = match key.map(|k| self.split(k)) {
            Some((plen, data)) if plen <= self.max_prefixlen => {
                let p = Prefix {
                    len: plen,
                    data: self.masked(plen, data),
                };
                if inner.order.contains(&p) {
                    inner
                        .order
                        .range((std::ops::Bound::Excluded(&p), std::ops::Bound::Unbounded))
                        .next()
                } else {
                    first()
                }
            }
            _ => first(),
        };
        let Some(p) = found else {
            return Err(MapError::not_found(&self.spec.name));
        };
        let node = inner.by_len[p.len as usize]
            .get(&p.data)
            .ok_or_else(|| MapError::not_found(&self.spec.name))?;
        self.write_key(p.len, &node.raw, next);
        Ok(())
    }

    fn keys(&self) -> Result<Vec<Vec<u8>>, MapError> {
        let inner = self.inner.read();
        let mut out = Vec::with_capacity(inner.order.len());
        for p in inner.order.iter() {
            if let Some(node) = inner.by_len[p.len as usize].get(&p.data) {
                let mut k = vec![0u8; 4 + self.data_size];
                self.write_key(p.len, &node.raw, &mut k);
                out.push(k);
            }
        }
        Ok(out)
    }

    fn regions(&self) -> Vec<(u64, u64)> {
        vec![(self.values.addr(), self.values.len() as u64)]
    }

    fn memory_bytes(&self) -> usize {
        let inner = self.inner.read();
        // Per element: table entry (fat pointer + slot + raw fat pointer) and two data
        // copies, plus the ordered set's copy; BTree nodes are estimated by their entries.
        let per_elem = 2 * std::mem::size_of::<Box<[u8]>>()
            + std::mem::size_of::<Node>()
            + std::mem::size_of::<Prefix>()
            + 3 * self.data_size
            + 8;
        let tables: usize = inner
            .by_len
            .iter()
            .map(|t| t.allocation_size().max(std::mem::size_of_val(t)))
            .sum();
        std::mem::size_of::<Self>()
            + self.values.len()
            + tables
            + inner.order.len() * per_elem
            + inner.free.bytes()
            + inner.lens.capacity() * 4
    }

    fn len(&self) -> usize {
        self.inner.read().order.len()
    }
}
