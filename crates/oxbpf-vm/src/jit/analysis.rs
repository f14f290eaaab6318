//! Whole-program facts the code generator needs: which instructions can run at all and in
//! which kind of frame (outermost or callee), where basic blocks start (for the instruction
//! budget), which callee-saved eBPF registers each function writes, how deep calls nest,
//! which registers are live after each instruction, and what the program uses (stack,
//! helpers, packet loads...).
//!
//! **Function entries.** Functions are entered by `call` (src 1), by `callx` on a code
//! address and by helpers that call back into the program (`HelperCtx::call_function`)
//! with a code address. Code addresses are what `lddw` src 4 loads, `CODE_ADDR_BASE +
//! slot`. A program without `callx` can only pass those values on to helpers, so its
//! function entries are its call targets and its `lddw` src 4 targets. A program *with*
//! `callx` may compute a code address (`lddw` then arithmetic), and the reference
//! interpreter calls any instruction start such a value names; such programs are compiled
//! with every instruction as a possible function entry ([`Analysis::any_entry`]): no
//! assumption crosses an instruction boundary, every `exit` decides at run time whether it
//! leaves a callee or the program, and calls check the depth at run time.

use oxbpf_isa::{AluOp, CallTarget, Insn, LoadImm64, Operand, Program, Reg, Width};

/// Reached as part of the outermost frame.
pub const IN_MAIN: u8 = 1;
/// Reached as part of a callee frame.
pub const IN_SUB: u8 = 2;

pub struct Analysis {
    /// `IN_MAIN | IN_SUB` bits per instruction (0: unreachable).
    pub ctx: Vec<u8>,
    /// Instructions something jumps or calls to.
    pub target: Vec<bool>,
    /// Basic-block leaders; `block_len[i]` is the block's instruction count.
    pub leader: Vec<bool>,
    pub block_len: Vec<u32>,
    /// Targets of backward jumps.
    pub loop_head: Vec<bool>,
    /// Per function entry (indexed like `ctx`, meaningful for call targets): bit `k` set when
    /// the function (not counting its own callees) may write `r6 + k`.
    pub clobbers: Vec<u8>,
    /// Functions entered through code addresses (`lddw` src 4 targets), sorted.
    pub code_addr_targets: Vec<usize>,
    /// Every instruction may be entered as a function (the program has `callx`).
    pub any_entry: bool,
    /// Per instruction: bit `k` set when `r_k` (k in 0..=9) may be read after it before
    /// being written (conservative: calls read everything, `exit` of a callee r0-r5).
    pub live_out: Vec<u16>,
    /// Registers that may be read before being written when the program starts.
    pub live_at_entry: u16,
    /// Bytes at the top of each frame that can ever be read: `[r10 - frame_bytes, r10)`.
    /// When `r10` is only the base of accesses at constant offsets inside the frame (it
    /// is never copied, so no pointer into the stack exists), only the lowest such offset
    /// up to the top; otherwise the whole frame.
    pub frame_bytes: usize,
    /// Per instruction: registers that probably hold a pointer into the stack (derived
    /// from `r10` by moves and additions) when it starts. A guess for choosing a region
    /// cache (checked mode), never relied on for safety.
    pub stack_ptr: Vec<u16>,
    /// Frames the stack area needs (1 for the outermost frame).
    pub frames: usize,
    /// Calls need a run-time depth check (recursion, `callx` into code, or too deep).
    pub dynamic_depth: bool,
    pub uses_r10: bool,
    pub has_local_calls: bool,
    pub has_helper_calls: bool,
    pub has_packet_loads: bool,
    pub has_may_goto: bool,
    /// Memory accesses other than constant-offset accesses to the current stack frame.
    pub has_mem: bool,
    /// The last instruction can fall through past the end of the program.
    pub falls_off_end: bool,
    /// Registers r0..r9 read or written anywhere reachable (bit per register).
    pub regs_used: u16,
}

