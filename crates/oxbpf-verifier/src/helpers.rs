//! Helper prototypes: argument kinds, return kinds, which program types may call them and
//! which maps they accept.
//!
//! Built-in prototypes follow the Linux helpers with the same ids; embedders add their own
//! with [`crate::VerifierConfig::helpers`].

use crate::maps::MapType;
use serde::Serialize;
use std::borrow::Cow;

/// What a helper argument must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arg {
    /// Any initialized value (a pointer only where pointer leaks are allowed).
    Anything,
    /// The context pointer, unmodified.
    Ctx,
    /// A map (`lddw` of a map).
    Map,
    /// Pointer to `key_size` readable bytes for the map argument.
    MapKey,
    /// Pointer to `value_size` readable bytes for the map argument.
    MapValue,
    /// Pointer to `value_size` bytes the helper writes.
    MapValueOut,
    /// Pointer to memory whose size is the next argument ([`Arg::Size`]). `write`: the
    /// helper writes it (it need not be initialized); otherwise it reads it. `nullable`: 0
    /// is accepted (with a zero size).
    Mem { write: bool, nullable: bool },
    /// Size of the preceding memory argument: a bounded scalar (`zero_ok`: may be 0).
    Size { zero_ok: bool },
    /// Pointer to exactly `size` bytes (written by the helper when `write`).
    FixedMem { size: u32, write: bool },
    /// A known constant size of memory the helper allocates (`bpf_ringbuf_reserve`).
    AllocSize,
    /// A ring buffer reservation, which the call releases.
    RingbufMem,
    /// Pointer into a frozen read-only map holding a NUL-terminated string.
    ConstStr,
    /// A callback function (bpf_loop and the like); not supported.
    Callback,
}

/// What a helper returns in `r0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ret {
    /// A number.
    Integer,
    /// Nothing (`r0` is left uninitialized).
    Void,
    /// A pointer to a value of the map argument, or NULL.
    MapValueOrNull,
    /// A ring buffer reservation of [`Arg::AllocSize`] bytes, or NULL; it must be
    /// submitted or discarded on every path.
    RingbufMemOrNull,
}

/// Program kinds a helper may be called from (bit set).
pub mod class {
    /// Every program type.
    pub const BASE: u32 = 1;
    /// Every program type, when pointer leaks are allowed (privileged loads).
    pub const PRIV: u32 = 1 << 1;
    /// Tracing programs (kprobe, tracepoint, raw tracepoint, perf event).
    pub const TRACING: u32 = 1 << 2;
    /// Kprobes only.
    pub const KPROBE: u32 = 1 << 3;
    /// Programs on socket buffers (socket filter, tc, cgroup skb).
    pub const SKB: u32 = 1 << 4;
    /// tc (sched_cls / sched_act) only.
    pub const TC: u32 = 1 << 5;
    /// XDP only.
    pub const XDP: u32 = 1 << 6;
    /// Everything.
    pub const ALL: u32 = u32::MAX;
}

/// One helper's prototype.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HelperProto {
    pub id: i32,
    pub name: Cow<'static, str>,
    pub args: Cow<'static, [Arg]>,
    pub ret: Ret,
    /// Map types accepted for the [`Arg::Map`] argument; empty means maps with plain
    /// values (hash, array and their variants).
    pub map_types: Cow<'static, [MapType]>,
    /// [`class`] bits of the program types that may call it.
    pub classes: u32,
    /// The helper may move or resize the packet: packet pointers are invalidated.
    pub changes_packet: bool,
}

impl HelperProto {
    /// A prototype for an embedder's helper, callable from every program type.
    pub fn new(id: i32, name: impl Into<Cow<'static, str>>, args: Vec<Arg>, ret: Ret) -> Self {
        HelperProto {
            id,
            name: name.into(),
            args: Cow::Owned(args),
            ret,
            map_types: Cow::Borrowed(&[]),
            classes: class::ALL,
            changes_packet: false,
        }
    }
}

use Arg::*;

