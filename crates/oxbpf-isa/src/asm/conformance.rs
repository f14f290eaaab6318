//! Conformance (uBPF) syntax: `mov %r0, 1`, `ldxw %r0, [%r1+4]`, `jeq %r1, 0, label`, ...

use super::cursor::{writable, Cursor, RegOp};
use super::lexer::Token;
use super::{unknown_instruction, AsmError, Parsed};
use crate::insn::*;

type R<T> = Result<T, AsmError>;

/// Parses one instruction in conformance syntax, starting at its mnemonic.
pub(super) fn parse(cur: &mut Cursor<'_>) -> R<Parsed> {
    let Some(tok) = cur.next() else {
        return Err(cur.expected("an instruction"));
    };
    let Some(m) = tok.ident() else {
        return Err(unknown_instruction(cur.line, tok));
    };
    if let Some(p) = special(cur, m)? {
        return Ok(p);
    }
    let (base, width) = match m.strip_suffix("32") {
        Some(b) => (b, Width::W32),
        None => (m, Width::W64),
    };
    if let Some(op) = alu_op(base) {
        let dst = reg(cur)?;
        comma(cur, "after the destination register")?;
        let src = operand(cur)?;
        return Ok(Parsed::plain(Insn::Alu {
            width,
            op,
            dst: writable(cur, dst)?,
            src,
        }));
    }
    if let Some(op) = jmp_op(base) {
        let dst = reg(cur)?;
        comma(cur, "after the register to compare")?;
        let src = operand(cur)?;
        comma(cur, "before the jump target")?;
        let (target, col) = cur.target()?;
        return Ok(Parsed::with_target(
            Insn::Jump {
                width,
                op,
                dst: dst.reg,
                src,
                off: 0,
            },
            target,
            col,
        ));
    }
    Err(unknown_instruction(cur.line, tok))
}

/// Everything that is not `<alu op>[32]` or `<jump op>[32]`.
fn special(cur: &mut Cursor<'_>, m: &str) -> R<Option<Parsed>> {
    let p = match m {
        "neg" | "neg32" => {
            let dst = reg(cur)?;
            Insn::Neg {
                width: if m == "neg" { Width::W64 } else { Width::W32 },
                dst: writable(cur, dst)?,
            }
        }
        "ja" | "ja32" => {
            let (target, col) = cur.target()?;
            return Ok(Some(Parsed::with_target(
                Insn::Ja {
                    off: 0,
                    long: m == "ja32",
                },
                target,
                col,
            )));
        }
        "lddw" => {
            let dst = reg(cur)?;
            let d = writable(cur, dst)?;
            comma(cur, "after the destination register")?;
            if let Some(p) = cur.pseudo_source(d)? {
                return Ok(Some(p));
            }
            Insn::LoadImm64 {
                dst: d,
                value: LoadImm64::Imm(cur.imm64("a 64-bit immediate")?),
            }
        }
        "lock" => atomic(cur)?,
        "addr_space_cast" => {
            let dst = reg(cur)?;
            comma(cur, "after the destination register")?;
            let src = reg(cur)?;
            comma(cur, "after the source register")?;
            let (dst_as, src_as) = super::llvm::address_spaces(cur)?;
            Insn::AddrSpaceCast {
                dst: writable(cur, dst)?,
                src: src.reg,
                dst_as,
                src_as,
            }
        }
        _ => {
            if let Some(insn) = sized(cur, m)? {
                insn
            } else {
                return Ok(None);
            }
        }
    };
    Ok(Some(Parsed::plain(p)))
}

