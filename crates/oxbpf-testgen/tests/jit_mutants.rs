//! Mutated generated programs (bytes flipped at random: arbitrary, unverified bytecode that
//! still decodes) through the interpreter and the checked JIT with guarded memory: no crash,
//! no write outside the regions, same outcome (`oxbpf_vm::jit::fuzz::differential`).

use oxbpf_testgen::{Config, Rng, TestCase};

#[test]
fn checked_jit_agrees_with_the_interpreter_on_mutants() {
    let n: u64 = std::env::var("OXBPF_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let first: u64 = std::env::var("OXBPF_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let cfg = Config {
        max_stmts: 8,
        ..Config::vm()
    };
    let mut ran = 0;
    for seed in first..first + n {
        let case = TestCase::generate(seed, &cfg);
        let mut rng = Rng::new(seed ^ 0x5eed);
        let mut bytes = case.program().to_bytes();
        // Mutate fields rather than raw bytes, so most mutants still decode: registers,
        // offsets (jump targets, memory displacements), immediates, sometimes the opcode.
        for _ in 0..1 + rng.below(4) {
            let at = 8 * rng.below(bytes.len() as u64 / 8) as usize;
            match rng.below(8) {
                0 | 1 => bytes[at + 1] = (rng.below(11) | rng.below(11) << 4) as u8,
                2 | 3 => {
                    let off = (rng.imm() as i16).to_le_bytes();
                    bytes[at + 2..at + 4].copy_from_slice(&off);
                }
                4..=6 => bytes[at + 4..at + 8].copy_from_slice(&rng.imm().to_le_bytes()),
                _ => bytes[at] = rng.next_u64() as u8,
            }
        }
        let mut data = vec![(rng.below(65)) as u8];
        data.extend((0..64).map(|_| rng.next_u64() as u8));
        data.truncate(1 + data[0] as usize % 65);
        data.extend(&bytes);
        let r = std::panic::catch_unwind(|| oxbpf_vm::jit::fuzz::differential(&data));
        match r {
            Ok(true) => ran += 1,
            Ok(false) => {}
            Err(_) => {
                let code = &data[1 + data[0] as usize % 65..];
                let text = oxbpf_isa::Program::decode(code)
                    .map(|p| oxbpf_isa::disassemble(&p, &Default::default()))
                    .unwrap_or_default();
                panic!("seed {seed}: engines disagree on a mutant (see the panic above):\n{text}")
            }
        }
    }
    println!("{ran} of {n} mutants decoded and ran on both engines with the same outcome");
    assert!(ran > n / 8, "only {ran} of {n} mutants ran");
}
