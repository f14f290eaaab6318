//! Loading objects into the runtime and running their programs.
//!
//! ```text
//!   ObjectSpec (from an ELF object, or built in Rust)
//!     ── Runtime::load ──▶ maps created (global data initialised, .rodata frozen),
//!                           helper set checked per program type,
//!                           programs verified (by default; see `crate::verified`),
//!                           map references resolved to handles / value addresses,
//!                           engine prepared (verified: the JIT without run-time checks),
//!                           program-array and map-in-map slots filled
//!     ──▶ LoadedObject { programs, maps, trace } ── LoadedProgram::run ──▶ RunResult
//! ```
//!
//! [`ObjectSpec`] is the loader's input: maps with their initial contents and programs with
//! map references as `lddw` src 5/6 (`LoadImm64::MapIdx(i)` / `MapIdxValue { idx, offset }`,
//! `i` indexing [`ObjectSpec::maps`]), which is how `oxbpf_obj::Object` describes an ELF
//! object ([`ObjectSpec::from_object`]). The loader rewrites every reference into a
//! constant: the map's handle ([`crate::env`]) or the host address of `offset` bytes into
//! the map's single value (global data). Runs are granted exactly the object's map value
//! regions (read-only for `BPF_F_RDONLY_PROG` maps such as `.rodata`), the context and the
//! packet, and nothing else.
//!
//! **Verification.** By default ([`Runtime::with_verify`]) every program is verified
//! before it is prepared, with a configuration built from what the runtime provides
//! ([`crate::verified`]); a rejection is [`LoadError::Verifier`]. Accepted programs run in
//! the JIT's verified mode (no run-time memory checks; the interpreter stays checked: it
//! is the reference). Programs of types the verifier does not model are kept out
//! ([`LoadedObject::skipped`]). With verification off, every program is prepared in
//! checked mode, as a program nobody verified.

use crate::env::{MapTable, ProgramEnv, ProgramRunner, RunEnv};
use crate::helpers::{self, HelperSetError};
use crate::maps::{Map, MapError, MapRegistry, MapSpec, MapType, PerfEvent};
use crate::progtype::ProgType;
use crate::task::CurrentTask;
use crate::trace::TraceBuffer;
use crate::verified::{self, ContextContract, HelperMismatch, VerifiedProgram};
use oxbpf_isa::{Insn, LoadImm64, Program};
use oxbpf_verifier::{HelperProto, LineInfo, SourceLine, VerifierConfig, VerifyError};
use oxbpf_vm::{
    EngineKind, Executable, HelperCtx, HelperError, Helpers, RegionKind, RunContext, VmError,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Where a map definition came from (global data sections get one-entry arrays).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum MapOrigin {
    /// Declared by the program.
    #[default]
    Regular,
    /// `.data*`.
    Data,
    /// `.rodata*`: frozen after initialisation, read-only to programs.
    Rodata,
    /// `.bss*`.
    Bss,
}

/// One map of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDefSpec {
    /// How to create it (name, type, sizes, flags, inner map template).
    pub spec: MapSpec,
    /// Where it came from.
    pub origin: MapOrigin,
    /// The value of key 0 at load time (global data).
    pub initial_data: Option<Vec<u8>>,
    /// Initial slots: `(index, name)` of a program (program arrays) or a map of this object
    /// (maps of maps).
    pub init_slots: Vec<(u32, String)>,
}

impl MapDefSpec {
    /// A regular map without initial contents.
    pub fn new(spec: MapSpec) -> MapDefSpec {
        MapDefSpec {
            spec,
            origin: MapOrigin::Regular,
            initial_data: None,
            init_slots: Vec::new(),
        }
    }
}

/// One program of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramSpec {
    /// Name (the entry function's symbol).
    pub name: String,
    /// ELF section (diagnostics).
    pub section: String,
    /// Its type (helper set, packet conventions).
    pub prog_type: ProgType,
    /// Instructions, map references unresolved.
    pub insns: Program,
    /// Why the runtime cannot run this program, if it cannot (it is then not prepared and
    /// [`LoadedObject::skipped`] says why).
    pub unsupported: Option<String>,
    /// Source lines (from the object's `.BTF.ext`), for the verifier's diagnostics.
    pub line_info: Vec<LineInfo>,
    /// The object has BTF function information for this program (Linux requires it for
    /// some constructs; the verifier follows).
    pub btf_func_info: bool,
}

impl ProgramSpec {
    /// A program the runtime can try to prepare.
    pub fn new(name: &str, prog_type: ProgType, insns: Program) -> ProgramSpec {
        ProgramSpec {
            name: name.to_string(),
            section: String::new(),
            prog_type,
            insns,
            unsupported: None,
            line_info: Vec::new(),
            btf_func_info: false,
        }
    }
}

/// What [`Runtime::load`] loads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectSpec {
    /// Maps, by the index programs use.
    pub maps: Vec<MapDefSpec>,
    /// Programs.
    pub programs: Vec<ProgramSpec>,
}

