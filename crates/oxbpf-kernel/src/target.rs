//! Attach targets: what a program is attached to, as data and as text.
//!
//! The text forms follow bpftrace and libbpf section names where those exist, so that the
//! same strings work on the command line and in code:
//!
//! | text | target |
//! |---|---|
//! | `tracepoint:CATEGORY:NAME` (`tp:`, `t:`) | a tracepoint through perf |
//! | `raw_tracepoint:NAME` (`raw_tp:`) | a raw tracepoint |
//! | `tp_btf:NAME` | a BTF-typed raw tracepoint |
//! | `kprobe:FUNCTION[+OFFSET]` (`k:`) | a kernel function's entry (or an offset into it) |
//! | `kretprobe:FUNCTION` (`kr:`) | a kernel function's return |
//! | `fentry:FUNCTION`, `fexit:FUNCTION` | BPF trampolines on a kernel function |
//! | `uprobe:PATH:SYMBOL[+OFFSET]`, `uprobe:PATH:0xFILEOFFSET` (`u:`) | a user function's entry; `:pid=N` at the end limits it to one process |
//! | `uretprobe:PATH:SYMBOL` (`ur:`) | a user function's return |
//! | `xdp:INTERFACE[:skb\|drv\|hw\|auto]` | XDP on an interface |
//! | `socket:INTERFACE` | a socket filter on a raw `AF_PACKET` socket bound to the interface |
//! | `tc:INTERFACE:ingress\|egress` | a tc classifier |
//! | `perf:cpu-clock:HZ`, `profile:hz:HZ`, `profile:ms:N`, `profile:us:N` | periodic sampling on every CPU |
//! | `cgroup_skb:CGROUP_PATH:ingress\|egress` | cgroup (v2) packet filter |

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::KernelError;

/// The kinds of attachment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum AttachKind {
    /// Tracepoint through a perf event.
    Tracepoint,
    /// Raw tracepoint.
    RawTracepoint,
    /// BTF-typed raw tracepoint.
    TpBtf,
    /// Kernel function entry (kprobe).
    Kprobe,
    /// Kernel function return (kretprobe).
    Kretprobe,
    /// Kernel function entry through a BPF trampoline.
    Fentry,
    /// Kernel function return through a BPF trampoline.
    Fexit,
    /// User function entry.
    Uprobe,
    /// User function return.
    Uretprobe,
    /// XDP on an interface.
    Xdp,
    /// Socket filter.
    SocketFilter,
    /// tc classifier.
    Tc,
    /// Perf event (sampling).
    PerfEvent,
    /// cgroup skb filter.
    CgroupSkb,
}

impl AttachKind {
    /// The name used in target strings (`kprobe`, `tp_btf`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            AttachKind::Tracepoint => "tracepoint",
            AttachKind::RawTracepoint => "raw_tracepoint",
            AttachKind::TpBtf => "tp_btf",
            AttachKind::Kprobe => "kprobe",
            AttachKind::Kretprobe => "kretprobe",
            AttachKind::Fentry => "fentry",
            AttachKind::Fexit => "fexit",
            AttachKind::Uprobe => "uprobe",
            AttachKind::Uretprobe => "uretprobe",
            AttachKind::Xdp => "xdp",
            AttachKind::SocketFilter => "socket",
            AttachKind::Tc => "tc",
            AttachKind::PerfEvent => "perf",
            AttachKind::CgroupSkb => "cgroup_skb",
        }
    }
}

impl fmt::Display for AttachKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A network interface, by name or index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Interface {
    /// By name (`eth0`), resolved in the calling thread's network namespace.
    Name(String),
    /// By index.
    Index(u32),
}

impl Interface {
    /// The interface index (resolving a name with `if_nametoindex`).
    pub fn index(&self) -> Result<u32, KernelError> {
        match self {
            Interface::Index(i) => Ok(*i),
            Interface::Name(n) => crate::sys::if_nametoindex(n).map_err(|e| {
                if e.raw_os_error() == Some(libc::ENODEV)
                    || e.kind() == std::io::ErrorKind::NotFound
                {
                    KernelError::NotFound {
                        what: "network interface",
                        name: n.clone(),
                    }
                } else {
                    KernelError::syscall("if_nametoindex", n.clone(), e)
                }
            }),
        }
    }

