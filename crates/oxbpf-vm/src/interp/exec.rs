//! The dispatch loop.
//!
//! One `match` on the op code per executed op; each arm loads only the operands its code
//! uses (see [`Op`](super::ops::Op)) and ends by stepping to the next op (by the number of
//! instructions the op stands for, a constant per arm) or by a control transfer. The fast
//! loop holds a cursor to the current op (see `cursor`), so stepping is one addition and the
//! dispatch after it (load the code, load the jump-table entry, jump) is short enough for
//! the compiler to copy it into the handlers. Registers are indexed by a 0..=10 enum, so the
//! register file needs no bounds checks either.
//!
//! # Counting and the budget
//!
//! The fast loop (`CHECKED = false`) counts instructions per straight-line segment: a
//! segment starts at the target of a taken control transfer and runs through not-taken
//! branches and superinstructions. It keeps `b16`, 16 times the instructions executed before
//! the segment minus the address of the segment's first op (wrapping), so that
//! `(b16 + address of op) / 16` instructions ran before any op of the segment: ops are 16
//! bytes, and a fused op sits at the index of its first instruction and moves on by the
//! number it stands for, so addresses keep counting instructions. Stepping to the next op
//! costs nothing extra; a taken transfer adds the length of the segment it leaves.
//!
//! With a budget (`BUDGET = true`), on entering a segment at op `to` the loop checks that
//! the budget covers `seg_len16[to] / 16`, the most instructions the segment can execute
//! before the next transfer; if not, it returns [`Flow::Checked`] and the run continues in
//! the checked loop (`CHECKED = true`), which counts and checks before every instruction,
//! and runs the plain op of each superinstruction, so that [`VmError::BudgetExhausted`]
//! names the exact instruction. A run without a budget uses neither.

use super::ops::{advance, Code};
use super::{CallOut, Cx, Interpreter};
use crate::error::VmError;
use std::ops::{BitAnd, BitOr, BitXor};

/// How a loop ended (small, so that it comes back in registers: what does not fit waits
/// in the [`Cx`]).
pub(super) enum Flow {
    /// The function returned this `r0`.
    Value(u64),
    /// A legacy packet load failed: the run (or the callback) ends with `r0 = 0`.
    Abort,
    /// The budget may not cover the segment starting at this op: continue in the checked
    /// loop from there (`Cx::count` is exact).
    Checked(usize),
    /// A helper requested a tail call, now in `Cx::tail` with the run's instruction count
    /// before the target: the function returns what the target returns, run once this
    /// loop has returned (so that nested tail calls do not nest loop frames).
    TailCall,
    /// The run failed with the error in `Cx::error`.
    Error,
}

#[inline(always)]
fn div64(a: u64, b: u64) -> u64 {
    a.checked_div(b).unwrap_or(0)
}
#[inline(always)]
fn sdiv64(a: u64, b: u64) -> u64 {
    if b == 0 {
        0
    } else {
        (a as i64).wrapping_div(b as i64) as u64
    }
}
#[inline(always)]
fn mod64(a: u64, b: u64) -> u64 {
    a.checked_rem(b).unwrap_or(a)
}
#[inline(always)]
fn smod64(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        (a as i64).wrapping_rem(b as i64) as u64
    }
}
#[inline(always)]
fn div32(a: u64, b: u64) -> u64 {
    (a as u32).checked_div(b as u32).unwrap_or(0) as u64
}
#[inline(always)]
fn sdiv32(a: u64, b: u64) -> u64 {
    if b as u32 == 0 {
        0
    } else {
        (a as i32).wrapping_div(b as i32) as u32 as u64
    }
}
#[inline(always)]
fn mod32(a: u64, b: u64) -> u64 {
    (a as u32).checked_rem(b as u32).unwrap_or(a as u32) as u64
}
#[inline(always)]
fn smod32(a: u64, b: u64) -> u64 {
    if b as u32 == 0 {
        a as u32 as u64
    } else {
        (a as i32).wrapping_rem(b as i32) as u32 as u64
    }
}

impl Interpreter {
    /// Runs the function whose frame is current from op `start` until it returns (fast
    /// loop: or until the budget gets tight). See the module docs.
    #[inline(never)]
    pub(super) fn exec<const CHECKED: bool, const BUDGET: bool>(
        &self,
        cx: &mut Cx<'_>,
        r: &mut [u64; 11],
        start: usize,
        base: usize,
    ) -> Flow {
        match self.run_ops::<CHECKED, BUDGET>(cx, r, start, base) {
            Ok(flow) => flow,
            Err(e) => {
                cx.error = Some(e);
                Flow::Error
            }
        }
    }

