//! The abstract machine state: registers, stack frames and held references, and the
//! "covers" relation used to prune states already verified.

use crate::domain::Scalar;
use serde::Serialize;
use std::rc::Rc;

/// Bytes of stack per frame.
pub const STACK_SIZE: i32 = 512;
/// Registers r0..r10.
pub const NUM_REGS: usize = 11;
/// Offsets (fixed or variable) beyond this magnitude are rejected before they can
/// overflow anything (the kernel's `BPF_MAX_VAR_OFF`).
pub const MAX_VAR_OFF: i64 = 1 << 29;

/// `RegState::origin` of values set at program entry (r1).
pub const ORIGIN_ENTRY: u32 = u32::MAX - 1;

/// What a register holds.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RegType {
    /// Never written (or clobbered by a call): reading it is an error.
    NotInit,
    /// A number.
    Scalar,
    /// The program's context structure.
    Ctx,
    /// The stack of frame `frame` (0 = the program's own frame).
    Stack { frame: u32 },
    /// A map itself (`lddw` of a map), usable only as a helper argument.
    Map { map: u32 },
    /// Inside the value of map `map`.
    MapValue { map: u32 },
    /// Packet data (`data` .. `data_end`).
    Packet,
    /// One past the last packet byte.
    PacketEnd,
    /// Packet metadata (`data_meta` .. `data`).
    PacketMeta,
    /// Memory of a known size returned by a helper (ring buffer reservations and the
    /// like).
    Mem {
        size: u32,
        rdonly: bool,
        ringbuf: bool,
    },
    /// The address of a subprogram (`lddw` with a code address).
    Func { subprog: u32 },
}

impl RegType {
    /// True for every pointer type.
    pub fn is_pointer(self) -> bool {
        !matches!(self, RegType::NotInit | RegType::Scalar)
    }

    /// True for packet data and packet metadata pointers (which carry a range).
    pub fn is_packet(self) -> bool {
        matches!(self, RegType::Packet | RegType::PacketMeta)
    }

    /// Short name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            RegType::NotInit => "uninitialized",
            RegType::Scalar => "scalar",
            RegType::Ctx => "ctx",
            RegType::Stack { .. } => "fp",
            RegType::Map { .. } => "map_ptr",
            RegType::MapValue { .. } => "map_value",
            RegType::Packet => "pkt",
            RegType::PacketEnd => "pkt_end",
            RegType::PacketMeta => "pkt_meta",
            RegType::Mem { ringbuf: true, .. } => "ringbuf_mem",
            RegType::Mem { rdonly: true, .. } => "rdonly_mem",
            RegType::Mem { .. } => "mem",
            RegType::Func { .. } => "func",
        }
    }

    /// Words for messages ("a pointer to the stack", ...).
    pub fn describe(self) -> &'static str {
        match self {
            RegType::NotInit => "an uninitialized register",
            RegType::Scalar => "a number",
            RegType::Ctx => "the context pointer",
            RegType::Stack { .. } => "a stack pointer",
            RegType::Map { .. } => "a map",
            RegType::MapValue { .. } => "a pointer to a map value",
            RegType::Packet => "a packet pointer",
            RegType::PacketEnd => "the packet end pointer",
            RegType::PacketMeta => "a packet metadata pointer",
            RegType::Mem { ringbuf: true, .. } => "a ring buffer reservation",
            RegType::Mem { .. } => "a pointer to helper memory",
            RegType::Func { .. } => "a function address",
        }
    }
}

/// One register's abstract value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RegState {
    pub ty: RegType,
    /// The pointer may be NULL (until a null check).
    pub maybe_null: bool,
    /// Fixed offset from the pointer's base.
    pub off: i32,
    /// The value (scalars) or the variable part of the offset (pointers).
    pub val: Scalar,
    /// Scalars: registers with the same non-zero id hold the same value. Pointers that may
    /// be NULL: they come from the same helper call. Packet pointers: they share a
    /// variable offset (and so a checked range).
    pub id: u32,
    /// The reference (e.g. ring buffer reservation) this pointer belongs to; 0 for none.
    pub ref_id: u32,
    /// Packet pointers: bytes from the pointer's base proven to be inside the packet.
    pub range: u32,
    /// Instruction that produced the value (diagnostics only; not part of the state
    /// comparison).
    pub origin: u32,
}

