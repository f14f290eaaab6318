//! Verification at load time: what the runtime tells the verifier, and what it guarantees
//! to the programs the verifier accepted.
//!
//! [`Runtime::load`](crate::loader::Runtime::load) verifies every program by default
//! ([`Runtime::with_verify`](crate::loader::Runtime::with_verify)). The configuration is
//! built from what the runtime actually provides, not from what the object claims:
//!
//! - the **program type** ([`verifier_program_type`]): the Linux types the verifier models,
//!   and for [`ProgType::Unspec`] (raw bytecode, BCC-style `.text` functions) an `unspec`
//!   hook with an empty context, every helper and privileged pointer rules;
//! - the **context** ([`context_descriptor`]): `xdp_md`/`__sk_buff` as the packet runner
//!   fills them (`data`/`data_end`/`data_meta` hold real addresses, the packet being mapped
//!   below 4 GiB), the tracer's `syscalls/sys_enter_NAME` records with exactly the
//!   system call's arguments (16 + 8 × n bytes, as the kernel's format files say) and
//!   `sys_exit_NAME` records, and the verifier's built-in layouts for the other types;
//! - the **maps** the loader created, `.rodata` (`BPF_F_RDONLY_PROG`, frozen) with the
//!   contents it holds after loading, which the verifier may then treat as constants;
//! - the **helpers**: every helper a program calls must be implemented by the runtime for
//!   its type and have a verifier prototype that allows it for that type
//!   ([`check_helpers`]); a disagreement refuses the load instead of letting one side's
//!   assumption stand. Embedder helpers need a prototype
//!   ([`Runtime::helper_prototype`](crate::loader::Runtime::helper_prototype)).
//!
//! Accepted programs run in the JIT's verified mode (plain loads and stores). What the
//! verifier assumed about `r1` is then a contract the runtime keeps: runs the runtime sets
//! up itself ([`LoadedProgram::run`](crate::loader::LoadedProgram::run), the packet runner)
//! build a context of the descriptor's size (a shorter context is zero-extended), and
//! every other entry into a verified program (tail calls, embedders running a
//! [`ProgramRunner`](crate::env::ProgramRunner)) is checked against the run's regions
//! first ([`ContextContract::check`]): the context must be granted for its whole size,
//! writable where the program may write it, and its packet pointers must point into
//! granted packet memory.

use crate::loader::{MapDefSpec, MapOrigin};
use crate::maps::{flags, Map, MapType};
use crate::progtype::ProgType;
use oxbpf_isa::{CallTarget, Insn, Program};
use oxbpf_verifier::helpers::class;
use oxbpf_verifier::{
    ContextDescriptor, ContextField, FieldAccess, FieldKind, HookSpec, PacketAccess, ProgramType,
    VerifierConfig,
};
use oxbpf_vm::{AccessFault, FaultReason, Helpers, RegionKind, RunContext, VmError};
use std::sync::{Arc, OnceLock};
use thiserror::Error;

/// The verifier's program type for programs of runtime type `t`, or `None` when the
/// verifier does not model it (tracing/fentry, LSM, struct_ops, cgroup socket hooks,
/// writable raw tracepoints, ...).
pub fn verifier_program_type(t: ProgType) -> Option<ProgramType> {
    Some(match t {
        ProgType::Unspec => unspec_hook(),
        ProgType::SocketFilter => ProgramType::SocketFilter,
        ProgType::Kprobe => ProgramType::Kprobe,
        ProgType::SchedCls => ProgramType::SchedCls,
        ProgType::SchedAct => ProgramType::SchedAct,
        ProgType::Tracepoint => ProgramType::Tracepoint,
        ProgType::Xdp => ProgramType::Xdp,
        ProgType::PerfEvent => ProgramType::PerfEvent,
        ProgType::CgroupSkb => ProgramType::CgroupSkb,
        ProgType::RawTracepoint => ProgramType::RawTracepoint,
        _ => return None,
    })
}

