//! load_raw, test_run, maps and program info against the running kernel.

mod common;

use std::time::Duration;

use common::*;
use oxbpf_isa::{CallTarget, Insn, LoadImm64, PacketMode, Reg, Size};
use oxbpf_kernel::{
    create_map, load_raw, loaded_programs, program_info, test_run, wait_unloaded, AttachType,
    KernelError, LoadOptions, MapSpec, MapType, ProgType, TestRunInput, UpdateMode,
};

const UNLOAD_WAIT: Duration = Duration::from_secs(10);

fn opts(t: ProgType) -> LoadOptions {
    LoadOptions::new(t).name("oxbpf_test")
}

/// For socket filters (and other non-L2 skb programs) the kernel's test run strips the
/// Ethernet header before the run (`skb->data` is the network header) and hands back the
/// frame with a zeroed Ethernet header.
#[test]
fn socket_filter_returns_constant_and_sees_the_network_header() {
    require_bpf!();
    let prog = load_raw(&ret(7), &opts(ProgType::SocketFilter)).unwrap();
    assert_eq!(prog.prog_type(), ProgType::SocketFilter);
    assert!(prog.id() > 0);
    let pkt = packet();
    let out = test_run(&prog, &TestRunInput::packet(&pkt)).unwrap();
    assert_eq!(out.retval, 7);
    assert_eq!(out.data_out.len(), pkt.len());
    assert_eq!(out.data_out[..14], [0u8; 14]);
    assert_eq!(out.data_out[14..], pkt[14..]);
}

#[test]
fn socket_filter_legacy_packet_load() {
    require_bpf!();
    // r6 = ctx (ld_abs uses r6); r0 = be16 at offset 2 of the network header; exit
    let p = program(vec![
        mov_reg(Reg::R6, Reg::R1),
        Insn::LoadPacket {
            mode: PacketMode::Abs,
            size: Size::H,
            imm: 2,
        },
        Insn::Exit,
    ]);
    let prog = load_raw(&p, &opts(ProgType::SocketFilter)).unwrap();
    let out = test_run(&prog, &TestRunInput::packet(&packet())).unwrap();
    // Frame bytes 16 and 17 (= 16, 17), big-endian.
    assert_eq!(out.retval, 0x1011);
}

/// XDP: write 0xaa into the first byte if the frame holds an Ethernet header, return
/// XDP_TX (3); else XDP_PASS (2).
fn xdp_mark() -> oxbpf_isa::Program {
    program(vec![
        ldx(Size::W, Reg::R2, Reg::R1, 0), // data
        ldx(Size::W, Reg::R3, Reg::R1, 4), // data_end
        mov_reg(Reg::R4, Reg::R2),
        add(Reg::R4, 14),
        jgt(Reg::R4, Reg::R3, 3),
        st(Size::B, Reg::R2, 0, 0xaa),
        mov(Reg::R0, 3),
        Insn::Exit,
        mov(Reg::R0, 2),
        Insn::Exit,
    ])
}

#[test]
fn xdp_rewrites_the_packet() {
    require_bpf!();
    let prog = load_raw(&xdp_mark(), &opts(ProgType::Xdp)).unwrap();
    let pkt = packet();
    let out = test_run(&prog, &TestRunInput::packet(&pkt)).unwrap();
    assert_eq!(out.retval, 3);
    assert_eq!(out.data_out.len(), pkt.len());
    assert_eq!(out.data_out[0], 0xaa);
    assert_eq!(out.data_out[1..], pkt[1..]);

    let repeated = test_run(
        &prog,
        &TestRunInput {
            repeat: 1000,
            ..TestRunInput::packet(&pkt)
        },
    )
    .unwrap();
    assert_eq!(repeated.retval, 3);
    assert_eq!(repeated.data_out[0], 0xaa);
}

#[test]
fn short_output_buffer_is_reported() {
    require_bpf!();
    let prog = load_raw(&xdp_mark(), &opts(ProgType::Xdp)).unwrap();
    let pkt = packet();
    let e = test_run(
        &prog,
        &TestRunInput {
            data_out_size: Some(10),
            ..TestRunInput::packet(&pkt)
        },
    )
    .unwrap_err();
    match e {
        KernelError::OutputTooSmall {
            what,
            needed,
            given,
        } => assert_eq!((what, needed, given), ("data_out", 64, 10)),
        other => panic!("expected OutputTooSmall, got {other}"),
    }
}

