//! LLVM / kernel syntax: `r0 = *(u32 *)(r1 + 4)`, `if r1 > 5 goto +2`, ...

use super::cursor::{imm32_of, imm64_of, writable, Cursor, RegOp};
use super::lexer::{Tok, Token};
use super::{AsmError, Parsed};
use crate::insn::*;

type R<T> = Result<T, AsmError>;

/// Parses one instruction in LLVM syntax; the caller has checked the first token.
pub(super) fn parse(cur: &mut Cursor<'_>) -> R<Parsed> {
    if cur.eat_punct("*") {
        return store(cur);
    }
    let word = cur.peek().and_then(Token::ident).unwrap_or("").to_string();
    match word.as_str() {
        "if" => {
            cur.next();
            cond_jump(cur)
        }
        "goto" | "gotol" => {
            cur.next();
            let (target, col) = cur.target()?;
            Ok(Parsed::with_target(
                Insn::Ja {
                    off: 0,
                    long: word == "gotol",
                },
                target,
                col,
            ))
        }
        "lock" => {
            cur.next();
            lock(cur)
        }
        "store_release" => {
            cur.next();
            store_release(cur)
        }
        "ld_pseudo" => {
            cur.next();
            ld_pseudo(cur)
        }
        _ => {
            let dst = cur.reg()?;
            assign(cur, dst)
        }
    }
}

/// A memory type in parentheses: `(u32 *)`.
#[derive(Clone, Copy)]
struct MemType {
    size: Size,
    signed: bool,
    col: usize,
}

impl MemType {
    fn name(self) -> String {
        format!(
            "{}{}",
            if self.signed { 's' } else { 'u' },
            self.size.bytes() * 8
        )
    }
}

fn mem_type(cur: &mut Cursor<'_>) -> R<MemType> {
    cur.expect_punct("(", "to start a memory type such as (u32 *)")?;
    let col = cur.col();
    let (size, signed) = match cur.peek().and_then(Token::ident) {
        Some("u8") => (Size::B, false),
        Some("u16") => (Size::H, false),
        Some("u32") => (Size::W, false),
        Some("u64") => (Size::DW, false),
        Some("s8") => (Size::B, true),
        Some("s16") => (Size::H, true),
        Some("s32") => (Size::W, true),
        Some("s64") => (Size::DW, true),
        _ => return Err(cur.expected("a memory type such as u32 or s16")),
    };
    cur.next();
    cur.expect_punct("*", "after the memory type (as in `(u32 *)`)")?;
    cur.expect_punct(")", "to close the memory type")?;
    Ok(MemType { size, signed, col })
}

fn unsigned_type(cur: &Cursor<'_>, t: MemType, what: &str) -> R<()> {
    if t.signed {
        return Err(cur.err_at(
            t.col,
            format!(
                "{what} takes an unsigned type (u8, u16, u32 or u64), found `{}`",
                t.name()
            ),
        ));
    }
    Ok(())
}

/// `reg`, `reg + off`, `reg - off` (inside the parentheses of a memory operand).
fn address(cur: &mut Cursor<'_>) -> R<(Reg, i16)> {
    let base = cur.reg()?;
    if base.w {
        return Err(cur.err_at(
            base.col,
            format!(
                "an address is a 64-bit register: write r{} instead of {}",
                base.reg.num(),
                base.name()
            ),
        ));
    }
    Ok((base.reg, cur.displacement()?))
}

/// `(reg + off)`.
fn mem(cur: &mut Cursor<'_>) -> R<(Reg, i16)> {
    cur.expect_punct("(", "to start a memory operand such as (r1 + 4)")?;
    let a = address(cur)?;
    cur.expect_punct(")", "to close the memory operand")?;
    Ok(a)
}

/// `(u32 *)(reg + off)`.
fn typed_mem(cur: &mut Cursor<'_>) -> R<(MemType, Reg, i16)> {
    let t = mem_type(cur)?;
    let (reg, off) = mem(cur)?;
    Ok((t, reg, off))
}

