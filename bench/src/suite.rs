//! One benchmark run: every workload on every engine, checked against the native result,
//! then timed; the empty program; compile throughput; memory.

use crate::cputime::thread_cpu_time;
use crate::engines::{self, Class, Engine, Footprint, Origin};
use crate::engines::{FreshContext, Prepared};
use crate::gen::generated_program;
use crate::measure::{measure_interleaved, Measurement, Settings};
use crate::programs::{Workload, PROGRAMS};
use crate::Input;
use anyhow::Result;
use std::time::Duration;

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Only rows whose name contains one of these (programs, `empty`, `compile`).
    pub filter: Vec<String>,
    pub settings: Settings,
    /// Instruction slots of the generated program for compile throughput.
    pub compile_slots: usize,
    /// Prepares per compile measurement (the median is reported).
    pub compile_repeats: usize,
    /// Leave out engines whose name contains one of these.
    pub skip_engines: Vec<String>,
    /// Print progress to stderr.
    pub progress: bool,
}

impl Options {
    fn wants(&self, name: &str) -> bool {
        self.filter.is_empty() || self.filter.iter().any(|f| name.contains(f.as_str()))
    }
}

/// An engine as the report shows it.
#[derive(Clone, Debug)]
pub struct EngineInfo {
    pub name: &'static str,
    pub class: Class,
    pub origin: Origin,
    pub bits: u32,
}

/// One workload on one engine.
#[derive(Clone, Debug)]
pub struct Cell {
    /// The timing, or why there is none.
    pub time: Result<Measurement, String>,
    /// Set when the engine's `r0` differs from the native result (or the engine wrote
    /// to the input).
    pub mismatch: Option<String>,
    pub footprint: Option<Footprint>,
}

/// One workload on every engine.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: String,
    pub about: String,
    pub slots: usize,
    pub loop_heavy: bool,
    /// The native result.
    pub expected: Option<u64>,
    /// eBPF instructions one run executes (counted by an engine that counts).
    pub executed: Option<u64>,
    /// One per engine, in [`Results::engines`] order.
    pub cells: Vec<Cell>,
}

/// Preparing (decode / compile / load) one program on one engine.
#[derive(Clone, Debug)]
pub struct CompileRow {
    pub engine: &'static str,
    pub workload: String,
    pub slots: usize,
    /// Median time of one prepare.
    pub time: Result<Duration, String>,
    /// `r0` of one run after preparing, when the engine could run it.
    pub r0: Option<Result<u64, String>>,
}

