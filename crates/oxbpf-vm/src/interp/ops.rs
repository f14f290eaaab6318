//! The interpreter's pre-decoded instruction form and the translation from [`Program`].
//!
//! Each [`Insn`] becomes one 16-byte [`Op`]: a specialised [`Code`] (operation, width and
//! operand kind folded into one byte so the dispatch loop needs a single `match`), register
//! numbers, and pre-computed operands: immediates already sign-extended (64-bit forms) or
//! truncated (32-bit forms), shift counts already masked, jump and call targets resolved to
//! op indices, helpers resolved to table indices. One extra [`Code::FellOffEnd`] op after the
//! last instruction catches execution that runs off the end.

use crate::error::LoadError;
use crate::helper::{HelperFn, Helpers};
use oxbpf_isa::{
    AluOp, AtomicOp, ByteOrder, CallTarget, Insn, JmpOp, LoadImm64, Operand, PacketMode, Program,
    Size, Width,
};
use std::sync::Arc;

/// Base of the values the interpreter gives code addresses (`lddw` with src 4,
/// [`LoadImm64::CodeAddr`]): the address of the function starting at instruction slot `s` is
/// `CODE_ADDR_BASE + s`. The base has bit 47 set and bits 48..64 clear, a non-canonical x86-64
/// address, so it is never a valid host pointer (a load through it is a memory fault) and
/// never a helper id (those fit 32 bits). `callx` on such a value makes a bpf-to-bpf call.
pub const CODE_ADDR_BASE: u64 = 0x0000_c0de_0000_0000;

/// Mask selecting the base part of a code address.
pub(crate) const CODE_ADDR_MASK: u64 = 0xffff_ffff_0000_0000;

/// Operation of a pre-decoded op. `R`: register source, `I`: immediate source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Code {
    // 64-bit ALU
    Add64R,
    Add64I,
    Sub64R,
    Sub64I,
    Mul64R,
    Mul64I,
    Div64R,
    Div64I,
    SDiv64R,
    SDiv64I,
    Mod64R,
    Mod64I,
    SMod64R,
    SMod64I,
    Or64R,
    Or64I,
    And64R,
    And64I,
    Xor64R,
    Xor64I,
    Lsh64R,
    Lsh64I,
    Rsh64R,
    Rsh64I,
    Arsh64R,
    Arsh64I,
    Mov64R,
    /// Also `lddw` (imm holds all 64 bits) and code addresses.
    Mov64I,
    MovSx8To64,
    MovSx16To64,
    MovSx32To64,
    Neg64,
    // 32-bit ALU (results zero-extended)
    Add32R,
    Add32I,
    Sub32R,
    Sub32I,
    Mul32R,
    Mul32I,
    Div32R,
    Div32I,
    SDiv32R,
    SDiv32I,
    Mod32R,
    Mod32I,
    SMod32R,
    SMod32I,
    Or32R,
    Or32I,
    And32R,
    And32I,
    Xor32R,
    Xor32I,
    Lsh32R,
    Lsh32I,
    Rsh32R,
    Rsh32I,
    Arsh32R,
    Arsh32I,
    /// Also `addr_space_cast` to address space 1.
    Mov32R,
    Mov32I,
    MovSx8To32,
    MovSx16To32,
    Neg32,
    // byte order
    Le16,
    Le32,
    Le64,
    Be16,
    Be32,
    Be64,
    Swap16,
    Swap32,
    Swap64,
    // memory: `off` is the sign-extended offset
    LdxB,
    LdxH,
    LdxW,
    LdxDW,
    LdxSB,
    LdxSH,
    LdxSW,
    StxB,
    StxH,
    StxW,
    StxDW,
    /// `imm` is the sign-extended immediate.
    StB,
    StH,
    StW,
    StDW,
    /// `aux` = size in bytes, `imm` = [`AtomicKind`].
    Atomic,
    /// `aux` = size in bytes, `imm` = the offset (sign-extended).
    LdAbs,
    /// As `LdAbs`; `src` = the index register.
    LdInd,
    // control flow: `off` is the target op index
    Ja,
    JEq64R,
    JEq64I,
    JNe64R,
    JNe64I,
    JGt64R,
    JGt64I,
    JGe64R,
    JGe64I,
    JLt64R,
    JLt64I,
    JLe64R,
    JLe64I,
    JSet64R,
    JSet64I,
    JSgt64R,
    JSgt64I,
    JSge64R,
    JSge64I,
    JSlt64R,
    JSlt64I,
    JSle64R,
    JSle64I,
    JEq32R,
    JEq32I,
    JNe32R,
    JNe32I,
    JGt32R,
    JGt32I,
    JGe32R,
    JGe32I,
    JLt32R,
    JLt32I,
    JLe32R,
    JLe32I,
    JSet32R,
    JSet32I,
    JSgt32R,
    JSgt32I,
    JSge32R,
    JSge32I,
    JSlt32R,
    JSlt32I,
    JSle32R,
    JSle32I,
    MayGoto,
    /// `off` = index into the resolved call table.
    Call,
    /// A helper or external function that was not registered: `imm` = the id, `aux` = 1
    /// for an external function.
    CallMissing,
    /// bpf-to-bpf call: `off` = the callee's op index.
    CallLocal,
    /// `dst` = the register holding the helper id or code address.
    CallX,
    Exit,
    /// Sentinel after the last instruction.
    FellOffEnd,
}

