//! The reference interpreter: its behaviour defines oxbpf's execution semantics.
//!
//! [`Interpreter::new`] translates a [`Program`] once into a compact form (16-byte ops with
//! pre-extended immediates, jump targets resolved to indices, helpers resolved to function
//! pointers); [`Executable::run`] executes it in a single dispatch loop that allocates
//! nothing per instruction and nothing on the heap per run.
//!
//! # Semantics
//!
//! The reference is RFC 9669 plus the Linux additions, with the Linux kernel as the
//! authority. Precisely (other engines must match this):
//!
//! **Registers.** At entry `r1`..`r5` are [`RunContext::args`], `r10` is the frame pointer,
//! `r0` and `r6`..`r9` are 0. Every register is 64 bits.
//!
//! **ALU.** Immediates are sign-extended to 64 bits for 64-bit operations; 32-bit
//! operations (`BPF_ALU`) use the low 32 bits of both operands and zero-extend the result
//! to 64 bits. Arithmetic wraps. Shift counts are masked to the width (`& 63`, `& 31`);
//! `arsh` shifts in the sign bit of the operand width. Division and modulo:
//! - `div`/`sdiv` by zero give 0;
//! - `mod`/`smod` by zero leave `dst` unchanged (for the 32-bit forms: its low 32 bits,
//!   zero-extended, the upper half cleared);
//! - `sdiv` of `INT_MIN` by -1 gives `INT_MIN`, `smod` gives 0 (no trap);
//! - signed results truncate toward zero; the sign of `smod`'s result is the dividend's.
//!
//! `movsx` sign-extends the low 8/16/32 bits of the source (the 32-bit form then
//! zero-extends its 32-bit result). `neg` wraps (`-INT_MIN == INT_MIN`). Byte order:
//! `le N`/`be N` convert the low N bits to little/big endian (on a little-endian host `le`
//! truncates, `be` swaps) and zero-extend; `bswap N` swaps the low N bits unconditionally.
//!
//! **`addr_space_cast`** (no arenas in userspace): casting to address space 1 keeps the low
//! 32 bits (zero-extended, as Linux rewrites it to `mov32`); casting to address space 0 is
//! a 64-bit move.
//!
//! **`lddw`.** An immediate loads its 64 bits. A code address ([`oxbpf_isa::LoadImm64::CodeAddr`],
//! src 4) loads [`CODE_ADDR_BASE`] `+ slot` of the target function. Map and BTF references
//! (src 1, 2, 3, 5, 6) are refused at load time with [`LoadError::UnresolvedPseudo`]: the
//! object loader resolves them to addresses first.
//!
//! **Memory.** Pointers are host addresses. Every load and store (including atomics) must
//! lie entirely inside the live stack or inside one region of [`RunContext::regions`] (a
//! write inside a writable one), else the run ends with [`VmError::MemoryFault`]. Accesses
//! need no alignment, except atomics, load-acquire and store-release, which need natural
//! alignment ([`VmError::MisalignedAtomic`]; bounds are checked first). Atomics are
//! sequentially consistent; 32-bit fetching atomics zero-extend the old value into the
//! register, `cmpxchg` compares the low 32 bits of `r0` for the 32-bit form.
//!
//! **Stack.** 512 bytes per frame ([`STACK_SIZE`](crate::STACK_SIZE)), up to [`MAX_CALL_DEPTH`] frames, growing
//! down: `r10` points one past the current frame, whose valid bytes are `[r10 - 512, r10)`.
//! Callers' frames (above `r10`) stay accessible, so pointers to a caller's stack can be
//! passed down; frames below the current one are not. Each frame is zero-filled when it is
//! entered. See [`mem`] for the layout.
//!
//! **Calls.** A bpf-to-bpf call (`call` src 1, or `callx` on a code address) passes
//! `r1`..`r5` unchanged, gives the callee a fresh zeroed frame (`r10` moves down 512 bytes)
//! and restores `r6`..`r9` and `r10` when the callee exits; `r0` is the callee's result.
//! Entering a ninth frame ends the run with [`VmError::CallDepthExceeded`].
//! A helper call (`call imm`, src 0) runs the helper registered under that id in the
//! [`Helpers`] given to [`Interpreter::new`] (resolved once, at load time: registering
//! helpers later has no effect on this interpreter) with `r1`..`r5` as arguments and puts
//! its result in `r0`; an id with no helper is an error ([`VmError::UnknownHelper`]) only if
//! the call is executed. External calls (src 2) work the same with [`Helpers::external`]
//! ([`VmError::UnknownExternal`]). `callx reg` calls a code address (see above) when the
//! register holds one, else the helper whose id is the register value (looked up at run
//! time; anything else, including a code address that is not an instruction start, is
//! [`VmError::UnknownHelper`] with the register value as id). A helper `Err` ends the run
//! with [`VmError::HelperFailed`]. During a helper call the run's regions include the live
//! stack as one writable [`RegionKind::Stack`](crate::RegionKind::Stack) region `[r10 - 512, top)`; regions a helper
//! adds last until the run ends. After any call `r1`..`r5` are unspecified (this
//! interpreter leaves them as they are; other engines may clobber them).
//!
//! **Callbacks and tail calls** (see [`crate::helper`]). Every helper call gets a
//! [`ProgramCalls`] capability: `HelperCtx::call_function(code_addr, args)` runs the
//! program's function at a code address (as `lddw` src 4 produced it) as a bpf-to-bpf call
//! made by the calling instruction: a zeroed frame below the caller's, `r1`..`r5` = `args`,
//! counting toward [`MAX_CALL_DEPTH`], sharing the run's instruction count, budget and
//! `may_goto` counter; its `exit` returns `r0` to the helper. A failure inside comes back to
//! the helper as [`HelperError::Program`] and ends the run with the callback's own error. A
//! tail call requested by a helper (`HelperCtx::tail_call`) replaces the current function:
//! the target runs with `r1` = the given context, the run's regions and embedder data and the
//! rest of the budget, and its `r0` is returned as if the current function had executed
//! `exit` (from frame 0 this ends the run).
//!
//! **Legacy packet loads** (`ldabs`/`ldind`): the packet is the most recently added region of
//! kind [`RegionKind::Packet`](crate::RegionKind::Packet), else of kind [`RegionKind::Input`](crate::RegionKind::Input). The offset is `imm`
//! (`ldabs`) or `src + imm` truncated to a signed 32-bit value (`ldind`), as Linux computes
//! it. The 1/2/4 bytes at that offset are read in network byte order into `r0`
//! (zero-extended). A negative offset, an access past the packet's end or a run without a
//! packet ends the whole program with `r0 = 0` and no error, as in Linux. `r1`..`r5` are
//! left unchanged.
//!
//! **`may_goto`.** A per-run counter starts at [`MAY_GOTO_LOOPS`] (Linux's
//! `BPF_MAX_LOOPS`, 8 Mi). `may_goto` falls through and decrements it while it is not zero,
//! and jumps once it is. (Linux keeps one counter per function invocation; a per-run
//! counter bounds the whole run.)
//!
//! **End of a run.** `exit` in the outermost frame ends the run with `r0`. Running past the
//! last instruction is [`VmError::FellOffEnd`] at the last instruction.
//!
//! **Budget and counting.** Every executed instruction counts 1 (a `lddw` counts once, a
//! call counts once however long the helper takes, the final `exit` counts).
//! [`RunOutcome::insns_executed`] is always `Some(count)`. With [`RunContext::budget`] =
//! `Some(n)`, the run may execute `n` instructions; reaching an `n + 1`-th ends it with
//! [`VmError::BudgetExhausted`] carrying that instruction's slot.
//!
//! Every [`VmError`] carries the instruction slot (`pc`) of the failing instruction.