impl ObjectSpec {
    /// The maps and programs of a parsed ELF object. Programs with CO-RE relocations
    /// (reads of kernel structures) are kept but marked unsupported.
    pub fn from_object(obj: &oxbpf_obj::Object) -> Result<ObjectSpec, LoadError> {
        let maps = obj
            .maps
            .iter()
            .map(|d| {
                Ok(MapDefSpec {
                    spec: map_spec(d)?,
                    origin: match d.kind {
                        oxbpf_obj::MapKind::Regular => MapOrigin::Regular,
                        oxbpf_obj::MapKind::Data => MapOrigin::Data,
                        oxbpf_obj::MapKind::Rodata => MapOrigin::Rodata,
                        oxbpf_obj::MapKind::Bss => MapOrigin::Bss,
                    },
                    initial_data: d.initial_data.clone(),
                    init_slots: d
                        .init_slots
                        .iter()
                        .map(|s| (s.index, s.target.clone()))
                        .collect(),
                })
            })
            .collect::<Result<Vec<_>, LoadError>>()?;
        let programs = obj
            .programs
            .iter()
            .map(|p| {
                let id = p.kind.prog_type();
                let prog_type = ProgType::from_u32(id).ok_or_else(|| LoadError::ProgType {
                    program: p.name.clone(),
                    id,
                })?;
                let unsupported = (!p.core_relocations.is_empty()).then(|| {
                    format!(
                        "{} CO-RE relocations (reads of kernel structures, e.g. `{}`): the userspace runtime has no kernel types to relocate against",
                        p.core_relocations.len(),
                        p.core_relocations[0].type_name
                    )
                });
                Ok(ProgramSpec {
                    name: p.name.clone(),
                    section: p.section.clone(),
                    prog_type,
                    insns: p.insns.clone(),
                    unsupported,
                    line_info: p
                        .line_info
                        .iter()
                        .map(|l| LineInfo {
                            pc: l.slot,
                            line: SourceLine {
                                file: l.file.to_string(),
                                line: l.line,
                                column: l.column,
                                text: l.source.to_string(),
                            },
                        })
                        .collect(),
                    btf_func_info: !p.func_info.is_empty(),
                })
            })
            .collect::<Result<Vec<_>, LoadError>>()?;
        Ok(ObjectSpec { maps, programs })
    }

    /// Parses an ELF object and converts it ([`ObjectSpec::from_object`]).
    pub fn from_elf(bytes: &[u8]) -> Result<ObjectSpec, LoadError> {
        let obj = oxbpf_obj::Object::parse(bytes).map_err(|e| LoadError::Object(e.to_string()))?;
        ObjectSpec::from_object(&obj)
    }
}

/// The runtime's spec of an ELF map definition.
pub fn map_spec(d: &oxbpf_obj::MapDef) -> Result<MapSpec, LoadError> {
    let map_type = MapType::from_u32(d.map_type).ok_or_else(|| LoadError::MapDef {
        map: d.name.clone(),
        reason: format!("unknown map type {}", d.map_type),
    })?;
    let mut max_entries = d.max_entries;
    if map_type == MapType::PerfEventArray && max_entries == 0 {
        // libbpf's rule: one slot per possible CPU.
        max_entries = crate::maps::cpu::num_cpus() as u32;
    }
    let mut spec = MapSpec::new(&d.name, map_type, d.key_size, d.value_size, max_entries)
        .with_flags(d.flags)
        .with_map_extra(d.map_extra);
    if let Some(inner) = &d.inner {
        spec = spec.with_inner(map_spec(inner)?);
    }
    Ok(spec)
}

/// Why an object could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LoadError {
    #[error("map `{map}`: {source}")]
    Map { map: String, source: MapError },
    #[error("map `{map}`: {reason}")]
    MapDef { map: String, reason: String },
    #[error("program `{program}`, instruction {pc}: {reason}")]
    MapReference {
        program: String,
        pc: usize,
        reason: String,
    },
    #[error("program `{program}`: {source}")]
    Helpers {
        program: String,
        source: HelperSetError,
    },
    #[error("program `{program}` ({engine:?}): {source}")]
    Engine {
        program: String,
        engine: EngineKind,
        source: oxbpf_vm::LoadError,
    },
    #[error("map `{map}` slot {index}: {reason}")]
    Slot {
        map: String,
        index: u32,
        reason: String,
    },
    #[error("two programs are named `{0}`")]
    DuplicateProgram(String),
    #[error("program `{program}`: unknown program type {id}")]
    ProgType { program: String, id: u32 },
    /// The verifier rejected the program ([`VerifyError::report`] gives the full report).
    #[error("program `{program}`: rejected by the verifier: {}", .error.summary())]
    Verifier {
        program: String,
        error: Box<VerifyError>,
    },
    /// The program calls a helper that the runtime and the verifier do not agree on.
    #[error("program `{program}`: {source}")]
    HelperMismatch {
        program: String,
        source: HelperMismatch,
    },
    #[error("{0}")]
    Object(String),
}

/// A program's run failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RunError {
    #[error("program `{program}`: {source}")]
    Vm { program: String, source: VmError },
    #[error("program `{program}`: {reason}")]
    Input { program: String, reason: String },
}

/// Prepares a verified `program` for `engine`: the JIT compiles in verified mode (no
/// run-time memory checks), with budget checks only when `budget_checks`; the interpreter
/// is the same as for [`prepare`].
///
/// # Safety
/// The program was accepted by the verifier with a configuration that matches the runs
/// it will get (see [`crate::verified`]), and every run of the result is given the memory
/// the verifier assumed (wrap it in [`ProgramRunner::new_verified`] with the program's
/// [`ContextContract`], which checks that on every entry through `Executable::run`).
pub unsafe fn prepare_verified(
    engine: EngineKind,
    program: &Program,
    helpers: &Helpers,
    budget_checks: bool,
) -> Result<Arc<dyn Executable>, oxbpf_vm::LoadError> {
    match engine {
        #[cfg(target_arch = "x86_64")]
        EngineKind::Jit => {
            let opts = oxbpf_vm::jit::JitOptions {
                budget_checks,
                ..oxbpf_vm::jit::JitOptions::verified()
            };
            // SAFETY: this function's contract.
            let jit =
                unsafe { oxbpf_vm::jit::JitProgram::compile_verified(program, helpers, &opts) }?;
            Ok(Arc::new(jit))
        }
        _ => prepare(engine, program, helpers),
    }
}

