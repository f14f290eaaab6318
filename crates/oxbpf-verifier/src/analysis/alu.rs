//! Arithmetic: scalars through the abstract domain, pointers under the kernel's rules.

use super::{fail, Env, FailExt, R};
use crate::diag::ErrorKind;
use crate::domain::Scalar;
use crate::state::{RegState, RegType, State, MAX_VAR_OFF};
use oxbpf_isa::{AluOp, ByteOrder, Operand, Width};

fn op_name(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+",
        AluOp::Sub => "-",
        AluOp::Mul => "*",
        AluOp::Div | AluOp::SDiv => "/",
        AluOp::Mod | AluOp::SMod => "%",
        AluOp::Or => "|",
        AluOp::And => "&",
        AluOp::Xor => "^",
        AluOp::Lsh => "<<",
        AluOp::Rsh => ">>",
        AluOp::Arsh => "s>>",
        AluOp::Mov | AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 => "=",
    }
}

impl Env<'_> {
    pub(super) fn exec_alu(
        &mut self,
        st: &mut State,
        width: Width,
        op: AluOp,
        dst: usize,
        src: Operand,
    ) -> R<()> {
        // Constant operands the kernel refuses outright.
        if let Operand::Imm(imm) = src {
            if matches!(op, AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod) && imm == 0 {
                return fail(ErrorKind::InvalidInstruction, "division by the constant 0")
                    .hint("a division by zero yields 0 (modulo leaves the value), which is probably not what was meant");
            }
            let bits = if width == Width::W64 { 64 } else { 32 };
            if matches!(op, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh) && (imm < 0 || imm >= bits) {
                return fail(
                    ErrorKind::InvalidInstruction,
                    format!("shift by {imm} is out of range for a {bits}-bit operation"),
                );
            }
        }
        let src_reg = match src {
            Operand::Imm(i) => RegState::constant(i as i64 as u64),
            Operand::Reg(r) => self.read_reg(st, r.index())?,
        };
        if matches!(
            op,
            AluOp::Mov | AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32
        ) {
            return self.exec_mov(st, width, op, dst, src, src_reg);
        }
        let dst_reg = self.read_reg(st, dst)?;
        let origin = self.insn as u32;
        match (dst_reg.is_pointer(), src_reg.is_pointer()) {
            (false, false) => {
                let bits = if width == Width::W64 { 64 } else { 32 };
                let shift_amount = match width {
                    Width::W64 => src_reg.val.as_const(),
                    Width::W32 => src_reg.val.as_const32().map(u64::from),
                };
                let is_shift = matches!(op, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh);
                let val = if matches!(op, AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod)
                    || (is_shift && shift_amount.is_none_or(|k| k >= bits))
                {
                    // Linux (6.18) keeps no bounds for divisions, or for shifts by anything
                    // but a constant below the width, even on constants; doing the same
                    // keeps verdicts aligned (the domain itself handles these soundly).
                    // (Linux even skips the zero-extension of 32-bit results here.)
                    Scalar::UNKNOWN
                } else {
                    Scalar::alu(width, op, &dst_reg.val, &src_reg.val)
                };
                let mut v = RegState::scalar(val);
                v.origin = origin;
                self.set_reg(st, dst, v);
                Ok(())
            }
            (true, true) => {
                if op == AluOp::Sub && self.ptr_leaks {
                    // The distance between two pointers is just a number.
                    self.set_reg(st, dst, RegState::unknown().at(self.insn));
                    return Ok(());
                }
                fail(
                    ErrorKind::PointerArithmetic,
                    format!(
                        "r{dst} {} r{}: arithmetic between two pointers ({} and {}) is not \
                         allowed",
                        op_name(op),
                        match src {
                            Operand::Reg(r) => r.num(),
                            Operand::Imm(_) => 0,
                        },
                        dst_reg.ty.describe(),
                        src_reg.ty.describe()
                    ),
                )
            }
            (true, false) => {
                let v = self.ptr_alu(width, op, dst, &dst_reg, &src_reg, false)?;
                self.set_reg(st, dst, v);
                Ok(())
            }
            (false, true) => {
                let v = self.ptr_alu(width, op, dst, &src_reg, &dst_reg, true)?;
                self.set_reg(st, dst, v);
                Ok(())
            }
        }
    }

    fn exec_mov(
        &mut self,
        st: &mut State,
        width: Width,
        op: AluOp,
        dst: usize,
        src: Operand,
        src_reg: RegState,
    ) -> R<()> {
        let insn = self.insn;
        let v = match (op, width) {
            (AluOp::Mov, Width::W64) => {
                if let Operand::Reg(r) = src {
                    if src_reg.is_scalar() && !src_reg.val.is_const() {
                        // Link the two registers: a later check on one bounds both.
                        let mut s = src_reg;
                        if s.id == 0 {
                            s.id = self.new_id();
                            *st.reg_mut(r.index()) = s;
                        }
                        s
                    } else {
                        src_reg
                    }
                } else {
                    src_reg.at(insn)
                }
            }
            (AluOp::Mov, Width::W32) => {
                if src_reg.is_pointer() {
                    if !self.ptr_leaks {
                        return fail(
                            ErrorKind::PointerLeak,
                            format!(
                                "copying the low half of {} into a number leaks the pointer",
                                src_reg.ty.describe()
                            ),
                        );
                    }
                    RegState::scalar(Scalar::unknown_of_size(4)).at(insn)
                } else {
                    let mut v = RegState::scalar(src_reg.val.zext32()).at(insn);
                    if let Operand::Reg(r) = src {
                        if src_reg.val.umax <= u32::MAX as u64 && !src_reg.val.is_const() {
                            let mut s = src_reg;
                            if s.id == 0 {
                                s.id = self.new_id();
                                *st.reg_mut(r.index()) = s;
                            }
                            v.id = s.id;
                        }
                    }
                    v
                }
            }
            _ => {
                if src_reg.is_pointer() {
                    return fail(
                        ErrorKind::PointerArithmetic,
                        format!(
                            "sign-extending move of {} is not allowed",
                            src_reg.ty.describe()
                        ),
                    );
                }
                RegState::scalar(Scalar::alu(width, op, &Scalar::UNKNOWN, &src_reg.val)).at(insn)
            }
        };
        self.set_reg(st, dst, v);
        Ok(())
    }

    pub(super) fn exec_neg(&mut self, st: &mut State, width: Width, dst: usize) -> R<()> {
        let d = self.read_reg(st, dst)?;
        if d.is_pointer() {
            return fail(
                ErrorKind::PointerArithmetic,
                format!("negating {} (r{dst}) is not allowed", d.ty.describe()),
            );
        }
        self.set_reg(
            st,
            dst,
            RegState::scalar(Scalar::neg(width, &d.val)).at(self.insn),
        );
        Ok(())
    }

    pub(super) fn exec_endian(
        &mut self,
        st: &mut State,
        order: ByteOrder,
        bits: u8,
        dst: usize,
    ) -> R<()> {
        let d = self.read_reg(st, dst)?;
        if d.is_pointer() {
            return fail(
                ErrorKind::PointerArithmetic,
                format!("byte-swapping {} (r{dst}) is not allowed", d.ty.describe()),
            );
        }
        self.set_reg(
            st,
            dst,
            RegState::scalar(Scalar::endian(order, bits, &d.val)).at(self.insn),
        );
        Ok(())
    }

    /// Checks that a pointer or an offset added to one stays far from overflowing.
    fn sane_offset(&self, r: &RegState, ty: RegType, dst: usize) -> R<()> {
        let what = ty.describe();
        if let Some(v) = r.val.as_const() {
            let v = v as i64;
            if v >= MAX_VAR_OFF || v <= -MAX_VAR_OFF {
                return fail(
                    ErrorKind::PointerArithmetic,
                    format!("r{dst}: adding {v} to {what} is not allowed (too large)"),
                );
            }
        }
        if r.off as i64 >= MAX_VAR_OFF || r.off as i64 <= -MAX_VAR_OFF {
            return fail(
                ErrorKind::PointerArithmetic,
                format!(
                    "r{dst}: offset {} of {what} is not allowed (too large)",
                    r.off
                ),
            );
        }
        if r.val.smin == i64::MIN {
            return fail(
                ErrorKind::PointerArithmetic,
                format!(
                    "r{dst}: the value added to {what} has no lower bound, so the result could \
                     point anywhere"
                ),
            )
            .hint("bound the offset first: `if (off > MAX) return ...;` or `off &= MASK;`");
        }
        if r.val.smin >= MAX_VAR_OFF || r.val.smin <= -MAX_VAR_OFF {
            return fail(
                ErrorKind::PointerArithmetic,
                format!(
                    "r{dst}: the value {} makes {what} point out of bounds",
                    r.val.smin
                ),
            );
        }
        Ok(())
    }

    /// `ptr op off` (or `off op ptr` when `swapped`), result in register `dst`.
    fn ptr_alu(
        &mut self,
        width: Width,
        op: AluOp,
        dst: usize,
        ptr: &RegState,
        off: &RegState,
        swapped: bool,
    ) -> R<RegState> {
        let what = ptr.ty.describe();
        if width == Width::W32 {
            if op == AluOp::Sub && self.ptr_leaks {
                return Ok(RegState::scalar(Scalar::unknown_of_size(4)).at(self.insn));
            }
            return fail(
                ErrorKind::PointerArithmetic,
                format!("r{dst}: 32-bit arithmetic on {what} is not allowed"),
            )
            .hint("use 64-bit arithmetic on pointers");
        }
        if ptr.maybe_null {
            let from = self
                .origin_of(ptr)
                .map(|o| format!(" (it comes from {o})"))
                .unwrap_or_default();
            return fail(
                ErrorKind::NullPointer,
                format!("r{dst}: arithmetic on a pointer that may be NULL{from}",),
            )
            .hint("check it against NULL first: `if (!p) return 0;`");
        }
        let known = off.val.as_const().map(|v| v as i64);
        match ptr.ty {
            RegType::Ctx
            | RegType::Stack { .. }
            | RegType::MapValue { .. }
            | RegType::Packet
            | RegType::PacketMeta
            | RegType::Mem { .. } => {}
            RegType::Map { .. } if known == Some(0) && op == AluOp::Add => {}
            _ => {
                return fail(
                    ErrorKind::PointerArithmetic,
                    format!("r{dst}: arithmetic on {what} is not allowed"),
                )
            }
        }
        match op {
            AluOp::Add | AluOp::Sub => {}
            AluOp::And | AluOp::Or | AluOp::Xor => {
                return fail(
                    ErrorKind::PointerArithmetic,
                    format!(
                        "r{dst}: bitwise operation {} on {what} is not allowed",
                        op_name(op)
                    ),
                )
            }
            _ => {
                return fail(
                    ErrorKind::PointerArithmetic,
                    format!(
                        "r{dst}: operation {} on {what} is not allowed (only adding and \
                         subtracting numbers)",
                        op_name(op)
                    ),
                )
            }
        }
        self.sane_offset(off, ptr.ty, dst)?;
        self.sane_offset(ptr, ptr.ty, dst)?;
        let mut r = *ptr;
        if op == AluOp::Sub {
            if swapped {
                return fail(
                    ErrorKind::PointerArithmetic,
                    format!("r{dst}: subtracting {what} from a number is not allowed"),
                );
            }
            if matches!(ptr.ty, RegType::Stack { .. }) {
                return fail(
                    ErrorKind::PointerArithmetic,
                    format!("r{dst}: subtraction from a stack pointer is not allowed"),
                )
                .hint("add a negative constant instead: `r1 += -8`");
            }
        }
        let add = op == AluOp::Add;
        match known {
            Some(c) => {
                let new = if add {
                    ptr.off as i64 + c
                } else {
                    ptr.off as i64 - c
                };
                if new == new as i32 as i64 {
                    r.off = new as i32;
                } else {
                    r.val = Scalar::alu(Width::W64, op, &ptr.val, &off.val);
                    self.new_var_part(&mut r, add, off);
                }
            }
            None => {
                r.val = Scalar::alu(Width::W64, op, &ptr.val, &off.val);
                self.new_var_part(&mut r, add, off);
            }
        }
        // The var part of pointers has no meaningful 32-bit view.
        r.val = {
            let mut v = r.val;
            v.u32_min = 0;
            v.u32_max = u32::MAX;
            v.s32_min = i32::MIN;
            v.s32_max = i32::MAX;
            v.synced()
        };
        self.sane_offset(&r, ptr.ty, dst)?;
        if !swapped {
            r.origin = ptr.origin;
        }
        Ok(r)
    }

    fn new_var_part(&mut self, r: &mut RegState, add: bool, off: &RegState) {
        if r.ty.is_packet() {
            r.id = self.new_id();
            if add || off.val.smin < 0 {
                r.range = 0;
            }
        }
    }
}
