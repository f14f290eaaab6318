//! Loads every committed fixture object and checks what the loader made of it: programs,
//! section kinds, maps, relocations resolved to map indices at the right instructions,
//! linked calls and line info.

mod common;

use oxbpf_isa::{CallTarget, Insn, LoadImm64, Operand, Reg, Width};
use oxbpf_obj::{
    map_type as mt, prog_type, Direction, MapKind, MapSlotInit, ObjProgram, Object, Pinning,
    ProgramKind, TcAttach, XdpAttach, BPF_F_RDONLY_PROG,
};

fn names(o: &Object) -> Vec<&str> {
    o.programs.iter().map(|p| p.name.as_str()).collect()
}

fn map_idx(o: &Object, name: &str) -> usize {
    o.map(name).unwrap_or_else(|| panic!("no map {name}")).0
}

/// Every local call and code address of `p` lands on the first instruction of a linked
/// function; returns the names of the callees in instruction order.
fn callees(p: &ObjProgram) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _, insn) in p.insns.iter() {
        let is_ref = matches!(
            insn,
            Insn::Call(CallTarget::Local(_))
                | Insn::LoadImm64 {
                    value: LoadImm64::CodeAddr(_),
                    ..
                }
        );
        if !is_ref {
            continue;
        }
        let t = p.insns.branch_target(i).expect("target");
        let f = p
            .functions
            .iter()
            .find(|f| f.start == t)
            .unwrap_or_else(|| panic!("{}: insn {i} targets {t}, not a function start", p.name));
        out.push(f.name.clone());
    }
    out
}

/// Line info is present, sorted, and each record's text is the line of the C source it
/// names.
fn check_line_info(p: &ObjProgram, src: &str) {
    assert!(!p.line_info.is_empty(), "{}: no line info", p.name);
    let lines: Vec<&str> = src.lines().collect();
    let mut last = 0;
    let mut matched = 0;
    for l in &p.line_info {
        assert!(l.insn >= last, "{}: line info not sorted", p.name);
        assert!(l.insn < p.insns.len());
        last = l.insn;
        if l.line == 0 {
            continue; // compiler-generated code
        }
        assert!(
            l.file.ends_with(".c") || l.file.ends_with(".h"),
            "{}: file {}",
            p.name,
            l.file
        );
        if l.file.ends_with(".c") {
            assert_eq!(
                &*l.source,
                lines[l.line as usize - 1],
                "{}: line {} of {}",
                p.name,
                l.line,
                l.file
            );
            assert!(l.column as usize <= lines[l.line as usize - 1].len() + 1);
            matched += 1;
        }
    }
    assert!(matched > 0, "{}: no line matched its source", p.name);
}

fn src(name: &str) -> String {
    std::fs::read_to_string(common::fixture_src(name)).unwrap()
}

#[test]
fn bcc_hello_world() {
    let o = common::load(&common::root().join("examples/hello_world.o"));
    assert_eq!(names(&o), ["hello_world"]);
    let p = &o.programs[0];
    assert_eq!(p.section, ".text");
    assert_eq!(p.kind, ProgramKind::Unspecified);
    assert_eq!(p.kind.prog_type(), prog_type::UNSPEC);
    assert_eq!(o.license, "GPL", "default license");
    assert_eq!(o.kernel_version, None);
    // The format string went to .rodata through the header's bpf_trace_printk macro.
    assert_eq!(o.maps.len(), 1);
    let m = &o.maps[0];
    assert_eq!(m.name, ".rodata");
    assert_eq!(m.kind, MapKind::Rodata);
    assert_eq!(
        (m.map_type, m.key_size, m.value_size, m.max_entries),
        (mt::ARRAY, 4, 14, 1)
    );
    assert_eq!(m.flags, BPF_F_RDONLY_PROG);
    assert_eq!(m.initial_data.as_deref(), Some(&b"Hello, World!\0"[..]));
    assert_eq!(
        p.insns.insns(),
        &[
            Insn::LoadImm64 {
                dst: Reg::R1,
                value: LoadImm64::MapIdxValue { idx: 0, offset: 0 }
            },
            Insn::Alu {
                width: Width::W64,
                op: oxbpf_isa::AluOp::Mov,
                dst: Reg::R2,
                src: Operand::Imm(14)
            },
            Insn::Call(CallTarget::Helper(6)),
            Insn::Alu {
                width: Width::W64,
                op: oxbpf_isa::AluOp::Mov,
                dst: Reg::R0,
                src: Operand::Imm(0)
            },
            Insn::Exit,
        ]
    );
    let hello = std::fs::read_to_string(common::root().join("examples/hello_world.c")).unwrap();
    check_line_info(p, &hello);
    assert_eq!(p.line_for(2).unwrap().line, 3);
    assert!(p.line_for(2).unwrap().source.contains("bpf_trace_printk"));
    assert_eq!(p.line_for(4).unwrap().line, 4);
    assert_eq!(p.func_info.len(), 1);
    assert_eq!(p.func_info[0].name, "hello_world");
}

