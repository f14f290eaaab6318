//! Random valid eBPF programs for differential testing.
//!
//! A [`TestCase`] is a small structured program (functions made of [`Stmt`]s: straight-line
//! instructions, `if`/`else`, counted loops, calls) plus its input buffer. It lowers to
//! bytecode with [`TestCase::program`] (for oxbpf's engines: `r1` = buffer, `r2` = its
//! length) or [`TestCase::kernel_program`] (the same body behind an XDP prologue, for the
//! Linux kernel's `BPF_PROG_TEST_RUN`).
//!
//! Every case is valid *by construction*, whatever subset of its statements is kept (so
//! shrinking never produces an invalid program): registers are initialised at function
//! entry and after calls, each function zero-fills the stack it uses, memory accesses stay
//! inside the stack frame or the buffer, loops count down a counter on the stack and so
//! always end, calls only go to later functions (no recursion). The result is observable
//! without the 32-bit limit of the kernel's return value: the main function stores its
//! 64-bit `r0` in the first 8 bytes of the buffer before `exit`.
//!
//! ```
//! use oxbpf_testgen::{Config, TestCase};
//! let case = TestCase::generate(42, &Config::vm());
//! let prog = case.program();
//! assert!(prog.len() > 10);
//! assert_eq!(case, TestCase::generate(42, &Config::vm())); // seedable, deterministic
//! ```
//!
//! Extending: add a [`Stmt`] variant, generate it in `Gen::stmt`, lower it in `lower_stmt`
//! and (if it holds statements) shrink it in [`TestCase::shrink`].

pub mod run;

use oxbpf_isa::{
    AluOp, AtomicOp, ByteOrder, CallTarget, Insn, JmpOp, LoadImm64, Operand, Program, Reg, Size,
    Width,
};

/// Deterministic random numbers (SplitMix64): the same seed gives the same program on every
/// platform and version of this crate's dependencies.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    /// An immediate biased towards edge cases.
    pub fn imm(&mut self) -> i32 {
        match self.below(10) {
            0 => *self.pick(&[0, 1, -1, 2, i32::MIN, i32::MAX, -2, 0x7f, 0x80, 0xff]),
            1 => 1 << self.below(31),
            2 | 3 => self.below(64) as i32 - 32,
            4 => -(self.below(1 << 16) as i32),
            _ => self.next_u64() as i32,
        }
    }
    /// A 64-bit value biased towards edge cases.
    pub fn value(&mut self) -> u64 {
        match self.below(8) {
            0 => *self.pick(&[
                0,
                1,
                u64::MAX,
                1 << 63,
                (1 << 63) - 1,
                0xffff_ffff,
                0x8000_0000,
                0x7fff_ffff,
                0xffff_ffff_8000_0000,
            ]),
            1 => self.imm() as i64 as u64,
            2 => self.below(256),
            3 => 1 << self.below(64),
            _ => self.next_u64(),
        }
    }
}

/// Who must accept the programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// oxbpf's engines only: every instruction kind, test helpers, `callx`, division by
    /// an immediate zero, out-of-range immediate shifts, unaligned and computed addresses.
    Vm,
    /// Also loadable by the Linux verifier as an XDP program (no helpers, aligned
    /// accesses at constant offsets, atomics on the stack only, ...).
    Kernel,
}

/// Instruction groups a generator may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Features {
    pub alu32: bool,
    pub jmp32: bool,
    pub divmod: bool,
    /// ISA v4: signed division, `movsx`, `bswap`, sign-extending loads, `gotol`.
    pub v4: bool,
    pub atomics: bool,
    /// Load-acquire / store-release.
    pub ordered: bool,
    pub calls: bool,
    pub loops: bool,
    pub may_goto: bool,
    /// Calls to [`run::test_helpers`] (ids 1-3) and `callx` on helper ids.
    pub helpers: bool,
    pub addr_space_cast: bool,
    /// Memory accesses through registers computed at run time (stack and buffer).
    pub computed_addresses: bool,
    /// Callbacks: a helper ([`run::LOOP_HELPER`]) calling a later function of the program
    /// through its code address (`lddw` src 4), and `callx` on code addresses. Needs
    /// `helpers` and `calls`.
    pub callbacks: bool,
    /// Tail calls: a helper ([`run::TAIL_HELPER`]) that, for some arguments, replaces the
    /// current function by a fixed target program. Needs `helpers`.
    pub tail_calls: bool,
}

impl Features {
    pub fn all() -> Features {
        Features {
            alu32: true,
            jmp32: true,
            divmod: true,
            v4: true,
            atomics: true,
            ordered: true,
            calls: true,
            loops: true,
            may_goto: true,
            helpers: true,
            addr_space_cast: true,
            computed_addresses: true,
            callbacks: true,
            tail_calls: true,
        }
    }
}

/// Generation parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub profile: Profile,
    pub features: Features,
    /// Statements per function body (top level), at most.
    pub max_stmts: usize,
    /// Nesting of `if` and loops, at most.
    pub max_depth: usize,
    /// Functions besides the main one, at most (calls nest at most this deep + 1).
    pub max_funcs: usize,
    /// Iterations of a loop, at most.
    pub max_iters: u32,
    /// Bytes of the input buffer (at least 64).
    pub buf_len: usize,
}

