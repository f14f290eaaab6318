//! The x86-64 JIT: eBPF programs to native code with the interpreter's semantics.
//!
//! ```text
//! Program ──analysis──▶ facts ──compile──▶ bytes ──CodeBuffer (W, then R+X)──▶ JitProgram
//! ```
//!
//! - [`JitProgram::compile`] turns a [`Program`] into machine code for one
//!   [`JitOptions`]: [`JitMode::Checked`] bounds-checks every memory access against the
//!   run's regions (for programs nobody verified). [`JitMode::Verified`] trusts a verifier
//!   and emits plain loads and stores: such code is made only by the `unsafe`
//!   [`JitProgram::compile_verified`] (`compile` refuses it with
//!   [`LoadError::VerifiedModeNeedsUnsafe`]), whose caller vouches that a verifier
//!   accepted the program for the memory every run of it will be given.
//! - [`JitProgram`] implements [`Executable`]. A run of code that needs no run state (no
//!   helpers, calls, memory checks, packet loads or failure) is one indirect call
//!   ([`JitProgram::call1`] is the hook entry with `r1` only); other runs fill a state block
//!   first.
//! - Callbacks and tail calls requested by helpers re-enter the generated code on the same
//!   state ([`runtime`]); `callx` on a code address calls any instruction start, as in the
//!   interpreter.
//!
//! Register mapping, frame layout and the calling protocol are described in [`compile`]
//! and [`runtime`].
//!
//! **Instruction budget.** Runs without a budget use a body without any counting (and
//! report no `insns_executed`). With `budget_checks`, runs with a budget use a second
//! body, compiled on the first such run, in which every basic block subtracts its length
//! from the budget when it is entered. When a block does not fit in what is left, the run
//! stops *before executing any of the block* with [`VmError::BudgetExhausted`] whose `pc`
//! is the exact instruction that would have exceeded the budget (the one the interpreter
//! stops at). The reported `insns_executed` is exact: a block that is entered runs to its
//! end (or the run stops with another error). Basic blocks end at jumps, calls (helper
//! calls included, so counts are exact at callbacks and tail calls), exits and before
//! every jump target. A budget of `u64::MAX` counts without a limit.

pub mod analysis;
pub mod buffer;
pub mod compile;
pub mod fuzz;
pub mod runtime;
pub mod x86;

use crate::error::{LoadError, VmError};
use crate::helper::Helpers;
use crate::memory::RegionKind;
use crate::{EngineKind, Executable, RunContext, RunOutcome};
use buffer::CodeBuffer;
use oxbpf_isa::Program;
use runtime::{Direct, EntryFn, RunState, Shared};
use std::ptr::NonNull;
use std::sync::OnceLock;

/// How much the generated code trusts the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum JitMode {
    /// Every memory access is checked against the run's regions: an inline check of the
    /// stack area (for `r10`-based accesses) or of a one-entry region cache, and an
    /// out-of-line lookup in the region list on a miss. Registers start at zero, the stack
    /// is zero-filled, `r1`-`r5` survive helper calls, atomics are checked for alignment.
    #[default]
    Checked,
    /// No run-time memory checks: for programs a verifier accepted. Only
    /// [`JitProgram::compile_verified`] (`unsafe`) compiles in this mode.
    Verified,
}

/// CPU features the code generator may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CpuFeatures {
    /// `shlx`/`shrx`/`sarx` for register shifts.
    pub bmi2: bool,
}

impl CpuFeatures {
    /// What this CPU has.
    pub fn detect() -> CpuFeatures {
        CpuFeatures {
            bmi2: std::arch::is_x86_feature_detected!("bmi2"),
        }
    }

    /// Plain x86-64, no extensions.
    pub const fn baseline() -> CpuFeatures {
        CpuFeatures { bmi2: false }
    }
}

impl Default for CpuFeatures {
    fn default() -> Self {
        CpuFeatures::detect()
    }
}

