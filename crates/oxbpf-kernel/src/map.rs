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

/// A key and its value, as bytes.
pub type MapEntry = (Vec<u8>, Vec<u8>);

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
    /// A second handle on an existing map (duplicating its descriptor).
    pub fn from_fd(fd: BorrowedFd<'_>, name: &str) -> Result<KernelMap, KernelError> {
        let owned = fd
            .try_clone_to_owned()
            .map_err(|e| KernelError::syscall("dup", format!("map `{name}`"), e))?;
        let data = aya::maps::MapData::from_fd(owned).map_err(|e| KernelError::Map {
            map: name.to_string(),
            source: Box::new(e),
        })?;
        Self::from_map_data(data, name.to_string())
    }

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

    /// `BPF_MAP_FREEZE`: user space can no longer write the map (programs can, unless
    /// it was created with `BPF_F_RDONLY_PROG`). The verifier then treats the contents of
    /// a read-only map as constants, as it does for `.rodata` loaded by libbpf or aya
    /// (and `bpf_snprintf` requires a frozen format string).
    pub fn freeze(&self) -> Result<(), KernelError> {
        sys::map_freeze(self.raw.fd()).map_err(|e| self.err("BPF_MAP_FREEZE", e))
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

    /// Every entry (key, value) in the kernel's iteration order, at most `max_entries`.
    /// Keys deleted while walking are skipped.
    pub fn entries(&self) -> Result<Vec<MapEntry>, KernelError> {
        let mut out = Vec::new();
        for k in self.keys()? {
            if let Some(v) = self.lookup(&k)? {
                out.push((k, v));
            }
        }
        Ok(out)
    }

    fn check_sizes<K, V>(&self, per_cpu: bool) -> Result<(), KernelError> {
        let (k, v) = (std::mem::size_of::<K>(), std::mem::size_of::<V>());
        if k != self.key_size() || v != self.value_size() {
            return Err(KernelError::InvalidInput {
                what: "map element type",
                reason: format!(
                    "map `{}` has {}-byte keys and {}-byte values; the types are {k} and {v} bytes",
                    self.name,
                    self.key_size(),
                    self.value_size()
                ),
            });
        }
        if per_cpu != self.is_per_cpu() {
            return Err(KernelError::InvalidInput {
                what: "map element type",
                reason: format!(
                    "map `{}` is {}a per-CPU map; use {}",
                    self.name,
                    if per_cpu { "not " } else { "" },
                    if per_cpu { "get/set" } else { "get_per_cpu" }
                ),
            });
        }
        Ok(())
    }

    /// Whether values are per CPU.
    pub fn is_per_cpu(&self) -> bool {
        self.value_buf_size() != self.value_size()
            || matches!(
                self.map_type(),
                Some(MapType::PercpuArray | MapType::PercpuHash | MapType::LruPercpuHash)
            )
    }

    /// The value under `key`, typed (sizes are checked against the map's).
    pub fn get<K: aya::Pod, V: aya::Pod>(&self, key: &K) -> Result<Option<V>, KernelError> {
        self.check_sizes::<K, V>(false)?;
        Ok(self
            .lookup(sys::pod_bytes(key))?
            .and_then(|b| sys::pod_read::<V>(&b)))
    }

    /// Stores `value` under `key`, typed.
    pub fn set<K: aya::Pod, V: aya::Pod>(
        &self,
        key: &K,
        value: &V,
        mode: UpdateMode,
    ) -> Result<(), KernelError> {
        self.check_sizes::<K, V>(false)?;
        self.update(sys::pod_bytes(key), sys::pod_bytes(value), mode)
    }

    /// The values of every possible CPU under `key` of a per-CPU map, typed.
    pub fn get_per_cpu<K: aya::Pod, V: aya::Pod>(
        &self,
        key: &K,
    ) -> Result<Option<Vec<V>>, KernelError> {
        self.check_sizes::<K, V>(true)?;
        let Some(buf) = self.lookup(sys::pod_bytes(key))? else {
            return Ok(None);
        };
        let stride = self.value_size().div_ceil(8) * 8;
        Ok(Some(
            buf.chunks_exact(stride)
                .filter_map(|c| sys::pod_read::<V>(&c[..self.value_size()]))
                .collect(),
        ))
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
