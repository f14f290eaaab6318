//! Program kinds, parsed from ELF section names the way libbpf names them
//! (<https://docs.kernel.org/bpf/libbpf/program_types.html>).

use std::fmt;

/// Where an XDP program attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XdpAttach {
    /// A network interface (`xdp`).
    Interface,
    /// A device map entry (`xdp/devmap`).
    DevMap,
    /// A CPU map entry (`xdp/cpumap`).
    CpuMap,
}

/// Where a traffic-control classifier attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcAttach {
    /// Chosen at attach time (`tc`, `classifier`).
    Unspecified,
    /// `tc/ingress`.
    Ingress,
    /// `tc/egress`.
    Egress,
    /// `tcx/ingress` (tcx link).
    TcxIngress,
    /// `tcx/egress` (tcx link).
    TcxEgress,
}

/// Traffic direction of cgroup socket-buffer programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Ingress,
    Egress,
}

/// The kind of a program, with the attach target its section names.
///
/// Strings are empty where the section leaves the target to attach time (`kprobe`,
/// `tracepoint`, `uprobe`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ProgramKind {
    /// A plain function in `.text` that nothing calls (BCC style): the program type is
    /// chosen when it is loaded or attached.
    Unspecified,
    /// `socket`.
    SocketFilter,
    /// `kprobe/<function>[+<offset>]`, `kretprobe/<function>`.
    Kprobe {
        function: String,
        offset: u64,
        ret: bool,
    },
    /// `ksyscall/<syscall>`, `kretsyscall/<syscall>`.
    Ksyscall { syscall: String, ret: bool },
    /// `uprobe[.s]/<binary>:<function>[+<offset>]`, `uretprobe[.s]/...`. When the function
    /// part is a number, `function` is empty and `offset` is the file offset.
    Uprobe {
        binary: String,
        function: String,
        offset: u64,
        ret: bool,
        sleepable: bool,
    },
    /// `usdt[.s]/<binary>:<provider>:<name>` (kept verbatim in `target`).
    Usdt { target: String, sleepable: bool },
    /// `tracepoint/<category>/<name>` or `tp/<category>/<name>`; both empty for
    /// `tracepoint` and for suffixes that are not `<category>/<name>`.
    Tracepoint { category: String, name: String },
    /// `raw_tp/<name>`, `raw_tracepoint/<name>`; `writable` for the `.w` forms.
    RawTracepoint { name: String, writable: bool },
    /// `tp_btf/<name>`.
    TpBtf { name: String },
    /// `fentry[.s]/<function>`.
    Fentry { function: String, sleepable: bool },
    /// `fexit[.s]/<function>`.
    Fexit { function: String, sleepable: bool },
    /// `fmod_ret[.s]/<function>`.
    FmodRet { function: String, sleepable: bool },
    /// `freplace/<function>`.
    Extension { function: String },
    /// `lsm[.s]/<hook>`.
    Lsm { hook: String, sleepable: bool },
    /// `lsm_cgroup/<hook>`.
    LsmCgroup { hook: String },
    /// `iter[.s]/<target>`.
    Iter { target: String, sleepable: bool },
    /// `syscall`.
    Syscall,
    /// `struct_ops[.s]/<name>`.
    StructOps { name: String, sleepable: bool },
    /// `xdp`, `xdp.frags`, `xdp/devmap`, `xdp/cpumap`, ...
    Xdp { frags: bool, attach: XdpAttach },
    /// `tc`, `classifier`, `tc/ingress`, `tc/egress`, `tcx/ingress`, `tcx/egress`.
    SchedCls { attach: TcAttach },
    /// `action`.
    SchedAct,
    /// `perf_event`.
    PerfEvent,
    /// `cgroup_skb/ingress`, `cgroup_skb/egress`, `cgroup/skb`.
    CgroupSkb { direction: Option<Direction> },
    /// `cgroup/sock`, `cgroup/sock_create`, `cgroup/sock_release`, `cgroup/post_bind4`,
    /// `cgroup/post_bind6`.
    CgroupSock { hook: String },
    /// `cgroup/bind4`, `cgroup/connect6`, `cgroup/sendmsg4`, ... (the part after
    /// `cgroup/`).
    CgroupSockAddr { hook: String },
    /// `cgroup/sysctl`.
    CgroupSysctl,
    /// `cgroup/getsockopt`, `cgroup/setsockopt`.
    CgroupSockopt { hook: String },
    /// `cgroup/dev`.
    CgroupDevice,
    /// `sockops`.
    SockOps,
    /// `sk_skb`, `sk_skb/stream_parser`, `sk_skb/stream_verdict`, `sk_skb/verdict`.
    SkSkb { hook: String },
    /// `sk_msg`.
    SkMsg,
    /// `sk_lookup`.
    SkLookup,
    /// `sk_reuseport`, `sk_reuseport/migrate`.
    SkReuseport { migrate: bool },
    /// `lirc_mode2`.
    LircMode2,
    /// `flow_dissector`.
    FlowDissector,
    /// `lwt_in`, `lwt_out`, `lwt_xmit`, `lwt_seg6local` (the hook is the part after
    /// `lwt_`).
    Lwt { hook: String },
    /// `netfilter`.
    Netfilter,
}

