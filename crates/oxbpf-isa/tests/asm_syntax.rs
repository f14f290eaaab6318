//! Every instruction form of both syntaxes assembles to the right bytes (written out by
//! hand from the encoding, RFC 9669 section 3 and Linux's uapi `bpf.h`).

use oxbpf_isa::*;

/// Bytes from hex, spaces and `|` ignored.
fn bytes(hex: &str) -> Vec<u8> {
    let digits: Vec<char> = hex.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(&p.iter().collect::<String>(), 16).unwrap())
        .collect()
}

/// Assembles `text` followed by `exit` and checks the bytes before the `exit`.
fn check(text: &str, hex: &str) {
    let p = assemble(&format!("{text}\nexit")).unwrap_or_else(|e| panic!("`{text}`: {e}"));
    let got = p.to_bytes();
    let want = bytes(hex);
    assert_eq!(&got[..got.len() - 8], &want[..], "`{text}`");
}

#[test]
fn llvm_alu() {
    check("r0 = 1", "b7 00 00 00 01 00 00 00");
    check("r0 = -1", "b7 00 00 00 ff ff ff ff");
    check("r0 = 0xffffffff", "b7 00 00 00 ff ff ff ff");
    check("w0 = 0xffffffff", "b4 00 00 00 ff ff ff ff");
    check("r0 = -2147483648", "b7 00 00 00 00 00 00 80");
    check("r6 = r1", "bf 16 00 00 00 00 00 00");
    check("w6 = w1", "bc 16 00 00 00 00 00 00");
    check("w1 += w2", "0c 21 00 00 00 00 00 00");
    check("r2 += -4", "07 02 00 00 fc ff ff ff");
    check("r1 -= r2", "1f 21 00 00 00 00 00 00");
    check("r0 *= 3", "27 00 00 00 03 00 00 00");
    check("r8 /= r2", "3f 28 00 00 00 00 00 00");
    check("w0 /= 3", "34 00 00 00 03 00 00 00");
    check("r2 s/= 3", "37 02 01 00 03 00 00 00");
    check("r2 |= 1", "47 02 00 00 01 00 00 00");
    check("r2 &= 65534", "57 02 00 00 fe ff 00 00");
    check("r2 <<= 32", "67 02 00 00 20 00 00 00");
    check("r6 >>= 16", "77 06 00 00 10 00 00 00");
    check("r0 %= r1", "9f 10 00 00 00 00 00 00");
    check("w2 s%= w3", "9c 32 01 00 00 00 00 00");
    check("r9 ^= r2", "af 29 00 00 00 00 00 00");
    check("r0 s>>= 3", "c7 00 00 00 03 00 00 00");
    check("w0 s>>= w3", "cc 30 00 00 00 00 00 00");
    check("r1 = -r1", "87 01 00 00 00 00 00 00");
    check("w1 = -w1", "84 01 00 00 00 00 00 00");
    check("r0 = (s8)r1", "bf 10 08 00 00 00 00 00");
    check("r0 = (s16)r1", "bf 10 10 00 00 00 00 00");
    check("r0 = (s32)r1", "bf 10 20 00 00 00 00 00");
    check("w0 = (s8)w1", "bc 10 08 00 00 00 00 00");
    check("w0 = (s16)w1", "bc 10 10 00 00 00 00 00");
    check("r1 = be16 r1", "dc 01 00 00 10 00 00 00");
    check("r1 = be64 r1", "dc 01 00 00 40 00 00 00");
    check("r1 = le32 r1", "d4 01 00 00 20 00 00 00");
    check("r1 = bswap16 r1", "d7 01 00 00 10 00 00 00");
    check("r1 = bswap64 r1", "d7 01 00 00 40 00 00 00");
    check("r0 = addr_space_cast(r1, 0, 1)", "bf 10 01 00 01 00 00 00");
    check("r0 = addr_space_cast(r1, 1, 0)", "bf 10 01 00 00 00 01 00");
}

