//! Typed instructions to bytes.
//!
//! Encoding never fails: every field of an [`Insn`] has a place in the encoding. An
//! instruction built with values the ISA does not define (say `Endian` with 24 bits, or a
//! sign-extending 8-byte load) encodes to bytes that [`crate::decode::decode_insn`] rejects;
//! [`Insn::validate`] reports that without encoding by hand.

use crate::decode::{decode_insn, DecodeErrorKind};
use crate::insn::*;
use crate::opcode::*;
use crate::raw::RawInsn;

fn size_bits(s: Size) -> u8 {
    match s {
        Size::W => SZ_W,
        Size::H => SZ_H,
        Size::B => SZ_B,
        Size::DW => SZ_DW,
    }
}

fn alu_class(w: Width) -> u8 {
    match w {
        Width::W32 => CLS_ALU,
        Width::W64 => CLS_ALU64,
    }
}

fn jmp_class(w: Width) -> u8 {
    match w {
        Width::W32 => CLS_JMP32,
        Width::W64 => CLS_JMP,
    }
}

/// `(source bit, src register, immediate)` for an operand.
fn operand(o: Operand) -> (u8, u8, i32) {
    match o {
        Operand::Reg(r) => (SRC_X, r.num(), 0),
        Operand::Imm(i) => (SRC_K, 0, i),
    }
}