/// Linux `BPF_PROG_TYPE_*` ids.
pub mod prog_type {
    pub const UNSPEC: u32 = 0;
    pub const SOCKET_FILTER: u32 = 1;
    pub const KPROBE: u32 = 2;
    pub const SCHED_CLS: u32 = 3;
    pub const SCHED_ACT: u32 = 4;
    pub const TRACEPOINT: u32 = 5;
    pub const XDP: u32 = 6;
    pub const PERF_EVENT: u32 = 7;
    pub const CGROUP_SKB: u32 = 8;
    pub const CGROUP_SOCK: u32 = 9;
    pub const LWT_IN: u32 = 10;
    pub const LWT_OUT: u32 = 11;
    pub const LWT_XMIT: u32 = 12;
    pub const SOCK_OPS: u32 = 13;
    pub const SK_SKB: u32 = 14;
    pub const CGROUP_DEVICE: u32 = 15;
    pub const SK_MSG: u32 = 16;
    pub const RAW_TRACEPOINT: u32 = 17;
    pub const CGROUP_SOCK_ADDR: u32 = 18;
    pub const LWT_SEG6LOCAL: u32 = 19;
    pub const LIRC_MODE2: u32 = 20;
    pub const SK_REUSEPORT: u32 = 21;
    pub const FLOW_DISSECTOR: u32 = 22;
    pub const CGROUP_SYSCTL: u32 = 23;
    pub const RAW_TRACEPOINT_WRITABLE: u32 = 24;
    pub const CGROUP_SOCKOPT: u32 = 25;
    pub const TRACING: u32 = 26;
    pub const STRUCT_OPS: u32 = 27;
    pub const EXT: u32 = 28;
    pub const LSM: u32 = 29;
    pub const SK_LOOKUP: u32 = 30;
    pub const SYSCALL: u32 = 31;
    pub const NETFILTER: u32 = 32;
}

/// Splits `kind[/rest]` into its two parts.
fn split1(section: &str) -> (&str, Option<&str>) {
    match section.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (section, None),
    }
}

/// Parses `123`, `0x7b`: the offset notation of probe sections.
fn parse_number(s: &str) -> Option<u64> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else {
        s.parse().ok()
    }
}

/// `function[+offset]` -> (function, offset).
fn func_offset(spec: &str) -> Result<(String, u64), String> {
    match spec.split_once('+') {
        Some((f, off)) => match parse_number(off) {
            Some(o) => Ok((f.to_string(), o)),
            None => Err(format!(
                "bad offset `{off}` (expected a decimal or 0x number)"
            )),
        },
        None => Ok((spec.to_string(), 0)),
    }
}

