//! The C corpus (`tests/programs/*.c`, committed objects) run by the runtime on every
//! engine, unverified (checked mode) and verified (the JIT without run-time checks): r0,
//! trace lines and map contents, as the comments of each program state.

mod corpus;

use corpus::{global, i64s, load_setup as load, object, u64s, Setup};
use oxbpf_runtime::loader::{LoadedObject, PerfRecord, RunInput};
use oxbpf_runtime::maps::cpu;
use oxbpf_runtime::task::{CurrentTask, Task};

fn run(o: &LoadedObject, prog: &str) -> u64 {
    let p = o
        .program(prog)
        .unwrap_or_else(|| panic!("no program {prog}"));
    // raw_tp programs get the u64 argument array as their context.
    let mut ctx = [0u8; 16];
    p.run_ctx(&mut ctx)
        .unwrap_or_else(|e| panic!("{prog}: {e}"))
}

fn messages(o: &LoadedObject) -> Vec<String> {
    o.trace()
        .read()
        .iter()
        .map(|r| r.msg_str().into_owned())
        .collect()
}

fn each_engine(f: impl Fn(Setup)) {
    for e in corpus::setups() {
        f(e);
    }
}

#[test]
fn hello() {
    each_engine(|e| {
        let o = load("hello", e);
        assert_eq!(run(&o, "hello"), 0);
        let recs = o.trace().read();
        assert_eq!(recs.len(), 1);
        assert_eq!(&*recs[0].msg, b"Hello, World!");
        let (tgid, tid) = Task::thread_ids();
        assert_eq!(recs[0].pid, tid);
        let line = recs[0].line();
        assert!(
            line.ends_with(": bpf_trace_printk: Hello, World!"),
            "{line}"
        );
        assert!(line.contains(&format!("-{tid:<7} [")), "{line} {tgid}");
    });
}

#[test]
fn maps_array() {
    each_engine(|e| {
        let o = load("maps_array", e);
        assert_eq!(run(&o, "array_ops"), 10);
        let counts = o.maps().typed::<u32, u64>("counts").unwrap();
        for k in 0..4 {
            assert_eq!(counts.get(&k).unwrap(), Some(k as u64 + 1));
        }
        // Per-CPU: 7 on the running CPU, 0 elsewhere.
        let pcpu = o.map("pcpu").unwrap();
        let all = u64s(&pcpu.lookup(&0u32.to_ne_bytes()).unwrap().unwrap());
        assert_eq!(all.len(), cpu::num_cpus());
        assert_eq!(all.iter().sum::<u64>(), 7);
        assert_eq!(all[cpu::current_cpu()], 7);
    });
}

#[test]
fn maps_hash() {
    each_engine(|e| {
        let o = load("maps_hash", e);
        assert_eq!(run(&o, "hash_ops"), 802);
        let table = o.map("table").unwrap();
        let mut entries: Vec<(u32, Vec<u64>)> = table
            .entries()
            .unwrap()
            .into_iter()
            .map(|(k, v)| (u32::from_ne_bytes(k.try_into().unwrap()), u64s(&v)))
            .collect();
        entries.sort();
        assert_eq!(
            entries,
            vec![
                (0, vec![0, 0]),
                (1, vec![1, 1]),
                (2, vec![2, 4]),
                (4, vec![4, 16]),
                (5, vec![5, 26]),
                (6, vec![50, 51]),
                (7, vec![7, 49]),
            ]
        );
        let recent = o.maps().typed::<u32, u32>("recent").unwrap();
        for k in 0..16 {
            assert_eq!(recent.get(&k).unwrap(), Some(k * 10));
        }
        let pc = u64s(
            &o.map("per_cpu")
                .unwrap()
                .lookup(&1u32.to_ne_bytes())
                .unwrap()
                .unwrap(),
        );
        assert_eq!(pc[cpu::current_cpu()], 11);
    });
}

#[test]
fn queue_stack_bloom() {
    each_engine(|e| {
        let obj = object("queue_stack");
        let o = load("queue_stack", e);
        assert_eq!(run(&o, "queue_ops"), 0);
        assert_eq!(
            i64s(&global(&obj, &o, "results")),
            vec![-7, 11, 22, 4, 2, -2, 0, -2]
        );
    });
}

#[test]
fn lpm() {
    each_engine(|e| {
        let o = load("lpm", e);
        assert_eq!(run(&o, "lpm_ops"), 3210);
    });
}

#[test]
fn ringbuf() {
    each_engine(|e| {
        let o = load("ringbuf", e);
        // Three records of 8 + 16 bytes are in the ring (one of them discarded).
        assert_eq!(run(&o, "ringbuf_ops"), 72);
        let recs = o.ring_buffer("events").unwrap().drain();
        assert_eq!(recs.len(), 2);
        assert_eq!(&recs[0][..4], &1u32.to_ne_bytes());
        assert_eq!(&recs[0][4..10], b"output");
        assert_eq!(&recs[1][..4], &2u32.to_ne_bytes());
        assert_eq!(&recs[1][4..13], b"reserved\0");
    });
}

