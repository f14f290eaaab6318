//! Time, randomness, CPU, current task and string helpers.

use super::neg;
use crate::env::RunEnv;
use crate::maps::cpu;
use crate::sys::{self, Clock};
use crate::task::CurrentTask;
use oxbpf_vm::{HelperCtx, HelperError, Regions};
use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

pub(super) fn ktime_get_ns(_: &mut HelperCtx<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(sys::clock_ns(Clock::Monotonic))
}

pub(super) fn ktime_get_boot_ns(_: &mut HelperCtx<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(sys::clock_ns(Clock::Boot))
}

pub(super) fn ktime_get_coarse_ns(_: &mut HelperCtx<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(sys::clock_ns(Clock::MonotonicCoarse))
}

pub(super) fn ktime_get_tai_ns(_: &mut HelperCtx<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(sys::clock_ns(Clock::Tai))
}

/// How the kernel's jiffies relate to `CLOCK_MONOTONIC_COARSE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JiffiesClock {
    /// The kernel's `HZ`.
    pub hz: u64,
    /// jiffies at monotonic time 0.
    pub offset: u64,
}

/// Linux's `INITIAL_JIFFIES` on 64-bit: jiffies start 300 s before wrapping 32 bits.
pub fn initial_jiffies(hz: u64) -> u64 {
    (1u64 << 32).wrapping_sub(300 * hz)
}

impl JiffiesClock {
    /// Fits `HZ` and the offset to one observation of the kernel's jiffies (from
    /// `/proc/timer_list`) at monotonic time `mono_ns`: the `HZ` among Linux's choices whose
    /// prediction from `INITIAL_JIFFIES` is closest.
    pub fn fit(jiffies: u64, mono_ns: u64) -> JiffiesClock {
        let best = [100u64, 250, 300, 1000]
            .into_iter()
            .min_by_key(|&hz| {
                let predicted = initial_jiffies(hz).wrapping_add(mono_ns / 1_000_000 * hz / 1000);
                predicted.abs_diff(jiffies)
            })
            .unwrap_or(1000);
        let ticks = mono_ns / 1_000_000 * best / 1000;
        JiffiesClock {
            hz: best,
            offset: jiffies.wrapping_sub(ticks),
        }
    }

    /// Read from `/proc/timer_list` (root only), else Linux's default `HZ=1000` from boot.
    pub fn detect() -> JiffiesClock {
        let mono = sys::clock_ns(Clock::MonotonicCoarse);
        let observed = std::fs::read_to_string("/proc/timer_list")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("jiffies: "))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            });
        match observed {
            Some(j) => JiffiesClock::fit(j, mono),
            None => JiffiesClock {
                hz: 1000,
                offset: initial_jiffies(1000),
            },
        }
    }

    /// jiffies at monotonic time `mono_ns`.
    pub fn at(&self, mono_ns: u64) -> u64 {
        self.offset
            .wrapping_add(mono_ns / 1_000_000 * self.hz / 1000)
    }
}

/// The process-wide jiffies clock (detected once).
pub fn jiffies_clock() -> JiffiesClock {
    static CLOCK: OnceLock<JiffiesClock> = OnceLock::new();
    *CLOCK.get_or_init(JiffiesClock::detect)
}

pub(super) fn jiffies64(_: &mut HelperCtx<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(jiffies_clock().at(sys::clock_ns(Clock::MonotonicCoarse)))
}

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// Next value of the calling thread's generator (splitmix64, seeded from the standard
/// library's per-process random hash keys and the thread).
pub fn prandom_u32() -> u32 {
    RNG.with(|c| {
        let mut s = c.get();
        if s == 0 {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u32(sys::gettid());
            h.write_u64(sys::clock_ns(Clock::Monotonic));
            s = h.finish() | 1;
        }
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        c.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as u32
    })
}

pub(super) fn get_prandom_u32(_: &mut HelperCtx<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(prandom_u32() as u64)
}

pub(super) fn get_smp_processor_id(_: &mut HelperCtx<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(cpu::current_cpu() as u64)
}

pub(super) fn get_numa_node_id(_: &mut HelperCtx<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(sys::numa_node() as u64)
}

fn current(ctx: &mut HelperCtx<'_>) -> CurrentTask {
    ctx.env::<RunEnv>().map_or(CurrentTask::Thread, |e| e.task)
}

pub(super) fn get_current_pid_tgid(
    ctx: &mut HelperCtx<'_>,
    _: [u64; 5],
) -> Result<u64, HelperError> {
    Ok(current(ctx).pid_tgid())
}

pub(super) fn get_current_uid_gid(
    ctx: &mut HelperCtx<'_>,
    _: [u64; 5],
) -> Result<u64, HelperError> {
    Ok(current(ctx).uid_gid())
}

pub(super) fn get_current_comm(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let task = current(ctx).resolve();
    let size = a[1] as u32 as usize;
    let buf = ctx.write(a[0], size)?;
    if size == 0 {
        return Ok(0);
    }
    // strscpy_pad: at most size - 1 bytes, NUL, zeros to the end.
    let name = task.comm_bytes();
    let n = name.len().min(size - 1);
    buf[..n].copy_from_slice(&name[..n]);
    buf[n..].fill(0);
    Ok(0)
}

/// Byte `i` of the string at `addr`, checked.
fn byte_at(regions: &Regions, addr: u64, i: usize) -> Result<u8, HelperError> {
    Ok(regions.slice(addr.wrapping_add(i as u64), 1)?[0])
}