impl Config {
    /// Everything oxbpf's engines run.
    pub fn vm() -> Config {
        Config {
            profile: Profile::Vm,
            features: Features::all(),
            max_stmts: 24,
            max_depth: 3,
            max_funcs: 3,
            max_iters: 8,
            buf_len: 128,
        }
    }

    /// Programs the Linux verifier also accepts (XDP).
    pub fn kernel() -> Config {
        Config {
            profile: Profile::Kernel,
            features: Features {
                helpers: false,
                addr_space_cast: false,
                computed_addresses: false,
                callbacks: false,
                tail_calls: false,
                ..Features::all()
            },
            max_stmts: 16,
            max_depth: 2,
            max_funcs: 2,
            max_iters: 4,
            buf_len: 128,
        }
    }
}

/// Bytes of stack each function uses for data (`[r10 - STACK_DATA, r10)`).
pub const STACK_DATA: i16 = 128;
/// Loop counters live below the data: `r10 - STACK_DATA - 8 * (depth + 1)`.
const COUNTER_BASE: i16 = -STACK_DATA - 8;
/// The main function's buffer pointer.
pub const BUF_REG: Reg = Reg::R6;
/// First bytes of the buffer are the 64-bit result.
pub const RESULT_BYTES: usize = 8;

/// Where a memory access goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// `r10 + off`, `off` in `[-STACK_DATA, 0)`.
    Stack,
    /// `r6 + off` (main function only), `off` in `[RESULT_BYTES, buf_len)`.
    Buf,
    /// A register set by [`Stmt::Addr`] earlier; `off` is added to it.
    Reg(Reg),
}

/// A statement of a generated function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stmt {
    /// One instruction that reads and writes scalar registers only (ALU, byte swap,
    /// `lddw`, address-space cast).
    Insn(Insn),
    Load {
        size: Size,
        sign_extend: bool,
        dst: Reg,
        base: Base,
        off: i16,
    },
    Store {
        size: Size,
        base: Base,
        off: i16,
        src: Operand,
    },
    Atomic {
        size: Size,
        op: AtomicOp,
        base: Base,
        off: i16,
        /// Value register (and the fetched value, for fetching operations); the address
        /// for `LoadAcquire` comes from `base` and the result goes here.
        reg: Reg,
    },
    /// `dst = (stack or buffer start) + (index & mask) + off`: a computed address for
    /// [`Base::Reg`] accesses (within `size` bytes of the region by construction).
    Addr {
        dst: Reg,
        region: Base,
        index: Reg,
        mask: u8,
        off: i16,
    },
    If {
        width: Width,
        op: JmpOp,
        dst: Reg,
        src: Operand,
        then: Vec<Stmt>,
        els: Vec<Stmt>,
        /// Use `gotol` to skip the `then` part.
        long: bool,
    },
    Loop {
        iters: u32,
        /// Scratch register for the counter (a scalar, clobbered).
        tmp: Reg,
        may_goto: bool,
        body: Vec<Stmt>,
    },
    /// bpf-to-bpf call of function `func` (> the caller's index), with `call` or, when
    /// `indirect`, with `callx` on its code address in `r5`; afterwards r1-r5 get
    /// `reinit`.
    Call {
        func: usize,
        reinit: [u64; 5],
        indirect: bool,
    },
    /// `r0 = loop(n, func, arg)`: the loop helper calls function `func` (> the caller's
    /// index) `n & 7` times as a callback with `(i, arg)` and combines the results;
    /// afterwards r1-r5 get `reinit`.
    Callback {
        func: usize,
        n: u8,
        arg: u64,
        reinit: [u64; 5],
    },
    /// `tail(ctx)`: when `ctx % 4 == 0` the current function returns the result of the
    /// tail-call target run on `ctx`, else `r0 = ctx * 7`; afterwards r1-r5 get `reinit`.
    TailCall { ctx: u64, reinit: [u64; 5] },
    /// Helper call (ids of [`run::test_helpers`]); `stack_arg` puts `r10 + off` in `r1`.
    Helper {
        id: u32,
        callx: bool,
        stack_arg: Option<i16>,
        reinit: [u64; 5],
    },
}

/// A function: initial register values and a body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Func {
    /// Values of r0..r9 set at entry (the main function keeps `r1` in `r6` first; callees
    /// keep their arguments r1-r5).
    pub init: [u64; 10],
    /// Value the stack data area is filled with.
    pub stack_fill: u64,
    pub body: Vec<Stmt>,
}

/// A generated program and its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestCase {
    pub seed: u64,
    pub profile: Profile,
    pub funcs: Vec<Func>,
    pub input: Vec<u8>,
}

struct Gen<'c> {
    rng: Rng,
    cfg: &'c Config,
    nfuncs: usize,
    /// Registers set aside for computed addresses in the current function: never read or
    /// written as scalars (addresses differ between runs and engines).
    reserved: u16,
}

const SIZES: [Size; 4] = [Size::B, Size::H, Size::W, Size::DW];

