//! tracefs: finding (or mounting) it, listing tracepoints, reading their formats.
//!
//! tracefs lives at `/sys/kernel/tracing`; older systems only have it under debugfs at
//! `/sys/kernel/debug/tracing`. When neither is mounted, [`Tracefs::find_or_mount`] mounts
//! tracefs (and, failing that, debugfs) itself, which needs `CAP_SYS_ADMIN`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::KernelError;
use crate::sys;

/// The standard mount point of tracefs.
pub const TRACEFS_PATH: &str = "/sys/kernel/tracing";
/// Where debugfs is mounted.
pub const DEBUGFS_PATH: &str = "/sys/kernel/debug";
/// tracefs inside debugfs (older systems).
pub const DEBUGFS_TRACING_PATH: &str = "/sys/kernel/debug/tracing";

/// Serialises this process's mount attempts (tests run in parallel threads).
static MOUNT_LOCK: Mutex<()> = Mutex::new(());

/// A mounted tracefs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracefs {
    root: PathBuf,
}

fn looks_mounted(root: &Path) -> bool {
    root.join("events").is_dir() && root.join("available_events").exists()
}

/// Decodes the octal escapes (`\040` for a space) of a `/proc/self/mounts` field.
fn unescape_mount_field(f: &str) -> String {
    let b = f.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .map(|d| d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0')))
            .and_then(|v| u8::try_from(v).ok());
        if let (b'\\', Some(byte)) = (b[i], octal) {
            out.push(byte);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points of file systems of type `fstype`, from `/proc/self/mounts`.
pub(crate) fn mount_points(fstype: &str) -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string("/proc/self/mounts") else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (_dev, dir, ty) = (it.next()?, it.next()?, it.next()?);
            (ty == fstype).then(|| PathBuf::from(unescape_mount_field(dir)))
        })
        .collect()
}

/// Whether tracefs is mounted at `root` (readable or not by this process).
fn is_mounted(root: &Path) -> bool {
    looks_mounted(root) || mount_points("tracefs").iter().any(|m| m == root)
}

/// Whether the kernel knows a file system type (`/proc/filesystems`).
pub(crate) fn filesystem_supported(fstype: &str) -> bool {
    fs::read_to_string("/proc/filesystems")
        .map(|s| {
            s.lines()
                .any(|l| l.split_whitespace().last() == Some(fstype))
        })
        .unwrap_or(false)
}

impl Tracefs {
    /// The tracefs at `root`, if one is mounted there.
    pub fn at(root: impl Into<PathBuf>) -> Result<Tracefs, KernelError> {
        let root = root.into();
        if is_mounted(&root) {
            Ok(Tracefs { root })
        } else {
            Err(KernelError::TracefsUnavailable {
                reason: format!("{} is not a mounted tracefs", root.display()),
            })
        }
    }

    /// The mounted tracefs, if any (no side effects). It may still be unreadable by an
    /// unprivileged process; see [`Tracefs::readable`].
    pub fn find() -> Option<Tracefs> {
        [TRACEFS_PATH, DEBUGFS_TRACING_PATH]
            .into_iter()
            .map(Path::new)
            .find(|p| is_mounted(p))
            .map(|p| Tracefs {
                root: p.to_path_buf(),
            })
    }

    /// Whether this process can read the tracepoint list.
    pub fn readable(&self) -> bool {
        fs::File::open(self.path("available_events")).is_ok()
    }

    /// The mounted tracefs; mounts tracefs at [`TRACEFS_PATH`] (or debugfs at
    /// [`DEBUGFS_PATH`]) when none is.
    pub fn find_or_mount() -> Result<Tracefs, KernelError> {
        if let Some(t) = Tracefs::find() {
            return Ok(t);
        }
        let _guard = MOUNT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = Tracefs::find() {
            return Ok(t);
        }
        let mut tried = Vec::new();
        match sys::mount("tracefs", Path::new(TRACEFS_PATH), "tracefs") {
            Ok(()) => log::info!("mounted tracefs at {TRACEFS_PATH}"),
            Err(e) => tried.push(format!("mount -t tracefs at {TRACEFS_PATH}: {e}")),
        }
        if let Some(t) = Tracefs::find() {
            return Ok(t);
        }
        match sys::mount("debugfs", Path::new(DEBUGFS_PATH), "debugfs") {
            Ok(()) => log::info!("mounted debugfs at {DEBUGFS_PATH}"),
            Err(e) => tried.push(format!("mount -t debugfs at {DEBUGFS_PATH}: {e}")),
        }
        if let Some(t) = Tracefs::find() {
            return Ok(t);
        }
        if tried.is_empty() {
            tried.push("mounts succeeded but no tracing directory appeared".to_string());
        }
        Err(KernelError::TracefsUnavailable {
            reason: tried.join("; "),
        })
    }