/// A register whose width must suit an access of `size` bytes (`w` only below 8 bytes).
fn value_reg(cur: &Cursor<'_>, r: RegOp, size: Size) -> R<()> {
    if r.w && size == Size::DW {
        return Err(cur.err_at(
            r.col,
            format!(
                "a 64-bit access needs a 64-bit register: write r{} instead of {}",
                r.reg.num(),
                r.name()
            ),
        ));
    }
    Ok(())
}

fn same_width(cur: &Cursor<'_>, dst: RegOp, src: RegOp) -> R<()> {
    if dst.w != src.w {
        let (n32, n64) = if dst.w { (&dst, &src) } else { (&src, &dst) };
        return Err(cur.err_at(
            src.col,
            format!(
                "`{}` is a 32-bit register and `{}` a 64-bit one; write both with `r` for a \
                 64-bit operation or both with `w` for a 32-bit one",
                n32.name(),
                n64.name()
            ),
        ));
    }
    Ok(())
}

/// A register operand or a 32-bit immediate.
fn operand(cur: &mut Cursor<'_>, dst: RegOp, what: &str) -> R<Operand> {
    if cur.at_register() {
        let src = cur.reg()?;
        same_width(cur, dst, src)?;
        return Ok(Operand::Reg(src.reg));
    }
    if cur.number_at(0) {
        return Ok(Operand::Imm(cur.imm32("an immediate")?));
    }
    Err(cur.expected(what))
}

/// `*(u64 *)(r10 - 8) = r1` / `= 7` (the leading `*` is consumed).
fn store(cur: &mut Cursor<'_>) -> R<Parsed> {
    let (t, dst, off) = typed_mem(cur)?;
    unsigned_type(cur, t, "a store")?;
    cur.expect_punct("=", "after the memory operand of a store")?;
    let src = if cur.at_register() {
        let r = cur.reg()?;
        value_reg(cur, r, t.size)?;
        Operand::Reg(r.reg)
    } else if cur.number_at(0) {
        Operand::Imm(cur.imm32("a stored immediate")?)
    } else {
        return Err(cur.expected("a register or an immediate to store"));
    };
    Ok(Parsed::plain(Insn::Store {
        size: t.size,
        dst,
        off,
        src,
    }))
}

/// `lock *(u64 *)(r10 - 8) += r1` (after `lock`).
fn lock(cur: &mut Cursor<'_>) -> R<Parsed> {
    cur.expect_punct("*", "after `lock` (as in `lock *(u64 *)(r10 - 8) += r1`)")?;
    let (t, dst, off) = typed_mem(cur)?;
    rmw_size(cur, t)?;
    let col = cur.col();
    let op = match cur.next().map(|t| &t.tok) {
        Some(Tok::Punct("+=")) => AtomicOp::Add { fetch: false },
        Some(Tok::Punct("|=")) => AtomicOp::Or { fetch: false },
        Some(Tok::Punct("&=")) => AtomicOp::And { fetch: false },
        Some(Tok::Punct("^=")) => AtomicOp::Xor { fetch: false },
        _ => return Err(cur.err_at(col, "expected an atomic operator: `+=`, `|=`, `&=` or `^=`")),
    };
    let src = cur.reg()?;
    value_reg(cur, src, t.size)?;
    Ok(Parsed::plain(Insn::Atomic {
        size: t.size,
        op,
        dst,
        src: src.reg,
        off,
    }))
}

/// Read-modify-write atomics exist for 4 and 8 bytes, unsigned.
fn rmw_size(cur: &Cursor<'_>, t: MemType) -> R<()> {
    if t.signed || !matches!(t.size, Size::W | Size::DW) {
        return Err(cur.err_at(
            t.col,
            format!(
                "atomic read-modify-write operations take u32 or u64, found `{}`",
                t.name()
            ),
        ));
    }
    Ok(())
}

