//! Disassembly of JIT output with iced-x86 (feature `disasm`).

use super::JitProgram;
use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};
use oxbpf_isa::{Insn, Program};
use std::fmt::Write;

/// One decoded x86-64 instruction of a [`JitProgram`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NativeInsn {
    /// Offset from the start of the code.
    pub offset: usize,
    pub bytes: Vec<u8>,
    /// Intel syntax, hexadecimal immediates with `0x`.
    pub text: String,
}

fn formatter() -> IntelFormatter {
    let mut f = IntelFormatter::new();
    let o = f.options_mut();
    o.set_space_after_operand_separator(true);
    o.set_hex_prefix("0x");
    o.set_hex_suffix("");
    o.set_uppercase_hex(false);
    o.set_small_hex_numbers_in_decimal(false);
    o.set_branch_leading_zeros(false);
    f
}

impl JitProgram {
    /// Decodes the code in `[from, to)` (offsets; `to` is clamped to the end of the code).
    /// Branch targets are shown as offsets from the start of the code.
    pub fn disassemble_range(&self, from: usize, to: usize) -> Vec<NativeInsn> {
        let code = &self.code()[..self.pool_start()];
        let to = to.min(code.len());
        if from >= to {
            return Vec::new();
        }
        let mut d = Decoder::with_ip(64, &code[from..to], from as u64, DecoderOptions::NONE);
        let mut f = formatter();
        let mut out = Vec::new();
        while d.can_decode() {
            let i = d.decode();
            let off = i.ip() as usize;
            let mut text = String::new();
            f.format(&i, &mut text);
            out.push(NativeInsn {
                offset: off,
                bytes: code[off..off + i.len()].to_vec(),
                text,
            });
        }
        out
    }

    /// Decodes all generated code (not the constant pool).
    pub fn disassemble(&self) -> Vec<NativeInsn> {
        self.disassemble_range(0, self.pool_start())
    }

    /// The x86-64 code of instruction `index` (empty for instructions with no code of
    /// their own: unreachable ones, and the second of a fused pair).
    pub fn native_of(&self, index: usize) -> Vec<NativeInsn> {
        let Some(start) = self.insn_offset(index) else {
            return Vec::new();
        };
        let end = (index + 1..self.fast.insn_offsets.len())
            .find_map(|j| self.insn_offset(j))
            .unwrap_or(self.body_end());
        self.disassemble_range(start, end)
    }

    /// A listing of the program with the x86-64 of each instruction under it. `ebpf`
    /// renders one eBPF instruction (given its index, slot and the instruction).
    pub fn listing(
        &self,
        prog: &Program,
        mut ebpf: impl FnMut(usize, usize, &Insn) -> String,
    ) -> String {
        let mut s = String::new();
        let first = (0..prog.len())
            .filter_map(|i| self.insn_offset(i))
            .min()
            .unwrap_or(self.body_end());
        let _ = writeln!(s, "; prologue");
        for n in self.disassemble_range(0, first) {
            let _ = writeln!(s, "    {:5x}  {}", n.offset, n.text);
        }
        for (i, slot, insn) in prog.iter() {
            let _ = writeln!(s, "{slot:4}: {}", ebpf(i, slot, insn));
            if self.is_fused(i) {
                let _ = writeln!(s, "          ; fused with the previous instruction");
                continue;
            }
            if self.insn_offset(i).is_none() {
                let _ = writeln!(s, "          ; unreachable, no code");
                continue;
            }
            for n in self.native_of(i) {
                let _ = writeln!(s, "    {:5x}  {}", n.offset, n.text);
            }
        }
        let _ = writeln!(s, "; out of line");
        for n in self.disassemble_range(self.body_end(), self.pool_start()) {
            let _ = writeln!(s, "    {:5x}  {}", n.offset, n.text);
        }
        s
    }
}
