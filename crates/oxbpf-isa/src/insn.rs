//! The typed instruction model.
//!
//! Every encoding accepted by [`crate::decode`] maps to exactly one [`Insn`] and every
//! `Insn` encodes back to exactly the bytes it came from ([`crate::encode`]), so the model
//! is lossless: there is no "raw" escape hatch and no field that the encoder has to invent.
//!
//! Jump and call offsets are kept in the unit the encoding uses: 8-byte instruction slots,
//! relative to the slot after the instruction. A `lddw` ([`Insn::LoadImm64`]) occupies two
//! slots; see [`crate::Program`] for the slot/index bookkeeping.

use std::fmt;

/// An eBPF register, `r0` to `r10`. `r10` is the read-only frame pointer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(u8);

impl Reg {
    pub const R0: Reg = Reg(0);
    pub const R1: Reg = Reg(1);
    pub const R2: Reg = Reg(2);
    pub const R3: Reg = Reg(3);
    pub const R4: Reg = Reg(4);
    pub const R5: Reg = Reg(5);
    pub const R6: Reg = Reg(6);
    pub const R7: Reg = Reg(7);
    pub const R8: Reg = Reg(8);
    pub const R9: Reg = Reg(9);
    /// The frame pointer.
    pub const R10: Reg = Reg(10);
    /// Alias of [`Reg::R10`].
    pub const FP: Reg = Reg(10);

    /// `Some` for 0..=10.
    pub const fn new(n: u8) -> Option<Reg> {
        if n <= 10 {
            Some(Reg(n))
        } else {
            None
        }
    }

    /// A register from a number the caller has checked to be at most 10.
    pub(crate) const fn from_checked(n: u8) -> Reg {
        Reg(n)
    }

    /// The register number, 0..=10.
    pub const fn num(self) -> u8 {
        self.0
    }

    /// The register number as an index, 0..=10.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// All eleven registers in order.
    pub fn all() -> impl Iterator<Item = Reg> {
        (0..=10).map(Reg)
    }
}

impl fmt::Debug for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// Operation width of ALU and conditional-jump instructions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Width {
    /// `BPF_ALU` / `BPF_JMP32`: operate on the low 32 bits; ALU results are zero-extended.
    W32,
    /// `BPF_ALU64` / `BPF_JMP`.
    W64,
}

/// Memory access size.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Size {
    /// 1 byte (`BPF_B`).
    B,
    /// 2 bytes (`BPF_H`).
    H,
    /// 4 bytes (`BPF_W`).
    W,
    /// 8 bytes (`BPF_DW`).
    DW,
}

impl Size {
    /// Size in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }
}

/// Second operand of ALU, jump and store instructions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Operand {
    /// `BPF_X`: a register.
    Reg(Reg),
    /// `BPF_K`: the 32-bit immediate, sign-extended to 64 bits where the operation is 64-bit.
    Imm(i32),
}

/// Two-operand ALU operations (`BPF_ALU` / `BPF_ALU64`).
///
/// `NEG` and `END` have no source operand and are separate [`Insn`] variants.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AluOp {
    Add,
    Sub,
    Mul,
    /// Unsigned division (`BPF_DIV`, offset 0). Division by zero yields 0.
    Div,
    /// Signed division (`BPF_DIV`, offset 1, ISA v4). Division by zero yields 0.
    SDiv,
    Or,
    And,
    Lsh,
    Rsh,
    /// Unsigned modulo (`BPF_MOD`, offset 0). Modulo by zero leaves dst unchanged
    /// (its upper half zeroed for the 32-bit form).
    Mod,
    /// Signed modulo (`BPF_MOD`, offset 1, ISA v4).
    SMod,
    Xor,
    Mov,
    /// `BPF_MOV` with offset 8/16/32 and a register source (ISA v4): move with sign extension
    /// of the low 8, 16 or 32 bits of the source. `MovSx32` exists only in the 64-bit form.
    MovSx8,
    MovSx16,
    MovSx32,
    /// Arithmetic (sign-preserving) right shift.
    Arsh,
}

/// Byte-swap flavours of `BPF_END`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ByteOrder {
    /// `BPF_ALU | BPF_END | BPF_TO_LE`: convert to little endian (truncate on x86).
    ToLe,
    /// `BPF_ALU | BPF_END | BPF_TO_BE`: convert to big endian.
    ToBe,
    /// `BPF_ALU64 | BPF_END` (ISA v4): unconditional byte swap.
    Swap,
}

/// Conditional-jump comparisons.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum JmpOp {
    Eq,
    /// Unsigned `>`.
    Gt,
    /// Unsigned `>=`.
    Ge,
    /// `dst & src != 0`.
    Set,
    Ne,
    /// Signed `>`.
    Sgt,
    /// Signed `>=`.
    Sge,
    /// Unsigned `<`.
    Lt,
    /// Unsigned `<=`.
    Le,
    /// Signed `<`.
    Slt,
    /// Signed `<=`.
    Sle,
}

