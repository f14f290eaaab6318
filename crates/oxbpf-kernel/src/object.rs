//! ELF objects loaded and attached through aya.
//!
//! [`KernelObject`] wraps `aya::Ebpf`: aya parses the object, creates its maps, relocates
//! maps, calls and CO-RE accesses against the kernel BTF, loads programs and attaches them.
//! The wrapper adds what oxbpf needs on top:
//!
//! - one `attach_*` call per attach kind, each returning a [`Link`] that detaches on drop,
//!   plus [`KernelObject::attach`] taking an [`AttachTarget`] and a [`FallbackPolicy`];
//! - typed "unsupported" errors that name the working alternative
//!   ([`KernelError::AttachUnsupported`]) and fallbacks that use it;
//! - verifier rejections as [`KernelError::Verifier`] with the failing C source line;
//! - maps by name (bytes and typed), ring buffer and perf buffer readers;
//! - tracefs mounted before aya looks for it (aya only searches the standard paths).
//!
//! **Fallback loads.** aya decides a program's type from its ELF section and offers no
//! way to load it as another type. A kprobe or fentry program moved to a tracepoint must
//! be loaded as `BPF_PROG_TYPE_TRACEPOINT`, so oxbpf does that load itself: it parses the
//! object again with aya-obj, relocates it against the maps aya already created (the
//! same descriptors, so the program shares its maps with the rest of the object), applies
//! CO-RE relocations against the kernel BTF, links called functions, and loads the result
//! with [`crate::load_raw`]. The program is loaded without the object's BTF (func and line
//! info): the kernel does not need it for tracepoint programs, and verifier messages are
//! still mapped to source lines from the object's `.BTF.ext` by oxbpf.
//!
//! Dropping the object detaches every attachment still in place (including [`Link`]s the
//! caller holds) and then unloads its programs and closes its maps.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;
use std::sync::Arc;

use aya::programs::{
    perf_event::{HardwareEvent, PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent},
    tc::{NlOptions, TcAttachOptions},
    BtfTracePoint, CgroupAttachMode, CgroupSkb, CgroupSkbAttachType, FEntry, FExit, KProbe,
    LinkOrder, PerfEvent, ProbeKind, Program, ProgramError, RawTracePoint, SchedClassifier,
    SocketFilter, TcAttachType, TracePoint, UProbe, Xdp,
};
use oxbpf_isa::RawInsn;

use crate::attach;
use crate::context::{context_read, ContextRead};
use crate::error::{errno_text, KernelError};
use crate::events::{PerfReader, RingBufReader};
use crate::fallback::{AttachSupport, Fallback, FallbackPolicy};
use crate::link::{Link, LinkPart, LinkSlot, SocketFilterGuard};
use crate::map::KernelMap;
use crate::prog::{load_raw, LoadOptions, LoadedProgram, ProgInfo};
use crate::socket::PacketSocket;
use crate::source::LineTable;
use crate::target::{
    AttachKind, AttachTarget, Direction, Interface, PerfEventKind, PerfSampling, SampleRate,
    TcMode, UprobeTarget, XdpMode,
};
use crate::tracefs::Tracefs;
use crate::types::ProgType;
use crate::verifier_log::VerifierSummary;

/// Options of [`KernelObject::load_with`].
#[derive(Clone, Debug)]
pub struct ObjectOptions {
    /// Verifier log level for aya's loads (1: instructions, 2: states, 4: statistics; the
    /// log is kept only when a load fails).
    pub verifier_log_level: u32,
    /// Raise `RLIMIT_MEMLOCK` first when the kernel charges BPF memory to it (before
    /// 5.11). On by default.
    pub raise_memlock: bool,
}

impl Default for ObjectOptions {
    fn default() -> Self {
        ObjectOptions {
            verifier_log_level: 1 | 4,
            raise_memlock: true,
        }
    }
}

/// The outcome of [`KernelObject::attach`].
#[derive(Debug)]
pub struct Attached {
    /// The attachment.
    pub link: Link,
    /// The fallback used instead of the requested target, if one was.
    pub fallback: Option<Fallback>,
    /// For `socket:IF` targets, the packet socket the filter is attached to.
    pub socket: Option<PacketSocket>,
    /// When a fallback was forced on a program that reads its context
    /// ([`FallbackPolicy::Always`]): where it does.
    pub context_read: Option<ContextRead>,
}

impl Attached {
    /// The one-line notice to print when a fallback was used.
    pub fn notice(&self) -> Option<String> {
        self.fallback.as_ref().map(|f| {
            let mut s = f.notice();
            if let Some(r) = &self.context_read {
                s.push_str(&format!(
                    "; warning: program `{}` reads its context ({r}), so the values it reads there are the tracepoint record's",
                    self.link.program()
                ));
            }
            s
        })
    }
}

/// A loaded ELF object (maps created; programs loaded on first attach).
pub struct KernelObject {
    ebpf: aya::Ebpf,
    bytes: Arc<[u8]>,
    links: Vec<Arc<LinkSlot>>,
    /// Programs loaded by oxbpf with another type for a fallback, by (name, type).
    converted: HashMap<(String, ProgType), LoadedProgram>,
    /// The BTF target a tp_btf/fentry/fexit program was loaded for.
    btf_targets: HashMap<String, String>,
}

impl std::fmt::Debug for KernelObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelObject")
            .field("programs", &self.program_names())
            .field("maps", &self.map_names())
            .field("object_bytes", &self.bytes.len())
            .field("links", &self.links.len())
            .field(
                "fallback_programs",
                &self.converted.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The errno somewhere in an aya error, if any.
fn errno_of(e: &ProgramError) -> Option<i32> {
    match e {
        ProgramError::LoadError { io_error, .. } => return io_error.raw_os_error(),
        ProgramError::SyscallError(s) => return s.io_error.raw_os_error(),
        ProgramError::NetlinkError(n) => return n.raw_os_error(),
        ProgramError::XdpError(aya::programs::XdpError::NetlinkError(n)) => {
            return n.raw_os_error()
        }
        ProgramError::TcError(aya::programs::TcError::NetlinkError(n)) => return n.raw_os_error(),
        _ => {}
    }
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if let Some(n) = io.raw_os_error() {
                return Some(n);
            }
        }
        if let Some(n) = c.downcast_ref::<aya::sys::NetlinkError>() {
            if let Some(n) = n.raw_os_error() {
                return Some(n);
            }
        }
        cur = c.source();
    }
    None
}

