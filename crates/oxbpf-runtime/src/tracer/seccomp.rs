//! The classic-BPF seccomp filter that makes only the interesting system calls stop the
//! tracee.
//!
//! ```text
//!   ld  [4]                      ; seccomp_data.arch
//!   jeq AUDIT_ARCH_X86_64, +1    ; other ABIs (int 0x80 i386 calls) run untraced
//!   ret ALLOW
//!   ld  [0]                      ; seccomp_data.nr
//!   jge 0x40000000, +0, +1       ; x32 calls (bit 30) run untraced
//!   ret ALLOW
//!   ; per range [lo, hi] of traced numbers, ascending:
//!   jgt hi, +3                   ; above: try the next range
//!   jge lo, +0, +1
//!   ret TRACE
//!   ret ALLOW                    ; below lo: no later range can match
//!   ...
//!   ret ALLOW
//! ```
//!
//! Every jump is short (classic BPF offsets are 8-bit), so the filter has no size limit
//! but the kernel's 4,096 instructions, which 512 numbers cannot reach (256 ranges at
//! most, 4 instructions each).

use super::sys::AUDIT_ARCH_X86_64;
use super::SyscallSet;

const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JGT_K: u16 = 0x25;
const JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_TRACE: u32 = 0x7ff0_0000;
/// `__X32_SYSCALL_BIT`.
const X32_BIT: u32 = 0x4000_0000;

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// Maximal runs of consecutive numbers in `set`.
pub fn ranges(set: &SyscallSet) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for nr in set.iter() {
        match out.last_mut() {
            Some((_, hi)) if *hi + 1 == nr => *hi = nr,
            _ => out.push((nr, nr)),
        }
    }
    out
}

/// The filter returning `SECCOMP_RET_TRACE` for the numbers in `traced`.
pub fn filter(traced: &SyscallSet) -> Vec<libc::sock_filter> {
    let mut f = vec![
        insn(LD_W_ABS, 0, 0, 4),
        insn(JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        insn(RET_K, 0, 0, RET_ALLOW),
        insn(LD_W_ABS, 0, 0, 0),
        insn(JGE_K, 0, 1, X32_BIT),
        insn(RET_K, 0, 0, RET_ALLOW),
    ];
    for (lo, hi) in ranges(traced) {
        f.push(insn(JGT_K, 3, 0, hi));
        f.push(insn(JGE_K, 0, 1, lo));
        f.push(insn(RET_K, 0, 0, RET_TRACE));
        f.push(insn(RET_K, 0, 0, RET_ALLOW));
    }
    f.push(insn(RET_K, 0, 0, RET_ALLOW));
    f
}

/// Runs the filter on `(arch, nr)` as the kernel would (for tests): true when it traces.
#[cfg(test)]
pub fn evaluate(f: &[libc::sock_filter], arch: u32, nr: u32) -> bool {
    let mut a = 0u32;
    let mut pc = 0usize;
    while let Some(i) = f.get(pc) {
        pc += 1;
        match i.code {
            LD_W_ABS => a = if i.k == 4 { arch } else { nr },
            JEQ_K | JGT_K | JGE_K => {
                let taken = match i.code {
                    JEQ_K => a == i.k,
                    JGT_K => a > i.k,
                    _ => a >= i.k,
                };
                pc += if taken { i.jt } else { i.jf } as usize;
            }
            _ => return i.k == RET_TRACE,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_exactly_the_set() {
        let mut s = SyscallSet::new();
        for nr in [0, 1, 2, 39, 110, 257, 258, 259, 435, 511] {
            s.insert(nr);
        }
        let f = filter(&s);
        assert_eq!(ranges(&s).len(), 6);
        assert_eq!(f.len(), 6 + 6 * 4 + 1);
        for nr in 0..600 {
            assert_eq!(
                evaluate(&f, AUDIT_ARCH_X86_64, nr),
                s.contains(nr),
                "nr {nr}"
            );
        }
        assert!(!evaluate(&f, 0x4000_0003, 1), "i386 calls run untraced");
        assert!(
            !evaluate(&f, AUDIT_ARCH_X86_64, X32_BIT | 1),
            "x32 calls run untraced"
        );
        let empty = filter(&SyscallSet::new());
        assert!((0..600).all(|nr| !evaluate(&empty, AUDIT_ARCH_X86_64, nr)));
        let all = SyscallSet::all();
        let f = filter(&all);
        assert_eq!(ranges(&all), vec![(0, 511)]);
        assert!((0..512).all(|nr| evaluate(&f, AUDIT_ARCH_X86_64, nr)));
    }
}
