//! The object model and the loader: ELF bytes -> [`Object`].
//!
//! The loader reads the ELF structure with `object`'s low-level ELF API (which checks every
//! offset and size), BTF with [`crate::btf`], and links each program the way libbpf does:
//! the program's own function first, then every function it calls (directly or through a
//! code-address `lddw`), each once and depth first (a callee, then its own callees, then
//! the caller's next callee), with `call` offsets rewritten for the new layout. The layout
//! is aya-obj's too (a test compares them), so slot numbers match the kernel's verifier
//! log for the same program loaded through aya or libbpf. Map
//! and global-data references become [`LoadImm64::MapIdx`] / [`LoadImm64::MapIdxValue`]
//! indexing [`Object::maps`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use object::elf;
use object::read::elf::{FileHeader, SectionHeader, Sym};
use object::{LittleEndian as LE, SymbolIndex};
use oxbpf_isa::{LoadImm64, Program, RawInsn, MAX_SLOTS};

use crate::btf::{Btf, BtfExt, RawCoreRelo, RawFuncInfo, RawLineInfo, SecRecords};
use crate::error::ObjError;
use crate::kind::ProgramKind;
use crate::maps::{self, DataSymbol, MapDef, MapKind, MapSlotInit};

/// A loaded eBPF object.
#[derive(Clone, Debug)]
pub struct Object {
    /// Every program, in ELF order (by section, then by offset).
    pub programs: Vec<ObjProgram>,
    /// Every map: regular maps and global data. `LoadImm64::MapIdx(i)` and
    /// `LoadImm64::MapIdxValue { idx: i, .. }` in the programs index this list. Order: ELF
    /// section order, then offset order inside `.maps` / `maps`.
    pub maps: Vec<MapDef>,
    /// Every function of every code section, before linking, in ELF order.
    pub functions: Vec<Function>,
    /// Contents of the `license` section; `"GPL"` when the object has none (as aya does).
    pub license: String,
    /// Contents of the `version` section (`None` when absent or `0xfffffffe`, "any").
    pub kernel_version: Option<u32>,
    /// The `.BTF` section, when present.
    pub btf: Option<Btf>,
    /// The `.BTF.ext` section, when present.
    pub btf_ext: Option<BtfExt>,
    elf: Arc<[u8]>,
}

/// A function of a code section, as it is in the ELF file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    pub section: String,
    /// Byte offset inside the section.
    pub offset: usize,
    /// Size in 8-byte slots.
    pub slots: usize,
    /// Global (`STB_GLOBAL`/`STB_WEAK`) rather than static.
    pub global: bool,
}

/// A program: its entry function with every function it calls linked in.
#[derive(Clone, Debug)]
pub struct ObjProgram {
    /// The entry function's symbol name (the name aya and libbpf use).
    pub name: String,
    /// The ELF section of the entry function (`.text` for BCC-style programs).
    pub section: String,
    pub kind: ProgramKind,
    /// The linked instructions: the entry function first, then its callees.
    pub insns: Program,
    /// Where each linked function is, in instruction order (the entry function first).
    pub functions: Vec<LinkedFunction>,
    /// Source lines from BTF line info, sorted by instruction (empty without `-g`).
    pub line_info: Vec<LineInfo>,
    /// BTF function info: one record per linked function (empty without BTF).
    pub func_info: Vec<FuncInfo>,
    /// CO-RE relocation records that apply to this program.
    pub core_relocations: Vec<CoreRelocation>,
}

/// A function inside a linked program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedFunction {
    pub name: String,
    /// Its ELF section.
    pub section: String,
    /// Byte offset of the function inside its ELF section.
    pub section_offset: usize,
    /// Index of its first instruction in [`ObjProgram::insns`].
    pub start: usize,
    /// Number of instructions (a `lddw` counts once).
    pub len: usize,
    /// First slot in the linked program.
    pub start_slot: usize,
    /// Number of 8-byte slots.
    pub slots: usize,
}

/// A source position for one instruction (from `.BTF.ext` line info).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineInfo {
    /// Instruction index in [`ObjProgram::insns`].
    pub insn: usize,
    /// Slot index in the linked program (the unit the kernel uses).
    pub slot: usize,
    /// The source file as clang recorded it (without a leading `./`).
    pub file: Arc<str>,
    pub line: u32,
    pub column: u32,
    /// The text of the source line, as clang recorded it.
    pub source: Arc<str>,
    /// Offsets of the file name and the line text in the BTF string section (what
    /// `BPF_PROG_LOAD` takes; see [`ObjProgram::btf_line_info_records`]).
    pub file_name_off: u32,
    pub line_off: u32,
}

/// BTF function info for one function of a linked program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncInfo {
    /// Instruction index in [`ObjProgram::insns`] of the function's first instruction.
    pub insn: usize,
    pub slot: usize,
    /// BTF id of the `FUNC` type.
    pub type_id: u32,
    pub name: String,
}

/// `enum bpf_core_relo_kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CoreRelocKind {
    FieldByteOffset,
    FieldByteSize,
    FieldExists,
    FieldSigned,
    FieldLshiftU64,
    FieldRshiftU64,
    TypeIdLocal,
    TypeIdTarget,
    TypeExists,
    TypeSize,
    EnumvalExists,
    EnumvalValue,
    TypeMatches,
    Unknown(u32),
}

impl CoreRelocKind {
    pub fn from_u32(v: u32) -> CoreRelocKind {
        use CoreRelocKind as K;
        match v {
            0 => K::FieldByteOffset,
            1 => K::FieldByteSize,
            2 => K::FieldExists,
            3 => K::FieldSigned,
            4 => K::FieldLshiftU64,
            5 => K::FieldRshiftU64,
            6 => K::TypeIdLocal,
            7 => K::TypeIdTarget,
            8 => K::TypeExists,
            9 => K::TypeSize,
            10 => K::EnumvalExists,
            11 => K::EnumvalValue,
            12 => K::TypeMatches,
            v => K::Unknown(v),
        }
    }
}

/// A CO-RE relocation (compile once, run everywhere): the instruction whose immediate or
/// offset must be adjusted to the running kernel's type layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreRelocation {
    /// Instruction index in [`ObjProgram::insns`].
    pub insn: usize,
    pub slot: usize,
    /// Local BTF type id of the root type.
    pub type_id: u32,
    pub type_name: String,
    /// Access string (`0:1:2`: member indices from the root type).
    pub access: String,
    pub kind: CoreRelocKind,
}

/// A map reference found in a program (see [`ObjProgram::map_references`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapReference {
    /// Instruction index of the `lddw`.
    pub insn: usize,
    /// Index into [`Object::maps`].
    pub map: usize,
    /// `Some(offset)` for a pointer into the map's value (global data).
    pub value_offset: Option<u32>,
}

