// SPDX-License-Identifier: MIT OR Apache-2.0
// bpf_loop with a callback that stops early, and a bounded loop.
struct acc {
	u64 sum;
	u64 calls;
};

u64 results[4];

static long step(u32 i, struct acc *a)
{
	a->sum += i;
	a->calls++;
	return i == 9 ? 1 : 0;
}

static long count(u32 i, u64 *n)
{
	*n += 1;
	return 0;
}

SEC("raw_tp/sys_enter")
int loops(void *ctx)
{
	struct acc a = {};
	u64 n = 0, squares = 0;

	results[0] = bpf_loop(100, step, &a, 0); /* stops after i == 9: 10 */
	results[1] = a.sum;                       /* 45 */
	results[2] = bpf_loop(1000, count, &n, 0) + n; /* 2000 */
	results[3] = bpf_loop(1, count, &n, 1);   /* -EINVAL */
	for (int i = 0; i < 64; i++)
		squares += i * i;
	return squares; /* 85344 */
}

char LICENSE[] SEC("license") = "GPL";
