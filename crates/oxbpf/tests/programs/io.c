// Bytes read and written per process, and histograms of read sizes.
#include "syscalls.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} read_bytes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} write_bytes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65);
	__type(key, __u32);
	__type(value, __u64);
} read_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} read_lhist SEC(".maps");

static __always_inline void add(void *map, __u32 key, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(map, &key);
	if (v)
		__sync_fetch_and_add(v, n);
	else
		bpf_map_update_elem(map, &key, &n, BPF_NOEXIST);
}

SEC("tracepoint/syscalls/sys_exit_read")
int on_read(struct sys_exit *ctx)
{
	if (ctx->ret < 0)
		return 0;
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	add(&read_bytes, pid, ctx->ret);
	__u32 slot = log2l(ctx->ret);
	__u64 *h = bpf_map_lookup_elem(&read_hist, &slot);
	if (h)
		__sync_fetch_and_add(h, 1);
	__u32 kb = (__u64)ctx->ret / 1024;
	if (kb > 15)
		kb = 15;
	h = bpf_map_lookup_elem(&read_lhist, &kb);
	if (h)
		__sync_fetch_and_add(h, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_write")
int on_write(struct sys_exit *ctx)
{
	if (ctx->ret < 0)
		return 0;
	add(&write_bytes, bpf_get_current_pid_tgid() >> 32, ctx->ret);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
