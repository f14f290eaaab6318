//! JIT tests: the conformance suite under every option set, plus focused cases.

use super::*;
use crate::helper::HelperError;
use crate::memory::MemoryRegion;
use crate::Interpreter;
use oxbpf_isa::{
    AluOp, AtomicOp, CallTarget, Insn, JmpOp, LoadImm64, Operand, PacketMode, Reg, Size, Width,
};
use std::path::PathBuf;

fn suite_dir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("OXBPF_CONFORMANCE_DIR") {
        return Some(PathBuf::from(d));
    }
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance");
    d.join("tests").is_dir().then_some(d)
}

struct Case {
    name: String,
    code: Vec<u8>,
    mem: Vec<u8>,
    result: u64,
}

fn parse_hex_bytes(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let clean: String = line.chars().filter(|c| !c.is_whitespace()).collect();
        for i in (0..clean.len()).step_by(2) {
            out.push(u8::from_str_radix(&clean[i..i + 2], 16).unwrap());
        }
    }
    out
}

fn load_cases() -> Option<Vec<Case>> {
    let dir = suite_dir()?.join("tests");
    let mut cases = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().and_then(|s| s.to_str()) == Some("data"))
        .collect();
    names.sort();
    for path in names {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut section = String::new();
        let mut mem = String::new();
        let mut result = String::new();
        let mut raw = String::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            if line.contains("--") {
                section = line.trim().to_string();
                continue;
            }
            if section.contains("mem") {
                mem.push_str(line);
                mem.push('\n');
            } else if section.contains("result") && !line.trim().is_empty() {
                result = line.trim().to_string();
            } else if section.contains("raw") {
                raw.push_str(line);
                raw.push(' ');
            }
        }
        if result.is_empty() {
            continue;
        }
        let result = if result.contains("0x") {
            u64::from_str_radix(result.trim_start_matches("0x"), 16).unwrap()
        } else {
            result.parse::<u64>().unwrap()
        };
        let code = if !raw.trim().is_empty() {
            let mut v = Vec::new();
            for w in raw.split_whitespace() {
                let n = if let Some(h) = w.strip_prefix("0x") {
                    u64::from_str_radix(h, 16).unwrap()
                } else {
                    w.parse().unwrap()
                };
                v.extend_from_slice(&n.to_le_bytes());
            }
            v
        } else {
            let hex = path.with_extension("hex");
            let Ok(t) = std::fs::read_to_string(&hex) else {
                continue;
            };
            parse_hex_bytes(&t)
        };
        cases.push(Case {
            name: path.file_stem().unwrap().to_string_lossy().into_owned(),
            code,
            mem: parse_hex_bytes(&mem),
            result,
        });
    }
    Some(cases)
}

fn conformance_helpers() -> Helpers {
    let mut h = Helpers::new();
    h.register(5, "identity", |_, a| Ok(a[0]));
    h
}

/// Compiles `prog` with `opts`, verified mode included.
///
/// Every test that runs verified code here runs programs that stay within the memory the
/// run grants (the conformance cases all end with their expected result on the checked
/// interpreter; the focused tests run verified code only on programs that the
/// interpreter runs without a fault, and skip verified mode where the program faults):
/// the inputs a verifier would have accepted them for.
fn compile_any_mode(
    prog: &Program,
    helpers: &Helpers,
    opts: &JitOptions,
) -> Result<JitProgram, LoadError> {
    // SAFETY: see above: the programs compiled in verified mode are only run on memory
    // they stay within.
    unsafe { JitProgram::compile_verified(prog, helpers, opts) }
}

#[test]
fn compile_refuses_verified_mode() {
    let prog = Program::from_insns(vec![mov64(Reg::R0, 1), Insn::Exit]).unwrap();
    for opts in all_option_sets() {
        let got = JitProgram::compile(&prog, &Helpers::new(), &opts);
        match opts.mode {
            JitMode::Checked => assert_eq!(got.unwrap().run(&mut RunContext::new()).unwrap().r0, 1),
            JitMode::Verified => assert_eq!(got.unwrap_err(), LoadError::VerifiedModeNeedsUnsafe),
        }
    }
}

fn all_option_sets() -> Vec<JitOptions> {
    let mut v = Vec::new();
    for mode in [JitMode::Checked, JitMode::Verified] {
        for budget_checks in [false, true] {
            for constant_blinding in [false, true] {
                for bmi2 in [false, CpuFeatures::detect().bmi2] {
                    v.push(JitOptions {
                        mode,
                        budget_checks,
                        constant_blinding,
                        cpu: CpuFeatures { bmi2 },
                    });
                }
            }
        }
    }
    v.dedup();
    v
}