impl Gen<'_> {
    fn kernel(&self) -> bool {
        self.cfg.profile == Profile::Kernel
    }

    /// A scalar register that may be written in function `f`.
    fn scalar(&mut self, f: usize) -> Reg {
        loop {
            let r = Reg::new(self.rng.below(10) as u8).unwrap_or(Reg::R0);
            if (f == 0 && r == BUF_REG) || self.reserved & (1 << r.num()) != 0 {
                continue;
            }
            return r;
        }
    }

    fn operand(&mut self, f: usize) -> Operand {
        if self.rng.chance(50) {
            Operand::Imm(self.rng.imm())
        } else {
            Operand::Reg(self.scalar(f))
        }
    }

    fn width(&mut self, alu32: bool) -> Width {
        if alu32 && self.rng.chance(40) {
            Width::W32
        } else {
            Width::W64
        }
    }

    /// An offset for an access of `size` bytes on `base`.
    fn offset(&mut self, base: Base, size: Size) -> i16 {
        let n = size.bytes() as i64;
        let aligned = self.kernel() || self.rng.chance(80);
        let (lo, hi) = match base {
            Base::Stack => (-(STACK_DATA as i64), -n),
            Base::Buf => (RESULT_BYTES as i64, self.cfg.buf_len as i64 - n),
            // Addr leaves the register `mask` (<= 63) + off below the region's end with
            // 64 bytes of room; accesses stay within [reg - 0, reg + 64 - n].
            Base::Reg(_) => (0, 64 - n),
        };
        let mut off = lo + self.rng.below((hi - lo + 1) as u64) as i64;
        if aligned {
            off -= off.rem_euclid(n);
            if off < lo {
                off += n;
            }
        }
        off as i16
    }

    fn base(&mut self, f: usize, addr_regs: &[Reg]) -> Base {
        if !addr_regs.is_empty() && self.rng.chance(30) {
            return Base::Reg(*self.rng.pick(addr_regs));
        }
        if f == 0 && self.rng.chance(50) {
            Base::Buf
        } else {
            Base::Stack
        }
    }

    fn alu(&mut self, f: usize) -> Stmt {
        let feats = &self.cfg.features;
        let (alu32, divmod, v4, asc) = (feats.alu32, feats.divmod, feats.v4, feats.addr_space_cast);
        let dst = self.scalar(f);
        let width = self.width(alu32);
        let mut ops = vec![
            AluOp::Add,
            AluOp::Sub,
            AluOp::Mul,
            AluOp::Or,
            AluOp::And,
            AluOp::Lsh,
            AluOp::Rsh,
            AluOp::Xor,
            AluOp::Mov,
            AluOp::Arsh,
        ];
        if divmod {
            ops.extend([AluOp::Div, AluOp::Mod]);
            if v4 {
                ops.extend([AluOp::SDiv, AluOp::SMod]);
            }
        }
        if v4 {
            ops.extend([AluOp::MovSx8, AluOp::MovSx16]);
            if width == Width::W64 {
                ops.push(AluOp::MovSx32);
            }
        }
        match self.rng.below(12) {
            0 => return Stmt::Insn(Insn::Neg { width, dst }),
            1 => {
                let (order, bits) = match self.rng.below(if v4 { 3 } else { 2 }) {
                    0 => (ByteOrder::ToLe, *self.rng.pick(&[16u8, 32, 64])),
                    1 => (ByteOrder::ToBe, *self.rng.pick(&[16u8, 32, 64])),
                    _ => (ByteOrder::Swap, *self.rng.pick(&[16u8, 32, 64])),
                };
                return Stmt::Insn(Insn::Endian { order, bits, dst });
            }
            2 => {
                let value = self.rng.value();
                return Stmt::Insn(Insn::LoadImm64 {
                    dst,
                    value: LoadImm64::Imm(value),
                });
            }
            3 if asc => {
                let src = self.scalar(f);
                let (dst_as, src_as) = if self.rng.chance(50) { (1, 0) } else { (0, 1) };
                return Stmt::Insn(Insn::AddrSpaceCast {
                    dst,
                    src,
                    dst_as,
                    src_as,
                });
            }
            _ => {}
        }
        let op = *self.rng.pick(&ops);
        let mut src = if matches!(op, AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32) {
            Operand::Reg(self.scalar(f))
        } else {
            self.operand(f)
        };
        if let Operand::Imm(i) = &mut src {
            let bits = if width == Width::W64 { 64 } else { 32 };
            if matches!(op, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh)
                && (self.kernel() || self.rng.chance(80))
            {
                *i = (*i).rem_euclid(bits);
            }
            if matches!(op, AluOp::Div | AluOp::Mod | AluOp::SDiv | AluOp::SMod)
                && *i == 0
                && self.kernel()
            {
                *i = 7;
            }
        }
        Stmt::Insn(Insn::Alu {
            width,
            op,
            dst,
            src,
        })
    }

    fn mem(&mut self, f: usize, addr_regs: &[Reg]) -> Stmt {
        let feats = self.cfg.features.clone();
        let size = *self.rng.pick(&SIZES);
        let base = self.base(f, addr_regs);
        let off = self.offset(base, size);
        match self.rng.below(if feats.atomics { 5 } else { 3 }) {
            0 | 1 => Stmt::Load {
                size,
                sign_extend: feats.v4 && size != Size::DW && self.rng.chance(30),
                dst: self.scalar(f),
                base,
                off,
            },
            2 => Stmt::Store {
                size,
                base,
                off,
                src: self.operand(f),
            },
            _ => {
                // Atomics: aligned, on the stack (the kernel refuses them on packets).
                let base = if self.kernel() { Base::Stack } else { base };
                let mut ops = vec![
                    AtomicOp::Add { fetch: false },
                    AtomicOp::Or { fetch: false },
                    AtomicOp::And { fetch: false },
                    AtomicOp::Xor { fetch: false },
                    AtomicOp::Add { fetch: true },
                    AtomicOp::Or { fetch: true },
                    AtomicOp::And { fetch: true },
                    AtomicOp::Xor { fetch: true },
                    AtomicOp::Xchg,
                    AtomicOp::CmpXchg,
                ];
                if feats.ordered {
                    ops.extend([AtomicOp::LoadAcquire, AtomicOp::StoreRelease]);
                }
                let op = *self.rng.pick(&ops);
                let size = if matches!(op, AtomicOp::LoadAcquire | AtomicOp::StoreRelease) {
                    size
                } else if self.rng.chance(50) {
                    Size::W
                } else {
                    Size::DW
                };
                let mut off = self.offset(base, size);
                let n = size.bytes() as i16;
                off -= off.rem_euclid(n);
                if let (Base::Stack, true) = (base, off < -STACK_DATA) {
                    off += n;
                }
                if let (Base::Buf, true) = (base, (off as usize) < RESULT_BYTES) {
                    off += n;
                }
                // Computed bases are 8-aligned (see `Addr`), so aligned offsets stay aligned.
                Stmt::Atomic {
                    size,
                    op,
                    base,
                    off,
                    reg: self.scalar(f),
                }
            }
        }
    }

    fn stmt(&mut self, f: usize, depth: usize, loops: usize, addr_regs: &mut Vec<Reg>) -> Stmt {
        let feats = self.cfg.features.clone();
        let nest = depth < self.cfg.max_depth;
        let roll = self.rng.below(100);
        match roll {
            0..=34 => self.alu(f),
            35..=59 => self.mem(f, addr_regs),
            60..=71 if nest => {
                let width = self.width(feats.jmp32);
                let ops = [
                    JmpOp::Eq,
                    JmpOp::Gt,
                    JmpOp::Ge,
                    JmpOp::Set,
                    JmpOp::Ne,
                    JmpOp::Sgt,
                    JmpOp::Sge,
                    JmpOp::Lt,
                    JmpOp::Le,
                    JmpOp::Slt,
                    JmpOp::Sle,
                ];
                let op = *self.rng.pick(&ops);
                let dst = self.scalar(f);
                let src = self.operand(f);
                // An empty `then` makes `if c goto T; els; goto T` (the JIT's if-conversion).
                let then = if self.rng.chance(25) {
                    Vec::new()
                } else {
                    self.block(f, depth + 1, loops, addr_regs, 4)
                };
                let els = if self.rng.chance(50) {
                    self.block(f, depth + 1, loops, addr_regs, 4)
                } else {
                    Vec::new()
                };
                Stmt::If {
                    width,
                    op,
                    dst,
                    src,
                    then,
                    els,
                    long: feats.v4 && self.rng.chance(20),
                }
            }
            72..=79 if nest && feats.loops && loops < 2 => {
                let body = self.block(f, depth + 1, loops + 1, addr_regs, 5);
                Stmt::Loop {
                    iters: 1 + self.rng.below(self.cfg.max_iters as u64) as u32,
                    tmp: self.scalar(f),
                    may_goto: feats.may_goto && self.rng.chance(30),
                    body,
                }
            }
            80..=84 if feats.calls && f + 1 < self.nfuncs => {
                let func = f + 1 + self.rng.below((self.nfuncs - f - 1) as u64) as usize;
                Stmt::Call {
                    func,
                    reinit: self.reinit(),
                    indirect: feats.callbacks
                        && feats.helpers
                        && !self.kernel()
                        && self.rng.chance(20),
                }
            }
            85..=89 if feats.helpers && !self.kernel() => {
                let id = 1 + self.rng.below(3) as u32;
                let stack_arg = (id != 1).then(|| -8 * (1 + self.rng.below(15) as i16));
                Stmt::Helper {
                    id,
                    callx: self.rng.chance(30),
                    stack_arg,
                    reinit: self.reinit(),
                }
            }
            90..=95 if self.reserved != 0 => {
                // Addresses live in the registers reserved for them in this function
                // (some of r7-r9, kept across calls and never used as scalars).
                let pool: Vec<Reg> = (7..=9u8)
                    .filter(|r| self.reserved & (1 << r) != 0)
                    .filter_map(Reg::new)
                    .collect();
                let dst = *self.rng.pick(&pool);
                let region = if f == 0 && self.rng.chance(50) {
                    Base::Buf
                } else {
                    Base::Stack
                };
                addr_regs.push(dst);
                // mask <= 56 and 8-aligned; room of 64 bytes after it.
                let mask = (self.rng.below(8) as u8) * 8;
                let off = match region {
                    Base::Buf => {
                        let room = self.cfg.buf_len as i64 - RESULT_BYTES as i64 - 64 - 56;
                        (RESULT_BYTES as i64 + 8 * self.rng.below((room / 8).max(1) as u64) as i64)
                            as i16
                    }
                    _ => -STACK_DATA,
                };
                Stmt::Addr {
                    dst,
                    region,
                    index: self.scalar(f),
                    mask,
                    off,
                }
            }
            96..=97
                if feats.callbacks
                    && feats.helpers
                    && feats.calls
                    && !self.kernel()
                    && f + 1 < self.nfuncs =>
            {
                let func = f + 1 + self.rng.below((self.nfuncs - f - 1) as u64) as usize;
                Stmt::Callback {
                    func,
                    n: self.rng.below(6) as u8,
                    arg: self.rng.value(),
                    reinit: self.reinit(),
                }
            }
            98..=99 if feats.tail_calls && feats.helpers && !self.kernel() => {
                let ctx = self.rng.value();
                Stmt::TailCall {
                    ctx,
                    reinit: self.reinit(),
                }
            }
            _ => self.alu(f),
        }
    }

    fn reinit(&mut self) -> [u64; 5] {
        std::array::from_fn(|_| self.rng.value())
    }

    fn block(
        &mut self,
        f: usize,
        depth: usize,
        loops: usize,
        addr_regs: &mut Vec<Reg>,
        max: usize,
    ) -> Vec<Stmt> {
        let n = 1 + self.rng.below(max as u64) as usize;
        let saved = addr_regs.len();
        let out = (0..n)
            .map(|_| self.stmt(f, depth, loops, addr_regs))
            .collect();
        addr_regs.truncate(saved);
        out
    }
}

