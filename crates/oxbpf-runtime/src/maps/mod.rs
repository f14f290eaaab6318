//! eBPF maps in userspace, with Linux's semantics.
//!
//! # Model
//!
//! A [`Map`] is created from a [`MapSpec`] (the fields of `BPF_MAP_CREATE`, as an ELF map
//! definition holds them) by [`Map::create`], which validates the spec as Linux does and
//! returns the same errno for the same mistake. Maps are thread-safe; share them as
//! `Arc<Map>`, usually through a [`MapRegistry`].
//!
//! Every map has two faces:
//!
//! - **Program side** (`*_elem` methods), called by helpers with bytes the helper already
//!   read from checked program memory: [`Map::lookup_elem`] returns a raw pointer to the
//!   value (the current CPU's copy for per-CPU maps) that the program then reads, writes and
//!   updates atomically without locks, as in the kernel. Errors are [`MapError`]s whose
//!   [`MapError::helper_ret`] is the `-errno` the helper returns.
//! - **Rust side** ([`Map::lookup`], [`Map::update`], [`Map::delete`], [`Map::keys`], ...),
//!   with the semantics of the `bpf()` syscall commands: values are copied, per-CPU values
//!   come and go as all CPUs' values, the access flags (`BPF_F_RDONLY`, `BPF_F_WRONLY`) and
//!   [`Map::freeze`] apply. [`TypedMap`] adds typed keys and values.
//!
//! # Value memory
//!
//! Values live in one preallocated, zero-initialised slab per map (`max_entries` slots,
//! like the kernel's preallocated maps), allocated at creation and freed only when the map
//! is dropped, so a pointer returned to a program always points at valid memory while the
//! map lives (a deleted element's slot can be reused by a later insert, as in the kernel).
//! [`Map::value_regions`] gives the regions a run must be granted (`RegionKind::MapValue`,
//! read-only for `BPF_F_RDONLY_PROG` maps); they never change during the map's life.
//!
//! # CPUs
//!
//! See [`cpu`]: per-CPU maps have [`cpu::num_cpus`] slots and program-side calls take the
//! CPU index explicitly (helpers pass [`cpu::current_cpu`]).

pub mod cpu;
mod error;
mod jhash;
mod slab;
mod spec;

mod array;
mod bloom;
mod hash;
mod lpm;
mod of_maps;
mod perf;
mod prog_array;
mod queue;
mod registry;
mod ringbuf;
mod typed;

pub use array::ArrayMap;
pub use bloom::BloomFilter;
pub use error::{MapError, ENOTSUPP};
pub use hash::HashMap;
pub use lpm::LpmTrie;
pub use of_maps::MapOfMaps;
pub use perf::{PerfBuffer, PerfEvent, PerfEventArray};
pub use prog_array::{ProgArray, ProgHandle};
pub use queue::QueueStack;
pub use registry::MapRegistry;
pub use ringbuf::{RingBuf, RINGBUF_BUSY_BIT, RINGBUF_DISCARD_BIT, RINGBUF_HDR_SZ};
pub use slab::Pod;
pub use spec::{flags, perf_flags, ringbuf_flags, update, MapSpec, MapType, PAGE_SIZE};
pub use typed::TypedMap;

use oxbpf_vm::{MemoryRegion, RegionKind, RegionsMut};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

/// A `(key, value)` pair copied out of a map.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Who performs an operation: a program on a CPU, or Rust code (the `bpf()` syscall's
/// role). Per-CPU maps differ between the two (one CPU's value vs all CPUs' values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Caller {
    Prog { cpu: usize },
    User,
}

/// The operations of one map implementation. Defaults return Linux's error for an
/// operation the map type does not have.
pub(crate) trait Ops: Send + Sync {
    fn spec(&self) -> &MapSpec;

    fn unsupported(&self, op: &'static str, errno: i32) -> MapError {
        MapError::Unsupported {
            map: self.spec().name.clone(),
            map_type: self.spec().map_type,
            op,
            errno,
        }
    }

