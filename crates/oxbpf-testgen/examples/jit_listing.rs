//! Prints the JIT's x86-64 next to each eBPF instruction of a raw bytecode file.
//! `cargo run -p oxbpf-testgen --example jit_listing -- FILE [checked]`
use oxbpf_isa::{disasm::format_insn, Program, Syntax};
use oxbpf_vm::jit::{JitOptions, JitProgram};
use oxbpf_vm::Helpers;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: jit_listing FILE [checked]");
        std::process::exit(2);
    };
    let bytes = std::fs::read(path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1)
    });
    let prog = Program::decode(&bytes).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1)
    });
    let opts = if args.get(2).map(String::as_str) == Some("checked") {
        JitOptions::checked()
    } else {
        JitOptions::verified()
    };
    // SAFETY: the code is only listed, never run.
    let jit = unsafe { JitProgram::compile_verified(&prog, &Helpers::new(), &opts) };
    let jit = jit.unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1)
    });
    print!(
        "{}",
        jit.listing(&prog, |_, _, i| format_insn(i, Syntax::Llvm))
    );
}