pub mod fuzz;
pub mod mem;
mod ops;
#[cfg(test)]
mod reentry_tests;
#[cfg(test)]
mod tests;

pub use ops::CODE_ADDR_BASE;

use crate::error::{LoadError, VmError};
use crate::helper::{HelperCtx, HelperError, Helpers, ProgramCalls, TailCall};
use crate::memory::{AccessFault, Regions};
use crate::raw_mem::Rmw;
use crate::{EngineKind, Executable, RunContext, RunOutcome, MAX_CALL_DEPTH};
use mem::{AtomicFault, Mem, StackBounds, StackBuf};
use ops::{AtomicKind, Code, Compiled, Op, ResolvedCall, CODE_ADDR_MASK};
use oxbpf_isa::Program;
use std::any::Any;

/// Iterations `may_goto` allows per run before it starts jumping (Linux's `BPF_MAX_LOOPS`).
pub const MAY_GOTO_LOOPS: u64 = 8 * 1024 * 1024;

/// A program prepared for the interpreter.
///
/// Memory: for `n` instructions, `m` = `(n + 1).next_power_of_two()` ops of 16 bytes plus
/// two 4-byte tables of `m` entries and one of one entry per slot (about 28 bytes per
/// instruction, up to twice that when `n + 1` is just past a power of two; see
/// [`Interpreter::code_bytes`]), plus the resolved helpers. A run uses no heap: its 4 KiB
/// stack and the register file live on the host stack.
pub struct Interpreter {
    ops: Box<[Op]>,
    slot_of: Box<[u32]>,
    index_of_slot: Box<[u32]>,
    calls: Box<[ResolvedCall]>,
    seg_end: Box<[u32]>,
    /// For `callx` (ids known only at run time).
    helpers: Helpers,
}

impl std::fmt::Debug for Interpreter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interpreter")
            .field("ops", &self.ops.len())
            .field("resolved_calls", &self.calls.len())
            .finish()
    }
}

/// Saved state of a caller during a bpf-to-bpf call.
#[derive(Clone, Copy, Default)]
struct Frame {
    ret: u32,
    saved: [u64; 4],
}

impl Interpreter {
    /// Prepares `program` with `helpers` (resolved now: see the module docs).
    ///
    /// Fails with [`LoadError::UnresolvedPseudo`] for a `lddw` that references a map or a
    /// BTF variable.
    pub fn new(program: &Program, helpers: &Helpers) -> Result<Interpreter, LoadError> {
        let Compiled {
            ops,
            slot_of,
            index_of_slot,
            calls,
            seg_end,
        } = ops::compile(program, helpers)?;
        log::debug!(
            "interpreter: {} instructions, {} resolved calls",
            ops.len() - 1,
            calls.len()
        );
        Ok(Interpreter {
            ops,
            slot_of,
            index_of_slot,
            calls,
            seg_end,
            helpers: helpers.clone(),
        })
    }

