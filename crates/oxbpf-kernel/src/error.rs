//! The crate's error type.

use std::io;
use std::path::PathBuf;

use crate::context::ContextRead;
use crate::fallback::Fallback;
use crate::target::AttachKind;
use crate::verifier_log::VerifierSummary;

/// Everything that can go wrong talking to the kernel.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KernelError {
    /// `BPF_PROG_LOAD` failed and the verifier said why (or the load was refused before
    /// verification; then `log` may be empty and `summary.message` is the errno's text).
    #[error("the kernel rejected program `{program}` (errno {errno}): {summary}")]
    Verifier {
        /// The program's name as given to the kernel.
        program: String,
        /// The errno of `BPF_PROG_LOAD` (`EACCES` and `EINVAL` are the usual verdicts).
        errno: i32,
        /// The verifier log (tail, when the kernel rotated it).
        log: String,
        /// The failing instruction and message, parsed from `log` (boxed to keep the error
        /// small).
        summary: Box<VerifierSummary>,
    },

    /// `BPF_BTF_LOAD` failed: the kernel's BTF checker refused the blob.
    #[error("the kernel rejected the BTF (errno {errno}): {}", last_line(log))]
    BtfRejected {
        /// The errno of `BPF_BTF_LOAD`.
        errno: i32,
        /// The kernel's BTF log.
        log: String,
    },

    /// The kernel refused for lack of privilege (`EPERM`) before any verification.
    #[error("{op} was refused: {reason}")]
    PermissionDenied {
        /// The operation, e.g. `BPF_PROG_LOAD`.
        op: &'static str,
        /// Plain words: what was refused and what usually causes it.
        reason: String,
    },

    /// A system call failed.
    #[error("{op} failed ({context}): {source}")]
    Syscall {
        /// The system call or `bpf()` command.
        op: &'static str,
        /// What it was doing, e.g. the program or map name.
        context: String,
        /// The error the kernel returned.
        #[source]
        source: io::Error,
    },

    /// The caller passed something the kernel interface cannot take.
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// The argument.
        what: &'static str,
        /// Why.
        reason: String,
    },

    /// A test-run output buffer was too small for what the program produced.
    #[error("BPF_PROG_TEST_RUN: {what} needs {needed} bytes, the buffer has {given}")]
    OutputTooSmall {
        /// `data_out` or `ctx_out`.
        what: &'static str,
        /// The size the kernel reported.
        needed: usize,
        /// The size that was passed.
        given: usize,
    },

    /// The running kernel does not support the operation.
    #[error("unsupported by this kernel: {what}")]
    Unsupported {
        /// What is unsupported, in plain words.
        what: String,
    },

    /// A named thing (program, map, tracepoint, BTF type) does not exist.
    #[error("{what} not found: {name}")]
    NotFound {
        /// The kind of thing.
        what: &'static str,
        /// Its name.
        name: String,
    },

    /// tracefs could not be found or mounted.
    #[error("tracefs is not available: {reason}")]
    TracefsUnavailable {
        /// Every place tried and why it failed.
        reason: String,
    },

    /// Reading or writing a file (tracefs, sysfs, procfs, an object file) failed.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// A kernel-provided text file did not have the expected shape.
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        message: String,
    },

    /// The object file is malformed: oxbpf-obj's checks, which run before aya sees the
    /// bytes (aya-obj panics on some malformed objects), refused it; or aya panicked on
    /// it anyway ([`oxbpf_obj::ObjError::Aya`]).
    #[error("object file: {source}")]
    ObjectFile {
        /// What is wrong, with the section, symbol or relocation.
        #[source]
        source: oxbpf_obj::ObjError,
    },

    /// aya failed to load an object file.
    #[error("loading the object with aya: {source}")]
    Object {
        /// aya's error.
        #[source]
        source: Box<aya::EbpfError>,
    },

    /// aya failed on a program of an object (load, attach, detach).
    #[error("program `{program}`: {op}: {source}")]
    Program {
        /// The program name.
        program: String,
        /// `load`, `attach`, `detach`.
        op: &'static str,
        /// aya's error.
        #[source]
        source: Box<aya::programs::ProgramError>,
    },

    /// The running kernel cannot attach this kind of program here. `alternative` is what
    /// would work instead (attach with a [`crate::FallbackPolicy`] other than `Never` to
    /// use it).
    #[error("{}", unsupported_message(target, reason, alternative.as_deref()))]
    AttachUnsupported {
        /// The attach kind.
        kind: AttachKind,
        /// The requested target, as text (`kprobe:do_sys_openat2`).
        target: String,
        /// Why, in plain words (`kprobes are not available on this kernel (no kprobe PMU,
        /// no kprobe_events)`).
        reason: String,
        /// The working alternative, when there is one.
        alternative: Option<Box<Fallback>>,
    },

    /// A fallback would move a program that reads its context to a place where the
    /// context is laid out differently ([`crate::FallbackPolicy::IfContextUnused`]).
    #[error(
        "{}; not falling back to {} because program `{program}` reads its {context} ({read}), and a tracepoint program's context is the tracepoint record, so it would read wrong values (fix: attach it where it was written for, or write it for the tracepoint)",
        fallback.reason, fallback.targets_text()
    )]
    FallbackRefused {
        /// The program.
        program: String,
        /// The context it was written for (`struct pt_regs`, `fentry arguments`).
        context: &'static str,
        /// The first place it reads the context.
        read: ContextRead,
        /// The fallback that was refused.
        fallback: Box<Fallback>,
    },

    /// Detaching failed (the attachment is gone from oxbpf's side either way).
    #[error("detaching program `{program}` from {targets}: {reason}")]
    DetachFailed {
        /// The program.
        program: String,
        /// Its targets.
        targets: String,
        /// What failed.
        reason: String,
    },

    /// aya failed on a map.
    #[error("map `{map}`: {source}")]
    Map {
        /// The map name.
        map: String,
        /// aya's error.
        #[source]
        source: Box<aya::maps::MapError>,
    },
}

