//! `oxbpf verify`: prove programs safe, or explain why they are not.

use super::{input, CmdResult, Failure};
use anyhow::anyhow;
use oxbpf_verifier::{
    verify, verify_with_log, ContextDescriptor, LineInfo, ProgramType, SourceLine, Verified,
    VerifierConfig, VerifyError,
};
use serde::Serialize;
use std::path::PathBuf;

/// Verify the programs of an ELF object, or one program in assembly or raw bytecode.
///
/// Every path is followed with abstract values, as the Linux verifier does. Accepted
/// programs are safe to run without run-time checks; for a rejected one the error names
/// the instruction, its source line, the branch decisions that led there, the registers
/// and stack involved, and what to change.
#[derive(clap::Args)]
#[command(after_help = super::EXIT_CODES)]
pub struct Args {
    /// An ELF object (`clang -target bpf -g`, `oxbpf build`), an assembly file or raw
    /// bytecode.
    file: PathBuf,
    /// Objects: verify only this program.
    #[arg(long, value_name = "NAME")]
    program: Option<String>,
    /// Program type for assembly and bytecode files (xdp, kprobe, tracepoint,
    /// socket_filter, sched_cls, sched_act, perf_event, cgroup_skb, raw_tracepoint).
    #[arg(long = "type", value_name = "TYPE")]
    prog_type: Option<String>,
    /// Full reports: the path, the abstract state and hints for rejections, statistics
    /// for accepted programs.
    #[arg(long, short)]
    verbose: bool,
    /// Print the verdicts as JSON.
    #[arg(long)]
    json: bool,
    /// Print the verifier's state trace (comparable to the kernel's verifier log).
    #[arg(long)]
    log: bool,
    /// Accept reads of uninitialized stack, as Linux does for privileged loaders.
    #[arg(long)]
    allow_uninit_stack: bool,
}

#[derive(Serialize)]
struct Verdict<'a> {
    program: &'a str,
    section: &'a str,
    accepted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stats: Option<&'a oxbpf_verifier::Stats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a VerifyError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log: Option<&'a str>,
}

/// A verdict and, with `--log`, the state trace.
type Outcome = (Result<Verified, Box<VerifyError>>, Option<String>);

struct Job {
    name: String,
    section: String,
    program: oxbpf::Program,
    config: VerifierConfig,
}

fn prog_type(name: &str) -> Result<ProgramType, Failure> {
    Ok(match name {
        "socket_filter" | "socket" => ProgramType::SocketFilter,
        "kprobe" | "uprobe" => ProgramType::Kprobe,
        "sched_cls" | "tc" => ProgramType::SchedCls,
        "sched_act" => ProgramType::SchedAct,
        "tracepoint" => ProgramType::Tracepoint,
        "xdp" => ProgramType::Xdp,
        "perf_event" => ProgramType::PerfEvent,
        "cgroup_skb" => ProgramType::CgroupSkb,
        "raw_tracepoint" | "raw_tp" => ProgramType::RawTracepoint,
        other => {
            return Err(Failure::input(anyhow!(
                "unknown program type `{other}` (known: xdp, kprobe, uprobe, tracepoint, \
                 raw_tracepoint, socket_filter, sched_cls, sched_act, perf_event, cgroup_skb)"
            )))
        }
    })
}

/// The layout of a tracepoint's record from tracefs, when it is readable.
fn tracefs_context(category: &str, name: &str) -> Option<ContextDescriptor> {
    let tracefs = oxbpf_kernel::Tracefs::find()?;
    let path = tracefs.path(format!("events/{category}/{name}/format"));
    let text = std::fs::read_to_string(path).ok()?;
    ContextDescriptor::from_tracepoint_format(&text).ok()
}

fn object_jobs(a: &Args, bytes: &[u8]) -> Result<Vec<Job>, Failure> {
    let file = a.file.display();
    let obj =
        oxbpf_obj::Object::parse(bytes).map_err(|e| Failure::input(anyhow!("{file}: {e}")))?;
    let mut jobs = Vec::new();
    for p in &obj.programs {
        if a.program.as_deref().is_some_and(|n| n != p.name) {
            continue;
        }
        let mut config = VerifierConfig::for_object_program(&obj, p)
            .map_err(|e| Failure::input(anyhow!("{file}: {e}")))?;
        if let oxbpf_obj::ProgramKind::Tracepoint { category, name } = &p.kind {
            if config.context.is_none() {
                config.context = tracefs_context(category, name);
            }
        }
        jobs.push(Job {
            name: p.name.clone(),
            section: p.section.clone(),
            program: p.insns.clone(),
            config,
        });
    }
    if jobs.is_empty() {
        return Err(Failure::input(match &a.program {
            Some(n) => {
                let names: Vec<&str> = obj.programs.iter().map(|p| p.name.as_str()).collect();
                anyhow!(
                    "{file}: no program named `{n}` (programs: {})",
                    names.join(", ")
                )
            }
            None => anyhow!("{file}: the object has no programs"),
        }));
    }
    Ok(jobs)
}

