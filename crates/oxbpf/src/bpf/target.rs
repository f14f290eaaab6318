//! Attach targets: what a section implies, which program kinds fit which targets, and how
//! the userspace backend serves a target.

use super::error::BpfError;
use super::source::ProgramInfo;
use oxbpf_isa::{CallTarget, Insn};
use oxbpf_kernel::{AttachKind, AttachTarget, FallbackPolicy, UprobeTarget};
use oxbpf_obj::ProgramKind;
use oxbpf_runtime::progtype::{self, ProgType};
use oxbpf_runtime::tracer::syscalls::{self, Phase, Syscall};

/// Parses `kind:target` text (`tracepoint:syscalls:sys_enter_openat`, `kprobe:do_sys_openat2`,
/// `xdp:eth0`, ...), also accepting BCC's `category:name` tracepoint form through
/// [`Bpf::attach_tracepoint`](super::Bpf::attach_tracepoint).
pub fn parse(text: &str) -> Result<AttachTarget, BpfError> {
    AttachTarget::parse(text).map_err(|e| BpfError::Target {
        target: text.to_string(),
        reason: match e {
            // The kernel crate's reason starts with the target again: say it once.
            oxbpf_kernel::KernelError::InvalidInput { reason, .. } => reason
                .strip_prefix(&format!("`{text}`: "))
                .map(str::to_string)
                .unwrap_or(reason),
            other => other.to_string(),
        },
    })
}

/// The syscall entry function of `syscall` on this architecture (`ksyscall/openat` →
/// `__x64_sys_openat`).
fn syscall_entry(syscall: &str) -> String {
    #[cfg(target_arch = "aarch64")]
    let prefix = "__arm64_sys_";
    #[cfg(not(target_arch = "aarch64"))]
    let prefix = "__x64_sys_";
    format!("{prefix}{syscall}")
}

/// Where a program's section says it attaches, when the section names a complete target
/// (`tracepoint/syscalls/sys_enter_openat`, `kprobe/do_sys_openat2`, ...). Network
/// programs need an interface (or, in userspace, a capture) and have none.
pub fn section_target(kind: &ProgramKind) -> Option<AttachTarget> {
    match kind {
        ProgramKind::Tracepoint { category, name } if !category.is_empty() && !name.is_empty() => {
            Some(AttachTarget::tracepoint(category, name))
        }
        ProgramKind::Kprobe {
            function,
            offset,
            ret,
        } if !function.is_empty() => Some(if *ret {
            AttachTarget::Kretprobe {
                function: function.clone(),
            }
        } else {
            AttachTarget::Kprobe {
                function: function.clone(),
                offset: *offset,
            }
        }),
        ProgramKind::Ksyscall { syscall, ret } if !syscall.is_empty() => Some(if *ret {
            AttachTarget::Kretprobe {
                function: syscall_entry(syscall),
            }
        } else {
            AttachTarget::Kprobe {
                function: syscall_entry(syscall),
                offset: 0,
            }
        }),
        ProgramKind::RawTracepoint { name, .. } if !name.is_empty() => {
            Some(AttachTarget::RawTracepoint { name: name.clone() })
        }
        ProgramKind::TpBtf { name } if !name.is_empty() => {
            Some(AttachTarget::TpBtf { name: name.clone() })
        }
        ProgramKind::Fentry { function, .. } if !function.is_empty() => {
            Some(AttachTarget::Fentry {
                function: function.clone(),
            })
        }
        ProgramKind::Fexit { function, .. } if !function.is_empty() => Some(AttachTarget::Fexit {
            function: function.clone(),
        }),
        ProgramKind::Uprobe {
            binary,
            function,
            offset,
            ret,
            ..
        } if !binary.is_empty() => {
            let t = if function.is_empty() {
                UprobeTarget::offset(binary.as_str(), *offset)
            } else {
                UprobeTarget::symbol(binary.as_str(), function.as_str())
            };
            Some(if *ret {
                AttachTarget::Uretprobe(t)
            } else {
                AttachTarget::Uprobe(t)
            })
        }
        _ => None,
    }
}