impl RegState {
    /// An uninitialized register.
    pub const NOT_INIT: RegState = RegState {
        ty: RegType::NotInit,
        maybe_null: false,
        off: 0,
        val: Scalar::UNKNOWN,
        id: 0,
        ref_id: 0,
        range: 0,
        origin: u32::MAX,
    };

    /// A scalar with the given abstract value.
    pub fn scalar(val: Scalar) -> RegState {
        RegState {
            ty: RegType::Scalar,
            val,
            ..RegState::NOT_INIT
        }
    }

    /// A scalar about which nothing is known.
    pub fn unknown() -> RegState {
        RegState::scalar(Scalar::UNKNOWN)
    }

    /// A known number.
    pub fn constant(v: u64) -> RegState {
        RegState::scalar(Scalar::constant(v))
    }

    /// A pointer of type `ty` at fixed offset `off` (variable part 0).
    pub fn pointer(ty: RegType, off: i32) -> RegState {
        RegState {
            ty,
            off,
            val: Scalar::constant(0),
            ..RegState::NOT_INIT
        }
    }

    /// Records where the value was produced.
    pub fn at(mut self, origin: usize) -> RegState {
        self.origin = origin as u32;
        self
    }

    pub fn is_init(&self) -> bool {
        self.ty != RegType::NotInit
    }

    pub fn is_scalar(&self) -> bool {
        self.ty == RegType::Scalar
    }

    pub fn is_pointer(&self) -> bool {
        self.ty.is_pointer()
    }

    /// The value, when this is a known scalar.
    pub fn const_value(&self) -> Option<u64> {
        if self.is_scalar() {
            self.val.as_const()
        } else {
            None
        }
    }

    /// True for a scalar known to be zero.
    pub fn is_zero(&self) -> bool {
        self.const_value() == Some(0)
    }

    /// True when the variable part of a pointer's offset is a known constant.
    pub fn has_const_offset(&self) -> bool {
        self.val.is_const()
    }
}

/// What one stack byte holds.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StackByte {
    /// Never written.
    Invalid,
    /// Some data.
    Misc,
    /// Known zero.
    Zero,
    /// Part of the register spilled into this slot.
    Spill,
}

/// An 8-byte stack slot. `bytes[0]` is the lowest address.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Slot {
    pub bytes: [StackByte; 8],
    /// The spilled register, when some bytes are `Spill` (a spill always starts at the
    /// slot's lowest address).
    pub spilled: RegState,
}

impl Slot {
    pub const EMPTY: Slot = Slot {
        bytes: [StackByte::Invalid; 8],
        spilled: RegState::NOT_INIT,
    };

    /// Bytes holding the spilled register.
    pub fn spill_len(&self) -> usize {
        self.bytes
            .iter()
            .take_while(|b| **b == StackByte::Spill)
            .count()
    }

    /// True when the whole slot holds a spilled register.
    pub fn is_full_spill(&self) -> bool {
        self.spill_len() == 8 && self.spilled.is_init()
    }

    /// Replaces any spilled-register bytes by plain data (the register is destroyed).
    pub fn scrub_spill(&mut self) {
        if self.bytes.contains(&StackByte::Spill) {
            for b in &mut self.bytes {
                if *b == StackByte::Spill {
                    *b = StackByte::Misc;
                }
            }
        }
        self.spilled = RegState::NOT_INIT;
    }
}

/// One function's frame: its registers and stack.
#[derive(Clone, PartialEq, Debug)]
pub struct Frame {
    pub regs: [RegState; NUM_REGS],
    /// `stack[i]` covers `fp - 8*(i+1) .. fp - 8*i`; grows as the program writes deeper.
    pub stack: Vec<Slot>,
    /// Instruction index of the call that created this frame (None for the main frame).
    pub callsite: Option<u32>,
    /// Subprogram index.
    pub subprog: u32,
    /// Position in the call chain (0 = main).
    pub frameno: u32,
    /// A callback invoked by a helper (bpf_loop): it returns to the helper call, which may
    /// call it again.
    pub callback: bool,
    /// References held when the callback was entered (it must not change them).
    pub refs_at_entry: u32,
    /// The checkpoint taken at the helper call before this callback call (see
    /// [`State::callback_head`]).
    pub callback_head: Option<usize>,
}

