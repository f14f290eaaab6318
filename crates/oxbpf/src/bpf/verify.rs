//! oxbpf's verifier in the userspace backend: programs are verified for the hook they run
//! on (its program type and context layout); accepted programs run as the JIT's verified
//! code (no run-time memory checks) when the engine is the JIT (the default on x86-64) and
//! no budget is set.
//!
//! What the verifier assumed about `r1` is a [`ContextContract`] (oxbpf-runtime's, built
//! as `Runtime::load` builds it: the context descriptor verified against, under the
//! program type's packet rules). Verified code always runs behind a
//! [`ProgramRunner::new_verified`] holding the contract of the hook it was verified for,
//! so every entry through `Executable::run` (syscall events, packets, embedder hooks)
//! checks that the run grants the context the program may read and write first.

use super::error::BpfError;
use super::source::{ProgramInfo, Source};
use super::target::UserHook;
use oxbpf_obj::ProgramKind;
use oxbpf_runtime::env::ProgramRunner;
use oxbpf_runtime::loader::LoadedProgram;
use oxbpf_runtime::tracer::Phase;
use oxbpf_runtime::verified::ContextContract;
use oxbpf_verifier::{
    verify, ContextDescriptor, ContextField, HookSpec, ProgramType, VerifierConfig,
};
use oxbpf_vm::Executable;
use std::sync::Arc;

/// What the verifier checks a program against.
#[derive(Clone, Debug)]
pub enum VerifyAs {
    /// The program type and context of a program kind (a section, or the kind a hook
    /// implies), with an optional context layout replacing the default.
    Kind(ProgramKind, Option<ContextDescriptor>),
    /// An embedder hook.
    Hook(Arc<HookSpec>),
}

impl VerifyAs {
    /// A key for caching verdicts.
    pub fn key(&self) -> String {
        match self {
            VerifyAs::Kind(k, c) => format!("{k}|{}", c.as_ref().map_or("", |c| &c.name)),
            VerifyAs::Hook(h) => format!("hook {}", h.name),
        }
    }
}

/// `raw_syscalls:sys_enter` / `sys_exit`: `id` (8 bytes) at 8, then `args[6]` or `ret`.
fn raw_syscalls(phase: Phase) -> Option<ContextDescriptor> {
    let mut fields = vec![
        ContextField::scalar("common_type", 0, 2).hidden(),
        ContextField::scalar("common_flags", 2, 1).hidden(),
        ContextField::scalar("common_preempt_count", 3, 1).hidden(),
        ContextField::scalar("common_pid", 4, 4).hidden(),
        ContextField::scalar("id", 8, 8),
    ];
    let (name, size) = match phase {
        Phase::Enter => {
            for i in 0..6u32 {
                fields.push(ContextField::scalar(format!("args[{i}]"), 16 + i * 8, 8));
            }
            ("raw_syscalls_sys_enter", 64)
        }
        Phase::Exit => {
            fields.push(ContextField::scalar("ret", 16, 8));
            ("raw_syscalls_sys_exit", 24)
        }
    };
    ContextDescriptor::new(name, size, fields)
        .ok()
        .map(ContextDescriptor::with_flat_loads)
}

/// What the verifier checks a program on a userspace hook against.
pub fn for_user_hook(hook: &UserHook) -> VerifyAs {
    match hook {
        UserHook::Syscall { phase, syscall } => {
            let name = format!(
                "sys_{}_{}",
                match phase {
                    Phase::Enter => "enter",
                    Phase::Exit => "exit",
                },
                syscall.tracepoint.unwrap_or(syscall.name)
            );
            VerifyAs::Kind(
                ProgramKind::Tracepoint {
                    category: "syscalls".into(),
                    name,
                },
                None,
            )
        }
        UserHook::AllSyscalls { phase } => VerifyAs::Kind(
            ProgramKind::Tracepoint {
                category: "raw_syscalls".into(),
                name: match phase {
                    Phase::Enter => "sys_enter".into(),
                    Phase::Exit => "sys_exit".into(),
                },
            },
            raw_syscalls(*phase),
        ),
        UserHook::Packet(oxbpf_runtime::packet::ProgramKind::Xdp) => VerifyAs::Kind(
            ProgramKind::Xdp {
                frags: false,
                attach: oxbpf_obj::XdpAttach::Interface,
            },
            None,
        ),
        UserHook::Packet(oxbpf_runtime::packet::ProgramKind::SocketFilter) => {
            VerifyAs::Kind(ProgramKind::SocketFilter, None)
        }
    }
}

