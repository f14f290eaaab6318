//! kprobe, kretprobe, fentry and fexit requests on this kernel: attached directly where the
//! kernel has them; where it does not (no kprobes; trampolines refused), the exact
//! "unsupported" errors, the fallback plans, and the fallbacks themselves, checked in the
//! kernel (the BCC hello world on trace_pipe, per-thread counters in maps).

mod common;

use std::fs::File;
use std::io::Write;
use std::time::Duration;

use common::*;
use oxbpf_kernel::probe::{self, Status};
use oxbpf_kernel::{
    plan_fallback, AttachKind, AttachTarget, FallbackPolicy, KernelError, KernelObject, ProgType,
    TraceInstance, TracePipe, Tracefs, TracepointSet, UpdateMode,
};

const LINE_WAIT: Duration = Duration::from_secs(10);

fn load_for_this_thread() -> KernelObject {
    let obj = KernelObject::load_file(fixture("probes.o")).unwrap();
    obj.map("config")
        .unwrap()
        .set(&0u32, &gettid(), UpdateMode::Any)
        .unwrap();
    obj
}

fn hits(obj: &KernelObject, slot: u32) -> u64 {
    obj.map("hits")
        .unwrap()
        .get::<u32, u64>(&slot)
        .unwrap()
        .unwrap()
}

fn scratch_file(tag: &str) -> String {
    let path = format!("/tmp/oxbpf-fb-{tag}-{}", std::process::id());
    File::create(&path).unwrap().write_all(b"x").unwrap();
    path
}

fn kprobes_missing() -> bool {
    probe::kprobes().status != Status::Supported
}

fn fentry_unusable() -> bool {
    probe::fentry().status != Status::Supported
}

const KPROBE_REASON: &str =
    "kprobes are not available on this kernel (no kprobe PMU, no kprobe_events)";

#[test]
fn kprobe_request_names_the_tracepoint_alternative() {
    require_bpf!();
    let mut obj = load_for_this_thread();
    let result = obj.attach_kprobe("hello_kprobe", "do_sys_openat2", 0);
    if !kprobes_missing() {
        println!("kprobes work here: attached directly");
        result.unwrap();
        return;
    }
    let e = result.unwrap_err();
    let KernelError::AttachUnsupported {
        kind,
        target,
        reason,
        alternative,
    } = &e
    else {
        panic!("expected AttachUnsupported, got {e}")
    };
    assert_eq!(*kind, AttachKind::Kprobe);
    assert_eq!(target, "kprobe:do_sys_openat2");
    assert_eq!(reason, KPROBE_REASON);
    let alt = alternative.as_ref().unwrap();
    assert_eq!(alt.load_as, Some(ProgType::Tracepoint));
    assert_eq!(
        alt.targets[0],
        AttachTarget::tracepoint("syscalls", "sys_enter_openat")
    );
    assert!(alt
        .targets
        .contains(&AttachTarget::tracepoint("syscalls", "sys_enter_openat2")));
    let text = e.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot attach to kprobe:do_sys_openat2: {KPROBE_REASON}; the working alternative is tracepoints syscalls:sys_enter_openat, syscalls:sys_enter_openat2"
        )),
        "{text}"
    );
    assert!(
        text.ends_with("(do_sys_openat2 implements openat, openat2, open and creat; the tracepoints fire only for those syscalls)")
            || text.contains("do_sys_openat2 implements"),
        "{text}"
    );

    // A function that no tracepoint covers: no alternative, and a hint.
    let e = obj
        .attach_kprobe("hello_kprobe", "tcp_sendmsg", 0)
        .unwrap_err();
    let KernelError::AttachUnsupported {
        reason,
        alternative: None,
        ..
    } = &e
    else {
        panic!("expected AttachUnsupported without alternative, got {e}")
    };
    assert_eq!(
        reason,
        &format!("{KPROBE_REASON}; no tracepoint covers tcp_sendmsg; look for one near it with `oxbpf list tracepoints '*tcp*'`")
    );
    // Never means never.
    let t = AttachTarget::parse("kprobe:do_sys_openat2").unwrap();
    let e = obj
        .attach("hello_kprobe", &t, FallbackPolicy::Never)
        .unwrap_err();
    assert!(matches!(e, KernelError::AttachUnsupported { .. }), "{e}");
}

/// A trace instance receiving `bpf_trace_printk` output, so that concurrent readers of
/// the global trace_pipe neither steal these lines nor get them.
fn printk_pipe(tag: &str) -> TracePipe {
    let t = Tracefs::find_or_mount().unwrap();
    let inst =
        TraceInstance::create(&t, &format!("oxbpf-fb-{tag}-{}", std::process::id())).unwrap();
    inst.set_event("bpf_trace", "bpf_trace_printk", true)
        .unwrap();
    TracePipe::open_instance(inst, 1024).unwrap()
}

