//! Malformed objects are errors, never panics: aya-obj 0.3 panics on some of them
//! (arithmetic overflow on a non-zero code section address, `chunks(0)` on a zero
//! `.BTF.ext` record size, ...), so the backend validates objects with oxbpf-obj before
//! handing them to aya.

mod common;

use object::{Object as _, ObjectSection as _};
use oxbpf_kernel::{KernelError, KernelObject, LineTable};

fn fixture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `calls.o` with its first program section at address 0x1000.
fn code_at_nonzero_address() -> Vec<u8> {
    let mut b = fixture("calls.o");
    let f = object::read::elf::ElfFile64::<object::LittleEndian>::parse(&*b).unwrap();
    let shoff = f.elf_header().e_shoff.get(object::LittleEndian) as usize;
    let idx = f
        .section_by_name("tp/sched/sched_switch")
        .unwrap()
        .index()
        .0;
    let at = shoff + idx * 64 + 16;
    b[at..at + 8].copy_from_slice(&0x1000u64.to_le_bytes());
    b
}

/// `core.o` with the record size of its `.BTF.ext` CO-RE subsection set to 0.
fn zero_core_record_size() -> Vec<u8> {
    let mut b = fixture("core.o");
    let f = object::File::parse(&*b).unwrap();
    let (off, _) = f.section_by_name(".BTF.ext").unwrap().file_range().unwrap();
    let off = off as usize;
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let hdr_len = u32_at(&b, off + 4) as usize;
    assert!(hdr_len >= 32, "core.o has CO-RE records");
    let core_off = u32_at(&b, off + 24) as usize;
    let rec = off + hdr_len + core_off;
    b[rec..rec + 4].copy_from_slice(&0u32.to_le_bytes());
    b
}

#[test]
fn malformed_objects_are_errors() {
    for (what, bytes) in [
        ("code at a non-zero address", code_at_nonzero_address()),
        ("zero CO-RE record size", zero_core_record_size()),
        ("not ELF", b"\x7fELF but not really".to_vec()),
    ] {
        let e = KernelObject::load(&bytes).expect_err(what);
        assert!(matches!(e, KernelError::ObjectFile { .. }), "{what}: {e}");
        println!("{what}: {e}");
        assert_eq!(
            LineTable::for_program(&bytes, "caller_one").map(|t| t.len()),
            None
        );
    }
    let e = KernelObject::load(&code_at_nonzero_address()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "object file: section `tp/sched/sched_switch`: has address 0x1000; code in a \
         relocatable object is at 0"
    );
}
