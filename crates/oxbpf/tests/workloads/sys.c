// A deterministic workload for the tracer tests: no libc, no dynamic loader, so the only
// system calls are the ones its arguments ask for. Built with
// `clang -O2 -static -nostdlib -fno-stack-protector`.
//
//   o PATH       openat(PATH, O_RDONLY) and close
//   r PATH N     open PATH, read N bytes (one read call per 4096 bytes at most), close
//   w N          open /dev/null, write N bytes in one call, close
//   s MS         sleep MS milliseconds
//   k SIG        kill itself with SIG
//   g N          getppid() N times
//   x CODE       exit_group(CODE)
//   e PATH ...   execve(PATH, [PATH ...]) (the rest of the arguments)
// Without `x`, it exits 0 after the last command.

#define SYS_read 0
#define SYS_write 1
#define SYS_close 3
#define SYS_nanosleep 35
#define SYS_getpid 39
#define SYS_getppid 110
#define SYS_execve 59
#define SYS_kill 62
#define SYS_exit_group 231
#define SYS_openat 257
#define AT_FDCWD (-100)
#define O_WRONLY 1

static long sys3(long n, long a, long b, long c) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static long num(const char *s) {
    long v = 0;
    while (s && *s >= '0' && *s <= '9')
        v = v * 10 + (*s++ - '0');
    return v;
}

static char buf[1 << 16];

__attribute__((used)) void cmain(long *sp) {
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    for (long i = 1; i < argc; i++) {
        char c = argv[i][0];
        if (c == 'o' && i + 1 < argc) {
            long fd = sys3(SYS_openat, AT_FDCWD, (long)argv[++i], 0);
            if (fd >= 0)
                sys3(SYS_close, fd, 0, 0);
        } else if (c == 'r' && i + 2 < argc) {
            long fd = sys3(SYS_openat, AT_FDCWD, (long)argv[i + 1], 0);
            long left = num(argv[i + 2]);
            i += 2;
            while (fd >= 0 && left > 0) {
                long n = left > 4096 ? 4096 : left;
                long got = sys3(SYS_read, fd, (long)buf, n);
                if (got <= 0)
                    break;
                left -= got;
            }
            if (fd >= 0)
                sys3(SYS_close, fd, 0, 0);
        } else if (c == 'w' && i + 1 < argc) {
            long fd = sys3(SYS_openat, AT_FDCWD, (long)"/dev/null", O_WRONLY);
            long n = num(argv[++i]);
            if (n > (long)sizeof(buf))
                n = sizeof(buf);
            if (fd >= 0) {
                sys3(SYS_write, fd, (long)buf, n);
                sys3(SYS_close, fd, 0, 0);
            }
        } else if (c == 's' && i + 1 < argc) {
            long ms = num(argv[++i]);
            long ts[2] = {ms / 1000, (ms % 1000) * 1000000};
            sys3(SYS_nanosleep, (long)ts, 0, 0);
        } else if (c == 'g' && i + 1 < argc) {
            for (long n = num(argv[++i]); n > 0; n--)
                sys3(SYS_getppid, 0, 0, 0);
        } else if (c == 'k' && i + 1 < argc) {
            sys3(SYS_kill, sys3(SYS_getpid, 0, 0, 0), num(argv[++i]), 0);
        } else if (c == 'x' && i + 1 < argc) {
            sys3(SYS_exit_group, num(argv[++i]), 0, 0);
        } else if (c == 'e' && i + 1 < argc) {
            sys3(SYS_execve, (long)argv[i + 1], (long)(argv + i + 1), (long)envp);
            sys3(SYS_exit_group, 127, 0, 0);
        }
    }
    sys3(SYS_exit_group, 0, 0, 0);
}

__asm__(".globl _start\n"
        "_start:\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call cmain\n"
        "  hlt\n");
