//! Soundness fuzzing: programs the verifier accepts must run without a memory fault in the
//! checked interpreter.
//!
//! Two generators, each run on `OXBPF_SOUNDNESS_COUNT` seeds (default 1500) from
//! `OXBPF_SOUNDNESS_SEED` (default 1):
//! - `oxbpf-testgen` programs (plain memory in `r1`, stack, calls, loops, atomics, test
//!   helpers), randomly mutated (offsets, sizes, registers, immediates, comparisons) so
//!   that many become unsafe;
//! - the block generator of the Linux differential test (packet bounds, map values,
//!   variable stack offsets, branches, loops) on a context with 8-byte packet pointers.
//!
//! Accepted programs run on several inputs; a memory fault, a misaligned atomic or running
//! off the end is a verifier bug, reported with the seed and the program.
//! `scripts/verifier-soundness.sh` runs a longer campaign.

mod common;

use oxbpf_isa::{Insn, JmpOp, LoadImm64, Operand, Program, Reg, Size};
use oxbpf_testgen::{Config, TestCase};
use oxbpf_verifier::{
    verify, Arg, ContextDescriptor, ContextField, FieldKind, HelperProto, HookSpec, MapSpec,
    MapType, Narrow, PacketAccess, ProgramType, Ret, VerifierConfig,
};
use oxbpf_vm::interp::Interpreter;
use oxbpf_vm::{Executable, Helpers, RegionKind, RunContext, VmError};
use std::sync::Arc;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs that end like this mean the verifier let something unsafe through.
fn unsafe_outcome(e: &VmError) -> bool {
    matches!(
        e,
        VmError::MemoryFault { .. }
            | VmError::MisalignedAtomic { .. }
            | VmError::CallDepthExceeded { .. }
            | VmError::FellOffEnd { .. }
            | VmError::UnknownHelper { .. }
            | VmError::UnknownExternal { .. }
    )
}

fn memory_hook(size: u32) -> ProgramType {
    let ctx = ContextDescriptor::new(
        "buffer",
        size,
        vec![ContextField::scalar("data", 0, size)
            .writable()
            .with_narrow(Narrow::LoadsAndStores)],
    )
    .expect("descriptor");
    let mut h = HookSpec::new("fuzz_memory", ctx);
    h.plain_memory = true;
    h.allow_ptr_leaks = true;
    ProgramType::Hook(Arc::new(h))
}

fn testgen_helpers() -> Vec<HelperProto> {
    let a = Arg::Anything;
    vec![
        HelperProto::new(1, "mix", vec![a, a, a, a, a], Ret::Integer),
        HelperProto::new(
            2,
            "load",
            vec![
                Arg::FixedMem {
                    size: 8,
                    write: false,
                },
                a,
            ],
            Ret::Integer,
        ),
        HelperProto::new(
            3,
            "store",
            vec![
                Arg::FixedMem {
                    size: 8,
                    write: true,
                },
                a,
                a,
            ],
            Ret::Integer,
        ),
    ]
}

fn other_reg(rng: &mut common::gen::Rng) -> Reg {
    Reg::new(rng.below(10) as u8).unwrap_or(Reg::R0)
}

/// Changes one to three instructions in place (never the slot count, never a jump offset).
fn mutate(insns: &mut [Insn], rng: &mut common::gen::Rng) -> Vec<String> {
    let mut done = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let i = rng.below(insns.len() as u64) as usize;
        let d = [-16i16, -8, -4, -2, -1, 1, 2, 4, 8, 16, 64, 512][rng.below(12) as usize];
        let before = insns[i];
        match &mut insns[i] {
            Insn::Load { off, size, src, .. } => match rng.below(3) {
                0 => *off = off.wrapping_add(d),
                1 => *size = [Size::B, Size::H, Size::W, Size::DW][rng.below(4) as usize],
                _ => *src = other_reg(rng),
            },
            Insn::Store { off, size, dst, .. } => match rng.below(3) {
                0 => *off = off.wrapping_add(d),
                1 => *size = [Size::B, Size::H, Size::W, Size::DW][rng.below(4) as usize],
                _ => *dst = other_reg(rng),
            },
            Insn::Atomic { off, dst, .. } => match rng.below(2) {
                0 => *off = off.wrapping_add(d),
                _ => *dst = other_reg(rng),
            },
            Insn::Alu { src, op, .. } => match (rng.below(3), src) {
                (0, Operand::Imm(v)) => *v = v.wrapping_add(d as i32),
                (1, _) => *op = oxbpf_isa::AluOp::Or,
                (_, s) => *s = Operand::Reg(other_reg(rng)),
            },
            Insn::Jump { op, src, .. } => match (rng.below(2), src) {
                (0, Operand::Imm(v)) => *v = v.wrapping_add(d as i32),
                _ => {
                    *op = [
                        JmpOp::Lt,
                        JmpOp::Le,
                        JmpOp::Gt,
                        JmpOp::Ge,
                        JmpOp::Ne,
                        JmpOp::Eq,
                    ][rng.below(6) as usize]
                }
            },
            _ => {}
        }
        if insns[i] != before {
            done.push(format!("{i}: {before:?} -> {:?}", insns[i]));
        }
    }
    done
}

