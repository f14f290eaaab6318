//! Loading raw bytecode (`BPF_PROG_LOAD`), running it (`BPF_PROG_TEST_RUN`) and asking the
//! kernel about loaded programs (`BPF_OBJ_GET_INFO_BY_FD`).
//!
//! aya loads programs only out of ELF objects it parsed itself and test-runs only those, so
//! bytecode that oxbpf assembled, generated or decoded goes through the small syscall layer
//! in `sys.rs`. Listing programs uses aya's `loaded_programs`.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use oxbpf_isa::Program;

use crate::error::{errno_text, KernelError};
use crate::sys;
use crate::types::{AttachType, ProgType};
use crate::verifier_log::VerifierSummary;

/// The program to load: decoded instructions or raw bytes.
#[derive(Clone, Copy, Debug)]
pub enum Bytecode<'a> {
    /// A decoded program; verifier slot numbers are mapped back to instruction indexes.
    Program(&'a Program),
    /// Raw bytes (a multiple of 8), passed to the kernel as they are, even if they do not
    /// decode (so that the kernel's verdict on malformed programs can be observed).
    Bytes(&'a [u8]),
}

impl<'a> From<&'a Program> for Bytecode<'a> {
    fn from(p: &'a Program) -> Self {
        Bytecode::Program(p)
    }
}

impl<'a> From<&'a [u8]> for Bytecode<'a> {
    fn from(b: &'a [u8]) -> Self {
        Bytecode::Bytes(b)
    }
}

impl<'a> From<&'a Vec<u8>> for Bytecode<'a> {
    fn from(b: &'a Vec<u8>) -> Self {
        Bytecode::Bytes(b)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for Bytecode<'a> {
    fn from(b: &'a [u8; N]) -> Self {
        Bytecode::Bytes(b)
    }
}

/// Default verifier log buffer: enough for the verdict of any program; the kernel rotates
/// longer logs (6.4+) and reports the size it needed, which `load_raw` then retries with.
pub const DEFAULT_LOG_SIZE: usize = 1 << 20;

/// The largest log buffer the kernel accepts (`UINT_MAX >> 2`).
pub const MAX_LOG_SIZE: usize = (u32::MAX >> 2) as usize;

/// Options of [`load_raw`].
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// The program type.
    pub prog_type: ProgType,
    /// `expected_attach_type` (needed by cgroup, tracing, lsm and some other types).
    pub expected_attach_type: Option<AttachType>,
    /// The license string; helpers marked GPL-only need a GPL-compatible one.
    pub license: String,
    /// Program name: at most 15 bytes of `[A-Za-z0-9_.]` (the kernel's rule).
    pub name: String,
    /// Verifier log level: 0 keeps no log on success, 1 is the instruction trace, 2 adds
    /// every state, 4 (`BPF_LOG_STATS`) adds statistics. Whatever the level, a rejected
    /// load is retried at level 1 (if it was 0) so that the error carries a log.
    pub log_level: u32,
    /// Initial size of the verifier log buffer in bytes (at least 128); grows to what the
    /// kernel reports it needed.
    pub log_size: usize,
    /// `kern_version`: 0 means "the running kernel" (only old kernels check it, for kprobes).
    pub kern_version: u32,
    /// `prog_flags` (`BPF_F_*`).
    pub prog_flags: u32,
    /// `attach_btf_id` for tracing, lsm and struct_ops programs.
    pub attach_btf_id: Option<u32>,
    /// File descriptors for `lddw` with src 5/6 (`LoadImm64::MapIdx`/`MapIdxValue`), by
    /// index. A `lddw` with src 1 (`LoadImm64::MapFd`) carries the descriptor itself (see
    /// [`crate::KernelMap::raw_fd`]); the kernel resolves both at load time. The
    /// descriptors must stay open until `load_raw` returns.
    pub maps: Vec<RawFd>,
    /// The program's BTF (`prog_btf_fd`): a descriptor from [`load_btf`], open until
    /// `load_raw` returns (the kernel keeps its own reference). Needed with `func_info`
    /// and `line_info`; Linux requires function information for programs with
    /// bpf-to-bpf callbacks (`bpf_loop`, `bpf_for_each_map_elem`, ...).
    pub prog_btf_fd: Option<RawFd>,
    /// `struct bpf_func_info` records (`ObjProgram::btf_func_info_records`), each
    /// `func_info_rec_size` bytes.
    pub func_info: Vec<u8>,
    /// Size of one `func_info` record (8 for `struct bpf_func_info`).
    pub func_info_rec_size: u32,
    /// `struct bpf_line_info` records (`ObjProgram::btf_line_info_records`), each
    /// `line_info_rec_size` bytes; the verifier log then shows the C source.
    pub line_info: Vec<u8>,
    /// Size of one `line_info` record (16 for `struct bpf_line_info`).
    pub line_info_rec_size: u32,
}

