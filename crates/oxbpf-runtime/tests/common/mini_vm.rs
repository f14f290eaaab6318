//! A small test engine for real eBPF bytecode until the interpreter lands in main: the
//! instruction subset the packet tests use (ALU, loads/stores through checked regions,
//! jumps, helper calls, `lddw` immediates, byte swaps, legacy packet loads), with a
//! 512-byte stack. Memory goes only through the run's regions.

use oxbpf_isa::{
    AluOp, ByteOrder, CallTarget, Insn, JmpOp, LoadImm64, Operand, PacketMode, Program, Reg, Width,
};
use oxbpf_vm::{
    EngineKind, Executable, HelperCtx, Helpers, MemoryRegion, RegionKind, RunContext, RunOutcome,
    VmError,
};

pub struct MiniVm {
    insns: Vec<Insn>,
    slot_to_index: Vec<usize>,
    helpers: Helpers,
}

impl MiniVm {
    pub fn new(p: &Program, helpers: &Helpers) -> MiniVm {
        let insns: Vec<Insn> = p.insns().to_vec();
        let mut slot_to_index = Vec::new();
        for (i, insn) in insns.iter().enumerate() {
            for _ in 0..insn.slots() {
                slot_to_index.push(i);
            }
        }
        MiniVm {
            insns,
            slot_to_index,
            helpers: helpers.clone(),
        }
    }
}

fn fault(pc: usize, e: oxbpf_vm::AccessFault) -> VmError {
    VmError::MemoryFault { pc, fault: e }
}

impl Executable for MiniVm {
    fn engine(&self) -> EngineKind {
        EngineKind::Interpreter
    }

