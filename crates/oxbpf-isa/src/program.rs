//! A whole decoded program: instructions plus the slot bookkeeping that jumps need.

use crate::decode::{decode_fast, decode_insn, DecodeError, DecodeErrorKind};
use crate::insn::Insn;
use crate::opcode::SLOT;
use crate::raw::RawInsn;
use std::sync::Arc;

/// Upper bound on program size, in slots. Linux allows 1,000,000 instructions for
/// privileged loaders (`BPF_COMPLEXITY_LIMIT_INSNS`); the same bound here keeps every
/// slot index and offset inside `u32`/`i32` arithmetic.
pub const MAX_SLOTS: usize = 1_000_000;

const HI_SLOT: u32 = u32::MAX;

/// A decoded, structurally valid program.
///
/// Guarantees (checked by [`Program::decode`] and [`Program::from_insns`]):
/// every instruction is one the ISA defines; every jump, `may_goto`, local call and
/// code-address `lddw` lands on the first slot of an instruction inside the program.
/// Nothing is said about reachability, termination or memory safety: that is the
/// verifier's job.
///
/// A program is immutable and shares its tables: `clone` is a reference-count increment
/// (what, for example, the JIT keeps to compile its instruction-counting body later).
#[derive(Clone, PartialEq, Eq)]
pub struct Program {
    parts: Arc<Parts>,
}

#[derive(PartialEq, Eq)]
struct Parts {
    insns: Vec<Insn>,
    /// `slot_of[i]`: first slot of instruction `i`.
    slot_of: Vec<u32>,
    /// `index_of[s]`: instruction starting at slot `s`, or `HI_SLOT` for the second slot
    /// of a `lddw`.
    index_of: Vec<u32>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("insns", &self.parts.insns)
            .field("slot_of", &self.parts.slot_of)
            .field("index_of", &self.parts.index_of)
            .finish()
    }
}

impl Program {
    /// Decodes and checks a program from its bytes.
    pub fn decode(bytes: &[u8]) -> Result<Program, DecodeError> {
        if bytes.is_empty() {
            return Err(DecodeError {
                pc: 0,
                kind: DecodeErrorKind::Empty,
            });
        }
        if !bytes.len().is_multiple_of(SLOT) {
            return Err(DecodeError {
                pc: bytes.len() / SLOT,
                kind: DecodeErrorKind::TrailingBytes { len: bytes.len() },
            });
        }
        let nslots = bytes.len() / SLOT;
        if nslots > MAX_SLOTS {
            return Err(DecodeError {
                pc: MAX_SLOTS,
                kind: DecodeErrorKind::TooLong {
                    slots: nslots,
                    limit: MAX_SLOTS,
                },
            });
        }
        // Decoded straight from the bytes: no intermediate slot vector.
        let (chunks, _) = bytes.as_chunks::<SLOT>();
        Self::decode_slots(chunks.len(), |i| RawInsn::from_bytes(chunks[i]))
    }

    /// Decodes and checks a program from raw slots.
    pub fn from_raw(raw: &[RawInsn]) -> Result<Program, DecodeError> {
        if raw.is_empty() {
            return Err(DecodeError {
                pc: 0,
                kind: DecodeErrorKind::Empty,
            });
        }
        if raw.len() > MAX_SLOTS {
            return Err(DecodeError {
                pc: MAX_SLOTS,
                kind: DecodeErrorKind::TooLong {
                    slots: raw.len(),
                    limit: MAX_SLOTS,
                },
            });
        }
        Self::decode_slots(raw.len(), |i| raw[i])
    }

    /// Decodes `n` (1 to [`MAX_SLOTS`]) slots, `get(i)` giving slot `i`, then checks every
    /// target. Well-formed common instructions take [`decode_fast`]; the rest, and every
    /// malformed slot, [`decode_insn`], so errors are exactly its errors, at the first bad
    /// slot; target errors come after, for the first bad instruction in order.
    #[inline(always)]
    fn decode_slots(n: usize, get: impl Fn(usize) -> RawInsn) -> Result<Program, DecodeError> {
        // Every instruction takes at least one slot: `n` bounds all three.
        let mut insns = Vec::with_capacity(n);
        let mut slot_of = Vec::with_capacity(n);
        let mut index_of = Vec::with_capacity(n);
        // Instructions with a branch offset, checked once the slot map is complete.
        let mut branches: Vec<u32> = Vec::new();
        let mut pc = 0;
        while pc < n {
            let r = get(pc);
            let (insn, len, branch) = match decode_fast(r, || (pc + 1 < n).then(|| get(pc + 1))) {
                Some(d) => d,
                None => {
                    let two = [r, if pc + 1 < n { get(pc + 1) } else { r }];
                    let avail = if pc + 1 < n { &two[..] } else { &two[..1] };
                    let (insn, len) =
                        decode_insn(avail).map_err(|kind| DecodeError { pc, kind })?;
                    (insn, len, insn.branch_offset().is_some())
                }
            };
            let index = insns.len() as u32;
            if branch {
                branches.push(index);
            }
            index_of.push(index);
            if len == 2 {
                index_of.push(HI_SLOT);
            }
            slot_of.push(pc as u32);
            insns.push(insn);
            pc += len;
        }
        let p = Parts {
            insns,
            slot_of,
            index_of,
        };
        p.check_targets(branches.iter().map(|&i| i as usize))?;
        Ok(Program { parts: Arc::new(p) })
    }