#[test]
fn btf_maps_of_every_type() {
    let o = common::fixture("maps_btf");
    // (name, type, key size, value size, max entries, flags, map_extra)
    let want: &[(&str, u32, u32, u32, u32, u32, u64)] = &[
        ("array_map", mt::ARRAY, 4, 8, 4, 0, 0),
        ("hash_map", mt::HASH, 4, 20, 1024, 0, 0),
        ("percpu_array_map", mt::PERCPU_ARRAY, 4, 8, 2, 0, 0),
        ("percpu_hash_map", mt::PERCPU_HASH, 8, 4, 16, 0, 0),
        ("lru_map", mt::LRU_HASH, 4, 8, 128, 0, 0),
        ("lru_percpu_map", mt::LRU_PERCPU_HASH, 4, 4, 64, 0, 0),
        ("lpm_map", mt::LPM_TRIE, 8, 4, 256, 1, 0),
        ("queue_map", mt::QUEUE, 0, 4, 32, 0, 0),
        ("stack_map", mt::STACK, 0, 8, 8, 0, 0),
        ("bloom_map", mt::BLOOM_FILTER, 0, 4, 100, 0, 3),
        ("ringbuf_map", mt::RINGBUF, 0, 0, 4096, 0, 0),
        ("perf_map", mt::PERF_EVENT_ARRAY, 4, 4, 0, 0, 0),
        ("prog_array_map", mt::PROG_ARRAY, 4, 4, 4, 0, 0),
    ];
    assert_eq!(o.maps.len(), want.len());
    // Maps come in section offset order, i.e. declaration order.
    let order: Vec<&str> = o.maps.iter().map(|m| m.name.as_str()).collect();
    let declared: Vec<&str> = want.iter().map(|w| w.0).collect();
    assert_eq!(order, declared);
    for &(name, ty, k, v, max, flags, extra) in want {
        let (_, m) = o.map(name).unwrap();
        assert_eq!(m.kind, MapKind::Regular, "{name}");
        assert_eq!(m.section, ".maps", "{name}");
        assert_eq!(
            (
                m.map_type,
                m.key_size,
                m.value_size,
                m.max_entries,
                m.flags,
                m.map_extra
            ),
            (ty, k, v, max, flags, extra),
            "{name}"
        );
        assert!(m.initial_data.is_none() && m.inner.is_none() && m.init_slots.is_empty());
    }
    assert_eq!(o.map("lru_map").unwrap().1.pinning, Pinning::ByName);
    assert_eq!(o.map("array_map").unwrap().1.pinning, Pinning::None);
    // BTF key/value types are kept (struct event for hash_map's value).
    let btf = o.btf.as_ref().unwrap();
    let hm = o.map("hash_map").unwrap().1;
    assert_eq!(btf.type_name(hm.btf_value_type_id), "event");
    assert_eq!(btf.size_of(hm.btf_value_type_id).unwrap(), 20);
    assert_eq!(
        btf.type_name(o.map("lpm_map").unwrap().1.btf_key_type_id),
        "lpm_key"
    );

    assert_eq!(names(&o), ["use_maps"]);
    let p = &o.programs[0];
    assert_eq!(
        p.kind,
        ProgramKind::Tracepoint {
            category: "syscalls".into(),
            name: "sys_enter_openat".into()
        }
    );
    // Every map is referenced, each lddw is a MapIdx in r1 or r2 (the map argument).
    let refs = p.map_references();
    let mut used: Vec<usize> = refs.iter().map(|r| r.map).collect();
    used.sort();
    used.dedup();
    assert_eq!(used, (0..o.maps.len()).collect::<Vec<_>>());
    for r in &refs {
        assert_eq!(r.value_offset, None);
        match p.insns.insns()[r.insn] {
            Insn::LoadImm64 { dst, value } => {
                assert_eq!(value, LoadImm64::MapIdx(r.map as i32));
                assert!(dst == Reg::R1 || dst == Reg::R2, "{dst:?}");
            }
            other => panic!("{other:?}"),
        }
    }
    // The array_map reference feeds bpf_map_lookup_elem (helper 1) and the
    // prog_array_map reference feeds bpf_tail_call (helper 12): the next helper call
    // after each lddw.
    let next_helper = |insn: usize| {
        p.insns.insns()[insn..]
            .iter()
            .find_map(|i| match i {
                Insn::Call(CallTarget::Helper(h)) => Some(*h),
                _ => None,
            })
            .unwrap()
    };
    let first_ref = |m: &str| refs.iter().find(|r| r.map == map_idx(&o, m)).unwrap().insn;
    assert_eq!(next_helper(first_ref("array_map")), 1);
    assert_eq!(next_helper(first_ref("hash_map")), 2);
    assert_eq!(next_helper(first_ref("queue_map")), 87); // bpf_map_push_elem
    assert_eq!(next_helper(first_ref("ringbuf_map")), 130);
    assert_eq!(next_helper(first_ref("perf_map")), 25);
    assert_eq!(next_helper(first_ref("prog_array_map")), 12);
    check_line_info(p, &src("maps_btf"));
}

