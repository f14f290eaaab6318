//! The Linux kernel's JIT, through `BPF_PROG_TEST_RUN` (oxbpf-kernel).
//!
//! Programs that read their input are loaded as XDP behind
//! [`crate::programs::xdp_prolog`] (which checks the packet holds `BUF_SIZE` bytes and sets
//! `r1` = data, `r2` = `BUF_SIZE`); the kernel runs them `repeat` times on one packet and
//! reports the mean time per run, in whole nanoseconds, measured inside the kernel (no
//! syscall cost). The kernel returns only the low 32 bits of `r0`.

use super::{Class, Engine, Footprint, Origin, Prepared};
use crate::programs::Workload;
use anyhow::{Context, Result};
use oxbpf_kernel::{load_raw, test_run, LoadOptions, LoadedProgram, ProgType, TestRunInput};

pub struct KernelJit;

impl KernelJit {
    /// Why the kernel engine cannot run here, or `None` when it can.
    pub fn unavailable() -> Option<String> {
        oxbpf_kernel::probe::bpf_unavailable().map(String::from)
    }
}

struct Loaded {
    prog: LoadedProgram,
    footprint: Footprint,
}

impl Loaded {
    fn run_repeat(&self, input: &[u8], repeat: u32) -> Result<(u32, u32)> {
        let out = test_run(
            &self.prog,
            &TestRunInput {
                data_in: input,
                repeat,
                data_out_size: Some(input.len()),
                ..Default::default()
            },
        )
        .context("BPF_PROG_TEST_RUN")?;
        Ok((out.retval, out.duration_ns))
    }
}

impl Engine for KernelJit {
    fn name(&self) -> &'static str {
        "kernel-jit"
    }
    fn class(&self) -> Class {
        Class::Jit
    }
    fn origin(&self) -> Origin {
        Origin::Kernel
    }
    fn result_bits(&self) -> u32 {
        32
    }
    fn prepare<'w>(&self, w: &'w Workload) -> Result<Box<dyn Prepared + 'w>> {
        let name: String = w
            .name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(15)
            .collect();
        let prog = load_raw(&w.code_xdp, &LoadOptions::new(ProgType::Xdp).name(name))
            .context("loading into the kernel (BPF_PROG_LOAD, XDP)")?;
        let footprint = match prog.info() {
            Ok(info) => Footprint {
                bytes: Some(info.jited_size as usize),
                note: format!(
                    "machine code (jited_prog_len); the kernel also keeps the translated \
                     bytecode (xlated_prog_len, e.g. {} bytes for the last program)",
                    info.xlated_size
                ),
            },
            Err(e) => Footprint {
                bytes: None,
                note: format!("program info unavailable: {e}"),
            },
        };
        Ok(Box::new(Loaded { prog, footprint }))
    }
}

impl Prepared for Loaded {
    fn run(&mut self, input: &mut [u8]) -> Result<u64> {
        Ok(u64::from(self.run_repeat(input, 1)?.0))
    }
    fn sample(&mut self, input: &mut [u8], iters: u64) -> Result<f64> {
        let repeat = u32::try_from(iters).unwrap_or(u32::MAX);
        Ok(f64::from(self.run_repeat(input, repeat)?.1))
    }
    fn footprint(&self) -> Footprint {
        self.footprint.clone()
    }
}