#[test]
fn llvm_memory() {
    check("r0 = *(u32 *)(r1 + 4)", "61 10 04 00 00 00 00 00");
    check("w0 = *(u32 *)(r1 + 4)", "61 10 04 00 00 00 00 00");
    check("r9 = *(u8 *)(r7 + 1)", "71 79 01 00 00 00 00 00");
    check("r0 = *(u16 *)(r1 - 32768)", "69 10 00 80 00 00 00 00");
    check("r0 = *(u64 *)(r1 + 32767)", "79 10 ff 7f 00 00 00 00");
    check("r0 = *(u64 *)(r1 + 0x10)", "79 10 10 00 00 00 00 00");
    check("r0 = *(s8 *)(r1 + 0)", "91 10 00 00 00 00 00 00");
    check("r0 = *(s16 *)(r1 + 2)", "89 10 02 00 00 00 00 00");
    check("r0 = *(s32 *)(r1 - 2)", "81 10 fe ff 00 00 00 00");
    check("*(u64 *)(r10 - 8) = r1", "7b 1a f8 ff 00 00 00 00");
    check("*(u32 *)(r10 - 4) = w6", "63 6a fc ff 00 00 00 00");
    check("*(u16 *)(r1 + 0) = r2", "6b 21 00 00 00 00 00 00");
    check("*(u8 *)(r1 + 0) = 7", "72 01 00 00 07 00 00 00");
    check("*(u32 *)(r1 - 2) = -7", "62 01 fe ff f9 ff ff ff");
    check("*(u64 *)(r10 - 8) = 0x1234", "7a 0a f8 ff 34 12 00 00");
    check("r0 = *(u8 *)skb[12]", "30 00 00 00 0c 00 00 00");
    check("r0 = *(u16 *)skb[r1 + 4]", "48 10 00 00 04 00 00 00");
    check("r0 = *(u32 *)skb[r1]", "40 10 00 00 00 00 00 00");
    check("r0 = *(u16 *)skb[r1 - 4]", "48 10 00 00 fc ff ff ff");
    // Kernel verifier-log spacing.
    check("r0 = *(u64 *)(r1 +8)", "79 10 08 00 00 00 00 00");
    check("*(u64 *)(r10 -8) = r1", "7b 1a f8 ff 00 00 00 00");
}

#[test]
fn llvm_atomics() {
    check("lock *(u64 *)(r10 - 8) += r1", "db 1a f8 ff 00 00 00 00");
    check("lock *(u32 *)(r10 - 8) += w1", "c3 1a f8 ff 00 00 00 00");
    check("lock *(u32 *)(r10 - 8) += r1", "c3 1a f8 ff 00 00 00 00");
    check("lock *(u64 *)(r10 - 8) |= r1", "db 1a f8 ff 40 00 00 00");
    check("lock *(u64 *)(r10 - 8) &= r1", "db 1a f8 ff 50 00 00 00");
    check("lock *(u64 *)(r10 - 8) ^= r1", "db 1a f8 ff a0 00 00 00");
    check(
        "r0 = atomic_fetch_add((u64 *)(r10 - 8), r0)",
        "db 0a f8 ff 01 00 00 00",
    );
    check(
        "w0 = atomic_fetch_or((u32 *)(r10 - 8), w0)",
        "c3 0a f8 ff 41 00 00 00",
    );
    check(
        "r1 = atomic_fetch_and((u64 *)(r10 - 8), r1)",
        "db 1a f8 ff 51 00 00 00",
    );
    check(
        "r1 = atomic_fetch_xor((u64 *)(r10 - 8), r1)",
        "db 1a f8 ff a1 00 00 00",
    );
    check("r1 = xchg_64(r10 - 8, r1)", "db 1a f8 ff e1 00 00 00");
    check("w1 = xchg32_32(r10 - 8, w1)", "c3 1a f8 ff e1 00 00 00");
    check(
        "r0 = cmpxchg_64(r10 - 8, r0, r1)",
        "db 1a f8 ff f1 00 00 00",
    );
    check(
        "w0 = cmpxchg32_32(r10 - 8, w0, w1)",
        "c3 1a f8 ff f1 00 00 00",
    );
    check(
        "r0 = load_acquire((u64 *)(r1 + 0))",
        "db 10 00 00 00 01 00 00",
    );
    check(
        "w0 = load_acquire((u8 *)(r1 + 0))",
        "d3 10 00 00 00 01 00 00",
    );
    check(
        "w0 = load_acquire((u16 *)(r1 + 0x0))",
        "cb 10 00 00 00 01 00 00",
    );
    check(
        "w0 = load_acquire((u32 *)(r1 + 0))",
        "c3 10 00 00 00 01 00 00",
    );
    check(
        "store_release((u64 *)(r1 + 0), r2)",
        "db 21 00 00 10 01 00 00",
    );
    check(
        "store_release((u16 *)(r1 + 8), w2)",
        "cb 21 08 00 10 01 00 00",
    );
    // Verifier log spellings.
    check(
        "r1 = atomic64_fetch_add((u64 *)(r10 -8), r1)",
        "db 1a f8 ff 01 00 00 00",
    );
    check(
        "r1 = atomic_fetch_add((u32 *)(r10 -8), r1)",
        "c3 1a f8 ff 01 00 00 00",
    );
    check(
        "r1 = atomic64_xchg((u64 *)(r10 -8), r1)",
        "db 1a f8 ff e1 00 00 00",
    );
    check(
        "r1 = atomic_xchg((u32 *)(r10 -8), r1)",
        "c3 1a f8 ff e1 00 00 00",
    );
    check(
        "r0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r1)",
        "db 1a f8 ff f1 00 00 00",
    );
    check(
        "r0 = atomic_cmpxchg((u32 *)(r10 -8), r0, r1)",
        "c3 1a f8 ff f1 00 00 00",
    );
    check(
        "r4 = load_acquire((u64 *)(r3 -8))",
        "db 34 f8 ff 00 01 00 00",
    );
    check(
        "store_release((u64 *)(r2 -8), r1)",
        "db 12 f8 ff 10 01 00 00",
    );
    // GNU as pseudo-C spacing.
    check("lock *(u64*)(r1+0x1eef)+=r2", "db 21 ef 1e 00 00 00 00");
    check(
        "r2=atomic_fetch_add((u64*)(r1+0x1eef),r2)",
        "db 21 ef 1e 01 00 00 00",
    );
}

