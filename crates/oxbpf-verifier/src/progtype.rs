//! Program types: the context a program gets, what it may return and which helpers and
//! packet accesses it may use.

use crate::context::ContextDescriptor;
use crate::helpers::class;
use serde::Serialize;
use std::sync::Arc;

/// Direct packet access a program type allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PacketAccess {
    None,
    Read,
    ReadWrite,
}

/// An embedder-defined hook: everything the verifier needs to check programs attached to
/// it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HookSpec {
    pub name: String,
    pub context: ContextDescriptor,
    /// Inclusive range `r0` must be in at exit, if restricted.
    pub return_range: Option<(i64, i64)>,
    pub packet: PacketAccess,
    /// [`crate::helpers::class`] bits of the built-in helpers allowed (embedder helpers
    /// given in the configuration are always allowed).
    pub helper_classes: u32,
    /// May programs store pointers into maps, return them, compare them...
    pub allow_ptr_leaks: bool,
    /// `r1` points to `context.size` bytes of plain memory (any access inside it, pointer
    /// arithmetic allowed; the fields only document the layout) and `r2` holds that size,
    /// as `oxbpf_vm::RunContext::with_memory` sets a run up.
    pub plain_memory: bool,
}

impl HookSpec {
    /// A hook with this context, no return restriction, no packet access, only the
    /// helpers every program type has, and no pointer leaks.
    pub fn new(name: impl Into<String>, context: ContextDescriptor) -> HookSpec {
        HookSpec {
            name: name.into(),
            context,
            return_range: None,
            packet: PacketAccess::None,
            helper_classes: class::BASE,
            allow_ptr_leaks: false,
            plain_memory: false,
        }
    }
}

/// The kind of program being verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProgramType {
    SocketFilter,
    Kprobe,
    SchedCls,
    SchedAct,
    Tracepoint,
    Xdp,
    PerfEvent,
    CgroupSkb,
    RawTracepoint,
    /// An embedder's hook.
    Hook(Arc<HookSpec>),
}

impl ProgramType {
    /// Linux `enum bpf_prog_type` number (None for embedder hooks).
    pub fn linux_id(&self) -> Option<u32> {
        Some(match self {
            ProgramType::SocketFilter => 1,
            ProgramType::Kprobe => 2,
            ProgramType::SchedCls => 3,
            ProgramType::SchedAct => 4,
            ProgramType::Tracepoint => 5,
            ProgramType::Xdp => 6,
            ProgramType::PerfEvent => 7,
            ProgramType::CgroupSkb => 8,
            ProgramType::RawTracepoint => 17,
            ProgramType::Hook(_) => return None,
        })
    }

    /// The program type for an ELF section name (`xdp`, `kprobe/...`, `tracepoint/...`,
    /// `tc`, `classifier`, `socket`, `perf_event`, `raw_tracepoint/...`, `cgroup_skb/...`,
    /// `uprobe/...`).
    pub fn from_section(section: &str) -> Option<ProgramType> {
        let head = section.split('/').next().unwrap_or(section);
        Some(match head {
            "socket" | "socket_filter" => ProgramType::SocketFilter,
            "kprobe" | "kretprobe" | "uprobe" | "uretprobe" | "ksyscall" | "kretsyscall"
            | "usdt" => ProgramType::Kprobe,
            "tc" | "classifier" | "tcx" | "tc_ingress" | "tc_egress" => ProgramType::SchedCls,
            "action" => ProgramType::SchedAct,
            "tracepoint" | "tp" => ProgramType::Tracepoint,
            "xdp" => ProgramType::Xdp,
            "perf_event" => ProgramType::PerfEvent,
            "cgroup_skb" => ProgramType::CgroupSkb,
            "raw_tracepoint" | "raw_tp" => ProgramType::RawTracepoint,
            _ => return None,
        })
    }

    /// A short name.
    pub fn name(&self) -> &str {
        match self {
            ProgramType::SocketFilter => "socket_filter",
            ProgramType::Kprobe => "kprobe",
            ProgramType::SchedCls => "sched_cls",
            ProgramType::SchedAct => "sched_act",
            ProgramType::Tracepoint => "tracepoint",
            ProgramType::Xdp => "xdp",
            ProgramType::PerfEvent => "perf_event",
            ProgramType::CgroupSkb => "cgroup_skb",
            ProgramType::RawTracepoint => "raw_tracepoint",
            ProgramType::Hook(h) => &h.name,
        }
    }

    /// The context descriptor programs of this type get by default.
    pub fn default_context(&self) -> ContextDescriptor {
        match self {
            ProgramType::SocketFilter => ContextDescriptor::sk_buff_socket_filter(),
            ProgramType::Kprobe => ContextDescriptor::pt_regs(),
            ProgramType::SchedCls | ProgramType::SchedAct => ContextDescriptor::sk_buff_tc(),
            ProgramType::Tracepoint => ContextDescriptor::tracepoint_unknown(),
            ProgramType::Xdp => ContextDescriptor::xdp_md(),
            ProgramType::PerfEvent => ContextDescriptor::perf_event_data(),
            ProgramType::CgroupSkb => ContextDescriptor::sk_buff_cgroup(),
            ProgramType::RawTracepoint => ContextDescriptor::raw_tracepoint(12),
            ProgramType::Hook(h) => h.context.clone(),
        }
    }

    /// Inclusive range of `r0` at exit, when restricted.
    pub fn return_range(&self) -> Option<(i64, i64)> {
        match self {
            ProgramType::CgroupSkb => Some((0, 1)),
            ProgramType::Hook(h) => h.return_range,
            _ => None,
        }
    }

    /// Direct packet access allowed.
    pub fn packet_access(&self) -> PacketAccess {
        match self {
            ProgramType::SchedCls | ProgramType::SchedAct | ProgramType::Xdp => {
                PacketAccess::ReadWrite
            }
            ProgramType::CgroupSkb => PacketAccess::Read,
            ProgramType::Hook(h) => h.packet,
            _ => PacketAccess::None,
        }
    }

    /// True when legacy packet loads (`BPF_LD | BPF_ABS/IND`) are allowed.
    pub fn allows_ld_abs(&self) -> bool {
        matches!(
            self,
            ProgramType::SocketFilter | ProgramType::SchedCls | ProgramType::SchedAct
        )
    }

    /// [`class`] bits of the built-in helpers this program type may call.
    pub fn helper_classes(&self, privileged: bool) -> u32 {
        let base = if privileged {
            class::BASE | class::PRIV
        } else {
            class::BASE
        };
        base | match self {
            ProgramType::SocketFilter | ProgramType::CgroupSkb => class::SKB,
            ProgramType::SchedCls | ProgramType::SchedAct => class::SKB | class::TC,
            ProgramType::Xdp => class::XDP,
            ProgramType::Kprobe => class::TRACING | class::KPROBE,
            ProgramType::Tracepoint | ProgramType::PerfEvent | ProgramType::RawTracepoint => {
                class::TRACING
            }
            ProgramType::Hook(h) => h.helper_classes,
        }
    }

    /// True when this program type allows pointer leaks (further restricted by the
    /// configuration).
    pub fn allows_ptr_leaks(&self) -> bool {
        match self {
            ProgramType::Hook(h) => h.allow_ptr_leaks,
            _ => true,
        }
    }
}
