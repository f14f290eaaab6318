//! Memory accesses: loads, stores and atomics through every kind of pointer, and the
//! checks shared with helper arguments.

use super::{fail, Env, FailExt, R};
use crate::context::{CtxAccess, FieldKind};
use crate::diag::ErrorKind;
use crate::domain::Scalar;
use crate::progtype::PacketAccess;
use crate::state::{RegState, RegType, Slot, StackByte, State, MAX_VAR_OFF, STACK_SIZE};
use oxbpf_isa::{AtomicOp, Operand, Size};

/// What a store writes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum WriteVal {
    /// A register's value (spilled whole when it fits a slot).
    Reg(RegState),
    /// An immediate, sign-extended to 64 bits before truncation.
    Imm(i64),
    /// Some unknown number (atomic results, helper outputs).
    Unknown,
}

impl WriteVal {
    fn is_zero(&self) -> bool {
        match self {
            WriteVal::Reg(r) => r.is_zero(),
            WriteVal::Imm(v) => *v == 0,
            WriteVal::Unknown => false,
        }
    }
}

/// Why memory is being accessed (for messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    Load,
    Store,
    Atomic,
    /// Helper argument `n` (1-based) of helper `name`.
    Helper(u8),
}

impl Purpose {
    fn verb(self, write: bool) -> &'static str {
        match (self, write) {
            (Purpose::Atomic, _) => "atomic access",
            (Purpose::Helper(_), false) => "helper read",
            (Purpose::Helper(_), true) => "helper write",
            (_, false) => "read",
            (_, true) => "write",
        }
    }
}

/// "1 byte", "4 bytes".
pub(crate) fn bytes(n: u32) -> String {
    if n == 1 {
        "1 byte".to_string()
    } else {
        format!("{n} bytes")
    }
}

/// A scalar's possible values in words, to follow "it": "is always 2", "can be anything
/// from 0 to 255".
pub(crate) fn range_words(v: &Scalar) -> String {
    if let Some(c) = v.as_const() {
        return format!("is always {}", c as i64);
    }
    if v.smin >= 0 || v.smin as u64 == v.umin {
        if v.umax == u64::MAX {
            return format!("can be any value from {}", v.umin);
        }
        return format!("can be anything from {} to {}", v.umin, v.umax);
    }
    if v.smin == i64::MIN && v.smax == i64::MAX {
        return "can be any 64-bit value".to_string();
    }
    format!("can be anything from {} to {}", v.smin, v.smax)
}

fn fp(off: i64) -> String {
    if off < 0 {
        format!("fp{off}")
    } else {
        format!("fp+{off}")
    }
}

