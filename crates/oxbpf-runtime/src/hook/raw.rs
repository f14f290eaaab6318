//! The only `unsafe` of hooks: granting a run access to the context struct by address.

use super::context::ContextLayout;
use oxbpf_vm::{MemoryRegion, RegionKind, RunContext};

/// Grants `rc` the accessible runs of the context at `base` and sets `r1` to it.
///
/// The caller holds `&mut C` (the context) for as long as `rc` is used; `base` is its
/// address and `layout` is `ContextLayout::of::<C>()`.
#[inline]
pub(super) fn grant_context<C>(rc: &mut RunContext<'_>, layout: &ContextLayout, ctx: &mut C) {
    let base = ctx as *mut C as u64;
    rc.args[0] = base;
    for run in layout.runs() {
        let region = MemoryRegion::new(
            base + run.offset as u64,
            run.len as u64,
            run.writable,
            RegionKind::Context,
        );
        // SAFETY: `ContextLayout::new` checked every run lies inside `size_of::<C>()`
        // bytes, so the region is inside `*ctx`. The caller (`Hook::fire*`) holds the
        // exclusive borrow `ctx` for the whole time `rc` is used, so the memory stays valid
        // and nothing else reads or writes it meanwhile. The bytes are fields declared
        // `Pod` by the `HookContext` contract, so any value a program stores is valid and
        // no padding (uninitialised) byte is exposed.
        unsafe {
            rc.allow_raw(region);
        }
    }
}
