//! Raw system calls: `bpf(2)` commands aya has no public API for, `perf_event_open(2)`,
//! `mount(2)`, `uname(2)`, `getrlimit`/`setrlimit`, `poll(2)`, `setsockopt(SO_ATTACH_BPF)`.
//!
//! This is the only module of the crate with `unsafe`. The attribute layouts come from the
//! bindgen-generated Linux UAPI bindings in `aya_obj::generated`, not from hand-written
//! structs. Every wrapper here is safe to call: pointers handed to the kernel are taken from
//! live Rust slices in the same function, and sizes are the slices' lengths.

use std::ffi::{CStr, CString};
use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use aya_obj::generated::{
    bpf_attr, bpf_btf_info, bpf_cmd, bpf_map_info, bpf_map_type, bpf_prog_info, perf_event_attr,
    perf_event_sample_format, perf_type_id, PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_SET_BPF,
    PERF_FLAG_FD_CLOEXEC,
};

/// `ENOTSUPP`, the kernel-internal "operation not supported" code that leaks to user space
/// from `BPF_PROG_TEST_RUN` and trampoline attach (not in libc).
pub(crate) const ENOTSUPP: i32 = 524;

/// A `bpf_attr` with every byte zero: the value the kernel expects in unused fields.
fn zeroed_attr() -> bpf_attr {
    // SAFETY: `bpf_attr` is a C union of structs made only of integers and integer arrays
    // (plus nested unions of the same); the all-zero bit pattern is a valid value of each.
    unsafe { mem::zeroed() }
}

/// Runs `bpf(cmd, attr, sizeof(attr))`.
///
/// # Safety
///
/// Every pointer the kernel reads or writes for `cmd` (buffers stored as `u64` in `attr`)
/// must be valid for the lengths stored next to it in `attr` for the duration of the call.
unsafe fn sys_bpf(cmd: bpf_cmd, attr: &mut bpf_attr) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, writable `bpf_attr` and we pass its exact size, so the kernel
    // reads and writes only inside it; the buffers it points to are valid per this
    // function's contract.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut bpf_attr,
            mem::size_of::<bpf_attr>() as libc::c_uint,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Takes ownership of a file descriptor a syscall just returned.
fn owned_fd(ret: libc::c_long) -> io::Result<OwnedFd> {
    let fd = RawFd::try_from(ret).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("syscall returned an out-of-range file descriptor {ret}"),
        )
    })?;
    if fd < 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("syscall returned a negative file descriptor {fd}"),
        ));
    }
    // SAFETY: the syscall succeeded and returned a new file descriptor that nothing else in
    // this process owns; `OwnedFd` becomes its only owner and closes it once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn u32_len(len: usize, what: &str) -> io::Result<u32> {
    u32::try_from(len).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} is {len} bytes, more than the kernel's 32-bit size field allows"),
        )
    })
}

fn ptr_or_null(buf: &[u8]) -> u64 {
    if buf.is_empty() {
        0
    } else {
        buf.as_ptr() as u64
    }
}

fn mut_ptr_or_null(buf: &mut [u8]) -> u64 {
    if buf.is_empty() {
        0
    } else {
        buf.as_mut_ptr() as u64
    }
}

// ---------------------------------------------------------------------------------------
// BPF_PROG_LOAD
// ---------------------------------------------------------------------------------------

/// Arguments of `BPF_PROG_LOAD`.
pub(crate) struct ProgLoadAttr<'a> {
    pub prog_type: u32,
    pub expected_attach_type: u32,
    /// The program bytes; a multiple of 8 bytes.
    pub insns: &'a [u8],
    pub license: &'a CStr,
    /// At most 15 bytes, no NUL (checked by the caller; truncated here if longer).
    pub name: &'a [u8],
    pub kern_version: u32,
    pub prog_flags: u32,
    pub attach_btf_id: u32,
    /// File descriptors for `BPF_PSEUDO_MAP_IDX` references.
    pub fd_array: &'a [RawFd],
    /// The program's BTF (a `BPF_BTF_LOAD` descriptor), if any.
    pub prog_btf_fd: Option<RawFd>,
    /// `struct bpf_func_info` records, `func_info_rec_size` bytes each (needs the BTF).
    pub func_info: &'a [u8],
    pub func_info_rec_size: u32,
    /// `struct bpf_line_info` records, `line_info_rec_size` bytes each (needs the BTF).
    pub line_info: &'a [u8],
    pub line_info_rec_size: u32,
}

/// `MIN_BPF_FUNCINFO_SIZE`: `insn_off` and `type_id`.
pub(crate) const MIN_FUNC_INFO_REC_SIZE: u32 = 8;
/// `sizeof(struct bpf_line_info)`.
pub(crate) const MIN_LINE_INFO_REC_SIZE: u32 = 16;

/// The record count of a BTF info array, after checking that `bytes` is a whole number of
/// records of `rec_size` bytes (at least `min`), so that the kernel reads exactly `bytes`.
fn info_records(what: &str, bytes: &[u8], rec_size: u32, min: u32) -> io::Result<u32> {
    if bytes.is_empty() {
        return Ok(0);
    }
    if rec_size < min || !bytes.len().is_multiple_of(rec_size as usize) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{what}: {} bytes is not a whole number of {rec_size}-byte records (records are at least {min} bytes)",
                bytes.len()
            ),
        ));
    }
    u32_len(bytes.len() / rec_size as usize, what)
}