/// The operation of an [`Code::Atomic`] op (kept in `imm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum AtomicKind {
    Add,
    Or,
    And,
    Xor,
    FetchAdd,
    FetchOr,
    FetchAnd,
    FetchXor,
    Xchg,
    CmpXchg,
    LoadAcquire,
    StoreRelease,
}

impl AtomicKind {
    pub(crate) const ALL: [AtomicKind; 12] = [
        AtomicKind::Add,
        AtomicKind::Or,
        AtomicKind::And,
        AtomicKind::Xor,
        AtomicKind::FetchAdd,
        AtomicKind::FetchOr,
        AtomicKind::FetchAnd,
        AtomicKind::FetchXor,
        AtomicKind::Xchg,
        AtomicKind::CmpXchg,
        AtomicKind::LoadAcquire,
        AtomicKind::StoreRelease,
    ];
}

/// A register number. An enum (not a `u8`) so that the compiler knows it is at most 10 and
/// indexes the register file without bounds checks or masking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum R {
    R0,
    R1,
    R2,
    R3,
    R4,
    R5,
    R6,
    R7,
    R8,
    R9,
    R10,
}

impl R {
    const ALL: [R; 11] = [
        R::R0,
        R::R1,
        R::R2,
        R::R3,
        R::R4,
        R::R5,
        R::R6,
        R::R7,
        R::R8,
        R::R9,
        R::R10,
    ];
}

/// One pre-decoded instruction (16 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct Op {
    pub code: Code,
    pub dst: R,
    pub src: R,
    pub aux: u8,
    /// Memory offset (sign-extended) or target index.
    pub off: i32,
    /// Pre-extended immediate.
    pub imm: u64,
}

const _: () = assert!(std::mem::size_of::<Op>() == 16);

impl Op {
    fn new(code: Code, dst: R, src: R, off: i32, imm: u64) -> Op {
        Op {
            code,
            dst,
            src,
            aux: 0,
            off,
            imm,
        }
    }
}

/// A helper or external function resolved at load time.
#[derive(Clone)]
pub(crate) struct ResolvedCall {
    pub func: Arc<HelperFn>,
    /// The id reported in errors (external ids sign-extended).
    pub id: u64,
}

/// The output of [`compile`].
pub(crate) struct Compiled {
    pub ops: Box<[Op]>,
    /// `slot_of[i]`: instruction slot of op `i` (the sentinel has the last instruction's).
    pub slot_of: Box<[u32]>,
    /// The ops, padded with [`Code::FellOffEnd`] to a power-of-two length.
    /// Op index starting at each slot, `u32::MAX` for the second slot of a `lddw`.
    pub index_of_slot: Box<[u32]>,
    pub calls: Box<[ResolvedCall]>,
    /// `seg_end[i]`: `i` plus the most instructions that can execute from op `i` before a
    /// taken control transfer (up to and including the next `ja`, `exit`, local call or
    /// `callx`, or up to the end of the program). Same length as `ops`.
    pub seg_end: Box<[u32]>,
}

