//! Embedder hooks: context layouts, access rules, policies, attach/detach under fire.

mod common;

use common::{load, store, FnExec};
use oxbpf_runtime::hook::{
    Access, ContextLayout, CtxField, FireResult, Hook, HookContext, HookError, HookOptions, Policy,
};
use oxbpf_runtime::hook_context;
use oxbpf_vm::{FaultReason, RegionKind, VmError};
use std::mem::offset_of;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[repr(C)]
#[derive(Default)]
struct Req {
    method: u32,
    path_len: u32,
    path: [u8; 16],
    secret: u64,
    verdict: u32,
    hits: u32,
}

hook_context!(Req {
    method: read,
    path_len: read,
    path: read,
    verdict: write,
    hits: write,
});

fn prog(
    f: impl Fn(&mut oxbpf_vm::RunContext<'_>) -> Result<u64, VmError> + Send + Sync + 'static,
) -> Arc<FnExec> {
    Arc::new(FnExec::new(f))
}

#[test]
fn layout_merges_adjacent_fields_and_hides_the_rest() {
    let l = ContextLayout::of::<Req>().unwrap();
    assert_eq!(l.size, std::mem::size_of::<Req>());
    let runs = l.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].offset, 0);
    assert_eq!(runs[0].len, 24);
    assert!(!runs[0].writable);
    assert_eq!(runs[1].offset, offset_of!(Req, verdict));
    assert_eq!(runs[1].len, 8);
    assert!(runs[1].writable);
    assert_eq!(l.field_at(5).unwrap().name, "path_len");
    assert!(l.field_at(offset_of!(Req, secret)).is_none());
}

#[test]
fn programs_read_declared_fields_and_write_writable_ones() {
    let hook: Hook<Req> = Hook::new("req").unwrap();
    hook.attach(prog(|rc| {
        let base = rc.args[0];
        let len = load(rc, base + 4, 4)?;
        let first = load(rc, base + 8, 1)?;
        store(rc, base + 32, 4, len * 1000 + first)?;
        let hits = load(rc, base + 36, 4)?;
        store(rc, base + 36, 4, hits + 1)?;
        Ok(7)
    }));
    let mut r = Req {
        method: 1,
        path_len: 5,
        ..Default::default()
    };
    r.path[..5].copy_from_slice(b"/home");
    let res = hook.fire(&mut r);
    assert_eq!(
        res,
        FireResult {
            value: 7,
            ran: 1,
            failed: 0,
            first_error: None
        }
    );
    assert_eq!(r.verdict, 5000 + b'/' as u32);
    assert_eq!(r.hits, 1);
    hook.fire(&mut r);
    assert_eq!(r.hits, 2);
}

#[test]
fn writes_to_read_only_fields_and_reads_of_hidden_ones_fault() {
    let hook: Hook<Req> = Hook::new("req").unwrap();
    let id_ro = hook.attach(prog(|rc| {
        let base = rc.args[0];
        store(rc, base, 4, 9)?;
        Ok(1)
    }));
    let id_hidden = hook.attach(prog(|rc| {
        let base = rc.args[0];
        load(rc, base + offset_of!(Req, secret) as u64, 8)?;
        Ok(1)
    }));
    let mut r = Req {
        secret: 0xdead,
        ..Default::default()
    };
    let mut seen = Vec::new();
    let res = hook.fire_each(&mut r, |id, out| {
        seen.push((id, out.map_err(|e| e.clone())))
    });
    assert_eq!(res.ran, 2);
    assert_eq!(res.failed, 2);
    assert_eq!(hook.failures(), 2);
    let err = res.first_error.unwrap();
    assert_eq!(err.id, id_ro);
    match err.error {
        VmError::MemoryFault { fault, .. } => {
            assert_eq!(fault.reason, FaultReason::ReadOnly(RegionKind::Context))
        }
        e => panic!("{e}"),
    }
    assert_eq!(seen[1].0, id_hidden);
    match &seen[1].1 {
        Err(VmError::MemoryFault { fault, .. }) => assert_eq!(fault.reason, FaultReason::Unmapped),
        e => panic!("{e:?}"),
    }
    assert_eq!(r.method, 0);
    // Failed runs contribute nothing by default.
    assert_eq!(res.value, 0);
}