#[test]
fn conformance_suite_every_option_set() {
    let Some(cases) = load_cases() else {
        eprintln!("SKIP: conformance suite not found (set OXBPF_CONFORMANCE_DIR)");
        return;
    };
    assert!(cases.len() > 300, "{} cases", cases.len());
    let helpers = conformance_helpers();
    let mut failures = Vec::new();
    for opts in all_option_sets() {
        for c in &cases {
            let prog = Program::decode(&c.code).unwrap();
            let jit = match compile_any_mode(&prog, &helpers, &opts) {
                Ok(j) => j,
                Err(e) => {
                    failures.push(format!("{} {opts:?}: compile: {e}", c.name));
                    continue;
                }
            };
            let mut mem = c.mem.clone();
            let mut ctx = RunContext::with_memory(&mut mem);
            if opts.budget_checks {
                ctx.budget = Some(1_000_000);
            }
            match jit.run(&mut ctx) {
                Ok(o) if o.r0 == c.result => {}
                Ok(o) => failures.push(format!(
                    "{} {opts:?}: r0 = {:#x}, expected {:#x}",
                    c.name, o.r0, c.result
                )),
                Err(e) => failures.push(format!("{} {opts:?}: {e}", c.name)),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------- focused tests

fn alu(width: Width, op: AluOp, dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width,
        op,
        dst,
        src,
    }
}
fn mov64(dst: Reg, imm: i32) -> Insn {
    alu(Width::W64, AluOp::Mov, dst, Operand::Imm(imm))
}
fn lddw(dst: Reg, v: u64) -> Insn {
    Insn::LoadImm64 {
        dst,
        value: LoadImm64::Imm(v),
    }
}

fn run_with(
    insns: Vec<Insn>,
    opts: &JitOptions,
    helpers: &Helpers,
    mem: &mut [u8],
) -> Result<RunOutcome, VmError> {
    let prog = Program::from_insns(insns).unwrap();
    let jit = compile_any_mode(&prog, helpers, opts).unwrap();
    let mut ctx = RunContext::with_memory(mem);
    jit.run(&mut ctx)
}

fn run_all(insns: Vec<Insn>, mem: &[u8]) -> Vec<Result<RunOutcome, VmError>> {
    all_option_sets()
        .iter()
        .map(|o| {
            let mut m = mem.to_vec();
            run_with(insns.clone(), o, &Helpers::new(), &mut m).map(|mut r| {
                r.insns_executed = None;
                r
            })
        })
        .collect()
}

fn r0_all(insns: Vec<Insn>) -> u64 {
    let rs = run_all(insns, &[]);
    let first = rs[0].clone().unwrap().r0;
    for r in &rs {
        assert_eq!(r.clone().unwrap().r0, first);
    }
    first
}

#[test]
fn division_by_constants_matches_native() {
    let xs: [u64; 12] = [
        0,
        1,
        2,
        3,
        7,
        100,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_ffff,
        0x1_0000_0000,
        0xdead_beef_1234_5678,
        u64::MAX,
    ];
    let ds: [i32; 14] = [
        1,
        2,
        3,
        5,
        6,
        7,
        10,
        641,
        1000,
        0x7fff_ffff,
        -1,
        -3,
        -7,
        i32::MIN,
    ];
    let mut insns = Vec::new();
    let mut expect = Vec::new();
    for &x in &xs {
        for &d in &ds {
            for w in [Width::W32, Width::W64] {
                for op in [AluOp::Div, AluOp::Mod, AluOp::SDiv, AluOp::SMod] {
                    insns.clear();
                    insns.push(lddw(Reg::R0, x));
                    insns.push(alu(w, op, Reg::R0, Operand::Imm(d)));
                    insns.push(Insn::Exit);
                    let e = if w == Width::W64 {
                        let dv = d as i64 as u64;
                        match op {
                            AluOp::Div => x / dv,
                            AluOp::Mod => x % dv,
                            AluOp::SDiv => (x as i64).wrapping_div(dv as i64) as u64,
                            _ => (x as i64).wrapping_rem(dv as i64) as u64,
                        }
                    } else {
                        let (x, dv) = (x as u32, d as u32);
                        (match op {
                            AluOp::Div => x / dv,
                            AluOp::Mod => x % dv,
                            AluOp::SDiv => (x as i32).wrapping_div(dv as i32) as u32,
                            _ => (x as i32).wrapping_rem(dv as i32) as u32,
                        }) as u64
                    };
                    expect.push((insns.clone(), e));
                }
            }
        }
    }
    for (p, e) in expect {
        assert_eq!(r0_all(p.clone()), e, "{p:?}");
    }
}

#[test]
fn division_by_register_every_register_pair() {
    // dst and src over all of r0..r9 (including rax/rdx, which div uses).
    for dst in 0..10u8 {
        for src in 0..10u8 {
            let (d, s) = (Reg::new(dst).unwrap(), Reg::new(src).unwrap());
            for op in [AluOp::Div, AluOp::Mod, AluOp::SDiv, AluOp::SMod] {
                for (x, y) in [(100u64, 7u64), (u64::MAX, 3), (5, 0), (1 << 63, u64::MAX)] {
                    let mut p = vec![lddw(Reg::R0, 0x1111), lddw(Reg::R3, 0x3333), lddw(d, x)];
                    if d != s {
                        p.push(lddw(s, y));
                    }
                    let y = if d == s { x } else { y };
                    p.push(alu(Width::W64, op, d, Operand::Reg(s)));
                    // Combine dst and the untouched r0/r3 into r0.
                    p.push(alu(Width::W64, AluOp::Mov, Reg::R9, Operand::Reg(d)));
                    if d != Reg::R0 {
                        p.push(alu(Width::W64, AluOp::Xor, Reg::R9, Operand::Reg(Reg::R0)));
                    }
                    if d != Reg::R3 {
                        p.push(alu(Width::W64, AluOp::Xor, Reg::R9, Operand::Reg(Reg::R3)));
                    }
                    p.push(alu(Width::W64, AluOp::Mov, Reg::R0, Operand::Reg(Reg::R9)));
                    p.push(Insn::Exit);
                    let q = match op {
                        AluOp::Div => x.checked_div(y).unwrap_or(0),
                        AluOp::Mod => x.checked_rem(y).unwrap_or(x),
                        AluOp::SDiv if y == 0 => 0,
                        AluOp::SDiv => (x as i64).wrapping_div(y as i64) as u64,
                        _ if y == 0 => x,
                        _ => (x as i64).wrapping_rem(y as i64) as u64,
                    };
                    let mut e = q;
                    if d != Reg::R0 {
                        e ^= if s == Reg::R0 { y } else { 0x1111 };
                    }
                    if d != Reg::R3 {
                        e ^= if s == Reg::R3 { y } else { 0x3333 };
                    }
                    assert_eq!(r0_all(p.clone()), e, "{op:?} r{dst} r{src} {x} {y}");
                }
            }
        }
    }
}

#[test]
fn shifts_by_register_every_pair() {
    for dst in 0..10u8 {
        for src in 0..10u8 {
            let (d, s) = (Reg::new(dst).unwrap(), Reg::new(src).unwrap());
            for (op, w) in [
                (AluOp::Lsh, Width::W64),
                (AluOp::Rsh, Width::W32),
                (AluOp::Arsh, Width::W64),
                (AluOp::Arsh, Width::W32),
            ] {
                let x = 0x8123_4567_89ab_cdefu64;
                let y = 0x45u64; // masked to 5 (32-bit) or 5 (64-bit)
                let mut p = vec![lddw(Reg::R4, 0x4444), lddw(d, x)];
                if d != s {
                    p.push(lddw(s, y));
                }
                let y = if d == s { x } else { y };
                p.push(alu(w, op, d, Operand::Reg(s)));
                p.push(alu(Width::W64, AluOp::Mov, Reg::R0, Operand::Reg(d)));
                if d != Reg::R4 && s != Reg::R4 {
                    p.push(alu(Width::W64, AluOp::Xor, Reg::R0, Operand::Reg(Reg::R4)));
                }
                p.push(Insn::Exit);
                let r = if w == Width::W64 {
                    let k = (y & 63) as u32;
                    match op {
                        AluOp::Lsh => x << k,
                        AluOp::Rsh => x >> k,
                        _ => ((x as i64) >> k) as u64,
                    }
                } else {
                    let k = (y & 31) as u32;
                    let x = x as u32;
                    (match op {
                        AluOp::Lsh => x << k,
                        AluOp::Rsh => x >> k,
                        _ => ((x as i32) >> k) as u32,
                    }) as u64
                };
                let e = if d != Reg::R4 && s != Reg::R4 {
                    r ^ 0x4444
                } else {
                    r
                };
                assert_eq!(r0_all(p.clone()), e, "{op:?} {w:?} r{dst} r{src}");
            }
        }
    }
}

#[test]
fn memory_faults_in_checked_mode() {
    let opts = JitOptions::checked();
    let h = Helpers::new();
    // Read past the end of the input.
    let mut mem = [0u8; 8];
    let e = run_with(
        vec![
            Insn::Load {
                size: Size::DW,
                sign_extend: false,
                dst: Reg::R0,
                src: Reg::R1,
                off: 1,
            },
            Insn::Exit,
        ],
        &opts,
        &h,
        &mut mem,
    )
    .unwrap_err();
    assert!(matches!(e, VmError::MemoryFault { pc: 0, .. }), "{e}");
    // Write to a read-only region.
    let data = [1u8, 2, 3, 4];
    let prog = Program::from_insns(vec![
        Insn::Store {
            size: Size::B,
            dst: Reg::R1,
            off: 0,
            src: Operand::Imm(7),
        },
        Insn::Exit,
    ])
    .unwrap();
    let jit = compile_any_mode(&prog, &h, &opts).unwrap();
    let mut ctx = RunContext::new();
    ctx.args[0] = data.as_ptr() as u64;
    ctx.allow(&data, RegionKind::ReadOnly);
    let e = jit.run(&mut ctx).unwrap_err();
    assert!(
        matches!(
            e,
            VmError::MemoryFault {
                fault: crate::AccessFault {
                    reason: crate::FaultReason::ReadOnly(RegionKind::ReadOnly),
                    ..
                },
                ..
            }
        ),
        "{e}"
    );
    // Stack underflow via r10 with a register base.
    let e = run_with(
        vec![
            alu(Width::W64, AluOp::Mov, Reg::R2, Operand::Reg(Reg::R10)),
            Insn::Store {
                size: Size::DW,
                dst: Reg::R2,
                off: -520,
                src: Operand::Imm(1),
            },
            mov64(Reg::R0, 0),
            Insn::Exit,
        ],
        &opts,
        &h,
        &mut [],
    )
    .unwrap_err();
    assert!(matches!(e, VmError::MemoryFault { pc: 1, .. }), "{e}");
    // Above the stack top.
    let e = run_with(
        vec![
            Insn::Load {
                size: Size::B,
                sign_extend: false,
                dst: Reg::R0,
                src: Reg::R10,
                off: 0,
            },
            Insn::Exit,
        ],
        &opts,
        &h,
        &mut [],
    )
    .unwrap_err();
    assert!(matches!(e, VmError::MemoryFault { pc: 0, .. }), "{e}");
}

#[test]
fn cache_hits_and_misses_across_regions() {
    // Alternate reads between two regions and the stack; every value must be right.
    let a = [0x11u8; 16];
    let b = [0x22u8; 16];
    let prog = Program::from_insns(vec![
        mov64(Reg::R0, 0),
        Insn::Load {
            size: Size::B,
            sign_extend: false,
            dst: Reg::R3,
            src: Reg::R1,
            off: 15,
        },
        alu(Width::W64, AluOp::Add, Reg::R0, Operand::Reg(Reg::R3)),
        Insn::Load {
            size: Size::B,
            sign_extend: false,
            dst: Reg::R3,
            src: Reg::R2,
            off: 0,
        },
        alu(Width::W64, AluOp::Add, Reg::R0, Operand::Reg(Reg::R3)),
        Insn::Load {
            size: Size::H,
            sign_extend: false,
            dst: Reg::R3,
            src: Reg::R1,
            off: 14,
        },
        alu(Width::W64, AluOp::Add, Reg::R0, Operand::Reg(Reg::R3)),
        Insn::Exit,
    ])
    .unwrap();
    let jit = compile_any_mode(&prog, &Helpers::new(), &JitOptions::checked()).unwrap();
    let mut ctx = RunContext::new();
    ctx.args[0] = a.as_ptr() as u64;
    ctx.args[1] = b.as_ptr() as u64;
    ctx.allow(&a, RegionKind::Input);
    ctx.allow(&b, RegionKind::Input);
    assert_eq!(jit.run(&mut ctx).unwrap().r0, 0x11 + 0x22 + 0x1111);
    // One byte past region a: miss, then fault.
    ctx.args[0] = a.as_ptr() as u64 + 1;
    assert!(jit.run(&mut ctx).is_err());
}

#[test]
fn helpers_get_args_and_errors_stop_the_run() {
    let mut h = Helpers::new();
    h.register(1, "sum", |_, a| Ok(a.iter().sum()));
    h.register(2, "fail", |_, _| Err(HelperError::Abort("nope".into())));
    h.register(3, "write_stack", |ctx, a| {
        let s = ctx.write(a[0], 8)?;
        s.copy_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes());
        Ok(0)
    });
    let sum = vec![
        mov64(Reg::R1, 1),
        mov64(Reg::R2, 20),
        mov64(Reg::R3, 300),
        mov64(Reg::R4, 4000),
        mov64(Reg::R5, 50000),
        Insn::Call(CallTarget::Helper(1)),
        Insn::Exit,
    ];
    for o in all_option_sets() {
        assert_eq!(run_with(sum.clone(), &o, &h, &mut []).unwrap().r0, 54321);
        let e = run_with(
            vec![Insn::Call(CallTarget::Helper(2)), Insn::Exit],
            &o,
            &h,
            &mut [],
        )
        .unwrap_err();
        assert_eq!(
            e,
            VmError::HelperFailed {
                pc: 0,
                id: 2,
                message: "nope".into()
            }
        );
        let e = run_with(
            vec![
                mov64(Reg::R0, 0),
                Insn::Call(CallTarget::Helper(99)),
                Insn::Exit,
            ],
            &o,
            &h,
            &mut [],
        )
        .unwrap_err();
        assert_eq!(e, VmError::UnknownHelper { pc: 1, id: 99 });
        // A helper writing through a stack pointer.
        let r = run_with(
            vec![
                alu(Width::W64, AluOp::Mov, Reg::R1, Operand::Reg(Reg::R10)),
                alu(Width::W64, AluOp::Add, Reg::R1, Operand::Imm(-8)),
                Insn::Call(CallTarget::Helper(3)),
                Insn::Load {
                    size: Size::DW,
                    sign_extend: false,
                    dst: Reg::R0,
                    src: Reg::R10,
                    off: -8,
                },
                Insn::Exit,
            ],
            &o,
            &h,
            &mut [],
        )
        .unwrap();
        assert_eq!(r.r0, 0x0102_0304_0506_0708);
    }
}

#[test]
fn budget_reports_exact_pc_and_count() {
    // 0: r0 = 0; 1: r0 += 1; 2: if r0 < 10 goto 1; 3: exit  => 1 + 10*2 + 1 = 22
    let p = vec![
        mov64(Reg::R0, 0),
        alu(Width::W64, AluOp::Add, Reg::R0, Operand::Imm(1)),
        Insn::Jump {
            width: Width::W64,
            op: JmpOp::Lt,
            dst: Reg::R0,
            src: Operand::Imm(10),
            off: -2,
        },
        Insn::Exit,
    ];
    let prog = Program::from_insns(p).unwrap();
    let jit = compile_any_mode(&prog, &Helpers::new(), &JitOptions::checked()).unwrap();
    let mut ctx = RunContext::new();
    // Runs without a budget use the body without counting.
    let o = jit.run(&mut ctx).unwrap();
    assert_eq!((o.r0, o.insns_executed), (10, None));
    // A budget of u64::MAX counts without a limit.
    ctx.budget = Some(u64::MAX);
    let o = jit.run(&mut ctx).unwrap();
    assert_eq!(o.insns_executed, Some(22));
    ctx.budget = Some(22);
    assert_eq!(jit.run(&mut ctx).unwrap().r0, 10);
    for b in 0..22u64 {
        ctx.budget = Some(b);
        let e = jit.run(&mut ctx).unwrap_err();
        // Instruction number b (0-based) in execution order is the one refused.
        let order: Vec<usize> = std::iter::once(0)
            .chain((0..10).flat_map(|_| [1, 2]))
            .chain([3])
            .collect();
        assert_eq!(
            e,
            VmError::BudgetExhausted {
                pc: order[b as usize],
                budget: b
            }
        );
    }
    // Without budget checks a budget is refused.
    let fast = compile_any_mode(&prog, &Helpers::new(), &JitOptions::verified()).unwrap();
    ctx.budget = Some(5);
    assert!(matches!(
        fast.run(&mut ctx),
        Err(VmError::Unsupported { .. })
    ));
}

#[test]
fn local_calls_recursion_and_depth() {
    // Recursion: f(n) = n == 0 ? 0 : n + f(n-1), with r6 preserved by callers.
    // 0: r1 = N; 1: call f; 2: exit
    // f (3): if r1 == 0 goto ret0; r6 = r1; r1 -= 1; call f; r0 += r6; exit; ret0: r0 = 0; exit
    let f = |n: i32| {
        vec![
            mov64(Reg::R1, n),
            Insn::Call(CallTarget::Local(1)),
            Insn::Exit,
            Insn::Jump {
                width: Width::W64,
                op: JmpOp::Eq,
                dst: Reg::R1,
                src: Operand::Imm(0),
                off: 5,
            },
            alu(Width::W64, AluOp::Mov, Reg::R6, Operand::Reg(Reg::R1)),
            alu(Width::W64, AluOp::Sub, Reg::R1, Operand::Imm(1)),
            Insn::Call(CallTarget::Local(-4)),
            alu(Width::W64, AluOp::Add, Reg::R0, Operand::Reg(Reg::R6)),
            Insn::Exit,
            mov64(Reg::R0, 0),
            Insn::Exit,
        ]
    };
    for o in all_option_sets() {
        // main + 7 nested calls = 8 frames: f(6) needs main + f(6)..f(0) = 8 frames.
        assert_eq!(run_with(f(6), &o, &Helpers::new(), &mut []).unwrap().r0, 21);
        let e = run_with(f(7), &o, &Helpers::new(), &mut []).unwrap_err();
        assert_eq!(e, VmError::CallDepthExceeded { pc: 6, max: 8 }, "{o:?}");
    }
}

#[test]
fn fell_off_end_and_unknown_pseudo() {
    for o in all_option_sets() {
        let e = run_with(vec![mov64(Reg::R0, 1)], &o, &Helpers::new(), &mut []).unwrap_err();
        assert_eq!(e, VmError::FellOffEnd { pc: 0 });
    }
    let prog = Program::from_insns(vec![
        Insn::LoadImm64 {
            dst: Reg::R1,
            value: LoadImm64::MapFd(3),
        },
        Insn::Exit,
    ])
    .unwrap();
    let e = JitProgram::compile(&prog, &Helpers::new(), &JitOptions::default()).unwrap_err();
    assert!(matches!(e, LoadError::UnresolvedPseudo { pc: 0, .. }));
}

#[test]
fn atomics_fetch_ops_every_register() {
    for src in 0..10u8 {
        let s = Reg::new(src).unwrap();
        for (op, f) in [
            (
                AtomicOp::Or { fetch: true },
                (|a: u64, b: u64| a | b) as fn(u64, u64) -> u64,
            ),
            (AtomicOp::And { fetch: true }, |a, b| a & b),
            (AtomicOp::Xor { fetch: true }, |a, b| a ^ b),
            (AtomicOp::Add { fetch: true }, |a, b| a.wrapping_add(b)),
            (AtomicOp::Xchg, |_, b| b),
        ] {
            for size in [Size::W, Size::DW] {
                let old = 0xf0f0_f0f0_1234_5678u64;
                let v = 0x0ff0_0ff0_8765_4321u64;
                let p = vec![
                    lddw(Reg::R0, 0xaaaa),
                    lddw(Reg::R9, old),
                    Insn::Store {
                        size: Size::DW,
                        dst: Reg::R10,
                        off: -8,
                        src: Operand::Reg(Reg::R9),
                    },
                    lddw(s, v),
                    Insn::Atomic {
                        size,
                        op,
                        dst: Reg::R10,
                        src: s,
                        off: -8,
                    },
                    // r0 = mem ^ src ^ (r0 if not src)
                    Insn::Load {
                        size: Size::DW,
                        sign_extend: false,
                        dst: Reg::R9,
                        src: Reg::R10,
                        off: -8,
                    },
                    alu(Width::W64, AluOp::Xor, Reg::R9, Operand::Reg(s)),
                    alu(Width::W64, AluOp::Xor, Reg::R0, Operand::Reg(Reg::R9)),
                    Insn::Exit,
                ];
                let v = if s == Reg::R9 { old } else { v };
                let _ = v;
                if s == Reg::R9 {
                    continue;
                }
                let (mem, fetched) = if size == Size::DW {
                    (f(old, v), old)
                } else {
                    let lo = f(old & 0xffff_ffff, v & 0xffff_ffff) & 0xffff_ffff;
                    ((old & !0xffff_ffff) | lo, old & 0xffff_ffff)
                };
                let r0 = if s == Reg::R0 { 0 } else { 0xaaaa };
                let e = r0 ^ mem ^ fetched;
                let e = if s == Reg::R0 { mem } else { e };
                assert_eq!(r0_all(p), e, "{op:?} {size:?} r{src}");
            }
        }
    }
}

#[test]
fn misaligned_atomic_is_an_error_in_checked_mode() {
    let e = run_with(
        vec![
            mov64(Reg::R1, 1),
            Insn::Atomic {
                size: Size::DW,
                op: AtomicOp::Add { fetch: false },
                dst: Reg::R10,
                src: Reg::R1,
                off: -12,
            },
            mov64(Reg::R0, 0),
            Insn::Exit,
        ],
        &JitOptions::checked(),
        &Helpers::new(),
        &mut [],
    )
    .unwrap_err();
    assert!(
        matches!(e, VmError::MisalignedAtomic { pc: 1, size: 8, .. }),
        "{e}"
    );
}

#[test]
fn packet_loads() {
    let pkt = [0x12u8, 0x34, 0x56, 0x78, 0x9a];
    let prog = Program::from_insns(vec![
        Insn::LoadPacket {
            mode: PacketMode::Abs,
            size: Size::H,
            imm: 1,
        },
        alu(Width::W64, AluOp::Mov, Reg::R6, Operand::Reg(Reg::R0)),
        mov64(Reg::R7, 1),
        Insn::LoadPacket {
            mode: PacketMode::Ind(Reg::R7),
            size: Size::W,
            imm: 0,
        },
        alu(Width::W64, AluOp::Lsh, Reg::R6, Operand::Imm(32)),
        alu(Width::W64, AluOp::Or, Reg::R0, Operand::Reg(Reg::R6)),
        Insn::Exit,
    ])
    .unwrap();
    for o in all_option_sets() {
        let jit = compile_any_mode(&prog, &Helpers::new(), &o).unwrap();
        let mut ctx = RunContext::new();
        ctx.allow(&pkt, RegionKind::Packet);
        assert_eq!(jit.run(&mut ctx).unwrap().r0, 0x3456_u64 << 32 | 0x3456789a);
        let short = [0u8; 4];
        let mut ctx = RunContext::new();
        ctx.allow(&short, RegionKind::Packet);
        assert_eq!(jit.run(&mut ctx).unwrap().r0, 0);
    }
}

#[test]
fn regions_are_restored_after_helper_runs() {
    let mut h = Helpers::new();
    h.register(1, "n", |ctx, _| Ok(ctx.regions().len() as u64));
    let prog = Program::from_insns(vec![Insn::Call(CallTarget::Helper(1)), Insn::Exit]).unwrap();
    let jit = compile_any_mode(&prog, &h, &JitOptions::checked()).unwrap();
    let mut mem = [0u8; 4];
    let mut ctx = RunContext::with_memory(&mut mem);
    assert_eq!(jit.run(&mut ctx).unwrap().r0, 1);
    assert_eq!(ctx.regions().len(), 1);
}

#[test]
fn empty_program_code_is_tiny() {
    let prog = Program::from_insns(vec![mov64(Reg::R0, 7), Insn::Exit]).unwrap();
    let jit = compile_any_mode(&prog, &Helpers::new(), &JitOptions::verified()).unwrap();
    assert_eq!(jit.run(&mut RunContext::new()).unwrap().r0, 7);
    #[cfg(feature = "disasm")]
    {
        let text: Vec<String> = jit.disassemble().into_iter().map(|n| n.text).collect();
        assert_eq!(text, vec!["mov eax, 0x7", "ret"]);
    }
}

#[test]
fn code_buffer_is_not_writable() {
    let prog = Program::from_insns(vec![mov64(Reg::R0, 7), Insn::Exit]).unwrap();
    let jit = compile_any_mode(&prog, &Helpers::new(), &JitOptions::default()).unwrap();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    for line in maps.lines() {
        let mut it = line.split_whitespace();
        let (Some(range), Some(perms)) = (it.next(), it.next()) else {
            continue;
        };
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let a = usize::from_str_radix(a, 16).unwrap();
        let b = usize::from_str_radix(b, 16).unwrap();
        if (a..b).contains(&jit.code_addr()) {
            assert_eq!(&perms[..3], "r-x");
        }
    }
}

#[test]
fn constant_blinding_hides_immediates() {
    let prog = Program::from_insns(vec![
        mov64(Reg::R0, 0x1234_5678),
        alu(Width::W64, AluOp::Add, Reg::R0, Operand::Imm(0x0bad_cafe)),
        Insn::Exit,
    ])
    .unwrap();
    let o = JitOptions {
        constant_blinding: true,
        ..JitOptions::verified()
    };
    let jit = compile_any_mode(&prog, &Helpers::new(), &o).unwrap();
    let code = jit.code();
    for pat in [0x1234_5678u32.to_le_bytes(), 0x0bad_cafeu32.to_le_bytes()] {
        assert!(!code.windows(4).any(|w| w == pat), "immediate visible");
    }
    assert_eq!(
        jit.run(&mut RunContext::new()).unwrap().r0,
        0x1234_5678 + 0x0bad_cafe
    );
}

#[test]
fn env_reaches_helpers() {
    let mut h = Helpers::new();
    h.register(1, "bump", |ctx, _| {
        let n = ctx
            .env::<u64>()
            .ok_or(HelperError::Abort("no env".into()))?;
        *n += 1;
        Ok(*n)
    });
    let prog = Program::from_insns(vec![Insn::Call(CallTarget::Helper(1)), Insn::Exit]).unwrap();
    let jit = compile_any_mode(&prog, &h, &JitOptions::default()).unwrap();
    let mut n = 41u64;
    let mut ctx = RunContext::new().with_env(&mut n);
    assert_eq!(jit.run(&mut ctx).unwrap().r0, 42);
    drop(ctx);
    assert_eq!(n, 42);
    let _ = MemoryRegion::new(0, 0, false, RegionKind::Stack);
}

#[test]
fn live_stack_semantics() {
    use oxbpf_isa::asm::assemble;
    let run = |src: &str| {
        let prog = assemble(src).unwrap();
        let jit = compile_any_mode(&prog, &Helpers::new(), &JitOptions::checked()).unwrap();
        jit.run(&mut RunContext::new())
    };
    // A callee writes through a pointer into its caller's frame; the caller sees it.
    let r = run("r1 = r10\nr1 += -8\ncall f\nr0 = *(u64 *)(r10 - 8)\nexit\n\
                 f:\nr2 = 77\n*(u64 *)(r1 + 0) = r2\nr0 = 0\nexit\n");
    assert_eq!(r.unwrap().r0, 77);
    // Each callee frame starts zeroed, even when an earlier call at the same depth wrote it.
    let r = run("call w\ncall rd\nexit\n\
                 w:\nr1 = 5\n*(u64 *)(r10 - 8) = r1\nr0 = 0\nexit\n\
                 rd:\nr0 = *(u64 *)(r10 - 8)\nexit\n");
    assert_eq!(r.unwrap().r0, 0);
    // A pointer into a callee's frame is dead after the callee returns, also when a
    // cache held the stack.
    let r = run("call f\nr1 = *(u64 *)(r0 + 0)\nr0 = 0\nexit\n\
                 f:\nr0 = r10\nr0 += -8\nr2 = *(u64 *)(r0 + 0)\nexit\n");
    assert!(
        matches!(r, Err(VmError::MemoryFault { pc: 1, .. })),
        "{r:?}"
    );
    // Frames below the current one are not accessible.
    let r = run("r1 = r10\nr1 += -520\nr0 = *(u64 *)(r1 + 0)\nexit\n");
    assert!(
        matches!(r, Err(VmError::MemoryFault { pc: 2, .. })),
        "{r:?}"
    );
}

#[test]
fn helpers_see_the_live_stack_only_during_the_call() {
    use oxbpf_isa::asm::assemble;
    let mut h = Helpers::new();
    h.register(1, "stack_len", |ctx, _| {
        Ok(ctx
            .regions()
            .iter()
            .filter(|r| r.kind == RegionKind::Stack)
            .map(|r| r.len)
            .sum())
    });
    let prog = assemble(
        "*(u64 *)(r10 - 8) = r1\ncall f\nexit\nf:\n*(u64 *)(r10 - 8) = r1\ncall 1\nexit\n",
    )
    .unwrap();
    for o in all_option_sets() {
        let jit = compile_any_mode(&prog, &h, &o).unwrap();
        let mut ctx = RunContext::new();
        assert_eq!(jit.run(&mut ctx).unwrap().r0, 1024, "{o:?}");
        assert!(ctx.regions().is_empty());
    }
}

#[test]
fn code_addresses_and_callx() {
    use oxbpf_isa::asm::assemble;
    let mut h = Helpers::new();
    h.register(9, "nine", |_, _| Ok(9));
    // lddw of a code address gives CODE_ADDR_BASE + slot; callx on it calls the function,
    // callx on a helper id calls the helper.
    let prog = Program::from_insns(vec![
        Insn::LoadImm64 {
            dst: Reg::R6,
            value: LoadImm64::CodeAddr(7),
        },
        Insn::CallX { reg: Reg::R6 },
        alu(Width::W64, AluOp::Mov, Reg::R7, Operand::Reg(Reg::R0)),
        mov64(Reg::R8, 9),
        Insn::CallX { reg: Reg::R8 },
        alu(Width::W64, AluOp::Add, Reg::R0, Operand::Reg(Reg::R7)),
        Insn::Exit,
        mov64(Reg::R0, 100),
        Insn::Exit,
    ])
    .unwrap();
    let _ = assemble;
    for o in all_option_sets() {
        let jit = compile_any_mode(&prog, &h, &o).unwrap();
        assert_eq!(jit.run(&mut RunContext::new()).unwrap().r0, 109, "{o:?}");
    }
    let p2 = Program::from_insns(vec![
        Insn::LoadImm64 {
            dst: Reg::R0,
            value: LoadImm64::CodeAddr(2),
        },
        Insn::Exit,
        Insn::Exit,
    ])
    .unwrap();
    let jit = compile_any_mode(&p2, &h, &JitOptions::default()).unwrap();
    assert_eq!(
        jit.run(&mut RunContext::new()).unwrap().r0,
        CODE_ADDR_BASE + 3
    );
}

/// Every shape of the rotate idiom (widths, shift order, counts, combining operation,
/// result register, the other register read afterwards or not) against the interpreter.
#[test]
fn rotate_idioms_match_the_interpreter() {
    let h = Helpers::new();
    let vals = [
        0x0123_4567_89ab_cdefu64,
        u64::MAX,
        0x8000_0000_0000_0001,
        0xffff_ffff,
    ];
    for width in [Width::W64, Width::W32] {
        let bits = if width == Width::W64 { 64 } else { 32 };
        for k in [1, 5, bits / 2, bits - 1] {
            for rsh_first in [true, false] {
                for op3 in [AluOp::Or, AluOp::Xor, AluOp::Add] {
                    for into_a in [true, false] {
                        for use_other in [false, true] {
                            let (op1, op2) = if rsh_first {
                                (AluOp::Rsh, AluOp::Lsh)
                            } else {
                                (AluOp::Lsh, AluOp::Rsh)
                            };
                            let (a, b) = (Reg::R3, Reg::R4);
                            let mut p = vec![
                                lddw(a, vals[(k as usize) % vals.len()]),
                                alu(width, AluOp::Mov, b, Operand::Reg(a)),
                                alu(width, op1, b, Operand::Imm(k)),
                                alu(width, op2, a, Operand::Imm(bits - k)),
                            ];
                            let (d, s) = if into_a { (a, b) } else { (b, a) };
                            p.push(alu(width, op3, d, Operand::Reg(s)));
                            p.push(alu(Width::W64, AluOp::Mov, Reg::R0, Operand::Reg(d)));
                            if use_other {
                                p.push(alu(Width::W64, AluOp::Mul, Reg::R0, Operand::Imm(3)));
                                p.push(alu(Width::W64, AluOp::Xor, Reg::R0, Operand::Reg(s)));
                            }
                            p.push(Insn::Exit);
                            assert_jit_matches_interpreter(
                                &p,
                                &h,
                                &format!(
                                    "{width:?} k={k} rsh_first={rsh_first} {op3:?} into_a={into_a} \
                                     use_other={use_other}"
                                ),
                            );
                        }
                    }
                }
            }
        }
    }
}

/// `rI <<= s; rD = rX; [rD += imm;] rD += rI` into `lea`, with the shifted index read
/// later or not, against the interpreter.
#[test]
fn scaled_addresses_match_the_interpreter() {
    let h = Helpers::new();
    for s in 1..=3 {
        for with_imm in [false, true] {
            for use_index in [false, true] {
                let (ri, rd, rx) = (Reg::R2, Reg::R3, Reg::R4);
                let mut p = vec![
                    lddw(ri, 0x1234_5678_9abc),
                    lddw(rx, 0xfedc_ba98_7654),
                    alu(Width::W64, AluOp::Lsh, ri, Operand::Imm(s)),
                    alu(Width::W64, AluOp::Mov, rd, Operand::Reg(rx)),
                ];
                if with_imm {
                    p.push(alu(Width::W64, AluOp::Add, rd, Operand::Imm(-256)));
                }
                p.push(alu(Width::W64, AluOp::Add, rd, Operand::Reg(ri)));
                p.push(alu(Width::W64, AluOp::Mov, Reg::R0, Operand::Reg(rd)));
                if use_index {
                    p.push(alu(Width::W64, AluOp::Xor, Reg::R0, Operand::Reg(ri)));
                }
                p.push(Insn::Exit);
                assert_jit_matches_interpreter(
                    &p,
                    &h,
                    &format!("s={s} imm={with_imm} use={use_index}"),
                );
            }
        }
    }
}

/// Checked mode groups accesses off one base register into one check; a failing group
/// check continues in a copy that checks each access, so faults and side effects are
/// those of separate checks.
#[test]
fn grouped_checks_fault_exactly_like_separate_checks() {
    use oxbpf_isa::asm::assemble;
    let h = Helpers::new();
    let run = |src: &str, mem: &mut [u8], ro: Option<&[u8]>| {
        let prog = assemble(src).unwrap();
        let interp = Interpreter::new(&prog, &h).unwrap();
        let mut results = Vec::new();
        for e in [None].into_iter().chain(
            all_option_sets()
                .into_iter()
                .filter(|o| o.mode == JitMode::Checked)
                .map(Some),
        ) {
            let mut m = mem.to_vec();
            let r = {
                let mut ctx = RunContext::with_memory(&mut m);
                if let Some(ro) = ro {
                    ctx.args[2] = ro.as_ptr() as u64;
                    ctx.allow(ro, RegionKind::ReadOnly);
                }
                match e {
                    None => interp.run(&mut ctx),
                    Some(o) => compile_any_mode(&prog, &h, &o).unwrap().run(&mut ctx),
                }
                .map(|o| o.r0)
                .map_err(|e| match e {
                    // Each run has its own copy of the memory: compare without addresses.
                    VmError::MemoryFault { pc, mut fault } => {
                        fault.addr = 0;
                        VmError::MemoryFault { pc, fault }
                    }
                    e => e,
                })
            };
            results.push((e, r, m));
        }
        let (_, r0, m0) = results[0].clone();
        for (e, r, m) in &results[1..] {
            assert_eq!((r, m), (&r0, &m0), "{e:?}\n{src}");
        }
        (r0, m0)
    };
    // The second store of a group is out of bounds: the first one happened.
    let (r, m) = run(
        "*(u32 *)(r1 + 0) = 7\n*(u32 *)(r1 + 4) = 9\nr0 = 1\nexit\n",
        &mut [0u8; 6],
        None,
    );
    assert!(
        matches!(r, Err(VmError::MemoryFault { pc: 1, .. })),
        "{r:?}"
    );
    assert_eq!(m, vec![7, 0, 0, 0, 0, 0]);
    // In bounds (the group's range is rounded up to 8 bytes, the region has 6): the slow
    // copy runs and all is fine.
    let (r, m) = run(
        "*(u16 *)(r1 + 0) = 7\n*(u16 *)(r1 + 2) = 9\nr0 = *(u16 *)(r1 + 4)\nexit\n",
        &mut [0, 0, 0, 0, 5, 0],
        None,
    );
    assert_eq!(r, Ok(5));
    assert_eq!(m, vec![7, 0, 9, 0, 5, 0]);
    // Loads and a store off a read-only region: the loads work, the store faults.
    let ro = [1u8, 2, 3, 4, 5, 6, 7, 8];
    let (r, _) = run(
        "r0 = *(u8 *)(r3 + 0)\nr4 = *(u8 *)(r3 + 1)\nr0 += r4\n*(u8 *)(r3 + 2) = r0\nexit\n",
        &mut [0u8; 4],
        Some(&ro),
    );
    assert!(
        matches!(r, Err(VmError::MemoryFault { pc: 3, .. })),
        "{r:?}"
    );
    // A base register changed between accesses starts a new group.
    let (r, m) = run(
        "r2 = *(u8 *)(r1 + 0)\nr1 += 2\nr3 = *(u8 *)(r1 + 0)\n*(u8 *)(r1 + 1) = r2\nr0 = r3\nexit\n",
        &mut [9, 0, 4, 0],
        None,
    );
    assert_eq!(r, Ok(4));
    assert_eq!(m, vec![9, 0, 4, 9]);
    // Wide groups (over 64 bytes) are checked exactly: in bounds, past the end, and
    // starting below the region (the carry of the check).
    let wide =
        "r0 = *(u8 *)(r1 + 0)\nr2 = *(u8 *)(r1 + 199)\nr0 += r2\n*(u8 *)(r1 + 100) = r0\nexit\n";
    let mut m = [0u8; 200];
    m[0] = 1;
    m[199] = 2;
    let (r, m) = run(wide, &mut m, None);
    assert_eq!(r, Ok(3));
    assert_eq!(m[100], 3);
    let (r, _) = run(wide, &mut [0u8; 199], None);
    assert!(
        matches!(r, Err(VmError::MemoryFault { pc: 1, .. })),
        "{r:?}"
    );
    let below = "r1 += -1\nr0 = *(u8 *)(r1 + 0)\nr2 = *(u8 *)(r1 + 150)\nexit\n";
    let (r, _) = run(below, &mut [0u8; 200], None);
    assert!(
        matches!(r, Err(VmError::MemoryFault { pc: 1, .. })),
        "{r:?}"
    );
    let below = "r1 += -1\nr0 = *(u8 *)(r1 + 1)\nr2 = *(u8 *)(r1 + 150)\nexit\n";
    let (r, _) = run(below, &mut [7u8; 200], None);
    assert_eq!(r, Ok(7));
    // Many loads of one group, repeated in a loop (the cache is filled by the slow copy
    // the first time, then the group check hits).
    let (r, _) = run(
        "r4 = 0\nr0 = 0\nloop:\nr5 = *(u8 *)(r1 + 0)\nr6 = *(u8 *)(r1 + 1)\nr7 = *(u8 *)(r1 + 2)\n\
         r0 += r5\nr0 += r6\nr0 += r7\nr4 += 1\nif r4 < 10 goto loop\nexit\n",
        &mut [1, 2, 3],
        None,
    );
    assert_eq!(r, Ok(60));
}

/// Address expressions folded into the access that uses them (`mov` with a SIB operand),
/// in bounds and out of bounds (the fault names the access), against the interpreter.
#[test]
fn folded_addresses_match_the_interpreter() {
    use oxbpf_isa::asm::assemble;
    let h = Helpers::new();
    let sources = [
        // Load through r1 + index * 4 + 8, address dead afterwards.
        "r3 = IDX\nr3 <<= 2\nr4 = r1\nr4 += 8\nr4 += r3\nr0 = *(u32 *)(r4 + 0)\nexit\n",
        // The same, the shifted index read later.
        "r3 = IDX\nr3 <<= 2\nr4 = r1\nr4 += 8\nr4 += r3\nr0 = *(u32 *)(r4 + 4)\nr0 += r3\nexit\n",
        // A store; the address register is the load's destination afterwards.
        "r3 = IDX\nr4 = r1\nr4 += r3\n*(u8 *)(r4 + 1) = 7\nr4 = r1\nr4 += r3\nr4 = *(u16 *)(r4 + 0)\nr0 = r4\nexit\n",
        // Stack arrays: r10-based, in the frame or not depending on the index. The words
        // the in-frame indexes reach are written first: verified code need not zero the
        // stack (a verified program never reads what it did not write).
        "r3 = IDX\n*(u64 *)(r10 - 88) = 5\n*(u64 *)(r10 - 64) = r1\n*(u64 *)(r10 - 56) = 4\n*(u64 *)(r10 - 40) = 6\n\
         *(u64 *)(r10 - 8) = 9\nr3 <<= 3\nr4 = r10\nr4 += -64\nr4 += r3\nr0 = *(u64 *)(r4 + 0)\nexit\n",
        // The address is read again after the access: lea, then the access.
        "r3 = IDX\nr4 = r1\nr4 += 2\nr4 += r3\nr0 = *(u8 *)(r4 + 0)\nr0 += r4\nr0 -= r1\nexit\n",
    ];
    for src in sources {
        for idx in [0i64, 1, 3, 7, 100, -3] {
            let text = src.replace("IDX", &idx.to_string());
            let prog = assemble(&text).unwrap();
            let mut mem0: Vec<u8> = (0..32u8).collect();
            let want = {
                let mut ctx = RunContext::with_memory(&mut mem0);
                Interpreter::new(&prog, &h)
                    .unwrap()
                    .run(&mut ctx)
                    .map(|o| (o.r0.wrapping_sub(ctx.args[0]) > 64).then_some(o.r0))
            };
            for o in all_option_sets() {
                let mut mem: Vec<u8> = (0..32u8).collect();
                let jit = compile_any_mode(&prog, &h, &o).unwrap();
                let got = {
                    let mut ctx = RunContext::with_memory(&mut mem);
                    if o.mode == JitMode::Verified && want.is_err() {
                        continue;
                    }
                    jit.run(&mut ctx)
                        .map(|o| (o.r0.wrapping_sub(ctx.args[0]) > 64).then_some(o.r0))
                };
                match (&want, &got) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "{text} {o:?}"),
                    (
                        Err(VmError::MemoryFault { pc: a, .. }),
                        Err(VmError::MemoryFault { pc: b, .. }),
                    ) => {
                        assert_eq!(a, b, "{text} {o:?}")
                    }
                    _ => panic!("{text} {o:?}: interpreter {want:?}, JIT {got:?}"),
                }
                assert_eq!(mem, mem0, "{text} {o:?}");
            }
        }
    }
}

