//! The abstract interpretation: every path of the program is followed with an abstract
//! state, states already covered by a verified one are pruned, and the first rule broken
//! becomes a [`VerifyError`].
//!
//! Exploration is depth-first like the Linux verifier's: at a conditional jump with both
//! outcomes possible, the jump target is queued and the fall-through continues. At prune
//! points (jump targets, conditional jumps, call returns) the state is compared with the
//! checkpoints stored there; one whose exploration has finished and that covers the
//! current state ends the current path. A checkpoint still being explored that is equal
//! to the current state and is its ancestor means a loop that makes no progress.

mod alu;
mod call;
mod describe;
mod exec;
mod jump;
mod mem;

use crate::cfg::{self, Cfg, CfgProblem};
use crate::context::ContextDescriptor;
use crate::diag::{
    ErrorKind, PathStep, RegSnapshot, SourceLine, StackSnapshot, StateSnapshot, VerifyError,
};
use crate::progtype::PacketAccess;
use crate::state::{state_covers, Frame, FrameMask, PathEvent, RegState, RegType, State, NUM_REGS};
use crate::{FunctionStats, Stats, VerifierConfig};
use oxbpf_isa::{CallTarget, Insn, Program};
use std::fmt::Write as _;

/// A rule violation found while stepping, before it is dressed up with the state.
#[derive(Debug)]
pub(crate) struct Fail {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
    pub notes: Vec<String>,
}

pub(crate) type R<T> = Result<T, Box<Fail>>;

pub(crate) fn fail<T>(kind: ErrorKind, message: impl Into<String>) -> R<T> {
    Err(Box::new(Fail {
        kind,
        message: message.into(),
        hint: None,
        notes: Vec::new(),
    }))
}

/// Adds a hint or a note to a failure.
pub(crate) trait FailExt<T> {
    fn hint(self, h: impl Into<String>) -> R<T>;
    fn note(self, n: impl Into<String>) -> R<T>;
}

impl<T> FailExt<T> for R<T> {
    fn hint(self, h: impl Into<String>) -> R<T> {
        self.map_err(|mut f| {
            if f.hint.is_none() {
                f.hint = Some(h.into());
            }
            f
        })
    }
    fn note(self, n: impl Into<String>) -> R<T> {
        self.map_err(|mut f| {
            f.notes.push(n.into());
            f
        })
    }
}

/// A stored checkpoint.
struct Checkpoint {
    state: State,
    /// Paths (queued or running) and child checkpoints still being explored below it.
    branches: u32,
    hits: u32,
    misses: u32,
    /// Still in its instruction's candidate list.
    listed: bool,
}

/// Kernel's limit on queued branches.
const MAX_PENDING: usize = 8192;
/// Deepest bpf-to-bpf nesting (frames).
pub(crate) const MAX_CALL_FRAMES: usize = 8;

pub(crate) struct Env<'a> {
    pub prog: &'a Program,
    pub cfg: Cfg,
    pub conf: &'a VerifierConfig,
    pub ctx: ContextDescriptor,
    pub ptr_leaks: bool,
    pub helper_classes: u32,
    pub packet: PacketAccess,
    pub id_gen: u32,
    /// Index of the instruction being processed.
    pub insn: usize,
    explored: Vec<Vec<u32>>,
    checkpoints: Vec<Option<Checkpoint>>,
    live_checkpoints: usize,
    pending: Vec<(State, usize)>,
    pub stats: Stats,
    /// Deepest stack use per function.
    pub stack_depth: Vec<u32>,
    /// Functions containing a tail call.
    pub tail_calls: Vec<bool>,
    /// What may influence decisions, per instruction (see [`crate::relevance`]).
    relevance: Vec<crate::relevance::Relevance>,
    pub log: Option<String>,
    log_truncated: bool,
    jumps: u64,
    insns_at_checkpoint: u64,
    jumps_at_checkpoint: u64,
}