/// `store_release((u64 *)(r1 + 0), r2)` (after `store_release`).
fn store_release(cur: &mut Cursor<'_>) -> R<Parsed> {
    cur.expect_punct("(", "after `store_release`")?;
    let (t, dst, off) = typed_mem(cur)?;
    unsigned_type(cur, t, "store_release")?;
    cur.expect_punct(",", "between the address and the value of store_release")?;
    let src = cur.reg()?;
    value_reg(cur, src, t.size)?;
    cur.expect_punct(")", "to close `store_release(`")?;
    Ok(Parsed::plain(Insn::Atomic {
        size: t.size,
        op: AtomicOp::StoreRelease,
        dst,
        src: src.reg,
        off,
    }))
}

/// `ld_pseudo r1, 1, 3`: LLVM's raw form of `lddw` with a source.
fn ld_pseudo(cur: &mut Cursor<'_>) -> R<Parsed> {
    let r = cur.reg64()?;
    let dst = writable(cur, r)?;
    cur.expect_punct(",", "after the destination register")?;
    let src = cur.ranged("an lddw source", 0, 6)? as u8;
    cur.expect_punct(",", "after the lddw source")?;
    let col = cur.col();
    let v = cur.imm64("an immediate")?;
    let imm = || {
        imm32_of(v as i64 as i128).ok_or_else(|| {
            cur.err_at(
                col,
                format!("the immediate of lddw source {src} has 32 bits, found {v}"),
            )
        })
    };
    let value = match src {
        0 => LoadImm64::Imm(v),
        1 => LoadImm64::MapFd(imm()?),
        2 => LoadImm64::MapValue {
            fd: imm()?,
            offset: 0,
        },
        3 => LoadImm64::VariableAddr {
            btf_id: imm()?,
            btf_fd: 0,
        },
        4 => LoadImm64::CodeAddr(imm()?),
        5 => LoadImm64::MapIdx(imm()?),
        _ => LoadImm64::MapIdxValue {
            idx: imm()?,
            offset: 0,
        },
    };
    Ok(Parsed::plain(Insn::LoadImm64 { dst, value }))
}

/// `if dst op src goto target` (after `if`).
fn cond_jump(cur: &mut Cursor<'_>) -> R<Parsed> {
    let dst = cur.reg()?;
    let col = cur.col();
    let op = match cur.next().map(|t| &t.tok) {
        Some(Tok::Punct(p)) => match *p {
            "==" => JmpOp::Eq,
            "!=" => JmpOp::Ne,
            ">" => JmpOp::Gt,
            ">=" => JmpOp::Ge,
            "<" => JmpOp::Lt,
            "<=" => JmpOp::Le,
            "s>" => JmpOp::Sgt,
            "s>=" => JmpOp::Sge,
            "s<" => JmpOp::Slt,
            "s<=" => JmpOp::Sle,
            "&" => JmpOp::Set,
            _ => return Err(cond_error(cur, col)),
        },
        _ => return Err(cond_error(cur, col)),
    };
    let src = operand(cur, dst, "a register or an immediate to compare with")?;
    cur.expect_ident("goto", "after the condition")?;
    let (target, tcol) = cur.target()?;
    Ok(Parsed::with_target(
        Insn::Jump {
            width: dst.width(),
            op,
            dst: dst.reg,
            src,
            off: 0,
        },
        target,
        tcol,
    ))
}

fn cond_error(cur: &Cursor<'_>, col: usize) -> AsmError {
    cur.err_at(
        col,
        "expected a comparison: ==, !=, >, >=, <, <=, s>, s>=, s<, s<= or &",
    )
}

