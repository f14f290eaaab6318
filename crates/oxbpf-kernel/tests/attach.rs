//! End-to-end attachment: clang-compiled objects through aya, and the BCC hello world as
//! a raw program, on the `syscalls:sys_enter_openat` tracepoint.

mod common;

use std::fs::File;
use std::io::Write;
use std::time::Duration;

use common::*;
use oxbpf_isa::{Program, RawInsn};
use oxbpf_kernel::{
    attach, load_raw, wait_unloaded, KernelError, KernelObject, LoadOptions, ProgType,
    TraceInstance, TracePipe, Tracefs,
};

const UNLOAD_WAIT: Duration = Duration::from_secs(10);
const LINE_WAIT: Duration = Duration::from_secs(10);

/// Creates `/tmp/oxbpf-<tag>-<pid>` and returns its path.
fn scratch_file(tag: &str) -> String {
    let path = format!("/tmp/oxbpf-{tag}-{}", std::process::id());
    let mut f = File::create(&path).unwrap();
    f.write_all(b"x").unwrap();
    path
}

#[test]
fn aya_tracepoint_counts_openat_and_reads_the_filename() {
    require_bpf!();
    let mut obj = KernelObject::load_file(fixture("openat_count.o")).unwrap();
    assert_eq!(obj.program_names(), ["count_openat"]);
    let link = obj
        .attach_tracepoint("count_openat", "syscalls", "sys_enter_openat")
        .unwrap();
    let id = obj.program_info("count_openat").unwrap().id;

    // The program reads `filename` at offset 24: the layout tracefs reports.
    let format = Tracefs::find_or_mount()
        .unwrap()
        .format("syscalls", "sys_enter_openat")
        .unwrap();
    assert_eq!(format.field("filename").unwrap().offset, 24);

    let tgid = std::process::id();
    let count = |obj: &KernelObject| -> u64 {
        let counts: aya::maps::HashMap<_, u32, u64> =
            aya::maps::HashMap::try_from(obj.ebpf().map("counts").unwrap()).unwrap();
        counts.get(&tgid, 0).unwrap_or(0)
    };
    let path = scratch_file("count");
    let before = count(&obj);
    for _ in 0..3 {
        File::open(&path).unwrap();
    }
    let after = count(&obj);
    // Other threads of this test process may open files too: at least our three.
    assert!(after >= before + 3, "count went from {before} to {after}");

    let last: aya::maps::HashMap<_, u32, [u8; 64]> =
        aya::maps::HashMap::try_from(obj.ebpf().map("last_path").unwrap()).unwrap();
    let seen = last.get(&tgid, 0).unwrap();
    let seen =
        String::from_utf8_lossy(&seen[..seen.iter().position(|&b| b == 0).unwrap()]).into_owned();
    assert!(seen.starts_with("/tmp/oxbpf-"), "{seen}");

    assert!(link.is_attached());
    assert_eq!(link.targets(), ["tracepoint:syscalls:sys_enter_openat"]);
    link.detach().unwrap();
    let stopped = count(&obj);
    File::open(&path).unwrap();
    assert_eq!(count(&obj), stopped, "still counting after detach");

    drop(obj);
    assert!(
        wait_unloaded(id, UNLOAD_WAIT).unwrap(),
        "program {id} left loaded"
    );
    std::fs::remove_file(path).unwrap();
}

