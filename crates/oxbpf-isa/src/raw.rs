//! The raw 8-byte instruction slot.

use crate::opcode::SLOT;

/// One 8-byte instruction slot, fields split but not interpreted.
///
/// Layout (RFC 9669, little-endian host order as Linux uses on x86-64): opcode, a byte
/// holding `dst` in the low nibble and `src` in the high nibble, a signed 16-bit offset and
/// a signed 32-bit immediate.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct RawInsn {
    pub opcode: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl RawInsn {
    /// A slot from its fields. `dst` and `src` are truncated to 4 bits.
    pub const fn new(opcode: u8, dst: u8, src: u8, off: i16, imm: i32) -> RawInsn {
        RawInsn {
            opcode,
            dst: dst & 0xf,
            src: src & 0xf,
            off,
            imm,
        }
    }

    /// Splits 8 bytes into fields.
    pub const fn from_bytes(b: [u8; SLOT]) -> RawInsn {
        RawInsn {
            opcode: b[0],
            dst: b[1] & 0xf,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// Joins the fields into 8 bytes.
    pub const fn to_bytes(self) -> [u8; SLOT] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [
            self.opcode,
            (self.dst & 0xf) | (self.src << 4),
            off[0],
            off[1],
            imm[0],
            imm[1],
            imm[2],
            imm[3],
        ]
    }

    /// The slot as the 64-bit number the conformance suite's `-- raw` sections use.
    pub const fn to_u64(self) -> u64 {
        u64::from_le_bytes(self.to_bytes())
    }

    /// The slot from a 64-bit number (little-endian byte order).
    pub const fn from_u64(v: u64) -> RawInsn {
        RawInsn::from_bytes(v.to_le_bytes())
    }

    /// Instruction class (low 3 bits of the opcode).
    pub const fn class(self) -> u8 {
        self.opcode & 0x07
    }
}

/// Splits a byte buffer into slots; `None` when its length is not a multiple of 8.
pub fn slots(bytes: &[u8]) -> Option<Vec<RawInsn>> {
    if !bytes.len().is_multiple_of(SLOT) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(SLOT)
            .map(|c| {
                let mut a = [0u8; SLOT];
                a.copy_from_slice(c);
                RawInsn::from_bytes(a)
            })
            .collect(),
    )
}