impl LoadOptions {
    /// Defaults for a program type: license `GPL`, name `oxbpf`, no log on success.
    pub fn new(prog_type: ProgType) -> LoadOptions {
        LoadOptions {
            prog_type,
            expected_attach_type: None,
            license: "GPL".to_string(),
            name: "oxbpf".to_string(),
            log_level: 0,
            log_size: DEFAULT_LOG_SIZE,
            kern_version: 0,
            prog_flags: 0,
            attach_btf_id: None,
            maps: Vec::new(),
            prog_btf_fd: None,
            func_info: Vec::new(),
            func_info_rec_size: FUNC_INFO_REC_SIZE,
            line_info: Vec::new(),
            line_info_rec_size: LINE_INFO_REC_SIZE,
        }
    }

    /// Passes `btf` as the program's BTF with the function and line information of
    /// `program` (an object's program, whose `insns` are what gets loaded), as libbpf
    /// does. `btf` must stay open until `load_raw` returns.
    pub fn program_btf(mut self, btf: &KernelBtf, program: &oxbpf_obj::ObjProgram) -> Self {
        self.prog_btf_fd = Some(btf.raw_fd());
        self.func_info = program.btf_func_info_records();
        self.func_info_rec_size = FUNC_INFO_REC_SIZE;
        self.line_info = program.btf_line_info_records();
        self.line_info_rec_size = LINE_INFO_REC_SIZE;
        self
    }

    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the expected attach type.
    pub fn expected_attach_type(mut self, t: AttachType) -> Self {
        self.expected_attach_type = Some(t);
        self
    }

    /// Sets the verifier log level.
    pub fn log_level(mut self, level: u32) -> Self {
        self.log_level = level;
        self
    }

    /// Sets the license.
    pub fn license(mut self, license: impl Into<String>) -> Self {
        self.license = license.into();
        self
    }

    /// Sets `attach_btf_id`.
    pub fn attach_btf_id(mut self, id: u32) -> Self {
        self.attach_btf_id = Some(id);
        self
    }
}

/// `sizeof(struct bpf_func_info)`.
pub const FUNC_INFO_REC_SIZE: u32 = 8;
/// `sizeof(struct bpf_line_info)`.
pub const LINE_INFO_REC_SIZE: u32 = 16;

/// BTF the kernel accepted (`BPF_BTF_LOAD`): a descriptor for `prog_btf_fd`. Closing it
/// (on drop) frees the BTF once no program uses it.
#[derive(Debug)]
pub struct KernelBtf {
    fd: OwnedFd,
    id: u32,
}

impl KernelBtf {
    /// The descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The descriptor number (for [`LoadOptions::prog_btf_fd`]).
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The kernel's BTF object id (0 if the kernel did not say).
    pub fn id(&self) -> u32 {
        self.id
    }
}

/// Loads a BTF blob (`BPF_BTF_LOAD`), such as `oxbpf_obj::Object::btf_for_kernel()`
/// gives for an object. A rejection is [`KernelError::BtfRejected`] with the kernel's
/// BTF log.
pub fn load_btf(blob: &[u8]) -> Result<KernelBtf, KernelError> {
    if blob.is_empty() {
        return Err(KernelError::InvalidInput {
            what: "BTF",
            reason: "empty blob".to_string(),
        });
    }
    let mut log: Vec<u8> = Vec::new();
    loop {
        let out = sys::btf_load(blob, u32::from(!log.is_empty()), &mut log);
        let err = match out.result {
            Ok(fd) => {
                let id = sys::btf_id(fd.as_fd()).unwrap_or(0);
                return Ok(KernelBtf { fd, id });
            }
            Err(e) => e,
        };
        let Some(errno) = err.raw_os_error() else {
            return Err(KernelError::InvalidInput {
                what: "BTF",
                reason: err.to_string(),
            });
        };
        if errno == libc::EPERM && log.is_empty() {
            return Err(KernelError::PermissionDenied {
                op: "BPF_BTF_LOAD",
                reason: format!("{} (needs root or CAP_BPF)", errno_text(errno)),
            });
        }
        // Ask again with a log (growing it when the kernel says it needed more).
        let need = (out.log_true_size as usize).max(64 * 1024);
        if log.is_empty() || (errno == libc::ENOSPC && need > log.len() && need <= MAX_LOG_SIZE) {
            log = vec![0u8; need.max(log.len() * 2)];
            continue;
        }
        return Err(KernelError::BtfRejected {
            errno,
            log: log_text(&log),
        });
    }
}

