//! Reading the Linux verifier log: where it failed and why.
//!
//! At log level 1 the verifier prints each instruction as it walks it
//! (`12: (61) r0 = *(u32 *)(r2 +0)`), register state lines (`12: R1=ctx() R10=fp0`), source
//! lines from BTF line info (`; return x;`), and, when it gives up, one or more message lines
//! followed by the `processed N insns (limit ...)` statistics line. Since Linux 6.4 the log
//! is rotated when the buffer is too small, so its tail (which holds the verdict) survives.
//!
//! The instruction numbers in the log are 8-byte slot numbers: a `lddw` counts twice.

use std::fmt;

use oxbpf_isa::Program;

use crate::source::{LineTable, SourceLine};

/// The verifier's verdict, parsed from its log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifierSummary {
    /// The instruction slot the verifier was at when it failed (or the one its message
    /// names), as the kernel numbers them: 8-byte slots.
    pub slot: Option<usize>,
    /// The same place as an instruction index (a `lddw` counts once), filled when the
    /// program is known and decodes.
    pub insn: Option<usize>,
    /// The failing instruction as the verifier printed it, e.g. `r0 = *(u32 *)(r2 +0)`.
    pub insn_text: Option<String>,
    /// The error message; several lines are joined with `"; "`.
    pub message: String,
    /// The `processed N insns` count, when the log has it.
    pub processed_insns: Option<u64>,
    /// The C source line of the failing instruction: from the object's BTF line info
    /// ([`VerifierSummary::with_lines`]) or, failing that, the last `; text @ file:line`
    /// comment the verifier printed before it.
    pub source: Option<SourceLine>,
}

impl fmt::Display for VerifierSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.insn, self.slot) {
            (Some(i), Some(s)) if i != s => write!(f, "instruction {i} (slot {s}): ")?,
            (Some(i), _) => write!(f, "instruction {i}: ")?,
            (None, Some(s)) => write!(f, "instruction slot {s}: ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)?;
        match (&self.insn_text, &self.source) {
            (Some(t), Some(s)) => write!(f, " (at `{t}`, {}:{}: `{}`)", s.file, s.line, s.text)?,
            (Some(t), None) => write!(f, " (at `{t}`)")?,
            (None, Some(s)) => write!(f, " (at {}:{}: `{}`)", s.file, s.line, s.text)?,
            (None, None) => {}
        }
        Ok(())
    }
}

/// Splits `"<digits>: rest"` into the number and the rest.
fn numbered(line: &str) -> Option<(usize, &str)> {
    let colon = line.find(':')?;
    let (num, rest) = line.split_at(colon);
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((num.parse().ok()?, rest[1..].trim_start()))
}

/// `N: (op) text` → (N, text without the trailing `; state` comment).
fn insn_line(line: &str) -> Option<(usize, String)> {
    let (n, rest) = numbered(line)?;
    let inner = rest.strip_prefix('(')?;
    let close = inner.find(')')?;
    let op = &inner[..close];
    if op.len() != 2 || !op.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let text = inner[close + 1..].trim();
    // Since Linux 6.3 the state after the instruction is appended as `<spaces>; R0_w=...`.
    let text = match text.find(" ; ") {
        Some(p) => text[..p].trim_end(),
        None => text,
    };
    Some((n, text.to_string()))
}

/// Lines that describe state or statistics, never the verdict.
fn is_noise(line: &str) -> bool {
    if line.is_empty() || line.starts_with(';') {
        return true;
    }
    // The liveness table of log level 2: `      0: .1........ (b7) r0 = 0`.
    if line.starts_with(' ') && numbered(line.trim_start()).is_some() {
        return true;
    }
    if let Some((_, rest)) = numbered(line) {
        // `N: R1=ctx() ...`, `N: frame1: ...`, `N: safe`.
        if rest.is_empty()
            || rest.starts_with('R')
            || rest.starts_with("frame")
            || rest.starts_with("safe")
            || rest.starts_with("(")
        {
            return true;
        }
    }
    const PREFIXES: &[&str] = &[
        "from ",
        "processed ",
        "verification time",
        "stack depth",
        "last_idx",
        "mark_precise",
        "regs=",
        "parent ",
        "propagating",
        "caller:",
        "callee:",
        "func#",
        "Func#",
        "Validating",
        "returning from callee",
        "to caller at",
        "frame",
        " R",
        "R0=",
        "Live regs",
    ];
    PREFIXES.iter().any(|p| line.starts_with(p))
}

