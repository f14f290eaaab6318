//! Callbacks and tail calls (helpers re-entering the running program through `HelperCtx`)
//! on every engine: the reference interpreter and the JIT under each option set. The
//! expectations are the interpreter's semantics (`oxbpf_vm::helper` module docs); the
//! cases started as the interpreter's own re-entry tests, which they replace.

use oxbpf_isa::{AluOp, CallTarget, Insn, LoadImm64, Operand, Program, Reg, Size, Width};
use oxbpf_vm::jit::{CpuFeatures, JitMode, JitOptions, JitProgram};
use oxbpf_vm::{
    Executable, HelperCtx, HelperError, Helpers, Interpreter, MemoryRegion, RegionKind, RunContext,
    VmError, MAX_CALL_DEPTH,
};
use std::sync::{Arc, Mutex};

fn r(n: u8) -> Reg {
    Reg::new(n).unwrap()
}
fn mov(d: u8, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst: r(d),
        src: Operand::Imm(imm),
    }
}
fn movr(d: u8, s: u8) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst: r(d),
        src: Operand::Reg(r(s)),
    }
}
fn add(d: u8, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Add,
        dst: r(d),
        src: Operand::Imm(imm),
    }
}
fn addr(d: u8, s: u8) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Add,
        dst: r(d),
        src: Operand::Reg(r(s)),
    }
}
fn ldx(d: u8, s: u8, off: i16) -> Insn {
    Insn::Load {
        size: Size::DW,
        sign_extend: false,
        dst: r(d),
        src: r(s),
        off,
    }
}
fn stx(d: u8, off: i16, s: u8) -> Insn {
    Insn::Store {
        size: Size::DW,
        dst: r(d),
        off,
        src: Operand::Reg(r(s)),
    }
}
fn st(d: u8, off: i16, imm: i32) -> Insn {
    Insn::Store {
        size: Size::DW,
        dst: r(d),
        off,
        src: Operand::Imm(imm),
    }
}
fn code_addr(d: u8, off: i32) -> Insn {
    Insn::LoadImm64 {
        dst: r(d),
        value: LoadImm64::CodeAddr(off),
    }
}
fn call(id: i32) -> Insn {
    Insn::Call(CallTarget::Helper(id))
}
fn exit() -> Insn {
    Insn::Exit
}

const LOOP: u32 = 100;
const TAIL: u32 = 200;
const ADD_REGION: u32 = 300;
const COUNT_REGIONS: u32 = 301;

/// An engine under test.
#[derive(Clone, Copy, Debug)]
enum Engine {
    Interp,
    Jit(JitOptions),
}

impl Engine {
    fn all() -> Vec<Engine> {
        let mut v = vec![Engine::Interp];
        for mode in [JitMode::Checked, JitMode::Verified] {
            for budget_checks in [true, false] {
                for constant_blinding in [false, true] {
                    v.push(Engine::Jit(JitOptions {
                        mode,
                        budget_checks,
                        constant_blinding,
                        cpu: CpuFeatures::detect(),
                    }));
                }
            }
        }
        v.push(Engine::Jit(JitOptions {
            cpu: CpuFeatures::baseline(),
            ..JitOptions::checked()
        }));
        v
    }

    /// Only engines that run programs that fault (no verified mode).
    fn checking() -> Vec<Engine> {
        Engine::all()
            .into_iter()
            .filter(|e| !matches!(e, Engine::Jit(o) if o.mode == JitMode::Verified))
            .collect()
    }

    fn counts(&self) -> bool {
        match self {
            Engine::Interp => true,
            Engine::Jit(o) => o.budget_checks,
        }
    }

    fn prepare(&self, insns: Vec<Insn>, h: &Helpers) -> Arc<dyn Executable> {
        self.prepare_program(&Program::from_insns(insns).unwrap(), h)
    }

    fn prepare_asm(&self, src: &str, h: &Helpers) -> Arc<dyn Executable> {
        self.prepare_program(&oxbpf_isa::asm::assemble(src).unwrap(), h)
    }