/// Prepares `program` for `engine`. The JIT compiles in checked mode with budget checks:
/// programs loaded here are not known to be verified.
pub fn prepare(
    engine: EngineKind,
    program: &Program,
    helpers: &Helpers,
) -> Result<Arc<dyn Executable>, oxbpf_vm::LoadError> {
    match engine {
        EngineKind::Interpreter => Ok(Arc::new(oxbpf_vm::Interpreter::new(program, helpers)?)),
        #[cfg(target_arch = "x86_64")]
        EngineKind::Jit => Ok(Arc::new(oxbpf_vm::jit::JitProgram::compile(
            program,
            helpers,
            &oxbpf_vm::jit::JitOptions::checked(),
        )?)),
        #[cfg(not(target_arch = "x86_64"))]
        EngineKind::Jit => Err(oxbpf_vm::LoadError::Unsupported {
            pc: 0,
            what: "the JIT engine (x86-64 only)",
        }),
    }
}

/// The userspace runtime: engine choice, embedder helpers and the trace buffer shared by
/// the objects it loads.
pub struct Runtime {
    engine: EngineKind,
    helpers: Helpers,
    protos: Vec<HelperProto>,
    trace: Arc<TraceBuffer>,
    budget: Option<u64>,
    verify: bool,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::new()
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("engine", &self.engine)
            .field("embedder_helpers", &self.helpers.ids())
            .field("budget", &self.budget)
            .field("verify", &self.verify)
            .finish()
    }
}

impl Runtime {
    /// The interpreter, no embedder helpers, a 1 MiB trace buffer, no budget, programs
    /// verified.
    pub fn new() -> Runtime {
        Runtime {
            engine: EngineKind::Interpreter,
            helpers: Helpers::new(),
            protos: Vec::new(),
            trace: Arc::new(TraceBuffer::default()),
            budget: None,
            verify: true,
        }
    }

    /// Verifies programs at load (the default) and runs the accepted ones without
    /// run-time checks; `false` loads every program unverified, in checked mode (for
    /// programs the verifier cannot prove safe but a user trusts: the checks still keep
    /// them inside their memory).
    pub fn with_verify(mut self, verify: bool) -> Runtime {
        self.verify = verify;
        self
    }

    /// True when programs are verified at load.
    pub fn verifies(&self) -> bool {
        self.verify
    }

    /// Gives the verifier the prototype of an embedder helper (registered with
    /// [`Runtime::register_helper`] under the same id): without one, verified loads
    /// refuse programs that call it.
    pub fn helper_prototype(&mut self, proto: HelperProto) -> &mut Self {
        self.protos.retain(|p| p.id != proto.id);
        self.protos.push(proto);
        self
    }

    /// Selects the engine programs are prepared for.
    pub fn with_engine(mut self, engine: EngineKind) -> Runtime {
        self.engine = engine;
        self
    }

    /// Replaces the trace buffer (to share one between runtimes, or to size it).
    pub fn with_trace(mut self, trace: Arc<TraceBuffer>) -> Runtime {
        self.trace = trace;
        self
    }

    /// Stops every run after `budget` instructions (`None`: unlimited).
    pub fn with_budget(mut self, budget: Option<u64>) -> Runtime {
        self.budget = budget;
        self
    }

