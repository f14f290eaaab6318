//! Map types, creation flags, update flags and the map specification.

use super::error::MapError;
use std::fmt;

/// Linux's `enum bpf_map_type`, with the same numeric ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum MapType {
    Unspec = 0,
    Hash = 1,
    Array = 2,
    ProgArray = 3,
    PerfEventArray = 4,
    PerCpuHash = 5,
    PerCpuArray = 6,
    StackTrace = 7,
    CgroupArray = 8,
    LruHash = 9,
    LruPerCpuHash = 10,
    LpmTrie = 11,
    ArrayOfMaps = 12,
    HashOfMaps = 13,
    DevMap = 14,
    SockMap = 15,
    CpuMap = 16,
    XskMap = 17,
    SockHash = 18,
    CgroupStorage = 19,
    ReuseportSockArray = 20,
    PerCpuCgroupStorage = 21,
    Queue = 22,
    Stack = 23,
    SkStorage = 24,
    DevMapHash = 25,
    StructOps = 26,
    RingBuf = 27,
    InodeStorage = 28,
    TaskStorage = 29,
    BloomFilter = 30,
    UserRingBuf = 31,
    CgrpStorage = 32,
    Arena = 33,
}

impl MapType {
    const ALL: [MapType; 34] = [
        MapType::Unspec,
        MapType::Hash,
        MapType::Array,
        MapType::ProgArray,
        MapType::PerfEventArray,
        MapType::PerCpuHash,
        MapType::PerCpuArray,
        MapType::StackTrace,
        MapType::CgroupArray,
        MapType::LruHash,
        MapType::LruPerCpuHash,
        MapType::LpmTrie,
        MapType::ArrayOfMaps,
        MapType::HashOfMaps,
        MapType::DevMap,
        MapType::SockMap,
        MapType::CpuMap,
        MapType::XskMap,
        MapType::SockHash,
        MapType::CgroupStorage,
        MapType::ReuseportSockArray,
        MapType::PerCpuCgroupStorage,
        MapType::Queue,
        MapType::Stack,
        MapType::SkStorage,
        MapType::DevMapHash,
        MapType::StructOps,
        MapType::RingBuf,
        MapType::InodeStorage,
        MapType::TaskStorage,
        MapType::BloomFilter,
        MapType::UserRingBuf,
        MapType::CgrpStorage,
        MapType::Arena,
    ];

    /// The type with Linux id `id`, if it exists.
    pub fn from_u32(id: u32) -> Option<MapType> {
        MapType::ALL.get(id as usize).copied()
    }

    /// The Linux id.
    pub fn as_u32(self) -> u32 {
        self as u32
    }

    /// The `BPF_MAP_TYPE_*` name.
    pub fn name(self) -> &'static str {
        match self {
            MapType::Unspec => "BPF_MAP_TYPE_UNSPEC",
            MapType::Hash => "BPF_MAP_TYPE_HASH",
            MapType::Array => "BPF_MAP_TYPE_ARRAY",
            MapType::ProgArray => "BPF_MAP_TYPE_PROG_ARRAY",
            MapType::PerfEventArray => "BPF_MAP_TYPE_PERF_EVENT_ARRAY",
            MapType::PerCpuHash => "BPF_MAP_TYPE_PERCPU_HASH",
            MapType::PerCpuArray => "BPF_MAP_TYPE_PERCPU_ARRAY",
            MapType::StackTrace => "BPF_MAP_TYPE_STACK_TRACE",
            MapType::CgroupArray => "BPF_MAP_TYPE_CGROUP_ARRAY",
            MapType::LruHash => "BPF_MAP_TYPE_LRU_HASH",
            MapType::LruPerCpuHash => "BPF_MAP_TYPE_LRU_PERCPU_HASH",
            MapType::LpmTrie => "BPF_MAP_TYPE_LPM_TRIE",
            MapType::ArrayOfMaps => "BPF_MAP_TYPE_ARRAY_OF_MAPS",
            MapType::HashOfMaps => "BPF_MAP_TYPE_HASH_OF_MAPS",
            MapType::DevMap => "BPF_MAP_TYPE_DEVMAP",
            MapType::SockMap => "BPF_MAP_TYPE_SOCKMAP",
            MapType::CpuMap => "BPF_MAP_TYPE_CPUMAP",
            MapType::XskMap => "BPF_MAP_TYPE_XSKMAP",
            MapType::SockHash => "BPF_MAP_TYPE_SOCKHASH",
            MapType::CgroupStorage => "BPF_MAP_TYPE_CGROUP_STORAGE",
            MapType::ReuseportSockArray => "BPF_MAP_TYPE_REUSEPORT_SOCKARRAY",
            MapType::PerCpuCgroupStorage => "BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE",
            MapType::Queue => "BPF_MAP_TYPE_QUEUE",
            MapType::Stack => "BPF_MAP_TYPE_STACK",
            MapType::SkStorage => "BPF_MAP_TYPE_SK_STORAGE",
            MapType::DevMapHash => "BPF_MAP_TYPE_DEVMAP_HASH",
            MapType::StructOps => "BPF_MAP_TYPE_STRUCT_OPS",
            MapType::RingBuf => "BPF_MAP_TYPE_RINGBUF",
            MapType::InodeStorage => "BPF_MAP_TYPE_INODE_STORAGE",
            MapType::TaskStorage => "BPF_MAP_TYPE_TASK_STORAGE",
            MapType::BloomFilter => "BPF_MAP_TYPE_BLOOM_FILTER",
            MapType::UserRingBuf => "BPF_MAP_TYPE_USER_RINGBUF",
            MapType::CgrpStorage => "BPF_MAP_TYPE_CGRP_STORAGE",
            MapType::Arena => "BPF_MAP_TYPE_ARENA",
        }
    }

    /// True for the types whose values exist once per CPU.
    pub fn is_percpu(self) -> bool {
        matches!(
            self,
            MapType::PerCpuArray | MapType::PerCpuHash | MapType::LruPerCpuHash
        )
    }
}