impl ProgramKind {
    /// Parses a program section name. `.text` (and `.text.*`) give
    /// [`ProgramKind::Unspecified`]. Unknown names are an error that says so. Every name
    /// aya-obj loads loads here too: `tracepoint/<function>` and `uprobe/<function>`
    /// (aya-ebpf's names; libbpf loads them too) leave the target to attach time, and the
    /// `/<function>` suffixes aya-ebpf adds to `classifier`, `sk_msg`, `cgroup_skb/ingress`,
    /// ... are ignored, as aya-obj ignores them.
    pub fn from_section(section: &str) -> Result<ProgramKind, String> {
        use ProgramKind as K;
        if section == ".text" || section.starts_with(".text.") {
            return Ok(K::Unspecified);
        }
        let (kind, rest) = split1(section);
        let rest_str = rest.unwrap_or("");
        let target = || rest_str.to_string();
        let exact = |k: ProgramKind| -> Result<ProgramKind, String> {
            match rest {
                None => Ok(k),
                Some(_) => Err(format!("section `{kind}` takes no `/...` suffix")),
            }
        };
        // aya-obj loads these with any `/...` suffix (aya-ebpf names sections
        // `<kind>/<function>`), so they load here too; the suffix carries no target.
        let suffix_ignored = |k: ProgramKind| -> ProgramKind {
            if let Some(r) = rest {
                log::debug!("section `{section}`: ignoring the suffix `{r}` (as aya does)");
            }
            k
        };
        // The first `/`-separated part of the suffix: aya-obj ignores what follows
        // (`cgroup_skb/ingress/<function>`, `sk_skb/stream_parser/<function>`).
        let hook = rest.map(|r| r.split_once('/').map_or(r, |(h, _)| h));
        Ok(match kind {
            // Old libbpf and aya accept `socket/<anything>`.
            "socket" => K::SocketFilter,
            "kprobe" | "kretprobe" => {
                let (function, offset) = func_offset(rest_str)?;
                K::Kprobe {
                    function,
                    offset,
                    ret: kind == "kretprobe",
                }
            }
            "ksyscall" | "kretsyscall" => K::Ksyscall {
                syscall: target(),
                ret: kind == "kretsyscall",
            },
            "uprobe" | "uprobe.s" | "uretprobe" | "uretprobe.s" => {
                let (binary, function, offset) = if rest_str.is_empty() {
                    (String::new(), String::new(), 0)
                } else {
                    match rest_str.split_once(':') {
                        Some((bin, spec)) => match parse_number(spec) {
                            Some(off) => (bin.to_string(), String::new(), off),
                            None => {
                                let (f, off) = func_offset(spec)?;
                                (bin.to_string(), f, off)
                            }
                        },
                        // `uprobe/<name>` without a binary (aya-ebpf's naming): libbpf
                        // and aya load it and take the target at attach time.
                        None => (String::new(), String::new(), 0),
                    }
                };
                K::Uprobe {
                    binary,
                    function,
                    offset,
                    ret: kind.starts_with("uret"),
                    sleepable: kind.ends_with(".s"),
                }
            }
            "usdt" | "usdt.s" => K::Usdt {
                target: target(),
                sleepable: kind == "usdt.s",
            },
            "tracepoint" | "tp" => match rest {
                None => K::Tracepoint {
                    category: String::new(),
                    name: String::new(),
                },
                Some(r) => match r.split_once('/') {
                    Some((c, n)) if !c.is_empty() && !n.is_empty() && !n.contains('/') => {
                        K::Tracepoint {
                            category: c.to_string(),
                            name: n.to_string(),
                        }
                    }
                    // Not `<category>/<name>` (aya-ebpf's `tracepoint/<function>`):
                    // libbpf and aya load it and take the target at attach time.
                    _ => K::Tracepoint {
                        category: String::new(),
                        name: String::new(),
                    },
                },
            },
            "raw_tp" | "raw_tracepoint" => K::RawTracepoint {
                name: target(),
                writable: false,
            },
            "raw_tp.w" | "raw_tracepoint.w" => K::RawTracepoint {
                name: target(),
                writable: true,
            },
            "tp_btf" => K::TpBtf { name: target() },
            "fentry" | "fentry.s" => K::Fentry {
                function: target(),
                sleepable: kind.ends_with(".s"),
            },
            "fexit" | "fexit.s" => K::Fexit {
                function: target(),
                sleepable: kind.ends_with(".s"),
            },
            "fmod_ret" | "fmod_ret.s" => K::FmodRet {
                function: target(),
                sleepable: kind.ends_with(".s"),
            },
            "freplace" => K::Extension { function: target() },
            "lsm" | "lsm.s" => K::Lsm {
                hook: target(),
                sleepable: kind == "lsm.s",
            },
            "lsm_cgroup" => K::LsmCgroup { hook: target() },
            "iter" | "iter.s" => K::Iter {
                target: target(),
                sleepable: kind == "iter.s",
            },
            "syscall" => exact(K::Syscall)?,
            "struct_ops" | "struct_ops.s" => K::StructOps {
                name: target(),
                sleepable: kind == "struct_ops.s",
            },
            "xdp" | "xdp.frags" => K::Xdp {
                frags: kind == "xdp.frags",
                attach: match rest {
                    None => XdpAttach::Interface,
                    Some("devmap") => XdpAttach::DevMap,
                    Some("cpumap") => XdpAttach::CpuMap,
                    Some(_) => {
                        return Err(format!(
                            "expected `{kind}`, `{kind}/devmap` or `{kind}/cpumap`, found \
                             `{section}`"
                        ))
                    }
                },
            },
            "classifier" => suffix_ignored(K::SchedCls {
                attach: TcAttach::Unspecified,
            }),
            "tc" => K::SchedCls {
                attach: match rest {
                    None => TcAttach::Unspecified,
                    Some("ingress") => TcAttach::Ingress,
                    Some("egress") => TcAttach::Egress,
                    Some(_) => {
                        return Err(format!(
                            "expected `tc`, `tc/ingress` or `tc/egress`, found `{section}`"
                        ))
                    }
                },
            },
            "tcx" => K::SchedCls {
                attach: match rest {
                    Some("ingress") => TcAttach::TcxIngress,
                    Some("egress") => TcAttach::TcxEgress,
                    _ => {
                        return Err(format!(
                            "expected `tcx/ingress` or `tcx/egress`, found `{section}`"
                        ))
                    }
                },
            },
            "action" => exact(K::SchedAct)?,
            "perf_event" => suffix_ignored(K::PerfEvent),
            "cgroup_skb" => K::CgroupSkb {
                direction: Some(match hook {
                    Some("ingress") => Direction::Ingress,
                    Some("egress") => Direction::Egress,
                    _ => {
                        return Err(format!(
                            "expected `cgroup_skb/ingress` or `cgroup_skb/egress`, found \
                             `{section}`"
                        ))
                    }
                }),
            },
            "cgroup" => match hook.unwrap_or("") {
                "skb" => K::CgroupSkb { direction: None },
                h @ ("sock" | "sock_create" | "sock_release" | "post_bind4" | "post_bind6") => {
                    K::CgroupSock {
                        hook: h.to_string(),
                    }
                }
                h @ ("bind4" | "bind6" | "connect4" | "connect6" | "connect_unix" | "sendmsg4"
                | "sendmsg6" | "sendmsg_unix" | "recvmsg4" | "recvmsg6" | "recvmsg_unix"
                | "getpeername4" | "getpeername6" | "getpeername_unix" | "getsockname4"
                | "getsockname6" | "getsockname_unix") => K::CgroupSockAddr {
                    hook: h.to_string(),
                },
                "sysctl" => K::CgroupSysctl,
                h @ ("getsockopt" | "setsockopt") => K::CgroupSockopt {
                    hook: h.to_string(),
                },
                "dev" => K::CgroupDevice,
                _ => return Err(format!("unknown cgroup hook in section `{section}`")),
            },
            "sockops" => suffix_ignored(K::SockOps),
            "sk_skb" => match hook {
                None | Some("stream_parser") | Some("stream_verdict") | Some("verdict") => {
                    K::SkSkb {
                        hook: hook.unwrap_or("").to_string(),
                    }
                }
                Some(_) => return Err(format!("unknown sk_skb hook in section `{section}`")),
            },
            "sk_msg" => suffix_ignored(K::SkMsg),
            "sk_lookup" => suffix_ignored(K::SkLookup),
            "sk_reuseport" => match rest {
                None => K::SkReuseport { migrate: false },
                Some("migrate") => K::SkReuseport { migrate: true },
                Some(_) => {
                    return Err(format!(
                        "expected `sk_reuseport` or `sk_reuseport/migrate`, found `{section}`"
                    ))
                }
            },
            "lirc_mode2" => suffix_ignored(K::LircMode2),
            "flow_dissector" => suffix_ignored(K::FlowDissector),
            "lwt_in" | "lwt_out" | "lwt_xmit" | "lwt_seg6local" => exact(K::Lwt {
                hook: kind["lwt_".len()..].to_string(),
            })?,
            "netfilter" => exact(K::Netfilter)?,
            _ => return Err(format!("unknown program section type `{kind}`")),
        })
    }