/// oxbpf's generic type as the verifier sees it: no context (`r1` may be anything and is
/// never dereferenced), every helper the runtime implements, privileged pointer rules.
fn unspec_hook() -> ProgramType {
    static HOOK: OnceLock<Arc<HookSpec>> = OnceLock::new();
    let h = HOOK.get_or_init(|| {
        let ctx = ContextDescriptor::new("no context", 0, Vec::new())
            .unwrap_or_else(|e| panic!("the empty context descriptor is well formed: {e}"));
        let mut h = HookSpec::new("unspec", ctx);
        h.helper_classes = class::ALL;
        h.allow_ptr_leaks = true;
        Arc::new(h)
    });
    ProgramType::Hook(h.clone())
}

/// Why a program of a given type cannot be verified (for [`LoadedObject::skipped`]).
///
/// [`LoadedObject::skipped`]: crate::loader::LoadedObject::skipped
pub fn unverifiable_reason(t: ProgType) -> String {
    format!(
        "{t} programs are not modelled by the oxbpf verifier, and the runtime runs only \
         verified programs unless verification is turned off (Runtime::with_verify(false), \
         `oxbpf exec --unverified`)"
    )
}

/// The context layout the runtime gives programs of type `t` loaded from ELF section
/// `section` (see the module documentation); `None` for types the verifier does not model.
pub fn context_descriptor(t: ProgType, section: &str) -> Option<ContextDescriptor> {
    let pt = verifier_program_type(t)?;
    if t == ProgType::Tracepoint {
        if let Some(d) = tracepoint_target(section).and_then(|(c, n)| tracepoint_context(c, n)) {
            return Some(d);
        }
    }
    Some(pt.default_context())
}

/// `(category, name)` of a `tracepoint/CATEGORY/NAME` or `tp/CATEGORY/NAME` section.
fn tracepoint_target(section: &str) -> Option<(&str, &str)> {
    let rest = section
        .strip_prefix("tracepoint/")
        .or_else(|| section.strip_prefix("tp/"))?;
    let (c, n) = rest.split_once('/')?;
    (!c.is_empty() && !n.is_empty() && !n.contains('/')).then_some((c, n))
}

