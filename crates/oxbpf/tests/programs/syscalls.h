/* The records of the syscalls:sys_enter_* and sys_exit_* tracepoints (see
 * /sys/kernel/tracing/events/syscalls/sys_enter_openat/format). */
struct sys_enter {
	__u16 common_type;
	__u8 common_flags;
	__u8 common_preempt_count;
	__s32 common_pid;
	__s32 nr;
	__u32 pad;
	__u64 args[6];
};

struct sys_exit {
	__u16 common_type;
	__u8 common_flags;
	__u8 common_preempt_count;
	__s32 common_pid;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

/* BCC's bpf_log2l: 1 for 0 and 1, 2 for 2..3, 3 for 4..7, ... */
static __always_inline __u32 log2l(__u64 v)
{
	__u32 r = 0;
	while (v && r < 64) {
		v >>= 1;
		r++;
	}
	return r ? r : 1;
}
