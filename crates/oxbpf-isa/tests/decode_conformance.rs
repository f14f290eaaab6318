//! Every program of the bpf_conformance suite decodes, and encodes back to its bytes.

mod common;

use common::{hex_program, suite_dir};
use oxbpf_isa::Program;

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
