//! Helpers called directly, with test buffers as the run's memory.

use super::*;
use crate::env::{MapTable, ProgramEnv, ProgramRunner, RunEnv, MAP_HANDLE_BASE};
use crate::maps::{cpu, update, Map, MapSpec, MapType, PerfEvent};
use crate::task::{CurrentTask, Task};
use crate::trace::TraceBuffer;
use oxbpf_isa::{CallTarget, Insn, Program};
use oxbpf_vm::{
    EngineKind, Executable, ProgramCalls, RegionKind, Regions, RegionsMut, RunContext, RunOutcome,
    VmError,
};
use std::any::Any;
use std::sync::Arc;

struct World {
    env: RunEnv,
    trace: Arc<TraceBuffer>,
    maps: Arc<MapTable>,
}

fn world(maps: Vec<Map>, prog_type: ProgType) -> World {
    let maps = Arc::new(MapTable::new(maps.into_iter().map(Arc::new).collect()));
    let trace = Arc::new(TraceBuffer::default());
    let penv = Arc::new(ProgramEnv::new(
        "test",
        prog_type,
        maps.clone(),
        trace.clone(),
    ));
    World {
        env: RunEnv::new(penv),
        trace,
        maps,
    }
}

fn h(i: usize) -> u64 {
    MAP_HANDLE_BASE | i as u64
}

fn call(
    w: &mut World,
    regions: &mut RegionsMut<'_>,
    id: u32,
    a: [u64; 5],
) -> Result<u64, HelperError> {
    let f = implemented(id).unwrap().func;
    let mut ctx = HelperCtx::new(regions, Some(&mut w.env as &mut dyn Any), 0);
    f(&mut ctx, a)
}

fn e(errno: i32) -> u64 {
    neg(errno)
}

fn addr(b: &[u8]) -> u64 {
    b.as_ptr() as u64
}

#[test]
fn hash_map_helpers_return_linux_errnos() {
    let mut w = world(
        vec![Map::create(MapSpec::new("h", MapType::Hash, 4, 8, 2)).unwrap()],
        ProgType::Unspec,
    );
    let mut mem = vec![0u8; 64];
    let base = addr(&mem);
    mem[0..4].copy_from_slice(&7u32.to_ne_bytes());
    mem[8..16].copy_from_slice(&99u64.to_ne_bytes());
    let table = w.maps.clone();
    let mut rc = RunContext::new();
    rc.allow_mut(&mut mem, RegionKind::Stack);
    crate::grant::grant_maps(&mut rc, &table);
    let r = &mut rc.regions_mut();
    let (k, v) = (base, base + 8);
    assert_eq!(
        call(&mut w, r, ids::MAP_LOOKUP_ELEM, [h(0), k, 0, 0, 0]).unwrap(),
        0
    );
    assert_eq!(
        call(
            &mut w,
            r,
            ids::MAP_UPDATE_ELEM,
            [h(0), k, v, update::BPF_EXIST, 0]
        )
        .unwrap(),
        e(libc::ENOENT)
    );
    assert_eq!(
        call(
            &mut w,
            r,
            ids::MAP_UPDATE_ELEM,
            [h(0), k, v, update::BPF_NOEXIST, 0]
        )
        .unwrap(),
        0
    );
    assert_eq!(
        call(
            &mut w,
            r,
            ids::MAP_UPDATE_ELEM,
            [h(0), k, v, update::BPF_NOEXIST, 0]
        )
        .unwrap(),
        e(libc::EEXIST)
    );
    assert_eq!(
        call(&mut w, r, ids::MAP_UPDATE_ELEM, [h(0), k, v, 99, 0]).unwrap(),
        e(libc::EINVAL)
    );
    let p = call(&mut w, r, ids::MAP_LOOKUP_ELEM, [h(0), k, 0, 0, 0]).unwrap();
    assert_ne!(p, 0);
    // The pointer is inside the map's value region, which the run was granted.
    assert_eq!(r.check(p, 8, true).unwrap().kind, RegionKind::MapValue);
    assert_eq!(
        u64::from_ne_bytes(r.slice(p, 8).unwrap().try_into().unwrap()),
        99
    );
    // Full map: a third key is E2BIG.
    for key in [8u32, 9] {
        mem_write(r, k, &key.to_ne_bytes());
        let got = call(&mut w, r, ids::MAP_UPDATE_ELEM, [h(0), k, v, 0, 0]).unwrap();
        assert_eq!(got, if key == 8 { 0 } else { e(libc::E2BIG) });
    }
    assert_eq!(
        call(&mut w, r, ids::MAP_DELETE_ELEM, [h(0), k, 0, 0, 0]).unwrap(),
        e(libc::ENOENT)
    );
    mem_write(r, k, &7u32.to_ne_bytes());
    assert_eq!(
        call(&mut w, r, ids::MAP_DELETE_ELEM, [h(0), k, 0, 0, 0]).unwrap(),
        0
    );
    // A key pointer outside the run's memory is a fault, not a host access.
    let err = call(&mut w, r, ids::MAP_LOOKUP_ELEM, [h(0), 16, 0, 0, 0]).unwrap_err();
    assert!(matches!(err, HelperError::Fault(_)));
    // Not a map handle.
    assert!(matches!(
        call(&mut w, r, ids::MAP_LOOKUP_ELEM, [base, k, 0, 0, 0]).unwrap_err(),
        HelperError::Abort(_)
    ));
    // Without the runtime's run record the map helpers refuse to run.
    let mut ctx = HelperCtx::new(r, None, 0);
    assert!(
        (implemented(ids::MAP_LOOKUP_ELEM).unwrap().func)(&mut ctx, [h(0), k, 0, 0, 0]).is_err()
    );
}

