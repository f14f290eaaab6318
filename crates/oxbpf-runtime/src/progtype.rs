//! Program types and the helpers each may call.
//!
//! The sets follow Linux 6.18's `get_func_proto` callbacks (`bpf_base_func_proto`,
//! `bpf_tracing_func_proto`, `kprobe_prog_func_proto`, `tp_prog_func_proto`,
//! `sk_filter_func_proto`, `tc_cls_act_func_proto`, `xdp_func_proto`, ...) for a privileged
//! loader (`CAP_BPF` and `CAP_PERFMON`). They are data: [`GROUPS`] lists helper ids by group
//! and [`groups_of`] which groups a type gets. A program that calls a helper outside its
//! type's set is refused when it is loaded, never at run time.
//!
//! [`ProgType::Unspec`] is oxbpf's own type for code that has no Linux program type (raw
//! bytecode given to `oxbpf exec`, BCC-style functions in `.text`): it may call every
//! helper the runtime implements. Network types Linux has but the runtime does not model
//! in detail (cgroup socket hooks, sockops, sk_skb, sk_msg, lwt, flow dissector, ...) get
//! the socket base set (`bpf_sk_base_func_proto`).

use std::fmt;

/// Linux's `enum bpf_prog_type`, with the same numeric ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum ProgType {
    Unspec = 0,
    SocketFilter = 1,
    Kprobe = 2,
    SchedCls = 3,
    SchedAct = 4,
    Tracepoint = 5,
    Xdp = 6,
    PerfEvent = 7,
    CgroupSkb = 8,
    CgroupSock = 9,
    LwtIn = 10,
    LwtOut = 11,
    LwtXmit = 12,
    SockOps = 13,
    SkSkb = 14,
    CgroupDevice = 15,
    SkMsg = 16,
    RawTracepoint = 17,
    CgroupSockAddr = 18,
    LwtSeg6local = 19,
    LircMode2 = 20,
    SkReuseport = 21,
    FlowDissector = 22,
    CgroupSysctl = 23,
    RawTracepointWritable = 24,
    CgroupSockopt = 25,
    Tracing = 26,
    StructOps = 27,
    Ext = 28,
    Lsm = 29,
    SkLookup = 30,
    Syscall = 31,
    Netfilter = 32,
}

impl ProgType {
    const ALL: [ProgType; 33] = [
        ProgType::Unspec,
        ProgType::SocketFilter,
        ProgType::Kprobe,
        ProgType::SchedCls,
        ProgType::SchedAct,
        ProgType::Tracepoint,
        ProgType::Xdp,
        ProgType::PerfEvent,
        ProgType::CgroupSkb,
        ProgType::CgroupSock,
        ProgType::LwtIn,
        ProgType::LwtOut,
        ProgType::LwtXmit,
        ProgType::SockOps,
        ProgType::SkSkb,
        ProgType::CgroupDevice,
        ProgType::SkMsg,
        ProgType::RawTracepoint,
        ProgType::CgroupSockAddr,
        ProgType::LwtSeg6local,
        ProgType::LircMode2,
        ProgType::SkReuseport,
        ProgType::FlowDissector,
        ProgType::CgroupSysctl,
        ProgType::RawTracepointWritable,
        ProgType::CgroupSockopt,
        ProgType::Tracing,
        ProgType::StructOps,
        ProgType::Ext,
        ProgType::Lsm,
        ProgType::SkLookup,
        ProgType::Syscall,
        ProgType::Netfilter,
    ];

    /// The type with Linux id `id`.
    pub fn from_u32(id: u32) -> Option<ProgType> {
        ProgType::ALL.get(id as usize).copied()
    }

    /// The type named `name`: bpftool's names ([`ProgType::name`]) and the usual section
    /// prefixes (`socket`, `tc`, `classifier`, `action`, `tp`, `raw_tp`, `uprobe`, `fentry`,
    /// ...). `None` for anything else.
    pub fn from_name(name: &str) -> Option<ProgType> {
        if let Some(t) = ProgType::ALL.iter().find(|t| t.name() == name) {
            return Some(*t);
        }
        Some(match name {
            "socket" => ProgType::SocketFilter,
            "kretprobe" | "uprobe" | "uretprobe" | "ksyscall" | "usdt" => ProgType::Kprobe,
            "tc" | "classifier" | "tcx" => ProgType::SchedCls,
            "action" => ProgType::SchedAct,
            "tp" => ProgType::Tracepoint,
            "raw_tp" => ProgType::RawTracepoint,
            "fentry" | "fexit" | "tp_btf" => ProgType::Tracing,
            _ => return None,
        })
    }

