//! The input as the userspace runtime's loader takes it.

use super::error::BpfError;
use super::source::Source;
use oxbpf_runtime::loader::{ObjectSpec, ProgramSpec};
use oxbpf_runtime::progtype::ProgType;

/// The program type of a program: its section's, or [`ProgType::Unspec`] for BCC-style
/// functions (which may call every helper; the attach checks the type it is used as).
pub fn prog_type(id: u32) -> ProgType {
    ProgType::from_u32(id).unwrap_or(ProgType::Unspec)
}

/// Builds the loader's input: the object's maps and programs
/// ([`ObjectSpec::from_object`]; programs with CO-RE relocations are kept out, with the
/// reason), or the assembled program.
pub fn object_spec(src: &Source) -> Result<ObjectSpec, BpfError> {
    let load_err = |error| BpfError::Load {
        source_name: src.name.clone(),
        error: Box::new(error),
    };
    match &src.object {
        Some(obj) => ObjectSpec::from_object(obj).map_err(load_err),
        None => Ok(ObjectSpec {
            maps: Vec::new(),
            programs: src
                .programs
                .iter()
                .map(|p| {
                    let mut s =
                        ProgramSpec::new(&p.name, prog_type(p.prog_type()), p.insns.clone());
                    s.section = p.section.clone();
                    s
                })
                .collect(),
        }),
    }
}