impl<'a> Env<'a> {
    #[allow(clippy::result_large_err)] // boxed by `crate::verify`
    pub fn new(prog: &'a Program, conf: &'a VerifierConfig) -> Result<Env<'a>, VerifyError> {
        if let Some(problem) = config_problem(conf) {
            return Err(VerifyError {
                pc: 0,
                index: 0,
                kind: ErrorKind::InvalidProgram,
                message: format!("invalid verifier configuration: {problem}"),
                hint: None,
                insn: String::new(),
                source: None,
                path: Vec::new(),
                state: StateSnapshot::default(),
                notes: Vec::new(),
            });
        }
        let nargs = |id: i32| conf.helper_proto(id).map_or(5, |h| h.args.len());
        let cfg = match cfg::analyze(prog, &nargs) {
            Ok(c) => c,
            Err(p) => return Err(cfg_error(prog, conf, p)),
        };
        let ptype = &conf.prog_type;
        let nsub = cfg.subprogs.len();
        // Helper arguments whose values matter: everything but plain numbers.
        let helper_args = |id: i32| -> u16 {
            match conf.helper_proto(id) {
                Some(h) => h
                    .args
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| !matches!(a, crate::helpers::Arg::Anything))
                    .fold(0u16, |m, (i, _)| m | (1 << (i + 1))),
                None => 0b11_1110,
            }
        };
        let ret_ptr = |id: i32| {
            conf.helper_proto(id).is_none_or(|h| {
                !matches!(
                    h.ret,
                    crate::helpers::Ret::Integer | crate::helpers::Ret::Void
                )
            })
        };
        let r1_is_ctx = !matches!(ptype, crate::ProgramType::Hook(h) if h.plain_memory);
        let relevance = crate::relevance::analyze(
            prog,
            &cfg,
            &helper_args,
            &ret_ptr,
            r1_is_ctx,
            ptype.return_range().is_some(),
        );
        Ok(Env {
            prog,
            ctx: {
                // Re-checked (and sorted) by `config_problem` above.
                let c = conf
                    .context
                    .clone()
                    .unwrap_or_else(|| ptype.default_context());
                let flat = c.flat_loads;
                match ContextDescriptor::new(c.name.clone(), c.size, c.fields.clone()) {
                    Ok(mut d) => {
                        d.flat_loads = flat;
                        d
                    }
                    Err(_) => c,
                }
            },
            ptr_leaks: conf.allow_ptr_leaks && ptype.allows_ptr_leaks(),
            helper_classes: ptype.helper_classes(conf.allow_ptr_leaks),
            packet: ptype.packet_access(),
            conf,
            id_gen: 0,
            insn: 0,
            explored: vec![Vec::new(); prog.len()],
            checkpoints: Vec::new(),
            live_checkpoints: 0,
            pending: Vec::new(),
            stats: Stats::default(),
            stack_depth: vec![0; nsub],
            tail_calls: vec![false; nsub],
            relevance,
            log: conf.log.then(String::new),
            log_truncated: false,
            jumps: 0,
            insns_at_checkpoint: 0,
            jumps_at_checkpoint: 0,
            cfg,
        })
    }

    pub fn new_id(&mut self) -> u32 {
        self.id_gen += 1;
        self.id_gen
    }

    fn initial_state(&self) -> State {
        let mut f = Frame::new(0, 0, None);
        let plain = match &self.conf.prog_type {
            crate::ProgramType::Hook(h) => h.plain_memory,
            _ => false,
        };
        let mut ctx = if plain {
            RegState::pointer(
                RegType::Mem {
                    size: self.ctx.size,
                    rdonly: false,
                    ringbuf: false,
                },
                0,
            )
        } else {
            RegState::pointer(RegType::Ctx, 0)
        };
        ctx.origin = crate::state::ORIGIN_ENTRY;
        f.regs[1] = ctx;
        if plain {
            let mut len = RegState::constant(self.ctx.size as u64);
            len.origin = crate::state::ORIGIN_ENTRY;
            f.regs[2] = len;
        }
        State {
            frames: vec![f],
            refs: Vec::new(),
            may_goto_depth: 0,
            callback_head: None,
            path: None,
            parent: None,
        }
    }

    /// Explores every path. On success, fills the statistics.
    #[allow(clippy::result_large_err)] // boxed by `crate::verify`
    pub fn run(&mut self) -> Result<(), VerifyError> {
        let mut st = self.initial_state();
        let mut pc = 0usize;
        loop {
            self.insn = pc;
            match self.process(&mut st, pc) {
                Ok(Some(next)) => pc = next,
                Ok(None) => {
                    self.path_done(st.parent);
                    match self.pending.pop() {
                        Some((s, p)) => {
                            st = s;
                            if self.log.is_some() {
                                let from = st.path.as_ref().map_or(0, |n| n.insn as usize);
                                self.log_line(&format!(
                                    "from {} to {}:",
                                    self.prog.slot(from),
                                    self.prog.slot(p)
                                ));
                            }
                            pc = p;
                        }
                        None => break,
                    }
                }
                Err(f) => return Err(self.make_error(*f, &st, pc)),
            }
        }
        self.finish().map_err(|f| {
            let st = self.initial_state();
            self.make_error(*f, &st, 0)
        })
    }

    fn process(&mut self, st: &mut State, pc: usize) -> R<Option<usize>> {
        if self.cfg.prune[pc] && self.visit(st, pc)? {
            if self.log.is_some() {
                self.log_line(&format!("{}: safe", self.prog.slot(pc)));
            }
            return Ok(None);
        }
        self.stats.insns_processed += 1;
        if self.stats.insns_processed > self.conf.max_insns {
            return fail(
                ErrorKind::TooComplex,
                format!(
                    "the analysis processed {} instructions without finishing (limit {})",
                    self.conf.max_insns, self.conf.max_insns
                ),
            )
            .hint(
                "a loop probably runs too many iterations for the verifier to follow, or \
                 too many branches combine: bound loops with small constants, or use \
                 bpf_loop / may_goto-style loops, and split the program into functions",
            );
        }
        let before = self.log.is_some().then(|| st.cur().regs);
        let next = self.step(st, pc)?;
        if let Some(before) = before {
            self.log_step(pc, st, &before);
        }
        Ok(next)
    }

    /// Queues `st` to be explored from `pc` later.
    pub fn push_branch(&mut self, st: State, pc: usize) -> R<()> {
        if self.pending.len() >= MAX_PENDING {
            return fail(
                ErrorKind::TooComplex,
                format!("more than {MAX_PENDING} branches are waiting to be explored at once"),
            )
            .hint("the program has too many independent conditions in a row; simplify it");
        }
        if let Some(p) = st.parent {
            if let Some(c) = self.checkpoints[p].as_mut() {
                c.branches += 1;
            }
        }
        self.pending.push((st, pc));
        Ok(())
    }

    /// A path ended (exit or pruned): checkpoints whose last open path it was are done.
    fn path_done(&mut self, mut parent: Option<usize>) {
        while let Some(p) = parent {
            let Some(c) = self.checkpoints[p].as_mut() else {
                break;
            };
            c.branches = c.branches.saturating_sub(1);
            if c.branches > 0 {
                break;
            }
            let (next, listed) = (c.state.parent, c.listed);
            if !listed {
                // Nothing refers to it any more.
                self.checkpoints[p] = None;
                self.live_checkpoints -= 1;
            }
            parent = next;
        }
    }

    /// Liveness masks for comparing `st` at instruction `pc`: the current frame's live
    /// registers, and the callee-saved registers of callers live after their calls.
    fn frame_masks(&self, st: &State, pc: usize) -> Vec<FrameMask> {
        let n = st.frames.len();
        let mut v = Vec::with_capacity(n);
        for i in 0..n {
            if i + 1 == n {
                let rel = self.relevance[pc];
                v.push(FrameMask {
                    live: self.cfg.live_in[pc] | (1 << 10),
                    relevant: rel.regs,
                    slots: rel.slots,
                });
                continue;
            }
            let callee = &st.frames[i + 1];
            let site = callee.callsite.map_or(0, |c| c as usize);
            // A callback returns to the helper call, which reads its arguments again; a
            // call returns to the next instruction with r0 set and r1-r5 clobbered. The
            // callee may read this frame's stack through pointers: all of it matters.
            let (at, keep) = if callee.callback {
                (site, u16::MAX)
            } else {
                (site + 1, 0b011_1100_0000)
            };
            let live = self.cfg.live_in.get(at).copied().unwrap_or(u16::MAX) & keep;
            let rel = self.relevance.get(at).map_or(u16::MAX, |r| r.regs) & keep;
            v.push(FrameMask {
                live: live | (1 << 10),
                relevant: rel | (1 << 10),
                slots: u64::MAX,
            });
        }
        v
    }

    /// Compares `st` with the checkpoints at `pc`. Returns true when the path can stop.
    fn visit(&mut self, st: &mut State, pc: usize) -> R<bool> {
        let live = self.frame_masks(st, pc);
        let is_may_goto = matches!(self.prog.insns()[pc], Insn::MayGoto { .. });
        // Loops bounded at run time: `may_goto`, and helpers calling a callback.
        let runtime_bounded = is_may_goto
            || matches!(self.prog.insns()[pc], Insn::Call(CallTarget::Helper(id)) if crate::cfg::CALLBACK_HELPERS.contains(&id));
        if is_may_goto {
            self.widen_for_may_goto(st, pc);
        }
        if let Some(head) = st.callback_head.take() {
            self.widen_after_callback(st, head);
        }
        let mut in_loop = false;
        let mut i = 0;
        while i < self.explored[pc].len() {
            let id = self.explored[pc][i] as usize;
            let Some(cp) = self.checkpoints[id].as_ref() else {
                self.explored[pc].swap_remove(i);
                continue;
            };
            let mut hit = false;
            if cp.branches > 0 {
                in_loop = true;
                let covers = state_covers(&cp.state, st, &live);
                // A loop bounded at run time (`may_goto`, callbacks): a state covered by
                // the loop head being explored is an iteration already accounted for.
                if covers && runtime_bounded && cp.state.may_goto_depth != st.may_goto_depth {
                    hit = true;
                } else if !runtime_bounded
                    // A run-time-bounded loop (may_goto) between the two visits ends.
                    && cp.state.may_goto_depth == st.may_goto_depth
                    && covers
                    && state_covers(st, &cp.state, &live)
                    && self.is_ancestor(id, st.parent)
                {
                    return fail(
                        ErrorKind::InfiniteLoop,
                        format!(
                            "the program comes back to instruction {} in exactly the same \
                             state, so it would never stop",
                            self.prog.slot(pc)
                        ),
                    )
                    .hint(
                        "make sure every loop changes its condition (a counter compared \
                         with a constant bound) on each iteration",
                    );
                }
            } else if !self.conf.disable_pruning && state_covers(&cp.state, st, &live) {
                hit = true;
            }
            let Some(cp) = self.checkpoints[id].as_mut() else {
                continue;
            };
            if hit {
                cp.hits += 1;
                self.stats.states_pruned += 1;
                return Ok(true);
            }
            cp.misses += 1;
            // Checkpoints that keep missing cost comparisons: forget them (a checkpoint
            // still being explored stays allocated for its descendants' bookkeeping).
            if cp.misses > cp.hits * 3 + 3 {
                cp.listed = false;
                if cp.branches == 0 {
                    self.checkpoints[id] = None;
                    self.live_checkpoints -= 1;
                }
                self.explored[pc].swap_remove(i);
                continue;
            }
            i += 1;
        }
        // Inside a loop, checkpoint only now and then: each iteration differs anyway.
        if in_loop
            && !runtime_bounded
            && self.stats.insns_processed - self.insns_at_checkpoint < 100
            && self.jumps - self.jumps_at_checkpoint < 20
        {
            return Ok(false);
        }
        self.insns_at_checkpoint = self.stats.insns_processed;
        self.jumps_at_checkpoint = self.jumps;
        let mut saved = st.clone();
        clear_singular_ids(&mut saved);
        let id = self.checkpoints.len();
        self.checkpoints.push(Some(Checkpoint {
            state: saved,
            branches: 1,
            hits: 0,
            misses: 0,
            listed: true,
        }));
        self.live_checkpoints += 1;
        self.stats.states_stored += 1;
        self.stats.peak_states = self.stats.peak_states.max(self.live_checkpoints as u64);
        self.explored[pc].push(id as u32);
        self.stats.max_states_per_insn = self
            .stats
            .max_states_per_insn
            .max(self.explored[pc].len() as u64);
        st.parent = Some(id);
        Ok(false)
    }

    fn is_ancestor(&self, id: usize, mut p: Option<usize>) -> bool {
        while let Some(x) = p {
            if x == id {
                return true;
            }
            p = self.checkpoints[x].as_ref().and_then(|c| c.state.parent);
        }
        false
    }

    /// At a `may_goto` loop head, scalars that changed since the previous iteration's
    /// checkpoint are widened so that iterations converge (always sound: the state only
    /// grows).
    fn widen_for_may_goto(&self, st: &mut State, pc: usize) {
        // Only against the previous iteration of this very loop (one iteration deeper),
        // and only what the loop body may write: widening what an enclosing loop changes
        // would lose that loop's bound.
        let Some((_, writes)) = self.cfg.loop_writes.iter().find(|(p, _)| *p == pc) else {
            return;
        };
        let prev = self.explored[pc].iter().rev().find_map(|&id| {
            let c = self.checkpoints[id as usize].as_ref()?;
            (c.branches > 0
                && c.state.may_goto_depth + 1 == st.may_goto_depth
                && self.is_ancestor(id as usize, st.parent))
            .then_some(c)
        });
        let Some(prev) = prev else { return };
        if prev.state.frames.len() != st.frames.len() {
            return;
        }
        let (Some(fo), Some(fc)) = (prev.state.frames.last(), st.frames.last_mut()) else {
            return;
        };
        for r in 0..10 {
            if writes.regs & (1 << r) != 0 {
                widen_reg(&fo.regs[r], &mut fc.regs[r]);
            }
        }
        for &k in &writes.slots {
            if let (Some(so), Some(sc)) = (fo.stack.get(k), fc.stack.get_mut(k)) {
                if so.spilled.is_scalar() && sc.spilled.is_scalar() {
                    widen_reg(&so.spilled, &mut sc.spilled);
                }
            }
        }
    }

    /// At a helper call that runs a callback, after one callback call: widens what that
    /// call changed in the caller (its stack, through pointers) against the state before
    /// it, so that repeated calls converge.
    fn widen_after_callback(&self, st: &mut State, head: usize) {
        let Some(prev) = self.checkpoints.get(head).and_then(|c| c.as_ref()) else {
            return;
        };
        if prev.state.frames.len() != st.frames.len() {
            return;
        }
        for (fo, fc) in prev.state.frames.iter().zip(st.frames.iter_mut()) {
            for (so, sc) in fo.stack.iter().zip(fc.stack.iter_mut()) {
                if so.spilled.is_scalar() && sc.spilled.is_scalar() {
                    widen_reg(&so.spilled, &mut sc.spilled);
                }
            }
        }
    }

    /// Checks done once every path is explored: stack use along call chains.
    fn finish(&mut self) -> R<()> {
        // Call graph.
        let n = self.cfg.subprogs.len();
        let mut callees: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, insn) in self.prog.insns().iter().enumerate() {
            if let Insn::Call(CallTarget::Local(_)) = insn {
                if let Some(t) = self.prog.branch_target(i) {
                    if let Some(k) = self.cfg.subprog_at(t) {
                        let from = self.cfg.subprog_of[i] as usize;
                        if !callees[from].contains(&k) {
                            callees[from].push(k);
                        }
                    }
                }
            }
        }
        // Deepest combined stack along any chain, each frame rounded up to 16 bytes as
        // Linux does for JIT-compiled programs. Tracing programs without tail calls get
        // a private stack for every frame of 64 bytes or more (Linux 6.13+): such frames
        // do not add to the chain.
        let any_tail_call = self.tail_calls.iter().any(|&t| t);
        let private = !any_tail_call
            && matches!(
                self.conf.prog_type,
                crate::ProgramType::Kprobe
                    | crate::ProgramType::Tracepoint
                    | crate::ProgramType::PerfEvent
                    | crate::ProgramType::RawTracepoint
            );
        let frame_cost = |d: u32| {
            let r = d.div_ceil(16) * 16;
            if private && r >= 64 {
                0
            } else {
                r
            }
        };
        struct Walk<'w> {
            callees: &'w [Vec<usize>],
            depth: &'w [u32],
            cost: &'w dyn Fn(u32) -> u32,
            tail_calls: &'w [bool],
        }
        enum WalkErr {
            Recursion(usize),
            TailCall { k: usize, above: u32 },
        }
        fn walk(
            w: &Walk<'_>,
            k: usize,
            above: u32,
            chain: &mut Vec<usize>,
        ) -> Result<(u32, Vec<usize>), WalkErr> {
            if chain.contains(&k) {
                return Err(WalkErr::Recursion(k));
            }
            if k != 0 && w.tail_calls[k] && above >= 256 {
                return Err(WalkErr::TailCall { k, above });
            }
            chain.push(k);
            let me = (w.cost)(w.depth[k]);
            let mut best = (0u32, Vec::new());
            for &c in &w.callees[k] {
                let (d, path) = walk(w, c, above + me, chain)?;
                if d > best.0 || best.1.is_empty() {
                    best = (d, path);
                }
            }
            chain.pop();
            let mut path = vec![k];
            path.extend(best.1);
            Ok((me + best.0, path))
        }
        let w = Walk {
            callees: &callees,
            depth: &self.stack_depth,
            cost: &frame_cost,
            tail_calls: &self.tail_calls,
        };
        let mut chain = Vec::new();
        let (total, path) = match walk(&w, 0, 0, &mut chain) {
            Ok(x) => x,
            Err(WalkErr::Recursion(k)) => {
                return fail(
                    ErrorKind::CallStack,
                    format!(
                        "the function at instruction {} calls itself (directly or \
                         through others): recursion is not allowed",
                        self.prog.slot(self.cfg.subprogs[k].start)
                    ),
                )
            }
            Err(WalkErr::TailCall { k, above }) => {
                return fail(
                    ErrorKind::CallStack,
                    format!(
                        "the function at instruction {} makes a tail call while its callers \
                         use {above} bytes of stack; tail calls from functions are allowed \
                         only below 256 bytes",
                        self.prog.slot(self.cfg.subprogs[k].start)
                    ),
                )
            }
        };
        self.stats.functions = self
            .cfg
            .subprogs
            .iter()
            .zip(&self.stack_depth)
            .map(|(s, &d)| FunctionStats {
                start_pc: self.prog.slot(s.start),
                stack_depth: d,
            })
            .collect();
        self.stats.max_call_chain_stack = total;
        if total > 512 {
            let chain: Vec<String> = path
                .iter()
                .map(|&k| {
                    format!(
                        "function at {} ({} bytes)",
                        self.prog.slot(self.cfg.subprogs[k].start),
                        self.stack_depth[k]
                    )
                })
                .collect();
            return fail(
                ErrorKind::CallStack,
                format!(
                    "the combined stack of the call chain {} is {total} bytes, more than 512",
                    chain.join(" -> ")
                ),
            )
            .hint("use less stack in these functions (move big buffers to a per-CPU array map)");
        }
        Ok(())
    }

    /// The source line of an instruction index, if line information was given.
    pub fn source_of(&self, index: usize) -> Option<SourceLine> {
        let pc = self.prog.slot(index);
        let li = &self.conf.line_info;
        let i = li.partition_point(|l| l.pc <= pc);
        (i > 0).then(|| li[i - 1].line.clone())
    }

    /// "instruction 12 (prog.c:34)".
    pub fn where_(&self, index: usize) -> String {
        let pc = self.prog.slot(index);
        match self.source_of(index) {
            Some(s) => format!("instruction {pc} ({s})"),
            None => format!("instruction {pc}"),
        }
    }

    pub fn insn_text(&self, index: usize) -> String {
        let insn = &self.prog.insns()[index];
        let text = crate::insnfmt::format_insn(insn, &|id| {
            self.conf.helper_proto(id).map(|h| h.name.to_string())
        });
        // Name the map a `lddw` refers to.
        let map = match insn {
            Insn::LoadImm64 {
                value:
                    oxbpf_isa::LoadImm64::MapIdx(i) | oxbpf_isa::LoadImm64::MapIdxValue { idx: i, .. },
                ..
            } => usize::try_from(*i).ok().and_then(|i| self.conf.maps.get(i)),
            _ => None,
        };
        match map {
            Some(m) => format!("{text} ; {}", m.name),
            None => text,
        }
    }

    fn make_error(&self, f: Fail, st: &State, index: usize) -> VerifyError {
        let index = index.min(self.prog.len().saturating_sub(1));
        let path = st
            .path_events()
            .into_iter()
            .map(|(i, ev)| PathStep {
                pc: self.prog.slot(i as usize),
                insn: self.insn_text(i as usize),
                event: match ev {
                    PathEvent::Branch { taken: true } => "taken",
                    PathEvent::Branch { taken: false } => "not taken",
                    PathEvent::MayGoto { taken: true } => "may_goto exhausted",
                    PathEvent::MayGoto { taken: false } => "may_goto continues",
                    PathEvent::Call => "call",
                    PathEvent::Return => "return",
                }
                .to_string(),
                source: self.source_of(i as usize),
            })
            .collect();
        let frame = st.cur();
        let regs = (0..NUM_REGS)
            .filter(|&r| frame.regs[r].is_init() || self.insn_reads(index, r))
            .map(|r| RegSnapshot {
                reg: format!("r{r}"),
                value: self.describe_reg(&frame.regs[r]),
                origin: self.origin_of(&frame.regs[r]),
            })
            .collect();
        let stack = frame
            .stack
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.bytes
                    .iter()
                    .any(|b| *b != crate::state::StackByte::Invalid)
            })
            .map(|(k, s)| StackSnapshot {
                off: -8 * (k as i32 + 1),
                value: self.describe_slot(s),
            })
            .collect();
        VerifyError {
            pc: self.prog.slot(index),
            index,
            kind: f.kind,
            message: f.message,
            hint: f.hint,
            insn: self.insn_text(index),
            source: self.source_of(index),
            path,
            state: StateSnapshot {
                frame: frame.frameno,
                regs,
                stack,
            },
            notes: f.notes,
        }
    }

    /// True when instruction `index` reads register `r`.
    fn insn_reads(&self, index: usize, r: usize) -> bool {
        let insn = &self.prog.insns()[index];
        let uses: Vec<u8> = match insn {
            Insn::Alu { dst, src, .. } => {
                let mut v = vec![dst.num()];
                if let oxbpf_isa::Operand::Reg(s) = src {
                    v.push(s.num());
                }
                v
            }
            Insn::Load { src, .. } => vec![src.num()],
            Insn::Store { dst, src, .. } | Insn::Jump { dst, src, .. } => {
                let mut v = vec![dst.num()];
                if let oxbpf_isa::Operand::Reg(s) = src {
                    v.push(s.num());
                }
                v
            }
            Insn::Atomic { dst, src, .. } => vec![dst.num(), src.num(), 0],
            Insn::Call(_) => vec![1, 2, 3, 4, 5],
            Insn::Exit => vec![0],
            Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => vec![dst.num()],
            _ => Vec::new(),
        };
        uses.contains(&(r as u8))
    }

    fn log_line(&mut self, s: &str) {
        let limit = self.conf.log_limit;
        if let Some(log) = self.log.as_mut() {
            if log.len() + s.len() + 1 > limit {
                if !self.log_truncated {
                    log.push_str("... log truncated\n");
                    self.log_truncated = true;
                }
                return;
            }
            log.push_str(s);
            log.push('\n');
        }
    }

    fn log_step(&mut self, pc: usize, st: &State, before: &[RegState; NUM_REGS]) {
        let mut line = format!("{}: {}", self.prog.slot(pc), self.insn_text(pc));
        let regs = &st.cur().regs;
        let mut changed = String::new();
        for r in 0..NUM_REGS {
            if regs[r] != before[r] && regs[r].is_init() {
                let _ = write!(changed, " R{}={}", r, self.describe_reg(&regs[r]));
            }
        }
        if !changed.is_empty() {
            line.push_str("  ;");
            line.push_str(&changed);
        }
        self.log_line(&line);
    }
}

