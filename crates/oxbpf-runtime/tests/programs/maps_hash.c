// SPDX-License-Identifier: MIT OR Apache-2.0
// Hash, LRU hash and per-CPU hash: capacity, flags, delete, in-place updates.
struct pair {
	u64 a;
	u64 b;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, u32);
	__type(value, struct pair);
} table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u32);
} recent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
} per_cpu SEC(".maps");

SEC("raw_tp/sys_enter")
int hash_ops(void *ctx)
{
	int ok = 0, full = 0;
	u32 i;

	for (int n = 0; n < 10; n++) {
		/* The key gets its own stack slot so the loop counter stays a register. */
		u32 key = n;
		struct pair p = { .a = n, .b = n * n };
		long r = bpf_map_update_elem(&table, &key, &p, BPF_NOEXIST);
		if (r == 0)
			ok++;
		else if (r == -7) /* E2BIG */
			full++;
	}
	i = 3;
	if (bpf_map_delete_elem(&table, &i) != 0)
		return -1;
	if (bpf_map_delete_elem(&table, &i) != -2) /* ENOENT */
		return -2;
	i = 5;
	struct pair *v = bpf_map_lookup_elem(&table, &i);
	if (!v)
		return -3;
	v->b += 1;
	struct pair q = { .a = 50, .b = 51 };
	i = 6;
	if (bpf_map_update_elem(&table, &i, &q, BPF_EXIST) != 0)
		return -4;
	i = 42;
	if (bpf_map_update_elem(&table, &i, &q, BPF_EXIST) != -2)
		return -5;
	for (int n = 0; n < 16; n++) {
		u32 key = n, val = n * 10;
		bpf_map_update_elem(&recent, &key, &val, BPF_ANY);
	}
	i = 1;
	u64 one = 1;
	bpf_map_update_elem(&per_cpu, &i, &one, BPF_ANY);
	u64 *c = bpf_map_lookup_elem(&per_cpu, &i);
	if (c)
		*c += 10;
	return ok * 100 + full;
}

char LICENSE[] SEC("license") = "GPL";
