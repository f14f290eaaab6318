//! Instructions as text, in the syntax of LLVM's BPF assembly and the kernel's verifier
//! log (`r0 = *(u32 *)(r1 + 4)`), with helper names resolved.

use crate::helpers;
use oxbpf_isa::{
    AluOp, AtomicOp, ByteOrder, CallTarget, Insn, JmpOp, LoadImm64, Operand, PacketMode, Size,
    Width,
};

fn reg(r: oxbpf_isa::Reg, w: Width) -> String {
    match w {
        Width::W64 => format!("r{}", r.num()),
        Width::W32 => format!("w{}", r.num()),
    }
}

fn operand(o: &Operand, w: Width) -> String {
    match o {
        Operand::Reg(r) => reg(*r, w),
        Operand::Imm(i) => i.to_string(),
    }
}

fn size(s: Size, signed: bool) -> &'static str {
    match (s, signed) {
        (Size::B, false) => "u8",
        (Size::H, false) => "u16",
        (Size::W, false) => "u32",
        (Size::DW, false) => "u64",
        (Size::B, true) => "s8",
        (Size::H, true) => "s16",
        (Size::W, true) => "s32",
        (Size::DW, true) => "s64",
    }
}

fn addr(r: oxbpf_isa::Reg, off: i16) -> String {
    if off < 0 {
        format!("r{} - {}", r.num(), -(off as i32))
    } else {
        format!("r{} + {}", r.num(), off)
    }
}

fn rel(off: i64) -> String {
    if off < 0 {
        format!("{off}")
    } else {
        format!("+{off}")
    }
}