impl Frame {
    pub fn new(subprog: u32, frameno: u32, callsite: Option<u32>) -> Frame {
        let mut regs = [RegState::NOT_INIT; NUM_REGS];
        regs[10] = RegState::pointer(RegType::Stack { frame: frameno }, 0);
        Frame {
            regs,
            stack: Vec::new(),
            callsite,
            subprog,
            frameno,
            callback: false,
            refs_at_entry: 0,
            callback_head: None,
        }
    }

    /// The slot covering byte offset `off` (negative, from the frame pointer), growing the
    /// stack as needed. `off` must be in `-512..0`.
    pub fn slot_mut(&mut self, off: i32) -> (&mut Slot, usize) {
        let idx = ((-off - 1) / 8) as usize;
        if self.stack.len() <= idx {
            self.stack.resize(idx + 1, Slot::EMPTY);
        }
        let byte = (off.rem_euclid(8)) as usize;
        (&mut self.stack[idx], byte)
    }

    /// The slot covering `off`, if it was ever touched.
    pub fn slot(&self, off: i32) -> Option<(&Slot, usize)> {
        let idx = ((-off - 1) / 8) as usize;
        let byte = (off.rem_euclid(8)) as usize;
        self.stack.get(idx).map(|s| (s, byte))
    }

    /// What the byte at `off` holds.
    pub fn byte(&self, off: i32) -> StackByte {
        match self.slot(off) {
            Some((s, b)) => s.bytes[b],
            None => StackByte::Invalid,
        }
    }

    /// Deepest byte ever made valid, as a positive depth.
    pub fn depth(&self) -> u32 {
        (self.stack.len() * 8) as u32
    }
}

/// A reference the program holds and must release (e.g. a ring buffer reservation).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct RefState {
    pub id: u32,
    /// Instruction that acquired it.
    pub insn: u32,
    /// Helper that acquired it.
    pub helper: i32,
}

/// A step of the path that led to a state: a branch decision or a call.
#[derive(Debug)]
pub struct PathNode {
    pub insn: u32,
    pub event: PathEvent,
    pub prev: Option<Rc<PathNode>>,
}