/// Compilation options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct JitOptions {
    pub mode: JitMode,
    /// Support [`RunContext::budget`]: runs with a budget use a second body that counts
    /// instructions per basic block, compiled on the first such run (runs without a budget
    /// never count). Without it a run that asks for a budget is refused.
    pub budget_checks: bool,
    /// Constant blinding against JIT spraying: immediates never appear as such in the code.
    pub constant_blinding: bool,
    pub cpu: CpuFeatures,
}

impl Default for JitOptions {
    fn default() -> Self {
        JitOptions {
            mode: JitMode::Checked,
            budget_checks: true,
            constant_blinding: false,
            cpu: CpuFeatures::detect(),
        }
    }
}

impl JitOptions {
    /// Checked mode with budget checks (the default): for programs nobody verified; runs
    /// may have a budget.
    pub fn checked() -> JitOptions {
        JitOptions::default()
    }

    /// Verified mode without budget checks: the fastest code, for verified programs (with
    /// [`JitProgram::compile_verified`]).
    pub fn verified() -> JitOptions {
        JitOptions {
            mode: JitMode::Verified,
            budget_checks: false,
            ..JitOptions::default()
        }
    }
}

/// Base of code addresses: `lddw rX, <code address>` loads `CODE_ADDR_BASE + slot` of the
/// function (the interpreter's convention; never a valid user-space host address).
pub const CODE_ADDR_BASE: u64 = 0x0000_c0de_0000_0000;

/// The value `lddw rX, <code address>` loads for the function starting at `slot`.
pub fn code_addr_value(slot: usize) -> u64 {
    CODE_ADDR_BASE + slot as u64
}

/// One compiled body: with or without instruction counting.
struct Variant {
    entry: EntryFn,
    shared: Shared,
    insn_offsets: Vec<u32>,
    body_end: usize,
    pool_start: usize,
    uses_packet: bool,
}

/// A compiled counting body and its own code mapping.
struct Counted {
    code: CodeBuffer,
    v: Variant,
}

/// A program compiled to x86-64.
///
/// Runs without a [`RunContext::budget`] use a body without instruction counting (and
/// report no [`RunOutcome::insns_executed`]). With [`JitOptions::budget_checks`] runs with
/// a budget use a second body that counts instructions per basic block: it is compiled the
/// first time a run asks for a budget (from the program, kept by a shared reference as
/// [`Program`]'s `clone` is, and a copy of the helpers), so programs that never get a
/// budget pay for one body only. Without
/// `budget_checks` a run with a budget is refused. Pass `Some(u64::MAX)` as the budget to
/// count instructions without a limit.
pub struct JitProgram {
    code: CodeBuffer,
    /// The body for runs without a budget; its offsets are those of the accessors below.
    fast: Variant,
    /// With `budget_checks`: what the counting body is compiled from, and the body.
    source: Option<Box<(Program, Helpers)>>,
    counted: OnceLock<Result<Counted, LoadError>>,
    /// Entry of the fast body when it needs no run state: runs are a plain call.
    direct: Option<Direct>,
    opts: JitOptions,
}

impl std::fmt::Debug for JitProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitProgram")
            .field("code", &self.code)
            .field("opts", &self.opts)
            .field("budget_variant", &self.counted.get().is_some())
            .field("direct", &self.direct.is_some())
            .finish()
    }
}

impl JitProgram {
    /// Compiles `prog` in checked mode. Helper calls are bound to `helpers` now (an
    /// unknown id becomes a run-time [`VmError::UnknownHelper`] at that call, as in the
    /// interpreter). `opts.mode` must be [`JitMode::Checked`]: verified mode is refused
    /// with [`LoadError::VerifiedModeNeedsUnsafe`] (use [`JitProgram::compile_verified`]).
    pub fn compile(
        prog: &Program,
        helpers: &Helpers,
        opts: &JitOptions,
    ) -> Result<JitProgram, LoadError> {
        if opts.mode != JitMode::Checked {
            return Err(LoadError::VerifiedModeNeedsUnsafe);
        }
        Self::compile_any(prog, helpers, opts)
    }