fn ret(v: u64) -> Arc<FnExec> {
    prog(move |rc| {
        let base = rc.args[0];
        let hits = load(rc, base + 36, 4)?;
        store(rc, base + 36, 4, hits + 1)?;
        Ok(v)
    })
}

fn fail() -> Arc<FnExec> {
    prog(|rc| {
        let hits = load(rc, rc.args[0] + 36, 4)?;
        store(rc, rc.args[0] + 36, 4, hits + 1)?;
        Err(VmError::FellOffEnd { pc: 3 })
    })
}

fn fire_with(
    policy: Policy,
    error_value: Option<u64>,
    progs: Vec<Arc<FnExec>>,
) -> (FireResult, u32) {
    let hook: Hook<Req> = Hook::with_options(
        "p",
        HookOptions {
            policy,
            error_value,
            budget: None,
        },
    )
    .unwrap();
    for p in progs {
        hook.attach(p);
    }
    let mut r = Req::default();
    let res = hook.fire(&mut r);
    (res, r.hits)
}

#[test]
fn policies_combine_results() {
    let (r, hits) = fire_with(Policy::Last, None, vec![ret(3), ret(0), ret(9)]);
    assert_eq!((r.value, r.ran, hits), (9, 3, 3));

    let (r, hits) = fire_with(Policy::FirstNonZero, None, vec![ret(0), ret(4), ret(9)]);
    assert_eq!(
        (r.value, r.ran, hits),
        (4, 2, 2),
        "stops at the first non-zero"
    );
    let (r, _) = fire_with(Policy::FirstNonZero, None, vec![ret(0), ret(0)]);
    assert_eq!(r.value, 0);

    let (r, hits) = fire_with(Policy::AllNonZero, None, vec![ret(1), ret(0), ret(1)]);
    assert_eq!((r.value, r.ran, hits), (0, 2, 2), "stops at the first zero");
    let (r, _) = fire_with(Policy::AllNonZero, None, vec![ret(1), ret(5)]);
    assert_eq!(r.value, 1);
    let (r, _) = fire_with(Policy::AllNonZero, None, vec![]);
    assert_eq!((r.value, r.ran), (1, 0), "nothing attached allows");

    let (r, _) = fire_with(Policy::Sum, None, vec![ret(3), ret(u64::MAX), ret(9)]);
    assert_eq!(r.value, 11, "wrapping sum");
}

#[test]
fn failures_follow_error_value() {
    // Fail open: the failing filter is ignored.
    let (r, hits) = fire_with(Policy::FirstNonZero, None, vec![fail(), ret(0)]);
    assert_eq!((r.value, r.ran, r.failed, hits), (0, 2, 1, 2));
    // Fail closed: the failure counts as a rejection and stops the chain.
    let (r, hits) = fire_with(Policy::FirstNonZero, Some(1), vec![fail(), ret(0)]);
    assert_eq!((r.value, r.ran, r.failed, hits), (1, 1, 1, 1));
    let (r, _) = fire_with(Policy::AllNonZero, Some(0), vec![ret(1), fail()]);
    assert_eq!(r.value, 0);
    let (r, _) = fire_with(Policy::Sum, None, vec![ret(2), fail(), ret(3)]);
    assert_eq!((r.value, r.failed), (5, 1));
}

#[test]
fn env_reaches_the_run() {
    let hook: Hook<Req> = Hook::new("env").unwrap();
    hook.attach(prog(|rc| {
        let (_, env) = rc.parts();
        let n = env.and_then(|e| e.downcast_mut::<u64>()).map(|n| {
            *n += 1;
            *n
        });
        Ok(n.unwrap_or(0))
    }));
    let mut n = 41u64;
    let mut r = Req::default();
    assert_eq!(hook.fire_with_env(&mut r, &mut n).value, 42);
    assert_eq!(n, 42);
    assert_eq!(hook.fire(&mut r).value, 0);
}

