//! The benchmark programs and the bytecode each engine runs.
//!
//! Every program is a C file in `bench/programs/` compiled by `bench/programs/build.sh`
//! (`clang -O2 -target bpf -mcpu=v3 -c`); the objects are committed and embedded here, so
//! the benchmark runs where clang is absent (`tests/programs_sync.rs` checks that they
//! match their sources where clang exists).

use crate::{native, BUF_SIZE, SECTION};
use anyhow::{bail, Context, Result};
use oxbpf_isa::RawInsn;

/// One benchmark program.
#[derive(Clone, Copy)]
pub struct BenchProgram {
    /// Short name (the C file's stem).
    pub name: &'static str,
    /// What it computes.
    pub about: &'static str,
    /// The compiled object (`bench/programs/<name>.o`).
    pub object: &'static [u8],
    /// Dominated by loops (the class the "JIT within 1.05x of native" target is about).
    pub loop_heavy: bool,
    /// The same algorithm in Rust.
    pub native: fn(&[u8]) -> u64,
}

macro_rules! program {
    ($name:literal, $native:path, $loop_heavy:expr, $about:literal) => {
        BenchProgram {
            name: $name,
            about: $about,
            object: include_bytes!(concat!("../programs/", $name, ".o")),
            loop_heavy: $loop_heavy,
            native: $native,
        }
    };
}

/// All benchmark programs, in report order.
pub static PROGRAMS: &[BenchProgram] = &[
    program!(
        "loop",
        native::loop_,
        true,
        "nested counted loops around an LCG step"
    ),
    program!(
        "sieve",
        native::sieve,
        true,
        "bitmap sieve of Eratosthenes on the stack"
    ),
    program!(
        "hash",
        native::hash,
        true,
        "FNV-1a over bytes + Murmur-style mix over words"
    ),
    program!(
        "sort",
        native::sort,
        true,
        "bitonic sort of 8 chunks of 64 u32 on the stack"
    ),
    program!(
        "bits",
        native::bits,
        true,
        "popcount, bit reverse, clz/ctz, Gray code (SWAR)"
    ),
    program!(
        "straight",
        native::straight,
        false,
        "one 520-instruction straight-line block"
    ),
    program!(
        "collatz",
        native::collatz,
        true,
        "branch-free Collatz stopping times"
    ),
    program!(
        "matmul",
        native::matmul,
        true,
        "8x8 u32 matrix power (16 products)"
    ),
    program!(
        "strsearch",
        native::strsearch,
        true,
        "rolling-window search for a 4-byte needle"
    ),
];

/// The bytecode of the program in [`SECTION`] of an object (the only one there), read
/// with oxbpf-obj.
///
/// Programs that reference maps or global data, or call other functions, are refused:
/// benchmark programs must run unchanged on every engine.
pub fn extract(object: &[u8]) -> Result<Vec<u8>> {
    let obj = oxbpf_obj::Object::parse(object).context("parsing the ELF object")?;
    let mut in_section = obj.programs.iter().filter(|p| p.section == SECTION);
    let (Some(p), None) = (in_section.next(), in_section.next()) else {
        bail!("expected exactly one program in section `{SECTION}`");
    };
    if !p.map_references().is_empty() {
        bail!(
            "program `{}` references maps or global data; benchmark programs must not",
            p.name
        );
    }
    if p.functions.len() > 1 {
        bail!(
            "program `{}` calls other functions; benchmark programs must not",
            p.name
        );
    }
    Ok(p.insns.to_bytes())
}

fn insn(opcode: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    RawInsn::new(opcode, dst, src, off, imm).to_bytes()
}

/// `mov r2, BUF_SIZE`: rbpf's raw VM passes the buffer in `r1` but leaves `r2` = 0, so its
/// engines run the programs behind this one instruction.
pub fn len_prolog() -> Vec<u8> {
    insn(0xb7, 2, 0, 0, BUF_SIZE as i32).to_vec()
}

