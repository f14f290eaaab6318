//! BTF (`.BTF`) and BTF extension (`.BTF.ext`) readers.
//!
//! Why not aya-obj's: aya-obj 0.3 parses BTF, but keeps type access (`type_by_id`,
//! `string_at`, `resolve_type`, `type_size`) and the whole `.BTF.ext` parser crate-private,
//! and its `.BTF.ext` reader panics on malformed records (unchecked slicing, `unwrap` on
//! string offsets). The object loader needs map definitions, line info, function info and
//! CO-RE records from clang's BTF with errors instead of panics, so this module reads the
//! format itself (see `docs/DESIGN.md`). Only little-endian BTF is read: the object
//! loader rejects big-endian objects before it gets here.
//!
//! Layout facts (from the kernel's `Documentation/bpf/btf.rst`): a 24-byte header, a type
//! section of variable-length records (type ids count from 1; id 0 is `void`) and a string
//! section of NUL-terminated strings.

use std::fmt;
use thiserror::Error;

/// A BTF or BTF.ext decoding error: the byte offset inside the section and the cause.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("offset {offset}: {cause}")]
pub struct BtfError {
    /// Byte offset inside the section where the problem was found.
    pub offset: usize,
    pub cause: String,
}

fn err<T>(offset: usize, cause: impl Into<String>) -> Result<T, BtfError> {
    Err(BtfError {
        offset,
        cause: cause.into(),
    })
}

/// Little-endian reader over a byte slice with bounds-checked accesses.
#[derive(Clone, Copy)]
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u32_at(&self, off: usize) -> Result<u32, BtfError> {
        match off.checked_add(4).and_then(|end| self.data.get(off..end)) {
            Some(b) => Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            None => err(off, "truncated (needs 4 more bytes)"),
        }
    }
    fn u16_at(&self, off: usize) -> Result<u16, BtfError> {
        match off.checked_add(2).and_then(|end| self.data.get(off..end)) {
            Some(b) => Ok(u16::from_le_bytes([b[0], b[1]])),
            None => err(off, "truncated (needs 2 more bytes)"),
        }
    }
    fn u8_at(&self, off: usize) -> Result<u8, BtfError> {
        match self.data.get(off) {
            Some(b) => Ok(*b),
            None => err(off, "truncated (needs 1 more byte)"),
        }
    }
}

/// BTF type kinds (`BTF_KIND_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BtfKind {
    Int,
    Ptr,
    Array,
    Struct,
    Union,
    Enum,
    Fwd,
    Typedef,
    Volatile,
    Const,
    Restrict,
    Func,
    FuncProto,
    Var,
    DataSec,
    Float,
    DeclTag,
    TypeTag,
    Enum64,
}

impl BtfKind {
    fn from_u32(k: u32) -> Option<BtfKind> {
        Some(match k {
            1 => BtfKind::Int,
            2 => BtfKind::Ptr,
            3 => BtfKind::Array,
            4 => BtfKind::Struct,
            5 => BtfKind::Union,
            6 => BtfKind::Enum,
            7 => BtfKind::Fwd,
            8 => BtfKind::Typedef,
            9 => BtfKind::Volatile,
            10 => BtfKind::Const,
            11 => BtfKind::Restrict,
            12 => BtfKind::Func,
            13 => BtfKind::FuncProto,
            14 => BtfKind::Var,
            15 => BtfKind::DataSec,
            16 => BtfKind::Float,
            17 => BtfKind::DeclTag,
            18 => BtfKind::TypeTag,
            19 => BtfKind::Enum64,
            _ => return None,
        })
    }
}

/// A struct or union member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BtfMember {
    pub name_off: u32,
    pub type_id: u32,
    /// Bit offset (and, with the kind flag, bitfield size in the top 8 bits).
    pub offset: u32,
}

/// A `DATASEC` entry: a variable inside an ELF section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BtfVarSecInfo {
    pub type_id: u32,
    pub offset: u32,
    pub size: u32,
}