fn widen_reg(old: &RegState, cur: &mut RegState) {
    if !old.is_scalar() || !cur.is_scalar() || old.val == cur.val {
        return;
    }
    let (o, c) = (old.val, &mut cur.val);
    let mut w = c.join(&o);
    if c.umin < o.umin {
        w.umin = 0;
    }
    if c.umax > o.umax {
        w.umax = u64::MAX;
    }
    if c.smin < o.smin {
        w.smin = i64::MIN;
    }
    if c.smax > o.smax {
        w.smax = i64::MAX;
    }
    if c.u32_min < o.u32_min {
        w.u32_min = 0;
    }
    if c.u32_max > o.u32_max {
        w.u32_max = u32::MAX;
    }
    if c.s32_min < o.s32_min {
        w.s32_min = i32::MIN;
    }
    if c.s32_max > o.s32_max {
        w.s32_max = i32::MAX;
    }
    // Known bits that changed are given up at once (a union could grow one bit per
    // iteration); the bounds that did not move are kept.
    w.var_off = if o.var_off == c.var_off {
        o.var_off
    } else {
        crate::domain::Tnum::UNKNOWN
    };
    *c = w.synced();
    cur.id = 0;
}

/// What is wrong with a configuration, if anything (checked before it is trusted).
fn config_problem(conf: &VerifierConfig) -> Option<String> {
    for h in conf.helpers.iter().chain(&conf.externals) {
        if h.args.len() > 5 {
            return Some(format!(
                "helper prototype {} (#{}) has {} arguments; at most 5 are passed",
                h.name,
                h.id,
                h.args.len()
            ));
        }
    }
    let n = conf.maps.len();
    for m in &conf.maps {
        if let Some(i) = m.inner {
            if i as usize >= n {
                return Some(format!(
                    "map `{}` names inner map {i}, but there are {n} maps",
                    m.name
                ));
            }
        }
    }
    let ctx = conf
        .context
        .clone()
        .unwrap_or_else(|| conf.prog_type.default_context());
    if let Err(e) = crate::ContextDescriptor::new(ctx.name.clone(), ctx.size, ctx.fields.clone()) {
        return Some(e.to_string());
    }
    None
}