fn reg(r: oxbpf_isa::Reg) -> R {
    R::ALL.get(r.index()).copied().unwrap_or(R::R0)
}

fn alu_code(width: Width, op: AluOp, imm: bool) -> Code {
    use AluOp::*;
    use Code::*;
    match (width, op, imm) {
        (Width::W64, Add, false) => Add64R,
        (Width::W64, Add, true) => Add64I,
        (Width::W64, Sub, false) => Sub64R,
        (Width::W64, Sub, true) => Sub64I,
        (Width::W64, Mul, false) => Mul64R,
        (Width::W64, Mul, true) => Mul64I,
        (Width::W64, Div, false) => Div64R,
        (Width::W64, Div, true) => Div64I,
        (Width::W64, SDiv, false) => SDiv64R,
        (Width::W64, SDiv, true) => SDiv64I,
        (Width::W64, Mod, false) => Mod64R,
        (Width::W64, Mod, true) => Mod64I,
        (Width::W64, SMod, false) => SMod64R,
        (Width::W64, SMod, true) => SMod64I,
        (Width::W64, Or, false) => Or64R,
        (Width::W64, Or, true) => Or64I,
        (Width::W64, And, false) => And64R,
        (Width::W64, And, true) => And64I,
        (Width::W64, Xor, false) => Xor64R,
        (Width::W64, Xor, true) => Xor64I,
        (Width::W64, Lsh, false) => Lsh64R,
        (Width::W64, Lsh, true) => Lsh64I,
        (Width::W64, Rsh, false) => Rsh64R,
        (Width::W64, Rsh, true) => Rsh64I,
        (Width::W64, Arsh, false) => Arsh64R,
        (Width::W64, Arsh, true) => Arsh64I,
        (Width::W64, Mov, false) => Mov64R,
        (Width::W64, Mov, true) => Mov64I,
        (Width::W64, MovSx8, _) => MovSx8To64,
        (Width::W64, MovSx16, _) => MovSx16To64,
        (_, MovSx32, _) => MovSx32To64,
        (Width::W32, Add, false) => Add32R,
        (Width::W32, Add, true) => Add32I,
        (Width::W32, Sub, false) => Sub32R,
        (Width::W32, Sub, true) => Sub32I,
        (Width::W32, Mul, false) => Mul32R,
        (Width::W32, Mul, true) => Mul32I,
        (Width::W32, Div, false) => Div32R,
        (Width::W32, Div, true) => Div32I,
        (Width::W32, SDiv, false) => SDiv32R,
        (Width::W32, SDiv, true) => SDiv32I,
        (Width::W32, Mod, false) => Mod32R,
        (Width::W32, Mod, true) => Mod32I,
        (Width::W32, SMod, false) => SMod32R,
        (Width::W32, SMod, true) => SMod32I,
        (Width::W32, Or, false) => Or32R,
        (Width::W32, Or, true) => Or32I,
        (Width::W32, And, false) => And32R,
        (Width::W32, And, true) => And32I,
        (Width::W32, Xor, false) => Xor32R,
        (Width::W32, Xor, true) => Xor32I,
        (Width::W32, Lsh, false) => Lsh32R,
        (Width::W32, Lsh, true) => Lsh32I,
        (Width::W32, Rsh, false) => Rsh32R,
        (Width::W32, Rsh, true) => Rsh32I,
        (Width::W32, Arsh, false) => Arsh32R,
        (Width::W32, Arsh, true) => Arsh32I,
        (Width::W32, Mov, false) => Mov32R,
        (Width::W32, Mov, true) => Mov32I,
        (Width::W32, MovSx8, _) => MovSx8To32,
        (Width::W32, MovSx16, _) => MovSx16To32,
    }
}