    /// Program-side lookup: pointer to the value (this CPU's for per-CPU maps).
    fn lookup_ptr(&self, _key: &[u8], _cpu: usize) -> Option<NonNull<u8>> {
        None
    }
    /// Rust-side lookup: a copy of the value (all CPUs' for per-CPU maps).
    fn lookup_copy(&self, _key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        Err(self.unsupported("lookup", libc::EINVAL))
    }
    fn update(
        &self,
        _key: &[u8],
        _value: &[u8],
        _flags: u64,
        _who: Caller,
    ) -> Result<(), MapError> {
        Err(self.unsupported("update", libc::EINVAL))
    }
    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(self.unsupported("delete", libc::EINVAL))
    }
    fn push(&self, _value: &[u8], _flags: u64) -> Result<(), MapError> {
        Err(self.unsupported("push", libc::EINVAL))
    }
    fn pop(&self, _out: &mut [u8]) -> Result<(), MapError> {
        Err(self.unsupported("pop (lookup and delete)", ENOTSUPP))
    }
    fn peek(&self, _value: &mut [u8]) -> Result<(), MapError> {
        Err(self.unsupported("peek", libc::EINVAL))
    }
    fn get_next_key(&self, _key: Option<&[u8]>, _next: &mut [u8]) -> Result<(), MapError> {
        Err(self.unsupported("get_next_key", libc::EINVAL))
    }
    /// All keys, for iteration from Rust.
    fn keys(&self) -> Result<Vec<Vec<u8>>, MapError> {
        Err(self.unsupported("key iteration", libc::EINVAL))
    }
    /// Memory regions programs access directly (start, length).
    fn regions(&self) -> Vec<(u64, u64)> {
        Vec::new()
    }
    /// Bytes allocated for this map.
    fn memory_bytes(&self) -> usize;
    /// Number of elements (for maps that count them).
    fn len(&self) -> usize;
}

/// The implementation behind a [`Map`].
#[derive(Debug)]
pub enum MapKind {
    /// `ARRAY`, `PERCPU_ARRAY`.
    Array(ArrayMap),
    /// `HASH`, `PERCPU_HASH`, `LRU_HASH`, `LRU_PERCPU_HASH`.
    Hash(HashMap),
    /// `LPM_TRIE`.
    LpmTrie(LpmTrie),
    /// `QUEUE`, `STACK`.
    QueueStack(QueueStack),
    /// `BLOOM_FILTER`.
    Bloom(BloomFilter),
    /// `RINGBUF`.
    RingBuf(RingBuf),
    /// `PERF_EVENT_ARRAY`.
    PerfEventArray(PerfEventArray),
    /// `PROG_ARRAY`.
    ProgArray(ProgArray),
    /// `ARRAY_OF_MAPS`, `HASH_OF_MAPS`.
    OfMaps(MapOfMaps),
}

static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// An eBPF map. See the [module documentation](self).
#[derive(Debug)]
pub struct Map {
    id: u32,
    frozen: AtomicBool,
    kind: MapKind,
}

impl Map {
    /// Creates a map, validating `spec` as Linux's `BPF_MAP_CREATE` does (same errno for
    /// the same invalid spec). Map types that only make sense in the kernel (sockets,
    /// devices, cgroups, `STACK_TRACE`, `USER_RINGBUF`, `ARENA`, ...) are refused with
    /// [`MapError::UnsupportedType`].
    pub fn create(spec: MapSpec) -> Result<Map, MapError> {
        if spec.map_extra != 0 && spec.map_type != MapType::BloomFilter {
            return Err(spec.err(libc::EINVAL, "map_extra is only valid for bloom filters"));
        }
        let kind = match spec.map_type {
            MapType::Array | MapType::PerCpuArray => MapKind::Array(ArrayMap::new(spec)?),
            MapType::Hash | MapType::PerCpuHash | MapType::LruHash | MapType::LruPerCpuHash => {
                MapKind::Hash(HashMap::new(spec)?)
            }
            MapType::LpmTrie => MapKind::LpmTrie(LpmTrie::new(spec)?),
            MapType::Queue | MapType::Stack => MapKind::QueueStack(QueueStack::new(spec)?),
            MapType::BloomFilter => MapKind::Bloom(BloomFilter::new(spec)?),
            MapType::RingBuf => MapKind::RingBuf(RingBuf::new(spec)?),
            MapType::PerfEventArray => MapKind::PerfEventArray(PerfEventArray::new(spec)?),
            MapType::ProgArray => MapKind::ProgArray(ProgArray::new(spec)?),
            MapType::ArrayOfMaps | MapType::HashOfMaps => MapKind::OfMaps(MapOfMaps::new(spec)?),
            other => {
                return Err(MapError::UnsupportedType {
                    name: spec.name,
                    map_type: other,
                })
            }
        };
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        log::debug!("created map {id} {:?}", ops_of(&kind).spec());
        Ok(Map {
            id,
            frozen: AtomicBool::new(false),
            kind,
        })
    }

