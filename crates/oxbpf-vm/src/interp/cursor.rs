//! Stepping through the ops without an index: the dispatch loop's one `unsafe` helper.
//!
//! The fast loop holds a [`Cursor`] (a reference to the current op) instead of an index, so
//! that going on to the next op is one pointer addition and the dispatch that follows is
//! four instructions, short enough for the compiler to copy into every handler (one
//! indirect branch per handler for the branch predictor, no jump to a shared dispatch).
//! With an index, every step needs a mask (or a bounds check) and a multiplication by the op
//! size, and the longer dispatch stays shared. Measured on the benchmark programs
//! (docs/BENCHMARKS.md): about 3.5 fewer x86 instructions per executed op.
//!
//! Soundness rests on one check made when the table is built ([`Ops::new`]): for every op
//! at index `i`, its `step` is a multiple of 16 (the op size) and `i + step / 16 < len`;
//! `step` is the number of bytes a handler moves on by on its straight-line path (set by
//! the translation from [`super::ops::advance`]; 0 for the sentinel, which never moves). A
//! [`Cursor`] can only be made by [`Ops::at`] (a masked, hence in-bounds, index) or by
//! [`Cursor::next`] from another cursor, so by induction it always points at an op of a
//! checked table that lives as long as the cursor's lifetime, and `next` lands inside the
//! same table.

use super::ops::Op;

/// Ops checked for [`Cursor::next`]: a power-of-two number of them, each op's straight-line
/// successor in bounds.
pub(super) struct Ops {
    ops: Box<[Op]>,
}

/// A step-only reference to an op of an [`Ops`] table.
#[derive(Clone, Copy)]
pub(super) struct Cursor<'a>(&'a Op);

impl Ops {
    /// Checks `ops` (see the module docs); `None` if the length is not a power of two or an
    /// op's successor would be out of bounds (a bug in the translation, never the program's
    /// fault: every program's ops pass).
    pub(super) fn new(ops: Box<[Op]>) -> Option<Ops> {
        let len = ops.len();
        if !len.is_power_of_two() {
            return None;
        }
        let ok = ops
            .iter()
            .enumerate()
            .all(|(i, op)| op.step % 16 == 0 && i + usize::from(op.step / 16) < len);
        ok.then_some(Ops { ops })
    }

    /// All ops.
    #[inline(always)]
    pub(super) fn as_slice(&self) -> &[Op] {
        &self.ops
    }

    /// The op at index `i` (taken modulo the length).
    #[inline(always)]
    pub(super) fn at(&self, i: usize) -> Cursor<'_> {
        // A power of two (checked in `new`), spelled so that the compiler knows it and drops
        // the bounds check.
        let len = 1usize << self.ops.len().trailing_zeros();
        let ops = &self.ops[..len];
        Cursor(&ops[i & (len - 1)])
    }

    /// The index of the op `c` points at (`c` must come from this table).
    #[inline(always)]
    pub(super) fn index(&self, c: Cursor<'_>) -> usize {
        (c.0 as *const Op as usize).wrapping_sub(self.ops.as_ptr() as usize)
            / std::mem::size_of::<Op>()
    }
}

impl<'a> Cursor<'a> {
    /// The op.
    #[inline(always)]
    pub(super) fn op(self) -> &'a Op {
        self.0
    }

    /// The address of the op.
    #[inline(always)]
    pub(super) fn addr(self) -> u64 {
        self.0 as *const Op as u64
    }

    /// The op `step` bytes on: the next op on the straight-line path.
    #[inline(always)]
    pub(super) fn next(self) -> Cursor<'a> {
        let step = self.0.step as usize;
        // SAFETY: `self.0` points at the op at some index `i` of a table checked by
        // `Ops::new` that lives for 'a (a cursor is only made by `Ops::at` or by this
        // function; see the module docs), and that check established that `step` is a
        // multiple of the op size with `i + step / 16 < len` for this very op (ops are
        // immutable once checked). So the result points at an element of the same live
        // allocation.
        Cursor(unsafe { &*(self.0 as *const Op).byte_add(step) })
    }
}
