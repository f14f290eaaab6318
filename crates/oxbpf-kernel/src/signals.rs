//! Ctrl-C: stop cleanly so that every attachment is detached.
//!
//! Programs and links attached through a `bpf_link` or perf event are released by the
//! kernel when the process dies, but a tc filter added over netlink, an XDP program
//! attached over netlink (kernels before 5.9) and a kprobe created through
//! `kprobe_events` (kernels before 4.17) outlive it. A tool that runs until Ctrl-C
//! therefore calls [`catch_interrupts`] first, polls [`interrupted`] in its loop (the
//! readers' waits return early when a signal arrives), and returns normally so that
//! `KernelObject` is dropped. A second Ctrl-C kills the process as usual.

use std::sync::atomic::Ordering;

use crate::error::KernelError;
use crate::sys;

/// Installs handlers for SIGINT and SIGTERM that only set a flag (the first signal of
/// each; the next one has the default effect). Calling it again re-arms them.
pub fn catch_interrupts() -> Result<(), KernelError> {
    sys::install_interrupt_handler(&[libc::SIGINT, libc::SIGTERM])
        .map_err(|e| KernelError::syscall("sigaction", "SIGINT, SIGTERM", e))
}

/// Whether SIGINT or SIGTERM arrived since [`catch_interrupts`] (or the last
/// [`clear_interrupted`]).
pub fn interrupted() -> bool {
    sys::INTERRUPTED.load(Ordering::SeqCst)
}

/// Forgets an interrupt that was handled.
pub fn clear_interrupted() {
    sys::INTERRUPTED.store(false, Ordering::SeqCst);
}
