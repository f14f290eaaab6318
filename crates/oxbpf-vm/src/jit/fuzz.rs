//! The body of the JIT fuzz target (`fuzz/fuzz_targets/jit.rs`), also run by tests over
//! mutated programs: arbitrary bytecode through the interpreter and the JIT in checked
//! mode, with the interpreter fuzz target's guarded memory and helpers. The JIT must never
//! crash or touch memory outside the regions, and must agree with the interpreter: the same
//! error at the same pc, or success after the same number of instructions with the same
//! `r0`. Host addresses differ between the engines (each has its own stack, each run its
//! own buffers), so errors are compared without them, and `r0` only for programs that never
//! read a register holding an address (r1, r3, r10) or an uninitialised one.

use super::{JitOptions, JitProgram};
use crate::interp::fuzz::{fuzz_helpers, run_guarded, FUZZ_BUDGET};
use crate::{Interpreter, VmError};
use oxbpf_isa::Program;

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
    let a = run_guarded(&interp, mem, mem_len, Some(FUZZ_BUDGET));
    let b = run_guarded(&jit, mem, mem_len, Some(FUZZ_BUDGET));
    match (&a, &b) {
        (Ok(x), Ok(y)) => {
            assert_eq!(
                x.insns_executed, y.insns_executed,
                "instruction counts differ"
            );
            if !reads_addresses(&program) {
                assert_eq!(x.r0, y.r0, "r0 differs");
            }
        }
        (Err(x), Err(y)) => assert_eq!(strip(x), strip(y), "errors differ"),
        _ => panic!("outcomes differ: interpreter {a:?}, JIT {b:?}"),
    }
    true
}

/// The error without values that depend on host addresses (fault addresses, helper
/// messages, which may quote them).
fn strip(e: &VmError) -> VmError {
    let mut e = e.clone();
    match &mut e {
        VmError::MemoryFault { fault, .. } => fault.addr = 0,
        VmError::MisalignedAtomic { addr, .. } => *addr = 0,
        VmError::HelperFailed { message, .. } => message.clear(),
        _ => {}
    }
    e
}

/// True when some instruction reads r1, r3 or r10 (addresses in the fuzz runs) or a
/// register other than r0-r5 and r10 before... conservatively: any read of r1, r3, r10.
fn reads_addresses(p: &Program) -> bool {
    use oxbpf_isa::{Insn, Operand, Reg};
    let addr = |r: Reg| matches!(r.num(), 1 | 3 | 10);
    let op = |o: &Operand| matches!(o, Operand::Reg(r) if addr(*r));
    p.insns().iter().any(|i| match i {
        Insn::Alu { dst, src, .. } => addr(*dst) || op(src),
        Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => addr(*dst),
        Insn::AddrSpaceCast { src, .. } | Insn::Load { src, .. } => addr(*src),
        Insn::Store { dst, src, .. } => addr(*dst) || op(src),
        Insn::Atomic { dst, src, .. } => addr(*dst) || addr(*src),
        Insn::Jump { dst, src, .. } => addr(*dst) || op(src),
        Insn::CallX { reg } => addr(*reg),
        Insn::Call(_) => true,
        Insn::LoadPacket { .. } => true,
        _ => false,
    })
}
