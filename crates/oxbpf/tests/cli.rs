//! The `oxbpf` and `oxbpf-conformance` binaries: output, JSON, errors and exit codes.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// A file in a fresh temporary directory, removed when dropped.
struct Temp {
    dir: PathBuf,
    path: PathBuf,
}

impl Temp {
    fn s(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_file(name: &str, bytes: &[u8]) -> Temp {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "oxbpf-cli-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    Temp { dir, path }
}

fn slot(op: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let mut s = [0u8; 8];
    s[0] = op;
    s[1] = src << 4 | dst;
    s[2..4].copy_from_slice(&off.to_le_bytes());
    s[4..].copy_from_slice(&imm.to_le_bytes());
    s
}

fn program(slots: &[[u8; 8]]) -> Vec<u8> {
    slots.concat()
}

const EXIT: [u8; 8] = [0x95, 0, 0, 0, 0, 0, 0, 0];

fn mov_r0(imm: i32) -> [u8; 8] {
    slot(0xb7, 0, 0, 0, imm)
}

#[test]
fn exec_prints_r0() {
    let f = temp_file("p.bin", &program(&[mov_r0(42), EXIT]));
    let o = oxbpf(&["exec", f.s()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "r0 = 42 (0x2a)\n");
}

#[test]
fn exec_with_memory_from_hex_and_file() {
    // r0 = *(u8 *)(r1 + 1) + r2
    let code = program(&[slot(0x71, 0, 1, 1, 0), slot(0x0f, 0, 2, 0, 0), EXIT]);
    let f = temp_file("mem.bin", &code);
    let o = oxbpf(&["exec", f.s(), "--mem-hex", "01 10 ff"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "r0 = 19 (0x13)\n");
    let m = temp_file("input", &[0, 0x20]);
    let o = oxbpf(&["exec", f.s(), "--mem-file", m.s()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "r0 = 34 (0x22)\n");
}

#[test]
fn exec_json_and_repeat() {
    // r0 = 0; loop 10 times: r0 += 1
    let code = program(&[
        mov_r0(0),
        slot(0x07, 0, 0, 0, 1),
        slot(0xa5, 0, 0, -2, 10),
        EXIT,
    ]);
    let f = temp_file("loop.bin", &code);
    let o = oxbpf(&["exec", f.s(), "--repeat", "5", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["r0"], 10);
    assert_eq!(v["r0_hex"], "0xa");
    assert_eq!(v["insns_executed"], 1 + 2 * 10 + 1);
    assert_eq!(v["runs"], 5);
    assert_eq!(v["engine"], oxbpf::DEFAULT_ENGINE_NAME);
    assert!(v["ns_per_run"].as_f64().unwrap() > 0.0);
    assert!(v["ns_per_insn"].as_f64().unwrap() > 0.0);
    let o = oxbpf(&["exec", f.s(), "--repeat", "3"]);
    let out = stdout(&o);
    let head = format!("r0 = 10 (0xa)\n3 runs ({}): ", oxbpf::DEFAULT_ENGINE_NAME);
    assert!(out.starts_with(&head), "{out}");
    assert!(out.contains("22 insns/run"), "{out}");
    // The interpreter when asked; verified runs say so.
    let o = oxbpf(&["exec", f.s(), "--repeat", "3", "--engine", "interp"]);
    let out = stdout(&o);
    assert!(out.starts_with("r0 = 10 (0xa)\n3 runs (interp): "), "{out}");
    let o = oxbpf(&["exec", f.s(), "--repeat", "3", "--verify"]);
    let out = stdout(&o);
    let head = format!(
        "r0 = 10 (0xa)\n3 runs ({}, verified): ",
        oxbpf::DEFAULT_ENGINE_NAME
    );
    assert!(out.starts_with(&head), "{out}");
}

#[test]
fn exec_trap_exits_1_naming_file_and_instruction() {
    // r1 = 0; r0 = *(u64 *)(r1 + 0)
    let f = temp_file(
        "trap.bin",
        &program(&[slot(0xb7, 1, 0, 0, 0), slot(0x79, 0, 1, 0, 0), EXIT]),
    );
    let o = oxbpf(&["exec", f.s()]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("trap.bin: instruction 1: read of 8 bytes at 0x0"),
        "{e}"
    );
    assert!(stdout(&o).is_empty());
}

#[test]
fn exec_budget_stops_a_runaway_program() {
    let f = temp_file("forever.bin", &program(&[slot(0x05, 0, 0, -1, 0)]));
    let o = oxbpf(&["exec", f.s(), "--budget", "1000"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("instruction budget of 1000 exhausted"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn exec_has_a_default_budget_for_unverified_runs() {
    // `loop: goto loop` stops after 100 million instructions on every engine.
    let f = temp_file("forever2.bin", &program(&[slot(0x05, 0, 0, -1, 0)]));
    for engine in ["interp", "jit"] {
        let o = oxbpf(&["exec", f.s(), "--engine", engine]);
        assert_eq!(o.status.code(), Some(1), "{engine}");
        assert!(
            stderr(&o).contains("instruction budget of 100000000 exhausted"),
            "{engine}: {}",
            stderr(&o)
        );
    }
    let o = oxbpf(&["exec", f.s(), "--budget", "lots"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nor `none`"), "{}", stderr(&o));
    // Verified, it never runs: the verifier proves it does not stop.
    let o = oxbpf(&["exec", f.s(), "--verify"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("rejected by the verifier"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn exec_verify_checks_raw_programs_against_the_input_buffer() {
    // r0 = the byte at offset 3 of the input buffer.
    let f = temp_file("byte3.s", b"r0 = *(u8 *)(r1 + 3)\nexit\n");
    for engine in ["interp", "jit"] {
        let o = oxbpf(&[
            "exec",
            f.s(),
            "--verify",
            "--mem-hex",
            "00 00 00 2a",
            "--engine",
            engine,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("r0 = 42"), "{}", stdout(&o));
        let o = oxbpf(&[
            "exec",
            f.s(),
            "--verify",
            "--json",
            "--mem-hex",
            "00 00 00 2a",
        ]);
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["verified"], true);
    }
    // A 3-byte buffer: the read is past its end, refused before it runs (-v: the report).
    let o = oxbpf(&["exec", f.s(), "--verify", "--mem-hex", "00 00 00"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("instruction 0"), "{}", stderr(&o));
    let o = oxbpf(&["exec", f.s(), "--verify", "-v", "--mem-hex", "00 00 00"]);
    assert!(stderr(&o).contains("error:"), "{}", stderr(&o));
    // Unverified, it is the run that fails.
    let o = oxbpf(&["exec", f.s(), "--mem-hex", "00 00 00"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("instruction 0"), "{}", stderr(&o));
}

#[test]
fn exec_input_errors_exit_2() {
    // Not a whole number of instructions.
    let f = temp_file("short.bin", &[0x95, 0, 0, 0, 0, 0, 0]);
    let o = oxbpf(&["exec", f.s()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("short.bin: instruction 0: 7 bytes"),
        "{}",
        stderr(&o)
    );
    // Unknown opcode in the second instruction.
    let f = temp_file(
        "bad.bin",
        &program(&[mov_r0(0), slot(0xff, 0, 0, 0, 0), EXIT]),
    );
    let o = oxbpf(&["exec", f.s()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("bad.bin: instruction 1: unknown opcode 0xff"),
        "{}",
        stderr(&o)
    );
    // Missing file.
    let o = oxbpf(&["exec", "/nonexistent/prog.bin"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/prog.bin: cannot read"),
        "{}",
        stderr(&o)
    );
    // Bad memory hex.
    let f = temp_file("ok.bin", &program(&[mov_r0(0), EXIT]));
    let o = oxbpf(&["exec", f.s(), "--mem-hex", "0g"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--mem-hex: character 2"),
        "{}",
        stderr(&o)
    );
    // Usage errors.
    for args in [
        vec!["exec"],
        vec!["exec", f.s(), "--engine", "nope"],
        vec!["exec", f.s(), "--repeat", "0"],
        vec!["exec", f.s(), "--mem-hex", "00", "--mem-file", "x"],
        vec!["frobnicate"],
    ] {
        let o = oxbpf(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn exec_unresolved_map_reference_is_a_program_error() {
    // lddw r1, map fd 3 (src 1); exit
    let code = program(&[slot(0x18, 1, 1, 0, 3), slot(0, 0, 0, 0, 0), mov_r0(0), EXIT]);
    let f = temp_file("map.bin", &code);
    let o = oxbpf(&["exec", f.s()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("map.bin: instruction 0: lddw with a map file descriptor"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn help_on_every_subcommand() {
    let o = oxbpf(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("exec") && out.contains("Exit status"), "{out}");
    let o = oxbpf(&["exec", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    for flag in [
        "--mem-hex",
        "--mem-file",
        "--engine",
        "--repeat",
        "--budget",
        "--json",
    ] {
        assert!(out.contains(flag), "{flag} missing from:\n{out}");
    }
}

fn plugin(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oxbpf-conformance"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn hex_text(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}  "))
        .collect::<String>()
        + "\n"
}

#[test]
fn conformance_plugin_protocol() {
    // r0 = r2 + *(u8 *)(r1 + 2)
    let code = program(&[slot(0x71, 0, 1, 2, 0), slot(0x0f, 0, 2, 0, 0), EXIT]);
    let o = plugin(&["aa  bb  cc  "], &hex_text(&code));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "cf\n");
    // No memory: the first argument is an option.
    let o = plugin(
        &["--engine", "interp"],
        &hex_text(&program(&[mov_r0(-1), EXIT])),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "ffffffffffffffff\n");
    // Helper 5 returns its first argument.
    let code = program(&[slot(0xb7, 1, 0, 0, 77), slot(0x85, 0, 0, 0, 5), EXIT]);
    let o = plugin(&[], &hex_text(&code));
    assert_eq!(stdout(&o), "4d\n");
    // A trap exits non-zero with the error on stderr.
    let code = program(&[slot(0x79, 0, 1, 0, 0), EXIT]);
    let o = plugin(&[], &hex_text(&code));
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).is_empty());
    assert!(stderr(&o).contains("instruction 0"), "{}", stderr(&o));
    // Malformed hex.
    let o = plugin(&[], "9x  \n");
    assert_eq!(o.status.code(), Some(2));
}

const SUM_ASM: &str = "\
; sum 1..=10 (LLVM syntax)
r0 = 0
r1 = 10
loop:
r0 += r1
r1 -= 1
if r1 != 0 goto loop
exit
";

#[test]
fn exec_runs_assembly_text() {
    let f = temp_file("sum.s", SUM_ASM.as_bytes());
    let o = oxbpf(&["exec", f.s(), "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["r0"], 55);
    assert_eq!(v["insns_executed"], 2 + 3 * 10 + 1);
    // Conformance syntax too.
    let f = temp_file("c.s", b"mov %r0, 7\nlsh %r0, 2\nexit\n");
    let o = oxbpf(&["exec", f.s()]);
    assert_eq!(stdout(&o), "r0 = 28 (0x1c)\n");
}

#[test]
fn asm_errors_name_file_line_and_column() {
    let f = temp_file("bad.s", b"r0 = 0\nr1 = r11\nexit\n");
    for cmd in ["exec", "asm"] {
        let o = oxbpf(&[cmd, f.s()]);
        assert_eq!(o.status.code(), Some(2), "{cmd}");
        let e = stderr(&o);
        assert!(e.contains("bad.s:2:6: expected a register"), "{cmd}: {e}");
    }
}

#[test]
fn asm_then_disasm_round_trips() {
    let f = temp_file("sum.s", SUM_ASM.as_bytes());
    let o = oxbpf(&["asm", f.s()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bin = f.path.with_extension("bin");
    let bytes = std::fs::read(&bin).unwrap();
    assert_eq!(bytes.len(), 6 * 8);
    assert_eq!(&bytes[..8], &mov_r0(0));
    // -o elsewhere, and to stdout.
    let out = f.dir.join("other.o");
    let o = oxbpf(&["asm", f.s(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    let o = oxbpf(&["asm", f.s(), "-o", "-"]);
    assert_eq!(o.stdout, bytes);

    let o = oxbpf(&["disasm", bin.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("L0:") && text.contains("if r1 != 0 goto -3 <L0>"),
        "{text}"
    );
    // The disassembly assembles back to the same bytes, in both syntaxes.
    for syntax in ["llvm", "conformance"] {
        let o = oxbpf(&["disasm", bin.to_str().unwrap(), "--syntax", syntax]);
        assert_eq!(o.status.code(), Some(0));
        let t = temp_file("back.s", &o.stdout);
        let o = oxbpf(&["asm", t.s(), "-o", "-"]);
        assert_eq!(o.stdout, bytes, "{syntax}");
    }
    let o = oxbpf(&[
        "disasm",
        bin.to_str().unwrap(),
        "--syntax",
        "conformance",
        "--slots",
        "--raw-bytes",
        "--no-labels",
    ]);
    let text = stdout(&o);
    assert!(
        text.contains("4:\t55 01 fd ff 00 00 00 00\tjne %r1, 0, -3"),
        "{text}"
    );
}

#[test]
fn asm_and_disasm_refuse_the_wrong_kind_of_file() {
    let bin = temp_file("p.bin", &program(&[mov_r0(1), EXIT]));
    let o = oxbpf(&["asm", bin.s()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("p.bin: not assembly text"),
        "{}",
        stderr(&o)
    );
    let text = temp_file("p.s", b"exit\n");
    let o = oxbpf(&["disasm", text.s()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("p.s: the file is text"),
        "{}",
        stderr(&o)
    );
    let o = oxbpf(&["disasm", bin.s(), "--syntax", "intel"]);
    assert_eq!(o.status.code(), Some(2));
    let o = oxbpf(&["asm", text.s(), "-o", text.s()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&text.path).unwrap(), b"exit\n");
}

#[test]
fn help_on_asm_and_disasm() {
    for (cmd, flags) in [
        ("asm", vec!["--output"]),
        (
            "disasm",
            vec!["--syntax", "--slots", "--raw-bytes", "--no-labels"],
        ),
    ] {
        let o = oxbpf(&[cmd, "--help"]);
        assert_eq!(o.status.code(), Some(0));
        let out = stdout(&o);
        for f in flags {
            assert!(out.contains(f), "{cmd}: {f} missing from:\n{out}");
        }
        assert!(out.contains("Exit status"), "{out}");
    }
}

#[test]
fn benchmark_programs_compute_the_right_values() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
    let zeros = temp_file("zeros", &[0u8; 1000]);
    let o = oxbpf(&["exec", &format!("{data}sieve.s"), "--mem-file", zeros.s()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "r0 = 168 (0xa8)\n", "primes below 1000");
    let o = oxbpf(&["exec", &format!("{data}fnv1a.s"), "--mem-hex", "61 62 63"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "r0 = 16654208175385433931 (0xe71fa2190541574b)\n",
        "FNV-1a of \"abc\""
    );
}

#[test]
fn help_is_short_at_the_top_and_exit_statuses_fit_each_command() {
    let o = oxbpf(&["--help"]);
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        help.contains("\n  disasm  Disassemble raw bytecode or an ELF object\n"),
        "{help}"
    );
    assert!(
        help.contains(
            "\n  verify  Verify the programs of an ELF object, or one program in assembly or raw bytecode\n"
        ),
        "{help}"
    );
    let o = oxbpf(&["doctor", "--help"]);
    let help = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        help.ends_with(
            "Exit status:\n  0  everything works\n  1  something is missing or refused (the table says why and how to fix it)\n"
        ),
        "{help}"
    );
    let o = oxbpf(&["list", "--help"]);
    let help = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        help.contains("  1  nothing matches the pattern\n"),
        "{help}"
    );
    // Commands that run no program have no status 1.
    for cmd in ["asm", "build", "map"] {
        let o = oxbpf(&[cmd, "--help"]);
        let help = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            help.contains("Exit status:\n  0  success\n  2  ") && !help.contains("\n  1  "),
            "{cmd}: {help}"
        );
    }
}