    /// Compiles `prog` in any mode, [`JitMode::Verified`] included (code without run-time
    /// memory checks: loads, stores and atomics go to whatever address the program
    /// computes). In checked mode this is [`JitProgram::compile`].
    ///
    /// # Safety
    /// With [`JitMode::Verified`]: the program was accepted by a verifier for the inputs
    /// it will be given (context layout and access, packet, maps, helpers as bound in
    /// `helpers`), and every run of the result, through [`Executable::run`],
    /// [`Executable::run_registers`], [`JitProgram::call1`], callbacks and tail calls, must
    /// be given the memory the verifier assumed (for example `r1` pointing at a live
    /// context of the verified layout, readable and writable where the program reads and
    /// writes it). Nothing is required in checked mode.
    pub unsafe fn compile_verified(
        prog: &Program,
        helpers: &Helpers,
        opts: &JitOptions,
    ) -> Result<JitProgram, LoadError> {
        Self::compile_any(prog, helpers, opts)
    }

    fn compile_any(
        prog: &Program,
        helpers: &Helpers,
        opts: &JitOptions,
    ) -> Result<JitProgram, LoadError> {
        let an = analysis::Analysis::new(prog);
        let out = compile::compile(prog, &an, helpers, opts, false)?;
        let code = CodeBuffer::new(&out.code)
            .map_err(|e| LoadError::Jit(format!("cannot map executable memory: {e}")))?;
        let direct = out.stateless.then(|| {
            // SAFETY: the body starts at offset 0 of `code`, which the program owns (so
            // it outlives every use of `direct`), and it is stateless.
            unsafe { Direct::new(code.addr()) }
        });
        log::debug!(
            "jit: {} instructions -> {} bytes ({:?})",
            prog.len(),
            out.code.len(),
            opts.mode
        );
        let fast = Self::variant(&code, out);
        Ok(JitProgram {
            code,
            fast,
            source: opts
                .budget_checks
                .then(|| Box::new((prog.clone(), helpers.clone()))),
            counted: OnceLock::new(),
            direct,
            opts: *opts,
        })
    }

    fn variant(code: &CodeBuffer, out: compile::Output) -> Variant {
        // SAFETY: offset 0 of `code` is the entry prologue generated by `compile` for
        // exactly the `EntryFn` signature (System V, six arguments, u64 result).
        let entry: EntryFn = unsafe { std::mem::transmute::<usize, EntryFn>(code.addr()) };
        let mut shared = out.shared;
        shared.code_base = code.addr();
        Variant {
            entry,
            shared,
            insn_offsets: out.insn_offsets,
            body_end: out.body_end,
            pool_start: out.pool_start,
            uses_packet: out.uses_packet,
        }
    }

    /// The counting body, compiled on first use.
    fn counted(&self) -> Option<&Result<Counted, LoadError>> {
        let (prog, helpers) = self.source.as_deref()?;
        Some(self.counted.get_or_init(|| {
            let an = analysis::Analysis::new(prog);
            let out = compile::compile(prog, &an, helpers, &self.opts, true)?;
            let code = CodeBuffer::new(&out.code)
                .map_err(|e| LoadError::Jit(format!("cannot map executable memory: {e}")))?;
            let v = Self::variant(&code, out);
            Ok(Counted { code, v })
        }))
    }

    /// The generated machine code of the body for runs without a budget.
    pub fn code(&self) -> &[u8] {
        self.code.bytes()
    }

    /// The machine code of the counting body (runs with a budget), compiling it if it was
    /// not yet; `None` without `budget_checks` (or if it cannot be compiled).
    pub fn budget_code(&self) -> Option<&[u8]> {
        match self.counted()? {
            Ok(c) => Some(c.code.bytes()),
            Err(_) => None,
        }
    }

    /// Address the code is mapped at.
    pub fn code_addr(&self) -> usize {
        self.code.addr()
    }

    /// Bytes of executable memory mapped for the code.
    pub fn mapped_len(&self) -> usize {
        self.code.mapped_len()
    }

    /// True when runs may have a budget (`budget_checks`: a counting body exists or is
    /// compiled on the first such run).
    pub fn supports_budget(&self) -> bool {
        self.source.is_some()
    }