impl Insn {
    /// The instruction's slots: the second is `Some` only for `lddw`.
    pub fn encode(&self) -> (RawInsn, Option<RawInsn>) {
        let one = |r: RawInsn| (r, None);
        match *self {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => {
                let (x, s, imm) = operand(src);
                let (code, off) = match op {
                    AluOp::Add => (ALU_ADD, 0),
                    AluOp::Sub => (ALU_SUB, 0),
                    AluOp::Mul => (ALU_MUL, 0),
                    AluOp::Div => (ALU_DIV, 0),
                    AluOp::SDiv => (ALU_DIV, 1),
                    AluOp::Or => (ALU_OR, 0),
                    AluOp::And => (ALU_AND, 0),
                    AluOp::Lsh => (ALU_LSH, 0),
                    AluOp::Rsh => (ALU_RSH, 0),
                    AluOp::Mod => (ALU_MOD, 0),
                    AluOp::SMod => (ALU_MOD, 1),
                    AluOp::Xor => (ALU_XOR, 0),
                    AluOp::Mov => (ALU_MOV, 0),
                    AluOp::MovSx8 => (ALU_MOV, 8),
                    AluOp::MovSx16 => (ALU_MOV, 16),
                    AluOp::MovSx32 => (ALU_MOV, 32),
                    AluOp::Arsh => (ALU_ARSH, 0),
                };
                one(RawInsn::new(
                    code | x | alu_class(width),
                    dst.num(),
                    s,
                    off,
                    imm,
                ))
            }
            Insn::Neg { width, dst } => {
                one(RawInsn::new(ALU_NEG | alu_class(width), dst.num(), 0, 0, 0))
            }
            Insn::Endian { order, bits, dst } => {
                let op = match order {
                    ByteOrder::ToLe => ALU_END | SRC_K | CLS_ALU,
                    ByteOrder::ToBe => ALU_END | SRC_X | CLS_ALU,
                    ByteOrder::Swap => ALU_END | SRC_K | CLS_ALU64,
                };
                one(RawInsn::new(op, dst.num(), 0, 0, bits as i32))
            }
            Insn::AddrSpaceCast {
                dst,
                src,
                dst_as,
                src_as,
            } => one(RawInsn::new(
                ALU_MOV | SRC_X | CLS_ALU64,
                dst.num(),
                src.num(),
                OFF_ADDR_SPACE_CAST,
                (((dst_as as u32) << 16) | src_as as u32) as i32,
            )),
            Insn::Load {
                size,
                sign_extend,
                dst,
                src,
                off,
            } => {
                let mode = if sign_extend { MODE_MEMSX } else { MODE_MEM };
                one(RawInsn::new(
                    mode | size_bits(size) | CLS_LDX,
                    dst.num(),
                    src.num(),
                    off,
                    0,
                ))
            }
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => match src {
                Operand::Reg(s) => one(RawInsn::new(
                    MODE_MEM | size_bits(size) | CLS_STX,
                    dst.num(),
                    s.num(),
                    off,
                    0,
                )),
                Operand::Imm(i) => one(RawInsn::new(
                    MODE_MEM | size_bits(size) | CLS_ST,
                    dst.num(),
                    0,
                    off,
                    i,
                )),
            },
            Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            } => {
                let f = |fetch: bool| if fetch { ATOMIC_FETCH } else { 0 };
                let imm = match op {
                    AtomicOp::Add { fetch } => ATOMIC_ADD | f(fetch),
                    AtomicOp::Or { fetch } => ATOMIC_OR | f(fetch),
                    AtomicOp::And { fetch } => ATOMIC_AND | f(fetch),
                    AtomicOp::Xor { fetch } => ATOMIC_XOR | f(fetch),
                    AtomicOp::Xchg => ATOMIC_XCHG,
                    AtomicOp::CmpXchg => ATOMIC_CMPXCHG,
                    AtomicOp::LoadAcquire => ATOMIC_LOAD_ACQ,
                    AtomicOp::StoreRelease => ATOMIC_STORE_REL,
                };
                one(RawInsn::new(
                    MODE_ATOMIC | size_bits(size) | CLS_STX,
                    dst.num(),
                    src.num(),
                    off,
                    imm,
                ))
            }
            Insn::LoadImm64 { dst, value } => {
                let (src, lo, hi) = match value {
                    LoadImm64::Imm(v) => (0, v as u32 as i32, (v >> 32) as u32 as i32),
                    LoadImm64::MapFd(fd) => (PSEUDO_MAP_FD, fd, 0),
                    LoadImm64::MapValue { fd, offset } => (PSEUDO_MAP_VALUE, fd, offset as i32),
                    LoadImm64::VariableAddr { btf_id, btf_fd } => (PSEUDO_BTF_ID, btf_id, btf_fd),
                    LoadImm64::CodeAddr(off) => (PSEUDO_FUNC, off, 0),
                    LoadImm64::MapIdx(i) => (PSEUDO_MAP_IDX, i, 0),
                    LoadImm64::MapIdxValue { idx, offset } => {
                        (PSEUDO_MAP_IDX_VALUE, idx, offset as i32)
                    }
                };
                (
                    RawInsn::new(LDDW, dst.num(), src, 0, lo),
                    Some(RawInsn::new(0, 0, 0, 0, hi)),
                )
            }
            Insn::LoadPacket { mode, size, imm } => {
                let (m, s) = match mode {
                    PacketMode::Abs => (MODE_ABS, 0),
                    PacketMode::Ind(r) => (MODE_IND, r.num()),
                };
                one(RawInsn::new(m | size_bits(size) | CLS_LD, 0, s, 0, imm))
            }
            Insn::Ja { off, long } => {
                if long {
                    one(RawInsn::new(JMP_JA | CLS_JMP32, 0, 0, 0, off))
                } else {
                    // A short jump whose offset does not fit 16 bits cannot be encoded as
                    // such; truncation makes `validate` fail instead of silently changing it.
                    one(RawInsn::new(JMP_JA | CLS_JMP, 0, 0, off as i16, 0))
                }
            }
            Insn::Jump {
                width,
                op,
                dst,
                src,
                off,
            } => {
                let code = match op {
                    JmpOp::Eq => JMP_JEQ,
                    JmpOp::Gt => JMP_JGT,
                    JmpOp::Ge => JMP_JGE,
                    JmpOp::Set => JMP_JSET,
                    JmpOp::Ne => JMP_JNE,
                    JmpOp::Sgt => JMP_JSGT,
                    JmpOp::Sge => JMP_JSGE,
                    JmpOp::Lt => JMP_JLT,
                    JmpOp::Le => JMP_JLE,
                    JmpOp::Slt => JMP_JSLT,
                    JmpOp::Sle => JMP_JSLE,
                };
                let (x, s, imm) = operand(src);
                one(RawInsn::new(
                    code | x | jmp_class(width),
                    dst.num(),
                    s,
                    off,
                    imm,
                ))
            }
            Insn::MayGoto { off } => {
                one(RawInsn::new(JMP_JCOND | CLS_JMP, 0, JCOND_MAY_GOTO, off, 0))
            }
            Insn::Call(t) => {
                let (src, off, imm) = match t {
                    CallTarget::Helper(id) => (0, 0, id),
                    CallTarget::Local(off) => (PSEUDO_CALL, 0, off),
                    CallTarget::External { id, module } => (PSEUDO_KFUNC_CALL, module, id),
                };
                one(RawInsn::new(JMP_CALL | CLS_JMP, 0, src, off, imm))
            }
            Insn::CallX { reg } => {
                one(RawInsn::new(JMP_CALL | SRC_X | CLS_JMP, reg.num(), 0, 0, 0))
            }
            Insn::Exit => one(RawInsn::new(JMP_EXIT | CLS_JMP, 0, 0, 0, 0)),
        }
    }

    /// Appends the instruction's bytes (8 or 16) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let (a, b) = self.encode();
        out.extend_from_slice(&a.to_bytes());
        if let Some(b) = b {
            out.extend_from_slice(&b.to_bytes());
        }
    }

    /// The instruction's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(16);
        self.encode_into(&mut v);
        v
    }

    /// Checks that the instruction is one the ISA defines, i.e. that it survives an
    /// encode/decode round trip unchanged. Jump targets are not checked (they need the
    /// program).
    pub fn validate(&self) -> Result<(), DecodeErrorKind> {
        let (a, b) = self.encode();
        let slots: Vec<RawInsn> = std::iter::once(a).chain(b).collect();
        let (back, _) = decode_insn(&slots)?;
        if back != *self {
            // Only a field the encoding cannot hold (a long offset in a short jump) gets here.
            return Err(DecodeErrorKind::ReservedField {
                field: "offset",
                expected: "a value that fits 16 bits",
                found: self.branch_offset().unwrap_or(0),
            });
        }
        Ok(())
    }
}