    fn ops(&self) -> &dyn Ops {
        ops_of(&self.kind)
    }

    /// Process-unique id (like the kernel's map id), starting at 1.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The spec the map was created from.
    pub fn spec(&self) -> &MapSpec {
        self.ops().spec()
    }

    /// The map's name.
    pub fn name(&self) -> &str {
        &self.spec().name
    }

    /// The map's type.
    pub fn map_type(&self) -> MapType {
        self.spec().map_type
    }

    /// The implementation, for type-specific APIs (ring buffer consumer, perf buffers,
    /// program slots, inner maps).
    pub fn kind(&self) -> &MapKind {
        &self.kind
    }

    /// The ring buffer behind a `RINGBUF` map.
    pub fn as_ringbuf(&self) -> Option<&RingBuf> {
        match &self.kind {
            MapKind::RingBuf(r) => Some(r),
            _ => None,
        }
    }

    /// The perf event array behind a `PERF_EVENT_ARRAY` map.
    pub fn as_perf_event_array(&self) -> Option<&PerfEventArray> {
        match &self.kind {
            MapKind::PerfEventArray(p) => Some(p),
            _ => None,
        }
    }

    /// The program slots behind a `PROG_ARRAY` map.
    pub fn as_prog_array(&self) -> Option<&ProgArray> {
        match &self.kind {
            MapKind::ProgArray(p) => Some(p),
            _ => None,
        }
    }

    /// The inner-map slots behind an `ARRAY_OF_MAPS` / `HASH_OF_MAPS` map.
    pub fn as_map_of_maps(&self) -> Option<&MapOfMaps> {
        match &self.kind {
            MapKind::OfMaps(m) => Some(m),
            _ => None,
        }
    }

    /// Number of CPUs whose values a per-CPU map holds (1 for other maps).
    pub fn num_cpus(&self) -> usize {
        match &self.kind {
            MapKind::Array(a) => a.ncpus(),
            MapKind::Hash(h) => h.ncpus(),
            _ => 1,
        }
    }

    /// Bytes of one CPU's value in the Rust-side layout of per-CPU values
    /// (`round_up(value_size, 8)`, as the `bpf()` syscall), `value_size` for other maps.
    pub fn percpu_value_stride(&self) -> usize {
        if self.map_type().is_percpu() {
            spec::round8(self.spec().value_size)
        } else {
            self.spec().value_size as usize
        }
    }

    /// Bytes a Rust-side value buffer holds: `num_cpus() * round_up(value_size, 8)` for
    /// per-CPU maps, `value_size` otherwise.
    pub fn user_value_size(&self) -> usize {
        self.num_cpus() * self.percpu_value_stride()
    }

    /// Number of elements currently stored (for arrays: `max_entries`; for ring buffers:
    /// unconsumed bytes).
    pub fn len(&self) -> usize {
        self.ops().len()
    }

    /// True when [`Map::len`] is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes allocated for the map (values, keys, index, bookkeeping), as reported in
    /// docs/BENCHMARKS.md ("Memory").
    pub fn memory_bytes(&self) -> usize {
        self.ops().memory_bytes() + std::mem::size_of::<Map>()
    }

