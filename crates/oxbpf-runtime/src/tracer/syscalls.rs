//! The x86-64 system call table (numbers from the kernel's
//! `arch/x86/entry/syscalls/syscall_64.tbl`, the 64-bit ABI only; x32 calls have bit 30
//! set and are not listed).
//!
//! Each entry also names its tracepoint: the `syscalls/sys_enter_NAME` and
//! `syscalls/sys_exit_NAME` events are named after the kernel's `SYSCALL_DEFINE`, which
//! differs from the table name for a few calls (`stat` is `newstat`, `uname` is
//! `newuname`, `sendfile` is `sendfile64`, `umount2` is `umount`); numbers the kernel
//! does not implement (`sys_ni_syscall`) have no tracepoint. `nargs` is the number of
//! arguments, which is the number of `args` fields of the `sys_enter` record.

/// One system call of the x86-64 64-bit ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syscall {
    /// The number (`orig_rax`).
    pub nr: u32,
    /// The table name (what `libc::SYS_*` and man pages call it).
    pub name: &'static str,
    /// The tracepoint name after `sys_enter_` / `sys_exit_`, if the kernel has one.
    pub tracepoint: Option<&'static str>,
    /// Number of arguments.
    pub nargs: u8,
}

/// One past the highest number in [`SYSCALLS`]; numbers below it fit the tracer's bitsets.
pub const MAX_NR: u32 = 512;

