/* Shared definitions of the oxbpf benchmark programs.
 *
 * Calling convention (the same bytecode runs in every engine): r1 = pointer to the input
 * buffer, r2 = its length. Every program first checks `len >= BUF_SIZE`, only reads the
 * buffer (never writes it: the kernel's BPF_PROG_TEST_RUN reuses one packet for all
 * repetitions), keeps its scratch data on the 512-byte eBPF stack, uses no helpers, maps,
 * globals or bpf-to-bpf calls, and returns a 64-bit result.
 *
 * The Linux verifier must accept each program (loaded as XDP behind a prolog that checks
 * the packet holds BUF_SIZE bytes and sets r1/r2): loops have constant bounds, and the
 * number of data-dependent branches on one path stays far below the verifier's limit of
 * 8192 pending branches.
 *
 * Build: bench/programs/build.sh (clang -O2 -target bpf -mcpu=v3 -c). */
#ifndef OXBPF_BENCH_H
#define OXBPF_BENCH_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define SEC(name) __attribute__((section(name), used))
#define INLINE static inline __attribute__((always_inline))

/* Bytes of input every program needs. */
#define BUF_SIZE 2048

/* Hides a value from the optimizer (emits no instruction): keeps clang from folding an
 * input-independent computation or from turning arithmetic back into branches. */
#define barrier_var(v) asm volatile("" : "+r"(v))

INLINE u64 rotl64(u64 x, unsigned r) { return (x << r) | (x >> (64 - r)); }

#endif
