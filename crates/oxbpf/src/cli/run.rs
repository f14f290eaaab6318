//! `oxbpf run`: load a program, attach it, stream its output while a command runs (or
//! until Ctrl-C), then print the maps that hold counts or histograms.

use super::{parse_engine, CmdResult, Failure};
use anyhow::anyhow;
use oxbpf::record::{hex, RecordFormat};
use oxbpf::{Bpf, BpfError, FallbackPolicy, PerfEvent};
use std::path::PathBuf;

/// Run eBPF programs on their hooks: in userspace (the default: the system calls of a
/// traced command, or the packets of a capture) or in the kernel (--kernel).
///
/// Every program whose ELF section names a complete target
/// (tracepoint/syscalls/sys_enter_openat, kprobe/do_sys_openat2, ...) is attached there;
/// --attach gives targets for the others, as bpftrace writes them:
/// tracepoint:syscalls:sys_enter_openat, kprobe:do_sys_openat2, kretprobe:FUNC,
/// raw_tracepoint:NAME, uprobe:PATH:SYMBOL, xdp:IFACE, socket:IFACE. With several
/// programs, write NAME=KIND:TARGET.
///
/// Userspace: syscall tracepoints (syscalls:sys_enter_*/sys_exit_*, raw_syscalls:*; kprobes
/// on syscall functions map to them) fire for the command after `--` or the process given
/// with -p; XDP programs and socket
/// filters run over --pcap. Kernel: the programs see the whole system; with a command,
/// oxbpf runs it while they are attached and stops when it exits, with -p it stops when
/// that process exits, otherwise it runs until Ctrl-C. With a command or -p, trace lines are
/// those of the command's process tree or of that process only, as in userspace (--all
/// prints every process's lines, as BCC does); maps, ring and perf buffers get what the
/// programs record for every process unless the programs filter themselves. Where the
/// kernel lacks the hook (kprobes on a kernel without them), the programs fall back to the
/// syscall tracepoints with a one-line notice (--no-fallback refuses).
///
/// Userspace programs are verified for their hooks and run on the JIT (x86-64) as its
/// verified code, without run-time checks; the header line says how they run (`jit,
/// verified`; `jit` with --unverified: checked code; `interp, verified` with --engine
/// interp).
///
/// Trace lines (bpf_trace_printk) are printed as trace_pipe shows them, ring and perf
/// buffer records as hex (or by --format), as they come. At the end, maps that hold counts
/// or histograms are printed. Notices go to stderr. The exit status is the command's.
#[derive(clap::Args)]
#[command(after_help = EXIT)]
pub struct Args {
    /// The program: a C file (.c, compiled with clang) or an ELF object.
    file: PathBuf,
    /// Attach target, KIND:TARGET or PROGRAM=KIND:TARGET (repeatable).
    #[arg(long, value_name = "TARGET")]
    attach: Vec<String>,
    /// Load into the kernel instead of running in userspace.
    #[arg(long)]
    kernel: bool,
    /// When a hook is missing, use the alternative: if-unused (the default: when the
    /// program does not read its context), always, never.
    #[arg(long, value_name = "WHEN", num_args = 0..=1, default_missing_value = "if-unused", value_parser = parse_fallback)]
    fallback: Option<FallbackPolicy>,
    /// Never fall back to another hook.
    #[arg(long, conflicts_with = "fallback")]
    no_fallback: bool,
    /// Engine of the userspace backend: jit (the default on x86-64; verified programs run
    /// as its verified code, without run-time checks) or interp (the reference
    /// interpreter, which checks every access).
    #[arg(long, default_value = oxbpf::DEFAULT_ENGINE_NAME, value_parser = parse_engine)]
    engine: oxbpf::EngineKind,
    /// Skip oxbpf's verifier (userspace): programs run in checked mode, every memory access
    /// checked at run time (on the JIT, its checked code). By default they are verified for
    /// their hooks and, on the JIT, run as its verified code.
    #[arg(long)]
    unverified: bool,
    /// Kernel backend: print the trace lines of every process, not only those of the command
    /// (and what it starts) or of -p PID.
    #[arg(long)]
    all: bool,
    /// Trace the running process PID (userspace: ptrace; kernel: until it exits).
    #[arg(
        short = 'p',
        long = "pid",
        value_name = "PID",
        conflicts_with = "command"
    )]
    pid: Option<i32>,
    /// Run XDP programs and socket filters over the packets of this pcap/pcapng file.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// Write the packets that pass to this pcap file (with --pcap).
    #[arg(long, value_name = "FILE", requires = "pcap")]
    out: Option<PathBuf>,
    /// Print ring/perf records by this field list instead of hex, e.g.
    /// "pid:u32 comm:str16 ret:i64" (types u8..u64, i8..i64, x8..x64, strN, bytesN, padN).
    #[arg(long, value_name = "FIELDS")]
    format: Option<String>,
    /// Do not print the maps at the end.
    #[arg(long)]
    no_maps: bool,
    /// Full verifier logs on rejection (the default is a summary).
    #[arg(short, long)]
    verbose: bool,
    /// The command to run with the programs attached (after `--`).
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