#[test]
fn hello_world_through_the_kprobe_fallback() {
    require_bpf!();
    let mut pipe = printk_pipe("hello");
    let mut obj = load_for_this_thread();
    let t = AttachTarget::parse("kprobe:do_sys_openat2").unwrap();
    let attached = obj
        .attach("hello_kprobe", &t, FallbackPolicy::IfContextUnused)
        .unwrap();
    if kprobes_missing() {
        let f = attached.fallback.as_ref().unwrap();
        assert_eq!(f.requested, t);
        let notice = attached.notice().unwrap();
        assert!(
            notice.starts_with(&format!(
                "{KPROBE_REASON}; attaching to tracepoints syscalls:sys_enter_openat, syscalls:sys_enter_openat2"
            )),
            "{notice}"
        );
        assert_eq!(attached.context_read, None);
        assert_eq!(
            attached.link.targets()[0],
            "tracepoint:syscalls:sys_enter_openat"
        );
        // The program was loaded a second time, as a tracepoint program.
        let ids = obj.program_ids();
        assert_eq!(ids.len(), 2, "{ids:?}");
    } else {
        assert!(attached.fallback.is_none());
    }

    let path = scratch_file("hello");
    let tid = gettid();
    File::open(&path).unwrap();
    let line = pipe
        .wait_for(LINE_WAIT, |l| l.pid == tid && l.message == "Hello, World!")
        .unwrap()
        .expect("a Hello, World! line from this thread");
    assert_eq!(line.event, "bpf_trace_printk");
    assert!(hits(&obj, 0) >= 1);

    let ids = obj.program_ids();
    drop(obj);
    assert!(!attached.link.is_attached());
    drop(attached);
    assert_unloaded(&ids);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn programs_that_read_their_context_are_not_moved_unless_forced() {
    require_bpf!();
    if !kprobes_missing() {
        println!("SKIP: kprobes work here, nothing falls back");
        return;
    }
    let mut obj = load_for_this_thread();
    let read = obj.context_read("kprobe_reads_args").unwrap().unwrap();
    assert!(
        read.what.contains("r1 +") || read.what.contains("r1 + "),
        "{read:?}"
    );
    assert_eq!(obj.context_read("hello_kprobe").unwrap(), None);

    let t = AttachTarget::parse("kprobe:do_sys_openat2").unwrap();
    let e = obj
        .attach("kprobe_reads_args", &t, FallbackPolicy::IfContextUnused)
        .unwrap_err();
    let KernelError::FallbackRefused {
        program,
        context,
        read: r,
        fallback,
    } = &e
    else {
        panic!("expected FallbackRefused, got {e}")
    };
    assert_eq!(program, "kprobe_reads_args");
    assert_eq!(*context, "kprobe context (struct pt_regs)");
    assert_eq!(r, &read);
    assert_eq!(fallback.requested, t);
    let text = e.to_string();
    assert!(
        text.starts_with(&format!(
            "{KPROBE_REASON}; not falling back to tracepoints syscalls:sys_enter_openat"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "because program `kprobe_reads_args` reads its kprobe context (struct pt_regs) ({read})"
        )),
        "{text}"
    );

    // Forced: the kernel itself refuses a program that reads past the record.
    let e = obj
        .attach("kprobe_reads_args", &t, FallbackPolicy::Always)
        .unwrap_err();
    assert!(
        e.to_string().contains(
            "the kernel refuses to attach program `kprobe_reads_args` to tracepoint:syscalls:sys_enter_openat: it reads its context"
        ),
        "{e}"
    );
    // One that reads within the record is attached, with the warning in the notice.
    let read = obj.context_read("kprobe_reads_regs").unwrap().unwrap();
    let attached = obj
        .attach("kprobe_reads_regs", &t, FallbackPolicy::Always)
        .unwrap();
    assert_eq!(attached.context_read.as_ref(), Some(&read));
    assert!(
        attached
            .notice()
            .unwrap()
            .contains("warning: program `kprobe_reads_regs` reads its context"),
        "{:?}",
        attached.notice()
    );
    let path = scratch_file("regs");
    File::open(&path).unwrap();
    // It ran (reading the record's first 8 bytes as `r15`).
    assert!(hits(&obj, 5) >= 1);
    let ids = obj.program_ids();
    drop(attached);
    drop(obj);
    assert_unloaded(&ids);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn kretprobe_falls_back_to_syscall_exit_tracepoints() {
    require_bpf!();
    let mut obj = load_for_this_thread();
    let t = AttachTarget::parse("kretprobe:do_sys_openat2").unwrap();
    let attached = obj
        .attach("kretprobe_count", &t, FallbackPolicy::IfContextUnused)
        .unwrap();
    if kprobes_missing() {
        let f = attached.fallback.as_ref().unwrap();
        assert_eq!(
            f.targets[0],
            AttachTarget::tracepoint("syscalls", "sys_exit_openat")
        );
        assert!(f
            .targets
            .iter()
            .all(|t| t.to_string().starts_with("tracepoint:syscalls:sys_exit_")));
    }
    let path = scratch_file("ret");
    let before = hits(&obj, 2);
    for _ in 0..3 {
        File::open(&path).unwrap();
    }
    assert_eq!(hits(&obj, 2), before + 3);
    drop(attached);
    let n = hits(&obj, 2);
    File::open(&path).unwrap();
    assert_eq!(hits(&obj, 2), n, "counting after the link was dropped");
    let ids = obj.program_ids();
    drop(obj);
    assert_unloaded(&ids);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn fentry_request_gives_the_exact_error_and_falls_back() {
    require_bpf!();
    let mut obj = load_for_this_thread();
    let direct = obj.attach_fentry("fentry_unlink", "do_unlinkat");
    if !fentry_unusable() {
        println!("fentry works here: attached directly");
        direct.unwrap();
        return;
    }
    let e = direct.unwrap_err();
    let KernelError::AttachUnsupported {
        kind,
        reason,
        alternative,
        ..
    } = &e
    else {
        panic!("expected AttachUnsupported, got {e}")
    };
    assert_eq!(*kind, AttachKind::Fentry);
    if probe::fentry().status == Status::Refused && unsafe_free_is_root() {
        assert_eq!(
            reason,
            "fentry and fexit are not permitted on this kernel (loading a BPF trampoline program fails with EPERM even for root: lockdown or a security policy forbids it)"
        );
    }
    let alt = alternative.as_ref().unwrap();
    assert_eq!(
        alt.targets,
        [
            AttachTarget::tracepoint("syscalls", "sys_enter_unlinkat"),
            AttachTarget::tracepoint("syscalls", "sys_enter_unlink"),
        ]
        .into_iter()
        .filter(|t| match t {
            AttachTarget::Tracepoint { category, name } => Tracefs::find_or_mount()
                .unwrap()
                .tracepoint_id(category, name)
                .is_ok(),
            _ => false,
        })
        .collect::<Vec<_>>()
    );

    let t = AttachTarget::parse("fentry:do_unlinkat").unwrap();
    let attached = obj
        .attach("fentry_unlink", &t, FallbackPolicy::IfContextUnused)
        .unwrap();
    assert!(attached.fallback.is_some());
    for i in 0..4 {
        let p = scratch_file(&format!("unlink{i}"));
        std::fs::remove_file(p).unwrap();
    }
    assert_eq!(hits(&obj, 3), 4);

    // fexit reading the return value: refused.
    let t = AttachTarget::parse("fexit:do_unlinkat").unwrap();
    match obj.attach("fexit_unlink", &t, FallbackPolicy::IfContextUnused) {
        Err(KernelError::FallbackRefused { context, read, .. }) => {
            assert_eq!(
                context,
                "fentry/fexit context (the traced function's arguments)"
            );
            assert!(read.what.contains("r1 +"), "{read:?}");
        }
        // Kernels without sys_exit_unlinkat tracepoints have no alternative at all.
        Err(KernelError::AttachUnsupported {
            alternative: None, ..
        }) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    let ids = obj.program_ids();
    drop(obj);
    drop(attached);
    assert_unloaded(&ids);
}

fn unsafe_free_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        .unwrap_or(false)
}

#[test]
fn plans_for_common_syscall_functions_on_this_kernel() {
    require_bpf!();
    let set = TracepointSet::from_tracefs(&Tracefs::find_or_mount().unwrap()).unwrap();
    let plan = |s: &str| {
        plan_fallback(&AttachTarget::parse(s).unwrap(), "x", &set)
            .map(|f| f.targets_text())
            .unwrap_or_default()
    };
    assert_eq!(
        plan("kprobe:do_execveat_common"),
        "tracepoints syscalls:sys_enter_execve and syscalls:sys_enter_execveat"
    );
    assert_eq!(
        plan("kretprobe:do_execveat_common.isra.0"),
        "tracepoints syscalls:sys_exit_execve and syscalls:sys_exit_execveat"
    );
    assert_eq!(
        plan("fentry:__se_sys_openat"),
        "tracepoint syscalls:sys_enter_openat"
    );
    assert_eq!(
        plan("kprobe:ksys_read"),
        "tracepoint syscalls:sys_enter_read"
    );
    if cfg!(target_arch = "x86_64") {
        assert_eq!(
            plan("kprobe:__x64_sys_openat"),
            "tracepoint syscalls:sys_enter_openat"
        );
        assert_eq!(
            plan("kprobe:do_sys_openat2"),
            "tracepoints syscalls:sys_enter_openat, syscalls:sys_enter_openat2, syscalls:sys_enter_open and syscalls:sys_enter_creat"
        );
    }
}
