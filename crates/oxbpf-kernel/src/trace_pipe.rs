//! Reading `trace_pipe` without blocking forever.
//!
//! `trace_pipe` is a consuming reader of the kernel trace buffer: a read blocks until there
//! is data and every line is delivered to one reader only. [`TracePipe`] opens it
//! non-blocking, waits with `poll(2)` for at most the caller's timeout, and keeps parsed
//! records in a bounded queue that counts what it had to drop.
//!
//! Lines look like
//! `           bash-1977    [000] d..31  4966.455101: bpf_trace_printk: Hello, World!`
//! (`comm-pid`, an optional `(tgid)` with the record-tgid option, `[cpu]`, the irq-info
//! flags when that option is on, the timestamp, then the event name and its text).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::error::KernelError;
use crate::sys;
use crate::tracefs::{TraceInstance, Tracefs};

/// Longest line kept; longer lines are dropped (and counted).
pub const MAX_LINE: usize = 64 * 1024;

/// Size of the read buffer a pipe keeps (allocated on the first read).
const READ_CHUNK: usize = 64 * 1024;

/// Most bytes read per [`TracePipe::fill`], so that a flood cannot keep it busy forever.
const MAX_FILL_BYTES: usize = 1 << 20;

/// One parsed trace line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceLine {
    /// The task name (`<...>` when the kernel no longer knows it; `<idle>` for pid 0).
    pub comm: String,
    /// Thread id.
    pub pid: u32,
    /// Thread-group id, when the record-tgid option is on (an unknown one is `None`).
    pub tgid: Option<u32>,
    /// CPU.
    pub cpu: u32,
    /// The irq-info flags column (e.g. `d..31`); empty when that option is off.
    pub flags: String,
    /// The timestamp in nanoseconds (for the default `local`/`global`/`mono` trace clocks;
    /// counter clocks show their raw count).
    pub timestamp_ns: u64,
    /// The event or function, e.g. `bpf_trace_printk`; empty when the line has none.
    pub event: String,
    /// The text after the event name.
    pub message: String,
}

/// One record from `trace_pipe`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceRecord {
    /// A trace line.
    Line(TraceLine),
    /// `CPU:N [LOST M EVENTS]`: the kernel buffer overflowed.
    Lost {
        /// The CPU.
        cpu: u32,
        /// Events lost.
        events: u64,
    },
    /// A line that does not have the expected shape (kept verbatim).
    Other(String),
}

fn parse_timestamp(s: &str) -> Option<u64> {
    match s.split_once('.') {
        Some((secs, frac)) => {
            if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let secs: u64 = secs.parse().ok()?;
            let frac_ns: u64 = frac.parse::<u64>().ok()? * 10u64.pow(9 - frac.len() as u32);
            secs.checked_mul(1_000_000_000)?.checked_add(frac_ns)
        }
        None => s.parse().ok(),
    }
}

/// Finds ` [digits]` followed by whitespace; returns (start of `[`, cpu, index after `]`).
fn find_cpu(line: &str) -> Option<(usize, u32, usize)> {
    let b = line.as_bytes();
    let mut i = 0;
    while let Some(p) = line[i..].find('[') {
        let start = i + p;
        let digits_end = b[start + 1..]
            .iter()
            .position(|c| !c.is_ascii_digit())
            .map(|q| start + 1 + q);
        if let Some(end) = digits_end {
            if end > start + 1
                && b[end] == b']'
                && start > 0
                && b[start - 1] == b' '
                && b.get(end + 1).is_none_or(|c| *c == b' ')
            {
                let cpu = line[start + 1..end].parse().ok()?;
                return Some((start, cpu, end + 1));
            }
        }
        i = start + 1;
    }
    None
}

