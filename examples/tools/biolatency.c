// biolatency: block device I/O latency as a log2 histogram in microseconds, as BCC's
// biolatency prints it. From block:block_rq_issue to block:block_rq_complete, keyed by
// device and sector. Kernel only (the userspace backend has no block layer).

struct rq_issue {
	__u64 common;
	__u32 dev;
	__u32 pad;
	__u64 sector;
	__u32 nr_sector;
	__u32 bytes;
	/* ioprio, rwbs, comm, cmd follow */
};

struct rq_complete {
	__u64 common;
	__u32 dev;
	__u32 pad;
	__u64 sector;
	__u32 nr_sector;
	__s32 error;
};

struct rq_key {
	__u32 dev;
	__u32 pad;
	__u64 sector;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct rq_key);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65);
	__type(key, __u32);
	__type(value, __u64);
} dist SEC(".maps");

static __always_inline __u32 log2l(__u64 v)
{
	__u32 r = 0;
	while (v && r < 64) {
		v >>= 1;
		r++;
	}
	return r ? r : 1;
}

SEC("tracepoint/block/block_rq_issue")
int rq_issue(struct rq_issue *ctx)
{
	struct rq_key k = {.dev = ctx->dev, .sector = ctx->sector};
	__u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &k, &ts, BPF_ANY);
	return 0;
}

SEC("tracepoint/block/block_rq_complete")
int rq_complete(struct rq_complete *ctx)
{
	struct rq_key k = {.dev = ctx->dev, .sector = ctx->sector};
	__u64 *ts = bpf_map_lookup_elem(&start, &k);
	if (!ts)
		return 0;
	__u64 us = (bpf_ktime_get_ns() - *ts) / 1000;
	bpf_map_delete_elem(&start, &k);
	__u32 slot = log2l(us);
	__u64 *c = bpf_map_lookup_elem(&dist, &slot);
	if (c)
		__sync_fetch_and_add(c, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
