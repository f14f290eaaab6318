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
        code => match cond_jump(code) {
            Some(j) => j,
            None => return Err(DecodeErrorKind::UnknownOpcode(op)),
        },
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

/// What the fast path of [`decode_fast`] makes of an opcode.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FastKind {
    /// Not on the fast path: [`decode_insn`] decides (rare forms and every error).
    Slow,
    AluImm,
    AluReg,
    Neg,
    Endian,
    JmpImm,
    JmpReg,
    Ja,
    Exit,
    /// Helper (`src` 0) or local (`src` 1) call.
    Call,
    Load,
    StoreImm,
    StoreReg,
    /// `lddw` with `src` 0 (a plain 64-bit constant).
    Lddw,
}

/// Per-opcode facts for the fast path: the operation and which fields must be what.
#[derive(Clone, Copy)]
struct FastEntry {
    kind: FastKind,
    width: Width,
    alu: AluOp,
    jmp: JmpOp,
    size: Size,
    order: ByteOrder,
    /// Largest `dst` accepted (0 when it must be zero, 9 when written, 10 when read).
    dst_max: u8,
    /// Largest `src` accepted (0 when it must be zero).
    src_max: u8,
    /// The offset must be zero.
    off_zero: bool,
    /// The immediate must be zero.
    imm_zero: bool,
}

const fn fast_entry(op: u8) -> FastEntry {
    let slow = FastEntry {
        kind: FastKind::Slow,
        width: Width::W64,
        alu: AluOp::Add,
        jmp: JmpOp::Eq,
        size: Size::W,
        order: ByteOrder::ToLe,
        dst_max: 0,
        src_max: 0,
        off_zero: true,
        imm_zero: true,
    };
    let x = op & SRC_X != 0;
    let code = op & 0xf0;
    let cls = op & 0x07;
    let width = if cls == CLS_ALU || cls == CLS_JMP32 {
        Width::W32
    } else {
        Width::W64
    };
    let size = match op & 0x18 {
        SZ_W => Size::W,
        SZ_H => Size::H,
        SZ_B => Size::B,
        _ => Size::DW,
    };
    let e = FastEntry {
        width,
        size,
        ..slow
    };
    match cls {
        CLS_ALU | CLS_ALU64 => {
            let alu = match code {
                ALU_ADD => AluOp::Add,
                ALU_SUB => AluOp::Sub,
                ALU_MUL => AluOp::Mul,
                // Offset 0 only: the signed forms (offset 1) take the slow path.
                ALU_DIV => AluOp::Div,
                ALU_MOD => AluOp::Mod,
                ALU_OR => AluOp::Or,
                ALU_AND => AluOp::And,
                ALU_LSH => AluOp::Lsh,
                ALU_RSH => AluOp::Rsh,
                ALU_XOR => AluOp::Xor,
                ALU_ARSH => AluOp::Arsh,
                // Offset 0 only: sign-extending moves and address-space casts are slow.
                ALU_MOV => AluOp::Mov,
                ALU_NEG if !x => {
                    return FastEntry {
                        kind: FastKind::Neg,
                        dst_max: 9,
                        ..e
                    }
                }
                ALU_END if !(x && cls == CLS_ALU64) => {
                    let order = match (cls == CLS_ALU64, x) {
                        (false, false) => ByteOrder::ToLe,
                        (false, true) => ByteOrder::ToBe,
                        _ => ByteOrder::Swap,
                    };
                    return FastEntry {
                        kind: FastKind::Endian,
                        order,
                        dst_max: 9,
                        imm_zero: false,
                        ..e
                    };
                }
                _ => return slow,
            };
            FastEntry {
                kind: if x {
                    FastKind::AluReg
                } else {
                    FastKind::AluImm
                },
                alu,
                dst_max: 9,
                src_max: if x { 10 } else { 0 },
                imm_zero: x,
                ..e
            }
        }
        CLS_JMP | CLS_JMP32 => {
            let jmp = match code {
                JMP_JA if !x && cls == CLS_JMP => {
                    return FastEntry {
                        kind: FastKind::Ja,
                        off_zero: false,
                        ..e
                    }
                }
                JMP_EXIT if !x && cls == CLS_JMP => {
                    return FastEntry {
                        kind: FastKind::Exit,
                        ..e
                    }
                }
                JMP_CALL if !x && cls == CLS_JMP => {
                    return FastEntry {
                        kind: FastKind::Call,
                        src_max: 1,
                        imm_zero: false,
                        ..e
                    }
                }
                c => match cond_jump(c) {
                    Some(j) => j,
                    None => return slow,
                },
            };
            FastEntry {
                kind: if x {
                    FastKind::JmpReg
                } else {
                    FastKind::JmpImm
                },
                jmp,
                dst_max: 10,
                src_max: if x { 10 } else { 0 },
                off_zero: false,
                imm_zero: x,
                ..e
            }
        }
        CLS_LDX if op & 0xe0 == MODE_MEM => FastEntry {
            kind: FastKind::Load,
            dst_max: 9,
            src_max: 10,
            off_zero: false,
            ..e
        },
        CLS_ST if op & 0xe0 == MODE_MEM => FastEntry {
            kind: FastKind::StoreImm,
            dst_max: 10,
            off_zero: false,
            imm_zero: false,
            ..e
        },
        CLS_STX if op & 0xe0 == MODE_MEM => FastEntry {
            kind: FastKind::StoreReg,
            dst_max: 10,
            src_max: 10,
            off_zero: false,
            ..e
        },
        CLS_LD if op == LDDW => FastEntry {
            kind: FastKind::Lddw,
            dst_max: 9,
            imm_zero: false,
            ..e
        },
        _ => slow,
    }
}