/// Everything that starts with a register: `dst = ...` and `dst op= ...`.
fn assign(cur: &mut Cursor<'_>, dst: RegOp) -> R<Parsed> {
    let col = cur.col();
    let op = match cur.next().map(|t| &t.tok) {
        Some(Tok::Punct("=")) => return rhs(cur, dst),
        Some(Tok::Punct(p)) => match *p {
            "+=" => AluOp::Add,
            "-=" => AluOp::Sub,
            "*=" => AluOp::Mul,
            "/=" => AluOp::Div,
            "s/=" => AluOp::SDiv,
            "%=" => AluOp::Mod,
            "s%=" => AluOp::SMod,
            "|=" => AluOp::Or,
            "&=" => AluOp::And,
            "^=" => AluOp::Xor,
            "<<=" => AluOp::Lsh,
            ">>=" => AluOp::Rsh,
            "s>>=" => AluOp::Arsh,
            _ => return Err(assign_error(cur, col, dst)),
        },
        _ => return Err(assign_error(cur, col, dst)),
    };
    let d = writable(cur, dst)?;
    let src = operand(cur, dst, "a register or an immediate")?;
    Ok(Parsed::plain(Insn::Alu {
        width: dst.width(),
        op,
        dst: d,
        src,
    }))
}

fn assign_error(cur: &Cursor<'_>, col: usize, dst: RegOp) -> AsmError {
    cur.err_at(
        col,
        format!(
            "expected `=` or an operator such as `+=` after `{}`",
            dst.name()
        ),
    )
}

/// The right-hand side of `dst = ...`.
fn rhs(cur: &mut Cursor<'_>, dst: RegOp) -> R<Parsed> {
    // `dst = -dst`
    if cur.peek_punct("-")
        && cur
            .peek_at(1)
            .and_then(Token::ident)
            .is_some_and(super::cursor::looks_like_register)
    {
        cur.next();
        let src = cur.reg()?;
        if src.reg != dst.reg || src.w != dst.w {
            return Err(cur.err_at(
                src.col,
                format!("negation is in place: write `{0} = -{0}`", dst.name()),
            ));
        }
        return Ok(Parsed::plain(Insn::Neg {
            width: dst.width(),
            dst: writable(cur, dst)?,
        }));
    }
    if cur.peek_punct("(") {
        return movsx(cur, dst);
    }
    if cur.eat_punct("*") {
        return load(cur, dst);
    }
    if cur.at_register() {
        let src = cur.reg()?;
        same_width(cur, dst, src)?;
        return Ok(Parsed::plain(Insn::Alu {
            width: dst.width(),
            op: AluOp::Mov,
            dst: writable(cur, dst)?,
            src: Operand::Reg(src.reg),
        }));
    }
    if cur.number_at(0) {
        return immediate(cur, dst);
    }
    let Some(word) = cur.peek().and_then(Token::ident).map(str::to_string) else {
        return Err(rhs_error(cur));
    };
    if let Some((order, bits)) = endian_word(&word) {
        cur.next();
        let src = cur.reg()?;
        if src.reg != dst.reg {
            return Err(cur.err_at(
                src.col,
                format!(
                    "byte swaps are in place: write `{0} = {word} {0}`",
                    dst.name()
                ),
            ));
        }
        return Ok(Parsed::plain(Insn::Endian {
            order,
            bits,
            dst: writable(cur, dst)?,
        }));
    }
    if let Some(bits) = ["bswap", "be", "le"]
        .iter()
        .find_map(|p| word.strip_prefix(p))
    {
        if !bits.is_empty() && bits.chars().all(|c| c.is_ascii_digit()) {
            return Err(cur.err_at(
                cur.col(),
                format!("`{word}`: byte swaps exist for 16, 32 and 64 bits"),
            ));
        }
    }
    if let Some(p) = cur.pseudo_source(dst.reg)? {
        if dst.w {
            return Err(cur.err_at(
                dst.col,
                format!("lddw loads a 64-bit register: write r{}", dst.reg.num()),
            ));
        }
        writable(cur, dst)?;
        cur.eat_ident("ll");
        return Ok(p);
    }
    if let Some((kind, implied)) = atomic_word(&word) {
        cur.next();
        return atomic_fn(cur, dst, &word, kind, implied);
    }
    match word.as_str() {
        "load_acquire" => {
            cur.next();
            cur.expect_punct("(", "after `load_acquire`")?;
            let (t, src, off) = typed_mem(cur)?;
            unsigned_type(cur, t, "load_acquire")?;
            value_reg(cur, dst, t.size)?;
            cur.expect_punct(")", "to close `load_acquire(`")?;
            Ok(Parsed::plain(Insn::Atomic {
                size: t.size,
                op: AtomicOp::LoadAcquire,
                dst: writable(cur, dst)?,
                src,
                off,
            }))
        }
        "addr_space_cast" => {
            cur.next();
            cur.expect_punct("(", "after `addr_space_cast`")?;
            let src = cur.reg64()?;
            cur.expect_punct(",", "after the source register of addr_space_cast")?;
            let (dst_as, src_as) = address_spaces(cur)?;
            cur.expect_punct(")", "to close `addr_space_cast(`")?;
            if dst.w {
                return Err(cur.err_at(dst.col, "addr_space_cast writes a 64-bit register"));
            }
            Ok(Parsed::plain(Insn::AddrSpaceCast {
                dst: writable(cur, dst)?,
                src: src.reg,
                dst_as,
                src_as,
            }))
        }
        _ => Err(rhs_error(cur)),
    }
}

