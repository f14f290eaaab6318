//! Diagnostics: why a program was rejected, where, how execution got there, and what to
//! do about it.

use serde::Serialize;
use std::fmt;

/// The rule a rejected program broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The program's shape: a jump leaves its function, a function falls through, an
    /// indirect call, a map index out of range...
    InvalidProgram,
    /// An instruction no path reaches.
    Unreachable,
    /// A register is read before it is written.
    UninitRegister,
    /// Stack bytes are read before they are written.
    UninitStack,
    /// A memory access outside its region (stack frame, map value, packet, context...).
    OutOfBounds,
    /// A pointer that may be NULL is used without a check.
    NullPointer,
    /// An access is not aligned where it must be.
    Misaligned,
    /// The register is not a pointer to memory this instruction may access, or the access
    /// is not allowed (write to read-only memory, ...).
    InvalidAccess,
    /// A context field access that the program type does not allow.
    ContextAccess,
    /// Arithmetic on pointers that is not allowed.
    PointerArithmetic,
    /// A pointer escapes where the program type forbids it.
    PointerLeak,
    /// A helper that does not exist, is not supported, or is not allowed for this program
    /// type.
    HelperUnavailable,
    /// A helper argument of the wrong kind or size.
    HelperArgument,
    /// A map of the wrong type for the helper.
    MapIncompatible,
    /// A reference (ring buffer reservation) not released on some path.
    ReferenceLeak,
    /// A reference released twice, or used after release.
    ReferenceMisuse,
    /// `r0` at exit is not what the program type allows.
    ReturnValue,
    /// Too many nested calls, recursion, or too much stack along a call chain.
    CallStack,
    /// A loop that can run forever.
    InfiniteLoop,
    /// The analysis exceeded its budget.
    TooComplex,
    /// A feature the oxbpf verifier does not support.
    Unsupported,
    /// An instruction the program type does not allow, or a constant division by zero.
    InvalidInstruction,
}

impl ErrorKind {
    /// A short title for reports.
    pub fn title(self) -> &'static str {
        match self {
            ErrorKind::InvalidProgram => "invalid program structure",
            ErrorKind::Unreachable => "unreachable instruction",
            ErrorKind::UninitRegister => "read of an uninitialized register",
            ErrorKind::UninitStack => "read of uninitialized stack memory",
            ErrorKind::OutOfBounds => "out-of-bounds memory access",
            ErrorKind::NullPointer => "possible NULL pointer dereference",
            ErrorKind::Misaligned => "misaligned access",
            ErrorKind::InvalidAccess => "invalid memory access",
            ErrorKind::ContextAccess => "invalid context access",
            ErrorKind::PointerArithmetic => "invalid pointer arithmetic",
            ErrorKind::PointerLeak => "pointer leak",
            ErrorKind::HelperUnavailable => "helper not available",
            ErrorKind::HelperArgument => "invalid helper argument",
            ErrorKind::MapIncompatible => "map type not accepted by helper",
            ErrorKind::ReferenceLeak => "unreleased reference",
            ErrorKind::ReferenceMisuse => "invalid use of a reference",
            ErrorKind::ReturnValue => "invalid return value",
            ErrorKind::CallStack => "call stack limits exceeded",
            ErrorKind::InfiniteLoop => "infinite loop",
            ErrorKind::TooComplex => "program too complex to verify",
            ErrorKind::Unsupported => "unsupported feature",
            ErrorKind::InvalidInstruction => "invalid instruction",
        }
    }
}

/// A location in the program's source (from BTF line info, or an assembly file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceLine {
    pub file: String,
    /// 1-based.
    pub line: u32,
    /// 1-based; 0 when unknown.
    pub column: u32,
    /// The source text of the line, if known.
    pub text: String,
}

impl fmt::Display for SourceLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.column > 0 {
            write!(f, "{}:{}:{}", self.file, self.line, self.column)
        } else {
            write!(f, "{}:{}", self.file, self.line)
        }
    }
}

/// One step of the path that led to the error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PathStep {
    /// Instruction slot.
    pub pc: usize,
    /// The instruction as text.
    pub insn: String,
    /// `"taken"`, `"not taken"`, `"call"`, `"return"`, `"may_goto exhausted"`,
    /// `"may_goto continues"`.
    pub event: String,
    pub source: Option<SourceLine>,
}

