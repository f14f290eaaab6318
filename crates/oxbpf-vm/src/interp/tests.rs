//! Unit tests of the interpreter, per instruction family and per error.

use super::*;
use crate::memory::{FaultReason, MemoryRegion, RegionKind};
use crate::{HelperCtx, HelperError, STACK_SIZE};
use oxbpf_isa::{
    AluOp, AtomicOp, ByteOrder, CallTarget, Insn, JmpOp, LoadImm64, Operand, PacketMode, Reg, Size,
    Width,
};

// ---------------------------------------------------------------- program builders

fn r(n: u8) -> Reg {
    Reg::new(n).unwrap()
}
fn alu(width: Width, op: AluOp, d: u8, src: Operand) -> Insn {
    Insn::Alu {
        width,
        op,
        dst: r(d),
        src,
    }
}
fn a64(op: AluOp, d: u8, imm: i32) -> Insn {
    alu(Width::W64, op, d, Operand::Imm(imm))
}
fn a64r(op: AluOp, d: u8, s: u8) -> Insn {
    alu(Width::W64, op, d, Operand::Reg(r(s)))
}
fn a32(op: AluOp, d: u8, imm: i32) -> Insn {
    alu(Width::W32, op, d, Operand::Imm(imm))
}
fn a32r(op: AluOp, d: u8, s: u8) -> Insn {
    alu(Width::W32, op, d, Operand::Reg(r(s)))
}
fn mov(d: u8, imm: i32) -> Insn {
    a64(AluOp::Mov, d, imm)
}
fn movr(d: u8, s: u8) -> Insn {
    a64r(AluOp::Mov, d, s)
}
fn lddw(d: u8, v: u64) -> Insn {
    Insn::LoadImm64 {
        dst: r(d),
        value: LoadImm64::Imm(v),
    }
}
fn ldx(size: Size, d: u8, s: u8, off: i16) -> Insn {
    Insn::Load {
        size,
        sign_extend: false,
        dst: r(d),
        src: r(s),
        off,
    }
}
fn ldxs(size: Size, d: u8, s: u8, off: i16) -> Insn {
    Insn::Load {
        size,
        sign_extend: true,
        dst: r(d),
        src: r(s),
        off,
    }
}
fn stx(size: Size, d: u8, off: i16, s: u8) -> Insn {
    Insn::Store {
        size,
        dst: r(d),
        off,
        src: Operand::Reg(r(s)),
    }
}
fn st(size: Size, d: u8, off: i16, imm: i32) -> Insn {
    Insn::Store {
        size,
        dst: r(d),
        off,
        src: Operand::Imm(imm),
    }
}
fn jmp(width: Width, op: JmpOp, d: u8, src: Operand, off: i16) -> Insn {
    Insn::Jump {
        width,
        op,
        dst: r(d),
        src,
        off,
    }
}
fn ja(off: i32) -> Insn {
    Insn::Ja { off, long: false }
}
fn call(id: i32) -> Insn {
    Insn::Call(CallTarget::Helper(id))
}
fn call_local(off: i32) -> Insn {
    Insn::Call(CallTarget::Local(off))
}
fn atomic(size: Size, op: AtomicOp, d: u8, s: u8, off: i16) -> Insn {
    Insn::Atomic {
        size,
        op,
        dst: r(d),
        src: r(s),
        off,
    }
}
const EXIT: Insn = Insn::Exit;

fn prog(insns: Vec<Insn>) -> Program {
    Program::from_insns(insns).unwrap()
}

fn vm_with(insns: Vec<Insn>, helpers: &Helpers) -> Interpreter {
    Interpreter::new(&prog(insns), helpers).unwrap()
}

fn run_mem(insns: Vec<Insn>, mem: &mut [u8]) -> Result<RunOutcome, VmError> {
    let vm = vm_with(insns, &Helpers::new());
    vm.run(&mut RunContext::with_memory(mem))
}

fn run(insns: Vec<Insn>) -> Result<RunOutcome, VmError> {
    run_mem(insns, &mut [])
}

fn r0(insns: Vec<Insn>) -> u64 {
    run(insns).unwrap().r0
}

/// `lddw r1, a; lddw r2, b; <op r1, r2>; mov r0, r1; exit`.
fn binop(insn: Insn, a: u64, b: u64) -> u64 {
    r0(vec![lddw(1, a), lddw(2, b), insn, movr(0, 1), EXIT])
}

// ---------------------------------------------------------------- ALU

#[test]
fn immediates_are_sign_extended_and_32bit_results_zero_extended() {
    assert_eq!(r0(vec![mov(0, -1), EXIT]), u64::MAX);
    assert_eq!(r0(vec![a32(AluOp::Mov, 0, -1), EXIT]), 0xffff_ffff);
    assert_eq!(r0(vec![mov(0, 1), a64(AluOp::Add, 0, -2), EXIT]), u64::MAX);
    assert_eq!(
        r0(vec![mov(0, 1), a32(AluOp::Add, 0, -2), EXIT]),
        0xffff_ffff
    );
    assert_eq!(
        r0(vec![
            lddw(0, 0xffff_ffff_0000_0001),
            a32(AluOp::Add, 0, 0),
            EXIT
        ]),
        1
    );
    assert_eq!(
        r0(vec![
            lddw(0, 0x1_0000_0000),
            a64(AluOp::Or, 0, 0x8000_0000u32 as i32),
            EXIT
        ]),
        0xffff_ffff_8000_0000
    );
    assert_eq!(
        r0(vec![
            lddw(1, 0xdead_beef_1234_5678),
            a32r(AluOp::Mov, 0, 1),
            EXIT
        ]),
        0x1234_5678
    );
}

#[test]
fn arithmetic_wraps() {
    assert_eq!(binop(a64r(AluOp::Add, 1, 2), u64::MAX, 2), 1);
    assert_eq!(binop(a64r(AluOp::Sub, 1, 2), 0, 1), u64::MAX);
    assert_eq!(binop(a32r(AluOp::Sub, 1, 2), 0, 1), 0xffff_ffff);
    assert_eq!(binop(a64r(AluOp::Mul, 1, 2), 1 << 63, 2), 0);
    assert_eq!(
        binop(a32r(AluOp::Mul, 1, 2), 0x8000_0000, 0xffff_ffff),
        0x8000_0000
    );
    assert_eq!(binop(a64r(AluOp::Xor, 1, 2), 0b1100, 0b1010), 0b0110);
    assert_eq!(binop(a64r(AluOp::And, 1, 2), 0b1100, 0b1010), 0b1000);
    assert_eq!(binop(a32r(AluOp::Or, 1, 2), 0xff << 32, 1), 1);
}

#[test]
fn division_by_zero_gives_zero() {
    for w in [Width::W32, Width::W64] {
        for op in [AluOp::Div, AluOp::SDiv] {
            assert_eq!(
                binop(alu(w, op, 1, Operand::Reg(r(2))), 77, 0),
                0,
                "{w:?} {op:?}"
            );
            assert_eq!(
                r0(vec![mov(0, 77), alu(w, op, 0, Operand::Imm(0)), EXIT]),
                0,
                "{w:?} {op:?} imm"
            );
        }
    }
    // A 32-bit divisor whose low half is zero is zero.
    assert_eq!(binop(a32r(AluOp::Div, 1, 2), 77, 1 << 32), 0);
}

