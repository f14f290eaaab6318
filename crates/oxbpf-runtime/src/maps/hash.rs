//! `BPF_MAP_TYPE_HASH`, `PERCPU_HASH`, `LRU_HASH` and `LRU_PERCPU_HASH`.
//!
//! # Layout
//!
//! - A value slab of `slots` elements of `round_up(value_size, 8)` bytes (times the CPU
//!   count for per-CPU maps); `slots` is `max_entries`, plus one spare per CPU for plain
//!   hash maps (as the kernel's preallocated hash), which lets an update of an existing key
//!   write the new value into a fresh slot and switch the key to it atomically, so a
//!   program reading through an earlier lookup pointer never sees a half-written value.
//! - A key slab of `slots` keys of `round_up(key_size, 8)` bytes (not visible to programs).
//! - A one-byte state per slot (in use, recently referenced).
//! - An index: 16 shards, each a `RwLock`ed `hashbrown::HashTable<u32>` of slot numbers,
//!   keyed by `jhash` of the key with a random per-map seed (`0` with `BPF_F_ZERO_SEED`).
//!
//! Lookups take one shard's read lock; updates and deletes take one shard's write lock.
//! The element count is global and bounds inserts at `max_entries` (`E2BIG` when full).
//!
//! # LRU
//!
//! LRU maps never fail an insert for lack of room: when all `max_entries` slots are in use
//! the least recently used element is evicted. "Recently used" is tracked as the kernel
//! approximates it, with a reference bit set by program lookups and updates; eviction is a
//! CLOCK sweep over the slots (an element whose bit is set gets a second chance). The
//! kernel's per-CPU LRU lists (`BPF_F_NO_COMMON_LRU`) are accepted and behave as one
//! common list.

use super::error::{MapError, ENOTSUPP};
use super::jhash::{jhash, jhash2};
use super::slab::Slab;
use super::spec::{flags, round8, update, MapSpec, MapType};
use super::{array::check_len, cpu, Caller, FreeList, Ops};
use hashbrown::HashTable;
use parking_lot::{Mutex, RwLock};
use std::hash::{BuildHasher, Hasher};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

const SHARDS: usize = 16;
const IN_USE: u8 = 1;
const REFERENCED: u8 = 2;
/// Keys up to this size are rehashed from a stack buffer.
const STACK_KEY: usize = 512;
/// Linux's `KMALLOC_MAX_SIZE` on x86-64 (4 MiB pages << 10 order): bounds key + value.
const KMALLOC_MAX_SIZE: u64 = 1 << 22;

#[repr(align(64))]
#[derive(Debug, Default)]
struct Shard {
    table: RwLock<HashTable<u32>>,
}

/// A hash map (plain, per-CPU, LRU or LRU per-CPU).
pub struct HashMap {
    spec: MapSpec,
    percpu: bool,
    lru: bool,
    ncpus: usize,
    vstride: usize,
    elem: usize,
    kstride: usize,
    slots: usize,
    values: Slab,
    keys: Slab,
    state: Box<[AtomicU8]>,
    shards: Box<[Shard]>,
    seed: u32,
    count: AtomicUsize,
    free: Mutex<FreeList>,
    clock: Mutex<usize>,
}

impl std::fmt::Debug for HashMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashMap")
            .field("spec", &self.spec)
            .field("len", &self.count.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn random_seed() -> u32 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x6f78_6270_665f_6d61);
    h.finish() as u32
}