    /// The interface name (resolving an index with `if_indextoname`).
    pub fn name(&self) -> Result<String, KernelError> {
        match self {
            Interface::Name(n) => Ok(n.clone()),
            Interface::Index(i) => crate::sys::if_indextoname(*i).map_err(|e| {
                if e.raw_os_error() == Some(libc::ENXIO) {
                    KernelError::NotFound {
                        what: "network interface",
                        name: format!("index {i}"),
                    }
                } else {
                    KernelError::syscall("if_indextoname", format!("index {i}"), e)
                }
            }),
        }
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interface::Name(n) => f.write_str(n),
            Interface::Index(i) => write!(f, "#{i}"),
        }
    }
}

impl From<&str> for Interface {
    fn from(s: &str) -> Self {
        Interface::Name(s.to_string())
    }
}

impl From<u32> for Interface {
    fn from(i: u32) -> Self {
        Interface::Index(i)
    }
}

/// How an XDP program is attached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum XdpMode {
    /// Let the kernel choose (native when the driver has it, else generic).
    #[default]
    Auto,
    /// Generic XDP (`XDP_FLAGS_SKB_MODE`): in the network stack, works on every interface.
    Skb,
    /// Native XDP (`XDP_FLAGS_DRV_MODE`): in the driver; needs driver support.
    Driver,
    /// Offloaded to the NIC (`XDP_FLAGS_HW_MODE`); needs a program loaded for the device.
    Hardware,
}

impl XdpMode {
    /// The name in target strings.
    pub const fn name(self) -> &'static str {
        match self {
            XdpMode::Auto => "auto",
            XdpMode::Skb => "skb",
            XdpMode::Driver => "drv",
            XdpMode::Hardware => "hw",
        }
    }

    /// The `XDP_FLAGS_*` value.
    pub const fn flags(self) -> u32 {
        match self {
            XdpMode::Auto => 0,
            XdpMode::Skb => 1 << 1,
            XdpMode::Driver => 1 << 2,
            XdpMode::Hardware => 1 << 3,
        }
    }

    fn parse(s: &str) -> Option<XdpMode> {
        Some(match s {
            "auto" | "default" => XdpMode::Auto,
            "skb" | "generic" => XdpMode::Skb,
            "drv" | "driver" | "native" => XdpMode::Driver,
            "hw" | "hardware" | "offload" => XdpMode::Hardware,
            _ => return None,
        })
    }
}

impl fmt::Display for XdpMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Packet direction for tc and cgroup skb programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Received packets.
    Ingress,
    /// Sent packets.
    Egress,
}

impl Direction {
    /// `ingress` or `egress`.
    pub const fn name(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }

    fn parse(s: &str) -> Option<Direction> {
        match s {
            "ingress" | "in" => Some(Direction::Ingress),
            "egress" | "out" => Some(Direction::Egress),
            _ => None,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How tc programs are attached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TcMode {
    /// TCX links on Linux 6.6 and newer, else a clsact qdisc and a netlink filter.
    #[default]
    Auto,
    /// A TCX link (`BPF_LINK_CREATE` with `BPF_TCX_INGRESS`/`EGRESS`, 6.6+).
    Tcx,
    /// A `clsact` qdisc (added when absent) and a `bpf` filter through netlink.
    Netlink,
}

/// Where in a user binary a uprobe goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UprobeLocation {
    /// A symbol of the binary (its ELF symbol table or dynamic symbols), plus an offset
    /// into the function.
    Symbol {
        /// The symbol name.
        name: String,
        /// Bytes past the symbol's start.
        offset: u64,
    },
    /// A file offset in the binary (what the kernel takes).
    FileOffset(u64),
}

impl fmt::Display for UprobeLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UprobeLocation::Symbol { name, offset: 0 } => f.write_str(name),
            UprobeLocation::Symbol { name, offset } => write!(f, "{name}+{offset:#x}"),
            UprobeLocation::FileOffset(o) => write!(f, "{o:#x}"),
        }
    }
}