/// A program the kernel accepted. Closing the descriptor (on drop) unloads it once nothing
/// else (an attachment, a pin) holds it.
#[derive(Debug)]
pub struct LoadedProgram {
    fd: OwnedFd,
    id: u32,
    prog_type: ProgType,
    name: String,
    slots: usize,
    log: String,
}

impl LoadedProgram {
    /// The kernel's program id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The program type it was loaded as.
    pub fn prog_type(&self) -> ProgType {
        self.prog_type
    }

    /// The name given at load.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of 8-byte instruction slots loaded.
    pub fn slot_count(&self) -> usize {
        self.slots
    }

    /// The verifier log of the successful load (empty at log level 0).
    pub fn verifier_log(&self) -> &str {
        &self.log
    }

    /// The program's descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The descriptor number (for `BPF_MAP_UPDATE_ELEM` into a program array, ...).
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// What the kernel reports about the program now (sizes, verified instructions).
    pub fn info(&self) -> Result<ProgInfo, KernelError> {
        let info = sys::prog_info(self.fd.as_fd())
            .map_err(|e| KernelError::syscall("BPF_OBJ_GET_INFO_BY_FD", &self.name, e))?;
        Ok(ProgInfo::from_raw(&info))
    }

    /// Gives up the descriptor (the program stays loaded while it is open).
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }
}

impl AsFd for LoadedProgram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn check_name(name: &str) -> Result<(), KernelError> {
    if name.len() > 15 {
        return Err(KernelError::InvalidInput {
            what: "program name",
            reason: format!("`{name}` is {} bytes, the kernel allows 15", name.len()),
        });
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.'))
    {
        return Err(KernelError::InvalidInput {
            what: "program name",
            reason: format!("`{name}` contains {c:?}; the kernel allows only [A-Za-z0-9_.]"),
        });
    }
    Ok(())
}

fn kernel_version_code() -> u32 {
    let Ok(u) = sys::uname() else { return 0 };
    let mut parts = u
        .release
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>().unwrap_or(0));
    let (a, b, c) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (a << 16) | (b.min(255) << 8) | c.min(255)
}

