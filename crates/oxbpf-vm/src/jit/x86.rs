//! A small x86-64 instruction encoder: exactly the instructions the JIT emits, with labels
//! and rel8/rel32 fixups. Every form is tested against iced-x86's decoder (tests below).
//!
//! Conventions: `w = true` selects 64-bit operand size (REX.W), `false` 32-bit (which
//! zero-extends the destination register, as eBPF's 32-bit ALU wants). Byte operations on
//! `sil`/`dil`/`spl`/`bpl` get a REX prefix so they never mean `ah`..`bh`.

use std::fmt;

/// A general-purpose register.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[repr(u8)]
pub enum X {
    Rax = 0,
    Rcx = 1,
    Rdx = 2,
    Rbx = 3,
    Rsp = 4,
    Rbp = 5,
    Rsi = 6,
    Rdi = 7,
    R8 = 8,
    R9 = 9,
    R10 = 10,
    R11 = 11,
    R12 = 12,
    R13 = 13,
    R14 = 14,
    R15 = 15,
}

impl X {
    #[inline]
    const fn low(self) -> u8 {
        self as u8 & 7
    }
    #[inline]
    const fn ext(self) -> bool {
        self as u8 >= 8
    }
}

/// Condition codes (the low nibble of `jcc`/`setcc`/`cmovcc`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Cond {
    O = 0,
    No = 1,
    B = 2,
    Ae = 3,
    E = 4,
    Ne = 5,
    Be = 6,
    A = 7,
    S = 8,
    Ns = 9,
    L = 0xc,
    Ge = 0xd,
    Le = 0xe,
    G = 0xf,
}

impl Cond {
    /// The opposite condition.
    pub const fn not(self) -> Cond {
        match self {
            Cond::O => Cond::No,
            Cond::No => Cond::O,
            Cond::B => Cond::Ae,
            Cond::Ae => Cond::B,
            Cond::E => Cond::Ne,
            Cond::Ne => Cond::E,
            Cond::Be => Cond::A,
            Cond::A => Cond::Be,
            Cond::S => Cond::Ns,
            Cond::Ns => Cond::S,
            Cond::L => Cond::Ge,
            Cond::Ge => Cond::L,
            Cond::Le => Cond::G,
            Cond::G => Cond::Le,
        }
    }
}

/// A label: a position in the code, bound once.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Label(u32);

/// A memory operand `[base + index*scale + disp]` or `[rip + label]`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mem {
    Base {
        base: X,
        index: Option<(X, u8)>,
        disp: i32,
    },
    Rip(Label),
}

impl Mem {
    /// `[base + disp]`.
    pub const fn b(base: X, disp: i32) -> Mem {
        Mem::Base {
            base,
            index: None,
            disp,
        }
    }
    /// `[base + index*scale + disp]`; `scale` is 1, 2, 4 or 8 and `index` is not `rsp`.
    pub const fn bi(base: X, index: X, scale: u8, disp: i32) -> Mem {
        Mem::Base {
            base,
            index: Some((index, scale)),
            disp,
        }
    }
}

/// Two-operand ALU operations sharing the classic encoding (`op r/m, r` = `base + 1`,
/// `op r, r/m` = `base + 3`, `81 /digit`, `83 /digit`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Alu {
    Add = 0,
    Or = 1,
    Adc = 2,
    Sbb = 3,
    And = 4,
    Sub = 5,
    Xor = 6,
    Cmp = 7,
}

/// Shift operations (`/digit` of `C1`/`D3`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Shift {
    Rol = 0,
    Ror = 1,
    Shl = 4,
    Shr = 5,
    Sar = 7,
}

/// Operations of the `F7 /digit` group.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Unary {
    Not = 2,
    Neg = 3,
    Mul = 4,
    Div = 6,
    Idiv = 7,
}

/// Operand width of a memory access.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Width {
    B8,
    B16,
    B32,
    B64,
}

impl Width {
    pub const fn bytes(self) -> u32 {
        match self {
            Width::B8 => 1,
            Width::B16 => 2,
            Width::B32 => 4,
            Width::B64 => 8,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum FixKind {
    Rel8,
    /// rel32 whose value is relative to `at + 4 + trailing`.
    Rel32 {
        trailing: u8,
    },
}

#[derive(Clone, Copy, Debug)]
struct Fixup {
    at: u32,
    label: Label,
    kind: FixKind,
}

/// A short branch whose target ended up out of rel8 range: an internal error of the
/// code generator, reported rather than emitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixupError {
    pub at: usize,
    pub distance: i64,
}

impl fmt::Display for FixupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "branch at code offset {} cannot reach its target ({} bytes)",
            self.at, self.distance
        )
    }
}

const UNBOUND: u32 = u32::MAX;

/// The assembler: a growing byte buffer plus labels.
#[derive(Default)]
pub struct Asm {
    pub buf: Vec<u8>,
    labels: Vec<u32>,
    fixups: Vec<Fixup>,
}

enum Rm {
    R(X),
    M(Mem),
}

impl Asm {
    pub fn new() -> Asm {
        Asm::default()
    }

    pub fn with_capacity(bytes: usize) -> Asm {
        Asm {
            buf: Vec::with_capacity(bytes),
            labels: Vec::new(),
            fixups: Vec::new(),
        }
    }

    /// Current code offset.
    #[inline]
    pub fn pos(&self) -> usize {
        self.buf.len()
    }

