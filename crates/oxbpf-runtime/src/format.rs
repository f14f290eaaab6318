//! The format engine of `bpf_trace_printk`, `bpf_trace_vprintk` and `bpf_snprintf`.
//!
//! Linux formats in two steps and so does this module: [`prepare`] checks the format string
//! and gathers the arguments (the kernel's `bpf_bprintf_prepare`), [`Prepared::print`]
//! writes the text (`bstr_printf`). The rules, checked against Linux 6.18 (see the tests):
//!
//! - The format must contain a NUL within the bytes given; the text is what precedes it.
//! - Every byte below 0x80 must be printable (0x20..=0x7e) or whitespace (`\t \n \v \f \r`);
//!   bytes from 0x80 up (UTF-8) are accepted.
//! - A conversion is `%`, then any of the flags `0 + - space`, an optional width (digits,
//!   the first one non-zero; no `*`, no precision), then one of:
//!   `d i u x X` with an optional `l` or `ll` (`int` is 32 bits, `long` and `long long` 64),
//!   `c`, `s` (followed by NUL, whitespace or punctuation), `p` alone or followed by NUL,
//!   whitespace or punctuation, `pK`, `px`, `ps`, `pS`, `pB`, `pks`, `pus`, `pI4`, `pi4`,
//!   `pI6`, `pi6`. `%%` prints `%`. Anything else (`%h`, `%z`, `%5.2d`, `%#x`, `%lc`, `%pe`,
//!   a `%` at the end, ...) is `EINVAL`, as is a conversion beyond the argument count.
//! - Arguments take room in a 512-byte argument area (integers 4 or 8 bytes at 4-byte
//!   alignment, characters 1, strings their length plus NUL, IP addresses their text plus
//!   NUL); running out is `ENOSPC`. Strings are truncated to the room left.
//! - `%s` and `%pks` read a string of "kernel" memory, `%pus` of "user" memory (see
//!   [`ArgMemory`]); a string that cannot be read prints as an empty string.
//!   `%pI4`/`%pi4`/`%pI6`/`%pi6` read 4 or 16 bytes (zeros when unreadable).
//! - Printing follows `vsprintf`: widths pad with spaces (zeros with `0` for numbers), `-`
//!   pads on the right, `+` and space give non-negative signed numbers a sign; a width is a
//!   C `int` (it wraps) clamped to ±8388607, and a negative one pads nothing. Strings from
//!   `%pks`/`%pus`, IP addresses and `%pB` ignore the width. Letters and digits right after
//!   a `%p` conversion are part of it and not printed.
//! - Pointers: Linux prints `%p` and `%pK` as a hash of the address; oxbpf prints the
//!   address itself, as `%px` does (16 zero-padded hex digits, or the given width).
//!   `%ps`/`%pS`/`%pB` print `0x` and the hex address (no symbol table in userspace).
//!
//! Nothing here panics or allocates without bound: output goes to a caller-sized buffer
//! (`bstr_printf` semantics: truncated, NUL-terminated, the untruncated length returned)
//! and padding is counted, not materialised beyond that buffer.

use thiserror::Error;

/// Size of the text buffer of `bpf_trace_printk` / `bpf_trace_vprintk` (Linux's
/// `MAX_BPRINTF_BUF`): messages are truncated to 1023 bytes.
pub const MAX_BPRINTF_BUF: usize = 1024;
/// Most arguments `bpf_snprintf` and `bpf_trace_vprintk` take (`MAX_BPRINTF_VARARGS`).
pub const MAX_BPRINTF_VARARGS: usize = 12;
/// Arguments of `bpf_trace_printk`.
pub const MAX_TRACE_PRINTK_VARARGS: usize = 3;
/// Bytes of the argument area (`MAX_BPRINTF_BIN_ARGS`).
pub const MAX_BPRINTF_BIN_ARGS: usize = 512;
/// Largest field width `vsprintf` honours.
const FIELD_WIDTH_MAX: i32 = (1 << 23) - 1;

const LEFT: u8 = 1;
const PLUS: u8 = 2;
const SPACE: u8 = 4;
const ZEROPAD: u8 = 8;

/// Why a format string was refused. [`FormatError::errno`] is what the helper returns
/// (negated).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FormatError {
    #[error("the format string has no NUL terminator within its {size} bytes")]
    Unterminated { size: usize },
    #[error(
        "byte {at} of the format string is 0x{byte:02x}, which is neither printable nor whitespace"
    )]
    BadByte { at: usize, byte: u8 },
    #[error("the conversion at byte {at} needs argument {needed}, but only {given} are given")]
    TooFewArgs {
        at: usize,
        needed: usize,
        given: usize,
    },
    #[error("invalid conversion at byte {at}: {reason}")]
    BadConversion { at: usize, reason: &'static str },
    #[error("the arguments need more than {MAX_BPRINTF_BIN_ARGS} bytes (conversion at byte {at})")]
    NoSpace { at: usize },
}