#[test]
fn llvm_lddw() {
    check(
        "r0 = 0x1122334455667788 ll",
        "18 00 00 00 88 77 66 55 | 00 00 00 00 44 33 22 11",
    );
    check(
        "r0 = 1234605616436508552 ll",
        "18 00 00 00 88 77 66 55 | 00 00 00 00 44 33 22 11",
    );
    check(
        "r0 = -1 ll",
        "18 00 00 00 ff ff ff ff | 00 00 00 00 ff ff ff ff",
    );
    check(
        "r1 = 0 ll",
        "18 01 00 00 00 00 00 00 | 00 00 00 00 00 00 00 00",
    );
    // The verifier log leaves out `ll`.
    check(
        "r1 = 0x1122334455667788",
        "18 01 00 00 88 77 66 55 | 00 00 00 00 44 33 22 11",
    );
    check(
        "r1 = map_fd(3) ll",
        "18 11 00 00 03 00 00 00 | 00 00 00 00 00 00 00 00",
    );
    check(
        "r1 = map_fd(3)",
        "18 11 00 00 03 00 00 00 | 00 00 00 00 00 00 00 00",
    );
    check(
        "r1 = map_value(3, 16) ll",
        "18 21 00 00 03 00 00 00 | 00 00 00 00 10 00 00 00",
    );
    check(
        "r1 = btf_var(123, 4) ll",
        "18 31 00 00 7b 00 00 00 | 00 00 00 00 04 00 00 00",
    );
    check(
        "r1 = map_idx(0) ll",
        "18 51 00 00 00 00 00 00 | 00 00 00 00 00 00 00 00",
    );
    check(
        "r1 = map_idx_value(2, 8) ll",
        "18 61 00 00 02 00 00 00 | 00 00 00 00 08 00 00 00",
    );
    check(
        "ld_pseudo r1, 1, 3",
        "18 11 00 00 03 00 00 00 | 00 00 00 00 00 00 00 00",
    );
    check(
        "ld_pseudo\tr1, 2, 3",
        "18 21 00 00 03 00 00 00 | 00 00 00 00 00 00 00 00",
    );
}

