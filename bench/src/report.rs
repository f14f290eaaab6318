//! Renders [`Results`] as plain-text or Markdown tables: time per run, ratios to native,
//! oxbpf against its peers, call overhead, compile throughput, memory and the targets.

use crate::engines::{Class, Origin};
use crate::measure::geomean;
use crate::suite::{Results, Row};
use std::fmt::Write;

/// A table of strings, first column left-aligned, the rest right-aligned.
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: Vec<String>) -> Table {
        Table {
            headers,
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    pub fn render(&self, markdown: bool) -> String {
        let n = self.headers.len();
        let mut width = vec![0; n];
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            for (i, c) in row.iter().enumerate().take(n) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let line = |row: &[String]| -> String {
            let cells: Vec<String> = (0..n)
                .map(|i| {
                    let c = row.get(i).map(String::as_str).unwrap_or("");
                    if i == 0 {
                        format!("{c:<w$}", w = width[i])
                    } else {
                        format!("{c:>w$}", w = width[i])
                    }
                })
                .collect();
            if markdown {
                format!("| {} |", cells.join(" | "))
            } else {
                cells.join("  ").trim_end().to_string()
            }
        };
        let mut out = String::new();
        out.push_str(&line(&self.headers));
        out.push('\n');
        if markdown {
            let seps: Vec<String> = (0..n)
                .map(|i| {
                    let dashes = "-".repeat(width[i].max(3) - 1);
                    if i == 0 {
                        format!("{dashes}-")
                    } else {
                        format!("{dashes}:")
                    }
                })
                .collect();
            out.push_str(&format!(
                "|{}|\n",
                seps.iter()
                    .map(|s| format!(" {s} "))
                    .collect::<Vec<_>>()
                    .join("|")
            ));
        } else {
            let total: usize = width.iter().sum::<usize>() + 2 * (n - 1);
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
        for row in &self.rows {
            out.push_str(&line(row));
            out.push('\n');
        }
        out
    }
}

/// The machine the numbers come from.
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub kernel: String,
    pub rustc: String,
}

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let rustc = std::process::Command::new(std::env::var("RUSTC").unwrap_or("rustc".into()))
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        Machine {
            cpu,
            cores,
            kernel,
            rustc,
        }
    }
}

/// Nanoseconds, with precision that fits the magnitude.
pub fn ns(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v < 10.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// A ratio such as `1.23x`.
pub fn ratio(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v < 10.0 {
        format!("{v:.2}x")
    } else {
        format!("{v:.1}x")
    }
}

fn time_of(row: &Row, e: usize) -> f64 {
    match &row.cells[e].time {
        Ok(m) => m.median,
        Err(_) => f64::NAN,
    }
}

/// Engine `a`'s time over engine `b`'s, per row.
fn ratios(rows: &[&Row], a: usize, b: usize) -> Vec<f64> {
    rows.iter().map(|r| time_of(r, a) / time_of(r, b)).collect()
}

/// Geometric mean of the defined values, and how many there were.
fn gm(values: &[f64]) -> (f64, usize) {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    (geomean(&v), v.len())
}

/// Pairs (oxbpf engine, peer engine) of the same class.
fn peer_pairs(r: &Results) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (a, ea) in r.engines.iter().enumerate() {
        if ea.origin != Origin::Oxbpf {
            continue;
        }
        for (b, eb) in r.engines.iter().enumerate() {
            if eb.origin != Origin::Oxbpf && eb.origin != Origin::Native && eb.class == ea.class {
                out.push((a, b));
            }
        }
    }
    out
}

/// A target from the issues, checked against the numbers.
pub struct Target {
    pub what: String,
    pub measured: String,
    pub met: Option<bool>,
}

