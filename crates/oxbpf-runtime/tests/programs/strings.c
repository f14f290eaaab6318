// SPDX-License-Identifier: MIT OR Apache-2.0
// bpf_snprintf, bpf_strncmp, bpf_strtol/strtoul, and a trace line with five arguments
// (bpf_trace_vprintk) mixing strings, widths, characters and an IPv4 address.
struct out {
	long snp;
	char buf[32];
	long cmp[3];
	long stol;
	long stol_val;
	long stoul;
	unsigned long stoul_val;
	long printk;
	long bad_fmt;
};

struct out results;

SEC("raw_tp/sys_enter")
int strings(void *ctx)
{
	static const char word[] = "xyz";
	/* Built at run time: an address inside a constant initializer would need a data
	 * relocation, which neither libbpf nor the kernel applies. */
	u64 w = (u64)word;
	barrier_var(w);
	u64 args[3] = { 42, w, 0xbeef };
	char num[8] = " -123x";
	char hex[8] = "0x1F";
	u32 addr = bpf_htonl(0x0a000001);

	results.snp = bpf_snprintf(results.buf, sizeof(results.buf), "%d-%s-%x", args,
				   sizeof(args));
	results.cmp[0] = bpf_strncmp(results.buf, 6, "42-xyz");
	results.cmp[1] = bpf_strncmp(results.buf, 3, "43");
	results.cmp[2] = bpf_strncmp(results.buf, 4, "42");
	results.stol = bpf_strtol(num, sizeof(num), 0, &results.stol_val);
	results.stoul = bpf_strtoul(hex, sizeof(hex), 0, &results.stoul_val);
	results.printk = bpf_printk("%s|%5d|%-4x|%c|%pI4", word, -7, 255, 'Z', &addr);
	results.bad_fmt = bpf_printk("%5.1d", 1);
	return results.snp;
}

char LICENSE[] SEC("license") = "GPL";
