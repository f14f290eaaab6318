//! What JIT code calls and what calls JIT code: the per-run state block that `r12` points
//! to, the helper trampoline, the out-of-line memory check, and the entry call.
//!
//! Protocol between generated code and this module:
//! - The entry function has the System V signature
//!   `fn(r1, r2, r3, r4, r5, state: *mut RunState) -> r0`: the five arguments arrive
//!   already in the registers eBPF `r1`-`r5` are mapped to.
//! - Generated code keeps `state` in `r12` for the whole run and reads/writes the fields
//!   at the `OFF_*` offsets below.
//! - Every function called from generated code is `extern "sysv64"`, never unwinds, and
//!   reports failure by storing a [`VmError`] in `RunState::error` and returning non-zero;
//!   generated code then jumps to its error exit, which restores the entry stack pointer
//!   and returns to [`enter`] (or, inside a callback, to the callback entry called by
//!   `Reentry::call_function`).
//! - The helper trampoline returns `r0` in `rax` and a status in `rdx`: 0 go on, 1 the run
//!   failed, 2 the helper requested a tail call, which ran: the current function returns
//!   `rax` (see [`crate::helper`] for the semantics).
//!
//! Re-entry ([`ProgramCalls`]): every helper call gets a capability that runs a function
//! of the program through the callback entry of the generated code, on the same
//! `RunState` (same budget, `may_goto` counter, regions, caches and stack), with `r10`
//! 512 bytes below the calling instruction's and `RunState::main_rsp` pointing into the
//! callback entry's frame, so errors inside unwind back to it.
//!
//! Aliasing: generated code reads and writes the state through `r12` while Rust code
//! called from it (trampoline, `mem_check`, callbacks) runs, so Rust only touches the
//! state through the raw pointer, one field access at a time, and never holds a `&mut
//! RunState` across a call into generated code or into a helper.

use crate::error::VmError;
use crate::helper::{HelperCtx, HelperError, HelperFn, ProgramCalls, TailCall};
use crate::memory::{MemoryRegion, RegionKind, Regions, RegionsMut};
use crate::{RunContext, MAX_CALL_DEPTH, STACK_SIZE};
use std::any::Any;
use std::mem::offset_of;
use std::ptr::NonNull;
use std::sync::Arc;

/// Per-run state. `#[repr(C)]`: generated code addresses the hot fields at fixed offsets
/// (the hot ones below 128, so one displacement byte).
#[repr(C)]
pub struct RunState {
    /// Instructions left in the budget (`u64::MAX` without one).
    pub budget: u64,
    /// `may_goto` iterations left.
    pub may_goto: u64,
    /// Lowest byte of the eBPF stack area (written by the prologue).
    pub stack_lo: u64,
    /// Read cache: a region reads were last found in. An access of `2^k` bytes at `a` hits
    /// when `a - rc_start < rc_lim[k]` (unsigned; `rc_lim[k]` is `len + 1 - 2^k`, or 0
    /// when the region is shorter than `2^k`), for sizes up to 64 bytes; the last entry
    /// (`LEN`) is the region's length, for grouped checks of larger ranges
    /// ([`super::compile`]), which test `a - start + span <= len` without carry.
    pub rc_start: u64,
    pub rc_lim: [u64; LIMS],
    /// Write cache: the same, for a writable region.
    pub wc_start: u64,
    pub wc_lim: [u64; LIMS],
    /// Stack cache: the live stack, for reads and writes through registers that probably
    /// point into the stack (`Site::Mem::stack`), so that they do not evict the region
    /// other accesses use from the read and write caches.
    pub sc_start: u64,
    pub sc_lim: [u64; LIMS],
    /// Index into [`Shared::sites`] of the helper call or memory access in progress.
    pub site: u32,
    /// Error reported by generated code itself (`ERR_*`), 0 when none.
    pub err_kind: u32,
    /// `rsp` of the outermost frame's body (written by the prologue), restored on error.
    pub main_rsp: u64,
    /// Packet of the legacy packet loads: start and length.
    pub pkt_data: u64,
    /// `r10` at the helper call in progress (the live stack is `[cur_fp - 512, stack_top)`).
    pub cur_fp: u64,
    pub pkt_len: u64,
    /// One past the highest byte: `r10` of the outermost frame (written by the prologue).
    pub stack_top: u64,
    /// Lowest `r10` from which one more bpf-to-bpf call fits (prologue, when needed).
    pub min_call_fp: u64,
    /// Argument of `err_kind` (an instruction index or an address).
    pub err_arg: u64,
    /// Register operand of the `callx` in progress.
    pub callx_target: u64,
    /// Non-zero when a cache holds the live stack (generated code clears the caches after
    /// a bpf-to-bpf call returns, when the live stack shrinks).
    pub stack_cached: u64,
    /// Callbacks in progress (generated code's error exit unwinds to the innermost one's
    /// entry while this is non-zero).
    pub cb_depth: u64,
    /// Callback entry inputs: the callback's `r10` and the native address of its function.
    pub cb_fp: u64,
    pub cb_target: u64,
    // ---- cold fields, only touched from Rust ----
    /// The budget the run started with (for [`VmError::BudgetExhausted`]).
    pub budget_start: u64,
    /// Set when a callback ran during the helper call in progress (its frames may be in
    /// the region caches).
    pub callback_ran: bool,
    pub regions: *mut Regions,
    pub env: Option<NonNull<dyn Any>>,
    pub shared: *const Shared,
    pub error: Option<VmError>,
}

