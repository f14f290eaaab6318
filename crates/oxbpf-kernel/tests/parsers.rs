//! Text the kernel (or a user) hands over never panics a parser: tracefs `format` files,
//! `trace_pipe` lines, verifier logs, attach targets, tracepoint globs and kernel release
//! strings, each as real samples and as thousands of deterministic mutations of them.

use std::path::Path;

use oxbpf_isa::{Insn, Program};
use oxbpf_kernel::probe::KernelVersion;
use oxbpf_kernel::tracefs::{glob_match, TracepointPattern};
use oxbpf_kernel::{
    AttachTarget, TraceLine, TraceRecord, TracepointFormat, TracepointName, VerifierSummary,
};

const FORMAT: &str = "name: sys_enter_openat
ID: 624
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;
\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
\tfield:__data_loc char[] name;\toffset:32;\tsize:4;\tsigned:0;
\tfield:char comm[16];\toffset:36;\tsize:16;\tsigned:0;

print fmt: \"dfd: 0x%08lx, filename: 0x%08lx\", ((unsigned long)(REC->dfd))
";

const PIPE: &[&str] = &[
    "           bash-1977    [000] d..31  4966.455101: bpf_trace_printk: Hello, World!",
    "          <idle>-0       (-------) [003] ..s1. 12.000001: bpf_trace_printk: x",
    "   cat-12 ( 12) [001] 1.5: sched_switch:",
    "CPU:2 [LOST 17 EVENTS]",
];

const LOG: &str = "func#0 @0
0: R1=ctx() R10=fp0
; return *v; @ reject.c:17
0: (61) r0 = *(u32 *)(r2 +0)                ; R0_w=0
1: (18) r1 = 0x1234
R2 !read_ok
jump out of range from insn 1 to 5
processed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0
";

const TARGETS: &[&str] = &[
    "tracepoint:syscalls:sys_enter_openat",
    "kprobe:do_sys_openat2+0x10",
    "kretprobe:do_sys_openat2",
    "uprobe:/bin/bash:readline+4",
    "uretprobe:/bin/bash:0x1234",
    "xdp:eth0:drv",
    "tc:eth0:ingress",
    "profile:hz:99",
    "raw_tracepoint:sys_enter",
    "fentry:do_unlinkat",
];

const GLOBS: &[&str] = &[
    "*open*",
    "t:sched:*",
    "sys_[a-e]nter_*",
    "[!x]?\\*",
    "[",
    "[]]",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Characters that matter to these grammars, and a few that do not fit in one byte.
const ALPHABET: &[char] = &[
    ':', ';', '/', '+', '-', '[', ']', '(', ')', '*', '?', '!', '\\', '.', ' ', '\t', '\n', '0',
    '1', '9', 'x', 'f', 'a', 'R', '_', '@', '=', '#', '\0', 'é', '€', '🦀',
];

fn mutate(rng: &mut Rng, s: &str) -> String {
    let mut c: Vec<char> = s.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(c.len() + 1);
        match rng.below(5) {
            0 if at < c.len() => {
                c.remove(at);
            }
            1 if at < c.len() => c[at] = ALPHABET[rng.below(ALPHABET.len())],
            2 => {
                // A run of digits (big numbers, overflowing fields).
                for d in "18446744073709551615".chars().take(1 + rng.below(20)) {
                    c.insert(at.min(c.len()), d);
                }
            }
            3 if at < c.len() => c.truncate(at),
            _ => c.insert(at.min(c.len()), ALPHABET[rng.below(ALPHABET.len())]),
        }
    }
    c.into_iter().collect()
}

fn program() -> Program {
    Program::from_insns(vec![
        Insn::LoadImm64 {
            dst: oxbpf_isa::Reg::R1,
            value: oxbpf_isa::LoadImm64::Imm(1),
        },
        Insn::Exit,
    ])
    .unwrap()
}

fn exercise(s: &str, p: &Program) {
    if let Ok(f) = TracepointFormat::parse(s, Path::new("format")) {
        let _ = f.fixed_size();
        let _ = f.event_fields().count();
        let _ = f.field("filename");
    }
    let _ = TraceLine::parse(s);
    let _ = TraceRecord::parse(s);
    let v = VerifierSummary::parse(s).with_program(p);
    let _ = v.to_string();
    if let Ok(t) = AttachTarget::parse(s) {
        // The text form parses back to the same target.
        let back = AttachTarget::parse(&t.to_string());
        assert_eq!(back.ok().as_ref(), Some(&t), "`{s}` -> `{t}`");
    }
    let _ = TracepointName::parse(s);
    let name = TracepointName {
        category: "syscalls".into(),
        name: "sys_enter_openat".into(),
    };
    let _ = TracepointPattern::new(s).matches(&name);
    let _ = glob_match(s, "sys_enter_openat");
    let _ = KernelVersion::parse(s);
}

#[test]
fn parsers_never_panic_on_mutated_input() {
    let p = program();
    let mut samples: Vec<&str> = vec![FORMAT, LOG];
    samples.extend(PIPE);
    samples.extend(TARGETS);
    samples.extend(GLOBS);
    samples.extend(["6.18.0-rc1", "5.4.0-150-generic", ""]);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut cases = 0;
    for s in &samples {
        exercise(s, &p);
        for _ in 0..400 {
            exercise(&mutate(&mut rng, s), &p);
            cases += 1;
        }
    }
    // Fields whose offset and size add past the address space.
    let huge = FORMAT.replace("offset:36", "offset:18446744073709551615");
    let f = TracepointFormat::parse(&huge, Path::new("format")).unwrap();
    let _ = f.fixed_size();
    println!("{cases} mutated inputs");
}