    /// Registers an embedder helper under `id` for programs loaded afterwards (every
    /// program type may call it; it replaces a built-in helper of the same id).
    pub fn register_helper<F>(&mut self, id: u32, name: &str, f: F) -> &mut Self
    where
        F: Fn(&mut HelperCtx<'_>, [u64; 5]) -> Result<u64, HelperError> + Send + Sync + 'static,
    {
        self.helpers.register(id, name, f);
        self
    }

    /// The engine.
    pub fn engine(&self) -> EngineKind {
        self.engine
    }

    /// The trace buffer programs write to.
    pub fn trace(&self) -> &Arc<TraceBuffer> {
        &self.trace
    }

    /// Loads an object: creates its maps, resolves and prepares its programs.
    pub fn load(&self, object: &ObjectSpec) -> Result<LoadedObject, LoadError> {
        let registry = MapRegistry::new();
        let mut maps: Vec<Arc<Map>> = Vec::with_capacity(object.maps.len());
        for def in &object.maps {
            maps.push(create_map(def, &registry)?);
        }
        let table = Arc::new(MapTable::new(maps.clone()));
        // Maps of maps point at maps of this object.
        for (def, map) in object.maps.iter().zip(&maps) {
            if let Some(mm) = map.as_map_of_maps() {
                for (index, target) in &def.init_slots {
                    let slot_err = |reason: String| LoadError::Slot {
                        map: def.spec.name.clone(),
                        index: *index,
                        reason,
                    };
                    let inner = registry
                        .get(target)
                        .ok_or_else(|| slot_err(format!("no map named `{target}`")))?;
                    mm.set(&index.to_ne_bytes(), inner, 0)
                        .map_err(|e| slot_err(e.to_string()))?;
                }
            }
        }
        let mut programs: BTreeMap<String, LoadedProgram> = BTreeMap::new();
        let mut skipped: BTreeMap<String, String> = BTreeMap::new();
        for p in &object.programs {
            if programs.contains_key(&p.name) || skipped.contains_key(&p.name) {
                return Err(LoadError::DuplicateProgram(p.name.clone()));
            }
            if let Some(why) = &p.unsupported {
                log::warn!("program `{}` not loaded: {why}", p.name);
                skipped.insert(p.name.clone(), why.clone());
                continue;
            }
            if self.verify && verified::verifier_program_type(p.prog_type).is_none() {
                let why = verified::unverifiable_reason(p.prog_type);
                log::warn!("program `{}` not loaded: {why}", p.name);
                skipped.insert(p.name.clone(), why);
                continue;
            }
            let lp = self.load_program(p, object, &maps, &table)?;
            programs.insert(p.name.clone(), lp);
        }
        // Program arrays point at programs of this object.
        for (def, map) in object.maps.iter().zip(&maps) {
            if let Some(pa) = map.as_prog_array() {
                for (index, target) in &def.init_slots {
                    let slot_err = |reason: String| LoadError::Slot {
                        map: def.spec.name.clone(),
                        index: *index,
                        reason,
                    };
                    if skipped.contains_key(target) {
                        // The target could not be prepared: the slot stays empty.
                        continue;
                    }
                    let prog = programs
                        .get(target)
                        .ok_or_else(|| slot_err(format!("no program named `{target}`")))?;
                    pa.set(*index, prog.runner.clone())
                        .map_err(|e| slot_err(e.to_string()))?;
                }
            }
        }
        Ok(LoadedObject {
            maps: registry,
            table,
            programs,
            skipped,
            trace: self.trace.clone(),
        })
    }

    /// Parses and loads an ELF object.
    pub fn load_elf(&self, bytes: &[u8]) -> Result<LoadedObject, LoadError> {
        self.load(&ObjectSpec::from_elf(bytes)?)
    }

    /// Loads a single program with no maps (raw bytecode), of type `prog_type`.
    pub fn load_program_bytes(
        &self,
        name: &str,
        prog_type: ProgType,
        program: Program,
    ) -> Result<LoadedObject, LoadError> {
        self.load(&ObjectSpec {
            maps: Vec::new(),
            programs: vec![ProgramSpec::new(name, prog_type, program)],
        })
    }

    fn load_program(
        &self,
        p: &ProgramSpec,
        object: &ObjectSpec,
        maps: &[Arc<Map>],
        table: &Arc<MapTable>,
    ) -> Result<LoadedProgram, LoadError> {
        let resolved = resolve(p, maps)?;
        let helpers = helpers::helpers_for(p.prog_type, &self.helpers, Some(&resolved)).map_err(
            |source| LoadError::Helpers {
                program: p.name.clone(),
                source,
            },
        )?;
        let verified = if self.verify {
            Some(Arc::new(self.verify_program(p, object, maps, &helpers)?))
        } else {
            None
        };
        let engine_err = |source| LoadError::Engine {
            program: p.name.clone(),
            engine: self.engine,
            source,
        };
        let env = Arc::new(ProgramEnv::new(
            &p.name,
            p.prog_type,
            table.clone(),
            self.trace.clone(),
        ));
        let runner = match &verified {
            Some(v) => {
                // Verified programs terminate: the JIT counts instructions only when the
                // runtime asks for a budget.
                let counts = self.engine != EngineKind::Jit || self.budget.is_some();
                // SAFETY: `verify_program` accepted `p` with the configuration of this
                // runtime (its maps, helpers and the context of its type); `resolved` is
                // that program with the same maps resolved, and the runner below checks
                // the verified context contract on every entry.
                let exe = unsafe { prepare_verified(self.engine, &resolved, &helpers, counts) }
                    .map_err(engine_err)?;
                ProgramRunner::new_verified(exe, env.clone(), v.contract.clone(), counts)
            }
            None => ProgramRunner::new(
                prepare(self.engine, &resolved, &helpers).map_err(engine_err)?,
                env.clone(),
            ),
        };
        Ok(LoadedProgram {
            name: p.name.clone(),
            section: p.section.clone(),
            prog_type: p.prog_type,
            runner: Arc::new(runner),
            env,
            insns: resolved,
            budget: self.budget,
            verified,
        })
    }

    /// The verifier configuration of `p` as this runtime will run it (see
    /// [`crate::verified`]).
    fn verifier_config(
        &self,
        p: &ProgramSpec,
        object: &ObjectSpec,
        maps: &[Arc<Map>],
    ) -> Option<VerifierConfig> {
        let pt = verified::verifier_program_type(p.prog_type)?;
        let mut conf = VerifierConfig::new(pt);
        conf.context = verified::context_descriptor(p.prog_type, &p.section);
        conf.maps = verified::verifier_maps(&object.maps, maps);
        conf.helpers = self.protos.clone();
        conf.btf_func_info = p.btf_func_info;
        Some(conf.with_line_info(p.line_info.clone()))
    }

    /// Verifies `p` (map references unresolved: the verifier types them) against the
    /// runtime's configuration, after checking that the runtime and the verifier agree on
    /// every helper it calls.
    fn verify_program(
        &self,
        p: &ProgramSpec,
        object: &ObjectSpec,
        maps: &[Arc<Map>],
        helpers: &Helpers,
    ) -> Result<VerifiedProgram, LoadError> {
        let conf = self
            .verifier_config(p, object, maps)
            .ok_or_else(|| LoadError::Object(verified::unverifiable_reason(p.prog_type)))?;
        verified::check_helpers(p.prog_type, helpers, &conf, &p.insns).map_err(|source| {
            LoadError::HelperMismatch {
                program: p.name.clone(),
                source,
            }
        })?;
        let stats =
            oxbpf_verifier::verify(&p.insns, &conf).map_err(|error| LoadError::Verifier {
                program: p.name.clone(),
                error,
            })?;
        let context = conf
            .context
            .clone()
            .unwrap_or_else(|| conf.prog_type.default_context());
        let contract = ContextContract::new(&context, conf.prog_type.packet_access());
        log::debug!(
            "program `{}` verified: {} instructions processed",
            p.name,
            stats.stats.insns_processed
        );
        Ok(VerifiedProgram {
            verified: stats,
            context,
            contract,
        })
    }
}

/// Creates one map and gives it its initial contents.
fn create_map(def: &MapDefSpec, registry: &MapRegistry) -> Result<Arc<Map>, LoadError> {
    let name = def.spec.name.clone();
    let map_err = |source| LoadError::Map {
        map: name.clone(),
        source,
    };
    let mut spec = def.spec.clone();
    if def.origin == MapOrigin::Rodata {
        // Programs may only read `.rodata`, whatever the definition says: verified
        // programs may rely on its contents as constants.
        spec.flags |= crate::maps::flags::BPF_F_RDONLY_PROG;
    }
    let map = registry.create(spec).map_err(map_err)?;
    if let Some(init) = &def.initial_data {
        if init.len() != def.spec.value_size as usize || def.spec.key_size != 4 {
            return Err(LoadError::MapDef {
                map: name.clone(),
                reason: format!(
                    "initial data of {} bytes for a map with key size {} and value size {}",
                    init.len(),
                    def.spec.key_size,
                    def.spec.value_size
                ),
            });
        }
        if init.iter().any(|&b| b != 0) {
            map.update(&0u32.to_ne_bytes(), init, 0).map_err(map_err)?;
        }
    }
    if def.origin == MapOrigin::Rodata {
        map.freeze().map_err(map_err)?;
    }
    Ok(map)
}

/// Rewrites `p`'s map references into constants.
fn resolve(p: &ProgramSpec, maps: &[Arc<Map>]) -> Result<Program, LoadError> {
    let err = |pc: usize, reason: String| LoadError::MapReference {
        program: p.name.clone(),
        pc,
        reason,
    };
    let mut insns = p.insns.insns().to_vec();
    for (i, slot, insn) in p.insns.iter() {
        let Insn::LoadImm64 { dst, value } = *insn else {
            continue;
        };
        let imm = match value {
            LoadImm64::MapIdx(idx) => {
                let idx = usize::try_from(idx)
                    .ok()
                    .filter(|&i| i < maps.len())
                    .ok_or_else(|| {
                        err(slot, format!("map index {idx} is not one of the {} maps", maps.len()))
                    })?;
                MapTable::handle(idx)
            }
            LoadImm64::MapIdxValue { idx, offset } => {
                let map = usize::try_from(idx)
                    .ok()
                    .and_then(|i| maps.get(i))
                    .ok_or_else(|| {
                        err(slot, format!("map index {idx} is not one of the {} maps", maps.len()))
                    })?;
                value_address(map, offset).map_err(|r| err(slot, r))?
            }
            LoadImm64::MapFd(fd) | LoadImm64::MapValue { fd, .. } => {
                return Err(err(
                    slot,
                    format!("map file descriptor {fd}: the userspace runtime names maps by index (lddw src 5/6), not by kernel fd"),
                ))
            }
            LoadImm64::VariableAddr { btf_id, .. } => {
                return Err(err(
                    slot,
                    format!("kernel variable (BTF id {btf_id}): the userspace runtime has no kernel variables"),
                ))
            }
            LoadImm64::Imm(_) | LoadImm64::CodeAddr(_) => continue,
        };
        insns[i] = Insn::LoadImm64 {
            dst,
            value: LoadImm64::Imm(imm),
        };
    }
    Program::from_insns(insns).map_err(|e| err(e.pc, e.to_string()))
}

/// Host address of `offset` bytes into the single value of `map` (an array), as
/// `BPF_PSEUDO_MAP_VALUE` gives in Linux.
fn value_address(map: &Map, offset: u32) -> Result<u64, String> {
    if map.map_type() != MapType::Array {
        return Err(format!(
            "direct value access into map `{}` of type {}: only arrays have addressable values",
            map.name(),
            map.map_type()
        ));
    }
    if offset >= map.spec().value_size {
        return Err(format!(
            "offset {offset} is past the {}-byte value of map `{}`",
            map.spec().value_size,
            map.name()
        ));
    }
    let p = map
        .lookup_elem(&0u32.to_ne_bytes(), 0)
        .ok_or_else(|| format!("map `{}` has no element 0", map.name()))?;
    Ok(p.as_ptr() as u64 + offset as u64)
}

/// A loaded object: its maps and programs.
pub struct LoadedObject {
    maps: MapRegistry,
    table: Arc<MapTable>,
    programs: BTreeMap<String, LoadedProgram>,
    skipped: BTreeMap<String, String>,
    trace: Arc<TraceBuffer>,
}

impl std::fmt::Debug for LoadedObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedObject")
            .field("programs", &self.programs.keys().collect::<Vec<_>>())
            .field("maps", &self.maps.names())
            .finish()
    }
}