pub const OFF_BUDGET: i32 = offset_of!(RunState, budget) as i32;
pub const OFF_MAY_GOTO: i32 = offset_of!(RunState, may_goto) as i32;
pub const OFF_STACK_LO: i32 = offset_of!(RunState, stack_lo) as i32;
pub const OFF_STACK_TOP: i32 = offset_of!(RunState, stack_top) as i32;
pub const OFF_MAIN_RSP: i32 = offset_of!(RunState, main_rsp) as i32;
pub const OFF_MIN_CALL_FP: i32 = offset_of!(RunState, min_call_fp) as i32;
pub const OFF_CUR_FP: i32 = offset_of!(RunState, cur_fp) as i32;
pub const OFF_STACK_CACHED: i32 = offset_of!(RunState, stack_cached) as i32;
pub const OFF_SITE: i32 = offset_of!(RunState, site) as i32;
pub const OFF_ERR_KIND: i32 = offset_of!(RunState, err_kind) as i32;
pub const OFF_ERR_ARG: i32 = offset_of!(RunState, err_arg) as i32;
pub const OFF_CALLX: i32 = offset_of!(RunState, callx_target) as i32;
pub const OFF_RC_START: i32 = offset_of!(RunState, rc_start) as i32;
pub const OFF_RC_LIM: i32 = offset_of!(RunState, rc_lim) as i32;
pub const OFF_WC_START: i32 = offset_of!(RunState, wc_start) as i32;
pub const OFF_WC_LIM: i32 = offset_of!(RunState, wc_lim) as i32;
pub const OFF_SC_START: i32 = offset_of!(RunState, sc_start) as i32;
pub const OFF_SC_LIM: i32 = offset_of!(RunState, sc_lim) as i32;
pub const OFF_PKT_DATA: i32 = offset_of!(RunState, pkt_data) as i32;
pub const OFF_PKT_LEN: i32 = offset_of!(RunState, pkt_len) as i32;
pub const OFF_CB_DEPTH: i32 = offset_of!(RunState, cb_depth) as i32;
pub const OFF_CB_FP: i32 = offset_of!(RunState, cb_fp) as i32;
pub const OFF_CB_TARGET: i32 = offset_of!(RunState, cb_target) as i32;

/// Entries of the cache limit arrays: access sizes `1 << k` for k in `0..LEN`, then the
/// region length.
pub const LIMS: usize = 8;
/// Index of the region length in the cache limit arrays.
pub const LEN: usize = 7;

/// `err_kind` values stored by generated code.
pub const ERR_NONE: u32 = 0;
/// Execution ran past the last instruction; `err_arg` is its index.
pub const ERR_FELL_OFF: u32 = 1;
/// A call would exceed `MAX_CALL_DEPTH`; `err_arg` is the call's instruction index.
pub const ERR_CALL_DEPTH: u32 = 2;
/// The budget ran out in the block starting at instruction `err_arg`.
pub const ERR_BUDGET: u32 = 3;
/// Misaligned atomic at address `err_arg`; `site` is the memory site.
pub const ERR_MISALIGNED: u32 = 4;

