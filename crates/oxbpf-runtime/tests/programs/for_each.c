// SPDX-License-Identifier: MIT OR Apache-2.0
// bpf_for_each_map_elem over an array (stopping early) and a hash map.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 5);
	__type(key, u32);
	__type(value, u64);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, u32);
	__type(value, u64);
} hsh SEC(".maps");

struct walk {
	u64 sum;
	u64 keys;
	u64 visits;
};

u64 results[4];

/* Stops after the third element (key 2). The decision depends on the key, not on a
 * counter the callback increments: Linux verifies callbacks like loop bodies and gives
 * up ("BPF program is too large") when a decision depends on a growing counter. */
static long visit(void *map, u32 *key, u64 *val, struct walk *w)
{
	w->sum += *val;
	w->keys += *key;
	w->visits++;
	*val *= 2;
	return *key >= 2 ? 1 : 0;
}

static long visit_all(void *map, u32 *key, u64 *val, struct walk *w)
{
	w->sum += *val;
	w->visits++;
	return 0;
}

SEC("raw_tp/sys_enter")
int for_each(void *ctx)
{
	struct walk w = {};
	/* The loop counters stay in registers (a copy is the key): verifiers track a
	 * counter they can see, not one that lives in a 4-byte stack slot. */
	for (u32 i = 0; i < 5; i++) {
		u32 k = i;
		u64 v = 10 * (i + 1);
		bpf_map_update_elem(&arr, &k, &v, BPF_ANY);
	}
	for (u32 i = 100; i < 104; i++) {
		u32 k = i;
		u64 v = i;
		bpf_map_update_elem(&hsh, &k, &v, BPF_ANY);
	}
	results[0] = bpf_for_each_map_elem(&arr, visit, &w, 0); /* 3 */
	results[1] = w.sum;                                      /* 60 */
	results[2] = w.keys;                                     /* 3 */
	struct walk all = {};
	bpf_for_each_map_elem(&hsh, visit_all, &all, 0);
	results[3] = all.sum * 100 + all.visits; /* 40604 */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