/// aya's error as oxbpf's, with verifier rejections summarised (and mapped to source
/// lines through `bytes`' line info).
fn program_error(bytes: &[u8], program: &str, op: &'static str, e: ProgramError) -> KernelError {
    match e {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            let log = verifier_log.to_string();
            let errno = io_error.raw_os_error().unwrap_or(0);
            if errno == libc::EPERM && log.trim().is_empty() {
                return KernelError::PermissionDenied {
                    op: "BPF_PROG_LOAD",
                    reason: format!("loading program `{program}`: {io_error}"),
                };
            }
            let mut summary = VerifierSummary::parse(&log);
            if summary.message.is_empty() {
                summary.message = io_error.to_string();
            }
            if let Some(lines) = LineTable::for_program(bytes, program) {
                summary = summary.with_lines(&lines);
            }
            KernelError::Verifier {
                program: program.to_string(),
                errno,
                log,
                summary: Box::new(summary),
            }
        }
        other => KernelError::Program {
            program: program.to_string(),
            op,
            source: Box::new(other),
        },
    }
}

/// What kind of program an aya program is, in words (`a kprobe program`).
fn describe(p: &Program) -> String {
    let s = match p {
        Program::KProbe(k) => match k.kind() {
            ProbeKind::Entry => "a kprobe",
            ProbeKind::Return => "a kretprobe",
        },
        Program::UProbe(u) => match u.kind() {
            ProbeKind::Entry => "a uprobe",
            ProbeKind::Return => "a uretprobe",
        },
        Program::TracePoint(_) => "a tracepoint",
        Program::SocketFilter(_) => "a socket filter",
        Program::Xdp(_) => "an XDP",
        Program::SchedClassifier(_) => "a tc classifier",
        Program::CgroupSkb(_) => "a cgroup skb",
        Program::PerfEvent(_) => "a perf event",
        Program::RawTracePoint(_) => "a raw tracepoint",
        Program::BtfTracePoint(_) => "a tp_btf",
        Program::FEntry(_) => "an fentry",
        Program::FExit(_) => "an fexit",
        Program::Lsm(_) => "an LSM",
        other => return format!("a {:?} program", other.prog_type()),
    };
    format!("{s} program")
}

/// The aya program `name` as type `T`, or an error naming what it is and what `target`
/// needs.
fn typed<'a, T>(
    ebpf: &'a mut aya::Ebpf,
    name: &str,
    target: &dyn std::fmt::Display,
    want: &str,
) -> Result<&'a mut T, KernelError>
where
    &'a mut T: TryFrom<&'a mut Program, Error = ProgramError>,
{
    let not_found = || KernelError::NotFound {
        what: "program",
        name: name.to_string(),
    };
    let kind = describe(ebpf.program(name).ok_or_else(not_found)?);
    let p = ebpf.program_mut(name).ok_or_else(not_found)?;
    p.try_into().map_err(|_| KernelError::InvalidInput {
        what: "program type",
        reason: format!(
            "program `{name}` is {kind} (from its ELF section); {target} needs {want} program"
        ),
    })
}

/// Loads an aya program unless it is loaded.
macro_rules! load_once {
    ($p:expr, $bytes:expr, $name:expr) => {
        if $p.fd().is_err() {
            $p.load()
                .map_err(|e| program_error($bytes, $name, "load", e))?;
        }
    };
}

/// Takes an aya link out of its program so that dropping it detaches.
macro_rules! take {
    ($p:expr, $id:expr, $bytes:expr, $name:expr, $variant:ident) => {
        LinkPart::$variant(
            $p.take_link($id)
                .map_err(|e| program_error($bytes, $name, "attach", e))?,
        )
    };
}

/// `map` as aya's `MapData`.
fn map_data(map: &aya::maps::Map) -> &aya::maps::MapData {
    use aya::maps::Map as M;
    match map {
        M::Array(d)
        | M::ArrayOfMaps(d)
        | M::BloomFilter(d)
        | M::CgroupArray(d)
        | M::CgroupStorage(d)
        | M::CgrpStorage(d)
        | M::CpuMap(d)
        | M::DevMap(d)
        | M::DevMapHash(d)
        | M::HashMap(d)
        | M::HashOfMaps(d)
        | M::InodeStorage(d)
        | M::LpmTrie(d)
        | M::LruHashMap(d)
        | M::PerCpuArray(d)
        | M::PerCpuCgroupStorage(d)
        | M::PerCpuHashMap(d)
        | M::PerCpuLruHashMap(d)
        | M::PerfEventArray(d)
        | M::ProgramArray(d)
        | M::Queue(d)
        | M::ReusePortSockArray(d)
        | M::RingBuf(d)
        | M::SockHash(d)
        | M::SockMap(d)
        | M::SkStorage(d)
        | M::Stack(d)
        | M::StackTraceMap(d)
        | M::Unsupported(d)
        | M::XskMap(d) => d,
    }
}

/// A kernel program name from a function name: at most 15 bytes of `[A-Za-z0-9_.]`.
fn kernel_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(15)
        .collect()
}

/// A failed kprobe/fentry attach: unsupported here (with the alternative), a function the
/// kernel does not have, or aya's error.
fn probe_failure(
    bytes: &[u8],
    program: &str,
    target: &AttachTarget,
    e: ProgramError,
) -> KernelError {
    if let Some(reason) = AttachSupport::detect().unsupported_reason(target.kind()) {
        log::debug!("{target}: {e}");
        return crate::fallback::unsupported_error(target, reason);
    }
    match (errno_of(&e), target.kernel_function()) {
        (Some(libc::ENOENT | libc::EINVAL), Some(f))
            if matches!(e, ProgramError::SyscallError(_)) =>
        {
            KernelError::NotFound {
                what: "kernel function (not in /proc/kallsyms, or not probeable)",
                name: f.to_string(),
            }
        }
        _ => program_error(bytes, program, "attach", e),
    }
}

