//! Interpreter speed on loop-heavy programs: ns per run and ns per executed instruction.
//!
//! `cargo run --release -p oxbpf --example interp_bench [-- ENGINE]` (default `interp`).
//! Each program runs in batches; the fastest batch is reported (the machine is shared, the
//! minimum is the least disturbed measurement).

use oxbpf::isa::{AluOp, CallTarget, Insn, JmpOp, LoadImm64, Operand, Reg, Size, Width};
use oxbpf::{HelperCtx, Helpers, Program, RunContext};
use std::time::Instant;

fn r(n: u8) -> Reg {
    Reg::new(n).expect("register number")
}
fn alu(op: AluOp, d: u8, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst: r(d),
        src,
    }
}
fn imm(op: AluOp, d: u8, v: i32) -> Insn {
    alu(op, d, Operand::Imm(v))
}
fn reg(op: AluOp, d: u8, s: u8) -> Insn {
    alu(op, d, Operand::Reg(r(s)))
}
fn jmp(op: JmpOp, d: u8, src: Operand, off: i16) -> Insn {
    Insn::Jump {
        width: Width::W64,
        op,
        dst: r(d),
        src,
        off,
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
fn stx(size: Size, d: u8, off: i16, s: u8) -> Insn {
    Insn::Store {
        size,
        dst: r(d),
        off,
        src: Operand::Reg(r(s)),
    }
}
fn lddw(d: u8, v: u64) -> Insn {
    Insn::LoadImm64 {
        dst: r(d),
        value: LoadImm64::Imm(v),
    }
}
const EXIT: Insn = Insn::Exit;

/// Sieve of Eratosthenes over the input buffer (one byte per number); returns the number of
/// primes below its length.
fn sieve() -> Vec<Insn> {
    use AluOp::*;
    vec![
        imm(Mov, 3, 2), // 0: i = 2
        reg(Mov, 4, 3), // 1: outer: j = i * i
        reg(Mul, 4, 3),
        jmp(JmpOp::Ge, 4, Operand::Reg(r(2)), 11), // 3: if j >= len goto count (15)
        reg(Mov, 5, 1),
        reg(Add, 5, 3),
        ldx(Size::B, 6, 5, 0),
        jmp(JmpOp::Ne, 6, Operand::Imm(0), 5), // 7: composite: goto next (13)
        reg(Mov, 5, 1),                        // 8: inner: mark j
        reg(Add, 5, 4),
        Insn::Store {
            size: Size::B,
            dst: r(5),
            off: 0,
            src: Operand::Imm(1),
        },
        reg(Add, 4, 3),
        jmp(JmpOp::Lt, 4, Operand::Reg(r(2)), -5), // 12: goto inner
        imm(Add, 3, 1),                            // 13: next
        Insn::Ja {
            off: -14,
            long: false,
        }, // 14: goto outer
        imm(Mov, 0, 0),                            // 15: count
        imm(Mov, 3, 2),
        jmp(JmpOp::Ge, 3, Operand::Reg(r(2)), 7), // 17: goto end (25)
        reg(Mov, 5, 1),
        reg(Add, 5, 3),
        ldx(Size::B, 6, 5, 0),
        jmp(JmpOp::Ne, 6, Operand::Imm(0), 1),
        imm(Add, 0, 1),
        imm(Add, 3, 1),
        Insn::Ja {
            off: -8,
            long: false,
        },
        EXIT,
    ]
}

/// FNV-1a over the input buffer.
fn fnv1a() -> Vec<Insn> {
    use AluOp::*;
    vec![
        lddw(0, 0xcbf2_9ce4_8422_2325),
        lddw(6, 0x100_0000_01b3),
        imm(Mov, 3, 0),
        jmp(JmpOp::Ge, 3, Operand::Reg(r(2)), 7),
        reg(Mov, 4, 1),
        reg(Add, 4, 3),
        ldx(Size::B, 5, 4, 0),
        reg(Xor, 0, 5),
        reg(Mul, 0, 6),
        imm(Add, 3, 1),
        Insn::Ja {
            off: -8,
            long: false,
        },
        EXIT,
    ]
}

/// 2,000 rounds over 32 stack slots: slot[i] += i, then sum the slots.
fn stack_loop() -> Vec<Insn> {
    use AluOp::*;
    vec![
        imm(Mov, 7, 0), // round
        imm(Mov, 0, 0),
        // round loop (2)
        imm(Mov, 3, 0), // i
        // slot loop (3): r4 = r10 - 256 + i * 8
        reg(Mov, 4, 3),
        imm(Lsh, 4, 3),
        reg(Add, 4, 10),
        ldx(Size::DW, 5, 4, -256),
        reg(Add, 5, 3),
        stx(Size::DW, 4, -256, 5),
        reg(Add, 0, 5),
        imm(Add, 3, 1),
        jmp(JmpOp::Lt, 3, Operand::Imm(32), -9),
        imm(Add, 7, 1),
        jmp(JmpOp::Lt, 7, Operand::Imm(2000), -12),
        EXIT,
    ]
}

/// 50,000 bpf-to-bpf calls of a three-instruction function.
fn local_calls() -> Vec<Insn> {
    use AluOp::*;
    vec![
        imm(Mov, 6, 0),
        imm(Mov, 7, 0),
        reg(Mov, 1, 6),                   // 2
        Insn::Call(CallTarget::Local(4)), // 3: f at 8
        reg(Add, 7, 0),
        imm(Add, 6, 1),
        jmp(JmpOp::Lt, 6, Operand::Imm(50_000), -5),
        reg(Mov, 0, 7),
        // f (8): r0 = r1 * 3 + 1
        reg(Mov, 0, 1),
        imm(Mul, 0, 3),
        EXIT,
    ]
}

/// 50,000 helper calls.
fn helper_calls() -> Vec<Insn> {
    use AluOp::*;
    vec![
        imm(Mov, 6, 0),
        imm(Mov, 7, 0),
        reg(Mov, 1, 6), // 2
        Insn::Call(CallTarget::Helper(5)),
        reg(Add, 7, 0),
        imm(Add, 6, 1),
        jmp(JmpOp::Lt, 6, Operand::Imm(50_000), -5),
        reg(Mov, 0, 7),
        EXIT,
    ]
}

fn main() {
    let engine_name = std::env::args().nth(1).unwrap_or_else(|| "interp".into());
    let Some(engine) = oxbpf::engine_by_name(&engine_name) else {
        eprintln!("unknown engine {engine_name:?}");
        std::process::exit(2);
    };
    let mut helpers = Helpers::new();
    helpers.register(5, "identity", |_: &mut HelperCtx<'_>, a| Ok(a[0]));
    let data: Vec<u8> = (0..65_536u32).map(|i| (i * 7 + 3) as u8).collect();
    let cases: Vec<(&str, Vec<Insn>, Vec<u8>)> = vec![
        ("sieve (100,000)", sieve(), vec![0; 100_000]),
        ("fnv1a (64 KiB)", fnv1a(), data),
        ("stack loop", stack_loop(), Vec::new()),
        ("bpf-to-bpf calls", local_calls(), Vec::new()),
        ("helper calls", helper_calls(), Vec::new()),
    ];
    println!("engine: {engine_name}");
    println!("| program | insns/run | r0 | ns/run | ns/insn |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, insns, mut mem) in cases {
        let program = Program::from_insns(insns).expect("benchmark program is valid");
        let exe = oxbpf::prepare(&program, &helpers, engine).expect("loads");
        let run = |mem: &mut [u8]| {
            exe.run(&mut RunContext::with_memory(mem))
                .expect("benchmark program runs")
        };
        let first = run(&mut mem);
        let insns = first.insns_executed.unwrap_or(0);
        // Batches of about 50 ms; keep the fastest of 7.
        let t = Instant::now();
        run(&mut mem);
        let once = t.elapsed().as_nanos().max(1) as u64;
        let per_batch = (50_000_000 / once).clamp(1, 100_000);
        let mut best = f64::MAX;
        for _ in 0..7 {
            let t = Instant::now();
            for _ in 0..per_batch {
                run(&mut mem);
            }
            best = best.min(t.elapsed().as_nanos() as f64 / per_batch as f64);
        }
        println!(
            "| {name} | {insns} | {} | {best:.0} | {:.2} |",
            first.r0,
            best / insns.max(1) as f64
        );
    }
}