impl HashMap {
    pub(crate) fn new(spec: MapSpec) -> Result<HashMap, MapError> {
        use flags::*;
        let percpu = matches!(spec.map_type, MapType::PerCpuHash | MapType::LruPerCpuHash);
        let lru = matches!(spec.map_type, MapType::LruHash | MapType::LruPerCpuHash);
        spec.check_flags(
            BPF_F_NO_PREALLOC
                | BPF_F_NO_COMMON_LRU
                | BPF_F_NUMA_NODE
                | BPF_F_ACCESS_MASK
                | BPF_F_ZERO_SEED,
        )?;
        spec.require(
            lru || spec.flags & BPF_F_NO_COMMON_LRU == 0,
            libc::EINVAL,
            "BPF_F_NO_COMMON_LRU is only valid for LRU hash maps",
        )?;
        spec.require(
            !(lru && spec.flags & BPF_F_NO_PREALLOC != 0),
            ENOTSUPP,
            "LRU hash maps must be preallocated (no BPF_F_NO_PREALLOC)",
        )?;
        spec.require(
            !(spec.flags & BPF_F_NUMA_NODE != 0
                && (percpu || spec.flags & BPF_F_NO_COMMON_LRU != 0)),
            libc::EINVAL,
            "per-CPU maps take no NUMA node",
        )?;
        spec.require(
            spec.max_entries > 0 && spec.key_size > 0 && spec.value_size > 0,
            libc::EINVAL,
            "max_entries, key_size and value_size must be > 0",
        )?;
        spec.require(
            (spec.key_size as u64 + spec.value_size as u64) < KMALLOC_MAX_SIZE - 64,
            libc::E2BIG,
            "key_size + value_size too large",
        )?;
        let vstride = round8(spec.value_size);
        spec.require(
            !(percpu && vstride > 32 << 10),
            libc::E2BIG,
            "per-CPU value_size above 32 KiB",
        )?;
        let ncpus = if percpu { cpu::num_cpus() } else { 1 };
        let elem = vstride * ncpus;
        let kstride = round8(spec.key_size);
        let spare = if percpu || lru { 0 } else { cpu::num_cpus() };
        let slots = spec.max_entries as usize + spare;
        let too_big = || spec.err(libc::E2BIG, "map size overflows");
        let vbytes = slots.checked_mul(elem).ok_or_else(too_big)?;
        let kbytes = slots.checked_mul(kstride).ok_or_else(too_big)?;
        let slots_u32 = u32::try_from(slots).map_err(|_| too_big())?;
        let values = Slab::new(&spec.name, vbytes)?;
        let keys = Slab::new(&spec.name, kbytes)?;
        let mut state = Vec::new();
        state
            .try_reserve_exact(slots)
            .map_err(|_| MapError::NoMemory {
                map: spec.name.clone(),
                bytes: slots as u64,
            })?;
        state.extend((0..slots).map(|_| AtomicU8::new(0)));
        let shards = (0..SHARDS).map(|_| Shard::default()).collect();
        let seed = if spec.flags & BPF_F_ZERO_SEED != 0 {
            0
        } else {
            random_seed()
        };
        Ok(HashMap {
            spec,
            percpu,
            lru,
            ncpus,
            vstride,
            elem,
            kstride,
            slots,
            values,
            keys,
            state: state.into_boxed_slice(),
            shards,
            seed,
            count: AtomicUsize::new(0),
            free: Mutex::new(FreeList::new(slots_u32)),
            clock: Mutex::new(0),
        })
    }

    /// CPUs per element (1 unless per-CPU).
    pub fn ncpus(&self) -> usize {
        self.ncpus
    }