/// One register's abstract value at the error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RegSnapshot {
    /// `r0` .. `r10`.
    pub reg: String,
    /// Kernel-log-like description (`scalar(umax=255)`, `map_value(map=counts,off=0)`...).
    pub value: String,
    /// Where the value was produced, if known.
    pub origin: Option<String>,
}

/// One stack slot at the error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StackSnapshot {
    /// Offset from the frame pointer of the slot's lowest byte (`-8`, `-16`, ...).
    pub off: i32,
    /// Byte kinds, lowest address first (`m` data, `0` zero, `?` uninitialized, `r`
    /// spilled register), and the spilled register if any.
    pub value: String,
}

/// The abstract state at the error (the current function's frame).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Default)]
pub struct StateSnapshot {
    /// Call depth (0 = the program's own frame).
    pub frame: u32,
    pub regs: Vec<RegSnapshot>,
    pub stack: Vec<StackSnapshot>,
}

/// Why a program was rejected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyError {
    /// Instruction slot (the unit of jump offsets and the kernel's messages).
    pub pc: usize,
    /// Instruction index (a `lddw` counts once).
    pub index: usize,
    pub kind: ErrorKind,
    /// What is wrong, in plain words.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// The failing instruction as text.
    pub insn: String,
    pub source: Option<SourceLine>,
    /// Branch decisions and calls on the way, oldest first.
    pub path: Vec<PathStep>,
    pub state: StateSnapshot,
    /// Related facts ("r1 comes from bpf_map_lookup_elem at ...").
    pub notes: Vec<String>,
}

impl VerifyError {
    /// One or two lines: where and what (and the hint).
    pub fn summary(&self) -> String {
        let mut s = String::new();
        match &self.source {
            Some(src) => s.push_str(&format!("{src}: instruction {}: ", self.pc)),
            None => s.push_str(&format!("instruction {}: ", self.pc)),
        }
        s.push_str(&self.message);
        if let Some(h) = &self.hint {
            s.push_str(&format!("\n  hint: {h}"));
        }
        s
    }

    /// A full report: the instruction and source line, notes, the path, the state.
    pub fn report(&self) -> String {
        let mut s = format!("error: {}: {}\n", self.kind.title(), self.message);
        match &self.source {
            Some(src) => {
                s.push_str(&format!("  --> {src} (instruction {})\n", self.pc));
                if !src.text.is_empty() {
                    let n = src.line.to_string();
                    let pad = " ".repeat(n.len());
                    s.push_str(&format!(
                        "{pad} |\n{n} | {}\n{pad} |\n",
                        src.text.trim_end()
                    ));
                }
            }
            None => s.push_str(&format!("  --> instruction {}\n", self.pc)),
        }
        s.push_str(&format!("  {:>5}: {}\n", self.pc, self.insn));
        for n in &self.notes {
            s.push_str(&format!("  note: {n}\n"));
        }
        if !self.path.is_empty() {
            s.push_str("  path to the error:\n");
            let skip = self.path.len().saturating_sub(24);
            if skip > 0 {
                s.push_str(&format!("    ... {skip} earlier steps\n"));
            }
            for p in &self.path[skip..] {
                let loc = p
                    .source
                    .as_ref()
                    .map(|l| format!("  ({l})"))
                    .unwrap_or_default();
                s.push_str(&format!(
                    "    {:>5}: {:<40} {}{loc}\n",
                    p.pc, p.insn, p.event
                ));
            }
        }
        s.push_str(&format!(
            "  state at the error (frame {}):\n",
            self.state.frame
        ));
        for r in &self.state.regs {
            match &r.origin {
                Some(o) => s.push_str(&format!("    {:<4}= {}  [{}]\n", r.reg, r.value, o)),
                None => s.push_str(&format!("    {:<4}= {}\n", r.reg, r.value)),
            }
        }
        for st in &self.state.stack {
            s.push_str(&format!("    fp{:<4}: {}\n", st.off, st.value));
        }
        if let Some(h) = &self.hint {
            s.push_str(&format!("  hint: {h}\n"));
        }
        s
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

impl std::error::Error for VerifyError {}