fn jmp_code(width: Width, op: JmpOp, imm: bool) -> Code {
    use Code::*;
    use JmpOp::*;
    match (width, op, imm) {
        (Width::W64, Eq, false) => JEq64R,
        (Width::W64, Eq, true) => JEq64I,
        (Width::W64, Ne, false) => JNe64R,
        (Width::W64, Ne, true) => JNe64I,
        (Width::W64, Gt, false) => JGt64R,
        (Width::W64, Gt, true) => JGt64I,
        (Width::W64, Ge, false) => JGe64R,
        (Width::W64, Ge, true) => JGe64I,
        (Width::W64, Lt, false) => JLt64R,
        (Width::W64, Lt, true) => JLt64I,
        (Width::W64, Le, false) => JLe64R,
        (Width::W64, Le, true) => JLe64I,
        (Width::W64, Set, false) => JSet64R,
        (Width::W64, Set, true) => JSet64I,
        (Width::W64, Sgt, false) => JSgt64R,
        (Width::W64, Sgt, true) => JSgt64I,
        (Width::W64, Sge, false) => JSge64R,
        (Width::W64, Sge, true) => JSge64I,
        (Width::W64, Slt, false) => JSlt64R,
        (Width::W64, Slt, true) => JSlt64I,
        (Width::W64, Sle, false) => JSle64R,
        (Width::W64, Sle, true) => JSle64I,
        (Width::W32, Eq, false) => JEq32R,
        (Width::W32, Eq, true) => JEq32I,
        (Width::W32, Ne, false) => JNe32R,
        (Width::W32, Ne, true) => JNe32I,
        (Width::W32, Gt, false) => JGt32R,
        (Width::W32, Gt, true) => JGt32I,
        (Width::W32, Ge, false) => JGe32R,
        (Width::W32, Ge, true) => JGe32I,
        (Width::W32, Lt, false) => JLt32R,
        (Width::W32, Lt, true) => JLt32I,
        (Width::W32, Le, false) => JLe32R,
        (Width::W32, Le, true) => JLe32I,
        (Width::W32, Set, false) => JSet32R,
        (Width::W32, Set, true) => JSet32I,
        (Width::W32, Sgt, false) => JSgt32R,
        (Width::W32, Sgt, true) => JSgt32I,
        (Width::W32, Sge, false) => JSge32R,
        (Width::W32, Sge, true) => JSge32I,
        (Width::W32, Slt, false) => JSlt32R,
        (Width::W32, Slt, true) => JSlt32I,
        (Width::W32, Sle, false) => JSle32R,
        (Width::W32, Sle, true) => JSle32I,
    }
}

/// Immediate of an ALU or jump op: sign-extended to 64 bits for the 64-bit forms,
/// zero-extended 32 bits for the 32-bit forms (which only look at the low half). Shift
/// counts are masked to the operand width.
fn imm_for(width: Width, op: Option<AluOp>, imm: i32) -> u64 {
    let v = match width {
        Width::W64 => imm as i64 as u64,
        Width::W32 => imm as u32 as u64,
    };
    match (width, op) {
        (Width::W64, Some(AluOp::Lsh | AluOp::Rsh | AluOp::Arsh)) => v & 63,
        (Width::W32, Some(AluOp::Lsh | AluOp::Rsh | AluOp::Arsh)) => v & 31,
        _ => v,
    }
}

fn size_ld(size: Size, sx: bool) -> Code {
    match (size, sx) {
        (Size::B, false) => Code::LdxB,
        (Size::H, false) => Code::LdxH,
        (Size::W, false) => Code::LdxW,
        (Size::DW, _) => Code::LdxDW,
        (Size::B, true) => Code::LdxSB,
        (Size::H, true) => Code::LdxSH,
        (Size::W, true) => Code::LdxSW,
    }
}

