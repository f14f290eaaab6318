//! Verified loading (`Runtime::with_verify`, on by default): the contexts the runtime
//! builds for each program type match what the verifier was told, helpers the runtime and
//! the verifier disagree on are refused at load, callbacks get the arguments the verifier
//! assumes, and entries into verified programs that do not keep their context contract
//! fail before the program runs. Each test runs on every engine (the JIT in verified mode).

use oxbpf_isa::{assemble, Program};
use oxbpf_runtime::loader::{
    LoadError, LoadedObject, MapDefSpec, ObjectSpec, ProgramSpec, RunError, RunInput, Runtime,
};
use oxbpf_runtime::maps::{MapSpec, MapType};
use oxbpf_runtime::packet::{Verdict, XdpAction};
use oxbpf_runtime::progtype::ProgType;
use oxbpf_runtime::verified::{context_descriptor, tracepoint_context};
use oxbpf_runtime::verifier::{Arg, HelperProto, Ret};
use oxbpf_vm::{EngineKind, VmError};

fn asm(text: &str) -> Program {
    assemble(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn prog(name: &str, t: ProgType, text: &str) -> ProgramSpec {
    ProgramSpec {
        section: format!("test/{name}"),
        // As from an object compiled with -g (callbacks need it, as in Linux).
        btf_func_info: true,
        ..ProgramSpec::new(name, t, asm(text))
    }
}

fn engines() -> Vec<EngineKind> {
    if cfg!(target_arch = "x86_64") {
        vec![EngineKind::Interpreter, EngineKind::Jit]
    } else {
        vec![EngineKind::Interpreter]
    }
}

fn load(engine: EngineKind, spec: &ObjectSpec) -> LoadedObject {
    let o = Runtime::new()
        .with_engine(engine)
        .load(spec)
        .unwrap_or_else(|e| panic!("{engine:?}: {e}"));
    for p in o.programs() {
        assert!(p.verified().is_some(), "{} was verified", p.name());
    }
    o
}

fn one(p: ProgramSpec) -> ObjectSpec {
    ObjectSpec {
        maps: vec![],
        programs: vec![p],
    }
}

/// An Ethernet + IPv4 + UDP frame.
fn frame() -> Vec<u8> {
    let mut p = vec![0u8; 14 + 20 + 8 + 6];
    p[12] = 0x08;
    p[14] = 0x45;
    p[14 + 9] = 17;
    p
}

#[test]
fn xdp_programs_get_the_packet_runners_xdp_md() {
    // Bounds-checked packet access through data/data_end, a write, the metadata pointer
    // and the queue index: XDP_TX (3) for IPv4 with the first byte marked.
    let spec = one(prog(
        "xdp",
        ProgType::Xdp,
        "
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        r4 = *(u32 *)(r1 + 8)
        r5 = *(u32 *)(r1 + 16)
        if r4 != r2 goto drop
        if r5 != 0 goto drop
        r4 = r2
        r4 += 14
        if r4 > r3 goto drop
        r0 = *(u8 *)(r2 + 12)
        if r0 != 8 goto pass
        *(u8 *)(r2 + 0) = 170
        r0 = 3
        exit
    pass:
        r0 = 2
        exit
    drop:
        r0 = 1
        exit",
    ));
    for e in engines() {
        let o = load(e, &spec);
        let p = o.program("xdp").unwrap();
        assert_eq!(p.verified().unwrap().context.name, "xdp_md");
        let r = p.run_packet(&frame(), 2).unwrap();
        assert_eq!(r.verdict, Verdict::Xdp(XdpAction::Tx), "{e:?}");
        assert_eq!(r.data[0], 0xaa);
        assert_eq!(r.data[1..], frame()[1..]);
        // Too short for an Ethernet header: dropped, no access past data_end.
        let r = p.run_packet(&[1, 2, 3], 1).unwrap();
        assert_eq!(r.verdict, Verdict::Xdp(XdpAction::Drop));
        // Its context holds packet pointers: only the packet runner may set them.
        let mut ctx = [0u8; 24];
        let e = p.run_ctx(&mut ctx).unwrap_err();
        assert!(matches!(e, RunError::Input { .. }), "{e}");
        assert!(e.to_string().contains("run_packet"), "{e}");
    }
    // So do tc programs' (which the packet runner does not run): verified, they load but
    // do not run in userspace; unverified they run checked.
    let tc = one(prog(
        "tc",
        ProgType::SchedCls,
        "r2 = *(u32 *)(r1 + 76)\nr3 = *(u32 *)(r1 + 80)\nr0 = r3\nr0 -= r2\nexit",
    ));
    let o = Runtime::new().load(&tc).unwrap();
    let p = o.program("tc").unwrap();
    assert_eq!(p.verified().unwrap().context.name, "__sk_buff");
    let mut skb = [0u8; 192];
    assert!(matches!(p.run_ctx(&mut skb), Err(RunError::Input { .. })));
    let o = Runtime::new().with_verify(false).load(&tc).unwrap();
    assert_eq!(o.program("tc").unwrap().run_ctx(&mut skb).unwrap(), 0);
}

#[test]
fn socket_filters_get_the_packet_runners_sk_buff() {
    // len, protocol, cb written and read back, a legacy packet load (the IP protocol)
    // and a bpf_skb_load_bytes into the stack.
    let spec = one(prog(
        "sf",
        ProgType::SocketFilter,
        "
        r6 = r1
        r7 = *(u32 *)(r6 + 0)
        *(u32 *)(r6 + 48) = r7
        r8 = *(u32 *)(r6 + 48)
        r9 = *(u32 *)(r6 + 16)
        r0 = *(u8 *)skb[9]
        r0 <<= 16
        r0 += r8
        if r9 != 8 goto out
        r1 = r6
        r2 = 9
        r3 = r10
        r3 += -8
        r4 = 1
        call bpf_skb_load_bytes
        r1 = *(u8 *)(r10 - 8)
        r1 <<= 24
        r0 = r1
        r0 += r8
    out:
        exit",
    ));
    for e in engines() {
        let o = load(e, &spec);
        let p = o.program("sf").unwrap();
        let r = p.run_packet(&frame(), 1).unwrap();
        // Network view: len = 48 - 14 = 34; protocol 17 read twice.
        assert_eq!(r.r0, (17 << 24) + 34, "{e:?}");
        assert_eq!(r.verdict, Verdict::Keep(34));
    }
}

#[test]
fn tracing_contexts_are_zero_extended_to_their_layout() {
    // raw_tp: args[1] (the syscall id of raw_tp/sys_enter) and args[11], the last
    // argument slot the verifier allows.
    let spec = ObjectSpec {
        maps: vec![],
        programs: vec![
            prog(
                "raw",
                ProgType::RawTracepoint,
                "r0 = *(u64 *)(r1 + 8)\nr2 = *(u64 *)(r1 + 88)\nr0 += r2\nexit",
            ),
            prog(
                "kprobe",
                ProgType::Kprobe,
                "r0 = *(u64 *)(r1 + 112)\nr2 = *(u64 *)(r1 + 160)\nr0 += r2\nexit",
            ),
        ],
    };
    for e in engines() {
        let o = load(e, &spec);
        let raw = o.program("raw").unwrap();
        assert_eq!(raw.verified().unwrap().contract.size, 96);
        let mut ctx = [0u8; 16];
        ctx[8..].copy_from_slice(&257u64.to_ne_bytes());
        assert_eq!(raw.run_ctx(&mut ctx).unwrap(), 257, "{e:?}");
        assert_eq!(raw.run_empty().unwrap(), 0);
        let mut full = [0u8; 96];
        full[88..].copy_from_slice(&5u64.to_ne_bytes());
        assert_eq!(raw.run_ctx(&mut full).unwrap(), 5);
        // pt_regs: di at 112, sp at 160.
        let k = o.program("kprobe").unwrap();
        let mut regs = [0u8; 120];
        regs[112..].copy_from_slice(&40u64.to_ne_bytes());
        assert_eq!(k.run_ctx(&mut regs).unwrap(), 40, "{e:?}");
        assert_eq!(k.run_empty().unwrap(), 0);
        // A bare packet is not a context.
        let mut pkt = [0u8; 8];
        let err = k
            .run(RunInput {
                packet: Some(&mut pkt),
                ..Default::default()
            })
            .unwrap_err();
        assert!(err.to_string().contains("not a bare packet"), "{err}");
    }
}

#[test]
fn writes_to_a_zero_extended_context_reach_the_callers_buffer() {
    // A socket filter's cb[0..5] are writable; the context given is 52 bytes.
    let spec = one(prog(
        "cb",
        ProgType::SocketFilter,
        "r2 = 7\n*(u32 *)(r1 + 48) = r2\nr0 = *(u32 *)(r1 + 0)\nexit",
    ));
    for e in engines() {
        let o = load(e, &spec);
        let mut ctx = [0u8; 52];
        ctx[0..4].copy_from_slice(&60u32.to_ne_bytes());
        assert_eq!(o.program("cb").unwrap().run_ctx(&mut ctx).unwrap(), 60);
        assert_eq!(u32::from_ne_bytes(ctx[48..52].try_into().unwrap()), 7);
    }
}

#[test]
fn syscall_tracepoints_are_verified_against_their_real_records() {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        println!("SKIP: the system-call tracer is x86-64 Linux only");
        return;
    }
    // openat has four arguments: its record is 48 bytes.
    let d =
        context_descriptor(ProgType::Tracepoint, "tracepoint/syscalls/sys_enter_openat").unwrap();
    assert_eq!(d.size, 48);
    let d = context_descriptor(ProgType::Tracepoint, "tp/syscalls/sys_exit_openat").unwrap();
    assert_eq!(d.size, 24);
    // Unknown tracepoints: the generic record.
    let d = context_descriptor(ProgType::Tracepoint, "tracepoint/sched/sched_switch").unwrap();
    assert_eq!(d.size, 2048);
    let read_arg = |n: u32| {
        let mut p = prog(
            "tp",
            ProgType::Tracepoint,
            &format!("r0 = *(u64 *)(r1 + {})\nexit", 16 + 8 * n),
        );
        p.section = "tracepoint/syscalls/sys_enter_openat".into();
        one(p)
    };
    assert!(Runtime::new().load(&read_arg(3)).is_ok());
    match Runtime::new().load(&read_arg(4)) {
        Err(LoadError::Verifier { error, .. }) => {
            assert!(
                error.message.contains("trace_event_raw_sys_enter"),
                "{}",
                error.summary()
            )
        }
        other => panic!("openat has no fifth argument: {other:?}"),
    }
    // The layouts agree with the kernel's format files, for every syscall tracepoint.
    let Some(tfs) = oxbpf_kernel::Tracefs::find().filter(|t| t.readable()) else {
        println!("SKIP: tracefs is not mounted or not readable");
        return;
    };
    let mut n = 0;
    for tp in tfs.tracepoints(Some("syscalls:sys_*")).unwrap() {
        let text = std::fs::read_to_string(tfs.path(format!("events/syscalls/{}/format", tp.name)))
            .unwrap();
        let kernel =
            oxbpf_runtime::verifier::ContextDescriptor::from_tracepoint_format(&text).unwrap();
        let ours = tracepoint_context("syscalls", &tp.name)
            .unwrap_or_else(|| panic!("no layout for {}", tp.name));
        assert_eq!(ours.size, kernel.size, "{}", tp.name);
        let shape = |d: &oxbpf_runtime::verifier::ContextDescriptor| {
            d.fields
                .iter()
                .map(|f| (f.offset, f.size, f.access))
                .collect::<Vec<_>>()
        };
        assert_eq!(shape(&ours), shape(&kernel), "{}", tp.name);
        n += 1;
    }
    assert!(n > 600, "{n} syscall tracepoints");
}

#[test]
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn a_verified_tracepoint_program_runs_on_the_tracers_records() {
    use oxbpf_runtime::tracer::{Action, SyscallInterest, TraceCommand, Tracer};
    // sys_enter_exit_group: r0 = the exit code (args[0]) + 1000 * nr.
    let mut p = prog(
        "tp",
        ProgType::Tracepoint,
        "r0 = *(s32 *)(r1 + 8)\nr0 *= 1000\nr2 = *(u64 *)(r1 + 16)\nr0 += r2\nexit",
    );
    p.section = "tracepoint/syscalls/sys_enter_exit_group".into();
    let spec = one(p);
    for e in engines() {
        let o = load(e, &spec);
        let prog = o.program("tp").unwrap();
        assert_eq!(prog.verified().unwrap().contract.size, 24);
        let mut interest = SyscallInterest::new();
        interest.add_event("sys_enter_exit_group").unwrap();
        let mut cmd = TraceCommand::new("/bin/sh");
        cmd.args(["-c", "exit 7"]);
        let tracer = match Tracer::spawn(cmd, interest) {
            Ok(t) => t,
            Err(err) => {
                println!("SKIP: cannot trace a command here: {err}");
                return;
            }
        };
        let mut results = Vec::new();
        tracer
            .run(|ev| {
                let mut rec = ev.ctx_bytes().to_vec();
                results.push(prog.run_ctx(&mut rec).unwrap());
                Action::Continue
            })
            .unwrap();
        assert_eq!(results, vec![231 * 1000 + 7], "{e:?}");
    }
}

#[test]
fn unspec_programs_have_no_context() {
    let spec = ObjectSpec {
        maps: vec![],
        programs: vec![
            prog("ret", ProgType::Unspec, "r0 = 42\nexit"),
            prog("reads", ProgType::Unspec, "r0 = *(u8 *)(r1 + 0)\nexit"),
        ],
    };
    let err = Runtime::new().load(&spec).unwrap_err();
    match &err {
        LoadError::Verifier { program, error } => {
            assert_eq!(program, "reads");
            assert!(error.message.contains("no context"), "{}", error.summary());
            // The load error reads as the verifier's summary.
            assert_eq!(
                err.to_string(),
                format!(
                    "program `reads`: rejected by the verifier: {}",
                    error.summary()
                )
            );
        }
        other => panic!("{other:?}"),
    }
    let ok = ObjectSpec {
        programs: spec.programs[..1].to_vec(),
        ..spec.clone()
    };
    for e in engines() {
        let o = load(e, &ok);
        let mut pkt = [1u8; 4];
        let r = o
            .program("ret")
            .unwrap()
            .run(RunInput {
                packet: Some(&mut pkt),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(r.r0, 42);
    }
    // Unverified, the plain-VM convention still works.
    let o = Runtime::new().with_verify(false).load(&spec).unwrap();
    let mut pkt = [9u8; 4];
    let r = o
        .program("reads")
        .unwrap()
        .run(RunInput {
            packet: Some(&mut pkt),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(r.r0, 9);
}

#[test]
fn types_the_verifier_does_not_model_are_kept_out() {
    let spec = one(prog("lsm", ProgType::Lsm, "r0 = 0\nexit"));
    let o = Runtime::new().load(&spec).unwrap();
    assert!(o.program("lsm").is_none());
    let (name, why) = o.skipped().next().unwrap();
    assert_eq!(name, "lsm");
    assert!(why.contains("not modelled by the oxbpf verifier"), "{why}");
    let o = Runtime::new().with_verify(false).load(&spec).unwrap();
    assert_eq!(o.program("lsm").unwrap().run_empty().unwrap(), 0);
}

#[test]
fn helpers_the_runtime_and_the_verifier_disagree_on_are_refused() {
    // bpf_spin_lock: the runtime implements it, the verifier does not model locks.
    let spec = ObjectSpec {
        maps: vec![MapDefSpec::new(MapSpec::new("m", MapType::Array, 4, 8, 1))],
        programs: vec![prog(
            "lock",
            ProgType::Kprobe,
            "r1 = map_idx_value(0, 0) ll\ncall bpf_spin_lock\nr0 = 0\nexit",
        )],
    };
    match Runtime::new().load(&spec) {
        Err(LoadError::HelperMismatch { program, source }) => {
            assert_eq!(program, "lock");
            assert_eq!((source.pc, source.id), (2, 93));
            assert!(source.reason.contains("no prototype"), "{source}");
        }
        other => panic!("{other:?}"),
    }
    assert!(Runtime::new().with_verify(false).load(&spec).is_ok());

    // An embedder helper: refused without a prototype, verified and run with one.
    let spec = one(prog(
        "emb",
        ProgType::Xdp,
        "r1 = 20\nr2 = 22\ncall 0x10001\nexit",
    ));
    let mut rt = Runtime::new();
    rt.register_helper(0x10001, "add", |_, a| Ok(a[0] + a[1]));
    match rt.load(&spec) {
        Err(LoadError::HelperMismatch { source, .. }) => {
            assert!(
                source.reason.contains("Runtime::helper_prototype"),
                "{source}"
            )
        }
        other => panic!("{other:?}"),
    }
    rt.helper_prototype(HelperProto::new(
        0x10001,
        "add",
        vec![Arg::Anything, Arg::Anything],
        Ret::Integer,
    ));
    for e in engines() {
        let mut rt = Runtime::new().with_engine(e);
        rt.register_helper(0x10001, "add", |_, a| Ok(a[0] + a[1]));
        rt.helper_prototype(HelperProto::new(
            0x10001,
            "add",
            vec![Arg::Anything, Arg::Anything],
            Ret::Integer,
        ));
        let o = rt.load(&spec).unwrap();
        // An XDP program that never reads its context may run without one.
        let p = o.program("emb").unwrap();
        let r = p.run_packet(&frame(), 1).unwrap();
        assert_eq!(r.r0, 42, "{e:?}");
    }
}

/// `bpf_loop` calls back with `(index, ctx)`, `bpf_for_each_map_elem` with
/// `(map, key, value, ctx)`: what the verifier assumes of the callbacks' registers.
#[test]
fn callbacks_get_the_arguments_the_verifier_assumes() {
    let spec = ObjectSpec {
        maps: vec![MapDefSpec::new(MapSpec::new(
            "arr",
            MapType::Array,
            4,
            8,
            3,
        ))],
        programs: vec![
            // ctx = the stack slot; each call adds index + 1: 1 + 2 + 3 + 4 = 10.
            prog(
                "looper",
                ProgType::SocketFilter,
                "
                *(u64 *)(r10 - 8) = 0
                r1 = 4
                r2 = func(cb) ll
                r3 = r10
                r3 += -8
                r4 = 0
                call bpf_loop
                r0 = *(u64 *)(r10 - 8)
                exit
            cb:
                r3 = *(u64 *)(r2 + 0)
                r1 += 1
                r3 += r1
                *(u64 *)(r2 + 0) = r3
                r0 = 0
                exit",
            ),
            // The callback looks its key up in the map it is given (r1) and counts the
            // elements whose lookup returns the value pointer it got (r3).
            prog(
                "walker",
                ProgType::SocketFilter,
                "
                *(u64 *)(r10 - 8) = 0
                r1 = map_idx(0) ll
                r2 = func(visit) ll
                r3 = r10
                r3 += -8
                r4 = 0
                call bpf_for_each_map_elem
                r1 = *(u64 *)(r10 - 8)
                r0 *= 100
                r0 += r1
                exit
            visit:
                r6 = r3
                r7 = r4
                call bpf_map_lookup_elem
                r1 = 0
                if r0 != r6 goto skip
                r1 = 1
            skip:
                r2 = *(u64 *)(r7 + 0)
                r2 += r1
                *(u64 *)(r7 + 0) = r2
                r0 = 0
                exit",
            ),
        ],
    };
    for e in engines() {
        let o = load(e, &spec);
        match o.program("looper").unwrap().run_empty() {
            Err(err) if err.to_string().contains("cannot call back") => {
                println!("SKIP: {e:?} does not support callbacks yet ({err})");
                continue;
            }
            r => assert_eq!(r.unwrap(), 10, "{e:?}"),
        }
        assert_eq!(o.program("walker").unwrap().run_empty().unwrap(), 303);
    }
}

/// Entries the runtime does not set up itself (tail calls, embedders) must give a
/// verified program the context its verification assumed.
#[test]
fn entries_into_verified_programs_keep_the_context_contract() {
    // A verified kprobe program that reads the last pt_regs field.
    let target = one(prog(
        "regs",
        ProgType::Kprobe,
        "r0 = *(u64 *)(r1 + 160)\nexit",
    ));
    // An unverified program that tail-calls slot 0 with r1 = a context of its choosing.
    let mut jmp = MapDefSpec::new(MapSpec::new("jmp", MapType::ProgArray, 4, 4, 1));
    jmp.init_slots = vec![];
    let caller = |r1: &str| ObjectSpec {
        maps: vec![jmp.clone()],
        programs: vec![prog(
            "caller",
            ProgType::Kprobe,
            &format!("{r1}\nr2 = map_idx(0) ll\nr3 = 0\ncall bpf_tail_call\nr0 = 1\nexit"),
        )],
    };
    // The target on every engine (the JIT in verified mode); the caller in the
    // interpreter, which runs tail calls.
    for e in engines() {
        let t = load(e, &target);
        let runner = t.program("regs").unwrap().runner().clone();
        // r1 unchanged: the caller's context, 168 bytes from run(): the contract holds.
        let ok = Runtime::new().with_verify(false).load(&caller("")).unwrap();
        ok.map("jmp")
            .unwrap()
            .as_prog_array()
            .unwrap()
            .set(0, runner.clone())
            .unwrap();
        let mut regs = [0u8; 168];
        regs[160..].copy_from_slice(&77u64.to_ne_bytes());
        match ok.program("caller").unwrap().run_ctx(&mut regs) {
            Err(err) if err.to_string().contains("tail call") => {
                println!("SKIP: {e:?} does not run tail calls yet ({err})");
                continue;
            }
            r => assert_eq!(r.unwrap(), 77, "{e:?}"),
        }
        // r1 moved into the middle of the context: 8 bytes short. Refused before the
        // verified program reads past the context.
        let bad = Runtime::new()
            .with_verify(false)
            .load(&caller("r1 += 8"))
            .unwrap();
        bad.map("jmp")
            .unwrap()
            .as_prog_array()
            .unwrap()
            .set(0, runner.clone())
            .unwrap();
        match bad.program("caller").unwrap().run_ctx(&mut regs) {
            Err(RunError::Vm {
                source: VmError::MemoryFault { pc: 0, fault },
                ..
            }) => assert_eq!(fault.size, 168, "{fault}"),
            other => panic!("{e:?}: {other:?}"),
        }
        // An embedder's run with a context that is too small.
        let p = t.program("regs").unwrap();
        let mut small = [0u8; 64];
        let err = p
            .run_with(
                oxbpf_vm::RunContext::with_context(&mut small),
                &mut p.run_env(),
            )
            .unwrap_err();
        assert!(matches!(err, RunError::Vm { .. }), "{err}");
        let mut regs = [0u8; 168];
        regs[160..].copy_from_slice(&5u64.to_ne_bytes());
        assert_eq!(
            p.run_with(
                oxbpf_vm::RunContext::with_context(&mut regs),
                &mut p.run_env()
            )
            .unwrap(),
            5
        );
    }
}
