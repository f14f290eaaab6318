//! Line preparation and tokenizing.
//!
//! A source line goes through [`prepare`] (comments, target annotations, the prefixes that
//! disassemblers print: slot numbers, raw bytes, the kernel's `(b7)` opcode) and then
//! [`tokenize`]. Columns are 1-based character positions in the original line, so every
//! error can point at the exact place.

use super::AsmError;

/// One token of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    /// An identifier: a mnemonic, a register (`r1`, `w1`, `%r1`: the `%` is kept), a label
    /// or a keyword such as `ll`, `goto` or `u32`.
    Ident(String),
    /// An unsigned number, decimal or `0x` hexadecimal. Signs are separate tokens.
    Num(u64),
    /// An operator or punctuation mark, e.g. `+=`, `s>=`, `(`, `,`.
    Punct(&'static str),
}

/// A token and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub tok: Tok,
    /// 1-based column of the token's first character.
    pub col: usize,
    /// The token as written, for error messages.
    pub text: String,
}

impl Token {
    pub(crate) fn is_punct(&self, p: &str) -> bool {
        matches!(&self.tok, Tok::Punct(q) if *q == p)
    }

    pub(crate) fn ident(&self) -> Option<&str> {
        match &self.tok {
            Tok::Ident(s) => Some(s),
            _ => None,
        }
    }
}

/// The instruction part of a line and what was around it.
#[derive(Debug, Default)]
pub(crate) struct PreparedLine {
    /// The characters of the line with the comment, the annotation and the prefixes blanked
    /// out (kept as spaces so that columns stay right).
    pub chars: Vec<char>,
    /// A trailing `<name>` target annotation (as `llvm-objdump` prints after jumps): the
    /// name and its column. `None` when absent or when it is not a plain identifier
    /// (`<.text+0x48>`).
    pub annotation: Option<(String, usize)>,
    /// A label defined in `llvm-objdump` header form: `0000000000000010 <name>:`.
    pub header_label: Option<(String, usize)>,
    /// The opcode the verifier log prints before an instruction (`(b7) r0 = 1`), and its
    /// column.
    pub kernel_opcode: Option<(u8, usize)>,
}

pub(crate) fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '.'
}

pub(crate) fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// True when `s` is a plain identifier (a possible label name).
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut it = s.chars();
    matches!(it.next(), Some(c) if is_ident_start(c)) && it.all(is_ident_char)
}

/// Removes the comment, the target annotation and disassembler prefixes of a line.
pub(crate) fn prepare(line: &str) -> PreparedLine {
    let mut chars: Vec<char> = line
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    strip_comment(&mut chars);
    let mut out = PreparedLine {
        annotation: strip_annotation(&mut chars),
        ..PreparedLine::default()
    };
    out.header_label = strip_header_label(&mut chars);
    if out.header_label.is_none() {
        out.kernel_opcode = strip_prefixes(&mut chars);
    }
    out.chars = chars;
    out
}

/// Comments: `;`, `//` and `#` run to the end of the line. A `#` directly between a name
/// and a number (`call bpf_map_lookup_elem#1`, as the kernel's verifier log prints calls)
/// is not a comment.
fn strip_comment(chars: &mut Vec<char>) {
    let mut cut = None;
    for i in 0..chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let is_comment = match c {
            ';' => true,
            '/' => next == Some('/'),
            '#' => {
                let prev_name = i > 0 && is_ident_char(chars[i - 1]);
                let next_num = matches!(next, Some(n) if n.is_ascii_digit() || n == '-');
                !(prev_name && next_num)
            }
            _ => false,
        };
        if is_comment {
            cut = Some(i);
            break;
        }
    }
    if let Some(i) = cut {
        chars.truncate(i);
    }
}

/// A trailing ` <...>` after the last operand.
fn strip_annotation(chars: &mut [char]) -> Option<(String, usize)> {
    let end = chars.iter().rposition(|c| *c != ' ')?;
    if chars[end] != '>' {
        return None;
    }
    let open = chars[..end].iter().rposition(|c| *c == '<')?;
    let inner: String = chars[open + 1..end].iter().collect();
    if inner.is_empty() || inner.contains(' ') || open == 0 || chars[open - 1] != ' ' {
        return None;
    }
    for c in &mut chars[open..=end] {
        *c = ' ';
    }
    is_identifier(&inner).then_some((inner, open + 2))
}