/// Mnemonics that carry a size or bit count: byte swaps, sign-extending moves, loads,
/// stores, packet loads, load-acquire and store-release.
fn sized(cur: &mut Cursor<'_>, m: &str) -> R<Option<Insn>> {
    if let Some((order, bits)) = endian(m) {
        let dst = reg(cur)?;
        return Ok(Some(Insn::Endian {
            order,
            bits,
            dst: writable(cur, dst)?,
        }));
    }
    if let Some(rest) = m.strip_prefix("movsx") {
        let (op, width) = match rest {
            "864" => (AluOp::MovSx8, Width::W64),
            "1664" => (AluOp::MovSx16, Width::W64),
            "3264" => (AluOp::MovSx32, Width::W64),
            "832" => (AluOp::MovSx8, Width::W32),
            "1632" => (AluOp::MovSx16, Width::W32),
            _ => return Ok(None),
        };
        let dst = reg(cur)?;
        comma(cur, "after the destination register")?;
        let src = reg(cur)?;
        return Ok(Some(Insn::Alu {
            width,
            op,
            dst: writable(cur, dst)?,
            src: Operand::Reg(src.reg),
        }));
    }
    if let Some(s) = m.strip_prefix("ldxs").and_then(size_suffix) {
        if s == Size::DW {
            return Ok(None);
        }
        let (dst, src, off) = load_operands(cur)?;
        return Ok(Some(Insn::Load {
            size: s,
            sign_extend: true,
            dst,
            src,
            off,
        }));
    }
    if let Some(s) = m.strip_prefix("ldx").and_then(size_suffix) {
        let (dst, src, off) = load_operands(cur)?;
        return Ok(Some(Insn::Load {
            size: s,
            sign_extend: false,
            dst,
            src,
            off,
        }));
    }
    if let Some(s) = m.strip_prefix("ldacq").and_then(size_suffix) {
        let (dst, src, off) = load_operands(cur)?;
        return Ok(Some(Insn::Atomic {
            size: s,
            op: AtomicOp::LoadAcquire,
            dst,
            src,
            off,
        }));
    }
    if let Some(s) = m.strip_prefix("strel").and_then(size_suffix) {
        let (dst, off) = mem(cur)?;
        comma(cur, "after the memory operand")?;
        let src = reg(cur)?;
        return Ok(Some(Insn::Atomic {
            size: s,
            op: AtomicOp::StoreRelease,
            dst,
            src: src.reg,
            off,
        }));
    }
    if let Some(s) = m.strip_prefix("stx").and_then(size_suffix) {
        let (dst, off) = mem(cur)?;
        comma(cur, "after the memory operand")?;
        let src = reg(cur)?;
        return Ok(Some(Insn::Store {
            size: s,
            dst,
            off,
            src: Operand::Reg(src.reg),
        }));
    }
    if let Some(s) = m.strip_prefix("st").and_then(size_suffix) {
        let (dst, off) = mem(cur)?;
        comma(cur, "after the memory operand")?;
        let imm = cur.imm32("an immediate to store")?;
        return Ok(Some(Insn::Store {
            size: s,
            dst,
            off,
            src: Operand::Imm(imm),
        }));
    }
    if let Some(s) = m.strip_prefix("ldabs").and_then(size_suffix) {
        if s == Size::DW {
            return Ok(None);
        }
        let imm = cur.imm32("a packet offset")?;
        return Ok(Some(Insn::LoadPacket {
            mode: PacketMode::Abs,
            size: s,
            imm,
        }));
    }
    if let Some(s) = m.strip_prefix("ldind").and_then(size_suffix) {
        if s == Size::DW {
            return Ok(None);
        }
        let src = reg(cur)?;
        comma(cur, "after the offset register")?;
        let imm = cur.imm32("a packet offset")?;
        return Ok(Some(Insn::LoadPacket {
            mode: PacketMode::Ind(src.reg),
            size: s,
            imm,
        }));
    }
    Ok(None)
}

/// `lock [fetch] op[32] [dst+off], src` (after `lock`).
fn atomic(cur: &mut Cursor<'_>) -> R<Insn> {
    let fetch = cur.eat_ident("fetch");
    let col = cur.col();
    let Some(word) = cur.peek().and_then(Token::ident) else {
        return Err(cur.expected("an atomic operation: add, or, and, xor, xchg or cmpxchg"));
    };
    let (base, size) = match word.strip_suffix("32") {
        Some(b) => (b, Size::W),
        None => (word, Size::DW),
    };
    let op = match base {
        "add" => AtomicOp::Add { fetch },
        "or" => AtomicOp::Or { fetch },
        "and" => AtomicOp::And { fetch },
        "xor" => AtomicOp::Xor { fetch },
        // Both always fetch; a redundant `fetch` is accepted.
        "xchg" => AtomicOp::Xchg,
        "cmpxchg" => AtomicOp::CmpXchg,
        _ => {
            return Err(cur.err_at(
                col,
                format!(
                    "expected an atomic operation: add, or, and, xor, xchg or cmpxchg \
                     (with a 32 suffix for 32-bit), found `{word}`"
                ),
            ))
        }
    };
    cur.next();
    let (dst, off) = mem(cur)?;
    comma(cur, "after the memory operand")?;
    let src = reg(cur)?;
    let src_reg = if op.writes_register() && op != AtomicOp::CmpXchg {
        writable(cur, src)?
    } else {
        src.reg
    };
    Ok(Insn::Atomic {
        size,
        op,
        dst,
        src: src_reg,
        off,
    })
}