fn rhs_error(cur: &Cursor<'_>) -> AsmError {
    cur.expected(
        "a value after `=`: a register, a number, a load such as *(u32 *)(r1 + 4), \
         a byte swap such as be16 r1, or a function such as atomic_fetch_add(...)",
    )
}

/// `dst_as, src_as` of an address-space cast; Linux defines (0, 1) and (1, 0).
pub(super) fn address_spaces(cur: &mut Cursor<'_>) -> R<(u16, u16)> {
    let col = cur.col();
    let dst_as = cur.ranged("an address space", 0, u16::MAX as i128)? as u16;
    cur.expect_punct(",", "between the two address spaces")?;
    let src_as = cur.ranged("an address space", 0, u16::MAX as i128)? as u16;
    if !matches!((dst_as, src_as), (0, 1) | (1, 0)) {
        return Err(cur.err_at(
            col,
            format!(
                "addr_space_cast converts between address spaces 0 and 1: (0, 1) or (1, 0), \
                 found ({dst_as}, {src_as})"
            ),
        ));
    }
    Ok((dst_as, src_as))
}

/// `dst = (s8)src`.
fn movsx(cur: &mut Cursor<'_>, dst: RegOp) -> R<Parsed> {
    cur.next();
    let col = cur.col();
    let op = match cur.peek().and_then(Token::ident) {
        Some("s8") => AluOp::MovSx8,
        Some("s16") => AluOp::MovSx16,
        Some("s32") => AluOp::MovSx32,
        _ => return Err(cur.expected("a sign-extending cast: (s8), (s16) or (s32)")),
    };
    cur.next();
    cur.expect_punct(")", "to close the cast")?;
    let src = cur.reg()?;
    same_width(cur, dst, src)?;
    if op == AluOp::MovSx32 && dst.w {
        return Err(cur.err_at(
            col,
            "(s32) sign extension exists only in 64-bit form: write r registers",
        ));
    }
    Ok(Parsed::plain(Insn::Alu {
        width: dst.width(),
        op,
        dst: writable(cur, dst)?,
        src: Operand::Reg(src.reg),
    }))
}

/// `dst = *(u32 *)(src + off)` or a packet load `r0 = *(u8 *)skb[...]` (after the `*`).
fn load(cur: &mut Cursor<'_>, dst: RegOp) -> R<Parsed> {
    let t = mem_type(cur)?;
    if cur.eat_ident("skb") {
        return packet(cur, dst, t);
    }
    let (src, off) = mem(cur)?;
    if t.signed && t.size == Size::DW {
        return Err(cur.err_at(t.col, "there is no sign-extending 8-byte load: use u64"));
    }
    value_reg(cur, dst, t.size)?;
    Ok(Parsed::plain(Insn::Load {
        size: t.size,
        sign_extend: t.signed,
        dst: writable(cur, dst)?,
        src,
        off,
    }))
}