/// `0000000000000010 <name>:` or `<name>:` on a line of its own.
fn strip_header_label(chars: &mut [char]) -> Option<(String, usize)> {
    let mut i = skip_spaces(chars, 0);
    let hex_start = i;
    while i < chars.len() && chars[i].is_ascii_hexdigit() {
        i += 1;
    }
    if i > hex_start {
        if i >= chars.len() || chars[i] != ' ' {
            return None;
        }
        i = skip_spaces(chars, i);
    }
    if chars.get(i) != Some(&'<') {
        return None;
    }
    let close = i + chars[i..].iter().position(|c| *c == '>')?;
    let name: String = chars[i + 1..close].iter().collect();
    if chars.get(close + 1) != Some(&':') || !is_identifier(&name) {
        return None;
    }
    if skip_spaces(chars, close + 2) != chars.len() {
        return None;
    }
    for c in chars.iter_mut() {
        *c = ' ';
    }
    Some((name, i + 2))
}

/// Slot numbers (`  12:`), raw instruction bytes (8 or 16 two-digit hex groups, as
/// `llvm-objdump` prints them) and the kernel's opcode in parentheses (`(b7)`), which is
/// returned with its column.
fn strip_prefixes(chars: &mut [char]) -> Option<(u8, usize)> {
    let mut i = skip_spaces(chars, 0);
    // Slot number.
    let digits = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && chars.get(i + digits) == Some(&':') {
        blank(chars, i, i + digits + 1);
        i = skip_spaces(chars, i + digits + 1);
    }
    // Raw bytes.
    let mut j = i;
    let mut groups = 0;
    loop {
        let is_group = j + 2 <= chars.len()
            && chars[j].is_ascii_hexdigit()
            && chars[j + 1].is_ascii_hexdigit()
            && chars.get(j + 2).is_none_or(|c| *c == ' ');
        if !is_group {
            break;
        }
        groups += 1;
        j = skip_spaces(chars, j + 2);
        if groups == 16 {
            break;
        }
    }
    if groups == 8 || groups == 16 {
        // Only whole groups count: `b7 00 ...` followed by more hex-looking groups would
        // not be a disassembler line.
        blank(chars, i, j);
        i = j;
    }
    // Kernel opcode.
    if chars.len() >= i + 4
        && chars[i] == '('
        && chars[i + 1].is_ascii_hexdigit()
        && chars[i + 2].is_ascii_hexdigit()
        && chars[i + 3] == ')'
        && chars.get(i + 4).is_none_or(|c| *c == ' ')
    {
        let hex: String = chars[i + 1..i + 3].iter().collect();
        blank(chars, i, i + 4);
        return u8::from_str_radix(&hex, 16).ok().map(|op| (op, i + 2));
    }
    None
}

fn skip_spaces(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && chars[i] == ' ' {
        i += 1;
    }
    i
}

fn blank(chars: &mut [char], from: usize, to: usize) {
    let to = to.min(chars.len());
    for c in &mut chars[from..to] {
        *c = ' ';
    }
}

/// Operators and punctuation, longest first so that the first match is the longest.
const PUNCTS: &[&str] = &[
    "s>>=", "<<=", ">>=", "s>=", "s<=", "s/=", "s%=", "+=", "-=", "*=", "/=", "%=", "|=", "&=",
    "^=", "==", "!=", ">=", "<=", "s>", "s<", "+", "-", "*", "/", "%", "(", ")", "[", "]", ",",
    ":", "=", "#", "<", ">", "&", "|", "^", "!", "~",
];

/// Splits a prepared line into tokens.
pub(crate) fn tokenize(chars: &[char], line: usize) -> Result<Vec<Token>, AsmError> {
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == ' ' {
            i += 1;
            continue;
        }
        let start = i;
        let col = i + 1;
        // Signed operators start with `s`: `s>`, `s>=`, `s<`, `s<=`, `s>>=`, `s/=`, `s%=`.
        let signed_op = c == 's' && matches!(chars.get(i + 1), Some('<' | '>' | '/' | '%'));
        if c.is_ascii_digit() {
            let (value, end) = number(chars, i, line)?;
            toks.push(Token {
                tok: Tok::Num(value),
                col,
                text: chars[start..end].iter().collect(),
            });
            i = end;
        } else if (is_ident_start(c) && !signed_op)
            || (c == '%' && chars.get(i + 1).is_some_and(|n| is_ident_start(*n)))
        {
            i += 1;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            toks.push(Token {
                tok: Tok::Ident(text.clone()),
                col,
                text,
            });
        } else if let Some(p) = PUNCTS.iter().find(|p| starts_with(chars, i, p)) {
            i += p.chars().count();
            toks.push(Token {
                tok: Tok::Punct(p),
                col,
                text: (*p).to_string(),
            });
        } else {
            return Err(AsmError::new(
                line,
                col,
                format!("unexpected character `{c}`"),
            ));
        }
    }
    Ok(toks)
}

fn starts_with(chars: &[char], i: usize, p: &str) -> bool {
    let n = p.chars().count();
    chars.len() >= i + n && chars[i..i + n].iter().copied().eq(p.chars())
}