#[test]
fn modulo_by_zero_leaves_dst() {
    let v = 0xaaaa_bbbb_cccc_dddd;
    for op in [AluOp::Mod, AluOp::SMod] {
        assert_eq!(binop(a64r(op, 1, 2), v, 0), v);
        assert_eq!(
            binop(a32r(op, 1, 2), v, 0),
            0xcccc_dddd,
            "upper half zeroed"
        );
        assert_eq!(
            r0(vec![
                lddw(0, v),
                alu(Width::W64, op, 0, Operand::Imm(0)),
                EXIT
            ]),
            v
        );
        assert_eq!(
            r0(vec![
                lddw(0, v),
                alu(Width::W32, op, 0, Operand::Imm(0)),
                EXIT
            ]),
            0xcccc_dddd
        );
    }
}

#[test]
fn signed_division_edge_cases() {
    let min64 = i64::MIN as u64;
    assert_eq!(binop(a64r(AluOp::SDiv, 1, 2), min64, u64::MAX), min64);
    assert_eq!(binop(a64r(AluOp::SMod, 1, 2), min64, u64::MAX), 0);
    assert_eq!(
        binop(a32r(AluOp::SDiv, 1, 2), 0x8000_0000, 0xffff_ffff),
        0x8000_0000
    );
    assert_eq!(binop(a32r(AluOp::SMod, 1, 2), 0x8000_0000, 0xffff_ffff), 0);
    assert_eq!(
        r0(vec![lddw(0, min64), a64(AluOp::SDiv, 0, -1), EXIT]),
        min64
    );
    // Truncation toward zero, remainder takes the dividend's sign.
    assert_eq!(
        binop(a64r(AluOp::SDiv, 1, 2), -7i64 as u64, 2),
        -3i64 as u64
    );
    assert_eq!(
        binop(a64r(AluOp::SMod, 1, 2), -7i64 as u64, 2),
        -1i64 as u64
    );
    assert_eq!(binop(a64r(AluOp::SMod, 1, 2), 7, -2i64 as u64), 1);
    assert_eq!(
        binop(a32r(AluOp::SMod, 1, 2), -7i32 as u32 as u64, 2),
        -1i32 as u32 as u64
    );
    // Unsigned 64-bit division by a negative immediate divides by 2^64 - 1.
    assert_eq!(r0(vec![mov(0, -1), a64(AluOp::Div, 0, -1), EXIT]), 1);
    assert_eq!(r0(vec![mov(0, 5), a64(AluOp::Div, 0, -1), EXIT]), 0);
    assert_eq!(r0(vec![mov(0, 10), a32(AluOp::Div, 0, 3), EXIT]), 3);
    assert_eq!(r0(vec![mov(0, 10), a32(AluOp::Mod, 0, 3), EXIT]), 1);
}

#[test]
fn shift_counts_are_masked() {
    assert_eq!(binop(a64r(AluOp::Lsh, 1, 2), 1, 65), 2);
    assert_eq!(binop(a32r(AluOp::Lsh, 1, 2), 1, 33), 2);
    assert_eq!(binop(a64r(AluOp::Rsh, 1, 2), 4, 66), 1);
    assert_eq!(binop(a32r(AluOp::Rsh, 1, 2), 0xff_0000_0004, 34), 1);
    assert_eq!(r0(vec![mov(0, 1), a64(AluOp::Lsh, 0, 64 + 3), EXIT]), 8);
    assert_eq!(
        r0(vec![mov(0, 1), a32(AluOp::Lsh, 0, -1), EXIT]),
        0x8000_0000
    );
    assert_eq!(binop(a64r(AluOp::Arsh, 1, 2), 1 << 63, 63), u64::MAX);
    assert_eq!(binop(a32r(AluOp::Arsh, 1, 2), 0x8000_0000, 31), 0xffff_ffff);
    assert_eq!(
        binop(a32r(AluOp::Arsh, 1, 2), 0x1_8000_0000, 4),
        0xf800_0000
    );
    assert_eq!(
        r0(vec![mov(0, -16), a64(AluOp::Arsh, 0, 2), EXIT]),
        -4i64 as u64
    );
}

#[test]
fn sign_extending_moves_and_neg() {
    let v = 0x1234_5678_9abc_def0;
    assert_eq!(
        binop(a64r(AluOp::MovSx8, 1, 2), 0, v),
        0xffff_ffff_ffff_fff0
    );
    assert_eq!(
        binop(a64r(AluOp::MovSx16, 1, 2), 0, v),
        0xffff_ffff_ffff_def0
    );
    assert_eq!(
        binop(a64r(AluOp::MovSx32, 1, 2), 0, v),
        0xffff_ffff_9abc_def0
    );
    assert_eq!(binop(a32r(AluOp::MovSx8, 1, 2), 0, v), 0xffff_fff0);
    assert_eq!(binop(a32r(AluOp::MovSx16, 1, 2), 0, v), 0xffff_def0);
    assert_eq!(binop(a64r(AluOp::MovSx8, 1, 2), 0, 0x7f), 0x7f);
    let neg = |w, x| {
        r0(vec![
            lddw(0, x),
            Insn::Neg {
                width: w,
                dst: r(0),
            },
            EXIT,
        ])
    };
    assert_eq!(neg(Width::W64, 1), u64::MAX);
    assert_eq!(neg(Width::W64, 1 << 63), 1 << 63);
    assert_eq!(neg(Width::W32, 1), 0xffff_ffff);
    assert_eq!(neg(Width::W32, 0xffff_ffff_8000_0000), 0x8000_0000);
}

#[test]
fn byte_order() {
    let v = 0x0102_0304_0506_0708u64;
    let e = |order, bits| {
        r0(vec![
            lddw(0, v),
            Insn::Endian {
                order,
                bits,
                dst: r(0),
            },
            EXIT,
        ])
    };
    assert_eq!(e(ByteOrder::ToLe, 16), 0x0708);
    assert_eq!(e(ByteOrder::ToLe, 32), 0x0506_0708);
    assert_eq!(e(ByteOrder::ToLe, 64), v);
    assert_eq!(e(ByteOrder::ToBe, 16), 0x0807);
    assert_eq!(e(ByteOrder::ToBe, 32), 0x0807_0605);
    assert_eq!(e(ByteOrder::ToBe, 64), 0x0807_0605_0403_0201);
    assert_eq!(e(ByteOrder::Swap, 16), 0x0807);
    assert_eq!(e(ByteOrder::Swap, 32), 0x0807_0605);
    assert_eq!(e(ByteOrder::Swap, 64), 0x0807_0605_0403_0201);
}

#[test]
fn addr_space_cast() {
    let cast = |dst_as, src_as| {
        r0(vec![
            lddw(1, 0x1234_5678_9abc_def0),
            Insn::AddrSpaceCast {
                dst: r(0),
                src: r(1),
                dst_as,
                src_as,
            },
            EXIT,
        ])
    };
    assert_eq!(cast(1, 0), 0x9abc_def0);
    assert_eq!(cast(0, 1), 0x1234_5678_9abc_def0);
}

// ---------------------------------------------------------------- lddw

