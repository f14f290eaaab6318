//! The disassembler: a [`Program`] (or one [`Insn`]) to text.
//!
//! LLVM syntax follows what `llvm-objdump -d` prints (decimal immediates, as LLVM 14 does;
//! the instructions LLVM 14 cannot print use the spelling of newer LLVM or, where LLVM has
//! none, the forms documented in [`crate::asm`]). Conformance syntax follows the
//! bpf_conformance suite. Whatever the options, [`crate::assemble`] reads the text back
//! into the same program.

use crate::helpers::helper_name;
use crate::insn::*;
use crate::program::Program;
use crate::Syntax;
use std::collections::BTreeMap;
use std::fmt::Write;

/// How [`disassemble`] lays out a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DisasmOptions {
    pub syntax: Syntax,
    /// Print a label line before every branch target (`L0:` for jump targets, `F0:` for
    /// functions) and name the label at each branch: `goto +2 <L0>` in LLVM syntax,
    /// `ja L0` in conformance syntax.
    pub labels: bool,
    /// Start each instruction line with its slot number, as `llvm-objdump` does.
    pub slots: bool,
    /// Print each instruction's bytes before its text.
    pub raw_bytes: bool,
}

impl Default for DisasmOptions {
    /// LLVM syntax with labels, without slot numbers or bytes.
    fn default() -> DisasmOptions {
        DisasmOptions {
            syntax: Syntax::Llvm,
            labels: true,
            slots: false,
            raw_bytes: false,
        }
    }
}

/// One instruction as text, branch targets as relative slot offsets (`goto +2`).
pub fn format_insn(insn: &Insn, syntax: Syntax) -> String {
    let mut s = String::new();
    write_insn(&mut s, insn, syntax, None);
    s
}

/// The whole program as text, one instruction per line.
pub fn disassemble(prog: &Program, opts: &DisasmOptions) -> String {
    let labels = if opts.labels {
        label_names(prog)
    } else {
        BTreeMap::new()
    };
    let mut out = String::new();
    for (index, slot, insn) in prog.iter() {
        if let Some(name) = labels.get(&index) {
            let _ = writeln!(out, "{name}:");
        }
        if opts.slots {
            let _ = write!(out, "{slot:>8}:\t");
        }
        if opts.raw_bytes {
            let bytes: Vec<String> = insn.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
            let _ = write!(out, "{}\t", bytes.join(" "));
        }
        if opts.syntax == Syntax::Llvm && !opts.slots && !opts.raw_bytes {
            out.push('\t');
        }
        let target = prog
            .branch_target(index)
            .and_then(|t| labels.get(&t))
            .map(String::as_str);
        write_insn(&mut out, insn, opts.syntax, target);
        if opts.syntax == Syntax::Llvm {
            if let Insn::Call(CallTarget::Helper(id)) = insn {
                if let Some(name) = u32::try_from(*id).ok().and_then(helper_name) {
                    let _ = write!(out, " ; {name}");
                }
            }
        }
        out.push('\n');
    }
    out
}

/// Label names by instruction index: `F<n>` for call and code-address targets, `L<n>` for
/// the other branch targets, numbered in program order.
fn label_names(prog: &Program) -> BTreeMap<usize, String> {
    let mut kinds: BTreeMap<usize, bool> = BTreeMap::new();
    for (index, _, insn) in prog.iter() {
        if let Some(t) = prog.branch_target(index) {
            let function = matches!(
                insn,
                Insn::Call(_)
                    | Insn::LoadImm64 {
                        value: LoadImm64::CodeAddr(_),
                        ..
                    }
            );
            *kinds.entry(t).or_insert(false) |= function;
        }
    }
    let (mut f, mut l) = (0, 0);
    kinds
        .into_iter()
        .map(|(index, function)| {
            let name = if function {
                f += 1;
                format!("F{}", f - 1)
            } else {
                l += 1;
                format!("L{}", l - 1)
            };
            (index, name)
        })
        .collect()
}