impl JmpOp {
    /// The comparison with its operands swapped (`a op b` == `b op.swapped() a`).
    pub const fn swapped(self) -> JmpOp {
        match self {
            JmpOp::Eq => JmpOp::Eq,
            JmpOp::Ne => JmpOp::Ne,
            JmpOp::Set => JmpOp::Set,
            JmpOp::Gt => JmpOp::Lt,
            JmpOp::Ge => JmpOp::Le,
            JmpOp::Lt => JmpOp::Gt,
            JmpOp::Le => JmpOp::Ge,
            JmpOp::Sgt => JmpOp::Slt,
            JmpOp::Sge => JmpOp::Sle,
            JmpOp::Slt => JmpOp::Sgt,
            JmpOp::Sle => JmpOp::Sge,
        }
    }

    /// The comparison that is true exactly when this one is false, if there is one
    /// (`Set` has none).
    pub const fn negated(self) -> Option<JmpOp> {
        Some(match self {
            JmpOp::Eq => JmpOp::Ne,
            JmpOp::Ne => JmpOp::Eq,
            JmpOp::Set => return None,
            JmpOp::Gt => JmpOp::Le,
            JmpOp::Ge => JmpOp::Lt,
            JmpOp::Lt => JmpOp::Ge,
            JmpOp::Le => JmpOp::Gt,
            JmpOp::Sgt => JmpOp::Sle,
            JmpOp::Sge => JmpOp::Slt,
            JmpOp::Slt => JmpOp::Sge,
            JmpOp::Sle => JmpOp::Sgt,
        })
    }
}

/// Read-modify-write operations of `BPF_STX | BPF_ATOMIC`, plus the ordered load and store
/// that Linux added to the same opcode.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AtomicOp {
    /// `*(dst + off) += src`; with `fetch`, `src` receives the old value.
    Add {
        fetch: bool,
    },
    Or {
        fetch: bool,
    },
    And {
        fetch: bool,
    },
    Xor {
        fetch: bool,
    },
    /// `src = xchg(dst + off, src)` (always fetches).
    Xchg,
    /// `r0 = cmpxchg(dst + off, r0, src)` (always fetches, into `r0`).
    CmpXchg,
    /// `BPF_LOAD_ACQ` (imm 0x100): `dst = load_acquire(src + off)`. Note the register roles:
    /// the destination register is `dst`, the address register is `src`.
    LoadAcquire,
    /// `BPF_STORE_REL` (imm 0x110): `store_release(dst + off, src)`.
    StoreRelease,
}

impl AtomicOp {
    /// True when the instruction writes a register (the old value or the loaded value).
    pub const fn writes_register(self) -> bool {
        match self {
            AtomicOp::Add { fetch }
            | AtomicOp::Or { fetch }
            | AtomicOp::And { fetch }
            | AtomicOp::Xor { fetch } => fetch,
            AtomicOp::Xchg | AtomicOp::CmpXchg | AtomicOp::LoadAcquire => true,
            AtomicOp::StoreRelease => false,
        }
    }
}

/// What the 64-bit immediate of a `lddw` means (`src` field of its first slot).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LoadImm64 {
    /// src 0: the 64-bit constant itself.
    Imm(u64),
    /// src 1 (`BPF_PSEUDO_MAP_FD`): the map with this file descriptor.
    MapFd(i32),
    /// src 2 (`BPF_PSEUDO_MAP_VALUE`): address of `offset` bytes into the value of the map
    /// with this file descriptor.
    MapValue { fd: i32, offset: u32 },
    /// src 3 (`BPF_PSEUDO_BTF_ID`): address of the kernel variable with BTF id `btf_id`
    /// in the BTF object `btf_fd` (0: vmlinux), which Linux keeps in the second slot.
    VariableAddr { btf_id: i32, btf_fd: i32 },
    /// src 4 (`BPF_PSEUDO_FUNC`): address of the function starting `offset` slots after the
    /// slot following the `lddw`'s first slot (the same convention as a local call).
    CodeAddr(i32),
    /// src 5 (`BPF_PSEUDO_MAP_IDX`): the map with this index in the program's map table.
    MapIdx(i32),
    /// src 6 (`BPF_PSEUDO_MAP_IDX_VALUE`): address of `offset` bytes into the value of the
    /// map with this index.
    MapIdxValue { idx: i32, offset: u32 },
}

/// Addressing mode of the legacy packet loads (`BPF_LD | BPF_ABS/BPF_IND`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PacketMode {
    /// `r0 = ntoh(*(size *)(skb->data + imm))`.
    Abs,
    /// `r0 = ntoh(*(size *)(skb->data + src + imm))`.
    Ind(Reg),
}

/// Target of a `BPF_CALL` with an immediate.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CallTarget {
    /// src 0: helper function by its static id.
    Helper(i32),
    /// src 1 (`BPF_PSEUDO_CALL`): bpf-to-bpf call; the callee starts `offset` slots after
    /// the slot following the call.
    Local(i32),
    /// src 2 (`BPF_PSEUDO_KFUNC_CALL`): an external function registered by the runtime (a
    /// kfunc in Linux), identified by `id` (a BTF id in Linux); `module` is the `off` field
    /// (BTF module index, 0 for vmlinux).
    External { id: i32, module: i16 },
}