    #[inline]
    fn hash(&self, key: &[u8]) -> u64 {
        let h = if key.len().is_multiple_of(4) {
            jhash2(key, self.seed)
        } else {
            jhash(key, self.seed)
        } as u64;
        // Spread the 32-bit hash over 64 bits: hashbrown takes bucket bits from the bottom
        // and tag bits from the top, the shard comes from bits 32..36.
        (h | (h << 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    #[inline]
    fn shard(&self, hash: u64) -> &Shard {
        &self.shards[(hash >> 32) as usize % SHARDS]
    }

    #[inline]
    fn key_matches(&self, slot: u32, key: &[u8]) -> bool {
        self.keys.eq(slot as usize * self.kstride, key)
    }

    fn rehash_slot(&self, slot: u32) -> u64 {
        let ks = self.spec.key_size as usize;
        let off = slot as usize * self.kstride;
        if ks <= STACK_KEY {
            let mut buf = [0u8; STACK_KEY];
            self.keys.read(off, &mut buf[..ks]);
            self.hash(&buf[..ks])
        } else {
            let mut buf = vec![0u8; ks];
            self.keys.read(off, &mut buf);
            self.hash(&buf)
        }
    }

    fn find(&self, table: &HashTable<u32>, hash: u64, key: &[u8]) -> Option<u32> {
        table.find(hash, |&s| self.key_matches(s, key)).copied()
    }

    fn value_off(&self, slot: u32, cpu: usize) -> usize {
        slot as usize * self.elem
            + if self.percpu {
                (cpu % self.ncpus) * self.vstride
            } else {
                0
            }
    }

    /// Writes a brand-new element's key and value into `slot` (not yet visible).
    fn fill_slot(&self, slot: u32, key: &[u8], value: &[u8], who: Caller) {
        self.keys.write(slot as usize * self.kstride, key);
        let base = slot as usize * self.elem;
        match who {
            Caller::Prog { cpu } if self.percpu => {
                self.values.zero(base, self.elem);
                self.values.write(self.value_off(slot, cpu), value);
            }
            _ => self.write_value(slot, value, who, true),
        }
    }

    /// Writes `value` into an element: one CPU's part, all CPUs' parts or the whole value.
    fn write_value(&self, slot: u32, value: &[u8], who: Caller, zero_pad: bool) {
        let base = slot as usize * self.elem;
        let vs = self.spec.value_size as usize;
        match who {
            Caller::Prog { cpu } => self.values.write(self.value_off(slot, cpu), value),
            // All CPUs' values, padding included, as Linux copies them.
            Caller::User if self.percpu => self.values.write(base, value),
            Caller::User => {
                self.values.write(base, value);
                if zero_pad && self.vstride > vs {
                    self.values.zero(base + vs, self.vstride - vs);
                }
            }
        }
    }

    fn check_flags(&self, fl: u64) -> Result<u64, MapError> {
        let name = &self.spec.name;
        let limit = if self.lru {
            fl
        } else {
            fl & !update::BPF_F_LOCK
        };
        if limit > update::BPF_EXIST {
            return Err(MapError::invalid(
                name,
                format!("invalid update flags 0x{fl:x}"),
            ));
        }
        if fl & update::BPF_F_LOCK != 0 {
            return Err(MapError::invalid(
                name,
                "BPF_F_LOCK needs a bpf_spin_lock in the value, which oxbpf maps do not support",
            ));
        }
        Ok(fl)
    }

    fn pop_free(&self) -> Option<u32> {
        self.free.lock().pop()
    }

    fn release(&self, slot: u32) {
        self.state[slot as usize].store(0, Ordering::Release);
        self.free.lock().push(slot);
    }

    fn update_plain(&self, key: &[u8], value: &[u8], fl: u64, who: Caller) -> Result<(), MapError> {
        let name = &self.spec.name;
        let hash = self.hash(key);
        let shard = self.shard(hash);
        loop {
            let mut table = shard.table.write();
            if let Some(old) = self.find(&table, hash, key) {
                if fl == update::BPF_NOEXIST {
                    return Err(MapError::exists(name));
                }
                if self.percpu {
                    self.write_value(old, value, who, false);
                    return Ok(());
                }
                // Write into a spare slot and switch the key to it; the old slot's value
                // stays intact for readers holding a pointer until the slot is reused.
                match self.pop_free() {
                    Some(new) => {
                        self.fill_slot(new, key, value, who);
                        self.state[new as usize].store(IN_USE, Ordering::Release);
                        if let Ok(mut e) = table.find_entry(hash, |&s| s == old) {
                            *e.get_mut() = new;
                        }
                        drop(table);
                        self.release(old);
                    }
                    None => self.write_value(old, value, who, true),
                }
                return Ok(());
            }
            if fl == update::BPF_EXIST {
                return Err(MapError::not_found(name));
            }
            let max = self.spec.max_entries as usize;
            if self
                .count
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                    (c < max).then_some(c + 1)
                })
                .is_err()
            {
                return Err(MapError::full(
                    name,
                    format!("the map holds max_entries ({max}) elements"),
                ));
            }
            let Some(slot) = self.pop_free() else {
                // Every spare slot is held for an instant by concurrent replacements
                // (possible only with more threads than spares); they give one back as
                // soon as they finish. Retry without holding our shard.
                self.count.fetch_sub(1, Ordering::AcqRel);
                drop(table);
                std::thread::yield_now();
                continue;
            };
            self.fill_slot(slot, key, value, who);
            self.state[slot as usize].store(IN_USE, Ordering::Release);
            table.insert_unique(hash, slot, |&s| self.rehash_slot(s));
            return Ok(());
        }
    }

    /// A slot for a new LRU element: a free one, else the CLOCK victim, evicted.
    fn lru_slot(&self) -> Result<u32, MapError> {
        if let Some(s) = self.pop_free() {
            return Ok(s);
        }
        let mut hand = self.clock.lock();
        // Two sweeps clear every reference bit, so a third finds a victim unless every
        // slot is in flight (being inserted by other threads right now).
        for _ in 0..3 * self.slots {
            let slot = *hand as u32;
            *hand = (*hand + 1) % self.slots;
            let st = &self.state[slot as usize];
            let s = st.load(Ordering::Acquire);
            if s & IN_USE == 0 {
                continue;
            }
            if s & REFERENCED != 0 {
                st.fetch_and(!REFERENCED, Ordering::AcqRel);
                continue;
            }
            let hash = self.rehash_slot(slot);
            let mut table = self.shard(hash).table.write();
            if let Ok(e) = table.find_entry(hash, |&x| x == slot) {
                e.remove();
                self.count.fetch_sub(1, Ordering::AcqRel);
                st.store(0, Ordering::Release);
                return Ok(slot);
            }
        }
        drop(hand);
        // Freed by a concurrent delete while sweeping?
        self.pop_free().ok_or_else(|| {
            MapError::full(
                &self.spec.name,
                "every LRU element is being inserted concurrently",
            )
        })
    }

    fn update_lru(&self, key: &[u8], value: &[u8], fl: u64, who: Caller) -> Result<(), MapError> {
        let name = &self.spec.name;
        let hash = self.hash(key);
        let shard = self.shard(hash);
        loop {
            {
                let table = shard.table.write();
                if let Some(old) = self.find(&table, hash, key) {
                    if fl == update::BPF_NOEXIST {
                        return Err(MapError::exists(name));
                    }
                    self.write_value(old, value, who, !self.percpu);
                    self.state[old as usize].fetch_or(REFERENCED, Ordering::AcqRel);
                    return Ok(());
                }
                if fl == update::BPF_EXIST {
                    return Err(MapError::not_found(name));
                }
            }
            let slot = self.lru_slot()?;
            self.fill_slot(slot, key, value, who);
            let mut table = shard.table.write();
            if self.find(&table, hash, key).is_some() {
                // Inserted by someone else meanwhile: give the slot back and start over.
                drop(table);
                self.release(slot);
                continue;
            }
            self.state[slot as usize].store(IN_USE | REFERENCED, Ordering::Release);
            self.count.fetch_add(1, Ordering::AcqRel);
            table.insert_unique(hash, slot, |&s| self.rehash_slot(s));
            return Ok(());
        }
    }

    fn table_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.table.read().allocation_size())
            .sum::<usize>()
            + self.shards.len() * std::mem::size_of::<Shard>()
    }
}

