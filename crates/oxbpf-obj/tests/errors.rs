//! Malformed and unsupported objects: each gets an error naming the section, symbol,
//! relocation or instruction, never a panic.

mod common;

use object::{Object as _, ObjectSection as _};
use oxbpf_obj::build::{self, BuildError, BuildOptions};
use oxbpf_obj::{ObjError, Object};

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(
        common::root()
            .join("tests/fixtures")
            .join(format!("{name}.o")),
    )
    .unwrap()
}

/// File offset of section `name`.
fn section_offset(bytes: &[u8], name: &str) -> usize {
    let f = object::File::parse(bytes).unwrap();
    let s = f
        .section_by_name(name)
        .unwrap_or_else(|| panic!("no {name}"));
    s.file_range().unwrap().0 as usize
}

fn err(bytes: &[u8]) -> String {
    Object::parse(bytes).map(|_| ()).unwrap_err().to_string()
}

#[test]
fn not_an_elf_object() {
    assert_eq!(err(b"hello"), "malformed ELF object: no ELF magic number");
    assert_eq!(err(b""), "malformed ELF object: no ELF magic number");
    let mut b = fixture_bytes("calls");
    b[5] = 2; // big-endian
    assert!(err(&b).contains("big-endian"), "{}", err(&b));
    let mut b = fixture_bytes("calls");
    b[4] = 1; // 32-bit
    assert!(err(&b).contains("32-bit"));
    let mut b = fixture_bytes("calls");
    b[18] = 62; // EM_X86_64
    assert_eq!(
        err(&b),
        "not an eBPF object: ELF machine is 62, not eBPF (247)"
    );
    let mut b = fixture_bytes("calls");
    b[16] = 2; // ET_EXEC
    assert!(err(&b).contains("not a relocatable object"));
    let b = fixture_bytes("calls");
    let e = err(&b[..100]);
    assert!(e.starts_with("malformed ELF object"), "{e}");
}

#[test]
fn bad_relocations_name_the_place() {
    let base = fixture_bytes("calls");
    let rel = section_offset(&base, ".reltp/sched/sched_switch");
    // Entry 1: r_offset 0x20 (slot 4, call global_add), r_info = (sym << 32) | type.

    // A symbol index past the symbol table.
    let mut b = base.clone();
    b[rel + 16 + 12..rel + 16 + 16].copy_from_slice(&9999u32.to_le_bytes());
    assert_eq!(
        err(&b),
        "section `tp/sched/sched_switch`: relocation at byte offset 32 refers to symbol index \
         9999, which does not exist"
    );

    // A relocation that is not instruction-aligned.
    let mut b = base.clone();
    b[rel + 16] = 0x21;
    assert_eq!(
        err(&b),
        "section `tp/sched/sched_switch`, instruction 4: relocation at byte offset 33 is not \
         instruction-aligned"
    );

    // A relocation at an instruction that is neither a call nor a lddw (slot 1, a mov).
    let mut b = base.clone();
    b[rel + 16] = 0x08;
    assert_eq!(
        err(&b),
        "section `tp/sched/sched_switch`, instruction 1: relocation against `global_add` on an \
         instruction that is neither a lddw nor a call (opcode 0xbf)"
    );

    // A relocation past the end of the section.
    let mut b = base.clone();
    b[rel + 16] = 0x80;
    assert_eq!(
        err(&b),
        "section `tp/sched/sched_switch`, instruction 16: relocation outside every function"
    );
}

#[test]
fn bad_code_names_the_function_and_instruction() {
    let base = fixture_bytes("calls");
    let text = section_offset(&base, "tp/sched/sched_switch");
    let mut b = base.clone();
    b[text + 8] = 0xff; // slot 1 opcode
    assert_eq!(
        err(&b),
        "section `tp/sched/sched_switch`, function `caller_one`, instruction 1: unknown \
         opcode 0xff"
    );
    // A linked callee's bad instruction is reported in its own section.
    let text = section_offset(&base, ".text");
    let mut b = base.clone();
    b[text + 8 * 12] = 0xff; // square's second instruction (.text slot 12)
    assert_eq!(
        err(&b),
        "section `.text`, function `square`, instruction 12: unknown opcode 0xff"
    );
    // A pc-relative call into the middle of a function: sum_squares' `call 5` (slot 5,
    // to square at 11) made `call 4`.
    let mut b = base.clone();
    b[text + 8 * 5 + 4] = 4;
    assert_eq!(
        err(&b),
        "section `.text`, instruction 5: call target 10 is not the start of a function in \
         `.text`"
    );
}