    /// The memory regions programs access directly through pointers this map hands out
    /// (`RegionKind::MapValue`; read-only when the map has `BPF_F_RDONLY_PROG`). Stable for
    /// the map's lifetime. Empty for maps whose values are only copied (queue, stack, bloom
    /// filter, perf event array, program array, maps of maps).
    pub fn value_regions(&self) -> Vec<MemoryRegion> {
        let writable = self.spec().flags & flags::BPF_F_RDONLY_PROG == 0;
        self.ops()
            .regions()
            .into_iter()
            .map(|(start, len)| MemoryRegion::new(start, len, writable, RegionKind::MapValue))
            .collect()
    }

    /// Adds [`Map::value_regions`] to a run's regions without allocating.
    ///
    /// # Safety
    /// The map must outlive every use of `regions` (keep an `Arc` to it for the run).
    pub unsafe fn add_value_regions(&self, regions: &mut RegionsMut<'_>) {
        let writable = self.spec().flags & flags::BPF_F_RDONLY_PROG == 0;
        for (start, len) in self.ops().regions() {
            // SAFETY: the slab behind each region lives as long as the map, which the caller
            // keeps alive while `regions` is used.
            unsafe {
                regions.push(MemoryRegion::new(
                    start,
                    len,
                    writable,
                    RegionKind::MapValue,
                ))
            };
        }
    }

    // ---------------------------------------------------------------------------------
    // Program side.

    fn prog_may_write(&self) -> Result<(), MapError> {
        if self.spec().flags & flags::BPF_F_RDONLY_PROG != 0 {
            return Err(MapError::PermissionDenied {
                map: self.name().to_string(),
                reason: "the map is read-only for programs (BPF_F_RDONLY_PROG)".into(),
            });
        }
        Ok(())
    }

    fn check_key(&self, key: &[u8]) -> Result<(), MapError> {
        let ks = self.spec().key_size as usize;
        if key.len() != ks {
            return Err(MapError::KeySize {
                map: self.name().to_string(),
                expected: ks,
                got: key.len(),
            });
        }
        Ok(())
    }

    /// `bpf_map_lookup_elem` from a program on `cpu`: a pointer to the value, valid while
    /// the map lives, or `None` (the helper returns NULL) when there is no such element,
    /// the key has the wrong size or the map type has no lookup for programs.
    #[inline]
    pub fn lookup_elem(&self, key: &[u8], cpu: usize) -> Option<NonNull<u8>> {
        if key.len() != self.spec().key_size as usize {
            return None;
        }
        self.ops().lookup_ptr(key, cpu)
    }

    /// `bpf_map_update_elem` from a program on `cpu`: `value` is `value_size` bytes (this
    /// CPU's value for per-CPU maps). `flags`: [`update::BPF_ANY`], [`update::BPF_NOEXIST`],
    /// [`update::BPF_EXIST`]; [`update::BPF_F_LOCK`] is refused (`EINVAL`).
    pub fn update_elem(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: usize,
    ) -> Result<(), MapError> {
        self.prog_may_write()?;
        self.check_key(key)?;
        self.ops().update(key, value, flags, Caller::Prog { cpu })
    }

    /// `bpf_map_delete_elem` from a program.
    pub fn delete_elem(&self, key: &[u8]) -> Result<(), MapError> {
        self.prog_may_write()?;
        self.check_key(key)?;
        self.ops().delete(key)
    }

    /// `bpf_map_push_elem` (queue, stack, bloom filter).
    pub fn push_elem(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        self.prog_may_write()?;
        self.ops().push(value, flags)
    }

    /// `bpf_map_pop_elem` (queue, stack): copies the element into `out` (`value_size`
    /// bytes; zeroed on `ENOENT`, as Linux).
    pub fn pop_elem(&self, out: &mut [u8]) -> Result<(), MapError> {
        self.prog_may_write()?;
        self.ops().pop(out)
    }

