//! One instruction at a time: dispatch, constants, legacy packet loads, calls between
//! functions, `may_goto` and `exit`.

use super::{fail, Env, FailExt, MAX_CALL_FRAMES, R};
use crate::diag::ErrorKind;
use crate::state::{Frame, PathEvent, RegState, RegType, State};
use oxbpf_isa::{CallTarget, Insn, LoadImm64, PacketMode};

impl Env<'_> {
    /// Executes instruction `pc` on `st`. Returns the next instruction, or `None` when the
    /// path ends (exit from the program).
    pub(super) fn step(&mut self, st: &mut State, pc: usize) -> R<Option<usize>> {
        let insn = self.prog.insns()[pc];
        let next = pc + 1;
        match insn {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => self.exec_alu(st, width, op, dst.index(), src)?,
            Insn::Neg { width, dst } => self.exec_neg(st, width, dst.index())?,
            Insn::Endian { order, bits, dst } => self.exec_endian(st, order, bits, dst.index())?,
            Insn::AddrSpaceCast { .. } => {
                return fail(
                    ErrorKind::Unsupported,
                    "addr_space_cast needs an arena map, which the oxbpf verifier does not \
                     support",
                )
            }
            Insn::Load {
                size,
                sign_extend,
                dst,
                src,
                off,
            } => self.exec_load(st, size, sign_extend, dst.index(), src.index(), off)?,
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => self.exec_store(st, size, dst.index(), off, src)?,
            Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            } => self.exec_atomic(st, size, op, dst.index(), src.index(), off)?,
            Insn::LoadImm64 { dst, value } => self.exec_lddw(st, dst.index(), value)?,
            Insn::LoadPacket { mode, size, .. } => self.exec_ld_abs(st, mode, size)?,
            Insn::Ja { .. } => {
                self.jumps += 1;
                return Ok(Some(self.target(pc)?));
            }
            Insn::Jump {
                width,
                op,
                dst,
                src,
                ..
            } => {
                self.jumps += 1;
                let target = self.target(pc)?;
                return self.exec_cond_jump(st, pc, width, op, dst.index(), src, target);
            }
            Insn::MayGoto { .. } => {
                self.jumps += 1;
                let target = self.target(pc)?;
                // Taken: the loop budget is exhausted. Fall through: one more iteration.
                let mut taken = st.clone();
                taken.push_path(pc, PathEvent::MayGoto { taken: true });
                self.push_branch(taken, target)?;
                st.may_goto_depth += 1;
                st.push_path(pc, PathEvent::MayGoto { taken: false });
                return Ok(Some(next));
            }
            Insn::Call(CallTarget::Helper(id)) => self.exec_helper_call(st, id, false)?,
            Insn::Call(CallTarget::External { id, .. }) => self.exec_helper_call(st, id, true)?,
            Insn::Call(CallTarget::Local(_)) => {
                let target = self.target(pc)?;
                return self.exec_local_call(st, pc, target).map(Some);
            }
            Insn::CallX { .. } => {
                return fail(
                    ErrorKind::Unsupported,
                    "indirect calls (`callx`) cannot be verified: the callee is not known",
                )
            }
            Insn::Exit => return self.exec_exit(st, pc),
        }
        Ok(Some(next))
    }

    fn target(&self, pc: usize) -> R<usize> {
        match self.prog.branch_target(pc) {
            Some(t) => Ok(t),
            None => fail(ErrorKind::InvalidProgram, "jump target outside the program"),
        }
    }

    /// Reads register `r`, which must be initialized.
    pub(crate) fn read_reg(&self, st: &State, r: usize) -> R<RegState> {
        let reg = *st.reg(r);
        if reg.is_init() {
            return Ok(reg);
        }
        self.uninit_reg(r, &reg)
    }

    pub(crate) fn uninit_reg<T>(&self, r: usize, reg: &RegState) -> R<T> {
        let origin = reg.origin as usize;
        if r == 10 {
            return fail(ErrorKind::UninitRegister, "r10 is not readable");
        }
        if origin < self.prog.len() {
            let why = match self.prog.insns()[origin] {
                Insn::Call(CallTarget::Local(_)) if r == 0 => {
                    "the function called there does not set it".to_string()
                }
                Insn::Call(CallTarget::Helper(id)) if r == 0 => {
                    format!("{} returns nothing", self.helper_name(id))
                }
                Insn::Call(CallTarget::Helper(id)) if r >= 6 => {
                    let name = self.helper_name(id);
                    let proto = self.conf.helper_proto(id);
                    if proto.is_some_and(|h| h.args.contains(&crate::helpers::Arg::RingbufMem)) {
                        format!("it pointed to the reservation that {name} released")
                    } else {
                        format!(
                            "it held a packet pointer, and {name} may move the packet, \
                             which invalidates every packet pointer"
                        )
                    }
                }
                Insn::Call(CallTarget::Helper(id)) => {
                    format!(
                        "calls clobber r1-r5 (the call to {} did)",
                        self.helper_name(id)
                    )
                }
                Insn::Call(_) => "calls clobber r1-r5".to_string(),
                Insn::LoadPacket { .. } => "legacy packet loads clobber r1-r5".to_string(),
                _ => String::new(),
            };
            let msg = if why.is_empty() {
                format!("r{r} is read but has no value")
            } else {
                format!(
                    "r{r} is read but has no value: {why} at {}",
                    self.where_(origin)
                )
            };
            let hint = match self.prog.insns()[origin] {
                Insn::Call(CallTarget::Helper(id))
                    if r >= 6 && self.conf.helper_proto(id).is_some_and(|h| h.changes_packet) =>
                {
                    "load data and data_end from the context again after the call"
                }
                Insn::Call(CallTarget::Helper(_)) if r >= 6 => {
                    "do not use a reservation after submitting or discarding it"
                }
                _ if (1..=5).contains(&r) => {
                    "keep values that must survive a call in r6-r9 (callee-saved) or on the stack"
                }
                _ => "set the register on every path before this instruction",
            };
            return fail(ErrorKind::UninitRegister, msg).hint(hint);
        }
        let hint = if r == 0 {
            "set r0 (the return value) before exit, on every path"
        } else if (1..=5).contains(&r) {
            "only r1 (the context) is set when the program starts; r2-r5 are not"
        } else {
            "set the register on every path before this instruction"
        };
        fail(
            ErrorKind::UninitRegister,
            format!("r{r} is read before it is ever written"),
        )
        .hint(hint)
    }

    pub(crate) fn helper_name(&self, id: i32) -> String {
        self.conf
            .helper_proto(id)
            .map(|h| h.name.to_string())
            .or_else(|| crate::helpers::linux_name(id).map(String::from))
            .unwrap_or_else(|| format!("helper #{id}"))
    }

    /// Writes register `r` (never r10: the decoder refuses such instructions).
    pub(crate) fn set_reg(&self, st: &mut State, r: usize, mut v: RegState) {
        if v.origin == u32::MAX {
            v.origin = self.insn as u32;
        }
        *st.reg_mut(r) = v;
    }

    fn exec_lddw(&mut self, st: &mut State, dst: usize, value: LoadImm64) -> R<()> {
        let v = match value {
            LoadImm64::Imm(v) => RegState::constant(v),
            LoadImm64::MapIdx(i) => {
                let m = self.map_index(i as i64)?;
                RegState::pointer(RegType::Map { map: m }, 0)
            }
            LoadImm64::MapFd(fd) => {
                let m = self.map_by_fd(fd)?;
                RegState::pointer(RegType::Map { map: m }, 0)
            }
            LoadImm64::MapIdxValue { idx, offset } => {
                let m = self.map_index(idx as i64)?;
                self.direct_value(m, offset)?
            }
            LoadImm64::MapValue { fd, offset } => {
                let m = self.map_by_fd(fd)?;
                self.direct_value(m, offset)?
            }
            LoadImm64::CodeAddr(_) => {
                let t = self.target(self.insn)?;
                let k = self.cfg.subprog_at(t).unwrap_or(0);
                RegState::pointer(RegType::Func { subprog: k as u32 }, 0)
            }
            LoadImm64::VariableAddr { .. } => {
                return fail(
                    ErrorKind::Unsupported,
                    "addresses of kernel variables (lddw with a BTF id) are not supported \
                     by the oxbpf verifier",
                )
            }
        };
        self.set_reg(st, dst, v);
        Ok(())
    }

    pub(crate) fn map_index(&self, i: i64) -> R<u32> {
        if i < 0 || i as usize >= self.conf.maps.len() {
            return fail(
                ErrorKind::InvalidProgram,
                format!(
                    "the instruction refers to map index {i}, but the program has {} map(s)",
                    self.conf.maps.len()
                ),
            )
            .hint("give the verifier the program's maps (VerifierConfig::maps)");
        }
        Ok(i as u32)
    }

    fn map_by_fd(&self, fd: i32) -> R<u32> {
        match self.conf.maps.iter().position(|m| m.fd == Some(fd)) {
            Some(i) => Ok(i as u32),
            None => fail(
                ErrorKind::InvalidProgram,
                format!(
                    "the instruction refers to map fd {fd}, which is not among the program's maps"
                ),
            ),
        }
    }

    fn direct_value(&self, m: u32, offset: u32) -> R<RegState> {
        let map = &self.conf.maps[m as usize];
        if !map.map_type.is_array() || map.max_entries != 1 {
            return fail(
                ErrorKind::InvalidProgram,
                format!(
                    "direct value access needs a single-entry array map, but map `{}` is a \
                     {} with {} entries",
                    map.name, map.map_type, map.max_entries
                ),
            );
        }
        if offset >= map.value_size {
            return fail(
                ErrorKind::OutOfBounds,
                format!(
                    "direct value offset {offset} is past the end of map `{}`'s {}-byte value",
                    map.name, map.value_size
                ),
            );
        }
        Ok(RegState::pointer(
            RegType::MapValue { map: m },
            offset as i32,
        ))
    }

    fn exec_ld_abs(&mut self, st: &mut State, mode: PacketMode, size: oxbpf_isa::Size) -> R<()> {
        if !self.conf.prog_type.allows_ld_abs() {
            return fail(
                ErrorKind::InvalidInstruction,
                format!(
                    "legacy packet loads (BPF_LD_ABS/IND) are not allowed in {} programs",
                    self.conf.prog_type.name()
                ),
            )
            .hint("use direct packet access or bpf_skb_load_bytes");
        }
        if !st.refs.is_empty() {
            return fail(
                ErrorKind::InvalidInstruction,
                "legacy packet loads cannot be used while a reference is held (they may end \
                 the program)",
            );
        }
        if st.frames.len() > 1 && !self.conf.btf_func_info {
            return fail(
                ErrorKind::InvalidInstruction,
                "legacy packet loads inside a function need BTF function information",
            )
            .hint("compile with -g, or do the load in the program's main function");
        }
        let r6 = self.read_reg(st, 6)?;
        if r6.ty != RegType::Ctx || r6.off != 0 || r6.val.as_const() != Some(0) {
            return fail(
                ErrorKind::InvalidInstruction,
                format!(
                    "legacy packet loads need the context in r6, but r6 is {}",
                    self.describe_reg(&r6)
                ),
            )
            .hint("copy r1 to r6 at the start of the program: `r6 = r1`");
        }
        if let PacketMode::Ind(r) = mode {
            let v = self.read_reg(st, r.index())?;
            if !v.is_scalar() {
                return fail(
                    ErrorKind::InvalidInstruction,
                    format!("the packet offset in r{} must be a number", r.num()),
                );
            }
        }
        for r in 1..=5 {
            let mut n = RegState::NOT_INIT;
            n.origin = self.insn as u32;
            *st.reg_mut(r) = n;
        }
        let v = RegState::scalar(crate::domain::Scalar::unknown_of_size(size.bytes() as u32));
        self.set_reg(st, 0, v);
        Ok(())
    }

    fn exec_local_call(&mut self, st: &mut State, pc: usize, target: usize) -> R<usize> {
        if st.frames.len() >= MAX_CALL_FRAMES {
            return fail(
                ErrorKind::CallStack,
                format!(
                    "the call nests {} functions deep; at most {MAX_CALL_FRAMES} frames are allowed",
                    st.frames.len() + 1
                ),
            )
            .hint("flatten the call chain (mark small functions `static __always_inline`)");
        }
        let k = match self.cfg.subprog_at(target) {
            Some(k) => k,
            None => {
                return fail(
                    ErrorKind::InvalidProgram,
                    "call target is not the start of a function",
                )
            }
        };
        if st.frames.iter().any(|f| f.subprog as usize == k) {
            return fail(
                ErrorKind::CallStack,
                format!(
                    "recursive call: the function at instruction {} is already on the call \
                     stack",
                    self.prog.slot(target)
                ),
            )
            .hint("recursion is not allowed; rewrite it as a bounded loop");
        }
        let frameno = st.frames.len() as u32;
        let mut f = Frame::new(k as u32, frameno, Some(pc as u32));
        for r in 1..=5 {
            f.regs[r] = *st.reg(r);
        }
        st.push_path(pc, PathEvent::Call);
        st.frames.push(f);
        Ok(target)
    }

    /// Returns from a callback to the helper call that invoked it (which may call it again).
    fn exit_callback(&mut self, st: &mut State, pc: usize) -> R<Option<usize>> {
        let r0 = self.read_reg(st, 0)?;
        if !r0.is_scalar() || r0.val.smin < 0 || r0.val.smax > 1 {
            return fail(
                ErrorKind::ReturnValue,
                format!(
                    "a callback must return 0 (continue) or 1 (stop), but r0 is {}",
                    self.describe_reg(&r0)
                ),
            )
            .hint("return 0 or 1");
        }
        let f = st.cur();
        if st.refs.len() != f.refs_at_entry as usize {
            return fail(
                ErrorKind::ReferenceLeak,
                "a callback must release the references it takes (and only those)",
            );
        }
        let callsite = f.callsite.unwrap_or(0);
        let head = f.callback_head;
        st.frames.pop();
        st.callback_head = head;
        st.push_path(pc, PathEvent::Return);
        Ok(Some(callsite as usize))
    }

    fn exec_exit(&mut self, st: &mut State, pc: usize) -> R<Option<usize>> {
        if st.frames.len() > 1 {
            // A function returns whatever r0 holds (possibly nothing: the caller then may
            // not read it), except pointers into its own frame, which ends here.
            let r0 = *st.reg(0);
            let frameno = st.cur().frameno;
            if r0.ty == (RegType::Stack { frame: frameno }) {
                return fail(
                    ErrorKind::ReturnValue,
                    "a function returns a pointer to its own stack, which ends when it returns",
                )
                .hint("return a number, or write the result through a pointer the caller passes");
            }
            if st.cur().callback {
                return self.exit_callback(st, pc);
            }
            let callee = st.frames.pop();
            let callsite = callee.and_then(|f| f.callsite).unwrap_or(0);
            let caller = st.cur_mut();
            let mut ret = r0;
            if ret.is_scalar() {
                ret.id = 0;
            }
            if !ret.is_init() {
                ret.origin = callsite;
            }
            caller.regs[0] = ret;
            for r in 1..=5 {
                let mut n = RegState::NOT_INIT;
                n.origin = callsite;
                caller.regs[r] = n;
            }
            st.push_path(pc, PathEvent::Return);
            return Ok(Some(callsite as usize + 1));
        }
        // Leaving the program.
        let r0 = self.read_reg(st, 0)?;
        if let Some(r) = st.refs.first() {
            let what = self.helper_name(r.helper);
            return fail(
                ErrorKind::ReferenceLeak,
                format!(
                    "the program can exit while still holding the reservation made by {what} \
                     at {}",
                    self.where_(r.insn as usize)
                ),
            )
            .hint("on every path, submit or discard what bpf_ringbuf_reserve returned (after checking it is not NULL)");
        }
        if r0.is_pointer() && !self.ptr_leaks {
            return fail(
                ErrorKind::PointerLeak,
                format!("the program returns {} in r0", r0.ty.describe()),
            )
            .hint("return a number");
        }
        if let Some((lo, hi)) = self.conf.prog_type.return_range() {
            if !r0.is_scalar() || r0.val.smin < lo || r0.val.smax > hi {
                return fail(
                    ErrorKind::ReturnValue,
                    format!(
                        "{} programs must return a value in [{lo}, {hi}], but r0 {}",
                        self.conf.prog_type.name(),
                        if r0.is_scalar() {
                            super::mem::range_words(&r0.val)
                        } else {
                            format!("is {}", r0.ty.describe())
                        }
                    ),
                )
                .hint(format!("return a constant between {lo} and {hi}"));
            }
        }
        Ok(None)
    }
}
