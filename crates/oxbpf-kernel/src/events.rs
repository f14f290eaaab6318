//! Reading events programs send to user space: ring buffers (`bpf_ringbuf_output`,
//! `bpf_ringbuf_reserve`/`submit`) and perf buffers (`bpf_perf_event_output`).
//!
//! Both readers wrap aya's (`aya::maps::RingBuf`, `aya::maps::PerfEventArray`) and have the
//! shape of the userspace runtime's consumers: a callback per record, at most `max`
//! records per call (so a flood cannot keep the caller forever), counters of what was
//! delivered and, for perf buffers, of what the kernel dropped. Nothing is copied or
//! queued in between: records are read in place from the memory the kernel shares, so the
//! only bound is the kernel buffer's own size (ring buffer: the map's `max_entries`
//! bytes; perf buffer: `pages` pages per CPU). A full ring buffer makes the program's
//! `bpf_ringbuf_output`/`reserve` fail (the program sees it, user space does not); a full
//! perf buffer makes the kernel count lost samples, reported here as [`PerfRecord::Lost`].

use std::ops::ControlFlow;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use aya::maps::perf::{PerfEvent, PerfEventArrayBuffer};
use aya::maps::{MapData, PerfEventArray, RingBuf};

use crate::error::KernelError;
use crate::sys;

fn map_err(name: &str, e: aya::maps::MapError) -> KernelError {
    KernelError::Map {
        map: name.to_string(),
        source: Box::new(e),
    }
}

/// A ring buffer map's consumer.
pub struct RingBufReader {
    name: String,
    ring: RingBuf<MapData>,
    records: u64,
}

impl std::fmt::Debug for RingBufReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingBufReader")
            .field("name", &self.name)
            .field("records", &self.records)
            .finish()
    }
}

impl RingBufReader {
    /// A reader over a `BPF_MAP_TYPE_RINGBUF` map.
    pub fn new(name: &str, map: aya::maps::Map) -> Result<RingBufReader, KernelError> {
        let ring = RingBuf::try_from(map).map_err(|e| map_err(name, e))?;
        Ok(RingBufReader {
            name: name.to_string(),
            ring,
            records: 0,
        })
    }

    /// The map's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Records delivered so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Waits up to `timeout` until records are ready; true when they are.
    pub fn wait(&self, timeout: Duration) -> Result<bool, KernelError> {
        sys::poll_readable(self.ring.as_fd(), timeout)
            .map_err(|e| KernelError::syscall("poll", format!("ring buffer `{}`", self.name), e))
    }

    /// Hands up to `max` ready records to `f`, oldest first, without waiting; returns how
    /// many. Each record is released back to the kernel after `f` returns.
    pub fn drain(&mut self, max: usize, mut f: impl FnMut(&[u8])) -> usize {
        let mut n = 0;
        while n < max {
            let Some(item) = self.ring.next() else { break };
            f(&item);
            n += 1;
        }
        self.records += n as u64;
        n
    }

    /// [`RingBufReader::wait`] (when nothing is ready) then [`RingBufReader::drain`].
    pub fn poll(
        &mut self,
        timeout: Duration,
        max: usize,
        mut f: impl FnMut(&[u8]),
    ) -> Result<usize, KernelError> {
        let n = self.drain(max, &mut f);
        if n > 0 || max == 0 || !self.wait(timeout)? {
            return Ok(n);
        }
        Ok(self.drain(max, f))
    }
}

/// One thing read from a perf buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PerfRecord<'a> {
    /// A sample: the bytes the program passed to `bpf_perf_event_output`, followed by the
    /// kernel's padding to a multiple of 8 bytes (counting the 4-byte size in front).
    Sample {
        /// The CPU it was written on.
        cpu: u32,
        /// The bytes.
        data: &'a [u8],
    },
    /// The kernel dropped `count` samples on `cpu` because the buffer was full.
    Lost {
        /// The CPU.
        cpu: u32,
        /// How many.
        count: u64,
    },
}