static FAST: [FastEntry; 256] = {
    let mut t = [fast_entry(0); 256];
    let mut op = 0;
    while op < 256 {
        t[op] = fast_entry(op as u8);
        op += 1;
    }
    t
};

/// A register number the fast path has checked to be at most 10.
#[inline(always)]
fn checked_reg(n: u8) -> Reg {
    debug_assert!(n <= 10);
    Reg::from_checked(n)
}

/// The common, well-formed instructions, decoded with one table look-up and one combined
/// field check; `None` for everything else (rarer forms and every malformed slot), which
/// [`decode_insn`] then decodes or rejects. Whenever this returns `Some((insn, n, _))`,
/// `decode_insn` on the same slots returns `Ok((insn, n))`.
///
/// `next` gives the slot after `r`, if there is one (consulted for `lddw` only). The
/// third value says whether the instruction has a [`Insn::branch_offset`].
#[inline(always)]
pub(crate) fn decode_fast(
    r: RawInsn,
    next: impl FnOnce() -> Option<RawInsn>,
) -> Option<(Insn, usize, bool)> {
    let e = &FAST[r.opcode as usize];
    let bad = (r.dst > e.dst_max)
        | (r.src > e.src_max)
        | (e.off_zero & (r.off != 0))
        | (e.imm_zero & (r.imm != 0));
    if bad {
        return None;
    }
    let dst = checked_reg(r.dst);
    let mut branch = false;
    let insn = match e.kind {
        FastKind::Slow => return None,
        FastKind::AluImm => Insn::Alu {
            width: e.width,
            op: e.alu,
            dst,
            src: Operand::Imm(r.imm),
        },
        FastKind::AluReg => Insn::Alu {
            width: e.width,
            op: e.alu,
            dst,
            src: Operand::Reg(checked_reg(r.src)),
        },
        FastKind::Neg => Insn::Neg {
            width: e.width,
            dst,
        },
        FastKind::Endian => {
            if !matches!(r.imm, 16 | 32 | 64) {
                return None;
            }
            Insn::Endian {
                order: e.order,
                bits: r.imm as u8,
                dst,
            }
        }
        FastKind::JmpImm => {
            branch = true;
            Insn::Jump {
                width: e.width,
                op: e.jmp,
                dst,
                src: Operand::Imm(r.imm),
                off: r.off,
            }
        }
        FastKind::JmpReg => {
            branch = true;
            Insn::Jump {
                width: e.width,
                op: e.jmp,
                dst,
                src: Operand::Reg(checked_reg(r.src)),
                off: r.off,
            }
        }
        FastKind::Ja => {
            branch = true;
            Insn::Ja {
                off: r.off as i32,
                long: false,
            }
        }
        FastKind::Exit => Insn::Exit,
        FastKind::Call => {
            if r.src == 0 {
                Insn::Call(CallTarget::Helper(r.imm))
            } else {
                branch = true;
                Insn::Call(CallTarget::Local(r.imm))
            }
        }
        FastKind::Load => Insn::Load {
            size: e.size,
            sign_extend: false,
            dst,
            src: checked_reg(r.src),
            off: r.off,
        },
        FastKind::StoreImm => Insn::Store {
            size: e.size,
            dst,
            off: r.off,
            src: Operand::Imm(r.imm),
        },
        FastKind::StoreReg => Insn::Store {
            size: e.size,
            dst,
            off: r.off,
            src: Operand::Reg(checked_reg(r.src)),
        },
        FastKind::Lddw => {
            let hi = next()?;
            if hi.opcode | hi.dst | hi.src != 0 || hi.off != 0 {
                return None;
            }
            return Some((
                Insn::LoadImm64 {
                    dst,
                    value: LoadImm64::Imm((r.imm as u32 as u64) | ((hi.imm as u32 as u64) << 32)),
                },
                2,
                false,
            ));
        }
    };
    Some((insn, 1, branch))
}