impl TestCase {
    /// Generates the case for `seed`.
    pub fn generate(seed: u64, cfg: &Config) -> TestCase {
        let mut g = Gen {
            rng: Rng::new(seed),
            cfg,
            nfuncs: 1,
            reserved: 0,
        };
        if cfg.features.calls && cfg.max_funcs > 0 {
            g.nfuncs = 1 + g.rng.below(cfg.max_funcs as u64 + 1) as usize;
        }
        let mut funcs = Vec::new();
        for f in 0..g.nfuncs {
            let init = std::array::from_fn(|_| g.rng.value());
            let stack_fill = g.rng.value();
            let n = 1 + g.rng.below(cfg.max_stmts as u64) as usize;
            let mut addr = Vec::new();
            g.reserved = 0;
            if cfg.features.computed_addresses && cfg.profile == Profile::Vm && g.rng.chance(60) {
                g.reserved = 1 << (7 + g.rng.below(3));
                if g.rng.chance(30) {
                    g.reserved |= 1 << (7 + g.rng.below(3));
                }
            }
            let body = (0..n).map(|_| g.stmt(f, 0, 0, &mut addr)).collect();
            funcs.push(Func {
                init,
                stack_fill,
                body,
            });
        }
        let input = (0..cfg.buf_len.max(64))
            .map(|_| g.rng.next_u64() as u8)
            .collect();
        TestCase {
            seed,
            profile: cfg.profile,
            funcs,
            input,
        }
    }

