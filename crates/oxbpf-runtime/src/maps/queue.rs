//! `BPF_MAP_TYPE_QUEUE` (FIFO) and `BPF_MAP_TYPE_STACK` (LIFO).
//!
//! A ring of `max_entries + 1` preallocated value slots under one lock, as in Linux. Values
//! are copied in (push) and out (pop, peek); programs never hold pointers into it. Pushing
//! onto a full map fails with `E2BIG` unless `BPF_EXIST` is given, which drops the oldest
//! element to make room (for queues and stacks alike). Popping or peeking an empty map
//! fails with `ENOENT` and zeroes the output buffer.

use super::error::MapError;
use super::spec::{flags, update, MapSpec, MapType};
use super::{array::check_len, Ops};
use parking_lot::Mutex;

#[derive(Debug)]
struct Ring {
    head: u32,
    tail: u32,
    elements: Vec<u8>,
}

/// A queue or a stack.
#[derive(Debug)]
pub struct QueueStack {
    spec: MapSpec,
    stack: bool,
    /// `max_entries + 1`.
    size: u32,
    ring: Mutex<Ring>,
}

impl QueueStack {
    pub(crate) fn new(spec: MapSpec) -> Result<QueueStack, MapError> {
        spec.check_flags(flags::BPF_F_NUMA_NODE | flags::BPF_F_ACCESS_MASK)?;
        spec.require(
            spec.max_entries > 0 && spec.key_size == 0 && spec.value_size > 0,
            libc::EINVAL,
            "queues and stacks need key_size 0, value_size > 0 and max_entries > 0",
        )?;
        spec.require(
            spec.value_size <= 1 << 22,
            libc::E2BIG,
            "value_size too large",
        )?;
        let size = spec
            .max_entries
            .checked_add(1)
            .ok_or_else(|| spec.err(libc::E2BIG, "too many entries"))?;
        let bytes = (size as usize)
            .checked_mul(spec.value_size as usize)
            .ok_or_else(|| spec.err(libc::E2BIG, "map size overflows"))?;
        let mut elements = Vec::new();
        elements
            .try_reserve_exact(bytes)
            .map_err(|_| MapError::NoMemory {
                map: spec.name.clone(),
                bytes: bytes as u64,
            })?;
        elements.resize(bytes, 0);
        Ok(QueueStack {
            stack: spec.map_type == MapType::Stack,
            spec,
            size,
            ring: Mutex::new(Ring {
                head: 0,
                tail: 0,
                elements,
            }),
        })
    }

    fn vs(&self) -> usize {
        self.spec.value_size as usize
    }

    fn get(&self, out: &mut [u8], delete: bool) -> Result<(), MapError> {
        check_len(&self.spec.name, out, self.vs())?;
        let vs = self.vs();
        let mut r = self.ring.lock();
        if r.head == r.tail {
            out.fill(0);
            return Err(MapError::not_found(&self.spec.name));
        }
        let index = if self.stack {
            if r.head == 0 {
                self.size - 1
            } else {
                r.head - 1
            }
        } else {
            r.tail
        };
        let off = index as usize * vs;
        out.copy_from_slice(&r.elements[off..off + vs]);
        if delete {
            if self.stack {
                r.head = index;
            } else {
                r.tail = (r.tail + 1) % self.size;
            }
        }
        Ok(())
    }
}

impl Ops for QueueStack {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn push(&self, value: &[u8], fl: u64) -> Result<(), MapError> {
        let name = &self.spec.name;
        if fl & update::BPF_NOEXIST != 0 || fl > update::BPF_EXIST {
            return Err(MapError::invalid(
                name,
                format!("invalid push flags 0x{fl:x}"),
            ));
        }
        check_len(name, value, self.vs())?;
        let vs = self.vs();
        let mut r = self.ring.lock();
        if (r.head + 1) % self.size == r.tail {
            if fl & update::BPF_EXIST == 0 {
                return Err(MapError::full(
                    name,
                    format!(
                        "the map holds max_entries ({}) elements",
                        self.spec.max_entries
                    ),
                ));
            }
            r.tail = (r.tail + 1) % self.size;
        }
        let off = r.head as usize * vs;
        r.elements[off..off + vs].copy_from_slice(value);
        r.head = (r.head + 1) % self.size;
        Ok(())
    }

    fn pop(&self, out: &mut [u8]) -> Result<(), MapError> {
        self.get(out, true)
    }

    fn peek(&self, out: &mut [u8]) -> Result<(), MapError> {
        self.get(out, false)
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.ring.lock().elements.capacity()
    }

    fn len(&self) -> usize {
        let r = self.ring.lock();
        ((r.head + self.size - r.tail) % self.size) as usize
    }
}