impl Env<'_> {
    pub(super) fn exec_load(
        &mut self,
        st: &mut State,
        size: Size,
        sign_extend: bool,
        dst: usize,
        src: usize,
        off: i16,
    ) -> R<()> {
        let ptr = self.read_reg(st, src)?;
        let n = size.bytes() as u32;
        let mut v = self.load(st, src, &ptr, off as i64, n, sign_extend, false)?;
        if v.is_scalar() && n < 8 {
            let narrowed = if sign_extend {
                v.val.sign_extend(n)
            } else {
                v.val.truncate(n)
            };
            if narrowed != v.val {
                // A narrowed fill is a different value from the spilled one.
                v.id = 0;
                v.val = narrowed;
            }
        }
        if v.origin == u32::MAX || !v.is_pointer() {
            v.origin = self.insn as u32;
        }
        self.set_reg(st, dst, v);
        Ok(())
    }

    pub(super) fn exec_store(
        &mut self,
        st: &mut State,
        size: Size,
        dst: usize,
        off: i16,
        src: Operand,
    ) -> R<()> {
        let ptr = self.read_reg(st, dst)?;
        let val = match src {
            Operand::Reg(r) => WriteVal::Reg(self.read_reg(st, r.index())?),
            Operand::Imm(i) => WriteVal::Imm(i as i64),
        };
        self.store(st, dst, &ptr, off as i64, size.bytes() as u32, val, false)
    }

    pub(super) fn exec_atomic(
        &mut self,
        st: &mut State,
        size: Size,
        op: AtomicOp,
        dst: usize,
        src: usize,
        off: i16,
    ) -> R<()> {
        let n = size.bytes() as u32;
        match op {
            AtomicOp::LoadAcquire => {
                let ptr = self.read_reg(st, src)?;
                self.atomic_target_ok(&ptr, src)?;
                let mut v = self.load(st, src, &ptr, off as i64, n, false, true)?;
                if v.is_scalar() && n < 8 {
                    v.val = v.val.truncate(n);
                }
                v.origin = self.insn as u32;
                self.set_reg(st, dst, v);
                Ok(())
            }
            AtomicOp::StoreRelease => {
                let ptr = self.read_reg(st, dst)?;
                self.atomic_target_ok(&ptr, dst)?;
                let v = self.read_reg(st, src)?;
                self.store(st, dst, &ptr, off as i64, n, WriteVal::Reg(v), true)
            }
            _ => {
                let ptr = self.read_reg(st, dst)?;
                self.atomic_target_ok(&ptr, dst)?;
                let v = self.read_reg(st, src)?;
                if v.is_pointer() && !self.ptr_leaks {
                    return fail(
                        ErrorKind::PointerLeak,
                        format!(
                            "r{src} holds {}; atomics would leak it into memory",
                            v.ty.describe()
                        ),
                    );
                }
                if v.is_pointer() {
                    return fail(
                        ErrorKind::InvalidAccess,
                        format!(
                            "the atomic operand r{src} must be a number, not {}",
                            v.ty.describe()
                        ),
                    );
                }
                if op == AtomicOp::CmpXchg {
                    let r0 = self.read_reg(st, 0)?;
                    if r0.is_pointer() {
                        return fail(
                            ErrorKind::InvalidAccess,
                            format!("cmpxchg compares with r0, which holds {}", r0.ty.describe()),
                        );
                    }
                }
                // Read (the old value must be initialized), then write.
                self.load(st, dst, &ptr, off as i64, n, false, true)?;
                self.store(st, dst, &ptr, off as i64, n, WriteVal::Unknown, true)?;
                if op.writes_register() {
                    let out = if op == AtomicOp::CmpXchg { 0 } else { src };
                    let v = RegState::scalar(Scalar::unknown_of_size(n)).at(self.insn);
                    self.set_reg(st, out, v);
                }
                Ok(())
            }
        }
    }

    fn atomic_target_ok(&self, ptr: &RegState, r: usize) -> R<()> {
        match ptr.ty {
            RegType::Ctx | RegType::Packet | RegType::PacketMeta => fail(
                ErrorKind::InvalidAccess,
                format!(
                    "atomic operations through {} (r{r}) are not allowed",
                    ptr.ty.describe()
                ),
            ),
            _ => Ok(()),
        }
    }

    /// Error for dereferencing something that is not a usable pointer.
    fn not_a_pointer<T>(&self, r: usize, ptr: &RegState, write: bool) -> R<T> {
        let verb = if write {
            "write through"
        } else {
            "read through"
        };
        if ptr.maybe_null {
            let from = self
                .origin_of(ptr)
                .map(|o| format!(": it comes from {o}"))
                .unwrap_or_default();
            return fail(
                ErrorKind::NullPointer,
                format!("r{r} may be NULL here{from}"),
            )
            .hint(format!(
                "check it before use: `if (!ptr) return 0;` (in assembly: `if r{r} == 0 goto <out>`)"
            ));
        }
        match ptr.ty {
            RegType::Scalar if ptr.is_zero() => fail(
                ErrorKind::NullPointer,
                format!("{verb} r{r}, which is NULL (0) on this path"),
            ),
            RegType::Scalar if r != 0 && self.invalidated_by(ptr).is_some() => {
                let (helper, packet) = self.invalidated_by(ptr).unwrap_or_default();
                let at = self.where_(ptr.origin as usize);
                if packet {
                    fail(
                        ErrorKind::InvalidAccess,
                        format!(
                            "{verb} r{r}: it held a packet pointer, but {helper} at {at} may \
                             move the packet, which turns every packet pointer into a number"
                        ),
                    )
                    .hint("load data and data_end from the context again after the call")
                } else {
                    fail(
                        ErrorKind::ReferenceMisuse,
                        format!(
                            "{verb} r{r}: it pointed to the reservation that {helper} \
                             released at {at}"
                        ),
                    )
                    .hint("do not use a reservation after submitting or discarding it")
                }
            }
            RegType::Scalar => fail(
                ErrorKind::InvalidAccess,
                format!("{verb} r{r}, which holds a number, not a pointer"),
            )
            .hint("only pointers the verifier knows (context, stack, map values, packet, helper memory) can be dereferenced; use bpf_probe_read_* for other addresses"),
            RegType::PacketEnd => fail(
                ErrorKind::InvalidAccess,
                format!("{verb} r{r}, the packet end pointer: it points past the last byte"),
            ),
            RegType::Map { .. } => fail(
                ErrorKind::InvalidAccess,
                format!("{verb} r{r}, which is a map, not its value"),
            )
            .hint("look the value up with bpf_map_lookup_elem"),
            RegType::Func { .. } => fail(
                ErrorKind::InvalidAccess,
                format!("{verb} r{r}, which is a function address"),
            ),
            _ => fail(
                ErrorKind::InvalidAccess,
                format!("{verb} r{r} ({}) is not allowed", ptr.ty.describe()),
            ),
        }
    }

    /// For a number that was a pointer until a helper call invalidated it: the helper's
    /// name, and whether it was a packet pointer (else a released reservation).
    pub(crate) fn invalidated_by(&self, reg: &RegState) -> Option<(String, bool)> {
        let o = reg.origin as usize;
        let oxbpf_isa::Insn::Call(oxbpf_isa::CallTarget::Helper(id)) = *self.prog.insns().get(o)?
        else {
            return None;
        };
        let h = self.conf.helper_proto(id)?;
        if h.changes_packet {
            Some((h.name.to_string(), true))
        } else if h.args.contains(&crate::helpers::Arg::RingbufMem) {
            Some((h.name.to_string(), false))
        } else {
            None
        }
    }

    /// Loads `size` bytes at `ptr + off` (`ptr` is register `r`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn load(
        &mut self,
        st: &mut State,
        r: usize,
        ptr: &RegState,
        off: i64,
        size: u32,
        sign_extend: bool,
        strict_align: bool,
    ) -> R<RegState> {
        if ptr.maybe_null {
            return self.not_a_pointer(r, ptr, false);
        }
        let purpose = if strict_align {
            Purpose::Atomic
        } else {
            Purpose::Load
        };
        match ptr.ty {
            RegType::Stack { frame } => {
                self.live_frame(st, frame, r)?;
                self.check_aligned(ptr, off, size, r)?;
                self.stack_read(st, r, frame, ptr, off, size, purpose)
            }
            RegType::Ctx => self.ctx_access(r, ptr, off, size, false, sign_extend),
            RegType::MapValue { map } => {
                if strict_align {
                    self.check_aligned(ptr, off, size, r)?;
                }
                let m = &self.conf.maps[map as usize];
                if m.wronly_prog() {
                    return fail(
                        ErrorKind::InvalidAccess,
                        format!("map `{}` is write-only for programs", m.name),
                    );
                }
                let limit = m.value_size;
                self.check_region(r, ptr, off, size, limit, "the map value", purpose)?;
                // Known constants of frozen read-only maps.
                if let (Some(data), Some(v)) = (m.frozen.as_ref(), ptr.val.as_const()) {
                    if m.rdonly_prog() && !sign_extend {
                        let at = ptr.off as i64 + v as i64 + off;
                        if at >= 0 && (at as usize + size as usize) <= data.len() {
                            let mut b = [0u8; 8];
                            b[..size as usize]
                                .copy_from_slice(&data[at as usize..at as usize + size as usize]);
                            return Ok(RegState::constant(u64::from_le_bytes(b)));
                        }
                    }
                }
                Ok(self.loaded_unknown(size, sign_extend))
            }
            RegType::Mem { size: limit, .. } => {
                if strict_align {
                    self.check_aligned(ptr, off, size, r)?;
                }
                self.check_region(r, ptr, off, size, limit, "the memory", purpose)?;
                Ok(self.loaded_unknown(size, sign_extend))
            }
            RegType::Packet | RegType::PacketMeta => {
                self.check_packet(r, ptr, off, size, false, purpose)?;
                Ok(self.loaded_unknown(size, sign_extend))
            }
            _ => self.not_a_pointer(r, ptr, false),
        }
    }

    fn loaded_unknown(&self, size: u32, sign_extend: bool) -> RegState {
        RegState::scalar(if sign_extend {
            Scalar::unknown_signed_of_size(size)
        } else {
            Scalar::unknown_of_size(size)
        })
    }

    /// Stores `val` as `size` bytes at `ptr + off` (`ptr` is register `r`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn store(
        &mut self,
        st: &mut State,
        r: usize,
        ptr: &RegState,
        off: i64,
        size: u32,
        val: WriteVal,
        strict_align: bool,
    ) -> R<()> {
        if ptr.maybe_null {
            return self.not_a_pointer(r, ptr, true);
        }
        let purpose = if strict_align {
            Purpose::Atomic
        } else {
            Purpose::Store
        };
        let leak = |what: &str| -> R<()> {
            if let WriteVal::Reg(v) = val {
                if v.is_pointer() && !self.ptr_leaks {
                    return fail(
                        ErrorKind::PointerLeak,
                        format!("storing {} into {what} leaks it", v.ty.describe()),
                    )
                    .hint("store numbers only");
                }
            }
            Ok(())
        };
        match ptr.ty {
            RegType::Stack { frame } => {
                self.live_frame(st, frame, r)?;
                self.check_aligned(ptr, off, size, r)?;
                self.stack_write(st, r, frame, ptr, off, size, val)
            }
            RegType::Ctx => {
                if let WriteVal::Reg(v) = val {
                    if v.is_pointer() {
                        return fail(
                            ErrorKind::PointerLeak,
                            format!(
                                "storing {} into the context is not allowed",
                                v.ty.describe()
                            ),
                        );
                    }
                }
                self.ctx_access(r, ptr, off, size, true, false).map(|_| ())
            }
            RegType::MapValue { map } => {
                if strict_align {
                    self.check_aligned(ptr, off, size, r)?;
                }
                let m = &self.conf.maps[map as usize];
                if m.rdonly_prog() {
                    return fail(
                        ErrorKind::InvalidAccess,
                        format!("map `{}` is read-only for programs (e.g. .rodata)", m.name),
                    )
                    .hint("write to a map or global variable that is not const");
                }
                leak("a map value")?;
                let limit = m.value_size;
                self.check_region(r, ptr, off, size, limit, "the map value", purpose)
            }
            RegType::Mem {
                size: limit,
                rdonly,
                ..
            } => {
                if rdonly {
                    return fail(
                        ErrorKind::InvalidAccess,
                        format!("r{r} points to read-only memory"),
                    );
                }
                if strict_align {
                    self.check_aligned(ptr, off, size, r)?;
                }
                leak("memory")?;
                self.check_region(r, ptr, off, size, limit, "the memory", purpose)
            }
            RegType::Packet | RegType::PacketMeta => {
                leak("the packet")?;
                self.check_packet(r, ptr, off, size, true, purpose)
            }
            _ => self.not_a_pointer(r, ptr, true),
        }
    }

    /// A stack pointer must point into a frame that is still on the call stack (the
    /// rules that keep callee stack pointers from escaping make this always true; the
    /// check keeps a broken invariant from becoming an out-of-range index).
    fn live_frame(&self, st: &State, frame: u32, r: usize) -> R<()> {
        if (frame as usize) < st.frames.len() {
            Ok(())
        } else {
            fail(
                ErrorKind::InvalidAccess,
                format!("r{r} points into the stack of a function that has returned"),
            )
        }
    }

    /// Strict alignment of `ptr + off` to `size`.
    fn check_aligned(&self, ptr: &RegState, off: i64, size: u32, r: usize) -> R<()> {
        if size <= 1 {
            return Ok(());
        }
        let t = ptr
            .val
            .var_off
            .add(crate::domain::Tnum::constant((ptr.off as i64 + off) as u64));
        if !t.is_aligned(size as u64) {
            let where_ = if ptr.has_const_offset() {
                format!(
                    "offset {}",
                    ptr.off as i64 + off + ptr.val.var_off.value as i64
                )
            } else {
                format!("offset {}+{}", ptr.off as i64 + off, ptr.val.var_off)
            };
            return fail(
                ErrorKind::Misaligned,
                format!(
                    "misaligned {size}-byte access through r{r} ({}) at {where_}",
                    ptr.ty.describe()
                ),
            )
            .hint(format!(
                "{size}-byte accesses to this memory must be {size}-byte aligned"
            ));
        }
        Ok(())
    }

    /// `[ptr + off, ptr + off + size)` within `[0, limit)` for map values and helper memory.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn check_region(
        &self,
        r: usize,
        ptr: &RegState,
        off: i64,
        size: u32,
        limit: u32,
        what: &str,
        purpose: Purpose,
    ) -> R<()> {
        let write = matches!(purpose, Purpose::Store | Purpose::Atomic);
        let fixed = ptr.off as i64 + off;
        if ptr.val.umax >= MAX_VAR_OFF as u64 && !ptr.val.is_const() {
            return fail(
                ErrorKind::OutOfBounds,
                format!(
                    "r{r}: the offset into {what} is not bounded (it {}), so the access \
                     could be anywhere",
                    range_words(&ptr.val)
                ),
            )
            .hint("bound the index before using it: `if (i >= N) return 0;` or `i &= N - 1;`");
        }
        let lo = ptr.val.smin.max(-(MAX_VAR_OFF)) + fixed;
        let hi = ptr.val.umax as i64 + fixed + size as i64;
        if lo < 0 || hi > limit as i64 {
            let verb = purpose.verb(write);
            let range = if ptr.has_const_offset() {
                format!("at offset {lo}")
            } else {
                format!("at offsets {lo}..{}", hi - size as i64)
            };
            let hint = if ptr.has_const_offset() {
                format!("{what} is {limit} bytes: keep accesses within [0, {limit})")
            } else {
                format!(
                    "bound the index so that offset + {size} <= {limit}, e.g. `if (i >= {}) return 0;`",
                    (limit as i64 - fixed - size as i64 + 1).max(0)
                )
            };
            return fail(
                ErrorKind::OutOfBounds,
                format!(
                    "{verb} of {} {range} through r{r} is outside {what} ({limit} bytes)",
                    bytes(size)
                ),
            )
            .hint(hint);
        }
        Ok(())
    }

    fn check_packet(
        &self,
        r: usize,
        ptr: &RegState,
        off: i64,
        size: u32,
        write: bool,
        purpose: Purpose,
    ) -> R<()> {
        let allowed = match self.packet {
            PacketAccess::None => false,
            PacketAccess::Read => !write,
            PacketAccess::ReadWrite => true,
        };
        if !allowed {
            return fail(
                ErrorKind::InvalidAccess,
                format!(
                    "{} programs may not {} packet data directly",
                    self.conf.prog_type.name(),
                    if write { "write" } else { "read" }
                ),
            )
            .hint(if write {
                "use a helper such as bpf_skb_store_bytes"
            } else {
                "use bpf_skb_load_bytes"
            });
        }
        if ptr.val.smin < 0 {
            return fail(
                ErrorKind::OutOfBounds,
                format!(
                    "r{r}: the offset added to the packet pointer may be negative ({})",
                    ptr.val
                ),
            )
            .hint("use an unsigned offset, or check `if (off < 0) return ...` first");
        }
        let start = ptr.off as i64 + off;
        let end = start + size as i64;
        if start < 0 || end > ptr.range as i64 {
            let verb = purpose.verb(write);
            let what = if ptr.ty == RegType::PacketMeta {
                "packet metadata"
            } else {
                "packet"
            };
            let var = if ptr.has_const_offset() {
                String::new()
            } else {
                " (plus a variable offset)".to_string()
            };
            let msg = if ptr.range == 0 {
                format!(
                    "{verb} of {} at {what} offset {start}{var} through r{r}, but \
                     no {what} bytes are known to exist: the program did not compare the \
                     pointer with the end first",
                    bytes(size)
                )
            } else {
                format!(
                    "{verb} of {} at {what} offset {start}{var} through r{r} reaches \
                     byte {end}, but only {} bytes were checked against the end",
                    bytes(size),
                    ptr.range
                )
            };
            let endname = if ptr.ty == RegType::PacketMeta {
                "data"
            } else {
                "data_end"
            };
            if ptr.range == 0 && !ptr.has_const_offset() {
                return fail(ErrorKind::OutOfBounds, msg).hint(format!(
                    "adding a number known only at run time to a packet pointer forgets earlier \
                     checks: compare the pointer with {endname} after adding it, e.g. \
                     `if (ptr + {end} > {endname}) return ...;`"
                ));
            }
            return fail(ErrorKind::OutOfBounds, msg).hint(format!(
                "check the bounds first: `if (ptr + {end} > {endname}) return ...;`"
            ));
        }
        Ok(())
    }

    fn ctx_access(
        &self,
        r: usize,
        ptr: &RegState,
        off: i64,
        size: u32,
        write: bool,
        sign_extend: bool,
    ) -> R<RegState> {
        if ptr.off != 0 || ptr.val.as_const() != Some(0) {
            return fail(
                ErrorKind::ContextAccess,
                format!(
                    "r{r} is the context pointer moved by {}: context fields must be accessed \
                     through the unmodified pointer",
                    if ptr.has_const_offset() {
                        (ptr.off as i64 + ptr.val.var_off.value as i64).to_string()
                    } else {
                        "a variable offset".to_string()
                    }
                ),
            )
            .hint("use the original context pointer with a constant offset: `*(u32 *)(r1 + 16)`");
        }
        match self.ctx.check(off, size, write) {
            CtxAccess::Ok { kind, field } => match kind {
                FieldKind::Scalar => Ok(if sign_extend {
                    RegState::scalar(Scalar::unknown_signed_of_size(size))
                } else {
                    RegState::scalar(Scalar::unknown_of_size(size))
                }),
                FieldKind::PacketData => Ok(RegState::pointer(RegType::Packet, 0)),
                FieldKind::PacketEnd => Ok(RegState::pointer(RegType::PacketEnd, 0)),
                FieldKind::PacketMeta => Ok(RegState::pointer(RegType::PacketMeta, 0)),
                FieldKind::Opaque => fail(
                    ErrorKind::Unsupported,
                    format!(
                        "field {}.{} holds a kernel object pointer, which the oxbpf verifier \
                         does not model",
                        self.ctx.name,
                        field.map(|f| &*f.name).unwrap_or("?")
                    ),
                ),
            },
            CtxAccess::Denied { field, why } => {
                let fname = match field {
                    Some(f) => {
                        format!("field `{}` (offset {}, {} bytes)", f.name, f.offset, f.size)
                    }
                    None => format!("offset {off}"),
                };
                let verb = if write { "write" } else { "read" };
                fail(
                    ErrorKind::ContextAccess,
                    format!(
                        "invalid {size}-byte {verb} of {} {fname} in {} programs: {why}",
                        self.ctx.name,
                        self.conf.prog_type.name()
                    ),
                )
                .hint(self.ctx_hint(write))
            }
        }
    }

    fn ctx_hint(&self, write: bool) -> String {
        let fields: Vec<String> = self
            .ctx
            .fields
            .iter()
            .filter(|f| match f.access {
                crate::context::FieldAccess::Hidden => false,
                crate::context::FieldAccess::ReadOnly => !write,
                crate::context::FieldAccess::ReadWrite => true,
            })
            .take(12)
            .map(|f| format!("{}@{}:{}", f.name, f.offset, f.size))
            .collect();
        if fields.is_empty() {
            format!(
                "no field of {} is {}",
                self.ctx.name,
                if write { "writable" } else { "readable" }
            )
        } else {
            format!(
                "{} fields of {} (name@offset:size): {}",
                if write { "writable" } else { "readable" },
                self.ctx.name,
                fields.join(", ")
            )
        }
    }

    /// Fixed offset (`Some`) or the range of possible offsets of a stack access.
    fn stack_span(
        &self,
        r: usize,
        ptr: &RegState,
        off: i64,
        size: u32,
        write: bool,
    ) -> R<(i64, i64)> {
        let fixed = ptr.off as i64 + off;
        let (lo, hi) = if let Some(v) = ptr.val.as_const() {
            let a = fixed + v as i64;
            (a, a)
        } else {
            (
                fixed + ptr.val.smin.max(-(MAX_VAR_OFF)),
                fixed + (ptr.val.smax.min(MAX_VAR_OFF)),
            )
        };
        if lo < -(STACK_SIZE as i64) || hi + size as i64 > 0 {
            let verb = if write { "write" } else { "read" };
            let at = if lo == hi {
                fp(lo)
            } else {
                format!("{}..{}", fp(lo), fp(hi))
            };
            return fail(
                ErrorKind::OutOfBounds,
                format!(
                    "{verb} of {} at {at} through r{r} is outside the stack frame \
                     (fp-512 .. fp)",
                    bytes(size)
                ),
            )
            .hint("the stack is 512 bytes below r10: use offsets from -512 to -1");
        }
        Ok((lo, hi))
    }

    fn note_depth(&mut self, st: &State, frame: u32, lo: i64) {
        let k = st.frames[frame as usize].subprog as usize;
        let d = (-lo) as u32;
        if let Some(x) = self.stack_depth.get_mut(k) {
            *x = (*x).max(d);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn stack_read(
        &mut self,
        st: &mut State,
        r: usize,
        frame: u32,
        ptr: &RegState,
        off: i64,
        size: u32,
        purpose: Purpose,
    ) -> R<RegState> {
        let (lo, hi) = self.stack_span(r, ptr, off, size, false)?;
        self.note_depth(st, frame, lo);
        let f = &st.frames[frame as usize];
        if lo == hi {
            let a = lo as i32;
            let (slot, b) = match f.slot(a) {
                Some((s, b)) => (*s, b),
                None => (Slot::EMPTY, (a.rem_euclid(8)) as usize),
            };
            let n = size as usize;
            let all_spill = slot.bytes[b..b + n].iter().all(|x| *x == StackByte::Spill);
            if all_spill && slot.spilled.is_init() {
                let sp = slot.spilled;
                if sp.is_pointer() {
                    if b == 0 && n == 8 && slot.is_full_spill() {
                        return Ok(sp);
                    }
                    return fail(
                        ErrorKind::InvalidAccess,
                        format!(
                            "{size}-byte read of part of {} spilled at {}",
                            sp.ty.describe(),
                            fp(a as i64 - b as i64)
                        ),
                    )
                    .hint("read spilled pointers back whole, with an 8-byte load");
                }
                if b == 0 && n <= slot.spill_len() {
                    let mut v = sp;
                    if n < 8 && v.val.umax > (1u64 << (n * 8)) - 1 {
                        v.id = 0;
                    }
                    return Ok(v);
                }
            }
            // Byte by byte.
            let mut zeros = 0;
            for i in 0..n {
                match slot.bytes[b + i] {
                    StackByte::Invalid => {
                        if !self.conf.allow_uninit_stack {
                            return self.uninit_stack(a as i64 + i as i64, a as i64, size, purpose);
                        }
                    }
                    StackByte::Zero => zeros += 1,
                    StackByte::Misc => {}
                    StackByte::Spill => {
                        if slot.spilled.is_pointer() && !self.ptr_leaks {
                            return fail(
                                ErrorKind::PointerLeak,
                                format!(
                                    "reading part of a spilled pointer at {} as a number leaks it",
                                    fp(a as i64)
                                ),
                            );
                        }
                        if slot.spilled.is_zero() {
                            zeros += 1;
                        }
                    }
                }
            }
            return Ok(if zeros == n {
                RegState::constant(0)
            } else {
                RegState::scalar(Scalar::unknown_of_size(size))
            });
        }
        // Variable offset: every byte that may be read must be initialized.
        let mut all_zero = true;
        for a in lo..hi + size as i64 {
            match f.byte(a as i32) {
                StackByte::Invalid => {
                    if !self.conf.allow_uninit_stack {
                        return self.uninit_stack(a, lo, size, purpose).note(format!(
                            "the offset is variable: bytes {}..{} may be read",
                            fp(lo),
                            fp(hi + size as i64)
                        ));
                    }
                    all_zero = false;
                }
                StackByte::Zero => {}
                StackByte::Misc => all_zero = false,
                StackByte::Spill => {
                    let s = f
                        .slot(a as i32)
                        .map(|(s, _)| s.spilled)
                        .unwrap_or(RegState::NOT_INIT);
                    if s.is_pointer() {
                        // A read at one of the possible offsets would be a partial fill of
                        // the pointer, which a constant offset may not do either.
                        return fail(
                            ErrorKind::InvalidAccess,
                            format!(
                                "a {size}-byte read at a variable offset ({}..{}) may read part \
                                 of {} spilled at {}",
                                fp(lo),
                                fp(hi),
                                s.ty.describe(),
                                fp(a - a.rem_euclid(8))
                            ),
                        )
                        .hint("keep spilled pointers out of buffers indexed at run time");
                    }
                    // Linux counts only bytes stored as zero, not spilled zeros.
                    all_zero = false;
                }
            }
        }
        let _ = purpose;
        Ok(if all_zero {
            RegState::constant(0)
        } else {
            RegState::scalar(Scalar::unknown_of_size(size))
        })
    }

    fn uninit_stack<T>(&self, byte: i64, start: i64, size: u32, purpose: Purpose) -> R<T> {
        let what = match purpose {
            Purpose::Helper(n) => {
                let name = match self.prog.insns()[self.insn] {
                    oxbpf_isa::Insn::Call(oxbpf_isa::CallTarget::Helper(id)) => {
                        self.helper_name(id)
                    }
                    _ => "the helper".to_string(),
                };
                format!(
                    "{name} reads {} at {} (argument {n})",
                    bytes(size),
                    fp(start)
                )
            }
            _ => format!("{size}-byte read at {}", fp(start)),
        };
        fail(
            ErrorKind::UninitStack,
            format!("{what}, but the byte at {} was never written on this path", fp(byte)),
        )
        .hint("initialize the whole buffer first (e.g. `struct key k = {};` or __builtin_memset), including padding")
    }

    #[allow(clippy::too_many_arguments)]
    fn stack_write(
        &mut self,
        st: &mut State,
        r: usize,
        frame: u32,
        ptr: &RegState,
        off: i64,
        size: u32,
        val: WriteVal,
    ) -> R<()> {
        let (lo, hi) = self.stack_span(r, ptr, off, size, true)?;
        self.note_depth(st, frame, lo);
        let cur_frame = st.frames.len() as u32 - 1;
        let ptr_leaks = self.ptr_leaks;
        if let WriteVal::Reg(v) = val {
            if v.is_pointer() {
                if size != 8 {
                    return fail(
                        ErrorKind::InvalidAccess,
                        format!(
                            "{size}-byte store of {} to the stack: pointers can only be spilled whole",
                            v.ty.describe()
                        ),
                    )
                    .hint("spill pointers with 8-byte stores");
                }
                if frame != cur_frame && matches!(v.ty, RegType::Stack { .. }) {
                    return fail(
                        ErrorKind::InvalidAccess,
                        "storing a stack pointer into a caller's stack frame is not allowed",
                    );
                }
                if lo != hi && !ptr_leaks {
                    return fail(
                        ErrorKind::PointerLeak,
                        "storing a pointer at a variable stack offset loses it",
                    );
                }
            }
        }
        let f = &mut st.frames[frame as usize];
        if lo == hi {
            let a = lo as i32;
            let (slot, b) = f.slot_mut(a);
            let n = size as usize;
            let spill = match val {
                WriteVal::Reg(v) if v.is_pointer() => Some(v),
                WriteVal::Reg(v) if b == 0 => Some(v),
                WriteVal::Imm(i) if b == 0 => Some(RegState::constant(i as u64)),
                _ => None,
            };
            match spill {
                Some(mut v) => {
                    v.origin = if v.is_pointer() { v.origin } else { u32::MAX };
                    if n < 8 && slot.bytes.contains(&StackByte::Spill) {
                        slot.scrub_spill();
                    }
                    for x in &mut slot.bytes[..n] {
                        *x = StackByte::Spill;
                    }
                    slot.spilled = v;
                }
                None => {
                    slot.scrub_spill();
                    let k = if val.is_zero() {
                        StackByte::Zero
                    } else {
                        StackByte::Misc
                    };
                    for x in &mut slot.bytes[b..b + n] {
                        *x = k;
                    }
                }
            }
            return Ok(());
        }
        // Variable offset: some of the bytes are written, nobody knows which.
        let zero = val.is_zero();
        for a in lo..hi + size as i64 {
            let (slot, b) = f.slot_mut(a as i32);
            if slot.bytes[b] == StackByte::Spill {
                slot.scrub_spill();
            }
            if slot.bytes[b] == StackByte::Zero && !zero {
                slot.bytes[b] = StackByte::Misc;
            }
        }
        Ok(())
    }

    /// Checks that a helper may read (or write) `[ptr, ptr + size)` where the size lies in
    /// `size_min..=size_max`, and marks written stack bytes as initialized.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn helper_mem(
        &mut self,
        st: &mut State,
        argno: u8,
        ptr: &RegState,
        size_min: u64,
        size_max: u64,
        write: bool,
        helper: &str,
    ) -> R<()> {
        let r = argno as usize;
        if size_max == 0 {
            return Ok(());
        }
        // A pointer that may be NULL reaches here only for arguments that accept NULL:
        // the helper checks for it, the rest must be valid.
        let mut ptr = *ptr;
        ptr.maybe_null = false;
        let ptr = &ptr;
        let size = size_max as u32;
        let purpose = Purpose::Helper(argno);
        match ptr.ty {
            RegType::Stack { frame } => {
                self.live_frame(st, frame, r)?;
                let fixed = ptr.has_const_offset();
                // Stack bounds for the whole range.
                let (lo, hi) = self.stack_span(r, ptr, 0, size, write)?;
                self.note_depth(st, frame, lo);
                if write && fixed {
                    let f = &mut st.frames[frame as usize];
                    for a in lo..lo + size as i64 {
                        let (slot, b) = f.slot_mut(a as i32);
                        if slot.bytes[b] == StackByte::Spill {
                            slot.scrub_spill();
                        }
                        // Bytes the helper surely writes become data; the others stay
                        // as they were (but may no longer be zero).
                        if (a - lo) < size_min as i64 || slot.bytes[b] == StackByte::Zero {
                            slot.bytes[b] = StackByte::Misc;
                        }
                    }
                    return Ok(());
                }
                // Reads (and writes at variable offsets) need initialized bytes.
                let f = &st.frames[frame as usize];
                for a in lo..hi + size as i64 {
                    match f.byte(a as i32) {
                        StackByte::Invalid if !self.conf.allow_uninit_stack => {
                            return self.uninit_stack(a, lo, size, purpose);
                        }
                        StackByte::Spill => {
                            let s = f
                                .slot(a as i32)
                                .map(|(s, _)| s.spilled)
                                .unwrap_or(RegState::NOT_INIT);
                            if s.is_pointer() && !self.ptr_leaks {
                                return fail(
                                    ErrorKind::PointerLeak,
                                    format!("{helper} would read a spilled pointer at {}", fp(a)),
                                );
                            }
                        }
                        _ => {}
                    }
                }
                if write {
                    let f = &mut st.frames[frame as usize];
                    for a in lo..hi + size as i64 {
                        let (slot, b) = f.slot_mut(a as i32);
                        if slot.bytes[b] == StackByte::Spill {
                            slot.scrub_spill();
                        }
                        if slot.bytes[b] == StackByte::Zero {
                            slot.bytes[b] = StackByte::Misc;
                        }
                    }
                }
                Ok(())
            }
            RegType::MapValue { map } => {
                let m = &self.conf.maps[map as usize];
                if write && m.rdonly_prog() {
                    return fail(
                        ErrorKind::InvalidAccess,
                        format!("{helper} would write into read-only map `{}`", m.name),
                    );
                }
                let limit = m.value_size;
                self.check_region(r, ptr, 0, size, limit, "the map value", purpose)
            }
            RegType::Mem {
                size: limit,
                rdonly,
                ..
            } => {
                if write && rdonly {
                    return fail(
                        ErrorKind::InvalidAccess,
                        format!("{helper} would write into read-only memory"),
                    );
                }
                self.check_region(r, ptr, 0, size, limit, "the memory", purpose)
            }
            RegType::Packet | RegType::PacketMeta => {
                self.check_packet(r, ptr, 0, size, write, purpose)
            }
            _ => fail(
                ErrorKind::HelperArgument,
                format!(
                    "argument {argno} of {helper} must point to memory (stack, map value, \
                     packet or helper memory), but r{r} is {}",
                    self.describe_reg(ptr)
                ),
            ),
        }
    }
}