    /// Offset in [`JitProgram::code`] of each instruction's code (by instruction index),
    /// `None` for instructions that can never run (and so have no code) and for the second
    /// instruction of a fused pair (see [`JitProgram::is_fused`]). Offsets are those of
    /// the body for runs without a budget.
    pub fn insn_offset(&self, index: usize) -> Option<usize> {
        match self.fast.insn_offsets.get(index) {
            Some(&o) if o < compile::FUSED => Some(o as usize),
            _ => None,
        }
    }

    /// True when instruction `index` was compiled together with the one before it (a
    /// peephole pattern such as `mov` + `add` into one `lea`).
    pub fn is_fused(&self, index: usize) -> bool {
        self.fast.insn_offsets.get(index) == Some(&compile::FUSED)
    }

    /// Offset where out-of-line code (slow paths, error exits, constants) starts.
    pub fn body_end(&self) -> usize {
        self.fast.body_end
    }

    /// Offset where the constant pool (data) starts: the code is `code()[..pool_start()]`.
    pub fn pool_start(&self) -> usize {
        self.fast.pool_start
    }

    /// The options the program was compiled with.
    pub fn options(&self) -> &JitOptions {
        &self.opts
    }

    /// Whether runs need nothing but the entry registers (no helper or local calls, no
    /// memory checks, no budget): then [`Executable::run_registers`] runs it. Verified
    /// code of such programs, and checked code of those that touch no memory but constant
    /// offsets of their stack frame.
    pub fn runs_from_registers(&self) -> bool {
        self.direct.is_some()
    }

    /// Bytes of eBPF stack each run reserves.
    pub fn stack_bytes(&self) -> usize {
        self.fast.shared.stack_bytes
    }

    /// Runs the program with `r1` = `r1`, `r2`..`r5` = 0, no memory regions, no embedder
    /// data and no budget: the entry for hooks whose programs need nothing else. When the
    /// code needs no run state ([`JitProgram::runs_from_registers`]) this is one indirect
    /// call (as [`Executable::run_registers`]); otherwise it is [`Executable::run`] with
    /// such a context.
    ///
    /// # Safety
    /// As [`Executable::run_registers`]: `r1` must be an argument a run of this program may
    /// be given (for verified code, a pointer to a live context of the layout it was
    /// verified for, valid for its reads and writes). Checked code requires nothing.
    #[inline]
    pub unsafe fn call1(&self, r1: u64) -> Result<u64, VmError> {
        match self.direct {
            // SAFETY: the caller's contract, which is `Direct::call1`'s.
            Some(d) => Ok(unsafe { d.call1(r1) }),
            None => self.call1_with_state(r1),
        }
    }

    #[inline(never)]
    fn call1_with_state(&self, r1: u64) -> Result<u64, VmError> {
        let mut ctx = RunContext::new();
        ctx.args[0] = r1;
        self.run_with_state(&self.fast, &mut ctx).map(|o| o.r0)
    }

    /// The packet of legacy packet loads: the most recently added region of kind
    /// `Packet`, else of kind `Input` (empty when there is none).
    fn packet(ctx: &RunContext<'_>) -> (u64, u64) {
        let last = |k: RegionKind| ctx.regions.iter().filter(|r| r.kind == k).last().copied();
        last(RegionKind::Packet)
            .or_else(|| last(RegionKind::Input))
            .map(|r| (r.start, r.len))
            .unwrap_or((0, 0))
    }
}

impl Executable for JitProgram {
    #[inline]
    fn run(&self, ctx: &mut RunContext<'_>) -> Result<RunOutcome, VmError> {
        if let (Some(d), None) = (self.direct, ctx.budget) {
            // No helpers, calls, checks or budget: a plain call.
            // SAFETY: checked code touches only its own stack frame here; verified code
            // exists only through `compile_verified`, whose caller vouched that every run
            // (this one included) is given the memory the verifier assumed.
            let r0 = unsafe { d.call(&ctx.args) };
            return Ok(RunOutcome {
                r0,
                insns_executed: None,
            });
        }
        self.run_slow(ctx)
    }

