//! Text -> `Program`: the assembler must never panic, and what it accepts must survive
//! bytes and a disassembly round trip in both syntaxes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oxbpf_isa::{assemble, disassemble, DisasmOptions, Program, Syntax};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(prog) = assemble(&text) else {
        return;
    };
    match Program::decode(&prog.to_bytes()) {
        Ok(back) => assert_eq!(back, prog, "bytes round trip"),
        Err(e) => panic!("assembled program does not decode: {e}"),
    }
    for syntax in [Syntax::Llvm, Syntax::Conformance] {
        for labels in [true, false] {
            let opts = DisasmOptions {
                syntax,
                labels,
                ..DisasmOptions::default()
            };
            let text = disassemble(&prog, &opts);
            match assemble(&text) {
                Ok(back) => assert_eq!(back, prog, "{opts:?}\n{text}"),
                Err(e) => panic!("disassembly does not assemble ({opts:?}): {e}\n{text}"),
            }
        }
    }
});