#[test]
fn array_queue_stack_bloom_and_percpu() {
    let mut w = world(
        vec![
            Map::create(MapSpec::new("a", MapType::Array, 4, 4, 2)).unwrap(),
            Map::create(MapSpec::new("q", MapType::Queue, 0, 4, 2)).unwrap(),
            Map::create(MapSpec::new("s", MapType::Stack, 0, 4, 2)).unwrap(),
            Map::create(MapSpec::new("b", MapType::BloomFilter, 0, 4, 16)).unwrap(),
            Map::create(MapSpec::new("p", MapType::PerCpuArray, 4, 8, 1)).unwrap(),
        ],
        ProgType::Unspec,
    );
    let mut mem = vec![0u8; 64];
    let base = addr(&mem);
    let table = w.maps.clone();
    let mut rc = RunContext::new();
    rc.allow_mut(&mut mem, RegionKind::Stack);
    crate::grant::grant_maps(&mut rc, &table);
    let r = &mut rc.regions_mut();
    let key = base;
    let val = base + 8;
    let out = base + 16;
    // Array: index 5 is past the end.
    r.slice_mut(key, 4)
        .unwrap()
        .copy_from_slice(&5u32.to_ne_bytes());
    assert_eq!(
        call(&mut w, r, ids::MAP_UPDATE_ELEM, [h(0), key, val, 0, 0]).unwrap(),
        e(libc::E2BIG)
    );
    assert_eq!(
        call(&mut w, r, ids::MAP_LOOKUP_ELEM, [h(0), key, 0, 0, 0]).unwrap(),
        0
    );
    r.slice_mut(key, 4)
        .unwrap()
        .copy_from_slice(&1u32.to_ne_bytes());
    assert_eq!(
        call(&mut w, r, ids::MAP_DELETE_ELEM, [h(0), key, 0, 0, 0]).unwrap(),
        e(libc::EINVAL)
    );
    // Queue: FIFO, ENOENT (and a zeroed value) when empty, E2BIG when full.
    for v in [10u32, 20, 30] {
        r.slice_mut(val, 4)
            .unwrap()
            .copy_from_slice(&v.to_ne_bytes());
        let got = call(&mut w, r, ids::MAP_PUSH_ELEM, [h(1), val, 0, 0, 0]).unwrap();
        assert_eq!(got, if v == 30 { e(libc::E2BIG) } else { 0 });
    }
    assert_eq!(
        call(&mut w, r, ids::MAP_PEEK_ELEM, [h(1), out, 0, 0, 0]).unwrap(),
        0
    );
    assert_eq!(r.slice(out, 4).unwrap(), 10u32.to_ne_bytes());
    for v in [10u32, 20] {
        assert_eq!(
            call(&mut w, r, ids::MAP_POP_ELEM, [h(1), out, 0, 0, 0]).unwrap(),
            0
        );
        assert_eq!(r.slice(out, 4).unwrap(), v.to_ne_bytes());
    }
    assert_eq!(
        call(&mut w, r, ids::MAP_POP_ELEM, [h(1), out, 0, 0, 0]).unwrap(),
        e(libc::ENOENT)
    );
    // Stack: LIFO; BPF_EXIST overwrites the oldest when full.
    for v in [1u32, 2, 3] {
        r.slice_mut(val, 4)
            .unwrap()
            .copy_from_slice(&v.to_ne_bytes());
        assert_eq!(
            call(
                &mut w,
                r,
                ids::MAP_PUSH_ELEM,
                [h(2), val, update::BPF_EXIST, 0, 0]
            )
            .unwrap(),
            0
        );
    }
    assert_eq!(
        call(&mut w, r, ids::MAP_POP_ELEM, [h(2), out, 0, 0, 0]).unwrap(),
        0
    );
    assert_eq!(r.slice(out, 4).unwrap(), 3u32.to_ne_bytes());
    // Bloom filter: peek reads its value argument.
    r.slice_mut(val, 4)
        .unwrap()
        .copy_from_slice(&77u32.to_ne_bytes());
    assert_eq!(
        call(&mut w, r, ids::MAP_PEEK_ELEM, [h(3), val, 0, 0, 0]).unwrap(),
        e(libc::ENOENT)
    );
    assert_eq!(
        call(&mut w, r, ids::MAP_PUSH_ELEM, [h(3), val, 0, 0, 0]).unwrap(),
        0
    );
    assert_eq!(
        call(&mut w, r, ids::MAP_PEEK_ELEM, [h(3), val, 0, 0, 0]).unwrap(),
        0
    );
    // Per-CPU: any CPU below the count; others NULL; non-per-CPU maps NULL.
    r.slice_mut(key, 4)
        .unwrap()
        .copy_from_slice(&0u32.to_ne_bytes());
    let n = cpu::num_cpus() as u64;
    let p0 = call(&mut w, r, ids::MAP_LOOKUP_PERCPU_ELEM, [h(4), key, 0, 0, 0]).unwrap();
    assert_ne!(p0, 0);
    assert_eq!(
        call(&mut w, r, ids::MAP_LOOKUP_PERCPU_ELEM, [h(4), key, n, 0, 0]).unwrap(),
        0
    );
    assert_eq!(
        call(&mut w, r, ids::MAP_LOOKUP_PERCPU_ELEM, [h(0), key, 0, 0, 0]).unwrap(),
        0
    );
    let mine = call(&mut w, r, ids::MAP_LOOKUP_ELEM, [h(4), key, 0, 0, 0]).unwrap();
    let cur = call(
        &mut w,
        r,
        ids::MAP_LOOKUP_PERCPU_ELEM,
        [h(4), key, cpu::current_cpu() as u64, 0, 0],
    )
    .unwrap();
    assert_eq!(mine, cur);
}