    /// Decodes `bytes` and prepares the program.
    pub fn from_bytes(bytes: &[u8], helpers: &Helpers) -> Result<Interpreter, LoadError> {
        Interpreter::new(&Program::decode(bytes)?, helpers)
    }

    /// Bytes taken by the pre-decoded program (ops and tables, not the helpers).
    pub fn code_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.ops)
            + std::mem::size_of_val(&*self.slot_of)
            + std::mem::size_of_val(&*self.index_of_slot)
            + std::mem::size_of_val(&*self.calls)
            + std::mem::size_of_val(&*self.seg_end)
    }

    fn slot(&self, pc: usize) -> usize {
        self.slot_of.get(pc).copied().unwrap_or(0) as usize
    }

    #[cold]
    #[inline(never)]
    fn mem_fault(&self, pc: usize, fault: AccessFault) -> VmError {
        VmError::MemoryFault {
            pc: self.slot(pc),
            fault,
        }
    }

    #[cold]
    #[inline(never)]
    fn atomic_fault(&self, pc: usize, f: AtomicFault, addr: u64, size: u64) -> VmError {
        match f {
            AtomicFault::Access(fault) => self.mem_fault(pc, fault),
            AtomicFault::Misaligned => VmError::MisalignedAtomic {
                pc: self.slot(pc),
                addr,
                size,
            },
        }
    }

    #[cold]
    #[inline(never)]
    fn helper_failed(&self, pc: usize, id: u64, e: HelperError) -> VmError {
        VmError::HelperFailed {
            pc: self.slot(pc),
            id,
            message: e.to_string(),
        }
    }

    /// The error when an instruction finds the budget used up (falling off the end wins).
    #[cold]
    #[inline(never)]
    fn out_of_budget(&self, pc: usize, limit: u64) -> VmError {
        let slot = self.slot(pc);
        if self.ops.get(pc).map(|o| o.code) == Some(Code::FellOffEnd) {
            return VmError::FellOffEnd { pc: slot };
        }
        VmError::BudgetExhausted {
            pc: slot,
            budget: limit,
        }
    }

    /// The code address `v` as an op index, if it is one.
    fn code_target(&self, v: u64) -> Option<usize> {
        if v & CODE_ADDR_MASK != CODE_ADDR_BASE {
            return None;
        }
        let i = *self.index_of_slot.get((v - CODE_ADDR_BASE) as usize)?;
        (i != u32::MAX).then_some(i as usize)
    }

    /// Executes one atomic op.
    #[inline(never)]
    fn atomic(
        &self,
        pc: usize,
        op: &Op,
        r: &mut [u64; 11],
        mem: &mut Mem<'_>,
    ) -> Result<(), VmError> {
        let d = op.dst as usize;
        let s = op.src as usize;
        let size = op.aux as u64;
        let kind = AtomicKind::ALL
            .get(op.imm as usize)
            .copied()
            .unwrap_or(AtomicKind::Add);
        let addr = if kind == AtomicKind::LoadAcquire {
            r[s]
        } else {
            r[d]
        }
        .wrapping_add(op.off as i64 as u64);
        let fault = |f| self.atomic_fault(pc, f, addr, size);
        let rmw = |mem: &mut Mem<'_>, o| mem.atomic_rmw(addr, size, o, r[s]).map_err(fault);
        match kind {
            AtomicKind::Add => drop(rmw(mem, Rmw::Add)?),
            AtomicKind::Or => drop(rmw(mem, Rmw::Or)?),
            AtomicKind::And => drop(rmw(mem, Rmw::And)?),
            AtomicKind::Xor => drop(rmw(mem, Rmw::Xor)?),
            AtomicKind::FetchAdd => r[s] = rmw(mem, Rmw::Add)?,
            AtomicKind::FetchOr => r[s] = rmw(mem, Rmw::Or)?,
            AtomicKind::FetchAnd => r[s] = rmw(mem, Rmw::And)?,
            AtomicKind::FetchXor => r[s] = rmw(mem, Rmw::Xor)?,
            AtomicKind::Xchg => r[s] = rmw(mem, Rmw::Xchg)?,
            AtomicKind::CmpXchg => {
                r[0] = mem.atomic_cmpxchg(addr, size, r[0], r[s]).map_err(fault)?
            }
            AtomicKind::LoadAcquire => r[d] = mem.load_acquire(addr, size).map_err(fault)?,
            AtomicKind::StoreRelease => mem.store_release(addr, size, r[s]).map_err(fault)?,
        }
        Ok(())
    }

    /// Calls a helper with `r1`..`r5`. `executed` counts the instructions run so far,
    /// the call included; the helper may call back into the program (see [`Reentry`]).
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn call(
        &self,
        pc: usize,
        call: &ResolvedCall,
        r: &[u64; 11],
        mem: &mut Mem<'_>,
        env: &mut Option<&mut dyn Any>,
        executed: u64,
        limit: u64,
        depth: usize,
        may_goto_left: &mut u64,
    ) -> Result<CallOut, VmError> {
        let slot = self.slot(pc);
        let args = [r[1], r[2], r[3], r[4], r[5]];
        let mut re = Reentry {
            interp: self,
            slot,
            bounds: mem.stack_bounds(),
            depth,
            executed,
            limit,
            may_goto_left,
            end: None,
        };
        let (res, tail) = mem.call_helper(|regions: &mut Regions| {
            let mut hctx =
                HelperCtx::new(regions, env.as_deref_mut(), slot).with_program_calls(&mut re);
            let res = (call.func)(&mut hctx, args);
            (res, hctx.take_tail_call())
        });
        let r0 = res.map_err(|e| match e {
            HelperError::Program(e) => *e,
            e => self.helper_failed(pc, call.id, e),
        })?;
        Ok(CallOut {
            r0,
            end: re.end,
            tail,
        })
    }

    /// Runs a tail-call target in place of the current function: `r1` = the context the
    /// program passed, the run's regions (without this run's stack), the same embedder data
    /// and the rest of the budget. Returns its `r0` and the run's instruction count after it.
    #[inline(never)]
    fn tail_call(
        &self,
        tc: TailCall,
        mem: &Mem<'_>,
        env: &mut Option<&mut dyn Any>,
        done: u64,
        limit: u64,
    ) -> Result<(u64, u64), VmError> {
        let mut ctx = RunContext::new();
        ctx.args[0] = tc.ctx;
        ctx.regions = mem.regions().clone();
        ctx.budget = (limit != u64::MAX).then(|| limit.saturating_sub(done));
        let mut ctx = match env.as_deref_mut() {
            Some(e) => ctx.with_env(e),
            None => ctx,
        };
        let out = tc.target.run(&mut ctx)?;
        Ok((out.r0, done.saturating_add(out.insns_executed.unwrap_or(0))))
    }

    /// Runs `st` from `st.pc` to the `exit` of its outermost frame (`st.base_depth`): the
    /// fast loop, then the checked loop if the budget gets tight.
    fn drive(&self, st: &mut State<'_>) -> Result<u64, VmError> {
        let need =
            (self.seg_end.get(st.pc).copied().unwrap_or(0) as u64).wrapping_sub(st.pc as u64);
        if st.count.checked_add(need).is_some_and(|n| n <= st.limit) {
            if let Some(r0) = self.exec_loop::<false>(st)? {
                return Ok(r0);
            }
        }
        Ok(self.exec_loop::<true>(st)?.unwrap_or(0))
    }

    /// Runs the program: the fast loop, then the checked loop if the budget gets tight.
    fn execute(&self, ctx: &mut RunContext<'_>) -> Result<RunOutcome, VmError> {
        let limit = ctx.budget.unwrap_or(u64::MAX);
        let args = ctx.args;
        let (regions, env) = ctx.parts();
        let mut stack = StackBuf::uninit();
        let mem = Mem::new(&mut stack, regions);
        let mut st = State {
            r: [0; 11],
            pc: 0,
            count: 0,
            frames: [Frame::default(); MAX_CALL_DEPTH - 1],
            depth: 0,
            base_depth: 0,
            may_goto_left: MAY_GOTO_LOOPS,
            limit,
            mem,
            env,
        };
        st.r[1..6].copy_from_slice(&args);
        st.r[10] = st.mem.top();
        let r0 = self.drive(&mut st)?;
        Ok(RunOutcome {
            r0,
            insns_executed: Some(st.count),
        })
    }

    /// The dispatch loop. See the module docs for the semantics.
    ///
    /// Counting: with `CHECKED = false` instructions are counted per seg_end-line segment:
    /// a segment starts at the target of a taken control transfer and runs through
    /// not-taken branches; `base` is the number of instructions executed before the
    /// segment minus the segment's first op index (wrapping), so `base + pc` instructions
    /// ran before op `pc`. On entering a segment at `to` the loop checks that the budget
    /// covers `seg_end[to] - to`, the most instructions it can execute before the next
    /// transfer; if not, it returns `Ok(None)` and the run continues with
    /// `CHECKED = true`, where `base` is the plain count, checked before every
    /// instruction. `Ok(Some(r0))`: the program exited; `st.count` is exact.
    #[inline(never)]
    fn exec_loop<const CHECKED: bool>(&self, st: &mut State<'_>) -> Result<Option<u64>, VmError> {
        // `ops.len()` is a power of two (see `ops::compile`): spelled as a shift here so the
        // compiler knows it, and `pc & mask` needs no bounds check. `seg_end` has the
        // same length.
        let len = 1usize << self.ops.len().trailing_zeros();
        let ops = &self.ops[..len];
        let seg_end = &self.seg_end[..len];
        let mask = len - 1;
        let limit = st.limit;
        let mut pc = st.pc;
        let mut base = if CHECKED {
            st.count
        } else {
            st.count.wrapping_sub(pc as u64)
        };
        // The registers live in a local copy (addressed off the stack pointer, no extra
        // indirection); they are written back when the loop hands over to the checked one.
        let mut r = st.r;
        let mem = &mut st.mem;

        macro_rules! fault {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(f) => return Err(self.mem_fault(pc, f)),
                }
            };
        }
        // Instructions executed, the one at `pc` included.
        macro_rules! executed {
            () => {
                if CHECKED {
                    base
                } else {
                    base.wrapping_add(pc as u64 + 1)
                }
            };
        }
        // A taken control transfer to op `$to`.
        macro_rules! transfer {
            ($to:expr) => {{
                let to: usize = $to;
                if !CHECKED {
                    let done = base.wrapping_add(pc as u64 + 1);
                    base = done.wrapping_sub(to as u64);
                    if base.wrapping_add(seg_end[to & mask] as u64) > limit {
                        st.pc = to;
                        st.count = done;
                        st.r = r;
                        return Ok(None);
                    }
                }
                pc = to;
                continue;
            }};
        }

        // Sets the count of executed instructions (the current one included) to `$n`.
        macro_rules! set_executed {
            ($n:expr) => {{
                let n: u64 = $n;
                base = if CHECKED {
                    n
                } else {
                    n.wrapping_sub(pc as u64 + 1)
                };
            }};
        }
        // After a helper call: its result, the instructions its callbacks ran, and a
        // requested tail call, which replaces the current function (as if it exited with
        // the target's `r0`).
        macro_rules! after_helper {
            ($out:expr) => {{
                let out: CallOut = $out;
                r[0] = out.r0;
                if let Some(tc) = out.tail {
                    let done = out.end.unwrap_or(executed!());
                    let (r0, total) = self.tail_call(tc, mem, &mut st.env, done, limit)?;
                    r[0] = r0;
                    set_executed!(total);
                    if st.depth == st.base_depth {
                        st.count = total;
                        return Ok(Some(r0));
                    }
                    st.depth -= 1;
                    let f = st.frames[st.depth];
                    r[6..10].copy_from_slice(&f.saved);
                    r[10] = mem.leave_frame();
                    transfer!(f.ret as usize);
                }
                if let Some(end) = out.end {
                    set_executed!(end);
                    transfer!(pc + 1);
                }
            }};
        }

        loop {
            // `pc` is always < len (targets are inside the program, and the sentinel after
            // the last instruction never advances), so the mask never changes it.
            let op = &ops[pc & mask];
            if CHECKED {
                if base == limit {
                    return Err(self.out_of_budget(pc, limit));
                }
                base += 1;
            }
            let d = op.dst as usize;
            let s = op.src as usize;
            let imm = op.imm;
            let target = op.off as u32 as usize;
            macro_rules! addr {
                ($r:expr) => {
                    r[$r].wrapping_add(op.off as i64 as u64)
                };
            }
            macro_rules! jump {
                ($cond:expr) => {{
                    if $cond {
                        transfer!(target);
                    }
                }};
            }

            match op.code {
                // ---- 64-bit ALU
                Code::Add64R => r[d] = r[d].wrapping_add(r[s]),
                Code::Add64I => r[d] = r[d].wrapping_add(imm),
                Code::Sub64R => r[d] = r[d].wrapping_sub(r[s]),
                Code::Sub64I => r[d] = r[d].wrapping_sub(imm),
                Code::Mul64R => r[d] = r[d].wrapping_mul(r[s]),
                Code::Mul64I => r[d] = r[d].wrapping_mul(imm),
                Code::Div64R => r[d] = div64(r[d], r[s]),
                Code::Div64I => r[d] = div64(r[d], imm),
                Code::SDiv64R => r[d] = sdiv64(r[d], r[s]),
                Code::SDiv64I => r[d] = sdiv64(r[d], imm),
                Code::Mod64R => r[d] = mod64(r[d], r[s]),
                Code::Mod64I => r[d] = mod64(r[d], imm),
                Code::SMod64R => r[d] = smod64(r[d], r[s]),
                Code::SMod64I => r[d] = smod64(r[d], imm),
                Code::Or64R => r[d] |= r[s],
                Code::Or64I => r[d] |= imm,
                Code::And64R => r[d] &= r[s],
                Code::And64I => r[d] &= imm,
                Code::Xor64R => r[d] ^= r[s],
                Code::Xor64I => r[d] ^= imm,
                Code::Lsh64R => r[d] <<= r[s] & 63,
                Code::Lsh64I => r[d] <<= imm & 63,
                Code::Rsh64R => r[d] >>= r[s] & 63,
                Code::Rsh64I => r[d] >>= imm & 63,
                Code::Arsh64R => r[d] = ((r[d] as i64) >> (r[s] & 63)) as u64,
                Code::Arsh64I => r[d] = ((r[d] as i64) >> (imm & 63)) as u64,
                Code::Mov64R => r[d] = r[s],
                Code::Mov64I => r[d] = imm,
                Code::MovSx8To64 => r[d] = r[s] as i8 as i64 as u64,
                Code::MovSx16To64 => r[d] = r[s] as i16 as i64 as u64,
                Code::MovSx32To64 => r[d] = r[s] as i32 as i64 as u64,
                Code::Neg64 => r[d] = r[d].wrapping_neg(),

                // ---- 32-bit ALU
                Code::Add32R => r[d] = (r[d] as u32).wrapping_add(r[s] as u32) as u64,
                Code::Add32I => r[d] = (r[d] as u32).wrapping_add(imm as u32) as u64,
                Code::Sub32R => r[d] = (r[d] as u32).wrapping_sub(r[s] as u32) as u64,
                Code::Sub32I => r[d] = (r[d] as u32).wrapping_sub(imm as u32) as u64,
                Code::Mul32R => r[d] = (r[d] as u32).wrapping_mul(r[s] as u32) as u64,
                Code::Mul32I => r[d] = (r[d] as u32).wrapping_mul(imm as u32) as u64,
                Code::Div32R => r[d] = div32(r[d], r[s]),
                Code::Div32I => r[d] = div32(r[d], imm),
                Code::SDiv32R => r[d] = sdiv32(r[d], r[s]),
                Code::SDiv32I => r[d] = sdiv32(r[d], imm),
                Code::Mod32R => r[d] = mod32(r[d], r[s]),
                Code::Mod32I => r[d] = mod32(r[d], imm),
                Code::SMod32R => r[d] = smod32(r[d], r[s]),
                Code::SMod32I => r[d] = smod32(r[d], imm),
                Code::Or32R => r[d] = (r[d] as u32 | r[s] as u32) as u64,
                Code::Or32I => r[d] = (r[d] as u32 | imm as u32) as u64,
                Code::And32R => r[d] = (r[d] as u32 & r[s] as u32) as u64,
                Code::And32I => r[d] = (r[d] as u32 & imm as u32) as u64,
                Code::Xor32R => r[d] = (r[d] as u32 ^ r[s] as u32) as u64,
                Code::Xor32I => r[d] = (r[d] as u32 ^ imm as u32) as u64,
                Code::Lsh32R => r[d] = ((r[d] as u32) << (r[s] & 31)) as u64,
                Code::Lsh32I => r[d] = ((r[d] as u32) << (imm & 31)) as u64,
                Code::Rsh32R => r[d] = ((r[d] as u32) >> (r[s] & 31)) as u64,
                Code::Rsh32I => r[d] = ((r[d] as u32) >> (imm & 31)) as u64,
                Code::Arsh32R => r[d] = ((r[d] as i32) >> (r[s] & 31)) as u32 as u64,
                Code::Arsh32I => r[d] = ((r[d] as i32) >> (imm & 31)) as u32 as u64,
                Code::Mov32R => r[d] = r[s] as u32 as u64,
                Code::Mov32I => r[d] = imm as u32 as u64,
                Code::MovSx8To32 => r[d] = r[s] as i8 as i32 as u32 as u64,
                Code::MovSx16To32 => r[d] = r[s] as i16 as i32 as u32 as u64,
                Code::Neg32 => r[d] = (r[d] as u32).wrapping_neg() as u64,

                // ---- byte order
                Code::Le16 => r[d] = (r[d] as u16).to_le() as u64,
                Code::Le32 => r[d] = (r[d] as u32).to_le() as u64,
                Code::Le64 => r[d] = r[d].to_le(),
                Code::Be16 => r[d] = (r[d] as u16).to_be() as u64,
                Code::Be32 => r[d] = (r[d] as u32).to_be() as u64,
                Code::Be64 => r[d] = r[d].to_be(),
                Code::Swap16 => r[d] = (r[d] as u16).swap_bytes() as u64,
                Code::Swap32 => r[d] = (r[d] as u32).swap_bytes() as u64,
                Code::Swap64 => r[d] = r[d].swap_bytes(),

                // ---- memory
                Code::LdxB => r[d] = fault!(mem.load::<1>(addr!(s))),
                Code::LdxH => r[d] = fault!(mem.load::<2>(addr!(s))),
                Code::LdxW => r[d] = fault!(mem.load::<4>(addr!(s))),
                Code::LdxDW => r[d] = fault!(mem.load::<8>(addr!(s))),
                Code::LdxSB => r[d] = fault!(mem.load::<1>(addr!(s))) as i8 as i64 as u64,
                Code::LdxSH => r[d] = fault!(mem.load::<2>(addr!(s))) as i16 as i64 as u64,
                Code::LdxSW => r[d] = fault!(mem.load::<4>(addr!(s))) as i32 as i64 as u64,
                Code::StxB => fault!(mem.store::<1>(addr!(d), r[s])),
                Code::StxH => fault!(mem.store::<2>(addr!(d), r[s])),
                Code::StxW => fault!(mem.store::<4>(addr!(d), r[s])),
                Code::StxDW => fault!(mem.store::<8>(addr!(d), r[s])),
                Code::StB => fault!(mem.store::<1>(addr!(d), imm)),
                Code::StH => fault!(mem.store::<2>(addr!(d), imm)),
                Code::StW => fault!(mem.store::<4>(addr!(d), imm)),
                Code::StDW => fault!(mem.store::<8>(addr!(d), imm)),
                Code::Atomic => self.atomic(pc, op, &mut r, mem)?,
                Code::LdAbs | Code::LdInd => {
                    let offset = if op.code == Code::LdAbs {
                        imm as i64
                    } else {
                        r[s].wrapping_add(imm) as i32 as i64
                    };
                    match mem.packet_load(offset, op.aux as u64) {
                        Some(v) => r[0] = v,
                        None => {
                            st.count = executed!();
                            return Ok(Some(0));
                        }
                    }
                }

                // ---- jumps
                Code::Ja => transfer!(target),
                Code::JEq64R => jump!(r[d] == r[s]),
                Code::JEq64I => jump!(r[d] == imm),
                Code::JNe64R => jump!(r[d] != r[s]),
                Code::JNe64I => jump!(r[d] != imm),
                Code::JGt64R => jump!(r[d] > r[s]),
                Code::JGt64I => jump!(r[d] > imm),
                Code::JGe64R => jump!(r[d] >= r[s]),
                Code::JGe64I => jump!(r[d] >= imm),
                Code::JLt64R => jump!(r[d] < r[s]),
                Code::JLt64I => jump!(r[d] < imm),
                Code::JLe64R => jump!(r[d] <= r[s]),
                Code::JLe64I => jump!(r[d] <= imm),
                Code::JSet64R => jump!(r[d] & r[s] != 0),
                Code::JSet64I => jump!(r[d] & imm != 0),
                Code::JSgt64R => jump!((r[d] as i64) > r[s] as i64),
                Code::JSgt64I => jump!((r[d] as i64) > imm as i64),
                Code::JSge64R => jump!((r[d] as i64) >= r[s] as i64),
                Code::JSge64I => jump!((r[d] as i64) >= imm as i64),
                Code::JSlt64R => jump!((r[d] as i64) < r[s] as i64),
                Code::JSlt64I => jump!((r[d] as i64) < imm as i64),
                Code::JSle64R => jump!((r[d] as i64) <= r[s] as i64),
                Code::JSle64I => jump!((r[d] as i64) <= imm as i64),
                Code::JEq32R => jump!(r[d] as u32 == r[s] as u32),
                Code::JEq32I => jump!(r[d] as u32 == imm as u32),
                Code::JNe32R => jump!(r[d] as u32 != r[s] as u32),
                Code::JNe32I => jump!(r[d] as u32 != imm as u32),
                Code::JGt32R => jump!(r[d] as u32 > r[s] as u32),
                Code::JGt32I => jump!(r[d] as u32 > imm as u32),
                Code::JGe32R => jump!(r[d] as u32 >= r[s] as u32),
                Code::JGe32I => jump!(r[d] as u32 >= imm as u32),
                Code::JLt32R => jump!((r[d] as u32) < r[s] as u32),
                Code::JLt32I => jump!((r[d] as u32) < imm as u32),
                Code::JLe32R => jump!(r[d] as u32 <= r[s] as u32),
                Code::JLe32I => jump!(r[d] as u32 <= imm as u32),
                Code::JSet32R => jump!(r[d] as u32 & r[s] as u32 != 0),
                Code::JSet32I => jump!(r[d] as u32 & imm as u32 != 0),
                Code::JSgt32R => jump!(r[d] as i32 > r[s] as i32),
                Code::JSgt32I => jump!(r[d] as i32 > imm as i32),
                Code::JSge32R => jump!(r[d] as i32 >= r[s] as i32),
                Code::JSge32I => jump!(r[d] as i32 >= imm as i32),
                Code::JSlt32R => jump!((r[d] as i32) < r[s] as i32),
                Code::JSlt32I => jump!((r[d] as i32) < imm as i32),
                Code::JSle32R => jump!(r[d] as i32 <= r[s] as i32),
                Code::JSle32I => jump!(r[d] as i32 <= imm as i32),
                Code::MayGoto => {
                    if st.may_goto_left == 0 {
                        transfer!(target);
                    }
                    st.may_goto_left -= 1;
                }

                // ---- calls
                Code::Call => {
                    let call = &self.calls[target];
                    let out = self.call(
                        pc,
                        call,
                        &r,
                        mem,
                        &mut st.env,
                        executed!(),
                        limit,
                        st.depth,
                        &mut st.may_goto_left,
                    )?;
                    after_helper!(out);
                }
                Code::CallMissing => return Err(self.missing_call(pc, op)),
                Code::CallLocal => {
                    self.enter(pc, &mut r, &mut st.frames, &mut st.depth, mem)?;
                    transfer!(target);
                }
                Code::CallX => {
                    let v = r[d];
                    match self.code_target(v) {
                        Some(callee) => {
                            self.enter(pc, &mut r, &mut st.frames, &mut st.depth, mem)?;
                            transfer!(callee);
                        }
                        None => {
                            let out = self.call_dynamic(
                                pc,
                                v,
                                &r,
                                mem,
                                &mut st.env,
                                executed!(),
                                limit,
                                st.depth,
                                &mut st.may_goto_left,
                            )?;
                            after_helper!(out);
                            // Counted as a transfer to the next instruction, so that the
                            // seg_end-line bound never spans a `callx`.
                            transfer!(pc + 1);
                        }
                    }
                }
                Code::Exit => {
                    if st.depth == st.base_depth {
                        st.count = executed!();
                        return Ok(Some(r[0]));
                    }
                    st.depth -= 1;
                    let f = st.frames[st.depth];
                    r[6..10].copy_from_slice(&f.saved);
                    r[10] = mem.leave_frame();
                    transfer!(f.ret as usize);
                }
                Code::FellOffEnd => return Err(VmError::FellOffEnd { pc: self.slot(pc) }),
            }
            pc += 1;
        }
    }

    /// Pushes a frame for a bpf-to-bpf call at `pc`.
    #[inline]
    fn enter(
        &self,
        pc: usize,
        r: &mut [u64; 11],
        frames: &mut [Frame; MAX_CALL_DEPTH - 1],
        depth: &mut usize,
        mem: &mut Mem<'_>,
    ) -> Result<(), VmError> {
        let Some(f) = frames.get_mut(*depth) else {
            return Err(VmError::CallDepthExceeded {
                pc: self.slot(pc),
                max: MAX_CALL_DEPTH,
            });
        };
        f.ret = (pc + 1) as u32;
        f.saved = [r[6], r[7], r[8], r[9]];
        *depth += 1;
        r[10] = mem.enter_frame();
        Ok(())
    }

    /// `callx` on a value that is not a code address: the helper with that id.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn call_dynamic(
        &self,
        pc: usize,
        id: u64,
        r: &[u64; 11],
        mem: &mut Mem<'_>,
        env: &mut Option<&mut dyn Any>,
        executed: u64,
        limit: u64,
        depth: usize,
        may_goto_left: &mut u64,
    ) -> Result<CallOut, VmError> {
        let Some(h) = self.helpers.get(id) else {
            return Err(VmError::UnknownHelper {
                pc: self.slot(pc),
                id,
            });
        };
        let call = ResolvedCall {
            func: h.func.clone(),
            id,
        };
        self.call(
            pc,
            &call,
            r,
            mem,
            env,
            executed,
            limit,
            depth,
            may_goto_left,
        )
    }

    #[cold]
    #[inline(never)]
    fn missing_call(&self, pc: usize, op: &Op) -> VmError {
        let pc = self.slot(pc);
        if op.aux == 1 {
            VmError::UnknownExternal {
                pc,
                id: op.imm as i32,
            }
        } else {
            VmError::UnknownHelper { pc, id: op.imm }
        }
    }
}