/// The record the runtime builds for tracepoint `category/name`, when it builds one:
/// the tracer's system-call records. Other tracepoints get the generic record
/// ([`ContextDescriptor::tracepoint_unknown`]).
pub fn tracepoint_context(category: &str, name: &str) -> Option<ContextDescriptor> {
    if category != "syscalls" {
        return None;
    }
    syscall_record(name)
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn syscall_record(name: &str) -> Option<ContextDescriptor> {
    use crate::tracer::syscalls::{parse_event, Phase};
    let (phase, sc) = parse_event(name)?;
    let hidden = [
        ContextField::scalar("common_type", 0, 2).hidden(),
        ContextField::scalar("common_flags", 2, 1).hidden(),
        ContextField::scalar("common_preempt_count", 3, 1).hidden(),
        ContextField::scalar("common_pid", 4, 4).hidden(),
        ContextField::scalar("__syscall_nr", 8, 4),
    ];
    let mut fields = hidden.to_vec();
    let (type_name, size) = match phase {
        Phase::Enter => {
            for i in 0..u32::from(sc.nargs) {
                fields.push(ContextField::scalar(format!("args[{i}]"), 16 + 8 * i, 8));
            }
            ("trace_event_raw_sys_enter", 16 + 8 * u32::from(sc.nargs))
        }
        Phase::Exit => {
            fields.push(ContextField::scalar("ret", 16, 8));
            ("trace_event_raw_sys_exit", 24)
        }
    };
    ContextDescriptor::new(type_name, size, fields)
        .ok()
        .map(ContextDescriptor::with_flat_loads)
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn syscall_record(name: &str) -> Option<ContextDescriptor> {
    ContextDescriptor::for_tracepoint("syscalls", name)
}

/// The verifier's view of the object's maps (by the index programs use), inner map
/// templates of maps of maps after them, as `VerifierConfig::for_object_program` lays
/// them out. `.rodata` maps carry their contents as known constants only when the
/// runtime really made them read-only to programs and frozen, and they are single-entry
/// arrays (what the verifier's constant reads assume).
pub(crate) fn verifier_maps(
    defs: &[MapDefSpec],
    maps: &[Arc<Map>],
) -> Vec<oxbpf_verifier::MapSpec> {
    let spec_of = |s: &crate::maps::MapSpec| {
        let mut v = oxbpf_verifier::MapSpec::new(
            s.name.clone(),
            oxbpf_verifier::MapType::from_linux(s.map_type.as_u32()),
            s.key_size,
            s.value_size,
            s.max_entries,
        );
        v.flags = s.flags;
        v
    };
    let mut out: Vec<oxbpf_verifier::MapSpec> = maps.iter().map(|m| spec_of(m.spec())).collect();
    for (i, (def, map)) in defs.iter().zip(maps).enumerate() {
        let s = map.spec();
        let constant = def.origin == MapOrigin::Rodata
            && s.flags & flags::BPF_F_RDONLY_PROG != 0
            && map.is_frozen()
            && s.map_type == MapType::Array
            && s.max_entries == 1
            && s.key_size == 4;
        if constant {
            out[i].frozen = map.lookup(&0u32.to_ne_bytes()).ok().flatten();
        }
        if let Some(inner) = &s.inner {
            let mut v = spec_of(inner);
            v.name = format!("{}.inner", s.name);
            out.push(v);
            let idx = (out.len() - 1) as u32;
            out[i].inner = Some(idx);
        }
    }
    out
}

/// A helper call the runtime and the verifier disagree on.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("instruction {pc}: helper {id} ({name}): {reason}")]
pub struct HelperMismatch {
    pub pc: usize,
    pub id: i64,
    pub name: String,
    pub reason: String,
}

/// True when the verifier lets programs configured by `conf` call helper `id`.
pub fn verifier_allows(conf: &VerifierConfig, id: i32) -> bool {
    let Some(proto) = conf.helper_proto(id) else {
        return false;
    };
    conf.helpers.iter().any(|h| h.id == id)
        || proto.classes & conf.prog_type.helper_classes(conf.allow_ptr_leaks) != 0
}

/// Checks that every helper `program` calls is both registered by the runtime
/// (`helpers`: what [`crate::helpers::helpers_for`] built for the program's type) and
/// allowed with a prototype by the verifier (`conf`).
pub fn check_helpers(
    prog_type: ProgType,
    helpers: &Helpers,
    conf: &VerifierConfig,
    program: &Program,
) -> Result<(), HelperMismatch> {
    for (_, pc, insn) in program.iter() {
        let Insn::Call(CallTarget::Helper(id)) = *insn else {
            continue;
        };
        let name = || {
            u32::try_from(id)
                .ok()
                .and_then(crate::helpers::ids::name)
                .or_else(|| {
                    u64::try_from(id)
                        .ok()
                        .and_then(|i| helpers.get(i))
                        .map(|h| h.name.to_string())
                })
                .unwrap_or_else(|| "unknown".to_string())
        };
        let runtime = u64::try_from(id).is_ok_and(|i| helpers.get(i).is_some());
        let verifier = verifier_allows(conf, id);
        let reason = match (runtime, verifier) {
            (true, true) => continue,
            (true, false) => match conf.helper_proto(id) {
                Some(p) => format!(
                    "the runtime implements it for {prog_type} programs but the verifier's \
                     prototype ({}) does not allow it for them",
                    p.name
                ),
                None => "the runtime provides it but the verifier has no prototype for it \
                         (embedder helpers need one: Runtime::helper_prototype; or load \
                         without verification)"
                    .to_string(),
            },
            (false, true) => format!(
                "the verifier allows it for {prog_type} programs but the runtime does not \
                 provide it for them"
            ),
            (false, false) => {
                format!("neither the runtime nor the verifier provide it for {prog_type} programs")
            }
        };
        return Err(HelperMismatch {
            pc,
            id: i64::from(id),
            name: name(),
            reason,
        });
    }
    Ok(())
}

/// Offsets of the packet pointer fields of a context (`u32` loads that yield pointers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketFields {
    pub data: u32,
    pub data_end: u32,
    pub data_meta: Option<u32>,
    /// Programs may write packet bytes.
    pub writable: bool,
}

/// What a verified program assumes about `r1` when it starts (see the module
/// documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextContract {
    /// The context type (messages).
    pub name: String,
    /// Bytes at `r1` the program may read (0: it never dereferences `r1`).
    pub size: u32,
    /// For contexts granted field by field (embedder hooks, whose runs grant exactly the
    /// declared fields): the byte ranges `(offset, len)` the program may read, each of
    /// which must be granted. `None`: all `size` bytes must be granted.
    pub readable: Option<Vec<(u32, u32)>>,
    /// Byte ranges `(offset, len)` the program may write.
    pub writable: Vec<(u32, u32)>,
    /// Packet pointers in the context, when it has them.
    pub packet: Option<PacketFields>,
}