#[test]
fn maps_of_maps_hand_out_inner_handles_with_their_regions() {
    let inner_spec = MapSpec::new("inner", MapType::Array, 4, 8, 1);
    let outer = Map::create(
        MapSpec::new("outer", MapType::ArrayOfMaps, 4, 4, 2).with_inner(inner_spec.clone()),
    )
    .unwrap();
    let inner = Arc::new(Map::create(inner_spec).unwrap());
    outer
        .as_map_of_maps()
        .unwrap()
        .set(&1u32.to_ne_bytes(), inner.clone(), 0)
        .unwrap();
    let mut w = world(vec![outer], ProgType::Unspec);
    let mut mem = vec![0u8; 16];
    let key = addr(&mem);
    let mut rc = RunContext::new();
    rc.allow_mut(&mut mem, RegionKind::Stack);
    let r = &mut rc.regions_mut();
    r.slice_mut(key, 4)
        .unwrap()
        .copy_from_slice(&1u32.to_ne_bytes());
    let ih = call(&mut w, r, ids::MAP_LOOKUP_ELEM, [h(0), key, 0, 0, 0]).unwrap();
    assert_eq!(ih, h(1));
    r.slice_mut(key, 4)
        .unwrap()
        .copy_from_slice(&0u32.to_ne_bytes());
    assert_eq!(
        call(&mut w, r, ids::MAP_LOOKUP_ELEM, [h(0), key, 0, 0, 0]).unwrap(),
        0
    );
    let before = r.len();
    let p = call(&mut w, r, ids::MAP_LOOKUP_ELEM, [ih, key, 0, 0, 0]).unwrap();
    assert_ne!(p, 0);
    assert_eq!(r.len(), before + 1);
    assert!(r.check(p, 8, true).is_ok());
}

#[test]
fn ring_buffer_helpers() {
    let mut w = world(
        vec![Map::create(MapSpec::new("rb", MapType::RingBuf, 0, 0, 4096)).unwrap()],
        ProgType::Unspec,
    );
    let mut mem = b"hello world\0\0\0\0\0".to_vec();
    let data = addr(&mem);
    let table = w.maps.clone();
    let mut rc = RunContext::new();
    rc.allow_mut(&mut mem, RegionKind::Stack);
    crate::grant::grant_maps(&mut rc, &table);
    let r = &mut rc.regions_mut();
    assert_eq!(
        call(&mut w, r, ids::RINGBUF_OUTPUT, [h(0), data, 5, 0, 0]).unwrap(),
        0
    );
    assert_eq!(
        call(&mut w, r, ids::RINGBUF_OUTPUT, [h(0), data, 5, 8, 0]).unwrap(),
        e(libc::EINVAL)
    );
    let rec = call(&mut w, r, ids::RINGBUF_RESERVE, [h(0), 3, 0, 0, 0]).unwrap();
    assert_ne!(rec, 0);
    r.slice_mut(rec, 3).unwrap().copy_from_slice(b"abc");
    assert_eq!(
        call(&mut w, r, ids::RINGBUF_SUBMIT, [rec, 0, 0, 0, 0]).unwrap(),
        0
    );
    let gone = call(&mut w, r, ids::RINGBUF_RESERVE, [h(0), 4, 0, 0, 0]).unwrap();
    assert_eq!(
        call(&mut w, r, ids::RINGBUF_DISCARD, [gone, 0, 0, 0, 0]).unwrap(),
        0
    );
    // Submitting twice is refused; so is a pointer that is no record.
    assert!(call(&mut w, r, ids::RINGBUF_SUBMIT, [rec, 0, 0, 0, 0]).is_err());
    assert!(call(&mut w, r, ids::RINGBUF_SUBMIT, [data, 0, 0, 0, 0]).is_err());
    assert_eq!(
        call(&mut w, r, ids::RINGBUF_RESERVE, [h(0), 3, 1, 0, 0]).unwrap(),
        0
    );
    assert_eq!(
        call(&mut w, r, ids::RINGBUF_QUERY, [h(0), 1, 0, 0, 0]).unwrap(),
        4096
    );
    assert_eq!(
        call(&mut w, r, ids::RINGBUF_QUERY, [h(0), 0, 0, 0, 0]).unwrap(),
        48
    );
    let got = w.maps.maps()[0].as_ringbuf().unwrap().drain();
    assert_eq!(got, vec![b"hello".to_vec(), b"abc".to_vec()]);
}

#[test]
fn perf_event_output_helper() {
    let mut w = world(
        vec![Map::create(MapSpec::new(
            "ev",
            MapType::PerfEventArray,
            4,
            4,
            cpu::num_cpus() as u32,
        ))
        .unwrap()],
        ProgType::Kprobe,
    );
    let mut mem = b"sample!!".to_vec();
    let data = addr(&mem);
    let mut pkt = vec![0xaau8, 0xbb, 0xcc, 0xdd];
    let mut rc = RunContext::new();
    rc.allow_mut(&mut mem, RegionKind::Stack);
    let r = &mut rc.regions_mut();
    let cur = perf_flags_current();
    assert_eq!(
        call(&mut w, r, ids::PERF_EVENT_OUTPUT, [0, h(0), cur, data, 6]).unwrap(),
        e(libc::ENOENT)
    );
    let pea = w.maps.maps()[0].clone();
    let bufs = pea.as_perf_event_array().unwrap().open_all(4096).unwrap();
    assert_eq!(
        call(&mut w, r, ids::PERF_EVENT_OUTPUT, [0, h(0), cur, data, 6]).unwrap(),
        0
    );
    assert_eq!(
        call(
            &mut w,
            r,
            ids::PERF_EVENT_OUTPUT,
            [0, h(0), 1 << 40 | cur, data, 6]
        )
        .unwrap(),
        e(libc::EINVAL)
    );
    assert_eq!(
        call(
            &mut w,
            r,
            ids::PERF_EVENT_OUTPUT,
            [0, h(0), 100_000, data, 6]
        )
        .unwrap(),
        e(libc::E2BIG)
    );
    let mut samples = Vec::new();
    for b in &bufs {
        b.read(|ev| {
            if let PerfEvent::Sample { data, .. } = ev {
                samples.push(data.to_vec());
            }
        });
    }
    assert_eq!(samples, vec![b"sample".to_vec()]);

    // Packet programs may append packet bytes (BPF_F_CTXLEN_MASK).
    let mut w2 = world(vec![], ProgType::SocketFilter);
    w2.maps = Arc::new(MapTable::new(vec![pea.clone()]));
    let penv = Arc::new(ProgramEnv::new(
        "p",
        ProgType::SocketFilter,
        w2.maps.clone(),
        w2.trace.clone(),
    ));
    w2.env = RunEnv::new(penv);
    rc.allow_mut(&mut pkt, RegionKind::Packet);
    let r = &mut rc.regions_mut();
    assert_eq!(
        call(
            &mut w2,
            r,
            ids::PERF_EVENT_OUTPUT,
            [0, h(0), 3 << 32 | cur, data, 2]
        )
        .unwrap(),
        0
    );
    assert_eq!(
        call(
            &mut w2,
            r,
            ids::PERF_EVENT_OUTPUT,
            [0, h(0), 9 << 32 | cur, data, 2]
        )
        .unwrap(),
        e(libc::EFAULT)
    );
    let mut samples = Vec::new();
    for b in &bufs {
        b.read(|ev| {
            if let PerfEvent::Sample { data, .. } = ev {
                samples.push(data.to_vec());
            }
        });
    }
    assert_eq!(samples, vec![vec![b's', b'a', 0xaa, 0xbb, 0xcc]]);
}

