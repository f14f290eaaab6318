//! Feature probes: what this kernel and this process can do, in plain words.
//!
//! Each probe tries the real thing where it is cheap and harmless (loading a two-instruction
//! program, running it with `BPF_PROG_TEST_RUN`, attaching it for a moment) rather than
//! guessing from version numbers. `oxbpf doctor` prints [`all`]; tests call
//! [`bpf_unavailable`] to skip when the kernel cannot be used.

use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use aya_obj::btf::BtfKind;
use oxbpf_isa::{AluOp, Insn, Operand, Program, Reg, Width};

use crate::attach;
use crate::error::KernelError;
use crate::map::{create_map, MapSpec};
use crate::prog::{load_raw, test_run, LoadOptions, LoadedProgram, TestRunInput};
use crate::sys;
use crate::tracefs::{self, Tracefs, TRACEFS_PATH};
use crate::types::{AttachType, MapType, ProgType};

/// Whether a feature can be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// It works (the probe exercised it).
    Supported,
    /// This kernel does not have it.
    Missing,
    /// The kernel has it but refused this process (permissions, lockdown, an LSM).
    Refused,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Supported => "supported",
            Status::Missing => "missing",
            Status::Refused => "refused",
        })
    }
}

/// The result of one probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feature {
    /// Short name (`bpf`, `kprobe`, `fentry`, ...).
    pub name: &'static str,
    /// The verdict.
    pub status: Status,
    /// What was found, in plain words.
    pub reason: String,
    /// What to do about it, when something can be done.
    pub remedy: Option<String>,
}

impl Feature {
    fn new(name: &'static str, status: Status, reason: impl Into<String>) -> Feature {
        Feature {
            name,
            status,
            reason: reason.into(),
            remedy: None,
        }
    }

    fn remedy(mut self, remedy: impl Into<String>) -> Feature {
        self.remedy = Some(remedy.into());
        self
    }

    /// True when supported.
    pub fn is_supported(&self) -> bool {
        self.status == Status::Supported
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<15} {:<9} {}", self.name, self.status, self.reason)?;
        if let Some(r) = &self.remedy {
            write!(f, " (fix: {r})")?;
        }
        Ok(())
    }
}

/// Every probe, in the order `oxbpf doctor` prints them.
pub fn all() -> Vec<Feature> {
    vec![
        kernel_version(),
        bpf_syscall(),
        memlock(),
        btf(),
        tracefs(),
        socket_filter(),
        xdp(),
        cgroup_skb(),
        tracepoint(),
        raw_tracepoint(),
        tp_btf(),
        fentry(),
        kprobes(),
        uprobes(),
        ringbuf(),
    ]
}

/// Why tests that need `bpf()` must be skipped here, or `None` when it works. Probed once
/// per process.
pub fn bpf_unavailable() -> Option<&'static str> {
    static REASON: OnceLock<Option<String>> = OnceLock::new();
    REASON
        .get_or_init(|| {
            let f = bpf_syscall();
            (f.status != Status::Supported).then(|| format!("bpf() unavailable: {}", f.reason))
        })
        .as_deref()
}

/// A parsed kernel release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelVersion {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch level.
    pub patch: u32,
}

impl KernelVersion {
    /// Parses the leading `a.b[.c]` of a release string (`6.18.44-fc-v595`).
    pub fn parse(release: &str) -> Option<KernelVersion> {
        let head = release
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .next()?;
        let mut it = head.split('.');
        let major = it.next()?.parse().ok()?;
        let minor = it.next()?.parse().ok()?;
        let patch = it.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        Some(KernelVersion {
            major,
            minor,
            patch,
        })
    }

    /// The running kernel's version.
    pub fn current() -> Option<KernelVersion> {
        sys::uname().ok().and_then(|u| Self::parse(&u.release))
    }

    fn at_least(self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// `r0 = value; exit`.
fn trivial(value: i32) -> Program {
    let insns = vec![
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::R0,
            src: Operand::Imm(value),
        },
        Insn::Exit,
    ];
    match Program::from_insns(insns) {
        Ok(p) => p,
        // Two fixed, valid instructions: from_insns cannot reject them.
        Err(e) => unreachable!("trivial program rejected: {e}"),
    }
}

const ROOT_REMEDY: &str = "run as root (or grant CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN)";

/// `a` or `an` before a program kind as it is spoken (`an XDP`, `a socket filter`).
fn article(what: &str) -> &'static str {
    match what.chars().next() {
        Some('X' | 'a' | 'e' | 'i' | 'o' | 'u' | 'A' | 'E' | 'I' | 'O' | 'U') => "an",
        _ => "a",
    }
}