    /// Every type's name, in id order (for messages).
    pub fn names() -> impl Iterator<Item = &'static str> {
        ProgType::ALL.iter().map(|t| t.name())
    }

    /// The Linux id.
    pub fn as_u32(self) -> u32 {
        self as u32
    }

    /// Lower-case name as bpftool prints it (`socket_filter`, `kprobe`, ...; `unspec` for
    /// oxbpf's generic type).
    pub fn name(self) -> &'static str {
        match self {
            ProgType::Unspec => "unspec",
            ProgType::SocketFilter => "socket_filter",
            ProgType::Kprobe => "kprobe",
            ProgType::SchedCls => "sched_cls",
            ProgType::SchedAct => "sched_act",
            ProgType::Tracepoint => "tracepoint",
            ProgType::Xdp => "xdp",
            ProgType::PerfEvent => "perf_event",
            ProgType::CgroupSkb => "cgroup_skb",
            ProgType::CgroupSock => "cgroup_sock",
            ProgType::LwtIn => "lwt_in",
            ProgType::LwtOut => "lwt_out",
            ProgType::LwtXmit => "lwt_xmit",
            ProgType::SockOps => "sock_ops",
            ProgType::SkSkb => "sk_skb",
            ProgType::CgroupDevice => "cgroup_device",
            ProgType::SkMsg => "sk_msg",
            ProgType::RawTracepoint => "raw_tracepoint",
            ProgType::CgroupSockAddr => "cgroup_sock_addr",
            ProgType::LwtSeg6local => "lwt_seg6local",
            ProgType::LircMode2 => "lirc_mode2",
            ProgType::SkReuseport => "sk_reuseport",
            ProgType::FlowDissector => "flow_dissector",
            ProgType::CgroupSysctl => "cgroup_sysctl",
            ProgType::RawTracepointWritable => "raw_tracepoint_writable",
            ProgType::CgroupSockopt => "cgroup_sockopt",
            ProgType::Tracing => "tracing",
            ProgType::StructOps => "struct_ops",
            ProgType::Ext => "ext",
            ProgType::Lsm => "lsm",
            ProgType::SkLookup => "sk_lookup",
            ProgType::Syscall => "syscall",
            ProgType::Netfilter => "netfilter",
        }
    }

    /// True for the types whose context is a packet (`__sk_buff` or `xdp_md`).
    pub fn is_packet(self) -> bool {
        matches!(
            self,
            ProgType::SocketFilter
                | ProgType::SchedCls
                | ProgType::SchedAct
                | ProgType::Xdp
                | ProgType::CgroupSkb
                | ProgType::LwtIn
                | ProgType::LwtOut
                | ProgType::LwtXmit
                | ProgType::SkSkb
                | ProgType::FlowDissector
        )
    }

    /// True when `bpf_perf_event_output`'s flags may carry a context length (bits 32..52,
    /// `BPF_F_CTXLEN_MASK`) asking for packet bytes to be appended: the skb and XDP
    /// variants of the helper.
    pub fn perf_output_takes_ctxlen(self) -> bool {
        self.is_packet()
    }
}

impl fmt::Display for ProgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A named group of helper ids.
#[derive(Clone, Copy, Debug)]
pub struct Group {
    pub name: &'static str,
    pub ids: &'static [u32],
}

/// Index of each group in [`GROUPS`].
mod g {
    pub const BASE: usize = 0;
    pub const BASE_CAP_BPF: usize = 1;
    pub const BASE_PERFMON: usize = 2;
    pub const TRACING: usize = 3;
    pub const KPROBE: usize = 4;
    pub const TRACEPOINT: usize = 5;
    pub const PERF_EVENT: usize = 6;
    pub const RAW_TRACEPOINT: usize = 7;
    pub const TRACING_PROG: usize = 8;
    pub const SK_BASE: usize = 9;
    pub const SOCKET_FILTER: usize = 10;
    pub const TC: usize = 11;
    pub const XDP: usize = 12;
    pub const CGROUP_SKB: usize = 13;
    pub const SYSCALL: usize = 14;
}

