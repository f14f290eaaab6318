//! `BPF_MAP_TYPE_RINGBUF`: a multi-producer, single-consumer ring of variable-size records.
//!
//! Linux's protocol and positions: `max_entries` is the data size (a power of two and a
//! multiple of the page size); records are an 8-byte header (`u32 len` with
//! [`RINGBUF_BUSY_BIT`] and [`RINGBUF_DISCARD_BIT`], `u32 pg_off`) followed by the sample,
//! padded to 8 bytes. `reserve` advances the producer position under a lock and marks the
//! record busy; `submit`/`discard` clear the busy bit (discard also sets the discard bit);
//! the consumer delivers committed records in order and stops at the first busy one.
//! `reserve` fails (NULL, `output` returns `EAGAIN`) when the record would overwrite
//! unconsumed data; such failures are counted in [`RingBuf::dropped`].
//!
//! The kernel maps the data pages twice in a row so a record that wraps past the end is
//! contiguous in memory. oxbpf allocates the data area twice as large instead: a record is
//! always written and read contiguously at `pos & mask`, possibly running into the second
//! half; the logical positions, space accounting and `bpf_ringbuf_query` values are the
//! kernel's. Only touched pages of the second half become resident.
//!
//! Notification: after a commit the consumer is woken when it has caught up with the
//! record (`BPF_RB_NO_WAKEUP` suppresses, `BPF_RB_FORCE_WAKEUP` forces it), as in Linux;
//! [`RingBuf::wait`] blocks for such a wakeup.

use super::error::MapError;
use super::slab::Slab;
use super::spec::{flags, ringbuf_flags as rb, MapSpec, PAGE_SIZE};
use super::Ops;
use parking_lot::{Condvar, Mutex};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Set in a record header's length while the record is reserved but not committed.
pub const RINGBUF_BUSY_BIT: u32 = 1 << 31;
/// Set in a record header's length when the record was discarded.
pub const RINGBUF_DISCARD_BIT: u32 = 1 << 30;
/// Size of a record header.
pub const RINGBUF_HDR_SZ: usize = 8;
/// Largest sample (Linux's `RINGBUF_MAX_RECORD_SZ`).
const MAX_RECORD_SZ: u64 = (u32::MAX / 4) as u64;
/// Largest data area (Linux: 64 GiB; kept to what a u32 length can describe here).
const MAX_DATA_SZ: u64 = 1 << 32;

#[repr(align(64))]
#[derive(Debug, Default)]
struct Pos(AtomicU64);

/// A ring buffer map.
#[derive(Debug)]
pub struct RingBuf {
    spec: MapSpec,
    size: u64,
    mask: u64,
    /// `2 * size` bytes: see the module documentation.
    data: Slab,
    consumer_pos: Pos,
    producer_pos: Pos,
    producer: Mutex<()>,
    consumer: Mutex<Vec<u8>>,
    dropped: Pos,
    wake: Mutex<u64>,
    wake_cv: Condvar,
}

fn round8(n: u64) -> u64 {
    (n + 7) & !7
}

impl RingBuf {
    pub(crate) fn new(spec: MapSpec) -> Result<RingBuf, MapError> {
        spec.check_flags(flags::BPF_F_NUMA_NODE)?;
        spec.require(
            spec.key_size == 0 && spec.value_size == 0,
            libc::EINVAL,
            "ring buffers need key_size 0 and value_size 0",
        )?;
        let size = spec.max_entries as u64;
        spec.require(
            size.is_power_of_two() && size.is_multiple_of(PAGE_SIZE as u64),
            libc::EINVAL,
            "max_entries (the data size) must be a power of two and a multiple of the page size",
        )?;
        spec.require(size < MAX_DATA_SZ, libc::E2BIG, "ring buffer too large")?;
        let data = Slab::new(&spec.name, (2 * size) as usize)?;
        Ok(RingBuf {
            spec,
            size,
            mask: size - 1,
            data,
            consumer_pos: Pos::default(),
            producer_pos: Pos::default(),
            producer: Mutex::new(()),
            consumer: Mutex::new(Vec::new()),
            dropped: Pos::default(),
            wake: Mutex::new(0),
            wake_cv: Condvar::new(),
        })
    }