/// Everything one run measured.
pub struct Results {
    pub settings: Settings,
    /// Empty program with a new per-run context for every run, for the engines that let
    /// callers keep one between runs: (engine, ns per run).
    pub empty_fresh: Vec<(&'static str, Result<Measurement, String>)>,
    pub engines: Vec<EngineInfo>,
    /// Engines that could not be used here, with the reason.
    pub unavailable: Vec<(&'static str, String)>,
    pub rows: Vec<Row>,
    pub empty: Option<Row>,
    pub compile: Vec<CompileRow>,
}

impl Results {
    /// Index of the engine called `name`.
    pub fn engine(&self, name: &str) -> Option<usize> {
        self.engines.iter().position(|e| e.name == name)
    }

    /// Every mismatch, as "program / engine: message".
    pub fn mismatches(&self) -> Vec<String> {
        let mut out = Vec::new();
        for row in self.rows.iter().chain(self.empty.iter()) {
            for (e, cell) in self.engines.iter().zip(&row.cells) {
                if let Some(m) = &cell.mismatch {
                    out.push(format!("{} / {}: {m}", row.name, e.name));
                }
            }
        }
        out
    }
}

fn mask(v: u64, bits: u32) -> u64 {
    if bits >= 64 {
        v
    } else {
        v & ((1u64 << bits) - 1)
    }
}

fn run_row(engines: &[Box<dyn Engine>], w: &Workload, input: &mut Input, opts: &Options) -> Row {
    let pristine = input.0;
    let expected = w.native.map(|f| f(&input.0));
    // Prepare every engine and check its result; then time them all together.
    let mut prepared = Vec::new();
    let mut cells = Vec::new();
    let mut executed = None;
    for engine in engines {
        if opts.progress {
            eprint!("  {:<10} {:<16}\r", w.name, engine.name());
        }
        let mut cell = Cell {
            time: Err(String::new()),
            mismatch: None,
            footprint: None,
        };
        match engine.prepare(w) {
            Err(e) => cell.time = Err(format!("{e:#}")),
            Ok(mut p) => {
                cell.footprint = Some(p.footprint());
                match p.run(&mut input.0) {
                    Err(e) => cell.time = Err(format!("{e:#}")),
                    Ok(r0) => {
                        if let Some(exp) = expected {
                            let bits = engine.result_bits();
                            if mask(r0, bits) != mask(exp, bits) {
                                cell.mismatch = Some(format!(
                                    "r0 = {r0:#x}, native = {exp:#x} (compared: low {bits} bits)"
                                ));
                            }
                        }
                        if executed.is_none() {
                            executed = p.insns_executed(&mut input.0);
                        }
                        prepared.push((cells.len(), p));
                    }
                }
                if input.0 != pristine {
                    input.0 = pristine;
                    note_write(&mut cell);
                }
            }
        }
        cells.push(cell);
    }
    if opts.progress {
        eprint!("  {:<10} {:<16}\r", w.name, "timing");
    }
    let mut refs: Vec<&mut (dyn Prepared + '_)> =
        prepared.iter_mut().map(|(_, p)| p.as_mut()).collect();
    let times = measure_interleaved(&mut refs, &mut input.0, &opts.settings);
    drop(refs);
    for ((i, _), t) in prepared.iter().zip(times) {
        cells[*i].time = t.map_err(|e| format!("{e:#}"));
    }
    if input.0 != pristine {
        // Some engine wrote during the timing; find out which by running each again.
        for (i, p) in prepared.iter_mut() {
            input.0 = pristine;
            let _ = p.run(&mut input.0);
            if input.0 != pristine {
                note_write(&mut cells[*i]);
            }
        }
        input.0 = pristine;
    }
    Row {
        name: w.name.clone(),
        about: w.about.clone(),
        slots: w.slots(),
        loop_heavy: w.loop_heavy,
        expected,
        executed,
        cells,
    }
}

fn note_write(cell: &mut Cell) {
    let m = "the engine modified the input buffer";
    cell.mismatch = Some(match cell.mismatch.take() {
        Some(prev) if prev.contains(m) => prev,
        Some(prev) => format!("{prev}; {m}"),
        None => m.to_string(),
    });
}

/// The empty program again, for engines with a reusable per-run context, building a new
/// one for every run.
fn fresh_context_rows(
    engines: &[Box<dyn Engine>],
    w: &Workload,
    input: &mut Input,
    opts: &Options,
) -> Vec<(&'static str, Result<Measurement, String>)> {
    let mut prepared = Vec::new();
    for e in engines {
        if let Ok(mut p) = e.prepare(w) {
            if p.sample_fresh_context(&mut input.0, 1).is_some() {
                prepared.push((e.name(), p));
            }
        }
    }
    let mut wrapped: Vec<FreshContext<'_, '_>> = prepared
        .iter_mut()
        .map(|(_, p)| FreshContext(p.as_mut()))
        .collect();
    let mut refs: Vec<&mut (dyn Prepared + '_)> = wrapped
        .iter_mut()
        .map(|f| f as &mut (dyn Prepared + '_))
        .collect();
    let times = measure_interleaved(&mut refs, &mut input.0, &opts.settings);
    prepared
        .iter()
        .zip(times)
        .map(|((name, _), t)| (*name, t.map_err(|e| format!("{e:#}"))))
        .collect()
}

fn compile_rows(
    engines: &[Box<dyn Engine>],
    w: &Workload,
    input: &mut Input,
    opts: &Options,
) -> Vec<CompileRow> {
    let mut out = Vec::new();
    // Decoding alone, which every oxbpf engine's prepare time includes.
    let mut times = Vec::new();
    let mut decoded = Ok(());
    for _ in 0..opts.compile_repeats.max(1) {
        let start = thread_cpu_time();
        match oxbpf_isa::Program::decode(&w.code) {
            Ok(p) => {
                times.push(thread_cpu_time().saturating_sub(start));
                drop(p);
            }
            Err(e) => {
                decoded = Err(e.to_string());
                break;
            }
        }
    }
    times.sort();
    out.push(CompileRow {
        engine: "(oxbpf decode only)",
        workload: w.name.clone(),
        slots: w.slots(),
        time: decoded.map(|()| times[times.len() / 2]),
        r0: None,
    });
    for engine in engines.iter().filter(|e| e.class() != Class::Native) {
        if opts.progress {
            eprint!("  compile {:<10} {:<16}\r", w.name, engine.name());
        }
        let mut times = Vec::new();
        let mut error = None;
        let mut r0 = None;
        for i in 0..opts.compile_repeats.max(1) {
            let start = thread_cpu_time();
            match engine.prepare(w) {
                Err(e) => {
                    error = Some(format!("{e:#}"));
                    break;
                }
                Ok(mut p) => {
                    times.push(thread_cpu_time().saturating_sub(start));
                    if i == 0 {
                        r0 = Some(p.run(&mut input.0).map_err(|e| format!("{e:#}")));
                    }
                }
            }
        }
        times.sort();
        let time = match error {
            Some(e) => Err(e),
            None => Ok(times[times.len() / 2]),
        };
        out.push(CompileRow {
            engine: engine.name(),
            workload: w.name.clone(),
            slots: w.slots(),
            time,
            r0,
        });
    }
    out
}

/// Runs the benchmark.
pub fn run(opts: &Options) -> Result<Results> {
    let (all, mut unavailable) = engines::all();
    let mut engines = Vec::new();
    for e in all {
        if opts
            .skip_engines
            .iter()
            .any(|s| e.name().contains(s.as_str()))
        {
            unavailable.push((e.name(), "left out (--skip)".to_string()));
        } else {
            engines.push(e);
        }
    }
    let mut input = Input::new();
    let mut rows = Vec::new();
    for p in PROGRAMS.iter().filter(|p| opts.wants(p.name)) {
        let w = Workload::from_program(p)?;
        rows.push(run_row(&engines, &w, &mut input, opts));
    }
    let empty_workload = Workload::empty();
    let empty = opts
        .wants("empty")
        .then(|| run_row(&engines, &empty_workload, &mut input, opts));
    let empty_fresh = if empty.is_some() {
        fresh_context_rows(&engines, &empty_workload, &mut input, opts)
    } else {
        Vec::new()
    };
    let mut compile = Vec::new();
    if opts.wants("compile") {
        let large = Workload::bytecode(
            "generated",
            "generated ALU/memory/branch mix",
            generated_program(opts.compile_slots, 0x5eed),
        );
        compile.extend(compile_rows(&engines, &large, &mut input, opts));
        if let Some(p) = PROGRAMS.iter().find(|p| p.name == "straight") {
            let small = Workload::from_program(p)?;
            compile.extend(compile_rows(&engines, &small, &mut input, opts));
        }
    }
    if opts.progress {
        eprint!("{:60}\r", "");
    }
    Ok(Results {
        settings: opts.settings,
        empty_fresh,
        engines: engines
            .iter()
            .map(|e| EngineInfo {
                name: e.name(),
                class: e.class(),
                origin: e.origin(),
                bits: e.result_bits(),
            })
            .collect(),
        unavailable,
        rows,
        empty,
        compile,
    })
}