    /// Bytecode for oxbpf's engines (`r1` = the buffer).
    pub fn program(&self) -> Program {
        // Generated programs are valid by construction; from_insns can only fail on a
        // generator bug, which the tests report with the seed.
        Program::from_insns(self.insns()).unwrap_or_else(|e| {
            panic!(
                "oxbpf-testgen produced an invalid program (seed {}): {e}",
                self.seed
            )
        })
    }

    /// The instructions of [`TestCase::program`].
    pub fn insns(&self) -> Vec<Insn> {
        let mut l = Lower {
            kernel: self.profile == Profile::Kernel,
            out: Vec::new(),
            jumps: Vec::new(),
            call_fixups: Vec::new(),
            func_start: Vec::new(),
            buf_len: self.input.len(),
        };
        // Only functions something calls are emitted (Linux refuses unreachable code).
        fn calls(b: &[Stmt], out: &mut Vec<usize>) {
            for s in b {
                match s {
                    Stmt::Call { func, .. } | Stmt::Callback { func, .. } => out.push(*func),
                    Stmt::If { then, els, .. } => {
                        calls(then, out);
                        calls(els, out);
                    }
                    Stmt::Loop { body, .. } => calls(body, out),
                    _ => {}
                }
            }
        }
        let mut live = vec![false; self.funcs.len()];
        live[0] = true;
        for f in 0..self.funcs.len() {
            if live[f] {
                let mut c = Vec::new();
                calls(&self.funcs[f].body, &mut c);
                for g in c {
                    if let Some(x) = live.get_mut(g) {
                        *x = true;
                    }
                }
            }
        }
        l.func_start = vec![0; self.funcs.len()];
        for (f, func) in self.funcs.iter().enumerate() {
            if live[f] {
                l.func_start[f] = l.out.len();
                l.func(f, func);
            }
        }
        for (at, func) in std::mem::take(&mut l.call_fixups) {
            let target = l.func_start[func];
            l.jumps.push((at, target));
        }
        // Offsets count 8-byte slots (a lddw is two).
        let mut slot = Vec::with_capacity(l.out.len() + 1);
        let mut n = 0i64;
        for i in &l.out {
            slot.push(n);
            n += i.slots() as i64;
        }
        slot.push(n);
        for (at, target) in std::mem::take(&mut l.jumps) {
            let off = slot[target] - slot[at] - 1;
            match &mut l.out[at] {
                Insn::Jump { off: o, .. } | Insn::MayGoto { off: o } => *o = off as i16,
                Insn::Ja { off: o, .. } => *o = off as i32,
                Insn::Call(CallTarget::Local(o)) => *o = off as i32,
                Insn::LoadImm64 {
                    value: LoadImm64::CodeAddr(o),
                    ..
                } => *o = off as i32,
                _ => {}
            }
        }
        l.out
    }

