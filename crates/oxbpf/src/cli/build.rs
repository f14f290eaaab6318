//! `oxbpf build`: C to an eBPF object with clang and oxbpf's header.

use super::{CmdResult, Failure};
use anyhow::anyhow;
use oxbpf_obj::build::{self, BuildError, BuildOptions};
use oxbpf_obj::Object;
use std::path::PathBuf;

const EXIT: &str = "\
Exit status:
  0  success
  2  usage error, clang missing or failing (its messages are shown), or input that could not be read";

/// Compile a C file to an eBPF object.
///
/// Runs `clang -O2 -g -target bpf -D__TARGET_ARCH_<host>` with oxbpf's header included
/// automatically: every helper with its Linux id, SEC, __uint/__type/__array, bpf_printk,
/// BCC's bpf_trace_printk("...") (the size argument is added), BPF_CORE_READ, PT_REGS_*,
/// BPF_KPROBE and BPF_PROG. <bpf/bpf_helpers.h> and the other libbpf headers resolve to it,
/// so libbpf-style and BCC-style programs compile unchanged. Warnings from clang go to
/// stderr; the object is then loaded to list its programs and maps.
#[derive(clap::Args)]
#[command(after_help = EXIT)]
pub struct Args {
    /// The C source file.
    file: PathBuf,
    /// The object to write (default: the source path with the extension `.o`).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Add a directory to the include search path.
    #[arg(short = 'I', value_name = "DIR")]
    include: Vec<PathBuf>,
    /// Define a macro: NAME or NAME=VALUE.
    #[arg(short = 'D', value_name = "NAME[=VALUE]")]
    define: Vec<String>,
    /// Optimisation level.
    #[arg(short = 'O', value_name = "N", default_value_t = 2)]
    opt: u8,
    /// Leave out debug info: no BTF, so no line info and no BTF-defined (.maps) maps.
    #[arg(long)]
    no_debug: bool,
    /// The clang to run (default: $OXBPF_CLANG, else clang from PATH).
    #[arg(long, value_name = "PATH")]
    clang: Option<PathBuf>,
    /// Architecture for __TARGET_ARCH_* (x86, arm64, ...; default: the host's).
    #[arg(long, value_name = "ARCH")]
    arch: Option<String>,
    /// Do not include oxbpf's header.
    #[arg(long)]
    no_header: bool,
    /// Arguments passed to clang as they are (after `--`).
    #[arg(last = true, value_name = "CLANG_ARGS")]
    clang_args: Vec<String>,
}

pub fn run(mut a: Args) -> CmdResult {
    let head = std::fs::read(&a.file)
        .map_err(|e| Failure::input(anyhow!("{}: cannot read: {e}", a.file.display())))?;
    if head.starts_with(b"\x7fELF") {
        return Err(Failure::input(anyhow!(
            "{}: already an ELF object, not C source: give it as it is to `oxbpf run`, `oxbpf exec`, `oxbpf verify` or `oxbpf disasm`",
            a.file.display()
        )));
    }
    let dest = a
        .output
        .clone()
        .unwrap_or_else(|| a.file.with_extension("o"));
    if dest == a.file {
        return Err(Failure::input(anyhow!(
            "{}: the object would overwrite the source; name it with -o FILE",
            a.file.display()
        )));
    }
    // clang picks the language by extension and takes other files (`prog.bpf`, `x.o`) as
    // linker input, compiling nothing: the file is C whatever its name.
    if a.file.extension().is_none_or(|e| e != "c") {
        a.clang_args
            .splice(0..0, ["-x".to_string(), "c".to_string()]);
    }
    let defines = a
        .define
        .iter()
        .map(|d| match d.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (d.clone(), None),
        })
        .collect();
    let opts = BuildOptions {
        clang: a.clang,
        include_dirs: a.include,
        defines,
        extra_args: a.clang_args,
        opt_level: a.opt,
        debug_info: !a.no_debug,
        target_arch: a.arch,
        include_header: !a.no_header,
        ..BuildOptions::default()
    };
    let out = build::compile_file(&a.file, &opts).map_err(|e| match e {
        BuildError::Compile { diagnostics, .. } => Failure::input(anyhow!(
            "{}: clang failed:\n{}",
            a.file.display(),
            diagnostics.trim_end()
        )),
        e => Failure::input(anyhow!("{}: {e}", a.file.display())),
    })?;
    if !out.diagnostics.is_empty() {
        eprint!("{}", out.diagnostics);
    }
    std::fs::write(&dest, &out.object)
        .map_err(|e| Failure::input(anyhow!("{}: cannot write: {e}", dest.display())))?;
    match Object::parse(&out.object) {
        Ok(obj) => {
            let progs: Vec<String> = obj
                .programs
                .iter()
                .map(|p| format!("{} ({}, {})", p.name, p.section, p.kind))
                .collect();
            let maps: Vec<&str> = obj.maps.iter().map(|m| m.name.as_str()).collect();
            println!(
                "{}: {} program{}: {}",
                dest.display(),
                obj.programs.len(),
                if obj.programs.len() == 1 { "" } else { "s" },
                if progs.is_empty() {
                    "none".to_string()
                } else {
                    progs.join(", ")
                }
            );
            if !maps.is_empty() {
                println!(
                    "{}: {} map{}: {}",
                    dest.display(),
                    maps.len(),
                    if maps.len() == 1 { "" } else { "s" },
                    maps.join(", ")
                );
            }
        }
        // clang's object is written; say why oxbpf itself cannot load it (an extern
        // symbol, a kfunc, ...) without failing the build.
        Err(e) => eprintln!(
            "oxbpf: warning: {}: written, but oxbpf cannot load it: {e}",
            dest.display()
        ),
    }
    Ok(())
}
