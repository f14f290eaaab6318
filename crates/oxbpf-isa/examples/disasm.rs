//! Assembles a file (either syntax) and prints its disassembly.
//!
//! `cargo run -p oxbpf-isa --example disasm -- FILE [--conformance] [--no-labels] [--slots] [--raw]`

use oxbpf_isa::{assemble, disassemble, DisasmOptions, Syntax};

fn main() {
    let mut opts = DisasmOptions::default();
    let mut file = None;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--conformance" => opts.syntax = Syntax::Conformance,
            "--no-labels" => opts.labels = false,
            "--slots" => opts.slots = true,
            "--raw" => opts.raw_bytes = true,
            _ => file = Some(a),
        }
    }
    let Some(file) = file else {
        eprintln!("usage: disasm FILE [--conformance] [--no-labels] [--slots] [--raw]");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{file}: {e}");
            std::process::exit(1);
        }
    };
    match assemble(&text) {
        Ok(p) => print!("{}", disassemble(&p, &opts)),
        Err(e) => {
            eprintln!("{file}: {e}");
            std::process::exit(1);
        }
    }
}