    pub fn new_label(&mut self) -> Label {
        self.labels.push(UNBOUND);
        Label(self.labels.len() as u32 - 1)
    }

    /// Binds `l` to the current position.
    pub fn bind(&mut self, l: Label) {
        self.labels[l.0 as usize] = self.buf.len() as u32;
    }

    pub fn is_bound(&self, l: Label) -> bool {
        self.labels[l.0 as usize] != UNBOUND
    }

    /// Offset a bound label refers to.
    pub fn label_offset(&self, l: Label) -> Option<usize> {
        let o = self.labels[l.0 as usize];
        (o != UNBOUND).then_some(o as usize)
    }

    /// Resolves every fixup. All labels used must be bound.
    pub fn finish(&mut self) -> Result<(), FixupError> {
        for f in std::mem::take(&mut self.fixups) {
            let target = self.labels[f.label.0 as usize];
            debug_assert!(target != UNBOUND, "unbound label");
            let at = f.at as usize;
            match f.kind {
                FixKind::Rel8 => {
                    let d = target as i64 - (at as i64 + 1);
                    if !(-128..=127).contains(&d) {
                        return Err(FixupError { at, distance: d });
                    }
                    self.buf[at] = d as i8 as u8;
                }
                FixKind::Rel32 { trailing } => {
                    let d = target as i64 - (at as i64 + 4 + trailing as i64);
                    self.buf[at..at + 4].copy_from_slice(&(d as i32).to_le_bytes());
                }
            }
        }
        Ok(())
    }

    #[inline]
    fn b(&mut self, x: u8) {
        self.buf.push(x);
    }
    #[inline]
    fn d32(&mut self, x: i32) {
        self.buf.extend_from_slice(&x.to_le_bytes());
    }

    /// Emits REX (if needed), opcode bytes and ModRM/SIB/disp for `reg` and `rm`.
    /// `byte_regs`: the operands are 8-bit registers (REX needed for spl..dil).
    /// `trailing`: bytes of immediate that follow (for rip-relative fixups).
    fn enc(&mut self, w: bool, op: &[u8], reg: u8, rm: Rm, byte_regs: bool, trailing: u8) {
        let r = reg >= 8;
        let (x, bb) = match &rm {
            Rm::R(rr) => (false, rr.ext()),
            Rm::M(Mem::Base { base, index, .. }) => {
                (index.map(|(i, _)| i.ext()).unwrap_or(false), base.ext())
            }
            Rm::M(Mem::Rip(_)) => (false, false),
        };
        let need_byte_rex = byte_regs
            && ((reg & 0xf) >= 4 && (reg & 0xf) < 8
                || matches!(rm, Rm::R(rr) if (4..8).contains(&(rr as u8))));
        let rex = 0x40 | (w as u8) << 3 | (r as u8) << 2 | (x as u8) << 1 | bb as u8;
        if rex != 0x40 || need_byte_rex {
            self.b(rex);
        }
        self.buf.extend_from_slice(op);
        self.modrm(reg & 7, rm, trailing);
    }

    fn modrm(&mut self, reg: u8, rm: Rm, trailing: u8) {
        match rm {
            Rm::R(rr) => self.b(0xc0 | reg << 3 | rr.low()),
            Rm::M(Mem::Rip(l)) => {
                self.b(reg << 3 | 5);
                let at = self.buf.len() as u32;
                self.d32(0);
                self.fixups.push(Fixup {
                    at,
                    label: l,
                    kind: FixKind::Rel32 { trailing },
                });
            }
            Rm::M(Mem::Base { base, index, disp }) => {
                let md = if disp == 0 && base.low() != 5 {
                    0
                } else if (-128..=127).contains(&disp) {
                    1
                } else {
                    2
                };
                match index {
                    None if base.low() != 4 => self.b(md << 6 | reg << 3 | base.low()),
                    None => {
                        self.b(md << 6 | reg << 3 | 4);
                        self.b(0x24);
                    }
                    Some((i, s)) => {
                        debug_assert!(i != X::Rsp);
                        let ss = match s {
                            1 => 0,
                            2 => 1,
                            4 => 2,
                            _ => 3,
                        };
                        self.b(md << 6 | reg << 3 | 4);
                        self.b(ss << 6 | i.low() << 3 | base.low());
                    }
                }
                match md {
                    0 => {}
                    1 => self.b(disp as i8 as u8),
                    _ => self.d32(disp),
                }
            }
        }
    }

    // ---- moves ----

    /// `mov dst, src` (64- or 32-bit).
    pub fn mov_rr(&mut self, w: bool, dst: X, src: X) {
        self.enc(w, &[0x89], src as u8, Rm::R(dst), false, 0);
    }

    /// Loads `imm` (zero-extended from 32 bits when `w` is false, sign-extended from 32 bits
    /// or a full 64-bit immediate when `w` is true) with the shortest encoding.
    /// Does not touch the flags (never `xor`).
    pub fn mov_ri(&mut self, dst: X, imm: u64) {
        if imm <= u32::MAX as u64 {
            // mov r32, imm32 (zero-extends)
            if dst.ext() {
                self.b(0x41);
            }
            self.b(0xb8 + dst.low());
            self.d32(imm as u32 as i32);
        } else if imm as i64 >= i32::MIN as i64 && (imm as i64) < 0 {
            self.enc(true, &[0xc7], 0, Rm::R(dst), false, 0);
            self.d32(imm as i32);
        } else {
            self.b(0x48 | dst.ext() as u8);
            self.b(0xb8 + dst.low());
            self.buf.extend_from_slice(&imm.to_le_bytes());
        }
    }

