//! The x86-64 JIT: eBPF programs to native code with the interpreter's semantics.
//!
//! ```text
//! Program ──analysis──▶ facts ──compile──▶ bytes ──CodeBuffer (W, then R+X)──▶ JitProgram
//! ```
//!
//! - [`JitProgram::compile`] turns a [`Program`] into machine code for one
//!   [`JitOptions`]: [`JitMode::Checked`] bounds-checks every memory access against the
//!   run's regions (for programs nobody verified), [`JitMode::Verified`] trusts a verifier
//!   and emits plain loads and stores.
//! - [`JitProgram`] implements [`Executable`]; a run costs a few stores of state and one
//!   indirect call.
//!
//! Register mapping, frame layout and the calling protocol are described in [`compile`]
//! and [`runtime`].
//!
//! **Instruction budget.** With `budget_checks`, every basic block subtracts its length
//! from the budget when it is entered. When a block does not fit in what is left, the run
//! stops *before executing any of the block* with [`VmError::BudgetExhausted`] whose `pc`
//! is the exact instruction that would have exceeded the budget (the one the interpreter
//! stops at). The reported `insns_executed` is exact: a block that is entered runs to its
//! end (or the run stops with another error). Basic blocks end at jumps, calls, exits and
//! before every jump target.

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
use runtime::{EntryFn, RunState, Shared};
use std::ptr::NonNull;

/// How much the generated code trusts the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum JitMode {
    /// Every memory access is checked against the run's regions: an inline check of the
    /// stack area (for `r10`-based accesses) or of a one-entry region cache, and an
    /// out-of-line lookup in the region list on a miss. Registers start at zero, the stack
    /// is zero-filled, `r1`-`r5` survive helper calls, atomics are checked for alignment.
    #[default]
    Checked,
    /// No run-time memory checks: for programs a verifier accepted.
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
    /// Count instructions per basic block so [`RunContext::budget`] can stop runaway
    /// programs. Without it a run that asks for a budget is refused.
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
    /// Checked mode with budget checks (the default).
    pub fn checked() -> JitOptions {
        JitOptions::default()
    }

    /// Verified mode without budget checks: the fastest code, for verified programs.
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

/// A program compiled to x86-64.
pub struct JitProgram {
    code: CodeBuffer,
    entry: EntryFn,
    shared: Shared,
    opts: JitOptions,
    insn_offsets: Vec<u32>,
    body_end: usize,
    pool_start: usize,
    uses_packet: bool,
    stateless: bool,
}

impl std::fmt::Debug for JitProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitProgram")
            .field("code", &self.code)
            .field("opts", &self.opts)
            .finish()
    }
}

impl JitProgram {
    /// Compiles `prog`. Helper calls are bound to `helpers` now (an unknown id becomes a
    /// run-time [`VmError::UnknownHelper`] at that call, as in the interpreter).
    pub fn compile(
        prog: &Program,
        helpers: &Helpers,
        opts: &JitOptions,
    ) -> Result<JitProgram, LoadError> {
        let out = compile::compile(prog, helpers, opts)?;
        let code = CodeBuffer::new(&out.code)
            .map_err(|e| LoadError::Jit(format!("cannot map executable memory: {e}")))?;
        // SAFETY: offset 0 of the buffer is the entry prologue generated by `compile` for
        // exactly the `EntryFn` signature (System V, six arguments, u64 result).
        let entry: EntryFn = unsafe { std::mem::transmute::<usize, EntryFn>(code.addr()) };
        log::debug!(
            "jit: {} instructions -> {} bytes ({:?})",
            prog.len(),
            out.code.len(),
            opts.mode
        );
        Ok(JitProgram {
            code,
            entry,
            shared: out.shared,
            opts: *opts,
            insn_offsets: out.insn_offsets,
            body_end: out.body_end,
            pool_start: out.pool_start,
            stateless: out.stateless,
            uses_packet: out.uses_packet,
        })
    }

    /// The generated machine code.
    pub fn code(&self) -> &[u8] {
        self.code.bytes()
    }

    /// Address the code is mapped at.
    pub fn code_addr(&self) -> usize {
        self.code.addr()
    }

    /// Bytes of executable memory mapped for the code.
    pub fn mapped_len(&self) -> usize {
        self.code.mapped_len()
    }

