//! `oxbpf exec`: run a program and print `r0`.
//!
//! Raw bytecode and assembly text run as plain VM programs over an input buffer; ELF
//! objects run in the userspace runtime (maps, helpers, trace output), see `exec_obj`.

use super::{input, parse_engine, CmdResult, Failure};
use anyhow::anyhow;
use oxbpf::{EngineKind, RunContext, RunOutcome};
use std::path::PathBuf;
use std::time::Instant;

/// Run a program and print r0: raw bytecode or assembly text with an input buffer, or a
/// program of an ELF object in the userspace runtime.
///
/// Raw bytecode and assembly: the program gets r1 = the address of the input buffer and
/// r2 = its length; the buffer is readable and writable. Helper 5 returns its first
/// argument (the bpf_conformance convention); no other helper is registered.
///
/// ELF objects (`prog.o`): the object's maps are created, the program runs with the Linux
/// helpers its type may call, like BPF_PROG_TEST_RUN: with --ctx-hex/--ctx-file as its
/// context (r1), and for XDP and socket filters with --packet-file/--packet-hex as the
/// packet (an Ethernet frame, with the kernel's xdp_md/__sk_buff context). The trace
/// output (bpf_trace_printk) is printed in trace_pipe's format, then r0; --maps prints the
/// maps afterwards; --state DIR keeps the maps between invocations (see `oxbpf map dump`).
///
/// With --repeat N the program runs N times on the same buffer (each run sees what the
/// previous one left; packets are fresh copies) and the time per run is reported.
#[derive(clap::Args)]
#[command(after_help = super::EXIT_CODES)]
pub struct Args {
    /// The program: an ELF object, raw bytecode, or assembly text (told apart by content).
    file: PathBuf,
    /// ELF objects: the program to run (needed when the object has several).
    #[arg(long, value_name = "NAME")]
    program: Option<String>,
    /// ELF objects: the context (r1) as hex bytes.
    #[arg(long, value_name = "HEX", conflicts_with = "ctx_file")]
    ctx_hex: Option<String>,
    /// ELF objects: the context (r1) read from a file.
    #[arg(long, value_name = "F")]
    ctx_file: Option<PathBuf>,
    /// ELF objects: packet data as hex bytes.
    #[arg(long, value_name = "HEX", conflicts_with = "packet_file")]
    packet_hex: Option<String>,
    /// ELF objects: packet data read from a file.
    #[arg(long, value_name = "F")]
    packet_file: Option<PathBuf>,
    /// ELF objects: print every map after the run(s).
    #[arg(long)]
    maps: bool,
    /// ELF objects: keep the maps in DIR between invocations (read before, written after).
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Input buffer as hex bytes ("aa bb cc", "aabbcc" or "0xaabb").
    #[arg(long, value_name = "HEX", conflicts_with = "mem_file")]
    mem_hex: Option<String>,
    /// Input buffer read from a file.
    #[arg(long, value_name = "F")]
    mem_file: Option<PathBuf>,
    /// Engine that runs the program.
    #[arg(long, default_value = "interp", value_parser = parse_engine)]
    engine: EngineKind,
    /// Run the program N times and report the time per run.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    repeat: u64,
    /// Stop a run after N executed instructions (an error, exit status 1).
    #[arg(long, value_name = "N")]
    budget: Option<u64>,
    /// Print one JSON object: r0, ns_per_run, insns_executed, ...
    #[arg(long)]
    json: bool,
}

fn bytes_arg(
    hex: &Option<String>,
    file: &Option<PathBuf>,
    what: &str,
) -> Result<Option<Vec<u8>>, Failure> {
    match (hex, file) {
        (Some(h), _) => oxbpf::hex::decode(h)
            .map(Some)
            .map_err(|e| Failure::input(anyhow!("--{what}-hex: {e}"))),
        (None, Some(f)) => std::fs::read(f)
            .map(Some)
            .map_err(|e| Failure::input(anyhow!("{}: cannot read: {e}", f.display()))),
        (None, None) => Ok(None),
    }
}