    /// `xor dst32, dst32` (zero, shortest; clobbers flags).
    pub fn zero(&mut self, dst: X) {
        self.alu_rr(false, Alu::Xor, dst, dst);
    }

    /// Load `[m]` of `width` into `dst`, zero-extended to 64 bits.
    pub fn load(&mut self, dst: X, m: Mem, width: Width) {
        match width {
            Width::B8 => self.enc(false, &[0x0f, 0xb6], dst as u8, Rm::M(m), false, 0),
            Width::B16 => self.enc(false, &[0x0f, 0xb7], dst as u8, Rm::M(m), false, 0),
            Width::B32 => self.enc(false, &[0x8b], dst as u8, Rm::M(m), false, 0),
            Width::B64 => self.enc(true, &[0x8b], dst as u8, Rm::M(m), false, 0),
        }
    }

    /// Load `[m]` of `width` (8, 16 or 32 bits) sign-extended to 64 bits.
    pub fn load_sx(&mut self, dst: X, m: Mem, width: Width) {
        match width {
            Width::B8 => self.enc(true, &[0x0f, 0xbe], dst as u8, Rm::M(m), false, 0),
            Width::B16 => self.enc(true, &[0x0f, 0xbf], dst as u8, Rm::M(m), false, 0),
            Width::B32 => self.enc(true, &[0x63], dst as u8, Rm::M(m), false, 0),
            Width::B64 => self.load(dst, m, Width::B64),
        }
    }

    /// Store the low `width` of `src` at `[m]`.
    pub fn store(&mut self, m: Mem, src: X, width: Width) {
        match width {
            Width::B8 => self.enc(false, &[0x88], src as u8, Rm::M(m), true, 0),
            Width::B16 => {
                self.b(0x66);
                self.enc(false, &[0x89], src as u8, Rm::M(m), false, 0)
            }
            Width::B32 => self.enc(false, &[0x89], src as u8, Rm::M(m), false, 0),
            Width::B64 => self.enc(true, &[0x89], src as u8, Rm::M(m), false, 0),
        }
    }

    /// Store an immediate of `width` at `[m]` (64-bit: the immediate is sign-extended).
    pub fn store_imm(&mut self, m: Mem, imm: i32, width: Width) {
        match width {
            Width::B8 => {
                self.enc(false, &[0xc6], 0, Rm::M(m), false, 1);
                self.b(imm as u8);
            }
            Width::B16 => {
                self.b(0x66);
                self.enc(false, &[0xc7], 0, Rm::M(m), false, 2);
                self.buf.extend_from_slice(&(imm as u16).to_le_bytes());
            }
            Width::B32 | Width::B64 => {
                self.enc(width == Width::B64, &[0xc7], 0, Rm::M(m), false, 4);
                self.d32(imm);
            }
        }
    }

    /// `lea dst, [m]` (64-bit).
    pub fn lea(&mut self, dst: X, m: Mem) {
        self.enc(true, &[0x8d], dst as u8, Rm::M(m), false, 0);
    }

    /// `lea dst32, [m]` (32-bit result, zero-extended).
    pub fn lea32(&mut self, dst: X, m: Mem) {
        self.enc(false, &[0x8d], dst as u8, Rm::M(m), false, 0);
    }

    /// `movzx dst32, src8` / `movzx dst32, src16`.
    pub fn movzx_rr(&mut self, dst: X, src: X, width: Width) {
        match width {
            Width::B8 => self.enc(false, &[0x0f, 0xb6], dst as u8, Rm::R(src), true, 0),
            _ => self.enc(false, &[0x0f, 0xb7], dst as u8, Rm::R(src), false, 0),
        }
    }

    /// `movsx dst, src8/16/32` into a 64-bit (`w`) or 32-bit destination.
    pub fn movsx_rr(&mut self, w: bool, dst: X, src: X, width: Width) {
        match width {
            Width::B8 => self.enc(w, &[0x0f, 0xbe], dst as u8, Rm::R(src), true, 0),
            Width::B16 => self.enc(w, &[0x0f, 0xbf], dst as u8, Rm::R(src), false, 0),
            _ => self.enc(true, &[0x63], dst as u8, Rm::R(src), false, 0),
        }
    }

    // ---- arithmetic ----

    /// `op dst, src`.
    pub fn alu_rr(&mut self, w: bool, op: Alu, dst: X, src: X) {
        self.enc(w, &[(op as u8) << 3 | 1], src as u8, Rm::R(dst), false, 0);
    }

    /// `op dst, [m]`.
    pub fn alu_rm(&mut self, w: bool, op: Alu, dst: X, m: Mem) {
        self.enc(w, &[(op as u8) << 3 | 3], dst as u8, Rm::M(m), false, 0);
    }

    /// `op [m], src`.
    pub fn alu_mr(&mut self, w: bool, op: Alu, m: Mem, src: X) {
        self.enc(w, &[(op as u8) << 3 | 1], src as u8, Rm::M(m), false, 0);
    }

