//! The BCC hello world, its Python loader rewritten in Rust:
//!
//! ```python
//! b = BPF(src_file="hello.c")
//! b.attach_kprobe(event="do_sys_openat2", fn_name="hello_world")
//! b.trace_print()
//! ```
//!
//! `cargo run --example hello` runs it in userspace: `do_sys_openat2` is the kernel
//! function behind `openat`, so the program runs on the openat calls of the traced command
//! (`cat /etc/hostname`, or the command given as arguments). `--kernel` loads it into
//! the kernel instead (root), where it sees every process's openat for as long as the
//! command runs.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let kernel = args.first().is_some_and(|a| a == "--kernel");
    if kernel {
        args.remove(0);
    }
    if args.is_empty() {
        args = vec!["cat".into(), "/etc/hostname".into()];
    }
    match run(kernel, &args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("hello: {}", e.summary());
            ExitCode::from(2)
        }
    }
}

fn run(kernel: bool, command: &[String]) -> Result<u8, oxbpf::BpfError> {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/hello.c");
    let builder = if kernel {
        oxbpf::Bpf::builder().kernel()
    } else {
        oxbpf::Bpf::builder()
    };
    let mut b = builder.c_file(src)?; // compile and load
    let a = b.attach_kprobe("do_sys_openat2", "hello_world")?;
    if let Some(notice) = &a.notice {
        eprintln!("{notice}");
    }
    let status = b.spawn(command)?; // run the command with the program attached
    b.trace_print()?; // lines shaped like trace_pipe's
    Ok(status.code().clamp(0, 255) as u8)
}
