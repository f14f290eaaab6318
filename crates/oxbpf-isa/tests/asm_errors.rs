//! Assembler errors: the right line and column, a message that says what was expected.

use oxbpf_isa::assemble;

/// Asserts that `text` fails at `line`:`column` with a message containing `msg`.
#[track_caller]
fn fails(text: &str, line: usize, column: usize, msg: &str) {
    let e = assemble(text).expect_err(text);
    assert_eq!((e.line, e.column), (line, column), "`{text}`: {e}");
    assert!(
        e.message.contains(msg),
        "`{text}`: {e}\n(expected to contain `{msg}`)"
    );
    assert_eq!(
        e.to_string(),
        format!("line {line}, column {column}: {}", e.message)
    );
}

#[test]
fn registers() {
    fails(
        "mov %r0, 1\nexit\n  mov %r11, 1",
        3,
        7,
        "expected a register such as r1 or %r1, found `%r11` (registers are r0 to r10)",
    );
    fails("r11 = 1", 1, 1, "found `r11` (registers are r0 to r10)");
    fails(
        "r10 = 1",
        1,
        1,
        "r10 is the read-only frame pointer and cannot be written",
    );
    fails("ldxdw %r10, [%r1]", 1, 7, "read-only frame pointer");
    fails(
        "r0 += w1",
        1,
        7,
        "`w1` is a 32-bit register and `r0` a 64-bit one",
    );
    fails("if w1 > r2 goto +1", 1, 9, "32-bit register");
    fails(
        "r0 = *(u8 *)(w1 + 0)",
        1,
        14,
        "an address is a 64-bit register: write r1",
    );
    fails(
        "w0 = *(u64 *)(r1 + 0)",
        1,
        1,
        "a 64-bit access needs a 64-bit register",
    );
    fails(
        "mov %w1, 2",
        1,
        5,
        "expected a 64-bit register here: write r1 instead of w1",
    );
    fails(
        "r1: exit",
        1,
        1,
        "`r1` is a register name and cannot be a label",
    );
}

#[test]
fn syntax() {
    fails(
        "movv %r0, 1",
        1,
        1,
        "unknown instruction `movv`; did you mean `mov`?",
    );
    fails(
        "ldxw %r0 [%r1+4]",
        1,
        10,
        "expected `,` after the destination register, found `[`",
    );
    fails(
        "ldxw %r0, [%r1+4",
        1,
        17,
        "expected `]` to close the memory operand, found the end of the line",
    );
    fails(
        "exit now",
        1,
        6,
        "unexpected `now` after the end of the instruction",
    );
    fails("r0 = 1 @", 1, 8, "unexpected character `@`");
    fails("r0 = 12ab", 1, 6, "malformed number `12ab`");
    fails(
        "if r1 > 5 goto 3",
        1,
        16,
        "expected a jump target: a label or an offset with its sign",
    );
    fails("if r1 ~ 5 goto +1", 1, 7, "expected a comparison");
    fails("r1 = -r2", 1, 7, "negation is in place: write `r1 = -r1`");
    fails("r1 = be16 r2", 1, 11, "byte swaps are in place");
    fails(
        "r1 = be24 r1",
        1,
        6,
        "byte swaps exist for 16, 32 and 64 bits",
    );
    fails("r0 =", 1, 5, "expected a value after `=`");
    fails(
        "lock *(u64 *)(r10 - 8) -= r1",
        1,
        24,
        "expected an atomic operator",
    );
    fails(
        "r0 = atomic_fetch_add(r10 - 8, r0)",
        1,
        23,
        "give `atomic_fetch_add` the operand size",
    );
    fails("\t\tr0 = r1\tll", 1, 11, "unexpected `ll`");
    fails(
        "\t.section xdp,\"ax\",@progbits",
        1,
        2,
        "assembler directive `.section` is not supported",
    );
    fails(
        "0: (79) r0 = *(u32 *)(r1 +0)",
        1,
        5,
        "the opcode in parentheses is 0x79, but the instruction encodes as 0x61",
    );
}

