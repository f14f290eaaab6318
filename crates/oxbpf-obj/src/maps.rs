//! Map definitions: BTF-defined (`.maps`), legacy (`maps`) and global data (`.data`,
//! `.rodata`, `.bss` and their suffixed forms such as `.rodata.str1.1`).

use crate::btf::{Btf, BtfKind, BtfTypeData};

/// Linux `BPF_MAP_TYPE_*` ids.
pub mod map_type {
    pub const UNSPEC: u32 = 0;
    pub const HASH: u32 = 1;
    pub const ARRAY: u32 = 2;
    pub const PROG_ARRAY: u32 = 3;
    pub const PERF_EVENT_ARRAY: u32 = 4;
    pub const PERCPU_HASH: u32 = 5;
    pub const PERCPU_ARRAY: u32 = 6;
    pub const STACK_TRACE: u32 = 7;
    pub const CGROUP_ARRAY: u32 = 8;
    pub const LRU_HASH: u32 = 9;
    pub const LRU_PERCPU_HASH: u32 = 10;
    pub const LPM_TRIE: u32 = 11;
    pub const ARRAY_OF_MAPS: u32 = 12;
    pub const HASH_OF_MAPS: u32 = 13;
    pub const DEVMAP: u32 = 14;
    pub const SOCKMAP: u32 = 15;
    pub const CPUMAP: u32 = 16;
    pub const XSKMAP: u32 = 17;
    pub const SOCKHASH: u32 = 18;
    pub const CGROUP_STORAGE: u32 = 19;
    pub const REUSEPORT_SOCKARRAY: u32 = 20;
    pub const PERCPU_CGROUP_STORAGE: u32 = 21;
    pub const QUEUE: u32 = 22;
    pub const STACK: u32 = 23;
    pub const SK_STORAGE: u32 = 24;
    pub const DEVMAP_HASH: u32 = 25;
    pub const STRUCT_OPS: u32 = 26;
    pub const RINGBUF: u32 = 27;
    pub const INODE_STORAGE: u32 = 28;
    pub const TASK_STORAGE: u32 = 29;
    pub const BLOOM_FILTER: u32 = 30;
    pub const USER_RINGBUF: u32 = 31;
    pub const CGRP_STORAGE: u32 = 32;
    pub const ARENA: u32 = 33;

    const NAMES: [&str; 34] = [
        "unspec",
        "hash",
        "array",
        "prog_array",
        "perf_event_array",
        "percpu_hash",
        "percpu_array",
        "stack_trace",
        "cgroup_array",
        "lru_hash",
        "lru_percpu_hash",
        "lpm_trie",
        "array_of_maps",
        "hash_of_maps",
        "devmap",
        "sockmap",
        "cpumap",
        "xskmap",
        "sockhash",
        "cgroup_storage",
        "reuseport_sockarray",
        "percpu_cgroup_storage",
        "queue",
        "stack",
        "sk_storage",
        "devmap_hash",
        "struct_ops",
        "ringbuf",
        "inode_storage",
        "task_storage",
        "bloom_filter",
        "user_ringbuf",
        "cgrp_storage",
        "arena",
    ];

    /// The lower-case name bpftool uses for a map type (`hash`, `ringbuf`, ...).
    pub fn name(t: u32) -> Option<&'static str> {
        NAMES.get(t as usize).copied()
    }
}

/// `BPF_F_RDONLY_PROG`: the program may only read the map (set on `.rodata*` maps).
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;

/// Where a map definition came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapKind {
    /// A map declared by the program (`.maps` with BTF, or the legacy `maps` section).
    Regular,
    /// `.data*`: initialised, writable global variables.
    Data,
    /// `.rodata*`: constants and string literals (read-only to the program).
    Rodata,
    /// `.bss*`: zero-initialised global variables.
    Bss,
}

impl MapKind {
    /// True for the global-data kinds (`Data`, `Rodata`, `Bss`).
    pub fn is_global_data(self) -> bool {
        !matches!(self, MapKind::Regular)
    }
}

/// Pinning requested by the definition (`__uint(pinning, LIBBPF_PIN_BY_NAME)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Pinning {
    #[default]
    None,
    /// Pin in the bpffs directory under the map's name.
    ByName,
}

