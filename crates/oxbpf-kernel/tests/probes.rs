//! Feature probes agree with direct checks on this machine (whatever this machine is).

mod common;

use std::collections::HashSet;
use std::path::Path;

use common::ret;
use oxbpf_kernel::probe::{self, KernelVersion, Status};
use oxbpf_kernel::{attach, load_raw, AttachType, KernelError, LoadOptions, ProgType, Tracefs};

#[test]
fn every_probe_answers_in_words() {
    let all = probe::all();
    let names: HashSet<&str> = all.iter().map(|f| f.name).collect();
    assert_eq!(names.len(), all.len(), "duplicate probe names");
    for n in [
        "kernel",
        "bpf",
        "memlock",
        "btf",
        "tracefs",
        "socket_filter",
        "xdp",
        "cgroup_skb",
        "tracepoint",
        "raw_tracepoint",
        "tp_btf",
        "fentry",
        "kprobe",
        "uprobe",
        "ringbuf",
    ] {
        assert!(names.contains(n), "no probe {n}");
    }
    for f in &all {
        assert!(!f.reason.is_empty(), "{}: empty reason", f.name);
        println!("{f}");
    }
}

#[test]
fn bpf_probe_matches_a_direct_load() {
    let direct = load_raw(&ret(0), &LoadOptions::new(ProgType::SocketFilter));
    let f = probe::bpf_syscall();
    match direct {
        Ok(_) => {
            assert_eq!(f.status, Status::Supported, "{f}");
            assert_eq!(probe::bpf_unavailable(), None);
        }
        Err(KernelError::PermissionDenied { .. }) => {
            assert_eq!(f.status, Status::Refused, "{f}");
            assert!(f.remedy.is_some());
            assert!(probe::bpf_unavailable().is_some());
        }
        Err(e) => {
            assert_eq!(f.status, Status::Missing, "{f} vs {e}");
        }
    }
}

#[test]
fn kernel_version_matches_uname() {
    let f = probe::kernel_version();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert!(f.reason.contains(release.trim()), "{f}");
    let v = KernelVersion::current().unwrap();
    assert_eq!(
        f.status == Status::Supported,
        (v.major, v.minor) >= (5, 8),
        "{f}"
    );
}

#[test]
fn dynamic_probe_probes_match_the_pmus() {
    for (f, kind) in [(probe::kprobes(), "kprobe"), (probe::uprobes(), "uprobe")] {
        let pmu = Path::new("/sys/bus/event_source/devices")
            .join(kind)
            .exists();
        let legacy = Tracefs::find().is_some_and(|t| t.path(format!("{kind}_events")).exists());
        assert_eq!(f.status == Status::Supported, pmu || legacy, "{f}");
        if f.status == Status::Missing {
            assert!(f.remedy.as_deref().unwrap().contains("CONFIG_"), "{f}");
        }
    }
}

#[test]
fn btf_probe_matches_sysfs() {
    let f = probe::btf();
    assert_eq!(
        f.status == Status::Supported,
        Path::new("/sys/kernel/btf/vmlinux").exists(),
        "{f}"
    );
}

#[test]
fn tracefs_probe_matches_the_mount() {
    let before = Tracefs::find();
    let f = probe::tracefs();
    if let Some(t) = before {
        let want = if t.readable() {
            Status::Supported
        } else {
            Status::Refused
        };
        assert_eq!(f.status, want, "{f}");
        assert!(f.reason.contains(&t.root().display().to_string()), "{f}");
    }
    if f.status == Status::Supported && probe::bpf_unavailable().is_none() {
        // Supported means oxbpf can get it, mounting if need be.
        Tracefs::find_or_mount().unwrap();
        assert!(probe::tracefs().reason.starts_with("mounted at"));
    }
}

/// fentry's verdict agrees with loading and attaching one directly.
#[test]
fn fentry_probe_matches_a_direct_attempt() {
    if let Some(r) = probe::bpf_unavailable() {
        println!("SKIP: {r}");
        return;
    }
    let f = probe::fentry();
    let Ok(btf) = aya::Btf::from_sys_fs() else {
        assert_eq!(f.status, Status::Missing, "{f}");
        return;
    };
    let Ok(id) = btf.id_by_type_name_kind("bpf_fentry_test1", aya_obj::btf::BtfKind::Func) else {
        assert_eq!(f.status, Status::Missing, "{f}");
        return;
    };
    let opts = LoadOptions::new(ProgType::Tracing)
        .expected_attach_type(AttachType::TraceFentry)
        .attach_btf_id(id);
    match load_raw(&ret(0), &opts) {
        Err(KernelError::PermissionDenied { .. }) => {
            assert_eq!(f.status, Status::Refused, "{f}");
            assert!(f.remedy.is_some());
        }
        Err(e) => assert_eq!(f.status, Status::Missing, "{f} vs {e}"),
        Ok(p) => match attach::attach_btf_tracing(&p) {
            Ok(_) => assert_eq!(f.status, Status::Supported, "{f}"),
            Err(e) => assert_ne!(f.status, Status::Supported, "{f} vs {e}"),
        },
    }
}

/// Program-type probes agree with loading that type directly.
#[test]
fn program_type_probes_match_direct_loads() {
    if let Some(r) = probe::bpf_unavailable() {
        println!("SKIP: {r}");
        return;
    }
    let cases = [
        (probe::xdp(), LoadOptions::new(ProgType::Xdp)),
        (
            probe::socket_filter(),
            LoadOptions::new(ProgType::SocketFilter),
        ),
        (
            probe::cgroup_skb(),
            LoadOptions::new(ProgType::CgroupSkb)
                .expected_attach_type(AttachType::CgroupInetIngress),
        ),
        (
            probe::raw_tracepoint(),
            LoadOptions::new(ProgType::RawTracepoint),
        ),
        (probe::tracepoint(), LoadOptions::new(ProgType::Tracepoint)),
    ];
    for (f, opts) in cases {
        let loads = load_raw(&ret(0), &opts).is_ok();
        if !loads {
            assert_ne!(f.status, Status::Supported, "{f}");
        }
        if f.status == Status::Supported {
            assert!(loads, "{f}");
        }
    }
    let ring = oxbpf_kernel::create_map(&oxbpf_kernel::MapSpec::new(
        oxbpf_kernel::MapType::Ringbuf,
        0,
        0,
        4096,
        "oxbpf_t_ring",
    ));
    assert_eq!(probe::ringbuf().status == Status::Supported, ring.is_ok());
}

#[test]
fn memlock_can_be_raised_when_root() {
    let f = probe::memlock();
    if f.status == Status::Refused {
        println!("SKIP: {f}");
        return;
    }
    let (soft, hard) = probe::raise_memlock_limit().unwrap();
    assert!(soft <= hard);
    if probe::bpf_unavailable().is_none() {
        assert_eq!(probe::memlock().status, Status::Supported);
    }
}

#[test]
fn doctor_reports_every_check_with_reasons() {
    let r = oxbpf_kernel::doctor::report();
    let text = r.render();
    for f in &r.features {
        assert!(text.contains(f.name), "{} missing from\n{text}", f.name);
        assert!(!f.reason.is_empty());
        if !f.is_supported() {
            println!("{}: {} ({:?})", f.name, f.reason, f.remedy);
        }
    }
    assert!(r.features.iter().any(|f| f.name == "clang"));
    let clang = oxbpf_kernel::doctor::clang();
    let installed = std::process::Command::new(oxbpf_kernel::doctor::clang_command())
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert_eq!(clang.is_supported(), installed, "{clang}");
    assert!(text.trim_end().ends_with("refused"), "{text}");
    println!("{text}");
}
