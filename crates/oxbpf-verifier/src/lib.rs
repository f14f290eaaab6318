//! The oxbpf verifier: abstract interpretation that proves eBPF programs safe before they
//! run, and explains rejections so that people can fix them.
//!
//! ```
//! use oxbpf_isa::{Insn, Operand, Program, Reg, AluOp, Width};
//! use oxbpf_verifier::{verify, ProgramType, VerifierConfig};
//!
//! let prog = Program::from_insns(vec![
//!     Insn::Alu { width: Width::W64, op: AluOp::Mov, dst: Reg::R0, src: Operand::Imm(2) },
//!     Insn::Exit,
//! ]).unwrap();
//! let ok = verify(&prog, &VerifierConfig::new(ProgramType::Xdp)).unwrap();
//! assert_eq!(ok.stats.insns_processed, 2);
//! ```
//!
//! What is checked, in the manner of the Linux verifier: every path is followed with
//! abstract registers (types with offsets; scalars as tnums with signed and unsigned 64-
//! and 32-bit bounds) and a per-byte stack; branch conditions refine both successors;
//! memory accesses stay inside their regions (stack, context fields, map values, packet
//! bytes proven by comparisons with `data_end`, helper memory); nothing uninitialized is
//! read; pointer arithmetic follows the kernel's rules; helper calls match their
//! prototypes; ring buffer reservations are released on every path; `r0` is set at exit;
//! bpf-to-bpf calls get their own frames; loops must terminate.

pub mod cfg;
pub mod context;
pub mod diag;
pub mod domain;
pub mod helpers;
pub mod insnfmt;
pub mod maps;
pub mod object;
pub mod progtype;
pub mod relevance;
pub mod state;

mod analysis;

pub use context::{ContextDescriptor, ContextField, FieldAccess, FieldKind, Narrow};
pub use diag::{ErrorKind, PathStep, SourceLine, VerifyError};
pub use helpers::{Arg, HelperProto, Ret};
pub use maps::{MapSpec, MapType};
pub use object::ObjectProgramError;
pub use progtype::{HookSpec, PacketAccess, ProgramType};

use oxbpf_isa::Program;
use serde::Serialize;

/// Source position of the instructions from `pc` (a slot) until the next entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LineInfo {
    pub pc: usize,
    pub line: SourceLine,
}

/// Everything the verifier needs besides the program.
#[derive(Clone, Debug)]
pub struct VerifierConfig {
    pub prog_type: ProgramType,
    /// The context layout; `None` uses the program type's default
    /// ([`ProgramType::default_context`]).
    pub context: Option<ContextDescriptor>,
    /// The program's maps, by index (`lddw` map references index this table).
    pub maps: Vec<MapSpec>,
    /// Embedder helper prototypes; they replace built-ins with the same id.
    pub helpers: Vec<HelperProto>,
    /// Prototypes of external functions (`call` with `src = 2`), by id.
    pub externals: Vec<HelperProto>,
    /// Source lines, sorted by `pc`.
    pub line_info: Vec<LineInfo>,
    /// The program comes with BTF function information (objects compiled with `-g`).
    /// Linux needs it for tail calls and legacy packet loads inside functions.
    pub btf_func_info: bool,
    /// Allow pointers to escape as numbers (into maps, as return values, in comparisons)
    /// as Linux does for privileged loaders. Program types can forbid it regardless.
    pub allow_ptr_leaks: bool,
    /// Accept reads of stack bytes that were never written (Linux allows this for
    /// privileged loaders; oxbpf does not by default).
    pub allow_uninit_stack: bool,
    /// Give up after processing this many instructions.
    pub max_insns: u64,
    /// Record a state trace (see [`verify_with_log`]).
    pub log: bool,
    /// Never prune a path because a verified state covers it (a debugging aid: the
    /// verdict must not change, only the cost).
    pub disable_pruning: bool,
    /// Bytes of trace kept at most.
    pub log_limit: usize,
}

impl VerifierConfig {
    /// Defaults: the program type's context, no maps, privileged pointer rules, strict
    /// stack initialization, a budget of one million instructions.
    pub fn new(prog_type: ProgramType) -> VerifierConfig {
        VerifierConfig {
            prog_type,
            context: None,
            maps: Vec::new(),
            helpers: Vec::new(),
            externals: Vec::new(),
            line_info: Vec::new(),
            btf_func_info: false,
            allow_ptr_leaks: true,
            allow_uninit_stack: false,
            max_insns: 1_000_000,
            log: false,
            disable_pruning: false,
            log_limit: 16 << 20,
        }
    }

    pub fn with_maps(mut self, maps: Vec<MapSpec>) -> Self {
        self.maps = maps;
        self
    }

    pub fn with_context(mut self, ctx: ContextDescriptor) -> Self {
        self.context = Some(ctx);
        self
    }

    pub fn with_line_info(mut self, mut li: Vec<LineInfo>) -> Self {
        li.sort_by_key(|l| l.pc);
        self.line_info = li;
        self
    }

    /// The prototype used for helper `id`.
    pub fn helper_proto(&self, id: i32) -> Option<&HelperProto> {
        self.helpers
            .iter()
            .find(|h| h.id == id)
            .or_else(|| helpers::builtin(id))
    }
}

/// Stack use of one function.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FunctionStats {
    /// First instruction slot.
    pub start_pc: usize,
    /// Deepest stack byte used, in bytes.
    pub stack_depth: u32,
}

/// What the verification cost.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Instructions interpreted over all paths.
    pub insns_processed: u64,
    /// Checkpoints stored.
    pub states_stored: u64,
    /// Most checkpoints alive at once.
    pub peak_states: u64,
    /// Paths cut short because a verified state covered them.
    pub states_pruned: u64,
    /// Most checkpoints kept at one instruction.
    pub max_states_per_insn: u64,
    /// Stack depth of each function.
    pub functions: Vec<FunctionStats>,
    /// Largest combined stack along a call chain (frames rounded to 32 bytes as in Linux).
    pub max_call_chain_stack: u32,
}

/// A program proven safe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub stats: Stats,
}

/// Verifies `prog` under `config`. The error is boxed (it is large, and rare).
pub fn verify(prog: &Program, config: &VerifierConfig) -> Result<Verified, Box<VerifyError>> {
    let mut env = analysis::Env::new(prog, config).map_err(Box::new)?;
    env.run().map_err(Box::new)?;
    Ok(Verified {
        stats: env.stats.clone(),
    })
}

/// [`verify`], also returning the state trace (comparable to the kernel's verifier log).
pub fn verify_with_log(
    prog: &Program,
    config: &VerifierConfig,
) -> (Result<Verified, Box<VerifyError>>, String) {
    let mut conf = config.clone();
    conf.log = true;
    let mut env = match analysis::Env::new(prog, &conf) {
        Ok(e) => e,
        Err(e) => return (Err(Box::new(e)), String::new()),
    };
    let r = env.run().map_err(Box::new);
    let mut log = env.log.take().unwrap_or_default();
    let s = &env.stats;
    log.push_str(&format!(
        "processed {} insns (limit {}) max_states_per_insn {} total_states {} peak_states {}\n",
        s.insns_processed, conf.max_insns, s.max_states_per_insn, s.states_stored, s.peak_states
    ));
    (
        r.map(|_| Verified {
            stats: env.stats.clone(),
        }),
        log,
    )
}