/// A variable in a global-data section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataSymbol {
    pub name: String,
    /// Byte offset inside the section (and the map value).
    pub offset: u32,
    pub size: u32,
}

/// One initial slot of a `PROG_ARRAY` or map-in-map (`.values = { [i] = &target }`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSlotInit {
    pub index: u32,
    /// Name of the program (prog arrays) or map (maps of maps).
    pub target: String,
}

/// A map the object defines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDef {
    /// Symbol name (`.maps`, `maps`) or section name (global data: `.data`, `.rodata`,
    /// `.bss`, `.rodata.str1.1`, ...). These are the names aya uses.
    pub name: String,
    /// The ELF section holding the definition or the data.
    pub section: String,
    pub kind: MapKind,
    /// `BPF_MAP_TYPE_*` ([`map_type`]).
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// `map_flags` (`BPF_F_*`).
    pub flags: u32,
    /// `map_extra` (bloom filter hash count, arena address, ...).
    pub map_extra: u64,
    pub pinning: Pinning,
    /// The inner map of a map-in-map definition (`__array(values, struct {...})`).
    pub inner: Option<Box<MapDef>>,
    /// BTF type of the key and value (0: none).
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    /// Initial value of a global-data map's single entry (zeros for `.bss`); `None` for
    /// regular maps.
    pub initial_data: Option<Vec<u8>>,
    /// Variables of a global-data map, by offset.
    pub symbols: Vec<DataSymbol>,
    /// Initial entries of a prog array or map of maps.
    pub init_slots: Vec<MapSlotInit>,
}

impl MapDef {
    pub(crate) fn empty(name: &str, section: &str, kind: MapKind) -> MapDef {
        MapDef {
            name: name.to_string(),
            section: section.to_string(),
            kind,
            map_type: map_type::UNSPEC,
            key_size: 0,
            value_size: 0,
            max_entries: 0,
            flags: 0,
            map_extra: 0,
            pinning: Pinning::None,
            inner: None,
            btf_key_type_id: 0,
            btf_value_type_id: 0,
            initial_data: None,
            symbols: Vec::new(),
            init_slots: Vec::new(),
        }
    }

    /// The global-data map for a `.data*` / `.rodata*` / `.bss*` section.
    pub(crate) fn global_data(section: &str, kind: MapKind, bytes: Vec<u8>) -> MapDef {
        let mut m = MapDef::empty(section, section, kind);
        m.map_type = map_type::ARRAY;
        m.key_size = 4;
        m.value_size = bytes.len() as u32;
        m.max_entries = 1;
        m.flags = if kind == MapKind::Rodata {
            BPF_F_RDONLY_PROG
        } else {
            0
        };
        m.initial_data = Some(bytes);
        m
    }
}

/// Global-data kind for a section name (`None`: not a global-data section).
pub(crate) fn data_kind(section: &str) -> Option<MapKind> {
    if section.starts_with(".rodata") {
        Some(MapKind::Rodata)
    } else if section.starts_with(".data") {
        Some(MapKind::Data)
    } else if section.starts_with(".bss") {
        Some(MapKind::Bss)
    } else {
        None
    }
}