/// The helper side of the regions API on both engines: `regions()` shows the run's
/// regions (the live stack included), `remove_region` takes one away, `add_region`
/// grants memory for the rest of the run, and when the run ends the regions the helper
/// added are gone even though it removed one of the run's initial regions first (a
/// count-based cleanup would keep the added one).
#[test]
fn helper_region_changes_end_with_the_run() {
    use oxbpf_isa::asm::assemble;
    let extra: &'static [u8; 8] = Box::leak(Box::new([9u8; 8]));
    let extra_addr = extra.as_ptr() as u64;
    let mut h = Helpers::new();
    // r1: the input buffer. Returns the address of `extra`.
    h.register(1, "swap_in_extra", move |ctx, a| {
        let kinds: Vec<RegionKind> = ctx.regions().iter().map(|r| r.kind).collect();
        if kinds != [RegionKind::Input, RegionKind::Stack] {
            return Err(HelperError::Abort(format!("unexpected regions {kinds:?}")));
        }
        if ctx.read(a[0], 4)? != [5; 4] {
            return Err(HelperError::Abort("input not readable".into()));
        }
        let removed = ctx.remove_region(a[0], RegionKind::Input);
        if removed.map(|r| r.len) != Some(16) || ctx.read(a[0], 1).is_ok() {
            return Err(HelperError::Abort("input not removed".into()));
        }
        // SAFETY: `extra` is leaked: valid (and never written) forever.
        unsafe {
            ctx.add_region(MemoryRegion::new(
                extra_addr,
                8,
                false,
                RegionKind::Embedder,
            ))
        };
        Ok(extra_addr)
    });
    h.register(2, "count", |ctx, _| Ok(ctx.regions().len() as u64));
    // The extra byte, plus 100 times the region count a second helper call sees
    // (the extra region and the stack: 2). The program uses its stack, so helpers see it.
    let prog = assemble(
        "*(u64 *)(r10 - 8) = r1\ncall 1\nr6 = *(u8 *)(r0 + 0)\ncall 2\nr0 *= 100\nr0 += r6\nexit\n",
    )
    .unwrap();
    let engines: Vec<Box<dyn Executable>> =
        std::iter::once(Box::new(Interpreter::new(&prog, &h).unwrap()) as Box<dyn Executable>)
            .chain(
                all_option_sets()
                    .into_iter()
                    .map(|o| Box::new(compile_any_mode(&prog, &h, &o).unwrap()) as _),
            )
            .collect();
    for e in engines {
        let mut buf = [5u8; 16];
        let mut ctx = RunContext::with_memory(&mut buf);
        assert_eq!(ctx.regions().len(), 1);
        assert_eq!(e.run(&mut ctx).unwrap().r0, 209, "{:?}", e.engine());
        assert!(
            ctx.regions().is_empty(),
            "{:?}: {:?}",
            e.engine(),
            ctx.regions()
        );
        // The view of a context: remove works, the removed input is refused afterwards.
        let mut buf = [5u8; 16];
        let addr = buf.as_ptr() as u64;
        let mut ctx = RunContext::with_memory(&mut buf);
        let mark = ctx.regions().mark();
        let mut v = ctx.regions_mut();
        v.slice_mut(addr, 1).unwrap()[0] = 6;
        assert!(v.remove(addr, RegionKind::Input).is_some());
        ctx.release_regions(mark);
        assert!(ctx.regions().slice(addr, 1).is_err());
        assert!(ctx.nested().regions().is_empty());
        drop(ctx);
        assert_eq!(buf[0], 6);
    }
}

