//! The kernel is the reference: every program of the C corpus runs in Linux (maps created
//! by aya from the same object, programs loaded raw with the object's instructions, BTF,
//! function and line information, and run with `BPF_PROG_TEST_RUN`) and in oxbpf, and the
//! return values, the maps, the ring buffer records and the `bpf_trace_printk` messages
//! are compared.
//!
//! Skipped (with `SKIP:`) where `bpf()` is not permitted. Values that legitimately differ
//! (times, random numbers, pids of the kernel's view) are not compared; where oxbpf
//! differs from Linux on purpose the test says so.

mod corpus;

use corpus::{object, object_bytes};
use oxbpf_kernel::trace_pipe::{TracePipe, TraceRecord as KRecord};
use oxbpf_kernel::{
    load_raw, test_run, KernelMap, KernelObject, LoadOptions, LoadedProgram, TestRunInput,
    TraceInstance, Tracefs, UpdateMode,
};
use oxbpf_obj::map_type;
use oxbpf_runtime::loader::LoadedObject;
use oxbpf_vm::EngineKind;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// One object loaded into the kernel.
struct KernelRun {
    obj: Option<KernelObject>,
    maps: BTreeMap<String, KernelMap>,
    progs: BTreeMap<String, LoadedProgram>,
}

/// Creates the object's maps without aya (for objects aya 0.14 cannot parse, such as
/// program arrays initialised in BTF): plain maps with their initial data.
fn create_maps(obj: &oxbpf_obj::Object) -> Result<BTreeMap<String, KernelMap>, String> {
    let mut maps = BTreeMap::new();
    for d in &obj.maps {
        let t = oxbpf_kernel::MapType::from_id(d.map_type)
            .ok_or_else(|| format!("map type {}", d.map_type))?;
        let mut spec = oxbpf_kernel::MapSpec::new(
            t,
            d.key_size,
            d.value_size,
            d.max_entries,
            d.name.chars().take(15).collect::<String>(),
        );
        spec.flags = d.flags;
        let m = oxbpf_kernel::create_map(&spec).map_err(|e| format!("map {}: {e}", d.name))?;
        if let Some(init) = &d.initial_data {
            m.update(&0u32.to_ne_bytes(), init, UpdateMode::Any)
                .map_err(|e| format!("map {}: {e}", d.name))?;
        }
        maps.insert(d.name.clone(), m);
    }
    Ok(maps)
}

fn kernel_missing() -> Option<&'static str> {
    oxbpf_kernel::probe::bpf_unavailable()
}

fn load_kernel(name: &str) -> Result<KernelRun, String> {
    let bytes = object_bytes(name);
    let obj = object(name);
    let (kobj, maps) = match KernelObject::load(&bytes) {
        Ok(kobj) => {
            let mut maps = BTreeMap::new();
            for d in &obj.maps {
                let m = kobj
                    .map(&d.name)
                    .map_err(|e| format!("map {}: {e}", d.name))?;
                maps.insert(d.name.clone(), m);
            }
            (Some(kobj), maps)
        }
        Err(e) => {
            println!("{name}: aya cannot load the object ({e}); creating its maps directly");
            (None, create_maps(&obj)?)
        }
    };
    let fds: Vec<_> = obj.maps.iter().map(|d| maps[&d.name].raw_fd()).collect();
    // The object's BTF, as libbpf passes it (Linux needs it for callbacks).
    let btf = match obj.btf_for_kernel() {
        Some(blob) => Some(
            oxbpf_kernel::load_btf(&blob.map_err(|e| format!("BTF: {e}"))?)
                .map_err(|e| format!("BTF: {e}"))?,
        ),
        None => None,
    };
    let mut progs = BTreeMap::new();
    for p in &obj.programs {
        let t = oxbpf_kernel::ProgType::from_id(p.kind.prog_type())
            .ok_or_else(|| format!("program type {}", p.kind.prog_type()))?;
        let short: String = p.name.chars().take(15).collect();
        let mut opts = LoadOptions::new(t).name(short);
        if let Some(btf) = &btf {
            opts = opts.program_btf(btf, p);
        }
        opts.maps = fds.clone();
        let lp = load_raw(&p.insns, &opts).map_err(|e| format!("program {}: {e}", p.name))?;
        progs.insert(p.name.clone(), lp);
    }
    // Initial slots, as libbpf fills them.
    for d in &obj.maps {
        for s in &d.init_slots {
            let fd = match d.map_type {
                map_type::PROG_ARRAY => progs.get(&s.target).map(|p| p.raw_fd()),
                map_type::ARRAY_OF_MAPS | map_type::HASH_OF_MAPS => {
                    maps.get(&s.target).map(|m| m.raw_fd())
                }
                _ => None,
            }
            .ok_or_else(|| format!("slot target {}", s.target))?;
            maps[&d.name]
                .update(&s.index.to_ne_bytes(), &fd.to_ne_bytes(), UpdateMode::Any)
                .map_err(|e| format!("slot {} of {}: {e}", s.index, d.name))?;
        }
    }
    Ok(KernelRun {
        obj: kobj,
        maps,
        progs,
    })
}

