//! Printing ring and perf buffer records: as hex, or by a simple field list that mirrors the
//! C struct the program writes (`pid:u32 comm:str16 ret:i64`).
//!
//! Field types: `u8 u16 u32 u64`, `i8 i16 i32 i64`, `x8 x16 x32 x64` (hex), `strN` (a
//! NUL-terminated string in an `N`-byte array), `bytesN` (hex bytes), `padN` (skipped).
//! Integer fields are aligned to their size as a C compiler lays out a struct, so the
//! list is the struct's members in order. Fields are separated by spaces or commas.

use thiserror::Error;

/// A bad format string.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("record format, field {index} `{field}`: {reason}")]
pub struct FormatError {
    pub index: usize,
    pub field: String,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Unsigned(usize),
    Signed(usize),
    Hex(usize),
    Str(usize),
    Bytes(usize),
    Pad(usize),
}

impl Kind {
    fn size(self) -> usize {
        match self {
            Kind::Unsigned(n)
            | Kind::Signed(n)
            | Kind::Hex(n)
            | Kind::Str(n)
            | Kind::Bytes(n)
            | Kind::Pad(n) => n,
        }
    }

    fn align(self) -> usize {
        match self {
            Kind::Unsigned(n) | Kind::Signed(n) | Kind::Hex(n) => n,
            _ => 1,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Field {
    name: String,
    kind: Kind,
    offset: usize,
}

/// A parsed record format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordFormat {
    fields: Vec<Field>,
    size: usize,
}

fn int_size(s: &str) -> Option<usize> {
    match s {
        "8" => Some(1),
        "16" => Some(2),
        "32" => Some(4),
        "64" => Some(8),
        _ => None,
    }
}

impl RecordFormat {
    /// Parses `name:type name:type ...`.
    pub fn parse(text: &str) -> Result<RecordFormat, FormatError> {
        let mut fields = Vec::new();
        let mut offset = 0usize;
        let mut max_align = 1;
        for (index, item) in text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            let bad = |reason: &str| FormatError {
                index,
                field: item.to_string(),
                reason: reason.to_string(),
            };
            let (name, ty) = item
                .split_once(':')
                .ok_or_else(|| bad("expected NAME:TYPE, e.g. pid:u32"))?;
            let num = |prefix: &str| -> Option<usize> {
                ty.strip_prefix(prefix)?
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0 && n <= 1 << 16)
            };
            let kind = if let Some(n) = ty.strip_prefix('u').and_then(int_size) {
                Kind::Unsigned(n)
            } else if let Some(n) = ty.strip_prefix('i').and_then(int_size) {
                Kind::Signed(n)
            } else if let Some(n) = ty.strip_prefix('x').and_then(int_size) {
                Kind::Hex(n)
            } else if let Some(n) = num("str") {
                Kind::Str(n)
            } else if let Some(n) = num("bytes") {
                Kind::Bytes(n)
            } else if let Some(n) = num("pad") {
                Kind::Pad(n)
            } else {
                return Err(bad(
                    "unknown type (u8..u64, i8..i64, x8..x64, strN, bytesN, padN)",
                ));
            };
            let a = kind.align();
            max_align = max_align.max(a);
            offset = offset.div_ceil(a) * a;
            fields.push(Field {
                name: name.to_string(),
                kind,
                offset,
            });
            offset += kind.size();
        }
        if fields.is_empty() {
            return Err(FormatError {
                index: 0,
                field: String::new(),
                reason: "no fields".into(),
            });
        }
        Ok(RecordFormat {
            fields,
            size: offset.div_ceil(max_align) * max_align,
        })
    }

    /// Bytes the struct takes (with its final padding).
    pub fn size(&self) -> usize {
        self.size
    }

    /// `name=value name=value ...`; fields past the end of `rec` print as `?`.
    pub fn format(&self, rec: &[u8]) -> String {
        let mut parts = Vec::with_capacity(self.fields.len());
        for f in &self.fields {
            if let Kind::Pad(_) = f.kind {
                continue;
            }
            let Some(b) = rec.get(f.offset..f.offset + f.kind.size()) else {
                parts.push(format!("{}=?", f.name));
                continue;
            };
            let v = match f.kind {
                Kind::Unsigned(_) => uint(b).to_string(),
                Kind::Signed(n) => {
                    let shift = 64 - 8 * n as u32;
                    (((uint(b) << shift) as i64) >> shift).to_string()
                }
                Kind::Hex(_) => format!("{:#x}", uint(b)),
                Kind::Str(_) => {
                    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                    String::from_utf8_lossy(&b[..end]).into_owned()
                }
                Kind::Bytes(_) => hex(b),
                Kind::Pad(_) => continue,
            };
            parts.push(format!("{}={v}", f.name));
        }
        parts.join(" ")
    }
}

fn uint(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a[..b.len().min(8)].copy_from_slice(&b[..b.len().min(8)]);
    u64::from_le_bytes(a)
}

/// Bytes as space-separated hex pairs.
pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{x:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_layout_and_values() {
        let f = RecordFormat::parse("pid:u32 ret:i64, comm:str8 flag:x8").unwrap();
        // pid at 0, ret at 8 (aligned), comm at 16, flag at 24, size 32.
        assert_eq!(f.size(), 32);
        let mut rec = vec![0u8; 32];
        rec[..4].copy_from_slice(&1234u32.to_le_bytes());
        rec[8..16].copy_from_slice(&(-2i64).to_le_bytes());
        rec[16..19].copy_from_slice(b"cat");
        rec[24] = 0x2a;
        assert_eq!(f.format(&rec), "pid=1234 ret=-2 comm=cat flag=0x2a");
        assert_eq!(f.format(&rec[..10]), "pid=1234 ret=? comm=? flag=?");
        let s = RecordFormat::parse("a:i8 b:i16").unwrap();
        assert_eq!(s.format(&[0xff, 0, 0xfe, 0xff]), "a=-1 b=-2");
    }

    #[test]
    fn errors_name_the_field() {
        let e = RecordFormat::parse("pid:u32 comm").unwrap_err();
        assert_eq!(e.index, 1);
        assert!(e.to_string().contains("expected NAME:TYPE"), "{e}");
        let e = RecordFormat::parse("x:float").unwrap_err();
        assert!(e.to_string().contains("unknown type"), "{e}");
        assert!(RecordFormat::parse("  ").is_err());
        assert_eq!(hex(&[1, 0xab]), "01 ab");
    }
}
