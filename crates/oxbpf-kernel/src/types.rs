//! Linux program, attach and map types, with the kernel's numeric ids.

use std::fmt;

macro_rules! linux_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $id:literal => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in id order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )+ ];

            /// The kernel's numeric id.
            pub const fn id(self) -> u32 {
                match self { $( $name::$variant => $id, )+ }
            }

            /// The value with this kernel id, if oxbpf knows it.
            pub const fn from_id(id: u32) -> Option<$name> {
                match id { $( $id => Some($name::$variant), )+ _ => None }
            }

            /// The lower-case name bpftool uses.
            pub const fn name(self) -> &'static str {
                match self { $( $name::$variant => $text, )+ }
            }

            /// Parses the bpftool name.
            pub fn from_name(name: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.name() == name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::from_name(s).ok_or_else(|| format!("unknown {} `{s}`", $what))
            }
        }
    };
}

linux_enum! {
    /// `enum bpf_prog_type`.
    ProgType, "program type" {
        SocketFilter = 1 => "socket_filter",
        Kprobe = 2 => "kprobe",
        SchedCls = 3 => "sched_cls",
        SchedAct = 4 => "sched_act",
        Tracepoint = 5 => "tracepoint",
        Xdp = 6 => "xdp",
        PerfEvent = 7 => "perf_event",
        CgroupSkb = 8 => "cgroup_skb",
        CgroupSock = 9 => "cgroup_sock",
        LwtIn = 10 => "lwt_in",
        LwtOut = 11 => "lwt_out",
        LwtXmit = 12 => "lwt_xmit",
        SockOps = 13 => "sock_ops",
        SkSkb = 14 => "sk_skb",
        CgroupDevice = 15 => "cgroup_device",
        SkMsg = 16 => "sk_msg",
        RawTracepoint = 17 => "raw_tracepoint",
        CgroupSockAddr = 18 => "cgroup_sock_addr",
        LwtSeg6local = 19 => "lwt_seg6local",
        LircMode2 = 20 => "lirc_mode2",
        SkReuseport = 21 => "sk_reuseport",
        FlowDissector = 22 => "flow_dissector",
        CgroupSysctl = 23 => "cgroup_sysctl",
        RawTracepointWritable = 24 => "raw_tracepoint_writable",
        CgroupSockopt = 25 => "cgroup_sockopt",
        /// fentry, fexit, fmod_ret, tp_btf and iterators (told apart by the attach type).
        Tracing = 26 => "tracing",
        StructOps = 27 => "struct_ops",
        Ext = 28 => "ext",
        Lsm = 29 => "lsm",
        SkLookup = 30 => "sk_lookup",
        Syscall = 31 => "syscall",
        Netfilter = 32 => "netfilter",
    }
}

impl ProgType {
    /// True for the types whose `BPF_PROG_TEST_RUN` takes no packet, no repeat count and
    /// reports no duration (the context-only runners in `net/bpf/test_run.c`).
    pub const fn test_run_is_context_only(self) -> bool {
        matches!(
            self,
            ProgType::RawTracepoint | ProgType::Tracing | ProgType::Syscall
        )
    }
}

linux_enum! {
    /// `enum bpf_attach_type` (the `expected_attach_type` of a load, or the attach point).
    AttachType, "attach type" {
        CgroupInetIngress = 0 => "cgroup_inet_ingress",
        CgroupInetEgress = 1 => "cgroup_inet_egress",
        CgroupInetSockCreate = 2 => "cgroup_inet_sock_create",
        CgroupSockOps = 3 => "cgroup_sock_ops",
        SkSkbStreamParser = 4 => "sk_skb_stream_parser",
        SkSkbStreamVerdict = 5 => "sk_skb_stream_verdict",
        CgroupDevice = 6 => "cgroup_device",
        SkMsgVerdict = 7 => "sk_msg_verdict",
        CgroupInet4Bind = 8 => "cgroup_inet4_bind",
        CgroupInet6Bind = 9 => "cgroup_inet6_bind",
        CgroupInet4Connect = 10 => "cgroup_inet4_connect",
        CgroupInet6Connect = 11 => "cgroup_inet6_connect",
        CgroupInet4PostBind = 12 => "cgroup_inet4_post_bind",
        CgroupInet6PostBind = 13 => "cgroup_inet6_post_bind",
        CgroupUdp4Sendmsg = 14 => "cgroup_udp4_sendmsg",
        CgroupUdp6Sendmsg = 15 => "cgroup_udp6_sendmsg",
        LircMode2 = 16 => "lirc_mode2",
        FlowDissector = 17 => "flow_dissector",
        CgroupSysctl = 18 => "cgroup_sysctl",
        CgroupUdp4Recvmsg = 19 => "cgroup_udp4_recvmsg",
        CgroupUdp6Recvmsg = 20 => "cgroup_udp6_recvmsg",
        CgroupGetsockopt = 21 => "cgroup_getsockopt",
        CgroupSetsockopt = 22 => "cgroup_setsockopt",
        /// tp_btf.
        TraceRawTp = 23 => "trace_raw_tp",
        TraceFentry = 24 => "trace_fentry",
        TraceFexit = 25 => "trace_fexit",
        ModifyReturn = 26 => "modify_return",
        LsmMac = 27 => "lsm_mac",
        TraceIter = 28 => "trace_iter",
        CgroupInet4Getpeername = 29 => "cgroup_inet4_getpeername",
        CgroupInet6Getpeername = 30 => "cgroup_inet6_getpeername",
        CgroupInet4Getsockname = 31 => "cgroup_inet4_getsockname",
        CgroupInet6Getsockname = 32 => "cgroup_inet6_getsockname",
        XdpDevmap = 33 => "xdp_devmap",
        CgroupInetSockRelease = 34 => "cgroup_inet_sock_release",
        XdpCpumap = 35 => "xdp_cpumap",
        SkLookup = 36 => "sk_lookup",
        Xdp = 37 => "xdp",
        SkSkbVerdict = 38 => "sk_skb_verdict",
        SkReuseportSelect = 39 => "sk_reuseport_select",
        SkReuseportSelectOrMigrate = 40 => "sk_reuseport_select_or_migrate",
        PerfEvent = 41 => "perf_event",
        TraceKprobeMulti = 42 => "trace_kprobe_multi",
        LsmCgroup = 43 => "lsm_cgroup",
        StructOps = 44 => "struct_ops",
        Netfilter = 45 => "netfilter",
        TcxIngress = 46 => "tcx_ingress",
        TcxEgress = 47 => "tcx_egress",
        TraceUprobeMulti = 48 => "trace_uprobe_multi",
        CgroupUnixConnect = 49 => "cgroup_unix_connect",
        CgroupUnixSendmsg = 50 => "cgroup_unix_sendmsg",
        CgroupUnixRecvmsg = 51 => "cgroup_unix_recvmsg",
        CgroupUnixGetpeername = 52 => "cgroup_unix_getpeername",
        CgroupUnixGetsockname = 53 => "cgroup_unix_getsockname",
        NetkitPrimary = 54 => "netkit_primary",
        NetkitPeer = 55 => "netkit_peer",
    }
}