    fn prepare_program(&self, p: &Program, h: &Helpers) -> Arc<dyn Executable> {
        match self {
            Engine::Interp => Arc::new(Interpreter::new(p, h).unwrap()),
            // SAFETY: the tests run verified-mode engines (`Engine::all`) only on
            // programs that stay within the memory their runs grant; programs that fault
            // run on `Engine::checking` engines alone.
            Engine::Jit(o) => Arc::new(unsafe { JitProgram::compile_verified(p, h, o) }.unwrap()),
        }
    }
}

/// Helper 100: `bpf_loop`-like, calls `r2` for i in 0..r1 with (i, r3); stops on non-zero.
/// Helper 200: tail-calls the executable it was built with, `r1` as context.
fn helpers(target: Option<Arc<dyn Executable>>) -> Helpers {
    let mut h = Helpers::new();
    h.register(LOOP, "loop", |ctx: &mut HelperCtx<'_>, a| {
        for i in 0..a[0] {
            if ctx.call_function(a[1], [i, a[2], 0, 0, 0])? != 0 {
                return Ok(i + 1);
            }
        }
        Ok(a[0])
    });
    if let Some(t) = target {
        h.register(TAIL, "tail", move |ctx: &mut HelperCtx<'_>, a| {
            ctx.tail_call(t.clone(), a[0]);
            Ok(0)
        });
    }
    h
}

/// Runs without a budget; on engines that count, also with an unlimited budget, which
/// must give the same result and the count.
fn run(e: &dyn Executable, budget: Option<u64>) -> Result<(u64, Option<u64>), VmError> {
    let out = e.run(&mut RunContext::new().with_budget(budget))?;
    Ok((out.r0, out.insns_executed))
}

/// main: sum = 0 on the stack; r6 = 77; loop(5, cb, &sum); return sum * 1000 + r6.
/// cb(i, p): *p += i + 1; return 0.
fn sum_program() -> Vec<Insn> {
    vec![
        st(10, -8, 0),     // 0
        mov(6, 77),        // 1
        mov(1, 5),         // 2
        code_addr(2, 11),  // 3 (slots 3-4) -> slot 3 + 1 + 11 = 15: cb
        movr(3, 10),       // 5
        add(3, -8),        // 6
        call(LOOP as i32), // 7
        ldx(0, 10, -8),    // 8
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mul,
            dst: r(0),
            src: Operand::Imm(1000),
        }, // 9
        addr(0, 6),        // 10
        exit(),            // 11
        mov(0, 0),         // 12 (padding, never run)
        exit(),            // 13
        exit(),            // 14
        // cb at slot 15
        ldx(4, 2, 0), // 15
        addr(4, 1),   // 16
        add(4, 1),    // 17
        stx(2, 0, 4), // 18
        mov(6, 5),    // 19: clobbers the callback's own r6 only
        mov(0, 0),    // 20
        exit(),       // 21
    ]
}

#[test]
fn callbacks_run_below_the_caller_and_count_instructions() {
    let h = helpers(None);
    for e in Engine::all() {
        let vm = e.prepare(sum_program(), &h);
        let (r0, _) = run(&*vm, None).unwrap();
        assert_eq!(r0, 15 * 1000 + 77, "{e:?}");
        if !e.counts() {
            continue;
        }
        // main runs 11 instructions, each of the 5 callbacks 7.
        assert_eq!(
            run(&*vm, Some(u64::MAX)).unwrap(),
            (15077, Some(11 + 5 * 7)),
            "{e:?}"
        );
        // The exact budget is enough; one less is not.
        assert_eq!(run(&*vm, Some(46)).unwrap().0, 15077, "{e:?}");
        let err = run(&*vm, Some(45)).unwrap_err();
        assert!(
            matches!(err, VmError::BudgetExhausted { .. }),
            "{e:?}: {err}"
        );
        // A budget that runs out inside a callback stops there, at the instruction the
        // interpreter stops at: main runs 7 instructions up to the call, then the
        // callbacks theirs.
        for b in 7..42 {
            let err = run(&*vm, Some(b)).unwrap_err();
            match err {
                VmError::BudgetExhausted { pc, budget } => {
                    assert_eq!(budget, b, "{e:?}");
                    let k = (b - 7) % 7;
                    assert_eq!(pc, 15 + k as usize, "{e:?}: budget {b}");
                }
                e => panic!("{e}"),
            }
        }
    }
}

