//! eBPF to x86-64.
//!
//! Register mapping (eBPF → x86): r0 → rax, r1..r5 → rdi, rsi, rdx, rcx, r8 (the System V
//! argument registers, so helper calls need no shuffling), r6..r9 → rbx, r13, r14, r15
//! (callee-saved), r10 → rbp. `r12` holds the run's [`RunState`]; r9, r10 and r11 are
//! scratch and never hold eBPF values across instructions.
//!
//! Frames: the stack area (`frames` × 512 bytes) is reserved on the native stack by the
//! entry prologue; frame `k` spans `[top - 512(k+1), top - 512k)`. A bpf-to-bpf call saves
//! the callee-saved registers the callee writes, moves `rbp` down by 512 and does a native
//! `call`, so `exit` in a callee is a plain `ret`. Every function body runs with `rsp`
//! 16-byte aligned, so helper calls need no alignment fix-up.
//!
//! Layout of the output: entry prologue, the body in program order, out-of-line stubs
//! (slow paths of memory checks, budget exhaustion, errors), the shared exits, the
//! constant pool.

use super::analysis::{in_frame, Analysis, IN_MAIN, IN_SUB};
use super::runtime::*;
use super::x86::{Alu, Asm, Cond, Label, Mem, Shift, Unary, Width as W, X};
use super::{JitMode, JitOptions};
use crate::error::LoadError;
use crate::helper::Helpers;
use crate::STACK_SIZE;
use oxbpf_isa::{
    AluOp, AtomicOp, ByteOrder, CallTarget, Insn, JmpOp, LoadImm64, Operand, PacketMode, Program,
    Reg, Size, Width,
};

/// x86 register of each eBPF register.
pub const MAP: [X; 11] = [
    X::Rax,
    X::Rdi,
    X::Rsi,
    X::Rdx,
    X::Rcx,
    X::R8,
    X::Rbx,
    X::R13,
    X::R14,
    X::R15,
    X::Rbp,
];
const S0: X = X::R9;
const S1: X = X::R10;
const S2: X = X::R11;
const ST: X = X::R12;

/// `insn_offsets` entry of the second instruction of a fused pair (its code is the first's).
pub const FUSED: u32 = u32::MAX - 1;

/// `may_goto` iterations per run (Linux's `BPF_MAX_LOOPS`).
pub const MAY_GOTO_LIMIT: u64 = 8 * 1024 * 1024;

#[inline]
fn xr(r: Reg) -> X {
    MAP[r.index()]
}

fn st(off: i32) -> Mem {
    Mem::b(ST, off)
}

fn width_of(s: Size) -> W {
    match s {
        Size::B => W::B8,
        Size::H => W::B16,
        Size::W => W::B32,
        Size::DW => W::B64,
    }
}

fn log2_size(s: Size) -> i32 {
    match s {
        Size::B => 0,
        Size::H => 1,
        Size::W => 2,
        Size::DW => 3,
    }
}

/// A second operand after immediates have been resolved (and blinded).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Src {
    R(X),
    I(i32),
}

enum Stub {
    MemSlow {
        label: Label,
        back: Label,
        addr: Mem,
        site: u32,
    },
    Misaligned {
        label: Label,
        site: u32,
    },
    Budget {
        label: Label,
        start: u32,
        n: u32,
    },
    CallDepth {
        label: Label,
        index: u32,
    },
    /// After a helper call that failed (`rdx` = 1) or requested a tail call (`rdx` = 2):
    /// `pushed` bytes of preserved registers to drop, then the exit of instruction `index`.
    HelperExit {
        label: Label,
        index: u32,
        pushed: i32,
    },
}

/// Checked mode: memory accesses of one basic block off the same value of one base
/// register, within 64 bytes, checked once at the first of them for the whole range (as a
/// write when any of them writes). When that check fails the run continues in a copy of
/// the rest of the block that checks every access on its own (`slow`), so faults, their
/// order and the side effects before them are exactly those of separate checks.
struct Group {
    first: usize,
    base: Reg,
    lo: i32,
    hi: i32,
    write: bool,
    slow: Label,
}

/// An address computation found by `Gen::address_expr`: destination register, the
/// operand, instructions spanned, index register to shift in place first.
type AddressExpr = (Reg, Mem, usize, Option<(Reg, u8)>);

/// Widest range of one grouped check (the size of a stack frame).
const MAX_GROUP_SPAN: i32 = 512;

/// `Gen::group_of` entry of an instruction in no group.
const NO_GROUP: u32 = u32::MAX;

/// Where a bpf-to-bpf call goes.
#[derive(Clone, Copy)]
enum Callee {
    /// Instruction `t`, known at compile time.
    Insn(usize),
    /// The native address in `S1` (`callx` on a code address).
    Indirect,
}

/// The result of compilation.
pub struct Output {
    pub code: Vec<u8>,
    /// Native offset of each instruction's code (`u32::MAX` for unreachable ones,
    /// [`FUSED`] for the second of a fused pair).
    pub insn_offsets: Vec<u32>,
    /// Offset where out-of-line code starts.
    pub body_end: usize,
    /// Offset where the constant pool (data, not code) starts.
    pub pool_start: usize,
    pub shared: Shared,
    pub uses_packet: bool,
    pub uses_may_goto: bool,
    pub uses_caches: bool,
    /// The code never touches the run state (no `r12`): runs may pass a null state.
    pub stateless: bool,
}

struct Gen<'a> {
    prog: &'a Program,
    insns: &'a [Insn],
    an: &'a Analysis,
    opts: &'a JitOptions,
    helpers: &'a Helpers,
    a: Asm,
    labels: Vec<Option<Label>>,
    stubs: Vec<Stub>,
    sites: Vec<Site>,
    l_error: Label,
    l_main_exit: Label,
    l_mem_common: Label,
    l_pkt_oob: Label,
    l_budget_common: Label,
    l_uncache: Label,
    l_pool_tramp: Label,
    l_pool_memcheck: Label,
    /// The callback entry and its return path (programs with code addresses).
    l_cb_entry: Label,
    l_cb_return: Label,
    /// `callx` dispatch: the slot-to-offset table and the start of the code.
    l_callx_table: Label,
    l_code_base: Label,
    /// Functions can be entered from helpers (callbacks).
    has_cb: bool,
    /// This body counts instructions (the budget variant).
    counted: bool,
    checked: bool,
    area: usize,
    /// Bytes subtracted from rsp by the entry prologue (area + alignment pad).
    sub_rsp: usize,
    saves: Vec<X>,
    rng: u64,
    /// Bit per eBPF register: upper 32 bits known zero (reset at block boundaries).
    zext: u16,
    /// The flags hold the result of the last instruction, an ALU op on this x86 register
    /// of this width (ZF/SF valid): a following compare with 0 needs no `test`.
    flags: Option<(X, bool)>,
    /// Flags set by the instruction being compiled (becomes `flags` after it).
    flags_next: Option<(X, bool)>,
    uses_caches: bool,
    insn_offsets: Vec<u32>,
    pool_start: usize,
    /// Grouped checks (checked mode): the groups, each instruction's group, the blocks
    /// needing a slow copy (first grouped access, block end) and the instructions those
    /// copies jump back to.
    groups: Vec<Group>,
    group_of: Vec<u32>,
    slow_copies: Vec<(usize, usize)>,
    need_label: Vec<bool>,
    /// Emitting a slow copy: every access is checked on its own.
    individual: bool,
    /// Where execution that runs past the last instruction goes.
    l_fell_off: Label,
}

type R<T> = Result<T, LoadError>;

impl<'a> Gen<'a> {
    fn pc(&self, i: usize) -> usize {
        self.prog.slot(i)
    }

    fn label(&mut self, i: usize) -> Label {
        if let Some(l) = self.labels[i] {
            return l;
        }
        let l = self.a.new_label();
        self.labels[i] = Some(l);
        l
    }

