//! Helper-call and map-operation cost from inside a program, in oxbpf and in the kernel.
//!
//! Each program runs a loop of 100 iterations; one row per body (nothing, a cheap helper,
//! array/hash lookups and updates). oxbpf runs it through the runtime (`LoadedProgram::run`
//! with `repeat`, the interpreter), the kernel through `BPF_PROG_TEST_RUN` with the same
//! `repeat` on a socket filter (its JIT, the kernel's mean per run). oxbpf runs on the
//! interpreter and on the JIT (checked mode). The table gives ns per run and ns per loop
//! iteration with the empty loop's cost subtracted (the operation alone).
//!
//! `cargo run --release -p oxbpf-runtime --example helper_bench [-- RUNS]`

use oxbpf_isa::{assemble, Program};
use oxbpf_runtime::loader::{MapDefSpec, ObjectSpec, ProgramSpec, RunInput, Runtime};
use oxbpf_runtime::maps::{MapSpec, MapType};
use oxbpf_runtime::progtype::ProgType;
use oxbpf_vm::EngineKind;
use std::time::Duration;

const ITERS: u64 = 100;

/// A loop of 100 iterations around `body` (key `i & 63` at `r10 - 4`, `r6` the counter).
fn looped(body: &str) -> String {
    format!(
        "
        r6 = 0
    loop:
        r7 = r6
        r7 &= 63
        *(u32 *)(r10 - 4) = r7
        *(u64 *)(r10 - 16) = r6
{body}
    next:
        r6 += 1
        if r6 < {ITERS} goto loop
        r0 = 0
        exit"
    )
}

const LOOKUP: &str = "
        r1 = map_idx(0) ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto next
        r1 = *(u64 *)(r0 + 0)
        r1 += 1
        *(u64 *)(r0 + 0) = r1";

const UPDATE: &str = "
        r1 = map_idx(0) ll
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 0
        call bpf_map_update_elem";

struct Case {
    name: &'static str,
    map: Option<MapType>,
    body: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "empty loop (baseline)",
        map: None,
        body: "",
    },
    Case {
        name: "bpf_get_prandom_u32 (helper call)",
        map: None,
        body: "        call bpf_get_prandom_u32",
    },
    Case {
        name: "bpf_ktime_get_ns",
        map: None,
        body: "        call bpf_ktime_get_ns",
    },
    Case {
        name: "array lookup + increment",
        map: Some(MapType::Array),
        body: LOOKUP,
    },
    Case {
        name: "array update_elem",
        map: Some(MapType::Array),
        body: UPDATE,
    },
    Case {
        name: "hash lookup (hit) + increment",
        map: Some(MapType::Hash),
        body: LOOKUP,
    },
    Case {
        name: "hash update_elem (existing key)",
        map: Some(MapType::Hash),
        body: UPDATE,
    },
];

fn program(c: &Case) -> Program {
    let text = looped(c.body);
    assemble(&text).unwrap_or_else(|e| panic!("{}: {e}", c.name))
}

/// oxbpf: mean ns per run over `runs` runs.
fn oxbpf_ns(c: &Case, runs: u32, engine: EngineKind) -> f64 {
    // Unverified (checked mode), with the plain-VM convention r1 = the packet: what the
    // published figures measure (verified_bench compares the modes).
    let rt = Runtime::new().with_engine(engine).with_verify(false);
    let maps = match c.map {
        Some(t) => vec![MapDefSpec::new(MapSpec::new("m", t, 4, 8, 64))],
        None => vec![],
    };
    let obj = rt
        .load(&ObjectSpec {
            maps,
            programs: vec![ProgramSpec::new(
                "bench",
                ProgType::SocketFilter,
                program(c),
            )],
        })
        .unwrap_or_else(|e| panic!("{}: {e}", c.name));
    if let Some(m) = obj.map("m") {
        for k in 0..64u32 {
            m.update(&k.to_ne_bytes(), &0u64.to_ne_bytes(), 0).unwrap();
        }
    }
    let p = obj.program("bench").unwrap();
    let mut pkt = [0u8; 64];
    // Warm up, then measure.
    p.run(RunInput {
        packet: Some(&mut pkt),
        repeat: runs / 10 + 1,
        ..Default::default()
    })
    .unwrap();
    let r = p
        .run(RunInput {
            packet: Some(&mut pkt),
            repeat: runs,
            ..Default::default()
        })
        .unwrap();
    duration_ns(r.duration)
}

fn duration_ns(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9
}

/// The kernel: mean ns per run reported by BPF_PROG_TEST_RUN, or why not.
fn kernel_ns(c: &Case, runs: u32) -> Result<f64, String> {
    use oxbpf_kernel::{create_map, load_raw, test_run, LoadOptions, TestRunInput};
    let maps = match c.map {
        Some(t) => {
            let kt = match t {
                MapType::Array => oxbpf_kernel::MapType::Array,
                _ => oxbpf_kernel::MapType::Hash,
            };
            let m = create_map(&oxbpf_kernel::MapSpec::new(kt, 4, 8, 64, "m"))
                .map_err(|e| e.to_string())?;
            for k in 0..64u32 {
                m.update(&k.to_ne_bytes(), &0u64.to_ne_bytes(), Default::default())
                    .map_err(|e| e.to_string())?;
            }
            vec![m]
        }
        None => vec![],
    };
    let mut opts = LoadOptions::new(oxbpf_kernel::ProgType::SocketFilter).name("oxbpf_bench");
    opts.maps = maps.iter().map(|m| m.raw_fd()).collect();
    let prog = load_raw(&program(c), &opts).map_err(|e| e.to_string())?;
    let pkt = [0u8; 64];
    let mut input = TestRunInput::packet(&pkt);
    input.repeat = runs / 10 + 1;
    test_run(&prog, &input).map_err(|e| e.to_string())?;
    input.repeat = runs;
    let out = test_run(&prog, &input).map_err(|e| e.to_string())?;
    Ok(out.duration_ns as f64)
}