#[test]
fn legacy_maps_section() {
    let o = common::fixture("maps_legacy");
    assert_eq!(o.license, "Dual BSD/GPL");
    assert_eq!(o.kernel_version, Some(0x050a00));
    assert_eq!(o.maps.len(), 2);
    let c = &o.maps[0];
    assert_eq!(c.name, "legacy_counts");
    assert_eq!(c.section, "maps");
    assert_eq!(
        (c.map_type, c.key_size, c.value_size, c.max_entries, c.flags),
        (mt::HASH, 4, 8, 256, 0)
    );
    let a = &o.maps[1];
    assert_eq!(a.name, "legacy_array");
    assert_eq!(
        (a.map_type, a.key_size, a.value_size, a.max_entries),
        (mt::ARRAY, 4, 4, 8)
    );
    assert_eq!(a.btf_key_type_id, 0);
    let p = o.program("count_packets").unwrap();
    assert_eq!(p.kind, ProgramKind::SocketFilter);
    let refs = p.map_references();
    assert_eq!(
        refs.iter().map(|r| r.map).collect::<Vec<_>>(),
        [0, 0, 1],
        "lookup and update of legacy_counts, lookup of legacy_array"
    );
    check_line_info(p, &src("maps_legacy"));
}

#[test]
fn maps_with_initial_values() {
    let o = common::fixture("maps_in_maps");
    let (_, jt) = o.map("jump_table").unwrap();
    assert_eq!(jt.map_type, mt::PROG_ARRAY);
    assert_eq!((jt.key_size, jt.value_size, jt.max_entries), (4, 4, 4));
    assert_eq!(
        jt.init_slots,
        [MapSlotInit {
            index: 2,
            target: "tail_target".into()
        }]
    );
    let (_, outer) = o.map("outer_map").unwrap();
    assert_eq!(outer.map_type, mt::ARRAY_OF_MAPS);
    assert_eq!(
        (outer.key_size, outer.value_size, outer.max_entries),
        (4, 4, 4)
    );
    let inner = outer.inner.as_ref().expect("inner map definition");
    assert_eq!(
        (
            inner.map_type,
            inner.key_size,
            inner.value_size,
            inner.max_entries
        ),
        (mt::ARRAY, 4, 4, 1)
    );
    assert_eq!(
        outer.init_slots,
        [
            MapSlotInit {
                index: 1,
                target: "inner_a".into()
            },
            MapSlotInit {
                index: 3,
                target: "inner_b".into()
            }
        ]
    );
    assert!(o.map("inner_a").is_some() && o.map("inner_b").is_some());
    // tail_target is a program of its own (it is in a program section).
    let mut progs = names(&o);
    progs.sort();
    assert_eq!(progs, ["dispatch", "tail_target"]);
    let p = o.program("dispatch").unwrap();
    let used: Vec<usize> = p.map_references().iter().map(|r| r.map).collect();
    assert_eq!(used, [map_idx(&o, "outer_map"), map_idx(&o, "jump_table")]);
}

