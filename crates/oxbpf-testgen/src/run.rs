//! Running generated cases on oxbpf's engines and comparing what they did.

use crate::{TestCase, RESULT_BYTES};
use oxbpf_vm::{Executable, HelperError, Helpers, RunContext, VmError};

/// The helpers generated programs call (ids 1-3), deterministic and side-effect free
/// beyond the memory they are given:
/// - 1 `mix(a, b, c, d, e)`: a 64-bit mix of the five arguments;
/// - 2 `load(ptr)`: the 8 bytes at `ptr` (checked), xor `r2`;
/// - 3 `store(ptr, v)`: writes `v ^ r3` at `ptr` (checked), returns `v`.
pub fn test_helpers() -> Helpers {
    let mut h = Helpers::new();
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