#[test]
fn values() {
    fails(
        "w0 = 0x1ffffffff",
        1,
        6,
        "immediate 8589934591 does not fit in 32 bits",
    );
    fails(
        "mov32 %r0, 0x100000000",
        1,
        12,
        "does not fit in 32 bits (allowed: -2147483648 to 4294967295)",
    );
    fails(
        "lddw %r0, 0x10000000000000000",
        1,
        11,
        "does not fit in 64 bits",
    );
    fails(
        "r0 = *(u32 *)(r1 + 70000)",
        1,
        18,
        "offset 70000 does not fit in 16 bits",
    );
    fails(
        "ldxdw %r0, [%r1+0x8000]",
        1,
        16,
        "offset 32768 does not fit in 16 bits",
    );
    fails(
        "r0 = addr_space_cast(r1, 2, 3)",
        1,
        26,
        "(0, 1) or (1, 0), found (2, 3)",
    );
    fails(
        "call kfunc(1, 99999)",
        1,
        15,
        "99999 is out of range for a module index",
    );
    fails("r1 = map[id:5]", 1, 6, "write `map_fd(N)` or `map_idx(N)`");
    fails(
        "ld_pseudo r1, 7, 0",
        1,
        15,
        "out of range for an lddw source (0 to 6)",
    );
}

#[test]
fn semantics() {
    fails(
        "r1 = *(u8 *)skb[1]",
        1,
        1,
        "packet loads always write r0, not r1",
    );
    fails(
        "r0 = *(u64 *)skb[1]",
        1,
        8,
        "packet loads take u8, u16 or u32",
    );
    fails(
        "lock *(u8 *)(r1 + 0) += r2",
        1,
        8,
        "atomic read-modify-write operations take u32 or u64",
    );
    fails(
        "r1 = atomic_fetch_add((u64 *)(r10 - 8), r2)",
        1,
        1,
        "write `r2 = atomic_fetch_add(..., r2)`",
    );
    fails(
        "r1 = cmpxchg_64(r10 - 8, r0, r1)",
        1,
        1,
        "write `r0 = cmpxchg_64(...)`",
    );
    fails(
        "r0 = cmpxchg_64(r10 - 8, r1, r2)",
        1,
        26,
        "cmpxchg always compares with r0",
    );
    fails(
        "w0 = (s32)w1",
        1,
        7,
        "(s32) sign extension exists only in 64-bit form",
    );
    fails(
        "r0 = *(s64 *)(r1 + 0)",
        1,
        8,
        "no sign-extending 8-byte load",
    );
    fails(
        "*(s8 *)(r1 + 0) = 1",
        1,
        3,
        "a store takes an unsigned type",
    );
    fails(
        "call bpf_map_lookup_elem#2",
        1,
        6,
        "helper `bpf_map_lookup_elem` has id 1, not 2",
    );
    fails("call foo#2", 1, 6, "write `call kfunc(2)`");
}