pub(super) fn strncmp(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let n = a[1] as u32 as usize;
    let s1 = ctx.read(a[0], n)?;
    for (i, &c1) in s1.iter().enumerate() {
        let c2 = byte_at(ctx.regions(), a[2], i)?;
        if c1 != c2 {
            return Ok(if c1 < c2 { u64::MAX } else { 1 });
        }
        if c1 == 0 {
            break;
        }
    }
    Ok(0)
}

const BPF_STRTOX_BASE_MASK: u64 = 0x1f;

/// The kernel's `__bpf_strtoull`: `(consumed, value, negative)` or `-errno`.
pub fn parse_strtoull(buf: &[u8], flags: u64) -> Result<(usize, u64, bool), i32> {
    let mut base = (flags & BPF_STRTOX_BASE_MASK) as u32;
    if buf.is_empty() {
        return Err(libc::EINVAL);
    }
    if !matches!(base, 0 | 8 | 10 | 16) || flags & !BPF_STRTOX_BASE_MASK != 0 {
        return Err(libc::EINVAL);
    }
    // The kernel's isspace (Latin-1: 0xa0 is a space too).
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0xa0);
    let mut i = 0;
    while i < buf.len() && is_space(buf[i]) {
        i += 1;
    }
    let negative = i < buf.len() && buf[i] == b'-';
    if negative {
        i += 1;
    }
    let mut consumed = i;
    if buf.len() == i {
        return Err(libc::EINVAL);
    }
    // The kernel copies at most 63 bytes into a NUL-terminated buffer.
    let mut s = [0u8; 64];
    let n = (buf.len() - i).min(63);
    s[..n].copy_from_slice(&buf[i..i + n]);
    let mut p = 0usize;
    if base == 0 {
        base = if s[0] == b'0' {
            if s[1].eq_ignore_ascii_case(&b'x') && s[2].is_ascii_hexdigit() {
                16
            } else {
                8
            }
        } else {
            10
        };
    }
    if base == 16 && s[0] == b'0' && s[1].eq_ignore_ascii_case(&b'x') {
        p = 2;
    }
    let mut value: u64 = 0;
    let mut overflow = false;
    let mut digits = 0usize;
    while p + digits < 64 {
        let c = s[p + digits];
        let v = match c {
            b'0'..=b'9' => (c - b'0') as u32,
            _ => match c.to_ascii_lowercase() {
                l @ b'a'..=b'f' => (l - b'a' + 10) as u32,
                _ => break,
            },
        };
        if v >= base {
            break;
        }
        match value
            .checked_mul(base as u64)
            .and_then(|x| x.checked_add(v as u64))
        {
            Some(x) => value = x,
            None => {
                overflow = true;
                value = value.wrapping_mul(base as u64).wrapping_add(v as u64);
            }
        }
        digits += 1;
    }
    if overflow {
        return Err(libc::ERANGE);
    }
    if digits == 0 {
        return Err(libc::EINVAL);
    }
    consumed += p + digits;
    Ok((consumed, value, negative))
}

/// `bpf_strtol`'s parse: `(consumed, value)` or `-errno`.
pub fn parse_strtol(buf: &[u8], flags: u64) -> Result<(usize, i64), i32> {
    let (n, v, neg) = parse_strtoull(buf, flags)?;
    if neg {
        let r = (v as i64).wrapping_neg();
        if r > 0 {
            return Err(libc::ERANGE);
        }
        Ok((n, r))
    } else {
        if (v as i64) < 0 {
            return Err(libc::ERANGE);
        }
        Ok((n, v as i64))
    }
}

/// `bpf_strtoul`'s parse.
pub fn parse_strtoul(buf: &[u8], flags: u64) -> Result<(usize, u64), i32> {
    let (n, v, neg) = parse_strtoull(buf, flags)?;
    if neg {
        return Err(libc::EINVAL);
    }
    Ok((n, v))
}

fn strto(ctx: &mut HelperCtx<'_>, a: [u64; 5], signed: bool) -> Result<u64, HelperError> {
    let buf = ctx.read(a[0], a[1] as u32 as usize)?.to_vec();
    let res = ctx.write(a[3], 8)?;
    res.fill(0);
    let r = if signed {
        parse_strtol(&buf, a[2]).map(|(n, v)| (n, v as u64))
    } else {
        parse_strtoul(&buf, a[2])
    };
    match r {
        Ok((n, v)) => {
            res.copy_from_slice(&v.to_ne_bytes());
            Ok(n as u64)
        }
        Err(e) => Ok(neg(e)),
    }
}

pub(super) fn strtol(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    strto(ctx, a, true)
}

pub(super) fn strtoul(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    strto(ctx, a, false)
}

/// Checks a `struct bpf_spin_lock *` argument: 4 writable bytes, 4-byte aligned.
fn lock_addr(ctx: &mut HelperCtx<'_>, addr: u64) -> Result<u64, HelperError> {
    ctx.regions().check(addr, 4, true)?;
    if !addr.is_multiple_of(4) {
        return Err(HelperError::Abort(format!(
            "bpf_spin_lock at 0x{addr:x} is not 4-byte aligned"
        )));
    }
    Ok(addr)
}

pub(super) fn spin_lock(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let addr = lock_addr(ctx, a[0])?;
    // SAFETY: `lock_addr` checked 4 aligned, writable bytes of the run's memory, which
    // stays valid for the run (and so for this call).
    unsafe { sys::spin_lock(addr) };
    Ok(0)
}

pub(super) fn spin_unlock(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let addr = lock_addr(ctx, a[0])?;
    // SAFETY: as in `spin_lock`.
    unsafe { sys::spin_unlock(addr) };
    Ok(0)
}
