//! Every program of the runtime's C corpus, of `examples/` and of `tests/fixtures`:
//!
//! - what the running kernel accepts (loaded raw with the object's maps, BTF, function
//!   and line information) the runtime's verified load accepts too;
//! - every program the runtime loads verified runs in the verified JIT (no run-time
//!   checks) with the same results as the checked interpreter loaded unverified, the
//!   reference: `r0`, the packet, every map's contents and the trace messages (a soundness
//!   check: a verified program that went out of bounds would differ or crash here).
//!
//! The kernel part prints `SKIP:` where `bpf()` is not permitted.

mod corpus;

use oxbpf_runtime::loader::{LoadedObject, LoadedProgram, ObjectSpec, Runtime};
use oxbpf_runtime::progtype::ProgType;
use oxbpf_vm::EngineKind;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The objects: the corpus, the examples and the repository's fixtures.
fn objects() -> Vec<PathBuf> {
    let root = corpus::crate_dir().join("../..");
    let mut out = Vec::new();
    for d in [
        corpus::crate_dir().join("tests/programs"),
        root.join("examples"),
        root.join("examples/tools"),
        root.join("tests/fixtures"),
    ] {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
            .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "o"))
            .collect();
        v.sort();
        out.extend(v);
    }
    out
}

fn short(p: &Path) -> String {
    let dir = p
        .parent()
        .and_then(|d| d.file_name())
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{dir}/{}", p.file_name().unwrap().to_string_lossy())
}

/// Programs whose results depend on the moment they run (random numbers, clocks): their
/// `r0` and maps are not compared (they still run in both engines without a fault).
const NONDETERMINISTIC: &[&str] = &[
    "programs/task.o:task",
    "fixtures/loops.o:sum_loop",
    // Timestamps in maps.
    "tools/biolatency.o:rq_issue",
    "tools/syscount.o:syscount_enter",
];

/// The kernel's verdict on every program of an object (`None` per program when the kernel
/// could not be asked: no `bpf()`, a map it cannot create, CO-RE, no Linux type).
fn kernel_verdicts(obj: &oxbpf_obj::Object) -> BTreeMap<String, Result<(), String>> {
    let mut out = BTreeMap::new();
    if oxbpf_kernel::probe::bpf_unavailable().is_some() {
        return out;
    }
    let maps: Option<Vec<_>> = obj
        .maps
        .iter()
        .map(|m| {
            let t = oxbpf_kernel::MapType::from_id(m.map_type)?;
            let mut s = oxbpf_kernel::MapSpec::new(
                t,
                m.key_size,
                m.value_size,
                m.max_entries,
                m.name.chars().take(15).collect::<String>(),
            );
            s.flags = m.flags;
            let km = oxbpf_kernel::create_map(&s).ok()?;
            // Global data as libbpf leaves it: initialised, `.rodata` frozen.
            if let Some(init) = &m.initial_data {
                km.update(&0u32.to_ne_bytes(), init, oxbpf_kernel::UpdateMode::Any)
                    .ok()?;
            }
            if m.kind == oxbpf_obj::MapKind::Rodata {
                km.freeze().ok()?;
            }
            Some(km)
        })
        .collect();
    let Some(maps) = maps else {
        return out;
    };
    let btf = obj
        .btf_for_kernel()
        .and_then(|b| b.ok())
        .and_then(|b| oxbpf_kernel::load_btf(&b).ok());
    for p in &obj.programs {
        if !p.core_relocations.is_empty() {
            continue;
        }
        let Some(t) = oxbpf_kernel::ProgType::from_id(p.kind.prog_type()) else {
            continue;
        };
        if p.kind.prog_type() == 0 {
            continue;
        }
        let mut opts = oxbpf_kernel::LoadOptions::new(t).name("oxverified");
        if let Some(b) = &btf {
            opts = opts.program_btf(b, p);
        }
        opts.maps = maps.iter().map(|m| m.raw_fd()).collect();
        let v = match oxbpf_kernel::load_raw(&p.insns, &opts) {
            Ok(_) => Ok(()),
            Err(oxbpf_kernel::KernelError::Verifier { summary, .. }) => Err(summary.to_string()),
            // Refused before verification (attach BTF ids, lockdown): not a verdict.
            Err(_) => continue,
        };
        out.insert(p.name.clone(), v);
    }
    out
}

/// What one run produced.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    R0(u64),
    Packet(u64, Vec<u8>),
    /// The engine cannot run it (callbacks, tail calls in the JIT).
    Unsupported(String),
    Failed(String),
}

fn run_one(p: &LoadedProgram, ctx_size: usize) -> Outcome {
    let res = match p.prog_type() {
        ProgType::Xdp | ProgType::SocketFilter => {
            let mut frame = vec![0u8; 60];
            frame[12] = 0x08;
            frame[14] = 0x45;
            frame[14 + 9] = 17;
            p.run_packet(&frame, 1)
                .map(|r| Outcome::Packet(r.r0, r.data))
        }
        _ => {
            let mut ctx = vec![0u8; ctx_size.max(16)];
            p.run_ctx(&mut ctx).map(Outcome::R0)
        }
    };
    match res {
        Ok(o) => o,
        Err(e) => {
            let s = e.to_string();
            if s.contains("cannot call back") || s.contains("cannot run tail calls") {
                Outcome::Unsupported(s)
            } else {
                Outcome::Failed(s)
            }
        }
    }
}

