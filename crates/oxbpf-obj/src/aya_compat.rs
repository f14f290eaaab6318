//! The object as aya-obj sees it, for backends that load through aya.
//!
//! aya-obj 0.3 is the parser aya uses, but it panics on some malformed inputs (unchecked
//! slicing of symbol and section ranges, `unwrap`s in its `.BTF.ext` reader, arithmetic
//! overflow on hostile offsets, `chunks(0)` on a zero record size) and rejects some valid
//! section names (`tc`, `tcx/...`, `usdt`, ...). So:
//!
//! - [`check_for_aya`] runs the checks of [`Object::parse`] that guard aya-obj (ELF
//!   structure, symbols, relocations, maps, BTF, `.BTF.ext`, functions) on bytes that
//!   are about to be handed to aya or aya-obj;
//! - [`parse_with_aya`] / [`Object::aya_object`] run aya-obj only on bytes that
//!   [`Object::parse`] accepted;
//! - [`catch_panic`] turns a panic that gets through anyway (aya-obj's relocation code
//!   panics on symbol kinds it has no branch for) into [`ObjError::Aya`]: the process keeps running; the default
//!   panic hook still prints the panic message on stderr. An abort (say an allocation
//!   as large as a hostile size) cannot be caught, which is why the checks come first.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::{ObjError, Object};

/// Parses `bytes` with aya-obj after validating them with [`Object::parse`].
pub fn parse_with_aya(bytes: &[u8]) -> Result<aya_obj::Object, ObjError> {
    Object::parse(bytes)?;
    aya_parse_guarded(bytes)
}

/// Checks that `bytes` are an object aya and aya-obj can be given: the checks of
/// [`Object::parse`] except program section names and instruction decoding (aya accepts
/// section names oxbpf does not know, and leaves instructions to the kernel's verifier).
/// Every aya-obj 0.3 panic found by the mutation tests is rejected here first.
pub fn check_for_aya(bytes: &[u8]) -> Result<(), ObjError> {
    crate::object::check_structure(bytes)
}

/// Runs `f` (a call into aya or aya-obj) and turns a panic into [`ObjError::Aya`] naming
/// `what` and the panic message.
pub fn catch_panic<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, ObjError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        let msg = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        ObjError::Aya(format!("{what} panicked: {msg}"))
    })
}

impl Object {
    /// The same object parsed by aya-obj (see [`parse_with_aya`]).
    pub fn aya_object(&self) -> Result<aya_obj::Object, ObjError> {
        aya_parse_guarded(self.elf_bytes())
    }
}

fn aya_parse_guarded(bytes: &[u8]) -> Result<aya_obj::Object, ObjError> {
    match catch_panic("aya-obj", || aya_obj::Object::parse(bytes))? {
        Ok(o) => Ok(o),
        Err(e) => {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(": ");
                msg.push_str(&s.to_string());
                src = s.source();
            }
            Err(ObjError::Aya(msg))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures")
            .join(name);
        std::fs::read(p).unwrap()
    }

    #[test]
    fn aya_panics_become_errors() {
        // aya-obj 0.3 computes `symbol address - section address` unchecked: a code
        // section with a non-zero address makes it panic. Object::parse rejects such a
        // section first; the guard itself turns the panic into an error.
        let mut b = fixture("calls.o");
        let f = object::read::elf::ElfFile64::<object::LittleEndian>::parse(&*b).unwrap();
        let shoff = f.elf_header().e_shoff.get(object::LittleEndian) as usize;
        let idx = {
            use object::{Object as _, ObjectSection as _};
            f.section_by_name("tp/sched/sched_switch")
                .unwrap()
                .index()
                .0
        };
        let sh_addr = shoff + idx * 64 + 16;
        b[sh_addr..sh_addr + 8].copy_from_slice(&0x1000u64.to_le_bytes());
        let ours = Object::parse(&b).unwrap_err();
        assert_eq!(
            ours.to_string(),
            "section `tp/sched/sched_switch`: has address 0x1000; code in a relocatable \
             object is at 0"
        );
        let e = aya_parse_guarded(&b).unwrap_err();
        assert!(
            e.to_string().starts_with("aya-obj: aya-obj panicked"),
            "{e}"
        );
    }

    #[test]
    fn structure_checks_leave_section_names_and_code_to_aya() {
        assert_eq!(check_for_aya(&fixture("calls.o")), Ok(()));
        // A section name oxbpf does not know: Object::parse refuses the object, the
        // structural checks do not (aya decides on names).
        let mut b = fixture("calls.o");
        let at = {
            use object::read::elf::{ElfFile64, FileHeader as _, SectionHeader as _};
            use object::LittleEndian as LE;
            let f = ElfFile64::<LE>::parse(&*b).unwrap();
            let (hdr, data) = (f.elf_header(), f.data());
            let table = hdr.sections(LE, data).unwrap();
            let sh = table
                .iter()
                .find(|sh| table.section_name(LE, sh) == Ok(&b"tp/sched/sched_switch"[..]))
                .unwrap();
            let shstrtab = table
                .section(object::SectionIndex(hdr.e_shstrndx(LE) as usize))
                .unwrap();
            shstrtab.sh_offset(LE) as usize + sh.sh_name(LE) as usize
        };
        b[at..at + 2].copy_from_slice(b"zz");
        assert!(Object::parse(&b).is_err());
        assert_eq!(check_for_aya(&b), Ok(()));
        // Structural damage is refused.
        let e = check_for_aya(&b[..100]).unwrap_err();
        assert!(matches!(e, ObjError::Elf(_)), "{e}");
        assert_eq!(
            catch_panic("thing", || -> u8 { panic!("boom {}", 1) }),
            Err(ObjError::Aya("thing panicked: boom 1".to_string()))
        );
        assert_eq!(catch_panic("thing", || 7), Ok(7));
    }

    #[test]
    fn aya_errors_are_reported() {
        // aya-obj 0.3 does not know the `tc` section name.
        let e = parse_with_aya(&fixture("sections_tc.o")).unwrap_err();
        assert_eq!(e.to_string(), "aya-obj: invalid program section `tc`");
        assert!(parse_with_aya(&fixture("calls.o")).is_ok());
    }
}
