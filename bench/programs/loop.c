/* loop: two nested counted loops around a 64-bit LCG step (register-only work). */
#include "bench.h"

SEC("xdp")
u64 bench_loop(u8 *buf, u64 len)
{
	if (len < BUF_SIZE)
		return 0;
	u64 acc = *(u64 *)buf;
	for (u32 i = 0; i < 96; i++) {
		u64 x = acc ^ i;
		for (u32 j = 0; j < 256; j++) {
			x = x * 6364136223846793005ULL + j;
			acc += x >> 33;
		}
	}
	return acc;
}