linux_enum! {
    /// `enum bpf_map_type`.
    MapType, "map type" {
        Hash = 1 => "hash",
        Array = 2 => "array",
        ProgArray = 3 => "prog_array",
        PerfEventArray = 4 => "perf_event_array",
        PercpuHash = 5 => "percpu_hash",
        PercpuArray = 6 => "percpu_array",
        StackTrace = 7 => "stack_trace",
        CgroupArray = 8 => "cgroup_array",
        LruHash = 9 => "lru_hash",
        LruPercpuHash = 10 => "lru_percpu_hash",
        LpmTrie = 11 => "lpm_trie",
        ArrayOfMaps = 12 => "array_of_maps",
        HashOfMaps = 13 => "hash_of_maps",
        Devmap = 14 => "devmap",
        Sockmap = 15 => "sockmap",
        Cpumap = 16 => "cpumap",
        Xskmap = 17 => "xskmap",
        Sockhash = 18 => "sockhash",
        CgroupStorage = 19 => "cgroup_storage",
        ReuseportSockarray = 20 => "reuseport_sockarray",
        PercpuCgroupStorage = 21 => "percpu_cgroup_storage",
        Queue = 22 => "queue",
        Stack = 23 => "stack",
        SkStorage = 24 => "sk_storage",
        DevmapHash = 25 => "devmap_hash",
        StructOps = 26 => "struct_ops",
        Ringbuf = 27 => "ringbuf",
        InodeStorage = 28 => "inode_storage",
        TaskStorage = 29 => "task_storage",
        BloomFilter = 30 => "bloom_filter",
        UserRingbuf = 31 => "user_ringbuf",
        CgrpStorage = 32 => "cgrp_storage",
        Arena = 33 => "arena",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aya_obj::generated::{bpf_attach_type, bpf_map_type, bpf_prog_type};

    #[test]
    fn ids_match_the_uapi_bindings() {
        assert_eq!(
            ProgType::Netfilter.id() + 1,
            bpf_prog_type::__MAX_BPF_PROG_TYPE as u32
        );
        assert_eq!(
            ProgType::ALL.len() + 1,
            bpf_prog_type::__MAX_BPF_PROG_TYPE as usize
        );
        assert_eq!(ProgType::Xdp.id(), bpf_prog_type::BPF_PROG_TYPE_XDP as u32);
        assert_eq!(
            ProgType::Tracing.id(),
            bpf_prog_type::BPF_PROG_TYPE_TRACING as u32
        );
        assert_eq!(
            AttachType::ALL.len(),
            bpf_attach_type::__MAX_BPF_ATTACH_TYPE as usize
        );
        assert_eq!(
            AttachType::TraceFentry.id(),
            bpf_attach_type::BPF_TRACE_FENTRY as u32
        );
        assert_eq!(AttachType::Xdp.id(), bpf_attach_type::BPF_XDP as u32);
        assert_eq!(
            MapType::ALL.len() + 1,
            bpf_map_type::__MAX_BPF_MAP_TYPE as usize
        );
        assert_eq!(
            MapType::Ringbuf.id(),
            bpf_map_type::BPF_MAP_TYPE_RINGBUF as u32
        );
        for (i, t) in ProgType::ALL.iter().enumerate() {
            assert_eq!(t.id() as usize, i + 1);
            assert_eq!(ProgType::from_id(t.id()), Some(*t));
            assert_eq!(t.name().parse::<ProgType>(), Ok(*t));
        }
        for (i, t) in AttachType::ALL.iter().enumerate() {
            assert_eq!(t.id() as usize, i);
        }
        for (i, t) in MapType::ALL.iter().enumerate() {
            assert_eq!(t.id() as usize, i + 1);
        }
        assert_eq!(ProgType::from_id(0), None);
        assert!("nope"
            .parse::<MapType>()
            .unwrap_err()
            .contains("unknown map type"));
    }
}
