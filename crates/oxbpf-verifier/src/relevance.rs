//! Which values can influence a safety decision: a static stand-in for the Linux
//! verifier's precision tracking.
//!
//! A register or stack slot is *relevant* at an instruction when, on some path from there,
//! its value flows (through arithmetic, moves, spills and fills) into something the
//! verifier decides on: a conditional jump, a memory address, a helper argument other
//! than a plain number, a bpf-to-bpf call, or a return value that is checked. Two states
//! that differ only in the values of scalars that are not relevant make the same decisions
//! on every path, so the state comparison ignores those values (it still compares their
//! types and, for stack slots, which bytes are initialized).
//!
//! The analysis is a backward data-flow fixpoint per instruction, conservative where it
//! cannot see: a load through a pointer other than `r10` may read any stack slot; a store
//! through one may write any; a bpf-to-bpf call may read every stack slot of its caller;
//! both operands of a 64-bit register addition or subtraction matter when one of them may
//! be a pointer (pointer arithmetic checks the other's bounds), which a forward analysis of
//! where pointers can be (registers, spilled slots, loads from the context and the stack)
//! decides.

use crate::cfg::Cfg;
use oxbpf_isa::{CallTarget, Insn, Operand, PacketMode, Program, Reg};

/// Relevant registers and stack slots at one instruction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relevance {
    /// Bit per register.
    pub regs: u16,
    /// Bit per 8-byte stack slot of the function's own frame (slot `k` covers
    /// `fp-8(k+1) .. fp-8k`).
    pub slots: u64,
}

impl Relevance {
    const ALL: Relevance = Relevance {
        regs: 0x7ff,
        slots: u64::MAX,
    };

    fn union(self, o: Relevance) -> Relevance {
        Relevance {
            regs: self.regs | o.regs,
            slots: self.slots | o.slots,
        }
    }

    pub fn reg(&self, r: usize) -> bool {
        self.regs & (1 << r) != 0
    }

    pub fn slot(&self, k: usize) -> bool {
        k >= 64 || self.slots & (1 << k) != 0
    }
}

fn bit(r: Reg) -> u16 {
    1 << r.num()
}

fn slot_of(off: i16) -> Option<u64> {
    if (-512..0).contains(&off) {
        Some(1u64 << ((-(off as i32) - 1) / 8))
    } else {
        None
    }
}

/// What kinds of pointer a register or stack slot may hold (bit set).
const CTX: u8 = 1;
const STACK: u8 = 2;
const OTHER: u8 = 4;
const ANY: u8 = CTX | STACK | OTHER;

/// May-hold-a-pointer facts at one instruction.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Kinds {
    regs: [u8; 11],
    slots: [u8; 64],
}

impl Kinds {
    const NONE: Kinds = Kinds {
        regs: [0; 11],
        slots: [0; 64],
    };

    fn join(&mut self, o: &Kinds) -> bool {
        let mut changed = false;
        for (a, b) in self.regs.iter_mut().zip(o.regs.iter()) {
            if *a | b != *a {
                *a |= b;
                changed = true;
            }
        }
        for (a, b) in self.slots.iter_mut().zip(o.slots.iter()) {
            if *a | b != *a {
                *a |= b;
                changed = true;
            }
        }
        changed
    }

    fn any_slot(&self) -> u8 {
        self.slots.iter().fold(0, |m, s| m | s)
    }
}

fn slot_index(off: i16) -> Option<usize> {
    (-512..0)
        .contains(&off)
        .then(|| ((-(off as i32) - 1) / 8) as usize)
}

