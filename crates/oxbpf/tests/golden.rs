//! Golden tests: `tests/golden/*.test`, each an eBPF program in assembly, its input memory,
//! and what running it must give (result or error, memory afterwards), optionally with the
//! x86-64 the JIT must generate for it. Every program runs on every engine: the reference
//! interpreter, the JIT in checked mode, the JIT in verified mode (unless
//! `engines = checked`: programs that fault are not safe without checks), each JIT mode
//! with and without BMI2 and constant blinding. All must agree with the interpreter.
//!
//! File format (sections in this order; `#` lines before the first section are comments):
//!
//! ```text
//! [program]          assembly (LLVM or conformance syntax)
//! [input]            input memory as hex bytes (r1 = its address, r2 = its length)
//! [options]          `budget = N`, `engines = all | checked`
//! [expect]           `result = 0x..` or `error = <message>`; `memory = <hex>` (optional)
//! [x86 verified]     the JIT's code for each instruction (verified mode, BMI2)
//! [x86 checked]      the same in checked mode
//! ```
//!
//! `OXBPF_BLESS=1 cargo test -p oxbpf --test golden` rewrites `[expect]` and the x86
//! sections from what the engines do now.

use oxbpf_isa::{asm::assemble, disasm::format_insn, Program, Syntax};
use oxbpf_vm::jit::{CpuFeatures, JitMode, JitOptions, JitProgram};
use oxbpf_vm::{Executable, Helpers, Interpreter, RunContext};
use std::fmt::Write;
use std::path::{Path, PathBuf};

#[derive(Default, Debug)]
struct Golden {
    header: String,
    program: String,
    input: Vec<u8>,
    options: Vec<(String, String)>,
    expect: Vec<(String, String)>,
    x86: Vec<(String, String)>,
}

fn parse_hex(s: &str, path: &Path) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| {
            u8::from_str_radix(b, 16)
                .unwrap_or_else(|_| panic!("{}: bad hex byte {b:?}", path.display()))
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    let mut s = String::new();
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push(if i % 16 == 0 { '\n' } else { ' ' });
        }
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn parse(text: &str, path: &Path) -> Golden {
    let mut g = Golden::default();
    let mut section: Option<String> = None;
    let mut body = String::new();
    let flush = |g: &mut Golden, section: &Option<String>, body: &mut String| {
        let b = std::mem::take(body);
        let kv = |b: &str| -> Vec<(String, String)> {
            let mut out: Vec<(String, String)> = Vec::new();
            for line in b.lines() {
                if let Some((k, v)) = line.split_once('=') {
                    out.push((k.trim().to_string(), v.trim().to_string()));
                } else if !line.trim().is_empty() {
                    // Continuation of the previous value (multi-line memory).
                    if let Some(last) = out.last_mut() {
                        last.1.push(' ');
                        last.1.push_str(line.trim());
                    }
                }
            }
            out
        };
        match section.as_deref() {
            None => g.header = b,
            Some("program") => g.program = b,
            Some("input") => g.input = parse_hex(&b, path),
            Some("options") => g.options = kv(&b),
            Some("expect") => g.expect = kv(&b),
            Some(s) if s.starts_with("x86 ") => g
                .x86
                .push((s[4..].trim().to_string(), b.trim_end().to_string())),
            Some(s) => panic!("{}: unknown section [{s}]", path.display()),
        }
    };
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') && t.ends_with(']') {
            flush(&mut g, &section, &mut body);
            section = Some(t[1..t.len() - 1].to_string());
            continue;
        }
        body.push_str(line);
        body.push('\n');
    }
    flush(&mut g, &section, &mut body);
    g
}

fn render(g: &Golden) -> String {
    let mut s = String::new();
    s.push_str(&g.header);
    let _ = write!(s, "[program]\n{}", g.program);
    if !g.input.is_empty() {
        let _ = write!(s, "[input]\n{}\n\n", hex(&g.input));
    }
    if !g.options.is_empty() {
        s.push_str("[options]\n");
        for (k, v) in &g.options {
            let _ = writeln!(s, "{k} = {v}");
        }
        s.push('\n');
    }
    s.push_str("[expect]\n");
    for (k, v) in &g.expect {
        if k == "memory" {
            let bytes = parse_hex(v, Path::new("<expect>"));
            let _ = writeln!(s, "memory =\n{}", hex(&bytes));
        } else {
            let _ = writeln!(s, "{k} = {v}");
        }
    }
    for (mode, text) in &g.x86 {
        let _ = write!(s, "\n[x86 {mode}]\n{text}\n");
    }
    s
}

fn helpers() -> Helpers {
    let mut h = oxbpf_testgen::run::test_helpers();
    h.register(5, "identity", |_, a| Ok(a[0]));
    h
}

fn option<'a>(g: &'a Golden, k: &str) -> Option<&'a str> {
    g.options
        .iter()
        .find(|(kk, _)| kk == k)
        .map(|(_, v)| v.as_str())
}

/// (result line key, value, memory after)
fn run_engine(exe: &dyn Executable, g: &Golden) -> (String, String, Vec<u8>) {
    let mut mem = g.input.clone();
    let r = {
        let mut ctx = RunContext::with_memory(&mut mem);
        ctx.budget = option(g, "budget").map(|b| b.parse().expect("budget"));
        exe.run(&mut ctx)
    };
    match r {
        Ok(o) => ("result".into(), format!("{:#x}", o.r0), mem),
        Err(e) => ("error".into(), hide_addresses(&e.to_string()), mem),
    }
}

