//! The whole bpf_conformance suite, in process, through every engine this build has: each
//! test's program runs with its memory and helper 5, and `r0` must equal the expected
//! result. The suite lives outside the repository (`../shared/conformance` next to the
//! repository root, or `$OXBPF_CONFORMANCE_DIR`); without it the test prints SKIP.

use oxbpf::{conformance_helpers, RunContext, ENGINES};
use std::path::{Path, PathBuf};

fn suite_dir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("OXBPF_CONFORMANCE_DIR") {
        return Some(PathBuf::from(d));
    }
    // `<repo root>/../shared/conformance`, found from any checkout depth (the main clone
    // or a worktree).
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/conformance"))
        .find(|d| d.join("tests").is_dir())
}

/// One test: program bytes, input memory, expected r0 (`None`: an error is expected).
struct Case {
    name: String,
    code: Vec<u8>,
    memory: Vec<u8>,
    expected: Option<u64>,
}

/// Parses `NAME.data` (sections `-- raw`, `-- mem`, `-- result`, `-- error`; `#` starts a
/// comment) and, when it has no `-- raw` section, the pre-assembled `NAME.hex`.
fn parse_case(data: &Path) -> Case {
    let text = std::fs::read_to_string(data).unwrap();
    let (mut section, mut raw, mut mem, mut result, mut error) =
        ("", Vec::new(), Vec::new(), None::<String>, false);
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim_end_matches('\r');
        if line.contains("--") {
            section = if line.contains("asm") {
                "asm"
            } else if line.contains("result") {
                "result"
            } else if line.contains("mem") {
                "mem"
            } else if line.contains("raw") {
                "raw"
            } else if line.contains("error") {
                error = true;
                "error"
            } else {
                ""
            };
            continue;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match section {
            "raw" => {
                for tok in line.split_whitespace() {
                    let v = match tok.strip_prefix("0x") {
                        Some(h) => u64::from_str_radix(h, 16).unwrap(),
                        None => tok.parse().unwrap(),
                    };
                    raw.extend_from_slice(&v.to_le_bytes());
                }
            }
            "mem" => {
                for tok in line.split_whitespace() {
                    mem.push(u8::from_str_radix(tok, 16).unwrap());
                }
            }
            "result" => result = Some(line.to_string()),
            _ => {}
        }
    }
    let code = if raw.is_empty() {
        let hex = std::fs::read_to_string(data.with_extension("hex")).unwrap();
        let mut code = Vec::new();
        for line in hex.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            code.extend(oxbpf::hex::decode(line).unwrap());
        }
        code
    } else {
        raw
    };
    let expected = match (result, error) {
        (_, true) => None,
        (Some(r), false) => Some(match r.find("0x") {
            Some(i) => u64::from_str_radix(&r[i + 2..], 16).unwrap(),
            None => r.parse().unwrap(),
        }),
        (None, false) => panic!("{}: no result section", data.display()),
    };
    Case {
        name: data.file_stem().unwrap().to_string_lossy().into_owned(),
        code,
        memory: mem,
        expected,
    }
}

#[test]
fn whole_conformance_suite_passes_in_process() {
    let Some(dir) = suite_dir() else {
        eprintln!(
            "SKIP: conformance suite not found (../shared/conformance or $OXBPF_CONFORMANCE_DIR)"
        );
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "data"))
        .collect();
    files.sort();
    let cases: Vec<Case> = files.iter().map(|f| parse_case(f)).collect();
    assert_eq!(cases.len(), 313, "the suite has 313 tests");
    let helpers = conformance_helpers();
    for &(engine_name, engine) in ENGINES {
        let mut failures = Vec::new();
        for case in &cases {
            let result = oxbpf::load_raw(&case.code, &helpers, engine)
                .map_err(|e| e.to_string())
                .and_then(|prog| {
                    let mut mem = case.memory.clone();
                    let mut ctx = RunContext::with_memory(&mut mem);
                    prog.run(&mut ctx).map_err(|e| e.to_string())
                });
            match (result, case.expected) {
                (Ok(out), Some(want)) if out.r0 == want => {}
                (Err(_), None) => {}
                (got, want) => failures.push(format!(
                    "{}: got {:?}, expected {}",
                    case.name,
                    got.map(|o| format!("{:#x}", o.r0)),
                    want.map_or("an error".into(), |w| format!("{w:#x}"))
                )),
            }
        }
        eprintln!(
            "{engine_name}: {} passed, {} failed",
            cases.len() - failures.len(),
            failures.len()
        );
        assert!(
            failures.is_empty(),
            "{engine_name}: {} failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}