    /// `bpf_map_peek_elem`: for queues and stacks copies the next element into `value`;
    /// for bloom filters tests `value` (`Ok` = maybe present, `ENOENT` = absent).
    pub fn peek_elem(&self, value: &mut [u8]) -> Result<(), MapError> {
        self.ops().peek(value)
    }

    /// `BPF_MAP_GET_NEXT_KEY`: writes the key after `key` (the first key when `key` is
    /// `None` or not in the map, as Linux) into `next`; `ENOENT` after the last key.
    pub fn get_next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<(), MapError> {
        if let Some(k) = key {
            self.check_key(k)?;
        }
        self.check_key_buf(next)?;
        self.ops().get_next_key(key, next)
    }

    fn check_key_buf(&self, next: &[u8]) -> Result<(), MapError> {
        self.check_key(next)
    }

    /// For `ARRAY_OF_MAPS` / `HASH_OF_MAPS`: the inner map at `key` (what
    /// `bpf_map_lookup_elem` returns to a program).
    pub fn lookup_inner_map(&self, key: &[u8]) -> Option<Arc<Map>> {
        match &self.kind {
            MapKind::OfMaps(m) => m.get(key),
            _ => None,
        }
    }

    // ---------------------------------------------------------------------------------
    // Rust side (the bpf() syscall's semantics).

    fn user_may_read(&self) -> Result<(), MapError> {
        if self.spec().flags & flags::BPF_F_WRONLY != 0 {
            return Err(MapError::PermissionDenied {
                map: self.name().to_string(),
                reason: "the map is write-only from userspace (BPF_F_WRONLY)".into(),
            });
        }
        Ok(())
    }

    fn user_may_write(&self) -> Result<(), MapError> {
        if self.spec().flags & flags::BPF_F_RDONLY != 0 {
            return Err(MapError::PermissionDenied {
                map: self.name().to_string(),
                reason: "the map is read-only from userspace (BPF_F_RDONLY)".into(),
            });
        }
        if self.frozen.load(Ordering::Acquire) {
            return Err(MapError::PermissionDenied {
                map: self.name().to_string(),
                reason: "the map is frozen".into(),
            });
        }
        Ok(())
    }

    /// `BPF_MAP_LOOKUP_ELEM`: a copy of the value at `key` (for per-CPU maps all CPUs'
    /// values, each padded to 8 bytes: [`Map::user_value_size`] bytes), `None` when absent.
    /// Queues and stacks take an empty key and peek.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        self.user_may_read()?;
        self.check_key(key)?;
        if let MapKind::QueueStack(_) = self.kind {
            let mut v = vec![0u8; self.spec().value_size as usize];
            return match self.ops().peek(&mut v) {
                Ok(()) => Ok(Some(v)),
                Err(MapError::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            };
        }
        self.ops().lookup_copy(key)
    }

