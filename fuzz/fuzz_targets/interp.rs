//! Bytes -> an interpreter run (input layout and checks in `oxbpf_vm::interp::fuzz`): the
//! first byte sizes the input buffer, the next bytes fill it, the rest is the program. The
//! run has an instruction budget, a writable input and a read-only region between guard
//! bytes, and helpers that read and write memory. It must never panic and never write
//! outside its regions (checked by the guard bytes; AddressSanitizer catches reads).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = oxbpf_vm::interp::fuzz::run_bytes(data);
});