impl Ops for HashMap {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    #[inline]
    fn lookup_ptr(&self, key: &[u8], cpu: usize) -> Option<NonNull<u8>> {
        let hash = self.hash(key);
        let table = self.shard(hash).table.read();
        let slot = self.find(&table, hash, key)?;
        if self.lru {
            let st = &self.state[slot as usize];
            if st.load(Ordering::Relaxed) & REFERENCED == 0 {
                st.fetch_or(REFERENCED, Ordering::Relaxed);
            }
        }
        Some(self.values.ptr_at(self.value_off(slot, cpu)))
    }

    fn lookup_copy(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        let hash = self.hash(key);
        let table = self.shard(hash).table.read();
        let Some(slot) = self.find(&table, hash, key) else {
            return Ok(None);
        };
        let len = if self.percpu {
            self.elem
        } else {
            self.spec.value_size as usize
        };
        let mut v = vec![0u8; len];
        self.values.read(slot as usize * self.elem, &mut v);
        Ok(Some(v))
    }

    fn update(&self, key: &[u8], value: &[u8], fl: u64, who: Caller) -> Result<(), MapError> {
        let fl = self.check_flags(fl)?;
        let expected = match who {
            Caller::User if self.percpu => self.elem,
            _ => self.spec.value_size as usize,
        };
        check_len(&self.spec.name, value, expected)?;
        if self.lru {
            self.update_lru(key, value, fl, who)
        } else {
            self.update_plain(key, value, fl, who)
        }
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        let hash = self.hash(key);
        let mut table = self.shard(hash).table.write();
        match table.find_entry(hash, |&s| self.key_matches(s, key)) {
            Ok(e) => {
                let (slot, _) = e.remove();
                self.count.fetch_sub(1, Ordering::AcqRel);
                drop(table);
                self.release(slot);
                Ok(())
            }
            Err(_) => Err(MapError::not_found(&self.spec.name)),
        }
    }

    fn get_next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<(), MapError> {
        // Iteration order is slot order. An unknown key restarts from the first element,
        // as Linux does.
        let start = key
            .and_then(|k| {
                let hash = self.hash(k);
                let table = self.shard(hash).table.read();
                self.find(&table, hash, k)
            })
            .map_or(0, |s| s as usize + 1);
        for slot in start..self.slots {
            if self.state[slot].load(Ordering::Acquire) & IN_USE == 0 {
                continue;
            }
            self.keys.read(slot * self.kstride, next);
            // Confirm the slot still holds this key (it may be changing under us).
            let hash = self.hash(next);
            let table = self.shard(hash).table.read();
            if self.find(&table, hash, next) == Some(slot as u32) {
                return Ok(());
            }
        }
        Err(MapError::not_found(&self.spec.name))
    }

    fn keys(&self) -> Result<Vec<Vec<u8>>, MapError> {
        let ks = self.spec.key_size as usize;
        let mut out = Vec::with_capacity(self.count.load(Ordering::Relaxed));
        for shard in self.shards.iter() {
            let table = shard.table.read();
            for &slot in table.iter() {
                let mut k = vec![0u8; ks];
                self.keys.read(slot as usize * self.kstride, &mut k);
                out.push(k);
            }
        }
        Ok(out)
    }

    fn regions(&self) -> Vec<(u64, u64)> {
        vec![(self.values.addr(), self.values.len() as u64)]
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.values.len()
            + self.keys.len()
            + self.state.len()
            + self.table_bytes()
            + self.free.lock().bytes()
    }

    fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}