const RD: Arg = Mem {
    write: false,
    nullable: false,
};
const WR: Arg = Mem {
    write: true,
    nullable: false,
};
const RD_OR_NULL: Arg = Mem {
    write: false,
    nullable: true,
};
const WR_OR_NULL: Arg = Mem {
    write: true,
    nullable: true,
};
const SZ: Arg = Size { zero_ok: false };
const SZ0: Arg = Size { zero_ok: true };

const fn p(
    id: i32,
    name: &'static str,
    args: &'static [Arg],
    ret: Ret,
    classes: u32,
) -> HelperProto {
    HelperProto {
        id,
        name: Cow::Borrowed(name),
        args: Cow::Borrowed(args),
        ret,
        map_types: Cow::Borrowed(&[]),
        classes,
        changes_packet: false,
    }
}

const fn pm(
    id: i32,
    name: &'static str,
    args: &'static [Arg],
    ret: Ret,
    classes: u32,
    types: &'static [MapType],
) -> HelperProto {
    HelperProto {
        id,
        name: Cow::Borrowed(name),
        args: Cow::Borrowed(args),
        ret,
        map_types: Cow::Borrowed(types),
        classes,
        changes_packet: false,
    }
}

const fn pkt(mut h: HelperProto) -> HelperProto {
    h.changes_packet = true;
    h
}

use class::*;
use Ret::*;

const RINGBUF: &[MapType] = &[MapType::Ringbuf];
const PERF: &[MapType] = &[MapType::PerfEventArray];
const QUEUE: &[MapType] = &[MapType::Queue, MapType::Stack, MapType::BloomFilter];
const REDIRECT: &[MapType] = &[
    MapType::Devmap,
    MapType::DevmapHash,
    MapType::Cpumap,
    MapType::Xskmap,
];
const CGROUP: &[MapType] = &[MapType::CgroupArray];
const PROG_ARRAY: &[MapType] = &[MapType::ProgArray];
const STACK_TRACE: &[MapType] = &[MapType::StackTrace];
const PERCPU: &[MapType] = &[
    MapType::PercpuHash,
    MapType::PercpuArray,
    MapType::LruPercpuHash,
];
const LONG_OUT: Arg = FixedMem {
    size: 8,
    write: true,
};
const MTU_LEN: Arg = FixedMem {
    size: 4,
    write: true,
};

const TRACE: u32 = TRACING | KPROBE;
const NET: u32 = SKB | TC | XDP;