/// A uprobe's target: a binary (or library), a location in it, optionally one process.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UprobeTarget {
    /// The binary or shared library (a path; a bare library name such as `libc` is
    /// resolved through `ld.so.cache` by aya).
    pub binary: PathBuf,
    /// The function or offset.
    pub location: UprobeLocation,
    /// Only this process (all processes when `None`).
    pub pid: Option<u32>,
}

impl UprobeTarget {
    /// A symbol in `binary`, all processes.
    pub fn symbol(binary: impl Into<PathBuf>, symbol: impl Into<String>) -> UprobeTarget {
        UprobeTarget {
            binary: binary.into(),
            location: UprobeLocation::Symbol {
                name: symbol.into(),
                offset: 0,
            },
            pid: None,
        }
    }

    /// A file offset in `binary`, all processes.
    pub fn offset(binary: impl Into<PathBuf>, offset: u64) -> UprobeTarget {
        UprobeTarget {
            binary: binary.into(),
            location: UprobeLocation::FileOffset(offset),
            pid: None,
        }
    }

    /// Limits the probe to one process.
    pub fn pid(mut self, pid: u32) -> UprobeTarget {
        self.pid = Some(pid);
        self
    }
}

/// The perf event a sampling program runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PerfEventKind {
    /// The `cpu-clock` software event (a high-resolution timer per CPU; counts
    /// nanoseconds). Works everywhere, including virtual machines without a PMU.
    CpuClock,
    /// The `task-clock` software event.
    TaskClock,
    /// The hardware CPU cycles counter (needs a PMU).
    CpuCycles,
}

impl PerfEventKind {
    /// The name in target strings (`cpu-clock`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            PerfEventKind::CpuClock => "cpu-clock",
            PerfEventKind::TaskClock => "task-clock",
            PerfEventKind::CpuCycles => "cycles",
        }
    }
}

/// How often a perf event fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SampleRate {
    /// Samples per second (the kernel adjusts the period to reach it).
    Frequency(u64),
    /// One sample every N events (for `cpu-clock`: every N nanoseconds).
    Period(u64),
}

/// Periodic sampling: a perf event per CPU running the program.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PerfSampling {
    /// The event.
    pub event: PerfEventKind,
    /// How often.
    pub rate: SampleRate,
    /// The CPUs to sample on; `None` means every online CPU.
    pub cpus: Option<Vec<u32>>,
}

impl PerfSampling {
    /// `cpu-clock` at `hz` samples per second on every online CPU.
    pub fn cpu_clock_hz(hz: u64) -> PerfSampling {
        PerfSampling {
            event: PerfEventKind::CpuClock,
            rate: SampleRate::Frequency(hz),
            cpus: None,
        }
    }
}

/// Where a program is attached.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttachTarget {
    /// `tracepoint:CATEGORY:NAME`.
    Tracepoint {
        /// The subsystem (`syscalls`, `sched`, ...).
        category: String,
        /// The event.
        name: String,
    },
    /// `raw_tracepoint:NAME`.
    RawTracepoint {
        /// The kernel tracepoint (`sys_enter`, `sched_switch`, ...).
        name: String,
    },
    /// `tp_btf:NAME`.
    TpBtf {
        /// The kernel tracepoint (`sched_switch`, ...).
        name: String,
    },
    /// `kprobe:FUNCTION[+OFFSET]`.
    Kprobe {
        /// The kernel function.
        function: String,
        /// Bytes past its start.
        offset: u64,
    },
    /// `kretprobe:FUNCTION`.
    Kretprobe {
        /// The kernel function.
        function: String,
    },
    /// `fentry:FUNCTION`.
    Fentry {
        /// The kernel function.
        function: String,
    },
    /// `fexit:FUNCTION`.
    Fexit {
        /// The kernel function.
        function: String,
    },
    /// `uprobe:PATH:LOCATION`.
    Uprobe(UprobeTarget),
    /// `uretprobe:PATH:LOCATION`.
    Uretprobe(UprobeTarget),
    /// `xdp:INTERFACE[:MODE]`.
    Xdp {
        /// The interface.
        interface: Interface,
        /// The mode.
        mode: XdpMode,
    },
    /// `socket:INTERFACE`: a raw `AF_PACKET` socket bound to the interface, opened by the
    /// attach (for a socket of your own, use `KernelObject::attach_socket_filter`).
    SocketFilter {
        /// The interface.
        interface: Interface,
    },
    /// `tc:INTERFACE:DIRECTION`.
    Tc {
        /// The interface.
        interface: Interface,
        /// Ingress or egress.
        direction: Direction,
        /// TCX or netlink.
        mode: TcMode,
    },
    /// `perf:EVENT:HZ` / `profile:hz:HZ`.
    PerfEvent(PerfSampling),
    /// `cgroup_skb:PATH:DIRECTION`.
    CgroupSkb {
        /// The cgroup v2 directory.
        cgroup: PathBuf,
        /// Ingress or egress.
        direction: Direction,
    },
}

