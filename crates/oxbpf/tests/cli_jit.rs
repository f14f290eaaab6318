//! The JIT through the command-line tools: `oxbpf exec --engine jit`, `oxbpf disasm --jit`
//! and `oxbpf-conformance --engine jit`.
#![cfg(target_arch = "x86_64")]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn oxbpf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(args)
        .output()
        .expect("run oxbpf")
}

fn data(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn exec_with_the_jit_matches_the_interpreter() {
    for prog in ["sieve.s", "fnv1a.s"] {
        let p = data(prog);
        let i = oxbpf(&["exec", "--engine", "interp", &p]);
        let j = oxbpf(&["exec", "--engine", "jit", &p]);
        assert!(i.status.success() && j.status.success(), "{prog}: {j:?}");
        assert_eq!(i.stdout, j.stdout, "{prog}");
    }
    let j = oxbpf(&[
        "exec",
        "--engine",
        "jit",
        "--json",
        "--repeat",
        "3",
        &data("sieve.s"),
    ]);
    let text = String::from_utf8_lossy(&j.stdout);
    assert!(text.contains("\"engine\":\"jit\""), "{text}");
}

#[test]
fn exec_with_the_jit_reports_budget_errors() {
    let j = oxbpf(&["exec", "--engine", "jit", "--budget", "3", &data("sieve.s")]);
    assert_eq!(j.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&j.stderr).contains("budget of 3"));
}

#[test]
fn disasm_jit_shows_x86_under_each_instruction() {
    let dir = std::env::temp_dir().join(format!("oxbpf-cli-jit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("p.bin");
    let src = dir.join("p.s");
    std::fs::write(&src, "r0 = r1\nr0 += 8\nexit\n").unwrap();
    let a = oxbpf(&["asm", src.to_str().unwrap(), "-o", bin.to_str().unwrap()]);
    assert!(a.status.success(), "{a:?}");
    let d = oxbpf(&[
        "disasm",
        "--jit",
        "--jit-mode",
        "verified",
        bin.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&d.stdout);
    assert!(d.status.success(), "{d:?}");
    assert!(text.contains("r0 = r1"), "{text}");
    assert!(text.contains("lea rax, [rdi+0x8]"), "{text}");
    let d = oxbpf(&["disasm", "--jit", bin.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&d.stdout).contains("checked mode"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn conformance_plugin_runs_the_jit() {
    // mov r0, r2 ; exit  with 4 bytes of memory: r0 = 4
    let mut child = Command::new(env!("CARGO_BIN_EXE_oxbpf-conformance"))
        .args(["aa  bb  cc  dd  ", "--engine", "jit"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"bf  20  00  00  00  00  00  00  95  00  00  00  00  00  00  00  \n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "4");
}