const EXIT: &str = "\
Exit status:
  the command's exit status (128 + N when signal N killed it), or
  0  success without a command
  1  a program was rejected (verifier) or failed to attach
  2  usage error, or input that could not be read, compiled or parsed";

/// Writes a line to stdout, ignoring a closed pipe (`oxbpf run ... | head`).
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

fn parse_fallback(s: &str) -> Result<FallbackPolicy, String> {
    match s {
        "if-unused" | "auto" | "yes" | "on" => Ok(FallbackPolicy::IfContextUnused),
        "always" => Ok(FallbackPolicy::Always),
        "never" | "no" | "off" => Ok(FallbackPolicy::Never),
        other => Err(format!(
            "unknown fallback mode {other:?} (if-unused, always, never)"
        )),
    }
}

fn failure(e: BpfError, verbose: bool) -> Failure {
    failure_with(e, verbose, false)
}

/// As [`failure`]; `no_fallback`: the user refused fallbacks (say how to use them).
fn failure_with(e: BpfError, verbose: bool, no_fallback: bool) -> Failure {
    let mut text = e.summary();
    if let BpfError::Build { source_name, error } = &e {
        // clang's own messages, as `oxbpf build` shows them.
        if let oxbpf_obj::build::BuildError::Compile { diagnostics, .. } = &**error {
            return Failure::input(anyhow!(
                "{source_name}: clang failed:\n{}",
                diagnostics.trim_end()
            ));
        }
    }
    if verbose {
        if let Some(log) = e.verifier_log() {
            text.push_str("\nverifier log:\n");
            text.push_str(log.trim_end());
        }
    } else if e.verifier_log().is_some() {
        text.push_str("\n(--verbose prints the full verifier log)");
    }
    if let BpfError::Kernel(k) = &e {
        if let oxbpf_kernel::KernelError::AttachUnsupported {
            alternative: Some(_),
            ..
        } = &**k
        {
            if no_fallback {
                text.push_str(
                    "; run without --no-fallback to attach there (a program that reads its probe context needs --fallback always), or attach to one of them with --attach tracepoint:CATEGORY:NAME",
                );
            }
        }
        if let oxbpf_kernel::KernelError::NotFound {
            what: "tracepoint",
            name,
        } = &**k
        {
            let event = name.rsplit(':').next().unwrap_or(name);
            text.push_str(&format!(
                " (`oxbpf list tracepoints '*{event}*'` finds tracepoints by name; `oxbpf list tracepoints` lists them all)"
            ));
        }
    }
    let rejected = e.is_rejection()
        || matches!(
            e,
            BpfError::Attach { .. } | BpfError::Unsupported { .. } | BpfError::Kernel(_)
        );
    if rejected {
        Failure::program(anyhow!(text))
    } else {
        Failure::input(anyhow!(text))
    }
}

/// A failed `-- COMMAND`: a command that cannot be started is bad input (exit status 2),
/// on both backends, and the message says so.
fn spawn_failure(e: BpfError, program: &str, verbose: bool) -> Failure {
    if let BpfError::Kernel(k) = &e {
        if let oxbpf_kernel::KernelError::File { path, source } = &**k {
            if path.as_os_str() == program {
                return Failure::input(anyhow!("`{program}` could not be executed: {source}"));
            }
        }
    }
    failure(e, verbose)
}

/// A failed capture run: capture errors name the file they are about.
fn pcap_failure(
    e: BpfError,
    input: &std::path::Path,
    output: Option<&std::path::Path>,
    verbose: bool,
) -> Failure {
    use oxbpf_runtime::packet::PacketError;
    let BpfError::Packet(p) = &e else {
        return failure(e, verbose);
    };
    let text = match (&**p, output) {
        (PacketError::Capture(m), _) => format!("{}: {m}", input.display()),
        (PacketError::Packet { index, message }, _) => {
            format!("{}: packet {index}: {message}", input.display())
        }
        (PacketError::Read(err), _) => format!("{}: {err}", input.display()),
        (PacketError::Write(m), Some(out)) => format!("{}: {m}", out.display()),
        _ => p.to_string(),
    };
    Failure::input(anyhow!(text))
}

