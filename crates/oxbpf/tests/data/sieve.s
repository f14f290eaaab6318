; Sieve of Eratosthenes over the input buffer (r1 = buffer, r2 = length, one byte
; per number, zero-filled): returns the number of primes below the length.
	r3 = 2
L0:
	r4 = r3
	r4 *= r3
	if r4 >= r2 goto +11 <L3>
	r5 = r1
	r5 += r3
	r6 = *(u8 *)(r5 + 0)
	if r6 != 0 goto +5 <L2>
L1:
	r5 = r1
	r5 += r4
	*(u8 *)(r5 + 0) = 1
	r4 += r3
	if r4 < r2 goto -5 <L1>
L2:
	r3 += 1
	goto -14 <L0>
L3:
	r0 = 0
	r3 = 2
L4:
	if r3 >= r2 goto +7 <L6>
	r5 = r1
	r5 += r3
	r6 = *(u8 *)(r5 + 0)
	if r6 != 0 goto +1 <L5>
	r0 += 1
L5:
	r3 += 1
	goto -8 <L4>
L6:
	exit
