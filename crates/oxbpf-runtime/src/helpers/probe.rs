//! `bpf_probe_read_*`: reads of memory the program was not given, that never fault.
//!
//! In userspace the program's own address space ("kernel" memory for
//! `bpf_probe_read_kernel*`, `%s`, `%pks`) is the runtime process; "user" memory
//! (`bpf_probe_read_user*`, `%pus`) is the run's current task's process, which is the
//! runtime itself unless a hook set another task. Reads of the runtime's memory that fall
//! inside the run's regions are copied directly; everything else goes through
//! `process_vm_readv` ([`crate::sys`]), so an unmapped address is `-EFAULT` with the
//! destination zeroed, as in Linux, and never a crash.

use super::{env_of, neg};
use crate::format::{ArgMemory, Space};
use crate::sys;
use oxbpf_vm::{HelperCtx, HelperError, Regions};

/// Memory reads for a run: regions first, then the process (see the module docs).
pub struct RunMemory<'r> {
    regions: &'r Regions,
    own_pid: u32,
    user_pid: u32,
}

impl<'r> RunMemory<'r> {
    /// Reads through `regions`, the runtime's process and the process `user_pid`.
    pub fn new(regions: &'r Regions, user_pid: u32) -> RunMemory<'r> {
        RunMemory {
            regions,
            own_pid: crate::task::Task::thread_ids().0,
            user_pid,
        }
    }

    fn pid(&self, space: Space) -> u32 {
        match space {
            Space::Kernel => self.own_pid,
            Space::User => self.user_pid,
        }
    }

    /// The bytes from `addr` to the end of the region holding it, when the memory is the
    /// runtime's own.
    fn in_regions(&self, space: Space, addr: u64) -> Option<&'r [u8]> {
        if self.pid(space) != self.own_pid {
            return None;
        }
        let r = self.regions.find(addr, 1)?;
        let avail = r.end() - addr;
        self.regions.slice(addr, avail as usize).ok()
    }
}

impl ArgMemory for RunMemory<'_> {
    fn read_str(&mut self, space: Space, addr: u64, max: usize, out: &mut Vec<u8>) -> bool {
        if max == 0 {
            return true;
        }
        if let Some(b) = self.in_regions(space, addr) {
            let b = &b[..b.len().min(max)];
            if let Some(z) = b.iter().position(|&c| c == 0) {
                out.extend_from_slice(&b[..z]);
                return true;
            }
            if b.len() == max {
                out.extend_from_slice(&b[..max - 1]);
                return true;
            }
            // The string runs past the region: read it from the process.
        }
        sys::read_process_str(self.pid(space), addr, max, out)
    }

    fn read(&mut self, space: Space, addr: u64, buf: &mut [u8]) -> bool {
        if let Some(b) = self.in_regions(space, addr) {
            if b.len() >= buf.len() {
                buf.copy_from_slice(&b[..buf.len()]);
                return true;
            }
        }
        sys::read_process(self.pid(space), addr, buf).is_ok()
    }
}

/// Copies `size` bytes from `src` in `space` to the program's `dst`.
fn probe_read(ctx: &mut HelperCtx<'_>, a: [u64; 5], space: Space) -> Result<u64, HelperError> {
    let (dst, size, src) = (a[0], a[1] as u32 as usize, a[2]);
    let user_pid = env_of(ctx)
        .map(|e| e.task.memory_pid())
        .unwrap_or_else(|_| {
            // Without a run record the current task is the running thread.
            crate::task::Task::thread_ids().0
        });
    // The destination must be the program's writable memory.
    ctx.regions().check(dst, size as u64, true)?;
    if size == 0 {
        return Ok(0);
    }
    let mut tmp = vec![0u8; size];
    let ok = RunMemory::new(ctx.regions(), user_pid).read(space, src, &mut tmp);
    let out = ctx.write(dst, size)?;
    if ok {
        out.copy_from_slice(&tmp);
        Ok(0)
    } else {
        out.fill(0);
        Ok(neg(libc::EFAULT))
    }
}

/// Copies the string at `src` in `space` to the program's `dst` (`size` bytes).
fn probe_read_str(ctx: &mut HelperCtx<'_>, a: [u64; 5], space: Space) -> Result<u64, HelperError> {
    let (dst, size, src) = (a[0], a[1] as u32 as usize, a[2]);
    let user_pid = env_of(ctx)
        .map(|e| e.task.memory_pid())
        .unwrap_or_else(|_| crate::task::Task::thread_ids().0);
    ctx.regions().check(dst, size as u64, true)?;
    if size == 0 {
        return Ok(0);
    }
    let mut s = Vec::with_capacity(size.min(4096));
    let ok = RunMemory::new(ctx.regions(), user_pid).read_str(space, src, size, &mut s);
    let out = ctx.write(dst, size)?;
    if !ok {
        out.fill(0);
        return Ok(neg(libc::EFAULT));
    }
    // Bytes after the NUL are left as they were, as Linux does.
    let n = s.len().min(size - 1);
    out[..n].copy_from_slice(&s[..n]);
    out[n] = 0;
    Ok((n + 1) as u64)
}

pub(super) fn probe_read_user(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    probe_read(ctx, a, Space::User)
}

pub(super) fn probe_read_kernel(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    probe_read(ctx, a, Space::Kernel)
}

pub(super) fn probe_read_user_str(
    ctx: &mut HelperCtx<'_>,
    a: [u64; 5],
) -> Result<u64, HelperError> {
    probe_read_str(ctx, a, Space::User)
}

pub(super) fn probe_read_kernel_str(
    ctx: &mut HelperCtx<'_>,
    a: [u64; 5],
) -> Result<u64, HelperError> {
    probe_read_str(ctx, a, Space::Kernel)
}
