; FNV-1a (64-bit) over the input buffer (r1 = buffer, r2 = length).
	r0 = -3750763034362895579 ll
	r6 = 1099511628211 ll
	r3 = 0
L0:
	if r3 >= r2 goto +7 <L1>
	r4 = r1
	r4 += r3
	r5 = *(u8 *)(r4 + 0)
	r0 ^= r5
	r0 *= r6
	r3 += 1
	goto -8 <L0>
L1:
	exit
