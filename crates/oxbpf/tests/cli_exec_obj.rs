//! `oxbpf exec prog.o` and `oxbpf map`: ELF objects in the userspace runtime.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn oxbpf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus(name: &str) -> String {
    root()
        .join("crates/oxbpf-runtime/tests/programs")
        .join(format!("{name}.o"))
        .display()
        .to_string()
}

fn example(name: &str) -> String {
    root().join("examples").join(name).display().to_string()
}

#[test]
fn hello_world_prints_a_trace_pipe_line_then_r0() {
    let o = oxbpf(&["exec", &example("hello_world.o")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    // `           oxbpf-1234    [000] ...11  5313.009061: bpf_trace_printk: Hello, World!`
    let f = oxbpf_runtime::trace::TraceFields::parse(lines[0]).unwrap();
    assert_eq!(f.msg, "Hello, World!");
    assert_eq!(f.flags, "...11");
    assert!(lines[0].contains(": bpf_trace_printk: "));
    assert_eq!(lines[1], "r0 = 0 (0x0)");
}

#[test]
fn maps_are_printed_and_kept_between_invocations() {
    let dir = std::env::temp_dir().join(format!("oxbpf-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let state = dir.display().to_string();
    let obj = corpus("maps_array");
    let o = oxbpf(&["exec", &obj, "--maps"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("r0 = 10 (0xa)"), "{out}");
    assert!(out.contains("counts: array key 4B value 8B max_entries 4 flags 0x0"));
    assert!(out.contains("key: 03 00 00 00  value: 04 00 00 00 00 00 00 00"));
    // With a state directory the second invocation sees the first one's maps.
    for expect in ["r0 = 10 (0xa)", "r0 = 20 (0x14)"] {
        let o = oxbpf(&["exec", &obj, "--state", &state]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains(expect), "{}", stdout(&o));
    }
    let o = oxbpf(&["map", "dump", "counts", "--state", &state]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("counts: array key 4B value 8B\n"), "{out}");
    assert!(
        out.contains("key: 03 00 00 00  value: 08 00 00 00 00 00 00 00"),
        "{out}"
    );
    assert!(out.ends_with("Found 4 elements\n"), "{out}");
    let o = oxbpf(&["map", "list", "--state", &state]);
    assert_eq!(stdout(&o), "counts\npcpu\n");
    let o = oxbpf(&["map", "dump", "nope", "--state", &state]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("saved maps: counts, pcpu"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn program_choice_json_and_packets() {
    let obj = corpus("tail_calls");
    let o = oxbpf(&["exec", &obj]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("choose one with --program"),
        "{}",
        stderr(&o)
    );
    let o = oxbpf(&["exec", &obj, "--program", "again", "--json", "--maps"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["r0"], 34);
    assert_eq!(v["program"], "again");
    assert!(v["maps"][".bss"]["entries"].is_array());
    let o = oxbpf(&["exec", &obj, "--program", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    // XDP on a packet: the kernel's context, verdict XDP_PASS (2), the packet back.
    let frame =
        "000000000000 000000000000 0800 4500001c00000000401100000000000000000000 0000000000080000";
    let o = oxbpf(&[
        "exec",
        &example("xdp_count.o"),
        "--packet-hex",
        frame,
        "--maps",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("r0 = 2 (0x2)"), "{out}");
    assert!(out.contains("packet out: 00 00"), "{out}");
    assert!(
        out.contains("key: 11 00 00 00  value: 01 00 00 00 00 00 00 00"),
        "{out}"
    );
    // Raw-program options are refused for objects, and the other way round.
    let o = oxbpf(&["exec", &obj, "--mem-hex", "00"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn faults_exit_1_naming_the_program() {
    // A context too small for what the program reads is a fault: exit status 1.
    let dir = std::env::temp_dir().join(format!("oxbpf-fault-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("reads_ctx.c");
    std::fs::write(
        &src,
        "SEC(\"raw_tp/x\") int reads_ctx(unsigned long long *ctx) { return ctx[3]; }\n",
    )
    .unwrap();
    let out = dir.join("reads_ctx.o");
    let o = oxbpf(&["build", src.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    if !o.status.success() {
        println!("SKIP: cannot build with clang: {}", stderr(&o));
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let o = oxbpf(&[
        "exec",
        out.to_str().unwrap(),
        "--ctx-hex",
        "0100000000000000",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("reads_ctx"), "{}", stderr(&o));
    let o = oxbpf(&["exec", out.to_str().unwrap(), "--ctx-hex", &"07".repeat(32)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("(0x707070707070707)"), "{}", stdout(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