/// A decimal or `0x` hexadecimal number starting at `i`; returns its value and end.
fn number(chars: &[char], i: usize, line: usize) -> Result<(u64, usize), AsmError> {
    let hex = chars[i] == '0' && matches!(chars.get(i + 1), Some('x' | 'X'));
    let (radix, digits_start) = if hex { (16, i + 2) } else { (10, i) };
    let mut end = digits_start;
    while end < chars.len() && is_ident_char(chars[end]) {
        end += 1;
    }
    let text: String = chars[i..end].iter().collect();
    let digits: String = chars[digits_start..end].iter().collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(AsmError::new(
            line,
            i + 1,
            format!("malformed number `{text}` (numbers are decimal, or hexadecimal with 0x)"),
        ));
    }
    let value = u64::from_str_radix(&digits, radix).map_err(|_| {
        AsmError::new(
            line,
            i + 1,
            format!("number `{text}` does not fit in 64 bits"),
        )
    })?;
    Ok((value, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(line: &str) -> Vec<String> {
        let p = prepare(line);
        tokenize(&p.chars, 1)
            .unwrap()
            .into_iter()
            .map(|t| t.text)
            .collect()
    }

    #[test]
    fn operators_and_signed_operators() {
        assert_eq!(
            toks("if r1 s>= r2 goto +3"),
            ["if", "r1", "s>=", "r2", "goto", "+", "3"]
        );
        assert_eq!(toks("r0 s>>= 3"), ["r0", "s>>=", "3"]);
        assert_eq!(toks("r0 = (s8)r1"), ["r0", "=", "(", "s8", ")", "r1"]);
        assert_eq!(toks("w0 s%=w1"), ["w0", "s%=", "w1"]);
        assert_eq!(
            toks("lock *(u64*)(r1+0x1eef)+=r2"),
            ["lock", "*", "(", "u64", "*", ")", "(", "r1", "+", "0x1eef", ")", "+=", "r2"]
        );
        assert_eq!(
            toks("stxdw [%r10-8], %r1"),
            ["stxdw", "[", "%r10", "-", "8", "]", ",", "%r1"]
        );
        assert_eq!(toks("r0 %= r1"), ["r0", "%=", "r1"]);
    }

    #[test]
    fn comments() {
        assert_eq!(toks("mov %r0, 1 # set"), ["mov", "%r0", ",", "1"]);
        assert_eq!(toks("r0 = 1 ; set"), ["r0", "=", "1"]);
        assert_eq!(toks("r0 = 1 // set"), ["r0", "=", "1"]);
        assert_eq!(toks("# whole line"), Vec::<String>::new());
        assert_eq!(
            toks("call bpf_map_lookup_elem#1"),
            ["call", "bpf_map_lookup_elem", "#", "1"]
        );
        assert_eq!(toks("call unknown#-1"), ["call", "unknown", "#", "-", "1"]);
    }

    #[test]
    fn prefixes_and_annotations() {
        let p = prepare("      10:\t15 00 30 00 00 00 00 00\tif r0 == 0 goto +48 <LBB0_7>");
        assert_eq!(p.annotation, Some(("LBB0_7".to_string(), 56)));
        assert_eq!(
            tokenize(&p.chars, 1).unwrap()[0],
            Token {
                tok: Tok::Ident("if".into()),
                col: 35,
                text: "if".into()
            }
        );
        let p = prepare("       6:\tif r1 > 5 goto +2 <.text+0x48>");
        assert_eq!(p.annotation, None);
        assert_eq!(toks("       6:\tif r1 > 5 goto +2 <.text+0x48>").len(), 7);
        assert_eq!(toks("12: (b7) r0 = 1"), ["r0", "=", "1"]);
        assert_eq!(prepare("12: (b7) r0 = 1").kernel_opcode, Some((0xb7, 6)));
        assert_eq!(
            toks("  7:\t18 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00\tr1 = 0 ll"),
            ["r1", "=", "0", "ll"]
        );
        // Not 8 groups: not raw bytes.
        assert_eq!(toks("be 16"), ["be", "16"]);
        let p = prepare("00000000000000b8 <LBB0_3>:");
        assert_eq!(p.header_label, Some(("LBB0_3".to_string(), 19)));
        assert!(tokenize(&p.chars, 1).unwrap().is_empty());
    }

    #[test]
    fn bad_numbers_and_characters() {
        let p = prepare("r0 = 12ab");
        assert!(tokenize(&p.chars, 1)
            .unwrap_err()
            .message
            .contains("malformed number"));
        let p = prepare("r0 = 0x");
        assert!(tokenize(&p.chars, 1).is_err());
        let p = prepare("r0 = 99999999999999999999");
        assert!(tokenize(&p.chars, 1)
            .unwrap_err()
            .message
            .contains("64 bits"));
        let p = prepare("r0 = @");
        let e = tokenize(&p.chars, 3).unwrap_err();
        assert_eq!((e.line, e.column), (3, 6));
    }
}