/// An out-of-line operation of generated code, by index (`RunState::site`).
#[derive(Clone)]
pub enum Site {
    /// A checked memory access at instruction slot `pc`; `stack` when it uses the stack
    /// cache.
    Mem {
        pc: u32,
        size: u8,
        write: bool,
        stack: bool,
    },
    /// A helper or external call; `func` is `None` when nothing is registered under `id`.
    Call {
        pc: u32,
        id: u64,
        external: bool,
        func: Option<Arc<HelperFn>>,
    },
    /// `callx`: the helper id is in `RunState::callx_target`.
    CallX { pc: u32 },
}

/// Everything generated code and the runtime share for one compiled program.
pub struct Shared {
    pub sites: Vec<Site>,
    /// Helpers for `callx`, by id.
    pub callx: crate::helper::Helpers,
    /// First slot of each instruction (for error pcs).
    pub slots: Vec<u32>,
    /// Slots in the program.
    pub slot_count: usize,
    /// Bytes of the eBPF stack area (0 when the program has none).
    pub stack_bytes: usize,
    /// The code counts instructions (budget variant).
    pub counted: bool,
    /// Functions helpers may call back, `(slot, code offset)` sorted by slot.
    pub entries: Vec<(u32, u32)>,
    /// Offset of the callback entry in the code.
    pub cb_entry: Option<usize>,
    /// Address of the code (set once it is mapped).
    pub code_base: usize,
}

impl Shared {
    fn pc_of(&self, index: u64) -> usize {
        self.slots
            .get(index as usize)
            .map(|&s| s as usize)
            .unwrap_or(self.slot_count)
    }

    /// Native address of the function at code address `v` (`CODE_ADDR_BASE + slot`).
    fn function_at(&self, v: u64) -> Option<u64> {
        let slot = u32::try_from(v.checked_sub(super::CODE_ADDR_BASE)?).ok()?;
        let i = self.entries.binary_search_by_key(&slot, |e| e.0).ok()?;
        Some(self.code_base as u64 + self.entries[i].1 as u64)
    }
}

/// Return value of trampolines: `r0` in `rax`, non-zero `err` in `rdx` on failure.
#[repr(C)]
pub struct CallRet {
    pub r0: u64,
    pub err: u64,
}

/// The cache limits of a region of `len` bytes (see [`RunState::rc_lim`]).
#[inline]
pub fn lims(len: u64) -> [u64; LIMS] {
    let mut l = [0u64; LIMS];
    for (k, v) in l[..LEN].iter_mut().enumerate() {
        let s = 1u64 << k;
        *v = if len >= s { len + 1 - s } else { 0 };
    }
    l[LEN] = len;
    l
}

impl RunState {
    /// The live stack for frame pointer `fp`: the current frame and its callers',
    /// `[fp - 512, top)` (nothing when the program has no stack).
    fn live_stack(&self, fp: u64) -> Option<MemoryRegion> {
        if self.stack_top == 0 {
            return None;
        }
        let lo = fp.wrapping_sub(crate::STACK_SIZE as u64);
        let len = self.stack_top.wrapping_sub(lo);
        (lo >= self.stack_lo && len <= self.stack_top - self.stack_lo)
            .then(|| MemoryRegion::new(lo, len, true, RegionKind::Stack))
    }
}

