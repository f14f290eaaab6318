//! tracefs and trace_pipe against the running kernel.

mod common;

use std::time::{Duration, Instant};

use common::gettid;
use oxbpf_kernel::trace_pipe::TraceRecord;
use oxbpf_kernel::tracefs::{DynamicLocation, TracepointPattern};
use oxbpf_kernel::{KernelError, TraceInstance, TracePipe, Tracefs, TracepointName};

fn is_permission(e: &KernelError) -> bool {
    matches!(e.errno(), Some(libc::EPERM) | Some(libc::EACCES))
}

/// tracefs, mounting it if needed; `None` (after printing SKIP) when it cannot be had or
/// read.
fn tracefs() -> Option<Tracefs> {
    let t = match Tracefs::find_or_mount() {
        Ok(t) => t,
        Err(e) => {
            println!("SKIP: {e}");
            return None;
        }
    };
    match t.available_events() {
        Err(e) if is_permission(&e) => {
            println!("SKIP: tracefs is not readable: {e}");
            None
        }
        _ => Some(t),
    }
}

/// A trace instance; `None` (after printing SKIP) when this user may not create one.
fn instance(t: &Tracefs, tag: &str) -> Option<TraceInstance> {
    match TraceInstance::create(t, &instance_name(tag)) {
        Ok(i) => Some(i),
        Err(e) if is_permission(&e) => {
            println!("SKIP: cannot create a trace instance: {e}");
            None
        }
        Err(e) => panic!("creating a trace instance: {e}"),
    }
}

fn instance_name(tag: &str) -> String {
    format!("oxbpf-test-{tag}-{}", std::process::id())
}

#[test]
fn finds_or_mounts_tracefs() {
    let Some(t) = tracefs() else { return };
    assert!(t.path("available_events").exists());
    assert_eq!(Tracefs::find(), Some(t.clone()));
    assert_eq!(Tracefs::at(t.root()).unwrap(), t);
    let e = Tracefs::at("/proc").unwrap_err();
    assert!(matches!(e, KernelError::TracefsUnavailable { .. }), "{e}");
}

#[test]
fn lists_tracepoints_with_patterns() {
    let Some(t) = tracefs() else { return };
    let all = t.available_events().unwrap();
    assert!(all.len() > 100, "only {} events", all.len());
    let openat = TracepointName::parse("syscalls:sys_enter_openat").unwrap();
    assert!(all.contains(&openat));

    let opens = t.tracepoints(Some("tracepoint:syscalls:*open*")).unwrap();
    assert!(opens.contains(&openat));
    assert!(opens
        .iter()
        .all(|tp| tp.category == "syscalls" && tp.name.contains("open")));
    assert!(opens.windows(2).all(|w| w[0] < w[1]), "sorted and unique");

    let sched = t.tracepoints(Some("sched:sched_sw*")).unwrap();
    assert!(
        sched.iter().any(|tp| tp.name == "sched_switch"),
        "{sched:?}"
    );
    let by_name = t.tracepoints(Some("sys_enter_openat")).unwrap();
    assert_eq!(by_name, vec![openat.clone()]);
    assert!(t
        .tracepoints(Some("no_such_category:*"))
        .unwrap()
        .is_empty());
    assert_eq!(t.tracepoints(None).unwrap().len(), {
        let mut v = all.clone();
        v.sort();
        v.dedup();
        v.len()
    });
    // The pattern type agrees with the listing.
    let p = TracepointPattern::new("t:syscalls:sys_exit_*");
    let exits = t.tracepoints(Some("t:syscalls:sys_exit_*")).unwrap();
    assert_eq!(exits.len(), all.iter().filter(|tp| p.matches(tp)).count());
}

#[test]
fn openat_format_matches_the_syscall_record() {
    let Some(t) = tracefs() else { return };
    let f = t.format("syscalls", "sys_enter_openat").unwrap();
    assert_eq!(f.category, "syscalls");
    assert_eq!(f.name, "sys_enter_openat");
    assert_eq!(
        f.id,
        t.tracepoint_id("syscalls", "sys_enter_openat").unwrap()
    );
    let names: Vec<&str> = f.event_fields().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["__syscall_nr", "dfd", "filename", "flags", "mode"]);
    let filename = f.field("filename").unwrap();
    assert_eq!((filename.offset, filename.size), (24, 8));
    assert!(filename.type_name.contains("char *"));
    assert!(f.field("common_pid").unwrap().signed);
    let printk = t.format("bpf_trace", "bpf_trace_printk").unwrap();
    assert_eq!(
        printk.field("bpf_string").unwrap().location,
        DynamicLocation::DataLoc
    );
}