fn perf_flags_current() -> u64 {
    crate::maps::perf_flags::BPF_F_CURRENT_CPU
}

#[test]
fn trace_printk_vprintk_and_snprintf() {
    let mut w = world(vec![], ProgType::Unspec);
    w.env.task = CurrentTask::Task(Task::new(42, 43, 0, 0, "worker"));
    let mut mem = vec![0u8; 256];
    let base = addr(&mem);
    let fmt = b"n=%d s=%s\n\0";
    mem[..fmt.len()].copy_from_slice(fmt);
    mem[32..36].copy_from_slice(b"str\0");
    let mut rc = RunContext::new();
    rc.allow_mut(&mut mem, RegionKind::Stack);
    let r = &mut rc.regions_mut();
    let n = call(
        &mut w,
        r,
        ids::TRACE_PRINTK,
        [base, fmt.len() as u64, (-7i64) as u64, base + 32, 0],
    )
    .unwrap();
    assert_eq!(n, 11);
    let recs = w.trace.read();
    assert_eq!(recs.len(), 1);
    assert_eq!(&*recs[0].msg, b"n=-7 s=str\n");
    assert_eq!(recs[0].pid, 43);
    assert_eq!(recs[0].comm_str(), "worker");
    assert!(recs[0].line().contains("          worker-43      ["));
    // A format without NUL in fmt_size bytes, and a bad conversion: EINVAL, no record.
    assert_eq!(
        call(&mut w, r, ids::TRACE_PRINTK, [base, 3, 0, 0, 0]).unwrap(),
        e(libc::EINVAL)
    );
    r.slice_mut(base + 64, 4)
        .unwrap()
        .copy_from_slice(b"%q\0\0");
    assert_eq!(
        call(&mut w, r, ids::TRACE_PRINTK, [base + 64, 3, 0, 0, 0]).unwrap(),
        e(libc::EINVAL)
    );
    assert!(w.trace.is_empty());
    // vprintk: five arguments from memory.
    let vfmt = b"%d %d %d %d %d\0";
    r.slice_mut(base + 96, vfmt.len())
        .unwrap()
        .copy_from_slice(vfmt);
    for i in 0..5u64 {
        r.slice_mut(base + 128 + 8 * i, 8)
            .unwrap()
            .copy_from_slice(&(i + 1).to_ne_bytes());
    }
    assert_eq!(
        call(
            &mut w,
            r,
            ids::TRACE_VPRINTK,
            [base + 96, vfmt.len() as u64, base + 128, 40, 0]
        )
        .unwrap(),
        9
    );
    assert_eq!(&*w.trace.read()[0].msg, b"1 2 3 4 5");
    assert_eq!(
        call(
            &mut w,
            r,
            ids::TRACE_VPRINTK,
            [base + 96, vfmt.len() as u64, base + 128, 12, 0]
        )
        .unwrap(),
        e(libc::EINVAL)
    );
    assert_eq!(
        call(
            &mut w,
            r,
            ids::TRACE_VPRINTK,
            [base + 96, vfmt.len() as u64, base + 128, 32, 0]
        )
        .unwrap(),
        e(libc::EINVAL)
    );
    // snprintf: returns the length with NUL, truncates to str_size.
    let out = base + 200;
    assert_eq!(
        call(
            &mut w,
            r,
            ids::SNPRINTF,
            [out, 32, base + 96, base + 128, 40]
        )
        .unwrap(),
        10
    );
    assert_eq!(r.slice(out, 10).unwrap(), b"1 2 3 4 5\0");
    assert_eq!(
        call(
            &mut w,
            r,
            ids::SNPRINTF,
            [out, 4, base + 96, base + 128, 40]
        )
        .unwrap(),
        10
    );
    assert_eq!(r.slice(out, 4).unwrap(), b"1 2\0");
    assert_eq!(
        call(&mut w, r, ids::SNPRINTF, [0, 0, base + 96, base + 128, 40]).unwrap(),
        10
    );
    assert_eq!(
        call(&mut w, r, ids::SNPRINTF, [out, 4, base + 96, 0, 40]).unwrap(),
        e(libc::EINVAL)
    );
    assert_eq!(
        call(
            &mut w,
            r,
            ids::SNPRINTF,
            [out, 4, base + 96, base + 128, 13 * 8]
        )
        .unwrap(),
        e(libc::EINVAL)
    );
}

static OUTSIDE: [u8; 12] = *b"not a region";

