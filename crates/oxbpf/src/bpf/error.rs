//! Errors of the [`Bpf`](super::Bpf) facade.

use thiserror::Error;

/// Why a [`Bpf`](super::Bpf) call failed. Every variant names the place (file, program,
/// map, attach target) and the cause.
#[derive(Debug, Error)]
pub enum BpfError {
    /// C compilation failed (clang missing, or clang reported errors).
    #[error("{source_name}: {error}")]
    Build {
        source_name: String,
        error: Box<oxbpf_obj::build::BuildError>,
    },
    /// The ELF object could not be parsed.
    #[error("{source_name}: {error}")]
    Object {
        source_name: String,
        error: Box<oxbpf_obj::ObjError>,
    },
    /// Assembly text did not assemble.
    #[error("{source_name}:{line}:{column}: {message}")]
    Asm {
        source_name: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// oxbpf's verifier rejected a program (userspace backend).
    #[error("{source_name}: program `{program}` rejected by the verifier: {summary}")]
    Verifier {
        source_name: String,
        program: String,
        /// The instruction, its C source line and the cause, with a hint.
        summary: String,
        /// The full report: the path, the abstract state.
        report: String,
    },
    /// A file could not be read.
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    /// The userspace runtime refused the object (maps, map references, helper sets,
    /// engine).
    #[error("{source_name}: {error}")]
    Load {
        source_name: String,
        error: Box<oxbpf_runtime::loader::LoadError>,
    },
    /// The kernel backend failed (load, verifier, attach, maps, tracefs).
    #[error("{0}")]
    Kernel(Box<oxbpf_kernel::KernelError>),
    /// The system call tracer failed (command not found, ptrace refused, ...).
    #[error("{0}")]
    Tracer(Box<oxbpf_runtime::tracer::TracerError>),
    /// A packet capture could not be run.
    #[error("{0}")]
    Packet(Box<oxbpf_runtime::packet::PacketError>),
    /// No program of that name.
    #[error("no program named `{name}` (programs: {available})")]
    NoProgram { name: String, available: String },
    /// No map of that name.
    #[error("no map named `{name}` (maps: {available})")]
    NoMap { name: String, available: String },
    /// A map operation failed.
    #[error("map `{map}`: {reason}")]
    Map { map: String, reason: String },
    /// An attach request that cannot be served.
    #[error("attaching `{program}` to {target}: {reason}")]
    Attach {
        program: String,
        target: String,
        reason: String,
    },
    /// An attach target that does not parse.
    #[error("attach target `{target}`: {reason}")]
    Target { target: String, reason: String },
    /// Something this backend does not do, and what to use instead.
    #[error("{what}")]
    Unsupported { what: String },
    /// A call made in the wrong state or with bad arguments.
    #[error("{0}")]
    Usage(String),
}

impl From<oxbpf_kernel::KernelError> for BpfError {
    fn from(e: oxbpf_kernel::KernelError) -> BpfError {
        BpfError::Kernel(Box::new(e))
    }
}

impl From<oxbpf_runtime::tracer::TracerError> for BpfError {
    fn from(e: oxbpf_runtime::tracer::TracerError) -> BpfError {
        BpfError::Tracer(Box::new(e))
    }
}

impl From<oxbpf_runtime::packet::PacketError> for BpfError {
    fn from(e: oxbpf_runtime::packet::PacketError) -> BpfError {
        BpfError::Packet(Box::new(e))
    }
}

impl BpfError {
    /// A short report for people: for verifier rejections, the failing instruction and C
    /// source line rather than the whole log (see [`BpfError::verifier_log`]).
    pub fn summary(&self) -> String {
        match self {
            BpfError::Kernel(k) => k.summary(),
            other => other.to_string(),
        }
    }

    /// The full verifier log of a rejection: the kernel's log, or oxbpf's verifier report
    /// (the path to the failing instruction and the abstract state there).
    pub fn verifier_log(&self) -> Option<&str> {
        match self {
            BpfError::Kernel(k) => k.verifier_log(),
            BpfError::Verifier { report, .. } => Some(report),
            _ => None,
        }
    }

    /// True when a program was rejected (by oxbpf's verifier, the kernel's, or a helper
    /// set check) rather than the input being unreadable or the call misused.
    pub fn is_rejection(&self) -> bool {
        matches!(self, BpfError::Verifier { .. })
            || matches!(self, BpfError::Kernel(k) if matches!(**k, oxbpf_kernel::KernelError::Verifier { .. }))
            || matches!(self, BpfError::Load { error, .. } if matches!(**error, oxbpf_runtime::loader::LoadError::Helpers { .. }))
    }
}
