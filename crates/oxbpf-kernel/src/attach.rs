//! Attaching programs loaded with [`crate::load_raw`].
//!
//! aya attaches only the programs of objects it loaded itself (its program types wrap its
//! own loader state), so raw programs are attached here: tracepoints through a perf event
//! and a `bpf_link` (`BPF_LINK_CREATE` with `BPF_PERF_EVENT`, falling back to the
//! `PERF_EVENT_IOC_SET_BPF` ioctl on kernels before 5.15), raw tracepoints and BTF-typed
//! tracing programs with `BPF_RAW_TRACEPOINT_OPEN`, socket filters with `SO_ATTACH_BPF`.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::error::KernelError;
use crate::prog::LoadedProgram;
use crate::sys;
use crate::target::{AttachTarget, UprobeTarget};
use crate::tracefs::Tracefs;
use crate::types::{AttachType, ProgType};

/// An attachment; detached when dropped (or by [`Attachment::detach`]).
///
/// Dropping detaches at once (the link is closed, so the program no longer runs), but the
/// perf event under a tracepoint, kprobe or uprobe link is closed on a background thread:
/// closing the last perf event of a tracepoint or probe unregisters it, and the kernel
/// waits for an RCU grace period there (about 35-70 ms each, one after the other, under a
/// kernel-wide lock). [`pending_closes`] and [`wait_for_closes`] tell when the kernel has
/// finished; perf events still pending when the process exits are closed by the kernel.
#[derive(Debug)]
pub struct Attachment {
    // Fields drop in order: the link first (detaches the program), then the perf event.
    link: OwnedFd,
    _perf: Option<PerfEvent>,
    target: String,
}

/// The perf event under a link, closed after it.
#[derive(Debug)]
struct PerfEvent {
    fd: Option<OwnedFd>,
    /// A probe made through tracefs `kprobe_events`/`uprobe_events` (kernels without the
    /// PMU): removed once the event is closed, here and now.
    legacy: Option<LegacyProbe>,
}

impl Drop for PerfEvent {
    fn drop(&mut self) {
        let Some(fd) = self.fd.take() else { return };
        match self.legacy.take() {
            Some(probe) => {
                drop(fd);
                probe.remove();
            }
            None => close_later(fd),
        }
    }
}

/// A dynamic event written to `kprobe_events`/`uprobe_events`.
#[derive(Debug)]
struct LegacyProbe {
    events_file: PathBuf,
    /// `kprobes/oxbpf_...`.
    name: String,
}

impl LegacyProbe {
    fn remove(self) {
        let line = format!("-:{}\n", self.name);
        if let Err(e) = append(&self.events_file, &line) {
            log::warn!(
                "removing probe {} from {}: {e}",
                self.name,
                self.events_file.display()
            );
        }
    }
}

fn append(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
    f.write_all(text.as_bytes())
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

    /// Detaches several attachments at once: their links are closed concurrently, so the
    /// grace periods the kernel waits for on each overlap.
    pub fn detach_many(attachments: Vec<Attachment>) {
        crate::link::in_parallel(attachments, drop);
    }
}

// ---------------------------------------------------------------------------------------
// Closing perf events in the background
// ---------------------------------------------------------------------------------------

struct Closer {
    tx: Sender<OwnedFd>,
}

static CLOSER: OnceLock<Mutex<Option<Closer>>> = OnceLock::new();
static QUEUED: AtomicUsize = AtomicUsize::new(0);
static CLOSED_NS: AtomicU64 = AtomicU64::new(0);