    fn next_rand(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Resolves an eBPF operand. With constant blinding, immediates are materialised in
    /// `S0` as `(imm ^ key) ^ key` so no program-chosen 32-bit pattern appears in the code.
    fn src(&mut self, o: Operand, w: bool) -> Src {
        match o {
            Operand::Reg(r) => Src::R(xr(r)),
            Operand::Imm(i) if self.opts.constant_blinding => {
                let v = if w { i as i64 as u64 } else { i as u32 as u64 };
                self.blind_into(S0, v);
                Src::R(S0)
            }
            Operand::Imm(i) => Src::I(i),
        }
    }

    /// Loads the constant `v` into `dst`, blinded when the option is on.
    fn blind_into(&mut self, dst: X, v: u64) {
        if !self.opts.constant_blinding {
            self.a.mov_ri(dst, v);
            return;
        }
        let key = self.next_rand();
        if dst != S2 {
            self.a.mov_ri(S2, key);
            self.a.mov_ri(dst, v ^ key);
            self.a.alu_rr(true, Alu::Xor, dst, S2);
        } else {
            self.a.mov_ri(S1, key);
            self.a.mov_ri(dst, v ^ key);
            self.a.alu_rr(true, Alu::Xor, dst, S1);
        }
    }

    fn mov_imm(&mut self, d: X, v: u64) {
        if self.opts.constant_blinding && v > 0xff && v < u64::MAX - 0xff {
            self.blind_into(d, v);
        } else if v == 0 {
            self.a.zero(d);
        } else {
            self.a.mov_ri(d, v);
        }
    }

    // ------------------------------------------------------------------ prologue

    fn prologue(&mut self) {
        for &r in &self.saves.clone() {
            self.a.push(r);
        }
        let need_state = self.saves.contains(&ST);
        if need_state {
            self.a.mov_rr(true, ST, X::R9);
        }
        // Reserve the area in steps of at most a page, touching each step so a guard page
        // is never skipped.
        let mut left = self.sub_rsp;
        while left > 0 {
            let step = left.min(4096);
            self.a.alu_ri(true, Alu::Sub, X::Rsp, step as i32);
            if left > step || self.sub_rsp > 4096 {
                self.a.alu_mi(true, Alu::Or, Mem::b(X::Rsp, 0), 0);
            }
            left -= step;
        }
        if self.area > 0 {
            self.a.lea(X::Rbp, Mem::b(X::Rsp, self.area as i32));
            if need_state {
                self.a.store(st(OFF_STACK_TOP), X::Rbp, W::B64);
                self.a.store(st(OFF_STACK_LO), X::Rsp, W::B64);
            }
        }
        if need_state {
            self.a.store(st(OFF_MAIN_RSP), X::Rsp, W::B64);
            if self.an.dynamic_depth {
                self.a.lea(S2, Mem::b(X::Rsp, 2 * STACK_SIZE as i32));
                self.a.store(st(OFF_MIN_CALL_FP), S2, W::B64);
            }
        }
        if self.checked {
            // Checked programs may read what they never wrote: start from zeros, as the
            // interpreter does.
            if self.an.uses_r10 && self.area > 0 {
                // Only the outermost frame: callees zero theirs when called.
                self.zero_frame(self.an.frame_bytes);
            }
            // Registers the program may read before writing them start at zero (only
            // registers it uses at all: the others are not even saved).
            let live = self.an.live_at_entry & self.an.regs_used;
            for r in [0u8, 6, 7, 8, 9] {
                if live & (1 << r) != 0 {
                    self.a.zero(MAP[r as usize]);
                }
            }
        }
    }

    /// Zero-fills `[rbp - bytes, rbp)` (rounded up to 16 bytes; `rbp` is 16-byte
    /// aligned), clobbering xmm0 and r11: unrolled up to 256 bytes, else a loop of 32 bytes
    /// per iteration.
    fn zero_frame(&mut self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        self.a.buf.extend_from_slice(&[0x0f, 0x57, 0xc0]); // xorps xmm0, xmm0
        if bytes <= 256 {
            for off in (16..=bytes.next_multiple_of(16)).step_by(16) {
                // movaps [rbp - off], xmm0
                let d = -(off as i32);
                if d >= -128 {
                    self.a
                        .buf
                        .extend_from_slice(&[0x0f, 0x29, 0x45, d as i8 as u8]);
                } else {
                    self.a.buf.extend_from_slice(&[0x0f, 0x29, 0x85]);
                    self.a.buf.extend_from_slice(&d.to_le_bytes());
                }
            }
            return;
        }
        self.a
            .mov_ri(S2, (-(bytes.next_multiple_of(32) as i64)) as u64);
        let top = self.a.new_label();
        self.a.bind(top);
        // movaps [rbp + r11], xmm0 ; movaps [rbp + r11 + 16], xmm0
        self.a
            .buf
            .extend_from_slice(&[0x42, 0x0f, 0x29, 0x44, 0x1d, 0x00]);
        self.a
            .buf
            .extend_from_slice(&[0x42, 0x0f, 0x29, 0x44, 0x1d, 0x10]);
        self.a.alu_ri(true, Alu::Add, S2, 32);
        self.a.jcc(Cond::Ne, top);
    }

    fn epilogue(&mut self) {
        if self.sub_rsp > 0 {
            self.a.lea(X::Rsp, Mem::b(X::Rsp, self.sub_rsp as i32));
        }
        for &r in self.saves.clone().iter().rev() {
            self.a.pop(r);
        }
        self.a.ret();
    }

    // ------------------------------------------------------------------ memory

    /// Emits the checks for an access of `size` at `base + off` and returns the operand.
    fn mem(&mut self, i: usize, base: Reg, off: i16, size: Size, write: bool) -> Mem {
        let frame = base == Reg::R10 && in_frame(off, size);
        self.mem_at(i, Mem::b(xr(base), off as i32), frame, size, write)
    }

    /// Emits the checks for an access of `size` at `m` (constant offsets into the current
    /// frame, `frame`, need none) and returns the operand.
    fn mem_at(&mut self, i: usize, m: Mem, frame: bool, size: Size, write: bool) -> Mem {
        if !self.checked || frame {
            return m;
        }
        let bytes = size.bytes() as i32;
        if !self.individual && self.group_of.get(i).is_some_and(|&g| g != NO_GROUP) {
            // Covered by its group's check.
            return m;
        }
        let stack = match m {
            Mem::Base { base, .. } => self.stack_guess(i, base),
            Mem::Rip(_) => false,
        };
        let site = self.sites.len() as u32;
        self.sites.push(Site::Mem {
            pc: self.pc(i) as u32,
            size: bytes as u8,
            write,
            stack,
        });
        let slow = self.a.new_label();
        let back = self.a.new_label();
        self.a.lea(S2, m);
        self.uses_caches = true;
        let (start, lim) = Self::cache(write, stack);
        self.a.alu_rm(true, Alu::Sub, S2, st(start));
        self.a
            .alu_rm(true, Alu::Cmp, S2, st(lim + 8 * log2_size(size)));
        self.a.jcc(Cond::Ae, slow);
        self.a.bind(back);
        self.stubs.push(Stub::MemSlow {
            label: slow,
            back,
            addr: m,
            site,
        });
        m
    }

    /// True when the x86 register `base` probably points into the stack at instruction `i`
    /// (see `Analysis::stack_ptr`): its accesses use the stack cache.
    fn stack_guess(&self, i: usize, base: X) -> bool {
        let Some(r) = MAP.iter().position(|&x| x == base) else {
            return false;
        };
        self.an.stack_ptr.get(i).is_some_and(|&s| s & (1 << r) != 0)
    }

    /// State offsets of the cache an access uses: (start, limits).
    fn cache(write: bool, stack: bool) -> (i32, i32) {
        if stack {
            (OFF_SC_START, OFF_SC_LIM)
        } else if write {
            (OFF_WC_START, OFF_WC_LIM)
        } else {
            (OFF_RC_START, OFF_RC_LIM)
        }
    }

    /// Alignment check of an atomic access (checked mode), after `mem`.
    fn align_check(&mut self, i: usize, base: Reg, off: i16, size: Size) {
        if !self.checked || size == Size::B {
            return;
        }
        let site = self.sites.len() as u32;
        self.sites.push(Site::Mem {
            pc: self.pc(i) as u32,
            size: size.bytes() as u8,
            write: true,
            stack: false,
        });
        let l = self.a.new_label();
        self.a.lea(S2, Mem::b(xr(base), off as i32));
        self.a.test_ri(false, S2, size.bytes() as i32 - 1);
        self.a.jcc(Cond::Ne, l);
        self.stubs.push(Stub::Misaligned { label: l, site });
    }

    // ------------------------------------------------------------------ ALU

    /// `d *= imm` with `lea`/`shl` for 2, 3, 4, 5, 8, 9 (one cycle instead of three).
    fn mul_imm(&mut self, w: bool, d: X, imm: i32) {
        let m = |d: X, scale: u8| Mem::bi(d, d, scale, 0);
        let lea = |a: &mut Asm, mem: Mem| {
            if w {
                a.lea(d, mem)
            } else {
                a.lea32(d, mem)
            }
        };
        match imm {
            2 => lea(&mut self.a, m(d, 1)),
            3 => lea(&mut self.a, m(d, 2)),
            5 => lea(&mut self.a, m(d, 4)),
            9 => lea(&mut self.a, m(d, 8)),
            4 => self.a.shift_ri(w, Shift::Shl, d, 2),
            8 => self.a.shift_ri(w, Shift::Shl, d, 3),
            _ => self.a.imul_rri(w, d, d, imm),
        }
    }

    fn zext32(&mut self, d: X) {
        self.a.mov_rr(false, d, d);
    }

    fn alu(&mut self, w: bool, op: AluOp, dst: Reg, src: Operand) {
        let d = xr(dst);
        match op {
            AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod => {
                return self.divmod(w, op, d, src);
            }
            AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => return self.shift(w, op, d, src),
            AluOp::Mov => {
                match src {
                    Operand::Reg(s) => {
                        if w {
                            if s != dst {
                                self.a.mov_rr(true, d, xr(s));
                            }
                        } else if s != dst || self.zext & (1 << dst.num()) == 0 {
                            self.a.mov_rr(false, d, xr(s));
                        }
                    }
                    Operand::Imm(i) => {
                        let v = if w { i as i64 as u64 } else { i as u32 as u64 };
                        self.mov_imm(d, v);
                    }
                }
                return;
            }
            AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 => {
                let wd = match op {
                    AluOp::MovSx8 => W::B8,
                    AluOp::MovSx16 => W::B16,
                    _ => W::B32,
                };
                match src {
                    Operand::Reg(s) => {
                        if wd == W::B32 && !w {
                            self.a.mov_rr(false, d, xr(s));
                        } else {
                            self.a.movsx_rr(w, d, xr(s), wd)
                        }
                    }
                    Operand::Imm(i) => {
                        let v = match wd {
                            W::B8 => i as i8 as i64,
                            W::B16 => i as i16 as i64,
                            _ => i as i64,
                        };
                        let v = if w { v as u64 } else { v as u32 as u64 };
                        self.mov_imm(d, v);
                    }
                }
                return;
            }
            _ => {}
        }
        let s = self.src(src, w);
        let x = match op {
            AluOp::Add => Alu::Add,
            AluOp::Sub => Alu::Sub,
            AluOp::Or => Alu::Or,
            AluOp::And => Alu::And,
            AluOp::Xor => Alu::Xor,
            _ => {
                // Mul
                match s {
                    Src::R(r) => self.a.imul_rr(w, d, r),
                    Src::I(i) => self.mul_imm(w, d, i),
                }
                return;
            }
        };
        match s {
            Src::R(r) => {
                if x == Alu::Xor && r == d {
                    self.a.zero(d);
                } else {
                    self.a.alu_rr(w, x, d, r);
                    self.flags_next = Some((d, w));
                }
            }
            Src::I(0) if matches!(x, Alu::Add | Alu::Sub | Alu::Or | Alu::Xor) => {
                if !w {
                    self.zext32(d);
                }
            }
            Src::I(0) if x == Alu::And => self.a.zero(d),
            Src::I(-1) if x == Alu::And => {
                if !w {
                    self.zext32(d);
                }
            }
            Src::I(i) => {
                self.a.alu_ri(w, x, d, i);
                self.flags_next = Some((d, w));
            }
        }
    }

    fn shift(&mut self, w: bool, op: AluOp, d: X, src: Operand) {
        let sh = match op {
            AluOp::Lsh => Shift::Shl,
            AluOp::Rsh => Shift::Shr,
            _ => Shift::Sar,
        };
        let mask = if w { 63 } else { 31 };
        match src {
            Operand::Imm(i) => {
                let k = (i as u32 & mask) as u8;
                if k == 0 {
                    if !w {
                        self.zext32(d);
                    }
                } else {
                    self.a.shift_ri(w, sh, d, k);
                }
            }
            Operand::Reg(s) => {
                let c = xr(s);
                if self.opts.cpu.bmi2 {
                    self.a.shiftx(w, sh, d, d, c);
                } else if c == X::Rcx {
                    self.a.shift_rcl(w, sh, d);
                } else {
                    // rcx is eBPF r4: park it in r11, shift, restore (when d is rcx the
                    // shifted value is r11's, which the final move puts in place).
                    self.a.mov_rr(true, S2, X::Rcx);
                    self.a.mov_rr(true, X::Rcx, c);
                    let t = if d == X::Rcx { S2 } else { d };
                    self.a.shift_rcl(w, sh, t);
                    self.a.mov_rr(true, X::Rcx, S2);
                }
            }
        }
    }

    fn divmod(&mut self, w: bool, op: AluOp, d: X, src: Operand) {
        let signed = matches!(op, AluOp::SDiv | AluOp::SMod);
        let is_mod = matches!(op, AluOp::Mod | AluOp::SMod);
        let mut known_nonzero = false;
        let mut known_not_m1 = false;
        let v: X = match src {
            Operand::Imm(i) => {
                let val = if w { i as i64 as u64 } else { i as u32 as u64 };
                let m1 = if w { u64::MAX } else { u32::MAX as u64 };
                if val == 0 {
                    // Division by zero gives 0; modulo by zero leaves dst (zero-extended
                    // for 32 bits).
                    if !is_mod {
                        self.a.zero(d);
                    } else if !w {
                        self.zext32(d);
                    }
                    return;
                }
                if signed && val == m1 {
                    if is_mod {
                        self.a.zero(d);
                    } else {
                        self.a.unary(w, Unary::Neg, d);
                    }
                    return;
                }
                if !signed && val.is_power_of_two() && !self.opts.constant_blinding {
                    let k = val.trailing_zeros() as u8;
                    if is_mod {
                        self.a.alu_ri(w, Alu::And, d, (val - 1) as i32);
                    } else if k > 0 {
                        self.a.shift_ri(w, Shift::Shr, d, k);
                    } else if !w {
                        self.zext32(d);
                    }
                    return;
                }
                if !signed && !is_mod && !self.opts.constant_blinding {
                    if let Some(()) = self.udiv_magic(w, d, val) {
                        return;
                    }
                }
                self.blind_into(S0, val);
                known_nonzero = true;
                known_not_m1 = true;
                S0
            }
            Operand::Reg(s) => {
                let s = xr(s);
                if s == X::Rax || s == X::Rdx {
                    self.a.mov_rr(true, S0, s);
                    S0
                } else {
                    s
                }
            }
        };
        let done = self.a.new_label();
        let zero_case = self.a.new_label();
        let m1_case = self.a.new_label();
        if !known_nonzero {
            self.a.test_rr(w, v, v);
            self.a.jcc_short(Cond::E, zero_case);
        }
        if signed && !known_not_m1 {
            self.a.alu_ri(w, Alu::Cmp, v, -1);
            self.a.jcc_short(Cond::E, m1_case);
        }
        if d != X::Rax {
            self.a.mov_rr(true, S1, X::Rax);
        }
        if d != X::Rdx {
            self.a.mov_rr(true, S2, X::Rdx);
        }
        if d != X::Rax {
            self.a.mov_rr(true, X::Rax, d);
        }
        if signed {
            self.a.cdq(w);
        } else {
            self.a.zero(X::Rdx);
        }
        self.a
            .unary(w, if signed { Unary::Idiv } else { Unary::Div }, v);
        let res = if is_mod { X::Rdx } else { X::Rax };
        if d != res {
            self.a.mov_rr(true, d, res);
        }
        if d != X::Rax {
            self.a.mov_rr(true, X::Rax, S1);
        }
        if d != X::Rdx {
            self.a.mov_rr(true, X::Rdx, S2);
        }
        if known_nonzero && (!signed || known_not_m1) {
            return;
        }
        self.a.jmp_short(done);
        if !known_nonzero {
            self.a.bind(zero_case);
            if !is_mod {
                self.a.zero(d);
            } else if !w {
                self.zext32(d);
            }
            if signed && !known_not_m1 {
                self.a.jmp_short(done);
            }
        }
        if signed && !known_not_m1 {
            self.a.bind(m1_case);
            if is_mod {
                self.a.zero(d);
            } else {
                self.a.unary(w, Unary::Neg, d);
            }
        }
        self.a.bind(done);
    }

    /// Unsigned division by a constant that is not a power of two, as a multiplication by
    /// a fixed-point reciprocal (Granlund–Montgomery). `None` when the constant needs the
    /// slow form.
    fn udiv_magic(&mut self, w: bool, d: X, val: u64) -> Option<()> {
        if !w {
            // 32-bit: q = (x * m) >> (32 + s) with a 33-bit m, computed in 64 bits.
            let dv = val as u32 as u64;
            let l = 64 - (dv - 1).leading_zeros() as u64; // ceil(log2 d)
                                                          // m = floor(2^(32+l) / d) + 1, fits in 33 bits.
                                                          // For d not a power of two, 2^32 < m < 2^33: with m = 2^32 + m',
                                                          // q = (x + ((x * m') >> 32)) >> l, all in 64 bits (x < 2^32: no overflow).
            let m = ((1u128 << (32 + l)) / dv as u128 + 1) as u64;
            let mp = m - (1u64 << 32);
            self.a.mov_rr(false, d, d);
            self.a.mov_ri(S0, mp);
            self.a.imul_rr(true, S0, d);
            self.a.shift_ri(true, Shift::Shr, S0, 32);
            self.a.alu_rr(true, Alu::Add, d, S0);
            self.a.shift_ri(true, Shift::Shr, d, l as u8);
            return Some(());
        }
        // 64-bit: needs the high half of a 64x64 multiplication (mul uses rax:rdx).
        let dv = val;
        if dv > (1u64 << 63) {
            // q is 0 or 1: q = x >= d.
            self.a.mov_ri(S0, dv);
            self.a.alu_rr(true, Alu::Cmp, d, S0);
            // setae would need a byte register; use sbb trick: q = !(x < d) = 1 - borrow.
            self.a.alu_rr(true, Alu::Sbb, d, d); // d = x < dv ? -1 : 0
            self.a.alu_ri(true, Alu::Add, d, 1); // 0 or 1
            return Some(());
        }
        let l = 64 - (dv - 1).leading_zeros() as u64; // ceil(log2 d), 2..=63
                                                      // m = floor(2^(64+l) / d) + 1 has 65 bits; m' is its low 64.
        let mp = ((1u128 << (64 + l)) / dv as u128 + 1 - (1u128 << 64)) as u64;
        // t = mulhi(x, m'); q = (t + ((x - t) >> 1)) >> (l - 1)
        if d != X::Rax {
            self.a.mov_rr(true, S1, X::Rax);
        }
        if d != X::Rdx {
            self.a.mov_rr(true, S2, X::Rdx);
        }
        self.a.mov_rr(true, S0, d);
        self.a.mov_ri(X::Rax, mp);
        self.a.unary(true, Unary::Mul, S0); // rdx = t
        self.a.alu_rr(true, Alu::Sub, S0, X::Rdx);
        self.a.shift_ri(true, Shift::Shr, S0, 1);
        self.a.alu_rr(true, Alu::Add, S0, X::Rdx);
        self.a.shift_ri(true, Shift::Shr, S0, (l - 1) as u8);
        self.a.mov_rr(true, d, S0);
        if d != X::Rax {
            self.a.mov_rr(true, X::Rax, S1);
        }
        if d != X::Rdx {
            self.a.mov_rr(true, X::Rdx, S2);
        }
        Some(())
    }

    // ------------------------------------------------------------------ memory insns

    fn load(&mut self, i: usize, size: Size, sx: bool, dst: Reg, src: Reg, off: i16) {
        let m = self.mem(i, src, off, size, false);
        self.load_from(size, sx, dst, m);
    }

    fn load_from(&mut self, size: Size, sx: bool, dst: Reg, m: Mem) {
        let d = xr(dst);
        if sx {
            self.a.load_sx(d, m, width_of(size));
        } else {
            self.a.load(d, m, width_of(size));
        }
    }

    fn store(&mut self, i: usize, size: Size, dst: Reg, off: i16, src: Operand) {
        let frame = dst == Reg::R10 && in_frame(off, size);
        self.store_to(i, size, Mem::b(xr(dst), off as i32), frame, src);
    }

    fn store_to(&mut self, i: usize, size: Size, addr: Mem, frame: bool, src: Operand) {
        // Resolve (and blind) the immediate before the check: both use scratch registers
        // the other does not touch (S0 vs S2).
        let s = match src {
            Operand::Reg(r) => Src::R(xr(r)),
            Operand::Imm(v) if self.opts.constant_blinding => {
                self.blind_into(S0, v as i64 as u64);
                Src::R(S0)
            }
            Operand::Imm(v) => Src::I(v),
        };
        let m = self.mem_at(i, addr, frame, size, true);
        match s {
            Src::R(r) => self.a.store(m, r, width_of(size)),
            Src::I(v) => self.a.store_imm(m, v, width_of(size)),
        }
    }

    fn atomic(&mut self, i: usize, size: Size, op: AtomicOp, dst: Reg, src: Reg, off: i16) {
        let w = size == Size::DW;
        match op {
            AtomicOp::LoadAcquire => {
                // x86 loads are acquire loads (TSO).
                let m = self.mem(i, src, off, size, false);
                self.align_check(i, src, off, size);
                self.a.load(xr(dst), m, width_of(size));
                return;
            }
            AtomicOp::StoreRelease => {
                // x86 stores are release stores (TSO).
                let m = self.mem(i, dst, off, size, true);
                self.align_check(i, dst, off, size);
                self.a.store(m, xr(src), width_of(size));
                return;
            }
            _ => {}
        }
        let m = self.mem(i, dst, off, size, true);
        self.align_check(i, dst, off, size);
        let s = xr(src);
        // Every lock-prefixed instruction is a full barrier: sequentially consistent, as
        // Linux requires of BPF atomics.
        match op {
            AtomicOp::Add { fetch: false } => self.a.lock_alu_mr(w, Alu::Add, m, s),
            AtomicOp::Or { fetch: false } => self.a.lock_alu_mr(w, Alu::Or, m, s),
            AtomicOp::And { fetch: false } => self.a.lock_alu_mr(w, Alu::And, m, s),
            AtomicOp::Xor { fetch: false } => self.a.lock_alu_mr(w, Alu::Xor, m, s),
            AtomicOp::Add { fetch: true } => self.a.lock_xadd(w, m, s),
            AtomicOp::Xchg => self.a.xchg_mr(w, m, s),
            AtomicOp::CmpXchg => {
                self.a.lock_cmpxchg(w, m, s);
                if !w {
                    // On success the 32-bit cmpxchg leaves rax's upper half alone; the
                    // result must be zero-extended.
                    self.zext32(X::Rax);
                }
            }
            AtomicOp::Or { fetch: true }
            | AtomicOp::And { fetch: true }
            | AtomicOp::Xor { fetch: true } => {
                let alu = match op {
                    AtomicOp::Or { .. } => Alu::Or,
                    AtomicOp::And { .. } => Alu::And,
                    _ => Alu::Xor,
                };
                // cmpxchg loop on rax: r9 = address, r10 = saved r0 (and the operand when
                // src is r0), r11 = new value.
                self.a.lea(S0, m);
                self.a.mov_rr(true, S1, X::Rax);
                let operand = if s == X::Rax { S1 } else { s };
                let am = Mem::b(S0, 0);
                self.a.load(X::Rax, am, if w { W::B64 } else { W::B32 });
                let top = self.a.new_label();
                self.a.bind(top);
                self.a.mov_rr(true, S2, X::Rax);
                self.a.alu_rr(w, alu, S2, operand);
                self.a.lock_cmpxchg(w, am, S2);
                self.a.jcc(Cond::Ne, top);
                // src = old value (zero-extended for 32 bits).
                self.a.mov_rr(w, s, X::Rax);
                if s != X::Rax {
                    self.a.mov_rr(true, X::Rax, S1);
                }
            }
            AtomicOp::LoadAcquire | AtomicOp::StoreRelease => {}
        }
    }

    // ------------------------------------------------------------------ jumps

    fn cond(op: JmpOp) -> Cond {
        match op {
            JmpOp::Eq => Cond::E,
            JmpOp::Ne | JmpOp::Set => Cond::Ne,
            JmpOp::Gt => Cond::A,
            JmpOp::Ge => Cond::Ae,
            JmpOp::Lt => Cond::B,
            JmpOp::Le => Cond::Be,
            JmpOp::Sgt => Cond::G,
            JmpOp::Sge => Cond::Ge,
            JmpOp::Slt => Cond::L,
            JmpOp::Sle => Cond::Le,
        }
    }

    /// Emits the comparison of a conditional jump; returns the condition that jumps.
    fn compare(&mut self, w: bool, op: JmpOp, dst: Reg, src: Operand) -> Cond {
        let d = xr(dst);
        let s = self.src(src, w);
        match (op, s) {
            (JmpOp::Set, Src::R(r)) => self.a.test_rr(w, d, r),
            (JmpOp::Set, Src::I(v)) => self.a.test_ri(w, d, v),
            (JmpOp::Eq | JmpOp::Ne, Src::I(0)) => {
                if self.flags != Some((d, w)) {
                    self.a.test_rr(w, d, d);
                }
            }
            // Unsigned x > 0 is x != 0; x <= 0 is x == 0.
            (JmpOp::Gt, Src::I(0)) => {
                self.a.test_rr(w, d, d);
                return Cond::Ne;
            }
            (JmpOp::Le, Src::I(0)) => {
                self.a.test_rr(w, d, d);
                return Cond::E;
            }
            // Signed comparisons with 0 only need the sign flag of `test`.
            (JmpOp::Slt, Src::I(0)) => {
                if self.flags != Some((d, w)) {
                    self.a.test_rr(w, d, d);
                }
                return Cond::S;
            }
            (JmpOp::Sge, Src::I(0)) => {
                if self.flags != Some((d, w)) {
                    self.a.test_rr(w, d, d);
                }
                return Cond::Ns;
            }
            (_, Src::R(r)) => self.a.alu_rr(w, Alu::Cmp, d, r),
            (_, Src::I(v)) => self.a.alu_ri(w, Alu::Cmp, d, v),
        }
        Self::cond(op)
    }

    // ------------------------------------------------------------------ calls

    /// A helper, external or `callx` call through the trampoline. The trampoline returns
    /// `r0` in `rax` and in `rdx` 0 (go on), 1 (the run failed) or 2 (the helper requested
    /// a tail call, which ran: the current function returns `rax`).
    fn helper_call(&mut self, i: usize, site: Site, callx: Option<X>) {
        let idx = self.sites.len() as i32;
        self.sites.push(site);
        if let Some(r) = callx {
            self.a.store(st(OFF_CALLX), r, W::B64);
        }
        if self.area > 0 {
            self.a.store(st(OFF_CUR_FP), X::Rbp, W::B64);
        }
        // Unverified programs may read r1-r5 after a call, and get them unchanged, as in
        // the interpreter: checked code keeps those that are read afterwards.
        let keep: Vec<X> = if self.checked {
            let live = self.an.live_out.get(i).copied().unwrap_or(0x3ff);
            (1..=5)
                .filter(|r| live & (1 << r) != 0)
                .map(|r| MAP[r])
                .collect()
        } else {
            Vec::new()
        };
        // The trampoline is a C function: rsp % 16 == 0 at the call.
        let pad = keep.len() % 2 == 1;
        for &r in &keep {
            self.a.push(r);
        }
        if pad {
            self.a.lea(X::Rsp, Mem::b(X::Rsp, -8));
        }
        self.a.store_imm(st(OFF_SITE), idx, W::B32);
        self.a.mov_rr(true, X::R9, ST);
        self.a.call_m(Mem::Rip(self.l_pool_tramp));
        self.a.test_rr(true, X::Rdx, X::Rdx);
        let l = self.a.new_label();
        self.a.jcc(Cond::Ne, l);
        if pad {
            self.a.lea(X::Rsp, Mem::b(X::Rsp, 8));
        }
        for &r in keep.iter().rev() {
            self.a.pop(r);
        }
        self.stubs.push(Stub::HelperExit {
            label: l,
            index: i as u32,
            pushed: (keep.len() + pad as usize) as i32 * 8,
        });
    }

    /// A bpf-to-bpf call made by instruction `i`.
    fn local_call(&mut self, i: usize, callee: Callee) {
        let mask = match callee {
            Callee::Insn(t) => self.an.clobbers[t],
            Callee::Indirect => 0xf,
        };
        let saved: Vec<X> = (0..4)
            .filter(|k| mask & (1 << k) != 0)
            .map(|k| MAP[6 + k])
            .collect();
        for &r in &saved {
            self.a.push(r);
        }
        // After the pushes and the return address the callee must see rsp % 16 == 0.
        let pad = saved.len().is_multiple_of(2);
        if pad {
            self.a.lea(X::Rsp, Mem::b(X::Rsp, -8));
        }
        if self.an.dynamic_depth {
            let l = self.a.new_label();
            self.a.alu_rm(true, Alu::Cmp, X::Rbp, st(OFF_MIN_CALL_FP));
            self.a.jcc(Cond::B, l);
            self.stubs.push(Stub::CallDepth {
                label: l,
                index: i as u32,
            });
        }
        if self.area > 0 {
            self.a.lea(X::Rbp, Mem::b(X::Rbp, -(STACK_SIZE as i32)));
            if self.checked && self.an.uses_r10 {
                // Each frame starts zeroed, as in the interpreter.
                self.zero_frame(self.an.frame_bytes);
            }
        }
        match callee {
            Callee::Insn(t) => {
                let target = self.label(t);
                self.a.call(target);
            }
            Callee::Indirect => self.a.call_r(S1),
        }
        if self.area > 0 {
            self.a.lea(X::Rbp, Mem::b(X::Rbp, STACK_SIZE as i32));
        }
        if self.checked {
            let skip = self.a.new_label();
            self.a.alu_mi(true, Alu::Cmp, st(OFF_STACK_CACHED), 0);
            self.a.jcc_short(Cond::E, skip);
            self.a.call(self.l_uncache);
            self.a.bind(skip);
        }
        if pad {
            self.a.lea(X::Rsp, Mem::b(X::Rsp, 8));
        }
        for &r in saved.iter().rev() {
            self.a.pop(r);
        }
    }

    /// `exit` of instruction `i`: `ret` from a callee, the epilogue (or a jump to it when
    /// `inline_epilogue` is false) from the outermost frame, a run-time choice when the
    /// instruction runs in both.
    fn exit_seq(&mut self, i: usize, inline_epilogue: bool) {
        let c = self.an.ctx[i];
        if c == IN_SUB {
            self.a.ret();
        } else if c == IN_MAIN {
            if inline_epilogue {
                self.epilogue();
            } else {
                self.a.jmp(self.l_main_exit);
            }
        } else {
            self.a.alu_rm(true, Alu::Cmp, X::Rsp, st(OFF_MAIN_RSP));
            self.a.jcc(Cond::E, self.l_main_exit);
            self.a.ret();
        }
    }

    fn exit(&mut self, i: usize) {
        self.exit_seq(i, true);
    }

    // ------------------------------------------------------------------ packets

    /// Legacy packet load: `r0 = ntoh(*(size *)(pkt + offset))`; an out-of-bounds offset
    /// ends the program with `r0 = 0`, as in Linux.
    fn packet(&mut self, mode: PacketMode, size: Size, imm: i32) {
        let n = size.bytes() as i32;
        match mode {
            PacketMode::Abs => self.a.mov_ri(S2, imm as i64 as u64),
            PacketMode::Ind(r) => {
                // src + imm as a signed 32-bit value, as Linux computes it.
                self.a.lea32(S2, Mem::b(xr(r), imm));
                self.a.movsx_rr(true, S2, S2, W::B32);
            }
        }
        // offset <= len - n (unsigned), with len >= n
        self.a.load(S1, st(OFF_PKT_LEN), W::B64);
        self.a.alu_ri(true, Alu::Sub, S1, n);
        self.a.jcc(Cond::B, self.l_pkt_oob);
        self.a.alu_rr(true, Alu::Cmp, S2, S1);
        self.a.jcc(Cond::A, self.l_pkt_oob);
        self.a.alu_rm(true, Alu::Add, S2, st(OFF_PKT_DATA));
        let m = Mem::b(S2, 0);
        match size {
            Size::B => self.a.load(X::Rax, m, W::B8),
            Size::H => {
                self.a.load(X::Rax, m, W::B16);
                self.a.rol16_8(X::Rax);
                self.a.movzx_rr(X::Rax, X::Rax, W::B16);
            }
            _ => {
                self.a.load(X::Rax, m, W::B32);
                self.a.bswap(false, X::Rax);
            }
        }
    }

    // ------------------------------------------------------------------ one instruction

    /// Updates the known-zero-extended set after instruction `insn`.
    fn track_zext(&mut self, insn: &Insn) {
        let bit = |r: Reg| 1u16 << r.num();
        match *insn {
            Insn::Alu {
                width: Width::W32,
                dst,
                ..
            }
            | Insn::Neg {
                width: Width::W32,
                dst,
            } => self.zext |= bit(dst),
            Insn::Load {
                dst,
                sign_extend: false,
                size,
                ..
            } if size != Size::DW => self.zext |= bit(dst),
            Insn::Endian { dst, bits, .. } if bits < 64 => self.zext |= bit(dst),
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Rsh,
                dst,
                src: Operand::Imm(k),
            } if (k & 63) >= 32 => self.zext |= bit(dst),
            Insn::Alu {
                width: Width::W64,
                op: AluOp::And,
                dst,
                src: Operand::Imm(k),
            } if k >= 0 => self.zext |= bit(dst),
            _ => {
                if let Some(r) = insn.written_reg() {
                    self.zext &= !bit(r);
                }
                if matches!(insn, Insn::Call(_) | Insn::CallX { .. }) {
                    self.zext = 0;
                }
                if matches!(insn, Insn::LoadPacket { .. }) {
                    self.zext |= 1;
                }
            }
        }
    }