/// Evaluates the targets the issues state.
pub fn targets(r: &Results) -> Vec<Target> {
    let mut out = Vec::new();
    let rows: Vec<&Row> = r.rows.iter().collect();
    let heavy: Vec<&Row> = r.rows.iter().filter(|x| x.loop_heavy).collect();
    let native = r.engine("native");
    let oxbpf = |class: Class| -> Vec<usize> {
        r.engines
            .iter()
            .enumerate()
            .filter(|(_, e)| e.origin == Origin::Oxbpf && e.class == class)
            .map(|(i, _)| i)
            .collect()
    };
    let missing = |what: &str, why: &str| Target {
        what: what.to_string(),
        measured: why.to_string(),
        met: None,
    };
    let interps = oxbpf(Class::Interpreter);
    let jits = oxbpf(Class::Jit);
    if interps.is_empty() {
        out.push(missing(
            "oxbpf interpreter >= 3x faster than rbpf's interpreter (geomean)",
            "oxbpf interpreter not available in this build",
        ));
        out.push(missing(
            "oxbpf interpreter < 20x native (geomean)",
            "oxbpf interpreter not available in this build",
        ));
    }
    for &i in &interps {
        let name = r.engines[i].name;
        if let Some(rb) = r.engine("rbpf-interp") {
            let (g, n) = gm(&ratios(&rows, rb, i));
            out.push(Target {
                what: format!("{name} >= 3x faster than rbpf-interp (geomean)"),
                measured: format!("{} over {n} programs", ratio(g)),
                met: g.is_finite().then_some(g >= 3.0),
            });
        }
        if let Some(nat) = native {
            let (g, n) = gm(&ratios(&rows, i, nat));
            out.push(Target {
                what: format!("{name} < 20x native (geomean)"),
                measured: format!("{} over {n} programs", ratio(g)),
                met: g.is_finite().then_some(g < 20.0),
            });
        }
    }
    if jits.is_empty() {
        out.push(missing(
            "oxbpf JIT faster than the kernel's JIT (geomean)",
            "oxbpf JIT not available in this build",
        ));
        out.push(missing(
            "oxbpf JIT within 1.05x of native on loop-heavy programs",
            "oxbpf JIT not available in this build",
        ));
    }
    for &j in &jits {
        let name = r.engines[j].name;
        match r.engine("kernel-jit") {
            Some(k) => {
                let (g, n) = gm(&ratios(&rows, k, j));
                out.push(Target {
                    what: format!("{name} faster than kernel-jit (geomean)"),
                    measured: format!("kernel / oxbpf = {} over {n} programs", ratio(g)),
                    met: g.is_finite().then_some(g > 1.0),
                });
            }
            None => out.push(missing(
                &format!("{name} faster than kernel-jit (geomean)"),
                "kernel JIT not available in this run",
            )),
        }
        if let Some(nat) = native {
            let v = ratios(&heavy, j, nat);
            let (g, n) = gm(&v);
            let worst = v
                .iter()
                .copied()
                .filter(|x| x.is_finite())
                .fold(f64::NAN, f64::max);
            out.push(Target {
                what: format!("{name} within 1.05x of native on loop-heavy programs"),
                measured: format!("geomean {} over {n}, worst {}", ratio(g), ratio(worst)),
                met: g.is_finite().then_some(g <= 1.05),
            });
        }
    }
    for i in interps.iter().chain(&jits) {
        let name = r.engines[*i].name;
        let t = r.empty.as_ref().map(|e| time_of(e, *i)).unwrap_or(f64::NAN);
        out.push(Target {
            what: format!("{name}: empty-program call < 2 ns"),
            measured: if t.is_nan() {
                "not measured".into()
            } else {
                format!("{} ns", ns(t))
            },
            met: t.is_finite().then_some(t < 2.0),
        });
    }
    out
}