fn reads(insn: &Insn) -> u16 {
    let b = |r: Reg| 1u16 << r.num();
    let op = |o: &Operand| match o {
        Operand::Reg(r) => b(*r),
        Operand::Imm(_) => 0,
    };
    match insn {
        Insn::Alu {
            dst, src, op: aop, ..
        } => {
            (if *aop == oxbpf_isa::AluOp::Mov
                || matches!(
                    aop,
                    oxbpf_isa::AluOp::MovSx8
                        | oxbpf_isa::AluOp::MovSx16
                        | oxbpf_isa::AluOp::MovSx32
                )
            {
                0
            } else {
                b(*dst)
            }) | op(src)
        }
        Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => b(*dst),
        Insn::AddrSpaceCast { src, .. } => b(*src),
        Insn::Load { src, .. } => b(*src),
        Insn::Store { dst, src, .. } => b(*dst) | op(src),
        Insn::Atomic { dst, src, op, .. } => {
            b(*dst)
                | b(*src)
                | if *op == oxbpf_isa::AtomicOp::CmpXchg {
                    1
                } else {
                    0
                }
        }
        Insn::LoadImm64 { .. } => 0,
        Insn::LoadPacket { mode, .. } => match mode {
            oxbpf_isa::PacketMode::Abs => 0,
            oxbpf_isa::PacketMode::Ind(r) => b(*r),
        },
        Insn::Ja { .. } | Insn::MayGoto { .. } => 0,
        Insn::Jump { dst, src, .. } => b(*dst) | op(src),
        Insn::Call(_) => 0b11_1110,
        Insn::CallX { reg } => 0b11_1110 | b(*reg),
        Insn::Exit => 1,
    }
}