impl LoadedObject {
    /// The program named `name`.
    pub fn program(&self, name: &str) -> Option<&LoadedProgram> {
        self.programs.get(name)
    }

    /// All programs, by name.
    pub fn programs(&self) -> impl Iterator<Item = &LoadedProgram> {
        self.programs.values()
    }

    /// Programs of the object the runtime could not prepare, with the reason.
    pub fn skipped(&self) -> impl Iterator<Item = (&str, &str)> {
        self.skipped.iter().map(|(n, r)| (n.as_str(), r.as_str()))
    }

    /// The object's maps, by name.
    pub fn maps(&self) -> &MapRegistry {
        &self.maps
    }

    /// The map named `name`.
    pub fn map(&self, name: &str) -> Option<Arc<Map>> {
        self.maps.get(name)
    }

    /// The maps in the object's order (the index programs use).
    pub fn map_table(&self) -> &Arc<MapTable> {
        &self.table
    }

    /// The trace buffer.
    pub fn trace(&self) -> &Arc<TraceBuffer> {
        &self.trace
    }

    /// A reader of the ring buffer map `name`.
    pub fn ring_buffer(&self, name: &str) -> Result<RingBufReader, MapError> {
        let map = self.maps.require(name)?;
        let t = map.map_type();
        RingBufReader::new(map).ok_or_else(|| MapError::InvalidArgument {
            map: name.to_string(),
            reason: format!("{t} is not a ring buffer"),
        })
    }

