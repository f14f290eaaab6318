//! Which system calls a kernel function belongs to, so that a probe on it can fall back to
//! the `syscalls:sys_enter_*` / `sys_exit_*` tracepoints when kprobes or fentry are not
//! available.
//!
//! Two kinds of knowledge are used:
//!
//! 1. **Entry wrappers** follow naming rules. `SYSCALL_DEFINEn(name, ...)` generates
//!    `sys_name` (generic), `__se_sys_name` and `__do_sys_name`; architectures with syscall
//!    wrappers add `__x64_sys_name`, `__ia32_sys_name`, `__arm64_sys_name`,
//!    `__riscv_sys_name`, `__s390x_sys_name`, `__powerpc_sys_name`, ... (and `compat_`
//!    variants for 32-bit tasks). Helpers shared by a syscall and in-kernel callers are
//!    `ksys_name` (fs, mm) and `__sys_name` (net/socket.c). All of these run for exactly
//!    the syscall `name`, so its tracepoint fires at the same moment.
//! 2. **Implementation functions** that several syscalls share are listed in a table
//!    ([`IMPLEMENTATIONS`]) with the syscalls that reach them, from the kernel source
//!    (fs/namei.c, fs/open.c, fs/exec.c, kernel/fork.c, ...). The tracepoints of those
//!    syscalls fire when the function would, *but* the function may also be reached from
//!    other kernel paths (io_uring, kernel threads, other syscalls' internals), which the
//!    tracepoints do not see; [`SyscallMatch::rule`] says which kind of match it is.
//!
//! GCC clones (`do_sys_openat2.isra.0`, `.constprop.0`, `.part.0`, `.cold`) are matched by
//! their base name. Syscalls an architecture does not have (`open`, `creat`, `unlink` on
//! arm64) are listed anyway; the planner keeps the tracepoints that exist.

/// How a function was matched to its syscalls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchRule {
    /// The function is the syscall's entry (or a wrapper around it) by the kernel's naming
    /// rules; `prefix` is the prefix that was recognised (`__x64_sys_`, `ksys_`, ...).
    /// The tracepoint is an exact replacement (arguments aside).
    EntryWrapper {
        /// The recognised prefix.
        prefix: &'static str,
    },
    /// The function implements these syscalls (from [`IMPLEMENTATIONS`]); the tracepoints
    /// fire for every such syscall, but the function may also run on other paths.
    Implementation {
        /// What else reaches the function, in plain words (may be empty).
        note: &'static str,
    },
}

/// The syscalls a kernel function belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyscallMatch {
    /// The function as given.
    pub function: String,
    /// Syscall names (tracepoint suffixes: `openat` for `sys_enter_openat`), most specific
    /// first.
    pub syscalls: Vec<&'static str>,
    /// How it was matched.
    pub rule: MatchRule,
}