/// The state of one run, shared by the fast and the checked loop.
struct State<'a> {
    r: [u64; 11],
    pc: usize,
    /// Instructions executed before `pc` (kept up to date when a loop returns).
    count: u64,
    frames: [Frame; MAX_CALL_DEPTH - 1],
    /// Frames live below frame 0 of the run (callbacks start deeper).
    depth: usize,
    /// The depth whose `exit` ends this loop: 0 for a run, the callback's frame for a
    /// callback ([`Reentry`]).
    base_depth: usize,
    may_goto_left: u64,
    limit: u64,
    mem: Mem<'a>,
    env: Option<&'a mut dyn Any>,
}

/// What a helper call produced.
struct CallOut {
    r0: u64,
    /// The run's instruction count after callbacks the helper made, if it made any.
    end: Option<u64>,
    /// A tail call the helper requested.
    tail: Option<TailCall>,
}

/// Re-entry into a running program for one helper call: callbacks run as bpf-to-bpf calls
/// made by the calling instruction, in a frame below the caller's, with the run's budget,
/// `may_goto` counter and depth limit.
struct Reentry<'i> {
    interp: &'i Interpreter,
    /// Slot of the calling instruction.
    slot: usize,
    bounds: StackBounds,
    depth: usize,
    executed: u64,
    limit: u64,
    may_goto_left: &'i mut u64,
    end: Option<u64>,
}

