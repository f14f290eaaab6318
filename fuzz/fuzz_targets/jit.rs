//! Bytes -> the same run on the interpreter and on the checked JIT (input layout of the
//! `interp` target; checks in `oxbpf_vm::jit::fuzz`): guarded memory, helpers that read and
//! write memory, an instruction budget. The JIT must never crash or write outside its
//! regions, and must agree with the interpreter (same error and pc, or the same instruction
//! count and r0).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = oxbpf_vm::jit::fuzz::differential(data);
});
