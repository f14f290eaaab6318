//! Bytes -> `Program` -> the verifier. The verifier must never panic, and a program it
//! accepts (as a plain-memory hook: `r1` = a 64-byte buffer, `r2` = its length) must run
//! in the checked interpreter without a memory fault, a misaligned atomic, too many frames
//! or running off its end. The first byte picks a few configuration switches.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oxbpf_isa::Program;
use oxbpf_verifier::{
    verify, ContextDescriptor, ContextField, HookSpec, MapSpec, MapType, Narrow, ProgramType,
    VerifierConfig,
};
use oxbpf_vm::interp::Interpreter;
use oxbpf_vm::{Executable, Helpers, RunContext, VmError};
use std::sync::Arc;

const BUF: u32 = 64;

fn hook() -> ProgramType {
    let ctx = ContextDescriptor::new(
        "buffer",
        BUF,
        vec![ContextField::scalar("data", 0, BUF)
            .writable()
            .with_narrow(Narrow::LoadsAndStores)],
    )
    .expect("valid descriptor");
    let mut h = HookSpec::new("fuzz", ctx);
    h.plain_memory = true;
    h.allow_ptr_leaks = true;
    ProgramType::Hook(Arc::new(h))
}

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, code)) = data.split_first() else {
        return;
    };
    let Ok(prog) = Program::decode(code) else {
        return;
    };
    // Kernel program types: only the absence of panics is checked.
    let kernel_type = match knobs % 4 {
        0 => ProgramType::Xdp,
        1 => ProgramType::Kprobe,
        2 => ProgramType::SchedCls,
        _ => ProgramType::SocketFilter,
    };
    let mut conf = VerifierConfig::new(kernel_type).with_maps(vec![
        MapSpec::new("h", MapType::Hash, 4, 8, 4),
        MapSpec::new("rb", MapType::Ringbuf, 0, 0, 4096),
    ]);
    conf.max_insns = 20_000;
    conf.allow_uninit_stack = knobs & 0x10 != 0;
    let _ = verify(&prog, &conf);
    // Plain memory: accepted means safe to run.
    let mut conf = VerifierConfig::new(hook());
    conf.max_insns = 20_000;
    conf.allow_uninit_stack = knobs & 0x20 != 0;
    if verify(&prog, &conf).is_err() {
        return;
    }
    let Ok(exe) = Interpreter::new(&prog, &Helpers::new()) else {
        return;
    };
    let mut mem = [knobs; BUF as usize];
    let mut ctx = RunContext::with_memory(&mut mem).with_budget(Some(100_000));
    if let Err(e) = exe.run(&mut ctx) {
        assert!(
            !matches!(
                e,
                VmError::MemoryFault { .. }
                    | VmError::MisalignedAtomic { .. }
                    | VmError::CallDepthExceeded { .. }
                    | VmError::FellOffEnd { .. }
            ),
            "verified program failed: {e}"
        );
    }
});
