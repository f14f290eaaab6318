/* collatz: stopping times (capped at 192 steps) of 64 numbers below 2^20 taken from the
 * input. Written without data-dependent branches: each step selects 3n + 1 or n / 2
 * with a mask, and a flag stops the count once n reaches 1. */
#include "bench.h"

#define VALUES 64
#define STEPS 192

SEC("xdp")
u64 bench_collatz(u8 *buf, u64 len)
{
	if (len < BUF_SIZE)
		return 0;
	const u32 *in = (const u32 *)buf;
	u64 total = 0;
	for (u32 v = 0; v < VALUES; v++) {
		u64 n = (in[v] & 0xfffff) + 2;
		u64 alive = 1, steps = 0;
		for (u32 s = 0; s < STEPS; s++) {
			u64 odd = 0 - (n & 1);
			barrier_var(odd);
			n = ((3 * n + 1) & odd) | ((n >> 1) & ~odd);
			steps += alive;
			u64 t = n - 1;
			u64 nz = t | (0 - t); /* top bit set while n != 1 */
			barrier_var(nz);
			alive &= nz >> 63;
		}
		total = total * 257 + steps;
	}
	return total;
}
