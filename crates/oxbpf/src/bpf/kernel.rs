//! The kernel backend: programs loaded into Linux with oxbpf-kernel (aya), attached to real
//! hooks; maps and output read from the kernel.
//!
//! Programs in program sections go through [`KernelObject`] (aya loads, relocates and
//! attaches them, with oxbpf-kernel's fallbacks). BCC-style functions (`.text`) and
//! assembly have no section aya understands, so they are loaded here with
//! [`oxbpf_kernel::load_raw`] as the type their attach target needs, their map references
//! resolved by index to the maps aya created for the object (`fd_array`), and attached
//! with [`oxbpf_kernel::attach`]; the same fallback planner serves them.

use super::error::BpfError;
use super::source::{ProgramInfo, Source};
use super::target;
use oxbpf_kernel::{
    attach::{self, Attachment},
    plan_fallback, AttachKind, AttachSupport, AttachTarget, FallbackPolicy, KernelError, KernelMap,
    KernelObject, Link, LoadOptions, LoadedProgram, ProgType, SourceLine, TraceInstance, TracePipe,
    Tracefs, TracepointSet,
};
use std::collections::HashMap;

/// What an attach did.
#[derive(Debug)]
pub(crate) struct KernelAttached {
    pub hooks: Vec<String>,
    pub notice: Option<String>,
}

pub(crate) struct KernelBackend {
    // Drop order: attachments, then the programs they hold, then the object.
    raw_links: Vec<(String, Attachment)>,
    raw_programs: HashMap<(String, u32), LoadedProgram>,
    links: Vec<(String, Link)>,
    obj: Option<KernelObject>,
}

impl std::fmt::Debug for KernelBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelBackend")
            .field("object", &self.obj)
            .field("links", &self.links.len())
            .field("raw_links", &self.raw_links.len())
            .finish()
    }
}

/// `bpf_trace_printk` and `bpf_trace_vprintk`.
const PRINTK_HELPERS: [i32; 2] = [6, 177];

/// A kernel program name from a function name: at most 15 bytes of `[A-Za-z0-9_.]`.
fn kernel_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(15)
        .collect()
}

impl KernelBackend {
    pub fn load(src: &Source) -> Result<KernelBackend, BpfError> {
        if let Some(reason) = oxbpf_kernel::probe::bpf_unavailable() {
            return Err(BpfError::Unsupported {
                what: format!("the kernel backend needs bpf(): {reason}"),
            });
        }
        let obj = match &src.elf {
            Some(elf) => Some(KernelObject::load(elf)?),
            None => None,
        };
        Ok(KernelBackend {
            raw_links: Vec::new(),
            raw_programs: HashMap::new(),
            links: Vec::new(),
            obj,
        })
    }