#[test]
fn lddw_and_unresolved_pseudo() {
    assert_eq!(
        r0(vec![lddw(0, 0x1122_3344_5566_7788), EXIT]),
        0x1122_3344_5566_7788
    );
    for (value, what) in [
        (LoadImm64::MapFd(3), "map file descriptor"),
        (
            LoadImm64::MapValue { fd: 3, offset: 0 },
            "map value (by file descriptor)",
        ),
        (
            LoadImm64::VariableAddr {
                btf_id: 1,
                btf_fd: 0,
            },
            "BTF variable",
        ),
        (LoadImm64::MapIdx(0), "map index"),
        (
            LoadImm64::MapIdxValue { idx: 0, offset: 4 },
            "map value (by map index)",
        ),
    ] {
        let p = prog(vec![
            mov(0, 0),
            lddw(1, 1),
            Insn::LoadImm64 { dst: r(1), value },
            EXIT,
        ]);
        let e = Interpreter::new(&p, &Helpers::new()).unwrap_err();
        assert_eq!(e, LoadError::UnresolvedPseudo { pc: 3, what });
    }
}

// ---------------------------------------------------------------- memory

#[test]
fn loads_and_stores_every_size() {
    let mut mem = [0u8; 16];
    mem[..8].copy_from_slice(&0x8182_8384_8586_8788u64.to_le_bytes());
    let cases: [(Insn, u64); 7] = [
        (ldx(Size::B, 0, 1, 0), 0x88),
        (ldx(Size::H, 0, 1, 0), 0x8788),
        (ldx(Size::W, 0, 1, 0), 0x8586_8788),
        (ldx(Size::DW, 0, 1, 0), 0x8182_8384_8586_8788),
        (ldxs(Size::B, 0, 1, 0), 0xffff_ffff_ffff_ff88),
        (ldxs(Size::H, 0, 1, 0), 0xffff_ffff_ffff_8788),
        (ldxs(Size::W, 0, 1, 0), 0xffff_ffff_8586_8788),
    ];
    for (insn, want) in cases {
        assert_eq!(
            run_mem(vec![insn, EXIT], &mut mem).unwrap().r0,
            want,
            "{insn:?}"
        );
    }
    // Unaligned loads are fine.
    assert_eq!(
        run_mem(vec![ldx(Size::H, 0, 1, 1), EXIT], &mut mem)
            .unwrap()
            .r0,
        0x8687
    );
    // Stores: register and (sign-extended) immediate, every size, at an offset.
    let mut mem = [0u8; 16];
    run_mem(
        vec![
            lddw(2, 0x1122_3344_5566_7788),
            stx(Size::DW, 1, 8, 2),
            stx(Size::W, 1, 4, 2),
            stx(Size::H, 1, 2, 2),
            stx(Size::B, 1, 1, 2),
            st(Size::B, 1, 0, -1),
            mov(0, 0),
            EXIT,
        ],
        &mut mem,
    )
    .unwrap();
    assert_eq!(
        mem,
        [
            0xff, 0x88, 0x88, 0x77, 0x88, 0x77, 0x66, 0x55, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33,
            0x22, 0x11
        ]
    );
    let mut mem = [0u8; 8];
    run_mem(vec![st(Size::DW, 1, 0, -2), EXIT], &mut mem).unwrap();
    assert_eq!(u64::from_le_bytes(mem), -2i64 as u64);
    let mut mem = [0u8; 8];
    run_mem(
        vec![st(Size::W, 1, 0, -2), st(Size::H, 1, 4, 0x1234), EXIT],
        &mut mem,
    )
    .unwrap();
    assert_eq!(mem, [0xfe, 0xff, 0xff, 0xff, 0x34, 0x12, 0, 0]);
}

#[test]
fn input_bounds_are_checked() {
    let mut mem = [0u8; 8];
    let base = mem.as_ptr() as u64;
    let e = run_mem(vec![mov(0, 0), ldx(Size::W, 0, 1, 5), EXIT], &mut mem).unwrap_err();
    assert_eq!(
        e,
        VmError::MemoryFault {
            pc: 1,
            fault: AccessFault {
                addr: base + 5,
                size: 4,
                write: false,
                reason: FaultReason::Unmapped
            }
        }
    );
    let e = run_mem(vec![st(Size::B, 1, -1, 0), EXIT], &mut mem).unwrap_err();
    assert!(
        matches!(e, VmError::MemoryFault { pc: 0, fault } if fault.write && fault.addr == base - 1)
    );
    assert!(run_mem(
        vec![st(Size::B, 1, 7, 0), ldx(Size::DW, 0, 1, 0), EXIT],
        &mut mem
    )
    .is_ok());
    // A null pointer and a wrapping address.
    let e = run(vec![mov(1, 0), ldx(Size::B, 0, 1, 0), EXIT]).unwrap_err();
    assert!(matches!(e, VmError::MemoryFault { pc: 1, .. }));
    let e = run(vec![mov(1, -1), ldx(Size::DW, 0, 1, 0), EXIT]).unwrap_err();
    assert!(matches!(e, VmError::MemoryFault { pc: 1, .. }));
}

#[test]
fn read_only_regions_refuse_writes() {
    let data = [7u8; 8];
    let vm = vm_with(
        vec![ldx(Size::B, 0, 1, 3), st(Size::B, 1, 0, 1), EXIT],
        &Helpers::new(),
    );
    let mut ctx = RunContext::new();
    ctx.args[0] = data.as_ptr() as u64;
    ctx.allow(&data, RegionKind::ReadOnly);
    let e = vm.run(&mut ctx).unwrap_err();
    assert_eq!(
        e,
        VmError::MemoryFault {
            pc: 1,
            fault: AccessFault {
                addr: data.as_ptr() as u64,
                size: 1,
                write: true,
                reason: FaultReason::ReadOnly(RegionKind::ReadOnly)
            }
        }
    );
    let vm = vm_with(vec![ldx(Size::B, 0, 1, 3), EXIT], &Helpers::new());
    assert_eq!(vm.run(&mut ctx).unwrap().r0, 7);
}

#[test]
fn embedder_regions_and_many_regions() {
    // More regions than the inline capacity; the program reads from each.
    let bufs: Vec<[u8; 4]> = (0..12u8).map(|i| [i, 0, 0, 0]).collect();
    let mut insns = vec![mov(0, 0)];
    for b in &bufs {
        insns.push(lddw(1, b.as_ptr() as u64));
        insns.push(ldx(Size::W, 2, 1, 0));
        insns.push(a64r(AluOp::Add, 0, 2));
    }
    insns.push(EXIT);
    let vm = vm_with(insns, &Helpers::new());
    let mut ctx = RunContext::new();
    for b in &bufs {
        ctx.allow(b, RegionKind::Embedder);
    }
    assert_eq!(vm.run(&mut ctx).unwrap().r0, (0..12).sum::<u64>());
}