/// Loads bytecode into the kernel.
///
/// On rejection the error is [`KernelError::Verifier`] with the verifier log and its
/// parsed [`VerifierSummary`]; a refusal for lack of privilege (`EPERM` with an empty log)
/// is [`KernelError::PermissionDenied`].
pub fn load_raw<'a>(
    prog: impl Into<Bytecode<'a>>,
    opts: &LoadOptions,
) -> Result<LoadedProgram, KernelError> {
    let prog = prog.into();
    let owned;
    let (bytes, decoded): (&[u8], Option<Program>) = match prog {
        Bytecode::Program(p) => {
            owned = p.to_bytes();
            (&owned, None)
        }
        // Decoding is only for mapping slots to indexes; undecodable bytes still load.
        Bytecode::Bytes(b) => (b, Program::decode(b).ok()),
    };
    let program_ref = match prog {
        Bytecode::Program(p) => Some(p),
        Bytecode::Bytes(_) => decoded.as_ref(),
    };
    if bytes.is_empty() || !bytes.len().is_multiple_of(8) {
        return Err(KernelError::InvalidInput {
            what: "program",
            reason: format!("{} bytes is not a non-zero multiple of 8", bytes.len()),
        });
    }
    check_name(&opts.name)?;
    let license = CString::new(opts.license.as_bytes()).map_err(|_| KernelError::InvalidInput {
        what: "license",
        reason: "contains a NUL byte".to_string(),
    })?;
    let kern_version = if opts.kern_version == 0 {
        kernel_version_code()
    } else {
        opts.kern_version
    };
    let attr = sys::ProgLoadAttr {
        prog_type: opts.prog_type.id(),
        expected_attach_type: opts.expected_attach_type.map_or(0, AttachType::id),
        insns: bytes,
        license: &license,
        name: opts.name.as_bytes(),
        kern_version,
        prog_flags: opts.prog_flags,
        attach_btf_id: opts.attach_btf_id.unwrap_or(0),
        fd_array: &opts.maps,
        prog_btf_fd: opts.prog_btf_fd,
        func_info: &opts.func_info,
        func_info_rec_size: opts.func_info_rec_size,
        line_info: &opts.line_info,
        line_info_rec_size: opts.line_info_rec_size,
    };

    let log_size = opts.log_size.clamp(128, MAX_LOG_SIZE);
    let mut level = opts.log_level;
    let mut log = if level > 0 {
        vec![0u8; log_size]
    } else {
        Vec::new()
    };
    loop {
        let out = sys::prog_load(&attr, level, &mut log);
        let err = match out.result {
            Ok(fd) => {
                let id = sys::prog_info(fd.as_fd()).map(|i| i.id).unwrap_or(0);
                return Ok(LoadedProgram {
                    fd,
                    id,
                    prog_type: opts.prog_type,
                    name: opts.name.clone(),
                    slots: bytes.len() / 8,
                    log: log_text(&log),
                });
            }
            Err(e) => e,
        };
        let errno = err.raw_os_error();
        if err.kind() == std::io::ErrorKind::InvalidInput && errno.is_none() {
            return Err(KernelError::InvalidInput {
                what: "program",
                reason: err.to_string(),
            });
        }
        let errno = errno.unwrap_or(0);
        // The log did not fit: the kernel says how much it needed (6.4+); older kernels
        // do not, so the buffer doubles.
        if errno == libc::ENOSPC && !log.is_empty() {
            let reported = out.log_true_size as usize;
            let need = if reported > log.len() {
                reported
            } else {
                log.len().saturating_mul(2)
            }
            .min(MAX_LOG_SIZE);
            if need > log.len() {
                log = vec![0u8; need];
                continue;
            }
        }
        // Rejected without a log: ask again with one.
        if log.is_empty() {
            level = 1;
            log = vec![0u8; log_size];
            continue;
        }
        let text = log_text(&log);
        if errno == libc::EPERM && text.trim().is_empty() {
            return Err(KernelError::PermissionDenied {
                op: "BPF_PROG_LOAD",
                reason: format!(
                    "loading {} program `{}`: {} (needs root or CAP_BPF + CAP_PERFMON; some \
                     program types are also blocked by lockdown or an LSM)",
                    opts.prog_type,
                    opts.name,
                    errno_text(errno)
                ),
            });
        }
        let mut summary = VerifierSummary::parse(&text);
        if summary.message.is_empty() {
            summary.message = errno_text(errno);
        }
        if let Some(p) = program_ref {
            summary = summary.with_program(p);
        }
        return Err(KernelError::Verifier {
            program: opts.name.clone(),
            errno,
            log: text,
            summary: Box::new(summary),
        });
    }
}

fn log_text(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Input of [`test_run`].
#[derive(Clone, Debug)]
pub struct TestRunInput<'a> {
    /// Packet data (socket filter, XDP, tc, cgroup skb, flow dissector). Empty: none.
    pub data_in: &'a [u8],
    /// Context (`struct __sk_buff`, `struct xdp_md`, raw tracepoint arguments, ...).
    /// Empty: the kernel's default context.
    pub ctx_in: &'a [u8],
    /// Number of runs (the kernel reports the mean duration). 0 and 1 both mean once.
    /// Context-only program types (raw tracepoint, tracing, syscall) run exactly once.
    pub repeat: u32,
    /// Size of the packet output buffer; `None`: `data_in.len() + 4096` (room for programs
    /// that grow the packet), 0 when there is no packet.
    pub data_out_size: Option<usize>,
    /// Size of the context output buffer; `None`: `ctx_in.len()`.
    pub ctx_out_size: Option<usize>,
    /// `BPF_F_TEST_*` flags.
    pub flags: u32,
    /// CPU for `BPF_F_TEST_RUN_ON_CPU`.
    pub cpu: u32,
    /// Batch size for `BPF_F_TEST_XDP_LIVE_FRAMES`.
    pub batch_size: u32,
}