    /// `BPF_MAP_UPDATE_ELEM` (for per-CPU maps `value` holds all CPUs' values, each padded
    /// to 8 bytes). Queues, stacks and bloom filters take an empty key and push.
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.user_may_write()?;
        self.check_key(key)?;
        if flags & update::BPF_F_LOCK != 0 {
            // The syscall refuses BPF_F_LOCK before the map sees it when the value has no
            // spin lock, which is always the case here.
            return Err(MapError::invalid(
                self.name(),
                "BPF_F_LOCK needs a bpf_spin_lock in the value, which oxbpf maps do not support",
            ));
        }
        match self.kind {
            MapKind::QueueStack(_) | MapKind::Bloom(_) => self.ops().push(value, flags),
            _ => self.ops().update(key, value, flags, Caller::User),
        }
    }

    /// `BPF_MAP_DELETE_ELEM`.
    pub fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.user_may_write()?;
        self.check_key(key)?;
        self.ops().delete(key)
    }

    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM` on a queue or stack: the next element, `None` when
    /// empty.
    pub fn pop(&self) -> Result<Option<Vec<u8>>, MapError> {
        self.user_may_read()?;
        self.user_may_write()?;
        let mut v = vec![0u8; self.spec().value_size as usize];
        match self.ops().pop(&mut v) {
            Ok(()) => Ok(Some(v)),
            Err(MapError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Push from Rust (queue, stack, bloom filter): `BPF_MAP_UPDATE_ELEM` with no key.
    pub fn push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        self.user_may_write()?;
        self.ops().push(value, flags)
    }

    /// Peek from Rust (queue, stack): the next element without removing it.
    pub fn peek(&self) -> Result<Option<Vec<u8>>, MapError> {
        self.lookup(&[])
    }

    /// Bloom filter membership test from Rust: `true` = maybe present, `false` = absent.
    pub fn contains(&self, value: &[u8]) -> Result<bool, MapError> {
        self.user_may_read()?;
        let mut v = value.to_vec();
        match self.ops().peek(&mut v) {
            Ok(()) => Ok(true),
            Err(MapError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `BPF_MAP_GET_NEXT_KEY` from Rust: the key after `key` (the first one for `None`),
    /// `None` after the last.
    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, MapError> {
        self.user_may_read()?;
        let mut next = vec![0u8; self.spec().key_size as usize];
        match self.get_next_key(key, &mut next) {
            Ok(()) => Ok(Some(next)),
            Err(MapError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// All keys, in the map's iteration order (a snapshot).
    pub fn keys(&self) -> Result<Vec<Vec<u8>>, MapError> {
        self.user_may_read()?;
        self.ops().keys()
    }

    /// All `(key, value)` pairs (a snapshot; values as [`Map::lookup`] returns them).
    pub fn entries(&self) -> Result<Vec<Entry>, MapError> {
        let keys = self.keys()?;
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            // A key deleted since the snapshot is skipped.
            if let Some(v) = self.ops().lookup_copy(&k)? {
                out.push((k, v));
            }
        }
        Ok(out)
    }

    /// `BPF_MAP_FREEZE`: no more updates from Rust (programs are unaffected). `EBUSY`-like
    /// `PermissionDenied` if already frozen.
    pub fn freeze(&self) -> Result<(), MapError> {
        if self.frozen.swap(true, Ordering::AcqRel) {
            return Err(MapError::PermissionDenied {
                map: self.name().to_string(),
                reason: "the map is already frozen".into(),
            });
        }
        Ok(())
    }

    /// True after [`Map::freeze`].
    pub fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::Acquire)
    }
}

fn ops_of(kind: &MapKind) -> &dyn Ops {
    match kind {
        MapKind::Array(m) => m,
        MapKind::Hash(m) => m,
        MapKind::LpmTrie(m) => m,
        MapKind::QueueStack(m) => m,
        MapKind::Bloom(m) => m,
        MapKind::RingBuf(m) => m,
        MapKind::PerfEventArray(m) => m,
        MapKind::ProgArray(m) => m,
        MapKind::OfMaps(m) => m,
    }
}

/// Reads the `u32` array index of a 4-byte key (native endianness, as Linux).
#[inline]
pub(crate) fn key_index(key: &[u8]) -> Option<u32> {
    let b: [u8; 4] = key.get(..4)?.try_into().ok()?;
    Some(u32::from_ne_bytes(b))
}

/// A free list of slot indexes: fresh slots are handed out in ascending order (so
/// untouched pages of a large slab stay unbacked), freed ones are reused first.
#[derive(Debug, Default)]
pub(crate) struct FreeList {
    next_fresh: u32,
    total: u32,
    freed: Vec<u32>,
}

impl FreeList {
    pub(crate) fn new(total: u32) -> FreeList {
        FreeList {
            next_fresh: 0,
            total,
            freed: Vec::new(),
        }
    }

    pub(crate) fn pop(&mut self) -> Option<u32> {
        if let Some(s) = self.freed.pop() {
            return Some(s);
        }
        if self.next_fresh < self.total {
            self.next_fresh += 1;
            return Some(self.next_fresh - 1);
        }
        None
    }

    pub(crate) fn push(&mut self, slot: u32) {
        self.freed.push(slot);
    }

    pub(crate) fn bytes(&self) -> usize {
        self.freed.capacity() * 4
    }
}