#[test]
fn raw_tracepoint_test_run_reads_context_arguments() {
    require_bpf!();
    // r0 = second argument
    let p = program(vec![ldx(Size::DW, Reg::R0, Reg::R1, 8), Insn::Exit]);
    let prog = load_raw(&p, &opts(ProgType::RawTracepoint)).unwrap();
    let mut ctx = Vec::new();
    ctx.extend_from_slice(&1u64.to_ne_bytes());
    ctx.extend_from_slice(&42u64.to_ne_bytes());
    let out = test_run(&prog, &TestRunInput::context(&ctx)).unwrap();
    assert_eq!(out.retval, 42);
    assert_eq!(out.duration_ns, 0);

    let e = test_run(
        &prog,
        &TestRunInput {
            repeat: 5,
            ..TestRunInput::context(&ctx)
        },
    )
    .unwrap_err();
    assert!(matches!(e, KernelError::Unsupported { .. }), "{e}");
}

#[test]
fn tracepoint_programs_have_no_test_run() {
    require_bpf!();
    let prog = load_raw(&ret(0), &opts(ProgType::Tracepoint)).unwrap();
    let e = test_run(&prog, &TestRunInput::default()).unwrap_err();
    match e {
        KernelError::Unsupported { what } => assert!(what.contains("tracepoint"), "{what}"),
        other => panic!("expected Unsupported, got {other}"),
    }
}

#[test]
fn cgroup_skb_needs_its_attach_type_and_runs() {
    require_bpf!();
    let o = opts(ProgType::CgroupSkb).expected_attach_type(AttachType::CgroupInetEgress);
    let prog = load_raw(&ret(1), &o).unwrap();
    let out = test_run(&prog, &TestRunInput::packet(&packet())).unwrap();
    assert_eq!(out.retval, 1);
}

#[test]
fn rejection_carries_the_log_and_the_failing_instruction() {
    require_bpf!();
    // r0 = *(u32 *)(r2 + 0) with r2 never written.
    let p = program(vec![ldx(Size::W, Reg::R0, Reg::R2, 0), Insn::Exit]);
    let e = load_raw(&p, &opts(ProgType::SocketFilter)).unwrap_err();
    match &e {
        KernelError::Verifier {
            program,
            errno,
            log,
            summary,
        } => {
            assert_eq!(program, "oxbpf_test");
            assert_eq!(*errno, libc::EACCES);
            assert!(log.contains("R2 !read_ok"), "{log}");
            assert_eq!(summary.slot, Some(0));
            assert_eq!(summary.insn, Some(0));
            assert_eq!(summary.message, "R2 !read_ok");
            assert_eq!(summary.insn_text.as_deref(), Some("r0 = *(u32 *)(r2 +0)"));
            assert!(summary.processed_insns.is_some());
        }
        other => panic!("expected Verifier, got {other}"),
    }
    assert!(e.to_string().contains("R2 !read_ok"), "{e}");
}

#[test]
fn slots_map_to_instruction_indexes_across_lddw() {
    require_bpf!();
    let p = program(vec![
        Insn::LoadImm64 {
            dst: Reg::R1,
            value: LoadImm64::Imm(0x1234_5678_9abc),
        },
        ldx(Size::W, Reg::R0, Reg::R3, 0),
        Insn::Exit,
    ]);
    let e = load_raw(&p, &opts(ProgType::SocketFilter)).unwrap_err();
    let KernelError::Verifier { summary, .. } = e else {
        panic!("expected Verifier, got {e}")
    };
    assert_eq!(summary.slot, Some(2));
    assert_eq!(summary.insn, Some(1));
    assert_eq!(summary.message, "R3 !read_ok");
}

