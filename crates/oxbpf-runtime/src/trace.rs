//! oxbpf's trace buffer: where `bpf_trace_printk` and `bpf_trace_vprintk` write.
//!
//! Linux writes these messages to the tracing ring buffer, read through
//! `/sys/kernel/tracing/trace_pipe` as lines like (Linux 6.18, a socket filter run with
//! `BPF_PROG_TEST_RUN`):
//!
//! ```text
//!               tp-25387   [001] b..11  2084.684270: bpf_trace_printk: Hello, World! 42
//! ```
//!
//! that is `comm` right-aligned in 16 columns, `-`, the thread id left-aligned in 7, the CPU
//! in brackets on 3 digits, five latency flag characters (irqs-off/BH, need-resched,
//! hard/softirq, preempt depth, migrate-disable depth), the trace clock in seconds with
//! microseconds, `: bpf_trace_printk: ` and the message followed by a newline (a message
//! that ends with `\n` therefore leaves an empty line). [`TraceRecord::line`] produces
//! exactly this layout. oxbpf stamps records with `CLOCK_MONOTONIC` (the kernel's default
//! `local` trace clock counts the same time since boot), the runtime's CPU index
//! ([`crate::maps::cpu::current_cpu`]) and, by default, the flags `...11` (no interrupt
//! context, preemption and migration disabled once, as for a program run from process
//! context); hooks may set other flags per run.
//!
//! The buffer is bounded in bytes. By default, as Linux's `overwrite` trace option, a full
//! buffer drops its oldest records to make room; [`Overflow::DropNew`] drops the new record
//! instead. Either way [`TraceBuffer::dropped`] counts the records lost. Reading with
//! [`TraceBuffer::read`] consumes records (like `trace_pipe`); [`TraceBuffer::snapshot`]
//! does not (like `trace`).

use parking_lot::{Condvar, Mutex};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Default capacity: 1 MiB of records.
pub const DEFAULT_CAPACITY: usize = 1 << 20;

/// Latency flags of records written from process context: see the module documentation.
pub const DEFAULT_FLAGS: [u8; 5] = *b"...11";

/// What a full buffer does with a new record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overflow {
    /// Drop the oldest records (Linux's default `overwrite` mode).
    #[default]
    Overwrite,
    /// Keep the old records and drop the new one.
    DropNew,
}

/// One `bpf_trace_printk` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceRecord {
    /// Name of the current task (NUL-padded).
    pub comm: [u8; 16],
    /// Thread id of the current task.
    pub pid: u32,
    /// CPU index of the run.
    pub cpu: u32,
    /// Latency flags (see the module documentation).
    pub flags: [u8; 5],
    /// Trace clock (`CLOCK_MONOTONIC`) in nanoseconds.
    pub ts_ns: u64,
    /// The formatted message (at most 1023 bytes, no NUL).
    pub msg: Box<[u8]>,
}

impl TraceRecord {
    /// The task name (before its NUL), lossily decoded.
    pub fn comm_str(&self) -> Cow<'_, str> {
        let n = self.comm.iter().position(|&b| b == 0).unwrap_or(16);
        String::from_utf8_lossy(&self.comm[..n])
    }

    /// The message, lossily decoded.
    pub fn msg_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.msg)
    }

    /// The `trace_pipe` text of this record, without the final newline the kernel adds
    /// (the message's own newlines are kept).
    pub fn line_bytes(&self) -> Vec<u8> {
        let head = format!(
            "{:>16}-{:<7} [{:03}] {} {:>5}.{:06}: bpf_trace_printk: ",
            self.comm_str(),
            self.pid,
            self.cpu,
            String::from_utf8_lossy(&self.flags),
            self.ts_ns / 1_000_000_000,
            (self.ts_ns % 1_000_000_000) / 1000,
        );
        let mut v = head.into_bytes();
        v.extend_from_slice(&self.msg);
        v
    }

    /// [`TraceRecord::line_bytes`] as text (lossy).
    pub fn line(&self) -> String {
        String::from_utf8_lossy(&self.line_bytes()).into_owned()
    }

    /// The record as parsed fields.
    pub fn fields(&self) -> TraceFields {
        TraceFields {
            task: self.comm_str().into_owned(),
            pid: self.pid,
            cpu: self.cpu,
            flags: String::from_utf8_lossy(&self.flags).into_owned(),
            ts: self.ts_ns as f64 / 1e9,
            msg: self.msg_str().trim_end_matches('\n').to_string(),
        }
    }

    /// Bytes this record takes in the buffer.
    pub fn cost(&self) -> usize {
        std::mem::size_of::<TraceRecord>() + self.msg.len()
    }
}

