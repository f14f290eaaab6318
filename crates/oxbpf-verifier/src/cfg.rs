//! Static checks on the control-flow graph before the abstract interpretation: function
//! boundaries, jumps that leave their function, falling off the end, unreachable
//! instructions; and the facts the interpretation uses (prune points, live registers).
//!
//! Instructions are numbered by index in [`Program::insns`] here (a `lddw` is one).

use oxbpf_isa::{CallTarget, Insn, JmpOp, LoadImm64, Operand, PacketMode, Program};

/// One function (the program's entry or a bpf-to-bpf callee).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subprog {
    /// First instruction index.
    pub start: usize,
    /// One past the last instruction index.
    pub end: usize,
    /// Reached by a call or a code-address `lddw` (or is the entry).
    pub called: bool,
}

/// What the control-flow checks found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CfgProblem {
    /// A jump leaves the function it is in.
    JumpOutOfFunction { from: usize, to: usize },
    /// The last instruction of a function can fall through into the next one (or off the
    /// end of the program).
    FallsThrough { last: usize },
    /// No path reaches this instruction.
    Unreachable { insn: usize },
    /// `callx`: an indirect call.
    IndirectCall { insn: usize },
}

/// Results of the control-flow analysis.
#[derive(Clone, Debug)]
pub struct Cfg {
    pub subprogs: Vec<Subprog>,
    /// Function of each instruction.
    pub subprog_of: Vec<u32>,
    /// Instructions where states are checkpointed and compared.
    pub prune: Vec<bool>,
    /// Registers read before written on some path from each instruction (bit per
    /// register).
    pub live_in: Vec<u16>,
    /// For each `may_goto` instruction: what the loop it heads may change (the registers
    /// and the stack slots written at constant offsets from r10 inside the loop body).
    pub loop_writes: Vec<(usize, LoopWrites)>,
}

/// What one loop's body may write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoopWrites {
    /// Registers (bit per register).
    pub regs: u16,
    /// Stack slots of the function's own frame, as `stack` indices of
    /// [`crate::state::Frame`].
    pub slots: Vec<usize>,
}

impl Cfg {
    /// Index of the function starting at instruction `start`.
    pub fn subprog_at(&self, start: usize) -> Option<usize> {
        self.subprogs.iter().position(|s| s.start == start)
    }
}

/// Helpers that call a callback function of the program (bpf_for_each_map_elem,
/// bpf_loop).
pub const CALLBACK_HELPERS: &[i32] = &[164, 181];

const R0: u16 = 1;
const ARGS: u16 = 0b11_1110; // r1..r5
const CALLER_SAVED: u16 = R0 | ARGS;

fn bit(r: oxbpf_isa::Reg) -> u16 {
    1 << r.num()
}

/// (registers read, registers written) by one instruction. `nargs` gives a helper's
/// argument count.
fn use_def(insn: &Insn, nargs: &dyn Fn(i32) -> usize) -> (u16, u16) {
    let op_use = |o: &Operand| match o {
        Operand::Reg(r) => bit(*r),
        Operand::Imm(_) => 0,
    };
    match insn {
        Insn::Alu { op, dst, src, .. } => {
            let reads_dst = !matches!(
                op,
                oxbpf_isa::AluOp::Mov
                    | oxbpf_isa::AluOp::MovSx8
                    | oxbpf_isa::AluOp::MovSx16
                    | oxbpf_isa::AluOp::MovSx32
            );
            let u = op_use(src) | if reads_dst { bit(*dst) } else { 0 };
            (u, bit(*dst))
        }
        Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => (bit(*dst), bit(*dst)),
        Insn::AddrSpaceCast { dst, src, .. } => (bit(*src), bit(*dst)),
        Insn::Load { dst, src, .. } => (bit(*src), bit(*dst)),
        Insn::Store { dst, src, .. } => (bit(*dst) | op_use(src), 0),
        Insn::Atomic { op, dst, src, .. } => {
            use oxbpf_isa::AtomicOp;
            match op {
                AtomicOp::LoadAcquire => (bit(*src), bit(*dst)),
                AtomicOp::CmpXchg => (bit(*dst) | bit(*src) | R0, R0),
                _ => {
                    let w = if op.writes_register() { bit(*src) } else { 0 };
                    (bit(*dst) | bit(*src), w)
                }
            }
        }
        Insn::LoadImm64 { dst, .. } => (0, bit(*dst)),
        Insn::LoadPacket { mode, .. } => {
            let u = 1 << 6
                | match mode {
                    PacketMode::Ind(r) => bit(*r),
                    PacketMode::Abs => 0,
                };
            (u, CALLER_SAVED)
        }
        Insn::Ja { .. } | Insn::MayGoto { .. } => (0, 0),
        Insn::Jump { dst, src, .. } => (bit(*dst) | op_use(src), 0),
        Insn::Call(CallTarget::Helper(id)) => {
            let n = nargs(*id).min(5);
            (((1u16 << n) - 1) << 1, CALLER_SAVED)
        }
        Insn::Call(_) => (ARGS, CALLER_SAVED),
        Insn::CallX { reg } => (bit(*reg) | ARGS, CALLER_SAVED),
        Insn::Exit => (R0, 0),
    }
}