#[test]
fn probe_reads_never_fault_and_zero_on_error() {
    let mut w = world(vec![], ProgType::Kprobe);
    let mut mem = vec![0xffu8; 32];
    let dst = addr(&mem);
    let mut rc = RunContext::new();
    rc.allow_mut(&mut mem, RegionKind::Stack);
    let r = &mut rc.regions_mut();
    let src = OUTSIDE.as_ptr() as u64;
    for id in [
        ids::PROBE_READ_KERNEL,
        ids::PROBE_READ_USER,
        ids::PROBE_READ,
    ] {
        assert_eq!(call(&mut w, r, id, [dst, 12, src, 0, 0]).unwrap(), 0);
        assert_eq!(r.slice(dst, 12).unwrap(), b"not a region");
        assert_eq!(
            call(&mut w, r, id, [dst, 8, 8, 0, 0]).unwrap(),
            e(libc::EFAULT)
        );
        assert_eq!(r.slice(dst, 8).unwrap(), [0u8; 8]);
        assert_eq!(call(&mut w, r, id, [dst, 0, 8, 0, 0]).unwrap(), 0);
    }
    // A destination outside the run's memory is refused before anything is read.
    assert!(call(&mut w, r, ids::PROBE_READ_KERNEL, [8, 4, src, 0, 0]).is_err());
    // Strings: length with NUL; truncated to size (size returned); -EFAULT zeroes.
    let s = c"hey".as_ptr() as u64;
    for id in [
        ids::PROBE_READ_KERNEL_STR,
        ids::PROBE_READ_USER_STR,
        ids::PROBE_READ_STR,
    ] {
        r.slice_mut(dst, 32).unwrap().fill(0xee);
        assert_eq!(call(&mut w, r, id, [dst, 16, s, 0, 0]).unwrap(), 4);
        assert_eq!(r.slice(dst, 5).unwrap(), b"hey\0\xee");
        assert_eq!(call(&mut w, r, id, [dst, 3, src, 0, 0]).unwrap(), 3);
        assert_eq!(r.slice(dst, 3).unwrap(), b"no\0");
        assert_eq!(
            call(&mut w, r, id, [dst, 16, 8, 0, 0]).unwrap(),
            e(libc::EFAULT)
        );
        assert_eq!(r.slice(dst, 16).unwrap(), [0u8; 16]);
    }
    // A traced task with no such process: user reads fail cleanly.
    w.env.task = CurrentTask::Task(Task::new(u32::MAX - 1, u32::MAX - 1, 0, 0, "gone"));
    assert_eq!(
        call(&mut w, r, ids::PROBE_READ_USER, [dst, 4, src, 0, 0]).unwrap(),
        e(libc::EFAULT)
    );
    assert_eq!(
        call(&mut w, r, ids::PROBE_READ_KERNEL, [dst, 4, src, 0, 0]).unwrap(),
        0
    );
}

#[test]
fn time_random_cpu_and_task_helpers() {
    let mut w = world(vec![], ProgType::Unspec);
    let mut mem = vec![0xffu8; 32];
    let buf = addr(&mem);
    let mut rc = RunContext::new();
    rc.allow_mut(&mut mem, RegionKind::Stack);
    let r = &mut rc.regions_mut();
    let a = call(&mut w, r, ids::KTIME_GET_NS, [0; 5]).unwrap();
    let b = call(&mut w, r, ids::KTIME_GET_NS, [0; 5]).unwrap();
    assert!(b >= a && a > 0);
    assert!(call(&mut w, r, ids::KTIME_GET_BOOT_NS, [0; 5]).unwrap() >= a / 2);
    assert!(call(&mut w, r, ids::KTIME_GET_COARSE_NS, [0; 5]).unwrap() > 0);
    assert!(call(&mut w, r, ids::KTIME_GET_TAI_NS, [0; 5]).unwrap() > a);
    let j = call(&mut w, r, ids::JIFFIES64, [0; 5]).unwrap();
    assert!(j > misc::initial_jiffies(1000));
    let rs: Vec<u64> = (0..8)
        .map(|_| call(&mut w, r, ids::GET_PRANDOM_U32, [0; 5]).unwrap())
        .collect();
    assert!(rs.iter().all(|&v| v <= u32::MAX as u64));
    assert!(rs.windows(2).any(|p| p[0] != p[1]));
    assert!(call(&mut w, r, ids::GET_SMP_PROCESSOR_ID, [0; 5]).unwrap() < cpu::num_cpus() as u64);
    let me = Task::current_thread();
    assert_eq!(
        call(&mut w, r, ids::GET_CURRENT_PID_TGID, [0; 5]).unwrap(),
        me.pid_tgid()
    );
    assert_eq!(
        call(&mut w, r, ids::GET_CURRENT_UID_GID, [0; 5]).unwrap(),
        me.uid_gid()
    );
    w.env.task = CurrentTask::Task(Task::new(1, 2, 3, 4, "abcdefgh"));
    assert_eq!(
        call(&mut w, r, ids::GET_CURRENT_PID_TGID, [0; 5]).unwrap(),
        1 << 32 | 2
    );
    assert_eq!(
        call(&mut w, r, ids::GET_CURRENT_UID_GID, [0; 5]).unwrap(),
        4 << 32 | 3
    );
    assert_eq!(
        call(&mut w, r, ids::GET_CURRENT_COMM, [buf, 16, 0, 0, 0]).unwrap(),
        0
    );
    assert_eq!(r.slice(buf, 16).unwrap(), b"abcdefgh\0\0\0\0\0\0\0\0");
    r.slice_mut(buf, 8).unwrap().fill(0xff);
    assert_eq!(
        call(&mut w, r, ids::GET_CURRENT_COMM, [buf, 4, 0, 0, 0]).unwrap(),
        0
    );
    assert_eq!(r.slice(buf, 5).unwrap(), b"abc\0\xff");
}

#[test]
fn jiffies_fit_finds_hz() {
    // Observed on the project machine: HZ=250, jiffies 4295457530 at uptime ~2261 s.
    let c = misc::JiffiesClock::fit(4_295_457_530, 2_261_000_000_000);
    assert_eq!(c.hz, 250);
    assert!(c.at(2_261_000_000_000).abs_diff(4_295_457_530) < 250);
    let c = misc::JiffiesClock::fit(misc::initial_jiffies(1000) + 5_000, 5_000_000_000);
    assert_eq!(c.hz, 1000);
}

