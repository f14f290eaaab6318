//! The system-call tracer against real processes: exit codes, signals, children and
//! threads, memory, task identity, attach/detach, and the context layout against tracefs.
//!
//! Workloads are this test binary itself, re-executed with `OXBPF_TRACEE` set (see
//! `tracee_workloads`).
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use oxbpf_runtime::tracer::{
    syscalls, Action, CommonHeader, ExitStatus, MemoryError, Phase, Stdio, SyscallInterest,
    TraceCommand, Tracer, TracerError, ENTER_ARGS_OFFSET, EXIT_RET_OFFSET, SYSCALL_NR_OFFSET,
};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const GETPPID: u32 = 110;
const OPENAT: u32 = 257;

/// Runs a workload when this binary was started as a tracee.
fn workload(mode: &str) -> i32 {
    match mode {
        // Three named threads, each 10 getppid calls.
        "threads" => {
            let hs: Vec<_> = (0..3)
                .map(|i| {
                    std::thread::Builder::new()
                        .name(format!("oxw-{i}"))
                        .spawn(|| {
                            (0..10)
                                .filter(|_| std::os::unix::process::parent_id() > 0)
                                .count()
                        })
                        .unwrap()
                })
                .collect();
            let n: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
            if n == 30 {
                0
            } else {
                1
            }
        }
        // getppid in a loop until the stop file appears (at most 60 s).
        "loop" => {
            let stop = PathBuf::from(std::env::var_os("OXBPF_STOPFILE").unwrap());
            println!("ready");
            std::io::stdout().flush().unwrap();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(60) {
                let _ = std::os::unix::process::parent_id();
                if stop.exists() {
                    return 9;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            1
        }
        _ => 2,
    }
}

#[test]
fn tracee_workloads() {
    if let Ok(mode) = std::env::var("OXBPF_TRACEE") {
        std::process::exit(workload(&mode));
    }
    // Run directly, the threads workload succeeds.
    assert_eq!(workload("threads"), 0);
}

fn self_cmd(mode: &str) -> TraceCommand {
    let mut c = TraceCommand::new(std::env::current_exe().unwrap());
    c.args([
        "--exact",
        "tracee_workloads",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("OXBPF_TRACEE", mode)
    .stdout(Stdio::Null);
    c
}

fn interest(events: &[&str]) -> SyscallInterest {
    let mut i = SyscallInterest::new();
    for e in events {
        i.add_event(e).unwrap();
    }
    i
}

fn sh(script: &str) -> TraceCommand {
    let mut c = TraceCommand::new("sh");
    c.arg("-c").arg(script);
    c
}

#[test]
fn exit_codes_and_signals_become_the_result() {
    let out = Tracer::spawn(sh("exit 3"), SyscallInterest::new())
        .unwrap()
        .run(|_| Action::Continue)
        .unwrap();
    assert_eq!(out.exit, Some(ExitStatus::Exited(3)));

    let out = Tracer::spawn(sh("kill -TERM $$"), SyscallInterest::new())
        .unwrap()
        .run(|_| Action::Continue)
        .unwrap();
    assert_eq!(out.exit, Some(ExitStatus::Signaled(libc::SIGTERM)));
    assert_eq!(out.exit.unwrap().code(), 128 + 15);
}

#[test]
fn signals_are_forwarded_to_handlers() {
    // The shell's trap runs only if SIGUSR1 really reaches it.
    let out = Tracer::spawn(
        sh("trap 'exit 7' USR1; kill -USR1 $$; sleep 5; exit 1"),
        interest(&["sys_enter_kill"]),
    )
    .unwrap()
    .run(|_| Action::Continue)
    .unwrap();
    assert_eq!(out.exit, Some(ExitStatus::Exited(7)));
    assert!(out.stats.signals >= 1);
    assert!(out.stats.events >= 1);
}

#[test]
fn group_stop_is_kept_until_sigcont() {
    let t = Tracer::spawn(sh("kill -STOP $$; exit 5"), SyscallInterest::new()).unwrap();
    let pid = t.pid();
    let waker = std::thread::spawn(move || {
        // Wait until the shell is stopped (group stop under ptrace shows as 't' or 'T').
        let start = Instant::now();
        let mut seen_stopped = false;
        while start.elapsed() < Duration::from_secs(30) {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next());
            if matches!(state, Some("t") | Some("T")) {
                seen_stopped = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // Stays stopped: still stopped a little later.
        std::thread::sleep(Duration::from_millis(50));
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let still = stat
            .rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().next())
            .is_some_and(|s| s == "t" || s == "T");
        let _ = Command::new("kill")
            .arg("-CONT")
            .arg(pid.to_string())
            .status();
        (seen_stopped, still)
    });
    let out = t.run(|_| Action::Continue).unwrap();
    let (seen, still) = waker.join().unwrap();
    assert!(seen && still, "the command was not held in its group stop");
    assert_eq!(out.exit, Some(ExitStatus::Exited(5)));
}

#[test]
fn openat_events_give_arguments_memory_return_and_context() {
    let dir = std::env::temp_dir().join(format!("oxbpf-tracer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("hello.txt");
    std::fs::write(&file, b"hi\n").unwrap();
    let mut cmd = TraceCommand::new("cat");
    cmd.arg(&file)
        .arg(dir.join("missing"))
        .stdout(Stdio::Null)
        .stderr(Stdio::Null);
    let mut seen: Vec<(Phase, i32, Vec<u8>, Option<i64>)> = Vec::new();
    let mut comm = Vec::new();
    let out = Tracer::spawn(cmd, interest(&["sys_enter_openat", "sys_exit_openat"]))
        .unwrap()
        .run(|ev| {
            assert_eq!(ev.nr(), OPENAT);
            assert_eq!(ev.name(), "openat");
            let ctx = ev.ctx_bytes().to_vec();
            let hdr = CommonHeader::parse(&ctx).unwrap();
            assert_eq!(hdr.pid, ev.tid());
            let nr = i32::from_ne_bytes(
                ctx[SYSCALL_NR_OFFSET..SYSCALL_NR_OFFSET + 4]
                    .try_into()
                    .unwrap(),
            );
            assert_eq!(nr, OPENAT as i32);
            let mut path = Vec::new();
            match ev.phase() {
                Phase::Enter => {
                    assert_eq!(ctx.len(), ENTER_ARGS_OFFSET + 4 * 8);
                    for i in 0..4 {
                        let o = ENTER_ARGS_OFFSET + 8 * i;
                        assert_eq!(
                            u64::from_ne_bytes(ctx[o..o + 8].try_into().unwrap()),
                            ev.args()[i]
                        );
                    }
                    let mut buf = [0u8; 256];
                    let n = ev.read_str(ev.args()[1], &mut buf).unwrap();
                    path = buf[..n - 1].to_vec();
                    // A bad address fails cleanly.
                    let mut b = [0u8; 8];
                    assert!(matches!(
                        ev.read_memory(8, &mut b),
                        Err(MemoryError::Fault { .. })
                    ));
                    assert!(ev.ret().is_none());
                    comm = ev.task_info().comm_str().to_vec();
                }
                Phase::Exit => {
                    assert_eq!(ctx.len(), EXIT_RET_OFFSET + 8);
                    let ret = i64::from_ne_bytes(ctx[16..24].try_into().unwrap());
                    assert_eq!(Some(ret), ev.ret());
                }
            }
            seen.push((ev.phase(), ev.tid(), path, ev.ret()));
            Action::Continue
        })
        .unwrap();
    assert_eq!(
        out.exit,
        Some(ExitStatus::Exited(1)),
        "cat fails on the missing file"
    );
    assert_eq!(comm, b"cat");
    // Entries and exits alternate.
    for pair in seen.chunks(2) {
        assert_eq!(pair[0].0, Phase::Enter);
        assert_eq!(pair[1].0, Phase::Exit);
    }
    let find = |p: &std::path::Path| {
        seen.iter()
            .position(|(ph, _, path, _)| {
                *ph == Phase::Enter && path == p.as_os_str().as_encoded_bytes()
            })
            .map(|i| seen[i + 1].3.unwrap())
    };
    assert!(find(&file).unwrap() >= 0, "{seen:?}");
    assert_eq!(find(&dir.join("missing")), Some(-(libc::ENOENT as i64)));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn children_and_threads_are_followed_with_their_names() {
    // Children: each `true` is a new process whose execve and exit_group we see.
    let mut pids = BTreeSet::new();
    let out = Tracer::spawn(
        sh("/bin/true; /bin/true; /bin/true"),
        interest(&["sys_enter_exit_group"]),
    )
    .unwrap()
    .run(|ev| {
        pids.insert(ev.pid());
        Action::Continue
    })
    .unwrap();
    assert_eq!(out.exit, Some(ExitStatus::Exited(0)));
    assert!(pids.len() >= 3, "{pids:?}");
    assert!(out.stats.tasks >= 4);

    // Threads: 3 named threads with 10 getppid each.
    let mut by_comm: BTreeMap<Vec<u8>, (u32, BTreeSet<i32>, BTreeSet<i32>)> = BTreeMap::new();
    let out = Tracer::spawn(
        self_cmd("threads"),
        interest(&["sys_enter_getppid", "sys_exit_getppid"]),
    )
    .unwrap()
    .run(|ev| {
        if ev.phase() == Phase::Enter {
            let info = ev.task_info();
            let e = by_comm.entry(info.comm_str().to_vec()).or_default();
            e.0 += 1;
            e.1.insert(info.tid);
            e.2.insert(info.pid);
        } else {
            assert!(ev.ret().unwrap() > 0, "getppid returns the parent");
        }
        Action::Continue
    })
    .unwrap();
    assert_eq!(out.exit, Some(ExitStatus::Exited(0)));
    for i in 0..3 {
        let (n, tids, pids) = &by_comm[format!("oxw-{i}").as_bytes()];
        assert_eq!(*n, 10);
        assert_eq!(tids.len(), 1);
        assert_eq!(pids.len(), 1);
    }
    let all_pids: BTreeSet<i32> = by_comm.values().flat_map(|v| v.2.iter().copied()).collect();
    assert_eq!(all_pids.len(), 1, "threads share the process id");
}

#[test]
fn commands_from_std() {
    let mut std_cmd = Command::new("sh");
    std_cmd
        .arg("-c")
        .arg("test \"$OXBPF_X\" = yes && test -z \"$OXBPF_GONE\" && test \"$(pwd)\" = /tmp")
        .env("OXBPF_X", "yes")
        .env_remove("OXBPF_GONE")
        .current_dir("/tmp");
    let out = Tracer::spawn(TraceCommand::from_std(&std_cmd), SyscallInterest::new())
        .unwrap()
        .run(|_| Action::Continue)
        .unwrap();
    assert_eq!(out.exit, Some(ExitStatus::Exited(0)));
}

#[test]
fn task_ids_match_the_process() {
    let mut info = None;
    Tracer::spawn(sh("exit 0"), interest(&["sys_enter_exit_group"]))
        .unwrap()
        .run(|ev| {
            info = Some(ev.task_info());
            Action::Continue
        })
        .unwrap();
    let info = info.unwrap();
    // The traced shell runs as this test's user.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |k: &str| -> u32 {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(info.uid, field("Uid:"));
    assert_eq!(info.gid, field("Gid:"));
    assert_eq!(info.pid, info.tid);
    assert_eq!(info.comm_str(), b"sh");
}

#[test]
fn spawn_errors_are_clear() {
    match Tracer::spawn(
        TraceCommand::new("oxbpf-no-such-program"),
        SyscallInterest::new(),
    ) {
        Err(TracerError::NotFound { program }) => assert_eq!(program, "oxbpf-no-such-program"),
        r => panic!("{r:?}"),
    }
    let r = Tracer::spawn(
        TraceCommand::new("/nonexistent/prog"),
        SyscallInterest::new(),
    )
    .unwrap()
    .run(|_| Action::Continue);
    match r {
        Err(TracerError::Exec { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(libc::ENOENT))
        }
        r => panic!("{r:?}"),
    }
    let mut i = SyscallInterest::new();
    assert!(matches!(
        i.add_event("sys_enter_stat"),
        Err(TracerError::UnknownEvent(_))
    ));
    assert!(matches!(
        i.enter("nope"),
        Err(TracerError::UnknownSyscall(_))
    ));
}

#[test]
fn stop_lets_a_spawned_command_finish() {
    let mut n = 0;
    let out = Tracer::spawn(self_cmd("threads"), interest(&["sys_enter_getppid"]))
        .unwrap()
        .run(|_| {
            n += 1;
            if n == 3 {
                Action::Stop
            } else {
                Action::Continue
            }
        })
        .unwrap();
    assert_eq!(n, 3, "no events after Stop");
    assert_eq!(
        out.exit,
        Some(ExitStatus::Exited(0)),
        "the filtered calls still worked"
    );
}

#[test]
fn attach_traces_a_running_process_and_detaches() {
    let stop = std::env::temp_dir().join(format!("oxbpf-attach-stop-{}", std::process::id()));
    let _ = std::fs::remove_file(&stop);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tracee_workloads",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("OXBPF_TRACEE", "loop")
        .env("OXBPF_STOPFILE", &stop)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    loop {
        line.clear();
        out.read_line(&mut line).unwrap();
        if line.trim().ends_with("ready") || line.is_empty() {
            break;
        }
    }
    let pid = child.id() as i32;
    let t = Tracer::attach(pid, interest(&["sys_enter_getppid", "sys_exit_getppid"])).unwrap();
    let mut events = Vec::new();
    let res = t
        .run(|ev| {
            events.push((ev.phase(), ev.nr(), ev.ret()));
            if events.len() == 6 {
                Action::Stop
            } else {
                Action::Continue
            }
        })
        .unwrap();
    assert_eq!(res.exit, None, "detached, still running");
    assert!(
        res.stats.filtered > 0,
        "attach mode stops at uninteresting calls too"
    );
    assert!(events.iter().all(|e| e.1 == GETPPID));
    let parent = std::process::id() as i64;
    assert!(events
        .iter()
        .filter(|e| e.0 == Phase::Exit)
        .all(|e| e.2 == Some(parent)));
    // The process runs on untraced and sees its stop file.
    std::fs::write(&stop, b"").unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(9));
    std::fs::remove_file(&stop).unwrap();
}

#[test]
fn context_layout_matches_tracefs() {
    let Some(tfs) = oxbpf_kernel::Tracefs::find().filter(|t| t.readable()) else {
        println!("SKIP: tracefs is not mounted or not readable");
        return;
    };
    let fmt = tfs.format("syscalls", "sys_enter_openat").unwrap();
    let nr = fmt.field("__syscall_nr").unwrap();
    assert_eq!((nr.offset, nr.size), (SYSCALL_NR_OFFSET, 4));
    for (f, off) in [
        ("common_type", 0),
        ("common_flags", 2),
        ("common_preempt_count", 3),
        ("common_pid", 4),
    ] {
        assert_eq!(fmt.field(f).unwrap().offset, off, "{f}");
    }
    let args: Vec<_> = fmt
        .event_fields()
        .filter(|f| f.name != "__syscall_nr")
        .collect();
    assert_eq!(args.len(), 4);
    for (i, f) in args.iter().enumerate() {
        assert_eq!(
            (f.offset, f.size),
            (ENTER_ARGS_OFFSET + 8 * i, 8),
            "{}",
            f.name
        );
    }
    let exit = tfs.format("syscalls", "sys_exit_openat").unwrap();
    let ret = exit.field("ret").unwrap();
    assert_eq!((ret.offset, ret.size), (EXIT_RET_OFFSET, 8));
    assert_eq!(exit.fixed_size(), EXIT_RET_OFFSET + 8);

    // Every syscall tracepoint of this kernel is in the table with the same argument count
    // (and so the same record size).
    let tps = tfs.tracepoints(Some("syscalls:sys_enter_*")).unwrap();
    assert!(tps.len() > 300);
    for tp in tps {
        let name = tp.name.strip_prefix("sys_enter_").unwrap();
        let (_, sc) = syscalls::parse_event(&tp.name)
            .unwrap_or_else(|| panic!("{} is not in the table", tp.name));
        let f = tfs.format("syscalls", &tp.name).unwrap();
        // Without arguments the record ends after `__syscall_nr` (offset 12).
        let expected = if sc.nargs == 0 {
            SYSCALL_NR_OFFSET + 4
        } else {
            ENTER_ARGS_OFFSET + 8 * sc.nargs as usize
        };
        assert_eq!(f.fixed_size(), expected, "{name}");
    }

    // The common type of a real event is the tracepoint id.
    let mut ids = Vec::new();
    Tracer::spawn(sh("exit 0"), interest(&["sys_enter_exit_group"]))
        .unwrap()
        .run(|ev| {
            ids.push(CommonHeader::parse(ev.ctx_bytes()).unwrap().type_id);
            Action::Continue
        })
        .unwrap();
    assert_eq!(ids, vec![fmt_id(&tfs, "sys_enter_exit_group")]);
}

fn fmt_id(tfs: &oxbpf_kernel::Tracefs, name: &str) -> u16 {
    tfs.format("syscalls", name).unwrap().id as u16
}

#[test]
fn a_dropped_tracer_leaves_no_stopped_command() {
    let t = Tracer::spawn(sh("sleep 100"), interest(&["sys_enter_execve"])).unwrap();
    let pid = t.pid();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    drop(t);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "killed and reaped"
    );
}
