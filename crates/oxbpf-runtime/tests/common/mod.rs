//! A test engine: an `Executable` whose "program" is a Rust closure that reaches memory
//! only through the run's checked regions, as an engine in checked mode does. It tests
//! the runtime's context and region plumbing independently of the eBPF engines.
#![allow(dead_code)]

use oxbpf_vm::{EngineKind, Executable, RunContext, RunOutcome, VmError};

type Body = dyn Fn(&mut RunContext<'_>) -> Result<u64, VmError> + Send + Sync;

pub struct FnExec(pub Box<Body>);

impl FnExec {
    pub fn new(
        f: impl Fn(&mut RunContext<'_>) -> Result<u64, VmError> + Send + Sync + 'static,
    ) -> FnExec {
        FnExec(Box::new(f))
    }
}

impl Executable for FnExec {
    fn run(&self, ctx: &mut RunContext<'_>) -> Result<RunOutcome, VmError> {
        let r0 = (self.0)(ctx)?;
        Ok(RunOutcome {
            r0,
            insns_executed: None,
        })
    }
    fn engine(&self) -> EngineKind {
        EngineKind::Interpreter
    }
}

/// Checked load of `size` bytes (little-endian) at `addr`.
pub fn load(rc: &RunContext<'_>, addr: u64, size: usize) -> Result<u64, VmError> {
    let b = rc
        .regions()
        .slice(addr, size)
        .map_err(|fault| VmError::MemoryFault { pc: 0, fault })?;
    let mut v = [0u8; 8];
    v[..size].copy_from_slice(b);
    Ok(u64::from_le_bytes(v))
}

/// Checked store of the low `size` bytes of `value` at `addr`.
pub fn store(rc: &mut RunContext<'_>, addr: u64, size: usize, value: u64) -> Result<(), VmError> {
    let mut regions = rc.regions_mut();
    let b = regions
        .slice_mut(addr, size)
        .map_err(|fault| VmError::MemoryFault { pc: 0, fault })?;
    b.copy_from_slice(&value.to_le_bytes()[..size]);
    Ok(())
}
