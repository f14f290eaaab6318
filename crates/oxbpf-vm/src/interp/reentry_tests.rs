//! Callbacks and tail calls: helpers re-entering the interpreter through `HelperCtx`.

use super::*;
use crate::helper::HelperCtx;
use oxbpf_isa::{AluOp, CallTarget, Insn, LoadImm64, Operand, Reg, Size, Width};
use std::sync::Arc;

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

fn interp(insns: Vec<Insn>, h: &Helpers) -> Interpreter {
    Interpreter::new(&Program::from_insns(insns).unwrap(), h).unwrap()
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
    let vm = interp(sum_program(), &h);
    let out = vm.run(&mut RunContext::new()).unwrap();
    assert_eq!(out.r0, 15 * 1000 + 77);
    // main runs 11 instructions, each of the 5 callbacks 7.
    assert_eq!(out.insns_executed, Some(11 + 5 * 7));
    // The exact budget is enough; one less is not.
    let ok = vm
        .run(&mut RunContext::new().with_budget(Some(46)))
        .unwrap();
    assert_eq!(ok.r0, 15077);
    let err = vm
        .run(&mut RunContext::new().with_budget(Some(45)))
        .unwrap_err();
    assert!(matches!(err, VmError::BudgetExhausted { .. }), "{err}");
    // A budget that runs out inside a callback stops there.
    let err = vm
        .run(&mut RunContext::new().with_budget(Some(20)))
        .unwrap_err();
    match err {
        VmError::BudgetExhausted { pc, .. } => assert!(pc >= 15, "stopped at {pc}"),
        e => panic!("{e}"),
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
    let vm = interp(p, &helpers(None));
    match vm.run(&mut RunContext::new()).unwrap_err() {
        VmError::MemoryFault { pc, .. } => assert_eq!(pc, 7),
        e => panic!("expected the callback's fault, got {e}"),
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
    let vm = interp(p, &helpers(None));
    match vm.run(&mut RunContext::new()).unwrap_err() {
        VmError::Unsupported { pc, what } => {
            assert_eq!(pc, 3);
            assert!(what.contains("callback"));
        }
        e => panic!("{e}"),
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
    let vm = interp(p, &helpers(None));
    match vm.run(&mut RunContext::new()).unwrap_err() {
        VmError::CallDepthExceeded { pc, max } => {
            assert_eq!(max, MAX_CALL_DEPTH);
            assert_eq!(pc, 10);
        }
        e => panic!("{e}"),
    }
}

/// Target of tail calls: r0 = r1 + 1.
fn plus_one() -> Arc<dyn Executable> {
    Arc::new(interp(vec![movr(0, 1), add(0, 1), exit()], &Helpers::new()))
}

#[test]
fn tail_call_replaces_the_program() {
    let h = helpers(Some(plus_one()));
    let vm = interp(vec![mov(1, 41), call(TAIL as i32), mov(0, 999), exit()], &h);
    let out = vm.run(&mut RunContext::new()).unwrap();
    assert_eq!(out.r0, 42);
    // 2 instructions here (the call included), 3 in the target.
    assert_eq!(out.insns_executed, Some(5));
    // The target gets the rest of the budget.
    assert!(vm.run(&mut RunContext::new().with_budget(Some(5))).is_ok());
    assert!(matches!(
        vm.run(&mut RunContext::new().with_budget(Some(4)))
            .unwrap_err(),
        VmError::BudgetExhausted { .. }
    ));
}

#[test]
fn tail_call_from_a_callee_returns_to_its_caller() {
    let h = helpers(Some(plus_one()));
    let vm = interp(
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
    let out = vm.run(&mut RunContext::new()).unwrap();
    // The target returned 6 to the callee's caller, whose r6 was restored.
    assert_eq!(out.r0, 6 + 1000 + 3);
    assert_eq!(out.insns_executed, Some(2 + 3 + 3 + 3));
}

#[test]
fn tail_call_inside_a_callback_ends_the_callback() {
    // cb: tail call with r1 = i + 10 -> returns i + 11 (non-zero: the loop stops at once).
    let h = helpers(Some(plus_one()));
    let vm = interp(
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
    let out = vm.run(&mut RunContext::new()).unwrap();
    assert_eq!(out.r0, 1);
}

#[test]
fn tail_call_target_failure_is_the_runs_failure() {
    let failing: Arc<dyn Executable> = Arc::new(interp(
        vec![mov(1, 0), ldx(0, 1, 0), exit()],
        &Helpers::new(),
    ));
    let h = helpers(Some(failing));
    let vm = interp(vec![call(TAIL as i32), exit()], &h);
    match vm.run(&mut RunContext::new()).unwrap_err() {
        VmError::MemoryFault { pc, .. } => assert_eq!(pc, 1),
        e => panic!("{e}"),
    }
}