    /// True when instructions `i..i + n` run straight through: no jump lands inside, all
    /// in the same kind of frame.
    fn straight(&self, i: usize, n: usize) -> bool {
        i + n <= self.insns.len()
            && (i + 1..i + n).all(|k| {
                !self.an.target[k] && !self.an.leader[k] && self.an.ctx[k] == self.an.ctx[i]
            })
    }

    /// True when `r` may be read after instruction `i`.
    fn live_after(&self, i: usize, r: Reg) -> bool {
        self.an
            .live_out
            .get(i)
            .is_none_or(|&l| l & (1 << r.num()) != 0)
    }

    /// Tries a peephole pattern at `i`; returns how many instructions it consumed (0 when
    /// none applies).
    fn fuse(&mut self, i: usize) -> usize {
        if let Some(n) = self.rotate(i) {
            return n;
        }
        if let Some(n) = self.address(i) {
            return n;
        }
        if self.fuse2(i) {
            for k in [i, i + 1] {
                let insn = self.insns[k];
                self.track_zext(&insn);
            }
            2
        } else {
            0
        }
    }

    /// The rotate idiom clang emits for `(x << n) | (x >> (64 - n))` (or 32 bits):
    /// `rB = rA; rB >>= k; rA <<= n; rA |= rB` with `k + n` the width, shifts in either
    /// order, `|` (or `^`, `+`: the bits are disjoint) into either register. Becomes one
    /// `rol` (or `rorx` into the other register), plus the shifted copy when it is read
    /// later.
    fn rotate(&mut self, i: usize) -> Option<usize> {
        // Cheapest test first: the idiom starts with a register `mov`.
        if !matches!(
            self.insns[i],
            Insn::Alu {
                op: AluOp::Mov,
                src: Operand::Reg(_),
                ..
            }
        ) || !self.straight(i, 4)
        {
            return None;
        }
        let alu = |k: usize| match self.insns[k] {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => Some((width, op, dst, src)),
            _ => None,
        };
        let (w0, op0, b, s0) = alu(i)?;
        let (w1, op1, b1, s1) = alu(i + 1)?;
        let (w2, op2, a2, s2) = alu(i + 2)?;
        let (w3, op3, d3, s3) = alu(i + 3)?;
        let Operand::Reg(a) = s0 else { return None };
        let w = w0;
        if op0 != AluOp::Mov || a == b || [w1, w2, w3] != [w, w, w] || b1 != b || a2 != a {
            return None;
        }
        let bits = if w == Width::W64 { 64 } else { 32 };
        let (Operand::Imm(k1), Operand::Imm(k2)) = (s1, s2) else {
            return None;
        };
        let valid = |k: i32| k > 0 && k < bits;
        if !valid(k1) || !valid(k2) || k1 + k2 != bits {
            return None;
        }
        // Left-shift count of the combination: rotl(A, left).
        let left = match (op1, op2) {
            (AluOp::Rsh, AluOp::Lsh) => k2,
            (AluOp::Lsh, AluOp::Rsh) => k1,
            _ => return None,
        };
        if !matches!(op3, AluOp::Or | AluOp::Xor | AluOp::Add) {
            return None;
        }
        let into_a = match (d3, s3) {
            (d, Operand::Reg(s)) if d == a && s == b => true,
            (d, Operand::Reg(s)) if d == b && s == a => false,
            _ => return None,
        };
        let wide = w == Width::W64;
        let (xa, xb) = (xr(a), xr(b));
        let sh1 = if op1 == AluOp::Lsh {
            Shift::Shl
        } else {
            Shift::Shr
        };
        let sh2 = if op2 == AluOp::Lsh {
            Shift::Shl
        } else {
            Shift::Shr
        };
        if into_a {
            if self.live_after(i + 3, b) {
                self.a.mov_rr(wide, xb, xa);
                self.a.shift_ri(wide, sh1, xb, k1 as u8);
            }
            self.a.shift_ri(wide, Shift::Rol, xa, left as u8);
        } else {
            let right = ((bits - left) % bits) as u8;
            if self.live_after(i + 3, a) {
                self.a.mov_rr(wide, xb, xa);
                self.a.shift_ri(wide, Shift::Rol, xb, left as u8);
                self.a.shift_ri(wide, sh2, xa, k2 as u8);
            } else if self.opts.cpu.bmi2 {
                self.a.rorx(wide, xb, xa, right);
            } else {
                self.a.mov_rr(wide, xb, xa);
                self.a.shift_ri(wide, Shift::Rol, xb, left as u8);
            }
        }
        for k in i..i + 4 {
            let insn = self.insns[k];
            self.track_zext(&insn);
        }
        Some(4)
    }