    /// Offset in [`JitProgram::code`] of each instruction's code (by instruction index),
    /// `None` for instructions that can never run (and so have no code) and for the second
    /// instruction of a fused pair (see [`JitProgram::is_fused`]).
    pub fn insn_offset(&self, index: usize) -> Option<usize> {
        match self.insn_offsets.get(index) {
            Some(&o) if o < compile::FUSED => Some(o as usize),
            _ => None,
        }
    }

    /// True when instruction `index` was compiled together with the one before it (a
    /// peephole pattern such as `mov` + `add` into one `lea`).
    pub fn is_fused(&self, index: usize) -> bool {
        self.insn_offsets.get(index) == Some(&compile::FUSED)
    }

    /// Offset where out-of-line code (slow paths, error exits, constants) starts.
    pub fn body_end(&self) -> usize {
        self.body_end
    }

    /// Offset where the constant pool (data) starts: the code is `code()[..pool_start()]`.
    pub fn pool_start(&self) -> usize {
        self.pool_start
    }

    /// The options the program was compiled with.
    pub fn options(&self) -> &JitOptions {
        &self.opts
    }

    /// Whether runs need nothing but the entry registers (no helper or local calls, no
    /// memory checks, no budget): then [`Executable::run_registers`] runs it.
    pub fn runs_from_registers(&self) -> bool {
        self.stateless
    }

    /// Bytes of eBPF stack each run reserves.
    pub fn stack_bytes(&self) -> usize {
        self.shared.stack_bytes
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
        if self.stateless && ctx.budget.is_none() {
            // Programs that can neither fail nor call out (no helpers, calls, checks,
            // budget...) never look at the state: a plain call.
            // SAFETY: `entry` is this program's generated code, alive for the call; it
            // does not dereference its state argument (compile made no use of r12).
            let r0 = unsafe { runtime::enter_stateless(self.entry, ctx.args) };
            return Ok(RunOutcome {
                r0,
                insns_executed: None,
            });
        }
        self.run_with_state(ctx)
    }

    fn engine(&self) -> EngineKind {
        EngineKind::Jit
    }

    #[inline]
    fn run_registers(&self, args: &[u64; 5]) -> Option<u64> {
        if !self.stateless {
            return None;
        }
        // SAFETY: as in `run`: `entry` is this program's generated code, alive for the
        // call, and stateless code never dereferences its state argument.
        Some(unsafe { runtime::enter_stateless(self.entry, *args) })
    }
}

impl JitProgram {
    fn run_with_state(&self, ctx: &mut RunContext<'_>) -> Result<RunOutcome, VmError> {
        let budget = ctx.budget;
        if budget.is_some() && !self.opts.budget_checks {
            return Err(VmError::Unsupported {
                pc: 0,
                what: "an instruction budget (the program was JIT-compiled without budget checks)",
            });
        }
        let (pkt_data, pkt_len) = if self.uses_packet {
            Self::packet(ctx)
        } else {
            (0, 0)
        };
        let args = ctx.args;
        let start = budget.unwrap_or(u64::MAX);
        let (regions, env) = ctx.parts();
        let initial_regions = regions.len();
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
            rc_start: 0,
            rc_lim: [0; 4],
            wc_start: 0,
            wc_lim: [0; 4],
            pkt_data,
            pkt_len,
            regions,
            env: env.map(NonNull::from),
            shared: &self.shared,
            error: None,
        };
        // SAFETY: `entry` is this program's generated code in `self.code`, alive for the
        // call; `st` lives until the call returns.
        let r0 = unsafe { runtime::enter(self.entry, args, &mut st) };
        // Regions helpers added last until the end of the run, as in the interpreter.
        // SAFETY: generated code has returned; `regions` (derived from `ctx`) is the only
        // path to the run's regions again.
        unsafe { &mut *regions }.truncate(initial_regions);
        if let Some(e) = runtime::take_error(&mut st, &self.shared, start) {
            return Err(e);
        }
        Ok(RunOutcome {
            r0,
            insns_executed: self.opts.budget_checks.then(|| start - st.budget),
        })
    }
}

#[cfg(feature = "disasm")]
pub mod disasm;

#[cfg(test)]
mod tests;
