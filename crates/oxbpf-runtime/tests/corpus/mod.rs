//! The C test programs of `tests/programs` and their committed objects.
#![allow(dead_code)]

use oxbpf_obj::build::{self, BuildOptions};
use oxbpf_obj::Object;
use oxbpf_runtime::loader::{LoadedObject, Runtime};
use oxbpf_vm::EngineKind;
use std::path::{Path, PathBuf};

/// The crate directory.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every C program of the corpus, sorted.
pub fn sources() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(crate_dir().join("tests/programs"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "c"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Build options: clang runs in the crate directory on `tests/programs/x.c` with `.` as
/// the debug compilation directory, so objects record no checkout path.
pub fn build_options() -> BuildOptions {
    BuildOptions {
        extra_args: vec!["-fdebug-compilation-dir=.".to_string()],
        working_dir: Some(crate_dir()),
        ..BuildOptions::default()
    }
}

/// `tests/programs/<name>.c` relative to the crate directory.
pub fn relative_source(name: &str) -> PathBuf {
    Path::new("tests/programs").join(format!("{name}.c"))
}

/// The committed object of `name`.
pub fn object_bytes(name: &str) -> Vec<u8> {
    let p = crate_dir().join("tests/programs").join(format!("{name}.o"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The parsed committed object of `name`.
pub fn object(name: &str) -> Object {
    Object::parse(&object_bytes(name)).unwrap_or_else(|e| panic!("{name}.o: {e}"))
}

/// `name` loaded into a fresh runtime on `engine` (verified, the default).
pub fn load(name: &str, engine: EngineKind) -> LoadedObject {
    load_setup(
        name,
        Setup {
            engine,
            verify: true,
        },
    )
}

/// How the corpus is loaded: an engine, verified (the JIT then runs without run-time
/// checks) or not (checked mode, with an instruction budget).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    pub engine: EngineKind,
    pub verify: bool,
}

/// `name` loaded into a fresh runtime with `setup`.
pub fn load_setup(name: &str, setup: Setup) -> LoadedObject {
    runtime(setup)
        .load_elf(&object_bytes(name))
        .unwrap_or_else(|e| panic!("{name}.o ({setup:?}): {e}"))
}

/// A runtime for `setup`: unverified runs get a budget, verified ones (which terminate)
/// none, so the JIT compiles without budget checks.
pub fn runtime(setup: Setup) -> Runtime {
    Runtime::new()
        .with_engine(setup.engine)
        .with_verify(setup.verify)
        .with_budget((!setup.verify).then_some(10_000_000))
}

/// Every engine, unverified and verified.
pub fn setups() -> Vec<Setup> {
    let mut v = Vec::new();
    for verify in [false, true] {
        for engine in engines() {
            v.push(Setup { engine, verify });
        }
    }
    v
}

/// `Some(reason)` when clang is unavailable.
pub fn clang_missing() -> Option<String> {
    build::find_clang(&BuildOptions::default())
        .err()
        .map(|e| e.to_string())
}

/// The bytes of global variable `var` of the loaded object (found through the object's
/// data symbols).
pub fn global(obj: &Object, loaded: &LoadedObject, var: &str) -> Vec<u8> {
    for def in &obj.maps {
        if let Some(s) = def.symbols.iter().find(|s| s.name == var) {
            let map = loaded.map(&def.name).unwrap();
            let v = map.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
            return v[s.offset as usize..(s.offset + s.size) as usize].to_vec();
        }
    }
    panic!("no global variable `{var}`");
}

/// `u64`s of a byte buffer.
pub fn u64s(b: &[u8]) -> Vec<u64> {
    b.chunks_exact(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
        .collect()
}

/// The `i64`s of a byte buffer.
pub fn i64s(b: &[u8]) -> Vec<i64> {
    u64s(b).into_iter().map(|v| v as i64).collect()
}

/// The engines the corpus runs on.
pub fn engines() -> Vec<EngineKind> {
    if cfg!(target_arch = "x86_64") {
        vec![EngineKind::Interpreter, EngineKind::Jit]
    } else {
        vec![EngineKind::Interpreter]
    }
}
