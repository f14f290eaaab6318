//! Does a program read its context?
//!
//! A fallback attaches a program somewhere other than where it was written for: a kprobe
//! program (context: `struct pt_regs`) or an fentry program (context: the function's
//! arguments as `u64`s) on a tracepoint (context: the tracepoint's record). A program that
//! never reads its context (the BCC hello world) behaves the same there; one that reads
//! arguments would silently read other bytes. This module finds out which it is.
//!
//! The analysis is a forward data flow over the instructions that tracks which registers
//! and which 8-byte stack slots may hold a pointer derived from the context (`r1` at entry,
//! copies, constant offsets, spills and fills through `r10`). A program *reads its
//! context* when it loads or atomically accesses memory through such a pointer, passes
//! one to a helper as anything but the first argument (`bpf_probe_read*(dst, size, ctx+n)`
//! reads it; `bpf_perf_event_output(ctx, ...)` takes it as a handle), or calls one of the
//! helpers that read arguments out of the context (`bpf_get_func_arg`, `bpf_get_func_ret`,
//! `bpf_get_func_arg_cnt`). bpf-to-bpf calls pass the tracked registers into the callee.
//! It over-approximates (a pointer joined over two paths counts as the context), so
//! "does not read" is reliable and "reads" names the first instruction that may.

use oxbpf_isa::{AluOp, CallTarget, Insn, Program, Reg, Size, Width};

/// Where a program reads its context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextRead {
    /// Instruction index (a `lddw` counts once).
    pub insn: usize,
    /// The kernel's slot number of that instruction (what verifier logs show).
    pub slot: usize,
    /// What happens there, e.g. `r1 = *(u64 *)(r1 +112)` or
    /// `passes the context to helper bpf_probe_read_kernel (argument 3)`.
    pub what: String,
}

impl std::fmt::Display for ContextRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "instruction {}: {}", self.insn, self.what)
    }
}

/// Helpers that read the traced function's arguments out of the context.
const ARG_HELPERS: &[i32] = &[
    183, // bpf_get_func_arg
    184, // bpf_get_func_ret
    185, // bpf_get_func_arg_cnt
];

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct State {
    /// Bit n: register rn may hold a context pointer.
    regs: u16,
    /// Bit n: the 8-byte stack slot at r10 - 8*(n+1) may hold a spilled context pointer.
    stack: u64,
}

impl State {
    fn reg(&self, r: Reg) -> bool {
        self.regs & (1 << r.index()) != 0
    }
    fn set(&mut self, r: Reg, v: bool) {
        if v {
            self.regs |= 1 << r.index();
        } else {
            self.regs &= !(1 << r.index());
        }
    }
    fn union(&self, o: &State) -> State {
        State {
            regs: self.regs | o.regs,
            stack: self.stack | o.stack,
        }
    }
}

/// The stack slot bit for an 8-byte access at `r10 + off`.
fn stack_slot(off: i16) -> Option<u32> {
    if off < 0 && off % 8 == 0 && off >= -512 {
        Some(u32::from((-off) as u16 / 8 - 1))
    } else {
        None
    }
}

const ARG_REGS: [Reg; 5] = [Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5];