    fn run(&self, ctx: &mut RunContext<'_>) -> Result<RunOutcome, VmError> {
        let mut stack = [0u8; 512];
        let mut r = [0u64; 11];
        r[1..6].copy_from_slice(&ctx.args);
        let top = stack.as_mut_ptr() as u64 + 512;
        r[10] = top;
        let stack_region = MemoryRegion::writable(&mut stack, RegionKind::Stack);
        let (regions, mut env) = ctx.parts();
        regions.push(stack_region);
        let budget = 1_000_000u64;
        let mut pc = 0usize; // instruction index
        let mut slot_of = Vec::with_capacity(self.insns.len());
        let mut s = 0;
        for i in &self.insns {
            slot_of.push(s);
            s += i.slots();
        }
        let target = |pc: usize, off: i64| -> usize {
            let slot = (slot_of[pc] as i64 + self.insns[pc].slots() as i64 + off) as usize;
            self.slot_to_index[slot]
        };
        let mut n = 0u64;
        let result = loop {
            n += 1;
            if n > budget {
                break Err(VmError::BudgetExhausted {
                    pc: slot_of[pc],
                    budget,
                });
            }
            let Some(insn) = self.insns.get(pc).copied() else {
                break Err(VmError::FellOffEnd {
                    pc: s.saturating_sub(1),
                });
            };
            let spc = slot_of[pc];
            let val = |o: Operand, r: &[u64; 11]| match o {
                Operand::Reg(x) => r[x.index()],
                Operand::Imm(i) => i as i64 as u64,
            };
            pc += 1;
            match insn {
                Insn::Alu {
                    width,
                    op,
                    dst,
                    src,
                } => {
                    let a = r[dst.index()];
                    let b = val(src, &r);
                    let v = match width {
                        Width::W64 => match op {
                            AluOp::Add => a.wrapping_add(b),
                            AluOp::Sub => a.wrapping_sub(b),
                            AluOp::Mul => a.wrapping_mul(b),
                            AluOp::Or => a | b,
                            AluOp::And => a & b,
                            AluOp::Xor => a ^ b,
                            AluOp::Lsh => a << (b & 63),
                            AluOp::Rsh => a >> (b & 63),
                            AluOp::Mov => b,
                            AluOp::Arsh => ((a as i64) >> (b & 63)) as u64,
                            AluOp::Div => a.checked_div(b).unwrap_or(0),
                            AluOp::Mod => a.checked_rem(b).unwrap_or(a),
                            _ => {
                                break Err(VmError::Unsupported {
                                    pc: spc,
                                    what: "ALU op in the test engine",
                                })
                            }
                        },
                        Width::W32 => {
                            let (a, b) = (a as u32, b as u32);
                            (match op {
                                AluOp::Add => a.wrapping_add(b),
                                AluOp::Sub => a.wrapping_sub(b),
                                AluOp::Mul => a.wrapping_mul(b),
                                AluOp::Or => a | b,
                                AluOp::And => a & b,
                                AluOp::Xor => a ^ b,
                                AluOp::Lsh => a << (b & 31),
                                AluOp::Rsh => a >> (b & 31),
                                AluOp::Mov => b,
                                AluOp::Arsh => ((a as i32) >> (b & 31)) as u32,
                                _ => {
                                    break Err(VmError::Unsupported {
                                        pc: spc,
                                        what: "ALU op in the test engine",
                                    })
                                }
                            }) as u64
                        }
                    };
                    r[dst.index()] = v;
                }
                Insn::Endian { order, bits, dst } => {
                    let a = r[dst.index()];
                    r[dst.index()] = match (order, bits) {
                        (ByteOrder::ToLe, 16) => a as u16 as u64,
                        (ByteOrder::ToLe, 32) => a as u32 as u64,
                        (ByteOrder::ToLe, _) => a,
                        (_, 16) => (a as u16).swap_bytes() as u64,
                        (_, 32) => (a as u32).swap_bytes() as u64,
                        _ => a.swap_bytes(),
                    };
                }
                Insn::LoadImm64 {
                    dst,
                    value: LoadImm64::Imm(v),
                } => r[dst.index()] = v,
                Insn::Load {
                    size,
                    sign_extend: false,
                    dst,
                    src,
                    off,
                } => {
                    let addr = r[src.index()].wrapping_add(off as i64 as u64);
                    let b = match regions.slice(addr, size.bytes()) {
                        Ok(b) => b,
                        Err(e) => break Err(fault(spc, e)),
                    };
                    let mut v = [0u8; 8];
                    v[..b.len()].copy_from_slice(b);
                    r[dst.index()] = u64::from_le_bytes(v);
                }
                Insn::Store {
                    size,
                    dst,
                    off,
                    src,
                } => {
                    let addr = r[dst.index()].wrapping_add(off as i64 as u64);
                    let v = val(src, &r);
                    match regions.slice_mut(addr, size.bytes()) {
                        Ok(b) => b.copy_from_slice(&v.to_le_bytes()[..size.bytes()]),
                        Err(e) => break Err(fault(spc, e)),
                    }
                }
                Insn::LoadPacket { mode, size, imm } => {
                    let off = match mode {
                        PacketMode::Abs => imm as i64,
                        PacketMode::Ind(src) => (r[src.index()] as i32).wrapping_add(imm) as i64,
                    };
                    let pkt = regions
                        .iter()
                        .filter(|g| g.kind == RegionKind::Packet)
                        .last()
                        .copied();
                    let Some(pkt) =
                        pkt.filter(|p| off >= 0 && (off as u64) + size.bytes() as u64 <= p.len)
                    else {
                        break Ok(0);
                    };
                    let b = regions
                        .slice(pkt.start + off as u64, size.bytes())
                        .map_err(|e| fault(spc, e))?;
                    r[0] = b.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64);
                }
                Insn::Ja { off, .. } => pc = target(pc - 1, off as i64),
                Insn::Jump {
                    width,
                    op,
                    dst,
                    src,
                    off,
                } => {
                    let (mut a, mut b) = (r[dst.index()], val(src, &r));
                    if width == Width::W32 {
                        a = a as u32 as u64;
                        b = b as u32 as u64;
                    }
                    let (sa, sb) = if width == Width::W32 {
                        (a as u32 as i32 as i64, b as u32 as i32 as i64)
                    } else {
                        (a as i64, b as i64)
                    };
                    let taken = match op {
                        JmpOp::Eq => a == b,
                        JmpOp::Ne => a != b,
                        JmpOp::Gt => a > b,
                        JmpOp::Ge => a >= b,
                        JmpOp::Lt => a < b,
                        JmpOp::Le => a <= b,
                        JmpOp::Set => a & b != 0,
                        JmpOp::Sgt => sa > sb,
                        JmpOp::Sge => sa >= sb,
                        JmpOp::Slt => sa < sb,
                        JmpOp::Sle => sa <= sb,
                    };
                    if taken {
                        pc = target(pc - 1, off as i64);
                    }
                }
                Insn::Call(CallTarget::Helper(id)) => {
                    let Some(h) = self.helpers.get(id as u64) else {
                        break Err(VmError::UnknownHelper {
                            pc: spc,
                            id: id as u64,
                        });
                    };
                    let mut hctx = HelperCtx::new(regions, env.as_deref_mut(), spc);
                    match (h.func)(&mut hctx, [r[1], r[2], r[3], r[4], r[5]]) {
                        Ok(v) => r[0] = v,
                        Err(e) => {
                            break Err(VmError::HelperFailed {
                                pc: spc,
                                id: id as u64,
                                message: e.to_string(),
                            })
                        }
                    }
                }
                Insn::Exit => break Ok(r[0]),
                _ => {
                    break Err(VmError::Unsupported {
                        pc: spc,
                        what: "instruction in the test engine",
                    })
                }
            }
            let _ = Reg::R0;
        };
        regions.remove(top - 512, RegionKind::Stack);
        result.map(|r0| RunOutcome {
            r0,
            insns_executed: Some(n),
        })
    }
}
