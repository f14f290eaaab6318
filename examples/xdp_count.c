// XDP: count packets per IP protocol (IPv4) and pass them all.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);   /* IP protocol number */
	__type(value, __u64); /* packets */
} protocols SEC(".maps");

__u64 non_ip_packets;      /* .bss: packets that are not IPv4 */

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP)) {
		__sync_fetch_and_add(&non_ip_packets, 1);
		return XDP_PASS;
	}
	__u32 proto = ip->protocol;
	__u64 *count = bpf_map_lookup_elem(&protocols, &proto);
	if (count)
		__sync_fetch_and_add(count, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
