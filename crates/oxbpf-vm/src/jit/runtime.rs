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
//!   and returns to [`enter`].

use crate::error::VmError;
use crate::helper::{HelperCtx, HelperFn};
use crate::memory::{MemoryRegion, RegionKind, Regions};
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
    /// when the region is shorter than `2^k`).
    pub rc_start: u64,
    pub rc_lim: [u64; 4],
    /// Write cache: the same, for a writable region.
    pub wc_start: u64,
    pub wc_lim: [u64; 4],
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
    // ---- cold fields, only touched from Rust ----
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
pub const OFF_PKT_DATA: i32 = offset_of!(RunState, pkt_data) as i32;
pub const OFF_PKT_LEN: i32 = offset_of!(RunState, pkt_len) as i32;

const _: () = assert!(OFF_PKT_DATA < 128, "hot fields must stay within a disp8");

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
    /// A checked memory access at instruction slot `pc`.
    Mem { pc: u32, size: u8, write: bool },
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
}

impl Shared {
    fn pc_of(&self, index: u64) -> usize {
        self.slots
            .get(index as usize)
            .map(|&s| s as usize)
            .unwrap_or(self.slot_count)
    }
}

/// Return value of trampolines: `r0` in `rax`, non-zero `err` in `rdx` on failure.
#[repr(C)]
pub struct CallRet {
    pub r0: u64,
    pub err: u64,
}

fn lims(len: u64) -> [u64; 4] {
    let mut l = [0u64; 4];
    for (k, v) in l.iter_mut().enumerate() {
        let s = 1u64 << k;
        *v = if len >= s { len + 1 - s } else { 0 };
    }
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
    let Some(Site::Mem { pc, size, write }) = shared.sites.get(site as usize).cloned() else {
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
/// convention puts the first five arguments, and the state as the sixth.
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
    // SAFETY: as in `mem_check`.
    let st = unsafe { &mut *st };
    // SAFETY: as in `mem_check`.
    let shared = unsafe { &*st.shared };
    let (pc, id, func, external) = match shared.sites.get(st.site as usize) {
        Some(Site::Call {
            pc,
            id,
            external,
            func,
        }) => (*pc as usize, *id, func.clone(), *external),
        Some(Site::CallX { pc }) => {
            let id = st.callx_target;
            (
                *pc as usize,
                id,
                shared.callx.get(id).map(|h| h.func.clone()),
                false,
            )
        }
        _ => {
            st.error = Some(VmError::Unsupported {
                pc: 0,
                what: "internal JIT error: bad call site",
            });
            return CallRet { r0: 0, err: 1 };
        }
    };
    let Some(func) = func else {
        st.error = Some(if external {
            VmError::UnknownExternal { pc, id: id as i32 }
        } else {
            VmError::UnknownHelper { pc, id }
        });
        return CallRet { r0: 0, err: 1 };
    };
    // SAFETY: `regions` points to the run's regions, exclusively ours during the run.
    let regions = unsafe { &mut *st.regions };
    // The helper sees the live stack as one region for the duration of the call.
    let stack = st.live_stack(st.cur_fp);
    let before = regions.len();
    if let Some(r) = stack {
        regions.push(r);
    }
    // SAFETY: `env` came from the run's `&mut dyn Any`, which outlives the run and is not
    // otherwise used while generated code runs.
    let env = st.env.map(|mut p| unsafe { p.as_mut() });
    let mut hctx = HelperCtx::new(regions, env, pc);
    let result = func(&mut hctx, [r1, r2, r3, r4, r5]);
    if let Some(r) = stack {
        // Usually the helper added nothing and the stack region is still the last one.
        if regions.len() == before + 1 && regions.iter().last() == Some(&r) {
            regions.truncate(before);
        } else {
            regions.remove(r.start, RegionKind::Stack);
        }
    }
    match result {
        Ok(r0) => {
            // A helper may have added regions or changed the stack: drop the caches.
            st.rc_lim = [0; 4];
            st.wc_lim = [0; 4];
            CallRet { r0, err: 0 }
        }
        Err(e) => {
            st.error = Some(VmError::HelperFailed {
                pc,
                id,
                message: e.to_string(),
            });
            CallRet { r0: 0, err: 1 }
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

/// Runs generated code that never uses its state (compiled without `r12`).
///
/// # Safety
/// As for [`enter`], and the code must be stateless (`compile::Output::stateless`).
#[inline]
pub unsafe fn enter_stateless(entry: EntryFn, args: [u64; 5]) -> u64 {
    // SAFETY: the caller guarantees stateless generated code, which ignores its sixth
    // argument.
    unsafe {
        entry(
            args[0],
            args[1],
            args[2],
            args[3],
            args[4],
            std::ptr::null_mut(),
        )
    }
}

/// Turns an error reported by generated code into a [`VmError`].
pub fn take_error(st: &mut RunState, shared: &Shared, budget: u64) -> Option<VmError> {
    if let Some(e) = st.error.take() {
        return Some(e);
    }
    Some(match st.err_kind {
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
            budget,
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
