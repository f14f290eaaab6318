//! Proptest strategies for instructions and programs (feature `proptest`).
//!
//! [`insn`] generates every instruction the ISA defines, all variants and all field values
//! (branch offsets are arbitrary, so a single instruction is not a program);
//! [`program`] generates structurally valid programs whose branches all land on
//! instructions. Other crates use them with `oxbpf-isa = { features = ["proptest"] }` in
//! their dev-dependencies.

use crate::insn::*;
use crate::program::Program;
use proptest::prelude::*;

/// Any register, r0 to r10.
pub fn reg() -> impl Strategy<Value = Reg> {
    (0u8..=10).prop_filter_map("register", Reg::new)
}

/// A register an instruction may write: r0 to r9.
pub fn writable_reg() -> impl Strategy<Value = Reg> {
    (0u8..=9).prop_filter_map("register", Reg::new)
}

pub fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W32), Just(Width::W64)]
}

pub fn size() -> impl Strategy<Value = Size> {
    prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W), Just(Size::DW)]
}

/// A register or any 32-bit immediate.
pub fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        reg().prop_map(Operand::Reg),
        any::<i32>().prop_map(Operand::Imm)
    ]
}

fn two_operand_alu_op() -> impl Strategy<Value = AluOp> {
    prop_oneof![
        Just(AluOp::Add),
        Just(AluOp::Sub),
        Just(AluOp::Mul),
        Just(AluOp::Div),
        Just(AluOp::SDiv),
        Just(AluOp::Or),
        Just(AluOp::And),
        Just(AluOp::Lsh),
        Just(AluOp::Rsh),
        Just(AluOp::Mod),
        Just(AluOp::SMod),
        Just(AluOp::Xor),
        Just(AluOp::Mov),
        Just(AluOp::Arsh),
    ]
}

pub fn jmp_op() -> impl Strategy<Value = JmpOp> {
    prop_oneof![
        Just(JmpOp::Eq),
        Just(JmpOp::Gt),
        Just(JmpOp::Ge),
        Just(JmpOp::Set),
        Just(JmpOp::Ne),
        Just(JmpOp::Sgt),
        Just(JmpOp::Sge),
        Just(JmpOp::Lt),
        Just(JmpOp::Le),
        Just(JmpOp::Slt),
        Just(JmpOp::Sle),
    ]
}

fn alu() -> impl Strategy<Value = Insn> {
    let plain = (width(), two_operand_alu_op(), writable_reg(), operand()).prop_map(
        |(width, op, dst, src)| Insn::Alu {
            width,
            op,
            dst,
            src,
        },
    );
    // Sign-extending moves: register source only; the 32-bit source form is 64-bit only.
    let movsx = (
        prop_oneof![
            (width(), Just(AluOp::MovSx8)),
            (width(), Just(AluOp::MovSx16)),
            (Just(Width::W64), Just(AluOp::MovSx32)),
        ],
        writable_reg(),
        reg(),
    )
        .prop_map(|((width, op), dst, src)| Insn::Alu {
            width,
            op,
            dst,
            src: Operand::Reg(src),
        });
    prop_oneof![4 => plain, 1 => movsx]
}

fn endian() -> impl Strategy<Value = Insn> {
    (
        prop_oneof![
            Just(ByteOrder::ToLe),
            Just(ByteOrder::ToBe),
            Just(ByteOrder::Swap)
        ],
        prop_oneof![Just(16u8), Just(32u8), Just(64u8)],
        writable_reg(),
    )
        .prop_map(|(order, bits, dst)| Insn::Endian { order, bits, dst })
}

fn memory() -> impl Strategy<Value = Insn> {
    let load = (size(), any::<bool>(), writable_reg(), reg(), any::<i16>()).prop_map(
        |(size, sx, dst, src, off)| Insn::Load {
            size,
            sign_extend: sx && size != Size::DW,
            dst,
            src,
            off,
        },
    );
    let store =
        (size(), reg(), any::<i16>(), operand()).prop_map(|(size, dst, off, src)| Insn::Store {
            size,
            dst,
            off,
            src,
        });
    prop_oneof![load, store]
}

fn atomic() -> impl Strategy<Value = Insn> {
    let rmw_size = prop_oneof![Just(Size::W), Just(Size::DW)];
    // Operations that do not write a register.
    let nofetch = (
        rmw_size.clone(),
        prop_oneof![
            Just(AtomicOp::Add { fetch: false }),
            Just(AtomicOp::Or { fetch: false }),
            Just(AtomicOp::And { fetch: false }),
            Just(AtomicOp::Xor { fetch: false }),
            Just(AtomicOp::CmpXchg),
        ],
        reg(),
        reg(),
        any::<i16>(),
    );
    // Operations that write their source register.
    let fetch = (
        rmw_size,
        prop_oneof![
            Just(AtomicOp::Add { fetch: true }),
            Just(AtomicOp::Or { fetch: true }),
            Just(AtomicOp::And { fetch: true }),
            Just(AtomicOp::Xor { fetch: true }),
            Just(AtomicOp::Xchg),
        ],
        reg(),
        writable_reg(),
        any::<i16>(),
    );
    let acquire = (
        size(),
        Just(AtomicOp::LoadAcquire),
        writable_reg(),
        reg(),
        any::<i16>(),
    );
    let release = (
        size(),
        Just(AtomicOp::StoreRelease),
        reg(),
        reg(),
        any::<i16>(),
    );
    prop_oneof![nofetch, fetch, acquire, release].prop_map(|(size, op, dst, src, off)| {
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        }
    })
}