impl ContextContract {
    /// The contract of a descriptor under a program type's packet rules.
    pub fn new(ctx: &ContextDescriptor, packet: PacketAccess) -> ContextContract {
        let writable = ctx
            .fields
            .iter()
            .filter(|f| f.access == FieldAccess::ReadWrite)
            .map(|f| (f.offset, f.size))
            .collect();
        let off = |k: FieldKind| ctx.fields.iter().find(|f| f.kind == k).map(|f| f.offset);
        let packet = match (off(FieldKind::PacketData), off(FieldKind::PacketEnd)) {
            (Some(data), Some(data_end)) if packet != PacketAccess::None => Some(PacketFields {
                data,
                data_end,
                data_meta: off(FieldKind::PacketMeta),
                writable: packet == PacketAccess::ReadWrite,
            }),
            _ => None,
        };
        ContextContract {
            name: ctx.name.to_string(),
            size: ctx.size,
            readable: None,
            writable,
            packet,
        }
    }

    /// The contract of a context whose runs grant each accessible field rather than the
    /// whole struct (embedder hooks: padding and undeclared fields are never granted, and
    /// the verifier lets programs touch only declared fields): every field the program
    /// may read must be granted, writable where it may write.
    pub fn field_by_field(ctx: &ContextDescriptor, packet: PacketAccess) -> ContextContract {
        let mut c = ContextContract::new(ctx, packet);
        c.readable = Some(
            ctx.fields
                .iter()
                .filter(|f| f.access != FieldAccess::Hidden)
                .map(|f| (f.offset, f.size))
                .collect(),
        );
        c
    }

