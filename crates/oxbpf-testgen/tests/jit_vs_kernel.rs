//! Generated programs on the JIT (checked and verified), the reference interpreter and in
//! the Linux kernel, which is the authority: same 32-bit return value, same 64-bit result
//! and same buffer afterwards.

use oxbpf_testgen::run::{self, KernelOutcome};
use oxbpf_testgen::{Config, TestCase};
use oxbpf_vm::jit::{JitOptions, JitProgram};

fn jit_outcome(case: &TestCase, opts: &JitOptions) -> run::Outcome {
    // SAFETY: generated cases are valid by construction (oxbpf-testgen's crate docs):
    // their accesses stay inside their stack frame or the buffer `run::run` grants.
    let jit = unsafe { JitProgram::compile_verified(&case.program(), &run::test_helpers(), opts) }
        .unwrap_or_else(|e| panic!("seed {}: compile: {e}", case.seed));
    run::run(&jit, case)
}

#[test]
fn jit_agrees_with_the_kernel_on_generated_programs() {
    let n: u64 = std::env::var("OXBPF_KERNEL_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let first: u64 = std::env::var("OXBPF_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let cfg = Config::kernel();
    let (mut ran, mut rejected) = (0, 0);
    let mut reasons = Vec::new();
    for seed in first..first + n {
        let case = TestCase::generate(seed, &cfg);
        let k = match run::run_kernel(&case) {
            Ok(k) => k,
            Err(e) => {
                println!("SKIP: {e}");
                return;
            }
        };
        let checked = jit_outcome(&case, &JitOptions::checked());
        let verified = jit_outcome(&case, &JitOptions::verified());
        assert_eq!(checked, verified, "seed {seed}: checked vs verified JIT");
        let interp = oxbpf_vm::Interpreter::new(&case.program(), &run::test_helpers())
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(
            run::run(&interp, &case),
            checked,
            "seed {seed}: interpreter vs JIT"
        );
        match k {
            KernelOutcome::Rejected(why) => {
                rejected += 1;
                if reasons.len() < 5 {
                    reasons.push(format!("seed {seed}: {why}"));
                }
            }
            KernelOutcome::Ran { retval, memory } => {
                ran += 1;
                let r0 = checked
                    .result
                    .clone()
                    .unwrap_or_else(|e| panic!("seed {seed}: JIT failed ({e}), kernel ran"));
                if r0 as u32 != retval || memory != checked.memory {
                    let min = case.minimize(|c| {
                        matches!(run::run_kernel(c), Ok(KernelOutcome::Ran { retval, memory })
                        if {
                            let j = jit_outcome(c, &JitOptions::checked());
                            j.result.map(|r| r as u32) != Ok(retval) || j.memory != memory
                        })
                    });
                    panic!(
                        "seed {seed}: JIT r0 {r0:#x} vs kernel {retval:#x}; memory equal: {}\nminimal case: {:#?}\n{:?}",
                        memory == checked.memory,
                        min.funcs,
                        min.program().insns()
                    );
                }
            }
        }
    }
    println!(
        "kernel agreement: {ran} programs ran and agreed, {rejected} rejected by the verifier"
    );
    for r in &reasons {
        println!("  rejected: {r}");
    }
    // The generator's kernel profile is meant to be accepted: most cases must run.
    assert!(
        ran * 10 >= n * 8,
        "only {ran} of {n} generated programs were accepted"
    );
}