#[test]
fn stack_bounds() {
    // The whole frame is usable.
    assert_eq!(
        r0(vec![
            st(Size::DW, 10, -512, 5),
            st(Size::DW, 10, -8, 6),
            ldx(Size::DW, 0, 10, -512),
            ldx(Size::DW, 1, 10, -8),
            a64r(AluOp::Add, 0, 1),
            EXIT
        ]),
        11
    );
    // The stack starts zeroed.
    assert_eq!(r0(vec![ldx(Size::DW, 0, 10, -256), EXIT]), 0);
    // Read below r10 - 512.
    let e = run(vec![mov(0, 0), ldx(Size::B, 0, 10, -513), EXIT]).unwrap_err();
    assert!(matches!(e, VmError::MemoryFault { pc: 1, fault } if !fault.write && fault.size == 1));
    // Write at and above r10.
    let e = run(vec![st(Size::B, 10, 0, 1), EXIT]).unwrap_err();
    assert!(matches!(e, VmError::MemoryFault { pc: 0, fault } if fault.write));
    let e = run(vec![st(Size::DW, 10, -4, 1), EXIT]).unwrap_err();
    assert!(matches!(e, VmError::MemoryFault { pc: 0, .. }));
    // r10 is aligned for any access.
    let top = r0(vec![movr(0, 10), EXIT]);
    assert_eq!(top % 64, 0);
}

#[test]
fn error_pc_is_the_slot() {
    // Two lddw before the faulting load: index 2, slot 4.
    let e = run(vec![lddw(1, 0), lddw(2, 0), ldx(Size::B, 0, 1, 0), EXIT]).unwrap_err();
    assert_eq!(e.pc(), 4);
}

// ---------------------------------------------------------------- jumps

fn jref(width: Width, op: JmpOp, a: u64, b: u64) -> bool {
    let (ua, ub, sa, sb) = match width {
        Width::W64 => (a, b, a as i64, b as i64),
        Width::W32 => (
            a as u32 as u64,
            b as u32 as u64,
            a as i32 as i64,
            b as i32 as i64,
        ),
    };
    match op {
        JmpOp::Eq => ua == ub,
        JmpOp::Ne => ua != ub,
        JmpOp::Gt => ua > ub,
        JmpOp::Ge => ua >= ub,
        JmpOp::Lt => ua < ub,
        JmpOp::Le => ua <= ub,
        JmpOp::Set => ua & ub != 0,
        JmpOp::Sgt => sa > sb,
        JmpOp::Sge => sa >= sb,
        JmpOp::Slt => sa < sb,
        JmpOp::Sle => sa <= sb,
    }
}

#[test]
fn conditional_jumps_match_reference() {
    let ops = [
        JmpOp::Eq,
        JmpOp::Ne,
        JmpOp::Gt,
        JmpOp::Ge,
        JmpOp::Lt,
        JmpOp::Le,
        JmpOp::Set,
        JmpOp::Sgt,
        JmpOp::Sge,
        JmpOp::Slt,
        JmpOp::Sle,
    ];
    let vals: [u64; 8] = [
        0,
        1,
        2,
        u64::MAX,
        0x8000_0000,
        0xffff_ffff,
        1 << 63,
        0x1_0000_0001,
    ];
    let imms: [i32; 5] = [0, 1, -1, i32::MIN, 0x7fff_ffff];
    for width in [Width::W64, Width::W32] {
        for op in ops {
            for &a in &vals {
                for &b in &vals {
                    let got = r0(vec![
                        mov(0, 0),
                        lddw(1, a),
                        lddw(2, b),
                        jmp(width, op, 1, Operand::Reg(r(2)), 1),
                        EXIT,
                        mov(0, 1),
                        EXIT,
                    ]);
                    assert_eq!(
                        got == 1,
                        jref(width, op, a, b),
                        "{width:?} {op:?} {a:#x} {b:#x}"
                    );
                }
                for &imm in &imms {
                    let b = match width {
                        Width::W64 => imm as i64 as u64,
                        Width::W32 => imm as u32 as u64,
                    };
                    let got = r0(vec![
                        mov(0, 0),
                        lddw(1, a),
                        jmp(width, op, 1, Operand::Imm(imm), 1),
                        EXIT,
                        mov(0, 1),
                        EXIT,
                    ]);
                    assert_eq!(
                        got == 1,
                        jref(width, op, a, b),
                        "{width:?} {op:?} {a:#x} imm {imm}"
                    );
                }
            }
        }
    }
}

#[test]
fn unconditional_jumps() {
    assert_eq!(r0(vec![mov(0, 1), ja(1), mov(0, 2), EXIT]), 1);
    assert_eq!(
        r0(vec![
            mov(0, 1),
            Insn::Ja { off: 1, long: true },
            mov(0, 2),
            EXIT
        ]),
        1
    );
    // Backwards: count to 10.
    assert_eq!(
        r0(vec![
            mov(0, 0),
            a64(AluOp::Add, 0, 1),
            jmp(Width::W64, JmpOp::Lt, 0, Operand::Imm(10), -2),
            EXIT
        ]),
        10
    );
}

#[test]
fn falling_off_the_end() {
    let e = run(vec![mov(0, 0), lddw(1, 1), mov(0, 1)]).unwrap_err();
    assert_eq!(e, VmError::FellOffEnd { pc: 3 });
    let e = run(vec![
        mov(0, 0),
        jmp(Width::W64, JmpOp::Eq, 0, Operand::Imm(1), -1),
    ])
    .unwrap_err();
    assert_eq!(e, VmError::FellOffEnd { pc: 1 });
}

// ---------------------------------------------------------------- budget