/// A trace line split into its parts, as BCC's `trace_fields()` returns them.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceFields {
    /// Task name.
    pub task: String,
    /// Thread id.
    pub pid: u32,
    /// CPU.
    pub cpu: u32,
    /// Latency flags (`...11`), empty when the line has none.
    pub flags: String,
    /// Timestamp in seconds.
    pub ts: f64,
    /// Message, trailing newlines removed.
    pub msg: String,
}

impl TraceFields {
    /// Parses a `trace_pipe` line (the kernel's or oxbpf's). The message is what follows the
    /// event name (`bpf_trace_printk: `, or any `name: `). `None` for lines of another
    /// shape (comments, empty continuation lines).
    pub fn parse(line: &str) -> Option<TraceFields> {
        let line = line.trim_end_matches('\n');
        let open = line.find(" [")?;
        let close = open + line[open..].find("] ")?;
        let (task_pid, rest) = (line[..open].trim_start(), &line[close + 2..]);
        let dash = task_pid.rfind('-')?;
        let task = task_pid[..dash].to_string();
        let pid = task_pid[dash + 1..].trim().parse().ok()?;
        let cpu = line[open + 2..close].trim().parse().ok()?;
        let colon = rest.find(": ")?;
        let mut head = rest[..colon].split_whitespace();
        let (flags, ts) = match (head.next(), head.next()) {
            (Some(f), Some(t)) => (f.to_string(), t),
            (Some(t), None) => (String::new(), t),
            _ => return None,
        };
        let ts: f64 = ts.parse().ok()?;
        let after = &rest[colon + 2..];
        let msg = match after.find(": ") {
            Some(k) if !after[..k].contains(' ') => &after[k + 2..],
            _ => after,
        };
        Some(TraceFields {
            task,
            pid,
            cpu,
            flags,
            ts,
            msg: msg.to_string(),
        })
    }
}

#[derive(Debug, Default)]
struct Inner {
    records: VecDeque<TraceRecord>,
    bytes: usize,
}

/// A bounded buffer of trace records, shared by every program of a runtime.
#[derive(Debug)]
pub struct TraceBuffer {
    inner: Mutex<Inner>,
    ready: Condvar,
    capacity: usize,
    overflow: Overflow,
    written: AtomicU64,
    dropped: AtomicU64,
}

impl Default for TraceBuffer {
    fn default() -> Self {
        TraceBuffer::new(DEFAULT_CAPACITY)
    }
}

impl TraceBuffer {
    /// A buffer of `capacity` bytes that overwrites its oldest records when full.
    pub fn new(capacity: usize) -> TraceBuffer {
        TraceBuffer::with_overflow(capacity, Overflow::Overwrite)
    }