impl KernelError {
    pub(crate) fn syscall(op: &'static str, context: impl Into<String>, source: io::Error) -> Self {
        KernelError::Syscall {
            op,
            context: context.into(),
            source,
        }
    }

    pub(crate) fn file(path: impl Into<PathBuf>, source: io::Error) -> Self {
        KernelError::File {
            path: path.into(),
            source,
        }
    }

    /// The short report for people: for a verifier rejection, several lines with the
    /// failing instruction, its C source line and the kernel's message; for everything
    /// else the one-line message. (The full verifier log is [`KernelError::verifier_log`],
    /// for `--verbose`.)
    pub fn summary(&self) -> String {
        match self {
            KernelError::Verifier {
                program,
                errno,
                summary,
                ..
            } => {
                let mut s = format!(
                    "the kernel verifier rejected program `{program}` ({})",
                    errno_text(*errno)
                );
                if let Some(src) = &summary.source {
                    s.push_str(&format!("\n  at {src}"));
                }
                match (summary.insn, summary.slot, &summary.insn_text) {
                    (Some(i), _, Some(t)) => s.push_str(&format!("\n  instruction {i}: {t}")),
                    (None, Some(slot), Some(t)) => {
                        s.push_str(&format!("\n  instruction slot {slot}: {t}"))
                    }
                    (_, Some(slot), None) => s.push_str(&format!("\n  instruction slot {slot}")),
                    _ => {}
                }
                s.push_str(&format!("\n  {}", summary.message));
                s
            }
            other => other.to_string(),
        }
    }

    /// The full verifier log of a rejection.
    pub fn verifier_log(&self) -> Option<&str> {
        match self {
            KernelError::Verifier { log, .. } => Some(log),
            _ => None,
        }
    }

    /// The errno behind this error, when there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            KernelError::Verifier { errno, .. } => Some(*errno),
            KernelError::PermissionDenied { .. } => Some(libc::EPERM),
            KernelError::Syscall { source, .. } | KernelError::File { source, .. } => {
                source.raw_os_error()
            }
            KernelError::Map { source, .. } => match source.as_ref() {
                aya::maps::MapError::CreateError { io_error, .. } => io_error.raw_os_error(),
                aya::maps::MapError::SyscallError(s) => s.io_error.raw_os_error(),
                _ => None,
            },
            KernelError::Program { source, .. } => match source.as_ref() {
                aya::programs::ProgramError::LoadError { io_error, .. } => io_error.raw_os_error(),
                aya::programs::ProgramError::SyscallError(s) => s.io_error.raw_os_error(),
                _ => None,
            },
            _ => None,
        }
    }
}

fn unsupported_message(target: &str, reason: &str, alt: Option<&Fallback>) -> String {
    match alt {
        Some(f) => {
            let mut s = format!(
                "cannot attach to {target}: {reason}; the working alternative is {}",
                f.targets_text()
            );
            if !f.derivation.is_empty() {
                s.push_str(" (");
                s.push_str(&f.derivation);
                s.push(')');
            }
            s
        }
        None => format!("cannot attach to {target}: {reason}"),
    }
}

/// Plain-words text for an errno (`strerror`, plus the kernel-internal codes).
pub fn errno_text(errno: i32) -> String {
    match errno {
        crate::sys::ENOTSUPP => "operation not supported (ENOTSUPP)".to_string(),
        _ => io::Error::from_raw_os_error(errno).to_string(),
    }
}

/// The last non-empty line of a kernel log (its verdict).
fn last_line(log: &str) -> &str {
    log.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(no log)")
}
