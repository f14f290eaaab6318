//! [`Link`]: one attachment made through a [`crate::KernelObject`].
//!
//! A `Link` owns what keeps the program attached (aya's link objects, bpf_link or perf
//! event descriptors, netlink filters, a socket's filter). Dropping it (or
//! [`Link::detach`]) detaches. The object keeps a second handle to every link it made, so
//! that dropping the object detaches everything still attached, including links the
//! caller still holds (those become inert: [`Link::is_attached`] turns false).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};

use aya::programs::{
    cgroup_skb::CgroupSkbLink, fentry::FEntryLink, fexit::FExitLink, perf_event::PerfEventLink,
    raw_trace_point::RawTracePointLink, tc::SchedClassifierLink, tp_btf::BtfTracePointLink,
    xdp::XdpLink,
};

use crate::attach::Attachment;
use crate::error::KernelError;
use crate::sys;

/// One piece of an attachment.
#[derive(Debug)]
pub(crate) enum LinkPart {
    RawTracePoint(RawTracePointLink),
    BtfTracePoint(BtfTracePointLink),
    FEntry(FEntryLink),
    FExit(FExitLink),
    Xdp(XdpLink),
    Tc(SchedClassifierLink),
    PerfEvent(PerfEventLink),
    CgroupSkb(CgroupSkbLink),
    /// A program loaded by oxbpf itself (fallbacks), attached with `crate::attach`.
    Raw(Attachment),
    /// A socket filter on a socket.
    Socket(SocketFilterGuard),
}

/// A socket (a duplicate of the caller's descriptor) whose filter is removed when this
/// is dropped.
#[derive(Debug)]
pub(crate) struct SocketFilterGuard(Option<OwnedFd>);

impl SocketFilterGuard {
    pub(crate) fn new(sock: OwnedFd) -> Self {
        SocketFilterGuard(Some(sock))
    }

    fn detach(mut self) -> Result<(), String> {
        match self.0.take() {
            Some(s) => sys::detach_socket_filter(s.as_fd())
                .map_err(|e| format!("setsockopt(SO_DETACH_BPF): {e}")),
            None => Ok(()),
        }
    }
}

impl Drop for SocketFilterGuard {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            if let Err(e) = sys::detach_socket_filter(s.as_fd()) {
                log::debug!("detaching a socket filter: {e}");
            }
        }
    }
}

impl LinkPart {
    /// Detaches, reporting failures (dropping detaches too, silently).
    fn detach(self) -> Result<(), String> {
        use aya::programs::Link as _;
        let r = match self {
            LinkPart::RawTracePoint(l) => l.detach(),
            LinkPart::BtfTracePoint(l) => l.detach(),
            LinkPart::FEntry(l) => l.detach(),
            LinkPart::FExit(l) => l.detach(),
            LinkPart::Xdp(l) => l.detach(),
            LinkPart::Tc(l) => l.detach(),
            LinkPart::PerfEvent(l) => l.detach(),
            LinkPart::CgroupSkb(l) => l.detach(),
            LinkPart::Raw(a) => {
                a.detach();
                Ok(())
            }
            LinkPart::Socket(s) => return s.detach(),
        };
        r.map_err(|e| e.to_string())
    }
}

#[derive(Debug)]
pub(crate) struct LinkSlot {
    program: String,
    targets: Vec<String>,
    parts: Mutex<Vec<LinkPart>>,
}

impl LinkSlot {
    fn lock(&self) -> MutexGuard<'_, Vec<LinkPart>> {
        self.parts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Detaches every part (concurrently, see [`in_parallel`]); the error lists the parts
    /// that failed.
    pub(crate) fn detach_all(&self) -> Result<(), String> {
        detach_parts(self.take_parts())
    }

    /// Takes the parts out, leaving the slot detached.
    pub(crate) fn take_parts(&self) -> Vec<LinkPart> {
        std::mem::take(&mut *self.lock())
    }

    pub(crate) fn is_attached(&self) -> bool {
        !self.lock().is_empty()
    }
}

