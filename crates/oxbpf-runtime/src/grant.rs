//! Every place the runtime grants a run access to memory (the `unsafe`
//! `RegionsMut::push` and `HelperCtx::add_region`), each with the reason the memory
//! outlives the grant.
//!
//! - Map values: a map's value slab lives as long as the map. Grants are tied to something
//!   that keeps the map alive for at least as long as the regions are used: a borrow of the
//!   [`MapTable`] for the context's lifetime ([`grant_maps`]), the duration of one call
//!   ([`with_maps_granted`]), or an `Arc` kept in the run's [`RunEnv`] ([`grant_in_run`]).
//! - Scratch memory a helper lends to a callback ([`with_scratch`]): owned by the function
//!   and removed from the regions before it is freed.

use crate::env::MapTable;
use crate::maps::Map;
use oxbpf_vm::{HelperCtx, MemoryRegion, RegionKind, RegionsMut, RunContext};
use std::sync::Arc;

/// Grants `ctx` the value regions of every map of `table` (borrowed for the context's
/// lifetime, so the maps outlive the run).
pub fn grant_maps<'a>(ctx: &mut RunContext<'a>, table: &'a MapTable) {
    for m in table.maps() {
        // SAFETY: `m` is owned by `table`, which is borrowed for 'a, the lifetime of the
        // context whose regions receive the grant.
        unsafe { m.add_value_regions(&mut ctx.regions_mut()) };
    }
}

/// Runs `f` with the value regions of `table`'s maps added to `ctx`, and removes them
/// afterwards (the grant lasts exactly as long as the borrow of `table`).
pub fn with_maps_granted<'c, R>(
    ctx: &mut RunContext<'c>,
    table: &MapTable,
    f: impl FnOnce(&mut RunContext<'c>) -> R,
) -> R {
    let mark = ctx.regions().mark();
    for m in table.maps() {
        // SAFETY: `table` (which owns `m`) is borrowed for this whole call, and every
        // region added after `mark` is released before it returns (by stamp: whatever
        // `f` removed meanwhile, none of these can stay).
        unsafe { m.add_value_regions(&mut ctx.regions_mut()) };
    }
    let out = f(ctx);
    ctx.release_regions(mark);
    out
}

/// Grants the current run the value regions of `map`, which `keep` (the run's record)
/// holds until the run ends.
pub(crate) fn grant_in_run(regions: &mut RegionsMut<'_>, keep: &mut Vec<Arc<Map>>, map: Arc<Map>) {
    // SAFETY: `keep` is the run's `RunEnv` list of maps granted during the run; the
    // `RunEnv` is the run's embedder data and outlives the run, so the map (and its slab)
    // outlives every use of these regions.
    unsafe { map.add_value_regions(regions) };
    keep.push(map);
}

/// A read-only buffer lent to a program for the duration of [`with_scratch`].
pub struct Scratch {
    ptr: *mut u8,
    len: usize,
}

impl Scratch {
    /// Address the program sees.
    pub fn addr(&self) -> u64 {
        self.ptr as u64
    }

    /// Overwrites the start of the buffer with `data` (at most its length).
    pub fn write(&self, data: &[u8]) {
        let n = data.len().min(self.len);
        // SAFETY: `ptr` points at `len` bytes owned by `with_scratch` for the lifetime of
        // this value; the program only reads them (read-only region) and never runs while
        // this copy runs (the helper calls back into the program after writing).
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr, n) };
    }
}

/// Runs `f` with `len` zeroed bytes granted read-only to the run (kind `ReadOnly`), then
/// removes the grant and frees the bytes.
pub fn with_scratch<R>(
    ctx: &mut HelperCtx<'_>,
    len: usize,
    f: impl FnOnce(&mut HelperCtx<'_>, &Scratch) -> R,
) -> R {
    let mut buf = vec![0u8; len.max(1)].into_boxed_slice();
    let scratch = Scratch {
        ptr: buf.as_mut_ptr(),
        len: buf.len(),
    };
    let region = MemoryRegion::new(
        scratch.addr(),
        buf.len() as u64,
        false,
        RegionKind::ReadOnly,
    );
    // SAFETY: `buf` lives until the end of this function, and the region is removed below
    // before `buf` is dropped.
    unsafe { ctx.add_region(region) };
    let out = f(ctx, &scratch);
    ctx.remove_region(region.start, RegionKind::ReadOnly);
    drop(buf);
    out
}
