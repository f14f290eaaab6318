//! Benchmark: verification time of oxbpf's verifier against the Linux verifier
//! (`BPF_PROG_LOAD`) on the same programs, with the work each did (instructions processed,
//! states). Run in release mode as root:
//!
//! ```text
//! cargo run --release -p oxbpf-verifier --example verify_bench [-- --detail]
//! ```
//!
//! Programs: the golden corpus programs both accept, every program of the repository's
//! objects the kernel can load, the first `oxbpf-testgen` kernel-profile programs, and the
//! block programs of the differential test. Each timing is the median of several runs;
//! the kernel time includes the syscall and the JIT compilation the kernel does at load
//! (a floor for the kernel's verification time that cannot be separated from it).
#[path = "../tests/common/mod.rs"]
mod common;

use oxbpf_kernel::{create_map, load_raw, LoadOptions, ProgType};
use oxbpf_verifier::{verify, MapSpec, MapType, ProgramType, VerifierConfig};
use std::time::{Duration, Instant};

struct Row {
    set: &'static str,
    name: String,
    ours: Duration,
    kernel: Duration,
    ours_insns: u64,
    kernel_insns: Option<u64>,
    ours_states: u64,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time_ours(prog: &oxbpf_isa::Program, conf: &VerifierConfig) -> Option<(Duration, u64, u64)> {
    let v = verify(prog, conf).ok()?;
    let reps = if v.stats.insns_processed > 20_000 {
        5
    } else {
        31
    };
    let times = (0..reps)
        .map(|_| {
            let t = Instant::now();
            let _ = verify(prog, conf);
            t.elapsed()
        })
        .collect();
    Some((
        median(times),
        v.stats.insns_processed,
        v.stats.states_stored,
    ))
}

fn time_kernel(
    prog: &oxbpf_isa::Program,
    pt: ProgType,
    fds: &[i32],
) -> Option<(Duration, Option<u64>)> {
    let mut opts = LoadOptions::new(pt).name("vbench");
    opts.maps = fds.to_vec();
    // Statistics once, with the log on.
    let stats = {
        let mut o = opts.clone();
        o.log_level = 4;
        let p = load_raw(prog, &o).ok()?;
        p.verifier_log()
            .split("processed ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse().ok())
    };
    let times = (0..7)
        .map(|_| {
            let t = Instant::now();
            let _ = load_raw(prog, &opts);
            t.elapsed()
        })
        .collect();
    Some((median(times), stats))
}

fn main() {
    if let Some(why) = oxbpf_kernel::probe::bpf_unavailable() {
        eprintln!("SKIP: {why}");
        return;
    }
    let detail = std::env::args().any(|a| a == "--detail");
    let mut rows: Vec<Row> = Vec::new();

    // Corpus.
    for c in common::load_all() {
        if !c.expects_accept() || c.kernel_expect() != "accept" {
            continue;
        }
        let Some(pt) = c.config().prog_type.linux_id().and_then(ProgType::from_id) else {
            continue;
        };
        let maps: Option<Vec<_>> = c
            .maps
            .iter()
            .map(|m| {
                let ty = oxbpf_kernel::MapType::from_id(m.map_type.to_linux())?;
                let mut s = oxbpf_kernel::MapSpec::new(
                    ty,
                    m.key_size,
                    m.value_size,
                    m.max_entries,
                    &m.name,
                );
                s.flags = m.flags;
                create_map(&s).ok()
            })
            .collect();
        let Some(maps) = maps else { continue };
        let fds: Vec<i32> = maps.iter().map(|m| m.raw_fd()).collect();
        let prog = c.program();
        let (Some((ours, oi, os)), Some((kernel, ki))) =
            (time_ours(&prog, &c.config()), time_kernel(&prog, pt, &fds))
        else {
            continue;
        };
        rows.push(Row {
            set: "corpus",
            name: c.name.clone(),
            ours,
            kernel,
            ours_insns: oi,
            kernel_insns: ki,
            ours_states: os,
        });
    }

    // Objects.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for d in [
        "examples",
        "tests/fixtures",
        "crates/oxbpf-kernel/tests/fixtures",
        "crates/oxbpf-runtime/tests/programs",
    ] {
        if let Ok(rd) = std::fs::read_dir(root.join(d)) {
            files.extend(
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "o")),
            );
        }
    }
    files.sort();
    for f in files {
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        let Ok(obj) = oxbpf_obj::Object::parse(&bytes) else {
            continue;
        };
        let maps: Option<Vec<_>> = obj
            .maps
            .iter()
            .map(|m| {
                let ty = oxbpf_kernel::MapType::from_id(m.map_type)?;
                let mut s = oxbpf_kernel::MapSpec::new(
                    ty,
                    m.key_size,
                    m.value_size,
                    m.max_entries,
                    &m.name,
                );
                s.flags = m.flags;
                create_map(&s).ok()
            })
            .collect();
        let Some(maps) = maps else { continue };
        let fds: Vec<i32> = maps.iter().map(|m| m.raw_fd()).collect();
        for p in &obj.programs {
            if !p.core_relocations.is_empty() {
                continue;
            }
            let Ok(mut conf) = VerifierConfig::for_object_program(&obj, p) else {
                continue;
            };
            conf.btf_func_info = false;
            let Some(pt) = conf.prog_type.linux_id().and_then(ProgType::from_id) else {
                continue;
            };
            let (Some((ours, oi, os)), Some((kernel, ki))) =
                (time_ours(&p.insns, &conf), time_kernel(&p.insns, pt, &fds))
            else {
                continue;
            };
            let name = format!(
                "{}:{}",
                f.file_name().unwrap_or_default().to_string_lossy(),
                p.name
            );
            rows.push(Row {
                set: "objects",
                name,
                ours,
                kernel,
                ours_insns: oi,
                kernel_insns: ki,
                ours_states: os,
            });
        }
    }

    // Generated programs.
    let mut xdp = VerifierConfig::new(ProgramType::Xdp);
    xdp.allow_uninit_stack = true;
    for seed in 1..=200u64 {
        let case = oxbpf_testgen::TestCase::generate(seed, &oxbpf_testgen::Config::kernel());
        let prog = case.kernel_program();
        let (Some((ours, oi, os)), Some((kernel, ki))) = (
            time_ours(&prog, &xdp),
            time_kernel(&prog, ProgType::Xdp, &[]),
        ) else {
            continue;
        };
        rows.push(Row {
            set: "testgen",
            name: format!("seed {seed}"),
            ours,
            kernel,
            ours_insns: oi,
            kernel_insns: ki,
            ours_states: os,
        });
    }
    let hash = create_map(&oxbpf_kernel::MapSpec::new(
        oxbpf_kernel::MapType::Hash,
        4,
        16,
        16,
        "b",
    ))
    .ok();
    let rb = create_map(&oxbpf_kernel::MapSpec::new(
        oxbpf_kernel::MapType::Ringbuf,
        0,
        0,
        4096,
        "rb",
    ))
    .ok();
    if let (Some(hash), Some(rb)) = (hash, rb) {
        let mut conf = xdp.clone();
        conf.maps = vec![
            MapSpec::new("b", MapType::Hash, 4, 16, 16),
            MapSpec::new("rb", MapType::Ringbuf, 0, 0, 4096),
        ];
        let fds = [hash.raw_fd(), rb.raw_fd()];
        for seed in 1..=300u64 {
            let src = common::gen::program(&mut common::gen::Rng::new(seed));
            let Ok(prog) = oxbpf_isa::assemble(&src) else {
                continue;
            };
            let (Some((ours, oi, os)), Some((kernel, ki))) = (
                time_ours(&prog, &conf),
                time_kernel(&prog, ProgType::Xdp, &fds),
            ) else {
                continue;
            };
            rows.push(Row {
                set: "blocks",
                name: format!("seed {seed}"),
                ours,
                kernel,
                ours_insns: oi,
                kernel_insns: ki,
                ours_states: os,
            });
        }
    }

    println!("| programs | count | oxbpf total | Linux total | median ratio oxbpf/Linux | oxbpf faster | insns processed oxbpf / Linux |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for set in ["corpus", "objects", "testgen", "blocks"] {
        let r: Vec<&Row> = rows.iter().filter(|r| r.set == set).collect();
        if r.is_empty() {
            continue;
        }
        let ours: Duration = r.iter().map(|x| x.ours).sum();
        let kernel: Duration = r.iter().map(|x| x.kernel).sum();
        let mut ratios: Vec<f64> = r
            .iter()
            .map(|x| x.ours.as_secs_f64() / x.kernel.as_secs_f64())
            .collect();
        ratios.sort_by(|a, b| a.total_cmp(b));
        let faster = r.iter().filter(|x| x.ours < x.kernel).count();
        let oi: u64 = r.iter().map(|x| x.ours_insns).sum();
        let ki: u64 = r.iter().filter_map(|x| x.kernel_insns).sum();
        println!(
            "| {set} | {} | {:.2} ms | {:.2} ms | {:.2} | {}/{} | {oi} / {ki} |",
            r.len(),
            ours.as_secs_f64() * 1e3,
            kernel.as_secs_f64() * 1e3,
            ratios[ratios.len() / 2],
            faster,
            r.len()
        );
    }
    if detail {
        println!(
            "\n| set | program | oxbpf µs | Linux µs | oxbpf insns | Linux insns | oxbpf states |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|");
        for r in &rows {
            println!(
                "| {} | {} | {:.1} | {:.1} | {} | {} | {} |",
                r.set,
                r.name,
                r.ours.as_secs_f64() * 1e6,
                r.kernel.as_secs_f64() * 1e6,
                r.ours_insns,
                r.kernel_insns.map(|k| k.to_string()).unwrap_or_default(),
                r.ours_states
            );
        }
    }
}
