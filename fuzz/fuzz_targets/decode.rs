//! Bytes -> `Program`: whatever the decoder accepts must encode back to the same bytes,
//! and its disassembly (both syntaxes, every layout) must assemble back to the same
//! program.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oxbpf_isa::{assemble, disassemble, DisasmOptions, Program, Syntax};

fuzz_target!(|data: &[u8]| {
    let Ok(prog) = Program::decode(data) else {
        return;
    };
    assert_eq!(prog.to_bytes(), data, "decode/encode round trip");
    for syntax in [Syntax::Llvm, Syntax::Conformance] {
        for (labels, slots, raw_bytes) in [(true, false, false), (false, true, true)] {
            let opts = DisasmOptions {
                syntax,
                labels,
                slots,
                raw_bytes,
            };
            let text = disassemble(&prog, &opts);
            match assemble(&text) {
                Ok(back) => assert_eq!(back, prog, "{opts:?}\n{text}"),
                Err(e) => panic!("disassembly does not assemble ({opts:?}): {e}\n{text}"),
            }
        }
    }
});