impl Default for TestRunInput<'_> {
    fn default() -> Self {
        TestRunInput {
            data_in: &[],
            ctx_in: &[],
            repeat: 1,
            data_out_size: None,
            ctx_out_size: None,
            flags: 0,
            cpu: 0,
            batch_size: 0,
        }
    }
}

impl<'a> TestRunInput<'a> {
    /// One run on a packet.
    pub fn packet(data: &'a [u8]) -> Self {
        TestRunInput {
            data_in: data,
            ..Default::default()
        }
    }

    /// One run with a context only.
    pub fn context(ctx: &'a [u8]) -> Self {
        TestRunInput {
            ctx_in: ctx,
            ..Default::default()
        }
    }
}

/// What a test run produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRunOutput {
    /// The program's return value (`r0`, truncated to 32 bits by the kernel).
    pub retval: u32,
    /// Mean duration of one run in nanoseconds, as the kernel measured it (0 for the
    /// context-only types).
    pub duration_ns: u32,
    /// The packet after the run.
    pub data_out: Vec<u8>,
    /// The context after the run.
    pub ctx_out: Vec<u8>,
}

/// Runs a loaded program with `BPF_PROG_TEST_RUN`.
pub fn test_run(
    prog: &LoadedProgram,
    input: &TestRunInput<'_>,
) -> Result<TestRunOutput, KernelError> {
    let context_only = prog.prog_type.test_run_is_context_only();
    let repeat = if context_only {
        if input.repeat > 1 {
            return Err(KernelError::Unsupported {
                what: format!(
                    "BPF_PROG_TEST_RUN with repeat {} for {} programs (the kernel runs them once)",
                    input.repeat, prog.prog_type
                ),
            });
        }
        0
    } else {
        input.repeat
    };
    let data_out_size = match input.data_out_size {
        Some(n) => n,
        None if input.data_in.is_empty() || context_only => 0,
        None => input.data_in.len() + 4096,
    };
    let ctx_out_size = match input.ctx_out_size {
        Some(n) => n,
        None if context_only => 0,
        None => input.ctx_in.len(),
    };
    if data_out_size > 0 && !sys::honours_data_size_out(crate::probe::KernelVersion::current()) {
        // Before Linux 5.0 the kernel copied the whole output packet to `data_out`
        // whatever `data_size_out` said: a program that grows the packet would write past
        // the buffer into this process's memory.
        return Err(KernelError::Unsupported {
            what: "BPF_PROG_TEST_RUN with packet output before Linux 5.0 (the kernel \
                   ignores the output buffer's size); set data_out_size to Some(0)"
                .to_string(),
        });
    }
    let mut data_out = vec![0u8; data_out_size];
    let mut ctx_out = vec![0u8; ctx_out_size];
    let (r, raw) = sys::prog_test_run(
        prog.fd(),
        sys::TestRunArgs {
            data_in: input.data_in,
            data_out: &mut data_out,
            ctx_in: input.ctx_in,
            ctx_out: &mut ctx_out,
            repeat,
            flags: input.flags,
            cpu: input.cpu,
            batch_size: input.batch_size,
        },
    );
    if let Err(e) = r {
        return Err(match e.raw_os_error() {
            Some(libc::ENOSPC) if raw.data_size_out as usize > data_out_size => {
                KernelError::OutputTooSmall {
                    what: "data_out",
                    needed: raw.data_size_out as usize,
                    given: data_out_size,
                }
            }
            Some(libc::ENOSPC) if raw.ctx_size_out as usize > ctx_out_size => {
                KernelError::OutputTooSmall {
                    what: "ctx_out",
                    needed: raw.ctx_size_out as usize,
                    given: ctx_out_size,
                }
            }
            Some(sys::ENOTSUPP) => KernelError::Unsupported {
                what: format!("BPF_PROG_TEST_RUN for {} programs", prog.prog_type),
            },
            _ => KernelError::syscall(
                "BPF_PROG_TEST_RUN",
                format!("{} program `{}`", prog.prog_type, prog.name),
                e,
            ),
        });
    }
    data_out.truncate((raw.data_size_out as usize).min(data_out_size));
    ctx_out.truncate((raw.ctx_size_out as usize).min(ctx_out_size));
    Ok(TestRunOutput {
        retval: raw.retval,
        duration_ns: raw.duration,
        data_out,
        ctx_out,
    })
}