#[test]
fn attach_detach_and_order() {
    let hook: Hook<Req> = Hook::with_options(
        "o",
        HookOptions {
            policy: Policy::Sum,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(hook.is_empty());
    let a = hook.attach(ret(1));
    let b = hook.attach(ret(10));
    let c = hook.attach(ret(100));
    assert_eq!(hook.attached(), vec![a, b, c]);
    let mut r = Req::default();
    assert_eq!(hook.fire(&mut r).value, 111);
    assert!(hook.detach(b));
    assert!(!hook.detach(b));
    assert_eq!(hook.fire(&mut r).value, 101);
    assert_eq!(hook.len(), 2);
    hook.clear();
    assert_eq!(hook.fire(&mut r).ran, 0);
}

#[test]
fn fires_concurrent_with_attach_and_detach() {
    let hook: Arc<Hook<Req>> = Arc::new(
        Hook::with_options(
            "c",
            HookOptions {
                policy: Policy::Sum,
                ..Default::default()
            },
        )
        .unwrap(),
    );
    hook.attach(ret(1));
    let stop = Arc::new(AtomicBool::new(false));
    let firers: Vec<_> = (0..2)
        .map(|_| {
            let hook = hook.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut r = Req::default();
                let mut fires = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let res = hook.fire(&mut r);
                    // Every snapshot holds the permanent program plus 0 or 1 others.
                    assert!(res.value == 1 || res.value == 1001, "{res:?}");
                    assert_eq!(res.value == 1001, res.ran == 2);
                    fires += 1;
                }
                fires
            })
        })
        .collect();
    for _ in 0..2000 {
        let id = hook.attach(ret(1000));
        assert!(hook.detach(id));
    }
    stop.store(true, Ordering::Relaxed);
    for f in firers {
        assert!(f.join().unwrap() > 0);
    }
    assert_eq!(hook.len(), 1);
}

struct Bad {
    _a: u64,
}

// SAFETY (test): deliberately inconsistent descriptions; `Hook::new` must refuse them
// before any program could run on them.
unsafe impl HookContext for Bad {
    fn fields() -> Vec<CtxField> {
        vec![CtxField {
            name: "past_end",
            offset: 4,
            size: 8,
            access: Access::Read,
        }]
    }
}

#[repr(C)]
struct Striped {
    a: u8,
    b: u8,
    c: u8,
    d: u8,
    e: u8,
    f: u8,
    g: u8,
    h: u8,
}

hook_context!(Striped {
    a: read,
    b: write,
    c: read,
    d: write,
    e: read,
    f: write,
    g: read,
    h: write,
});

#[test]
fn inconsistent_layouts_are_refused() {
    match Hook::<Bad>::new("bad") {
        Err(HookError::FieldOutOfBounds { field, .. }) => assert_eq!(field, "past_end"),
        r => panic!("{r:?}"),
    }
    let e = Hook::<Striped>::new("s").unwrap_err();
    assert!(matches!(e, HookError::TooManyRegions { max: 6, .. }), "{e}");
    let overlap = ContextLayout::new(
        "X",
        16,
        vec![
            CtxField {
                name: "x",
                offset: 0,
                size: 8,
                access: Access::Read,
            },
            CtxField {
                name: "y",
                offset: 4,
                size: 4,
                access: Access::Read,
            },
        ],
    )
    .unwrap_err();
    assert_eq!(
        overlap.to_string(),
        "hook context X: fields `x` and `y` overlap"
    );
}