/// Detaches `parts` concurrently; the error lists the parts that failed.
pub(crate) fn detach_parts(parts: Vec<LinkPart>) -> Result<(), String> {
    let errors: Vec<String> = in_parallel(parts, LinkPart::detach)
        .into_iter()
        .filter_map(Result::err)
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Detaches links and raw attachments all at once: their kernel links are closed
/// concurrently, so the grace periods the kernel waits for on each (30-40 ms per perf-event
/// link on Linux 6.11+) overlap instead of adding up. Failures are logged.
pub fn detach_all(links: Vec<Link>, attachments: Vec<Attachment>) {
    let mut parts: Vec<LinkPart> = links.iter().flat_map(|l| l.slot.take_parts()).collect();
    parts.extend(attachments.into_iter().map(LinkPart::Raw));
    if let Err(e) = detach_parts(parts) {
        log::warn!("detaching: {e}");
    }
}

/// Most threads [`in_parallel`] runs at once.
const MAX_PARALLEL: usize = 16;

/// Runs `f` on every item, on threads of their own when there are several, and returns the
/// results in order.
///
/// Used for detaching: closing a perf-event link waits for an RCU tasks-trace grace
/// period in the kernel (Linux 6.11+, `perf_event_detach_bpf_prog`), 30-40 ms on this
/// project's machines, and it holds no lock while it waits, so links closed at the same
/// time share one grace period instead of waiting for one each. When a thread cannot be
/// started, the item is handled on the calling thread.
pub(crate) fn in_parallel<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    if items.len() < 2 {
        return items.into_iter().map(f).collect();
    }
    let f = &f;
    let mut out = Vec::with_capacity(items.len());
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let batch: Vec<T> = items.by_ref().take(MAX_PARALLEL).collect();
        std::thread::scope(|s| {
            let mut handles = Vec::with_capacity(batch.len());
            let mut inline = Vec::new();
            for (i, item) in batch.into_iter().enumerate() {
                // The item moves into the thread; a failed spawn drops the closure (and the
                // item with it), so spawn a holder that can give it back.
                let cell = std::sync::Mutex::new(Some(item));
                let cell = std::sync::Arc::new(cell);
                let c2 = std::sync::Arc::clone(&cell);
                let spawned = std::thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn_scoped(s, move || {
                        let item = c2.lock().unwrap_or_else(|p| p.into_inner()).take();
                        item.map(f)
                    });
                match spawned {
                    Ok(h) => handles.push((i, h)),
                    Err(_) => {
                        let item = cell.lock().unwrap_or_else(|p| p.into_inner()).take();
                        inline.push((i, item.map(f)));
                    }
                }
            }
            let mut results: Vec<(usize, Option<R>)> = inline;
            for (i, h) in handles {
                // A panic in `f` is re-raised here, as it would be on one thread.
                let r = h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                results.push((i, r));
            }
            results.sort_by_key(|(i, _)| *i);
            out.extend(results.into_iter().filter_map(|(_, r)| r));
        });
    }
    out
}

/// An attachment: detached when dropped, by [`Link::detach`], or when its object is
/// dropped.
#[derive(Debug)]
pub struct Link {
    slot: Arc<LinkSlot>,
}

impl Link {
    pub(crate) fn new(program: &str, targets: Vec<String>, parts: Vec<LinkPart>) -> Link {
        Link {
            slot: Arc::new(LinkSlot {
                program: program.to_string(),
                targets,
                parts: Mutex::new(parts),
            }),
        }
    }

    pub(crate) fn slot(&self) -> Arc<LinkSlot> {
        Arc::clone(&self.slot)
    }

    /// The program's name.
    pub fn program(&self) -> &str {
        &self.slot.program
    }

    /// What it is attached to, e.g. `["tracepoint:syscalls:sys_enter_openat"]` (several
    /// for a fallback to several tracepoints or a perf event on every CPU).
    pub fn targets(&self) -> &[String] {
        &self.slot.targets
    }

    /// Whether it is still attached (false after its object was dropped).
    pub fn is_attached(&self) -> bool {
        self.slot.is_attached()
    }

    /// Takes the parts out (the link is then empty and drops without detaching).
    pub(crate) fn into_parts(self) -> (Vec<String>, Vec<LinkPart>) {
        let parts = std::mem::take(&mut *self.slot.lock());
        (self.slot.targets.clone(), parts)
    }

    /// Detaches now, reporting failures (dropping detaches silently).
    pub fn detach(self) -> Result<(), KernelError> {
        self.slot
            .detach_all()
            .map_err(|reason| KernelError::DetachFailed {
                program: self.slot.program.clone(),
                targets: self.slot.targets.join(", "),
                reason,
            })
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Err(e) = self.slot.detach_all() {
            log::warn!(
                "detaching program `{}` from {}: {e}",
                self.slot.program,
                self.slot.targets.join(", ")
            );
        }
    }
}
