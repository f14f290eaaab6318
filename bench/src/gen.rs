//! A large generated program for compile-throughput measurements.
//!
//! The mix resembles compiled code: 64- and 32-bit ALU operations with immediates and
//! registers, multiplications and divisions by non-zero constants, byte swaps, 64-bit
//! immediates, stack loads and stores, and short forward conditional jumps (over 1 to 3
//! instructions). Every register and stack slot is written before it is read and no
//! pointer other than `r10` is formed. The jumps compare `r8` and `r9`, constants no other
//! instruction writes, so the Linux verifier knows every branch's direction and walks the
//! program in one path (it loses track of values after some multiplications, and would
//! otherwise explore both sides of jumps on them). It reads no input.

use oxbpf_isa::RawInsn;

/// Deterministic xorshift64 generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

const ALU64_IMM: &[u8] = &[0x07, 0x17, 0x27, 0x47, 0x57, 0xa7, 0xb7];
const ALU64_REG: &[u8] = &[0x0f, 0x1f, 0x2f, 0x4f, 0x5f, 0xaf, 0xbf];
const ALU32_IMM: &[u8] = &[0x04, 0x14, 0x24, 0x44, 0x54, 0xa4, 0xb4];
const ALU32_REG: &[u8] = &[0x0c, 0x1c, 0x2c, 0x4c, 0x5c, 0xac, 0xbc];
const SHIFT_IMM64: &[u8] = &[0x67, 0x77, 0xc7];
const SHIFT_IMM32: &[u8] = &[0x64, 0x74, 0xc4];
const DIV_IMM: &[u8] = &[0x37, 0x97, 0x34, 0x94];
const JMP_IMM: &[u8] = &[
    0x15, 0x25, 0x35, 0x45, 0x55, 0x65, 0x75, 0xa5, 0xb5, 0xc5, 0xd5, 0x16, 0x26, 0x56, 0xa6,
];
const JMP_REG: &[u8] = &[0x1d, 0x2d, 0x3d, 0x5d, 0x6d, 0xad, 0xcd, 0x1e, 0x5e];

/// Stack slots used (8 bytes each, below `r10`).
const SLOTS: i16 = 32;

/// A program of about `slots` instruction slots (at least 100), the same for the same
/// `seed`.
pub fn generated_program(slots: usize, seed: u64) -> Vec<u8> {
    let slots = slots.max(100);
    let mut rng = Rng(seed | 1);
    let mut out: Vec<RawInsn> = Vec::with_capacity(slots + 8);
    // Registers r0..r9 get constants, then every stack slot a register.
    for r in 0..10u8 {
        out.push(RawInsn::new(0xb7, r, 0, 0, rng.next() as i32));
    }
    for s in 1..=SLOTS {
        out.push(RawInsn::new(0x7b, 10, (s % 10) as u8, -8 * s, 0));
    }
    // Destinations r0..r7; r8 and r9 stay the constants the jumps compare.
    let reg = |rng: &mut Rng| rng.below(8) as u8;
    let cond = |rng: &mut Rng| 8 + rng.below(2) as u8;
    let simple = |rng: &mut Rng| -> RawInsn {
        match rng.below(4) {
            0 => RawInsn::new(rng.pick(ALU64_IMM), reg(rng), 0, 0, rng.next() as i32),
            1 => RawInsn::new(rng.pick(ALU64_REG), reg(rng), reg(rng), 0, 0),
            2 => RawInsn::new(rng.pick(ALU32_IMM), reg(rng), 0, 0, rng.next() as i32),
            _ => RawInsn::new(rng.pick(ALU32_REG), reg(rng), reg(rng), 0, 0),
        }
    };
    while out.len() + 2 < slots {
        match rng.below(20) {
            0..=10 => out.push(simple(&mut rng)),
            16 => {
                let op = rng.pick(SHIFT_IMM64);
                out.push(RawInsn::new(op, reg(&mut rng), 0, 0, rng.below(64) as i32));
            }
            11 => {
                let op = rng.pick(SHIFT_IMM32);
                out.push(RawInsn::new(op, reg(&mut rng), 0, 0, rng.below(32) as i32));
            }
            12 => {
                let op = rng.pick(DIV_IMM);
                let imm = 1 + rng.below(1000) as i32;
                out.push(RawInsn::new(op, reg(&mut rng), 0, 0, imm));
            }
            13 => {
                let op = if rng.below(2) == 0 { 0xd4 } else { 0xdc };
                let width = rng.pick(&[16, 32, 64]);
                out.push(RawInsn::new(op, reg(&mut rng), 0, 0, width));
            }
            14 => {
                let s = 1 + rng.below(SLOTS as u64) as i16;
                out.push(RawInsn::new(0x7b, 10, reg(&mut rng), -8 * s, 0));
            }
            15 => {
                let s = 1 + rng.below(SLOTS as u64) as i16;
                out.push(RawInsn::new(0x79, reg(&mut rng), 10, -8 * s, 0));
            }
            17 => {
                let v = rng.next();
                out.push(RawInsn::new(0x18, reg(&mut rng), 0, 0, v as u32 as i32));
                out.push(RawInsn::new(0, 0, 0, 0, (v >> 32) as u32 as i32));
            }
            _ => {
                // A forward jump over 1..=3 single-slot instructions.
                let skip = 1 + rng.below(3) as i16;
                let jump = if rng.below(2) == 0 {
                    RawInsn::new(
                        rng.pick(JMP_IMM),
                        cond(&mut rng),
                        0,
                        skip,
                        rng.next() as i32,
                    )
                } else {
                    RawInsn::new(rng.pick(JMP_REG), cond(&mut rng), cond(&mut rng), skip, 0)
                };
                out.push(jump);
                for _ in 0..skip {
                    out.push(simple(&mut rng));
                }
            }
        }
    }
    out.push(RawInsn::new(0x95, 0, 0, 0, 0));
    out.iter().flat_map(|i| i.to_bytes()).collect()
}