/// The first place where `program` may read its context, or `None` when it never does.
pub fn context_read(program: &Program) -> Option<ContextRead> {
    let insns = program.insns();
    let n = insns.len();
    if n == 0 {
        return None;
    }
    let mut states: Vec<Option<State>> = vec![None; n];
    let mut entry = State::default();
    entry.set(Reg::R1, true);
    states[0] = Some(entry);
    let mut work = vec![0usize];
    let mut first: Option<(usize, String)> = None;
    let note = |i: usize, what: String, first: &mut Option<(usize, String)>| {
        if first.as_ref().is_none_or(|(j, _)| i < *j) {
            *first = Some((i, what));
        }
    };
    let propagate =
        |to: usize, s: State, states: &mut Vec<Option<State>>, work: &mut Vec<usize>| {
            if to >= n {
                return;
            }
            let merged = match states[to] {
                Some(old) => old.union(&s),
                None => s,
            };
            if states[to] != Some(merged) {
                states[to] = Some(merged);
                work.push(to);
            }
        };

    while let Some(i) = work.pop() {
        let Some(mut s) = states[i] else { continue };
        let insn = &insns[i];
        let text = || oxbpf_isa::format_insn(insn, oxbpf_isa::Syntax::Llvm);
        let mut fallthrough = true;
        match *insn {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => {
                let keep = match (width, op, src) {
                    (Width::W64, AluOp::Mov, oxbpf_isa::Operand::Reg(r)) => s.reg(r),
                    (Width::W64, AluOp::Mov, oxbpf_isa::Operand::Imm(_)) => false,
                    (Width::W64, AluOp::Add | AluOp::Sub, oxbpf_isa::Operand::Imm(_)) => s.reg(dst),
                    (Width::W64, AluOp::Add, oxbpf_isa::Operand::Reg(r)) => s.reg(dst) || s.reg(r),
                    (Width::W64, AluOp::Sub, oxbpf_isa::Operand::Reg(_)) => s.reg(dst),
                    _ => false,
                };
                s.set(dst, keep);
            }
            Insn::Neg { dst, .. } | Insn::Endian { dst, .. } | Insn::LoadImm64 { dst, .. } => {
                s.set(dst, false)
            }
            Insn::AddrSpaceCast { dst, .. } => s.set(dst, false),
            Insn::Load {
                size,
                dst,
                src,
                off,
                ..
            } => {
                if s.reg(src) {
                    note(i, text(), &mut first);
                }
                let filled = src == Reg::R10
                    && size == Size::DW
                    && stack_slot(off).is_some_and(|b| s.stack & (1 << b) != 0);
                s.set(dst, filled);
            }
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => {
                if s.reg(dst) && dst != Reg::R10 {
                    note(i, text(), &mut first);
                }
                if dst == Reg::R10 {
                    let spilled =
                        matches!(src, oxbpf_isa::Operand::Reg(r) if s.reg(r)) && size == Size::DW;
                    match stack_slot(off) {
                        Some(b) if spilled => s.stack |= 1 << b,
                        Some(b) => s.stack &= !(1 << b),
                        // A partial or unaligned store may overwrite part of a slot.
                        None => {
                            // i32: `-off` overflows i16 for off = -32768.
                            let b = -i32::from(off) / 8;
                            if off < 0 && b < 64 {
                                s.stack &= !(1u64 << b);
                            }
                        }
                    }
                }
            }
            Insn::Atomic { dst, .. } => {
                if s.reg(dst) {
                    note(i, text(), &mut first);
                }
                if let Some(r) = insn.written_reg() {
                    s.set(r, false);
                }
            }
            Insn::LoadPacket { .. } => {
                // Legacy packet loads read through the context held in r6.
                if s.reg(Reg::R6) {
                    note(i, text(), &mut first);
                }
                s.set(Reg::R0, false);
            }
            Insn::Call(CallTarget::Helper(id)) => {
                let name = oxbpf_isa::helper_name(id as u32)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("#{id}"));
                if ARG_HELPERS.contains(&id) && s.reg(Reg::R1) {
                    note(i, format!("calls {name}, which reads the traced function's arguments from the context"), &mut first);
                }
                for (k, r) in ARG_REGS.iter().enumerate().skip(1) {
                    if s.reg(*r) {
                        note(
                            i,
                            format!("passes the context to helper {name} (argument {})", k + 1),
                            &mut first,
                        );
                        break;
                    }
                }
                for r in ARG_REGS {
                    s.set(r, false);
                }
                s.set(Reg::R0, false);
            }
            Insn::Call(CallTarget::Local(_)) => {
                if let Some(target) = program.branch_target(i) {
                    let mut callee = State::default();
                    for r in ARG_REGS {
                        callee.set(r, s.reg(r));
                    }
                    propagate(target, callee, &mut states, &mut work);
                }
                let any = ARG_REGS.iter().any(|r| s.reg(*r));
                for r in ARG_REGS {
                    s.set(r, false);
                }
                // A subprogram handed the context might return a pointer into it.
                s.set(Reg::R0, any);
            }
            Insn::Call(CallTarget::External { .. }) | Insn::CallX { .. } => {
                for r in ARG_REGS {
                    s.set(r, false);
                }
                s.set(Reg::R0, false);
            }
            Insn::Exit => fallthrough = false,
            Insn::Ja { .. } => {
                fallthrough = false;
                if let Some(t) = program.branch_target(i) {
                    propagate(t, s, &mut states, &mut work);
                }
            }
            Insn::Jump { .. } | Insn::MayGoto { .. } => {
                if let Some(t) = program.branch_target(i) {
                    propagate(t, s, &mut states, &mut work);
                }
            }
        }
        if fallthrough {
            propagate(i + 1, s, &mut states, &mut work);
        }
    }
    first.map(|(insn, what)| ContextRead {
        insn,
        slot: program.slot(insn),
        what,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxbpf_isa::assemble;

    fn reads(src: &str) -> Option<ContextRead> {
        let p = assemble(src).unwrap();
        context_read(&p)
    }

    #[test]
    fn hello_world_does_not_read_its_context() {
        // The BCC hello world: a string on the stack, bpf_trace_printk.
        let src = "
            r1 = 0x0a21646c
            *(u32 *)(r10 -8) = r1
            r1 = r10
            r1 += -8
            r2 = 4
            call 6
            r0 = 0
            exit";
        assert_eq!(reads(src), None);
    }

    #[test]
    fn direct_loads_spills_and_helpers_are_found() {
        let r = reads("r1 = *(u64 *)(r1 +112)\nr0 = 0\nexit").unwrap();
        assert_eq!(r.insn, 0);
        assert_eq!(r.what, "r1 = *(u64 *)(r1 + 112)");

        let r = reads(
            "r6 = r1
             r6 += 8
             *(u64 *)(r10 -16) = r6
             r1 = 0
             r7 = *(u64 *)(r10 -16)
             r0 = *(u32 *)(r7 +0)
             exit",
        )
        .unwrap();
        assert_eq!(r.insn, 5);

        // bpf_probe_read_kernel(dst, 8, ctx + 104)
        let r = reads(
            "r3 = r1
             r3 += 104
             r1 = r10
             r1 += -8
             r2 = 8
             call 113
             r0 = 0
             exit",
        )
        .unwrap();
        assert_eq!(r.insn, 5);
        assert!(r.what.contains("argument 3"), "{}", r.what);

        // The context as a handle is not a read: bpf_get_stackid(ctx, map, 0).
        assert_eq!(reads("r2 = 0\nr3 = 0\ncall 27\nr0 = 0\nexit"), None);
        // bpf_get_func_arg(ctx, 0, &v)
        let r = reads("r2 = 0\nr3 = r10\nr3 += -8\ncall 183\nexit").unwrap();
        assert!(
            r.what.contains("reads the traced function's arguments"),
            "{}",
            r.what
        );
    }

    #[test]
    fn stores_far_below_the_frame_are_analysed() {
        // r10 - 32768: `-off` does not fit i16; the analysis must not overflow.
        assert_eq!(reads("*(u8 *)(r10 -32768) = 0\nr0 = 0\nexit"), None);
        let r = reads("*(u64 *)(r10 -8) = r1\n*(u32 *)(r10 -32768) = 0\nr2 = *(u64 *)(r10 -8)\nr0 = *(u32 *)(r2 +0)\nexit")
            .unwrap();
        assert_eq!(r.insn, 3);
    }

    #[test]
    fn overwritten_context_register_is_not_a_read() {
        assert_eq!(
            reads("r1 = r10\nr1 += -8\nr0 = *(u64 *)(r1 +0)\nexit"),
            None
        );
        // An overwritten spill slot no longer holds the context.
        assert_eq!(
            reads(
                "*(u64 *)(r10 -8) = r1
                 r2 = 0
                 *(u64 *)(r10 -8) = r2
                 r3 = *(u64 *)(r10 -8)
                 r0 = *(u64 *)(r3 +0)
                 exit"
            ),
            None
        );
    }

    #[test]
    fn subprograms_see_their_arguments() {
        // main calls f(ctx); f reads through its first argument.
        let r = reads(
            "call pc+2
             r0 = 0
             exit
             r0 = *(u64 *)(r1 +0)
             exit",
        )
        .unwrap();
        assert_eq!(r.insn, 3);
        // main overwrites r1 before the call: no read.
        assert_eq!(
            reads(
                "r1 = 0
                 call pc+2
                 r0 = 0
                 exit
                 r0 = *(u64 *)(r1 +0)
                 exit"
            ),
            None
        );
    }

    #[test]
    fn reads_on_one_branch_only_count() {
        let r = reads(
            "if r2 == 0 goto +2
             r0 = 0
             exit
             r0 = *(u32 *)(r1 +4)
             exit",
        )
        .unwrap();
        assert_eq!(r.insn, 3);
    }
}
