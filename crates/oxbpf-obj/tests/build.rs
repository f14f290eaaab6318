//! The clang build driver and the shipped header (skipped without clang).

mod common;

use oxbpf_obj::build::{self, BuildError, BuildOptions, Uapi};
use oxbpf_obj::{map_type, Object, ProgramKind};

macro_rules! need_clang {
    () => {
        if let Some(why) = common::clang_missing() {
            println!("SKIP: {why}");
            return;
        }
    };
}

#[test]
fn bcc_hello_world_file_compiles_unchanged() {
    need_clang!();
    let path = common::root().join("examples/hello_world.c");
    let bytes = build::compile_c_file(&path, &BuildOptions::default()).unwrap();
    let o = Object::parse(&bytes).unwrap();
    assert_eq!(o.programs.len(), 1);
    let p = &o.programs[0];
    assert_eq!(p.name, "hello_world");
    assert_eq!(p.section, ".text");
    assert_eq!(p.kind, ProgramKind::Unspecified);
    // bpf_trace_printk(fmt) became bpf_trace_printk(fmt, sizeof(fmt)): r2 = 14.
    assert!(p.insns.insns().contains(&oxbpf_isa::Insn::Alu {
        width: oxbpf_isa::Width::W64,
        op: oxbpf_isa::AluOp::Mov,
        dst: oxbpf_isa::Reg::R2,
        src: oxbpf_isa::Operand::Imm(14),
    }));
    assert!(p
        .insns
        .insns()
        .contains(&oxbpf_isa::Insn::Call(oxbpf_isa::CallTarget::Helper(6))));
    // Line info names the file as it was given to clang.
    assert!(p.line_info[0].file.ends_with("examples/hello_world.c"));
}

#[test]
fn libbpf_style_source_compiles() {
    need_clang!();
    let src = r#"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("tp/syscalls/sys_enter_write")
int count(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1, *v = bpf_map_lookup_elem(&counts, &pid);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&counts, &pid, &one, BPF_NOEXIST);
	bpf_printk("pid %d port %d", pid, bpf_ntohs(0x1f90));
	bpf_printk("five args %d %d %d %d %d", 1, 2, 3, 4, 5);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
"#;
    let out = build::compile_source(src, "count.c", &BuildOptions::default()).unwrap();
    let o = Object::parse(&out.object).unwrap();
    let p = o.program("count").unwrap();
    assert_eq!(p.line_info[0].file.as_ref(), "count.c");
    let (_, m) = o.map("counts").unwrap();
    assert_eq!(
        (m.map_type, m.key_size, m.value_size, m.max_entries),
        (map_type::HASH, 4, 8, 16)
    );
    // 3 or fewer arguments: bpf_trace_printk (6); more: bpf_trace_vprintk (177).
    let helpers: Vec<i32> = p
        .insns
        .insns()
        .iter()
        .filter_map(|i| match i {
            oxbpf_isa::Insn::Call(oxbpf_isa::CallTarget::Helper(h)) => Some(*h),
            _ => None,
        })
        .collect();
    assert!(
        helpers.contains(&6) && helpers.contains(&177),
        "{helpers:?}"
    );
    assert!(out.diagnostics.is_empty(), "{}", out.diagnostics);
}

#[test]
fn vmlinux_h_programs_do_not_include_the_uapi_header() {
    need_clang!();
    let opts = BuildOptions {
        include_dirs: vec![common::root().join("tests/fixtures")],
        ..BuildOptions::default()
    };
    let src = std::fs::read_to_string(common::fixture_src("vmlinux_style")).unwrap();
    let bytes = build::compile_c_source(&src, "vmlinux_style.c", &opts).unwrap();
    Object::parse(&bytes).unwrap();
    // Forcing <linux/bpf.h> makes the enum definitions clash, as they would with libbpf.
    let forced = BuildOptions {
        uapi: Uapi::Include,
        ..opts
    };
    let e = build::compile_c_source(&src, "vmlinux_style.c", &forced).unwrap_err();
    assert!(
        matches!(&e, BuildError::Compile { diagnostics, .. } if diagnostics.contains("redefinition")),
        "{e}"
    );
}

#[test]
fn core_read_macros_and_probe_macros() {
    need_clang!();
    let src = r#"
struct task { int pid; struct task *parent; struct { int depth; } ns; } __attribute__((preserve_access_index));
SEC("kretprobe/do_exit")
int BPF_KRETPROBE(on_exit, long ret)
{
	struct task *t = (void *)bpf_get_current_task();
	int d = BPF_CORE_READ(t, parent, parent, ns.depth);
	int p = BPF_PROBE_READ(t, pid);
	int q;
	BPF_CORE_READ_INTO(&q, t, parent, pid);
	return d + p + q + (int)ret + bpf_core_field_size(t->pid);
}
SEC("fentry/do_exit")
int BPF_PROG(on_exit_fentry, long code)
{
	return code == 0;
}
char LICENSE[] SEC("license") = "GPL";
"#;
    let bytes = build::compile_c_source(src, "probes.c", &BuildOptions::default()).unwrap();
    let o = Object::parse(&bytes).unwrap();
    let p = o.program("on_exit").unwrap();
    assert!(matches!(p.kind, ProgramKind::Kprobe { ret: true, .. }));
    assert!(p.core_relocations.len() >= 4, "{:?}", p.core_relocations);
    assert!(o.program("on_exit_fentry").is_some());
}

#[test]
fn clang_is_found_and_headers_are_written() {
    need_clang!();
    let (path, version) = build::find_clang(&BuildOptions::default()).unwrap();
    assert!(!path.as_os_str().is_empty());
    assert!(version.contains("clang"), "{version}");
    let dir = build::header_dir().unwrap();
    for f in [
        "oxbpf.h",
        "oxbpf_helper_defs.h",
        "bpf/bpf_helpers.h",
        "bpf/bpf_tracing.h",
        "bpf/bpf_core_read.h",
        "bpf/bpf_endian.h",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("oxbpf.h")).unwrap(),
        build::HEADER
    );
}

#[test]
fn ulong_map_fields() {
    need_clang!();
    let src = r#"
#include <linux/bpf.h>
struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 64);
	__type(value, __u64);
	__ulong(map_extra, 5);
} bloom SEC(".maps");
SEC("xdp") int f(void *ctx) { __u64 v = 1; return bpf_map_peek_elem(&bloom, &v); }
"#;
    let bytes = build::compile_c_source(src, "ulong.c", &BuildOptions::default()).unwrap();
    let o = Object::parse(&bytes).unwrap();
    let (_, m) = o.map("bloom").unwrap();
    assert_eq!(
        (m.map_type, m.value_size, m.max_entries, m.map_extra),
        (map_type::BLOOM_FILTER, 8, 64, 5)
    );
}
