//! Kernel maps addressed with raw bytes.
//!
//! Maps are created with aya (`MapData::create`); element access goes through `sys.rs`
//! with byte slices, because aya's map types are generic over fixed-size `Pod` types while
//! tests and the differential harnesses work with keys and values of sizes known only at
//! run time. [`KernelMap::into_aya`] hands the map back to aya for typed access.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use crate::error::KernelError;
use crate::sys;
use crate::types::MapType;

/// What [`create_map`] creates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSpec {
    /// The map type.
    pub map_type: MapType,
    /// Key size in bytes (0 for queue, stack, bloom filter and ring buffer).
    pub key_size: u32,
    /// Value size in bytes (0 for ring buffers).
    pub value_size: u32,
    /// Capacity (for ring buffers: the buffer size, a power-of-two multiple of the page).
    pub max_entries: u32,
    /// `map_flags` (`BPF_F_NO_PREALLOC`, ...).
    pub flags: u32,
    /// Name (at most 15 bytes are kept by the kernel).
    pub name: String,
}

impl MapSpec {
    /// A spec with no flags.
    pub fn new(
        map_type: MapType,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
        name: impl Into<String>,
    ) -> MapSpec {
        MapSpec {
            map_type,
            key_size,
            value_size,
            max_entries,
            flags: 0,
            name: name.into(),
        }
    }
}

/// How [`KernelMap::update`] treats an existing or missing key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum UpdateMode {
    /// `BPF_ANY`: create or replace.
    #[default]
    Any,
    /// `BPF_NOEXIST`: create only.
    NoExist,
    /// `BPF_EXIST`: replace only.
    Exist,
}

impl UpdateMode {
    fn flags(self) -> u64 {
        match self {
            UpdateMode::Any => 0,
            UpdateMode::NoExist => 1,
            UpdateMode::Exist => 2,
        }
    }
}

/// A kernel map; closed (and freed once no program uses it) on drop.
#[derive(Debug)]
pub struct KernelMap {
    raw: sys::RawMap,
    name: String,
}

/// Creates a map.
pub fn create_map(spec: &MapSpec) -> Result<KernelMap, KernelError> {
    let obj = aya_obj::Map::new_from_params(
        spec.map_type.id(),
        spec.key_size,
        spec.value_size,
        spec.max_entries,
        spec.flags,
    );
    let data = aya::maps::MapData::create(obj, &spec.name, None).map_err(|e| KernelError::Map {
        map: spec.name.clone(),
        source: Box::new(e),
    })?;
    KernelMap::from_map_data(data, spec.name.clone())
}

impl KernelMap {
    /// Wraps a map aya created or opened (e.g. taken out of an `aya::Ebpf`).
    pub fn from_map_data(data: aya::maps::MapData, name: String) -> Result<KernelMap, KernelError> {
        let raw = sys::RawMap::new(data)
            .map_err(|e| KernelError::syscall("BPF_OBJ_GET_INFO_BY_FD", name.clone(), e))?;
        Ok(KernelMap { raw, name })
    }

    /// The map's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kernel's map id.
    pub fn id(&self) -> u32 {
        self.raw.id()
    }

    /// The map type (`None` for a type oxbpf does not know).
    pub fn map_type(&self) -> Option<MapType> {
        MapType::from_id(self.raw.map_type())
    }

    /// Key size in bytes.
    pub fn key_size(&self) -> usize {
        self.raw.key_size()
    }

    /// Value size in bytes, as created.
    pub fn value_size(&self) -> usize {
        self.raw.value_size()
    }

    /// Bytes of one value as [`KernelMap::lookup`] returns it and [`KernelMap::update`]
    /// takes it: the value size, or for per-CPU maps one 8-byte-aligned slot per possible
    /// CPU.
    pub fn value_buf_size(&self) -> usize {
        self.raw.value_buf()
    }

    /// Capacity.
    pub fn max_entries(&self) -> u32 {
        self.raw.max_entries()
    }

    /// `map_flags`.
    pub fn flags(&self) -> u32 {
        self.raw.flags()
    }

    /// The descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.raw.fd()
    }

    /// The descriptor number, for `lddw` src 1 (`LoadImm64::MapFd`) and
    /// [`crate::LoadOptions::maps`].
    pub fn raw_fd(&self) -> RawFd {
        self.raw.fd().as_raw_fd()
    }

    fn err(&self, op: &'static str, e: std::io::Error) -> KernelError {
        if e.kind() == std::io::ErrorKind::InvalidInput && e.raw_os_error().is_none() {
            KernelError::InvalidInput {
                what: "map element",
                reason: format!("map `{}`: {e}", self.name),
            }
        } else {
            KernelError::syscall(op, format!("map `{}`", self.name), e)
        }
    }

    /// The value under `key`, or `None`.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>, KernelError> {
        self.raw
            .lookup(key, 0)
            .map_err(|e| self.err("BPF_MAP_LOOKUP_ELEM", e))
    }

    /// Stores `value` under `key`.
    pub fn update(&self, key: &[u8], value: &[u8], mode: UpdateMode) -> Result<(), KernelError> {
        self.raw
            .update(key, value, mode.flags())
            .map_err(|e| self.err("BPF_MAP_UPDATE_ELEM", e))
    }

    /// Removes `key`; false when it was absent.
    pub fn delete(&self, key: &[u8]) -> Result<bool, KernelError> {
        self.raw
            .delete(key)
            .map_err(|e| self.err("BPF_MAP_DELETE_ELEM", e))
    }

    /// The key after `key` (the first for `None`), or `None` at the end.
    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, KernelError> {
        self.raw
            .next_key(key)
            .map_err(|e| self.err("BPF_MAP_GET_NEXT_KEY", e))
    }

    /// All keys, in the kernel's iteration order. At most `max_entries` keys are returned,
    /// so a map that changes while it is walked cannot make this loop forever.
    pub fn keys(&self) -> Result<Vec<Vec<u8>>, KernelError> {
        let mut out = Vec::new();
        let mut cur: Option<Vec<u8>> = None;
        while out.len() < self.max_entries() as usize {
            match self.next_key(cur.as_deref())? {
                Some(k) => {
                    out.push(k.clone());
                    cur = Some(k);
                }
                None => break,
            }
        }
        Ok(out)
    }

    /// Hands the map to aya (`aya::maps::Map`) for typed access.
    pub fn into_aya(self) -> Result<aya::maps::Map, KernelError> {
        let name = self.name;
        aya::maps::Map::from_map_data(self.raw.into_map_data()).map_err(|e| KernelError::Map {
            map: name,
            source: Box::new(e),
        })
    }
}

impl AsFd for KernelMap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.raw.fd()
    }
}
