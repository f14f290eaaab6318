// SPDX-License-Identifier: MIT OR Apache-2.0
// An array of maps: look up an inner map, then a value in it.
struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} inner1 SEC(".maps"), inner2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, u32);
	__array(values, struct inner_map);
} outer SEC(".maps") = {
	.values = { [0] = &inner1, [1] = &inner2 },
};

SEC("raw_tp/sys_enter")
int maps_of_maps(void *ctx)
{
	u32 zero = 0;
	for (u32 k = 0; k < 2; k++) {
		void *m = bpf_map_lookup_elem(&outer, &k);
		if (!m)
			return -1;
		u64 *v = bpf_map_lookup_elem(m, &zero);
		if (!v)
			return -2;
		*v += k + 1;
	}
	u32 k = 3;
	if (bpf_map_lookup_elem(&outer, &k))
		return -3;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
