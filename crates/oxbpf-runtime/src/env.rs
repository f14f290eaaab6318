//! What helpers know about a run: the program's maps, trace buffer and type
//! ([`ProgramEnv`], shared by every run of a program) and the per-run record ([`RunEnv`]:
//! the current task, trace flags, tail-call count), which the runtime passes to the engine
//! as the run's embedder data (`RunContext::with_env`).
//!
//! # Map handles
//!
//! A program refers to maps by `lddw` map references that the loader resolves to *map
//! handles*: `MAP_HANDLE_BASE | index` into the program's [`MapTable`]. The base has bit 47
//! set and bits 48..64 clear, a non-canonical x86-64 address, so a handle is never a valid
//! pointer (dereferencing one is a memory fault, never a host access) and never collides
//! with the interpreter's code addresses. Maps reached at run time (inner maps of maps of
//! maps) get handles past the object's own maps, and their value regions are granted to
//! a run the first time the run resolves them.

use crate::maps::{Map, MapRegistry};
use crate::progtype::ProgType;
use crate::task::CurrentTask;
use crate::trace::{TraceBuffer, DEFAULT_FLAGS};
use crate::verified::ContextContract;
use oxbpf_vm::{EngineKind, Executable, RunContext, RunOutcome, VmError};
use parking_lot::RwLock;
use std::any::Any;
use std::ops::Deref;
use std::sync::Arc;

/// Base of map handles (see the module documentation).
pub const MAP_HANDLE_BASE: u64 = 0x0000_ba5e_0000_0000;
const HANDLE_MASK: u64 = 0xffff_ffff_0000_0000;

/// Linux's limit on tail calls per run (`MAX_TAIL_CALL_CNT`).
pub const MAX_TAIL_CALL_CNT: u32 = 33;

/// The maps a program can name, by handle index.
#[derive(Debug, Default)]
pub struct MapTable {
    maps: Vec<Arc<Map>>,
    dynamic: RwLock<Vec<Arc<Map>>>,
}

/// A map resolved from a handle: borrowed from the object's maps, or shared for maps
/// reached at run time.
pub enum MapRef<'a> {
    Static(&'a Map),
    Dynamic(Arc<Map>),
}

impl Deref for MapRef<'_> {
    type Target = Map;
    fn deref(&self) -> &Map {
        match self {
            MapRef::Static(m) => m,
            MapRef::Dynamic(m) => m,
        }
    }
}

impl MapTable {
    /// A table over `maps` (handle index = position).
    pub fn new(maps: Vec<Arc<Map>>) -> MapTable {
        MapTable {
            maps,
            dynamic: RwLock::new(Vec::new()),
        }
    }

    /// The object's maps, by index.
    pub fn maps(&self) -> &[Arc<Map>] {
        &self.maps
    }

    /// The handle of map number `index`.
    pub fn handle(index: usize) -> u64 {
        MAP_HANDLE_BASE | index as u64
    }

    /// The index a handle carries, if `v` is a handle.
    pub fn index_of_handle(v: u64) -> Option<usize> {
        (v & HANDLE_MASK == MAP_HANDLE_BASE).then_some((v & !HANDLE_MASK) as usize)
    }

    /// The handle of `map`: its index among the object's maps, else a run-time handle
    /// (allocated on first use).
    pub fn handle_of(&self, map: &Arc<Map>) -> u64 {
        if let Some(i) = self.maps.iter().position(|m| Arc::ptr_eq(m, map)) {
            return MapTable::handle(i);
        }
        if let Some(i) = self.dynamic.read().iter().position(|m| Arc::ptr_eq(m, map)) {
            return MapTable::handle(self.maps.len() + i);
        }
        let mut d = self.dynamic.write();
        if let Some(i) = d.iter().position(|m| Arc::ptr_eq(m, map)) {
            return MapTable::handle(self.maps.len() + i);
        }
        d.push(map.clone());
        MapTable::handle(self.maps.len() + d.len() - 1)
    }

    /// The map behind `handle`; the second value is the run-time index for maps reached
    /// at run time (whose regions a run must be granted).
    pub fn resolve(&self, handle: u64) -> Option<(MapRef<'_>, Option<usize>)> {
        let i = MapTable::index_of_handle(handle)?;
        if let Some(m) = self.maps.get(i) {
            return Some((MapRef::Static(m), None));
        }
        let j = i - self.maps.len();
        let m = self.dynamic.read().get(j)?.clone();
        Some((MapRef::Dynamic(m), Some(j)))
    }

    /// A table over every map of a registry, in name order.
    pub fn from_registry(reg: &MapRegistry) -> MapTable {
        MapTable::new(reg.maps())
    }
}