#[test]
fn a_failing_callback_fails_the_run_with_its_own_error() {
    let p = vec![
        mov(1, 1),         // 0
        code_addr(2, 4),   // 1 (slots 1-2) -> slot 6
        mov(3, 0),         // 3
        call(LOOP as i32), // 4
        exit(),            // 5
        mov(0, 0),         // 6: cb
        ldx(0, 0, 0),      // 7: NULL dereference
        exit(),            // 8
    ];
    for e in Engine::checking() {
        let vm = e.prepare(p.clone(), &helpers(None));
        for budget in [None, Some(1000)] {
            if budget.is_some() && !e.counts() {
                continue;
            }
            match run(&*vm, budget).unwrap_err() {
                VmError::MemoryFault { pc, .. } => assert_eq!(pc, 7, "{e:?}"),
                err => panic!("{e:?}: expected the callback's fault, got {err}"),
            }
        }
    }
}

#[test]
fn callbacks_to_non_code_addresses_are_refused() {
    let p = vec![
        mov(1, 1),
        mov(2, 1234),
        mov(3, 0),
        call(LOOP as i32),
        exit(),
    ];
    for e in Engine::all() {
        let vm = e.prepare(p.clone(), &helpers(None));
        match run(&*vm, None).unwrap_err() {
            VmError::Unsupported { pc, what } => {
                assert_eq!(pc, 3, "{e:?}");
                assert!(what.contains("callback"), "{e:?}");
            }
            err => panic!("{e:?}: {err}"),
        }
    }
}

#[test]
fn recursive_callbacks_hit_the_depth_limit() {
    // cb calls loop(1, cb) again: every level is one more frame.
    let p = vec![
        mov(1, 1),         // 0
        code_addr(2, 4),   // 1 (slots 1-2) -> slot 6
        mov(3, 0),         // 3
        call(LOOP as i32), // 4
        exit(),            // 5
        mov(1, 1),         // 6: cb
        code_addr(2, -2),  // 7 (slots 7-8) -> slot 6
        mov(3, 0),         // 9
        call(LOOP as i32), // 10
        exit(),            // 11
    ];
    for e in Engine::all() {
        let vm = e.prepare(p.clone(), &helpers(None));
        match run(&*vm, None).unwrap_err() {
            VmError::CallDepthExceeded { pc, max } => {
                assert_eq!(max, MAX_CALL_DEPTH);
                assert_eq!(pc, 10, "{e:?}");
            }
            err => panic!("{e:?}: {err}"),
        }
    }
}

#[test]
fn callbacks_nest_with_bpf_to_bpf_calls_and_see_caller_frames() {
    // main: *(r10-8) = 0; loop(3, cb, r10 - 8); r0 = *(r10-8)
    // cb(i, p): r6 = p; f(i) (bpf-to-bpf, a frame below the callback's); *p += r0 (r6
    // restored after the call); return 0
    // f(x): r0 = x * 10 + 1, through its own stack
    let src = "
        *(u64 *)(r10 - 8) = 0
        r1 = 3
        r2 = func(cb) ll
        r3 = r10
        r3 += -8
        call 100
        r0 = *(u64 *)(r10 - 8)
        exit
    cb:
        r6 = r2
        call f
        r1 = *(u64 *)(r6 + 0)
        r1 += r0
        *(u64 *)(r6 + 0) = r1
        r0 = 0
        exit
    f:
        r1 *= 10
        *(u64 *)(r10 - 16) = r1
        r0 = *(u64 *)(r10 - 16)
        r0 += 1
        r6 = 99
        exit
    ";
    for e in Engine::all() {
        let vm = e.prepare_asm(src, &helpers(None));
        // (0*10+1) + (1*10+1) + (2*10+1) = 33
        assert_eq!(run(&*vm, None).unwrap().0, 33, "{e:?}");
        if e.counts() {
            // main 8, each callback 7 + f 6
            assert_eq!(
                run(&*vm, Some(u64::MAX)).unwrap(),
                (33, Some(8 + 3 * 13)),
                "{e:?}"
            );
        }
    }
}