    /// The same program behind an XDP prologue that loads `data`/`data_end` from the
    /// context, returns 0 (XDP_ABORTED) when the packet is shorter than the buffer, and
    /// otherwise enters the body with `r1` = data, `r2` = length. Slot numbers of the body
    /// are shifted by [`KERNEL_PROLOGUE_SLOTS`].
    pub fn kernel_program(&self) -> Program {
        let n = self.input.len() as i32;
        let mut v = vec![
            // r2 = data_end; r1 = data (xdp_md: data at 0, data_end at 4)
            Insn::Load {
                size: Size::W,
                sign_extend: false,
                dst: Reg::R2,
                src: Reg::R1,
                off: 4,
            },
            Insn::Load {
                size: Size::W,
                sign_extend: false,
                dst: Reg::R1,
                src: Reg::R1,
                off: 0,
            },
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst: Reg::R3,
                src: Operand::Reg(Reg::R1),
            },
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Add,
                dst: Reg::R3,
                src: Operand::Imm(n),
            },
            Insn::Jump {
                width: Width::W64,
                op: JmpOp::Le,
                dst: Reg::R3,
                src: Operand::Reg(Reg::R2),
                off: 2,
            },
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst: Reg::R0,
                src: Operand::Imm(0),
            },
            Insn::Exit,
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst: Reg::R2,
                src: Operand::Imm(n),
            },
        ];
        debug_assert_eq!(v.len(), KERNEL_PROLOGUE_SLOTS);
        v.extend(self.insns());
        Program::from_insns(v).unwrap_or_else(|e| {
            panic!(
                "oxbpf-testgen produced an invalid program (seed {}): {e}",
                self.seed
            )
        })
    }

    /// Number of statements (all functions, nested ones included).
    pub fn size(&self) -> usize {
        fn count(b: &[Stmt]) -> usize {
            b.iter()
                .map(|s| {
                    1 + match s {
                        Stmt::If { then, els, .. } => count(then) + count(els),
                        Stmt::Loop { body, .. } => count(body),
                        _ => 0,
                    }
                })
                .sum()
        }
        self.funcs.iter().map(|f| count(&f.body)).sum()
    }

    /// Smaller variants of this case, most aggressive first: each removes one statement,
    /// replaces a compound statement by one of its parts, or cuts a loop to one
    /// iteration. Every variant is valid.
    pub fn shrink(&self) -> Vec<TestCase> {
        let mut out = Vec::new();
        for f in 0..self.funcs.len() {
            let body = &self.funcs[f].body;
            let mut variants = Vec::new();
            shrink_block(body, &mut variants);
            for b in variants {
                let mut c = self.clone();
                c.funcs[f].body = b;
                out.push(c);
            }
        }
        out
    }

    /// Greedily shrinks while `fails` keeps returning true; returns the smallest failing
    /// case found.
    pub fn minimize(&self, mut fails: impl FnMut(&TestCase) -> bool) -> TestCase {
        let mut best = self.clone();
        let mut rounds = 0;
        'outer: while rounds < 10_000 {
            rounds += 1;
            for c in best.shrink() {
                if fails(&c) {
                    best = c;
                    continue 'outer;
                }
            }
            break;
        }
        best
    }
}

/// Slots the kernel prologue adds in front of the body.
pub const KERNEL_PROLOGUE_SLOTS: usize = 8;

fn shrink_block(b: &[Stmt], out: &mut Vec<Vec<Stmt>>) {
    // Remove halves, then single statements.
    if b.len() > 1 {
        out.push(b[b.len() / 2..].to_vec());
        out.push(b[..b.len() / 2].to_vec());
    }
    for i in 0..b.len() {
        let mut v = b.to_vec();
        v.remove(i);
        out.push(v);
    }
    for i in 0..b.len() {
        let mut parts: Vec<Vec<Stmt>> = Vec::new();
        match &b[i] {
            Stmt::If { then, els, .. } => {
                parts.push(then.clone());
                parts.push(els.clone());
                let mut inner = Vec::new();
                shrink_block(then, &mut inner);
                for t in inner {
                    let mut s = b[i].clone();
                    if let Stmt::If { then, .. } = &mut s {
                        *then = t;
                    }
                    parts.push(vec![s]);
                }
                let mut inner = Vec::new();
                shrink_block(els, &mut inner);
                for e in inner {
                    let mut s = b[i].clone();
                    if let Stmt::If { els, .. } = &mut s {
                        *els = e;
                    }
                    parts.push(vec![s]);
                }
            }
            Stmt::Loop { body, iters, .. } => {
                parts.push(body.clone());
                if *iters > 1 {
                    let mut s = b[i].clone();
                    if let Stmt::Loop { iters, .. } = &mut s {
                        *iters = 1;
                    }
                    parts.push(vec![s]);
                }
                let mut inner = Vec::new();
                shrink_block(body, &mut inner);
                for bb in inner {
                    let mut s = b[i].clone();
                    if let Stmt::Loop { body, .. } = &mut s {
                        *body = bb;
                    }
                    parts.push(vec![s]);
                }
            }
            _ => {}
        }
        for p in parts {
            let mut v = b[..i].to_vec();
            v.extend(p);
            v.extend_from_slice(&b[i + 1..]);
            out.push(v);
        }
    }
}