/// Classifies a failed probe load.
fn load_failure(name: &'static str, what: &str, e: &KernelError) -> Feature {
    match e {
        KernelError::PermissionDenied { .. } => Feature::new(
            name,
            Status::Refused,
            format!(
                "loading {} {what} program was refused (EPERM)",
                article(what)
            ),
        )
        .remedy(ROOT_REMEDY),
        KernelError::Verifier { errno, summary, .. }
            if *errno == libc::EINVAL && summary.message.contains("nvalid argument") =>
        {
            Feature::new(
                name,
                Status::Missing,
                format!("the kernel does not know {what} programs (EINVAL)"),
            )
        }
        other => Feature::new(
            name,
            Status::Missing,
            format!("loading {} {what} program failed: {other}", article(what)),
        ),
    }
}

fn load(
    name: &'static str,
    what: &str,
    opts: &LoadOptions,
    value: i32,
) -> Result<LoadedProgram, Feature> {
    load_raw(&trivial(value), opts).map_err(|e| load_failure(name, what, &e))
}

/// The running kernel's release (from `uname`).
pub fn kernel_version() -> Feature {
    let u = match sys::uname() {
        Ok(u) => u,
        Err(e) => return Feature::new("kernel", Status::Missing, format!("uname failed: {e}")),
    };
    let desc = format!("{} {} ({})", u.sysname, u.release, u.machine);
    match KernelVersion::parse(&u.release) {
        Some(v) if v.at_least(5, 8) => Feature::new("kernel", Status::Supported, desc),
        Some(v) => Feature::new(
            "kernel",
            Status::Missing,
            format!("{desc}: older than 5.8, so ring buffers, bpf_link and BTF-typed tracing are unavailable ({v})"),
        )
        .remedy("use Linux 5.8 or newer"),
        None => Feature::new(
            "kernel",
            Status::Missing,
            format!("{desc}: cannot read a version number from the release"),
        ),
    }
}

/// Whether this process may use `bpf()`: loads a trivial socket filter.
pub fn bpf_syscall() -> Feature {
    let opts = LoadOptions::new(ProgType::SocketFilter).name("oxbpf_probe");
    match load_raw(&trivial(0), &opts) {
        Ok(_) => Feature::new(
            "bpf",
            Status::Supported,
            format!("bpf() loads programs (euid {})", sys::geteuid()),
        ),
        Err(KernelError::PermissionDenied { .. }) => {
            let unpriv = std::fs::read_to_string("/proc/sys/kernel/unprivileged_bpf_disabled")
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            Feature::new(
                "bpf",
                Status::Refused,
                format!(
                    "bpf() refused a trivial socket filter (EPERM; euid {}, unprivileged_bpf_disabled={})",
                    sys::geteuid(),
                    if unpriv.is_empty() { "?" } else { &unpriv }
                ),
            )
            .remedy(ROOT_REMEDY)
        }
        Err(KernelError::Verifier { errno, .. }) if errno == libc::ENOSYS => Feature::new(
            "bpf",
            Status::Missing,
            "the kernel has no bpf() system call (ENOSYS)",
        )
        .remedy("use a kernel built with CONFIG_BPF_SYSCALL=y"),
        Err(e) => Feature::new(
            "bpf",
            Status::Missing,
            format!("loading a trivial socket filter failed: {e}"),
        ),
    }
}

