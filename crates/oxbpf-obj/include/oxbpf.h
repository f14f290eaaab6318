/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * oxbpf.h: included automatically (clang -include) by `oxbpf build`.
 *
 * Declares every eBPF helper with its Linux id and the usual macros of libbpf-style and
 * BCC-style programs (SEC, __uint, __type, __array, bpf_printk, bpf_trace_printk,
 * BPF_CORE_READ, PT_REGS_*, BPF_KPROBE, BPF_PROG, byte-order helpers), so that such
 * programs compile without libbpf or BCC installed. <bpf/bpf_helpers.h>,
 * <bpf/bpf_tracing.h>, <bpf/bpf_core_read.h>, <bpf/bpf_endian.h> and
 * <bpf/bpf_helper_defs.h> resolve to empty shims next to this file.
 *
 * The Linux UAPI constants (BPF_MAP_TYPE_*, BPF_ANY, XDP_PASS, ...) come from
 * <linux/bpf.h>, included here when it is available, unless __OXBPF_NO_UAPI is defined
 * (`oxbpf build` defines it when the program includes vmlinux.h, which defines the same
 * enums and cannot be combined with <linux/bpf.h>).
 */
#ifndef __OXBPF_H
#define __OXBPF_H

/* Fixed-width types, defined exactly as <linux/types.h> and vmlinux.h define them, so
 * that either may be included after this header. */
typedef signed char __s8;
typedef unsigned char __u8;
typedef short int __s16;
typedef short unsigned int __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long int __s64;
typedef long long unsigned int __u64;
typedef __u16 __le16;
typedef __u16 __be16;
typedef __u32 __le32;
typedef __u32 __be32;
typedef __u64 __le64;
typedef __u64 __be64;
typedef __u16 __sum16;
typedef __u32 __wsum;
/* Kernel/BCC-style short names (as vmlinux.h defines them). */
typedef __s8 s8;
typedef __u8 u8;
typedef __s16 s16;
typedef __u16 u16;
typedef __s32 s32;
typedef __u32 u32;
typedef __s64 s64;
typedef __u64 u64;

#if !defined(__OXBPF_NO_UAPI) && defined(__has_include)
#if __has_include(<linux/bpf.h>)
#include <linux/bpf.h>
#endif
#endif

#ifndef NULL
#define NULL ((void *)0)
#endif

/* ---- Sections, maps, attributes ---------------------------------------------------- */

/* Places a program, map or variable in an ELF section: SEC("xdp"), SEC(".maps"). */
#define SEC(name) __attribute__((section(name), used))

/* BTF-defined map fields: __uint(max_entries, 16), __type(key, u32),
 * __array(values, struct inner). */
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]
#define ___oxbpf_concat(a, b) a##b
#define ___oxbpf_apply(fn, n) ___oxbpf_concat(fn, n)
#define __ulong(name, val) enum { ___oxbpf_apply(__oxbpf_unique_, __COUNTER__) = val } name

enum libbpf_pin_type {
	LIBBPF_PIN_NONE,
	/* Pin the map in the bpffs directory under its name. */
	LIBBPF_PIN_BY_NAME,
};

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif
#ifndef __weak
#define __weak __attribute__((weak))
#endif
#ifndef __hidden
#define __hidden __attribute__((visibility("hidden")))
#endif
#define __ksym __attribute__((section(".ksyms")))
#define __kconfig __attribute__((section(".kconfig")))

#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif
#ifndef container_of
#define container_of(ptr, type, member)                                                  \
	({                                                                                   \
		void *__oxbpf_mptr = (void *)(ptr);                                          \
		((type *)(__oxbpf_mptr - offsetof(type, member)));                           \
	})
#endif

/* Keeps the compiler from assuming anything about `var` (defeats some optimisations
 * the verifier cannot follow). */
#define barrier_var(var) asm volatile("" : "+r"(var))
#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

/* ---- Helpers ----------------------------------------------------------------------- */

#include "oxbpf_helper_defs.h"

/* bpf_trace_printk under a second name, for the macros below. */
static long (* const __oxbpf_trace_printk)(const char *fmt, __u32 fmt_size, ...) = (void *) 6;

