//! Falling back when the running kernel lacks an attach kind.
//!
//! [`AttachSupport`] says which of the attach kinds that kernels commonly lack are usable
//! here (kprobes: `CONFIG_KPROBE_EVENTS`; fentry/fexit: BPF trampolines, refused by some
//! lockdown and security policies), with the reason in plain words. [`plan_fallback`]
//! turns a target the kernel cannot serve into the one it can:
//!
//! - `kprobe:`/`fentry:` on a syscall function → `tracepoint:syscalls:sys_enter_<name>`
//!   for every syscall the function belongs to ([`crate::syscalls`]);
//!   `kretprobe:`/`fexit:` → `sys_exit_<name>`. Only tracepoints that exist are used.
//! - `kprobe:`/`fentry:` on a function that has a tracepoint of the same name (such as
//!   `tcp_retransmit_skb`) → that tracepoint (it fires inside the function).
//! - `xdp:IF:drv` or `:hw` the driver cannot do → `xdp:IF:skb` (generic XDP).
//! - `tc:IF:DIR:tcx` on a kernel without TCX → `tc:IF:DIR:netlink`.
//!
//! A probe program moved to a tracepoint must be *loaded* as a tracepoint program (the
//! kernel attaches only `BPF_PROG_TYPE_TRACEPOINT` programs to tracepoint perf events);
//! [`Fallback::load_as`] says so and `KernelObject` does it. Its context changes too
//! (`struct pt_regs` or the function's arguments become the tracepoint's record), which is
//! harmless only for programs that do not read their context; see [`crate::context`] and
//! [`FallbackPolicy`].

use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

use crate::error::KernelError;
use crate::probe::{self, Feature, Status};
use crate::syscalls::{join_and, syscalls_for, MatchRule};
use crate::target::{AttachKind, AttachTarget, TcMode, XdpMode};
use crate::tracefs::{Tracefs, TracepointName};
use crate::types::ProgType;

/// Whether attaching may fall back to an alternative the kernel supports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FallbackPolicy {
    /// Never: an unsupported attach kind is an error
    /// ([`KernelError::AttachUnsupported`], which names the alternative).
    #[default]
    Never,
    /// When the program does not read its context, or when the alternative keeps the
    /// program's context (XDP skb mode, tc over netlink). A program that reads arguments
    /// gets [`KernelError::FallbackRefused`] naming the instruction.
    IfContextUnused,
    /// Always, even when the program reads its context (it will read the alternative's
    /// context instead: the caller accepts wrong argument values).
    Always,
}

/// The attach kinds that may be missing, as this kernel and process see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachSupport {
    /// kprobes and kretprobes.
    pub kprobe: Feature,
    /// fentry and fexit (BPF trampolines).
    pub fentry: Feature,
}

const KPROBE_PMU: &str = "/sys/bus/event_source/devices/kprobe";

impl AttachSupport {
    /// Probes the running kernel once per process (loading a trivial fentry program and
    /// attaching it for a moment; checking the kprobe PMU and `kprobe_events`).
    pub fn detect() -> &'static AttachSupport {
        static S: OnceLock<AttachSupport> = OnceLock::new();
        S.get_or_init(|| AttachSupport {
            kprobe: probe::kprobes(),
            fentry: probe::fentry(),
        })
    }

    /// Why `kind` cannot be used on this kernel, or `None` when it can (or is not one of
    /// the kinds this tracks).
    pub fn unsupported_reason(&self, kind: AttachKind) -> Option<String> {
        match kind {
            AttachKind::Kprobe | AttachKind::Kretprobe => {
                (!self.kprobe.is_supported()).then(|| kprobe_reason(&self.kprobe))
            }
            AttachKind::Fentry | AttachKind::Fexit => {
                (!self.fentry.is_supported()).then(|| fentry_reason(&self.fentry))
            }
            _ => None,
        }
    }
}

/// Why kprobes cannot be used here (`kprobes are not available on this kernel (no kprobe
/// PMU, no kprobe_events)`), or `None` when they can. Cheaper than
/// [`AttachSupport::detect`], which also loads an fentry program.
pub fn kprobe_unavailable_reason() -> Option<String> {
    let f = probe::kprobes();
    (!f.is_supported()).then(|| kprobe_reason(&f))
}