/// The whole report.
pub fn render(r: &Results, machine: &Machine, command: &str, markdown: bool) -> String {
    let mut s = String::new();
    let h = |s: &mut String, title: &str| {
        if markdown {
            let _ = writeln!(s, "\n### {title}\n");
        } else {
            let _ = writeln!(s, "\n== {title}\n");
        }
    };
    let _ = writeln!(
        s,
        "Machine: {} ({} logical CPUs), Linux {}, {}",
        machine.cpu, machine.cores, machine.kernel, machine.rustc
    );
    let _ = writeln!(
        s,
        "Command: `{command}`; median of {} samples of ~{} ms each after {} ms of warm-up, \
         samples of all engines taken in turns; userspace engines timed in thread CPU time, \
         the kernel by its own BPF_PROG_TEST_RUN timer (both leave out time preempted).",
        r.settings.samples,
        r.settings.sample.as_millis(),
        r.settings.warmup.as_millis()
    );
    if !r.unavailable.is_empty() {
        let _ = writeln!(s, "\nEngines not run:");
        for (name, why) in &r.unavailable {
            let _ = writeln!(s, "- {name}: {why}");
        }
    }

    let names: Vec<String> = r.engines.iter().map(|e| e.name.to_string()).collect();
    let rows: Vec<&Row> = r.rows.iter().collect();
    let heavy: Vec<&Row> = r.rows.iter().filter(|x| x.loop_heavy).collect();

    if !rows.is_empty() {
        h(&mut s, "Time per run (ns, median)");
        let mut t = Table::new(
            [
                "program".to_string(),
                "insns".to_string(),
                "executed".to_string(),
            ]
            .into_iter()
            .chain(names.iter().cloned())
            .collect(),
        );
        for row in &rows {
            let mut cells = vec![
                format!("{}{}", row.name, if row.loop_heavy { "" } else { " (s)" }),
                row.slots.to_string(),
                row.executed
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "-".into()),
            ];
            for c in &row.cells {
                cells.push(match &c.time {
                    Ok(m) => format!(
                        "{}{}",
                        ns(m.median),
                        if c.mismatch.is_some() { " !" } else { "" }
                    ),
                    Err(_) => "n/a".into(),
                });
            }
            t.push(cells);
        }
        s.push_str(&t.render(markdown));
        let _ = writeln!(
            s,
            "\ninsns: instructions in the program; executed: instructions one run executes \
             (oxbpf's interpreter counts them). (s): not loop-heavy. `!`: r0 differs from \
             native (see Mismatches). n/a: see Notes."
        );

        if let Some(nat) = r.engine("native") {
            h(
                &mut s,
                "Ratio to native (time / native time; lower is better)",
            );
            let mut t = Table::new(
                std::iter::once("program".to_string())
                    .chain(names.iter().filter(|n| n.as_str() != "native").cloned())
                    .collect(),
            );
            let others: Vec<usize> = (0..r.engines.len()).filter(|&i| i != nat).collect();
            for row in &rows {
                let mut cells = vec![row.name.clone()];
                for &e in &others {
                    cells.push(ratio(time_of(row, e) / time_of(row, nat)));
                }
                t.push(cells);
            }
            for (label, set) in [("geomean (all)", &rows), ("geomean (loop-heavy)", &heavy)] {
                let mut cells = vec![label.to_string()];
                for &e in &others {
                    cells.push(ratio(gm(&ratios(set, e, nat)).0));
                }
                t.push(cells);
            }
            s.push_str(&t.render(markdown));
        }

        let pairs = peer_pairs(r);
        if !pairs.is_empty() {
            h(
                &mut s,
                "oxbpf against its peers (peer time / oxbpf time; above 1 = oxbpf faster)",
            );
            let mut t = Table::new(
                std::iter::once("program".to_string())
                    .chain(
                        pairs
                            .iter()
                            .map(|&(a, b)| format!("{} vs {}", names[a], names[b])),
                    )
                    .collect(),
            );
            for row in &rows {
                let mut cells = vec![row.name.clone()];
                for &(a, b) in &pairs {
                    cells.push(ratio(time_of(row, b) / time_of(row, a)));
                }
                t.push(cells);
            }
            for (label, set) in [("geomean (all)", &rows), ("geomean (loop-heavy)", &heavy)] {
                let mut cells = vec![label.to_string()];
                for &(a, b) in &pairs {
                    cells.push(ratio(gm(&ratios(set, b, a)).0));
                }
                t.push(cells);
            }
            s.push_str(&t.render(markdown));
        }
    }

    if let Some(empty) = &r.empty {
        h(
            &mut s,
            "Call overhead: empty program `r0 = 0; exit` (ns per run)",
        );
        let mut t = Table::new(vec![
            "engine".into(),
            "ns/run".into(),
            "samples min..max".into(),
        ]);
        for (e, c) in r.engines.iter().zip(&empty.cells) {
            let (v, range) = match &c.time {
                Ok(m) => (ns(m.median), format!("{}..{}", ns(m.min), ns(m.max))),
                Err(err) => ("n/a".into(), err.clone()),
            };
            t.push(vec![e.name.to_string(), v, range]);
        }
        for (name, m) in &r.empty_fresh {
            let (v, range) = match m {
                Ok(m) => (ns(m.median), format!("{}..{}", ns(m.min), ns(m.max))),
                Err(err) => ("n/a".into(), err.clone()),
            };
            t.push(vec![format!("{name}, new RunContext per run"), v, range]);
        }
        s.push_str(&t.render(markdown));
        if !r.empty_fresh.is_empty() {
            let _ = writeln!(
                s,
                "\noxbpf rows without a suffix reuse one `RunContext` for all runs of a sample."
            );
        }
    }

    if !r.compile.is_empty() {
        h(
            &mut s,
            "Prepare time: decode / compile / load (median, thread CPU time incl. the kernel's)",
        );
        let mut t = Table::new(vec![
            "engine".into(),
            "program".into(),
            "insns".into(),
            "time".into(),
            "M insns/s".into(),
            "r0 of one run".into(),
        ]);
        for c in &r.compile {
            let (time, rate) = match &c.time {
                Ok(d) => {
                    let secs = d.as_secs_f64();
                    let time = if secs >= 1e-3 {
                        format!("{:.1} ms", secs * 1e3)
                    } else {
                        format!("{:.1} us", secs * 1e6)
                    };
                    let rate = c.slots as f64 / secs / 1e6;
                    let rate = if rate >= 10.0 {
                        format!("{rate:.1}")
                    } else {
                        format!("{rate:.3}")
                    };
                    (time, rate)
                }
                Err(_) => ("n/a".into(), "-".into()),
            };
            let r0 = match &c.r0 {
                Some(Ok(v)) => format!("{v:#x}"),
                Some(Err(_)) => "error".into(),
                None => "-".into(),
            };
            t.push(vec![
                c.engine.into(),
                c.workload.clone(),
                c.slots.to_string(),
                time,
                rate,
                r0,
            ]);
        }
        s.push_str(&t.render(markdown));
    }

    if !rows.is_empty() {
        h(&mut s, "Memory: bytes of a prepared program");
        let mut t = Table::new(
            std::iter::once("program".to_string())
                .chain(names.iter().filter(|n| n.as_str() != "native").cloned())
                .collect(),
        );
        let others: Vec<usize> = (0..r.engines.len())
            .filter(|&i| r.engines[i].class != Class::Native)
            .collect();
        for row in rows.iter().copied().chain(r.empty.iter()) {
            let mut cells = vec![format!("{} ({} insns)", row.name, row.slots)];
            for &e in &others {
                cells.push(
                    row.cells[e]
                        .footprint
                        .as_ref()
                        .and_then(|f| f.bytes)
                        .map(|b| b.to_string())
                        .unwrap_or_else(|| "-".into()),
                );
            }
            t.push(cells);
        }
        s.push_str(&t.render(markdown));
        let mut notes = Vec::new();
        for &e in &others {
            if let Some(f) = r
                .rows
                .iter()
                .filter_map(|row| row.cells[e].footprint.as_ref())
                .next()
            {
                notes.push(format!("{}: {}", names[e], f.note));
            }
        }
        s.push('\n');
        for n in notes {
            let _ = writeln!(s, "- {n}");
        }
    }

    h(&mut s, "Targets");
    let mut t = Table::new(vec!["target".into(), "measured".into(), "met".into()]);
    for tg in targets(r) {
        let met = match tg.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        t.push(vec![tg.what, tg.measured, met.into()]);
    }
    s.push_str(&t.render(markdown));

    let mism = r.mismatches();
    h(&mut s, "Mismatches");
    if mism.is_empty() {
        let _ = writeln!(
            s,
            "None: every engine returned the native result on every program."
        );
    } else {
        for m in mism {
            let _ = writeln!(s, "- {m}");
        }
    }

    let mut notes = Vec::new();
    for row in r.rows.iter().chain(r.empty.iter()) {
        for (e, c) in r.engines.iter().zip(&row.cells) {
            if let Err(err) = &c.time {
                notes.push(format!("{} / {}: {err}", row.name, e.name));
            }
        }
    }
    for c in &r.compile {
        if let Err(err) = &c.time {
            notes.push(format!("prepare {} / {}: {err}", c.workload, c.engine));
        }
        if let Some(Err(err)) = &c.r0 {
            notes.push(format!("run of {} / {}: {err}", c.workload, c.engine));
        }
    }
    if !notes.is_empty() {
        h(&mut s, "Notes");
        for n in notes {
            let _ = writeln!(s, "- {n}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_table_has_a_separator_and_aligned_cells() {
        let mut t = Table::new(vec!["program".into(), "ns".into()]);
        t.push(vec!["hash".into(), "12.5".into()]);
        let md = t.render(true);
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines[0], "| program |   ns |");
        assert_eq!(lines[1], "| ------- | ---: |");
        assert_eq!(lines[2], "| hash    | 12.5 |");
        let text = t.render(false);
        assert_eq!(text.lines().nth(2), Some("hash     12.5"));
    }

    #[test]
    fn numbers_are_formatted_by_magnitude() {
        assert_eq!(ns(1.234), "1.23");
        assert_eq!(ns(12.34), "12.3");
        assert_eq!(ns(1234.5), "1234");
        assert_eq!(ratio(1.234), "1.23x");
        assert_eq!(ratio(123.4), "123.4x");
        assert_eq!(ratio(f64::NAN), "-");
    }
}
