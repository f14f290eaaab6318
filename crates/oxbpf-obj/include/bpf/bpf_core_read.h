/* oxbpf shim: oxbpf.h (included automatically by `oxbpf build`) declares everything
 * <bpf/bpf_core_read.h> provides in libbpf. */
#include "../oxbpf.h"