#[test]
fn budget_and_instruction_count() {
    let straight = vec![mov(0, 1), lddw(1, 2), a64r(AluOp::Add, 0, 1), EXIT];
    let vm = vm_with(straight, &Helpers::new());
    let out = vm.run(&mut RunContext::new()).unwrap();
    assert_eq!(
        out,
        RunOutcome {
            r0: 3,
            insns_executed: Some(4)
        }
    );
    let out = vm.run(&mut RunContext::new().with_budget(Some(4))).unwrap();
    assert_eq!(out.insns_executed, Some(4));
    let e = vm
        .run(&mut RunContext::new().with_budget(Some(3)))
        .unwrap_err();
    assert_eq!(e, VmError::BudgetExhausted { pc: 4, budget: 3 });
    let e = vm
        .run(&mut RunContext::new().with_budget(Some(0)))
        .unwrap_err();
    assert_eq!(e, VmError::BudgetExhausted { pc: 0, budget: 0 });

    // An endless loop stops at the budget, at the instruction that would exceed it.
    let vm = vm_with(
        vec![mov(0, 0), a64(AluOp::Add, 0, 1), ja(-2)],
        &Helpers::new(),
    );
    let e = vm
        .run(&mut RunContext::new().with_budget(Some(1000)))
        .unwrap_err();
    // 1 + 2k instructions: the 1000th executed is `add` (k = 499.5 -> index 1), the
    // 1001st would be the `ja` at slot 2.
    assert_eq!(
        e,
        VmError::BudgetExhausted {
            pc: 2,
            budget: 1000
        }
    );

    // Every budget, against a hand-made trace: slots 0 | (2 3 4)x5 | 5 (lddw at 0..1).
    let vm = vm_with(
        vec![
            lddw(0, 0),
            a64(AluOp::Add, 0, 1),
            call(1),
            jmp(Width::W64, JmpOp::Lt, 6, Operand::Imm(5), -3),
            EXIT,
        ],
        &{
            let mut h = Helpers::new();
            h.register(1, "count", |_: &mut HelperCtx<'_>, _| Ok(0));
            h
        },
    );
    // The same loop exits after five rounds when r6 follows r0.
    let vm2 = vm_with(
        vec![
            lddw(0, 0),
            a64(AluOp::Add, 0, 1),
            movr(6, 0),
            jmp(Width::W64, JmpOp::Lt, 6, Operand::Imm(5), -3),
            EXIT,
        ],
        &Helpers::new(),
    );
    let mut trace = vec![0usize];
    for _ in 0..5 {
        trace.extend([2, 3, 4]);
    }
    trace.push(5);
    for b in 0..=trace.len() as u64 + 2 {
        let res = vm2.run(&mut RunContext::new().with_budget(Some(b)));
        match trace.get(b as usize) {
            Some(&pc) => assert_eq!(
                res,
                Err(VmError::BudgetExhausted { pc, budget: b }),
                "budget {b}"
            ),
            None => assert_eq!(
                res,
                Ok(RunOutcome {
                    r0: 5,
                    insns_executed: Some(trace.len() as u64)
                }),
                "budget {b}"
            ),
        }
    }
    // The loop with a helper call never ends (r6 stays 0): it stops at every budget.
    for b in [0u64, 1, 2, 3, 4, 100, 1001] {
        let e = vm
            .run(&mut RunContext::new().with_budget(Some(b)))
            .unwrap_err();
        let pc = if b == 0 {
            0
        } else {
            [2, 3, 4][((b - 1) % 3) as usize]
        };
        assert_eq!(e, VmError::BudgetExhausted { pc, budget: b }, "budget {b}");
    }

    // Falling off the end with the budget used up is still a fall-off.
    let vm = vm_with(vec![mov(0, 0)], &Helpers::new());
    let e = vm
        .run(&mut RunContext::new().with_budget(Some(1)))
        .unwrap_err();
    assert_eq!(e, VmError::FellOffEnd { pc: 0 });
}

// ---------------------------------------------------------------- helpers

fn test_helpers() -> Helpers {
    let mut h = Helpers::new();
    h.register(1, "sum5", |_: &mut HelperCtx<'_>, a| {
        Ok(a[0] + 10 * a[1] + 100 * a[2] + 1000 * a[3] + 10000 * a[4])
    });
    h.register(2, "fail", |_: &mut HelperCtx<'_>, _| {
        Err(HelperError::Abort("nope".into()))
    });
    // Writes r2 bytes of 0xab at r1 (checked).
    h.register(3, "fill", |c: &mut HelperCtx<'_>, a| {
        c.write(a[0], a[1] as usize)?.fill(0xab);
        Ok(0)
    });
    h.register(4, "pc", |c: &mut HelperCtx<'_>, _| Ok(c.pc() as u64));
    h.register(5, "env", |c: &mut HelperCtx<'_>, a| {
        let n = c.env::<u64>().ok_or(HelperError::Abort("no env".into()))?;
        *n += a[0];
        Ok(*n)
    });
    h.register_external(-7, "ext", |_: &mut HelperCtx<'_>, a| Ok(a[0] * 2));
    h
}

#[test]
fn helper_calls_pass_arguments_and_return_r0() {
    let vm = vm_with(
        vec![
            mov(1, 1),
            mov(2, 2),
            mov(3, 3),
            mov(4, 4),
            mov(5, 5),
            call(1),
            EXIT,
        ],
        &test_helpers(),
    );
    assert_eq!(vm.run(&mut RunContext::new()).unwrap().r0, 54321);
    // The helper sees the calling instruction's slot.
    let vm = vm_with(vec![lddw(1, 0), call(4), EXIT], &test_helpers());
    assert_eq!(vm.run(&mut RunContext::new()).unwrap().r0, 2);
    // External functions.
    let vm = vm_with(
        vec![
            mov(1, 21),
            Insn::Call(CallTarget::External { id: -7, module: 0 }),
            EXIT,
        ],
        &test_helpers(),
    );
    assert_eq!(vm.run(&mut RunContext::new()).unwrap().r0, 42);
}

#[test]
fn helper_env() {
    let vm = vm_with(vec![mov(1, 5), call(5), EXIT], &test_helpers());
    let mut counter = 10u64;
    let mut ctx = RunContext::new().with_env(&mut counter);
    assert_eq!(vm.run(&mut ctx).unwrap().r0, 15);
    assert_eq!(vm.run(&mut ctx).unwrap().r0, 20);
    let e = vm.run(&mut RunContext::new()).unwrap_err();
    assert!(matches!(e, VmError::HelperFailed { pc: 1, id: 5, .. }));
}

#[test]
fn unknown_helpers_fail_only_when_called() {
    let h = test_helpers();
    // Dead call to helper 99.
    let vm = vm_with(vec![mov(0, 3), ja(1), call(99), EXIT], &h);
    assert_eq!(vm.run(&mut RunContext::new()).unwrap().r0, 3);
    let vm = vm_with(vec![mov(0, 3), call(99), EXIT], &h);
    assert_eq!(
        vm.run(&mut RunContext::new()).unwrap_err(),
        VmError::UnknownHelper { pc: 1, id: 99 }
    );
    let vm = vm_with(vec![call(-1), EXIT], &h);
    assert_eq!(
        vm.run(&mut RunContext::new()).unwrap_err(),
        VmError::UnknownHelper {
            pc: 0,
            id: 0xffff_ffff
        }
    );
    let vm = vm_with(
        vec![Insn::Call(CallTarget::External { id: 8, module: 0 }), EXIT],
        &h,
    );
    assert_eq!(
        vm.run(&mut RunContext::new()).unwrap_err(),
        VmError::UnknownExternal { pc: 0, id: 8 }
    );
    // Helpers registered after loading are not seen.
    let mut h2 = Helpers::new();
    let vm = vm_with(vec![call(1), EXIT], &h2);
    h2.register(1, "late", |_: &mut HelperCtx<'_>, _| Ok(1));
    assert!(matches!(
        vm.run(&mut RunContext::new()),
        Err(VmError::UnknownHelper { .. })
    ));
}

#[test]
fn helper_errors_end_the_run() {
    let vm = vm_with(vec![mov(0, 0), call(2), EXIT], &test_helpers());
    assert_eq!(
        vm.run(&mut RunContext::new()).unwrap_err(),
        VmError::HelperFailed {
            pc: 1,
            id: 2,
            message: "nope".into()
        }
    );
    // A helper refusing a pointer outside the regions.
    let vm = vm_with(vec![mov(1, 64), mov(2, 8), call(3), EXIT], &test_helpers());
    assert!(matches!(
        vm.run(&mut RunContext::new()).unwrap_err(),
        VmError::HelperFailed { pc: 2, id: 3, .. }
    ));
}

#[test]
fn helpers_see_the_live_stack() {
    // fill(r10 - 16, 16), then read back.
    let vm = vm_with(
        vec![
            movr(1, 10),
            a64(AluOp::Add, 1, -16),
            mov(2, 16),
            call(3),
            ldx(Size::DW, 0, 10, -16),
            EXIT,
        ],
        &test_helpers(),
    );
    assert_eq!(
        vm.run(&mut RunContext::new()).unwrap().r0,
        0xabab_abab_abab_abab
    );
    // But not past the top of the stack, nor below the current frame.
    for (off, len) in [(-8, 16), (-520, 16)] {
        let vm = vm_with(
            vec![
                movr(1, 10),
                a64(AluOp::Add, 1, off),
                mov(2, len),
                call(3),
                EXIT,
            ],
            &test_helpers(),
        );
        assert!(matches!(
            vm.run(&mut RunContext::new()).unwrap_err(),
            VmError::HelperFailed { pc: 3, .. }
        ));
    }
}

#[test]
fn regions_added_by_helpers_last_until_the_run_ends() {
    let extra = Box::leak(Box::new([9u8; 8]));
    let addr = extra.as_ptr() as u64;
    let mut h = Helpers::new();
    h.register(1, "grant", move |c: &mut HelperCtx<'_>, _| {
        // SAFETY: `extra` is leaked, so valid forever.
        unsafe { c.add_region(MemoryRegion::new(addr, 8, false, RegionKind::Embedder)) };
        Ok(addr)
    });
    let vm = vm_with(vec![call(1), ldx(Size::B, 0, 0, 0), EXIT], &h);
    let mut ctx = RunContext::new();
    assert_eq!(vm.run(&mut ctx).unwrap().r0, 9);
    assert_eq!(ctx.regions().len(), 0);
    // Without the grant, the address is refused.
    let vm = vm_with(vec![lddw(1, addr), ldx(Size::B, 0, 1, 0), EXIT], &h);
    assert!(matches!(
        vm.run(&mut ctx),
        Err(VmError::MemoryFault { pc: 2, .. })
    ));
}

