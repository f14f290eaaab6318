//! The Linux helpers, implemented in userspace with the kernel's semantics and return
//! codes, registered by their Linux ids.
//!
//! Every helper is a plain function over `oxbpf_vm::HelperCtx`: pointer arguments are
//! checked against the run's memory regions (a bad pointer ends the run with a fault, as
//! the Linux verifier would have refused the program), ordinary failures are returned to
//! the program as `-errno`, exactly as Linux returns them. Helpers that need the runtime
//! (maps, trace buffer, current task, tail calls) find it in the run's embedder data, a
//! [`RunEnv`](crate::env::RunEnv); the others work in any run.
//!
//! [`IMPLEMENTED`] is the table of what oxbpf implements; [`crate::progtype`] says which
//! helpers each program type may call. [`helpers_for`] combines both with the embedder's
//! own helpers and refuses, with a typed error naming the instruction, a program that calls
//! a helper its type may not use or that the runtime does not implement.

pub mod ids;
mod maps;
mod misc;
mod print;
mod probe;

pub use probe::RunMemory;

use crate::env::RunEnv;
use crate::progtype::{self, ProgType};
use oxbpf_isa::{CallTarget, Insn, Program};
use oxbpf_vm::{HelperCtx, HelperError, Helpers};
use thiserror::Error;

/// The type of a built-in helper.
pub type HelperImpl = fn(&mut HelperCtx<'_>, [u64; 5]) -> Result<u64, HelperError>;

/// A built-in helper.
#[derive(Clone, Copy)]
pub struct HelperDef {
    /// Linux id.
    pub id: u32,
    /// What it does, and where oxbpf's semantics differ from Linux's (for `--help` style
    /// listings).
    pub note: &'static str,
    /// The implementation.
    pub func: HelperImpl,
}

impl std::fmt::Debug for HelperDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HelperDef({} {})", self.id, self.name())
    }
}

impl HelperDef {
    /// The Linux name (`bpf_map_lookup_elem`).
    pub fn name(&self) -> String {
        ids::name(self.id).unwrap_or_else(|| format!("helper {}", self.id))
    }
}

macro_rules! defs {
    ($($id:ident => $f:path, $note:literal;)*) => {
        /// The helpers oxbpf implements.
        pub static IMPLEMENTED: &[HelperDef] = &[
            $(HelperDef { id: ids::$id, note: $note, func: $f },)*
        ];
    };
}

defs! {
    MAP_LOOKUP_ELEM => maps::map_lookup_elem, "pointer to the value (this CPU's for per-CPU maps), NULL when absent; inner map for maps of maps";
    MAP_UPDATE_ELEM => maps::map_update_elem, "BPF_ANY/BPF_NOEXIST/BPF_EXIST, the map's errno";
    MAP_DELETE_ELEM => maps::map_delete_elem, "the map's errno";
    MAP_PUSH_ELEM => maps::map_push_elem, "queue, stack, bloom filter";
    MAP_POP_ELEM => maps::map_pop_elem, "queue, stack";
    MAP_PEEK_ELEM => maps::map_peek_elem, "queue, stack; bloom filter membership";
    MAP_LOOKUP_PERCPU_ELEM => maps::map_lookup_percpu_elem, "per-CPU maps, any CPU";
    PROBE_READ => probe::probe_read_user, "reads the current task's memory (all addresses are user addresses in userspace)";
    PROBE_READ_STR => probe::probe_read_user_str, "as bpf_probe_read_user_str";
    PROBE_READ_USER => probe::probe_read_user, "current task's memory via process_vm_readv; -EFAULT and a zeroed destination on a bad address";
    PROBE_READ_KERNEL => probe::probe_read_kernel, "the runtime's own memory (the program's address space), fault-free";
    PROBE_READ_USER_STR => probe::probe_read_user_str, "length with NUL, or -EFAULT";
    PROBE_READ_KERNEL_STR => probe::probe_read_kernel_str, "length with NUL, or -EFAULT";
    KTIME_GET_NS => misc::ktime_get_ns, "CLOCK_MONOTONIC";
    KTIME_GET_BOOT_NS => misc::ktime_get_boot_ns, "CLOCK_BOOTTIME";
    KTIME_GET_COARSE_NS => misc::ktime_get_coarse_ns, "CLOCK_MONOTONIC_COARSE";
    KTIME_GET_TAI_NS => misc::ktime_get_tai_ns, "CLOCK_TAI";
    JIFFIES64 => misc::jiffies64, "the kernel's jiffies, derived from CLOCK_MONOTONIC_COARSE and the kernel's HZ";
    GET_PRANDOM_U32 => misc::get_prandom_u32, "per-thread pseudo-random generator";
    GET_SMP_PROCESSOR_ID => misc::get_smp_processor_id, "the runtime's CPU index of the running thread";
    GET_NUMA_NODE_ID => misc::get_numa_node_id, "NUMA node of the host CPU the thread runs on";
    GET_CURRENT_PID_TGID => misc::get_current_pid_tgid, "the run's current task";
    GET_CURRENT_UID_GID => misc::get_current_uid_gid, "the run's current task";
    GET_CURRENT_COMM => misc::get_current_comm, "the run's current task";
    STRNCMP => misc::strncmp, "-1, 0 or 1";
    STRTOL => misc::strtol, "the kernel's parsing rules and errnos";
    STRTOUL => misc::strtoul, "the kernel's parsing rules and errnos";
    TRACE_PRINTK => print::trace_printk, "to the runtime's trace buffer, Linux's format rules";
    TRACE_VPRINTK => print::trace_vprintk, "to the runtime's trace buffer, up to 12 arguments";
    SNPRINTF => print::snprintf, "Linux's format rules, returns the length with NUL";
    RINGBUF_OUTPUT => maps::ringbuf_output, "";
    RINGBUF_RESERVE => maps::ringbuf_reserve, "";
    RINGBUF_SUBMIT => maps::ringbuf_submit, "";
    RINGBUF_DISCARD => maps::ringbuf_discard, "";
    RINGBUF_QUERY => maps::ringbuf_query, "";
    PERF_EVENT_OUTPUT => maps::perf_event_output, "to the perf buffers opened on the map; packet bytes for skb/XDP types";
    TAIL_CALL => maps::tail_call, "33 per run; fails with -ENOENT (Linux leaves r0 unspecified)";
    LOOP => maps::bpf_loop, "callbacks need an engine that supports them";
    SPIN_LOCK => misc::spin_lock, "a u32 spin lock in program memory (the verifier's lock rules are not enforced)";
    SPIN_UNLOCK => misc::spin_unlock, "";
    FOR_EACH_MAP_ELEM => maps::for_each_map_elem, "arrays and hash maps";
}

