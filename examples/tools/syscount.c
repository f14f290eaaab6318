// syscount: system calls counted by number, with their total time and a log2 histogram
// of their latency in microseconds, as BCC's syscount (-L) prints them. It attaches to
// raw_syscalls:sys_enter/sys_exit (every system call; in userspace: every system call of
// the traced command) and counts at exit, as BCC does.

struct sys_enter {
	__u64 common;
	__s64 id;
	__u64 args[6];
};

struct sys_exit {
	__u64 common;
	__s64 id;
	__s64 ret;
};

struct stat {
	__u64 count;
	__u64 total_ns;
};

struct config {
	__u32 pid;     /* 0: every process */
	__u32 pad;
	char comm[16]; /* "": every name */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct stat);
} data SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65);
	__type(key, __u32);
	__type(value, __u64);
} latency_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} config SEC(".maps");

static __always_inline int wanted(__u64 id)
{
	__u32 zero = 0;
	struct config *c = bpf_map_lookup_elem(&config, &zero);
	if (!c)
		return 1;
	if (c->pid && c->pid != (id >> 32))
		return 0;
	if (c->comm[0]) {
		char comm[16] = {};
		bpf_get_current_comm(comm, sizeof(comm));
		for (int i = 0; i < 16; i++) {
			if (comm[i] != c->comm[i])
				return 0;
			if (!comm[i])
				break;
		}
	}
	return 1;
}

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

SEC("tracepoint/raw_syscalls/sys_enter")
int syscount_enter(struct sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!wanted(id))
		return 0;
	__u32 tid = (__u32)id;
	__u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int syscount_exit(struct sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!wanted(id))
		return 0;
	__u32 tid = (__u32)id;
	__u32 nr = (__u32)ctx->id;
	__u64 *ts = bpf_map_lookup_elem(&start, &tid);
	__u64 dt = 0;
	if (ts) {
		dt = bpf_ktime_get_ns() - *ts;
		bpf_map_delete_elem(&start, &tid);
		__u32 slot = log2l(dt / 1000);
		__u64 *h = bpf_map_lookup_elem(&latency_hist, &slot);
		if (h)
			__sync_fetch_and_add(h, 1);
	}
	struct stat *s = bpf_map_lookup_elem(&data, &nr);
	if (s) {
		__sync_fetch_and_add(&s->count, 1);
		__sync_fetch_and_add(&s->total_ns, dt);
	} else {
		struct stat n = {.count = 1, .total_ns = dt};
		bpf_map_update_elem(&data, &nr, &n, BPF_NOEXIST);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
