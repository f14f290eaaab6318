//! ELF objects loaded and attached through aya.
//!
//! [`KernelObject`] wraps `aya::Ebpf`: aya parses the object, creates its maps, relocates
//! maps, calls and CO-RE accesses against the kernel BTF, loads programs and attaches them.
//! The wrapper adds what oxbpf needs on top: tracefs is mounted before aya looks for it
//! (aya only searches the standard paths, once per process), verifier rejections become
//! [`KernelError::Verifier`] with a parsed summary, and attachments are tracked by handle.

use std::collections::HashMap;
use std::path::Path;

use aya::programs::raw_trace_point::RawTracePointLinkId;
use aya::programs::trace_point::TracePointLinkId;
use aya::programs::{ProgramError, RawTracePoint, TracePoint};

use crate::error::KernelError;
use crate::prog::ProgInfo;
use crate::tracefs::Tracefs;
use crate::verifier_log::VerifierSummary;

/// A handle to an attachment made through a [`KernelObject`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ObjectLink(u64);

#[derive(Debug)]
enum AyaLink {
    TracePoint(String, TracePointLinkId),
    RawTracePoint(String, RawTracePointLinkId),
}

/// A loaded ELF object (maps created; programs loaded on first attach).
#[derive(Debug)]
pub struct KernelObject {
    ebpf: aya::Ebpf,
    links: HashMap<ObjectLink, AyaLink>,
    next_link: u64,
}

fn program_error(program: &str, op: &'static str, e: ProgramError) -> KernelError {
    match e {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            let log = verifier_log.to_string();
            let errno = io_error.raw_os_error().unwrap_or(0);
            if errno == libc::EPERM && log.trim().is_empty() {
                return KernelError::PermissionDenied {
                    op: "BPF_PROG_LOAD",
                    reason: format!("loading program `{program}`: {io_error}"),
                };
            }
            let mut summary = VerifierSummary::parse(&log);
            if summary.message.is_empty() {
                summary.message = io_error.to_string();
            }
            KernelError::Verifier {
                program: program.to_string(),
                errno,
                log,
                summary: Box::new(summary),
            }
        }
        other => KernelError::Program {
            program: program.to_string(),
            op,
            source: Box::new(other),
        },
    }
}

impl KernelObject {
    /// Parses an object and creates its maps (programs are loaded when attached).
    pub fn load(bytes: &[u8]) -> Result<KernelObject, KernelError> {
        let ebpf = aya::EbpfLoader::new()
            .load(bytes)
            .map_err(|e| KernelError::Object {
                source: Box::new(e),
            })?;
        Ok(KernelObject {
            ebpf,
            links: HashMap::new(),
            next_link: 1,
        })
    }

    /// [`KernelObject::load`] on a file.
    pub fn load_file(path: impl AsRef<Path>) -> Result<KernelObject, KernelError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| KernelError::file(path, e))?;
        Self::load(&bytes)
    }

    /// The program names (function names), sorted.
    pub fn program_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.ebpf.programs().map(|(n, _)| n.to_string()).collect();
        v.sort();
        v
    }

    fn program_mut(&mut self, name: &str) -> Result<&mut aya::programs::Program, KernelError> {
        self.ebpf
            .program_mut(name)
            .ok_or_else(|| KernelError::NotFound {
                what: "program",
                name: name.to_string(),
            })
    }

    fn add_link(&mut self, link: AyaLink) -> ObjectLink {
        let h = ObjectLink(self.next_link);
        self.next_link += 1;
        self.links.insert(h, link);
        h
    }

    /// Loads (once) and attaches a tracepoint program to `category:name`.
    pub fn attach_tracepoint(
        &mut self,
        program: &str,
        category: &str,
        name: &str,
    ) -> Result<ObjectLink, KernelError> {
        // aya looks for tracefs only at the standard paths, and only once per process.
        let tracefs = Tracefs::find_or_mount()?;
        tracefs.tracepoint_id(category, name)?;
        let p: &mut TracePoint = self
            .program_mut(program)?
            .try_into()
            .map_err(|e| program_error(program, "attach", e))?;
        if p.fd().is_err() {
            p.load().map_err(|e| program_error(program, "load", e))?;
        }
        let id = p
            .attach(category, name)
            .map_err(|e| program_error(program, "attach", e))?;
        Ok(self.add_link(AyaLink::TracePoint(program.to_string(), id)))
    }

    /// Loads (once) and attaches a raw tracepoint program to `tracepoint`.
    pub fn attach_raw_tracepoint(
        &mut self,
        program: &str,
        tracepoint: &str,
    ) -> Result<ObjectLink, KernelError> {
        let p: &mut RawTracePoint = self
            .program_mut(program)?
            .try_into()
            .map_err(|e| program_error(program, "attach", e))?;
        if p.fd().is_err() {
            p.load().map_err(|e| program_error(program, "load", e))?;
        }
        let id = p
            .attach(tracepoint)
            .map_err(|e| program_error(program, "attach", e))?;
        Ok(self.add_link(AyaLink::RawTracePoint(program.to_string(), id)))
    }

    /// Detaches an attachment.
    pub fn detach(&mut self, link: ObjectLink) -> Result<(), KernelError> {
        let l = self
            .links
            .remove(&link)
            .ok_or_else(|| KernelError::NotFound {
                what: "attachment",
                name: format!("#{}", link.0),
            })?;
        match l {
            AyaLink::TracePoint(name, id) => {
                let p: &mut TracePoint = self
                    .program_mut(&name)?
                    .try_into()
                    .map_err(|e| program_error(&name, "detach", e))?;
                p.detach(id).map_err(|e| program_error(&name, "detach", e))
            }
            AyaLink::RawTracePoint(name, id) => {
                let p: &mut RawTracePoint = self
                    .program_mut(&name)?
                    .try_into()
                    .map_err(|e| program_error(&name, "detach", e))?;
                p.detach(id).map_err(|e| program_error(&name, "detach", e))
            }
        }
    }

    /// What the kernel reports about a loaded program of this object.
    pub fn program_info(&self, program: &str) -> Result<ProgInfo, KernelError> {
        let p = self
            .ebpf
            .program(program)
            .ok_or_else(|| KernelError::NotFound {
                what: "program",
                name: program.to_string(),
            })?;
        let info = p.info().map_err(|e| program_error(program, "info", e))?;
        crate::prog::program_info(info.id())?.ok_or_else(|| KernelError::NotFound {
            what: "loaded program",
            name: program.to_string(),
        })
    }

    /// The aya object, for typed map access.
    pub fn ebpf(&self) -> &aya::Ebpf {
        &self.ebpf
    }

    /// The aya object, mutably.
    pub fn ebpf_mut(&mut self) -> &mut aya::Ebpf {
        &mut self.ebpf
    }
}