/// Real eBPF through the interpreter: reads declared fields, writes the writable ones,
/// and is refused the rest.
#[test]
fn ebpf_programs_through_the_interpreter() {
    use oxbpf_vm::{Helpers, Interpreter};
    let prog = |src: &str| -> Arc<dyn oxbpf_vm::Executable> {
        let p = oxbpf_isa::assemble(src).unwrap();
        Arc::new(Interpreter::new(&p, &Helpers::new()).unwrap())
    };
    let hook: Hook<Req> = Hook::new("req").unwrap();
    // verdict = path_len * 2 + path[0]; hits += 1; r0 = method.
    hook.attach(prog(
        "r2 = *(u32 *)(r1 + 4)
         r2 <<= 1
         r3 = *(u8 *)(r1 + 8)
         r2 += r3
         *(u32 *)(r1 + 32) = r2
         r4 = *(u32 *)(r1 + 36)
         r4 += 1
         *(u32 *)(r1 + 36) = r4
         r0 = *(u32 *)(r1 + 0)
         exit",
    ));
    let mut r = Req {
        method: 3,
        path_len: 10,
        ..Default::default()
    };
    r.path[0] = 7;
    let res = hook.fire(&mut r);
    assert_eq!((res.value, res.failed), (3, 0));
    assert_eq!((r.verdict, r.hits), (27, 1));

    let bad: Hook<Req> = Hook::new("bad").unwrap();
    bad.attach(prog("*(u32 *)(r1 + 4) = 1\nr0 = 0\nexit"));
    bad.attach(prog("r0 = *(u64 *)(r1 + 24)\nexit"));
    let res = bad.fire_each(&mut r, |_, out| assert!(out.is_err()));
    assert_eq!(res.failed, 2);
    assert_eq!(r.path_len, 10);
}

/// An executable whose two entries answer differently, to see which one a fire takes.
struct TwoEntries;

impl oxbpf_vm::Executable for TwoEntries {
    fn run(&self, _: &mut oxbpf_vm::RunContext<'_>) -> Result<oxbpf_vm::RunOutcome, VmError> {
        Ok(oxbpf_vm::RunOutcome {
            r0: 1,
            insns_executed: None,
        })
    }
    fn engine(&self) -> oxbpf_vm::EngineKind {
        oxbpf_vm::EngineKind::Interpreter
    }
    unsafe fn run_registers(&self, _: &[u64; 5]) -> Option<u64> {
        Some(2)
    }
}

/// `attach` always runs through `Executable::run`; only `attach_registers_only` takes the
/// registers-only entry, and only for fires without a budget.
#[test]
fn only_registers_only_attachments_take_the_fast_path() {
    let mut r = Req::default();
    let hook: Hook<Req> = Hook::new("safe").unwrap();
    hook.attach(Arc::new(TwoEntries));
    assert_eq!(hook.fire(&mut r).value, 1);

    let fast: Hook<Req> = Hook::new("fast").unwrap();
    // SAFETY: `TwoEntries::run_registers` reads nothing through its arguments.
    unsafe { fast.attach_registers_only(Arc::new(TwoEntries)) };
    assert_eq!(fast.fire(&mut r).value, 2);

    let budgeted: Hook<Req> = Hook::with_options(
        "budgeted",
        HookOptions {
            budget: Some(100),
            ..Default::default()
        },
    )
    .unwrap();
    // SAFETY: as above.
    unsafe { budgeted.attach_registers_only(Arc::new(TwoEntries)) };
    assert_eq!(budgeted.fire(&mut r).value, 1);
}

/// Verified JIT code made for `Req` on the fast path: reads `path_len`, writes `verdict`.
#[cfg(target_arch = "x86_64")]
#[test]
fn verified_jit_code_runs_from_registers_when_attached_for_its_context() {
    use oxbpf_vm::jit::{JitOptions, JitProgram};
    let p = oxbpf_isa::assemble(
        "r2 = *(u32 *)(r1 + 4)\nr2 += 1\n*(u32 *)(r1 + 32) = r2\nr0 = r2\nexit",
    )
    .unwrap();
    assert_eq!(offset_of!(Req, path_len), 4);
    assert_eq!(offset_of!(Req, verdict), 32);
    // SAFETY: the program reads `Req::path_len` and writes `Req::verdict`, fields `Req`
    // declares readable and writable; it runs only on the hook below, with `r1` = a `Req`.
    let jit = unsafe {
        JitProgram::compile_verified(&p, &oxbpf_vm::Helpers::new(), &JitOptions::verified())
    }
    .unwrap();
    assert!(jit.runs_from_registers());
    let hook: Hook<Req> = Hook::new("verified").unwrap();
    // SAFETY: the code was made for `Req` (above).
    unsafe { hook.attach_registers_only(Arc::new(jit)) };
    let mut r = Req {
        path_len: 6,
        ..Default::default()
    };
    let res = hook.fire(&mut r);
    assert_eq!((res.value, res.failed, r.verdict), (7, 0, 7));
}