/* Argument counting: ___oxbpf_narg(a, b, c) is 3 (up to 12). */
#define ___oxbpf_nth(_0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, N, ...) N
#define ___oxbpf_narg(...) ___oxbpf_nth(_, ##__VA_ARGS__, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)

/* Stores each argument, as a 64-bit value, into consecutive slots of `arr`. */
#define ___oxbpf_fill0(arr, p, x...)
#define ___oxbpf_fill1(arr, p, x) arr[p] = (unsigned long long)(x);
#define ___oxbpf_fill2(arr, p, x, args...) arr[p] = (unsigned long long)(x); ___oxbpf_fill1(arr, p + 1, args)
#define ___oxbpf_fill3(arr, p, x, args...) arr[p] = (unsigned long long)(x); ___oxbpf_fill2(arr, p + 1, args)
#define ___oxbpf_fill4(arr, p, x, args...) arr[p] = (unsigned long long)(x); ___oxbpf_fill3(arr, p + 1, args)
#define ___oxbpf_fill5(arr, p, x, args...) arr[p] = (unsigned long long)(x); ___oxbpf_fill4(arr, p + 1, args)
#define ___oxbpf_fill6(arr, p, x, args...) arr[p] = (unsigned long long)(x); ___oxbpf_fill5(arr, p + 1, args)
#define ___oxbpf_fill7(arr, p, x, args...) arr[p] = (unsigned long long)(x); ___oxbpf_fill6(arr, p + 1, args)
#define ___oxbpf_fill8(arr, p, x, args...) arr[p] = (unsigned long long)(x); ___oxbpf_fill7(arr, p + 1, args)
#define ___oxbpf_fill9(arr, p, x, args...) arr[p] = (unsigned long long)(x); ___oxbpf_fill8(arr, p + 1, args)
#define ___oxbpf_fill10(arr, p, x, args...) arr[p] = (unsigned long long)(x); ___oxbpf_fill9(arr, p + 1, args)
#define ___oxbpf_fill11(arr, p, x, args...) arr[p] = (unsigned long long)(x); ___oxbpf_fill10(arr, p + 1, args)
#define ___oxbpf_fill12(arr, p, x, args...) arr[p] = (unsigned long long)(x); ___oxbpf_fill11(arr, p + 1, args)
#define ___oxbpf_fill(arr, args...) ___oxbpf_apply(___oxbpf_fill, ___oxbpf_narg(args))(arr, 0, args)