/// The kind-specific part of a BTF type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BtfTypeData {
    /// Kinds with nothing after the common header (PTR, FWD, TYPEDEF, VOLATILE, CONST,
    /// RESTRICT, FUNC, FLOAT, TYPE_TAG).
    None,
    /// INT: the encoding word (bits, offset, signedness).
    Int { encoding: u32 },
    /// ARRAY.
    Array {
        elem_type: u32,
        index_type: u32,
        nelems: u32,
    },
    /// STRUCT / UNION.
    Members(Vec<BtfMember>),
    /// ENUM / ENUM64: `(name offset, value)`.
    Enumerators(Vec<(u32, i64)>),
    /// FUNC_PROTO: `(name offset, type)` of each parameter.
    Params(Vec<(u32, u32)>),
    /// VAR: linkage (0 static, 1 global, 2 extern).
    Var { linkage: u32 },
    /// DATASEC.
    DataSec(Vec<BtfVarSecInfo>),
    /// DECL_TAG: the component index (-1 for the declaration itself).
    DeclTag { component_idx: i32 },
}

/// One BTF type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BtfType {
    pub name_off: u32,
    pub kind: BtfKind,
    /// Number of members / enumerators / parameters / entries; linkage for FUNC.
    pub vlen: u16,
    pub kind_flag: bool,
    /// Size in bytes (INT, ENUM, STRUCT, UNION, DATASEC, FLOAT, ENUM64) or the referenced
    /// type id (PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FUNC_PROTO return, VAR,
    /// DECL_TAG, TYPE_TAG).
    pub size_or_type: u32,
    pub data: BtfTypeData,
}

/// Parsed `.BTF` section.
#[derive(Clone, PartialEq, Eq)]
pub struct Btf {
    raw: Vec<u8>,
    /// Range of the string section inside `raw`.
    str_start: usize,
    str_len: usize,
    /// `types[0]` is type id 1.
    types: Vec<BtfType>,
    /// Byte offset of each type record in `raw`.
    type_offsets: Vec<usize>,
}

impl fmt::Debug for Btf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Btf")
            .field("bytes", &self.raw.len())
            .field("types", &self.types.len())
            .finish()
    }
}

/// Bound on type-chain walks (typedef -> const -> ...), as in the kernel.
const MAX_RESOLVE_DEPTH: usize = 32;
const BTF_MAGIC: u16 = 0xeb9f;

impl Btf {
    /// Parses a `.BTF` section (little-endian).
    pub fn parse(data: &[u8]) -> Result<Btf, BtfError> {
        let r = Reader { data };
        let magic = r.u16_at(0)?;
        if magic != BTF_MAGIC {
            return err(0, format!("bad magic 0x{magic:04x} (expected 0xeb9f)"));
        }
        let version = r.u8_at(2)?;
        if version != 1 {
            return err(2, format!("unsupported BTF version {version}"));
        }
        let hdr_len = r.u32_at(4)? as usize;
        if hdr_len < 24 {
            return err(
                4,
                format!("header length {hdr_len} is shorter than 24 bytes"),
            );
        }
        let type_off = r.u32_at(8)? as usize;
        let type_len = r.u32_at(12)? as usize;
        let str_off = r.u32_at(16)? as usize;
        let str_len = r.u32_at(20)? as usize;
        let range = |off: usize, len: usize, what: &str| -> Result<(usize, usize), BtfError> {
            let start = hdr_len.saturating_add(off);
            match start.checked_add(len) {
                Some(end) if end <= data.len() => Ok((start, end)),
                _ => err(
                    4,
                    format!(
                        "{what} section ({len} bytes at {start}) extends past the end of the \
                         {} bytes of BTF",
                        data.len()
                    ),
                ),
            }
        };
        let (t_start, t_end) = range(type_off, type_len, "type")?;
        let (s_start, s_end) = range(str_off, str_len, "string")?;
        if str_len > 0 && data[s_end - 1] != 0 {
            return err(s_end - 1, "string section is not NUL-terminated");
        }
        let mut types = Vec::new();
        let mut type_offsets = Vec::new();
        let mut off = t_start;
        let str_size = s_end - s_start;
        while off < t_end {
            let (ty, size) = parse_type(
                Reader {
                    data: &data[..t_end],
                },
                off,
            )?;
            // Every name must be inside the string section (the kernel checks the same).
            let bad = |n: u32| n as usize >= str_size.max(1);
            let names_ok = !bad(ty.name_off)
                && match &ty.data {
                    BtfTypeData::Members(m) => m.iter().all(|m| !bad(m.name_off)),
                    BtfTypeData::Enumerators(e) => e.iter().all(|e| !bad(e.0)),
                    BtfTypeData::Params(p) => p.iter().all(|p| !bad(p.0)),
                    _ => true,
                };
            if !names_ok {
                return err(
                    off,
                    format!(
                        "type {}: a name offset is outside the {str_size}-byte string section",
                        types.len() + 1
                    ),
                );
            }
            types.push(ty);
            type_offsets.push(off);
            off += size;
        }
        Ok(Btf {
            raw: data.to_vec(),
            str_start: s_start,
            str_len: s_end - s_start,
            types,
            type_offsets,
        })
    }

