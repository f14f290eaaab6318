//! One hand-written malformed program for every `DecodeErrorKind`.

use oxbpf_isa::{DecodeError, DecodeErrorKind, Program, MAX_SLOTS};

/// A program from slots written as `opcode regs off imm` fields.
fn prog(slots: &[(u8, u8, i16, i32)]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(op, regs, off, imm) in slots {
        out.push(op);
        out.push(regs);
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&imm.to_le_bytes());
    }
    out
}

const EXIT: (u8, u8, i16, i32) = (0x95, 0, 0, 0);

#[track_caller]
fn fails(bytes: &[u8], pc: usize, kind: DecodeErrorKind) {
    assert_eq!(Program::decode(bytes), Err(DecodeError { pc, kind }));
}

#[test]
fn empty() {
    fails(&[], 0, DecodeErrorKind::Empty);
    assert_eq!(
        Program::from_raw(&[]).unwrap_err().kind,
        DecodeErrorKind::Empty
    );
    assert_eq!(
        Program::from_insns(vec![]).unwrap_err().kind,
        DecodeErrorKind::Empty
    );
}

#[test]
fn trailing_bytes() {
    let mut b = prog(&[EXIT]);
    b.extend_from_slice(&[0x95, 0, 0]);
    fails(&b, 1, DecodeErrorKind::TrailingBytes { len: 11 });
}

#[test]
fn too_long() {
    let b = prog(&[EXIT]).repeat(MAX_SLOTS + 1);
    fails(
        &b,
        MAX_SLOTS,
        DecodeErrorKind::TooLong {
            slots: MAX_SLOTS + 1,
            limit: MAX_SLOTS,
        },
    );
}

#[test]
fn unknown_opcode() {
    // 0xff: class ALU64, operation 0xf0.
    fails(
        &prog(&[(0xff, 0, 0, 0), EXIT]),
        0,
        DecodeErrorKind::UnknownOpcode(0xff),
    );
    // BPF_LDX | BPF_MEMSX | BPF_DW: no 8-byte sign-extending load.
    fails(
        &prog(&[EXIT, (0x99, 0x10, 0, 0)]),
        1,
        DecodeErrorKind::UnknownOpcode(0x99),
    );
    // BPF_LD | BPF_ABS | BPF_DW.
    fails(
        &prog(&[(0x38, 0, 0, 0), EXIT]),
        0,
        DecodeErrorKind::UnknownOpcode(0x38),
    );
}

#[test]
fn invalid_register() {
    // mov r11, 1
    fails(
        &prog(&[(0xb7, 0x0b, 0, 1), EXIT]),
        0,
        DecodeErrorKind::InvalidRegister {
            field: "dst",
            reg: 11,
        },
    );
    // r0 = r15
    fails(
        &prog(&[(0xbf, 0xf0, 0, 0), EXIT]),
        0,
        DecodeErrorKind::InvalidRegister {
            field: "src",
            reg: 15,
        },
    );
}

#[test]
fn write_to_r10() {
    fails(
        &prog(&[(0xb7, 0x0a, 0, 1), EXIT]),
        0,
        DecodeErrorKind::WriteToR10,
    );
    // r10 = atomic_fetch_add(...): the fetch writes src.
    fails(
        &prog(&[(0xdb, 0xa1, 0, 1), EXIT]),
        0,
        DecodeErrorKind::WriteToR10,
    );
}

#[test]
fn reserved_field() {
    // exit with a non-zero immediate.
    fails(
        &prog(&[(0x95, 0, 0, 1)]),
        0,
        DecodeErrorKind::ReservedField {
            field: "immediate",
            expected: "0",
            found: 1,
        },
    );
    // r0 += 1 with offset 3.
    fails(
        &prog(&[(0x07, 0, 3, 1), EXIT]),
        0,
        DecodeErrorKind::ReservedField {
            field: "offset",
            expected: "0",
            found: 3,
        },
    );
    // Byte swap of 24 bits.
    fails(
        &prog(&[(0xdc, 0, 0, 24), EXIT]),
        0,
        DecodeErrorKind::ReservedField {
            field: "immediate",
            expected: "16, 32 or 64",
            found: 24,
        },
    );
    // Map fd lddw with a non-zero second immediate.
    fails(
        &prog(&[(0x18, 0x10, 0, 3), (0, 0, 0, 1), EXIT]),
        0,
        DecodeErrorKind::ReservedField {
            field: "second-slot immediate",
            expected: "0",
            found: 1,
        },
    );
}

#[test]
fn truncated_lddw() {
    fails(
        &prog(&[EXIT, (0x18, 0, 0, 1)]),
        1,
        DecodeErrorKind::TruncatedLddw,
    );
}

#[test]
fn bad_lddw_second_slot() {
    fails(
        &prog(&[(0x18, 0, 0, 1), (0x95, 0, 0, 0), EXIT]),
        0,
        DecodeErrorKind::BadLddwSecondSlot,
    );
}

#[test]
fn unknown_lddw_source() {
    fails(
        &prog(&[(0x18, 0x70, 0, 1), (0, 0, 0, 0), EXIT]),
        0,
        DecodeErrorKind::UnknownLddwSource(7),
    );
}

#[test]
fn unknown_atomic_op() {
    fails(
        &prog(&[(0xdb, 0x1a, -8, 0x02), EXIT]),
        0,
        DecodeErrorKind::UnknownAtomicOp(0x02),
    );
}

#[test]
fn bad_atomic_size() {
    // BPF_STX | BPF_ATOMIC | BPF_B with add.
    fails(
        &prog(&[(0xd3, 0x1a, -8, 0x00), EXIT]),
        0,
        DecodeErrorKind::BadAtomicSize {
            op: "add",
            bytes: 1,
        },
    );
}

#[test]
fn unknown_call_kind() {
    fails(
        &prog(&[(0x85, 0x30, 0, 1), EXIT]),
        0,
        DecodeErrorKind::UnknownCallKind(3),
    );
}

#[test]
fn target_out_of_range() {
    fails(
        &prog(&[(0x05, 0, 5, 0), EXIT]),
        0,
        DecodeErrorKind::TargetOutOfRange {
            what: "jump",
            target: 6,
            last: 1,
        },
    );
    fails(
        &prog(&[(0x85, 0x10, 0, -2), EXIT]),
        0,
        DecodeErrorKind::TargetOutOfRange {
            what: "call",
            target: -1,
            last: 1,
        },
    );
    fails(
        &prog(&[(0x18, 0x40, 0, 9), (0, 0, 0, 0), EXIT]),
        0,
        DecodeErrorKind::TargetOutOfRange {
            what: "code address",
            target: 10,
            last: 2,
        },
    );
}

#[test]
fn target_in_lddw() {
    fails(
        &prog(&[(0x05, 0, 1, 0), (0x18, 0, 0, 1), (0, 0, 0, 0), EXIT]),
        0,
        DecodeErrorKind::TargetInLddw {
            what: "jump",
            target: 2,
            lddw: 1,
        },
    );
}

#[test]
fn messages_name_the_slot() {
    let e = Program::decode(&prog(&[EXIT, (0xff, 0, 0, 0)])).unwrap_err();
    assert_eq!(e.to_string(), "instruction 1: unknown opcode 0xff");
}