/// `r0 = *(u16 *)skb[12]`, `r0 = *(u16 *)skb[r1 + 4]` (after `skb`).
fn packet(cur: &mut Cursor<'_>, dst: RegOp, t: MemType) -> R<Parsed> {
    if dst.reg != Reg::R0 {
        return Err(cur.err_at(
            dst.col,
            format!("packet loads always write r0, not {}", dst.name()),
        ));
    }
    if t.signed || t.size == Size::DW {
        return Err(cur.err_at(
            t.col,
            format!("packet loads take u8, u16 or u32, found `{}`", t.name()),
        ));
    }
    cur.expect_punct("[", "after `skb`")?;
    let (mode, imm) = if cur.at_register() {
        let r = cur.reg64()?;
        let imm = if cur.peek_punct("+") || cur.peek_punct("-") {
            cur.imm32("an offset")?
        } else {
            0
        };
        (PacketMode::Ind(r.reg), imm)
    } else {
        (PacketMode::Abs, cur.imm32("a packet offset")?)
    };
    cur.expect_punct("]", "to close `skb[`")?;
    Ok(Parsed::plain(Insn::LoadPacket {
        mode,
        size: t.size,
        imm,
    }))
}

/// `dst = 5`, `dst = -1`, `dst = 0x1122334455667788 ll`.
fn immediate(cur: &mut Cursor<'_>, dst: RegOp) -> R<Parsed> {
    let (v, col) = cur.signed("an immediate")?;
    let lddw = |cur: &Cursor<'_>| -> R<Parsed> {
        if dst.w {
            return Err(cur.err_at(
                dst.col,
                format!("lddw loads a 64-bit register: write r{}", dst.reg.num()),
            ));
        }
        let value = imm64_of(v)
            .ok_or_else(|| cur.err_at(col, format!("immediate {v} does not fit in 64 bits")))?;
        Ok(Parsed::plain(Insn::LoadImm64 {
            dst: writable(cur, dst)?,
            value: LoadImm64::Imm(value),
        }))
    };
    // The verifier log prints lddw without `ll`, but with its opcode.
    if cur.eat_ident("ll") || cur.kernel_opcode == Some(crate::opcode::LDDW) {
        return lddw(cur);
    }
    match imm32_of(v) {
        Some(imm) => Ok(Parsed::plain(Insn::Alu {
            width: dst.width(),
            op: AluOp::Mov,
            dst: writable(cur, dst)?,
            src: Operand::Imm(imm),
        })),
        // The verifier log prints lddw without `ll`.
        None if !dst.w => lddw(cur),
        None => Err(cur.err_at(
            col,
            format!("immediate {v} does not fit in 32 bits (allowed: -2147483648 to 4294967295)"),
        )),
    }
}

fn endian_word(w: &str) -> Option<(ByteOrder, u8)> {
    let (order, bits) = if let Some(b) = w.strip_prefix("bswap") {
        (ByteOrder::Swap, b)
    } else if let Some(b) = w.strip_prefix("be") {
        (ByteOrder::ToBe, b)
    } else if let Some(b) = w.strip_prefix("le") {
        (ByteOrder::ToLe, b)
    } else {
        return None;
    };
    match bits {
        "16" => Some((order, 16)),
        "32" => Some((order, 32)),
        "64" => Some((order, 64)),
        _ => None,
    }
}

#[derive(Clone, Copy)]
enum AtomicKind {
    Fetch(AtomicOp),
    Xchg,
    CmpXchg,
}