    /// Address arithmetic: `rD = rX` followed by `rD += imm`, `rD += rI` or both (in that
    /// order), optionally preceded by `rI <<= s` (s in 1..=3, what clang emits for
    /// `&array[i]`), is one address expression `[rX + rI * 2^s + imm]`. Returns the
    /// destination, the expression, the instructions it spans, and the index register to
    /// shift in place first (when the shifted index is read later).
    fn address_expr(&self, i: usize) -> Option<AddressExpr> {
        if self.opts.constant_blinding {
            return None;
        }
        let alu64 = |k: usize| match self.insns.get(k) {
            Some(&Insn::Alu {
                width: Width::W64,
                op,
                dst,
                src,
            }) => Some((op, dst, src)),
            _ => None,
        };
        // Optional leading shift of the index.
        let (shift, at) = match alu64(i) {
            Some((AluOp::Lsh, ri, Operand::Imm(s))) if (1..=3).contains(&s) => {
                (Some((ri, s as u8)), i + 1)
            }
            _ => (None, i),
        };
        let Some((AluOp::Mov, rd, Operand::Reg(rx))) = alu64(at) else {
            return None;
        };
        if rd == rx {
            return None;
        }
        let mut disp = 0i32;
        let mut index: Option<Reg> = None;
        let mut k = at + 1;
        if let Some((AluOp::Add, d, Operand::Imm(v))) = alu64(k) {
            if d == rd {
                disp = v;
                k += 1;
            }
        }
        if let Some((AluOp::Add, d, Operand::Reg(r))) = alu64(k) {
            if d == rd {
                index = Some(if r == rd { rx } else { r });
                k += 1;
            }
        }
        let n = k - i;
        if n < 2 || !self.straight(i, n) {
            return None;
        }
        match (shift, index) {
            // The shift must be of the added index, which is neither rX nor rD.
            (Some((ri, s)), Some(idx)) if idx == ri && ri != rx && ri != rd => {
                let last = k - 1;
                if self.live_after(last, ri) {
                    Some((rd, Mem::bi(xr(rx), xr(ri), 1, disp), n, Some((ri, s))))
                } else {
                    Some((rd, Mem::bi(xr(rx), xr(ri), 1 << s, disp), n, None))
                }
            }
            (Some(_), _) => None,
            (None, Some(idx)) => Some((rd, Mem::bi(xr(rx), xr(idx), 1, disp), n, None)),
            (None, None) => Some((rd, Mem::b(xr(rx), disp), n, None)),
        }
    }

