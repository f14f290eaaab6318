//! The committed objects in `bench/programs/` match their C sources: each `.c` is
//! recompiled (oxbpf-obj's build module, with the flags of `build.sh`) and its
//! instructions compared with the `.o`. Needs clang; prints `SKIP: <reason>` and passes
//! without it.

use oxbpf_bench::programs::{extract, PROGRAMS};
use oxbpf_obj::build::{compile_c_file, find_clang, BuildOptions, Uapi};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("programs")
}

/// The flags of `build.sh`: `clang -O2 -target bpf -mcpu=v3 -c`, no debug info, no
/// header.
fn build_options() -> BuildOptions {
    BuildOptions {
        debug_info: false,
        include_header: false,
        uapi: Uapi::Exclude,
        extra_args: vec!["-mcpu=v3".into()],
        working_dir: Some(programs_dir()),
        ..BuildOptions::default()
    }
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
    let opts = build_options();
    if let Err(e) = find_clang(&opts) {
        println!("SKIP: {e}");
        return;
    }
    let mut checked = 0;
    for p in PROGRAMS {
        let file = format!("{}.c", p.name);
        let object = compile_c_file(Path::new(&file), &opts)
            .unwrap_or_else(|e| panic!("bench/programs/{file}: {e}"));
        let fresh = extract(&object).unwrap();
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
    assert_eq!(checked, PROGRAMS.len());
}