/// The attach kinds a program of `kind` can be attached to (`None`: any, for BCC-style
/// functions whose type is chosen by the attach).
fn fitting_kinds(kind: &ProgramKind) -> Option<&'static [AttachKind]> {
    use AttachKind as K;
    Some(match kind {
        ProgramKind::Unspecified => return None,
        ProgramKind::Tracepoint { .. } => &[K::Tracepoint],
        ProgramKind::Kprobe { ret: false, .. } | ProgramKind::Ksyscall { ret: false, .. } => {
            &[K::Kprobe]
        }
        ProgramKind::Kprobe { ret: true, .. } | ProgramKind::Ksyscall { ret: true, .. } => {
            &[K::Kretprobe]
        }
        ProgramKind::RawTracepoint { .. } => &[K::RawTracepoint],
        ProgramKind::TpBtf { .. } => &[K::TpBtf],
        ProgramKind::Fentry { .. } => &[K::Fentry],
        ProgramKind::Fexit { .. } => &[K::Fexit],
        ProgramKind::Uprobe { ret: false, .. } => &[K::Uprobe],
        ProgramKind::Uprobe { ret: true, .. } => &[K::Uretprobe],
        ProgramKind::Xdp { .. } => &[K::Xdp],
        ProgramKind::SocketFilter => &[K::SocketFilter],
        ProgramKind::SchedCls { .. } | ProgramKind::SchedAct => &[K::Tc],
        ProgramKind::PerfEvent => &[K::PerfEvent],
        ProgramKind::CgroupSkb { .. } => &[K::CgroupSkb],
        _ => &[],
    })
}

/// Checks that `program` can be attached to `target` (its section's kind fits).
pub fn check_kind(program: &ProgramInfo, target: &AttachTarget) -> Result<(), BpfError> {
    let Some(kinds) = fitting_kinds(&program.kind) else {
        return Ok(());
    };
    if kinds.contains(&target.kind()) {
        return Ok(());
    }
    Err(BpfError::Attach {
        program: program.name.clone(),
        target: target.to_string(),
        reason: format!(
            "the program is a {} program (section `{}`); {} needs {}",
            program.kind.short_name(),
            program.section,
            target,
            match target.kind() {
                AttachKind::Tracepoint => "a tracepoint program (section `tracepoint/...`)",
                AttachKind::Kprobe => "a kprobe program (section `kprobe/...`)",
                AttachKind::Kretprobe => "a kretprobe program (section `kretprobe/...`)",
                AttachKind::RawTracepoint => "a raw tracepoint program (section `raw_tp/...`)",
                AttachKind::Xdp => "an XDP program (section `xdp`)",
                AttachKind::SocketFilter => "a socket filter (section `socket`)",
                _ => "a program of that kind",
            }
        ),
    })
}

/// The program type a target runs programs as.
pub fn prog_type_for(target: &AttachTarget) -> ProgType {
    match target.kind() {
        AttachKind::Tracepoint => ProgType::Tracepoint,
        AttachKind::Kprobe | AttachKind::Kretprobe | AttachKind::Uprobe | AttachKind::Uretprobe => {
            ProgType::Kprobe
        }
        AttachKind::RawTracepoint => ProgType::RawTracepoint,
        AttachKind::TpBtf | AttachKind::Fentry | AttachKind::Fexit => ProgType::Tracing,
        AttachKind::Xdp => ProgType::Xdp,
        AttachKind::SocketFilter => ProgType::SocketFilter,
        AttachKind::Tc => ProgType::SchedCls,
        AttachKind::PerfEvent => ProgType::PerfEvent,
        AttachKind::CgroupSkb => ProgType::CgroupSkb,
        _ => ProgType::Unspec,
    }
}

/// For a BCC-style function: checks that every helper it calls is one programs of type
/// `t` may call (its type was open until now).
pub fn check_helpers(program: &ProgramInfo, t: ProgType, target: &str) -> Result<(), BpfError> {
    for (_, slot, insn) in program.insns.iter() {
        let Insn::Call(CallTarget::Helper(id)) = *insn else {
            continue;
        };
        let Ok(id) = u32::try_from(id) else { continue };
        if !progtype::allows(t, id) {
            let name =
                oxbpf_runtime::helpers::ids::name(id).unwrap_or_else(|| format!("helper {id}"));
            return Err(BpfError::Attach {
                program: program.name.clone(),
                target: target.to_string(),
                reason: format!("instruction {slot} calls {name}, which {t} programs may not call"),
            });
        }
    }
    Ok(())
}

