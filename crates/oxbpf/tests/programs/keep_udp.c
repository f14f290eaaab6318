// A socket filter keeping UDP packets whole and dropping the rest; counts what it sees.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

SEC("socket")
int keep_udp(struct __sk_buff *skb)
{
	__u8 proto = 0;
	/* Ethernet (14 bytes), then the IPv4 protocol field at 9. */
	if (bpf_skb_load_bytes(skb, 14 + 9, &proto, 1) < 0)
		proto = 0;
	__u32 k = proto == 17;
	__u64 *n = bpf_map_lookup_elem(&seen, &k);
	if (n)
		__sync_fetch_and_add(n, 1);
	return proto == 17 ? skb->len : 0;
}

char LICENSE[] SEC("license") = "GPL";