    /// `op dst, imm` (imm sign-extended to 64 bits when `w`).
    pub fn alu_ri(&mut self, w: bool, op: Alu, dst: X, imm: i32) {
        if (-128..=127).contains(&imm) {
            self.enc(w, &[0x83], op as u8, Rm::R(dst), false, 0);
            self.b(imm as i8 as u8);
        } else if dst == X::Rax {
            self.enc(w, &[(op as u8) << 3 | 5], 0, Rm::R(X::Rax), false, 0);
            // The short rax form has no ModRM: undo it.
            self.buf.pop();
            self.d32(imm);
        } else {
            self.enc(w, &[0x81], op as u8, Rm::R(dst), false, 0);
            self.d32(imm);
        }
    }

    /// `op qword/dword [m], imm`.
    pub fn alu_mi(&mut self, w: bool, op: Alu, m: Mem, imm: i32) {
        if (-128..=127).contains(&imm) {
            self.enc(w, &[0x83], op as u8, Rm::M(m), false, 1);
            self.b(imm as i8 as u8);
        } else {
            self.enc(w, &[0x81], op as u8, Rm::M(m), false, 4);
            self.d32(imm);
        }
    }

    /// `test a, b`.
    pub fn test_rr(&mut self, w: bool, a: X, b: X) {
        self.enc(w, &[0x85], b as u8, Rm::R(a), false, 0);
    }

    /// `test r, imm` (the immediate is sign-extended for 64-bit tests). Uses the 8-bit
    /// form when the immediate fits in the low byte.
    pub fn test_ri(&mut self, w: bool, r: X, imm: i32) {
        if (0..=255).contains(&imm) {
            self.enc(false, &[0xf6], 0, Rm::R(r), true, 0);
            self.b(imm as u8);
        } else if r == X::Rax {
            if w {
                self.b(0x48);
            }
            self.b(0xa9);
            self.d32(imm);
        } else {
            self.enc(w, &[0xf7], 0, Rm::R(r), false, 0);
            self.d32(imm);
        }
    }

    /// `imul dst, src`.
    pub fn imul_rr(&mut self, w: bool, dst: X, src: X) {
        self.enc(w, &[0x0f, 0xaf], dst as u8, Rm::R(src), false, 0);
    }

    /// `imul dst, src, imm`.
    pub fn imul_rri(&mut self, w: bool, dst: X, src: X, imm: i32) {
        if (-128..=127).contains(&imm) {
            self.enc(w, &[0x6b], dst as u8, Rm::R(src), false, 0);
            self.b(imm as i8 as u8);
        } else {
            self.enc(w, &[0x69], dst as u8, Rm::R(src), false, 0);
            self.d32(imm);
        }
    }

    /// `F7 /digit r` (not, neg, mul, div, idiv).
    pub fn unary(&mut self, w: bool, op: Unary, r: X) {
        self.enc(w, &[0xf7], op as u8, Rm::R(r), false, 0);
    }

    /// `cdq` / `cqo`.
    pub fn cdq(&mut self, w: bool) {
        if w {
            self.b(0x48);
        }
        self.b(0x99);
    }

    /// `shift r, imm` (imm 1 uses the short form).
    pub fn shift_ri(&mut self, w: bool, op: Shift, r: X, imm: u8) {
        if imm == 1 {
            self.enc(w, &[0xd1], op as u8, Rm::R(r), false, 0);
        } else {
            self.enc(w, &[0xc1], op as u8, Rm::R(r), false, 0);
            self.b(imm);
        }
    }

    /// `shift r, cl`.
    pub fn shift_rcl(&mut self, w: bool, op: Shift, r: X) {
        self.enc(w, &[0xd3], op as u8, Rm::R(r), false, 0);
    }

    /// `rol r16, 8` (byte swap of the low 16 bits).
    pub fn rol16_8(&mut self, r: X) {
        self.b(0x66);
        self.enc(false, &[0xc1], Shift::Rol as u8, Rm::R(r), false, 0);
        self.b(8);
    }

    /// BMI2 `shlx`/`shrx`/`sarx dst, src, count`.
    pub fn shiftx(&mut self, w: bool, op: Shift, dst: X, src: X, count: X) {
        let pp = match op {
            Shift::Shl => 1,
            Shift::Sar => 2,
            _ => 3,
        };
        // Three-byte VEX: C4 [R X B m-mmmm=00010] [W vvvv L=0 pp]
        self.b(0xc4);
        self.b((!dst.ext() as u8) << 7 | 1 << 6 | (!src.ext() as u8) << 5 | 0x02);
        self.b((w as u8) << 7 | ((!(count as u8)) & 0xf) << 3 | pp);
        self.b(0xf7);
        self.b(0xc0 | dst.low() << 3 | src.low());
    }

    /// BMI2 `rorx dst, src, imm` (rotate right without touching the flags).
    pub fn rorx(&mut self, w: bool, dst: X, src: X, imm: u8) {
        // Three-byte VEX: C4 [R X B m-mmmm=00011] [W vvvv=1111 L=0 pp=11] F0 /r ib
        self.b(0xc4);
        self.b((!dst.ext() as u8) << 7 | 1 << 6 | (!src.ext() as u8) << 5 | 0x03);
        self.b((w as u8) << 7 | 0xf << 3 | 0x3);
        self.b(0xf0);
        self.b(0xc0 | dst.low() << 3 | src.low());
        self.b(imm);
    }

    /// `bswap r` (32- or 64-bit).
    pub fn bswap(&mut self, w: bool, r: X) {
        self.b(0x40 | (w as u8) << 3 | r.ext() as u8);
        if !w && !r.ext() {
            self.buf.pop();
        }
        self.b(0x0f);
        self.b(0xc8 + r.low());
    }

