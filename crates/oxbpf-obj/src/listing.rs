//! A readable listing of an object: its maps, its programs and each program's
//! instructions with the C source lines interleaved (from BTF line info), as
//! `oxbpf disasm prog.o` prints it.

use std::fmt::Write as _;

use oxbpf_isa::{disassemble, DisasmOptions, Insn, LoadImm64, Syntax};

use crate::{map_type, MapKind, ObjError, ObjProgram, Object};

/// What [`render`] shows.
#[derive(Clone, Debug)]
pub struct ListingOptions {
    pub syntax: Syntax,
    /// Interleave the C source lines (when the object has line info).
    pub source: bool,
    /// Show each instruction's bytes.
    pub raw_bytes: bool,
    /// Only this program (by name); all of them when `None`.
    pub program: Option<String>,
}

impl Default for ListingOptions {
    fn default() -> Self {
        ListingOptions {
            syntax: Syntax::Llvm,
            source: true,
            raw_bytes: false,
            program: None,
        }
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A printable preview of a NUL-terminated string at `data[offset..]`, if it is one.
fn string_at(data: &[u8], offset: usize) -> Option<String> {
    let tail = data.get(offset..)?;
    let end = tail.iter().position(|&b| b == 0)?;
    let s = &tail[..end];
    if s.is_empty()
        || !s
            .iter()
            .all(|&b| b.is_ascii_graphic() || b == b' ' || b == b'\n' || b == b'\t')
    {
        return None;
    }
    let mut out = String::from("\"");
    for (i, &b) in s.iter().enumerate() {
        if i == 48 {
            out.push_str("...");
            break;
        }
        match b {
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            _ => out.push(b as char),
        }
    }
    out.push('"');
    Some(out)
}

/// The comment for a map reference: the map's name, and for global data the variable
/// or string it points at.
fn map_note(obj: &Object, value: &LoadImm64) -> Option<String> {
    match *value {
        LoadImm64::MapIdx(i) => obj
            .maps
            .get(usize::try_from(i).ok()?)
            .map(|m| m.name.clone()),
        LoadImm64::MapIdxValue { idx, offset } => {
            let m = obj.maps.get(usize::try_from(idx).ok()?)?;
            let sym = m
                .symbols
                .iter()
                .find(|s| offset >= s.offset && offset < s.offset + s.size.max(1));
            let var = sym.map(|s| {
                if offset == s.offset {
                    s.name.clone()
                } else {
                    format!("{}+{}", s.name, offset - s.offset)
                }
            });
            let mut note = match var {
                Some(v) => format!("{}: {v}", m.name),
                None => format!("{}+{offset}", m.name),
            };
            // A string literal (in `.rodata.str*`, no symbol) or a char array holding
            // exactly one string (`static const char fmt[] = "..."`).
            let data = m.initial_data.as_deref().unwrap_or(&[]);
            let fits = |len: usize| match sym {
                None => true,
                Some(s) => s.offset == offset && s.size as usize == len + 1,
            };
            if m.kind == MapKind::Rodata {
                let len = data
                    .get(offset as usize..)
                    .and_then(|t| t.iter().position(|&b| b == 0));
                if let (Some(len), Some(s)) = (len, string_at(data, offset as usize)) {
                    if fits(len) {
                        note.push(' ');
                        note.push_str(&s);
                    }
                }
            }
            Some(note)
        }
        _ => None,
    }
}

/// Replaces the whole-word token `from` with `to` in `line`.
fn replace_token(line: &str, from: &str, to: &str) -> String {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(pos) = rest.find(from) {
        let before_ok = rest[..pos].chars().next_back().is_none_or(|c| !is_word(c));
        let after = &rest[pos + from.len()..];
        let after_ok = after.chars().next().is_none_or(|c| !is_word(c));
        out.push_str(&rest[..pos]);
        out.push_str(if before_ok && after_ok { to } else { from });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The listing of `obj`; `file` names it in the header. Fails only when
/// [`ListingOptions::program`] names no program.
pub fn render(obj: &Object, file: &str, opts: &ListingOptions) -> Result<String, ObjError> {
    let programs: Vec<&ObjProgram> = match &opts.program {
        Some(name) => vec![obj
            .program(name)
            .ok_or_else(|| ObjError::NoSuchProgram(name.clone()))?],
        None => obj.programs.iter().collect(),
    };
    let mut out = String::new();
    let has_lines = obj.programs.iter().any(|p| !p.line_info.is_empty());
    let _ = writeln!(
        out,
        "{file}: eBPF object, license \"{}\"{}, {}, {}{}",
        obj.license,
        obj.kernel_version
            .map(|v| format!(
                ", kernel version {}.{}.{}",
                v >> 16,
                (v >> 8) & 0xff,
                v & 0xff
            ))
            .unwrap_or_default(),
        plural(obj.programs.len(), "program", "programs"),
        plural(obj.maps.len(), "map", "maps"),
        match (&obj.btf, has_lines) {
            (Some(_), true) => ", BTF with line info",
            (Some(_), false) => ", BTF",
            (None, _) => "",
        }
    );

    if !obj.maps.is_empty() {
        let _ = writeln!(out, "\nMaps:");
        let w = obj
            .maps
            .iter()
            .map(|m| m.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let _ = writeln!(
            out,
            "  {:>3}  {:<w$}  {:<16}  {:>5}  {:>6}  {:>8}  {:>6}  section",
            "idx", "name", "type", "key", "value", "entries", "flags"
        );
        for (i, m) in obj.maps.iter().enumerate() {
            let ty = map_type::name(m.map_type)
                .map(str::to_string)
                .unwrap_or_else(|| format!("type {}", m.map_type));
            let mut extra = String::new();
            match m.kind {
                MapKind::Regular => {}
                MapKind::Data => extra.push_str(", data"),
                MapKind::Rodata => extra.push_str(", read-only data"),
                MapKind::Bss => extra.push_str(", zeroed data"),
            }
            if let Some(inner) = &m.inner {
                let _ = write!(
                    extra,
                    ", inner {} key {} value {} entries {}",
                    map_type::name(inner.map_type).unwrap_or("?"),
                    inner.key_size,
                    inner.value_size,
                    inner.max_entries
                );
            }
            for s in &m.init_slots {
                let _ = write!(extra, ", [{}] = {}", s.index, s.target);
            }
            if m.pinning == crate::Pinning::ByName {
                extra.push_str(", pinned by name");
            }
            let _ = writeln!(
                out,
                "  {:>3}  {:<w$}  {:<16}  {:>5}  {:>6}  {:>8}  {:>6}  {}{}",
                i,
                m.name,
                ty,
                m.key_size,
                m.value_size,
                m.max_entries,
                format!("{:#x}", m.flags),
                m.section,
                extra
            );
        }
    }

    let _ = writeln!(out, "\nPrograms:");
    let w = obj.programs.iter().map(|p| p.name.len()).max().unwrap_or(4);
    let sw = obj
        .programs
        .iter()
        .map(|p| p.section.len())
        .max()
        .unwrap_or(4);
    for p in &obj.programs {
        let mut calls = String::new();
        if p.functions.len() > 1 {
            let names: Vec<&str> = p.functions[1..].iter().map(|f| f.name.as_str()).collect();
            calls = format!(", calls {}", names.join(", "));
        }
        let _ = writeln!(
            out,
            "  {:<w$}  {:<sw$}  {:<24}  {}{}",
            p.name,
            p.section,
            p.kind.to_string(),
            plural(p.insns.len(), "instruction", "instructions"),
            calls
        );
    }

    for p in programs {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Disassembly of program {} (section {}, {}):",
            p.name, p.section, p.kind
        );
        render_program(&mut out, obj, p, opts);
    }
    Ok(out)
}

fn render_program(out: &mut String, obj: &Object, p: &ObjProgram, opts: &ListingOptions) {
    let text = disassemble(
        &p.insns,
        &DisasmOptions {
            syntax: opts.syntax,
            labels: true,
            slots: true,
            raw_bytes: opts.raw_bytes,
        },
    );
    // The disassembler names call targets F0, F1, ...: use the function names instead.
    let mut fnames: Vec<(String, String)> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (k, line) in lines.iter().enumerate() {
        let Some(label) = line.strip_suffix(':') else {
            continue;
        };
        if !label.starts_with('F') || label.contains(char::is_whitespace) {
            continue;
        }
        let next_slot = lines
            .get(k + 1)
            .and_then(|l| l.trim_start().split(':').next())
            .and_then(|s| s.parse::<usize>().ok());
        if let Some(f) = next_slot
            .and_then(|s| p.insns.index_at_slot(s))
            .and_then(|i| p.functions.iter().find(|f| f.start == i))
        {
            fnames.push((label.to_string(), f.name.clone()));
        }
    }
    let mut last_line: Option<(&str, u32)> = None;
    for line in &lines {
        if let Some(label) = line.strip_suffix(':') {
            if fnames.iter().any(|(l, _)| l == label) {
                continue; // printed as `<name>:` below
            }
            let _ = writeln!(out, "{line}");
            continue;
        }
        let slot = line
            .trim_start()
            .split(':')
            .next()
            .and_then(|s| s.parse::<usize>().ok());
        let index = slot.and_then(|s| p.insns.index_at_slot(s));
        if let Some(i) = index {
            if let Some(f) = p.functions.iter().find(|f| f.start == i) {
                let _ = writeln!(out, "{}:", f.name);
            }
            if opts.source {
                if let Some(l) = p.line_info.iter().find(|l| l.insn == i) {
                    let key = (&*l.file, l.line);
                    if l.line != 0 && last_line != Some(key) {
                        let _ = writeln!(out, "; {}:{}:{}", l.file, l.line, l.column);
                        let _ = writeln!(out, ";   {}", l.source.trim());
                        last_line = Some(key);
                    }
                }
            }
        }
        let mut text = line.to_string();
        for (label, name) in &fnames {
            text = replace_token(&text, label, name);
        }
        let note = index.and_then(|i| match &p.insns.insns()[i] {
            Insn::LoadImm64 { value, .. } => map_note(obj, value),
            _ => None,
        });
        match note {
            Some(n) => {
                let _ = writeln!(out, "{text} ; {n}");
            }
            None => {
                let _ = writeln!(out, "{text}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_replace_whole_words_only() {
        assert_eq!(
            replace_token("call F1 <F1> F10", "F1", "sq"),
            "call sq <sq> F10"
        );
        assert_eq!(replace_token("xF1 F1_", "F1", "sq"), "xF1 F1_");
    }

    #[test]
    fn string_previews() {
        assert_eq!(string_at(b"hi\0", 0).as_deref(), Some("\"hi\""));
        assert_eq!(string_at(b"a\"b\n\0", 0).as_deref(), Some("\"a\\\"b\\n\""));
        assert_eq!(string_at(b"\x01\0", 0), None);
        assert_eq!(string_at(b"abc", 0), None);
        assert_eq!(string_at(b"abc\0", 9), None);
    }
}