// ---------------------------------------------------------------- callx

#[test]
fn callx_with_helper_id_and_code_address() {
    let h = test_helpers();
    let vm = vm_with(
        vec![mov(1, 20), mov(8, 1), Insn::CallX { reg: r(8) }, EXIT],
        &h,
    );
    assert_eq!(vm.run(&mut RunContext::new()).unwrap().r0, 20);
    // lddw r6, <code address of f>; callx r6; exit; f: mov r0, r1 * 3; exit
    let code = vec![
        mov(1, 7),
        Insn::LoadImm64 {
            dst: r(6),
            value: LoadImm64::CodeAddr(3),
        },
        Insn::CallX { reg: r(6) },
        EXIT,
        movr(0, 1),
        a64(AluOp::Mul, 0, 3),
        EXIT,
    ];
    let vm = vm_with(code.clone(), &h);
    assert_eq!(vm.run(&mut RunContext::new()).unwrap().r0, 21);
    // The code address value is documented: base + slot of the target (slot 5).
    let mut c2 = code;
    c2[2] = movr(0, 6);
    let vm = vm_with(c2, &h);
    assert_eq!(
        vm.run(&mut RunContext::new()).unwrap().r0,
        CODE_ADDR_BASE + 5
    );
    // Unknown ids and bad code addresses (past the end, the second slot of a lddw).
    for v in [77u64, CODE_ADDR_BASE + 1000, CODE_ADDR_BASE + 3, 1 << 40] {
        let vm = vm_with(
            vec![
                lddw(1, 0),
                lddw(3, v),
                Insn::CallX { reg: r(3) },
                EXIT,
                mov(0, 0),
                EXIT,
            ],
            &h,
        );
        assert_eq!(
            vm.run(&mut RunContext::new()).unwrap_err(),
            VmError::UnknownHelper { pc: 4, id: v }
        );
    }
}

// ---------------------------------------------------------------- bpf-to-bpf calls

#[test]
fn local_calls_preserve_r6_to_r9_and_pass_r1_to_r5() {
    let code = vec![
        mov(1, 1),
        mov(2, 2),
        mov(3, 3),
        mov(4, 4),
        mov(5, 5),
        mov(6, 6),
        mov(7, 7),
        mov(8, 8),
        mov(9, 9),
        call_local(9), // callee at 19
        // r0 = callee result * 10000 + r6 * 1000 + r9
        a64(AluOp::Mul, 0, 10000),
        a64(AluOp::Mul, 6, 1000),
        a64r(AluOp::Add, 0, 6),
        a64r(AluOp::Add, 0, 9),
        movr(1, 7),
        a64r(AluOp::Add, 1, 8),
        jmp(Width::W64, JmpOp::Eq, 1, Operand::Imm(15), 1),
        mov(0, -1),
        EXIT,
        // callee: r0 = r1 + r2 + r3 + r4 + r5; clobber r6-r9
        movr(0, 1),
        a64r(AluOp::Add, 0, 2),
        a64r(AluOp::Add, 0, 3),
        a64r(AluOp::Add, 0, 4),
        a64r(AluOp::Add, 0, 5),
        mov(6, 0),
        mov(7, 0),
        mov(8, 0),
        mov(9, 0),
        EXIT,
    ];
    assert_eq!(r0(code), 15 * 10000 + 6000 + 9);
}

#[test]
fn each_call_gets_a_fresh_zeroed_frame_and_callers_frames_stay_reachable() {
    let code = vec![
        // caller: *(r10-8) = 111; r1 = r10 - 8; r6 = f(r1); r0 = g() + r6 + *(r10-8)
        st(Size::DW, 10, -8, 111),
        movr(1, 10),
        a64(AluOp::Add, 1, -8),
        call_local(6), // f at 10
        movr(6, 0),
        call_local(8), // g at 14
        a64r(AluOp::Add, 0, 6),
        ldx(Size::DW, 1, 10, -8),
        a64r(AluOp::Add, 0, 1),
        EXIT,
        // f (10): reads the caller's slot through r1, writes its own frame and the caller's
        ldx(Size::DW, 0, 1, 0),
        st(Size::DW, 10, -8, 5000),
        st(Size::DW, 1, 0, 222),
        EXIT,
        // g (14): its frame is zero although f wrote the same address
        ldx(Size::DW, 0, 10, -8),
        EXIT,
    ];
    // 111 (f's read) + 0 (g's read) + 222 (the caller's slot, rewritten by f).
    assert_eq!(r0(code), 111 + 222);
    // The frame pointer moves down by one frame per call.
    let code = vec![
        movr(6, 10),
        call_local(3), // at 5
        a64r(AluOp::Sub, 6, 0),
        movr(0, 6),
        EXIT,
        movr(0, 10),
        EXIT,
    ];
    assert_eq!(r0(code), STACK_SIZE as u64);
    // A callee cannot reach below its own frame.
    let code = vec![call_local(1), EXIT, ldx(Size::B, 0, 10, -513), EXIT];
    assert!(matches!(run(code), Err(VmError::MemoryFault { pc: 2, .. })));
}

#[test]
fn call_depth_limit() {
    // f(n) = n == 0 ? 0 : f(n - 1) + 1, called with n = frames - 2 so that `frames` frames
    // (the program's own included) are live at the deepest point; every frame writes the
    // lowest byte of its 512.
    let prog_depth = |frames: i32| {
        vec![
            mov(1, frames - 2),
            call_local(1), // f at 3
            EXIT,
            st(Size::DW, 10, -512, 1),
            mov(0, 0),
            jmp(Width::W64, JmpOp::Eq, 1, Operand::Imm(0), 3),
            a64(AluOp::Sub, 1, 1),
            call_local(-5), // f
            a64(AluOp::Add, 0, 1),
            EXIT,
        ]
    };
    assert_eq!(r0(prog_depth(8)), 6);
    assert_eq!(r0(prog_depth(2)), 0);
    assert_eq!(
        run(prog_depth(9)).unwrap_err(),
        VmError::CallDepthExceeded { pc: 7, max: 8 }
    );
    // Unbounded recursion.
    assert_eq!(
        run(vec![call_local(-1), EXIT]).unwrap_err(),
        VmError::CallDepthExceeded { pc: 0, max: 8 }
    );
}