/// Forward analysis: which registers and slots may hold a pointer before each instruction
/// (reached instructions only). `ret_ptr(id)` tells whether a helper may return one;
/// `r1_kind` is what `r1` holds at the program's entry.
fn pointer_kinds(
    prog: &Program,
    cfg: &Cfg,
    ret_ptr: &dyn Fn(i32) -> bool,
    r1_kind: u8,
) -> Vec<Kinds> {
    let n = prog.len();
    let insns = prog.insns();
    let mut at = vec![Kinds::NONE; n];
    let mut seen = vec![false; n];
    let mut work = Vec::new();
    for (k, s) in cfg.subprogs.iter().enumerate() {
        let mut e = Kinds::NONE;
        e.regs[10] = STACK;
        if k == 0 {
            e.regs[1] = r1_kind;
        } else {
            // Called from anywhere (or as a callback): its arguments may be anything.
            for r in 1..=5 {
                e.regs[r] = ANY;
            }
        }
        at[s.start] = e;
        seen[s.start] = true;
        work.push(s.start);
    }
    while let Some(i) = work.pop() {
        let mut k = at[i];
        let b = |r: Reg| r.index();
        match insns[i] {
            Insn::Alu {
                op,
                dst,
                src,
                width,
            } => {
                use oxbpf_isa::AluOp::*;
                let s = match src {
                    Operand::Reg(s) => k.regs[b(s)],
                    Operand::Imm(_) => 0,
                };
                k.regs[b(dst)] = match (op, width) {
                    (Mov, oxbpf_isa::Width::W64) => s,
                    (Add | Sub, oxbpf_isa::Width::W64) => k.regs[b(dst)] | s,
                    _ => 0,
                };
            }
            Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => k.regs[b(dst)] = 0,
            Insn::AddrSpaceCast { dst, .. } => k.regs[b(dst)] = 0,
            Insn::Load { dst, src, off, .. } => {
                let base = k.regs[b(src)];
                let mut v = 0;
                if base & CTX != 0 {
                    v |= OTHER; // packet pointers
                }
                if base & STACK != 0 {
                    v |= match (src == Reg::R10, slot_index(off)) {
                        (true, Some(s)) => k.slots[s],
                        // In a callee a stack pointer may point into a caller's frame,
                        // whose slots this analysis does not follow.
                        _ if cfg.subprog_of[i] != 0 => ANY,
                        _ => k.any_slot(),
                    };
                }
                k.regs[b(dst)] = v;
            }
            Insn::Store {
                dst,
                off,
                src,
                size,
            } => {
                let v = match src {
                    Operand::Reg(s) => k.regs[b(s)],
                    Operand::Imm(_) => 0,
                };
                if k.regs[b(dst)] & STACK != 0 {
                    match (dst == Reg::R10, slot_index(off)) {
                        (true, Some(s)) if size == oxbpf_isa::Size::DW => k.slots[s] = v,
                        (true, Some(s)) => k.slots[s] |= v,
                        _ => {
                            for x in &mut k.slots {
                                *x |= v;
                            }
                        }
                    }
                }
            }
            Insn::Atomic { op, src, dst, .. } => {
                if op.writes_register() {
                    let out = match op {
                        oxbpf_isa::AtomicOp::CmpXchg => 0,
                        oxbpf_isa::AtomicOp::LoadAcquire => b(dst),
                        _ => b(src),
                    };
                    // Reading a slot back may give what was spilled there.
                    k.regs[out] =
                        if k.regs[b(dst)] & STACK != 0 || op == oxbpf_isa::AtomicOp::LoadAcquire {
                            k.any_slot() | if k.regs[b(src)] & CTX != 0 { OTHER } else { 0 }
                        } else {
                            0
                        };
                }
            }
            Insn::LoadImm64 { dst, value } => {
                k.regs[b(dst)] = match value {
                    oxbpf_isa::LoadImm64::Imm(_) => 0,
                    _ => OTHER,
                };
            }
            Insn::LoadPacket { .. } => {
                for r in 0..=5 {
                    k.regs[r] = 0;
                }
            }
            Insn::Call(CallTarget::Helper(id)) => {
                let cb = crate::cfg::CALLBACK_HELPERS.contains(&id);
                for r in 1..=5 {
                    k.regs[r] = 0;
                }
                k.regs[0] = if ret_ptr(id) { OTHER } else { 0 };
                if cb {
                    // The callback may store pointers through its context argument.
                    for x in &mut k.slots {
                        *x |= CTX | OTHER;
                    }
                }
            }
            Insn::Call(_) | Insn::CallX { .. } => {
                for r in 1..=5 {
                    k.regs[r] = 0;
                }
                k.regs[0] = ANY;
                for x in &mut k.slots {
                    *x |= CTX | OTHER;
                }
            }
            Insn::Ja { .. } | Insn::Jump { .. } | Insn::MayGoto { .. } | Insn::Exit => {}
        }
        let next = (i + 1 < n).then_some(i + 1);
        let (a, c) = match insns[i] {
            Insn::Exit => (None, None),
            Insn::Ja { .. } => (prog.branch_target(i), None),
            Insn::Jump { .. } | Insn::MayGoto { .. } => (next, prog.branch_target(i)),
            _ => (next, None),
        };
        for t in [a, c].into_iter().flatten() {
            if !seen[t] {
                seen[t] = true;
                at[t] = k;
                work.push(t);
            } else if at[t].join(&k) {
                work.push(t);
            }
        }
    }
    at
}

