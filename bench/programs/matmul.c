/* matmul: M = A^17 for an 8x8 matrix A of 32-bit words from the input (wrapping
 * arithmetic), computed as 16 products M = A * M, column by column in place on the
 * stack; returns a checksum of M. */
#include "bench.h"

#define D 8
#define POWERS 16

SEC("xdp")
u64 bench_matmul(u8 *buf, u64 len)
{
	u32 m[D][D];
	u32 col[D];
	if (len < BUF_SIZE)
		return 0;
	const u32 *a = (const u32 *)buf;
	for (u32 i = 0; i < D; i++)
		for (u32 j = 0; j < D; j++)
			m[i][j] = a[i * D + j];
	for (u32 p = 0; p < POWERS; p++) {
		for (u32 j = 0; j < D; j++) {
			for (u32 i = 0; i < D; i++) {
				u32 s = 0;
				for (u32 k = 0; k < D; k++)
					s += a[i * D + k] * m[k][j];
				col[i] = s;
			}
			for (u32 i = 0; i < D; i++)
				m[i][j] = col[i];
		}
	}
	u64 h = 0;
	for (u32 i = 0; i < D; i++)
		for (u32 j = 0; j < D; j++)
			h = h * 1000003 + m[i][j];
	return h;
}