pub fn run(a: Args) -> CmdResult {
    let bytes = std::fs::read(&a.file)
        .map_err(|e| Failure::input(anyhow!("{}: cannot read: {e}", a.file.display())))?;
    if bytes.starts_with(b"\x7fELF") {
        if a.mem_hex.is_some() || a.mem_file.is_some() {
            return Err(Failure::input(anyhow!(
                "--mem-hex/--mem-file are for raw programs; give an ELF program its context with --ctx-hex/--ctx-file or a packet with --packet-hex/--packet-file"
            )));
        }
        return super::exec_obj::run(super::exec_obj::ObjectRun {
            file: &a.file,
            bytes: &bytes,
            program: a.program.as_deref(),
            ctx: bytes_arg(&a.ctx_hex, &a.ctx_file, "ctx")?,
            packet: bytes_arg(&a.packet_hex, &a.packet_file, "packet")?,
            engine: a.engine,
            repeat: a.repeat,
            budget: a.budget,
            maps: a.maps,
            json: a.json,
            state: a.state.as_deref(),
        });
    }
    if a.program.is_some()
        || a.ctx_hex.is_some()
        || a.ctx_file.is_some()
        || a.packet_hex.is_some()
        || a.packet_file.is_some()
        || a.maps
        || a.state.is_some()
    {
        return Err(Failure::input(anyhow!(
            "{}: --program, --ctx-*, --packet-*, --maps and --state are for ELF objects; raw programs take --mem-hex/--mem-file",
            a.file.display()
        )));
    }
    let program = input::read_program(&a.file)?;
    let mut mem = match (&a.mem_hex, &a.mem_file) {
        (Some(h), _) => {
            oxbpf::hex::decode(h).map_err(|e| Failure::input(anyhow!("--mem-hex: {e}")))?
        }
        (None, Some(f)) => std::fs::read(f)
            .map_err(|e| Failure::input(anyhow!("{}: cannot read: {e}", f.display())))?,
        (None, None) => Vec::new(),
    };
    let helpers = oxbpf::conformance_helpers();
    let exe = oxbpf::prepare(&program, &helpers, a.engine)
        .map_err(|e| Failure::program(anyhow!("{}: {e}", a.file.display())))?;

    let mut last: Option<RunOutcome> = None;
    let start = Instant::now();
    for _ in 0..a.repeat {
        let mut ctx = RunContext::with_memory(&mut mem).with_budget(a.budget);
        let out = exe
            .run(&mut ctx)
            .map_err(|e| Failure::program(anyhow!("{}: {e}", a.file.display())))?;
        last = Some(out);
    }
    let elapsed = start.elapsed();
    let Some(out) = last else {
        return Err(Failure::input(anyhow!("--repeat must be at least 1")));
    };
    let ns_per_run = elapsed.as_nanos() as f64 / a.repeat as f64;
    let insns = out.insns_executed;
    let ns_per_insn = insns.filter(|&n| n > 0).map(|n| ns_per_run / n as f64);
    let engine = oxbpf::engine_name(a.engine);
    if a.json {
        let v = serde_json::json!({
            "file": a.file.display().to_string(),
            "engine": engine,
            "r0": out.r0,
            "r0_hex": format!("{:#x}", out.r0),
            "runs": a.repeat,
            "ns_per_run": ns_per_run,
            "insns_executed": insns,
            "ns_per_insn": ns_per_insn,
        });
        println!("{v}");
    } else {
        println!("r0 = {} ({:#x})", out.r0, out.r0);
        if a.repeat > 1 {
            let mut line = format!("{} runs ({engine}): {ns_per_run:.1} ns/run", a.repeat);
            if let (Some(n), Some(per)) = (insns, ns_per_insn) {
                line.push_str(&format!(", {n} insns/run, {per:.3} ns/insn"));
            }
            println!("{line}");
        }
    }
    Ok(())
}