    /// A buffer of `capacity` bytes with the given overflow policy.
    pub fn with_overflow(capacity: usize, overflow: Overflow) -> TraceBuffer {
        TraceBuffer {
            inner: Mutex::new(Inner::default()),
            ready: Condvar::new(),
            capacity,
            overflow,
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Adds a record; returns false when it was dropped (it can never fit, or the buffer is
    /// full under [`Overflow::DropNew`]).
    pub fn write(&self, record: TraceRecord) -> bool {
        let cost = record.cost();
        if cost > self.capacity {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let mut g = self.inner.lock();
        while g.bytes + cost > self.capacity {
            match self.overflow {
                Overflow::DropNew => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
                Overflow::Overwrite => match g.records.pop_front() {
                    Some(old) => {
                        g.bytes -= old.cost();
                        self.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    None => break,
                },
            }
        }
        g.bytes += cost;
        g.records.push_back(record);
        self.written.fetch_add(1, Ordering::Relaxed);
        drop(g);
        self.ready.notify_all();
        true
    }

    /// Removes and returns every record (what reading `trace_pipe` does).
    pub fn read(&self) -> Vec<TraceRecord> {
        let mut g = self.inner.lock();
        g.bytes = 0;
        std::mem::take(&mut g.records).into()
    }

    /// Removes and returns the oldest record.
    pub fn pop(&self) -> Option<TraceRecord> {
        let mut g = self.inner.lock();
        let r = g.records.pop_front()?;
        g.bytes -= r.cost();
        Some(r)
    }

    /// Copies every record without removing them (what reading `trace` does).
    pub fn snapshot(&self) -> Vec<TraceRecord> {
        self.inner.lock().records.iter().cloned().collect()
    }

    /// Waits up to `timeout` for a record; true when one is there.
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut g = self.inner.lock();
        while g.records.is_empty() {
            if self.ready.wait_until(&mut g, deadline).timed_out() {
                return !g.records.is_empty();
            }
        }
        true
    }

    /// Removes every record and returns its `trace_pipe` lines (without final newlines).
    pub fn read_lines(&self) -> Vec<String> {
        self.read().iter().map(TraceRecord::line).collect()
    }

    /// Removes every record and writes it to `out` exactly as `trace_pipe` shows it.
    /// Returns the number of records written.
    pub fn write_to(&self, out: &mut dyn Write) -> io::Result<usize> {
        let recs = self.read();
        for r in &recs {
            out.write_all(&r.line_bytes())?;
            out.write_all(b"\n")?;
        }
        Ok(recs.len())
    }

    /// Prints and removes every record on standard output (BCC's `trace_print()`).
    pub fn trace_print(&self) -> io::Result<usize> {
        let stdout = io::stdout();
        let mut lock = stdout.lock();
        let n = self.write_to(&mut lock)?;
        lock.flush()?;
        Ok(n)
    }

    /// Removes every record and returns its fields (BCC's `trace_fields()`, for all
    /// records at once).
    pub fn trace_fields(&self) -> Vec<TraceFields> {
        self.read().iter().map(TraceRecord::fields).collect()
    }

    /// Waits up to `timeout` for the next record and returns its fields.
    pub fn next_fields(&self, timeout: Duration) -> Option<TraceFields> {
        if !self.wait(timeout) {
            return None;
        }
        self.pop().map(|r| r.fields())
    }

    /// Records currently held.
    pub fn len(&self) -> usize {
        self.inner.lock().records.len()
    }

    /// True when no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records written since creation (dropped ones excluded).
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Records lost because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Bytes held by records (bounded by the capacity) plus the buffer itself.
    pub fn memory_bytes(&self) -> usize {
        let g = self.inner.lock();
        std::mem::size_of::<Self>()
            + g.bytes
            + (g.records.capacity() - g.records.len()) * std::mem::size_of::<TraceRecord>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(comm: &str, pid: u32, cpu: u32, ts_ns: u64, msg: &str) -> TraceRecord {
        let mut c = [0u8; 16];
        c[..comm.len()].copy_from_slice(comm.as_bytes());
        TraceRecord {
            comm: c,
            pid,
            cpu,
            flags: *b"b..11",
            ts_ns,
            msg: msg.as_bytes().into(),
        }
    }

    #[test]
    fn line_layout_matches_linux() {
        // Lines captured from /sys/kernel/tracing/trace_pipe on Linux 6.18.
        let r = rec("tp", 25387, 1, 2_084_684_270_123, "Hello, World! 42\n");
        assert_eq!(
            r.line(),
            "              tp-25387   [001] b..11  2084.684270: bpf_trace_printk: Hello, World! 42\n"
        );
        let r = rec("hello_world_in_", 916, 0, 1_743_947_220_999, "x");
        assert_eq!(
            r.line(),
            " hello_world_in_-916     [000] b..11  1743.947220: bpf_trace_printk: x"
        );
        let r = rec("a", 12345678, 12, 123_456_000_001_000, "m");
        assert_eq!(
            r.line(),
            "               a-12345678 [012] b..11 123456.000001: bpf_trace_printk: m"
        );
    }

    #[test]
    fn parse_reads_kernel_and_oxbpf_lines() {
        let k = "              tp-25390   [000] b..11  2084.697135: bpf_trace_printk: nonl -5";
        let f = TraceFields::parse(k).unwrap();
        assert_eq!(f.task, "tp");
        assert_eq!(f.pid, 25390);
        assert_eq!(f.cpu, 0);
        assert_eq!(f.flags, "b..11");
        assert!((f.ts - 2084.697135).abs() < 1e-9);
        assert_eq!(f.msg, "nonl -5");
        let dashed = " my-task-name-17     [003] ...11    12.000001: bpf_trace_printk: a: b";
        let f = TraceFields::parse(dashed).unwrap();
        assert_eq!(f.task, "my-task-name");
        assert_eq!(f.pid, 17);
        assert_eq!(f.msg, "a: b");
        let r = rec("x", 1, 2, 3_000_004_000, "hi\n");
        assert_eq!(TraceFields::parse(&r.line()).unwrap(), r.fields());
        assert!(TraceFields::parse("# tracer: nop").is_none());
        assert!(TraceFields::parse("").is_none());
    }

    #[test]
    fn bounded_with_overwrite_and_drop_new() {
        let one = rec("t", 1, 0, 0, "0123456789").cost();
        let b = TraceBuffer::new(one * 3);
        for i in 0..5 {
            assert!(b.write(rec("t", i, 0, 0, "0123456789")));
        }
        assert_eq!(b.len(), 3);
        assert_eq!(b.dropped(), 2);
        assert_eq!(b.written(), 5);
        let got: Vec<u32> = b.snapshot().iter().map(|r| r.pid).collect();
        assert_eq!(got, vec![2, 3, 4]);
        assert_eq!(b.read().len(), 3);
        assert!(b.is_empty());

        let d = TraceBuffer::with_overflow(one * 2, Overflow::DropNew);
        for i in 0..4 {
            d.write(rec("t", i, 0, 0, "0123456789"));
        }
        let got: Vec<u32> = d.read().iter().map(|r| r.pid).collect();
        assert_eq!(got, vec![0, 1]);
        assert_eq!(d.dropped(), 2);
        // A record larger than the whole buffer is dropped.
        let tiny = TraceBuffer::new(8);
        assert!(!tiny.write(rec("t", 1, 0, 0, "x")));
        assert_eq!(tiny.dropped(), 1);
    }

    #[test]
    fn write_to_prints_trace_pipe_text_and_fields_drain() {
        let b = TraceBuffer::default();
        b.write(rec("p", 7, 1, 1_500_000, "one\n"));
        b.write(rec("p", 7, 1, 2_500_000, "two"));
        let mut out = Vec::new();
        assert_eq!(b.write_to(&mut out).unwrap(), 2);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "               p-7       [001] b..11     0.001500: bpf_trace_printk: one\n\n\
             \x20              p-7       [001] b..11     0.002500: bpf_trace_printk: two\n"
        );
        b.write(rec("p", 8, 0, 0, "three\n"));
        let f = b.trace_fields();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].msg, "three");
        assert!(b.next_fields(Duration::from_millis(1)).is_none());
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                b.write(rec("p", 9, 0, 0, "later"));
            });
            let f = b.next_fields(Duration::from_secs(10)).unwrap();
            assert_eq!(f.pid, 9);
        });
        assert!(b.memory_bytes() >= std::mem::size_of::<TraceBuffer>());
    }
}