/// The helper groups, by Linux's `func_proto` functions.
pub const GROUPS: &[Group] = &[
    Group {
        name: "bpf_base_func_proto",
        ids: &[
            1, 2, 3, 87, 88, 89, 195, 7, 8, 42, 12, 5, 125, 208, 130, 131, 132, 133, 134, 182, 105,
            106, 14, 120,
        ],
    },
    Group {
        name: "bpf_base_func_proto (CAP_BPF)",
        ids: &[
            93, 94, 118, 153, 154, 169, 170, 171, 172, 194, 164, 181, 209, 198, 199, 200, 197, 201,
            202, 203, 210, 211, 80, 123,
        ],
    },
    Group {
        name: "bpf_base_func_proto (CAP_PERFMON)",
        ids: &[6, 35, 158, 112, 113, 114, 115, 149, 165, 175, 177],
    },
    Group {
        name: "bpf_tracing_func_proto",
        ids: &[
            1, 2, 3, 87, 88, 89, 195, 5, 125, 12, 14, 35, 158, 175, 15, 16, 6, 8, 42, 22, 37, 7,
            36, 112, 113, 114, 115, 4, 45, 80, 123, 210, 211, 109, 117, 55, 120, 130, 131, 132,
            133, 134, 118, 141, 148, 191, 149, 153, 154, 156, 157, 164, 165, 173, 176, 180, 177,
        ],
    },
    Group {
        name: "kprobe_prog_func_proto",
        ids: &[25, 27, 67, 58, 173, 174],
    },
    Group {
        name: "tp_prog_func_proto",
        ids: &[25, 27, 67, 174],
    },
    Group {
        name: "pe_prog_func_proto",
        ids: &[25, 27, 67, 56, 119, 174],
    },
    Group {
        name: "raw_tp_prog_func_proto",
        ids: &[25, 27, 67, 174],
    },
    Group {
        name: "tracing_prog_func_proto",
        ids: &[
            111, 121, 136, 137, 138, 139, 140, 178, 196, 107, 108, 162, 46, 126, 127, 150, 147,
            183, 184, 185, 173, 174,
        ],
    },
    Group {
        name: "bpf_sk_base_func_proto",
        ids: &[136, 137, 138, 139, 140, 178, 196, 160],
    },
    Group {
        name: "sk_filter_func_proto",
        ids: &[26, 68, 46, 47, 25],
    },
    Group {
        name: "tc_cls_act_func_proto",
        ids: &[
            9, 10, 11, 13, 17, 18, 19, 20, 21, 23, 24, 25, 26, 28, 29, 30, 31, 32, 33, 34, 38, 39,
            40, 41, 43, 46, 47, 48, 50, 66, 68, 69, 79, 83, 84, 85, 86, 95, 96, 97, 98, 99, 100,
            110, 124, 128, 129, 135, 151, 152, 155, 163, 192, 204, 205, 206, 207,
        ],
    },
    Group {
        name: "xdp_func_proto",
        ids: &[
            25, 28, 44, 54, 23, 51, 65, 69, 163, 84, 85, 86, 99, 100, 110, 188, 189, 190, 204, 205,
            206, 207,
        ],
    },
    Group {
        name: "cg_skb_func_proto",
        ids: &[
            26, 68, 46, 47, 79, 83, 107, 108, 95, 96, 97, 98, 128, 129, 25,
        ],
    },
    Group {
        name: "syscall_prog_func_proto",
        ids: &[166, 167, 168, 179],
    },
];

const BASE3: &[usize] = &[g::BASE, g::BASE_CAP_BPF, g::BASE_PERFMON];

/// The groups whose helpers programs of type `t` may call (`Unspec`: none, it may call
/// every implemented helper; see [`allows`]).
pub fn groups_of(t: ProgType) -> Vec<usize> {
    let mut v: Vec<usize> = BASE3.to_vec();
    let mut add = |gs: &[usize]| v.extend_from_slice(gs);
    match t {
        ProgType::Unspec => return Vec::new(),
        ProgType::Kprobe => add(&[g::TRACING, g::KPROBE]),
        ProgType::Tracepoint => add(&[g::TRACING, g::TRACEPOINT]),
        ProgType::PerfEvent => add(&[g::TRACING, g::PERF_EVENT]),
        ProgType::RawTracepoint | ProgType::RawTracepointWritable => {
            add(&[g::TRACING, g::RAW_TRACEPOINT])
        }
        ProgType::Tracing | ProgType::Lsm | ProgType::StructOps | ProgType::Ext => {
            add(&[g::TRACING, g::RAW_TRACEPOINT, g::TRACING_PROG])
        }
        ProgType::Syscall => add(&[g::TRACING, g::TRACING_PROG, g::SYSCALL]),
        ProgType::SocketFilter => add(&[g::SK_BASE, g::SOCKET_FILTER]),
        ProgType::SchedCls | ProgType::SchedAct => add(&[g::SK_BASE, g::TC]),
        ProgType::Xdp => add(&[g::SK_BASE, g::XDP]),
        ProgType::CgroupSkb => add(&[g::SK_BASE, g::CGROUP_SKB]),
        ProgType::CgroupSock
        | ProgType::LwtIn
        | ProgType::LwtOut
        | ProgType::LwtXmit
        | ProgType::SockOps
        | ProgType::SkSkb
        | ProgType::CgroupDevice
        | ProgType::SkMsg
        | ProgType::CgroupSockAddr
        | ProgType::LwtSeg6local
        | ProgType::LircMode2
        | ProgType::SkReuseport
        | ProgType::FlowDissector
        | ProgType::CgroupSysctl
        | ProgType::CgroupSockopt
        | ProgType::SkLookup
        | ProgType::Netfilter => add(&[g::SK_BASE]),
    }
    v
}

