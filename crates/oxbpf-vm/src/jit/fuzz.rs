//! The body of the JIT fuzz target (`fuzz/fuzz_targets/jit.rs`), also run by tests over
//! mutated programs: arbitrary bytecode through the interpreter and the JIT in checked
//! mode, over the same guarded buffers and with the interpreter fuzz target's helpers. The
//! JIT must never crash or touch memory outside the regions, and must agree with the
//! interpreter: the same error at the same pc, or success after the same number of
//! instructions with the same `r0` and memory. The engines' stacks are at different
//! addresses, so errors are compared without addresses, and programs that use `r10` as a
//! value (not just as a memory base) are only checked for safety. When the budget runs out
//! only the errors are compared (the JIT stops before the basic block that would exceed
//! it, the interpreter inside it).

use super::{JitOptions, JitProgram};
use crate::interp::fuzz::{fuzz_helpers, FUZZ_BUDGET};
use crate::{Executable, Interpreter, RegionKind, RunContext, RunOutcome, VmError};
use oxbpf_isa::Program;

const GUARD: usize = 32;
const GUARD_BYTE: u8 = 0x5a;

/// Runs `data` (layout of [`crate::interp::fuzz::run_bytes`]) on both engines and panics on
/// any disagreement. Returns false when the bytes are not a loadable program.
pub fn differential(data: &[u8]) -> bool {
    let Some((&sel, rest)) = data.split_first() else {
        return false;
    };
    let mem_len = (sel % 65) as usize;
    let (mem, code) = rest.split_at(mem_len.min(rest.len()));
    let Ok(program) = Program::decode(code) else {
        return false;
    };
    let helpers = fuzz_helpers();
    let interp = Interpreter::new(&program, &helpers);
    let jit = JitProgram::compile(&program, &helpers, &JitOptions::checked());
    let (interp, jit) = match (interp, jit) {
        (Ok(i), Ok(j)) => (i, j),
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "load errors differ");
            return false;
        }
        (a, b) => panic!("load differs: interpreter {:?}, JIT {:?}", a.err(), b.err()),
    };
    // Both engines run over the same buffers (same addresses in r1 and r3); only r10
    // differs (each engine has its own stack).
    let mut buf = vec![GUARD_BYTE; GUARD + mem_len + GUARD + 16 + GUARD];
    let a = run_in(&interp, &mut buf, mem, mem_len);
    let b = run_in(&jit, &mut buf, mem, mem_len);
    if uses_frame_pointer_as_value(&program) {
        // Control flow may depend on the stack's address: only safety is checked (done by
        // run_in).
        return true;
    }
    match (&a, &b) {
        (Ok(x), Ok(y)) => {
            assert_eq!(
                x.0.insns_executed, y.0.insns_executed,
                "instruction counts differ"
            );
            assert_eq!(x.0.r0, y.0.r0, "r0 differs");
            assert_eq!(x.1, y.1, "memory differs");
        }
        (Err(x), Err(y)) => assert_eq!(strip(x), strip(y), "errors differ"),
        _ => panic!("outcomes differ: interpreter {a:?}, JIT {b:?}"),
    }
    true
}

/// One guarded run: the input (`mem_len` bytes from `mem`, rest zero) and a 16-byte
/// read-only region, between guard bytes that must survive. Returns the outcome and the
/// input afterwards.
fn run_in(
    vm: &dyn Executable,
    buf: &mut [u8],
    mem: &[u8],
    mem_len: usize,
) -> Result<(RunOutcome, Vec<u8>), VmError> {
    buf.fill(GUARD_BYTE);
    let n = mem.len().min(mem_len);
    buf[GUARD..GUARD + n].copy_from_slice(&mem[..n]);
    buf[GUARD + n..GUARD + mem_len].fill(0);
    let ro_start = GUARD + mem_len + GUARD;
    for (i, b) in buf[ro_start..ro_start + 16].iter_mut().enumerate() {
        *b = i as u8;
    }
    let out = {
        let (head, tail) = buf.split_at_mut(ro_start);
        let input = &mut head[GUARD..GUARD + mem_len];
        let ro = &tail[..16];
        let mut ctx = RunContext::with_memory(input);
        ctx.args[2] = ro.as_ptr() as u64;
        ctx.allow(ro, RegionKind::ReadOnly);
        let ctx = &mut ctx.with_budget(Some(FUZZ_BUDGET));
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
    assert!(
        buf[ro_start..ro_start + 16]
            .iter()
            .enumerate()
            .all(|(i, &b)| b == i as u8),
        "a run wrote read-only memory"
    );
    out.map(|o| (o, buf[GUARD..GUARD + mem_len].to_vec()))
}

/// The error without values that may depend on host addresses (fault addresses, helper
/// messages, which may quote them, and helper ids, which `callx` takes from a register).
fn strip(e: &VmError) -> VmError {
    let mut e = e.clone();
    match &mut e {
        VmError::MemoryFault { fault, .. } => fault.addr = 0,
        VmError::MisalignedAtomic { addr, .. } => *addr = 0,
        VmError::HelperFailed { message, id, .. } => {
            message.clear();
            *id = 0;
        }
        VmError::UnknownHelper { id, .. } => *id = 0,
        _ => {}
    }
    e
}

/// True when `r10` is used as a value (not only as the base of a memory access): then
/// results may depend on where each engine's stack is.
fn uses_frame_pointer_as_value(p: &Program) -> bool {
    use oxbpf_isa::{Insn, Operand, Reg};
    let fp = |r: &Reg| *r == Reg::R10;
    let op = |o: &Operand| matches!(o, Operand::Reg(r) if fp(r));
    p.insns().iter().any(|i| match i {
        Insn::Alu { src, .. } => op(src),
        Insn::AddrSpaceCast { src, .. } => fp(src),
        Insn::Store { src, .. } => op(src),
        Insn::Atomic { src, .. } => fp(src),
        Insn::Jump { dst, src, .. } => fp(dst) || op(src),
        Insn::CallX { reg } => fp(reg),
        Insn::LoadPacket {
            mode: oxbpf_isa::PacketMode::Ind(r),
            ..
        } => fp(r),
        _ => false,
    })
}
