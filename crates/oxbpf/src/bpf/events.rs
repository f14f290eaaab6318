//! Output of programs as the facade delivers it: trace lines (`bpf_trace_printk`), ring
//! buffer records and perf buffer events, from either backend.

use oxbpf_runtime::trace::{TraceBuffer, TraceFields, TraceRecord};
use std::sync::Arc;
use std::time::Duration;

/// One line of trace output, shaped as `trace_pipe` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceEvent {
    /// Task name.
    pub task: String,
    /// Thread id.
    pub pid: u32,
    /// CPU.
    pub cpu: u32,
    /// Latency flags column (`...11`); empty when the kernel prints none.
    pub flags: String,
    /// Trace clock in nanoseconds.
    pub ts_ns: u64,
    /// The event (`bpf_trace_printk`).
    pub event: String,
    /// The message (the program's text, trailing newline removed).
    pub msg: String,
    /// The line exactly as read, when it was not built from the fields.
    raw: Option<String>,
}

impl TraceEvent {
    /// A line of the userspace trace buffer.
    pub(crate) fn from_user(r: &TraceRecord) -> TraceEvent {
        let f = r.fields();
        TraceEvent {
            task: f.task,
            pid: f.pid,
            cpu: f.cpu,
            flags: f.flags,
            ts_ns: r.ts_ns,
            event: "bpf_trace_printk".to_string(),
            msg: f.msg,
            raw: Some(r.line()),
        }
    }

    /// A record of a kernel `trace_pipe`.
    pub(crate) fn from_kernel(r: oxbpf_kernel::TraceRecord) -> TraceEvent {
        match r {
            oxbpf_kernel::TraceRecord::Line(l) => TraceEvent {
                task: l.comm,
                pid: l.pid,
                cpu: l.cpu,
                flags: l.flags,
                ts_ns: l.timestamp_ns,
                event: l.event,
                msg: l.message,
                raw: None,
            },
            oxbpf_kernel::TraceRecord::Lost { cpu, events } => TraceEvent {
                task: String::new(),
                pid: 0,
                cpu,
                flags: String::new(),
                ts_ns: 0,
                event: String::new(),
                msg: format!("[LOST {events} EVENTS]"),
                raw: Some(format!("CPU:{cpu} [LOST {events} EVENTS]")),
            },
            oxbpf_kernel::TraceRecord::Other(text) => TraceEvent {
                task: String::new(),
                pid: 0,
                cpu: 0,
                flags: String::new(),
                ts_ns: 0,
                event: String::new(),
                msg: text.clone(),
                raw: Some(text),
            },
        }
    }

    /// The `trace_pipe` text (without the final newline):
    /// `             cat-1234    [000] ...11  1234.567890: bpf_trace_printk: Hello, World!`.
    pub fn line(&self) -> String {
        if let Some(r) = &self.raw {
            return r.clone();
        }
        let flags = if self.flags.is_empty() {
            String::new()
        } else {
            format!("{} ", self.flags)
        };
        format!(
            "{:>16}-{:<7} [{:03}] {flags}{:>5}.{:06}: {}: {}",
            self.task,
            self.pid,
            self.cpu,
            self.ts_ns / 1_000_000_000,
            (self.ts_ns % 1_000_000_000) / 1000,
            self.event,
            self.msg
        )
    }

    /// The fields as BCC's `trace_fields()` returns them.
    pub fn fields(&self) -> TraceFields {
        TraceFields {
            task: self.task.clone(),
            pid: self.pid,
            cpu: self.cpu,
            flags: self.flags.clone(),
            ts: self.ts_ns as f64 / 1e9,
            msg: self.msg.clone(),
        }
    }
}

/// One event of a perf buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PerfEvent<'a> {
    /// What a program passed to `bpf_perf_event_output` (the kernel pads it to a multiple
    /// of 8 bytes, counting the 4-byte size in front).
    Sample { cpu: u32, data: &'a [u8] },
    /// Samples lost because the CPU's buffer was full.
    Lost { cpu: u32, count: u64 },
}