#[test]
fn global_data_sections() {
    let o = common::fixture("global_data");
    let names_kinds: Vec<(&str, MapKind)> =
        o.maps.iter().map(|m| (m.name.as_str(), m.kind)).collect();
    assert_eq!(
        names_kinds,
        [
            (".data", MapKind::Data),
            (".rodata", MapKind::Rodata),
            (".bss", MapKind::Bss),
            (".rodata.str1.1", MapKind::Rodata)
        ]
    );
    for m in &o.maps {
        assert_eq!((m.map_type, m.key_size, m.max_entries), (mt::ARRAY, 4, 1));
        assert_eq!(
            m.flags,
            if m.kind == MapKind::Rodata {
                BPF_F_RDONLY_PROG
            } else {
                0
            }
        );
        assert_eq!(
            m.initial_data.as_ref().unwrap().len(),
            m.value_size as usize
        );
    }
    let data = &o.maps[0];
    let d = data.initial_data.as_ref().unwrap();
    assert_eq!(&d[0..4], &5u32.to_le_bytes(), "counter = 5");
    for (i, v) in [1u64, 2, 3, 4].iter().enumerate() {
        assert_eq!(&d[8 + i * 8..16 + i * 8], &v.to_le_bytes(), "totals[{i}]");
    }
    let sym = |m: &oxbpf_obj::MapDef, n: &str| {
        m.symbols
            .iter()
            .find(|s| s.name == n)
            .map(|s| (s.offset, s.size))
    };
    assert_eq!(sym(data, "counter"), Some((0, 4)));
    assert_eq!(sym(data, "totals"), Some((8, 32)));
    let ro = &o.maps[1];
    let r = ro.initial_data.as_ref().unwrap();
    assert_eq!(sym(ro, "target_pid"), Some((0, 4)));
    assert_eq!(&r[0..4], &42u32.to_le_bytes());
    let (goff, gsize) = sym(ro, "greeting").unwrap();
    assert_eq!(&r[goff as usize..(goff + gsize) as usize], b"hi there\0");
    let bss = &o.maps[2];
    assert_eq!(bss.value_size, 40);
    assert!(bss.initial_data.as_ref().unwrap().iter().all(|&b| b == 0));
    assert_eq!(sym(bss, "scratch"), Some((8, 32)));
    let strs = &o.maps[3];
    assert_eq!(strs.initial_data.as_deref(), Some(&b"abc\0literal\0"[..]));

    let p = o.program("use_globals").unwrap();
    assert_eq!(
        p.kind,
        ProgramKind::Xdp {
            frags: false,
            attach: XdpAttach::Interface
        }
    );
    let refs: Vec<(usize, Option<u32>)> = p
        .map_references()
        .iter()
        .map(|r| (r.map, r.value_offset))
        .collect();
    // Global data is always addressed as a value pointer.
    assert!(refs.iter().all(|r| r.1.is_some()));
    for want in [
        (0, Some(0)), // counter
        (0, Some(8)), // totals
        (1, Some(0)), // target_pid
        (2, Some(8)), // scratch
        (2, Some(0)), // hits
        (3, Some(0)), // "abc"
        (3, Some(4)), // "literal"
    ] {
        assert!(refs.contains(&want), "missing {want:?} in {refs:?}");
    }
    // The greeting argument of bpf_printk: .rodata at greeting's offset.
    assert!(refs.contains(&(1, Some(goff))));
    // starts_with_a is a global .text function: linked into the program, not a program.
    assert_eq!(names(&o), ["use_globals"]);
    assert_eq!(callees(p), ["starts_with_a"]);
    check_line_info(p, &src("global_data"));
}