    /// The Linux `BPF_PROG_TYPE_*` id ([`prog_type`]); 0 (`UNSPEC`) for
    /// [`ProgramKind::Unspecified`].
    pub fn prog_type(&self) -> u32 {
        use prog_type as T;
        use ProgramKind as K;
        match self {
            K::Unspecified => T::UNSPEC,
            K::SocketFilter => T::SOCKET_FILTER,
            K::Kprobe { .. } | K::Ksyscall { .. } | K::Uprobe { .. } | K::Usdt { .. } => T::KPROBE,
            K::Tracepoint { .. } => T::TRACEPOINT,
            K::RawTracepoint { writable, .. } => {
                if *writable {
                    T::RAW_TRACEPOINT_WRITABLE
                } else {
                    T::RAW_TRACEPOINT
                }
            }
            K::TpBtf { .. } | K::Fentry { .. } | K::Fexit { .. } | K::FmodRet { .. } => T::TRACING,
            K::Iter { .. } => T::TRACING,
            K::Extension { .. } => T::EXT,
            K::Lsm { .. } | K::LsmCgroup { .. } => T::LSM,
            K::Syscall => T::SYSCALL,
            K::StructOps { .. } => T::STRUCT_OPS,
            K::Xdp { .. } => T::XDP,
            K::SchedCls { .. } => T::SCHED_CLS,
            K::SchedAct => T::SCHED_ACT,
            K::PerfEvent => T::PERF_EVENT,
            K::CgroupSkb { .. } => T::CGROUP_SKB,
            K::CgroupSock { .. } => T::CGROUP_SOCK,
            K::CgroupSockAddr { .. } => T::CGROUP_SOCK_ADDR,
            K::CgroupSysctl => T::CGROUP_SYSCTL,
            K::CgroupSockopt { .. } => T::CGROUP_SOCKOPT,
            K::CgroupDevice => T::CGROUP_DEVICE,
            K::SockOps => T::SOCK_OPS,
            K::SkSkb { .. } => T::SK_SKB,
            K::SkMsg => T::SK_MSG,
            K::SkLookup => T::SK_LOOKUP,
            K::SkReuseport { .. } => T::SK_REUSEPORT,
            K::LircMode2 => T::LIRC_MODE2,
            K::FlowDissector => T::FLOW_DISSECTOR,
            K::Lwt { hook } => match hook.as_str() {
                "in" => T::LWT_IN,
                "out" => T::LWT_OUT,
                "xmit" => T::LWT_XMIT,
                _ => T::LWT_SEG6LOCAL,
            },
            K::Netfilter => T::NETFILTER,
        }
    }