#[test]
fn regions_added_in_a_callback_last_for_the_run() {
    // A helper called from the callback grants a buffer; the callback writes it, main
    // reads it after the loop.
    let buf = Box::new([0u8; 16]);
    let addr = buf.as_ptr() as u64;
    let mut h = helpers(None);
    h.register(ADD_REGION, "grant", move |ctx: &mut HelperCtx<'_>, _| {
        // SAFETY: `buf` outlives every run of this test.
        unsafe { ctx.add_region(MemoryRegion::new(addr, 16, true, RegionKind::Embedder)) };
        Ok(addr)
    });
    h.register(COUNT_REGIONS, "count", |ctx: &mut HelperCtx<'_>, _| {
        Ok(ctx.regions().len() as u64)
    });
    let src = "
        r1 = 1
        r2 = func(cb) ll
        r3 = r10
        r3 += -8
        call 100
        r7 = *(u64 *)(r10 - 8)
        r0 = *(u8 *)(r7 + 0)
        r6 = r0
        call 301
        r0 *= 100
        r0 += r6
        exit
    cb:
        r6 = r2
        call 300
        *(u64 *)(r6 + 0) = r0
        r1 = 7
        *(u8 *)(r0 + 0) = r1
        r0 = 0
        exit
    ";
    for e in Engine::all() {
        let vm = e.prepare_asm(src, &h);
        let mut ctx = RunContext::new();
        // 7 read back; two regions when `count` runs: the buffer and the live stack.
        assert_eq!(vm.run(&mut ctx).unwrap().r0, 207, "{e:?}");
        assert!(
            ctx.regions().is_empty(),
            "{e:?}: regions restored after the run"
        );
    }
    assert_eq!(buf[0], 7);
}

/// Target of tail calls: r0 = r1 + 1.
fn plus_one(e: Engine) -> Arc<dyn Executable> {
    e.prepare(vec![movr(0, 1), add(0, 1), exit()], &Helpers::new())
}

#[test]
fn tail_call_replaces_the_program() {
    for e in Engine::all() {
        let h = helpers(Some(plus_one(e)));
        let vm = e.prepare(vec![mov(1, 41), call(TAIL as i32), mov(0, 999), exit()], &h);
        assert_eq!(run(&*vm, None).unwrap().0, 42, "{e:?}");
        if !e.counts() {
            continue;
        }
        // 2 instructions here (the call included), 3 in the target.
        assert_eq!(run(&*vm, Some(u64::MAX)).unwrap(), (42, Some(5)), "{e:?}");
        // The target gets the rest of the budget.
        assert!(run(&*vm, Some(5)).is_ok(), "{e:?}");
        assert!(
            matches!(
                run(&*vm, Some(4)).unwrap_err(),
                VmError::BudgetExhausted { pc: 2, budget: 2 }
            ),
            "{e:?}"
        );
    }
}

#[test]
fn tail_calls_mix_engines() {
    // The target runs on another engine than the caller.
    for (caller, target) in [
        (Engine::Interp, Engine::Jit(JitOptions::checked())),
        (Engine::Jit(JitOptions::checked()), Engine::Interp),
        (Engine::Jit(JitOptions::verified()), Engine::Interp),
    ] {
        let h = helpers(Some(plus_one(target)));
        let vm = caller.prepare(vec![mov(1, 41), call(TAIL as i32), mov(0, 999), exit()], &h);
        assert_eq!(run(&*vm, None).unwrap().0, 42);
    }
}