impl ObjProgram {
    /// Every `lddw` that refers to a map of the object.
    pub fn map_references(&self) -> Vec<MapReference> {
        let mut out = Vec::new();
        for (i, _, insn) in self.insns.iter() {
            if let oxbpf_isa::Insn::LoadImm64 { value, .. } = insn {
                match *value {
                    LoadImm64::MapIdx(m) => out.push(MapReference {
                        insn: i,
                        map: m as usize,
                        value_offset: None,
                    }),
                    LoadImm64::MapIdxValue { idx, offset } => out.push(MapReference {
                        insn: i,
                        map: idx as usize,
                        value_offset: Some(offset),
                    }),
                    _ => {}
                }
            }
        }
        out
    }

    /// The source position of instruction `insn`: the last line-info record at or before
    /// it (clang emits one record per source-line change).
    pub fn line_for(&self, insn: usize) -> Option<&LineInfo> {
        let i = self.line_info.partition_point(|l| l.insn <= insn);
        i.checked_sub(1).map(|i| &self.line_info[i])
    }

    /// `Ok` when the program has no CO-RE relocations; otherwise an
    /// [`ObjError::Unsupported`] naming the first one. For engines without the target
    /// kernel's BTF, which would run the program with the compiled (local) layout.
    pub fn ensure_no_core_relocations(&self) -> Result<(), ObjError> {
        match self.core_relocations.first() {
            None => Ok(()),
            Some(r) => Err(ObjError::Unsupported {
                place: format!("program `{}`, instruction {}", self.name, r.insn),
                what: format!(
                    "CO-RE relocation ({:?} of `{}`, access {}) needs the target kernel's BTF",
                    r.kind, r.type_name, r.access
                ),
            }),
        }
    }

    /// `struct bpf_func_info` records (`insn_off` in slots, `type_id`; 8 bytes each,
    /// native endian) for `BPF_PROG_LOAD` with the object's BTF
    /// ([`Object::btf_for_kernel`]).
    pub fn btf_func_info_records(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.func_info.len() * 8);
        for f in &self.func_info {
            out.extend_from_slice(&(f.slot as u32).to_ne_bytes());
            out.extend_from_slice(&f.type_id.to_ne_bytes());
        }
        out
    }

    /// `struct bpf_line_info` records (`insn_off` in slots, file name and line offsets
    /// in the BTF strings, `line << 10 | column`; 16 bytes each, native endian) for
    /// `BPF_PROG_LOAD`.
    pub fn btf_line_info_records(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.line_info.len() * 16);
        for l in &self.line_info {
            out.extend_from_slice(&(l.slot as u32).to_ne_bytes());
            out.extend_from_slice(&l.file_name_off.to_ne_bytes());
            out.extend_from_slice(&l.line_off.to_ne_bytes());
            out.extend_from_slice(&((l.line << 10) | (l.column & 0x3ff)).to_ne_bytes());
        }
        out
    }

    /// The linked function containing instruction `insn`.
    pub fn function_at(&self, insn: usize) -> Option<&LinkedFunction> {
        self.functions
            .iter()
            .find(|f| insn >= f.start && insn < f.start + f.len)
    }
}

impl Object {
    /// Loads an object from its ELF bytes.
    pub fn parse(bytes: &[u8]) -> Result<Object, ObjError> {
        Loader::new(bytes)?.load()
    }

    /// The program named `name` (its entry function's symbol name).
    pub fn program(&self, name: &str) -> Option<&ObjProgram> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// The map named `name` and its index in [`Object::maps`].
    pub fn map(&self, name: &str) -> Option<(usize, &MapDef)> {
        self.maps.iter().enumerate().find(|(_, m)| m.name == name)
    }

    /// The ELF bytes the object was loaded from (for backends that re-read them, e.g.
    /// through aya).
    pub fn elf_bytes(&self) -> &[u8] {
        &self.elf
    }

    /// The object's BTF ready for `BPF_BTF_LOAD`: DATASEC sizes and variable offsets
    /// filled in from the ELF section and symbol tables, as libbpf and aya do before
    /// loading (clang leaves them 0 and the kernel rejects that). `None` without BTF.
    pub fn btf_for_kernel(&self) -> Option<Result<Vec<u8>, ObjError>> {
        let btf = self.btf.as_ref()?;
        Some(btf_for_kernel(btf, &self.elf).map_err(ObjError::Btf))
    }

    /// True when some program has CO-RE relocations (which need the target kernel's BTF).
    pub fn has_core_relocations(&self) -> bool {
        self.programs.iter().any(|p| !p.core_relocations.is_empty())
    }
}

/// Lays out the DATASECs of `btf` from the section and symbol tables of `elf` (which
/// `Object::parse` already validated).
fn btf_for_kernel(btf: &Btf, elf: &[u8]) -> Result<Vec<u8>, String> {
    let l = Loader::new(elf).map_err(|e| e.to_string())?;
    btf.with_datasec_layout(
        |name| {
            l.secs
                .iter()
                .find(|s| s.name == name)
                .and_then(|s| u32::try_from(s.size).ok())
        },
        |sec, var| {
            let si = l.secs.iter().position(|s| s.name == sec)?;
            l.syms
                .iter()
                .find(|s| s.section == Some(si) && s.name == var)
                .and_then(|s| u32::try_from(s.value).ok())
        },
    )
}

// ---------------------------------------------------------------------------------------
// Loader

type Hdr = elf::FileHeader64<LE>;

/// An `i128` offset as `i64`, saturating (no valid offset is anywhere near the bounds).
fn clamp(v: i128) -> i64 {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

const R_BPF_64_64: u32 = 1;
const R_BPF_64_32: u32 = 10;
const OP_CALL: u8 = opcode::JMP_CALL | opcode::CLS_JMP;
use oxbpf_isa::opcode::{
    self, LDDW as OP_LDDW, PSEUDO_CALL, PSEUDO_FUNC, PSEUDO_KFUNC_CALL, PSEUDO_MAP_IDX,
    PSEUDO_MAP_IDX_VALUE,
};
const KERNEL_VERSION_ANY: u32 = 0xffff_fffe;
/// Largest global-data section accepted (64 MiB). Its bytes are copied into the map
/// definition, so a hostile `.bss` size must not become an allocation; Linux itself
/// refuses array values above `KMALLOC_MAX_SIZE` (4 MiB on x86-64).
pub const MAX_GLOBAL_DATA: u64 = 64 << 20;

struct Sec<'a> {
    name: String,
    sh_type: u32,
    flags: u64,
    size: u64,
    /// Empty for `SHT_NOBITS`.
    data: &'a [u8],
}

impl Sec<'_> {
    fn is_code(&self) -> bool {
        self.sh_type == elf::SHT_PROGBITS
            && self.flags & u64::from(elf::SHF_EXECINSTR) != 0
            && self.size > 0
    }
}

