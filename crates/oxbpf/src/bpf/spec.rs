//! The input as the userspace runtime's loader takes it.

use super::error::BpfError;
use super::source::Source;
use oxbpf_obj::{MapDef, MapKind};
use oxbpf_runtime::loader::{MapDefSpec, MapOrigin, ObjectSpec, ProgramSpec};
use oxbpf_runtime::maps::{MapSpec, MapType};
use oxbpf_runtime::progtype::ProgType;

/// A map definition as a runtime map spec.
fn map_spec(def: &MapDef) -> Result<MapSpec, BpfError> {
    let map_type = MapType::from_u32(def.map_type).ok_or_else(|| BpfError::Map {
        map: def.name.clone(),
        reason: format!("unknown map type {}", def.map_type),
    })?;
    // A perf event array without max_entries gets one slot per CPU, as libbpf and aya
    // create it.
    let max_entries = if map_type == MapType::PerfEventArray && def.max_entries == 0 {
        oxbpf_runtime::maps::cpu::num_cpus() as u32
    } else {
        def.max_entries
    };
    let mut spec = MapSpec::new(
        def.name.clone(),
        map_type,
        def.key_size,
        def.value_size,
        max_entries,
    )
    .with_flags(def.flags);
    spec.map_extra = def.map_extra;
    if let Some(inner) = &def.inner {
        spec.inner = Some(Box::new(map_spec(inner)?));
    }
    Ok(spec)
}

/// The program type of a program: its section's, or [`ProgType::Unspec`] for BCC-style
/// functions (which may call every helper; the attach checks the type it is used as).
pub fn prog_type(id: u32) -> ProgType {
    ProgType::from_u32(id).unwrap_or(ProgType::Unspec)
}

/// Builds the loader's input. CO-RE relocations are refused here (userspace has no kernel
/// types to relocate against).
pub fn object_spec(src: &Source) -> Result<ObjectSpec, BpfError> {
    if let Some(obj) = &src.object {
        for p in &obj.programs {
            p.ensure_no_core_relocations()
                .map_err(|error| BpfError::Object {
                    source_name: src.name.clone(),
                    error: Box::new(error),
                })?;
        }
    }
    let mut maps = Vec::with_capacity(src.maps.len());
    for def in &src.maps {
        maps.push(MapDefSpec {
            spec: map_spec(def)?,
            origin: match def.kind {
                MapKind::Regular => MapOrigin::Regular,
                MapKind::Data => MapOrigin::Data,
                MapKind::Rodata => MapOrigin::Rodata,
                MapKind::Bss => MapOrigin::Bss,
            },
            initial_data: def.initial_data.clone(),
            init_slots: def
                .init_slots
                .iter()
                .map(|s| (s.index, s.target.clone()))
                .collect(),
        });
    }
    let programs = src
        .programs
        .iter()
        .map(|p| ProgramSpec {
            name: p.name.clone(),
            section: p.section.clone(),
            prog_type: prog_type(p.prog_type()),
            insns: p.insns.clone(),
        })
        .collect();
    Ok(ObjectSpec { maps, programs })
}