#[test]
fn llvm_jumps_and_calls() {
    check("if r1 > 0x5 goto +0", "25 01 00 00 05 00 00 00");
    check("if r1 s>= -1 goto +0", "75 01 00 00 ff ff ff ff");
    check("if w1 != 16 goto +0", "56 01 00 00 10 00 00 00");
    check("if r1 <= r2 goto +0", "bd 21 00 00 00 00 00 00");
    check("if r1 s<= r2 goto +0", "dd 21 00 00 00 00 00 00");
    check("if w1 s> w2 goto +0", "6e 21 00 00 00 00 00 00");
    check("if w1 s< w2 goto +0", "ce 21 00 00 00 00 00 00");
    check("if r1 < 3 goto +0", "a5 01 00 00 03 00 00 00");
    check("if r1 >= r8 goto +0", "3d 81 00 00 00 00 00 00");
    check("if r0 == 0 goto +0", "15 00 00 00 00 00 00 00");
    check("if r1 & 4 goto +0", "45 01 00 00 04 00 00 00");
    check("if w1 & w2 goto +0", "4e 21 00 00 00 00 00 00");
    check("if r1 == 0x0 goto pc+0", "15 01 00 00 00 00 00 00");
    check("if r1 != 0xffffffff goto pc+0", "55 01 00 00 ff ff ff ff");
    check("goto +0", "05 00 00 00 00 00 00 00");
    check("gotol +0", "06 00 00 00 00 00 00 00");
    check("may_goto +0", "e5 00 00 00 00 00 00 00");
    check("call 6", "85 00 00 00 06 00 00 00");
    check("call -1", "85 00 00 00 ff ff ff ff");
    check("call bpf_map_lookup_elem", "85 00 00 00 01 00 00 00");
    check("call map_lookup_elem", "85 00 00 00 01 00 00 00");
    check("call bpf_map_lookup_elem#1", "85 00 00 00 01 00 00 00");
    check("call unknown#195", "85 00 00 00 c3 00 00 00");
    check("call pc+0", "85 10 00 00 00 00 00 00");
    check("call local +0", "85 10 00 00 00 00 00 00");
    check("call kfunc(1234)", "85 20 00 00 d2 04 00 00");
    check("call kfunc(1234, 2)", "85 20 02 00 d2 04 00 00");
    check("callx r2", "8d 02 00 00 00 00 00 00");
    check("call r2", "8d 02 00 00 00 00 00 00");
    check("exit", "95 00 00 00 00 00 00 00");
}

