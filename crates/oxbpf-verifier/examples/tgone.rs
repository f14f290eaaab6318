//! Development aid: verify one oxbpf-testgen kernel-profile program with the log.
use oxbpf_testgen::{Config, TestCase};
use oxbpf_verifier::*;

fn main() {
    let seed: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let case = TestCase::generate(seed, &Config::kernel());
    let prog = case.kernel_program();
    if std::env::var_os("HEX").is_some() {
        let b = prog.to_bytes();
        println!(
            "{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        );
        return;
    }
    println!(
        "{}",
        oxbpf_isa::disassemble(
            &prog,
            &oxbpf_isa::DisasmOptions {
                slots: true,
                ..Default::default()
            }
        )
    );
    let mut conf = VerifierConfig::new(ProgramType::Xdp);
    conf.allow_uninit_stack = true;
    let (r, log) = verify_with_log(&prog, &conf);
    if std::env::var_os("LOG").is_some() {
        println!("{log}");
    }
    match r {
        Ok(v) => println!("accept {:?}", v.stats),
        Err(e) => println!("{}", e.report()),
    }
}
