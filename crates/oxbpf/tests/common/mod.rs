//! Shared helpers of the facade's integration tests: workloads compiled with clang, test
//! programs, scratch files, the kernel and clang probes.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `tests/programs/NAME.c`.
pub fn program(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/programs")
        .join(format!("{name}.c"))
}

/// `Some(reason)` when clang is unavailable.
pub fn clang_missing() -> Option<String> {
    oxbpf_obj::build::find_clang(&oxbpf_obj::build::BuildOptions::default())
        .err()
        .map(|e| e.to_string())
}

/// `Some(reason)` when the kernel backend cannot run here.
pub fn kernel_missing() -> Option<String> {
    oxbpf_kernel::probe::bpf_unavailable().map(str::to_string)
}

/// Serialises the kernel tests of one test binary. Their programs attach to system-wide
/// hooks (the BCC hello world prints on every `openat` of every process), so two tests
/// running at once see each other's lines for their own pids.
pub fn kernel_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Skips the test (prints `SKIP: reason` and returns) when clang is missing.
#[macro_export]
macro_rules! require_clang {
    () => {
        if let Some(why) = common::clang_missing() {
            println!("SKIP: {why}");
            return;
        }
    };
}

/// Skips the test when clang or the kernel backend is missing.
#[macro_export]
macro_rules! require_kernel {
    () => {
        $crate::require_clang!();
        if let Some(why) = common::kernel_missing() {
            println!("SKIP: {why}");
            return;
        }
        // Held until the end of the test.
        let _kernel_guard = common::kernel_lock();
    };
}

fn scratch_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("oxbpf-facade-tests-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    })
}

fn build_native(src: &str, out: &str, args: &[&str]) -> PathBuf {
    let out = scratch_dir().join(out);
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/workloads")
        .join(src);
    let clang = oxbpf_obj::build::find_clang(&oxbpf_obj::build::BuildOptions::default())
        .unwrap()
        .0;
    let st = Command::new(clang)
        .args(args)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success(), "building {}", src.display());
    out
}

/// The deterministic syscall workload (`tests/workloads/sys.c`): no libc, so its only
/// system calls are the ones its arguments ask for.
pub fn workload() -> &'static PathBuf {
    static W: OnceLock<PathBuf> = OnceLock::new();
    W.get_or_init(|| {
        build_native(
            "sys.c",
            "sysw",
            &["-O2", "-static", "-nostdlib", "-fno-stack-protector"],
        )
    })
}

/// The multi-threaded workload (`tests/workloads/threads.c`).
pub fn threads() -> &'static PathBuf {
    static W: OnceLock<PathBuf> = OnceLock::new();
    W.get_or_init(|| build_native("threads.c", "threadsw", &["-O2", "-pthread"]))
}

/// A scratch file with `contents`.
pub fn scratch_file(tag: &str, contents: &[u8]) -> PathBuf {
    let p = scratch_dir().join(tag);
    std::fs::write(&p, contents).unwrap();
    p
}

/// The name the kernel gives the workload's task (its file name, at most 15 bytes).
pub const WORKLOAD_COMM: &str = "sysw";

/// Checks the `trace_pipe` shape of a line: `comm` right-aligned in 16 columns, `-`, the
/// pid left-aligned in 7, ` [CPU] `, flags, a timestamp, `: bpf_trace_printk: `, the
/// message.
pub fn assert_trace_shape(line: &str, comm: &str, pid: u32, msg: &str) {
    let head = format!("{comm:>16}-{pid:<7} [");
    assert!(
        line.starts_with(&head),
        "{line:?} does not start with {head:?}"
    );
    let rest = &line[head.len()..];
    let (cpu, rest) = rest.split_once("] ").unwrap();
    assert_eq!(cpu.len(), 3, "{line:?}");
    assert!(cpu.bytes().all(|b| b.is_ascii_digit()), "{line:?}");
    let (head, message) = rest.split_once(": bpf_trace_printk: ").unwrap();
    assert_eq!(message, msg, "{line:?}");
    let ts = head.rsplit(' ').next().unwrap();
    let (s, us) = ts.split_once('.').unwrap();
    assert!(s.trim().parse::<u64>().is_ok() && us.len() == 6, "{line:?}");
}

/// The syscall workload under another file name, so that its task name (`comm`) is
/// `name` and tests running at the same time do not see each other's processes.
pub fn workload_named(name: &str) -> PathBuf {
    assert!(name.len() <= 15);
    let p = scratch_dir().join(name);
    // A hard link where it can be: a copy is open for writing while it is made, and a
    // child that another test thread forks meanwhile inherits that descriptor until it
    // execs, so running the copy can fail with ETXTBSY.
    if !p.exists() && std::fs::hard_link(workload(), &p).is_err() && !p.exists() {
        std::fs::copy(workload(), &p).unwrap();
    }
    p
}

/// Build options defining `COMM` for `tests/programs/diff.c`.
pub fn comm_define(comm: &str) -> oxbpf_obj::build::BuildOptions {
    let mut o = oxbpf_obj::build::BuildOptions::default();
    o.defines.push(("COMM".into(), Some(format!("\"{comm}\""))));
    o
}

/// An Ethernet frame carrying an IPv4 header with protocol `proto` (or an ARP frame when
/// `proto` is `None`), padded to 60 bytes.
pub fn frame(proto: Option<u8>) -> Vec<u8> {
    let mut f = vec![0xffu8; 6];
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
    match proto {
        Some(p) => {
            f.extend_from_slice(&[0x08, 0x00]);
            let mut ip = [0u8; 20];
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&40u16.to_be_bytes());
            ip[8] = 64;
            ip[9] = p;
            ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
            ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
            f.extend_from_slice(&ip);
        }
        None => f.extend_from_slice(&[0x08, 0x06]),
    }
    f.resize(60, 0);
    f
}

/// A pcap file (microsecond timestamps, Ethernet) holding `frames`.
pub fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&(i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

/// The number of packets in a pcap file.
pub fn pcap_count(bytes: &[u8]) -> usize {
    let mut n = 0;
    let mut off = 24;
    while off + 16 <= bytes.len() {
        let incl = u32::from_le_bytes(bytes[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16 + incl;
        n += 1;
    }
    n
}
