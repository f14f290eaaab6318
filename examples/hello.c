// The BCC hello world, unchanged: a plain function (BCC style, no section) that prints a
// line every time it runs. Attach it with attach_kprobe(event="do_sys_openat2",
// fn_name="hello_world") (examples/hello.rs) or
// `oxbpf run examples/hello.c --attach tracepoint:syscalls:sys_enter_openat -- cat /etc/hostname`.
int hello_world(void *ctx)
{
    bpf_trace_printk("Hello, World!");
    return 0;
}
