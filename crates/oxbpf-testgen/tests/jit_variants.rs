//! Every generated program (VM profile: helpers, callx, computed addresses, ...) gives the
//! same result and memory under every JIT option set.

use oxbpf_testgen::run;
use oxbpf_testgen::{Config, TestCase};
use oxbpf_vm::jit::{CpuFeatures, JitMode, JitOptions, JitProgram};

#[test]
fn jit_option_sets_agree_on_generated_programs() {
    let n: u64 = std::env::var("OXBPF_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let first: u64 = std::env::var("OXBPF_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let variants = [
        JitOptions::checked(),
        JitOptions::verified(),
        JitOptions {
            constant_blinding: true,
            cpu: CpuFeatures::baseline(),
            ..JitOptions::checked()
        },
        JitOptions {
            mode: JitMode::Verified,
            constant_blinding: true,
            budget_checks: true,
            cpu: CpuFeatures::baseline(),
        },
    ];
    let helpers = run::test_helpers();
    let cfg = Config::vm();
    let mut ok = 0;
    for seed in first..first + n {
        let case = TestCase::generate(seed, &cfg);
        let prog = case.program();
        let outs: Vec<_> = variants
            .iter()
            .map(|o| {
                // SAFETY: generated cases are valid by construction (oxbpf-testgen's
                // crate docs): their accesses stay inside their stack frame or the buffer
                // `run::run` grants.
                let j = unsafe { JitProgram::compile_verified(&prog, &helpers, o) }
                    .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
                run::run(&j, &case)
            })
            .collect();
        for (o, v) in outs.iter().zip(&variants).skip(1) {
            assert_eq!(&outs[0], o, "seed {seed}: {v:?} differs from checked");
        }
        // The counting bodies (runs with a budget) agree too.
        for v in variants.iter().filter(|v| v.budget_checks) {
            // SAFETY: as above.
            let j = unsafe { JitProgram::compile_verified(&prog, &helpers, v) }
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let o = run::run_with_budget(&j, &case, Some(u64::MAX));
            assert_eq!(outs[0], o, "seed {seed}: {v:?} with a budget differs");
        }
        if outs[0].result.is_ok() {
            ok += 1;
        }
    }
    println!(
        "{n} generated programs agree under {} option sets ({ok} ran to exit)",
        variants.len()
    );
    assert!(ok * 10 >= n * 9, "only {ok} of {n} ran to completion");
}