    /// `bpf_ringbuf_reserve(size, flags)`: a pointer to `size` writable bytes, or `None`
    /// (the helper returns NULL) when `flags != 0`, the record can never fit, or there is
    /// no room now (counted in [`RingBuf::dropped`]).
    pub fn reserve(&self, size: u64, flags: u64) -> Option<NonNull<u8>> {
        if flags != 0 || size > MAX_RECORD_SZ {
            return None;
        }
        let len = round8(size + RINGBUF_HDR_SZ as u64);
        if len > self.size {
            self.dropped.0.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let _guard = self.producer.lock();
        let cons = self.consumer_pos.0.load(Ordering::Acquire);
        let prod = self.producer_pos.0.load(Ordering::Relaxed);
        let new_prod = prod + len;
        if new_prod - cons > self.mask {
            self.dropped.0.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let off = (prod & self.mask) as usize;
        self.data
            .atomic_u32(off)
            .store(size as u32 | RINGBUF_BUSY_BIT, Ordering::Relaxed);
        self.data
            .atomic_u32(off + 4)
            .store((off / PAGE_SIZE as usize) as u32, Ordering::Relaxed);
        self.producer_pos.0.store(new_prod, Ordering::Release);
        Some(self.data.ptr_at(off + RINGBUF_HDR_SZ))
    }

    /// The header offset of the record whose sample starts at `sample`.
    fn record_of(&self, sample: u64) -> Result<usize, MapError> {
        let base = self.data.addr();
        let bad = || {
            MapError::invalid(
                &self.spec.name,
                format!("0x{sample:x} is not a record reserved in this ring buffer"),
            )
        };
        let rel = sample
            .checked_sub(base + RINGBUF_HDR_SZ as u64)
            .ok_or_else(bad)?;
        if rel >= self.size || rel % 8 != 0 {
            return Err(bad());
        }
        Ok(rel as usize)
    }

    fn commit(&self, sample: u64, flags: u64, discard: bool) -> Result<(), MapError> {
        let off = self.record_of(sample)?;
        let hdr = self.data.atomic_u32(off);
        let mut cur = hdr.load(Ordering::Acquire);
        loop {
            if cur & RINGBUF_BUSY_BIT == 0 {
                return Err(MapError::invalid(
                    &self.spec.name,
                    format!("record at 0x{sample:x} is not reserved (already committed?)"),
                ));
            }
            let mut new = cur & !RINGBUF_BUSY_BIT;
            if discard {
                new |= RINGBUF_DISCARD_BIT;
            }
            match hdr.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        let cons = self.consumer_pos.0.load(Ordering::Acquire) & self.mask;
        if flags & rb::BPF_RB_FORCE_WAKEUP != 0
            || (flags & rb::BPF_RB_NO_WAKEUP == 0 && cons == off as u64)
        {
            self.notify();
        }
        Ok(())
    }

    /// True when `addr` lies in this ring's data area (where reserved samples live).
    pub fn contains(&self, addr: u64) -> bool {
        addr.wrapping_sub(self.data.addr()) < self.data.len() as u64
    }

    /// `bpf_ringbuf_submit(sample, flags)`. Errors only for a pointer that is not a
    /// reserved record of this ring (the verifier rules that out for verified programs).
    pub fn submit(&self, sample: NonNull<u8>, flags: u64) -> Result<(), MapError> {
        self.commit(sample.as_ptr() as u64, flags, false)
    }

    /// `bpf_ringbuf_discard(sample, flags)`.
    pub fn discard(&self, sample: NonNull<u8>, flags: u64) -> Result<(), MapError> {
        self.commit(sample.as_ptr() as u64, flags, true)
    }

    /// Same as [`RingBuf::submit`] for an address held as an integer (a program register).
    pub fn submit_addr(&self, sample: u64, flags: u64) -> Result<(), MapError> {
        self.commit(sample, flags, false)
    }

    /// Same as [`RingBuf::discard`] for an address held as an integer.
    pub fn discard_addr(&self, sample: u64, flags: u64) -> Result<(), MapError> {
        self.commit(sample, flags, true)
    }

    /// `bpf_ringbuf_output(data, flags)`: copies `data` as one record. `EINVAL` for flags
    /// other than the wakeup flags, `EAGAIN` when there is no room (counted as dropped).
    pub fn output(&self, data: &[u8], flags: u64) -> Result<(), MapError> {
        if flags & !(rb::BPF_RB_NO_WAKEUP | rb::BPF_RB_FORCE_WAKEUP) != 0 {
            return Err(MapError::invalid(
                &self.spec.name,
                format!("invalid ringbuf output flags 0x{flags:x}"),
            ));
        }
        let Some(p) = self.reserve(data.len() as u64, 0) else {
            return Err(MapError::Again {
                map: self.spec.name.clone(),
                reason: format!("no room for a {}-byte record", data.len()),
            });
        };
        let off = p.as_ptr() as u64 - self.data.addr();
        self.data.write(off as usize, data);
        self.commit(p.as_ptr() as u64, flags, false)
    }

    /// `bpf_ringbuf_query(flags)`: available data, ring size, consumer or producer
    /// position; 0 for unknown flags, as Linux.
    pub fn query(&self, flags: u64) -> u64 {
        let cons = self.consumer_pos.0.load(Ordering::Acquire);
        let prod = self.producer_pos.0.load(Ordering::Acquire);
        match flags {
            rb::BPF_RB_AVAIL_DATA => prod - cons,
            rb::BPF_RB_RING_SIZE => self.size,
            rb::BPF_RB_CONS_POS => cons,
            rb::BPF_RB_PROD_POS => prod,
            _ => 0,
        }
    }

    /// Records refused because the ring was full (or could never hold them).
    pub fn dropped(&self) -> u64 {
        self.dropped.0.load(Ordering::Relaxed)
    }

    /// Number of consumer wakeups signalled so far.
    pub fn notifications(&self) -> u64 {
        *self.wake.lock()
    }

    fn notify(&self) {
        let mut n = self.wake.lock();
        *n += 1;
        self.wake_cv.notify_all();
    }

    /// Delivers every committed record, in order, to `f` (discarded records are skipped),
    /// and frees their space. Stops at the first record still being written. Returns the
    /// number of records delivered. One consumer runs at a time.
    pub fn consume(&self, mut f: impl FnMut(&[u8])) -> usize {
        let mut buf = self.consumer.lock();
        let mut cons = self.consumer_pos.0.load(Ordering::Acquire);
        let mut n = 0;
        loop {
            let prod = self.producer_pos.0.load(Ordering::Acquire);
            if cons >= prod {
                break;
            }
            let off = (cons & self.mask) as usize;
            let hdr = self.data.atomic_u32(off).load(Ordering::Acquire);
            if hdr & RINGBUF_BUSY_BIT != 0 {
                break;
            }
            let len = (hdr & !(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT)) as usize;
            if round8(len as u64 + RINGBUF_HDR_SZ as u64) > self.size {
                // Only a program writing outside its reserved record can do this: skip
                // everything produced so far rather than read past the data area.
                log::error!(
                    "ring buffer `{}`: corrupt record header 0x{hdr:x} at position {cons}; \
                     dropping {} unconsumed bytes",
                    self.spec.name,
                    prod - cons
                );
                self.dropped.0.fetch_add(1, Ordering::Relaxed);
                cons = prod;
                self.consumer_pos.0.store(cons, Ordering::Release);
                break;
            }
            if hdr & RINGBUF_DISCARD_BIT == 0 {
                buf.resize(len, 0);
                self.data.read(off + RINGBUF_HDR_SZ, &mut buf[..len]);
                f(&buf[..len]);
                n += 1;
            }
            cons += round8(len as u64 + RINGBUF_HDR_SZ as u64);
            self.consumer_pos.0.store(cons, Ordering::Release);
        }
        n
    }

    /// All committed records as owned buffers.
    pub fn drain(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        self.consume(|r| out.push(r.to_vec()));
        out
    }

    /// Waits up to `timeout` for data: returns `true` at once when unconsumed data is
    /// available, else when a wakeup arrives in time.
    pub fn wait(&self, timeout: Duration) -> bool {
        let mut n = self.wake.lock();
        if self.query(rb::BPF_RB_AVAIL_DATA) > 0 {
            return true;
        }
        let seen = *n;
        let deadline = std::time::Instant::now() + timeout;
        while *n == seen {
            if self.wake_cv.wait_until(&mut n, deadline).timed_out() {
                return *n != seen;
            }
        }
        true
    }
}

impl Ops for RingBuf {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn regions(&self) -> Vec<(u64, u64)> {
        vec![(self.data.addr(), self.data.len() as u64)]
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.data.len() + self.consumer.lock().capacity()
    }

    fn len(&self) -> usize {
        self.query(rb::BPF_RB_AVAIL_DATA) as usize
    }
}