#[test]
fn unknown_programs_and_tracepoints_are_errors() {
    require_bpf!();
    let mut obj = KernelObject::load_file(fixture("openat_count.o")).unwrap();
    let e = obj
        .attach_tracepoint("nope", "syscalls", "sys_enter_openat")
        .unwrap_err();
    assert!(
        matches!(
            e,
            KernelError::NotFound {
                what: "program",
                ..
            }
        ),
        "{e}"
    );
    let e = obj
        .attach_tracepoint("count_openat", "syscalls", "sys_enter_nope")
        .unwrap_err();
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
    let e = KernelObject::load(b"not an elf").unwrap_err();
    assert!(matches!(e, KernelError::ObjectFile { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "object file: malformed ELF object: no ELF magic number"
    );
}

/// A trace instance receiving `bpf_trace_printk` output, so that concurrent readers of the
/// global trace_pipe neither steal these lines nor get them.
fn printk_pipe(tag: &str) -> TracePipe {
    let t = Tracefs::find_or_mount().unwrap();
    let inst =
        TraceInstance::create(&t, &format!("oxbpf-test-{tag}-{}", std::process::id())).unwrap();
    inst.set_event("bpf_trace", "bpf_trace_printk", true)
        .unwrap();
    TracePipe::open_instance(inst, 1024).unwrap()
}

fn expect_hello(pipe: &mut TracePipe, path: &str) {
    let tid = gettid();
    File::open(path).unwrap();
    let line = pipe
        .wait_for(LINE_WAIT, |l| l.pid == tid && l.message == "Hello, World!")
        .unwrap()
        .expect("a Hello, World! line from this thread");
    assert_eq!(line.event, "bpf_trace_printk");
}

/// The `.text` function `hello` of an object, as a program (it has no relocations).
fn text_function(elf: &[u8], name: &str) -> Program {
    let obj = aya_obj::Object::parse(elf).unwrap();
    let f = obj
        .functions
        .values()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no function {name}"));
    let raw: Vec<RawInsn> = f
        .instructions
        .iter()
        .map(|i| RawInsn::new(i.code, i.dst_reg(), i.src_reg(), i.off, i.imm))
        .collect();
    Program::from_raw(&raw).unwrap()
}

#[test]
fn hello_world_in_trace_pipe() {
    require_bpf!();
    let path = scratch_file("hello");
    let mut pipe = printk_pipe("hello");

    // The aya way: a tracepoint section calling a .text function.
    let mut obj = KernelObject::load_file(fixture("hello.o")).unwrap();
    assert_eq!(obj.program_names(), ["hello_tp"]);
    let link = obj
        .attach_tracepoint("hello_tp", "syscalls", "sys_enter_openat")
        .unwrap();
    let aya_id = obj.program_info("hello_tp").unwrap().id;
    expect_hello(&mut pipe, &path);
    link.detach().unwrap();
    drop(obj);
    assert!(wait_unloaded(aya_id, UNLOAD_WAIT).unwrap());

    // The BCC way: the plain function, loaded as raw bytecode and attached directly.
    let elf = std::fs::read(fixture("hello.o")).unwrap();
    let hello = text_function(&elf, "hello");
    let prog = load_raw(
        &hello,
        &LoadOptions::new(ProgType::Tracepoint).name("hello"),
    )
    .unwrap();
    let raw_id = prog.id();
    let attachment = attach::attach_tracepoint(&prog, "syscalls", "sys_enter_openat").unwrap();
    assert_eq!(attachment.target(), "tracepoint:syscalls:sys_enter_openat");
    expect_hello(&mut pipe, &path);
    attachment.detach();
    drop(prog);
    assert!(wait_unloaded(raw_id, UNLOAD_WAIT).unwrap());
    assert_eq!(pipe.dropped(), 0);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn raw_attach_checks_program_types() {
    require_bpf!();
    let prog = load_raw(&ret(0), &LoadOptions::new(ProgType::SocketFilter)).unwrap();
    let e = attach::attach_tracepoint(&prog, "syscalls", "sys_enter_openat").unwrap_err();
    assert!(e.to_string().contains("needs tracepoint"), "{e}");
    let e = attach::attach_raw_tracepoint(&prog, "sys_enter").unwrap_err();
    assert!(matches!(e, KernelError::InvalidInput { .. }), "{e}");

    let raw = load_raw(&ret(0), &LoadOptions::new(ProgType::RawTracepoint)).unwrap();
    let a = attach::attach_raw_tracepoint(&raw, "sys_enter").unwrap();
    assert_eq!(a.target(), "raw_tracepoint:sys_enter");
    let e = attach::attach_raw_tracepoint(&raw, "no_such_tracepoint_here").unwrap_err();
    assert!(matches!(e, KernelError::NotFound { .. }), "{e}");
}

#[test]
fn aya_rejections_come_back_as_verifier_errors() {
    require_bpf!();
    let mut obj = KernelObject::load_file(fixture("reject.o")).unwrap();
    let e = obj
        .attach_tracepoint("unchecked_lookup", "syscalls", "sys_enter_openat")
        .unwrap_err();
    let short = e.summary();
    assert!(
        short.starts_with(
            "the kernel verifier rejected program `unchecked_lookup` (Permission denied"
        ),
        "{short}"
    );
    assert!(short.contains("\n  at reject.c:17:"), "{short}");
    assert!(
        short.contains(
            ": return *v;\n  instruction slot 7: r0 = *(u64 *)(r0 +0)\n  R0 invalid mem access"
        ),
        "{short}"
    );
    assert!(e.verifier_log().unwrap().contains("processed "));
    let KernelError::Verifier {
        program,
        errno,
        log,
        summary,
    } = e
    else {
        panic!("expected Verifier, got {e}")
    };
    assert_eq!(program, "unchecked_lookup");
    assert_eq!(errno, libc::EACCES);
    assert!(log.contains("map_value_or_null"), "{log}");
    // `r0 = *(u64 *)(r0 + 0)` is slot 7 (the map lddw takes two).
    assert_eq!(summary.slot, Some(7));
    assert!(
        summary.message.contains("invalid mem access"),
        "{summary:?}"
    );
    // The C source line, from the object's BTF line info.
    let src = summary.source.as_ref().expect("a source line");
    assert_eq!(src.file, "reject.c");
    assert_eq!(src.line, 17);
    assert_eq!(src.text, "return *v;");
    assert!(
        summary
            .to_string()
            .ends_with("(at `r0 = *(u64 *)(r0 +0)`, reject.c:17: `return *v;`)"),
        "{summary}"
    );
    let table = KernelObject::load_file(fixture("reject.o"))
        .unwrap()
        .line_table("unchecked_lookup")
        .unwrap();
    assert_eq!(table.at(7), Some(src));
}