impl Analysis {
    pub fn new(prog: &Program) -> Analysis {
        let insns = prog.insns();
        let n = insns.len();
        // One pass for the local facts: targets, block ends, registers, what is used.
        let mut target = vec![false; n];
        let mut leader = vec![false; n];
        let mut loop_head = vec![false; n];
        let mut code_addr_targets = Vec::new();
        let mut call_targets = Vec::new();
        let mut has_callx = false;
        let mut uses_r10 = false;
        let mut has_local_calls = false;
        let mut has_helper_calls = false;
        let mut has_packet_loads = false;
        let mut has_may_goto = false;
        let mut has_mem = false;
        let mut regs_used = 0u16;
        if n > 0 {
            leader[0] = true;
        }
        let mut facts = Vec::with_capacity(n);
        let mut frame = FrameBytes {
            lowest: 0,
            whole: false,
        };
        for (i, insn) in insns.iter().enumerate() {
            let r = reads(insn);
            let written = insn.written_reg();
            let branch = if insn.branch_offset().is_some() {
                prog.branch_target(i)
            } else {
                None
            };
            facts.push(Fact::new(insn, r, written, branch));
            frame.add(insn, r);
            regs_used |= r;
            if let Some(w) = written {
                regs_used |= 1 << w.num();
            }
            uses_r10 |= r & (1 << 10) != 0;
            let mut ends = false;
            match insn {
                Insn::Jump { .. } | Insn::MayGoto { .. } | Insn::Ja { .. } | Insn::Exit => {
                    ends = true;
                    has_may_goto |= matches!(insn, Insn::MayGoto { .. });
                }
                Insn::Call(CallTarget::Local(_)) => {
                    ends = true;
                    has_local_calls = true;
                }
                Insn::Call(_) => {
                    // Helper calls end blocks so that the instruction count is exact when
                    // the helper calls back into the program or requests a tail call.
                    ends = true;
                    has_helper_calls = true;
                }
                Insn::CallX { .. } => {
                    ends = true;
                    has_callx = true;
                    has_helper_calls = true;
                }
                Insn::LoadPacket { .. } => {
                    // An out-of-bounds packet load ends the run successfully: its block ends
                    // here so the instruction count stays exact.
                    has_packet_loads = true;
                    ends = true;
                }
                Insn::Load {
                    src: base,
                    off,
                    size,
                    ..
                }
                | Insn::Store {
                    dst: base,
                    off,
                    size,
                    ..
                } => has_mem |= !(*base == Reg::R10 && in_frame(*off, *size)),
                Insn::Atomic { .. } => has_mem = true,
                _ => {}
            }
            if ends && i + 1 < n {
                leader[i + 1] = true;
            }
            if let Some(t) = branch {
                match insn {
                    Insn::Call(CallTarget::Local(_)) => call_targets.push(t),
                    Insn::LoadImm64 {
                        value: LoadImm64::CodeAddr(_),
                        ..
                    } => code_addr_targets.push(t),
                    _ => {
                        target[t] = true;
                        leader[t] = true;
                        if t <= i {
                            loop_head[t] = true;
                        }
                    }
                }
            }
        }
        call_targets.sort_unstable();
        call_targets.dedup();
        code_addr_targets.sort_unstable();
        code_addr_targets.dedup();
        let any_entry = has_callx;
        if any_entry {
            for i in 0..n {
                target[i] = true;
                leader[i] = true;
            }
        }
        for &t in call_targets.iter().chain(&code_addr_targets) {
            target[t] = true;
            leader[t] = true;
        }
        // Callbacks run as bpf-to-bpf calls (a frame below their caller's).
        if has_callx || !code_addr_targets.is_empty() {
            has_local_calls = true;
        }
        let mut roots: Vec<usize> = call_targets.clone();
        roots.extend(&code_addr_targets);
        roots.sort_unstable();
        roots.dedup();

        let mut block_len = vec![0u32; n];
        let mut start = 0;
        for (i, &l) in leader.iter().enumerate().skip(1) {
            if l {
                block_len[start] = (i - start) as u32;
                start = i;
            }
        }
        if n > 0 {
            block_len[start] = (n - start) as u32;
        }

        let can_fall = |insn: &Insn| !matches!(insn, Insn::Exit | Insn::Ja { .. });
        let mut clobbers = vec![0u8; n];
        let (ctx, falls_off_end, frames, dynamic_depth) = if any_entry {
            // Any instruction may start a function: every one may run in either kind of
            // frame and write any callee-saved register.
            clobbers.iter_mut().for_each(|c| *c = 0xf);
            let falls = insns.last().is_some_and(can_fall);
            (
                vec![IN_MAIN | IN_SUB; n],
                falls,
                crate::MAX_CALL_DEPTH,
                true,
            )
        } else if roots.is_empty() {
            // A single function: every instruction counts as part of the outermost frame
            // (unreachable code is compiled but never runs).
            let falls = insns.last().is_some_and(can_fall);
            (vec![IN_MAIN; n], falls, 1, false)
        } else {
            Self::functions(prog, &roots, &code_addr_targets, &mut clobbers)
        };
        // Callbacks nest to a depth only known at run time.
        let dynamic_depth = dynamic_depth || has_callx || !code_addr_targets.is_empty();
        let frames = if dynamic_depth {
            crate::MAX_CALL_DEPTH
        } else {
            frames
        };
        let live_out = liveness(&facts, &ctx, &leader);
        let frame_bytes = frame.bytes();
        let stack_ptr = stack_pointers(&facts);
        let live_at_entry = insns.first().map_or(0, |i| {
            (live_out[0] & !defs(i)) | uses(i, ctx.first().copied().unwrap_or(IN_MAIN))
        });
        Analysis {
            ctx,
            target,
            leader,
            block_len,
            loop_head,
            clobbers,
            code_addr_targets,
            any_entry,
            live_out,
            live_at_entry,
            frame_bytes,
            stack_ptr,
            frames,
            dynamic_depth,
            uses_r10,
            has_local_calls,
            has_helper_calls,
            has_packet_loads,
            has_may_goto,
            has_mem,
            falls_off_end,
            regs_used: regs_used & 0x3ff,
        }
    }