/// The built-in prototypes, by id.
pub static BUILTIN: &[HelperProto] = &[
    p(
        1,
        "bpf_map_lookup_elem",
        &[Map, MapKey],
        MapValueOrNull,
        ALL,
    ),
    p(
        2,
        "bpf_map_update_elem",
        &[Map, MapKey, MapValue, Anything],
        Integer,
        ALL,
    ),
    p(3, "bpf_map_delete_elem", &[Map, MapKey], Integer, ALL),
    p(4, "bpf_probe_read", &[WR, SZ0, Anything], Integer, TRACE),
    p(5, "bpf_ktime_get_ns", &[], Integer, ALL),
    // The format's arguments (r3-r5) are not checked: Linux declares only two.
    p(6, "bpf_trace_printk", &[RD, SZ], Integer, PRIV | TRACE),
    p(7, "bpf_get_prandom_u32", &[], Integer, ALL),
    p(8, "bpf_get_smp_processor_id", &[], Integer, ALL),
    pkt(p(
        9,
        "bpf_skb_store_bytes",
        &[Ctx, Anything, RD, SZ, Anything],
        Integer,
        TC,
    )),
    pkt(p(
        10,
        "bpf_l3_csum_replace",
        &[Ctx, Anything, Anything, Anything, Anything],
        Integer,
        TC,
    )),
    pkt(p(
        11,
        "bpf_l4_csum_replace",
        &[Ctx, Anything, Anything, Anything, Anything],
        Integer,
        TC,
    )),
    pm(
        12,
        "bpf_tail_call",
        &[Ctx, Map, Anything],
        Void,
        ALL,
        PROG_ARRAY,
    ),
    pkt(p(
        13,
        "bpf_clone_redirect",
        &[Ctx, Anything, Anything],
        Integer,
        TC,
    )),
    // Every program type since Linux 6.10 (bpf_base_func_proto).
    p(14, "bpf_get_current_pid_tgid", &[], Integer, ALL),
    p(15, "bpf_get_current_uid_gid", &[], Integer, TRACE),
    p(16, "bpf_get_current_comm", &[WR, SZ], Integer, TRACE),
    p(17, "bpf_get_cgroup_classid", &[Ctx], Integer, TC),
    pkt(p(
        18,
        "bpf_skb_vlan_push",
        &[Ctx, Anything, Anything],
        Integer,
        TC,
    )),
    pkt(p(19, "bpf_skb_vlan_pop", &[Ctx], Integer, TC)),
    pm(
        22,
        "bpf_perf_event_read",
        &[Map, Anything],
        Integer,
        TRACE,
        PERF,
    ),
    p(23, "bpf_redirect", &[Anything, Anything], Integer, TC | XDP),
    p(24, "bpf_get_route_realm", &[Ctx], Integer, TC),
    pm(
        25,
        "bpf_perf_event_output",
        &[Ctx, Map, Anything, RD, SZ0],
        Integer,
        TRACE | NET,
        PERF,
    ),
    p(
        26,
        "bpf_skb_load_bytes",
        &[Ctx, Anything, WR, SZ],
        Integer,
        SKB | TC,
    ),
    pm(
        27,
        "bpf_get_stackid",
        &[Ctx, Map, Anything],
        Integer,
        TRACE,
        STACK_TRACE,
    ),
    p(
        28,
        "bpf_csum_diff",
        &[RD_OR_NULL, SZ0, RD_OR_NULL, SZ0, Anything],
        Integer,
        TC | XDP,
    ),
    pkt(p(
        31,
        "bpf_skb_change_proto",
        &[Ctx, Anything, Anything],
        Integer,
        TC,
    )),
    p(32, "bpf_skb_change_type", &[Ctx, Anything], Integer, TC),
    pm(
        33,
        "bpf_skb_under_cgroup",
        &[Ctx, Map, Anything],
        Integer,
        TC,
        CGROUP,
    ),
    p(34, "bpf_get_hash_recalc", &[Ctx], Integer, TC),
    p(35, "bpf_get_current_task", &[], Integer, PRIV | TRACE),
    p(
        36,
        "bpf_probe_write_user",
        &[Anything, RD, SZ],
        Integer,
        TRACE,
    ),
    pm(
        37,
        "bpf_current_task_under_cgroup",
        &[Map, Anything],
        Integer,
        TRACE,
        CGROUP,
    ),
    pkt(p(
        38,
        "bpf_skb_change_tail",
        &[Ctx, Anything, Anything],
        Integer,
        TC,
    )),
    pkt(p(39, "bpf_skb_pull_data", &[Ctx, Anything], Integer, TC)),
    p(40, "bpf_csum_update", &[Ctx, Anything], Integer, TC),
    p(41, "bpf_set_hash_invalid", &[Ctx], Integer, TC),
    p(42, "bpf_get_numa_node_id", &[], Integer, ALL),
    pkt(p(
        43,
        "bpf_skb_change_head",
        &[Ctx, Anything, Anything],
        Integer,
        TC,
    )),
    pkt(p(44, "bpf_xdp_adjust_head", &[Ctx, Anything], Integer, XDP)),
    p(
        45,
        "bpf_probe_read_str",
        &[WR, SZ0, Anything],
        Integer,
        TRACE,
    ),
    p(46, "bpf_get_socket_cookie", &[Ctx], Integer, SKB | TC),
    p(47, "bpf_get_socket_uid", &[Ctx], Integer, SKB | TC),
    p(48, "bpf_set_hash", &[Ctx, Anything], Integer, TC),
    pkt(p(
        50,
        "bpf_skb_adjust_room",
        &[Ctx, Anything, Anything, Anything],
        Integer,
        TC,
    )),
    pm(
        51,
        "bpf_redirect_map",
        &[Map, Anything, Anything],
        Integer,
        XDP,
        REDIRECT,
    ),
    pkt(p(54, "bpf_xdp_adjust_meta", &[Ctx, Anything], Integer, XDP)),
    pm(
        55,
        "bpf_perf_event_read_value",
        &[Map, Anything, WR, SZ],
        Integer,
        TRACE,
        PERF,
    ),
    pkt(p(65, "bpf_xdp_adjust_tail", &[Ctx, Anything], Integer, XDP)),
    p(
        67,
        "bpf_get_stack",
        &[Ctx, WR, SZ0, Anything],
        Integer,
        TRACE,
    ),
    p(
        68,
        "bpf_skb_load_bytes_relative",
        &[Ctx, Anything, WR, SZ, Anything],
        Integer,
        SKB | TC,
    ),
    p(
        69,
        "bpf_fib_lookup",
        &[Ctx, WR, SZ, Anything],
        Integer,
        TC | XDP,
    ),
    p(79, "bpf_skb_cgroup_id", &[Ctx], Integer, TC),
    p(80, "bpf_get_current_cgroup_id", &[], Integer, TRACE),
    pm(
        87,
        "bpf_map_push_elem",
        &[Map, MapValue, Anything],
        Integer,
        ALL,
        QUEUE,
    ),
    pm(
        88,
        "bpf_map_pop_elem",
        &[Map, MapValueOut],
        Integer,
        ALL,
        QUEUE,
    ),
    pm(
        89,
        "bpf_map_peek_elem",
        &[Map, MapValueOut],
        Integer,
        ALL,
        QUEUE,
    ),
    p(97, "bpf_skb_ecn_set_ce", &[Ctx], Integer, TC),
    p(109, "bpf_send_signal", &[Anything], Integer, TRACE),
    p(
        112,
        "bpf_probe_read_user",
        &[WR, SZ0, Anything],
        Integer,
        PRIV | TRACE,
    ),
    p(
        113,
        "bpf_probe_read_kernel",
        &[WR, SZ0, Anything],
        Integer,
        PRIV | TRACE,
    ),
    p(
        114,
        "bpf_probe_read_user_str",
        &[WR, SZ0, Anything],
        Integer,
        PRIV | TRACE,
    ),
    p(
        115,
        "bpf_probe_read_kernel_str",
        &[WR, SZ0, Anything],
        Integer,
        PRIV | TRACE,
    ),
    p(117, "bpf_send_signal_thread", &[Anything], Integer, TRACE),
    p(
        105,
        "bpf_strtol",
        &[RD, SZ, Anything, LONG_OUT],
        Integer,
        ALL,
    ),
    p(
        106,
        "bpf_strtoul",
        &[RD, SZ, Anything, LONG_OUT],
        Integer,
        ALL,
    ),
    p(118, "bpf_jiffies64", &[], Integer, ALL),
    p(
        120,
        "bpf_get_ns_current_pid_tgid",
        &[Anything, Anything, WR, SZ],
        Integer,
        TRACE,
    ),
    p(
        123,
        "bpf_get_current_ancestor_cgroup_id",
        &[Anything],
        Integer,
        TRACE,
    ),
    p(125, "bpf_ktime_get_boot_ns", &[], Integer, ALL),
    pm(
        130,
        "bpf_ringbuf_output",
        &[Map, RD, SZ0, Anything],
        Integer,
        ALL,
        RINGBUF,
    ),
    pm(
        131,
        "bpf_ringbuf_reserve",
        &[Map, AllocSize, Anything],
        RingbufMemOrNull,
        ALL,
        RINGBUF,
    ),
    p(
        132,
        "bpf_ringbuf_submit",
        &[RingbufMem, Anything],
        Void,
        ALL,
    ),
    p(
        133,
        "bpf_ringbuf_discard",
        &[RingbufMem, Anything],
        Void,
        ALL,
    ),
    pm(
        134,
        "bpf_ringbuf_query",
        &[Map, Anything],
        Integer,
        ALL,
        RINGBUF,
    ),
    p(
        152,
        "bpf_redirect_neigh",
        &[Anything, RD_OR_NULL, SZ0, Anything],
        Integer,
        TC,
    ),
    p(155, "bpf_redirect_peer", &[Anything, Anything], Integer, TC),
    // Not NMI-safe: Linux keeps it from tracing programs (bpf_sk_base_func_proto).
    p(160, "bpf_ktime_get_coarse_ns", &[], Integer, NET),
    p(
        163,
        "bpf_check_mtu",
        &[Ctx, Anything, MTU_LEN, Anything, Anything],
        Integer,
        TC | XDP,
    ),
    p(
        164,
        "bpf_for_each_map_elem",
        &[Map, Callback, Anything, Anything],
        Integer,
        ALL,
    ),
    p(
        165,
        "bpf_snprintf",
        &[WR_OR_NULL, SZ0, ConstStr, RD_OR_NULL, SZ0],
        Integer,
        PRIV | TRACE,
    ),
    p(173, "bpf_get_func_ip", &[Ctx], Integer, KPROBE),
    p(
        177,
        "bpf_trace_vprintk",
        &[RD, SZ, RD_OR_NULL, SZ0],
        Integer,
        PRIV | TRACE,
    ),
    p(
        181,
        "bpf_loop",
        &[Anything, Callback, Anything, Anything],
        Integer,
        ALL,
    ),
    p(182, "bpf_strncmp", &[RD, SZ, ConstStr], Integer, ALL),
    p(188, "bpf_xdp_get_buff_len", &[Ctx], Integer, XDP),
    p(
        189,
        "bpf_xdp_load_bytes",
        &[Ctx, Anything, WR, SZ],
        Integer,
        XDP,
    ),
    pkt(p(
        190,
        "bpf_xdp_store_bytes",
        &[Ctx, Anything, RD, SZ],
        Integer,
        XDP,
    )),
    pm(
        195,
        "bpf_map_lookup_percpu_elem",
        &[Map, MapKey, Anything],
        MapValueOrNull,
        ALL,
        PERCPU,
    ),
    p(208, "bpf_ktime_get_tai_ns", &[], Integer, ALL),
];