#[derive(Clone)]
struct SymInfo {
    name: String,
    section: Option<usize>,
    value: u64,
    size: u64,
    st_type: u8,
    global: bool,
}

impl SymInfo {
    fn display(&self, secs: &[Sec<'_>]) -> String {
        if !self.name.is_empty() {
            return self.name.clone();
        }
        match self.section.and_then(|s| secs.get(s)) {
            Some(s) => s.name.clone(),
            None => "<unnamed>".to_string(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fixup {
    Call(usize),
    FuncAddr(usize),
    Map(u32),
    MapValue(u32, u32),
}

struct Func {
    name: String,
    section: usize,
    offset: usize,
    global: bool,
    raw: Vec<RawInsn>,
    /// `(slot inside the function, fixup)`, sorted by slot.
    fixups: Vec<(usize, Fixup)>,
}

/// Where maps live inside one section.
enum SecMaps {
    /// A global-data section: the map index.
    Data(usize),
    /// `.maps` / `maps`: `(offset, size, map index)` of each definition.
    Defs(Vec<(u64, u64, usize)>),
}

struct Reloc {
    sym: usize,
    r_type: u32,
}

struct Loader<'a> {
    bytes: &'a [u8],
    secs: Vec<Sec<'a>>,
    syms: Vec<SymInfo>,
    /// Relocations per target section: byte offset -> relocation.
    relocs: HashMap<usize, BTreeMap<u64, Reloc>>,
}

/// Checks the symbol of a relocation against code, as libbpf and aya-obj read it: a
/// function symbol (the callee itself; clang puts `fn_imm` in the instruction: -1 for a
/// call, 0 for a code address) or a section symbol (the immediate locates the callee
/// inside the section). aya-obj panics on other symbol types (it has no branch for them) and ignores the
/// immediate of a function symbol, so anything else would link differently there.
fn code_symbol(sym: &SymInfo, sname: &str, imm: i32, fn_imm: i32) -> Result<(), String> {
    match sym.st_type {
        elf::STT_SECTION => Ok(()),
        elf::STT_FUNC if imm == fn_imm => Ok(()),
        elf::STT_FUNC => Err(format!(
            "relocation against function `{sname}` with immediate {imm} (expected {fn_imm}: \
             a function symbol names the function itself)"
        )),
        t => Err(format!(
            "relocation against `{sname}`, a symbol of type {t} in a code section (expected \
             a function or section symbol)"
        )),
    }
}

/// An object without its programs (see [`Loader::parts`]).
struct Parts {
    license: String,
    kernel_version: Option<u32>,
    btf: Option<Btf>,
    btf_ext: Option<BtfExt>,
    maps: Vec<MapDef>,
    funcs: Vec<Func>,
}

/// The structural checks of [`Object::parse`] without program kinds and decoding (see
/// [`crate::aya_compat::check_for_aya`]).
pub(crate) fn check_structure(bytes: &[u8]) -> Result<(), ObjError> {
    Loader::new(bytes)?.parts().map(|_| ())
}

fn elf_err(e: object::read::Error) -> ObjError {
    ObjError::Elf(e.to_string())
}

impl<'a> Loader<'a> {
    fn new(bytes: &'a [u8]) -> Result<Loader<'a>, ObjError> {
        if bytes.len() < 16 || &bytes[..4] != b"\x7fELF" {
            return Err(ObjError::Elf("no ELF magic number".to_string()));
        }
        if bytes[4] != elf::ELFCLASS64 {
            return Err(ObjError::NotBpf(
                "32-bit ELF file (eBPF objects are 64-bit)".to_string(),
            ));
        }
        if bytes[5] != elf::ELFDATA2LSB {
            return Err(ObjError::NotBpf(
                "big-endian ELF file (only little-endian eBPF objects are supported)".to_string(),
            ));
        }
        let hdr = Hdr::parse(bytes).map_err(elf_err)?;
        let endian = hdr.endian().map_err(elf_err)?;
        let machine = hdr.e_machine(endian);
        if machine != elf::EM_BPF {
            return Err(ObjError::NotBpf(format!(
                "ELF machine is {machine}, not eBPF ({})",
                elf::EM_BPF
            )));
        }
        let e_type = hdr.e_type(endian);
        if e_type != elf::ET_REL {
            return Err(ObjError::NotBpf(format!(
                "ELF type is {e_type}, not a relocatable object (ET_REL)"
            )));
        }
        let table = hdr.sections(endian, bytes).map_err(elf_err)?;
        let mut secs = Vec::with_capacity(table.len());
        for (i, sh) in table.enumerate() {
            let name = table
                .section_name(endian, sh)
                .map_err(|e| ObjError::Elf(format!("section {}: name: {e}", i.0)))?;
            let name = std::str::from_utf8(name)
                .map_err(|_| ObjError::Elf(format!("section {}: name is not UTF-8", i.0)))?
                .to_string();
            let sh_type = sh.sh_type(endian);
            let data = if sh_type == elf::SHT_NOBITS {
                &[][..]
            } else {
                sh.data(endian, bytes)
                    .map_err(|e| ObjError::section(&name, format!("data: {e}")))?
            };
            let addr = sh.sh_addr(endian);
            if addr != 0 && sh.sh_flags(endian) & u64::from(elf::SHF_EXECINSTR) != 0 {
                return Err(ObjError::section(
                    &name,
                    format!("has address {addr:#x}; code in a relocatable object is at 0"),
                ));
            }
            secs.push(Sec {
                name,
                sh_type,
                flags: sh.sh_flags(endian),
                size: sh.sh_size(endian),
                data,
            });
        }
        let symtab = table
            .symbols(endian, bytes, elf::SHT_SYMTAB)
            .map_err(|e| ObjError::Elf(format!("symbol table: {e}")))?;
        let mut syms = Vec::with_capacity(symtab.len());
        for (i, sym) in symtab.enumerate() {
            let name = symtab
                .symbol_name(endian, sym)
                .map_err(|e| ObjError::Elf(format!("symbol {}: name: {e}", i.0)))?;
            let name = std::str::from_utf8(name)
                .map_err(|_| ObjError::Elf(format!("symbol {}: name is not UTF-8", i.0)))?
                .to_string();
            let section = symtab
                .symbol_section(endian, sym, SymbolIndex(i.0))
                .map_err(|e| ObjError::Symbol {
                    symbol: name.clone(),
                    cause: e.to_string(),
                })?
                .map(|s| s.0);
            if let Some(s) = section {
                if s >= secs.len() {
                    return Err(ObjError::Symbol {
                        symbol: name,
                        cause: format!("section index {s} does not exist"),
                    });
                }
            }
            let bind = sym.st_bind();
            syms.push(SymInfo {
                name,
                section,
                value: sym.st_value(endian),
                size: sym.st_size(endian),
                st_type: sym.st_type(),
                global: bind == elf::STB_GLOBAL || bind == elf::STB_WEAK,
            });
        }
        let mut relocs: HashMap<usize, BTreeMap<u64, Reloc>> = HashMap::new();
        for (i, sh) in table.enumerate() {
            let rel_name = &secs[i.0].name;
            if sh.sh_type(endian) == elf::SHT_RELA {
                let target = sh.sh_info(endian) as usize;
                if secs.get(target).is_some_and(|s| s.is_code()) {
                    return Err(ObjError::Unsupported {
                        place: format!("section `{rel_name}`"),
                        what: "RELA relocations against code (eBPF objects use REL)".to_string(),
                    });
                }
                continue;
            }
            let Some((rels, link)) = sh
                .rel(endian, bytes)
                .map_err(|e| ObjError::section(rel_name, e.to_string()))?
            else {
                continue;
            };
            if link.0 != symtab.section().0 {
                return Err(ObjError::section(
                    rel_name,
                    format!("links to section {}, not the symbol table", link.0),
                ));
            }
            let target = sh.sh_info(endian) as usize;
            let Some(tsec) = secs.get(target) else {
                return Err(ObjError::section(
                    rel_name,
                    format!("applies to section {target}, which does not exist"),
                ));
            };
            let tname = tsec.name.clone();
            let map = relocs.entry(target).or_default();
            for r in rels {
                let offset = r.r_offset.get(endian);
                let sym = r.r_sym(endian) as usize;
                if sym == 0 || sym >= syms.len() {
                    return Err(ObjError::Section {
                        section: tname,
                        cause: format!(
                            "relocation at byte offset {offset} refers to symbol index {sym}, \
                             which does not exist"
                        ),
                    });
                }
                let r_type = r.r_type(endian);
                if map.insert(offset, Reloc { sym, r_type }).is_some() {
                    return Err(ObjError::Section {
                        section: tname,
                        cause: format!("two relocations at byte offset {offset}"),
                    });
                }
            }
        }
        Ok(Loader {
            bytes,
            secs,
            syms,
            relocs,
        })
    }

    /// Everything but the programs: the checks [`crate::aya_compat::check_for_aya`] runs.
    fn parts(&self) -> Result<Parts, ObjError> {
        let license = self.license()?;
        let kernel_version = self.kernel_version()?;
        let btf = match self.sec_by_name(".BTF") {
            Some(i) => {
                Some(Btf::parse(self.secs[i].data).map_err(|e| ObjError::Btf(e.to_string()))?)
            }
            None => None,
        };
        let btf_ext = match (self.sec_by_name(".BTF.ext"), &btf) {
            (Some(i), Some(btf)) => Some(
                BtfExt::parse(self.secs[i].data, btf)
                    .map_err(|e| ObjError::BtfExt(e.to_string()))?,
            ),
            (Some(_), None) => {
                return Err(ObjError::BtfExt(
                    "present without a `.BTF` section".to_string(),
                ))
            }
            (None, _) => None,
        };
        let (mut maps, sec_maps, maps_values) = self.maps(btf.as_ref())?;
        let funcs = self.functions()?;
        let funcs = self.resolve(funcs, &maps, &sec_maps)?;
        self.map_init_slots(&mut maps, &sec_maps, &maps_values)?;
        Ok(Parts {
            license,
            kernel_version,
            btf,
            btf_ext,
            maps,
            funcs,
        })
    }

    fn load(self) -> Result<Object, ObjError> {
        let Parts {
            license,
            kernel_version,
            btf,
            btf_ext,
            maps,
            funcs,
        } = self.parts()?;

        // Programs: every function of a non-.text code section, and every .text function
        // that nothing calls.
        let mut called = HashSet::new();
        for f in &funcs {
            for (_, fx) in &f.fixups {
                if let Fixup::Call(c) | Fixup::FuncAddr(c) = fx {
                    called.insert(*c);
                }
            }
        }
        let mut lines = LineCtx::new(btf.as_ref(), btf_ext.as_ref());
        let mut programs = Vec::new();
        for (fid, f) in funcs.iter().enumerate() {
            let sec = &self.secs[f.section].name;
            let is_text = sec == ".text" || sec.starts_with(".text.");
            if is_text && called.contains(&fid) {
                continue;
            }
            let kind = ProgramKind::from_section(sec).map_err(|e| ObjError::section(sec, e))?;
            programs.push(self.link(&funcs, fid, kind, &mut lines)?);
        }
        let functions = funcs
            .iter()
            .map(|f| Function {
                name: f.name.clone(),
                section: self.secs[f.section].name.clone(),
                offset: f.offset,
                slots: f.raw.len(),
                global: f.global,
            })
            .collect();
        Ok(Object {
            programs,
            maps,
            functions,
            license,
            kernel_version,
            btf,
            btf_ext,
            elf: Arc::from(self.bytes),
        })
    }

    fn sec_by_name(&self, name: &str) -> Option<usize> {
        self.secs.iter().position(|s| s.name == name)
    }

    fn license(&self) -> Result<String, ObjError> {
        let Some(i) = self.sec_by_name("license") else {
            return Ok("GPL".to_string());
        };
        let data = self.secs[i].data;
        let Some(end) = data.iter().position(|&b| b == 0) else {
            return Err(ObjError::section(
                "license",
                "license string is not NUL-terminated",
            ));
        };
        std::str::from_utf8(&data[..end])
            .map(str::to_string)
            .map_err(|_| ObjError::section("license", "license string is not UTF-8"))
    }

    fn kernel_version(&self) -> Result<Option<u32>, ObjError> {
        let Some(i) = self.sec_by_name("version") else {
            return Ok(None);
        };
        let data = self.secs[i].data;
        let Ok(b) = <[u8; 4]>::try_from(data) else {
            return Err(ObjError::section(
                "version",
                format!("is {} bytes, expected a 4-byte kernel version", data.len()),
            ));
        };
        let v = u32::from_le_bytes(b);
        Ok(if v == KERNEL_VERSION_ANY {
            None
        } else {
            Some(v)
        })
    }

    /// Symbols defined in section `sec` that name objects (maps, variables), by offset.
    fn object_symbols(&self, sec: usize) -> Vec<&SymInfo> {
        let mut v: Vec<&SymInfo> = self
            .syms
            .iter()
            .filter(|s| {
                s.section == Some(sec)
                    && !s.name.is_empty()
                    && (s.st_type == elf::STT_OBJECT || s.st_type == elf::STT_NOTYPE)
            })
            .collect();
        v.sort_by_key(|s| s.value);
        v
    }

    #[allow(clippy::type_complexity)]
    fn maps(
        &self,
        btf: Option<&Btf>,
    ) -> Result<(Vec<MapDef>, HashMap<usize, SecMaps>, HashMap<usize, u32>), ObjError> {
        let mut maps: Vec<MapDef> = Vec::new();
        let mut sec_maps = HashMap::new();
        // map index -> byte offset of `values` within `.maps`.
        let mut values_offsets = HashMap::new();
        for (si, sec) in self.secs.iter().enumerate() {
            let name = sec.name.as_str();
            if name == ".maps" {
                let Some(btf) = btf else {
                    return Err(ObjError::section(
                        name,
                        "BTF-defined maps need a `.BTF` section (compile with -g)",
                    ));
                };
                let vars =
                    maps::parse_btf_maps(btf, name).map_err(|e| ObjError::section(name, e))?;
                let syms = self.object_symbols(si);
                // (offset, size, definition, `values` offset)
                let mut found = Vec::with_capacity(vars.len());
                for v in vars {
                    let Some(sym) = syms.iter().find(|s| s.name == v.def.name) else {
                        return Err(ObjError::Map {
                            map: v.def.name.clone(),
                            cause: format!("no symbol in section `{name}` for this BTF variable"),
                        });
                    };
                    // clang leaves DATASEC offsets to the loader (libbpf fixes them up from
                    // the symbol table), so the symbol gives the place.
                    let size = if sym.size > 0 {
                        sym.size
                    } else {
                        v.size as u64
                    };
                    found.push((sym.value, size.max(1), v.def, v.values_offset));
                }
                // Offset order: the order of the definitions in the section.
                found.sort_by_key(|f| f.0);
                let mut defs = Vec::with_capacity(found.len());
                for (offset, size, def, values) in found {
                    if let Some(vo) = values {
                        values_offsets.insert(maps.len(), vo);
                    }
                    defs.push((offset, size, maps.len()));
                    maps.push(def);
                }
                sec_maps.insert(si, SecMaps::Defs(defs));
            } else if name == "maps" || name.starts_with("maps/") {
                let syms = self.object_symbols(si);
                if syms.is_empty() {
                    return Err(ObjError::section(name, "legacy map section has no symbols"));
                }
                let mut defs = Vec::with_capacity(syms.len());
                let count = syms.len() as u64;
                for s in syms {
                    let size = if s.size > 0 { s.size } else { sec.size / count };
                    let data = s
                        .value
                        .checked_add(size)
                        .and_then(|end| sec.data.get(s.value as usize..end as usize))
                        .ok_or_else(|| ObjError::Map {
                            map: s.name.clone(),
                            cause: format!(
                                "definition at offset {} ({size} bytes) is outside section \
                                 `{name}`",
                                s.value
                            ),
                        })?;
                    let def =
                        maps::parse_legacy(&s.name, name, data).map_err(|cause| ObjError::Map {
                            map: s.name.clone(),
                            cause,
                        })?;
                    defs.push((s.value, size.max(1), maps.len()));
                    maps.push(def);
                }
                sec_maps.insert(si, SecMaps::Defs(defs));
            } else if let Some(kind) = maps::data_kind(name) {
                if sec.flags & u64::from(elf::SHF_ALLOC) == 0
                    || !(sec.sh_type == elf::SHT_PROGBITS || sec.sh_type == elf::SHT_NOBITS)
                    || sec.size == 0
                {
                    continue;
                }
                if sec.size > MAX_GLOBAL_DATA {
                    return Err(ObjError::section(
                        name,
                        format!(
                            "{} bytes of global data is more than the limit of {MAX_GLOBAL_DATA} \
                             bytes",
                            sec.size
                        ),
                    ));
                }
                let size = sec.size as u32;
                let bytes = if kind == MapKind::Bss || sec.sh_type == elf::SHT_NOBITS {
                    vec![0; size as usize]
                } else {
                    sec.data.to_vec()
                };
                let mut def = MapDef::global_data(name, kind, bytes);
                let mut symbols = Vec::new();
                for s in self.object_symbols(si) {
                    if s.value.saturating_add(s.size) > sec.size {
                        return Err(ObjError::Symbol {
                            symbol: s.name.clone(),
                            cause: format!(
                                "{} bytes at offset {} extend past the end of section `{name}` \
                                 ({} bytes)",
                                s.size, s.value, sec.size
                            ),
                        });
                    }
                    symbols.push(DataSymbol {
                        name: s.name.clone(),
                        offset: s.value as u32,
                        size: s.size as u32,
                    });
                }
                def.symbols = symbols;
                if let Some(btf) = btf {
                    if let Some((id, _)) = btf.types().find(|(_, t)| {
                        t.kind == crate::btf::BtfKind::DataSec
                            && btf.string_at(t.name_off) == Some(name)
                    }) {
                        def.btf_value_type_id = id;
                    }
                }
                sec_maps.insert(si, SecMaps::Data(maps.len()));
                maps.push(def);
            }
        }
        let mut seen = HashSet::new();
        for m in &maps {
            if !seen.insert(m.name.as_str()) {
                return Err(ObjError::Map {
                    map: m.name.clone(),
                    cause: "defined twice".to_string(),
                });
            }
        }
        Ok((maps, sec_maps, values_offsets))
    }

    /// Initial slots of prog arrays and maps of maps, from the relocations of `.maps`.
    fn map_init_slots(
        &self,
        maps: &mut [MapDef],
        sec_maps: &HashMap<usize, SecMaps>,
        values_offsets: &HashMap<usize, u32>,
    ) -> Result<(), ObjError> {
        for (si, sm) in sec_maps {
            let SecMaps::Defs(defs) = sm else { continue };
            let Some(rels) = self.relocs.get(si) else {
                continue;
            };
            let sname = &self.secs[*si].name;
            for (&off, r) in rels {
                let Some(&(moff, _, mi)) = defs
                    .iter()
                    .find(|(o, s, _)| off >= *o && off < o.saturating_add(*s))
                else {
                    return Err(ObjError::section(
                        sname,
                        format!("relocation at byte offset {off} is outside every map"),
                    ));
                };
                let map_name = maps[mi].name.clone();
                let Some(&vo) = values_offsets.get(&mi) else {
                    return Err(ObjError::Map {
                        map: map_name,
                        cause: format!(
                            "relocation at byte offset {off} of `{sname}` but the map has no \
                             `values` field"
                        ),
                    });
                };
                let rel = off - moff;
                if rel < vo as u64 || !(rel - vo as u64).is_multiple_of(8) {
                    return Err(ObjError::Map {
                        map: map_name,
                        cause: format!(
                            "relocation at byte offset {off} of `{sname}` is not a `values` slot"
                        ),
                    });
                }
                let index = ((rel - vo as u64) / 8) as u32;
                let sym = &self.syms[r.sym];
                let target = sym.display(&self.secs);
                let is_prog_array = maps[mi].map_type == maps::map_type::PROG_ARRAY;
                let target_is_code = sym
                    .section
                    .and_then(|s| self.secs.get(s))
                    .is_some_and(|s| s.is_code());
                if is_prog_array != target_is_code {
                    return Err(ObjError::Map {
                        map: map_name,
                        cause: format!(
                            "slot {index} refers to `{target}`, which is not a {}",
                            if is_prog_array { "program" } else { "map" }
                        ),
                    });
                }
                maps[mi].init_slots.push(MapSlotInit { index, target });
            }
        }
        for m in maps.iter_mut() {
            m.init_slots.sort_by_key(|s| s.index);
        }
        Ok(())
    }

    /// Splits every code section into its functions.
    fn functions(&self) -> Result<Vec<Func>, ObjError> {
        let mut funcs = Vec::new();
        for (si, sec) in self.secs.iter().enumerate() {
            if !sec.is_code() {
                continue;
            }
            let name = &sec.name;
            if sec.size % 8 != 0 {
                return Err(ObjError::section(
                    name,
                    format!("{} bytes is not a whole number of instructions", sec.size),
                ));
            }
            let mut syms: Vec<&SymInfo> = self
                .syms
                .iter()
                .filter(|s| s.section == Some(si) && s.st_type == elf::STT_FUNC)
                .collect();
            syms.sort_by_key(|s| s.value);
            if syms.is_empty() {
                return Err(ObjError::section(
                    name,
                    "contains code but no function symbol",
                ));
            }
            let mut end = 0u64;
            for s in syms {
                let what = format!("function `{}`", s.name);
                if s.size == 0 {
                    return Err(ObjError::section(name, format!("{what} has size 0")));
                }
                if s.value % 8 != 0 || s.size % 8 != 0 {
                    return Err(ObjError::section(
                        name,
                        format!(
                            "{what} (offset {}, {} bytes) is not instruction-aligned",
                            s.value, s.size
                        ),
                    ));
                }
                let fend = s.value.saturating_add(s.size);
                if fend > sec.data.len() as u64 {
                    return Err(ObjError::section(
                        name,
                        format!(
                            "{what} (offset {}, {} bytes) extends past the end of the section",
                            s.value, s.size
                        ),
                    ));
                }
                if s.value < end {
                    return Err(ObjError::section(
                        name,
                        format!(
                            "{what} at offset {} overlaps the previous function",
                            s.value
                        ),
                    ));
                }
                end = fend;
                let bytes = &sec.data[s.value as usize..fend as usize];
                let raw = oxbpf_isa::raw::slots(bytes).unwrap_or_default();
                funcs.push(Func {
                    name: s.name.clone(),
                    section: si,
                    offset: s.value as usize,
                    global: s.global,
                    raw,
                    fixups: Vec::new(),
                });
            }
        }
        Ok(funcs)
    }

    /// Finds the function starting at byte `offset` of section `sec` (`funcs` is sorted by
    /// section, then offset).
    fn func_at(funcs: &[Func], sec: usize, offset: i64) -> Option<usize> {
        funcs
            .binary_search_by(|f| (f.section as i64, f.offset as i64).cmp(&(sec as i64, offset)))
            .ok()
    }

    /// Finds the function of section `sec` whose bytes contain `offset`.
    fn func_containing(funcs: &[Func], sec: usize, offset: u64) -> Option<usize> {
        let i = funcs
            .partition_point(|f| (f.section, f.offset as u64) <= (sec, offset))
            .checked_sub(1)?;
        let f = &funcs[i];
        (f.section == sec && offset < (f.offset + f.raw.len() * 8) as u64).then_some(i)
    }

    /// Turns relocations and pc-relative calls into fixups.
    fn resolve(
        &self,
        mut funcs: Vec<Func>,
        maps: &[MapDef],
        sec_maps: &HashMap<usize, SecMaps>,
    ) -> Result<Vec<Func>, ObjError> {
        // Relocations of each code section, checked to fall inside a function.
        let mut all = Vec::new();
        for (si, sec) in self.secs.iter().enumerate() {
            if !sec.is_code() {
                continue;
            }
            let Some(rels) = self.relocs.get(&si) else {
                continue;
            };
            for (&off, r) in rels {
                if off % 8 != 0 {
                    return Err(ObjError::insn(
                        &sec.name,
                        (off / 8) as usize,
                        format!("relocation at byte offset {off} is not instruction-aligned"),
                    ));
                }
                let Some(fid) = Self::func_containing(&funcs, si, off) else {
                    return Err(ObjError::insn(
                        &sec.name,
                        (off / 8) as usize,
                        "relocation outside every function",
                    ));
                };
                all.push((fid, ((off as usize) - funcs[fid].offset) / 8, r));
            }
        }
        let mut fixups: Vec<Vec<(usize, Fixup)>> = vec![Vec::new(); funcs.len()];
        let mut relocated: HashSet<(usize, usize)> = HashSet::new();
        for (fid, slot, r) in all {
            let fx = self.relocation(&funcs, fid, slot, r, maps, sec_maps)?;
            fixups[fid].push((slot, fx));
            relocated.insert((fid, slot));
        }
        // pc-relative calls inside one section (static callees clang resolved itself).
        for (fid, f) in funcs.iter().enumerate() {
            let sec = &self.secs[f.section].name;
            for (slot, ins) in f.raw.iter().enumerate() {
                let pseudo_call = ins.opcode == OP_CALL && ins.src == PSEUDO_CALL;
                let pseudo_func = ins.opcode == OP_LDDW && ins.src == PSEUDO_FUNC;
                if !(pseudo_call || pseudo_func) || relocated.contains(&(fid, slot)) {
                    continue;
                }
                let target = (f.offset / 8 + slot) as i64 + 1 + ins.imm as i64;
                let at = f.offset / 8 + slot;
                if pseudo_func && slot + 1 >= f.raw.len() {
                    return Err(ObjError::insn(
                        sec,
                        at,
                        "lddw needs two instruction slots but the function ends after the first",
                    ));
                }
                let Some(callee) = Self::func_at(&funcs, f.section, target * 8) else {
                    return Err(ObjError::insn(
                        sec,
                        at,
                        format!(
                            "{} target {target} is not the start of a function in `{sec}`",
                            if pseudo_call { "call" } else { "code address" }
                        ),
                    ));
                };
                fixups[fid].push((
                    slot,
                    if pseudo_call {
                        Fixup::Call(callee)
                    } else {
                        Fixup::FuncAddr(callee)
                    },
                ));
            }
        }
        for (f, mut fx) in funcs.iter_mut().zip(fixups) {
            fx.sort_by_key(|(s, _)| *s);
            f.fixups = fx;
        }
        Ok(funcs)
    }

    fn relocation(
        &self,
        funcs: &[Func],
        fid: usize,
        slot: usize,
        r: &Reloc,
        maps: &[MapDef],
        sec_maps: &HashMap<usize, SecMaps>,
    ) -> Result<Fixup, ObjError> {
        let f = &funcs[fid];
        let sec = &self.secs[f.section].name;
        let at = f.offset / 8 + slot;
        let ins = f.raw[slot];
        let sym = &self.syms[r.sym];
        let sname = sym.display(&self.secs);
        let ierr = |cause: String| ObjError::insn(sec, at, cause);
        let unsupported = |what: String| ObjError::Unsupported {
            place: format!("section `{sec}`, instruction {at}"),
            what,
        };
        let target_sec = sym.section.map(|s| (s, &self.secs[s]));
        if ins.opcode == OP_CALL {
            if r.r_type != R_BPF_64_32 {
                return Err(ierr(format!(
                    "relocation type {} against `{sname}` on a call (expected R_BPF_64_32)",
                    r.r_type
                )));
            }
            if ins.src == PSEUDO_KFUNC_CALL || (ins.src == PSEUDO_CALL && target_sec.is_none()) {
                return Err(unsupported(format!(
                    "call to extern function `{sname}` (kfuncs and extern functions are not \
                     supported)"
                )));
            }
            if ins.src != PSEUDO_CALL {
                return Err(ierr(format!(
                    "relocation against `{sname}` on a helper call (src {})",
                    ins.src
                )));
            }
            let Some((tsi, tsec)) = target_sec else {
                return Err(ierr(format!("relocation against unknown symbol `{sname}`")));
            };
            if !tsec.is_code() {
                return Err(ierr(format!(
                    "call to `{sname}` in section `{}`, which holds no code",
                    tsec.name
                )));
            }
            code_symbol(sym, &sname, ins.imm, -1).map_err(ierr)?;
            // Symbol values are section offsets; i128 keeps hostile values from
            // overflowing (func_at then finds nothing).
            let target = clamp(sym.value as i128 + (ins.imm as i128 + 1) * 8);
            return match Self::func_at(funcs, tsi, target) {
                Some(c) => Ok(Fixup::Call(c)),
                None => Err(ierr(format!(
                    "call to `{sname}`+{} is not the start of a function",
                    (ins.imm as i64 + 1) * 8
                ))),
            };
        }
        if ins.opcode != OP_LDDW {
            return Err(ierr(format!(
                "relocation against `{sname}` on an instruction that is neither a lddw nor a \
                 call (opcode 0x{:02x})",
                ins.opcode
            )));
        }
        if slot + 1 >= f.raw.len() {
            return Err(ierr(
                "lddw needs two instruction slots but the function ends after the first"
                    .to_string(),
            ));
        }
        if r.r_type != R_BPF_64_64 {
            return Err(ierr(format!(
                "relocation type {} against `{sname}` on a lddw (expected R_BPF_64_64)",
                r.r_type
            )));
        }
        let Some((tsi, tsec)) = target_sec else {
            if sym.name.is_empty() {
                return Err(ierr(
                    "relocation against an unnamed undefined symbol".to_string(),
                ));
            }
            return Err(unsupported(format!(
                "reference to extern symbol `{sname}` (__kconfig / __ksym externs are not \
                 supported)"
            )));
        };
        let addend = ins.imm as i64;
        if tsec.is_code() {
            code_symbol(sym, &sname, ins.imm, 0).map_err(ierr)?;
            let target = clamp(sym.value as i128 + addend as i128);
            return match Self::func_at(funcs, tsi, target) {
                Some(c) => Ok(Fixup::FuncAddr(c)),
                None => Err(ierr(format!(
                    "code address `{sname}`+{addend} is not the start of a function"
                ))),
            };
        }
        match sec_maps.get(&tsi) {
            Some(SecMaps::Data(mi)) => {
                let offset = clamp(sym.value as i128 + addend as i128);
                let size = maps[*mi].value_size as i64;
                if offset < 0 || offset > size {
                    return Err(ierr(format!(
                        "reference to `{sname}`+{addend} is outside `{}` ({size} bytes)",
                        tsec.name
                    )));
                }
                Ok(Fixup::MapValue(*mi as u32, offset as u32))
            }
            Some(SecMaps::Defs(defs)) => {
                let offset = clamp(sym.value as i128 + addend as i128);
                match defs.iter().find(|(o, _, _)| *o as i64 == offset) {
                    Some(&(_, _, mi)) => Ok(Fixup::Map(mi as u32)),
                    None => Err(ierr(format!(
                        "reference to `{sname}` (offset {offset} of `{}`) is not the start of a \
                         map definition",
                        tsec.name
                    ))),
                }
            }
            None => Err(ierr(format!(
                "reference to `{sname}` in section `{}`, which is neither code, a map section \
                 nor global data",
                tsec.name
            ))),
        }
    }

    /// Links program `entry`: its function, then its callees (transitively), each once.
    fn link(
        &self,
        funcs: &[Func],
        entry: usize,
        kind: ProgramKind,
        lines: &mut LineCtx<'_>,
    ) -> Result<ObjProgram, ObjError> {
        // Depth first, as libbpf (`bpf_object__reloc_code`) and aya-obj (`FunctionLinker`)
        // link: a callee is appended where it is first referenced and its own callees
        // follow it at once, before the caller's next reference. The same layout gives
        // the same slot numbers as the kernel's verifier log for a program loaded through
        // those loaders. An explicit stack keeps hostile call chains off the native stack.
        let mut order = vec![entry];
        let mut placed: HashMap<usize, usize> = HashMap::new();
        placed.insert(entry, 0);
        // (function, index of its next fixup to look at)
        let mut stack = vec![(entry, 0usize)];
        while let Some(top) = stack.last_mut() {
            let (f, next) = *top;
            let Some(&(_, fx)) = funcs[f].fixups.get(next) else {
                stack.pop();
                continue;
            };
            top.1 += 1;
            if let Fixup::Call(c) | Fixup::FuncAddr(c) = fx {
                if let std::collections::hash_map::Entry::Vacant(e) = placed.entry(c) {
                    e.insert(order.len());
                    order.push(c);
                    stack.push((c, 0));
                }
            }
        }
        let entry_f = &funcs[entry];
        let sec_name = &self.secs[entry_f.section].name;
        let total: usize = order.iter().map(|&f| funcs[f].raw.len()).sum();
        if total > MAX_SLOTS {
            return Err(ObjError::section(
                sec_name,
                format!(
                    "program `{}` links to {total} instructions, more than the limit of \
                     {MAX_SLOTS}",
                    entry_f.name
                ),
            ));
        }
        let mut starts = Vec::with_capacity(order.len());
        let mut raw = Vec::with_capacity(total);
        for &f in &order {
            starts.push(raw.len());
            raw.extend_from_slice(&funcs[f].raw);
        }
        let start_of = |f: usize| starts[placed[&f]];
        for (k, &f) in order.iter().enumerate() {
            let base = starts[k];
            for &(slot, fx) in &funcs[f].fixups {
                let pc = base + slot;
                match fx {
                    Fixup::Call(c) => {
                        raw[pc].imm = start_of(c) as i32 - pc as i32 - 1;
                    }
                    Fixup::FuncAddr(c) => {
                        raw[pc].src = PSEUDO_FUNC;
                        raw[pc].imm = start_of(c) as i32 - pc as i32 - 1;
                        raw[pc + 1].imm = 0;
                    }
                    Fixup::Map(m) => {
                        raw[pc].src = PSEUDO_MAP_IDX;
                        raw[pc].imm = m as i32;
                        raw[pc + 1].imm = 0;
                    }
                    Fixup::MapValue(m, off) => {
                        raw[pc].src = PSEUDO_MAP_IDX_VALUE;
                        raw[pc].imm = m as i32;
                        raw[pc + 1].imm = off as i32;
                    }
                }
            }
        }
        let insns = Program::from_raw(&raw).map_err(|e| {
            let k = starts.partition_point(|&s| s <= e.pc).saturating_sub(1);
            let f = &funcs[order[k]];
            ObjError::Decode {
                section: self.secs[f.section].name.clone(),
                function: f.name.clone(),
                insn: f.offset / 8 + (e.pc - starts[k]),
                kind: e.kind,
            }
        })?;
        let mut functions = Vec::with_capacity(order.len());
        for (k, &f) in order.iter().enumerate() {
            let func = &funcs[f];
            let start = insns.index_at_slot(starts[k]).unwrap_or(0);
            let end_slot = starts[k] + func.raw.len();
            let end = insns.index_at_slot(end_slot).unwrap_or(insns.len());
            functions.push(LinkedFunction {
                name: func.name.clone(),
                section: self.secs[func.section].name.clone(),
                section_offset: func.offset,
                start,
                len: end - start,
                start_slot: starts[k],
                slots: func.raw.len(),
            });
        }
        let mut prog = ObjProgram {
            name: entry_f.name.clone(),
            section: sec_name.clone(),
            kind,
            insns,
            functions,
            line_info: Vec::new(),
            func_info: Vec::new(),
            core_relocations: Vec::new(),
        };
        lines.annotate(&mut prog);
        Ok(prog)
    }
}

/// Turns `.BTF.ext` records into per-program line info, function info and CO-RE records.
struct LineCtx<'b> {
    btf: Option<&'b Btf>,
    func: HashMap<&'b str, &'b SecRecords<RawFuncInfo>>,
    line: HashMap<&'b str, &'b SecRecords<RawLineInfo>>,
    core: HashMap<&'b str, &'b SecRecords<RawCoreRelo>>,
    strings: HashMap<u32, Arc<str>>,
}

impl<'b> LineCtx<'b> {
    fn new(btf: Option<&'b Btf>, ext: Option<&'b BtfExt>) -> LineCtx<'b> {
        let mut c = LineCtx {
            btf,
            func: HashMap::new(),
            line: HashMap::new(),
            core: HashMap::new(),
            strings: HashMap::new(),
        };
        if let Some(ext) = ext {
            for s in &ext.func_info {
                c.func.insert(s.section.as_str(), s);
            }
            for s in &ext.line_info {
                c.line.insert(s.section.as_str(), s);
            }
            for s in &ext.core_relos {
                c.core.insert(s.section.as_str(), s);
            }
        }
        c
    }

    fn string(&mut self, off: u32) -> Arc<str> {
        let btf = self.btf;
        self.strings
            .entry(off)
            .or_insert_with(|| Arc::from(btf.and_then(|b| b.string_at(off)).unwrap_or("")))
            .clone()
    }

    /// A file name, without the `./` clang prefixes when the compilation directory is
    /// `.`.
    fn file(&mut self, off: u32) -> Arc<str> {
        let s = self.string(off);
        match s.strip_prefix("./") {
            Some(rest) => Arc::from(rest),
            None => s,
        }
    }

    /// Maps a section byte offset of function `f` to (instruction index, slot).
    fn place(prog: &ObjProgram, f: &LinkedFunction, insn_off: u32) -> Option<(usize, usize)> {
        let off = insn_off as usize;
        if off < f.section_offset || !off.is_multiple_of(8) {
            return None;
        }
        let rel = (off - f.section_offset) / 8;
        if rel >= f.slots {
            return None;
        }
        let slot = f.start_slot + rel;
        prog.insns.index_at_slot(slot).map(|i| (i, slot))
    }

    fn annotate(&mut self, prog: &mut ObjProgram) {
        let Some(btf) = self.btf else { return };
        let functions = prog.functions.clone();
        for f in &functions {
            if let Some(recs) = self.line.get(f.section.as_str()).copied() {
                for r in &recs.records {
                    if let Some((insn, slot)) = Self::place(prog, f, r.insn_off) {
                        let file = self.file(r.file_name_off);
                        let source = self.string(r.line_off);
                        prog.line_info.push(LineInfo {
                            insn,
                            slot,
                            file,
                            line: r.line_col >> 10,
                            column: r.line_col & 0x3ff,
                            source,
                            file_name_off: r.file_name_off,
                            line_off: r.line_off,
                        });
                    }
                }
            }
            if let Some(recs) = self.func.get(f.section.as_str()).copied() {
                for r in &recs.records {
                    if r.insn_off as usize != f.section_offset {
                        continue;
                    }
                    if let Some((insn, slot)) = Self::place(prog, f, r.insn_off) {
                        prog.func_info.push(FuncInfo {
                            insn,
                            slot,
                            type_id: r.type_id,
                            name: btf.type_name(r.type_id).to_string(),
                        });
                    }
                }
            }
            if let Some(recs) = self.core.get(f.section.as_str()).copied() {
                for r in &recs.records {
                    if let Some((insn, slot)) = Self::place(prog, f, r.insn_off) {
                        prog.core_relocations.push(CoreRelocation {
                            insn,
                            slot,
                            type_id: r.type_id,
                            type_name: btf.type_name(r.type_id).to_string(),
                            access: btf.string_at(r.access_str_off).unwrap_or("").to_string(),
                            kind: CoreRelocKind::from_u32(r.kind),
                        });
                    }
                }
            }
        }
        prog.line_info.sort_by_key(|l| l.insn);
        prog.func_info.sort_by_key(|l| l.insn);
        prog.core_relocations.sort_by_key(|l| l.insn);
    }
}