struct Lower {
    /// Kernel profile: work around kernel quirks (see `Stmt::Atomic` lowering).
    kernel: bool,
    out: Vec<Insn>,
    /// (jump at, target) by instruction index, resolved to slot offsets at the end.
    jumps: Vec<(usize, usize)>,
    call_fixups: Vec<(usize, usize)>,
    func_start: Vec<usize>,
    buf_len: usize,
}

fn mov(dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src,
    }
}

fn lddw(dst: Reg, v: u64) -> Insn {
    Insn::LoadImm64 {
        dst,
        value: LoadImm64::Imm(v),
    }
}

impl Lower {
    fn func(&mut self, f: usize, func: &Func) {
        if f == 0 {
            self.out.push(mov(BUF_REG, Operand::Reg(Reg::R1)));
        }
        // Zero... or rather fill the stack data area, so every later read is defined.
        self.out.push(lddw(Reg::R0, func.stack_fill));
        for k in 0..(STACK_DATA / 8) {
            self.out.push(Insn::Store {
                size: Size::DW,
                dst: Reg::R10,
                off: -8 * (k + 1),
                src: Operand::Reg(Reg::R0),
            });
        }
        for r in 0..10u8 {
            let keep = (f == 0 && r == BUF_REG.num()) || (f > 0 && (1..=5).contains(&r));
            if !keep {
                self.out
                    .push(lddw(Reg::new(r).unwrap_or(Reg::R0), func.init[r as usize]));
            }
        }
        if f == 0 {
            // r1..r5 for the main function: r1 is the buffer (kept in r6).
            self.out.push(lddw(Reg::R1, func.init[1]));
        }
        self.block(f, &func.body, 0);
        if f == 0 {
            self.out.push(Insn::Store {
                size: Size::DW,
                dst: BUF_REG,
                off: 0,
                src: Operand::Reg(Reg::R0),
            });
        }
        self.out.push(Insn::Exit);
    }

    fn block(&mut self, f: usize, b: &[Stmt], loops: usize) {
        for s in b {
            self.stmt(f, s, loops);
        }
    }

    fn base_reg(&self, base: Base) -> Reg {
        match base {
            Base::Stack => Reg::R10,
            Base::Buf => BUF_REG,
            Base::Reg(r) => r,
        }
    }

    fn jump_to(&mut self, at: usize, target: usize) {
        self.jumps.push((at, target));
    }

