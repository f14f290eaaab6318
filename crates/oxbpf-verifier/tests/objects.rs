//! Every program of every ELF object in the repository (examples and test fixtures) is
//! verified, and where the running kernel can load it (maps created, no CO-RE, a modelled
//! program type) the verdicts are compared. The kernel gets the object's BTF with the
//! program's function and line information, as libbpf loads it.

use oxbpf_kernel::{create_map, load_raw, KernelError, LoadOptions, ProgType};
use oxbpf_verifier::{verify, VerifierConfig};
use std::path::{Path, PathBuf};

fn objects() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut dirs = vec![
        root.join("examples"),
        root.join("examples/tools"),
        root.join("tests/fixtures"),
        root.join("bench/programs"),
    ];
    if let Ok(rd) = std::fs::read_dir(root.join("crates")) {
        for e in rd.flatten() {
            dirs.push(e.path().join("tests/fixtures"));
            dirs.push(e.path().join("tests/programs"));
        }
    }
    let mut out = Vec::new();
    for d in dirs {
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                if e.path().extension().is_some_and(|x| x == "o") {
                    out.push(e.path());
                }
            }
        }
    }
    out.sort();
    out
}

fn bench_hook() -> oxbpf_verifier::ProgramType {
    use oxbpf_verifier::{ContextDescriptor, ContextField, HookSpec, Narrow};
    let ctx = ContextDescriptor::new(
        "bench_buffer",
        2048,
        vec![ContextField::scalar("data", 0, 2048).with_narrow(Narrow::LoadsAndStores)],
    )
    .expect("descriptor");
    let mut h = HookSpec::new("bench", ctx);
    h.plain_memory = true;
    oxbpf_verifier::ProgramType::Hook(std::sync::Arc::new(h))
}

/// Programs the verifiers are expected to reject, by "file:program":
/// - `reject.o`: the kernel fixture of a rejected program.
const EXPECTED_REJECTS: &[&str] = &["reject.o:unchecked_lookup"];

#[test]
fn objects_verify_and_agree() {
    let kernel = oxbpf_kernel::probe::bpf_unavailable().is_none();
    let files = objects();
    assert!(!files.is_empty(), "no objects found");
    let (mut ours, mut compared, mut agree, mut kernel_accepts) = (0, 0, 0, 0);
    let mut problems = Vec::new();
    for f in &files {
        let fname = f.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(f).expect("read object");
        let obj = match oxbpf_obj::Object::parse(&bytes) {
            Ok(o) => o,
            Err(e) => {
                println!("{fname}: not parsed by oxbpf-obj: {e}");
                continue;
            }
        };
        // Kernel maps for the whole object (none if one cannot be created).
        let maps: Option<Vec<_>> = kernel
            .then(|| {
                obj.maps
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
                        let km = create_map(&s).ok()?;
                        // Global data as libbpf leaves it: initialised, `.rodata` frozen
                        // (its contents are then constants for both verifiers).
                        if let Some(init) = &m.initial_data {
                            km.update(&0u32.to_ne_bytes(), init, oxbpf_kernel::UpdateMode::Any)
                                .ok()?;
                        }
                        if m.kind == oxbpf_obj::MapKind::Rodata {
                            km.freeze().ok()?;
                        }
                        Some(km)
                    })
                    .collect()
            })
            .flatten();
        // The object's BTF in the kernel (none if it has none or the kernel refuses it).
        let btf = maps.as_ref().and_then(|_| match obj.btf_for_kernel()? {
            Ok(blob) => match oxbpf_kernel::load_btf(&blob) {
                Ok(b) => Some(b),
                Err(e) => {
                    problems.push(format!("{fname}: the kernel refused the object's BTF: {e}"));
                    None
                }
            },
            Err(e) => {
                problems.push(format!("{fname}: BTF for the kernel: {e}"));
                None
            }
        });
        for p in &obj.programs {
            let key = format!("{fname}:{}", p.name);
            let mut conf = match VerifierConfig::for_object_program(&obj, p) {
                Ok(c) => c,
                Err(e) => {
                    println!("{key}: skipped: {}", e.reason);
                    continue;
                }
            };
            // The benchmark programs take the plain-VM convention: r1 = a buffer of
            // BUF_SIZE (2048) bytes, r2 = its length (bench/programs/bench.h).
            let vm_convention = f.parent().is_some_and(|d| d.ends_with("bench/programs"));
            if vm_convention {
                conf.prog_type = bench_hook();
            }
            ours += 1;
            let verdict = verify(&p.insns, &conf);
            let expect_ok = !EXPECTED_REJECTS.contains(&key.as_str());
            if verdict.is_ok() != expect_ok {
                problems.push(format!(
                    "{key}: oxbpf {}: {}",
                    if verdict.is_ok() {
                        "accepts"
                    } else {
                        "rejects"
                    },
                    verdict
                        .as_ref()
                        .err()
                        .map(|e| e.report())
                        .unwrap_or_default()
                ));
            }
            let Some(maps) = maps.as_ref().filter(|_| !vm_convention) else {
                continue;
            };
            if !p.core_relocations.is_empty() {
                println!("{key}: not loaded into the kernel (CO-RE relocations)");
                continue;
            }
            let Some(pt) = conf.prog_type.linux_id().and_then(ProgType::from_id) else {
                continue;
            };
            // Without BTF function information when the kernel did not get the BTF.
            let mut raw_conf = conf.clone();
            raw_conf.btf_func_info &= btf.is_some();
            let verdict = verify(&p.insns, &raw_conf);
            let mut opts = LoadOptions::new(pt).name("objtest");
            if let Some(btf) = &btf {
                opts = opts.program_btf(btf, p);
            }
            opts.maps = maps.iter().map(|m| m.raw_fd()).collect();
            let k = match load_raw(&p.insns, &opts) {
                Ok(_) => Ok(()),
                Err(KernelError::Verifier { log, .. }) => {
                    Err(log.lines().rev().nth(1).unwrap_or("").to_string())
                }
                Err(e) => {
                    println!("{key}: kernel load failed: {e}");
                    continue;
                }
            };
            compared += 1;
            if k.is_ok() && verdict.is_ok() {
                kernel_accepts += 1;
            }
            if k.is_ok() == verdict.is_ok() {
                agree += 1;
            } else {
                problems.push(format!(
                    "{key}: oxbpf {}, Linux {} ({})",
                    if verdict.is_ok() {
                        "accepts"
                    } else {
                        "rejects"
                    },
                    if k.is_ok() { "accepts" } else { "rejects" },
                    k.err().unwrap_or_else(|| verdict
                        .err()
                        .map(|e| e.message.clone())
                        .unwrap_or_default())
                ));
            }
        }
    }
    println!(
        "{} objects, {ours} programs verified, {agree}/{compared} agree with Linux \
         ({kernel_accepts} accepted by both)",
        files.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