#[test]
fn raw_bytes_that_do_not_decode_still_get_the_kernel_verdict() {
    require_bpf!();
    // ja +5; exit: the jump leaves the program (Program::decode refuses this too).
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&[0x05, 0, 5, 0, 0, 0, 0, 0]);
    bytes.extend_from_slice(&[0x95, 0, 0, 0, 0, 0, 0, 0]);
    assert!(oxbpf_isa::Program::decode(&bytes).is_err());
    let e = load_raw(&bytes, &opts(ProgType::SocketFilter)).unwrap_err();
    let KernelError::Verifier { errno, summary, .. } = e else {
        panic!("expected Verifier, got {e}")
    };
    assert_eq!(errno, libc::EINVAL);
    assert!(summary.message.contains("jump out of range"), "{summary:?}");
    assert_eq!(summary.slot, Some(0));
    assert_eq!(summary.insn, None);
}

#[test]
fn a_long_log_in_a_small_buffer_is_fetched_whole() {
    require_bpf!();
    let mut insns: Vec<Insn> = (0..300).map(|i| mov(Reg::R0, i)).collect();
    insns.push(ldx(Size::W, Reg::R0, Reg::R4, 0));
    insns.push(Insn::Exit);
    let o = LoadOptions {
        log_level: 1,
        log_size: 128,
        ..opts(ProgType::SocketFilter)
    };
    let e = load_raw(&program(insns), &o).unwrap_err();
    let KernelError::Verifier {
        errno,
        log,
        summary,
        ..
    } = e
    else {
        panic!("expected Verifier, got {e}")
    };
    assert_eq!(errno, libc::EACCES);
    assert!(log.len() > 128, "log was not regrown: {} bytes", log.len());
    assert!(log.contains("0: (b7) r0 = 0"), "log lost its head");
    assert_eq!(summary.slot, Some(300));
    assert_eq!(summary.message, "R4 !read_ok");
}

#[test]
fn successful_load_keeps_the_log_when_asked() {
    require_bpf!();
    let prog = load_raw(&ret(0), &opts(ProgType::SocketFilter).log_level(1)).unwrap();
    assert!(
        prog.verifier_log().contains("processed"),
        "{}",
        prog.verifier_log()
    );
    let quiet = load_raw(&ret(0), &opts(ProgType::SocketFilter)).unwrap();
    assert_eq!(quiet.verifier_log(), "");
}