    fn engine(&self) -> EngineKind {
        EngineKind::Jit
    }

    #[inline]
    unsafe fn run_registers(&self, args: &[u64; 5]) -> Option<u64> {
        // SAFETY: the caller's contract (`args` are arguments a run of this program may be
        // given), which is `Direct::call`'s.
        self.direct.map(|d| unsafe { d.call(args) })
    }
}

impl JitProgram {
    /// Runs with the run state (and the budget variant when a budget is given). Cold for
    /// the layout of callers' loops around `run`: the direct path falls through.
    #[cold]
    #[inline(never)]
    fn run_slow(&self, ctx: &mut RunContext<'_>) -> Result<RunOutcome, VmError> {
        if ctx.budget.is_none() {
            return self.run_with_state(&self.fast, ctx);
        }
        match self.counted() {
            Some(Ok(c)) => self.run_with_state(&c.v, ctx),
            Some(Err(e)) => {
                log::warn!("jit: cannot compile the counting body: {e}");
                Err(VmError::Unsupported {
                    pc: 0,
                    what: "an instruction budget (the JIT could not compile the counting body)",
                })
            }
            None => Err(VmError::Unsupported {
                pc: 0,
                what: "an instruction budget (the program was JIT-compiled without budget checks)",
            }),
        }
    }

    fn run_with_state(&self, v: &Variant, ctx: &mut RunContext<'_>) -> Result<RunOutcome, VmError> {
        let (pkt_data, pkt_len) = if v.uses_packet {
            Self::packet(ctx)
        } else {
            (0, 0)
        };
        let args = ctx.args;
        let start = ctx.budget.unwrap_or(u64::MAX);
        let (regions, env) = ctx.engine_parts();
        let initial_regions = regions.mark();
        // The caches start with the run's first region (the input or context of the usual
        // runs): the first access need not go out of line to find it.
        let (mut rc_start, mut rc_lim, mut wc_start, mut wc_lim) =
            (0, [0; runtime::LIMS], 0, [0; runtime::LIMS]);
        if let Some(r) = regions.iter().next() {
            (rc_start, rc_lim) = (r.start, runtime::lims(r.len));
            if r.writable {
                (wc_start, wc_lim) = (rc_start, rc_lim);
            }
        }
        let regions: *mut _ = regions;
        let mut st = RunState {
            budget: start,
            may_goto: compile::MAY_GOTO_LIMIT,
            stack_lo: 0,
            stack_top: 0,
            main_rsp: 0,
            min_call_fp: 0,
            cur_fp: 0,
            stack_cached: 0,
            site: 0,
            err_kind: runtime::ERR_NONE,
            err_arg: 0,
            callx_target: 0,
            rc_start,
            rc_lim,
            wc_start,
            wc_lim,
            sc_start: 0,
            sc_lim: [0; runtime::LIMS],
            pkt_data,
            pkt_len,
            cb_depth: 0,
            cb_fp: 0,
            cb_target: 0,
            budget_start: start,
            callback_ran: false,
            regions,
            env: env.map(NonNull::from),
            shared: &v.shared,
            error: None,
        };
        // SAFETY: `entry` is this program's generated code in `self.code`, alive for the
        // call; `st` lives until the call returns.
        let r0 = unsafe { runtime::enter(v.entry, args, &mut st) };
        // Regions helpers added last until the end of the run, as in the interpreter: all
        // of them are forgotten now (by stamp, so even if a helper removed one of the run's
        // initial regions).
        // SAFETY: generated code has returned; `regions` (derived from `ctx`) is the only
        // path to the run's regions again.
        unsafe { &mut *regions }.release(initial_regions);
        // SAFETY: `st` is a live local, not borrowed.
        if let Some(e) = unsafe { runtime::take_error(&mut st, &v.shared) } {
            return Err(e);
        }
        Ok(RunOutcome {
            r0,
            insns_executed: v.shared.counted.then(|| start - st.budget),
        })
    }
}

#[cfg(feature = "disasm")]
pub mod disasm;

#[cfg(test)]
mod tests;
