//! `oxbpf verify`: verdicts, reports, JSON and exit codes.

use std::path::Path;
use std::process::{Command, Output};

fn oxbpf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(args)
        .output()
        .expect("run oxbpf")
}

fn path(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn accepts_an_example_object() {
    let o = oxbpf(&["verify", &path("examples/count_opens.o")]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(
        out.contains("count_opens (tracepoint/syscalls/sys_enter_openat): accepted"),
        "{out}"
    );
}

#[test]
fn rejects_with_source_line_and_hint() {
    let file = path("crates/oxbpf-kernel/tests/fixtures/reject.o");
    let o = oxbpf(&["verify", &file]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("reject.c:17"), "{out}");
    assert!(out.contains("r0 may be NULL here"), "{out}");
    assert!(out.contains("hint:"), "{out}");
    assert!(err.contains("1 of 1 program(s) rejected"), "{err}");

    let o = oxbpf(&["verify", "--verbose", &file]);
    let (out, _) = text(&o);
    assert!(out.contains("return *v;"), "{out}");
    assert!(out.contains("state at the error"), "{out}");
}

#[test]
fn json_output() {
    let o = oxbpf(&[
        "verify",
        "--json",
        &path("crates/oxbpf-kernel/tests/fixtures/reject.o"),
    ]);
    let (out, _) = text(&o);
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    let first = &v[0];
    assert_eq!(first["program"], "unchecked_lookup");
    assert_eq!(first["accepted"], false);
    assert_eq!(first["error"]["kind"], "null_pointer");
    assert_eq!(first["error"]["source"]["line"], 17);
}

#[test]
fn log_and_program_selection() {
    let file = path("examples/xdp_count.o");
    let o = oxbpf(&["verify", "--log", "--program", "xdp_count", &file]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("processed "), "{out}");
    assert!(out.contains("from "), "{out}");
    let o = oxbpf(&["verify", "--program", "nope", &file]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("no program named `nope`"), "{err}");
}

#[test]
fn assembly_needs_a_type() {
    let dir = std::env::temp_dir().join(format!("oxbpf-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let f = dir.join("prog.s");
    std::fs::write(&f, "r0 = *(u64 *)(r10 - 8)\nexit\n").expect("write");
    let fs = f.to_string_lossy().into_owned();
    let o = oxbpf(&["verify", &fs]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("--type"));
    let o = oxbpf(&["verify", "--type", "kprobe", &fs]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).0.contains("never written"), "{}", text(&o).0);
    // The error names the assembly line.
    assert!(text(&o).0.contains("prog.s:1"), "{}", text(&o).0);
    let o = oxbpf(&["verify", "--type", "kprobe", "--allow-uninit-stack", &fs]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).0);
    let o = oxbpf(&["verify", "--type", "bogus", &fs]);
    assert_eq!(o.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
