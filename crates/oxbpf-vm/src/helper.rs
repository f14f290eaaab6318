//! Helper functions: Rust closures called by programs with the five-argument eBPF calling
//! convention (`r1`..`r5` in, `r0` out).

use crate::memory::{AccessFault, MemoryRegion, Regions};
use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Why a helper stopped the program. Returning `Ok(value)` with a negative errno in `value`
/// is how a helper reports an ordinary failure to the program, as in Linux; an `Err` ends
/// the run with [`crate::VmError::HelperFailed`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelperError {
    /// Abort the run with this message.
    Abort(String),
    /// A pointer argument was refused.
    Fault(AccessFault),
}

impl fmt::Display for HelperError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HelperError::Abort(m) => f.write_str(m),
            HelperError::Fault(a) => write!(f, "{a}"),
        }
    }
}

impl From<AccessFault> for HelperError {
    fn from(a: AccessFault) -> Self {
        HelperError::Fault(a)
    }
}

/// What a helper sees of the run that called it.
pub struct HelperCtx<'a> {
    /// The run's memory regions (stack frames included): check every pointer argument
    /// against them before touching memory.
    pub regions: &'a mut Regions,
    env: Option<&'a mut dyn Any>,
    pc: usize,
}

impl<'a> HelperCtx<'a> {
    /// Made by engines for each helper call.
    pub fn new(regions: &'a mut Regions, env: Option<&'a mut dyn Any>, pc: usize) -> Self {
        HelperCtx { regions, env, pc }
    }

    /// The slot of the calling instruction.
    pub fn pc(&self) -> usize {
        self.pc
    }

    /// The run's embedder data, if it is a `T`.
    pub fn env<T: Any>(&mut self) -> Option<&mut T> {
        self.env.as_deref_mut()?.downcast_mut::<T>()
    }

    /// Checked borrow of `len` readable bytes at `addr`.
    pub fn read(&self, addr: u64, len: usize) -> Result<&[u8], AccessFault> {
        self.regions.slice(addr, len)
    }

    /// Checked borrow of `len` writable bytes at `addr`.
    pub fn write(&mut self, addr: u64, len: usize) -> Result<&mut [u8], AccessFault> {
        self.regions.slice_mut(addr, len)
    }

    /// Checked read of a NUL-terminated string of at most `max` bytes.
    pub fn c_str(&self, addr: u64, max: usize) -> Result<&[u8], AccessFault> {
        self.regions.c_str(addr, max)
    }

    /// Grants the rest of the run access to a region (for helpers that return pointers
    /// into memory the program did not have before).
    ///
    /// # Safety
    /// The region must stay valid for the rest of the run.
    pub unsafe fn add_region(&mut self, r: MemoryRegion) {
        // SAFETY: forwarded to this function's caller.
        unsafe { self.regions.push(r) };
    }
}

/// The type of a helper: `(ctx, [r1, r2, r3, r4, r5]) -> r0`.
pub type HelperFn = dyn Fn(&mut HelperCtx<'_>, [u64; 5]) -> Result<u64, HelperError> + Send + Sync;

/// A registered helper with the name used in diagnostics and disassembly.
#[derive(Clone)]
pub struct Helper {
    pub name: Arc<str>,
    pub func: Arc<HelperFn>,
}

impl fmt::Debug for Helper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Helper({})", self.name)
    }
}

/// Helpers by id (`call imm`, `callx`) and external functions by id (`call` with src 2).
#[derive(Clone, Debug, Default)]
pub struct Helpers {
    helpers: HashMap<u32, Helper>,
    externals: HashMap<i32, Helper>,
}

impl Helpers {
    /// No helpers.
    pub fn new() -> Helpers {
        Helpers::default()
    }

    /// Registers (or replaces) helper `id`.
    pub fn register<F>(&mut self, id: u32, name: &str, f: F) -> &mut Self
    where
        F: Fn(&mut HelperCtx<'_>, [u64; 5]) -> Result<u64, HelperError> + Send + Sync + 'static,
    {
        self.helpers.insert(
            id,
            Helper {
                name: name.into(),
                func: Arc::new(f),
            },
        );
        self
    }

    /// Registers (or replaces) the external function `id` (`call` with src 2).
    pub fn register_external<F>(&mut self, id: i32, name: &str, f: F) -> &mut Self
    where
        F: Fn(&mut HelperCtx<'_>, [u64; 5]) -> Result<u64, HelperError> + Send + Sync + 'static,
    {
        self.externals.insert(
            id,
            Helper {
                name: name.into(),
                func: Arc::new(f),
            },
        );
        self
    }

    /// Helper `id`, if registered. Ids that do not fit 32 bits are never registered.
    pub fn get(&self, id: u64) -> Option<&Helper> {
        u32::try_from(id).ok().and_then(|id| self.helpers.get(&id))
    }

    /// External function `id`, if registered.
    pub fn external(&self, id: i32) -> Option<&Helper> {
        self.externals.get(&id)
    }

    /// Ids of all registered helpers, ascending.
    pub fn ids(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.helpers.keys().copied().collect();
        v.sort_unstable();
        v
    }
}
