//! The interpreter's pre-decoded instruction form and the translation from [`Program`].
//!
//! Each [`Insn`] becomes one 16-byte [`Op`]: a specialised [`Code`] (operation, width,
//! operand kind and, for memory accesses, the order of the two fast checks folded into one
//! 16-bit code, so the dispatch loop needs a single `match` and every handler loads only the
//! operands it uses), register numbers as a 0..=10 enum, and pre-computed operands:
//! immediates already sign-extended (64-bit forms) or truncated (32-bit forms), shift counts
//! already masked, jump and call targets resolved to op indices, helpers resolved to table
//! indices. One extra [`Code::FellOffEnd`] op after the last instruction catches execution
//! that runs off the end, and the ops are padded with more of them to a power of two (the
//! loop finds a jump target with a mask, no bounds check).
//!
//! A memory access whose base register may hold a stack address (a small forward data
//! flow, `stack_regs`) checks the live stack first, the others the cached region first: both
//! orders check the same, one of them hits sooner. `frame_use` finds how much of each frame
//! a program can address (see `mem`).
//!
//! # Superinstructions
//!
//! The fast ops (`Compiled::ops`) are the plain ops with some replaced by *superinstructions*
//! ([`Code::is_fused`]): the op at index `i` does the work of instructions `i..i + k` and
//! the loop continues at `i + k`. The ops at `i + 1..` stay as they were, so a jump into the
//! middle of a fused sequence runs the plain instructions from there. Because a fused op
//! sits at the index of its first instruction and advances the index by the number of
//! instructions it covers, op indices keep counting instructions and the segment-based
//! instruction count of the dispatch loop stays exact. The loop that checks the budget
//! before every instruction runs the plain op instead (`Compiled::plain`). The patterns,
//! chosen from what clang emits for BPF (two-operand code needs a `mov` before most
//! operations, array indexing is `mov`+`add`+`load`, loop latches are
//! `if cond goto +1; goto head`) and from pair counts of executed ops on the benchmark
//! programs:
//!
//! - `rD = rS; rD op= X` → `rD = rS op X` (three-address ALU, [`Code::MAdd64R`] ...);
//! - `rD = rS; rD += rT; rD = *(size *)(rD + off)` and `rD += rT; rD = *(size *)(rD + off)`
//!   → one indexed load ([`Code::LdxIdxB`], [`Code::LdxAddB`] ...);
//! - `rD = rS; rD += imm; rD += rT` → `rD = rS + imm + rT` ([`Code::MAddIR`]);
//! - `rD = imm; rD op= rS` → `rD = imm op rS` ([`Code::KAdd64R`] ...), and
//!   `rT = imm; rD op= rT` → both ([`Code::TAdd64`] ...);
//! - two moves ([`Code::MovMov`]);
//! - `rD <<= imm; rD |= rS`, the end of a rotation ([`Code::ShlOr64`], [`Code::ShlOr32`]);
//! - `rD += imm; if rD ==/!= imm goto A` (a loop counter), with the latch `goto` after it
//!   when there is one ([`Code::AddJEq64I`] ...);
//! - `if cond goto A; goto B` → a two-way branch ([`Code::JEq64RJa`] ...).

use super::mem::FrameSize;
use crate::error::LoadError;
use crate::helper::{HelperFn, Helpers};
use crate::STACK_SIZE;
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

