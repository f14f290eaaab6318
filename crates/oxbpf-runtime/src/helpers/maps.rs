//! Map, ring buffer, perf buffer, tail-call and callback helpers.

use super::{neg, no_env, not_a_map};
use crate::env::{ProgramRunner, RunEnv};
use crate::maps::{cpu, perf_flags, MapKind, MapType};
use oxbpf_vm::{HelperCtx, HelperError, RegionKind};

/// Linux's `BPF_MAX_LOOPS`: most iterations `bpf_loop` runs.
pub const BPF_MAX_LOOPS: u64 = 8 * 1024 * 1024;
/// `BPF_F_CTXLEN_MASK` of `bpf_perf_event_output` for skb/XDP programs.
const BPF_F_CTXLEN_MASK: u64 = 0xfffff << 32;

fn ptr(p: Option<std::ptr::NonNull<u8>>) -> u64 {
    p.map_or(0, |p| p.as_ptr() as u64)
}

pub(super) fn map_lookup_elem(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (mut regions, env) = ctx.regions_and_env::<RunEnv>();
    let env = env.ok_or_else(no_env)?;
    let inner = {
        let map = env.map(a[0], &mut regions).ok_or_else(|| not_a_map(a[0]))?;
        let key = regions.slice(a[1], map.spec().key_size as usize)?;
        if !matches!(map.kind(), MapKind::OfMaps(_)) {
            return Ok(ptr(map.lookup_elem(key, cpu::current_cpu())));
        }
        map.lookup_inner_map(key)
    };
    Ok(match inner {
        Some(m) => env.program().maps.handle_of(&m),
        None => 0,
    })
}

pub(super) fn map_update_elem(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (mut regions, env) = ctx.regions_and_env::<RunEnv>();
    let env = env.ok_or_else(no_env)?;
    let map = env.map(a[0], &mut regions).ok_or_else(|| not_a_map(a[0]))?;
    let key = regions.slice(a[1], map.spec().key_size as usize)?;
    let value = regions.slice(a[2], map.spec().value_size as usize)?;
    Ok(
        match map.update_elem(key, value, a[3], cpu::current_cpu()) {
            Ok(()) => 0,
            Err(e) => e.helper_ret(),
        },
    )
}

pub(super) fn map_delete_elem(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (mut regions, env) = ctx.regions_and_env::<RunEnv>();
    let env = env.ok_or_else(no_env)?;
    let map = env.map(a[0], &mut regions).ok_or_else(|| not_a_map(a[0]))?;
    let key = regions.slice(a[1], map.spec().key_size as usize)?;
    Ok(match map.delete_elem(key) {
        Ok(()) => 0,
        Err(e) => e.helper_ret(),
    })
}

pub(super) fn map_push_elem(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (mut regions, env) = ctx.regions_and_env::<RunEnv>();
    let env = env.ok_or_else(no_env)?;
    let map = env.map(a[0], &mut regions).ok_or_else(|| not_a_map(a[0]))?;
    let value = regions.slice(a[1], map.spec().value_size as usize)?;
    Ok(match map.push_elem(value, a[2]) {
        Ok(()) => 0,
        Err(e) => e.helper_ret(),
    })
}

pub(super) fn map_pop_elem(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (mut regions, env) = ctx.regions_and_env::<RunEnv>();
    let env = env.ok_or_else(no_env)?;
    let map = env.map(a[0], &mut regions).ok_or_else(|| not_a_map(a[0]))?;
    let out = regions.slice_mut(a[1], map.spec().value_size as usize)?;
    Ok(match map.pop_elem(out) {
        Ok(()) => 0,
        Err(e) => e.helper_ret(),
    })
}

pub(super) fn map_peek_elem(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (mut regions, env) = ctx.regions_and_env::<RunEnv>();
    let env = env.ok_or_else(no_env)?;
    let map = env.map(a[0], &mut regions).ok_or_else(|| not_a_map(a[0]))?;
    let n = map.spec().value_size as usize;
    let r = if map.map_type() == MapType::BloomFilter {
        // The value is an input here (it may live in read-only memory).
        let mut v = regions.slice(a[1], n)?.to_vec();
        map.peek_elem(&mut v)
    } else {
        map.peek_elem(regions.slice_mut(a[1], n)?)
    };
    Ok(match r {
        Ok(()) => 0,
        Err(e) => e.helper_ret(),
    })
}