    /// The section bytes as they were in the object.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The BTF with every `DATASEC` laid out as the loader must before handing BTF to the
    /// kernel (clang leaves DATASEC sizes and variable offsets 0; the kernel rejects a
    /// DATASEC of size 0): `section_size(name)` gives each section's size and
    /// `var_offset(section, var)` each variable's offset (from the ELF symbol table).
    /// DATASECs of sections the object does not have are an error, as in libbpf.
    pub fn with_datasec_layout(
        &self,
        section_size: impl Fn(&str) -> Option<u32>,
        var_offset: impl Fn(&str, &str) -> Option<u32>,
    ) -> Result<Vec<u8>, String> {
        let mut out = self.raw.clone();
        let put = |out: &mut Vec<u8>, at: usize, v: u32| {
            if let Some(b) = out.get_mut(at..at + 4) {
                b.copy_from_slice(&v.to_le_bytes());
            }
        };
        for (i, t) in self.types.iter().enumerate() {
            let BtfTypeData::DataSec(entries) = &t.data else {
                continue;
            };
            let name = self.string_at(t.name_off).unwrap_or("");
            let Some(size) = section_size(name) else {
                return Err(format!(
                    "DATASEC `{name}` names a section the object does not have"
                ));
            };
            let base = self.type_offsets[i];
            put(&mut out, base + 8, size);
            for (k, e) in entries.iter().enumerate() {
                let var = self
                    .type_by_id(e.type_id)
                    .and_then(|v| self.string_at(v.name_off))
                    .unwrap_or("");
                let Some(off) = var_offset(name, var) else {
                    return Err(format!(
                        "variable `{var}` of DATASEC `{name}` has no symbol in the section"
                    ));
                };
                put(&mut out, base + 12 + k * 12 + 4, off);
            }
        }
        Ok(out)
    }

    /// Number of types (the largest valid type id).
    pub fn type_count(&self) -> u32 {
        self.types.len() as u32
    }

    /// The type with id `id` (`None` for 0, `void`, and for ids past the end).
    pub fn type_by_id(&self, id: u32) -> Option<&BtfType> {
        let idx = (id as usize).checked_sub(1)?;
        self.types.get(idx)
    }