/* Up to 3 arguments: bpf_trace_printk; more: bpf_trace_vprintk (Linux 5.16+). */
#define ___oxbpf_printk3(fmt, args...)                                                   \
	({                                                                                   \
		static const char ____fmt[] = fmt;                                           \
		__oxbpf_trace_printk(____fmt, sizeof(____fmt), ##args);                      \
	})
#define ___oxbpf_vprintk(fmt, args...)                                                   \
	({                                                                                   \
		static const char ____fmt[] = fmt;                                           \
		unsigned long long ____param[___oxbpf_narg(args)];                           \
		___oxbpf_fill(____param, args)                                               \
		bpf_trace_vprintk(____fmt, sizeof(____fmt), ____param, sizeof(____param));   \
	})
#define ___oxbpf_pick_printk(...)                                                        \
	___oxbpf_nth(_, ##__VA_ARGS__, ___oxbpf_vprintk, ___oxbpf_vprintk, ___oxbpf_vprintk, \
		     ___oxbpf_vprintk, ___oxbpf_vprintk, ___oxbpf_vprintk, ___oxbpf_vprintk, \
		     ___oxbpf_vprintk, ___oxbpf_vprintk, ___oxbpf_printk3, ___oxbpf_printk3, \
		     ___oxbpf_printk3, ___oxbpf_printk3)

/* libbpf style: bpf_printk("x=%d", x) writes a line to the trace pipe. */
#define bpf_printk(fmt, args...) ___oxbpf_pick_printk(args)(fmt, ##args)

/* BCC style: the format string literal first; the size argument is added here, so
 * bpf_trace_printk("Hello, World!") works as it does in BCC. */
#define bpf_trace_printk(fmt, ...)                                                       \
	({                                                                                   \
		static const char ____fmt[] = fmt;                                           \
		bpf_trace_printk(____fmt, sizeof(____fmt), ##__VA_ARGS__);                   \
	})

/* ---- Byte order -------------------------------------------------------------------- */

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define bpf_htons(x) ((__be16)__builtin_bswap16(x))
#define bpf_ntohs(x) ((__u16)__builtin_bswap16(x))
#define bpf_htonl(x) ((__be32)__builtin_bswap32(x))
#define bpf_ntohl(x) ((__u32)__builtin_bswap32(x))
#define bpf_cpu_to_be64(x) ((__be64)__builtin_bswap64(x))
#define bpf_be64_to_cpu(x) ((__u64)__builtin_bswap64(x))
#else
#define bpf_htons(x) ((__be16)(x))
#define bpf_ntohs(x) ((__u16)(x))
#define bpf_htonl(x) ((__be32)(x))
#define bpf_ntohl(x) ((__u32)(x))
#define bpf_cpu_to_be64(x) ((__be64)(x))
#define bpf_be64_to_cpu(x) ((__u64)(x))
#endif

/* ---- CO-RE reads ------------------------------------------------------------------- */

/* bpf_core_read(dst, size, src): probe-read `src`, recording a CO-RE relocation so the
 * loader can adjust the field offset to the running kernel. */
#define bpf_core_read(dst, sz, src)                                                      \
	bpf_probe_read_kernel(dst, sz, (const void *)__builtin_preserve_access_index(src))
#define bpf_core_read_user(dst, sz, src)                                                 \
	bpf_probe_read_user(dst, sz, (const void *)__builtin_preserve_access_index(src))
#define bpf_core_read_str(dst, sz, src)                                                  \
	bpf_probe_read_kernel_str(dst, sz, (const void *)__builtin_preserve_access_index(src))
#define bpf_core_read_user_str(dst, sz, src)                                             \
	bpf_probe_read_user_str(dst, sz, (const void *)__builtin_preserve_access_index(src))

/* Plain (non-CO-RE) readers, for BPF_PROBE_READ. */
#define ___oxbpf_probe_read(dst, sz, src) bpf_probe_read_kernel(dst, sz, (const void *)(src))
#define ___oxbpf_probe_read_user(dst, sz, src) bpf_probe_read_user(dst, sz, (const void *)(src))

/* Field and type queries, answered by the loader from the running kernel's BTF. */
#define bpf_core_field_offset(field) __builtin_preserve_field_info(field, 0)
#define bpf_core_field_size(field) __builtin_preserve_field_info(field, 1)
#define bpf_core_field_exists(field) __builtin_preserve_field_info(field, 2)
#define bpf_core_type_exists(type) __builtin_preserve_type_info(*(typeof(type) *)0, 0)
#define bpf_core_type_size(type) __builtin_preserve_type_info(*(typeof(type) *)0, 1)
#define bpf_core_enum_value_exists(enum_type, enum_value)                                \
	__builtin_preserve_enum_value(*(typeof(enum_type) *)enum_value, 0)
#define bpf_core_enum_value(enum_type, enum_value)                                       \
	__builtin_preserve_enum_value(*(typeof(enum_type) *)enum_value, 1)

/* A chain of reads: ___oxbpf_chainN(rd, s, a, b, ...) reads s->a, then (s->a)->b, ...
 * each with `rd`, and yields the last value. */
#define ___oxbpf_chain1(rd, s, a)                                                        \
	({ typeof((s)->a) __r1; rd(&__r1, sizeof(__r1), &(s)->a); __r1; })
#define ___oxbpf_chain2(rd, s, a, b)                                                     \
	({ typeof((s)->a) __p1 = ___oxbpf_chain1(rd, s, a); ___oxbpf_chain1(rd, __p1, b); })
#define ___oxbpf_chain3(rd, s, a, b...)                                                  \
	({ typeof((s)->a) __p2 = ___oxbpf_chain1(rd, s, a); ___oxbpf_chain2(rd, __p2, b); })
#define ___oxbpf_chain4(rd, s, a, b...)                                                  \
	({ typeof((s)->a) __p3 = ___oxbpf_chain1(rd, s, a); ___oxbpf_chain3(rd, __p3, b); })
#define ___oxbpf_chain5(rd, s, a, b...)                                                  \
	({ typeof((s)->a) __p4 = ___oxbpf_chain1(rd, s, a); ___oxbpf_chain4(rd, __p4, b); })
#define ___oxbpf_chain6(rd, s, a, b...)                                                  \
	({ typeof((s)->a) __p5 = ___oxbpf_chain1(rd, s, a); ___oxbpf_chain5(rd, __p5, b); })
#define ___oxbpf_chain(rd, s, fields...)                                                 \
	___oxbpf_apply(___oxbpf_chain, ___oxbpf_narg(fields))(rd, s, fields)

/* BPF_CORE_READ(task, real_parent, tgid) == task->real_parent->tgid, read safely. */
#define BPF_CORE_READ(src, fields...) ___oxbpf_chain(bpf_core_read, src, fields)
#define BPF_CORE_READ_USER(src, fields...) ___oxbpf_chain(bpf_core_read_user, src, fields)
#define BPF_PROBE_READ(src, fields...) ___oxbpf_chain(___oxbpf_probe_read, src, fields)
#define BPF_PROBE_READ_USER(src, fields...) ___oxbpf_chain(___oxbpf_probe_read_user, src, fields)
/* BPF_CORE_READ_INTO(&dst, src, a, b): the same, stored into *dst; returns 0. */
#define BPF_CORE_READ_INTO(dst, src, fields...)                                          \
	({ *(dst) = BPF_CORE_READ(src, fields); 0; })

/* ---- Probe arguments --------------------------------------------------------------- */

/* Registers of the probed function from a `struct pt_regs *` context, by their slot in
 * the kernel's struct pt_regs (8-byte words). */
#if defined(__TARGET_ARCH_x86)
#define ___oxbpf_regs(x) ((const volatile unsigned long *)(x))
#define PT_REGS_PARM1(x) (___oxbpf_regs(x)[14]) /* di */
#define PT_REGS_PARM2(x) (___oxbpf_regs(x)[13]) /* si */
#define PT_REGS_PARM3(x) (___oxbpf_regs(x)[12]) /* dx */
#define PT_REGS_PARM4(x) (___oxbpf_regs(x)[11]) /* cx */
#define PT_REGS_PARM5(x) (___oxbpf_regs(x)[9])  /* r8 */
#define PT_REGS_RET(x) (___oxbpf_regs(x)[19])   /* sp */
#define PT_REGS_FP(x) (___oxbpf_regs(x)[4])     /* bp */
#define PT_REGS_RC(x) (___oxbpf_regs(x)[10])    /* ax */
#define PT_REGS_SP(x) (___oxbpf_regs(x)[19])    /* sp */
#define PT_REGS_IP(x) (___oxbpf_regs(x)[16])    /* ip */
#elif defined(__TARGET_ARCH_arm64)
#define ___oxbpf_regs(x) ((const volatile unsigned long *)(x))
#define PT_REGS_PARM1(x) (___oxbpf_regs(x)[0])
#define PT_REGS_PARM2(x) (___oxbpf_regs(x)[1])
#define PT_REGS_PARM3(x) (___oxbpf_regs(x)[2])
#define PT_REGS_PARM4(x) (___oxbpf_regs(x)[3])
#define PT_REGS_PARM5(x) (___oxbpf_regs(x)[4])
#define PT_REGS_RET(x) (___oxbpf_regs(x)[30]) /* lr */
#define PT_REGS_FP(x) (___oxbpf_regs(x)[29])
#define PT_REGS_RC(x) (___oxbpf_regs(x)[0])
#define PT_REGS_SP(x) (___oxbpf_regs(x)[31])
#define PT_REGS_IP(x) (___oxbpf_regs(x)[32])  /* pc */
#endif

#ifdef PT_REGS_PARM1
#define ___oxbpf_kargs0() ctx
#define ___oxbpf_kargs1(x) ___oxbpf_kargs0(), (void *)PT_REGS_PARM1(ctx)
#define ___oxbpf_kargs2(x, args...) ___oxbpf_kargs1(args), (void *)PT_REGS_PARM2(ctx)
#define ___oxbpf_kargs3(x, args...) ___oxbpf_kargs2(args), (void *)PT_REGS_PARM3(ctx)
#define ___oxbpf_kargs4(x, args...) ___oxbpf_kargs3(args), (void *)PT_REGS_PARM4(ctx)
#define ___oxbpf_kargs5(x, args...) ___oxbpf_kargs4(args), (void *)PT_REGS_PARM5(ctx)
#define ___oxbpf_kargs(args...) ___oxbpf_apply(___oxbpf_kargs, ___oxbpf_narg(args))(args)

/* int BPF_KPROBE(name, struct file *f, int mode) { ... }: a kprobe with typed
 * arguments taken from the registers. `ctx` is the struct pt_regs pointer. */
#define BPF_KPROBE(name, args...)                                                        \
	name(struct pt_regs *ctx);                                                           \
	static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##args);      \
	typeof(name(0)) name(struct pt_regs *ctx)                                            \
	{                                                                                    \
		_Pragma("GCC diagnostic push")                                               \
		_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")                       \
		return ____##name(___oxbpf_kargs(args));                                     \
		_Pragma("GCC diagnostic pop")                                                \
	}                                                                                    \
	static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##args)

#define ___oxbpf_kretargs0() ctx
#define ___oxbpf_kretargs1(x) ___oxbpf_kretargs0(), (void *)PT_REGS_RC(ctx)
#define ___oxbpf_kretargs(args...) ___oxbpf_apply(___oxbpf_kretargs, ___oxbpf_narg(args))(args)

/* int BPF_KRETPROBE(name, long ret) { ... }: a kretprobe with the return value. */
#define BPF_KRETPROBE(name, args...)                                                     \
	name(struct pt_regs *ctx);                                                           \
	static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##args);      \
	typeof(name(0)) name(struct pt_regs *ctx)                                            \
	{                                                                                    \
		_Pragma("GCC diagnostic push")                                               \
		_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")                       \
		return ____##name(___oxbpf_kretargs(args));                                  \
		_Pragma("GCC diagnostic pop")                                                \
	}                                                                                    \
	static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##args)
#endif

/* int BPF_PROG(name, struct task_struct *prev, ...) { ... }: fentry, fexit, tp_btf and
 * raw_tp programs, whose context is an array of 64-bit arguments. */
#define ___oxbpf_cargs0() ctx
#define ___oxbpf_cargs1(x) ___oxbpf_cargs0(), (void *)ctx[0]
#define ___oxbpf_cargs2(x, args...) ___oxbpf_cargs1(args), (void *)ctx[1]
#define ___oxbpf_cargs3(x, args...) ___oxbpf_cargs2(args), (void *)ctx[2]
#define ___oxbpf_cargs4(x, args...) ___oxbpf_cargs3(args), (void *)ctx[3]
#define ___oxbpf_cargs5(x, args...) ___oxbpf_cargs4(args), (void *)ctx[4]
#define ___oxbpf_cargs6(x, args...) ___oxbpf_cargs5(args), (void *)ctx[5]
#define ___oxbpf_cargs7(x, args...) ___oxbpf_cargs6(args), (void *)ctx[6]
#define ___oxbpf_cargs8(x, args...) ___oxbpf_cargs7(args), (void *)ctx[7]
#define ___oxbpf_cargs(args...) ___oxbpf_apply(___oxbpf_cargs, ___oxbpf_narg(args))(args)

#define BPF_PROG(name, args...)                                                          \
	name(unsigned long long *ctx);                                                       \
	static __always_inline typeof(name(0)) ____##name(unsigned long long *ctx, ##args);  \
	typeof(name(0)) name(unsigned long long *ctx)                                        \
	{                                                                                    \
		_Pragma("GCC diagnostic push")                                               \
		_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")                       \
		return ____##name(___oxbpf_cargs(args));                                     \
		_Pragma("GCC diagnostic pop")                                                \
	}                                                                                    \
	static __always_inline typeof(name(0)) ____##name(unsigned long long *ctx, ##args)

#endif /* __OXBPF_H */