    /// Opens a perf buffer of `capacity` bytes per CPU on the perf event array `name` and
    /// returns its reader.
    pub fn perf_buffer(&self, name: &str, capacity: usize) -> Result<PerfReader, MapError> {
        let map = self.maps.require(name)?;
        let Some(pea) = map.as_perf_event_array() else {
            return Err(MapError::InvalidArgument {
                map: name.to_string(),
                reason: format!("{} is not a perf event array", map.map_type()),
            });
        };
        pea.open_all(capacity)?;
        Ok(PerfReader { map })
    }

    /// Total bytes of the object's maps.
    pub fn memory_bytes(&self) -> usize {
        self.maps.memory_bytes()
    }
}

/// Input of one run, as `BPF_PROG_TEST_RUN` takes it.
#[derive(Debug, Default)]
pub struct RunInput<'a> {
    /// The context (`r1` points at it; readable and writable). Empty: none.
    pub ctx: Option<&'a mut [u8]>,
    /// Packet data (granted as a `Packet` region). Without a context, `r1` is the packet's
    /// address and `r2` its length (the plain-VM convention).
    pub packet: Option<&'a mut [u8]>,
    /// The current task (default: the running thread).
    pub task: CurrentTask,
    /// Runs (`BPF_PROG_TEST_RUN`'s `repeat`; 0 and 1 both mean once).
    pub repeat: u32,
}

/// What a run produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunResult {
    /// `r0` of the last run.
    pub r0: u64,
    /// Instructions the last run executed (when the engine counts them).
    pub insns: Option<u64>,
    /// Mean wall time of one run.
    pub duration: Duration,
    /// Number of runs.
    pub runs: u32,
}

/// A program ready to run.
pub struct LoadedProgram {
    name: String,
    section: String,
    prog_type: ProgType,
    runner: Arc<ProgramRunner>,
    env: Arc<ProgramEnv>,
    insns: Program,
    budget: Option<u64>,
    verified: Option<Arc<VerifiedProgram>>,
}

impl std::fmt::Debug for LoadedProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedProgram")
            .field("name", &self.name)
            .field("section", &self.section)
            .field("type", &self.prog_type)
            .field("engine", &self.runner.engine())
            .field("verified", &self.verified.is_some())
            .finish()
    }
}

impl LoadedProgram {
    /// What the verifier found, for a verified program (`None`: loaded unverified, runs
    /// in checked mode).
    pub fn verified(&self) -> Option<&VerifiedProgram> {
        self.verified.as_deref()
    }

    /// Name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// ELF section.
    pub fn section(&self) -> &str {
        &self.section
    }

    /// Type.
    pub fn prog_type(&self) -> ProgType {
        self.prog_type
    }

    /// The instructions as they run (map references resolved).
    pub fn insns(&self) -> &Program {
        &self.insns
    }

    /// The executable (with its environment: what a program array slot holds).
    pub fn runner(&self) -> &Arc<ProgramRunner> {
        &self.runner
    }

    /// The program's environment (maps, trace buffer, type).
    pub fn env(&self) -> &Arc<ProgramEnv> {
        &self.env
    }

    /// A fresh run record for this program (for embedders that build their own
    /// [`RunContext`]; see [`LoadedProgram::run_with`]).
    pub fn run_env(&self) -> RunEnv {
        RunEnv::new(self.env.clone())
    }

    /// Runs the program with an embedder-built context: attaches `env` as the run's
    /// embedder data and applies the runtime's budget unless the context has one (the
    /// object's maps are granted by the program's [`ProgramRunner`]). A verified program's
    /// context must be granted in `ctx.regions` as its contract says
    /// ([`ContextContract::check`]); otherwise the run fails before it starts.
    pub fn run_with(&self, ctx: RunContext<'_>, env: &mut RunEnv) -> Result<u64, RunError> {
        let mut ctx = ctx;
        if ctx.budget.is_none() {
            ctx.budget = self.budget;
        }
        let mut ctx = ctx.with_env(env);
        self.runner
            .run(&mut ctx)
            .map(|o| o.r0)
            .map_err(|source| RunError::Vm {
                program: self.name.clone(),
                source,
            })
    }

