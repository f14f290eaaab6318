/* hash: FNV-1a over every byte of the buffer, then a MurmurHash3-style mix over its
 * 64-bit words. */
#include "bench.h"

SEC("xdp")
u64 bench_hash(u8 *buf, u64 len)
{
	if (len < BUF_SIZE)
		return 0;
	u64 h = 0xcbf29ce484222325ULL;
	for (u32 i = 0; i < BUF_SIZE; i++) {
		h ^= buf[i];
		h *= 0x100000001b3ULL;
	}
	const u64 *w = (const u64 *)buf;
	u64 h2 = 0x9e3779b97f4a7c15ULL;
	for (u32 i = 0; i < BUF_SIZE / 8; i++) {
		u64 k = w[i] * 0x87c37b91114253d5ULL;
		k = rotl64(k, 31);
		k *= 0x4cf5ad432745937fULL;
		h2 ^= k;
		h2 = rotl64(h2, 27) * 5 + 0x52dce729;
	}
	h2 ^= h2 >> 33;
	h2 *= 0xff51afd7ed558ccdULL;
	h2 ^= h2 >> 33;
	return h ^ h2;
}
