// Every execve: a trace line with the program path; every exit of execve: its result.
#include "syscalls.h"

SEC("tracepoint/syscalls/sys_enter_execve")
int on_execve(struct sys_enter *ctx)
{
	char path[64];
	bpf_probe_read_user_str(path, sizeof(path), (void *)ctx->args[0]);
	bpf_printk("exec %s", path);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int on_execve_ret(struct sys_exit *ctx)
{
	bpf_printk("exec returned %d", ctx->ret);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