/// "kprobes are not available on this kernel (no kprobe PMU, no kprobe_events)", with
/// the facts checked again here so that the words match the machine.
pub(crate) fn kprobe_reason(f: &Feature) -> String {
    if f.status == Status::Refused {
        return format!("kprobes are refused for this process ({})", f.reason);
    }
    let pmu = Path::new(KPROBE_PMU).exists();
    let events = Tracefs::find().map(|t| t.path("kprobe_events").exists());
    let mut missing = Vec::new();
    if !pmu {
        missing.push("no kprobe PMU");
    }
    match events {
        Some(false) => missing.push("no kprobe_events"),
        None => missing.push("tracefs not mounted to check kprobe_events"),
        Some(true) => {}
    }
    if missing.is_empty() {
        format!("kprobes are not available on this kernel ({})", f.reason)
    } else {
        format!(
            "kprobes are not available on this kernel ({})",
            missing.join(", ")
        )
    }
}

fn fentry_reason(f: &Feature) -> String {
    match f.status {
        Status::Refused if crate::sys::geteuid() == 0 => {
            "fentry and fexit are not permitted on this kernel (loading a BPF trampoline \
             program fails with EPERM even for root: lockdown or a security policy forbids it)"
                .to_string()
        }
        Status::Refused => format!(
            "fentry and fexit are refused for this process ({})",
            f.reason
        ),
        _ => format!(
            "fentry and fexit are not available on this kernel ({})",
            f.reason
        ),
    }
}

/// Builds the "unsupported" error for `target`, with the alternative when there is one.
pub(crate) fn unsupported_error(target: &AttachTarget, reason: String) -> KernelError {
    let alternative = Tracefs::find_or_mount()
        .ok()
        .and_then(|t| TracepointSet::from_tracefs(&t).ok())
        .and_then(|set| plan_fallback(target, &reason, &set));
    let reason = if alternative.is_none() {
        format!("{reason}; {}", no_alternative_hint(target))
    } else {
        reason
    };
    KernelError::AttachUnsupported {
        kind: target.kind(),
        target: target.to_string(),
        reason,
        alternative: alternative.map(Box::new),
    }
}

/// The tracepoints that exist, for planning.
#[derive(Clone, Debug, Default)]
pub struct TracepointSet {
    all: HashSet<(String, String)>,
}

impl TracepointSet {
    /// The tracepoints of a mounted tracefs (`available_events`).
    pub fn from_tracefs(t: &Tracefs) -> Result<TracepointSet, KernelError> {
        Ok(Self::from_names(t.available_events()?))
    }

    /// A given set (for tests and offline planning).
    pub fn from_names(names: impl IntoIterator<Item = TracepointName>) -> TracepointSet {
        TracepointSet {
            all: names.into_iter().map(|t| (t.category, t.name)).collect(),
        }
    }

    /// Whether `category:name` exists.
    pub fn contains(&self, category: &str, name: &str) -> bool {
        self.all.contains(&(category.to_string(), name.to_string()))
    }

    /// Tracepoints called `name` in any category, sorted.
    pub fn named(&self, name: &str) -> Vec<TracepointName> {
        let mut v: Vec<TracepointName> = self
            .all
            .iter()
            .filter(|(_, n)| n == name)
            .map(|(c, n)| TracepointName {
                category: c.clone(),
                name: n.clone(),
            })
            .collect();
        v.sort();
        v
    }
}

/// An alternative to a target the kernel cannot serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fallback {
    /// What was asked for.
    pub requested: AttachTarget,
    /// What is used instead (one or more targets).
    pub targets: Vec<AttachTarget>,
    /// The program type the program must be loaded as for `targets`; `None` when the
    /// program is used as it is.
    pub load_as: Option<ProgType>,
    /// Why the requested target cannot be used.
    pub reason: String,
    /// How the alternative was found, e.g. `do_sys_openat2 implements openat, openat2,
    /// open and creat`.
    pub derivation: String,
}

impl Fallback {
    /// Whether the program's context changes (a probe program on a tracepoint).
    pub fn changes_context(&self) -> bool {
        self.load_as.is_some()
    }

    /// The targets as text: `tracepoint syscalls:sys_enter_openat` or `tracepoints
    /// syscalls:sys_enter_openat, syscalls:sys_enter_openat2 and ...`.
    pub fn targets_text(&self) -> String {
        let tracepoints: Vec<String> = self
            .targets
            .iter()
            .filter_map(|t| match t {
                AttachTarget::Tracepoint { category, name } => Some(format!("{category}:{name}")),
                _ => None,
            })
            .collect();
        if tracepoints.len() == self.targets.len() {
            let word = if tracepoints.len() == 1 {
                "tracepoint"
            } else {
                "tracepoints"
            };
            format!("{word} {}", join_and(&tracepoints))
        } else {
            join_and(
                &self
                    .targets
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>(),
            )
        }
    }