impl ProgramCalls for Reentry<'_> {
    fn call_function(
        &mut self,
        regions: &mut Regions,
        env: Option<&mut dyn Any>,
        code_addr: u64,
        args: [u64; 5],
    ) -> Result<u64, VmError> {
        let Some(target) = self.interp.code_target(code_addr) else {
            return Err(VmError::Unsupported {
                pc: self.slot,
                what: "callback to an address that is not a function of this program",
            });
        };
        if self.depth + 1 >= MAX_CALL_DEPTH {
            return Err(VmError::CallDepthExceeded {
                pc: self.slot,
                max: MAX_CALL_DEPTH,
            });
        }
        // SAFETY: `bounds` was taken from this run's `Mem` for the helper call we are in
        // (`Interpreter::call`), which is inside `Mem::call_helper` and does not touch its
        // `Mem` until the helper returns; the depth check above leaves room for one frame.
        let mut mem = unsafe { Mem::nested(self.bounds, regions) };
        let fp = mem.enter_frame();
        let mut st = State {
            r: [0; 11],
            pc: target,
            count: self.end.unwrap_or(self.executed),
            frames: [Frame::default(); MAX_CALL_DEPTH - 1],
            depth: self.depth + 1,
            base_depth: self.depth + 1,
            may_goto_left: *self.may_goto_left,
            limit: self.limit,
            mem,
            env,
        };
        st.r[1..6].copy_from_slice(&args);
        st.r[10] = fp;
        let res = self.interp.drive(&mut st);
        *self.may_goto_left = st.may_goto_left;
        self.end = Some(st.count);
        res
    }
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

impl Executable for Interpreter {
    fn run(&self, ctx: &mut RunContext<'_>) -> Result<RunOutcome, VmError> {
        self.execute(ctx)
    }

    fn engine(&self) -> EngineKind {
        EngineKind::Interpreter
    }
}
