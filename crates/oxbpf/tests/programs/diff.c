// What a differential test compares between the kernel and the userspace runtime: for the
// processes named COMM only (the kernel sees every process), openat calls per process,
// bytes read, a log2 histogram of read sizes, a trace line per openat and a ring buffer
// record per read.
#include "syscalls.h"

#ifndef COMM
#define COMM "sysw"
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} opens SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} read_total SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65);
	__type(key, __u32);
	__type(value, __u64);
} read_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} reads SEC(".maps");

static __always_inline int ours(void)
{
	char comm[16] = {};
	const char want[] = COMM;
	bpf_get_current_comm(comm, sizeof(comm));
	for (int i = 0; i < (int)sizeof(want); i++)
		if (comm[i] != want[i])
			return 0;
	return 1;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int diff_openat(struct sys_enter *ctx)
{
	if (!ours())
		return 0;
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1, *v = bpf_map_lookup_elem(&opens, &pid);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&opens, &pid, &one, BPF_NOEXIST);
	bpf_printk("openat flags %d", (int)ctx->args[2]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_read")
int diff_read(struct sys_exit *ctx)
{
	if (!ours() || ctx->ret < 0)
		return 0;
	__u32 zero = 0, slot = log2l(ctx->ret);
	__u64 *t = bpf_map_lookup_elem(&read_total, &zero);
	if (t)
		__sync_fetch_and_add(t, ctx->ret);
	__u64 *h = bpf_map_lookup_elem(&read_hist, &slot);
	if (h)
		__sync_fetch_and_add(h, 1);
	__s64 *r = bpf_ringbuf_reserve(&reads, sizeof(__s64), 0);
	if (r) {
		*r = ctx->ret;
		bpf_ringbuf_submit(r, 0);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