impl AttachTarget {
    /// A tracepoint target.
    pub fn tracepoint(category: &str, name: &str) -> AttachTarget {
        AttachTarget::Tracepoint {
            category: category.to_string(),
            name: name.to_string(),
        }
    }

    /// The kind.
    pub fn kind(&self) -> AttachKind {
        match self {
            AttachTarget::Tracepoint { .. } => AttachKind::Tracepoint,
            AttachTarget::RawTracepoint { .. } => AttachKind::RawTracepoint,
            AttachTarget::TpBtf { .. } => AttachKind::TpBtf,
            AttachTarget::Kprobe { .. } => AttachKind::Kprobe,
            AttachTarget::Kretprobe { .. } => AttachKind::Kretprobe,
            AttachTarget::Fentry { .. } => AttachKind::Fentry,
            AttachTarget::Fexit { .. } => AttachKind::Fexit,
            AttachTarget::Uprobe(_) => AttachKind::Uprobe,
            AttachTarget::Uretprobe(_) => AttachKind::Uretprobe,
            AttachTarget::Xdp { .. } => AttachKind::Xdp,
            AttachTarget::SocketFilter { .. } => AttachKind::SocketFilter,
            AttachTarget::Tc { .. } => AttachKind::Tc,
            AttachTarget::PerfEvent(_) => AttachKind::PerfEvent,
            AttachTarget::CgroupSkb { .. } => AttachKind::CgroupSkb,
        }
    }

    /// The kernel function of a kprobe, kretprobe, fentry or fexit target.
    pub fn kernel_function(&self) -> Option<&str> {
        match self {
            AttachTarget::Kprobe { function, .. }
            | AttachTarget::Kretprobe { function }
            | AttachTarget::Fentry { function }
            | AttachTarget::Fexit { function } => Some(function),
            _ => None,
        }
    }

