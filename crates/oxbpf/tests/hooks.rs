//! Programs on embedder hooks: the registers-only fast path of verified JIT code, and
//! `Bpf` programs (with maps) on hooks.

mod common;

use oxbpf::Bpf;
use oxbpf_runtime::hook::{Hook, HookOptions, Policy};
use oxbpf_runtime::hook_context;
use oxbpf_vm::{Executable, Helpers, Interpreter};
use std::sync::Arc;

#[repr(C)]
#[derive(Default)]
struct Req {
    a: u64,
    b: u64,
    verdict: u32,
    calls: u32,
}

hook_context!(Req {
    a: read,
    b: read,
    verdict: write,
    calls: write,
});

/// verdict = a > b; calls += 1; returns a.
const FILTER: &str = "r2 = *(u64 *)(r1 + 0)\n\
                      r3 = *(u64 *)(r1 + 8)\n\
                      r0 = 0\n\
                      if r2 <= r3 goto +1\n\
                      r0 = 1\n\
                      *(u32 *)(r1 + 16) = r0\n\
                      r4 = *(u32 *)(r1 + 20)\n\
                      r4 += 1\n\
                      *(u32 *)(r1 + 20) = r4\n\
                      r0 = r2\n\
                      exit";

#[cfg(target_arch = "x86_64")]
#[test]
fn verified_jit_code_runs_from_registers_in_hooks() {
    use oxbpf_vm::jit::{JitOptions, JitProgram};
    let p = oxbpf_isa::assemble(FILTER).unwrap();
    let h = Helpers::new();
    // SAFETY: FILTER reads `a` and `b` and writes `verdict` and `calls`, fields `Req`
    // declares readable and writable; it runs below only with `r1` = a `Req` (directly
    // and on `Hook<Req>`s).
    let verified: Arc<dyn Executable> =
        Arc::new(unsafe { JitProgram::compile_verified(&p, &h, &JitOptions::verified()) }.unwrap());
    let checked: Arc<dyn Executable> =
        Arc::new(JitProgram::compile(&p, &h, &JitOptions::checked()).unwrap());
    let interp: Arc<dyn Executable> = Arc::new(Interpreter::new(&p, &h).unwrap());
    let mut req = Req {
        a: 9,
        b: 4,
        ..Default::default()
    };
    let args = [&mut req as *mut Req as u64, 0, 0, 0, 0];
    // SAFETY: `args[0]` points at `req`, a live `Req`, the context FILTER was made for.
    unsafe {
        assert_eq!(verified.run_registers(&args), Some(9));
        assert_eq!((req.verdict, req.calls), (1, 1));
        assert_eq!(checked.run_registers(&args), None);
        assert_eq!(interp.run_registers(&args), None);
    }

    // Fast and context-needing programs in one hook: same results, one context for the
    // slow ones.
    let hook: Hook<Req> = Hook::with_options(
        "req",
        HookOptions {
            policy: Policy::Sum,
            ..Default::default()
        },
    )
    .unwrap();
    // SAFETY (both): the verified code was made for `Req` (above).
    unsafe { hook.attach_registers_only(verified.clone()) };
    hook.attach(checked.clone());
    unsafe { hook.attach_registers_only(verified.clone()) };
    hook.attach(interp.clone());
    let mut req = Req {
        a: 3,
        b: 5,
        ..Default::default()
    };
    let r = hook.fire(&mut req);
    assert_eq!((r.value, r.ran, r.failed), (12, 4, 0));
    assert_eq!((req.verdict, req.calls), (0, 4));

    // The checked engines still refuse what the layout hides: `calls` is writable, the
    // struct's end is not.
    let bad = oxbpf_isa::assemble("r0 = *(u64 *)(r1 + 24)\nexit").unwrap();
    let bad: Arc<dyn Executable> =
        Arc::new(JitProgram::compile(&bad, &h, &JitOptions::checked()).unwrap());
    let id = hook.attach(bad);
    let r = hook.fire(&mut req);
    assert_eq!(r.failed, 1);
    hook.detach(id);

    // With a budget every program takes the checked path (verified code compiled without
    // budget checks refuses budgets, as `Executable::run` does).
    let budgeted: Hook<Req> = Hook::with_options(
        "budgeted",
        HookOptions {
            budget: Some(1000),
            ..Default::default()
        },
    )
    .unwrap();
    // SAFETY: as above.
    unsafe { budgeted.attach_registers_only(verified) };
    budgeted.attach(checked);
    let r = budgeted.fire(&mut req);
    assert_eq!((r.ran, r.failed), (2, 1));
    assert!(r.first_error.unwrap().error.to_string().contains("budget"));
}

