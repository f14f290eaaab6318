//! Property tests over generated instructions and programs.

use oxbpf_isa::arbitrary;
use oxbpf_isa::{assemble, decode_insn, disassemble, format_insn, DisasmOptions, Program, Syntax};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn generated_instructions_are_valid(insn in arbitrary::insn()) {
        prop_assert_eq!(insn.validate(), Ok(()));
    }

    #[test]
    fn decode_inverts_encode(insn in arbitrary::insn()) {
        let (a, b) = insn.encode();
        let slots: Vec<_> = std::iter::once(a).chain(b).collect();
        prop_assert_eq!(decode_insn(&slots), Ok((insn, insn.slots())));
    }

    #[test]
    fn format_insn_is_parseable(insn in arbitrary::insn()) {
        for syntax in [Syntax::Llvm, Syntax::Conformance] {
            let text = format_insn(&insn, syntax);
            // Alone, a branch may leave the one-instruction program; the text must still
            // parse (a target error is the only acceptable failure).
            if let Err(e) = assemble(&text) {
                prop_assert!(insn.branch_offset().is_some(), "{}: {}", text, e);
                prop_assert!(e.message.contains("target"), "{}: {}", text, e);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn programs_survive_bytes(p in arbitrary::program(40)) {
        let back = Program::decode(&p.to_bytes());
        prop_assert_eq!(back, Ok(p));
    }

    #[test]
    fn assemble_inverts_disassemble(p in arbitrary::program(40)) {
        for syntax in [Syntax::Llvm, Syntax::Conformance] {
            for labels in [false, true] {
                for (slots, raw_bytes) in [(false, false), (true, false), (true, true), (false, true)] {
                    let opts = DisasmOptions { syntax, labels, slots, raw_bytes };
                    let text = disassemble(&p, &opts);
                    match assemble(&text) {
                        Ok(back) => prop_assert_eq!(&back, &p, "{:?}\n{}", opts, text),
                        Err(e) => prop_assert!(false, "{:?}: {}\n{}", opts, e, text),
                    }
                }
            }
        }
    }
}