    /// Checks that a run entering the program with `ctx` keeps the contract: `r1` points
    /// at `size` granted bytes, or at granted `readable` ranges for contexts granted
    /// field by field (writable where the program may write), and the packet
    /// pointers it holds delimit granted packet memory. The error is the access the
    /// program would have made outside its memory.
    pub fn check(&self, ctx: &RunContext<'_>) -> Result<(), VmError> {
        if self.size == 0 {
            return Ok(());
        }
        let fault = |fault: AccessFault| {
            log::debug!(
                "entry into a verified program refused: r1 = 0x{:x} is not a granted {} of {} bytes ({fault})",
                ctx.args[0],
                self.name,
                self.size
            );
            VmError::MemoryFault { pc: 0, fault }
        };
        let r1 = ctx.args[0];
        let regions = ctx.regions();
        match &self.readable {
            None => {
                regions
                    .check(r1, u64::from(self.size), false)
                    .map_err(fault)?;
            }
            Some(ranges) => {
                for &(off, len) in ranges {
                    regions
                        .check(r1.wrapping_add(u64::from(off)), u64::from(len), false)
                        .map_err(fault)?;
                }
            }
        }
        for &(off, len) in &self.writable {
            regions
                .check(r1.wrapping_add(u64::from(off)), u64::from(len), true)
                .map_err(fault)?;
        }
        let Some(p) = self.packet else {
            return Ok(());
        };
        let field = |off: u32| -> Result<u64, VmError> {
            let b = regions
                .slice(r1.wrapping_add(u64::from(off)), 4)
                .map_err(fault)?;
            Ok(u64::from(u32::from_ne_bytes([b[0], b[1], b[2], b[3]])))
        };
        let data = field(p.data)?;
        let end = field(p.data_end)?;
        let bad = |addr: u64, size: u64| {
            fault(AccessFault {
                addr,
                size,
                write: p.writable,
                reason: FaultReason::Unmapped,
            })
        };
        if end < data {
            return Err(bad(data, 0));
        }
        let packet_region = |start: u64, len: u64| -> Result<(), VmError> {
            if len == 0 {
                return Ok(());
            }
            match regions.check(start, len, p.writable) {
                Ok(r) if r.kind == RegionKind::Packet => Ok(()),
                Ok(_) => Err(bad(start, len)),
                Err(f) => Err(fault(f)),
            }
        };
        packet_region(data, end - data)?;
        if let Some(m) = p.data_meta {
            let meta = field(m)?;
            if meta > data {
                return Err(bad(meta, 0));
            }
            packet_region(meta, data - meta)?;
        }
        Ok(())
    }
}

/// What the runtime keeps about a verified program.
#[derive(Clone, Debug)]
pub struct VerifiedProgram {
    /// The verifier's statistics.
    pub verified: oxbpf_verifier::Verified,
    /// The context layout it was verified against.
    pub context: ContextDescriptor,
    /// What its runs must provide.
    pub contract: ContextContract,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runtime's helper sets (Linux 6.18's `func_proto` tables) and the verifier's
    /// prototypes agree for every program type the verifier models: where the runtime
    /// provides a helper the verifier allows it, and where the verifier allows a helper
    /// the runtime implements, the runtime provides it. The one documented exception:
    /// the verifier does not model `bpf_spin_lock`, so verified loads refuse programs
    /// that take locks (`check_helpers`).
    #[test]
    fn helper_tables_agree() {
        let mut packet = Helpers::new();
        crate::packet::register_helpers(&mut packet);
        let implemented = |id: u32| {
            crate::helpers::implemented(id).is_some() || packet.get(u64::from(id)).is_some()
        };
        let mut problems = Vec::new();
        let mut unmodelled = std::collections::BTreeSet::new();
        for id in 0..64u32 {
            let Some(t) = ProgType::from_u32(id) else {
                continue;
            };
            let Some(pt) = verifier_program_type(t) else {
                continue;
            };
            let conf = VerifierConfig::new(pt);
            let h = crate::helpers::helpers_for(t, &Helpers::new(), None).unwrap();
            for hid in 1..crate::helpers::ids::NAMES.len() as u32 {
                let runtime = h.get(u64::from(hid)).is_some();
                let verifier = verifier_allows(&conf, hid as i32);
                let name = crate::helpers::ids::name(hid).unwrap_or_default();
                match (runtime, verifier) {
                    (true, false) if conf.helper_proto(hid as i32).is_none() => {
                        unmodelled.insert(name);
                    }
                    (true, false) => problems.push(format!(
                        "{t}: the runtime provides {name} ({hid}), the verifier refuses it"
                    )),
                    (false, true) if implemented(hid) => problems.push(format!(
                        "{t}: the verifier allows {name} ({hid}), the runtime implements it but not for {t}"
                    )),
                    _ => {}
                }
            }
        }
        let unmodelled: Vec<String> = unmodelled.into_iter().collect();
        assert_eq!(unmodelled, ["bpf_spin_lock", "bpf_spin_unlock"]);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