/// The XDP prolog the kernel runs before a program (as the conformance runner's
/// `xdp_prolog`): `r1` = data, and unless `data + BUF_SIZE <= data_end` return -1;
/// then `r2` = `BUF_SIZE`.
pub fn xdp_prolog() -> Vec<u8> {
    let size = BUF_SIZE as i32;
    [
        insn(0xb7, 0, 0, 0, -1),   // r0 = -1
        insn(0xbf, 6, 1, 0, 0),    // r6 = r1 (struct xdp_md *)
        insn(0x61, 1, 6, 0, 0),    // r1 = ctx->data
        insn(0x61, 2, 6, 4, 0),    // r2 = ctx->data_end
        insn(0xbf, 3, 1, 0, 0),    // r3 = r1
        insn(0x07, 3, 0, 0, size), // r3 += BUF_SIZE
        insn(0xbd, 3, 2, 1, 0),    // if r3 <= r2 goto +1
        insn(0x95, 0, 0, 0, 0),    // exit
        insn(0xb7, 2, 0, 0, size), // r2 = BUF_SIZE
    ]
    .concat()
}

/// Bytecode ready for every engine, with its reference implementation.
pub struct Workload {
    pub name: String,
    pub about: String,
    /// The program as compiled.
    pub code: Vec<u8>,
    /// `code` behind [`len_prolog`] when the program reads its input (rbpf).
    pub code_len_prolog: Vec<u8>,
    /// `code` behind [`xdp_prolog`] when the program reads its input (kernel).
    pub code_xdp: Vec<u8>,
    /// Whether the program reads the input buffer.
    pub uses_input: bool,
    pub loop_heavy: bool,
    /// The native version, when there is one.
    pub native: Option<fn(&[u8]) -> u64>,
}

impl Workload {
    fn new(
        name: &str,
        about: &str,
        code: Vec<u8>,
        uses_input: bool,
        loop_heavy: bool,
        native: Option<fn(&[u8]) -> u64>,
    ) -> Workload {
        let (code_len_prolog, code_xdp) = if uses_input {
            (
                [len_prolog(), code.clone()].concat(),
                [xdp_prolog(), code.clone()].concat(),
            )
        } else {
            (code.clone(), code.clone())
        };
        Workload {
            name: name.to_string(),
            about: about.to_string(),
            code,
            code_len_prolog,
            code_xdp,
            uses_input,
            loop_heavy,
            native,
        }
    }

    /// A benchmark program.
    pub fn from_program(p: &BenchProgram) -> Result<Workload> {
        let code = extract(p.object).with_context(|| format!("bench/programs/{}.o", p.name))?;
        Ok(Workload::new(
            p.name,
            p.about,
            code,
            true,
            p.loop_heavy,
            Some(p.native),
        ))
    }

    /// `r0 = 0; exit`: the cost of a call.
    pub fn empty() -> Workload {
        let code = [insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0)].concat();
        Workload::new(
            "empty",
            "r0 = 0; exit",
            code,
            false,
            false,
            Some(native::empty),
        )
    }

    /// Bytecode without a native version and without input (compile throughput).
    pub fn bytecode(name: &str, about: &str, code: Vec<u8>) -> Workload {
        Workload::new(name, about, code, false, false, None)
    }

    /// Number of 8-byte instruction slots of the program as compiled.
    pub fn slots(&self) -> usize {
        self.code.len() / 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxbpf_isa::Program;

    #[test]
    fn every_program_decodes_and_the_prologs_are_valid_bytecode() {
        for p in PROGRAMS {
            let w = Workload::from_program(p).unwrap();
            for code in [&w.code, &w.code_len_prolog, &w.code_xdp] {
                Program::decode(code).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            }
            assert_eq!(w.code_len_prolog.len(), w.code.len() + 8);
            assert_eq!(w.code_xdp.len(), w.code.len() + 9 * 8);
        }
        Program::decode(&Workload::empty().code).unwrap();
    }

    #[test]
    fn extract_rejects_what_is_not_a_benchmark_object() {
        assert!(extract(b"not an elf").is_err());
    }

    #[test]
    fn generated_program_decodes_and_has_the_requested_size() {
        let code = crate::gen::generated_program(5000, 1);
        let p = Program::decode(&code).unwrap();
        assert!(
            (4990..=5010).contains(&p.slot_count()),
            "{}",
            p.slot_count()
        );
        assert_eq!(code, crate::gen::generated_program(5000, 1));
    }
}