#[test]
fn testgen_mutants_accepted_are_safe() {
    let count = env_u64("OXBPF_SOUNDNESS_COUNT", 1500);
    let seed0 = env_u64("OXBPF_SOUNDNESS_SEED", 1);
    let configs = [Config::vm(), Config::kernel()];
    let helpers = oxbpf_testgen::run::test_helpers();
    let (mut accepted, mut runs) = (0, 0);
    let mut bugs = Vec::new();
    for seed in seed0..seed0 + count {
        // Alternate the generator's two profiles (the "kernel" one avoids what Linux-style
        // verifiers refuse outright, so more of its mutants are accepted).
        let case = TestCase::generate(seed, &configs[(seed % 2) as usize]);
        let mut rng = common::gen::Rng::new(seed ^ 0xabcdef);
        let mut insns = case.insns();
        let mutations = if rng.chance(85) {
            mutate(&mut insns, &mut rng)
        } else {
            Vec::new()
        };
        let Ok(prog) = Program::from_insns(insns) else {
            continue;
        };
        let mut conf = VerifierConfig::new(memory_hook(case.input.len() as u32));
        conf.helpers = testgen_helpers();
        conf.allow_uninit_stack = true;
        // Keep each case cheap; a program too complex to verify is just rejected.
        conf.max_insns = 50_000;
        if verify(&prog, &conf).is_err() {
            continue;
        }
        accepted += 1;
        let exe = Interpreter::new(&prog, &helpers).expect("interpreter");
        for k in 0..3u8 {
            let mut mem: Vec<u8> = case
                .input
                .iter()
                .map(|b| b.wrapping_mul(k + 1) ^ k)
                .collect();
            let mut ctx = RunContext::with_memory(&mut mem).with_budget(Some(2_000_000));
            runs += 1;
            if let Err(e) = exe.run(&mut ctx) {
                if unsafe_outcome(&e) {
                    bugs.push(format!(
                        "seed {seed}: accepted, then {e}\nmutations: {mutations:?}\n{}",
                        oxbpf_isa::disassemble(&prog, &Default::default())
                    ));
                    break;
                }
            }
        }
    }
    println!("testgen mutants: {count} programs, {accepted} accepted, {runs} runs");
    assert!(
        accepted > count / 10,
        "too few programs accepted to mean anything"
    );
    assert!(bugs.is_empty(), "{}", bugs.join("\n\n"));
}

fn packet_hook() -> ProgramType {
    let ctx = ContextDescriptor::new(
        "fuzz_md",
        32,
        vec![
            ContextField::pointer("data", 0, 8, FieldKind::PacketData),
            ContextField::pointer("data_end", 8, 8, FieldKind::PacketEnd),
            ContextField::scalar("a", 16, 4),
            ContextField::scalar("b", 20, 4),
            ContextField::scalar("c", 24, 4),
            ContextField::scalar("d", 28, 4),
        ],
    )
    .expect("descriptor");
    let mut h = HookSpec::new("fuzz_packet", ctx);
    h.packet = PacketAccess::ReadWrite;
    h.allow_ptr_leaks = true;
    ProgramType::Hook(Arc::new(h))
}

/// Map handle the rewritten `lddw` loads (the test lookup helper ignores it).
const MAP_HANDLE: u64 = 0x4d41_5000;

