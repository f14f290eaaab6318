//! Superinstructions against the plain ops they replace: random programs built from the
//! fused patterns (and their near misses) run with and without fusion must end the same
//! way (result or error, instruction count, memory), under every small budget too.

use super::ops::{Code, Op, FUSED_CODES, R};
use super::*;
use crate::{HelperCtx, Helpers, RunContext};
use oxbpf_isa::{AluOp, CallTarget, Insn, JmpOp, LoadImm64, Operand, Reg, Size, Width};
use std::collections::HashSet;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn reg(n: u8) -> Reg {
    Reg::new(n).unwrap()
}

const ALU: [AluOp; 13] = [
    AluOp::Add,
    AluOp::Sub,
    AluOp::Mul,
    AluOp::Or,
    AluOp::And,
    AluOp::Xor,
    AluOp::Lsh,
    AluOp::Rsh,
    AluOp::Arsh,
    AluOp::Div,
    AluOp::Mod,
    AluOp::Mov,
    AluOp::SMod,
];
const JMP: [JmpOp; 11] = [
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

/// A register the program may write (r0..r9) or read (also r10).
fn wreg(g: &mut Rng) -> u8 {
    g.below(10) as u8
}
fn rreg(g: &mut Rng) -> u8 {
    g.below(11) as u8
}
fn width(g: &mut Rng) -> Width {
    if g.below(2) == 0 {
        Width::W64
    } else {
        Width::W32
    }
}
fn imm(g: &mut Rng) -> i32 {
    match g.below(4) {
        0 => g.below(8) as i32,
        1 => -(g.below(8) as i32),
        2 => g.next() as i32,
        _ => g.pick(&[0, 1, -1, 31, 32, 63, 64, i32::MIN, i32::MAX]),
    }
}
fn operand(g: &mut Rng) -> Operand {
    if g.below(2) == 0 {
        Operand::Reg(reg(rreg(g)))
    } else {
        Operand::Imm(imm(g))
    }
}
fn alu(width: Width, op: AluOp, d: u8, src: Operand) -> Insn {
    Insn::Alu {
        width,
        op,
        dst: reg(d),
        src,
    }
}
fn mov(width: Width, d: u8, s: u8) -> Insn {
    alu(width, AluOp::Mov, d, Operand::Reg(reg(s)))
}
fn size(g: &mut Rng) -> Size {
    g.pick(&[Size::B, Size::H, Size::W, Size::DW])
}

/// One random program: sequences around the fused patterns, jumps anywhere (the budget
/// ends endless loops), memory accesses that mostly hit the input or the stack.
fn program(g: &mut Rng) -> Vec<Insn> {
    let mut v: Vec<Insn> = Vec::new();
    // Keep r1 (input) and r2 (its length) for indexing; start some registers small.
    for r in [3, 4, 5] {
        v.push(alu(
            Width::W64,
            AluOp::Mov,
            r,
            Operand::Imm(g.below(16) as i32),
        ));
    }
    let blocks = 4 + g.below(12);
    // (index of a jump, whether it is a `ja`) to patch once the length is known.
    let mut jumps: Vec<usize> = Vec::new();
    for _ in 0..blocks {
        match g.below(14) {
            0 | 1 => {
                // mov + ALU (three-address), sometimes with a mismatched destination.
                let d = wreg(g);
                let mw = width(g);
                v.push(mov(mw, d, rreg(g)));
                let d2 = if g.below(8) == 0 { wreg(g) } else { d };
                let src = if g.below(4) == 0 {
                    Operand::Reg(reg(d))
                } else {
                    operand(g)
                };
                v.push(alu(width(g), g.pick(&ALU), d2, src));
            }
            2 => {
                // (mov +) add + load into the same register: an indexed load.
                let d = wreg(g);
                let base = g.pick(&[1, 1, 10, 3, d]);
                if g.below(3) != 0 {
                    v.push(mov(Width::W64, d, base));
                }
                let any = rreg(g);
                let idx = g.pick(&[3, 4, 5, d, any]);
                v.push(alu(Width::W64, AluOp::Add, d, Operand::Reg(reg(idx))));
                let off = if base == 10 {
                    -(g.below(64) as i16) - 8
                } else {
                    g.below(24) as i16 - 4
                };
                let s = if g.below(10) == 0 { rreg(g) } else { d };
                v.push(Insn::Load {
                    size: size(g),
                    sign_extend: false,
                    dst: reg(d),
                    src: reg(s),
                    off,
                });
            }
            3 => {
                // mov + add imm + add reg.
                let d = wreg(g);
                let any = rreg(g);
                v.push(mov(Width::W64, d, g.pick(&[10, 1, any])));
                v.push(alu(Width::W64, AluOp::Add, d, Operand::Imm(imm(g))));
                let any = rreg(g);
                let t = g.pick(&[2, 3, d, any]);
                v.push(alu(Width::W64, AluOp::Add, d, Operand::Reg(reg(t))));
            }
            4 | 5 => {
                // if cond goto ...; goto ...
                jumps.push(v.len());
                v.push(Insn::Jump {
                    width: width(g),
                    op: g.pick(&JMP),
                    dst: reg(rreg(g)),
                    src: operand(g),
                    off: 0,
                });
                if g.below(4) != 0 {
                    jumps.push(v.len());
                    v.push(Insn::Ja {
                        off: 0,
                        long: false,
                    });
                }
            }
            6 => {
                // A counter step (keeps loops finite more often than not).
                let c = g.pick(&[3, 4, 5]);
                v.push(alu(Width::W64, AluOp::Add, c, Operand::Imm(1)));
            }
            7 => {
                let d = wreg(g);
                v.push(Insn::LoadImm64 {
                    dst: reg(d),
                    value: LoadImm64::Imm(g.next()),
                });
                v.push(alu(width(g), g.pick(&ALU), wreg(g), Operand::Reg(reg(d))));
            }
            9 => {
                // Two moves (the second may read the first's destination).
                let d = wreg(g);
                v.push(mov(Width::W64, d, rreg(g)));
                let s2 = if g.below(3) == 0 { d } else { rreg(g) };
                v.push(mov(Width::W64, wreg(g), s2));
            }
            10 => {
                // mov imm + an operation with it (into the same or another register).
                let d = wreg(g);
                let w = width(g);
                if g.below(2) == 0 {
                    v.push(alu(w, AluOp::Mov, d, Operand::Imm(imm(g))));
                } else {
                    v.push(Insn::LoadImm64 {
                        dst: reg(d),
                        value: LoadImm64::Imm(g.next()),
                    });
                }
                let op = g.pick(&ALU);
                if g.below(2) == 0 {
                    let s = if g.below(6) == 0 { d } else { rreg(g) };
                    v.push(alu(width(g), op, d, Operand::Reg(reg(s))));
                } else {
                    v.push(alu(width(g), op, wreg(g), Operand::Reg(reg(d))));
                }
            }
            11 => {
                // lsh imm + or reg: the end of a rotation.
                let d = wreg(g);
                let w = width(g);
                v.push(alu(w, AluOp::Lsh, d, Operand::Imm(imm(g))));
                let s = if g.below(6) == 0 { d } else { rreg(g) };
                v.push(alu(w, AluOp::Or, d, Operand::Reg(reg(s))));
            }
            12 => {
                // A counter: add imm + (in)equality test (+ goto), as clang emits latches.
                let any = wreg(g);
                let c = g.pick(&[3, 4, 5, any]);
                let k = if g.below(8) == 0 {
                    imm(g)
                } else {
                    g.pick(&[1, -1, 4, 8])
                };
                v.push(alu(Width::W64, AluOp::Add, c, Operand::Imm(k)));
                jumps.push(v.len());
                v.push(Insn::Jump {
                    width: Width::W64,
                    op: g.pick(&[JmpOp::Eq, JmpOp::Ne, JmpOp::Lt]),
                    dst: reg(c),
                    src: Operand::Imm(g.below(12) as i32),
                    off: 0,
                });
                if g.below(3) != 0 {
                    jumps.push(v.len());
                    v.push(Insn::Ja {
                        off: 0,
                        long: false,
                    });
                }
            }
            _ => {
                // Stores into the stack or the input.
                let (base, off) = if g.below(2) == 0 {
                    (10, -8 * (1 + g.below(8) as i16))
                } else {
                    (1, g.below(24) as i16)
                };
                v.push(Insn::Store {
                    size: size(g),
                    dst: reg(base),
                    off,
                    src: operand(g),
                });
            }
        }
    }
    v.push(Insn::Exit);
    // Targets: the op after next (the latch pattern), near, or anywhere; slots equal
    // indices except after a lddw, so compute slots.
    let slots: Vec<usize> = v
        .iter()
        .scan(0usize, |s, i| {
            let here = *s;
            *s += i.slots();
            Some(here)
        })
        .collect();
    let total = slots.last().copied().unwrap_or(0) + 1;
    for &j in &jumps {
        let here = slots[j] as i64;
        let target_idx = match g.below(3) {
            0 => (j + 2).min(v.len() - 1),
            1 => (j as i64 + g.below(7) as i64 - 3).clamp(0, v.len() as i64 - 1) as usize,
            _ => g.below(v.len() as u64) as usize,
        };
        let off = slots[target_idx] as i64 - here - 1;
        debug_assert!((slots[target_idx]) < total);
        match &mut v[j] {
            Insn::Jump { off: o, .. } => *o = off as i16,
            Insn::Ja { off: o, .. } => *o = off as i32,
            _ => {}
        }
    }
    v
}

/// Runs `vm` over `input`, copied into `mem` (the same buffer for every run, as programs
/// may compute with its address).
fn outcome(
    vm: &Interpreter,
    mem: &mut [u8],
    input: &[u8],
    budget: Option<u64>,
) -> (Result<RunOutcome, VmError>, Vec<u8>) {
    mem.copy_from_slice(input);
    let res = {
        let mut ctx = RunContext::with_memory(mem).with_budget(budget);
        vm.run(&mut ctx)
    };
    (res, mem.to_vec())
}

#[test]
fn superinstructions_match_plain_ops() {
    // OXBPF_FUSED_CASES / OXBPF_FUSED_SEED run more or other programs.
    let seed: u64 = std::env::var("OXBPF_FUSED_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut g = Rng((0x2545_f491_4f6c_dd1d ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1);
    let mut seen: HashSet<u16> = HashSet::new();
    let (mut programs, mut exits) = (0, 0);
    let cases: usize = std::env::var("OXBPF_FUSED_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500);
    for _ in 0..cases {
        let insns = program(&mut g);
        let Ok(prog) = Program::from_insns(insns) else {
            continue;
        };
        let h = Helpers::new();
        let fused = Interpreter::with_fusion(&prog, &h, true).unwrap();
        let plain = Interpreter::with_fusion(&prog, &h, false).unwrap();
        assert!(plain.plain.is_empty());
        for op in fused.ops.as_slice() {
            if op.code.is_fused() {
                seen.insert(op.code as u16);
            }
        }
        let input: Vec<u8> = (0..32).map(|_| g.next() as u8).collect();
        let mut mem = vec![0u8; 32];
        let (rf, mf) = outcome(&fused, &mut mem, &input, Some(3000));
        let (rp, mp) = outcome(&plain, &mut mem, &input, Some(3000));
        assert_eq!(rf, rp, "program {prog:?}");
        assert_eq!(mf, mp, "memory, program {prog:?}");
        programs += 1;
        let total = match rf {
            Ok(o) => {
                exits += 1;
                o.insns_executed.unwrap()
            }
            Err(_) => 3000,
        };
        // Every budget below 40, and a few others.
        let budgets = (0..total.min(40)).chain((0..4).map(|_| g.below(total + 1)));
        for b in budgets {
            let (rf, mf) = outcome(&fused, &mut mem, &input, Some(b));
            let (rp, mp) = outcome(&plain, &mut mem, &input, Some(b));
            assert_eq!(rf, rp, "budget {b}, program {prog:?}");
            assert_eq!(mf, mp, "memory, budget {b}, program {prog:?}");
        }
    }
    let missing: Vec<Code> = FUSED_CODES
        .iter()
        .copied()
        .filter(|c| !seen.contains(&(*c as u16)))
        .collect();
    assert!(missing.is_empty(), "never generated: {missing:?}");
    assert!(
        programs > 1000 && exits > 300,
        "{programs} programs, {exits} exits"
    );
}

#[test]
fn fused_faults_name_the_faulting_instruction() {
    // mov + add + load where the load faults: the error is at the load's slot (after a
    // lddw, so slots and indices differ).
    let insns = vec![
        Insn::LoadImm64 {
            dst: reg(2),
            value: LoadImm64::Imm(1 << 40),
        },
        mov(Width::W64, 3, 1),
        alu(Width::W64, AluOp::Add, 3, Operand::Reg(reg(2))),
        Insn::Load {
            size: Size::W,
            sign_extend: false,
            dst: reg(3),
            src: reg(3),
            off: 0,
        },
        Insn::Exit,
    ];
    let vm = Interpreter::new(&Program::from_insns(insns).unwrap(), &Helpers::new()).unwrap();
    // (Based on the input, not the stack: the form that checks the region first.)
    assert_eq!(vm.ops.as_slice()[1].code, Code::RLdxIdxW);
    let mut mem = [0u8; 8];
    let e = vm.run(&mut RunContext::with_memory(&mut mem)).unwrap_err();
    assert!(matches!(e, VmError::MemoryFault { pc: 4, .. }), "{e:?}");
}

#[test]
fn loop_latches_fuse_and_count_both_ways() {
    // r0 counts 5 rounds of a latch `if r1 == 5 goto +1; goto head`.
    let insns = vec![
        alu(Width::W64, AluOp::Mov, 0, Operand::Imm(0)),
        alu(Width::W64, AluOp::Mov, 1, Operand::Imm(0)),
        alu(Width::W64, AluOp::Add, 1, Operand::Imm(1)), // 2: head
        alu(Width::W64, AluOp::Add, 0, Operand::Imm(10)),
        Insn::Jump {
            width: Width::W64,
            op: JmpOp::Eq,
            dst: reg(1),
            src: Operand::Imm(5),
            off: 1,
        },
        Insn::Ja {
            off: -4,
            long: false,
        },
        Insn::Exit,
    ];
    let vm = Interpreter::new(&Program::from_insns(insns).unwrap(), &Helpers::new()).unwrap();
    assert_eq!(vm.ops.as_slice()[4].code, Code::JEq64IJa);
    let out = vm.run(&mut RunContext::new()).unwrap();
    // 2 + 4 rounds of 4 (add, add, jeq, ja) + the last round's 3 + exit.
    assert_eq!(
        out,
        RunOutcome {
            r0: 50,
            insns_executed: Some(2 + 4 * 4 + 3 + 1)
        }
    );
}

#[test]
fn callbacks_and_calls_count_through_superinstructions() {
    // A callee made of superinstructions, called in a loop with a helper between.
    let mut h = Helpers::new();
    h.register(7, "id", |_: &mut HelperCtx<'_>, a| Ok(a[0]));
    let insns = vec![
        alu(Width::W64, AluOp::Mov, 6, Operand::Imm(0)), // 0
        mov(Width::W64, 1, 6),                           // 1: head
        Insn::Call(CallTarget::Local(6)),                // 2 -> 9
        mov(Width::W64, 1, 0),                           // 3
        Insn::Call(CallTarget::Helper(7)),               // 4
        alu(Width::W64, AluOp::Add, 6, Operand::Imm(1)), // 5
        Insn::Jump {
            width: Width::W64,
            op: JmpOp::Eq,
            dst: reg(6),
            src: Operand::Imm(3),
            off: 1,
        }, // 6
        Insn::Ja {
            off: -7,
            long: false,
        }, // 7
        Insn::Exit,                                      // 8
        mov(Width::W64, 0, 1),                           // 9: r0 = r1 * 3 + 1
        alu(Width::W64, AluOp::Mul, 0, Operand::Imm(3)),
        alu(Width::W64, AluOp::Add, 0, Operand::Imm(1)),
        Insn::Exit,
    ];
    let prog = Program::from_insns(insns).unwrap();
    let fused = Interpreter::with_fusion(&prog, &h, true).unwrap();
    let plain = Interpreter::with_fusion(&prog, &h, false).unwrap();
    let full = plain.run(&mut RunContext::new()).unwrap();
    assert_eq!(full.r0, 7);
    assert_eq!(fused.run(&mut RunContext::new()).unwrap(), full);
    for b in 0..full.insns_executed.unwrap() + 2 {
        let f = fused.run(&mut RunContext::new().with_budget(Some(b)));
        let p = plain.run(&mut RunContext::new().with_budget(Some(b)));
        assert_eq!(f, p, "budget {b}");
    }
}

// ---------------------------------------------------------------- frames and the op table

fn frame_of(insns: Vec<Insn>) -> (usize, bool) {
    let vm = Interpreter::new(&Program::from_insns(insns).unwrap(), &{
        let mut h = Helpers::new();
        h.register(1, "id", |_: &mut HelperCtx<'_>, a| Ok(a[0]));
        h
    })
    .unwrap();
    (vm.frame.bytes(), vm.calls_frames)
}

fn st10(off: i16, size: Size) -> Insn {
    Insn::Store {
        size,
        dst: reg(10),
        off,
        src: Operand::Imm(7),
    }
}

#[test]
fn frame_size_covers_what_the_program_can_address() {
    // No stack use: the smallest frame.
    assert_eq!(frame_of(vec![Insn::Exit]), (64, false));
    // Constant offsets from r10: the lowest byte reached, rounded up to a power of two.
    assert_eq!(frame_of(vec![st10(-8, Size::DW), Insn::Exit]), (64, false));
    assert_eq!(
        frame_of(vec![st10(-72, Size::DW), Insn::Exit]),
        (128, false)
    );
    assert_eq!(
        frame_of(vec![st10(-129, Size::B), Insn::Exit]),
        (256, false)
    );
    assert_eq!(
        frame_of(vec![st10(-512, Size::DW), Insn::Exit]),
        (512, false)
    );
    // Out of the frame (the access faults): the whole frame.
    assert_eq!(
        frame_of(vec![st10(-600, Size::B), Insn::Exit]),
        (512, false)
    );
    assert_eq!(frame_of(vec![st10(-4, Size::DW), Insn::Exit]), (512, false));
    // r10 as a value (copied, compared, stored) escapes: the whole frame.
    assert_eq!(
        frame_of(vec![mov(Width::W64, 1, 10), Insn::Exit]),
        (512, false)
    );
    let cmp = Insn::Jump {
        width: Width::W64,
        op: JmpOp::Eq,
        dst: reg(10),
        src: Operand::Imm(0),
        off: 0,
    };
    assert_eq!(frame_of(vec![cmp, Insn::Exit]), (512, false));
    let store_r10 = Insn::Store {
        size: Size::DW,
        dst: reg(1),
        off: 0,
        src: Operand::Reg(reg(10)),
    };
    assert_eq!(frame_of(vec![store_r10, Insn::Exit]), (512, false));
    // Calls of any kind may pass stack pointers on or call back: the whole frame and the
    // full stack.
    assert_eq!(
        frame_of(vec![Insn::Call(CallTarget::Helper(1)), Insn::Exit]),
        (512, true)
    );
    assert_eq!(
        frame_of(vec![
            Insn::Call(CallTarget::Local(1)),
            Insn::Exit,
            Insn::Exit
        ]),
        (512, true)
    );
}

#[test]
fn small_frames_are_zeroed_on_every_run() {
    // r0 = *(r10 - 8); *(r10 - 8) = 7; r0 += *(r10 - 8): 7 on every run only if the
    // (64-byte) frame is zero-filled on every run.
    let ld = |d: u8| Insn::Load {
        size: Size::DW,
        sign_extend: false,
        dst: reg(d),
        src: reg(10),
        off: -8,
    };
    let insns = vec![
        ld(0),
        st10(-8, Size::DW),
        ld(1),
        alu(Width::W64, AluOp::Add, 0, Operand::Reg(reg(1))),
        Insn::Exit,
    ];
    let vm = Interpreter::new(&Program::from_insns(insns).unwrap(), &Helpers::new()).unwrap();
    assert_eq!(vm.frame.bytes(), 64);
    for _ in 0..3 {
        assert_eq!(vm.run(&mut RunContext::new()).unwrap().r0, 7);
    }
}

#[test]
fn the_op_table_check_refuses_steps_out_of_bounds() {
    use super::cursor::Ops;
    let op = |code| Op {
        code,
        dst: R::R0,
        src: R::R0,
        off: 0,
        r3: R::R0,
        r4: R::R0,
        b: 0,
    };
    // A plain op before the sentinel: fine; a plain op last (its successor would be past
    // the end), a fused op of two before the last slot, or a length that is not a power of
    // two: refused.
    assert!(Ops::new(vec![op(Code::Add64I), op(Code::FellOffEnd)].into()).is_some());
    assert!(Ops::new(vec![op(Code::FellOffEnd), op(Code::Add64I)].into()).is_none());
    assert!(Ops::new(vec![op(Code::MAdd64R), op(Code::FellOffEnd)].into()).is_none());
    assert!(Ops::new(vec![op(Code::FellOffEnd); 3].into()).is_none());
    assert!(Ops::new(vec![op(Code::FellOffEnd); 4].into()).is_some());
}
