//! A random program generator for differential testing: XDP programs built from blocks
//! that exercise the verifier's rules (ALU, stack, packet bounds, map values, context,
//! pointer arithmetic, branches, loops), mostly valid, sometimes not.
#![allow(dead_code)]

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5555_5555_5555_5555 | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

const SIZES: [(&str, i64); 4] = [("u8", 1), ("u16", 2), ("u32", 4), ("u64", 8)];

/// One random program (assembly text) using map 0: a hash map with 4-byte keys and
/// 16-byte values, and map 1: a 4096-byte ring buffer.
pub fn program(rng: &mut Rng) -> String {
    program_with(rng, false)
}

/// [`program`] for a context whose packet pointers are 8-byte fields at 0 and 8 (as a
/// userspace run lays them out) instead of xdp_md's 4-byte ones.
pub fn program_with(rng: &mut Rng, ptr64: bool) -> String {
    let (t, end) = if ptr64 { ("u64", 8) } else { ("u32", 4) };
    let mut out = vec![
        "r6 = r1".to_string(),
        format!("r7 = *({t} *)(r6 + 0)"),
        format!("r8 = *({t} *)(r6 + {end})"),
        "r9 = 0".to_string(),
    ];
    let nblocks = 2 + rng.below(8);
    let mut label = 0;
    for _ in 0..nblocks {
        block(rng, &mut out, &mut label);
    }
    out.push("r0 = 2".to_string());
    out.push("exit".to_string());
    // Functions the blocks called.
    if out.iter().any(|l| l == "call fadd") {
        out.push("fadd:".to_string());
        out.push("r0 = r1".to_string());
        out.push("r0 += r2".to_string());
        out.push("exit".to_string());
    }
    if out.iter().any(|l| l == "call fstore") {
        out.push("fstore:".to_string());
        out.push("*(u64 *)(r1 + 0) = r2".to_string());
        out.push("r0 = *(u64 *)(r1 + 0)".to_string());
        out.push("exit".to_string());
    }
    out.join("\n")
}

fn addr(r: &str, off: i64) -> String {
    if off < 0 {
        format!("{r} - {}", -off)
    } else {
        format!("{r} + {off}")
    }
}

fn imm(rng: &mut Rng) -> i64 {
    match rng.below(6) {
        0 => rng.below(16) as i64,
        1 => rng.below(256) as i64 - 128,
        2 => *rng.pick(&[
            0,
            1,
            -1,
            7,
            8,
            15,
            16,
            31,
            32,
            63,
            64,
            255,
            4096,
            i32::MAX as i64,
            i32::MIN as i64,
        ]),
        3 => (rng.next() as i32) as i64,
        4 => rng.below(70) as i64,
        _ => rng.below(1 << 16) as i64,
    }
}