/// `RLIMIT_MEMLOCK`, which kernels before 5.11 charge BPF memory to.
pub fn memlock() -> Feature {
    let (soft, hard) = match sys::memlock_rlimit() {
        Ok(l) => l,
        Err(e) => return Feature::new("memlock", Status::Missing, format!("getrlimit: {e}")),
    };
    let show = |v: u64| {
        if v == libc::RLIM_INFINITY {
            "unlimited".to_string()
        } else {
            format!("{} KiB", v / 1024)
        }
    };
    let limits = format!("RLIMIT_MEMLOCK soft {}, hard {}", show(soft), show(hard));
    if KernelVersion::current().is_some_and(|v| v.at_least(5, 11)) {
        return Feature::new(
            "memlock",
            Status::Supported,
            format!(
                "{limits}; not used: since Linux 5.11 BPF memory is charged to the memory cgroup"
            ),
        );
    }
    if soft == libc::RLIM_INFINITY {
        return Feature::new("memlock", Status::Supported, limits);
    }
    if hard == libc::RLIM_INFINITY || sys::geteuid() == 0 {
        return Feature::new(
            "memlock",
            Status::Supported,
            format!("{limits}; can be raised (probe::raise_memlock_limit)"),
        );
    }
    Feature::new(
        "memlock",
        Status::Refused,
        format!("{limits}; too low for large maps and cannot be raised by this process"),
    )
    .remedy("ulimit -l unlimited (as root), or LimitMEMLOCK=infinity for a service")
}

/// Raises `RLIMIT_MEMLOCK` to unlimited (or to the hard limit when unprivileged); returns
/// the new (soft, hard) limits.
pub fn raise_memlock_limit() -> Result<(u64, u64), KernelError> {
    let (soft, hard) = sys::memlock_rlimit()
        .map_err(|e| KernelError::syscall("getrlimit", "RLIMIT_MEMLOCK", e))?;
    if soft == libc::RLIM_INFINITY {
        return Ok((soft, hard));
    }
    match sys::set_memlock_rlimit(libc::RLIM_INFINITY, libc::RLIM_INFINITY) {
        Ok(()) => Ok((libc::RLIM_INFINITY, libc::RLIM_INFINITY)),
        Err(e) if tracefs::is_permission(&e) => {
            sys::set_memlock_rlimit(hard, hard)
                .map_err(|e| KernelError::syscall("setrlimit", "RLIMIT_MEMLOCK", e))?;
            Ok((hard, hard))
        }
        Err(e) => Err(KernelError::syscall("setrlimit", "RLIMIT_MEMLOCK", e)),
    }
}

/// Kernel BTF at `/sys/kernel/btf/vmlinux` (needed for CO-RE, tp_btf, fentry).
pub fn btf() -> Feature {
    let path = Path::new("/sys/kernel/btf/vmlinux");
    let size = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) => {
            return Feature::new("btf", Status::Missing, format!("{}: {e}", path.display()))
                .remedy("use a kernel built with CONFIG_DEBUG_INFO_BTF=y")
        }
    };
    match crate::loader::kernel_btf() {
        Ok(_) => Feature::new(
            "btf",
            Status::Supported,
            format!("kernel BTF at {} ({} KiB)", path.display(), size / 1024),
        ),
        Err(e) => Feature::new(
            "btf",
            Status::Missing,
            format!("{} exists but does not parse: {e}", path.display()),
        ),
    }
}

/// tracefs (tracepoint ids and formats, `trace_pipe`): mounted, or mountable by oxbpf.
pub fn tracefs() -> Feature {
    if let Some(t) = Tracefs::find() {
        if !t.readable() {
            return Feature::new(
                "tracefs",
                Status::Refused,
                format!(
                    "mounted at {}, but not readable by this user (euid {})",
                    t.root().display(),
                    sys::geteuid()
                ),
            )
            .remedy("run as root");
        }
        return Feature::new(
            "tracefs",
            Status::Supported,
            format!("mounted at {}", t.root().display()),
        );
    }
    let has_tracefs = tracefs::filesystem_supported("tracefs");
    let has_debugfs = tracefs::filesystem_supported("debugfs");
    if !has_tracefs && !has_debugfs {
        return Feature::new(
            "tracefs",
            Status::Missing,
            "the kernel has neither tracefs nor debugfs",
        )
        .remedy("use a kernel built with CONFIG_TRACING=y");
    }
    if sys::geteuid() == 0 {
        Feature::new(
            "tracefs",
            Status::Supported,
            format!(
                "not mounted; oxbpf mounts {} at {} when it needs it",
                if has_tracefs { "tracefs" } else { "debugfs" },
                if has_tracefs {
                    TRACEFS_PATH
                } else {
                    tracefs::DEBUGFS_PATH
                }
            ),
        )
    } else {
        Feature::new(
            "tracefs",
            Status::Refused,
            "not mounted, and mounting it needs root",
        )
        .remedy(format!("mount -t tracefs nodev {TRACEFS_PATH} (as root)"))
    }
}