fn write_insn(out: &mut String, insn: &Insn, syntax: Syntax, target: Option<&str>) {
    // Writing to a `String` cannot fail.
    let _ = match syntax {
        Syntax::Llvm => llvm(out, insn, target),
        Syntax::Conformance => conformance(out, insn, target),
    };
}

fn size_type(size: Size) -> &'static str {
    match size {
        Size::B => "u8",
        Size::H => "u16",
        Size::W => "u32",
        Size::DW => "u64",
    }
}

/// `+ 4` / `- 4` after a base register (LLVM spacing).
fn disp(off: i64) -> String {
    if off < 0 {
        format!("- {}", -off)
    } else {
        format!("+ {off}")
    }
}

fn llvm_reg(r: Reg, w: bool) -> String {
    format!("{}{}", if w { 'w' } else { 'r' }, r.num())
}

fn llvm(out: &mut String, insn: &Insn, target: Option<&str>) -> std::fmt::Result {
    // ` <L0>` after a branch operand.
    let note = target.map(|t| format!(" <{t}>")).unwrap_or_default();
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let w = width == Width::W32;
            let d = llvm_reg(dst, w);
            let s = match src {
                Operand::Reg(r) => llvm_reg(r, w),
                Operand::Imm(i) => i.to_string(),
            };
            let sym = match op {
                AluOp::Add => "+=",
                AluOp::Sub => "-=",
                AluOp::Mul => "*=",
                AluOp::Div => "/=",
                AluOp::SDiv => "s/=",
                AluOp::Or => "|=",
                AluOp::And => "&=",
                AluOp::Lsh => "<<=",
                AluOp::Rsh => ">>=",
                AluOp::Mod => "%=",
                AluOp::SMod => "s%=",
                AluOp::Xor => "^=",
                AluOp::Arsh => "s>>=",
                AluOp::Mov => "=",
                AluOp::MovSx8 => return write!(out, "{d} = (s8){s}"),
                AluOp::MovSx16 => return write!(out, "{d} = (s16){s}"),
                AluOp::MovSx32 => return write!(out, "{d} = (s32){s}"),
            };
            write!(out, "{d} {sym} {s}")
        }
        Insn::Neg { width, dst } => {
            let d = llvm_reg(dst, width == Width::W32);
            write!(out, "{d} = -{d}")
        }
        Insn::Endian { order, bits, dst } => {
            let name = match order {
                ByteOrder::ToLe => "le",
                ByteOrder::ToBe => "be",
                ByteOrder::Swap => "bswap",
            };
            write!(out, "{dst} = {name}{bits} {dst}")
        }
        Insn::AddrSpaceCast {
            dst,
            src,
            dst_as,
            src_as,
        } => write!(out, "{dst} = addr_space_cast({src}, {dst_as}, {src_as})"),
        Insn::Load {
            size,
            sign_extend,
            dst,
            src,
            off,
        } => {
            let ty = if sign_extend {
                size_type(size).replace('u', "s")
            } else {
                size_type(size).to_string()
            };
            write!(out, "{dst} = *({ty} *)({src} {})", disp(off as i64))
        }
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => {
            let v = match src {
                Operand::Reg(r) => r.to_string(),
                Operand::Imm(i) => i.to_string(),
            };
            write!(
                out,
                "*({} *)({dst} {}) = {v}",
                size_type(size),
                disp(off as i64)
            )
        }
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => {
            let w = size != Size::DW;
            let ty = size_type(size);
            let addr = format!("{dst} {}", disp(off as i64));
            let s = llvm_reg(src, w);
            match op {
                AtomicOp::Add { fetch: false } => write!(out, "lock *({ty} *)({addr}) += {s}"),
                AtomicOp::Or { fetch: false } => write!(out, "lock *({ty} *)({addr}) |= {s}"),
                AtomicOp::And { fetch: false } => write!(out, "lock *({ty} *)({addr}) &= {s}"),
                AtomicOp::Xor { fetch: false } => write!(out, "lock *({ty} *)({addr}) ^= {s}"),
                AtomicOp::Add { fetch: true } => {
                    write!(out, "{s} = atomic_fetch_add(({ty} *)({addr}), {s})")
                }
                AtomicOp::Or { fetch: true } => {
                    write!(out, "{s} = atomic_fetch_or(({ty} *)({addr}), {s})")
                }
                AtomicOp::And { fetch: true } => {
                    write!(out, "{s} = atomic_fetch_and(({ty} *)({addr}), {s})")
                }
                AtomicOp::Xor { fetch: true } => {
                    write!(out, "{s} = atomic_fetch_xor(({ty} *)({addr}), {s})")
                }
                AtomicOp::Xchg if size == Size::DW => write!(out, "{s} = xchg_64({addr}, {s})"),
                AtomicOp::Xchg if size == Size::W => write!(out, "{s} = xchg32_32({addr}, {s})"),
                AtomicOp::Xchg => write!(out, "{s} = atomic_xchg(({ty} *)({addr}), {s})"),
                AtomicOp::CmpXchg if size == Size::DW => {
                    write!(out, "r0 = cmpxchg_64({addr}, r0, {s})")
                }
                AtomicOp::CmpXchg if size == Size::W => {
                    write!(out, "w0 = cmpxchg32_32({addr}, w0, {s})")
                }
                AtomicOp::CmpXchg => {
                    write!(out, "r0 = atomic_cmpxchg(({ty} *)({addr}), r0, {s})")
                }
                AtomicOp::LoadAcquire => write!(
                    out,
                    "{} = load_acquire(({ty} *)({}))",
                    llvm_reg(dst, w),
                    format_args!("{src} {}", disp(off as i64))
                ),
                AtomicOp::StoreRelease => {
                    write!(out, "store_release(({ty} *)({addr}), {s})")
                }
            }
        }
        Insn::LoadImm64 { dst, value } => match value {
            LoadImm64::Imm(v) => write!(out, "{dst} = {} ll", v as i64),
            LoadImm64::MapFd(fd) => write!(out, "{dst} = map_fd({fd}) ll"),
            LoadImm64::MapValue { fd, offset } => {
                write!(out, "{dst} = map_value({fd}, {offset}) ll")
            }
            LoadImm64::VariableAddr { btf_id, btf_fd } => {
                write!(out, "{dst} = btf_var({btf_id}, {btf_fd}) ll")
            }
            LoadImm64::CodeAddr(off) => write!(out, "{dst} = func(pc{off:+}) ll{note}"),
            LoadImm64::MapIdx(i) => write!(out, "{dst} = map_idx({i}) ll"),
            LoadImm64::MapIdxValue { idx, offset } => {
                write!(out, "{dst} = map_idx_value({idx}, {offset}) ll")
            }
        },
        Insn::LoadPacket { mode, size, imm } => {
            let ty = size_type(size);
            match mode {
                PacketMode::Abs => write!(out, "r0 = *({ty} *)skb[{imm}]"),
                PacketMode::Ind(r) if imm == 0 => write!(out, "r0 = *({ty} *)skb[{r}]"),
                PacketMode::Ind(r) => {
                    write!(out, "r0 = *({ty} *)skb[{r} {}]", disp(imm as i64))
                }
            }
        }
        Insn::Ja { off, long } => {
            let kw = if long { "gotol" } else { "goto" };
            write!(out, "{kw} {off:+}{note}")
        }
        Insn::Jump {
            width,
            op,
            dst,
            src,
            off,
        } => {
            let w = width == Width::W32;
            let s = match src {
                Operand::Reg(r) => llvm_reg(r, w),
                Operand::Imm(i) => i.to_string(),
            };
            let sym = match op {
                JmpOp::Eq => "==",
                JmpOp::Ne => "!=",
                JmpOp::Gt => ">",
                JmpOp::Ge => ">=",
                JmpOp::Lt => "<",
                JmpOp::Le => "<=",
                JmpOp::Sgt => "s>",
                JmpOp::Sge => "s>=",
                JmpOp::Slt => "s<",
                JmpOp::Sle => "s<=",
                JmpOp::Set => "&",
            };
            write!(out, "if {} {sym} {s} goto {off:+}{note}", llvm_reg(dst, w))
        }
        Insn::MayGoto { off } => write!(out, "may_goto {off:+}{note}"),
        Insn::Call(t) => match t {
            CallTarget::Helper(id) => write!(out, "call {id}"),
            CallTarget::Local(off) => write!(out, "call pc{off:+}{note}"),
            CallTarget::External { id, module: 0 } => write!(out, "call kfunc({id})"),
            CallTarget::External { id, module } => write!(out, "call kfunc({id}, {module})"),
        },
        Insn::CallX { reg } => write!(out, "callx {reg}"),
        Insn::Exit => write!(out, "exit"),
    }
}

