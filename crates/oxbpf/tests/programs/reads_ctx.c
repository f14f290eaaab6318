// A BCC-style kprobe function that reads its context (pt_regs): moving it to a tracepoint
// changes what it reads, so fallbacks refuse it unless forced.
int probe_reads_ctx(unsigned long *regs)
{
	unsigned long di = regs[14];
	bpf_trace_printk("di %lu", di);
	return 0;
}