    fn stmt(&mut self, f: usize, s: &Stmt, loops: usize) {
        match s {
            Stmt::Insn(i) => self.out.push(*i),
            Stmt::Load {
                size,
                sign_extend,
                dst,
                base,
                off,
            } => self.out.push(Insn::Load {
                size: *size,
                sign_extend: *sign_extend,
                dst: *dst,
                src: self.base_reg(*base),
                off: *off,
            }),
            Stmt::Store {
                size,
                base,
                off,
                src,
            } => self.out.push(Insn::Store {
                size: *size,
                dst: self.base_reg(*base),
                off: *off,
                src: *src,
            }),
            Stmt::Atomic {
                size,
                op,
                base,
                off,
                reg,
            } => {
                let b = self.base_reg(*base);
                let (dst, src) = match op {
                    AtomicOp::LoadAcquire => (*reg, b),
                    _ => (b, *reg),
                };
                self.out.push(Insn::Atomic {
                    size: *size,
                    op: *op,
                    dst,
                    src,
                    off: *off,
                });
                if self.kernel && *op == AtomicOp::CmpXchg && *size == Size::W {
                    // Linux 6.18's x86-64 JIT relies on the verifier to zero-extend r0
                    // after a 32-bit cmpxchg, and the verifier only does so when it sees
                    // a later 64-bit read of r0 on a path it did not prune: inside loops
                    // the upper half can survive (found by this generator, seed 125184
                    // of the kernel profile). An explicit `w0 = w0` keeps the comparison
                    // about the documented semantics (r0 = zero-extended old value).
                    self.out.push(Insn::Alu {
                        width: Width::W32,
                        op: AluOp::Mov,
                        dst: Reg::R0,
                        src: Operand::Reg(Reg::R0),
                    });
                }
            }
            Stmt::Addr {
                dst,
                region,
                index,
                mask,
                off,
            } => {
                // dst = (index & mask) + region + off
                let start = match region {
                    Base::Buf if f == 0 => BUF_REG,
                    _ => Reg::R10,
                };
                let off = if start == Reg::R10 { -STACK_DATA } else { *off };
                let _ = self.buf_len;
                self.out.push(mov(*dst, Operand::Reg(*index)));
                self.out.push(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::And,
                    dst: *dst,
                    src: Operand::Imm(*mask as i32),
                });
                self.out.push(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Add,
                    dst: *dst,
                    src: Operand::Reg(start),
                });
                self.out.push(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Add,
                    dst: *dst,
                    src: Operand::Imm(off as i32),
                });
            }
            Stmt::If {
                width,
                op,
                dst,
                src,
                then,
                els,
                long,
            } => {
                // if cond goto T; els; ja E; T: then; E:
                let j = self.out.len();
                self.out.push(Insn::Jump {
                    width: *width,
                    op: *op,
                    dst: *dst,
                    src: *src,
                    off: 0,
                });
                self.block(f, els, loops);
                let ja = self.out.len();
                self.out.push(Insn::Ja {
                    off: 0,
                    long: *long,
                });
                let t = self.out.len();
                self.block(f, then, loops);
                let e = self.out.len();
                self.jump_to(j, t);
                self.jump_to(ja, e);
            }
            Stmt::Loop {
                iters,
                tmp,
                may_goto,
                body,
            } => {
                let slot = COUNTER_BASE - 8 * loops as i16;
                self.out.push(Insn::Store {
                    size: Size::DW,
                    dst: Reg::R10,
                    off: slot,
                    src: Operand::Imm(*iters as i32),
                });
                let top = self.out.len();
                let mg = if *may_goto {
                    self.out.push(Insn::MayGoto { off: 0 });
                    Some(top)
                } else {
                    None
                };
                self.block(f, body, loops + 1);
                self.out.push(Insn::Load {
                    size: Size::DW,
                    sign_extend: false,
                    dst: *tmp,
                    src: Reg::R10,
                    off: slot,
                });
                self.out.push(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Sub,
                    dst: *tmp,
                    src: Operand::Imm(1),
                });
                self.out.push(Insn::Store {
                    size: Size::DW,
                    dst: Reg::R10,
                    off: slot,
                    src: Operand::Reg(*tmp),
                });
                let j = self.out.len();
                self.out.push(Insn::Jump {
                    width: Width::W64,
                    op: JmpOp::Sgt,
                    dst: *tmp,
                    src: Operand::Imm(0),
                    off: 0,
                });
                self.jump_to(j, top);
                let end = self.out.len();
                if let Some(m) = mg {
                    self.jump_to(m, end);
                }
            }
            Stmt::Call {
                func,
                reinit,
                indirect,
            } => {
                self.call_fixups.push((self.out.len(), *func));
                if *indirect {
                    self.out.push(Insn::LoadImm64 {
                        dst: Reg::R5,
                        value: LoadImm64::CodeAddr(0),
                    });
                    self.out.push(Insn::CallX { reg: Reg::R5 });
                } else {
                    self.out.push(Insn::Call(CallTarget::Local(0)));
                }
                self.reinit(reinit);
            }
            Stmt::Callback {
                func,
                n,
                arg,
                reinit,
            } => {
                self.out.push(mov(Reg::R1, Operand::Imm(*n as i32)));
                self.call_fixups.push((self.out.len(), *func));
                self.out.push(Insn::LoadImm64 {
                    dst: Reg::R2,
                    value: LoadImm64::CodeAddr(0),
                });
                self.out.push(lddw(Reg::R3, *arg));
                self.out.push(Insn::Call(CallTarget::Helper(
                    crate::run::LOOP_HELPER as i32,
                )));
                self.reinit(reinit);
            }
            Stmt::TailCall { ctx, reinit } => {
                self.out.push(lddw(Reg::R1, *ctx));
                self.out.push(Insn::Call(CallTarget::Helper(
                    crate::run::TAIL_HELPER as i32,
                )));
                self.reinit(reinit);
            }
            Stmt::Helper {
                id,
                callx,
                stack_arg,
                reinit,
            } => {
                if let Some(off) = stack_arg {
                    self.out.push(mov(Reg::R1, Operand::Reg(Reg::R10)));
                    self.out.push(Insn::Alu {
                        width: Width::W64,
                        op: AluOp::Add,
                        dst: Reg::R1,
                        src: Operand::Imm(*off as i32),
                    });
                }
                if *callx {
                    // The id goes in r5 (then r5 is reinitialised like the others).
                    self.out.push(mov(Reg::R5, Operand::Imm(*id as i32)));
                    self.out.push(Insn::CallX { reg: Reg::R5 });
                } else {
                    self.out.push(Insn::Call(CallTarget::Helper(*id as i32)));
                }
                self.reinit(reinit);
            }
        }
    }

    fn reinit(&mut self, v: &[u64; 5]) {
        for (k, &x) in v.iter().enumerate() {
            let r = Reg::new(k as u8 + 1).unwrap_or(Reg::R1);
            self.out.push(lddw(r, x));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_valid() {
        for seed in 0..500 {
            for cfg in [Config::vm(), Config::kernel()] {
                let a = TestCase::generate(seed, &cfg);
                assert_eq!(a, TestCase::generate(seed, &cfg));
                let p = a.program();
                assert_eq!(Program::decode(&p.to_bytes()).unwrap(), p);
                if cfg.profile == Profile::Kernel {
                    a.kernel_program();
                }
            }
        }
    }

    #[test]
    fn shrinking_keeps_programs_valid_and_smaller() {
        let c = TestCase::generate(7, &Config::vm());
        for s in c.shrink().into_iter().take(200) {
            assert!(s.size() < c.size() || s.funcs != c.funcs);
            s.program();
        }
        let m = c.minimize(|t| t.size() > 3);
        assert_eq!(m.size(), 4);
    }
}
