//! The oxbpf Linux kernel backend (on aya).
//!
//! - Raw bytecode: [`load_raw`] (`BPF_PROG_LOAD` with the verifier log and a parsed
//!   [`VerifierSummary`] on rejection), [`test_run`] (`BPF_PROG_TEST_RUN`), program
//!   listing and info ([`loaded_programs`], [`program_info`], [`LoadedProgram::info`]).
//! - Maps addressed with bytes: [`create_map`], [`KernelMap`].
//! - Attaching raw programs: [`attach`] (tracepoints, raw tracepoints, BTF tracing,
//!   socket filters).
//! - ELF objects through aya: [`KernelObject`].
//! - tracefs: [`Tracefs`] (find or mount, list tracepoints, formats), [`TracePipe`].
//! - Feature probes: [`probe`].
//!
//! aya is used wherever it has a public API (objects, maps, attach of object programs,
//! program listing, BTF). What it lacks for raw bytecode is in the private `sys` module,
//! the crate's only `unsafe`; see docs/ARCHITECTURE.md.

pub mod attach;
mod error;
mod map;
mod object;
pub mod probe;
mod prog;
mod sys;
pub mod trace_pipe;
pub mod tracefs;
mod types;
mod verifier_log;

pub use attach::Attachment;
pub use error::{errno_text, KernelError};
pub use map::{create_map, KernelMap, MapSpec, UpdateMode};
pub use object::{KernelObject, ObjectLink};
pub use prog::{
    load_raw, loaded_programs, program_info, test_run, wait_unloaded, Bytecode, LoadOptions,
    LoadedProgram, ProgInfo, TestRunInput, TestRunOutput, DEFAULT_LOG_SIZE, MAX_LOG_SIZE,
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
    }
}
