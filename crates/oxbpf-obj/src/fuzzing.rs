//! The body of the object-loading fuzz target, shared with a unit test that runs it over
//! mutated fixtures: loading arbitrary bytes must return an error or an object, never
//! panic, and everything reachable from a loaded object must be safe to walk.

use crate::Object;

/// Loads `bytes` and, when that succeeds, walks everything a consumer would.
/// Returns whether the bytes loaded.
pub fn check_object(bytes: &[u8]) -> bool {
    check_aya(bytes);
    let obj = match Object::parse(bytes) {
        Ok(o) => o,
        Err(e) => {
            // Formatting the error must not panic either.
            let _ = e.to_string();
            return false;
        }
    };
    for p in &obj.programs {
        let _ = p.kind.to_string();
        let _ = p.kind.prog_type();
        for r in p.map_references() {
            assert!(r.map < obj.maps.len(), "map reference out of range");
        }
        for i in 0..p.insns.len() {
            let _ = p.line_for(i);
            let _ = p.function_at(i);
            let _ = p.insns.branch_target(i);
        }
        for f in &p.functions {
            assert!(f.start + f.len <= p.insns.len());
        }
        for l in &p.line_info {
            assert!(l.insn < p.insns.len());
        }
        let _ = p.insns.to_bytes();
    }
    for m in &obj.maps {
        let _ = crate::map_type::name(m.map_type);
        if let Some(d) = &m.initial_data {
            assert_eq!(d.len(), m.value_size as usize);
        }
    }
    if let Some(btf) = &obj.btf {
        for (id, _) in btf.types() {
            let _ = btf.type_name(id);
            let _ = btf.size_of(id);
        }
    }
    true
}

/// What the kernel backend does with an object before loading it: bytes that pass
/// [`crate::aya_compat::check_for_aya`] go to aya-obj's parser and call relocation, which
/// must not panic on them (a panic there is caught by the backend, but an abort is not,
/// and a panic means a check is missing). Objects that [`Object::parse`] accepts must
/// pass the check.
fn check_aya(bytes: &[u8]) {
    if crate::aya_compat::check_for_aya(bytes).is_err() {
        assert!(
            Object::parse(bytes).is_err(),
            "Object::parse accepts what check_for_aya refuses"
        );
        return;
    }
    if let Ok(mut obj) = aya_obj::Object::parse(bytes) {
        let text: std::collections::HashSet<usize> =
            obj.functions.keys().map(|(s, _)| *s).collect();
        let _ = obj.relocate_calls(&text);
    }
}