    /// Reachability per function (which instructions run in the outermost frame, which in
    /// callees), callee-saved registers each function writes, and call depth.
    fn functions(
        prog: &Program,
        roots: &[usize],
        code_addr_targets: &[usize],
        clobbers: &mut [u8],
    ) -> (Vec<u8>, bool, usize, bool) {
        let insns = prog.insns();
        let n = insns.len();
        let mut ctx = vec![0u8; n];
        let mut callees: Vec<Vec<usize>> = Vec::new();
        let mut fn_index = vec![usize::MAX; n];
        // Index 0 is the outermost frame; the others are callee entries (instruction 0
        // may be both).
        let mut all_roots = vec![0usize];
        all_roots.extend(roots.iter().copied());
        for (k, &r) in all_roots.iter().enumerate().skip(1) {
            fn_index[r] = k;
        }
        let mut seen = vec![u32::MAX; n];
        let mut stack = Vec::new();
        let mut falls_off_end = false;
        let budget_work = 8 * n + 10_000;
        let mut work = 0usize;
        let mut exhausted = false;
        for (k, &root) in all_roots.iter().enumerate() {
            let bit = if k == 0 { IN_MAIN } else { IN_SUB };
            let mut mask = 0u8;
            let mut calls = Vec::new();
            stack.clear();
            stack.push(root);
            seen[root] = k as u32;
            while let Some(i) = stack.pop() {
                work += 1;
                ctx[i] |= bit;
                let insn = &insns[i];
                if let Some(r) = insn.written_reg() {
                    if (6..=9).contains(&r.num()) {
                        mask |= 1 << (r.num() - 6);
                    }
                }
                let mut push = |j: usize, stack: &mut Vec<usize>| {
                    if j >= n {
                        falls_off_end = true;
                    } else if seen[j] != k as u32 {
                        seen[j] = k as u32;
                        stack.push(j);
                    }
                };
                match insn {
                    Insn::Exit => {}
                    Insn::Ja { .. } => {
                        if let Some(t) = prog.branch_target(i) {
                            push(t, &mut stack);
                        }
                    }
                    Insn::Jump { .. } | Insn::MayGoto { .. } => {
                        if let Some(t) = prog.branch_target(i) {
                            push(t, &mut stack);
                        }
                        push(i + 1, &mut stack);
                    }
                    Insn::Call(CallTarget::Local(_)) => {
                        if let Some(t) = prog.branch_target(i) {
                            calls.push(t);
                        }
                        push(i + 1, &mut stack);
                    }
                    Insn::CallX { .. } => {
                        calls.extend(code_addr_targets.iter().copied());
                        push(i + 1, &mut stack);
                    }
                    _ => push(i + 1, &mut stack),
                }
            }
            if work > budget_work {
                exhausted = true;
            }
            if k > 0 {
                clobbers[root] = if exhausted { 0xf } else { mask };
            }
            calls.sort_unstable();
            calls.dedup();
            callees.push(calls);
        }
        if exhausted {
            for &r in &all_roots[1..] {
                clobbers[r] = 0xf;
            }
        }

        // Call depth: longest call chain in frames; cycles force a run-time check.
        let nf = all_roots.len();
        let mut depth = vec![0usize; nf];
        let mut state = vec![0u8; nf]; // 0 new, 1 on the DFS stack, 2 done
        let mut cyclic = false;
        let mut dfs: Vec<(usize, usize)> = vec![(0, 0)];
        state[0] = 1;
        while let Some(&mut (f, ref mut next)) = dfs.last_mut() {
            if let Some(&c) = callees[f].get(*next) {
                *next += 1;
                let ci = fn_index[c];
                if ci == usize::MAX {
                    continue;
                }
                match state[ci] {
                    0 => {
                        state[ci] = 1;
                        dfs.push((ci, 0));
                    }
                    1 => cyclic = true,
                    _ => {}
                }
            } else {
                let d = 1 + callees[f]
                    .iter()
                    .filter_map(|&c| fn_index.get(c).copied())
                    .filter(|&ci| ci != usize::MAX)
                    .map(|ci| depth[ci])
                    .max()
                    .unwrap_or(0);
                depth[f] = d;
                state[f] = 2;
                dfs.pop();
            }
        }
        let static_depth = depth[0].max(1);
        let dynamic = cyclic || static_depth > crate::MAX_CALL_DEPTH;
        (ctx, falls_off_end, static_depth, dynamic)
    }
}

