//! Helper calls: availability, arguments against the prototype, references, results.

use super::{fail, Env, FailExt, R};
use crate::diag::ErrorKind;
use crate::domain::Scalar;
use crate::helpers::{map_compatible, Arg, HelperProto, Ret};
use crate::state::{RefState, RegState, RegType, State};

impl Env<'_> {
    pub(super) fn exec_helper_call(&mut self, st: &mut State, id: i32, external: bool) -> R<()> {
        let proto: HelperProto = if external {
            match self.conf.externals.iter().find(|h| h.id == id) {
                Some(p) => p.clone(),
                None => {
                    return fail(
                        ErrorKind::HelperUnavailable,
                        format!(
                            "call to external function (kfunc) #{id}, which has no prototype in \
                             the verifier configuration"
                        ),
                    )
                    .hint("describe it with VerifierConfig::externals, or use a helper")
                }
            }
        } else {
            match self.conf.helper_proto(id) {
                Some(p) => p.clone(),
                None => {
                    let msg = match crate::helpers::linux_name(id) {
                        Some(n) => {
                            format!("helper {n} (#{id}) is not supported by the oxbpf verifier")
                        }
                        None => format!("unknown helper #{id}"),
                    };
                    return fail(ErrorKind::HelperUnavailable, msg);
                }
            }
        };
        let custom = external || self.conf.helpers.iter().any(|h| h.id == id);
        if !custom && proto.classes & self.helper_classes == 0 {
            return fail(
                ErrorKind::HelperUnavailable,
                format!(
                    "{} is not available to {} programs",
                    proto.name,
                    self.conf.prog_type.name()
                ),
            );
        }
        let name = proto.name.to_string();
        let mut map: Option<u32> = None;
        let mut alloc_size: Option<u64> = None;
        let mut release: Option<u32> = None;
        let mut callback: Option<u32> = None;
        let mut mem_arg: Option<(u8, RegState, bool, bool)> = None;
        for (i, arg) in proto.args.iter().enumerate() {
            let argno = (i + 1) as u8;
            let r = i + 1;
            let reg = *st.reg(r);
            if !reg.is_init() {
                return self
                    .uninit_reg(r, &reg)
                    .note(format!("{name} takes r{r} as argument {argno}"));
            }
            let nullable = matches!(*arg, Arg::Mem { nullable: true, .. });
            if reg.maybe_null && !nullable && !matches!(*arg, Arg::Anything | Arg::RingbufMem) {
                let from = self
                    .origin_of(&reg)
                    .map(|o| format!(" (it comes from {o})"))
                    .unwrap_or_default();
                return fail(
                    ErrorKind::NullPointer,
                    format!("argument {argno} of {name}: r{r} may be NULL{from}"),
                )
                .hint(format!("check it first: `if (!ptr) return 0;` (in assembly: `if r{r} == 0 goto <out>`)"));
            }
            match *arg {
                Arg::Anything => {
                    if reg.is_pointer() && !self.ptr_leaks {
                        return fail(
                            ErrorKind::PointerLeak,
                            format!(
                                "passing {} to {name} as a number leaks it",
                                reg.ty.describe()
                            ),
                        );
                    }
                }
                Arg::Ctx => {
                    if reg.ty != RegType::Ctx || reg.off != 0 || reg.val.as_const() != Some(0) {
                        return self.bad_arg(
                            &name,
                            argno,
                            "the unmodified context pointer (r1 at entry)",
                            &reg,
                        );
                    }
                }
                Arg::Map => {
                    let RegType::Map { map: m } = reg.ty else {
                        return self.bad_arg(&name, argno, "a map", &reg);
                    };
                    let spec = &self.conf.maps[m as usize];
                    if !map_compatible(&proto, spec.map_type) {
                        let want = if proto.map_types.is_empty() {
                            "a hash or array".to_string()
                        } else {
                            proto
                                .map_types
                                .iter()
                                .map(|t| t.to_string())
                                .collect::<Vec<_>>()
                                .join(" or ")
                        };
                        return fail(
                            ErrorKind::MapIncompatible,
                            format!(
                                "{name} needs {want} map, but map `{}` is a {}",
                                spec.name, spec.map_type
                            ),
                        );
                    }
                    map = Some(m);
                }
                Arg::MapKey | Arg::MapValue | Arg::MapValueOut => {
                    let Some(m) = map else {
                        return fail(
                            ErrorKind::HelperArgument,
                            format!("{name}: argument {argno} needs a map argument before it"),
                        );
                    };
                    let spec = &self.conf.maps[m as usize];
                    let (size, write, what) = match arg {
                        Arg::MapKey => (spec.key_size, false, "key"),
                        Arg::MapValue => (spec.value_size, false, "value"),
                        _ => (spec.value_size, true, "value"),
                    };
                    self.helper_mem(st, argno, &reg, size as u64, size as u64, write, &name)
                        .note(format!(
                            "argument {argno} of {name} is the {size}-byte {what} of map `{}`",
                            spec.name
                        ))?;
                }
                Arg::Mem { write, nullable } => {
                    if reg.is_zero() && nullable {
                        mem_arg = Some((argno, reg, write, true));
                    } else if reg.is_scalar() {
                        return self.bad_arg(&name, argno, "a pointer to memory", &reg);
                    } else {
                        mem_arg = Some((argno, reg, write, false));
                    }
                }
                Arg::Size { zero_ok } => {
                    let Some((margno, mreg, write, is_null)) = mem_arg.take() else {
                        return fail(
                            ErrorKind::HelperArgument,
                            format!("{name}: size argument {argno} without a memory argument"),
                        );
                    };
                    if !reg.is_scalar() {
                        return self.bad_arg(&name, argno, "a size (a number)", &reg);
                    }
                    let v = reg.val;
                    if v.smin < 0 {
                        return fail(
                            ErrorKind::HelperArgument,
                            format!(
                                "argument {argno} of {name} (a size) may be negative (it {})",
                                super::mem::range_words(&v)
                            ),
                        )
                        .hint("use an unsigned type, or bound it: `if (len > MAX) return 0;`");
                    }
                    if v.umax >= (1 << 29) {
                        return fail(
                            ErrorKind::HelperArgument,
                            format!(
                                "argument {argno} of {name} (a size) is not bounded (it {})",
                                super::mem::range_words(&v)
                            ),
                        )
                        .hint("bound it: `if (len > sizeof(buf)) return 0;` or `len &= MASK;`");
                    }
                    if is_null {
                        if v.umax != 0 {
                            return fail(
                                ErrorKind::HelperArgument,
                                format!("{name}: argument {margno} is NULL but its size (argument {argno}) may be non-zero"),
                            );
                        }
                        continue;
                    }
                    if v.umin == 0 && !zero_ok {
                        return fail(
                            ErrorKind::HelperArgument,
                            format!(
                                "argument {argno} of {name} (a size) may be zero (it {}), which {name} does not accept",
                                super::mem::range_words(&v)
                            ),
                        )
                        .hint("check `if (len == 0) ...` or make it at least 1");
                    }
                    self.helper_mem(st, margno, &mreg, v.umin, v.umax, write, &name)
                        .note(format!(
                            "argument {margno} of {name} must have {} bytes {}",
                            if v.is_const() {
                                v.umax.to_string()
                            } else {
                                format!("up to {}", v.umax)
                            },
                            if write { "it can write" } else { "it can read" }
                        ))?;
                }
                Arg::FixedMem { size, write } => {
                    self.helper_mem(st, argno, &reg, size as u64, size as u64, write, &name)?;
                }
                Arg::AllocSize => {
                    let Some(v) = reg.const_value() else {
                        return fail(
                            ErrorKind::HelperArgument,
                            format!("argument {argno} of {name} (the size) must be a known constant, but r{argno} is {}", self.describe_reg(&reg)),
                        )
                        .hint("reserve a fixed size, e.g. `bpf_ringbuf_reserve(&rb, sizeof(struct event), 0)`");
                    };
                    if v >= 1 << 29 {
                        return fail(
                            ErrorKind::HelperArgument,
                            format!("{name}: size {v} is too large"),
                        );
                    }
                    alloc_size = Some(v);
                }
                Arg::RingbufMem => {
                    let ok = matches!(reg.ty, RegType::Mem { ringbuf: true, .. })
                        && !reg.maybe_null
                        && reg.off == 0
                        && reg.val.as_const() == Some(0)
                        && reg.ref_id != 0;
                    if !ok {
                        if matches!(reg.ty, RegType::Mem { ringbuf: true, .. }) && reg.maybe_null {
                            return fail(
                                ErrorKind::NullPointer,
                                format!("{name}: r{argno} may be NULL (the reservation can fail)"),
                            )
                            .hint("check the result of bpf_ringbuf_reserve against NULL first");
                        }
                        return self.bad_arg(
                            &name,
                            argno,
                            "the unmodified pointer returned by bpf_ringbuf_reserve",
                            &reg,
                        );
                    }
                    if !st.refs.iter().any(|x| x.id == reg.ref_id) {
                        return fail(
                            ErrorKind::ReferenceMisuse,
                            format!("{name}: the reservation in r{argno} was already released"),
                        );
                    }
                    release = Some(reg.ref_id);
                }
                Arg::ConstStr => self.check_const_str(&name, argno, &reg)?,
                Arg::Callback => {
                    if external || !crate::cfg::CALLBACK_HELPERS.contains(&id) {
                        return fail(
                            ErrorKind::Unsupported,
                            format!("{name} takes a callback function; the oxbpf verifier supports the callbacks of bpf_loop and bpf_for_each_map_elem only"),
                        )
                        .hint("write the loop directly (with a constant bound or bpf_loop)");
                    }
                    let RegType::Func { subprog } = reg.ty else {
                        return self.bad_arg(&name, argno, "a function (the callback)", &reg);
                    };
                    if !self.conf.btf_func_info {
                        return fail(
                            ErrorKind::InvalidInstruction,
                            format!("{name} callbacks need BTF function information"),
                        )
                        .hint("compile with -g so that the object carries BTF");
                    }
                    callback = Some(subprog);
                }
            }
        }
        if id == 12 && !external && !st.refs.is_empty() {
            return fail(
                ErrorKind::ReferenceLeak,
                "bpf_tail_call while holding a ring buffer reservation would leak it",
            )
            .hint("submit or discard the reservation before the tail call");
        }
        if id == 12 && !external {
            let k = self.cfg.subprog_of[self.insn] as usize;
            if k != 0 && !self.conf.btf_func_info {
                return fail(
                    ErrorKind::InvalidInstruction,
                    "bpf_tail_call inside a function needs BTF function information",
                )
                .hint("compile with -g so that the object carries BTF, or make the tail call from the program's main function");
            }
            self.tail_calls[k] = true;
        }
        // Effects.
        let call = self.insn as u32;
        if let Some(k) = callback {
            self.queue_callback(st, k, &name, id, map)?;
        }
        // Invalidated pointers become numbers where pointers may leak (as in Linux for
        // privileged loaders), else unreadable.
        let dead = if self.ptr_leaks {
            RegState::unknown()
        } else {
            RegState::NOT_INIT
        };
        if let Some(rid) = release {
            st.refs.retain(|x| x.id != rid);
            st.for_each_reg(|x| {
                if x.ref_id == rid {
                    *x = dead;
                    x.origin = call;
                }
            });
        }
        if proto.changes_packet {
            st.for_each_reg(|x| {
                if matches!(
                    x.ty,
                    RegType::Packet | RegType::PacketEnd | RegType::PacketMeta
                ) {
                    *x = dead;
                    x.origin = call;
                }
            });
        }
        for r in 1..=5 {
            let mut n = RegState::NOT_INIT;
            n.origin = call;
            *st.reg_mut(r) = n;
        }
        let r0 = match proto.ret {
            Ret::Integer => RegState::unknown(),
            Ret::Void => RegState::NOT_INIT,
            Ret::MapValueOrNull => {
                let Some(m) = map else {
                    return fail(
                        ErrorKind::HelperArgument,
                        format!("{name} has no map argument"),
                    );
                };
                let spec = &self.conf.maps[m as usize];
                let ty = if spec.map_type.is_map_of_maps() {
                    match spec.inner {
                        Some(inner) => RegType::Map { map: inner },
                        None => {
                            return fail(
                                ErrorKind::Unsupported,
                                format!(
                                    "map `{}` holds maps, but the configuration does not say \
                                     what its inner maps look like",
                                    spec.name
                                ),
                            )
                            .hint("set MapSpec::inner to a map shaped like the inner maps")
                        }
                    }
                } else {
                    RegType::MapValue { map: m }
                };
                let mut v = RegState::pointer(ty, 0);
                v.maybe_null = true;
                v.id = self.new_id();
                v
            }
            Ret::RingbufMemOrNull => {
                let size = alloc_size.unwrap_or(0) as u32;
                let mut v = RegState::pointer(
                    RegType::Mem {
                        size,
                        rdonly: false,
                        ringbuf: true,
                    },
                    0,
                );
                v.maybe_null = true;
                v.id = self.new_id();
                v.ref_id = v.id;
                st.refs.push(RefState {
                    id: v.ref_id,
                    insn: call,
                    helper: id,
                });
                v
            }
        };
        let mut r0 = r0;
        r0.origin = call;
        if r0.is_scalar() {
            r0.val = self.refine_return(id, external, r0.val);
        }
        *st.reg_mut(0) = r0;
        Ok(())
    }

    /// Queues a path through one call of the callback `k` of the helper being called: a new
    /// frame with the loop index in r1 and the helper's context argument (r3) in r2.
    fn queue_callback(
        &mut self,
        st: &State,
        k: u32,
        helper: &str,
        id: i32,
        map: Option<u32>,
    ) -> R<()> {
        let pc = self.insn;
        if st.frames.len() >= super::MAX_CALL_FRAMES {
            return fail(
                ErrorKind::CallStack,
                format!(
                    "the callback of {helper} would nest more than {} frames",
                    super::MAX_CALL_FRAMES
                ),
            );
        }
        if st.frames.iter().any(|f| f.subprog == k) {
            return fail(
                ErrorKind::CallStack,
                format!("the callback of {helper} is already on the call stack (recursion)"),
            );
        }
        let Some(start) = self.cfg.subprogs.get(k as usize).map(|s| s.start) else {
            return fail(ErrorKind::InvalidProgram, "callback is not a function");
        };
        let mut cb = st.clone();
        let frameno = cb.frames.len() as u32;
        let mut f = crate::state::Frame::new(k, frameno, Some(pc as u32));
        f.callback = true;
        f.refs_at_entry = cb.refs.len() as u32;
        // `visit` just checkpointed this call (it is a prune point) unless it was inside
        // a loop's quiet period; either way st.parent is the state before this call.
        f.callback_head = st.parent;
        if id == 164 {
            // bpf_for_each_map_elem: callback(map, key, value, ctx).
            let Some(m) = map else {
                return fail(ErrorKind::HelperArgument, format!("{helper} needs a map"));
            };
            let key_size = self.conf.maps[m as usize].key_size;
            f.regs[1] = RegState::pointer(RegType::Map { map: m }, 0).at(pc);
            f.regs[2] = RegState::pointer(
                RegType::Mem {
                    size: key_size,
                    rdonly: true,
                    ringbuf: false,
                },
                0,
            )
            .at(pc);
            f.regs[3] = RegState::pointer(RegType::MapValue { map: m }, 0).at(pc);
            f.regs[4] = *st.reg(3);
        } else {
            // bpf_loop: callback(index, ctx).
            f.regs[1] = RegState::unknown().at(pc);
            f.regs[2] = *st.reg(3);
        }
        cb.push_path(pc, crate::state::PathEvent::Call);
        cb.frames.push(f);
        // One more iteration of a loop bounded at run time (see may_goto).
        cb.may_goto_depth += 1;
        self.push_branch(cb, start)
    }

    /// Known ranges of some helpers' results.
    fn refine_return(&self, id: i32, external: bool, v: Scalar) -> Scalar {
        if external {
            return v;
        }
        match id {
            // bpf_get_prandom_u32, bpf_get_smp_processor_id, bpf_get_numa_node_id
            7 | 8 | 42 => Scalar::unknown_of_size(4),
            _ => v,
        }
    }

    fn bad_arg<T>(&self, helper: &str, argno: u8, want: &str, reg: &RegState) -> R<T> {
        let from = self
            .origin_of(reg)
            .map(|o| format!(" (from {o})"))
            .unwrap_or_default();
        fail(
            ErrorKind::HelperArgument,
            format!(
                "argument {argno} of {helper} must be {want}, but r{argno} is {}{from}",
                self.describe_reg(reg)
            ),
        )
    }

    fn check_const_str(&self, helper: &str, argno: u8, reg: &RegState) -> R<()> {
        let RegType::MapValue { map } = reg.ty else {
            return self.bad_arg(
                helper,
                argno,
                "a pointer to a constant string (in .rodata)",
                reg,
            );
        };
        let m = &self.conf.maps[map as usize];
        let Some(data) = m.frozen.as_ref().filter(|_| m.rdonly_prog()) else {
            return fail(
                ErrorKind::HelperArgument,
                format!(
                    "argument {argno} of {helper} must point into a frozen read-only map, but map `{}` is not one",
                    m.name
                ),
            );
        };
        let Some(v) = reg.val.as_const() else {
            return fail(
                ErrorKind::HelperArgument,
                format!("argument {argno} of {helper}: the string's offset must be constant"),
            );
        };
        let at = reg.off as i64 + v as i64;
        if at < 0 || at as usize >= data.len() {
            return fail(
                ErrorKind::OutOfBounds,
                format!(
                    "argument {argno} of {helper} points outside map `{}`",
                    m.name
                ),
            );
        }
        if !data[at as usize..].contains(&0) {
            return fail(
                ErrorKind::HelperArgument,
                format!("argument {argno} of {helper}: the string is not NUL-terminated"),
            );
        }
        Ok(())
    }
}