#[test]
fn tail_call_from_a_callee_returns_to_its_caller() {
    for e in Engine::all() {
        let h = helpers(Some(plus_one(e)));
        let vm = e.prepare(
            vec![
                mov(6, 3),                        // 0
                Insn::Call(CallTarget::Local(3)), // 1 -> slot 5
                add(0, 1000),                     // 2
                addr(0, 6),                       // 3
                exit(),                           // 4
                mov(6, 99),                       // 5: callee clobbers r6
                mov(1, 5),                        // 6
                call(TAIL as i32),                // 7
                mov(0, 7),                        // 8: never runs
                exit(),                           // 9
            ],
            &h,
        );
        // The target returned 6 to the callee's caller, whose r6 was restored.
        assert_eq!(run(&*vm, None).unwrap().0, 6 + 1000 + 3, "{e:?}");
        if e.counts() {
            assert_eq!(
                run(&*vm, Some(u64::MAX)).unwrap(),
                (1009, Some(2 + 3 + 3 + 3)),
                "{e:?}"
            );
        }
    }
}

#[test]
fn tail_call_inside_a_callback_ends_the_callback() {
    // cb: tail call with r1 = i + 10 -> returns i + 11 (non-zero: the loop stops at once).
    for e in Engine::all() {
        let h = helpers(Some(plus_one(e)));
        let vm = e.prepare(
            vec![
                mov(1, 3),         // 0
                code_addr(2, 4),   // 1 (slots 1-2) -> slot 6
                mov(3, 0),         // 3
                call(LOOP as i32), // 4: returns 1 (stopped after the first call)
                exit(),            // 5
                add(1, 10),        // 6: cb
                call(TAIL as i32), // 7
                exit(),            // 8
            ],
            &h,
        );
        assert_eq!(run(&*vm, None).unwrap().0, 1, "{e:?}");
        if e.counts() {
            // main 5, callback 2, target 3.
            assert_eq!(run(&*vm, Some(u64::MAX)).unwrap(), (1, Some(10)), "{e:?}");
        }
    }
}

#[test]
fn tail_call_target_failure_is_the_runs_failure() {
    for e in Engine::checking() {
        let failing = e.prepare(vec![mov(1, 0), ldx(0, 1, 0), exit()], &Helpers::new());
        let h = helpers(Some(failing));
        let vm = e.prepare(vec![call(TAIL as i32), exit()], &h);
        match run(&*vm, None).unwrap_err() {
            VmError::MemoryFault { pc, .. } => assert_eq!(pc, 1, "{e:?}"),
            err => panic!("{e:?}: {err}"),
        }
    }
}

#[test]
fn helper_errors_in_callbacks_keep_their_message() {
    let mut h = helpers(None);
    h.register(7, "fail", |_: &mut HelperCtx<'_>, _| {
        Err(HelperError::Abort("nope".into()))
    });
    let p = vec![
        mov(1, 2),         // 0
        code_addr(2, 2),   // 1 (slots 1-2) -> slot 4
        call(LOOP as i32), // 3
        call(7),           // 4: cb
        exit(),            // 5
    ];
    for e in Engine::all() {
        let vm = e.prepare(p.clone(), &h);
        assert_eq!(
            run(&*vm, None).unwrap_err(),
            VmError::HelperFailed {
                pc: 4,
                id: 7,
                message: "nope".into()
            },
            "{e:?}"
        );
    }
}

#[test]
fn may_goto_counter_is_shared_with_callbacks() {
    // Three callbacks each take one `may_goto` iteration; main's `may_goto` loop then gets
    // the rest of the per-run counter.
    let src = "
        r1 = 3
        r2 = func(cb) ll
        r3 = 0
        call 100
        r0 = 0
    top:
        may_goto done
        r0 += 1
        goto top
    done:
        exit
    cb:
        may_goto out
    out:
        r0 = 0
        exit
    ";
    for e in Engine::all() {
        let vm = e.prepare_asm(src, &helpers(None));
        assert_eq!(
            run(&*vm, None).unwrap().0,
            oxbpf_vm::interp::MAY_GOTO_LOOPS - 3,
            "{e:?}"
        );
    }
}