fn alu_op(base: &str) -> Option<AluOp> {
    Some(match base {
        "add" => AluOp::Add,
        "sub" => AluOp::Sub,
        "mul" => AluOp::Mul,
        "div" => AluOp::Div,
        "sdiv" => AluOp::SDiv,
        "or" => AluOp::Or,
        "and" => AluOp::And,
        "lsh" => AluOp::Lsh,
        "rsh" => AluOp::Rsh,
        "mod" => AluOp::Mod,
        "smod" => AluOp::SMod,
        "xor" => AluOp::Xor,
        "mov" => AluOp::Mov,
        "arsh" => AluOp::Arsh,
        _ => return None,
    })
}

fn jmp_op(base: &str) -> Option<JmpOp> {
    Some(match base {
        "jeq" => JmpOp::Eq,
        "jgt" => JmpOp::Gt,
        "jge" => JmpOp::Ge,
        "jset" => JmpOp::Set,
        "jne" => JmpOp::Ne,
        "jsgt" => JmpOp::Sgt,
        "jsge" => JmpOp::Sge,
        "jlt" => JmpOp::Lt,
        "jle" => JmpOp::Le,
        "jslt" => JmpOp::Slt,
        "jsle" => JmpOp::Sle,
        _ => return None,
    })
}

fn endian(m: &str) -> Option<(ByteOrder, u8)> {
    let (order, bits) = if let Some(b) = m.strip_prefix("bswap") {
        (ByteOrder::Swap, b)
    } else if let Some(b) = m.strip_prefix("swap") {
        (ByteOrder::Swap, b)
    } else if let Some(b) = m.strip_prefix("be") {
        (ByteOrder::ToBe, b)
    } else if let Some(b) = m.strip_prefix("le") {
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

fn size_suffix(s: &str) -> Option<Size> {
    Some(match s {
        "b" => Size::B,
        "h" => Size::H,
        "w" => Size::W,
        "dw" => Size::DW,
        _ => return None,
    })
}

fn reg(cur: &mut Cursor<'_>) -> R<RegOp> {
    cur.reg64()
}

fn comma(cur: &mut Cursor<'_>, context: &str) -> R<()> {
    cur.expect_punct(",", context)
}

/// A register or a 32-bit immediate.
fn operand(cur: &mut Cursor<'_>) -> R<Operand> {
    if cur.at_register() {
        return Ok(Operand::Reg(reg(cur)?.reg));
    }
    if cur.number_at(0) {
        return Ok(Operand::Imm(cur.imm32("an immediate")?));
    }
    Err(cur.expected("a register such as %r1 or an immediate"))
}

/// `[reg]`, `[reg+off]`, `[reg-off]`.
fn mem(cur: &mut Cursor<'_>) -> R<(Reg, i16)> {
    cur.expect_punct("[", "to start a memory operand such as [%r1+4]")?;
    let base = reg(cur)?;
    let off = cur.displacement()?;
    cur.expect_punct("]", "to close the memory operand")?;
    Ok((base.reg, off))
}

/// `%dst, [%src+off]` of loads.
fn load_operands(cur: &mut Cursor<'_>) -> R<(Reg, Reg, i16)> {
    let dst = reg(cur)?;
    let d = writable(cur, dst)?;
    comma(cur, "after the destination register")?;
    let (src, off) = mem(cur)?;
    Ok((d, src, off))
}