#[test]
fn bad_arguments_are_typed_errors() {
    require_bpf!();
    let e = load_raw(&[0u8; 12], &opts(ProgType::SocketFilter)).unwrap_err();
    assert!(
        matches!(
            e,
            KernelError::InvalidInput {
                what: "program",
                ..
            }
        ),
        "{e}"
    );
    let e = load_raw(
        &ret(0),
        &opts(ProgType::SocketFilter).name("way_too_long_name"),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            KernelError::InvalidInput {
                what: "program name",
                ..
            }
        ),
        "{e}"
    );
    let e = load_raw(&ret(0), &opts(ProgType::SocketFilter).name("bad-name")).unwrap_err();
    assert!(e.to_string().contains("'-'"), "{e}");
    let e = load_raw(&ret(0), &opts(ProgType::SocketFilter).license("G\0PL")).unwrap_err();
    assert!(
        matches!(
            e,
            KernelError::InvalidInput {
                what: "license",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn gpl_only_helper_needs_a_gpl_license() {
    require_bpf!();
    // bpf_trace_printk(fp - 8, 8) with an empty string on the stack.
    let p = program(vec![
        st(Size::DW, Reg::FP, -8, 0),
        mov_reg(Reg::R1, Reg::FP),
        add(Reg::R1, -8),
        mov(Reg::R2, 8),
        Insn::Call(CallTarget::Helper(6)),
        mov(Reg::R0, 0),
        Insn::Exit,
    ]);
    let e = load_raw(&p, &opts(ProgType::Tracepoint).license("Proprietary")).unwrap_err();
    let KernelError::Verifier { summary, .. } = e else {
        panic!("expected Verifier, got {e}")
    };
    assert!(summary.message.contains("GPL"), "{summary:?}");
    assert_eq!(summary.slot, Some(4));
    load_raw(&p, &opts(ProgType::Tracepoint)).unwrap();
}

#[test]
fn maps_by_bytes() {
    require_bpf!();
    let map = create_map(&MapSpec::new(MapType::Hash, 4, 8, 16, "oxbpf_t_hash")).unwrap();
    assert_eq!(map.map_type(), Some(MapType::Hash));
    assert_eq!(
        (map.key_size(), map.value_size(), map.max_entries()),
        (4, 8, 16)
    );
    assert!(map.id() > 0);
    let k = 7u32.to_ne_bytes();
    assert_eq!(map.lookup(&k).unwrap(), None);
    map.update(&k, &99u64.to_ne_bytes(), UpdateMode::Any)
        .unwrap();
    assert_eq!(map.lookup(&k).unwrap(), Some(99u64.to_ne_bytes().to_vec()));
    let e = map
        .update(&k, &1u64.to_ne_bytes(), UpdateMode::NoExist)
        .unwrap_err();
    assert_eq!(e.errno(), Some(libc::EEXIST), "{e}");
    let e = map
        .update(&8u32.to_ne_bytes(), &1u64.to_ne_bytes(), UpdateMode::Exist)
        .unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
    map.update(&8u32.to_ne_bytes(), &1u64.to_ne_bytes(), UpdateMode::Any)
        .unwrap();
    let mut keys = map.keys().unwrap();
    keys.sort();
    assert_eq!(
        keys,
        vec![7u32.to_ne_bytes().to_vec(), 8u32.to_ne_bytes().to_vec()]
    );
    assert!(map.delete(&k).unwrap());
    assert!(!map.delete(&k).unwrap());
    let e = map.lookup(&[1, 2]).unwrap_err();
    assert!(matches!(e, KernelError::InvalidInput { .. }), "{e}");
    let e = map.update(&k, &[0; 4], UpdateMode::Any).unwrap_err();
    assert!(e.to_string().contains("expects 8 bytes"), "{e}");
}

#[test]
fn per_cpu_values_have_one_slot_per_possible_cpu() {
    require_bpf!();
    let map = create_map(&MapSpec::new(MapType::PercpuArray, 4, 4, 2, "oxbpf_t_pcpu")).unwrap();
    let cpus = aya::util::nr_cpus().unwrap();
    assert_eq!(map.value_buf_size(), 8 * cpus);
    let v = map.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    assert_eq!(v.len(), 8 * cpus);
}

/// `r0 = *lookup(map, key 0)` (0 when absent); `map` as a lddw value.
fn read_slot0(map: LoadImm64) -> oxbpf_isa::Program {
    program(vec![
        st(Size::W, Reg::FP, -4, 0),
        Insn::LoadImm64 {
            dst: Reg::R1,
            value: map,
        },
        mov_reg(Reg::R2, Reg::FP),
        add(Reg::R2, -4),
        Insn::Call(CallTarget::Helper(1)),
        jeq_imm(Reg::R0, 0, 2),
        ldx(Size::DW, Reg::R0, Reg::R0, 0),
        Insn::Exit,
        mov(Reg::R0, 0),
        Insn::Exit,
    ])
}

#[test]
fn programs_reach_maps_by_fd_and_by_index() {
    require_bpf!();
    let map = create_map(&MapSpec::new(MapType::Array, 4, 8, 1, "oxbpf_t_arr")).unwrap();
    map.update(&0u32.to_ne_bytes(), &1234u64.to_ne_bytes(), UpdateMode::Any)
        .unwrap();

    let by_fd = load_raw(
        &read_slot0(LoadImm64::MapFd(map.raw_fd())),
        &opts(ProgType::SocketFilter),
    )
    .unwrap();
    assert_eq!(
        test_run(&by_fd, &TestRunInput::packet(&packet()))
            .unwrap()
            .retval,
        1234
    );

    let mut o = opts(ProgType::SocketFilter);
    o.maps = vec![map.raw_fd()];
    let by_idx = load_raw(&read_slot0(LoadImm64::MapIdx(0)), &o).unwrap();
    assert_eq!(
        test_run(&by_idx, &TestRunInput::packet(&packet()))
            .unwrap()
            .retval,
        1234
    );

    // An index outside the table is refused before the kernel reads past it.
    let e = load_raw(&read_slot0(LoadImm64::MapIdx(3)), &o).unwrap_err();
    assert!(e.to_string().contains("fd_array index 3"), "{e}");
}

#[test]
fn a_counter_program_updates_its_map_on_every_run() {
    require_bpf!();
    let map = create_map(&MapSpec::new(MapType::Array, 4, 8, 1, "oxbpf_t_cnt")).unwrap();
    // v = lookup(map, 0); if v: atomic *v += 1; r0 = 0
    let p = program(vec![
        st(Size::W, Reg::FP, -4, 0),
        Insn::LoadImm64 {
            dst: Reg::R1,
            value: LoadImm64::MapFd(map.raw_fd()),
        },
        mov_reg(Reg::R2, Reg::FP),
        add(Reg::R2, -4),
        Insn::Call(CallTarget::Helper(1)),
        jeq_imm(Reg::R0, 0, 2),
        mov(Reg::R1, 1),
        Insn::Atomic {
            size: Size::DW,
            op: oxbpf_isa::AtomicOp::Add { fetch: false },
            dst: Reg::R0,
            src: Reg::R1,
            off: 0,
        },
        mov(Reg::R0, 0),
        Insn::Exit,
    ]);
    let prog = load_raw(&p, &opts(ProgType::SocketFilter)).unwrap();
    test_run(
        &prog,
        &TestRunInput {
            repeat: 5,
            ..TestRunInput::packet(&packet())
        },
    )
    .unwrap();
    assert_eq!(
        map.lookup(&0u32.to_ne_bytes()).unwrap(),
        Some(5u64.to_ne_bytes().to_vec())
    );
}

#[test]
fn info_listing_and_nothing_left_behind() {
    require_bpf!();
    let prog = load_raw(&xdp_mark(), &opts(ProgType::Xdp).name("oxbpf_info_t")).unwrap();
    let id = prog.id();
    let info = prog.info().unwrap();
    assert_eq!(info.id, id);
    assert_eq!(info.name, "oxbpf_info_t");
    assert_eq!(info.prog_type, Some(ProgType::Xdp));
    assert!(info.xlated_size > 0);
    assert!(info.verified_insns > 0);
    let jit = std::fs::read_to_string("/proc/sys/net/core/bpf_jit_enable")
        .map(|s| s.trim() != "0")
        .unwrap_or(false);
    assert_eq!(
        info.jited_size > 0,
        jit,
        "jited size {} with bpf_jit_enable {jit}",
        info.jited_size
    );

    assert_eq!(program_info(id).unwrap(), Some(info.clone()));
    let listed = loaded_programs().unwrap();
    assert!(listed
        .iter()
        .any(|p| p.id == id && p.name == "oxbpf_info_t"));

    drop(prog);
    assert!(
        wait_unloaded(id, UNLOAD_WAIT).unwrap(),
        "program {id} still loaded"
    );
    assert_eq!(program_info(id).unwrap(), None);
    assert!(!loaded_programs().unwrap().iter().any(|p| p.id == id));
}

/// `fixtures/callbacks.o`: its program and a created `values` map.
fn callbacks_object() -> (oxbpf_obj::Object, oxbpf_kernel::KernelMap) {
    let bytes = std::fs::read(fixture("callbacks.o")).unwrap();
    let obj = oxbpf_obj::Object::parse(&bytes).unwrap();
    let m = &obj.maps[0];
    assert_eq!(m.name, "values");
    let map = create_map(&MapSpec::new(
        MapType::Array,
        m.key_size,
        m.value_size,
        m.max_entries,
        "values",
    ))
    .unwrap();
    (obj, map)
}

/// Linux wants BTF function information for programs with callbacks; with the object's
/// BTF (`BPF_BTF_LOAD`), `func_info` and `line_info` the program loads, runs, and its
/// verifier log shows the C source.
#[test]
fn programs_with_callbacks_load_with_their_btf() {
    require_bpf!();
    let (obj, map) = callbacks_object();
    let p = obj.program("sum_callbacks").unwrap();
    let mut o = opts(ProgType::SocketFilter);
    o.maps = vec![map.raw_fd()];
    match load_raw(&p.insns, &o) {
        Err(KernelError::Verifier { log, .. }) => {
            assert!(log.contains("missing btf func_info"), "{log}")
        }
        other => panic!("expected a rejection without BTF, got {other:?}"),
    }
    let blob = obj.btf_for_kernel().unwrap().unwrap();
    let btf = oxbpf_kernel::load_btf(&blob).unwrap();
    assert!(btf.id() > 0);
    let with_btf = o.clone().program_btf(&btf, p).log_level(2);
    assert_eq!(with_btf.func_info.len(), 8 * p.func_info.len());
    assert_eq!(p.func_info.len(), 3, "the program and its two callbacks");
    let prog = load_raw(&p.insns, &with_btf).unwrap();
    let log = prog.verifier_log();
    assert!(log.contains("bpf_loop(10, add_index, &sum, 0);"), "{log}");
    // 0 + 1 + ... + 9 from bpf_loop, the keys 0..3 of the zeroed array: 51.
    let out = test_run(&prog, &TestRunInput::packet(&packet())).unwrap();
    assert_eq!(out.retval, 51);
    // The BTF stays with the program after our descriptor is closed.
    drop(btf);
    assert_eq!(
        test_run(&prog, &TestRunInput::packet(&packet()))
            .unwrap()
            .retval,
        51
    );
}

#[test]
fn btf_and_info_records_are_checked() {
    require_bpf!();
    // Not BTF: the kernel's BTF checker says why.
    match oxbpf_kernel::load_btf(&[0u8; 64]) {
        Err(KernelError::BtfRejected { errno, log }) => {
            assert_eq!(errno, libc::EINVAL);
            assert!(!log.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        oxbpf_kernel::load_btf(&[]),
        Err(KernelError::InvalidInput { what: "BTF", .. })
    ));
    let (obj, map) = callbacks_object();
    let p = obj.program("sum_callbacks").unwrap();
    let btf = oxbpf_kernel::load_btf(&obj.btf_for_kernel().unwrap().unwrap()).unwrap();
    let mut o = opts(ProgType::SocketFilter).program_btf(&btf, p);
    o.maps = vec![map.raw_fd()];
    // Records must be whole records of at least the UAPI size.
    let mut bad = o.clone();
    bad.func_info.pop();
    let e = load_raw(&p.insns, &bad).unwrap_err();
    assert!(e.to_string().contains("whole number"), "{e}");
    let mut bad = o.clone();
    bad.line_info_rec_size = 4;
    let e = load_raw(&p.insns, &bad).unwrap_err();
    assert!(e.to_string().contains("line_info"), "{e}");
    // Records without the BTF they refer to.
    let mut bad = o.clone();
    bad.prog_btf_fd = None;
    let e = load_raw(&p.insns, &bad).unwrap_err();
    assert!(e.to_string().contains("prog_btf_fd"), "{e}");
    // Records that do not match the instructions: the kernel refuses.
    let mut bad = o.clone();
    bad.func_info[0..4].copy_from_slice(&1u32.to_ne_bytes());
    assert!(matches!(
        load_raw(&p.insns, &bad),
        Err(KernelError::Verifier { .. })
    ));
    assert!(load_raw(&p.insns, &o).is_ok());
}

#[test]
fn frozen_maps_refuse_user_writes() {
    require_bpf!();
    let m = create_map(&MapSpec::new(MapType::Array, 4, 8, 1, "frozen")).unwrap();
    m.update(&0u32.to_ne_bytes(), &7u64.to_ne_bytes(), UpdateMode::Any)
        .unwrap();
    m.freeze().unwrap();
    let e = m
        .update(&0u32.to_ne_bytes(), &8u64.to_ne_bytes(), UpdateMode::Any)
        .unwrap_err();
    assert!(e.to_string().contains("BPF_MAP_UPDATE_ELEM"), "{e}");
    assert_eq!(
        m.lookup(&0u32.to_ne_bytes()).unwrap(),
        Some(7u64.to_ne_bytes().to_vec())
    );
}