#[test]
fn bpf_to_bpf_calls_are_linked() {
    let o = common::fixture("calls");
    // Only the three program-section functions are programs: every .text function is
    // called by someone.
    assert_eq!(names(&o), ["caller_one", "caller_two", "caller_loop"]);
    let fnames: Vec<(&str, &str, bool)> = o
        .functions
        .iter()
        .map(|f| (f.name.as_str(), f.section.as_str(), f.global))
        .collect();
    assert_eq!(
        fnames,
        [
            ("global_add", ".text", true),
            ("sum_squares", ".text", false),
            ("square", ".text", false),
            ("loop_body", ".text", false),
            ("caller_one", "tp/sched/sched_switch", true),
            ("caller_two", "tp/sched/sched_wakeup", true),
            ("caller_loop", "raw_tp/sys_enter", true),
        ]
    );

    let one = o.program("caller_one").unwrap();
    let linked: Vec<&str> = one.functions.iter().map(|f| f.name.as_str()).collect();
    // Entry first, then callees depth first as libbpf and aya link them: sum_squares,
    // its callee square (called twice, placed once), then global_add.
    assert_eq!(
        linked,
        ["caller_one", "sum_squares", "square", "global_add"]
    );
    assert_eq!(
        callees(one),
        ["sum_squares", "global_add", "square", "square"]
    );
    let lens: Vec<usize> = one.functions.iter().map(|f| f.len).collect();
    assert_eq!(lens, [7, 7, 3, 4]);
    assert_eq!(one.insns.len(), 21);
    assert_eq!(one.func_info.len(), 4);
    for (fi, f) in one.func_info.iter().zip(&one.functions) {
        assert_eq!((fi.name.as_str(), fi.insn), (f.name.as_str(), f.start));
    }

    let two = o.program("caller_two").unwrap();
    let linked: Vec<&str> = two.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(linked, ["caller_two", "square", "global_add"]);
    assert_eq!(callees(two), ["square", "global_add"]);

    // bpf_loop's callback: a code-address lddw to loop_body.
    let lp = o.program("caller_loop").unwrap();
    assert_eq!(
        lp.kind,
        ProgramKind::RawTracepoint {
            name: "sys_enter".into(),
            writable: false
        }
    );
    assert_eq!(callees(lp), ["loop_body"]);
    let code_addr = lp.insns.iter().find_map(|(i, _, insn)| match insn {
        Insn::LoadImm64 {
            dst,
            value: LoadImm64::CodeAddr(_),
        } => Some((i, *dst)),
        _ => None,
    });
    let (ci, dst) = code_addr.expect("code address");
    assert_eq!(dst, Reg::R2, "second argument of bpf_loop");
    assert!(matches!(
        lp.insns.insns()[ci..]
            .iter()
            .find(|i| matches!(i, Insn::Call(_))),
        Some(Insn::Call(CallTarget::Helper(181)))
    ));
    for p in &o.programs {
        check_line_info(p, &src("calls"));
        // Line info covers the linked callees too.
        for f in &p.functions {
            assert!(
                p.line_info
                    .iter()
                    .any(|l| l.insn >= f.start && l.insn < f.start + f.len),
                "{}: no line info in {}",
                p.name,
                f.name
            );
        }
    }
}

#[test]
fn loops() {
    let o = common::fixture("loops");
    assert_eq!(names(&o), ["sum_loop", "unrolled", "strlen_loop"]);
    let backward = |p: &ObjProgram| {
        p.insns
            .iter()
            .any(|(i, _, _)| p.insns.branch_target(i).is_some_and(|t| t <= i))
    };
    assert!(
        backward(o.program("sum_loop").unwrap()),
        "sum_loop keeps its loop"
    );
    assert!(
        !backward(o.program("unrolled").unwrap()),
        "unrolled has no loop"
    );
    assert!(backward(o.program("strlen_loop").unwrap()));
    assert_eq!(
        o.program("strlen_loop").unwrap().kind,
        ProgramKind::Kprobe {
            function: "do_sys_openat2".into(),
            offset: 0,
            ret: false
        }
    );
    for p in &o.programs {
        check_line_info(p, &src("loops"));
    }
}

