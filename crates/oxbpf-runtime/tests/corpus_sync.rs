//! The committed objects of `tests/programs` match their sources: each source is
//! recompiled (when clang is installed) and the programs' instructions and map definitions
//! are compared with the committed object's. `OXBPF_BLESS=1` rewrites the objects.

mod corpus;

use oxbpf_obj::{build, Object};

#[test]
fn committed_objects_match_their_sources() {
    if let Some(why) = corpus::clang_missing() {
        println!("SKIP: {why}");
        return;
    }
    let bless = std::env::var_os("OXBPF_BLESS").is_some_and(|v| v == "1");
    let opts = corpus::build_options();
    let sources = corpus::sources();
    assert!(sources.len() >= 15, "programs missing: {sources:?}");
    let mut stale = Vec::new();
    for src in &sources {
        let name = src.file_stem().unwrap().to_string_lossy().to_string();
        let fresh = build::compile_c_file(&corpus::relative_source(&name), &opts)
            .unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        let fresh_obj = Object::parse(&fresh).unwrap_or_else(|e| panic!("{name} (fresh): {e}"));
        let obj_path = src.with_extension("o");
        let same = std::fs::read(&obj_path)
            .ok()
            .and_then(|b| Object::parse(&b).ok())
            .is_some_and(|old| {
                old.maps == fresh_obj.maps
                    && old.programs.len() == fresh_obj.programs.len()
                    && old.programs.iter().zip(&fresh_obj.programs).all(|(a, b)| {
                        a.name == b.name && a.section == b.section && a.insns == b.insns
                    })
            });
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