    /// True for the sleepable (`.s`) variants.
    pub fn is_sleepable(&self) -> bool {
        use ProgramKind as K;
        matches!(
            self,
            K::Uprobe {
                sleepable: true,
                ..
            } | K::Usdt {
                sleepable: true,
                ..
            } | K::Fentry {
                sleepable: true,
                ..
            } | K::Fexit {
                sleepable: true,
                ..
            } | K::FmodRet {
                sleepable: true,
                ..
            } | K::Lsm {
                sleepable: true,
                ..
            } | K::Iter {
                sleepable: true,
                ..
            } | K::StructOps {
                sleepable: true,
                ..
            }
        )
    }

    /// A short name of the kind (`tracepoint`, `kprobe`, `xdp`, ...).
    pub fn short_name(&self) -> &'static str {
        use ProgramKind as K;
        match self {
            K::Unspecified => "unspecified",
            K::SocketFilter => "socket_filter",
            K::Kprobe { ret: false, .. } => "kprobe",
            K::Kprobe { ret: true, .. } => "kretprobe",
            K::Ksyscall { ret: false, .. } => "ksyscall",
            K::Ksyscall { ret: true, .. } => "kretsyscall",
            K::Uprobe { ret: false, .. } => "uprobe",
            K::Uprobe { ret: true, .. } => "uretprobe",
            K::Usdt { .. } => "usdt",
            K::Tracepoint { .. } => "tracepoint",
            K::RawTracepoint { .. } => "raw_tracepoint",
            K::TpBtf { .. } => "tp_btf",
            K::Fentry { .. } => "fentry",
            K::Fexit { .. } => "fexit",
            K::FmodRet { .. } => "fmod_ret",
            K::Extension { .. } => "freplace",
            K::Lsm { .. } => "lsm",
            K::LsmCgroup { .. } => "lsm_cgroup",
            K::Iter { .. } => "iter",
            K::Syscall => "syscall",
            K::StructOps { .. } => "struct_ops",
            K::Xdp { .. } => "xdp",
            K::SchedCls { .. } => "sched_cls",
            K::SchedAct => "sched_act",
            K::PerfEvent => "perf_event",
            K::CgroupSkb { .. } => "cgroup_skb",
            K::CgroupSock { .. } => "cgroup_sock",
            K::CgroupSockAddr { .. } => "cgroup_sock_addr",
            K::CgroupSysctl => "cgroup_sysctl",
            K::CgroupSockopt { .. } => "cgroup_sockopt",
            K::CgroupDevice => "cgroup_device",
            K::SockOps => "sock_ops",
            K::SkSkb { .. } => "sk_skb",
            K::SkMsg => "sk_msg",
            K::SkLookup => "sk_lookup",
            K::SkReuseport { .. } => "sk_reuseport",
            K::LircMode2 => "lirc_mode2",
            K::FlowDissector => "flow_dissector",
            K::Lwt { .. } => "lwt",
            K::Netfilter => "netfilter",
        }
    }
}