/// Atomic function names (LLVM and verifier log) with the size their name implies.
fn atomic_word(w: &str) -> Option<(AtomicKind, Option<Size>)> {
    let fetch = |rest: &str| -> Option<AtomicKind> {
        Some(AtomicKind::Fetch(match rest {
            "add" => AtomicOp::Add { fetch: true },
            "or" => AtomicOp::Or { fetch: true },
            "and" => AtomicOp::And { fetch: true },
            "xor" => AtomicOp::Xor { fetch: true },
            _ => return None,
        }))
    };
    if let Some(rest) = w.strip_prefix("atomic_fetch_") {
        return Some((fetch(rest)?, None));
    }
    if let Some(rest) = w.strip_prefix("atomic64_fetch_") {
        return Some((fetch(rest)?, Some(Size::DW)));
    }
    Some(match w {
        "xchg_64" | "atomic64_xchg" => (AtomicKind::Xchg, Some(Size::DW)),
        "xchg32_32" => (AtomicKind::Xchg, Some(Size::W)),
        "atomic_xchg" => (AtomicKind::Xchg, None),
        "cmpxchg_64" | "atomic64_cmpxchg" => (AtomicKind::CmpXchg, Some(Size::DW)),
        "cmpxchg32_32" => (AtomicKind::CmpXchg, Some(Size::W)),
        "atomic_cmpxchg" => (AtomicKind::CmpXchg, None),
        _ => return None,
    })
}

/// `dst = atomic_fetch_add((u64 *)(r10 - 8), dst)`, `dst = xchg_64(r10 - 8, dst)`,
/// `r0 = cmpxchg_64(r10 - 8, r0, src)` and the verifier log's spellings (after the name).
fn atomic_fn(
    cur: &mut Cursor<'_>,
    lhs: RegOp,
    name: &str,
    kind: AtomicKind,
    implied: Option<Size>,
) -> R<Parsed> {
    cur.expect_punct("(", &format!("after `{name}`"))?;
    let col = cur.col();
    let (size, addr, off) = if cur.peek_punct("(") {
        let (t, reg, off) = typed_mem(cur)?;
        rmw_size(cur, t)?;
        if implied.is_some_and(|s| s != t.size) {
            return Err(cur.err_at(
                t.col,
                format!(
                    "`{name}` works on {}-byte values, but the type is `{}`",
                    implied.map_or(0, Size::bytes),
                    t.name()
                ),
            ));
        }
        (t.size, reg, off)
    } else {
        let (reg, off) = address(cur)?;
        let Some(size) = implied else {
            return Err(cur.err_at(
                col,
                format!("give `{name}` the operand size: write `{name}((u64 *)(r10 - 8), ...)`"),
            ));
        };
        (size, reg, off)
    };
    cur.expect_punct(",", "after the address")?;
    let (op, src) = match kind {
        AtomicKind::Fetch(_) | AtomicKind::Xchg => {
            let v = cur.reg()?;
            value_reg(cur, v, size)?;
            if v.reg != lhs.reg {
                return Err(cur.err_at(
                    lhs.col,
                    format!(
                        "`{name}` puts the old value into its value register: write `{} = {name}(..., {})`",
                        v.name(),
                        v.name()
                    ),
                ));
            }
            let op = match kind {
                AtomicKind::Fetch(op) => op,
                _ => AtomicOp::Xchg,
            };
            (op, writable(cur, lhs)?)
        }
        AtomicKind::CmpXchg => {
            let r0 = cur.reg()?;
            if r0.reg != Reg::R0 {
                return Err(cur.err_at(
                    r0.col,
                    format!("cmpxchg always compares with r0: write `{name}(..., r0, ...)`"),
                ));
            }
            if lhs.reg != Reg::R0 {
                return Err(cur.err_at(
                    lhs.col,
                    format!(
                        "cmpxchg always writes the old value into r0: write `r0 = {name}(...)`"
                    ),
                ));
            }
            cur.expect_punct(",", "after r0")?;
            let v = cur.reg()?;
            value_reg(cur, v, size)?;
            (AtomicOp::CmpXchg, v.reg)
        }
    };
    cur.expect_punct(")", &format!("to close `{name}(`"))?;
    Ok(Parsed::plain(Insn::Atomic {
        size,
        op,
        dst: addr,
        src,
        off,
    }))
}
