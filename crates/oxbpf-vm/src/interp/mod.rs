//! The reference interpreter: its behaviour defines oxbpf's execution semantics.
//!
//! [`Interpreter::new`] translates a [`Program`] once into a compact form (16-byte ops with
//! specialised operation codes and pre-extended operands, jump targets resolved to indices,
//! helpers resolved to function pointers, frequent instruction sequences fused into
//! superinstructions: see `ops`); [`Executable::run`] executes it in a dispatch loop
//! (`exec`) that allocates nothing per instruction and nothing on the heap per run.
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
//! **Stack.** 512 bytes per frame ([`STACK_SIZE`]), up to [`MAX_CALL_DEPTH`] frames, growing
//! down: `r10` points one past the current frame, whose valid bytes are `[r10 - 512, r10)`.
//! Callers' frames (above `r10`) stay accessible, so pointers to a caller's stack can be
//! passed down; frames below the current one are not. Each frame is zero-filled when it is
//! entered. (A program that makes no calls and uses `r10` only as the base of constant-offset
//! accesses can name only the bytes those accesses reach: only they are zeroed and valid; see
//! [`mem`] for this and the layout.)
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

mod cursor;
mod exec;
#[cfg(test)]
mod fused_tests;
pub mod fuzz;
pub mod mem;
mod ops;
#[cfg(test)]
mod tests;

pub use ops::CODE_ADDR_BASE;

use crate::error::{LoadError, VmError};
use crate::helper::{HelperCtx, HelperError, Helpers, ProgramCalls, TailCall};
use crate::memory::{AccessFault, Regions, RegionsMut};
use crate::raw_mem::Rmw;
use crate::{EngineKind, Executable, RunContext, RunOutcome, MAX_CALL_DEPTH, STACK_SIZE};
use cursor::Ops;
use exec::Flow;
use mem::{AtomicFault, FrameSize, Mem, StackBounds, StackBuf, STACK_BYTES};
use ops::{AtomicKind, Code, Compiled, Op, ResolvedCall, CODE_ADDR_MASK};
use oxbpf_isa::Program;
use std::any::Any;

/// Iterations `may_goto` allows per run before it starts jumping (Linux's `BPF_MAX_LOOPS`).
pub const MAY_GOTO_LOOPS: u64 = 8 * 1024 * 1024;

/// A program prepared for the interpreter.
///
/// Memory: for `n` instructions, `m` = `(n + 1).next_power_of_two()` ops of 16 bytes plus
/// two 4-byte tables of `m` entries and one of one entry per slot (about 28 bytes per
/// instruction, up to twice that when `n + 1` is just past a power of two), 32 bytes per
/// superinstruction (the plain op it replaced, for the checked loop), and the resolved
/// helpers (see [`Interpreter::code_bytes`]). A run uses no heap: its stack (512 bytes, or 4
/// KiB and 7 saved frames of 40 bytes for a program that calls functions or helpers) and the
/// register file live on the host stack.
pub struct Interpreter {
    ops: Ops,
    plain: Box<[(u32, Op)]>,
    slot_of: Box<[u32]>,
    index_of_slot: Box<[u32]>,
    calls: Box<[ResolvedCall]>,
    seg_len16: Box<[u32]>,
    /// The part of each frame the program can address (see [`mem`]).
    frame: FrameSize,
    /// The program may enter more frames than its own (it gets the full stack).
    calls_frames: bool,
    /// For `callx` (ids known only at run time).
    helpers: Helpers,
}

impl std::fmt::Debug for Interpreter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interpreter")
            .field("ops", &self.ops.as_slice().len())
            .field("superinstructions", &self.plain.len())
            .field("resolved_calls", &self.calls.len())
            .field("frame_bytes", &self.frame.bytes())
            .finish()
    }
}

/// The state of one function activation's run that outlives it: memory, embedder data,
/// the instruction count and limit, the `may_goto` counter and the call depth.
struct Cx<'a> {
    mem: Mem<'a>,
    env: Option<&'a mut dyn Any>,
    /// Instructions executed (exact whenever a loop returns or calls out).
    count: u64,
    limit: u64,
    may_goto_left: u64,
    /// Frames live below frame 0 of the run.
    depth: usize,
    /// `frames[d]`: the caller of the function at depth `d + 1`, for calls made inside the
    /// dispatch loop (a callback's first frame has none: it returns to its helper). Empty
    /// for programs that make no calls.
    frames: &'a mut [Frame],
    /// Where a loop leaves what does not fit its [`Flow`]: the error of a failed run, a
    /// tail call to make.
    error: Option<VmError>,
    tail: Option<(TailCall, u64)>,
}