/// Successors inside the same function (calls continue at the next instruction).
fn successors(prog: &Program, i: usize) -> (Option<usize>, Option<usize>) {
    let insn = &prog.insns()[i];
    let next = (i + 1 < prog.len()).then_some(i + 1);
    match insn {
        Insn::Exit => (None, None),
        Insn::Ja { .. } => (prog.branch_target(i), None),
        Insn::Jump { .. } | Insn::MayGoto { .. } => (next, prog.branch_target(i)),
        _ => (next, None),
    }
}

/// Runs the checks and computes the facts. `nargs(id)` is the argument count of helper
/// `id` (5 when unknown).
pub fn analyze(prog: &Program, nargs: &dyn Fn(i32) -> usize) -> Result<Cfg, CfgProblem> {
    let n = prog.len();
    // Function entries.
    let mut starts = vec![0usize];
    for (i, insn) in prog.insns().iter().enumerate() {
        let is_entry_ref = matches!(
            insn,
            Insn::Call(CallTarget::Local(_))
                | Insn::LoadImm64 {
                    value: LoadImm64::CodeAddr(_),
                    ..
                }
        );
        if is_entry_ref {
            if let Some(t) = prog.branch_target(i) {
                starts.push(t);
            }
        }
    }
    starts.sort_unstable();
    starts.dedup();
    let mut subprogs: Vec<Subprog> = starts
        .iter()
        .enumerate()
        .map(|(k, &s)| Subprog {
            start: s,
            end: starts.get(k + 1).copied().unwrap_or(n),
            called: s == 0,
        })
        .collect();
    let mut subprog_of = vec![0u32; n];
    for (k, s) in subprogs.iter().enumerate() {
        for x in &mut subprog_of[s.start..s.end] {
            *x = k as u32;
        }
    }
    // Jumps stay inside their function; functions end with exit or a jump.
    for (i, insn) in prog.insns().iter().enumerate() {
        if let Insn::CallX { .. } = insn {
            return Err(CfgProblem::IndirectCall { insn: i });
        }
        if matches!(
            insn,
            Insn::Ja { .. } | Insn::Jump { .. } | Insn::MayGoto { .. }
        ) {
            if let Some(t) = prog.branch_target(i) {
                if subprog_of[t] != subprog_of[i] {
                    return Err(CfgProblem::JumpOutOfFunction { from: i, to: t });
                }
            }
        }
    }
    for s in &subprogs {
        let last = s.end - 1;
        if !matches!(prog.insns()[last], Insn::Exit | Insn::Ja { .. }) {
            return Err(CfgProblem::FallsThrough { last });
        }
    }
    // Reachability from the entry, following calls into callees.
    let mut seen = vec![false; n];
    let mut work = vec![0usize];
    seen[0] = true;
    while let Some(i) = work.pop() {
        let (a, b) = successors(prog, i);
        let mut push = |t: usize, work: &mut Vec<usize>| {
            if !seen[t] {
                seen[t] = true;
                work.push(t);
            }
        };
        for t in [a, b].into_iter().flatten() {
            push(t, &mut work);
        }
        let insn = &prog.insns()[i];
        if matches!(
            insn,
            Insn::Call(CallTarget::Local(_))
                | Insn::LoadImm64 {
                    value: LoadImm64::CodeAddr(_),
                    ..
                }
        ) {
            if let Some(t) = prog.branch_target(i) {
                push(t, &mut work);
                if let Some(k) = subprogs.iter().position(|s| s.start == t) {
                    subprogs[k].called = true;
                }
            }
        }
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(CfgProblem::Unreachable { insn: i });
    }
    // Prune points.
    let mut prune = vec![false; n];
    for s in &subprogs {
        prune[s.start] = true;
    }
    for (i, insn) in prog.insns().iter().enumerate() {
        match insn {
            Insn::Jump { .. } | Insn::MayGoto { .. } => {
                prune[i] = true;
                if let Some(t) = prog.branch_target(i) {
                    prune[t] = true;
                }
            }
            Insn::Ja { .. } => {
                if let Some(t) = prog.branch_target(i) {
                    prune[t] = true;
                }
            }
            Insn::Call(CallTarget::Helper(id)) if CALLBACK_HELPERS.contains(id) => {
                // The call is the head of the loop that calls the callback.
                prune[i] = true;
                if i + 1 < n {
                    prune[i + 1] = true;
                }
            }
            Insn::Call(_) if i + 1 < n => prune[i + 1] = true,
            _ => {}
        }
    }
    // Liveness: backward fixpoint within each function.
    let ud: Vec<(u16, u16)> = prog.insns().iter().map(|i| use_def(i, nargs)).collect();
    let mut live_in = vec![0u16; n];
    let mut changed = true;
    while changed {
        changed = false;
        for i in (0..n).rev() {
            let (a, b) = successors(prog, i);
            let out = a.map_or(0, |t| live_in[t]) | b.map_or(0, |t| live_in[t]);
            let (u, d) = ud[i];
            let v = u | (out & !d);
            if v != live_in[i] {
                live_in[i] = v;
                changed = true;
            }
        }
    }
    let loop_writes = prog
        .insns()
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i, Insn::MayGoto { .. }))
        .map(|(i, _)| {
            let entry = subprogs[subprog_of[i] as usize].start;
            (i, loop_body_writes(prog, i, entry, &ud))
        })
        .collect();
    Ok(Cfg {
        subprogs,
        subprog_of,
        prune,
        live_in,
        loop_writes,
    })
}

