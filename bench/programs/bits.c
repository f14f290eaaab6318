/* bits: branch-free bit tricks over the buffer's 64-bit words: population count, bit
 * reversal, leading and trailing zero counts, Gray code, parity. */
#include "bench.h"

INLINE u64 popcount(u64 x)
{
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (x * 0x0101010101010101ULL) >> 56;
}

INLINE u64 bitrev(u64 x)
{
	x = ((x >> 1) & 0x5555555555555555ULL) | ((x & 0x5555555555555555ULL) << 1);
	x = ((x >> 2) & 0x3333333333333333ULL) | ((x & 0x3333333333333333ULL) << 2);
	x = ((x >> 4) & 0x0f0f0f0f0f0f0f0fULL) | ((x & 0x0f0f0f0f0f0f0f0fULL) << 4);
	return __builtin_bswap64(x);
}

/* Leading zeros: smear the highest set bit right, count what is left unset. */
INLINE u64 clz(u64 x)
{
	x |= x >> 1;
	x |= x >> 2;
	x |= x >> 4;
	x |= x >> 8;
	x |= x >> 16;
	x |= x >> 32;
	barrier_var(x);
	return 64 - popcount(x);
}

/* Trailing zeros: the bits below the lowest set bit (64 for zero). */
INLINE u64 ctz(u64 x)
{
	u64 low = x & (0 - x);
	barrier_var(low);
	return popcount(low - 1);
}

SEC("xdp")
u64 bench_bits(u8 *buf, u64 len)
{
	if (len < BUF_SIZE)
		return 0;
	const u64 *w = (const u64 *)buf;
	u64 acc = 0;
	for (u32 r = 0; r < 2; r++) {
		for (u32 i = 0; i < BUF_SIZE / 8; i++) {
			u64 x = w[i] ^ (acc >> r);
			u64 gray = x ^ (x >> 1);
			u64 parity = popcount(x) & 1;
			acc += popcount(x) + (clz(x) << 8) + (ctz(x) << 16) + (parity << 24);
			acc = rotl64(acc, 13) ^ bitrev(gray);
		}
	}
	return acc;
}