/// Saved state of a caller during a bpf-to-bpf call.
#[derive(Clone, Copy, Default)]
struct Frame {
    /// The op to return to.
    ret: usize,
    /// The caller's `r6`..`r9`.
    saved: [u64; 4],
}

/// What a helper call produced.
struct CallOut {
    r0: u64,
    /// The run's instruction count after callbacks the helper made, if it made any.
    end: Option<u64>,
    /// A tail call the helper requested.
    tail: Option<TailCall>,
}

impl Interpreter {
    /// Prepares `program` with `helpers` (resolved now: see the module docs).
    ///
    /// Fails with [`LoadError::UnresolvedPseudo`] for a `lddw` that references a map or a
    /// BTF variable.
    pub fn new(program: &Program, helpers: &Helpers) -> Result<Interpreter, LoadError> {
        Interpreter::with_fusion(program, helpers, true)
    }

    /// [`Interpreter::new`], with or without superinstructions (tests compare both).
    fn with_fusion(
        program: &Program,
        helpers: &Helpers,
        fuse: bool,
    ) -> Result<Interpreter, LoadError> {
        let Compiled {
            ops,
            plain,
            slot_of,
            index_of_slot,
            calls,
            seg_len16,
            frame,
            calls_frames,
        } = ops::compile(program, helpers, fuse)?;
        log::debug!(
            "interpreter: {} instructions, {} superinstructions, {} resolved calls, {} frame bytes",
            program.len(),
            plain.len(),
            calls.len(),
            frame.bytes()
        );
        let Some(ops) = Ops::new(ops) else {
            return Err(LoadError::Unsupported {
                pc: 0,
                what: "a program the interpreter translated inconsistently (an interpreter bug)",
            });
        };
        Ok(Interpreter {
            ops,
            plain,
            slot_of,
            index_of_slot,
            calls,
            seg_len16,
            frame,
            calls_frames,
            helpers: helpers.clone(),
        })
    }

    /// Decodes `bytes` and prepares the program.
    pub fn from_bytes(bytes: &[u8], helpers: &Helpers) -> Result<Interpreter, LoadError> {
        Interpreter::new(&Program::decode(bytes)?, helpers)
    }

    /// Bytes taken by the pre-decoded program (ops and tables, not the helpers).
    pub fn code_bytes(&self) -> usize {
        std::mem::size_of_val(self.ops.as_slice())
            + std::mem::size_of_val(&*self.plain)
            + std::mem::size_of_val(&*self.slot_of)
            + std::mem::size_of_val(&*self.index_of_slot)
            + std::mem::size_of_val(&*self.calls)
            + std::mem::size_of_val(&*self.seg_len16)
    }

    fn slot(&self, pc: usize) -> usize {
        self.slot_of.get(pc).copied().unwrap_or(0) as usize
    }

    /// The plain op at `pc` (where the fast ops hold a superinstruction).
    #[cold]
    #[inline(never)]
    fn plain_op(&self, pc: usize) -> &Op {
        match self.plain.binary_search_by_key(&(pc as u32), |&(i, _)| i) {
            Ok(k) => &self.plain[k].1,
            Err(_) => self.ops.at(pc).op(),
        }
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
        if self.ops.as_slice().get(pc).map(|o| o.code) == Some(Code::FellOffEnd) {
            return VmError::FellOffEnd { pc: slot };
        }
        VmError::BudgetExhausted {
            pc: slot,
            budget: limit,
        }
    }

    #[cold]
    #[inline(never)]
    fn depth_exceeded(&self, pc: usize) -> VmError {
        VmError::CallDepthExceeded {
            pc: self.slot(pc),
            max: MAX_CALL_DEPTH,
        }
    }

    #[cold]
    #[inline(never)]
    fn fell_off(&self, pc: usize) -> VmError {
        VmError::FellOffEnd { pc: self.slot(pc) }
    }