/// The conditional jump of a jump-class operation code (`code` = `op & 0xf0`), if it is one.
const fn cond_jump(code: u8) -> Option<JmpOp> {
    Some(match code {
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
        _ => return None,
    })
}

#[cfg(test)]
mod fast_tests {
    use super::*;

    const OFFS: [i16; 8] = [0, 1, -1, 8, 16, 32, i16::MAX, i16::MIN];
    const IMMS: [i32; 10] = [0, 1, -1, 16, 32, 64, 0x100, 0x110, 0x10000, i32::MIN];

    /// The fast path agrees with `decode_insn` on every opcode and field combination
    /// tried: where it decodes, it gives `decode_insn`'s instruction and length (and a
    /// correct branch flag); where it declines, nothing is lost (`decode_insn` decides).
    #[test]
    fn fast_path_matches_decode_insn() {
        let mut fast = 0usize;
        let nexts = [
            None,
            Some(RawInsn::default()),
            Some(RawInsn::new(0, 0, 0, 0, -7)),
            Some(RawInsn::new(0x18, 0, 0, 0, 0)),
            Some(RawInsn::new(0, 1, 0, 0, 0)),
            Some(RawInsn::new(0, 0, 0, 3, 0)),
        ];
        for opcode in 0..=255u8 {
            // Registers past the 4-bit field too: `RawInsn`'s fields are public.
            for dst in (0..=16u8).chain([200]) {
                for src in (0..=16u8).chain([255]) {
                    for off in OFFS {
                        for imm in IMMS {
                            let r = RawInsn {
                                opcode,
                                dst,
                                src,
                                off,
                                imm,
                            };
                            let cases: &[Option<RawInsn>] =
                                if opcode == LDDW { &nexts } else { &nexts[..2] };
                            for &next in cases {
                                let Some((insn, n, branch)) = decode_fast(r, || next) else {
                                    continue;
                                };
                                fast += 1;
                                let slots: Vec<RawInsn> = std::iter::once(r).chain(next).collect();
                                assert_eq!(decode_insn(&slots), Ok((insn, n)), "{r:?} {next:?}");
                                assert_eq!(branch, insn.branch_offset().is_some(), "{r:?}");
                            }
                        }
                    }
                }
            }
        }
        // Not vacuous: the common forms are on the fast path.
        assert!(fast > 100_000, "only {fast} fast decodes");
    }

    #[test]
    fn fast_path_declines_malformed_slots() {
        // A few malformed slots of fast-path opcodes: the fast path declines them all.
        for r in [
            RawInsn::new(0xb7, 10, 0, 0, 1), // write to r10
            RawInsn::new(0x07, 1, 2, 0, 1),  // src set on an immediate ALU op
            RawInsn::new(0x0f, 1, 2, 0, 1),  // immediate set on a register ALU op
            RawInsn::new(0x95, 0, 0, 0, 1),  // exit with an immediate
            RawInsn::new(0x85, 0, 3, 0, 1),  // unknown call kind
            RawInsn::new(0x61, 1, 11, 0, 0), // src r11
            RawInsn::new(0xdc, 1, 0, 0, 8),  // byte swap of 8 bits
            RawInsn::new(0x05, 1, 0, 2, 0),  // ja with a dst
            RawInsn::new(0x18, 1, 0, 0, 0),  // lddw without a second slot (below)
        ] {
            assert!(decode_fast(r, || None).is_none(), "{r:?}");
            assert!(decode_insn(&[r]).is_err(), "{r:?}");
        }
    }
}