impl TraceLine {
    /// Parses one `trace_pipe` line.
    pub fn parse(line: &str) -> Option<TraceLine> {
        let (open, cpu, after) = find_cpu(line)?;
        let mut left = line[..open].trim();
        let mut tgid = None;
        if let Some(inner) = left.strip_suffix(')') {
            let (l, t) = inner.rsplit_once('(')?;
            let t = t.trim();
            // The kernel prints `(-------)` when it does not know the tgid.
            tgid = if !t.is_empty() && t.bytes().all(|b| b == b'-') {
                None
            } else {
                Some(t.parse().ok()?)
            };
            left = l.trim_end();
        }
        let (comm, pid) = left.rsplit_once('-')?;
        let pid = pid.trim().parse().ok()?;
        let comm = comm.trim_start().to_string();

        let rest = line[after..].trim_start();
        let (first, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let (flags, ts, rest) = match first.strip_suffix(':') {
            Some(ts) if parse_timestamp(ts).is_some() => (String::new(), ts, rest),
            _ => {
                let rest = rest.trim_start();
                let (ts, rest) = rest.split_once(' ').unwrap_or((rest, ""));
                (first.to_string(), ts.strip_suffix(':')?, rest)
            }
        };
        let timestamp_ns = parse_timestamp(ts)?;
        let rest = rest.trim_start();
        let (event, message) = match rest.split_once(": ") {
            Some((e, m)) if !e.contains(' ') => (e.to_string(), m.to_string()),
            _ => match rest.strip_suffix(':') {
                Some(e) if !e.contains(' ') => (e.to_string(), String::new()),
                _ => (String::new(), rest.to_string()),
            },
        };
        Some(TraceLine {
            comm,
            pid,
            tgid,
            cpu,
            flags,
            timestamp_ns,
            event,
            message,
        })
    }
}

impl TraceRecord {
    /// Classifies one line.
    pub fn parse(line: &str) -> TraceRecord {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("CPU:") {
            if let Some((cpu, lost)) = rest.split_once(" [LOST ") {
                if let Some(n) = lost.strip_suffix(" EVENTS]") {
                    if let (Ok(cpu), Ok(events)) = (cpu.parse(), n.parse()) {
                        return TraceRecord::Lost { cpu, events };
                    }
                }
            }
        }
        match TraceLine::parse(line) {
            Some(l) => TraceRecord::Line(l),
            None => TraceRecord::Other(line.to_string()),
        }
    }
}

/// A non-blocking reader of a `trace_pipe` with a bounded record queue.
///
/// Memory: a 64 KiB read buffer, at most one partial line of [`MAX_LINE`] bytes, and at
/// most `capacity` parsed records (each a few strings of the line's length).
#[derive(Debug)]
pub struct TracePipe {
    file: File,
    path: PathBuf,
    partial: Vec<u8>,
    skipping_long_line: bool,
    queue: VecDeque<TraceRecord>,
    capacity: usize,
    dropped: u64,
    read_buf: Vec<u8>,
    // Declared last: dropped after `file` is closed, so the instance directory can go.
    _instance: Option<TraceInstance>,
}

impl TracePipe {
    /// Opens the global `trace_pipe`. `capacity` bounds the queued records (at least 1).
    pub fn open(tracefs: &Tracefs, capacity: usize) -> Result<TracePipe, KernelError> {
        Self::open_path(tracefs.path("trace_pipe"), capacity, None)
    }

    /// Opens the `trace_pipe` of an instance and owns the instance (it is removed when the
    /// pipe is dropped).
    pub fn open_instance(
        instance: TraceInstance,
        capacity: usize,
    ) -> Result<TracePipe, KernelError> {
        let path = instance.tracefs().path("trace_pipe");
        Self::open_path(path, capacity, Some(instance))
    }

