# XDP: IPv6 -> TX; IPv4/UDP -> DROP (also behind one VLAN tag); anything shorter than
# its headers -> ABORTED; else PASS. Used by tests/packet.rs and examples/packet_bench.rs.
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u32 *)(r1 + 4)
    r4 = r2
    r4 += 14
    if r4 > r3 goto aborted
    r5 = *(u16 *)(r2 + 12)
    r6 = 14
    if r5 != 0x81 goto untagged
    r4 += 4
    if r4 > r3 goto aborted
    r5 = *(u16 *)(r2 + 16)
    r6 = 18
untagged:
    if r5 == 0xdd86 goto tx
    if r5 != 0x8 goto pass
    r2 += r6
    r4 = r2
    r4 += 20
    if r4 > r3 goto aborted
    r5 = *(u8 *)(r2 + 9)
    if r5 == 17 goto drop
pass:
    r0 = 2
    exit
tx:
    r0 = 3
    exit
drop:
    r0 = 1
    exit
aborted:
    r0 = 0
    exit