#[test]
fn strings() {
    let o = common::fixture("strings");
    let p = o.program("match_comm").unwrap();
    // Both format strings are in .rodata: "bash ran: %s" (bpf_printk) and "comm=%s"
    // (BCC-style bpf_trace_printk).
    let (ri, ro) = o.map(".rodata").unwrap();
    let data = ro.initial_data.as_ref().unwrap();
    let find = |needle: &[u8]| {
        data.windows(needle.len())
            .position(|w| w == needle)
            .unwrap_or_else(|| panic!("{:?} not in .rodata", String::from_utf8_lossy(needle)))
            as u32
    };
    let a = find(b"bash ran: %s\0");
    let b = find(b"comm=%s\0");
    let refs: Vec<(usize, Option<u32>)> = p
        .map_references()
        .iter()
        .map(|r| (r.map, r.value_offset))
        .collect();
    assert!(refs.contains(&(ri, Some(a))), "{refs:?}");
    assert!(refs.contains(&(ri, Some(b))), "{refs:?}");
    check_line_info(p, &src("strings"));
}

#[test]
fn section_kinds() {
    use ProgramKind as K;
    let o = common::fixture("sections");
    let s = |x: &str| x.to_string();
    let want: Vec<(&str, ProgramKind, u32)> = vec![
        (
            "tracepoint_prog",
            K::Tracepoint {
                category: s("syscalls"),
                name: s("sys_enter_openat"),
            },
            prog_type::TRACEPOINT,
        ),
        (
            "tp_prog",
            K::Tracepoint {
                category: s("sched"),
                name: s("sched_process_exec"),
            },
            prog_type::TRACEPOINT,
        ),
        (
            "kprobe_prog",
            K::Kprobe {
                function: s("do_unlinkat"),
                offset: 0,
                ret: false,
            },
            prog_type::KPROBE,
        ),
        (
            "kretprobe_prog",
            K::Kprobe {
                function: s("do_unlinkat"),
                offset: 0,
                ret: true,
            },
            prog_type::KPROBE,
        ),
        (
            "fentry_prog",
            K::Fentry {
                function: s("do_unlinkat"),
                sleepable: false,
            },
            prog_type::TRACING,
        ),
        (
            "fexit_prog",
            K::Fexit {
                function: s("do_unlinkat"),
                sleepable: false,
            },
            prog_type::TRACING,
        ),
        (
            "uprobe_prog",
            K::Uprobe {
                binary: s("/bin/bash"),
                function: s("readline"),
                offset: 0,
                ret: false,
                sleepable: false,
            },
            prog_type::KPROBE,
        ),
        (
            "uretprobe_prog",
            K::Uprobe {
                binary: s("/bin/bash"),
                function: s("readline"),
                offset: 0,
                ret: true,
                sleepable: false,
            },
            prog_type::KPROBE,
        ),
        (
            "xdp_prog",
            K::Xdp {
                frags: false,
                attach: XdpAttach::Interface,
            },
            prog_type::XDP,
        ),
        ("socket_prog", K::SocketFilter, prog_type::SOCKET_FILTER),
        (
            "classifier_prog",
            K::SchedCls {
                attach: TcAttach::Unspecified,
            },
            prog_type::SCHED_CLS,
        ),
        (
            "raw_tp_prog",
            K::RawTracepoint {
                name: s("sched_switch"),
                writable: false,
            },
            prog_type::RAW_TRACEPOINT,
        ),
        (
            "tp_btf_prog",
            K::TpBtf {
                name: s("sched_switch"),
            },
            prog_type::TRACING,
        ),
        ("perf_event_prog", K::PerfEvent, prog_type::PERF_EVENT),
        (
            "cgroup_skb_prog",
            K::CgroupSkb { direction: None },
            prog_type::CGROUP_SKB,
        ),
        (
            "cgroup_egress_prog",
            K::CgroupSkb {
                direction: Some(Direction::Egress),
            },
            prog_type::CGROUP_SKB,
        ),
        (
            "kprobe_offset_prog",
            K::Kprobe {
                function: s("tcp_v4_connect"),
                offset: 0x10,
                ret: false,
            },
            prog_type::KPROBE,
        ),
    ];
    assert_eq!(o.programs.len(), want.len());
    for (p, (name, kind, pt)) in o.programs.iter().zip(&want) {
        assert_eq!(&p.name, name);
        assert_eq!(&p.kind, kind, "{name}");
        assert_eq!(p.kind.prog_type(), *pt, "{name}");
        assert_eq!(
            ProgramKind::from_section(&p.section).unwrap(),
            p.kind,
            "{name}"
        );
        // Each program is `return <constant>; `: mov r0, imm; exit.
        assert_eq!(p.insns.len(), 2, "{name}");
        assert_eq!(p.insns.insns()[1], Insn::Exit);
    }

    let o = common::fixture("sections_tc");
    let kinds: Vec<(&str, ProgramKind)> = o
        .programs
        .iter()
        .map(|p| (p.name.as_str(), p.kind.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                "tc_prog",
                K::SchedCls {
                    attach: TcAttach::Unspecified
                }
            ),
            (
                "tc_ingress_prog",
                K::SchedCls {
                    attach: TcAttach::Ingress
                }
            ),
            (
                "tcx_egress_prog",
                K::SchedCls {
                    attach: TcAttach::TcxEgress
                }
            ),
            ("action_prog", K::SchedAct),
        ]
    );
}

