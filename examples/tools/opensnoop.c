// opensnoop: every open(2)/openat(2) with its process, result and path, as BCC's
// opensnoop prints them. Tracepoints only, so it runs on both oxbpf backends (userspace:
// the opens of a traced command; kernel: the whole system, or -p PID).

struct sys_enter {
	__u64 common;
	__s64 nr;
	__u64 args[6];
};

struct sys_exit {
	__u64 common;
	__s64 nr;
	__s64 ret;
};

/* No padding: oxbpf's verifier refuses passing uninitialized stack bytes to helpers. */
struct args {
	const char *fname;
	__s64 flags;
};

#define NAME_MAX 255

struct event {
	__u32 pid;
	__u32 tid;
	__s64 ret;
	__s32 flags;
	char comm[16];
	char fname[NAME_MAX + 1];
};

struct config {
	__u32 pid; /* 0: every process */
	__u32 failed_only;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct args);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} config SEC(".maps");

static __always_inline struct config *cfg(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&config, &zero);
}

static __always_inline int enter(const char *fname, __s32 flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct config *c = cfg();
	if (c && c->pid && c->pid != (id >> 32))
		return 0;
	__u32 tid = (__u32)id;
	struct args a = {.fname = fname, .flags = flags};
	bpf_map_update_elem(&start, &tid, &a, BPF_ANY);
	return 0;
}

static __always_inline int leave(__s64 ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct args *a = bpf_map_lookup_elem(&start, &tid);
	if (!a)
		return 0;
	struct config *c = cfg();
	if (c && c->failed_only && ret >= 0)
		goto out;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		goto out;
	e->pid = id >> 32;
	e->tid = tid;
	e->ret = ret;
	e->flags = a->flags;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->fname, sizeof(e->fname), a->fname);
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int open_enter(struct sys_enter *ctx)
{
	return enter((const char *)ctx->args[0], (__s32)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int openat_enter(struct sys_enter *ctx)
{
	return enter((const char *)ctx->args[1], (__s32)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_open")
int open_exit(struct sys_exit *ctx)
{
	return leave(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int openat_exit(struct sys_exit *ctx)
{
	return leave(ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
