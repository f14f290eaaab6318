//! Typed views of maps: keys and values as Rust [`Pod`] types.

use super::error::MapError;
use super::slab::{pod_bytes, pod_read, Pod};
use super::Map;
use std::marker::PhantomData;
use std::mem::size_of;
use std::sync::Arc;

/// A map seen with key type `K` and value type `V` (sizes checked at construction).
///
/// ```
/// use oxbpf_runtime::maps::{MapRegistry, MapSpec, MapType, update};
/// let maps = MapRegistry::new();
/// maps.create(MapSpec::new("counts", MapType::Hash, 4, 8, 1024)).unwrap();
/// let counts = maps.typed::<u32, u64>("counts").unwrap();
/// counts.insert(&7, &42, update::BPF_ANY).unwrap();
/// assert_eq!(counts.get(&7).unwrap(), Some(42));
/// ```
pub struct TypedMap<K: Pod, V: Pod> {
    map: Arc<Map>,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K: Pod, V: Pod> Clone for TypedMap<K, V> {
    fn clone(&self) -> Self {
        TypedMap {
            map: self.map.clone(),
            _types: PhantomData,
        }
    }
}

impl<K: Pod, V: Pod> std::fmt::Debug for TypedMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TypedMap({:?})", self.map.spec())
    }
}

impl<K: Pod, V: Pod> TypedMap<K, V> {
    /// A typed view of `map`: `size_of::<K>()` must equal `key_size` and `size_of::<V>()`
    /// must equal `value_size`.
    pub fn new(map: Arc<Map>) -> Result<TypedMap<K, V>, MapError> {
        let s = map.spec();
        if size_of::<K>() != s.key_size as usize || size_of::<V>() != s.value_size as usize {
            return Err(MapError::TypeMismatch {
                map: s.name.clone(),
                reason: format!(
                    "typed view with a {}-byte key and a {}-byte value, but key_size is {} and \
                     value_size is {}",
                    size_of::<K>(),
                    size_of::<V>(),
                    s.key_size,
                    s.value_size
                ),
            });
        }
        Ok(TypedMap {
            map,
            _types: PhantomData,
        })
    }

    /// The underlying map.
    pub fn map(&self) -> &Arc<Map> {
        &self.map
    }

    fn not_percpu(&self) -> Result<(), MapError> {
        if self.map.map_type().is_percpu() {
            return Err(MapError::TypeMismatch {
                map: self.map.name().to_string(),
                reason: "per-CPU map: use get_percpu / insert_percpu".into(),
            });
        }
        Ok(())
    }

    /// The value at `key`.
    pub fn get(&self, key: &K) -> Result<Option<V>, MapError> {
        self.not_percpu()?;
        Ok(self.map.lookup(pod_bytes(key))?.and_then(|b| pod_read(&b)))
    }

    /// Every CPU's value at `key` (per-CPU maps).
    pub fn get_percpu(&self, key: &K) -> Result<Option<Vec<V>>, MapError> {
        let stride = self.map.percpu_value_stride();
        Ok(self.map.lookup(pod_bytes(key))?.map(|b| {
            b.chunks(stride.max(1))
                .filter_map(|c| pod_read::<V>(c))
                .collect()
        }))
    }

    /// Stores `value` at `key` with update flags (`update::BPF_ANY`, ...).
    pub fn insert(&self, key: &K, value: &V, flags: u64) -> Result<(), MapError> {
        self.not_percpu()?;
        self.map.update(pod_bytes(key), pod_bytes(value), flags)
    }

    /// Stores one value per CPU at `key` (`values.len()` must be the map's CPU count).
    pub fn insert_percpu(&self, key: &K, values: &[V], flags: u64) -> Result<(), MapError> {
        let stride = self.map.percpu_value_stride();
        let n = self.map.num_cpus();
        if values.len() != n {
            return Err(MapError::ValueSize {
                map: self.map.name().to_string(),
                expected: n,
                got: values.len(),
            });
        }
        let mut buf = vec![0u8; stride * n];
        for (i, v) in values.iter().enumerate() {
            let b = pod_bytes(v);
            buf[i * stride..i * stride + b.len()].copy_from_slice(b);
        }
        self.map.update(pod_bytes(key), &buf, flags)
    }

    /// Deletes `key`.
    pub fn remove(&self, key: &K) -> Result<(), MapError> {
        self.map.delete(pod_bytes(key))
    }

    /// All keys (a snapshot).
    pub fn keys(&self) -> Result<Vec<K>, MapError> {
        Ok(self
            .map
            .keys()?
            .iter()
            .filter_map(|k| pod_read(k))
            .collect())
    }

    /// All `(key, value)` pairs (a snapshot; not for per-CPU maps).
    pub fn entries(&self) -> Result<Vec<(K, V)>, MapError> {
        self.not_percpu()?;
        Ok(self
            .map
            .entries()?
            .iter()
            .filter_map(|(k, v)| Some((pod_read(k)?, pod_read(v)?)))
            .collect())
    }
}