/// Splits `NAME=KIND:TARGET` (the program is named when `=` comes before the first `:`).
fn split_attach(s: &str) -> (Option<&str>, &str) {
    match (s.find('='), s.find(':')) {
        (Some(eq), Some(colon)) if eq < colon => (Some(&s[..eq]), &s[eq + 1..]),
        (Some(eq), None) => (Some(&s[..eq]), &s[eq + 1..]),
        _ => (None, s),
    }
}

pub fn run(a: Args) -> CmdResult {
    let verbose = a.verbose;
    let policy = if a.no_fallback {
        FallbackPolicy::Never
    } else {
        a.fallback.unwrap_or(FallbackPolicy::IfContextUnused)
    };
    if !a.kernel && a.command.is_empty() && a.pid.is_none() && a.pcap.is_none() {
        return Err(Failure::input(anyhow!(
            "the userspace backend needs something to run the programs on: a command (-- COMMAND ARGS...), a process (-p PID) or a capture (--pcap FILE); or use --kernel"
        )));
    }
    if a.all && !a.kernel {
        return Err(Failure::input(anyhow!(
            "--all is for the kernel backend (--kernel); in userspace the programs only ever see the command or process they run on"
        )));
    }
    if a.kernel && a.pcap.is_some() {
        return Err(Failure::input(anyhow!(
            "--pcap runs in userspace; the kernel backend attaches XDP programs to interfaces (--attach xdp:IFACE)"
        )));
    }
    if let Some(pid) = a.pid {
        if pid <= 0 || !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return Err(Failure::input(anyhow!(
                "-p {pid}: no such process (`ps` lists the running ones)"
            )));
        }
    }
    let format = match &a.format {
        Some(f) => {
            Some(RecordFormat::parse(f).map_err(|e| Failure::input(anyhow!("--format: {e}")))?)
        }
        None => None,
    };
    let mut builder = Bpf::builder().fallback(policy).engine(a.engine);
    if a.kernel {
        builder = builder.kernel();
    }
    if a.unverified {
        builder = builder.unverified();
    }
    if a.all {
        builder = builder.trace_all_processes();
    }
    if a.file.extension().is_none_or(|e| e != "c") {
        // Not C: it must be an object. Say what `run` takes when it is not one.
        let mut head = [0u8; 4];
        let n = std::fs::File::open(&a.file)
            .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
            .map_err(|e| Failure::input(anyhow!("{}: cannot read: {e}", a.file.display())))?;
        if &head[..n] != b"\x7fELF" {
            return Err(Failure::input(anyhow!(
                "{}: not an ELF object (no ELF magic number) nor C source (a `.c` file): `oxbpf run` takes prog.c or prog.o (`oxbpf build` compiles C; assembly and raw bytecode run with `oxbpf exec`)",
                a.file.display()
            )));
        }
    }
    let mut b = builder.file(&a.file).map_err(|e| failure(e, verbose))?;

    // Attach.
    let programs = b.program_names();
    let mut attached = Vec::new();
    if a.attach.is_empty() {
        if a.pcap.is_some() {
            for p in b.programs().to_vec() {
                let t = match p.kind {
                    oxbpf_obj::ProgramKind::Xdp { .. } => "xdp:pcap",
                    oxbpf_obj::ProgramKind::SocketFilter => "socket:pcap",
                    _ => continue,
                };
                attached.push(b.attach(t, &p.name).map_err(|e| failure(e, verbose))?);
            }
            if attached.is_empty() {
                return Err(Failure::input(anyhow!(
                    "{}: --pcap needs an XDP program (section `xdp`) or a socket filter (section `socket`); found {}",
                    a.file.display(),
                    programs.join(", ")
                )));
            }
        } else {
            attached = b.attach_auto().map_err(|e| failure(e, verbose))?;
        }
    } else {
        for spec in &a.attach {
            let (name, target) = split_attach(spec);
            let name = match name {
                Some(n) => n.to_string(),
                None if programs.len() == 1 => programs[0].clone(),
                None => {
                    return Err(Failure::input(anyhow!(
                        "--attach {spec}: {} has several programs ({}); write PROGRAM={spec}",
                        a.file.display(),
                        programs.join(", ")
                    )))
                }
            };
            attached.push(
                b.attach(target, &name)
                    .map_err(|e| failure_with(e, verbose, a.no_fallback))?,
            );
        }
    }
    let hooks: usize = attached.iter().map(|x| x.hooks.len()).sum();
    // With --pcap the capture is what the programs run on; saying so again is noise.
    if a.pcap.is_none() {
        for x in &attached {
            if let Some(n) = &x.notice {
                eprintln!("oxbpf: {n}");
            }
        }
    }
    eprintln!(
        "Attaching {} program{} to {hooks} hook{} ({})...",
        attached.len(),
        if attached.len() == 1 { "" } else { "s" },
        if hooks == 1 { "" } else { "s" },
        how(b.backend(), &attached)
    );

    // Output.
    b.on_trace(|ev| out!("{}", ev.line()));
    if let Some(obj) = b.object() {
        let maps: Vec<(String, u32)> = obj
            .maps
            .iter()
            .map(|m| (m.name.clone(), m.map_type))
            .collect();
        for (name, t) in maps {
            let label = name.clone();
            let fmt = format.clone();
            let show = move |data: &[u8]| match &fmt {
                Some(f) => format!("{label}: {}", f.format(data)),
                None => format!("{label}: {}", hex(data)),
            };
            match t {
                oxbpf_obj::map_type::RINGBUF => {
                    b.open_ring_buffer(&name, move |d| out!("{}", show(d)))
                        .map_err(|e| failure(e, verbose))?;
                }
                oxbpf_obj::map_type::PERF_EVENT_ARRAY => {
                    let lost_label = name.clone();
                    b.open_perf_buffer(&name, 64, move |ev| match ev {
                        PerfEvent::Sample { data, .. } => out!("{}", show(data)),
                        PerfEvent::Lost { cpu, count } => {
                            eprintln!("oxbpf: {lost_label}: lost {count} samples on CPU {cpu}")
                        }
                    })
                    .map_err(|e| failure(e, verbose))?;
                }
                _ => {}
            }
        }
    }
    oxbpf_kernel::signals::catch_interrupts().map_err(|e| Failure::input(anyhow!("{e}")))?;
    b.set_stop_check(oxbpf_kernel::signals::interrupted);

    // Run.
    let mut code = 0u8;
    if let Some(pcap) = &a.pcap {
        let results = b
            .run_pcap(pcap, a.out.as_deref(), oxbpf::bpf::PacketOptions::default())
            .map_err(|e| pcap_failure(e, pcap, a.out.as_deref(), verbose))?;
        for (prog, s) in results {
            eprintln!("oxbpf: {prog}: {}", pcap_summary(&s));
        }
    } else if !a.command.is_empty() {
        let status = b
            .spawn(&a.command)
            .map_err(|e| spawn_failure(e, &a.command[0], verbose))?;
        code = status.code().clamp(0, 255) as u8;
    } else if let Some(pid) = a.pid {
        eprintln!("Tracing PID {pid}... Hit Ctrl-C to end.");
        if let Some(status) = b.trace_pid(pid).map_err(|e| failure(e, verbose))? {
            code = status.code().clamp(0, 255) as u8;
        }
    } else {
        eprintln!("Tracing... Hit Ctrl-C to end.");
        b.run_until_stopped().map_err(|e| failure(e, verbose))?;
    }
    let stats = b.stats();
    if let Some(e) = &stats.first_error {
        eprintln!(
            "oxbpf: {} of {} runs failed; the first: {e}",
            stats.failures, stats.runs
        );
    }
    let dropped = b.trace_dropped();
    if dropped > 0 {
        eprintln!("oxbpf: {dropped} trace lines were dropped (buffer full)");
    }
    if !a.no_maps {
        let report = b.maps_report().map_err(|e| failure(e, verbose))?;
        if !report.is_empty() {
            out!("\n{}", report.trim_end());
        }
    }
    drop(b);
    if code == 0 {
        Ok(())
    } else {
        Err(Failure::exit(code))
    }
}

