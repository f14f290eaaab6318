//! "CPUs" in userspace.
//!
//! Per-CPU maps (`PERCPU_ARRAY`, `PERCPU_HASH`, `LRU_PERCPU_HASH`) and perf event arrays keep
//! one slot per CPU. In the kernel a program runs with migration disabled, so "the current
//! CPU" is stable for a whole run and no other program touches that CPU's slot meanwhile.
//! oxbpf reproduces this with a **per-thread CPU index** rather than `sched_getcpu()` (which
//! can change in the middle of a run when the OS migrates the thread):
//!
//! - [`num_cpus`] is the number of per-CPU slots every map gets. It is fixed the first time
//!   it is read: the value given to [`set_num_cpus`] before that, else the environment
//!   variable `OXBPF_NUM_CPUS`, else [`std::thread::available_parallelism`].
//! - [`current_cpu`] is the calling thread's index in `0..num_cpus()`: the index pinned with
//!   [`set_current_cpu`], else one assigned round-robin the first time the thread asks.
//!
//! Runtimes that run one worker thread per CPU index get the kernel's exclusivity. When more
//! threads than CPUs run programs, two threads can share a CPU index and their non-atomic
//! updates of that per-CPU slot can race, exactly as two programs would if the kernel let
//! them run on one CPU at once; use atomic instructions or pin threads to distinct indexes.

use super::error::MapError;
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

static NUM_CPUS: OnceLock<usize> = OnceLock::new();
static CONFIGURED: Mutex<Option<usize>> = Mutex::new(None);
static NEXT_CPU: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static CURRENT: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Upper bound on the CPU count, as the kernel's `NR_CPUS` on large configs.
pub const MAX_CPUS: usize = 8192;

fn detect() -> usize {
    if let Ok(s) = std::env::var("OXBPF_NUM_CPUS") {
        match s.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_CPUS).contains(&n) => return n,
            _ => log::warn!(
                "OXBPF_NUM_CPUS={s:?} is not a number in 1..={MAX_CPUS}; using the host's CPU count"
            ),
        }
    }
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(MAX_CPUS)
}

/// The number of CPUs per-CPU maps have slots for. Fixed at its first call.
pub fn num_cpus() -> usize {
    *NUM_CPUS.get_or_init(|| {
        let configured = CONFIGURED.lock().map(|g| *g).unwrap_or(None);
        configured.unwrap_or_else(detect)
    })
}

/// Sets the CPU count. Must be called before anything reads it (creating a per-CPU map
/// does); afterwards it fails with [`MapError::CpuCountFixed`] unless `n` equals the fixed
/// count. `n` must be in `1..=MAX_CPUS`.
pub fn set_num_cpus(n: usize) -> Result<(), MapError> {
    if !(1..=MAX_CPUS).contains(&n) {
        return Err(MapError::InvalidArgument {
            map: String::new(),
            reason: format!("CPU count {n} is not in 1..={MAX_CPUS}"),
        });
    }
    if let Some(&cur) = NUM_CPUS.get() {
        return if cur == n {
            Ok(())
        } else {
            Err(MapError::CpuCountFixed { current: cur })
        };
    }
    if let Ok(mut g) = CONFIGURED.lock() {
        *g = Some(n);
    }
    let cur = num_cpus();
    if cur == n {
        Ok(())
    } else {
        Err(MapError::CpuCountFixed { current: cur })
    }
}

/// The calling thread's CPU index, in `0..num_cpus()`.
#[inline]
pub fn current_cpu() -> usize {
    CURRENT.with(|c| {
        let v = c.get();
        if v != usize::MAX {
            return v;
        }
        let v = NEXT_CPU.fetch_add(1, Ordering::Relaxed) % num_cpus();
        c.set(v);
        v
    })
}

/// Pins the calling thread to CPU index `cpu` (`EINVAL` when `cpu >= num_cpus()`).
pub fn set_current_cpu(cpu: usize) -> Result<(), MapError> {
    let n = num_cpus();
    if cpu >= n {
        return Err(MapError::InvalidArgument {
            map: String::new(),
            reason: format!("CPU index {cpu} is not below the CPU count {n}"),
        });
    }
    CURRENT.with(|c| c.set(cpu));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_cpu_is_stable_and_in_range() {
        let n = num_cpus();
        assert!(n >= 1);
        let a = current_cpu();
        assert_eq!(a, current_cpu());
        assert!(a < n);
        set_current_cpu(n - 1).unwrap();
        assert_eq!(current_cpu(), n - 1);
        assert_eq!(set_current_cpu(n).unwrap_err().errno(), libc::EINVAL);
        // The count is fixed now: changing it fails, confirming it succeeds.
        assert!(set_num_cpus(n).is_ok());
        assert_eq!(set_num_cpus(n + 1).unwrap_err().errno(), libc::EBUSY);
        let other = std::thread::spawn(current_cpu).join().unwrap();
        assert!(other < n);
    }
}
