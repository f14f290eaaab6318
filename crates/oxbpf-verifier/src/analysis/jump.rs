//! Conditional jumps: decided outcomes, refinement of both successors, NULL checks and
//! packet bounds checks.

use super::{fail, Env, R};
use crate::diag::ErrorKind;
use crate::domain::Scalar;
use crate::state::{PathEvent, RegState, RegType, State};
use oxbpf_isa::{JmpOp, Operand, Width};

/// Largest packet offset a bounds check may prove (the kernel's `MAX_PACKET_OFF`).
const MAX_PACKET_OFF: u64 = 0xffff;

impl Env<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn exec_cond_jump(
        &mut self,
        st: &mut State,
        pc: usize,
        width: Width,
        op: JmpOp,
        dst: usize,
        src: Operand,
        target: usize,
    ) -> R<Option<usize>> {
        let a = self.read_reg(st, dst)?;
        let (b, src_idx) = match src {
            Operand::Imm(i) => (RegState::constant(i as i64 as u64), None),
            Operand::Reg(r) => (self.read_reg(st, r.index())?, Some(r.index())),
        };
        let next = pc + 1;
        if a.is_scalar() && b.is_scalar() {
            return self.scalar_branch(st, pc, width, op, dst, src_idx, &a, &b, target);
        }
        // NULL checks.
        if width == Width::W64 && matches!(op, JmpOp::Eq | JmpOp::Ne) {
            let (p, other) = if a.is_pointer() { (&a, &b) } else { (&b, &a) };
            if other.is_zero() {
                if p.maybe_null {
                    return self.null_check(st, pc, op, p, target);
                }
                // Map values, maps and helper memory that passed their NULL check are
                // never 0 (Linux decides these; for other pointers it follows both ways).
                if matches!(
                    p.ty,
                    RegType::MapValue { .. } | RegType::Map { .. } | RegType::Mem { .. }
                ) {
                    return Ok(Some(if op == JmpOp::Ne { target } else { next }));
                }
            }
        }
        // Packet bounds checks.
        if width == Width::W64 {
            if let Some(r) = self.packet_branch(st, pc, op, &a, &b, target)? {
                return Ok(Some(r));
            }
        }
        if !self.ptr_leaks {
            return fail(
                ErrorKind::PointerLeak,
                format!(
                    "comparing {} with {} is not allowed here (it reveals the address)",
                    a.ty.describe(),
                    b.ty.describe()
                ),
            );
        }
        // Nothing is learnt: explore both ways.
        let mut other = st.clone();
        other.push_path(pc, PathEvent::Branch { taken: true });
        self.push_branch(other, target)?;
        st.push_path(pc, PathEvent::Branch { taken: false });
        Ok(Some(next))
    }

    #[allow(clippy::too_many_arguments)]
    fn scalar_branch(
        &mut self,
        st: &mut State,
        pc: usize,
        width: Width,
        op: JmpOp,
        dst: usize,
        src: Option<usize>,
        a: &RegState,
        b: &RegState,
        target: usize,
    ) -> R<Option<usize>> {
        let next = pc + 1;
        match Scalar::branch_outcome(op, width, &a.val, &b.val) {
            Some(true) => return Ok(Some(target)),
            Some(false) => return Ok(Some(next)),
            None => {}
        }
        let t = Scalar::refine(op, width, &a.val, &b.val, true);
        let f = Scalar::refine(op, width, &a.val, &b.val, false);
        let (Some((ta, tb)), Some((fa, fb))) = (t, f) else {
            // branch_outcome is decided by the same refinement; unreachable in practice,
            // but stay sound: follow whichever side is possible.
            return Ok(Some(if t.is_some() { target } else { next }));
        };
        let mut other = st.clone();
        apply_scalar(&mut other, dst, ta);
        if let Some(s) = src {
            apply_scalar(&mut other, s, tb);
        }
        other.push_path(pc, PathEvent::Branch { taken: true });
        self.push_branch(other, target)?;
        apply_scalar(st, dst, fa);
        if let Some(s) = src {
            apply_scalar(st, s, fb);
        }
        st.push_path(pc, PathEvent::Branch { taken: false });
        Ok(Some(next))
    }

    fn null_check(
        &mut self,
        st: &mut State,
        pc: usize,
        op: JmpOp,
        p: &RegState,
        target: usize,
    ) -> R<Option<usize>> {
        let mut taken = st.clone();
        let (null_st, nonnull_st) = if op == JmpOp::Eq {
            (&mut taken, &mut *st)
        } else {
            (&mut *st, &mut taken)
        };
        mark_null(null_st, p, pc);
        mark_nonnull(nonnull_st, p);
        taken.push_path(pc, PathEvent::Branch { taken: true });
        self.push_branch(taken, target)?;
        st.push_path(pc, PathEvent::Branch { taken: false });
        Ok(Some(pc + 1))
    }

    /// `pkt op end` style comparisons. Returns the next instruction when handled.
    fn packet_branch(
        &mut self,
        st: &mut State,
        pc: usize,
        op: JmpOp,
        a: &RegState,
        b: &RegState,
        target: usize,
    ) -> R<Option<usize>> {
        // (pointer whose range grows, is it the left operand)
        let pair = match (a.ty, b.ty) {
            (RegType::Packet, RegType::PacketEnd) | (RegType::PacketMeta, RegType::Packet)
                if a.ty != RegType::PacketMeta || is_init_pkt(b) =>
            {
                Some((*a, true))
            }
            (RegType::PacketEnd, RegType::Packet) | (RegType::Packet, RegType::PacketMeta)
                if b.ty != RegType::PacketMeta || is_init_pkt(a) =>
            {
                Some((*b, false))
            }
            _ => None,
        };
        let Some((pkt, left)) = pair else {
            return Ok(None);
        };
        // Which branch learns `pkt <= end` (closed) or `pkt < end` (open).
        let (in_taken, open) = match (op, left) {
            (JmpOp::Gt, true) => (false, false),
            (JmpOp::Gt, false) => (true, true),
            (JmpOp::Ge, true) => (false, true),
            (JmpOp::Ge, false) => (true, false),
            (JmpOp::Lt, true) => (true, true),
            (JmpOp::Lt, false) => (false, false),
            (JmpOp::Le, true) => (true, false),
            (JmpOp::Le, false) => (false, true),
            _ => return Ok(None),
        };
        let mut taken = st.clone();
        if in_taken {
            grant_range(&mut taken, &pkt, open);
        } else {
            grant_range(st, &pkt, open);
        }
        taken.push_path(pc, PathEvent::Branch { taken: true });
        self.push_branch(taken, target)?;
        st.push_path(pc, PathEvent::Branch { taken: false });
        Ok(Some(pc + 1))
    }
}

