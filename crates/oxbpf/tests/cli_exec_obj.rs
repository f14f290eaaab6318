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
    // Unverified, a context too small for what the program reads is a fault: exit
    // status 1. Verified, the context is zero-extended to the type's layout.
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
        "--unverified",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("reads_ctx"), "{}", stderr(&o));
    for engine in ["interp", "jit"] {
        let o = oxbpf(&[
            "exec",
            out.to_str().unwrap(),
            "--ctx-hex",
            "0100000000000000",
            "--engine",
            engine,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("r0 = 0 (0x0)"), "{}", stdout(&o));
    }
    let o = oxbpf(&["exec", out.to_str().unwrap(), "--ctx-hex", &"07".repeat(32)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("(0x707070707070707)"), "{}", stdout(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Builds a C source into an object in a fresh directory; `None` (with `SKIP:`) without
/// clang.
fn build(tag: &str, name: &str, source: &str) -> Option<(PathBuf, String)> {
    let dir = std::env::temp_dir().join(format!("oxbpf-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let out = dir.join(format!("{name}.o"));
    let o = oxbpf(&["build", src.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    if !o.status.success() {
        println!("SKIP: cannot build with clang: {}", stderr(&o));
        let _ = std::fs::remove_dir_all(&dir);
        return None;
    }
    Some((dir, out.display().to_string()))
}

#[test]
fn rejected_programs_print_the_verifiers_summary_and_exit_1() {
    // Reads a map value without checking the lookup's result.
    let Some((dir, obj)) = build(
        "reject",
        "unchecked",
        "struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1);\n\
         __type(key, __u32); __type(value, __u64); } m SEC(\".maps\");\n\
         SEC(\"raw_tp/x\") int unchecked(void *ctx) {\n\
         __u32 k = 0; __u64 *v = bpf_map_lookup_elem(&m, &k);\n\
         return *v; }\n",
    ) else {
        return;
    };
    let o = oxbpf(&["exec", &obj]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("program `unchecked` rejected by the verifier"),
        "{err}"
    );
    assert!(err.contains("NULL"), "{err}");
    assert!(err.contains("unchecked.c:4"), "the C source line: {err}");
    assert!(err.contains("--unverified"), "{err}");
    // The full report: the path and the registers.
    let o = oxbpf(&["exec", &obj, "--verbose"]);
    assert_eq!(o.status.code(), Some(1));
    let report = stderr(&o);
    assert!(report.len() > err.len(), "{report}");
    assert!(report.contains("r0"), "{report}");
    // Unverified it runs, checked: element 0 exists, so the read is fine.
    let o = oxbpf(&["exec", &obj, "--unverified", "--engine", "jit"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("r0 = 0"), "{}", stdout(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn verified_programs_report_it_in_json() {
    for engine in ["interp", "jit"] {
        let o = oxbpf(&[
            "exec",
            &corpus("calls"),
            "--engine",
            engine,
            "--json",
            "--repeat",
            "3",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["verified"], true);
        assert!(v["insns_verified"].as_u64().unwrap() > 0);
        assert_eq!(v["r0"], 551_313);
        let o = oxbpf(&[
            "exec",
            &corpus("calls"),
            "--engine",
            engine,
            "--json",
            "--unverified",
        ]);
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["verified"], false);
        assert_eq!(v["r0"], 551_313);
    }
}

#[test]
fn raw_programs_run_as_a_program_type() {
    let dir = std::env::temp_dir().join(format!("oxbpf-rawtype-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A kprobe program reading pt_regs->di (offset 112) and the current pid.
    let f = dir.join("regs.s");
    std::fs::write(
        &f,
        "r6 = *(u64 *)(r1 + 112)\ncall bpf_get_current_pid_tgid\nr0 = r6\nexit\n",
    )
    .unwrap();
    let f = f.to_str().unwrap();
    let mut regs = "00".repeat(112);
    regs.push_str("2a00000000000000");
    for extra in [&[][..], &["--verify"][..]] {
        for engine in ["interp", "jit"] {
            let mut args = vec![
                "exec",
                f,
                "--prog-type",
                "kprobe",
                "--ctx-hex",
                &regs,
                "--engine",
                engine,
            ];
            args.extend_from_slice(extra);
            let o = oxbpf(&args);
            assert!(o.status.success(), "{extra:?} {engine}: {}", stderr(&o));
            assert!(stdout(&o).contains("r0 = 42 (0x2a)"), "{}", stdout(&o));
        }
    }
    // Verified as a socket filter it may not read pt_regs past __sk_buff... nor call
    // helpers its type lacks.
    let o = oxbpf(&["exec", f, "--prog-type", "xdp", "--verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("rejected by the verifier"),
        "{}",
        stderr(&o)
    );
    let o = oxbpf(&["exec", f, "--prog-type", "nonsense"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown program type"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn packet_programs_without_a_packet_and_missing_state_dirs() {
    for extra in [&[][..], &["--unverified"][..]] {
        let mut args = vec!["exec", "--engine", "interp"];
        let xdp = example("xdp_count.o");
        args.push(&xdp);
        args.extend_from_slice(extra);
        let o = oxbpf(&args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(
            stderr(&o).ends_with(
                "xdp_count.o: program `xdp_count` is an XDP program: give it a packet with \
                 --packet-hex HEX or --packet-file FILE (an Ethernet frame)\n"
            ),
            "{extra:?}: {}",
            stderr(&o)
        );
    }
    let o = oxbpf(&[
        "map",
        "dump",
        "counts",
        "--state",
        "/nonexistent/oxbpf-state",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "oxbpf: /nonexistent/oxbpf-state: no such state directory (made by `oxbpf exec prog.o --state DIR`; give it with --state DIR)\n"
    );
}