#[test]
fn bpf_programs_with_maps_on_hooks() {
    require_clang!();
    // A BCC-style function counting fires in a map and copying the context's `a` into the
    // verdict.
    let src = "struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } fires SEC(\".maps\");\n\
               int on_req(__u64 *ctx) {\n\
                 __u32 k = 0;\n\
                 __u64 *n = bpf_map_lookup_elem(&fires, &k);\n\
                 if (n) __sync_fetch_and_add(n, 1);\n\
                 ((__u32 *)ctx)[4] = (__u32)ctx[0];\n\
                 return 7;\n\
               }\n";
    for engine in [oxbpf::EngineKind::Interpreter, oxbpf::EngineKind::Jit] {
        let mut b = Bpf::builder().engine(engine).c_source(src).unwrap();
        let p = b.hook_program::<Req>("on_req").unwrap();
        assert!(!p.registers_only(), "calls a helper");
        let hook: Hook<Req> = Hook::new("req").unwrap();
        hook.attach(p);
        for i in 0..5u64 {
            let mut req = Req {
                a: 100 + i,
                ..Default::default()
            };
            let r = hook.fire(&mut req);
            assert_eq!((r.value, r.failed), (7, 0), "{:?}", r.first_error);
            assert_eq!(req.verdict, 100 + i as u32);
        }
        assert_eq!(
            b.map("fires").unwrap().get::<u32, u64>(&0).unwrap(),
            Some(5)
        );
    }
    let e = Bpf::builder()
        .c_source(src)
        .unwrap()
        .hook_program::<Req>("nope")
        .unwrap_err();
    assert!(e.to_string().starts_with("no program named `nope`"), "{e}");
}

#[test]
fn verified_bpf_filters_run_from_registers() {
    require_clang!();
    // No helper calls: on the JIT the verified code runs from its registers.
    let src = "struct req { __u64 a, b; __u32 verdict, calls; };\n\
               int filter(struct req *r) {\n\
                 r->verdict = r->a > r->b;\n\
                 r->calls += 1;\n\
                 return r->a;\n\
               }\n";
    for (engine, fast, mode) in [
        (oxbpf::EngineKind::Jit, true, "jit-verified"),
        (oxbpf::EngineKind::Interpreter, false, "interp"),
    ] {
        let mut b = Bpf::builder().engine(engine).c_source(src).unwrap();
        let p = b.hook_program::<Req>("filter").unwrap();
        assert_eq!((p.registers_only(), p.mode()), (fast, mode));
        // `attach_hook` ties the program to the hook's type: the registers-only fast path
        // when the code has it. `Hook::attach` runs it through `Executable::run` (the
        // context contract checked first).
        let hook: Hook<Req> = Hook::new("req").unwrap();
        b.attach_hook(&hook, "filter").unwrap();
        let safe: Hook<Req> = Hook::new("req").unwrap();
        safe.attach(p);
        let mut req = Req {
            a: 8,
            b: 3,
            ..Default::default()
        };
        for _ in 0..3 {
            let r = hook.fire(&mut req);
            assert_eq!((r.value, r.failed), (8, 0));
            let r = safe.fire(&mut req);
            assert_eq!((r.value, r.failed), (8, 0), "{:?}", r.first_error);
        }
        assert_eq!((req.verdict, req.calls), (1, 6));
    }
    // A filter reading a field the hook does not declare is refused.
    let bad = "int peek(__u64 *r) { return r[3]; }";
    let mut b = Bpf::builder().c_source(bad).unwrap();
    let e = b.hook_program::<Req>("peek").unwrap_err();
    assert!(e.is_rejection(), "{e}");
    assert!(e.to_string().contains("offset 24"), "{e}");
    // Unverified it runs checked, and the read past the struct faults.
    let mut b = Bpf::builder().unverified().c_source(bad).unwrap();
    let p = b.hook_program::<Req>("peek").unwrap();
    let hook: Hook<Req> = Hook::new("req").unwrap();
    hook.attach(p);
    let r = hook.fire(&mut Req::default());
    assert_eq!(r.failed, 1);
}

