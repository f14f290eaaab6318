//! The assembler: eBPF assembly text to a [`Program`].
//!
//! [`assemble`] reads two syntaxes, detected line by line, so that both may be mixed in one
//! file:
//!
//! - **LLVM syntax**, as `llvm-objdump -d` prints it (LLVM 14 and newer, decimal or
//!   hexadecimal immediates) and as the Linux verifier log prints instructions:
//!   `r0 = 1`, `w1 += w2`, `r0 = *(u32 *)(r1 + 4)`, `if r1 > 5 goto +2`, `call 1`, `exit`.
//! - **Conformance syntax**, the uBPF-style text of the bpf_conformance suite:
//!   `mov %r0, 1`, `ldxw %r0, [%r1+4]`, `jeq %r1, 0, label`, `lock fetch add [%r10-8], %r1`.
//!
//! # Lines
//!
//! Each line holds at most one instruction. Comments start with `;`, `//` or `#` and run to
//! the end of the line (a `#` between a name and a number, as in the verifier log's
//! `call bpf_map_lookup_elem#1`, is part of the instruction). Labels are an identifier and
//! a colon, alone on a line or before an instruction (`loop: r1 += 1`); `llvm-objdump`'s
//! `0000000000000040 <LBB0_3>:` header lines define labels too. What disassemblers print
//! around an instruction is skipped: a leading slot number (`12:`) and raw bytes (eight or
//! sixteen two-digit hex groups). The verifier log's opcode (`(b7)`) is checked against the
//! instruction, and makes `r1 = 0x1` a `lddw` when it says 0x18. A trailing
//! `<name>` after a jump, as `llvm-objdump` prints it, is an annotation: the numeric offset
//! decides the target, and when `name` is a label of the program the two must agree.
//!
//! Numbers are decimal or `0x` hexadecimal with an optional sign. 32-bit immediates take
//! any value from -2^31 to 2^32-1 (the upper half as a bit pattern: `0xffffffff` is -1),
//! 64-bit ones from -2^63 to 2^64-1; offsets are 16-bit signed. Registers are `r0`..`r10`,
//! with `w0`..`w10` for the 32-bit views in LLVM syntax and `%r0`..`%r10` in conformance
//! syntax (either spelling is accepted in both).
//!
//! Branch targets are a label, a signed slot offset (`+3`, `-2`) or the verifier log's
//! `pc+3`. Offsets count 8-byte slots from the slot after the instruction, as in the
//! encoding. In conformance syntax, the target `exit` names the first `exit` instruction
//! unless a label `exit` is defined (the suite's assembler does the same).
//!
//! # LLVM syntax
//!
//! | instruction | text |
//! |---|---|
//! | ALU (64 / 32-bit) | `r1 += r2`, `w1 -= 5`; operators `+= -= *= /= s/= %= s%= \|= &= ^= <<= >>= s>>=`; `r1 = r2`, `w1 = 7` |
//! | negation, sign-extending move | `r1 = -r1`, `r0 = (s8)r1`, `w0 = (s16)w1`, `r0 = (s32)r1` |
//! | byte swap | `r1 = be16 r1`, `r1 = le32 r1`, `r1 = bswap64 r1` |
//! | address-space cast | `r0 = addr_space_cast(r1, 0, 1)` |
//! | load / sign-extending load | `r0 = *(u32 *)(r1 + 4)`, `r0 = *(s16 *)(r1 - 2)` |
//! | store | `*(u64 *)(r10 - 8) = r1`, `*(u8 *)(r1 + 0) = 7` |
//! | atomics | `lock *(u64 *)(r10 - 8) += r1` (also `\|=`, `&=`, `^=`), `r0 = atomic_fetch_add((u64 *)(r10 - 8), r0)` (also `_or`, `_and`, `_xor`), `r1 = xchg_64(r10 - 8, r1)`, `r0 = cmpxchg_64(r10 - 8, r0, r1)`, `w1 = xchg32_32(...)`, `w0 = cmpxchg32_32(...)`; the verifier log's `atomic64_fetch_add((u64 *)(r10 -8), r1)`, `atomic_xchg(...)`, `atomic64_cmpxchg(...)` |
//! | load-acquire, store-release | `r0 = load_acquire((u64 *)(r1 + 0))`, `store_release((u32 *)(r1 + 0), w2)` |
//! | 64-bit immediate | `r0 = 0x1122334455667788 ll` (`ll` may be left out when the value does not fit 32 bits) |
//! | packet access | `r0 = *(u8 *)skb[12]`, `r0 = *(u16 *)skb[r1 + 4]` |
//! | jumps | `goto +2`, `goto label`, `gotol +70000`, `if r1 > 0x5 goto +2`, `if w1 s< w2 goto label`, `if r1 & 4 goto ...`, `may_goto +3` |
//! | calls | `call 6`, `call bpf_map_lookup_elem`, `call map_lookup_elem`, `call label` / `call local label` / `call pc+5` (bpf-to-bpf), `call kfunc(1234)`, `call kfunc(1234, 2)` (external function, BTF module 2), `callx r2` |
//! | exit | `exit` |
//!
//! # Conformance syntax
//!
//! | instruction | text |
//! |---|---|
//! | ALU | `add %r1, %r2`, `add32 %r1, 5`; `add sub mul div sdiv mod smod or and xor lsh rsh arsh mov`, each with a `32` form |
//! | negation, sign-extending move | `neg %r1`, `neg32 %r1`, `movsx864`, `movsx1664`, `movsx3264`, `movsx832`, `movsx1632` (`movsx<from><width> %dst, %src`) |
//! | byte swap | `le16 %r1`, `be32 %r1`, `bswap64 %r1` (`swap64` too) |
//! | address-space cast | `addr_space_cast %r0, %r1, 0, 1` |
//! | load / sign-extending load | `ldxb ldxh ldxw ldxdw`, `ldxsb ldxsh ldxsw`: `ldxw %r0, [%r1+4]` |
//! | store | `stxdw [%r10-8], %r1`, `stw [%r1+2], 0x1` |
//! | atomics | `lock add [%r10-8], %r1`, `lock fetch or32 [%r10-4], %r1`, `lock xchg [...], %r1`, `lock cmpxchg32 [...], %r1` |
//! | load-acquire, store-release | `ldacqb ldacqh ldacqw ldacqdw %r0, [%r1+0]`, `strelb strelh strelw streldw [%r1+0], %r2` |
//! | 64-bit immediate | `lddw %r0, 0x1122334455667788` |
//! | packet access | `ldabsb 12`, `ldabsh`, `ldabsw`; `ldindh %r1, 4`, `ldindb`, `ldindw` |
//! | jumps | `ja label`, `ja +3`, `ja32 label` (32-bit offset), `jeq %r1, 0, label`; `jeq jne jgt jge jlt jle jsgt jsge jslt jsle jset`, each with a `32` form; `may_goto label` |
//! | calls | `call 5`, `call helper 5`, `call bpf_trace_printk`, `call local func`, `call local +5`, `call runtime 1234` (external function), `call %r2` (callx) |
//! | exit | `exit` |
//!
//! # Pseudo `lddw` sources
//!
//! A `lddw` whose `src` field is not 0 loads something the loader resolves: a map, the
//! address of a map value, of a kernel variable or of a function. There is no single
//! standard text for these, so both syntaxes write them as a function call in the
//! immediate's place:
//!
//! | `src` | meaning | LLVM syntax | conformance syntax |
//! |---|---|---|---|
//! | 1 `BPF_PSEUDO_MAP_FD` | map by file descriptor | `r1 = map_fd(3) ll` | `lddw %r1, map_fd(3)` |
//! | 2 `BPF_PSEUDO_MAP_VALUE` | address of byte 16 of map fd 3's value | `r1 = map_value(3, 16) ll` | `lddw %r1, map_value(3, 16)` |
//! | 3 `BPF_PSEUDO_BTF_ID` | kernel variable, BTF id 123 in BTF object fd 0 (vmlinux) | `r1 = btf_var(123, 0) ll` | `lddw %r1, btf_var(123, 0)` |
//! | 4 `BPF_PSEUDO_FUNC` | address of a function | `r1 = func(label) ll`, `r1 = func(pc+5) ll` | `lddw %r1, func(label)`, `lddw %r1, func(+5)` |
//! | 5 `BPF_PSEUDO_MAP_IDX` | map by index in the program's map table | `r1 = map_idx(0) ll` | `lddw %r1, map_idx(0)` |
//! | 6 `BPF_PSEUDO_MAP_IDX_VALUE` | address of byte 8 of map 0's value | `r1 = map_idx_value(0, 8) ll` | `lddw %r1, map_idx_value(0, 8)` |
//!
//! The `ll` is optional after these forms. LLVM's raw form `ld_pseudo r1, 1, 3` (source 1,
//! immediate 3, second-slot immediate 0) is accepted too. The verifier log's
//! `r1 = map[id:5]` is refused with an explanation: it names a kernel map id, which no
//! instruction can hold.
//!
//! # Errors
//!
//! Every error is an [`AsmError`] naming the line and column and saying what was expected,
//! e.g. `line 3, column 9: expected a register such as r1 or %r1, found `r11` (registers
//! are r0 to r10)`. Undefined and duplicate labels, branches too far for their offset field
//! (with the way out: `gotol`), immediates out of range and instructions the ISA does not
//! define are all reported; no input makes the assembler panic.