    /// `cmovcc dst, src`.
    pub fn cmov(&mut self, w: bool, c: Cond, dst: X, src: X) {
        self.enc(w, &[0x0f, 0x40 | c as u8], dst as u8, Rm::R(src), false, 0);
    }

    // ---- atomics ----

    /// `lock op [m], src` for add/or/and/xor.
    pub fn lock_alu_mr(&mut self, w: bool, op: Alu, m: Mem, src: X) {
        self.b(0xf0);
        self.alu_mr(w, op, m, src);
    }

    /// `lock xadd [m], src`.
    pub fn lock_xadd(&mut self, w: bool, m: Mem, src: X) {
        self.b(0xf0);
        self.enc(w, &[0x0f, 0xc1], src as u8, Rm::M(m), false, 0);
    }

    /// `xchg [m], src` (implicitly locked).
    pub fn xchg_mr(&mut self, w: bool, m: Mem, src: X) {
        self.enc(w, &[0x87], src as u8, Rm::M(m), false, 0);
    }

    /// `lock cmpxchg [m], src` (compares with rax/eax).
    pub fn lock_cmpxchg(&mut self, w: bool, m: Mem, src: X) {
        self.b(0xf0);
        self.enc(w, &[0x0f, 0xb1], src as u8, Rm::M(m), false, 0);
    }

    // ---- control flow ----

    fn rel(&mut self, l: Label, short_op: &[u8], long_op: &[u8]) {
        let t = self.labels[l.0 as usize];
        if t != UNBOUND {
            let d = t as i64 - (self.buf.len() + short_op.len() + 1) as i64;
            if (-128..=127).contains(&d) {
                self.buf.extend_from_slice(short_op);
                self.b(d as i8 as u8);
                return;
            }
            self.buf.extend_from_slice(long_op);
            let d = t as i64 - (self.buf.len() + 4) as i64;
            self.d32(d as i32);
            return;
        }
        self.buf.extend_from_slice(long_op);
        let at = self.buf.len() as u32;
        self.d32(0);
        self.fixups.push(Fixup {
            at,
            label: l,
            kind: FixKind::Rel32 { trailing: 0 },
        });
    }

    /// `jmp l` (rel8 when the label is bound and near, else rel32).
    pub fn jmp(&mut self, l: Label) {
        self.rel(l, &[0xeb], &[0xe9]);
    }

    /// `jcc l`.
    pub fn jcc(&mut self, c: Cond, l: Label) {
        self.rel(l, &[0x70 | c as u8], &[0x0f, 0x80 | c as u8]);
    }

    /// `jcc l` with a rel8 to a label bound later; `finish` fails if it is too far.
    pub fn jcc_short(&mut self, c: Cond, l: Label) {
        if self.is_bound(l) {
            return self.jcc(c, l);
        }
        self.b(0x70 | c as u8);
        let at = self.buf.len() as u32;
        self.b(0);
        self.fixups.push(Fixup {
            at,
            label: l,
            kind: FixKind::Rel8,
        });
    }

    /// `jmp l` with a rel8 to a label bound later.
    pub fn jmp_short(&mut self, l: Label) {
        if self.is_bound(l) {
            return self.jmp(l);
        }
        self.b(0xeb);
        let at = self.buf.len() as u32;
        self.b(0);
        self.fixups.push(Fixup {
            at,
            label: l,
            kind: FixKind::Rel8,
        });
    }

    /// `call l` (rel32).
    pub fn call(&mut self, l: Label) {
        self.b(0xe8);
        let at = self.buf.len() as u32;
        self.d32(0);
        self.fixups.push(Fixup {
            at,
            label: l,
            kind: FixKind::Rel32 { trailing: 0 },
        });
    }

    /// `call [m]`.
    pub fn call_m(&mut self, m: Mem) {
        self.enc(false, &[0xff], 2, Rm::M(m), false, 0);
    }

    /// `call r`.
    pub fn call_r(&mut self, r: X) {
        self.enc(false, &[0xff], 2, Rm::R(r), false, 0);
    }

    /// `jmp r`.
    pub fn jmp_r(&mut self, r: X) {
        self.enc(false, &[0xff], 4, Rm::R(r), false, 0);
    }

    pub fn ret(&mut self) {
        self.b(0xc3);
    }

    pub fn push(&mut self, r: X) {
        if r.ext() {
            self.b(0x41);
        }
        self.b(0x50 + r.low());
    }

    pub fn pop(&mut self, r: X) {
        if r.ext() {
            self.b(0x41);
        }
        self.b(0x58 + r.low());
    }

    pub fn ud2(&mut self) {
        self.b(0x0f);
        self.b(0x0b);
    }

    pub fn int3(&mut self) {
        self.b(0xcc);
    }

    /// 8 raw bytes (constant pool entries).
    pub fn data64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// 4 raw bytes (table entries).
    pub fn data32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Pads with `int3` to a multiple of `align`.
    pub fn align(&mut self, align: usize) {
        while !self.buf.len().is_multiple_of(align) {
            self.int3();
        }
    }