#[test]
fn labels_and_targets() {
    fails("goto nowhere\nexit", 1, 6, "undefined label `nowhere`");
    fails(
        "ja done\ndone1:\nexit",
        1,
        4,
        "undefined label `done`; did you mean `done1`?",
    );
    fails(
        "a:\nexit\n a:\nexit",
        3,
        2,
        "label `a` is already defined on line 1",
    );
    fails(
        "goto +5\nexit",
        1,
        6,
        "jump target 6 is outside the program (instructions 0 to 1)",
    );
    fails(
        "jne %r1, 0, +1\nlddw %r0, 1\nexit",
        1,
        13,
        "jump target 2 is the second half of the lddw at 1",
    );
    fails(
        "call pc+1\nlddw %r0, 1\nexit",
        1,
        6,
        "call target 2 is the second half of the lddw at 1",
    );
    fails(
        "r0 = func(pc+5) ll\nexit",
        1,
        11,
        "code address target 6 is outside the program",
    );
    fails("ja L\nL:", 1, 4, "label `L` is after the last instruction");
    fails(
        "call nosuch\nexit",
        1,
        6,
        "`nosuch` is neither a label of this program nor a Linux helper name",
    );
    fails(
        "call bpf_map_lookup_elen\nexit",
        1,
        6,
        "did you mean `bpf_map_lookup_elem`?",
    );
    fails(
        "goto +1 <L0>\nexit\nexit\nL0: exit",
        1,
        10,
        "the offset +1 leads to slot 2, but the annotation `<L0>` names label `L0` at slot 3",
    );
    fails(" <L0>", 1, 3, "needs an instruction");
    fails("<L0>", 1, 1, "unknown instruction `<`");
    fails("", 1, 1, "no instructions to assemble");
    fails("; nothing\nend:", 2, 1, "no instructions to assemble");
}

#[test]
fn branch_ranges() {
    fails(
        "ja +40000\nexit",
        1,
        4,
        "use `gotol` (conformance syntax: `ja32`)",
    );
    let mut far = String::from("if r1 > 2 goto far\n");
    for _ in 0..33000 {
        far.push_str("r0 += 1\n");
    }
    far.push_str("far: exit\n");
    fails(
        &far,
        1,
        16,
        "`far` is +33000 slots away, too far for the 16-bit offset of a conditional jump",
    );
    let far = far.replacen("if r1 > 2 goto far", "may_goto far", 1);
    fails(&far, 1, 10, "too far for the 16-bit offset of `may_goto`");
    let far = far.replacen("may_goto far", "goto far", 1);
    fails(&far, 1, 6, "use `gotol`");
    assert!(assemble(&far.replacen("goto far", "gotol far", 1)).is_ok());
}

#[test]
fn never_panics_on_garbage() {
    let samples = [
        "\u{0}",
        "r",
        "%",
        "%r",
        "(",
        ")",
        "*",
        "*(",
        "*(u8",
        "*(u8 *)",
        "*(u8 *)(",
        "if",
        "if r1",
        "if r1 >",
        "if r1 > 1",
        "if r1 > 1 goto",
        "lock",
        "lock *",
        "call",
        "call local",
        "call pc",
        "call kfunc(",
        "call runtime",
        "lddw",
        "lddw %r1,",
        "lddw %r1, func(",
        "r1 = func(",
        "r1 = map_value(1",
        "r1 = map_value(1,",
        "r0 = *(u8 *)skb[",
        "r0 = *(u8 *)skb[r1 +",
        "<",
        ">",
        "a:b:c:",
        "::",
        "12:",
        "12: (",
        "b7 00 00 00 01 00 00 00",
        "0x",
        "-",
        "r0 = -",
        "r0 = - r",
        "r0 = (",
        "r0 = (s8",
        "r0 = (s8)",
        "é = 1",
        "r0 = atomic_fetch_add(",
        "r0 = atomic_fetch_add((u64 *)(r1 + 0),",
        "store_release(",
        "ld_pseudo",
        "r0 = addr_space_cast(",
        "ja32",
        "may_goto",
        "ldxw %r0, [",
        "movsx832 %r0,",
        "r1 = load_acquire(",
        "0000000000000000 <",
        "0000000000000000 <x>",
        "goto +99999999999999999999",
        "r0 = 99999999999999999999999",
        "gotol -2147483649",
        "call 1 <x>",
        "ldabsw",
        "ldindb %r1",
        "jeq %r1, %r2,",
        "addr_space_cast %r0, %r1, 0",
    ];
    for s in samples {
        let _ = assemble(s);
        let _ = assemble(&format!("{s}\nexit"));
        let _ = assemble(&format!("exit\n{s}"));
    }
}
