// execsnoop: every execve(2) with its process, result and arguments, as BCC's
// execsnoop prints them. The arguments are read at entry (into a per-thread slot), the
// result and the new program's name at exit.

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

#define MAXARG 16
#define ARGSIZE 64

struct event {
	__u32 pid;
	__u32 ppid; /* 0: the reader looks it up */
	__s32 ret;
	__u32 argc; /* arguments read, the file name included */
	__u32 truncated;
	char comm[16];
	char args[MAXARG][ARGSIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct event);
} execs SEC(".maps");

/* Scratch space for building an event (too large for the 512-byte stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event);
} heap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target_pid SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int execve_enter(struct sys_enter *ctx)
{
	__u32 zero = 0;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 *want = bpf_map_lookup_elem(&target_pid, &zero);
	if (want && *want && *want != (id >> 32))
		return 0;
	struct event *e = bpf_map_lookup_elem(&heap, &zero);
	if (!e)
		return 0;
	e->pid = id >> 32;
	e->ppid = 0;
	e->ret = 0;
	e->truncated = 0;
	e->comm[0] = 0;
	bpf_probe_read_user_str(e->args[0], ARGSIZE, (const char *)ctx->args[0]);
	const char *const *argv = (const char *const *)ctx->args[1];
	__u32 argc = 1;
#pragma unroll
	for (int i = 1; i < MAXARG; i++) {
		const char *p = 0;
		if (bpf_probe_read_user(&p, sizeof(p), &argv[i]) || !p)
			goto done;
		bpf_probe_read_user_str(e->args[i], ARGSIZE, p);
		argc++;
	}
	/* More arguments than fit. */
	{
		const char *p = 0;
		if (!bpf_probe_read_user(&p, sizeof(p), &argv[MAXARG]) && p)
			e->truncated = 1;
	}
done:
	e->argc = argc;
	__u32 tid = (__u32)id;
	bpf_map_update_elem(&execs, &tid, e, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int execve_exit(struct sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event *e = bpf_map_lookup_elem(&execs, &tid);
	if (!e)
		return 0;
	e->ret = ctx->ret;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_output(&events, e, sizeof(*e), 0);
	bpf_map_delete_elem(&execs, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
