//! Configurations from ELF objects (`oxbpf-obj`): maps, program types, contexts and source
//! lines.

use crate::context::ContextDescriptor;
use crate::diag::SourceLine;
use crate::maps::{MapSpec, MapType};
use crate::progtype::ProgramType;
use crate::{LineInfo, VerifierConfig};
use oxbpf_obj::{MapDef, MapKind, ObjProgram, Object, ProgramKind};
use thiserror::Error;

/// Why an object's program cannot be verified.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("program `{program}` (section `{section}`): {reason}")]
pub struct ObjectProgramError {
    pub program: String,
    pub section: String,
    pub reason: String,
}

impl From<&MapDef> for MapSpec {
    fn from(m: &MapDef) -> MapSpec {
        let mut s = MapSpec::new(
            m.name.clone(),
            MapType::from_linux(m.map_type),
            m.key_size,
            m.value_size,
            m.max_entries,
        );
        s.flags = m.flags;
        // Loaders freeze read-only global data after writing it (libbpf, aya, oxbpf), so
        // its contents are known constants.
        if m.kind == MapKind::Rodata {
            s.frozen = m.initial_data.clone();
            s.flags |= crate::maps::F_RDONLY_PROG;
        }
        s
    }
}

impl ProgramType {
    /// The program type for an object's program kind; `None` for kinds the verifier does
    /// not model (fentry, LSM, struct_ops, cgroup socket hooks...).
    pub fn from_kind(kind: &ProgramKind) -> Option<ProgramType> {
        Some(match kind {
            ProgramKind::SocketFilter => ProgramType::SocketFilter,
            ProgramKind::Kprobe { .. }
            | ProgramKind::Ksyscall { .. }
            | ProgramKind::Uprobe { .. }
            | ProgramKind::Usdt { .. } => ProgramType::Kprobe,
            ProgramKind::Tracepoint { .. } => ProgramType::Tracepoint,
            ProgramKind::RawTracepoint {
                writable: false, ..
            } => ProgramType::RawTracepoint,
            ProgramKind::Xdp { .. } => ProgramType::Xdp,
            ProgramKind::SchedCls { .. } => ProgramType::SchedCls,
            ProgramKind::SchedAct => ProgramType::SchedAct,
            ProgramKind::PerfEvent => ProgramType::PerfEvent,
            ProgramKind::CgroupSkb { .. } => ProgramType::CgroupSkb,
            _ => return None,
        })
    }
}

impl ContextDescriptor {
    /// The built-in context of a tracepoint, when oxbpf knows its layout without tracefs
    /// (`syscalls/sys_enter_*` and `syscalls/sys_exit_*`).
    pub fn for_tracepoint(category: &str, name: &str) -> Option<ContextDescriptor> {
        if category != "syscalls" {
            return None;
        }
        if name.starts_with("sys_enter_") {
            Some(ContextDescriptor::sys_enter())
        } else if name.starts_with("sys_exit_") {
            Some(ContextDescriptor::sys_exit())
        } else {
            None
        }
    }
}

impl VerifierConfig {
    /// The configuration for one program of an object: its type, the object's maps, its
    /// source lines and, for syscall tracepoints, their context layout. Other tracepoints
    /// get a generic record; give the real layout with
    /// [`ContextDescriptor::from_tracepoint_format`].
    pub fn for_object_program(
        obj: &Object,
        prog: &ObjProgram,
    ) -> Result<VerifierConfig, ObjectProgramError> {
        let err = |reason: String| ObjectProgramError {
            program: prog.name.clone(),
            section: prog.section.clone(),
            reason,
        };
        let pt = ProgramType::from_kind(&prog.kind).ok_or_else(|| {
            err(format!(
                "the oxbpf verifier does not support {} programs",
                prog.kind.short_name()
            ))
        })?;
        let mut conf = VerifierConfig::new(pt);
        conf.maps = obj.maps.iter().map(MapSpec::from).collect();
        // Inner maps of maps of maps go after the object's maps.
        for (i, m) in obj.maps.iter().enumerate() {
            if let Some(inner) = &m.inner {
                let mut spec = MapSpec::from(inner.as_ref());
                spec.name = format!("{}.inner", m.name);
                conf.maps.push(spec);
                conf.maps[i].inner = Some((conf.maps.len() - 1) as u32);
            }
        }
        if let ProgramKind::Tracepoint { category, name } = &prog.kind {
            conf.context = ContextDescriptor::for_tracepoint(category, name);
        }
        conf.btf_func_info = !prog.func_info.is_empty();
        conf = conf.with_line_info(
            prog.line_info
                .iter()
                .map(|l| LineInfo {
                    pc: l.slot,
                    line: SourceLine {
                        file: l.file.to_string(),
                        line: l.line,
                        column: l.column,
                        text: l.source.to_string(),
                    },
                })
                .collect(),
        );
        Ok(conf)
    }
}