    /// A private trace instance receiving `bpf_trace_printk` output, when a program of
    /// `src` prints (so the global `trace_pipe` and its readers are left alone).
    pub fn trace_pipe(src: &Source, capacity: usize) -> Result<Option<TracePipe>, BpfError> {
        let prints = src.programs.iter().any(|p| {
            p.insns.iter().any(|(_, _, i)| {
                matches!(i, oxbpf_isa::Insn::Call(oxbpf_isa::CallTarget::Helper(id)) if PRINTK_HELPERS.contains(id))
            })
        });
        if !prints {
            return Ok(None);
        }
        let tracefs = Tracefs::find_or_mount()?;
        let name = format!(
            "oxbpf-{}-{}",
            std::process::id(),
            INSTANCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let inst = TraceInstance::create(&tracefs, &name)?;
        // Lines carry the thread group id too, so that `trace_pid` can keep one process's.
        if let Err(e) = inst.set_option("record-tgid", true) {
            log::debug!("trace instance {name}: record-tgid: {e}");
        }
        inst.set_event("bpf_trace", "bpf_trace_printk", true)?;
        Ok(Some(TracePipe::open_instance(inst, capacity)?))
    }

    pub fn object(&self) -> Option<&KernelObject> {
        self.obj.as_ref()
    }

    fn is_object_program(&self, name: &str) -> bool {
        self.obj
            .as_ref()
            .is_some_and(|o| o.program_names().iter().any(|n| n == name))
    }

    /// Attaches `program` to `target`.
    pub fn attach(
        &mut self,
        src: &Source,
        program: &ProgramInfo,
        target: &AttachTarget,
        policy: FallbackPolicy,
    ) -> Result<KernelAttached, BpfError> {
        if self.is_object_program(&program.name) {
            let obj = self
                .obj
                .as_mut()
                .ok_or_else(|| BpfError::Usage("no kernel object".into()))?;
            let attached = obj.attach(&program.name, target, policy)?;
            let notice = attached.notice();
            let hooks = attached.link.targets().to_vec();
            self.links.push((program.name.clone(), attached.link));
            return Ok(KernelAttached { hooks, notice });
        }
        self.attach_raw(src, program, target, policy)
    }

    /// Attaches a program aya does not know (a `.text` function, assembly).
    fn attach_raw(
        &mut self,
        src: &Source,
        program: &ProgramInfo,
        target: &AttachTarget,
        policy: FallbackPolicy,
    ) -> Result<KernelAttached, BpfError> {
        let raw_unsupported = |why: &str| BpfError::Unsupported {
            what: format!(
                "{target}: program `{}` ({}) {why}",
                program.name,
                if program.section.starts_with(".text") {
                    "a BCC-style function in .text"
                } else {
                    "assembly"
                }
            ),
        };
        match target.kind() {
            AttachKind::Tracepoint => {
                let AttachTarget::Tracepoint { category, name } = target else {
                    return Err(BpfError::Usage(format!("{target}: not a tracepoint")));
                };
                let prog = self.load_raw(src, program, ProgType::Tracepoint)?;
                let a = attach::attach_tracepoint(prog, category, name)?;
                let hooks = vec![a.target().to_string()];
                self.raw_links.push((program.name.clone(), a));
                Ok(KernelAttached {
                    hooks,
                    notice: None,
                })
            }
            AttachKind::RawTracepoint => {
                let AttachTarget::RawTracepoint { name } = target else {
                    return Err(BpfError::Usage(format!("{target}: not a raw tracepoint")));
                };
                let prog = self.load_raw(src, program, ProgType::RawTracepoint)?;
                let a = attach::attach_raw_tracepoint(prog, name)?;
                let hooks = vec![a.target().to_string()];
                self.raw_links.push((program.name.clone(), a));
                Ok(KernelAttached {
                    hooks,
                    notice: None,
                })
            }
            AttachKind::Uprobe | AttachKind::Uretprobe => {
                let (AttachTarget::Uprobe(t) | AttachTarget::Uretprobe(t)) = target else {
                    return Err(BpfError::Usage(format!("{target}: not a uprobe")));
                };
                let ret = target.kind() == AttachKind::Uretprobe;
                // The kernel types uprobe programs as kprobe programs.
                let prog = self.load_raw(src, program, ProgType::Kprobe)?;
                let a = attach::attach_uprobe(prog, t, ret)?;
                let hooks = vec![a.target().to_string()];
                self.raw_links.push((program.name.clone(), a));
                Ok(KernelAttached {
                    hooks,
                    notice: None,
                })
            }
            AttachKind::Kprobe | AttachKind::Kretprobe | AttachKind::Fentry | AttachKind::Fexit => {
                let is_kprobe = matches!(target.kind(), AttachKind::Kprobe | AttachKind::Kretprobe);
                let reason = if is_kprobe {
                    oxbpf_kernel::fallback::kprobe_unavailable_reason()
                } else {
                    AttachSupport::detect().unsupported_reason(target.kind())
                };
                let reason = match reason {
                    Some(r) => r,
                    None if is_kprobe => {
                        let (function, offset, ret) = match target {
                            AttachTarget::Kprobe { function, offset } => (function, *offset, false),
                            AttachTarget::Kretprobe { function } => (function, 0, true),
                            _ => return Err(BpfError::Usage(format!("{target}: not a kprobe"))),
                        };
                        let prog = self.load_raw(src, program, ProgType::Kprobe)?;
                        match attach::attach_kprobe(prog, function, offset, ret) {
                            Ok(a) => {
                                let hooks = vec![a.target().to_string()];
                                self.raw_links.push((program.name.clone(), a));
                                return Ok(KernelAttached {
                                    hooks,
                                    notice: None,
                                });
                            }
                            // Refused for this process after all: fall back below.
                            Err(KernelError::AttachUnsupported { reason, .. }) => reason,
                            Err(e) => return Err(e.into()),
                        }
                    }
                    None => {
                        return Err(raw_unsupported(&format!(
                            "can only reach {} through a program section here: the kernel binds fentry/fexit programs to their function at load time from the section; put the function in SEC(\"{}/{}\")",
                            target.kind(),
                            target.kind(),
                            target.kernel_function().unwrap_or("FUNCTION")
                        )))
                    }
                };
                let tracefs = Tracefs::find_or_mount()?;
                let set = TracepointSet::from_tracefs(&tracefs)?;
                let Some(fb) = plan_fallback(target, &reason, &set) else {
                    return Err(KernelError::AttachUnsupported {
                        kind: target.kind(),
                        target: target.to_string(),
                        reason,
                        alternative: None,
                    }
                    .into());
                };
                if policy == FallbackPolicy::Never {
                    return Err(KernelError::AttachUnsupported {
                        kind: target.kind(),
                        target: target.to_string(),
                        reason,
                        alternative: Some(Box::new(fb)),
                    }
                    .into());
                }
                let read = oxbpf_kernel::context::context_read(&program.insns);
                if let Some(r) = &read {
                    if policy == FallbackPolicy::IfContextUnused {
                        return Err(KernelError::FallbackRefused {
                            program: program.name.clone(),
                            context: match target.kind() {
                                AttachKind::Fentry | AttachKind::Fexit => {
                                    "fentry/fexit context (the traced function's arguments)"
                                }
                                _ => "kprobe context (struct pt_regs)",
                            },
                            read: r.clone(),
                            fallback: Box::new(fb),
                        }
                        .into());
                    }
                }
                let load_as = fb.load_as.unwrap_or(ProgType::Tracepoint);
                let mut hooks = Vec::new();
                let mut links = Vec::new();
                {
                    let prog = self.load_raw(src, program, load_as)?;
                    for t in &fb.targets {
                        let AttachTarget::Tracepoint { category, name } = t else {
                            return Err(raw_unsupported(&format!("cannot fall back to {t}")));
                        };
                        let a = attach::attach_tracepoint(prog, category, name)?;
                        hooks.push(a.target().to_string());
                        links.push(a);
                    }
                }
                for a in links {
                    self.raw_links.push((program.name.clone(), a));
                }
                let mut notice = fb.notice();
                if let Some(r) = read {
                    notice.push_str(&format!(
                        "; warning: program `{}` reads its context ({r}), so the values it reads there are the tracepoint record's",
                        program.name
                    ));
                }
                log::info!("{notice}");
                Ok(KernelAttached {
                    hooks,
                    notice: Some(notice),
                })
            }
            _ => {
                let t = target::prog_type_for(target);
                Err(raw_unsupported(&format!(
                    "cannot be attached to {} by oxbpf yet; put it in a `{}` program section so that aya attaches it",
                    target.kind(),
                    t
                )))
            }
        }
    }

    /// Loads `program` as `t` (once per type), map references resolved to this object's
    /// maps.
    fn load_raw(
        &mut self,
        src: &Source,
        program: &ProgramInfo,
        t: ProgType,
    ) -> Result<&LoadedProgram, BpfError> {
        let key = (program.name.clone(), t.id());
        if !self.raw_programs.contains_key(&key) {
            // The descriptors stay open until the load returns (the kernel takes its own
            // references to the maps the program uses).
            let mut maps: Vec<KernelMap> = Vec::with_capacity(src.maps.len());
            if let Some(obj) = &self.obj {
                for def in &src.maps {
                    maps.push(obj.map(&def.name)?);
                }
            }
            let mut opts = LoadOptions::new(t)
                .name(kernel_name(&program.name))
                .license(src.license.clone());
            opts.maps = maps.iter().map(KernelMap::raw_fd).collect();
            let loaded = oxbpf_kernel::load_raw(&program.insns, &opts).map_err(|e| match e {
                KernelError::Verifier {
                    program: _,
                    errno,
                    log,
                    mut summary,
                } => {
                    if let Some(slot) = summary.slot {
                        if let Some(li) = src
                            .object
                            .as_ref()
                            .and_then(|o| o.program(&program.name))
                            .and_then(|p| p.line_info.iter().take_while(|l| l.slot <= slot).last())
                        {
                            summary.source = Some(SourceLine {
                                file: li.file.to_string(),
                                line: li.line,
                                column: li.column,
                                text: li.source.trim().to_string(),
                            });
                        }
                    }
                    KernelError::Verifier {
                        program: program.name.clone(),
                        errno,
                        log,
                        summary,
                    }
                }
                e => e,
            })?;
            drop(maps);
            self.raw_programs.insert(key.clone(), loaded);
        }
        self.raw_programs
            .get(&key)
            .ok_or_else(|| BpfError::Usage(format!("program `{}` was not loaded", program.name)))
    }

    /// Detaches every attachment of `program`; returns how many there were.
    pub fn detach(&mut self, program: &str) -> Result<usize, BpfError> {
        let mut n = 0;
        let mut keep = Vec::new();
        for (p, l) in self.links.drain(..) {
            if p == program {
                l.detach()?;
                n += 1;
            } else {
                keep.push((p, l));
            }
        }
        self.links = keep;
        let before = self.raw_links.len();
        self.raw_links.retain(|(p, _)| p != program);
        Ok(n + before - self.raw_links.len())
    }

    /// A handle on map `name`.
    pub fn map(&self, name: &str) -> Result<KernelMap, BpfError> {
        let obj = self.obj.as_ref().ok_or_else(|| BpfError::NoMap {
            name: name.to_string(),
            available: "none".into(),
        })?;
        Ok(obj.map(name)?)
    }

    /// Kernel ids of every program loaded for this object.
    pub fn program_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .obj
            .as_ref()
            .map(|o| o.program_ids())
            .unwrap_or_default();
        ids.extend(self.raw_programs.values().map(LoadedProgram::id));
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

impl Drop for KernelBackend {
    fn drop(&mut self) {
        // Every attachment at once, so that the kernel's waits overlap; then the programs
        // and the object (maps) drop.
        let links = self.links.drain(..).map(|(_, l)| l).collect();
        let raw = self.raw_links.drain(..).map(|(_, a)| a).collect();
        oxbpf_kernel::detach_all(links, raw);
    }
}

static INSTANCE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
