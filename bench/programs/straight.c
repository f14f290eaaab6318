/* straight: one straight-line block (no branch after the length check): four rounds of an
 * add-rotate-xor network over the first 64 bytes, fully unrolled. */
#include "bench.h"

#define QR(a, b, c, d)                                                                     \
	do {                                                                               \
		a += b; d ^= a; d = rotl64(d, 32);                                         \
		c += d; b ^= c; b = rotl64(b, 24);                                         \
		a += b; d ^= a; d = rotl64(d, 16);                                         \
		c += d; b ^= c; b = rotl64(b, 63);                                         \
	} while (0)

#define ROUND()                                                                            \
	do {                                                                               \
		QR(v0, v1, v2, v3);                                                        \
		QR(v4, v5, v6, v7);                                                        \
		QR(v0, v5, v2, v7);                                                        \
		QR(v4, v1, v6, v3);                                                        \
	} while (0)

SEC("xdp")
u64 bench_straight(u8 *buf, u64 len)
{
	if (len < BUF_SIZE)
		return 0;
	const u64 *w = (const u64 *)buf;
	u64 v0 = w[0], v1 = w[1], v2 = w[2], v3 = w[3];
	u64 v4 = w[4], v5 = w[5], v6 = w[6], v7 = w[7];
	ROUND();
	ROUND();
	ROUND();
	ROUND();
	return v0 ^ v1 ^ v2 ^ v3 ^ v4 ^ v5 ^ v6 ^ v7;
}
