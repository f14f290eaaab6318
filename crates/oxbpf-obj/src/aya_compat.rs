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
