//! Running generated cases on oxbpf's engines and comparing what they did.

use crate::{TestCase, RESULT_BYTES};
use oxbpf_isa::{AluOp, Insn, Operand, Program, Reg, Width};
use oxbpf_vm::{Executable, HelperError, Helpers, Interpreter, RunContext, VmError};
use std::sync::Arc;

/// Id of the callback helper (see [`test_helpers`]).
pub const LOOP_HELPER: u32 = 4;
/// Id of the tail-call helper (see [`test_helpers`]).
pub const TAIL_HELPER: u32 = 5;

/// The program tail calls go to: `r0 = (r1 * 0x9e3779b1) ^ 0x5bd1e995`, run by the
/// reference interpreter (it counts 4 instructions toward the caller's run).
pub fn tail_target() -> Arc<dyn Executable> {
    let alu = |op, src| Insn::Alu {
        width: Width::W64,
        op,
        dst: Reg::R0,
        src,
    };
    let p = Program::from_insns(vec![
        alu(AluOp::Mov, Operand::Reg(Reg::R1)),
        alu(AluOp::Mul, Operand::Imm(0x1e37_79b1)),
        alu(AluOp::Xor, Operand::Imm(0x5bd1_e995)),
        Insn::Exit,
    ])
    .unwrap_or_else(|e| panic!("tail-call target: {e}"));
    Arc::new(
        Interpreter::new(&p, &Helpers::new()).unwrap_or_else(|e| panic!("tail-call target: {e}")),
    )
}

/// The helpers generated programs call, deterministic and side-effect free beyond the
/// memory they are given:
/// - 1 `mix(a, b, c, d, e)`: a 64-bit mix of the five arguments;
/// - 2 `load(ptr)`: the 8 bytes at `ptr` (checked), xor `r2`;
/// - 3 `store(ptr, v)`: writes `v ^ r3` at `ptr` (checked), returns `v`;
/// - 4 `loop(n, f, arg)` ([`LOOP_HELPER`]): calls the program's function at code address
///   `f` with `(i, arg)` for `i` in `0..n & 7` and returns the results mixed;
/// - 5 `tail(ctx)` ([`TAIL_HELPER`]): when `ctx % 4 == 0`, a tail call of [`tail_target`]
///   with `r1 = ctx`; otherwise returns `ctx * 7`.
pub fn test_helpers() -> Helpers {
    let mut h = Helpers::new();
    let target = tail_target();
    h.register(LOOP_HELPER, "loop", |ctx, a| {
        let mut acc = 0x2545_f491_4f6c_dd1du64;
        for i in 0..a[0] & 7 {
            let r = ctx.call_function(a[1], [i, a[2], 0, 0, 0])?;
            acc = acc.rotate_left(5) ^ r;
        }
        Ok(acc)
    });
    h.register(TAIL_HELPER, "tail", move |ctx, a| {
        if a[0] % 4 == 0 {
            ctx.tail_call(target.clone(), a[0]);
            return Ok(0);
        }
        Ok(a[0].wrapping_mul(7))
    });
    h.register(1, "mix", |_, a| {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for v in a {
            x = (x ^ v).wrapping_mul(0xbf58_476d_1ce4_e5b9).rotate_left(17);
        }
        Ok(x)
    });
    h.register(2, "load", |ctx, a| {
        let b = ctx.read(a[0], 8)?;
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        Ok(u64::from_le_bytes(w) ^ a[1])
    });
    h.register(3, "store", |ctx, a| {
        if a[0] & 7 != 0 {
            return Err(HelperError::Abort("store: misaligned pointer".into()));
        }
        ctx.write(a[0], 8)?
            .copy_from_slice(&(a[1] ^ a[2]).to_le_bytes());
        Ok(a[1])
    });
    h
}

/// What a run did: its result (the 64-bit `r0`, or the error) and the buffer afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub result: Result<u64, VmError>,
    pub memory: Vec<u8>,
}

/// Runs `case` on `exe` (compiled from [`TestCase::program`]) with a copy of its input.
/// Generated programs always terminate, so no budget is set.
pub fn run(exe: &dyn Executable, case: &TestCase) -> Outcome {
    run_with_budget(exe, case, None)
}

/// [`run`] with an instruction budget.
pub fn run_with_budget(exe: &dyn Executable, case: &TestCase, budget: Option<u64>) -> Outcome {
    let mut mem = case.input.clone();
    let result = {
        let mut ctx = RunContext::with_memory(&mut mem);
        ctx.budget = budget;
        exe.run(&mut ctx).map(|o| o.r0)
    };
    Outcome {
        result,
        memory: mem,
    }
}

/// The 64-bit result the program stored in its buffer (valid after a successful run).
pub fn stored_result(memory: &[u8]) -> Option<u64> {
    let b: [u8; RESULT_BYTES] = memory.get(..RESULT_BYTES)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

/// What the Linux kernel did with a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelOutcome {
    /// The verifier refused the program (the message is its last log lines).
    Rejected(String),
    /// It ran: the 32-bit return value and the packet afterwards.
    Ran { retval: u32, memory: Vec<u8> },
}

/// Why the kernel could not be asked at all.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KernelUnavailable(pub String);

/// Loads [`TestCase::kernel_program`] as an XDP program and test-runs it on the case's
/// input. `Err` when `bpf()` cannot be used here (not root, not permitted).
pub fn run_kernel(case: &TestCase) -> Result<KernelOutcome, KernelUnavailable> {
    use oxbpf_kernel::{load_raw, test_run, KernelError, LoadOptions, ProgType, TestRunInput};
    if let Some(why) = oxbpf_kernel::probe::bpf_unavailable() {
        return Err(KernelUnavailable(why.to_string()));
    }
    let prog = case.kernel_program();
    let loaded = match load_raw(
        &prog,
        &LoadOptions::new(ProgType::Xdp).name("oxbpf_testgen"),
    ) {
        Ok(l) => l,
        Err(KernelError::Verifier { log, .. }) => {
            let tail: Vec<&str> = log.lines().rev().take(3).collect();
            return Ok(KernelOutcome::Rejected(
                tail.into_iter().rev().collect::<Vec<_>>().join(" | "),
            ));
        }
        Err(e) => return Err(KernelUnavailable(e.to_string())),
    };
    let input = TestRunInput {
        data_out_size: Some(case.input.len()),
        ..TestRunInput::packet(&case.input)
    };
    match test_run(&loaded, &input) {
        Ok(out) => Ok(KernelOutcome::Ran {
            retval: out.retval,
            memory: out.data_out,
        }),
        Err(e) => Err(KernelUnavailable(format!("BPF_PROG_TEST_RUN: {e}"))),
    }
}