    /// An address expression (see [`Gen::address_expr`]) at `i`: into the memory access
    /// that follows when that is the only use of the address (one `mov` with a SIB
    /// operand), else into one `lea`.
    fn address(&mut self, i: usize) -> Option<usize> {
        let (rd, expr, n, shift) = self.address_expr(i)?;
        let k = i + n;
        // The access right after, through rD, rD not read afterwards.
        let fold = if self.straight(i, n + 1) {
            match self.insns[k] {
                Insn::Load { src, dst, off, .. }
                    if src == rd && (dst == rd || !self.live_after(k, rd)) =>
                {
                    Some(off)
                }
                Insn::Store { dst, off, src, .. }
                    if dst == rd && src != Operand::Reg(rd) && !self.live_after(k, rd) =>
                {
                    Some(off)
                }
                _ => None,
            }
        } else {
            None
        };
        // Grouped accesses are checked through their base register: keep it.
        let fold = fold.filter(|_| !self.checked || self.group_of[k] == NO_GROUP);
        let at = |m: Mem, off: i32| match m {
            Mem::Base { base, index, disp } => {
                disp.checked_add(off)
                    .map(|disp| Mem::Base { base, index, disp })
            }
            Mem::Rip(_) => None,
        };
        let folded = fold.and_then(|off| at(expr, off as i32).map(|m| (off, m)));
        if let Some((ri, s)) = shift {
            self.a.shift_ri(true, Shift::Shl, xr(ri), s);
        }
        match folded {
            Some((off, m)) => {
                // An address that is r10 plus a constant is a frame access when in range.
                let frame = matches!(expr, Mem::Base { base: X::Rbp, index: None, disp }
                if disp.checked_add(off as i32).is_some_and(|d| {
                    i16::try_from(d).is_ok_and(|d| in_frame(d, self.access_size(k)))
                }));
                match self.insns[k] {
                    Insn::Load {
                        size,
                        sign_extend,
                        dst,
                        ..
                    } => {
                        let m = self.mem_at(k, m, frame, size, false);
                        self.load_from(size, sign_extend, dst, m);
                    }
                    Insn::Store { size, src, .. } => self.store_to(k, size, m, frame, src),
                    _ => {}
                }
                for j in i..=k {
                    let insn = self.insns[j];
                    self.track_zext(&insn);
                }
                Some(n + 1)
            }
            None => {
                self.a.lea(xr(rd), expr);
                for j in i..k {
                    let insn = self.insns[j];
                    self.track_zext(&insn);
                }
                Some(n)
            }
        }
    }

    fn access_size(&self, k: usize) -> Size {
        match self.insns[k] {
            Insn::Load { size, .. } | Insn::Store { size, .. } => size,
            _ => Size::DW,
        }
    }

