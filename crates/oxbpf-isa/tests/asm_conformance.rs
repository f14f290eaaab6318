//! Every `-- asm` section of the bpf_conformance suite assembles to exactly the bytes of
//! the suite's `.hex` file, and its disassembly assembles back to the same program.

mod common;

use oxbpf_isa::{assemble, disassemble, DisasmOptions, Syntax};

#[test]
fn every_conformance_asm_section_assembles_to_its_hex() {
    let Some(dir) = common::suite_dir() else {
        eprintln!("SKIP: conformance suite not found (set OXBPF_CONFORMANCE_DIR)");
        return;
    };
    let mut checked = 0;
    let mut failures = Vec::new();
    for data in common::data_files(&dir) {
        let Some(asm) = common::asm_section(&data) else {
            continue;
        };
        let hex = common::hex_program(&data.with_extension("hex"));
        let name = data.file_name().unwrap().to_string_lossy().to_string();
        match assemble(&asm) {
            Ok(p) if p.to_bytes() == hex => {
                for syntax in [Syntax::Llvm, Syntax::Conformance] {
                    for labels in [false, true] {
                        let opts = DisasmOptions {
                            syntax,
                            labels,
                            ..DisasmOptions::default()
                        };
                        let text = disassemble(&p, &opts);
                        let back =
                            assemble(&text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
                        assert_eq!(back, p, "{name} ({opts:?}):\n{text}");
                    }
                }
            }
            Ok(p) => failures.push(format!(
                "{name}: bytes differ\n  ours:     {}\n  expected: {}",
                hex_string(&p.to_bytes()),
                hex_string(&hex)
            )),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        checked, 313,
        "the suite has 313 programs with an asm section"
    );
    eprintln!("{checked} conformance programs assembled to their exact bytes");
}

fn hex_string(b: &[u8]) -> String {
    b.chunks(8)
        .map(|c| c.iter().map(|x| format!("{x:02x}")).collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}
