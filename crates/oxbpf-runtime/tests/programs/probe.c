// SPDX-License-Identifier: MIT OR Apache-2.0
// bpf_probe_read_*: good reads, a bad address (-EFAULT, zeroed destination), string
// reads with and without truncation.
struct pr {
	long r_user0;
	u8 buf0[8];
	long r_kernel;
	u64 val;
	long r_str;
	char s[8];
	long r_trunc;
	char t[4];
	long r_user_str0;
	char u[8];
};

struct pr pr;

SEC("raw_tp/sys_enter")
int probe(void *ctx)
{
	static const char name[] = "probe!";
	u64 secret = 0x1122334455667788;

	__builtin_memset(pr.buf0, 0xff, sizeof(pr.buf0));
	__builtin_memset(pr.u, 0xff, sizeof(pr.u));
	pr.r_user0 = bpf_probe_read_user(pr.buf0, sizeof(pr.buf0), (void *)0);
	pr.r_kernel = bpf_probe_read_kernel(&pr.val, sizeof(pr.val), &secret);
	pr.r_str = bpf_probe_read_kernel_str(pr.s, sizeof(pr.s), name);
	pr.r_trunc = bpf_probe_read_kernel_str(pr.t, sizeof(pr.t), name);
	pr.r_user_str0 = bpf_probe_read_user_str(pr.u, sizeof(pr.u), (void *)0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