#[test]
fn conformance_forms() {
    check("mov %r0, 1", "b7 00 00 00 01 00 00 00");
    check("mov32 %r0, -1", "b4 00 00 00 ff ff ff ff");
    check("mov %r0, %r1", "bf 10 00 00 00 00 00 00");
    check("add32 %r0, %r7", "0c 70 00 00 00 00 00 00");
    check("sub %r0, 1", "17 00 00 00 01 00 00 00");
    check("sdiv %r0, %r1", "3f 10 01 00 00 00 00 00");
    check("smod32 %r0, 3", "94 00 01 00 03 00 00 00");
    check("arsh32 %r0, %r1", "cc 10 00 00 00 00 00 00");
    check("neg %r0", "87 00 00 00 00 00 00 00");
    check("neg32 %r0", "84 00 00 00 00 00 00 00");
    check("le16 %r0", "d4 00 00 00 10 00 00 00");
    check("le64 %r0", "d4 00 00 00 40 00 00 00");
    check("be32 %r0", "dc 00 00 00 20 00 00 00");
    check("bswap64 %r0", "d7 00 00 00 40 00 00 00");
    check("swap16 %r0", "d7 00 00 00 10 00 00 00");
    check("movsx864 %r0, %r1", "bf 10 08 00 00 00 00 00");
    check("movsx1664 %r0, %r1", "bf 10 10 00 00 00 00 00");
    check("movsx3264 %r0, %r1", "bf 10 20 00 00 00 00 00");
    check("movsx832 %r0, %r1", "bc 10 08 00 00 00 00 00");
    check("movsx1632 %r0, %r1", "bc 10 10 00 00 00 00 00");
    check("addr_space_cast %r0, %r1, 1, 0", "bf 10 01 00 00 00 01 00");
    check("ldxw %r0, [%r1+4]", "61 10 04 00 00 00 00 00");
    check("ldxdw %r0, [%r1]", "79 10 00 00 00 00 00 00");
    check("ldxb %r0, [%r1-1]", "71 10 ff ff 00 00 00 00");
    check("ldxsb %r0, [%r1+2]", "91 10 02 00 00 00 00 00");
    check("ldxsh %r0, [%r1+2]", "89 10 02 00 00 00 00 00");
    check("ldxsw %r0, [%r1+2]", "81 10 02 00 00 00 00 00");
    check("stxdw [%r10-8], %r1", "7b 1a f8 ff 00 00 00 00");
    check("stxb [%r1], %r2", "73 21 00 00 00 00 00 00");
    check("stw [%r1+2], 0x1", "62 01 02 00 01 00 00 00");
    check("stdw [%r1+2], 0x44332211", "7a 01 02 00 11 22 33 44");
    check("lock add [%r10-8], %r1", "db 1a f8 ff 00 00 00 00");
    check("lock add32 [%r10-4], %r1", "c3 1a fc ff 00 00 00 00");
    check("lock fetch add32 [%r10-4], %r1", "c3 1a fc ff 01 00 00 00");
    check("lock fetch xor [%r10-8], %r3", "db 3a f8 ff a1 00 00 00");
    check("lock or [%r10-8], %r1", "db 1a f8 ff 40 00 00 00");
    check("lock xchg [%r10-8], %r1", "db 1a f8 ff e1 00 00 00");
    check("lock cmpxchg32 [%r10-8], %r1", "c3 1a f8 ff f1 00 00 00");
    check("ldacqdw %r0, [%r1+0]", "db 10 00 00 00 01 00 00");
    check("ldacqb %r0, [%r1]", "d3 10 00 00 00 01 00 00");
    check("streldw [%r1], %r2", "db 21 00 00 10 01 00 00");
    check("strelh [%r1+8], %r2", "cb 21 08 00 10 01 00 00");
    check(
        "lddw %r0, 0x1122334455667788",
        "18 00 00 00 88 77 66 55 | 00 00 00 00 44 33 22 11",
    );
    check(
        "lddw %r1, map_value(3, 16)",
        "18 21 00 00 03 00 00 00 | 00 00 00 00 10 00 00 00",
    );
    check("ldabsw 12", "20 00 00 00 0c 00 00 00");
    check("ldabsb 1", "30 00 00 00 01 00 00 00");
    check("ldindh %r1, 4", "48 10 00 00 04 00 00 00");
    check("jeq %r1, 0, +0", "15 01 00 00 00 00 00 00");
    check("jne32 %r1, %r2, +0", "5e 21 00 00 00 00 00 00");
    check("jset %r1, 0x80000000, +0", "45 01 00 00 00 00 00 80");
    check("jsle32 %r1, -1, +0", "d6 01 00 00 ff ff ff ff");
    check("ja +0", "05 00 00 00 00 00 00 00");
    check("ja32 +0", "06 00 00 00 00 00 00 00");
    check("may_goto +0", "e5 00 00 00 00 00 00 00");
    check("call 5", "85 00 00 00 05 00 00 00");
    check("call helper 5", "85 00 00 00 05 00 00 00");
    check("call runtime 7", "85 20 00 00 07 00 00 00");
    check("call runtime 7, 3", "85 20 03 00 07 00 00 00");
    check("call %r2", "8d 02 00 00 00 00 00 00");
    check("callx %r2", "8d 02 00 00 00 00 00 00");
}