    /// `(id, type)` for every type.
    pub fn types(&self) -> impl Iterator<Item = (u32, &BtfType)> + '_ {
        self.types
            .iter()
            .enumerate()
            .map(|(i, t)| (i as u32 + 1, t))
    }

    /// The string at `offset` in the string section (`None` when out of range or not
    /// UTF-8).
    pub fn string_at(&self, offset: u32) -> Option<&str> {
        let off = offset as usize;
        if off >= self.str_len {
            return None;
        }
        let bytes = &self.raw[self.str_start + off..self.str_start + self.str_len];
        let end = bytes.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&bytes[..end]).ok()
    }

    /// The name of type `id` (empty for anonymous types and `void`).
    pub fn type_name(&self, id: u32) -> &str {
        self.type_by_id(id)
            .and_then(|t| self.string_at(t.name_off))
            .unwrap_or("")
    }

    /// Follows TYPEDEF, VOLATILE, CONST, RESTRICT and TYPE_TAG to the underlying type id.
    pub fn skip_modifiers(&self, id: u32) -> Result<u32, String> {
        let mut id = id;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let Some(t) = self.type_by_id(id) else {
                return if id == 0 {
                    Ok(0)
                } else {
                    Err(format!("type id {id} does not exist"))
                };
            };
            match t.kind {
                BtfKind::Typedef
                | BtfKind::Volatile
                | BtfKind::Const
                | BtfKind::Restrict
                | BtfKind::TypeTag => id = t.size_or_type,
                _ => return Ok(id),
            }
        }
        Err(format!(
            "type id {id}: more than {MAX_RESOLVE_DEPTH} levels of modifiers"
        ))
    }

    /// Size in bytes of type `id`, as C `sizeof` gives it.
    pub fn size_of(&self, id: u32) -> Result<u64, String> {
        self.size_of_depth(id, 0)
    }

    fn size_of_depth(&self, id: u32, depth: usize) -> Result<u64, String> {
        if depth > MAX_RESOLVE_DEPTH {
            return Err(format!(
                "type id {id}: more than {MAX_RESOLVE_DEPTH} levels of nesting"
            ));
        }
        let id = self.skip_modifiers(id)?;
        let Some(t) = self.type_by_id(id) else {
            return Err("void has no size".to_string());
        };
        match t.kind {
            BtfKind::Int
            | BtfKind::Enum
            | BtfKind::Enum64
            | BtfKind::Struct
            | BtfKind::Union
            | BtfKind::DataSec
            | BtfKind::Float => Ok(t.size_or_type as u64),
            BtfKind::Ptr => Ok(8),
            BtfKind::Array => match t.data {
                BtfTypeData::Array {
                    elem_type, nelems, ..
                } => {
                    let elem = self.size_of_depth(elem_type, depth + 1)?;
                    elem.checked_mul(nelems as u64)
                        .ok_or_else(|| format!("type id {id}: array size overflows"))
                }
                _ => Err(format!("type id {id}: malformed array")),
            },
            BtfKind::Var => self.size_of_depth(t.size_or_type, depth + 1),
            k => Err(format!("type id {id} ({k:?}) has no size")),
        }
    }
}

