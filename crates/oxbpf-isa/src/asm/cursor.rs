//! A cursor over the tokens of one line, and the operand parsers both syntaxes share:
//! registers, numbers, jump targets, calls and the pseudo `lddw` sources.

use super::lexer::{is_identifier, Tok, Token};
use super::{AsmError, Parsed, Target};
use crate::helpers::helper_id;
use crate::insn::*;

/// A register operand as written.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RegOp {
    pub reg: Reg,
    /// `w` prefix: the 32-bit view of the register (LLVM syntax).
    pub w: bool,
    pub col: usize,
}

impl RegOp {
    /// The register as written, e.g. `w3`.
    pub(crate) fn name(self) -> String {
        format!("{}{}", if self.w { 'w' } else { 'r' }, self.reg.num())
    }

    pub(crate) fn width(self) -> Width {
        if self.w {
            Width::W32
        } else {
            Width::W64
        }
    }
}

/// The outcome of reading a register name.
enum RegName {
    Ok(Reg, bool),
    /// `r11` and up: looks like a register but does not exist.
    NoSuchRegister,
}

/// `r0`..`r10`, `w0`..`w10`, each optionally prefixed with `%`.
fn reg_name(s: &str) -> Option<RegName> {
    let s = s.strip_prefix('%').unwrap_or(s);
    let (w, digits) = if let Some(d) = s.strip_prefix('r') {
        (false, d)
    } else if let Some(d) = s.strip_prefix('w') {
        (true, d)
    } else {
        return None;
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    match digits.parse::<u32>() {
        Ok(n) if n <= 10 && (digits.len() == 1 || !digits.starts_with('0')) => {
            Some(RegName::Ok(Reg::new(n as u8)?, w))
        }
        _ => Some(RegName::NoSuchRegister),
    }
}

/// True when `s` names a register (or looks like one, such as `r11`).
pub(crate) fn looks_like_register(s: &str) -> bool {
    reg_name(s).is_some()
}

/// Describes a token for "found ..." in error messages.
pub(crate) fn describe(t: Option<&Token>) -> String {
    match t {
        Some(t) => format!("`{}`", t.text),
        None => "the end of the line".to_string(),
    }
}

/// Tokens of one line and a position in them.
pub(crate) struct Cursor<'a> {
    toks: &'a [Token],
    pos: usize,
    pub line: usize,
    /// Column just past the last character of the line (for "found the end of the line").
    end_col: usize,
    /// The verifier log's opcode prefix of the line, if any.
    pub kernel_opcode: Option<u8>,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(toks: &'a [Token], line: usize, end_col: usize) -> Cursor<'a> {
        Cursor {
            toks,
            pos: 0,
            line,
            end_col,
            kernel_opcode: None,
        }
    }

    pub(crate) fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.pos)
    }

    pub(crate) fn peek_at(&self, ahead: usize) -> Option<&'a Token> {
        self.toks.get(self.pos + ahead)
    }

    pub(crate) fn next(&mut self) -> Option<&'a Token> {
        let t = self.toks.get(self.pos);
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    /// Column of the next token (or of the end of the line).
    pub(crate) fn col(&self) -> usize {
        self.peek().map_or(self.end_col, |t| t.col)
    }

    pub(crate) fn err_at(&self, col: usize, msg: impl Into<String>) -> AsmError {
        AsmError::new(self.line, col, msg)
    }

    /// "expected X, found Y" at the next token.
    pub(crate) fn expected(&self, what: &str) -> AsmError {
        self.err_at(
            self.col(),
            format!("expected {what}, found {}", describe(self.peek())),
        )
    }

    pub(crate) fn peek_punct(&self, p: &str) -> bool {
        self.peek().is_some_and(|t| t.is_punct(p))
    }

    pub(crate) fn peek_ident(&self, s: &str) -> bool {
        self.peek().and_then(Token::ident) == Some(s)
    }

    /// Consumes punctuation `p` if it is next.
    pub(crate) fn eat_punct(&mut self, p: &str) -> bool {
        if self.peek_punct(p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes identifier `s` if it is next.
    pub(crate) fn eat_ident(&mut self, s: &str) -> bool {
        if self.peek_ident(s) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn expect_punct(&mut self, p: &str, context: &str) -> Result<(), AsmError> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{p}` {context}")))
        }
    }

    pub(crate) fn expect_ident(&mut self, s: &str, context: &str) -> Result<(), AsmError> {
        if self.eat_ident(s) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{s}` {context}")))
        }
    }

    /// Fails unless every token was used.
    pub(crate) fn finish(&self) -> Result<(), AsmError> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(self.err_at(
                t.col,
                format!("unexpected `{}` after the end of the instruction", t.text),
            )),
        }
    }

    /// True when the token `ahead` places on starts a signed number.
    pub(crate) fn number_at(&self, ahead: usize) -> bool {
        self.peek_at(ahead)
            .is_some_and(|t| t.is_punct("+") || t.is_punct("-") || matches!(t.tok, Tok::Num(_)))
    }

    /// True when the next token is a register name.
    pub(crate) fn at_register(&self) -> bool {
        self.peek()
            .and_then(Token::ident)
            .is_some_and(looks_like_register)
    }

    /// A register (`r1`, `w1`, `%r1`).
    pub(crate) fn reg(&mut self) -> Result<RegOp, AsmError> {
        let t = self.peek();
        match t.and_then(Token::ident).and_then(reg_name) {
            Some(RegName::Ok(reg, w)) => {
                let col = self.col();
                self.pos += 1;
                Ok(RegOp { reg, w, col })
            }
            Some(RegName::NoSuchRegister) => Err(self.err_at(
                self.col(),
                format!(
                    "expected a register such as r1 or %r1, found {} (registers are r0 to r10)",
                    describe(t)
                ),
            )),
            None => Err(self.expected("a register such as r1 or %r1")),
        }
    }

    /// A 64-bit register (`r1` or `%r1`; `w1` is refused).
    pub(crate) fn reg64(&mut self) -> Result<RegOp, AsmError> {
        let r = self.reg()?;
        if r.w {
            return Err(self.err_at(
                r.col,
                format!(
                    "expected a 64-bit register here: write r{} instead of {}",
                    r.reg.num(),
                    r.name()
                ),
            ));
        }
        Ok(r)
    }

    /// A signed number: optional `+` or `-`, then digits. Returns the value and its column.
    pub(crate) fn signed(&mut self, what: &str) -> Result<(i128, usize), AsmError> {
        let col = self.col();
        let neg = if self.eat_punct("-") {
            true
        } else {
            self.eat_punct("+");
            false
        };
        match self.peek() {
            Some(Token {
                tok: Tok::Num(v), ..
            }) => {
                self.pos += 1;
                let v = *v as i128;
                Ok((if neg { -v } else { v }, col))
            }
            _ => Err(self.expected(what)),
        }
    }

    /// A 32-bit immediate: -2^31 to 2^32-1, values above `i32::MAX` taken as their bit
    /// pattern (`0xffffffff` is -1), as LLVM and the conformance assembler do.
    pub(crate) fn imm32(&mut self, what: &str) -> Result<i32, AsmError> {
        let (v, col) = self.signed(what)?;
        imm32_of(v).ok_or_else(|| {
            self.err_at(
                col,
                format!(
                    "immediate {v} does not fit in 32 bits (allowed: -2147483648 to 4294967295)"
                ),
            )
        })
    }

    /// A 64-bit immediate: -2^63 to 2^64-1, as a bit pattern.
    pub(crate) fn imm64(&mut self, what: &str) -> Result<u64, AsmError> {
        let (v, col) = self.signed(what)?;
        imm64_of(v)
            .ok_or_else(|| self.err_at(col, format!("immediate {v} does not fit in 64 bits")))
    }

    /// A number in `lo..=hi`.
    pub(crate) fn ranged(&mut self, what: &str, lo: i128, hi: i128) -> Result<i128, AsmError> {
        let (v, col) = self.signed(what)?;
        if v < lo || v > hi {
            return Err(self.err_at(
                col,
                format!("{v} is out of range for {what} ({lo} to {hi})"),
            ));
        }
        Ok(v)
    }

    /// An optional `+ n` / `- n` displacement after a base register, as a 16-bit offset.
    pub(crate) fn displacement(&mut self) -> Result<i16, AsmError> {
        if !(self.peek_punct("+") || self.peek_punct("-")) {
            return Ok(0);
        }
        let (v, col) = self.signed("an offset")?;
        i16::try_from(v).map_err(|_| {
            self.err_at(
                col,
                format!("offset {v} does not fit in 16 bits (-32768 to 32767)"),
            )
        })
    }

    /// A branch target: a label, a signed offset (`+3`, `-2`) or the kernel's `pc+3`.
    pub(crate) fn target(&mut self) -> Result<(Target, usize), AsmError> {
        let col = self.col();
        if self.peek_punct("+") || self.peek_punct("-") {
            let (v, _) = self.signed("a jump offset")?;
            return Ok((Target::Offset(v), col));
        }
        if self.peek_ident("pc")
            && (self
                .peek_at(1)
                .is_some_and(|t| t.is_punct("+") || t.is_punct("-")))
        {
            self.pos += 1;
            let (v, _) = self.signed("a jump offset")?;
            return Ok((Target::Offset(v), col));
        }
        match self.peek() {
            Some(t)
                if t.ident()
                    .is_some_and(|s| is_identifier(s) && !looks_like_register(s)) =>
            {
                self.pos += 1;
                Ok((Target::Label(t.text.clone()), col))
            }
            Some(Token {
                tok: Tok::Num(_), ..
            }) => Err(self
                .expected("a jump target: a label or an offset with its sign, such as +3 or -2")),
            _ => Err(self.expected("a jump target: a label or a signed offset such as +3 or -2")),
        }
    }

    /// The operands of `call` (both syntaxes): a helper id or name, `local <target>`,
    /// `pc+N`, a label, `helper N`, `kfunc(id[, module])`, `runtime id[, module]`, or a
    /// register (callx).
    pub(crate) fn call(&mut self) -> Result<Parsed, AsmError> {
        let col = self.col();
        if self.at_register() {
            let r = self.reg64()?;
            return Ok(Parsed::plain(Insn::CallX { reg: r.reg }));
        }
        if self.number_at(0) {
            let id = self.imm32("a helper id")?;
            return Ok(Parsed::plain(Insn::Call(CallTarget::Helper(id))));
        }
        let Some(name) = self.peek().and_then(Token::ident) else {
            return Err(self.expected(
                "a call target: a helper id or name, a label, `local <label>` or a register",
            ));
        };
        match name {
            "pc" => {
                let (target, tcol) = self.target()?;
                return Ok(Parsed::with_target(
                    Insn::Call(CallTarget::Local(0)),
                    target,
                    tcol,
                ));
            }
            "local" => {
                self.pos += 1;
                let (target, tcol) = self.target()?;
                return Ok(Parsed::with_target(
                    Insn::Call(CallTarget::Local(0)),
                    target,
                    tcol,
                ));
            }
            "helper" if self.number_at(1) => {
                self.pos += 1;
                let id = self.imm32("a helper id")?;
                return Ok(Parsed::plain(Insn::Call(CallTarget::Helper(id))));
            }
            "runtime" if self.number_at(1) => {
                self.pos += 1;
                let id = self.imm32("an external function id")?;
                let module = if self.eat_punct(",") {
                    self.ranged("a module index", i16::MIN as i128, i16::MAX as i128)? as i16
                } else {
                    0
                };
                return Ok(Parsed::plain(Insn::Call(CallTarget::External {
                    id,
                    module,
                })));
            }
            "kfunc" if self.peek_at(1).is_some_and(|t| t.is_punct("(")) => {
                self.pos += 2;
                let id = self.imm32("an external function id")?;
                let module = if self.eat_punct(",") {
                    self.ranged("a module index", i16::MIN as i128, i16::MAX as i128)? as i16
                } else {
                    0
                };
                self.expect_punct(")", "to close `kfunc(`")?;
                return Ok(Parsed::plain(Insn::Call(CallTarget::External {
                    id,
                    module,
                })));
            }
            _ => {}
        }
        let name = name.to_string();
        self.pos += 1;
        // The kernel's verifier log prints `call bpf_map_lookup_elem#1`, `call unknown#195`.
        if self.eat_punct("#") {
            let id = self.imm32("a helper id")?;
            if name != "unknown" {
                match helper_id(&name) {
                    Some(known) if known as i64 == id as i64 => {}
                    Some(known) => {
                        return Err(
                            self.err_at(col, format!("helper `{name}` has id {known}, not {id}"))
                        )
                    }
                    None => {
                        return Err(self.err_at(
                            col,
                            format!(
                                "`{name}` is not a Linux helper; for an external function \
                                 (kfunc) write `call kfunc({id})`"
                            ),
                        ))
                    }
                }
            }
            return Ok(Parsed::plain(Insn::Call(CallTarget::Helper(id))));
        }
        if !is_identifier(&name) {
            return Err(self.err_at(col, format!("`{name}` is not a valid call target")));
        }
        Ok(Parsed::with_target(
            Insn::Call(CallTarget::Helper(0)),
            Target::CallName(name),
            col,
        ))
    }

    /// The pseudo `lddw` sources, written as functions: `map_fd(fd)`, `map_value(fd, off)`,
    /// `map_idx(i)`, `map_idx_value(i, off)`, `btf_var(id, btf_fd)`, `func(target)`.
    /// Returns `None` (consuming nothing) when the next token is not one of them.
    pub(crate) fn pseudo_source(&mut self, dst: Reg) -> Result<Option<Parsed>, AsmError> {
        let Some(name) = self.peek().and_then(Token::ident) else {
            return Ok(None);
        };
        if name == "map" && self.peek_at(1).is_some_and(|t| t.is_punct("[")) {
            return Err(self.err_at(
                self.col(),
                "`map[id:N]` names a map by its kernel id, as the verifier log prints it; an \
                 instruction refers to a map by file descriptor or index: write `map_fd(N)` \
                 or `map_idx(N)`",
            ));
        }
        let known = matches!(
            name,
            "map_fd" | "map_value" | "map_idx" | "map_idx_value" | "btf_var" | "func"
        );
        if !known || !self.peek_at(1).is_some_and(|t| t.is_punct("(")) {
            return Ok(None);
        }
        let name = name.to_string();
        self.pos += 2;
        let ctx = format!("to close `{name}(`");
        let value = match name.as_str() {
            "func" => {
                let (target, col) = self.target()?;
                self.expect_punct(")", &ctx)?;
                return Ok(Some(Parsed::with_target(
                    Insn::LoadImm64 {
                        dst,
                        value: LoadImm64::CodeAddr(0),
                    },
                    target,
                    col,
                )));
            }
            "map_fd" => LoadImm64::MapFd(self.imm32("a map file descriptor")?),
            "map_idx" => LoadImm64::MapIdx(self.imm32("a map index")?),
            "map_value" | "map_idx_value" => {
                let first = self.imm32(if name == "map_value" {
                    "a map file descriptor"
                } else {
                    "a map index"
                })?;
                self.expect_punct(",", "between the map and the value offset")?;
                let offset = self.ranged("a value offset", 0, u32::MAX as i128)? as u32;
                if name == "map_value" {
                    LoadImm64::MapValue { fd: first, offset }
                } else {
                    LoadImm64::MapIdxValue { idx: first, offset }
                }
            }
            _ /* btf_var */ => {
                let btf_id = self.imm32("a BTF id")?;
                self.expect_punct(",", "between the BTF id and the BTF object fd")?;
                let btf_fd = self.imm32("a BTF object file descriptor")?;
                LoadImm64::VariableAddr { btf_id, btf_fd }
            }
        };
        self.expect_punct(")", &ctx)?;
        Ok(Some(Parsed::plain(Insn::LoadImm64 { dst, value })))
    }
}

/// -2^31..2^32-1 as a 32-bit pattern.
pub(crate) fn imm32_of(v: i128) -> Option<i32> {
    if (i32::MIN as i128..=u32::MAX as i128).contains(&v) {
        Some(if v < 0 { v as i32 } else { v as u32 as i32 })
    } else {
        None
    }
}

/// -2^63..2^64-1 as a 64-bit pattern.
pub(crate) fn imm64_of(v: i128) -> Option<u64> {
    if (i64::MIN as i128..=u64::MAX as i128).contains(&v) {
        Some(if v < 0 { v as i64 as u64 } else { v as u64 })
    } else {
        None
    }
}

/// Fails when `r` is r10, which no instruction may write.
pub(crate) fn writable(cur: &Cursor<'_>, r: RegOp) -> Result<Reg, AsmError> {
    if r.reg == Reg::R10 {
        return Err(cur.err_at(
            r.col,
            format!(
                "{} is the read-only frame pointer and cannot be written",
                r.name()
            ),
        ));
    }
    Ok(r.reg)
}