pub fn run(a: Args) -> CmdResult {
    let bytes = std::fs::read(&a.file)
        .map_err(|e| Failure::input(anyhow!("{}: cannot read: {e}", a.file.display())))?;
    let mut jobs = if bytes.starts_with(b"\x7fELF") {
        object_jobs(&a, &bytes)?
    } else {
        let Some(t) = a.prog_type.as_deref() else {
            return Err(Failure::input(anyhow!(
                "{}: not an ELF object: give the program type with --type",
                a.file.display()
            )));
        };
        let mut config = VerifierConfig::new(prog_type(t)?);
        let program = match input::read_source(&a.file)? {
            input::Source::Bytecode(b) => input::decode(&a.file, &b)?,
            input::Source::Text(text) => {
                // Assembly: errors point at its lines.
                let (program, lines) = oxbpf::isa::assemble_with_lines(&text).map_err(|e| {
                    Failure::input(anyhow!(
                        "{}:{}:{}: {}",
                        a.file.display(),
                        e.line,
                        e.column,
                        e.message
                    ))
                })?;
                let src: Vec<&str> = text.lines().collect();
                config = config.with_line_info(
                    lines
                        .iter()
                        .enumerate()
                        .map(|(i, &l)| LineInfo {
                            pc: program.slot(i),
                            line: SourceLine {
                                file: a.file.display().to_string(),
                                line: l as u32,
                                column: 0,
                                text: src
                                    .get(l - 1)
                                    .map(|s| s.trim().to_string())
                                    .unwrap_or_default(),
                            },
                        })
                        .collect(),
                );
                program
            }
        };
        vec![Job {
            name: a.file.display().to_string(),
            section: String::new(),
            program,
            config,
        }]
    };
    let mut results: Vec<Outcome> = Vec::new();
    for j in &mut jobs {
        j.config.allow_uninit_stack = a.allow_uninit_stack;
        if a.log {
            let (r, log) = verify_with_log(&j.program, &j.config);
            results.push((r, Some(log)));
        } else {
            results.push((verify(&j.program, &j.config), None));
        }
    }
    let rejected = results.iter().filter(|(r, _)| r.is_err()).count();
    if a.json {
        let verdicts: Vec<Verdict<'_>> = jobs
            .iter()
            .zip(&results)
            .map(|(j, (r, log))| Verdict {
                program: &j.name,
                section: &j.section,
                accepted: r.is_ok(),
                stats: r.as_ref().ok().map(|v| &v.stats),
                error: r.as_ref().err().map(|e| e.as_ref()),
                log: log.as_deref(),
            })
            .collect();
        let text = serde_json::to_string_pretty(&verdicts)
            .map_err(|e| Failure::input(anyhow!("JSON output: {e}")))?;
        println!("{text}");
    } else {
        for (j, (r, log)) in jobs.iter().zip(&results) {
            let what = if j.section.is_empty() {
                j.name.clone()
            } else {
                format!("{} ({})", j.name, j.section)
            };
            if let Some(log) = log {
                println!("--- verifier log of {what}");
                print!("{log}");
            }
            match r {
                Ok(v) => {
                    let s = &v.stats;
                    println!(
                        "{what}: accepted ({} instructions processed, {} states, peak {}, stack {} bytes)",
                        s.insns_processed,
                        s.states_stored,
                        s.peak_states,
                        s.functions.iter().map(|f| f.stack_depth).max().unwrap_or(0)
                    );
                    if a.verbose {
                        for f in &s.functions {
                            println!(
                                "  function at {}: {} bytes of stack",
                                f.start_pc, f.stack_depth
                            );
                        }
                    }
                }
                Err(e) => {
                    if a.verbose {
                        println!("{what}: rejected");
                        print!("{}", e.report());
                    } else {
                        println!("{what}: rejected: {}", e.summary());
                    }
                }
            }
        }
    }
    if rejected > 0 {
        return Err(Failure::program(anyhow!(
            "{}: {rejected} of {} program(s) rejected",
            a.file.display(),
            jobs.len()
        )));
    }
    Ok(())
}