    /// The mount point.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A path inside tracefs.
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root.join(rel)
    }

    /// Every tracepoint the kernel has (`available_events`), in the kernel's order.
    pub fn available_events(&self) -> Result<Vec<TracepointName>, KernelError> {
        let path = self.path("available_events");
        let text = fs::read_to_string(&path).map_err(|e| KernelError::file(&path, e))?;
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                TracepointName::parse(l.trim()).ok_or_else(|| KernelError::Parse {
                    path: path.clone(),
                    line: i + 1,
                    message: format!("expected `category:name`, found `{l}`"),
                })
            })
            .collect()
    }

    /// Tracepoints matching a pattern, sorted; see [`TracepointPattern`].
    pub fn tracepoints(&self, pattern: Option<&str>) -> Result<Vec<TracepointName>, KernelError> {
        let pat = pattern.map(TracepointPattern::new);
        let mut v: Vec<TracepointName> = self
            .available_events()?
            .into_iter()
            .filter(|t| pat.as_ref().is_none_or(|p| p.matches(t)))
            .collect();
        v.sort();
        v.dedup();
        Ok(v)
    }

    fn event_dir(&self, category: &str, name: &str) -> Result<PathBuf, KernelError> {
        for part in [category, name] {
            if part.is_empty() || part.contains('/') || part == "." || part == ".." {
                return Err(KernelError::InvalidInput {
                    what: "tracepoint",
                    reason: format!("`{category}:{name}` is not a tracepoint name"),
                });
            }
        }
        let dir = self.path("events").join(category).join(name);
        if !dir.is_dir() {
            return Err(KernelError::NotFound {
                what: "tracepoint",
                name: format!("{category}:{name}"),
            });
        }
        Ok(dir)
    }

    /// The perf event id of a tracepoint (`events/<category>/<name>/id`).
    pub fn tracepoint_id(&self, category: &str, name: &str) -> Result<u64, KernelError> {
        let path = self.event_dir(category, name)?.join("id");
        let text = fs::read_to_string(&path).map_err(|e| KernelError::file(&path, e))?;
        text.trim().parse().map_err(|_| KernelError::Parse {
            path,
            line: 1,
            message: format!("expected a number, found `{}`", text.trim()),
        })
    }

    /// The record layout of a tracepoint (`events/<category>/<name>/format`).
    pub fn format(&self, category: &str, name: &str) -> Result<TracepointFormat, KernelError> {
        let path = self.event_dir(category, name)?.join("format");
        let text = fs::read_to_string(&path).map_err(|e| KernelError::file(&path, e))?;
        let mut f = TracepointFormat::parse(&text, &path)?;
        f.category = category.to_string();
        Ok(f)
    }
}

/// `category:name` of a tracepoint.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TracepointName {
    /// The subsystem (`syscalls`, `sched`, ...).
    pub category: String,
    /// The event (`sys_enter_openat`, ...).
    pub name: String,
}

impl TracepointName {
    /// Parses `category:name`.
    pub fn parse(s: &str) -> Option<TracepointName> {
        let (c, n) = s.split_once(':')?;
        if c.is_empty() || n.is_empty() || n.contains(':') {
            return None;
        }
        Some(TracepointName {
            category: c.to_string(),
            name: n.to_string(),
        })
    }
}

impl std::fmt::Display for TracepointName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.category, self.name)
    }
}

/// A bpftrace-style tracepoint pattern: `tracepoint:syscalls:*open*`, `t:sched:*`,
/// `syscalls:sys_enter_*`, or a single glob (`*open*`) matched against the event name and
/// against `category:name`. Globs have `*`, `?` and `[...]` classes (`[!...]` negates).
#[derive(Clone, Debug)]
pub struct TracepointPattern {
    category: Option<String>,
    name: String,
}

impl TracepointPattern {
    /// Parses a pattern (never fails: every string is a glob).
    pub fn new(pattern: &str) -> TracepointPattern {
        let p = pattern.trim();
        let p = p
            .strip_prefix("tracepoint:")
            .or_else(|| p.strip_prefix("t:"))
            .unwrap_or(p);
        match p.split_once(':') {
            Some((c, n)) => TracepointPattern {
                category: Some(c.to_string()),
                name: if n.is_empty() {
                    "*".to_string()
                } else {
                    n.to_string()
                },
            },
            None => TracepointPattern {
                category: None,
                name: p.to_string(),
            },
        }
    }