    /// Parses the text form (see the module documentation).
    pub fn parse(s: &str) -> Result<AttachTarget, KernelError> {
        let bad = |reason: String| KernelError::InvalidInput {
            what: "attach target",
            reason: format!("`{s}`: {reason}"),
        };
        let s = s.trim();
        let (kind, rest) = s
            .split_once(':')
            .ok_or_else(|| bad("expected KIND:..., e.g. tracepoint:syscalls:sys_enter_openat, kprobe:do_sys_openat2, uprobe:/bin/bash:readline".to_string()))?;
        let nonempty = |what: &str, v: &str| -> Result<String, KernelError> {
            if v.is_empty() {
                Err(bad(format!("the {what} is empty")))
            } else if v.contains(char::is_whitespace) {
                Err(bad(format!("the {what} `{v}` contains white space")))
            } else {
                Ok(v.to_string())
            }
        };
        let function = |v: &str| -> Result<(String, u64), KernelError> {
            match v.split_once('+') {
                Some((f, off)) => Ok((
                    nonempty("function", f)?,
                    parse_u64(off).ok_or_else(|| bad(format!("bad offset `{off}`")))?,
                )),
                None => Ok((nonempty("function", v)?, 0)),
            }
        };
        let no_offset = |kind: &str, v: &str| -> Result<String, KernelError> {
            let (f, off) = function(v)?;
            if off != 0 {
                return Err(bad(format!("{kind} takes no offset")));
            }
            Ok(f)
        };
        Ok(match kind {
            "tracepoint" | "tp" | "t" => {
                let (c, n) = rest
                    .split_once(':')
                    .ok_or_else(|| bad("expected tracepoint:CATEGORY:NAME".to_string()))?;
                AttachTarget::Tracepoint {
                    category: nonempty("category", c)?,
                    name: nonempty("tracepoint name", n)?,
                }
            }
            "raw_tracepoint" | "raw_tp" | "rawtracepoint" => AttachTarget::RawTracepoint {
                name: nonempty("raw tracepoint", rest)?,
            },
            "tp_btf" => AttachTarget::TpBtf {
                name: nonempty("tracepoint", rest)?,
            },
            "kprobe" | "k" => {
                let (function, offset) = function(rest)?;
                AttachTarget::Kprobe { function, offset }
            }
            "kretprobe" | "kr" => AttachTarget::Kretprobe {
                function: no_offset("kretprobe", rest)?,
            },
            "fentry" | "f" => AttachTarget::Fentry {
                function: no_offset("fentry", rest)?,
            },
            "fexit" | "fr" => AttachTarget::Fexit {
                function: no_offset("fexit", rest)?,
            },
            "uprobe" | "u" | "uretprobe" | "ur" => {
                let ret = kind == "uretprobe" || kind == "ur";
                let (rest, pid) = match rest.rsplit_once(":pid=") {
                    Some((r, p)) => (
                        r,
                        Some(p.parse::<u32>().map_err(|_| bad(format!("bad pid `{p}`")))?),
                    ),
                    None => (rest, None),
                };
                let (path, loc) = rest
                    .rsplit_once(':')
                    .ok_or_else(|| bad("expected uprobe:PATH:SYMBOL or uprobe:PATH:0xOFFSET".to_string()))?;
                let binary = PathBuf::from(nonempty("binary path", path)?);
                let location = if loc.starts_with("0x") || loc.bytes().all(|b| b.is_ascii_digit()) {
                    UprobeLocation::FileOffset(
                        parse_u64(loc).ok_or_else(|| bad(format!("bad offset `{loc}`")))?,
                    )
                } else {
                    let (name, offset) = function(loc)?;
                    UprobeLocation::Symbol { name, offset }
                };
                if ret && !matches!(location, UprobeLocation::Symbol { offset: 0, .. } | UprobeLocation::FileOffset(_)) {
                    return Err(bad("uretprobe takes a function, not an offset into one".to_string()));
                }
                let t = UprobeTarget {
                    binary,
                    location,
                    pid,
                };
                if ret {
                    AttachTarget::Uretprobe(t)
                } else {
                    AttachTarget::Uprobe(t)
                }
            }
            "xdp" => {
                let (iface, mode) = match rest.split_once(':') {
                    Some((i, m)) => (
                        i,
                        XdpMode::parse(m).ok_or_else(|| {
                            bad(format!("unknown XDP mode `{m}` (skb, drv, hw or auto)"))
                        })?,
                    ),
                    None => (rest, XdpMode::Auto),
                };
                AttachTarget::Xdp {
                    interface: Interface::Name(nonempty("interface", iface)?),
                    mode,
                }
            }
            "socket" | "socket_filter" => AttachTarget::SocketFilter {
                interface: Interface::Name(nonempty("interface", rest)?),
            },
            "tc" => {
                let (iface, dir) = rest
                    .split_once(':')
                    .ok_or_else(|| bad("expected tc:INTERFACE:ingress or tc:INTERFACE:egress".to_string()))?;
                let (dir, mode) = match dir.split_once(':') {
                    Some((d, "tcx")) => (d, TcMode::Tcx),
                    Some((d, "netlink")) => (d, TcMode::Netlink),
                    Some((_, m)) => return Err(bad(format!("unknown tc mode `{m}` (tcx or netlink)"))),
                    None => (dir, TcMode::Auto),
                };
                AttachTarget::Tc {
                    interface: Interface::Name(nonempty("interface", iface)?),
                    direction: Direction::parse(dir)
                        .ok_or_else(|| bad(format!("unknown direction `{dir}` (ingress or egress)")))?,
                    mode,
                }
            }
            "perf" | "profile" => {
                let (a, b) = rest
                    .split_once(':')
                    .ok_or_else(|| bad("expected perf:cpu-clock:HZ or profile:hz:HZ".to_string()))?;
                let n = parse_u64(b)
                    .filter(|&n| n > 0)
                    .ok_or_else(|| bad(format!("bad rate `{b}` (a positive number)")))?;
                let (event, rate) = match (kind, a) {
                    ("profile", "hz") => (PerfEventKind::CpuClock, SampleRate::Frequency(n)),
                    ("profile", "s") => (PerfEventKind::CpuClock, SampleRate::Period(n.saturating_mul(1_000_000_000))),
                    ("profile", "ms") => (PerfEventKind::CpuClock, SampleRate::Period(n.saturating_mul(1_000_000))),
                    ("profile", "us") => (PerfEventKind::CpuClock, SampleRate::Period(n.saturating_mul(1_000))),
                    ("perf", "cpu-clock") => (PerfEventKind::CpuClock, SampleRate::Frequency(n)),
                    ("perf", "task-clock") => (PerfEventKind::TaskClock, SampleRate::Frequency(n)),
                    ("perf", "cycles" | "cpu-cycles") => (PerfEventKind::CpuCycles, SampleRate::Frequency(n)),
                    _ => return Err(bad(format!("unknown {kind} event `{a}` (perf:cpu-clock|task-clock|cycles:HZ, profile:hz|s|ms|us:N)"))),
                };
                AttachTarget::PerfEvent(PerfSampling {
                    event,
                    rate,
                    cpus: None,
                })
            }
            "cgroup_skb" => {
                let (path, dir) = rest
                    .rsplit_once(':')
                    .ok_or_else(|| bad("expected cgroup_skb:PATH:ingress or cgroup_skb:PATH:egress".to_string()))?;
                AttachTarget::CgroupSkb {
                    cgroup: PathBuf::from(nonempty("cgroup path", path)?),
                    direction: Direction::parse(dir)
                        .ok_or_else(|| bad(format!("unknown direction `{dir}` (ingress or egress)")))?,
                }
            }
            other => {
                return Err(bad(format!(
                    "unknown attach kind `{other}` (tracepoint, raw_tracepoint, tp_btf, kprobe, kretprobe, fentry, fexit, uprobe, uretprobe, xdp, socket, tc, perf, profile, cgroup_skb)"
                )))
            }
        })
    }
}

fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

impl FromStr for AttachTarget {
    type Err = KernelError;
    fn from_str(s: &str) -> Result<Self, KernelError> {
        AttachTarget::parse(s)
    }
}

impl fmt::Display for AttachTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttachTarget::Tracepoint { category, name } => {
                write!(f, "tracepoint:{category}:{name}")
            }
            AttachTarget::RawTracepoint { name } => write!(f, "raw_tracepoint:{name}"),
            AttachTarget::TpBtf { name } => write!(f, "tp_btf:{name}"),
            AttachTarget::Kprobe {
                function,
                offset: 0,
            } => write!(f, "kprobe:{function}"),
            AttachTarget::Kprobe { function, offset } => write!(f, "kprobe:{function}+{offset:#x}"),
            AttachTarget::Kretprobe { function } => write!(f, "kretprobe:{function}"),
            AttachTarget::Fentry { function } => write!(f, "fentry:{function}"),
            AttachTarget::Fexit { function } => write!(f, "fexit:{function}"),
            AttachTarget::Uprobe(t) | AttachTarget::Uretprobe(t) => {
                let kind = if matches!(self, AttachTarget::Uprobe(_)) {
                    "uprobe"
                } else {
                    "uretprobe"
                };
                write!(f, "{kind}:{}:{}", t.binary.display(), t.location)?;
                if let Some(p) = t.pid {
                    write!(f, ":pid={p}")?;
                }
                Ok(())
            }
            AttachTarget::Xdp { interface, mode } => write!(f, "xdp:{interface}:{mode}"),
            AttachTarget::SocketFilter { interface } => write!(f, "socket:{interface}"),
            AttachTarget::Tc {
                interface,
                direction,
                mode,
            } => {
                write!(f, "tc:{interface}:{direction}")?;
                match mode {
                    TcMode::Auto => Ok(()),
                    TcMode::Tcx => f.write_str(":tcx"),
                    TcMode::Netlink => f.write_str(":netlink"),
                }
            }
            AttachTarget::PerfEvent(p) => match p.rate {
                SampleRate::Frequency(hz) => write!(f, "perf:{}:{hz}", p.event.name()),
                SampleRate::Period(n) => write!(f, "perf:{}:period={n}", p.event.name()),
            },
            AttachTarget::CgroupSkb { cgroup, direction } => {
                write!(f, "cgroup_skb:{}:{direction}", cgroup.display())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(s: &str) -> String {
        AttachTarget::parse(s).unwrap().to_string()
    }

    #[test]
    fn text_forms_parse_and_print() {
        assert_eq!(
            round_trip("t:syscalls:sys_enter_openat"),
            "tracepoint:syscalls:sys_enter_openat"
        );
        assert_eq!(round_trip("raw_tp:sys_enter"), "raw_tracepoint:sys_enter");
        assert_eq!(round_trip("tp_btf:sched_switch"), "tp_btf:sched_switch");
        assert_eq!(round_trip("kprobe:do_sys_openat2"), "kprobe:do_sys_openat2");
        assert_eq!(round_trip("k:vfs_read+0x10"), "kprobe:vfs_read+0x10");
        assert_eq!(
            round_trip("kr:__x64_sys_openat"),
            "kretprobe:__x64_sys_openat"
        );
        assert_eq!(round_trip("fentry:do_unlinkat"), "fentry:do_unlinkat");
        assert_eq!(round_trip("fexit:do_unlinkat"), "fexit:do_unlinkat");
        assert_eq!(
            round_trip("uprobe:/bin/bash:readline"),
            "uprobe:/bin/bash:readline"
        );
        assert_eq!(
            round_trip("u:/bin/bash:readline+4:pid=42"),
            "uprobe:/bin/bash:readline+0x4:pid=42"
        );
        assert_eq!(round_trip("uprobe:/bin/x:0x1130"), "uprobe:/bin/x:0x1130");
        assert_eq!(
            round_trip("ur:/lib/libc.so.6:malloc"),
            "uretprobe:/lib/libc.so.6:malloc"
        );
        assert_eq!(round_trip("xdp:eth0"), "xdp:eth0:auto");
        assert_eq!(round_trip("xdp:eth0:native"), "xdp:eth0:drv");
        assert_eq!(round_trip("socket:veth0"), "socket:veth0");
        assert_eq!(round_trip("tc:veth0:ingress"), "tc:veth0:ingress");
        assert_eq!(
            round_trip("tc:veth0:egress:netlink"),
            "tc:veth0:egress:netlink"
        );
        assert_eq!(round_trip("profile:hz:99"), "perf:cpu-clock:99");
        assert_eq!(
            round_trip("profile:ms:10"),
            "perf:cpu-clock:period=10000000"
        );
        assert_eq!(
            round_trip("cgroup_skb:/sys/fs/cgroup/x:egress"),
            "cgroup_skb:/sys/fs/cgroup/x:egress"
        );
        let t = AttachTarget::parse("kretprobe:vfs_read").unwrap();
        assert_eq!(t.kind(), AttachKind::Kretprobe);
        assert_eq!(t.kernel_function(), Some("vfs_read"));
    }

    #[test]
    fn bad_targets_say_why() {
        for (s, want) in [
            ("openat", "expected KIND:"),
            ("tracepoint:syscalls", "tracepoint:CATEGORY:NAME"),
            ("kprobe:", "function is empty"),
            ("kprobe:f+zz", "bad offset `zz`"),
            ("kretprobe:f+4", "takes no offset"),
            ("xdp:eth0:turbo", "unknown XDP mode `turbo`"),
            ("tc:eth0:sideways", "unknown direction `sideways`"),
            ("profile:hz:0", "bad rate `0`"),
            ("uprobe:/bin/x:f:pid=me", "bad pid `me`"),
            ("nope:x", "unknown attach kind `nope`"),
        ] {
            let e = AttachTarget::parse(s).unwrap_err().to_string();
            assert!(e.contains(want), "{s}: {e}");
            assert!(e.contains(s), "{s}: {e}");
        }
    }
}
