//! ELF bytes -> `oxbpf_obj::Object`: loading never panics, and everything reachable from
//! a loaded object (programs, line info, map references, BTF) is safe to walk. The body
//! is `oxbpf_obj::fuzzing::check_object`, which the crate's tests also run over mutated
//! fixtures. Seeds: the committed fixture objects (`tests/fixtures/*.o`, `examples/*.o`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    oxbpf_obj::fuzzing::check_object(data);
});
