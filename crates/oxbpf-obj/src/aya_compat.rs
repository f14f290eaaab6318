//! The object as aya-obj sees it, for backends that load through aya.
//!
//! aya-obj 0.3 is the parser aya uses, but it panics on some malformed inputs (unchecked
//! slicing of symbol and section ranges, `unwrap`s in its `.BTF.ext` reader, arithmetic
//! overflow on hostile offsets) and rejects some valid section names (`tc`, `tcx/...`,
//! `usdt`, ...). [`parse_with_aya`] therefore runs only on bytes that [`Object::parse`]
//! accepted, and as a last resort catches a panic and reports it as
//! [`ObjError::Aya`] (the process keeps running; the default panic hook still prints
//! the panic message on stderr).

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::{ObjError, Object};

/// Parses `bytes` with aya-obj after validating them with [`Object::parse`].
pub fn parse_with_aya(bytes: &[u8]) -> Result<aya_obj::Object, ObjError> {
    Object::parse(bytes)?;
    aya_parse_guarded(bytes)
}

impl Object {
    /// The same object parsed by aya-obj (see [`parse_with_aya`]).
    pub fn aya_object(&self) -> Result<aya_obj::Object, ObjError> {
        aya_parse_guarded(self.elf_bytes())
    }
}

fn aya_parse_guarded(bytes: &[u8]) -> Result<aya_obj::Object, ObjError> {
    match catch_unwind(AssertUnwindSafe(|| aya_obj::Object::parse(bytes))) {
        Ok(Ok(o)) => Ok(o),
        Ok(Err(e)) => {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(": ");
                msg.push_str(&s.to_string());
                src = s.source();
            }
            Err(ObjError::Aya(msg))
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(ObjError::Aya(format!("aya-obj panicked: {what}")))
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
    fn aya_errors_are_reported() {
        // aya-obj 0.3 does not know the `tc` section name.
        let e = parse_with_aya(&fixture("sections_tc.o")).unwrap_err();
        assert_eq!(e.to_string(), "aya-obj: invalid program section `tc`");
        assert!(parse_with_aya(&fixture("calls.o")).is_ok());
    }
}