    /// Runs the program on `input` (once, or `input.repeat` times on the same buffers, as
    /// `BPF_PROG_TEST_RUN` does) and returns the last `r0` and the mean time per run.
    ///
    /// A verified program gets a context of the layout it was verified against: a shorter
    /// `input.ctx` is zero-extended for the runs (and the caller's bytes updated after),
    /// no context means a zeroed one. Programs whose context holds packet pointers (XDP,
    /// tc, cgroup skb) run verified only through [`LoadedProgram::run_packet`].
    pub fn run(&self, input: RunInput<'_>) -> Result<RunResult, RunError> {
        let RunInput {
            mut ctx,
            mut packet,
            task,
            repeat,
        } = input;
        let mut padded = self.verified_context(ctx.as_deref(), packet.is_some())?;
        let runs = repeat.max(1);
        let mut last = None;
        let start = Instant::now();
        let mut result = Ok(());
        for _ in 0..runs {
            let c = match padded.as_deref_mut() {
                Some(p) => Some(p),
                None => ctx.as_deref_mut(),
            };
            let mut rc = match (c, packet.as_deref_mut()) {
                (Some(c), p) => {
                    let mut rc = RunContext::with_context(c);
                    if let Some(p) = p {
                        rc.allow_mut(p, RegionKind::Packet);
                    }
                    rc
                }
                (None, Some(p)) => {
                    let mut rc = RunContext::new();
                    rc.args[0] = p.as_mut_ptr() as u64;
                    rc.args[1] = p.len() as u64;
                    rc.allow_mut(p, RegionKind::Packet);
                    rc
                }
                (None, None) => RunContext::new(),
            };
            rc.budget = self.budget;
            let mut env = RunEnv::new(self.env.clone());
            env.task = task;
            let mut rc = rc.with_env(&mut env);
            // The context was built to the program's layout just above.
            match self.runner.run_trusted(&mut rc) {
                Ok(out) => last = Some(out),
                Err(source) => {
                    result = Err(RunError::Vm {
                        program: self.name.clone(),
                        source,
                    });
                    break;
                }
            }
        }
        let elapsed = start.elapsed();
        // A zero-extended context goes back to the caller's buffer.
        if let (Some(p), Some(c)) = (&padded, ctx) {
            let n = c.len();
            c.copy_from_slice(&p[..n]);
        }
        result?;
        let out = last.ok_or_else(|| RunError::Input {
            program: self.name.clone(),
            reason: "no run was made".into(),
        })?;
        Ok(RunResult {
            r0: out.r0,
            insns: out.insns_executed,
            duration: elapsed / runs,
            runs,
        })
    }

    /// For a verified program, the context its runs need when the caller's is not
    /// enough: a zero-extended copy of a shorter context, or zeros when none is given
    /// (`None`: use the caller's). Packet pointers in a context are refused (only the
    /// packet runner sets them), and so is a bare packet where the program expects a
    /// context.
    fn verified_context(
        &self,
        ctx: Option<&[u8]>,
        packet: bool,
    ) -> Result<Option<Vec<u8>>, RunError> {
        let Some(v) = &self.verified else {
            return Ok(None);
        };
        let c = &v.contract;
        let input_err = |reason: String| RunError::Input {
            program: self.name.clone(),
            reason,
        };
        if c.packet.is_some() {
            return Err(input_err(format!(
                "this verified {} program reads packet pointers from its context ({}), \
                 which only the packet runner sets: run it on a packet with run_packet (XDP \
                 and socket filters), or load it without verification",
                self.prog_type, c.name
            )));
        }
        let need = c.size as usize;
        if need == 0 {
            return Ok(None);
        }
        match ctx {
            Some(b) if b.len() >= need => Ok(None),
            Some(b) => {
                let mut v = vec![0u8; need];
                v[..b.len()].copy_from_slice(b);
                Ok(Some(v))
            }
            None if packet => Err(input_err(format!(
                "{} programs take a context ({}, {need} bytes) in r1, not a bare packet",
                self.prog_type, c.name
            ))),
            None => Ok(Some(vec![0u8; need])),
        }
    }

    /// Runs once with a context buffer (`r1` = its address) and returns `r0`.
    pub fn run_ctx(&self, ctx: &mut [u8]) -> Result<u64, RunError> {
        self.run(RunInput {
            ctx: Some(ctx),
            ..Default::default()
        })
        .map(|r| r.r0)
    }

    /// Runs once with no context and no packet and returns `r0`.
    pub fn run_empty(&self) -> Result<u64, RunError> {
        self.run(RunInput::default()).map(|r| r.r0)
    }
}

/// What a run on a packet produced (XDP and socket-filter programs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketRun {
    /// `r0` of the last run.
    pub r0: u64,
    /// The verdict of the last run.
    pub verdict: crate::packet::Verdict,
    /// The packet as the last run left it (XDP: `data..data_end`; socket filter: the kept
    /// bytes).
    pub data: Vec<u8>,
    /// Mean wall time of one run.
    pub duration: Duration,
    /// Number of runs.
    pub runs: u32,
}

/// Runs a program inside a `PacketRunner` run: the runner's `PacketEnv` becomes the
/// extension data of a `RunEnv` (so map, trace and packet helpers all work) and is copied
/// back when the program returns.
struct PacketBridge<'p> {
    program: &'p LoadedProgram,
}