    fn open_path(
        path: PathBuf,
        capacity: usize,
        instance: Option<TraceInstance>,
    ) -> Result<TracePipe, KernelError> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| KernelError::file(&path, e))?;
        Ok(TracePipe {
            file,
            path,
            partial: Vec::new(),
            skipping_long_line: false,
            queue: VecDeque::new(),
            capacity: capacity.max(1),
            dropped: 0,
            read_buf: Vec::new(),
            _instance: instance,
        })
    }

    /// The instance this pipe reads, when it reads one.
    pub fn instance(&self) -> Option<&TraceInstance> {
        self._instance.as_ref()
    }

    /// Records dropped so far: the queue was full, or a line exceeded [`MAX_LINE`].
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Records waiting in the queue.
    pub fn buffered(&self) -> usize {
        self.queue.len()
    }

    /// The next queued record, without reading.
    pub fn pop(&mut self) -> Option<TraceRecord> {
        self.queue.pop_front()
    }

    fn push_line(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        if text.trim().is_empty() {
            return;
        }
        if self.queue.len() >= self.capacity {
            self.dropped += 1;
            return;
        }
        self.queue.push_back(TraceRecord::parse(&text));
    }

    fn take_bytes(&mut self, mut data: &[u8]) {
        while let Some(nl) = data.iter().position(|&b| b == b'\n') {
            let (head, tail) = data.split_at(nl);
            if self.skipping_long_line {
                self.skipping_long_line = false;
            } else if self.partial.is_empty() {
                self.push_line(head);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(head);
                self.push_line(&line);
            }
            data = &tail[1..];
        }
        if self.skipping_long_line {
            return;
        }
        self.partial.extend_from_slice(data);
        if self.partial.len() > MAX_LINE {
            self.partial.clear();
            self.skipping_long_line = true;
            self.dropped += 1;
        }
    }

    /// Waits up to `timeout` for data, then reads what is available; returns how many
    /// records were queued. A zero timeout only reads what is already there.
    pub fn fill(&mut self, timeout: Duration) -> Result<usize, KernelError> {
        let before = self.queue.len();
        let readable = sys::poll_readable(self.file.as_fd(), timeout)
            .map_err(|e| KernelError::syscall("poll", self.path.display().to_string(), e))?;
        if !readable {
            return Ok(0);
        }
        let mut buf = std::mem::take(&mut self.read_buf);
        buf.resize(READ_CHUNK, 0);
        let mut total = 0;
        let mut result = Ok(());
        while total < MAX_FILL_BYTES {
            match self.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    total += n;
                    self.take_bytes(&buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    result = Err(KernelError::file(&self.path, e));
                    break;
                }
            }
        }
        self.read_buf = buf;
        result.map(|()| self.queue.len().saturating_sub(before))
    }

    /// The next record, waiting at most `timeout` for one.
    pub fn next_record(&mut self, timeout: Duration) -> Result<Option<TraceRecord>, KernelError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self.queue.pop_front() {
                return Ok(Some(r));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            self.fill(left)?;
            if self.queue.is_empty() && left.is_zero() {
                return Ok(None);
            }
        }
    }

    /// Reads until a line satisfies `pred` or `timeout` passes. Records read on the way
    /// are consumed (they are not put back).
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&TraceLine) -> bool,
    ) -> Result<Option<TraceLine>, KernelError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_record(left)? {
                Some(TraceRecord::Line(l)) if pred(&l) => return Ok(Some(l)),
                Some(_) => continue,
                None => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bpf_trace_printk_line() {
        let l = TraceLine::parse(
            "           <...>-1977    [001] d..31  4966.455101: bpf_trace_printk: Hello, World!",
        )
        .unwrap();
        assert_eq!(l.comm, "<...>");
        assert_eq!(l.pid, 1977);
        assert_eq!(l.tgid, None);
        assert_eq!(l.cpu, 1);
        assert_eq!(l.flags, "d..31");
        assert_eq!(l.timestamp_ns, 4_966_455_101_000);
        assert_eq!(l.event, "bpf_trace_printk");
        assert_eq!(l.message, "Hello, World!");
    }

    #[test]
    fn comm_with_dashes_and_spaces_tgid_and_no_flags() {
        let l = TraceLine::parse(
            " kworker/u8:1-my task-42 (  40) [003] 12.5: sched_switch: prev_comm=a next_comm=b",
        )
        .unwrap();
        assert_eq!(l.comm, "kworker/u8:1-my task");
        assert_eq!(l.pid, 42);
        assert_eq!(l.tgid, Some(40));
        assert_eq!(l.cpu, 3);
        assert_eq!(l.flags, "");
        assert_eq!(l.timestamp_ns, 12_500_000_000);
        assert_eq!(l.event, "sched_switch");
        assert_eq!(l.message, "prev_comm=a next_comm=b");

        let l = TraceLine::parse("  <idle>-0  (-------) [000] .... 1.000000001: foo").unwrap();
        assert_eq!(l.pid, 0);
        assert_eq!(l.tgid, None);
        assert_eq!(l.flags, "....");
        assert_eq!(l.timestamp_ns, 1_000_000_001);
        assert_eq!((l.event.as_str(), l.message.as_str()), ("", "foo"));
    }

    #[test]
    fn records() {
        assert_eq!(
            TraceRecord::parse("CPU:2 [LOST 17 EVENTS]"),
            TraceRecord::Lost { cpu: 2, events: 17 }
        );
        assert_eq!(
            TraceRecord::parse("garbage here"),
            TraceRecord::Other("garbage here".to_string())
        );
        assert!(TraceLine::parse("x-1 [0] 1.0: e: m").is_some());
        assert!(TraceLine::parse("x-y [0] 1.0: e: m").is_none());
        assert!(TraceLine::parse("x-1 [0] notatime: e").is_none());
    }

    #[test]
    fn queue_is_bounded_and_long_lines_are_dropped() {
        let dir = std::env::temp_dir().join(format!("oxbpf-tp-{}", std::process::id()));
        std::fs::write(&dir, b"").unwrap();
        let mut p = TracePipe::open_path(dir.clone(), 2, None).unwrap();
        p.take_bytes(b"a-1 [000] .... 1.0: e: one\na-1 [000] .... 1.0: e: tw");
        assert_eq!(p.buffered(), 1);
        p.take_bytes(b"o\na-1 [000] .... 1.0: e: three\n");
        assert_eq!(p.buffered(), 2);
        assert_eq!(p.dropped(), 1);
        let Some(TraceRecord::Line(l)) = p.pop() else {
            panic!("expected a line")
        };
        assert_eq!(l.message, "one");
        let Some(TraceRecord::Line(l)) = p.pop() else {
            panic!("expected a line")
        };
        assert_eq!(l.message, "two");
        p.take_bytes(&vec![b'x'; MAX_LINE + 1]);
        p.take_bytes(b"still the long line\na-1 [000] .... 1.0: e: after\n");
        assert_eq!(p.dropped(), 2);
        let Some(TraceRecord::Line(l)) = p.pop() else {
            panic!("expected a line")
        };
        assert_eq!(l.message, "after");
        std::fs::remove_file(dir).unwrap();
    }
}