/// A map's name and its `(key, value)` entries.
type MapContents = (String, Vec<(Vec<u8>, Vec<u8>)>);

/// Every map's entries, sorted (per-CPU values as all CPUs' values).
fn maps_of(o: &LoadedObject) -> Vec<MapContents> {
    o.maps()
        .maps()
        .iter()
        .filter(|m| oxbpf_runtime::dump::lists_entries(m.map_type()))
        .map(|m| {
            let mut e = m.entries().unwrap_or_default();
            e.sort();
            (m.name().to_string(), e)
        })
        .collect()
}

fn messages(o: &LoadedObject) -> Vec<String> {
    o.trace()
        .read()
        .iter()
        .map(|r| r.msg_str().into_owned())
        .collect()
}

#[test]
fn kernel_accepted_programs_are_verified_and_the_verified_jit_matches_the_interpreter() {
    let kernel = oxbpf_kernel::probe::bpf_unavailable();
    if let Some(why) = kernel {
        println!("SKIP: kernel comparison: {why}");
    }
    let engine = if cfg!(target_arch = "x86_64") {
        EngineKind::Jit
    } else {
        EngineKind::Interpreter
    };
    let mut problems = Vec::new();
    let (mut verified, mut compared, mut kernel_accepted, mut unsupported) = (0, 0, 0, 0);
    for path in objects() {
        let file = short(&path);
        let bytes = std::fs::read(&path).unwrap();
        let obj = oxbpf_obj::Object::parse(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        let spec = ObjectSpec::from_object(&obj).unwrap_or_else(|e| panic!("{file}: {e}"));
        let verdicts = kernel_verdicts(&obj);
        // The verified load (the JIT without run-time checks) and the reference.
        let ver = match Runtime::new().with_engine(engine).load(&spec) {
            Ok(o) => o,
            Err(e) => {
                let accepted_by_linux = verdicts.values().all(|v| v.is_ok());
                problems.push(format!(
                    "{file}: the verified load failed{}: {e}",
                    if accepted_by_linux {
                        " although Linux accepts every program"
                    } else {
                        ""
                    }
                ));
                continue;
            }
        };
        let reference = Runtime::new()
            .with_verify(false)
            .with_budget(Some(100_000_000))
            .load(&spec)
            .unwrap_or_else(|e| panic!("{file}: unverified load: {e}"));
        for (name, v) in &verdicts {
            let key = format!("{file}:{name}");
            match v {
                Ok(()) => {
                    kernel_accepted += 1;
                    if ver.program(name).is_none() {
                        let why = ver
                            .skipped()
                            .find(|(n, _)| n == name)
                            .map(|(_, w)| w.to_string())
                            .unwrap_or_default();
                        problems.push(format!(
                            "{key}: Linux accepts it, oxbpf does not load it: {why}"
                        ));
                    }
                }
                Err(why) => println!("{key}: Linux rejects it ({why})"),
            }
        }
        let mut complete = true;
        for p in ver.programs() {
            let key = format!("{file}:{}", p.name());
            let v = p.verified().expect("verified");
            verified += 1;
            let r = reference.program(p.name()).expect("loaded unverified too");
            let size = v.contract.size as usize;
            let (a, b) = (run_one(p, size), run_one(r, size));
            match (&a, &b) {
                (Outcome::Unsupported(why), _) | (_, Outcome::Unsupported(why)) => {
                    unsupported += 1;
                    complete = false;
                    println!("SKIP: {key}: {why}");
                    continue;
                }
                (Outcome::Failed(why), _) if why.contains("only the packet runner") => {
                    println!("{key}: not run ({why})");
                    continue;
                }
                _ => {}
            }
            compared += 1;
            if NONDETERMINISTIC.contains(&key.as_str()) {
                complete = false;
                if let Outcome::Failed(why) = &a {
                    problems.push(format!("{key}: verified run failed: {why}"));
                }
                continue;
            }
            if a != b {
                problems.push(format!(
                    "{key}: verified {engine:?} {a:?}, checked interpreter {b:?}"
                ));
            }
            if let Outcome::Failed(why) = &a {
                problems.push(format!("{key}: the verified run failed: {why}"));
            }
        }
        // Maps are compared when every program ran to its end in both engines.
        if complete {
            if maps_of(&ver) != maps_of(&reference) {
                problems.push(format!("{file}: maps differ after the runs"));
            }
            if messages(&ver) != messages(&reference) {
                problems.push(format!(
                    "{file}: trace messages differ: {:?} vs {:?}",
                    messages(&ver),
                    messages(&reference)
                ));
            }
        }
    }
    println!(
        "{verified} programs verified, {compared} run verified ({engine:?}) and checked \
         (interpreter), {unsupported} not runnable by the engine; {kernel_accepted} accepted \
         by Linux"
    );
    assert!(verified > 40, "{verified}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