/// Defines [`Code`] with the jump codes generated from one list of conditions, so that the
/// plain jumps and their fused `if cond goto A; goto B` forms stay in step.
macro_rules! codes {
    (
        plain { $($(#[$pm:meta])* $p:ident,)* }
        jumps { $($j:ident / $jf:ident,)* }
        fused { $($(#[$fm:meta])* $f:ident,)* }
    ) => {
        /// Operation of a pre-decoded op. `R`: register source, `I`: immediate source.
        /// Fields per code are described on [`Op`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u16)]
        pub(crate) enum Code {
            $($(#[$pm])* $p,)*
            $($j,)*
            $($(#[$fm])* $f,)*
            $($jf,)*
        }

        /// Every fused code, first to last (see [`Code::is_fused`]).
        #[cfg(test)]
        pub(crate) const FUSED_CODES: &[Code] = &[$(Code::$f,)* $(Code::$jf,)*];

        /// The fused two-way form of a plain conditional jump.
        fn fused_jump(c: Code) -> Option<Code> {
            match c {
                $(Code::$j => Some(Code::$jf),)*
                _ => None,
            }
        }
    };
}

codes! {
    plain {
        // 64-bit ALU
        Add64R, Add64I, Sub64R, Sub64I, Mul64R, Mul64I, Div64R, Div64I, SDiv64R, SDiv64I,
        Mod64R, Mod64I, SMod64R, SMod64I, Or64R, Or64I, And64R, And64I, Xor64R, Xor64I,
        Lsh64R, Lsh64I, Rsh64R, Rsh64I, Arsh64R, Arsh64I, Mov64R,
        /// Also `lddw` (`b` holds all 64 bits) and code addresses.
        Mov64I,
        MovSx8To64, MovSx16To64, MovSx32To64, Neg64,
        // 32-bit ALU (results zero-extended)
        Add32R, Add32I, Sub32R, Sub32I, Mul32R, Mul32I, Div32R, Div32I, SDiv32R, SDiv32I,
        Mod32R, Mod32I, SMod32R, SMod32I, Or32R, Or32I, And32R, And32I, Xor32R, Xor32I,
        Lsh32R, Lsh32I, Rsh32R, Rsh32I, Arsh32R, Arsh32I,
        /// Also `addr_space_cast` to address space 1.
        Mov32R,
        Mov32I, MovSx8To32, MovSx16To32, Neg32,
        // byte order
        Le16, Le32, Le64, Be16, Be32, Be64, Swap16, Swap32, Swap64,
        // memory: `off` is the offset
        LdxB, LdxH, LdxW, LdxDW, LdxSB, LdxSH, LdxSW, StxB, StxH, StxW, StxDW,
        /// `b` is the sign-extended immediate.
        StB,
        StH, StW, StDW,
        // the same, checking the cached region before the stack (`base` not known to hold
        // a stack address: see `stack_regs`)
        RLdxB, RLdxH, RLdxW, RLdxDW, RLdxSB, RLdxSH, RLdxSW, RStxB, RStxH, RStxW, RStxDW,
        RStB, RStH, RStW, RStDW,
        /// `b` = [`AtomicKind`] in the low half, the size in bytes in the high half.
        Atomic,
        /// `off` = size in bytes, `b` = the offset (sign-extended).
        LdAbs,
        /// As `LdAbs`; `src` = the index register.
        LdInd,
        /// `b` = the target op index.
        Ja,
        /// `b` = the target op index.
        MayGoto,
        /// `b` = index into the resolved call table.
        Call,
        /// A helper or external function that was not registered: `b` = the id, `off` = 1
        /// for an external function.
        CallMissing,
        /// bpf-to-bpf call: `b` = the callee's op index.
        CallLocal,
        /// `dst` = the register holding the helper id or code address.
        CallX,
        Exit,
        /// Sentinel after the last instruction (and padding).
        FellOffEnd,
    }
    // Conditional jumps: the high 32 bits of `b` = the target op index, the low 32 bits =
    // the immediate of the `I` forms (sign-extended by the 64-bit forms). The fused forms
    // (`...Ja`, for `if cond goto A; goto B` at op `i`) have B in the high 32 bits, and A in
    // the low 32 bits (`R` forms) or A = `i + 2` (`I` forms).
    jumps {
        JEq64R / JEq64RJa, JEq64I / JEq64IJa, JNe64R / JNe64RJa, JNe64I / JNe64IJa,
        JGt64R / JGt64RJa, JGt64I / JGt64IJa, JGe64R / JGe64RJa, JGe64I / JGe64IJa,
        JLt64R / JLt64RJa, JLt64I / JLt64IJa, JLe64R / JLe64RJa, JLe64I / JLe64IJa,
        JSet64R / JSet64RJa, JSet64I / JSet64IJa, JSgt64R / JSgt64RJa, JSgt64I / JSgt64IJa,
        JSge64R / JSge64RJa, JSge64I / JSge64IJa, JSlt64R / JSlt64RJa, JSlt64I / JSlt64IJa,
        JSle64R / JSle64RJa, JSle64I / JSle64IJa,
        JEq32R / JEq32RJa, JEq32I / JEq32IJa, JNe32R / JNe32RJa, JNe32I / JNe32IJa,
        JGt32R / JGt32RJa, JGt32I / JGt32IJa, JGe32R / JGe32RJa, JGe32I / JGe32IJa,
        JLt32R / JLt32RJa, JLt32I / JLt32IJa, JLe32R / JLe32RJa, JLe32I / JLe32IJa,
        JSet32R / JSet32RJa, JSet32I / JSet32IJa, JSgt32R / JSgt32RJa, JSgt32I / JSgt32IJa,
        JSge32R / JSge32RJa, JSge32I / JSge32IJa, JSlt32R / JSlt32RJa, JSlt32I / JSlt32IJa,
        JSle32R / JSle32RJa, JSle32I / JSle32IJa,
    }
    fused {
        /// `dst = src + r3` (`mov` + `add`, 2 instructions); likewise the others.
        MAdd64R,
        /// `dst = src + b` (2 instructions); likewise the others.
        MAdd64I,
        MSub64R, MSub64I, MMul64R, MMul64I, MOr64R, MOr64I, MAnd64R, MAnd64I,
        MXor64R, MXor64I, MLsh64R, MLsh64I, MRsh64R, MRsh64I, MArsh64R, MArsh64I,
        MAdd32R, MAdd32I, MSub32R, MSub32I, MMul32R, MMul32I, MOr32R, MOr32I,
        MAnd32R, MAnd32I, MXor32R, MXor32I, MLsh32R, MLsh32I, MRsh32R, MRsh32I,
        MArsh32R, MArsh32I,
        /// `dst = *(u8 *)(src + r3 + off)` (`mov`, `add`, `load`: 3 instructions).
        LdxIdxB,
        LdxIdxH, LdxIdxW, LdxIdxDW,
        /// `dst = *(u8 *)(dst + r3 + off)` (`add`, `load`: 2 instructions).
        LdxAddB,
        LdxAddH, LdxAddW, LdxAddDW,
        /// As `LdxIdxB` ... and `LdxAddB` ..., checking the cached region first.
        RLdxIdxB,
        RLdxIdxH, RLdxIdxW, RLdxIdxDW, RLdxAddB, RLdxAddH, RLdxAddW, RLdxAddDW,
        /// `dst = src + b + r3` (`mov`, `add imm`, `add reg`: 3 instructions).
        MAddIR,
        /// `dst = b + src` (`mov imm` + `add reg` on the same register); likewise the others.
        KAdd64R,
        KSub64R, KMul64R, KOr64R, KAnd64R, KXor64R, KLsh64R, KRsh64R, KArsh64R,
        KAdd32R, KSub32R, KMul32R, KOr32R, KAnd32R, KXor32R, KLsh32R, KRsh32R, KArsh32R,
        /// `r3 = b; dst += b` (`mov imm` into r3, then `add` of r3 to another register);
        /// likewise the others.
        TAdd64,
        TSub64, TMul64, TOr64, TAnd64, TXor64,
        /// `dst = src; r3 = r4` (two moves).
        MovMov,
        /// `dst = (dst << b) | src` (`lsh imm` + `or reg`, as in rotations).
        ShlOr64,
        /// As `ShlOr64` on the low 32 bits, zero-extended.
        ShlOr32,
        /// `dst += off; if dst == imm goto A` (A in the high half of `b`); `...Ja`: `dst +=
        /// off; if dst == imm goto +1; goto B` (B in the high half of `b`).
        AddJEq64I,
        AddJNe64I, AddJEq64IJa, AddJNe64IJa,
    }
}

impl Code {
    /// True for superinstructions (ops that stand for more than one instruction).
    #[inline(always)]
    pub(crate) fn is_fused(self) -> bool {
        self as u16 >= Code::MAdd64R as u16
    }
}

/// The operation of an [`Code::Atomic`] op (kept in `b`).
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

/// One pre-decoded instruction (16 bytes). What `off` and `b` hold depends on the
/// code (see [`Code`]); `r3` and `r4` are the further registers of superinstructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(16))]
pub(crate) struct Op {
    pub code: Code,
    pub dst: R,
    pub src: R,
    pub off: i16,
    pub r3: R,
    pub r4: R,
    pub b: u64,
}

const _: () = assert!(std::mem::size_of::<Op>() == 16);

impl Op {
    fn new(code: Code, dst: R, src: R, off: i16, b: u64) -> Op {
        Op {
            code,
            dst,
            src,
            off,
            r3: R::R0,
            r4: R::R0,
            b,
        }
    }

    const FELL_OFF: Op = Op {
        code: Code::FellOffEnd,
        dst: R::R0,
        src: R::R0,
        off: 0,
        r3: R::R0,
        r4: R::R0,
        b: 0,
    };

    /// `off` as a sign-extended memory offset.
    #[inline(always)]
    pub fn off(&self) -> u64 {
        self.off as i64 as u64
    }

    /// The low 32 bits of `b` sign-extended (the immediate of a 64-bit jump).
    #[inline(always)]
    pub fn imm64(&self) -> u64 {
        self.b as u32 as i32 as i64 as u64
    }

    /// The low 32 bits of `b` (the immediate of a 32-bit jump).
    #[inline(always)]
    pub fn imm32(&self) -> u32 {
        self.b as u32
    }

    /// The high 32 bits of `b` (the target of a conditional jump).
    #[inline(always)]
    pub fn hi(&self) -> usize {
        (self.b >> 32) as usize
    }
}

/// The number of ops the handler of an op with code `c` moves on by on its straight-line
/// path: the instructions it stands for (0 for the sentinel, which never moves on). The
/// dispatch loop steps by it and [`super::cursor::Ops::new`] checks it against the table.
#[inline(always)]
pub(crate) fn advance(c: Code) -> usize {
    use Code::*;
    match c {
        FellOffEnd => 0,
        LdxIdxB | LdxIdxH | LdxIdxW | LdxIdxDW | RLdxIdxB | RLdxIdxH | RLdxIdxW | RLdxIdxDW
        | MAddIR | AddJEq64IJa | AddJNe64IJa => 3,
        c if c.is_fused() => 2,
        _ => 1,
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
    /// The ops with superinstructions, padded with [`Code::FellOffEnd`] to a power-of-two
    /// length (at least one more than the instructions).
    pub ops: Box<[Op]>,
    /// `(i, plain op i)` for every fused op, sorted by `i`.
    pub plain: Box<[(u32, Op)]>,
    /// `slot_of[i]`: instruction slot of op `i` (padding has the last instruction's).
    pub slot_of: Box<[u32]>,
    /// Op index starting at each slot, `u32::MAX` for the second slot of a `lddw`.
    pub index_of_slot: Box<[u32]>,
    pub calls: Box<[ResolvedCall]>,
    /// `seg_len16[i]`: 16 times the most instructions that can execute from op `i` before
    /// a taken control transfer (up to and including the next `ja`, `exit`, local call or
    /// `callx`, or up to the end of the program). Same length as `ops`.
    pub seg_len16: Box<[u32]>,
    /// The part of each frame that the program can address (see `frame_use`).
    pub frame: FrameSize,
    /// The program can enter frames beyond its own (local calls, `callx`, or helper calls,
    /// which may call back into the program).
    pub calls_frames: bool,
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

/// Immediate of an ALU op: sign-extended to 64 bits for the 64-bit forms, zero-extended
/// 32 bits for the 32-bit forms (which only look at the low half). Shift counts are masked
/// to the operand width.
fn alu_imm(width: Width, op: AluOp, imm: i32) -> u64 {
    match (width, op) {
        (Width::W64, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh) => imm as u64 & 63,
        (Width::W32, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh) => imm as u64 & 31,
        (Width::W64, _) => imm as i64 as u64,
        (Width::W32, _) => imm as u32 as u64,
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

/// Translates one instruction.
fn translate(
    program: &Program,
    i: usize,
    slot: usize,
    insn: &Insn,
    helpers: &Helpers,
    calls: &mut Vec<ResolvedCall>,
) -> Result<Op, LoadError> {
    // `Program` guarantees every branch target is an instruction start inside it, and
    // MAX_SLOTS keeps indices inside u32.
    let target = || program.branch_target(i).map_or(0, |t| t as u64);
    Ok(match *insn {
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
                alu_imm(width, op, imm),
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
            // No arenas in userspace: to address space 1 keeps the low 32 bits (as Linux
            // rewrites it), to address space 0 is a plain 64-bit move.
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
        } => Op::new(size_ld(size, sign_extend), reg(dst), reg(src), off, 0),
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
                Op::new(code, reg(dst), reg(s), off, 0)
            }
            Operand::Imm(imm) => {
                let code = match size {
                    Size::B => Code::StB,
                    Size::H => Code::StH,
                    Size::W => Code::StW,
                    Size::DW => Code::StDW,
                };
                Op::new(code, reg(dst), R::R0, off, imm as i64 as u64)
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
            Op::new(
                Code::Atomic,
                reg(dst),
                reg(src),
                off,
                kind as u64 | (size.bytes() as u64) << 32,
            )
        }
        Insn::LoadImm64 { dst, value } => {
            let v = match value {
                LoadImm64::Imm(v) => v,
                LoadImm64::CodeAddr(_) => {
                    let t = program.branch_target(i).map_or(0, |t| program.slot(t));
                    CODE_ADDR_BASE + t as u64
                }
                other => {
                    let what = crate::error::unresolved_pseudo(&other).unwrap_or("value");
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
            Op::new(code, R::R0, src, size.bytes() as i16, imm as i64 as u64)
        }
        Insn::Ja { .. } => Op::new(Code::Ja, R::R0, R::R0, 0, target()),
        Insn::Jump {
            width,
            op,
            dst,
            src,
            ..
        } => match src {
            Operand::Reg(s) => Op::new(
                jmp_code(width, op, false),
                reg(dst),
                reg(s),
                0,
                target() << 32,
            ),
            Operand::Imm(imm) => Op::new(
                jmp_code(width, op, true),
                reg(dst),
                R::R0,
                0,
                imm as u32 as u64 | target() << 32,
            ),
        },
        Insn::MayGoto { .. } => Op::new(Code::MayGoto, R::R0, R::R0, 0, target()),
        Insn::Call(CallTarget::Local(_)) => Op::new(Code::CallLocal, R::R0, R::R0, 0, target()),
        Insn::Call(CallTarget::Helper(id)) => {
            // The id is an unsigned 32-bit number (helper ids are never negative).
            let id = id as u32 as u64;
            match helpers.get(id) {
                Some(h) => {
                    calls.push(ResolvedCall {
                        func: h.func.clone(),
                        id,
                    });
                    Op::new(Code::Call, R::R0, R::R0, 0, (calls.len() - 1) as u64)
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
                Op::new(Code::Call, R::R0, R::R0, 0, (calls.len() - 1) as u64)
            }
            None => Op::new(Code::CallMissing, R::R0, R::R0, 1, id as i64 as u64),
        },
        Insn::CallX { reg: r } => Op::new(Code::CallX, reg(r), R::R0, 0, 0),
        Insn::Exit => Op::new(Code::Exit, R::R0, R::R0, 0, 0),
    })
}

/// Translates a program into ops, resolving targets and helpers, and adds the
/// superinstructions (unless `fuse` is false: tests compare both).
pub(crate) fn compile(
    program: &Program,
    helpers: &Helpers,
    fuse_ops: bool,
) -> Result<Compiled, LoadError> {
    let n = program.len();
    let mut plain = Vec::with_capacity(n + 1);
    let mut slot_of = Vec::with_capacity(n + 1);
    let mut calls: Vec<ResolvedCall> = Vec::new();
    for (i, slot, insn) in program.iter() {
        plain.push(translate(program, i, slot, insn, helpers, &mut calls)?);
        slot_of.push(slot as u32);
    }
    // The sentinel, then padding to a power of two, so that the dispatch loop can index
    // the ops with `pc & (len - 1)`, which the compiler knows is in bounds.
    let len = (n + 1).next_power_of_two();
    plain.resize(len, Op::FELL_OFF);
    let last_slot = slot_of.last().copied().unwrap_or(0);
    slot_of.resize(len, last_slot);
    let index_of_slot = (0..program.slot_count())
        .map(|s| program.index_at_slot(s).map_or(u32::MAX, |i| i as u32))
        .collect();
    let mut seg_end: Vec<u32> = (0..len as u32).collect();
    for i in (0..n).rev() {
        seg_end[i] = match plain[i].code {
            Code::Ja | Code::Exit | Code::CallLocal | Code::CallX => i as u32 + 1,
            _ => seg_end[i + 1],
        };
    }
    // At most 2^20 instructions, so 16 times a length fits.
    let seg_len16: Vec<u32> = (0..len).map(|i| 16 * (seg_end[i] - i as u32)).collect();
    // Memory ops whose base register is not known to hold a stack address check the cached
    // region first.
    let entries: Vec<usize> = program
        .iter()
        .filter(|(_, _, insn)| {
            matches!(
                insn,
                Insn::Call(CallTarget::Local(_))
                    | Insn::LoadImm64 {
                        value: LoadImm64::CodeAddr(_),
                        ..
                    }
            )
        })
        .filter_map(|(i, _, _)| program.branch_target(i))
        .collect();
    let stack = stack_regs(&plain, n, &entries);
    for (op, &regs) in plain.iter_mut().zip(&stack) {
        if let Some((code, base)) = region_first(op) {
            if regs & (1 << (base as u16)) == 0 {
                op.code = code;
            }
        }
    }
    let (frame_bytes, calls_frames) = frame_use(&plain[..n]);
    let (ops, fused) = if fuse_ops {
        fuse(&plain, n)
    } else {
        (plain.clone(), Vec::new())
    };
    Ok(Compiled {
        ops: ops.into_boxed_slice(),
        plain: fused.into_boxed_slice(),
        seg_len16: seg_len16.into_boxed_slice(),
        slot_of: slot_of.into_boxed_slice(),
        index_of_slot,
        calls: calls.into_boxed_slice(),
        frame: FrameSize::covering(frame_bytes),
        calls_frames,
    })
}

/// What a program does with its stack: the bytes below `r10` it can address in any frame,
/// and whether it may enter other frames.
///
/// When `r10` never leaves the base position of loads, stores and atomics with constant
/// offsets (no `r10` as a value, no calls of any kind, which could pass a stack pointer on
/// or call back), the only stack bytes the program can name are `[r10 + off, r10 + off +
/// size)` of those accesses: the rest of its frame is unreachable, need not be zeroed, and is
/// left out of the live stack (see `mem`). Otherwise the whole 512-byte frame counts.
/// The result is a power of two between 64 and 512.
fn frame_use(ops: &[Op]) -> (usize, bool) {
    use Code::*;
    let full = STACK_SIZE;
    let mut lowest = 8usize;
    let mut calls_frames = false;
    let mut escapes = false;
    for op in ops {
        // The register an access is based on, its size, and the register whose value it
        // stores (if any).
        let (base, size, value) = match op.code {
            Call | CallLocal | CallX => {
                calls_frames = true;
                continue;
            }
            LdxB | LdxSB => (op.src, 1, None),
            LdxH | LdxSH => (op.src, 2, None),
            LdxW | LdxSW => (op.src, 4, None),
            LdxDW => (op.src, 8, None),
            StB => (op.dst, 1, None),
            StH => (op.dst, 2, None),
            StW => (op.dst, 4, None),
            StDW => (op.dst, 8, None),
            StxB => (op.dst, 1, Some(op.src)),
            StxH => (op.dst, 2, Some(op.src)),
            StxW => (op.dst, 4, Some(op.src)),
            StxDW => (op.dst, 8, Some(op.src)),
            Atomic => {
                let size = (op.b >> 32) as usize;
                if AtomicKind::ALL.get(op.b as u32 as usize) == Some(&AtomicKind::LoadAcquire) {
                    (op.src, size, None)
                } else {
                    (op.dst, size, Some(op.src))
                }
            }
            _ => {
                // r10 read as a value (an ALU source, a compared register, `ldind`'s
                // index): it escapes.
                if op.src == R::R10 || op.dst == R::R10 {
                    escapes = true;
                }
                continue;
            }
        };
        if value == Some(R::R10) {
            escapes = true;
        }
        if base == R::R10 {
            let off = op.off as i64;
            if off < -(full as i64) || off + size as i64 > 0 {
                // Outside the frame: the access faults (or, from a callee, reaches the
                // caller's frame); count the whole frame.
                lowest = full;
            } else {
                lowest = lowest.max((-off) as usize);
            }
        }
    }
    if calls_frames || escapes {
        return (full, calls_frames);
    }
    // Rounded up to a power of two (at least 64), so that zeroing it is a few
    // fixed-size stores.
    (lowest.max(64).next_power_of_two().min(full), false)
}

/// The 64- or 32-bit three-address form of `mov` + this ALU op, if there is one.
fn three_address(c: Code) -> Option<Code> {
    use Code::*;
    Some(match c {
        Add64R => MAdd64R,
        Add64I => MAdd64I,
        Sub64R => MSub64R,
        Sub64I => MSub64I,
        Mul64R => MMul64R,
        Mul64I => MMul64I,
        Or64R => MOr64R,
        Or64I => MOr64I,
        And64R => MAnd64R,
        And64I => MAnd64I,
        Xor64R => MXor64R,
        Xor64I => MXor64I,
        Lsh64R => MLsh64R,
        Lsh64I => MLsh64I,
        Rsh64R => MRsh64R,
        Rsh64I => MRsh64I,
        Arsh64R => MArsh64R,
        Arsh64I => MArsh64I,
        Add32R => MAdd32R,
        Add32I => MAdd32I,
        Sub32R => MSub32R,
        Sub32I => MSub32I,
        Mul32R => MMul32R,
        Mul32I => MMul32I,
        Or32R => MOr32R,
        Or32I => MOr32I,
        And32R => MAnd32R,
        And32I => MAnd32I,
        Xor32R => MXor32R,
        Xor32I => MXor32I,
        Lsh32R => MLsh32R,
        Lsh32I => MLsh32I,
        Rsh32R => MRsh32R,
        Rsh32I => MRsh32I,
        Arsh32R => MArsh32R,
        Arsh32I => MArsh32I,
        _ => return None,
    })
}

fn is_64bit_alu(c: Code) -> bool {
    (c as u16) <= Code::Neg64 as u16
}

/// The indexed load after `mov` + `add` (`three`) or after `add` of this load.
fn idx_load(c: Code, three: bool) -> Option<Code> {
    use Code::*;
    Some(match (c, three) {
        (LdxB, true) => LdxIdxB,
        (LdxH, true) => LdxIdxH,
        (LdxW, true) => LdxIdxW,
        (LdxDW, true) => LdxIdxDW,
        (LdxB, false) => LdxAddB,
        (LdxH, false) => LdxAddH,
        (LdxW, false) => LdxAddW,
        (LdxDW, false) => LdxAddDW,
        (RLdxB, true) => RLdxIdxB,
        (RLdxH, true) => RLdxIdxH,
        (RLdxW, true) => RLdxIdxW,
        (RLdxDW, true) => RLdxIdxDW,
        (RLdxB, false) => RLdxAddB,
        (RLdxH, false) => RLdxAddH,
        (RLdxW, false) => RLdxAddW,
        (RLdxDW, false) => RLdxAddDW,
        _ => return None,
    })
}

/// The region-first form of a memory op, and the register its address is based on.
fn region_first(op: &Op) -> Option<(Code, R)> {
    use Code::*;
    Some(match op.code {
        LdxB => (RLdxB, op.src),
        LdxH => (RLdxH, op.src),
        LdxW => (RLdxW, op.src),
        LdxDW => (RLdxDW, op.src),
        LdxSB => (RLdxSB, op.src),
        LdxSH => (RLdxSH, op.src),
        LdxSW => (RLdxSW, op.src),
        StxB => (RStxB, op.dst),
        StxH => (RStxH, op.dst),
        StxW => (RStxW, op.dst),
        StxDW => (RStxDW, op.dst),
        StB => (RStB, op.dst),
        StH => (RStH, op.dst),
        StW => (RStW, op.dst),
        StDW => (RStDW, op.dst),
        _ => return None,
    })
}

/// For each op, the registers that may hold a stack address when it runs (bit `k`: rk): a
/// forward data flow over the plain ops from the entry and every function start (where
/// `r1`..`r5` may be stack pointers passed in), through moves and additions, and through
/// 8-byte spills to constant `r10` offsets. Only an estimate, which picks the order of the
/// two fast memory checks (the checks themselves do not depend on it).
fn stack_regs(ops: &[Op], n: usize, entries: &[usize]) -> Vec<u16> {
    use Code::*;
    const R10: u16 = 1 << 10;
    // Per op: (registers, 8-byte slots `r10 - 8 (k + 1)` holding a stack address), or
    // `None` while unreached.
    let mut state: Vec<Option<(u16, u64)>> = vec![None; n];
    let mut work: Vec<usize> = Vec::new();
    let reach = |state: &mut Vec<Option<(u16, u64)>>, work: &mut Vec<usize>, i: usize, s| {
        if i >= n {
            return;
        }
        let (r, m) = s;
        let new = match state[i] {
            Some((r0, m0)) => (r0 | r, m0 | m),
            None => (r, m),
        };
        if state[i] != Some(new) {
            state[i] = Some(new);
            work.push(i);
        }
    };
    reach(&mut state, &mut work, 0, (R10, 0));
    for &e in entries {
        reach(&mut state, &mut work, e, (R10 | 0b11_1110, 0));
    }
    let slot = |op: &Op| {
        let off = op.off as i64;
        (off < 0 && off % 8 == 0)
            .then(|| ((-off) / 8 - 1) as u32)
            .filter(|&k| k < 64)
    };
    while let Some(i) = work.pop() {
        let Some((mut regs, mut slots)) = state[i] else {
            continue;
        };
        let op = &ops[i];
        let d = 1u16 << (op.dst as u16);
        let s = 1u16 << (op.src as u16);
        let set = |regs: &mut u16, on: bool| {
            if on {
                *regs |= d;
            } else {
                *regs &= !d;
            }
        };
        match op.code {
            Mov64R => {
                let on = regs & s != 0;
                set(&mut regs, on)
            }
            Add64R | Sub64R => {
                let on = regs & (d | s) != 0;
                set(&mut regs, on)
            }
            Add64I | Sub64I | And64I => {}
            LdxDW if op.src == R::R10 => {
                let on = slot(op).is_some_and(|k| slots & (1 << k) != 0);
                set(&mut regs, on);
            }
            StxDW if op.dst == R::R10 => {
                if let Some(k) = slot(op) {
                    if regs & s != 0 {
                        slots |= 1 << k;
                    } else {
                        slots &= !(1 << k);
                    }
                }
            }
            Atomic => regs &= !(s | 1),
            LdAbs | LdInd => regs &= !1,
            Call | CallX | CallLocal | CallMissing => regs &= !0b11_1111,
            // Other ALU results and loaded values.
            c if (c as u16) <= Code::Swap64 as u16
                || matches!(c, LdxB | LdxH | LdxW | LdxDW | LdxSB | LdxSH | LdxSW) =>
            {
                set(&mut regs, false)
            }
            _ => {}
        }
        let out = (regs, slots);
        match op.code {
            Ja => reach(&mut state, &mut work, op.b as usize, out),
            Exit | FellOffEnd => {}
            MayGoto => {
                reach(&mut state, &mut work, op.b as usize, out);
                reach(&mut state, &mut work, i + 1, out);
            }
            c if fused_jump(c).is_some() => {
                reach(&mut state, &mut work, op.hi(), out);
                reach(&mut state, &mut work, i + 1, out);
            }
            _ => reach(&mut state, &mut work, i + 1, out),
        }
    }
    state.iter().map(|s| s.map_or(R10, |(r, _)| r)).collect()
}

/// The superinstruction starting at op `i`, if a pattern matches (see the module docs).
/// `ops` are the plain ops; only the first `n` are instructions.
fn fuse_at(ops: &[Op], n: usize, i: usize) -> Option<Op> {
    let at = |k: usize| (i + k < n).then(|| ops[i + k]);
    let a = at(0)?;
    // `mov rD, rS` + ... (any source; the ops below read it before writing rD).
    if a.code == Code::Mov64R {
        let (d, s) = (a.dst, a.src);
        if let Some(b) = at(1).filter(|b| b.dst == d) {
            // mov + add reg + indexed load into the same register.
            if b.code == Code::Add64R {
                if let Some(c) = at(2) {
                    if let Some(code) = idx_load(c.code, true).filter(|_| c.dst == d && c.src == d)
                    {
                        let t = if b.src == d { s } else { b.src };
                        return Some(Op {
                            r3: t,
                            ..Op::new(code, d, s, c.off, 0)
                        });
                    }
                }
            }
            // mov + add imm + add reg.
            if b.code == Code::Add64I {
                if let Some(c) = at(2).filter(|c| c.code == Code::Add64R && c.dst == d) {
                    let t = if c.src == d {
                        // rD = rS + imm + (rS + imm): not worth a form of its own.
                        return three(a, b);
                    } else {
                        c.src
                    };
                    return Some(Op {
                        r3: t,
                        ..Op::new(Code::MAddIR, d, s, 0, b.b)
                    });
                }
            }
            if let Some(f) = three(a, b) {
                return Some(f);
            }
        }
        // Two moves. A second move that reads the first's destination reads its source.
        let b = at(1).filter(|b| b.code == Code::Mov64R)?;
        let u = if b.src == d { s } else { b.src };
        return Some(Op {
            r3: b.dst,
            r4: u,
            ..Op::new(Code::MovMov, d, s, 0, 0)
        });
    }
    if matches!(a.code, Code::Mov64I | Code::Mov32I) {
        let b = at(1)?;
        let k = a.b;
        if b.dst == a.dst && b.src != a.dst {
            // mov imm + an operation of the same register with another.
            let code = k_op(b.code)?;
            // A 32-bit move zero-extends (`b` holds the 32 bits); a 32-bit operation reads
            // the low half of either.
            return Some(Op::new(code, b.dst, b.src, 0, k));
        }
        if a.code == Code::Mov64I && b.src == a.dst && b.dst != a.dst {
            // mov imm into rT + an operation of another register with rT.
            let code = t_op(b.code)?;
            return Some(Op {
                r3: a.dst,
                ..Op::new(code, b.dst, R::R0, 0, k)
            });
        }
        return None;
    }
    // lsh imm + or reg of the same register (a rotation's second half).
    if matches!(a.code, Code::Lsh64I | Code::Lsh32I) {
        let b = at(1)?;
        let code = match (a.code, b.code) {
            (Code::Lsh64I, Code::Or64R) => Code::ShlOr64,
            (Code::Lsh32I, Code::Or32R) => Code::ShlOr32,
            _ => return None,
        };
        if b.dst != a.dst || b.src == a.dst {
            return None;
        }
        return Some(Op::new(code, a.dst, b.src, 0, a.b));
    }
    // add imm + a test of the same register for (in)equality with an immediate (a loop
    // counter), possibly with the latch `goto` after it.
    if a.code == Code::Add64I {
        if let Some(b) =
            at(1).filter(|b| matches!(b.code, Code::JEq64I | Code::JNe64I) && b.dst == a.dst)
        {
            let inc = i16::try_from(a.b as i64).ok()?;
            let t1 = b.b >> 32;
            if let Some(c) = at(2).filter(|c| c.code == Code::Ja && t1 == i as u64 + 3) {
                let code = if b.code == Code::JEq64I {
                    Code::AddJEq64IJa
                } else {
                    Code::AddJNe64IJa
                };
                return Some(Op::new(
                    code,
                    a.dst,
                    R::R0,
                    inc,
                    b.b & 0xffff_ffff | c.b << 32,
                ));
            }
            let code = if b.code == Code::JEq64I {
                Code::AddJEq64I
            } else {
                Code::AddJNe64I
            };
            return Some(Op::new(code, a.dst, R::R0, inc, b.b));
        }
        return None;
    }
    if a.code == Code::Mov32R {
        // A 32-bit move followed by a 32-bit operation: the operation reads only the low
        // half, which is what both moves give it.
        let b = at(1).filter(|b| b.dst == a.dst && !is_64bit_alu(b.code))?;
        return three(a, b);
    }
    // add reg + indexed load into the same register.
    if a.code == Code::Add64R {
        let d = a.dst;
        let c = at(1)?;
        let code = idx_load(c.code, false).filter(|_| c.dst == d && c.src == d)?;
        return Some(Op {
            r3: a.src,
            ..Op::new(code, d, d, c.off, 0)
        });
    }
    // if cond goto A; goto B. The register forms keep A and B in `b`; the immediate forms
    // have room for B only, and are fused when A is the op after the `goto` (the loop
    // latch clang emits: `if cond goto +1; goto head`).
    if let Some(code) = fused_jump(a.code) {
        let b = at(1).filter(|b| b.code == Code::Ja)?;
        let (t1, t2) = (a.b >> 32, b.b);
        let lo = if is_imm_jump(a.code) {
            if t1 != i as u64 + 2 {
                return None;
            }
            a.b & 0xffff_ffff
        } else {
            t1
        };
        return Some(Op {
            code,
            b: lo | t2 << 32,
            ..a
        });
    }
    None
}

/// The `mov imm` + this operation form (`K...`), for register operations.
fn k_op(c: Code) -> Option<Code> {
    use Code::*;
    Some(match c {
        Add64R => KAdd64R,
        Sub64R => KSub64R,
        Mul64R => KMul64R,
        Or64R => KOr64R,
        And64R => KAnd64R,
        Xor64R => KXor64R,
        Lsh64R => KLsh64R,
        Rsh64R => KRsh64R,
        Arsh64R => KArsh64R,
        Add32R => KAdd32R,
        Sub32R => KSub32R,
        Mul32R => KMul32R,
        Or32R => KOr32R,
        And32R => KAnd32R,
        Xor32R => KXor32R,
        Lsh32R => KLsh32R,
        Rsh32R => KRsh32R,
        Arsh32R => KArsh32R,
        _ => return None,
    })
}

/// The `mov imm` into rT + this 64-bit operation with rT form (`T...`).
fn t_op(c: Code) -> Option<Code> {
    use Code::*;
    Some(match c {
        Add64R => TAdd64,
        Sub64R => TSub64,
        Mul64R => TMul64,
        Or64R => TOr64,
        And64R => TAnd64,
        Xor64R => TXor64,
        _ => return None,
    })
}

/// True for the conditional jumps with an immediate operand.
fn is_imm_jump(c: Code) -> bool {
    use Code::*;
    matches!(
        c,
        JEq64I
            | JNe64I
            | JGt64I
            | JGe64I
            | JLt64I
            | JLe64I
            | JSet64I
            | JSgt64I
            | JSge64I
            | JSlt64I
            | JSle64I
            | JEq32I
            | JNe32I
            | JGt32I
            | JGe32I
            | JLt32I
            | JLe32I
            | JSet32I
            | JSgt32I
            | JSge32I
            | JSlt32I
            | JSle32I
    )
}

/// `mov rD, rS` (64- or 32-bit) followed by the ALU op `b` on rD, as one three-address op.
fn three(mov: Op, b: Op) -> Option<Op> {
    let code = three_address(b.code)?;
    if mov.code == Code::Mov32R && is_64bit_alu(b.code) {
        return None;
    }
    let (d, s) = (mov.dst, mov.src);
    // `rD op= rD` after the move reads rS.
    let t = if b.src == d { s } else { b.src };
    Some(Op {
        r3: t,
        ..Op::new(code, d, s, 0, b.b)
    })
}

/// The fast ops (plain ops with superinstructions) and the plain ops they replaced.
fn fuse(plain: &[Op], n: usize) -> (Vec<Op>, Vec<(u32, Op)>) {
    let mut ops = plain.to_vec();
    let mut replaced = Vec::new();
    for (i, slot) in ops.iter_mut().enumerate().take(n) {
        if let Some(f) = fuse_at(plain, n, i) {
            replaced.push((i as u32, *slot));
            *slot = f;
        }
    }
    (ops, replaced)
}
