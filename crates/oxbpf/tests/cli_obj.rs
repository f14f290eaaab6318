//! `oxbpf build` and `oxbpf disasm` on ELF objects: output, errors and exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn oxbpf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(args)
        .output()
        .unwrap()
}

fn oxbpf_env(args: &[&str], key: &str, value: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(args)
        .env(key, value)
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

fn path(rel: &str) -> String {
    root().join(rel).to_string_lossy().into_owned()
}

/// A private temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("oxbpf-cli-obj-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
    fn join(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn clang_missing() -> bool {
    if oxbpf_obj::build::find_clang(&Default::default()).is_err() {
        println!("SKIP: clang not found");
        return true;
    }
    false
}

#[test]
fn build_bcc_hello_world() {
    if clang_missing() {
        return;
    }
    let t = TempDir::new("hello");
    let src = t.join("hello.c");
    std::fs::copy(path("examples/hello_world.c"), &src).unwrap();
    // Default output: next to the source.
    let o = oxbpf(&["build", &src]);
    assert!(o.status.success(), "{}", stderr(&o));
    let obj = t.join("hello.o");
    assert_eq!(
        stdout(&o),
        format!("{obj}: 1 program: hello_world (.text, unspecified)\n{obj}: 1 map: .rodata\n")
    );
    let loaded = oxbpf_obj::Object::parse(&std::fs::read(&obj).unwrap()).unwrap();
    assert_eq!(loaded.programs[0].name, "hello_world");
    assert_eq!(loaded.programs[0].section, ".text");
    // -o, -D, -I and clang arguments after --.
    let out = t.join("custom.o");
    let o = oxbpf(&[
        "build",
        &src,
        "-o",
        &out,
        "-DGREETING=1",
        "-I",
        &t.0.to_string_lossy(),
        "-O2",
        "--",
        "-Wall",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(Path::new(&out).is_file());
}

#[test]
fn build_errors() {
    if clang_missing() {
        return;
    }
    let t = TempDir::new("errors");
    let src = t.join("bad.c");
    std::fs::write(&src, "int f(void *ctx) { return missing; }\n").unwrap();
    let o = oxbpf(&["build", &src]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.starts_with(&format!("oxbpf: {src}: clang failed:\n")),
        "{e}"
    );
    assert!(
        e.contains("error: use of undeclared identifier 'missing'"),
        "{e}"
    );
    assert!(!Path::new(&t.join("bad.o")).exists());

    // A missing clang says how to install one.
    let o = oxbpf_env(
        &["build", &path("examples/hello_world.c")],
        "OXBPF_CLANG",
        "/nonexistent/clang",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("apt-get install clang"),
        "{}",
        stderr(&o)
    );

    // An object oxbpf cannot load is still written, with a warning.
    let src = t.join("extern.c");
    std::fs::write(
        &src,
        "extern int CONFIG_HZ __kconfig;\nSEC(\"xdp\") int f(void *ctx) { return CONFIG_HZ; }\n",
    )
    .unwrap();
    let o = oxbpf(&["build", &src]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("written, but oxbpf cannot load it: section `xdp`, instruction 0: unsupported: reference to extern symbol `CONFIG_HZ`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn disasm_object_with_source_lines() {
    let o = oxbpf(&["disasm", &path("examples/hello_world.o")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("eBPF object, license \"GPL\", 1 program, 1 map, BTF with line info"));
    assert!(text.contains("\nhello_world:\n; examples/hello_world.c:3:5\n;   bpf_trace_printk(\"Hello, World!\");\n"), "{text}");
    assert!(text
        .contains("r1 = map_idx_value(0, 0) ll ; .rodata: hello_world.____fmt \"Hello, World!\""));
    assert!(text.contains("call 6 ; bpf_trace_printk"));

    let o = oxbpf(&[
        "disasm",
        &path("tests/fixtures/calls.o"),
        "--program",
        "caller_one",
        "--no-source",
        "--syntax",
        "conformance",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("Disassembly of program caller_one"));
    assert!(!text.contains("Disassembly of program caller_two"));
    assert!(text.contains("\nsquare:\n"), "{text}");
    assert!(!text.contains("; tests/fixtures/calls.c"));
    assert!(text.contains("exit"));
}

#[test]
fn disasm_object_errors() {
    let o = oxbpf(&[
        "disasm",
        &path("tests/fixtures/calls.o"),
        "--program",
        "nope",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).ends_with("calls.o: no program named `nope` in the object\n"));

    let t = TempDir::new("disasm");
    let bad = t.join("bad.o");
    let mut bytes = std::fs::read(path("tests/fixtures/calls.o")).unwrap();
    bytes[18] = 62; // EM_X86_64
    std::fs::write(&bad, &bytes).unwrap();
    let o = oxbpf(&["disasm", &bad]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!("oxbpf: {bad}: not an eBPF object: ELF machine is 62, not eBPF (247)\n")
    );
}

#[test]
fn build_refuses_objects_and_overwriting_and_compiles_any_extension_as_c() {
    if clang_missing() {
        return;
    }
    let t = TempDir::new("build-inputs");
    // An object is already built: say what takes it instead of running clang on it.
    let o = oxbpf(&["build", &path("examples/hello.o"), "-o", &t.join("x.o")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("hello.o: already an ELF object, not C source"),
        "{}",
        stderr(&o)
    );
    // The default output of `x.o` is `x.o` itself: refused, the source is kept.
    let src = t.join("prog.o");
    std::fs::write(&src, "int f(void *ctx) { return 0; }\n").unwrap();
    let o = oxbpf(&["build", &src]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!("oxbpf: {src}: the object would overwrite the source; name it with -o FILE\n")
    );
    assert_eq!(
        std::fs::read_to_string(&src).unwrap(),
        "int f(void *ctx) { return 0; }\n"
    );
    // Any other extension is compiled as C (clang would take it as linker input), and its
    // errors are clang's.
    let src = t.join("prog.bpf");
    std::fs::write(&src, "SEC(\"xdp\") int f(void *ctx) { return 2; }\n").unwrap();
    let out = t.join("prog.out");
    let o = oxbpf(&["build", &src, "-o", &out]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("1 program: f (xdp"), "{}", stdout(&o));
    let src = t.join("bad.bpf");
    std::fs::write(&src, "int f(void *ctx) { return 1 }\n").unwrap();
    let o = oxbpf(&["build", &src, "-o", &out]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("bad.bpf:1:28: error: expected ';'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn disasm_of_empty_and_text_files() {
    let t = TempDir::new("disasm-text");
    let empty = t.join("empty.bin");
    std::fs::write(&empty, "").unwrap();
    let o = oxbpf(&["disasm", &empty]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!("oxbpf: {empty}: the file is empty (no instructions to disassemble)\n")
    );
    let asm = t.join("p.s");
    std::fs::write(&asm, "r0 = 0\nexit\n").unwrap();
    let o = oxbpf(&["disasm", &asm]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`oxbpf asm` turns it into bytecode"));
}
