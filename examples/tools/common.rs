//! What the tool drivers share: loading a tool's object, running its target (a command,
//! a process or, in the kernel, the whole system until Ctrl-C), writing rows.

#![allow(dead_code)]

use oxbpf::{Bpf, BpfError};
use std::cell::RefCell;
use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;

/// Where a tool writes its rows (shared with the buffer callbacks).
pub type Out = Rc<RefCell<dyn Write>>;

/// Standard output as an [`Out`].
pub fn stdout() -> Out {
    Rc::new(RefCell::new(std::io::stdout()))
}

/// Writes one line to `out` (a closed pipe is ignored).
pub fn line(out: &Out, text: &str) {
    let _ = writeln!(out.borrow_mut(), "{text}");
}

/// What a tool traces.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Target {
    /// Load into the kernel (the whole system is traced) instead of running in userspace.
    #[arg(long)]
    pub kernel: bool,
    /// Trace this process only.
    #[arg(
        short = 'p',
        long = "pid",
        value_name = "PID",
        conflicts_with = "command"
    )]
    pub pid: Option<i32>,
    /// The command to run and trace (after `--`).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `examples/tools/NAME.o`.
pub fn object(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/tools")
        .join(format!("{name}.o"))
}

/// Loads `examples/tools/NAME.o` on the backend `t` asks for.
pub fn load(name: &str, t: &Target) -> Result<Bpf, BpfError> {
    let b = if t.kernel {
        Bpf::builder().kernel()
    } else {
        Bpf::builder()
    };
    b.object_file(object(name))
}

/// Runs what `t` names with the programs attached; returns the exit status to use (the
/// command's, or 0). Ctrl-C stops tracing (a command still runs to its end).
pub fn run(b: &mut Bpf, t: &Target) -> Result<i32, BpfError> {
    oxbpf_kernel::signals::catch_interrupts()?;
    b.set_stop_check(oxbpf_kernel::signals::interrupted);
    if !t.command.is_empty() {
        return Ok(b.spawn(&t.command)?.code());
    }
    if let Some(pid) = t.pid {
        return Ok(b.trace_pid(pid)?.map_or(0, |s| s.code()));
    }
    if !t.kernel {
        return Err(BpfError::Usage(
            "in userspace, give a command (-- COMMAND ARGS...) or a process (-p PID); --kernel traces the whole system".into(),
        ));
    }
    b.run_until_stopped()?;
    Ok(0)
}

/// A NUL-terminated string in `b`.
pub fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// A native-endian integer at `off`.
pub fn u32_at(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4)
        .map_or(0, |s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

/// A native-endian integer at `off`.
pub fn i64_at(b: &[u8], off: usize) -> i64 {
    b.get(off..off + 8).map_or(0, |s| {
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        i64::from_ne_bytes(a)
    })
}

/// Reports an error the way the tools do and gives the exit status.
pub fn fail(tool: &str, e: &BpfError) -> std::process::ExitCode {
    eprintln!("{tool}: {}", e.summary());
    std::process::ExitCode::from(if e.is_rejection() { 1 } else { 2 })
}