pub(super) fn map_lookup_percpu_elem(
    ctx: &mut HelperCtx<'_>,
    a: [u64; 5],
) -> Result<u64, HelperError> {
    let (mut regions, env) = ctx.regions_and_env::<RunEnv>();
    let env = env.ok_or_else(no_env)?;
    let map = env.map(a[0], &mut regions).ok_or_else(|| not_a_map(a[0]))?;
    let key = regions.slice(a[1], map.spec().key_size as usize)?;
    let cpu = a[2] as u32 as usize;
    if !map.map_type().is_percpu() || cpu >= map.num_cpus() {
        return Ok(0);
    }
    Ok(ptr(map.lookup_elem(key, cpu)))
}

pub(super) fn ringbuf_output(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (mut regions, env) = ctx.regions_and_env::<RunEnv>();
    let env = env.ok_or_else(no_env)?;
    let map = env.map(a[0], &mut regions).ok_or_else(|| not_a_map(a[0]))?;
    let Some(rb) = map.as_ringbuf() else {
        return Ok(neg(libc::EINVAL));
    };
    let data = regions.slice(a[1], a[2] as usize)?;
    Ok(match rb.output(data, a[3]) {
        Ok(()) => 0,
        Err(e) => e.helper_ret(),
    })
}

pub(super) fn ringbuf_reserve(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (mut regions, env) = ctx.regions_and_env::<RunEnv>();
    let env = env.ok_or_else(no_env)?;
    let map = env.map(a[0], &mut regions).ok_or_else(|| not_a_map(a[0]))?;
    Ok(match map.as_ringbuf() {
        Some(rb) => ptr(rb.reserve(a[1], a[2])),
        None => 0,
    })
}

fn ringbuf_commit(ctx: &mut HelperCtx<'_>, a: [u64; 5], discard: bool) -> Result<u64, HelperError> {
    let env = ctx.env::<RunEnv>().ok_or_else(no_env)?;
    let maps = &env.program().maps;
    for m in maps.maps() {
        if let Some(rb) = m.as_ringbuf() {
            if rb.contains(a[0]) {
                let r = if discard {
                    rb.discard_addr(a[0], a[1])
                } else {
                    rb.submit_addr(a[0], a[1])
                };
                return match r {
                    Ok(()) => Ok(0),
                    Err(e) => Err(HelperError::Abort(e.to_string())),
                };
            }
        }
    }
    Err(HelperError::Abort(format!(
        "0x{:x} is not a record reserved in a ring buffer of this program",
        a[0]
    )))
}

pub(super) fn ringbuf_submit(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    ringbuf_commit(ctx, a, false)
}

pub(super) fn ringbuf_discard(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    ringbuf_commit(ctx, a, true)
}

pub(super) fn ringbuf_query(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (mut regions, env) = ctx.regions_and_env::<RunEnv>();
    let env = env.ok_or_else(no_env)?;
    let map = env.map(a[0], &mut regions).ok_or_else(|| not_a_map(a[0]))?;
    Ok(map.as_ringbuf().map_or(0, |rb| rb.query(a[1])))
}