/// Outcome of one `BPF_PROG_LOAD`.
pub(crate) struct ProgLoadOutcome {
    pub result: io::Result<OwnedFd>,
    /// `log_true_size` as the kernel reported it (6.4+): the log size it needed.
    pub log_true_size: u32,
}

/// Checks that every `fd_array` index the program uses (`lddw` src 5/6 immediates and the
/// BTF module index in the `off` field of kfunc calls) is inside an array of `len` entries,
/// so that the kernel never reads past the slice.
fn check_fd_array_refs(insns: &[u8], len: usize) -> io::Result<()> {
    use oxbpf_isa::opcode::{
        CLS_JMP, JMP_CALL, LDDW, PSEUDO_KFUNC_CALL, PSEUDO_MAP_IDX, PSEUDO_MAP_IDX_VALUE,
    };
    const CALL: u8 = JMP_CALL | CLS_JMP;
    let Some(slots) = oxbpf_isa::raw::slots(insns) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("program is {} bytes, not a multiple of 8", insns.len()),
        ));
    };
    // Every slot, the second halves of lddw included: checking too much is harmless.
    for (slot, r) in slots.iter().enumerate() {
        let idx = match (r.opcode, r.src) {
            (LDDW, PSEUDO_MAP_IDX | PSEUDO_MAP_IDX_VALUE) => i64::from(r.imm),
            // A kfunc call's `off` > 0 names a module BTF fd in the array.
            (CALL, PSEUDO_KFUNC_CALL) if r.off > 0 => i64::from(r.off),
            _ => continue,
        };
        if idx < 0 || idx as u64 >= len as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("instruction slot {slot} uses fd_array index {idx}, the array has {len} entries"),
            ));
        }
    }
    Ok(())
}