/// Closes `fd` on the closer thread (started on first use), or here when the thread
/// cannot be started.
fn close_later(fd: OwnedFd) {
    let cell = CLOSER.get_or_init(|| Mutex::new(None));
    let mut guard = cell.lock().unwrap_or_else(|p| p.into_inner());
    if guard.is_none() {
        let (tx, rx) = mpsc::channel::<OwnedFd>();
        let spawned = std::thread::Builder::new()
            .name("oxbpf-perf-close".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                for fd in rx {
                    let t = Instant::now();
                    drop(fd);
                    CLOSED_NS.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    QUEUED.fetch_sub(1, Ordering::SeqCst);
                }
            });
        match spawned {
            Ok(_) => *guard = Some(Closer { tx }),
            Err(e) => log::debug!("closing perf events synchronously: {e}"),
        }
    }
    match guard.as_ref() {
        Some(c) => {
            QUEUED.fetch_add(1, Ordering::SeqCst);
            if let Err(mpsc::SendError(fd)) = c.tx.send(fd) {
                QUEUED.fetch_sub(1, Ordering::SeqCst);
                drop(fd);
            }
        }
        None => drop(fd),
    }
}

/// Perf events of dropped attachments that the background thread has not closed yet.
pub fn pending_closes() -> usize {
    QUEUED.load(Ordering::SeqCst)
}

/// Time the background thread has spent closing perf events so far (the kernel's
/// unregistration work that drops no longer wait for).
pub fn background_close_time() -> Duration {
    Duration::from_nanos(CLOSED_NS.load(Ordering::Relaxed))
}

