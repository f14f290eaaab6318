//! C source lines of a program's instructions, from the object's BTF line info.
//!
//! clang `-g` writes `.BTF.ext` line records (instruction offset → file, line, column and
//! the line's text, both as offsets into the `.BTF` string table). oxbpf-obj reads them
//! and rebases them onto the linked program, which it lays out as aya-obj and libbpf do
//! (depth first), so the table uses the instruction numbering of the program the kernel
//! verified.

use std::fmt;

/// A line of C source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    /// The file, as the compiler recorded it.
    pub file: String,
    /// 1-based line number.
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub column: u32,
    /// The line's text (leading white space removed).
    pub text: String,
}

impl fmt::Display for SourceLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if self.column > 0 {
            write!(f, ":{}", self.column)?;
        }
        write!(f, ": {}", self.text)
    }
}

/// A program's line table: instruction slot → source line.
#[derive(Clone, Debug, Default)]
pub struct LineTable {
    /// Sorted by slot.
    entries: Vec<(u32, SourceLine)>,
}

fn string_at(strings: &[u8], off: u32) -> Option<String> {
    let rest = strings.get(off as usize..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

impl LineTable {
    /// The line table of `program` (a function name) in the ELF object `elf`; `None` when
    /// the object has no line info for it (compiled without `-g`) or does not load with
    /// oxbpf-obj (which never panics on malformed bytes).
    pub fn for_program(elf: &[u8], program: &str) -> Option<LineTable> {
        let obj = oxbpf_obj::Object::parse(elf).ok()?;
        let p = obj.program(program)?;
        if p.line_info.is_empty() {
            return None;
        }
        let mut entries: Vec<(u32, SourceLine)> = p
            .line_info
            .iter()
            .filter_map(|l| {
                Some((
                    u32::try_from(l.slot).ok()?,
                    SourceLine {
                        file: l.file.to_string(),
                        line: l.line,
                        column: l.column,
                        text: l.source.trim().to_string(),
                    },
                ))
            })
            .collect();
        entries.sort_by_key(|(i, _)| *i);
        Some(LineTable { entries })
    }

    /// Builds a table from `(insn_off, file_name_off, line_off, line_col)` records and the
    /// BTF string table.
    pub fn from_records(
        records: impl IntoIterator<Item = (u32, u32, u32, u32)>,
        strings: &[u8],
    ) -> LineTable {
        let mut entries: Vec<(u32, SourceLine)> = records
            .into_iter()
            .filter_map(|(insn, file, line, col)| {
                Some((
                    insn,
                    SourceLine {
                        file: string_at(strings, file)?,
                        line: line_col_line(col),
                        column: col & 0x3ff,
                        text: string_at(strings, line)?.trim().to_string(),
                    },
                ))
            })
            .collect();
        entries.sort_by_key(|(i, _)| *i);
        LineTable { entries }
    }

    /// The source line of instruction slot `slot`: the last record at or before it.
    pub fn at(&self, slot: usize) -> Option<&SourceLine> {
        let slot = u32::try_from(slot).ok()?;
        let idx = self.entries.partition_point(|(i, _)| *i <= slot);
        idx.checked_sub(1).map(|i| &self.entries[i].1)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// `BPF_LINE_INFO_LINE_NUM`: the line number is the top 22 bits.
const fn line_col_line(line_col: u32) -> u32 {
    line_col >> 10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_takes_the_last_record_at_or_before() {
        let strings = b"\0a.c\0int x = 1;\0  return x;\0";
        let t = LineTable::from_records(
            [
                (0, 1, 5, (3 << 10) | 5),
                (4, 1, 16, (4 << 10) | 2),
                (9, 99, 5, 0),
            ],
            strings,
        );
        // The record with a bad file offset is dropped.
        assert_eq!(t.len(), 2);
        assert_eq!(t.at(0).unwrap().line, 3);
        assert_eq!(t.at(3).unwrap().text, "int x = 1;");
        let l = t.at(7).unwrap();
        assert_eq!((l.line, l.column), (4, 2));
        assert_eq!(l.to_string(), "a.c:4:2: return x;");
        assert_eq!(LineTable::default().at(0), None);
    }
}