impl fmt::Display for ProgramKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ProgramKind as K;
        let short = self.short_name();
        match self {
            K::Kprobe {
                function, offset, ..
            } if !function.is_empty() => {
                if *offset != 0 {
                    write!(f, "{short} {function}+{offset:#x}")
                } else {
                    write!(f, "{short} {function}")
                }
            }
            K::Uprobe {
                binary,
                function,
                offset,
                ..
            } if !binary.is_empty() => {
                write!(f, "{short} {binary}:{function}")?;
                if *offset != 0 {
                    write!(f, "+{offset:#x}")?;
                }
                Ok(())
            }
            K::Tracepoint { category, name } if !name.is_empty() => {
                write!(f, "{short} {category}:{name}")
            }
            K::Ksyscall { syscall: t, .. }
            | K::Usdt { target: t, .. }
            | K::RawTracepoint { name: t, .. }
            | K::TpBtf { name: t }
            | K::Fentry { function: t, .. }
            | K::Fexit { function: t, .. }
            | K::FmodRet { function: t, .. }
            | K::Extension { function: t }
            | K::Lsm { hook: t, .. }
            | K::LsmCgroup { hook: t }
            | K::Iter { target: t, .. }
            | K::StructOps { name: t, .. }
            | K::CgroupSock { hook: t }
            | K::CgroupSockAddr { hook: t }
            | K::CgroupSockopt { hook: t }
            | K::SkSkb { hook: t }
            | K::Lwt { hook: t }
                if !t.is_empty() =>
            {
                write!(f, "{short} {t}")
            }
            _ => f.write_str(short),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_sections() {
        use ProgramKind as K;
        let cases: &[(&str, ProgramKind)] = &[
            (".text", K::Unspecified),
            (
                "tracepoint/syscalls/sys_enter_openat",
                K::Tracepoint {
                    category: "syscalls".into(),
                    name: "sys_enter_openat".into(),
                },
            ),
            (
                "tp/sched/sched_switch",
                K::Tracepoint {
                    category: "sched".into(),
                    name: "sched_switch".into(),
                },
            ),
            (
                "kprobe/do_unlinkat",
                K::Kprobe {
                    function: "do_unlinkat".into(),
                    offset: 0,
                    ret: false,
                },
            ),
            (
                "kprobe/tcp_v4_connect+0x10",
                K::Kprobe {
                    function: "tcp_v4_connect".into(),
                    offset: 16,
                    ret: false,
                },
            ),
            (
                "kretprobe/do_unlinkat",
                K::Kprobe {
                    function: "do_unlinkat".into(),
                    offset: 0,
                    ret: true,
                },
            ),
            (
                "uprobe//usr/lib/libc.so.6:malloc",
                K::Uprobe {
                    binary: "/usr/lib/libc.so.6".into(),
                    function: "malloc".into(),
                    offset: 0,
                    ret: false,
                    sleepable: false,
                },
            ),
            (
                "uretprobe.s/bin/bash:readline+4",
                K::Uprobe {
                    binary: "bin/bash".into(),
                    function: "readline".into(),
                    offset: 4,
                    ret: true,
                    sleepable: true,
                },
            ),
            (
                "uprobe/app:0x1234",
                K::Uprobe {
                    binary: "app".into(),
                    function: String::new(),
                    offset: 0x1234,
                    ret: false,
                    sleepable: false,
                },
            ),
            (
                "fentry/do_unlinkat",
                K::Fentry {
                    function: "do_unlinkat".into(),
                    sleepable: false,
                },
            ),
            (
                "fexit.s/do_unlinkat",
                K::Fexit {
                    function: "do_unlinkat".into(),
                    sleepable: true,
                },
            ),
            (
                "xdp",
                K::Xdp {
                    frags: false,
                    attach: XdpAttach::Interface,
                },
            ),
            (
                "xdp.frags/devmap",
                K::Xdp {
                    frags: true,
                    attach: XdpAttach::DevMap,
                },
            ),
            ("socket", K::SocketFilter),
            (
                "tc",
                K::SchedCls {
                    attach: TcAttach::Unspecified,
                },
            ),
            (
                "classifier",
                K::SchedCls {
                    attach: TcAttach::Unspecified,
                },
            ),
            (
                "tcx/egress",
                K::SchedCls {
                    attach: TcAttach::TcxEgress,
                },
            ),
            (
                "raw_tp/sched_switch",
                K::RawTracepoint {
                    name: "sched_switch".into(),
                    writable: false,
                },
            ),
            (
                "tp_btf/sched_switch",
                K::TpBtf {
                    name: "sched_switch".into(),
                },
            ),
            ("perf_event", K::PerfEvent),
            (
                "cgroup_skb/ingress",
                K::CgroupSkb {
                    direction: Some(Direction::Ingress),
                },
            ),
            ("cgroup/skb", K::CgroupSkb { direction: None }),
            (
                "cgroup/connect4",
                K::CgroupSockAddr {
                    hook: "connect4".into(),
                },
            ),
            (
                "lwt_xmit",
                K::Lwt {
                    hook: "xmit".into(),
                },
            ),
        ];
        for (s, want) in cases {
            assert_eq!(&ProgramKind::from_section(s).unwrap(), want, "{s}");
        }
    }

    #[test]
    fn prog_types() {
        let t = |s: &str| ProgramKind::from_section(s).unwrap().prog_type();
        assert_eq!(t("tp/a/b"), prog_type::TRACEPOINT);
        assert_eq!(t("kprobe/x"), prog_type::KPROBE);
        assert_eq!(t("uretprobe/x:y"), prog_type::KPROBE);
        assert_eq!(t("xdp"), prog_type::XDP);
        assert_eq!(t("tc"), prog_type::SCHED_CLS);
        assert_eq!(t("socket"), prog_type::SOCKET_FILTER);
        assert_eq!(t("fentry/x"), prog_type::TRACING);
        assert_eq!(t("raw_tp.w/x"), prog_type::RAW_TRACEPOINT_WRITABLE);
        assert_eq!(t("lwt_seg6local"), prog_type::LWT_SEG6LOCAL);
        assert_eq!(t(".text"), prog_type::UNSPEC);
    }

    #[test]
    fn rejects_malformed_sections() {
        for s in [
            "bogus",
            "xdp/bogus",
            "tc/sideways",
            "kprobe/f+zz",
            "cgroup/nope",
            "cgroup/nope/f",
            "cgroup_skb/sideways",
            "sk_skb/nope",
            "syscall/extra",
            "action/extra",
        ] {
            let e = ProgramKind::from_section(s).unwrap_err();
            assert!(!e.is_empty(), "{s}");
        }
    }

    /// Every section name aya-obj 0.3 accepts (its own test list plus the suffixed forms
    /// aya-ebpf emits) loads here too, with the target left to attach time where the
    /// name carries none.
    #[test]
    fn loads_what_aya_loads() {
        use ProgramKind as K;
        let attach_time_tp = K::Tracepoint {
            category: String::new(),
            name: String::new(),
        };
        let attach_time_uprobe = |ret: bool, sleepable: bool| K::Uprobe {
            binary: String::new(),
            function: String::new(),
            offset: 0,
            ret,
            sleepable,
        };
        let cases: &[(&str, ProgramKind)] = &[
            ("tracepoint/foo", attach_time_tp.clone()),
            ("tp/a/b/c", attach_time_tp.clone()),
            ("uprobe/connect", attach_time_uprobe(false, false)),
            ("uprobe.s/foo", attach_time_uprobe(false, true)),
            ("uretprobe/foo", attach_time_uprobe(true, false)),
            ("uretprobe.s/foo", attach_time_uprobe(true, true)),
            (
                "cgroup_skb/ingress/foo",
                K::CgroupSkb {
                    direction: Some(Direction::Ingress),
                },
            ),
            (
                "cgroup/connect4/foo",
                K::CgroupSockAddr {
                    hook: "connect4".into(),
                },
            ),
            (
                "cgroup/getsockopt/foo",
                K::CgroupSockopt {
                    hook: "getsockopt".into(),
                },
            ),
            ("cgroup/skb/foo", K::CgroupSkb { direction: None }),
            (
                "sk_skb/stream_parser/my_parser",
                K::SkSkb {
                    hook: "stream_parser".into(),
                },
            ),
            (
                "classifier/f",
                K::SchedCls {
                    attach: TcAttach::Unspecified,
                },
            ),
            ("perf_event/f", K::PerfEvent),
            ("sk_msg/f", K::SkMsg),
            ("sockops/f", K::SockOps),
            ("sk_lookup/f", K::SkLookup),
            ("lirc_mode2/f", K::LircMode2),
            ("flow_dissector/f", K::FlowDissector),
        ];
        for (s, want) in cases {
            assert_eq!(&ProgramKind::from_section(s).unwrap(), want, "{s}");
        }
        for s in [
            "cgroup/connect4",
            "cgroup/getsockopt",
            "cgroup/skb",
            "cgroup_skb/ingress",
            "fentry.s/foo",
            "fentry/foo",
            "fexit.s/foo",
            "fexit/foo",
            "kprobe",
            "kprobe/foo",
            "lsm.s/foo",
            "lsm/foo",
            "lsm_cgroup/foo",
            "raw_tp/foo",
            "raw_tracepoint/bar",
            "sk_reuseport",
            "sk_reuseport/migrate",
            "sk_skb/stream_parser",
            "socket/foo",
            "tp/foo/bar",
            "tp_btf/foo",
            "xdp",
            "xdp.frags",
            "iter/task",
            "freplace/f",
        ] {
            assert!(ProgramKind::from_section(s).is_ok(), "{s}");
        }
    }

    #[test]
    fn display() {
        let k = ProgramKind::from_section("tracepoint/syscalls/sys_enter_openat").unwrap();
        assert_eq!(k.to_string(), "tracepoint syscalls:sys_enter_openat");
        let k = ProgramKind::from_section("kprobe/f+0x10").unwrap();
        assert_eq!(k.to_string(), "kprobe f+0x10");
        assert_eq!(ProgramKind::Unspecified.to_string(), "unspecified");
    }
}