/// A hook of the userspace backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserHook {
    /// `syscalls:sys_enter_NAME` / `sys_exit_NAME` of traced commands.
    Syscall {
        phase: Phase,
        syscall: &'static Syscall,
    },
    /// `raw_syscalls:sys_enter` / `sys_exit`: every system call of traced commands (the
    /// record has the same layout as the per-call tracepoints': `id` at 8, `args` or
    /// `ret` at 16).
    AllSyscalls { phase: Phase },
    /// Packets of a capture (`Bpf::run_pcap`).
    Packet(oxbpf_runtime::packet::ProgramKind),
}

impl std::fmt::Display for UserHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserHook::Syscall { phase, syscall } => write!(
                f,
                "tracepoint:syscalls:sys_{}_{}",
                match phase {
                    Phase::Enter => "enter",
                    Phase::Exit => "exit",
                },
                syscall.tracepoint.unwrap_or(syscall.name)
            ),
            UserHook::AllSyscalls { phase } => write!(
                f,
                "tracepoint:raw_syscalls:sys_{}",
                match phase {
                    Phase::Enter => "enter",
                    Phase::Exit => "exit",
                }
            ),
            UserHook::Packet(oxbpf_runtime::packet::ProgramKind::Xdp) => {
                f.write_str("xdp (packets of the capture)")
            }
            UserHook::Packet(oxbpf_runtime::packet::ProgramKind::SocketFilter) => {
                f.write_str("socket filter (packets of the capture)")
            }
        }
    }
}

/// How the userspace backend serves a target.
#[derive(Debug)]
pub struct UserPlan {
    pub hooks: Vec<UserHook>,
    /// One line saying which hooks stand in for the target, when they differ from it.
    pub notice: Option<String>,
}

fn unsupported(target: &AttachTarget, why: &str) -> BpfError {
    BpfError::Unsupported {
        what: format!("{target}: {why}; attach it with the kernel backend (`oxbpf run --kernel`, `Bpf::builder().kernel()`)"),
    }
}

