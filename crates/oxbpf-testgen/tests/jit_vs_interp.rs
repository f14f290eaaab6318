//! The reference interpreter and the JIT on generated programs (VM profile: every
//! instruction kind, helpers, callx, computed addresses, callbacks, tail calls): same result
//! or error, same memory afterwards, same instruction count (the JIT's counting body, run
//! with an unlimited budget), and the same error and pc when a budget cuts the run short
//! anywhere.

use oxbpf_isa::{CallTarget, Insn};
use oxbpf_testgen::run;
use oxbpf_testgen::{Config, TestCase};
use oxbpf_vm::jit::{JitOptions, JitProgram};
use oxbpf_vm::{Executable, Interpreter, RunContext};

fn count(
    exe: &dyn Executable,
    case: &TestCase,
    budget: Option<u64>,
) -> (run::Outcome, Option<u64>) {
    let mut mem = case.input.clone();
    let r = {
        let mut ctx = RunContext::with_memory(&mut mem);
        ctx.budget = budget;
        exe.run(&mut ctx)
    };
    let n = r.as_ref().ok().and_then(|o| o.insns_executed);
    (
        run::Outcome {
            result: r.map(|o| o.r0),
            memory: mem,
        },
        n,
    )
}

#[test]
fn interpreter_and_jit_agree_on_generated_programs() {
    let n: u64 = std::env::var("OXBPF_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let first: u64 = std::env::var("OXBPF_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let helpers = run::test_helpers();
    let cfg = Config::vm();
    let (mut ok, mut budget_cuts) = (0, 0);
    let (mut callbacks, mut tails, mut callx) = (0u64, 0u64, 0u64);
    for seed in first..first + n {
        let case = TestCase::generate(seed, &cfg);
        let prog = case.program();
        let has = |id: u32| {
            prog.insns()
                .contains(&Insn::Call(CallTarget::Helper(id as i32)))
        };
        callbacks += has(run::LOOP_HELPER) as u64;
        tails += has(run::TAIL_HELPER) as u64;
        callx += prog.insns().iter().any(|i| matches!(i, Insn::CallX { .. })) as u64;
        let interp = Interpreter::new(&prog, &helpers).unwrap();
        let checked = JitProgram::compile(&prog, &helpers, &JitOptions::checked()).unwrap();
        // SAFETY: generated cases are valid by construction (oxbpf-testgen's crate docs),
        // and the verified code runs below only on cases the interpreter ran to their exit.
        let verified =
            unsafe { JitProgram::compile_verified(&prog, &helpers, &JitOptions::verified()) }
                .unwrap();
        let (ri, ni) = count(&interp, &case, None);
        let (rc, _) = count(&checked, &case, None);
        assert_eq!(ri, rc, "seed {seed}: interpreter vs JIT (checked)");
        let (rc, nc) = count(&checked, &case, Some(u64::MAX));
        assert_eq!(
            ri, rc,
            "seed {seed}: interpreter vs JIT (checked, counting)"
        );
        assert_eq!(ni, nc, "seed {seed}: instruction counts");
        if ri.result.is_ok() {
            ok += 1;
            // Verified code has no checks: only run it on programs that stay in bounds.
            let (rv, _) = count(&verified, &case, None);
            assert_eq!(ri, rv, "seed {seed}: interpreter vs JIT (verified)");
        }
        // Cut the run short at a seed-chosen point: same error, same pc, same memory.
        if let Some(total) = ni {
            if total > 1 {
                let b = seed.wrapping_mul(0x9e37_79b9) % total;
                let (bi, _) = count(&interp, &case, Some(b));
                let (bc, _) = count(&checked, &case, Some(b));
                assert_eq!(bi.result, bc.result, "seed {seed}: budget {b}");
                budget_cuts += 1;
            }
        }
    }
    println!(
        "{n} generated programs: interpreter and JIT agree ({ok} ran to exit, {budget_cuts} budget cuts compared; \
         {callbacks} with callbacks, {tails} with tail calls, {callx} with callx)"
    );
    assert!(ok * 10 >= n * 9, "only {ok} of {n} ran to completion");
    if n >= 500 {
        assert!(
            callbacks * 20 >= n,
            "only {callbacks} of {n} programs use callbacks"
        );
        assert!(
            tails * 20 >= n,
            "only {tails} of {n} programs use tail calls"
        );
    }
}