fn size_suffix(size: Size) -> &'static str {
    match size {
        Size::B => "b",
        Size::H => "h",
        Size::W => "w",
        Size::DW => "dw",
    }
}

/// `[%r1+4]`, `[%r1-4]`, `[%r1]`.
fn cmem(r: Reg, off: i16) -> String {
    match off {
        0 => format!("[%{r}]"),
        o if o < 0 => format!("[%{r}{o}]"),
        o => format!("[%{r}+{o}]"),
    }
}

fn conformance(out: &mut String, insn: &Insn, target: Option<&str>) -> std::fmt::Result {
    // A branch target: the label when there is one, else the signed offset.
    let tgt = |off: i64| target.map_or_else(|| format!("{off:+}"), str::to_string);
    let sfx = |w: Width| if w == Width::W32 { "32" } else { "" };
    let operand = |o: Operand| match o {
        Operand::Reg(r) => format!("%{r}"),
        Operand::Imm(i) => i.to_string(),
    };
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let name = match op {
                AluOp::Add => "add",
                AluOp::Sub => "sub",
                AluOp::Mul => "mul",
                AluOp::Div => "div",
                AluOp::SDiv => "sdiv",
                AluOp::Or => "or",
                AluOp::And => "and",
                AluOp::Lsh => "lsh",
                AluOp::Rsh => "rsh",
                AluOp::Mod => "mod",
                AluOp::SMod => "smod",
                AluOp::Xor => "xor",
                AluOp::Mov => "mov",
                AluOp::Arsh => "arsh",
                AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 => {
                    let from = match op {
                        AluOp::MovSx8 => 8,
                        AluOp::MovSx16 => 16,
                        _ => 32,
                    };
                    let to = if width == Width::W32 { 32 } else { 64 };
                    return write!(out, "movsx{from}{to} %{dst}, {}", operand(src));
                }
            };
            write!(out, "{name}{} %{dst}, {}", sfx(width), operand(src))
        }
        Insn::Neg { width, dst } => write!(out, "neg{} %{dst}", sfx(width)),
        Insn::Endian { order, bits, dst } => {
            let name = match order {
                ByteOrder::ToLe => "le",
                ByteOrder::ToBe => "be",
                ByteOrder::Swap => "bswap",
            };
            write!(out, "{name}{bits} %{dst}")
        }
        Insn::AddrSpaceCast {
            dst,
            src,
            dst_as,
            src_as,
        } => write!(out, "addr_space_cast %{dst}, %{src}, {dst_as}, {src_as}"),
        Insn::Load {
            size,
            sign_extend,
            dst,
            src,
            off,
        } => write!(
            out,
            "ldx{}{} %{dst}, {}",
            if sign_extend { "s" } else { "" },
            size_suffix(size),
            cmem(src, off)
        ),
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => match src {
            Operand::Reg(r) => write!(out, "stx{} {}, %{r}", size_suffix(size), cmem(dst, off)),
            Operand::Imm(i) => write!(out, "st{} {}, {i}", size_suffix(size), cmem(dst, off)),
        },
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => {
            let m = cmem(dst, off);
            let w = match size {
                Size::DW => String::new(),
                s => (s.bytes() * 8).to_string(),
            };
            let (name, fetch) = match op {
                AtomicOp::Add { fetch } => ("add", fetch),
                AtomicOp::Or { fetch } => ("or", fetch),
                AtomicOp::And { fetch } => ("and", fetch),
                AtomicOp::Xor { fetch } => ("xor", fetch),
                AtomicOp::Xchg => ("xchg", false),
                AtomicOp::CmpXchg => ("cmpxchg", false),
                AtomicOp::LoadAcquire => {
                    return write!(out, "ldacq{} %{dst}, {}", size_suffix(size), cmem(src, off))
                }
                AtomicOp::StoreRelease => {
                    return write!(out, "strel{} {m}, %{src}", size_suffix(size))
                }
            };
            let f = if fetch { "fetch " } else { "" };
            write!(out, "lock {f}{name}{w} {m}, %{src}")
        }
        Insn::LoadImm64 { dst, value } => match value {
            LoadImm64::Imm(v) => write!(out, "lddw %{dst}, {v:#x}"),
            LoadImm64::MapFd(fd) => write!(out, "lddw %{dst}, map_fd({fd})"),
            LoadImm64::MapValue { fd, offset } => {
                write!(out, "lddw %{dst}, map_value({fd}, {offset})")
            }
            LoadImm64::VariableAddr { btf_id, btf_fd } => {
                write!(out, "lddw %{dst}, btf_var({btf_id}, {btf_fd})")
            }
            LoadImm64::CodeAddr(off) => write!(out, "lddw %{dst}, func({})", tgt(off as i64)),
            LoadImm64::MapIdx(i) => write!(out, "lddw %{dst}, map_idx({i})"),
            LoadImm64::MapIdxValue { idx, offset } => {
                write!(out, "lddw %{dst}, map_idx_value({idx}, {offset})")
            }
        },
        Insn::LoadPacket { mode, size, imm } => match mode {
            PacketMode::Abs => write!(out, "ldabs{} {imm}", size_suffix(size)),
            PacketMode::Ind(r) => write!(out, "ldind{} %{r}, {imm}", size_suffix(size)),
        },
        Insn::Ja { off, long } => {
            write!(
                out,
                "ja{} {}",
                if long { "32" } else { "" },
                tgt(off as i64)
            )
        }
        Insn::Jump {
            width,
            op,
            dst,
            src,
            off,
        } => {
            let name = match op {
                JmpOp::Eq => "jeq",
                JmpOp::Ne => "jne",
                JmpOp::Gt => "jgt",
                JmpOp::Ge => "jge",
                JmpOp::Lt => "jlt",
                JmpOp::Le => "jle",
                JmpOp::Sgt => "jsgt",
                JmpOp::Sge => "jsge",
                JmpOp::Slt => "jslt",
                JmpOp::Sle => "jsle",
                JmpOp::Set => "jset",
            };
            write!(
                out,
                "{name}{} %{dst}, {}, {}",
                sfx(width),
                operand(src),
                tgt(off as i64)
            )
        }
        Insn::MayGoto { off } => write!(out, "may_goto {}", tgt(off as i64)),
        Insn::Call(t) => match t {
            CallTarget::Helper(id) => write!(out, "call {id}"),
            CallTarget::Local(off) => write!(out, "call local {}", tgt(off as i64)),
            CallTarget::External { id, module: 0 } => write!(out, "call runtime {id}"),
            CallTarget::External { id, module } => write!(out, "call runtime {id}, {module}"),
        },
        Insn::CallX { reg } => write!(out, "call %{reg}"),
        Insn::Exit => write!(out, "exit"),
    }
}
