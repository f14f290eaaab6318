//! Cross-check with LLVM: C programs of ours are compiled with `clang -O2 -target bpf`,
//! disassembled with `llvm-objdump -d`, and the instruction text must assemble to exactly
//! the bytes clang produced. Our disassembler's text must match `llvm-objdump`'s too, up
//! to the `r`/`w` spelling of registers (objdump picks it from `--mattr`, not from the
//! bytes). Skipped (with a SKIP line) when clang or llvm-objdump is missing.

use oxbpf_isa::{assemble, format_insn, CallTarget, Insn, Program, Syntax};
use std::path::{Path, PathBuf};
use std::process::Command;

const COMMON: &str = r#"
typedef unsigned long long u64; typedef long long s64; typedef unsigned int u32;
typedef int s32; typedef unsigned short u16; typedef unsigned char u8;
struct { int type; int max_entries; } counts __attribute__((section(".maps"), used));
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_trace_printk)(const char *fmt, u32 fmt_size, ...) = (void *)6;
static u64 (*bpf_ktime_get_ns)(void) = (void *)5;
"#;

/// Arithmetic, every load and store size, signed and unsigned comparisons, byte swaps,
/// 64-bit constants.
const ARITH: &str = r#"
__attribute__((section("socket"), used))
int arith(u64 *ctx) {
    u64 a = ctx[0], b = ctx[1];
    u32 c = (u32)ctx[2];
    u16 h = ((u16 *)ctx)[13];
    u8 byte = ((u8 *)ctx)[29];
    u64 r = a + b;
    r -= c; r *= 7; r /= (b | 1); r %= (a | 3);
    r |= 0x10; r &= ~0xffULL; r ^= a; r <<= (c & 7); r >>= 3; r += h * byte;
    s64 s = (s64)r >> 5;
    if (a > b) s += 1;
    if ((s64)a < (s64)b) s -= 2;
    if (a == 42) s *= 3;
    if (b != 7) s ^= 4;
    if (a >= b + 9) s |= 8;
    if (a <= 100) s &= 0x7fff;
    if ((s64)b >= -5) s -= 1000000;
    if ((s64)a <= -9) s += 77;
    if (a & 0x40) s <<= 1;
    r = s + 0x1122334455667788ULL;
    ctx[3] = r;
    ((u32 *)ctx)[8] = (u32)r;
    ((u16 *)ctx)[20] = (u16)r;
    ((u8 *)ctx)[50] = (u8)r;
    u32 w = c * 3 + (c >> 2) - (c << 3);
    w = w / (c | 1) + w % 13;
    if (w > 1000) w ^= 0x55;
    if ((s32)w < -3) w = -w;
    return (int)(r ^ __builtin_bswap64(a) ^ __builtin_bswap32(c) ^ __builtin_bswap16(h) ^ w);
}
"#;

/// Maps, helpers, 64- and 32-bit atomics (fetch forms need -mcpu=v3).
const ATOMICS: &str = r#"
__attribute__((section("xdp"), used))
int maps(void *ctx) {
    int key = 0;
    u64 *v = bpf_map_lookup_elem(&counts, &key);
    if (!v) return 0;
    __sync_fetch_and_add(v, 1);
    u64 old = __sync_fetch_and_add(v, 5);
    u64 x = __sync_lock_test_and_set(v, 9);
    u64 y = __sync_val_compare_and_swap(v, 9, 10);
    __sync_fetch_and_or(v, 2); __sync_fetch_and_and(v, 3); __sync_fetch_and_xor(v, 4);
    u64 z = __sync_fetch_and_or(v, 2) + __sync_fetch_and_and(v, 3) + __sync_fetch_and_xor(v, 4);
    u32 *w = (u32 *)v + 1;
    __sync_fetch_and_add(w, 1);
    u32 o32 = __sync_fetch_and_add(w, 2) + __sync_lock_test_and_set(w, 3)
        + __sync_val_compare_and_swap(w, 3, 4);
    __sync_fetch_and_or(w, 2); __sync_fetch_and_and(w, 3); __sync_fetch_and_xor(w, 4);
    return (int)(old + x + y + z + o32 + bpf_ktime_get_ns());
}
"#;

/// A loop, a string constant, a bpf-to-bpf call.
const CALLS: &str = r#"
__attribute__((noinline)) static int mix(int x, int y) {
    return x * 31 + y;
}
__attribute__((section("tracepoint/x"), used))
int calls(u64 *ctx) {
    char fmt[] = "value %d\n";
    int acc = 0;
    for (int i = 0; i < 16; i++) {
        if (ctx[i] == 0) break;
        acc = mix(acc, (int)ctx[i]);
    }
    bpf_trace_printk(fmt, sizeof(fmt), acc);
    return acc;
}
"#;