    /// The one-line notice printed when the fallback is used, e.g. `kprobes are not
    /// available on this kernel (no kprobe PMU, no kprobe_events); attaching to tracepoint
    /// syscalls:sys_enter_openat instead (__x64_sys_openat is the entry of the openat
    /// syscall (__x64_sys_* wrapper))`.
    pub fn notice(&self) -> String {
        let mut s = format!(
            "{}; attaching to {} instead",
            self.reason,
            self.targets_text()
        );
        if !self.derivation.is_empty() {
            s.push_str(" (");
            s.push_str(&self.derivation);
            s.push(')');
        }
        s
    }
}

/// The alternative to `requested`, which the kernel cannot serve for `reason`, or `None`
/// when there is none.
pub fn plan_fallback(
    requested: &AttachTarget,
    reason: &str,
    tracepoints: &TracepointSet,
) -> Option<Fallback> {
    let fallback = |targets: Vec<AttachTarget>, load_as: Option<ProgType>, derivation: String| {
        Some(Fallback {
            requested: requested.clone(),
            targets,
            load_as,
            reason: reason.to_string(),
            derivation,
        })
    };
    match requested {
        AttachTarget::Kprobe { function, .. }
        | AttachTarget::Kretprobe { function }
        | AttachTarget::Fentry { function }
        | AttachTarget::Fexit { function } => {
            let exit = matches!(
                requested,
                AttachTarget::Kretprobe { .. } | AttachTarget::Fexit { .. }
            );
            if let AttachTarget::Kprobe { offset, .. } = requested {
                if *offset != 0 {
                    // An offset into the function has no tracepoint equivalent.
                    return None;
                }
            }
            if let Some(m) = syscalls_for(function) {
                let targets: Vec<AttachTarget> = m
                    .syscalls
                    .iter()
                    .map(|s| format!("sys_{}_{s}", if exit { "exit" } else { "enter" }))
                    .filter(|n| tracepoints.contains("syscalls", n))
                    .map(|n| AttachTarget::tracepoint("syscalls", &n))
                    .collect();
                if !targets.is_empty() {
                    let mut derivation = m.describe();
                    if let MatchRule::Implementation { .. } = m.rule {
                        derivation.push_str("; the tracepoints fire only for those syscalls");
                    }
                    return fallback(targets, Some(ProgType::Tracepoint), derivation);
                }
            }
            if !exit {
                let named = tracepoints.named(crate::syscalls::base_name(function));
                if let Some(t) = named.first() {
                    return fallback(
                        vec![AttachTarget::tracepoint(&t.category, &t.name)],
                        Some(ProgType::Tracepoint),
                        format!(
                            "tracepoint {t} has the function's name; it fires inside {function}, not at its entry"
                        ),
                    );
                }
            }
            None
        }
        AttachTarget::Xdp {
            interface,
            mode: XdpMode::Driver | XdpMode::Hardware,
        } => fallback(
            vec![AttachTarget::Xdp {
                interface: interface.clone(),
                mode: XdpMode::Skb,
            }],
            None,
            "generic XDP runs the same program in the network stack, after the driver".to_string(),
        ),
        AttachTarget::Tc {
            interface,
            direction,
            mode: TcMode::Tcx,
        } => fallback(
            vec![AttachTarget::Tc {
                interface: interface.clone(),
                direction: *direction,
                mode: TcMode::Netlink,
            }],
            None,
            "a clsact qdisc with a bpf filter runs the same program".to_string(),
        ),
        _ => None,
    }
}