/// What the kernel reports about a loaded program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgInfo {
    /// Program id.
    pub id: u32,
    /// Program type (`None` for a type oxbpf does not know).
    pub prog_type: Option<ProgType>,
    /// The numeric type.
    pub prog_type_id: u32,
    /// Name (up to 15 bytes).
    pub name: String,
    /// The kernel's tag (hash of the instructions).
    pub tag: [u8; 8],
    /// Bytes of JIT-compiled machine code (0 when not JIT-compiled).
    pub jited_size: u32,
    /// Bytes of the instructions after the kernel's rewrites.
    pub xlated_size: u32,
    /// Instructions the verifier processed (5.16+; 0 when unknown).
    pub verified_insns: u32,
    /// The uid that loaded it.
    pub created_by_uid: u32,
}

fn c_name(name: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

impl ProgInfo {
    fn from_raw(i: &aya_obj::generated::bpf_prog_info) -> ProgInfo {
        ProgInfo {
            id: i.id,
            prog_type: ProgType::from_id(i.type_),
            prog_type_id: i.type_,
            name: c_name(&i.name),
            tag: i.tag,
            jited_size: i.jited_prog_len,
            xlated_size: i.xlated_prog_len,
            verified_insns: i.verified_insns,
            created_by_uid: i.created_by_uid,
        }
    }

    fn from_aya(p: &aya::programs::ProgramInfo) -> ProgInfo {
        let type_id = p.program_type() as u32;
        ProgInfo {
            id: p.id(),
            prog_type: ProgType::from_id(type_id),
            prog_type_id: type_id,
            name: String::from_utf8_lossy(p.name()).into_owned(),
            tag: p.tag().to_be_bytes(),
            jited_size: p.size_jitted(),
            xlated_size: p.size_translated().unwrap_or(0),
            verified_insns: p.verified_instruction_count().unwrap_or(0),
            created_by_uid: p.created_by_uid().unwrap_or(0),
        }
    }
}

fn vanished(e: &aya::programs::ProgramError) -> bool {
    matches!(e, aya::programs::ProgramError::SyscallError(s)
        if s.io_error.raw_os_error() == Some(libc::ENOENT))
}

/// Every program loaded on the system (through aya's `loaded_programs`). Programs that
/// disappear while the list is being read are left out.
pub fn loaded_programs() -> Result<Vec<ProgInfo>, KernelError> {
    let mut out = Vec::new();
    for p in aya::programs::loaded_programs() {
        match p {
            Ok(p) => out.push(ProgInfo::from_aya(&p)),
            Err(e) if vanished(&e) => continue,
            Err(e) => {
                return Err(KernelError::Program {
                    program: "<listing>".to_string(),
                    op: "loaded_programs",
                    source: Box::new(e),
                })
            }
        }
    }
    Ok(out)
}

/// The program with this id, if it is still loaded.
pub fn program_info(id: u32) -> Result<Option<ProgInfo>, KernelError> {
    let fd = match sys::prog_fd_by_id(id) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
        Err(e) => {
            return Err(KernelError::syscall(
                "BPF_PROG_GET_FD_BY_ID",
                format!("program id {id}"),
                e,
            ))
        }
    };
    let info = sys::prog_info(fd.as_fd()).map_err(|e| {
        KernelError::syscall("BPF_OBJ_GET_INFO_BY_FD", format!("program id {id}"), e)
    })?;
    Ok(Some(ProgInfo::from_raw(&info)))
}

/// Waits until the program with this id is gone, for at most `timeout`; true when it is.
///
/// The kernel frees a program after its last reference goes away, through RCU and a work
/// queue, so an id can outlive the close of its last descriptor for a short while.
pub fn wait_unloaded(id: u32, timeout: Duration) -> Result<bool, KernelError> {
    let start = Instant::now();
    loop {
        if program_info(id)?.is_none() {
            return Ok(true);
        }
        if start.elapsed() >= timeout {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::KernelVersion;

    #[test]
    fn packet_output_needs_a_kernel_that_honours_its_size() {
        let v = |s: &str| KernelVersion::parse(s);
        assert!(!sys::honours_data_size_out(v("4.19.0-25-amd64")));
        assert!(sys::honours_data_size_out(v("5.0.0")));
        assert!(sys::honours_data_size_out(v("6.18.0-rc1")));
        assert!(sys::honours_data_size_out(None));
    }
}