/// What every run of one program shares.
#[derive(Debug)]
pub struct ProgramEnv {
    /// The program's name (diagnostics).
    pub name: Arc<str>,
    /// Its type (helper sets, `bpf_perf_event_output` flavour).
    pub prog_type: ProgType,
    /// The maps its handles refer to.
    pub maps: Arc<MapTable>,
    /// Where `bpf_trace_printk` writes.
    pub trace: Arc<TraceBuffer>,
}

impl ProgramEnv {
    /// A program environment.
    pub fn new(
        name: &str,
        prog_type: ProgType,
        maps: Arc<MapTable>,
        trace: Arc<TraceBuffer>,
    ) -> ProgramEnv {
        ProgramEnv {
            name: name.into(),
            prog_type,
            maps,
            trace,
        }
    }
}

/// The per-run record helpers reach through `HelperCtx::env::<RunEnv>()`.
#[derive(Debug)]
pub struct RunEnv {
    program: Arc<ProgramEnv>,
    /// The task helpers report as current (default: the running thread).
    pub task: CurrentTask,
    /// Latency flags of the trace records this run writes.
    pub trace_flags: [u8; 5],
    tail_calls: u32,
    /// Run-time map indexes whose regions were granted to this run.
    dynamic_granted: Vec<usize>,
    /// The maps behind those grants, kept alive for the run.
    granted_maps: Vec<Arc<Map>>,
    /// Map tables (by address) whose value regions the run has now.
    granted_tables: Vec<usize>,
    /// Embedder data for embedder-registered helpers (an extension of the run record:
    /// see [`find_mut`]).
    pub data: Option<Box<dyn Any + Send>>,
}

/// The run's `T`: the run's embedder data itself when it is a `T`, else the extension data
/// ([`RunEnv::data`]) of the run's [`RunEnv`] when that is a `T`. Lets helpers of other
/// modules (packet helpers, embedder helpers) keep their own state in runs that also use
/// the runtime's maps and trace buffer.
pub fn find_mut<'c, T: Any>(ctx: &'c mut oxbpf_vm::HelperCtx<'_>) -> Option<&'c mut T> {
    if ctx.env::<RunEnv>().is_some()
        && std::any::TypeId::of::<T>() != std::any::TypeId::of::<RunEnv>()
    {
        return ctx
            .env::<RunEnv>()?
            .data
            .as_deref_mut()?
            .downcast_mut::<T>();
    }
    ctx.env::<T>()
}

impl RunEnv {
    /// A fresh record for one run of `program`.
    pub fn new(program: Arc<ProgramEnv>) -> RunEnv {
        RunEnv {
            program,
            task: CurrentTask::Thread,
            trace_flags: DEFAULT_FLAGS,
            tail_calls: 0,
            dynamic_granted: Vec::new(),
            granted_maps: Vec::new(),
            granted_tables: Vec::new(),
            data: None,
        }
    }

    /// Sets the extension data (see [`find_mut`]).
    pub fn with_data<T: Any + Send>(mut self, data: T) -> RunEnv {
        self.data = Some(Box::new(data));
        self
    }

    /// The extension data, if it is a `T`.
    pub fn data_mut<T: Any>(&mut self) -> Option<&mut T> {
        self.data.as_deref_mut()?.downcast_mut::<T>()
    }

    /// The program running now (changes during a tail call).
    pub fn program(&self) -> &Arc<ProgramEnv> {
        &self.program
    }

    /// Tail calls made so far in this run.
    pub fn tail_calls(&self) -> u32 {
        self.tail_calls
    }

    pub(crate) fn count_tail_call(&mut self) -> bool {
        if self.tail_calls >= MAX_TAIL_CALL_CNT {
            return false;
        }
        self.tail_calls += 1;
        true
    }

    pub(crate) fn swap_program(&mut self, p: Arc<ProgramEnv>) -> Arc<ProgramEnv> {
        std::mem::replace(&mut self.program, p)
    }