// ---------------------------------------------------------------- atomics

#[test]
fn atomics() {
    let rmw = |size, op, init: u64, operand: u64| -> (u64, u64) {
        let mut mem = [0u8; 8];
        mem.copy_from_slice(&init.to_le_bytes());
        let out = run_mem(
            vec![
                lddw(2, operand),
                atomic(size, op, 1, 2, 0),
                movr(0, 2),
                EXIT,
            ],
            &mut mem,
        )
        .unwrap()
        .r0;
        (out, u64::from_le_bytes(mem))
    };
    let f = true;
    let init = 0xffff_0000_f0f0_0003u64;
    // 64-bit
    assert_eq!(
        rmw(Size::DW, AtomicOp::Add { fetch: false }, init, 2),
        (2, init + 2)
    );
    assert_eq!(
        rmw(Size::DW, AtomicOp::Add { fetch: f }, init, 2),
        (init, init + 2)
    );
    assert_eq!(
        rmw(Size::DW, AtomicOp::Or { fetch: f }, init, 8),
        (init, init | 8)
    );
    assert_eq!(
        rmw(Size::DW, AtomicOp::And { fetch: f }, init, 1),
        (init, 1)
    );
    assert_eq!(
        rmw(Size::DW, AtomicOp::Xor { fetch: f }, init, 3),
        (init, init ^ 3)
    );
    assert_eq!(rmw(Size::DW, AtomicOp::Xchg, init, 5), (init, 5));
    // 32-bit: only the low half changes; the fetched value is zero-extended.
    assert_eq!(
        rmw(Size::W, AtomicOp::Add { fetch: f }, init, 0xffff_ffff),
        (0xf0f0_0003, 0xffff_0000_f0f0_0002)
    );
    assert_eq!(
        rmw(Size::W, AtomicOp::Xchg, init, 0x1_0000_0007),
        (0xf0f0_0003, 0xffff_0000_0000_0007)
    );
    assert_eq!(
        rmw(Size::W, AtomicOp::Or { fetch: false }, init, 4).1,
        init | 4
    );
    assert_eq!(
        rmw(Size::W, AtomicOp::And { fetch: false }, init, 1).1,
        0xffff_0000_0000_0001
    );
    assert_eq!(
        rmw(Size::W, AtomicOp::Xor { fetch: false }, init, 1).1,
        init ^ 1
    );

    // cmpxchg: r0 = old; stores only when equal (32-bit compares the low half of r0).
    let cmpxchg = |size, r0v: u64| {
        let mut mem = 0x1_0000_0005u64.to_le_bytes();
        let out = run_mem(
            vec![
                lddw(0, r0v),
                mov(2, 9),
                atomic(size, AtomicOp::CmpXchg, 1, 2, 0),
                EXIT,
            ],
            &mut mem,
        )
        .unwrap()
        .r0;
        (out, u64::from_le_bytes(mem))
    };
    assert_eq!(cmpxchg(Size::DW, 0x1_0000_0005), (0x1_0000_0005, 9));
    assert_eq!(cmpxchg(Size::DW, 5), (0x1_0000_0005, 0x1_0000_0005));
    assert_eq!(cmpxchg(Size::W, 0xff_0000_0005), (5, 0x1_0000_0009));
    assert_eq!(cmpxchg(Size::W, 6), (5, 0x1_0000_0005));

    // On the stack.
    assert_eq!(
        r0(vec![
            st(Size::DW, 10, -8, 40),
            mov(1, 2),
            atomic(Size::DW, AtomicOp::Add { fetch: false }, 10, 1, -8),
            ldx(Size::DW, 0, 10, -8),
            EXIT
        ]),
        42
    );
}

#[test]
fn atomics_check_alignment_and_bounds() {
    let mut mem = [0u8; 16];
    let base = mem.as_ptr() as u64;
    let e = run_mem(
        vec![
            mov(2, 1),
            atomic(Size::W, AtomicOp::Add { fetch: false }, 1, 2, 2),
            EXIT,
        ],
        &mut mem,
    )
    .unwrap_err();
    assert_eq!(
        e,
        VmError::MisalignedAtomic {
            pc: 1,
            addr: base + 2,
            size: 4
        }
    );
    let e = run_mem(
        vec![mov(2, 1), atomic(Size::DW, AtomicOp::Xchg, 1, 2, 16), EXIT],
        &mut mem,
    )
    .unwrap_err();
    assert!(matches!(e, VmError::MemoryFault { pc: 1, fault } if fault.write));
    // Atomics need a writable region.
    let data = [0u64; 2];
    let vm = vm_with(
        vec![
            mov(2, 1),
            atomic(Size::DW, AtomicOp::Add { fetch: false }, 1, 2, 0),
            EXIT,
        ],
        &Helpers::new(),
    );
    let mut ctx = RunContext::new();
    ctx.args[0] = data.as_ptr() as u64;
    // SAFETY: `data` outlives the context and is only read through it.
    unsafe {
        ctx.allow_raw(MemoryRegion::new(
            data.as_ptr() as u64,
            16,
            false,
            RegionKind::ReadOnly,
        ));
    }
    assert!(matches!(
        vm.run(&mut ctx),
        Err(VmError::MemoryFault { pc: 1, fault }) if fault.reason == FaultReason::ReadOnly(RegionKind::ReadOnly)
    ));
}

#[test]
fn load_acquire_and_store_release() {
    for (size, want) in [
        (Size::B, 0x88),
        (Size::H, 0x7788),
        (Size::W, 0x5566_7788),
        (Size::DW, 0x1122_3344_5566_7788u64),
    ] {
        let mut mem = 0x1122_3344_5566_7788u64.to_le_bytes();
        let got = run_mem(
            vec![atomic(size, AtomicOp::LoadAcquire, 0, 1, 0), EXIT],
            &mut mem,
        )
        .unwrap()
        .r0;
        assert_eq!(got, want, "{size:?}");
        let mut mem = [0u8; 8];
        run_mem(
            vec![
                lddw(2, 0x1122_3344_5566_7788),
                atomic(size, AtomicOp::StoreRelease, 1, 2, 0),
                EXIT,
            ],
            &mut mem,
        )
        .unwrap();
        assert_eq!(u64::from_le_bytes(mem), want, "{size:?}");
    }
    let mut mem = [0u8; 16];
    let e = run_mem(
        vec![atomic(Size::H, AtomicOp::LoadAcquire, 0, 1, 1), EXIT],
        &mut mem,
    )
    .unwrap_err();
    assert!(matches!(
        e,
        VmError::MisalignedAtomic { pc: 0, size: 2, .. }
    ));
    let e = run_mem(
        vec![atomic(Size::DW, AtomicOp::StoreRelease, 1, 1, 12), EXIT],
        &mut mem,
    )
    .unwrap_err();
    assert!(matches!(e, VmError::MemoryFault { pc: 0, .. }));
}

// ---------------------------------------------------------------- packet loads