/// Out-of-line memory check (called from generated code on a cache miss, with the current
/// `r10`). Returns 0 when the access is allowed (and caches its region), 1 after storing
/// the fault.
///
/// # Safety
/// `st` must be the state of the current run (generated code passes `r12`).
pub unsafe extern "sysv64" fn mem_check(st: *mut RunState, addr: u64, site: u32, fp: u64) -> u64 {
    // SAFETY: generated code passes the state pointer `enter` gave it, which is live and
    // not otherwise borrowed while generated code runs.
    let st = unsafe { &mut *st };
    // SAFETY: `shared` points into the `JitProgram` that is running, alive for the call.
    let shared = unsafe { &*st.shared };
    let Some(Site::Mem {
        pc,
        size,
        write,
        stack,
    }) = shared.sites.get(site as usize).cloned()
    else {
        st.error = Some(VmError::Unsupported {
            pc: 0,
            what: "internal JIT error: bad memory site",
        });
        return 1;
    };
    let size = size as u64;
    let found = match st.live_stack(fp) {
        Some(r) if r.contains(addr, size) => {
            st.stack_cached = 1;
            if stack {
                st.sc_start = r.start;
                st.sc_lim = lims(r.len);
                return 0;
            }
            Ok(r)
        }
        // SAFETY: `regions` points to the run's regions, exclusively ours during the run.
        _ => unsafe { &*st.regions }.check(addr, size, write).copied(),
    };
    match found {
        Ok(r) => {
            if write {
                st.wc_start = r.start;
                st.wc_lim = lims(r.len);
            } else {
                st.rc_start = r.start;
                st.rc_lim = lims(r.len);
            }
            0
        }
        Err(fault) => {
            st.error = Some(VmError::MemoryFault {
                pc: pc as usize,
                fault,
            });
            1
        }
    }
}

/// The helper trampoline: generated code calls it with eBPF `r1`-`r5` where the C calling
/// convention puts the first five arguments, and the state as the sixth. Returns `r0` and
/// the status described in the module docs.
///
/// # Safety
/// `st` must be the state of the current run.
pub unsafe extern "sysv64" fn helper_trampoline(
    r1: u64,
    r2: u64,
    r3: u64,
    r4: u64,
    r5: u64,
    st: *mut RunState,
) -> CallRet {
    // SAFETY: generated code passes the state pointer `enter` gave it; `shared` points
    // into the `JitProgram` that is running, alive and immutable for the whole run.
    let shared = unsafe { &*(*st).shared };
    // SAFETY: as above (a plain read of the state).
    let site = unsafe { (*st).site } as usize;
    let (pc, id, func, external) = match shared.sites.get(site) {
        Some(Site::Call {
            pc,
            id,
            external,
            func,
        }) => (*pc as usize, *id, func.as_deref(), *external),
        Some(Site::CallX { pc }) => {
            // SAFETY: as above.
            let id = unsafe { (*st).callx_target };
            (
                *pc as usize,
                id,
                shared.callx.get(id).map(|h| &*h.func),
                false,
            )
        }
        _ => {
            // SAFETY: as above.
            unsafe {
                (*st).error = Some(VmError::Unsupported {
                    pc: 0,
                    what: "internal JIT error: bad call site",
                })
            };
            return CallRet { r0: 0, err: 1 };
        }
    };
    let Some(func) = func else {
        let e = if external {
            VmError::UnknownExternal { pc, id: id as i32 }
        } else {
            VmError::UnknownHelper { pc, id }
        };
        // SAFETY: as above.
        unsafe { (*st).error = Some(e) };
        return CallRet { r0: 0, err: 1 };
    };
    // SAFETY: forwarded from this function's contract.
    unsafe { call_helper(st, shared, pc, id, func, [r1, r2, r3, r4, r5]) }
}