impl fmt::Display for MapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Update flags (`flags` of `bpf_map_update_elem` / `bpf_map_push_elem`).
pub mod update {
    /// Create or replace.
    pub const BPF_ANY: u64 = 0;
    /// Create only; `EEXIST` when the key exists.
    pub const BPF_NOEXIST: u64 = 1;
    /// Replace only; `ENOENT` when the key does not exist. For queues and stacks: overwrite
    /// the oldest element when full.
    pub const BPF_EXIST: u64 = 2;
    /// Update under the value's `bpf_spin_lock`. oxbpf maps carry no BTF spin lock, so this
    /// is refused with `EINVAL`, as Linux does for values without one.
    pub const BPF_F_LOCK: u64 = 4;
}

/// Map creation flags (`map_flags` of `BPF_MAP_CREATE`).
pub mod flags {
    pub const BPF_F_NO_PREALLOC: u32 = 1 << 0;
    pub const BPF_F_NO_COMMON_LRU: u32 = 1 << 1;
    pub const BPF_F_NUMA_NODE: u32 = 1 << 2;
    pub const BPF_F_RDONLY: u32 = 1 << 3;
    pub const BPF_F_WRONLY: u32 = 1 << 4;
    pub const BPF_F_STACK_BUILD_ID: u32 = 1 << 5;
    pub const BPF_F_ZERO_SEED: u32 = 1 << 6;
    pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
    pub const BPF_F_WRONLY_PROG: u32 = 1 << 8;
    pub const BPF_F_CLONE: u32 = 1 << 9;
    pub const BPF_F_MMAPABLE: u32 = 1 << 10;
    pub const BPF_F_PRESERVE_ELEMS: u32 = 1 << 11;
    pub const BPF_F_INNER_MAP: u32 = 1 << 12;
    /// The four access flags.
    pub const BPF_F_ACCESS_MASK: u32 =
        BPF_F_RDONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY | BPF_F_WRONLY_PROG;
}

/// Ring buffer flags (`bpf_ringbuf_submit`/`output`/`query`).
pub mod ringbuf_flags {
    /// Do not notify the consumer.
    pub const BPF_RB_NO_WAKEUP: u64 = 1 << 0;
    /// Notify the consumer even if it is behind.
    pub const BPF_RB_FORCE_WAKEUP: u64 = 1 << 1;
    /// `bpf_ringbuf_query`: bytes not yet consumed.
    pub const BPF_RB_AVAIL_DATA: u64 = 0;
    /// `bpf_ringbuf_query`: the data area size.
    pub const BPF_RB_RING_SIZE: u64 = 1;
    /// `bpf_ringbuf_query`: the consumer position.
    pub const BPF_RB_CONS_POS: u64 = 2;
    /// `bpf_ringbuf_query`: the producer position.
    pub const BPF_RB_PROD_POS: u64 = 3;
}

/// Perf event output flags (`bpf_perf_event_output`).
pub mod perf_flags {
    /// The low 32 bits select the array index.
    pub const BPF_F_INDEX_MASK: u64 = 0xffff_ffff;
    /// Index = the current CPU.
    pub const BPF_F_CURRENT_CPU: u64 = BPF_F_INDEX_MASK;
}