/// The instruction as text. `helper_name` resolves helper ids (built-ins are tried
/// first).
pub fn format_insn(insn: &Insn, helper_name: &dyn Fn(i32) -> Option<String>) -> String {
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let d = reg(dst, width);
            let s = operand(&src, width);
            let sym = match op {
                AluOp::Add => "+=",
                AluOp::Sub => "-=",
                AluOp::Mul => "*=",
                AluOp::Div => "/=",
                AluOp::SDiv => "s/=",
                AluOp::Or => "|=",
                AluOp::And => "&=",
                AluOp::Lsh => "<<=",
                AluOp::Rsh => ">>=",
                AluOp::Mod => "%=",
                AluOp::SMod => "s%=",
                AluOp::Xor => "^=",
                AluOp::Arsh => "s>>=",
                AluOp::Mov => return format!("{d} = {s}"),
                AluOp::MovSx8 => return format!("{d} = (s8){s}"),
                AluOp::MovSx16 => return format!("{d} = (s16){s}"),
                AluOp::MovSx32 => return format!("{d} = (s32){s}"),
            };
            format!("{d} {sym} {s}")
        }
        Insn::Neg { width, dst } => {
            let d = reg(dst, width);
            format!("{d} = -{d}")
        }
        Insn::Endian { order, bits, dst } => {
            let d = reg(dst, Width::W64);
            let f = match order {
                ByteOrder::ToLe => "le",
                ByteOrder::ToBe => "be",
                ByteOrder::Swap => "bswap",
            };
            format!("{d} = {f}{bits} {d}")
        }
        Insn::AddrSpaceCast {
            dst,
            src,
            dst_as,
            src_as,
        } => format!(
            "r{} = addr_space_cast(r{}, {dst_as}, {src_as})",
            dst.num(),
            src.num()
        ),
        Insn::Load {
            size: sz,
            sign_extend,
            dst,
            src,
            off,
        } => format!(
            "r{} = *({} *)({})",
            dst.num(),
            size(sz, sign_extend),
            addr(src, off)
        ),
        Insn::Store {
            size: sz,
            dst,
            off,
            src,
        } => format!(
            "*({} *)({}) = {}",
            size(sz, false),
            addr(dst, off),
            operand(&src, Width::W64)
        ),
        Insn::Atomic {
            size: sz,
            op,
            dst,
            src,
            off,
        } => {
            let a = addr(dst, off);
            let t = size(sz, false);
            let w = if sz == Size::DW {
                Width::W64
            } else {
                Width::W32
            };
            let s = reg(src, w);
            let bits = sz.bytes() * 8;
            match op {
                AtomicOp::Add { fetch: false } => format!("lock *({t} *)({a}) += {s}"),
                AtomicOp::Or { fetch: false } => format!("lock *({t} *)({a}) |= {s}"),
                AtomicOp::And { fetch: false } => format!("lock *({t} *)({a}) &= {s}"),
                AtomicOp::Xor { fetch: false } => format!("lock *({t} *)({a}) ^= {s}"),
                AtomicOp::Add { fetch: true } => {
                    format!("{s} = atomic_fetch_add(({t} *)({a}), {s})")
                }
                AtomicOp::Or { fetch: true } => format!("{s} = atomic_fetch_or(({t} *)({a}), {s})"),
                AtomicOp::And { fetch: true } => {
                    format!("{s} = atomic_fetch_and(({t} *)({a}), {s})")
                }
                AtomicOp::Xor { fetch: true } => {
                    format!("{s} = atomic_fetch_xor(({t} *)({a}), {s})")
                }
                AtomicOp::Xchg => format!("{s} = xchg_{bits}({a}, {s})"),
                AtomicOp::CmpXchg => {
                    let r0 = if w == Width::W64 { "r0" } else { "w0" };
                    format!("{r0} = cmpxchg_{bits}({a}, {r0}, {s})")
                }
                AtomicOp::LoadAcquire => {
                    format!(
                        "{} = load_acquire(({t} *)({}))",
                        reg(dst, w),
                        addr(src, off)
                    )
                }
                AtomicOp::StoreRelease => format!("store_release(({t} *)({a}), {s})"),
            }
        }
        Insn::LoadImm64 { dst, value } => {
            let d = dst.num();
            match value {
                LoadImm64::Imm(v) => format!("r{d} = {:#x} ll", v),
                LoadImm64::MapFd(fd) => format!("r{d} = map[fd:{fd}]"),
                LoadImm64::MapValue { fd, offset } => format!("r{d} = map_value[fd:{fd}]+{offset}"),
                LoadImm64::VariableAddr { btf_id, btf_fd } => {
                    format!("r{d} = btf_var[id:{btf_id},fd:{btf_fd}]")
                }
                LoadImm64::CodeAddr(off) => format!("r{d} = func[{}]", rel(off as i64)),
                LoadImm64::MapIdx(i) => format!("r{d} = map[idx:{i}]"),
                LoadImm64::MapIdxValue { idx, offset } => {
                    format!("r{d} = map_value[idx:{idx}]+{offset}")
                }
            }
        }
        Insn::LoadPacket {
            mode,
            size: sz,
            imm,
        } => match mode {
            PacketMode::Abs => format!("r0 = *({} *)skb[{imm}]", size(sz, false)),
            PacketMode::Ind(r) => format!("r0 = *({} *)skb[r{} + {imm}]", size(sz, false), r.num()),
        },
        Insn::Ja { off, long } => {
            if long {
                format!("gotol {}", rel(off as i64))
            } else {
                format!("goto {}", rel(off as i64))
            }
        }
        Insn::Jump {
            width,
            op,
            dst,
            src,
            off,
        } => {
            let sym = match op {
                JmpOp::Eq => "==",
                JmpOp::Ne => "!=",
                JmpOp::Set => "&",
                JmpOp::Gt => ">",
                JmpOp::Ge => ">=",
                JmpOp::Lt => "<",
                JmpOp::Le => "<=",
                JmpOp::Sgt => "s>",
                JmpOp::Sge => "s>=",
                JmpOp::Slt => "s<",
                JmpOp::Sle => "s<=",
            };
            format!(
                "if {} {sym} {} goto {}",
                reg(dst, width),
                operand(&src, width),
                rel(off as i64)
            )
        }
        Insn::MayGoto { off } => format!("may_goto {}", rel(off as i64)),
        Insn::Call(CallTarget::Helper(id)) => {
            match helper_name(id).or_else(|| helpers::linux_name(id).map(String::from)) {
                Some(n) => format!("call {n}"),
                None => format!("call {id}"),
            }
        }
        Insn::Call(CallTarget::Local(off)) => format!("call pc{}", rel(off as i64)),
        Insn::Call(CallTarget::External { id, module }) => {
            if module == 0 {
                format!("call kfunc#{id}")
            } else {
                format!("call kfunc#{id}@{module}")
            }
        }
        Insn::CallX { reg: r } => format!("callx r{}", r.num()),
        Insn::Exit => "exit".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxbpf_isa::Reg;

    #[test]
    fn formats_like_llvm() {
        let none = |_| None;
        let i = Insn::Load {
            size: Size::W,
            sign_extend: false,
            dst: Reg::R0,
            src: Reg::R1,
            off: 4,
        };
        assert_eq!(format_insn(&i, &none), "r0 = *(u32 *)(r1 + 4)");
        let s = Insn::Store {
            size: Size::DW,
            dst: Reg::R10,
            off: -8,
            src: Operand::Imm(0),
        };
        assert_eq!(format_insn(&s, &none), "*(u64 *)(r10 - 8) = 0");
        let j = Insn::Jump {
            width: Width::W32,
            op: JmpOp::Sgt,
            dst: Reg::R2,
            src: Operand::Reg(Reg::R3),
            off: -4,
        };
        assert_eq!(format_insn(&j, &none), "if w2 s> w3 goto -4");
        assert_eq!(
            format_insn(&Insn::Call(CallTarget::Helper(1)), &none),
            "call bpf_map_lookup_elem"
        );
        let la = Insn::Atomic {
            size: Size::DW,
            op: AtomicOp::LoadAcquire,
            dst: Reg::R0,
            src: Reg::R1,
            off: 8,
        };
        assert_eq!(
            format_insn(&la, &none),
            "r0 = load_acquire((u64 *)(r1 + 8))"
        );
    }
}
