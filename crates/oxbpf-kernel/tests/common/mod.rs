//! Helpers shared by the kernel tests.
#![allow(dead_code)]

use oxbpf_isa::{AluOp, Insn, JmpOp, Operand, Program, Reg, Size, Width};

/// Prints `SKIP: <reason>` and returns from the test when bpf() is unusable here.
#[macro_export]
macro_rules! require_bpf {
    () => {
        if let Some(reason) = oxbpf_kernel::probe::bpf_unavailable() {
            println!("SKIP: {reason}");
            return;
        }
    };
}

pub fn mov(dst: Reg, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src: Operand::Imm(imm),
    }
}

pub fn mov_reg(dst: Reg, src: Reg) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src: Operand::Reg(src),
    }
}

pub fn add(dst: Reg, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Add,
        dst,
        src: Operand::Imm(imm),
    }
}

pub fn ldx(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Load {
        size,
        sign_extend: false,
        dst,
        src,
        off,
    }
}

pub fn st(size: Size, dst: Reg, off: i16, imm: i32) -> Insn {
    Insn::Store {
        size,
        dst,
        off,
        src: Operand::Imm(imm),
    }
}

pub fn jgt(dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Jump {
        width: Width::W64,
        op: JmpOp::Gt,
        dst,
        src: Operand::Reg(src),
        off,
    }
}

pub fn jeq_imm(dst: Reg, imm: i32, off: i16) -> Insn {
    Insn::Jump {
        width: Width::W64,
        op: JmpOp::Eq,
        dst,
        src: Operand::Imm(imm),
        off,
    }
}

pub fn program(insns: Vec<Insn>) -> Program {
    Program::from_insns(insns).expect("test program is well formed")
}

/// `r0 = value; exit`.
pub fn ret(value: i32) -> Program {
    program(vec![mov(Reg::R0, value), Insn::Exit])
}

/// A 64-byte Ethernet frame: broadcast destination, IPv4 ethertype, counting payload.
pub fn packet() -> Vec<u8> {
    let mut p: Vec<u8> = (0..64u8).collect();
    p[..6].copy_from_slice(&[0xff; 6]);
    p[12] = 0x08;
    p[13] = 0x00;
    p
}

/// This thread's id (what trace lines call `pid`).
pub fn gettid() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
    link.to_string_lossy()
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("tid in /proc/thread-self")
}

pub fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}
