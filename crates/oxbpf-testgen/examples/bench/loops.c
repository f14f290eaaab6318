/* Loop-heavy workloads for the JIT benchmark. Compiled twice: for BPF (clang -O2 -target
 * bpf, run by oxbpf's JIT and by the kernel) and natively (clang -O2), same source. */
typedef unsigned long long u64;
typedef unsigned int u32;

#ifdef __bpf__
#define SEC(s) __attribute__((section(s), used))
#else
#define SEC(s)
#endif

/* xorshift64 over 10000 iterations with a data-dependent branch. */
SEC("xdp/xorshift") u64 xorshift(void *ctx)
{
	u64 x = 88172645463325252ULL, s = 0;
	for (int i = 0; i < 10000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (x & 1)
			s += x >> 3;
		else
			s ^= x;
	}
	return (u32)(s ^ (s >> 32));
}

/* Sum of an array on the stack, rewritten in place: loads, stores and index arithmetic. */
SEC("xdp/stack_array") u64 stack_array(void *ctx)
{
	u64 a[32];
	u64 s = 0;
	for (int i = 0; i < 32; i++)
		a[i] = i * 2654435761u;
	for (int r = 0; r < 200; r++) {
		for (int i = 1; i < 32; i++) {
			a[i] += a[i - 1] ^ (u64)r;
			s += a[i] >> 5;
		}
	}
	return (u32)(s ^ (s >> 32));
}

/* Collatz steps summed over a range: divisions by 2, multiplications, unpredictable
 * branches. */
SEC("xdp/collatz") u64 collatz(void *ctx)
{
	u64 total = 0;
	for (u64 n = 1; n < 300; n++) {
		u64 x = n;
		for (int k = 0; k < 200 && x != 1; k++) {
			x = (x & 1) ? 3 * x + 1 : x / 2;
			total++;
		}
	}
	return (u32)total;
}