impl KernelRun {
    fn run(&self, prog: &str) -> u32 {
        let ctx = [0u8; 16];
        test_run(&self.progs[prog], &TestRunInput::context(&ctx))
            .unwrap_or_else(|e| panic!("{prog}: {e}"))
            .retval
    }

    /// Entries sorted by key; per-CPU values summed as u64 words.
    fn entries(&self, map: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
        let m = &self.maps[map];
        let mut v: Vec<(Vec<u8>, Vec<u8>)> = m
            .keys()
            .unwrap()
            .into_iter()
            .map(|k| {
                let val = m.lookup(&k).unwrap().unwrap();
                (k, val)
            })
            .collect();
        v.sort();
        v
    }
}

fn oxbpf_entries(o: &LoadedObject, map: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut v = o.map(map).unwrap().entries().unwrap();
    v.sort();
    v
}

fn ox_run(o: &LoadedObject, prog: &str) -> u32 {
    let mut ctx = [0u8; 16];
    o.program(prog).unwrap().run_ctx(&mut ctx).unwrap() as u32
}

/// Sums per-CPU values (padded to 8 bytes per CPU) word by word.
fn percpu_sum(v: &[u8], value_size: usize) -> Vec<u64> {
    let stride = (value_size + 7) & !7;
    let mut sum = vec![0u64; value_size / 8];
    for chunk in v.chunks(stride) {
        for (i, w) in chunk[..value_size].chunks_exact(8).enumerate() {
            sum[i] = sum[i].wrapping_add(u64::from_ne_bytes(w.try_into().unwrap()));
        }
    }
    sum
}

// Tests share the trace pipe instance and the CPU count; run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

macro_rules! setup {
    ($name:expr) => {{
        if let Some(why) = kernel_missing() {
            println!("SKIP: {why}");
            return;
        }
        let guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let k = match load_kernel($name) {
            Ok(k) => k,
            Err(e) => panic!("{}: the kernel refused it: {e}", $name),
        };
        (guard, k, corpus::load($name, EngineKind::Interpreter))
    }};
}