/// Every `lddw` value, including the pseudo sources.
pub fn load_imm64_value() -> impl Strategy<Value = LoadImm64> {
    prop_oneof![
        3 => any::<u64>().prop_map(LoadImm64::Imm),
        1 => any::<i32>().prop_map(LoadImm64::MapFd),
        1 => (any::<i32>(), any::<u32>()).prop_map(|(fd, offset)| LoadImm64::MapValue { fd, offset }),
        1 => (any::<i32>(), any::<i32>())
            .prop_map(|(btf_id, btf_fd)| LoadImm64::VariableAddr { btf_id, btf_fd }),
        1 => any::<i32>().prop_map(LoadImm64::CodeAddr),
        1 => any::<i32>().prop_map(LoadImm64::MapIdx),
        1 => (any::<i32>(), any::<u32>())
            .prop_map(|(idx, offset)| LoadImm64::MapIdxValue { idx, offset }),
    ]
}

fn load_imm() -> impl Strategy<Value = Insn> {
    let lddw = (writable_reg(), load_imm64_value())
        .prop_map(|(dst, value)| Insn::LoadImm64 { dst, value });
    let packet = (
        prop_oneof![Just(PacketMode::Abs), reg().prop_map(PacketMode::Ind)],
        prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W)],
        any::<i32>(),
    )
        .prop_map(|(mode, size, imm)| Insn::LoadPacket { mode, size, imm });
    prop_oneof![3 => lddw, 1 => packet]
}

fn control() -> impl Strategy<Value = Insn> {
    prop_oneof![
        any::<i16>().prop_map(|off| Insn::Ja {
            off: off as i32,
            long: false
        }),
        any::<i32>().prop_map(|off| Insn::Ja { off, long: true }),
        (width(), jmp_op(), reg(), operand(), any::<i16>()).prop_map(
            |(width, op, dst, src, off)| Insn::Jump {
                width,
                op,
                dst,
                src,
                off
            }
        ),
        any::<i16>().prop_map(|off| Insn::MayGoto { off }),
        any::<i32>().prop_map(|id| Insn::Call(CallTarget::Helper(id))),
        any::<i32>().prop_map(|off| Insn::Call(CallTarget::Local(off))),
        (any::<i32>(), any::<i16>())
            .prop_map(|(id, module)| Insn::Call(CallTarget::External { id, module })),
        reg().prop_map(|reg| Insn::CallX { reg }),
        Just(Insn::Exit),
    ]
}

/// Any instruction the ISA defines, with every field value (branch offsets arbitrary).
pub fn insn() -> impl Strategy<Value = Insn> {
    prop_oneof![
        6 => alu(),
        1 => (width(), writable_reg()).prop_map(|(width, dst)| Insn::Neg { width, dst }),
        1 => endian(),
        1 => (writable_reg(), reg(), prop_oneof![Just((0u16, 1u16)), Just((1u16, 0u16))])
            .prop_map(|(dst, src, (dst_as, src_as))| Insn::AddrSpaceCast { dst, src, dst_as, src_as }),
        4 => memory(),
        2 => atomic(),
        2 => load_imm(),
        5 => control(),
    ]
}

/// Sets the branch offset of `insn` (if it has one) so that it lands on `target_slot`.
fn aim(insn: Insn, from_slot: usize, target_slot: usize) -> Insn {
    let off = target_slot as i64 - from_slot as i64 - 1;
    match insn {
        Insn::Ja { long, .. } => Insn::Ja {
            off: off as i32,
            long,
        },
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
        Insn::Call(CallTarget::Local(_)) => Insn::Call(CallTarget::Local(off as i32)),
        Insn::LoadImm64 {
            dst,
            value: LoadImm64::CodeAddr(_),
        } => Insn::LoadImm64 {
            dst,
            value: LoadImm64::CodeAddr(off as i32),
        },
        other => other,
    }
}

/// Valid programs of 1 to `max_len` instructions (at most 4096, so that every branch
/// fits its 16-bit offset) whose branches land on instructions of the program.
pub fn program(max_len: usize) -> impl Strategy<Value = Program> {
    let max_len = max_len.clamp(1, 4096);
    prop::collection::vec((insn(), any::<prop::sample::Index>()), 1..=max_len).prop_filter_map(
        "valid program",
        |items| {
            let mut slots = Vec::with_capacity(items.len());
            let mut slot = 0;
            for (insn, _) in &items {
                slots.push(slot);
                slot += insn.slots();
            }
            let insns = items
                .iter()
                .enumerate()
                .map(|(i, (insn, target))| aim(*insn, slots[i], slots[target.index(slots.len())]))
                .collect();
            Program::from_insns(insns).ok()
        },
    )
}