impl KernelObject {
    /// Parses an object and creates its maps (programs are loaded when attached).
    pub fn load(bytes: &[u8]) -> Result<KernelObject, KernelError> {
        Self::load_with(bytes, &ObjectOptions::default())
    }

    /// [`KernelObject::load`] with options.
    pub fn load_with(bytes: &[u8], opts: &ObjectOptions) -> Result<KernelObject, KernelError> {
        if opts.raise_memlock
            && crate::probe::KernelVersion::current().is_some_and(|v| (v.major, v.minor) < (5, 11))
        {
            match crate::probe::raise_memlock_limit() {
                Ok((soft, _)) => log::debug!("RLIMIT_MEMLOCK raised to {soft}"),
                Err(e) => log::warn!("could not raise RLIMIT_MEMLOCK: {e}"),
            }
        }
        // aya-obj panics (and can abort) on some malformed objects: check them first, and
        // catch what gets through anyway.
        let object_file = |source| KernelError::ObjectFile { source };
        oxbpf_obj::aya_compat::check_for_aya(bytes).map_err(object_file)?;
        // One loader per process: making one parses the kernel BTF (see `crate::loader`).
        let ebpf = crate::loader::with_loader(|loader| {
            oxbpf_obj::aya_compat::catch_panic("aya", || {
                loader
                    .verifier_log_level(aya::VerifierLogLevel::from_bits_truncate(
                        opts.verifier_log_level,
                    ))
                    .load(bytes)
            })
        })
        .map_err(object_file)?
        .map_err(|e| KernelError::Object {
            source: Box::new(e),
        })?;
        Ok(KernelObject {
            ebpf,
            bytes: Arc::from(bytes),
            links: Vec::new(),
            converted: HashMap::new(),
            btf_targets: HashMap::new(),
        })
    }

