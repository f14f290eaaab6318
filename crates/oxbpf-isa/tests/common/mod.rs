//! Shared helpers of the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The bpf_conformance suite: `$OXBPF_CONFORMANCE_DIR`, else `shared/conformance` next
/// to the repository (`<repo>/../shared/conformance`) or next to any directory above it
/// (so that git worktrees in a subdirectory find it too).
pub fn suite_dir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("OXBPF_CONFORMANCE_DIR") {
        return Some(PathBuf::from(d));
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/conformance"))
        .find(|d| d.join("tests").is_dir())
}

/// The bytes of a `.hex` file: one slot per line as 16 hex digits, `#` comment lines.
pub fn hex_program(path: &Path) -> Vec<u8> {
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

/// The `-- asm` section of a `.data` file, if it has one.
pub fn asm_section(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = None::<String>;
    let mut in_asm = false;
    for line in text.lines() {
        if line.contains("--") {
            in_asm = line.contains("asm");
            if in_asm {
                out = Some(String::new());
            }
            continue;
        }
        if in_asm {
            if let Some(s) = out.as_mut() {
                s.push_str(line);
                s.push('\n');
            }
        }
    }
    out
}

/// The sorted `.data` files of the suite.
pub fn data_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|s| s.to_str()) == Some("data"))
        .collect();
    v.sort();
    v
}
