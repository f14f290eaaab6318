//! The committed objects next to the C fixtures and examples match their sources: each
//! source is recompiled (when clang is installed) and the programs' instructions and the
//! map definitions are compared (raw bytes differ with paths and debug info).
//! `OXBPF_BLESS=1` rewrites the committed objects.

mod common;

use oxbpf_obj::{build, Object};

#[test]
fn committed_objects_match_their_sources() {
    if let Some(why) = common::clang_missing() {
        println!("SKIP: {why}");
        return;
    }
    let bless = std::env::var_os("OXBPF_BLESS").is_some_and(|v| v == "1");
    let opts = common::build_options();
    let sources = common::sources();
    assert!(sources.len() >= 10, "fixtures missing: {sources:?}");
    let mut stale = Vec::new();
    for src in &sources {
        let obj_path = src.with_extension("o");
        let fresh = build::compile_c_file(&common::relative(src), &opts)
            .unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        let fresh_obj =
            Object::parse(&fresh).unwrap_or_else(|e| panic!("{} (fresh): {e}", src.display()));
        let same = match std::fs::read(&obj_path) {
            Ok(bytes) => match Object::parse(&bytes) {
                Ok(old) => equivalent(&old, &fresh_obj),
                Err(_) => false,
            },
            Err(_) => false,
        };
        if !same {
            if bless {
                std::fs::write(&obj_path, &fresh).unwrap();
                println!("blessed {}", obj_path.display());
            } else {
                stale.push(obj_path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "objects out of date with their sources (rerun with OXBPF_BLESS=1): {stale:?}"
    );
}

fn equivalent(a: &Object, b: &Object) -> bool {
    a.programs.len() == b.programs.len()
        && a.programs
            .iter()
            .zip(&b.programs)
            .all(|(x, y)| x.name == y.name && x.section == y.section && x.insns == y.insns)
        && a.maps == b.maps
        && a.license == b.license
        && a.programs
            .iter()
            .zip(&b.programs)
            .all(|(x, y)| x.line_info == y.line_info)
}
