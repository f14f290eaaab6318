// SPDX-License-Identifier: MIT OR Apache-2.0
// Longest-prefix match on IPv4 prefixes.
struct key4 {
	u32 prefixlen;
	u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct key4);
	__type(value, u32);
} routes SEC(".maps");

static __always_inline u32 route(u8 a, u8 b, u8 c, u8 d)
{
	struct key4 k = { .prefixlen = 32, .addr = { a, b, c, d } };
	u32 *v = bpf_map_lookup_elem(&routes, &k);
	return v ? *v : 0;
}

SEC("raw_tp/sys_enter")
int lpm_ops(void *ctx)
{
	struct key4 k = { .prefixlen = 8, .addr = { 10, 0, 0, 0 } };
	u32 v = 1;
	bpf_map_update_elem(&routes, &k, &v, BPF_ANY);
	struct key4 k2 = { .prefixlen = 16, .addr = { 10, 1, 0, 0 } };
	v = 2;
	bpf_map_update_elem(&routes, &k2, &v, BPF_ANY);
	struct key4 k3 = { .prefixlen = 24, .addr = { 10, 1, 2, 0 } };
	v = 3;
	bpf_map_update_elem(&routes, &k3, &v, BPF_ANY);
	return route(10, 1, 2, 3) * 1000 + route(10, 1, 9, 9) * 100 + route(10, 7, 7, 7) * 10 +
	       route(11, 0, 0, 1);
}

char LICENSE[] SEC("license") = "GPL";