impl Drop for PathNode {
    /// Paths can be hundreds of thousands of steps long: unlink them iteratively rather
    /// than recursively.
    fn drop(&mut self) {
        let mut next = self.prev.take();
        while let Some(rc) = next {
            match Rc::try_unwrap(rc) {
                Ok(mut node) => next = node.prev.take(),
                Err(_) => break,
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathEvent {
    /// A conditional jump at `insn` went this way (true: jumped).
    Branch { taken: bool },
    /// `may_goto` at `insn` jumped (budget exhausted) or fell through.
    MayGoto { taken: bool },
    /// A bpf-to-bpf call at `insn`.
    Call,
    /// Return to the caller from the `exit` at `insn`.
    Return,
}

/// The complete abstract state at one point of one path.
#[derive(Clone, Debug)]
pub struct State {
    pub frames: Vec<Frame>,
    pub refs: Vec<RefState>,
    /// Iterations of loops bounded at run time on this path (`may_goto` fall-throughs and
    /// callback calls).
    pub may_goto_depth: u32,
    /// Path taken so far (for diagnostics).
    pub path: Option<Rc<PathNode>>,
    /// Explored checkpoint this state descends from.
    pub parent: Option<usize>,
    /// Set when a callback returns to its helper call: the checkpoint taken at that call
    /// before the callback ran (what the callback changed is widened against it).
    pub callback_head: Option<usize>,
}

impl State {
    pub fn cur(&self) -> &Frame {
        self.frames.last().expect("a state always has a frame")
    }

    pub fn cur_mut(&mut self) -> &mut Frame {
        self.frames.last_mut().expect("a state always has a frame")
    }

    pub fn reg(&self, r: usize) -> &RegState {
        &self.cur().regs[r]
    }

    pub fn reg_mut(&mut self, r: usize) -> &mut RegState {
        &mut self.cur_mut().regs[r]
    }

    pub fn push_path(&mut self, insn: usize, event: PathEvent) {
        self.path = Some(Rc::new(PathNode {
            insn: insn as u32,
            event,
            prev: self.path.take(),
        }));
    }

    /// The path as a list, oldest first.
    pub fn path_events(&self) -> Vec<(u32, PathEvent)> {
        let mut out = Vec::new();
        let mut n = self.path.as_ref();
        while let Some(node) = n {
            out.push((node.insn, node.event));
            n = node.prev.as_ref();
        }
        out.reverse();
        out
    }

    /// Applies `f` to every register and spilled register in every frame.
    pub fn for_each_reg(&mut self, mut f: impl FnMut(&mut RegState)) {
        for fr in &mut self.frames {
            for r in &mut fr.regs {
                f(r);
            }
            for s in &mut fr.stack {
                if s.spilled.is_init() {
                    f(&mut s.spilled);
                }
            }
        }
    }
}

/// Maps ids of the old state to ids of the new one; the mapping must be consistent both
/// ways for one state to cover the other.
#[derive(Default)]
pub struct IdMap {
    pairs: Vec<(u32, u32)>,
}

impl IdMap {
    pub fn check(&mut self, old: u32, cur: u32) -> bool {
        if old == 0 && cur == 0 {
            return true;
        }
        if old == 0 || cur == 0 {
            return false;
        }
        for &(o, c) in &self.pairs {
            if o == old || c == cur {
                return o == old && c == cur;
            }
        }
        self.pairs.push((old, cur));
        true
    }

    pub fn clear(&mut self) {
        self.pairs.clear();
    }
}

/// [`reg_covers`] for a register whose scalar value cannot influence any decision: a
/// scalar covers a scalar whatever the values.
fn reg_covers_irrelevant(old: &RegState, cur: &RegState, ids: &mut IdMap) -> bool {
    if old.is_scalar() && cur.is_scalar() {
        return true;
    }
    reg_covers(old, cur, ids)
}

/// True when every concrete value `cur` stands for is also one `old` stands for, with
/// consistent ids.
pub fn reg_covers(old: &RegState, cur: &RegState, ids: &mut IdMap) -> bool {
    match old.ty {
        // The old path never read it (it would have failed), so anything goes.
        RegType::NotInit => true,
        RegType::Scalar => {
            if cur.ty != RegType::Scalar || !cur.val.is_within(&old.val) {
                return false;
            }
            // A link in the old state lets the old path learn about one register from a
            // check on another: the current state must have the same link.
            if old.id != 0 {
                ids.check(old.id, cur.id)
            } else {
                true
            }
        }
        _ => {
            if old.ty != cur.ty
                || old.maybe_null != cur.maybe_null
                || old.off != cur.off
                || !cur.val.is_within(&old.val)
            {
                return false;
            }
            if old.ty.is_packet() && cur.range < old.range {
                return false;
            }
            ids.check(old.id, cur.id) && ids.check(old.ref_id, cur.ref_id)
        }
    }
}

/// What a slot looks like to a reader, for comparing stacks. `relevant`: whether the
/// slot's scalar contents may influence a decision.
fn slot_covers(old: &Slot, cur: &Slot, ids: &mut IdMap, relevant: bool) -> bool {
    if !relevant {
        // Only what is initialized and which pointers are spilled matter.
        let data = |s: &Slot, i: usize| match s.bytes[i] {
            StackByte::Misc | StackByte::Zero => true,
            StackByte::Spill => s.spilled.is_scalar(),
            StackByte::Invalid => false,
        };
        if old.spilled.is_pointer() && old.bytes.contains(&StackByte::Spill) {
            return cur.is_full_spill() && reg_covers(&old.spilled, &cur.spilled, ids);
        }
        return (0..8).all(|i| old.bytes[i] == StackByte::Invalid || data(cur, i));
    }
    if old.is_full_spill() {
        if cur.is_full_spill() {
            return reg_covers(&old.spilled, &cur.spilled, ids);
        }
        // A spilled unknown scalar is no more than plain data.
        if old.spilled.is_scalar() && old.spilled.val.is_unknown() && old.spilled.id == 0 {
            return cur.bytes.iter().all(|b| match b {
                StackByte::Misc | StackByte::Zero => true,
                StackByte::Spill => cur.spilled.is_scalar(),
                StackByte::Invalid => false,
            });
        }
        return false;
    }
    let old_spill = old.spill_len();
    if old_spill > 0 {
        // A narrow scalar spill: the current slot must have the same spill (or a full one)
        // covered by it, and the other bytes compare one by one.
        if cur.spill_len() < old_spill || !cur.spilled.is_scalar() {
            return false;
        }
        if !reg_covers(&old.spilled, &cur.spilled, ids) {
            return false;
        }
    }
    for i in old_spill..8 {
        let ok = match old.bytes[i] {
            StackByte::Invalid => true,
            StackByte::Misc => match cur.bytes[i] {
                StackByte::Misc | StackByte::Zero => true,
                StackByte::Spill => cur.spilled.is_scalar(),
                StackByte::Invalid => false,
            },
            StackByte::Zero => {
                cur.bytes[i] == StackByte::Zero
                    || (cur.bytes[i] == StackByte::Spill && cur.spilled.is_zero())
            }
            StackByte::Spill => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Which registers of a frame matter when comparing (bit `r` set: compare `r`).
pub type RegMask = u16;

/// What matters in one frame when comparing states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameMask {
    /// Registers that may still be read (the others are ignored entirely).
    pub live: RegMask,
    /// Registers whose scalar values may influence a decision (the others are compared by
    /// type only).
    pub relevant: RegMask,
    /// Stack slots whose scalar contents may influence a decision.
    pub slots: u64,
}

impl FrameMask {
    /// Everything matters.
    pub const ALL: FrameMask = FrameMask {
        live: u16::MAX,
        relevant: u16::MAX,
        slots: u64::MAX,
    };
}

/// True when `cur` is covered by `old`: every path from `cur` behaves like one from
/// `old`, which was verified. `masks[i]` says what matters in frame `i`.
pub fn state_covers(old: &State, cur: &State, masks: &[FrameMask]) -> bool {
    if old.frames.len() != cur.frames.len() || old.refs.len() != cur.refs.len() {
        return false;
    }
    let mut ids = IdMap::default();
    for (i, (fo, fc)) in old.frames.iter().zip(&cur.frames).enumerate() {
        if fo.callsite != fc.callsite || fo.subprog != fc.subprog || fo.callback != fc.callback {
            return false;
        }
        let mask = masks.get(i).copied().unwrap_or(FrameMask::ALL);
        for r in 0..NUM_REGS {
            if mask.live & (1 << r) == 0 {
                continue;
            }
            let ok = if mask.relevant & (1 << r) == 0 {
                reg_covers_irrelevant(&fo.regs[r], &fc.regs[r], &mut ids)
            } else {
                reg_covers(&fo.regs[r], &fc.regs[r], &mut ids)
            };
            if !ok {
                return false;
            }
        }
        for (k, so) in fo.stack.iter().enumerate() {
            let sc = fc.stack.get(k).unwrap_or(&Slot::EMPTY);
            let relevant = k >= 64 || mask.slots & (1 << k) != 0;
            if !slot_covers(so, sc, &mut ids, relevant) {
                return false;
            }
        }
    }
    for (ro, rc) in old.refs.iter().zip(&cur.refs) {
        if !ids.check(ro.id, rc.id) {
            return false;
        }
    }
    true
}

/// Exact equality of the parts that matter (for loop detection).
pub fn state_equal(a: &State, b: &State) -> bool {
    if a.frames.len() != b.frames.len() || a.refs.len() != b.refs.len() {
        return false;
    }
    a.frames.iter().zip(&b.frames).all(|(x, y)| {
        x.callsite == y.callsite
            && x.callback == y.callback
            && x.regs
                .iter()
                .zip(&y.regs)
                .all(|(p, q)| reg_eq_ignoring_origin(p, q))
            && stack_eq(&x.stack, &y.stack)
    })
}

fn reg_eq_ignoring_origin(a: &RegState, b: &RegState) -> bool {
    let mut a = *a;
    a.origin = b.origin;
    if a.ty == RegType::NotInit && b.ty == RegType::NotInit {
        return true;
    }
    a == *b
}

fn stack_eq(a: &[Slot], b: &[Slot]) -> bool {
    let n = a.len().max(b.len());
    (0..n).all(|i| {
        let x = a.get(i).unwrap_or(&Slot::EMPTY);
        let y = b.get(i).unwrap_or(&Slot::EMPTY);
        x.bytes == y.bytes && reg_eq_ignoring_origin(&x.spilled, &y.spilled)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Scalar;

    #[test]
    fn sizes_stay_small() {
        // Memory per checkpoint is dominated by these; see docs/DESIGN.md.
        assert!(std::mem::size_of::<Scalar>() <= 64);
        assert!(std::mem::size_of::<RegState>() <= 104);
        assert!(std::mem::size_of::<Slot>() <= 112);
        assert!(std::mem::size_of::<Frame>() <= 11 * 104 + 64);
    }

    /// `old` covers `cur` (a state exploring `cur` may be pruned), and not the reverse.
    fn covers_one_way(old: &Frame, cur: &Frame) {
        let (o, c) = (st(vec![old.clone()]), st(vec![cur.clone()]));
        assert!(state_covers(&o, &c, &[FrameMask::ALL]));
        assert!(!state_covers(&c, &o, &[FrameMask::ALL]));
    }

    fn st(frames: Vec<Frame>) -> State {
        State {
            frames,
            refs: Vec::new(),
            may_goto_depth: 0,
            path: None,
            parent: None,
            callback_head: None,
        }
    }

    #[test]
    fn covers_scalars_by_range_and_ids() {
        let mut old = Frame::new(0, 0, None);
        let mut cur = Frame::new(0, 0, None);
        old.regs[1] = RegState::scalar(Scalar::urange(0, 10));
        cur.regs[1] = RegState::constant(5);
        covers_one_way(&old, &cur);
        // A dead register does not matter.
        assert!(state_covers(
            &st(vec![cur.clone()]),
            &st(vec![old.clone()]),
            &[FrameMask {
                live: !(1 << 1),
                ..FrameMask::ALL
            }]
        ));
        // Linked registers in the old state must be linked in the new one.
        old.regs[2] = old.regs[1];
        old.regs[1].id = 7;
        old.regs[2].id = 7;
        cur.regs[2] = cur.regs[1];
        assert!(!state_covers(
            &st(vec![old.clone()]),
            &st(vec![cur.clone()]),
            &[FrameMask::ALL]
        ));
        cur.regs[1].id = 3;
        cur.regs[2].id = 3;
        assert!(state_covers(
            &st(vec![old.clone()]),
            &st(vec![cur.clone()]),
            &[FrameMask::ALL]
        ));
        // ...consistently (one old id cannot stand for two new ones).
        cur.regs[2].id = 4;
        assert!(!state_covers(
            &st(vec![old]),
            &st(vec![cur]),
            &[FrameMask::ALL]
        ));
    }

    #[test]
    fn covers_pointers_and_stack() {
        let mut old = Frame::new(0, 0, None);
        let mut cur = Frame::new(0, 0, None);
        let mut p = RegState::pointer(RegType::Packet, 14);
        p.range = 20;
        old.regs[3] = p;
        let mut q = p;
        q.range = 30;
        cur.regs[3] = q;
        // More proven bytes are fine; fewer are not.
        covers_one_way(&old, &cur);
        // Initialized stack covers uninitialized bytes of the old state, not the reverse.
        let (s, _) = cur.slot_mut(-8);
        s.bytes = [StackByte::Misc; 8];
        covers_one_way(&old, &cur);
        // A spilled pointer is not plain data.
        let (s, _) = old.slot_mut(-16);
        s.bytes = [StackByte::Misc; 8];
        let (s, _) = cur.slot_mut(-16);
        s.bytes = [StackByte::Spill; 8];
        s.spilled = RegState::pointer(RegType::Ctx, 0);
        assert!(!state_covers(
            &st(vec![old.clone()]),
            &st(vec![cur.clone()]),
            &[FrameMask::ALL]
        ));
        // A NULL-able pointer does not cover a checked one with another id scheme.
        let mut a = RegState::pointer(RegType::MapValue { map: 0 }, 0);
        a.maybe_null = true;
        a.id = 1;
        let b = RegState::pointer(RegType::MapValue { map: 0 }, 0);
        let mut ids = IdMap::default();
        assert!(!reg_covers(&a, &b, &mut ids));
        assert!(reg_covers(&RegState::NOT_INIT, &b, &mut ids));
    }
}