    /// Builds a program from instructions, checking each and every target.
    pub fn from_insns(insns: Vec<Insn>) -> Result<Program, DecodeError> {
        if insns.is_empty() {
            return Err(DecodeError {
                pc: 0,
                kind: DecodeErrorKind::Empty,
            });
        }
        let mut slot_of = Vec::with_capacity(insns.len());
        let mut index_of = Vec::with_capacity(insns.len());
        let mut pc = 0usize;
        for (i, insn) in insns.iter().enumerate() {
            insn.validate().map_err(|kind| DecodeError { pc, kind })?;
            slot_of.push(pc as u32);
            index_of.push(i as u32);
            if insn.slots() == 2 {
                index_of.push(HI_SLOT);
            }
            pc += insn.slots();
            if pc > MAX_SLOTS {
                return Err(DecodeError {
                    pc: MAX_SLOTS,
                    kind: DecodeErrorKind::TooLong {
                        slots: pc,
                        limit: MAX_SLOTS,
                    },
                });
            }
        }
        let p = Parts {
            insns,
            slot_of,
            index_of,
        };
        p.check_targets(0..p.insns.len())?;
        Ok(Program { parts: Arc::new(p) })
    }
}

impl Parts {
    /// Checks the targets of instructions `indices` (in increasing order; those without
    /// a branch offset are skipped).
    fn check_targets(&self, indices: impl Iterator<Item = usize>) -> Result<(), DecodeError> {
        let last = self.index_of.len() - 1;
        for i in indices {
            let insn = &self.insns[i];
            let Some(off) = insn.branch_offset() else {
                continue;
            };
            let pc = self.slot_of[i] as usize;
            let what = match insn {
                Insn::Call(_) => "call",
                Insn::LoadImm64 { .. } => "code address",
                _ => "jump",
            };
            // For lddw the offset counts from the slot after its first slot, as for calls.
            let target = pc as i64 + 1 + off;
            if target < 0 || target as usize > last {
                return Err(DecodeError {
                    pc,
                    kind: DecodeErrorKind::TargetOutOfRange { what, target, last },
                });
            }
            if self.index_of[target as usize] == HI_SLOT {
                return Err(DecodeError {
                    pc,
                    kind: DecodeErrorKind::TargetInLddw {
                        what,
                        target: target as usize,
                        lddw: target as usize - 1,
                    },
                });
            }
        }
        Ok(())
    }
}

impl Program {
    /// The instructions, in order (a `lddw` is one entry).
    pub fn insns(&self) -> &[Insn] {
        &self.parts.insns
    }

    /// Number of instructions (a `lddw` counts once).
    pub fn len(&self) -> usize {
        self.parts.insns.len()
    }

    /// Always false: a program has at least one instruction.
    pub fn is_empty(&self) -> bool {
        self.parts.insns.is_empty()
    }

    /// Number of 8-byte slots (a `lddw` counts twice).
    pub fn slot_count(&self) -> usize {
        self.parts.index_of.len()
    }

    /// First slot of instruction `index`. Panics if `index` is not below [`Program::len`].
    pub fn slot(&self, index: usize) -> usize {
        self.parts.slot_of[index] as usize
    }

    /// The instruction that starts at `slot`; `None` past the end or for the second slot
    /// of a `lddw`.
    pub fn index_at_slot(&self, slot: usize) -> Option<usize> {
        match self.parts.index_of.get(slot) {
            Some(&i) if i != HI_SLOT => Some(i as usize),
            _ => None,
        }
    }

    /// Index of the instruction that instruction `index` branches (or calls) to, for
    /// jumps, `may_goto`, local calls and code-address loads; `None` for other
    /// instructions and for an `index` past the end.
    pub fn branch_target(&self, index: usize) -> Option<usize> {
        let off = self.parts.insns.get(index)?.branch_offset()?;
        let slot = self.parts.slot_of[index] as i64 + 1 + off;
        self.index_at_slot(slot as usize)
    }

    /// `(index, slot, instruction)` for each instruction.
    pub fn iter(&self) -> impl Iterator<Item = (usize, usize, &Insn)> + '_ {
        self.parts
            .insns
            .iter()
            .enumerate()
            .map(move |(i, insn)| (i, self.parts.slot_of[i] as usize, insn))
    }

    /// The program's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.slot_count() * SLOT);
        for insn in &self.parts.insns {
            insn.encode_into(&mut out);
        }
        out
    }
}