#[test]
fn every_tracepoint_format_parses() {
    let Some(t) = tracefs() else { return };
    let mut parsed = 0;
    for tp in t.available_events().unwrap() {
        // Events can come and go (modules); a missing one is not a parse failure.
        match t.format(&tp.category, &tp.name) {
            Ok(f) => {
                assert_eq!(f.name, tp.name);
                assert!(f.fields.iter().any(|x| x.name == "common_type"), "{tp}");
                for field in &f.fields {
                    assert!(!field.name.is_empty(), "{tp}: {field:?}");
                }
                parsed += 1;
            }
            Err(KernelError::NotFound { .. }) => {}
            Err(KernelError::File { ref source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("{tp}: {e}"),
        }
    }
    assert!(parsed > 100, "parsed {parsed}");
}

#[test]
fn unknown_tracepoints_are_not_found() {
    let Some(t) = tracefs() else { return };
    let e = t.format("syscalls", "sys_enter_no_such_call").unwrap_err();
    assert!(
        matches!(
            e,
            KernelError::NotFound {
                what: "tracepoint",
                ..
            }
        ),
        "{e}"
    );
    let e = t.tracepoint_id("../..", "x").unwrap_err();
    assert!(matches!(e, KernelError::InvalidInput { .. }), "{e}");
}

#[test]
fn trace_pipe_of_an_instance_delivers_marker_lines() {
    let Some(t) = tracefs() else { return };
    let Some(inst) = instance(&t, "marker") else {
        return;
    };
    let marker = inst.tracefs().path("trace_marker");
    let mut pipe = TracePipe::open_instance(inst, 64).unwrap();

    // Nothing written yet: a bounded wait returns empty-handed instead of blocking.
    let start = Instant::now();
    assert_eq!(pipe.next_record(Duration::from_millis(50)).unwrap(), None);
    assert!(start.elapsed() < Duration::from_secs(30));

    let text = format!("oxbpf marker {}", std::process::id());
    std::fs::write(&marker, &text).unwrap();
    let tid = gettid();
    let line = pipe
        .wait_for(Duration::from_secs(10), |l| l.message.contains(&text))
        .unwrap()
        .expect("marker line within 10 s");
    assert_eq!(line.event, "tracing_mark_write");
    assert_eq!(line.message, text);
    assert_eq!(line.pid, tid);
    assert!(line.timestamp_ns > 0);
    assert_eq!(pipe.dropped(), 0);

    // Overflow of the record queue is counted, not buffered.
    let mut small = {
        let inst = instance(&t, "small").unwrap();
        let marker = inst.tracefs().path("trace_marker");
        for i in 0..5 {
            std::fs::write(&marker, format!("line {i}")).unwrap();
        }
        TracePipe::open_instance(inst, 2).unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while small.buffered() + (small.dropped() as usize) < 5 && Instant::now() < deadline {
        small.fill(Duration::from_millis(100)).unwrap();
    }
    assert_eq!(small.buffered(), 2);
    assert_eq!(small.dropped(), 3);
    match small.pop() {
        Some(TraceRecord::Line(l)) => assert_eq!(l.message, "line 0"),
        other => panic!("expected the first line, got {other:?}"),
    }
}

#[test]
fn instance_names_are_checked_and_instances_removed() {
    let Some(t) = tracefs() else { return };
    for bad in ["", "..", "a/b", "sp ace"] {
        assert!(TraceInstance::create(&t, bad).is_err(), "{bad:?}");
    }
    let dir = t.path("instances").join(instance_name("gone"));
    {
        let Some(inst) = instance(&t, "gone") else {
            return;
        };
        assert!(dir.is_dir());
        inst.set_event("sched", "sched_switch", true).unwrap();
        inst.set_event("sched", "sched_switch", false).unwrap();
    }
    assert!(!dir.exists());
}