/// Loads a program. With a non-empty `log`, the verifier writes its log there at
/// `log_level`.
pub(crate) fn prog_load(a: &ProgLoadAttr<'_>, log_level: u32, log: &mut [u8]) -> ProgLoadOutcome {
    let fail = |e| ProgLoadOutcome {
        result: Err(e),
        log_true_size: 0,
    };
    if !a.insns.len().is_multiple_of(8) {
        return fail(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("program is {} bytes, not a multiple of 8", a.insns.len()),
        ));
    }
    let insn_cnt = match u32_len(a.insns.len() / 8, "instruction count") {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    let log_size = match u32_len(log.len(), "verifier log buffer") {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    if !a.fd_array.is_empty() {
        if let Err(e) = check_fd_array_refs(a.insns, a.fd_array.len()) {
            return fail(e);
        }
    }
    let func_info_cnt = match info_records(
        "func_info",
        a.func_info,
        a.func_info_rec_size,
        MIN_FUNC_INFO_REC_SIZE,
    ) {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    let line_info_cnt = match info_records(
        "line_info",
        a.line_info,
        a.line_info_rec_size,
        MIN_LINE_INFO_REC_SIZE,
    ) {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    let btf_fd = match a.prog_btf_fd.map(u32::try_from) {
        None => 0,
        Some(Ok(fd)) => fd,
        Some(Err(_)) => {
            return fail(io::Error::new(
                io::ErrorKind::InvalidInput,
                "prog_btf_fd is negative",
            ))
        }
    };
    if btf_fd == 0 && (func_info_cnt > 0 || line_info_cnt > 0) {
        return fail(io::Error::new(
            io::ErrorKind::InvalidInput,
            "func_info and line_info need the program's BTF (prog_btf_fd)",
        ));
    }

    let mut attr = zeroed_attr();
    // SAFETY: writing fields of a union member of a zeroed POD union; no reads of other
    // members happen through this reference.
    let u = unsafe { &mut attr.__bindgen_anon_3 };
    u.prog_type = a.prog_type;
    u.expected_attach_type = a.expected_attach_type;
    u.insns = a.insns.as_ptr() as u64;
    u.insn_cnt = insn_cnt;
    u.license = a.license.as_ptr() as u64;
    u.kern_version = a.kern_version;
    u.prog_flags = a.prog_flags;
    let n = a.name.len().min(u.prog_name.len() - 1);
    for (dst, &src) in u.prog_name.iter_mut().zip(&a.name[..n]) {
        *dst = src as libc::c_char;
    }
    u.attach_btf_id = a.attach_btf_id;
    if !a.fd_array.is_empty() {
        u.fd_array = a.fd_array.as_ptr() as u64;
    }
    u.prog_btf_fd = btf_fd;
    if func_info_cnt > 0 {
        u.func_info = a.func_info.as_ptr() as u64;
        u.func_info_cnt = func_info_cnt;
        u.func_info_rec_size = a.func_info_rec_size;
    }
    if line_info_cnt > 0 {
        u.line_info = a.line_info.as_ptr() as u64;
        u.line_info_cnt = line_info_cnt;
        u.line_info_rec_size = a.line_info_rec_size;
    }
    if !log.is_empty() {
        u.log_level = log_level;
        u.log_size = log_size;
        u.log_buf = log.as_mut_ptr() as u64;
    }

    let mut tries = 0;
    let result = loop {
        // SAFETY: `insns` (insn_cnt * 8 bytes), `license` (NUL-terminated) and `log`
        // (log_size bytes, the most the kernel writes) borrow live slices for the whole
        // call. The kernel reads `fd_array` only at the indices the program names, and
        // `check_fd_array_refs` verified that each of those is inside the slice.
        // `func_info`/`line_info` are read as cnt * rec_size bytes, which `info_records`
        // checked is exactly the length of the borrowed slices.
        let r = unsafe { sys_bpf(bpf_cmd::BPF_PROG_LOAD, &mut attr) };
        match r {
            // The verifier can be interrupted; libbpf retries the same way.
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) && tries < 5 => tries += 1,
            other => break other.and_then(owned_fd),
        }
    };
    // SAFETY: reading an integer field of the union member we initialised above.
    let log_true_size = unsafe { attr.__bindgen_anon_3.log_true_size };
    ProgLoadOutcome {
        result,
        log_true_size,
    }
}

// ---------------------------------------------------------------------------------------
// BPF_BTF_LOAD
// ---------------------------------------------------------------------------------------

/// Outcome of one `BPF_BTF_LOAD`.
pub(crate) struct BtfLoadOutcome {
    pub result: io::Result<OwnedFd>,
    /// `btf_log_true_size` (6.4+): the log size the kernel needed.
    pub log_true_size: u32,
}

/// Loads a BTF blob (header, types, strings). With a non-empty `log`, the kernel's BTF
/// checker writes its log there at `log_level`.
pub(crate) fn btf_load(blob: &[u8], log_level: u32, log: &mut [u8]) -> BtfLoadOutcome {
    let fail = |e| BtfLoadOutcome {
        result: Err(e),
        log_true_size: 0,
    };
    let size = match u32_len(blob.len(), "BTF size") {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    let log_size = match u32_len(log.len(), "BTF log buffer") {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    let mut attr = zeroed_attr();
    // SAFETY: writing fields of a union member of a zeroed POD union.
    let u = unsafe { &mut attr.__bindgen_anon_7 };
    u.btf = blob.as_ptr() as u64;
    u.btf_size = size;
    if !log.is_empty() {
        u.btf_log_buf = log.as_mut_ptr() as u64;
        u.btf_log_size = log_size;
        u.btf_log_level = log_level;
    }
    // SAFETY: `blob` (btf_size bytes) and `log` (btf_log_size bytes, the most the kernel
    // writes) borrow live slices for the whole call.
    let result = unsafe { sys_bpf(bpf_cmd::BPF_BTF_LOAD, &mut attr) }.and_then(owned_fd);
    // SAFETY: reading an integer field of the union member we initialised above.
    let log_true_size = unsafe { attr.__bindgen_anon_7.btf_log_true_size };
    BtfLoadOutcome {
        result,
        log_true_size,
    }
}

// ---------------------------------------------------------------------------------------
// BPF_PROG_TEST_RUN
// ---------------------------------------------------------------------------------------

/// Arguments of `BPF_PROG_TEST_RUN`. Empty slices are passed as NULL.
pub(crate) struct TestRunArgs<'a> {
    pub data_in: &'a [u8],
    pub data_out: &'a mut [u8],
    pub ctx_in: &'a [u8],
    pub ctx_out: &'a mut [u8],
    pub repeat: u32,
    pub flags: u32,
    pub cpu: u32,
    pub batch_size: u32,
}

/// What the kernel wrote back into the test-run attributes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TestRunRaw {
    pub retval: u32,
    pub duration: u32,
    pub data_size_out: u32,
    pub ctx_size_out: u32,
}

/// Whether `BPF_PROG_TEST_RUN` on this kernel copies at most `data_size_out` bytes to
/// `data_out` (Linux 5.0, "bpf: respect size hint to BPF_PROG_TEST_RUN if present";
/// before, it copied the whole output packet). An unknown version is taken as new:
/// `uname` only fails on broken systems.
pub(crate) fn honours_data_size_out(v: Option<crate::probe::KernelVersion>) -> bool {
    v.is_none_or(|v| (v.major, v.minor) >= (5, 0))
}

/// Runs a loaded program once (or `repeat` times) on the given input. Packet output is
/// refused on kernels that ignore its size ([`honours_data_size_out`]).
pub(crate) fn prog_test_run(
    prog: BorrowedFd<'_>,
    args: TestRunArgs<'_>,
) -> (io::Result<()>, TestRunRaw) {
    let sizes = (|| {
        Ok::<_, io::Error>((
            u32_len(args.data_in.len(), "data_in")?,
            u32_len(args.data_out.len(), "data_out")?,
            u32_len(args.ctx_in.len(), "ctx_in")?,
            u32_len(args.ctx_out.len(), "ctx_out")?,
        ))
    })();
    let (data_size_in, data_size_out, ctx_size_in, ctx_size_out) = match sizes {
        Ok(s) => s,
        Err(e) => return (Err(e), TestRunRaw::default()),
    };
    if !args.data_out.is_empty() && !honours_data_size_out(crate::probe::KernelVersion::current()) {
        let e = io::Error::new(
            io::ErrorKind::Unsupported,
            "packet output of BPF_PROG_TEST_RUN before Linux 5.0 ignores the buffer size",
        );
        return (Err(e), TestRunRaw::default());
    }
    let mut attr = zeroed_attr();
    // SAFETY: writing fields of a union member of a zeroed POD union.
    let t = unsafe { &mut attr.test };
    t.prog_fd = prog.as_raw_fd() as u32;
    t.data_in = ptr_or_null(args.data_in);
    t.data_size_in = data_size_in;
    t.data_out = mut_ptr_or_null(args.data_out);
    t.data_size_out = data_size_out;
    t.ctx_in = ptr_or_null(args.ctx_in);
    t.ctx_size_in = ctx_size_in;
    t.ctx_out = mut_ptr_or_null(args.ctx_out);
    t.ctx_size_out = ctx_size_out;
    t.repeat = args.repeat;
    t.flags = args.flags;
    t.cpu = args.cpu;
    t.batch_size = args.batch_size;
    // SAFETY: the four buffers borrow live slices and their lengths are the sizes stored
    // next to them; the kernel copies at most `data_size_out`/`ctx_size_out` bytes out
    // (it reports ENOSPC rather than overrun a short buffer): for `data_out` since Linux
    // 5.0, checked above; `ctx_out` arrived (5.2) with its size check. An empty slice is
    // passed as NULL, which the kernel never copies to.
    let r = unsafe { sys_bpf(bpf_cmd::BPF_PROG_TEST_RUN, &mut attr) };
    // SAFETY: reading integer fields of the union member initialised above.
    let t = unsafe { attr.test };
    (
        r.map(|_| ()),
        TestRunRaw {
            retval: t.retval,
            duration: t.duration,
            data_size_out: t.data_size_out,
            ctx_size_out: t.ctx_size_out,
        },
    )
}

// ---------------------------------------------------------------------------------------
// BPF_OBJ_GET_INFO_BY_FD, BPF_PROG_GET_FD_BY_ID
// ---------------------------------------------------------------------------------------

/// `BPF_OBJ_GET_INFO_BY_FD` for a program (no variable-length arrays requested).
pub(crate) fn prog_info(fd: BorrowedFd<'_>) -> io::Result<bpf_prog_info> {
    // SAFETY: `bpf_prog_info` is a plain C struct of integers, integer arrays and a
    // bitfield unit; all-zero is a valid value and means "no arrays requested".
    let mut info: bpf_prog_info = unsafe { mem::zeroed() };
    let mut attr = zeroed_attr();
    // SAFETY: writing fields of a union member of a zeroed POD union.
    let i = unsafe { &mut attr.info };
    i.bpf_fd = fd.as_raw_fd() as u32;
    i.info_len = mem::size_of::<bpf_prog_info>() as u32;
    i.info = &mut info as *mut bpf_prog_info as u64;
    // SAFETY: `info` is a live `bpf_prog_info` of `info_len` bytes; all of its pointer
    // fields are zero, so the kernel writes nothing outside it.
    unsafe { sys_bpf(bpf_cmd::BPF_OBJ_GET_INFO_BY_FD, &mut attr) }?;
    Ok(info)
}

/// `BPF_MAP_FREEZE`: no more writes from user space (programs are unaffected).
pub(crate) fn map_freeze(fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = zeroed_attr();
    attr.__bindgen_anon_2.map_fd = fd.as_raw_fd() as u32;
    // SAFETY: BPF_MAP_FREEZE reads only `map_fd`; no pointers are passed.
    unsafe { sys_bpf(bpf_cmd::BPF_MAP_FREEZE, &mut attr) }?;
    Ok(())
}

/// The id of a BTF object (`BPF_OBJ_GET_INFO_BY_FD`, no data requested).
pub(crate) fn btf_id(fd: BorrowedFd<'_>) -> io::Result<u32> {
    // SAFETY: `bpf_btf_info` is a plain C struct of integers; all-zero is valid (its
    // pointer fields stay 0, so the kernel copies no BTF or name out).
    let mut info: bpf_btf_info = unsafe { mem::zeroed() };
    let mut attr = zeroed_attr();
    // SAFETY: writing fields of a union member of a zeroed POD union.
    let i = unsafe { &mut attr.info };
    i.bpf_fd = fd.as_raw_fd() as u32;
    i.info_len = mem::size_of::<bpf_btf_info>() as u32;
    i.info = &mut info as *mut bpf_btf_info as u64;
    // SAFETY: `info` is a live `bpf_btf_info` of `info_len` bytes whose pointer fields are
    // 0 (nothing is written through them).
    unsafe { sys_bpf(bpf_cmd::BPF_OBJ_GET_INFO_BY_FD, &mut attr) }?;
    Ok(info.id)
}

/// `BPF_OBJ_GET_INFO_BY_FD` for a map.
pub(crate) fn map_info(fd: BorrowedFd<'_>) -> io::Result<bpf_map_info> {
    // SAFETY: `bpf_map_info` is a plain C struct of integers; all-zero is valid.
    let mut info: bpf_map_info = unsafe { mem::zeroed() };
    let mut attr = zeroed_attr();
    // SAFETY: writing fields of a union member of a zeroed POD union.
    let i = unsafe { &mut attr.info };
    i.bpf_fd = fd.as_raw_fd() as u32;
    i.info_len = mem::size_of::<bpf_map_info>() as u32;
    i.info = &mut info as *mut bpf_map_info as u64;
    // SAFETY: `info` is a live `bpf_map_info` of `info_len` bytes and has no pointer fields.
    unsafe { sys_bpf(bpf_cmd::BPF_OBJ_GET_INFO_BY_FD, &mut attr) }?;
    Ok(info)
}

/// `BPF_PROG_GET_FD_BY_ID`.
pub(crate) fn prog_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = zeroed_attr();
    attr.__bindgen_anon_6.__bindgen_anon_1.prog_id = id;
    // SAFETY: this command carries no pointers.
    let r = unsafe { sys_bpf(bpf_cmd::BPF_PROG_GET_FD_BY_ID, &mut attr) }?;
    owned_fd(r)
}

// ---------------------------------------------------------------------------------------
// Map elements
// ---------------------------------------------------------------------------------------

/// A map together with the geometry the kernel reported for it, so that element
/// operations can check buffer sizes before handing pointers to the kernel.
///
/// The pairing is the safety argument for the element operations: `RawMap` is built only
/// by [`RawMap::new`], which asks the kernel about the very descriptor it then owns, and
/// neither the descriptor nor the geometry can change afterwards.
#[derive(Debug)]
pub(crate) struct RawMap {
    data: aya::maps::MapData,
    map_type: u32,
    id: u32,
    key_size: usize,
    value_size: usize,
    /// Bytes the kernel reads or writes for one value: `value_size`, or for per-CPU maps
    /// `round_up(value_size, 8) * possible_cpus`.
    value_buf: usize,
    max_entries: u32,
    flags: u32,
}

fn is_per_cpu(map_type: u32) -> bool {
    map_type == bpf_map_type::BPF_MAP_TYPE_PERCPU_HASH as u32
        || map_type == bpf_map_type::BPF_MAP_TYPE_PERCPU_ARRAY as u32
        || map_type == bpf_map_type::BPF_MAP_TYPE_LRU_PERCPU_HASH as u32
        || map_type == bpf_map_type::BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE_DEPRECATED as u32
}

impl RawMap {
    pub(crate) fn new(data: aya::maps::MapData) -> io::Result<RawMap> {
        let info = map_info(data.fd().as_fd())?;
        let value_size = info.value_size as usize;
        let value_buf = if is_per_cpu(info.type_) {
            let cpus = aya::util::nr_cpus()
                .map_err(|(what, e)| io::Error::new(e.kind(), format!("reading {what}: {e}")))?;
            value_size.div_ceil(8) * 8 * cpus
        } else {
            value_size
        };
        Ok(RawMap {
            data,
            map_type: info.type_,
            id: info.id,
            key_size: info.key_size as usize,
            value_size,
            value_buf,
            max_entries: info.max_entries,
            flags: info.map_flags,
        })
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.data.fd().as_fd()
    }
    pub(crate) fn into_map_data(self) -> aya::maps::MapData {
        self.data
    }
    pub(crate) fn map_type(&self) -> u32 {
        self.map_type
    }
    pub(crate) fn id(&self) -> u32 {
        self.id
    }
    pub(crate) fn key_size(&self) -> usize {
        self.key_size
    }
    pub(crate) fn value_size(&self) -> usize {
        self.value_size
    }
    pub(crate) fn value_buf(&self) -> usize {
        self.value_buf
    }
    pub(crate) fn max_entries(&self) -> u32 {
        self.max_entries
    }
    pub(crate) fn flags(&self) -> u32 {
        self.flags
    }

    fn check_key(&self, key: &[u8]) -> io::Result<u64> {
        if key.len() != self.key_size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "key is {} bytes, the map's keys are {} bytes",
                    key.len(),
                    self.key_size
                ),
            ));
        }
        Ok(ptr_or_null(key))
    }

    fn elem_attr(&self, key: u64, value: u64, flags: u64) -> bpf_attr {
        let mut attr = zeroed_attr();
        // SAFETY: writing fields of a union member of a zeroed POD union.
        let e = unsafe { &mut attr.__bindgen_anon_2 };
        e.map_fd = self.fd().as_raw_fd() as u32;
        e.key = key;
        e.__bindgen_anon_1.value = value;
        e.flags = flags;
        attr
    }

    /// `BPF_MAP_LOOKUP_ELEM`; `None` when the key is absent.
    pub(crate) fn lookup(&self, key: &[u8], flags: u64) -> io::Result<Option<Vec<u8>>> {
        let k = self.check_key(key)?;
        let mut value = vec![0u8; self.value_buf];
        let mut attr = self.elem_attr(k, mut_ptr_or_null(&mut value), flags);
        // SAFETY: `key` is exactly `key_size` bytes (checked) and `value` is `value_buf`
        // bytes, the most the kernel writes for this map (geometry read from this fd).
        match unsafe { sys_bpf(bpf_cmd::BPF_MAP_LOOKUP_ELEM, &mut attr) } {
            Ok(_) => Ok(Some(value)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `BPF_MAP_UPDATE_ELEM`.
    pub(crate) fn update(&self, key: &[u8], value: &[u8], flags: u64) -> io::Result<()> {
        let k = self.check_key(key)?;
        if value.len() != self.value_buf {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "value is {} bytes, the map expects {} bytes",
                    value.len(),
                    self.value_buf
                ),
            ));
        }
        let mut attr = self.elem_attr(k, ptr_or_null(value), flags);
        // SAFETY: `key` and `value` are exactly the sizes the kernel reads for this map.
        unsafe { sys_bpf(bpf_cmd::BPF_MAP_UPDATE_ELEM, &mut attr) }.map(|_| ())
    }

    /// `BPF_MAP_DELETE_ELEM`; false when the key was absent.
    pub(crate) fn delete(&self, key: &[u8]) -> io::Result<bool> {
        let k = self.check_key(key)?;
        let mut attr = self.elem_attr(k, 0, 0);
        // SAFETY: `key` is exactly the size the kernel reads for this map.
        match unsafe { sys_bpf(bpf_cmd::BPF_MAP_DELETE_ELEM, &mut attr) } {
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `BPF_MAP_GET_NEXT_KEY`: the key after `key` (the first key for `None`), or `None`
    /// at the end.
    pub(crate) fn next_key(&self, key: Option<&[u8]>) -> io::Result<Option<Vec<u8>>> {
        let k = match key {
            Some(key) => self.check_key(key)?,
            None => 0,
        };
        let mut next = vec![0u8; self.key_size];
        let mut attr = self.elem_attr(k, 0, 0);
        attr.__bindgen_anon_2.__bindgen_anon_1.next_key = mut_ptr_or_null(&mut next);
        // SAFETY: `key` (or NULL) and `next` are exactly `key_size` bytes.
        match unsafe { sys_bpf(bpf_cmd::BPF_MAP_GET_NEXT_KEY, &mut attr) } {
            Ok(_) => Ok(Some(next)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Attach: raw tracepoints, links, perf events, sockets
// ---------------------------------------------------------------------------------------

/// `BPF_RAW_TRACEPOINT_OPEN`: attaches a raw tracepoint program to `name`, or, with `None`,
/// a BTF-typed tracing program (tp_btf, fentry, ...) to the target it was loaded for.
pub(crate) fn raw_tracepoint_open(
    name: Option<&CStr>,
    prog: BorrowedFd<'_>,
) -> io::Result<OwnedFd> {
    let mut attr = zeroed_attr();
    // SAFETY: writing fields of a union member of a zeroed POD union.
    let r = unsafe { &mut attr.raw_tracepoint };
    r.name = name.map_or(0, |n| n.as_ptr() as u64);
    r.prog_fd = prog.as_raw_fd() as u32;
    // SAFETY: `name` is NUL-terminated and borrowed for the call, or NULL.
    let ret = unsafe { sys_bpf(bpf_cmd::BPF_RAW_TRACEPOINT_OPEN, &mut attr) }?;
    owned_fd(ret)
}

/// `BPF_LINK_CREATE` for a target given by file descriptor (perf event, cgroup, ...).
pub(crate) fn link_create(
    prog: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    attach_type: u32,
) -> io::Result<OwnedFd> {
    let mut attr = zeroed_attr();
    // SAFETY: writing fields of a union member of a zeroed POD union.
    let l = unsafe { &mut attr.link_create };
    l.__bindgen_anon_1.prog_fd = prog.as_raw_fd() as u32;
    l.__bindgen_anon_2.target_fd = target.as_raw_fd() as u32;
    l.attach_type = attach_type;
    // SAFETY: no pointers are set (the type-specific union stays zero).
    let ret = unsafe { sys_bpf(bpf_cmd::BPF_LINK_CREATE, &mut attr) }?;
    owned_fd(ret)
}

/// A zeroed `perf_event_attr` with its `size` set.
fn perf_attr() -> perf_event_attr {
    // SAFETY: `perf_event_attr` is a plain C struct of integers, unions of integers and a
    // bitfield unit; all-zero is valid and is the kernel's default for every field.
    let mut attr: perf_event_attr = unsafe { mem::zeroed() };
    attr.size = mem::size_of::<perf_event_attr>() as u32;
    attr
}

/// `perf_event_open(attr, pid, cpu, -1, CLOEXEC)` for one process (`pid`, on any CPU) or
/// for every process (`None`, on CPU 0: a BPF program attached to a tracepoint or probe
/// event runs on every CPU regardless; one event is enough).
///
/// # Safety
/// `attr` must come from [`perf_attr`], and pointers inside it (such as a probe's name in
/// `config1`) must be valid for the call.
unsafe fn perf_event_open(attr: &perf_event_attr, pid: Option<u32>) -> io::Result<OwnedFd> {
    let pid: libc::pid_t = match pid {
        None => -1,
        Some(p) => libc::pid_t::try_from(p).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("pid {p} is out of range"),
            )
        })?,
    };
    let cpu: libc::c_int = if pid == -1 { 0 } else { -1 };
    // SAFETY: `attr` is a live `perf_event_attr` whose `size` field is its size (made by
    // `perf_attr`); pointers it holds are valid for the call (this function's contract);
    // the other arguments are plain integers (group -1: no group).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr as *const perf_event_attr,
            pid,
            cpu,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC as libc::c_ulong,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    owned_fd(ret)
}

/// `perf_event_open` for tracepoint `id`: every process, or process `pid`.
pub(crate) fn perf_event_open_tracepoint(id: u64, pid: Option<u32>) -> io::Result<OwnedFd> {
    let mut attr = perf_attr();
    attr.type_ = perf_type_id::PERF_TYPE_TRACEPOINT as u32;
    attr.config = id;
    attr.sample_type = perf_event_sample_format::PERF_SAMPLE_RAW as u64;
    attr.__bindgen_anon_1.sample_period = 1;
    attr.__bindgen_anon_2.wakeup_events = 1;
    // SAFETY: `attr` comes from `perf_attr` and holds no pointers.
    unsafe { perf_event_open(&attr, pid) }
}

/// `perf_event_open` on a dynamic-probe PMU (`kprobe` or `uprobe`, type read from sysfs):
/// `name` is the kernel function (kprobe) or the binary's path (uprobe), `offset` the
/// offset into the function or the file offset, `config` the PMU's config bits (its
/// `retprobe` bit for return probes). `pid`: one process (uprobes), or `None` for all
/// processes.
pub(crate) fn perf_event_open_probe(
    pmu_type: u32,
    config: u64,
    name: &CStr,
    offset: u64,
    pid: Option<u32>,
) -> io::Result<OwnedFd> {
    let mut attr = perf_attr();
    attr.type_ = pmu_type;
    attr.config = config;
    // kprobe_func / uprobe_path, and the offset (kprobe_addr is 0: by name). `name` is
    // borrowed for the whole call (the kernel copies it during perf_event_open).
    attr.__bindgen_anon_3.config1 = name.as_ptr() as u64;
    attr.__bindgen_anon_4.config2 = offset;
    // SAFETY: `attr` comes from `perf_attr`; its one pointer, `config1`, is `name`, which
    // outlives the call.
    unsafe { perf_event_open(&attr, pid) }
}

/// The thread id of the calling thread.
pub(crate) fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    let t = unsafe { libc::gettid() };
    t as u32
}

/// The legacy attach: `PERF_EVENT_IOC_SET_BPF` then `PERF_EVENT_IOC_ENABLE`.
pub(crate) fn perf_event_set_bpf_and_enable(
    perf: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
) -> io::Result<()> {
    // SAFETY: SET_BPF takes the program fd as an integer argument; no memory is passed.
    let r = unsafe {
        libc::ioctl(
            perf.as_raw_fd(),
            PERF_EVENT_IOC_SET_BPF as libc::c_ulong,
            prog.as_raw_fd() as libc::c_ulong,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: ENABLE takes an integer flag argument (0); no memory is passed.
    let r = unsafe {
        libc::ioctl(
            perf.as_raw_fd(),
            PERF_EVENT_IOC_ENABLE as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `setsockopt(SOL_SOCKET, SO_ATTACH_BPF, prog)`.
pub(crate) fn attach_socket_filter(sock: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    let fd: libc::c_int = prog.as_raw_fd();
    // SAFETY: the option value is a live `c_int` and we pass its exact size.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_BPF,
            &fd as *const libc::c_int as *const libc::c_void,
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `setsockopt(SOL_SOCKET, SO_DETACH_BPF)`: removes the socket's filter.
pub(crate) fn detach_socket_filter(sock: BorrowedFd<'_>) -> io::Result<()> {
    let zero: libc::c_int = 0;
    // SAFETY: the option value is a live `c_int` and we pass its exact size (the kernel
    // requires an int-sized value and ignores it).
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_DETACH_BPF,
            &zero as *const libc::c_int as *const libc::c_void,
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Network interfaces and packet sockets
// ---------------------------------------------------------------------------------------

/// `if_nametoindex(3)`.
pub(crate) fn if_nametoindex(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name contains a NUL byte",
        )
    })?;
    // SAFETY: `c` is NUL-terminated and lives for the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(i)
    }
}

/// `if_indextoname(3)`.
pub(crate) fn if_indextoname(index: u32) -> io::Result<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` has IF_NAMESIZE bytes, the most the function writes.
    let r = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if r.is_null() {
        return Err(io::Error::last_os_error());
    }
    Ok(c_field(&buf))
}

/// A raw `AF_PACKET` socket receiving every protocol, bound to interface `ifindex`.
pub(crate) fn packet_socket(ifindex: u32) -> io::Result<OwnedFd> {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain integer arguments.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::c_int::from(proto),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let sock = owned_fd(libc::c_long::from(fd))?;
    // SAFETY: `sockaddr_ll` is a C struct of integers and byte arrays; all-zero is valid.
    let mut addr: libc::sockaddr_ll = unsafe { mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = proto;
    addr.sll_ifindex = i32::try_from(ifindex)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index out of range"))?;
    // SAFETY: `addr` is a live `sockaddr_ll` and we pass its exact size.
    let r = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            &addr as *const libc::sockaddr_ll as *const libc::sockaddr,
            mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sock)
}

/// `recv(fd, buf, MSG_DONTWAIT)`: `Ok(None)` when nothing is queued. For datagram and
/// packet sockets the returned length is the whole packet's (`MSG_TRUNC`), which may
/// exceed `buf`.
pub(crate) fn recv_nonblocking(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Option<usize>> {
    // SAFETY: `buf` is a live, writable slice and we pass its length, the most the kernel
    // writes.
    let r = unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
            libc::MSG_DONTWAIT | libc::MSG_TRUNC,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::WouldBlock {
            return Ok(None);
        }
        return Err(e);
    }
    Ok(Some(r as usize))
}

// ---------------------------------------------------------------------------------------
// Plain-old-data values as bytes
// ---------------------------------------------------------------------------------------

/// The bytes of a `Pod` value.
pub(crate) fn pod_bytes<T: aya::Pod>(v: &T) -> &[u8] {
    // SAFETY: `aya::Pod` is an unsafe trait whose implementors promise a type without
    // padding or invalid bit patterns, so all `size_of::<T>()` bytes behind a live `&T`
    // are initialised and may be viewed as `u8`s for the borrow's lifetime.
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, mem::size_of::<T>()) }
}

/// A `Pod` value from exactly `size_of::<T>()` bytes.
pub(crate) fn pod_read<T: aya::Pod>(b: &[u8]) -> Option<T> {
    if b.len() != mem::size_of::<T>() {
        return None;
    }
    // SAFETY: `b` has exactly `size_of::<T>()` readable bytes (checked); any bit pattern
    // is a valid `T` (the `aya::Pod` contract); `read_unaligned` needs no alignment.
    Some(unsafe { std::ptr::read_unaligned(b.as_ptr() as *const T) })
}

// ---------------------------------------------------------------------------------------
// Process and system
// ---------------------------------------------------------------------------------------

/// `mount(source, target, fstype, 0, NULL)`.
pub(crate) fn mount(source: &str, target: &Path, fstype: &str) -> io::Result<()> {
    let c = |s: &[u8]| {
        CString::new(s).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "mount argument contains a NUL byte",
            )
        })
    };
    let source = c(source.as_bytes())?;
    let target = c(target.as_os_str().as_bytes())?;
    let fstype = c(fstype.as_bytes())?;
    // SAFETY: the three strings are NUL-terminated and live for the call; `data` is NULL,
    // which every pseudo file system accepts as "no options".
    let r = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The fields of `uname(2)` oxbpf reports.
#[derive(Clone, Debug)]
pub(crate) struct Uname {
    pub sysname: String,
    pub release: String,
    pub machine: String,
}

fn c_field(field: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = field
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

pub(crate) fn uname() -> io::Result<Uname> {
    // SAFETY: `utsname` is a C struct of fixed-size char arrays; all-zero is valid.
    let mut u: libc::utsname = unsafe { mem::zeroed() };
    // SAFETY: `u` is a live, writable `utsname`.
    let r = unsafe { libc::uname(&mut u) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Uname {
        sysname: c_field(&u.sysname),
        release: c_field(&u.release),
        machine: c_field(&u.machine),
    })
}

/// The effective user id.
pub(crate) fn geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// `RLIMIT_MEMLOCK` as (soft, hard); `u64::MAX` is "unlimited".
pub(crate) fn memlock_rlimit() -> io::Result<(u64, u64)> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a live, writable `rlimit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut r) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((r.rlim_cur, r.rlim_max))
}

/// Sets `RLIMIT_MEMLOCK` (soft and hard).
pub(crate) fn set_memlock_rlimit(soft: u64, hard: u64) -> io::Result<()> {
    let r = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `r` is a live `rlimit` the call only reads.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &r) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Waits until `fd` is readable or `timeout` passes; true when readable (or hung up).
pub(crate) fn poll_readable(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<bool> {
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `p` is one live, writable `pollfd` and we pass a count of 1.
    let r = unsafe { libc::poll(&mut p, 1, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        // Interrupted by a signal: report "not ready" so that the caller can look at what
        // the signal did (Ctrl-C) before waiting again.
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(e);
    }
    Ok(r > 0 && p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0)
}

/// Set by [`on_interrupt`]; read by `crate::signals`.
pub(crate) static INTERRUPTED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// The signal handler: only an atomic store, which is async-signal-safe.
extern "C" fn on_interrupt(_signal: libc::c_int) {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Installs [`on_interrupt`] for `signals`, once (`SA_RESETHAND`: a second signal gets
/// the default action, so a second Ctrl-C still kills a stuck process).
pub(crate) fn install_interrupt_handler(signals: &[libc::c_int]) -> io::Result<()> {
    for &sig in signals {
        // SAFETY: `sigaction` is a plain C struct; all-zero is a valid value (empty mask,
        // no flags) that we then fill in.
        let mut act: libc::sigaction = unsafe { mem::zeroed() };
        act.sa_sigaction = on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
        act.sa_flags = libc::SA_RESETHAND;
        // SAFETY: `act.sa_mask` is a live sigset_t owned by `act`.
        unsafe { libc::sigemptyset(&mut act.sa_mask) };
        // SAFETY: `act` is a fully initialised `sigaction` whose handler only performs an
        // atomic store; the old action is not requested (NULL).
        let r = unsafe { libc::sigaction(sig, &act, std::ptr::null_mut()) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Waits until one of `fds` is readable or `timeout` passes; returns which are readable
/// (or hung up). An empty list waits for nothing.
pub(crate) fn poll_many(fds: &[BorrowedFd<'_>], timeout: Duration) -> io::Result<Vec<bool>> {
    if fds.is_empty() {
        return Ok(Vec::new());
    }
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `p` is a live, writable array of `p.len()` `pollfd`s and we pass that count.
    let r = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        // Interrupted by a signal: nothing is ready (see `poll_readable`).
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![false; p.len()]);
        }
        return Err(e);
    }
    Ok(p.iter()
        .map(|x| x.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uname_reports_linux() {
        let u = uname().unwrap();
        assert_eq!(u.sysname, "Linux");
        assert!(!u.release.is_empty());
    }

    #[test]
    fn memlock_rlimit_reads() {
        let (soft, hard) = memlock_rlimit().unwrap();
        assert!(soft <= hard);
    }

    #[test]
    fn fd_array_references_are_bounds_checked() {
        let lddw_idx = |idx: i32| {
            let mut v = vec![0x18, 1 | (5 << 4), 0, 0];
            v.extend_from_slice(&idx.to_le_bytes());
            v.extend_from_slice(&[0; 8]);
            v
        };
        assert!(check_fd_array_refs(&lddw_idx(0), 1).is_ok());
        assert!(check_fd_array_refs(&lddw_idx(1), 1).is_err());
        assert!(check_fd_array_refs(&lddw_idx(-1), 4).is_err());
        // kfunc call with module BTF index 2 in `off`
        let kfunc = [0x85, 2 << 4, 2, 0, 7, 0, 0, 0];
        assert!(check_fd_array_refs(&kfunc, 3).is_ok());
        let e = check_fd_array_refs(&kfunc, 2).unwrap_err();
        assert!(
            e.to_string().contains("slot 0 uses fd_array index 2"),
            "{e}"
        );
    }

    #[test]
    fn prog_load_rejects_partial_slot() {
        let lic = CString::new("GPL").unwrap();
        let a = ProgLoadAttr {
            prog_type: 1,
            expected_attach_type: 0,
            insns: &[0u8; 12],
            license: &lic,
            name: b"x",
            kern_version: 0,
            prog_flags: 0,
            attach_btf_id: 0,
            fd_array: &[],
            prog_btf_fd: None,
            func_info: &[],
            func_info_rec_size: 0,
            line_info: &[],
            line_info_rec_size: 0,
        };
        let out = prog_load(&a, 0, &mut []);
        assert_eq!(out.result.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
}