/// Translates a program into ops, resolving targets and helpers.
pub(crate) fn compile(program: &Program, helpers: &Helpers) -> Result<Compiled, LoadError> {
    let n = program.len();
    let mut ops = Vec::with_capacity(n + 1);
    let mut slot_of = Vec::with_capacity(n + 1);
    let mut calls: Vec<ResolvedCall> = Vec::new();
    let target = |i: usize| -> i32 {
        // Program guarantees every branch target is an instruction start inside it, and
        // MAX_SLOTS keeps indices inside i32.
        program.branch_target(i).map_or(0, |t| t as i32)
    };
    for (i, slot, insn) in program.iter() {
        let op = match *insn {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => match src {
                Operand::Reg(s) => Op::new(alu_code(width, op, false), reg(dst), reg(s), 0, 0),
                Operand::Imm(imm) => Op::new(
                    alu_code(width, op, true),
                    reg(dst),
                    R::R0,
                    0,
                    imm_for(width, Some(op), imm),
                ),
            },
            Insn::Neg { width, dst } => {
                let code = match width {
                    Width::W64 => Code::Neg64,
                    Width::W32 => Code::Neg32,
                };
                Op::new(code, reg(dst), R::R0, 0, 0)
            }
            Insn::Endian { order, bits, dst } => {
                let code = match (order, bits) {
                    (ByteOrder::ToLe, 16) => Code::Le16,
                    (ByteOrder::ToLe, 32) => Code::Le32,
                    (ByteOrder::ToLe, _) => Code::Le64,
                    (ByteOrder::ToBe, 16) => Code::Be16,
                    (ByteOrder::ToBe, 32) => Code::Be32,
                    (ByteOrder::ToBe, _) => Code::Be64,
                    (ByteOrder::Swap, 16) => Code::Swap16,
                    (ByteOrder::Swap, 32) => Code::Swap32,
                    (ByteOrder::Swap, _) => Code::Swap64,
                };
                Op::new(code, reg(dst), R::R0, 0, 0)
            }
            Insn::AddrSpaceCast {
                dst, src, dst_as, ..
            } => {
                // No arenas in userspace: to address space 1 keeps the low 32 bits (as
                // Linux rewrites it), to address space 0 is a plain 64-bit move.
                let code = if dst_as == 1 {
                    Code::Mov32R
                } else {
                    Code::Mov64R
                };
                Op::new(code, reg(dst), reg(src), 0, 0)
            }
            Insn::Load {
                size,
                sign_extend,
                dst,
                src,
                off,
            } => Op::new(
                size_ld(size, sign_extend),
                reg(dst),
                reg(src),
                off as i32,
                0,
            ),
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => match src {
                Operand::Reg(s) => {
                    let code = match size {
                        Size::B => Code::StxB,
                        Size::H => Code::StxH,
                        Size::W => Code::StxW,
                        Size::DW => Code::StxDW,
                    };
                    Op::new(code, reg(dst), reg(s), off as i32, 0)
                }
                Operand::Imm(imm) => {
                    let code = match size {
                        Size::B => Code::StB,
                        Size::H => Code::StH,
                        Size::W => Code::StW,
                        Size::DW => Code::StDW,
                    };
                    Op::new(code, reg(dst), R::R0, off as i32, imm as i64 as u64)
                }
            },
            Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            } => {
                let kind = match op {
                    AtomicOp::Add { fetch: false } => AtomicKind::Add,
                    AtomicOp::Or { fetch: false } => AtomicKind::Or,
                    AtomicOp::And { fetch: false } => AtomicKind::And,
                    AtomicOp::Xor { fetch: false } => AtomicKind::Xor,
                    AtomicOp::Add { fetch: true } => AtomicKind::FetchAdd,
                    AtomicOp::Or { fetch: true } => AtomicKind::FetchOr,
                    AtomicOp::And { fetch: true } => AtomicKind::FetchAnd,
                    AtomicOp::Xor { fetch: true } => AtomicKind::FetchXor,
                    AtomicOp::Xchg => AtomicKind::Xchg,
                    AtomicOp::CmpXchg => AtomicKind::CmpXchg,
                    AtomicOp::LoadAcquire => AtomicKind::LoadAcquire,
                    AtomicOp::StoreRelease => AtomicKind::StoreRelease,
                };
                let mut o = Op::new(Code::Atomic, reg(dst), reg(src), off as i32, kind as u64);
                o.aux = size.bytes() as u8;
                o
            }
            Insn::LoadImm64 { dst, value } => {
                let v = match value {
                    LoadImm64::Imm(v) => v,
                    LoadImm64::CodeAddr(_) => {
                        let t = program.branch_target(i).map_or(0, |t| program.slot(t));
                        CODE_ADDR_BASE + t as u64
                    }
                    other => {
                        let what = match other {
                            LoadImm64::MapFd(_) => "map file descriptor",
                            LoadImm64::MapValue { .. } => "map value (by file descriptor)",
                            LoadImm64::VariableAddr { .. } => "BTF variable",
                            LoadImm64::MapIdx(_) => "map index",
                            _ => "map value (by map index)",
                        };
                        return Err(LoadError::UnresolvedPseudo { pc: slot, what });
                    }
                };
                Op::new(Code::Mov64I, reg(dst), R::R0, 0, v)
            }
            Insn::LoadPacket { mode, size, imm } => {
                let (code, src) = match mode {
                    PacketMode::Abs => (Code::LdAbs, R::R0),
                    PacketMode::Ind(r) => (Code::LdInd, reg(r)),
                };
                let mut o = Op::new(code, R::R0, src, 0, imm as i64 as u64);
                o.aux = size.bytes() as u8;
                o
            }
            Insn::Ja { .. } => Op::new(Code::Ja, R::R0, R::R0, target(i), 0),
            Insn::Jump {
                width,
                op,
                dst,
                src,
                ..
            } => match src {
                Operand::Reg(s) => {
                    Op::new(jmp_code(width, op, false), reg(dst), reg(s), target(i), 0)
                }
                Operand::Imm(imm) => Op::new(
                    jmp_code(width, op, true),
                    reg(dst),
                    R::R0,
                    target(i),
                    imm_for(width, None, imm),
                ),
            },
            Insn::MayGoto { .. } => Op::new(Code::MayGoto, R::R0, R::R0, target(i), 0),
            Insn::Call(CallTarget::Local(_)) => {
                Op::new(Code::CallLocal, R::R0, R::R0, target(i), 0)
            }
            Insn::Call(CallTarget::Helper(id)) => {
                // The id is an unsigned 32-bit number (helper ids are never negative).
                let id = id as u32 as u64;
                match helpers.get(id) {
                    Some(h) => {
                        calls.push(ResolvedCall {
                            func: h.func.clone(),
                            id,
                        });
                        Op::new(Code::Call, R::R0, R::R0, (calls.len() - 1) as i32, 0)
                    }
                    None => Op::new(Code::CallMissing, R::R0, R::R0, 0, id),
                }
            }
            Insn::Call(CallTarget::External { id, .. }) => match helpers.external(id) {
                Some(h) => {
                    calls.push(ResolvedCall {
                        func: h.func.clone(),
                        id: id as i64 as u64,
                    });
                    Op::new(Code::Call, R::R0, R::R0, (calls.len() - 1) as i32, 0)
                }
                None => {
                    let mut o = Op::new(Code::CallMissing, R::R0, R::R0, 0, id as i64 as u64);
                    o.aux = 1;
                    o
                }
            },
            Insn::CallX { reg: r } => Op::new(Code::CallX, reg(r), R::R0, 0, 0),
            Insn::Exit => Op::new(Code::Exit, R::R0, R::R0, 0, 0),
        };
        ops.push(op);
        slot_of.push(slot as u32);
    }
    ops.push(Op::new(Code::FellOffEnd, R::R0, R::R0, 0, 0));
    slot_of.push(slot_of.last().copied().unwrap_or(0));
    let index_of_slot = (0..program.slot_count())
        .map(|s| program.index_at_slot(s).map_or(u32::MAX, |i| i as u32))
        .collect();
    // Pad with sentinels to a power of two, so that the dispatch loop can index the ops
    // with `pc & (len - 1)`, which the compiler knows is in bounds (no bounds check in the
    // dispatch, which lets it replicate the dispatch into every handler).
    let fell_off = Op::new(Code::FellOffEnd, R::R0, R::R0, 0, 0);
    ops.resize(ops.len().next_power_of_two(), fell_off);
    let last_slot = slot_of.last().copied().unwrap_or(0);
    slot_of.resize(ops.len(), last_slot);
    let mut seg_end: Vec<u32> = (0..ops.len() as u32).collect();
    for i in (0..n).rev() {
        seg_end[i] = match ops[i].code {
            Code::Ja | Code::Exit | Code::CallLocal | Code::CallX => i as u32 + 1,
            _ => seg_end[i + 1],
        };
    }
    Ok(Compiled {
        seg_end: seg_end.into_boxed_slice(),
        ops: ops.into_boxed_slice(),
        slot_of: slot_of.into_boxed_slice(),
        index_of_slot,
        calls: calls.into_boxed_slice(),
    })
}