    #[inline(always)]
    fn run_ops<const CHECKED: bool, const BUDGET: bool>(
        &self,
        cx: &mut Cx<'_>,
        r: &mut [u64; 11],
        start: usize,
        base_depth: usize,
    ) -> Result<Flow, VmError> {
        let ops = &self.ops;
        // `seg_len16` has as many entries as there are ops, a power of two: spelled as a
        // shift so that the compiler knows it, and `to & mask` needs no bounds check.
        let len = 1usize << ops.as_slice().len().trailing_zeros();
        let seg_len16 = &self.seg_len16[..len];
        let mask = len - 1;
        let limit = cx.limit;
        let limit16 = limit.saturating_mul(16);
        // The checked loop keeps the index of the current op and the plain count; the fast
        // loop only a cursor and `b16` (see the module docs), and works the index out from
        // the cursor when it needs it.
        let mut pc = start;
        let mut cur = ops.at(start);
        let mut base = if CHECKED {
            cx.count
        } else {
            cx.count.wrapping_mul(16).wrapping_sub(cur.addr())
        };

        // The index of the current op.
        macro_rules! pc {
            () => {
                if CHECKED {
                    pc
                } else {
                    ops.index(cur)
                }
            };
        }
        // Instructions executed, through the `$c`-th instruction of the current op.
        macro_rules! executed {
            ($c:expr) => {
                if CHECKED {
                    base
                } else {
                    base.wrapping_add(cur.addr() + 16 * $c) >> 4
                }
            };
        }
        // Sets the count of executed instructions, through the `$c`-th instruction of the
        // current op, to `$n`.
        macro_rules! set_executed {
            ($n:expr, $c:expr) => {{
                let n: u64 = $n;
                base = if CHECKED {
                    n
                } else {
                    n.wrapping_mul(16).wrapping_sub(cur.addr() + 16 * $c)
                };
            }};
        }
        // Enters the segment at `$next` (index `$ti`), `$t` being 16 times the
        // instructions executed so far.
        macro_rules! enter {
            ($next:expr, $ti:expr, $t:expr) => {{
                let next = $next;
                let t: u64 = $t;
                if BUDGET {
                    let ti: usize = $ti;
                    if t.wrapping_add(seg_len16[ti & mask] as u64) > limit16 {
                        cx.count = t >> 4;
                        return Ok(Flow::Checked(ti & mask));
                    }
                }
                base = t.wrapping_sub(next.addr());
                cur = next;
                continue;
            }};
        }
        // A taken control transfer to op `$to` after the `$c`-th instruction of the op.
        macro_rules! go {
            ($to:expr, $c:expr) => {{
                let to: usize = $to;
                if CHECKED {
                    pc = to;
                    cur = ops.at(to);
                    continue;
                }
                let t = base.wrapping_add(cur.addr() + 16 * $c);
                enter!(ops.at(to), to, t)
            }};
        }
        // Ends the function.
        macro_rules! ret {
            ($v:expr) => {{
                cx.count = executed!(1);
                return Ok($v);
            }};
        }
        // A memory access of the `$j`-th (from 0) instruction of the op.
        macro_rules! fault {
            ($e:expr, $j:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(f) => return Err(self.mem_fault(pc!() + $j, f)),
                }
            };
        }
        // Returns from the current function: ends the loop in the function it started
        // with, else goes back to the caller (`r6`..`r9` and `r10` restored) after the call.
        macro_rules! leave {
            ($c:expr) => {{
                if cx.depth == base_depth {
                    cx.count = executed!($c);
                    return Ok(Flow::Value(r[0]));
                }
                cx.depth -= 1;
                let Some(f) = cx.frames.get(cx.depth).copied() else {
                    return Err(self.lost(pc!()));
                };
                r[6..10].copy_from_slice(&f.saved);
                r[10] = cx.mem.leave_frame();
                go!(f.ret, $c)
            }};
        }
        // After a helper call: its result, the instructions its callbacks ran, and a
        // requested tail call, which replaces the current function (as if it returned the
        // target's `r0`; run after the loop when the function is the one the loop started
        // with). Continues at the next instruction if the helper ran callbacks.
        macro_rules! after_helper {
            ($out:expr, $executed:expr) => {{
                let out: CallOut = $out;
                r[0] = out.r0;
                if let Some(tc) = out.tail {
                    let done = out.end.unwrap_or($executed);
                    if cx.depth == base_depth {
                        cx.tail = Some((tc, done));
                        return Ok(Flow::TailCall);
                    }
                    let (r0, total) = self.tail_call(tc, cx, done)?;
                    r[0] = r0;
                    set_executed!(total, 1);
                    leave!(1);
                }
                if let Some(end) = out.end {
                    set_executed!(end, 1);
                    go!(pc!() + 1, 1);
                }
            }};
        }
        // A bpf-to-bpf call of the function at op `$to`: saves `r6`..`r9` and where to
        // return, and enters a new zeroed frame (`r10` moves down).
        macro_rules! call_local {
            ($to:expr) => {{
                let at = pc!();
                let Some(f) = cx.frames.get_mut(cx.depth) else {
                    return Err(self.depth_exceeded(at));
                };
                let Some(fp) = cx.mem.enter_frame() else {
                    return Err(self.depth_exceeded(at));
                };
                f.ret = at + 1;
                f.saved = [r[6], r[7], r[8], r[9]];
                cx.depth += 1;
                r[10] = fp;
                go!($to, 1);
            }};
        }

