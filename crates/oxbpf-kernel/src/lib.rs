//! The oxbpf Linux kernel backend (on aya).
//!
//! - ELF objects through aya: [`KernelObject`] — one `attach_*` call per attach kind
//!   (tracepoint, raw tracepoint, tp_btf, kprobe/kretprobe, fentry/fexit,
//!   uprobe/uretprobe, XDP, socket filter, tc, perf event, cgroup skb), each returning a
//!   [`Link`] that detaches on drop; [`KernelObject::attach`] with an [`AttachTarget`]
//!   (`kprobe:do_sys_openat2`, ...) and a [`FallbackPolicy`]; maps by name, ring and perf
//!   buffer readers ([`RingBufReader`], [`PerfReader`]).
//! - When the kernel lacks an attach kind: [`KernelError::AttachUnsupported`] naming the
//!   alternative, [`fallback`] planning (syscall functions → `syscalls:sys_enter_*`
//!   tracepoints via [`syscalls`]), [`context`] analysis of whether a program reads its
//!   context.
//! - Verifier rejections: [`KernelError::Verifier`] with a [`VerifierSummary`] including
//!   the C [`SourceLine`] ([`source`]); [`KernelError::summary`] short,
//!   [`KernelError::verifier_log`] full.
//! - Raw bytecode: [`load_raw`] (`BPF_PROG_LOAD` with the verifier log and a parsed
//!   [`VerifierSummary`] on rejection), [`test_run`] (`BPF_PROG_TEST_RUN`), program
//!   listing and info ([`loaded_programs`], [`program_info`], [`LoadedProgram::info`]),
//!   and [`attach`] for raw programs.
//! - Maps addressed with bytes or `Pod` types: [`create_map`], [`KernelMap`].
//! - tracefs: [`Tracefs`] (find or mount, list tracepoints, formats), [`TracePipe`].
//! - Feature probes: [`probe`]; the `oxbpf doctor` report: [`doctor`]; Ctrl-C:
//!   [`signals`]; raw packet sockets: [`PacketSocket`].
//!
//! aya is used wherever it has a public API (objects, maps, attach of object programs,
//! program listing, BTF, ring and perf buffers). What it lacks is in the private `sys`
//! module, the crate's only `unsafe`; see docs/DESIGN.md.

pub mod attach;
pub mod context;
pub mod doctor;
mod error;
pub mod events;
pub mod fallback;
mod link;
mod loader;
mod map;
mod object;
pub mod probe;
mod prog;
pub mod signals;
mod socket;
pub mod source;
mod sys;
pub mod syscalls;
pub mod target;
pub mod trace_pipe;
pub mod tracefs;
mod types;
mod usym;
mod verifier_log;

pub use attach::Attachment;
pub use context::ContextRead;
pub use error::{errno_text, KernelError};
pub use events::{PerfReader, PerfRecord, RingBufReader};
pub use fallback::{plan_fallback, AttachSupport, Fallback, FallbackPolicy, TracepointSet};
pub use link::{detach_all, Link};
pub use loader::prewarm;
pub use map::{create_map, KernelMap, MapEntry, MapSpec, UpdateMode};
pub use object::{Attached, KernelObject, ObjectOptions};
pub use prog::{
    load_btf, load_raw, loaded_programs, program_info, test_run, wait_unloaded, Bytecode,
    KernelBtf, LoadOptions, LoadedProgram, ProgInfo, TestRunInput, TestRunOutput, DEFAULT_LOG_SIZE,
    FUNC_INFO_REC_SIZE, LINE_INFO_REC_SIZE, MAX_LOG_SIZE,
};
pub use socket::PacketSocket;
pub use source::{LineTable, SourceLine};
pub use target::{
    AttachKind, AttachTarget, Direction, Interface, PerfEventKind, PerfSampling, SampleRate,
    TcMode, UprobeLocation, UprobeTarget, XdpMode,
};
pub use trace_pipe::{TraceLine, TracePipe, TraceRecord};
pub use tracefs::{TraceInstance, Tracefs, TracepointFormat, TracepointName};
pub use types::{AttachType, MapType, ProgType};
pub use verifier_log::VerifierSummary;

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_cross_threads() {
        send_sync::<LoadedProgram>();
        send_sync::<KernelMap>();
        send_sync::<Attachment>();
        send_sync::<KernelError>();
        send_sync::<TracePipe>();
        send_sync::<KernelObject>();
        send_sync::<Link>();
        send_sync::<RingBufReader>();
        send_sync::<PerfReader>();
    }
}
