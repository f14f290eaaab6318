//! Exact semantics of ALU operations and comparisons on concrete values (RFC 9669 with the
//! Linux conventions): what the abstract operations must over-approximate, and what
//! constant folding computes.

use oxbpf_isa::{AluOp, ByteOrder, JmpOp, Width};

/// `dst op src` for a two-operand ALU operation; `src` is the operand as the instruction
/// sees it (an immediate already sign-extended to 64 bits). 32-bit results are
/// zero-extended.
pub fn alu(width: Width, op: AluOp, dst: u64, src: u64) -> u64 {
    match width {
        Width::W64 => alu64(op, dst, src),
        Width::W32 => alu32(op, dst as u32, src as u32) as u64,
    }
}

fn alu64(op: AluOp, a: u64, b: u64) -> u64 {
    match op {
        AluOp::Add => a.wrapping_add(b),
        AluOp::Sub => a.wrapping_sub(b),
        AluOp::Mul => a.wrapping_mul(b),
        AluOp::Div => a.checked_div(b).unwrap_or(0),
        AluOp::SDiv => {
            if b == 0 {
                0
            } else {
                (a as i64).wrapping_div(b as i64) as u64
            }
        }
        AluOp::Mod => {
            if b == 0 {
                a
            } else {
                a % b
            }
        }
        AluOp::SMod => {
            if b == 0 {
                a
            } else {
                (a as i64).wrapping_rem(b as i64) as u64
            }
        }
        AluOp::Or => a | b,
        AluOp::And => a & b,
        AluOp::Xor => a ^ b,
        AluOp::Lsh => a.wrapping_shl((b & 63) as u32),
        AluOp::Rsh => a.wrapping_shr((b & 63) as u32),
        AluOp::Arsh => ((a as i64).wrapping_shr((b & 63) as u32)) as u64,
        AluOp::Mov => b,
        AluOp::MovSx8 => b as u8 as i8 as i64 as u64,
        AluOp::MovSx16 => b as u16 as i16 as i64 as u64,
        AluOp::MovSx32 => b as u32 as i32 as i64 as u64,
    }
}

fn alu32(op: AluOp, a: u32, b: u32) -> u32 {
    match op {
        AluOp::Add => a.wrapping_add(b),
        AluOp::Sub => a.wrapping_sub(b),
        AluOp::Mul => a.wrapping_mul(b),
        AluOp::Div => a.checked_div(b).unwrap_or(0),
        AluOp::SDiv => {
            if b == 0 {
                0
            } else {
                (a as i32).wrapping_div(b as i32) as u32
            }
        }
        AluOp::Mod => {
            if b == 0 {
                a
            } else {
                a % b
            }
        }
        AluOp::SMod => {
            if b == 0 {
                a
            } else {
                (a as i32).wrapping_rem(b as i32) as u32
            }
        }
        AluOp::Or => a | b,
        AluOp::And => a & b,
        AluOp::Xor => a ^ b,
        AluOp::Lsh => a.wrapping_shl(b & 31),
        AluOp::Rsh => a.wrapping_shr(b & 31),
        AluOp::Arsh => ((a as i32).wrapping_shr(b & 31)) as u32,
        AluOp::Mov => b,
        AluOp::MovSx8 => b as u8 as i8 as i32 as u32,
        AluOp::MovSx16 => b as u16 as i16 as i32 as u32,
        // Not encodable in the 32-bit form; treated as a plain move.
        AluOp::MovSx32 => b,
    }
}

/// `-dst`.
pub fn neg(width: Width, a: u64) -> u64 {
    match width {
        Width::W64 => a.wrapping_neg(),
        Width::W32 => (a as u32).wrapping_neg() as u64,
    }
}

/// Byte swap / conversion of the low `bits` bits (on a little-endian machine).
pub fn endian(order: ByteOrder, bits: u8, a: u64) -> u64 {
    match (order, bits) {
        (ByteOrder::ToLe, 16) => a as u16 as u64,
        (ByteOrder::ToLe, 32) => a as u32 as u64,
        (ByteOrder::ToLe, _) => a,
        (_, 16) => (a as u16).swap_bytes() as u64,
        (_, 32) => (a as u32).swap_bytes() as u64,
        (_, _) => a.swap_bytes(),
    }
}

/// Outcome of `a op b` at the given width.
pub fn cmp(width: Width, op: JmpOp, a: u64, b: u64) -> bool {
    match width {
        Width::W64 => cmp64(op, a, b),
        Width::W32 => cmp64_from32(op, a as u32, b as u32),
    }
}

fn cmp64(op: JmpOp, a: u64, b: u64) -> bool {
    let (sa, sb) = (a as i64, b as i64);
    match op {
        JmpOp::Eq => a == b,
        JmpOp::Ne => a != b,
        JmpOp::Set => a & b != 0,
        JmpOp::Gt => a > b,
        JmpOp::Ge => a >= b,
        JmpOp::Lt => a < b,
        JmpOp::Le => a <= b,
        JmpOp::Sgt => sa > sb,
        JmpOp::Sge => sa >= sb,
        JmpOp::Slt => sa < sb,
        JmpOp::Sle => sa <= sb,
    }
}

fn cmp64_from32(op: JmpOp, a: u32, b: u32) -> bool {
    let (sa, sb) = (a as i32, b as i32);
    match op {
        JmpOp::Eq => a == b,
        JmpOp::Ne => a != b,
        JmpOp::Set => a & b != 0,
        JmpOp::Gt => a > b,
        JmpOp::Ge => a >= b,
        JmpOp::Lt => a < b,
        JmpOp::Le => a <= b,
        JmpOp::Sgt => sa > sb,
        JmpOp::Sge => sa >= sb,
        JmpOp::Slt => sa < sb,
        JmpOp::Sle => sa <= sb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_edges() {
        assert_eq!(alu(Width::W64, AluOp::Div, 7, 0), 0);
        assert_eq!(alu(Width::W64, AluOp::Mod, 7, 0), 7);
        assert_eq!(alu(Width::W32, AluOp::Mod, 0x1_0000_0007, 0), 7);
        assert_eq!(
            alu(Width::W64, AluOp::SDiv, i64::MIN as u64, u64::MAX),
            i64::MIN as u64
        );
        assert_eq!(alu(Width::W64, AluOp::SMod, i64::MIN as u64, u64::MAX), 0);
        assert_eq!(
            alu(Width::W64, AluOp::SMod, (-7i64) as u64, 2),
            (-1i64) as u64
        );
        assert_eq!(
            alu(Width::W32, AluOp::SDiv, (-8i32) as u32 as u64, 2),
            0xffff_fffc
        );
    }

    #[test]
    fn shifts_mask_the_amount() {
        assert_eq!(alu(Width::W64, AluOp::Lsh, 1, 65), 2);
        assert_eq!(alu(Width::W32, AluOp::Lsh, 1, 33), 2);
        assert_eq!(alu(Width::W32, AluOp::Arsh, 0x8000_0000, 4), 0xf800_0000);
        assert_eq!(alu(Width::W32, AluOp::MovSx8, 0, 0x80), 0xffff_ff80);
    }

    #[test]
    fn endian_conversions() {
        assert_eq!(endian(ByteOrder::ToBe, 16, 0x1234_5678), 0x7856);
        assert_eq!(endian(ByteOrder::ToLe, 16, 0x1234_5678), 0x5678);
        assert_eq!(
            endian(ByteOrder::Swap, 32, 0xaabb_ccdd_1122_3344),
            0x4433_2211
        );
    }
}