/// A smaller context than `Req`.
#[repr(C)]
#[derive(Default)]
struct Small {
    a: u64,
}

hook_context!(Small { a: read });

#[test]
fn verified_code_checks_the_hook_context_it_is_given() {
    require_clang!();
    // Verified against `Req`; one program calls a helper (run with a run context), the
    // other runs from its registers on a `Hook<Req>`.
    let src = "struct req { __u64 a, b; __u32 verdict, calls; };\n\
               int slow(struct req *r) { r->calls = bpf_get_prandom_u32() & 0; r->verdict = r->b; return r->a; }\n\
               int fast(struct req *r) { r->verdict = r->b; return r->a; }\n";
    let mut b = Bpf::builder().c_source(src).unwrap();
    let default_mode = if cfg!(target_arch = "x86_64") {
        "jit-verified"
    } else {
        "interp"
    };
    for name in ["slow", "fast"] {
        let p = b.hook_program::<Req>(name).unwrap();
        assert_eq!(p.mode(), default_mode);
        assert_eq!(
            p.registers_only(),
            name == "fast" && cfg!(target_arch = "x86_64")
        );
        // On the hook it was made for, through the hook's run context or its registers.
        let hook: Hook<Req> = Hook::new("req").unwrap();
        hook.attach(p.clone());
        let mut req = Req {
            a: 5,
            b: 6,
            ..Default::default()
        };
        let r = hook.fire(&mut req);
        assert_eq!((r.value, r.failed), (5, 0), "{name}: {:?}", r.first_error);
        assert_eq!(req.verdict, 6, "{name}");

        // A run context that does not grant a `Req` at r1 is refused before the code
        // runs: the context contract (size, writable fields) is checked.
        let mut small = [0u8; 8];
        let e = p
            .run(&mut oxbpf::RunContext::with_memory(&mut small))
            .unwrap_err();
        assert!(
            matches!(e, oxbpf::VmError::MemoryFault { .. }),
            "{name}: {e}"
        );
        // A `Req`'s bytes, but read-only: the program writes `verdict`.
        let ro = [0u8; 24];
        let mut rc = oxbpf::RunContext::new();
        rc.allow(&ro, oxbpf::RegionKind::Context);
        rc.args[0] = ro.as_ptr() as u64;
        let e = p.run(&mut rc).unwrap_err();
        assert!(
            matches!(e, oxbpf::VmError::MemoryFault { .. }),
            "{name}: {e}"
        );
        assert_eq!(ro, [0u8; 24], "{name}");
    }
    // Both programs (the one calling a helper and the registers-only one), verified for
    // `Req` and attached through the safe API to a hook of a smaller context, fail their
    // runs (the contract check: a memory fault) instead of reading past the struct.
    for name in ["slow", "fast"] {
        let p = b.hook_program::<Req>(name).unwrap();
        let hook: Hook<Small> = Hook::new("small").unwrap();
        hook.attach(p);
        let mut small = Small { a: 1 };
        let r = hook.fire(&mut small);
        assert_eq!((r.ran, r.failed), (1, 1), "{name}");
        let e = r.first_error.unwrap().error;
        assert!(
            matches!(e, oxbpf::VmError::MemoryFault { .. }),
            "{name}: {e}"
        );
        assert_eq!(small.a, 1);
        // `attach_hook` verifies the program for the hook's own type: refused.
        let e = b.attach_hook(&hook, name).unwrap_err();
        assert!(e.is_rejection(), "{name}: {e}");
        assert_eq!(hook.len(), 1);
    }
}
