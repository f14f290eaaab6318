// SPDX-License-Identifier: MIT OR Apache-2.0
// Ring buffer: output, reserve/submit, reserve/discard, query.
struct event {
	u32 seq;
	char tag[12];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("raw_tp/sys_enter")
int ringbuf_ops(void *ctx)
{
	struct event e = { .seq = 1, .tag = "output" };
	if (bpf_ringbuf_output(&events, &e, sizeof(e), 0))
		return -1;
	struct event *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r)
		return -2;
	r->seq = 2;
	__builtin_memcpy(r->tag, "reserved", 9);
	bpf_ringbuf_submit(r, 0);
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r)
		return -3;
	r->seq = 3;
	bpf_ringbuf_discard(r, 0);
	/* Unconsumed bytes: three records of 8 + 16 bytes. */
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
}

char LICENSE[] SEC("license") = "GPL";