/// Ids held by a single scalar carry no relation: dropping them lets more states match.
fn clear_singular_ids(st: &mut State) {
    let mut count: Vec<(u32, u32)> = Vec::new();
    st.for_each_reg(|r| {
        if r.is_scalar() && r.id != 0 {
            match count.iter_mut().find(|(id, _)| *id == r.id) {
                Some(c) => c.1 += 1,
                None => count.push((r.id, 1)),
            }
        }
    });
    st.for_each_reg(|r| {
        if r.is_scalar() && r.id != 0 && count.iter().any(|&(id, n)| id == r.id && n == 1) {
            r.id = 0;
        }
    });
}

fn cfg_error(prog: &Program, conf: &VerifierConfig, p: CfgProblem) -> VerifyError {
    let text = |i: usize| {
        crate::insnfmt::format_insn(&prog.insns()[i], &|id| {
            conf.helper_proto(id).map(|h| h.name.to_string())
        })
    };
    let (index, kind, message, hint) = match p {
        CfgProblem::JumpOutOfFunction { from, to } => (
            from,
            ErrorKind::InvalidProgram,
            format!(
                "the jump from instruction {} to {} leaves its function",
                prog.slot(from),
                prog.slot(to)
            ),
            Some("functions may only be entered by a call and left by exit".to_string()),
        ),
        CfgProblem::FallsThrough { last } => (
            last,
            ErrorKind::InvalidProgram,
            format!(
                "execution can run past the end of the function at instruction {}: the \
                 last instruction is not `exit` or `goto`",
                prog.slot(last)
            ),
            Some("end every function with `exit`".to_string()),
        ),
        CfgProblem::Unreachable { insn } => (
            insn,
            ErrorKind::Unreachable,
            format!("instruction {} can never run", prog.slot(insn)),
            Some("remove dead code (Linux rejects programs that contain it)".to_string()),
        ),
        CfgProblem::IndirectCall { insn } => (
            insn,
            ErrorKind::Unsupported,
            "indirect calls (`callx`) cannot be verified: the callee is not known".to_string(),
            None,
        ),
    };
    let source = {
        let pc = prog.slot(index);
        let li = &conf.line_info;
        let i = li.partition_point(|l| l.pc <= pc);
        (i > 0).then(|| li[i - 1].line.clone())
    };
    VerifyError {
        pc: prog.slot(index),
        index,
        kind,
        message,
        hint,
        insn: text(index),
        source,
        path: Vec::new(),
        state: StateSnapshot::default(),
        notes: Vec::new(),
    }
}
