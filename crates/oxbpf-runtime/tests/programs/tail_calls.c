// SPDX-License-Identifier: MIT OR Apache-2.0
// Tail calls: a chain through a program array, and a program that tail-calls itself
// until the kernel's limit of 33 stops it.
u32 depth;
u32 loops;

int step1(void *ctx);
int step2(void *ctx);
int again(void *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__array(values, int(void *));
} jmp SEC(".maps") = {
	.values = {
		[1] = (void *)&step1,
		[2] = (void *)&step2,
		[3] = (void *)&again,
	},
};

SEC("raw_tp/sys_enter")
int step2(void *ctx)
{
	depth += 100;
	return 2;
}

SEC("raw_tp/sys_enter")
int step1(void *ctx)
{
	depth += 10;
	bpf_tail_call(ctx, &jmp, 2);
	return 1;
}

SEC("raw_tp/sys_enter")
int entry(void *ctx)
{
	depth += 1;
	bpf_tail_call(ctx, &jmp, 1);
	return 0;
}

SEC("raw_tp/sys_enter")
int again(void *ctx)
{
	loops++;
	bpf_tail_call(ctx, &jmp, 3);
	return loops;
}

SEC("raw_tp/sys_enter")
int missing(void *ctx)
{
	/* Slot 0 is empty: the call fails and execution continues. */
	bpf_tail_call(ctx, &jmp, 0);
	bpf_tail_call(ctx, &jmp, 9);
	return 7;
}

char LICENSE[] SEC("license") = "GPL";