/// Verifies `prog` as `what`. `Ok(Some(contract))`: accepted, and the contract is what
/// its runs must provide (the context verified against); `Ok(None)`: the verifier does not
/// handle this program type (the program then runs with every access checked).
pub fn check(
    src: &Source,
    prog: &ProgramInfo,
    what: &VerifyAs,
) -> Result<Option<ContextContract>, BpfError> {
    let (kind, ctx, hook) = match what {
        VerifyAs::Kind(k, c) => (k.clone(), c.clone(), None),
        // The kind only selects maps and lines below; the hook decides the rest.
        VerifyAs::Hook(h) => (ProgramKind::SocketFilter, None, Some(h.clone())),
    };
    let Some(pt) = ProgramType::from_kind(&kind) else {
        return Ok(None);
    };
    let mut config = match src
        .object
        .as_ref()
        .and_then(|o| Some((o, o.program(&prog.name)?)))
    {
        Some((obj, p)) => {
            let mut p = p.clone();
            p.kind = kind.clone();
            VerifierConfig::for_object_program(obj, &p).map_err(|e| BpfError::Verifier {
                source_name: src.name.clone(),
                program: prog.name.clone(),
                summary: e.reason.clone(),
                report: e.reason,
            })?
        }
        None => VerifierConfig::new(pt),
    };
    let explicit = ctx.is_some();
    if let Some(c) = ctx {
        config.context = Some(c);
    }
    if let ProgramKind::Tracepoint { category, name } = &kind {
        if !explicit {
            // The record the runtime builds when it builds one (the tracer's system-call
            // records: exactly the call's arguments, as `Runtime::load` verifies them and
            // the kernel's format files say), with or without access to tracefs.
            if let Some(c) = oxbpf_runtime::verified::tracepoint_context(category, name) {
                config.context = Some(c);
            }
        }
        if config.context.is_none() {
            // Else the real record layout when tracefs has it.
            config.context = oxbpf_kernel::Tracefs::find()
                .and_then(|t| {
                    std::fs::read_to_string(t.path(format!("events/{category}/{name}/format"))).ok()
                })
                .and_then(|text| ContextDescriptor::from_tracepoint_format(&text).ok());
        }
    }
    let by_field = hook.is_some();
    if let Some(h) = hook {
        config.prog_type = ProgramType::Hook(h);
        config.context = None;
    }
    match verify(&prog.insns, &config) {
        Ok(v) => {
            log::debug!(
                "{}: program `{}` verified ({} instructions processed)",
                src.name,
                prog.name,
                v.stats.insns_processed
            );
            let context = config
                .context
                .clone()
                .unwrap_or_else(|| config.prog_type.default_context());
            let packet = config.prog_type.packet_access();
            // Embedder hooks grant their contexts field by field.
            Ok(Some(if by_field {
                ContextContract::field_by_field(&context, packet)
            } else {
                ContextContract::new(&context, packet)
            }))
        }
        Err(e) => Err(BpfError::Verifier {
            source_name: src.name.clone(),
            program: prog.name.clone(),
            summary: e.summary(),
            report: e.report(),
        }),
    }
}

/// A loaded program compiled again by the JIT in verified mode (its helpers unchanged):
/// the code, shared by every hook the program was verified for, each running it behind
/// its own contract ([`VerifiedCode::runner`]).
pub struct VerifiedCode {
    pub code: Arc<dyn Executable>,
    /// The code runs from its entry registers alone ([`Executable::run_registers`]).
    pub registers_only: bool,
}

impl VerifiedCode {
    /// A runner of the code with the program's environment that checks `contract` on
    /// every entry through `Executable::run`. Verified code has no budget checks: runs
    /// are made without a budget (verified programs terminate).
    pub fn runner(&self, p: &LoadedProgram, contract: ContextContract) -> Arc<ProgramRunner> {
        Arc::new(ProgramRunner::new_verified(
            self.code.clone(),
            p.env().clone(),
            contract,
            false,
        ))
    }
}

/// Compiles `p` for the JIT's verified mode.
///
/// # Safety
/// oxbpf's verifier accepted `p` (a verdict of [`check`] with a contract), and every run
/// of the code is given what such a verdict assumed: through a runner holding the
/// verdict's [`ContextContract`] ([`VerifiedCode::runner`]), or from its registers with
/// `r1` pointing at a context of the hook type it was verified for.
#[cfg(target_arch = "x86_64")]
pub unsafe fn compile_verified(
    p: &LoadedProgram,
    src_name: &str,
) -> Result<VerifiedCode, BpfError> {
    use oxbpf_vm::jit::{JitOptions, JitProgram};
    let helpers = oxbpf_runtime::helpers::helpers_for(
        p.prog_type(),
        &oxbpf_vm::Helpers::new(),
        Some(p.insns()),
    )
    .map_err(|e| BpfError::Load {
        source_name: src_name.to_string(),
        error: Box::new(oxbpf_runtime::loader::LoadError::Helpers {
            program: p.name().to_string(),
            source: e,
        }),
    })?;
    // SAFETY: this function's contract: the verifier accepted the program, and its runs
    // keep what the verifier assumed.
    let jit = unsafe { JitProgram::compile_verified(p.insns(), &helpers, &JitOptions::verified()) };
    let jit = jit.map_err(|e| BpfError::Load {
        source_name: src_name.to_string(),
        error: Box::new(oxbpf_runtime::loader::LoadError::Engine {
            program: p.name().to_string(),
            engine: oxbpf_vm::EngineKind::Jit,
            source: e,
        }),
    })?;
    let registers_only = jit.runs_from_registers();
    Ok(VerifiedCode {
        code: Arc::new(jit),
        registers_only,
    })
}

/// Without a JIT there is no verified mode: programs keep their checked engine.
///
/// # Safety
/// None needed (it compiles nothing); `unsafe` as the x86-64 version.
#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn compile_verified(
    p: &LoadedProgram,
    src_name: &str,
) -> Result<VerifiedCode, BpfError> {
    let _ = (p, src_name);
    Err(BpfError::Unsupported {
        what: "the JIT's verified mode (x86-64 only)".into(),
    })
}
