//! `BPF_MAP_TYPE_ARRAY_OF_MAPS` and `BPF_MAP_TYPE_HASH_OF_MAPS`.
//!
//! Slots hold other maps (`Arc<Map>`). The spec's [`MapSpec::inner`] is the template every
//! inner map must match (Linux's `inner_map_fd`): same type, key and value sizes and flags,
//! and the same `max_entries` unless the template has `BPF_F_INNER_MAP`. A program's
//! `bpf_map_lookup_elem` yields the inner map ([`super::Map::lookup_inner_map`]); the
//! runtime turns it into whatever map reference its helpers take.
//!
//! Arrays of maps behave as fd arrays (`BPF_ANY` only, delete of an empty slot is
//! `ENOENT`); hashes of maps as hash maps (`BPF_NOEXIST`/`BPF_EXIST`, `E2BIG` when full).

use super::error::MapError;
use super::spec::{flags, update, MapSpec, MapType};
use super::{key_index, Map, Ops};
use parking_lot::RwLock;
use std::sync::Arc;

#[derive(Debug)]
enum Slots {
    Array(Vec<Option<Arc<Map>>>),
    Hash(hashbrown::HashMap<Box<[u8]>, Arc<Map>>),
}

/// An array or hash of maps.
#[derive(Debug)]
pub struct MapOfMaps {
    spec: MapSpec,
    inner: MapSpec,
    slots: RwLock<Slots>,
}

impl MapOfMaps {
    pub(crate) fn new(spec: MapSpec) -> Result<MapOfMaps, MapError> {
        let array = spec.map_type == MapType::ArrayOfMaps;
        let inner = spec.inner.as_deref().cloned().ok_or_else(|| {
            spec.err(
                libc::EINVAL,
                "maps of maps need an inner map spec (inner_map_fd)",
            )
        })?;
        spec.require(
            !matches!(
                inner.map_type,
                MapType::ArrayOfMaps | MapType::HashOfMaps | MapType::ProgArray
            ),
            libc::EINVAL,
            "inner maps cannot be maps of maps or program arrays",
        )?;
        // The template must itself be a valid map spec.
        Map::create(MapSpec {
            inner: None,
            ..inner.clone()
        })
        .map_err(|e| spec.err(e.errno(), format!("inner map spec: {e}")))?;
        spec.require(
            spec.value_size == 4,
            libc::EINVAL,
            "value_size must be 4 (a map fd)",
        )?;
        let slots = if array {
            spec.check_flags(flags::BPF_F_NUMA_NODE | flags::BPF_F_ACCESS_MASK)?;
            spec.require(
                spec.max_entries > 0 && spec.key_size == 4,
                libc::EINVAL,
                "arrays of maps need key_size 4 and max_entries > 0",
            )?;
            Slots::Array(super::error::alloc_vec(
                &spec.name,
                spec.max_entries as usize,
                None,
            )?)
        } else {
            spec.check_flags(
                flags::BPF_F_NO_PREALLOC
                    | flags::BPF_F_NUMA_NODE
                    | flags::BPF_F_ACCESS_MASK
                    | flags::BPF_F_ZERO_SEED,
            )?;
            spec.require(
                spec.max_entries > 0 && spec.key_size > 0 && spec.key_size <= 512,
                libc::EINVAL,
                "hashes of maps need key_size 1..=512 and max_entries > 0",
            )?;
            Slots::Hash(hashbrown::HashMap::new())
        };
        Ok(MapOfMaps {
            spec,
            inner,
            slots: RwLock::new(slots),
        })
    }

    /// The template inner maps must match.
    pub fn inner_spec(&self) -> &MapSpec {
        &self.inner
    }

    fn compatible(&self, m: &Map) -> Result<(), MapError> {
        let s = m.spec();
        let t = &self.inner;
        let ok = s.map_type == t.map_type
            && s.key_size == t.key_size
            && s.value_size == t.value_size
            && s.flags == t.flags
            && (t.flags & flags::BPF_F_INNER_MAP != 0 || s.max_entries == t.max_entries);
        if ok {
            Ok(())
        } else {
            Err(MapError::invalid(
                &self.spec.name,
                format!("map `{}` does not match the inner map template", s.name),
            ))
        }
    }

    fn check_key(&self, key: &[u8]) -> Result<(), MapError> {
        if key.len() != self.spec.key_size as usize {
            return Err(MapError::KeySize {
                map: self.spec.name.clone(),
                expected: self.spec.key_size as usize,
                got: key.len(),
            });
        }
        Ok(())
    }