impl Executable for PacketBridge<'_> {
    fn run(&self, ctx: &mut RunContext<'_>) -> Result<oxbpf_vm::RunOutcome, VmError> {
        let Some(pe) = ctx
            .parts()
            .1
            .and_then(|e| e.downcast_mut::<crate::packet::PacketEnv>())
            .copied()
        else {
            return self.program.runner.run(ctx);
        };
        let mut env = RunEnv::new(self.program.env.clone()).with_data(pe);
        let mut inner = ctx.nested().with_env(&mut env);
        let out = self.program.runner.run(&mut inner);
        drop(inner);
        if let (Some(after), Some(outer)) = (
            env.data_mut::<crate::packet::PacketEnv>().copied(),
            ctx.parts()
                .1
                .and_then(|e| e.downcast_mut::<crate::packet::PacketEnv>()),
        ) {
            *outer = after;
        }
        out
    }

    fn engine(&self) -> EngineKind {
        self.program.runner.engine()
    }
}

impl LoadedProgram {
    /// Runs an XDP or socket-filter program on one Ethernet packet with the kernel's
    /// context (`xdp_md` / `__sk_buff`, packet helpers included), `repeat` times on fresh
    /// copies of the packet, as `BPF_PROG_TEST_RUN` does. Other types: a typed error.
    pub fn run_packet(&self, packet: &[u8], repeat: u32) -> Result<PacketRun, RunError> {
        use crate::packet::{LinkType, PacketOptions, PacketRunner, ProgramKind, SkbView};
        let kind = match self.prog_type {
            ProgType::Xdp => ProgramKind::Xdp,
            ProgType::SocketFilter => ProgramKind::SocketFilter,
            t => {
                return Err(RunError::Input {
                    program: self.name.clone(),
                    reason: format!(
                        "{t} programs take no packet context (XDP and socket filters do)"
                    ),
                })
            }
        };
        let bridge = PacketBridge { program: self };
        let opts = PacketOptions {
            budget: self.budget,
            skb_view: SkbView::Network,
            ..PacketOptions::default()
        };
        let input_err = |reason: String| RunError::Input {
            program: self.name.clone(),
            reason,
        };
        let mut runner = PacketRunner::with_options(&bridge, kind, opts)
            .map_err(|e| input_err(e.to_string()))?;
        let runs = repeat.max(1);
        let mut last = None;
        let start = Instant::now();
        for _ in 0..runs {
            let out = runner
                .run_packet(
                    LinkType::Ethernet,
                    packet,
                    packet.len() as u32,
                    Duration::ZERO,
                )
                .map_err(|e| input_err(e.to_string()))?;
            if let crate::packet::Verdict::Fault(e) = &out.verdict {
                return Err(RunError::Vm {
                    program: self.name.clone(),
                    source: e.clone(),
                });
            }
            last = Some((out.r0.unwrap_or(0), out.verdict.clone(), out.data.to_vec()));
        }
        let elapsed = start.elapsed();
        let (r0, verdict, data) = last.ok_or_else(|| input_err("no run was made".into()))?;
        Ok(PacketRun {
            r0,
            verdict,
            data,
            duration: elapsed / runs,
            runs,
        })
    }
}

/// Reads records from a ring buffer map as a stream.
#[derive(Debug, Clone)]
pub struct RingBufReader {
    map: Arc<Map>,
}

impl RingBufReader {
    /// A reader over `map`, if it is a ring buffer.
    pub fn new(map: Arc<Map>) -> Option<RingBufReader> {
        map.as_ringbuf()?;
        Some(RingBufReader { map })
    }

    /// Every committed record now, in order (removed from the ring).
    pub fn drain(&self) -> Vec<Vec<u8>> {
        self.map.as_ringbuf().map(|r| r.drain()).unwrap_or_default()
    }

    /// Waits up to `timeout` for records, then drains them.
    pub fn next_batch(&self, timeout: Duration) -> Vec<Vec<u8>> {
        match self.map.as_ringbuf() {
            Some(r) if r.wait(timeout) => r.drain(),
            _ => Vec::new(),
        }
    }

    /// Hands every committed record to `f` without copying; returns how many.
    pub fn consume(&self, f: impl FnMut(&[u8])) -> usize {
        self.map.as_ringbuf().map_or(0, |r| r.consume(f))
    }

    /// Records the ring refused because it was full.
    pub fn dropped(&self) -> u64 {
        self.map.as_ringbuf().map_or(0, |r| r.dropped())
    }

    /// An iterator over the records available now.
    pub fn iter(&self) -> std::vec::IntoIter<Vec<u8>> {
        self.drain().into_iter()
    }
}

/// One event of a perf buffer, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PerfRecord {
    Sample { cpu: usize, data: Vec<u8> },
    Lost { cpu: usize, count: u64 },
}

/// Reads the perf buffers of a perf event array.
#[derive(Debug, Clone)]
pub struct PerfReader {
    map: Arc<Map>,
}

impl PerfReader {
    /// Every buffered event of every CPU, in CPU order (removed).
    pub fn drain(&self) -> Vec<PerfRecord> {
        let mut out = Vec::new();
        if let Some(p) = self.map.as_perf_event_array() {
            p.read(|ev| {
                out.push(match ev {
                    PerfEvent::Sample { cpu, data } => PerfRecord::Sample {
                        cpu,
                        data: data.to_vec(),
                    },
                    PerfEvent::Lost { cpu, count } => PerfRecord::Lost { cpu, count },
                })
            });
        }
        out
    }

    /// Samples lost because buffers were full.
    pub fn lost(&self) -> u64 {
        self.map.as_perf_event_array().map_or(0, |p| p.lost())
    }
}