#[test]
fn core_relocations_are_kept() {
    use oxbpf_obj::CoreRelocKind as C;
    let o = common::fixture("core");
    assert!(o.has_core_relocations());
    let p = o.program("read_parent").unwrap();
    let recs: Vec<(&str, &str, C)> = p
        .core_relocations
        .iter()
        .map(|r| (r.type_name.as_str(), r.access.as_str(), r.kind))
        .collect();
    assert_eq!(
        recs,
        [
            ("task_struct___local", "0:2", C::FieldByteOffset), // real_parent
            ("task_struct___local", "0:1", C::FieldByteOffset), // tgid
            ("task_struct___local", "0:1", C::FieldExists),     // bpf_core_field_exists
        ]
    );
    assert_eq!(
        p.ensure_no_core_relocations().unwrap_err().to_string(),
        "program `read_parent`, instruction 1: unsupported: CO-RE relocation (FieldByteOffset \
         of `task_struct___local`, access 0:2) needs the target kernel's BTF"
    );
    assert!(o.program("read_parent").is_some());
    assert!(common::fixture("calls").programs[0]
        .ensure_no_core_relocations()
        .is_ok());
    // Each record points at the instruction that carries the offset: an ALU add of the
    // field offset for the reads, a mov of the answer for the existence check.
    for r in &p.core_relocations {
        match (r.kind, p.insns.insns()[r.insn]) {
            (
                C::FieldByteOffset,
                Insn::Alu {
                    src: Operand::Imm(off),
                    ..
                },
            ) => {
                assert!(off == 8 || off == 4, "{off}");
            }
            (
                C::FieldExists,
                Insn::Alu {
                    src: Operand::Imm(1),
                    ..
                },
            ) => {}
            (k, i) => panic!("{k:?} at {i:?}"),
        }
    }
}

#[test]
fn vmlinux_style_program() {
    let o = common::fixture("vmlinux_style");
    let (_, ev) = o.map("events").unwrap();
    assert_eq!((ev.map_type, ev.max_entries), (mt::RINGBUF, 4096));
    let p = o.program("unlink_entry").unwrap();
    assert_eq!(
        p.kind,
        ProgramKind::Kprobe {
            function: "do_unlinkat".into(),
            offset: 0,
            ret: false
        }
    );
    // BPF_KPROBE's wrapper reads di/si from pt_regs (offsets 112 and 104 on x86).
    let loads: Vec<i16> = p
        .insns
        .insns()
        .iter()
        .filter_map(|i| match i {
            Insn::Load {
                src: Reg::R1, off, ..
            } => Some(*off),
            _ => None,
        })
        .collect();
    assert!(loads.contains(&112), "{loads:?}");
    assert!(
        !p.core_relocations.is_empty(),
        "BPF_CORE_READ records CO-RE relocations"
    );
    check_line_info(p, &src("vmlinux_style"));
}