/// The userspace hooks for `target`. Probes on the kernel functions of system calls
/// (`kprobe:do_sys_openat2`, `kprobe:__x64_sys_openat`, fentry/fexit alike) run on the
/// matching syscall hooks, as the kernel backend falls back to the syscall tracepoints
/// where kprobes are missing; `policy` decides whether a program that reads its probe
/// context may move.
pub fn user_plan(
    program: &ProgramInfo,
    target: &AttachTarget,
    policy: FallbackPolicy,
) -> Result<UserPlan, BpfError> {
    if let AttachTarget::Kprobe { offset, .. } = target {
        if *offset != 0 {
            return Err(unsupported(
                target,
                "an offset into a kernel function has no userspace equivalent",
            ));
        }
    }
    match target {
        AttachTarget::Tracepoint { category, name } if category == "raw_syscalls" => {
            let phase = match name.as_str() {
                "sys_enter" => Phase::Enter,
                "sys_exit" => Phase::Exit,
                _ => {
                    return Err(BpfError::Attach {
                        program: program.name.clone(),
                        target: target.to_string(),
                        reason: "raw_syscalls has sys_enter and sys_exit".into(),
                    })
                }
            };
            Ok(UserPlan {
                hooks: vec![UserHook::AllSyscalls { phase }],
                notice: None,
            })
        }
        AttachTarget::Tracepoint { category, name } => {
            if category != "syscalls" {
                return Err(unsupported(
                    target,
                    "the userspace backend has the syscalls:sys_enter_*/sys_exit_* and raw_syscalls:sys_enter/sys_exit tracepoints of traced commands, no other tracepoints",
                ));
            }
            let (phase, syscall) = syscalls::parse_event(name).ok_or_else(|| BpfError::Attach {
                program: program.name.clone(),
                target: target.to_string(),
                reason: format!("no system call tracepoint `{name}` on x86-64 (see `oxbpf list tracepoints 'syscalls:*'`)"),
            })?;
            Ok(UserPlan {
                hooks: vec![UserHook::Syscall { phase, syscall }],
                notice: None,
            })
        }
        AttachTarget::Kprobe { function, .. }
        | AttachTarget::Kretprobe { function }
        | AttachTarget::Fentry { function }
        | AttachTarget::Fexit { function } => {
            let exit = matches!(
                target,
                AttachTarget::Kretprobe { .. } | AttachTarget::Fexit { .. }
            );
            let Some(m) = oxbpf_kernel::syscalls::syscalls_for(function) else {
                return Err(unsupported(
                    target,
                    &format!("the userspace backend has no kernel functions; only the functions of system calls (`__x64_sys_NAME`, `do_sys_openat2`, ...) map to the syscall hooks of traced commands, and `{function}` is not one"),
                ));
            };
            let phase = if exit { Phase::Exit } else { Phase::Enter };
            let hooks: Vec<UserHook> = m
                .syscalls
                .iter()
                .filter_map(|s| {
                    let ev = format!("sys_{}_{s}", if exit { "exit" } else { "enter" });
                    syscalls::parse_event(&ev).map(|(_, syscall)| UserHook::Syscall { phase, syscall })
                })
                .collect();
            if hooks.is_empty() {
                return Err(unsupported(
                    target,
                    &format!("{}, and none of those system calls exists on x86-64", m.describe()),
                ));
            }
            let list: Vec<String> = hooks.iter().map(|h| h.to_string()).collect();
            let why = format!(
                "{} runs in userspace on the system call hook{} {} of traced commands ({})",
                target,
                if hooks.len() == 1 { "" } else { "s" },
                list.join(", "),
                m.describe()
            );
            if policy == FallbackPolicy::Never {
                return Err(BpfError::Attach {
                    program: program.name.clone(),
                    target: target.to_string(),
                    reason: format!("{why}, and fallbacks are off (allow them: --fallback, FallbackPolicy::IfContextUnused)"),
                });
            }
            if let Some(read) = oxbpf_kernel::context::context_read(&program.insns) {
                let ctx = match target.kind() {
                    AttachKind::Fentry | AttachKind::Fexit => {
                        "its fentry/fexit context (the traced function's arguments)"
                    }
                    _ => "its kprobe context (struct pt_regs)",
                };
                if policy != FallbackPolicy::Always {
                    return Err(BpfError::Attach {
                        program: program.name.clone(),
                        target: target.to_string(),
                        reason: format!("{why}, but the program reads {ctx} ({read}), which is the tracepoint record there; attach it to the tracepoint itself, or force it (--fallback=always, FallbackPolicy::Always)"),
                    });
                }
                return Ok(UserPlan {
                    hooks,
                    notice: Some(format!(
                        "{why}; warning: program `{}` reads {ctx} ({read}) and gets the tracepoint record instead",
                        program.name
                    )),
                });
            }
            Ok(UserPlan {
                hooks,
                notice: Some(why),
            })
        }
        AttachTarget::Xdp { .. } => Ok(UserPlan {
            hooks: vec![UserHook::Packet(oxbpf_runtime::packet::ProgramKind::Xdp)],
            notice: Some(format!(
                "{target} runs in userspace on the packets of a capture (`Bpf::run_pcap`, `oxbpf run --pcap`)"
            )),
        }),
        AttachTarget::SocketFilter { .. } => Ok(UserPlan {
            hooks: vec![UserHook::Packet(
                oxbpf_runtime::packet::ProgramKind::SocketFilter,
            )],
            notice: Some(format!(
                "{target} runs in userspace on the packets of a capture (`Bpf::run_pcap`, `oxbpf run --pcap`)"
            )),
        }),
        _ => Err(unsupported(
            target,
            &format!(
                "the userspace backend has no {} hook (it has syscall tracepoints and kprobes on syscall functions for traced commands, and XDP/socket filters over captures)",
                target.kind()
            ),
        )),
    }
}