/// Runs one helper: the live stack as a region for the duration of the call, the
/// re-entry capability, the result mapped to the trampoline's status, a requested tail
/// call run, and the region caches dropped only when the regions changed.
///
/// # Safety
/// `st` must be the state of the current run and `shared` its program's.
#[inline]
unsafe fn call_helper(
    st: *mut RunState,
    shared: &Shared,
    pc: usize,
    id: u64,
    func: &HelperFn,
    args: [u64; 5],
) -> CallRet {
    // SAFETY: `regions` points to the run's regions (or a callback's reborrow of them),
    // not otherwise borrowed while generated code runs; `env` likewise to the run's
    // embedder data. No reference to the state itself is held across the helper call.
    let (regions, env, stack) = unsafe {
        let stack = live_stack(st, (*st).cur_fp);
        (
            &mut *(*st).regions,
            (*st).env.map(|mut p| p.as_mut()),
            stack,
        )
    };
    let before = regions.len();
    if let Some(r) = stack {
        // SAFETY: the live stack is this run's own memory, alive for the whole run; the
        // region is removed again before this function returns (at the latest, should a
        // helper have added another stack region at the same address that is removed in
        // its place, when the run releases its mark right after the generated code
        // returns, before anything reads the regions again).
        unsafe { regions.push(r) };
    }
    let generation = regions.generation();
    let mut calls = Reentry { st, pc };
    // The result is matched right away, field by field, and the context is dropped in
    // place: copying either as a whole (16-byte moves over 8-byte stores just made)
    // stalls store forwarding, about 5 ns per call on this machine.
    let (ret, tail) = {
        let mut hctx = HelperCtx::new(&mut *regions, env, pc).with_program_calls(&mut calls);
        match func(&mut hctx, args) {
            Ok(r0) if !hctx.has_tail_call() => (CallRet { r0, err: 0 }, None),
            Ok(_) => (CallRet { r0: 0, err: 0 }, hctx.take_tail_call()),
            // SAFETY: forwarded from this function's contract.
            Err(e) => (unsafe { helper_error(st, pc, id, e) }, None),
        }
    };
    // SAFETY: forwarded from this function's contract.
    unsafe { after_helper(st, regions, stack, before, generation) };
    match tail {
        None => ret,
        // SAFETY: forwarded; the stack region was removed just above.
        Some(tc) => unsafe { tail_call(st, shared, tc) },
    }
}

/// After a helper call: the live stack region removed again and the region caches
/// dropped only when the regions changed or a callback ran.
///
/// # Safety
/// As for [`call_helper`].
#[inline(always)]
unsafe fn after_helper(
    st: *mut RunState,
    regions: &mut Regions,
    stack: Option<MemoryRegion>,
    before: usize,
    generation: u64,
) {
    let changed = regions.generation() != generation;
    if let Some(r) = stack {
        // Usually the helper added nothing and the stack region is still the last one.
        if regions.len() == before + 1 && regions.iter().last() == Some(&r) {
            regions.truncate(before);
        } else {
            regions.remove(r.start, RegionKind::Stack);
        }
    }
    // SAFETY: plain field accesses of the run's state (see the module docs).
    unsafe {
        // Cached regions stay valid unless the helper changed the regions, or a callback
        // ran (its frames, below the live stack, may be cached).
        if changed || (*st).callback_ran {
            (*st).callback_ran = false;
            (*st).rc_lim = [0; LIMS];
            (*st).wc_lim = [0; LIMS];
            (*st).sc_lim = [0; LIMS];
            (*st).stack_cached = 0;
        }
    }
}

/// A helper failed: the run's error (the original error of a failing callback, else
/// `HelperFailed`).
///
/// # Safety
/// `st` must be the state of the current run.
#[cold]
#[inline(never)]
unsafe fn helper_error(st: *mut RunState, pc: usize, id: u64, e: HelperError) -> CallRet {
    let e = match e {
        HelperError::Program(e) => *e,
        e => VmError::HelperFailed {
            pc,
            id,
            message: e.to_string(),
        },
    };
    // SAFETY: the caller's contract.
    unsafe { (*st).error = Some(e) };
    CallRet { r0: 0, err: 1 }
}

/// Runs a tail-call target in place of the current function: `r1` = the context the
/// program passed, a copy of the run's regions (without the stack), the same embedder data
/// and, in the budget variant, the rest of the budget; its instructions count toward the
/// run. Status 2 makes generated code return the target's `r0` from the current function.
///
/// # Safety
/// As for [`call_helper`], after the live stack region was removed.
#[cold]
#[inline(never)]
unsafe fn tail_call(st: *mut RunState, shared: &Shared, tc: TailCall) -> CallRet {
    let mut ctx = RunContext::new();
    ctx.args[0] = tc.ctx;
    // SAFETY: as in `call_helper`: the regions are copied (the shared borrow ends at once)
    // and `env` is lent to the target's run for its duration only; nothing else uses the
    // run's embedder data meanwhile.
    let env = unsafe {
        ctx.regions = (*(*st).regions).duplicate();
        if shared.counted {
            ctx.budget = Some((*st).budget);
        }
        (*st).env.map(|mut p| p.as_mut())
    };
    let mut ctx = match env {
        Some(e) => ctx.with_env(e),
        None => ctx,
    };
    let out = tc.target.run(&mut ctx);
    drop(ctx);
    // SAFETY: plain field accesses of the run's state.
    unsafe {
        match out {
            Ok(o) => {
                if shared.counted {
                    (*st).budget = (*st).budget.saturating_sub(o.insns_executed.unwrap_or(0));
                }
                CallRet { r0: o.r0, err: 2 }
            }
            Err(e) => {
                (*st).error = Some(e);
                CallRet { r0: 0, err: 1 }
            }
        }
    }
}

