//! A named collection of maps.

use super::error::MapError;
use super::slab::Pod;
use super::{Map, MapSpec, TypedMap};
use oxbpf_vm::{MemoryRegion, RegionsMut};
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Maps by name, as a loaded object or a runtime holds them.
#[derive(Debug, Default)]
pub struct MapRegistry {
    maps: RwLock<BTreeMap<String, Arc<Map>>>,
}

impl MapRegistry {
    /// An empty registry.
    pub fn new() -> MapRegistry {
        MapRegistry::default()
    }

    /// Creates a map from `spec` and registers it under `spec.name` (`EEXIST` if taken).
    pub fn create(&self, spec: MapSpec) -> Result<Arc<Map>, MapError> {
        let name = spec.name.clone();
        let mut maps = self.maps.write();
        if maps.contains_key(&name) {
            return Err(MapError::NameTaken(name));
        }
        let map = Arc::new(Map::create(spec)?);
        maps.insert(name, map.clone());
        Ok(map)
    }

    /// Registers an existing map under its name (`EEXIST` if taken).
    pub fn insert(&self, map: Arc<Map>) -> Result<(), MapError> {
        let mut maps = self.maps.write();
        let name = map.name().to_string();
        if maps.contains_key(&name) {
            return Err(MapError::NameTaken(name));
        }
        maps.insert(name, map);
        Ok(())
    }

    /// The map named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Map>> {
        self.maps.read().get(name).cloned()
    }

    /// The map named `name`, or [`MapError::NoSuchMap`].
    pub fn require(&self, name: &str) -> Result<Arc<Map>, MapError> {
        self.get(name)
            .ok_or_else(|| MapError::NoSuchMap(name.to_string()))
    }

    /// The map with id `id`.
    pub fn by_id(&self, id: u32) -> Option<Arc<Map>> {
        self.maps.read().values().find(|m| m.id() == id).cloned()
    }

    /// A typed view of the map named `name`.
    pub fn typed<K: Pod, V: Pod>(&self, name: &str) -> Result<TypedMap<K, V>, MapError> {
        TypedMap::new(self.require(name)?)
    }

    /// Unregisters `name` (the map lives on while others hold it).
    pub fn remove(&self, name: &str) -> Option<Arc<Map>> {
        self.maps.write().remove(name)
    }

    /// Names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.maps.read().keys().cloned().collect()
    }

    /// All maps, sorted by name.
    pub fn maps(&self) -> Vec<Arc<Map>> {
        self.maps.read().values().cloned().collect()
    }

    /// Number of maps.
    pub fn len(&self) -> usize {
        self.maps.read().len()
    }

    /// True when no map is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value regions of every map, for a run's [`oxbpf_vm::Regions`].
    pub fn value_regions(&self) -> Vec<MemoryRegion> {
        self.maps
            .read()
            .values()
            .flat_map(|m| m.value_regions())
            .collect()
    }

    /// Adds every map's value regions to `regions`.
    ///
    /// # Safety
    /// Every map now in the registry must outlive every use of `regions` (keep `Arc`s to
    /// them, or the registry with its maps, for the run).
    pub unsafe fn add_value_regions(&self, regions: &mut RegionsMut<'_>) {
        for m in self.maps.read().values() {
            // SAFETY: forwarded to this function's caller.
            unsafe { m.add_value_regions(regions) };
        }
    }

    /// Total bytes of all maps.
    pub fn memory_bytes(&self) -> usize {
        self.maps.read().values().map(|m| m.memory_bytes()).sum()
    }
}
