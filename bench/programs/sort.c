/* sort: bitonic sort of 64 32-bit words in a stack array, for eight 256-byte chunks of
 * the buffer; returns a position-weighted checksum of the sorted chunks. The
 * compare-exchange is branch-free (a sorting network), so the verifier walks one path. */
#include "bench.h"

#define N 64
#define CHUNKS 8

SEC("xdp")
u64 bench_sort(u8 *buf, u64 len)
{
	u32 a[N];
	if (len < BUF_SIZE)
		return 0;
	u64 acc = 0;
	for (u32 c = 0; c < CHUNKS; c++) {
		const u32 *src = (const u32 *)(buf + c * N * 4);
		for (u32 i = 0; i < N; i++) {
			u32 x = src[i];
			barrier_var(x); /* a copy loop, not a memcpy call */
			a[i] = x;
		}
		for (u32 k = 2; k <= N; k <<= 1) {
			for (u32 j = k >> 1; j > 0; j >>= 1) {
				for (u32 i = 0; i < N; i++) {
					u32 l = i ^ j;
					if (l <= i)
						continue;
					u64 x = a[i], y = a[l];
					u64 diff = y - x; /* negative when the pair is out of order */
					barrier_var(diff);
					u64 swap = 0 - (diff >> 63);
					if (i & k) /* descending half */
						swap = ~swap;
					barrier_var(swap);
					u64 d = (x ^ y) & swap;
					a[i] = x ^ d;
					a[l] = y ^ d;
				}
			}
		}
		for (u32 i = 0; i < N; i++)
			acc = acc * 31 + (u64)a[i] * (i + 1);
	}
	return acc;
}