mod conformance;
pub(crate) mod cursor;
pub(crate) mod lexer;
mod llvm;

use crate::decode::DecodeErrorKind;
use crate::helpers::helper_id;
use crate::insn::*;
use crate::program::Program;
use cursor::{looks_like_register, Cursor};
use lexer::{Tok, Token};
use std::collections::HashMap;
use thiserror::Error;

pub use crate::Syntax;

/// An assembly error: where (1-based line and column, in characters) and what.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}, column {column}: {message}")]
pub struct AsmError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl AsmError {
    pub(crate) fn new(line: usize, column: usize, message: impl Into<String>) -> AsmError {
        AsmError {
            line,
            column,
            message: message.into(),
        }
    }
}

/// Where a branch, call or code-address load goes, before labels are known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A slot offset as written (`+3`, `pc-2`).
    Offset(i128),
    /// A label.
    Label(String),
    /// `call name`: a label of the program if there is one, else a helper name.
    CallName(String),
}

/// One parsed instruction. Branch offsets in `insn` are placeholders until `target` is
/// resolved.
#[derive(Clone, Debug)]
pub(crate) struct Parsed {
    pub insn: Insn,
    pub target: Option<(Target, usize)>,
}

impl Parsed {
    pub(crate) fn plain(insn: Insn) -> Parsed {
        Parsed { insn, target: None }
    }