fn tool(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn scratch_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("oxbpf-isa-clang-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Compiles `src` and returns the object path.
fn compile(dir: &Path, name: &str, src: &str, cpu: &str) -> PathBuf {
    let c = dir.join(format!("{name}.c"));
    let o = dir.join(format!("{name}-{cpu}.o"));
    std::fs::write(&c, format!("{COMMON}{src}")).unwrap();
    let out = Command::new("clang")
        .args(["-O2", "-target", "bpf", &format!("-mcpu={cpu}"), "-c"])
        .arg(&c)
        .arg("-o")
        .arg(&o)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "clang failed on {name} (-mcpu={cpu}):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    o
}

fn objdump(obj: &Path, raw: bool) -> String {
    let mut cmd = Command::new("llvm-objdump");
    // With +alu32, LLVM 14 decodes every 32-bit atomic; without it, it prints a 32-bit
    // fetch-add as a plain `lock ... +=`.
    cmd.args(["-d", "--mattr=+alu32"]);
    if !raw {
        cmd.arg("--no-show-raw-insn");
    }
    let out = cmd.arg(obj).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A disassembled section: its lines (label headers and instructions) and its bytes.
struct Section {
    name: String,
    lines: Vec<String>,
    insn_texts: Vec<String>,
    bytes: Vec<u8>,
}

fn is_insn_line(l: &str) -> bool {
    let t = l.trim_start();
    let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
    digits > 0 && t[digits..].starts_with(":\t")
}

fn is_header_line(l: &str) -> bool {
    l.ends_with(">:") && l.contains(" <")
}

fn sections(plain: &str, raw: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for l in plain.lines() {
        if let Some(name) = l.strip_prefix("Disassembly of section ") {
            out.push(Section {
                name: name.trim_end_matches(':').to_string(),
                lines: vec![],
                insn_texts: vec![],
                bytes: vec![],
            });
        } else if let Some(s) = out.last_mut() {
            if is_header_line(l) {
                s.lines.push(l.to_string());
            } else if is_insn_line(l) {
                s.lines.push(l.to_string());
                let text = l.split_once(":\t").unwrap().1;
                s.insn_texts.push(text.to_string());
            }
        }
    }
    let mut idx = usize::MAX;
    for l in raw.lines() {
        if l.starts_with("Disassembly of section ") {
            idx = idx.wrapping_add(1);
        } else if is_insn_line(l) {
            let fields = l.split('\t').nth(1).unwrap();
            for b in fields.split(' ') {
                out[idx].bytes.push(u8::from_str_radix(b, 16).unwrap());
            }
        }
    }
    out
}

/// `r`/`w` spelling aside.
fn normalize(s: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let starts_reg = *c == 'w'
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit())
            && (i == 0 || !chars[i - 1].is_ascii_alphanumeric());
        out.push(if starts_reg { 'r' } else { *c });
    }
    out
}

#[test]
fn clang_output_assembles_to_clang_bytes() {
    if !tool("clang") || !tool("llvm-objdump") {
        eprintln!("SKIP: clang or llvm-objdump not found");
        return;
    }
    let dir = scratch_dir();
    let mut checked = 0;
    for (name, src, cpus) in [
        ("arith", ARITH, &["v1", "v2", "v3"][..]),
        ("atomics", ATOMICS, &["v3"][..]),
        ("calls", CALLS, &["v1", "v3"][..]),
    ] {
        for cpu in cpus {
            let obj = compile(&dir, name, src, cpu);
            let plain = objdump(&obj, false);
            let raw = objdump(&obj, true);
            for sec in sections(&plain, &raw) {
                let what = format!("{name} -mcpu={cpu} section {}", sec.name);
                let expected = Program::decode(&sec.bytes)
                    .unwrap_or_else(|e| panic!("{what}: clang's bytes: {e}"));
                // The section's text, label headers included.
                let ours = assemble(&sec.lines.join("\n"))
                    .unwrap_or_else(|e| panic!("{what}: {e}\n{plain}"));
                // The raw-byte listing assembles too (prefixes skipped).
                let ours_raw = assemble(&raw_listing(&raw, &sec.name))
                    .unwrap_or_else(|e| panic!("{what} (raw listing): {e}"));
                assert_eq!(ours_raw, ours, "{what}");
                assert_eq!(ours.len(), expected.len(), "{what}");
                for (i, (got, want)) in ours.insns().iter().zip(expected.insns()).enumerate() {
                    let text = &sec.insn_texts[i];
                    match (got, want) {
                        // LLVM prints a bpf-to-bpf call as `call <imm>`, the same text as a
                        // helper call: the text cannot say which it is.
                        (Insn::Call(CallTarget::Helper(a)), Insn::Call(CallTarget::Local(b))) => {
                            assert_eq!(a, b, "{what}: `{text}`");
                            continue;
                        }
                        _ => assert_eq!(got, want, "{what}: `{text}`"),
                    }
                    // Our text equals objdump's, target annotation and r/w spelling aside.
                    let theirs = match text.rfind(" <") {
                        Some(p) if text.ends_with('>') => &text[..p],
                        _ => text.as_str(),
                    };
                    assert_eq!(
                        normalize(&format_insn(want, Syntax::Llvm)),
                        normalize(theirs),
                        "{what}: instruction {i}"
                    );
                    checked += 1;
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(checked > 200, "only {checked} instructions checked");
    eprintln!("{checked} clang-compiled instructions checked against llvm-objdump");
}

/// The raw-byte objdump listing of one section (addresses, bytes, text, labels).
fn raw_listing(raw: &str, section: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for l in raw.lines() {
        if let Some(name) = l.strip_prefix("Disassembly of section ") {
            inside = name.trim_end_matches(':') == section;
        } else if inside && (is_insn_line(l) || is_header_line(l)) {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}