/// True when Linux lets programs of type `t` call helper `id`. For [`ProgType::Unspec`]
/// every id is allowed (whether the runtime implements it is checked separately).
pub fn allows(t: ProgType, id: u32) -> bool {
    if t == ProgType::Unspec {
        return true;
    }
    groups_of(t)
        .into_iter()
        .any(|gi| GROUPS[gi].ids.contains(&id))
}

/// Every helper id programs of type `t` may call, ascending (all Linux helpers for
/// `Unspec`).
pub fn allowed_ids(t: ProgType) -> Vec<u32> {
    let mut v: Vec<u32> = if t == ProgType::Unspec {
        (1..crate::helpers::ids::NAMES.len() as u32).collect()
    } else {
        groups_of(t)
            .into_iter()
            .flat_map(|gi| GROUPS[gi].ids.iter().copied())
            .collect()
    };
    v.sort_unstable();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::helpers::ids;

    #[test]
    fn ids_round_trip_and_names() {
        for id in 0..33 {
            assert_eq!(ProgType::from_u32(id).unwrap().as_u32(), id);
        }
        assert_eq!(ProgType::from_u32(33), None);
        assert_eq!(ProgType::Xdp.to_string(), "xdp");
        for t in ProgType::ALL {
            assert_eq!(ProgType::from_name(t.name()), Some(t));
        }
        assert_eq!(ProgType::from_name("tc"), Some(ProgType::SchedCls));
        assert_eq!(ProgType::from_name("raw_tp"), Some(ProgType::RawTracepoint));
        assert_eq!(ProgType::from_name("bogus"), None);
    }

    #[test]
    fn sets_follow_linux() {
        // Everyone gets the map helpers.
        for t in ProgType::ALL {
            assert!(allows(t, ids::MAP_LOOKUP_ELEM), "{t}");
            assert!(allows(t, ids::LOOP), "{t}");
        }
        // Task identity: tracing yes; socket filters get pid_tgid (base) but not comm.
        assert!(allows(ProgType::Kprobe, ids::GET_CURRENT_COMM));
        assert!(allows(ProgType::SocketFilter, ids::GET_CURRENT_PID_TGID));
        assert!(!allows(ProgType::SocketFilter, ids::GET_CURRENT_COMM));
        assert!(!allows(ProgType::Xdp, ids::GET_CURRENT_UID_GID));
        // ktime_get_coarse_ns is not NMI-safe: networking only.
        assert!(allows(ProgType::Xdp, ids::KTIME_GET_COARSE_NS));
        assert!(!allows(ProgType::Kprobe, ids::KTIME_GET_COARSE_NS));
        // Packet helpers stay with their types.
        assert!(allows(ProgType::SocketFilter, ids::SKB_LOAD_BYTES));
        assert!(!allows(ProgType::Kprobe, ids::SKB_LOAD_BYTES));
        assert!(allows(ProgType::Xdp, ids::XDP_ADJUST_HEAD));
        assert!(!allows(ProgType::SchedCls, ids::XDP_ADJUST_HEAD));
        assert!(allows(ProgType::Kprobe, ids::OVERRIDE_RETURN));
        assert!(!allows(ProgType::Tracepoint, ids::OVERRIDE_RETURN));
        assert!(allows(ProgType::Tracepoint, ids::PERF_EVENT_OUTPUT));
        assert!(allows(ProgType::SocketFilter, ids::TRACE_PRINTK));
        // oxbpf's generic type allows everything.
        assert!(allows(ProgType::Unspec, ids::SKB_LOAD_BYTES));
        assert_eq!(allowed_ids(ProgType::Unspec).len(), 211);
        let k = allowed_ids(ProgType::Kprobe);
        assert!(k.windows(2).all(|w| w[0] < w[1]));
        assert!(k.contains(&ids::PROBE_READ_USER_STR));
    }
}