impl FormatError {
    /// The positive errno Linux returns: `ENOSPC` when the argument area is full, else
    /// `EINVAL`.
    pub fn errno(&self) -> i32 {
        match self {
            FormatError::NoSpace { .. } => libc::ENOSPC,
            _ => libc::EINVAL,
        }
    }
}

/// Which memory a pointer argument refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// The program's own address space: in oxbpf, the runtime's memory (the program's
    /// stack, maps, context). `%s`, `%pks`, IP addresses.
    Kernel,
    /// The memory of the current task (`%pus`): the traced process, or the runtime itself
    /// when nothing is traced.
    User,
}

/// Memory reads for pointer arguments. Implementations never fault: unreadable memory is
/// reported, not touched.
pub trait ArgMemory {
    /// `strncpy_from_*_nofault`: appends to `out` the bytes of the NUL-terminated string at
    /// `addr`, at most `max - 1` of them (the string is cut there when it is longer; `max`
    /// is at least 1). Returns false, leaving `out` as it was, when any byte before the end
    /// of the copy cannot be read.
    fn read_str(&mut self, space: Space, addr: u64, max: usize, out: &mut Vec<u8>) -> bool;
    /// `copy_from_*_nofault`: fills `buf` from `addr`; false (contents unspecified) when any
    /// byte cannot be read.
    fn read(&mut self, space: Space, addr: u64, buf: &mut [u8]) -> bool;
}

/// Memory that can never be read: every pointer argument reads as unreadable.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoMemory;

