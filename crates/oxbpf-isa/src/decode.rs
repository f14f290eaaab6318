//! Bytes to typed instructions, with every malformed case reported as a typed error.

use crate::insn::*;
use crate::opcode::*;
use crate::raw::RawInsn;
use thiserror::Error;

/// Why an instruction (or a program) could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DecodeErrorKind {
    #[error("the program is empty")]
    Empty,
    #[error("{len} bytes is not a whole number of 8-byte instructions")]
    TrailingBytes { len: usize },
    #[error("the program has {slots} instructions, more than the limit of {limit}")]
    TooLong { slots: usize, limit: usize },
    #[error("unknown opcode 0x{0:02x}")]
    UnknownOpcode(u8),
    #[error("invalid {field} register r{reg} (registers are r0 to r10)")]
    InvalidRegister { field: &'static str, reg: u8 },
    #[error("instruction writes to r10, the read-only frame pointer")]
    WriteToR10,
    #[error("reserved field {field} must be {expected}, found {found}")]
    ReservedField {
        field: &'static str,
        expected: &'static str,
        found: i64,
    },
    #[error("lddw needs two instruction slots but the program ends after the first")]
    TruncatedLddw,
    #[error("second slot of lddw is malformed (opcode, registers and offset must be 0)")]
    BadLddwSecondSlot,
    #[error("unknown lddw source {0} (known: 0 to 6)")]
    UnknownLddwSource(u8),
    #[error("unknown atomic operation 0x{0:x}")]
    UnknownAtomicOp(i32),
    #[error("atomic {op} is not defined for {bytes}-byte operands")]
    BadAtomicSize { op: &'static str, bytes: usize },
    #[error("unknown call kind (src {0}; known: 0 helper, 1 local, 2 external)")]
    UnknownCallKind(u8),
    #[error("{what} target {target} is outside the program (instructions 0 to {last})")]
    TargetOutOfRange {
        what: &'static str,
        target: i64,
        last: usize,
    },
    #[error("{what} target {target} is the second half of the lddw at {lddw}")]
    TargetInLddw {
        what: &'static str,
        target: usize,
        lddw: usize,
    },
}

/// A decoding error and the instruction slot it was found at.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("instruction {pc}: {kind}")]
pub struct DecodeError {
    /// Slot index (the unit jump offsets and the Linux verifier use).
    pub pc: usize,
    pub kind: DecodeErrorKind,
}

type R<T> = Result<T, DecodeErrorKind>;

fn reserved(field: &'static str, expected: &'static str, found: i64) -> DecodeErrorKind {
    DecodeErrorKind::ReservedField {
        field,
        expected,
        found,
    }
}

fn zero_src(r: &RawInsn) -> R<()> {
    if r.src != 0 {
        return Err(reserved("src", "0", r.src as i64));
    }
    Ok(())
}
fn zero_dst(r: &RawInsn) -> R<()> {
    if r.dst != 0 {
        return Err(reserved("dst", "0", r.dst as i64));
    }
    Ok(())
}
fn zero_off(r: &RawInsn) -> R<()> {
    if r.off != 0 {
        return Err(reserved("offset", "0", r.off as i64));
    }
    Ok(())
}
fn zero_imm(r: &RawInsn) -> R<()> {
    if r.imm != 0 {
        return Err(reserved("immediate", "0", r.imm as i64));
    }
    Ok(())
}

/// A register that is read (r0..=r10).
fn rd(field: &'static str, n: u8) -> R<Reg> {
    Reg::new(n).ok_or(DecodeErrorKind::InvalidRegister { field, reg: n })
}

/// A register that is written (r0..=r9).
fn wr(field: &'static str, n: u8) -> R<Reg> {
    let r = rd(field, n)?;
    if r == Reg::R10 {
        return Err(DecodeErrorKind::WriteToR10);
    }
    Ok(r)
}

fn size_of(op: u8) -> Size {
    match op & 0x18 {
        SZ_W => Size::W,
        SZ_H => Size::H,
        SZ_B => Size::B,
        _ => Size::DW,
    }
}

/// Decodes the instruction starting at `slots[0]`; `slots[1]` is consulted for `lddw`.
/// Returns the instruction and the number of slots it used. Jump targets are not checked
/// here (they need the whole program): see [`crate::Program::decode`].
pub fn decode_insn(slots: &[RawInsn]) -> R<(Insn, usize)> {
    let r = match slots.first() {
        Some(r) => *r,
        None => return Err(DecodeErrorKind::Empty),
    };
    let op = r.opcode;
    let insn = match r.class() {
        CLS_ALU | CLS_ALU64 => decode_alu(&r)?,
        CLS_JMP | CLS_JMP32 => decode_jmp(&r)?,
        CLS_LDX => {
            let sign_extend = match op & 0xe0 {
                MODE_MEM => false,
                MODE_MEMSX if op & 0x18 != SZ_DW => true,
                _ => return Err(DecodeErrorKind::UnknownOpcode(op)),
            };
            zero_imm(&r)?;
            Insn::Load {
                size: size_of(op),
                sign_extend,
                dst: wr("dst", r.dst)?,
                src: rd("src", r.src)?,
                off: r.off,
            }
        }
        CLS_ST => {
            if op & 0xe0 != MODE_MEM {
                return Err(DecodeErrorKind::UnknownOpcode(op));
            }
            zero_src(&r)?;
            Insn::Store {
                size: size_of(op),
                dst: rd("dst", r.dst)?,
                off: r.off,
                src: Operand::Imm(r.imm),
            }
        }
        CLS_STX => match op & 0xe0 {
            MODE_MEM => {
                zero_imm(&r)?;
                Insn::Store {
                    size: size_of(op),
                    dst: rd("dst", r.dst)?,
                    off: r.off,
                    src: Operand::Reg(rd("src", r.src)?),
                }
            }
            MODE_ATOMIC => decode_atomic(&r)?,
            _ => return Err(DecodeErrorKind::UnknownOpcode(op)),
        },
        _ /* CLS_LD */ => {
            if op == LDDW {
                return decode_lddw(&r, slots.get(1));
            }
            let mode = match op & 0xe0 {
                MODE_ABS => {
                    zero_src(&r)?;
                    PacketMode::Abs
                }
                MODE_IND => PacketMode::Ind(rd("src", r.src)?),
                _ => return Err(DecodeErrorKind::UnknownOpcode(op)),
            };
            if op & 0x18 == SZ_DW {
                return Err(DecodeErrorKind::UnknownOpcode(op));
            }
            zero_dst(&r)?;
            zero_off(&r)?;
            Insn::LoadPacket {
                mode,
                size: size_of(op),
                imm: r.imm,
            }
        }
    };
    Ok((insn, 1))
}

fn decode_lddw(r: &RawInsn, next: Option<&RawInsn>) -> R<(Insn, usize)> {
    let hi = next.ok_or(DecodeErrorKind::TruncatedLddw)?;
    if hi.opcode != 0 || hi.dst != 0 || hi.src != 0 || hi.off != 0 {
        return Err(DecodeErrorKind::BadLddwSecondSlot);
    }
    zero_off(r)?;
    let dst = wr("dst", r.dst)?;
    let need_hi_zero = |v: LoadImm64| -> R<LoadImm64> {
        if hi.imm != 0 {
            return Err(reserved("second-slot immediate", "0", hi.imm as i64));
        }
        Ok(v)
    };
    let value = match r.src {
        0 => LoadImm64::Imm((r.imm as u32 as u64) | ((hi.imm as u32 as u64) << 32)),
        PSEUDO_MAP_FD => need_hi_zero(LoadImm64::MapFd(r.imm))?,
        PSEUDO_MAP_VALUE => LoadImm64::MapValue {
            fd: r.imm,
            offset: hi.imm as u32,
        },
        PSEUDO_BTF_ID => LoadImm64::VariableAddr {
            btf_id: r.imm,
            btf_fd: hi.imm,
        },
        PSEUDO_FUNC => need_hi_zero(LoadImm64::CodeAddr(r.imm))?,
        PSEUDO_MAP_IDX => need_hi_zero(LoadImm64::MapIdx(r.imm))?,
        PSEUDO_MAP_IDX_VALUE => LoadImm64::MapIdxValue {
            idx: r.imm,
            offset: hi.imm as u32,
        },
        s => return Err(DecodeErrorKind::UnknownLddwSource(s)),
    };
    Ok((Insn::LoadImm64 { dst, value }, 2))
}

fn decode_alu(r: &RawInsn) -> R<Insn> {
    let op = r.opcode;
    let width = if r.class() == CLS_ALU64 {
        Width::W64
    } else {
        Width::W32
    };
    let x = op & SRC_X != 0;
    let code = op & 0xf0;
    match code {
        ALU_NEG => {
            if x {
                return Err(DecodeErrorKind::UnknownOpcode(op));
            }
            zero_src(r)?;
            zero_off(r)?;
            zero_imm(r)?;
            return Ok(Insn::Neg {
                width,
                dst: wr("dst", r.dst)?,
            });
        }
        ALU_END => {
            let order = match (width, x) {
                (Width::W32, false) => ByteOrder::ToLe,
                (Width::W32, true) => ByteOrder::ToBe,
                (Width::W64, false) => ByteOrder::Swap,
                (Width::W64, true) => return Err(DecodeErrorKind::UnknownOpcode(op)),
            };
            zero_src(r)?;
            zero_off(r)?;
            if !matches!(r.imm, 16 | 32 | 64) {
                return Err(reserved("immediate", "16, 32 or 64", r.imm as i64));
            }
            return Ok(Insn::Endian {
                order,
                bits: r.imm as u8,
                dst: wr("dst", r.dst)?,
            });
        }
        0xe0 | 0xf0 => return Err(DecodeErrorKind::UnknownOpcode(op)),
        _ => {}
    }
    let dst = wr("dst", r.dst)?;
    let aop = match code {
        ALU_ADD => AluOp::Add,
        ALU_SUB => AluOp::Sub,
        ALU_MUL => AluOp::Mul,
        ALU_DIV | ALU_MOD => {
            let signed = match r.off {
                0 => false,
                1 => true,
                o => return Err(reserved("offset", "0 or 1", o as i64)),
            };
            match (code == ALU_DIV, signed) {
                (true, false) => AluOp::Div,
                (true, true) => AluOp::SDiv,
                (false, false) => AluOp::Mod,
                (false, true) => AluOp::SMod,
            }
        }
        ALU_OR => AluOp::Or,
        ALU_AND => AluOp::And,
        ALU_LSH => AluOp::Lsh,
        ALU_RSH => AluOp::Rsh,
        ALU_XOR => AluOp::Xor,
        ALU_ARSH => AluOp::Arsh,
        _ /* ALU_MOV */ => {
            if x {
                match (width, r.off) {
                    (_, 0) => AluOp::Mov,
                    (_, 8) => AluOp::MovSx8,
                    (_, 16) => AluOp::MovSx16,
                    (Width::W64, 32) => AluOp::MovSx32,
                    (Width::W64, OFF_ADDR_SPACE_CAST) => {
                        let (dst_as, src_as) = ((r.imm as u32 >> 16) as u16, r.imm as u32 as u16);
                        if !matches!((dst_as, src_as), (0, 1) | (1, 0)) {
                            return Err(reserved(
                                "address-space cast immediate",
                                "0x1 or 0x10000",
                                r.imm as i64,
                            ));
                        }
                        return Ok(Insn::AddrSpaceCast {
                            dst,
                            src: rd("src", r.src)?,
                            dst_as,
                            src_as,
                        });
                    }
                    (Width::W64, o) => {
                        return Err(reserved("offset", "0, 1, 8, 16 or 32", o as i64))
                    }
                    (Width::W32, o) => return Err(reserved("offset", "0, 8 or 16", o as i64)),
                }
            } else {
                AluOp::Mov
            }
        }
    };
    let special_off = matches!(
        aop,
        AluOp::SDiv | AluOp::SMod | AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32
    );
    if !special_off && !matches!(aop, AluOp::Div | AluOp::Mod) {
        zero_off(r)?;
    }
    let src = if x {
        zero_imm(r)?;
        Operand::Reg(rd("src", r.src)?)
    } else {
        // Sign-extending moves only come from the register-source branch above.
        zero_src(r)?;
        Operand::Imm(r.imm)
    };
    Ok(Insn::Alu {
        width,
        op: aop,
        dst,
        src,
    })
}

fn decode_atomic(r: &RawInsn) -> R<Insn> {
    let size = size_of(r.opcode);
    let (aop, name) = match r.imm {
        x if x == ATOMIC_ADD => (AtomicOp::Add { fetch: false }, "add"),
        x if x == ATOMIC_ADD | ATOMIC_FETCH => (AtomicOp::Add { fetch: true }, "fetch_add"),
        x if x == ATOMIC_OR => (AtomicOp::Or { fetch: false }, "or"),
        x if x == ATOMIC_OR | ATOMIC_FETCH => (AtomicOp::Or { fetch: true }, "fetch_or"),
        x if x == ATOMIC_AND => (AtomicOp::And { fetch: false }, "and"),
        x if x == ATOMIC_AND | ATOMIC_FETCH => (AtomicOp::And { fetch: true }, "fetch_and"),
        x if x == ATOMIC_XOR => (AtomicOp::Xor { fetch: false }, "xor"),
        x if x == ATOMIC_XOR | ATOMIC_FETCH => (AtomicOp::Xor { fetch: true }, "fetch_xor"),
        ATOMIC_XCHG => (AtomicOp::Xchg, "xchg"),
        ATOMIC_CMPXCHG => (AtomicOp::CmpXchg, "cmpxchg"),
        ATOMIC_LOAD_ACQ => (AtomicOp::LoadAcquire, "load_acquire"),
        ATOMIC_STORE_REL => (AtomicOp::StoreRelease, "store_release"),
        other => return Err(DecodeErrorKind::UnknownAtomicOp(other)),
    };
    let ordered = matches!(aop, AtomicOp::LoadAcquire | AtomicOp::StoreRelease);
    if !ordered && !matches!(size, Size::W | Size::DW) {
        return Err(DecodeErrorKind::BadAtomicSize {
            op: name,
            bytes: size.bytes(),
        });
    }
    let (dst, src) = match aop {
        AtomicOp::LoadAcquire => (wr("dst", r.dst)?, rd("src", r.src)?),
        AtomicOp::StoreRelease | AtomicOp::CmpXchg => (rd("dst", r.dst)?, rd("src", r.src)?),
        _ if aop.writes_register() => (rd("dst", r.dst)?, wr("src", r.src)?),
        _ => (rd("dst", r.dst)?, rd("src", r.src)?),
    };
    Ok(Insn::Atomic {
        size,
        op: aop,
        dst,
        src,
        off: r.off,
    })
}

fn decode_jmp(r: &RawInsn) -> R<Insn> {
    let op = r.opcode;
    let jmp32 = r.class() == CLS_JMP32;
    let x = op & SRC_X != 0;
    let code = op & 0xf0;
    let cond = match code {
        JMP_JA => {
            if x {
                return Err(DecodeErrorKind::UnknownOpcode(op));
            }
            zero_src(r)?;
            zero_dst(r)?;
            return if jmp32 {
                zero_off(r)?;
                Ok(Insn::Ja {
                    off: r.imm,
                    long: true,
                })
            } else {
                zero_imm(r)?;
                Ok(Insn::Ja {
                    off: r.off as i32,
                    long: false,
                })
            };
        }
        JMP_CALL if !jmp32 => {
            zero_off_unless_kfunc(r)?;
            if x {
                zero_src(r)?;
                zero_off(r)?;
                zero_imm(r)?;
                return Ok(Insn::CallX {
                    reg: rd("dst", r.dst)?,
                });
            }
            zero_dst(r)?;
            return Ok(Insn::Call(match r.src {
                0 => CallTarget::Helper(r.imm),
                PSEUDO_CALL => CallTarget::Local(r.imm),
                PSEUDO_KFUNC_CALL => CallTarget::External {
                    id: r.imm,
                    module: r.off,
                },
                s => return Err(DecodeErrorKind::UnknownCallKind(s)),
            }));
        }
        JMP_EXIT if !jmp32 && !x => {
            zero_src(r)?;
            zero_dst(r)?;
            zero_off(r)?;
            zero_imm(r)?;
            return Ok(Insn::Exit);
        }
        JMP_JCOND if !jmp32 && !x => {
            if r.src != JCOND_MAY_GOTO {
                return Err(reserved("src (jcond kind)", "0 (may_goto)", r.src as i64));
            }
            zero_dst(r)?;
            zero_imm(r)?;
            return Ok(Insn::MayGoto { off: r.off });
        }
        JMP_JEQ => JmpOp::Eq,
        JMP_JGT => JmpOp::Gt,
        JMP_JGE => JmpOp::Ge,
        JMP_JSET => JmpOp::Set,
        JMP_JNE => JmpOp::Ne,
        JMP_JSGT => JmpOp::Sgt,
        JMP_JSGE => JmpOp::Sge,
        JMP_JLT => JmpOp::Lt,
        JMP_JLE => JmpOp::Le,
        JMP_JSLT => JmpOp::Slt,
        JMP_JSLE => JmpOp::Sle,
        _ => return Err(DecodeErrorKind::UnknownOpcode(op)),
    };
    let src = if x {
        zero_imm(r)?;
        Operand::Reg(rd("src", r.src)?)
    } else {
        zero_src(r)?;
        Operand::Imm(r.imm)
    };
    Ok(Insn::Jump {
        width: if jmp32 { Width::W32 } else { Width::W64 },
        op: cond,
        dst: rd("dst", r.dst)?,
        src,
        off: r.off,
    })
}

fn zero_off_unless_kfunc(r: &RawInsn) -> R<()> {
    if r.opcode & SRC_X == 0 && r.src == PSEUDO_KFUNC_CALL {
        return Ok(());
    }
    zero_off(r)
}