/// Registers (bits 0..=9) an instruction reads, for liveness: calls into the program read
/// every register (the callee sees its caller's registers), helper calls their
/// arguments, `exit` `r0` and, from a callee, `r1`-`r5` too (its caller may read them).
fn uses(insn: &Insn, ctx: u8) -> u16 {
    match insn {
        Insn::Call(CallTarget::Local(_)) | Insn::CallX { .. } => 0x3ff,
        Insn::Call(_) => 0b11_1110,
        Insn::Exit if ctx & IN_SUB != 0 => 0b11_1111,
        Insn::Exit => 1,
        _ => reads(insn) & 0x3ff,
    }
}

/// Registers an instruction certainly writes (calls write `r0`; nothing else is assumed
/// killed).
fn defs(insn: &Insn) -> u16 {
    match insn {
        Insn::Call(_) | Insn::CallX { .. } => 1,
        _ => insn.written_reg().map_or(0, |r| 1 << r.num()) & 0x3ff,
    }
}

/// Control flow out of one instruction, for the dataflow passes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Falls through to the next instruction only.
    Next,
    /// `exit`: no successor in the function.
    Exit,
    /// `ja`: the target only.
    Goto,
    /// Conditional jump or `may_goto`: the target and the next instruction.
    Branch,
}

/// What the dataflow passes need of one instruction, computed once (one pass matching
/// on [`Insn`] instead of one per analysis): 16 bytes per instruction.
#[derive(Clone, Copy)]
struct Fact {
    /// [`uses`] in the outermost frame (an `exit` in a callee reads `r0`-`r5`).
    uses: u16,
    /// [`defs`].
    defs: u16,
    /// The stack-pointer guess after the instruction is `(s & !sp_clear) | sp_dst` when
    /// `s & sp_src != 0`, else `s & !sp_clear` (branch-free: the mix of instructions is
    /// unpredictable).
    sp_clear: u16,
    sp_src: u16,
    sp_dst: u16,
    flow: Flow,
    /// Branch target (`NO_TARGET` when none or not a jump).
    target: u32,
}

const NO_TARGET: u32 = u32::MAX;

impl Fact {
    /// `reads`, `written` and `target` are [`reads`], [`Insn::written_reg`] and the branch
    /// target of `insn`.
    #[inline]
    fn new(insn: &Insn, reads: u16, written: Option<Reg>, target: Option<usize>) -> Fact {
        let (flow, target) = match insn {
            Insn::Exit => (Flow::Exit, NO_TARGET),
            Insn::Ja { .. } => (Flow::Goto, target.map_or(NO_TARGET, |t| t as u32)),
            Insn::Jump { .. } | Insn::MayGoto { .. } => {
                (Flow::Branch, target.map_or(NO_TARGET, |t| t as u32))
            }
            _ => (Flow::Next, NO_TARGET),
        };
        let wr = written.map_or(0, |r| 1u16 << r.num());
        // (clear, src, dst) of `sp_*`.
        let (sp_clear, sp_src, sp_dst) = match *insn {
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                src: Operand::Reg(r),
                ..
            } => (wr, 1 << r.num(), wr),
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Add | AluOp::Sub,
                src: Operand::Imm(_),
                ..
            } => (0, 0, 0),
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Add,
                src: Operand::Reg(r),
                ..
            } => (0, 1 << r.num(), wr),
            Insn::Call(_) | Insn::CallX { .. } => (0b11_1111, 0, 0),
            _ => (wr, 0, 0),
        };
        let uses = match insn {
            Insn::Call(CallTarget::Local(_)) | Insn::CallX { .. } => 0x3ff,
            Insn::Call(_) => 0b11_1110,
            Insn::Exit => 1,
            _ => reads & 0x3ff,
        };
        let defs = match insn {
            Insn::Call(_) | Insn::CallX { .. } => 1,
            _ => wr & 0x3ff,
        };
        Fact {
            uses,
            defs,
            sp_clear,
            sp_src,
            sp_dst,
            flow,
            target,
        }
    }

    /// [`uses`] in frames of kind `ctx`.
    #[inline]
    fn uses_in(&self, ctx: u8) -> u16 {
        if self.flow == Flow::Exit && ctx & IN_SUB != 0 {
            0b11_1111
        } else {
            self.uses
        }
    }

    /// Successors inside the function (`n` instructions): the target and/or the next one.
    #[inline]
    fn succ(&self, i: usize, n: usize) -> [Option<usize>; 2] {
        let next = (i + 1 < n).then_some(i + 1);
        let tgt = (self.target != NO_TARGET).then_some(self.target as usize);
        match self.flow {
            Flow::Exit => [None, None],
            Flow::Goto => [tgt, None],
            Flow::Branch => [tgt, next],
            Flow::Next => [next, None],
        }
    }
}