impl ArgMemory for NoMemory {
    fn read_str(&mut self, _: Space, _: u64, _: usize, _: &mut Vec<u8>) -> bool {
        false
    }
    fn read(&mut self, _: Space, _: u64, _: &mut [u8]) -> bool {
        false
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `d i u x X`: `value` already truncated to `bytes`.
    Int {
        value: u64,
        bytes: u8,
        signed: bool,
        hex: bool,
        upper: bool,
    },
    Char(u8),
    /// `%s`: bytes `[start, end)` of the string area, padded to the width.
    Str {
        start: u32,
        end: u32,
    },
    /// `%pks`, `%pus`, IP addresses, `%pB`: pre-formatted text, printed without padding.
    Raw {
        start: u32,
        end: u32,
    },
    /// `%p`, `%pK`, `%px`.
    Ptr(u64),
    /// `%ps`, `%pS`: the address as `0x...`, padded to the width.
    Sym(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Piece {
    /// Bytes `[start, end)` of the format.
    Lit {
        start: u32,
        end: u32,
    },
    Conv {
        flags: u8,
        width: i32,
        kind: Kind,
    },
}

/// A checked format string with its arguments gathered, ready to print.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prepared {
    fmt: Vec<u8>,
    pieces: Vec<Piece>,
    text: Vec<u8>,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_punct(b: u8) -> bool {
    b.is_ascii_punctuation()
}

/// The format text up to its NUL (`EINVAL` without one).
pub fn format_text(fmt: &[u8]) -> Result<&[u8], FormatError> {
    match fmt.iter().position(|&b| b == 0) {
        Some(n) => Ok(&fmt[..n]),
        None => Err(FormatError::Unterminated { size: fmt.len() }),
    }
}

/// Checks `fmt` (the bytes the program passed, which must contain a NUL) and gathers the
/// arguments `args` (at most as many conversions as arguments; `num_args` is
/// `args.len()`), reading string and address arguments through `mem`.
pub fn prepare(fmt: &[u8], args: &[u64], mem: &mut dyn ArgMemory) -> Result<Prepared, FormatError> {
    let f = format_text(fmt)?;
    let at = |i: usize| f.get(i).copied().unwrap_or(0);
    let mut p = Prepared {
        fmt: f.to_vec(),
        pieces: Vec::new(),
        text: Vec::new(),
    };
    // Room left in the argument area, as an offset into it.
    let mut used = 0usize;
    let mut nspec = 0usize;
    let mut lit_start = 0usize;
    let mut i = 0usize;
    let push_lit = |p: &mut Prepared, s: usize, e: usize| {
        if e > s {
            p.pieces.push(Piece::Lit {
                start: s as u32,
                end: e as u32,
            });
        }
    };
    while i < f.len() {
        let b = f[i];
        if b < 0x80 && !(0x20..=0x7e).contains(&b) && !is_space(b) {
            return Err(FormatError::BadByte { at: i, byte: b });
        }
        if b != b'%' {
            i += 1;
            continue;
        }
        let start = i;
        if at(i + 1) == b'%' {
            // "%%": the literal so far plus one '%'.
            push_lit(&mut p, lit_start, i + 1);
            i += 2;
            lit_start = i;
            continue;
        }
        if nspec >= args.len() {
            return Err(FormatError::TooFewArgs {
                at: start,
                needed: nspec + 1,
                given: args.len(),
            });
        }
        push_lit(&mut p, lit_start, start);
        i += 1;
        let mut flags = 0u8;
        loop {
            match at(i) {
                b'0' => flags |= ZEROPAD,
                b'+' => flags |= PLUS,
                b'-' => flags |= LEFT,
                b' ' => flags |= SPACE,
                _ => break,
            }
            i += 1;
        }
        if flags & LEFT != 0 {
            flags &= !ZEROPAD;
        }
        let mut width: i32 = -1;
        if (b'1'..=b'9').contains(&at(i)) {
            let mut w: i32 = 0;
            while at(i).is_ascii_digit() {
                w = w.wrapping_mul(10).wrapping_add((at(i) - b'0') as i32);
                i += 1;
            }
            width = w.clamp(-FIELD_WIDTH_MAX, FIELD_WIDTH_MAX);
        }
        let arg = args[nspec];
        let room = MAX_BPRINTF_BIN_ARGS - used;
        let kind = match at(i) {
            b'p' => {
                let n1 = at(i + 1);
                let n2 = at(i + 2);
                if (n1 == b'k' || n1 == b'u') && n2 == b's' {
                    // %pks / %pus: a string, which must end the conversion.
                    let n3 = at(i + 3);
                    if n3 != 0 && !is_space(n3) && !is_punct(n3) {
                        return Err(FormatError::BadConversion {
                            at: start,
                            reason:
                                "%pks/%pus must be followed by whitespace, punctuation or the end",
                        });
                    }
                    if room == 0 {
                        return Err(FormatError::NoSpace { at: start });
                    }
                    let space = if n1 == b'k' {
                        Space::Kernel
                    } else {
                        Space::User
                    };
                    let (s, e, cost) = p.read_string(mem, space, arg, room);
                    used += cost;
                    i += 3;
                    Kind::Raw { start: s, end: e }
                } else if n1 == 0
                    || is_space(n1)
                    || is_punct(n1)
                    || matches!(n1, b'K' | b'x' | b's' | b'S')
                {
                    used = align4(used);
                    if MAX_BPRINTF_BIN_ARGS - used.min(MAX_BPRINTF_BIN_ARGS) < 8 {
                        return Err(FormatError::NoSpace { at: start });
                    }
                    used += 8;
                    i += 1;
                    let k = if matches!(n1, b's' | b'S') {
                        Kind::Sym(arg)
                    } else {
                        Kind::Ptr(arg)
                    };
                    i = skip_alnum(f, i);
                    p.pieces.push(Piece::Conv {
                        flags,
                        width,
                        kind: k,
                    });
                    nspec += 1;
                    lit_start = i;
                    continue;
                } else if n1 == b'B' {
                    let s = format!("0x{arg:x}");
                    let (st, e) = p.add_text(s.as_bytes(), room);
                    used += (s.len() + 1).min(room);
                    i = skip_alnum(f, i + 1);
                    p.pieces.push(Piece::Conv {
                        flags,
                        width,
                        kind: Kind::Raw { start: st, end: e },
                    });
                    nspec += 1;
                    lit_start = i;
                    continue;
                } else if matches!(n1, b'i' | b'I') && matches!(n2, b'4' | b'6') {
                    let n = if n2 == b'4' { 4 } else { 16 };
                    if room < n {
                        return Err(FormatError::NoSpace { at: start });
                    }
                    let mut ip = [0u8; 16];
                    if !mem.read(Space::Kernel, arg, &mut ip[..n]) {
                        ip = [0; 16];
                    }
                    let s = format_ip(&ip[..n], n1 == b'I');
                    let (st, e) = p.add_text(s.as_bytes(), room);
                    used += (s.len() + 1).min(room);
                    i = skip_alnum(f, i + 1);
                    p.pieces.push(Piece::Conv {
                        flags,
                        width,
                        kind: Kind::Raw { start: st, end: e },
                    });
                    nspec += 1;
                    lit_start = i;
                    continue;
                } else {
                    return Err(FormatError::BadConversion {
                        at: start,
                        reason: "unsupported %p extension (supported: %p %pK %px %ps %pS %pB %pks %pus %pI4 %pi4 %pI6 %pi6)",
                    });
                }
            }
            b's' => {
                let n1 = at(i + 1);
                if n1 != 0 && !is_space(n1) && !is_punct(n1) {
                    return Err(FormatError::BadConversion {
                        at: start,
                        reason: "%s must be followed by whitespace, punctuation or the end",
                    });
                }
                if room == 0 {
                    return Err(FormatError::NoSpace { at: start });
                }
                let (s, e, cost) = p.read_string(mem, Space::Kernel, arg, room);
                used += cost;
                i += 1;
                Kind::Str { start: s, end: e }
            }
            b'c' => {
                if room == 0 {
                    return Err(FormatError::NoSpace { at: start });
                }
                used += 1;
                i += 1;
                Kind::Char(arg as u8)
            }
            _ => {
                let mut bytes = 4u8;
                if at(i) == b'l' {
                    bytes = 8;
                    i += 1;
                }
                if at(i) == b'l' {
                    i += 1;
                }
                let c = at(i);
                if !matches!(c, b'i' | b'd' | b'u' | b'x' | b'X') {
                    return Err(FormatError::BadConversion {
                        at: start,
                        reason: "expected one of d i u x X (with an optional l or ll), c, s or p",
                    });
                }
                used = align4(used);
                if MAX_BPRINTF_BIN_ARGS.saturating_sub(used) < bytes as usize {
                    return Err(FormatError::NoSpace { at: start });
                }
                used += bytes as usize;
                i += 1;
                let value = if bytes == 4 { arg as u32 as u64 } else { arg };
                Kind::Int {
                    value,
                    bytes,
                    signed: matches!(c, b'd' | b'i'),
                    hex: matches!(c, b'x' | b'X'),
                    upper: c == b'X',
                }
            }
        };
        p.pieces.push(Piece::Conv { flags, width, kind });
        nspec += 1;
        lit_start = i;
    }
    push_lit(&mut p, lit_start, f.len());
    Ok(p)
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn skip_alnum(f: &[u8], mut i: usize) -> usize {
    while f.get(i).is_some_and(|b| b.is_ascii_alphanumeric()) {
        i += 1;
    }
    i
}

fn format_ip(b: &[u8], upper_i: bool) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(40);
    if b.len() == 4 {
        for (k, o) in b.iter().enumerate() {
            if k > 0 {
                s.push('.');
            }
            let _ = if upper_i {
                write!(s, "{o}")
            } else {
                write!(s, "{o:03}")
            };
        }
    } else {
        for (k, o) in b.iter().enumerate() {
            if upper_i && k > 0 && k % 2 == 0 {
                s.push(':');
            }
            let _ = write!(s, "{o:02x}");
        }
    }
    s
}

impl Prepared {
    /// Reads a string argument into the text area; returns its range and the argument-area
    /// bytes it takes (length + NUL, at most `room`; 1 for an unreadable string).
    fn read_string(
        &mut self,
        mem: &mut dyn ArgMemory,
        space: Space,
        addr: u64,
        room: usize,
    ) -> (u32, u32, usize) {
        let start = self.text.len();
        if mem.read_str(space, addr, room, &mut self.text) {
            // Never trust the reader beyond the contract.
            self.text.truncate(start + room.saturating_sub(1));
            let end = self.text.len();
            (start as u32, end as u32, end - start + 1)
        } else {
            self.text.truncate(start);
            (start as u32, start as u32, 1)
        }
    }

    fn add_text(&mut self, s: &[u8], room: usize) -> (u32, u32) {
        let start = self.text.len();
        self.text
            .extend_from_slice(&s[..s.len().min(room.saturating_sub(1))]);
        (start as u32, self.text.len() as u32)
    }

    /// Formats into `out` as `bstr_printf` does: at most `out.len() - 1` bytes and a NUL
    /// (nothing when `out` is empty). Returns the length the whole text has (which may
    /// exceed what was written).
    pub fn print(&self, out: &mut [u8]) -> usize {
        let mut s = Sink::new(out);
        for piece in &self.pieces {
            match *piece {
                Piece::Lit { start, end } => {
                    s.bytes(&self.fmt[start as usize..end as usize]);
                }
                Piece::Conv { flags, width, kind } => match kind {
                    Kind::Int {
                        value,
                        bytes,
                        signed,
                        hex,
                        upper,
                    } => {
                        let (neg, mag) = if signed {
                            let v = if bytes == 4 {
                                value as u32 as i32 as i64
                            } else {
                                value as i64
                            };
                            (v < 0, v.unsigned_abs())
                        } else {
                            (false, value)
                        };
                        number(&mut s, mag, neg, signed, flags, width, hex, upper);
                    }
                    Kind::Char(c) => {
                        let pad = if width > 1 { (width - 1) as usize } else { 0 };
                        if flags & LEFT == 0 {
                            s.fill(b' ', pad);
                        }
                        s.bytes(&[c]);
                        if flags & LEFT != 0 {
                            s.fill(b' ', pad);
                        }
                    }
                    Kind::Str { start, end } => widen(
                        &mut s,
                        &self.text[start as usize..end as usize],
                        flags,
                        width,
                    ),
                    Kind::Raw { start, end } => s.bytes(&self.text[start as usize..end as usize]),
                    Kind::Ptr(v) => {
                        if width == -1 {
                            number(&mut s, v, false, false, ZEROPAD, 16, true, false);
                        } else {
                            number(&mut s, v, false, false, flags, width, true, false);
                        }
                    }
                    Kind::Sym(v) => {
                        let t = format!("0x{v:x}");
                        widen(&mut s, t.as_bytes(), flags, width);
                    }
                },
            }
        }
        s.finish()
    }

    /// The formatted text (up to [`MAX_BPRINTF_BUF`]` - 1` bytes, as the trace buffer keeps
    /// it) and the full length.
    pub fn to_message(&self) -> (Vec<u8>, usize) {
        let mut buf = vec![0u8; MAX_BPRINTF_BUF];
        let n = self.print(&mut buf);
        let written = n.min(MAX_BPRINTF_BUF - 1);
        buf.truncate(written);
        (buf, n)
    }

    /// Number of conversions that consumed an argument.
    pub fn conversions(&self) -> usize {
        self.pieces
            .iter()
            .filter(|p| matches!(p, Piece::Conv { .. }))
            .count()
    }
}

/// `bstr_printf`'s output: bounded writes, unbounded count.
struct Sink<'a> {
    out: &'a mut [u8],
    /// Bytes that may hold text (`len - 1`, room for the NUL).
    cap: usize,
    n: usize,
}

impl<'a> Sink<'a> {
    fn new(out: &'a mut [u8]) -> Sink<'a> {
        let cap = out.len().saturating_sub(1);
        Sink { out, cap, n: 0 }
    }

    fn bytes(&mut self, b: &[u8]) {
        if self.n < self.cap {
            let k = b.len().min(self.cap - self.n);
            self.out[self.n..self.n + k].copy_from_slice(&b[..k]);
        }
        self.n = self.n.saturating_add(b.len());
    }

    fn fill(&mut self, c: u8, count: usize) {
        if self.n < self.cap {
            let k = count.min(self.cap - self.n);
            self.out[self.n..self.n + k].fill(c);
        }
        self.n = self.n.saturating_add(count);
    }

    fn finish(self) -> usize {
        if !self.out.is_empty() {
            let at = self.n.min(self.cap);
            self.out[at] = 0;
        }
        self.n
    }
}

fn widen(s: &mut Sink<'_>, text: &[u8], flags: u8, width: i32) {
    let pad = if width > 0 && (width as usize) > text.len() {
        width as usize - text.len()
    } else {
        0
    };
    if flags & LEFT == 0 {
        s.fill(b' ', pad);
    }
    s.bytes(text);
    if flags & LEFT != 0 {
        s.fill(b' ', pad);
    }
}

/// `vsprintf`'s `number()` without precision or `#`.
#[allow(clippy::too_many_arguments)]
fn number(
    s: &mut Sink<'_>,
    mag: u64,
    negative: bool,
    signed: bool,
    flags: u8,
    width: i32,
    hex: bool,
    upper: bool,
) {
    let mut w = width as i64;
    let sign = if !signed {
        None
    } else if negative {
        Some(b'-')
    } else if flags & PLUS != 0 {
        Some(b'+')
    } else if flags & SPACE != 0 {
        Some(b' ')
    } else {
        None
    };
    if sign.is_some() {
        w -= 1;
    }
    let mut digits = [0u8; 20];
    let mut k = 0;
    let mut v = mag;
    loop {
        let d = if hex { (v % 16) as u8 } else { (v % 10) as u8 };
        digits[k] = match d {
            0..=9 => b'0' + d,
            _ if upper => b'A' + d - 10,
            _ => b'a' + d - 10,
        };
        k += 1;
        v = if hex { v / 16 } else { v / 10 };
        if v == 0 {
            break;
        }
    }
    w -= k as i64;
    let pad = w.max(0) as usize;
    if flags & (ZEROPAD | LEFT) == 0 {
        s.fill(b' ', pad);
    }
    if let Some(c) = sign {
        s.bytes(&[c]);
    }
    if flags & LEFT == 0 && flags & ZEROPAD != 0 {
        s.fill(b'0', pad);
    }
    digits[..k].reverse();
    s.bytes(&digits[..k]);
    if flags & LEFT != 0 {
        s.fill(b' ', pad);
    }
}

/// `bpf_trace_printk`'s formatting: checks `fmt` (whose NUL must lie within it) with up to
/// three arguments and returns the message as the trace buffer records it (cut at 1023
/// bytes and at the first NUL the formatting produced) and the helper's return value (the
/// untruncated length).
pub fn trace_printk(
    fmt: &[u8],
    args: &[u64],
    mem: &mut dyn ArgMemory,
) -> Result<(Vec<u8>, usize), FormatError> {
    let p = prepare(fmt, args, mem)?;
    let (mut msg, n) = p.to_message();
    if let Some(z) = msg.iter().position(|&b| b == 0) {
        msg.truncate(z);
    }
    Ok((msg, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Memory with strings and byte blocks at fake addresses.
    #[derive(Default)]
    struct FakeMem {
        kernel: HashMap<u64, Vec<u8>>,
        user: HashMap<u64, Vec<u8>>,
    }

    impl ArgMemory for FakeMem {
        fn read_str(&mut self, space: Space, addr: u64, max: usize, out: &mut Vec<u8>) -> bool {
            let m = match space {
                Space::Kernel => &self.kernel,
                Space::User => &self.user,
            };
            let Some(b) = m.get(&addr) else {
                return false;
            };
            let s = b.split(|&c| c == 0).next().unwrap_or(&[]);
            out.extend_from_slice(&s[..s.len().min(max - 1)]);
            true
        }
        fn read(&mut self, space: Space, addr: u64, buf: &mut [u8]) -> bool {
            let m = match space {
                Space::Kernel => &self.kernel,
                Space::User => &self.user,
            };
            match m.get(&addr) {
                Some(b) if b.len() >= buf.len() => {
                    buf.copy_from_slice(&b[..buf.len()]);
                    true
                }
                _ => false,
            }
        }
    }

    fn mem() -> FakeMem {
        let mut m = FakeMem::default();
        for (a, s) in [
            (0x1000u64, &b"ab\0"[..]),
            (0x1100, b"cd\0"),
            (0x1200, b"ef\0"),
            (0x1300, b"abcd"),
            (0x1400, b"abcdefghijklmnop"),
            (0x1500, b"hi\0"),
            (0x1600, b"a\0"),
            (0x1700, b"\0"),
            (0x1800, b"abc\0"),
        ] {
            m.kernel.insert(a, s.to_vec());
        }
        m.user.insert(0x2000, b"yo\0".to_vec());
        m
    }

    /// (format, args, expected return, expected message) as Linux 6.18 printed them through
    /// bpf_trace_printk from a socket filter run with BPF_PROG_TEST_RUN. Pointer
    /// arguments are the fake addresses above; `%p`/`%pK` differ by design (Linux hashes).
    #[allow(clippy::type_complexity)]
    const KERNEL_CASES: &[(&str, &[u64], i64, &str)] = &[
        ("Hello, World! %d\n", &[42, 7, 9], 17, "Hello, World! 42\n"),
        ("x%s", &[42, 7, 9], 1, "x"),
        ("abc %d %u %x %ld %%\n", &[(-5i64) as u64, 7, 9], -22, ""),
        ("nonl %d", &[(-5i64) as u64, 7, 9], 7, "nonl -5"),
        (
            "pct %5d|%-5d|%05d|",
            &[3, 7, 9],
            22,
            "pct     3|7    |00009|",
        ),
        ("q %q", &[65, 7, 9], -22, ""),
        (
            "%llx %lli %llu",
            &[u64::MAX, 7, 9],
            20,
            "ffffffffffffffff 7 9",
        ),
        ("h %hd", &[1, 7, 9], -22, ""),
        ("%s", &[1, 7, 9], 0, ""),
        ("%pi4", &[1, 7, 9], 15, "000.000.000.000"),
        ("%ps|%pS|%pB", &[7, 8, 9], 11, "0x7|0x8|0x9"),
        (
            "%5d|%-5x|%+d",
            &[(-3i64) as u64, 255, 4],
            14,
            "   -3|ff   |+4",
        ),
        ("% d|%X|%05x", &[4, 255, 255], 11, " 4|FF|000ff"),
        (
            "%-05d|%+u|%lx",
            &[3, 5, u64::MAX],
            24,
            "3    |5|ffffffffffffffff",
        ),
        (
            "%ld|%li|%lu",
            &[u64::MAX; 3],
            26,
            "-1|-1|18446744073709551615",
        ),
        (
            "%d|%i|%u",
            &[4294967295, (-2i64) as u64, u64::MAX],
            16,
            "-1|-2|4294967295",
        ),
        (
            "%x|%X|%llX",
            &[u64::MAX; 3],
            34,
            "ffffffff|FFFFFFFF|FFFFFFFFFFFFFFFF",
        ),
        ("%c%c%c", &[65, 0, 66], 3, "A"),
        ("%5c|%-3c|%03c", &[65, 66, 67], 13, "    A|B  |  C"),
        (
            "%s|%5s|%-5s",
            &[0x1000, 0x1100, 0x1200],
            14,
            "ab|   cd|ef   ",
        ),
        ("%05s|%s", &[0x1000, 0x1700], 6, "   ab|"),
        (
            "%pI4|%pi4",
            &[0x1300, 0x1300],
            28,
            "97.98.99.100|097.098.099.100",
        ),
        (
            "%pI6|%pi6",
            &[0x1400, 0x1400],
            72,
            "6162:6364:6566:6768:696a:6b6c:6d6e:6f70|6162636465666768696a6b6c6d6e6f70",
        ),
        ("%sx", &[0x1600], -22, ""),
        ("%s.", &[0x1600], 2, "a."),
        ("%5.2d", &[1], -22, ""),
        ("%#x", &[1], -22, ""),
        ("%", &[1], -22, ""),
        ("%pB", &[0], 3, "0x0"),
        ("%%|%d|%%", &[5], 5, "%|5|%"),
        (
            "%lld|%llu|%llx",
            &[(-5i64) as u64; 3],
            40,
            "-5|18446744073709551611|fffffffffffffffb",
        ),
        ("%2147483648d", &[1], 1, "1"),
        ("%4294967396d", &[1], 100, ""),
        ("%px|", &[7], 17, "0000000000000007|"),
        ("%-20px|", &[7], 21, "7                   |"),
        ("%pe", &[7], -22, ""),
        ("%p5", &[7], -22, ""),
        ("%20pI4|", &[0x1300], 13, "97.98.99.100|"),
        ("%-18pi4|", &[0x1300], 16, "097.098.099.100|"),
        ("%pks|%s", &[1, 1], 1, "|"),
        ("%5pks|", &[0x1800], 4, "abc|"),
        ("%ls", &[0x1600], -22, ""),
        ("%lc", &[65], -22, ""),
        ("%llld", &[1], -22, ""),
        ("%lx", &[4294967296], 9, "100000000"),
        ("%x", &[4294967296], 1, "0"),
        ("%d", &[4294967296], 1, "0"),
        ("%pS", &[0], 3, "0x0"),
        ("%+x|% u", &[5, 5], 3, "5|5"),
        ("%+05d|% 05d|%-+5d", &[5, 5, 5], 17, "+0005| 0005|+5   "),
        (
            "%0-5d|%+-5d",
            &[(-5i64) as u64, (-5i64) as u64],
            11,
            "-5   |-5   ",
        ),
        ("%pxyz|", &[7], 17, "0000000000000007|"),
        (
            "%pi4abc|%pI4z.",
            &[0x1300, 0x1300],
            29,
            "097.098.099.100|97.98.99.100.",
        ),
        ("%psab|%pks9|", &[7, 0x1000], -22, ""),
        (
            "%pI6cz|",
            &[0x1400],
            40,
            "6162:6364:6566:6768:696a:6b6c:6d6e:6f70|",
        ),
        ("%pus|", &[0], 1, "|"),
        ("%pus|", &[0x2000], 3, "yo|"),
        ("%p|%px", &[0, 7], 33, "0000000000000000|0000000000000007"),
    ];

    #[test]
    fn matches_linux_trace_printk() {
        for &(f, args, ret, msg) in KERNEL_CASES {
            let mut fmt = f.as_bytes().to_vec();
            fmt.push(0);
            let mut m = mem();
            match trace_printk(&fmt, args, &mut m) {
                Ok((got, n)) => {
                    assert_eq!(n as i64, ret, "return value of {f:?}");
                    if !(f.starts_with("%4294967396d")) {
                        assert_eq!(String::from_utf8_lossy(&got), msg, "message of {f:?}");
                    } else {
                        assert_eq!(got.len(), 100);
                    }
                }
                Err(e) => assert_eq!(-(e.errno() as i64), ret, "error of {f:?}: {e}"),
            }
        }
    }

    #[test]
    fn widths_wrap_and_clamp_like_linux() {
        let mut m = NoMemory;
        for (w, expect) in [
            ("16777316", 8388607usize),
            ("8388609", 8388607),
            ("8388607", 8388607),
            ("4294967396", 100),
            ("99999999999", 8388607),
        ] {
            let f = format!("%{w}d\0");
            let (msg, n) = trace_printk(f.as_bytes(), &[1], &mut m).unwrap();
            assert_eq!(n, expect, "width {w}");
            assert_eq!(msg.len(), expect.min(1023));
        }
    }

    #[test]
    fn byte_rules_match_linux() {
        let mut m = NoMemory;
        for b in [
            0x80u8, 0x9f, 0xa0, 0xc3, 0xe9, 0xff, 0x0c, b'\t', b'\r', 0x0b,
        ] {
            let f = [b'a', b, 0];
            assert_eq!(trace_printk(&f, &[], &mut m).unwrap().1, 2, "byte {b:#x}");
        }
        for b in [0x1bu8, 0x07, 0x08, 0x7f, 0x01] {
            let f = [b'a', b, 0];
            let e = trace_printk(&f, &[], &mut m).unwrap_err();
            assert_eq!(e, FormatError::BadByte { at: 1, byte: b });
            assert_eq!(e.errno(), libc::EINVAL);
        }
        assert_eq!(
            trace_printk(b"abc", &[], &mut m).unwrap_err(),
            FormatError::Unterminated { size: 3 }
        );
        // Bytes after the NUL are not looked at.
        assert_eq!(trace_printk(b"ok\0\x01%q", &[], &mut m).unwrap().1, 2);
    }

    #[test]
    fn argument_area_runs_out_with_enospc() {
        // 12 strings of 100 bytes: the 512-byte area holds five, the sixth is cut, the
        // seventh has no room.
        let mut m = FakeMem::default();
        m.kernel
            .insert(0x10, [b'x'; 100].into_iter().chain([0]).collect());
        let f = "%s %s %s %s %s %s %s\0";
        let e = prepare(f.as_bytes(), &[0x10; 7], &mut m).unwrap_err();
        assert_eq!(e.errno(), libc::ENOSPC);
        let p = prepare(b"%s %s %s %s %s %s\0", &[0x10; 6], &mut m).unwrap();
        let mut out = vec![0u8; 2048];
        let n = p.print(&mut out);
        // 5 * 101 = 505 bytes used, 7 left: the sixth string keeps 6 bytes.
        assert_eq!(n, 5 * 100 + 6 + 5);
        // Integers need 4-byte alignment and their full size.
        let f = "%s %ld\0";
        let mut m2 = FakeMem::default();
        m2.kernel
            .insert(0x10, [b'y'; 505].into_iter().chain([0]).collect());
        assert_eq!(
            prepare(f.as_bytes(), &[0x10, 1], &mut m2)
                .unwrap_err()
                .errno(),
            libc::ENOSPC
        );
    }

    #[test]
    fn snprintf_style_output_is_bounded_and_terminated() {
        let mut m = NoMemory;
        let p = prepare(b"%d-%d\0", &[12, 34], &mut m).unwrap();
        let mut small = [0xffu8; 4];
        assert_eq!(p.print(&mut small), 5);
        assert_eq!(&small, b"12-\0");
        let mut none: [u8; 0] = [];
        assert_eq!(p.print(&mut none), 5);
        let mut one = [0xffu8; 1];
        assert_eq!(p.print(&mut one), 5);
        assert_eq!(one, [0]);
        assert_eq!(p.conversions(), 2);
    }

    #[test]
    fn never_panics_on_arbitrary_formats() {
        // A cheap deterministic sweep over short formats made of the interesting bytes.
        let alphabet = b"%0+- 9lpksuIi46xXdcSBK.\x01\xc3";
        let mut m = mem();
        let mut state = 0x1234_5678_9abc_def0u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 12) as usize;
            let f: Vec<u8> = (0..len)
                .map(|k| alphabet[((state >> (k * 5)) % alphabet.len() as u64) as usize])
                .chain(std::iter::once(0))
                .collect();
            let args = [0x1000, state, 0x1400, u64::MAX, 0, 0x1300];
            if let Ok(p) = prepare(&f, &args, &mut m) {
                let mut out = [0u8; 64];
                let n = p.print(&mut out);
                assert!(n >= out.iter().position(|&b| b == 0).unwrap_or(0));
            }
        }
    }
}