/// Waits until every perf event of dropped attachments is closed, or `timeout` passes;
/// true when none is pending.
pub fn wait_for_closes(timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while pending_closes() > 0 {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
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

/// Attaches a program to a perf event: a `bpf_link` (`BPF_LINK_CREATE` with
/// `BPF_PERF_EVENT`), or the `PERF_EVENT_IOC_SET_BPF` ioctl on kernels before 5.15.
fn attach_perf(
    prog: BorrowedFd<'_>,
    perf: OwnedFd,
    legacy: Option<LegacyProbe>,
    target: String,
) -> Result<Attachment, KernelError> {
    match sys::link_create(prog, perf.as_fd(), AttachType::PerfEvent.id()) {
        Ok(link) => Ok(Attachment {
            link,
            _perf: Some(PerfEvent {
                fd: Some(perf),
                legacy,
            }),
            target,
        }),
        // Before 5.15 perf events cannot be bpf_links.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EINVAL) | Some(libc::EOPNOTSUPP)
            ) =>
        {
            sys::perf_event_set_bpf_and_enable(perf.as_fd(), prog)
                .map_err(|e| KernelError::syscall("PERF_EVENT_IOC_SET_BPF", &target, e))?;
            // The perf event is the attachment: closing it detaches, so it closes now.
            Ok(Attachment {
                link: perf,
                _perf: legacy.map(|l| PerfEvent {
                    fd: None,
                    legacy: Some(l),
                }),
                target,
            })
        }
        Err(e) => {
            drop(perf);
            if let Some(l) = legacy {
                l.remove();
            }
            Err(KernelError::syscall("BPF_LINK_CREATE", target, e))
        }
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
    attach_tracepoint_fd(prog.fd(), category, name)
}

/// [`attach_tracepoint`] for a program known only by its descriptor (aya's programs).
pub(crate) fn attach_tracepoint_fd(
    prog: BorrowedFd<'_>,
    category: &str,
    name: &str,
) -> Result<Attachment, KernelError> {
    let target = format!("tracepoint:{category}:{name}");
    let tracefs = Tracefs::find_or_mount()?;
    let id = tracefs.tracepoint_id(category, name)?;
    let perf = sys::perf_event_open_tracepoint(id, None)
        .map_err(|e| KernelError::syscall("perf_event_open", &target, e))?;
    attach_perf(prog, perf, None, target)
}

const PMU_DIR: &str = "/sys/bus/event_source/devices";

/// The perf type of dynamic-probe PMU `pmu` (`kprobe`, `uprobe`), if the kernel has it.
fn pmu_type(pmu: &str) -> Option<u32> {
    std::fs::read_to_string(format!("{PMU_DIR}/{pmu}/type"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// The config bit that makes a `pmu` probe a return probe (`format/retprobe`:
/// `config:0`).
fn retprobe_bit(pmu: &str) -> Result<u64, KernelError> {
    let path = PathBuf::from(format!("{PMU_DIR}/{pmu}/format/retprobe"));
    let text = std::fs::read_to_string(&path).map_err(|e| KernelError::file(&path, e))?;
    text.trim()
        .strip_prefix("config:")
        .and_then(|b| b.parse::<u32>().ok())
        .filter(|b| *b < 64)
        .map(|b| 1u64 << b)
        .ok_or_else(|| KernelError::Parse {
            path,
            line: 1,
            message: format!("expected `config:BIT`, found `{}`", text.trim()),
        })
}

static PROBE_SEQ: AtomicUsize = AtomicUsize::new(0);

/// A dynamic event through tracefs (`p:kprobes/NAME SPEC` in `kprobe_events`), for kernels
/// without the probe PMU; returns its perf event and the guard that removes it.
fn legacy_probe(
    kind: &str,
    ret: bool,
    spec: &str,
    pid: Option<u32>,
    target: &str,
) -> Result<(OwnedFd, LegacyProbe), KernelError> {
    let tracefs = Tracefs::find_or_mount()?;
    let events_file = tracefs.path(format!("{kind}_events"));
    let event = format!(
        "oxbpf_{}_{}",
        std::process::id(),
        PROBE_SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let group = format!("{kind}s");
    let line = format!("{}:{group}/{event} {spec}\n", if ret { 'r' } else { 'p' });
    append(&events_file, &line).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT | libc::EINVAL) => KernelError::NotFound {
            what: if kind == "kprobe" {
                "kernel function (not in /proc/kallsyms, or not probeable)"
            } else {
                "uprobe location"
            },
            name: spec.to_string(),
        },
        _ => KernelError::file(&events_file, e),
    })?;
    let probe = LegacyProbe {
        events_file,
        name: format!("{group}/{event}"),
    };
    let id = match tracefs.tracepoint_id(&group, &event) {
        Ok(id) => id,
        Err(e) => {
            probe.remove();
            return Err(e);
        }
    };
    match sys::perf_event_open_tracepoint(id, pid) {
        Ok(fd) => Ok((fd, probe)),
        Err(e) => {
            probe.remove();
            Err(KernelError::syscall("perf_event_open", target, e))
        }
    }
}

/// Attaches a kprobe program (`ProgType::Kprobe`) to kernel function `function` (+`offset`
/// bytes), or its return (`ret`). Uses the kprobe PMU, or tracefs `kprobe_events` on
/// kernels without it; on a kernel with neither the error is
/// [`KernelError::AttachUnsupported`] with the alternative
/// ([`crate::plan_fallback`]), which [`crate::KernelObject::attach`] and the facade use.
pub fn attach_kprobe(
    prog: &LoadedProgram,
    function: &str,
    offset: u64,
    ret: bool,
) -> Result<Attachment, KernelError> {
    let target = if ret {
        AttachTarget::Kretprobe {
            function: function.to_string(),
        }
    } else {
        AttachTarget::Kprobe {
            function: function.to_string(),
            offset,
        }
    };
    expect_type(prog, &[ProgType::Kprobe], &target.to_string())?;
    attach_kprobe_fd(prog.fd(), &target)
}

/// [`attach_kprobe`] for a program known only by its descriptor; `target` is a kprobe or
/// kretprobe.
pub(crate) fn attach_kprobe_fd(
    prog: BorrowedFd<'_>,
    target: &AttachTarget,
) -> Result<Attachment, KernelError> {
    let (function, offset, ret) = match target {
        AttachTarget::Kprobe { function, offset } => (function, *offset, false),
        AttachTarget::Kretprobe { function } => (function, 0, true),
        other => {
            return Err(KernelError::InvalidInput {
                what: "attach target",
                reason: format!("{other} is not a kprobe or kretprobe"),
            })
        }
    };
    let text = target.to_string();
    let not_found = || KernelError::NotFound {
        what: "kernel function (not in /proc/kallsyms, or not probeable)",
        name: function.clone(),
    };
    if let Some(ty) = pmu_type("kprobe") {
        let config = if ret { retprobe_bit("kprobe")? } else { 0 };
        let name = CString::new(function.as_str()).map_err(|_| KernelError::InvalidInput {
            what: "kernel function",
            reason: format!("`{function}` contains a NUL byte"),
        })?;
        let perf =
            sys::perf_event_open_probe(ty, config, &name, offset, None).map_err(|e| {
                match e.raw_os_error() {
                    Some(libc::ENOENT | libc::EINVAL) => not_found(),
                    _ => KernelError::syscall("perf_event_open", &text, e),
                }
            })?;
        return attach_perf(prog, perf, None, text);
    }
    let has_events = Tracefs::find_or_mount()
        .map(|t| t.path("kprobe_events").exists())
        .unwrap_or(false);
    if has_events {
        let spec = if offset > 0 {
            format!("{function}+{offset}")
        } else {
            function.clone()
        };
        let (perf, probe) = legacy_probe("kprobe", ret, &spec, None, &text)?;
        return attach_perf(prog, perf, Some(probe), text);
    }
    let reason = crate::fallback::kprobe_unavailable_reason().unwrap_or_else(|| {
        "kprobes are not available on this kernel (no kprobe PMU, no kprobe_events)".to_string()
    });
    Err(crate::fallback::unsupported_error(target, reason))
}

/// Attaches a uprobe program (`ProgType::Kprobe`, as the kernel types uprobe programs) to
/// a function or file offset of a binary (`ret`: its return), for every process or the
/// target's one. The binary may be a path, a program in `PATH` or a library name
/// (`libc`); symbols are looked up in its dynamic symbols and symbol table.
pub fn attach_uprobe(
    prog: &LoadedProgram,
    target: &UprobeTarget,
    ret: bool,
) -> Result<Attachment, KernelError> {
    let t = if ret {
        AttachTarget::Uretprobe(target.clone())
    } else {
        AttachTarget::Uprobe(target.clone())
    };
    expect_type(prog, &[ProgType::Kprobe], &t.to_string())?;
    attach_uprobe_fd(prog.fd(), target, ret)
}

/// [`attach_uprobe`] for a program known only by its descriptor.
pub(crate) fn attach_uprobe_fd(
    prog: BorrowedFd<'_>,
    target: &UprobeTarget,
    ret: bool,
) -> Result<Attachment, KernelError> {
    let text = if ret {
        AttachTarget::Uretprobe(target.clone())
    } else {
        AttachTarget::Uprobe(target.clone())
    }
    .to_string();
    if target.pid == Some(0) {
        return Err(KernelError::InvalidInput {
            what: "pid",
            reason: "0 is not a process id".to_string(),
        });
    }
    let (path, offset) = crate::usym::resolve(target)?;
    let bad_path = || KernelError::InvalidInput {
        what: "binary",
        reason: format!("{}: the path contains a NUL byte", path.display()),
    };
    if let Some(ty) = pmu_type("uprobe") {
        let config = if ret { retprobe_bit("uprobe")? } else { 0 };
        let c = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| bad_path())?;
        let perf =
            sys::perf_event_open_probe(ty, config, &c, offset, target.pid).map_err(|e| match e
                .raw_os_error()
            {
                Some(libc::ESRCH) => KernelError::NotFound {
                    what: "process",
                    name: target.pid.map(|p| p.to_string()).unwrap_or_default(),
                },
                _ => KernelError::syscall("perf_event_open", &text, e),
            })?;
        return attach_perf(prog, perf, None, text);
    }
    let has_events = Tracefs::find_or_mount()
        .map(|t| t.path("uprobe_events").exists())
        .unwrap_or(false);
    if !has_events {
        return Err(KernelError::Unsupported {
            what: format!(
                "{text}: this kernel has no uprobes (no uprobe PMU, no uprobe_events; CONFIG_UPROBE_EVENTS)"
            ),
        });
    }
    let spec = format!("{}:{offset:#x}", path.display());
    let (perf, probe) = legacy_probe("uprobe", ret, &spec, target.pid, &text)?;
    attach_perf(prog, perf, Some(probe), text)
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
