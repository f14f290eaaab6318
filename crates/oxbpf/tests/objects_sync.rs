//! The committed objects of examples/tools match their C sources: each source is
//! recompiled (when clang is installed) and the programs' instructions, line info and the
//! map definitions are compared (raw bytes differ with paths and debug info).
//! `OXBPF_BLESS=1` rewrites the committed objects. (examples/*.c, examples/hello.c
//! included, are checked by oxbpf-obj's sync test.)

mod common;

use oxbpf_obj::{build, Object};

fn equivalent(a: &Object, b: &Object) -> bool {
    a.programs.len() == b.programs.len()
        && a.programs.iter().zip(&b.programs).all(|(x, y)| {
            x.name == y.name
                && x.section == y.section
                && x.insns == y.insns
                && x.line_info == y.line_info
        })
        && a.maps == b.maps
        && a.license == b.license
}

#[test]
fn tool_objects_match_their_sources() {
    require_clang!();
    let root = std::fs::canonicalize(common::root()).unwrap();
    let opts = build::BuildOptions {
        extra_args: vec!["-fdebug-compilation-dir=.".to_string()],
        working_dir: Some(root.clone()),
        ..build::BuildOptions::default()
    };
    let bless = std::env::var_os("OXBPF_BLESS").is_some_and(|v| v == "1");
    let dir = root.join("examples/tools");
    let mut sources: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    sources.sort();
    assert!(sources.len() >= 4, "{sources:?}");
    let mut stale = Vec::new();
    for src in &sources {
        let rel = src.strip_prefix(&root).unwrap();
        let fresh =
            build::compile_c_file(rel, &opts).unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
        let fresh_obj = Object::parse(&fresh).unwrap();
        let obj_path = src.with_extension("o");
        let same = std::fs::read(&obj_path)
            .ok()
            .and_then(|b| Object::parse(&b).ok())
            .is_some_and(|old| equivalent(&old, &fresh_obj));
        if !same {
            if bless {
                std::fs::write(&obj_path, &fresh).unwrap();
            } else {
                stale.push(obj_path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "out of date (rerun with OXBPF_BLESS=1): {stale:?}"
    );
}
