//! Where a uprobe goes: the binary's path and the file offset of a symbol in it.
//!
//! The kernel takes a uprobe as (path, file offset). A target names a binary by path, by a
//! program name looked up in `PATH` (`uprobe:bash:readline`, as bpftrace does), or by a
//! library name (`libc`, `libc.so.6`), looked up first among the files the process maps
//! (for a probe limited to one process), then in the usual library directories. A symbol
//! is looked up in the dynamic symbols, then the symbol table, and its address is turned
//! into a file offset through the section that holds it.

use std::path::{Path, PathBuf};

use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};

use crate::error::KernelError;
use crate::target::{UprobeLocation, UprobeTarget};

/// Library directories searched for bare library names, after the process's mappings.
fn library_dirs() -> Vec<PathBuf> {
    let machine = crate::sys::uname().map(|u| u.machine).unwrap_or_default();
    let mut dirs = Vec::new();
    if !machine.is_empty() {
        for base in ["/lib", "/usr/lib", "/usr/local/lib"] {
            dirs.push(PathBuf::from(format!("{base}/{machine}-linux-gnu")));
        }
    }
    for d in ["/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib"] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

/// Whether file name `file` is library `name`: `libc` matches `libc.so.6` and `libc.so`,
/// `c` matches `libc.so.6`, a full name matches itself.
fn library_matches(file: &str, name: &str) -> bool {
    if file == name {
        return true;
    }
    let lib = if name.starts_with("lib") {
        name.to_string()
    } else {
        format!("lib{name}")
    };
    file.strip_prefix(&lib)
        .is_some_and(|rest| rest == ".so" || rest.starts_with(".so.") || rest.starts_with('-'))
        && file.contains(".so")
}

/// The files process `pid` maps, from `/proc/PID/maps`.
fn mapped_files(pid: u32) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/maps")) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.starts_with('/'))
        .map(PathBuf::from)
        .collect();
    v.dedup();
    v
}

/// The file a uprobe target names.
pub(crate) fn resolve_binary(target: &UprobeTarget) -> Result<PathBuf, KernelError> {
    let b = &target.binary;
    let text = b.to_string_lossy();
    if text.contains('/') {
        if b.exists() {
            return Ok(b.clone());
        }
        return Err(KernelError::NotFound {
            what: "binary",
            name: b.display().to_string(),
        });
    }
    if let Some(pid) = target.pid {
        for f in mapped_files(pid) {
            if f.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| library_matches(n, &text) || n == text)
            {
                return Ok(f);
            }
        }
    }
    for dir in library_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| library_matches(n, &text))
            })
            .map(|e| e.path())
            .collect();
        // `libc.so.6` before `libc.so` (often a linker script) and versioned names.
        found.sort_by_key(|p| {
            let n = p.file_name().map(|n| n.len()).unwrap_or(0);
            (p.to_string_lossy().ends_with(".so"), n)
        });
        if let Some(p) = found.into_iter().next() {
            return Ok(p);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(b);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    if b.exists() {
        return Ok(b.clone());
    }
    Err(KernelError::NotFound {
        what: "binary",
        name: format!(
            "{} (not a path, not mapped by the process, not in the library directories or PATH)",
            b.display()
        ),
    })
}

/// The file offset of `symbol` (+`extra`) in the ELF file at `path`.
pub(crate) fn symbol_offset(path: &Path, symbol: &str, extra: u64) -> Result<u64, KernelError> {
    let data = std::fs::read(path).map_err(|e| KernelError::file(path, e))?;
    let not_found = |why: &str| KernelError::NotFound {
        what: "symbol",
        name: format!("{symbol} in {} ({why})", path.display()),
    };
    let file = object::File::parse(&*data).map_err(|e| KernelError::InvalidInput {
        what: "binary",
        reason: format!("{}: not an ELF file oxbpf can read: {e}", path.display()),
    })?;
    let sym = file
        .dynamic_symbols()
        .chain(file.symbols())
        .filter(|s| s.is_definition() && s.name() == Ok(symbol))
        .max_by_key(|s| (s.kind() == SymbolKind::Text, s.size() > 0))
        .ok_or_else(|| not_found("no such defined symbol"))?;
    let addr = sym.address();
    let offset = match file.kind() {
        object::ObjectKind::Executable | object::ObjectKind::Dynamic => {
            let index = sym
                .section_index()
                .ok_or_else(|| not_found("not in a section"))?;
            let section = file
                .section_by_index(index)
                .map_err(|e| not_found(&e.to_string()))?;
            let (file_off, _) = section
                .file_range()
                .ok_or_else(|| not_found("its section has no bytes in the file"))?;
            addr.checked_sub(section.address())
                .and_then(|o| o.checked_add(file_off))
                .ok_or_else(|| not_found("its address is outside its section"))?
        }
        _ => addr,
    };
    offset
        .checked_add(extra)
        .ok_or_else(|| not_found("offset overflows"))
}

/// The binary and file offset of a uprobe target.
pub(crate) fn resolve(target: &UprobeTarget) -> Result<(PathBuf, u64), KernelError> {
    let path = resolve_binary(target)?;
    let offset = match &target.location {
        UprobeLocation::FileOffset(o) => *o,
        UprobeLocation::Symbol { name, offset } => symbol_offset(&path, name, *offset)?,
    };
    Ok((path, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names() {
        assert!(library_matches("libc.so.6", "libc"));
        assert!(library_matches("libc.so.6", "c"));
        assert!(library_matches("libc.so.6", "libc.so.6"));
        assert!(library_matches("libssl.so.3", "ssl"));
        assert!(!library_matches("libcrypt.so.1", "libc"));
        assert!(!library_matches("libc_nonshared.a", "libc"));
        assert!(library_matches("libpython3.11.so.1.0", "libpython3.11"));
    }

    #[test]
    fn libc_resolves_and_has_malloc() {
        let t = UprobeTarget::symbol("libc", "malloc").pid(std::process::id());
        let (path, off) = resolve(&t).unwrap();
        assert!(
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("libc"),
            "{}",
            path.display()
        );
        assert!(off > 0);
        // Without a process, from the library directories: the same file or another
        // name of it.
        let t = UprobeTarget::symbol("libc", "malloc");
        let (path2, off2) = resolve(&t).unwrap();
        assert_eq!(
            std::fs::canonicalize(&path).unwrap(),
            std::fs::canonicalize(&path2).unwrap()
        );
        assert_eq!(off, off2);
    }

    #[test]
    fn programs_resolve_through_path() {
        let t = UprobeTarget::symbol("sh", "main");
        let p = resolve_binary(&t).unwrap();
        assert!(p.is_absolute() && p.ends_with("sh"), "{}", p.display());
    }

    #[test]
    fn missing_things_are_named() {
        let e = resolve_binary(&UprobeTarget::symbol("/no/such/file", "f")).unwrap_err();
        assert!(
            matches!(e, KernelError::NotFound { what: "binary", .. }),
            "{e}"
        );
        let e = resolve_binary(&UprobeTarget::symbol("no-such-library-xyz", "f")).unwrap_err();
        assert!(e.to_string().contains("no-such-library-xyz"), "{e}");
        let exe = std::env::current_exe().unwrap();
        let e = symbol_offset(&exe, "no_such_symbol_abc", 0).unwrap_err();
        assert!(
            matches!(e, KernelError::NotFound { what: "symbol", .. }),
            "{e}"
        );
        assert!(e.to_string().contains("no_such_symbol_abc"), "{e}");
    }
}
