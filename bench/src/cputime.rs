//! The calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`): time the thread spends
//! preempted by other processes is not counted, as the kernel's `BPF_PROG_TEST_RUN`
//! timer (preemption off, paused while it reschedules) does not count it either.

use std::time::Duration;

/// CPU time the calling thread has used so far.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec` for the duration of the call, and
    // CLOCK_THREAD_CPUTIME_ID is supported on every Linux this runs on; clock_gettime
    // writes nothing else.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if r != 0 {
        // Not reachable on Linux; fall back to a clock that always works.
        return std::time::UNIX_EPOCH.elapsed().unwrap_or_default();
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_advances_while_busy() {
        let start = thread_cpu_time();
        let mut x = 1u64;
        while thread_cpu_time() - start < Duration::from_millis(2) {
            x = std::hint::black_box(x.wrapping_mul(3));
        }
        assert!(thread_cpu_time() > start);
    }
}