/// Runs a program without memory on the interpreter and on the JIT under every option set;
/// r0 must agree.
fn assert_jit_matches_interpreter(p: &[Insn], h: &Helpers, what: &str) {
    let prog = Program::from_insns(p.to_vec()).unwrap();
    let want = Interpreter::new(&prog, h)
        .unwrap()
        .run(&mut RunContext::new())
        .unwrap()
        .r0;
    for o in all_option_sets() {
        let got = run_with(p.to_vec(), &o, h, &mut []).unwrap().r0;
        assert_eq!(got, want, "{what} {o:?}");
    }
}

/// Fuzz finding: a `lddw` of a map value (by descriptor) in code after an endless loop, in
/// a program with a bpf-to-bpf call (so the JIT skips unreachable code). The interpreter
/// refused the program at load; the JIT compiled it. Both must refuse it alike.
#[test]
fn unresolved_lddw_in_unreachable_code_is_refused_by_both_engines() {
    let bytes = parse_hex_bytes(
        "004d000000000000005d000000000000000500ffff0000000087000000000000\
         00060000000000000006000000000000000600000000000000bf000000000000\
         00170000000000000063100000000000005d1000000000000018280000000000\
         00000000000000000085100000000000006310000000000000",
    );
    // The fuzz target's input: a selector byte (no memory), then the program.
    assert!(!super::fuzz::differential(&bytes));
    let prog = Program::decode(&bytes[1..]).unwrap();
    let e = JitProgram::compile(&prog, &Helpers::new(), &JitOptions::checked()).unwrap_err();
    assert_eq!(
        e,
        LoadError::UnresolvedPseudo {
            pc: 11,
            what: "map value (by file descriptor)"
        }
    );
}