fn ldabs(size: Size, imm: i32) -> Insn {
    Insn::LoadPacket {
        mode: PacketMode::Abs,
        size,
        imm,
    }
}
fn ldind(size: Size, reg: u8, imm: i32) -> Insn {
    Insn::LoadPacket {
        mode: PacketMode::Ind(r(reg)),
        size,
        imm,
    }
}

#[test]
fn legacy_packet_loads() {
    let mut input = [0x11u8, 0x22, 0x33, 0x44, 0x55, 0x66];
    let p = |insns: Vec<Insn>, mem: &mut [u8]| run_mem(insns, mem).unwrap().r0;
    assert_eq!(p(vec![ldabs(Size::B, 1), EXIT], &mut input), 0x22);
    assert_eq!(p(vec![ldabs(Size::H, 1), EXIT], &mut input), 0x2233);
    assert_eq!(p(vec![ldabs(Size::W, 2), EXIT], &mut input), 0x3344_5566);
    assert_eq!(
        p(vec![mov(3, 1), ldind(Size::H, 3, 3), EXIT], &mut input),
        0x5566
    );
    // Out of range ends the program with r0 = 0, skipping the rest.
    let out = run_mem(
        vec![mov(0, 9), ldabs(Size::W, 3), mov(0, 7), EXIT],
        &mut input,
    )
    .unwrap();
    assert_eq!(
        out,
        RunOutcome {
            r0: 0,
            insns_executed: Some(2)
        }
    );
    assert_eq!(p(vec![ldabs(Size::B, -1), mov(0, 7), EXIT], &mut input), 0);
    assert_eq!(
        p(vec![mov(3, -1), ldind(Size::B, 3, 1), EXIT], &mut input),
        0x11
    );
    // ldind offsets are 32-bit: 0x1_0000_0001 + 1 is offset 2.
    assert_eq!(
        p(
            vec![lddw(3, 0x1_0000_0001), ldind(Size::B, 3, 1), EXIT],
            &mut input
        ),
        0x33
    );
    assert_eq!(
        p(
            vec![mov(3, 6), ldind(Size::B, 3, 0), mov(0, 7), EXIT],
            &mut input
        ),
        0
    );
    // No packet at all.
    assert_eq!(r0(vec![mov(0, 5), ldabs(Size::B, 0), EXIT]), 0);
    // A Packet region wins over the Input region.
    let pkt = [0xaau8, 0xbb];
    let vm = vm_with(vec![ldabs(Size::H, 0), EXIT], &Helpers::new());
    let mut ctx = RunContext::with_memory(&mut input);
    ctx.allow(&pkt, RegionKind::Packet);
    assert_eq!(vm.run(&mut ctx).unwrap().r0, 0xaabb);
}

// ---------------------------------------------------------------- may_goto

#[test]
fn may_goto_allows_the_linux_loop_count() {
    // 0: may_goto +2; 1: r0 += 1; 2: ja -3; 3: exit
    let vm = vm_with(
        vec![
            mov(0, 0),
            Insn::MayGoto { off: 2 },
            a64(AluOp::Add, 0, 1),
            ja(-3),
            EXIT,
        ],
        &Helpers::new(),
    );
    let out = vm.run(&mut RunContext::new()).unwrap();
    assert_eq!(out.r0, MAY_GOTO_LOOPS);
    assert_eq!(out.insns_executed, Some(1 + 3 * MAY_GOTO_LOOPS + 2));
    // The counter is per run.
    assert_eq!(vm.run(&mut RunContext::new()).unwrap().r0, MAY_GOTO_LOOPS);
}

// ---------------------------------------------------------------- misc

#[test]
fn entry_registers() {
    let vm = vm_with(
        vec![
            movr(0, 5),
            a64r(AluOp::Add, 0, 6),
            a64r(AluOp::Add, 0, 9),
            EXIT,
        ],
        &Helpers::new(),
    );
    let mut ctx = RunContext::new();
    ctx.args = [1, 2, 3, 4, 55];
    assert_eq!(vm.run(&mut ctx).unwrap().r0, 55);
    let mut mem = [0u8; 13];
    assert_eq!(run_mem(vec![movr(0, 2), EXIT], &mut mem).unwrap().r0, 13);
    assert_eq!(vm.engine(), EngineKind::Interpreter);
}

#[test]
fn interpreter_is_send_and_sync_and_runs_concurrently() {
    fn check<T: Send + Sync>() {}
    check::<Interpreter>();
    let vm = std::sync::Arc::new(vm_with(
        vec![
            st(Size::DW, 10, -8, 0),
            ldx(Size::DW, 0, 10, -8),
            a64(AluOp::Add, 0, 1),
            stx(Size::DW, 10, -8, 0),
            jmp(Width::W64, JmpOp::Lt, 0, Operand::Imm(1000), -4),
            EXIT,
        ],
        &Helpers::new(),
    ));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let vm = vm.clone();
            std::thread::spawn(move || vm.run(&mut RunContext::new()).unwrap().r0)
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 1000);
    }
}

#[test]
fn fuzz_body_survives_random_programs() {
    // Random valid programs (slots that fail to decode are re-rolled), run with a budget.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut ran = 0;
    for _ in 0..300 {
        let nslots = 1 + (next() % 24) as usize;
        let mut code: Vec<u8> = (0..nslots * 8).map(|_| next() as u8).collect();
        // Bias towards plausible programs: valid registers, small offsets.
        for s in 0..nslots {
            code[s * 8 + 1] &= 0x99;
            code[s * 8 + 3] = 0;
            code[s * 8 + 2] %= nslots as u8;
        }
        let mut tries = 0;
        while let Err(e) = Program::decode(&code) {
            tries += 1;
            if tries > 5000 || e.pc * 8 >= code.len() {
                break;
            }
            let slot = &mut code[e.pc * 8..e.pc * 8 + 8];
            for b in slot.iter_mut() {
                *b = next() as u8;
            }
            slot[1] &= 0x99;
            slot[2] %= nslots as u8;
            slot[3] = 0;
            if next() % 2 == 0 {
                slot[4..].fill(0);
            }
        }
        let mut data = vec![(next() % 65) as u8];
        data.extend((0..64).map(|_| next() as u8));
        data.truncate(1 + data[0] as usize);
        data.extend_from_slice(&code);
        if let Some(res) = fuzz::run_bytes(&data) {
            ran += 1;
            if let Ok(out) = res {
                assert!(out.insns_executed.unwrap() <= fuzz::FUZZ_BUDGET);
            }
        }
    }
    assert!(ran > 50, "only {ran} random programs decoded");
}

#[test]
fn code_size_is_sixteen_bytes_per_op_plus_tables() {
    // 3 instructions + the sentinel = 4 ops (a power of two, no padding):
    // ops 4 x 16, slot_of 4 x 4, index_of_slot 3 x 4, straight 4 x 4.
    let vm = vm_with(vec![mov(0, 0), mov(1, 0), EXIT], &Helpers::new());
    assert_eq!(vm.code_bytes(), 4 * 16 + 4 * 4 + 3 * 4 + 4 * 4);
    // 4 instructions + the sentinel are padded to 8 ops.
    let vm = vm_with(vec![mov(0, 0), mov(1, 0), mov(2, 0), EXIT], &Helpers::new());
    assert_eq!(vm.code_bytes(), 8 * 16 + 8 * 4 + 4 * 4 + 8 * 4);
}
