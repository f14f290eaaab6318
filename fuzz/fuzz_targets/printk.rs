//! Format strings and arguments -> `bpf_trace_printk`/`bpf_snprintf` formatting
//! (`oxbpf_runtime::format`): never panics; the returned length is at least what was
//! written, the output is NUL-terminated within its buffer, a trace message is at most
//! 1023 bytes and has no NUL, and formatting is deterministic.
//!
//! Input: the format (up to its NUL), then up to 12 little-endian `u64` arguments. Pointer
//! arguments below 4096 read from the rest of the input (strings, IP addresses).

#![no_main]

use libfuzzer_sys::fuzz_target;
use oxbpf_runtime::format::{self, ArgMemory, Space};

struct Mem<'a>(&'a [u8]);

impl ArgMemory for Mem<'_> {
    fn read_str(&mut self, _: Space, addr: u64, max: usize, out: &mut Vec<u8>) -> bool {
        let Some(b) = self.0.get(addr as usize..) else {
            return false;
        };
        let s = b.split(|&c| c == 0).next().unwrap_or(&[]);
        out.extend_from_slice(&s[..s.len().min(max.saturating_sub(1))]);
        true
    }
    fn read(&mut self, _: Space, addr: u64, buf: &mut [u8]) -> bool {
        let Some(end) = (addr as usize).checked_add(buf.len()) else {
            return false;
        };
        match self.0.get(addr as usize..end) {
            Some(b) => {
                buf.copy_from_slice(b);
                true
            }
            None => false,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let nul = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let fmt = &data[..(nul + 1).min(data.len())];
    let rest = data.get(nul + 1..).unwrap_or(&[]);
    let args: Vec<u64> = rest
        .chunks_exact(8)
        .take(12)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let mut mem = Mem(rest);
    let Ok(p) = format::prepare(fmt, &args, &mut mem) else {
        return;
    };
    for size in [0usize, 1, 7, 64, 1024] {
        let mut out = vec![0xaau8; size];
        let n = p.print(&mut out);
        if size > 0 {
            let written = n.min(size - 1);
            assert_eq!(out[written], 0, "NUL after the text");
        }
        let mut again = vec![0xaau8; size];
        assert_eq!(p.print(&mut again), n);
        assert_eq!(again, out, "deterministic");
    }
    if args.len() <= 3 {
        let mut mem = Mem(rest);
        if let Ok((msg, n)) = format::trace_printk(fmt, &args, &mut mem) {
            assert!(msg.len() <= 1023 && msg.len() <= n);
            assert!(!msg.contains(&0));
        }
    }
});
