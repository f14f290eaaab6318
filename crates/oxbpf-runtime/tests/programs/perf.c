// SPDX-License-Identifier: MIT OR Apache-2.0
// bpf_perf_event_output to the current CPU's buffer.
struct sample {
	u32 a;
	u32 b;
	u64 c;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(max_entries, 64);
	__uint(key_size, 4);
	__uint(value_size, 4);
} events SEC(".maps");

SEC("raw_tp/sys_enter")
int perf(void *ctx)
{
	struct sample s = { .a = 1, .b = 2, .c = 0x0102030405060708 };
	return bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &s, sizeof(s));
}

char LICENSE[] SEC("license") = "GPL";
