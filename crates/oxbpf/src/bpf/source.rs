//! What a [`Bpf`](super::Bpf) is made from: C (compiled with clang), an ELF object, or
//! assembly text, turned into one list of programs and maps both backends load.

use super::error::BpfError;
use oxbpf_isa::Program;
use oxbpf_obj::build::BuildOptions;
use oxbpf_obj::{MapDef, Object, ProgramKind};
use std::path::Path;
use std::sync::Arc;

/// One program of the input.
#[derive(Clone, Debug)]
pub struct ProgramInfo {
    /// Name (the function's symbol; `prog` for assembly).
    pub name: String,
    /// ELF section (`.text` for BCC-style functions).
    pub section: String,
    /// What the section says about the program.
    pub kind: ProgramKind,
    /// Instructions, map references by index into the object's maps ([`Bpf::map_names`](super::Bpf::map_names) order).
    pub insns: Program,
}

impl ProgramInfo {
    /// The Linux program type the section implies (0: none, a BCC-style function whose
    /// type is chosen when it is attached).
    pub fn prog_type(&self) -> u32 {
        self.kind.prog_type()
    }
}

/// The parsed input.
#[derive(Debug)]
pub struct Source {
    /// What to call it in messages (file name, or `<c source>` / `<asm>`).
    pub name: String,
    /// The ELF bytes (`None` for assembly).
    pub elf: Option<Arc<[u8]>>,
    /// The parsed object (`None` for assembly).
    pub object: Option<Object>,
    /// Programs.
    pub programs: Vec<ProgramInfo>,
    /// Maps (empty for assembly).
    pub maps: Vec<MapDef>,
    /// License string (`GPL` for assembly).
    pub license: String,
}

impl Source {
    /// Compiles a C file.
    pub fn c_file(path: &Path, opts: &BuildOptions) -> Result<Source, BpfError> {
        let name = path.display().to_string();
        let elf =
            oxbpf_obj::build::compile_c_file(path, opts).map_err(|error| BpfError::Build {
                source_name: name.clone(),
                error: Box::new(error),
            })?;
        Source::object_bytes(&name, &elf)
    }

    /// Compiles C text; `name` is the file name clang shows (`prog.c`).
    pub fn c_source(text: &str, name: &str, opts: &BuildOptions) -> Result<Source, BpfError> {
        let elf = oxbpf_obj::build::compile_c_source(text, name, opts).map_err(|error| {
            BpfError::Build {
                source_name: name.to_string(),
                error: Box::new(error),
            }
        })?;
        Source::object_bytes(name, &elf)
    }

    /// Reads an ELF object file.
    pub fn object_file(path: &Path) -> Result<Source, BpfError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|error| BpfError::Io {
            path: name.clone(),
            error,
        })?;
        Source::object_bytes(&name, &bytes)
    }

    /// Parses ELF object bytes.
    pub fn object_bytes(name: &str, bytes: &[u8]) -> Result<Source, BpfError> {
        let object = Object::parse(bytes).map_err(|error| BpfError::Object {
            source_name: name.to_string(),
            error: Box::new(error),
        })?;
        if object.programs.is_empty() {
            return Err(BpfError::Usage(format!(
                "{name}: the object has no programs (no function in a program section, and no \
                 uncalled function in .text)"
            )));
        }
        let programs = object
            .programs
            .iter()
            .map(|p| ProgramInfo {
                name: p.name.clone(),
                section: p.section.clone(),
                kind: p.kind.clone(),
                insns: p.insns.clone(),
            })
            .collect();
        Ok(Source {
            name: name.to_string(),
            elf: Some(Arc::from(bytes)),
            maps: object.maps.clone(),
            license: object.license.clone(),
            programs,
            object: Some(object),
        })
    }

    /// Assembles text into one program named `prog` of the kind `section` names
    /// (`tracepoint/syscalls/sys_enter_openat`, `xdp`, `.text`, ...).
    pub fn asm(text: &str, name: &str, section: &str) -> Result<Source, BpfError> {
        let insns = oxbpf_isa::assemble(text).map_err(|e| BpfError::Asm {
            source_name: name.to_string(),
            line: e.line,
            column: e.column,
            message: e.message.clone(),
        })?;
        let kind = ProgramKind::from_section(section)
            .map_err(|reason| BpfError::Usage(format!("{name}: section `{section}`: {reason}")))?;
        Ok(Source {
            name: name.to_string(),
            elf: None,
            object: None,
            programs: vec![ProgramInfo {
                name: "prog".to_string(),
                section: section.to_string(),
                kind,
                insns,
            }],
            maps: Vec::new(),
            license: "GPL".to_string(),
        })
    }

    /// The program named `name`.
    pub fn program(&self, name: &str) -> Result<&ProgramInfo, BpfError> {
        self.programs
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| BpfError::NoProgram {
                name: name.to_string(),
                available: self.program_list(),
            })
    }

    /// The program names as a list for messages.
    pub fn program_list(&self) -> String {
        let v: Vec<&str> = self.programs.iter().map(|p| p.name.as_str()).collect();
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    }

    /// The map names as a list for messages.
    pub fn map_list(&self) -> String {
        let v: Vec<&str> = self.maps.iter().map(|m| m.name.as_str()).collect();
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    }
}
