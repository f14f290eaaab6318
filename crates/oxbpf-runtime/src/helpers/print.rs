//! `bpf_trace_printk`, `bpf_trace_vprintk`, `bpf_snprintf`.

use super::{neg, no_env, RunMemory};
use crate::env::RunEnv;
use crate::format::{self, MAX_BPRINTF_VARARGS};
use crate::maps::cpu;
use crate::sys::{self, Clock};
use crate::trace::TraceRecord;
use oxbpf_vm::{HelperCtx, HelperError, Regions};

/// Longest format string `bpf_snprintf` reads (its format lives in a read-only map value
/// in Linux; this bound only stops a runaway scan).
const MAX_SNPRINTF_FMT: usize = 64 * 1024;

/// Reads `data_len` bytes of `u64` arguments (`EINVAL` rules of Linux first).
fn varargs(
    regions: &Regions,
    args: u64,
    data_len: u64,
) -> Result<Result<Vec<u64>, u64>, HelperError> {
    let data_len = data_len as u32 as usize;
    if !data_len.is_multiple_of(8)
        || data_len > MAX_BPRINTF_VARARGS * 8
        || (data_len != 0 && args == 0)
    {
        return Ok(Err(neg(libc::EINVAL)));
    }
    let b = regions.slice(args, data_len)?;
    Ok(Ok(b
        .chunks_exact(8)
        .map(|c| u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect()))
}

/// Formats and records one trace message.
fn printk(
    ctx: &mut HelperCtx<'_>,
    fmt: u64,
    fmt_size: u64,
    args: Option<(u64, u64)>,
    inline: [u64; 3],
) -> Result<u64, HelperError> {
    let (regions, env) = ctx.regions_and_env::<RunEnv>();
    let regions = &*regions;
    let env = env.ok_or_else(no_env)?;
    let fmt = regions.slice(fmt, fmt_size as u32 as usize)?;
    let args = match args {
        Some((p, len)) => match varargs(regions, p, len)? {
            Ok(v) => v,
            Err(r) => return Ok(r),
        },
        None => inline.to_vec(),
    };
    let mut mem = RunMemory::new(regions, env.task.memory_pid());
    let (msg, n) = match format::trace_printk(fmt, &args, &mut mem) {
        Ok(v) => v,
        Err(e) => return Ok(neg(e.errno())),
    };
    let task = env.task.resolve();
    let record = TraceRecord {
        comm: task.comm,
        pid: task.pid,
        cpu: cpu::current_cpu() as u32,
        flags: env.trace_flags,
        ts_ns: sys::clock_ns(Clock::Monotonic),
        msg: msg.into_boxed_slice(),
    };
    env.program().trace.write(record);
    Ok(n as u64)
}

pub(super) fn trace_printk(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    printk(ctx, a[0], a[1], None, [a[2], a[3], a[4]])
}

pub(super) fn trace_vprintk(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    printk(ctx, a[0], a[1], Some((a[2], a[3])), [0; 3])
}

pub(super) fn snprintf(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (str_ptr, str_size, fmt, args, data_len) = (a[0], a[1] as u32 as usize, a[2], a[3], a[4]);
    let user_pid = match ctx.env::<RunEnv>() {
        Some(e) => e.task.memory_pid(),
        None => crate::task::Task::thread_ids().0,
    };
    let regions = ctx.regions();
    let args = match varargs(regions, args, data_len)? {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let text = regions.c_str(fmt, MAX_SNPRINTF_FMT)?;
    let mut with_nul = Vec::with_capacity(text.len() + 1);
    with_nul.extend_from_slice(text);
    with_nul.push(0);
    let mut mem = RunMemory::new(regions, user_pid);
    let p = match format::prepare(&with_nul, &args, &mut mem) {
        Ok(p) => p,
        Err(e) => return Ok(neg(e.errno())),
    };
    let out = ctx.write(str_ptr, str_size)?;
    Ok(p.print(out) as u64 + 1)
}
