//! The body of the interpreter fuzz target (`fuzz/fuzz_targets/interp.rs`), also run by unit
//! tests over random programs.
//!
//! Input layout: byte 0 selects the input length (`b % 65`), the next bytes fill the input
//! (missing bytes are 0), the rest is the program. The run gets a writable input region, a
//! read-only region, two helpers that read and write memory through [`HelperCtx`] and an
//! instruction budget. Both regions sit between guard bytes; a run that changes a guard byte
//! or the read-only region (an access outside the regions) panics, which is what the fuzzer
//! looks for. Any [`VmError`] is a fine outcome; a panic or a memory error is not.

use crate::{
    Executable, HelperCtx, Helpers, Interpreter, RegionKind, RunContext, RunOutcome, VmError,
};
use oxbpf_isa::Program;

/// Instructions a fuzz run may execute.
pub const FUZZ_BUDGET: u64 = 20_000;

const GUARD: usize = 32;
const GUARD_BYTE: u8 = 0x5a;

/// The helpers a fuzz run registers: 1 sums `r2 & 0xff` bytes at `r1`, 2 fills `r2 & 0xff`
/// bytes at `r1` with `r3`, 3 returns its first argument.
pub fn fuzz_helpers() -> Helpers {
    let mut h = Helpers::new();
    h.register(1, "sum", |ctx: &mut HelperCtx<'_>, a| {
        let b = ctx.read(a[0], (a[1] & 0xff) as usize)?;
        Ok(b.iter().map(|&x| x as u64).sum())
    });
    h.register(2, "fill", |ctx: &mut HelperCtx<'_>, a| {
        ctx.write(a[0], (a[1] & 0xff) as usize)?.fill(a[2] as u8);
        Ok(0)
    });
    h.register(3, "identity", |_: &mut HelperCtx<'_>, a| Ok(a[0]));
    h
}

/// Decodes and runs `data` as described in the module docs. `None` when the program does
/// not decode or load.
pub fn run_bytes(data: &[u8]) -> Option<Result<RunOutcome, VmError>> {
    let (&sel, rest) = data.split_first()?;
    let mem_len = (sel % 65) as usize;
    let (mem, code) = rest.split_at(mem_len.min(rest.len()));
    let program = Program::decode(code).ok()?;
    let vm = Interpreter::new(&program, &fuzz_helpers()).ok()?;
    Some(run_guarded(&vm, mem, mem_len, Some(FUZZ_BUDGET)))
}

/// Runs `vm` over an input of `mem_len` bytes starting with `mem` (rest zero) and a
/// 16-byte read-only region, both surrounded by guard bytes, and panics if the run wrote
/// outside the writable region.
pub fn run_guarded(
    vm: &dyn Executable,
    mem: &[u8],
    mem_len: usize,
    budget: Option<u64>,
) -> Result<RunOutcome, VmError> {
    let mut buf = vec![GUARD_BYTE; GUARD + mem_len + GUARD + 16 + GUARD];
    buf[GUARD..GUARD + mem.len().min(mem_len)].copy_from_slice(&mem[..mem.len().min(mem_len)]);
    let ro_start = GUARD + mem_len + GUARD;
    for (i, b) in buf[ro_start..ro_start + 16].iter_mut().enumerate() {
        *b = i as u8;
    }
    let snapshot_ro: Vec<u8> = buf[ro_start..ro_start + 16].to_vec();
    let out = {
        let (head, tail) = buf.split_at_mut(ro_start);
        let input = &mut head[GUARD..GUARD + mem_len];
        let ro = &tail[..16];
        let mut ctx = RunContext::with_memory(input);
        ctx.args[2] = ro.as_ptr() as u64;
        ctx.allow(ro, RegionKind::ReadOnly);
        let ctx = &mut ctx.with_budget(budget);
        let out = vm.run(ctx);
        assert_eq!(
            ctx.regions().len(),
            usize::from(mem_len > 0) + 1,
            "regions not restored"
        );
        out
    };
    let guards_ok = buf[..GUARD].iter().all(|&b| b == GUARD_BYTE)
        && buf[GUARD + mem_len..ro_start]
            .iter()
            .all(|&b| b == GUARD_BYTE)
        && buf[ro_start + 16..].iter().all(|&b| b == GUARD_BYTE);
    assert!(guards_ok, "a run wrote outside its memory regions");
    assert_eq!(
        buf[ro_start..ro_start + 16],
        snapshot_ro[..],
        "a run wrote read-only memory"
    );
    out
}