    /// The code address `v` as an op index, if it is one.
    #[inline(never)]
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
        let size = op.b >> 32;
        let kind = AtomicKind::ALL
            .get(op.b as u32 as usize)
            .copied()
            .unwrap_or(AtomicKind::Add);
        let addr = if kind == AtomicKind::LoadAcquire {
            r[s]
        } else {
            r[d]
        }
        .wrapping_add(op.off());
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

    /// Calls the resolved helper `index` with `r1`..`r5`. `executed` counts the
    /// instructions run so far, the call included; the helper may call back into the
    /// program (see [`Reentry`]).
    #[inline(never)]
    fn call(
        &self,
        pc: usize,
        index: usize,
        r: &[u64; 11],
        cx: &mut Cx<'_>,
        executed: u64,
    ) -> Result<CallOut, VmError> {
        let Some(call) = self.calls.get(index) else {
            return Err(VmError::Unsupported {
                pc: self.slot(pc),
                what: "a call through a helper table entry that does not exist",
            });
        };
        self.call_resolved(pc, call, r, cx, executed)
    }

    fn call_resolved(
        &self,
        pc: usize,
        call: &ResolvedCall,
        r: &[u64; 11],
        cx: &mut Cx<'_>,
        executed: u64,
    ) -> Result<CallOut, VmError> {
        let slot = self.slot(pc);
        let args = [r[1], r[2], r[3], r[4], r[5]];
        let mut re = Reentry {
            interp: self,
            slot,
            bounds: cx.mem.stack_bounds(),
            depth: cx.depth,
            executed,
            limit: cx.limit,
            may_goto_left: &mut cx.may_goto_left,
            frames: &mut *cx.frames,
            end: None,
        };
        let env = &mut cx.env;
        let (res, tail) = cx.mem.call_helper(|regions: &mut Regions| {
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

    /// `callx` on a value that is not a code address: the helper with that id.
    #[inline(never)]
    fn call_dynamic(
        &self,
        pc: usize,
        id: u64,
        r: &[u64; 11],
        cx: &mut Cx<'_>,
        executed: u64,
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
        self.call_resolved(pc, &call, r, cx, executed)
    }

    #[cold]
    #[inline(never)]
    fn missing_call(&self, pc: usize, op: &Op) -> VmError {
        let pc = self.slot(pc);
        if op.off == 1 {
            VmError::UnknownExternal {
                pc,
                id: op.b as i32,
            }
        } else {
            VmError::UnknownHelper { pc, id: op.b }
        }
    }

    /// Runs a tail-call target in place of the current function: `r1` = the context the
    /// program passed, the run's regions (without this run's stack), the same embedder data
    /// and the rest of the budget. Returns its `r0` and the run's instruction count after it.
    #[inline(never)]
    fn tail_call(&self, tc: TailCall, cx: &mut Cx<'_>, done: u64) -> Result<(u64, u64), VmError> {
        let mut ctx = RunContext::new();
        ctx.args[0] = tc.ctx;
        ctx.regions = cx.mem.regions().duplicate();
        ctx.budget = (cx.limit != u64::MAX).then(|| cx.limit.saturating_sub(done));
        let mut ctx = match cx.env.as_deref_mut() {
            Some(e) => ctx.with_env(e),
            None => ctx,
        };
        let out = tc.target.run(&mut ctx)?;
        Ok((out.r0, done.saturating_add(out.insns_executed.unwrap_or(0))))
    }

    /// Runs a function from op `pc` until it returns: the fast loop, then the checked loop
    /// if the budget gets tight.
    /// Returns `r0` (0 when a legacy packet load ended the run early).
    #[inline(always)]
    fn drive(&self, cx: &mut Cx<'_>, r: &mut [u64; 11], mut pc: usize) -> Result<u64, VmError> {
        let need = self.seg_len16.get(pc).copied().unwrap_or(0) as u64 / 16;
        let base = cx.depth;
        let mut flow = if cx.limit == u64::MAX {
            // No budget (a count of 2^64 is out of reach): the fast loop never hands over.
            self.exec::<false, false>(cx, r, pc, base)
        } else if cx.count.checked_add(need).is_some_and(|n| n <= cx.limit) {
            self.exec::<false, true>(cx, r, pc, base)
        } else {
            Flow::Checked(pc)
        };
        while let Flow::Checked(to) = flow {
            pc = to;
            flow = self.exec::<true, true>(cx, r, pc, base);
        }
        match flow {
            Flow::Value(v) => Ok(v),
            Flow::Abort => Ok(0),
            Flow::TailCall => match cx.tail.take() {
                Some((tc, done)) => {
                    let (r0, total) = self.tail_call(tc, cx, done)?;
                    cx.count = total;
                    Ok(r0)
                }
                None => Err(self.lost(pc)),
            },
            _ => Err(cx.error.take().unwrap_or_else(|| self.lost(pc))),
        }
    }

    /// The error for a loop result without its error or tail call (never happens).
    #[cold]
    #[inline(never)]
    fn lost(&self, pc: usize) -> VmError {
        VmError::Unsupported {
            pc: self.slot(pc),
            what: "a loop result that lost its error or tail call (an interpreter bug)",
        }
    }

    /// One run with a stack buffer of `N` bytes and room for `frames.len()` nested calls.
    #[inline(never)]
    fn execute<const N: usize>(
        &self,
        ctx: &mut RunContext<'_>,
        frames: &mut [Frame],
    ) -> Result<RunOutcome, VmError> {
        let limit = ctx.budget.unwrap_or(u64::MAX);
        // The entry registers one by one: callers often write `args` just before the run, and
        // a wider load over several fresh 8-byte stores would wait for them.
        let [a1, a2, a3, a4, a5] = ctx.args;
        let (regions, env) = ctx.engine_parts();
        let mut stack = StackBuf::<N>::uninit();
        let mem = Mem::new(&mut stack, regions, self.frame);
        let mut r = [0, a1, a2, a3, a4, a5, 0, 0, 0, 0, mem.top()];
        let mut cx = Cx {
            mem,
            env,
            count: 0,
            limit,
            may_goto_left: MAY_GOTO_LOOPS,
            depth: 0,
            frames,
            error: None,
            tail: None,
        };
        let r0 = self.drive(&mut cx, &mut r, 0)?;
        Ok(RunOutcome {
            r0,
            insns_executed: Some(cx.count),
        })
    }
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
    /// The run's call frames (the callback's calls use those past its depth).
    frames: &'i mut [Frame],
    end: Option<u64>,
}

impl ProgramCalls for Reentry<'_> {
    fn call_function(
        &mut self,
        regions: RegionsMut<'_>,
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
        let depth_exceeded = VmError::CallDepthExceeded {
            pc: self.slot,
            max: MAX_CALL_DEPTH,
        };
        if self.depth + 1 >= MAX_CALL_DEPTH {
            return Err(depth_exceeded);
        }
        // SAFETY: `bounds` was taken from this run's `Mem` for the helper call we are in
        // (`Interpreter::call_resolved`), which is inside `Mem::call_helper` and does not
        // touch its `Mem` until the helper returns.
        let mut mem = unsafe { Mem::nested(self.bounds, regions.regions) };
        let Some(fp) = mem.enter_frame() else {
            return Err(depth_exceeded);
        };
        let mut cx = Cx {
            mem,
            env,
            count: self.end.unwrap_or(self.executed),
            limit: self.limit,
            may_goto_left: *self.may_goto_left,
            depth: self.depth + 1,
            frames: &mut *self.frames,
            error: None,
            tail: None,
        };
        let mut r = [0u64; 11];
        r[1..6].copy_from_slice(&args);
        r[10] = fp;
        let res = self.interp.drive(&mut cx, &mut r, target);
        *self.may_goto_left = cx.may_goto_left;
        self.end = Some(cx.count);
        res
    }
}

impl Executable for Interpreter {
    fn run(&self, ctx: &mut RunContext<'_>) -> Result<RunOutcome, VmError> {
        if self.calls_frames {
            let mut frames = [Frame::default(); MAX_CALL_DEPTH - 1];
            self.execute::<STACK_BYTES>(ctx, &mut frames)
        } else {
            self.execute::<STACK_SIZE>(ctx, &mut [])
        }
    }

    fn engine(&self) -> EngineKind {
        EngineKind::Interpreter
    }
}
