/* sieve: sieve of Eratosthenes over the odd numbers below 6144, as a bitmap on the
 * stack; the result mixes the prime count with the input. */
#include "bench.h"

#define WORDS 48               /* 48 * 64 = 3072 bits: bit k stands for 2k + 1 */
#define NBITS (WORDS * 64)

SEC("xdp")
u64 bench_sieve(u8 *buf, u64 len)
{
	u64 bits[WORDS];
	if (len < BUF_SIZE)
		return 0;
	for (u32 w = 0; w < WORDS; w++) {
		u64 z = 0;
		barrier_var(z);
		bits[w] = z;
	}
	bits[0] = 1; /* 1 is not prime */
	for (u32 k = 1; k < 40; k++) { /* n = 2k + 1 up to 79; 79 * 79 > 6143 */
		if ((bits[k >> 6] >> (k & 63)) & 1)
			continue;
		u32 n = 2 * k + 1;
		for (u32 m = (n * n) >> 1; m < NBITS; m += n)
			bits[m >> 6] |= 1ULL << (m & 63);
	}
	const u64 *in = (const u64 *)buf;
	u64 primes = 0, mix = 0;
	for (u32 w = 0; w < WORDS; w++) {
		u64 p = ~bits[w];
		/* popcount, one bit at a time (Kernighan) would branch on data; SWAR does not */
		u64 c = p - ((p >> 1) & 0x5555555555555555ULL);
		c = (c & 0x3333333333333333ULL) + ((c >> 2) & 0x3333333333333333ULL);
		c = (c + (c >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
		primes += (c * 0x0101010101010101ULL) >> 56;
		mix = rotl64(mix, 5) ^ (p & in[w]);
	}
	return (primes << 48) ^ mix;
}