    /// Stores `map` at `key` with update `flags`.
    pub fn set(&self, key: &[u8], map: Arc<Map>, fl: u64) -> Result<(), MapError> {
        self.check_key(key)?;
        let name = &self.spec.name;
        self.compatible(&map)?;
        let mut slots = self.slots.write();
        match &mut *slots {
            Slots::Array(v) => {
                if fl != update::BPF_ANY {
                    return Err(MapError::invalid(
                        name,
                        format!("invalid update flags 0x{fl:x}"),
                    ));
                }
                let i = key_index(key).unwrap_or(u32::MAX);
                let slot = v.get_mut(i as usize).ok_or_else(|| {
                    MapError::full(name, format!("index {i} is past max_entries"))
                })?;
                *slot = Some(map);
            }
            Slots::Hash(h) => {
                if fl > update::BPF_EXIST {
                    return Err(MapError::invalid(
                        name,
                        format!("invalid update flags 0x{fl:x}"),
                    ));
                }
                let exists = h.contains_key(key);
                if exists && fl == update::BPF_NOEXIST {
                    return Err(MapError::exists(name));
                }
                if !exists && fl == update::BPF_EXIST {
                    return Err(MapError::not_found(name));
                }
                if !exists && h.len() >= self.spec.max_entries as usize {
                    return Err(MapError::full(name, "the map holds max_entries elements"));
                }
                h.insert(key.into(), map);
            }
        }
        Ok(())
    }

    /// The inner map at `key`.
    pub fn get(&self, key: &[u8]) -> Option<Arc<Map>> {
        match &*self.slots.read() {
            Slots::Array(v) => v.get(key_index(key)? as usize).cloned().flatten(),
            Slots::Hash(h) => h.get(key).cloned(),
        }
    }

    /// Removes the inner map at `key` (`ENOENT` if none).
    pub fn remove(&self, key: &[u8]) -> Result<Arc<Map>, MapError> {
        self.check_key(key)?;
        let name = &self.spec.name;
        match &mut *self.slots.write() {
            Slots::Array(v) => {
                let i = key_index(key).unwrap_or(u32::MAX);
                let slot = v.get_mut(i as usize).ok_or_else(|| {
                    MapError::full(name, format!("index {i} is past max_entries"))
                })?;
                slot.take().ok_or_else(|| MapError::not_found(name))
            }
            Slots::Hash(h) => h.remove(key).ok_or_else(|| MapError::not_found(name)),
        }
    }
}

impl Ops for MapOfMaps {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.remove(key).map(|_| ())
    }

    fn lookup_copy(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        // Linux returns the inner map's id.
        Ok(self.get(key).map(|m| m.id().to_ne_bytes().to_vec()))
    }

    fn get_next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<(), MapError> {
        match &*self.slots.read() {
            Slots::Array(_) => super::prog_array::array_next_key(&self.spec, key, next),
            Slots::Hash(h) => {
                let mut keys: Vec<&Box<[u8]>> = h.keys().collect();
                keys.sort();
                let pos = match key {
                    Some(k) => match keys.binary_search_by(|x| x[..].cmp(k)) {
                        Ok(i) => i + 1,
                        Err(_) => 0,
                    },
                    None => 0,
                };
                let k = keys
                    .get(pos)
                    .ok_or_else(|| MapError::not_found(&self.spec.name))?;
                next.copy_from_slice(k);
                Ok(())
            }
        }
    }

    fn keys(&self) -> Result<Vec<Vec<u8>>, MapError> {
        Ok(match &*self.slots.read() {
            Slots::Array(v) => v
                .iter()
                .enumerate()
                .filter(|(_, s)| s.is_some())
                .map(|(i, _)| (i as u32).to_ne_bytes().to_vec())
                .collect(),
            Slots::Hash(h) => h.keys().map(|k| k.to_vec()).collect(),
        })
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + match &*self.slots.read() {
                Slots::Array(v) => v.capacity() * std::mem::size_of::<Option<Arc<Map>>>(),
                Slots::Hash(h) => h.allocation_size() + h.len() * self.spec.key_size as usize,
            }
    }

    fn len(&self) -> usize {
        match &*self.slots.read() {
            Slots::Array(v) => v.iter().flatten().count(),
            Slots::Hash(h) => h.len(),
        }
    }
}