    /// [`KernelObject::load`] on a file.
    pub fn load_file(path: impl AsRef<Path>) -> Result<KernelObject, KernelError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| KernelError::file(path, e))?;
        Self::load(&bytes)
    }

    /// The program names (function names), sorted.
    pub fn program_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.ebpf.programs().map(|(n, _)| n.to_string()).collect();
        v.sort();
        v
    }

    /// The map names, sorted (global data maps are `.bss`, `.data`, `.rodata`).
    pub fn map_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.ebpf.maps().map(|(n, _)| n.to_string()).collect();
        v.sort();
        v
    }

    fn track(&mut self, link: &Link) {
        self.links.retain(|s| s.is_attached());
        self.links.push(link.slot());
    }

    // -----------------------------------------------------------------------------------
    // Attach, one call per kind
    // -----------------------------------------------------------------------------------

    /// Attaches a tracepoint program to `category:name`.
    pub fn attach_tracepoint(
        &mut self,
        program: &str,
        category: &str,
        name: &str,
    ) -> Result<Link, KernelError> {
        self.attach_one(program, &AttachTarget::tracepoint(category, name))
    }

    /// Attaches a raw tracepoint program to `tracepoint` (`sys_enter`, `sched_switch`).
    pub fn attach_raw_tracepoint(
        &mut self,
        program: &str,
        tracepoint: &str,
    ) -> Result<Link, KernelError> {
        self.attach_one(
            program,
            &AttachTarget::RawTracepoint {
                name: tracepoint.to_string(),
            },
        )
    }

    /// Loads a tp_btf program for `tracepoint` (against the kernel BTF) and attaches it.
    pub fn attach_tp_btf(&mut self, program: &str, tracepoint: &str) -> Result<Link, KernelError> {
        self.attach_one(
            program,
            &AttachTarget::TpBtf {
                name: tracepoint.to_string(),
            },
        )
    }

    /// Attaches a kprobe program to `function` (+`offset` bytes). On a kernel without
    /// kprobes: [`KernelError::AttachUnsupported`] with the alternative.
    pub fn attach_kprobe(
        &mut self,
        program: &str,
        function: &str,
        offset: u64,
    ) -> Result<Link, KernelError> {
        self.attach_one(
            program,
            &AttachTarget::Kprobe {
                function: function.to_string(),
                offset,
            },
        )
    }

    /// Attaches a kretprobe program to `function`'s return.
    pub fn attach_kretprobe(&mut self, program: &str, function: &str) -> Result<Link, KernelError> {
        self.attach_one(
            program,
            &AttachTarget::Kretprobe {
                function: function.to_string(),
            },
        )
    }

    /// Loads an fentry program for `function` and attaches it. Where BPF trampolines are
    /// refused: [`KernelError::AttachUnsupported`] with the alternative.
    pub fn attach_fentry(&mut self, program: &str, function: &str) -> Result<Link, KernelError> {
        self.attach_one(
            program,
            &AttachTarget::Fentry {
                function: function.to_string(),
            },
        )
    }

    /// Loads an fexit program for `function` and attaches it.
    pub fn attach_fexit(&mut self, program: &str, function: &str) -> Result<Link, KernelError> {
        self.attach_one(
            program,
            &AttachTarget::Fexit {
                function: function.to_string(),
            },
        )
    }

    /// Attaches a uprobe program (section `uprobe`) to a function or offset of a binary.
    pub fn attach_uprobe(
        &mut self,
        program: &str,
        target: &UprobeTarget,
    ) -> Result<Link, KernelError> {
        self.attach_one(program, &AttachTarget::Uprobe(target.clone()))
    }

    /// Attaches a uretprobe program (section `uretprobe`) to a function's return.
    pub fn attach_uretprobe(
        &mut self,
        program: &str,
        target: &UprobeTarget,
    ) -> Result<Link, KernelError> {
        self.attach_one(program, &AttachTarget::Uretprobe(target.clone()))
    }

    /// Attaches an XDP program to an interface. A driver that cannot do `mode` gives
    /// [`KernelError::AttachUnsupported`] with generic (skb) XDP as the alternative.
    pub fn attach_xdp(
        &mut self,
        program: &str,
        interface: impl Into<Interface>,
        mode: XdpMode,
    ) -> Result<Link, KernelError> {
        self.attach_one(
            program,
            &AttachTarget::Xdp {
                interface: interface.into(),
                mode,
            },
        )
    }

    /// Attaches a socket filter to a socket the caller opened. The link holds a duplicate
    /// of the descriptor; dropping the link removes the filter.
    pub fn attach_socket_filter(
        &mut self,
        program: &str,
        socket: &impl AsFd,
    ) -> Result<Link, KernelError> {
        let bytes = Arc::clone(&self.bytes);
        let target = format!("socket fd {}", socket.as_fd().as_raw_fd());
        let p: &mut SocketFilter = typed(
            &mut self.ebpf,
            program,
            &target,
            "a socket filter (section `socket`)",
        )?;
        load_once!(p, &bytes, program);
        let dup = socket
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| KernelError::syscall("dup", target.clone(), e))?;
        p.attach(dup.as_fd())
            .map_err(|e| program_error(&bytes, program, "attach", e))?;
        let link = Link::new(
            program,
            vec![target],
            vec![LinkPart::Socket(SocketFilterGuard::new(dup))],
        );
        self.track(&link);
        Ok(link)
    }

    /// Opens a raw packet socket on `interface` and attaches a socket filter to it.
    pub fn open_socket_filter(
        &mut self,
        program: &str,
        interface: impl Into<Interface>,
    ) -> Result<(Link, PacketSocket), KernelError> {
        let sock = PacketSocket::open(&interface.into())?;
        let link = self.attach_socket_filter(program, &sock)?;
        Ok((link, sock))
    }

    /// Attaches a tc classifier (section `classifier`) to an interface's ingress or
    /// egress.
    pub fn attach_tc(
        &mut self,
        program: &str,
        interface: impl Into<Interface>,
        direction: Direction,
        mode: TcMode,
    ) -> Result<Link, KernelError> {
        self.attach_one(
            program,
            &AttachTarget::Tc {
                interface: interface.into(),
                direction,
                mode,
            },
        )
    }

    /// Attaches a perf event program (section `perf_event`) to a sampling event on each
    /// CPU: one link covering all of them.
    pub fn attach_perf_event(
        &mut self,
        program: &str,
        sampling: &PerfSampling,
    ) -> Result<Link, KernelError> {
        self.attach_one(program, &AttachTarget::PerfEvent(sampling.clone()))
    }

    /// Attaches a cgroup skb program to a cgroup v2 directory.
    pub fn attach_cgroup_skb(
        &mut self,
        program: &str,
        cgroup: impl AsRef<Path>,
        direction: Direction,
    ) -> Result<Link, KernelError> {
        self.attach_one(
            program,
            &AttachTarget::CgroupSkb {
                cgroup: cgroup.as_ref().to_path_buf(),
                direction,
            },
        )
    }

    /// Attaches `program` to `target`; when the kernel cannot serve `target` and `policy`
    /// allows, uses the alternative ([`Attached::fallback`], [`Attached::notice`]).
    pub fn attach(
        &mut self,
        program: &str,
        target: &AttachTarget,
        policy: FallbackPolicy,
    ) -> Result<Attached, KernelError> {
        match self.attach_direct(program, target) {
            Ok((link, socket)) => {
                self.track(&link);
                Ok(Attached {
                    link,
                    fallback: None,
                    socket,
                    context_read: None,
                })
            }
            Err(KernelError::AttachUnsupported {
                alternative: Some(f),
                ..
            }) if policy != FallbackPolicy::Never => self.attach_fallback(program, *f, policy),
            Err(e) => Err(e),
        }
    }

    fn attach_one(&mut self, program: &str, target: &AttachTarget) -> Result<Link, KernelError> {
        let (link, _socket) = self.attach_direct(program, target)?;
        self.track(&link);
        Ok(link)
    }

    /// Attaches without fallback. `socket` is set for `socket:IF` targets.
    fn attach_direct(
        &mut self,
        program: &str,
        target: &AttachTarget,
    ) -> Result<(Link, Option<PacketSocket>), KernelError> {
        let bytes = Arc::clone(&self.bytes);
        let bytes: &[u8] = &bytes;
        let name = program;
        let mut parts: Vec<LinkPart> = Vec::new();
        let mut targets = vec![target.to_string()];
        let mut socket = None;
        match target {
            AttachTarget::Tracepoint { category, name: tp } => {
                // aya looks for tracefs only at the standard paths, and only once per process.
                let tracefs = Tracefs::find_or_mount()?;
                tracefs.tracepoint_id(category, tp)?;
                let p: &mut TracePoint = typed(
                    &mut self.ebpf,
                    name,
                    target,
                    "a tracepoint (section `tracepoint/...`)",
                )?;
                load_once!(p, bytes, name);
                // oxbpf's own perf attach rather than aya's: it keeps the perf event so that
                // a detach does not wait for the kernel's unregistration (see
                // `crate::attach::Attachment`).
                let fd = p
                    .fd()
                    .map_err(|e| program_error(bytes, name, "attach", e))?;
                let a = attach::attach_tracepoint_fd(fd.as_fd(), category, tp)?;
                parts.push(LinkPart::Raw(a));
            }
            AttachTarget::RawTracepoint { name: tp } => {
                let p: &mut RawTracePoint = typed(
                    &mut self.ebpf,
                    name,
                    target,
                    "a raw tracepoint (section `raw_tp/...`)",
                )?;
                load_once!(p, bytes, name);
                let id = p.attach(tp).map_err(|e| match errno_of(&e) {
                    Some(libc::ENOENT) => KernelError::NotFound {
                        what: "raw tracepoint",
                        name: tp.clone(),
                    },
                    _ => program_error(bytes, name, "attach", e),
                })?;
                parts.push(take!(p, id, bytes, name, RawTracePoint));
            }
            AttachTarget::TpBtf { name: tp } => {
                let btf = crate::loader::kernel_btf()?;
                let p: &mut BtfTracePoint = typed(
                    &mut self.ebpf,
                    name,
                    target,
                    "a tp_btf (section `tp_btf/...`)",
                )?;
                check_btf_target(&self.btf_targets, name, tp, target)?;
                if p.fd().is_err() {
                    p.load(tp, btf).map_err(|e| match e {
                        ProgramError::Btf(_) => KernelError::NotFound {
                            what: "tracepoint in kernel BTF (btf_trace_<name>)",
                            name: tp.clone(),
                        },
                        e => program_error(bytes, name, "load", e),
                    })?;
                    self.btf_targets.insert(name.to_string(), tp.clone());
                }
                let id = p
                    .attach()
                    .map_err(|e| program_error(bytes, name, "attach", e))?;
                parts.push(take!(p, id, bytes, name, BtfTracePoint));
            }
            AttachTarget::Kprobe { .. } | AttachTarget::Kretprobe { .. } => {
                let ret = matches!(target, AttachTarget::Kretprobe { .. });
                let want = if ret {
                    "a kretprobe (section `kretprobe/...`)"
                } else {
                    "a kprobe (section `kprobe/...`)"
                };
                let p: &mut KProbe = typed(&mut self.ebpf, name, target, want)?;
                if matches!(p.kind(), ProbeKind::Return) != ret {
                    return Err(KernelError::InvalidInput {
                        what: "program type",
                        reason: format!(
                            "program `{name}` is {} program (from its ELF section); {target} needs {want} program",
                            if ret { "a kprobe" } else { "a kretprobe" }
                        ),
                    });
                }
                load_once!(p, bytes, name);
                let fd = p
                    .fd()
                    .map_err(|e| program_error(bytes, name, "attach", e))?;
                let a = attach::attach_kprobe_fd(fd.as_fd(), target)?;
                parts.push(LinkPart::Raw(a));
            }
            AttachTarget::Fentry { function } => {
                let btf = crate::loader::kernel_btf()?;
                let p: &mut FEntry = typed(
                    &mut self.ebpf,
                    name,
                    target,
                    "an fentry (section `fentry/...`)",
                )?;
                check_btf_target(&self.btf_targets, name, function, target)?;
                if p.fd().is_err() {
                    p.load(function, btf)
                        .map_err(|e| fentry_failure(bytes, name, target, e))?;
                    self.btf_targets.insert(name.to_string(), function.clone());
                }
                let id = p
                    .attach()
                    .map_err(|e| probe_failure(bytes, name, target, e))?;
                parts.push(take!(p, id, bytes, name, FEntry));
            }
            AttachTarget::Fexit { function } => {
                let btf = crate::loader::kernel_btf()?;
                let p: &mut FExit = typed(
                    &mut self.ebpf,
                    name,
                    target,
                    "an fexit (section `fexit/...`)",
                )?;
                check_btf_target(&self.btf_targets, name, function, target)?;
                if p.fd().is_err() {
                    p.load(function, btf)
                        .map_err(|e| fentry_failure(bytes, name, target, e))?;
                    self.btf_targets.insert(name.to_string(), function.clone());
                }
                let id = p
                    .attach()
                    .map_err(|e| probe_failure(bytes, name, target, e))?;
                parts.push(take!(p, id, bytes, name, FExit));
            }
            AttachTarget::Uprobe(t) | AttachTarget::Uretprobe(t) => {
                let ret = matches!(target, AttachTarget::Uretprobe(_));
                let want = if ret {
                    "a uretprobe (section `uretprobe/...`)"
                } else {
                    "a uprobe (section `uprobe/...`)"
                };
                let p: &mut UProbe = typed(&mut self.ebpf, name, target, want)?;
                if matches!(p.kind(), ProbeKind::Return) != ret {
                    return Err(KernelError::InvalidInput {
                        what: "program type",
                        reason: format!(
                            "program `{name}` is {} program (from its ELF section); {target} needs {want} program",
                            if ret { "a uprobe" } else { "a uretprobe" }
                        ),
                    });
                }
                load_once!(p, bytes, name);
                let fd = p
                    .fd()
                    .map_err(|e| program_error(bytes, name, "attach", e))?;
                let a = attach::attach_uprobe_fd(fd.as_fd(), t, ret)?;
                parts.push(LinkPart::Raw(a));
            }
            AttachTarget::Xdp { interface, mode } => {
                let ifindex = interface.index()?;
                let p: &mut Xdp = typed(&mut self.ebpf, name, target, "an XDP (section `xdp`)")?;
                load_once!(p, bytes, name);
                let aya_mode = match mode {
                    XdpMode::Auto => aya::programs::XdpMode::Default,
                    XdpMode::Skb => aya::programs::XdpMode::Skb,
                    XdpMode::Driver => aya::programs::XdpMode::Driver,
                    XdpMode::Hardware => aya::programs::XdpMode::Hardware,
                };
                let id = p.attach_to_if_index(ifindex, aya_mode).map_err(|e| {
                    let errno = errno_of(&e);
                    match (mode, errno) {
                        (
                            XdpMode::Driver | XdpMode::Hardware,
                            Some(libc::EOPNOTSUPP | libc::EINVAL | crate::sys::ENOTSUPP),
                        ) => crate::fallback::unsupported_error(
                            target,
                            format!(
                                "interface {interface} cannot run XDP in {} mode ({})",
                                if *mode == XdpMode::Driver {
                                    "native (driver)"
                                } else {
                                    "hardware offload"
                                },
                                errno.map(errno_text).unwrap_or_default()
                            ),
                        ),
                        (_, Some(libc::EBUSY | libc::EEXIST)) => KernelError::InvalidInput {
                            what: "XDP attach",
                            reason: format!(
                                "interface {interface} already has an XDP program in another mode or attached by other means ({})",
                                errno.map(errno_text).unwrap_or_default()
                            ),
                        },
                        _ => program_error(bytes, name, "attach", e),
                    }
                })?;
                parts.push(take!(p, id, bytes, name, Xdp));
            }
            AttachTarget::SocketFilter { interface } => {
                let sock = PacketSocket::open(interface)?;
                let p: &mut SocketFilter = typed(
                    &mut self.ebpf,
                    name,
                    target,
                    "a socket filter (section `socket`)",
                )?;
                load_once!(p, bytes, name);
                let dup = sock
                    .as_fd()
                    .try_clone_to_owned()
                    .map_err(|e| KernelError::syscall("dup", target.to_string(), e))?;
                p.attach(dup.as_fd())
                    .map_err(|e| program_error(bytes, name, "attach", e))?;
                parts.push(LinkPart::Socket(SocketFilterGuard::new(dup)));
                socket = Some(sock);
            }
            AttachTarget::Tc {
                interface,
                direction,
                mode,
            } => {
                let ifname = interface.name()?;
                let p: &mut SchedClassifier = typed(
                    &mut self.ebpf,
                    name,
                    target,
                    "a tc classifier (section `classifier`)",
                )?;
                load_once!(p, bytes, name);
                let tc_type = match direction {
                    Direction::Ingress => TcAttachType::Ingress,
                    Direction::Egress => TcAttachType::Egress,
                };
                let mode = match mode {
                    TcMode::Auto
                        if crate::probe::KernelVersion::current()
                            .is_some_and(|v| (v.major, v.minor) >= (6, 6)) =>
                    {
                        TcMode::Tcx
                    }
                    TcMode::Auto => TcMode::Netlink,
                    m => *m,
                };
                let options = match mode {
                    TcMode::Tcx => TcAttachOptions::TcxOrder(LinkOrder::default()),
                    _ => {
                        if let Err(e) = aya::programs::tc::qdisc_add_clsact(&ifname) {
                            let errno = errno_of(&ProgramError::TcError(e));
                            if errno != Some(libc::EEXIST) {
                                return Err(KernelError::syscall(
                                    "RTM_NEWQDISC clsact",
                                    ifname,
                                    std::io::Error::from_raw_os_error(errno.unwrap_or(libc::EIO)),
                                ));
                            }
                        }
                        TcAttachOptions::Netlink(NlOptions::default())
                    }
                };
                let id = p
                    .attach_with_options(&ifname, tc_type, options)
                    .map_err(|e| match (mode, errno_of(&e)) {
                        (TcMode::Tcx, Some(libc::EINVAL | libc::EOPNOTSUPP)) => {
                            crate::fallback::unsupported_error(
                                &AttachTarget::Tc {
                                    interface: interface.clone(),
                                    direction: *direction,
                                    mode: TcMode::Tcx,
                                },
                                "this kernel has no TCX links (Linux 6.6+)".to_string(),
                            )
                        }
                        _ => program_error(bytes, name, "attach", e),
                    })?;
                parts.push(take!(p, id, bytes, name, Tc));
            }
            AttachTarget::PerfEvent(sampling) => {
                let cpus = match &sampling.cpus {
                    Some(c) => c.clone(),
                    None => {
                        aya::util::online_cpus().map_err(|(what, e)| KernelError::file(what, e))?
                    }
                };
                let p: &mut PerfEvent = typed(
                    &mut self.ebpf,
                    name,
                    target,
                    "a perf event (section `perf_event`)",
                )?;
                load_once!(p, bytes, name);
                let config = match sampling.event {
                    PerfEventKind::CpuClock => PerfEventConfig::Software(SoftwareEvent::CpuClock),
                    PerfEventKind::TaskClock => PerfEventConfig::Software(SoftwareEvent::TaskClock),
                    PerfEventKind::CpuCycles => PerfEventConfig::Hardware(HardwareEvent::CpuCycles),
                };
                let policy = match sampling.rate {
                    SampleRate::Frequency(hz) => SamplePolicy::Frequency(hz),
                    SampleRate::Period(n) => SamplePolicy::Period(n),
                };
                targets.clear();
                for cpu in cpus {
                    let id = p
                        .attach(config, PerfEventScope::AllProcessesOneCpu { cpu }, policy, false)
                        .map_err(|e| match errno_of(&e) {
                            Some(libc::ENOENT | libc::EOPNOTSUPP)
                                if sampling.event == PerfEventKind::CpuCycles =>
                            {
                                KernelError::Unsupported {
                                    what: format!(
                                        "the hardware cycles event on CPU {cpu} (no hardware PMU, as in most virtual machines; sample with perf:cpu-clock instead)"
                                    ),
                                }
                            }
                            _ => program_error(bytes, name, "attach", e),
                        })?;
                    parts.push(take!(p, id, bytes, name, PerfEvent));
                    targets.push(format!("{target} (cpu {cpu})"));
                }
            }
            AttachTarget::CgroupSkb { cgroup, direction } => {
                let dir = File::open(cgroup).map_err(|e| KernelError::file(cgroup, e))?;
                let p: &mut CgroupSkb = typed(
                    &mut self.ebpf,
                    name,
                    target,
                    "a cgroup skb (section `cgroup_skb/ingress`, `cgroup_skb/egress` or `cgroup/skb`)",
                )?;
                let attach_type = match direction {
                    Direction::Ingress => CgroupSkbAttachType::Ingress,
                    Direction::Egress => CgroupSkbAttachType::Egress,
                };
                if let Some(t) = p.expected_attach_type() {
                    let same = matches!(
                        (t, &attach_type),
                        (CgroupSkbAttachType::Ingress, CgroupSkbAttachType::Ingress)
                            | (CgroupSkbAttachType::Egress, CgroupSkbAttachType::Egress)
                    );
                    if !same {
                        return Err(KernelError::InvalidInput {
                            what: "program type",
                            reason: format!(
                                "program `{name}` was written for cgroup {} (its ELF section); {target} is {direction}",
                                if *direction == Direction::Ingress { "egress" } else { "ingress" }
                            ),
                        });
                    }
                }
                load_once!(p, bytes, name);
                // bpf_link attachments (5.7+) coexist with other programs and take no
                // flags (the kernel rejects BPF_F_ALLOW_MULTI there); the older
                // BPF_PROG_ATTACH needs ALLOW_MULTI not to replace other programs.
                let mode = if crate::probe::KernelVersion::current()
                    .is_some_and(|v| (v.major, v.minor) >= (5, 7))
                {
                    CgroupAttachMode::Single
                } else {
                    CgroupAttachMode::AllowMultiple
                };
                let id = p
                    .attach(&dir, attach_type, mode)
                    .map_err(|e| program_error(bytes, name, "attach", e))?;
                parts.push(take!(p, id, bytes, name, CgroupSkb));
            }
        }
        Ok((Link::new(program, targets, parts), socket))
    }

    /// Attaches through a fallback plan.
    fn attach_fallback(
        &mut self,
        program: &str,
        fallback: Fallback,
        policy: FallbackPolicy,
    ) -> Result<Attached, KernelError> {
        let Some(prog_type) = fallback.load_as else {
            // The same program on other targets (XDP skb mode, tc over netlink).
            let mut parts = Vec::new();
            let mut targets = Vec::new();
            let mut socket = None;
            for t in &fallback.targets {
                let (link, s) = self.attach_direct(program, t)?;
                let (t, p) = link.into_parts();
                targets.extend(t);
                parts.extend(p);
                socket = socket.or(s);
            }
            let link = Link::new(program, targets, parts);
            self.track(&link);
            log::info!("{}", fallback.notice());
            return Ok(Attached {
                link,
                fallback: Some(fallback),
                socket,
                context_read: None,
            });
        };

        let (insns, license) = self.relocated(program)?;
        let decoded =
            oxbpf_isa::Program::from_raw(&insns).map_err(|e| KernelError::InvalidInput {
                what: "program",
                reason: format!("program `{program}` does not decode: {e}"),
            })?;
        let read = context_read(&decoded);
        if let Some(read) = &read {
            if policy == FallbackPolicy::IfContextUnused {
                return Err(KernelError::FallbackRefused {
                    program: program.to_string(),
                    context: match fallback.requested.kind() {
                        AttachKind::Kprobe | AttachKind::Kretprobe => {
                            "kprobe context (struct pt_regs)"
                        }
                        AttachKind::Fentry | AttachKind::Fexit => {
                            "fentry/fexit context (the traced function's arguments)"
                        }
                        _ => "context",
                    },
                    read: read.clone(),
                    fallback: Box::new(fallback),
                });
            }
        }
        let key = (program.to_string(), prog_type);
        if !self.converted.contains_key(&key) {
            let opts = LoadOptions::new(prog_type)
                .name(kernel_name(program))
                .license(license);
            let loaded = load_raw(&decoded, &opts).map_err(|e| match e {
                KernelError::Verifier {
                    program: _,
                    errno,
                    log,
                    summary,
                } => {
                    let mut summary = *summary;
                    if let Some(lines) = LineTable::for_program(&self.bytes, program) {
                        summary = summary.with_lines(&lines);
                    }
                    KernelError::Verifier {
                        program: program.to_string(),
                        errno,
                        log,
                        summary: Box::new(summary),
                    }
                }
                e => e,
            })?;
            self.converted.insert(key.clone(), loaded);
        }
        let Some(loaded) = self.converted.get(&key) else {
            return Err(KernelError::NotFound {
                what: "converted program",
                name: program.to_string(),
            });
        };
        let mut parts = Vec::new();
        let mut targets = Vec::new();
        for t in &fallback.targets {
            match t {
                AttachTarget::Tracepoint { category, name } => {
                    let a = attach::attach_tracepoint(loaded, category, name).map_err(|e| {
                        match (e.errno(), &read) {
                            // perf_event_set_bpf_prog: the program reads past the record.
                            (Some(libc::EACCES), Some(r)) => KernelError::InvalidInput {
                                what: "fallback",
                                reason: format!(
                                    "the kernel refuses to attach program `{program}` to {t}: it reads its context ({r}) beyond the end of the tracepoint's record (EACCES)"
                                ),
                            },
                            _ => e,
                        }
                    })?;
                    parts.push(LinkPart::Raw(a));
                    targets.push(t.to_string());
                }
                other => {
                    return Err(KernelError::Unsupported {
                        what: format!("a fallback to {other} for a converted program"),
                    })
                }
            }
        }
        let link = Link::new(program, targets, parts);
        self.track(&link);
        let attached = Attached {
            link,
            fallback: Some(fallback),
            socket: None,
            context_read: read,
        };
        if let Some(n) = attached.notice() {
            log::info!("{n}");
        }
        Ok(attached)
    }

    /// The program's instructions as the kernel would get them (maps relocated to this
    /// object's maps, CO-RE applied, called functions linked), and its license.
    fn relocated(&self, program: &str) -> Result<(Vec<RawInsn>, String), KernelError> {
        // aya-obj's relocation code panics (unimplemented-branch macros) on symbol kinds it
        // does not expect; oxbpf-obj refuses those first, this catches anything left.
        oxbpf_obj::aya_compat::catch_panic("aya-obj", || self.relocated_unguarded(program))
            .map_err(|source| KernelError::ObjectFile { source })?
    }

    fn relocated_unguarded(&self, program: &str) -> Result<(Vec<RawInsn>, String), KernelError> {
        let bad = |reason: String| KernelError::InvalidInput {
            what: "object",
            reason: format!("relocating program `{program}`: {reason}"),
        };
        let mut obj = aya_obj::Object::parse(&self.bytes).map_err(|e| bad(e.to_string()))?;
        if obj.has_btf_relocations() {
            let btf = crate::loader::kernel_btf()?;
            obj.relocate_btf(btf).map_err(|e| bad(e.to_string()))?;
        }
        let text_sections: HashSet<usize> = obj.functions.keys().map(|(s, _)| *s).collect();
        let maps: Vec<(String, RawFd, aya_obj::Map)> = obj
            .maps
            .iter()
            .filter_map(|(name, m)| {
                let fd = map_data(self.ebpf.map(name)?).fd().as_fd().as_raw_fd();
                Some((name.clone(), fd, m.clone()))
            })
            .collect();
        obj.relocate_maps(
            maps.iter().map(|(n, fd, m)| (n.as_str(), *fd, m)),
            &text_sections,
        )
        .map_err(|e| bad(e.to_string()))?;
        obj.relocate_calls(&text_sections)
            .map_err(|e| bad(e.to_string()))?;
        let prog = obj
            .programs
            .get(program)
            .ok_or_else(|| KernelError::NotFound {
                what: "program",
                name: program.to_string(),
            })?;
        let license = prog.license.to_string_lossy().into_owned();
        let func = obj
            .functions
            .get(&prog.function_key())
            .ok_or_else(|| bad("its function is missing".to_string()))?;
        let insns = func
            .instructions
            .iter()
            .map(|i| RawInsn::new(i.code, i.dst_reg(), i.src_reg(), i.off, i.imm))
            .collect();
        Ok((insns, license))
    }

    /// Where `program` reads its context (see [`crate::context`]), or `None`.
    pub fn context_read(&self, program: &str) -> Result<Option<ContextRead>, KernelError> {
        let (insns, _) = self.relocated(program)?;
        let p = oxbpf_isa::Program::from_raw(&insns).map_err(|e| KernelError::InvalidInput {
            what: "program",
            reason: format!("program `{program}` does not decode: {e}"),
        })?;
        Ok(context_read(&p))
    }

    /// The C source line table of `program` (`None` without `-g` line info).
    pub fn line_table(&self, program: &str) -> Option<LineTable> {
        LineTable::for_program(&self.bytes, program)
    }

    // -----------------------------------------------------------------------------------
    // Programs and maps
    // -----------------------------------------------------------------------------------

    /// What the kernel reports about a loaded program of this object (the aya-loaded
    /// one; see [`KernelObject::program_ids`] for fallback loads too).
    pub fn program_info(&self, program: &str) -> Result<ProgInfo, KernelError> {
        let p = self
            .ebpf
            .program(program)
            .ok_or_else(|| KernelError::NotFound {
                what: "program",
                name: program.to_string(),
            })?;
        let info = p
            .info()
            .map_err(|e| program_error(&self.bytes, program, "info", e))?;
        crate::prog::program_info(info.id())?.ok_or_else(|| KernelError::NotFound {
            what: "loaded program",
            name: program.to_string(),
        })
    }

    /// The kernel ids of every program this object has loaded (by aya or for fallbacks).
    pub fn program_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .ebpf
            .programs()
            .filter_map(|(_, p)| p.info().ok().map(|i| i.id()))
            .chain(self.converted.values().map(LoadedProgram::id))
            .collect();
        ids.sort_unstable();
        ids
    }

    /// A handle on map `name` for byte-level and typed access ([`KernelMap::lookup`],
    /// [`KernelMap::get`], ...). It duplicates the descriptor, so it stays valid after the
    /// object is dropped (and keeps the map alive while it exists).
    pub fn map(&self, name: &str) -> Result<KernelMap, KernelError> {
        let m = self.ebpf.map(name).ok_or_else(|| KernelError::NotFound {
            what: "map",
            name: name.to_string(),
        })?;
        KernelMap::from_fd(map_data(m).fd().as_fd(), name)
    }

    fn owned_map(&self, name: &str) -> Result<aya::maps::Map, KernelError> {
        let m = self.map(name)?;
        m.into_aya()
    }

    /// A reader of ring buffer map `name`.
    pub fn ring_buffer(&self, name: &str) -> Result<RingBufReader, KernelError> {
        RingBufReader::new(name, self.owned_map(name)?)
    }

    /// A reader of perf event array `name`, with a buffer of `pages` pages (a power of
    /// two) on every online CPU.
    pub fn perf_buffer(&self, name: &str, pages: usize) -> Result<PerfReader, KernelError> {
        let cpus = aya::util::online_cpus().map_err(|(what, e)| KernelError::file(what, e))?;
        PerfReader::new(name, self.owned_map(name)?, &cpus, pages)
    }

    /// The aya object, for typed map access.
    pub fn ebpf(&self) -> &aya::Ebpf {
        &self.ebpf
    }

    /// The aya object, mutably.
    pub fn ebpf_mut(&mut self) -> &mut aya::Ebpf {
        &mut self.ebpf
    }
}

