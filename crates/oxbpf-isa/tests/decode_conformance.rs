//! Every program of the bpf_conformance suite decodes, and encodes back to its bytes.

use oxbpf_isa::Program;
use std::path::PathBuf;

fn suite_dir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("OXBPF_CONFORMANCE_DIR") {
        return Some(PathBuf::from(d));
    }
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance");
    d.join("tests").is_dir().then_some(d)
}

fn hex_program(path: &std::path::Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        for i in (0..line.len()).step_by(2) {
            out.push(u8::from_str_radix(&line[i..i + 2], 16).unwrap());
        }
    }
    out
}

#[test]
fn every_conformance_program_round_trips() {
    let Some(dir) = suite_dir() else {
        eprintln!("SKIP: conformance suite not found (set OXBPF_CONFORMANCE_DIR)");
        return;
    };
    let mut n = 0;
    for e in std::fs::read_dir(dir.join("tests")).unwrap() {
        let path = e.unwrap().path();
        if path.extension().and_then(|s| s.to_str()) != Some("hex") {
            continue;
        }
        let bytes = hex_program(&path);
        let prog = Program::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(prog.to_bytes(), bytes, "{}", path.display());
        n += 1;
    }
    assert_eq!(n, 313);
}