/// Reads a legacy `struct bpf_map_def` (`type, key_size, value_size, max_entries,
/// map_flags[, id, pinning]`, each a `u32`).
pub(crate) fn parse_legacy(name: &str, section: &str, data: &[u8]) -> Result<MapDef, String> {
    if data.len() < 16 {
        return Err(format!(
            "definition is {} bytes; a legacy map definition has at least 16 (type, key_size, \
             value_size, max_entries)",
            data.len()
        ));
    }
    let field = |i: usize| -> u32 {
        data.get(i * 4..i * 4 + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .unwrap_or(0)
    };
    let mut m = MapDef::empty(name, section, MapKind::Regular);
    m.map_type = field(0);
    m.key_size = field(1);
    m.value_size = field(2);
    m.max_entries = field(3);
    m.flags = field(4);
    m.pinning = pinning(field(6))?;
    Ok(m)
}

fn pinning(v: u32) -> Result<Pinning, String> {
    match v {
        0 => Ok(Pinning::None),
        1 => Ok(Pinning::ByName),
        _ => Err(format!(
            "pinning {v} is not supported (0: none, 1: LIBBPF_PIN_BY_NAME)"
        )),
    }
}

/// A BTF-defined map as found in the `.maps` DATASEC.
pub(crate) struct BtfMapVar {
    pub def: MapDef,
    /// Size of the variable according to BTF (clang may leave it 0; the ELF symbol is
    /// authoritative).
    pub size: u32,
    /// Byte offset of the `values` member inside the variable, when present.
    pub values_offset: Option<u32>,
}

/// Reads every map of the `.maps` DATASEC in `btf`.
pub(crate) fn parse_btf_maps(btf: &Btf, section: &str) -> Result<Vec<BtfMapVar>, String> {
    let datasec = btf
        .types()
        .find(|(_, t)| t.kind == BtfKind::DataSec && btf.string_at(t.name_off) == Some(section));
    let Some((_, ds)) = datasec else {
        return Err(format!(
            "BTF has no DATASEC `{section}` describing the maps (compile with -g)"
        ));
    };
    let BtfTypeData::DataSec(entries) = &ds.data else {
        return Err(format!("BTF DATASEC `{section}` is malformed"));
    };
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let Some(var) = btf.type_by_id(e.type_id) else {
            return Err(format!(
                "DATASEC `{section}` entry refers to missing type id {}",
                e.type_id
            ));
        };
        if var.kind != BtfKind::Var {
            return Err(format!(
                "DATASEC `{section}` entry (type id {}) is a {:?}, expected a VAR",
                e.type_id, var.kind
            ));
        }
        let name = btf.string_at(var.name_off).unwrap_or("").to_string();
        if name.is_empty() {
            return Err(format!("DATASEC `{section}` has an unnamed map variable"));
        }
        let (def, values_offset) = parse_btf_map_struct(btf, &name, section, var.size_or_type, 0)
            .map_err(|e| format!("map `{name}`: {e}"))?;
        out.push(BtfMapVar {
            def,
            size: e.size,
            values_offset,
        });
    }
    Ok(out)
}

/// `__uint(name, N)` is `int (*name)[N]`: a pointer to an array of N elements.
/// `__ulong(name, N)` (64-bit values) is a member of an enum type whose only value is N.
fn map_field(btf: &Btf, type_id: u32, field: &str) -> Result<u64, String> {
    let ptr = btf.skip_modifiers(type_id)?;
    let t = btf
        .type_by_id(ptr)
        .ok_or_else(|| format!("field `{field}`: missing type id {ptr}"))?;
    if let BtfTypeData::Enumerators(e) = &t.data {
        if e.len() == 1 {
            return Ok(e[0].1 as u64);
        }
    }
    if t.kind != BtfKind::Ptr {
        return Err(format!(
            "field `{field}` must be declared with __uint() (a pointer to an array), found a \
             {:?}",
            t.kind
        ));
    }
    let target = btf.skip_modifiers(t.size_or_type)?;
    let Some(tt) = btf.type_by_id(target) else {
        return Err(format!("field `{field}`: missing type id {target}"));
    };
    match &tt.data {
        BtfTypeData::Array { nelems, .. } => Ok(*nelems as u64),
        BtfTypeData::Enumerators(e) if e.len() == 1 => Ok(e[0].1 as u64),
        _ => Err(format!(
            "field `{field}` must point to an array (__uint) or a one-value enum (__ulong), \
             found a {:?}",
            tt.kind
        )),
    }
}

fn u32_field(btf: &Btf, type_id: u32, field: &str) -> Result<u32, String> {
    let v = map_field(btf, type_id, field)?;
    u32::try_from(v).map_err(|_| format!("field `{field}` value {v} does not fit in 32 bits"))
}