/// Accumulates [`frame_bytes`] over the instructions in order.
struct FrameBytes {
    lowest: i32,
    whole: bool,
}

impl FrameBytes {
    fn add(&mut self, insn: &Insn, reads: u16) {
        if self.whole {
            return;
        }
        let base_only = match *insn {
            Insn::Load { src, off, size, .. } if src == Reg::R10 => Some((off, size)),
            Insn::Store {
                dst,
                off,
                size,
                src,
                ..
            } if dst == Reg::R10 => {
                if src == Operand::Reg(Reg::R10) {
                    self.whole = true;
                    return;
                }
                Some((off, size))
            }
            _ if reads & (1 << 10) != 0 => {
                self.whole = true;
                return;
            }
            _ => None,
        };
        if let Some((off, size)) = base_only {
            if !in_frame(off, size) {
                self.whole = true;
                return;
            }
            self.lowest = self.lowest.min(off as i32);
        }
    }

    fn bytes(&self) -> usize {
        if self.whole {
            crate::STACK_SIZE
        } else {
            (-self.lowest) as usize
        }
    }
}

/// Backward liveness of r0..r9 over the whole program: `live_out[i]` is the set of
/// registers that may be read after instruction `i` before being written. Function
/// boundaries are covered by the conservative `uses` of calls and `exit`s. Solved on basic
/// blocks (`leader`) with a worklist, then expanded to instructions.
fn liveness(facts: &[Fact], ctx: &[u8], leader: &[bool]) -> Vec<u16> {
    let n = facts.len();
    let mut live_out = vec![0u16; n];
    if n == 0 {
        return live_out;
    }
    // Blocks: [start, end).
    let mut starts: Vec<u32> = Vec::new();
    let mut block_of = vec![0u32; n];
    for i in 0..n {
        if i == 0 || leader[i] {
            starts.push(i as u32);
        }
        block_of[i] = starts.len() as u32 - 1;
    }
    let nb = starts.len();
    let end = |b: usize| starts.get(b + 1).map_or(n, |&e| e as usize);
    let succ = |b: usize| -> [Option<usize>; 2] {
        let last = end(b) - 1;
        facts[last]
            .succ(last, n)
            .map(|s| s.map(|s| block_of[s] as usize))
    };
    // Transfer of each block: live_in = gen | (live_out & !kill).
    let mut gen = vec![0u16; nb];
    let mut kill = vec![0u16; nb];
    // Predecessors in one array (`pred[pred_at[b]..pred_at[b + 1]]`).
    let mut pred_at = vec![0u32; nb + 1];
    for b in 0..nb {
        let (mut g, mut k) = (0u16, 0u16);
        for i in (starts[b] as usize..end(b)).rev() {
            let f = &facts[i];
            g = (g & !f.defs) | f.uses_in(ctx[i]);
            k |= f.defs;
        }
        gen[b] = g;
        kill[b] = k;
        for s in succ(b).into_iter().flatten() {
            pred_at[s + 1] += 1;
        }
    }
    for b in 0..nb {
        pred_at[b + 1] += pred_at[b];
    }
    let mut fill = pred_at.clone();
    let mut pred = vec![0u32; pred_at[nb] as usize];
    for b in 0..nb {
        for s in succ(b).into_iter().flatten() {
            pred[fill[s] as usize] = b as u32;
            fill[s] += 1;
        }
    }
    let mut live_in = vec![0u16; nb];
    let mut queued = vec![true; nb];
    let mut work: Vec<u32> = (0..nb as u32).collect();
    while let Some(b) = work.pop() {
        let b = b as usize;
        queued[b] = false;
        let mut out = 0u16;
        for s in succ(b).into_iter().flatten() {
            out |= live_in[s];
        }
        let inn = gen[b] | (out & !kill[b]);
        if inn != live_in[b] {
            live_in[b] = inn;
            for &p in &pred[pred_at[b] as usize..pred_at[b + 1] as usize] {
                if !queued[p as usize] {
                    queued[p as usize] = true;
                    work.push(p);
                }
            }
        }
    }
    for (b, &start) in starts.iter().enumerate() {
        let mut live = 0u16;
        for s in succ(b).into_iter().flatten() {
            live |= live_in[s];
        }
        for i in (start as usize..end(b)).rev() {
            live_out[i] = live;
            let f = &facts[i];
            live = (live & !f.defs) | f.uses_in(ctx[i]);
        }
    }
    live_out
}