/// What to suggest when there is no alternative: a search of the tracepoints.
pub(crate) fn no_alternative_hint(requested: &AttachTarget) -> String {
    match requested.kernel_function() {
        Some(f) => {
            let word = crate::syscalls::base_name(f)
                .trim_start_matches('_')
                .split('_')
                .find(|w| w.len() > 2 && *w != "sys" && *w != "do")
                .unwrap_or(f)
                .to_string();
            format!(
                "no tracepoint covers {f}; look for one near it with `oxbpf list tracepoints '*{word}*'`"
            )
        }
        None => "there is no alternative".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> TracepointSet {
        TracepointSet::from_names(names.iter().map(|n| TracepointName::parse(n).unwrap()))
    }

    const REASON: &str =
        "kprobes are not available on this kernel (no kprobe PMU, no kprobe_events)";

    #[test]
    fn syscall_functions_fall_back_to_syscall_tracepoints() {
        let tps = set(&[
            "syscalls:sys_enter_openat",
            "syscalls:sys_exit_openat",
            "syscalls:sys_enter_openat2",
            "syscalls:sys_enter_open",
            "syscalls:sys_enter_unlinkat",
        ]);
        let t = AttachTarget::parse("kprobe:__x64_sys_openat").unwrap();
        let f = plan_fallback(&t, REASON, &tps).unwrap();
        assert_eq!(
            f.targets,
            [AttachTarget::tracepoint("syscalls", "sys_enter_openat")]
        );
        assert_eq!(f.load_as, Some(ProgType::Tracepoint));
        assert_eq!(
            f.notice(),
            "kprobes are not available on this kernel (no kprobe PMU, no kprobe_events); \
             attaching to tracepoint syscalls:sys_enter_openat instead \
             (__x64_sys_openat is the entry of the openat syscall (__x64_sys_* wrapper))"
        );

        // creat does not exist here (as on arm64): it is left out.
        let t = AttachTarget::parse("kprobe:do_sys_openat2").unwrap();
        let f = plan_fallback(&t, REASON, &tps).unwrap();
        assert_eq!(
            f.targets_text(),
            "tracepoints syscalls:sys_enter_openat, syscalls:sys_enter_openat2 and syscalls:sys_enter_open"
        );

        let t = AttachTarget::parse("kretprobe:__x64_sys_openat").unwrap();
        let f = plan_fallback(&t, REASON, &tps).unwrap();
        assert_eq!(
            f.targets,
            [AttachTarget::tracepoint("syscalls", "sys_exit_openat")]
        );

        let t = AttachTarget::parse("fentry:do_unlinkat").unwrap();
        let f = plan_fallback(&t, "fentry refused", &tps).unwrap();
        assert_eq!(
            f.targets,
            [AttachTarget::tracepoint("syscalls", "sys_enter_unlinkat")]
        );
        assert!(f
            .derivation
            .starts_with("do_unlinkat implements unlinkat and unlink"));

        // No sys_exit_unlinkat here: no alternative.
        let t = AttachTarget::parse("fexit:do_unlinkat").unwrap();
        assert_eq!(plan_fallback(&t, "x", &tps), None);
        // An offset into a function has no equivalent.
        let t = AttachTarget::parse("kprobe:__x64_sys_openat+4").unwrap();
        assert_eq!(plan_fallback(&t, "x", &tps), None);
    }

    #[test]
    fn same_named_tracepoints_and_network_fallbacks() {
        let tps = set(&["tcp:tcp_retransmit_skb"]);
        let t = AttachTarget::parse("kprobe:tcp_retransmit_skb").unwrap();
        let f = plan_fallback(&t, REASON, &tps).unwrap();
        assert_eq!(
            f.targets,
            [AttachTarget::tracepoint("tcp", "tcp_retransmit_skb")]
        );
        assert!(f.derivation.contains("not at its entry"));
        assert_eq!(
            plan_fallback(
                &AttachTarget::parse("kprobe:tcp_sendmsg").unwrap(),
                REASON,
                &tps
            ),
            None
        );
        assert_eq!(
            no_alternative_hint(&AttachTarget::parse("kprobe:tcp_sendmsg").unwrap()),
            "no tracepoint covers tcp_sendmsg; look for one near it with `oxbpf list tracepoints '*tcp*'`"
        );

        let t = AttachTarget::parse("xdp:eth0:drv").unwrap();
        let f = plan_fallback(&t, "no native XDP", &tps).unwrap();
        assert_eq!(f.targets, [AttachTarget::parse("xdp:eth0:skb").unwrap()]);
        assert!(!f.changes_context());
        assert_eq!(
            plan_fallback(&AttachTarget::parse("xdp:eth0:skb").unwrap(), "x", &tps),
            None
        );
        let t = AttachTarget::parse("tc:eth0:ingress:tcx").unwrap();
        let f = plan_fallback(&t, "no TCX", &tps).unwrap();
        assert_eq!(
            f.targets,
            [AttachTarget::parse("tc:eth0:ingress:netlink").unwrap()]
        );
    }

    #[test]
    fn support_reasons() {
        let s = AttachSupport {
            kprobe: Feature {
                name: "kprobe",
                status: Status::Supported,
                reason: "pmu".to_string(),
                remedy: None,
            },
            fentry: Feature {
                name: "fentry",
                status: Status::Missing,
                reason:
                    "fentry programs load but this kernel cannot attach BPF trampolines (ENOTSUPP)"
                        .to_string(),
                remedy: None,
            },
        };
        assert_eq!(s.unsupported_reason(AttachKind::Kprobe), None);
        assert_eq!(s.unsupported_reason(AttachKind::Tracepoint), None);
        assert_eq!(
            s.unsupported_reason(AttachKind::Fexit).unwrap(),
            "fentry and fexit are not available on this kernel (fentry programs load but this kernel cannot attach BPF trampolines (ENOTSUPP))"
        );
    }
}