fn is_init_pkt(r: &RegState) -> bool {
    r.ty == RegType::Packet && r.off == 0 && r.id == 0 && r.val.as_const() == Some(0)
}

/// Sets register `r` to the refined value and every register linked to it too.
fn apply_scalar(st: &mut State, r: usize, v: Scalar) {
    let reg = st.reg_mut(r);
    reg.val = v;
    let id = reg.id;
    if id != 0 {
        st.for_each_reg(|x| {
            if x.is_scalar() && x.id == id {
                x.val = v;
            }
        });
    }
}

fn mark_null(st: &mut State, p: &RegState, pc: usize) {
    let (id, ref_id) = (p.id, p.ref_id);
    if ref_id != 0 {
        st.refs.retain(|r| r.id != ref_id);
    }
    st.for_each_reg(|x| {
        if x.is_pointer() && x.maybe_null && x.id == id && id != 0 {
            *x = RegState::constant(0).at(pc);
        }
    });
}

fn mark_nonnull(st: &mut State, p: &RegState) {
    let id = p.id;
    st.for_each_reg(|x| {
        if x.is_pointer() && x.maybe_null && x.id == id && id != 0 {
            x.maybe_null = false;
            x.id = 0;
        }
    });
}

/// `pkt <= end` (or `<` when `open`) proves `pkt.off` (+1) bytes for every pointer that
/// shares `pkt`'s variable part.
fn grant_range(st: &mut State, pkt: &RegState, open: bool) {
    if pkt.off < 0 || (pkt.off == 0 && open) {
        return;
    }
    if pkt.val.umax > MAX_PACKET_OFF || pkt.val.umax + pkt.off as u64 > MAX_PACKET_OFF {
        return;
    }
    let new = pkt.off as u32 + open as u32;
    let (ty, id) = (pkt.ty, pkt.id);
    st.for_each_reg(|x| {
        if x.ty == ty && x.id == id {
            x.range = x.range.max(new);
        }
    });
}