/// The built-in prototype with this id.
pub fn builtin(id: i32) -> Option<&'static HelperProto> {
    BUILTIN.iter().find(|h| h.id == id)
}

/// Linux name of helper `id` (for messages about helpers without a prototype here).
pub fn linux_name(id: i32) -> Option<&'static str> {
    builtin(id)
        .map(|h| &*h.name as &str)
        .or_else(|| u32::try_from(id).ok().and_then(oxbpf_isa::helper_name))
}

/// True when a map of type `t` may be passed to helper `h`.
pub fn map_compatible(h: &HelperProto, t: MapType) -> bool {
    if h.map_types.is_empty() {
        t.has_plain_values() || (h.id == 1 && t.is_map_of_maps())
    } else {
        h.map_types.contains(&t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        let mut ids: Vec<i32> = BUILTIN.iter().map(|h| h.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(n, ids.len(), "duplicate helper ids");
        for h in BUILTIN {
            assert!(h.args.len() <= 5, "{}", h.name);
            // A size always follows a memory argument, and a memory argument is always
            // followed by a size.
            for (i, a) in h.args.iter().enumerate() {
                if matches!(a, Arg::Mem { .. }) {
                    assert!(
                        matches!(h.args.get(i + 1), Some(Arg::Size { .. })),
                        "{}",
                        h.name
                    );
                }
                if matches!(a, Arg::Size { .. }) {
                    assert!(
                        i > 0 && matches!(h.args[i - 1], Arg::Mem { .. }),
                        "{}",
                        h.name
                    );
                }
            }
            let has_map = h.args.contains(&Arg::Map);
            assert!(has_map || h.map_types.is_empty(), "{}", h.name);
            if matches!(h.ret, Ret::MapValueOrNull) {
                assert!(has_map);
            }
        }
        assert_eq!(linux_name(1), Some("bpf_map_lookup_elem"));
        assert_eq!(linux_name(93), Some("bpf_spin_lock"));
    }
}