    pub(crate) fn with_target(insn: Insn, target: Target, col: usize) -> Parsed {
        Parsed {
            insn,
            target: Some((target, col)),
        }
    }
}

/// Assembles `text` (LLVM or conformance syntax, mixed freely) into a checked program.
///
/// ```
/// let p = oxbpf_isa::assemble("r0 = 1\nif r1 > 5 goto end\nr0 = 2\nend:\nexit").unwrap();
/// assert_eq!(p.len(), 4);
/// let e = oxbpf_isa::assemble("mov %r11, 1").unwrap_err();
/// assert_eq!(e.to_string(),
///     "line 1, column 5: expected a register such as r1 or %r1, found `%r11` (registers are r0 to r10)");
/// ```
pub fn assemble(text: &str) -> Result<Program, AsmError> {
    assemble_with_lines(text).map(|(p, _)| p)
}

/// [`assemble`], also returning the 1-based line of each instruction (by instruction
/// index), for tools that point back into the source.
pub fn assemble_with_lines(text: &str) -> Result<(Program, Vec<usize>), AsmError> {
    let mut asm = Assembler::default();
    let mut last_line = 0;
    for (i, line) in text.lines().enumerate() {
        asm.line(i + 1, line)?;
        last_line = i + 1;
    }
    let lines = asm.items.iter().map(|it| it.line).collect();
    asm.finish(last_line).map(|p| (p, lines))
}

/// An assembled instruction and where it came from.
struct Item {
    parsed: Parsed,
    line: usize,
    col: usize,
    slot: usize,
    annotation: Option<(String, usize)>,
}

struct LabelDef {
    slot: usize,
    line: usize,
}

#[derive(Default)]
struct Assembler {
    items: Vec<Item>,
    labels: HashMap<String, LabelDef>,
    /// Labels in definition order, for suggestions.
    label_names: Vec<String>,
    slots: usize,
    first_exit: Option<usize>,
}

