// SPDX-License-Identifier: MIT OR Apache-2.0
// The classic: one trace line.
SEC("raw_tp/sys_enter")
int hello(void *ctx)
{
	bpf_trace_printk("Hello, World!");
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