/// A perf event array's consumer: one kernel buffer per CPU.
pub struct PerfReader {
    name: String,
    // Keeps the map open; the buffers are its elements.
    _array: PerfEventArray<MapData>,
    buffers: Vec<(u32, PerfEventArrayBuffer<MapData>)>,
    scratch: Vec<u8>,
    samples: u64,
    lost: u64,
    pages: usize,
}

impl std::fmt::Debug for PerfReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerfReader")
            .field("name", &self.name)
            .field("cpus", &self.buffers.len())
            .field("pages", &self.pages)
            .field("samples", &self.samples)
            .field("lost", &self.lost)
            .finish()
    }
}

impl PerfReader {
    /// Opens a buffer of `pages` pages (a power of two) on every CPU in `cpus` and stores
    /// it in the `BPF_MAP_TYPE_PERF_EVENT_ARRAY` map at the CPU's index.
    pub fn new(
        name: &str,
        map: aya::maps::Map,
        cpus: &[u32],
        pages: usize,
    ) -> Result<PerfReader, KernelError> {
        if !pages.is_power_of_two() {
            return Err(KernelError::InvalidInput {
                what: "perf buffer size",
                reason: format!("{pages} pages is not a power of two"),
            });
        }
        let mut array = PerfEventArray::try_from(map).map_err(|e| map_err(name, e))?;
        let mut buffers = Vec::with_capacity(cpus.len());
        for &cpu in cpus {
            let b = array
                .open(cpu, Some(pages))
                .map_err(|e| KernelError::Unsupported {
                    what: format!("opening the perf buffer of `{name}` on CPU {cpu}: {e}"),
                })?;
            buffers.push((cpu, b));
        }
        Ok(PerfReader {
            name: name.to_string(),
            _array: array,
            buffers,
            scratch: Vec::new(),
            samples: 0,
            lost: 0,
            pages,
        })
    }

    /// The map's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Samples delivered so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Samples the kernel reported lost so far.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Bytes of kernel memory the buffers take (data pages plus one metadata page each).
    pub fn memory_bytes(&self) -> usize {
        self.buffers.len() * (self.pages + 1) * 4096
    }

    /// Waits up to `timeout` until some CPU's buffer has records; true when one has.
    pub fn wait(&self, timeout: Duration) -> Result<bool, KernelError> {
        let fds: Vec<BorrowedFd<'_>> = self.buffers.iter().map(|(_, b)| b.as_fd()).collect();
        let ready = sys::poll_many(&fds, timeout)
            .map_err(|e| KernelError::syscall("poll", format!("perf buffer `{}`", self.name), e))?;
        Ok(ready.into_iter().any(|r| r))
    }

    /// Hands up to `max` records (samples and loss reports), CPU by CPU, to `f` without
    /// waiting; returns how many.
    pub fn drain(&mut self, max: usize, mut f: impl FnMut(PerfRecord<'_>)) -> usize {
        let mut n = 0;
        let scratch = &mut self.scratch;
        let (samples, lost) = (&mut self.samples, &mut self.lost);
        for (cpu, buf) in &mut self.buffers {
            if n >= max {
                break;
            }
            let cpu = *cpu;
            let _ = buf.try_fold((), |(), ev| {
                match ev {
                    PerfEvent::Sample { head, tail } => {
                        let data: &[u8] = if tail.is_empty() {
                            head
                        } else {
                            scratch.clear();
                            scratch.extend_from_slice(head);
                            scratch.extend_from_slice(tail);
                            scratch
                        };
                        *samples += 1;
                        f(PerfRecord::Sample { cpu, data });
                    }
                    PerfEvent::Lost { count } => {
                        *lost += count;
                        f(PerfRecord::Lost { cpu, count });
                    }
                }
                n += 1;
                if n >= max {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
        }
        n
    }

    /// [`PerfReader::wait`] (when nothing is ready) then [`PerfReader::drain`].
    pub fn poll(
        &mut self,
        timeout: Duration,
        max: usize,
        mut f: impl FnMut(PerfRecord<'_>),
    ) -> Result<usize, KernelError> {
        let n = self.drain(max, &mut f);
        if n > 0 || max == 0 || !self.wait(timeout)? {
            return Ok(n);
        }
        Ok(self.drain(max, f))
    }
}