    /// Pads with multi-byte NOPs to a multiple of `align` (for loop heads).
    pub fn align_nop(&mut self, align: usize) {
        const NOPS: [&[u8]; 9] = [
            &[],
            &[0x90],
            &[0x66, 0x90],
            &[0x0f, 0x1f, 0x00],
            &[0x0f, 0x1f, 0x40, 0x00],
            &[0x0f, 0x1f, 0x44, 0x00, 0x00],
            &[0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
            &[0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
            &[0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
        ];
        let mut pad = (align - self.buf.len() % align) % align;
        while pad > 0 {
            let n = pad.min(8);
            self.buf.extend_from_slice(NOPS[n]);
            pad -= n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

    fn dis(code: &[u8]) -> Vec<String> {
        let mut d = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
        let mut f = IntelFormatter::new();
        f.options_mut().set_space_after_operand_separator(true);
        f.options_mut().set_hex_prefix("0x");
        f.options_mut().set_hex_suffix("");
        f.options_mut().set_small_hex_numbers_in_decimal(false);
        f.options_mut().set_uppercase_hex(false);
        let mut out = Vec::new();
        while d.can_decode() {
            let i = d.decode();
            assert!(!i.is_invalid(), "invalid encoding in {code:02x?}");
            let mut s = String::new();
            f.format(&i, &mut s);
            out.push(s);
        }
        out
    }

    fn one(f: impl FnOnce(&mut Asm)) -> String {
        let mut a = Asm::new();
        f(&mut a);
        a.finish().unwrap();
        let v = dis(&a.buf);
        assert_eq!(v.len(), 1, "{v:?}");
        v.into_iter().next().unwrap()
    }

    const ALL: [X; 16] = [
        X::Rax,
        X::Rcx,
        X::Rdx,
        X::Rbx,
        X::Rsp,
        X::Rbp,
        X::Rsi,
        X::Rdi,
        X::R8,
        X::R9,
        X::R10,
        X::R11,
        X::R12,
        X::R13,
        X::R14,
        X::R15,
    ];
    const N64: [&str; 16] = [
        "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12",
        "r13", "r14", "r15",
    ];
    const N32: [&str; 16] = [
        "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d",
        "r12d", "r13d", "r14d", "r15d",
    ];
    const N16: [&str; 16] = [
        "ax", "cx", "dx", "bx", "sp", "bp", "si", "di", "r8w", "r9w", "r10w", "r11w", "r12w",
        "r13w", "r14w", "r15w",
    ];
    const N8: [&str; 16] = [
        "al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", "r8b", "r9b", "r10b", "r11b", "r12b",
        "r13b", "r14b", "r15b",
    ];

    fn mem_str(base: X, disp: i32) -> String {
        let b = N64[base as usize];
        match disp {
            0 => format!("[{b}]"),
            d if d < 0 => format!("[{b}-0x{:x}]", -(d as i64)),
            d => format!("[{b}+0x{d:x}]"),
        }
    }

    #[test]
    fn register_moves_and_alu_all_registers() {
        for (i, &d) in ALL.iter().enumerate() {
            for (j, &s) in ALL.iter().enumerate() {
                assert_eq!(
                    one(|a| a.mov_rr(true, d, s)),
                    format!("mov {}, {}", N64[i], N64[j])
                );
                assert_eq!(
                    one(|a| a.mov_rr(false, d, s)),
                    format!("mov {}, {}", N32[i], N32[j])
                );
                for (op, name) in [
                    (Alu::Add, "add"),
                    (Alu::Sub, "sub"),
                    (Alu::And, "and"),
                    (Alu::Or, "or"),
                    (Alu::Xor, "xor"),
                    (Alu::Cmp, "cmp"),
                ] {
                    assert_eq!(
                        one(|a| a.alu_rr(true, op, d, s)),
                        format!("{name} {}, {}", N64[i], N64[j])
                    );
                }
                assert_eq!(
                    one(|a| a.imul_rr(true, d, s)),
                    format!("imul {}, {}", N64[i], N64[j])
                );
                assert_eq!(
                    one(|a| a.test_rr(false, d, s)),
                    format!("test {}, {}", N32[i], N32[j])
                );
                assert_eq!(
                    one(|a| a.movzx_rr(d, s, Width::B8)),
                    format!("movzx {}, {}", N32[i], N8[j])
                );
                assert_eq!(
                    one(|a| a.movsx_rr(true, d, s, Width::B16)),
                    format!("movsx {}, {}", N64[i], N16[j])
                );
                assert_eq!(
                    one(|a| a.movsx_rr(true, d, s, Width::B32)),
                    format!("movsxd {}, {}", N64[i], N32[j])
                );
                assert_eq!(
                    one(|a| a.cmov(true, Cond::A, d, s)),
                    format!("cmova {}, {}", N64[i], N64[j])
                );
                assert_eq!(
                    one(|a| a.rorx(true, d, s, 13)),
                    format!("rorx {}, {}, 0xd", N64[i], N64[j])
                );
                assert_eq!(
                    one(|a| a.rorx(false, d, s, 31)),
                    format!("rorx {}, {}, 0x1f", N32[i], N32[j])
                );
                for (op, name) in [(Shift::Rol, "rol"), (Shift::Ror, "ror")] {
                    assert_eq!(
                        one(|a| a.shift_ri(true, op, d, 7)),
                        format!("{name} {}, 0x7", N64[i])
                    );
                }
                for c in ALL {
                    let n = N64[c as usize];
                    assert_eq!(
                        one(|a| a.shiftx(true, Shift::Shl, d, s, c)),
                        format!("shlx {}, {}, {n}", N64[i], N64[j])
                    );
                    assert_eq!(
                        one(|a| a.shiftx(false, Shift::Sar, d, s, c)),
                        format!("sarx {}, {}, {}", N32[i], N32[j], N32[c as usize])
                    );
                    assert_eq!(
                        one(|a| a.shiftx(true, Shift::Shr, d, s, c)),
                        format!("shrx {}, {}, {n}", N64[i], N64[j])
                    );
                }
            }
        }
    }

    #[test]
    fn memory_operands_every_base_and_displacement() {
        for (i, &b) in ALL.iter().enumerate() {
            for disp in [
                0,
                1,
                -1,
                127,
                -128,
                128,
                -129,
                0x7fff,
                -0x8000,
                i32::MAX,
                i32::MIN,
            ] {
                let m = mem_str(b, disp);
                let got = one(|a| a.load(X::Rdx, Mem::b(b, disp), Width::B64));
                assert_eq!(got, format!("mov rdx, {m}"), "base {}", N64[i]);
                let got = one(|a| a.load(X::R9, Mem::b(b, disp), Width::B8));
                assert_eq!(got, format!("movzx r9d, byte ptr {m}"));
                let got = one(|a| a.load(X::Rsi, Mem::b(b, disp), Width::B16));
                assert_eq!(got, format!("movzx esi, word ptr {m}"));
                let got = one(|a| a.load(X::R15, Mem::b(b, disp), Width::B32));
                assert_eq!(got, format!("mov r15d, {m}"));
                let got = one(|a| a.load_sx(X::Rax, Mem::b(b, disp), Width::B8));
                assert_eq!(got, format!("movsx rax, byte ptr {m}"));
                let got = one(|a| a.load_sx(X::Rax, Mem::b(b, disp), Width::B16));
                assert_eq!(got, format!("movsx rax, word ptr {m}"));
                let got = one(|a| a.load_sx(X::Rax, Mem::b(b, disp), Width::B32));
                assert_eq!(got, format!("movsxd rax, {m}"));
                for (r, _) in ALL.iter().zip(0..) {
                    let got = one(|a| a.store(Mem::b(b, disp), *r, Width::B8));
                    assert_eq!(got, format!("mov {m}, {}", N8[*r as usize]));
                    let got = one(|a| a.store(Mem::b(b, disp), *r, Width::B16));
                    assert_eq!(got, format!("mov {m}, {}", N16[*r as usize]));
                }
                let got = one(|a| a.store(Mem::b(b, disp), X::R13, Width::B32));
                assert_eq!(got, format!("mov {m}, r13d"));
                let got = one(|a| a.store(Mem::b(b, disp), X::Rdi, Width::B64));
                assert_eq!(got, format!("mov {m}, rdi"));
                let got = one(|a| a.lea(X::R11, Mem::b(b, disp)));
                assert_eq!(got, format!("lea r11, {m}"));
            }
        }
    }

    #[test]
    fn immediates_through_iced() {
        // Compare semantic fields instead of text for immediates.
        let check = |f: &dyn Fn(&mut Asm), mnem: iced_x86::Mnemonic, imm: Option<u64>| {
            let mut a = Asm::new();
            f(&mut a);
            a.finish().unwrap();
            let mut d = Decoder::with_ip(64, &a.buf, 0, DecoderOptions::NONE);
            let ins = d.decode();
            assert_eq!(d.position(), a.buf.len(), "{:02x?}", a.buf);
            assert_eq!(ins.mnemonic(), mnem, "{:02x?}", a.buf);
            if let Some(v) = imm {
                let k = (0..ins.op_count())
                    .find(|&k| {
                        matches!(
                            ins.op_kind(k),
                            iced_x86::OpKind::Immediate8
                                | iced_x86::OpKind::Immediate16
                                | iced_x86::OpKind::Immediate32
                                | iced_x86::OpKind::Immediate64
                                | iced_x86::OpKind::Immediate8to32
                                | iced_x86::OpKind::Immediate8to64
                                | iced_x86::OpKind::Immediate32to64
                        )
                    })
                    .expect("immediate operand");
                assert_eq!(ins.immediate(k), v, "{:02x?}", a.buf);
            }
        };
        use iced_x86::Mnemonic as M;
        for &r in &ALL {
            for imm in [
                0i32,
                1,
                -1,
                127,
                -128,
                128,
                255,
                256,
                -129,
                i32::MAX,
                i32::MIN,
            ] {
                let sx = imm as i64 as u64;
                check(&|a| a.alu_ri(true, Alu::Add, r, imm), M::Add, Some(sx));
                check(&|a| a.alu_ri(true, Alu::Cmp, r, imm), M::Cmp, Some(sx));
                check(&|a| a.alu_ri(false, Alu::Xor, r, imm), M::Xor, None);
                check(&|a| a.test_ri(true, r, imm), M::Test, None);
                check(&|a| a.imul_rri(true, r, X::R10, imm), M::Imul, Some(sx));
                check(
                    &|a| a.store_imm(Mem::b(r, imm), imm, Width::B64),
                    M::Mov,
                    Some(sx),
                );
                check(
                    &|a| a.store_imm(Mem::b(r, 8), imm, Width::B16),
                    M::Mov,
                    Some(imm as u16 as u64),
                );
                check(
                    &|a| a.store_imm(Mem::b(r, 8), imm, Width::B8),
                    M::Mov,
                    Some(imm as u8 as u64),
                );
                check(
                    &|a| a.alu_mi(true, Alu::Sub, Mem::b(r, -8), imm),
                    M::Sub,
                    Some(sx),
                );
            }
            for imm in [
                0u64,
                1,
                0xffff_ffff,
                0x1_0000_0000,
                u64::MAX,
                1 << 63,
                0xffff_ffff_8000_0000,
            ] {
                check(&|a| a.mov_ri(r, imm), M::Mov, None);
                let mut a = Asm::new();
                a.mov_ri(r, imm);
                let mut d = Decoder::with_ip(64, &a.buf, 0, DecoderOptions::NONE);
                let ins = d.decode();
                let v = ins.immediate(1);
                let v = if ins.op_kind(1) == iced_x86::OpKind::Immediate32 {
                    v & 0xffff_ffff
                } else {
                    v
                };
                assert_eq!(v, imm);
            }
            for s in [1u8, 3, 31, 63] {
                check(&|a| a.shift_ri(true, Shift::Sar, r, s), M::Sar, None);
            }
            check(&|a| a.shift_rcl(false, Shift::Shl, r), M::Shl, None);
            check(&|a| a.bswap(true, r), M::Bswap, None);
            check(&|a| a.bswap(false, r), M::Bswap, None);
            check(&|a| a.rol16_8(r), M::Rol, Some(8));
            check(&|a| a.unary(true, Unary::Div, r), M::Div, None);
            check(&|a| a.unary(false, Unary::Neg, r), M::Neg, None);
            check(&|a| a.push(r), M::Push, None);
            check(&|a| a.pop(r), M::Pop, None);
            check(&|a| a.call_r(r), M::Call, None);
            check(&|a| a.lock_xadd(true, Mem::b(r, 4), X::R9), M::Xadd, None);
            check(
                &|a| a.lock_cmpxchg(false, Mem::b(r, 4), X::Rsi),
                M::Cmpxchg,
                None,
            );
            check(&|a| a.xchg_mr(true, Mem::b(r, 4), X::Rsi), M::Xchg, None);
            check(
                &|a| a.lock_alu_mr(true, Alu::Or, Mem::b(r, 4), X::Rsi),
                M::Or,
                None,
            );
        }
        assert_eq!(one(|a| a.cdq(true)), "cqo");
        assert_eq!(one(|a| a.cdq(false)), "cdq");
        assert_eq!(one(|a| a.ret()), "ret");
        assert_eq!(one(|a| a.ud2()), "ud2");
        assert_eq!(
            one(|a| a.lea(X::R11, Mem::bi(X::R13, X::Rbp, 8, -4))),
            "lea r11, [r13+rbp*8-0x4]"
        );
        assert_eq!(
            one(|a| a.lea(X::Rax, Mem::bi(X::Rsp, X::R12, 1, 0))),
            "lea rax, [rsp+r12]"
        );
        assert_eq!(
            one(|a| a.lea(X::Rax, Mem::bi(X::R13, X::R12, 2, 0))),
            "lea rax, [r13+r12*2]"
        );
        assert_eq!(
            one(|a| a.lea32(X::Rax, Mem::bi(X::Rbp, X::Rcx, 1, 0))),
            "lea eax, [rbp+rcx]"
        );
        let lock = one(|a| a.lock_xadd(false, Mem::b(X::Rdi, 0), X::Rax));
        assert_eq!(lock, "lock xadd [rdi], eax");
    }

    #[test]
    fn labels_and_branches() {
        let mut a = Asm::new();
        let top = a.new_label();
        let fwd = a.new_label();
        let pool = a.new_label();
        a.bind(top);
        a.jcc(Cond::E, fwd);
        a.jcc_short(Cond::Ne, fwd);
        a.jmp(top);
        a.call_m(Mem::Rip(pool));
        a.lea(X::Rax, Mem::Rip(pool));
        a.bind(fwd);
        a.ret();
        a.align(8);
        a.bind(pool);
        a.data64(0x1122334455667788);
        let pool_at = a.label_offset(pool).unwrap() as u64;
        let fwd_at = a.label_offset(fwd).unwrap() as u64;
        a.finish().unwrap();
        let mut d = Decoder::with_ip(64, &a.buf, 0, DecoderOptions::NONE);
        let i = d.decode();
        assert_eq!(i.near_branch_target(), fwd_at);
        let i = d.decode();
        assert_eq!(i.near_branch_target(), fwd_at);
        assert_eq!(i.len(), 2);
        let i = d.decode();
        assert_eq!(i.near_branch_target(), 0);
        assert_eq!(i.len(), 2);
        let i = d.decode();
        assert_eq!(i.memory_displacement64(), pool_at);
        let i = d.decode();
        assert_eq!(i.memory_displacement64(), pool_at);
    }

    #[test]
    fn short_fixup_out_of_range_is_an_error() {
        let mut a = Asm::new();
        let l = a.new_label();
        a.jmp_short(l);
        for _ in 0..200 {
            a.int3();
        }
        a.bind(l);
        assert!(a.finish().is_err());
    }

    #[test]
    fn nop_padding_decodes() {
        for start in 0..16 {
            let mut a = Asm::new();
            for _ in 0..start {
                a.int3();
            }
            a.align_nop(16);
            assert_eq!(a.pos() % 16, 0);
            for s in dis(&a.buf[start..]) {
                assert!(s.starts_with("nop") || s == "xchg ax, ax", "{s}");
            }
        }
    }
}