#[test]
fn callx_on_computed_code_addresses_calls_instruction_starts() {
    // callx on a code address moved by arithmetic to another instruction start runs from
    // there as a callee (the reference interpreter's semantics); callx on a helper id
    // calls the helper.
    let src = "
        r6 = func(f) ll
        r6 += 2
        callx r6
        r7 = r0
        r8 = 0
        callx r8
        r0 += r7
        exit
    f:
        r0 = 10
        exit
        r0 = 20
        exit
    ";
    let mut h = Helpers::new();
    h.register(0, "one", |_: &mut HelperCtx<'_>, _| Ok(1));
    for e in Engine::all() {
        let vm = e.prepare_asm(src, &h);
        assert_eq!(run(&*vm, None).unwrap().0, 21, "{e:?}");
    }
    // The second slot of a lddw is not an instruction start, nor is a slot past the end:
    // the value is then a helper id, here unregistered.
    for delta in [1u64, 100] {
        let src = format!(
            "
            r6 = func(l) ll
            r6 += {delta}
            callx r6
        l:
            r0 = 0x100000000 ll
            exit
        "
        );
        for e in Engine::all() {
            let vm = e.prepare_asm(&src, &Helpers::new());
            match run(&*vm, None).unwrap_err() {
                VmError::UnknownHelper { pc, id } => {
                    assert_eq!(pc, 3, "{e:?}");
                    assert_eq!(id, oxbpf_vm::interp::CODE_ADDR_BASE + 4 + delta, "{e:?}");
                }
                err => panic!("{e:?}: {err}"),
            }
        }
    }
}

#[test]
fn callbacks_from_callx_programs_may_start_anywhere() {
    // With callx in the program every instruction start is a function: a helper may call
    // back a computed code address too (here one instruction into `cb`).
    let src = "
        r1 = 2
        r2 = func(cb) ll
        r2 += 1
        r3 = 0
        call 100
        r6 = 0
        callx r6
        exit
    cb:
        r0 = 5
        r0 = 0
        exit
    ";
    let mut h = helpers(None);
    h.register(0, "seven", |_: &mut HelperCtx<'_>, _| Ok(7));
    for e in Engine::all() {
        let vm = e.prepare_asm(src, &h);
        assert_eq!(run(&*vm, None).unwrap().0, 7, "{e:?}");
        if e.counts() {
            // main 8 (lddw once), two callbacks of 2 (from `r0 = 0`).
            assert_eq!(run(&*vm, Some(u64::MAX)).unwrap(), (7, Some(12)), "{e:?}");
        }
    }
}

#[test]
fn helpers_keep_r1_to_r5_in_checked_mode_and_callbacks_see_args() {
    // After a helper call, checked engines keep r1-r5; the callback gets its arguments.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut h = helpers(None);
    let s2 = seen.clone();
    h.register(9, "record", move |_: &mut HelperCtx<'_>, a| {
        s2.lock().unwrap().push(a);
        Ok(0)
    });
    let p = vec![
        mov(1, 2),         // 0
        code_addr(2, 8),   // 1 (slots 1-2) -> slot 10
        mov(3, 33),        // 3
        mov(4, 44),        // 4
        mov(5, 55),        // 5
        call(LOOP as i32), // 6: r0 = 2
        addr(0, 3),        // 7: + 33
        addr(0, 5),        // 8: + 55
        exit(),            // 9
        // (slot 10) cb(i, x): record(i, x, 0, 0, 0); return 0
        call(9),   // 10
        mov(0, 0), // 11
        exit(),    // 12
    ];
    for e in Engine::checking() {
        seen.lock().unwrap().clear();
        let vm = e.prepare(p.clone(), &h);
        assert_eq!(run(&*vm, None).unwrap().0, 2 + 33 + 55, "{e:?}");
        let calls = seen.lock().unwrap().clone();
        assert_eq!(calls, vec![[0, 33, 0, 0, 0], [1, 33, 0, 0, 0]], "{e:?}");
    }
}

#[test]
fn jump_conditions_in_callbacks() {
    // A callback with a branch: cb(i, _) returns 1 when i == 2 (the loop stops at 3).
    let src = "
        r1 = 10
        r2 = func(cb) ll
        call 100
        exit
    cb:
        r0 = 0
        if r1 != 2 goto +1
        r0 = 1
        exit
    ";
    for e in Engine::all() {
        let vm = e.prepare_asm(src, &helpers(None));
        assert_eq!(run(&*vm, None).unwrap().0, 3, "{e:?}");
    }
}