/// The backend, and in userspace how the programs run (`userspace, jit, verified`; the
/// distinct modes joined by `; ` when programs run differently).
fn how(backend: oxbpf::Backend, attached: &[oxbpf::AttachInfo]) -> String {
    let mut modes: Vec<&str> = Vec::new();
    for a in attached {
        if !modes.contains(&a.mode) {
            modes.push(a.mode);
        }
    }
    if backend == oxbpf::Backend::Kernel || modes.is_empty() {
        return backend.to_string();
    }
    format!("{backend}, {}", modes.join("; "))
}

fn pcap_summary(s: &oxbpf::bpf::PacketStats) -> String {
    let x = &s.xdp;
    let mut parts = vec![format!("{} packets", s.packets)];
    if x.pass + x.drop + x.aborted + x.tx + x.redirect + x.invalid > 0 {
        parts.push(format!(
            "XDP_PASS {} XDP_DROP {} XDP_TX {} XDP_REDIRECT {} XDP_ABORTED {}",
            x.pass, x.drop, x.tx, x.redirect, x.aborted
        ));
    }
    if s.socket.accepted + s.socket.dropped > 0 {
        parts.push(format!(
            "accepted {} dropped {}",
            s.socket.accepted, s.socket.dropped
        ));
    }
    if s.faults > 0 {
        parts.push(format!("{} faults", s.faults));
    }
    if s.written > 0 {
        parts.push(format!("{} written", s.written));
    }
    parts.join(", ")
}
