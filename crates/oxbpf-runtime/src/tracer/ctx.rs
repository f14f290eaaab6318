//! The tracepoint context of system-call events, byte for byte what the kernel gives a
//! `BPF_PROG_TYPE_TRACEPOINT` program attached to `syscalls/sys_enter_NAME` or
//! `syscalls/sys_exit_NAME` (`struct syscall_trace_enter` / `syscall_trace_exit`):
//!
//! ```text
//! offset  size  sys_enter_NAME                 sys_exit_NAME
//!      0     2  common_type (tracepoint id)    common_type
//!      2     1  common_flags                   common_flags
//!      3     1  common_preempt_count           common_preempt_count
//!      4     4  common_pid (thread id)         common_pid
//!      8     4  __syscall_nr                   __syscall_nr
//!     12     4  (padding)                      (padding)
//!     16  8 * n args[0..n], n = nargs          ret (long)
//! ```
//!
//! `common_type` holds the event's tracepoint id when tracefs is readable (else 0);
//! `common_flags` and `common_preempt_count` are 0 (a task in user space: interrupts on,
//! no preemption nesting). The record is as long as the kernel's: 16 bytes plus 8 per
//! argument for an entry, 24 bytes for an exit.

use super::syscalls;
use std::fs;

/// Offset of `__syscall_nr`.
pub const SYSCALL_NR_OFFSET: usize = 8;
/// Offset of the first argument of a `sys_enter` record.
pub const ENTER_ARGS_OFFSET: usize = 16;
/// Offset of `ret` in a `sys_exit` record.
pub const EXIT_RET_OFFSET: usize = 16;
/// The largest record (an entry with six arguments).
pub const MAX_CTX: usize = ENTER_ARGS_OFFSET + 6 * 8;

/// The common header of every trace record (`struct trace_entry`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CommonHeader {
    pub type_id: u16,
    pub flags: u8,
    pub preempt_count: u8,
    pub pid: i32,
}

impl CommonHeader {
    fn write(&self, out: &mut [u8]) {
        out[0..2].copy_from_slice(&self.type_id.to_ne_bytes());
        out[2] = self.flags;
        out[3] = self.preempt_count;
        out[4..8].copy_from_slice(&self.pid.to_ne_bytes());
    }

    /// Parses the first 8 bytes of a record.
    pub fn parse(rec: &[u8]) -> Option<CommonHeader> {
        let b = rec.get(..8)?;
        Some(CommonHeader {
            type_id: u16::from_ne_bytes([b[0], b[1]]),
            flags: b[2],
            preempt_count: b[3],
            pid: i32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        })
    }
}

/// The `sys_enter` record of call `nr` by thread `tid`.
pub(crate) fn enter_record(
    type_id: u16,
    tid: i32,
    nr: u32,
    args: &[u64; 6],
) -> ([u8; MAX_CTX], usize) {
    let mut rec = [0u8; MAX_CTX];
    CommonHeader {
        type_id,
        pid: tid,
        ..Default::default()
    }
    .write(&mut rec);
    rec[SYSCALL_NR_OFFSET..SYSCALL_NR_OFFSET + 4].copy_from_slice(&(nr as i32).to_ne_bytes());
    let nargs = syscalls::by_nr(nr).map_or(6, |s| s.nargs as usize);
    for (i, a) in args.iter().take(nargs).enumerate() {
        let o = ENTER_ARGS_OFFSET + 8 * i;
        rec[o..o + 8].copy_from_slice(&a.to_ne_bytes());
    }
    (rec, ENTER_ARGS_OFFSET + 8 * nargs)
}

/// The `sys_exit` record of call `nr` by thread `tid` that returned `ret`.
pub(crate) fn exit_record(type_id: u16, tid: i32, nr: u32, ret: i64) -> ([u8; MAX_CTX], usize) {
    let mut rec = [0u8; MAX_CTX];
    CommonHeader {
        type_id,
        pid: tid,
        ..Default::default()
    }
    .write(&mut rec);
    rec[SYSCALL_NR_OFFSET..SYSCALL_NR_OFFSET + 4].copy_from_slice(&(nr as i32).to_ne_bytes());
    rec[EXIT_RET_OFFSET..EXIT_RET_OFFSET + 8].copy_from_slice(&ret.to_ne_bytes());
    (rec, EXIT_RET_OFFSET + 8)
}

/// The id of tracepoint `category/name` from a mounted tracefs (`/sys/kernel/tracing`,
/// or `/sys/kernel/debug/tracing`), if readable.
pub fn tracepoint_id(category: &str, name: &str) -> Option<u32> {
    ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        .iter()
        .find_map(|root| fs::read_to_string(format!("{root}/events/{category}/{name}/id")).ok())
        .and_then(|s| s.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_have_the_kernel_layout() {
        let (rec, len) = enter_record(782, 1234, 257, &[1, 2, 3, 4, 5, 6]);
        assert_eq!(len, 16 + 4 * 8, "openat has four arguments");
        assert_eq!(
            CommonHeader::parse(&rec).unwrap(),
            CommonHeader {
                type_id: 782,
                flags: 0,
                preempt_count: 0,
                pid: 1234
            }
        );
        assert_eq!(i32::from_ne_bytes(rec[8..12].try_into().unwrap()), 257);
        assert_eq!(u64::from_ne_bytes(rec[40..48].try_into().unwrap()), 4);
        assert_eq!(&rec[48..], &[0; 16], "no bytes past the record's arguments");
        let (rec, len) = exit_record(781, 9, 257, -2);
        assert_eq!(len, 24);
        assert_eq!(i64::from_ne_bytes(rec[16..24].try_into().unwrap()), -2);
        let (_, len) = enter_record(0, 1, 110, &[0; 6]);
        assert_eq!(len, 16, "getppid has no arguments");
    }
}
