//! The process-wide aya loader and the parsed kernel BTF.
//!
//! aya 0.14's `EbpfLoader::new()` reads and parses `/sys/kernel/btf/vmlinux` (5-6 MB:
//! 15-35 ms and about 13 MB of memory on this project's machines) every time it is called,
//! whether or not the object has CO-RE relocations, and it offers no constructor that skips
//! it (aya 0.15 parses lazily, but needs a newer Rust than this workspace's). So the
//! loader is made once per process and reused: `EbpfLoader::load` takes `&mut self` and
//! keeps no state from one object to the next (oxbpf sets no globals, pins or extensions).
//! Loading objects after the first costs no BTF work at all.
//!
//! The kernel BTF that tp_btf, fentry/fexit and CO-RE fallback loads need is parsed at most
//! once per process too ([`kernel_btf`]); once it is, the loader borrows that copy and
//! drops its own, so a process holds one parsed copy (about 13 MB) for its lifetime, and
//! only once it has loaded an object. [`prewarm`] builds the loader on a background
//! thread, so that the parse overlaps other work (compiling C, for the facade).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use crate::error::KernelError;

static KERNEL_BTF: OnceLock<Result<aya::Btf, String>> = OnceLock::new();

/// The loader; `None` until the first load (or [`prewarm`]).
static LOADER: Mutex<Option<Loader>> = Mutex::new(None);

static PREWARMING: AtomicBool = AtomicBool::new(false);

/// The shared loader and whether it already borrows [`KERNEL_BTF`].
pub(crate) struct Loader {
    pub(crate) aya: aya::EbpfLoader<'static>,
    borrows_static_btf: bool,
}

/// The parsed kernel BTF, parsed on first use and kept for the process's lifetime.
pub(crate) fn kernel_btf() -> Result<&'static aya::Btf, KernelError> {
    let btf = KERNEL_BTF
        .get_or_init(|| aya::Btf::from_sys_fs().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| KernelError::Unsupported {
            what: format!("kernel BTF (/sys/kernel/btf/vmlinux) is needed and unavailable: {e}"),
        })?;
    // Let the loader use this copy and free the one it parsed itself. `try_lock`: the
    // loader may be busy loading (and it does not need to switch right now).
    if let Ok(mut guard) = LOADER.try_lock() {
        if let Some(l) = guard.as_mut() {
            switch_to_static(l);
        }
    }
    Ok(btf)
}

fn switch_to_static(l: &mut Loader) {
    if l.borrows_static_btf {
        return;
    }
    if let Some(Ok(btf)) = KERNEL_BTF.get() {
        l.aya.btf(Some(btf));
        l.borrows_static_btf = true;
    }
}

fn lock() -> MutexGuard<'static, Option<Loader>> {
    LOADER.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `f` with the process's loader, making it first if needed.
pub(crate) fn with_loader<R>(f: impl FnOnce(&mut aya::EbpfLoader<'static>) -> R) -> R {
    let mut guard = lock();
    let l = guard.get_or_insert_with(|| {
        let started = std::time::Instant::now();
        // Parses the kernel BTF (aya 0.14 has no way around it).
        let aya = aya::EbpfLoader::new();
        log::debug!(
            "aya loader made in {:?} (kernel BTF parsed)",
            started.elapsed()
        );
        Loader {
            aya,
            borrows_static_btf: false,
        }
    });
    switch_to_static(l);
    f(&mut l.aya)
}

/// Makes the process's loader (parsing the kernel BTF) on a background thread, unless it
/// exists or is being made. The first [`crate::KernelObject::load`] waits for it instead of
/// parsing again. Call it when an object is about to be loaded and something else comes
/// first (compiling C, reading files).
pub fn prewarm() {
    if PREWARMING.swap(true, Ordering::SeqCst) {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("oxbpf-btf".into())
        .spawn(|| with_loader(|_| ()));
    if let Err(e) = spawned {
        log::debug!("not prewarming the aya loader: {e}");
        PREWARMING.store(false, Ordering::SeqCst);
    }
}