/// Page size used for ring buffer sizing, as on x86-64 Linux.
pub const PAGE_SIZE: u32 = 4096;

/// Everything needed to create a map: the fields of a `BPF_MAP_CREATE` attribute (and of an
/// ELF `.maps` definition).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSpec {
    /// Name used in diagnostics and registries (not limited to 15 bytes as in Linux).
    pub name: String,
    pub map_type: MapType,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// `BPF_F_*` creation flags ([`flags`]).
    pub flags: u32,
    /// Type-specific: the bloom filter's number of hash functions (low 4 bits).
    pub map_extra: u64,
    /// For `ARRAY_OF_MAPS` / `HASH_OF_MAPS`: the spec every inner map must match (Linux's
    /// `inner_map_fd`).
    pub inner: Option<Box<MapSpec>>,
}

impl MapSpec {
    /// A spec with no flags and no `map_extra`.
    pub fn new(
        name: impl Into<String>,
        map_type: MapType,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
    ) -> MapSpec {
        MapSpec {
            name: name.into(),
            map_type,
            key_size,
            value_size,
            max_entries,
            flags: 0,
            map_extra: 0,
            inner: None,
        }
    }

    /// Sets the creation flags.
    pub fn with_flags(mut self, flags: u32) -> MapSpec {
        self.flags = flags;
        self
    }

    /// Sets `map_extra`.
    pub fn with_map_extra(mut self, map_extra: u64) -> MapSpec {
        self.map_extra = map_extra;
        self
    }

    /// Sets the inner map template of a map-of-maps.
    pub fn with_inner(mut self, inner: MapSpec) -> MapSpec {
        self.inner = Some(Box::new(inner));
        self
    }

    pub(crate) fn err(&self, errno: i32, reason: impl Into<String>) -> MapError {
        MapError::InvalidSpec {
            name: self.name.clone(),
            map_type: self.map_type,
            errno,
            reason: reason.into(),
        }
    }

    /// `EINVAL` unless `flags & !allowed == 0` and the access flags are consistent.
    pub(crate) fn check_flags(&self, allowed: u32) -> Result<(), MapError> {
        let extra = self.flags & !allowed;
        if extra != 0 {
            return Err(self.err(
                libc::EINVAL,
                format!("map_flags 0x{extra:x} are not valid for this map type"),
            ));
        }
        let prog = flags::BPF_F_RDONLY_PROG | flags::BPF_F_WRONLY_PROG;
        if self.flags & prog == prog {
            return Err(self.err(
                libc::EINVAL,
                "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG are mutually exclusive",
            ));
        }
        let sys = flags::BPF_F_RDONLY | flags::BPF_F_WRONLY;
        if self.flags & sys == sys {
            return Err(self.err(
                libc::EINVAL,
                "BPF_F_RDONLY and BPF_F_WRONLY are mutually exclusive",
            ));
        }
        Ok(())
    }

    pub(crate) fn require(&self, ok: bool, errno: i32, reason: &str) -> Result<(), MapError> {
        if ok {
            Ok(())
        } else {
            Err(self.err(errno, reason))
        }
    }
}

/// `round_up(n, 8)` in 64 bits.
pub(crate) fn round8(n: u32) -> usize {
    (n as usize + 7) & !7
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_type_ids_round_trip() {
        for id in 0..34 {
            let t = MapType::from_u32(id).unwrap();
            assert_eq!(t.as_u32(), id);
        }
        assert_eq!(MapType::from_u32(34), None);
        assert_eq!(MapType::from_u32(27), Some(MapType::RingBuf));
        assert_eq!(MapType::from_u32(30), Some(MapType::BloomFilter));
        assert_eq!(MapType::LpmTrie.to_string(), "BPF_MAP_TYPE_LPM_TRIE");
    }

    #[test]
    fn access_flags_are_exclusive() {
        let s = MapSpec::new("m", MapType::Array, 4, 4, 1)
            .with_flags(flags::BPF_F_RDONLY_PROG | flags::BPF_F_WRONLY_PROG);
        assert_eq!(
            s.check_flags(flags::BPF_F_ACCESS_MASK).unwrap_err().errno(),
            libc::EINVAL
        );
        let s = MapSpec::new("m", MapType::Array, 4, 4, 1).with_flags(flags::BPF_F_MMAPABLE);
        assert_eq!(
            s.check_flags(flags::BPF_F_ACCESS_MASK).unwrap_err().errno(),
            libc::EINVAL
        );
        assert!(s.check_flags(flags::BPF_F_MMAPABLE).is_ok());
    }
}
