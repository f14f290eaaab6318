// Every openat: a trace line with the file name, a ring buffer record, a perf event and
// counts per process and per thread.
#include "syscalls.h"

struct event {
	__u32 pid;
	__u32 tid;
	char name[64];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} opens SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} by_tid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

static __always_inline void count(void *map, __u32 key)
{
	__u64 one = 1, *v = bpf_map_lookup_elem(map, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(map, &key, &one, BPF_NOEXIST);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct event e = {};
	e.pid = id >> 32;
	e.tid = (__u32)id;
	bpf_probe_read_user_str(e.name, sizeof(e.name), (void *)ctx->args[1]);
	bpf_printk("open %s", e.name);
	count(&opens, e.pid);
	count(&by_tid, e.tid);
	bpf_ringbuf_output(&events, &e, sizeof(e), 0);
	bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