/// Every system call, by number.
pub const SYSCALLS: &[Syscall] = &[
    Syscall {
        nr: 0,
        name: "read",
        tracepoint: Some("read"),
        nargs: 3,
    },
    Syscall {
        nr: 1,
        name: "write",
        tracepoint: Some("write"),
        nargs: 3,
    },
    Syscall {
        nr: 2,
        name: "open",
        tracepoint: Some("open"),
        nargs: 3,
    },
    Syscall {
        nr: 3,
        name: "close",
        tracepoint: Some("close"),
        nargs: 1,
    },
    Syscall {
        nr: 4,
        name: "stat",
        tracepoint: Some("newstat"),
        nargs: 2,
    },
    Syscall {
        nr: 5,
        name: "fstat",
        tracepoint: Some("newfstat"),
        nargs: 2,
    },
    Syscall {
        nr: 6,
        name: "lstat",
        tracepoint: Some("newlstat"),
        nargs: 2,
    },
    Syscall {
        nr: 7,
        name: "poll",
        tracepoint: Some("poll"),
        nargs: 3,
    },
    Syscall {
        nr: 8,
        name: "lseek",
        tracepoint: Some("lseek"),
        nargs: 3,
    },
    Syscall {
        nr: 9,
        name: "mmap",
        tracepoint: Some("mmap"),
        nargs: 6,
    },
    Syscall {
        nr: 10,
        name: "mprotect",
        tracepoint: Some("mprotect"),
        nargs: 3,
    },
    Syscall {
        nr: 11,
        name: "munmap",
        tracepoint: Some("munmap"),
        nargs: 2,
    },
    Syscall {
        nr: 12,
        name: "brk",
        tracepoint: Some("brk"),
        nargs: 1,
    },
    Syscall {
        nr: 13,
        name: "rt_sigaction",
        tracepoint: Some("rt_sigaction"),
        nargs: 4,
    },
    Syscall {
        nr: 14,
        name: "rt_sigprocmask",
        tracepoint: Some("rt_sigprocmask"),
        nargs: 4,
    },
    Syscall {
        nr: 15,
        name: "rt_sigreturn",
        tracepoint: Some("rt_sigreturn"),
        nargs: 0,
    },
    Syscall {
        nr: 16,
        name: "ioctl",
        tracepoint: Some("ioctl"),
        nargs: 3,
    },
    Syscall {
        nr: 17,
        name: "pread64",
        tracepoint: Some("pread64"),
        nargs: 4,
    },
    Syscall {
        nr: 18,
        name: "pwrite64",
        tracepoint: Some("pwrite64"),
        nargs: 4,
    },
    Syscall {
        nr: 19,
        name: "readv",
        tracepoint: Some("readv"),
        nargs: 3,
    },
    Syscall {
        nr: 20,
        name: "writev",
        tracepoint: Some("writev"),
        nargs: 3,
    },
    Syscall {
        nr: 21,
        name: "access",
        tracepoint: Some("access"),
        nargs: 2,
    },
    Syscall {
        nr: 22,
        name: "pipe",
        tracepoint: Some("pipe"),
        nargs: 1,
    },
    Syscall {
        nr: 23,
        name: "select",
        tracepoint: Some("select"),
        nargs: 5,
    },
    Syscall {
        nr: 24,
        name: "sched_yield",
        tracepoint: Some("sched_yield"),
        nargs: 0,
    },
    Syscall {
        nr: 25,
        name: "mremap",
        tracepoint: Some("mremap"),
        nargs: 5,
    },
    Syscall {
        nr: 26,
        name: "msync",
        tracepoint: Some("msync"),
        nargs: 3,
    },
    Syscall {
        nr: 27,
        name: "mincore",
        tracepoint: Some("mincore"),
        nargs: 3,
    },
    Syscall {
        nr: 28,
        name: "madvise",
        tracepoint: Some("madvise"),
        nargs: 3,
    },
    Syscall {
        nr: 29,
        name: "shmget",
        tracepoint: Some("shmget"),
        nargs: 3,
    },
    Syscall {
        nr: 30,
        name: "shmat",
        tracepoint: Some("shmat"),
        nargs: 3,
    },
    Syscall {
        nr: 31,
        name: "shmctl",
        tracepoint: Some("shmctl"),
        nargs: 3,
    },
    Syscall {
        nr: 32,
        name: "dup",
        tracepoint: Some("dup"),
        nargs: 1,
    },
    Syscall {
        nr: 33,
        name: "dup2",
        tracepoint: Some("dup2"),
        nargs: 2,
    },
    Syscall {
        nr: 34,
        name: "pause",
        tracepoint: Some("pause"),
        nargs: 0,
    },
    Syscall {
        nr: 35,
        name: "nanosleep",
        tracepoint: Some("nanosleep"),
        nargs: 2,
    },
    Syscall {
        nr: 36,
        name: "getitimer",
        tracepoint: Some("getitimer"),
        nargs: 2,
    },
    Syscall {
        nr: 37,
        name: "alarm",
        tracepoint: Some("alarm"),
        nargs: 1,
    },
    Syscall {
        nr: 38,
        name: "setitimer",
        tracepoint: Some("setitimer"),
        nargs: 3,
    },
    Syscall {
        nr: 39,
        name: "getpid",
        tracepoint: Some("getpid"),
        nargs: 0,
    },
    Syscall {
        nr: 40,
        name: "sendfile",
        tracepoint: Some("sendfile64"),
        nargs: 4,
    },
    Syscall {
        nr: 41,
        name: "socket",
        tracepoint: Some("socket"),
        nargs: 3,
    },
    Syscall {
        nr: 42,
        name: "connect",
        tracepoint: Some("connect"),
        nargs: 3,
    },
    Syscall {
        nr: 43,
        name: "accept",
        tracepoint: Some("accept"),
        nargs: 3,
    },
    Syscall {
        nr: 44,
        name: "sendto",
        tracepoint: Some("sendto"),
        nargs: 6,
    },
    Syscall {
        nr: 45,
        name: "recvfrom",
        tracepoint: Some("recvfrom"),
        nargs: 6,
    },
    Syscall {
        nr: 46,
        name: "sendmsg",
        tracepoint: Some("sendmsg"),
        nargs: 3,
    },
    Syscall {
        nr: 47,
        name: "recvmsg",
        tracepoint: Some("recvmsg"),
        nargs: 3,
    },
    Syscall {
        nr: 48,
        name: "shutdown",
        tracepoint: Some("shutdown"),
        nargs: 2,
    },
    Syscall {
        nr: 49,
        name: "bind",
        tracepoint: Some("bind"),
        nargs: 3,
    },
    Syscall {
        nr: 50,
        name: "listen",
        tracepoint: Some("listen"),
        nargs: 2,
    },
    Syscall {
        nr: 51,
        name: "getsockname",
        tracepoint: Some("getsockname"),
        nargs: 3,
    },
    Syscall {
        nr: 52,
        name: "getpeername",
        tracepoint: Some("getpeername"),
        nargs: 3,
    },
    Syscall {
        nr: 53,
        name: "socketpair",
        tracepoint: Some("socketpair"),
        nargs: 4,
    },
    Syscall {
        nr: 54,
        name: "setsockopt",
        tracepoint: Some("setsockopt"),
        nargs: 5,
    },
    Syscall {
        nr: 55,
        name: "getsockopt",
        tracepoint: Some("getsockopt"),
        nargs: 5,
    },
    Syscall {
        nr: 56,
        name: "clone",
        tracepoint: Some("clone"),
        nargs: 5,
    },
    Syscall {
        nr: 57,
        name: "fork",
        tracepoint: Some("fork"),
        nargs: 0,
    },
    Syscall {
        nr: 58,
        name: "vfork",
        tracepoint: Some("vfork"),
        nargs: 0,
    },
    Syscall {
        nr: 59,
        name: "execve",
        tracepoint: Some("execve"),
        nargs: 3,
    },
    Syscall {
        nr: 60,
        name: "exit",
        tracepoint: Some("exit"),
        nargs: 1,
    },
    Syscall {
        nr: 61,
        name: "wait4",
        tracepoint: Some("wait4"),
        nargs: 4,
    },
    Syscall {
        nr: 62,
        name: "kill",
        tracepoint: Some("kill"),
        nargs: 2,
    },
    Syscall {
        nr: 63,
        name: "uname",
        tracepoint: Some("newuname"),
        nargs: 1,
    },
    Syscall {
        nr: 64,
        name: "semget",
        tracepoint: Some("semget"),
        nargs: 3,
    },
    Syscall {
        nr: 65,
        name: "semop",
        tracepoint: Some("semop"),
        nargs: 3,
    },
    Syscall {
        nr: 66,
        name: "semctl",
        tracepoint: Some("semctl"),
        nargs: 4,
    },
    Syscall {
        nr: 67,
        name: "shmdt",
        tracepoint: Some("shmdt"),
        nargs: 1,
    },
    Syscall {
        nr: 68,
        name: "msgget",
        tracepoint: Some("msgget"),
        nargs: 2,
    },
    Syscall {
        nr: 69,
        name: "msgsnd",
        tracepoint: Some("msgsnd"),
        nargs: 4,
    },
    Syscall {
        nr: 70,
        name: "msgrcv",
        tracepoint: Some("msgrcv"),
        nargs: 5,
    },
    Syscall {
        nr: 71,
        name: "msgctl",
        tracepoint: Some("msgctl"),
        nargs: 3,
    },
    Syscall {
        nr: 72,
        name: "fcntl",
        tracepoint: Some("fcntl"),
        nargs: 3,
    },
    Syscall {
        nr: 73,
        name: "flock",
        tracepoint: Some("flock"),
        nargs: 2,
    },
    Syscall {
        nr: 74,
        name: "fsync",
        tracepoint: Some("fsync"),
        nargs: 1,
    },
    Syscall {
        nr: 75,
        name: "fdatasync",
        tracepoint: Some("fdatasync"),
        nargs: 1,
    },
    Syscall {
        nr: 76,
        name: "truncate",
        tracepoint: Some("truncate"),
        nargs: 2,
    },
    Syscall {
        nr: 77,
        name: "ftruncate",
        tracepoint: Some("ftruncate"),
        nargs: 2,
    },
    Syscall {
        nr: 78,
        name: "getdents",
        tracepoint: Some("getdents"),
        nargs: 3,
    },
    Syscall {
        nr: 79,
        name: "getcwd",
        tracepoint: Some("getcwd"),
        nargs: 2,
    },
    Syscall {
        nr: 80,
        name: "chdir",
        tracepoint: Some("chdir"),
        nargs: 1,
    },
    Syscall {
        nr: 81,
        name: "fchdir",
        tracepoint: Some("fchdir"),
        nargs: 1,
    },
    Syscall {
        nr: 82,
        name: "rename",
        tracepoint: Some("rename"),
        nargs: 2,
    },
    Syscall {
        nr: 83,
        name: "mkdir",
        tracepoint: Some("mkdir"),
        nargs: 2,
    },
    Syscall {
        nr: 84,
        name: "rmdir",
        tracepoint: Some("rmdir"),
        nargs: 1,
    },
    Syscall {
        nr: 85,
        name: "creat",
        tracepoint: Some("creat"),
        nargs: 2,
    },
    Syscall {
        nr: 86,
        name: "link",
        tracepoint: Some("link"),
        nargs: 2,
    },
    Syscall {
        nr: 87,
        name: "unlink",
        tracepoint: Some("unlink"),
        nargs: 1,
    },
    Syscall {
        nr: 88,
        name: "symlink",
        tracepoint: Some("symlink"),
        nargs: 2,
    },
    Syscall {
        nr: 89,
        name: "readlink",
        tracepoint: Some("readlink"),
        nargs: 3,
    },
    Syscall {
        nr: 90,
        name: "chmod",
        tracepoint: Some("chmod"),
        nargs: 2,
    },
    Syscall {
        nr: 91,
        name: "fchmod",
        tracepoint: Some("fchmod"),
        nargs: 2,
    },
    Syscall {
        nr: 92,
        name: "chown",
        tracepoint: Some("chown"),
        nargs: 3,
    },
    Syscall {
        nr: 93,
        name: "fchown",
        tracepoint: Some("fchown"),
        nargs: 3,
    },
    Syscall {
        nr: 94,
        name: "lchown",
        tracepoint: Some("lchown"),
        nargs: 3,
    },
    Syscall {
        nr: 95,
        name: "umask",
        tracepoint: Some("umask"),
        nargs: 1,
    },
    Syscall {
        nr: 96,
        name: "gettimeofday",
        tracepoint: Some("gettimeofday"),
        nargs: 2,
    },
    Syscall {
        nr: 97,
        name: "getrlimit",
        tracepoint: Some("getrlimit"),
        nargs: 2,
    },
    Syscall {
        nr: 98,
        name: "getrusage",
        tracepoint: Some("getrusage"),
        nargs: 2,
    },
    Syscall {
        nr: 99,
        name: "sysinfo",
        tracepoint: Some("sysinfo"),
        nargs: 1,
    },
    Syscall {
        nr: 100,
        name: "times",
        tracepoint: Some("times"),
        nargs: 1,
    },
    Syscall {
        nr: 101,
        name: "ptrace",
        tracepoint: Some("ptrace"),
        nargs: 4,
    },
    Syscall {
        nr: 102,
        name: "getuid",
        tracepoint: Some("getuid"),
        nargs: 0,
    },
    Syscall {
        nr: 103,
        name: "syslog",
        tracepoint: Some("syslog"),
        nargs: 3,
    },
    Syscall {
        nr: 104,
        name: "getgid",
        tracepoint: Some("getgid"),
        nargs: 0,
    },
    Syscall {
        nr: 105,
        name: "setuid",
        tracepoint: Some("setuid"),
        nargs: 1,
    },
    Syscall {
        nr: 106,
        name: "setgid",
        tracepoint: Some("setgid"),
        nargs: 1,
    },
    Syscall {
        nr: 107,
        name: "geteuid",
        tracepoint: Some("geteuid"),
        nargs: 0,
    },
    Syscall {
        nr: 108,
        name: "getegid",
        tracepoint: Some("getegid"),
        nargs: 0,
    },
    Syscall {
        nr: 109,
        name: "setpgid",
        tracepoint: Some("setpgid"),
        nargs: 2,
    },
    Syscall {
        nr: 110,
        name: "getppid",
        tracepoint: Some("getppid"),
        nargs: 0,
    },
    Syscall {
        nr: 111,
        name: "getpgrp",
        tracepoint: Some("getpgrp"),
        nargs: 0,
    },
    Syscall {
        nr: 112,
        name: "setsid",
        tracepoint: Some("setsid"),
        nargs: 0,
    },
    Syscall {
        nr: 113,
        name: "setreuid",
        tracepoint: Some("setreuid"),
        nargs: 2,
    },
    Syscall {
        nr: 114,
        name: "setregid",
        tracepoint: Some("setregid"),
        nargs: 2,
    },
    Syscall {
        nr: 115,
        name: "getgroups",
        tracepoint: Some("getgroups"),
        nargs: 2,
    },
    Syscall {
        nr: 116,
        name: "setgroups",
        tracepoint: Some("setgroups"),
        nargs: 2,
    },
    Syscall {
        nr: 117,
        name: "setresuid",
        tracepoint: Some("setresuid"),
        nargs: 3,
    },
    Syscall {
        nr: 118,
        name: "getresuid",
        tracepoint: Some("getresuid"),
        nargs: 3,
    },
    Syscall {
        nr: 119,
        name: "setresgid",
        tracepoint: Some("setresgid"),
        nargs: 3,
    },
    Syscall {
        nr: 120,
        name: "getresgid",
        tracepoint: Some("getresgid"),
        nargs: 3,
    },
    Syscall {
        nr: 121,
        name: "getpgid",
        tracepoint: Some("getpgid"),
        nargs: 1,
    },
    Syscall {
        nr: 122,
        name: "setfsuid",
        tracepoint: Some("setfsuid"),
        nargs: 1,
    },
    Syscall {
        nr: 123,
        name: "setfsgid",
        tracepoint: Some("setfsgid"),
        nargs: 1,
    },
    Syscall {
        nr: 124,
        name: "getsid",
        tracepoint: Some("getsid"),
        nargs: 1,
    },
    Syscall {
        nr: 125,
        name: "capget",
        tracepoint: Some("capget"),
        nargs: 2,
    },
    Syscall {
        nr: 126,
        name: "capset",
        tracepoint: Some("capset"),
        nargs: 2,
    },
    Syscall {
        nr: 127,
        name: "rt_sigpending",
        tracepoint: Some("rt_sigpending"),
        nargs: 2,
    },
    Syscall {
        nr: 128,
        name: "rt_sigtimedwait",
        tracepoint: Some("rt_sigtimedwait"),
        nargs: 4,
    },
    Syscall {
        nr: 129,
        name: "rt_sigqueueinfo",
        tracepoint: Some("rt_sigqueueinfo"),
        nargs: 3,
    },
    Syscall {
        nr: 130,
        name: "rt_sigsuspend",
        tracepoint: Some("rt_sigsuspend"),
        nargs: 2,
    },
    Syscall {
        nr: 131,
        name: "sigaltstack",
        tracepoint: Some("sigaltstack"),
        nargs: 2,
    },
    Syscall {
        nr: 132,
        name: "utime",
        tracepoint: Some("utime"),
        nargs: 2,
    },
    Syscall {
        nr: 133,
        name: "mknod",
        tracepoint: Some("mknod"),
        nargs: 3,
    },
    Syscall {
        nr: 134,
        name: "uselib",
        tracepoint: Some("uselib"),
        nargs: 1,
    },
    Syscall {
        nr: 135,
        name: "personality",
        tracepoint: Some("personality"),
        nargs: 1,
    },
    Syscall {
        nr: 136,
        name: "ustat",
        tracepoint: Some("ustat"),
        nargs: 2,
    },
    Syscall {
        nr: 137,
        name: "statfs",
        tracepoint: Some("statfs"),
        nargs: 2,
    },
    Syscall {
        nr: 138,
        name: "fstatfs",
        tracepoint: Some("fstatfs"),
        nargs: 2,
    },
    Syscall {
        nr: 139,
        name: "sysfs",
        tracepoint: Some("sysfs"),
        nargs: 3,
    },
    Syscall {
        nr: 140,
        name: "getpriority",
        tracepoint: Some("getpriority"),
        nargs: 2,
    },
    Syscall {
        nr: 141,
        name: "setpriority",
        tracepoint: Some("setpriority"),
        nargs: 3,
    },
    Syscall {
        nr: 142,
        name: "sched_setparam",
        tracepoint: Some("sched_setparam"),
        nargs: 2,
    },
    Syscall {
        nr: 143,
        name: "sched_getparam",
        tracepoint: Some("sched_getparam"),
        nargs: 2,
    },
    Syscall {
        nr: 144,
        name: "sched_setscheduler",
        tracepoint: Some("sched_setscheduler"),
        nargs: 3,
    },
    Syscall {
        nr: 145,
        name: "sched_getscheduler",
        tracepoint: Some("sched_getscheduler"),
        nargs: 1,
    },
    Syscall {
        nr: 146,
        name: "sched_get_priority_max",
        tracepoint: Some("sched_get_priority_max"),
        nargs: 1,
    },
    Syscall {
        nr: 147,
        name: "sched_get_priority_min",
        tracepoint: Some("sched_get_priority_min"),
        nargs: 1,
    },
    Syscall {
        nr: 148,
        name: "sched_rr_get_interval",
        tracepoint: Some("sched_rr_get_interval"),
        nargs: 2,
    },
    Syscall {
        nr: 149,
        name: "mlock",
        tracepoint: Some("mlock"),
        nargs: 2,
    },
    Syscall {
        nr: 150,
        name: "munlock",
        tracepoint: Some("munlock"),
        nargs: 2,
    },
    Syscall {
        nr: 151,
        name: "mlockall",
        tracepoint: Some("mlockall"),
        nargs: 1,
    },
    Syscall {
        nr: 152,
        name: "munlockall",
        tracepoint: Some("munlockall"),
        nargs: 0,
    },
    Syscall {
        nr: 153,
        name: "vhangup",
        tracepoint: Some("vhangup"),
        nargs: 0,
    },
    Syscall {
        nr: 154,
        name: "modify_ldt",
        tracepoint: Some("modify_ldt"),
        nargs: 3,
    },
    Syscall {
        nr: 155,
        name: "pivot_root",
        tracepoint: Some("pivot_root"),
        nargs: 2,
    },
    Syscall {
        nr: 156,
        name: "_sysctl",
        tracepoint: None,
        nargs: 1,
    },
    Syscall {
        nr: 157,
        name: "prctl",
        tracepoint: Some("prctl"),
        nargs: 5,
    },
    Syscall {
        nr: 158,
        name: "arch_prctl",
        tracepoint: Some("arch_prctl"),
        nargs: 2,
    },
    Syscall {
        nr: 159,
        name: "adjtimex",
        tracepoint: Some("adjtimex"),
        nargs: 1,
    },
    Syscall {
        nr: 160,
        name: "setrlimit",
        tracepoint: Some("setrlimit"),
        nargs: 2,
    },
    Syscall {
        nr: 161,
        name: "chroot",
        tracepoint: Some("chroot"),
        nargs: 1,
    },
    Syscall {
        nr: 162,
        name: "sync",
        tracepoint: Some("sync"),
        nargs: 0,
    },
    Syscall {
        nr: 163,
        name: "acct",
        tracepoint: Some("acct"),
        nargs: 1,
    },
    Syscall {
        nr: 164,
        name: "settimeofday",
        tracepoint: Some("settimeofday"),
        nargs: 2,
    },
    Syscall {
        nr: 165,
        name: "mount",
        tracepoint: Some("mount"),
        nargs: 5,
    },
    Syscall {
        nr: 166,
        name: "umount2",
        tracepoint: Some("umount"),
        nargs: 2,
    },
    Syscall {
        nr: 167,
        name: "swapon",
        tracepoint: Some("swapon"),
        nargs: 2,
    },
    Syscall {
        nr: 168,
        name: "swapoff",
        tracepoint: Some("swapoff"),
        nargs: 1,
    },
    Syscall {
        nr: 169,
        name: "reboot",
        tracepoint: Some("reboot"),
        nargs: 4,
    },
    Syscall {
        nr: 170,
        name: "sethostname",
        tracepoint: Some("sethostname"),
        nargs: 2,
    },
    Syscall {
        nr: 171,
        name: "setdomainname",
        tracepoint: Some("setdomainname"),
        nargs: 2,
    },
    Syscall {
        nr: 172,
        name: "iopl",
        tracepoint: Some("iopl"),
        nargs: 1,
    },
    Syscall {
        nr: 173,
        name: "ioperm",
        tracepoint: Some("ioperm"),
        nargs: 3,
    },
    Syscall {
        nr: 174,
        name: "create_module",
        tracepoint: None,
        nargs: 0,
    },
    Syscall {
        nr: 175,
        name: "init_module",
        tracepoint: Some("init_module"),
        nargs: 3,
    },
    Syscall {
        nr: 176,
        name: "delete_module",
        tracepoint: Some("delete_module"),
        nargs: 2,
    },
    Syscall {
        nr: 177,
        name: "get_kernel_syms",
        tracepoint: None,
        nargs: 0,
    },
    Syscall {
        nr: 178,
        name: "query_module",
        tracepoint: None,
        nargs: 0,
    },
    Syscall {
        nr: 179,
        name: "quotactl",
        tracepoint: Some("quotactl"),
        nargs: 4,
    },
    Syscall {
        nr: 180,
        name: "nfsservctl",
        tracepoint: None,
        nargs: 0,
    },
    Syscall {
        nr: 181,
        name: "getpmsg",
        tracepoint: None,
        nargs: 0,
    },
    Syscall {
        nr: 182,
        name: "putpmsg",
        tracepoint: None,
        nargs: 0,
    },
    Syscall {
        nr: 183,
        name: "afs_syscall",
        tracepoint: None,
        nargs: 0,
    },
    Syscall {
        nr: 184,
        name: "tuxcall",
        tracepoint: None,
        nargs: 0,
    },
    Syscall {
        nr: 185,
        name: "security",
        tracepoint: None,
        nargs: 0,
    },
    Syscall {
        nr: 186,
        name: "gettid",
        tracepoint: Some("gettid"),
        nargs: 0,
    },
    Syscall {
        nr: 187,
        name: "readahead",
        tracepoint: Some("readahead"),
        nargs: 3,
    },
    Syscall {
        nr: 188,
        name: "setxattr",
        tracepoint: Some("setxattr"),
        nargs: 5,
    },
    Syscall {
        nr: 189,
        name: "lsetxattr",
        tracepoint: Some("lsetxattr"),
        nargs: 5,
    },
    Syscall {
        nr: 190,
        name: "fsetxattr",
        tracepoint: Some("fsetxattr"),
        nargs: 5,
    },
    Syscall {
        nr: 191,
        name: "getxattr",
        tracepoint: Some("getxattr"),
        nargs: 4,
    },
    Syscall {
        nr: 192,
        name: "lgetxattr",
        tracepoint: Some("lgetxattr"),
        nargs: 4,
    },
    Syscall {
        nr: 193,
        name: "fgetxattr",
        tracepoint: Some("fgetxattr"),
        nargs: 4,
    },
    Syscall {
        nr: 194,
        name: "listxattr",
        tracepoint: Some("listxattr"),
        nargs: 3,
    },
    Syscall {
        nr: 195,
        name: "llistxattr",
        tracepoint: Some("llistxattr"),
        nargs: 3,
    },
    Syscall {
        nr: 196,
        name: "flistxattr",
        tracepoint: Some("flistxattr"),
        nargs: 3,
    },
    Syscall {
        nr: 197,
        name: "removexattr",
        tracepoint: Some("removexattr"),
        nargs: 2,
    },
    Syscall {
        nr: 198,
        name: "lremovexattr",
        tracepoint: Some("lremovexattr"),
        nargs: 2,
    },
    Syscall {
        nr: 199,
        name: "fremovexattr",
        tracepoint: Some("fremovexattr"),
        nargs: 2,
    },
    Syscall {
        nr: 200,
        name: "tkill",
        tracepoint: Some("tkill"),
        nargs: 2,
    },
    Syscall {
        nr: 201,
        name: "time",
        tracepoint: Some("time"),
        nargs: 1,
    },
    Syscall {
        nr: 202,
        name: "futex",
        tracepoint: Some("futex"),
        nargs: 6,
    },
    Syscall {
        nr: 203,
        name: "sched_setaffinity",
        tracepoint: Some("sched_setaffinity"),
        nargs: 3,
    },
    Syscall {
        nr: 204,
        name: "sched_getaffinity",
        tracepoint: Some("sched_getaffinity"),
        nargs: 3,
    },
    Syscall {
        nr: 205,
        name: "set_thread_area",
        tracepoint: None,
        nargs: 0,
    },
    Syscall {
        nr: 206,
        name: "io_setup",
        tracepoint: Some("io_setup"),
        nargs: 2,
    },
    Syscall {
        nr: 207,
        name: "io_destroy",
        tracepoint: Some("io_destroy"),
        nargs: 1,
    },
    Syscall {
        nr: 208,
        name: "io_getevents",
        tracepoint: Some("io_getevents"),
        nargs: 5,
    },
    Syscall {
        nr: 209,
        name: "io_submit",
        tracepoint: Some("io_submit"),
        nargs: 3,
    },
    Syscall {
        nr: 210,
        name: "io_cancel",
        tracepoint: Some("io_cancel"),
        nargs: 3,
    },
    Syscall {
        nr: 211,
        name: "get_thread_area",
        tracepoint: None,
        nargs: 0,
    },
    Syscall {
        nr: 212,
        name: "lookup_dcookie",
        tracepoint: None,
        nargs: 0,
    },
    Syscall {
        nr: 213,
        name: "epoll_create",
        tracepoint: Some("epoll_create"),
        nargs: 1,
    },
    Syscall {
        nr: 214,
        name: "epoll_ctl_old",
        tracepoint: None,
        nargs: 0,
    },
    Syscall {
        nr: 215,
        name: "epoll_wait_old",
        tracepoint: None,
        nargs: 0,
    },
    Syscall {
        nr: 216,
        name: "remap_file_pages",
        tracepoint: Some("remap_file_pages"),
        nargs: 5,
    },
    Syscall {
        nr: 217,
        name: "getdents64",
        tracepoint: Some("getdents64"),
        nargs: 3,
    },
    Syscall {
        nr: 218,
        name: "set_tid_address",
        tracepoint: Some("set_tid_address"),
        nargs: 1,
    },
    Syscall {
        nr: 219,
        name: "restart_syscall",
        tracepoint: Some("restart_syscall"),
        nargs: 0,
    },
    Syscall {
        nr: 220,
        name: "semtimedop",
        tracepoint: Some("semtimedop"),
        nargs: 4,
    },
    Syscall {
        nr: 221,
        name: "fadvise64",
        tracepoint: Some("fadvise64"),
        nargs: 4,
    },
    Syscall {
        nr: 222,
        name: "timer_create",
        tracepoint: Some("timer_create"),
        nargs: 3,
    },
    Syscall {
        nr: 223,
        name: "timer_settime",
        tracepoint: Some("timer_settime"),
        nargs: 4,
    },
    Syscall {
        nr: 224,
        name: "timer_gettime",
        tracepoint: Some("timer_gettime"),
        nargs: 2,
    },
    Syscall {
        nr: 225,
        name: "timer_getoverrun",
        tracepoint: Some("timer_getoverrun"),
        nargs: 1,
    },
    Syscall {
        nr: 226,
        name: "timer_delete",
        tracepoint: Some("timer_delete"),
        nargs: 1,
    },
    Syscall {
        nr: 227,
        name: "clock_settime",
        tracepoint: Some("clock_settime"),
        nargs: 2,
    },
    Syscall {
        nr: 228,
        name: "clock_gettime",
        tracepoint: Some("clock_gettime"),
        nargs: 2,
    },
    Syscall {
        nr: 229,
        name: "clock_getres",
        tracepoint: Some("clock_getres"),
        nargs: 2,
    },
    Syscall {
        nr: 230,
        name: "clock_nanosleep",
        tracepoint: Some("clock_nanosleep"),
        nargs: 4,
    },
    Syscall {
        nr: 231,
        name: "exit_group",
        tracepoint: Some("exit_group"),
        nargs: 1,
    },
    Syscall {
        nr: 232,
        name: "epoll_wait",
        tracepoint: Some("epoll_wait"),
        nargs: 4,
    },
    Syscall {
        nr: 233,
        name: "epoll_ctl",
        tracepoint: Some("epoll_ctl"),
        nargs: 4,
    },
    Syscall {
        nr: 234,
        name: "tgkill",
        tracepoint: Some("tgkill"),
        nargs: 3,
    },
    Syscall {
        nr: 235,
        name: "utimes",
        tracepoint: Some("utimes"),
        nargs: 2,
    },
    Syscall {
        nr: 236,
        name: "vserver",
        tracepoint: None,
        nargs: 0,
    },
    Syscall {
        nr: 237,
        name: "mbind",
        tracepoint: Some("mbind"),
        nargs: 6,
    },
    Syscall {
        nr: 238,
        name: "set_mempolicy",
        tracepoint: Some("set_mempolicy"),
        nargs: 3,
    },
    Syscall {
        nr: 239,
        name: "get_mempolicy",
        tracepoint: Some("get_mempolicy"),
        nargs: 5,
    },
    Syscall {
        nr: 240,
        name: "mq_open",
        tracepoint: Some("mq_open"),
        nargs: 4,
    },
    Syscall {
        nr: 241,
        name: "mq_unlink",
        tracepoint: Some("mq_unlink"),
        nargs: 1,
    },
    Syscall {
        nr: 242,
        name: "mq_timedsend",
        tracepoint: Some("mq_timedsend"),
        nargs: 5,
    },
    Syscall {
        nr: 243,
        name: "mq_timedreceive",
        tracepoint: Some("mq_timedreceive"),
        nargs: 5,
    },
    Syscall {
        nr: 244,
        name: "mq_notify",
        tracepoint: Some("mq_notify"),
        nargs: 2,
    },
    Syscall {
        nr: 245,
        name: "mq_getsetattr",
        tracepoint: Some("mq_getsetattr"),
        nargs: 3,
    },
    Syscall {
        nr: 246,
        name: "kexec_load",
        tracepoint: Some("kexec_load"),
        nargs: 4,
    },
    Syscall {
        nr: 247,
        name: "waitid",
        tracepoint: Some("waitid"),
        nargs: 5,
    },
    Syscall {
        nr: 248,
        name: "add_key",
        tracepoint: Some("add_key"),
        nargs: 5,
    },
    Syscall {
        nr: 249,
        name: "request_key",
        tracepoint: Some("request_key"),
        nargs: 4,
    },
    Syscall {
        nr: 250,
        name: "keyctl",
        tracepoint: Some("keyctl"),
        nargs: 5,
    },
    Syscall {
        nr: 251,
        name: "ioprio_set",
        tracepoint: Some("ioprio_set"),
        nargs: 3,
    },
    Syscall {
        nr: 252,
        name: "ioprio_get",
        tracepoint: Some("ioprio_get"),
        nargs: 2,
    },
    Syscall {
        nr: 253,
        name: "inotify_init",
        tracepoint: Some("inotify_init"),
        nargs: 0,
    },
    Syscall {
        nr: 254,
        name: "inotify_add_watch",
        tracepoint: Some("inotify_add_watch"),
        nargs: 3,
    },
    Syscall {
        nr: 255,
        name: "inotify_rm_watch",
        tracepoint: Some("inotify_rm_watch"),
        nargs: 2,
    },
    Syscall {
        nr: 256,
        name: "migrate_pages",
        tracepoint: Some("migrate_pages"),
        nargs: 4,
    },
    Syscall {
        nr: 257,
        name: "openat",
        tracepoint: Some("openat"),
        nargs: 4,
    },
    Syscall {
        nr: 258,
        name: "mkdirat",
        tracepoint: Some("mkdirat"),
        nargs: 3,
    },
    Syscall {
        nr: 259,
        name: "mknodat",
        tracepoint: Some("mknodat"),
        nargs: 4,
    },
    Syscall {
        nr: 260,
        name: "fchownat",
        tracepoint: Some("fchownat"),
        nargs: 5,
    },
    Syscall {
        nr: 261,
        name: "futimesat",
        tracepoint: Some("futimesat"),
        nargs: 3,
    },
    Syscall {
        nr: 262,
        name: "newfstatat",
        tracepoint: Some("newfstatat"),
        nargs: 4,
    },
    Syscall {
        nr: 263,
        name: "unlinkat",
        tracepoint: Some("unlinkat"),
        nargs: 3,
    },
    Syscall {
        nr: 264,
        name: "renameat",
        tracepoint: Some("renameat"),
        nargs: 4,
    },
    Syscall {
        nr: 265,
        name: "linkat",
        tracepoint: Some("linkat"),
        nargs: 5,
    },
    Syscall {
        nr: 266,
        name: "symlinkat",
        tracepoint: Some("symlinkat"),
        nargs: 3,
    },
    Syscall {
        nr: 267,
        name: "readlinkat",
        tracepoint: Some("readlinkat"),
        nargs: 4,
    },
    Syscall {
        nr: 268,
        name: "fchmodat",
        tracepoint: Some("fchmodat"),
        nargs: 3,
    },
    Syscall {
        nr: 269,
        name: "faccessat",
        tracepoint: Some("faccessat"),
        nargs: 3,
    },
    Syscall {
        nr: 270,
        name: "pselect6",
        tracepoint: Some("pselect6"),
        nargs: 6,
    },
    Syscall {
        nr: 271,
        name: "ppoll",
        tracepoint: Some("ppoll"),
        nargs: 5,
    },
    Syscall {
        nr: 272,
        name: "unshare",
        tracepoint: Some("unshare"),
        nargs: 1,
    },
    Syscall {
        nr: 273,
        name: "set_robust_list",
        tracepoint: Some("set_robust_list"),
        nargs: 2,
    },
    Syscall {
        nr: 274,
        name: "get_robust_list",
        tracepoint: Some("get_robust_list"),
        nargs: 3,
    },
    Syscall {
        nr: 275,
        name: "splice",
        tracepoint: Some("splice"),
        nargs: 6,
    },
    Syscall {
        nr: 276,
        name: "tee",
        tracepoint: Some("tee"),
        nargs: 4,
    },
    Syscall {
        nr: 277,
        name: "sync_file_range",
        tracepoint: Some("sync_file_range"),
        nargs: 4,
    },
    Syscall {
        nr: 278,
        name: "vmsplice",
        tracepoint: Some("vmsplice"),
        nargs: 4,
    },
    Syscall {
        nr: 279,
        name: "move_pages",
        tracepoint: Some("move_pages"),
        nargs: 6,
    },
    Syscall {
        nr: 280,
        name: "utimensat",
        tracepoint: Some("utimensat"),
        nargs: 4,
    },
    Syscall {
        nr: 281,
        name: "epoll_pwait",
        tracepoint: Some("epoll_pwait"),
        nargs: 6,
    },
    Syscall {
        nr: 282,
        name: "signalfd",
        tracepoint: Some("signalfd"),
        nargs: 3,
    },
    Syscall {
        nr: 283,
        name: "timerfd_create",
        tracepoint: Some("timerfd_create"),
        nargs: 2,
    },
    Syscall {
        nr: 284,
        name: "eventfd",
        tracepoint: Some("eventfd"),
        nargs: 1,
    },
    Syscall {
        nr: 285,
        name: "fallocate",
        tracepoint: Some("fallocate"),
        nargs: 4,
    },
    Syscall {
        nr: 286,
        name: "timerfd_settime",
        tracepoint: Some("timerfd_settime"),
        nargs: 4,
    },
    Syscall {
        nr: 287,
        name: "timerfd_gettime",
        tracepoint: Some("timerfd_gettime"),
        nargs: 2,
    },
    Syscall {
        nr: 288,
        name: "accept4",
        tracepoint: Some("accept4"),
        nargs: 4,
    },
    Syscall {
        nr: 289,
        name: "signalfd4",
        tracepoint: Some("signalfd4"),
        nargs: 4,
    },
    Syscall {
        nr: 290,
        name: "eventfd2",
        tracepoint: Some("eventfd2"),
        nargs: 2,
    },
    Syscall {
        nr: 291,
        name: "epoll_create1",
        tracepoint: Some("epoll_create1"),
        nargs: 1,
    },
    Syscall {
        nr: 292,
        name: "dup3",
        tracepoint: Some("dup3"),
        nargs: 3,
    },
    Syscall {
        nr: 293,
        name: "pipe2",
        tracepoint: Some("pipe2"),
        nargs: 2,
    },
    Syscall {
        nr: 294,
        name: "inotify_init1",
        tracepoint: Some("inotify_init1"),
        nargs: 1,
    },
    Syscall {
        nr: 295,
        name: "preadv",
        tracepoint: Some("preadv"),
        nargs: 5,
    },
    Syscall {
        nr: 296,
        name: "pwritev",
        tracepoint: Some("pwritev"),
        nargs: 5,
    },
    Syscall {
        nr: 297,
        name: "rt_tgsigqueueinfo",
        tracepoint: Some("rt_tgsigqueueinfo"),
        nargs: 4,
    },
    Syscall {
        nr: 298,
        name: "perf_event_open",
        tracepoint: Some("perf_event_open"),
        nargs: 5,
    },
    Syscall {
        nr: 299,
        name: "recvmmsg",
        tracepoint: Some("recvmmsg"),
        nargs: 5,
    },
    Syscall {
        nr: 300,
        name: "fanotify_init",
        tracepoint: Some("fanotify_init"),
        nargs: 2,
    },
    Syscall {
        nr: 301,
        name: "fanotify_mark",
        tracepoint: Some("fanotify_mark"),
        nargs: 5,
    },
    Syscall {
        nr: 302,
        name: "prlimit64",
        tracepoint: Some("prlimit64"),
        nargs: 4,
    },
    Syscall {
        nr: 303,
        name: "name_to_handle_at",
        tracepoint: Some("name_to_handle_at"),
        nargs: 5,
    },
    Syscall {
        nr: 304,
        name: "open_by_handle_at",
        tracepoint: Some("open_by_handle_at"),
        nargs: 3,
    },
    Syscall {
        nr: 305,
        name: "clock_adjtime",
        tracepoint: Some("clock_adjtime"),
        nargs: 2,
    },
    Syscall {
        nr: 306,
        name: "syncfs",
        tracepoint: Some("syncfs"),
        nargs: 1,
    },
    Syscall {
        nr: 307,
        name: "sendmmsg",
        tracepoint: Some("sendmmsg"),
        nargs: 4,
    },
    Syscall {
        nr: 308,
        name: "setns",
        tracepoint: Some("setns"),
        nargs: 2,
    },
    Syscall {
        nr: 309,
        name: "getcpu",
        tracepoint: Some("getcpu"),
        nargs: 3,
    },
    Syscall {
        nr: 310,
        name: "process_vm_readv",
        tracepoint: Some("process_vm_readv"),
        nargs: 6,
    },
    Syscall {
        nr: 311,
        name: "process_vm_writev",
        tracepoint: Some("process_vm_writev"),
        nargs: 6,
    },
    Syscall {
        nr: 312,
        name: "kcmp",
        tracepoint: Some("kcmp"),
        nargs: 5,
    },
    Syscall {
        nr: 313,
        name: "finit_module",
        tracepoint: Some("finit_module"),
        nargs: 3,
    },
    Syscall {
        nr: 314,
        name: "sched_setattr",
        tracepoint: Some("sched_setattr"),
        nargs: 3,
    },
    Syscall {
        nr: 315,
        name: "sched_getattr",
        tracepoint: Some("sched_getattr"),
        nargs: 4,
    },
    Syscall {
        nr: 316,
        name: "renameat2",
        tracepoint: Some("renameat2"),
        nargs: 5,
    },
    Syscall {
        nr: 317,
        name: "seccomp",
        tracepoint: Some("seccomp"),
        nargs: 3,
    },
    Syscall {
        nr: 318,
        name: "getrandom",
        tracepoint: Some("getrandom"),
        nargs: 3,
    },
    Syscall {
        nr: 319,
        name: "memfd_create",
        tracepoint: Some("memfd_create"),
        nargs: 2,
    },
    Syscall {
        nr: 320,
        name: "kexec_file_load",
        tracepoint: Some("kexec_file_load"),
        nargs: 5,
    },
    Syscall {
        nr: 321,
        name: "bpf",
        tracepoint: Some("bpf"),
        nargs: 3,
    },
    Syscall {
        nr: 322,
        name: "execveat",
        tracepoint: Some("execveat"),
        nargs: 5,
    },
    Syscall {
        nr: 323,
        name: "userfaultfd",
        tracepoint: Some("userfaultfd"),
        nargs: 1,
    },
    Syscall {
        nr: 324,
        name: "membarrier",
        tracepoint: Some("membarrier"),
        nargs: 3,
    },
    Syscall {
        nr: 325,
        name: "mlock2",
        tracepoint: Some("mlock2"),
        nargs: 3,
    },
    Syscall {
        nr: 326,
        name: "copy_file_range",
        tracepoint: Some("copy_file_range"),
        nargs: 6,
    },
    Syscall {
        nr: 327,
        name: "preadv2",
        tracepoint: Some("preadv2"),
        nargs: 6,
    },
    Syscall {
        nr: 328,
        name: "pwritev2",
        tracepoint: Some("pwritev2"),
        nargs: 6,
    },
    Syscall {
        nr: 329,
        name: "pkey_mprotect",
        tracepoint: Some("pkey_mprotect"),
        nargs: 4,
    },
    Syscall {
        nr: 330,
        name: "pkey_alloc",
        tracepoint: Some("pkey_alloc"),
        nargs: 2,
    },
    Syscall {
        nr: 331,
        name: "pkey_free",
        tracepoint: Some("pkey_free"),
        nargs: 1,
    },
    Syscall {
        nr: 332,
        name: "statx",
        tracepoint: Some("statx"),
        nargs: 5,
    },
    Syscall {
        nr: 333,
        name: "io_pgetevents",
        tracepoint: Some("io_pgetevents"),
        nargs: 6,
    },
    Syscall {
        nr: 334,
        name: "rseq",
        tracepoint: Some("rseq"),
        nargs: 4,
    },
    Syscall {
        nr: 335,
        name: "uretprobe",
        tracepoint: Some("uretprobe"),
        nargs: 0,
    },
    Syscall {
        nr: 336,
        name: "uprobe",
        tracepoint: Some("uprobe"),
        nargs: 0,
    },
    Syscall {
        nr: 424,
        name: "pidfd_send_signal",
        tracepoint: Some("pidfd_send_signal"),
        nargs: 4,
    },
    Syscall {
        nr: 425,
        name: "io_uring_setup",
        tracepoint: Some("io_uring_setup"),
        nargs: 2,
    },
    Syscall {
        nr: 426,
        name: "io_uring_enter",
        tracepoint: Some("io_uring_enter"),
        nargs: 6,
    },
    Syscall {
        nr: 427,
        name: "io_uring_register",
        tracepoint: Some("io_uring_register"),
        nargs: 4,
    },
    Syscall {
        nr: 428,
        name: "open_tree",
        tracepoint: Some("open_tree"),
        nargs: 3,
    },
    Syscall {
        nr: 429,
        name: "move_mount",
        tracepoint: Some("move_mount"),
        nargs: 5,
    },
    Syscall {
        nr: 430,
        name: "fsopen",
        tracepoint: Some("fsopen"),
        nargs: 2,
    },
    Syscall {
        nr: 431,
        name: "fsconfig",
        tracepoint: Some("fsconfig"),
        nargs: 5,
    },
    Syscall {
        nr: 432,
        name: "fsmount",
        tracepoint: Some("fsmount"),
        nargs: 3,
    },
    Syscall {
        nr: 433,
        name: "fspick",
        tracepoint: Some("fspick"),
        nargs: 3,
    },
    Syscall {
        nr: 434,
        name: "pidfd_open",
        tracepoint: Some("pidfd_open"),
        nargs: 2,
    },
    Syscall {
        nr: 435,
        name: "clone3",
        tracepoint: Some("clone3"),
        nargs: 2,
    },
    Syscall {
        nr: 436,
        name: "close_range",
        tracepoint: Some("close_range"),
        nargs: 3,
    },
    Syscall {
        nr: 437,
        name: "openat2",
        tracepoint: Some("openat2"),
        nargs: 4,
    },
    Syscall {
        nr: 438,
        name: "pidfd_getfd",
        tracepoint: Some("pidfd_getfd"),
        nargs: 3,
    },
    Syscall {
        nr: 439,
        name: "faccessat2",
        tracepoint: Some("faccessat2"),
        nargs: 4,
    },
    Syscall {
        nr: 440,
        name: "process_madvise",
        tracepoint: Some("process_madvise"),
        nargs: 5,
    },
    Syscall {
        nr: 441,
        name: "epoll_pwait2",
        tracepoint: Some("epoll_pwait2"),
        nargs: 6,
    },
    Syscall {
        nr: 442,
        name: "mount_setattr",
        tracepoint: Some("mount_setattr"),
        nargs: 5,
    },
    Syscall {
        nr: 443,
        name: "quotactl_fd",
        tracepoint: Some("quotactl_fd"),
        nargs: 4,
    },
    Syscall {
        nr: 444,
        name: "landlock_create_ruleset",
        tracepoint: Some("landlock_create_ruleset"),
        nargs: 3,
    },
    Syscall {
        nr: 445,
        name: "landlock_add_rule",
        tracepoint: Some("landlock_add_rule"),
        nargs: 4,
    },
    Syscall {
        nr: 446,
        name: "landlock_restrict_self",
        tracepoint: Some("landlock_restrict_self"),
        nargs: 2,
    },
    Syscall {
        nr: 447,
        name: "memfd_secret",
        tracepoint: Some("memfd_secret"),
        nargs: 1,
    },
    Syscall {
        nr: 448,
        name: "process_mrelease",
        tracepoint: Some("process_mrelease"),
        nargs: 2,
    },
    Syscall {
        nr: 449,
        name: "futex_waitv",
        tracepoint: Some("futex_waitv"),
        nargs: 5,
    },
    Syscall {
        nr: 450,
        name: "set_mempolicy_home_node",
        tracepoint: Some("set_mempolicy_home_node"),
        nargs: 4,
    },
    Syscall {
        nr: 451,
        name: "cachestat",
        tracepoint: Some("cachestat"),
        nargs: 4,
    },
    Syscall {
        nr: 452,
        name: "fchmodat2",
        tracepoint: Some("fchmodat2"),
        nargs: 4,
    },
    Syscall {
        nr: 453,
        name: "map_shadow_stack",
        tracepoint: Some("map_shadow_stack"),
        nargs: 3,
    },
    Syscall {
        nr: 454,
        name: "futex_wake",
        tracepoint: Some("futex_wake"),
        nargs: 4,
    },
    Syscall {
        nr: 455,
        name: "futex_wait",
        tracepoint: Some("futex_wait"),
        nargs: 6,
    },
    Syscall {
        nr: 456,
        name: "futex_requeue",
        tracepoint: Some("futex_requeue"),
        nargs: 4,
    },
    Syscall {
        nr: 457,
        name: "statmount",
        tracepoint: Some("statmount"),
        nargs: 4,
    },
    Syscall {
        nr: 458,
        name: "listmount",
        tracepoint: Some("listmount"),
        nargs: 4,
    },
    Syscall {
        nr: 459,
        name: "lsm_get_self_attr",
        tracepoint: Some("lsm_get_self_attr"),
        nargs: 4,
    },
    Syscall {
        nr: 460,
        name: "lsm_set_self_attr",
        tracepoint: Some("lsm_set_self_attr"),
        nargs: 4,
    },
    Syscall {
        nr: 461,
        name: "lsm_list_modules",
        tracepoint: Some("lsm_list_modules"),
        nargs: 3,
    },
    Syscall {
        nr: 462,
        name: "mseal",
        tracepoint: Some("mseal"),
        nargs: 3,
    },
    Syscall {
        nr: 463,
        name: "setxattrat",
        tracepoint: Some("setxattrat"),
        nargs: 6,
    },
    Syscall {
        nr: 464,
        name: "getxattrat",
        tracepoint: Some("getxattrat"),
        nargs: 6,
    },
    Syscall {
        nr: 465,
        name: "listxattrat",
        tracepoint: Some("listxattrat"),
        nargs: 5,
    },
    Syscall {
        nr: 466,
        name: "removexattrat",
        tracepoint: Some("removexattrat"),
        nargs: 4,
    },
    Syscall {
        nr: 467,
        name: "open_tree_attr",
        tracepoint: Some("open_tree_attr"),
        nargs: 5,
    },
    Syscall {
        nr: 468,
        name: "file_getattr",
        tracepoint: Some("file_getattr"),
        nargs: 5,
    },
    Syscall {
        nr: 469,
        name: "file_setattr",
        tracepoint: Some("file_setattr"),
        nargs: 5,
    },
];

