//! Attaching programs loaded with [`crate::load_raw`].
//!
//! aya attaches only the programs of objects it loaded itself (its program types wrap its
//! own loader state), so raw programs are attached here: tracepoints through a perf event
//! and a `bpf_link` (`BPF_LINK_CREATE` with `BPF_PERF_EVENT`, falling back to the
//! `PERF_EVENT_IOC_SET_BPF` ioctl on kernels before 5.15), raw tracepoints and BTF-typed
//! tracing programs with `BPF_RAW_TRACEPOINT_OPEN`, socket filters with `SO_ATTACH_BPF`.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::error::KernelError;
use crate::prog::LoadedProgram;
use crate::sys;
use crate::tracefs::Tracefs;
use crate::types::{AttachType, ProgType};

/// An attachment; detached when dropped (or by [`Attachment::detach`]).
#[derive(Debug)]
pub struct Attachment {
    link: OwnedFd,
    // The perf event a perf link is built on; closed after the link.
    _perf: Option<OwnedFd>,
    target: String,
}

impl Attachment {
    /// What it is attached to, e.g. `tracepoint:syscalls:sys_enter_openat`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The link (or perf event) descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.link.as_fd()
    }

    /// Detaches now.
    pub fn detach(self) {
        drop(self);
    }
}

fn expect_type(prog: &LoadedProgram, want: &[ProgType], target: &str) -> Result<(), KernelError> {
    if want.contains(&prog.prog_type()) {
        Ok(())
    } else {
        Err(KernelError::InvalidInput {
            what: "program type",
            reason: format!(
                "program `{}` is {}, {target} needs {}",
                prog.name(),
                prog.prog_type(),
                want.iter()
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        })
    }
}

/// Attaches a tracepoint program (`ProgType::Tracepoint`) to `category:name`, mounting
/// tracefs if needed to find the event id.
pub fn attach_tracepoint(
    prog: &LoadedProgram,
    category: &str,
    name: &str,
) -> Result<Attachment, KernelError> {
    let target = format!("tracepoint:{category}:{name}");
    expect_type(prog, &[ProgType::Tracepoint], &target)?;
    let tracefs = Tracefs::find_or_mount()?;
    let id = tracefs.tracepoint_id(category, name)?;
    let perf = sys::perf_event_open_tracepoint(id, 0)
        .map_err(|e| KernelError::syscall("perf_event_open", &target, e))?;
    match sys::link_create(prog.fd(), perf.as_fd(), AttachType::PerfEvent.id()) {
        Ok(link) => Ok(Attachment {
            link,
            _perf: Some(perf),
            target,
        }),
        // Before 5.15 perf events cannot be bpf_links.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EINVAL) | Some(libc::EOPNOTSUPP)
            ) =>
        {
            sys::perf_event_set_bpf_and_enable(perf.as_fd(), prog.fd())
                .map_err(|e| KernelError::syscall("PERF_EVENT_IOC_SET_BPF", &target, e))?;
            Ok(Attachment {
                link: perf,
                _perf: None,
                target,
            })
        }
        Err(e) => Err(KernelError::syscall("BPF_LINK_CREATE", target, e)),
    }
}

/// Attaches a raw tracepoint program (`ProgType::RawTracepoint`) to the kernel tracepoint
/// `name` (e.g. `sys_enter`, `sched_switch`).
pub fn attach_raw_tracepoint(prog: &LoadedProgram, name: &str) -> Result<Attachment, KernelError> {
    let target = format!("raw_tracepoint:{name}");
    expect_type(
        prog,
        &[ProgType::RawTracepoint, ProgType::RawTracepointWritable],
        &target,
    )?;
    let c = CString::new(name).map_err(|_| KernelError::InvalidInput {
        what: "raw tracepoint name",
        reason: format!("`{name}` contains a NUL byte"),
    })?;
    let link =
        sys::raw_tracepoint_open(Some(&c), prog.fd()).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) => KernelError::NotFound {
                what: "raw tracepoint",
                name: name.to_string(),
            },
            _ => KernelError::syscall("BPF_RAW_TRACEPOINT_OPEN", target.clone(), e),
        })?;
    Ok(Attachment {
        link,
        _perf: None,
        target,
    })
}

/// Attaches a BTF-typed tracing program (`ProgType::Tracing`: tp_btf, fentry, fexit,
/// fmod_ret; or `ProgType::Lsm`) to the target it was loaded for (`attach_btf_id`).
pub fn attach_btf_tracing(prog: &LoadedProgram) -> Result<Attachment, KernelError> {
    let target = format!("btf target of `{}`", prog.name());
    expect_type(prog, &[ProgType::Tracing, ProgType::Lsm], &target)?;
    let link = sys::raw_tracepoint_open(None, prog.fd()).map_err(|e| match e.raw_os_error() {
        Some(sys::ENOTSUPP) => KernelError::Unsupported {
            what: format!("BPF trampolines ({target})"),
        },
        _ => KernelError::syscall("BPF_RAW_TRACEPOINT_OPEN", target.clone(), e),
    })?;
    Ok(Attachment {
        link,
        _perf: None,
        target,
    })
}

/// Attaches a socket filter (`ProgType::SocketFilter`) to a socket. It stays attached
/// while the socket is open.
pub fn attach_socket_filter(prog: &LoadedProgram, socket: &impl AsFd) -> Result<(), KernelError> {
    expect_type(prog, &[ProgType::SocketFilter], "a socket")?;
    sys::attach_socket_filter(socket.as_fd(), prog.fd())
        .map_err(|e| KernelError::syscall("setsockopt(SO_ATTACH_BPF)", prog.name(), e))
}
