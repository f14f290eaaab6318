// SPDX-License-Identifier: MIT OR Apache-2.0
// The current task, clocks, CPU and randomness, recorded for the caller to check.
struct info {
	u64 pid_tgid;
	u64 uid_gid;
	char comm[16];
	long comm_ret;
	u64 mono0;
	u64 mono1;
	u64 boot;
	u64 tai;
	u64 jiffies;
	u32 cpu;
	u32 numa;
	u32 rnd[4];
};

struct info info;

SEC("raw_tp/sys_enter")
int task(void *ctx)
{
	info.mono0 = bpf_ktime_get_ns();
	info.pid_tgid = bpf_get_current_pid_tgid();
	info.uid_gid = bpf_get_current_uid_gid();
	info.comm_ret = bpf_get_current_comm(info.comm, sizeof(info.comm));
	info.boot = bpf_ktime_get_boot_ns();
	info.tai = bpf_ktime_get_tai_ns();
	info.jiffies = bpf_jiffies64();
	info.cpu = bpf_get_smp_processor_id();
	info.numa = bpf_get_numa_node_id();
	for (int i = 0; i < 4; i++)
		info.rnd[i] = bpf_get_prandom_u32();
	info.mono1 = bpf_ktime_get_ns();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