/// The live stack for frame pointer `fp` (see [`RunState::live_stack`]), read through the
/// raw state pointer.
///
/// # Safety
/// `st` must be the state of the current run.
unsafe fn live_stack(st: *const RunState, fp: u64) -> Option<MemoryRegion> {
    // SAFETY: a short shared borrow for the computation, no call in between.
    unsafe { (*st).live_stack(fp) }
}

/// The re-entry capability given to each helper call (see the module docs).
struct Reentry {
    st: *mut RunState,
    /// Slot of the calling instruction.
    pc: usize,
}

impl ProgramCalls for Reentry {
    fn call_function(
        &mut self,
        regions: RegionsMut<'_>,
        env: Option<&mut dyn Any>,
        code_addr: u64,
        args: [u64; 5],
    ) -> Result<u64, VmError> {
        let st = self.st;
        // SAFETY: `st` is the state of the run whose helper call we are in (the
        // trampoline made this object); `shared` is immutable for the run.
        let shared = unsafe { &*(*st).shared };
        let (target, entry) = match (shared.function_at(code_addr), shared.cb_entry) {
            (Some(t), Some(e)) => (t, shared.code_base + e),
            _ => {
                return Err(VmError::Unsupported {
                    pc: self.pc,
                    what: "callback to an address that is not a function of this program",
                })
            }
        };
        // SAFETY: plain reads of the state.
        let (fp, top) = unsafe { ((*st).cur_fp, (*st).stack_top) };
        let depth = (top.wrapping_sub(fp) / STACK_SIZE as u64) as usize;
        if depth + 1 >= MAX_CALL_DEPTH {
            return Err(VmError::CallDepthExceeded {
                pc: self.pc,
                max: MAX_CALL_DEPTH,
            });
        }
        // SAFETY: `entry` is the callback entry of the running program's code (alive for
        // the run), generated for the `EntryFn` signature.
        let entry: EntryFn = unsafe { std::mem::transmute::<usize, EntryFn>(entry) };
        // SAFETY: the callback runs on this run's state: the fields it changes are saved
        // and restored around it; `regions` and `env` (reborrowed from the helper's
        // context) replace the state's pointers for its duration, so everything the
        // callback reaches derives from them. The callback's frame (`fp - 512`) is inside
        // the stack area: the depth check above leaves room for it (the area has
        // MAX_CALL_DEPTH frames whenever the program has code addresses).
        unsafe {
            let saved_regions = (*st).regions;
            let saved_env = (*st).env;
            let saved_main_rsp = (*st).main_rsp;
            let saved_fp = (*st).cur_fp;
            let saved_site = (*st).site;
            let saved_callx = (*st).callx_target;
            (*st).regions = regions.regions;
            (*st).env = env.map(NonNull::from);
            (*st).cb_fp = fp - STACK_SIZE as u64;
            (*st).cb_target = target;
            (*st).cb_depth += 1;
            let r0 = entry(args[0], args[1], args[2], args[3], args[4], st);
            (*st).cb_depth -= 1;
            (*st).regions = saved_regions;
            (*st).env = saved_env;
            (*st).main_rsp = saved_main_rsp;
            (*st).cur_fp = saved_fp;
            (*st).site = saved_site;
            (*st).callx_target = saved_callx;
            (*st).callback_ran = true;
            match take_error(st, shared) {
                Some(e) => Err(e),
                None => Ok(r0),
            }
        }
    }
}

/// Signature of generated entry code.
pub type EntryFn = unsafe extern "sysv64" fn(u64, u64, u64, u64, u64, *mut RunState) -> u64;