    /// Tries a two-instruction pattern at `i`; returns true when `i + 1` was consumed.
    fn fuse2(&mut self, i: usize) -> bool {
        // The patterns start with a `mov` or a `<<=` (cheaper to test than `straight`).
        if !matches!(
            self.insns[i],
            Insn::Alu {
                op: AluOp::Mov | AluOp::Lsh,
                ..
            }
        ) || !self.straight(i, 2)
        {
            return false;
        }
        let (a, b) = (self.insns[i], self.insns[i + 1]);
        match (a, b) {
            // mov rA, rB ; add rA, imm/rC  =>  lea rA, [rB + imm/rC]
            (
                Insn::Alu {
                    width: wa,
                    op: AluOp::Mov,
                    dst: ra,
                    src: Operand::Reg(rb),
                },
                Insn::Alu {
                    width: wb,
                    op: op2 @ (AluOp::Add | AluOp::Sub),
                    dst: ra2,
                    src: s2,
                },
            ) if wa == wb && ra == ra2 && ra != rb && !self.opts.constant_blinding => {
                let w = wa == Width::W64;
                let m = match (op2, s2) {
                    (AluOp::Add, Operand::Imm(v)) => Mem::b(xr(rb), v),
                    (AluOp::Sub, Operand::Imm(v)) if v != i32::MIN => Mem::b(xr(rb), -v),
                    (AluOp::Add, Operand::Reg(rc)) => {
                        let idx = if rc == ra { rb } else { rc };
                        Mem::bi(xr(rb), xr(idx), 1, 0)
                    }
                    _ => return false,
                };
                if w {
                    self.a.lea(xr(ra), m);
                } else {
                    self.a.lea32(xr(ra), m);
                }
                true
            }
            // r <<= 32 ; r >>= 32  =>  mov r32, r32 (zero-extension)
            // r <<= 32 ; r s>>= 32  =>  movsxd r, r32
            (
                Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Lsh,
                    dst: ra,
                    src: Operand::Imm(32),
                },
                Insn::Alu {
                    width: Width::W64,
                    op: op2 @ (AluOp::Rsh | AluOp::Arsh),
                    dst: ra2,
                    src: Operand::Imm(32),
                },
            ) if ra == ra2 => {
                let d = xr(ra);
                if op2 == AluOp::Rsh {
                    if self.zext & (1 << ra.num()) == 0 {
                        self.a.mov_rr(false, d, d);
                    }
                } else {
                    self.a.movsx_rr(true, d, d, W::B32);
                }
                true
            }
            _ => false,
        }
    }

    /// Compiles instruction `i` (and those a peephole pattern fuses with it); returns how
    /// many instructions were consumed.
    fn insn(&mut self, i: usize) -> R<usize> {
        let r = self.insn_inner(i);
        self.flags = self.flags_next.take();
        r
    }

    fn insn_inner(&mut self, i: usize) -> R<usize> {
        let insn = self.insns[i];
        let fused = self.fuse(i);
        if fused > 0 {
            return Ok(fused);
        }
        match insn {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => self.alu(width == Width::W64, op, dst, src),
            Insn::Neg { width, dst } => self.a.unary(width == Width::W64, Unary::Neg, xr(dst)),
            Insn::Endian { order, bits, dst } => {
                let d = xr(dst);
                match (order, bits) {
                    (ByteOrder::ToLe, 16) => self.a.movzx_rr(d, d, W::B16),
                    (ByteOrder::ToLe, 32) => {
                        if self.zext & (1 << dst.num()) == 0 {
                            self.zext32(d)
                        }
                    }
                    (ByteOrder::ToLe, _) => {}
                    (_, 16) => {
                        self.a.rol16_8(d);
                        self.a.movzx_rr(d, d, W::B16);
                    }
                    (_, 32) => self.a.bswap(false, d),
                    _ => self.a.bswap(true, d),
                }
            }
            Insn::AddrSpaceCast {
                dst, src, dst_as, ..
            } => {
                // Without arenas both address spaces are the host's: a cast to the user
                // address space (1) keeps the low 32 bits, the other way is a move.
                if dst_as == 1 {
                    self.a.mov_rr(false, xr(dst), xr(src));
                } else if dst != src {
                    self.a.mov_rr(true, xr(dst), xr(src));
                }
            }
            Insn::Load {
                size,
                sign_extend,
                dst,
                src,
                off,
            } => self.load(i, size, sign_extend, dst, src, off),
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => self.store(i, size, dst, off, src),
            Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            } => self.atomic(i, size, op, dst, src, off),
            Insn::LoadImm64 { dst, value } => match value {
                LoadImm64::Imm(v) => self.mov_imm(xr(dst), v),
                LoadImm64::CodeAddr(_) => {
                    let t = self.prog.branch_target(i).unwrap_or(0);
                    self.mov_imm(xr(dst), super::code_addr_value(self.prog.slot(t)));
                }
                _ => return self.refuse_unresolved(i),
            },
            Insn::LoadPacket { mode, size, imm } => self.packet(mode, size, imm),
            Insn::Ja { .. } => {
                let t = self.prog.branch_target(i).unwrap_or(i + 1);
                if t != i + 1 {
                    let l = self.label(t);
                    self.a.jmp(l);
                }
            }
            Insn::Jump {
                width,
                op,
                dst,
                src,
                ..
            } => {
                let t = self.prog.branch_target(i).unwrap_or(i + 1);
                if t != i + 1 {
                    let c = self.compare(width == Width::W64, op, dst, src);
                    let l = self.label(t);
                    self.a.jcc(c, l);
                }
            }
            Insn::MayGoto { .. } => {
                let t = self.prog.branch_target(i).unwrap_or(i + 1);
                let l = self.label(t);
                self.a.alu_mi(true, Alu::Cmp, st(OFF_MAY_GOTO), 0);
                self.a.jcc(Cond::E, l);
                self.a.alu_mi(true, Alu::Sub, st(OFF_MAY_GOTO), 1);
            }
            Insn::Call(CallTarget::Local(_)) => {
                let t = self.prog.branch_target(i).unwrap_or(0);
                self.local_call(i, Callee::Insn(t));
            }
            Insn::Call(CallTarget::Helper(id)) => {
                let idu = id as u32 as u64;
                let func = self.helpers.get(idu).map(|h| h.func.clone());
                self.helper_call(
                    i,
                    Site::Call {
                        pc: self.pc(i) as u32,
                        id: idu,
                        external: false,
                        func,
                    },
                    None,
                );
            }
            Insn::Call(CallTarget::External { id, .. }) => {
                let func = self.helpers.external(id).map(|h| h.func.clone());
                self.helper_call(
                    i,
                    Site::Call {
                        pc: self.pc(i) as u32,
                        id: id as i64 as u64,
                        external: true,
                        func,
                    },
                    None,
                );
            }
            Insn::CallX { reg } => self.callx(i, reg),
            Insn::Exit => self.exit(i),
        }
        self.track_zext(&insn);
        Ok(1)
    }

    /// `callx reg`: a register holding the code address of an instruction start
    /// (`CODE_ADDR_BASE + slot`) makes a bpf-to-bpf call to that instruction (programs
    /// with `callx` are compiled with every instruction as a possible entry, see
    /// [`Analysis::any_entry`]); any other value is a helper id, looked up at run time.
    fn callx(&mut self, i: usize, reg: Reg) {
        let r = xr(reg);
        let helper = self.a.new_label();
        let done = self.a.new_label();
        // S1 = reg - CODE_ADDR_BASE; below slot_count: the table gives the code offset
        // of the instruction at that slot (0: not an instruction start).
        self.a.mov_ri(S2, super::CODE_ADDR_BASE);
        self.a.mov_rr(true, S1, r);
        self.a.alu_rr(true, Alu::Sub, S1, S2);
        let slots = self.prog.slot_count().min(i32::MAX as usize) as i32;
        self.a.alu_ri(true, Alu::Cmp, S1, slots);
        self.a.jcc(Cond::Ae, helper);
        self.a.lea(S2, Mem::Rip(self.l_callx_table));
        self.a.load(S1, Mem::bi(S2, S1, 4, 0), W::B32);
        self.a.test_rr(false, S1, S1);
        self.a.jcc(Cond::E, helper);
        self.a.lea(S2, Mem::Rip(self.l_code_base));
        self.a.alu_rr(true, Alu::Add, S1, S2);
        self.local_call(i, Callee::Indirect);
        self.a.jmp(done);
        self.a.bind(helper);
        self.helper_call(
            i,
            Site::CallX {
                pc: self.pc(i) as u32,
            },
            Some(r),
        );
        self.a.bind(done);
    }

    // ------------------------------------------------------------------ if-conversion

    /// `if c goto T; <simple ALU ops>; goto T` (both paths meet at T) becomes the ALU ops on
    /// scratch copies, the compare, and a `cmov` per written register: no branch to
    /// mispredict. Returns the index of the `goto` when applied.
    fn if_convert(&mut self, i: usize) -> Option<usize> {
        if self.opts.constant_blinding || self.counted {
            return None;
        }
        let Insn::Jump {
            width,
            op,
            dst,
            src,
            ..
        } = self.insns[i]
        else {
            return None;
        };
        let t = self.prog.branch_target(i)?;
        if t == i + 1 {
            return None;
        }
        // Find the `goto T` ending a short straight-line run.
        let mut written: Vec<Reg> = Vec::new();
        let mut j = i + 1;
        loop {
            if j >= self.insns.len() || j > i + 7 || self.an.target[j] {
                return None;
            }
            if self.an.ctx[j] != self.an.ctx[i] {
                return None;
            }
            match self.insns[j] {
                Insn::Ja { .. } if self.prog.branch_target(j) == Some(t) => break,
                Insn::Alu {
                    op: aop,
                    dst: d,
                    src: s,
                    ..
                } if Self::speculable(aop, s, self.opts.cpu.bmi2) => {
                    if !written.contains(&d) {
                        written.push(d);
                    }
                }
                Insn::Neg { dst: d, .. } => {
                    if !written.contains(&d) {
                        written.push(d);
                    }
                }
                _ => return None,
            }
            j += 1;
        }
        if written.is_empty() || written.len() > 3 || (t > i && t <= j) {
            return None;
        }
        let scratch = [S0, S1, S2];
        let ren = |r: Reg| -> X {
            match written.iter().position(|&w| w == r) {
                Some(k) => scratch[k],
                None => xr(r),
            }
        };
        // Copy a register into its scratch only when the run reads it before writing it.
        for (k, &r) in written.iter().enumerate() {
            let mut read_first = false;
            for insn in &self.insns[i + 1..j] {
                let (reads_r, writes_r) = match *insn {
                    Insn::Alu {
                        op: aop,
                        dst: d,
                        src: sr,
                        ..
                    } => (
                        sr == Operand::Reg(r) || (d == r && aop != AluOp::Mov),
                        d == r,
                    ),
                    Insn::Neg { dst: d, .. } => (d == r, d == r),
                    _ => (false, false),
                };
                if reads_r {
                    read_first = true;
                    break;
                }
                if writes_r {
                    break;
                }
            }
            if read_first {
                self.a.mov_rr(true, scratch[k], xr(r));
            }
        }
        for k in i + 1..j {
            match self.insns[k] {
                Insn::Alu {
                    width: aw,
                    op: aop,
                    dst: d,
                    src: s,
                } => {
                    let w = aw == Width::W64;
                    let d = ren(d);
                    match (aop, s) {
                        (AluOp::Mov, Operand::Reg(r)) => self.a.mov_rr(w, d, ren(r)),
                        (AluOp::Mov, Operand::Imm(v)) => {
                            let v = if w { v as i64 as u64 } else { v as u32 as u64 };
                            self.a.mov_ri(d, v)
                        }
                        (AluOp::Mul, Operand::Reg(r)) => self.a.imul_rr(w, d, ren(r)),
                        (AluOp::Mul, Operand::Imm(v)) => self.mul_imm(w, d, v),
                        (AluOp::Lsh | AluOp::Rsh | AluOp::Arsh, s) => {
                            let sh = match aop {
                                AluOp::Lsh => Shift::Shl,
                                AluOp::Rsh => Shift::Shr,
                                _ => Shift::Sar,
                            };
                            match s {
                                Operand::Imm(v) => {
                                    let kk = (v as u32 & if w { 63 } else { 31 }) as u8;
                                    if kk == 0 {
                                        if !w {
                                            self.a.mov_rr(false, d, d);
                                        }
                                    } else {
                                        self.a.shift_ri(w, sh, d, kk);
                                    }
                                }
                                Operand::Reg(r) => self.a.shiftx(w, sh, d, d, ren(r)),
                            }
                        }
                        (aop, s) => {
                            let x = match aop {
                                AluOp::Add => Alu::Add,
                                AluOp::Sub => Alu::Sub,
                                AluOp::Or => Alu::Or,
                                AluOp::And => Alu::And,
                                _ => Alu::Xor,
                            };
                            match s {
                                Operand::Reg(r) => self.a.alu_rr(w, x, d, ren(r)),
                                Operand::Imm(v) => self.a.alu_ri(w, x, d, v),
                            }
                        }
                    }
                }
                Insn::Neg { width: nw, dst: d } => {
                    self.a.unary(nw == Width::W64, Unary::Neg, ren(d))
                }
                _ => {}
            }
        }
        self.flags = None;
        let c = self.compare(width == Width::W64, op, dst, src);
        for (k, &r) in written.iter().enumerate() {
            self.a.cmov(true, c.not(), xr(r), scratch[k]);
        }
        if t != j + 1 {
            let l = self.label(t);
            self.a.jmp(l);
        }
        self.zext = 0;
        Some(j)
    }

    /// `if c goto +1; goto T` becomes `if !c goto T`: one branch instead of two (clang emits
    /// this shape at the bottom of loops).
    fn branch_over_goto(&mut self, i: usize) -> bool {
        if self.counted || i + 1 >= self.insns.len() || self.an.target[i + 1] {
            return false;
        }
        let Insn::Jump {
            width,
            op,
            dst,
            src,
            ..
        } = self.insns[i]
        else {
            return false;
        };
        if !matches!(self.insns[i + 1], Insn::Ja { .. })
            || self.prog.branch_target(i) != Some(i + 2)
            || self.an.ctx[i + 1] != self.an.ctx[i]
        {
            return false;
        }
        let Some(t) = self.prog.branch_target(i + 1) else {
            return false;
        };
        let c = self.compare(width == Width::W64, op, dst, src);
        let l = self.label(t);
        self.a.jcc(c.not(), l);
        self.zext = 0;
        true
    }

    /// ALU operations that can run speculatively (no fault, no hidden register use).
    fn speculable(op: AluOp, src: Operand, bmi2: bool) -> bool {
        match op {
            AluOp::Add
            | AluOp::Sub
            | AluOp::Mul
            | AluOp::Or
            | AluOp::And
            | AluOp::Xor
            | AluOp::Mov => true,
            AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => bmi2 || matches!(src, Operand::Imm(_)),
            _ => false,
        }
    }

    // ------------------------------------------------------------------ driver

    /// Plans grouped checks (see [`Group`]) for every basic block.
    fn plan_groups(&mut self) {
        let n = self.insns.len();
        self.group_of = vec![NO_GROUP; n];
        self.need_label = vec![false; n];
        if !self.checked {
            return;
        }
        let mut start = 0;
        while start < n {
            let end = start + (self.an.block_len[start] as usize).max(1);
            if self.an.ctx[start] != 0 {
                self.plan_block(start, end.min(n));
            }
            start = end;
        }
    }

    fn plan_block(&mut self, start: usize, end: usize) {
        // Open group per (base register, value version): (first, lo, hi, write, members).
        struct Open {
            base: Reg,
            version: u32,
            first: usize,
            lo: i32,
            hi: i32,
            write: bool,
            members: Vec<usize>,
        }
        let mut version = [0u32; 11];
        let mut open: Vec<Open> = Vec::new();
        let mut done: Vec<Open> = Vec::new();
        for k in start..end {
            let insn = self.insns[k];
            let access = match insn {
                Insn::Load { src, off, size, .. } => Some((src, off, size, false)),
                Insn::Store { dst, off, size, .. } => Some((dst, off, size, true)),
                _ => None,
            };
            if let Some((base, off, size, write)) = access {
                let (off, bytes) = (off as i32, size.bytes() as i32);
                let in_frame = base == Reg::R10 && off >= -(STACK_SIZE as i32) && off + bytes <= 0;
                if !in_frame {
                    let v = version[base.index()];
                    match open.iter().position(|o| o.base == base && o.version == v) {
                        Some(p)
                            if open[p].hi.max(off + bytes) - open[p].lo.min(off)
                                <= MAX_GROUP_SPAN =>
                        {
                            let o = &mut open[p];
                            o.lo = o.lo.min(off);
                            o.hi = o.hi.max(off + bytes);
                            o.write |= write;
                            o.members.push(k);
                        }
                        p => {
                            if let Some(p) = p {
                                done.push(open.swap_remove(p));
                            }
                            open.push(Open {
                                base,
                                version: v,
                                first: k,
                                lo: off,
                                hi: off + bytes,
                                write,
                                members: vec![k],
                            });
                        }
                    }
                }
            }
            if let Some(r) = insn.written_reg() {
                version[r.index()] += 1;
            }
        }
        done.extend(open);
        let mut first_grouped = usize::MAX;
        for o in done.into_iter().filter(|o| o.members.len() >= 2) {
            let g = self.groups.len() as u32;
            for &m in &o.members {
                self.group_of[m] = g;
            }
            first_grouped = first_grouped.min(o.first);
            let slow = self.a.new_label();
            self.groups.push(Group {
                first: o.first,
                base: o.base,
                lo: o.lo,
                hi: o.hi,
                write: o.write,
                slow,
            });
        }
        if first_grouped != usize::MAX {
            self.slow_copies.push((first_grouped, end));
            if end < self.insns.len() {
                self.need_label[end] = true;
            }
        }
    }

    /// The group whose check instruction `i` carries, if any.
    fn group_starting_at(&self, i: usize) -> Option<usize> {
        let g = *self.group_of.get(i)?;
        (g != NO_GROUP && self.groups[g as usize].first == i).then_some(g as usize)
    }

    /// The check of a whole group, before its first access.
    fn group_check(&mut self, g: usize) {
        let (base, lo, hi, write, slow) = {
            let g = &self.groups[g];
            (g.base, g.lo, g.hi, g.write, g.slow)
        };
        let span = (hi - lo).max(1);
        let first = self.groups[g].first;
        let (start, lim) = Self::cache(write, self.stack_guess(first, xr(base)));
        self.uses_caches = true;
        self.a.lea(S2, Mem::b(xr(base), lo));
        self.a.alu_rm(true, Alu::Sub, S2, st(start));
        if span <= 64 {
            // The limit of the power of two at or above the span.
            let k = (span as u32).next_power_of_two().trailing_zeros() as i32;
            self.a.alu_rm(true, Alu::Cmp, S2, st(lim + 8 * k));
            self.a.jcc(Cond::Ae, slow);
        } else {
            // Exactly: a - start + span <= len, and no carry (a below start).
            self.a.alu_ri(true, Alu::Add, S2, span);
            self.a.jcc(Cond::B, slow);
            self.a.alu_rm(true, Alu::Cmp, S2, st(lim + 8 * LEN as i32));
            self.a.jcc(Cond::A, slow);
        }
    }

    /// The load error for a `lddw` at `i` whose value only a loader can resolve (a map or
    /// a variable).
    fn refuse_unresolved<T>(&self, i: usize) -> R<T> {
        let what = match &self.insns[i] {
            Insn::LoadImm64 { value, .. } => crate::error::unresolved_pseudo(value),
            _ => None,
        };
        Err(LoadError::UnresolvedPseudo {
            pc: self.pc(i),
            what: what.unwrap_or("value"),
        })
    }

    /// Compiles instruction `i` with the patterns that start there; returns how many
    /// instructions it consumed.
    fn emit_one(&mut self, i: usize) -> R<usize> {
        if self.branch_over_goto(i) {
            self.flags = None;
            return Ok(2);
        }
        if let Some(j) = self.if_convert(i) {
            self.flags = None;
            return Ok(j + 1 - i);
        }
        self.insn(i)
    }

    fn body(&mut self) -> R<()> {
        let n = self.insns.len();
        let mut i = 0;
        while i < n {
            if self.an.ctx[i] == 0 {
                // Unreachable code is not compiled, but a `lddw` that needs a loader's
                // resolution is refused wherever it is, as the interpreter does.
                if let Insn::LoadImm64 { value, .. } = &self.insns[i] {
                    if crate::error::unresolved_pseudo(value).is_some() {
                        return self.refuse_unresolved(i);
                    }
                }
                self.insn_offsets[i] = u32::MAX;
                i += 1;
                continue;
            }
            if self.an.target[i] || self.an.leader[i] {
                self.zext = 0;
                self.flags = None;
            }
            if self.an.loop_head[i] {
                // Loop heads start on a 16-byte boundary (for the decoder and uop cache)
                // when that costs at most 7 bytes of padding.
                let pad = (16 - self.a.pos() % 16) % 16;
                if pad <= 7 {
                    self.a.align_nop(16);
                }
            }
            if self.an.target[i] || self.need_label[i] {
                let l = self.label(i);
                self.a.bind(l);
            }
            self.insn_offsets[i] = self.a.pos() as u32;
            if self.counted && self.an.leader[i] {
                let len = self.an.block_len[i];
                let l = self.a.new_label();
                self.a.alu_mi(true, Alu::Sub, st(OFF_BUDGET), len as i32);
                self.a.jcc(Cond::B, l);
                self.stubs.push(Stub::Budget {
                    label: l,
                    start: i as u32,
                    n: len,
                });
            }
            if let Some(g) = self.group_starting_at(i) {
                self.group_check(g);
            }
            let consumed = self.emit_one(i)?;
            for k in i + 1..i + consumed {
                self.insn_offsets[k] = FUSED;
            }
            i += consumed;
        }
        self.a.bind(self.l_fell_off);
        if self.an.falls_off_end {
            self.a
                .store_imm(st(OFF_ERR_ARG), self.insns.len() as i32 - 1, W::B64);
            self.a
                .store_imm(st(OFF_ERR_KIND), ERR_FELL_OFF as i32, W::B32);
            self.a.jmp(self.l_error);
        }
        Ok(())
    }

    /// The slow copies of blocks with grouped checks: from the first grouped access to
    /// the end of the block, every access checked on its own; each group's failing check
    /// enters at its first access.
    fn slow_copies(&mut self) -> R<()> {
        let n = self.insns.len();
        for (start, end) in std::mem::take(&mut self.slow_copies) {
            self.individual = true;
            let mut k = start;
            while k < end {
                if let Some(g) = self.group_starting_at(k) {
                    let l = self.groups[g].slow;
                    self.a.bind(l);
                    self.zext = 0;
                    self.flags = None;
                }
                k += self.emit_one(k)?;
            }
            if k >= n {
                self.a.jmp(self.l_fell_off);
            } else if self.an.ctx[k] != 0 && (self.an.target[k] || self.need_label[k]) {
                let l = self.label(k);
                self.a.jmp(l);
            }
            self.individual = false;
        }
        Ok(())
    }

    fn stubs(&mut self) {
        for stub in std::mem::take(&mut self.stubs) {
            match stub {
                Stub::MemSlow {
                    label,
                    back,
                    addr,
                    site,
                } => {
                    self.a.bind(label);
                    self.a.lea(S2, addr);
                    self.a.mov_ri(S1, site as u64);
                    self.a.call(self.l_mem_common);
                    self.a.jmp(back);
                }
                Stub::Misaligned { label, site } => {
                    self.a.bind(label);
                    self.a.store(st(OFF_ERR_ARG), S2, W::B64);
                    self.a.store_imm(st(OFF_SITE), site as i32, W::B32);
                    self.a
                        .store_imm(st(OFF_ERR_KIND), ERR_MISALIGNED as i32, W::B32);
                    self.a.jmp(self.l_error);
                }
                Stub::Budget { label, start, n } => {
                    self.a.bind(label);
                    self.a.mov_ri(S1, n as u64);
                    self.a.mov_ri(S2, start as u64);
                    self.a.jmp(self.l_budget_common);
                }
                Stub::CallDepth { label, index } => {
                    self.a.bind(label);
                    self.a.store_imm(st(OFF_ERR_ARG), index as i32, W::B64);
                    self.a
                        .store_imm(st(OFF_ERR_KIND), ERR_CALL_DEPTH as i32, W::B32);
                    self.a.jmp(self.l_error);
                }
                Stub::HelperExit {
                    label,
                    index,
                    pushed,
                } => {
                    self.a.bind(label);
                    self.a.alu_ri(false, Alu::Cmp, X::Rdx, 1);
                    self.a.jcc(Cond::E, self.l_error);
                    // A tail call ran: the current function returns its r0 (rax).
                    if pushed > 0 {
                        self.a.lea(X::Rsp, Mem::b(X::Rsp, pushed));
                    }
                    self.exit_seq(index as usize, false);
                }
            }
        }
    }

    fn commons(&mut self) {
        // Error exit: back to the outermost frame's stack, then the epilogue. Programs
        // without state cannot fail and have no use for it.
        // Inside a callback (`RunState::cb_depth` > 0) `main_rsp` is the callback entry's
        // and the exit is its return path.
        let has_state = self.saves.contains(&ST);
        self.a.bind(self.l_error);
        if has_state {
            self.a.load(X::Rsp, st(OFF_MAIN_RSP), W::B64);
            if self.has_cb {
                self.a.alu_mi(true, Alu::Cmp, st(OFF_CB_DEPTH), 0);
                self.a.jcc(Cond::Ne, self.l_cb_return);
            }
        }
        self.a.bind(self.l_main_exit);
        if has_state {
            self.epilogue();
        }

        // Out-of-bounds legacy packet load: the program (or the callback) ends with
        // r0 = 0.
        self.a.bind(self.l_pkt_oob);
        if self.an.has_packet_loads {
            self.a.load(X::Rsp, st(OFF_MAIN_RSP), W::B64);
            self.a.zero(X::Rax);
            if self.has_cb {
                self.a.alu_mi(true, Alu::Cmp, st(OFF_CB_DEPTH), 0);
                self.a.jcc(Cond::Ne, self.l_cb_return);
            }
            self.a.jmp(self.l_main_exit);
        }

        // Callback entry (called by `runtime::Reentry`): a function of the program called
        // by a helper, as a bpf-to-bpf call from the helper's calling instruction. Same
        // signature as the program entry; `RunState::cb_fp` is the callback's r10 and
        // `cb_target` the function's address. Errors inside unwind to `l_cb_return`.
        self.a.bind(self.l_cb_entry);
        if self.has_cb {
            let all = [X::Rbx, X::Rbp, X::R12, X::R13, X::R14, X::R15];
            for r in all {
                self.a.push(r);
            }
            // Entry rsp % 16 == 8; six pushes keep it: the call below leaves the callee
            // with rsp % 16 == 0, as every function body expects.
            self.a.mov_rr(true, ST, X::R9);
            self.a.store(st(OFF_MAIN_RSP), X::Rsp, W::B64);
            self.a.load(X::Rbp, st(OFF_CB_FP), W::B64);
            if self.checked && self.an.uses_r10 {
                self.zero_frame(self.an.frame_bytes);
            }
            for r in [0usize, 6, 7, 8, 9] {
                self.a.zero(MAP[r]);
            }
            self.a.call_m(st(OFF_CB_TARGET));
            self.a.bind(self.l_cb_return);
            for r in all.iter().rev() {
                self.a.pop(*r);
            }
            self.a.ret();
        }

        self.a.bind(self.l_budget_common);
        if self.counted {
            self.a.alu_mr(true, Alu::Add, st(OFF_BUDGET), S1);
            self.a.store(st(OFF_ERR_ARG), S2, W::B64);
            self.a
                .store_imm(st(OFF_ERR_KIND), ERR_BUDGET as i32, W::B32);
            self.a.jmp(self.l_error);
        }

        // Slow path of memory checks: r11 = address, r10 = site. Saves the eBPF argument
        // registers and r0 (r6-r9 are callee-saved in the C ABI).
        self.a.bind(self.l_mem_common);
        if self.checked && self.uses_caches {
            let saved = [X::Rax, X::Rdi, X::Rsi, X::Rdx, X::Rcx, X::R8, X::R9];
            for r in saved {
                self.a.push(r);
            }
            self.a.mov_rr(true, X::Rdi, ST);
            self.a.mov_rr(true, X::Rsi, S2);
            self.a.mov_rr(false, X::Rdx, S1);
            self.a.mov_rr(true, X::Rcx, X::Rbp);
            self.a.call_m(Mem::Rip(self.l_pool_memcheck));
            self.a.mov_rr(true, S2, X::Rax);
            for r in saved.iter().rev() {
                self.a.pop(*r);
            }
            self.a.test_rr(true, S2, S2);
            self.a.jcc(Cond::Ne, self.l_error);
            self.a.ret();
        }

        // After a bpf-to-bpf call returns the live stack is smaller: a cache holding it
        // must go.
        self.a.bind(self.l_uncache);
        if self.checked && self.an.has_local_calls {
            self.a.buf.extend_from_slice(&[0x0f, 0x57, 0xc0]); // xorps xmm0, xmm0
            for base in [OFF_RC_LIM, OFF_WC_LIM, OFF_SC_LIM] {
                // The 8 entries as four 16-byte stores.
                for k in 0..4 {
                    // movups [r12 + off], xmm0
                    self.a
                        .buf
                        .extend_from_slice(&[0x41, 0x0f, 0x11, 0x84, 0x24]);
                    self.a.buf.extend_from_slice(&(base + 16 * k).to_le_bytes());
                }
            }
            self.a.store_imm(st(OFF_STACK_CACHED), 0, W::B64);
            self.a.ret();
        }

        self.pool_start = self.a.pos();
        self.a.align(8);
        self.a.bind(self.l_pool_tramp);
        self.a
            .data64(helper_trampoline as *const () as usize as u64);
        self.a.bind(self.l_pool_memcheck);
        self.a.data64(mem_check as *const () as usize as u64);
        // `callx` dispatch table: code offset of the instruction at each slot (0: none).
        self.a.bind(self.l_callx_table);
        if self.an.any_entry {
            for slot in 0..self.prog.slot_count() {
                let off = self
                    .prog
                    .index_at_slot(slot)
                    .and_then(|i| self.insn_offsets.get(i).copied())
                    .filter(|&o| o < FUSED)
                    .unwrap_or(0);
                self.a.data32(off);
            }
        }
    }
}

