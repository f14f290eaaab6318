//! `BPF_MAP_TYPE_PROG_ARRAY`: program slots for `bpf_tail_call`.
//!
//! Slots hold opaque program handles ([`ProgHandle`]): the runtime stores its executable
//! programs there and downcasts them when a tail call reads a slot. Filling a slot from
//! bytes (a program fd in Linux) is not possible; use [`ProgArray::set`]. Deleting an empty
//! slot is `ENOENT`, an index past the end `E2BIG`, update flags other than `BPF_ANY`
//! `EINVAL`, as Linux. The 33-tail-call limit belongs to the helper.

use super::error::MapError;
use super::spec::{flags, update, MapSpec};
use super::{key_index, Caller, Ops};
use parking_lot::RwLock;
use std::any::Any;
use std::sync::Arc;

/// An opaque, shareable program handle stored in a program array.
pub type ProgHandle = Arc<dyn Any + Send + Sync>;

/// A program array.
pub struct ProgArray {
    spec: MapSpec,
    slots: RwLock<Vec<Option<ProgHandle>>>,
}

impl std::fmt::Debug for ProgArray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let filled: Vec<usize> = self
            .slots
            .read()
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|_| i))
            .collect();
        f.debug_struct("ProgArray")
            .field("spec", &self.spec)
            .field("filled", &filled)
            .finish()
    }
}

/// Array-style `get_next_key` shared by the fd arrays.
pub(crate) fn array_next_key(
    spec: &MapSpec,
    key: Option<&[u8]>,
    next: &mut [u8],
) -> Result<(), MapError> {
    let max = spec.max_entries;
    let n = match key.and_then(key_index) {
        Some(i) if i < max => {
            if i == max - 1 {
                return Err(MapError::not_found(&spec.name));
            }
            i + 1
        }
        _ => 0,
    };
    next.copy_from_slice(&n.to_ne_bytes());
    Ok(())
}

impl ProgArray {
    pub(crate) fn new(spec: MapSpec) -> Result<ProgArray, MapError> {
        spec.check_flags(flags::BPF_F_NUMA_NODE | flags::BPF_F_ACCESS_MASK)?;
        spec.require(
            spec.flags & (flags::BPF_F_RDONLY_PROG | flags::BPF_F_WRONLY_PROG) == 0,
            libc::EINVAL,
            "program arrays take no program access flags",
        )?;
        spec.require(
            spec.max_entries > 0 && spec.key_size == 4 && spec.value_size == 4,
            libc::EINVAL,
            "program arrays need key_size 4, value_size 4 and max_entries > 0",
        )?;
        let slots = super::error::alloc_vec(&spec.name, spec.max_entries as usize, None)?;
        Ok(ProgArray {
            spec,
            slots: RwLock::new(slots),
        })
    }

    fn out_of_range(&self, index: u32) -> MapError {
        MapError::full(
            &self.spec.name,
            format!(
                "index {index} is past max_entries {}",
                self.spec.max_entries
            ),
        )
    }

    /// Stores `prog` in slot `index` (`E2BIG` past the end). Returns the previous handle.
    pub fn set(&self, index: u32, prog: ProgHandle) -> Result<Option<ProgHandle>, MapError> {
        let mut slots = self.slots.write();
        let slot = slots
            .get_mut(index as usize)
            .ok_or_else(|| self.out_of_range(index))?;
        Ok(slot.replace(prog))
    }

    /// The program in slot `index` (what `bpf_tail_call` jumps to), if any.
    #[inline]
    pub fn get(&self, index: u32) -> Option<ProgHandle> {
        self.slots.read().get(index as usize).cloned().flatten()
    }

    /// Empties slot `index`: `ENOENT` if it was empty, `E2BIG` past the end.
    pub fn clear(&self, index: u32) -> Result<ProgHandle, MapError> {
        let mut slots = self.slots.write();
        let slot = slots
            .get_mut(index as usize)
            .ok_or_else(|| self.out_of_range(index))?;
        slot.take()
            .ok_or_else(|| MapError::not_found(&self.spec.name))
    }
}

impl Ops for ProgArray {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn update(&self, key: &[u8], _value: &[u8], fl: u64, _who: Caller) -> Result<(), MapError> {
        if fl != update::BPF_ANY {
            return Err(MapError::invalid(
                &self.spec.name,
                format!("invalid update flags 0x{fl:x}"),
            ));
        }
        let i = key_index(key).unwrap_or(u32::MAX);
        if i >= self.spec.max_entries {
            return Err(self.out_of_range(i));
        }
        Err(MapError::invalid(
            &self.spec.name,
            "program array slots hold program handles, not bytes: use ProgArray::set",
        ))
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.clear(key_index(key).unwrap_or(u32::MAX)).map(|_| ())
    }

    fn get_next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<(), MapError> {
        array_next_key(&self.spec, key, next)
    }

    fn keys(&self) -> Result<Vec<Vec<u8>>, MapError> {
        Ok(self
            .slots
            .read()
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| (i as u32).to_ne_bytes().to_vec())
            .collect())
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.slots.read().capacity() * std::mem::size_of::<Option<ProgHandle>>()
    }

    fn len(&self) -> usize {
        self.slots.read().iter().flatten().count()
    }
}