/// The built-in helper with Linux id `id`.
pub fn implemented(id: u32) -> Option<&'static HelperDef> {
    IMPLEMENTED.iter().find(|d| d.id == id)
}

/// Why a program's helper calls were refused at load time.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HelperSetError {
    #[error("instruction {pc}: program type {prog_type} may not call helper {id} ({name})")]
    NotAllowed {
        pc: usize,
        id: u32,
        name: String,
        prog_type: ProgType,
    },
    #[error(
        "instruction {pc}: helper {id} ({name}) is not implemented by the oxbpf userspace runtime"
    )]
    NotImplemented { pc: usize, id: u32, name: String },
    #[error(
        "instruction {pc}: helper {id} is not a Linux helper and no embedder helper has that id"
    )]
    Unknown { pc: usize, id: i64 },
}

/// Builds the helpers a program of type `prog_type` gets: the built-in helpers its type may
/// call, then every helper in `extra` (embedder helpers, which replace built-ins of the
/// same id and are allowed for every type). Then checks every `call imm` of `program`
/// (when given): each must be one of those helpers, else the program is refused with the
/// first offending instruction.
pub fn helpers_for(
    prog_type: ProgType,
    extra: &Helpers,
    program: Option<&Program>,
) -> Result<Helpers, HelperSetError> {
    let mut h = Helpers::new();
    for d in IMPLEMENTED {
        if progtype::allows(prog_type, d.id) {
            h.register(d.id, &d.name(), d.func);
        }
    }
    // The packet helpers (XDP and skb), for the types that may call them.
    let mut packet = Helpers::new();
    crate::packet::register_helpers(&mut packet);
    for id in packet.ids() {
        if let Some(p) = packet
            .get(id as u64)
            .filter(|_| progtype::allows(prog_type, id))
        {
            let f = p.func.clone();
            h.register(id, &p.name, move |ctx: &mut HelperCtx<'_>, a| f(ctx, a));
        }
    }
    for id in extra.ids() {
        if let Some(e) = extra.get(id as u64) {
            let f = e.func.clone();
            h.register(id, &e.name, move |ctx: &mut HelperCtx<'_>, a| f(ctx, a));
        }
    }
    if let Some(p) = program {
        check_calls(prog_type, &h, p)?;
    }
    Ok(h)
}

/// Checks that every helper `program` calls is in `helpers`, explaining why not.
pub fn check_calls(
    prog_type: ProgType,
    helpers: &Helpers,
    program: &Program,
) -> Result<(), HelperSetError> {
    for (_, slot, insn) in program.iter() {
        let Insn::Call(CallTarget::Helper(id)) = *insn else {
            continue;
        };
        if id >= 0 && helpers.get(id as u64).is_some() {
            continue;
        }
        let Some(name) = u32::try_from(id).ok().and_then(ids::name) else {
            return Err(HelperSetError::Unknown {
                pc: slot,
                id: id as i64,
            });
        };
        let id = id as u32;
        if !progtype::allows(prog_type, id) {
            return Err(HelperSetError::NotAllowed {
                pc: slot,
                id,
                name,
                prog_type,
            });
        }
        return Err(HelperSetError::NotImplemented { pc: slot, id, name });
    }
    Ok(())
}

/// `-errno` as a register value.
pub(crate) fn neg(errno: i32) -> u64 {
    (-(errno as i64)) as u64
}

/// The error for helpers that need the runtime's run record and did not get one.
pub(crate) fn no_env() -> HelperError {
    HelperError::Abort(
        "this helper needs the oxbpf runtime's run environment (run the program through oxbpf_runtime)"
            .into(),
    )
}

/// The error for a map argument that is not a map handle of this program.
pub(crate) fn not_a_map(v: u64) -> HelperError {
    HelperError::Abort(format!("0x{v:x} is not a map of this program"))
}

/// The run record, or the error saying it is missing.
pub(crate) fn env_of<'c>(ctx: &'c mut HelperCtx<'_>) -> Result<&'c mut RunEnv, HelperError> {
    ctx.env::<RunEnv>().ok_or_else(no_env)
}

#[cfg(test)]
mod tests;