/// The helpers alone: each called directly with a `HelperCtx`, no engine (what the
/// runtime's part of a helper call costs).
fn direct_rows() {
    use oxbpf_runtime::env::{MapTable, ProgramEnv, RunEnv};
    use oxbpf_runtime::helpers::{ids, implemented};
    use oxbpf_runtime::maps::{Map, MapSpec as Spec};
    use oxbpf_runtime::trace::TraceBuffer;
    use oxbpf_vm::{HelperCtx, RegionKind, RunContext};
    use std::sync::Arc;
    use std::time::Instant;
    let maps = Arc::new(MapTable::new(vec![
        Arc::new(Map::create(Spec::new("a", MapType::Array, 4, 8, 64)).unwrap()),
        Arc::new(Map::create(Spec::new("h", MapType::Hash, 4, 8, 64)).unwrap()),
    ]));
    for k in 0..64u32 {
        maps.maps()[1].update(&k.to_ne_bytes(), &[0; 8], 0).unwrap();
    }
    let penv = Arc::new(ProgramEnv::new(
        "bench",
        ProgType::SocketFilter,
        maps.clone(),
        Arc::new(TraceBuffer::default()),
    ));
    let mut env = RunEnv::new(penv);
    let mut stack = [0u8; 16];
    let key = stack.as_ptr() as u64;
    let mut rc = RunContext::new();
    rc.allow_mut(&mut stack, RegionKind::Stack);
    oxbpf_runtime::grant::grant_maps(&mut rc, &maps);
    let mut regions = rc.regions_mut();
    println!();
    println!("| helper called directly (no engine) | ns/call |");
    println!("| --- | ---: |");
    let n = 2_000_000u64;
    for (name, id, args) in [
        ("bpf_get_prandom_u32", ids::GET_PRANDOM_U32, [0u64; 5]),
        ("bpf_ktime_get_ns", ids::KTIME_GET_NS, [0; 5]),
        (
            "bpf_map_lookup_elem (array)",
            ids::MAP_LOOKUP_ELEM,
            [MapTable::handle(0), key, 0, 0, 0],
        ),
        (
            "bpf_map_lookup_elem (hash, hit)",
            ids::MAP_LOOKUP_ELEM,
            [MapTable::handle(1), key, 0, 0, 0],
        ),
        (
            "bpf_map_update_elem (array)",
            ids::MAP_UPDATE_ELEM,
            [MapTable::handle(0), key, key + 8, 0, 0],
        ),
    ] {
        let f = implemented(id).unwrap().func;
        let start = Instant::now();
        for _ in 0..n {
            let mut ctx = HelperCtx::new(&mut regions, Some(&mut env as &mut dyn std::any::Any), 0);
            std::hint::black_box(f(&mut ctx, std::hint::black_box(args)).unwrap());
        }
        let ns = start.elapsed().as_secs_f64() * 1e9 / n as f64;
        println!("| {name} | {ns:.1} |");
    }
}

fn main() {
    let runs: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let kernel_off = oxbpf_kernel::probe::bpf_unavailable();
    if let Some(why) = kernel_off {
        println!("kernel column skipped: {why}");
    }
    println!(
        "| operation (x{ITERS} per run) | interp ns/run | interp ns/op | JIT ns/run | JIT ns/op | kernel ns/run | kernel ns/op |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut base_ox = 0.0;
    let mut base_jit = 0.0;
    let mut base_k = 0.0;
    for (i, c) in CASES.iter().enumerate() {
        let ox = oxbpf_ns(c, runs, EngineKind::Interpreter);
        let jit = oxbpf_ns(c, runs, EngineKind::Jit);
        let k = if kernel_off.is_none() {
            kernel_ns(c, runs)
        } else {
            Err("skipped".into())
        };
        if i == 0 {
            base_ox = ox;
            base_jit = jit;
            base_k = *k.as_ref().unwrap_or(&0.0);
        }
        let per = |v: f64, b: f64| (v - b) / ITERS as f64;
        let (kr, kp) = match &k {
            Ok(v) if i == 0 => (format!("{v:.0}"), format!("{:.2}", v / ITERS as f64)),
            Ok(v) => (format!("{v:.0}"), format!("{:.1}", per(*v, base_k))),
            Err(e) => (format!("n/a ({e})"), "n/a".into()),
        };
        let op = |v: f64, b: f64| {
            if i == 0 {
                format!("{:.2}", v / ITERS as f64)
            } else {
                format!("{:.1}", per(v, b))
            }
        };
        println!(
            "| {} | {ox:.0} | {} | {jit:.0} | {} | {kr} | {kp} |",
            c.name,
            op(ox, base_ox),
            op(jit, base_jit)
        );
    }
    direct_rows();
}