#[test]
fn string_helpers() {
    let mut w = world(vec![], ProgType::Unspec);
    let mut mem = vec![0u8; 64];
    let base = addr(&mem);
    mem[..6].copy_from_slice(b"hello\0");
    mem[8..14].copy_from_slice(b"help\0\0");
    mem[16..21].copy_from_slice(b"hello");
    let mut rc = RunContext::new();
    rc.allow_mut(&mut mem, RegionKind::Stack);
    let r = &mut rc.regions_mut();
    let cmp = |w: &mut World, r: &mut RegionsMut<'_>, s1: u64, n: u64, s2: u64| {
        call(w, r, ids::STRNCMP, [s1, n, s2, 0, 0]).unwrap() as i64
    };
    assert_eq!(cmp(&mut w, r, base, 6, base), 0);
    assert_eq!(cmp(&mut w, r, base, 6, base + 8), -1);
    assert_eq!(cmp(&mut w, r, base + 8, 6, base), 1);
    assert_eq!(cmp(&mut w, r, base, 3, base + 8), 0);
    assert_eq!(cmp(&mut w, r, base + 16, 5, base), 0);

    for (text, flags, ret, val) in [
        (&b"  -42abc"[..], 0u64, 5i64, -42i64),
        (b"0x1f", 0, 4, 31),
        (b"0x1f", 16, 4, 31),
        (b"017", 0, 3, 15),
        (b"019", 0, 2, 1),
        (b"z", 0, -(libc::EINVAL as i64), 0),
        (b"  ", 0, -(libc::EINVAL as i64), 0),
        (b"12", 7, -(libc::EINVAL as i64), 0),
        (b"12", 1 << 5 | 10, -(libc::EINVAL as i64), 0),
        (b"9223372036854775807", 0, 19, i64::MAX),
        (b"-9223372036854775808", 0, 20, i64::MIN),
        (b"9223372036854775808", 0, -(libc::ERANGE as i64), 0),
        (b"99999999999999999999", 0, -(libc::ERANGE as i64), 0),
    ] {
        let got = misc::parse_strtol(text, flags);
        match got {
            Ok((n, v)) => {
                assert_eq!(
                    (n as i64, v),
                    (ret, val),
                    "{:?}",
                    String::from_utf8_lossy(text)
                )
            }
            Err(e) => assert_eq!(-(e as i64), ret, "{:?}", String::from_utf8_lossy(text)),
        }
    }
    assert_eq!(misc::parse_strtoul(b"-1", 0), Err(libc::EINVAL));
    assert_eq!(
        misc::parse_strtoul(b"18446744073709551615", 0),
        Ok((20, u64::MAX))
    );
    // Through the helper: the result is written (0 on error).
    mem_write(r, base + 32, b"123 ");
    let res = base + 40;
    assert_eq!(
        call(&mut w, r, ids::STRTOL, [base + 32, 4, 0, res, 0]).unwrap(),
        3
    );
    assert_eq!(r.slice(res, 8).unwrap(), 123i64.to_ne_bytes());
    assert_eq!(
        call(&mut w, r, ids::STRTOUL, [base + 32, 4, 3, res, 0]).unwrap(),
        e(libc::EINVAL)
    );
    assert_eq!(r.slice(res, 8).unwrap(), [0; 8]);
}

fn mem_write(r: &mut RegionsMut<'_>, at: u64, b: &[u8]) {
    r.slice_mut(at, b.len()).unwrap().copy_from_slice(b);
}

type FakeFn<'f> = Box<dyn FnMut(&mut RegionsMut<'_>, [u64; 5]) -> Result<u64, VmError> + 'f>;

/// An engine stand-in: "code addresses" 1000 + k call closure k.
struct FakeCalls<'f> {
    funcs: Vec<FakeFn<'f>>,
}

impl ProgramCalls for FakeCalls<'_> {
    fn call_function(
        &mut self,
        mut regions: RegionsMut<'_>,
        _env: Option<&mut dyn Any>,
        code_addr: u64,
        args: [u64; 5],
    ) -> Result<u64, VmError> {
        match code_addr
            .checked_sub(1000)
            .and_then(|k| self.funcs.get_mut(k as usize))
        {
            Some(f) => f(&mut regions, args),
            None => Err(VmError::Unsupported {
                pc: 0,
                what: "callback to an address that is not a function of this program",
            }),
        }
    }
}

fn call_with(
    w: &mut World,
    r: &mut RegionsMut<'_>,
    calls: &mut FakeCalls<'_>,
    id: u32,
    a: [u64; 5],
) -> Result<u64, HelperError> {
    let f = implemented(id).unwrap().func;
    let mut ctx = HelperCtx::new(r, Some(&mut w.env as &mut dyn Any), 0).with_program_calls(calls);
    f(&mut ctx, a)
}