pub(crate) type RingCallback = Box<dyn FnMut(&[u8])>;
pub(crate) type PerfCallback = Box<dyn FnMut(PerfEvent<'_>)>;
pub(crate) type TraceCallback = Box<dyn FnMut(&TraceEvent)>;

pub(crate) enum RingSource {
    User(oxbpf_runtime::loader::RingBufReader),
    Kernel(Box<oxbpf_kernel::RingBufReader>),
}

pub(crate) enum PerfSource {
    User(oxbpf_runtime::loader::PerfReader),
    Kernel(Box<oxbpf_kernel::PerfReader>),
}

pub(crate) struct RingSub {
    pub name: String,
    pub src: RingSource,
    pub cb: RingCallback,
    pub delivered: u64,
}

pub(crate) struct PerfSub {
    pub name: String,
    pub src: PerfSource,
    pub cb: PerfCallback,
    pub samples: u64,
    pub lost: u64,
}

/// Where trace lines come from.
pub(crate) enum TraceSource {
    User(Arc<TraceBuffer>),
    /// A private trace instance with `bpf_trace_printk` enabled (created when a program
    /// calls it), so other readers of the global `trace_pipe` keep their lines.
    Kernel(Option<oxbpf_kernel::TracePipe>),
}

/// Which kernel trace lines to keep (besides the instance's own pid filter).
#[derive(Clone, Debug)]
pub(crate) struct TraceKeep {
    /// Only this process (thread group); lines whose tgid is unknown are kept.
    pub tgid: Option<u32>,
    /// Not these threads (oxbpf's own, e.g. the thread that spawned the command); nor the
    /// command's process before it execs (it still has the spawning thread's name); nor
    /// oxbpf's own process.
    pub skip_tids: Vec<u32>,
    /// oxbpf's own process id (read once: `getpid` is a system call).
    own: u32,
}

impl TraceKeep {
    /// Keeps the lines of thread group `tgid` (all when `None`), not those of `skip_tids`.
    pub fn new(tgid: Option<u32>, skip_tids: Vec<u32>) -> TraceKeep {
        TraceKeep {
            tgid,
            skip_tids,
            own: std::process::id(),
        }
    }

    fn keeps(&self, r: &oxbpf_kernel::TraceRecord) -> bool {
        let oxbpf_kernel::TraceRecord::Line(l) = r else {
            return true;
        };
        if self.skip_tids.contains(&l.pid) || l.comm == oxbpf_kernel::tracefs::SPAWNER_THREAD {
            return false;
        }
        // oxbpf's own calls (loading, attaching) before the kernel-side filter was set.
        if l.pid == self.own || l.tgid == Some(self.own) {
            return false;
        }
        match (self.tgid, l.tgid) {
            (Some(want), Some(got)) => want == got,
            _ => true,
        }
    }
}

/// The consumers of program output.
pub(crate) struct Sinks {
    pub trace: TraceSource,
    /// Kernel trace lines to keep while a command or process is traced (`None`: all).
    pub trace_keep: Option<TraceKeep>,
    pub trace_cb: Option<TraceCallback>,
    pub rings: Vec<RingSub>,
    pub perfs: Vec<PerfSub>,
    /// Errors of kernel readers seen while pumping (reported once).
    pub reader_error: Option<String>,
}

/// Most records handed out per reader and pump, so one busy source cannot starve the
/// others.
const PUMP_BATCH: usize = 4096;

/// Batches a kernel ring buffer may deliver in one pump.
const PUMP_ROUNDS: usize = 16;

impl Sinks {
    pub fn new(trace: TraceSource) -> Sinks {
        Sinks {
            trace,
            trace_keep: None,
            trace_cb: None,
            rings: Vec::new(),
            perfs: Vec::new(),
            reader_error: None,
        }
    }

    /// Hands ready ring and perf records to their callbacks, and trace lines to the trace
    /// callback when there is one; never waits. Returns how many were delivered.
    pub fn pump(&mut self) -> usize {
        let mut n = 0;
        if self.trace_cb.is_some() {
            for ev in self.take_trace(Duration::ZERO) {
                if let Some(cb) = &mut self.trace_cb {
                    cb(&ev);
                }
                n += 1;
            }
        }
        for r in &mut self.rings {
            let cb = &mut r.cb;
            let got = match &mut r.src {
                RingSource::User(u) => u.consume(|d| cb(d)),
                RingSource::Kernel(k) => {
                    // Keep draining while the producer keeps up, within a bound.
                    let mut got = 0;
                    for _ in 0..PUMP_ROUNDS {
                        let n = k.drain(PUMP_BATCH, |d| cb(d));
                        got += n;
                        if n < PUMP_BATCH {
                            break;
                        }
                    }
                    got
                }
            };
            r.delivered += got as u64;
            n += got;
        }
        for p in &mut self.perfs {
            let cb = &mut p.cb;
            let (samples, lost) = (&mut p.samples, &mut p.lost);
            match &mut p.src {
                PerfSource::User(u) => {
                    for rec in u.drain() {
                        match rec {
                            oxbpf_runtime::loader::PerfRecord::Sample { cpu, data } => {
                                *samples += 1;
                                cb(PerfEvent::Sample {
                                    cpu: cpu as u32,
                                    data: &data,
                                })
                            }
                            oxbpf_runtime::loader::PerfRecord::Lost { cpu, count } => {
                                *lost += count;
                                cb(PerfEvent::Lost {
                                    cpu: cpu as u32,
                                    count,
                                })
                            }
                        }
                        n += 1;
                    }
                }
                PerfSource::Kernel(k) => {
                    n += k.drain(PUMP_BATCH, |rec| match rec {
                        oxbpf_kernel::PerfRecord::Sample { cpu, data } => {
                            *samples += 1;
                            cb(PerfEvent::Sample { cpu, data })
                        }
                        oxbpf_kernel::PerfRecord::Lost { cpu, count } => {
                            *lost += count;
                            cb(PerfEvent::Lost { cpu, count })
                        }
                    });
                }
            }
        }
        n
    }

    /// Trace lines available now (kernel: after waiting up to `wait` for the pipe).
    pub fn take_trace(&mut self, wait: Duration) -> Vec<TraceEvent> {
        match &mut self.trace {
            TraceSource::User(buf) => buf.read().iter().map(TraceEvent::from_user).collect(),
            TraceSource::Kernel(None) => Vec::new(),
            TraceSource::Kernel(Some(pipe)) => {
                if let Err(e) = pipe.fill(wait) {
                    self.reader_error.get_or_insert_with(|| e.to_string());
                }
                let mut v = Vec::new();
                while let Some(r) = pipe.pop() {
                    if self.trace_keep.as_ref().is_none_or(|k| k.keeps(&r)) {
                        v.push(TraceEvent::from_kernel(r));
                    }
                }
                v
            }
        }
    }

    /// Waits up to `timeout` for a kernel source to have data (the trace pipe, else the
    /// first kernel ring or perf buffer); userspace sources are filled synchronously by the
    /// runs, so without kernel sources this only sleeps.
    pub fn wait(&mut self, timeout: Duration) {
        if let TraceSource::Kernel(Some(pipe)) = &mut self.trace {
            if let Err(e) = pipe.fill(timeout) {
                self.reader_error.get_or_insert_with(|| e.to_string());
            }
            return;
        }
        let ring = self.rings.iter().find_map(|r| match &r.src {
            RingSource::Kernel(k) => Some(k),
            RingSource::User(_) => None,
        });
        if let Some(k) = ring {
            if let Err(e) = k.wait(timeout) {
                self.reader_error.get_or_insert_with(|| e.to_string());
            }
            return;
        }
        let perf = self.perfs.iter().find_map(|p| match &p.src {
            PerfSource::Kernel(k) => Some(k),
            PerfSource::User(_) => None,
        });
        if let Some(k) = perf {
            if let Err(e) = k.wait(timeout) {
                self.reader_error.get_or_insert_with(|| e.to_string());
            }
            return;
        }
        std::thread::sleep(timeout);
    }

    /// Trace lines lost: the userspace buffer overwrote them, or the kernel pipe's queue
    /// was full.
    pub fn trace_dropped(&self) -> u64 {
        match &self.trace {
            TraceSource::User(b) => b.dropped(),
            TraceSource::Kernel(Some(p)) => p.dropped(),
            TraceSource::Kernel(None) => 0,
        }
    }
}