/// Relevance at entry of every instruction. `helper_args(id)` gives the mask of argument
/// registers a helper's safety checks depend on (pointers, sizes, maps; not plain
/// numbers); `ret_ptr(id)` whether a helper may return a pointer; `r1_kind_ctx` whether
/// `r1` holds the context at entry (else plain memory); `exit_r0_main` says whether the
/// program's return value is checked.
pub fn analyze(
    prog: &Program,
    cfg: &Cfg,
    helper_args: &dyn Fn(i32) -> u16,
    ret_ptr: &dyn Fn(i32) -> bool,
    r1_is_ctx: bool,
    exit_r0_main: bool,
) -> Vec<Relevance> {
    let n = prog.len();
    let insns = prog.insns();
    let kinds = pointer_kinds(prog, cfg, ret_ptr, if r1_is_ctx { CTX } else { OTHER });
    let succ = |i: usize| -> (Option<usize>, Option<usize>) {
        let next = (i + 1 < n).then_some(i + 1);
        match insns[i] {
            Insn::Exit => (None, None),
            Insn::Ja { .. } => (prog.branch_target(i), None),
            Insn::Jump { .. } | Insn::MayGoto { .. } => (next, prog.branch_target(i)),
            _ => (next, None),
        }
    };
    let mut rel = vec![Relevance::default(); n];
    let mut changed = true;
    while changed {
        changed = false;
        for i in (0..n).rev() {
            let (a, b) = succ(i);
            let out = a
                .map_or(Relevance::default(), |t| rel[t])
                .union(b.map_or(Relevance::default(), |t| rel[t]));
            let main = cfg.subprog_of[i] == 0;
            let v = transfer(
                &insns[i],
                &kinds[i],
                out,
                helper_args,
                main && exit_r0_main,
                main,
            );
            if v != rel[i] {
                rel[i] = v;
                changed = true;
            }
        }
    }
    rel
}