/// One eBPF instruction.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Insn {
    /// `dst = dst op src` (32- or 64-bit).
    Alu {
        width: Width,
        op: AluOp,
        dst: Reg,
        src: Operand,
    },
    /// `dst = -dst`.
    Neg { width: Width, dst: Reg },
    /// Byte swap of the low `bits` (16, 32 or 64) of `dst`; the result is zero-extended.
    Endian {
        order: ByteOrder,
        bits: u8,
        dst: Reg,
    },
    /// `BPF_ALU64 | BPF_MOV | BPF_X` with offset 1: `dst = addr_space_cast(src, dst_as,
    /// src_as)`. Linux accepts (dst_as, src_as) of (0, 1) and (1, 0).
    AddrSpaceCast {
        dst: Reg,
        src: Reg,
        dst_as: u16,
        src_as: u16,
    },
    /// `BPF_LDX | BPF_MEM` (`dst = *(size *)(src + off)`), or with `sign_extend`
    /// `BPF_LDX | BPF_MEMSX` (ISA v4; sizes B, H, W only).
    Load {
        size: Size,
        sign_extend: bool,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// `*(size *)(dst + off) = src`: `BPF_STX | BPF_MEM` for a register, `BPF_ST | BPF_MEM`
    /// for an immediate (sign-extended to the store size).
    Store {
        size: Size,
        dst: Reg,
        off: i16,
        src: Operand,
    },
    /// `BPF_STX | BPF_ATOMIC`. Sizes W and DW for read-modify-write operations; B, H, W, DW
    /// for `LoadAcquire` / `StoreRelease`.
    Atomic {
        size: Size,
        op: AtomicOp,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// `lddw` (`BPF_LD | BPF_IMM | BPF_DW`), two slots.
    LoadImm64 { dst: Reg, value: LoadImm64 },
    /// Legacy packet access `BPF_LD | BPF_ABS/BPF_IND` (sizes B, H, W): loads from the
    /// packet in the context and converts from network byte order into `r0`; clobbers
    /// r1-r5 in Linux.
    LoadPacket {
        mode: PacketMode,
        size: Size,
        imm: i32,
    },
    /// Unconditional jump: `BPF_JMP | BPF_JA` with a 16-bit offset, or with `long`
    /// `BPF_JMP32 | BPF_JA` (`gotol`, ISA v4) whose 32-bit offset is in the immediate.
    Ja { off: i32, long: bool },
    /// Conditional jump `if dst op src goto +off`.
    Jump {
        width: Width,
        op: JmpOp,
        dst: Reg,
        src: Operand,
        off: i16,
    },
    /// `BPF_JMP | BPF_JCOND` with src `BPF_MAY_GOTO`: jumps when the per-program loop
    /// budget is exhausted, falls through (and decrements it) otherwise.
    MayGoto { off: i16 },
    /// Call with an immediate target.
    Call(CallTarget),
    /// `BPF_JMP | BPF_CALL | BPF_X`: call the helper whose id is in `reg` (the register
    /// number is in the `dst` field, as LLVM and the conformance suite encode it).
    CallX { reg: Reg },
    /// Return from the current function (the program, at the outermost frame) with `r0`.
    Exit,
}

impl Insn {
    /// Number of 8-byte slots this instruction occupies (2 for `lddw`, else 1).
    pub const fn slots(&self) -> usize {
        match self {
            Insn::LoadImm64 { .. } => 2,
            _ => 1,
        }
    }

    /// Relative jump offset in slots (from the slot after this instruction) for jumps,
    /// `may_goto`, local calls and code-address loads.
    pub const fn branch_offset(&self) -> Option<i64> {
        match *self {
            Insn::Ja { off, .. } => Some(off as i64),
            Insn::Jump { off, .. } => Some(off as i64),
            Insn::MayGoto { off } => Some(off as i64),
            Insn::Call(CallTarget::Local(off)) => Some(off as i64),
            Insn::LoadImm64 {
                value: LoadImm64::CodeAddr(off),
                ..
            } => Some(off as i64),
            _ => None,
        }
    }

    /// The register this instruction writes, if any (not counting the r1-r5 clobber of
    /// calls or the r0 result of calls and packet loads).
    pub const fn written_reg(&self) -> Option<Reg> {
        match *self {
            Insn::Alu { dst, .. }
            | Insn::Neg { dst, .. }
            | Insn::Endian { dst, .. }
            | Insn::AddrSpaceCast { dst, .. }
            | Insn::Load { dst, .. }
            | Insn::LoadImm64 { dst, .. } => Some(dst),
            Insn::Atomic { op, src, dst, .. } => match op {
                AtomicOp::CmpXchg => Some(Reg::R0),
                AtomicOp::LoadAcquire => Some(dst),
                _ if op.writes_register() => Some(src),
                _ => None,
            },
            Insn::LoadPacket { .. } => Some(Reg::R0),
            _ => None,
        }
    }
}