/// Runs generated code.
///
/// # Safety
/// `entry` must be the entry of code generated for `shared` by this JIT, in a live
/// [`super::buffer::CodeBuffer`].
#[inline]
pub unsafe fn enter(entry: EntryFn, args: [u64; 5], st: &mut RunState) -> u64 {
    // SAFETY: the caller guarantees `entry` is generated code following the protocol
    // above; it only touches memory through `st` and through addresses checked against
    // the run's regions (checked mode) or proved safe by a verifier (verified mode).
    unsafe { entry(args[0], args[1], args[2], args[3], args[4], st) }
}

/// The entry of code that never uses its state (compiled without `r12`).
#[derive(Clone, Copy, Debug)]
pub struct Direct {
    addr: usize,
}

type Entry5 = unsafe extern "sysv64" fn(u64, u64, u64, u64, u64) -> u64;

impl Direct {
    /// # Safety
    /// `addr` must be the entry of stateless generated code (`compile::Output::stateless`)
    /// and stay mapped for as long as the value is used.
    pub unsafe fn new(addr: usize) -> Direct {
        Direct { addr }
    }

    /// Calls the code with `r1`..`r5` = `args`. No branch: all five registers are passed
    /// whether the program reads them or not (loads are cheaper than a dispatch).
    ///
    /// # Safety
    /// `args` must be arguments a run of this code may be given: verified code reads and
    /// writes through them without checks (for a hook, `r1` points at a live context of
    /// the layout the program was verified for). Checked code requires nothing.
    #[inline(always)]
    pub unsafe fn call(self, args: &[u64; 5]) -> u64 {
        // SAFETY: `new`'s contract: stateless code that never looks at its state (the
        // sixth argument, left undefined here, is never read); it only touches its own
        // stack frame (checked mode without memory accesses) or memory a verifier proved
        // safe for the arguments the caller vouches for (this fn's contract).
        unsafe {
            std::mem::transmute::<usize, Entry5>(self.addr)(
                args[0], args[1], args[2], args[3], args[4],
            )
        }
    }

    /// Calls the code with `r1` = `r1` and `r2`..`r5` = 0.
    ///
    /// # Safety
    /// As [`Direct::call`].
    #[inline(always)]
    pub unsafe fn call1(self, r1: u64) -> u64 {
        // SAFETY: as in `call`.
        unsafe { std::mem::transmute::<usize, Entry5>(self.addr)(r1, 0, 0, 0, 0) }
    }
}

/// Turns an error reported by generated code into a [`VmError`] and clears it from the
/// state.
///
/// # Safety
/// `st` must point to a live state not borrowed elsewhere during the call.
pub unsafe fn take_error(st: *mut RunState, shared: &Shared) -> Option<VmError> {
    // SAFETY: the caller guarantees exclusive access for the duration of the call.
    let st = unsafe { &mut *st };
    if let Some(e) = st.error.take() {
        st.err_kind = ERR_NONE;
        return Some(e);
    }
    let kind = std::mem::replace(&mut st.err_kind, ERR_NONE);
    Some(match kind {
        ERR_NONE => return None,
        ERR_FELL_OFF => VmError::FellOffEnd {
            pc: shared.pc_of(st.err_arg),
        },
        ERR_CALL_DEPTH => VmError::CallDepthExceeded {
            pc: shared.pc_of(st.err_arg),
            max: crate::MAX_CALL_DEPTH,
        },
        ERR_BUDGET => VmError::BudgetExhausted {
            // The block at `err_arg` needed more than the `st.budget` left: the
            // instruction that exceeded it is `st.budget` instructions into the block.
            pc: shared.pc_of(st.err_arg + st.budget),
            budget: st.budget_start,
        },
        ERR_MISALIGNED => {
            let (pc, size) = match shared.sites.get(st.site as usize) {
                Some(Site::Mem { pc, size, .. }) => (*pc as usize, *size as u64),
                _ => (0, 0),
            };
            VmError::MisalignedAtomic {
                pc,
                addr: st.err_arg,
                size,
            }
        }
        _ => VmError::Unsupported {
            pc: 0,
            what: "internal JIT error: unknown error kind",
        },
    })
}