#[test]
fn block_programs_accepted_are_safe() {
    let count = env_u64("OXBPF_SOUNDNESS_COUNT", 1500);
    let seed0 = env_u64("OXBPF_SOUNDNESS_SEED", 1);
    let mut conf = VerifierConfig::new(packet_hook()).with_maps(vec![
        MapSpec::new("m", MapType::Hash, 4, 16, 16),
        MapSpec::new("rb", MapType::Ringbuf, 0, 0, 4096),
    ]);
    conf.allow_uninit_stack = true;
    conf.max_insns = 50_000;
    let (mut accepted, mut runs) = (0, 0);
    let mut bugs = Vec::new();
    for seed in seed0..seed0 + count {
        let mut rng = common::gen::Rng::new(seed);
        let src = common::gen::program_with(&mut rng, true);
        let prog = oxbpf_isa::assemble(&src).expect("generated programs assemble");
        if verify(&prog, &conf).is_err() {
            continue;
        }
        accepted += 1;
        // Resolve the map reference the way a loader would.
        let insns: Vec<Insn> = prog
            .insns()
            .iter()
            .map(|i| match *i {
                Insn::LoadImm64 {
                    dst,
                    value: LoadImm64::MapIdx(_),
                } => Insn::LoadImm64 {
                    dst,
                    value: LoadImm64::Imm(MAP_HANDLE),
                },
                other => other,
            })
            .collect();
        let exe_prog = Program::from_insns(insns).expect("same shape");
        for k in 0..4u64 {
            let mut value = [0u8; 16];
            let value_addr = value.as_mut_ptr() as u64;
            let mut helpers = Helpers::new();
            // Lookups find the value for even keys (as a hash map would, or not).
            helpers.register(1, "map_lookup_elem", move |ctx, a| {
                let key = ctx.read(a[1], 4)?;
                Ok(if key[0].wrapping_add(k as u8) % 2 == 0 {
                    value_addr
                } else {
                    0
                })
            });
            // Ring buffer reservations of 8, 16 and 24 bytes, each exactly its size and
            // apart from the others (an overrun hits unmapped bytes).
            let mut scratch = [0u8; 256];
            let base = scratch.as_mut_ptr() as u64;
            helpers.register(131, "ringbuf_reserve", move |_, a| {
                Ok(match (a[1], k % 3) {
                    (_, 0) => 0,
                    (8, _) => base,
                    (16, _) => base + 64,
                    (24, _) => base + 128,
                    _ => 0,
                })
            });
            helpers.register(132, "ringbuf_submit", |_, _| Ok(0));
            helpers.register(133, "ringbuf_discard", |_, _| Ok(0));
            let plen = (k * 23 + seed) % 80;
            let mut packet: Vec<u8> = (0..plen).map(|i| (i * 7 + seed) as u8).collect();
            let data = packet.as_mut_ptr() as u64;
            // bpf_xdp_adjust_head moves `data` inside the packet (the context holds it).
            helpers.register(44, "xdp_adjust_head", move |ctx, a| {
                let d = a[1] as i64;
                let field = ctx.read(a[0], 16)?;
                let cur = u64::from_le_bytes(field[0..8].try_into().unwrap_or([0; 8]));
                let end = u64::from_le_bytes(field[8..16].try_into().unwrap_or([0; 8]));
                let new = cur.wrapping_add(d as u64);
                if new < data || new > end {
                    return Ok(-22i64 as u64);
                }
                ctx.write(a[0], 8)?.copy_from_slice(&new.to_le_bytes());
                Ok(0)
            });
            let exe = Interpreter::new(&exe_prog, &helpers).expect("interpreter");
            let mut ctxmem = [0u8; 32];
            ctxmem[0..8].copy_from_slice(&data.to_le_bytes());
            ctxmem[8..16].copy_from_slice(&(data + plen).to_le_bytes());
            ctxmem[16..20].copy_from_slice(&((seed * 31 + k) as u32).to_le_bytes());
            let mut ctx = RunContext::with_context(&mut ctxmem).with_budget(Some(2_000_000));
            ctx.allow_mut(&mut packet, RegionKind::Packet);
            ctx.allow_mut(&mut value, RegionKind::MapValue);
            let (r8, rest) = scratch.split_at_mut(64);
            let (r16, r24) = rest.split_at_mut(64);
            ctx.allow_mut(&mut r8[..8], RegionKind::Embedder);
            ctx.allow_mut(&mut r16[..16], RegionKind::Embedder);
            ctx.allow_mut(&mut r24[..24], RegionKind::Embedder);
            runs += 1;
            if let Err(e) = exe.run(&mut ctx) {
                if unsafe_outcome(&e) {
                    bugs.push(format!("seed {seed}: accepted, then {e}\n{src}"));
                    break;
                }
            }
        }
    }
    println!("block programs: {count} programs, {accepted} accepted, {runs} runs");
    assert!(
        accepted > count / 10,
        "too few programs accepted to mean anything"
    );
    assert!(bugs.is_empty(), "{}", bugs.join("\n\n"));
}
