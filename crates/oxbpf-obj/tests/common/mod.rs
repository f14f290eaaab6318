//! Shared helpers for the oxbpf-obj integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use oxbpf_obj::build::{self, BuildOptions};
use oxbpf_obj::Object;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every C fixture and example that ships a compiled object next to it.
pub fn sources() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in ["tests/fixtures", "examples"] {
        let Ok(rd) = std::fs::read_dir(root().join(dir)) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "c") {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

/// Path of a fixture source (`tests/fixtures/<name>.c`).
pub fn fixture_src(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(format!("{name}.c"))
}

/// Loads the committed object of `tests/fixtures/<name>.o`.
pub fn fixture(name: &str) -> Object {
    load(&root().join("tests/fixtures").join(format!("{name}.o")))
}

pub fn load(path: &Path) -> Object {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Object::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Build options for the fixtures: clang runs at the repository root (sources are given
/// relative to it, so line info names `tests/fixtures/x.c`) with `.` as the debug
/// compilation directory, so committed objects do not record a checkout path.
pub fn build_options() -> BuildOptions {
    let root = std::fs::canonicalize(root()).unwrap_or_else(|_| root());
    BuildOptions {
        extra_args: vec!["-fdebug-compilation-dir=.".to_string()],
        working_dir: Some(root),
        ..BuildOptions::default()
    }
}

/// `path` relative to the repository root.
pub fn relative(path: &Path) -> PathBuf {
    let root = std::fs::canonicalize(root()).unwrap_or_else(|_| root());
    let full = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    full.strip_prefix(&root)
        .map(Path::to_path_buf)
        .unwrap_or(full)
}

/// `Some(reason)` when clang is unavailable.
pub fn clang_missing() -> Option<String> {
    match build::find_clang(&BuildOptions::default()) {
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    }
}