    /// Whether a tracepoint matches.
    pub fn matches(&self, t: &TracepointName) -> bool {
        match &self.category {
            Some(c) => glob_match(c, &t.category) && glob_match(&self.name, &t.name),
            None => glob_match(&self.name, &t.name) || glob_match(&self.name, &t.to_string()),
        }
    }
}

/// Shell-style glob matching: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`; `\` escapes.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    // Backtracking point: position after the last `*` and the text position it matched to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi + 1, ti));
                pi += 1;
                continue;
            }
            Some('?') => Some(1),
            Some('[') => match class_match(&p[pi..], t[ti]) {
                Some((true, len)) => Some(len),
                _ => None,
            },
            Some('\\') if pi + 1 < p.len() => (p[pi + 1] == t[ti]).then_some(2),
            Some(&c) => (c == t[ti]).then_some(1),
            None => None,
        };
        match step {
            Some(len) => {
                pi += len;
                ti += 1;
            }
            None => match star {
                Some((sp, st)) => {
                    pi = sp;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class starting at `p[0] == '['`; returns (matched, pattern
/// length) or `None` when the class is unterminated (then `[` is literal).
fn class_match(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(1), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    // Unterminated: treat `[` as a literal character.
    Some((c == '[', 1))
}

/// How a variable-length field is located (`__data_loc` / `__rel_loc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DynamicLocation {
    /// A plain field: the bytes at `offset`.
    None,
    /// `__data_loc`: a `u32` at `offset` holding `(length << 16) | offset_from_record_start`.
    DataLoc,
    /// `__rel_loc`: like `__data_loc` but the offset is relative to the end of the field.
    RelLoc,
}

/// One field of a tracepoint record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatField {
    /// The declaration as the kernel printed it, e.g. `const char * filename`.
    pub decl: String,
    /// The C type, e.g. `const char *`, `char` (for `char comm[16]`), `char[]` (data_loc).
    pub type_name: String,
    /// The field name.
    pub name: String,
    /// Array length: `Some(n)` for `name[n]`, `Some(0)` for a flexible `name[]`.
    pub array_len: Option<usize>,
    /// `__data_loc` / `__rel_loc` fields.
    pub location: DynamicLocation,
    /// Byte offset in the record.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
    /// Whether the kernel marks the type signed.
    pub signed: bool,
}

impl FormatField {
    /// The common header fields every record starts with (`common_type`, `common_pid`, ...).
    pub fn is_common(&self) -> bool {
        self.name.starts_with("common_")
    }
}

/// The record layout of a tracepoint: what a `BPF_PROG_TYPE_TRACEPOINT` program's context
/// points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracepointFormat {
    /// The subsystem (empty when parsed from text alone).
    pub category: String,
    /// The event name.
    pub name: String,
    /// The perf event id.
    pub id: u64,
    /// Every field, common ones first, in offset order as the kernel lists them.
    pub fields: Vec<FormatField>,
    /// The `print fmt:` line.
    pub print_fmt: String,
}

impl TracepointFormat {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&FormatField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The event's own fields (without the common header).
    pub fn event_fields(&self) -> impl Iterator<Item = &FormatField> {
        self.fields.iter().filter(|f| !f.is_common())
    }

    /// Bytes from the record start to the end of the last fixed field (saturating: the
    /// numbers come from text).
    pub fn fixed_size(&self) -> usize {
        self.fields
            .iter()
            .map(|f| f.offset.saturating_add(f.size))
            .max()
            .unwrap_or(0)
    }

    /// Parses a `format` file; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<TracepointFormat, KernelError> {
        let err = |line: usize, message: String| KernelError::Parse {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut name = None;
        let mut id = None;
        let mut fields = Vec::new();
        let mut print_fmt = String::new();
        for (i, raw) in text.lines().enumerate() {
            let lineno = i + 1;
            let line = raw.trim();
            if let Some(v) = line.strip_prefix("name:") {
                name = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("ID:") {
                id = Some(v.trim().parse::<u64>().map_err(|_| {
                    err(
                        lineno,
                        format!("expected a numeric ID, found `{}`", v.trim()),
                    )
                })?);
            } else if line.starts_with("field:") {
                fields.push(parse_field(line).map_err(|m| err(lineno, m))?);
            } else if let Some(v) = line.strip_prefix("print fmt:") {
                print_fmt = v.trim().to_string();
            }
        }
        let name = name.ok_or_else(|| err(1, "no `name:` line".to_string()))?;
        let id = id.ok_or_else(|| err(1, "no `ID:` line".to_string()))?;
        Ok(TracepointFormat {
            category: String::new(),
            name,
            id,
            fields,
            print_fmt,
        })
    }
}

/// `field:<decl>;\toffset:<n>;\tsize:<n>;\tsigned:<0|1>;`
fn parse_field(line: &str) -> Result<FormatField, String> {
    let mut decl = None;
    let (mut offset, mut size, mut signed) = (None, None, None);
    for part in line.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part
            .split_once(':')
            .ok_or_else(|| format!("expected `key:value`, found `{part}`"))?;
        let num = |v: &str| {
            v.trim()
                .parse::<usize>()
                .map_err(|_| format!("`{key}` is not a number: `{v}`"))
        };
        match key.trim() {
            "field" => decl = Some(value.trim().to_string()),
            "offset" => offset = Some(num(value)?),
            "size" => size = Some(num(value)?),
            "signed" => signed = Some(num(value)? != 0),
            _ => {} // newer kernels may add keys
        }
    }
    let decl = decl.ok_or("no field declaration")?;
    let offset = offset.ok_or_else(|| format!("field `{decl}` has no offset"))?;
    let size = size.ok_or_else(|| format!("field `{decl}` has no size"))?;
    let (location, rest) = if let Some(r) = decl.strip_prefix("__data_loc ") {
        (DynamicLocation::DataLoc, r.trim())
    } else if let Some(r) = decl.strip_prefix("__rel_loc ") {
        (DynamicLocation::RelLoc, r.trim())
    } else {
        (DynamicLocation::None, decl.as_str())
    };
    // Trailing array suffix belongs to the name (`char comm[16]`); a `[]` inside the type
    // (`__data_loc char[] name`) stays with the type.
    let (body, array_len) = match rest.strip_suffix(']').and_then(|r| r.rsplit_once('[')) {
        Some((body, len)) => {
            let len = len.trim();
            let n = if len.is_empty() {
                0
            } else {
                len.parse::<usize>()
                    .map_err(|_| format!("field `{decl}` has array length `{len}`"))?
            };
            (body.trim_end(), Some(n))
        }
        None => (rest, None),
    };
    // The name is the trailing run of identifier characters; it starts after the last
    // other character, which may be more than one byte long.
    let name_start = body
        .char_indices()
        .rev()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |(p, c)| p + c.len_utf8());
    let name = &body[name_start..];
    if name.is_empty() {
        return Err(format!("field `{decl}` has no name"));
    }
    Ok(FormatField {
        type_name: body[..name_start].trim().to_string(),
        name: name.to_string(),
        decl: decl.clone(),
        array_len,
        location,
        offset,
        size,
        signed: signed.unwrap_or(false),
    })
}