impl Assembler {
    fn line(&mut self, line: usize, text: &str) -> Result<(), AsmError> {
        let prepared = lexer::prepare(text);
        if let Some((name, col)) = prepared.header_label {
            self.define(&name, line, col)?;
            return Ok(());
        }
        directive(&prepared.chars, line)?;
        let toks = lexer::tokenize(&prepared.chars, line)?;
        let mut pos = 0;
        // Labels: `name:` (several may precede one instruction).
        while let (Some(t), Some(colon)) = (toks.get(pos), toks.get(pos + 1)) {
            let Tok::Ident(name) = &t.tok else { break };
            if !colon.is_punct(":") {
                break;
            }
            if name.starts_with('%') || !lexer::is_identifier(name) {
                return Err(AsmError::new(
                    line,
                    t.col,
                    format!("`{name}` is not a valid label name"),
                ));
            }
            self.define(name, line, t.col)?;
            pos += 2;
        }
        let rest = &toks[pos..];
        if rest.is_empty() {
            if let Some((name, col)) = prepared.annotation {
                return Err(AsmError::new(
                    line,
                    col,
                    format!("a target annotation `<{name}>` needs an instruction before it"),
                ));
            }
            return Ok(());
        }
        let mut cur = Cursor::new(rest, line, prepared.chars.len() + 1);
        cur.kernel_opcode = prepared.kernel_opcode.map(|k| k.0);
        let col = rest[0].col;
        let parsed = parse_instruction(&mut cur)?;
        cur.finish()?;
        if let Some((op, op_col)) = prepared.kernel_opcode {
            let encoded = parsed.insn.encode().0.opcode;
            if encoded != op {
                return Err(AsmError::new(
                    line,
                    op_col,
                    format!(
                        "the opcode in parentheses is 0x{op:02x}, but the instruction encodes \
                         as 0x{encoded:02x}"
                    ),
                ));
            }
        }
        if parsed.insn == Insn::Exit && self.first_exit.is_none() {
            self.first_exit = Some(self.slots);
        }
        let slot = self.slots;
        self.slots += parsed.insn.slots();
        self.items.push(Item {
            parsed,
            line,
            col,
            slot,
            annotation: prepared.annotation,
        });
        Ok(())
    }

    fn define(&mut self, name: &str, line: usize, col: usize) -> Result<(), AsmError> {
        if looks_like_register(name) {
            return Err(AsmError::new(
                line,
                col,
                format!("`{name}` is a register name and cannot be a label"),
            ));
        }
        if let Some(prev) = self.labels.get(name) {
            return Err(AsmError::new(
                line,
                col,
                format!("label `{name}` is already defined on line {}", prev.line),
            ));
        }
        self.labels.insert(
            name.to_string(),
            LabelDef {
                slot: self.slots,
                line,
            },
        );
        self.label_names.push(name.to_string());
        Ok(())
    }

    /// The slot a label names, or an error naming the label.
    fn label_slot(&self, name: &str, line: usize, col: usize) -> Result<usize, AsmError> {
        let slot = match (self.labels.get(name), self.first_exit) {
            (Some(l), _) => l.slot,
            (None, Some(first_exit)) if name == "exit" => first_exit,
            _ => {
                let mut msg = format!("undefined label `{name}`");
                if let Some(s) = suggest(name, self.label_names.iter().map(String::as_str)) {
                    msg.push_str(&format!("; did you mean `{s}`?"));
                }
                return Err(AsmError::new(line, col, msg));
            }
        };
        if slot >= self.slots {
            return Err(AsmError::new(
                line,
                col,
                format!(
                    "label `{name}` is after the last instruction; a branch must land on an \
                     instruction"
                ),
            ));
        }
        Ok(slot)
    }

    fn finish(self, last_line: usize) -> Result<Program, AsmError> {
        if self.items.is_empty() {
            return Err(AsmError::new(
                last_line.max(1),
                1,
                "no instructions to assemble (the text is empty or has only labels and comments)",
            ));
        }
        let mut insns = Vec::with_capacity(self.items.len());
        for item in &self.items {
            let mut insn = item.parsed.insn;
            if let Some((target, col)) = &item.parsed.target {
                insn = self.resolve(item, insn, target, *col)?;
            }
            self.check_annotation(item, &insn)?;
            insns.push(insn);
        }
        Program::from_insns(insns).map_err(|e| {
            // `pc` is the slot of the offending instruction.
            let idx = self
                .items
                .partition_point(|it| it.slot < e.pc)
                .min(self.items.len() - 1);
            let item = &self.items[idx];
            let col = match e.kind {
                DecodeErrorKind::TargetOutOfRange { .. } | DecodeErrorKind::TargetInLddw { .. } => {
                    item.parsed.target.as_ref().map_or(item.col, |t| t.1)
                }
                _ => item.col,
            };
            AsmError::new(item.line, col, e.kind.to_string())
        })
    }

