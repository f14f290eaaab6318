//! Stepping through the ops without an index: the dispatch loop's one `unsafe` helper.
//!
//! The fast loop holds a [`Cursor`] (a reference to the current op) instead of an index, so
//! that going on to the next op is one pointer addition and the dispatch that follows is
//! four instructions, short enough for the compiler to copy into every handler (one
//! indirect branch per handler for the branch predictor, no jump to a shared dispatch).
//! With an index, every step needs a mask (or a bounds check) and a multiplication by the op
//! size, and the longer dispatch stays shared (one indirect branch for all handlers plus a
//! jump back to it). Measured with callgrind on the benchmark programs (docs/BENCHMARKS.md):
//! on `loop`, 3.15 M x86 instructions per run with a masked index, 2.71 M with a cursor
//! that loaded its step from the op (2.2 fewer per executed op), and one fewer again per op
//! with the constant step below; on all programs together about 3 per op.
//!
//! The step must be a constant in each handler: loading it from the op would make every
//! op wait for a load before the next one can be found. So a handler steps with a [`Step`],
//! which [`Cursor::decode`] returns together with the op's code: the loop dispatches on that
//! code value, so in each handler the compiler knows it and [`Step::next`] adds a constant.
//!
//! Soundness rests on one check made when the table is built ([`Ops::new`]): for every op
//! at index `i`, `i + advance(op.code) < len`, where [`advance`] is the number of ops a
//! handler moves on by on its straight-line path (0 for the sentinel, which never moves). A
//! [`Cursor`] can only be made by [`Ops::at`] (a masked, hence in-bounds, index) or by
//! [`Step::next`], and a [`Step`] only by [`Cursor::decode`], which pairs a cursor with the
//! code of the op it points at. So by induction a cursor always points at an op of a
//! checked table that lives as long as the cursor's lifetime, and `next` lands inside the
//! same table.

use super::ops::{advance, Code, Op};

/// Ops checked for [`Cursor::next`]: a power-of-two number of them, each op's straight-line
/// successor in bounds.
pub(super) struct Ops {
    ops: Box<[Op]>,
}

/// A step-only reference to an op of an [`Ops`] table.
#[derive(Clone, Copy)]
pub(super) struct Cursor<'a>(&'a Op);

/// A cursor and the code of its op, to go on to the next op (see the module docs).
#[derive(Clone, Copy)]
pub(super) struct Step<'a> {
    cur: Cursor<'a>,
    code: Code,
}

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
            .all(|(i, op)| i + advance(op.code) < len);
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

    /// The op's code, and the [`Step`] to the next op.
    #[inline(always)]
    pub(super) fn decode(self) -> (Code, Step<'a>) {
        let code = self.0.code;
        (code, Step { cur: self, code })
    }
}

impl<'a> Step<'a> {
    /// The code of the op.
    #[inline(always)]
    pub(super) fn code(self) -> Code {
        self.code
    }

    /// The next op on the straight-line path: `advance(code)` ops on.
    #[inline(always)]
    pub(super) fn next(self) -> Cursor<'a> {
        let k = advance(self.code);
        // SAFETY: `self.cur` points at the op at some index `i` of a table checked by
        // `Ops::new` that lives for 'a, and `self.code` is that op's code (a cursor is only
        // made by `Ops::at` or by this function, a `Step` only by `Cursor::decode`; see the
        // module docs). The check established `i + advance(code) < len` for this very op
        // (ops are immutable once checked), so the result points at an element of the same
        // live allocation.
        Cursor(unsafe { &*(self.cur.0 as *const Op).add(k) })
    }
}