#[test]
fn every_fixture_loads_and_is_consistent() {
    for path in common::sources() {
        let o = common::load(&path.with_extension("o"));
        assert!(oxbpf_obj::fuzzing::check_object(o.elf_bytes()));
        assert!(!o.programs.is_empty(), "{}", path.display());
        for p in &o.programs {
            assert_eq!(p.functions[0].name, p.name);
            assert_eq!(p.functions[0].start, 0);
            let total: usize = p.functions.iter().map(|f| f.len).sum();
            assert_eq!(total, p.insns.len(), "{}", p.name);
            // Instructions survive a byte round trip.
            let back = oxbpf_isa::Program::decode(&p.insns.to_bytes()).unwrap();
            assert_eq!(back, p.insns);
            for r in p.map_references() {
                assert!(r.map < o.maps.len());
                if let Some(off) = r.value_offset {
                    assert!(o.maps[r.map].kind.is_global_data());
                    assert!(off <= o.maps[r.map].value_size);
                } else {
                    assert_eq!(o.maps[r.map].kind, MapKind::Regular);
                }
            }
        }
    }
}

#[test]
fn btf_for_the_kernel_has_datasec_layout() {
    use oxbpf_obj::btf::{Btf, BtfKind, BtfTypeData};
    let o = common::fixture("global_data");
    let fixed = Btf::parse(&o.btf_for_kernel().unwrap().unwrap()).unwrap();
    let raw = o.btf.as_ref().unwrap();
    let mut seen = 0;
    for (id, t) in fixed.types() {
        let BtfTypeData::DataSec(entries) = &t.data else {
            continue;
        };
        let name = fixed.type_name(id);
        // clang left these zero; now they are the section's size and symbol offsets.
        assert_eq!(raw.type_by_id(id).unwrap().size_or_type, 0, "{name}");
        let map = o.map(name);
        if let Some((_, m)) = map {
            assert_eq!(t.size_or_type, m.value_size, "{name}");
            for e in entries {
                let var = fixed.type_name(e.type_id);
                let sym = m.symbols.iter().find(|s| s.name == var).unwrap();
                assert_eq!(e.offset, sym.offset, "{name}: {var}");
            }
            seen += 1;
        } else {
            assert_eq!(name, "license");
            assert_eq!(t.size_or_type, 4, "\"GPL\\0\"");
        }
        assert_eq!(t.kind, BtfKind::DataSec);
    }
    assert_eq!(seen, 3, ".data, .rodata, .bss");
    // Ready-made BPF_PROG_LOAD records.
    let p = o.program("use_globals").unwrap();
    assert_eq!(p.btf_func_info_records().len(), 8 * p.func_info.len());
    let li = p.btf_line_info_records();
    assert_eq!(li.len(), 16 * p.line_info.len());
    let first_line = u32::from_ne_bytes(li[12..16].try_into().unwrap()) >> 10;
    assert_eq!(first_line, p.line_info[0].line);
    assert_eq!(
        raw.string_at(p.line_info[0].line_off),
        Some(&*p.line_info[0].source)
    );
}

#[test]
fn objects_are_send_and_sync() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Object>();
    check::<ObjProgram>();
    check::<oxbpf_obj::MapDef>();
    check::<oxbpf_obj::ObjError>();
}

#[test]
fn examples() {
    let o = common::load(&common::root().join("examples/count_opens.o"));
    assert_eq!(names(&o), ["count_opens"]);
    assert_eq!(
        o.programs[0].kind,
        ProgramKind::Tracepoint {
            category: "syscalls".into(),
            name: "sys_enter_openat".into()
        }
    );
    let (i, m) = o.map("opens").unwrap();
    assert_eq!(
        (m.map_type, m.key_size, m.value_size, m.max_entries),
        (mt::HASH, 4, 8, 1024)
    );
    assert!(o.programs[0]
        .map_references()
        .iter()
        .any(|r| r.map == i && r.value_offset.is_none()));

    let o = common::load(&common::root().join("examples/xdp_count.o"));
    assert_eq!(names(&o), ["xdp_count"]);
    let maps: Vec<(&str, u32, u32)> = o
        .maps
        .iter()
        .map(|m| (m.name.as_str(), m.map_type, m.max_entries))
        .collect();
    assert_eq!(
        maps,
        [(".bss", mt::ARRAY, 1), ("protocols", mt::ARRAY, 256)]
    );
    let refs: Vec<(usize, Option<u32>)> = o.programs[0]
        .map_references()
        .iter()
        .map(|r| (r.map, r.value_offset))
        .collect();
    assert_eq!(refs, [(0, Some(0)), (1, None)]);
}
