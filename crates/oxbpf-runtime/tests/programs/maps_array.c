// SPDX-License-Identifier: MIT OR Apache-2.0
// Array and per-CPU array: lookups, atomic adds, out-of-range keys, update flags.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, u64);
} pcpu SEC(".maps");

SEC("raw_tp/sys_enter")
int array_ops(void *ctx)
{
	u64 total = 0, val = 100;
	u32 k;
	long r;

	for (int i = 0; i < 4; i++) {
		/* The key gets its own stack slot so the loop counter stays a register. */
		u32 key = i;
		u64 *v = bpf_map_lookup_elem(&counts, &key);
		if (!v)
			return -1;
		__sync_fetch_and_add(v, i + 1);
		total += *v;
	}
	k = 4;
	if (bpf_map_lookup_elem(&counts, &k))
		return -2;
	r = bpf_map_update_elem(&counts, &k, &val, BPF_ANY);
	if (r != -7) /* E2BIG */
		return -3;
	k = 1;
	r = bpf_map_update_elem(&counts, &k, &val, BPF_NOEXIST);
	if (r != -17) /* EEXIST */
		return -4;
	r = bpf_map_delete_elem(&counts, &k);
	if (r != -22) /* EINVAL */
		return -5;
	k = 0;
	u64 *p = bpf_map_lookup_elem(&pcpu, &k);
	if (!p)
		return -6;
	*p += 7;
	return total;
}

char LICENSE[] SEC("license") = "GPL";
