//! eBPF ELF objects: programs, maps, global data, BTF and relocations, and the clang
//! build driver.
//!
//! # Data model
//!
//! [`Object::parse`] reads a clang-compiled eBPF ELF object (`clang -O2 -g -target bpf`)
//! into an [`Object`]:
//!
//! - [`Object::programs`]: one [`ObjProgram`] per program. A program is a function in a
//!   program section (`tracepoint/...`, `kprobe/...`, `xdp`, `tc`, ...; see
//!   [`ProgramKind`]) or a function in `.text` that no other function calls (BCC style,
//!   [`ProgramKind::Unspecified`]). Its [`ObjProgram::insns`] is the linked
//!   [`oxbpf_isa::Program`]: the program's function first, then every function it calls,
//!   each once and depth first, with bpf-to-bpf `call` offsets rewritten (the layout
//!   libbpf and aya-obj give, so slot numbers match the kernel's verifier log).
//! - [`Object::maps`]: every [`MapDef`]: BTF-defined maps (`.maps`), legacy maps (`maps`)
//!   and global data (`.data*`, `.rodata*`, `.bss*`, including `.rodata.str1.1` string
//!   literals), the latter as one-entry array maps with their initial bytes. In the
//!   instructions, a map reference is `LoadImm64::MapIdx(i)` and a global-data address is
//!   `LoadImm64::MapIdxValue { idx: i, offset }`, where `i` indexes `Object::maps`.
//! - [`ObjProgram::line_info`]: per instruction, file, line, column and source text from
//!   `.BTF.ext` (present with `-g`). [`ObjProgram::func_info`] and
//!   [`ObjProgram::core_relocations`] carry the other `.BTF.ext` records.
//! - [`Object::license`], [`Object::kernel_version`], [`Object::btf`],
//!   [`Object::elf_bytes`] (for backends that re-parse with aya; [`aya_compat`]).
//! - For raw `BPF_PROG_LOAD`: [`Object::btf_for_kernel`] (BTF with DATASECs laid out),
//!   [`ObjProgram::btf_func_info_records`], [`ObjProgram::btf_line_info_records`]; map
//!   definitions to create and pass as the `fd_array` for `MapIdx`/`MapIdxValue`.
//! - [`listing::render`]: a readable listing with the C source interleaved.
//!
//! Program names are the entry functions' symbol names and map names the symbol names
//! (regular maps) or section names (global data), the names aya gives them.
//!
//! [`build`] compiles C to objects with clang and ships a header declaring the helpers.

pub mod aya_compat;
pub mod btf;
pub mod build;
pub mod error;
pub mod fuzzing;
pub mod kind;
pub mod listing;
pub mod maps;
pub mod object;

pub use error::ObjError;
pub use kind::{prog_type, Direction, ProgramKind, TcAttach, XdpAttach};
pub use maps::{map_type, DataSymbol, MapDef, MapKind, MapSlotInit, Pinning, BPF_F_RDONLY_PROG};
pub use object::{
    CoreRelocKind, CoreRelocation, FuncInfo, Function, LineInfo, LinkedFunction, MapReference,
    ObjProgram, Object,
};