#[test]
fn global_data() {
    each_engine(|e| {
        let obj = object("global_data");
        let o = load("global_data", e);
        assert_eq!(run(&o, "globals"), 6);
        assert_eq!(u64s(&global(&obj, &o, "counter")), vec![6]);
        assert_eq!(u64s(&global(&obj, &o, "bss_total")), vec![18]);
        assert_eq!(messages(&o), vec!["oxbpf 3"]);
        assert_eq!(run(&o, "globals"), 7);
        assert_eq!(u64s(&global(&obj, &o, "bss_total")), vec![18 + 21]);
    });
}

#[test]
fn calls() {
    each_engine(|e| {
        let o = load("calls", e);
        assert_eq!(run(&o, "calls"), 551_313);
    });
}

#[test]
fn tail_calls() {
    each_engine(|e| {
        let obj = object("tail_calls");
        let o = load("tail_calls", e);
        assert_eq!(run(&o, "entry"), 2);
        assert_eq!(
            u32::from_ne_bytes(global(&obj, &o, "depth").try_into().unwrap()),
            111
        );
        assert_eq!(run(&o, "again"), 34);
        assert_eq!(
            u32::from_ne_bytes(global(&obj, &o, "loops").try_into().unwrap()),
            34
        );
        assert_eq!(run(&o, "missing"), 7);
    });
}

#[test]
fn loops() {
    each_engine(|e| {
        let obj = object("loops");
        let o = load("loops", e);
        assert_eq!(run(&o, "loops"), 85_344);
        assert_eq!(i64s(&global(&obj, &o, "results")), vec![10, 45, 2000, -22]);
    });
}

#[test]
fn for_each() {
    each_engine(|e| {
        let obj = object("for_each");
        let o = load("for_each", e);
        assert_eq!(run(&o, "for_each"), 0);
        assert_eq!(u64s(&global(&obj, &o, "results")), vec![3, 60, 3, 40_604]);
        let arr = o.maps().typed::<u32, u64>("arr").unwrap();
        let vals: Vec<u64> = (0..5).map(|k| arr.get(&k).unwrap().unwrap()).collect();
        assert_eq!(vals, vec![20, 40, 60, 40, 50]);
    });
}

#[test]
fn strings() {
    each_engine(|e| {
        let obj = object("strings");
        let o = load("strings", e);
        assert_eq!(run(&o, "strings"), 12);
        let r = global(&obj, &o, "results");
        let f = |off: usize| i64::from_ne_bytes(r[off..off + 8].try_into().unwrap());
        assert_eq!(f(0), 12);
        assert_eq!(&r[8..20], b"42-xyz-beef\0");
        assert_eq!((f(40), f(48), f(56)), (0, -1, 1));
        assert_eq!((f(64), f(72)), (5, -123));
        assert_eq!((f(80), f(88)), (4, 31));
        assert_eq!(f(96), 25);
        assert_eq!(f(104), -22);
        assert_eq!(messages(&o), vec!["xyz|   -7|ff  |Z|10.0.0.1"]);
    });
}

#[test]
fn task() {
    each_engine(|e| {
        let obj = object("task");
        let o = load("task", e);
        let me = Task::current_thread();
        let before = oxbpf_runtime::sys::clock_ns(oxbpf_runtime::sys::Clock::Monotonic);
        assert_eq!(run(&o, "task"), 0);
        let after = oxbpf_runtime::sys::clock_ns(oxbpf_runtime::sys::Clock::Monotonic);
        let info = global(&obj, &o, "info");
        let q = |off: usize| u64::from_ne_bytes(info[off..off + 8].try_into().unwrap());
        assert_eq!(q(0), me.pid_tgid());
        assert_eq!(q(8), me.uid_gid());
        assert_eq!(&info[16..32], &me.comm);
        assert_eq!(q(32), 0);
        let (mono0, mono1) = (q(40), q(48));
        assert!(before <= mono0 && mono0 <= mono1 && mono1 <= after);
        assert!(q(56) >= mono0, "boot time counts suspend too");
        assert!(q(64) > mono0, "TAI is wall-clock based");
        assert!(q(72) > oxbpf_runtime::helpers::ids::NAMES.len() as u64);
        let cpu_idx = u32::from_ne_bytes(info[80..84].try_into().unwrap());
        assert_eq!(cpu_idx as usize, cpu::current_cpu());
        let rnd: Vec<u32> = info[88..104]
            .chunks_exact(4)
            .map(|c| u32::from_ne_bytes(c.try_into().unwrap()))
            .collect();
        assert!(rnd.windows(2).any(|w| w[0] != w[1]), "{rnd:?}");

        // Another current task: the identity helpers report it.
        let p = o.program("task").unwrap();
        let mut ctx = [0u8; 16];
        p.run(RunInput {
            ctx: Some(&mut ctx),
            task: CurrentTask::Task(Task::new(4242, 4243, 1000, 1001, "traced-proc")),
            ..Default::default()
        })
        .unwrap();
        let info = global(&obj, &o, "info");
        let q = |off: usize| u64::from_ne_bytes(info[off..off + 8].try_into().unwrap());
        assert_eq!(q(0), 4242u64 << 32 | 4243);
        assert_eq!(q(8), 1001u64 << 32 | 1000);
        assert_eq!(&info[16..28], b"traced-proc\0");
    });
}