#[test]
fn bpf_loop_calls_back() {
    let mut w = world(vec![], ProgType::Unspec);
    let mut owned = Regions::new();
    let r = &mut RegionsMut::new(&mut owned);
    let seen = std::cell::RefCell::new(Vec::new());
    let mut calls = FakeCalls {
        funcs: vec![
            Box::new(|_, a| {
                seen.borrow_mut().push((a[0], a[1]));
                Ok(0)
            }),
            Box::new(|_, a| Ok(u64::from(a[0] == 2))),
            Box::new(|_, _| {
                Err(VmError::MemoryFault {
                    pc: 7,
                    fault: oxbpf_vm::AccessFault {
                        addr: 0,
                        size: 1,
                        write: false,
                        reason: oxbpf_vm::FaultReason::Unmapped,
                    },
                })
            }),
        ],
    };
    assert_eq!(
        call_with(&mut w, r, &mut calls, ids::LOOP, [3, 1000, 55, 0, 0]).unwrap(),
        3
    );
    assert_eq!(*seen.borrow(), vec![(0, 55), (1, 55), (2, 55)]);
    assert_eq!(
        call_with(&mut w, r, &mut calls, ids::LOOP, [10, 1001, 0, 0, 0]).unwrap(),
        3
    );
    assert_eq!(
        call_with(&mut w, r, &mut calls, ids::LOOP, [0, 1001, 0, 0, 0]).unwrap(),
        0
    );
    assert_eq!(
        call_with(&mut w, r, &mut calls, ids::LOOP, [3, 1000, 0, 1, 0]).unwrap(),
        e(libc::EINVAL)
    );
    assert_eq!(
        call_with(
            &mut w,
            r,
            &mut calls,
            ids::LOOP,
            [(1 << 23) + 1, 1000, 0, 0, 0]
        )
        .unwrap(),
        e(libc::E2BIG)
    );
    // nr_loops is a u32: the upper half is ignored.
    assert_eq!(
        call_with(
            &mut w,
            r,
            &mut calls,
            ids::LOOP,
            [1 << 32 | 1, 1001, 0, 0, 0]
        )
        .unwrap(),
        1
    );
    // A failing callback fails the helper with the program's own error.
    match call_with(&mut w, r, &mut calls, ids::LOOP, [1, 1002, 0, 0, 0]).unwrap_err() {
        HelperError::Program(e) => assert_eq!(e.pc(), 7),
        other => panic!("unexpected {other:?}"),
    }
    // An engine without callbacks: a clear error.
    assert!(matches!(
        call(&mut w, r, ids::LOOP, [1, 1000, 0, 0, 0]).unwrap_err(),
        HelperError::Abort(_)
    ));
}

#[test]
fn for_each_map_elem_visits_arrays_and_hashes() {
    let mut w = world(
        vec![
            Map::create(MapSpec::new("a", MapType::Array, 4, 8, 3)).unwrap(),
            Map::create(MapSpec::new("h", MapType::Hash, 4, 8, 8)).unwrap(),
            Map::create(MapSpec::new("q", MapType::Queue, 0, 8, 8)).unwrap(),
        ],
        ProgType::Unspec,
    );
    for i in 0..3u32 {
        w.maps.maps()[0]
            .update(&i.to_ne_bytes(), &(10 * i as u64).to_ne_bytes(), 0)
            .unwrap();
    }
    for k in [5u32, 6] {
        w.maps.maps()[1]
            .update(&k.to_ne_bytes(), &(k as u64).to_ne_bytes(), 0)
            .unwrap();
    }
    let table = w.maps.clone();
    let mut rc = RunContext::new();
    crate::grant::grant_maps(&mut rc, &table);
    let r = &mut rc.regions_mut();
    let seen = std::cell::RefCell::new(Vec::new());
    let mut calls = FakeCalls {
        funcs: vec![Box::new(|regions: &mut RegionsMut<'_>, a: [u64; 5]| {
            let k = u32::from_ne_bytes(regions.slice(a[1], 4).unwrap().try_into().unwrap());
            let v = u64::from_ne_bytes(regions.slice(a[2], 8).unwrap().try_into().unwrap());
            // The key is read-only to the callback, the value writable.
            assert!(regions.check(a[1], 4, true).is_err());
            regions
                .slice_mut(a[2], 8)
                .unwrap()
                .copy_from_slice(&(v + 1).to_ne_bytes());
            seen.borrow_mut().push((a[0], k, v, a[3]));
            Ok(u64::from(k == 1))
        })],
    };
    let before = r.len();
    assert_eq!(
        call_with(
            &mut w,
            r,
            &mut calls,
            ids::FOR_EACH_MAP_ELEM,
            [h(0), 1000, 9, 0, 0]
        )
        .unwrap(),
        2
    );
    assert_eq!(*seen.borrow(), vec![(h(0), 0, 0, 9), (h(0), 1, 10, 9)]);
    assert_eq!(r.len(), before);
    seen.borrow_mut().clear();
    assert_eq!(
        call_with(
            &mut w,
            r,
            &mut calls,
            ids::FOR_EACH_MAP_ELEM,
            [h(1), 1000, 0, 0, 0]
        )
        .unwrap(),
        2
    );
    let mut got: Vec<u32> = seen.borrow().iter().map(|s| s.1).collect();
    got.sort();
    assert_eq!(got, vec![5, 6]);
    assert_eq!(
        w.maps.maps()[1]
            .lookup(&5u32.to_ne_bytes())
            .unwrap()
            .unwrap(),
        6u64.to_ne_bytes()
    );
    assert_eq!(
        call_with(
            &mut w,
            r,
            &mut calls,
            ids::FOR_EACH_MAP_ELEM,
            [h(2), 1000, 0, 0, 0]
        )
        .unwrap(),
        e(libc::EINVAL)
    );
    assert_eq!(
        call_with(
            &mut w,
            r,
            &mut calls,
            ids::FOR_EACH_MAP_ELEM,
            [h(0), 1000, 0, 1, 0]
        )
        .unwrap(),
        e(libc::EINVAL)
    );
}

struct Nop;
impl Executable for Nop {
    fn run(&self, _: &mut RunContext<'_>) -> Result<RunOutcome, VmError> {
        Ok(RunOutcome {
            r0: 5,
            insns_executed: Some(1),
        })
    }
    fn engine(&self) -> EngineKind {
        EngineKind::Interpreter
    }
}

