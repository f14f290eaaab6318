//! `BPF_MAP_TYPE_PERF_EVENT_ARRAY`: per-CPU bounded buffers written by
//! `bpf_perf_event_output`.
//!
//! In Linux each slot of the array holds a perf event (opened by userspace with
//! `perf_event_open` on one CPU) whose mmap'd ring receives `PERF_RECORD_SAMPLE` records;
//! a sample that does not fit is lost and counted, and the count is reported to the reader
//! as a `PERF_RECORD_LOST` record before the next sample that fits. oxbpf keeps the same
//! model without the kernel: [`PerfEventArray::open`] puts a [`PerfBuffer`] of a given byte
//! capacity for a given CPU into a slot; [`PerfEventArray::output`] is the helper's
//! semantics (index from the flags or `BPF_F_CURRENT_CPU`, `E2BIG` past the end, `ENOENT`
//! for an empty slot, `EOPNOTSUPP` when the slot's CPU is not the caller's, `ENOSPC` and a
//! lost count when the buffer is full); [`PerfEventArray::read`] drains samples and lost
//! counts in order.
//!
//! Buffer accounting mirrors perf: a sample costs an 8-byte record header, a 4-byte size
//! and the data, padded to 8 bytes; a lost record costs 16 bytes.

use super::error::MapError;
use super::spec::{flags, perf_flags, MapSpec};
use super::{cpu, key_index, Ops};
use parking_lot::{Mutex, RwLock};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const SAMPLE_HDR: usize = 8 + 4;
const LOST_COST: usize = 16;

/// One event read from a perf buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PerfEvent<'a> {
    /// A sample's raw data.
    Sample { cpu: usize, data: &'a [u8] },
    /// `count` samples were lost at this point (`PERF_RECORD_LOST`).
    Lost { cpu: usize, count: u64 },
}

#[derive(Debug)]
enum Record {
    Sample(Box<[u8]>),
    Lost(u64),
}

#[derive(Debug)]
struct BufState {
    records: VecDeque<Record>,
    used: usize,
    lost_pending: u64,
}

/// A bounded per-CPU buffer of samples.
#[derive(Debug)]
pub struct PerfBuffer {
    cpu: usize,
    capacity: usize,
    state: Mutex<BufState>,
    samples: AtomicU64,
    lost: AtomicU64,
}

fn sample_cost(len: usize) -> usize {
    (SAMPLE_HDR + len).next_multiple_of(8)
}

impl PerfBuffer {
    fn new(cpu: usize, capacity: usize) -> PerfBuffer {
        PerfBuffer {
            cpu,
            capacity,
            state: Mutex::new(BufState {
                records: VecDeque::new(),
                used: 0,
                lost_pending: 0,
            }),
            samples: AtomicU64::new(0),
            lost: AtomicU64::new(0),
        }
    }