/// First number after the word `insn` in `text` (`"jump out of range from insn 1 to 5"`).
fn insn_named_in(text: &str) -> Option<usize> {
    let mut rest = text;
    while let Some(p) = rest.find("insn") {
        let after = &rest[p + 4..];
        let after = after.strip_prefix(' ').unwrap_or(after);
        let digits: String = after.chars().take_while(|c| c.is_ascii_digit()).collect();
        if !digits.is_empty() {
            return digits.parse().ok();
        }
        rest = &rest[p + 4..];
    }
    None
}

/// `; return *v; @ reject.c:23` → the source line.
fn source_comment(line: &str) -> Option<SourceLine> {
    let rest = line.strip_prefix("; ")?;
    let (text, place) = rest.rsplit_once(" @ ")?;
    let (file, num) = place.rsplit_once(':')?;
    let line = num.trim().parse().ok()?;
    Some(SourceLine {
        file: file.to_string(),
        line,
        column: 0,
        text: text.trim().to_string(),
    })
}

fn processed_count(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("processed ")?;
    let n: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    n.parse().ok()
}

impl VerifierSummary {
    /// Parses a verifier log. Never fails: with nothing recognisable the message is the
    /// last non-empty line (or empty).
    pub fn parse(log: &str) -> VerifierSummary {
        let lines: Vec<&str> = log
            .split('\n')
            .map(|l| l.trim_end_matches(['\0', '\r', ' ']))
            .collect();
        let processed_at = lines.iter().rposition(|l| l.starts_with("processed "));
        let end = processed_at.unwrap_or(lines.len());
        let processed_insns = processed_at.and_then(|i| processed_count(lines[i]));

        let last_insn = lines[..end]
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, l)| insn_line(l).map(|(n, t)| (i, n, t)));

        let start = last_insn.as_ref().map_or(0, |(i, _, _)| i + 1);
        let mut message: Vec<&str> = lines[start..end]
            .iter()
            .copied()
            .filter(|l| !is_noise(l))
            .collect();
        if message.is_empty() {
            // Nothing after the last instruction: take the last meaningful line anywhere.
            if let Some(l) = lines[..end]
                .iter()
                .rev()
                .find(|l| !is_noise(l) && insn_line(l).is_none())
            {
                message.push(l);
            }
        }
        let message = message.join("; ");

        // The kernel prints `; <source text> @ <file>:<line>` when the line changes.
        let source = last_insn
            .as_ref()
            .and_then(|(at, _, _)| lines[..*at].iter().rev().find_map(|l| source_comment(l)));
        let (slot, insn_text) = match last_insn {
            Some((_, n, t)) => (Some(n), Some(t)),
            None => (insn_named_in(&message), None),
        };
        VerifierSummary {
            slot,
            insn: None,
            insn_text,
            message,
            processed_insns,
            source,
        }
    }

    /// Sets [`VerifierSummary::source`] from a program's line table (more precise than
    /// the log's comments: it has the column, and works on logs without them).
    pub fn with_lines(mut self, lines: &LineTable) -> VerifierSummary {
        if let Some(l) = self.slot.and_then(|s| lines.at(s)) {
            self.source = Some(l.clone());
        }
        self
    }

    /// Fills [`VerifierSummary::insn`] from `slot` using the program's slot map.
    pub fn with_program(mut self, program: &Program) -> VerifierSummary {
        self.insn = self.slot.and_then(|s| program.index_at_slot(s));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_of_uninitialised_register() {
        let log = "func#0 @0\n0: R1=ctx() R10=fp0\n0: (61) r0 = *(u32 *)(r2 +0)\nR2 !read_ok\nprocessed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n\0";
        let s = VerifierSummary::parse(log);
        assert_eq!(s.slot, Some(0));
        assert_eq!(s.insn_text.as_deref(), Some("r0 = *(u32 *)(r2 +0)"));
        assert_eq!(s.message, "R2 !read_ok");
        assert_eq!(s.processed_insns, Some(1));
        assert_eq!(
            s.to_string(),
            "instruction slot 0: R2 !read_ok (at `r0 = *(u32 *)(r2 +0)`)"
        );
    }

    #[test]
    fn state_comment_is_stripped_and_last_insn_wins() {
        let log = "0: R1=ctx() R10=fp0\n0: (b7) r0 = 0                        ; R0_w=0\n1: (18) r1 = 0x1234                   ; R1_w=4660\n3: (bf) r2 = r10                      ; R2_w=fp0 R10=fp0\n4: (71) r0 = *(u8 *)(r2 +8)\ninvalid read from stack R2 off=8 size=1\nprocessed 4 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";
        let s = VerifierSummary::parse(log);
        assert_eq!(s.slot, Some(4));
        assert_eq!(s.insn_text.as_deref(), Some("r0 = *(u8 *)(r2 +8)"));
        assert_eq!(s.message, "invalid read from stack R2 off=8 size=1");
    }

    #[test]
    fn message_without_instruction_names_the_slot() {
        let log = "jump out of range from insn 1 to 5\nprocessed 0 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";
        let s = VerifierSummary::parse(log);
        assert_eq!(s.slot, Some(1));
        assert_eq!(s.insn_text, None);
        assert_eq!(s.message, "jump out of range from insn 1 to 5");

        let s = VerifierSummary::parse(
            "last insn is not an exit or jmp\nprocessed 0 insns (limit 1000000)\n",
        );
        assert_eq!(s.slot, None);
        assert_eq!(s.message, "last insn is not an exit or jmp");
    }

    #[test]
    fn multi_line_message_is_joined() {
        let log = "5: (61) r0 = *(u32 *)(r2 +0)\ninvalid access to packet, off=0 size=4, R2(id=0,off=0,r=0)\nR2 offset is outside of the packet\nprocessed 6 insns (limit 1000000)\n";
        let s = VerifierSummary::parse(log);
        assert_eq!(s.slot, Some(5));
        assert_eq!(
            s.message,
            "invalid access to packet, off=0 size=4, R2(id=0,off=0,r=0); R2 offset is outside of the packet"
        );
    }

    #[test]
    fn level_two_liveness_table_is_not_the_message() {
        let log = "func#0 @0\nLive regs before insn:\n      0: .1........ (b7) r0 = 0\n      1: 0......... (95) exit\nlast insn is not an exit or jmp\n";
        let s = VerifierSummary::parse(log);
        assert_eq!(s.slot, None);
        assert_eq!(s.message, "last insn is not an exit or jmp");
    }

    #[test]
    fn source_comments_name_the_line() {
        let log = "0: R1=ctx() R10=fp0\n; int x = 0; @ a.c:4\n0: (b7) r0 = 0\n; return *p; @ a.c:9\n1: (61) r0 = *(u32 *)(r2 +0)\nR2 !read_ok\nprocessed 2 insns\n";
        let s = VerifierSummary::parse(log);
        let src = s.source.clone().unwrap();
        assert_eq!(
            (src.file.as_str(), src.line, src.text.as_str()),
            ("a.c", 9, "return *p;")
        );
        assert_eq!(
            s.to_string(),
            "instruction slot 1: R2 !read_ok (at `r0 = *(u32 *)(r2 +0)`, a.c:9: `return *p;`)"
        );
    }

    #[test]
    fn empty_log() {
        let s = VerifierSummary::parse("");
        assert_eq!(s, VerifierSummary::default());
    }

    #[test]
    fn slot_maps_to_index_through_lddw() {
        use oxbpf_isa::{Insn, LoadImm64, Reg};
        let p = Program::from_insns(vec![
            Insn::LoadImm64 {
                dst: Reg::R1,
                value: LoadImm64::Imm(7),
            },
            Insn::Exit,
        ])
        .unwrap();
        let s = VerifierSummary::parse("2: (95) exit\nR0 !read_ok\n").with_program(&p);
        assert_eq!(s.slot, Some(2));
        assert_eq!(s.insn, Some(1));
        assert_eq!(
            s.to_string(),
            "instruction 1 (slot 2): R0 !read_ok (at `exit`)"
        );
    }
}