impl SyscallMatch {
    /// Plain words: `do_sys_openat2 implements openat, openat2, open and creat`.
    pub fn describe(&self) -> String {
        match self.rule {
            MatchRule::EntryWrapper { prefix } => format!(
                "{} is the entry of the {} syscall ({prefix}* wrapper)",
                self.function,
                self.syscalls.first().copied().unwrap_or("?")
            ),
            MatchRule::Implementation { note } => {
                let mut s = format!(
                    "{} implements {}",
                    self.function,
                    join_and(
                        &self
                            .syscalls
                            .iter()
                            .map(|s| s.to_string())
                            .collect::<Vec<_>>()
                    )
                );
                if !note.is_empty() {
                    s.push_str(" (");
                    s.push_str(note);
                    s.push(')');
                }
                s
            }
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
pub(crate) fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [a] => a.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Kernel functions that implement several syscalls (or one syscall under another name),
/// with those syscalls and what else reaches them. Sources: the Linux 6.x tree; the
/// older names (`_do_fork`, `do_execve`, `__close_fd`) are kept for older kernels.
pub const IMPLEMENTATIONS: &[(&str, &[&str], &str)] = &[
    // fs/open.c
    (
        "do_sys_openat2",
        &["openat", "openat2", "open", "creat"],
        "",
    ),
    ("do_sys_open", &["openat", "open", "creat"], ""),
    (
        "do_filp_open",
        &["openat", "openat2", "open", "creat"],
        "also reached by exec and in-kernel file opens",
    ),
    ("do_faccessat", &["faccessat", "faccessat2", "access"], ""),
    ("do_fchmodat", &["fchmodat", "fchmodat2", "chmod"], ""),
    ("do_fchownat", &["fchownat", "chown", "lchown"], ""),
    (
        "chmod_common",
        &["chmod", "fchmod", "fchmodat", "fchmodat2"],
        "",
    ),
    (
        "chown_common",
        &["chown", "fchown", "lchown", "fchownat"],
        "",
    ),
    ("do_sys_truncate", &["truncate"], ""),
    ("do_sys_ftruncate", &["ftruncate"], ""),
    (
        "vfs_truncate",
        &["truncate"],
        "also reached by in-kernel callers",
    ),
    ("ksys_fallocate", &["fallocate"], ""),
    (
        "vfs_fallocate",
        &["fallocate"],
        "also reached by io_uring and in-kernel callers",
    ),
    ("file_close_fd", &["close"], ""),
    ("close_fd", &["close"], ""),
    ("__close_fd", &["close"], ""),
    (
        "filp_close",
        &["close", "dup2", "dup3", "close_range"],
        "also reached by process exit",
    ),
    ("__close_range", &["close_range"], ""),
    ("do_dup2", &["dup2", "dup3"], ""),
    ("ksys_dup3", &["dup3", "dup2"], ""),
    // fs/namei.c
    ("do_unlinkat", &["unlinkat", "unlink"], ""),
    (
        "do_rmdir",
        &["rmdir", "unlinkat"],
        "unlinkat with AT_REMOVEDIR",
    ),
    ("do_mkdirat", &["mkdirat", "mkdir"], ""),
    ("do_mknodat", &["mknodat", "mknod"], ""),
    ("do_symlinkat", &["symlinkat", "symlink"], ""),
    ("do_linkat", &["linkat", "link"], ""),
    ("do_renameat2", &["renameat2", "renameat", "rename"], ""),
    (
        "vfs_unlink",
        &["unlinkat", "unlink"],
        "also reached by in-kernel callers",
    ),
    (
        "vfs_rmdir",
        &["rmdir", "unlinkat"],
        "also reached by in-kernel callers",
    ),
    (
        "vfs_mkdir",
        &["mkdirat", "mkdir"],
        "also reached by in-kernel callers",
    ),
    (
        "vfs_rename",
        &["renameat2", "renameat", "rename"],
        "also reached by in-kernel callers",
    ),
    ("vfs_symlink", &["symlinkat", "symlink"], ""),
    ("vfs_link", &["linkat", "link"], ""),
    ("do_readlinkat", &["readlinkat", "readlink"], ""),
    // fs/stat.c
    (
        "vfs_statx",
        &[
            "newfstatat",
            "statx",
            "stat",
            "lstat",
            "fstatat64",
            "stat64",
            "lstat64",
        ],
        "",
    ),
    ("do_statx", &["statx"], ""),
    ("vfs_fstat", &["fstat", "newfstat", "fstat64"], ""),
    (
        "vfs_fstatat",
        &["newfstatat", "fstatat64", "stat", "lstat"],
        "",
    ),
    // fs/read_write.c
    ("ksys_read", &["read"], ""),
    ("ksys_write", &["write"], ""),
    ("ksys_pread64", &["pread64"], ""),
    ("ksys_pwrite64", &["pwrite64"], ""),
    ("ksys_lseek", &["lseek"], ""),
    (
        "vfs_read",
        &["read", "pread64", "readv", "preadv", "preadv2"],
        "also reached by in-kernel reads and splice",
    ),
    (
        "vfs_write",
        &["write", "pwrite64", "writev", "pwritev", "pwritev2"],
        "also reached by in-kernel writes and splice",
    ),
    ("do_readv", &["readv"], ""),
    ("do_writev", &["writev"], ""),
    ("do_preadv", &["preadv", "preadv2"], ""),
    ("do_pwritev", &["pwritev", "pwritev2"], ""),
    ("do_sendfile", &["sendfile64", "sendfile"], ""),
    ("do_splice", &["splice"], "also reached by io_uring"),
    ("do_tee", &["tee"], ""),
    ("do_vmsplice", &["vmsplice"], ""),
    ("vfs_copy_file_range", &["copy_file_range"], ""),
    // fs/ioctl.c, fs/fcntl.c, fs/sync.c, fs/pipe.c
    ("do_vfs_ioctl", &["ioctl"], ""),
    ("vfs_ioctl", &["ioctl"], "also reached by in-kernel callers"),
    ("do_fcntl", &["fcntl"], ""),
    ("do_fsync", &["fsync", "fdatasync"], ""),
    ("ksys_sync", &["sync"], ""),
    ("ksys_sync_file_range", &["sync_file_range"], ""),
    ("do_pipe2", &["pipe2", "pipe"], ""),
    // fs/select.c, fs/eventpoll.c
    ("do_sys_poll", &["poll", "ppoll"], ""),
    ("core_sys_select", &["select", "pselect6"], ""),
    ("do_select", &["select", "pselect6"], ""),
    (
        "do_epoll_wait",
        &["epoll_wait", "epoll_pwait", "epoll_pwait2"],
        "",
    ),
    ("do_epoll_ctl", &["epoll_ctl"], "also reached by io_uring"),
    ("do_epoll_create", &["epoll_create", "epoll_create1"], ""),
    // fs/namespace.c, fs/d_path.c, fs/open.c
    ("path_mount", &["mount"], ""),
    ("do_mount", &["mount"], ""),
    ("path_umount", &["umount", "umount2"], ""),
    ("ksys_umount", &["umount", "umount2"], ""),
    (
        "do_utimes",
        &["utimensat", "utimes", "utime", "futimesat"],
        "",
    ),
    // fs/exec.c
    ("do_execveat_common", &["execve", "execveat"], ""),
    ("do_execve", &["execve"], ""),
    ("do_execveat", &["execveat"], ""),
    (
        "bprm_execve",
        &["execve", "execveat"],
        "also reached by kernel usermode helpers",
    ),
    (
        "do_open_execat",
        &["execve", "execveat"],
        "also reached by uselib",
    ),
    // kernel/fork.c, kernel/exit.c
    (
        "kernel_clone",
        &["clone", "clone3", "fork", "vfork"],
        "also reached by kernel thread creation",
    ),
    (
        "_do_fork",
        &["clone", "fork", "vfork"],
        "also reached by kernel thread creation",
    ),
    (
        "copy_process",
        &["clone", "clone3", "fork", "vfork"],
        "also reached by kernel thread creation",
    ),
    (
        "do_exit",
        &["exit", "exit_group"],
        "also reached when a task is killed or crashes",
    ),
    (
        "do_group_exit",
        &["exit_group"],
        "also reached by fatal signals",
    ),
    ("kernel_wait4", &["wait4", "waitpid"], ""),
    ("kernel_waitid", &["waitid"], ""),
    ("do_wait", &["wait4", "waitid", "waitpid"], ""),
    ("ksys_unshare", &["unshare"], ""),
    // kernel/signal.c
    ("kill_something_info", &["kill"], ""),
    ("do_tkill", &["tgkill", "tkill"], ""),
    ("do_sigaction", &["rt_sigaction", "sigaction"], ""),
    ("do_rt_sigqueueinfo", &["rt_sigqueueinfo"], ""),
    ("do_sigtimedwait", &["rt_sigtimedwait"], ""),
    // kernel/time, kernel/futex, kernel/sched, kernel/sys.c
    ("hrtimer_nanosleep", &["nanosleep", "clock_nanosleep"], ""),
    ("do_nanosleep", &["nanosleep", "clock_nanosleep"], ""),
    ("do_setitimer", &["setitimer", "alarm"], ""),
    ("do_futex", &["futex"], ""),
    (
        "do_sched_setscheduler",
        &["sched_setscheduler", "sched_setparam"],
        "",
    ),
    ("do_prlimit", &["prlimit64", "setrlimit", "getrlimit"], ""),
    ("do_sys_settimeofday64", &["settimeofday"], ""),
    // mm/
    ("ksys_mmap_pgoff", &["mmap", "mmap_pgoff", "mmap2"], ""),
    (
        "vm_mmap_pgoff",
        &["mmap", "mmap_pgoff", "mmap2"],
        "also reached by shmat and in-kernel mappings",
    ),
    (
        "do_mmap",
        &["mmap", "mmap2"],
        "also reached by exec, shmat and in-kernel mappings",
    ),
    ("__vm_munmap", &["munmap"], ""),
    ("do_mprotect_pkey", &["mprotect", "pkey_mprotect"], ""),
    ("do_brk_flags", &["brk"], "also reached by exec"),
    ("do_madvise", &["madvise", "process_madvise"], ""),
    ("ksys_readahead", &["readahead"], ""),
    // net/socket.c
    ("__sys_accept4", &["accept4", "accept"], ""),
    (
        "do_accept",
        &["accept4", "accept"],
        "also reached by io_uring",
    ),
    ("__sys_sendto", &["sendto", "send"], ""),
    ("__sys_recvfrom", &["recvfrom", "recv"], ""),
    ("__sys_sendmsg", &["sendmsg"], ""),
    ("__sys_recvmsg", &["recvmsg"], ""),
    ("__sys_sendmmsg", &["sendmmsg"], ""),
    ("__sys_recvmmsg", &["recvmmsg"], ""),
    (
        "do_sock_setsockopt",
        &["setsockopt"],
        "also reached by io_uring",
    ),
    (
        "do_sock_getsockopt",
        &["getsockopt"],
        "also reached by io_uring",
    ),
    (
        "__sys_connect_file",
        &["connect"],
        "also reached by io_uring",
    ),
    ("__sys_bind", &["bind"], ""),
    ("__sys_listen", &["listen"], ""),
    ("__sys_socket", &["socket"], ""),
    ("__sys_socketpair", &["socketpair"], ""),
    ("__sys_shutdown", &["shutdown"], ""),
    ("__sys_getsockname", &["getsockname"], ""),
    ("__sys_getpeername", &["getpeername"], ""),
    // kernel/bpf, kernel/ptrace.c
    ("__sys_bpf", &["bpf"], ""),
    ("ptrace_attach", &["ptrace"], ""),
];

/// Prefixes of syscall entry wrappers and helpers that map 1:1 to the syscall named by
/// the rest of the symbol. Longest first (`__x64_compat_sys_` before `__x64_sys_`, ...).
pub const WRAPPER_PREFIXES: &[&str] = &[
    "__ia32_compat_sys_",
    "__x32_compat_sys_",
    "__arm64_compat_sys_",
    "__riscv_compat_sys_",
    "__s390_compat_sys_",
    "__powerpc_compat_sys_",
    "__se_compat_sys_",
    "__do_compat_sys_",
    "__x64_sys_",
    "__ia32_sys_",
    "__arm64_sys_",
    "__riscv_sys_",
    "__s390x_sys_",
    "__s390_sys_",
    "__powerpc_sys_",
    "__loongarch_sys_",
    "__se_sys_",
    "__do_sys_",
    "compat_sys_",
    "ksys_",
    "__sys_",
    "sys_",
];

/// Strips a GCC clone suffix: `do_sys_openat2.isra.0` → `do_sys_openat2`.
pub fn base_name(function: &str) -> &str {
    function.split('.').next().unwrap_or(function)
}

/// The syscalls `function` belongs to, or `None` when it is not a known syscall function.
///
/// The table of implementations wins over the prefix rules (so that `ksys_dup3` also
/// covers `dup2`). A name matched by a prefix rule only is returned even if no such
/// syscall exists; the caller checks the tracepoint.
pub fn syscalls_for(function: &str) -> Option<SyscallMatch> {
    let base = base_name(function);
    if let Some((_, syscalls, note)) = IMPLEMENTATIONS.iter().find(|(f, _, _)| *f == base) {
        return Some(SyscallMatch {
            function: function.to_string(),
            syscalls: syscalls.to_vec(),
            rule: MatchRule::Implementation { note },
        });
    }
    for prefix in WRAPPER_PREFIXES {
        if let Some(rest) = base.strip_prefix(prefix) {
            if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                continue;
            }
            // A static string for the syscall name: look it up among the known names so
            // that the result borrows nothing from `function`.
            let name = known_syscall(rest)?;
            return Some(SyscallMatch {
                function: function.to_string(),
                syscalls: vec![name],
                rule: MatchRule::EntryWrapper { prefix },
            });
        }
    }
    None
}

/// The syscall names oxbpf knows (every Linux syscall of x86_64, arm64 and their 32-bit
/// compat tables that has a tracepoint), as `'static` strings.
fn known_syscall(name: &str) -> Option<&'static str> {
    SYSCALL_NAMES.iter().copied().find(|s| *s == name)
}

/// Syscall names with `syscalls:sys_enter_*` tracepoints on x86_64 and arm64 (the union).
pub const SYSCALL_NAMES: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "acct",
    "add_key",
    "adjtimex",
    "alarm",
    "arch_prctl",
    "bind",
    "bpf",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chroot",
    "clock_adjtime",
    "clock_getres",
    "clock_gettime",
    "clock_nanosleep",
    "clock_settime",
    "clone",
    "clone3",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "delete_module",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_init",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchownat",
    "fcntl",
    "fdatasync",
    "fgetxattr",
    "file_getattr",
    "file_setattr",
    "finit_module",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsconfig",
    "fsetxattr",
    "fsmount",
    "fsopen",
    "fspick",
    "fstat",
    "fstatfs",
    "fsync",
    "ftruncate",
    "futex",
    "futex_requeue",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "get_mempolicy",
    "get_robust_list",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "geteuid",
    "getgid",
    "getgroups",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresuid",
    "getrlimit",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "gettid",
    "gettimeofday",
    "getuid",
    "getxattr",
    "getxattrat",
    "init_module",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_setup",
    "io_submit",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ioctl",
    "ioperm",
    "iopl",
    "ioprio_get",
    "ioprio_set",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listmount",
    "listxattr",
    "listxattrat",
    "llistxattr",
    "lookup_dcookie",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lsm_get_self_attr",
    "lsm_list_modules",
    "lsm_set_self_attr",
    "lstat",
    "madvise",
    "map_shadow_stack",
    "mbind",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "migrate_pages",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap_pgoff",
    "mmap2",
    "modify_ldt",
    "mount",
    "mount_setattr",
    "move_mount",
    "move_pages",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedsend",
    "mq_unlink",
    "mremap",
    "mseal",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstat",
    "newfstatat",
    "newlstat",
    "newstat",
    "newuname",
    "open",
    "open_by_handle_at",
    "open_tree",
    "open_tree_attr",
    "openat",
    "openat2",
    "pause",
    "perf_event_open",
    "personality",
    "pidfd_getfd",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pivot_root",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_madvise",
    "process_mrelease",
    "process_vm_readv",
    "process_vm_writev",
    "pselect6",
    "ptrace",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "quotactl",
    "quotactl_fd",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "reboot",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "removexattrat",
    "rename",
    "renameat",
    "renameat2",
    "request_key",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_tgsigqueueinfo",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "set_mempolicy",
    "set_mempolicy_home_node",
    "set_robust_list",
    "set_tid_address",
    "setdomainname",
    "setfsgid",
    "setfsuid",
    "setgid",
    "setgroups",
    "sethostname",
    "setitimer",
    "setns",
    "setpgid",
    "setpriority",
    "setregid",
    "setresgid",
    "setresuid",
    "setreuid",
    "setrlimit",
    "setsid",
    "setsockopt",
    "settimeofday",
    "setuid",
    "setxattr",
    "setxattrat",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaction",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "socket",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statmount",
    "statx",
    "swapoff",
    "swapon",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysfs",
    "sysinfo",
    "syslog",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_settime",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_settime",
    "times",
    "tkill",
    "truncate",
    "umask",
    "umount",
    "umount2",
    "uname",
    "unlink",
    "unlinkat",
    "unshare",
    "uretprobe",
    "userfaultfd",
    "ustat",
    "utime",
    "utimensat",
    "utimes",
    "vfork",
    "vhangup",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
    "fstatat64",
    "lstat64",
    "fstat64",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn names(f: &str) -> Vec<&'static str> {
        syscalls_for(f).map(|m| m.syscalls).unwrap_or_default()
    }

    #[test]
    fn wrappers_across_architectures() {
        for f in [
            "__x64_sys_openat",
            "__ia32_sys_openat",
            "__arm64_sys_openat",
            "__riscv_sys_openat",
            "__s390x_sys_openat",
            "__se_sys_openat",
            "__do_sys_openat",
            "sys_openat",
            "__ia32_compat_sys_openat",
            "__arm64_compat_sys_openat",
            "compat_sys_openat",
        ] {
            let m = syscalls_for(f).unwrap_or_else(|| panic!("{f}"));
            assert_eq!(m.syscalls, ["openat"], "{f}");
            assert!(matches!(m.rule, MatchRule::EntryWrapper { .. }), "{f}");
        }
        assert_eq!(names("ksys_lseek"), ["lseek"]);
        assert_eq!(names("__sys_connect"), ["connect"]);
        assert_eq!(names("__x64_sys_newfstatat"), ["newfstatat"]);
        assert_eq!(names("__x64_sys_sendfile64"), ["sendfile64"]);
        let m = syscalls_for("__x64_sys_execve").unwrap();
        assert_eq!(
            m.rule,
            MatchRule::EntryWrapper {
                prefix: "__x64_sys_"
            }
        );
        assert_eq!(
            m.describe(),
            "__x64_sys_execve is the entry of the execve syscall (__x64_sys_* wrapper)"
        );
    }

    #[test]
    fn implementation_table() {
        assert_eq!(
            names("do_sys_openat2"),
            ["openat", "openat2", "open", "creat"]
        );
        assert_eq!(names("do_sys_openat2.isra.0"), names("do_sys_openat2"));
        assert_eq!(names("do_execveat_common"), ["execve", "execveat"]);
        assert_eq!(names("do_unlinkat"), ["unlinkat", "unlink"]);
        assert_eq!(names("do_renameat2"), ["renameat2", "renameat", "rename"]);
        assert_eq!(names("kernel_clone"), ["clone", "clone3", "fork", "vfork"]);
        assert_eq!(names("__sys_accept4"), ["accept4", "accept"]);
        // The table wins over the prefix rule.
        assert_eq!(names("ksys_dup3"), ["dup3", "dup2"]);
        assert_eq!(
            syscalls_for("do_sys_openat2").unwrap().describe(),
            "do_sys_openat2 implements openat, openat2, open and creat"
        );
        assert_eq!(
            syscalls_for("vfs_read").unwrap().describe(),
            "vfs_read implements read, pread64, readv, preadv and preadv2 (also reached by in-kernel reads and splice)"
        );
    }

    #[test]
    fn non_syscall_functions_do_not_match() {
        for f in [
            "tcp_sendmsg",
            "schedule",
            "__x64_sys_",
            "__x64_sys_not_a_syscall",
            "sys_",
            "sysctl_foo",
            "do_page_fault",
        ] {
            assert_eq!(syscalls_for(f), None, "{f}");
        }
    }

    #[test]
    fn table_is_consistent() {
        let mut seen = std::collections::HashSet::new();
        for (f, syscalls, _) in IMPLEMENTATIONS {
            assert!(seen.insert(*f), "{f} listed twice");
            assert!(!syscalls.is_empty(), "{f}");
            for s in *syscalls {
                assert!(SYSCALL_NAMES.contains(s), "{f}: unknown syscall {s}");
            }
        }
        for (i, p) in WRAPPER_PREFIXES.iter().enumerate() {
            // A prefix that extends an earlier one would never be tried.
            for q in &WRAPPER_PREFIXES[i + 1..] {
                assert!(!q.starts_with(p), "{q} after {p}");
            }
        }
    }
}
