//! What the verifier needs to know about the maps a program uses.

use serde::Serialize;
use std::fmt;

/// Map types (Linux `enum bpf_map_type`), with the ones the verifier treats specially
/// named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MapType {
    Hash,
    Array,
    ProgArray,
    PerfEventArray,
    PercpuHash,
    PercpuArray,
    StackTrace,
    CgroupArray,
    LruHash,
    LruPercpuHash,
    LpmTrie,
    ArrayOfMaps,
    HashOfMaps,
    Devmap,
    Sockmap,
    Cpumap,
    Xskmap,
    Sockhash,
    Queue,
    Stack,
    DevmapHash,
    Ringbuf,
    BloomFilter,
    UserRingbuf,
    /// Any other Linux map type number.
    Other(u32),
}

impl MapType {
    /// From the Linux number.
    pub fn from_linux(n: u32) -> MapType {
        use MapType::*;
        match n {
            1 => Hash,
            2 => Array,
            3 => ProgArray,
            4 => PerfEventArray,
            5 => PercpuHash,
            6 => PercpuArray,
            7 => StackTrace,
            8 => CgroupArray,
            9 => LruHash,
            10 => LruPercpuHash,
            11 => LpmTrie,
            12 => ArrayOfMaps,
            13 => HashOfMaps,
            14 => Devmap,
            15 => Sockmap,
            16 => Cpumap,
            17 => Xskmap,
            18 => Sockhash,
            22 => Queue,
            23 => Stack,
            25 => DevmapHash,
            27 => Ringbuf,
            30 => BloomFilter,
            31 => UserRingbuf,
            n => Other(n),
        }
    }

    /// The Linux number.
    pub fn to_linux(self) -> u32 {
        use MapType::*;
        match self {
            Hash => 1,
            Array => 2,
            ProgArray => 3,
            PerfEventArray => 4,
            PercpuHash => 5,
            PercpuArray => 6,
            StackTrace => 7,
            CgroupArray => 8,
            LruHash => 9,
            LruPercpuHash => 10,
            LpmTrie => 11,
            ArrayOfMaps => 12,
            HashOfMaps => 13,
            Devmap => 14,
            Sockmap => 15,
            Cpumap => 16,
            Xskmap => 17,
            Sockhash => 18,
            Queue => 22,
            Stack => 23,
            DevmapHash => 25,
            Ringbuf => 27,
            BloomFilter => 30,
            UserRingbuf => 31,
            Other(n) => n,
        }
    }

    /// True for maps whose values programs may read and write through
    /// `bpf_map_lookup_elem`.
    pub fn has_plain_values(self) -> bool {
        use MapType::*;
        matches!(
            self,
            Hash | Array | PercpuHash | PercpuArray | LruHash | LruPercpuHash | LpmTrie | Other(_)
        )
    }

    /// True for maps whose values are other maps.
    pub fn is_map_of_maps(self) -> bool {
        matches!(self, MapType::ArrayOfMaps | MapType::HashOfMaps)
    }

    /// True for array-like maps whose values exist for every index (global data lives in
    /// those).
    pub fn is_array(self) -> bool {
        matches!(self, MapType::Array | MapType::PercpuArray)
    }
}

impl fmt::Display for MapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MapType::*;
        let s = match self {
            Hash => "hash",
            Array => "array",
            ProgArray => "prog_array",
            PerfEventArray => "perf_event_array",
            PercpuHash => "percpu_hash",
            PercpuArray => "percpu_array",
            StackTrace => "stack_trace",
            CgroupArray => "cgroup_array",
            LruHash => "lru_hash",
            LruPercpuHash => "lru_percpu_hash",
            LpmTrie => "lpm_trie",
            ArrayOfMaps => "array_of_maps",
            HashOfMaps => "hash_of_maps",
            Devmap => "devmap",
            Sockmap => "sockmap",
            Cpumap => "cpumap",
            Xskmap => "xskmap",
            Sockhash => "sockhash",
            Queue => "queue",
            Stack => "stack",
            DevmapHash => "devmap_hash",
            Ringbuf => "ringbuf",
            BloomFilter => "bloom_filter",
            UserRingbuf => "user_ringbuf",
            Other(n) => return write!(f, "map type {n}"),
        };
        f.write_str(s)
    }
}

/// `BPF_F_RDONLY_PROG`: programs may not write the map.
pub const F_RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_WRONLY_PROG`: programs may not read the map.
pub const F_WRONLY_PROG: u32 = 1 << 8;

/// A map as the verifier sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MapSpec {
    /// Name for messages (the object's map or section name).
    pub name: String,
    pub map_type: MapType,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// `BPF_F_*` map flags (`F_RDONLY_PROG`, ...).
    pub flags: u32,
    /// The file descriptor `lddw` instructions use for it (`BPF_PSEUDO_MAP_FD`), if any.
    pub fd: Option<i32>,
    /// Maps of maps: index (in the same map table) of a map shaped like the inner maps.
    pub inner: Option<u32>,
    /// Contents of a frozen read-only map (`.rodata`): loads at known offsets read these
    /// bytes as known values.
    #[serde(skip)]
    pub frozen: Option<Vec<u8>>,
}

impl MapSpec {
    /// A map with the given geometry and no flags.
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
            fd: None,
            inner: None,
            frozen: None,
        }
    }

    /// True when programs may not write its values.
    pub fn rdonly_prog(&self) -> bool {
        self.flags & F_RDONLY_PROG != 0
    }

    /// True when programs may not read its values.
    pub fn wronly_prog(&self) -> bool {
        self.flags & F_WRONLY_PROG != 0
    }
}