#[test]
fn tail_call_requests_and_limit() {
    let mut w = world(
        vec![Map::create(MapSpec::new("progs", MapType::ProgArray, 4, 4, 2)).unwrap()],
        ProgType::Unspec,
    );
    let target = Arc::new(ProgramRunner::new(Arc::new(Nop), w.env.program().clone()));
    w.maps.maps()[0]
        .as_prog_array()
        .unwrap()
        .set(1, target)
        .unwrap();
    let mut owned = Regions::new();
    let r = &mut RegionsMut::new(&mut owned);
    let mut calls = FakeCalls { funcs: vec![] };
    // Empty slot and out-of-range index fail with -ENOENT.
    assert_eq!(
        call_with(&mut w, r, &mut calls, ids::TAIL_CALL, [0x77, h(0), 0, 0, 0]).unwrap(),
        e(libc::ENOENT)
    );
    assert_eq!(
        call_with(&mut w, r, &mut calls, ids::TAIL_CALL, [0x77, h(0), 2, 0, 0]).unwrap(),
        e(libc::ENOENT)
    );
    // The empty slot counted as an attempt, the out-of-range one did not.
    assert_eq!(w.env.tail_calls(), 1);
    let f = implemented(ids::TAIL_CALL).unwrap().func;
    let mut ctx =
        HelperCtx::new(&mut *r, Some(&mut w.env as &mut dyn Any), 0).with_program_calls(&mut calls);
    assert_eq!(f(&mut ctx, [0x77, h(0), 1, 0, 0]).unwrap(), 0);
    let tc = ctx.take_tail_call().unwrap();
    assert_eq!(tc.ctx, 0x77);
    drop(ctx);
    for _ in 2..33 {
        assert_eq!(
            call_with(&mut w, r, &mut calls, ids::TAIL_CALL, [0x77, h(0), 1, 0, 0]).unwrap(),
            0
        );
    }
    assert_eq!(w.env.tail_calls(), 33);
    assert_eq!(
        call_with(&mut w, r, &mut calls, ids::TAIL_CALL, [0x77, h(0), 1, 0, 0]).unwrap(),
        e(libc::ENOENT)
    );
}

#[test]
fn helper_sets_are_checked_at_load_time() {
    let prog = |id: i32| {
        Program::from_insns(vec![Insn::Call(CallTarget::Helper(id)), Insn::Exit]).unwrap()
    };
    let none = Helpers::new();
    // get_current_comm is not for socket filters.
    let err = helpers_for(
        ProgType::SocketFilter,
        &none,
        Some(&prog(ids::GET_CURRENT_COMM as i32)),
    )
    .unwrap_err();
    assert!(
        matches!(err, HelperSetError::NotAllowed { pc: 0, id: 16, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("bpf_get_current_comm"));
    // skb_store_bytes is allowed for tc but not implemented in userspace.
    let err = helpers_for(
        ProgType::SchedCls,
        &none,
        Some(&prog(ids::SKB_STORE_BYTES as i32)),
    )
    .unwrap_err();
    assert!(
        matches!(err, HelperSetError::NotImplemented { id: 9, .. }),
        "{err}"
    );
    let err = helpers_for(ProgType::Unspec, &none, Some(&prog(5000))).unwrap_err();
    assert!(matches!(err, HelperSetError::Unknown { id: 5000, .. }));
    assert!(helpers_for(
        ProgType::Kprobe,
        &none,
        Some(&prog(ids::PROBE_READ_USER_STR as i32))
    )
    .is_ok());
    // Embedder helpers are allowed for every type and replace built-ins.
    let mut extra = Helpers::new();
    extra.register(5000, "my_helper", |_, a| Ok(a[0] * 2));
    extra.register(ids::KTIME_GET_NS, "fixed_clock", |_, _| Ok(1234));
    let hs = helpers_for(ProgType::SocketFilter, &extra, Some(&prog(5000))).unwrap();
    let mut owned = Regions::new();
    let r = &mut RegionsMut::new(&mut owned);
    let mut ctx = HelperCtx::new(r, None, 0);
    assert_eq!(
        (hs.get(5000).unwrap().func)(&mut ctx, [21, 0, 0, 0, 0]).unwrap(),
        42
    );
    assert_eq!((hs.get(5).unwrap().func)(&mut ctx, [0; 5]).unwrap(), 1234);
    assert_eq!(&*hs.get(5).unwrap().name, "fixed_clock");
    // Every built-in has a Linux name.
    for d in IMPLEMENTED {
        assert!(d.name().starts_with("bpf_"), "{d:?}");
    }
}

#[test]
fn spin_lock_serialises_threads() {
    use std::sync::atomic::{AtomicU64, Ordering};
    // A lock word and a counter in one buffer, incremented non-atomically under the lock.
    let mut mem = vec![0u8; 16];
    let base = addr(&mem);
    let mut rc = RunContext::new();
    rc.allow_mut(&mut mem, RegionKind::Embedder);
    let region = rc.regions().iter().next().copied().unwrap();
    let done = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            let mut r = Regions::new();
            // SAFETY: `mem` outlives the scope and is only accessed through checked
            // regions (the lock word atomically) until the scope ends.
            unsafe { r.push(region) };
            let done = &done;
            s.spawn(move || {
                let lock = implemented(ids::SPIN_LOCK).unwrap().func;
                let unlock = implemented(ids::SPIN_UNLOCK).unwrap().func;
                for _ in 0..2000 {
                    let mut ctx = HelperCtx::new(&mut r, None, 0);
                    lock(&mut ctx, [base, 0, 0, 0, 0]).unwrap();
                    let v = u64::from_ne_bytes(ctx.read(base + 8, 8).unwrap().try_into().unwrap());
                    ctx.write(base + 8, 8)
                        .unwrap()
                        .copy_from_slice(&(v + 1).to_ne_bytes());
                    unlock(&mut ctx, [base, 0, 0, 0, 0]).unwrap();
                }
                done.fetch_add(1, Ordering::Relaxed);
            });
        }
    });
    assert_eq!(done.load(Ordering::Relaxed), 2);
    let r = &mut rc.regions_mut();
    assert_eq!(r.slice(base + 8, 8).unwrap(), 4000u64.to_ne_bytes());
    assert_eq!(r.slice(base, 4).unwrap(), [0; 4]);
    // Misaligned or read-only locks are refused.
    let mut ctx = HelperCtx::new(r, None, 0);
    assert!((implemented(ids::SPIN_LOCK).unwrap().func)(&mut ctx, [base + 2, 0, 0, 0, 0]).is_err());
}