/// The natural loop headed by `head` (a `may_goto`): the back edges are the jumps to
/// `head` from instructions `head` dominates, the body what reaches them without passing
/// `head`. Returns what the body writes.
fn loop_body_writes(prog: &Program, head: usize, entry: usize, ud: &[(u16, u16)]) -> LoopWrites {
    let n = prog.len();
    // Reachable from the function's entry without passing `head`: not dominated by it.
    let mut free = vec![false; n];
    let mut work = vec![entry];
    while let Some(i) = work.pop() {
        if i >= n || i == head || free[i] {
            continue;
        }
        free[i] = true;
        let (a, b) = successors(prog, i);
        work.extend(a);
        work.extend(b);
    }
    let fwd: Vec<bool> = free.iter().map(|f| !f).collect();
    // Backwards: which of those reach `head`.
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        let (a, b) = successors(prog, i);
        for t in [a, b].into_iter().flatten() {
            preds[t].push(i);
        }
    }
    let mut body = vec![false; n];
    let mut work: Vec<usize> = preds[head].clone();
    while let Some(i) = work.pop() {
        if i == head || body[i] || !fwd[i] {
            continue;
        }
        body[i] = true;
        work.extend(preds[i].iter().copied());
    }
    let mut w = LoopWrites::default();
    for (i, insn) in prog.insns().iter().enumerate() {
        if !body[i] {
            continue;
        }
        w.regs |= ud[i].1;
        if let Insn::Store { dst, off, .. } | Insn::Atomic { dst, off, .. } = insn {
            if *dst == oxbpf_isa::Reg::R10 && *off < 0 {
                let slot = ((-(*off as i32) - 1) / 8) as usize;
                if !w.slots.contains(&slot) {
                    w.slots.push(slot);
                }
            }
        }
    }
    w
}

/// True for a conditional jump that compares with 0 (a null check candidate).
pub fn is_zero_compare(insn: &Insn) -> bool {
    matches!(
        insn,
        Insn::Jump {
            op: JmpOp::Eq | JmpOp::Ne,
            src: Operand::Imm(0),
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxbpf_isa::{AluOp, Reg, Width};

    fn mov(dst: Reg, v: i32) -> Insn {
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst,
            src: Operand::Imm(v),
        }
    }

    fn prog(insns: Vec<Insn>) -> Program {
        Program::from_insns(insns).expect("valid program")
    }

    #[test]
    fn finds_functions_and_liveness() {
        // 0: r1 = 1; 1: call +2 (to 4); 2: r0 = r6 ... exit; 4: r0 = r1; exit
        let p = prog(vec![
            mov(Reg::R1, 1),
            Insn::Call(CallTarget::Local(2)),
            mov(Reg::R0, 0),
            Insn::Exit,
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst: Reg::R0,
                src: Operand::Reg(Reg::R1),
            },
            Insn::Exit,
        ]);
        let cfg = analyze(&p, &|_| 5).expect("ok");
        assert_eq!(cfg.subprogs.len(), 2);
        assert_eq!((cfg.subprogs[1].start, cfg.subprogs[1].end), (4, 6));
        assert!(cfg.subprogs[1].called);
        assert_eq!(cfg.live_in[4], 1 << 1);
        assert_eq!(cfg.live_in[1] & 0b11_1110, 0b11_1110);
        assert!(cfg.prune[2] && cfg.prune[4]);
    }

    #[test]
    fn rejects_bad_shapes() {
        let p = prog(vec![
            mov(Reg::R0, 0),
            Insn::Exit,
            mov(Reg::R0, 1),
            Insn::Exit,
        ]);
        assert_eq!(
            analyze(&p, &|_| 5).unwrap_err(),
            CfgProblem::Unreachable { insn: 2 }
        );
        let p = prog(vec![
            Insn::Call(CallTarget::Local(1)),
            Insn::Exit,
            mov(Reg::R0, 1),
        ]);
        assert_eq!(
            analyze(&p, &|_| 5).unwrap_err(),
            CfgProblem::FallsThrough { last: 2 }
        );
        let p = prog(vec![
            mov(Reg::R0, 0),
            Insn::Call(CallTarget::Local(2)),
            Insn::Ja {
                off: 1,
                long: false,
            },
            Insn::Exit,
            Insn::Exit,
        ]);
        assert_eq!(
            analyze(&p, &|_| 5).unwrap_err(),
            CfgProblem::JumpOutOfFunction { from: 2, to: 4 }
        );
    }
}
