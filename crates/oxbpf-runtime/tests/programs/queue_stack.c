// SPDX-License-Identifier: MIT OR Apache-2.0
// Queue, stack and bloom filter: push, pop, peek, overflow, membership.
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4);
	__type(value, u32);
} fifo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 3);
	__type(value, u32);
} lifo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_ZERO_SEED);
	__uint(map_extra, 3);
	__type(value, u32);
} seen SEC(".maps");

u64 results[8];

SEC("raw_tp/sys_enter")
int queue_ops(void *ctx)
{
	u32 v, i;
	long r;

	for (i = 1; i <= 5; i++) {
		v = i * 11;
		r = bpf_map_push_elem(&fifo, &v, BPF_ANY);
		if (i == 5)
			results[0] = r; /* -E2BIG: full */
	}
	bpf_map_pop_elem(&fifo, &v);
	results[1] = v; /* 11 */
	bpf_map_peek_elem(&fifo, &v);
	results[2] = v; /* 22 */
	for (i = 1; i <= 4; i++) {
		v = i;
		bpf_map_push_elem(&lifo, &v, BPF_EXIST); /* overwrites the oldest */
	}
	bpf_map_pop_elem(&lifo, &v);
	results[3] = v; /* 4 */
	bpf_map_pop_elem(&lifo, &v);
	bpf_map_pop_elem(&lifo, &v);
	results[4] = v; /* 2 */
	results[5] = bpf_map_pop_elem(&lifo, &v); /* -ENOENT */
	v = 10;
	bpf_map_push_elem(&seen, &v, 0);
	results[6] = bpf_map_peek_elem(&seen, &v); /* 0 */
	v = 30;
	results[7] = bpf_map_peek_elem(&seen, &v); /* -ENOENT */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