#[test]
fn labels_and_targets() {
    let p = assemble(
        "
        mov %r0, 0          # both syntaxes in one file
        r1 = 2
        jeq %r1, 2, done
        r0 = 1
    done:
        if r0 == 0 goto +1
        exit
        goto done
        ",
    )
    .unwrap();
    assert_eq!(p.branch_target(2), Some(4));
    assert_eq!(p.branch_target(4), Some(6));
    assert_eq!(p.branch_target(6), Some(4));
    assert_eq!(
        p.insns()[6],
        Insn::Ja {
            off: -3,
            long: false
        }
    );

    // A label before an instruction on the same line, and several labels at one place.
    let p = assemble("a: b: r0 = 0\nc: goto a\nd:exit").unwrap();
    assert_eq!(p.branch_target(1), Some(0));

    // Labels across a lddw count slots.
    let p = assemble("lddw %r0, 1\nja end\nlddw %r1, 2\nend: exit").unwrap();
    assert_eq!(
        p.insns()[1],
        Insn::Ja {
            off: 2,
            long: false
        }
    );

    // `call label`, `call local label`, `func(label)`.
    let p = assemble(
        "call f\ncall local f\nr1 = func(f) ll\nlddw %r2, func(f)\nexit\nf:\nr0 = 1\nexit",
    )
    .unwrap();
    // Slots: call 0, call 1, lddw 2-3, lddw 4-5, exit 6, f at 7.
    assert_eq!(p.insns()[0], Insn::Call(CallTarget::Local(6)));
    assert_eq!(p.insns()[1], Insn::Call(CallTarget::Local(5)));
    assert_eq!(
        p.insns()[2],
        Insn::LoadImm64 {
            dst: Reg::R1,
            value: LoadImm64::CodeAddr(4)
        }
    );
    assert_eq!(
        p.insns()[3],
        Insn::LoadImm64 {
            dst: Reg::R2,
            value: LoadImm64::CodeAddr(2)
        }
    );
    assert_eq!(p.branch_target(3), Some(5));

    // A label named like a helper wins over the helper.
    let p = assemble("call bpf_trace_printk\nexit\nbpf_trace_printk:\nexit").unwrap();
    assert_eq!(p.insns()[0], Insn::Call(CallTarget::Local(1)));

    // The conformance suite's implicit `exit` label: the first exit.
    let p = assemble("jeq %r1, 0, exit\nmov %r0, 1\nexit\nmov %r0, 2\nexit").unwrap();
    assert_eq!(p.branch_target(0), Some(2));
    // An explicit `exit` label takes precedence.
    let p = assemble("ja exit\nexit\nexit:\nexit").unwrap();
    assert_eq!(p.branch_target(0), Some(2));

    // Long jumps reach beyond 16 bits.
    let mut text = String::from("gotol far\n");
    for _ in 0..40000 {
        text.push_str("r0 += 1\n");
    }
    text.push_str("far: exit\n");
    let p = assemble(&text).unwrap();
    assert_eq!(
        p.insns()[0],
        Insn::Ja {
            off: 40000,
            long: true
        }
    );
}

#[test]
fn disassembler_output_is_read_back() {
    // llvm-objdump style lines, with slots, raw bytes and annotations.
    let text = "
0000000000000000 <prog>:
       0:\tb7 00 00 00 00 00 00 00\tr0 = 0
       1:\t15 01 01 00 00 00 00 00\tif r1 == 0 goto +1 <LBB0_2>
       2:\tb7 00 00 00 01 00 00 00\tr0 = 1

0000000000000018 <LBB0_2>:
       3:\t95 00 00 00 00 00 00 00\texit
";
    let p = assemble(text).unwrap();
    assert_eq!(p.branch_target(1), Some(3));

    // Verifier log lines.
    let text = "0: (b7) r0 = 0\n1: (15) if r1 == 0x0 goto pc+1\n2: (85) call bpf_get_prandom_u32#7\n3: (95) exit";
    let p = assemble(text).unwrap();
    assert_eq!(p.insns()[2], Insn::Call(CallTarget::Helper(7)));
    // The verifier log prints a small lddw constant without `ll`; its opcode says lddw.
    let p = assemble("0: (18) r1 = 0xffffffff\n2: (95) exit").unwrap();
    assert_eq!(
        p.insns()[0],
        Insn::LoadImm64 {
            dst: Reg::R1,
            value: LoadImm64::Imm(0xffff_ffff)
        }
    );
    // `.LBB0_1:` is a label.
    assert!(assemble(".LBB0_1:\n goto .LBB0_1").is_ok());
}

#[test]
fn comments() {
    let p = assemble(
        "; llvm comment\n// c++ comment\n# conformance comment\nr0 = 1 ; set\nmov %r0, 2 # set\nexit // done",
    )
    .unwrap();
    assert_eq!(p.len(), 3);
}