/// A BTF-targeted program is loaded for one target; attaching it elsewhere needs a new
/// load.
fn check_btf_target(
    loaded_for: &HashMap<String, String>,
    program: &str,
    want: &str,
    target: &AttachTarget,
) -> Result<(), KernelError> {
    match loaded_for.get(program) {
        Some(f) if f != want => Err(KernelError::InvalidInput {
            what: "attach target",
            reason: format!(
                "program `{program}` is loaded for `{f}` (the kernel binds BTF-typed programs to one target at load time); load the object again to attach it to {target}"
            ),
        }),
        _ => Ok(()),
    }
}

/// A failed fentry/fexit load.
fn fentry_failure(
    bytes: &[u8],
    program: &str,
    target: &AttachTarget,
    e: ProgramError,
) -> KernelError {
    match &e {
        ProgramError::Btf(_) => KernelError::NotFound {
            what: "kernel function in kernel BTF",
            name: target.kernel_function().unwrap_or("?").to_string(),
        },
        ProgramError::LoadError { io_error, .. }
            if io_error.raw_os_error() == Some(libc::EPERM) =>
        {
            probe_failure(bytes, program, target, e)
        }
        _ => match errno_of(&e) {
            Some(crate::sys::ENOTSUPP | libc::EOPNOTSUPP) => {
                probe_failure(bytes, program, target, e)
            }
            _ => program_error(bytes, program, "load", e),
        },
    }
}

impl Drop for KernelObject {
    fn drop(&mut self) {
        // Every attachment at once: the kernel's waits overlap (see `link::in_parallel`).
        let parts: Vec<LinkPart> = self.links.drain(..).flat_map(|s| s.take_parts()).collect();
        if let Err(e) = crate::link::detach_parts(parts) {
            log::warn!("detaching on drop: {e}");
        }
        // Then the fields drop: fallback programs, then aya's programs and maps.
    }
}