fn transfer(
    insn: &Insn,
    kinds: &Kinds,
    out: Relevance,
    helper_args: &dyn Fn(i32) -> u16,
    exit_r0: bool,
    main: bool,
) -> Relevance {
    let mut r = out;
    let op_bit = |o: &Operand| match o {
        Operand::Reg(s) => bit(*s),
        Operand::Imm(_) => 0,
    };
    match *insn {
        Insn::Alu {
            op,
            dst,
            src: Operand::Reg(src),
            width: oxbpf_isa::Width::W64,
        } if matches!(op, oxbpf_isa::AluOp::Add | oxbpf_isa::AluOp::Sub)
            && (kinds.regs[dst.index()] | kinds.regs[src.index()]) != 0 =>
        {
            // An operand may be a pointer, and pointer arithmetic checks the bounds of the
            // number added (even when the result is never used).
            r.regs |= bit(dst) | bit(src);
        }
        Insn::Alu { op, dst, src, .. } => {
            let is_mov = matches!(
                op,
                oxbpf_isa::AluOp::Mov
                    | oxbpf_isa::AluOp::MovSx8
                    | oxbpf_isa::AluOp::MovSx16
                    | oxbpf_isa::AluOp::MovSx32
            );
            if out.regs & bit(dst) != 0 {
                r.regs &= !bit(dst);
                r.regs |= op_bit(&src);
                if !is_mov {
                    r.regs |= bit(dst);
                }
            }
        }
        Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => {
            // dst depends on itself only: relevance passes through unchanged.
            let _ = dst;
        }
        Insn::AddrSpaceCast { dst, src, .. } => {
            if out.regs & bit(dst) != 0 {
                r.regs &= !bit(dst);
                r.regs |= bit(src);
            }
        }
        Insn::Load { dst, src, off, .. } => {
            let wanted = out.regs & bit(dst) != 0;
            r.regs &= !bit(dst);
            r.regs |= bit(src);
            if wanted {
                match (src == Reg::R10, slot_of(off)) {
                    (true, Some(s)) => r.slots |= s,
                    (true, None) => {}
                    (false, _) => r.slots = u64::MAX,
                }
            }
        }
        Insn::Store {
            dst,
            off,
            src,
            size,
        } => {
            r.regs |= bit(dst);
            let stored_matters = match (dst == Reg::R10, slot_of(off)) {
                (true, Some(s)) => out.slots & s != 0,
                (true, None) => false,
                (false, _) => out.slots != 0,
            };
            if let (true, Some(s), oxbpf_isa::Size::DW, 0) =
                (dst == Reg::R10, slot_of(off), size, off.rem_euclid(8))
            {
                // The whole slot is overwritten: its earlier value no longer matters.
                r.slots &= !s;
            }
            if stored_matters {
                r.regs |= op_bit(&src);
            }
        }
        Insn::Atomic {
            op, dst, src, off, ..
        } => {
            use oxbpf_isa::AtomicOp;
            match op {
                AtomicOp::LoadAcquire => {
                    let wanted = out.regs & bit(dst) != 0;
                    r.regs &= !bit(dst);
                    r.regs |= bit(src);
                    if wanted {
                        match (src == Reg::R10, slot_of(off)) {
                            (true, Some(s)) => r.slots |= s,
                            (true, None) => {}
                            (false, _) => r.slots = u64::MAX,
                        }
                    }
                }
                _ => {
                    // Read-modify-write: the address, and the operands when the memory or
                    // the fetched value matters.
                    r.regs |= bit(dst);
                    let mem_matters = match (dst == Reg::R10, slot_of(off)) {
                        (true, Some(s)) => out.slots & s != 0,
                        (true, None) => false,
                        (false, _) => out.slots != 0,
                    };
                    let fetched = match op {
                        AtomicOp::CmpXchg => out.regs & 1 != 0,
                        _ if op.writes_register() => out.regs & bit(src) != 0,
                        _ => false,
                    };
                    if fetched {
                        match (dst == Reg::R10, slot_of(off)) {
                            (true, Some(s)) => r.slots |= s,
                            (true, None) => {}
                            (false, _) => r.slots = u64::MAX,
                        }
                    }
                    if mem_matters || fetched {
                        r.regs |= bit(src);
                        if op == AtomicOp::CmpXchg {
                            r.regs |= 1;
                        }
                    }
                }
            }
        }
        Insn::LoadImm64 { dst, .. } => r.regs &= !bit(dst),
        Insn::LoadPacket { mode, .. } => {
            r.regs &= !0b11_1111;
            r.regs |= 1 << 6;
            if let PacketMode::Ind(s) = mode {
                r.regs |= bit(s);
            }
        }
        Insn::Ja { .. } | Insn::MayGoto { .. } => {}
        Insn::Jump { dst, src, .. } => r.regs |= bit(dst) | op_bit(&src),
        Insn::Call(CallTarget::Helper(id)) => {
            r.regs &= !0b11_1111;
            r.regs |= helper_args(id) & 0b11_1110;
            if crate::cfg::CALLBACK_HELPERS.contains(&id) {
                // The callback reads the caller's stack through its context pointer.
                r.slots = u64::MAX;
                r.regs |= 0b11_1110;
            }
        }
        Insn::Call(_) | Insn::CallX { .. } => {
            // The callee's decisions may depend on its arguments and, through pointers,
            // on any slot of this frame.
            r.regs &= !0b11_1111;
            r.regs |= 0b11_1110;
            r.slots = u64::MAX;
        }
        Insn::Exit => {
            r = Relevance::default();
            // A function's result goes back to its caller; the program's is checked when
            // the program type restricts it.
            if !main || exit_r0 {
                r.regs |= 1;
            }
        }
    }
    r
}

/// Relevance that treats everything as relevant (for callers' frames and unknown code).
pub fn all() -> Relevance {
    Relevance::ALL
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxbpf_isa::assemble;

    fn rel(src: &str) -> Vec<Relevance> {
        let p = assemble(src).expect("asm");
        let cfg = crate::cfg::analyze(&p, &|_| 5).expect("cfg");
        analyze(&p, &cfg, &|_| 0b11_1110, &|_| false, true, false)
    }

    #[test]
    fn counters_only_returned_are_irrelevant() {
        let r = rel("r6 = 0\n\
             call bpf_ktime_get_ns\n\
             if r0 == 0 goto +1\n\
             r6 += 1\n\
             r0 = r6\n\
             exit");
        // r6 only flows into the (unchecked) return value.
        assert!(!r[2].reg(6));
        assert!(r[2].reg(0));
    }

    #[test]
    fn indexes_and_spills_are_relevant() {
        let r = rel("r1 = 5\n\
             *(u64 *)(r10 - 8) = r1\n\
             r2 = *(u64 *)(r10 - 8)\n\
             r3 = r10\n\
             r3 += r2\n\
             r0 = *(u8 *)(r3 - 16)\n\
             exit");
        assert!(r[1].reg(1), "spilled value is later an index");
        assert!(r[2].slot(0));
        assert!(!r[0].slot(0));
    }
}