fn parse_type(r: Reader<'_>, off: usize) -> Result<(BtfType, usize), BtfError> {
    let name_off = r.u32_at(off)?;
    let info = r.u32_at(off + 4)?;
    let size_or_type = r.u32_at(off + 8)?;
    let vlen = (info & 0xffff) as u16;
    let kind_raw = (info >> 24) & 0x1f;
    let kind_flag = info >> 31 == 1;
    let Some(kind) = BtfKind::from_u32(kind_raw) else {
        return err(off, format!("unknown BTF kind {kind_raw}"));
    };
    let body = off + 12;
    let n = vlen as usize;
    let (data, extra) = match kind {
        BtfKind::Int => (
            BtfTypeData::Int {
                encoding: r.u32_at(body)?,
            },
            4,
        ),
        BtfKind::Array => (
            BtfTypeData::Array {
                elem_type: r.u32_at(body)?,
                index_type: r.u32_at(body + 4)?,
                nelems: r.u32_at(body + 8)?,
            },
            12,
        ),
        BtfKind::Struct | BtfKind::Union => {
            let mut m = Vec::with_capacity(n.min(1024));
            for i in 0..n {
                let o = body + i * 12;
                m.push(BtfMember {
                    name_off: r.u32_at(o)?,
                    type_id: r.u32_at(o + 4)?,
                    offset: r.u32_at(o + 8)?,
                });
            }
            (BtfTypeData::Members(m), n * 12)
        }
        BtfKind::Enum => {
            let mut e = Vec::with_capacity(n.min(1024));
            for i in 0..n {
                let o = body + i * 8;
                let v = r.u32_at(o + 4)?;
                // kind_flag set: unsigned values.
                let v = if kind_flag { v as i64 } else { v as i32 as i64 };
                e.push((r.u32_at(o)?, v));
            }
            (BtfTypeData::Enumerators(e), n * 8)
        }
        BtfKind::Enum64 => {
            let mut e = Vec::with_capacity(n.min(1024));
            for i in 0..n {
                let o = body + i * 12;
                let lo = r.u32_at(o + 4)? as u64;
                let hi = r.u32_at(o + 8)? as u64;
                e.push((r.u32_at(o)?, ((hi << 32) | lo) as i64));
            }
            (BtfTypeData::Enumerators(e), n * 12)
        }
        BtfKind::FuncProto => {
            let mut p = Vec::with_capacity(n.min(1024));
            for i in 0..n {
                let o = body + i * 8;
                p.push((r.u32_at(o)?, r.u32_at(o + 4)?));
            }
            (BtfTypeData::Params(p), n * 8)
        }
        BtfKind::Var => (
            BtfTypeData::Var {
                linkage: r.u32_at(body)?,
            },
            4,
        ),
        BtfKind::DataSec => {
            let mut v = Vec::with_capacity(n.min(1024));
            for i in 0..n {
                let o = body + i * 12;
                v.push(BtfVarSecInfo {
                    type_id: r.u32_at(o)?,
                    offset: r.u32_at(o + 4)?,
                    size: r.u32_at(o + 8)?,
                });
            }
            (BtfTypeData::DataSec(v), n * 12)
        }
        BtfKind::DeclTag => (
            BtfTypeData::DeclTag {
                component_idx: r.u32_at(body)? as i32,
            },
            4,
        ),
        BtfKind::Ptr
        | BtfKind::Fwd
        | BtfKind::Typedef
        | BtfKind::Volatile
        | BtfKind::Const
        | BtfKind::Restrict
        | BtfKind::Func
        | BtfKind::Float
        | BtfKind::TypeTag => (BtfTypeData::None, 0),
    };
    Ok((
        BtfType {
            name_off,
            kind,
            vlen,
            kind_flag,
            size_or_type,
            data,
        },
        12 + extra,
    ))
}

/// A `.BTF.ext` function-info record, as found in the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawFuncInfo {
    /// Byte offset of the function inside its ELF section.
    pub insn_off: u32,
    pub type_id: u32,
}

/// A `.BTF.ext` line-info record, as found in the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawLineInfo {
    /// Byte offset of the instruction inside its ELF section.
    pub insn_off: u32,
    pub file_name_off: u32,
    pub line_off: u32,
    /// `line << 10 | column`.
    pub line_col: u32,
}

/// A `.BTF.ext` CO-RE relocation record (`struct bpf_core_relo`), as found in the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawCoreRelo {
    /// Byte offset of the instruction inside its ELF section.
    pub insn_off: u32,
    pub type_id: u32,
    pub access_str_off: u32,
    /// `enum bpf_core_relo_kind`.
    pub kind: u32,
}

/// Records of one kind for one ELF section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecRecords<T> {
    pub section: String,
    pub records: Vec<T>,
}

/// Parsed `.BTF.ext` section.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct BtfExt {
    pub func_info: Vec<SecRecords<RawFuncInfo>>,
    pub line_info: Vec<SecRecords<RawLineInfo>>,
    pub core_relos: Vec<SecRecords<RawCoreRelo>>,
}

