// libbpf style: count openat() calls per process in a hash map and log each one.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* tgid */
	__type(value, __u64); /* number of openat() calls */
} opens SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int count_opens(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1;
	__u64 *count = bpf_map_lookup_elem(&opens, &tgid);

	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&opens, &tgid, &one, BPF_NOEXIST);
	bpf_printk("openat by %d", tgid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