    /// The CPU this buffer belongs to.
    pub fn cpu(&self) -> usize {
        self.cpu
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Samples written so far.
    pub fn samples(&self) -> u64 {
        self.samples.load(Ordering::Relaxed)
    }

    /// Samples lost so far because the buffer was full.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Bytes currently held.
    pub fn used(&self) -> usize {
        self.state.lock().used
    }

    fn write(&self, parts: &[&[u8]]) -> bool {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let cost = sample_cost(len);
        let mut st = self.state.lock();
        let lost_cost = if st.lost_pending > 0 { LOST_COST } else { 0 };
        if st.used + lost_cost + cost > self.capacity {
            st.lost_pending += 1;
            self.lost.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if st.lost_pending > 0 {
            let n = std::mem::take(&mut st.lost_pending);
            st.records.push_back(Record::Lost(n));
            st.used += LOST_COST;
        }
        let mut data = Vec::with_capacity(len);
        for p in parts {
            data.extend_from_slice(p);
        }
        st.records
            .push_back(Record::Sample(data.into_boxed_slice()));
        st.used += cost;
        self.samples.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Delivers and removes every buffered event; a pending lost count (samples lost since
    /// the last one that fit) is delivered last. Returns the number of events.
    pub fn read(&self, mut f: impl FnMut(PerfEvent<'_>)) -> usize {
        let (records, pending) = {
            let mut st = self.state.lock();
            st.used = 0;
            (
                std::mem::take(&mut st.records),
                std::mem::take(&mut st.lost_pending),
            )
        };
        let mut n = 0;
        for r in &records {
            match r {
                Record::Sample(d) => f(PerfEvent::Sample {
                    cpu: self.cpu,
                    data: d,
                }),
                Record::Lost(c) => f(PerfEvent::Lost {
                    cpu: self.cpu,
                    count: *c,
                }),
            }
            n += 1;
        }
        if pending > 0 {
            f(PerfEvent::Lost {
                cpu: self.cpu,
                count: pending,
            });
            n += 1;
        }
        n
    }
}

/// A perf event array.
#[derive(Debug)]
pub struct PerfEventArray {
    spec: MapSpec,
    slots: RwLock<Vec<Option<Arc<PerfBuffer>>>>,
}

impl PerfEventArray {
    pub(crate) fn new(spec: MapSpec) -> Result<PerfEventArray, MapError> {
        spec.check_flags(
            flags::BPF_F_NUMA_NODE | flags::BPF_F_ACCESS_MASK | flags::BPF_F_PRESERVE_ELEMS,
        )?;
        spec.require(
            spec.max_entries > 0 && spec.key_size == 4 && spec.value_size == 4,
            libc::EINVAL,
            "perf event arrays need key_size 4, value_size 4 and max_entries > 0",
        )?;
        spec.require(
            spec.flags & (flags::BPF_F_RDONLY_PROG | flags::BPF_F_WRONLY_PROG) == 0,
            libc::EINVAL,
            "perf event arrays take no program access flags",
        )?;
        let slots = super::error::alloc_vec(&spec.name, spec.max_entries as usize, None)?;
        Ok(PerfEventArray {
            spec,
            slots: RwLock::new(slots),
        })
    }

    /// Puts a new buffer of `capacity` bytes for `cpu` into slot `index` (replacing any
    /// previous one) and returns it. `E2BIG` when `index >= max_entries`, `EINVAL` when
    /// `cpu >= cpu::num_cpus()` or the capacity cannot hold one minimal sample.
    pub fn open(
        &self,
        index: u32,
        cpu: usize,
        capacity: usize,
    ) -> Result<Arc<PerfBuffer>, MapError> {
        if cpu >= cpu::num_cpus() {
            return Err(MapError::invalid(
                &self.spec.name,
                format!("CPU {cpu} is not below the CPU count {}", cpu::num_cpus()),
            ));
        }
        if capacity < sample_cost(0) + LOST_COST {
            return Err(MapError::invalid(
                &self.spec.name,
                format!(
                    "a perf buffer needs at least {} bytes",
                    sample_cost(0) + LOST_COST
                ),
            ));
        }
        let mut slots = self.slots.write();
        let slot = slots.get_mut(index as usize).ok_or_else(|| {
            MapError::full(
                &self.spec.name,
                format!("index {index} is past max_entries"),
            )
        })?;
        let b = Arc::new(PerfBuffer::new(cpu, capacity));
        *slot = Some(b.clone());
        Ok(b)
    }

    /// Opens slot `i` for CPU `i`, for every `i < min(max_entries, num_cpus())`, each with
    /// `capacity` bytes (what a perf reader does per CPU).
    pub fn open_all(&self, capacity: usize) -> Result<Vec<Arc<PerfBuffer>>, MapError> {
        let n = (self.spec.max_entries as usize).min(cpu::num_cpus());
        (0..n).map(|i| self.open(i as u32, i, capacity)).collect()
    }

    /// Empties slot `index` (`ENOENT` if it was empty).
    pub fn close(&self, index: u32) -> Result<(), MapError> {
        let mut slots = self.slots.write();
        match slots.get_mut(index as usize) {
            Some(s) if s.is_some() => {
                *s = None;
                Ok(())
            }
            Some(_) => Err(MapError::not_found(&self.spec.name)),
            None => Err(MapError::full(
                &self.spec.name,
                format!("index {index} is past max_entries"),
            )),
        }
    }

    /// The buffer in slot `index`.
    pub fn buffer(&self, index: u32) -> Option<Arc<PerfBuffer>> {
        self.slots.read().get(index as usize).cloned().flatten()
    }

    /// `bpf_perf_event_output` from a program on `cpu`: writes the concatenation of
    /// `parts` as one sample. `flags` is the index (low 32 bits) or `BPF_F_CURRENT_CPU`;
    /// other bits are `EINVAL` (helpers that take a context length in bits 32..52 strip it
    /// first).
    pub fn output(&self, cpu: usize, flags: u64, parts: &[&[u8]]) -> Result<(), MapError> {
        let name = &self.spec.name;
        if flags & !perf_flags::BPF_F_INDEX_MASK != 0 {
            return Err(MapError::invalid(
                name,
                format!("invalid perf output flags 0x{flags:x}"),
            ));
        }
        let index = if flags == perf_flags::BPF_F_CURRENT_CPU {
            cpu as u64
        } else {
            flags
        };
        if index >= self.spec.max_entries as u64 {
            return Err(MapError::full(
                name,
                format!("index {index} is past max_entries"),
            ));
        }
        let buf = self.slots.read().get(index as usize).cloned().flatten();
        let Some(buf) = buf else {
            return Err(MapError::not_found(name));
        };
        if buf.cpu != cpu {
            return Err(MapError::Unsupported {
                map: name.clone(),
                map_type: self.spec.map_type,
                op: "output to a perf buffer of another CPU",
                errno: libc::EOPNOTSUPP,
            });
        }
        if !buf.write(parts) {
            return Err(MapError::NoSpace {
                map: name.clone(),
                reason: format!("perf buffer of CPU {cpu} is full"),
            });
        }
        Ok(())
    }

    /// Drains every open buffer in slot order, delivering samples and lost counts to `f`.
    pub fn read(&self, mut f: impl FnMut(PerfEvent<'_>)) -> usize {
        let bufs: Vec<Arc<PerfBuffer>> = self.slots.read().iter().flatten().cloned().collect();
        bufs.iter().map(|b| b.read(&mut f)).sum()
    }

    /// Total samples lost over all open buffers.
    pub fn lost(&self) -> u64 {
        self.slots.read().iter().flatten().map(|b| b.lost()).sum()
    }
}

impl Ops for PerfEventArray {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.close(key_index(key).unwrap_or(u32::MAX))
    }

    fn get_next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<(), MapError> {
        super::prog_array::array_next_key(&self.spec, key, next)
    }

    fn memory_bytes(&self) -> usize {
        let slots = self.slots.read();
        std::mem::size_of::<Self>()
            + slots.capacity() * std::mem::size_of::<Option<Arc<PerfBuffer>>>()
            + slots
                .iter()
                .flatten()
                .map(|b| std::mem::size_of::<PerfBuffer>() + b.used())
                .sum::<usize>()
    }

    fn len(&self) -> usize {
        self.slots.read().iter().flatten().count()
    }
}
