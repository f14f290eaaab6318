//! The committed objects in `bench/programs/` match their C sources: each `.c` is
//! recompiled with the flags of `build.sh` and its instructions compared with the `.o`.
//! Needs clang; prints `SKIP: <reason>` and passes without it.

use oxbpf_bench::programs::{extract, PROGRAMS};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("programs")
}

fn clang() -> Option<String> {
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".into());
    let ok = Command::new(&clang)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    ok.then_some(clang)
}

fn stems(ext: &str) -> BTreeSet<String> {
    std::fs::read_dir(programs_dir())
        .expect("bench/programs is readable")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().and_then(|x| x.to_str()) == Some(ext))
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(String::from))
        .collect()
}

#[test]
fn every_source_has_an_object_and_a_registry_entry() {
    let sources = stems("c");
    let objects = stems("o");
    assert_eq!(sources, objects, "each .c needs its .o and each .o its .c");
    let registered: BTreeSet<String> = PROGRAMS.iter().map(|p| p.name.to_string()).collect();
    assert_eq!(sources, registered, "programs.rs must list every program");
    assert!(sources.len() >= 7, "at least seven benchmark programs");
}

#[test]
fn committed_objects_match_their_sources() {
    let Some(clang) = clang() else {
        println!("SKIP: clang is not installed (set CLANG to use another)");
        return;
    };
    let out_dir = std::env::temp_dir().join(format!("oxbpf-bench-sync-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let dir = programs_dir();
    let mut checked = 0;
    for p in PROGRAMS {
        let src = dir.join(format!("{}.c", p.name));
        let obj = out_dir.join(format!("{}.o", p.name));
        // The flags of bench/programs/build.sh.
        let status = Command::new(&clang)
            .args(["-O2", "-target", "bpf", "-mcpu=v3", "-c"])
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .current_dir(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "clang failed on {}", src.display());
        let fresh = extract(&std::fs::read(&obj).unwrap()).unwrap();
        let committed = extract(p.object).unwrap();
        if fresh != committed {
            let first = fresh
                .chunks(8)
                .zip(committed.chunks(8))
                .position(|(a, b)| a != b)
                .unwrap_or(fresh.len().min(committed.len()) / 8);
            panic!(
                "bench/programs/{}.o is stale: {} instructions from the source, {} committed, \
                 first difference at instruction {first}; run bench/programs/build.sh",
                p.name,
                fresh.len() / 8,
                committed.len() / 8
            );
        }
        checked += 1;
    }
    std::fs::remove_dir_all(&out_dir).ok();
    assert_eq!(checked, PROGRAMS.len());
}