    /// Resolves a map handle for this run, granting the run the map's value regions when
    /// it is a map reached at run time.
    pub fn map(
        &mut self,
        handle: u64,
        regions: &mut oxbpf_vm::RegionsMut<'_>,
    ) -> Option<MapRef<'_>> {
        let (m, dynamic) = self.program.maps.resolve(handle)?;
        if let (Some(j), MapRef::Dynamic(arc)) = (dynamic, &m) {
            if !self.dynamic_granted.contains(&j) {
                crate::grant::grant_in_run(regions, &mut self.granted_maps, arc.clone());
                self.dynamic_granted.push(j);
            }
        }
        Some(m)
    }

    /// [`RunEnv::map`] as a shared handle (for helpers that call back into the program
    /// while they use the map).
    pub fn map_arc(
        &mut self,
        handle: u64,
        regions: &mut oxbpf_vm::RegionsMut<'_>,
    ) -> Option<Arc<Map>> {
        let i = MapTable::index_of_handle(handle)?;
        let program = self.program.clone();
        let m = self.map(handle, regions)?;
        drop(m);
        let maps = program.maps.maps();
        match maps.get(i) {
            Some(m) => Some(m.clone()),
            None => program.maps.dynamic.read().get(i - maps.len()).cloned(),
        }
    }
}

/// An executable program with its environment: what program-array slots hold and what a
/// tail call runs. Running it makes it the current program of the run's [`RunEnv`] (its
/// maps, type and trace buffer) for the duration, and grants the run its maps' regions
/// when they are not the caller's.
///
/// A runner of a verified program ([`ProgramRunner::new_verified`]) checks, whenever it is
/// entered through [`Executable::run`] (tail calls, embedders), that the run keeps the
/// contract the verifier assumed about `r1` ([`ContextContract::check`]).
pub struct ProgramRunner {
    exe: Arc<dyn Executable>,
    env: Arc<ProgramEnv>,
    contract: Option<Arc<ContextContract>>,
    /// The executable cannot count instructions (verified JIT code without budget
    /// checks): runs are made without a budget (verified programs terminate).
    no_budget: bool,
}

impl std::fmt::Debug for ProgramRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgramRunner")
            .field("program", &self.env.name)
            .field("type", &self.env.prog_type)
            .field("engine", &self.exe.engine())
            .field("verified", &self.contract.is_some())
            .finish()
    }
}

impl ProgramRunner {
    /// Wraps an executable (checked: it trusts nothing about its run) with its
    /// environment.
    pub fn new(exe: Arc<dyn Executable>, env: Arc<ProgramEnv>) -> ProgramRunner {
        ProgramRunner {
            exe,
            env,
            contract: None,
            no_budget: false,
        }
    }

    /// Wraps a verified executable: runs entering it through [`Executable::run`] must
    /// keep `contract`. `counts_budget: false` for code that cannot count instructions
    /// (its runs are then made without a budget).
    pub fn new_verified(
        exe: Arc<dyn Executable>,
        env: Arc<ProgramEnv>,
        contract: ContextContract,
        counts_budget: bool,
    ) -> ProgramRunner {
        ProgramRunner {
            exe,
            env,
            contract: Some(Arc::new(contract)),
            no_budget: !counts_budget,
        }
    }

    /// What runs of a verified program must provide (`None`: a checked program).
    pub fn contract(&self) -> Option<&ContextContract> {
        self.contract.as_deref()
    }

    /// The program's environment.
    pub fn env(&self) -> &Arc<ProgramEnv> {
        &self.env
    }

    /// The executable. For a verified program it trusts its context: run it through the
    /// runner, which checks the contract.
    ///
    /// # Safety
    /// For a verified program ([`ProgramRunner::contract`] is `Some`), every run of the
    /// returned executable must be given what the contract describes (the context the
    /// program was verified for, granted as the verifier assumed); nothing is checked.
    pub unsafe fn executable(&self) -> &Arc<dyn Executable> {
        &self.exe
    }

    /// Runs without checking the context contract: for runs whose context the runtime
    /// built itself to the program's layout.
    pub(crate) fn run_trusted(&self, ctx: &mut RunContext<'_>) -> Result<RunOutcome, VmError> {
        if self.no_budget && ctx.budget.is_some() {
            let budget = ctx.budget.take();
            let out = self.run_inner(ctx);
            ctx.budget = budget;
            return out;
        }
        self.run_inner(ctx)
    }
}

impl Executable for ProgramRunner {
    /// Runs the program with its environment:
    /// - in a run with a [`RunEnv`] (the runtime's runs, tail calls), the program becomes
    ///   the run's current program and its maps are granted unless this run already has
    ///   them (an outer call of the same object);
    /// - in a run without embedder data (an embedder's hook, a tracer), a fresh [`RunEnv`]
    ///   is made for the run, so maps, trace and task helpers work;
    /// - in a run whose embedder data is something else, the program runs as it is (the
    ///   helpers that need the runtime then fail with a clear error).
    ///
    /// A verified program's context contract is checked first.
    fn run(&self, ctx: &mut RunContext<'_>) -> Result<RunOutcome, VmError> {
        if let Some(c) = &self.contract {
            c.check(ctx)?;
        }
        self.run_trusted(ctx)
    }