#[test]
fn hello_and_trace_lines_match_the_kernels() {
    if let Some(why) = kernel_missing() {
        println!("SKIP: {why}");
        return;
    }
    let Some(tracefs) = Tracefs::find().filter(|t| t.readable()) else {
        println!("SKIP: tracefs is not mounted or not readable");
        return;
    };
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let inst = TraceInstance::create(&tracefs, &format!("oxbpf_rt_{}", std::process::id()))
        .expect("trace instance");
    inst.set_event("bpf_trace", "bpf_trace_printk", true)
        .expect("enable bpf_trace_printk in the instance");
    let mut pipe = TracePipe::open_instance(inst, 1024).unwrap();
    let (tgid, tid) = oxbpf_runtime::task::Task::thread_ids();
    let _ = tgid;

    for (name, prog) in [
        ("hello", "hello"),
        ("global_data", "globals"),
        ("strings", "strings"),
    ] {
        let k = load_kernel(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let o = corpus::load(name, EngineKind::Interpreter);
        assert_eq!(k.run(prog), ox_run(&o, prog), "{name}: r0");
        let ours: Vec<String> = o
            .trace()
            .read()
            .iter()
            .map(|r| r.msg_str().into_owned())
            .collect();
        let mut theirs = Vec::new();
        while theirs.len() < ours.len() {
            match pipe.next_record(Duration::from_secs(5)).unwrap() {
                Some(KRecord::Line(l)) if l.pid == tid && l.event == "bpf_trace_printk" => {
                    theirs.push(l.message)
                }
                Some(_) => continue,
                None => break,
            }
        }
        assert_eq!(ours, theirs, "{name}: trace messages");
    }
}

#[test]
fn maps_array() {
    let (_g, k, o) = setup!("maps_array");
    assert_eq!(k.run("array_ops"), ox_run(&o, "array_ops"));
    assert_eq!(k.entries("counts"), oxbpf_entries(&o, "counts"));
    let kp = k.maps["pcpu"].lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    let op = o
        .map("pcpu")
        .unwrap()
        .lookup(&0u32.to_ne_bytes())
        .unwrap()
        .unwrap();
    assert_eq!(percpu_sum(&kp, 8), percpu_sum(&op, 8));
}

#[test]
fn maps_hash() {
    let (_g, k, o) = setup!("maps_hash");
    assert_eq!(k.run("hash_ops"), ox_run(&o, "hash_ops"));
    assert_eq!(k.entries("table"), oxbpf_entries(&o, "table"));
    assert_eq!(k.entries("recent"), oxbpf_entries(&o, "recent"));
    let kp = k.maps["per_cpu"]
        .lookup(&1u32.to_ne_bytes())
        .unwrap()
        .unwrap();
    let op = o
        .map("per_cpu")
        .unwrap()
        .lookup(&1u32.to_ne_bytes())
        .unwrap()
        .unwrap();
    assert_eq!(percpu_sum(&kp, 8), percpu_sum(&op, 8));
}

#[test]
fn queue_stack_bloom() {
    let (_g, k, o) = setup!("queue_stack");
    assert_eq!(k.run("queue_ops"), ox_run(&o, "queue_ops"));
    assert_eq!(k.entries(".bss"), oxbpf_entries(&o, ".bss"));
    // The head of what is left in the queue (a lookup on a queue peeks).
    assert_eq!(
        k.maps["fifo"].lookup(&[]).unwrap(),
        o.map("fifo").unwrap().peek().unwrap()
    );
}

#[test]
fn lpm() {
    let (_g, k, o) = setup!("lpm");
    assert_eq!(k.run("lpm_ops"), ox_run(&o, "lpm_ops"));
}

#[test]
fn ringbuf() {
    let (_g, k, o) = setup!("ringbuf");
    assert_eq!(k.run("ringbuf_ops"), ox_run(&o, "ringbuf_ops"));
    let mut reader = k.obj.as_ref().unwrap().ring_buffer("events").unwrap();
    let mut theirs = Vec::new();
    reader.drain(16, |r| theirs.push(r.to_vec()));
    let ours = o.ring_buffer("events").unwrap().drain();
    assert_eq!(theirs, ours);
}

#[test]
fn global_data() {
    let (_g, k, o) = setup!("global_data");
    for _ in 0..3 {
        assert_eq!(k.run("globals"), ox_run(&o, "globals"));
    }
    assert_eq!(k.entries(".data"), oxbpf_entries(&o, ".data"));
    assert_eq!(k.entries(".bss"), oxbpf_entries(&o, ".bss"));
}

#[test]
fn calls() {
    let (_g, k, o) = setup!("calls");
    assert_eq!(k.run("calls"), ox_run(&o, "calls"));
}

#[test]
fn tail_calls() {
    let (_g, k, o) = setup!("tail_calls");
    for p in ["entry", "again", "missing"] {
        assert_eq!(k.run(p), ox_run(&o, p), "{p}");
    }
    assert_eq!(k.entries(".bss"), oxbpf_entries(&o, ".bss"));
}

/// Linux requires BTF function info for programs with callbacks (`bpf_loop`,
/// `bpf_for_each_map_elem`): `load_kernel` passes the object's.
#[test]
fn loops() {
    let (_g, k, o) = setup!("loops");
    assert_eq!(k.run("loops"), ox_run(&o, "loops"));
    assert_eq!(k.entries(".bss"), oxbpf_entries(&o, ".bss"));
}

#[test]
fn for_each() {
    let (_g, k, o) = setup!("for_each");
    assert_eq!(k.run("for_each"), ox_run(&o, "for_each"));
    assert_eq!(k.entries(".bss"), oxbpf_entries(&o, ".bss"));
    assert_eq!(k.entries("arr"), oxbpf_entries(&o, "arr"));
    assert_eq!(k.entries("hsh"), oxbpf_entries(&o, "hsh"));
}

#[test]
fn strings() {
    let (_g, k, o) = setup!("strings");
    assert_eq!(k.run("strings"), ox_run(&o, "strings"));
    assert_eq!(k.entries(".bss"), oxbpf_entries(&o, ".bss"));
}

#[test]
fn probe() {
    let (_g, k, o) = setup!("probe");
    assert_eq!(k.run("probe"), ox_run(&o, "probe"));
    assert_eq!(k.entries(".bss"), oxbpf_entries(&o, ".bss"));
}

#[test]
fn perf_output_without_an_open_buffer() {
    let (_g, k, o) = setup!("perf");
    // No perf event in the slot: -ENOENT in both.
    assert_eq!(k.run("perf"), ox_run(&o, "perf"));
    assert_eq!(k.run("perf") as i32, -libc::ENOENT);
}

#[test]
fn task_identity() {
    let (_g, k, o) = setup!("task");
    assert_eq!(k.run("task"), ox_run(&o, "task"));
    let obj = object("task");
    let kv = k.entries(".bss");
    let ov = oxbpf_entries(&o, ".bss");
    // pid_tgid, uid_gid, comm and comm_ret: the kernel's test run happens in this thread.
    let _ = obj;
    assert_eq!(kv[0].1[..40], ov[0].1[..40]);
}

#[test]
fn maps_of_maps() {
    let (_g, k, o) = setup!("maps_of_maps");
    assert_eq!(k.run("maps_of_maps"), ox_run(&o, "maps_of_maps"));
    for m in ["inner1", "inner2"] {
        assert_eq!(k.entries(m), oxbpf_entries(&o, m), "{m}");
    }
}
