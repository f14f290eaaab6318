//! The context analysis runs on programs out of object files: it must terminate without
//! panicking on every valid program, and name an instruction of that program.

use oxbpf_kernel::context::context_read;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn context_read_never_panics(p in oxbpf_isa::arbitrary::program(64)) {
        if let Some(r) = context_read(&p) {
            prop_assert!(r.insn < p.len(), "{r:?}");
        }
    }
}
