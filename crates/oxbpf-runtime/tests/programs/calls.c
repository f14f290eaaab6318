// SPDX-License-Identifier: MIT OR Apache-2.0
// bpf-to-bpf calls passing pointers to the caller's stack.
static __noinline int add(int *a, int b)
{
	*a += b;
	return *a;
}

static __noinline int twice(int *a)
{
	add(a, 1);
	return add(a, 2);
}

static __noinline u64 mix(u64 a, u64 b, u64 c, u64 d, u64 e)
{
	return a + 2 * b + 3 * c + 4 * d + 5 * e;
}

SEC("raw_tp/sys_enter")
int calls(void *ctx)
{
	int x = 10;
	int r = twice(&x);
	return r * 100 + x + mix(1, 2, 3, 4, 5) * 10000;
}

char LICENSE[] SEC("license") = "GPL";