/// Compiles `prog`.
/// Compiles `prog` (analysed as `an`) into one body: with instruction counting (the
/// budget variant) when `counted`, without otherwise.
pub fn compile(
    prog: &Program,
    an: &Analysis,
    helpers: &Helpers,
    opts: &JitOptions,
    counted: bool,
) -> R<Output> {
    let insns = prog.insns();
    let checked = opts.mode == JitMode::Checked;
    let has_mem = an.has_mem;
    let area = if an.uses_r10 || an.has_local_calls {
        an.frames * STACK_SIZE
    } else {
        0
    };
    let need_state = an.has_helper_calls
        || an.has_local_calls
        || (checked && has_mem)
        || counted
        || an.has_may_goto
        || an.has_packet_loads
        || an.falls_off_end;
    let calls_out = an.has_helper_calls || (checked && has_mem);
    let mut saves = Vec::new();
    if an.regs_used & (1 << 6) != 0 {
        saves.push(X::Rbx);
    }
    if area > 0 {
        saves.push(X::Rbp);
    }
    if need_state {
        saves.push(ST);
    }
    for (r, x) in [(7, X::R13), (8, X::R14), (9, X::R15)] {
        if an.regs_used & (1 << r) != 0 {
            saves.push(x);
        }
    }
    // Body alignment: entry rsp % 16 == 8; after the pushes and the area the body must be
    // 16-aligned whenever it calls out (helpers, checks, bpf-to-bpf calls).
    let mut sub_rsp = area;
    if (calls_out || an.has_local_calls || area > 0) && saves.len().is_multiple_of(2) {
        sub_rsp += 8;
    }
    let seed = {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(insns.len());
        h.finish() | 1
    };
    let mut a = Asm::with_capacity(insns.len() * if checked { 24 } else { 8 } + 256);
    let labels = vec![None; insns.len()];
    let l_error = a.new_label();
    let l_main_exit = a.new_label();
    let l_mem_common = a.new_label();
    let l_pkt_oob = a.new_label();
    let l_budget_common = a.new_label();
    let l_uncache = a.new_label();
    let l_pool_tramp = a.new_label();
    let l_pool_memcheck = a.new_label();
    let l_cb_entry = a.new_label();
    let l_cb_return = a.new_label();
    let l_callx_table = a.new_label();
    let l_code_base = a.new_label();
    let l_fell_off = a.new_label();
    a.bind(l_code_base);
    let has_cb = an.any_entry || !an.code_addr_targets.is_empty();
    let mut g = Gen {
        prog,
        insns,
        an,
        opts,
        helpers,
        a,
        labels,
        stubs: Vec::new(),
        sites: Vec::new(),
        l_error,
        l_main_exit,
        l_mem_common,
        l_pkt_oob,
        l_budget_common,
        l_uncache,
        l_pool_tramp,
        l_pool_memcheck,
        l_cb_entry,
        l_cb_return,
        l_callx_table,
        l_code_base,
        has_cb,
        counted,
        checked,
        area,
        sub_rsp,
        saves,
        rng: seed,
        zext: 0,
        flags: None,
        flags_next: None,
        uses_caches: false,
        insn_offsets: vec![0; insns.len()],
        pool_start: 0,
        groups: Vec::new(),
        group_of: Vec::new(),
        slow_copies: Vec::new(),
        need_label: Vec::new(),
        individual: false,
        l_fell_off,
    };
    g.plan_groups();
    g.prologue();
    g.body()?;
    let body_end = g.a.pos();
    g.slow_copies()?;
    g.stubs();
    g.commons();
    g.a.finish()
        .map_err(|e| LoadError::Jit(format!("internal error: {e}")))?;
    let slots = (0..insns.len()).map(|i| prog.slot(i) as u32).collect();
    let mut callx = Helpers::new();
    if insns.iter().any(|i| matches!(i, Insn::CallX { .. })) {
        callx = helpers.clone();
    }
    // Functions a helper may call back: the code-address targets, or every instruction
    // when `callx` may compute addresses.
    let entry_of = |i: usize| -> Option<(u32, u32)> {
        let off = *g.insn_offsets.get(i)?;
        (off < FUSED).then(|| (prog.slot(i) as u32, off))
    };
    let entries: Vec<(u32, u32)> = if !has_cb {
        Vec::new()
    } else if an.any_entry {
        (0..insns.len()).filter_map(entry_of).collect()
    } else {
        an.code_addr_targets
            .iter()
            .filter_map(|&t| entry_of(t))
            .collect()
    };
    let cb_entry = has_cb.then(|| g.a.label_offset(l_cb_entry)).flatten();
    Ok(Output {
        code: std::mem::take(&mut g.a.buf),
        insn_offsets: g.insn_offsets,
        body_end,
        pool_start: g.pool_start,
        uses_caches: g.uses_caches,
        stateless: !need_state,
        shared: Shared {
            sites: g.sites,
            callx,
            slots,
            slot_count: prog.slot_count(),
            stack_bytes: area,
            counted,
            entries,
            cb_entry,
            code_base: 0,
        },
        uses_packet: an.has_packet_loads,
        uses_may_goto: an.has_may_goto,
    })
}