/// The entry for number `nr`.
pub fn by_nr(nr: u32) -> Option<&'static Syscall> {
    SYSCALLS
        .binary_search_by_key(&nr, |s| s.nr)
        .ok()
        .map(|i| &SYSCALLS[i])
}

/// The entry for a table name (`openat`, `stat`) or tracepoint name (`newstat`).
pub fn by_name(name: &str) -> Option<&'static Syscall> {
    SYSCALLS
        .iter()
        .find(|s| s.name == name)
        .or_else(|| SYSCALLS.iter().find(|s| s.tracepoint == Some(name)))
}

/// Which side of a system call an event is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// `sys_enter_NAME`: before the call runs.
    Enter,
    /// `sys_exit_NAME`: after it returned.
    Exit,
}

/// Parses a tracepoint event name: `sys_enter_openat`, `sys_exit_newstat`, optionally
/// prefixed with `syscalls/` or `syscalls:`.
pub fn parse_event(event: &str) -> Option<(Phase, &'static Syscall)> {
    let e = event
        .strip_prefix("syscalls/")
        .or_else(|| event.strip_prefix("syscalls:"))
        .unwrap_or(event);
    let (phase, name) = if let Some(n) = e.strip_prefix("sys_enter_") {
        (Phase::Enter, n)
    } else {
        (Phase::Exit, e.strip_prefix("sys_exit_")?)
    };
    let sc = SYSCALLS.iter().find(|s| s.tracepoint == Some(name))?;
    Some((phase, sc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_bounded() {
        for w in SYSCALLS.windows(2) {
            assert!(w[0].nr < w[1].nr, "{:?} {:?}", w[0], w[1]);
        }
        assert!(SYSCALLS.iter().all(|s| s.nr < MAX_NR && s.nargs <= 6));
        let mut names: Vec<_> = SYSCALLS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SYSCALLS.len());
    }

    #[test]
    fn numbers_match_libc() {
        let known: &[(&str, i64)] = &[
            ("read", libc::SYS_read),
            ("openat", libc::SYS_openat),
            ("stat", libc::SYS_stat),
            ("getppid", libc::SYS_getppid),
            ("execve", libc::SYS_execve),
            ("exit_group", libc::SYS_exit_group),
            ("clone3", libc::SYS_clone3),
            ("rseq", libc::SYS_rseq),
            ("pidfd_open", libc::SYS_pidfd_open),
            ("futex_waitv", libc::SYS_futex_waitv),
            ("mseal", libc::SYS_mseal),
        ];
        for (name, nr) in known {
            assert_eq!(by_name(name).map(|s| s.nr as i64), Some(*nr), "{name}");
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(by_nr(257).unwrap().name, "openat");
        assert_eq!(by_name("newstat").unwrap().nr, 4);
        assert!(by_nr(400).is_none());
        let (p, s) = parse_event("syscalls/sys_exit_newuname").unwrap();
        assert_eq!((p, s.name), (Phase::Exit, "uname"));
        assert_eq!(parse_event("sys_enter_getppid").unwrap().1.nr, 110);
        assert!(
            parse_event("sys_enter_stat").is_none(),
            "tracepoint names only"
        );
        assert!(parse_event("sched_switch").is_none());
    }
}