    fn engine(&self) -> EngineKind {
        self.exe.engine()
    }
}

impl ProgramRunner {
    fn run_inner(&self, ctx: &mut RunContext<'_>) -> Result<RunOutcome, VmError> {
        let (_, env) = ctx.parts();
        let Some(env) = env else {
            let mut run_env = RunEnv::new(self.env.clone());
            let mut inner = ctx.nested();
            crate::grant::grant_maps(&mut inner, &self.env.maps);
            run_env
                .granted_tables
                .push(Arc::as_ptr(&self.env.maps) as usize);
            let mut inner = inner.with_env(&mut run_env);
            return self.exe.run(&mut inner);
        };
        let Some(run) = env.downcast_mut::<RunEnv>() else {
            return self.exe.run(ctx);
        };
        let table = Arc::as_ptr(&self.env.maps) as usize;
        let granted = run.granted_tables.contains(&table);
        let prev = run.swap_program(self.env.clone());
        let out = if granted {
            self.exe.run(ctx)
        } else {
            run.granted_tables.push(table);
            crate::grant::with_maps_granted(ctx, &self.env.maps, |c| self.exe.run(c))
        };
        if let (_, Some(e)) = ctx.parts() {
            if let Some(run) = e.downcast_mut::<RunEnv>() {
                run.swap_program(prev);
                if !granted {
                    run.granted_tables.retain(|&t| t != table);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::{MapSpec, MapType};

    #[test]
    fn handles_resolve_static_and_dynamic_maps() {
        let a = Arc::new(Map::create(MapSpec::new("a", MapType::Array, 4, 8, 2)).unwrap());
        let b = Arc::new(Map::create(MapSpec::new("b", MapType::Array, 4, 8, 2)).unwrap());
        let t = Arc::new(MapTable::new(vec![a.clone()]));
        assert_eq!(t.handle_of(&a), MAP_HANDLE_BASE);
        let hb = t.handle_of(&b);
        assert_eq!(hb, MAP_HANDLE_BASE | 1);
        assert_eq!(t.handle_of(&b), hb);
        assert!(t.resolve(MAP_HANDLE_BASE | 2).is_none());
        assert!(t.resolve(0x1000).is_none());
        assert_eq!(MapTable::index_of_handle(hb), Some(1));
        // Non-canonical: never a user-space pointer.
        const { assert!(MAP_HANDLE_BASE >= 1 << 47 && MAP_HANDLE_BASE < 1 << 48) };

        let env = Arc::new(ProgramEnv::new(
            "p",
            ProgType::Unspec,
            t,
            Arc::new(TraceBuffer::default()),
        ));
        let mut run = RunEnv::new(env);
        let mut owned = oxbpf_vm::Regions::new();
        let mut regions = oxbpf_vm::RegionsMut::new(&mut owned);
        assert_eq!(run.map(MAP_HANDLE_BASE, &mut regions).unwrap().name(), "a");
        assert!(regions.is_empty());
        assert_eq!(run.map(hb, &mut regions).unwrap().name(), "b");
        assert_eq!(regions.len(), 1);
        // Granted once per run.
        run.map(hb, &mut regions).unwrap();
        assert_eq!(regions.len(), 1);
        assert!(Arc::ptr_eq(&run.map_arc(hb, &mut regions).unwrap(), &b));
        for _ in 0..MAX_TAIL_CALL_CNT {
            assert!(run.count_tail_call());
        }
        assert!(!run.count_tail_call());
        assert_eq!(run.tail_calls(), 33);

        // Extension data is found from helpers whether it is the run's data or inside
        // the run record.
        #[derive(Debug, PartialEq)]
        struct Mine(u32);
        let mut run = run.with_data(Mine(7));
        assert_eq!(run.data_mut::<Mine>(), Some(&mut Mine(7)));
        let mut r = oxbpf_vm::Regions::new();
        let mut ctx = oxbpf_vm::HelperCtx::new(&mut r, Some(&mut run as &mut dyn Any), 0);
        assert_eq!(find_mut::<Mine>(&mut ctx).map(|m| m.0), Some(7));
        assert!(find_mut::<RunEnv>(&mut ctx).is_some());
        assert!(find_mut::<u64>(&mut ctx).is_none());
        let mut plain = Mine(9);
        let mut ctx = oxbpf_vm::HelperCtx::new(&mut r, Some(&mut plain as &mut dyn Any), 0);
        assert_eq!(find_mut::<Mine>(&mut ctx).map(|m| m.0), Some(9));
    }
}