/// A tracefs instance (`instances/<name>`): a private trace buffer with its own events and
/// `trace_pipe`, so that readers do not steal each other's lines. Removed on drop.
#[derive(Debug)]
pub struct TraceInstance {
    tracefs: Tracefs,
    name: String,
    dir: PathBuf,
}

impl TraceInstance {
    /// Creates `instances/<name>` (`name`: letters, digits, `_`, `-`, `.`).
    pub fn create(tracefs: &Tracefs, name: &str) -> Result<TraceInstance, KernelError> {
        if name.is_empty()
            || name == "."
            || name == ".."
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(KernelError::InvalidInput {
                what: "trace instance name",
                reason: format!("`{name}` must be letters, digits, `_`, `-` or `.`"),
            });
        }
        let dir = tracefs.path("instances").join(name);
        fs::create_dir(&dir).map_err(|e| KernelError::file(&dir, e))?;
        // The instance's tracefs files appear with the directory.
        let inst_fs = Tracefs { root: dir.clone() };
        Ok(TraceInstance {
            tracefs: inst_fs,
            name: name.to_string(),
            dir,
        })
    }

    /// The instance name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The instance as a tracefs root (its `trace_pipe`, `events/`, ...).
    pub fn tracefs(&self) -> &Tracefs {
        &self.tracefs
    }

    /// Enables (or disables) a trace event in this instance.
    pub fn set_event(&self, category: &str, name: &str, on: bool) -> Result<(), KernelError> {
        let path = self.tracefs.event_dir(category, name)?.join("enable");
        fs::write(&path, if on { "1" } else { "0" }).map_err(|e| KernelError::file(&path, e))
    }

    /// Sets a trace option of this instance (`options/NAME`: `record-tgid`, `event-fork`,
    /// ...).
    pub fn set_option(&self, name: &str, on: bool) -> Result<(), KernelError> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(KernelError::InvalidInput {
                what: "trace option",
                reason: format!("`{name}` is not an option name"),
            });
        }
        let path = self.dir.join("options").join(name);
        fs::write(&path, if on { "1" } else { "0" }).map_err(|e| KernelError::file(&path, e))
    }

    /// Records only the events of the tasks (thread ids) in `pids` (`set_event_pid`), and,
    /// with `follow_forks`, of the threads and processes they start from now on
    /// (`options/event-fork`; the kernel adds children when they are forked and removes
    /// tasks when they exit). Replaces an earlier filter.
    pub fn set_pid_filter(&self, pids: &[u32], follow_forks: bool) -> Result<(), KernelError> {
        self.set_option("event-fork", follow_forks)?;
        let path = self.dir.join("set_event_pid");
        let list: Vec<String> = pids.iter().map(u32::to_string).collect();
        // `fs::write` truncates, which replaces the list.
        fs::write(&path, format!("{}\n", list.join(" "))).map_err(|e| KernelError::file(&path, e))
    }

    /// Records the events of every task again.
    pub fn clear_pid_filter(&self) -> Result<(), KernelError> {
        let path = self.dir.join("set_event_pid");
        fs::write(&path, "").map_err(|e| KernelError::file(&path, e))?;
        self.set_option("event-fork", false)
    }

    /// Starts `cmd` so that this instance records the events of its process tree only:
    /// a short-lived thread puts itself in the pid filter with `event-fork` on, spawns the
    /// command (which the kernel adds to the filter as it forks, with everything it starts
    /// later), and exits (which removes it). Returns the child and that thread's id (its own
    /// events, from the spawn, may be recorded too: filter them out by that id, and the
    /// child's between its fork and its exec by its name, [`SPAWNER_THREAD`]).
    pub fn spawn_filtered(
        &self,
        cmd: &mut std::process::Command,
    ) -> Result<(std::process::Child, u32), KernelError> {
        std::thread::scope(|s| {
            let spawner = std::thread::Builder::new()
                .name(SPAWNER_THREAD.into())
                .spawn_scoped(s, || {
                    let tid = crate::sys::gettid();
                    self.set_pid_filter(&[tid], true)?;
                    let child = cmd
                        .spawn()
                        .map_err(|e| KernelError::file(PathBuf::from(cmd.get_program()), e))?;
                    Ok((child, tid))
                })
                .map_err(|e| KernelError::syscall("spawning a thread", "oxbpf-spawn", e))?;
            spawner
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }
}

/// The name of the thread [`TraceInstance::spawn_filtered`] spawns from, which its child
/// carries until it execs the command.
pub const SPAWNER_THREAD: &str = "oxbpf-spawn";

impl Drop for TraceInstance {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir(&self.dir) {
            log::warn!("removing trace instance {}: {e}", self.dir.display());
        }
    }
}