#[test]
fn probe() {
    each_engine(|e| {
        let obj = object("probe");
        let o = load("probe", e);
        assert_eq!(run(&o, "probe"), 0);
        let p = global(&obj, &o, "pr");
        let q = |off: usize| i64::from_ne_bytes(p[off..off + 8].try_into().unwrap());
        assert_eq!(q(0), -(libc::EFAULT as i64));
        assert_eq!(&p[8..16], &[0; 8]);
        assert_eq!(q(16), 0);
        assert_eq!(q(24), 0x1122_3344_5566_7788);
        assert_eq!(q(32), 7);
        assert_eq!(&p[40..48], b"probe!\0\0");
        assert_eq!(q(48), 4);
        assert_eq!(&p[56..60], b"pro\0");
        assert_eq!(q(64), -(libc::EFAULT as i64));
        assert_eq!(&p[72..80], &[0; 8]);
    });
}

#[test]
fn perf() {
    each_engine(|e| {
        let o = load("perf", e);
        // No buffer open on this CPU's slot: -ENOENT, as in Linux.
        assert_eq!(run(&o, "perf") as i64, -(libc::ENOENT as i64));
        let reader = o.perf_buffer("events", 4096).unwrap();
        assert_eq!(run(&o, "perf"), 0);
        let recs = reader.drain();
        let mut want = 1u32.to_ne_bytes().to_vec();
        want.extend_from_slice(&2u32.to_ne_bytes());
        want.extend_from_slice(&0x0102_0304_0506_0708u64.to_ne_bytes());
        assert_eq!(
            recs,
            vec![PerfRecord::Sample {
                cpu: cpu::current_cpu(),
                data: want
            }]
        );
    });
}

#[test]
fn maps_of_maps() {
    each_engine(|e| {
        let o = load("maps_of_maps", e);
        assert_eq!(run(&o, "maps_of_maps"), 0);
        for (name, v) in [("inner1", 1u64), ("inner2", 2)] {
            let m = o.maps().typed::<u32, u64>(name).unwrap();
            assert_eq!(m.get(&0).unwrap(), Some(v), "{name}");
        }
    });
}

/// A UDP/IPv4 Ethernet frame.
fn udp_frame() -> Vec<u8> {
    let mut p = vec![0u8; 14 + 20 + 8 + 4];
    p[12] = 0x08; // ETH_P_IP
    p[14] = 0x45; // IPv4, IHL 5
    p[14 + 9] = 17; // UDP
    p
}

#[test]
fn xdp_program_on_a_packet_with_maps_and_globals() {
    let bytes = std::fs::read(corpus::crate_dir().join("../../examples/xdp_count.o")).unwrap();
    let obj = oxbpf_obj::Object::parse(&bytes).unwrap();
    for e in corpus::setups() {
        let o = corpus::runtime(e).load_elf(&bytes).unwrap();
        let p = o.program("xdp_count").unwrap();
        let r = p.run_packet(&udp_frame(), 3).unwrap();
        assert_eq!(r.r0, 2); // XDP_PASS
        assert_eq!(
            r.verdict,
            oxbpf_runtime::packet::Verdict::Xdp(oxbpf_runtime::packet::XdpAction::Pass)
        );
        assert_eq!(r.data, udp_frame());
        let protocols = o.maps().typed::<u32, u64>("protocols").unwrap();
        assert_eq!(protocols.get(&17).unwrap(), Some(3));
        let arp = {
            let mut f = udp_frame();
            f[12] = 0x08;
            f[13] = 0x06;
            f
        };
        p.run_packet(&arp, 1).unwrap();
        assert_eq!(u64s(&global(&obj, &o, "non_ip_packets")), vec![1]);
        // Other types take no packet context.
        let h = load("hello", e);
        assert!(h.program("hello").unwrap().run_packet(&arp, 1).is_err());
    }
}
