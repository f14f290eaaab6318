/* strsearch: counts the occurrences of a 4-byte needle (the buffer's bytes 8..12) in the
 * rest of the buffer with a rolling 32-bit window, and sums their positions. */
#include "bench.h"

SEC("xdp")
u64 bench_strsearch(u8 *buf, u64 len)
{
	if (len < BUF_SIZE)
		return 0;
	u32 needle = (u32)buf[8] << 24 | (u32)buf[9] << 16 | (u32)buf[10] << 8 | buf[11];
	u32 window = 0;
	u64 count = 0, where = 0;
	for (u32 i = 16; i < BUF_SIZE; i++) {
		window = (window << 8) | buf[i];
		if (window == needle) {
			count++;
			where += i;
		}
	}
	return (count << 32) | where;
}