    fn resolve(
        &self,
        item: &Item,
        insn: Insn,
        target: &Target,
        col: usize,
    ) -> Result<Insn, AsmError> {
        let err = |msg: String| AsmError::new(item.line, col, msg);
        let (off, label) = match target {
            Target::Offset(v) => (*v, None),
            Target::Label(name) => {
                let slot = self.label_slot(name, item.line, col)?;
                (slot as i128 - item.slot as i128 - 1, Some(name.as_str()))
            }
            Target::CallName(name) => {
                if self.labels.contains_key(name) {
                    let slot = self.label_slot(name, item.line, col)?;
                    (slot as i128 - item.slot as i128 - 1, Some(name.as_str()))
                } else if let Some(id) = helper_id(name) {
                    return Ok(Insn::Call(CallTarget::Helper(id as i32)));
                } else {
                    let mut msg = format!(
                        "`{name}` is neither a label of this program nor a Linux helper name"
                    );
                    if let Some(s) = suggest(name, self.label_names.iter().map(String::as_str)) {
                        msg.push_str(&format!("; did you mean the label `{s}`?"));
                    } else if let Some(s) = suggest(name, crate::helpers::helpers().map(|(_, n)| n))
                    {
                        msg.push_str(&format!("; did you mean `{s}`?"));
                    }
                    return Err(err(msg));
                }
            }
        };
        let distance = match label {
            Some(l) => format!("`{l}` is {off:+} slots away"),
            None => format!("offset {off:+}"),
        };
        let fits16 = i16::try_from(off).is_ok();
        let off32 =
            i32::try_from(off).map_err(|_| err(format!("{distance}: does not fit in 32 bits")));
        Ok(match insn {
            Insn::Ja { long: false, .. } if !fits16 => {
                return Err(err(format!(
                    "{distance}, too far for the 16-bit offset of `goto`/`ja` (-32768 to +32767); \
                     use `gotol` (conformance syntax: `ja32`), whose offset has 32 bits"
                )))
            }
            Insn::Jump { .. } if !fits16 => {
                return Err(err(format!(
                    "{distance}, too far for the 16-bit offset of a conditional jump (-32768 to \
                     +32767); jump with the opposite condition over a `gotol` instead"
                )))
            }
            Insn::MayGoto { .. } if !fits16 => {
                return Err(err(format!(
                    "{distance}, too far for the 16-bit offset of `may_goto` (-32768 to +32767)"
                )))
            }
            Insn::Ja { long, .. } => Insn::Ja { off: off32?, long },
            Insn::Jump {
                width,
                op,
                dst,
                src,
                ..
            } => Insn::Jump {
                width,
                op,
                dst,
                src,
                off: off as i16,
            },
            Insn::MayGoto { .. } => Insn::MayGoto { off: off as i16 },
            Insn::Call(_) => Insn::Call(CallTarget::Local(off32?)),
            Insn::LoadImm64 { dst, .. } => Insn::LoadImm64 {
                dst,
                value: LoadImm64::CodeAddr(off32?),
            },
            other => other,
        })
    }

    /// A `<name>` annotation must agree with the offset when `name` is a label here.
    fn check_annotation(&self, item: &Item, insn: &Insn) -> Result<(), AsmError> {
        let (Some((name, col)), Some(off)) = (&item.annotation, insn.branch_offset()) else {
            return Ok(());
        };
        let Some(label) = self.labels.get(name) else {
            return Ok(());
        };
        let lands = item.slot as i64 + 1 + off;
        if lands != label.slot as i64 {
            return Err(AsmError::new(
                item.line,
                *col,
                format!(
                    "the offset {off:+} leads to slot {lands}, but the annotation `<{name}>` \
                     names label `{name}` at slot {} (line {}); fix the offset or write the \
                     label as the target",
                    label.slot, label.line
                ),
            ));
        }
        Ok(())
    }
}

/// Assembler directives (`.text`, `.globl f`) are refused with a clear message rather
/// than a confusing one about their characters. `.LBB0_1:` is a label, not a directive.
fn directive(chars: &[char], line: usize) -> Result<(), AsmError> {
    let Some(start) = chars.iter().position(|c| *c != ' ') else {
        return Ok(());
    };
    if chars[start] != '.' {
        return Ok(());
    }
    let end = start
        + chars[start..]
            .iter()
            .take_while(|c| lexer::is_ident_char(**c))
            .count();
    let next = chars[end..].iter().find(|c| **c != ' ');
    if next == Some(&':') {
        return Ok(());
    }
    let name: String = chars[start..end].iter().collect();
    Err(AsmError::new(
        line,
        start + 1,
        format!("assembler directive `{name}` is not supported: give instructions and labels only"),
    ))
}