pub(super) fn perf_event_output(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (mut regions, env) = ctx.regions_and_env::<RunEnv>();
    let env = env.ok_or_else(no_env)?;
    let packet_type = env.program().prog_type.perf_output_takes_ctxlen();
    let map = env.map(a[1], &mut regions).ok_or_else(|| not_a_map(a[1]))?;
    let Some(pea) = map.as_perf_event_array() else {
        return Ok(neg(libc::EINVAL));
    };
    let mut flags = a[2];
    let mut ctx_len = 0usize;
    if packet_type {
        if flags & !(BPF_F_CTXLEN_MASK | perf_flags::BPF_F_INDEX_MASK) != 0 {
            return Ok(neg(libc::EINVAL));
        }
        ctx_len = ((flags & BPF_F_CTXLEN_MASK) >> 32) as usize;
        flags &= perf_flags::BPF_F_INDEX_MASK;
    }
    let data = regions.slice(a[3], a[4] as usize)?;
    let packet: &[u8] = if ctx_len > 0 {
        let Some(p) = regions
            .iter()
            .filter(|r| r.kind == RegionKind::Packet)
            .last()
            .copied()
        else {
            return Ok(neg(libc::EFAULT));
        };
        if ctx_len as u64 > p.len {
            return Ok(neg(libc::EFAULT));
        }
        regions.slice(p.start, ctx_len)?
    } else {
        &[]
    };
    Ok(
        match pea.output(cpu::current_cpu(), flags, &[data, packet]) {
            Ok(()) => 0,
            Err(e) => e.helper_ret(),
        },
    )
}

pub(super) fn tail_call(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let target = {
        let (mut regions, env) = ctx.regions_and_env::<RunEnv>();
        let env = env.ok_or_else(no_env)?;
        let slot = {
            let map = env.map(a[1], &mut regions).ok_or_else(|| not_a_map(a[1]))?;
            let Some(pa) = map.as_prog_array() else {
                return Ok(neg(libc::EINVAL));
            };
            let index = a[2] as u32;
            if index >= map.spec().max_entries {
                return Ok(neg(libc::ENOENT));
            }
            pa.get(index)
        };
        // Linux counts the attempt before looking at the slot.
        if !env.count_tail_call() {
            return Ok(neg(libc::ENOENT));
        }
        let Some(slot) = slot else {
            return Ok(neg(libc::ENOENT));
        };
        match slot.downcast::<ProgramRunner>() {
            Ok(r) => r,
            Err(_) => {
                return Err(HelperError::Abort(
                    "the program array slot holds something that is not an oxbpf program".into(),
                ))
            }
        }
    };
    if !ctx.can_call_functions() {
        return Err(HelperError::Abort(
            "this engine cannot run tail calls (it does not support re-entry)".into(),
        ));
    }
    ctx.tail_call(target, a[0]);
    Ok(0)
}

pub(super) fn bpf_loop(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let nr = a[0] as u32 as u64;
    if a[3] != 0 {
        return Ok(neg(libc::EINVAL));
    }
    if nr > BPF_MAX_LOOPS {
        return Ok(neg(libc::E2BIG));
    }
    for i in 0..nr {
        if ctx.call_function(a[1], [i, a[2], 0, 0, 0])? != 0 {
            return Ok(i + 1);
        }
    }
    Ok(nr)
}

pub(super) fn for_each_map_elem(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    if a[3] != 0 {
        return Ok(neg(libc::EINVAL));
    }
    let map = {
        let (mut regions, env) = ctx.regions_and_env::<RunEnv>();
        let env = env.ok_or_else(no_env)?;
        env.map_arc(a[0], &mut regions)
            .ok_or_else(|| not_a_map(a[0]))?
    };
    let keys: Vec<Vec<u8>> = match map.map_type() {
        MapType::Array | MapType::PerCpuArray => (0..map.spec().max_entries)
            .map(|i| i.to_ne_bytes().to_vec())
            .collect(),
        MapType::Hash | MapType::PerCpuHash | MapType::LruHash | MapType::LruPerCpuHash => {
            match map.keys() {
                Ok(k) => k,
                Err(e) => return Ok(e.helper_ret()),
            }
        }
        _ => return Ok(neg(libc::EINVAL)),
    };
    // The callback gets a read-only pointer to a copy of the key.
    let cpu = cpu::current_cpu();
    crate::grant::with_scratch(ctx, map.spec().key_size as usize, |ctx, key| {
        let mut n = 0u64;
        for k in &keys {
            let Some(value) = map.lookup_elem(k, cpu) else {
                continue;
            };
            key.write(k);
            n += 1;
            let r = ctx.call_function(a[1], [a[0], key.addr(), value.as_ptr() as u64, a[2], 0])?;
            if r != 0 {
                break;
            }
        }
        Ok(n)
    })
}