/// True when `e` means "permission denied" in either spelling.
pub(crate) fn is_permission(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_fields_unescape() {
        assert_eq!(unescape_mount_field("/a\\040b"), "/a b");
        assert_eq!(unescape_mount_field("/plain"), "/plain");
        assert_eq!(unescape_mount_field("/end\\04"), "/end\\04");
        assert_eq!(unescape_mount_field("/back\\134slash"), "/back\\slash");
        // Not a byte (0o777 > 255): kept as it is, no arithmetic overflow.
        assert_eq!(unescape_mount_field("/x\\777"), "/x\\777");
    }

    #[test]
    fn globs() {
        assert!(glob_match("*open*", "sys_enter_openat"));
        assert!(glob_match("sys_enter_*", "sys_enter_openat"));
        assert!(!glob_match("sys_exit_*", "sys_enter_openat"));
        assert!(glob_match("sys_?nter_open", "sys_enter_open"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("?", ""));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(glob_match("sched_[ws]*", "sched_switch"));
        assert!(glob_match("sched_[a-t]witch", "sched_switch"));
        assert!(!glob_match("sched_[!s]witch", "sched_switch"));
        assert!(glob_match("a\\*", "a*"));
        assert!(!glob_match("a\\*", "ab"));
        assert!(glob_match("x[", "x["));
        assert!(glob_match("**a", "a"));
    }

    #[test]
    fn patterns() {
        let t = TracepointName::parse("syscalls:sys_enter_openat").unwrap();
        for p in [
            "tracepoint:syscalls:*open*",
            "t:syscalls:sys_enter_*",
            "syscalls:*",
            "*open*",
            "syscalls:",
            "sys*:sys_enter_openat",
            "*:*openat",
            "syscalls:sys_enter_openat",
        ] {
            assert!(TracepointPattern::new(p).matches(&t), "{p}");
        }
        for p in [
            "sched:*",
            "tracepoint:syscalls:*close*",
            "*exit*",
            "sys_enter",
        ] {
            assert!(!TracepointPattern::new(p).matches(&t), "{p}");
        }
        assert_eq!(TracepointName::parse("nocolon"), None);
        assert_eq!(TracepointName::parse(":x"), None);
        assert_eq!(t.to_string(), "syscalls:sys_enter_openat");
    }

    const OPENAT: &str = "name: sys_enter_openat
ID: 782
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
\tfield:int flags;\toffset:32;\tsize:8;\tsigned:0;
\tfield:umode_t mode;\toffset:40;\tsize:8;\tsigned:0;

print fmt: \"dfd: 0x%08lx, filename: 0x%08lx\", ((unsigned long)(REC->dfd)), ((unsigned long)(REC->filename))
";

    #[test]
    fn format_of_openat() {
        let f = TracepointFormat::parse(OPENAT, Path::new("format")).unwrap();
        assert_eq!(f.name, "sys_enter_openat");
        assert_eq!(f.id, 782);
        assert_eq!(f.fields.len(), 9);
        assert_eq!(f.event_fields().count(), 5);
        let filename = f.field("filename").unwrap();
        assert_eq!(filename.type_name, "const char *");
        assert_eq!(
            (filename.offset, filename.size, filename.signed),
            (24, 8, false)
        );
        let pid = f.field("common_pid").unwrap();
        assert!(pid.is_common());
        assert_eq!((pid.offset, pid.size, pid.signed), (4, 4, true));
        assert_eq!(f.fixed_size(), 48);
        assert!(f.print_fmt.starts_with("\"dfd: 0x%08lx"));
    }

    #[test]
    fn field_declarations() {
        let f = parse_field("field:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;").unwrap();
        assert_eq!(
            (f.type_name.as_str(), f.name.as_str()),
            ("char", "prev_comm")
        );
        assert_eq!(f.array_len, Some(16));
        let f = parse_field("field:__data_loc char[] bpf_string;\toffset:8;\tsize:4;\tsigned:0;")
            .unwrap();
        assert_eq!(f.location, DynamicLocation::DataLoc);
        assert_eq!(
            (f.type_name.as_str(), f.name.as_str()),
            ("char[]", "bpf_string")
        );
        assert_eq!(f.array_len, None);
        let f = parse_field("field:unsigned long args[];\toffset:16;\tsize:0;\tsigned:0;").unwrap();
        assert_eq!(f.array_len, Some(0));
        let f = parse_field("field:const void *const rule_attr;\toffset:16;\tsize:8;\tsigned:0;")
            .unwrap();
        assert_eq!(
            (f.type_name.as_str(), f.name.as_str()),
            ("const void *const", "rule_attr")
        );
        let f =
            parse_field("field:struct iocb * * iocbpp;\toffset:16;\tsize:8;\tsigned:0;").unwrap();
        assert_eq!(
            (f.type_name.as_str(), f.name.as_str()),
            ("struct iocb * *", "iocbpp")
        );
    }

    #[test]
    fn bad_formats_name_the_line() {
        let e = TracepointFormat::parse(
            "name: x\nID: 1\nformat:\n\tfield:int a;\toffset:zz;\tsize:4;\n",
            Path::new("/t/format"),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "/t/format:4: `offset` is not a number: `zz`");
        let e = TracepointFormat::parse("name: x\n", Path::new("f")).unwrap_err();
        assert!(e.to_string().contains("no `ID:` line"), "{e}");
        let e =
            TracepointFormat::parse("name: x\nID: 1\n\tfield:int a;\tsize:4;\n", Path::new("f"))
                .unwrap_err();
        assert!(e.to_string().contains("has no offset"), "{e}");
    }
}