        loop {
            // The code value the loop dispatches on is the one `step` carries, so in each
            // handler `step.next()` adds a constant.
            let (mut code, step) = cur.decode();
            let mut op = cur.op();
            if CHECKED {
                if code.is_fused() {
                    op = self.plain_op(pc);
                    code = op.code;
                }
                if base == limit {
                    cx.count = base;
                    return Err(self.out_of_budget(pc, limit));
                }
                base += 1;
            }
            // The next op, `$k` instructions on (the fast loop steps by `advance`, which is the
            // same).
            macro_rules! next {
                ($k:expr) => {{
                    if CHECKED {
                        pc += $k;
                        cur = ops.at(pc);
                    } else {
                        debug_assert_eq!(advance(step.code()), $k);
                        cur = step.next();
                    }
                    continue;
                }};
            }
            macro_rules! d {
                () => {
                    op.dst as usize
                };
            }
            macro_rules! s {
                () => {
                    op.src as usize
                };
            }
            macro_rules! t {
                () => {
                    op.r3 as usize
                };
            }
            // `dst = $e`, one instruction.
            macro_rules! set {
                ($e:expr) => {{
                    r[d!()] = $e;
                    next!(1)
                }};
            }
            // `dst = $e`, a fused op of two instructions.
            macro_rules! set2 {
                ($e:expr) => {{
                    r[d!()] = $e;
                    next!(2)
                }};
            }
            macro_rules! addr {
                ($r:expr) => {
                    r[$r].wrapping_add(op.off())
                };
            }
            macro_rules! jcc {
                ($cond:expr) => {{
                    if $cond {
                        go!(op.hi(), 1);
                    }
                    next!(1)
                }};
            }
            // `if cond goto A; goto B`, A and B in `b`.
            macro_rules! jcc2r {
                ($cond:expr) => {{
                    if $cond {
                        go!(op.b as u32 as usize, 1);
                    }
                    go!(op.hi(), 2)
                }};
            }
            // After `$c` instructions, on to the next op on the straight-line path, which
            // `step` reaches in more (a fused `if cond goto +1; goto B` whose condition held
            // went over the `goto`): a new segment.
            macro_rules! skip {
                ($c:expr) => {{
                    if CHECKED {
                        // (Fused ops do not run in the checked loop.)
                        pc += $c;
                        cur = ops.at(pc);
                        continue;
                    }
                    let next = step.next();
                    let t = base.wrapping_add(cur.addr() + 16 * $c);
                    enter!(next, ops.index(next), t)
                }};
            }
            // `if cond goto +1; goto B`: the op after the `goto` is the next op on the
            // straight-line path (`step` covers both instructions), reached after one.
            macro_rules! jcc2i {
                ($cond:expr) => {{
                    if $cond {
                        skip!(1);
                    }
                    go!(op.hi(), 2)
                }};
            }
            // `dst += off` then a test of `dst` against the immediate, as `$j` (`jcc!` after
            // two instructions) or `$ja` (`jcc2i!` after two and three).
            macro_rules! add_jcc {
                ($cmp:tt, false) => {{
                    let v = r[d!()].wrapping_add(op.off());
                    r[d!()] = v;
                    if v $cmp op.imm64() {
                        go!(op.hi(), 2);
                    }
                    next!(2)
                }};
                ($cmp:tt, true) => {{
                    let v = r[d!()].wrapping_add(op.off());
                    r[d!()] = v;
                    if v $cmp op.imm64() {
                        skip!(2);
                    }
                    go!(op.hi(), 3)
                }};
            }
            // `r3 = b; dst = dst op b`.
            macro_rules! t_op {
                ($f:ident) => {{
                    let k = op.b;
                    r[t!()] = k;
                    r[d!()] = r[d!()].$f(k);
                    next!(2)
                }};
            }
            // A load of `$n` bytes at `src + off`, extended as `$t` (`u64`: zero-extended).
            macro_rules! ldx {
                ($n:literal, $rf:literal, $t:ty) => {{
                    let v = fault!(cx.mem.load::<$n, $rf>(addr!(s!())), 0);
                    set!(v as $t as i64 as u64)
                }};
            }
            // A store of the low `$n` bytes of `$v` at `dst + off`.
            macro_rules! stx {
                ($n:literal, $rf:literal, $v:expr) => {{
                    fault!(cx.mem.store::<$n, $rf>(addr!(d!()), $v), 0);
                    next!(1)
                }};
            }
            macro_rules! ldx_idx {
                ($n:literal, $k:literal, $rf:literal) => {{
                    let a = r[s!()].wrapping_add(r[t!()]).wrapping_add(op.off());
                    r[d!()] = fault!(cx.mem.load::<$n, $rf>(a), $k - 1);
                    next!($k)
                }};
            }

            match code {
                // ---- 64-bit ALU
                Code::Add64R => set!(r[d!()].wrapping_add(r[s!()])),
                Code::Add64I => set!(r[d!()].wrapping_add(op.b)),
                Code::Sub64R => set!(r[d!()].wrapping_sub(r[s!()])),
                Code::Sub64I => set!(r[d!()].wrapping_sub(op.b)),
                Code::Mul64R => set!(r[d!()].wrapping_mul(r[s!()])),
                Code::Mul64I => set!(r[d!()].wrapping_mul(op.b)),
                Code::Div64R => set!(div64(r[d!()], r[s!()])),
                Code::Div64I => set!(div64(r[d!()], op.b)),
                Code::SDiv64R => set!(sdiv64(r[d!()], r[s!()])),
                Code::SDiv64I => set!(sdiv64(r[d!()], op.b)),
                Code::Mod64R => set!(mod64(r[d!()], r[s!()])),
                Code::Mod64I => set!(mod64(r[d!()], op.b)),
                Code::SMod64R => set!(smod64(r[d!()], r[s!()])),
                Code::SMod64I => set!(smod64(r[d!()], op.b)),
                Code::Or64R => set!(r[d!()] | r[s!()]),
                Code::Or64I => set!(r[d!()] | op.b),
                Code::And64R => set!(r[d!()] & r[s!()]),
                Code::And64I => set!(r[d!()] & op.b),
                Code::Xor64R => set!(r[d!()] ^ r[s!()]),
                Code::Xor64I => set!(r[d!()] ^ op.b),
                Code::Lsh64R => set!(r[d!()] << (r[s!()] & 63)),
                Code::Lsh64I => set!(r[d!()] << (op.b & 63)),
                Code::Rsh64R => set!(r[d!()] >> (r[s!()] & 63)),
                Code::Rsh64I => set!(r[d!()] >> (op.b & 63)),
                Code::Arsh64R => set!(((r[d!()] as i64) >> (r[s!()] & 63)) as u64),
                Code::Arsh64I => set!(((r[d!()] as i64) >> (op.b & 63)) as u64),
                Code::Mov64R => set!(r[s!()]),
                Code::Mov64I => set!(op.b),
                Code::MovSx8To64 => set!(r[s!()] as i8 as i64 as u64),
                Code::MovSx16To64 => set!(r[s!()] as i16 as i64 as u64),
                Code::MovSx32To64 => set!(r[s!()] as i32 as i64 as u64),
                Code::Neg64 => set!(r[d!()].wrapping_neg()),

                // ---- 32-bit ALU
                Code::Add32R => set!((r[d!()] as u32).wrapping_add(r[s!()] as u32) as u64),
                Code::Add32I => set!((r[d!()] as u32).wrapping_add(op.b as u32) as u64),
                Code::Sub32R => set!((r[d!()] as u32).wrapping_sub(r[s!()] as u32) as u64),
                Code::Sub32I => set!((r[d!()] as u32).wrapping_sub(op.b as u32) as u64),
                Code::Mul32R => set!((r[d!()] as u32).wrapping_mul(r[s!()] as u32) as u64),
                Code::Mul32I => set!((r[d!()] as u32).wrapping_mul(op.b as u32) as u64),
                Code::Div32R => set!(div32(r[d!()], r[s!()])),
                Code::Div32I => set!(div32(r[d!()], op.b)),
                Code::SDiv32R => set!(sdiv32(r[d!()], r[s!()])),
                Code::SDiv32I => set!(sdiv32(r[d!()], op.b)),
                Code::Mod32R => set!(mod32(r[d!()], r[s!()])),
                Code::Mod32I => set!(mod32(r[d!()], op.b)),
                Code::SMod32R => set!(smod32(r[d!()], r[s!()])),
                Code::SMod32I => set!(smod32(r[d!()], op.b)),
                Code::Or32R => set!((r[d!()] as u32 | r[s!()] as u32) as u64),
                Code::Or32I => set!((r[d!()] as u32 | op.b as u32) as u64),
                Code::And32R => set!((r[d!()] as u32 & r[s!()] as u32) as u64),
                Code::And32I => set!((r[d!()] as u32 & op.b as u32) as u64),
                Code::Xor32R => set!((r[d!()] as u32 ^ r[s!()] as u32) as u64),
                Code::Xor32I => set!((r[d!()] as u32 ^ op.b as u32) as u64),
                Code::Lsh32R => set!(((r[d!()] as u32) << (r[s!()] & 31)) as u64),
                Code::Lsh32I => set!(((r[d!()] as u32) << (op.b & 31)) as u64),
                Code::Rsh32R => set!(((r[d!()] as u32) >> (r[s!()] & 31)) as u64),
                Code::Rsh32I => set!(((r[d!()] as u32) >> (op.b & 31)) as u64),
                Code::Arsh32R => set!(((r[d!()] as i32) >> (r[s!()] & 31)) as u32 as u64),
                Code::Arsh32I => set!(((r[d!()] as i32) >> (op.b & 31)) as u32 as u64),
                Code::Mov32R => set!(r[s!()] as u32 as u64),
                Code::Mov32I => set!(op.b as u32 as u64),
                Code::MovSx8To32 => set!(r[s!()] as i8 as i32 as u32 as u64),
                Code::MovSx16To32 => set!(r[s!()] as i16 as i32 as u32 as u64),
                Code::Neg32 => set!((r[d!()] as u32).wrapping_neg() as u64),

                // ---- byte order
                Code::Le16 => set!((r[d!()] as u16).to_le() as u64),
                Code::Le32 => set!((r[d!()] as u32).to_le() as u64),
                Code::Le64 => set!(r[d!()].to_le()),
                Code::Be16 => set!((r[d!()] as u16).to_be() as u64),
                Code::Be32 => set!((r[d!()] as u32).to_be() as u64),
                Code::Be64 => set!(r[d!()].to_be()),
                Code::Swap16 => set!((r[d!()] as u16).swap_bytes() as u64),
                Code::Swap32 => set!((r[d!()] as u32).swap_bytes() as u64),
                Code::Swap64 => set!(r[d!()].swap_bytes()),

                // ---- memory
                Code::LdxB => ldx!(1, false, u64),
                Code::LdxH => ldx!(2, false, u64),
                Code::LdxW => ldx!(4, false, u64),
                Code::LdxDW => ldx!(8, false, u64),
                Code::LdxSB => ldx!(1, false, i8),
                Code::LdxSH => ldx!(2, false, i16),
                Code::LdxSW => ldx!(4, false, i32),
                Code::StxB => stx!(1, false, r[s!()]),
                Code::StxH => stx!(2, false, r[s!()]),
                Code::StxW => stx!(4, false, r[s!()]),
                Code::StxDW => stx!(8, false, r[s!()]),
                Code::StB => stx!(1, false, op.b),
                Code::StH => stx!(2, false, op.b),
                Code::StW => stx!(4, false, op.b),
                Code::StDW => stx!(8, false, op.b),
                Code::RLdxB => ldx!(1, true, u64),
                Code::RLdxH => ldx!(2, true, u64),
                Code::RLdxW => ldx!(4, true, u64),
                Code::RLdxDW => ldx!(8, true, u64),
                Code::RLdxSB => ldx!(1, true, i8),
                Code::RLdxSH => ldx!(2, true, i16),
                Code::RLdxSW => ldx!(4, true, i32),
                Code::RStxB => stx!(1, true, r[s!()]),
                Code::RStxH => stx!(2, true, r[s!()]),
                Code::RStxW => stx!(4, true, r[s!()]),
                Code::RStxDW => stx!(8, true, r[s!()]),
                Code::RStB => stx!(1, true, op.b),
                Code::RStH => stx!(2, true, op.b),
                Code::RStW => stx!(4, true, op.b),
                Code::RStDW => stx!(8, true, op.b),
                Code::Atomic => {
                    self.atomic(pc!(), op, r, &mut cx.mem)?;
                    next!(1)
                }
                Code::LdAbs => match cx.mem.packet_load(op.b as i64, op.off as u64) {
                    Some(v) => {
                        r[0] = v;
                        next!(1)
                    }
                    None => ret!(Flow::Abort),
                },
                Code::LdInd => {
                    let offset = r[s!()].wrapping_add(op.b) as i32 as i64;
                    match cx.mem.packet_load(offset, op.off as u64) {
                        Some(v) => {
                            r[0] = v;
                            next!(1)
                        }
                        None => ret!(Flow::Abort),
                    }
                }

                // ---- jumps
                Code::Ja => go!(op.b as usize, 1),
                Code::JEq64R => jcc!(r[d!()] == r[s!()]),
                Code::JEq64RJa => jcc2r!(r[d!()] == r[s!()]),
                Code::JEq64I => jcc!(r[d!()] == op.imm64()),
                Code::JEq64IJa => jcc2i!(r[d!()] == op.imm64()),
                Code::JNe64R => jcc!(r[d!()] != r[s!()]),
                Code::JNe64RJa => jcc2r!(r[d!()] != r[s!()]),
                Code::JNe64I => jcc!(r[d!()] != op.imm64()),
                Code::JNe64IJa => jcc2i!(r[d!()] != op.imm64()),
                Code::JGt64R => jcc!(r[d!()] > r[s!()]),
                Code::JGt64RJa => jcc2r!(r[d!()] > r[s!()]),
                Code::JGt64I => jcc!(r[d!()] > op.imm64()),
                Code::JGt64IJa => jcc2i!(r[d!()] > op.imm64()),
                Code::JGe64R => jcc!(r[d!()] >= r[s!()]),
                Code::JGe64RJa => jcc2r!(r[d!()] >= r[s!()]),
                Code::JGe64I => jcc!(r[d!()] >= op.imm64()),
                Code::JGe64IJa => jcc2i!(r[d!()] >= op.imm64()),
                Code::JLt64R => jcc!(r[d!()] < r[s!()]),
                Code::JLt64RJa => jcc2r!(r[d!()] < r[s!()]),
                Code::JLt64I => jcc!(r[d!()] < op.imm64()),
                Code::JLt64IJa => jcc2i!(r[d!()] < op.imm64()),
                Code::JLe64R => jcc!(r[d!()] <= r[s!()]),
                Code::JLe64RJa => jcc2r!(r[d!()] <= r[s!()]),
                Code::JLe64I => jcc!(r[d!()] <= op.imm64()),
                Code::JLe64IJa => jcc2i!(r[d!()] <= op.imm64()),
                Code::JSet64R => jcc!(r[d!()] & r[s!()] != 0),
                Code::JSet64RJa => jcc2r!(r[d!()] & r[s!()] != 0),
                Code::JSet64I => jcc!(r[d!()] & op.imm64() != 0),
                Code::JSet64IJa => jcc2i!(r[d!()] & op.imm64() != 0),
                Code::JSgt64R => jcc!((r[d!()] as i64) > (r[s!()] as i64)),
                Code::JSgt64RJa => jcc2r!((r[d!()] as i64) > (r[s!()] as i64)),
                Code::JSgt64I => jcc!((r[d!()] as i64) > (op.imm64() as i64)),
                Code::JSgt64IJa => jcc2i!((r[d!()] as i64) > (op.imm64() as i64)),
                Code::JSge64R => jcc!((r[d!()] as i64) >= (r[s!()] as i64)),
                Code::JSge64RJa => jcc2r!((r[d!()] as i64) >= (r[s!()] as i64)),
                Code::JSge64I => jcc!((r[d!()] as i64) >= (op.imm64() as i64)),
                Code::JSge64IJa => jcc2i!((r[d!()] as i64) >= (op.imm64() as i64)),
                Code::JSlt64R => jcc!((r[d!()] as i64) < (r[s!()] as i64)),
                Code::JSlt64RJa => jcc2r!((r[d!()] as i64) < (r[s!()] as i64)),
                Code::JSlt64I => jcc!((r[d!()] as i64) < (op.imm64() as i64)),
                Code::JSlt64IJa => jcc2i!((r[d!()] as i64) < (op.imm64() as i64)),
                Code::JSle64R => jcc!((r[d!()] as i64) <= (r[s!()] as i64)),
                Code::JSle64RJa => jcc2r!((r[d!()] as i64) <= (r[s!()] as i64)),
                Code::JSle64I => jcc!((r[d!()] as i64) <= (op.imm64() as i64)),
                Code::JSle64IJa => jcc2i!((r[d!()] as i64) <= (op.imm64() as i64)),
                Code::JEq32R => jcc!((r[d!()] as u32) == (r[s!()] as u32)),
                Code::JEq32RJa => jcc2r!((r[d!()] as u32) == (r[s!()] as u32)),
                Code::JEq32I => jcc!((r[d!()] as u32) == op.imm32()),
                Code::JEq32IJa => jcc2i!((r[d!()] as u32) == op.imm32()),
                Code::JNe32R => jcc!((r[d!()] as u32) != (r[s!()] as u32)),
                Code::JNe32RJa => jcc2r!((r[d!()] as u32) != (r[s!()] as u32)),
                Code::JNe32I => jcc!((r[d!()] as u32) != op.imm32()),
                Code::JNe32IJa => jcc2i!((r[d!()] as u32) != op.imm32()),
                Code::JGt32R => jcc!((r[d!()] as u32) > (r[s!()] as u32)),
                Code::JGt32RJa => jcc2r!((r[d!()] as u32) > (r[s!()] as u32)),
                Code::JGt32I => jcc!((r[d!()] as u32) > op.imm32()),
                Code::JGt32IJa => jcc2i!((r[d!()] as u32) > op.imm32()),
                Code::JGe32R => jcc!((r[d!()] as u32) >= (r[s!()] as u32)),
                Code::JGe32RJa => jcc2r!((r[d!()] as u32) >= (r[s!()] as u32)),
                Code::JGe32I => jcc!((r[d!()] as u32) >= op.imm32()),
                Code::JGe32IJa => jcc2i!((r[d!()] as u32) >= op.imm32()),
                Code::JLt32R => jcc!((r[d!()] as u32) < (r[s!()] as u32)),
                Code::JLt32RJa => jcc2r!((r[d!()] as u32) < (r[s!()] as u32)),
                Code::JLt32I => jcc!((r[d!()] as u32) < op.imm32()),
                Code::JLt32IJa => jcc2i!((r[d!()] as u32) < op.imm32()),
                Code::JLe32R => jcc!((r[d!()] as u32) <= (r[s!()] as u32)),
                Code::JLe32RJa => jcc2r!((r[d!()] as u32) <= (r[s!()] as u32)),
                Code::JLe32I => jcc!((r[d!()] as u32) <= op.imm32()),
                Code::JLe32IJa => jcc2i!((r[d!()] as u32) <= op.imm32()),
                Code::JSet32R => jcc!((r[d!()] as u32) & (r[s!()] as u32) != 0),
                Code::JSet32RJa => jcc2r!((r[d!()] as u32) & (r[s!()] as u32) != 0),
                Code::JSet32I => jcc!((r[d!()] as u32) & op.imm32() != 0),
                Code::JSet32IJa => jcc2i!((r[d!()] as u32) & op.imm32() != 0),
                Code::JSgt32R => jcc!((r[d!()] as i32) > (r[s!()] as i32)),
                Code::JSgt32RJa => jcc2r!((r[d!()] as i32) > (r[s!()] as i32)),
                Code::JSgt32I => jcc!((r[d!()] as i32) > (op.imm32() as i32)),
                Code::JSgt32IJa => jcc2i!((r[d!()] as i32) > (op.imm32() as i32)),
                Code::JSge32R => jcc!((r[d!()] as i32) >= (r[s!()] as i32)),
                Code::JSge32RJa => jcc2r!((r[d!()] as i32) >= (r[s!()] as i32)),
                Code::JSge32I => jcc!((r[d!()] as i32) >= (op.imm32() as i32)),
                Code::JSge32IJa => jcc2i!((r[d!()] as i32) >= (op.imm32() as i32)),
                Code::JSlt32R => jcc!((r[d!()] as i32) < (r[s!()] as i32)),
                Code::JSlt32RJa => jcc2r!((r[d!()] as i32) < (r[s!()] as i32)),
                Code::JSlt32I => jcc!((r[d!()] as i32) < (op.imm32() as i32)),
                Code::JSlt32IJa => jcc2i!((r[d!()] as i32) < (op.imm32() as i32)),
                Code::JSle32R => jcc!((r[d!()] as i32) <= (r[s!()] as i32)),
                Code::JSle32RJa => jcc2r!((r[d!()] as i32) <= (r[s!()] as i32)),
                Code::JSle32I => jcc!((r[d!()] as i32) <= (op.imm32() as i32)),
                Code::JSle32IJa => jcc2i!((r[d!()] as i32) <= (op.imm32() as i32)),
                Code::MayGoto => {
                    if cx.may_goto_left == 0 {
                        go!(op.b as usize, 1);
                    }
                    cx.may_goto_left -= 1;
                    next!(1)
                }

                // ---- calls
                Code::Call => {
                    let executed = executed!(1);
                    let out = self.call(pc!(), op.b as usize, r, cx, executed)?;
                    after_helper!(out, executed);
                    next!(1)
                }
                Code::CallMissing => return Err(self.missing_call(pc!(), op)),
                Code::CallLocal => call_local!(op.b as usize),
                Code::CallX => {
                    let v = r[d!()];
                    if let Some(callee) = self.code_target(v) {
                        call_local!(callee);
                    }
                    let executed = executed!(1);
                    let out = self.call_dynamic(pc!(), v, r, cx, executed)?;
                    after_helper!(out, executed);
                    // Counted as a transfer to the next instruction, so that the
                    // straight-line bound never spans a `callx`.
                    go!(pc!() + 1, 1)
                }
                Code::Exit => leave!(1),
                Code::FellOffEnd => return Err(self.fell_off(pc!())),

                // ---- superinstructions
                Code::MAdd64R => set2!(r[s!()].wrapping_add(r[t!()])),
                Code::MAdd64I => set2!(r[s!()].wrapping_add(op.b)),
                Code::MSub64R => set2!(r[s!()].wrapping_sub(r[t!()])),
                Code::MSub64I => set2!(r[s!()].wrapping_sub(op.b)),
                Code::MMul64R => set2!(r[s!()].wrapping_mul(r[t!()])),
                Code::MMul64I => set2!(r[s!()].wrapping_mul(op.b)),
                Code::MOr64R => set2!(r[s!()] | r[t!()]),
                Code::MOr64I => set2!(r[s!()] | op.b),
                Code::MAnd64R => set2!(r[s!()] & r[t!()]),
                Code::MAnd64I => set2!(r[s!()] & op.b),
                Code::MXor64R => set2!(r[s!()] ^ r[t!()]),
                Code::MXor64I => set2!(r[s!()] ^ op.b),
                Code::MLsh64R => set2!(r[s!()] << (r[t!()] & 63)),
                Code::MLsh64I => set2!(r[s!()] << (op.b & 63)),
                Code::MRsh64R => set2!(r[s!()] >> (r[t!()] & 63)),
                Code::MRsh64I => set2!(r[s!()] >> (op.b & 63)),
                Code::MArsh64R => set2!(((r[s!()] as i64) >> (r[t!()] & 63)) as u64),
                Code::MArsh64I => set2!(((r[s!()] as i64) >> (op.b & 63)) as u64),
                Code::MAdd32R => set2!((r[s!()] as u32).wrapping_add(r[t!()] as u32) as u64),
                Code::MAdd32I => set2!((r[s!()] as u32).wrapping_add(op.b as u32) as u64),
                Code::MSub32R => set2!((r[s!()] as u32).wrapping_sub(r[t!()] as u32) as u64),
                Code::MSub32I => set2!((r[s!()] as u32).wrapping_sub(op.b as u32) as u64),
                Code::MMul32R => set2!((r[s!()] as u32).wrapping_mul(r[t!()] as u32) as u64),
                Code::MMul32I => set2!((r[s!()] as u32).wrapping_mul(op.b as u32) as u64),
                Code::MOr32R => set2!((r[s!()] as u32 | r[t!()] as u32) as u64),
                Code::MOr32I => set2!((r[s!()] as u32 | op.b as u32) as u64),
                Code::MAnd32R => set2!((r[s!()] as u32 & r[t!()] as u32) as u64),
                Code::MAnd32I => set2!((r[s!()] as u32 & op.b as u32) as u64),
                Code::MXor32R => set2!((r[s!()] as u32 ^ r[t!()] as u32) as u64),
                Code::MXor32I => set2!((r[s!()] as u32 ^ op.b as u32) as u64),
                Code::MLsh32R => set2!(((r[s!()] as u32) << (r[t!()] & 31)) as u64),
                Code::MLsh32I => set2!(((r[s!()] as u32) << (op.b & 31)) as u64),
                Code::MRsh32R => set2!(((r[s!()] as u32) >> (r[t!()] & 31)) as u64),
                Code::MRsh32I => set2!(((r[s!()] as u32) >> (op.b & 31)) as u64),
                Code::MArsh32R => set2!(((r[s!()] as i32) >> (r[t!()] & 31)) as u32 as u64),
                Code::MArsh32I => set2!(((r[s!()] as i32) >> (op.b & 31)) as u32 as u64),
                Code::LdxIdxB => ldx_idx!(1, 3, false),
                Code::LdxIdxH => ldx_idx!(2, 3, false),
                Code::LdxIdxW => ldx_idx!(4, 3, false),
                Code::LdxIdxDW => ldx_idx!(8, 3, false),
                Code::LdxAddB => ldx_idx!(1, 2, false),
                Code::LdxAddH => ldx_idx!(2, 2, false),
                Code::LdxAddW => ldx_idx!(4, 2, false),
                Code::LdxAddDW => ldx_idx!(8, 2, false),
                Code::RLdxIdxB => ldx_idx!(1, 3, true),
                Code::RLdxIdxH => ldx_idx!(2, 3, true),
                Code::RLdxIdxW => ldx_idx!(4, 3, true),
                Code::RLdxIdxDW => ldx_idx!(8, 3, true),
                Code::RLdxAddB => ldx_idx!(1, 2, true),
                Code::RLdxAddH => ldx_idx!(2, 2, true),
                Code::RLdxAddW => ldx_idx!(4, 2, true),
                Code::RLdxAddDW => ldx_idx!(8, 2, true),
                Code::MAddIR => {
                    r[d!()] = r[s!()].wrapping_add(op.b).wrapping_add(r[t!()]);
                    next!(3)
                }
                Code::KAdd64R => set2!(op.b.wrapping_add(r[s!()])),
                Code::KSub64R => set2!(op.b.wrapping_sub(r[s!()])),
                Code::KMul64R => set2!(op.b.wrapping_mul(r[s!()])),
                Code::KOr64R => set2!(op.b | r[s!()]),
                Code::KAnd64R => set2!(op.b & r[s!()]),
                Code::KXor64R => set2!(op.b ^ r[s!()]),
                Code::KLsh64R => set2!(op.b << (r[s!()] & 63)),
                Code::KRsh64R => set2!(op.b >> (r[s!()] & 63)),
                Code::KArsh64R => set2!(((op.b as i64) >> (r[s!()] & 63)) as u64),
                Code::KAdd32R => set2!((op.b as u32).wrapping_add(r[s!()] as u32) as u64),
                Code::KSub32R => set2!((op.b as u32).wrapping_sub(r[s!()] as u32) as u64),
                Code::KMul32R => set2!((op.b as u32).wrapping_mul(r[s!()] as u32) as u64),
                Code::KOr32R => set2!((op.b as u32 | r[s!()] as u32) as u64),
                Code::KAnd32R => set2!((op.b as u32 & r[s!()] as u32) as u64),
                Code::KXor32R => set2!((op.b as u32 ^ r[s!()] as u32) as u64),
                Code::KLsh32R => set2!(((op.b as u32) << (r[s!()] & 31)) as u64),
                Code::KRsh32R => set2!(((op.b as u32) >> (r[s!()] & 31)) as u64),
                Code::KArsh32R => set2!(((op.b as i32) >> (r[s!()] & 31)) as u32 as u64),
                Code::TAdd64 => t_op!(wrapping_add),
                Code::TSub64 => t_op!(wrapping_sub),
                Code::TMul64 => t_op!(wrapping_mul),
                Code::TOr64 => t_op!(bitor),
                Code::TAnd64 => t_op!(bitand),
                Code::TXor64 => t_op!(bitxor),
                Code::MovMov => {
                    r[d!()] = r[s!()];
                    r[t!()] = r[op.r4 as usize];
                    next!(2)
                }
                Code::ShlOr64 => set2!((r[d!()] << (op.b & 63)) | r[s!()]),
                Code::ShlOr32 => set2!((((r[d!()] as u32) << (op.b & 31)) | r[s!()] as u32) as u64),
                Code::AddJEq64I => add_jcc!(==, false),
                Code::AddJNe64I => add_jcc!(!=, false),
                Code::AddJEq64IJa => add_jcc!(==, true),
                Code::AddJNe64IJa => add_jcc!(!=, true),
            }
        }
    }
}
