// SPDX-License-Identifier: MIT OR Apache-2.0
// .data, .rodata and .bss variables, and a string from .data in a trace line.
u64 counter = 5;
const volatile u32 limit = 3;
u64 bss_total;
char msg[8] = "oxbpf";

SEC("raw_tp/sys_enter")
int globals(void *ctx)
{
	counter++;
	bss_total += counter * limit;
	bpf_printk("%s %d", msg, limit);
	return counter;
}

char LICENSE[] SEC("license") = "GPL";