fn block(rng: &mut Rng, out: &mut Vec<String>, label: &mut u32) {
    let mut l = || {
        *label += 1;
        format!("L{label}")
    };
    match rng.below(18) {
        0 | 1 => {
            // Scalar arithmetic on r9.
            let ops = [
                "+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "<<=", ">>=", "s>>=", "=",
            ];
            let op = *rng.pick(&ops);
            let w = if rng.chance(30) { "w" } else { "r" };
            let mut k = imm(rng);
            if matches!(op, "/=" | "%=") && k == 0 {
                k = 3;
            }
            if matches!(op, "<<=" | ">>=" | "s>>=") {
                k = rng.below(if w == "w" { 32 } else { 64 }) as i64;
            }
            if rng.chance(30) {
                out.push(
                    format!("{w}9 {op} {w}0")
                        .replace("r0", "r9")
                        .replace("w0", "w9"),
                );
            } else {
                out.push(format!("{w}9 {op} {k}"));
            }
        }
        2 => {
            // Stack store.
            let (t, n) = *rng.pick(&SIZES);
            let off = if rng.chance(85) {
                (1 + rng.below(64)) * n as u64
            } else {
                1 + rng.below(530)
            };
            let src = if rng.chance(50) {
                "r9".to_string()
            } else {
                imm(rng).to_string()
            };
            let src = if rng.chance(10) {
                "r7".to_string()
            } else {
                src
            };
            out.push(format!("*({t} *)(r10 - {off}) = {src}"));
        }
        3 => {
            // Stack load.
            let (t, n) = *rng.pick(&SIZES);
            let off = if rng.chance(90) {
                (1 + rng.below(16)) * n as u64
            } else {
                1 + rng.below(530)
            };
            out.push(format!("r9 = *({t} *)(r10 - {off})"));
        }
        4 | 5 => {
            // Packet access with a bounds check.
            let (t, n) = *rng.pick(&SIZES);
            let check = rng.below(64) as i64;
            let at = if rng.chance(80) {
                (check - n).max(0)
            } else {
                rng.below(64) as i64
            };
            let skip = l();
            out.push("r2 = r7".to_string());
            if rng.chance(30) {
                out.push("r3 = r9".to_string());
                out.push(format!("r3 &= {}", rng.pick(&[7, 15, 63, 255, -1])));
                out.push("r2 += r3".to_string());
                out.push("r4 = r2".to_string());
                out.push(format!("r4 += {check}"));
                let cmp = *rng.pick(&["r4 > r8", "r8 < r4", "r4 >= r8"]);
                out.push(format!("if {cmp} goto {skip}"));
                out.push(format!("r9 = *({t} *)(r2 + {at})"));
            } else {
                out.push(format!("r2 += {check}"));
                let cmp = *rng.pick(&["r2 > r8", "r8 < r2", "r2 >= r8", "r8 <= r2"]);
                out.push(format!("if {cmp} goto {skip}"));
                if rng.chance(30) {
                    out.push(format!("*({t} *)(r7 + {at}) = r9"));
                } else {
                    out.push(format!("r9 = *({t} *)(r7 + {at})"));
                }
            }
            out.push(format!("{skip}:"));
        }
        6 | 7 => {
            // Map lookup.
            let skip = l();
            out.push("*(u32 *)(r10 - 4) = 0".to_string());
            out.push("r2 = r10".to_string());
            out.push("r2 += -4".to_string());
            out.push("r1 = map_idx(0) ll".to_string());
            out.push("call bpf_map_lookup_elem".to_string());
            if rng.chance(90) {
                out.push(format!("if r0 == 0 goto {skip}"));
            }
            let (t, n) = *rng.pick(&SIZES);
            if rng.chance(40) {
                out.push("r3 = r9".to_string());
                let mask = *rng.pick(&[3, 7, 15, 8, 12]);
                out.push(format!("r3 &= {mask}"));
                out.push("r0 += r3".to_string());
            }
            let at = if rng.chance(80) {
                rng.below((16 / n as u64).max(1)) as i64 * n
            } else {
                rng.below(20) as i64 - 2
            };
            let a = addr("r0", at);
            if rng.chance(50) {
                out.push(format!("r9 = *({t} *)({a})"));
            } else {
                out.push(format!("*({t} *)({a}) = r9"));
            }
            out.push(format!("{skip}:"));
        }
        8 => {
            // Context load.
            let off = *rng.pick(&[0, 4, 8, 12, 16, 20, 24, 2]);
            let (t, _) = if rng.chance(85) {
                ("u32", 4)
            } else {
                *rng.pick(&SIZES)
            };
            out.push(format!("r9 = *({t} *)(r6 + {off})"));
        }
        9 => {
            // Stack pointer arithmetic with a variable offset.
            out.push("r2 = r10".to_string());
            out.push(format!("r2 += -{}", 8 * (1 + rng.below(8))));
            out.push("r3 = r9".to_string());
            out.push(format!("r3 &= {}", rng.pick(&[0, 1, 3, 7, 8, 63])));
            out.push("r2 += r3".to_string());
            let (t, _) = *rng.pick(&SIZES);
            if rng.chance(50) {
                out.push(format!("*({t} *)(r2 + 0) = 0"));
            } else {
                out.push(format!("r9 = *({t} *)(r2 + 0)"));
            }
        }
        10 => {
            // A branch over the next block.
            let skip = l();
            let ops = [
                "==", "!=", ">", ">=", "<", "<=", "s>", "s>=", "s<", "s<=", "&",
            ];
            let op = *rng.pick(&ops);
            let w = if rng.chance(30) { "w" } else { "r" };
            out.push(format!("if {w}9 {op} {} goto {skip}", imm(rng)));
            block(rng, out, label);
            out.push(format!("{skip}:"));
        }
        12 => {
            // Spill a pointer and fill it back (sometimes narrowly).
            let k = 8 * (1 + rng.below(8));
            out.push(format!("*(u64 *)(r10 - {k}) = r7"));
            if rng.chance(80) {
                out.push(format!("r7 = *(u64 *)(r10 - {k})"));
            } else {
                out.push(format!("r9 = *(u32 *)(r10 - {k})"));
            }
        }
        13 => {
            // Ring buffer reservation.
            let skip = l();
            let size = *rng.pick(&[8, 16, 24]);
            out.push("r1 = map_idx(1) ll".to_string());
            out.push(format!("r2 = {size}"));
            out.push("r3 = 0".to_string());
            out.push("call bpf_ringbuf_reserve".to_string());
            if rng.chance(90) {
                out.push(format!("if r0 == 0 goto {skip}"));
            }
            let at = if rng.chance(80) {
                8 * rng.below(size / 8)
            } else {
                rng.below(size + 8)
            };
            out.push(format!("*(u64 *)(r0 + {at}) = r9"));
            out.push("r1 = r0".to_string());
            out.push("r2 = 0".to_string());
            if rng.chance(92) {
                out.push(format!(
                    "call {}",
                    if rng.chance(50) {
                        "bpf_ringbuf_submit"
                    } else {
                        "bpf_ringbuf_discard"
                    }
                ));
            }
            out.push(format!("{skip}:"));
        }
        14 => {
            // Move the packet start; the old pointers die unless reloaded.
            out.push("r1 = r6".to_string());
            out.push(format!("r2 = {}", rng.below(16) as i64 - 8));
            out.push("call bpf_xdp_adjust_head".to_string());
            if rng.chance(85) {
                out.push(out[1].clone());
                out.push(out[2].clone());
            }
        }
        15 => {
            // Call a function with arguments.
            out.push("r1 = r9".to_string());
            out.push(format!("r2 = {}", imm(rng)));
            out.push("call fadd".to_string());
            out.push("r9 = r0".to_string());
        }
        16 => {
            // A function writes the caller's stack through a pointer.
            let k = 8 * (1 + rng.below(8));
            out.push("r1 = r10".to_string());
            out.push(format!("r1 += -{}", if rng.chance(90) { k } else { k + 4 }));
            out.push("r2 = r9".to_string());
            out.push("call fstore".to_string());
            out.push(format!("r9 = *(u64 *)(r10 - {k})"));
        }
        _ => {
            // A small bounded loop.
            let top = l();
            let n = 1 + rng.below(12);
            out.push("r1 = 0".to_string());
            out.push(format!("{top}:"));
            out.push("r9 += r1".to_string());
            out.push("r1 += 1".to_string());
            out.push(format!("if r1 < {n} goto {top}"));
        }
    }
}