impl BtfExt {
    /// Parses a `.BTF.ext` section; section names are resolved in `btf`'s strings.
    pub fn parse(data: &[u8], btf: &Btf) -> Result<BtfExt, BtfError> {
        let r = Reader { data };
        let magic = r.u16_at(0)?;
        if magic != BTF_MAGIC {
            return err(0, format!("bad magic 0x{magic:04x} (expected 0xeb9f)"));
        }
        let version = r.u8_at(2)?;
        if version != 1 {
            return err(2, format!("unsupported BTF.ext version {version}"));
        }
        let hdr_len = r.u32_at(4)? as usize;
        if hdr_len < 24 {
            return err(
                4,
                format!("header length {hdr_len} is shorter than 24 bytes"),
            );
        }
        if hdr_len > data.len() {
            return err(4, format!("header length {hdr_len} exceeds the section"));
        }
        let func = (r.u32_at(8)? as usize, r.u32_at(12)? as usize);
        let line = (r.u32_at(16)? as usize, r.u32_at(20)? as usize);
        let core = if hdr_len >= 32 {
            (r.u32_at(24)? as usize, r.u32_at(28)? as usize)
        } else {
            (0, 0)
        };
        let func_info = parse_info(r, hdr_len, func, 8, "func_info", btf, |r, o| {
            Ok(RawFuncInfo {
                insn_off: r.u32_at(o)?,
                type_id: r.u32_at(o + 4)?,
            })
        })?;
        let line_info = parse_info(r, hdr_len, line, 16, "line_info", btf, |r, o| {
            Ok(RawLineInfo {
                insn_off: r.u32_at(o)?,
                file_name_off: r.u32_at(o + 4)?,
                line_off: r.u32_at(o + 8)?,
                line_col: r.u32_at(o + 12)?,
            })
        })?;
        let core_relos = parse_info(r, hdr_len, core, 16, "core_relo", btf, |r, o| {
            Ok(RawCoreRelo {
                insn_off: r.u32_at(o)?,
                type_id: r.u32_at(o + 4)?,
                access_str_off: r.u32_at(o + 8)?,
                kind: r.u32_at(o + 12)?,
            })
        })?;
        Ok(BtfExt {
            func_info,
            line_info,
            core_relos,
        })
    }
}

fn parse_info<T>(
    r: Reader<'_>,
    hdr_len: usize,
    (off, len): (usize, usize),
    min_rec: usize,
    what: &str,
    btf: &Btf,
    read: impl Fn(Reader<'_>, usize) -> Result<T, BtfError>,
) -> Result<Vec<SecRecords<T>>, BtfError> {
    let mut out = Vec::new();
    if len == 0 {
        return Ok(out);
    }
    let start = hdr_len.saturating_add(off);
    let end = match start.checked_add(len) {
        Some(e) if e <= r.data.len() => e,
        _ => {
            return err(
                start,
                format!("{what} ({len} bytes at {start}) extends past the end of the section"),
            )
        }
    };
    let sub = Reader {
        data: &r.data[..end],
    };
    let rec_size = sub.u32_at(start)? as usize;
    if rec_size < min_rec {
        return err(
            start,
            format!("{what} record size {rec_size} is smaller than {min_rec}"),
        );
    }
    let mut o = start + 4;
    while o < end {
        let name_off = sub.u32_at(o)?;
        let num = sub.u32_at(o + 4)? as usize;
        let Some(section) = btf.string_at(name_off) else {
            return err(
                o,
                format!("{what}: section name offset {name_off} is not a valid BTF string"),
            );
        };
        o += 8;
        let bytes = num.checked_mul(rec_size);
        match bytes.and_then(|b| o.checked_add(b)) {
            Some(e) if e <= end => {}
            _ => {
                return err(
                    o,
                    format!(
                        "{what} for section `{section}`: {num} records of {rec_size} bytes \
                         extend past the end of the section"
                    ),
                )
            }
        }
        let mut records = Vec::with_capacity(num);
        for _ in 0..num {
            records.push(read(sub, o)?);
            o += rec_size;
        }
        out.push(SecRecords {
            section: section.to_string(),
            records,
        });
    }
    Ok(out)
}