/// Parses a map-definition struct. Returns the definition and the byte offset of its
/// `values` member.
fn parse_btf_map_struct(
    btf: &Btf,
    name: &str,
    section: &str,
    type_id: u32,
    depth: u32,
) -> Result<(MapDef, Option<u32>), String> {
    let sid = btf.skip_modifiers(type_id)?;
    let Some(st) = btf.type_by_id(sid) else {
        return Err(format!("missing type id {sid}"));
    };
    let BtfTypeData::Members(members) = &st.data else {
        return Err(format!(
            "definition must be a struct, found a {:?}",
            st.kind
        ));
    };
    if st.kind != BtfKind::Struct {
        return Err(format!(
            "definition must be a struct, found a {:?}",
            st.kind
        ));
    }
    let mut def = MapDef::empty(name, section, MapKind::Regular);
    let mut values_offset = None;
    let mut values_type = None;
    for m in members {
        let field = btf.string_at(m.name_off).unwrap_or("");
        match field {
            "type" => def.map_type = u32_field(btf, m.type_id, field)?,
            "max_entries" => def.max_entries = u32_field(btf, m.type_id, field)?,
            "map_flags" => def.flags = u32_field(btf, m.type_id, field)?,
            "map_extra" => def.map_extra = map_field(btf, m.type_id, field)?,
            "key_size" => def.key_size = u32_field(btf, m.type_id, field)?,
            "value_size" => def.value_size = u32_field(btf, m.type_id, field)?,
            "numa_node" => {
                u32_field(btf, m.type_id, field)?;
            }
            "pinning" => {
                if depth > 0 {
                    return Err("an inner map cannot be pinned".to_string());
                }
                def.pinning = pinning(u32_field(btf, m.type_id, field)?)?;
            }
            "key" | "value" => {
                let pid = btf.skip_modifiers(m.type_id)?;
                let p = btf
                    .type_by_id(pid)
                    .ok_or_else(|| format!("field `{field}`: missing type id {pid}"))?;
                if p.kind != BtfKind::Ptr {
                    return Err(format!(
                        "field `{field}` must be declared with __type() (a pointer), found a \
                         {:?}",
                        p.kind
                    ));
                }
                let size = btf
                    .size_of(p.size_or_type)
                    .map_err(|e| format!("field `{field}`: {e}"))?;
                let size = u32::try_from(size)
                    .map_err(|_| format!("field `{field}`: size {size} is too large"))?;
                if field == "key" {
                    def.key_size = size;
                    def.btf_key_type_id = p.size_or_type;
                } else {
                    def.value_size = size;
                    def.btf_value_type_id = p.size_or_type;
                }
            }
            "values" => {
                if depth > 0 {
                    return Err("maps of maps of maps are not supported".to_string());
                }
                values_offset = Some(m.offset / 8);
                values_type = Some(m.type_id);
            }
            other => {
                log::debug!("map `{name}`: ignoring unknown definition field `{other}`");
            }
        }
    }
    if let Some(vt) = values_type {
        // `__array(values, T)` is `T *values[]`: a zero-length array of pointers.
        let aid = btf.skip_modifiers(vt)?;
        let elem = match btf.type_by_id(aid).map(|t| &t.data) {
            Some(BtfTypeData::Array {
                elem_type, nelems, ..
            }) => {
                if *nelems != 0 {
                    return Err(format!(
                        "field `values` must be a zero-length array (__array), found {nelems} \
                         elements"
                    ));
                }
                *elem_type
            }
            _ => return Err("field `values` must be declared with __array()".to_string()),
        };
        let pid = btf.skip_modifiers(elem)?;
        let p = btf
            .type_by_id(pid)
            .filter(|t| t.kind == BtfKind::Ptr)
            .ok_or_else(|| "field `values` must be an array of pointers".to_string())?;
        let target = btf.skip_modifiers(p.size_or_type)?;
        let tk = btf.type_by_id(target).map(|t| t.kind);
        match def.map_type {
            map_type::ARRAY_OF_MAPS | map_type::HASH_OF_MAPS => {
                if tk != Some(BtfKind::Struct) {
                    return Err(
                        "field `values` of a map of maps must point to the inner map's \
                         definition struct"
                            .to_string(),
                    );
                }
                let (inner, _) = parse_btf_map_struct(btf, name, section, target, depth + 1)
                    .map_err(|e| format!("inner map: {e}"))?;
                def.inner = Some(Box::new(inner));
                if def.value_size == 0 {
                    def.value_size = 4;
                }
            }
            map_type::PROG_ARRAY => {
                if tk != Some(BtfKind::FuncProto) {
                    return Err(
                        "field `values` of a prog array must point to a function prototype"
                            .to_string(),
                    );
                }
                if def.value_size == 0 {
                    def.value_size = 4;
                }
            }
            t => {
                return Err(format!(
                    "field `values` is only allowed for prog arrays and maps of maps, not map \
                     type {t}"
                ))
            }
        }
        if def.key_size == 0 {
            def.key_size = 4;
        }
    }
    Ok((def, values_offset))
}