/// Detects the syntax of an instruction from its first tokens and parses it.
fn parse_instruction(cur: &mut Cursor<'_>) -> Result<Parsed, AsmError> {
    let Some(first) = cur.peek() else {
        return Err(cur.expected("an instruction"));
    };
    match &first.tok {
        Tok::Punct("*") => llvm::parse(cur),
        Tok::Ident(word) => match word.as_str() {
            w if looks_like_register(w) => llvm::parse(cur),
            "if" | "goto" | "gotol" | "store_release" | "ld_pseudo" => llvm::parse(cur),
            "lock" if cur.peek_at(1).is_some_and(|t| t.is_punct("*")) => llvm::parse(cur),
            "exit" => {
                cur.next();
                Ok(Parsed::plain(Insn::Exit))
            }
            "call" => {
                cur.next();
                cur.call()
            }
            "callx" => {
                cur.next();
                let r = cur.reg64()?;
                Ok(Parsed::plain(Insn::CallX { reg: r.reg }))
            }
            "may_goto" => {
                cur.next();
                let (target, col) = cur.target()?;
                Ok(Parsed::with_target(Insn::MayGoto { off: 0 }, target, col))
            }
            _ => conformance::parse(cur),
        },
        _ => Err(unknown_instruction(cur.line, first)),
    }
}

/// Every instruction word either syntax starts a line with, for suggestions.
const FIRST_WORDS: &[&str] = &[
    "if",
    "goto",
    "gotol",
    "lock",
    "store_release",
    "ld_pseudo",
    "exit",
    "call",
    "callx",
    "may_goto",
    "mov",
    "mov32",
    "add",
    "add32",
    "sub",
    "sub32",
    "mul",
    "mul32",
    "div",
    "div32",
    "sdiv",
    "sdiv32",
    "mod",
    "mod32",
    "smod",
    "smod32",
    "or",
    "or32",
    "and",
    "and32",
    "xor",
    "xor32",
    "lsh",
    "lsh32",
    "rsh",
    "rsh32",
    "arsh",
    "arsh32",
    "neg",
    "neg32",
    "le16",
    "le32",
    "le64",
    "be16",
    "be32",
    "be64",
    "bswap16",
    "bswap32",
    "bswap64",
    "movsx864",
    "movsx1664",
    "movsx3264",
    "movsx832",
    "movsx1632",
    "ldxb",
    "ldxh",
    "ldxw",
    "ldxdw",
    "ldxsb",
    "ldxsh",
    "ldxsw",
    "stb",
    "sth",
    "stw",
    "stdw",
    "stxb",
    "stxh",
    "stxw",
    "stxdw",
    "lddw",
    "ldabsb",
    "ldabsh",
    "ldabsw",
    "ldindb",
    "ldindh",
    "ldindw",
    "ja",
    "ja32",
    "jeq",
    "jne",
    "jgt",
    "jge",
    "jlt",
    "jle",
    "jsgt",
    "jsge",
    "jslt",
    "jsle",
    "jset",
    "jeq32",
    "jne32",
    "jgt32",
    "jge32",
    "jlt32",
    "jle32",
    "jsgt32",
    "jsge32",
    "jslt32",
    "jsle32",
    "jset32",
    "ldacqb",
    "ldacqh",
    "ldacqw",
    "ldacqdw",
    "strelb",
    "strelh",
    "strelw",
    "streldw",
    "addr_space_cast",
];

pub(crate) fn unknown_instruction(line: usize, t: &Token) -> AsmError {
    let mut msg = format!("unknown instruction `{}`", t.text);
    if let Some(s) = suggest(&t.text, FIRST_WORDS.iter().copied()) {
        msg.push_str(&format!("; did you mean `{s}`?"));
    }
    AsmError::new(line, t.col, msg)
}

/// The candidate closest to `word` within a small edit distance, if any.
fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = if word.chars().count() <= 3 { 1 } else { 2 };
    candidates
        .map(|c| (edit_distance(&word.to_ascii_lowercase(), c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