/// Host addresses differ from run to run: `0x` numbers of 9+ digits become `<addr>`.
fn hide_addresses(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i]);
        let digits = rest[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        if digits >= 9 {
            out.push_str("<addr>");
        } else {
            out.push_str(&rest[i..i + 2 + digits]);
        }
        rest = &rest[i + 2 + digits..];
    }
    out.push_str(rest);
    out
}

fn x86_listing(prog: &Program, mode: &str) -> String {
    let opts = JitOptions {
        mode: if mode == "checked" {
            JitMode::Checked
        } else {
            JitMode::Verified
        },
        budget_checks: false,
        constant_blinding: false,
        cpu: CpuFeatures { bmi2: true },
    };
    // SAFETY: the code is only listed, never run.
    let jit = unsafe { JitProgram::compile_verified(prog, &helpers(), &opts) }.expect("compile");
    let mut s = String::new();
    let first = (0..prog.len())
        .filter_map(|i| jit.insn_offset(i))
        .min()
        .unwrap_or(jit.body_end());
    s.push_str("; prologue\n");
    for n in jit.disassemble_range(0, first) {
        let _ = writeln!(s, "    {}", n.text);
    }
    for (i, _, insn) in prog.iter() {
        let _ = writeln!(s, "{}", format_insn(insn, Syntax::Llvm));
        if jit.is_fused(i) {
            s.push_str("    ; fused with the previous instruction\n");
        }
        for n in jit.native_of(i) {
            let _ = writeln!(s, "    {:<40} ; {:x}", n.text, n.offset);
        }
    }
    s.trim_end().to_string()
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden")
}

#[test]
fn golden() {
    let bless = std::env::var_os("OXBPF_BLESS").is_some();
    let mut files: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("tests/golden")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|s| s.to_str()) == Some("test"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    let h = helpers();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let mut g = parse(&text, path);
        let prog = assemble(&g.program).unwrap_or_else(|e| panic!("{name}: {e}"));
        let checked_only = option(&g, "engines") == Some("checked");
        let mut engines: Vec<(String, Box<dyn Executable>)> = vec![(
            "interp".to_string(),
            Box::new(Interpreter::new(&prog, &h).unwrap_or_else(|e| panic!("{name}: {e}"))),
        )];
        for mode in [JitMode::Checked, JitMode::Verified] {
            if mode == JitMode::Verified && checked_only {
                continue;
            }
            for (blind, bmi2) in [(false, CpuFeatures::detect().bmi2), (true, false)] {
                let opts = JitOptions {
                    mode,
                    budget_checks: true,
                    constant_blinding: blind,
                    cpu: CpuFeatures { bmi2 },
                };
                // SAFETY: golden programs run in verified mode stay within the memory
                // their runs grant: the ones that fault (their expected result, the
                // interpreter's) are marked `engines: checked` and skipped above.
                let jit = unsafe { JitProgram::compile_verified(&prog, &h, &opts) }
                    .unwrap_or_else(|e| panic!("{name}: {opts:?}: {e}"));
                engines.push((format!("jit {opts:?}"), Box::new(jit)));
            }
        }
        let reference = run_engine(engines[0].1.as_ref(), &g);
        for (ename, e) in &engines[1..] {
            let r = run_engine(e.as_ref(), &g);
            if r != reference {
                failures.push(format!(
                    "{name}: {ename} gives {} = {} (memory {}), reference {} = {}",
                    r.0,
                    r.1,
                    hex(&r.2),
                    reference.0,
                    reference.1
                ));
            }
        }
        let mut want = vec![(reference.0.clone(), reference.1.clone())];
        let had_memory = g.expect.iter().any(|(k, _)| k == "memory");
        if had_memory || (bless && reference.2 != g.input) {
            want.push(("memory".into(), hex(&reference.2)));
        }
        let x86_now: Vec<(String, String)> = g
            .x86
            .iter()
            .map(|(m, _)| (m.clone(), x86_listing(&prog, m)))
            .collect();
        if bless {
            g.expect = want;
            g.x86 = x86_now;
            let out = render(&g);
            if out != text {
                std::fs::write(path, out).unwrap();
                eprintln!("blessed {name}");
            }
            continue;
        }
        let norm = |v: &[(String, String)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, x)| {
                    if k == "memory" {
                        (k.clone(), hex(&parse_hex(x, path)))
                    } else {
                        (k.clone(), x.clone())
                    }
                })
                .collect()
        };
        if norm(&g.expect) != norm(&want) {
            failures.push(format!(
                "{name}: expected {:?}, got {:?}",
                norm(&g.expect),
                norm(&want)
            ));
        }
        for ((m, old), (_, new)) in g.x86.iter().zip(&x86_now) {
            if old.trim() != new.trim() {
                failures.push(format!(
                    "{name}: x86 {m} differs:\n--- expected\n{old}\n--- generated\n{new}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden failures (OXBPF_BLESS=1 rewrites expectations):\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{} golden files", files.len());
}