/// See [`Analysis::stack_ptr`]: a forward "may" analysis (union at joins) of registers
/// derived from `r10` by `mov` and `add`/`sub`.
fn stack_pointers(facts: &[Fact]) -> Vec<u16> {
    let n = facts.len();
    let fp = 1u16 << 10;
    // One extra entry absorbs the edges that go nowhere (branch-free updates).
    let mut inn = vec![fp; n + 1];
    // Two forward sweeps: a guess, so no fixpoint is needed (the second carries what
    // loops bring back to their heads).
    for _ in 0..2 {
        for (i, f) in facts.iter().enumerate() {
            let s = inn[i];
            let copied = 0u16.wrapping_sub((s & f.sp_src != 0) as u16) & f.sp_dst;
            let out = (s & !f.sp_clear) | copied | fp;
            let falls = matches!(f.flow, Flow::Next | Flow::Branch);
            let next = if falls { i + 1 } else { n };
            let target = if f.target == NO_TARGET {
                n
            } else {
                f.target as usize
            };
            inn[next] |= out;
            inn[target] |= out;
        }
    }
    inn.truncate(n);
    inn
}

/// True when an access of `size` at `r10 + off` stays inside the current frame.
pub fn in_frame(off: i16, size: oxbpf_isa::Size) -> bool {
    let off = off as i32;
    off >= -(crate::STACK_SIZE as i32) && off + size.bytes() as i32 <= 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxbpf_isa::{AluOp, Width};

    fn mov(dst: Reg, imm: i32) -> Insn {
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst,
            src: Operand::Imm(imm),
        }
    }

    #[test]
    fn functions_depth_and_clobbers() {
        // 0: call +2 (-> 3); 1: exit; 2: (dead) ; 3: r6 = 1; 4: call +1 (-> 6); 5: exit;
        // 6: r7 = 2; 7: exit
        let p = Program::from_insns(vec![
            Insn::Call(CallTarget::Local(2)),
            Insn::Exit,
            mov(Reg::R0, 0),
            mov(Reg::R6, 1),
            Insn::Call(CallTarget::Local(1)),
            Insn::Exit,
            mov(Reg::R7, 2),
            Insn::Exit,
        ])
        .unwrap();
        let a = Analysis::new(&p);
        assert_eq!(a.ctx, vec![1, 1, 0, 2, 2, 2, 2, 2]);
        let _ = IN_SUB;
        assert_eq!(a.clobbers[3], 0b01);
        assert_eq!(a.clobbers[6], 0b10);
        assert_eq!(a.frames, 3);
        assert!(!a.dynamic_depth);
        assert!(a.has_local_calls);
        assert!(!a.falls_off_end);
        assert!(a.leader[0] && a.leader[1] && a.leader[3] && a.leader[5] && a.leader[6]);
        assert_eq!(a.block_len[3], 2);
    }

    #[test]
    fn recursion_is_dynamic() {
        let p = Program::from_insns(vec![Insn::Call(CallTarget::Local(-1)), Insn::Exit]).unwrap();
        let a = Analysis::new(&p);
        assert!(a.dynamic_depth);
        assert_eq!(a.frames, crate::MAX_CALL_DEPTH);
        assert_eq!(a.ctx, vec![IN_MAIN | IN_SUB, IN_MAIN | IN_SUB]);
    }

    #[test]
    fn fall_off_end_detected() {
        let p = Program::from_insns(vec![mov(Reg::R0, 1)]).unwrap();
        assert!(Analysis::new(&p).falls_off_end);
    }
}