const PMU_DIR: &str = "/sys/bus/event_source/devices";

/// Dynamic probes of one kind (`kprobe` or `uprobe`): the perf PMU, or tracefs
/// `<kind>_events`.
fn dynamic_probes(name: &'static str, kind: &str, config: &str) -> Feature {
    let pmu = Path::new(PMU_DIR).join(kind);
    let pmu_type = std::fs::read_to_string(pmu.join("type"))
        .ok()
        .map(|s| s.trim().to_string());
    let events_file = Tracefs::find().map(|t| t.path(format!("{kind}_events")));
    // None: could not be checked (tracefs unmounted or unreadable).
    let has_events = events_file
        .as_ref()
        .and_then(|p| match std::fs::metadata(p) {
            Ok(_) => Some(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(false),
            Err(_) => None,
        });
    match (pmu_type, has_events) {
        (Some(t), _) => Feature::new(
            name,
            Status::Supported,
            format!(
                "the {kind} perf PMU is present ({}, type {t})",
                pmu.display()
            ),
        ),
        (None, Some(true)) => Feature::new(
            name,
            Status::Supported,
            format!("no {kind} PMU, but tracefs has {kind}_events (legacy interface)"),
        ),
        (None, checked) => {
            let tracefs_note = match (&events_file, checked) {
                (Some(p), Some(false)) => format!("and {} does not exist", p.display()),
                (Some(p), _) => format!("({} could not be read)", p.display()),
                (None, _) => "(tracefs is not mounted to check further)".to_string(),
            };
            Feature::new(
                name,
                Status::Missing,
                format!(
                    "this kernel has no {kind}s: {} is absent {tracefs_note}",
                    pmu.display()
                ),
            )
            .remedy(format!(
                "use a kernel built with {config}=y{}",
                if kind == "kprobe" {
                    "; meanwhile oxbpf falls back to the syscalls:sys_enter_*/sys_exit_* tracepoints for syscall functions, and other kernel functions can be traced with nearby tracepoints (oxbpf list tracepoints)"
                } else {
                    ""
                }
            ))
        }
    }
}

/// kprobes (dynamic kernel probes).
pub fn kprobes() -> Feature {
    dynamic_probes("kprobe", "kprobe", "CONFIG_KPROBE_EVENTS")
}

/// uprobes (dynamic user-space probes).
pub fn uprobes() -> Feature {
    dynamic_probes("uprobe", "uprobe", "CONFIG_UPROBE_EVENTS")
}

fn btf_id(name: &str, kind: BtfKind) -> Result<u32, String> {
    let btf = crate::loader::kernel_btf().map_err(|e| e.to_string())?;
    btf.id_by_type_name_kind(name, kind)
        .map_err(|e| format!("`{name}` not found in kernel BTF: {e}"))
}

/// A BTF-typed tracing probe: load against `target`, then attach.
fn btf_tracing(
    name: &'static str,
    what: &str,
    attach_type: AttachType,
    target: &str,
    kind: BtfKind,
) -> Feature {
    let id = match btf_id(target, kind) {
        Ok(id) => id,
        Err(e) => {
            return Feature::new(name, Status::Missing, e)
                .remedy("use a kernel built with CONFIG_DEBUG_INFO_BTF=y")
        }
    };
    let opts = LoadOptions::new(ProgType::Tracing)
        .name("oxbpf_probe")
        .expected_attach_type(attach_type)
        .attach_btf_id(id);
    let prog = match load_raw(&trivial(0), &opts) {
        Ok(p) => p,
        Err(KernelError::PermissionDenied { .. }) => {
            let root = sys::geteuid() == 0;
            return Feature::new(
                name,
                Status::Refused,
                format!(
                    "the kernel refuses to load {what} programs (EPERM{})",
                    if root {
                        " even for root: lockdown or a security policy blocks BPF trampolines"
                    } else {
                        ""
                    }
                ),
            )
            .remedy(if root {
                "oxbpf falls back to the syscalls:sys_enter_*/sys_exit_* tracepoints for syscall functions; for others use tp_btf, raw tracepoints or tracepoints".to_string()
            } else {
                ROOT_REMEDY.to_string()
            });
        }
        Err(e) => return load_failure(name, what, &e),
    };
    match attach::attach_btf_tracing(&prog) {
        Ok(_link) => Feature::new(
            name,
            Status::Supported,
            format!(
                "loaded and attached {} {what} program on {target}",
                article(what)
            ),
        ),
        Err(KernelError::Unsupported { .. }) => Feature::new(
            name,
            Status::Missing,
            format!(
                "{what} programs load but this kernel cannot attach BPF trampolines (ENOTSUPP)"
            ),
        ),
        Err(e) if e.errno() == Some(libc::EPERM) => Feature::new(
            name,
            Status::Refused,
            format!("{what} programs load but attaching was refused: {e}"),
        ),
        Err(e) => Feature::new(
            name,
            Status::Missing,
            format!("{what} programs load but attaching failed: {e}"),
        ),
    }
}

/// fentry (BPF trampolines on kernel functions): loads a trivial fentry program on
/// `bpf_fentry_test1` and attaches it.
pub fn fentry() -> Feature {
    btf_tracing(
        "fentry",
        "fentry",
        AttachType::TraceFentry,
        "bpf_fentry_test1",
        BtfKind::Func,
    )
}

/// tp_btf (BTF-typed raw tracepoints): loads on `btf_trace_sys_enter` and attaches.
pub fn tp_btf() -> Feature {
    btf_tracing(
        "tp_btf",
        "tp_btf",
        AttachType::TraceRawTp,
        "btf_trace_sys_enter",
        BtfKind::Typedef,
    )
}

/// Raw tracepoints: loads a trivial one and attaches it to `sys_enter`.
pub fn raw_tracepoint() -> Feature {
    let opts = LoadOptions::new(ProgType::RawTracepoint).name("oxbpf_probe");
    let prog = match load("raw_tracepoint", "raw tracepoint", &opts, 0) {
        Ok(p) => p,
        Err(f) => return f,
    };
    match attach::attach_raw_tracepoint(&prog, "sys_enter") {
        Ok(_link) => Feature::new(
            "raw_tracepoint",
            Status::Supported,
            "loaded and attached a raw tracepoint program on sys_enter",
        ),
        Err(e) => Feature::new(
            "raw_tracepoint",
            Status::Missing,
            format!("raw tracepoint programs load but attaching to sys_enter failed: {e}"),
        ),
    }
}

/// Tracepoints through perf events: loads a trivial program and attaches it to
/// `syscalls:sys_enter_getpid` (mounting tracefs if needed).
pub fn tracepoint() -> Feature {
    let opts = LoadOptions::new(ProgType::Tracepoint).name("oxbpf_probe");
    let prog = match load("tracepoint", "tracepoint", &opts, 0) {
        Ok(p) => p,
        Err(f) => return f,
    };
    match attach::attach_tracepoint(&prog, "syscalls", "sys_enter_getpid") {
        Ok(_link) => Feature::new(
            "tracepoint",
            Status::Supported,
            "loaded and attached a tracepoint program on syscalls:sys_enter_getpid",
        ),
        Err(e @ KernelError::TracefsUnavailable { .. }) => Feature::new(
            "tracepoint",
            Status::Missing,
            format!("tracepoint programs load but {e}"),
        ),
        Err(e) => Feature::new(
            "tracepoint",
            Status::Missing,
            format!("tracepoint programs load but attaching failed: {e}"),
        ),
    }
}

/// A packet of `len` bytes: an Ethernet header with the IPv4 ethertype, then zeros.
fn probe_packet(len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[12] = 0x08;
    p
}

fn run_check(name: &'static str, what: &str, prog: &LoadedProgram, expect: u32) -> Feature {
    let pkt = probe_packet(64);
    match test_run(prog, &TestRunInput::packet(&pkt)) {
        Ok(out) if out.retval == expect => Feature::new(
            name,
            Status::Supported,
            format!(
                "loaded {} {what} program and ran it with BPF_PROG_TEST_RUN",
                article(what)
            ),
        ),
        Ok(out) => Feature::new(
            name,
            Status::Missing,
            format!(
                "{} {what} program returning {expect} returned {} under BPF_PROG_TEST_RUN",
                article(what),
                out.retval
            ),
        ),
        Err(e) => Feature::new(
            name,
            Status::Supported,
            format!(
                "loaded {} {what} program (BPF_PROG_TEST_RUN failed: {e})",
                article(what)
            ),
        ),
    }
}

/// Socket filters: load, test-run and attach to a UDP socket.
pub fn socket_filter() -> Feature {
    let opts = LoadOptions::new(ProgType::SocketFilter).name("oxbpf_probe");
    let prog = match load("socket_filter", "socket filter", &opts, 0) {
        Ok(p) => p,
        Err(f) => return f,
    };
    let f = run_check("socket_filter", "socket filter", &prog, 0);
    if !f.is_supported() {
        return f;
    }
    let sock = match std::net::UdpSocket::bind("127.0.0.1:0") {
        Ok(s) => s,
        Err(e) => {
            return Feature::new(
                "socket_filter",
                Status::Supported,
                format!("{}; no socket to attach to: {e}", f.reason),
            )
        }
    };
    match attach::attach_socket_filter(&prog, &sock) {
        Ok(()) => Feature::new(
            "socket_filter",
            Status::Supported,
            format!("{}, and attached it to a UDP socket", f.reason),
        ),
        Err(e) => Feature::new(
            "socket_filter",
            Status::Missing,
            format!("{}, but attaching to a socket failed: {e}", f.reason),
        ),
    }
}

/// XDP: load and test-run (`XDP_PASS`).
pub fn xdp() -> Feature {
    let opts = LoadOptions::new(ProgType::Xdp).name("oxbpf_probe");
    match load("xdp", "XDP", &opts, 2) {
        Ok(p) => run_check("xdp", "XDP", &p, 2),
        Err(f) => f,
    }
}

/// cgroup skb: load (ingress) and test-run.
pub fn cgroup_skb() -> Feature {
    let opts = LoadOptions::new(ProgType::CgroupSkb)
        .name("oxbpf_probe")
        .expected_attach_type(AttachType::CgroupInetIngress);
    match load("cgroup_skb", "cgroup skb", &opts, 1) {
        Ok(p) => run_check("cgroup_skb", "cgroup skb", &p, 1),
        Err(f) => f,
    }
}

/// Ring buffer maps (`BPF_MAP_TYPE_RINGBUF`, 5.8+).
pub fn ringbuf() -> Feature {
    let page = 4096;
    match create_map(&MapSpec::new(MapType::Ringbuf, 0, 0, page, "oxbpf_probe")) {
        Ok(_) => Feature::new(
            "ringbuf",
            Status::Supported,
            "created a BPF_MAP_TYPE_RINGBUF map",
        ),
        Err(e) if e.errno() == Some(libc::EPERM) => Feature::new(
            "ringbuf",
            Status::Refused,
            format!("creating a ring buffer map was refused: {e}"),
        )
        .remedy(ROOT_REMEDY),
        Err(e) => Feature::new(
            "ringbuf",
            Status::Missing,
            format!("creating a ring buffer map failed: {e}"),
        )
        .remedy("use Linux 5.8 or newer"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions_parse() {
        assert_eq!(
            KernelVersion::parse("6.18.44-fc-v595"),
            Some(KernelVersion {
                major: 6,
                minor: 18,
                patch: 44
            })
        );
        assert_eq!(
            KernelVersion::parse("5.15.0-91-generic").map(|v| v.to_string()),
            Some("5.15.0".to_string())
        );
        assert_eq!(
            KernelVersion::parse("6.1-rc3").map(|v| (v.major, v.minor, v.patch)),
            Some((6, 1, 0))
        );
        assert_eq!(KernelVersion::parse("linux"), None);
        assert!(KernelVersion::parse("5.11.0").unwrap().at_least(5, 11));
        assert!(!KernelVersion::parse("5.10.200").unwrap().at_least(5, 11));
    }

    #[test]
    fn trivial_program_is_two_instructions() {
        assert_eq!(trivial(2).to_bytes().len(), 16);
    }
}