#[test]
fn bad_sections_are_named() {
    let base = fixture_bytes("global_data");
    // Rename the `xdp` section to `xdq`: an executable section libbpf does not know.
    let f = object::File::parse(&*base).unwrap();
    let strtab = f.section_by_name(".strtab").unwrap();
    let (off, size) = strtab.file_range().unwrap();
    let data = &base[off as usize..(off + size) as usize];
    let pos = data
        .windows(4)
        .position(|w| w == b"xdp\0")
        .expect("xdp in .strtab");
    let mut b = base.clone();
    b[off as usize + pos + 2] = b'q';
    assert_eq!(err(&b), "section `xdq`: unknown program section type `xdq`");

    // A license without its NUL terminator.
    let lic = section_offset(&base, "license");
    let mut b = base.clone();
    b[lic + 3] = b'!';
    assert_eq!(
        err(&b),
        "section `license`: license string is not NUL-terminated"
    );

    // Corrupt BTF magic.
    let btf = section_offset(&base, ".BTF");
    let mut b = base.clone();
    b[btf] = 0;
    assert_eq!(
        err(&b),
        "section `.BTF`: offset 0: bad magic 0xeb00 (expected 0xeb9f)"
    );
}

fn compile(src: &str, opts: &BuildOptions) -> Vec<u8> {
    build::compile_c_source(src, "bad.c", opts).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn unsupported_features_are_typed_errors() {
    if let Some(why) = common::clang_missing() {
        println!("SKIP: {why}");
        return;
    }
    let opts = BuildOptions::default();
    // An extern __kconfig variable.
    let o = compile(
        "extern unsigned int LINUX_KERNEL_VERSION __kconfig;\n\
         SEC(\"tracepoint/syscalls/sys_enter_openat\")\n\
         int f(void *ctx) { return LINUX_KERNEL_VERSION > 5; }\n",
        &opts,
    );
    let e = Object::parse(&o).unwrap_err();
    assert!(matches!(e, ObjError::Unsupported { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "section `tracepoint/syscalls/sys_enter_openat`, instruction 0: unsupported: \
         reference to extern symbol `LINUX_KERNEL_VERSION` (__kconfig / __ksym externs are \
         not supported)"
    );
    // A kfunc call.
    let o = compile(
        "extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;\n\
         SEC(\"tp_btf/task_newtask\")\n\
         int f(void *ctx) { return bpf_task_acquire(0) != 0; }\n",
        &opts,
    );
    let e = Object::parse(&o).unwrap_err();
    assert!(matches!(e, ObjError::Unsupported { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("call to extern function `bpf_task_acquire`"),
        "{e}"
    );
    // BTF-defined maps without -g.
    let o = compile(
        "#include <linux/bpf.h>\n\
         struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1);\n\
         __type(key, int); __type(value, int); } m SEC(\".maps\");\n\
         SEC(\"xdp\") int f(void *ctx) { int k = 0; return bpf_map_lookup_elem(&m, &k) != 0; }\n",
        &BuildOptions {
            debug_info: false,
            ..BuildOptions::default()
        },
    );
    assert_eq!(
        Object::parse(&o).unwrap_err().to_string(),
        "section `.maps`: BTF-defined maps need a `.BTF` section (compile with -g)"
    );
    // An unknown program section.
    let o = compile(
        "SEC(\"bogus/thing\") int f(void *ctx) { return 0; }\n",
        &opts,
    );
    assert_eq!(
        Object::parse(&o).unwrap_err().to_string(),
        "section `bogus/thing`: unknown program section type `bogus`"
    );
    // A map definition field of the wrong shape.
    let o = compile(
        "struct { int type; } m SEC(\".maps\");\n\
         SEC(\"xdp\") int f(void *ctx) { return bpf_map_lookup_elem(&m, 0) != 0; }\n",
        &opts,
    );
    let e = Object::parse(&o).unwrap_err().to_string();
    assert!(
        e.starts_with("section `.maps`: map `m`: field `type` must be declared with __uint()"),
        "{e}"
    );
}

#[test]
fn compile_errors_carry_clang_diagnostics() {
    if let Some(why) = common::clang_missing() {
        println!("SKIP: {why}");
        return;
    }
    let e = build::compile_c_source(
        "int f(void *ctx) { return undefined_thing; }\n",
        "broken.c",
        &BuildOptions::default(),
    )
    .unwrap_err();
    let BuildError::Compile {
        file, diagnostics, ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(file, "broken.c");
    assert!(
        diagnostics
            .contains("broken.c:1:27: error: use of undeclared identifier 'undefined_thing'"),
        "{diagnostics}"
    );
    assert!(e.to_string().contains("clang failed to compile broken.c"));
}
